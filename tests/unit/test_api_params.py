"""The parameter schemas of the OpenAPI document state the naming rules exactly."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.api.params import CONFIG_KEY_SCHEMA, ORG_SCHEMA, SCOPE_SCHEMA, SECRET_NAME_SCHEMA
from shared.core.naming import (
    canonical_org_id,
    canonical_scope,
    validate_config_key,
    validate_secret_name,
)
from shared.errors import InvalidNameError

RULES = [(SCOPE_SCHEMA, canonical_scope), (CONFIG_KEY_SCHEMA, validate_config_key),
         (SECRET_NAME_SCHEMA, validate_secret_name)]


def whole(pattern: str) -> str:
    """A JSON Schema pattern anchored ^...$ as a Python fullmatch pattern (ECMA's ``$``
    does not match before a final newline; Python's does)."""
    assert pattern.startswith("^") and pattern.endswith("$")
    return pattern[1:-1]


def fits(schema: dict[str, Any], value: str) -> bool:
    fits_own = (schema["minLength"] <= len(value) <= schema["maxLength"]
                and re.fullmatch(whole(schema["pattern"]), value) is not None)
    excluded = next((part["not"]["pattern"] for part in schema.get("allOf", [])), None)
    return fits_own and not (excluded and re.fullmatch(whole(excluded), value))


def accepted(rule: Any, value: str) -> bool:
    try:
        rule(value)
    except InvalidNameError:
        return False
    return True


@pytest.mark.parametrize(("schema", "rule"), RULES)
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_what_the_schema_allows_the_rule_accepts(
    schema: dict[str, Any], rule: Any, data: st.DataObject
) -> None:
    value = data.draw(st.from_regex(whole(schema["pattern"]), fullmatch=True).filter(
        lambda v: schema["minLength"] <= len(v) <= schema["maxLength"]))
    assert accepted(rule, value), value


@pytest.mark.parametrize(("schema", "rule"), [*RULES, (ORG_SCHEMA, canonical_org_id)])
@settings(max_examples=150, deadline=None)
@given(value=st.one_of(st.text(max_size=70), st.text("aZ9-_.GLOBALglobal", max_size=140)))
def test_the_schema_and_the_rule_agree_on_any_string(
    schema: dict[str, Any], rule: Any, value: str
) -> None:
    assert fits(schema, value) == accepted(rule, value), value


@pytest.mark.parametrize("value", ["GLOBAL", "global", "Global"])
def test_global_is_a_scope_but_not_an_org(value: str) -> None:
    assert fits(SCOPE_SCHEMA, value) and not fits(ORG_SCHEMA, value)

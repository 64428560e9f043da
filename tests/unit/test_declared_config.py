"""Declared config models: which stored Type fits which field, how pydantic's errors become
problems (never a value), and the registry's refusal of incompatible declarations."""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field, HttpUrl, PositiveInt, SecretStr

from shared.admin.readiness import constraint_warnings
from shared.core.declared import declared_keys, type_problem, validation_problems
from shared.core.values import ConfigEntry
from workflows import registry
from workflows.registry import IncompatibleConfigError


class Color(Enum):
    RED = "red"
    BLUE = "blue"


class Every(BaseModel):
    a_str: str
    a_int: PositiveInt
    a_float: float = 1.0
    a_bool: bool = False
    a_json: dict[str, int] = {}
    a_list: list[str] = []
    a_url: HttpUrl
    a_secret: SecretStr
    a_maybe_secret: SecretStr | None = None
    a_literal: Literal["x", "y"] = "x"
    a_int_literal: Literal[1, 2] = 1
    a_enum: Color = Color.RED
    a_any: Any = None
    aliased: Annotated[int, Field(ge=0)] = Field(default=0, alias="a.dotted-key")


def test_each_field_type_maps_to_the_stored_types_that_fit() -> None:
    shapes = {d.key: d.shape for d in declared_keys(Every)}
    assert shapes == {
        "a_str": "string", "a_int": "int", "a_float": "float or int", "a_bool": "bool",
        "a_json": "json", "a_list": "json", "a_url": "string", "a_secret": "secret_ref",
        "a_maybe_secret": "secret_ref", "a_literal": "string", "a_int_literal": "int",
        "a_enum": "string", "a_any": "any non-secret type", "a.dotted-key": "int",
    }
    required = {d.key for d in declared_keys(Every) if d.required}
    assert required == {"a_str", "a_int", "a_url", "a_secret"}


def test_each_field_names_one_stored_type_to_offer() -> None:
    expected = {d.key: d.expected_type for d in declared_keys(Every)}
    assert expected == {
        "a_str": "string", "a_int": "int", "a_float": "float", "a_bool": "bool",
        "a_json": "json", "a_list": "json", "a_url": "string", "a_secret": "secret_ref",
        "a_maybe_secret": "secret_ref", "a_literal": "string", "a_int_literal": "int",
        "a_enum": "string", "a_any": None, "a.dotted-key": "int",
    }


def test_a_field_that_names_no_config_key_is_refused() -> None:
    class Bad(BaseModel):
        x: int = Field(alias="not a key")

    with pytest.raises(ValueError, match="not a config key"):
        declared_keys(Bad)


@pytest.mark.parametrize(("key", "value", "type_", "fits", "expected_type"), [
    ("a_int", "5", "int", True, None), ("a_int", "5", "string", False, "int"),
    ("a_int", "5", "float", False, "int"), ("a_float", "5", "int", True, None),
    ("a_secret", "name", "secret_ref", True, None),
    ("a_secret", "Zx-pasted", "string", False, "secret_ref"),
    ("a_str", "name", "secret_ref", False, "string"), ("a_any", "1", "json", True, None),
    ("a_any", "name", "secret_ref", False, None), ("a_int", "Zx-nan", "int", False, "int"),
])
def test_type_problems_name_the_types_never_the_value(
    key: str, value: str, type_: Any, fits: bool, expected_type: str | None
) -> None:
    (decl,) = [d for d in declared_keys(Every) if d.key == key]
    problem = type_problem(decl, ConfigEntry("acme", key, value, type_))
    assert (problem is None) == fits
    if problem is not None:
        assert problem.problem == "wrong_type" and "Zx" not in problem.message
        # the Type to store instead, and no secret name (not a secret_* problem)
        assert (problem.expected_type, problem.secret) == (expected_type, None)


def test_validation_problems_are_invalid_or_missing_one_per_key() -> None:
    problems = validation_problems(Every, {
        "a_int": 0, "a_url": "Zx-not-a-url", "a_literal": "Zx-z", "a.dotted-key": -1,
        "a_json": {"k": "Zx-text"}})
    found = {p.key: p.problem for p in problems}
    assert found == {"a_str": "missing", "a_int": "invalid", "a_url": "invalid",
                     "a_secret": "missing", "a_literal": "invalid", "a.dotted-key": "invalid",
                     "a_json": "wrong_type"}
    assert {p.key: p.expected_type for p in problems} == {
        "a_str": "string", "a_int": "int", "a_url": "string", "a_secret": "secret_ref",
        "a_literal": "string", "a.dotted-key": "int", "a_json": "json"}
    assert all(p.secret is None for p in problems)
    assert not [p for p in problems if "Zx" in p.message]


@pytest.fixture
def cleanup() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        registry.unregister(name)


async def _noop(context: Any, params: Any, config: Any) -> dict[str, Any]:
    return {}


def test_incompatible_declarations_are_refused_when_the_second_registers(
    cleanup: list[str],
) -> None:
    class First(BaseModel):
        unit_port: int = Field(ge=1)
        unit_key: SecretStr

    class Narrower(BaseModel):
        unit_port: float = Field(le=100)  # an int entry fits both: compatible

    class AsText(BaseModel):
        unit_port: str

    class AsPlain(BaseModel):
        unit_key: str

    registry.workflow("unit-first", config=First)(_noop)
    cleanup.append("unit-first")
    registry.workflow("unit-narrower", config=Narrower)(_noop)
    cleanup.append("unit-narrower")
    with pytest.raises(IncompatibleConfigError, match=r"unit_port.*unit-first"):
        registry.workflow("unit-as-text", config=AsText)(_noop)
    with pytest.raises(IncompatibleConfigError, match="unit_key"):
        registry.workflow("unit-as-plain", config=AsPlain)(_noop)
    assert "unit-as-text" not in registry.list_workflows()
    assert "unit-as-plain" not in registry.list_workflows()
    assert registry.config_model("unit-first") is First


def test_the_example_workflows_declare_their_config() -> None:
    keys = {name: [d.key for d in declared_keys(registry.config_model(name))]  # type: ignore[arg-type]
            for name in ("graph-user-sync", "psa-ticket", "smtp-digest")}
    assert keys["graph-user-sync"] == ["graph_tenant_id", "graph_client_id",
                                       "graph_client_secret", "graph_page_size"]
    assert "psa_field_mapping" in keys["psa-ticket"]
    assert "smtp_password" in keys["smtp-digest"]


def test_constraint_warnings_of_the_examples() -> None:
    assert constraint_warnings("acme", "graph_page_size", "int", "100") == []
    (warning,) = constraint_warnings("GLOBAL", "graph_page_size", "int", "0")
    assert "graph-user-sync" in warning and "orgs without their own entry" in warning
    (warning,) = constraint_warnings("acme", "smtp_port", "string", "Zx-587")
    assert "(wrong_type)" in warning and "Zx" not in warning
    (warning,) = constraint_warnings("acme", "report_sender", "string", "Zx-not-an-address")
    assert "(invalid)" in warning and "Zx" not in warning
    (warning,) = constraint_warnings("acme", "smtp_password", "string", "Zx-pasted-secret")
    assert "secret_ref" in warning and "Zx" not in warning
    assert constraint_warnings("acme", "smtp_password", "secret_ref", "smtp-password") == []

"""Typed values: parsing stored entries and validating writes, without echoing values."""

from __future__ import annotations

import pytest

from shared.core.values import (
    MAX_JSON_DEPTH,
    ConfigEntry,
    json_depth,
    parse_value,
    validate_value,
)
from shared.errors import ConfigValueError, InvalidNameError


def entry(value: str, kind: str) -> ConfigEntry:
    return ConfigEntry("acme", "k", value, kind)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "kind", "parsed"),
    [("hello", "string", "hello"), ("", "string", ""), ("587", "int", 587), ("-3", "int", -3),
     ("2.5", "float", 2.5), ("1e3", "float", 1000.0), ("true", "bool", True),
     ("False", "bool", False), ("1", "bool", True), ("no", "bool", False),
     ('{"a": [1, 2]}', "json", {"a": [1, 2]}), ("[]", "json", []),
     ("smtp-password", "secret_ref", "smtp-password")],
)
def test_each_type_parses(value: str, kind: str, parsed: object) -> None:
    assert parse_value(entry(value, kind)) == parsed


@pytest.mark.parametrize(
    ("value", "kind"),
    [("s3cr3t-Value!", "int"), ("1.5", "int"), ("1_000", "int"), ("nan", "float"),
     ("inf", "float"), ("maybe", "bool"), ("{not json", "json"), ("acme--x", "secret_ref"),
     ("p@ss w0rd", "secret_ref"), ("Zq9-value", "unknown-type")],
)
def test_bad_stored_values_raise_without_echo(value: str, kind: str) -> None:
    with pytest.raises(ConfigValueError) as info:
        parse_value(entry(value, kind))
    assert value not in str(info.value)
    assert "'k'" in str(info.value)


def test_validate_value_normalizes_api_inputs() -> None:
    assert validate_value("int", 5) == ("int", "5")
    assert validate_value("bool", True) == ("bool", "true")
    assert validate_value("json", {"a": 1}) == ("json", '{"a": 1}')
    assert validate_value("string", "x") == ("string", "x")


@pytest.mark.parametrize(
    ("kind", "value"),
    [("int", "twelve"), ("int", None), ("string", 5), ("float", "x"), ("bool", "perhaps"),
     ("json", "{"), ("nope", "x"), (None, "x"), ("string", "a\x00b"), ("string", "x" * 40_000),
     ("json", float("nan"))],
)
def test_validate_value_rejects_bad_writes(kind: object, value: object) -> None:
    with pytest.raises(ConfigValueError):
        validate_value(kind, value)


def test_secret_ref_must_be_a_bare_name() -> None:
    with pytest.raises(InvalidNameError):
        validate_value("secret_ref", "acme--smtp-password")


DEEP_JSON = "[" * 15_000 + "]" * 15_000


def test_a_json_write_nested_too_deeply_is_a_clear_value_error() -> None:
    with pytest.raises(ConfigValueError, match="at most 64 levels"):
        validate_value("json", DEEP_JSON)


def test_a_json_value_given_as_deeply_nested_data_is_a_value_error() -> None:
    nested: list[object] = []
    for _ in range(5_000):
        nested = [nested]
    with pytest.raises(ConfigValueError):
        validate_value("json", nested)


def test_json_nesting_up_to_the_limit_is_accepted() -> None:
    text = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert validate_value("json", text) == ("json", text)
    with pytest.raises(ConfigValueError):
        validate_value("json", "[" + text + "]")


def test_a_stored_json_value_nested_too_deeply_reads_as_a_value_error() -> None:
    with pytest.raises(ConfigValueError) as info:
        parse_value(entry(DEEP_JSON, "json"))
    assert "'k'" in str(info.value)


@pytest.mark.parametrize(
    ("text", "depth"),
    [("1", 0), ("[]", 1), ('{"a": [1, {"b": []}]}', 4), ('["[[[", "{{"]', 1),
     ('["\\"[["]', 1), ('["\\\\", [[]]]', 3), ('"unterminated [[', 0)],
)
def test_json_depth_ignores_brackets_inside_strings(text: str, depth: int) -> None:
    assert json_depth(text) == depth

"""Typed values: parsing stored entries and validating writes, without echoing values."""

from __future__ import annotations

import pytest

from shared.errors import ConfigValueError, InvalidNameError
from shared.values import ConfigEntry, parse_value, validate_value


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

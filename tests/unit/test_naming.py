"""Naming rules, with hostile input. These functions guard tenant isolation."""

from __future__ import annotations

import pytest

from shared.core.naming import (
    SECRET_NAME_MAX,
    canonical_org_id,
    canonical_scope,
    env_var_name,
    keyvault_name,
    split_keyvault_name,
    validate_config_key,
    validate_secret_name,
)
from shared.errors import InvalidNameError

HOSTILE = [
    "", " ", "acme ", " acme", "ac me", "acme'", "acme\"", "acme' or '1'='1",
    "PartitionKey eq 'GLOBAL'", "acme eq acme", "acme or true", "../etc", "..", "acme/..",
    "acme/x", "acme\\x", "acme#", "acme?", "acme%00", "acme\x00", "acme\n", "acme\t",
    "ácme", "\u0430cme",  # Cyrillic a (lookalike)
    "acme\u200b", "\uff41\uff43\uff4d\uff45", "\uff41cme", "🙂", "acme_corp", "acme.corp",
    "acme--corp", "-acme",
    "acme-", "a" * 64, "acme*", "acme;drop",
]


@pytest.mark.parametrize("raw", HOSTILE)
def test_hostile_org_ids_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidNameError):
        canonical_org_id(raw)


@pytest.mark.parametrize("raw", [None, 42, b"acme", ["acme"]])
def test_non_string_org_ids_are_rejected(raw: object) -> None:
    with pytest.raises(InvalidNameError):
        canonical_org_id(raw)


@pytest.mark.parametrize("raw", ["global", "GLOBAL", "Global", "gLoBaL"])
def test_global_is_reserved_as_org_id_in_any_case(raw: str) -> None:
    with pytest.raises(InvalidNameError, match="reserved"):
        canonical_org_id(raw)


@pytest.mark.parametrize("raw", ["global", "GLOBAL", "Global"])
def test_global_is_a_scope(raw: str) -> None:
    assert canonical_scope(raw) == "GLOBAL"


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("acme", "acme"), ("ACME", "acme"), ("Acme-Corp", "acme-corp"), ("a1-b2-c3", "a1-b2-c3"),
     ("0", "0"), ("a" * 63, "a" * 63), ("globalx", "globalx"), ("x-global", "x-global")],
)
def test_org_ids_are_canonicalized(raw: str, canonical: str) -> None:
    assert canonical_org_id(raw) == canonical


def test_invalid_name_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        canonical_org_id("bad id")


def test_error_message_does_not_dump_huge_input() -> None:
    with pytest.raises(InvalidNameError) as info:
        canonical_org_id("x" * 10_000 + "!")
    assert len(str(info.value)) < 400


@pytest.mark.parametrize(
    "key", ["smtp_host", "a", "A.b-c_d", "x" * 128, "field.mapping", "a..b"]
)
def test_valid_config_keys(key: str) -> None:
    assert validate_config_key(key) == key


@pytest.mark.parametrize(
    "key",
    ["", "1abc", "_abc", "-abc", ".abc", "..", "../x", "a/b", "a\\b", "a#b", "a?b", "a b",
     "a'b", 'a"b', "a eq b", "x" * 129, "ключ", "a\x00", "a\n", "smtp_høst", "a:b"],
)
def test_invalid_config_keys(key: str) -> None:
    with pytest.raises(InvalidNameError):
        validate_config_key(key)


@pytest.mark.parametrize("name", ["smtp-password", "a", "A1", "Graph-Client-Secret", "x" * 62])
def test_valid_secret_names(name: str) -> None:
    assert validate_secret_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "-a", "a-", "a--b", "acme--smtp", "GLOBAL--smtp", "a_b", "a.b", "a b", "a/b",
     "a'", "x" * (SECRET_NAME_MAX + 1), "pässword", "a\x00", "..", "---"],
)
def test_invalid_secret_names(name: str) -> None:
    with pytest.raises(InvalidNameError):
        validate_secret_name(name)


def test_scoped_name_is_rejected_with_guidance() -> None:
    with pytest.raises(InvalidNameError, match="bare name"):
        validate_secret_name("acme--smtp-password")


def test_longest_org_and_longest_name_fit_key_vault() -> None:
    assert len(keyvault_name("a" * 63, "b" * SECRET_NAME_MAX)) == 127


def test_keyvault_names() -> None:
    assert keyvault_name("Acme", "smtp-password") == "acme--smtp-password"
    assert keyvault_name("global", "smtp-password") == "GLOBAL--smtp-password"


def test_split_keyvault_name_is_the_inverse() -> None:
    assert split_keyvault_name("acme-corp--smtp-password") == ("acme-corp", "smtp-password")
    assert split_keyvault_name("GLOBAL--x") == ("GLOBAL", "x")
    assert split_keyvault_name("unscoped") is None
    assert split_keyvault_name("a--b--c") is None


def test_env_var_names() -> None:
    assert env_var_name("acme-corp", "smtp-password") == "ACME_CORP__SMTP_PASSWORD"
    assert env_var_name("GLOBAL", "smtp-password") == "GLOBAL__SMTP_PASSWORD"


def test_scoped_names_of_different_orgs_never_collide() -> None:
    orgs = ["a", "a-b", "ab", "a-b-c", "b", "b-c", "global-x"]
    names = ["c", "b-c", "bc", "c-d", "x"]
    kv = {(o, n): keyvault_name(o, n).lower() for o in orgs for n in names}
    env = {(o, n): env_var_name(o, n) for o in orgs for n in names}
    for mapping in (kv, env):
        assert len(set(mapping.values())) == len(mapping)

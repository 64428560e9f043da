"""Unit tests of the emulator's pure parts: secret store, faults/counters, routing, certificate."""

from __future__ import annotations

import json
import re
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.keyvault_emulator.certs import CERT_FILE, KEY_FILE, ensure_certificate
from tools.keyvault_emulator.faults import OPERATIONS, Counters, FailRule, Faults
from tools.keyvault_emulator.server import Route, resolve
from tools.keyvault_emulator.store import Attributes, SecretStore, VaultError

HEX32 = re.compile(r"^[0-9a-f]{32}$")


class Clock:
    """A settable clock so timestamps are predictable."""

    def __init__(self, now: float = 1_700_000_000) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _error(exc: pytest.ExceptionInfo[VaultError]) -> tuple[int, str]:
    return exc.value.status, exc.value.code


# -- store -------------------------------------------------------------------------------------


def test_versions_and_latest() -> None:
    store = SecretStore(clock=Clock())
    _, v1 = store.set("Name", "one")
    _, v2 = store.set("name", "two", content_type="text/plain", tags={"a": "b"})
    assert HEX32.match(v1.version) and HEX32.match(v2.version) and v1.version != v2.version
    secret, latest = store.get("NAME")
    assert secret.name == "Name" and latest.value == "two"
    assert store.get("name", v1.version)[1].value == "one"
    assert store.get("name", v1.version.upper())[1].value == "one"  # hex is case-insensitive
    with pytest.raises(VaultError) as err:
        store.get("name", "0" * 32)
    assert _error(err) == (404, "SecretNotFound")
    assert "name/" + "0" * 32 in err.value.message


@pytest.mark.parametrize("name", ["", "a_b", "a.b", "a b", "ä", "a" * 128, "a/b"])
def test_invalid_names(name: str) -> None:
    store = SecretStore()
    for call in (lambda: store.set(name, "v"), lambda: store.get(name), lambda: store.delete(name)):
        with pytest.raises(VaultError) as err:
            call()
        assert _error(err) == (400, "BadParameter")


def test_valid_name_edges() -> None:
    store = SecretStore()
    for name in ("a", "A-1", "-", "a" * 127, "0123456789"):
        store.set(name, "v")
    assert len(store.list_secrets()) == 5


def test_update_changes_only_given_properties() -> None:
    clock = Clock()
    store = SecretStore(clock=clock)
    _, v = store.set("s", "v", content_type="ct", tags={"a": "1"},
                     attributes=Attributes.parse({"exp": 2_000_000_000}))
    clock.now += 10
    _, u = store.update("s", None, body={"tags": {"b": "2"}})
    assert u.tags == {"b": "2"}  # replaced, not merged
    assert (u.content_type, u.exp, u.enabled) == ("ct", 2_000_000_000, True)
    assert u.updated == v.created + 10
    _, u = store.update("s", v.version, body={"attributes": {"enabled": False, "exp": None}})
    assert (u.enabled, u.exp) == (False, None)
    with pytest.raises(VaultError) as err:
        store.get("s")
    assert _error(err) == (403, "Forbidden")
    assert err.value.body()["error"]["innererror"] == {"code": "SecretDisabled"}


def test_expired_and_not_yet_valid_are_readable() -> None:
    clock = Clock()
    store = SecretStore(clock=clock)
    store.set("old", "v", attributes=Attributes.parse({"exp": int(clock.now) - 1}))
    store.set("future", "v", attributes=Attributes.parse({"nbf": int(clock.now) + 100}))
    assert store.get("old")[1].value == "v"
    assert store.get("future")[1].value == "v"


@pytest.mark.parametrize(
    "attributes", [{"enabled": "yes"}, {"exp": "tomorrow"}, {"nbf": True}, ["enabled"]]
)
def test_bad_attributes(attributes: object) -> None:
    with pytest.raises(VaultError) as err:
        Attributes.parse(attributes)
    assert _error(err) == (400, "BadParameter")


@pytest.mark.parametrize(
    "kwargs", [{"tags": {"a": 1}}, {"tags": ["a"]}, {"content_type": 5}, {"value": None}]
)
def test_bad_set_bodies(kwargs: dict[str, object]) -> None:
    store = SecretStore()
    value = kwargs.pop("value", "v")
    with pytest.raises(VaultError) as err:
        store.set("s", value, **kwargs)  # type: ignore[arg-type]
    assert _error(err) == (400, "BadParameter")


def test_soft_delete_recover_purge() -> None:
    clock = Clock()
    store = SecretStore(clock=clock)
    store.set("Gone", "v1")
    store.set("gone", "v2")
    deleted = store.delete("GONE")
    assert deleted.deleted_date == int(clock.now)
    assert deleted.scheduled_purge_date == int(clock.now) + 90 * 86400
    with pytest.raises(VaultError) as err:
        store.get("gone")
    assert _error(err) == (404, "SecretNotFound")
    with pytest.raises(VaultError) as err:
        store.set("gone", "v3")
    assert _error(err) == (409, "Conflict")
    assert err.value.message == (
        "Secret Gone is currently in a deleted but recoverable state, and its name cannot be "
        "reused; in this state, the secret can only be recovered or purged."
    )
    assert [s.name for s in store.list_deleted()] == ["Gone"]
    recovered = store.recover("gone")
    assert recovered.deleted_date is None and len(recovered.versions) == 2
    assert store.get("gone")[1].value == "v2"

    store.delete("gone")
    store.purge("gone")
    for call in (lambda: store.get_deleted("gone"), lambda: store.purge("gone"),
                 lambda: store.recover("gone")):
        with pytest.raises(VaultError) as err:
            call()
        assert _error(err) == (404, "SecretNotFound")
        assert err.value.message == "Deleted Secret not found: gone"
    store.set("gone", "fresh")  # reusable after purge


def test_listing_order_and_unknown_versions() -> None:
    store = SecretStore()
    for name in ("b", "A", "c"):
        store.set(name, "v")
    assert [s.name for s in store.list_secrets()] == ["A", "b", "c"]
    assert store.list_versions("nope") == (None, [])
    store.set("b", "v2")
    secret, versions = store.list_versions("B")
    assert secret is not None and [v.version for v in versions] == sorted(secret.versions)


def test_persistence_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "kv" / "secrets.json"
    store = SecretStore(path)
    store.set("Kept", "value", tags={"t": "1"}, attributes=Attributes.parse({"enabled": False}))
    store.set("deleted", "x")
    store.delete("deleted")
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secrets.json"]  # no temp files left

    again = SecretStore(path)
    secret = again.active["kept"]
    assert (secret.name, secret.current.value, secret.current.enabled) == ("Kept", "value", False)
    assert secret.current.tags == {"t": "1"}
    assert again.get_deleted("deleted").scheduled_purge_date is not None
    again.clear()
    assert json.loads(path.read_text())["active"] == []


def test_unknown_persistence_format(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"format": 99}))
    with pytest.raises(ValueError, match="unsupported"):
        SecretStore(path)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["set", "delete", "recover", "purge"]),
            st.sampled_from(["alpha", "ALPHA", "Beta", "beta"]),
        ),
        max_size=25,
    )
)
def test_store_matches_a_simple_model(ops: list[tuple[str, str]]) -> None:
    """Whatever the sequence, the store agrees with a dict model of active/deleted names."""
    store = SecretStore()
    active: dict[str, int] = {}  # lower name -> number of versions
    deleted: dict[str, int] = {}
    for op, name in ops:
        key = name.lower()
        try:
            if op == "set":
                store.set(name, "v")
            elif op == "delete":
                store.delete(name)
            elif op == "recover":
                store.recover(name)
            else:
                store.purge(name)
        except VaultError as err:
            expected = {
                "set": 409 if key in deleted else None,
                "delete": 404 if key not in active else None,
                "recover": 404 if key not in deleted else None,
                "purge": 404 if key not in deleted else None,
            }[op]
            assert err.status == expected
            continue
        if op == "set":
            assert key not in deleted
            active[key] = active.get(key, 0) + 1
        elif op == "delete":
            deleted[key] = active.pop(key)
        elif op == "recover":
            active[key] = deleted.pop(key)
        else:
            deleted.pop(key)
    assert {s.name.lower(): len(s.versions) for s in store.list_secrets()} == active
    assert {s.name.lower(): len(s.versions) for s in store.list_deleted()} == deleted


# -- faults and counters -----------------------------------------------------------------------


def test_fail_rules_are_consumed_in_order_and_by_operation() -> None:
    faults = Faults()
    faults.add_rule(FailRule(1, 500, operation="set_secret"))
    faults.add_rule(FailRule(2, 429, retry_after=1))
    faults.add_rule(FailRule(0, 503))  # count 0: ignored
    first = faults.take("get_secret")
    assert first is not None and first.status == 429
    first = faults.take("set_secret")
    assert first is not None and first.status == 500
    second = faults.take("set_secret")
    assert second is not None and second.status == 429
    assert faults.take("get_secret") is None
    faults.latency_ms, faults.refuse, faults.drop = 5, True, True
    faults.latency_operation = "set_secret"
    faults.clear()
    assert faults.to_json() == {
        "latency_ms": 0.0, "latency_operation": None, "rate_limit_per_10s": None,
        "fail_next": [],
        "refuse_connections": False, "drop_connections": False
    }


def test_counters() -> None:
    counters = Counters()
    counters.record("get_secret", "Name", 200)
    counters.record("get_secret", "name", 404)
    counters.record("list_secrets", None, 200)
    assert counters.snapshot() == {
        "total": 3,
        "operations": {"get_secret": 2, "list_secrets": 1},
        "secrets": {"name": {"get_secret": 2}},
        "statuses": {"200": 2, "404": 1},
    }
    counters.reset()
    assert counters.snapshot()["total"] == 0


# -- routing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("GET", "/secrets", Route("list_secrets")),
        ("GET", "/secrets/", Route("list_secrets")),
        ("GET", "/secrets/n", Route("get_secret", "n")),
        ("GET", "/secrets/n/", Route("get_secret", "n")),
        ("GET", "/secrets/n/abc", Route("get_secret", "n", "abc")),
        ("GET", "/secrets/n/versions", Route("list_versions", "n")),
        ("PUT", "/secrets/n", Route("set_secret", "n")),
        ("PATCH", "/secrets/n/", Route("update_secret", "n")),
        ("PATCH", "/secrets/n/abc", Route("update_secret", "n", "abc")),
        ("DELETE", "/secrets/n", Route("delete_secret", "n")),
        ("GET", "/deletedsecrets", Route("list_deleted_secrets")),
        ("GET", "/deletedsecrets/n", Route("get_deleted_secret", "n")),
        ("DELETE", "/deletedsecrets/n", Route("purge_deleted_secret", "n")),
        ("POST", "/deletedsecrets/n/recover", Route("recover_deleted_secret", "n")),
        ("GET", "/secrets/a%2Fb", Route("get_secret", "a/b")),  # then rejected as a bad name
        ("POST", "/secrets/n/backup", Route("backup_secret", "n")),
        ("POST", "/secrets/restore", Route("restore_secret")),
        ("GET", "/secrets/restore", Route("get_secret", "restore")),  # a secret may be so named
        ("GET", "/secrets/n/backup", Route("get_secret", "n", "backup")),
    ],
)
def test_routes(method: str, path: str, route: Route) -> None:
    assert resolve(method, path) == route
    assert route.operation in OPERATIONS


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/keys/n", 404),
        ("POST", "/secrets", 405),
        ("PUT", "/secrets/n/abc", 405),
        ("GET", "/secrets/n/abc/def", 404),
        ("GET", "/secrets/n/backup/x", 404),
        ("POST", "/secrets/n", 405),
        ("POST", "/deletedsecrets/n", 405),
    ],
)
def test_unroutable(method: str, path: str, status: int) -> None:
    with pytest.raises(VaultError) as err:
        resolve(method, path)
    assert err.value.status == status


# -- certificate -------------------------------------------------------------------------------


def test_certificate_created_once_and_trusted(tmp_path: Path) -> None:
    cert_path, key_path = ensure_certificate(tmp_path)
    assert cert_path == (tmp_path / CERT_FILE).resolve() and key_path.name == KEY_FILE
    assert key_path.stat().st_mode & 0o077 == 0
    pem = cert_path.read_bytes()
    assert ensure_certificate(tmp_path) == (cert_path, key_path)
    assert cert_path.read_bytes() == pem  # reused

    cert = x509.load_pem_x509_certificate(pem)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert "127.0.0.1" in {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    ssl.create_default_context(cafile=str(cert_path))  # usable as a CA bundle
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)  # key matches


def test_certificate_regenerated_when_key_does_not_match(tmp_path: Path) -> None:
    cert_path, key_path = ensure_certificate(tmp_path)
    pem = cert_path.read_bytes()
    other = tmp_path / "other"
    _, other_key = ensure_certificate(other)
    key_path.write_bytes(other_key.read_bytes())
    ensure_certificate(tmp_path)
    assert cert_path.read_bytes() != pem
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)


def test_latency_can_delay_one_operation_only() -> None:
    faults = Faults(latency_ms=100)
    assert faults.latency_applies("GET", "/secrets/a") and faults.latency_applies("PUT", "/x")
    faults.latency_operation = "set_secret"
    assert faults.latency_applies("PUT", "/secrets/acme--k")
    assert not faults.latency_applies("GET", "/secrets/acme--k")
    assert not faults.latency_applies("GET", "/secrets")
    assert not faults.latency_applies("PATCH", "/nowhere/at/all")

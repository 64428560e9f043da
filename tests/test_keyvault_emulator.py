"""The real azure-keyvault-secrets SDK (sync and aio) against the real emulator over HTTPS.

No mocks: every test talks TLS to the emulator process started by the session fixture
(``keyvault``), or starts its own process when it tests start-up behaviour.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.keyvault.secrets import SecretClient
from azure.keyvault.secrets.aio import SecretClient as AsyncSecretClient

from tools.keyvault_emulator.control import EmulatorControl
from tools.services import REPO_ROOT, KeyVaultEmulator

pytestmark = pytest.mark.integration

VERSION_RE = re.compile(r"^[0-9a-f]{32}$")
CHALLENGE = (
    'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000",'
    ' resource="https://vault.azure.net"'
)


# -- helpers shared with test_keyvault_emulator_faults.py --------------------------------------


class FakeCredential:
    """Any token will do: the emulator accepts every bearer token."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("fake", int(time.time()) + 3600)


class AsyncFakeCredential:
    """Async flavour of :class:`FakeCredential` for the aio SecretClient."""

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("fake", int(time.time()) + 3600)

    async def close(self) -> None:
        pass

    async def __aenter__(self) -> AsyncFakeCredential:
        return self

    async def __aexit__(self, *args: Any) -> None:
        pass


def sync_client(kv: KeyVaultEmulator, **kwargs: Any) -> SecretClient:
    """A SecretClient for the emulator (challenge resource check off, CA = emulator cert)."""
    return SecretClient(
        kv.url,
        FakeCredential(),
        verify_challenge_resource=False,
        connection_verify=kv.ca_file,
        **kwargs,
    )


def async_client(kv: KeyVaultEmulator, **kwargs: Any) -> AsyncSecretClient:
    """The aio SecretClient for the emulator."""
    return AsyncSecretClient(
        kv.url,
        AsyncFakeCredential(),
        verify_challenge_resource=False,
        connection_verify=kv.ca_file,
        **kwargs,
    )


def raw(
    kv: KeyVaultEmulator,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    token: str | None = "fake",
) -> tuple[int, dict[str, str], Any]:
    """One HTTPS request with urllib (verifying against the emulator's CA file)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = kv.url + path if path.startswith("/") else path
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    context = ssl.create_default_context(cafile=kv.ca_file)
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            content = response.read()
            return response.status, dict(response.headers), json.loads(content or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"null")


# -- the wire protocol -------------------------------------------------------------------------


def test_request_without_token_gets_bearer_challenge(keyvault: KeyVaultEmulator) -> None:
    control = EmulatorControl(keyvault.control_url)
    status, headers, body = raw(keyvault, "GET", "/secrets/x?api-version=7.5", token=None)
    assert status == 401
    assert headers["WWW-Authenticate"] == CHALLENGE
    assert body["error"]["code"] == "Unauthorized"
    assert control.counters()["total"] == 0  # the handshake is not an operation


def test_wire_shapes(keyvault: KeyVaultEmulator) -> None:
    status, _, bundle = raw(
        keyvault, "PUT", "/secrets/Wire?api-version=7.5",
        {"value": "v1", "contentType": "text/plain", "tags": {"k": "v"}},
    )
    assert status == 200
    prefix = f"{keyvault.url}/secrets/Wire/"
    assert bundle["id"].startswith(prefix)
    assert VERSION_RE.match(bundle["id"][len(prefix):])
    attrs = bundle["attributes"]
    assert attrs["enabled"] is True
    assert attrs["recoveryLevel"] == "Recoverable+Purgeable"
    assert attrs["recoverableDays"] == 90
    assert isinstance(attrs["created"], int) and attrs["created"] == attrs["updated"]
    assert abs(attrs["created"] - time.time()) < 60

    # Trailing slash = latest version (what the SDK sends for get_secret(name)).
    status, _, latest = raw(keyvault, "GET", "/secrets/wire/?api-version=7.5")
    assert status == 200 and latest["value"] == "v1" and latest["id"] == bundle["id"]

    status, _, listing = raw(keyvault, "GET", "/secrets?api-version=7.5")
    assert status == 200 and listing["nextLink"] is None
    (item,) = listing["value"]
    assert item["id"] == f"{keyvault.url}/secrets/Wire"
    assert "value" not in item

    status, _, missing = raw(keyvault, "GET", "/secrets/nope?api-version=7.5")
    assert status == 404
    assert missing["error"]["code"] == "SecretNotFound"
    assert missing["error"]["message"].startswith("A secret with (name/id) nope was not found")

    status, _, bad = raw(keyvault, "GET", "/secrets/bad_name?api-version=7.5")
    assert status == 400 and bad["error"]["code"] == "BadParameter"

    status, _, bad = raw(keyvault, "GET", "/secrets?api-version=7.5&maxresults=26")
    assert status == 400 and bad["error"]["code"] == "BadParameter"


def test_next_link_is_absolute_with_skiptoken(keyvault: KeyVaultEmulator) -> None:
    for i in range(3):
        raw(keyvault, "PUT", f"/secrets/page-{i}?api-version=7.5", {"value": "x"})
    status, _, first = raw(keyvault, "GET", "/secrets?api-version=7.5&maxresults=2")
    assert status == 200 and len(first["value"]) == 2
    assert first["nextLink"].startswith(f"{keyvault.url}/secrets?")
    assert "$skiptoken=" in first["nextLink"]
    status, _, second = raw(keyvault, "GET", first["nextLink"])
    assert [i["id"].rsplit("/", 1)[1] for i in second["value"]] == ["page-2"]
    assert second["nextLink"] is None


# -- the sync SDK ------------------------------------------------------------------------------


def test_sync_set_get_versions_and_properties(keyvault: KeyVaultEmulator) -> None:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    expires = now + datetime.timedelta(days=1)
    with sync_client(keyvault) as client:
        first = client.set_secret("db-password", "one")
        second = client.set_secret(
            "db-password", "two", content_type="text/plain", tags={"env": "dev"},
            expires_on=expires,
        )
        assert first.properties.version != second.properties.version
        assert VERSION_RE.match(second.properties.version or "")

        latest = client.get_secret("db-password")
        assert latest.value == "two"
        assert latest.properties.version == second.properties.version
        assert latest.properties.content_type == "text/plain"
        assert latest.properties.tags == {"env": "dev"}
        assert latest.properties.expires_on == expires
        assert latest.properties.enabled is True
        assert latest.properties.recovery_level == "Recoverable+Purgeable"
        assert latest.properties.vault_url == keyvault.url

        assert client.get_secret("db-password", first.properties.version).value == "one"

        updated = client.update_secret_properties(
            "db-password", content_type="application/json", tags={"env": "test"}
        )
        assert updated.version == second.properties.version  # latest when no version given
        assert updated.content_type == "application/json"
        assert updated.tags == {"env": "test"}
        assert updated.expires_on == expires  # untouched properties stay

        older = client.update_secret_properties(
            "db-password", first.properties.version, enabled=False
        )
        assert older.enabled is False
        with pytest.raises(HttpResponseError) as err:
            client.get_secret("db-password", first.properties.version)
        assert err.value.status_code == 403
        assert "disabled secret" in str(err.value.message)
        assert client.get_secret("db-password").value == "two"  # other versions unaffected

        listed = client.list_properties_of_secret_versions("db-password")
        versions = {p.version: p.enabled for p in listed}
        assert versions == {first.properties.version: False, second.properties.version: True}


def test_sync_disabled_and_expired(keyvault: KeyVaultEmulator) -> None:
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    with sync_client(keyvault) as client:
        client.set_secret("off", "v", enabled=False)
        with pytest.raises(HttpResponseError) as err:
            client.get_secret("off")
        assert err.value.status_code == 403
        assert err.value.error is not None and err.value.error.code == "Forbidden"
        client.update_secret_properties("off", enabled=True)
        assert client.get_secret("off").value == "v"

        # Key Vault documents that get works outside the nbf/exp window; so does the emulator.
        client.set_secret("old", "still-readable", expires_on=past)
        assert client.get_secret("old").value == "still-readable"


def test_sync_errors_and_names(keyvault: KeyVaultEmulator) -> None:
    with sync_client(keyvault) as client:
        with pytest.raises(ResourceNotFoundError):
            client.get_secret("missing")
        with pytest.raises(ResourceNotFoundError):
            client.get_secret("missing", "0" * 32)
        with pytest.raises(ResourceNotFoundError):
            client.update_secret_properties("missing", enabled=False)
        for bad in ("bad_name", "a" * 128, "spaced name", "dot.ted"):
            with pytest.raises(HttpResponseError) as err:
                client.set_secret(bad, "v")
            assert err.value.status_code == 400, bad
        assert client.set_secret("a" * 127, "longest").name == "a" * 127

        created = client.set_secret("MixedCase-Name", "v1")
        client.set_secret("MIXEDCASE-NAME", "v2")  # same secret, new version
        got = client.get_secret("mixedcase-name")
        assert got.value == "v2"
        assert got.name == "MixedCase-Name"  # the case of first creation is kept
        assert created.name == "MixedCase-Name"
        names = [p.name for p in client.list_properties_of_secrets()]
        assert names.count("MixedCase-Name") == 1


def test_sync_paging(keyvault: KeyVaultEmulator, kv_control: EmulatorControl) -> None:
    with sync_client(keyvault) as client:
        for i in range(30):
            client.set_secret(f"paged-{i:02d}", f"value-{i}")
        for i in range(27):
            client.set_secret("many-versions", f"v{i}")
        kv_control.reset_counters()

        listed = list(client.list_properties_of_secrets())
        assert sorted(str(p.name) for p in listed) == sorted(
            [f"paged-{i:02d}" for i in range(30)] + ["many-versions"]
        )
        assert all(p.version is None for p in listed)  # list items carry no version
        assert kv_control.count("list_secrets") == 2  # 25 + 6

        assert len(list(client.list_properties_of_secrets(max_page_size=7))) == 31
        assert kv_control.count("list_secrets") == 2 + 5

        versions = list(client.list_properties_of_secret_versions("many-versions"))
        assert len({v.version for v in versions}) == 27
        assert kv_control.count("list_versions", "MANY-versions") == 2
        assert list(client.list_properties_of_secret_versions("no-such-secret")) == []


def test_sync_soft_delete_recover_purge(keyvault: KeyVaultEmulator) -> None:
    with sync_client(keyvault) as client:
        client.set_secret("keep-me", "v1")
        client.set_secret("keep-me", "v2")
        deleted = client.begin_delete_secret("keep-me", _polling_interval=0).result()
        assert deleted.name == "keep-me"
        assert deleted.recovery_id == f"{keyvault.url}/deletedsecrets/keep-me"
        assert deleted.deleted_date is not None and deleted.scheduled_purge_date is not None
        assert (deleted.scheduled_purge_date - deleted.deleted_date).days == 90

        with pytest.raises(ResourceNotFoundError):
            client.get_secret("keep-me")
        assert [d.name for d in client.list_deleted_secrets()] == ["keep-me"]
        assert client.get_deleted_secret("KEEP-ME").name == "keep-me"

        with pytest.raises(ResourceExistsError) as err:
            client.set_secret("keep-me", "v3")
        assert err.value.status_code == 409
        assert "deleted but recoverable state" in str(err.value.message)

        poller = client.begin_recover_deleted_secret("keep-me", _polling_interval=0)
        poller.wait()
        assert poller.result().name == "keep-me"
        assert client.get_secret("keep-me").value == "v2"
        assert len(list(client.list_properties_of_secret_versions("keep-me"))) == 2
        assert list(client.list_deleted_secrets()) == []

        client.begin_delete_secret("keep-me", _polling_interval=0).wait()
        client.purge_deleted_secret("keep-me")
        with pytest.raises(ResourceNotFoundError):
            client.get_deleted_secret("keep-me")
        with pytest.raises(ResourceNotFoundError):
            client.get_secret("keep-me")
        with pytest.raises(ResourceNotFoundError):
            client.purge_deleted_secret("keep-me")
        with pytest.raises(ResourceNotFoundError):
            client.begin_delete_secret("keep-me")
        assert client.set_secret("keep-me", "fresh").value == "fresh"  # name reusable after purge


def test_deleted_listing_pages(keyvault: KeyVaultEmulator, kv_control: EmulatorControl) -> None:
    with sync_client(keyvault) as client:
        for i in range(27):
            client.set_secret(f"gone-{i:02d}", "v")
            client.begin_delete_secret(f"gone-{i:02d}", _polling_interval=0)
        kv_control.reset_counters()
        assert len(list(client.list_deleted_secrets())) == 27
        assert kv_control.count("list_deleted_secrets") == 2


# -- the aio SDK -------------------------------------------------------------------------------


async def test_aio_every_operation(keyvault: KeyVaultEmulator, kv_control: EmulatorControl) -> None:
    async with async_client(keyvault) as client:
        first = await client.set_secret("Async-Secret", "a1", tags={"t": "1"})
        second = await client.set_secret("async-secret", "a2", content_type="text/plain")
        assert (await client.get_secret("ASYNC-SECRET")).value == "a2"
        assert (await client.get_secret("async-secret", first.properties.version)).value == "a1"
        props = await client.update_secret_properties("async-secret", enabled=False)
        assert props.enabled is False and props.version == second.properties.version
        with pytest.raises(HttpResponseError) as err:
            await client.get_secret("async-secret")
        assert err.value.status_code == 403
        await client.update_secret_properties(
            "async-secret", second.properties.version, enabled=True
        )

        for i in range(26):
            await client.set_secret(f"async-{i:02d}", "v")
        assert len([p async for p in client.list_properties_of_secrets()]) == 27
        versions = [p async for p in client.list_properties_of_secret_versions("async-secret")]
        assert len(versions) == 2

        deleted = await client.delete_secret("async-secret")
        assert deleted.name == "Async-Secret"
        assert [d.name async for d in client.list_deleted_secrets()] == ["Async-Secret"]
        assert (await client.get_deleted_secret("async-secret")).recovery_id is not None
        with pytest.raises(ResourceExistsError):
            await client.set_secret("async-secret", "again")
        recovered = await client.recover_deleted_secret("async-secret")
        assert recovered.name == "Async-Secret"
        assert (await client.get_secret("async-secret")).value == "a2"

        await client.delete_secret("async-secret")
        await client.purge_deleted_secret("async-secret")
        with pytest.raises(ResourceNotFoundError):
            await client.get_deleted_secret("async-secret")
        with pytest.raises(ResourceNotFoundError):
            await client.get_secret("missing")
        with pytest.raises(HttpResponseError) as err:
            await client.get_secret("bad_name")
        assert err.value.status_code == 400

    ops = kv_control.counters()["operations"]
    for op in (
        "get_secret", "set_secret", "update_secret", "list_secrets", "list_versions",
        "delete_secret", "get_deleted_secret", "list_deleted_secrets",
        "recover_deleted_secret", "purge_deleted_secret",
    ):
        assert ops.get(op, 0) > 0, op


# -- control API -------------------------------------------------------------------------------


def test_counters_per_operation_name_and_status(
    keyvault: KeyVaultEmulator, kv_control: EmulatorControl
) -> None:
    with sync_client(keyvault) as client:
        client.set_secret("Counted", "v")
        client.get_secret("counted")
        client.get_secret("COUNTED")
        with pytest.raises(ResourceNotFoundError):
            client.get_secret("uncounted")
        list(client.list_properties_of_secrets())
    counters = kv_control.counters()
    assert counters["total"] == 5
    assert counters["operations"] == {"set_secret": 1, "get_secret": 3, "list_secrets": 1}
    assert counters["secrets"] == {
        "counted": {"set_secret": 1, "get_secret": 2},
        "uncounted": {"get_secret": 1},
    }
    assert counters["statuses"] == {"200": 4, "404": 1}
    assert kv_control.count("get_secret") == 3
    assert kv_control.count("get_secret", "CoUnTeD") == 2
    assert kv_control.count("delete_secret") == 0
    assert kv_control.count("get_secret", "never-seen") == 0

    kv_control.reset_counters()
    assert kv_control.counters() == {"total": 0, "operations": {}, "secrets": {}, "statuses": {}}


def test_reset_removes_active_and_deleted(
    keyvault: KeyVaultEmulator, kv_control: EmulatorControl
) -> None:
    with sync_client(keyvault) as client:
        client.set_secret("a", "v")
        client.set_secret("b", "v")
        client.begin_delete_secret("b", _polling_interval=0)
        kv_control.set_latency(5)
        kv_control.reset()
        assert list(client.list_properties_of_secrets()) == []
        assert list(client.list_deleted_secrets()) == []
        client.set_secret("b", "reusable")  # no 409: the deleted one is gone too
    assert kv_control.faults()["latency_ms"] == 0


# -- the process -------------------------------------------------------------------------------


def test_persistence_and_certificate_reuse(tmp_path: Path) -> None:
    emulator = KeyVaultEmulator(state=tmp_path, in_memory=False).start()
    try:
        cert = Path(emulator.ca_file).read_bytes()
        with sync_client(emulator) as client:
            client.set_secret("Durable", "survives", tags={"k": "v"})
            client.set_secret("durable", "survives-v2")
            client.set_secret("tombstone", "x")
            client.begin_delete_secret("tombstone", _polling_interval=0)
    finally:
        emulator.stop()
    stored = tmp_path / "secrets.json"
    assert stored.exists()
    assert stored.stat().st_mode & 0o077 == 0  # values are plain text: owner only
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []

    emulator.start()  # same state folder, same port
    try:
        assert Path(emulator.ca_file).read_bytes() == cert
        with sync_client(emulator) as client:
            got = client.get_secret("DURABLE")
            assert (got.name, got.value) == ("Durable", "survives-v2")
            assert len(list(client.list_properties_of_secret_versions("durable"))) == 2
            assert [d.name for d in client.list_deleted_secrets()] == ["tombstone"]
    finally:
        emulator.stop()


def test_in_memory_does_not_persist(tmp_path: Path) -> None:
    emulator = KeyVaultEmulator(state=tmp_path, in_memory=True).start()
    try:
        with sync_client(emulator) as client:
            client.set_secret("ephemeral", "v")
    finally:
        emulator.stop()
    assert not (tmp_path / "secrets.json").exists()


def _run_cli(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.keyvault_emulator", *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout,
    )


def test_non_loopback_host_is_refused(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "192.0.2.10", "example.com"):
        result = _run_cli("--host", host, "--port", "0", "--state", str(tmp_path))
        assert result.returncode != 0
        assert "not a loopback address" in result.stderr
        assert "KEYVAULT_EMULATOR_READY" not in result.stdout


def test_port_in_use_exits_with_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        result = _run_cli("--port", str(port), "--state", str(tmp_path), "--in-memory")
    assert result.returncode != 0
    assert "cannot listen" in result.stderr and "in use" in result.stderr
    assert "KEYVAULT_EMULATOR_READY" not in result.stdout
    assert time.monotonic() - started < 15


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    emulator = KeyVaultEmulator(state=tmp_path).start()
    assert emulator.proc is not None
    os.kill(emulator.proc.pid, sig)
    assert emulator.proc.wait(10) == 0
    emulator.stop()


def test_ready_line_and_hints(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.keyvault_emulator", "--port", "0", "--state",
         str(tmp_path), "--in-memory"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        second = proc.stdout.readline() + proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(10)
    prefix, payload = first.split(" ", 1)
    assert prefix == "KEYVAULT_EMULATOR_READY"
    ready = json.loads(payload)
    assert set(ready) == {"url", "urls", "control_url", "ca_file", "proxy_url", "hostname_urls"}
    assert ready["urls"] == {"default": ready["url"]}
    assert re.match(r"^https://127\.0\.0\.1:\d+$", ready["url"])
    assert re.match(r"^http://127\.0\.0\.1:\d+$", ready["control_url"])
    assert Path(ready["ca_file"]).is_absolute() and Path(ready["ca_file"]).is_file()
    assert f"AZURE_KEY_VAULT_URL={ready['url']}" in second
    assert f"AZURE_KEY_VAULT_CA_FILE={ready['ca_file']}" in second

"""The emulator refuses what only a browser (or a page whose name is rebound to 127.0.0.1)
would send, over real HTTP to the emulator process: a Host that is not a loopback name
(421), cross-site requests (403) and, on the control port, bodies that are not JSON (415),
with ``POST /reset`` needing one. The SDK and the project's control client keep working."""

from __future__ import annotations

import http.client
import json
import ssl
from typing import Any

import pytest

from tools.keyvault_emulator.control import EmulatorControl
from tools.services import KeyVaultEmulator

pytestmark = pytest.mark.integration

SECRET = "kept-secret"
API = "?api-version=7.5"


def _address(url: str) -> tuple[str, int]:
    host, _, port = url.split("://", 1)[1].rstrip("/").rpartition(":")
    return host, int(port)


def send(url: str, method: str, path: str, *, host: str | None = None,
         headers: dict[str, str] | None = None, body: bytes | None = None,
         ca_file: str | None = None) -> tuple[int, Any]:
    """One request with exactly these headers (``host`` replaces the Host header)."""
    name, port = _address(url)
    conn: http.client.HTTPConnection
    if url.startswith("https://"):
        context = ssl.create_default_context(cafile=ca_file)
        conn = http.client.HTTPSConnection(name, port, timeout=10, context=context)
    else:
        conn = http.client.HTTPConnection(name, port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=host is not None, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        for key, value in (headers or {}).items():
            conn.putheader(key, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw or b"null")
        except ValueError:
            return response.status, raw
    finally:
        conn.close()


def vault(kv: KeyVaultEmulator, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    headers = {"Authorization": "Bearer fake", **kw.pop("headers", {})}
    return send(kv.url, method, path + API, headers=headers, ca_file=kv.ca_file, **kw)


@pytest.fixture
def seeded(keyvault: KeyVaultEmulator) -> KeyVaultEmulator:
    status, _ = vault(keyvault, "PUT", f"/secrets/{SECRET}", body=b'{"value": "v"}',
                      headers={"Content-Type": "application/json"})
    assert status == 200
    return keyvault


def still_there(kv: KeyVaultEmulator) -> bool:
    return vault(kv, "GET", f"/secrets/{SECRET}")[0] == 200


JSON = {"Content-Type": "application/json"}
NOT_LOOPBACK = ["attacker.example", "attacker.example:{port}", "localhost.attacker.example",
                "127.0.0.1.nip.io:{port}", "localhost.:{port}", "10.0.0.8:{port}", ""]
CROSS_SITE = [{"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
              {"Origin": "http://attacker.example"}, {"Origin": "null"},
              {"Origin": "http://localhost:1"},
              {"Sec-Fetch-Site": "cross-site", "Origin": "http://127.0.0.1:{port}"}]


# -- the control port ----------------------------------------------------------------------------

@pytest.mark.parametrize("host", NOT_LOOPBACK)
def test_control_refuses_a_host_that_is_not_loopback(seeded: KeyVaultEmulator, host: str) -> None:
    url = seeded.control_url
    value = host.format(port=_address(url)[1])
    assert send(url, "GET", "/counters", host=value)[0] == 421  # secret names not readable
    assert send(url, "POST", "/reset", host=value, headers=JSON, body=b"{}")[0] == 421
    assert still_there(seeded)


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_control_refuses_cross_site_requests(
    seeded: KeyVaultEmulator, headers: dict[str, str]
) -> None:
    url = seeded.control_url
    port = _address(url)[1]
    headers = {k: v.format(port=port) for k, v in headers.items()}
    status, body = send(url, "POST", "/reset", headers={**headers, **JSON}, body=b"{}")
    assert status == 403 and "cross-site" in body["error"]
    assert send(url, "GET", "/counters", headers=headers)[0] == 403
    assert still_there(seeded)


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"},
    {"Origin": "http://127.0.0.1:{port}"}, {"Origin": "HTTP://127.0.0.1:{port}"},
])
def test_control_accepts_same_origin_requests(
    keyvault: KeyVaultEmulator, headers: dict[str, str]
) -> None:
    url = keyvault.control_url
    headers = {k: v.format(port=_address(url)[1]) for k, v in headers.items()}
    assert send(url, "GET", "/health", headers=headers)[0] == 200


@pytest.mark.parametrize("host", ["localhost:{port}", "LOCALHOST:{port}", "127.0.0.1:{port}",
                                  "[::1]:{port}", "localhost"])
def test_control_accepts_loopback_names(keyvault: KeyVaultEmulator, host: str) -> None:
    url = keyvault.control_url
    assert send(url, "GET", "/health", host=host.format(port=_address(url)[1]))[0] == 200


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
def test_control_takes_bodies_only_as_json(
    kv_control: EmulatorControl, content_type: str | None
) -> None:
    url = kv_control.control_url
    headers = {"Content-Type": content_type} if content_type else {}
    status, _ = send(url, "POST", "/faults/latency", headers=headers, body=b'{"ms": 60000}')
    assert status == 415
    status, _ = send(url, "POST", "/faults/fail-next", headers=headers,
                     body=b'{"count": 5, "status": 503}')
    assert status == 415
    assert kv_control.faults()["latency_ms"] == 0
    assert send(url, "GET", "/health", headers=headers, body=b"{}")[0] == 415


def test_reset_needs_a_json_body(seeded: KeyVaultEmulator) -> None:
    url = seeded.control_url
    assert send(url, "POST", "/reset")[0] == 415                       # no body at all
    assert send(url, "POST", "/reset", headers=JSON)[0] == 415         # JSON type, no body
    assert send(url, "POST", "/reset", headers={"Content-Type": "text/plain"},
                body=b"{}")[0] == 415
    assert still_there(seeded)
    assert send(url, "POST", "/reset", headers=JSON, body=b"{}")[0] == 200
    assert not still_there(seeded)


def test_the_control_client_keeps_working(seeded: KeyVaultEmulator) -> None:
    control = EmulatorControl(seeded.control_url)
    control.set_latency(0)
    control.fail_next(1, 503, operation="list_versions")
    control.clear_faults()
    control.refuse_connections(False)
    control.drop_connections(False)
    control.reset_counters()
    assert control.counters()["total"] == 0 and control.health()["status"] == "ok"
    control.reset()
    assert not still_there(seeded)
    control.reset_all()


# -- the Key Vault port --------------------------------------------------------------------------

@pytest.mark.parametrize("host", [*NOT_LOOPBACK, "evil.vault.localhost.attacker.example"])
def test_vault_refuses_a_host_that_is_not_loopback(
    seeded: KeyVaultEmulator, kv_control: EmulatorControl, host: str
) -> None:
    value = host.format(port=_address(seeded.url)[1])
    status, body = vault(seeded, "GET", f"/secrets/{SECRET}", host=value)
    assert status == 421 and body["error"]["code"] == "MisdirectedRequest"
    assert kv_control.count("get_secret") == 0  # refused before it is an operation


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_vault_refuses_cross_site_browser_requests(
    seeded: KeyVaultEmulator, kv_control: EmulatorControl, headers: dict[str, str]
) -> None:
    port = _address(seeded.url)[1]
    headers = {k: v.format(port=port) for k, v in headers.items()}
    status, body = vault(seeded, "GET", f"/secrets/{SECRET}", headers=headers)
    assert status == 403 and body["error"]["code"] == "Forbidden"
    status, _ = vault(seeded, "DELETE", f"/secrets/{SECRET}", headers=headers)
    assert status == 403
    assert still_there(seeded)


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LocalHost:{port}",
                                  "default.vault.localhost", "default.vault.localhost:443"])
def test_vault_serves_loopback_and_drop_in_names(seeded: KeyVaultEmulator, host: str) -> None:
    value = host.format(port=_address(seeded.url)[1])
    status, body = vault(seeded, "GET", f"/secrets/{SECRET}", host=value)
    assert status == 200 and body["value"] == "v"
    same_origin = {"Origin": f"https://{value}", "Sec-Fetch-Site": "same-origin"}
    assert vault(seeded, "GET", f"/secrets/{SECRET}", host=value, headers=same_origin)[0] == 200

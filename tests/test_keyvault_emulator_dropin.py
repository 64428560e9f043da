"""Drop-in mode: unmodified SDK code reaches the emulator with environment variables only.

Microsoft's samples build ``SecretClient(vault_url=..., credential=DefaultAzureCredential())``
with default options: the challenge resource is verified and the system CA bundle is used.
These tests run code of that shape in a fresh process (aiohttp reads ``SSL_CERT_FILE`` at
import) with ``KeyVaultEmulator.dropin_env()``: the vault's host name through the
emulator's proxy, its CA, and its managed-identity endpoint.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tools.services import KeyVaultEmulator

pytestmark = pytest.mark.integration

# The operations of backup_restore_operations.py, in the samples' style (default options).
SYNC_SCRIPT = """
import os
from azure.identity import DefaultAzureCredential
from azure.keyvault.secrets import SecretClient

client = SecretClient(vault_url=os.environ["VAULT_URL"], credential=DefaultAzureCredential())
secret = client.set_secret("dropin-secret", "dropin-value")
blob = client.backup_secret(secret.name)
client.begin_delete_secret(secret.name).wait()
client.purge_deleted_secret(secret.name)
restored = client.restore_secret_backup(blob)
print(restored.name, restored.vault_url, client.get_secret(secret.name).value)
"""

ASYNC_SCRIPT = """
import asyncio, os
from azure.identity.aio import DefaultAzureCredential
from azure.keyvault.secrets.aio import SecretClient

async def main():
    async with DefaultAzureCredential() as credential, \\
            SecretClient(vault_url=os.environ["VAULT_URL"], credential=credential) as client:
        secret = await client.set_secret("dropin-secret", "dropin-value")
        blob = await client.backup_secret(secret.name)
        await client.delete_secret(secret.name)
        await client.purge_deleted_secret(secret.name)
        restored = await client.restore_secret_backup(blob)
        value = (await client.get_secret(secret.name)).value
        names = [p.name async for p in client.list_properties_of_secrets()]
        print(restored.name, restored.vault_url, value, names)

asyncio.run(main())
"""


def run_unmodified(script: str, env: dict[str, str], home: Path) -> str:
    """Run ``script`` in a fresh interpreter with nothing but ``env`` (and PATH/HOME)."""
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), **env},
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


@pytest.mark.parametrize("script", [SYNC_SCRIPT, ASYNC_SCRIPT], ids=["sync", "aio"])
def test_unmodified_sdk_code_backs_up_and_restores_in_the_named_vault(
    sharded_keyvault: KeyVaultEmulator, tmp_path: Path, script: str
) -> None:
    out = run_unmodified(script, sharded_keyvault.dropin_env("shard1"), tmp_path)
    assert out.startswith("dropin-secret https://shard1.vault.localhost dropin-value")
    shard1 = sharded_keyvault.control("shard1")
    assert shard1.count("backup_secret", "dropin-secret") == 1
    assert shard1.count("restore_secret") == 1
    assert sharded_keyvault.control().counters()["total"] == 0  # the default vault: untouched


def _connect(proxy_url: str, request: bytes) -> bytes:
    host, port = proxy_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        return sock.recv(4096)


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        (b"CONNECT example.com:443 HTTP/1.1", b"403"),
        (b"CONNECT login.microsoftonline.com:443 HTTP/1.1", b"403"),
        (b"CONNECT nope.vault.localhost:443 HTTP/1.1", b"403"),
        (b"CONNECT default.vault.localhost.evil.com:443 HTTP/1.1", b"403"),
        (b"GET http://default.vault.localhost/ HTTP/1.1", b"405"),
    ],
)
def test_the_proxy_tunnels_only_to_its_vaults(
    sharded_keyvault: KeyVaultEmulator, request_line: bytes, status: bytes
) -> None:
    answer = _connect(sharded_keyvault.proxy_url, request_line + b"\r\nHost: x\r\n\r\n")
    assert answer.split(b" ")[1] == status


def test_the_proxy_answers_bad_gateway_for_a_refusing_vault(
    sharded_keyvault: KeyVaultEmulator,
) -> None:
    sharded_keyvault.control("shard2").refuse_connections()
    answer = _connect(
        sharded_keyvault.proxy_url, b"CONNECT shard2.vault.localhost:443 HTTP/1.1\r\n\r\n"
    )
    assert answer.split(b" ")[1] == b"502"


def _challenge(kv: KeyVaultEmulator, host: str) -> str:
    request = urllib.request.Request(
        kv.url + "/secrets/x?api-version=7.5", headers={"Host": host}
    )
    context = ssl.create_default_context(cafile=kv.ca_file)
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, context=context, timeout=10)
    assert err.value.code == 401
    return str(err.value.headers["WWW-Authenticate"])


def test_the_challenge_names_vault_localhost_for_host_names(keyvault: KeyVaultEmulator) -> None:
    assert 'resource="https://vault.localhost"' in _challenge(keyvault, "default.vault.localhost")
    assert 'resource="https://vault.azure.net"' in _challenge(keyvault, "127.0.0.1")


def test_the_identity_endpoint_gives_a_token_like_app_service(keyvault: KeyVaultEmulator) -> None:
    url = f"{keyvault.control_url}/identity/token?api-version=2019-08-01&resource=https://v"
    with urllib.request.urlopen(
        urllib.request.Request(url, headers={"X-IDENTITY-HEADER": "any"}), timeout=10
    ) as response:
        token = json.loads(response.read())
    assert token["access_token"] and int(token["expires_on"]) > 0
    assert token["resource"] == "https://v" and token["token_type"] == "Bearer"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url, timeout=10)  # no X-IDENTITY-HEADER
    assert err.value.code == 400

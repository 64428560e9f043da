"""Health: liveness for anyone; Key Vault reachability within 2 s, classified, value-free."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import pytest

from tests.api.conftest import Api, Vault
from tools.keyvault_emulator.control import EmulatorControl
from tools.services import free_port

pytestmark = pytest.mark.integration


async def test_liveness_needs_no_caller_and_no_backend(
    api: Api, api_env: Callable[..., None]
) -> None:
    api_env(WEBSITE_AUTH_ENABLED="false", CONFIG_STORAGE_CONNECTION=None)
    response = await api.call("health", principal=None)
    assert (response.status, response.json()) == (200, {"status": "ok"})


async def test_keyvault_connected_lists_one_name_and_reads_no_value(
    api: Api, vault: Vault, kv_control: EmulatorControl
) -> None:
    await vault.set("acme--smtp-password", "Zx-health")
    kv_control.reset_counters()
    response = await api.call("health_keyvault")
    body = response.json()
    assert response.status == 200 and body["status"] == "connected"
    assert body["latency_ms"] >= 0 and body["last_success"] and body["failure"] is None
    assert set(kv_control.counters()["operations"]) == {"list_secrets"}


async def test_keyvault_not_configured(api: Api, api_env: Callable[..., None]) -> None:
    api_env(AZURE_KEY_VAULT_URL=None, AZURE_KEY_VAULT_CA_FILE=None)
    response = await api.call("health_keyvault")
    assert response.status == 200 and response.json()["status"] == "not_configured"
    assert "AZURE_KEY_VAULT_URL" in response.json()["guidance"]


@pytest.mark.parametrize(("status", "failure", "hint"), [
    (401, "authentication", "managed identity"),
    (403, "permission", "Key Vault Secrets User"),
    (429, "throttling", "SECRET_CACHE_TTL_SECONDS"),
    (503, "service", "transient"),
])
async def test_keyvault_failures_are_classified_with_guidance(
    api: Api, kv_control: EmulatorControl, status: int, failure: str, hint: str
) -> None:
    kv_control.fail_next(3, status, retry_after=0.01, operation="list_secrets")
    response = await api.call("health_keyvault")
    body = response.json()
    assert response.status == 503 and body["status"] == "disconnected"
    assert body["failure"] == failure and hint in body["guidance"]


async def test_keyvault_unreachable_is_a_network_failure(
    api: Api, kv_control: EmulatorControl
) -> None:
    kv_control.refuse_connections(True)
    try:
        body = (await api.call("health_keyvault")).json()
    finally:
        kv_control.refuse_connections(False)
    assert (body["status"], body["failure"]) == ("disconnected", "network")
    assert "make serve" in body["guidance"] and "VNet" not in body["guidance"]


async def test_a_local_emulator_not_running_gets_local_guidance(
    api: Api, api_env: Callable[..., None]
) -> None:
    url = f"https://127.0.0.1:{free_port()}"  # nothing listens there: an emulator stopped
    api_env(AZURE_KEY_VAULT_URL=url)
    response = await api.call("health_keyvault")
    body = response.json()
    assert response.status == 503 and (body["status"], body["failure"]) == (
        "disconnected", "network")
    guidance = body["guidance"]
    assert url in guidance and "make serve" in guidance and "make dev" in guidance
    assert "VNet" not in guidance and "firewall" not in guidance


async def test_a_local_shard_not_running_gets_local_guidance(
    api: Api, api_env: Callable[..., None]
) -> None:
    url = f"https://127.0.0.1:{free_port()}"
    api_env(AZURE_KEY_VAULT_SHARDS=json.dumps({"eu": url}))
    body = (await api.call("health_keyvault")).json()
    assert body["status"] == "disconnected"
    assert body["guidance"].startswith("vault eu unreachable: nothing answers at " + url)
    vaults = {v["vault"]: v for v in body["vaults"]}
    assert vaults["default"]["status"] == "connected" and vaults["default"]["guidance"] is None
    assert "make serve" in vaults["eu"]["guidance"] and "VNet" not in vaults["eu"]["guidance"]


async def test_keyvault_unresolvable_host_is_a_dns_failure(
    api: Api, api_env: Callable[..., None]
) -> None:
    api_env(AZURE_KEY_VAULT_URL="https://orgconfig-does-not-exist.invalid",
            AZURE_KEY_VAULT_CA_FILE=None)
    body = (await api.call("health_keyvault")).json()
    assert body["status"] == "disconnected" and body["failure"] in ("dns", "timeout")
    assert "AZURE_KEY_VAULT_URL" in body["guidance"] or "slow" in body["guidance"]


async def test_a_slow_vault_is_reported_within_two_seconds(
    api: Api, kv_control: EmulatorControl
) -> None:
    kv_control.reset_counters()
    kv_control.set_latency(2500)
    started = time.perf_counter()
    body = (await api.call("health_keyvault")).json()
    elapsed = time.perf_counter() - started
    assert (body["status"], body["failure"]) == ("disconnected", "timeout")
    assert elapsed < 2.0
    # The emulator still answers the abandoned request: let it, so no later test counts it.
    while kv_control.count("list_secrets") == 0 and time.perf_counter() - started < 5:
        await asyncio.sleep(0.05)


async def test_last_success_survives_a_later_failure(
    api: Api, kv_control: EmulatorControl
) -> None:
    first = (await api.call("health_keyvault")).json()
    kv_control.fail_next(1, 403, operation="list_secrets")
    second = (await api.call("health_keyvault")).json()
    assert second["status"] == "disconnected"
    assert second["last_success"] == first["last_success"]


async def test_keyvault_health_reports_resolver_metrics_and_breakers(api: Api) -> None:
    body = (await api.call("health_keyvault")).json()
    assert set(body["breakers"]) == {"vault", "table"}
    assert body["breakers"]["vault"]["state"] == "closed"
    assert isinstance(body["metrics"], dict)
    assert all(isinstance(v, int) for v in body["metrics"].values())

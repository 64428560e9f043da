"""A secret rotated directly in the vault reaches the app through Key Vault's events, as in
Azure: the real SDK writes to the emulator (no admin API call), the emulator validates its
Event Grid subscription and delivers SecretNewVersionCreated to the app's keyvault_events
function served by the local Functions host, and the app's next read returns the new value
long before the secret cache's TTL (an hour) would have let it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from shared.resolver import get_resolver
from tests.api.conftest import HttpApi, Table, Vault
from tools.services import KeyVaultEmulator

pytestmark = pytest.mark.integration

NAME = "acme--smtp-password"


@pytest.fixture
async def subscribed(keyvault: KeyVaultEmulator, http_api: HttpApi) -> AsyncIterator[str]:
    """The emulator's event subscription pointed at the app's keyvault_events, as
    ``make serve`` does; removed afterwards (the emulator is the session's)."""
    control = keyvault.control()
    url = http_api.host.eventgrid_url("keyvault_events")
    control.reset_events()
    yield url
    await asyncio.to_thread(control.set_event_endpoint, None)
    control.reset_events()


async def read(org: str, key: str) -> object:
    return await get_resolver().context(org).get_config(key)


async def test_a_rotation_in_the_vault_reaches_the_app_through_events(
    keyvault: KeyVaultEmulator, http_api: HttpApi, table: Table, vault: Vault, subscribed: str
) -> None:
    control = keyvault.control()
    await table.seed(("acme", "smtp_password", "smtp-password", "secret_ref"))
    await vault.set(NAME, "first-value-canary")
    assert await read("acme", "smtp_password") == "first-value-canary"  # cached for an hour

    # without a subscription, a rotation in the vault is not seen: the cache answers
    await vault.set(NAME, "unseen-value-canary")
    assert await read("acme", "smtp_password") == "first-value-canary"

    # subscribed (from the host's loop's point of view, the control call is another thread,
    # so the handshake the emulator may start meanwhile is answered)
    await asyncio.to_thread(control.set_event_endpoint, subscribed, backoff=0.05)
    await vault.set(NAME, "rotated-value-canary")
    deadline = time.monotonic() + 15
    while (value := await read("acme", "smtp_password")) != "rotated-value-canary":
        assert time.monotonic() < deadline, f"still {value!r} after 15 s"
        await asyncio.sleep(0.05)

    status = await asyncio.to_thread(control.events)
    assert status["validated"] is True and status["failed"] == 0
    assert [(r["eventType"], r["subject"], r["outcome"]) for r in status["recent"]] == [
        ("Microsoft.KeyVault.SecretNewVersionCreated", NAME, "delivered")]
    assert get_resolver().metrics.get("events.SecretNewVersionCreated") == 1
    assert get_resolver().metrics.get("events.refused") == 0

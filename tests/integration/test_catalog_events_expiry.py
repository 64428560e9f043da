"""Key Vault events keep the catalog (only from our vault), and expired secrets are
served with a warning or refused, by setting. Azurite and the emulator."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.keyvault.secrets.aio import SecretClient

from shared.admin.catalog_sync import SecretCatalog
from shared.admin.events import configured_vaults, handle_keyvault_event
from shared.errors import SecretExpiredError
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tools.keyvault_emulator.control import EmulatorControl

pytestmark = pytest.mark.integration
Seed = Callable[..., Any]
VALUE = "expiry-canary-Hw27"
NEW = "Microsoft.KeyVault.SecretNewVersionCreated"


def our_vault(settings: Settings) -> str:
    return next(iter(configured_vaults(settings)))


async def rows(resolver: ConfigResolver) -> dict[tuple[str, str], Any]:
    return await SecretCatalog(resolver).read_all()


# -- events ----------------------------------------------------------------------------------
async def test_a_new_version_event_records_a_secret_created_in_the_portal(
    resolver: ConfigResolver, vault: SecretClient, settings: Settings
) -> None:
    await SecretCatalog(resolver).reconcile()
    bumps = resolver.metrics.get("coherence.recorded")
    await vault.set_secret("acme--graph-secret", VALUE, content_type="text/plain")
    handled = await handle_keyvault_event(resolver, NEW, "acme--graph-secret", {
        "ObjectName": "acme--graph-secret", "VaultName": our_vault(settings)})
    assert handled == "acme--graph-secret"
    record = (await rows(resolver))[("acme", "graph-secret")]
    assert (record.name, record.content_type) == ("graph-secret", "text/plain")
    assert resolver.metrics.get("coherence.recorded") == bumps + 1


async def test_a_new_version_event_records_that_version_even_within_the_same_second(
    resolver: ConfigResolver, vault: SecretClient, settings: Settings
) -> None:
    """Key Vault's creation times have whole seconds: two versions made within one cannot
    be ordered by them, so the event's own Version picks the row (a flake before: the row
    sometimes kept the older version's expiry)."""
    expires = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    for _ in range(5):  # each round: two versions, the second with an expiry
        await vault.set_secret("acme--twice", VALUE)
        second = await vault.set_secret("acme--twice", VALUE + "2", expires_on=expires)
        await handle_keyvault_event(resolver, NEW, "acme--twice", {
            "ObjectName": "acme--twice", "VaultName": our_vault(settings),
            "Version": second.properties.version})
        record = (await rows(resolver))[("acme", "twice")]
        assert record.version == second.properties.version
        assert record.expires_on == expires


async def test_an_event_for_a_secret_the_vault_no_longer_has_removes_its_row(
    resolver: ConfigResolver, vault: SecretClient, settings: Settings
) -> None:
    await vault.set_secret("acme--gone", VALUE)
    await SecretCatalog(resolver).reconcile()
    await vault.delete_secret("acme--gone")
    await handle_keyvault_event(resolver, NEW, None, {
        "ObjectName": "acme--gone", "VaultName": our_vault(settings).upper()})
    assert ("acme", "gone") not in await rows(resolver)


@pytest.mark.parametrize("data", [
    {"ObjectName": "acme--x"},
    {"ObjectName": "acme--x", "VaultName": ""},
    {"ObjectName": "acme--x", "VaultName": "another-vault"},
])
async def test_an_event_without_our_vault_is_refused_logged_and_counted(
    resolver: ConfigResolver, vault: SecretClient, data: dict[str, str],
    caplog: pytest.LogCaptureFixture, kv_control: EmulatorControl,
) -> None:
    await vault.set_secret("acme--x", VALUE)
    caplog.set_level(logging.WARNING, logger="orgconfig.events")
    kv_control.reset_counters()
    assert await handle_keyvault_event(resolver, NEW, "acme--x", data) is None
    assert resolver.metrics.get("events.refused") == 1
    assert resolver.metrics.get("coherence.recorded") == 0
    assert ("acme", "x") not in await rows(resolver)
    assert kv_control.counters()["total"] == 0
    assert any("refusing Key Vault event" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("event_type", ["Microsoft.KeyVault.SecretNearExpiry",
                                        "Microsoft.KeyVault.SecretExpired"])
async def test_expiry_events_record_the_expiry_and_warn(
    resolver: ConfigResolver, vault: SecretClient, settings: Settings, event_type: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    await vault.set_secret("GLOBAL--psa-api-key", VALUE, expires_on=expires)
    caplog.set_level(logging.WARNING, logger="orgconfig.events")
    handled = await handle_keyvault_event(resolver, event_type, None, {
        "ObjectName": "GLOBAL--psa-api-key", "VaultName": our_vault(settings)})
    # a secret near expiry changes no value: no change is recorded for the caches
    near = event_type.endswith("NearExpiry")
    assert handled == (None if near else "GLOBAL--psa-api-key")
    assert resolver.metrics.get("coherence.recorded") == (0 if near else 1)
    assert (await rows(resolver))[("GLOBAL", "psa-api-key")].expires_on == expires
    messages = [r.getMessage() for r in caplog.records]
    assert any("GLOBAL--psa-api-key" in m and expires.isoformat() in m for m in messages)
    assert not [m for m in messages if VALUE in m]


# -- expiry ----------------------------------------------------------------------------------
async def test_the_emulator_returns_an_expired_secret_as_key_vault_does(
    vault: SecretClient
) -> None:
    past = datetime.now(UTC) - timedelta(days=1)
    await vault.set_secret("acme--old", VALUE, expires_on=past)
    secret = await vault.get_secret("acme--old")
    assert secret.value == VALUE and secret.properties.expires_on is not None


@pytest.fixture
async def expired(vault: SecretClient, seed: Seed) -> None:
    await vault.set_secret("acme--smtp-password", VALUE,
                           expires_on=datetime.now(UTC) - timedelta(hours=1))
    await vault.set_secret("GLOBAL--smtp-password", "global-" + VALUE)
    await seed(("GLOBAL", "smtp_password", "smtp-password", "secret_ref"))


@pytest.mark.usefixtures("expired")
async def test_an_expired_secret_is_served_with_one_warning_by_default(
    resolver: ConfigResolver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="orgconfig")
    ctx = resolver.context("acme")
    for _ in range(3):
        assert await ctx.get_config("smtp_password") == VALUE
    assert resolver.metrics.get("secret.expired_served") == 3
    warnings = [r.getMessage() for r in caplog.records if "expired at" in r.getMessage()]
    assert len(warnings) == 1 and "acme--smtp-password" in warnings[0]
    assert not [r for r in caplog.records if VALUE in r.getMessage()]


@pytest.mark.usefixtures("expired")
async def test_refuse_policy_makes_an_expired_secret_a_clear_error(
    make_resolver: Callable[..., ConfigResolver]
) -> None:
    async with make_resolver(expired_policy="refuse") as resolver:
        ctx = resolver.context("acme")
        with pytest.raises(SecretExpiredError) as info:
            await ctx.get_config("smtp_password")
        message = str(info.value)
        assert "acme--smtp-password" in message and "SECRET_EXPIRED_POLICY" in message
        assert VALUE not in message and VALUE not in repr(info.value)
        assert resolver.metrics.get("secret.expired_refused") == 1
        explained = await ctx.explain("smtp_password")
        assert explained.error == "SecretExpiredError" and explained.source is None


async def test_expiring_lists_expired_and_soon_expiring_secrets_per_scope(
    resolver: ConfigResolver, vault: SecretClient
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    await vault.set_secret("acme--expired", VALUE, expires_on=now - timedelta(days=1))
    await vault.set_secret("GLOBAL--soon", VALUE, expires_on=now + timedelta(days=10))
    await vault.set_secret("contoso--soon", VALUE, expires_on=now + timedelta(days=10))
    await vault.set_secret("acme--later", VALUE, expires_on=now + timedelta(days=90))
    await vault.set_secret("acme--never", VALUE)
    secret_catalog = SecretCatalog(resolver)
    await secret_catalog.reconcile()
    found = [(e.vault_name, e.state) for e in await secret_catalog.expiring(scope="acme")]
    assert found == [("acme--expired", "expired"), ("GLOBAL--soon", "expiring")]
    assert len(await secret_catalog.expiring()) == 3
    assert len(await secret_catalog.expiring(warning_days=100)) == 4


async def test_a_secret_expiring_while_memoized_is_refused_from_its_expiry_on(
    make_resolver: Callable[..., ConfigResolver], vault: SecretClient, seed: Seed
) -> None:
    import asyncio

    expires = datetime.now(UTC) + timedelta(seconds=4)
    await vault.set_secret("acme--token", VALUE, expires_on=expires)
    await seed(("acme", "token", "token", "secret_ref"))
    async with make_resolver(expired_policy="refuse") as resolver:
        ctx = resolver.context("acme")
        for _ in range(3):  # the third read is a memo hit, kept at most until the expiry
            assert await ctx.get_config("token") == VALUE
        assert resolver.metrics.get("answer.memo_hit") == 1
        await asyncio.sleep((expires - datetime.now(UTC)).total_seconds() + 0.3)
        with pytest.raises(SecretExpiredError):
            await ctx.get_config("token")

"""Revalidation by version (issue: ask the vault only when something changed): a held
secret whose catalog row names the same version is renewed without a vault request; one
whose row names a newer version, or says it was disabled or deleted, is dropped when the
snapshot holding that row loads (within the config TTL), not at the secret's TTL. With the
catalog off, the secret TTL decides, as before.

Reader ``r`` has no change log (coherence off): only the catalog rows in its snapshots
can tell it about a change another instance (``w``) made.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from pydantic import SecretStr

from shared.admin.catalog_sync import SecretCatalog
from shared.admin.secret_admin import SecretAdmin
from shared.core.values import ConfigEntry
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tests.integration.test_answers import ManualClock, clocked
from tools.keyvault_emulator.control import EmulatorControl

pytestmark = pytest.mark.integration

CONFIG_TTL = 30.0
SECRET_TTL = 3600.0


@pytest.fixture
def quiet(settings: Settings) -> Settings:
    return replace(settings, config_cache_ttl=CONFIG_TTL, secret_cache_ttl=SECRET_TTL,
                   coherence_check_seconds=0, backend_timeout=2.0)


@pytest.fixture
async def w(quiet: Settings) -> AsyncIterator[ConfigResolver]:
    async with ConfigResolver(quiet) as resolver:
        await resolver.config_store.put_entry(
            ConfigEntry("acme", "pwd", "smtp-password", "secret_ref"))
        await SecretAdmin(resolver).put("acme", "smtp-password", SecretStr("v1"))
        await SecretCatalog(resolver).reconcile()  # the catalog on
        yield resolver


@pytest.fixture
async def r(quiet: Settings, w: ConfigResolver) -> AsyncIterator[ConfigResolver]:
    async with ConfigResolver(quiet) as resolver:
        yield clocked(resolver, ManualClock())


def clock_of(resolver: ConfigResolver) -> ManualClock:
    clock = resolver.answers.clock
    assert isinstance(clock, ManualClock)
    return clock


async def read(resolver: ConfigResolver) -> str:
    return str(await resolver.context("acme").get_config("pwd"))


async def test_an_unchanged_secret_costs_no_get_after_its_first_fetch(
    r: ConfigResolver, kv_control: EmulatorControl,
) -> None:
    kv_control.reset_counters()
    assert await read(r) == "v1"
    for _ in range(5):  # five secret TTLs pass; the snapshots reload each time
        clock_of(r).advance(SECRET_TTL + 1)
        assert await read(r) == "v1"
    assert kv_control.count("get_secret") == 1
    assert r.metrics.get("vault.revalidated") >= 5


async def test_a_rotation_reaches_the_reader_within_the_config_ttl_without_events(
    r: ConfigResolver, w: ConfigResolver, kv_control: EmulatorControl,
) -> None:
    assert await read(r) == "v1"
    await SecretAdmin(w).put("acme", "smtp-password", SecretStr("v2"))  # row: new version
    assert await read(r) == "v1"  # r's snapshot still holds the old row
    clock_of(r).advance(CONFIG_TTL + 1)  # far below the secret TTL
    kv_control.reset_counters()
    assert await read(r) == "v2"
    assert kv_control.count("get_secret") == 1


@pytest.mark.parametrize("change", ["disable", "delete"])
async def test_a_disabled_or_deleted_secret_is_dropped_at_the_next_snapshot(
    r: ConfigResolver, w: ConfigResolver, change: str,
) -> None:
    assert await read(r) == "v1"
    admin = SecretAdmin(w)
    if change == "delete":
        await admin.delete("acme", "smtp-password")
    else:
        vault = w.secret_store.vault_for("acme")
        props = await vault.client.update_secret_properties("acme--smtp-password",
                                                            enabled=False)
        await SecretCatalog(w).after_write("acme", "smtp-password", props)
    clock_of(r).advance(CONFIG_TTL + 1)
    await r.config_store.snapshot("acme")  # the reload that carries the row
    assert r.secret_store.cache.peek("acme--smtp-password") is None
    assert r.metrics.get("secret.revalidation_dropped") == 1


async def test_a_renewal_does_not_outlive_an_invalidation_under_way(
    r: ConfigResolver, w: ConfigResolver,
) -> None:
    assert await read(r) == "v1"
    clock_of(r).advance(SECRET_TTL + 1)
    r.invalidate("acme", secret="smtp-password")  # an admin write on this instance
    await SecretAdmin(w).put("acme", "smtp-password", SecretStr("v3"))
    clock_of(r).advance(CONFIG_TTL + 1)
    assert await read(r) == "v3"  # dropped, so fetched: never the renewed old one


async def test_with_the_catalog_off_the_secret_ttl_decides_as_before(
    quiet: Settings, kv_control: EmulatorControl,
) -> None:
    async with ConfigResolver(quiet) as writer, ConfigResolver(quiet) as reader:
        await writer.config_store.put_entry(
            ConfigEntry("acme", "pwd", "smtp-password", "secret_ref"))
        await SecretAdmin(writer).put("acme", "smtp-password", SecretStr("v1"))
        clocked(reader, ManualClock())
        kv_control.reset_counters()
        assert await read(reader) == "v1"
        await SecretAdmin(writer).put("acme", "smtp-password", SecretStr("v2"))
        clock_of(reader).advance(CONFIG_TTL + 1)
        assert await read(reader) == "v1"  # no catalog: only the secret TTL tells
        clock_of(reader).advance(SECRET_TTL + 1)
        assert await read(reader) == "v2"
        assert reader.metrics.get("vault.revalidated") == 0

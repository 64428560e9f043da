"""The secret catalog from the first minute (issue: ask the vault only when something
changed): a deployment's first secret written through the admin API builds the catalog at
once, one instance at a time, so a cold instance reads each existing secret with one GET,
no listing of the vault and no 404 for the names it does not have."""

from __future__ import annotations

import asyncio

import pytest

from shared.admin.catalog_bootstrap import CLAIM_ROW, ensure_catalog
from shared.admin.catalog_sync import SecretCatalog
from shared.core.naming import GLOBAL
from shared.resolver import CatalogMissingHook, ConfigResolver, get_resolver, reset_resolver
from shared.settings import Settings
from tests.api.conftest import Api, Table, Vault
from tools.keyvault_emulator.control import EmulatorControl

pytestmark = pytest.mark.integration


async def test_a_cold_instance_makes_one_get_per_secret_it_reads_and_nothing_else(
    api: Api, settings: Settings, kv_control: EmulatorControl,
) -> None:
    for scope, name in (("GLOBAL", "shared-key"), ("acme", "smtp-password")):
        created = await api.call("secrets_create", json_body={
            "scope": scope, "name": name, "value": f"bootstrap-{name}-value"})
        assert created.status == 201
    for key, name in (("shared", "shared-key"), ("pwd", "smtp-password")):
        await api.call("config_put", route={"org": "acme", "key": key},
                       json_body={"type": "secret_ref", "value": name})
    async with ConfigResolver(settings) as cold:
        assert await SecretCatalog(cold).marker() is not None  # built on first use
        kv_control.reset_counters()
        ctx = cold.context("acme")
        assert await ctx.get_config("pwd") == "bootstrap-smtp-password-value"
        assert await ctx.get_config("shared") == "bootstrap-shared-key-value"
        counters = kv_control.counters()
    assert counters["operations"] == {"get_secret": 2}  # no listing, nothing else
    assert counters["statuses"] == {"200": 2}  # no 404 for acme--shared-key


async def test_one_instance_builds_while_another_holds_the_claim(
    api: Api, settings: Settings, table: Table, kv_control: EmulatorControl,
) -> None:
    async with ConfigResolver(settings) as a:
        await a.config_store.ensure_table()
        await table.client.create_entity({"PartitionKey": GLOBAL, "RowKey": CLAIM_ROW,
                                          "ClaimedAt": "2999-01-01T00:00:00+00:00"})
        await a.secret_store.vault_for(GLOBAL).client.set_secret("GLOBAL--k", "v")
        kv_control.reset_counters()
        assert await ensure_catalog(a) is False  # someone else is building it
        assert kv_control.count("list_secrets") == 0
        await table.client.delete_entity(GLOBAL, CLAIM_ROW)
        assert await ensure_catalog(a) is True
        assert await SecretCatalog(a).marker() is not None
        assert await ensure_catalog(a) is False  # built: nothing more to do
        assert [e async for e in table.client.query_entities(
            "RowKey eq @r", parameters={"r": CLAIM_ROW})] == []


async def test_a_stale_claim_is_taken_over(
    api: Api, settings: Settings, table: Table,
) -> None:
    async with ConfigResolver(settings) as a:
        await a.config_store.ensure_table()
        await table.client.create_entity({"PartitionKey": GLOBAL, "RowKey": CLAIM_ROW,
                                          "ClaimedAt": "2000-01-01T00:00:00+00:00"})
        assert await ensure_catalog(a) is True  # its builder died long ago


# -- the app's instances build it on their first use (function_app.py's wiring) ------------
async def _built(hook: CatalogMissingHook, resolver: ConfigResolver) -> None:
    """Wait for the build the hook started on ``resolver`` (if it is still running)."""
    work = hook(resolver)
    if work is not None:
        await work


async def test_a_cold_app_instance_reads_api_written_secrets_with_one_get_each(
    api: Api, catalog_on_start: CatalogMissingHook, kv_control: EmulatorControl,
) -> None:
    for scope, name in (("GLOBAL", "shared-key"), ("acme", "smtp-password")):
        created = await api.call("secrets_create", json_body={
            "scope": scope, "name": name, "value": f"start-{name}-value"})
        assert created.status == 201
    for key, name in (("shared", "shared-key"), ("pwd", "smtp-password")):
        await api.call("config_put", route={"org": "acme", "key": key},
                       json_body={"type": "secret_ref", "value": name})
    await reset_resolver()  # a cold instance of the same app
    kv_control.reset_counters()
    cold = get_resolver()
    assert cold.on_catalog_missing is catalog_on_start
    ctx = cold.context("acme")
    assert await ctx.get_config("pwd") == "start-smtp-password-value"
    assert await ctx.get_config("shared") == "start-shared-key-value"
    await asyncio.sleep(0.2)  # anything the first use might start in the background
    counters = kv_control.counters()
    assert counters["operations"] == {"get_secret": 2}  # no listing, nothing else
    assert counters["statuses"] == {"200": 2}  # no 404 for acme--shared-key
    assert counters["secrets"] == {"acme--smtp-password": {"get_secret": 1},
                                   "global--shared-key": {"get_secret": 1}}


async def test_secrets_written_outside_the_api_are_cataloged_at_the_first_start(
    api: Api, catalog_on_start: CatalogMissingHook, settings: Settings, table: Table,
    vault: Vault, kv_control: EmulatorControl,
) -> None:
    """A deployment whose vault was filled in the portal (no catalog, no event): its first
    instance builds the catalog on its first request, without waiting for the timer, and
    lists the vault once for it (its name index waits for the build)."""
    await vault.set("GLOBAL--shared-key", "portal-shared-value")
    await vault.set("acme--smtp-password", "portal-smtp-value")
    await table.seed(("acme", "pwd", "smtp-password", "secret_ref"),
                     ("acme", "shared", "shared-key", "secret_ref"), ("acme", "port", "25", "int"))
    kv_control.reset_counters()
    port = await api.call("config_get", route={"org": "acme", "key": "port"})
    assert port.status == 200  # the app's first request: GLOBAL has no marker
    first = get_resolver()
    ctx = first.context("acme")
    assert await ctx.get_config("pwd") == "portal-smtp-value"  # while the build runs
    await _built(catalog_on_start, first)
    marker = await SecretCatalog(first).marker()
    assert marker is not None and marker.secrets == 2
    assert first.metrics.get("catalog.reconciles") == 1
    assert kv_control.count("list_secrets") == 1  # the build's listing, no name index's
    assert [e async for e in table.client.query_entities(
        "RowKey eq @r", parameters={"r": CLAIM_ROW})] == []

    await reset_resolver()  # another instance, cold: the catalog answers
    kv_control.reset_counters()
    ctx = get_resolver().context("acme")
    assert await ctx.get_config("shared") == "portal-shared-value"
    assert await ctx.get_config("pwd") == "portal-smtp-value"
    counters = kv_control.counters()
    assert counters["operations"] == {"get_secret": 2}
    assert counters["statuses"] == {"200": 2}


async def test_instances_starting_together_build_the_catalog_once(
    api: Api, catalog_on_start: CatalogMissingHook, settings: Settings, vault: Vault,
    kv_control: EmulatorControl,
) -> None:
    await vault.set("GLOBAL--k", "together-value")
    kv_control.reset_counters()
    async with ConfigResolver(settings) as a, ConfigResolver(settings) as b, \
            ConfigResolver(settings) as c:
        for instance in (a, b, c):
            instance.on_catalog_missing = catalog_on_start
        await asyncio.gather(*(i.config_store.snapshot(GLOBAL) for i in (a, b, c)))
        await asyncio.gather(*(_built(catalog_on_start, i) for i in (a, b, c)))
        assert sum(i.metrics.get("catalog.reconciles") for i in (a, b, c)) == 1
        assert kv_control.count("list_secrets") == 1
        assert await SecretCatalog(a).marker() is not None


async def test_a_resolver_made_directly_does_not_build_it(
    api: Api, settings: Settings, vault: Vault, kv_control: EmulatorControl,
) -> None:
    """Only the app's process-wide resolver is wired (the CLI, tools and tests make their
    own: they build the catalog when they mean to)."""
    await vault.set("GLOBAL--k", "direct-value")
    async with ConfigResolver(settings) as direct:
        assert direct.on_catalog_missing is None
        await direct.config_store.snapshot(GLOBAL)
        await asyncio.sleep(0.2)
        assert await SecretCatalog(direct).marker() is None
    assert kv_control.count("list_secrets") == 0


async def test_a_failed_build_is_left_to_the_timer_and_the_name_index_takes_over(
    api: Api, catalog_on_start: CatalogMissingHook, table: Table, vault: Vault,
    kv_control: EmulatorControl, caplog: pytest.LogCaptureFixture,
) -> None:
    await vault.set("GLOBAL--shared-key", "fallback-shared-value")
    await table.seed(("acme", "shared", "shared-key", "secret_ref"), ("acme", "n", "1", "int"))
    kv_control.reset_counters()
    kv_control.fail_next(1, 403, operation="list_secrets")  # no list permission, this once
    first = get_resolver()
    ctx = first.context("acme")
    assert await ctx.get_config("n") == 1
    await _built(catalog_on_start, first)
    assert await SecretCatalog(first).marker() is None
    assert "could not build the secret catalog now" in caplog.text
    assert [e async for e in table.client.query_entities(
        "RowKey eq @r", parameters={"r": CLAIM_ROW})] == []  # released for the next try
    index = first.secret_store.index
    assert index is not None
    index.may_exist("acme--shared-key")  # the build is over: the index lists again
    await index.ready()
    assert await ctx.get_config("shared") == "fallback-shared-value"
    counters = kv_control.counters()
    assert counters["operations"] == {"list_secrets": 2, "get_secret": 1}
    assert counters["statuses"] == {"403": 1, "200": 2}  # no 404 for acme--shared-key


async def test_a_hook_that_fails_never_fails_the_read_that_noticed(
    api: Api, settings: Settings, table: Table, caplog: pytest.LogCaptureFixture,
) -> None:
    await table.seed(("GLOBAL", "n", "7", "int"))
    calls: list[ConfigResolver] = []

    def broken(resolver: ConfigResolver) -> None:
        calls.append(resolver)
        raise RuntimeError("a bug in the hook")

    async with ConfigResolver(settings) as instance:
        instance.on_catalog_missing = broken
        assert await instance.context("acme").get_config("n") == 7
        instance.invalidate()
        assert await instance.context("acme").get_config("n") == 7
    assert calls == [instance]  # once per resolver
    assert "could not start building the secret catalog (RuntimeError)" in caplog.text

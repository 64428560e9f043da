"""The secret catalog from the first minute (issue: ask the vault only when something
changed): a deployment's first secret written through the admin API builds the catalog at
once, one instance at a time, so a cold instance reads each existing secret with one GET,
no listing of the vault and no 404 for the names it does not have."""

from __future__ import annotations

import pytest

from shared.admin.catalog_bootstrap import CLAIM_ROW, ensure_catalog
from shared.admin.catalog_sync import SecretCatalog
from shared.core.naming import GLOBAL
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tests.api.conftest import Api, Table
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

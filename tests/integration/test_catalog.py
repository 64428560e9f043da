"""The secret catalog against Azurite and the emulator: what it costs the resolver, how
each writer keeps it true, and that it never shows up as config."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.data.tables.aio import TableClient
from azure.keyvault.secrets.aio import SecretClient
from pydantic import SecretStr

from shared.admin.catalog_sync import SecretCatalog
from shared.admin.secret_admin import SecretAdmin
from shared.backends import catalog
from shared.cli.main import run
from shared.errors import InvalidNameError, SecretNotFoundError
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tests.cli_io import Pipe, settings_env
from tools.keyvault_emulator.control import EmulatorControl
from tools.services import Azurite, free_port

pytestmark = pytest.mark.integration
Seed = Callable[..., Any]
VALUE = "catalog-canary-Zq81"


async def reconcile(resolver: ConfigResolver) -> Any:
    return await SecretCatalog(resolver).reconcile()


async def catalog_rows(settings: Settings) -> dict[tuple[str, str], dict[str, Any]]:
    assert settings.storage_connection is not None
    async with TableClient.from_connection_string(settings.storage_connection,
                                                  settings.table_name) as table:
        return {(e["PartitionKey"], e["RowKey"]): dict(e) async for e in table.list_entities()
                if str(e["RowKey"]).startswith("~")}


def vault_reads(control: EmulatorControl) -> dict[str, int]:
    ops = control.counters()["operations"]
    return {op: n for op, n in ops.items() if op in ("get_secret", "list_secrets") and n}


# -- the cost of a cold resolve ---------------------------------------------------------------
async def test_cold_resolve_of_an_existing_org_secret_is_exactly_one_get(
    make_resolver: Callable[..., ConfigResolver], vault: SecretClient, seed: Seed,
    resolver: ConfigResolver, kv_control: EmulatorControl,
) -> None:
    await vault.set_secret("acme--smtp-password", "org-value")
    await vault.set_secret("GLOBAL--smtp-password", "global-value")
    await seed(("GLOBAL", "smtp_password", "smtp-password", "secret_ref"))
    await reconcile(resolver)
    kv_control.reset_counters()
    async with make_resolver() as cold:
        assert await cold.context("acme").get_config("smtp_password") == "org-value"
    assert vault_reads(kv_control) == {"get_secret": 1}
    assert kv_control.count("get_secret", "acme--smtp-password") == 1


async def test_an_org_reading_a_global_only_secret_asks_nothing_for_its_own_name(
    make_resolver: Callable[..., ConfigResolver], vault: SecretClient, seed: Seed,
    resolver: ConfigResolver, kv_control: EmulatorControl,
) -> None:
    await vault.set_secret("GLOBAL--psa-api-key", "global-value")
    await seed(("GLOBAL", "psa_api_key", "psa-api-key", "secret_ref"))
    await reconcile(resolver)
    kv_control.reset_counters()
    async with make_resolver() as cold:
        for org in ("acme", "contoso", "fabrikam"):
            assert await cold.context(org).get_config("psa_api_key") == "global-value"
        assert cold.metrics.get("vault.catalog_absent") == 3
    assert vault_reads(kv_control) == {"get_secret": 1}  # GLOBAL's, shared by the three
    assert kv_control.counters()["statuses"].get("404", 0) == 0


async def test_a_secret_in_no_scope_is_not_found_without_a_vault_request(
    resolver: ConfigResolver, seed: Seed, kv_control: EmulatorControl
) -> None:
    await seed(("acme", "token", "missing-token", "secret_ref"))
    await reconcile(resolver)
    kv_control.reset_counters()
    with pytest.raises(SecretNotFoundError):
        await resolver.context("acme").get_config("token")
    assert vault_reads(kv_control) == {}


# -- no catalog yet: today's behaviour -------------------------------------------------------
async def test_without_a_reconcile_the_resolver_keeps_the_name_index(
    resolver: ConfigResolver, vault: SecretClient, seed: Seed, kv_control: EmulatorControl
) -> None:
    await vault.set_secret("GLOBAL--psa-api-key", "global-value")
    await seed(("GLOBAL", "psa_api_key", "psa-api-key", "secret_ref"))
    ctx = resolver.context("acme")
    assert await ctx.get_config("psa_api_key") == "global-value"
    assert resolver.config_store.catalog_presence("acme", "psa-api-key") is None
    assert resolver.metrics.get("vault.catalog_absent") == 0
    assert kv_control.count("get_secret", "acme--psa-api-key") == 1  # the 404 of old
    index = resolver.secret_store.index
    assert index is not None
    await index.ready()
    assert kv_control.count("list_secrets") >= 1
    assert "no reconcile yet" in str((await ctx.explain("psa_api_key")).catalog)


async def test_the_first_reconcile_switches_a_warm_instance_to_the_catalog(
    make_resolver: Callable[..., ConfigResolver], vault: SecretClient, seed: Seed,
    kv_control: EmulatorControl,
) -> None:
    await vault.set_secret("GLOBAL--psa-api-key", "global-value")
    await seed(("GLOBAL", "psa_api_key", "psa-api-key", "secret_ref"))
    async with make_resolver(coherence_check_seconds=0.1) as warm, make_resolver() as admin:
        assert await warm.context("acme").get_config("psa_api_key") == "global-value"
        await reconcile(admin)
        await _eventually(lambda: warm.config_store.snapshots.peek("GLOBAL") is None)
        await warm.context("acme").get_config("psa_api_key")
        assert warm.config_store.catalog_presence("acme", "psa-api-key") is False
        assert warm.config_store.catalog_presence("GLOBAL", "psa-api-key") is True


async def _eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


# -- drift -----------------------------------------------------------------------------------
async def test_a_listed_secret_missing_from_the_vault_falls_back_and_counts_drift(
    resolver: ConfigResolver, vault: SecretClient, seed: Seed,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await vault.set_secret("acme--smtp-password", "org-value")
    await vault.set_secret("GLOBAL--smtp-password", "global-value")
    await seed(("GLOBAL", "smtp_password", "smtp-password", "secret_ref"))
    await reconcile(resolver)
    poller = await vault.delete_secret("acme--smtp-password")  # behind the catalog's back
    assert poller is not None
    caplog.set_level(logging.WARNING, logger="orgconfig")
    assert await resolver.context("acme").get_config("smtp_password") == "global-value"
    assert resolver.metrics.get("catalog.drift") == 1
    warnings = [r.getMessage() for r in caplog.records if "catalog lists" in r.getMessage()]
    assert len(warnings) == 1 and "acme--smtp-password" in warnings[0]
    assert not [r for r in caplog.records if "value" in r.getMessage() and
                ("org-value" in r.getMessage() or "global-value" in r.getMessage())]


# -- reconcile -------------------------------------------------------------------------------
async def test_reconcile_adds_a_row_per_vault_secret_and_writes_the_marker(
    resolver: ConfigResolver, vault: SecretClient, settings: Settings
) -> None:
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=90)
    await vault.set_secret("acme--smtp-password", VALUE, expires_on=expires)
    await vault.set_secret("GLOBAL--Psa-Api-Key", VALUE)
    await vault.set_secret("not-an-orgconfig-name", VALUE)
    report = await reconcile(resolver)
    assert report.first and report.listed == 2
    assert report.added == ["GLOBAL--Psa-Api-Key", "acme--smtp-password"]
    rows = await catalog_rows(settings)
    assert set(rows) == {("acme", "~secret~smtp-password"), ("GLOBAL", "~secret~psa-api-key"),
                         ("GLOBAL", "~catalog")}
    assert rows[("GLOBAL", "~secret~psa-api-key")]["Name"] == "Psa-Api-Key"
    assert rows[("acme", "~secret~smtp-password")]["ExpiresOn"] == expires
    assert rows[("GLOBAL", "~catalog")]["Secrets"] == 2


async def test_catalog_rows_hold_no_value(
    resolver: ConfigResolver, vault: SecretClient, settings: Settings
) -> None:
    await vault.set_secret("acme--smtp-password", VALUE)
    await SecretAdmin(resolver).put("GLOBAL", "smtp-password", SecretStr(VALUE))
    await reconcile(resolver)
    for row in (await catalog_rows(settings)).values():
        assert "Value" not in row and VALUE not in repr(row)


async def test_reconcile_removes_rows_of_secrets_gone_from_the_vault(
    resolver: ConfigResolver, vault: SecretClient, settings: Settings
) -> None:
    await vault.set_secret("acme--old", VALUE)
    await vault.set_secret("acme--kept", VALUE)
    await reconcile(resolver)
    await vault.delete_secret("acme--old")
    report = await reconcile(resolver)
    assert (report.first, report.removed, report.added) == (False, ["acme--old"], [])
    assert ("acme", "~secret~old") not in await catalog_rows(settings)
    assert ("acme", "~secret~kept") in await catalog_rows(settings)


async def test_reconcile_repairs_changed_metadata_and_leaves_the_rest(
    resolver: ConfigResolver, vault: SecretClient, settings: Settings
) -> None:
    await vault.set_secret("acme--a", VALUE)
    await vault.set_secret("acme--b", VALUE)
    await reconcile(resolver)
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    await vault.update_secret_properties("acme--a", expires_on=later, enabled=False)
    report = await reconcile(resolver)
    assert (report.updated, report.added, report.removed) == (["acme--a"], [], [])
    row = (await catalog_rows(settings))[("acme", "~secret~a")]
    assert (row["ExpiresOn"], row["Enabled"]) == (later, False)
    assert (await reconcile(resolver)).drift == 0


async def test_reconcile_from_the_cli_reports_what_it_repaired(
    settings: Settings, vault: SecretClient, kv_control: EmulatorControl
) -> None:
    await vault.set_secret("acme--smtp-password", VALUE)
    env = settings_env(settings)
    out = io.StringIO()
    code = await run(["doctor"], out=out, env=env)
    assert code == 0 and "secret catalog: absent" in out.getvalue()
    out = io.StringIO()
    assert await run(["catalog", "reconcile"], out=out, env=env) == 0
    assert "added 1" in out.getvalue() and "added acme--smtp-password" in out.getvalue()
    assert "first reconcile" in out.getvalue() and VALUE not in out.getvalue()
    assert kv_control.count("get_secret") == 0  # metadata only
    out = io.StringIO()
    assert await run(["doctor"], out=out, env=env) == 0
    assert "secret catalog: in use (1 secrets" in out.getvalue()


# -- every admin path keeps the catalog ------------------------------------------------------
async def test_admin_create_update_delete_recover_keep_the_row(
    resolver: ConfigResolver, settings: Settings
) -> None:
    admin = SecretAdmin(resolver)
    row = ("acme", "~secret~smtp-password")
    await admin.create("acme", "smtp-password", SecretStr(VALUE))
    first = (await catalog_rows(settings))[row]
    assert first["Name"] == "smtp-password" and first["Enabled"] is True
    await admin.update("acme", "smtp-password", SecretStr(VALUE + "2"))
    assert (await catalog_rows(settings))[row]["UpdatedOn"] >= first["UpdatedOn"]
    await admin.delete("acme", "smtp-password")
    assert row not in await catalog_rows(settings)
    await admin.recover("acme", "smtp-password")
    assert row in await catalog_rows(settings)


async def test_the_cli_secret_set_writes_the_row(settings: Settings) -> None:
    env = settings_env(settings)
    out = io.StringIO()
    assert await run(["secret", "set", "GLOBAL", "smtp-password"], out=out,
                     stdin=Pipe(VALUE), env=env) == 0
    assert ("GLOBAL", "~secret~smtp-password") in await catalog_rows(settings)


async def test_an_admin_write_is_seen_by_a_warm_instance_in_catalog_mode(
    make_resolver: Callable[..., ConfigResolver], seed: Seed, resolver: ConfigResolver,
    vault: SecretClient,
) -> None:
    await vault.set_secret("GLOBAL--smtp-password", "global-value")
    await seed(("GLOBAL", "smtp_password", "smtp-password", "secret_ref"))
    await reconcile(resolver)
    async with make_resolver(coherence_check_seconds=0.1) as warm, make_resolver() as admin:
        ctx = warm.context("acme")
        assert await ctx.get_config("smtp_password") == "global-value"
        await SecretAdmin(admin).create("acme", "smtp-password", SecretStr("org-value"))
        await admin.notify_change("acme", secret="smtp-password")
        await _eventually(lambda: warm.config_store.snapshots.peek("acme") is None)
        assert await ctx.get_config("smtp_password") == "org-value"


# -- invisible as config ---------------------------------------------------------------------
def test_a_catalog_row_key_can_never_be_a_config_key() -> None:
    for row in (catalog.record_row_key("smtp-password"), catalog.MARKER_ROW):
        assert catalog.is_catalog_row(row)
        with pytest.raises(InvalidNameError):
            from shared.core.naming import validate_config_key

            validate_config_key(row)
        assert not set(row) & set("/\\#?") and row.isprintable()


async def test_catalog_rows_are_not_config_entries(
    resolver: ConfigResolver, vault: SecretClient, seed: Seed, settings: Settings
) -> None:
    await vault.set_secret("acme--smtp-password", VALUE)
    await seed(("acme", "smtp_host", "mail.acme"),
               ("acme", "smtp_password", "smtp-password", "secret_ref"))
    await reconcile(resolver)
    snapshot = await resolver.config_store.read_partition("acme")
    assert set(snapshot.entries) == {"smtp_host", "smtp_password"}
    assert set(snapshot.secrets) == {"smtp-password"}
    env = {"CONFIG_STORAGE_CONNECTION": settings.storage_connection or "",
           "CONFIG_TABLE_NAME": settings.table_name}
    out = io.StringIO()
    assert await run(["list", "acme"], out=out, env=env) == 0
    assert "~" not in out.getvalue() and "2 entries" in out.getvalue()
    explained = await resolver.context("acme").explain("smtp_password")
    assert explained.source == "keyvault:acme--smtp-password"
    assert "acme--smtp-password listed" in str(explained.catalog)
    assert "portal" in str(explained.catalog)


async def test_a_global_only_secret_answered_by_the_catalog_is_memoized_when_warm(
    resolver: ConfigResolver, vault: SecretClient, seed: Seed, kv_control: EmulatorControl
) -> None:
    await vault.set_secret("GLOBAL--psa-api-key", "global-value")
    await seed(("GLOBAL", "psa_api_key", "psa-api-key", "secret_ref"))
    await reconcile(resolver)
    ctx = resolver.context("acme")
    for _ in range(2):  # the cold read stores snapshots; the next one builds the memo
        assert await ctx.get_config("psa_api_key") == "global-value"
    for _ in range(5):
        assert await ctx.get_config("psa_api_key") == "global-value"
    metrics = resolver.metrics.snapshot()
    assert metrics.get("answer.memo_hit") == 5
    assert metrics.get("vault.catalog_absent") == 7  # exact, memo hits included


async def test_a_failed_catalog_write_keeps_the_vault_write_and_is_counted(
    settings: Settings, azurite: Azurite, caplog: pytest.LogCaptureFixture
) -> None:
    from dataclasses import replace

    nothing_there = azurite.endpoint.replace(f":{azurite.port}/", f":{free_port()}/")
    unreachable = azurite.connection_string.replace(azurite.endpoint, nothing_there)
    caplog.set_level(logging.WARNING, logger="orgconfig.catalog")
    async with ConfigResolver(replace(settings, storage_connection=unreachable,
                                      backend_timeout=1)) as resolver:
        info = await SecretAdmin(resolver).put("acme", "smtp-password", SecretStr(VALUE))
        assert info.vault_name == "acme--smtp-password"
        assert resolver.metrics.get("catalog.write_failed") == 1
    assert any("next reconcile repairs it" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if VALUE in r.getMessage()]

"""Key Vault dates a catalog row cannot hold (year 0089, set in the portal or by another
tool): the catalog never writes a row it cannot read back, and a row it cannot read (even
one written by hand) never breaks a read. Azurite and the emulator."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.core.rest import HttpRequest
from azure.data.tables.aio import TableClient
from azure.keyvault.secrets.aio import SecretClient

from shared.admin.catalog_sync import SecretCatalog
from shared.admin.events import configured_vaults, handle_keyvault_event
from shared.backends import catalog
from shared.resolver import ConfigResolver
from shared.settings import Settings

Seed = Callable[..., Any]

pytestmark = pytest.mark.integration
VALUE = "odd-date-canary-Vb52"
NEW = "Microsoft.KeyVault.SecretNewVersionCreated"
YEAR_89 = datetime(89, 1, 1, tzinfo=UTC)


async def write_row_by_hand(settings: Settings, entity: dict[str, object]) -> None:
    """What an older catalog wrote for a year-0089 expiry: the SDK sends "89-01-01T..."."""
    assert settings.storage_connection is not None
    async with TableClient.from_connection_string(settings.storage_connection,
                                                  settings.table_name) as table:
        await table.upsert_entity(entity)


async def set_far_expiry(vault: SecretClient, name: str) -> None:
    """Expiry 10000-01-01: no datetime can say it, so it is set over REST; the SDK then
    hands back the bare number for ``expires_on``."""
    response = await vault.send_request(HttpRequest(
        "PUT", f"secrets/{name}", params={"api-version": "7.4"},
        json={"value": VALUE, "attributes": {"exp": 253402300800}}))
    assert response.status_code == 200


@pytest.mark.parametrize("expires_on", [YEAR_89, datetime(1600, 12, 31, tzinfo=UTC)],
                         ids=["year-0089", "before-1601"])
async def test_reconcile_records_an_expiry_the_table_cannot_hold_as_unknown(
    resolver: ConfigResolver, vault: SecretClient, expires_on: datetime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    await vault.set_secret("acme--odd", VALUE, expires_on=expires_on)
    cat = SecretCatalog(resolver)
    await cat.reconcile()
    assert (await cat.read_all())[("acme", "odd")].expires_on is None
    assert (await cat.reconcile()).drift == 0
    assert resolver.metrics.get("catalog.unstorable_dates") >= 1
    assert any("acme--odd" in r.getMessage() for r in caplog.records)
    assert VALUE not in caplog.text


async def test_reconcile_records_an_expiry_past_year_9999_as_unknown(
    resolver: ConfigResolver, vault: SecretClient
) -> None:
    await set_far_expiry(vault, "acme--far")
    cat = SecretCatalog(resolver)
    await cat.reconcile()
    assert (await cat.read_all())[("acme", "far")].expires_on is None
    assert resolver.metrics.get("catalog.unstorable_dates") >= 1


async def test_a_secret_with_an_expiry_past_year_9999_resolves(
    resolver: ConfigResolver, vault: SecretClient, seed: Seed
) -> None:
    await set_far_expiry(vault, "acme--far")
    await seed(("acme", "far_ref", "far", "secret_ref"))
    assert await resolver.context("acme").get_config("far_ref") == VALUE


async def test_an_expiry_of_year_9999_is_kept(
    resolver: ConfigResolver, vault: SecretClient
) -> None:
    late = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    await vault.set_secret("acme--late", VALUE, expires_on=late)
    await SecretCatalog(resolver).reconcile()
    assert (await SecretCatalog(resolver).read_all())[("acme", "late")].expires_on == late


async def test_an_event_for_a_secret_with_a_year_89_expiry_writes_a_readable_row(
    resolver: ConfigResolver, vault: SecretClient, settings: Settings
) -> None:
    await vault.set_secret("acme--odd", VALUE, expires_on=YEAR_89)
    await handle_keyvault_event(resolver, NEW, "acme--odd", {
        "ObjectName": "acme--odd", "VaultName": next(iter(configured_vaults(settings)))})
    assert ("acme", "odd") in await SecretCatalog(resolver).read_all()


async def test_an_unreadable_row_written_by_hand_is_read_as_an_unknown_date(
    resolver: ConfigResolver, vault: SecretClient, settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await vault.set_secret("acme--odd", VALUE)
    await vault.set_secret("acme--fine", VALUE)
    cat = SecretCatalog(resolver)
    await cat.reconcile()
    await write_row_by_hand(settings, {
        "PartitionKey": "acme", "RowKey": catalog.record_row_key("odd"), "Name": "odd",
        "Enabled": True, "ExpiresOn": YEAR_89})
    caplog.set_level(logging.WARNING)
    rows = await cat.read_all()
    assert rows[("acme", "odd")].expires_on is None
    assert rows[("acme", "fine")].updated_on is not None  # the other rows keep their dates
    assert await cat.expiring() == []
    snapshot = await resolver.config_store.read_partition("acme")
    assert set(snapshot.secrets) == {"odd", "fine"}
    assert resolver.metrics.get("catalog.unreadable_dates") >= 1
    assert any("acme--odd" in r.getMessage() for r in caplog.records)
    assert VALUE not in caplog.text


async def test_a_reconcile_rewrites_an_unreadable_row(
    resolver: ConfigResolver, vault: SecretClient, settings: Settings
) -> None:
    await vault.set_secret("acme--odd", VALUE)
    cat = SecretCatalog(resolver)
    await cat.reconcile()
    await write_row_by_hand(settings, {
        "PartitionKey": "acme", "RowKey": catalog.record_row_key("odd"), "Name": "odd",
        "Enabled": True, "UpdatedOn": YEAR_89})
    assert (await cat.reconcile()).updated == ["acme--odd"]
    assert (await cat.read_all())[("acme", "odd")].unreadable == ()


async def test_explain_and_resolve_read_past_an_unreadable_row(
    resolver: ConfigResolver, vault: SecretClient, settings: Settings, seed: Seed
) -> None:
    await vault.set_secret("acme--odd", VALUE)
    await seed(("acme", "odd_ref", "odd", "secret_ref"))
    await SecretCatalog(resolver).reconcile()
    await write_row_by_hand(settings, {
        "PartitionKey": "acme", "RowKey": catalog.record_row_key("odd"), "Name": "odd",
        "Enabled": True, "ExpiresOn": YEAR_89})
    await write_row_by_hand(settings, {
        "PartitionKey": "GLOBAL", "RowKey": catalog.MARKER_ROW, "ReconciledAt": YEAR_89,
        "Secrets": 1})
    resolver.config_store.snapshots.clear()
    ctx = resolver.context("acme")
    assert (await ctx.explain("odd_ref")).source == "keyvault:acme--odd"
    assert await ctx.get_config("odd_ref") == VALUE
    marker = await SecretCatalog(resolver).marker()
    assert marker is not None and marker.reconciled_at is None

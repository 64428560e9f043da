"""The config table and the vault as they are, read directly through the Azure SDKs."""

from __future__ import annotations

from dataclasses import dataclass

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables.aio import TableClient

from shared.backends.catalog import is_catalog_row
from shared.backends.org_registry import PARTITION as REGISTRY_PARTITION
from shared.backends.vault_clients import LocalDevelopmentCredential, make_secret_client
from shared.read.coherence import SENTINEL_PARTITION
from shared.settings import Settings


@dataclass(frozen=True)
class StoreState:
    """Config entries ``(scope, key) -> (value, type)``; active and soft-deleted secrets
    ``vault name (lower-case) -> number of versions``."""

    table: dict[tuple[str, str], tuple[str, str]]
    active: dict[str, int]
    deleted: dict[str, int]


async def read_state(settings: Settings) -> StoreState:
    assert settings.storage_connection is not None
    table: dict[tuple[str, str], tuple[str, str]] = {}
    client = TableClient.from_connection_string(settings.storage_connection, settings.table_name)
    async with client:
        try:
            # Config entries only: not the change log, not the org registry (bookkeeping
            # partitions), not the secret catalog's or the history's rows.
            async for e in client.list_entities(
                    select=["PartitionKey", "RowKey", "Value", "Type"]):
                if e["PartitionKey"] not in (SENTINEL_PARTITION, REGISTRY_PARTITION) and \
                        not is_catalog_row(e["RowKey"]):
                    table[(e["PartitionKey"], e["RowKey"])] = (str(e.get("Value")),
                                                               str(e.get("Type")))
        except ResourceNotFoundError:
            pass
    active: dict[str, int] = {}
    deleted: dict[str, int] = {}
    vault = make_secret_client(settings, LocalDevelopmentCredential())
    async with vault:
        async for secret in vault.list_properties_of_secrets():
            name = secret.name or ""
            active[name.lower()] = len(
                [v async for v in vault.list_properties_of_secret_versions(name)])
        async for gone in vault.list_deleted_secrets():
            deleted[(gone.name or "").lower()] = -1  # versions of a deleted secret: not listed
    return StoreState(table, active, deleted)

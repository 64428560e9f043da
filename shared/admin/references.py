"""The config entries an org sees, and those that reference a secret: read from the table
each time (no cache), for the admin side's answers about references."""

from __future__ import annotations

from typing import TYPE_CHECKING

from azure.core.exceptions import ResourceNotFoundError

from shared.backends.config_rows import entry_from_entity
from shared.core.naming import GLOBAL, canonical_scope
from shared.core.values import ConfigEntry

if TYPE_CHECKING:
    from shared.resolver import ConfigResolver


async def config_references(resolver: ConfigResolver, scope: str, name: str) -> list[ConfigEntry]:
    """The ``secret_ref`` entries that may resolve to secret ``name`` of ``scope``.

    For an org: its entries and the GLOBAL entries it does not override (the chain tries
    the org's secret first). For GLOBAL: every ``secret_ref`` entry naming it, in any
    partition, since any org without its own secret falls back to GLOBAL's.
    """
    scope = canonical_scope(scope)
    if scope != GLOBAL:
        return [e for e in (await effective_entries(resolver, scope)).values()
                if e.is_secret_ref and e.value.lower() == name.lower()]
    return [e for e in await _all_secret_refs(resolver) if e.value.lower() == name.lower()]


async def effective_entries(resolver: ConfigResolver, org_id: str) -> dict[str, ConfigEntry]:
    """The entries an org sees (its own over GLOBAL's), read from the table (no cache)."""
    store = resolver.config_store
    glob = await store.read_partition(GLOBAL)
    own = await store.read_partition(org_id) if org_id != GLOBAL else glob
    return {**glob.entries, **own.entries}


async def _all_secret_refs(resolver: ConfigResolver) -> list[ConfigEntry]:
    store = resolver.config_store

    async def query() -> list[ConfigEntry]:
        pager = store.client.query_entities(
            "Type eq @type", parameters={"type": "secret_ref"},
            select=["PartitionKey", "RowKey", "Value", "Type"],
        )
        try:
            return [entry_from_entity(entity) async for entity in pager]
        except ResourceNotFoundError:
            return []  # no table yet: no entries

    return await store.call("a query of secret references", query)

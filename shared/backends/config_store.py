"""Config entries in Azure Table Storage (azure-data-tables aio).

Reads load a whole partition (an org, or GLOBAL) as one immutable
:class:`ConfigSnapshot`, cached per process with a TTL. Every query is
parameterized. Writes use ETags for optimistic concurrency; batches are capped
at 100 operations, the service's transaction limit (Azurite answers a larger one
with a malformed response).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.backends import catalog, history
from shared.backends.catalog import CatalogMarker, CatalogRecord
from shared.backends.config_rows import (
    SELECT,
    ConfigSnapshot,
    entity_from_entry,
    entry_from_entity,
    is_scope,
)
from shared.backends.table_calls import BACKEND, table_call
from shared.core import telemetry
from shared.core.breaker import CircuitBreaker
from shared.core.cache import ExpiringCache, Lookup, RateLimitedWarning, StaleReporter
from shared.core.metrics import Metrics
from shared.core.naming import GLOBAL, canonical_scope, validate_config_key
from shared.core.values import ConfigEntry
from shared.settings import Settings

log = logging.getLogger("orgconfig.config_store")
T = TypeVar("T")

MAX_BATCH = 100
#: a snapshot reload: one partition's entries and catalog rows, stopping before its history
SNAPSHOT_FILTER = "PartitionKey eq @pk and RowKey lt @end"
class ConfigStore:
    """Reads and writes the Config table. Create one per resolver; close with ``aclose``."""

    def __init__(
        self,
        settings: Settings,
        metrics: Metrics,
        client_factory: Callable[[], TableClient],
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self._client_factory = client_factory
        self._client: TableClient | None = None
        self._table_ready = False
        self.snapshots: ExpiringCache[str, ConfigSnapshot] = ExpiringCache(
            max_stale=settings.max_stale_seconds,
            on_stale=StaleReporter(metrics, "config.stale_refresh_failed", "config snapshot", log),
        )
        self.breaker = CircuitBreaker(
            "table", BACKEND, metrics,
            threshold=settings.breaker_threshold, cooldown=settings.breaker_cooldown,
        )
        self._seq = 0
        self.unreadable_log = RateLimitedWarning(log, "catalog_unreadable_date")
        self._catalog_on = False
        self._last_without_catalog = 0
        self._catalog_since = 0
        #: called with each snapshot loaded while the catalog is trusted (the resolver
        #: hands its catalog rows to the secret store: revalidation by version)
        self.on_catalog: Callable[[ConfigSnapshot], None] | None = None
        #: called after each GLOBAL snapshot loaded without the catalog marker (the resolver
        #: starts the catalog's first build there, once: see ``ConfigResolver``)
        self.on_catalog_missing: Callable[[], None] | None = None

    # -- client -------------------------------------------------------------------------
    @property
    def client(self) -> TableClient:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    async def aclose(self) -> None:
        await self.snapshots.aclose()
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def call(self, what: str, op: Callable[[], Awaitable[T]], *,
                   time_limit: float | None = None, write: bool = False,
                   operation: str | None = None) -> T:
        """One backend call through the circuit breaker, bounded by BACKEND_TIMEOUT_SECONDS
        (or ``time_limit``: a whole-table scan of the catalog reconcile takes longer). A
        ``write`` is not cancelled at the bound: :class:`WriteOutcomeUnknownError` carries
        it, still running (:mod:`shared.core.late`). ``operation``: the call's name in the
        ``orgconfig.backend.duration`` histogram (default ``read`` or ``write``)."""
        kind = operation or ("write" if write else "read")
        return await self.breaker.call(
            lambda: self._call_mapped(what, op, time_limit, write, kind))

    async def _call_mapped(self, what: str, op: Callable[[], Awaitable[T]],
                           time_limit: float | None = None, write: bool = False,
                           operation: str = "read") -> T:
        self.metrics.incr("table.calls")
        limit = self.settings.backend_timeout if time_limit is None else time_limit
        with telemetry.timed("table", operation):
            return await table_call(what, op, limit, write=write, metrics=self.metrics)

    # -- reads --------------------------------------------------------------------------
    async def read_partition(self, scope: str) -> ConfigSnapshot:
        """Query one partition from the service (no cache)."""
        scope = canonical_scope(scope)

        async def query() -> ConfigSnapshot:
            self._seq += 1
            seq = self._seq
            entries: dict[str, ConfigEntry] = {}
            secrets: dict[str, CatalogRecord] = {}
            marker: CatalogMarker | None = None
            try:
                # history rows sort after everything a snapshot holds: never fetched here
                found = await self.query_rows(
                    SNAPSHOT_FILTER, {"pk": scope, "end": history.BOOKKEEPING_END}, SELECT)
            except ResourceNotFoundError:
                log.warning("table %s does not exist yet: no entries", self.settings.table_name)
                found = []
            for entity in found:
                if not catalog.is_catalog_row(str(entity["RowKey"])):
                    entry = entry_from_entity(entity)
                    entries[entry.key] = entry
                elif (record := self.catalog_record(entity)) is not None:
                    secrets[record.name.lower()] = record
                else:
                    marker = catalog.marker_from_entity(entity) or marker
            return ConfigSnapshot(scope, entries, secrets, marker, seq)

        self.metrics.incr("table.queries")
        with telemetry.span("orgconfig.table.query", {telemetry.SCOPE_ATTR: scope}) as span:
            snapshot = await self.call(f"a query of partition {scope}", query,
                                       operation="query")
            span.set_attribute(telemetry.ROWS, len(snapshot.entries) + len(snapshot.secrets))
            return snapshot

    async def query_rows(self, query_filter: str, parameters: dict[str, Any],
                         select: list[str]) -> Sequence[Mapping[str, Any]]:
        """The entities of a query. The SDK parses Edm.DateTime properties while it reads a
        page, and one value it cannot parse (a year 0089 written unpadded, by an older
        catalog or by hand) fails the whole page: then read the rows again without their
        dates, and each row's dates by a point read, :data:`catalog.UNREADABLE` for a row
        whose dates still fail (the catalog takes them as unknown; a reconcile rewrites
        them). Raises ResourceNotFoundError when there is no table."""
        try:
            return [entity async for entity in self.client.query_entities(
                query_filter, parameters=parameters, select=select)]
        except ValueError:
            self.metrics.incr("table.unparsable_pages")
        dates = [c for c in select if c in catalog.DATE_COLUMNS]
        rows: list[dict[str, Any]] = [dict(entity) async for entity in self.client.query_entities(
            query_filter, parameters=parameters,
            select=[c for c in select if c not in catalog.DATE_COLUMNS])]
        for row in rows:
            if not catalog.is_catalog_row(str(row["RowKey"])):
                continue  # config entries hold no Edm.DateTime
            try:
                dated = await self.client.get_entity(row["PartitionKey"], row["RowKey"],
                                                     select=dates)
            except ValueError:
                row.update(dict.fromkeys(dates, catalog.UNREADABLE))
            except ResourceNotFoundError:
                continue  # deleted meanwhile: its dates are unknown
            else:
                row.update({c: dated.get(c) for c in dates})
        return rows

    def catalog_record(self, entity: Mapping[str, Any]) -> CatalogRecord | None:
        """A secret row as a record (:func:`catalog.record_from_entity`); an unreadable date
        is taken as unknown, logged (the secret's name, never a value) and counted."""
        record = catalog.record_from_entity(entity)
        if record is not None and record.unreadable:
            self.metrics.incr("catalog.unreadable_dates")
            self.unreadable_log(
                record.vault_name, "the catalog row of %s has an unreadable %s: taken as "
                "unknown until the next reconcile rewrites it", record.vault_name,
                ", ".join(record.unreadable))
        return record

    async def snapshot(self, scope: str) -> Lookup[ConfigSnapshot]:
        """The cached snapshot of a partition, loaded on a miss (single-flight)."""

        async def load() -> tuple[ConfigSnapshot, float]:
            snapshot = await self.read_partition(scope)
            if snapshot.scope == GLOBAL:
                self._note_catalog(snapshot)
                if snapshot.marker is None and self.on_catalog_missing is not None:
                    self.on_catalog_missing()
            if self.on_catalog is not None and self._catalog_on and \
                    snapshot.seq >= self._catalog_since:
                self.on_catalog(snapshot)  # the secret store drops what changed
            return snapshot, self.settings.config_cache_ttl

        lookup = await self.snapshots.get(scope, load)
        self.metrics.incr("config.cache_hit" if lookup.hit else "config.cache_miss")
        if lookup.stale:
            self.metrics.incr("config.stale_served")
        return lookup

    # -- the secret catalog -------------------------------------------------------------
    def _note_catalog(self, glob: ConfigSnapshot) -> None:
        """Follow the catalog marker in GLOBAL. An org snapshot whose query started before
        this process last saw GLOBAL without the marker predates the catalog: it is not
        trusted (``_catalog_since``) and, once the marker appears, dropped. (One started
        between that and the marker's write is trusted; the reconcile's full sentinel
        change drops it within COHERENCE_CHECK_SECONDS.)"""
        if glob.marker is None:
            self._catalog_on = False
            self._last_without_catalog = glob.seq
            return
        if not self._catalog_on:
            self._catalog_since = self._last_without_catalog + 1
            for scope in list(self.snapshots.keys()):
                cached = self.snapshots.peek(scope)
                if scope != GLOBAL and cached is not None and \
                        cached.value.seq < self._catalog_since:
                    self.snapshots.invalidate(scope)
        self._catalog_on = True

    def catalog_presence(self, scope: str, name: str) -> bool | None:
        """Whether the catalog lists secret ``name`` in ``scope``, from the cached snapshots
        (no request): None when the catalog cannot tell (no reconcile yet, or that scope's
        snapshot is not cached or predates the catalog)."""
        glob = self.snapshots.peek(GLOBAL)
        if glob is None or glob.value.marker is None or not self._catalog_on:
            return None
        own = glob if scope == GLOBAL else self.snapshots.peek(scope)
        if own is None or own.value.seq < self._catalog_since:
            return None
        return name.lower() in own.value.secrets

    def catalog_entry(self, scope: str, name: str) -> CatalogRecord | None:
        """The catalog's row of secret ``name`` in ``scope`` from the cached snapshots (no
        request), or None (not listed, or the catalog cannot tell)."""
        if not self.catalog_presence(scope, name):
            return None
        held = self.snapshots.peek(scope)
        return None if held is None else held.value.secrets.get(name.lower())

    def catalog_summary(self, org_id: str, name: str) -> str:
        """What the catalog says of an org's secret ``name`` (for ``explain``; no request)."""
        if self.catalog_presence(GLOBAL, name) is None:
            return ("absent (no reconcile yet): the vault decides, with a listing of its "
                    "names per instance")
        parts = []
        for scope in (org_id, GLOBAL):
            present = self.catalog_presence(scope, name)
            cached = self.snapshots.peek(scope)
            record = None if cached is None else cached.value.secrets.get(name.lower())
            state = "unknown" if present is None else "listed" if present else "not listed"
            if record is not None and record.expires_on is not None:
                state += f", expires {record.expires_on.isoformat(timespec='minutes')}"
            parts.append(f"{scope}--{name} {state}")
        return ("; ".join(parts) + " (a secret created in the portal is listed at the next "
                "Key Vault event or catalog reconcile)")

    async def list_scopes(self) -> list[str]:
        """Every partition holding config: org ids and ``GLOBAL`` (no cache).

        Table Storage has no distinct query; this pages through the table projected to
        ``PartitionKey`` alone (about 60 bytes per entity, 1,000 per page), so 200 orgs
        of 20 keys cost 4 small requests and no index row has to be kept in step with
        every write. Partitions that are not a scope (the ``_orgconfig`` sentinel, other
        bookkeeping rows) are left out.
        """

        async def query() -> list[str]:
            seen: set[str] = set()
            pager = self.client.query_entities(
                "RowKey lt @end", parameters={"end": history.BOOKKEEPING_END},
                select=["PartitionKey"])
            try:
                async for entity in pager:
                    seen.add(str(entity["PartitionKey"]))
            except ResourceNotFoundError:
                return []  # no table yet: no scopes
            return sorted(s for s in seen if is_scope(s))

        self.metrics.incr("table.queries")
        return await self.call("a listing of partitions", query)

    async def list_orgs_page(self, after: str | None, limit: int) -> tuple[list[str], bool]:
        """Up to ``limit`` org ids that have config, in order, after ``after`` (no cache),
        and whether more follow. Table Storage returns entities in PartitionKey order, so
        this reads only the pages up to the first partition past the page (projected to
        ``PartitionKey``): a page of 50 orgs of 20 keys is about one request, whatever the
        size of the table. GLOBAL and partitions that are not scopes are left out."""

        async def query() -> tuple[list[str], bool]:
            found: list[str] = []
            pager = self.client.query_entities(
                "PartitionKey gt @after and RowKey lt @end",
                parameters={"after": after or "", "end": history.BOOKKEEPING_END},
                select=["PartitionKey"], results_per_page=1000)
            try:
                async for entity in pager:
                    partition = str(entity["PartitionKey"])
                    if partition == GLOBAL or not is_scope(partition) or \
                            (found and found[-1] == partition):
                        continue
                    if len(found) == limit:
                        return found, True
                    found.append(partition)
            except ResourceNotFoundError:
                return [], False  # no table yet: no orgs
            return found, False

        self.metrics.incr("table.queries")
        return await self.call("a page of the org listing", query)

    async def get_entry(self, scope: str, key: str) -> ConfigEntry | None:
        """Point-read one entry with its ETag (no cache): for writers and the admin API."""
        scope, key = canonical_scope(scope), validate_config_key(key)

        async def read() -> ConfigEntry | None:
            try:
                return entry_from_entity(await self.client.get_entity(scope, key))
            except ResourceNotFoundError:
                return None

        return await self.call(f"a read of {scope}/{key}", read)

    def invalidate(self, scope: str | None = None) -> None:
        if scope is None:
            self.snapshots.clear()
        else:
            self.snapshots.invalidate(canonical_scope(scope))

    # -- writes -------------------------------------------------------------------------
    async def ensure_table(self) -> None:
        if self._table_ready:
            return

        async def create() -> None:
            with contextlib.suppress(ResourceExistsError):
                await self.client.create_table()

        await self.call(f"creating table {self.settings.table_name}", create)
        self._table_ready = True

    async def _write(self, what: str, op: Callable[[], Awaitable[T]]) -> T:
        """A write that recreates the table once if it vanished (a reset emulator, a
        deleted table) instead of failing every write until restart."""
        await self.ensure_table()
        try:
            return await self.call(what, op, write=True)
        except HttpResponseError as exc:
            if exc.status_code != 404 or "TableNotFound" not in str(exc):
                raise
            self._table_ready = False
            await self.ensure_table()
            return await self.call(what, op, write=True)

    async def submit(self, what: str, operations: list[Any]) -> list[Mapping[str, Any]]:
        """One entity-group transaction (a write: see :meth:`call`); each operation's
        metadata."""

        async def op() -> list[Mapping[str, Any]]:
            return list(await self.client.submit_transaction(operations))

        return await self._write(what, op)

    async def put_entry(self, entry: ConfigEntry, *, if_match: str | None = None,
                        action: str = "put", actor_id: str | None = None) -> ConfigEntry:
        """Create or replace an entry and record the change in its history (one
        transaction: :mod:`shared.backends.history`). With ``if_match`` (an ETag, or ``*``)
        the write fails with :class:`ConcurrencyError` if the entry changed (or does not
        exist)."""
        await self.ensure_table()
        entity = entity_from_entry(entry)
        entry = replace(entry, updated_at=entity["UpdatedAt"])
        change = history.Change(entry.scope, entry.key, entry, action, entry.updated_by,
                                actor_id)
        metadata = await history.write(self, change, if_match=if_match,
                                       max_per_key=self.settings.history_max_per_key)
        self.invalidate(entry.scope)
        return replace(entry, etag=(metadata or {}).get("etag"))

    async def delete_entry(self, scope: str, key: str, *, if_match: str | None = None,
                           actor: str | None = None, actor_id: str | None = None,
                           action: str = "delete") -> bool:
        """Delete an entry and record it (no error if absent, unless ``if_match`` is
        given); False when there was nothing to delete."""
        scope, key = canonical_scope(scope), validate_config_key(key)
        await self.ensure_table()
        change = history.Change(scope, key, None, action, actor, actor_id)
        done = await history.write(self, change, if_match=if_match,
                                   max_per_key=self.settings.history_max_per_key)
        self.invalidate(scope)
        return done is not None

    async def import_entries(self, entries: Iterable[ConfigEntry], *,
                             actor_id: str | None = None) -> int:
        """Put each entry as an ``import`` change (history recorded), a few at a time."""
        gate = asyncio.Semaphore(8)

        async def one(entry: ConfigEntry) -> None:
            async with gate:
                await self.put_entry(entry, action="import", actor_id=actor_id)

        todo = list(entries)
        await asyncio.gather(*(one(e) for e in todo))
        return len(todo)

    async def upsert_many(self, entries: Iterable[ConfigEntry]) -> int:
        """Upsert entries in transactions of at most 100 operations per partition, without
        history (seeding: tests, benchmarks, the demo); admin writes use :meth:`put_entry`
        and :meth:`import_entries`."""
        await self.ensure_table()
        by_scope: dict[str, list[dict[str, Any]]] = {}
        for entry in entries:
            by_scope.setdefault(entry.scope, []).append(entity_from_entry(entry))
        written = 0
        for scope, entities in by_scope.items():
            for start in range(0, len(entities), MAX_BATCH):
                chunk = entities[start:start + MAX_BATCH]
                operations: list[Any] = [("upsert", e, {"mode": UpdateMode.REPLACE}) for e in chunk]

                async def submit(ops: list[Any] = operations) -> None:
                    await self.client.submit_transaction(ops)

                await self._write(f"a batch write to {scope}", submit)
                written += len(chunk)
            self.invalidate(scope)
        return written

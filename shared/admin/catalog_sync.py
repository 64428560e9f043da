"""Keeping the secret catalog (:mod:`shared.backends.catalog`) true to the vault.

- Admin writes (API and CLI, through :class:`shared.admin.secret_admin.SecretAdmin`): the
  vault first, then :meth:`SecretCatalog.record` / :meth:`SecretCatalog.remove`, then the
  caller's ``notify_change``.
- Key Vault events (:mod:`shared.admin.events`): :meth:`SecretCatalog.refresh` reads the
  secret's metadata from the vault (the event is a hint, the vault the truth).
- :meth:`SecretCatalog.reconcile`: lists the vault (metadata only, never a value) and
  repairs drift both ways; run by the timer function ``catalog_reconcile`` (the Functions
  host runs one instance of a timer for the whole app) and ``python -m shared.cli
  catalog reconcile``. Its first run writes the marker that turns the catalog on.

A secret created directly in the Azure portal becomes visible to the resolver at the
next event or reconcile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode

from shared.backends import catalog
from shared.backends.catalog import CatalogMarker, CatalogRecord, ExpiryState
from shared.backends.config_store import MAX_BATCH
from shared.backends.vault_clients import vault_time
from shared.backends.vaults import Vault, vault_name_for
from shared.core.naming import GLOBAL, canonical_scope, keyvault_name, split_keyvault_name
from shared.errors import BackendUnavailableError, ConfigError, SecretAccessError

if TYPE_CHECKING:
    from azure.keyvault.secrets import SecretProperties

    from shared.resolver import ConfigResolver

log = logging.getLogger("orgconfig.catalog")

#: a reconcile pages through the whole vault (25 names a page): its own, generous bound
RECONCILE_TIMEOUT_SECONDS = 600.0
#: more changes than this in one reconcile: tell instances to drop everything at once
NOTIFY_EACH_LIMIT = 50
#: tag written by the admin API and CLI on each version (see shared.admin.secret_admin)
UPDATED_BY_TAG = "orgconfig-updated-by"

Key = tuple[str, str]


def record_from_properties(scope: str, name: str, props: SecretProperties,
                           updated_by: str | None = None) -> CatalogRecord:
    """The catalog record of a secret from its vault metadata (no value involved)."""
    tags = props.tags or {}
    return CatalogRecord(
        scope=canonical_scope(scope), name=name, enabled=props.enabled is not False,
        expires_on=catalog.storable_time(props.expires_on),
        updated_on=catalog.storable_time(props.updated_on),
        content_type=props.content_type, updated_by=tags.get(UPDATED_BY_TAG) or updated_by,
        version=props.version or None,
    )


def unstorable_dates(props: SecretProperties) -> list[str]:
    """The vault dates of a secret that a catalog row cannot hold (recorded as unknown)."""
    dates = {"expires_on": props.expires_on, "updated_on": props.updated_on}
    return [name for name, value in dates.items()
            if value is not None and catalog.storable_time(value) is None]


@dataclass(frozen=True)
class ReconcileReport:
    """What a reconcile found and repaired."""

    listed: int
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    first: bool = False
    seconds: float = 0.0

    @property
    def drift(self) -> int:
        return len(self.added) + len(self.updated) + len(self.removed)


@dataclass(frozen=True)
class ExpiringSecret:
    """A secret that is expired, or expires within SECRET_EXPIRY_WARNING_DAYS."""

    scope: str
    name: str
    vault_name: str
    expires_on: datetime
    state: ExpiryState


class SecretCatalog:
    """Reads and writes catalog rows through the resolver's config table client."""

    def __init__(self, resolver: ConfigResolver) -> None:
        self.resolver = resolver
        self.store = resolver.config_store
        self.metrics = resolver.metrics

    def _from_vault(self, scope: str, name: str, props: SecretProperties,
                    updated_by: str | None = None) -> CatalogRecord:
        """:func:`record_from_properties`, logging (rate-limited, the name, never a value)
        and counting a vault date the catalog cannot hold."""
        record = record_from_properties(scope, name, props, updated_by)
        if odd := unstorable_dates(props):
            self.metrics.incr("catalog.unstorable_dates")
            self.store.unreadable_log(
                record.vault_name, "the vault date(s) %s of %s are outside what the catalog "
                "can store: recorded as unknown", ", ".join(odd), record.vault_name)
        return record

    # -- single secrets --------------------------------------------------------------------
    async def record(self, record: CatalogRecord) -> None:
        """Create or replace the row of one secret."""
        entity = catalog.entity_from_record(record)
        await self.store.ensure_table()
        await self.store.call(
            f"a catalog write of {record.vault_name}",
            lambda: self.store.client.upsert_entity(entity, mode=UpdateMode.REPLACE),
        )
        self.metrics.incr("catalog.writes")

    async def remove(self, scope: str, name: str) -> None:
        """Delete the row of one secret (no error if there is none)."""
        scope = canonical_scope(scope)

        async def delete() -> None:
            with contextlib.suppress(ResourceNotFoundError):  # no table or no row: done
                await self.store.client.delete_entity(scope, catalog.record_row_key(name))

        await self.store.call(f"a catalog delete of {scope}--{name}", delete)
        self.metrics.incr("catalog.writes")

    async def after_write(self, scope: str, name: str, props: SecretProperties | None,
                          updated_by: str | None = None) -> None:
        """After an admin write to the vault: record (or, ``props=None``, remove) the
        secret. A failure is logged and counted, not raised: the vault write stands, and
        the next reconcile repairs the row."""
        try:
            if props is None:
                await self.remove(scope, name)
            else:
                await self.record(self._from_vault(scope, name, props, updated_by))
        except ConfigError as exc:
            self.metrics.incr("catalog.write_failed")
            log.warning("the catalog row of %s--%s was not updated (%s); the next reconcile "
                        "repairs it", canonical_scope(scope), name, exc.__class__.__name__)

    async def refresh(self, scope: str, name: str, current: str | None = None
                      ) -> CatalogRecord | None:
        """Record what the vault says of one secret now (metadata of its versions, never a
        value); remove the row when the vault has no such secret. Returns the record.
        ``current``: the version known to be the newest (a SecretNewVersionCreated event's):
        the vault's creation times have whole seconds, so two versions made within one
        second cannot be told apart by them."""
        full = keyvault_name(scope, name)
        vault = self.resolver.secret_store.vault_for(scope)

        async def versions() -> list[SecretProperties]:
            try:
                return [v async for v in vault.client.list_properties_of_secret_versions(full)]
            except ResourceNotFoundError:
                return []

        found = await vault.call(f"listing versions of {full}", versions)
        if not found:
            await self.remove(scope, name)
            return None
        named = [v for v in found if current and v.version == current]
        latest = named[0] if named else max(
            found, key=lambda v: (vault_time(v.created_on) or datetime.min.replace(tzinfo=UTC),
                                  vault_time(v.updated_on) or datetime.min.replace(tzinfo=UTC)))
        record = self._from_vault(scope, name, latest)
        await self.record(record)
        return record

    # -- the whole catalog -----------------------------------------------------------------
    async def read_all(self, *, expiring_before: datetime | None = None
                       ) -> dict[Key, CatalogRecord]:
        """Every secret row of the table (one range query over the RowKey prefix), or only
        those expiring before ``expiring_before`` (filtered by the service, so a health
        check does not page through every row)."""
        query_filter = "RowKey ge @lo and RowKey lt @hi"
        parameters: dict[str, Any] = {"lo": catalog.RECORD_PREFIX, "hi": catalog.RECORD_END}
        if expiring_before is not None:
            query_filter += " and ExpiresOn le @until"
            parameters["until"] = expiring_before

        async def query() -> dict[Key, CatalogRecord]:
            rows: dict[Key, CatalogRecord] = {}
            try:
                found = await self.store.query_rows(
                    query_filter, parameters, ["PartitionKey", "RowKey", *catalog.SELECT])
            except ResourceNotFoundError:
                return rows  # no table yet: no rows
            for entity in found:
                record = self.store.catalog_record(entity)
                if record is not None:
                    rows[(record.scope, record.name.lower())] = record
            return rows

        self.metrics.incr("table.queries")
        return await self.store.call("a query of the secret catalog", query,
                                     time_limit=RECONCILE_TIMEOUT_SECONDS)

    async def marker(self) -> CatalogMarker | None:
        """The marker row, or None while no reconcile has completed (point read)."""

        async def read() -> Any:
            try:
                return await self.store.client.get_entity(GLOBAL, catalog.MARKER_ROW)
            except ResourceNotFoundError:
                return None
            except ValueError:  # an unparsable ReconciledAt: the marker stands, time unknown
                self.metrics.incr("catalog.unreadable_dates")
                self.store.unreadable_log(catalog.MARKER_ROW, "the catalog marker row has an "
                                          "unreadable ReconciledAt: taken as unknown")
                return await self.store.client.get_entity(
                    GLOBAL, catalog.MARKER_ROW, select=["PartitionKey", "RowKey", "Secrets"])

        entity = await self.store.call("a read of the catalog marker", read)
        return None if entity is None else catalog.marker_from_entity(entity)

    async def list_vault(self) -> dict[Key, CatalogRecord]:
        """Every orgconfig secret of every configured vault as a record (one paged metadata
        listing per vault). A vault's name counts only for a scope that lives in that vault
        (:mod:`shared.backends.vaults`): a copy left behind in the vault an org moved from is not
        the org's secret, since the resolver never reads it there."""
        found: dict[Key, CatalogRecord] = {}
        for vault in self.resolver.secret_store.vaults:
            found.update(await self._list_one_vault(vault))
        return found

    async def _list_one_vault(self, vault: Vault) -> dict[Key, CatalogRecord]:
        settings = self.resolver.settings

        async def collect() -> dict[Key, CatalogRecord]:
            found: dict[Key, CatalogRecord] = {}
            async for props in vault.client.list_properties_of_secrets():
                parts = split_keyvault_name(props.name or "")
                if parts is None:
                    continue
                if vault_name_for(settings, parts[0]) != vault.name:
                    self.metrics.incr("catalog.stray_names")
                    continue
                found[(parts[0], parts[1].lower())] = self._from_vault(*parts, props)
            return found

        try:
            return await asyncio.wait_for(collect(), RECONCILE_TIMEOUT_SECONDS)
        except HttpResponseError as exc:
            if exc.status_code in (401, 403):
                raise SecretAccessError(
                    f"Key Vault {vault.name!r} ({vault.url}) refused to list secrets: grant "
                    "the identity list permission ('Key Vault Secrets User' or a list access "
                    "policy) on every vault to reconcile the catalog", "permission",
                ) from None
            raise BackendUnavailableError(
                "Key Vault", f"listing vault {vault.name!r} failed (HTTP {exc.status_code}); "
                "retry later",
            ) from None
        except (AzureError, TimeoutError) as exc:
            raise BackendUnavailableError(
                "Key Vault", f"listing vault {vault.name!r} failed ({exc.__class__.__name__}); "
                "retry later",
            ) from None

    async def reconcile(self) -> ReconcileReport:
        """List the vault and make the catalog match it in both directions, then write the
        marker (the first time, the catalog turns on) and tell every instance."""
        if not self.resolver.secret_store.vault_configured:
            raise ConfigError("no Key Vault is configured (AZURE_KEY_VAULT_URL is unset): "
                              "there is no secret catalog to reconcile")
        started = time.perf_counter()
        first = await self.marker() is None
        vault = await self.list_vault()
        rows = await self.read_all()
        upserts: list[CatalogRecord] = []
        added: list[str] = []
        updated: list[str] = []
        for key, record in vault.items():
            current = rows.get(key)
            if current is None:
                added.append(record.vault_name)
            elif not current.same_as(record):
                updated.append(record.vault_name)
            else:
                continue
            if record.updated_by is None and current is not None:
                record = CatalogRecord(**{**record.__dict__, "updated_by": current.updated_by})
            upserts.append(record)
        removed = [rows[key] for key in rows.keys() - vault.keys()]
        await self._apply(upserts, removed)
        await self.store.ensure_table()
        await self.store.call(
            "a write of the catalog marker",
            lambda: self.store.client.upsert_entity(
                catalog.marker_entity(datetime.now(UTC), len(vault)), mode=UpdateMode.REPLACE),
        )
        changed = [(r.scope, r.name) for r in (*upserts, *removed)]
        if first or len(changed) > NOTIFY_EACH_LIMIT:
            await self.resolver.notify_everything_changed()
        else:
            for scope, name in changed:
                await self.resolver.notify_change(scope, secret=name)
        report = ReconcileReport(len(vault), sorted(added), sorted(updated),
                                 sorted(r.vault_name for r in removed), first,
                                 round(time.perf_counter() - started, 3))
        self.metrics.incr("catalog.reconciles")
        self.metrics.incr("catalog.reconcile_drift", report.drift)
        log.info("catalog reconciled: %d secrets listed, %d added, %d updated, %d removed%s",
                 report.listed, len(added), len(updated), len(removed),
                 " (first reconcile: the catalog is now in use)" if first else "")
        return report

    async def _apply(self, upserts: Iterable[CatalogRecord],
                     removed: Iterable[CatalogRecord]) -> None:
        """Batch writes per partition, at most MAX_BATCH operations per transaction."""
        by_scope: dict[str, list[Any]] = {}
        for record in upserts:
            by_scope.setdefault(record.scope, []).append(
                ("upsert", catalog.entity_from_record(record), {"mode": UpdateMode.REPLACE}))
        for record in removed:
            by_scope.setdefault(record.scope, []).append(
                ("delete", {"PartitionKey": record.scope,
                            "RowKey": catalog.record_row_key(record.name)}))
        if not by_scope:
            return
        await self.store.ensure_table()
        for scope, operations in by_scope.items():
            for start in range(0, len(operations), MAX_BATCH):
                chunk = operations[start:start + MAX_BATCH]

                async def submit(ops: list[Any] = chunk) -> None:
                    await self.store.client.submit_transaction(ops)

                await self.store.call(f"a catalog batch write to {scope}", submit)
                self.metrics.incr("catalog.writes", len(chunk))

    async def expiring(self, warning_days: float | None = None,
                       scope: str | None = None) -> list[ExpiringSecret]:
        """Secrets expired or expiring within ``warning_days`` (default: the setting), of
        one org (with GLOBAL's) or of all, soonest first."""
        days = self.resolver.settings.expiry_warning_days if warning_days is None \
            else warning_days
        wanted = None if scope is None else {canonical_scope(scope), GLOBAL}
        now = datetime.now(UTC)
        found = []
        rows = await self.read_all(expiring_before=now + timedelta(days=days))
        for record in rows.values():
            if wanted is not None and record.scope not in wanted:
                continue
            state = record.expiry(now, days)
            if state is not None and record.expires_on is not None:
                found.append(ExpiringSecret(record.scope, record.name, record.vault_name,
                                            record.expires_on, state))
        return sorted(found, key=lambda e: (e.expires_on, e.scope, e.name.lower()))

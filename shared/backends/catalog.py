"""The secret catalog: which secrets exist in each scope, kept in the config table.

A ``secret_ref`` read by org ``acme`` tries ``acme--name`` before ``GLOBAL--name``.
Without knowing which of those exist, every org pays a 404 (or every instance lists
the whole vault). The catalog records each secret of a scope as a row *in that scope's
partition*, so the partition query the resolver already makes for a cold snapshot also
says which of the org's and GLOBAL's secrets exist: one vault GET for a secret that
exists, no request at all to learn that one does not.

Rows (never a value, only metadata)::

    PartitionKey  acme | GLOBAL
    RowKey        ~secret~smtp-password      (lower-cased: Key Vault names ignore case)
    Name, Enabled, ExpiresOn, UpdatedOn, ContentType, UpdatedBy

A config key starts with a letter (:mod:`shared.core.naming`), so a RowKey starting with
``~`` (allowed by Table Storage, which forbids ``/ \\ # ?`` and control characters)
can never be a config key, and the config readers skip every such row.

The marker row ``GLOBAL/~catalog`` says a reconcile has completed: until it exists (a
deployment that predates the catalog) the catalog is not trusted and the resolver
behaves as before (the vault name index). Kept true by the admin writes, the Key Vault
events and the reconcile (:mod:`shared.admin.catalog_sync`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from shared.core.naming import GLOBAL

RESERVED_PREFIX = "~"
RECORD_PREFIX = "~secret~"
MARKER_ROW = "~catalog"
#: every secret row sorts in [RECORD_PREFIX, RECORD_END)
RECORD_END = "~secret\x7f"
SELECT = ["Name", "Enabled", "ExpiresOn", "UpdatedOn", "ContentType", "UpdatedBy",
          "Version", "ReconciledAt", "Secrets"]
#: the catalog's Edm.DateTime properties (the SDK parses them while it reads a page)
DATE_COLUMNS = ("ExpiresOn", "UpdatedOn", "ReconciledAt")
#: Table Storage's Edm.DateTime range. Key Vault can hold dates outside it (a year 0089
#: set in the portal); the SDK writes such a year unpadded ("89-01-01T...") and no reader
#: can parse it back, so the catalog stores a date outside this range as unknown.
EARLIEST = datetime(1601, 1, 1, tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)
#: stands for a date property the SDK could not read (see ConfigStore.query_rows)
UNREADABLE = "<unreadable>"

ExpiryState = Literal["expired", "expiring"]


def is_catalog_row(row_key: str) -> bool:
    """True for a catalog row (secret or marker): never a config entry."""
    return row_key.startswith(RESERVED_PREFIX)


def record_row_key(name: str) -> str:
    return f"{RECORD_PREFIX}{name.lower()}"


@dataclass(frozen=True)
class CatalogRecord:
    """One secret of one scope, as the catalog knows it (metadata, never the value)."""

    scope: str
    name: str
    enabled: bool = True
    expires_on: datetime | None = None
    updated_on: datetime | None = None
    content_type: str | None = None
    updated_by: str | None = None
    #: the current version's id (admin writes and events know it; a vault listing does not,
    #: so a reconcile that sees a change records it as unknown)
    version: str | None = None
    #: date properties the row holds but that could not be read (taken as unknown)
    unreadable: tuple[str, ...] = ()

    def names_same_version(self, version: str | None, updated_on: datetime | None) -> bool:
        """Whether the catalog says the secret is still at the version a reader holds:
        the version ids agree, or (either unknown) the last-update times do."""
        if self.version and version:
            return self.version == version
        return self.updated_on is not None and updated_on is not None and \
            _second(self.updated_on) == _second(updated_on)

    @property
    def vault_name(self) -> str:
        return f"{self.scope}--{self.name}"

    def expiry(self, now: datetime, warning_days: float) -> ExpiryState | None:
        """``expired``, ``expiring`` (within ``warning_days``) or None."""
        return expiry_state(self.expires_on, now, warning_days)

    def same_as(self, other: CatalogRecord) -> bool:
        """Equal in what the vault says (enabled, expiry, last update, content type); never
        for a row with an unreadable date (so a reconcile rewrites it)."""
        if self.unreadable or other.unreadable:
            return False
        return (self.name, self.enabled, _second(self.expires_on), _second(self.updated_on),
                self.content_type) == (other.name, other.enabled, _second(other.expires_on),
                                       _second(other.updated_on), other.content_type)


@dataclass(frozen=True)
class CatalogMarker:
    """The ``GLOBAL/~catalog`` row: a reconcile has completed (the catalog is trusted)."""

    reconciled_at: datetime | None
    secrets: int = 0


def expiry_state(expires_on: datetime | None, now: datetime,
                 warning_days: float) -> ExpiryState | None:
    if expires_on is None:
        return None
    if expires_on <= now:
        return "expired"
    if expires_on <= now + timedelta(days=warning_days):
        return "expiring"
    return None


def _second(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(microsecond=0)


def _time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def storable_time(value: datetime | None) -> datetime | None:
    """``value`` if a catalog row can hold it and read it back, else None (unknown).

    Not only a datetime: for a Unix time past year 9999 the Key Vault SDK hands back the
    bare number it could not convert."""
    if not isinstance(value, datetime):
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware if EARLIEST <= aware <= LATEST else None


def unreadable_dates(entity: Mapping[str, Any],
                     columns: tuple[str, ...] = DATE_COLUMNS) -> tuple[str, ...]:
    """The date properties (of ``columns``) an entity holds that do not read as a date."""
    return tuple(column for column in columns
                 if entity.get(column) not in (None, "") and _time(entity.get(column)) is None)


def record_from_entity(entity: Mapping[str, Any]) -> CatalogRecord | None:
    """A secret row as a record; None for a row that is not a well-formed secret row."""
    row = str(entity.get("RowKey", ""))
    if not row.startswith(RECORD_PREFIX):
        return None
    name = str(entity.get("Name") or row[len(RECORD_PREFIX):])
    return CatalogRecord(
        scope=str(entity["PartitionKey"]), name=name,
        enabled=entity.get("Enabled") is not False,
        expires_on=_time(entity.get("ExpiresOn")), updated_on=_time(entity.get("UpdatedOn")),
        content_type=entity.get("ContentType") or None, updated_by=entity.get("UpdatedBy") or None,
        version=str(entity.get("Version")) if entity.get("Version") else None,
        unreadable=unreadable_dates(entity, ("ExpiresOn", "UpdatedOn")),
    )


def entity_from_record(record: CatalogRecord) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": record.scope, "RowKey": record_row_key(record.name),
        "Name": record.name, "Enabled": record.enabled,
    }
    optional = {"ExpiresOn": storable_time(record.expires_on),
                "UpdatedOn": storable_time(record.updated_on),
                "ContentType": record.content_type, "UpdatedBy": record.updated_by,
                "Version": record.version}
    entity.update({k: v for k, v in optional.items() if v is not None})
    return entity


def still_current(record: CatalogRecord | None, version: str | None,
                  updated_on: datetime | None) -> bool:
    """Whether a catalog row says a held secret (read at ``version`` / ``updated_on``) is
    still the current, enabled version: renewed without a vault request."""
    return record is not None and record.enabled and \
        record.names_same_version(version, updated_on)


def changed_names(scope: str, records: Mapping[str, CatalogRecord],
                  held: Mapping[str, tuple[str | None, datetime | None]]) -> list[str]:
    """Of the held secrets (full lower-case name -> version, last update), those of
    ``scope`` that the scope's catalog rows (by lower-case name) say changed: a newer
    version, disabled, or gone."""
    prefix = f"{scope.lower()}--"
    stale = []
    for key, (version, updated_on) in held.items():
        if not key.startswith(prefix):
            continue
        record = records.get(key[len(prefix):])
        if record is None or not record.enabled or (
                (record.version or record.updated_on)
                and not record.names_same_version(version, updated_on)):
            stale.append(key)
    return stale


def marker_from_entity(entity: Mapping[str, Any]) -> CatalogMarker | None:
    if entity.get("PartitionKey") != GLOBAL or entity.get("RowKey") != MARKER_ROW:
        return None
    try:
        secrets = int(entity.get("Secrets") or 0)
    except (TypeError, ValueError):
        secrets = 0
    return CatalogMarker(_time(entity.get("ReconciledAt")), secrets)


def marker_entity(reconciled_at: datetime, secrets: int) -> dict[str, Any]:
    return {"PartitionKey": GLOBAL, "RowKey": MARKER_ROW, "ReconciledAt": reconciled_at,
            "Secrets": secrets}

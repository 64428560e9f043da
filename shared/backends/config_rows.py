"""Config table rows: how a :class:`ConfigEntry` is stored as an entity and read back, and
the immutable :class:`ConfigSnapshot` of one partition."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from azure.data.tables import TableEntity

from shared.backends import catalog
from shared.backends.catalog import CatalogMarker, CatalogRecord
from shared.core.naming import canonical_scope
from shared.core.values import ConfigEntry, ValueType
from shared.errors import InvalidNameError

#: the properties a partition read selects: config entries' and the catalog's
SELECT = ["PartitionKey", "RowKey", "Value", "Type", "Description", "UpdatedAt", "UpdatedBy",
           *catalog.SELECT]


@dataclass(frozen=True)
class ConfigSnapshot:
    """Every entry of one partition at one moment, and the partition's catalog rows
    (:mod:`shared.backends.catalog`): ``secrets`` by lower-cased name, ``marker`` in GLOBAL."""

    scope: str
    entries: Mapping[str, ConfigEntry] = field(default_factory=dict)
    secrets: Mapping[str, CatalogRecord] = field(default_factory=dict)
    marker: CatalogMarker | None = None
    #: order in which this process started the snapshot's query (see catalog_presence)
    seq: int = 0

    def get(self, key: str) -> ConfigEntry | None:
        return self.entries.get(key)


def entry_from_entity(entity: Mapping[str, Any]) -> ConfigEntry:
    """Map a table entity to a ConfigEntry; an unknown Type reads as a ConfigValueError later."""
    etag = entity.metadata.get("etag") if isinstance(entity, TableEntity) else None
    # A Type this code does not know is kept as stored: parse_value then fails loudly.
    value_type = cast(ValueType, str(entity.get("Type") or "string"))
    return ConfigEntry(
        scope=str(entity["PartitionKey"]),
        key=str(entity["RowKey"]),
        value=str(entity.get("Value", "")),
        type=value_type,
        description=entity.get("Description"),
        updated_at=_text(entity.get("UpdatedAt")),
        updated_by=entity.get("UpdatedBy"),
        etag=etag,
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def is_scope(partition: str) -> bool:
    try:
        return canonical_scope(partition) == partition
    except InvalidNameError:
        return False


def entity_from_entry(entry: ConfigEntry) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": entry.scope,
        "RowKey": entry.key,
        "Value": entry.value,
        "Type": entry.type,
        "UpdatedAt": entry.updated_at or datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if entry.description is not None:
        entity["Description"] = entry.description
    if entry.updated_by is not None:
        entity["UpdatedBy"] = entry.updated_by
    return entity

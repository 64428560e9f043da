"""Config history: every change of an entry, written in the same table transaction as the
change itself (an entity-group transaction in the entry's partition), so no change is ever
missing from its history and no history item describes a change that did not happen.

Rows (never config: their RowKeys start with ``~~``, after every config key and catalog row,
so a snapshot reload, which reads ``RowKey lt "~~"``, fetches the same with any amount of
history):

- ``~~h~{key}~{id}``: the key's history, newest first (``id`` starts with the inverted
  time in microseconds);
- ``~~c~{id}~{key}``: the partition's change feed across keys, newest first.

Both hold the item: ``Action`` (``put``, ``delete``, ``rollback``, ``import``, or ``baseline``
for a state the history did not hold: the entry's state before its first recorded change,
or one made outside the app), ``At``, ``By``/``ById``, and the entry's state after the change
(``ItemType``, ``ItemValue``, ``ItemDescription``; none after a delete). Property names differ
from a config entry's, so no query for entries (``Type eq 'secret_ref'``) ever matches one.

Every write is conditional on the state it read (the caller's ``If-Match``, else the ETag it
read, else "does not exist"): the baseline it records is exactly the state it replaced; an
unconditional write that lost a race re-reads and tries again. Retention: after a change,
rows beyond the newest ``max_per_key`` of the key are deleted in the same transaction.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.backends.config_rows import entity_from_entry
from shared.core.values import ConfigEntry
from shared.errors import ConcurrencyError

T = TypeVar("T")


class ConfigStore(Protocol):
    """What history needs of :class:`shared.backends.config_store.ConfigStore` (which
    imports this module)."""

    @property
    def client(self) -> TableClient: ...

    async def call(self, what: str, op: Callable[[], Awaitable[T]]) -> T: ...

    async def submit(self, what: str, operations: list[Any]) -> list[Mapping[str, Any]]: ...

    async def get_entry(self, scope: str, key: str) -> ConfigEntry | None: ...

#: snapshot reads stop here: every history and feed row sorts at or after it
BOOKKEEPING_END = "~~"
HISTORY_PREFIX = "~~h~"
FEED_PREFIX = "~~c~"
_INVERT = 10**17
ACTIONS = ("put", "delete", "rollback", "import", "baseline")
#: attempts of an unconditional write that keeps losing races to other writers
RACE_ATTEMPTS = 5
_ITEM_COLUMNS = ["RowKey", "Key", "Action", "At", "By", "ById", "ItemType", "ItemValue",
                 "ItemDescription"]


@dataclass(frozen=True)
class HistoryItem:
    """One change of one entry: the entry's state after it (``type`` None: absent)."""

    id: str
    key: str
    at: str
    by: str | None
    by_id: str | None
    action: str
    type: str | None = None
    value: str | None = None
    description: str | None = None

    def same_state(self, entry: ConfigEntry | None) -> bool:
        if entry is None:
            return self.type is None
        return (self.type, self.value, self.description) == \
            (entry.type, entry.value, entry.description)


def new_suffix() -> str:
    """The random tail of an item id (tests replace it to inject a conflicting row)."""
    return uuid.uuid4().hex[:8]


def item_id(at_us: int, suffix: str) -> str:
    return f"{_INVERT - at_us:017d}{suffix}"


def history_row(key: str, item: str) -> str:
    return f"{HISTORY_PREFIX}{key}~{item}"


def feed_row(key: str, item: str) -> str:
    return f"{FEED_PREFIX}{item}~{key}"


def is_valid_id(value: str) -> bool:
    return len(value) == 25 and value[:17].isdigit() and value[17:].isalnum()


def _entities(scope: str, item: HistoryItem) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"Key": item.key, "Action": item.action, "At": item.at}
    for name, value in (("By", item.by), ("ById", item.by_id), ("ItemType", item.type),
                        ("ItemValue", item.value), ("ItemDescription", item.description)):
        if value is not None:
            body[name] = value
    return [{"PartitionKey": scope, "RowKey": history_row(item.key, item.id), **body},
            {"PartitionKey": scope, "RowKey": feed_row(item.key, item.id), **body}]


def item_from_entity(entity: Mapping[str, Any]) -> HistoryItem:
    row = str(entity["RowKey"])
    item = row[len(FEED_PREFIX):].split("~", 1)[0] if row.startswith(FEED_PREFIX) \
        else row.rsplit("~", 1)[1]

    def text(name: str) -> str | None:
        value = entity.get(name)
        return None if value is None else str(value)

    return HistoryItem(item, str(entity.get("Key", "")), str(entity.get("At", "")),
                       text("By"), text("ById"), str(entity.get("Action", "")),
                       text("ItemType"), text("ItemValue"), text("ItemDescription"))


@dataclass(frozen=True)
class Change:
    """A change to write: the entry's new state (``None``: delete it) and who made it."""

    scope: str
    key: str
    entry: ConfigEntry | None
    action: str
    by: str | None
    by_id: str | None = None


async def key_history(store: ConfigStore, scope: str, key: str, *, limit: int | None = None,
                      after: str | None = None) -> list[HistoryItem]:
    """The key's items, newest first (from after item ``after``, at most ``limit``)."""
    low = history_row(key, after) + "\x00" if after else history_row(key, "")
    return await _range(store, scope, low, f"{HISTORY_PREFIX}{key}~~", limit)


async def item(store: ConfigStore, scope: str, key: str, item_id_: str) -> HistoryItem | None:
    """One item of the key's history (a point read), or None."""
    if not is_valid_id(item_id_):
        return None
    client = store.client

    async def read() -> HistoryItem | None:
        try:
            entity = await client.get_entity(scope, history_row(key, item_id_),
                                             select=_ITEM_COLUMNS)
        except ResourceNotFoundError:
            return None
        return item_from_entity(entity)

    return await store.call(f"a read of a history item of {scope}/{key}", read)


async def feed(store: ConfigStore, scope: str, *, limit: int | None = None,
               after: str | None = None) -> list[HistoryItem]:
    """The partition's items across keys, newest first (after ``after``: a feed row key)."""
    low = after + "\x00" if after else FEED_PREFIX
    return await _range(store, scope, low, FEED_PREFIX + "~", limit)


async def _range(store: ConfigStore, scope: str, low: str, high: str,
                 limit: int | None) -> list[HistoryItem]:
    client = store.client

    async def query() -> list[HistoryItem]:
        pager = client.query_entities(
            "PartitionKey eq @p and RowKey ge @lo and RowKey lt @hi", select=_ITEM_COLUMNS,
            parameters={"p": scope, "lo": low, "hi": high},
            results_per_page=min(limit or 1000, 1000))
        items: list[HistoryItem] = []
        try:
            async for entity in pager:
                items.append(item_from_entity(entity))
                if limit is not None and len(items) >= limit:
                    break
        except ResourceNotFoundError:
            return []  # no table yet: no history
        return items

    return await store.call(f"a read of history in {scope}", query)


async def write(store: ConfigStore, change: Change, *, if_match: str | None,
                max_per_key: int) -> Mapping[str, Any] | None:
    """Apply ``change`` and record it, in one transaction; the entity operation's metadata
    (its new ETag), or ``None`` for a delete of an entry that was not there (nothing to
    do, nothing recorded). :class:`ConcurrencyError` if ``if_match`` does not hold."""
    for _ in range(RACE_ATTEMPTS):
        current = await store.get_entry(change.scope, change.key)
        if if_match not in (None, "*") and (current is None or current.etag != if_match):
            raise _conflict(change)
        if if_match == "*" and current is None:
            raise _conflict(change)
        if change.entry is None and current is None:
            return None
        operations = await _plan(store, change, current, max_per_key)
        try:
            results = await store.submit(f"a write of {change.scope}/{change.key}", operations)
        except HttpResponseError as exc:
            if exc.status_code not in (404, 409, 412):
                raise
            if if_match not in (None, "*"):
                raise _conflict(change) from None
            continue  # an unconditional write lost a race: read again
        return results[0] if results else {}
    raise ConcurrencyError(
        f"config entry {change.scope}/{change.key} kept changing under this write "
        f"({RACE_ATTEMPTS} attempts); retry")


def _conflict(change: Change) -> ConcurrencyError:
    return ConcurrencyError(
        f"config entry {change.scope}/{change.key} changed since it was read (or no longer "
        "exists); read it again and retry with its new ETag")


async def _plan(store: ConfigStore, change: Change, current: ConfigEntry | None,
                max_per_key: int) -> list[Any]:
    operations: list[Any] = []
    condition: dict[str, Any] = {} if current is None else {
        "etag": current.etag, "match_condition": MatchConditions.IfNotModified}
    if change.entry is not None:
        entity = entity_from_entry(change.entry)
        operations.append(("create", entity) if current is None else
                          ("update", entity, {"mode": UpdateMode.REPLACE, **condition}))
    else:
        operations.append(("delete", {"PartitionKey": change.scope, "RowKey": change.key},
                           condition))
    existing = await key_history(store, change.scope, change.key)
    now = time.time()
    at_us = round(now * 1_000_000)
    added: list[HistoryItem] = []
    if not (existing[0].same_state(current) if existing else current is None):
        # the history does not end in the state this change replaces: keep that state
        added.append(_item(change.key, at_us - 1, "baseline", current, None, None,
                           at=current.updated_at if current is not None else None))
    added.append(_item(change.key, at_us, change.action, change.entry, change.by,
                       change.by_id))
    for item in added:
        operations.extend(("create", e) for e in _entities(change.scope, item))
    # at most 40 old items per write (a transaction holds 100 operations); a lowered limit
    # is reached over the next writes
    for old in existing[max(0, max_per_key - len(added)):][:40]:
        operations.append(("delete", {"PartitionKey": change.scope,
                                      "RowKey": history_row(old.key, old.id)}))
        operations.append(("delete", {"PartitionKey": change.scope,
                                      "RowKey": feed_row(old.key, old.id)}))
    return operations


def _item(key: str, at_us: int, action: str, entry: ConfigEntry | None, by: str | None,
          by_id: str | None, *, at: str | None = None) -> HistoryItem:
    when = at or datetime.fromtimestamp(at_us / 1_000_000, UTC).isoformat(
        timespec="milliseconds")
    if entry is None:
        return HistoryItem(item_id(at_us, new_suffix()), key, when, by, by_id, action)
    return HistoryItem(item_id(at_us, new_suffix()), key, when, by, by_id, action,
                       entry.type, entry.value, entry.description)


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 time with a zone (``Z`` or an offset) as an aware datetime, or None."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def since(items: Sequence[HistoryItem], when: datetime | None) -> list[HistoryItem]:
    """The items at or after ``when`` (all of them for None; an unreadable ``at`` is kept)."""
    if when is None:
        return list(items)
    return [i for i in items if (at := parse_time(i.at)) is None or at >= when]


def page(items: Sequence[HistoryItem], limit: int) -> tuple[list[HistoryItem], bool]:
    """At most ``limit`` items and whether more follow (query ``limit + 1``)."""
    return list(items[:limit]), len(items) > limit

"""Rolling a config entry back to one of its history items (the API's and the CLI's
``rollback``): the item's state written as a new change, recorded as ``rollback``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.backends import history
from shared.core.audit import Actor
from shared.core.values import VALUE_TYPES, ConfigEntry
from shared.errors import ConfigError

if TYPE_CHECKING:
    from shared.resolver import ConfigResolver


class HistoryItemNotFoundError(ConfigError, KeyError):
    """No history item with that id for that entry."""

    code = "history_item_not_found"

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "history item not found"


async def rollback(resolver: ConfigResolver, scope: str, key: str, item_id: str,
                   actor: Actor, *, if_match: str | None = None) -> ConfigEntry | None:
    """Restore item ``item_id``'s state of ``scope``/``key``: the entry written (or None
    when the item is a deletion and the entry was deleted). The caller tells the other
    instances and writes the audit record."""
    store = resolver.config_store
    item = await history.item(store, scope, key, item_id)
    if item is None:
        raise HistoryItemNotFoundError(
            f"{scope}/{key} has no history item {item_id!r}; list them with GET "
            f"orgs/{scope}/config/{key}/history")
    if item.type is None:
        await store.delete_entry(scope, key, if_match=if_match, actor=str(actor),
                                 actor_id=actor.id, action="rollback")
        return None
    if item.type not in VALUE_TYPES:
        raise ConfigError(f"history item {item_id!r} holds an unknown type {item.type!r}")
    entry = ConfigEntry(scope, key, item.value or "", item.type,  # type: ignore[arg-type]
                        item.description, None, str(actor))
    return await store.put_entry(entry, if_match=if_match, action="rollback",
                                 actor_id=actor.id)

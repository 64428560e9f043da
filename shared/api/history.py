"""Config history routes: an entry's history, rollback to one of its items, and an org's
change feed across keys (DESIGN "Config history"; the rows: :mod:`shared.backends.history`)."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Any

from shared.admin import config_history
from shared.api.audit import audit_write, completed_if_late
from shared.api.config import etag_headers, if_match_of
from shared.api.errors import ApiError
from shared.api.models import (
    ConfigEntryOut,
    ConfigRollback,
    ConfigWritten,
    HistoryItemOut,
    HistoryPage,
)
from shared.api.params import (
    CONFIG_KEY,
    HISTORY_AFTER,
    HISTORY_LIMIT,
    HISTORY_SINCE,
    IF_MATCH,
    ORG_OR_GLOBAL,
    RFC3339_PATTERN,
    page_limit,
)
from shared.api.routing import Call, Reply, RouteTable
from shared.backends import history
from shared.backends.history import HistoryItem
from shared.core.naming import canonical_scope, validate_config_key

routes = RouteTable("history")
_ENTRY = (ORG_OR_GLOBAL, CONFIG_KEY)


def _out(item: HistoryItem) -> HistoryItemOut:
    return HistoryItemOut(id=item.id, key=item.key, at=item.at, by=item.by,
                          action=item.action if item.action in history.ACTIONS
                          else "baseline",  # type: ignore[arg-type]
                          type=item.type, value=item.value, description=item.description)


def _token(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def _after(call: Call[Any], prefix: str) -> str | None:
    """The row the previous page ended at (``after`` is the opaque ``next``)."""
    raw = call.query.get("after")
    if raw is None:
        return None
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith(prefix) or len(text) > 200:
        raise ApiError(400, "invalid_after", "after must be the `next` of a previous page")
    return text


def _page(items: list[HistoryItem], limit: int, row: Any) -> HistoryPage:
    shown, more = history.page(items, limit)
    return HistoryPage(items=[_out(i) for i in shown],
                       next=_token(row(shown[-1])) if more and shown else None)


@routes.route(
    "GET", "orgs/{org}/config/{key}/history", name="config_history", access="admin",
    response=HistoryPage, params=(*_ENTRY, HISTORY_LIMIT, HISTORY_AFTER), errors=(400, 503),
    summary="An entry's changes, newest first: who, when, and its state after each",
)
async def entry_history(call: Call[None]) -> HistoryPage:
    scope = canonical_scope(call.route.get("org"))
    key = validate_config_key(call.route.get("key"))
    limit = page_limit(call, 100)
    after = _after(call, history.history_row(key, ""))
    items = await history.key_history(
        call.resolver.config_store, scope, key, limit=limit + 1,
        after=after.rsplit("~", 1)[1] if after else None)
    return _page(items, limit, lambda i: history.history_row(i.key, i.id))


@routes.route(
    "GET", "orgs/{org}/changes", name="config_changes", access="admin", response=HistoryPage,
    params=(ORG_OR_GLOBAL, HISTORY_LIMIT, HISTORY_AFTER, HISTORY_SINCE), errors=(400, 503),
    summary="An org's changes across keys, newest first",
)
async def org_changes(call: Call[None]) -> HistoryPage:
    scope = canonical_scope(call.route.get("org"))
    limit = page_limit(call, 100)
    since = _since(call)
    items = await history.feed(call.resolver.config_store, scope, limit=limit + 1,
                               after=_after(call, history.FEED_PREFIX))
    items = history.since(items, since)
    return _page(items, limit, lambda i: history.feed_row(i.key, i.id))


def _since(call: Call[Any]) -> datetime | None:
    raw = call.query.get("since")
    if raw is None:
        return None
    when = history.parse_time(raw) if re.fullmatch(RFC3339_PATTERN, raw) else None
    if when is None:
        raise ApiError(400, "invalid_since", "since must be an RFC 3339 time with a zone, "
                       "e.g. 2026-12-01T00:00:00Z")
    return when


@routes.route(
    "POST", "orgs/{org}/config/{key}/rollback", name="config_rollback", access="admin",
    body=ConfigRollback, response=ConfigWritten, also=(204,), params=(*_ENTRY, IF_MATCH),
    errors=(400, 404, 412, 503),
    summary="Restore an earlier state of an entry as a new change (204 if that state is "
            "'deleted')",
)
async def rollback(call: Call[ConfigRollback]) -> Reply:
    scope = canonical_scope(call.route.get("org"))
    key = validate_config_key(call.route.get("key"))
    if_match = if_match_of(call)
    target = call.body.to
    actor = call.actor
    async with completed_if_late(call, scope, "config.rollback", location=call.url, key=key,
                                 to=target):
        written = await config_history.rollback(call.resolver, scope, key, target, actor,
                                                if_match=if_match)
    await call.resolver.notify_change(scope)
    audit_write("config.rollback", actor, scope, key=key, to=target,
                conditional=if_match is not None)
    if written is None:
        return Reply(None, 204)
    out = ConfigWritten(**ConfigEntryOut.of(written).model_dump(), warnings=[])
    return Reply(out, headers=etag_headers(written))

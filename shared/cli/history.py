"""``history``, ``changes`` and ``rollback``: config history from the command line."""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from shared.admin import config_history
from shared.backends import history
from shared.backends.history import HistoryItem
from shared.cli.common import cli_actor
from shared.core.audit import audit_write
from shared.core.naming import canonical_scope, validate_config_key
from shared.errors import ConfigError
from shared.resolver import ConfigResolver


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """The history commands' parsers."""
    hist = sub.add_parser("history", help="an entry's changes, newest first",
                          description="Who changed a config entry, when, and its state "
                                      "after each change (newest first).")
    hist.add_argument("scope", help="org id or GLOBAL")
    hist.add_argument("key", help="the config key")
    hist.add_argument("--limit", type=int, default=20, help="items to show (default 20)")
    changes = sub.add_parser("changes", help="an org's changes across keys, newest first",
                             description="An org's (or GLOBAL's) changes across keys.")
    changes.add_argument("scope", help="org id or GLOBAL")
    changes.add_argument("--since", help="only changes at or after this time (RFC 3339, "
                                         "e.g. 2026-12-01T00:00:00Z)")
    changes.add_argument("--limit", type=int, default=50, help="items to show (default 50)")
    back = sub.add_parser("rollback", help="restore an entry's earlier state as a new change",
                          description="Restore the state of a history item (its id from "
                                      "`history`) as a new change, recorded as rollback.")
    back.add_argument("scope", help="org id or GLOBAL")
    back.add_argument("key", help="the config key")
    back.add_argument("item", help="the history item's id")


def _line(item: HistoryItem, with_key: bool = False) -> str:
    state = "(deleted)" if item.type is None else \
        f"[{item.type}] " + (f"-> secret {item.value}" if item.type == "secret_ref"
                             else json.dumps(item.value))
    key = f"{item.key} " if with_key else ""
    return f"{item.id}  {item.at}  {item.action:<8} {key}{state}  by {item.by or '?'}"


def _limit(value: int) -> int:
    if not 1 <= value <= 1000:
        raise ConfigError("--limit must be from 1 to 1000")
    return value


async def cmd_history(resolver: ConfigResolver, args: argparse.Namespace, out: TextIO,
                      err: TextIO) -> int:
    scope, key = canonical_scope(args.scope), validate_config_key(args.key)
    items = await history.key_history(resolver.config_store, scope, key,
                                      limit=_limit(args.limit))
    for item in items:
        print(_line(item), file=out)
    if not items:
        print(f"no recorded changes of {scope} {key}", file=out)
    return 0


async def cmd_changes(resolver: ConfigResolver, args: argparse.Namespace, out: TextIO,
                      err: TextIO) -> int:
    scope = canonical_scope(args.scope)
    since = None
    if args.since:
        since = history.parse_time(args.since)
        if since is None:
            raise ConfigError(f"--since {args.since!r} is not an RFC 3339 time with a zone, "
                              "e.g. 2026-12-01T00:00:00Z")
    items = await history.feed(resolver.config_store, scope, limit=_limit(args.limit))
    shown = history.since(items, since)
    for item in shown:
        print(_line(item, with_key=True), file=out)
    if not shown:
        print(f"no recorded changes of {scope}", file=out)
    return 0


async def cmd_rollback(resolver: ConfigResolver, args: argparse.Namespace, out: TextIO,
                       err: TextIO) -> int:
    scope, key = canonical_scope(args.scope), validate_config_key(args.key)
    actor = cli_actor()
    written = await config_history.rollback(resolver, scope, key, args.item, actor)
    await resolver.notify_change(scope)
    audit_write("config.rollback", actor, scope, key=key, to=args.item, via="cli")
    if written is None:
        print(f"rolled back {scope} {key} to item {args.item}: deleted", file=out)
    else:
        print(f"rolled back {scope} {key} to item {args.item}: [{written.type}] "
              f"{written.value if written.type != 'secret_ref' else '-> secret ' + written.value}",
              file=out)
    return 0

"""Audit records: who changed what, which backend answered, which run read which secret.

Every record is one INFO line on the logger ``orgconfig.audit`` whose fields are the log
record's own attributes, named ``orgconfig.<field>`` (``orgconfig.event``,
``orgconfig.actor``...): an OpenTelemetry logging handler exports them as the record's
attributes (Application Insights shows them as custom dimensions), never as text in the
message; :func:`dimensions` reads them back. Never a value. No audit record is sampled.
The records, and when each is written (see the README's "Audit records"):

- ``secret.fetch``: a value (or a "not there") fetched from a backend: every Key Vault
  GET (refresh-ahead included) and every environment variable read that gave a secret;
- ``secret.failure``: a secret read that failed (``denied``, ``not_found``,
  ``unavailable``), every time;
- ``config.*`` / ``secret.*`` writes: every admin write (:func:`audit_write`);
- ``workflow.run``: one per workflow run, written by the executor when the run ends,
  listing the secrets the run read (name, source, reads, of which fetched), cache
  hits included: reads served from the cache leave no other record.

Text a caller chose (a display name, a claim) is cleaned of control and format
characters before it reaches a record, so a name holding a newline cannot forge a line.
"""

from __future__ import annotations

import json
import logging
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

audit_log = logging.getLogger("orgconfig.audit")

#: longest caller-chosen text kept in a record (an Entra display name is at most 256)
MAX_TEXT = 256


def clean_text(text: object, limit: int = MAX_TEXT) -> str:
    """``text`` without control, format or line/paragraph-separator characters (newlines,
    ANSI escapes, bidi overrides), cut to ``limit`` characters: safe for one log line."""
    value = text if isinstance(text, str) else str(text)
    if not value.isprintable():
        value = "".join(_printable(c) for c in value)
    return value if len(value) <= limit else value[: limit - 3] + "..."


def _printable(char: str) -> str:
    category = unicodedata.category(char)
    if category == "Zs":  # a no-break or other space: kept as a plain space
        return " "
    return "" if category[0] == "C" or category in ("Zl", "Zp") else char


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change: a stable id (Entra ``oid`` / ``userId``) and a display name.

    Display names are not unique; records name the actor by both so two people with the
    same name can be told apart. ``str(actor)`` is what ``UpdatedBy`` stores.
    """

    id: str = ""
    name: str = ""

    @classmethod
    def of(cls, user_id: str, name: str) -> Actor:
        return cls(clean_text(user_id), clean_text(name))

    def __str__(self) -> str:
        if self.id and self.name:
            return f"{self.name} <{self.id}>"
        return self.id or self.name or "unknown"

    def dimensions(self) -> dict[str, str]:
        return {"actor": str(self), "actor_id": self.id, "actor_name": self.name}


ANONYMOUS = Actor(name="anonymous")


#: the prefix of a record's field attributes
PREFIX = "orgconfig."


def log_fields(**fields: Any) -> dict[str, Any]:
    """``extra=`` for a log record whose fields become its attributes (``orgconfig.<name>``).
    None is left out; a list of records is kept as JSON text (an attribute holds scalars
    or lists of scalars); text is cleaned (:func:`clean_text`)."""
    extra: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, str):
            value = clean_text(value)
        elif isinstance(value, list | tuple) and any(isinstance(v, dict) for v in value):
            value = json.dumps(value, separators=(",", ":"), sort_keys=True)
        extra[PREFIX + name] = value
    return extra


def dimensions(record: logging.LogRecord) -> dict[str, Any]:
    """The fields of a record written with :func:`log_fields`, by their bare names."""
    return {name[len(PREFIX):]: value for name, value in record.__dict__.items()
            if name.startswith(PREFIX)}


def _emit(event: str, message: str, *args: Any, **fields: Any) -> None:
    audit_log.info(message, *(clean_text(a) if isinstance(a, str) else a for a in args),
                   extra=log_fields(event=event, **fields))


def audit_write(action: str, actor: Actor | str, scope: str, **fields: Any) -> None:
    """One admin write (``config.put``, ``secret.create``, ...). Never pass a value."""
    who = actor if isinstance(actor, Actor) else Actor.of("", actor)
    target = fields.get("key") or fields.get("name") or "-"
    _emit(action, "%s by %s on %s/%s", action, str(who), scope, target,
          action=action, **who.dimensions(), scope=scope, **fields)


def secret_fetched(backend: str, name: str, found: bool, **fields: Any) -> None:
    """A backend answered a secret lookup: ``backend`` is ``keyvault`` or ``env``, ``name``
    the vault or variable name. Written for every backend answer, never for a cache hit."""
    outcome = "found" if found else "absent"
    _emit("secret.fetch", "secret fetch %s:%s: %s", backend, name, outcome,
          backend=backend, name=name, outcome=outcome, **fields)


def secret_failed(org_id: str, key: str, secret_name: str, outcome: str, tried: list[str],
                  error: Exception | None = None) -> None:
    """A secret read that failed: ``denied``, ``not_found`` or ``unavailable``."""
    _emit("secret.failure", "secret %s for org %s key %s: %s", secret_name, org_id, key,
          outcome, org_id=org_id, config_key=key, secret_name=secret_name, outcome=outcome,
          tried=",".join(tried), error=error.__class__.__name__ if error else None)


class RunSecretReads:
    """The secrets one workflow run read: per (name, source), reads and fetches."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], list[int]] = {}

    def note(self, name: str, source: str, fetched: bool = False) -> None:
        counts = self.counts.get((name, source))
        if counts is None:
            counts = self.counts[(name, source)] = [0, 0]
        counts[0] += 1
        if fetched:
            counts[1] += 1

    def listing(self) -> list[dict[str, Any]]:
        return [{"name": name, "source": source, "reads": reads, "fetched": fetched}
                for (name, source), (reads, fetched) in sorted(self.counts.items())]


#: the secret reads of the workflow run under way in this context (None outside a run);
#: tasks a run starts (``asyncio.gather``) share its collector
RUN_READS: ContextVar[RunSecretReads | None] = ContextVar("orgconfig_run_reads", default=None)


def note_secret_read(name: str, source: str, fetched: bool = False) -> None:
    """Count one secret read in the run under way, if any."""
    reads = RUN_READS.get()
    if reads is not None:
        reads.note(name, source, fetched)


@contextmanager
def collect_secret_reads() -> Iterator[RunSecretReads]:
    """Collect the secret reads made inside the block (one workflow run)."""
    reads = RunSecretReads()
    token = RUN_READS.set(reads)
    try:
        yield reads
    finally:
        RUN_READS.reset(token)


def new_run_id() -> str:
    return uuid.uuid4().hex


def audit_run(
    run_id: str, workflow: str, org_id: str, outcome: str, duration_ms: float,
    reads: RunSecretReads, actor: Actor | None = None,
) -> None:
    """The one record of a workflow run, with the secrets it read (names, never values)."""
    listing = reads.listing()
    who = actor.dimensions() if actor is not None else {}
    _emit("workflow.run", "workflow %s for org %s: %s in %.1f ms, %d secret reads",
          workflow, org_id, outcome, duration_ms, sum(s["reads"] for s in listing),
          run_id=run_id, workflow=workflow, org_id=org_id, outcome=outcome,
          duration_ms=round(duration_ms, 1), secrets=listing, **who)

"""Cross-instance cache coherence through an append-only change log in Table Storage.

Every admin write appends one row to the log (``PartitionKey="_orgconfig"``, which no org
id can spell; ``RowKey="log~{microseconds}~{random}"``, time-ordered by the writer's
clock). Writers never touch a shared entity, so no write races another and none can go
unrecorded under contention: a create with a fresh key has nothing to conflict with.

Each instance reads the rows of the last :data:`LOOKBACK_SECONDS` (one range query in one
partition) every ``COHERENCE_CHECK_SECONDS`` in the background and drops exactly what the
rows it has not seen yet name. The window, not a watermark, decides what is read, so a
row that lands late (a slow write, a writer whose clock lags by less than the window) is
still seen. An instance whose last good check is older than half the window may have
missed rows that scrolled out of it: it drops everything. Rows older than
:data:`RETENTION_SECONDS` are deleted by the watchers, a batch at a time, so the log stays
bounded. A change whose row could not be written is retried in the background (a new row,
a new key) until it lands; the caller learns until when other instances may serve the
old value (:class:`Propagation`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared.backends.config_store import ConfigStore
from shared.core import telemetry
from shared.core.metrics import Metrics
from shared.errors import ConfigError

log = logging.getLogger("orgconfig.coherence")

SENTINEL_PARTITION = "_orgconfig"
ROW_PREFIX = "log~"
#: how far back every check reads: covers a write's own latency (a timed-out write may
#: still land), the check interval and clock skew between instances, with room to spare
LOOKBACK_SECONDS = 120.0
#: rows older than this are deleted; far beyond the window so no reader still needs them
RETENTION_SECONDS = 900.0
TRIM_INTERVAL_SECONDS = 60.0
TRIM_BATCH = 100
#: the background retry of a change that could not be recorded: first and longest pause
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Change:
    """One change: a scope's config (``secret=None``) or one secret of a scope."""

    row: str
    scope: str
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class Propagation:
    """A change this instance applied but could not record for the others (yet): other
    instances may serve the old value until ``until`` (their cache TTL), unless the
    background retry lands first."""

    scope: str
    secret: str | None
    until: datetime


#: the changes of the current request (its task) that could not be recorded yet: the HTTP
#: layer turns them into a response header
DELAYED: ContextVar[tuple[Propagation, ...]] = ContextVar("orgconfig_delayed", default=())


def row_key(at: float, suffix: str | None = None) -> str:
    """The log row key of a change at ``at`` (Unix seconds): sorts by time."""
    tail = uuid.uuid4().hex[:12] if suffix is None else suffix
    return f"{ROW_PREFIX}{round(at * 1_000_000):017d}~{tail}"


def _change(entity: Any) -> Change | None:
    scope = entity.get("Scope")
    if not isinstance(scope, str) or not scope:
        return None
    secret = entity.get("Secret")
    return Change(str(entity["RowKey"]), scope, secret if isinstance(secret, str) else None)


class ChangeSentinel:
    """Appends to and watches the change log. ``on_change(changes)`` gets the changes to
    drop, or ``None`` meaning "drop everything"."""

    def __init__(
        self,
        store: ConfigStore,
        metrics: Metrics,
        interval: float,
        on_change: Callable[[list[Change] | None], None],
        *,
        clock: Callable[[], float] = time.time,
        lookback: float = LOOKBACK_SECONDS,
        retention: float = RETENTION_SECONDS,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.interval = interval
        self.on_change = on_change
        self.clock = clock
        self.lookback = lookback
        self.retention = max(retention, 2 * lookback)
        #: row keys of the window already applied (pruned as the window moves)
        self.seen: set[str] = set()
        self.last_ok: float | None = None
        self._checked_once = False
        self._last_trim = 0.0
        self._task: asyncio.Task[None] | None = None
        self._started: asyncio.Task[None] | None = None
        self._retries: set[asyncio.Task[None]] = set()

    # -- writing --------------------------------------------------------------------------
    async def record(self, scope: str, secret: str | None = None) -> str:
        """Append one change row; returns its key. One create, never a race."""
        await self.store.ensure_table()
        key = row_key(self.clock())
        entity = {"PartitionKey": SENTINEL_PARTITION, "RowKey": key, "Scope": scope,
                  "At": datetime.now(UTC).isoformat(timespec="milliseconds")}
        if secret is not None:
            entity["Secret"] = secret
        client = self.store.client
        await self.store.call("a write of the change log", lambda: client.create_entity(entity))
        self.metrics.incr("coherence.recorded")
        return key

    def retry_in_background(self, scope: str, secret: str | None = None) -> None:
        """Keep trying to record a change until it lands (or this sentinel closes)."""
        task = asyncio.ensure_future(self._retry(scope, secret))
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def _retry(self, scope: str, secret: str | None) -> None:
        pause = RETRY_FIRST_SECONDS
        while True:
            await asyncio.sleep(pause * random.uniform(0.8, 1.2))  # noqa: S311 - jitter
            try:
                await self.record(scope, secret)
            except ConfigError as exc:
                self.metrics.incr("coherence.record_retry_failed")
                log.warning("change of %s still not recorded (%s); retrying", scope, exc)
                pause = min(pause * 2, RETRY_MAX_SECONDS)
                continue
            self.metrics.incr("coherence.record_retried")
            log.info("change of %s recorded after a retry", scope)
            return

    @property
    def pending(self) -> int:
        """Changes not recorded yet (their background retries still running)."""
        return len(self._retries)

    # -- reading --------------------------------------------------------------------------
    async def _read(self, since: float) -> list[Change]:
        client = self.store.client

        async def read() -> list[Any]:
            pager = client.query_entities(
                "PartitionKey eq @p and RowKey ge @lo and RowKey lt @hi",
                parameters={"p": SENTINEL_PARTITION, "lo": row_key(since, ""),
                            "hi": ROW_PREFIX + "z"},
                select=["RowKey", "Scope", "Secret"],
            )
            try:
                return [entity async for entity in pager]
            except ResourceNotFoundError:
                return []  # no table yet: no changes

        with telemetry.span("orgconfig.coherence.check") as span:
            rows = await self.store.call("a read of the change log", read, operation="change_log")
            changes = [c for c in (_change(e) for e in rows) if c is not None]
            span.set_attribute(telemetry.ROWS, len(changes))
            return changes

    async def check(self) -> None:
        """One range read of the window; hands the changes not seen yet to ``on_change``."""
        now = self.clock()
        since = now - self.lookback
        changes = await self._read(since)
        self.metrics.incr("coherence.checks")
        first, self._checked_once = not self._checked_once, True
        # rows a check can miss landed more than (lookback - time since the last check) late
        behind = self.last_ok is not None and now - self.last_ok > self.lookback / 2
        baseline = self.last_ok is None
        self.last_ok = now
        fresh = [c for c in changes if c.row not in self.seen]
        floor = row_key(since, "")
        self.seen = {key for key in self.seen if key >= floor} | {c.row for c in changes}
        if baseline:
            if not first:  # the baseline read failed earlier: what is cached may be old
                self.on_change(None)
            return
        if behind:
            # checks failed for longer than the window: rows may have scrolled out of it
            self.metrics.incr("coherence.fell_behind")
            self.on_change(None)
            return
        if fresh:
            self.metrics.incr("coherence.changes_seen")
            self.on_change(fresh)

    async def trim(self) -> int:
        """Delete one batch of rows older than the retention; returns how many."""
        client = self.store.client
        cutoff = row_key(self.clock() - self.retention, "")

        async def old_rows() -> list[Any]:
            pager = client.query_entities(
                "PartitionKey eq @p and RowKey ge @lo and RowKey lt @hi",
                parameters={"p": SENTINEL_PARTITION, "lo": ROW_PREFIX, "hi": cutoff},
                select=["PartitionKey", "RowKey"], results_per_page=TRIM_BATCH,
            )
            rows: list[Any] = []
            async for entity in pager:
                rows.append(entity)
                if len(rows) >= TRIM_BATCH:
                    break
            return rows

        rows = await self.store.call("a read of old change rows", old_rows)
        if not rows:
            return 0
        operations: list[Any] = [("delete", row) for row in rows]
        try:
            await self.store.call("a trim of the change log",
                                  lambda: client.submit_transaction(operations))
        except ConfigError:
            raise
        except Exception as exc:  # another instance trimmed the same rows first
            log.debug("change log trim skipped: %s", exc.__class__.__name__)
            return 0
        self.metrics.incr("coherence.trimmed", len(rows))
        return len(rows)

    # -- watching -------------------------------------------------------------------------
    async def start(self) -> None:
        """Read the baseline (before anything is cached), then watch in the background.
        Concurrent callers share the one start."""
        if self._started is None:
            self._started = asyncio.ensure_future(self._start())
        await asyncio.shield(self._started)

    async def _start(self) -> None:
        try:
            await self.check()
        except ConfigError as exc:
            self._checked_once = True
            log.warning("change log unreadable at start (%s); will retry", exc)
        self._task = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except ConfigError as exc:
                self.metrics.incr("coherence.check_failed")
                log.warning("change log check failed: %s", exc)
                continue
            if self.clock() - self._last_trim >= TRIM_INTERVAL_SECONDS:
                self._last_trim = self.clock()
                with contextlib.suppress(ConfigError):
                    await self.trim()

    async def aclose(self) -> None:
        for task in (self._task, self._started, *self._retries):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self._task = self._started = None
        self._retries.clear()


def propagation_until(ttl_seconds: float) -> datetime:
    """When other instances stop serving an old value at the latest: their cache TTL."""
    return datetime.now(UTC) + timedelta(seconds=ttl_seconds)

"""Cross-instance cache coherence through a change sentinel in Table Storage.

Every admin write bumps one sentinel entity (``PartitionKey="_orgconfig"``, which no
org id can spell) holding a version number and the log of the last changes. Each
instance reads it (one point read) every ``COHERENCE_CHECK_SECONDS`` in the
background and drops exactly what changed; if it fell behind the log, it drops
everything. So a change made through the API reaches every instance within that
interval, and a warm read never waits for the check.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.backends.config_store import ConfigStore
from shared.core.metrics import Metrics
from shared.errors import ConfigError

log = logging.getLogger("orgconfig.coherence")

SENTINEL_PARTITION = "_orgconfig"
SENTINEL_ROW = "changes"
LOG_SIZE = 100
BUMP_ATTEMPTS = 10


@dataclass(frozen=True, slots=True)
class Change:
    """One change: a scope's config (``secret=None``) or one secret of a scope."""

    version: int
    scope: str
    secret: str | None = None


def _decode(entity: Any) -> tuple[int, list[Change]]:
    try:
        version = int(entity.get("Version", 0))
        raw = json.loads(entity.get("Changes") or "[]")
        changes = [Change(int(c["v"]), str(c["scope"]), c.get("secret")) for c in raw]
    except (ValueError, TypeError, KeyError):
        log.warning("change sentinel is unreadable; treating it as a full change")
        return -1, []
    return version, changes


def _encode(changes: list[Change]) -> str:
    return json.dumps([{"v": c.version, "scope": c.scope, "secret": c.secret} for c in changes])


class ChangeSentinel:
    """Bumps and watches the sentinel. ``on_change(changes)`` gets the changes to drop,
    or ``None`` meaning "drop everything"."""

    def __init__(
        self,
        store: ConfigStore,
        metrics: Metrics,
        interval: float,
        on_change: Callable[[list[Change] | None], None],
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.interval = interval
        self.on_change = on_change
        self.seen: int | None = None
        self._checked_once = False
        self._task: asyncio.Task[None] | None = None
        self._started: asyncio.Task[None] | None = None

    async def _read(self) -> tuple[int, list[Change], str | None]:
        client = self.store.client

        async def read() -> Any:
            try:
                return await client.get_entity(SENTINEL_PARTITION, SENTINEL_ROW)
            except ResourceNotFoundError:
                return None

        entity = await self.store.call("a read of the change sentinel", read)
        if entity is None:
            return 0, [], None
        version, changes = _decode(entity)
        return version, changes, entity.metadata.get("etag")

    async def bump(self, scope: str, secret: str | None = None) -> int:
        """Record a change; returns the new version. Retries lost races on the ETag."""
        await self.store.ensure_table()
        client = self.store.client
        for _ in range(BUMP_ATTEMPTS):
            version, changes, etag = await self._read()
            version = max(version, 0) + 1
            changes = [*changes, Change(version, scope, secret)][-LOG_SIZE:]
            entity = {
                "PartitionKey": SENTINEL_PARTITION, "RowKey": SENTINEL_ROW, "Version": version,
                "Changes": _encode(changes),
                "UpdatedAt": datetime.now(UTC).isoformat(timespec="seconds"),
            }

            async def write(entity: dict[str, Any] = entity, etag: str | None = etag) -> None:
                if etag is None:
                    await client.create_entity(entity)
                else:
                    await client.update_entity(
                        entity, mode=UpdateMode.REPLACE, etag=etag,
                        match_condition=MatchConditions.IfNotModified,
                    )

            try:
                await self.store.call("a write of the change sentinel", write)
            except (ResourceExistsError, ResourceModifiedError):
                self.metrics.incr("coherence.bump_retry")
                await asyncio.sleep(random.uniform(0.005, 0.05))  # noqa: S311 - backoff jitter
                continue
            self.metrics.incr("coherence.bumps")
            return version
        raise ConfigError("could not record the change: the sentinel is too contended")

    async def check(self) -> None:
        """One point read; hands what changed since the last check to ``on_change``."""
        version, changes, _ = await self._read()
        self.metrics.incr("coherence.checks")
        seen, self.seen = self.seen, version
        first, self._checked_once = not self._checked_once, True
        if seen is None:
            if not first:  # the baseline read failed earlier: what is cached may be old
                self.on_change(None)
            return
        if version == seen:
            return
        known = {c.version for c in changes}
        missing = version < seen or version < 0 or any(
            v not in known for v in range(seen + 1, version + 1))
        self.metrics.incr("coherence.changes_seen")
        if missing:
            self.on_change(None)
        else:
            self.on_change([c for c in changes if c.version > seen])

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
            log.warning("change sentinel unreadable at start (%s); will retry", exc)
        self._task = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except ConfigError as exc:
                self.metrics.incr("coherence.check_failed")
                log.warning("change sentinel check failed: %s", exc)

    async def aclose(self) -> None:
        for task in (self._task, self._started):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self._task = self._started = None

"""An expiring cache with single-flight loads, jittered TTLs, refresh-ahead and stale-if-error.

The one caching implementation behind config snapshots and secret lookups:

- concurrent misses for one key share one load (one backend call);
- each TTL is shortened by up to ``jitter`` so instances do not expire together;
- a value read in the last ``refresh_ahead`` fraction of its life is reloaded in
  the background, so warm reads do not wait on the network;
- when a reload fails with :class:`BackendUnavailableError`, the last good value
  is served for up to ``max_stale`` seconds past its expiry. Any other error (a
  403, a definitive not-found answer) propagates: it is never hidden.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from shared.core.audit import log_fields
from shared.core.metrics import Metrics
from shared.errors import BackendUnavailableError

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Loader = Callable[[], Awaitable[tuple[V, float]]]
"""Loads a value and returns it with its TTL in seconds."""


@dataclass(slots=True)
class CacheEntry(Generic[V]):
    value: V
    fetched_at: float
    expires_at: float
    ttl: float
    #: served past its expiry because refreshing failed; kept until ``stale_until``
    stale: bool = False
    stale_until: float = 0.0

    def __repr__(self) -> str:  # values may be secrets: never shown
        return f"CacheEntry(ttl={self.ttl:.1f}, fetched_at={self.fetched_at:.3f})"


@dataclass(slots=True, frozen=True)
class Lookup(Generic[V]):
    """The result of :meth:`ExpiringCache.get`: the entry, whether it came from cache, and
    whether it is stale (served because its refresh failed)."""

    entry: CacheEntry[V]
    hit: bool
    stale: bool = False
    age: float = 0.0
    #: a miss that waited for a load another caller had started (single flight)
    joined: bool = False

    @property
    def value(self) -> V:
        return self.entry.value

    @property
    def outcome(self) -> str:
        """``hit``, ``stale``, ``miss`` or ``joined`` (telemetry's cache attribute)."""
        if self.stale:
            return "stale"
        if self.hit:
            return "hit"
        return "joined" if self.joined else "miss"


class RateLimitedWarning:
    """Logs a warning about one key at most once per ``every`` seconds, so a condition
    that lasts (an outage, drift, an expired secret) does not flood the logs."""

    def __init__(self, logger: logging.Logger, event: str, every: float = 300.0) -> None:
        self.logger, self.event, self.every = logger, event, every
        self._logged: dict[Hashable, float] = {}

    def __call__(self, key: Hashable, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._logged.get(key, -self.every) < self.every:
            return
        self._logged[key] = now
        self.logger.warning(message, *args, extra=log_fields(
            key=str(key), event=self.event))


class StaleReporter:
    """The ``on_stale`` of a store: counts each failed refresh that left a value stale in
    ``metric`` and logs a warning at most once per key per ``every`` seconds."""

    def __init__(
        self, metrics: Metrics, metric: str, what: str, logger: logging.Logger,
        every: float = 60.0,
    ) -> None:
        self.metrics, self.metric, self.what = metrics, metric, what
        self.every = every
        self._warn = RateLimitedWarning(logger, "stale_served", every)

    def __call__(self, key: Hashable, exc: BackendUnavailableError) -> None:
        self.metrics.incr(self.metric)
        self._warn(key, "serving stale %s %s (warnings for it paused %.0fs): %s",
                   self.what, key, self.every, exc)


class ExpiringCache(Generic[K, V]):
    """See the module docstring. Not thread-safe: use from one event loop."""

    def __init__(
        self,
        *,
        jitter: float = 0.1,
        refresh_ahead: float = 0.1,
        max_stale: float = 0.0,
        stale_retry: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        on_stale: Callable[[K, BackendUnavailableError], None] | None = None,
    ) -> None:
        self._entries: dict[K, CacheEntry[V]] = {}
        self._inflight: dict[K, asyncio.Task[CacheEntry[V]]] = {}
        self._background: set[asyncio.Task[CacheEntry[V]]] = set()
        self.jitter = jitter
        self.refresh_ahead = refresh_ahead
        self.max_stale = max_stale
        self.stale_retry = stale_retry
        self.clock = clock
        self.on_stale = on_stale
        #: bumped by every change of what the cache holds (a value stored, a key dropped),
        #: so a reader can tell that nothing changed while it awaited (see shared.read.answers)
        self.generation = 0
        #: called after every invalidation (the resolver drops its memoized answers)
        self.on_invalidate: Callable[[], None] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[K]:
        """The keys of the cached entries (fresh or expired)."""
        return list(self._entries)

    def peek(self, key: K) -> CacheEntry[V] | None:
        """The entry for ``key``, fresh or expired, without loading."""
        return self._entries.get(key)

    def is_fresh(self, key: K) -> bool:
        entry = self._entries.get(key)
        return entry is not None and self.clock() < entry.expires_at

    def put(self, key: K, value: V, ttl: float) -> CacheEntry[V]:
        now = self.clock()
        life = ttl * (1.0 - self.jitter * random.random())  # noqa: S311 - not crypto
        entry = CacheEntry(value, now, now + life, life)
        self._entries[key] = entry
        self.generation += 1
        return entry

    def invalidate(self, key: K) -> None:
        """Forget ``key`` and any load of it under way (its result will not be stored)."""
        self._entries.pop(key, None)
        self._inflight.pop(key, None)
        self._invalidated()

    def invalidate_where(self, predicate: Callable[[K], bool]) -> int:
        keys = [k for k in self._entries if predicate(k)]
        keys += [k for k in self._inflight if predicate(k) and k not in keys]
        for key in keys:
            self._entries.pop(key, None)
            self._inflight.pop(key, None)
        self._invalidated()
        return len(keys)

    def clear(self) -> None:
        self._entries.clear()
        self._inflight.clear()
        self._invalidated()

    def _invalidated(self) -> None:
        self.generation += 1
        if self.on_invalidate is not None:
            self.on_invalidate()

    def oldest_stale_age(self) -> float:
        """Seconds since the oldest value now served stale was fetched (0 when none is)."""
        now = self.clock()
        return max((now - e.fetched_at for e in self._entries.values() if e.stale),
                   default=0.0)

    def fresh_for(self, key: K) -> float:
        """Seconds until ``key``'s value stops being served without a backend call: until
        its refresh-ahead window opens (a read then starts a background reload), or 0 if it
        is absent, expired or stale."""
        entry = self._entries.get(key)
        if entry is None or entry.stale:
            return 0.0
        return max(0.0, entry.expires_at - entry.ttl * self.refresh_ahead - self.clock())

    async def get(self, key: K, loader: Loader[V]) -> Lookup[V]:
        """Return the cached value of ``key`` or load it (see the module docstring)."""
        entry = self._entries.get(key)
        now = self.clock()
        if entry is not None and now < entry.expires_at:
            if (
                not entry.stale
                and self.refresh_ahead > 0
                and entry.expires_at - now < entry.ttl * self.refresh_ahead
                and key not in self._inflight
            ):
                self._refresh_in_background(key, loader)
            return Lookup(entry, hit=True, stale=entry.stale, age=now - entry.fetched_at)
        joined = key in self._inflight
        try:
            fresh = await self._load_shared(key, loader)
        except BackendUnavailableError as exc:
            if entry is None:
                raise
            deadline = entry.stale_until if entry.stale else entry.expires_at + self.max_stale
            if now > deadline:
                raise
            # serve the last good value, and try the backend again after stale_retry
            # rather than on every read: an outage must not slow reads down
            entry.stale, entry.stale_until = True, deadline
            entry.expires_at = min(now + self.stale_retry, deadline)
            if self.on_stale is not None:
                self.on_stale(key, exc)
            return Lookup(entry, hit=True, stale=True, age=now - entry.fetched_at)
        return Lookup(fresh, hit=False, joined=joined)

    async def _load_shared(self, key: K, loader: Loader[V]) -> CacheEntry[V]:
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._load(key, loader))
            self._inflight[key] = task
        # shield: one cancelled waiter must not cancel the load the others share
        return await asyncio.shield(task)

    async def _load(self, key: K, loader: Loader[V]) -> CacheEntry[V]:
        owned = True
        try:
            value, ttl = await loader()
        finally:
            # invalidate() drops the in-flight task: its result must not be kept
            owned = self._inflight.get(key) is asyncio.current_task()
            if owned:
                del self._inflight[key]
        if not owned:
            now = self.clock()
            return CacheEntry(value, now, now, 0.0)
        return self.put(key, value, ttl)

    def _refresh_in_background(self, key: K, loader: Loader[V]) -> None:
        task = asyncio.ensure_future(self._load(key, loader))
        self._inflight[key] = task
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[CacheEntry[V]]) -> None:
        self._background.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a failed refresh-ahead is retried on the next read

    async def aclose(self) -> None:
        """Cancel background refreshes (the resolver calls this when it closes)."""
        tasks = list(self._background) + list(self._inflight.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        self._background.clear()
        self._inflight.clear()

"""Process-local tallies: what the resolver counts, read by ``resolver.metrics`` and
``health/keyvault``, and exported as OpenTelemetry instruments (:mod:`shared.core.telemetry`).

A tally is a plain int under a dotted name (``vault.get``, ``config.cache_hit``): counting
costs a dict update, and the OpenTelemetry SDK reads the process's totals only when it
collects. The totals are monotonic: :meth:`Metrics.reset` clears one resolver's view,
never what was exported.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Callable, Iterator

#: every tally of the process, since it started (what the OpenTelemetry counters report)
_TOTALS: Counter[str] = Counter()
#: the live Metrics objects (their flushers run before the totals are read)
_LIVE: weakref.WeakSet[Metrics] = weakref.WeakSet()

Gauge = Callable[[], list[tuple[dict[str, str], float]]]


def process_totals() -> dict[str, int]:
    """Every tally of the process (all resolvers, closed ones included), flushed first."""
    for live in list(_LIVE):
        live._flush()
    return dict(_TOTALS)


def gauge_readings(name: str) -> Iterator[tuple[dict[str, str], float]]:
    """The readings of gauge ``name`` of every live Metrics: (attributes, value) pairs."""
    for live in list(_LIVE):
        for read in live._gauges.get(name, ()):
            yield from read()


class Metrics:
    """Named monotonically increasing counters, e.g. ``vault.get`` or ``config.cache_hit``.

    A hot path may count in a plain attribute of its own and register a *flusher* that
    adds those counts here: every read of the counters flushes first, so they are exact.
    """

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._flushers: list[Callable[[], None]] = []
        self._gauges: dict[str, list[Gauge]] = {}
        _LIVE.add(self)

    def add_flusher(self, flush: Callable[[], None]) -> None:
        """Call ``flush`` (which calls :meth:`incr`) before counters are read."""
        self._flushers.append(flush)

    def add_gauge(self, name: str, read: Gauge) -> None:
        """Report ``read()`` under the gauge ``name`` (``cache.entries``...) at collection."""
        self._gauges.setdefault(name, []).append(read)

    def retire(self) -> None:
        """The owner closed: fold in what is pending, stop reporting gauges (a closed
        resolver holds nothing), leave the totals (they are monotonic)."""
        self._flush()
        self._gauges.clear()
        _LIVE.discard(self)

    def _flush(self) -> None:
        for flush in self._flushers:
            flush()

    def incr(self, name: str, amount: int = 1, *, export: str | None = "") -> None:
        """Count ``amount`` under ``name``; the process total (what OpenTelemetry reports)
        under ``export`` instead when given, or not at all when None."""
        self._counts[name] += amount
        if export is not None:
            _TOTALS[export or name] += amount

    def get(self, name: str) -> int:
        self._flush()
        return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        """A copy of every counter, sorted by name."""
        self._flush()
        return dict(sorted(self._counts.items()))

    def reset(self) -> None:
        self._flush()
        self._counts.clear()

"""Process-local counters readable from the resolver (and reported by health/keyvault)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable


class Metrics:
    """Named monotonically increasing counters, e.g. ``vault.get`` or ``config.cache_hit``.

    A hot path may count in a plain attribute of its own and register a *flusher* that
    adds those counts here: every read of the counters flushes first, so they are exact.
    """

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._flushers: list[Callable[[], None]] = []

    def add_flusher(self, flush: Callable[[], None]) -> None:
        """Call ``flush`` (which calls :meth:`incr`) before counters are read."""
        self._flushers.append(flush)

    def _flush(self) -> None:
        for flush in self._flushers:
            flush()

    def incr(self, name: str, amount: int = 1) -> None:
        self._counts[name] += amount

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

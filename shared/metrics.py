"""Process-local counters readable from the resolver (and reported by health/keyvault)."""

from __future__ import annotations

from collections import Counter


class Metrics:
    """Named monotonically increasing counters, e.g. ``vault.get`` or ``config.cache_hit``."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def incr(self, name: str, amount: int = 1) -> None:
        self._counts[name] += amount

    def get(self, name: str) -> int:
        return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        """A copy of every counter, sorted by name."""
        return dict(sorted(self._counts.items()))

    def reset(self) -> None:
        self._counts.clear()

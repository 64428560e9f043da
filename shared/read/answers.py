"""The memo of final answers: what ``get_config(key)`` returned for an org, kept until the
first thing it was built from needs the backend again.

A warm ``get_config`` is then one dict lookup and one clock read. An answer is built
from the org's and GLOBAL's config snapshots and, for a ``secret_ref``, the vault
answers of the names tried; it stays valid until the earliest moment one of them
expires *or enters its refresh-ahead window*, so the read after that goes through the
caches again and starts the background reload as before (TTL jitter, refresh-ahead,
single-flight and stale-if-error all stay in :mod:`shared.core.cache`). Not memoized:

- an answer built while any cache changed (a value stored, a key dropped: the caches'
  ``generation``), since it may mix old and new inputs; the next read builds it again;
- an answer served stale (so each stale serve is still counted and retried), a
  failure (a failure is raised, and audited, on every read).

Every invalidation of either cache (a write in this instance, the change sentinel of
another, a Key Vault event, ``invalidate()``) drops every answer. A hit counts in a
plain int of its answer; :meth:`AnswerMemo.flush` adds those to the counters the
caches would have counted, before anyone reads ``metrics``, so they stay exact.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from shared.core.metrics import Metrics

#: the answer "this key exists neither for the org nor in GLOBAL" (``default`` applies)
ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "ABSENT", "__slots__": ()})()
#: answers kept per org at most: a workflow asking for ever new absent keys cannot grow it
MAX_PER_ORG = 4096


class Answer:
    """One memoized answer. ``value`` may be a secret: never shown by ``repr``."""

    __slots__ = ("counts", "hits", "secret", "source", "until", "value")

    def __init__(
        self, value: Any, until: float, counts: tuple[tuple[str, int], ...],
        secret: str | None = None, source: str = "",
    ) -> None:
        self.value = value
        self.until = until
        #: what one hit would have counted in the caches' metrics
        self.counts = counts
        self.hits = 0
        #: for a secret_ref: the bare secret name and where it came from (run audit)
        self.secret = secret
        self.source = source

    def __repr__(self) -> str:
        return f"Answer(secret={self.secret!r}, hits={self.hits})"


class AnswerMemo:
    """Answers per org and key (see the module docstring). One per resolver."""

    def __init__(self, metrics: Metrics, clock: Callable[[], float] = time.monotonic) -> None:
        self.metrics = metrics
        self.clock = clock
        self._orgs: dict[str, dict[str, Answer]] = {}
        metrics.add_flusher(self.flush)

    def of_org(self, org_id: str) -> dict[str, Answer]:
        """The org's answers by key: a context keeps this dict and reads it directly."""
        answers = self._orgs.get(org_id)
        if answers is None:
            answers = self._orgs[org_id] = {}
        return answers

    def store(self, org_id: str, key: str, answer: Answer) -> None:
        answers = self.of_org(org_id)
        if len(answers) >= MAX_PER_ORG:
            self._flush(answers)
            answers.clear()
        old = answers.get(key)
        if old is not None and old.hits:
            self._fold(old)
        answers[key] = answer

    def clear(self) -> None:
        """Drop every answer (the caches changed). The dicts are emptied in place: the
        contexts reading them see it at once."""
        for answers in self._orgs.values():
            self._flush(answers)
            answers.clear()

    def flush(self) -> None:
        """Add the hits counted in the answers to the metrics."""
        for answers in self._orgs.values():
            self._flush(answers)

    def _flush(self, answers: dict[str, Answer]) -> None:
        for answer in answers.values():
            if answer.hits:
                self._fold(answer)

    def _fold(self, answer: Answer) -> None:
        hits, answer.hits = answer.hits, 0
        incr = self.metrics.incr
        incr("answer.memo_hit", hits)
        for name, per_hit in answer.counts:
            incr(name, per_hit * hits)

    def __len__(self) -> int:
        return sum(len(answers) for answers in self._orgs.values())

"""A circuit breaker per backend: stop hammering a store that is down.

After ``threshold`` consecutive transient failures the breaker opens: calls fail
fast with :class:`BackendUnavailableError` (so callers serve stale values at once)
for ``cooldown`` seconds from the moment it opened. Then one probe call is let
through: its success closes the breaker, its failure opens it for another cool-down
from the probe's failure. Only transient failures count; a 404 or a 403 is an
answer, not an outage.

Each opening starts a new *generation*; every call remembers the generation it was
admitted in and whether it was the probe. A call admitted before the current opening
that fails later (a timeout up to BACKEND_TIMEOUT_SECONDS after it was sent) tells
nothing new: it neither moves the opening time (which would restart the cool-down
from the last stale timeout and make an outage last up to a cool-down longer) nor
frees or takes the probe slot. A late *success* of such a call closes the breaker:
the backend answered.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Literal, NamedTuple, TypeVar

from shared.core import telemetry
from shared.core.metrics import Metrics
from shared.errors import BackendUnavailableError

T = TypeVar("T")
State = Literal["closed", "open", "half_open"]


class _Ticket(NamedTuple):
    """What a call was admitted as: the breaker generation then, and whether it is the probe."""

    generation: int
    probe: bool


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        backend: str,
        metrics: Metrics,
        *,
        threshold: int = 5,
        cooldown: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name  # short, for metric names: "vault", "table"
        self.backend = backend
        self.metrics = metrics
        self.threshold = threshold
        self.cooldown = cooldown
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self._probing = False
        self._generation = 0  # bumped at each opening (a failed probe's re-opening too)
        self.last_success: float | None = None  # wall clock, for health reports
        self.last_error: str | None = None

    @property
    def state(self) -> State:
        if self.opened_at is None:
            return "closed"
        if self._probing or self.clock() - self.opened_at >= self.cooldown:
            return "half_open"
        return "open"

    def _admit(self) -> _Ticket | None:
        """Whether a call may go to the backend now: its ticket, or None to fail fast.
        Half-open (``opened_at + cooldown`` reached), exactly one probe is let through."""
        if self.opened_at is None:
            return _Ticket(self._generation, probe=False)
        if self._probing or self.clock() - self.opened_at < self.cooldown:
            return None
        self._probing = True
        return _Ticket(self._generation, probe=True)

    def _is_current_probe(self, ticket: _Ticket) -> bool:
        """Whether ``ticket`` is the probe of the opening still in force (not one whose
        opening a late success has closed since, or a newer opening replaced)."""
        return ticket.probe and ticket.generation == self._generation and \
            self.opened_at is not None

    async def call(self, op: Callable[[], Awaitable[T]]) -> T:
        ticket = self._admit()
        if ticket is None:
            self.metrics.incr(f"breaker.{self.name}.fast_fail")
            remaining = max(0.0, self.cooldown - (self.clock() - (self.opened_at or 0)))
            raise BackendUnavailableError(
                self.backend,
                f"{self.backend} is failing ({self.last_error or 'repeated errors'}); "
                f"calls are paused for {remaining:.0f}s more before a probe",
            )
        try:
            result = await op()
        except BackendUnavailableError as exc:
            self._failure(str(exc), ticket)
            raise
        except Exception:
            # an answer that is not an outage (404, 403, ...) proves the backend is up
            self._success()
            raise
        except BaseException:  # cancelled: no verdict, but free the probe slot (its own)
            if self._is_current_probe(ticket):
                self._probing = False
            raise
        self._success()
        return result

    def _success(self) -> None:
        if self.opened_at is not None:
            self.metrics.incr(f"breaker.{self.name}.closed")
            telemetry.breakers_open.add(-1, {telemetry.BREAKER: self.name})
        self.failures = 0
        self.opened_at = None
        self._probing = False
        self.last_success = time.time()

    def _open(self) -> None:
        """Open (or re-open after a failed probe) now: a new generation, no probe."""
        self.metrics.incr(f"breaker.{self.name}.opened")
        if self.opened_at is None:  # a failed probe re-opens an open breaker: counted once
            telemetry.breakers_open.add(1, {telemetry.BREAKER: self.name})
        self.opened_at = self.clock()
        self._generation += 1
        self._probing = False

    def _failure(self, message: str, ticket: _Ticket) -> None:
        self.last_error = message[:200]
        if self._is_current_probe(ticket):
            self.failures += 1
            self._open()  # the probe's own failure: another cool-down from now
        elif ticket.generation != self._generation:
            # admitted before the current (or last) opening and failing late: already
            # accounted for; the opening time and the probe slot stay as they are
            self.metrics.incr(f"breaker.{self.name}.late_failure")
        else:  # admitted while closed, and the breaker has not opened since
            self.failures += 1
            if self.failures >= self.threshold:
                self._open()

    def snapshot(self) -> dict[str, str | int | float | None]:
        return {"state": self.state, "consecutive_failures": self.failures,
                "last_success": self.last_success, "last_error": self.last_error}

"""A circuit breaker per backend: stop hammering a store that is down.

After ``threshold`` consecutive transient failures the breaker opens: calls fail
fast with :class:`BackendUnavailableError` (so callers serve stale values at once)
for ``cooldown`` seconds. Then one probe call is let through: its success closes
the breaker, its failure opens it for another cool-down. Only transient failures
count; a 404 or a 403 is an answer, not an outage.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

from shared.core.metrics import Metrics
from shared.errors import BackendUnavailableError

T = TypeVar("T")
State = Literal["closed", "open", "half_open"]


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
        self.last_success: float | None = None  # wall clock, for health reports
        self.last_error: str | None = None

    @property
    def state(self) -> State:
        if self.opened_at is None:
            return "closed"
        if self._probing or self.clock() - self.opened_at >= self.cooldown:
            return "half_open"
        return "open"

    def _admit(self) -> bool:
        """Whether a call may go to the backend now (True for the one half-open probe)."""
        if self.opened_at is None:
            return True
        if self._probing or self.clock() - self.opened_at < self.cooldown:
            return False
        self._probing = True
        return True

    async def call(self, op: Callable[[], Awaitable[T]]) -> T:
        if not self._admit():
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
            self._failure(str(exc))
            raise
        except Exception:
            # an answer that is not an outage (404, 403, ...) proves the backend is up
            self._success()
            raise
        except BaseException:  # cancelled: no verdict, but free the probe slot
            self._probing = False
            raise
        self._success()
        return result

    def _success(self) -> None:
        if self.opened_at is not None:
            self.metrics.incr(f"breaker.{self.name}.closed")
        self.failures = 0
        self.opened_at = None
        self._probing = False
        self.last_success = time.time()

    def _failure(self, message: str) -> None:
        self.failures += 1
        self.last_error = message[:200]
        if self._probing or self.failures >= self.threshold:
            if self.opened_at is None or self._probing:
                self.metrics.incr(f"breaker.{self.name}.opened")
            self.opened_at = self.clock()
        self._probing = False

    def snapshot(self) -> dict[str, str | int | float | None]:
        return {"state": self.state, "consecutive_failures": self.failures,
                "last_success": self.last_success, "last_error": self.last_error}

"""The circuit breaker: opens after consecutive outages, fails fast, probes once."""

from __future__ import annotations

import asyncio

import pytest

from shared.core.breaker import CircuitBreaker
from shared.core.metrics import Metrics
from shared.errors import BackendUnavailableError, SecretAccessError


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, metrics: Metrics | None = None) -> CircuitBreaker:
    return CircuitBreaker("vault", "Key Vault", metrics or Metrics(), threshold=3, cooldown=10,
                          clock=clock)


async def down() -> None:
    raise BackendUnavailableError("Key Vault", "down")


async def up() -> str:
    return "ok"


async def test_opens_after_threshold_consecutive_failures_and_fails_fast() -> None:
    clock, metrics = Clock(), Metrics()
    b = breaker(clock, metrics)
    calls = 0

    async def counted_down() -> None:
        nonlocal calls
        calls += 1
        await down()

    for _ in range(3):
        with pytest.raises(BackendUnavailableError):
            await b.call(counted_down)
    assert b.state == "open"
    with pytest.raises(BackendUnavailableError, match="paused"):
        await b.call(counted_down)
    assert calls == 3 and metrics.get("breaker.vault.fast_fail") == 1


async def test_a_success_resets_the_count() -> None:
    b = breaker(Clock())
    for _ in range(2):
        with pytest.raises(BackendUnavailableError):
            await b.call(down)
    assert await b.call(up) == "ok"
    with pytest.raises(BackendUnavailableError):
        await b.call(down)
    assert b.state == "closed"


async def test_answers_that_are_not_outages_do_not_open_it() -> None:
    b = breaker(Clock())

    async def denied() -> None:
        raise SecretAccessError("403")

    for _ in range(5):
        with pytest.raises(SecretAccessError):
            await b.call(denied)
    assert b.state == "closed"


async def test_after_cooldown_one_probe_decides() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        with pytest.raises(BackendUnavailableError):
            await b.call(down)
    clock.now = 10
    assert b.state == "half_open"
    gate = asyncio.Event()

    async def slow_up() -> str:
        await gate.wait()
        return "ok"

    probe = asyncio.ensure_future(b.call(slow_up))
    await asyncio.sleep(0)
    with pytest.raises(BackendUnavailableError):  # only one probe at a time
        await b.call(up)
    gate.set()
    assert await probe == "ok" and b.state == "closed"


async def test_a_failed_probe_reopens_for_another_cooldown() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        with pytest.raises(BackendUnavailableError):
            await b.call(down)
    clock.now = 10
    with pytest.raises(BackendUnavailableError):
        await b.call(down)
    assert b.state == "open"
    clock.now = 19
    assert b.state == "open"
    clock.now = 20.5
    assert await b.call(up) == "ok"


async def test_a_cancelled_probe_frees_the_probe_slot() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        with pytest.raises(BackendUnavailableError):
            await b.call(down)
    clock.now = 10
    probe = asyncio.ensure_future(b.call(asyncio.Event().wait))
    await asyncio.sleep(0)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert await b.call(up) == "ok"


# -- calls in flight across an opening (issue 24.2) -------------------------------------------
class InFlight:
    """One scripted backend call held in flight until ``finish`` decides its outcome."""

    def __init__(self, b: CircuitBreaker) -> None:
        self.started = False
        self._gate = asyncio.Event()
        self._ok = True
        self.task = asyncio.ensure_future(b.call(self._op))

    async def _op(self) -> str:
        self.started = True
        await self._gate.wait()
        if not self._ok:
            raise BackendUnavailableError("Key Vault", "did not answer within 5s")
        return "ok"

    async def finish(self, ok: bool) -> None:
        """Let the call end now (at the fake clock's time) with a success or an outage."""
        self._ok = ok
        self._gate.set()
        if ok:
            assert await self.task == "ok"
        else:
            with pytest.raises(BackendUnavailableError):
                await self.task


async def in_flight(b: CircuitBreaker, n: int) -> list[InFlight]:
    calls = [InFlight(b) for _ in range(n)]
    await asyncio.sleep(0)  # let each reach the backend (or fail fast)
    return calls


async def opened_with_stragglers(
    clock: Clock, b: CircuitBreaker, stragglers: int
) -> list[InFlight]:
    """``3 + stragglers`` calls admitted while closed at t=0; three time out at t=1 and open
    the breaker; the stragglers are still in flight."""
    calls = await in_flight(b, 3 + stragglers)
    assert all(c.started for c in calls)
    clock.now = 1
    for c in calls[:3]:
        await c.finish(ok=False)
    assert b.state == "open" and b.opened_at == 1
    return calls[3:]


async def test_late_failures_of_calls_admitted_before_the_opening_do_not_extend_the_cooldown(
) -> None:
    clock, metrics = Clock(), Metrics()
    b = breaker(clock, metrics)
    stragglers = await opened_with_stragglers(clock, b, 2)
    clock.now = 5  # they time out up to BACKEND_TIMEOUT_SECONDS after they were sent
    for c in stragglers:
        await c.finish(ok=False)
    assert b.opened_at == 1 and b.state == "open"
    assert metrics.get("breaker.vault.opened") == 1
    assert metrics.get("breaker.vault.late_failure") == 2
    clock.now = 10.9
    with pytest.raises(BackendUnavailableError, match="paused"):
        await b.call(up)
    clock.now = 11  # opened + cooldown, not last stale timeout + cooldown
    assert b.state == "half_open"
    assert await b.call(up) == "ok" and b.state == "closed"


async def test_late_failures_do_not_free_the_probe_slot() -> None:
    clock = Clock()
    b = breaker(clock)
    [straggler] = await opened_with_stragglers(clock, b, 1)
    clock.now = 11
    [probe] = await in_flight(b, 1)
    assert probe.started and b.state == "half_open"
    clock.now = 12  # a call sent before the opening times out while the probe is out
    await straggler.finish(ok=False)
    assert b.opened_at == 1 and b.state == "half_open"
    [second] = await in_flight(b, 1)
    assert not second.started  # still only the one probe
    with pytest.raises(BackendUnavailableError, match="paused"):
        await second.task
    await probe.finish(ok=True)
    assert b.state == "closed"


async def test_the_probes_failure_reopens_from_its_own_time() -> None:
    clock, metrics = Clock(), Metrics()
    b = breaker(clock, metrics)
    [straggler] = await opened_with_stragglers(clock, b, 1)
    clock.now = 11
    [probe] = await in_flight(b, 1)
    clock.now = 13
    await probe.finish(ok=False)
    assert b.opened_at == 13 and b.state == "open"
    assert metrics.get("breaker.vault.opened") == 2
    clock.now = 15  # a call from before the first opening fails later still: no effect
    await straggler.finish(ok=False)
    assert b.opened_at == 13
    clock.now = 22.9
    assert b.state == "open"
    clock.now = 23
    assert await b.call(up) == "ok" and b.state == "closed"


async def test_after_the_cooldown_exactly_one_probe_is_admitted() -> None:
    clock = Clock()
    b = breaker(clock)
    stragglers = await opened_with_stragglers(clock, b, 3)
    clock.now = 11
    callers = await in_flight(b, 8)
    assert [c.started for c in callers] == [True] + [False] * 7
    for c in callers[1:]:
        with pytest.raises(BackendUnavailableError, match="paused"):
            await c.task
    for c in stragglers:  # late failures neither free the slot nor restart the cool-down
        await c.finish(ok=False)
    more = await in_flight(b, 4)
    assert not any(c.started for c in more)
    for c in more:
        with pytest.raises(BackendUnavailableError):
            await c.task
    await callers[0].finish(ok=True)
    assert b.state == "closed"
    assert all(c.started for c in await in_flight(b, 3))  # closed: everyone goes through


async def test_a_late_success_of_a_call_from_before_the_opening_closes_it() -> None:
    clock = Clock()
    b = breaker(clock)
    [straggler] = await opened_with_stragglers(clock, b, 1)
    clock.now = 3
    await straggler.finish(ok=True)  # the backend answered after all
    assert b.state == "closed" and b.failures == 0


async def test_a_probe_overtaken_by_a_late_success_neither_reopens_nor_frees_a_newer_slot(
) -> None:
    clock = Clock()
    b = breaker(clock)
    [straggler] = await opened_with_stragglers(clock, b, 1)
    clock.now = 11
    [probe] = await in_flight(b, 1)
    await straggler.finish(ok=True)  # closes the breaker while the probe is still out
    assert b.state == "closed"
    clock.now = 12
    await probe.finish(ok=False)  # now an ordinary failure of a closed breaker
    assert b.state == "closed" and b.failures == 1


async def test_a_cancelled_stale_probe_does_not_free_the_current_probe_slot() -> None:
    clock = Clock()
    b = breaker(clock)
    await opened_with_stragglers(clock, b, 0)
    clock.now = 11
    [old_probe] = await in_flight(b, 1)
    await old_probe.finish(ok=True)  # closed ...
    calls = await in_flight(b, 4)
    clock.now = 12
    await calls[0].finish(ok=False)
    await calls[1].finish(ok=False)
    await calls[2].finish(ok=False)  # ... and open again (a new generation)
    clock.now = 22
    [probe] = await in_flight(b, 1)
    assert probe.started
    calls[3].task.cancel()  # an old call, not this opening's probe, is cancelled
    with pytest.raises(asyncio.CancelledError):
        await calls[3].task
    [second] = await in_flight(b, 1)
    assert not second.started
    with pytest.raises(BackendUnavailableError):
        await second.task
    await probe.finish(ok=True)

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

"""ExpiringCache: single-flight, jitter, refresh-ahead, stale-if-error (pure logic, fake clock)."""

from __future__ import annotations

import asyncio

import pytest

from shared.core.cache import ExpiringCache
from shared.errors import BackendUnavailableError, SecretAccessError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingLoader:
    def __init__(self, value: str = "v", ttl: float = 10.0, delay: float = 0.0) -> None:
        self.calls = 0
        self.value, self.ttl, self.delay = value, ttl, delay
        self.error: Exception | None = None

    async def __call__(self) -> tuple[str, float]:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return f"{self.value}{self.calls}", self.ttl


async def test_hit_after_load() -> None:
    cache: ExpiringCache[str, str] = ExpiringCache(clock=Clock())
    loader = CountingLoader()
    first = await cache.get("k", loader)
    second = await cache.get("k", loader)
    assert (first.hit, second.hit) == (False, True)
    assert second.value == "v1" and loader.calls == 1


async def test_concurrent_misses_share_one_load() -> None:
    cache: ExpiringCache[str, str] = ExpiringCache()
    loader = CountingLoader(delay=0.05)
    results = await asyncio.gather(*(cache.get("k", loader) for _ in range(100)))
    assert loader.calls == 1
    assert {r.value for r in results} == {"v1"}


async def test_a_cancelled_waiter_does_not_cancel_the_shared_load() -> None:
    cache: ExpiringCache[str, str] = ExpiringCache()
    loader = CountingLoader(delay=0.05)
    first = asyncio.ensure_future(cache.get("k", loader))
    second = asyncio.ensure_future(cache.get("k", loader))
    await asyncio.sleep(0.01)
    first.cancel()
    assert (await second).value == "v1"
    assert loader.calls == 1


async def test_expiry_reloads() -> None:
    clock = Clock()
    cache: ExpiringCache[str, str] = ExpiringCache(clock=clock, refresh_ahead=0)
    loader = CountingLoader(ttl=10)
    await cache.get("k", loader)
    clock.now += 10.01
    assert (await cache.get("k", loader)).value == "v2"


def test_ttl_is_jittered_down_by_at_most_the_jitter_fraction() -> None:
    cache: ExpiringCache[int, str] = ExpiringCache(jitter=0.1, clock=Clock())
    lives = {cache.put(i, "v", 100.0).ttl for i in range(200)}
    assert min(lives) >= 90.0 and max(lives) <= 100.0
    assert len(lives) > 100  # really spread, not one value


async def test_refresh_ahead_serves_cached_value_and_reloads_in_background() -> None:
    clock = Clock()
    cache: ExpiringCache[str, str] = ExpiringCache(clock=clock, jitter=0, refresh_ahead=0.2)
    loader = CountingLoader(ttl=10)
    await cache.get("k", loader)
    clock.now += 9  # inside the last 20% of its life
    served = await cache.get("k", loader)
    assert served.hit and served.value == "v1"
    await asyncio.sleep(0)  # let the background refresh run
    await asyncio.sleep(0)
    assert loader.calls == 2
    assert (await cache.get("k", loader)).value == "v2"


async def test_stale_value_is_served_when_the_backend_is_unavailable() -> None:
    clock = Clock()
    stale_keys: list[str] = []
    cache: ExpiringCache[str, str] = ExpiringCache(
        clock=clock, max_stale=100, refresh_ahead=0, on_stale=lambda k, e: stale_keys.append(k)
    )
    loader = CountingLoader(ttl=10)
    await cache.get("k", loader)
    clock.now += 50
    loader.error = BackendUnavailableError("Key Vault", "down")
    served = await cache.get("k", loader)
    assert served.stale and served.value == "v1" and stale_keys == ["k"]


async def test_stale_value_is_not_served_past_max_stale() -> None:
    clock = Clock()
    cache: ExpiringCache[str, str] = ExpiringCache(clock=clock, max_stale=100, refresh_ahead=0)
    loader = CountingLoader(ttl=10)
    await cache.get("k", loader)
    clock.now += 10 + 100 + 1
    loader.error = BackendUnavailableError("Key Vault", "down")
    with pytest.raises(BackendUnavailableError):
        await cache.get("k", loader)


async def test_access_errors_are_never_hidden_by_a_stale_value() -> None:
    clock = Clock()
    cache: ExpiringCache[str, str] = ExpiringCache(clock=clock, max_stale=100, refresh_ahead=0)
    loader = CountingLoader(ttl=10)
    await cache.get("k", loader)
    clock.now += 11
    loader.error = SecretAccessError("denied")
    with pytest.raises(SecretAccessError):
        await cache.get("k", loader)


async def test_invalidate_during_a_load_does_not_keep_its_result() -> None:
    cache: ExpiringCache[str, str] = ExpiringCache()
    loader = CountingLoader(delay=0.05)
    pending = asyncio.ensure_future(cache.get("k", loader))
    await asyncio.sleep(0.01)
    cache.invalidate("k")
    assert (await pending).value == "v1"
    assert (await cache.get("k", loader)).value == "v2"


async def test_invalidate_where_and_clear() -> None:
    cache: ExpiringCache[str, str] = ExpiringCache()
    for key in ("acme--a", "acme--b", "other--a"):
        cache.put(key, "v", 10)
    assert cache.invalidate_where(lambda k: k.startswith("acme--")) == 2
    assert cache.peek("other--a") is not None
    cache.clear()
    assert len(cache) == 0


def test_cache_entry_repr_never_shows_the_value() -> None:
    cache: ExpiringCache[str, str] = ExpiringCache()
    entry = cache.put("k", "hunter2-secret", 10)
    assert "hunter2" not in repr(entry)


async def test_a_stale_value_is_retried_at_most_every_stale_retry_seconds() -> None:
    clock = Clock()
    cache: ExpiringCache[str, str] = ExpiringCache(
        clock=clock, max_stale=100, refresh_ahead=0, stale_retry=1.0, jitter=0
    )
    loader = CountingLoader(ttl=10)
    await cache.get("k", loader)
    clock.now += 11
    loader.error = BackendUnavailableError("Key Vault", "down")
    for _ in range(50):
        served = await cache.get("k", loader)
        assert served.stale and served.value == "v1"
    assert loader.calls == 2  # one load, one failed refresh; then served without retrying
    clock.now += 1.5
    await cache.get("k", loader)
    assert loader.calls == 3
    loader.error = None
    clock.now += 1.5
    recovered = await cache.get("k", loader)
    assert not recovered.stale and recovered.value == "v4"


async def test_stale_serving_ends_at_max_stale_despite_retries() -> None:
    clock = Clock()
    cache: ExpiringCache[str, str] = ExpiringCache(
        clock=clock, max_stale=5, refresh_ahead=0, stale_retry=1.0, jitter=0
    )
    loader = CountingLoader(ttl=10)
    await cache.get("k", loader)
    loader.error = BackendUnavailableError("Key Vault", "down")
    clock.now += 11
    assert (await cache.get("k", loader)).stale
    clock.now += 5  # 16 > 10 + 5
    with pytest.raises(BackendUnavailableError):
        await cache.get("k", loader)

"""The memo of final answers (shared.read.answers): a warm read is served from it, and every way
an answer must be dropped drops it. Real Azurite and Key Vault emulator; a manual clock
drives the caches' TTLs so expiry and refresh-ahead are exact, not slept for."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from azure.keyvault.secrets.aio import SecretClient

from shared.admin.events import configured_vaults, handle_keyvault_event
from shared.core.values import ConfigEntry
from shared.errors import ConfigError, ConfigNotFoundError
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tools.keyvault_emulator.control import EmulatorControl

pytestmark = pytest.mark.integration

CONFIG_TTL = 30.0
SECRET_TTL = 3600.0


class ManualClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def clocked(resolver: ConfigResolver, clock: ManualClock) -> ConfigResolver:
    """The resolver's caches and memo on ``clock``, without TTL jitter."""
    for cache in (resolver.config_store.snapshots, resolver.secret_store.cache):
        cache.clock, cache.jitter = clock, 0.0
    resolver.answers.clock = clock
    return resolver


@pytest.fixture
def memo_settings(settings: Settings) -> Settings:
    return replace(settings, config_cache_ttl=CONFIG_TTL, secret_cache_ttl=SECRET_TTL,
                   coherence_check_seconds=0, backend_timeout=1.0, breaker_cooldown=0.2)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def memo_resolver(memo_settings: Settings, clock: ManualClock
                        ) -> AsyncIterator[ConfigResolver]:
    async with ConfigResolver(memo_settings) as resolver:
        yield clocked(resolver, clock)


@pytest.fixture
async def writer(memo_settings: Settings) -> AsyncIterator[ConfigResolver]:
    """Another instance over the same stores: its writes reach ``memo_resolver`` only
    through TTLs (no sentinel), so they show whether a stale memo is dropped."""
    async with ConfigResolver(memo_settings) as resolver:
        yield resolver


async def put(resolver: ConfigResolver, scope: str, key: str, value: str,
              kind: str = "string") -> None:
    await resolver.config_store.put_entry(ConfigEntry(scope, key, value, kind))  # type: ignore[arg-type]


async def memoize(resolver: ConfigResolver, org: str, key: str) -> Any:
    """Read twice (a cold read loads, so only the next one can be memoized); the answer
    is then in the memo."""
    ctx = resolver.context(org)
    await ctx.get_config(key)
    value = await ctx.get_config(key)
    assert key in resolver.answers.of_org(org)
    return value


async def until_true(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


# -- served from the memo ---------------------------------------------------------------------
async def test_a_warm_read_is_served_from_the_memo_without_the_caches(
    memo_resolver: ConfigResolver, writer: ConfigResolver
) -> None:
    await put(writer, "acme", "host", "old")
    assert await memoize(memo_resolver, "acme", "host") == "old"
    await put(writer, "acme", "host", "new")  # no notification reaches memo_resolver
    queries = memo_resolver.metrics.get("table.queries")
    ctx = memo_resolver.context("acme")
    assert [await ctx.get_config("host") for _ in range(5)] == ["old"] * 5
    assert memo_resolver.metrics.get("table.queries") == queries


async def test_memo_hits_count_in_the_metrics_as_the_cache_hits_they_replace(
    memo_resolver: ConfigResolver, writer: ConfigResolver, vault: SecretClient
) -> None:
    await vault.set_secret("GLOBAL--smtp-password", "v1")  # acme's own name is absent
    await put(writer, "GLOBAL", "pwd", "smtp-password", "secret_ref")
    await memoize(memo_resolver, "acme", "pwd")
    memo_resolver.metrics.reset()
    ctx = memo_resolver.context("acme")
    for _ in range(7):
        await ctx.get_config("pwd")
    counts = memo_resolver.metrics.snapshot()
    assert counts["answer.memo_hit"] == 7
    assert counts["config.cache_hit"] == 2 * 7  # the org's and GLOBAL's snapshots
    assert counts["secret.cache_hit"] == 2 * 7  # acme--smtp-password, GLOBAL--smtp-password


async def test_an_absent_key_is_memoized_and_still_honours_default(
    memo_resolver: ConfigResolver, writer: ConfigResolver
) -> None:
    await put(writer, "GLOBAL", "other", "x")
    ctx = memo_resolver.context("acme")
    assert await ctx.get_config("absent", default=3) == 3
    assert await ctx.get_config("absent", default=4) == 4
    assert "absent" in memo_resolver.answers.of_org("acme")
    with pytest.raises(ConfigNotFoundError):
        await ctx.get_config("absent")


async def test_a_json_value_cannot_be_changed_by_a_caller(
    memo_resolver: ConfigResolver, writer: ConfigResolver
) -> None:
    await put(writer, "acme", "mapping", '{"alert": ["id", "summary"]}', "json")
    mapping = await memoize(memo_resolver, "acme", "mapping")
    assert isinstance(mapping, dict) and mapping == {"alert": ["id", "summary"]}
    with pytest.raises(TypeError):
        mapping["alert"] = "changed"
    with pytest.raises(TypeError):
        mapping["alert"].append("changed")
    mine = copy.deepcopy(mapping)
    mine["alert"].append("mine")
    assert await memo_resolver.context("acme").get_config("mapping") == {
        "alert": ["id", "summary"]}


# -- every way an answer is dropped -----------------------------------------------------------
async def test_the_memo_expires_with_the_snapshot_ttl(
    memo_resolver: ConfigResolver, writer: ConfigResolver, clock: ManualClock
) -> None:
    await put(writer, "acme", "host", "old")
    await memoize(memo_resolver, "acme", "host")
    await put(writer, "acme", "host", "new")
    clock.advance(CONFIG_TTL + 1)
    assert await memo_resolver.context("acme").get_config("host") == "new"


async def test_the_memo_ends_before_refresh_ahead_so_a_read_starts_the_background_reload(
    memo_resolver: ConfigResolver, writer: ConfigResolver, clock: ManualClock
) -> None:
    await put(writer, "acme", "host", "old")
    await memoize(memo_resolver, "acme", "host")
    await put(writer, "acme", "host", "new")
    queries = memo_resolver.metrics.get("table.queries")
    clock.advance(CONFIG_TTL * 0.95)  # inside the last 10% of the snapshot's life
    ctx = memo_resolver.context("acme")
    assert await ctx.get_config("host") == "old"  # served at once from the cache ...

    async def reloaded() -> bool:
        return await ctx.get_config("host") == "new"

    await until_true(reloaded)  # ... which reloads in the background
    assert memo_resolver.metrics.get("table.queries") > queries


async def test_a_write_in_this_instance_drops_the_memo(memo_resolver: ConfigResolver) -> None:
    await put(memo_resolver, "acme", "host", "old")
    await memoize(memo_resolver, "acme", "host")
    await put(memo_resolver, "acme", "host", "new")
    assert await memo_resolver.context("acme").get_config("host") == "new"


@pytest.mark.parametrize("scope", [None, "acme"])
async def test_invalidate_drops_the_memo(
    memo_resolver: ConfigResolver, writer: ConfigResolver, scope: str | None
) -> None:
    await put(writer, "acme", "host", "old")
    await memoize(memo_resolver, "acme", "host")
    await put(writer, "acme", "host", "new")
    memo_resolver.invalidate(scope)
    assert await memo_resolver.context("acme").get_config("host") == "new"


async def test_invalidate_of_a_secret_drops_the_memo(
    memo_resolver: ConfigResolver, writer: ConfigResolver, vault: SecretClient
) -> None:
    await vault.set_secret("acme--smtp-password", "v1")
    await put(writer, "GLOBAL", "pwd", "smtp-password", "secret_ref")
    assert await memoize(memo_resolver, "acme", "pwd") == "v1"
    await vault.set_secret("acme--smtp-password", "v2")
    memo_resolver.invalidate(secret="smtp-password")
    assert await memo_resolver.context("acme").get_config("pwd") == "v2"


async def test_a_rotated_secret_is_seen_after_notify_change(
    memo_resolver: ConfigResolver, writer: ConfigResolver, vault: SecretClient
) -> None:
    await vault.set_secret("acme--smtp-password", "v1")
    await put(writer, "GLOBAL", "pwd", "smtp-password", "secret_ref")
    assert await memoize(memo_resolver, "acme", "pwd") == "v1"
    await vault.set_secret("acme--smtp-password", "v2")
    assert await memo_resolver.context("acme").get_config("pwd") == "v1"  # memo still on
    await memo_resolver.notify_change("acme", secret="smtp-password")
    assert await memo_resolver.context("acme").get_config("pwd") == "v2"


async def test_a_keyvault_event_drops_the_memo(
    memo_resolver: ConfigResolver, writer: ConfigResolver, vault: SecretClient
) -> None:
    await vault.set_secret("GLOBAL--smtp-password", "v1")
    await put(writer, "GLOBAL", "pwd", "smtp-password", "secret_ref")
    assert await memoize(memo_resolver, "acme", "pwd") == "v1"
    await vault.set_secret("GLOBAL--smtp-password", "v2")
    handled = await handle_keyvault_event(
        memo_resolver, "Microsoft.KeyVault.SecretNewVersionCreated", "GLOBAL--smtp-password",
        {"ObjectName": "GLOBAL--smtp-password",
         "VaultName": next(iter(configured_vaults(memo_resolver.settings)))},
    )
    assert handled == "GLOBAL--smtp-password"
    assert await memo_resolver.context("acme").get_config("pwd") == "v2"


async def test_a_sentinel_change_from_another_instance_drops_the_memo(
    memo_settings: Settings,
) -> None:
    shared = replace(memo_settings, coherence_check_seconds=0.1)
    async with ConfigResolver(shared) as a, ConfigResolver(shared) as b:
        await put(a, "acme", "host", "old")
        assert await memoize(b, "acme", "host") == "old"
        await put(a, "acme", "host", "new")
        await a.notify_change("acme")  # reaches b only through the sentinel
        ctx = b.context("acme")

        async def seen() -> bool:
            return await ctx.get_config("host") == "new"

        await until_true(seen)
        assert b.metrics.get("coherence.changes_seen") >= 1


async def test_a_stale_answer_is_not_memoized_and_the_fresh_one_is_after_recovery(
    memo_resolver: ConfigResolver, writer: ConfigResolver, vault: SecretClient,
    kv_control: EmulatorControl, clock: ManualClock,
) -> None:
    await vault.set_secret("acme--smtp-password", "v1")
    await put(writer, "acme", "pwd", "smtp-password", "secret_ref")
    assert await memoize(memo_resolver, "acme", "pwd") == "v1"
    await vault.set_secret("acme--smtp-password", "v2")
    kv_control.refuse_connections(True)
    clock.advance(SECRET_TTL + 1)  # the secret (and the snapshots) expire
    ctx = memo_resolver.context("acme")
    try:
        assert await ctx.get_config("pwd") == "v1"  # stale: its refresh failed
        stale = memo_resolver.metrics.get("secret.stale_served")
        assert await ctx.get_config("pwd") == "v1"
        assert memo_resolver.metrics.get("secret.stale_served") == stale + 1  # not memoized
    finally:
        kv_control.refuse_connections(False)
    await asyncio.sleep(0.3)  # the breaker's cooldown
    clock.advance(memo_resolver.secret_store.cache.stale_retry + 0.1)
    assert await ctx.get_config("pwd") == "v2"  # fresh again ...
    assert await ctx.get_config("pwd") == "v2"
    assert memo_resolver.answers.of_org("acme")["pwd"].until > clock()  # ... and memoized


async def test_a_closed_resolver_serves_nothing_from_the_memo(
    memo_settings: Settings, writer: ConfigResolver
) -> None:
    await put(writer, "acme", "host", "v")
    resolver = ConfigResolver(memo_settings)
    await memoize(resolver, "acme", "host")
    await resolver.aclose()
    with pytest.raises(ConfigError):
        await resolver.context("acme").get_config("host")


async def test_an_answer_built_while_a_cache_changed_is_not_memoized(
    memo_resolver: ConfigResolver, writer: ConfigResolver
) -> None:
    await put(writer, "acme", "host", "v")
    ctx = memo_resolver.context("acme")
    await ctx.get_config("host")  # loads both snapshots
    mark = memo_resolver.cache_generation()
    memo_resolver.secret_store.cache.put("elsewhere--x", None, 60)  # type: ignore[arg-type]
    memo_resolver.remember("acme", "host", mark, "v")
    assert "host" not in memo_resolver.answers.of_org("acme")
    memo_resolver.remember("acme", "host", memo_resolver.cache_generation(), "v")
    assert "host" in memo_resolver.answers.of_org("acme")

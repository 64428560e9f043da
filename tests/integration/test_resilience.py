"""Stay up and stay coherent: outages, throttling, slow and hostile backends, many instances.

Azurite is stopped and restarted mid-test (a private instance); the vault's faults come
from the emulator's fault injection. Time bounds here are correctness bounds (generous
multiples of the configured timeout), not performance claims: those live in bench/.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.keyvault.secrets.aio import SecretClient

from shared.admin.events import handle_keyvault_event
from shared.backends.vault_clients import make_secret_client
from shared.core.values import ConfigEntry
from shared.errors import (
    BackendUnavailableError,
    SecretAccessError,
    SecretNotFoundError,
)
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tools.keyvault_emulator.control import EmulatorControl
from tools.services import Azurite

pytestmark = pytest.mark.integration

FAST = {"backend_timeout": 1.0, "breaker_cooldown": 0.5, "coherence_check_seconds": 0}


async def seed_entries(resolver: ConfigResolver, *rows: tuple[str, ...]) -> None:
    await resolver.config_store.upsert_many([ConfigEntry(*row) for row in rows])  # type: ignore[arg-type]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> float:
    """Poll ``check`` until it is true; returns the seconds it took (bounded)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await check():
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout}s")


# -- Table Storage outages --------------------------------------------------------------------
@pytest.fixture
def outage_settings(settings: Settings, private_azurite: Azurite) -> Settings:
    return replace(settings, storage_connection=private_azurite.connection_string,
                   config_cache_ttl=0.2, **FAST)


async def test_table_outage_with_warm_cache_serves_every_read(
    outage_settings: Settings, private_azurite: Azurite, caplog: pytest.LogCaptureFixture
) -> None:
    async with ConfigResolver(outage_settings) as resolver:
        await seed_entries(resolver, ("acme", "host", "mail.acme"), ("GLOBAL", "port", "25", "int"))
        ctx = resolver.context("acme")
        assert await ctx.get_config("host") == "mail.acme"
        private_azurite.stop()
        await asyncio.sleep(0.3)  # past the snapshot TTL
        served = [await ctx.get_configs("host", "port") for _ in range(50)]
        assert served == [{"host": "mail.acme", "port": 25}] * 50
        assert resolver.metrics.get("config.stale_served") >= 50
        # the backend is retried about once per second per partition, not once per read
        assert 1 <= resolver.metrics.get("config.stale_refresh_failed") <= 4
        assert any("stale" in r.getMessage() for r in caplog.records)
        private_azurite.start()  # same port: recovery after the cool-down probe
        await asyncio.sleep(0.6)
        await seed_entries(resolver, ("acme", "host", "mail2.acme"))
        assert await eventually(lambda: _equals(ctx.get_config("host"), "mail2.acme")) >= 0


async def _equals(awaitable: Awaitable[Any], expected: Any) -> bool:
    return bool(await awaitable == expected)


async def _true(condition: bool) -> bool:
    return condition


async def test_table_outage_cold_fails_clearly_within_the_bound(
    outage_settings: Settings, private_azurite: Azurite
) -> None:
    private_azurite.stop()
    async with ConfigResolver(outage_settings) as resolver:
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError) as info:
            await resolver.context("acme").get_config("host")
        elapsed = time.monotonic() - started
    assert info.value.backend == "Table Storage"
    assert "Table Storage" in str(info.value) and ("Azurite" in str(info.value)
                                                   or "network" in str(info.value))
    assert elapsed < outage_settings.backend_timeout * 3


async def test_breaker_fails_fast_once_open(
    outage_settings: Settings, private_azurite: Azurite
) -> None:
    private_azurite.stop()
    settings = replace(outage_settings, breaker_threshold=2, breaker_cooldown=30)
    async with ConfigResolver(settings) as resolver:
        for org in ("a1", "a2"):
            with pytest.raises(BackendUnavailableError):
                await resolver.context(org).get_config("k")
        assert resolver.config_store.breaker.state == "open"
        with pytest.raises(BackendUnavailableError, match="paused"):
            await resolver.context("a3").get_config("k")
        assert resolver.metrics.get("breaker.table.fast_fail") >= 1


async def test_late_timeouts_of_concurrent_writers_do_not_prolong_a_paused_table_outage(
    settings: Settings, private_azurite: Azurite
) -> None:
    """Issue 24.2: 8 writers, Azurite frozen (SIGSTOP). Calls sent just before the breaker
    opened time out up to BACKEND_TIMEOUT_SECONDS after the opening; they must not restart
    the cool-down. The table comes back after those late timeouts and before opened +
    cooldown: the half-open probe at opened + cooldown finds it (with the defect: at the
    last late timeout + cooldown, a whole backend timeout later)."""
    timeout, cooldown = 1.5, 2.0
    fast = replace(settings, storage_connection=private_azurite.connection_string,
                   backend_timeout=timeout, breaker_cooldown=cooldown, breaker_threshold=5,
                   coherence_check_seconds=0)
    async with ConfigResolver(fast) as resolver:
        store, breaker = resolver.config_store, resolver.config_store.breaker
        await store.put_entry(ConfigEntry("acme", "warm", "1"))  # the table exists
        stop = asyncio.Event()
        successes: list[float] = []  # when each write came back accepted
        timeouts: list[float] = []  # when a write sent to the backend timed out

        async def writer(i: int) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    await store.put_entry(ConfigEntry("acme", f"w{i}", str(n)))
                    successes.append(time.monotonic())
                except BackendUnavailableError as exc:
                    if "paused" in str(exc):  # failed fast
                        await asyncio.sleep(0.02)
                    else:  # timed out: a client retries at once
                        timeouts.append(time.monotonic())
                    continue
                await asyncio.sleep(0.01 * (i + 1))  # out of step with each other

        writers = [asyncio.create_task(writer(i)) for i in range(8)]
        try:
            await asyncio.sleep(0.3)
            assert successes, "the writers work before the outage"
            private_azurite.pause()
            paused_at = time.monotonic()
            await eventually(lambda: _true(breaker.opened_at is not None), timeout * 4)
            opened_at = breaker.opened_at
            assert opened_at is not None
            # past the late timeouts of the calls sent before the opening, before the probe
            await asyncio.sleep(max(0.0, opened_at + timeout + 0.4 - time.monotonic()))
            late = [t for t in timeouts if t > opened_at + timeout / 2]
            assert late, "writes sent before the opening timed out after it"
        finally:
            private_azurite.resume()
        resumed_at = time.monotonic()
        try:
            await eventually(lambda: _true(any(t > resumed_at for t in successes)),
                             cooldown * 3 + timeout)
            recovered_at = min(t for t in successes if t > resumed_at)
            await asyncio.sleep(0.3)
        finally:
            stop.set()
            await asyncio.gather(*writers)
    print(f"\ntable paused {resumed_at - paused_at:.2f}s; breaker opened "
          f"{opened_at - paused_at:.2f}s into it; {len(late)} late timeouts; writes back "
          f"{recovered_at - resumed_at:.2f}s after the resume, "
          f"{recovered_at - opened_at:.2f}s after the opening (cooldown {cooldown}s)")
    # the probe goes at opened + cooldown (the defect: at the last late timeout + cooldown)
    assert recovered_at - opened_at <= cooldown + timeout / 2
    assert recovered_at - resumed_at <= cooldown
    assert sum(t > recovered_at for t in successes) >= 8  # every writer is through again


# -- Key Vault faults ---------------------------------------------------------------------
@pytest.fixture
async def ref(resolver: ConfigResolver) -> None:
    await seed_entries(resolver, ("GLOBAL", "pwd", "smtp-password", "secret_ref"))


def fast_resolver(settings: Settings, **overrides: Any) -> ConfigResolver:
    return ConfigResolver(replace(settings, **{**FAST, "secret_cache_ttl": 0.2, **overrides}))


@pytest.mark.usefixtures("ref")
async def test_vault_outage_with_warm_cache_serves_stale_values(
    settings: Settings, vault: SecretClient, kv_control: EmulatorControl
) -> None:
    await vault.set_secret("acme--smtp-password", "v1")
    async with fast_resolver(settings) as resolver:
        ctx = resolver.context("acme")
        assert await ctx.get_config("pwd") == "v1"
        kv_control.refuse_connections(True)
        await asyncio.sleep(0.3)
        assert [await ctx.get_config("pwd") for _ in range(20)] == ["v1"] * 20
        assert (await ctx.explain("pwd")).stale is True
        assert resolver.metrics.get("secret.stale_served") >= 1


@pytest.mark.usefixtures("ref")
async def test_vault_outage_cold_fails_within_the_bound(
    settings: Settings, kv_control: EmulatorControl
) -> None:
    kv_control.refuse_connections(True)
    async with fast_resolver(settings) as resolver:
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError) as info:
            await resolver.context("acme").get_config("pwd")
        assert time.monotonic() - started < 3 * resolver.settings.backend_timeout
    assert info.value.backend == "Key Vault"


@pytest.mark.usefixtures("ref")
async def test_429_storm_is_ridden_out_with_retry_after(
    settings: Settings, vault: SecretClient, kv_control: EmulatorControl
) -> None:
    await vault.set_secret("acme--smtp-password", "v1")
    kv_control.reset_counters()
    kv_control.fail_next(2, 429, retry_after=0.05, operation="get_secret")
    async with fast_resolver(settings) as resolver:
        assert await resolver.context("acme").get_config("pwd") == "v1"
    assert kv_control.count("get_secret", "acme--smtp-password") == 3
    assert kv_control.counters()["statuses"].get("429") == 2


@pytest.mark.usefixtures("ref")
async def test_throttling_beyond_the_budget_serves_stale_or_fails_clearly(
    settings: Settings, vault: SecretClient, kv_control: EmulatorControl
) -> None:
    await vault.set_secret("acme--smtp-password", "v1")
    await vault.set_secret("beta--smtp-password", "b1")
    async with fast_resolver(settings) as resolver:
        ctx = resolver.context("acme")
        assert await ctx.get_config("pwd") == "v1"
        kv_control.fail_next(1000, 429, retry_after=0.05)
        await asyncio.sleep(0.3)
        assert await ctx.get_config("pwd") == "v1"  # stale
        with pytest.raises(BackendUnavailableError):  # cold name: nothing to serve
            await resolver.context("beta").get_config("pwd")


@pytest.mark.usefixtures("ref")
async def test_slow_vault_read_times_out_cold_and_serves_stale_warm(
    settings: Settings, vault: SecretClient, kv_control: EmulatorControl
) -> None:
    await vault.set_secret("acme--smtp-password", "v1")
    await vault.set_secret("beta--smtp-password", "b1")
    async with fast_resolver(settings, backend_timeout=0.5) as resolver:
        ctx = resolver.context("acme")
        assert await ctx.get_config("pwd") == "v1"
        kv_control.set_latency(3000)
        await asyncio.sleep(0.3)
        assert await ctx.get_config("pwd") == "v1"
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError, match="did not answer"):
            await resolver.context("beta").get_config("pwd")
        assert time.monotonic() - started < 2.0


@pytest.mark.usefixtures("ref")
async def test_permission_revoked_is_an_access_error_not_stale(
    settings: Settings, vault: SecretClient, kv_control: EmulatorControl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await vault.set_secret("acme--smtp-password", "v1")
    monkeypatch.setenv("ACME__SMTP_PASSWORD", "env-value")
    async with fast_resolver(settings) as resolver:
        ctx = resolver.context("acme")
        assert await ctx.get_config("pwd") == "v1"
        kv_control.fail_next(1000, 403, operation="get_secret")
        await asyncio.sleep(0.3)
        with pytest.raises(SecretAccessError, match="Key Vault Secrets User"):
            await ctx.get_config("pwd")


@pytest.mark.usefixtures("ref")
async def test_secret_disabled_while_cached_is_refused_after_expiry(
    settings: Settings, vault: SecretClient
) -> None:
    await vault.set_secret("acme--smtp-password", "v1")
    async with fast_resolver(settings) as resolver:
        ctx = resolver.context("acme")
        assert await ctx.get_config("pwd") == "v1"
        await vault.update_secret_properties("acme--smtp-password", enabled=False)
        await asyncio.sleep(0.3)
        with pytest.raises(SecretAccessError, match="disabled"):
            await ctx.get_config("pwd")


@pytest.mark.usefixtures("ref")
async def test_secret_deleted_while_cached_is_not_found_after_expiry(
    settings: Settings, vault: SecretClient
) -> None:
    await vault.set_secret("acme--smtp-password", "v1")
    async with fast_resolver(settings) as resolver:
        ctx = resolver.context("acme")
        assert await ctx.get_config("pwd") == "v1"
        await vault.delete_secret("acme--smtp-password")
        await asyncio.sleep(0.3)
        with pytest.raises(SecretNotFoundError):
            await ctx.get_config("pwd")


class FailingCredential:
    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        raise ClientAuthenticationError("no managed identity here")

    async def close(self) -> None:
        return None


class BrokenAuthResolver(ConfigResolver):
    def _secret_client(self, vault_url: str | None = None) -> SecretClient:
        return make_secret_client(self.settings, FailingCredential())  # type: ignore[arg-type]


@pytest.mark.usefixtures("ref")
async def test_vault_authentication_failure_raises_in_production(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME__SMTP_PASSWORD", "env-value")
    async with BrokenAuthResolver(replace(settings, **FAST)) as resolver:
        with pytest.raises(SecretAccessError, match="authentication"):
            await resolver.context("acme").get_config("pwd")


@pytest.mark.usefixtures("ref")
async def test_vault_authentication_failure_falls_back_to_env_in_development(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ACME__SMTP_PASSWORD", "env-value")
    dev = replace(settings, environment="Development", **FAST)
    async with BrokenAuthResolver(dev) as resolver:
        assert await resolver.context("acme").get_config("pwd") == "env-value"
    assert any("Development" in r.getMessage() for r in caplog.records)


# -- two instances, one set of stores --------------------------------------------------------
@pytest.fixture
def shared_settings(settings: Settings) -> Settings:
    return replace(settings, coherence_check_seconds=0.1, config_cache_ttl=300,
                   secret_cache_ttl=3600)


async def test_config_write_reaches_the_other_instance_through_the_sentinel(
    shared_settings: Settings,
) -> None:
    async with ConfigResolver(shared_settings) as a, ConfigResolver(shared_settings) as b:
        await seed_entries(a, ("acme", "host", "old"))
        assert await b.context("acme").get_config("host") == "old"
        await a.config_store.put_entry(ConfigEntry("acme", "host", "new"))
        await a.notify_change("acme")
        await eventually(lambda: _equals(b.context("acme").get_config("host"), "new"), 3)
        assert b.metrics.get("coherence.changes_seen") >= 1


async def test_secret_rotation_reaches_the_other_instance(
    shared_settings: Settings, vault: SecretClient
) -> None:
    await vault.set_secret("GLOBAL--smtp-password", "v1")
    async with ConfigResolver(shared_settings) as a, ConfigResolver(shared_settings) as b:
        await seed_entries(a, ("GLOBAL", "pwd", "smtp-password", "secret_ref"))
        assert await b.context("acme").get_config("pwd") == "v1"
        await vault.set_secret("GLOBAL--smtp-password", "v2")
        await a.notify_change("GLOBAL", secret="smtp-password")
        await eventually(lambda: _equals(b.context("acme").get_config("pwd"), "v2"), 3)


async def test_keyvault_event_bumps_the_sentinel(
    shared_settings: Settings, vault: SecretClient
) -> None:
    await vault.set_secret("acme--smtp-password", "v1")
    async with ConfigResolver(shared_settings) as a, ConfigResolver(shared_settings) as b:
        await seed_entries(a, ("GLOBAL", "pwd", "smtp-password", "secret_ref"))
        assert await b.context("acme").get_config("pwd") == "v1"
        await vault.set_secret("acme--smtp-password", "v2")  # rotated in the vault directly
        handled = await handle_keyvault_event(
            a, "Microsoft.KeyVault.SecretNewVersionCreated", "acme--smtp-password",
            {"ObjectName": "acme--smtp-password", "VaultName": "127"},
        )
        assert handled == "acme--smtp-password"
        await eventually(lambda: _equals(b.context("acme").get_config("pwd"), "v2"), 3)


@pytest.mark.parametrize(
    ("event_type", "data"),
    [("Microsoft.KeyVault.SecretNearExpiry", {"ObjectName": "acme--x"}),
     ("Microsoft.KeyVault.SecretNewVersionCreated", {"ObjectName": "not-scoped"}),
     ("Microsoft.KeyVault.SecretNewVersionCreated", {"ObjectName": "acme--x",
                                                     "VaultName": "another-vault"}),
     ("Microsoft.KeyVault.SecretNewVersionCreated", "garbage")],
)
async def test_foreign_or_unrelated_events_are_ignored(
    resolver: ConfigResolver, event_type: str, data: Any
) -> None:
    assert await handle_keyvault_event(resolver, event_type, None, data) is None
    assert resolver.metrics.get("coherence.recorded") == 0


async def test_a_secret_near_expiry_is_logged_for_rotation_and_changes_nothing(
    resolver: ConfigResolver, caplog: pytest.LogCaptureFixture
) -> None:
    data = {"ObjectName": "acme--smtp-password", "VaultName": "127", "EXP": 1790000000}
    handled = await handle_keyvault_event(resolver, "Microsoft.KeyVault.SecretNearExpiry",
                                          None, data)
    assert handled is None and resolver.metrics.get("coherence.recorded") == 0
    [record] = [r for r in caplog.records if r.name == "orgconfig.events"]
    assert record.levelname == "WARNING" and "acme--smtp-password" in record.getMessage()
    assert "rotate" in record.getMessage()


async def test_concurrent_writers_never_lose_a_sentinel_bump(shared_settings: Settings) -> None:
    table = f"Cfg{uuid.uuid4().hex[:12]}"
    s = replace(shared_settings, table_name=table)
    async with ConfigResolver(s) as a, ConfigResolver(s) as b:
        versions = await asyncio.gather(
            *(r.coherence.record("acme") for r in (a, b) for _ in range(5))
        )
    assert len(set(versions)) == 10  # ten rows, ten keys: no write raced another

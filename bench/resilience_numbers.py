"""Resilience numbers (issue 5), measured against real Azurite and the vault emulator.

    .venv/bin/python -m bench.resilience_numbers

- reads served during a table + vault outage with a warm cache;
- time to a clear error on a cold outage (BACKEND_TIMEOUT_SECONDS=5 default, here 2);
- time for a rotation written through one resolver to reach a second one;
- circuit-breaker fail-fast latency once open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from dataclasses import replace

from shared.backends.vault_clients import LocalDevelopmentCredential, make_secret_client
from shared.core.values import ConfigEntry
from shared.errors import BackendUnavailableError
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tools.keyvault_emulator.control import EmulatorControl
from tools.services import Azurite, local_stack


async def outage_warm(settings: Settings, azurite: Azurite, control: EmulatorControl) -> dict:
    s = replace(settings, config_cache_ttl=0.5, secret_cache_ttl=0.5)
    async with ConfigResolver(s) as resolver:
        ctx = resolver.context("acme")
        await ctx.get_configs("host", "pwd")
        azurite.stop()
        control.refuse_connections(True)
        await asyncio.sleep(0.6)
        served = failed = 0
        started = time.perf_counter()
        while time.perf_counter() - started < 10:
            try:
                await ctx.get_configs("host", "pwd")
                served += 1
            except BackendUnavailableError:
                failed += 1
        control.refuse_connections(False)
        azurite.start()
        return {"window_s": 10, "reads_served": served * 2, "reads_failed": failed * 2,
                "stale_served_metric": resolver.metrics.get("config.stale_served")
                + resolver.metrics.get("secret.stale_served")}


async def outage_cold(settings: Settings, azurite: Azurite) -> dict:
    azurite.stop()
    times = []
    for i in range(3):
        async with ConfigResolver(settings) as resolver:
            started = time.perf_counter()
            try:
                await resolver.context(f"cold{i}").get_config("host")
            except BackendUnavailableError:
                times.append(time.perf_counter() - started)
    azurite.start()
    return {"backend_timeout_s": settings.backend_timeout,
            "time_to_error_s": [round(t, 3) for t in times]}


async def rotation(settings: Settings) -> dict:
    s = replace(settings, coherence_check_seconds=5)
    results = []
    async with make_secret_client(s, LocalDevelopmentCredential()) as vault, \
            ConfigResolver(s) as a, ConfigResolver(s) as b:
        await vault.set_secret("acme--smtp-password", "v")
        assert await b.context("acme").get_config("pwd") == "v"  # b's cache is warm
        for i in range(5):
            await vault.set_secret("acme--smtp-password", f"v{i}")
            started = time.perf_counter()
            await a.notify_change("acme", secret="smtp-password")
            while await b.context("acme").get_config("pwd") != f"v{i}":  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            results.append(time.perf_counter() - started)
    return {"coherence_check_seconds": 5, "seconds_to_reach_instance_b": [
        round(r, 2) for r in results], "max_s": round(max(results), 2)}


async def breaker_fast_fail(settings: Settings, control: EmulatorControl) -> dict:
    control.refuse_connections(True)
    s = replace(settings, breaker_threshold=3, breaker_cooldown=60)
    async with ConfigResolver(s) as resolver:
        store = resolver.secret_store
        for i in range(3):
            with contextlib.suppress(BackendUnavailableError):
                await store.lookup_vault(f"acme--warmup{i}")
        samples = []
        for i in range(1000):
            started = time.perf_counter_ns()
            try:
                await store.lookup_vault(f"acme--probe{i}")
            except BackendUnavailableError:
                samples.append(time.perf_counter_ns() - started)
    control.refuse_connections(False)
    return {"breaker_state": "open", "fast_fail_median_us": round(statistics.median(samples)
                                                                   / 1000, 1),
            "fast_fail_p99_us": round(sorted(samples)[int(len(samples) * 0.99)] / 1000, 1)}


async def seed(settings: Settings) -> None:
    """(Re)seed: Azurite may not flush its last writes to disk when stopped mid-outage."""
    async with ConfigResolver(settings) as resolver:
        await resolver.config_store.upsert_many([
            ConfigEntry("acme", "host", "mail.acme"),
            ConfigEntry("GLOBAL", "pwd", "smtp-password", "secret_ref"),
        ])


async def run(settings: Settings, azurite: Azurite, control: EmulatorControl) -> dict:
    await seed(settings)
    async with make_secret_client(settings, LocalDevelopmentCredential()) as vault:
        await vault.set_secret("acme--smtp-password", "v")
    warm = await outage_warm(settings, azurite, control)
    cold = await outage_cold(settings, azurite)
    await seed(settings)
    return {
        "outage_warm_cache": warm,
        "outage_cold": cold,
        "rotation_via_api_to_second_instance": await rotation(settings),
        "breaker": await breaker_fast_fail(settings, control),
    }


def main() -> None:
    with local_stack(persist_tables=True) as (azurite, vault):
        settings = Settings(storage_connection=azurite.connection_string,
                            key_vault_url=vault.url, key_vault_ca_file=vault.ca_file,
                            backend_timeout=2)
        result = asyncio.run(run(settings, azurite, EmulatorControl(vault.control_url)))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Resolver numbers (issue 3): warm get_config latency, and backend calls for 1,000 reads.

    .venv/bin/python -m bench.core_numbers

Runs against a fresh Azurite and Key Vault emulator (15 ms injected vault latency).
Prints JSON; no assertion, no claim without its number.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time

from shared.backends.vault_clients import LocalDevelopmentCredential, make_secret_client
from shared.core.values import ConfigEntry
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tools.keyvault_emulator.control import EmulatorControl
from tools.services import local_stack

ORGS = [f"org{i:02d}" for i in range(10)]
KEYS = ["host", "port", "tls", "mapping", "org_secret", "global_secret"]


async def seed(settings: Settings) -> None:
    entries = [
        ConfigEntry("GLOBAL", "host", "mail.example"), ConfigEntry("GLOBAL", "port", "587", "int"),
        ConfigEntry("GLOBAL", "tls", "true", "bool"),
        ConfigEntry("GLOBAL", "mapping", '{"a": "b"}', "json"),
        ConfigEntry("GLOBAL", "global_secret", "platform-key", "secret_ref"),
    ]
    for org in ORGS:
        entries += [ConfigEntry(org, "host", f"mail.{org}"),
                    ConfigEntry(org, "org_secret", "api-key", "secret_ref")]
    async with ConfigResolver(settings) as resolver:
        await resolver.config_store.upsert_many(entries)
    async with make_secret_client(settings, LocalDevelopmentCredential()) as vault:
        await vault.set_secret("GLOBAL--platform-key", "p")
        for org in ORGS:
            await vault.set_secret(f"{org}--api-key", f"k-{org}")


async def warm_median_us(resolver: ConfigResolver, key: str, n: int = 20_000) -> float:
    ctx = resolver.context("org00")
    await ctx.get_config(key)
    samples = []
    for _ in range(n):
        started = time.perf_counter_ns()
        await ctx.get_config(key)
        samples.append(time.perf_counter_ns() - started)
    return statistics.median(samples) / 1000


async def run(settings: Settings, control: EmulatorControl) -> dict[str, object]:
    await seed(settings)
    control.set_latency(15)
    control.reset_counters()
    rng = random.Random(7)
    async with ConfigResolver(settings) as resolver:
        started = time.perf_counter()
        for _ in range(1000):
            await resolver.context(rng.choice(ORGS)).get_config(rng.choice(KEYS))
        wall = time.perf_counter() - started
        calls = resolver.metrics.snapshot()
        vault_gets = control.count("get_secret")
        plain = await warm_median_us(resolver, "host")
        secret = await warm_median_us(resolver, "org_secret")
    return {
        "reads": 1000, "orgs": len(ORGS), "keys": KEYS,
        "vault_gets": vault_gets,
        "vault_gets_by_name": {
            "GLOBAL--platform-key": control.count("get_secret", "GLOBAL--platform-key"),
            "org--platform-key (404s)": sum(
                control.count("get_secret", f"{o}--platform-key") for o in ORGS),
        },
        "table_queries": calls.get("table.queries", 0),
        "table_calls_total": calls.get("table.calls", 0),
        "wall_s_1000_reads": round(wall, 3),
        "warm_get_config_median_us": {"plain": round(plain, 2), "secret": round(secret, 2)},
    }


def main() -> None:
    with local_stack() as (azurite, vault):
        settings = Settings(storage_connection=azurite.connection_string,
                            key_vault_url=vault.url, key_vault_ca_file=vault.ca_file)
        result = asyncio.run(run(settings, EmulatorControl(vault.control_url)))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Vault GETs of one warm instance over simulated hours, with and without revalidation by
version (the catalog naming the version each held secret was read at).

One real resolver over Azurite and the Key Vault emulator, its caches on a simulated clock
(no jitter): ``ORGS`` orgs each read their own secret and a GLOBAL one every
``CONFIG_CACHE_TTL_SECONDS`` for ``HOURS`` hours; one secret is rotated (by another
instance, through the admin API) every hour. GETs are counted at the emulator. "without":
the catalog is off (no reconcile), so every held secret is fetched again at its TTL, as
before this change. ``python -m bench.revalidation`` (``make bench-revalidation``).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path

from pydantic import SecretStr

from bench import report
from shared.admin.catalog_sync import SecretCatalog
from shared.admin.secret_admin import SecretAdmin
from shared.core.values import ConfigEntry
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tools.keyvault_emulator.control import EmulatorControl
from tools.services import Azurite, KeyVaultEmulator

BENCH = Path(__file__).resolve().parent

ORGS = 20
CONFIG_TTL = 30.0
SECRET_TTL = 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def run(settings: Settings, control: EmulatorControl, hours: int, catalog: bool) -> int:
    settings = replace(settings, table_name=f"Reval{uuid.uuid4().hex[:8]}",
                       config_cache_ttl=CONFIG_TTL, secret_cache_ttl=SECRET_TTL,
                       coherence_check_seconds=0)
    orgs = [f"org-{n}" for n in range(ORGS)]
    async with ConfigResolver(settings) as admin, ConfigResolver(settings) as reader:
        writes = SecretAdmin(admin)
        await admin.config_store.upsert_many(
            [ConfigEntry(o, "own", f"own-{o}", "secret_ref") for o in orgs]
            + [ConfigEntry("GLOBAL", "shared", "shared-key", "secret_ref")])
        for org in orgs:
            await writes.put(org, f"own-{org}", SecretStr(f"value-{org}"))
        await writes.put("GLOBAL", "shared-key", SecretStr("shared-value"))
        if catalog:
            await SecretCatalog(admin).reconcile()
        clock = Clock()
        for cache in (reader.config_store.snapshots, reader.secret_store.cache):
            cache.clock, cache.jitter = clock, 0.0
        reader.answers.clock = clock
        control.reset_counters()
        steps = int(hours * 3600 / CONFIG_TTL)
        for step in range(steps):
            if step and step % int(3600 / CONFIG_TTL) == 0:  # hourly rotation elsewhere
                await writes.put(orgs[0], f"own-{orgs[0]}", SecretStr(f"rotated-{step}"))
            for org in orgs:
                ctx = reader.context(org)
                await ctx.get_config("own")
                await ctx.get_config("shared")
            clock.now += CONFIG_TTL
        return control.count("get_secret")


async def main_async(hours: int, write: bool = True) -> None:
    state = Path(tempfile.mkdtemp(prefix="orgconfig-reval-"))
    azurite = Azurite().start()
    vault = KeyVaultEmulator(state=state / "kv").start()
    try:
        settings = Settings(storage_connection=azurite.connection_string, table_name="Reval",
                            key_vault_url=vault.url, key_vault_ca_file=vault.ca_file)
        control = EmulatorControl(vault.control_url)
        without = await run(settings, control, hours, catalog=False)
        with_ = await run(settings, control, hours, catalog=True)
    finally:
        vault.stop()
        azurite.stop()
        shutil.rmtree(state, ignore_errors=True)
    secrets = ORGS + 1
    section = "\n".join([
        "## Revalidation by version: vault GETs of one warm instance", "",
        f"`make bench-revalidation`: one instance reads {secrets} secrets every "
        f"{CONFIG_TTL:.0f} s for {hours} simulated hours (secret TTL 3,600 s, refresh-ahead "
        "included), one secret rotated hourly through the admin path; GETs counted at the "
        "emulator.", "",
        "| | vault GETs | per hour |", "|---|---:|---:|",
        f"| without revalidation (catalog off) | {without} | {without / hours:.1f} |",
        f"| with revalidation by version | {with_} | {with_ / hours:.1f} |", "",
        f"With revalidation the GETs are the {secrets} first fetches and one per rotation; "
        "an unchanged secret costs none after its first fetch.", ""])
    print(section)
    if write:
        (BENCH / "revalidation.md").write_text(section)
        report.splice(BENCH / "RESULTS.md", section)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.revalidation", description=__doc__)
    parser.add_argument("--hours", type=int, default=6)
    parser.add_argument("--no-write", action="store_true",
                        help="print only (bench/revalidation.md and RESULTS.md untouched)")
    args = parser.parse_args()
    asyncio.run(main_async(args.hours, write=not args.no_write))


if __name__ == "__main__":
    main()

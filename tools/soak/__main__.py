"""``python -m tools.soak [--quick]``: run the soak (see :mod:`tools.soak`), print its
table, exit 1 if any promise broke."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from azure.data.tables.aio import TableClient

from shared.read.coherence import SENTINEL_PARTITION, row_key
from tools.keyvault_emulator.control import EmulatorControl
from tools.services import Azurite, KeyVaultEmulator, start_ready_process
from tools.soak import phases
from tools.soak.common import READY
from tools.soak.phases import Stack, Tally

TABLE = "SoakConfig"
SETTINGS = {"timeout": 2.0, "cooldown": 3.0, "coherence": 1.0}


@dataclass(frozen=True)
class Size:
    seconds: float
    concurrency: int
    orgs: int
    pause: float
    writers: int
    increments: int


FULL = Size(seconds=20, concurrency=32, orgs=32, pause=10, writers=20, increments=10)
QUICK = Size(seconds=2, concurrency=8, orgs=8, pause=4, writers=6, increments=3)


def principal() -> str:
    document = {"auth_typ": "aad", "claims": [
        {"typ": "name", "val": "soak@localhost"}, {"typ": "roles", "val": "PlatformAdmin"}]}
    return base64.b64encode(json.dumps(document).encode()).decode()


def start_instance(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    return start_ready_process([sys.executable, "-m", "tools.soak.instance"], env, log, READY,
                               "an instance")


async def seed(stack: Stack) -> None:
    await stack.call("PUT", f"{stack.a}/orgs/GLOBAL/config/report_sender",
                     {"value": "reports@soak.example"})
    for org in stack.orgs:
        for key, value in (("smtp_host", f"smtp.{org}.example"),
                           ("smtp_username", f"digest@{org}.example")):
            await stack.call("PUT", f"{stack.a}/orgs/{org}/config/{key}", {"value": value})
        await stack.call("PUT", f"{stack.a}/orgs/{org}/config/smtp_password",
                         {"type": "secret_ref", "value": "smtp-password"})
        for name in ("smtp-password", "rotating"):
            await stack.call("POST", f"{stack.a}/secrets",
                             {"scope": org, "name": name, "value": stack.new_secret()})


async def soak(size: Size, folder: Path) -> list[Tally]:
    azurite = Azurite(location=folder / "azurite").start()
    vault = KeyVaultEmulator(state=folder / "vault").start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        env = {**os.environ, "FUNCTIONS_WORKER_RUNTIME": "python",
               "AZURE_FUNCTIONS_ENVIRONMENT": "Development",
               "ORGCONFIG_TRUST_DEV_PRINCIPAL": "true", "WEBSITE_AUTH_ENABLED": "false",
               "CONFIG_STORAGE_CONNECTION": azurite.connection_string,
               "CONFIG_TABLE_NAME": TABLE, "AZURE_KEY_VAULT_URL": vault.url,
               "AZURE_KEY_VAULT_CA_FILE": vault.ca_file,
               "BACKEND_TIMEOUT_SECONDS": str(SETTINGS["timeout"]),
               "BREAKER_COOLDOWN_SECONDS": str(SETTINGS["cooldown"]),
               "COHERENCE_CHECK_SECONDS": str(SETTINGS["coherence"]),
               "CONFIG_CACHE_TTL_SECONDS": "600", "SECRET_CACHE_TTL_SECONDS": "3600"}
        a_proc, a = start_instance(env, folder / "instance-a.log")
        procs.append(a_proc)
        b_proc, b = start_instance(env, folder / "instance-b.log")
        procs.append(b_proc)
        headers = {"X-MS-CLIENT-PRINCIPAL": principal(), "Content-Type": "application/json"}
        timeout = aiohttp.ClientTimeout(total=60)
        connector = aiohttp.TCPConnector(limit=128)
        async with aiohttp.ClientSession(headers=headers, timeout=timeout,
                                         connector=connector) as session:
            stack = Stack(session, a, b, EmulatorControl(vault.control_url), azurite,
                          [f"soak-{i}" for i in range(size.orgs)], SETTINGS)
            await seed(stack)
            tallies = await run_phases(stack, size, azurite)
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)
        tallies.append(leak_scan(stack, folder))
        return tallies
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        vault.stop()
        azurite.stop()


async def run_phases(stack: Stack, size: Size, azurite: Azurite) -> list[Tally]:
    control = stack.control
    tallies = [await phases.steady(stack, "baseline", size.seconds, size.concurrency)]
    for name, fault in (
        ("vault refusing", lambda: control.refuse_connections(True)),
        ("vault dropping", lambda: control.drop_connections(True)),
        ("vault 429", lambda: control.fail_next(1_000_000, 429, retry_after=0.2)),
    ):
        tallies.append(await phases.vault_fault(stack, name, size.seconds, size.concurrency,
                                                fault))
        await phases.settle(stack)
    tallies.append(await phases.table_paused(stack, size.pause, 8))
    tallies[-1].notes.append(f"settled {await phases.settle(stack):.1f} s later")
    tallies.append(await phases.conditional_writers(stack, size.writers, size.increments))

    async def count_rows(since: float) -> Counter[str]:
        """Change-log rows per scope written since ``since`` (Unix seconds)."""
        client = TableClient.from_connection_string(azurite.connection_string, TABLE)
        async with client:
            rows = [e async for e in client.query_entities(
                "PartitionKey eq @p and RowKey ge @lo", select=["RowKey", "Scope"],
                parameters={"p": SENTINEL_PARTITION, "lo": row_key(since, "")})]
        return Counter(str(r["Scope"]) for r in rows)

    tallies.append(await phases.cross_instance(stack, count_rows))
    return tallies


def leak_scan(stack: Stack, folder: Path) -> Tally:
    tally = Tally("log leak scan")
    logs = [p for p in folder.glob("instance-*.log")]
    text = "\n".join(p.read_text(errors="replace") for p in logs)
    leaked = sorted(v for v in stack.secret_values if v in text)
    tally.notes.append(f"{len(stack.secret_values)} secret values, {len(text.splitlines())} "
                       f"log lines, {len(leaked)} leaked")
    if leaked:
        tally.problems.append(f"log leak: {len(leaked)} secret values in instance logs")
    return tally


def table(tallies: list[Tally]) -> str:
    lines = ["| phase | requests | statuses | p50 ms | p99 ms | notes |",
             "|---|---:|---|---:|---:|---|"]
    for t in tallies:
        statuses = " ".join(f"{s}:{n}" for s, n in sorted(t.statuses.items()))
        lines.append(f"| {t.name} | {sum(t.statuses.values())} | {statuses or '-'} | "
                     f"{t.percentile(0.5):.0f} | {t.percentile(0.99):.0f} | "
                     f"{'; '.join(t.notes) or '-'} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.soak", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short slice (make test)")
    parser.add_argument("--keep", action="store_true", help="keep the state and logs folder")
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="orgconfig-soak-"))
    tallies = asyncio.run(soak(size, folder))
    problems = [p for t in tallies for p in t.problems]
    print(table(tallies))
    print(f"\n{len(problems)} problems in {time.monotonic() - started:.0f} s"
          + (f" (logs in {folder})" if args.keep or problems else ""))
    for problem in problems[:20]:
        print(f"  PROBLEM: {problem}")
    if not args.keep and not problems:
        shutil.rmtree(folder, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

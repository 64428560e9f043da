"""What the project's own bookkeeping rows cost the read path: a config snapshot reload (the
query every instance repeats every ``CONFIG_CACHE_TTL_SECONDS`` per org) with 0 and with
1,000 history items in the partition, and with 0, 200 and 10,000 registered orgs; plus a
registry listing and one org check at 10,000 orgs. Real Azurite, the real table SDK; bytes
are the HTTP response bodies of the reload.

``python -m bench.bookkeeping`` (``make bench-bookkeeping``) prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from typing import Any

from azure.data.tables.aio import TableClient

from shared.backends import history
from shared.backends.config_store import SNAPSHOT_FILTER
from shared.backends.org_registry import PARTITION, OrgRegistry
from shared.core.values import ConfigEntry
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tools.services import Azurite

ENTRIES = 20


async def _reload(connection: str, table: str, scope: str, runs: int) -> tuple[int, float]:
    """Bytes of one reload and its median time (ms) over ``runs``."""
    sizes: list[int] = []
    client = TableClient.from_connection_string(
        connection, table, raw_response_hook=lambda r: sizes.append(len(r.http_response.body())))
    times = []
    async with client:
        for _ in range(runs):
            sizes.clear()
            started = time.perf_counter()
            _ = [e async for e in client.query_entities(
                SNAPSHOT_FILTER, parameters={"pk": scope, "end": history.BOOKKEEPING_END})]
            times.append((time.perf_counter() - started) * 1000)
    return sum(sizes), statistics.median(times)


async def _bulk(client: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 100):
        await client.submit_transaction([("upsert", r) for r in rows[start:start + 100]])


async def measure(runs: int) -> list[tuple[str, int, float]]:
    azurite = Azurite().start()
    try:
        settings = Settings(storage_connection=azurite.connection_string,
                            table_name=f"Bench{uuid.uuid4().hex[:8]}")
        conn = azurite.connection_string
        out: list[tuple[str, int, float]] = []
        async with ConfigResolver(settings) as resolver:
            store = resolver.config_store
            await store.ensure_table()
            await store.upsert_many([ConfigEntry("acme", f"key_{n}", f"value-{n}")
                                     for n in range(ENTRIES)])
            out.append(("acme reload, no history", *await _reload(
                conn, settings.table_name, "acme", runs)))
            await _bulk(store.client, [
                {"PartitionKey": "acme", "RowKey": history.history_row(
                    f"key_{n % ENTRIES}", history.item_id(n, "bench000")),
                 "Key": f"key_{n % ENTRIES}", "Action": "put", "ItemType": "string",
                 "ItemValue": "x" * 60, "At": "2026-12-04T00:00:00Z"} for n in range(1000)])
            out.append(("acme reload, 1,000 history items", *await _reload(
                conn, settings.table_name, "acme", runs)))
            for orgs in (0, 200, 10_000):
                if orgs:
                    await _bulk(store.client, [
                        {"PartitionKey": PARTITION, "RowKey": f"org-{n:05d}",
                         "DisplayName": f"Org {n}", "Status": "active"} for n in range(orgs)])
                out.append((f"GLOBAL reload, {orgs:,} registered orgs", *await _reload(
                    conn, settings.table_name, "GLOBAL", runs)))
            registry = OrgRegistry(store, ttl=0)
            started = time.perf_counter()
            listed = await registry.all()
            out.append((f"registry listing ({len(listed):,} orgs)", 0,
                        (time.perf_counter() - started) * 1000))
            started = time.perf_counter()
            await registry.get("org-05000")
            out.append(("one org check (point read, uncached)", 0,
                        (time.perf_counter() - started) * 1000))
        return out
    finally:
        azurite.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bookkeeping", description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    rows = asyncio.run(measure(parser.parse_args().runs))
    print("| what | bytes | median ms |\n|---|---:|---:|")
    for name, size, ms in rows:
        print(f"| {name} | {size or '-'} | {ms:.1f} |")


if __name__ == "__main__":
    main()

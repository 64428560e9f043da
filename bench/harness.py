"""Runs a contender over an execution plan and measures it.

A contender is a *reader*: ``reader.context(org)`` gives an object with ``async get(key)``
and ``async close()``. A reader may instead define ``async execute(org, keys, sink)`` to
run a whole execution its own way (Powertools runs each one in a worker thread, as a sync
Azure Functions handler would be run).

Every value read is checked against the workload's expected value, outside the timed
region: a contender that returned a wrong value would fail the run, not win it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bench.clients import TABLE_REQUESTS
from bench.workload import Workload
from tools.keyvault_emulator.control import EmulatorControl


class Context(Protocol):
    async def get(self, key: str) -> Any: ...
    async def close(self) -> None: ...


class Reader(Protocol):
    def context(self, org: str) -> Context: ...
    async def aclose(self) -> None: ...


@dataclass
class Sink:
    """Collects per-read latencies (ns), errors and wrong values of one phase."""

    workload: Workload
    latencies_ns: list[int] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    mismatches: int = 0

    def record(self, org: str, key: str, value: Any, elapsed_ns: int) -> None:
        self.latencies_ns.append(elapsed_ns)
        if value != self.workload.expected(org, key):
            self.mismatches += 1

    def error(self, exc: BaseException) -> None:
        name = type(exc).__name__
        self.errors[name] = self.errors.get(name, 0) + 1


async def run_execution(reader: Any, org: str, keys: Sequence[str], sink: Sink) -> None:
    """One workflow execution: a context, then its keys read one after another."""
    if hasattr(reader, "execute"):
        await reader.execute(org, keys, sink)
        return
    ctx = reader.context(org)
    try:
        for key in keys:
            started = time.perf_counter_ns()
            try:
                value = await ctx.get(key)
            except Exception as exc:
                sink.error(exc)
                continue
            sink.record(org, key, value, time.perf_counter_ns() - started)
    finally:
        await ctx.close()


def percentile(sorted_values: Sequence[int], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = math.ceil(q / 100 * len(sorted_values))
    return float(sorted_values[max(0, min(len(sorted_values), rank) - 1)])


def latency_summary(latencies_ns: Sequence[int]) -> dict[str, float]:
    values = sorted(latencies_ns)
    us = 1000.0

    def p(q: float) -> float:
        return round(percentile(values, q) / us, 1)

    mean = sum(values) / len(values) / us if values else 0.0
    return {"read_p50_us": p(50), "read_p90_us": p(90), "read_p99_us": p(99),
            "read_max_us": round(values[-1] / us, 1) if values else 0.0,
            "read_mean_us": round(mean, 1)}


async def run_phase(
    make_reader: Callable[[], Awaitable[Any]],
    workload: Workload,
    plan: Sequence[tuple[int, int]],
    concurrency: int,
    control: EmulatorControl,
) -> dict[str, Any]:
    """A fresh reader runs ``plan`` with at most ``concurrency`` executions at a time
    (``concurrency >= len(plan)``: all start at once). Returns the phase's measurements."""
    await asyncio.to_thread(control.reset_counters)
    TABLE_REQUESTS.reset()
    sink = Sink(workload)
    reader = await make_reader()
    started = time.perf_counter()
    try:
        if concurrency >= len(plan):
            await asyncio.gather(*(
                run_execution(reader, *workload.execution(pair), sink) for pair in plan
            ))
        else:
            pending = iter(plan)

            async def worker() -> None:
                for pair in pending:
                    await run_execution(reader, *workload.execution(pair), sink)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    finally:
        await reader.aclose()
    counters = await asyncio.to_thread(control.counters)
    table_requests = TABLE_REQUESTS.reset()
    reads = len(sink.latencies_ns)
    return {
        "executions": len(plan),
        "concurrency": min(concurrency, len(plan)),
        "reads": reads,
        "errors": sink.errors,
        "wrong_values": sink.mismatches,
        "vault_gets": int(counters["operations"].get("get_secret", 0)),
        "vault_requests": int(counters["total"]),
        "vault_not_found": int(counters["statuses"].get("404", 0)),
        "table_queries": table_requests,
        **latency_summary(sink.latencies_ns),
        "wall_s": round(wall, 3),
        "executions_per_s": round(len(plan) / wall, 1) if wall > 0 else 0.0,
    }

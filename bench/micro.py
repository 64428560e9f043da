"""Micro benchmark: a warm ``get_config`` against a bare dict lookup behind an ``await``.

Rounds alternate the three subjects so drifts of the machine hit them alike; each round
times ``n`` sequential awaits and the per-call median over rounds is reported. Rounds are
short (about a millisecond) and many: on a shared machine the process is descheduled now
and then, which spoils the round it falls in; with short rounds that is a few rounds out
of hundreds, and the median drops them (long rounds would each contain some).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.clients import BackendInfo
from bench.contenders.orgconfig import BenchResolver
from bench.workload import Workload
from shared.core.values import ConfigEntry

PLAIN_KEY = "setting_00"
SECRET_KEY = "org_secret_00"
#: written by the micro benchmark itself (the workload has no JSON entries)
JSON_KEY = "micro_json"
JSON_VALUE = {"ticket": {"summary": "title", "priority": "severity"}, "queues": [1, 2, 3]}


async def _per_call_ns(fn: Callable[[str], Awaitable[Any]], key: str, n: int) -> float:
    started = time.perf_counter_ns()
    for _ in range(n):
        await fn(key)
    return (time.perf_counter_ns() - started) / n


async def measure(info: BackendInfo, workload: Workload, *, quick: bool) -> dict[str, Any]:
    rounds, n = (101, 1_000) if quick else (301, 2_000)
    org = workload.orgs[0]
    table: dict[str, Any] = {PLAIN_KEY: workload.expected(org, PLAIN_KEY),
             SECRET_KEY: workload.expected(org, SECRET_KEY)}

    async def bare(key: str) -> Any:
        return table[key]

    async with BenchResolver(info) as resolver:
        await resolver.config_store.put_entry(
            ConfigEntry(org, JSON_KEY, json.dumps(JSON_VALUE), "json"))
        table[JSON_KEY] = JSON_VALUE
        ctx = resolver.context(org)
        for key in (PLAIN_KEY, SECRET_KEY, JSON_KEY):  # warm: loads are not what is measured
            assert await ctx.get_config(key) == table[key]
        samples: dict[str, list[float]] = {"dict": [], "plain": [], "secret": [], "json": []}
        for _ in range(rounds):
            samples["dict"].append(await _per_call_ns(bare, PLAIN_KEY, n))
            samples["plain"].append(await _per_call_ns(ctx.get_config, PLAIN_KEY, n))
            samples["secret"].append(await _per_call_ns(ctx.get_config, SECRET_KEY, n))
            samples["json"].append(await _per_call_ns(ctx.get_config, JSON_KEY, n))
        misses = resolver.metrics.get("secret.cache_miss") + resolver.metrics.get(
            "config.cache_miss")
        # the slow path through warm caches (no backend call): the memo dropped before each
        # read, so each builds its answer again (what a span, when traced, is made for)
        async def rebuilt(key: str) -> Any:
            resolver.answers.clear()
            return await ctx.get_config(key)

        samples["cache_path"] = [await _per_call_ns(rebuilt, SECRET_KEY, n // 10)
                                 for _ in range(rounds // 2)]
    medians = {k: statistics.median(v) for k, v in samples.items()}
    return {
        "dict_await_ns": round(medians["dict"], 1),
        "plain_ns": round(medians["plain"], 1),
        "secret_ns": round(medians["secret"], 1),
        "json_ns": round(medians["json"], 1),
        "plain_us": round(medians["plain"] / 1000, 2),
        "secret_us": round(medians["secret"] / 1000, 2),
        "plain_ratio": round(medians["plain"] / medians["dict"], 1),
        "secret_ratio": round(medians["secret"] / medians["dict"], 1),
        "json_us": round(medians["json"] / 1000, 2),
        "json_ratio": round(medians["json"] / medians["dict"], 1),
        "cache_path_us": round(medians["cache_path"] / 1000, 2),
        "rounds": rounds,
        "calls_per_round": n,
        "cache_misses": misses,
    }

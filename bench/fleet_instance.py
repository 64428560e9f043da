"""One resolver process of the fleet benchmark (:mod:`bench.fleet`).

``python -m bench.fleet_instance '<json>'``: builds one :class:`ConfigResolver` over the
benchmark's Azurite and vault (the settings in the JSON, TTLs included), prints
``FLEET_INSTANCE_READY``, then reads one line from stdin: ``{"start_at": t, "stop_at": t}``
(Unix seconds). From ``start_at`` to ``stop_at`` it runs the MSP workload
(:mod:`bench.workload`): executions arrive as a Poisson stream of ``rate`` per second, each
an org (Zipf) and a workflow (uniform) whose 10 keys are read one after another with
``context.get_config``; executions overlap. Every value is checked against the workload's.
At the end it prints one JSON line: reads, errors by type, wrong values, the vault
responses it saw by status (every attempt, retries included: a ``raw_response_hook``),
failed reads of a key it had answered before (a held value lost), the resolver's
``metrics.snapshot()``, CPU seconds and how far arrivals fell behind.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import sys
import time
from collections import Counter
from typing import Any

from azure.keyvault.secrets.aio import SecretClient

from bench.workload import Workload, WorkloadSpec
from shared.backends.vault_clients import make_secret_client
from shared.resolver import ConfigResolver
from shared.settings import Settings

READY = "FLEET_INSTANCE_READY "
#: executions still running at ``stop_at`` get this long to finish
DRAIN_S = 15.0


class CountingResolver(ConfigResolver):
    """The resolver, its vault client seeing every response (each retry too)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.vault_statuses: Counter[int] = Counter()

    def _secret_client(self, vault_url: str | None = None) -> SecretClient:
        def seen(response: Any) -> None:
            self.vault_statuses[response.http_response.status_code] += 1

        return make_secret_client(self.settings, self._local_credential, vault_url,
                                  raw_response_hook=seen)


class Tally:
    def __init__(self) -> None:
        self.reads = 0
        self.answered = 0
        self.wrong = 0
        self.executions = 0
        self.errors: Counter[str] = Counter()
        #: failed reads of an (org, key) this process had answered before: a value it
        #: held and did not serve (stale-if-error should make these 0)
        self.lost = 0
        self.held: set[tuple[str, str]] = set()
        self.max_lag = 0.0


async def execution(resolver: ConfigResolver, workload: Workload, org: str,
                    keys: tuple[str, ...], tally: Tally) -> None:
    context = resolver.context(org)
    for key in keys:
        tally.reads += 1
        try:
            value = await context.get_config(key)
        except Exception as exc:  # every failure a workload would see, by type
            tally.errors[type(exc).__name__] += 1
            tally.lost += (org, key) in tally.held
            continue
        tally.answered += 1
        tally.held.add((org, key))
        if value != workload.expected(org, key):
            tally.wrong += 1
    tally.executions += 1


async def run(config: dict[str, Any], start_at: float, stop_at: float,
              resolver: CountingResolver) -> dict[str, Any]:
    workload = Workload(WorkloadSpec(**config["workload"]))
    rng = random.Random(config["seed"])
    rate = float(config["rate"])
    tally = Tally()
    tasks: set[asyncio.Task[None]] = set()
    await asyncio.sleep(max(0.0, start_at - time.time()))
    due = time.time()
    while due < stop_at:
        now = time.time()
        if due > now:
            await asyncio.sleep(due - now)
        else:
            tally.max_lag = max(tally.max_lag, now - due)
        org = rng.choices(range(len(workload.orgs)), weights=workload.org_weights)[0]
        flow = rng.randrange(len(workload.workflows))
        task = asyncio.create_task(execution(resolver, workload, workload.orgs[org],
                                             workload.workflows[flow], tally))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        due += rng.expovariate(rate)
    unfinished = 0
    if tasks:
        _, pending = await asyncio.wait(set(tasks), timeout=DRAIN_S)
        unfinished = len(pending)
        for task in pending:
            task.cancel()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "index": config["index"], "executions": tally.executions, "reads": tally.reads,
        "answered": tally.answered, "wrong": tally.wrong, "errors": dict(tally.errors),
        "errors_after_answered": tally.lost,
        "unfinished_executions": unfinished,
        "vault_statuses": {str(k): v for k, v in sorted(resolver.vault_statuses.items())},
        "metrics": resolver.metrics.snapshot(),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "max_lag_s": round(tally.max_lag, 3),
    }


async def main_async(config: dict[str, Any]) -> dict[str, Any]:
    resolver = CountingResolver(Settings(**config["settings"]))
    async with resolver:
        print(READY + str(config["index"]), flush=True)
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        times = json.loads(line)
        return await run(config, float(times["start_at"]), float(times["stop_at"]), resolver)


def main() -> int:
    config = json.loads(sys.argv[1])
    result = asyncio.run(main_async(config))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

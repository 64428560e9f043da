"""This project: one ConfigResolver for the process, ``resolver.context(org).get_config(key)``.

Settings are the defaults of DESIGN.md (config snapshots 30 s, secrets 3600 s, not-found
300 s, jitter, refresh-ahead, single-flight). Only the clients are the benchmark's, as for
every contender: the Table client with the resolver's options plus the delay-and-count
policy, and the Key Vault client with the resolver's options, trusting the emulator's CA
the way Azure's certificate is trusted (see ``bench.clients.secret_client``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from azure.data.tables.aio import TableClient
from azure.keyvault.secrets.aio import SecretClient

from bench.clients import BackendInfo, secret_client, table_client
from bench.workload import Workload
from shared.admin.workflows import run_workflow, workflow
from shared.context import OrganizationContext
from shared.resolver import ConfigResolver

EXECUTION = "bench-msp-execution"


class BenchResolver(ConfigResolver):
    """The resolver with the benchmark's Table client (delay + request count)."""

    def __init__(self, info: BackendInfo) -> None:
        super().__init__(info.settings())
        self.info = info

    def _table_client(self) -> TableClient:
        return table_client(self.info)

    def _secret_client(self, vault_url: str | None = None) -> SecretClient:
        return secret_client(self.info)


async def _noop() -> None:
    return None


@workflow(EXECUTION)
async def _execution(context: OrganizationContext, params: dict[str, Any]) -> dict[str, Any]:
    """One execution of the plan: its keys read one after another, each timed."""
    sink = params["sink"]
    for key in params["keys"]:
        started = time.perf_counter_ns()
        try:
            value = await context.get_config(key)
        except Exception as exc:
            sink.error(exc)
            continue
        sink.record(context.org_id, key, value, time.perf_counter_ns() - started)
    return {}


class OrgconfigReader:
    """Each execution runs as a workflow through the library's executor (``run_workflow``),
    as the Function App runs one, so the audit trail is the one a deployment writes: one
    record per run listing its secret reads, plus one per backend fetch."""

    def __init__(self, info: BackendInfo) -> None:
        self.resolver = BenchResolver(info)

    async def execute(self, org: str, keys: Sequence[str], sink: Any) -> None:
        await run_workflow(EXECUTION, self.resolver.context(org), {"keys": keys, "sink": sink})

    def context(self, org: str) -> Any:
        # The harness's get() is the context's get_config itself: no adapter layer timed.
        return SimpleNamespace(get=self.resolver.context(org).get_config, close=_noop)

    async def aclose(self) -> None:
        await self.resolver.aclose()


async def make_reader(info: BackendInfo, workload: Workload) -> OrgconfigReader:
    return OrgconfigReader(info)

"""The benchmark's backends: Azurite and the Key Vault emulator, seeded with the workload.

Both run as child processes of the benchmark (``tools.services``) and stay up while each
contender runs in its own subprocess. Seeding happens with no injected latency; the
emulator's latency is switched on afterwards.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.clients import BackendInfo, seeding_secret_client
from bench.workload import Workload
from shared.admin.catalog_sync import ReconcileReport, SecretCatalog
from shared.resolver import ConfigResolver
from tools.keyvault_emulator.control import EmulatorControl
from tools.services import Azurite, KeyVaultEmulator

SEED_CONCURRENCY = 16


class Backends(AbstractContextManager["Backends"]):
    """``with Backends(workdir, ...) as b: b.seed(workload); b.info ...``"""

    def __init__(self, workdir: Path, *, table_delay_ms: float, vault_latency_ms: float) -> None:
        self.workdir = workdir
        self.table_delay_ms = table_delay_ms
        self.vault_latency_ms = vault_latency_ms
        self.azurite: Azurite | None = None
        self.emulator: KeyVaultEmulator | None = None
        self._info: BackendInfo | None = None

    def __enter__(self) -> Backends:
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self.azurite = Azurite().start()
            self.emulator = KeyVaultEmulator(state=self.workdir / "kv-state").start()
        except BaseException:
            self.close()
            raise
        self._info = BackendInfo(
            table_connection=self.azurite.connection_string,
            table_name=f"Bench{uuid.uuid4().hex[:10]}",
            vault_url=self.emulator.url,
            ca_file=self.emulator.ca_file,
            control_url=self.emulator.control_url,
            table_delay_ms=self.table_delay_ms,
            vault_latency_ms=self.vault_latency_ms,
        )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self.emulator is not None:
            self.emulator.stop()
        if self.azurite is not None:
            self.azurite.stop()

    @property
    def info(self) -> BackendInfo:
        assert self._info is not None, "use Backends as a context manager"
        return self._info

    @property
    def control(self) -> EmulatorControl:
        return EmulatorControl(self.info.control_url)

    def seed(self, workload: Workload, pad_secrets: int = 0) -> dict[str, float]:
        """Write every config entry and secret, and ``pad_secrets`` more secrets of orgs the
        workload never runs (a larger vault); then turn on the vault latency."""
        self.control.reset()
        started = time.perf_counter()
        entries, secrets = asyncio.run(_seed(self.info, workload, pad_secrets))
        elapsed = time.perf_counter() - started
        self.control.set_latency(self.vault_latency_ms)
        self.control.reset_counters()
        return {"entries": entries, "secrets": secrets, "padding_secrets": pad_secrets,
                "seconds": round(elapsed, 2)}

    def build_catalog(self) -> dict[str, Any]:
        """Run the catalog's reconcile once (what the timer does in Azure), with the vault
        latency on; returns what it cost."""
        self.control.reset_counters()
        started = time.perf_counter()
        report = asyncio.run(_reconcile(self.info))
        elapsed = time.perf_counter() - started
        counters = self.control.counters()
        self.control.reset_counters()
        return {"secrets": report.listed, "rows_written": report.drift,
                "seconds": round(elapsed, 2),
                "vault_requests": int(counters["total"]),
                "vault_list_requests": int(counters["operations"].get("list_secrets", 0)),
                "vault_gets": int(counters["operations"].get("get_secret", 0))}


async def _reconcile(info: BackendInfo) -> ReconcileReport:
    async with ConfigResolver(info.settings()) as resolver:
        return await SecretCatalog(resolver).reconcile()


def padding(count: int) -> dict[str, str]:
    """Secrets of orgs the workload never runs, 10 per org: a larger vault to list."""
    return {f"pad-org-{i // 10:05d}--pad-secret-{i % 10}": "padding" for i in range(count)}


async def _seed(info: BackendInfo, workload: Workload, pad_secrets: int = 0) -> tuple[int, int]:
    # The resolver's own writer (transactions of <= 100 per partition), without the delay.
    async with ConfigResolver(info.settings()) as resolver:
        entries = await resolver.config_store.upsert_many(workload.entries())
    secrets = {**workload.secrets(), **padding(pad_secrets)}
    limit = asyncio.Semaphore(SEED_CONCURRENCY)
    async with seeding_secret_client(info) as vault:

        async def put(name: str, value: str) -> None:
            async with limit:
                await vault.set_secret(name, value)

        await asyncio.gather(*(put(n, v) for n, v in secrets.items()))
    return entries, len(secrets)

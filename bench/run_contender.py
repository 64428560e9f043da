"""One measurement in its own process, so peak RSS belongs to that contender alone.

``python -m bench.run_contender SPEC.json OUT.json`` where SPEC holds ``kind`` (a workload
contender, ``pydantic_settings_startup`` or ``micro``), ``info`` (the backends), ``workload``
(the spec) and, for workload contenders, ``executions`` (how many of the plan to run).
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.clients import BackendInfo
from bench.contenders import WORKLOAD_CONTENDERS, make_reader
from bench.harness import run_phase
from bench.workload import Workload, WorkloadSpec
from shared.core.audit import dimensions as audit_dimensions
from tools.keyvault_emulator.control import EmulatorControl


def peak_rss_mb() -> float:
    """This process's peak RSS. ``VmHWM`` starts again at exec; ``ru_maxrss`` would not
    (Linux carries the parent's high-water mark across fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class AuditCounter(logging.Handler):
    """Counts the records of the ``orgconfig.audit`` logger (what Application Insights would
    store) by their ``event``; they are not printed."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.events: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        dimensions = audit_dimensions(record)
        self.events[str(dimensions.get("event") or dimensions.get("outcome") or "other")] += 1

    def take(self) -> dict[str, Any]:
        events, self.events = self.events, Counter()
        return {"audit_records": sum(events.values()), "audit_by_event": dict(events)}


async def run_workload_contender(
    name: str, info: BackendInfo, workload: Workload, executions: int
) -> dict[str, Any]:
    factory = make_reader(name)
    control = EmulatorControl(info.control_url)
    audit = AuditCounter()
    audit_log = logging.getLogger("orgconfig.audit")
    audit_log.addHandler(audit)
    audit_log.setLevel(logging.INFO)
    audit_log.propagate = False

    async def fresh_reader() -> Any:
        return await factory(info, workload)

    plan = workload.plan[:executions]
    steady = await run_phase(fresh_reader, workload, plan, workload.spec.concurrency, control)
    steady.update(audit.take())
    burst = await run_phase(
        fresh_reader, workload, workload.burst_plan, len(workload.burst_plan), control
    )
    burst.update(audit.take())
    return {**steady, "burst": burst}


def main(argv: list[str]) -> int:
    spec_path, out_path = Path(argv[0]), Path(argv[1])
    spec = json.loads(spec_path.read_text())
    logging.basicConfig(level=logging.WARNING)
    # the sync (requests) clients warn about every connection beyond their pool of 10
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    info = BackendInfo(**spec["info"])
    workload = Workload(WorkloadSpec(**spec["workload"]))
    kind = spec["kind"]
    started = time.perf_counter()
    result: dict[str, Any]
    if kind in WORKLOAD_CONTENDERS:
        result = asyncio.run(run_workload_contender(kind, info, workload, spec["executions"]))
    elif kind == "pydantic_settings_startup":
        # imported here so the other contenders' peak RSS does not include pydantic-settings
        from bench.contenders import pydantic_settings_startup

        result = pydantic_settings_startup.measure(info, workload)
    elif kind == "micro":
        from bench import micro

        if spec.get("telemetry"):  # the app's set-up, from the OTEL_* variables given
            import app_telemetry

            result_telemetry = app_telemetry.configure()
            assert result_telemetry == "otel", result_telemetry

        result = asyncio.run(micro.measure(info, workload, quick=spec.get("quick", False)))
    else:
        raise SystemExit(f"unknown kind {kind!r}")
    result["process_s"] = round(time.perf_counter() - started, 2)
    result["peak_rss_mb"] = peak_rss_mb()
    out_path.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""What OpenTelemetry costs the read path: the micro benchmark (bench/micro.py) with no SDK
and with the SDK configured as the app configures it (``app_telemetry.py``: every signal
through a real exporter, the ``file`` one, batched), alternating in one run so the
machine's drift hits both alike.

``python -m bench.telemetry [--pairs N] [--quick]`` (``make bench-telemetry``) prints the
table: the warm path (a memo hit: no span by design) must not move; the slow path through
warm caches (memo dropped before each read: one ``orgconfig.resolve`` span) shows what a
span costs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.backends import Backends
from bench.clients import subprocess_env
from bench.workload import Workload, WorkloadSpec

BENCH_DIR = Path(__file__).resolve().parent
WORK_DIR = BENCH_DIR.parent / ".local" / "bench-telemetry"
COLUMNS = ("plain_ratio", "secret_ratio", "json_ratio", "plain_us", "secret_us",
           "cache_path_us")


def _micro(info: Any, spec: WorkloadSpec, telemetry: bool, quick: bool, folder: Path
           ) -> dict[str, Any]:
    spec_file, out_file = folder / "micro.spec.json", folder / "micro.result.json"
    out_file.unlink(missing_ok=True)
    spec_file.write_text(json.dumps({"kind": "micro", "info": info.to_dict(),
                                     "workload": spec.to_dict(), "quick": quick,
                                     "telemetry": telemetry}))
    env = subprocess_env(info)
    env = {k: v for k, v in env.items() if not k.startswith(("OTEL_", "APPLICATIONINSIGHTS"))}
    if telemetry:
        env.update(OTEL_TRACES_EXPORTER="file", OTEL_METRICS_EXPORTER="file",
                   OTEL_LOGS_EXPORTER="file", ORGCONFIG_TELEMETRY_DIR=str(folder / "otel"))
    subprocess.run([sys.executable, "-m", "bench.run_contender", str(spec_file),
                    str(out_file)], check=True, env=env, cwd=BENCH_DIR.parent, timeout=900)
    result: dict[str, Any] = json.loads(out_file.read_text())
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    spec = WorkloadSpec.quick()
    workload = Workload(spec)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    with Backends(WORK_DIR / "services", table_delay_ms=0, vault_latency_ms=0) as backends, \
            tempfile.TemporaryDirectory(dir=WORK_DIR) as scratch:
        backends.seed(workload, 0)
        backends.build_catalog()
        for pair in range(args.pairs):
            for mode in ("off", "on") if pair % 2 == 0 else ("on", "off"):
                result = _micro(backends.info, spec, mode == "on", args.quick, Path(scratch))
                runs[mode].append(result)
                print(f"  pair {pair + 1} {mode}: " + ", ".join(
                    f"{c} {result[c]}" for c in COLUMNS), flush=True)
        spans = sum(1 for _ in (Path(scratch) / "otel" / "traces.jsonl").open()) \
            if (Path(scratch) / "otel" / "traces.jsonl").exists() else 0
    print(f"\nmedians of {args.pairs} runs each (spans exported by the 'on' runs: {spans})")
    print(f"| {'measure':<14} | {'no SDK':>8} | {'SDK + exporter':>14} | {'change':>7} |")
    print(f"|{'-' * 16}|{'-' * 10}|{'-' * 16}|{'-' * 9}|")
    for column in COLUMNS:
        off = statistics.median(r[column] for r in runs["off"])
        on = statistics.median(r[column] for r in runs["on"])
        print(f"| {column:<14} | {off:>8} | {on:>14} | {(on / off - 1) * 100:>+6.1f}% |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m bench [--quick] [--out DIR]``: run every contender and write the results.

Starts Azurite and the Key Vault emulator, seeds the MSP workload, runs each contender in
its own subprocess (so its peak RSS is its own), then the pydantic-settings start-up, the
micro benchmark and the scale model, and writes ``results.json``, ``RESULTS.md``,
``results.png`` and ``scale.png`` (full mode: into ``bench/``; quick mode: into
``bench/.work/quick/`` so a quick run never overwrites the published full results).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.backends import Backends
from bench.clients import BackendInfo, subprocess_env
from bench.contenders import WORKLOAD_CONTENDERS
from bench.scale import ScaleParams, simulate, simulate_vault_sizes
from bench.shards import simulate_shards
from bench.workload import Workload, WorkloadSpec

BENCH_DIR = Path(__file__).resolve().parent
WORK_DIR = BENCH_DIR / ".work"
#: Full mode: the naive contender keeps nothing between executions and runs ~40
#: executions/s here; it runs this many of the plan, and its totals are extrapolated.
NAIVE_FULL_EXECUTIONS = 5_000
SUBPROCESS_TIMEOUT_S = 1800

METHOD = [
    "**naive**: a Table client and a Key Vault client per execution (the seeds' pattern); per "
    "read a point read of the org entry, on 404 of the GLOBAL entry; for a secret ref a GET "
    "of `{org}--{name}`, on 404 of `GLOBAL--{name}`. No cache.",
    "**per-request cache**: clients shared by the process; each execution queries its org's "
    "partition (parameterized) on its first read and GLOBAL's when a key is not the org's, "
    "and keeps the secrets it resolved until it ends.",
    "**Powertools-style**: the real `aws_lambda_powertools` `BaseProvider` (3.x) with a Table "
    "provider (`get_multiple(partition)`, as `DynamoDBProvider`) and a Key Vault provider "
    "(`_get` = `get_secret`), at the default `max_age` (300 s). Org name first, GLOBAL on "
    "`GetParameterError`; Powertools caches only values, so the 404 is asked on every read. "
    "Powertools is synchronous: each execution runs as a sync function in a pool of 32 "
    "threads, as the Functions Python worker runs a sync handler (calling it from `async "
    "def` would block the event loop instead).",
    "**pydantic-settings**: `AzureKeyVaultSettingsSource` with a settings class of one field "
    "per vault secret: the cost of one instance start. Its `_load_env_vars` is repeated "
    "with two SecretClient options (the emulator's CA, no challenge resource check).",
    "**orgconfig**: one `ConfigResolver` per process with the default settings; "
    "`resolver.context(org).get_config(key)`. The secret catalog is built by one reconcile "
    "(what the hourly timer does) after the contenders before it have run, so theirs is a "
    "table without catalog rows.",
    "**orgconfig, name index**: the same, in the mode of a deployment where no reconcile "
    "has run yet: names the vault does not have are answered by each instance's listing "
    "of the vault's names (once per not-found TTL), not by the catalog.",
    "Same clients for all: the resolver's Table and Key Vault client options; a pipeline "
    "policy after the retry policy delays and counts every table HTTP request (`table "
    "requests` = point reads + partition queries, retries included). Vault GETs are the "
    "emulator's own counts (the 401 challenge each new Key Vault client makes is not counted "
    "there: naive pays one more round trip per execution for it).",
    "The async Key Vault clients trust the emulator's CA through `SSL_CERT_FILE` rather than "
    "`connection_verify=<path>`: with a path, azure-core builds an SSLContext per request "
    "and aiohttp then opens a new TLS connection for every request, which Azure (system "
    "trust store) does not do.",
    "Latency is `time.perf_counter_ns()` around each `await get(key)` (inside the worker "
    "thread for Powertools). Peak RSS is the subprocess's `VmHWM`.",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="40 orgs, 1,000 executions, burst 100 (under 2 minutes)")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: bench/, or bench/.work/quick with --quick)")
    p.add_argument("--table-delay-ms", type=float, default=10.0,
                   help="delay per Table Storage request (default 10)")
    p.add_argument("--vault-latency-ms", type=float, default=15.0,
                   help="emulator latency per Key Vault request (default 15)")
    p.add_argument("--rate", type=float, default=10.0,
                   help="scale model: executions per second per instance (default 10)")
    p.add_argument("--naive-executions", type=int, default=None,
                   help=f"executions the naive contender runs (full default "
                        f"{NAIVE_FULL_EXECUTIONS:,}; quick: all)")
    p.add_argument("--pad-secrets", type=int, default=0,
                   help="seed this many more secrets of orgs the workload never runs (a "
                        "larger vault to list; default 0)")
    p.add_argument("--only", default=None,
                   help="comma-separated subset of " + ",".join(WORKLOAD_CONTENDERS))
    return p.parse_args(argv)


def run_subprocess(kind: str, info: BackendInfo, spec: WorkloadSpec, **extra: Any
                   ) -> dict[str, Any]:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    spec_file = WORK_DIR / f"{kind}.spec.json"
    out_file = WORK_DIR / f"{kind}.result.json"
    out_file.unlink(missing_ok=True)
    spec_file.write_text(json.dumps(
        {"kind": kind, "info": info.to_dict(), "workload": spec.to_dict(), **extra}
    ))
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bench.run_contender", str(spec_file), str(out_file)],
        check=True, env=subprocess_env(info), cwd=BENCH_DIR.parent,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    result: dict[str, Any] = json.loads(out_file.read_text())
    print(f"  {kind}: {time.perf_counter() - started:.1f} s", flush=True)
    return result


def per_1k(result: dict[str, Any]) -> None:
    execs = result["executions"]
    result["vault_gets_per_1k_executions"] = round(result["vault_gets"] * 1000 / execs, 1)
    result["table_queries_per_1k_executions"] = round(result["table_queries"] * 1000 / execs, 1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    spec = WorkloadSpec.quick() if args.quick else WorkloadSpec.full()
    out = args.out or (WORK_DIR / "quick" if args.quick else BENCH_DIR)
    names = WORKLOAD_CONTENDERS if args.only is None else tuple(args.only.split(","))
    naive_runs = args.naive_executions or (spec.executions if args.quick
                                           else NAIVE_FULL_EXECUTIONS)
    workload = Workload(spec)
    mode = "quick" if args.quick else "full"
    print(f"bench ({mode}): {spec}", flush=True)
    contenders: dict[str, dict[str, Any]] = {}
    with Backends(WORK_DIR / "services", table_delay_ms=args.table_delay_ms,
                  vault_latency_ms=args.vault_latency_ms) as backends:
        seeding = backends.seed(workload, args.pad_secrets)
        print(f"  seeded {seeding}", flush=True)
        info = backends.info
        catalog: dict[str, Any] | None = None
        for name in names:
            if name == "orgconfig":
                catalog = backends.build_catalog()
                print(f"  catalog reconcile: {catalog}", flush=True)
            runs = min(naive_runs, spec.executions) if name == "naive" else spec.executions
            result = run_subprocess(name, info, spec, executions=runs)
            per_1k(result)
            if runs < spec.executions:
                factor = spec.executions / runs
                result["extrapolated"] = {
                    "executions": spec.executions,
                    "vault_gets": round(result["vault_gets"] * factor),
                    "table_queries": round(result["table_queries"] * factor),
                    "wall_s": round(result["wall_s"] * factor, 1),
                    "note": f"measured on {runs} executions, scaled linearly by {factor:g}",
                }
            contenders[name] = result
        pydantic = run_subprocess("pydantic_settings_startup", info, spec)
        micro = run_subprocess("micro", info, spec, quick=args.quick)
    scale_params = ScaleParams(
        rate=args.rate, pydantic_requests_per_s=pydantic["requests_per_s"],
        horizon_s=3600 if args.quick else 7200,
    )
    scale = simulate(WorkloadSpec.full(), scale_params)
    curves = scale.pop("_curves")
    scale["vault_sizes"] = simulate_vault_sizes(WorkloadSpec.full(), scale_params, scale)
    scale["shards"] = simulate_shards(WorkloadSpec.full(), scale_params)
    print(f"  scale model: {time.perf_counter() - started:.1f} s so far", flush=True)
    command = "make bench QUICK=1" if args.quick else "make bench"
    results: dict[str, Any] = {
        "contenders": contenders,
        "pydantic_settings_startup": pydantic,
        "micro": micro,
        "catalog_reconcile": catalog,
        "scale": scale,
        "mode": mode,
        "command": f"{command}  (python -m bench{' --quick' if args.quick else ''})",
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "workload": dataclasses.asdict(spec),
        "backends": {"table_delay_ms": args.table_delay_ms,
                     "vault_latency_ms": args.vault_latency_ms},
        "seeding": seeding,
        "machine": report.machine(),
        "method": METHOD,
    }
    results["findings"] = report.findings(results)
    results["total_s"] = round(time.perf_counter() - started, 1)
    report.write(results, out, curves)
    print(report.summary(results), flush=True)
    print(f"wrote {out}/results.json, RESULTS.md, results.png, scale.png "
          f"in {results['total_s']:.0f} s", flush=True)
    failures = [n for n, c in contenders.items()
                if c["wrong_values"] or c["burst"]["wrong_values"]]
    if failures:
        print(f"WRONG VALUES READ by {failures}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Measure the fleet: K real resolver processes against one emulator vault, and the scale
model at the same K, start pattern and TTLs (issue 23, section 4).

``python -m bench.fleet [--quick] [-k K]`` (``make bench-fleet``, ``QUICK=1``):

1. starts Azurite and one Key Vault emulator vault (15 ms latency per request, as
   ``make bench``) and seeds the MSP workload (:mod:`bench.workload`, 200 orgs, 2,010
   secrets) through the admin path (``SecretAdmin.put``: vault, then catalog row) and one
   catalog reconcile, so the catalog is on as in production;
2. **unthrottled**: launches K resolver processes (:mod:`bench.fleet_instance`; each its own
   ``ConfigResolver``), the first at t = 0 and one more per second, each running the
   workload at ``rate`` executions per second until the common end; the driver reads the
   emulator's counters every second and bins them per second (GET, LIST, 404, 429, all);
3. runs the scale model (:mod:`bench.scale`) with the same K, starts, TTLs, rate and
   length, ``MODEL_SEEDS`` times, and prints measured vs modelled peak and steady
   requests per 10 s;
4. **throttled**: K fresh processes the same way with the vault limited to
   ``40 x K`` requests per 10 s (Key Vault's 4,000 for the goal of 100 instances, scaled to
   K), and reports per process the 429s it saw, stale serves and errors raised to the
   workload (the resolvers' ``metrics.snapshot()``).

Time is scaled: the secret TTLs are ``1 / TIME_SCALE`` of production's (3,600 s -> 60 s,
not-found 300 s -> 5 s) so several TTL periods fit in a few minutes; the config snapshot
TTL stays 30 s (it costs table requests, not vault ones). The model runs with the same
TTLs. Full results: ``bench/fleet.json`` and the "Fleet" section of ``bench/RESULTS.md``;
``--quick`` writes to ``bench/.work/fleet-quick/`` only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import SecretStr

from bench import report as results_report
from bench.fleet_instance import READY
from bench.scale import NameModel, ScaleParams, instance_series
from bench.workload import Workload, WorkloadSpec
from shared.admin.catalog_sync import SecretCatalog
from shared.admin.secret_admin import SecretAdmin
from shared.core.naming import split_keyvault_name
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tools.keyvault_emulator.control import EmulatorControl
from tools.services import Azurite, KeyVaultEmulator, start_ready_process

BENCH = Path(__file__).resolve().parent
TIME_SCALE = 60.0
WINDOW = 10
MODEL_SEEDS = 20
#: Key Vault's limit per 10 s and the fleet it should carry (the goal of issue 23)
VAULT_LIMIT, GOAL_INSTANCES = 4000, 100
SEED_CONCURRENCY = 16
CATEGORIES = ("all", "GET", "LIST", "404", "429")


@dataclass(frozen=True)
class FleetSpec:
    k: int = 16
    rate: float = 10.0            # executions per second per instance (the model's)
    run_s: int = 240              # from the first start to the end
    latency_ms: float = 15.0      # vault latency per request (make bench's)
    secret_ttl: float = 3600.0 / TIME_SCALE
    not_found_ttl: float = 300.0 / TIME_SCALE
    config_ttl: float = 30.0
    throttle: bool = True
    seed: int = 6

    @classmethod
    def quick(cls) -> FleetSpec:
        return cls(k=2, run_s=20, throttle=True)

    @property
    def starts(self) -> list[int]:
        return list(range(self.k))

    @property
    def limit(self) -> int:
        return VAULT_LIMIT * self.k // GOAL_INSTANCES

    @property
    def steady_from(self) -> int:
        """The steady window: the last third of the run, and after the last start."""
        return max(self.k, self.run_s - self.run_s // 3)


# -- services and seeding ----------------------------------------------------------------
def settings_for(azurite: Azurite, vault: KeyVaultEmulator, table: str,
                 spec: FleetSpec) -> dict[str, Any]:
    return {"storage_connection": azurite.connection_string, "table_name": table,
            "key_vault_url": vault.url, "key_vault_ca_file": vault.ca_file,
            "config_cache_ttl": spec.config_ttl, "secret_cache_ttl": spec.secret_ttl,
            "secret_not_found_ttl": spec.not_found_ttl, "backend_timeout": 5.0}


async def seed(settings: Settings, workload: Workload) -> dict[str, Any]:
    """Config entries with the resolver's writer; secrets through ``SecretAdmin.put`` (the
    vault, then the catalog row); one reconcile (what the hourly timer does) so the catalog
    is complete."""
    started = time.perf_counter()
    async with ConfigResolver(settings) as admin:
        entries = await admin.config_store.upsert_many(workload.entries())
        writes = SecretAdmin(admin)
        limit = asyncio.Semaphore(SEED_CONCURRENCY)

        async def put(full: str, value: str) -> None:
            parts = split_keyvault_name(full)
            assert parts is not None
            scope, name = parts
            async with limit:
                await writes.put(scope, name, SecretStr(value))

        secrets = workload.secrets()
        await asyncio.gather(*(put(n, v) for n, v in secrets.items()))
        report = await SecretCatalog(admin).reconcile()
    return {"entries": entries, "secrets": len(secrets), "reconciled": report.listed,
            "seconds": round(time.perf_counter() - started, 1)}


# -- counting at the emulator ------------------------------------------------------------
class CounterPoller(threading.Thread):
    """Reads the vault's counters every second; ``series()`` bins the increments per
    second since ``t0`` by category."""

    def __init__(self, control: EmulatorControl, t0: float, seconds: int) -> None:
        super().__init__(daemon=True)
        self.control, self.t0, self.seconds = control, t0, seconds
        self.samples: list[tuple[float, Counter[str]]] = []
        self.done = threading.Event()

    @staticmethod
    def categories(snapshot: dict[str, Any]) -> Counter[str]:
        ops, statuses = snapshot["operations"], snapshot["statuses"]
        return Counter({"all": int(snapshot["total"]),
                        "GET": int(ops.get("get_secret", 0)),
                        "LIST": int(ops.get("list_secrets", 0) + ops.get("list_versions", 0)),
                        "404": int(statuses.get("404", 0)),
                        "429": int(statuses.get("429", 0))})

    def run(self) -> None:
        self.samples.append((self.t0, Counter()))
        while not self.done.is_set():
            self.done.wait(max(0.0, self.t0 + len(self.samples) - time.time()))
            self.samples.append((time.time(), self.categories(self.control.counters())))

    def series(self) -> dict[str, np.ndarray]:
        out = {c: np.zeros(self.seconds) for c in CATEGORIES}
        for (_, before), (at, after) in zip(self.samples, self.samples[1:], strict=False):
            second = int(at - self.t0 - 0.5)  # the increment happened in the second before
            if 0 <= second < self.seconds:
                for c in CATEGORIES:
                    out[c][second] += after[c] - before[c]
        return out


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its waited-for children (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


# -- one fleet ---------------------------------------------------------------------------
def run_fleet(spec: FleetSpec, settings: dict[str, Any], workload_spec: WorkloadSpec,
              control: EmulatorControl, folder: Path, label: str,
              service_pids: dict[str, int]) -> dict[str, Any]:
    """K processes, the i-th starting at t0 + i, all stopping at t0 + run_s."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def launch(index: int) -> Any:
        config = {"index": index, "seed": spec.seed * 1000 + index, "rate": spec.rate,
                  "workload": asdict(workload_spec), "settings": settings}
        proc, _ = start_ready_process(
            [sys.executable, "-m", "bench.fleet_instance", json.dumps(config)], env,
            folder / f"{label}-{index}.log", READY, f"fleet instance {index}")
        return proc

    with ThreadPoolExecutor(max_workers=4) as pool:
        procs = list(pool.map(launch, range(spec.k)))
    try:
        control.reset_counters()
        t0 = time.time() + 2.0
        poller = CounterPoller(control, t0, spec.run_s)
        for i, proc in enumerate(procs):
            assert proc.stdin is not None
            proc.stdin.write(json.dumps({"start_at": t0 + spec.starts[i],
                                         "stop_at": t0 + spec.run_s}).encode() + b"\n")
            proc.stdin.flush()
        cpu_before = {name: proc_cpu_s(pid) for name, pid in service_pids.items()}
        time.sleep(max(0.0, t0 - time.time()))
        poller.start()
        load: list[float] = []
        while time.time() < t0 + spec.run_s + 1.5:
            time.sleep(5.0)
            load.append(os.getloadavg()[0])
        poller.done.set()
        poller.join()
        cpu = {name: round(proc_cpu_s(pid) - cpu_before[name], 1)
               for name, pid in service_pids.items()}
        results = []
        for proc in procs:
            out, _ = proc.communicate(timeout=60)
            results.append(json.loads(out.decode().strip().splitlines()[-1]))
        # executions in flight at the end finish (retries included): counted here only
        final = CounterPoller.categories(control.counters())
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    series = poller.series()
    return {"series": {c: s.tolist() for c, s in series.items()}, "instances": results,
            "services_cpu_s": cpu, "load_avg_max": round(max(load, default=0.0), 2),
            "totals": {c: int(s.sum()) for c, s in series.items()},
            "totals_with_drain": dict(final)}


# -- the model ---------------------------------------------------------------------------
def model_params(spec: FleetSpec) -> ScaleParams:
    """The scale model at the run's rate, TTLs and length; no reconcile within the run
    (the driver runs none either)."""
    return ScaleParams(rate=spec.rate, horizon_s=spec.run_s, found_ttl=spec.secret_ttl,
                       not_found_ttl=spec.not_found_ttl, reconcile_every_s=1e12)


def model_series(spec: FleetSpec, workload_spec: WorkloadSpec, seed: int,
                 params: ScaleParams | None = None) -> np.ndarray:
    """Modelled vault requests per second of the fleet: instance i from ``starts[i]``."""
    params = params or model_params(spec)
    model = NameModel(Workload(workload_spec), params.rate)
    rng = np.random.default_rng(seed)
    timeline = np.zeros(spec.run_s)
    for start in spec.starts:
        length = spec.run_s - start
        one = instance_series("orgconfig", model, replace(params, horizon_s=length), rng)
        timeline[start:] += one
    return timeline


def peak(series: np.ndarray, window: int = WINDOW) -> float:
    sums = np.cumsum(np.concatenate([[0.0], series]))
    return float((sums[window:] - sums[:-window]).max()) if len(series) >= window else 0.0


def steady(series: np.ndarray, spec: FleetSpec) -> float:
    """Mean requests per 10 s over the steady window."""
    return float(series[spec.steady_from:].mean() * WINDOW)


def model_summary(spec: FleetSpec, workload_spec: WorkloadSpec,
                  params: ScaleParams | None = None) -> dict[str, Any]:
    runs = [model_series(spec, workload_spec, spec.seed * 100 + s, params)
            for s in range(MODEL_SEEDS)]
    peaks = [peak(r) for r in runs]
    steadies = [steady(r, spec) for r in runs]
    mean = np.mean(runs, axis=0)
    return {"peak": round(float(np.mean(peaks)), 1),
            "peak_range": [round(min(peaks)), round(max(peaks))],
            "steady": round(float(np.mean(steadies)), 1),
            "steady_range": [round(min(steadies), 1), round(max(steadies), 1)],
            "total": round(float(mean.sum())),
            "per_10s": [round(float(x)) for x in mean.reshape(-1, WINDOW).sum(axis=1)]
            if spec.run_s % WINDOW == 0 else []}


def compare(measured: dict[str, Any], modelled: dict[str, Any], spec: FleetSpec
            ) -> dict[str, Any]:
    series = np.array(measured["series"]["all"])
    m_peak, m_steady = peak(series), steady(series, spec)

    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 2) if b else None

    return {"measured_peak": m_peak, "modelled_peak": modelled["peak"],
            "peak_ratio": ratio(m_peak, modelled["peak"]),
            "measured_steady": round(m_steady, 1), "modelled_steady": modelled["steady"],
            "steady_ratio": ratio(m_steady, modelled["steady"]),
            "measured_total": int(series.sum()), "modelled_total": modelled["total"]}


# -- the run -----------------------------------------------------------------------------
def per_10s(series: list[float]) -> list[int]:
    values = np.array(series)
    full = len(values) // WINDOW * WINDOW
    return [int(x) for x in values[:full].reshape(-1, WINDOW).sum(axis=1)]


def instance_rows(fleet: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for r in fleet["instances"]:
        m = r["metrics"]
        rows.append({
            "index": r["index"], "executions": r["executions"], "reads": r["reads"],
            "answered": r["answered"], "errors": sum(r["errors"].values()),
            "lost": r["errors_after_answered"],
            "error_types": r["errors"], "wrong": r["wrong"],
            "unfinished_executions": r["unfinished_executions"],
            "429_seen": int(r["vault_statuses"].get("429", 0)),
            "vault_responses": sum(r["vault_statuses"].values()),
            "vault_get": int(m.get("vault.get", 0)),
            "revalidated": int(m.get("vault.revalidated", 0)),
            "stale_secret": int(m.get("secret.stale_served", 0)),
            "stale_config": int(m.get("config.stale_served", 0)),
            "breaker_fast_fail": sum(v for k, v in m.items() if k.endswith(".fast_fail")),
            "cpu_s": r["cpu_s"], "max_lag_s": r["max_lag_s"], "metrics": m,
        })
    return rows


def main_run(spec: FleetSpec, workload_spec: WorkloadSpec, out: Path) -> dict[str, Any]:
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="orgconfig-fleet-"))
    workload = Workload(workload_spec)
    azurite = Azurite().start()
    vault = KeyVaultEmulator(state=folder / "kv").start()
    try:
        assert azurite.proc is not None and vault.proc is not None
        pids = {"azurite": azurite.proc.pid, "emulator": vault.proc.pid}
        control = vault.control()
        table = f"Fleet{uuid.uuid4().hex[:10]}"
        settings = settings_for(azurite, vault, table, spec)
        seeding = asyncio.run(seed(Settings(**settings), workload))
        print(f"seeded: {seeding}", flush=True)
        control.set_latency(spec.latency_ms)
        print(f"unthrottled fleet: K={spec.k}, {spec.run_s} s ...", flush=True)
        free = run_fleet(spec, settings, workload_spec, control, folder, "free", pids)
        modelled = model_summary(spec, workload_spec)
        before = model_summary(spec, workload_spec,
                               replace(model_params(spec), revalidate=False))
        result: dict[str, Any] = {
            "spec": {**asdict(spec), "limit": spec.limit, "steady_from": spec.steady_from,
                     "time_scale": TIME_SCALE},
            "workload": asdict(workload_spec), "seeding": seeding,
            "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "unthrottled": {**free, "per_10s": {c: per_10s(s)
                                                for c, s in free["series"].items()},
                            "instances": instance_rows(free)},
            "model": modelled,
            "comparison": compare(free, modelled, spec),
            "model_renewal_gets": before,
            "comparison_renewal_gets": compare(free, before, spec),
        }
        print(markdown_comparison(result), flush=True)
        if spec.throttle:
            control.set_rate_limit(spec.limit)
            print(f"throttled fleet: limit {spec.limit} / 10 s ...", flush=True)
            held = run_fleet(spec, settings, workload_spec, control, folder, "throttled",
                             pids)
            control.set_rate_limit(None)
            result["throttled"] = {**held,
                                   "per_10s": {c: per_10s(s) for c, s in held["series"].items()},
                                   "instances": instance_rows(held)}
    finally:
        vault.stop()
        azurite.stop()
    result["total_s"] = round(time.perf_counter() - started, 1)
    out.mkdir(parents=True, exist_ok=True)
    (out / "fleet.json").write_text(json.dumps(result, indent=1) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    return result


# -- markdown ----------------------------------------------------------------------------
SECTION = "## Fleet: measured vs modelled"


def _pct(a: float | None) -> str:
    return "-" if a is None else f"{a:.2f}"


def markdown_comparison(r: dict[str, Any]) -> str:
    c, m = r["comparison"], r["model"]
    b, bm = r["comparison_renewal_gets"], r["model_renewal_gets"]

    def total_ratio(x: dict[str, Any]) -> str:
        return _pct(x["measured_total"] / x["modelled_total"] if x["modelled_total"] else None)

    return "\n".join([
        f"| requests / 10 s (one vault, K = {r['spec']['k']}) | measured | modelled: "
        f"renewal by version (mean of {MODEL_SEEDS} seeds, range) | measured / modelled | "
        "model before the fix: renewal = GET | measured / before |",
        "|---|---:|---:|---:|---:|---:|",
        f"| peak (any 10 s) | {c['measured_peak']:,.0f} | {m['peak']:,.0f} "
        f"({m['peak_range'][0]:,}-{m['peak_range'][1]:,}) | **{_pct(c['peak_ratio'])}** | "
        f"{bm['peak']:,.0f} | {_pct(b['peak_ratio'])} |",
        f"| steady (mean, t >= {r['spec']['steady_from']} s) | {c['measured_steady']:,.1f} | "
        f"{m['steady']:,.1f} ({m['steady_range'][0]:,}-{m['steady_range'][1]:,}) | "
        f"**{_pct(c['steady_ratio'])}** | {bm['steady']:,.1f} | {_pct(b['steady_ratio'])} |",
        f"| all requests of the run | {c['measured_total']:,} | {c['modelled_total']:,} | "
        f"{total_ratio(c)} | {b['modelled_total']:,} | {total_ratio(b)} |",
    ])


def model_fix_note(r: dict[str, Any]) -> list[str]:
    """Why the model changed (issue 23 section 4: a ratio off by more than 25 %)."""
    b = r["comparison_renewal_gets"]
    return [
        f"**The model was fixed.** Before, `bench/scale.py` had every instance GET each held "
        f"name again at the end of each (jittered, refreshed-ahead) TTL: a renewal process "
        f"per name. Measured against it the peak agreed ({_pct(b['peak_ratio'])}: the peak "
        f"is the cold ramp, first reads only) but the steady level did not "
        f"({_pct(b['steady_ratio'])}): the real instances made no renewal GETs at all. With "
        f"the catalog on, a held secret whose TTL ends is renewed by version: the catalog "
        f"row that came with the org's config snapshot names the version the instance holds, "
        f"so the renewal is answered without a vault request (`vault.revalidated` in the "
        f"table below; `make bench-revalidation` shows it for one instance). The model now "
        f"does the same (`ScaleParams.revalidate`, on by default; only `orgconfig`, with the "
        f"catalog): a name costs one GET, at its first read on each instance. What is left "
        f"in the steady window is first reads of the rarer orgs' names (Zipf), still "
        f"falling at the end of the run. The model keeps two assumptions the run shares: no "
        f"secret rotates (each rotation costs one GET per instance holding the name) and the "
        f"reconcile runs hourly for the whole fleet. Because renewals are free, the TTL "
        f"scaling does not change the fixed model's numbers, only the old model's.",
        "",
    ]


def throttled_note(r: dict[str, Any]) -> list[str]:
    """What the throttled fleet's numbers say."""
    rows, k = r["throttled"]["instances"], r["spec"]["k"]
    reads = sum(x["reads"] for x in rows)
    errors, lost = sum(x["errors"] for x in rows), sum(x["lost"] for x in rows)
    stale = sum(x["stale_secret"] + x["stale_config"] for x in rows)
    opened = sum(int(x["metrics"].get("breaker.vault.opened", 0)) for x in rows)
    first = ("every one of them a read of an org's key the process had not answered yet, "
             "a name it did not hold (nothing to serve stale)" if lost == 0 else
             f"{lost:,} of them reads of a value the process had answered before")
    return [
        f"Reading it: {reads:,} reads, {errors:,} raised ({errors / max(reads, 1):.1%}), "
        f"{first}; no wrong value. Revalidation by version keeps held secrets off the vault, "
        f"so what the throttle meets is the cold ramp: each new process's first GETs, "
        f"{r['comparison']['measured_peak']:,.0f} per 10 s unthrottled against a limit of "
        f"{r['spec']['limit']:,}. The SDK retries a 429 after its `Retry-After` within "
        f"the 5 s backend timeout; what is still refused raises `BackendUnavailableError`, "
        f"and the vault's circuit breaker opened {opened} times across the {k} processes "
        f"(its fast-fails spare the vault). {stale:,} reads were served stale. The limit "
        f"stops being reached once the first reads thin out (the last windows without a "
        f"429). The 429 answers are counted at the emulator too, so a window's `all` "
        f"exceeds the limit: the admitted requests are `all` - `429`.",
    ]


def markdown_windows(r: dict[str, Any], phase: str, with_model: bool) -> list[str]:
    per = r[phase]["per_10s"]
    header = "| t (s) | " + " | ".join(CATEGORIES) + (
        " | model (all) | model before the fix |" if with_model else " |")
    lines = [header, "|---:|" + "---:|" * (len(CATEGORIES) + 2 * int(with_model))]
    model, before = r["model"]["per_10s"], r["model_renewal_gets"]["per_10s"]
    for i in range(len(per["all"])):
        row = f"| {i * WINDOW}-{(i + 1) * WINDOW} | " + " | ".join(
            f"{per[c][i]:,}" for c in CATEGORIES)
        if with_model:
            row += f" | {model[i]:,} | {before[i]:,}" if i < len(model) else " | - | -"
        lines.append(row + " |")
    return lines


def markdown_instances(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| process | executions | reads | answered | errors raised | of which after "
             "an answer | wrong values | "
             "429s seen | vault responses | GETs | revalidated | stale serves: secret / config | "
             "breaker fast-fails | CPU s | max lag s |",
             "|---:|" + "---:|" * 14]
    total: Counter[str] = Counter()
    for row in rows:
        kinds = ", ".join(f"{k} {v}" for k, v in row["error_types"].items())
        errors = f"{row['errors']}" + (f" ({kinds})" if kinds else "")
        lines.append(
            f"| {row['index']} | {row['executions']:,} | {row['reads']:,} | "
            f"{row['answered']:,} | {errors} | {row['lost']} | {row['wrong']} | "
            f"{row['429_seen']:,} | "
            f"{row['vault_responses']:,} | {row['vault_get']:,} | {row['revalidated']:,} | "
            f"{row['stale_secret']:,} / {row['stale_config']:,} | "
            f"{row['breaker_fast_fail']:,} | {row['cpu_s']} | "
            f"{row['max_lag_s']} |")
        for key in ("executions", "reads", "answered", "errors", "lost", "wrong", "429_seen",
                    "vault_responses", "vault_get", "revalidated", "stale_secret",
                    "stale_config",
                    "breaker_fast_fail"):
            total[key] += row[key]
    lines.append(
        f"| all | {total['executions']:,} | {total['reads']:,} | {total['answered']:,} | "
        f"{total['errors']} | {total['lost']} | {total['wrong']} | {total['429_seen']:,} | "
        f"{total['vault_responses']:,} | {total['vault_get']:,} | {total['revalidated']:,} | "
        f"{total['stale_secret']:,} / {total['stale_config']:,} | "
        f"{total['breaker_fast_fail']:,} | "
        f"{sum(r['cpu_s'] for r in rows):.0f} | {max(r['max_lag_s'] for r in rows)} |")
    return lines


def markdown(r: dict[str, Any], notes: list[str] | None = None) -> str:
    s = r["spec"]
    free = r["unthrottled"]
    lines = [
        SECTION, "",
        f"Generated {r['generated_at']} by `make bench-fleet` (`python -m bench.fleet`), "
        f"{r['total_s']:.0f} s. **Measured**: K = {s['k']} resolver processes (each its own "
        f"`ConfigResolver`, real Azure SDK over HTTP) against Azurite and one emulator vault "
        f"({s['latency_ms']:g} ms per request), started one per second, each running the MSP "
        f"workload ({r['workload']['orgs']} orgs, {r['seeding']['secrets']:,} secrets seeded "
        f"through `SecretAdmin.put` plus one reconcile: the catalog is on) at "
        f"{s['rate']:g} executions/s (Poisson, 10 reads each) for {s['run_s']} s from the "
        f"first start; requests counted at the emulator, binned per second. **Modelled**: "
        f"`bench/scale.py` (orgconfig with the catalog) with the same K, starts, rate, TTLs and "
        f"length, {MODEL_SEEDS} seeds.",
        "",
        f"Time scaling: secret TTL {s['secret_ttl']:g} s and not-found TTL "
        f"{s['not_found_ttl']:g} s, production's 3,600 s and 300 s divided by "
        f"{s['time_scale']:g}, in the run and in the model alike; the rate is not scaled. The "
        f"config snapshot TTL stays {s['config_ttl']:g} s (table requests only). No catalog "
        f"reconcile runs during the run (hourly in production: one listing for the fleet) and "
        f"no secret is rotated, in both. Steady: the mean over t >= {s['steady_from']} s (the "
        f"last third, after every start). Peak: the largest sum over any 10 consecutive "
        f"seconds.",
        "",
        markdown_comparison(r),
        "",
        *model_fix_note(r),
        f"Machine: 2 shared cores (load average up to {free['load_avg_max']} during the "
        f"run); CPU seconds over the run: {sum(i['cpu_s'] for i in free['instances']):.0f} "
        f"for the {s['k']} resolver processes, {free['services_cpu_s']['emulator']} for the "
        f"emulator, {free['services_cpu_s']['azurite']} for Azurite. Max lag of the "
        f"arrival loop behind its schedule: "
        f"{max(i['max_lag_s'] for i in free['instances'])} s.",
        "",
        "Vault requests per 10 s window (measured, by kind; the models' expected `all`):",
        "",
        *markdown_windows(r, "unthrottled", with_model=True),
        "",
        *markdown_instances(free["instances"]),
    ]
    if notes:
        lines += ["", *notes]
    if "throttled" in r:
        t = r["throttled"]
        lines += [
            "", f"### Throttled: the vault limited to {s['limit']:,} requests per 10 s", "",
            f"K = {s['k']} fresh processes, same starts and workload, the emulator answering "
            f"429 with `Retry-After` beyond {s['limit']:,} requests in any 10 s "
            f"(Key Vault's {VAULT_LIMIT:,} for the goal of {GOAL_INSTANCES} instances, "
            f"scaled to K: {VAULT_LIMIT // GOAL_INSTANCES} per instance). Requests at the "
            f"emulator in the {s['run_s']} s ({t['totals']['all']:,} in all, "
            f"{t['totals']['429']:,} answered 429; with the executions in flight at the end, "
            f"which finish: {t['totals_with_drain']['all']:,} and "
            f"{t['totals_with_drain']['429']:,}):",
            "",
            *markdown_windows(r, "throttled", with_model=False),
            "",
            "What each process saw (`429s seen`: every attempt, the SDK's retries included; "
            "`errors raised`: reads that raised to the workload; `after an answer`: of those, "
            "reads of an org's key the process had answered before, i.e. a held value not "
            "served; `stale serves`: reads answered with a value past its TTL because its "
            "refresh failed, `secret.stale_served` and `config.stale_served` of "
            "`resolver.metrics.snapshot()`; the full snapshots are in `fleet.json`):",
            "",
            *markdown_instances(t["instances"]),
            "",
            *throttled_note(r),
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true",
                        help="K=2 for 20 s (bench/.work/fleet-quick/, RESULTS.md untouched)")
    parser.add_argument("-k", type=int, help="resolver processes (default 8)")
    parser.add_argument("--seconds", type=int, help="run length from the first start")
    parser.add_argument("--no-throttle", action="store_true", help="skip the throttled run")
    parser.add_argument("--out", type=Path, help="where fleet.json goes")
    args = parser.parse_args(argv)
    spec = FleetSpec.quick() if args.quick else FleetSpec()
    if args.k:
        spec = replace(spec, k=args.k)
    if args.seconds:
        spec = replace(spec, run_s=args.seconds)
    if args.no_throttle:
        spec = replace(spec, throttle=False)
    workload_spec = WorkloadSpec.full()
    out = args.out or (BENCH / ".work" / "fleet-quick" if args.quick else BENCH)
    result = main_run(spec, workload_spec, out)
    section = markdown(result)
    (out / "fleet.md").write_text(section)
    if out == BENCH:
        results_report.splice(BENCH / "RESULTS.md", section)
    print(section)
    problems = sum(i["wrong"] for i in result["unthrottled"]["instances"])
    problems += sum(i["errors"] for i in result["unthrottled"]["instances"])
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

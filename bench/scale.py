"""Scale model: peak Key Vault requests per 10 s when N instances run the MSP workload.

A simulation, no servers. Each instance receives executions as a Poisson stream of
``rate`` per second (orgs Zipf-popular, workflows uniform, as in :mod:`bench.workload`);
every instance sees every org, as behind a load balancer. Per contender, its caching rules
decide which reads reach the vault:

- ``naive``: every secret read costs 1 GET (org secret) or 2 (org 404, then GLOBAL);
- ``per_request_cache``: the same, once per distinct secret name per execution;
- ``powertools``: found values cached per instance for ``max_age`` (300 s, no jitter);
  a 404 is never cached, so every read of a GLOBAL-resolving secret asks the org name again;
- ``orgconfig``: each found name cached per instance, TTL 3600 s shortened by up to 10 %
  jitter, refreshed ahead on the first read in the last 10 % of its life, single-flight
  (one GET per name at a time), GLOBAL names shared by all orgs; names the vault does not
  have are answered by the name index: one paged listing (``ceil(secrets / 25)``
  requests) at the first read and then per jittered 300 s TTL, instead of a 404 per
  org name (``name_index=False`` models the 404s, cached 300 s, instead). The listing
  runs in the background, so during an instance's first ~``pages x RTT`` (about a
  second here) its lookups are GETs; at 10 executions/s that is a handful of 404s,
  which the model leaves out;
- ``pydantic_settings``: at start an instance lists the vault and GETs every secret at
  the rate measured by the benchmark, then never again.

A cached name is a renewal process: its next GET is at the first read after the value's
hold time, and reads of one name by one instance are Poisson, so
``next = last + hold + Exp(1/lambda)``. Uncached reads are Poisson counts per second.
Two scenarios: ``scale_out`` adds one instance every ``1/ramp`` seconds (the HTTP
scale-out pace of the Functions Consumption plan), ``restart`` starts all N at once (a
deployment). The model offers load: it does not model the vault's 429s and the retries
they cause, which only make an over-limit contender worse.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from bench.workload import GLOBAL_SECRETS, KEY_INFO, ORG_OWN_SECRETS, Workload, WorkloadSpec

CONTENDERS = ("naive", "per_request_cache", "powertools", "orgconfig", "pydantic_settings")
SCENARIOS = ("scale_out", "restart")
REPORT_N = (1, 2, 3, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 400, 500)


@dataclass(frozen=True)
class ScaleParams:
    rate: float = 10.0                  # executions per second per instance (assumption)
    horizon_s: int = 7200               # simulated time per instance
    window_s: int = 10                  # Key Vault's throttling window
    limit: int = 4000                   # GETs per window per vault (Azure's published limit)
    max_instances: int = 500
    ramp_per_s: float = 1.0             # scale_out: instances added per second
    found_ttl: float = 3600.0           # orgconfig SECRET_CACHE_TTL_SECONDS
    not_found_ttl: float = 300.0        # orgconfig SECRET_NOT_FOUND_TTL_SECONDS
    name_index: bool = True             # orgconfig SECRET_NAME_INDEX
    jitter: float = 0.1
    refresh_ahead: float = 0.1
    powertools_max_age: float = 300.0
    pydantic_requests_per_s: float = 50.0   # measured start-up rate (overwritten by the run)
    seed: int = 6

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class NameModel:
    """Per-instance read rates derived from the workload."""

    workload: Workload
    rate: float
    # per workflow: GETs an execution costs without a cross-execution cache
    naive_gets: np.ndarray = field(init=False)
    per_request_gets: np.ndarray = field(init=False)
    powertools_404s: np.ndarray = field(init=False)
    found_lambda: np.ndarray = field(init=False)      # org secrets and GLOBAL secrets
    not_found_lambda: np.ndarray = field(init=False)  # org names of GLOBAL-only secrets

    def __post_init__(self) -> None:
        wl = self.workload
        flows = len(wl.workflows)
        p_flow = 1.0 / flows
        naive, per_request, p404 = [], [], []
        # touch[w][name] for org-scoped names (by bare name) and GLOBAL names
        org_found = np.zeros((flows, ORG_OWN_SECRETS))
        org_not_found = np.zeros((flows, GLOBAL_SECRETS))
        global_found = np.zeros((flows, GLOBAL_SECRETS))
        for w, keys in enumerate(wl.workflows):
            infos = [KEY_INFO[k] for k in keys if KEY_INFO[k].is_secret]
            own = [str(i.secret_name) for i in infos if i.kind == "org_secret"]
            shared = [str(i.secret_name) for i in infos if i.kind == "global_secret"]
            naive.append(len(own) + 2 * len(shared))
            per_request.append(len(set(own)) + 2 * len(set(shared)))
            p404.append(len(shared))
            for name in set(own):
                org_found[w, int(name.rsplit("-", 1)[1])] = 1
            for name in set(shared):
                org_not_found[w, int(name.rsplit("-", 1)[1])] = 1
                global_found[w, int(name.rsplit("-", 1)[1])] = 1
        self.naive_gets = np.array(naive, dtype=float)
        self.per_request_gets = np.array(per_request, dtype=float)
        self.powertools_404s = np.array(p404, dtype=float)
        org_p = np.array(wl.org_weights)
        touch_found = org_found.sum(axis=0) * p_flow          # per bare name, per execution
        touch_not_found = org_not_found.sum(axis=0) * p_flow
        touch_global = global_found.sum(axis=0) * p_flow
        found = np.concatenate([np.outer(org_p, touch_found).ravel(), touch_global])
        self.found_lambda = self.rate * found[found > 0]
        nf = np.outer(org_p, touch_not_found).ravel()
        self.not_found_lambda = self.rate * nf[nf > 0]

    @property
    def flow_rates(self) -> np.ndarray:
        """Executions per second of each workflow on one instance."""
        return np.full(len(self.workload.workflows), self.rate / len(self.workload.workflows))

    @property
    def vault_size(self) -> int:
        return len(self.workload.secrets())


def _renewals(
    rng: np.random.Generator, lam: np.ndarray, horizon: float,
    hold: Callable[[int], np.ndarray],
) -> np.ndarray:
    """GET times of cached names: first read, then the first read after each hold."""
    times = rng.exponential(1.0 / lam)
    found: list[np.ndarray] = []
    alive = times < horizon
    while alive.any():
        found.append(times[alive])
        times, lam = times[alive], lam[alive]
        times = times + hold(len(times)) + rng.exponential(1.0 / lam)
        alive = times < horizon
    return np.concatenate(found) if found else np.empty(0)


def _poisson_gets(rng: np.random.Generator, model: NameModel, weights: np.ndarray,
                  seconds: int) -> np.ndarray:
    counts = rng.poisson(model.flow_rates, size=(seconds, len(weights)))
    return counts @ weights


def instance_series(
    contender: str, model: NameModel, params: ScaleParams, rng: np.random.Generator
) -> np.ndarray:
    """Vault GETs per second of one instance, from its start, for ``horizon_s`` seconds."""
    seconds = params.horizon_s
    if contender == "naive":
        return _poisson_gets(rng, model, model.naive_gets, seconds)
    if contender == "per_request_cache":
        return _poisson_gets(rng, model, model.per_request_gets, seconds)
    if contender == "pydantic_settings":
        series = np.zeros(seconds)
        total = model.vault_size + math.ceil(model.vault_size / 25)  # GETs + list pages
        rate = params.pydantic_requests_per_s
        full = int(total // rate)
        series[:full] = rate
        series[full] = total - full * rate
        return series
    if contender == "powertools":
        found = _renewals(rng, model.found_lambda, seconds,
                          lambda n: np.full(n, params.powertools_max_age))
        uncached = _poisson_gets(rng, model, model.powertools_404s, seconds)
        return np.bincount(found.astype(int), minlength=seconds)[:seconds] + uncached
    if contender == "orgconfig":
        found, missing = orgconfig_series(model, params, rng)
        return found + missing
    raise ValueError(contender)


def orgconfig_series(
    model: NameModel, params: ScaleParams, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """orgconfig's GETs per second of one instance: (found names, not-found names)."""
    seconds = params.horizon_s

    def hold(ttl: float) -> Callable[[int], np.ndarray]:
        # refresh-ahead: the first read in the last 10 % of the (jittered) life reloads
        return lambda n: (1 - params.refresh_ahead) * ttl * (1 - params.jitter * rng.random(n))

    found = _renewals(rng, model.found_lambda, seconds, hold(params.found_ttl))
    found_series = np.bincount(found.astype(int), minlength=seconds)[:seconds].astype(float)
    if not params.name_index:
        missing = _renewals(rng, model.not_found_lambda, seconds, hold(params.not_found_ttl))
        return (found_series,
                np.bincount(missing.astype(int), minlength=seconds)[:seconds].astype(float))
    # the index: a listing of every name at the first read, then once per (jittered,
    # refreshed-ahead) not-found TTL; reads are continuous, so the first is at t ~ 0
    listing = np.zeros(seconds)
    pages = math.ceil(model.vault_size / 25)
    t = 0.0
    while t < seconds:
        listing[int(t)] += pages
        t += float(hold(params.not_found_ttl)(1)[0])
    return found_series, listing


def _peak(series: np.ndarray, window: int) -> float:
    sums = np.cumsum(np.concatenate([[0.0], series]))
    return float((sums[window:] - sums[:-window]).max())


def _peaks(contender: str, model: NameModel, params: ScaleParams, scenario: str,
           seed: int) -> Iterator[float]:
    """Peak GETs per window for N = 1 .. max_instances (instances added one at a time)."""
    rng = np.random.default_rng(seed)
    ramp_len = math.ceil(params.max_instances / params.ramp_per_s)
    timeline = np.zeros(params.horizon_s + (ramp_len if scenario == "scale_out" else 0))
    for i in range(params.max_instances):
        start = int(i / params.ramp_per_s) if scenario == "scale_out" else 0
        timeline[start:start + params.horizon_s] += instance_series(contender, model, params, rng)
        yield _peak(timeline, params.window_s)


def simulate(spec: WorkloadSpec, params: ScaleParams) -> dict[str, Any]:
    """Peaks per N for every contender and scenario, and the largest N under the limit."""
    model = NameModel(Workload(spec), params.rate)
    peaks: dict[str, dict[str, list[float]]] = {s: {} for s in SCENARIOS}
    for s_index, scenario in enumerate(SCENARIOS):
        for c_index, contender in enumerate(CONTENDERS):
            seed = params.seed * 1000 + s_index * 10 + c_index
            peaks[scenario][contender] = list(_peaks(contender, model, params, scenario, seed))
    steady = {}
    rng = np.random.default_rng(params.seed)
    warm = min(1800, params.horizon_s // 2)
    for contender in CONTENDERS:
        series = instance_series(contender, model, params, rng)
        steady[contender] = round(float(series[warm:].mean()) * params.window_s, 1)
    found, missing = orgconfig_series(model, params, rng)
    cold_10s = _peak(found[:60] + missing[:60], params.window_s)
    return {
        "params": params.to_dict(),
        "workload": spec.to_dict(),
        "vault_secrets": model.vault_size,
        "steady_gets_per_10s_per_instance": steady,
        "orgconfig_instance": {
            "names": len(model.found_lambda) + len(model.not_found_lambda),
            "not_found_names": len(model.not_found_lambda),
            "steady_not_found_share": round(
                float(missing[warm:].sum() / max(1.0, (found + missing)[warm:].sum())), 3),
            "cold_first_minute_peak_per_10s": round(cold_10s),
            "first_hour_gets": int((found + missing)[:3600].sum()),
        },
        "max_instances_under_limit": {
            s: {c: max_under(peaks[s][c], params.limit) for c in CONTENDERS}
            for s in SCENARIOS
        },
        "peak_per_10s": {
            s: {c: {str(n): round(peaks[s][c][n - 1]) for n in REPORT_N
                    if n <= params.max_instances} for c in CONTENDERS}
            for s in SCENARIOS
        },
        "_curves": peaks,   # every N, for the chart (dropped from results.json)
    }


def max_under(peaks: list[float], limit: float) -> int:
    """How many instances (from 1) stay at or under ``limit``; 0 if even one does not."""
    count = 0
    for peak in peaks:
        if peak > limit:
            break
        count += 1
    return count

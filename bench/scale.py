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
  have are known absent from the secret catalog in the config table (no request). A held
  name whose TTL ends is renewed by version (``revalidate``, on by default): the catalog
  row that came with the org's snapshot names the version held, so the renewal makes no
  request; only the first read of each name costs a GET. The workload rotates no secret
  (a rotation would cost one GET per instance holding the name). ``revalidate=False``
  models renewals as GETs (orgconfig before revalidation by version). The
  fleet, not each instance, lists the vault: one reconcile (``ceil(secrets / 25)`` pages at
  ``reconcile_pages_per_s``) per ``reconcile_every_s``, from the timer singleton;
- ``orgconfig_index``: orgconfig before the catalog (a deployment where no reconcile has
  run yet): the same cache, but names the vault does not have are answered by the name
  index: one paged listing per instance at the first read and then per jittered 300 s TTL,
  instead of a 404 per org name (``name_index=False`` models the 404s, cached 300 s,
  instead). The listing runs in the background, so during an instance's first
  ~``pages x RTT`` its lookups are GETs; the model leaves those 404s out (the measured
  cold burst shows them);
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

CONTENDERS = ("naive", "per_request_cache", "powertools", "orgconfig_index", "orgconfig",
              "pydantic_settings")
#: the contenders whose vault requests depend on the vault's size (they list it)
SIZE_DEPENDENT = ("orgconfig_index", "orgconfig", "pydantic_settings")
SCENARIOS = ("scale_out", "restart")
REPORT_N = (1, 2, 3, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 400)
VAULT_SIZES = (2_010, 10_000, 100_000)
PAGE = 25   # names per page of a Key Vault listing


@dataclass(frozen=True)
class ScaleParams:
    rate: float = 10.0                  # executions per second per instance (assumption)
    horizon_s: int = 7200               # simulated time per instance
    window_s: int = 10                  # Key Vault's throttling window
    limit: int = 4000                   # GETs per window per vault (Azure's published limit)
    max_instances: int = 400
    ramp_per_s: float = 1.0             # scale_out: instances added per second
    found_ttl: float = 3600.0           # orgconfig SECRET_CACHE_TTL_SECONDS
    not_found_ttl: float = 300.0        # orgconfig SECRET_NOT_FOUND_TTL_SECONDS
    name_index: bool = True             # orgconfig SECRET_NAME_INDEX
    jitter: float = 0.1
    refresh_ahead: float = 0.1
    powertools_max_age: float = 300.0
    pydantic_requests_per_s: float = 50.0   # measured start-up rate (overwritten by the run)
    vault_secrets: int = 0              # vault size; 0: the workload's secrets only
    reconcile_every_s: float = 3600.0   # the catalog's timer (hourly)
    reconcile_pages_per_s: float = 20.0  # one listing, page after page (~50 ms a page)
    revalidate: bool = True             # orgconfig: an unchanged held secret renews free
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
    found_org: np.ndarray = field(init=False)         # owner org index per found name, -1 GLOBAL

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
        # which org each found name belongs to (-1: GLOBAL), for the shard model
        owner = np.concatenate([np.repeat(np.arange(len(org_p)), ORG_OWN_SECRETS),
                                np.full(GLOBAL_SECRETS, -1)])
        self.found_org = owner[found > 0]
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
    size = vault_size(model, params)
    if contender == "pydantic_settings":
        series = np.zeros(seconds)
        total = size + math.ceil(size / PAGE)  # GETs + list pages
        rate = params.pydantic_requests_per_s
        full = int(total // rate)
        series[:full] = rate
        if full < seconds:
            series[full] = total - full * rate
        return series
    if contender == "powertools":
        found = _renewals(rng, model.found_lambda, seconds,
                          lambda n: np.full(n, params.powertools_max_age))
        uncached = _poisson_gets(rng, model, model.powertools_404s, seconds)
        return np.bincount(found.astype(int), minlength=seconds)[:seconds] + uncached
    if contender in ("orgconfig", "orgconfig_index"):
        found, missing = orgconfig_series(model, params, rng,
                                          catalog=contender == "orgconfig")
        return found + missing
    raise ValueError(contender)


def vault_size(model: NameModel, params: ScaleParams) -> int:
    return params.vault_secrets or model.vault_size


def fleet_series(contender: str, model: NameModel, params: ScaleParams,
                 seconds: int) -> np.ndarray:
    """Requests made once for the whole fleet: the catalog's reconcile (timer singleton)."""
    series = np.zeros(seconds)
    if contender != "orgconfig":
        return series
    pages = math.ceil(vault_size(model, params) / PAGE)
    t = 420.0  # minute 7 of the hour
    while t < seconds:
        at, left = t, float(pages)
        while left > 0 and at < seconds:
            step = min(left, params.reconcile_pages_per_s)
            series[int(at)] += step
            left, at = left - step, at + 1
        t += params.reconcile_every_s
    return series


def listing_per_instance_hour(contender: str, model: NameModel, params: ScaleParams) -> float:
    """Listing requests one instance makes per hour once warm (pydantic: per start)."""
    pages = math.ceil(vault_size(model, params) / PAGE)
    if contender == "orgconfig_index" and params.name_index:
        interval = (1 - params.refresh_ahead) * params.not_found_ttl * (1 - params.jitter / 2)
        return round(pages * 3600 / interval, 1)
    if contender == "pydantic_settings":
        return float(pages)
    return 0.0


def orgconfig_series(
    model: NameModel, params: ScaleParams, rng: np.random.Generator, *, catalog: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """orgconfig's GETs per second of one instance: (found names, not-found names or the
    index's listing). With the catalog, names the vault does not have cost nothing."""
    seconds = params.horizon_s

    def hold(ttl: float) -> Callable[[int], np.ndarray]:
        # refresh-ahead: the first read in the last 10 % of the (jittered) life reloads
        return lambda n: (1 - params.refresh_ahead) * ttl * (1 - params.jitter * rng.random(n))

    if catalog and params.revalidate:
        # renewals are revalidations by version (no request): a GET at the first read only
        found = _renewals(rng, model.found_lambda, seconds, lambda n: np.full(n, np.inf))
    else:
        found = _renewals(rng, model.found_lambda, seconds, hold(params.found_ttl))
    found_series = np.bincount(found.astype(int), minlength=seconds)[:seconds].astype(float)
    if catalog:
        return found_series, np.zeros(seconds)
    if not params.name_index:
        missing = _renewals(rng, model.not_found_lambda, seconds, hold(params.not_found_ttl))
        return (found_series,
                np.bincount(missing.astype(int), minlength=seconds)[:seconds].astype(float))
    # the index: a listing of every name at the first read, then once per (jittered,
    # refreshed-ahead) not-found TTL; reads are continuous, so the first is at t ~ 0
    listing = np.zeros(seconds)
    pages = math.ceil(vault_size(model, params) / PAGE)
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
    timeline += fleet_series(contender, model, params, len(timeline))
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
    found, missing = orgconfig_series(model, params, rng, catalog=False)
    # a new instance's own GETs with the catalog: first reads (renewals are revalidations)
    cataloged, _ = orgconfig_series(model, params, rng)
    cold_10s = _peak(cataloged[:60], params.window_s)
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
            "first_hour_gets": int(cataloged[:3600].sum()),
        },
        "listing_per_instance_per_hour": {
            c: listing_per_instance_hour(c, model, params) for c in CONTENDERS},
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


def simulate_vault_sizes(spec: WorkloadSpec, params: ScaleParams, base: dict[str, Any],
                         sizes: tuple[int, ...] = VAULT_SIZES) -> dict[str, Any]:
    """Per vault size: the largest fleet under the limit, the peak at 100 instances and the
    listing requests per instance per hour, for every contender. The workload reads the
    same secrets at every size (the rest belong to orgs it does not run); only the
    contenders that list the vault are simulated again, the others' numbers are the base
    run's (``base``: :func:`simulate` at the workload's own size)."""
    model = NameModel(Workload(spec), params.rate)
    out: dict[str, Any] = {}
    for size in sizes:
        sized = ScaleParams(**{**params.to_dict(), "vault_secrets": size})
        rows: dict[str, Any] = {}
        for c_index, contender in enumerate(CONTENDERS):
            if contender in SIZE_DEPENDENT and size != model.vault_size:
                peaks = {}
                for s_index, scenario in enumerate(SCENARIOS):
                    seed = params.seed * 1000 + s_index * 10 + c_index + size
                    peaks[scenario] = list(_peaks(contender, model, sized, scenario, seed))
                max_n = {s: max_under(peaks[s], params.limit) for s in SCENARIOS}
                at100 = round(peaks["scale_out"][99]) if len(peaks["scale_out"]) >= 100 \
                    else None
            else:
                max_n = {s: base["max_instances_under_limit"][s][contender] for s in SCENARIOS}
                at100 = base["peak_per_10s"]["scale_out"][contender].get("100")
            rows[contender] = {
                "max_instances_scale_out": max_n["scale_out"],
                "max_instances_restart": max_n["restart"],
                "peak_per_10s_at_100": at100,
                "listing_per_instance_per_hour": listing_per_instance_hour(
                    contender, model, sized),
                "fleet_listing_per_hour": math.ceil(size / PAGE)
                if contender == "orgconfig" else 0,
            }
        out[str(size)] = rows
    return out


def max_under(peaks: list[float], limit: float) -> int:
    """How many instances (from 1) stay at or under ``limit``; 0 if even one does not."""
    count = 0
    for peak in peaks:
        if peak > limit:
            break
        count += 1
    return count

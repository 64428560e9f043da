"""Scale model with several vaults: one vault vs orgs spread over 4 (a *model*, no servers).

Key Vault throttles per vault, so spreading the orgs over more vaults multiplies the fleet
that stays under the limit, as long as no vault carries much more than its share. The
model is :mod:`bench.scale`'s for orgconfig with the secret catalog (each found name cached
per instance, TTL with jitter and refresh-ahead; names the vault lacks cost nothing; the
catalog's reconcile lists every vault once an hour) with each name's GETs sent to its
vault, by ``AZURE_KEY_VAULT_ORG_VAULTS``:

- ``1 vault``: today's deployment (every name in ``AZURE_KEY_VAULT_URL``);
- ``4 vaults``: the default vault holds GLOBAL's secrets and the unmapped quarter of the
  orgs, 3 shards a quarter each;
- ``default + 4 shards``: the default vault holds GLOBAL's secrets only, 4 shards the orgs.

Orgs go to vaults by a hash of their id (``crc32``), as an operator's mapping would spread
them without looking at their traffic; the Zipf-popular workload then loads the vaults
unevenly, which the model shows (per-vault peaks). ``placed by traffic`` puts the busiest
orgs first, each into the vault with the least cold-start load so far.
``python -m bench.shards`` prints the table (``make bench-shards``); ``make bench`` adds it
to ``results.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import zlib
from typing import Any

import numpy as np

from bench.scale import (
    PAGE,
    SCENARIOS,
    NameModel,
    ScaleParams,
    _peak,
    _renewals,
    max_under,
)
from bench.workload import Workload, WorkloadSpec, org_id

LAYOUTS: dict[str, tuple[int, bool, bool]] = {
    # name: (vaults the orgs are spread over, whether the default vault is one of them,
    #        whether orgs are placed by their traffic rather than by a hash of their id)
    "1 vault": (1, True, False),
    "4 vaults": (4, True, False),
    "default + 4 shards": (4, False, False),
    "4 vaults, placed by traffic": (4, True, True),
}


def vault_of_names(model: NameModel, spread: int, default_has_orgs: bool,
                   balanced: bool = False, window: float = 10.0) -> np.ndarray:
    """The vault index (0: the default vault) of each found name of ``model``: by a hash of
    the org id, or (``balanced``) greedily, busiest org first, to the vault with the least
    expected cold-start GETs in one window (a name read at rate λ is fetched in the first
    ``window`` seconds with probability 1 - exp(-λ window))."""
    orgs = model.found_org
    slot_of: dict[int, int] = {}
    if balanced:
        cold = 1 - np.exp(-model.found_lambda * window)
        load = np.zeros(spread)
        load[0] = cold[orgs < 0].sum() if default_has_orgs else 0.0
        per_org = {int(o): float(cold[orgs == o].sum()) for o in set(orgs.tolist()) if o >= 0}
        for org, cost in sorted(per_org.items(), key=lambda kv: -kv[1]):
            slot_of[org] = int(load.argmin())
            load[slot_of[org]] += cost
    out = np.zeros(len(orgs), dtype=int)
    for i, org in enumerate(orgs):
        if org < 0:
            continue  # GLOBAL: the default vault
        slot = slot_of[int(org)] if balanced else \
            zlib.crc32(org_id(int(org)).encode()) % spread
        out[i] = slot if default_has_orgs else slot + 1
    return out


def instance_by_vault(model: NameModel, params: ScaleParams, vaults: np.ndarray, count: int,
                      rng: np.random.Generator) -> np.ndarray:
    """GETs per second of one instance, per vault: shape (count, horizon_s)."""
    seconds = params.horizon_s

    def hold(n: int) -> np.ndarray:
        if params.revalidate:  # renewed by version, no request (bench.scale)
            return np.full(n, np.inf)
        return (1 - params.refresh_ahead) * params.found_ttl * (1 - params.jitter * rng.random(n))

    series = np.zeros((count, seconds))
    for v in range(count):
        lam = model.found_lambda[vaults == v]
        if len(lam):
            times = _renewals(rng, lam, seconds, hold)
            series[v] = np.bincount(times.astype(int), minlength=seconds)[:seconds]
    return series


def fleet_by_vault(model: NameModel, params: ScaleParams, vaults: np.ndarray, count: int,
                   seconds: int) -> np.ndarray:
    """The hourly reconcile's listing pages, per vault (its share of the secrets)."""
    out = np.zeros((count, seconds))
    total = model.vault_size
    for v in range(count):
        share = float((vaults == v).sum()) / max(1, len(vaults))
        pages = math.ceil(total * share / PAGE)
        t = 420.0
        while t < seconds:
            at, left = t, float(pages)
            while left > 0 and at < seconds:
                step = min(left, params.reconcile_pages_per_s)
                out[v, int(at)] += step
                left, at = left - step, at + 1
            t += params.reconcile_every_s
    return out


def simulate_layout(model: NameModel, params: ScaleParams, spread: int,
                    default_has_orgs: bool, balanced: bool = False) -> dict[str, Any]:
    """Largest fleet under the per-vault limit (scale-out and restart) and per-vault rates."""
    vaults = vault_of_names(model, spread, default_has_orgs, balanced, params.window_s)
    count = spread + (0 if default_has_orgs else 1)
    result: dict[str, Any] = {"vaults": count}
    for s_index, scenario in enumerate(SCENARIOS):
        rng = np.random.default_rng(params.seed * 1000 + 500 + s_index)
        ramp = math.ceil(params.max_instances / params.ramp_per_s)
        length = params.horizon_s + (ramp if scenario == "scale_out" else 0)
        timeline = fleet_by_vault(model, params, vaults, count, length)
        peaks: list[float] = []
        per_vault_at_max: list[float] = []
        for i in range(params.max_instances):
            start = int(i / params.ramp_per_s) if scenario == "scale_out" else 0
            timeline[:, start:start + params.horizon_s] += instance_by_vault(
                model, params, vaults, count, rng)
            vault_peaks = [_peak(timeline[v], params.window_s) for v in range(count)]
            peaks.append(max(vault_peaks))
            if peaks[-1] > params.limit:
                break
            per_vault_at_max = vault_peaks
        result[f"max_instances_{scenario}"] = max_under(peaks, params.limit)
        result[f"peak_per_10s_by_vault_at_max_{scenario}"] = [round(p) for p in per_vault_at_max]
    rng = np.random.default_rng(params.seed)
    warm = min(1800, params.horizon_s // 2)
    steady = instance_by_vault(model, params, vaults, count, rng)[:, warm:].mean(axis=1)
    result["steady_gets_per_10s_per_instance_by_vault"] = [
        round(float(x) * params.window_s, 2) for x in steady]
    result["names_by_vault"] = [int((vaults == v).sum()) for v in range(count)]
    return result


#: the shard model's fleet cap: high enough that sharded scale-out is not cut off
MAX_INSTANCES = 1200


def simulate_shards(spec: WorkloadSpec, params: ScaleParams,
                    max_instances: int = MAX_INSTANCES) -> dict[str, Any]:
    """Every layout of :data:`LAYOUTS` (modelled, not measured), up to ``max_instances``."""
    params = ScaleParams(**{**params.to_dict(), "max_instances": max_instances})
    model = NameModel(Workload(spec), params.rate)
    out: dict[str, Any] = {"modelled": True, "limit_per_vault_per_10s": params.limit,
                           "max_instances": params.max_instances, "layouts": {}}
    for name, (spread, default_has_orgs, balanced) in LAYOUTS.items():
        out["layouts"][name] = simulate_layout(model, params, spread, default_has_orgs,
                                               balanced)
    base = out["layouts"]["1 vault"]
    for row in out["layouts"].values():
        row["gain_scale_out"] = round(row["max_instances_scale_out"]
                                      / max(1, base["max_instances_scale_out"]), 2)
        row["gain_restart"] = round(row["max_instances_restart"]
                                    / max(1, base["max_instances_restart"]), 2)
    return out


def markdown(result: dict[str, Any], params: ScaleParams) -> list[str]:
    """The RESULTS.md table of :func:`simulate_shards`."""
    lines = [
        "| layout (modelled) | vaults | largest fleet, scale-out | largest fleet, restart | "
        "steady GETs / 10 s / instance, per vault | peak / 10 s per vault at the restart "
        "maximum |",
        "|---|---|---|---|---|---|",
    ]
    cap = result["max_instances"]

    def fleet(n: int) -> str:
        return f"{n}+ (the model's cap)" if n >= cap else str(n)

    for name, row in result["layouts"].items():
        steady = " / ".join(f"{x:g}" for x in row["steady_gets_per_10s_per_instance_by_vault"])
        peaks = " / ".join(str(x) for x in row["peak_per_10s_by_vault_at_max_restart"])
        lines.append(
            f"| {name} | {row['vaults']} | {fleet(row['max_instances_scale_out'])} "
            f"({row['gain_scale_out']:g}x) | {fleet(row['max_instances_restart'])} "
            f"({row['gain_restart']:g}x) | {steady} | {peaks} |")
    lines.append("")
    lines.append(f"Model, not measured: orgconfig with the secret catalog, {params.rate:g} "
                 f"executions/s per instance, limit {params.limit:,} requests / "
                 f"{params.window_s} s per vault; per-vault columns list the default vault "
                 "first.")
    lines.append("")
    lines.append(
        "Throttling is per vault, so orgs spread over several vaults carry a larger fleet. "
        "When all instances restart at once the gain stays below the number of vaults if "
        "orgs are placed by a hash of their id (the Zipf-busiest org makes its vault the "
        "first to throttle) and reaches it when the busiest orgs are placed first, each "
        "into the least loaded vault. Scale-out (one instance a second) gains more than "
        "the number of vaults: its peak is the cold start of the instances started in the "
        "last seconds, and only a share of each cold start lands on each vault. GLOBAL's "
        "secrets cost the default vault almost nothing: every instance caches each GLOBAL "
        "name for all orgs. The 1-vault row is this model's own run with its own random "
        "seed, so it can differ by a few instances from the single-vault scale model's "
        "table (\"Scale model\" in bench/RESULTS.md).")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.shards", description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=10.0)
    p.add_argument("--json", action="store_true", help="print the raw numbers as JSON")
    args = p.parse_args(argv)
    params = ScaleParams(rate=args.rate)
    result = simulate_shards(WorkloadSpec.full(), params)
    print(json.dumps(result, indent=1) if args.json else "\n".join(markdown(result, params)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

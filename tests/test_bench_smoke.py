"""The benchmark's pieces: the workload generator, the scale model, the statistics, and a
tiny fleet run (the one test here with services: Azurite and the emulator).

No timing assertions: only that the inputs the benchmark measures with are what the issue
describes and that the model's bookkeeping holds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench.fleet import FleetSpec, main_run
from bench.fleet import markdown as fleet_markdown
from bench.harness import latency_summary, percentile
from bench.scale import (
    NameModel,
    ScaleParams,
    fleet_series,
    instance_series,
    listing_per_instance_hour,
    max_under,
    simulate,
    simulate_vault_sizes,
)
from bench.shards import simulate_shards, vault_of_names
from bench.workload import KEY_INFO, Workload, WorkloadSpec


def test_full_workload_has_the_issues_shape() -> None:
    wl = Workload(WorkloadSpec.full())
    entries = list(wl.entries())
    per_scope = Counter(e.scope for e in entries)
    assert per_scope["GLOBAL"] == 20 and len(per_scope) == 201
    assert all(n == 40 for scope, n in per_scope.items() if scope != "GLOBAL")
    refs = Counter((e.scope == "GLOBAL", e.type) for e in entries)
    assert refs[(True, "secret_ref")] == 10 and refs[(False, "secret_ref")] == 200 * 15
    assert len(wl.secrets()) == 200 * 10 + 10
    assert len(wl.plan) == 20_000 and len(wl.burst_plan) == 500


def test_workload_is_deterministic_for_a_seed() -> None:
    spec = WorkloadSpec.quick()
    assert Workload(spec).plan == Workload(spec).plan
    assert Workload(spec).plan != Workload(replace(spec, seed=7)).plan


def test_each_workflow_reads_ten_distinct_keys_four_of_them_secrets() -> None:
    for keys in Workload(WorkloadSpec.quick()).workflows:
        assert len(set(keys)) == 10
        assert sum(KEY_INFO[k].is_secret for k in keys) == 4


def test_org_popularity_is_skewed() -> None:
    wl = Workload(WorkloadSpec.full())
    counts = Counter(org for org, _ in wl.plan)
    top = counts.most_common(1)[0][1]
    assert top > 10 * (len(wl.plan) / wl.spec.orgs)


def test_expected_values_follow_org_over_global_and_the_secret_chain() -> None:
    wl = Workload(WorkloadSpec.quick())
    assert wl.expected("org-001", "setting_00") == "org-001:setting_00"
    assert wl.expected("org-001", "platform_setting_01") == "GLOBAL:platform_setting_01"
    assert wl.expected("org-001", "org_secret_02") == "value-of-org-001--org-secret-02"
    assert wl.expected("org-001", "shared_secret_03") == "value-of-GLOBAL--platform-secret-03"
    assert set(wl.secrets()) >= {"org-001--org-secret-02", "GLOBAL--platform-secret-03"}


def test_a_per_request_cache_never_costs_more_gets_than_naive() -> None:
    model = NameModel(Workload(WorkloadSpec.quick()), rate=10)
    assert (model.per_request_gets <= model.naive_gets).all()
    assert (model.powertools_404s <= model.naive_gets).all()


def test_orgconfig_instance_asks_far_less_than_naive_over_an_hour() -> None:
    model = NameModel(Workload(WorkloadSpec.quick()), rate=10)
    params = ScaleParams(horizon_s=3600)
    rng = np.random.default_rng(1)
    naive = instance_series("naive", model, params, rng)
    ours = instance_series("orgconfig", model, params, rng)
    assert len(naive) == len(ours) == 3600
    assert ours.sum() < naive.sum() / 5


def test_with_the_catalog_an_instance_never_lists_and_the_fleet_lists_once_an_hour() -> None:
    model = NameModel(Workload(WorkloadSpec.quick()), rate=10)
    params = ScaleParams(horizon_s=7200, vault_secrets=100_000)
    rng = np.random.default_rng(2)
    catalog = instance_series("orgconfig", model, params, rng)
    index = instance_series("orgconfig_index", model, params, rng)
    assert index.sum() - catalog.sum() > 20 * 4_000  # ~14 listings of 4,000 pages an hour
    assert listing_per_instance_hour("orgconfig", model, params) == 0
    assert listing_per_instance_hour("orgconfig_index", model, params) > 50_000
    fleet = fleet_series("orgconfig", model, params, 7200)
    assert fleet.sum() == 2 * 4_000 and fleet.max() == params.reconcile_pages_per_s
    assert fleet_series("orgconfig_index", model, params, 7200).sum() == 0


def test_vault_size_changes_only_the_contenders_that_list_the_vault() -> None:
    spec, params = WorkloadSpec.quick(), ScaleParams(horizon_s=600, max_instances=3)
    base = simulate(spec, params)
    sizes = simulate_vault_sizes(spec, params, base, sizes=(40 * 10 + 10, 100_000))
    small, large = sizes["410"], sizes["100000"]
    for name in ("naive", "per_request_cache", "powertools"):
        assert small[name] == large[name]
    assert large["orgconfig_index"]["listing_per_instance_per_hour"] > \
        small["orgconfig_index"]["listing_per_instance_per_hour"]
    assert large["orgconfig"]["listing_per_instance_per_hour"] == 0
    assert large["orgconfig"]["fleet_listing_per_hour"] == 4_000


def test_scale_peaks_grow_with_instances() -> None:
    params = ScaleParams(horizon_s=600, max_instances=4)
    result = simulate(WorkloadSpec.quick(), params)
    for scenario, curves in result["_curves"].items():
        for contender, peaks in curves.items():
            assert peaks == sorted(peaks), (scenario, contender)
    assert set(result["max_instances_under_limit"]) == {"scale_out", "restart"}


def test_max_under_counts_instances_until_the_limit_is_crossed() -> None:
    assert max_under([10, 20, 30], 25) == 2
    assert max_under([30], 25) == 0
    assert max_under([1, 2], 25) == 2


def test_percentiles_use_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99
    summary = latency_summary([1000 * v for v in values])
    assert summary["read_p50_us"] == 50.0 and summary["read_max_us"] == 100.0


def test_padding_secrets_are_orgconfig_names_of_orgs_the_workload_never_runs() -> None:
    from bench.backends import padding
    from bench.workload import org_id
    from shared.core.naming import split_keyvault_name

    pad = padding(25)
    spec = WorkloadSpec.full()
    workload_orgs = {org_id(i) for i in range(spec.orgs)}
    assert "org-001" in workload_orgs
    assert len(pad) == 25 and not set(pad) & set(Workload(WorkloadSpec.full()).secrets())
    for name in pad:
        parts = split_keyvault_name(name)
        assert parts is not None and parts[0] not in workload_orgs


def test_shard_layouts_put_each_org_in_one_vault_and_global_in_the_default() -> None:
    model = NameModel(Workload(WorkloadSpec.quick()), 10.0)
    for balanced in (False, True):
        vaults = vault_of_names(model, 4, True, balanced)
        assert set(vaults[model.found_org < 0]) == {0}
        for org in set(model.found_org[model.found_org >= 0].tolist()):
            assert len(set(vaults[model.found_org == org])) == 1
        assert set(vaults) == {0, 1, 2, 3}
    assert 0 not in set(vault_of_names(model, 4, False)[model.found_org >= 0])


def test_spreading_orgs_over_vaults_splits_the_load_and_grows_the_fleet() -> None:
    params = ScaleParams(horizon_s=900, limit=400)
    result = simulate_shards(WorkloadSpec.quick(), params, max_instances=60)["layouts"]
    one, four = result["1 vault"], result["4 vaults, placed by traffic"]
    assert one["max_instances_restart"] < four["max_instances_restart"]
    assert one["max_instances_scale_out"] < four["max_instances_scale_out"]
    assert sum(four["names_by_vault"]) == one["names_by_vault"][0]
    assert len(four["peak_per_10s_by_vault_at_max_restart"]) == 4


def test_with_revalidation_a_held_secret_costs_one_get_per_instance() -> None:
    """The catalog renews an unchanged held secret by version (no request): over two hours
    an instance GETs each name at most once; modelled as a GET per renewal it asks more."""
    model = NameModel(Workload(WorkloadSpec.full()), 10.0)
    params = ScaleParams(horizon_s=7200)
    once = instance_series("orgconfig", model, params, np.random.default_rng(1)).sum()
    assert 0 < once <= len(model.found_lambda)
    renewing = instance_series("orgconfig", model, replace(params, revalidate=False),
                               np.random.default_rng(1)).sum()
    assert renewing > 1.5 * once

@pytest.mark.integration
def test_a_tiny_fleet_runs_against_the_emulator_and_the_model(tmp_path: Path) -> None:
    """``bench.fleet`` at K=2 for 10 s on the quick workload: both processes answer every
    read with the right value, the emulator counts the GETs the processes made, the model
    runs at the same K, and the section renders. No timing is asserted."""
    spec = FleetSpec(k=2, run_s=10, throttle=False)
    result = main_run(spec, WorkloadSpec.quick(), tmp_path)
    rows = result["unthrottled"]["instances"]
    assert len(rows) == 2
    assert all(r["reads"] > 0 and r["answered"] == r["reads"] for r in rows)
    assert all(r["errors"] == 0 and r["wrong"] == 0 for r in rows)
    assert result["unthrottled"]["totals_with_drain"]["GET"] == sum(r["vault_get"] for r in rows)
    assert result["unthrottled"]["totals"]["404"] == 0  # the catalog is on: no 404
    assert result["model"]["peak"] > 0
    assert "## Fleet: measured vs modelled" in fleet_markdown(result)

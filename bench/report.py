"""Writes the results: ``results.json``, ``RESULTS.md`` and two PNG charts."""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from bench.contenders import WORKLOAD_CONTENDERS
from bench.scale import CONTENDERS as SCALE_CONTENDERS
from bench.scale import ScaleParams
from bench.workload import (
    GLOBAL_SECRETS_PER_WORKFLOW,
    ORG_SECRETS_PER_WORKFLOW,
    PLAIN_PER_WORKFLOW,
)
from tools.services import REPO_ROOT

LABELS = {
    "naive": "naive",
    "per_request_cache": "per-request cache",
    "powertools": "Powertools-style",
    "orgconfig_index": "orgconfig, name index",
    "orgconfig": "orgconfig",
    "pydantic_settings": "pydantic-settings",
}
PACKAGES = ("azure-core", "azure-data-tables", "azure-keyvault-secrets", "aiohttp",
            "aws-lambda-powertools", "pydantic", "pydantic-settings", "numpy")


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    azurite = REPO_ROOT / "node_modules" / "azurite" / "package.json"
    if azurite.exists():
        versions["azurite"] = json.loads(azurite.read_text()).get("version")
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": sys.version.split()[0],
        "packages": versions,
    }


def write(results: dict[str, Any], out: Path, curves: dict[str, dict[str, list[float]]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    chart_contenders(results, out / "results.png")
    chart_scale(results, curves, out / "scale.png")
    (out / "RESULTS.md").write_text(markdown(results))


# -- charts -------------------------------------------------------------------------------
def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def chart_contenders(results: dict[str, Any], path: Path) -> None:
    plt = _plt()
    rows = results["contenders"]
    names = [n for n in WORKLOAD_CONTENDERS if n in rows]
    labels = [LABELS[n] for n in names]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    ax = axes[0][0]
    ax.bar(labels, [rows[n]["vault_gets_per_1k_executions"] for n in names], color="#4c72b0")
    ax.set_yscale("log")
    ax.set_title("Key Vault GETs per 1,000 executions (steady run)")
    ax = axes[0][1]
    ax.bar(labels, [rows[n]["burst"]["vault_gets"] for n in names], color="#dd8452")
    ax.set_yscale("log")
    burst = results["workload"]["burst"]
    ax.set_title(f"Key Vault GETs, cold start: {burst} executions at once")
    ax = axes[1][0]
    width = 0.4
    xs = range(len(names))
    ax.bar([x - width / 2 for x in xs], [max(rows[n]["read_p50_us"], 0.1) for n in names],
           width, label="p50")
    ax.bar([x + width / 2 for x in xs], [max(rows[n]["read_p99_us"], 0.1) for n in names],
           width, label="p99")
    ax.set_xticks(list(xs), labels)
    ax.set_yscale("log")
    ax.set_ylabel("µs")
    ax.set_title("read latency (steady run)")
    ax.legend()
    ax = axes[1][1]
    ax.bar(labels, [rows[n]["table_queries_per_1k_executions"] for n in names], color="#55a868")
    ax.set_yscale("log")
    ax.set_title("Table Storage requests per 1,000 executions")
    for axis in axes.flat:
        axis.tick_params(axis="x", labelsize=9)
        axis.grid(axis="y", alpha=0.3)
    fig.suptitle(f"MSP workload: {results['workload']['orgs']} orgs, "
                 f"{results['workload']['concurrency']} executions at a time "
                 f"({results['mode']} mode)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def chart_scale(results: dict[str, Any], curves: dict[str, dict[str, list[float]]],
                path: Path) -> None:
    plt = _plt()
    scale = results["scale"]
    limit = scale["params"]["limit"]
    titles = {"scale_out": "scale-out: one instance added per second",
              "restart": "restart: all N instances start at once"}
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=True)
    for ax, scenario in zip(axes, ("scale_out", "restart"), strict=True):
        for name in SCALE_CONTENDERS:
            ys = curves[scenario][name]
            ax.plot(range(1, len(ys) + 1), ys, label=LABELS[name])
        ax.axhline(limit, color="red", linestyle="--", label=f"Key Vault limit ({limit}/10 s)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("instances")
        ax.set_title(titles[scenario])
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("peak vault requests per 10 s")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Scale model: {scale['params']['rate']:g} executions/s per instance, "
                 f"{scale['workload']['orgs']} orgs, {scale['params']['horizon_s']} s simulated")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- RESULTS.md ---------------------------------------------------------------------------
def _n(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def _us(value: float) -> str:
    return f"{value / 1000:,.1f} ms" if value >= 10_000 else f"{value:,.1f} µs"


#: the share of an execution's reads that are secret refs (workload.py)
SECRET_SHARE = (ORG_SECRETS_PER_WORKFLOW + GLOBAL_SECRETS_PER_WORKFLOW) / (
    PLAIN_PER_WORKFLOW + ORG_SECRETS_PER_WORKFLOW + GLOBAL_SECRETS_PER_WORKFLOW)


def _audit_lines(o: dict[str, Any] | None) -> list[str]:
    """orgconfig's audit records (the ``orgconfig.audit`` logger) in each phase."""
    if not o or "audit_records" not in o:
        return []
    lines = ["", "## orgconfig audit records", "",
             "| phase | executions | secret reads | audit records | by event |",
             "|---|---:|---:|---:|---|"]
    for label, phase in (("steady", o), ("cold start", o["burst"])):
        events = ", ".join(f"{k} {v:,}" for k, v in sorted(phase["audit_by_event"].items()))
        secret_reads = round(phase["reads"] * SECRET_SHARE)
        lines.append(f"| {label} | {phase['executions']:,} | {secret_reads:,} | "
                     f"{phase['audit_records']:,} | {events} |")
    lines += ["", "Each execution runs as a workflow through `run_workflow`: one "
              "`workflow.run` record per run (listing its secret reads), one `secret.fetch` "
              "per backend answer, one `secret.failure` per failed read; a cache hit writes "
              "no record of its own."]
    return lines


def markdown(r: dict[str, Any]) -> str:
    wl, rows, m = r["workload"], r["contenders"], r["machine"]
    lines = [
        "# Benchmark results: orgconfig against the patterns teams use today",
        "",
        f"Mode: **{r['mode']}**; command: `{r['command']}`; run took {r['total_s']:.0f} s; "
        f"generated {r['generated_at']}.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM, {m['platform']}, "
        f"Python {m['python']}. Packages: "
        + ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v) + ".",
        "",
        f"Backends: Azurite tables behind a {r['backends']['table_delay_ms']:g} ms delay per "
        f"request; the Key Vault emulator with {r['backends']['vault_latency_ms']:g} ms latency "
        f"per request. Workload: {wl['orgs']} orgs x 40 entries + GLOBAL's 20, "
        f"{r['seeding']['secrets']:,} vault secrets, {wl['executions']:,} executions of 10 reads "
        f"(Zipf s={wl['zipf_s']:g}), {wl['concurrency']} at a time; cold-start burst of "
        f"{wl['burst']:,} executions at once. Every value read was checked against the "
        "expected one.",
        "",
        "## Steady run (each contender starts cold, in its own process)",
        "",
        "| contender | executions | vault GETs | all vault requests | GETs / 1k exec | "
        "table requests | req / 1k exec | read p50 | read p99 | wall | exec/s | peak RSS | "
        "errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in WORKLOAD_CONTENDERS:
        if name not in rows:
            continue
        c = rows[name]
        star = " *" if c["executions"] < wl["executions"] else ""
        lines.append(
            f"| {LABELS[name]} | {c['executions']:,}{star} | {c['vault_gets']:,} | "
            f"{c.get('vault_requests', c['vault_gets']):,} | "
            f"{_n(c['vault_gets_per_1k_executions'])} | {c['table_queries']:,} | "
            f"{_n(c['table_queries_per_1k_executions'])} | {_us(c['read_p50_us'])} | "
            f"{_us(c['read_p99_us'])} | {c['wall_s']:.1f} s | {c['executions_per_s']:,.0f} | "
            f"{c['peak_rss_mb']:.0f} MB | {sum(c['errors'].values())} |"
        )
    for name in WORKLOAD_CONTENDERS:
        extra = rows.get(name, {}).get("extrapolated")
        if extra:
            lines += [
                "",
                f"\\* {LABELS[name]} ran the first {rows[name]['executions']:,} executions of the "
                f"plan (the plan is in random order; this contender keeps nothing between "
                f"executions, so its cost per execution does not change along the plan). "
                f"**Extrapolated** linearly to {wl['executions']:,}: "
                f"~{extra['vault_gets']:,} vault GETs, ~{extra['table_queries']:,} table "
                f"requests, ~{extra['wall_s']:,.0f} s.",
            ]
    lines += [
        "",
        f"## Cold start: {wl['burst']:,} executions start at once on a fresh process",
        "",
        "| contender | vault GETs | of which 404 | all vault requests | table requests | "
        "read p50 | read p99 | wall | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in WORKLOAD_CONTENDERS:
        if name not in rows:
            continue
        b = rows[name]["burst"]
        lines.append(
            f"| {LABELS[name]} | {b['vault_gets']:,} | {b['vault_not_found']:,} | "
            f"{b.get('vault_requests', b['vault_gets']):,} | {b['table_queries']:,} | "
            f"{_us(b['read_p50_us'])} | {_us(b['read_p99_us'])} | "
            f"{b['wall_s']:.2f} s | {sum(b['errors'].values())} |"
        )
    lines += [
        "",
        "Read latency is per `await get(key)`. The Powertools-style executions run on 32 "
        "worker threads, so in the burst most of them first wait for a thread, and that wait "
        "is not in their read latencies; compare the wall times. The async contenders run "
        "all executions at once on one event loop, so their reads also wait for the loop.",
    ]
    lines += _audit_lines(r["contenders"].get("orgconfig"))
    p = r.get("pydantic_settings_startup")
    if p:
        lines += [
            "",
            "## pydantic-settings `AzureKeyVaultSettingsSource`: start-up",
            "",
            f"Building a settings object with one field per vault secret "
            f"({p['secrets_loaded']:,} secrets): **{p['wall_s']:.1f} s**, "
            f"{p['vault_gets']:,} GETs + {p['vault_list_requests']:,} list pages = "
            f"{p['vault_requests']:,} vault requests ({p['requests_per_s']:.0f}/s, one at a "
            f"time), peak RSS {p['peak_rss_mb']:.0f} MB. Every instance pays this at start; "
            "after it reads are attribute lookups, and a rotated secret is seen only after "
            "a restart.",
        ]
    mi = r.get("micro")
    if mi:
        lines += [
            "",
            "## Micro: a warm read",
            "",
            "| read | median per call | vs `await` of a dict lookup |",
            "|---|---:|---:|",
            f"| `await` bare dict lookup | {mi['dict_await_ns']:.0f} ns | 1x |",
            f"| orgconfig `get_config`, plain key | {mi['plain_us']:.2f} µs | "
            f"{mi['plain_ratio']:.1f}x |",
            f"| orgconfig `get_config`, secret key | {mi['secret_us']:.2f} µs | "
            f"{mi['secret_ratio']:.1f}x |",
            *([f"| orgconfig `get_config`, JSON key (read-only value) | {mi['json_us']:.2f} µs "
               f"| {mi['json_ratio']:.1f}x |"] if "json_us" in mi else []),
            "",
            f"({mi['rounds']} rounds of {mi['calls_per_round']:,} sequential awaits each, "
            "alternating the subjects; median of the per-call means"
            + (f"; {mi['note']}" if mi.get("note") else "") + ".)",
        ]
    s = r.get("scale")
    if s:
        sp = s["params"]
        lines += [
            "",
            "## Scale model: instances before Key Vault throttles (4,000 requests / 10 s)",
            "",
            f"Simulation (no servers): every instance runs the MSP workload at "
            f"{sp['rate']:g} executions/s (an assumption: 32 executions at a time of about "
            f"3 s each), {sp['horizon_s']:,} s simulated, vault of "
            f"{s['vault_secrets']:,} secrets. `scale_out` adds an instance every "
            f"{1 / sp['ramp_per_s']:g} s; `restart` starts all at once. See `scale.png`."
            + (f" {s['note']}" if s.get("note") else ""),
            "",
            "| contender | max instances, scale-out | max instances, restart | "
            "steady GETs / 10 s / instance | peak / 10 s at 100 instances (scale-out) |",
            "|---|---:|---:|---:|---:|",
        ]
        for name in SCALE_CONTENDERS:
            at100 = s["peak_per_10s"]["scale_out"][name].get("100")
            lines.append(
                f"| {LABELS[name]} | {s['max_instances_under_limit']['scale_out'][name]} | "
                f"{s['max_instances_under_limit']['restart'][name]} | "
                f"{_n(s['steady_gets_per_10s_per_instance'][name])} | "
                f"{_n(at100) if at100 is not None else '-'} |"
            )
    lines += catalog_section(r)
    lines += shards_section(r)
    lines += fleet_section()
    lines += ["", "## How each contender reads", ""] + [f"- {line}" for line in r["method"]]
    lines += ["", "## Where orgconfig stands, and what limits it next", ""]
    lines += [f"- {line}" for line in r.get("findings", [])]
    lines += ["", "Charts: `results.png` (contenders), `scale.png` (scale model). Raw numbers: "
              "`results.json`.", ""]
    return "\n".join(lines)


def fleet_section() -> list[str]:
    """The sections of the benchmarks with runs of their own (``make bench-fleet``,
    ``make bench-revalidation``): kept across ``make bench``."""
    lines: list[str] = []
    for name in ("revalidation.md", "fleet.md"):
        part = REPO_ROOT / "bench" / name
        if part.exists():
            lines += ["", *part.read_text().rstrip("\n").splitlines()]
    return lines


def splice(results_md: Path, section: str) -> None:
    """Put ``section`` (its first line its ``## `` title) into RESULTS.md: replacing the
    section of that title, else before "How each contender reads" (else at the end)."""
    title = section.lstrip("\n").splitlines()[0]
    lines = results_md.read_text().splitlines()
    if title in lines:
        start = lines.index(title)
        end = next((i for i in range(start + 1, len(lines))
                    if lines[i].startswith("## ")), len(lines))
    else:
        anchor = "## How each contender reads"
        start = end = lines.index(anchor) if anchor in lines else len(lines)
    new = lines[:start] + section.strip("\n").splitlines() + [""] + lines[end:]
    results_md.write_text("\n".join(new).rstrip("\n") + "\n")


def shards_section(r: dict[str, Any]) -> list[str]:
    """One vault vs orgs spread over 4 (issue 14; :mod:`bench.shards`, a model)."""
    s = r.get("scale")
    if not s or "shards" not in s:
        return []
    from bench.shards import markdown as shards_markdown

    return ["", "## Several vaults: the fleet per vault layout (model)", "",
            *shards_markdown(s["shards"], ScaleParams(**s["params"]))]


def catalog_section(r: dict[str, Any]) -> list[str]:
    """Listing, 404s and the fleet a vault carries, per vault size (issue 11)."""
    s, rows = r.get("scale"), r["contenders"]
    if not s or "vault_sizes" not in s:
        return []
    sizes = list(s["vault_sizes"])
    head = " / ".join(f"{int(z):,}" for z in sizes)
    seeding = r.get("seeding", {})
    measured = int(seeding.get("secrets", 0))
    lines = [
        "",
        "## Vault size: listing, 404s, and the fleet one vault carries",
        "",
        f"Vault sizes {head} secrets (the workload reads the same secrets at every size; the "
        f"others belong to orgs it does not run). **Measured** (emulator, {measured:,} "
        "secrets): the listing requests of the steady run and the 404s of the cold burst. "
        "**Model** (the scale model above, not measured): listing requests per hour, the peak "
        "per 10 s at 100 instances and the largest fleet under 4,000 requests per 10 s, "
        "scale-out one instance per second.",
        "",
        f"| contender | listing requests / instance / hour ({head}) | listing requests in "
        f"the steady run (measured) | 404s in the cold burst (measured) | requests / 10 s at "
        f"100 instances ({head}) | largest fleet, scale-out ({head}) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in SCALE_CONTENDERS:
        per = [s["vault_sizes"][z][name] for z in sizes]
        row = rows.get(name, {})
        burst = row.get("burst", {}).get("vault_not_found")
        listed = (row["vault_requests"] - row["vault_gets"]) if "vault_requests" in row else None
        listing = " / ".join(_n(p["listing_per_instance_per_hour"]) for p in per)
        if name == "pydantic_settings":
            listing += " (per start)"
        if name == "orgconfig":
            listing += " (fleet: " + " / ".join(
                f"{p['fleet_listing_per_hour']:,}" for p in per) + " per hour, one reconcile)"
        at100 = " / ".join("-" if p["peak_per_10s_at_100"] is None
                           else _n(p["peak_per_10s_at_100"]) for p in per)
        fleet = " / ".join(
            f"{p['max_instances_scale_out']}" + ("+" if p["max_instances_scale_out"] >=
                                                  s["params"]["max_instances"] else "")
            for p in per)
        lines.append(f"| {LABELS[name]} | {listing} | "
                     f"{'-' if listed is None else f'{listed:,}'} | "
                     f"{'-' if burst is None else f'{burst:,}'} | {at100} | {fleet} |")
    c = r.get("catalog_reconcile")
    if c:
        lines += [
            "",
            f"Building the catalog (one reconcile, **measured**): {c['secrets']:,} secrets, "
            f"{c['vault_list_requests']:,} listing requests, {c['vault_gets']:,} GETs (metadata "
            f"only), {c['rows_written']:,} rows written, {c['seconds']:.1f} s. In Azure the "
            "timer runs it hourly on one instance for the whole fleet.",
        ]
    lines.append(f"\n`+`: the model stops at {s['params']['max_instances']} instances.")
    return lines


# -- text ---------------------------------------------------------------------------------
def _ratio(a: float, b: float) -> str:
    if b <= 0:
        return "∞"
    value = a / b
    return f"{value:,.0f}x" if value >= 10 else f"{value:,.1f}x"


def _fewer(a: float, b: float, what: str) -> str:
    """``"11x fewer vault GETs"``, or ``"about as many ..."`` within 15 %."""
    if b > 0 and 1 / 1.15 <= a / b <= 1.15:
        return f"about as many {what}"
    return f"{_ratio(a, b)} fewer {what}"


def findings(r: dict[str, Any]) -> list[str]:
    """Where orgconfig stands against each contender, from the numbers of this run."""
    rows = r["contenders"]
    if "orgconfig" not in rows:
        return []
    o = rows["orgconfig"]
    out: list[str] = []
    for name in ("naive", "per_request_cache", "powertools"):
        if name not in rows:
            continue
        c = rows[name]
        gets, o_gets = c["vault_gets_per_1k_executions"], o["vault_gets_per_1k_executions"]
        table, o_table = (c["table_queries_per_1k_executions"],
                          o["table_queries_per_1k_executions"])
        out.append(
            f"vs {LABELS[name]}: {_fewer(gets, o_gets, 'vault GETs')} per execution "
            f"({_n(gets)} vs {_n(o_gets)} per 1,000), {_fewer(table, o_table, 'table requests')}; "
            f"read p50 {_us(c['read_p50_us'])} vs {_us(o['read_p50_us'])}, "
            f"p99 {_us(c['read_p99_us'])} vs {_us(o['read_p99_us'])}; cold start of "
            f"{r['workload']['burst']}: {c['burst']['vault_gets']:,} vs "
            f"{o['burst']['vault_gets']:,} GETs."
        )
    p = r.get("pydantic_settings_startup")
    if p:
        out.append(
            f"vs pydantic-settings: it spends {p['wall_s']:.1f} s and {p['vault_requests']:,} "
            f"vault requests before the first read of each instance and never sees a rotation; "
            f"orgconfig's whole cold steady run made {o['vault_gets']:,} GETs, on demand."
        )
    mi = r.get("micro")
    if mi:
        out.append(
            f"Warm reads: {mi['plain_us']:.2f} µs (plain) and {mi['secret_us']:.2f} µs (secret) "
            f"per `get_config`, {mi['plain_ratio']:.1f}x and {mi['secret_ratio']:.1f}x an "
            "awaited dict lookup: a warm read is one lookup of the memoized answer and one "
            "clock read (plus, for a secret, a count in the workflow run's audit record); "
            "the caches, their refresh-ahead and the metrics are consulted again when the "
            "first input of the answer nears its expiry."
        )
    s = r.get("scale")
    if s:
        mx = s["max_instances_under_limit"]
        inst = s["orgconfig_instance"]
        rate = s["params"]["rate"]
        steady = s["steady_gets_per_10s_per_instance"]
        warm_max = int(s["params"]["limit"] / max(steady["orgconfig"], 0.1))
        out.append(
            f"Scale model at {rate:g} executions/s per instance: orgconfig stays under 4,000 "
            f"GETs/10 s up to {mx['scale_out']['orgconfig']} instances added one per second "
            f"({mx['restart']['orgconfig']} restarted at once); naive "
            f"{mx['scale_out']['naive']}, per-request cache "
            f"{mx['scale_out']['per_request_cache']}, Powertools-style "
            f"{mx['scale_out']['powertools']}, pydantic-settings "
            f"{mx['scale_out']['pydantic_settings']}. A warm orgconfig instance asks "
            f"{_n(steady['orgconfig'])} GETs per 10 s (naive {_n(steady['naive'])}), so warm "
            f"instances alone would allow ~{warm_max:,}: held secrets renew by version "
            "without a request (the model rotates none; `make bench-fleet` measured it), so "
            "what a warm instance asks is the first reads of rarely run orgs' secrets."
        )
        fleet_goal = mx["scale_out"]["orgconfig"]
        out.append(
            f"What limits orgconfig next: the cache is per instance. Each new instance "
            f"fetches every secret it reads once ({inst['names'] - inst['not_found_names']:,} "
            f"names the workload reads that exist: 10 per org and GLOBAL's), up to "
            f"{inst['cold_first_minute_peak_per_10s']:,} GETs in a 10 s window of its first "
            f"minute and {inst['first_hour_gets']:,} in its first hour; with one instance "
            "added per second about ten instances are in that phase at once, which is what "
            f"crosses the limit at {fleet_goal} instances (goal: 100). Warm, 100 instances "
            f"ask ~{_n(100 * steady['orgconfig'])} requests per 10 s. Beyond this needs the "
            "first loads spread (paced prefetch), the orgs split over vaults "
            "(`AZURE_KEY_VAULT_SHARDS`), or a cache shared by the instances."
        )
        idx = mx["scale_out"].get("orgconfig_index")
        out.append(
            f"The secret catalog: the {inst['not_found_names']:,} `{{org}}--name` lookups of "
            "secrets that live only in GLOBAL are answered by catalog rows that come with the "
            "org's snapshot: no request, no 404, no listing per instance (before the catalog, "
            "the name index listed the vault per instance every 300 s: "
            f"{inst['steady_not_found_share']:.0%} of a warm instance's vault requests, and "
            f"scale-out stopped at {idx} instances). The fleet lists the vault once an hour "
            "(the reconcile timer)."
        )
    return out


def summary(r: dict[str, Any]) -> str:
    """A plain-text table for the terminal."""
    rows = r["contenders"]
    head = (f"{'contender':<20}{'execs':>7}{'vault GETs':>12}{'GETs/1k':>10}{'table req':>11}"
            f"{'p50 us':>11}{'p99 us':>12}{'wall s':>9}{'RSS MB':>8}{'burst GETs':>12}")
    lines = [head, "-" * len(head)]
    for name in WORKLOAD_CONTENDERS:
        if name not in rows:
            continue
        c = rows[name]
        lines.append(
            f"{LABELS[name]:<20}{c['executions']:>7}{c['vault_gets']:>12}"
            f"{c['vault_gets_per_1k_executions']:>10.0f}{c['table_queries']:>11}"
            f"{c['read_p50_us']:>11.1f}{c['read_p99_us']:>12.1f}{c['wall_s']:>9.1f}"
            f"{c['peak_rss_mb']:>8.0f}{c['burst']['vault_gets']:>12}"
        )
    p, mi, s = r["pydantic_settings_startup"], r["micro"], r["scale"]
    lines.append(f"pydantic-settings start-up: {p['wall_s']:.1f} s, {p['vault_requests']} "
                 f"vault requests for {p['secrets_loaded']} secrets")
    lines.append(f"micro: plain {mi['plain_us']} us ({mi['plain_ratio']}x dict), secret "
                 f"{mi['secret_us']} us ({mi['secret_ratio']}x dict), dict "
                 f"{mi['dict_await_ns']} ns")
    lines.append("scale, max instances under 4,000/10 s: "
                 + json.dumps(s["max_instances_under_limit"]))
    return "\n".join(lines)

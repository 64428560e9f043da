"""The telemetry contract around the code: the library imports the OpenTelemetry API only,
every tally maps to a declared instrument, and the app's set-up (app_telemetry.py) picks
exporters from the standard variables, refuses a bad one, and never configures twice."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import app_telemetry
from shared.core import telemetry

ROOT = Path(__file__).resolve().parents[2]


def test_the_library_imports_the_opentelemetry_api_only() -> None:
    imported: set[str] = set()
    for path in (ROOT / "shared").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
    assert any(name.startswith("opentelemetry") for name in imported)
    assert not [n for n in imported if n.startswith(("opentelemetry.sdk", "azure.monitor",
                                                    "opentelemetry.exporter"))]


def tallies_in_the_source() -> set[str]:
    """Every tally name the code counts (literal names; f-strings with a sample value)."""
    names: set[str] = set()
    for path in (ROOT / "shared").rglob("*.py"):
        text = path.read_text()
        names.update(re.findall(r'incr\("([a-z_.]+)"', text))
        names.update(n.replace("{self.name}", "vault").replace("{kind}", "secret_new_version")
                     for n in re.findall(r'incr\(f"([a-z_.{}]+)"', text))
        names.update(re.findall(r'StaleReporter\([^,]+, "([a-z_.]+)"', text))
    names |= {"config.cache_miss", "secret.cache_miss", "vault.get[eu]"}
    return names


def test_every_tally_maps_to_a_declared_instrument() -> None:
    names = tallies_in_the_source()
    assert len(names) > 40
    declared = {i.name for i in telemetry.INSTRUMENTS}
    unmapped = [n for n in names if telemetry.instrument_of(n) is None]
    assert unmapped == []
    assert {telemetry.instrument_of(n)[0] for n in names} <= declared  # type: ignore[index]


def test_tallies_map_to_stable_names_and_attributes() -> None:
    assert telemetry.instrument_of("vault.get[eu]") == (
        "orgconfig.vault.operations", {"orgconfig.vault": "eu", "orgconfig.operation": "get"})
    assert telemetry.instrument_of("config.cache_hit") == (
        "orgconfig.cache.lookups", {"orgconfig.cache": "config", "orgconfig.outcome": "hit"})
    assert telemetry.instrument_of("breaker.vault[eu].opened") == (
        "orgconfig.breaker.events", {"orgconfig.breaker": "vault[eu]",
                                     "orgconfig.outcome": "opened"})
    assert telemetry.instrument_of("no.such_thing") is None


def test_in_tests_the_providers_are_set_so_the_app_adds_none() -> None:
    assert app_telemetry.configure({}) in ("already", "off")


def test_a_bad_exporter_name_is_refused_with_the_variable_named() -> None:
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER='jaeger'"):
        app_telemetry._choose({"OTEL_TRACES_EXPORTER": "jaeger"})


def run_configured(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("OTEL_", "APPLICATIONINSIGHTS_"))}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True,
        text=True, timeout=60, check=False)


EMIT = """
import logging, app_telemetry
print(app_telemetry.configure())
from shared.core import telemetry
from shared.core.audit import audit_write
from shared.core.metrics import Metrics
tallies = Metrics()
tallies.incr("vault.get", 3)
with telemetry.span("orgconfig.resolve", {telemetry.ORG: "acme", telemetry.KEY: "k"}):
    audit_write("config.put", "Ana", "acme", key="k")
from opentelemetry import trace, metrics
from opentelemetry._logs import get_logger_provider
trace.get_tracer_provider().shutdown()
metrics.get_meter_provider().shutdown()
get_logger_provider().shutdown()
"""


def test_the_file_exporter_writes_every_signal_as_json_lines(tmp_path: Path) -> None:
    done = run_configured({"OTEL_TRACES_EXPORTER": "file", "OTEL_METRICS_EXPORTER": "file",
                           "OTEL_LOGS_EXPORTER": "file",
                           "ORGCONFIG_TELEMETRY_DIR": str(tmp_path)}, EMIT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "otel"
    spans = [json.loads(line) for line in (tmp_path / "traces.jsonl").read_text().splitlines()]
    assert [s["name"] for s in spans] == ["orgconfig.resolve"]
    assert spans[0]["attributes"] == {"orgconfig.org_id": "acme", "orgconfig.key": "k"}
    assert spans[0]["resource"]["attributes"]["service.name"] == "orgconfig"
    logs = [json.loads(line) for line in (tmp_path / "logs.jsonl").read_text().splitlines()]
    [audit] = [r for r in logs if r["attributes"].get("orgconfig.event") == "config.put"]
    assert audit["attributes"]["orgconfig.actor"] == "Ana"
    assert audit["trace_id"] == spans[0]["context"]["trace_id"]
    [collection] = [json.loads(line) for line in
                    (tmp_path / "metrics.jsonl").read_text().splitlines()]
    [scope] = collection["resource_metrics"][0]["scope_metrics"]
    [vault] = [m for m in scope["metrics"] if m["name"] == "orgconfig.vault.operations"]
    assert [(p["attributes"], p["value"]) for p in vault["data"]["data_points"]] == [
        ({"orgconfig.vault": "default", "orgconfig.operation": "get"}, 3)]


def test_azure_monitor_is_configured_from_the_connection_string_with_identity() -> None:
    code = """
import logging, app_telemetry
from unittest import mock
import azure.monitor.opentelemetry as distro
with mock.patch.object(distro, "configure_azure_monitor") as configure:
    print(app_telemetry.configure())
options = configure.call_args.kwargs
print(options["logger_name"], type(options["credential"]).__name__,
      options["connection_string"].startswith("InstrumentationKey="),
      logging.getLogger("orgconfig").level, logging.getLogger("orgconfig").propagate)
"""
    done = run_configured({
        "APPLICATIONINSIGHTS_CONNECTION_STRING":
            "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
            "IngestionEndpoint=http://127.0.0.1:9/",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "ClientId=abc;Authorization=AAD",
        "OTEL_TRACES_EXPORTER": "console",  # Azure Monitor wins
    }, code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["azure-monitor", "orgconfig", "ManagedIdentityCredential",
                                   "True", "20", "False"]


def test_without_any_setting_nothing_is_configured() -> None:
    done = run_configured({}, "import app_telemetry; print(app_telemetry.configure())")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "off"


def test_a_retired_tally_keeps_its_totals_and_drops_its_gauges() -> None:
    from shared.core import metrics as tallies

    owner = tallies.Metrics()
    owner.add_gauge("cache.entries", lambda: [({"orgconfig.cache": "test-retire"}, 7.0)])
    owner.incr("table.queries", 3)
    before = tallies.process_totals()["table.queries"]
    assert ({"orgconfig.cache": "test-retire"}, 7.0) in list(
        tallies.gauge_readings("cache.entries"))
    owner.retire()
    assert tallies.process_totals()["table.queries"] == before
    assert ({"orgconfig.cache": "test-retire"}, 7.0) not in list(
        tallies.gauge_readings("cache.entries"))
    assert owner.get("table.queries") == 3  # its own view stays readable

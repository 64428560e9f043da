"""Audit records (shared.core.audit): cleaned caller text, the actor, the per-run secret reads."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from shared.core import audit
from shared.core.audit import Actor, RunSecretReads, clean_text, collect_secret_reads, dimensions

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("raw, cleaned", [
    ("Eve\nINFO audit secret.delete by admin", "EveINFO audit secret.delete by admin"),
    ("a\r\nb", "ab"),
    ("\x1b[31mred\x1b[0m", "[31mred[0m"),
    ("evil\u202egnp.exe", "evilgnp.exe"),
    ("line\u2028separator", "lineseparator"),
    ("no\u00a0break", "no break"),
    ("Zoë Smith", "Zoë Smith"),
])
def test_clean_text_strips_control_and_format_characters(raw: str, cleaned: str) -> None:
    assert clean_text(raw) == cleaned


def test_clean_text_cuts_long_text() -> None:
    assert len(clean_text("x" * 1000)) == audit.MAX_TEXT


def test_actor_names_the_stable_id_with_the_display_name() -> None:
    alice = Actor.of("00000000-0000-0000-0000-0000000000a1", "Alice\nSmith")
    assert str(alice) == "AliceSmith <00000000-0000-0000-0000-0000000000a1>"
    assert alice.dimensions() == {"actor": str(alice), "actor_id": alice.id,
                                  "actor_name": "AliceSmith"}
    assert str(Actor.of("", "cli:bob")) == "cli:bob"
    assert str(Actor()) == "unknown"


def test_two_people_with_one_display_name_are_told_apart() -> None:
    assert str(Actor.of("oid-1", "Sam Lee")) != str(Actor.of("oid-2", "Sam Lee"))


def test_a_write_record_is_one_line_whatever_the_actor_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="orgconfig.audit")
    audit.audit_write("config.put", Actor.of("oid-1", "Eve\nconfig.delete by admin"), "acme",
                      key="k")
    (record,) = caplog.records
    assert "\n" not in record.getMessage()
    dims = dimensions(record)
    assert dims["event"] == dims["action"] == "config.put"
    assert dims["actor_id"] == "oid-1" and dims["actor_name"] == "Eveconfig.delete by admin"


def test_run_reads_count_per_name_and_source() -> None:
    reads = RunSecretReads()
    reads.note("smtp-password", "keyvault:GLOBAL--smtp-password", fetched=True)
    reads.note("smtp-password", "keyvault:GLOBAL--smtp-password")
    reads.note("api-key", "env:ACME__API_KEY", fetched=True)
    assert reads.listing() == [
        {"name": "api-key", "source": "env:ACME__API_KEY", "reads": 1, "fetched": 1},
        {"name": "smtp-password", "source": "keyvault:GLOBAL--smtp-password", "reads": 2,
         "fetched": 1},
    ]


async def test_reads_in_tasks_of_a_run_count_in_that_run_only() -> None:
    audit.note_secret_read("outside", "env:X")  # no run: nothing to count in
    with collect_secret_reads() as reads:
        await asyncio.gather(*(asyncio.sleep(0, audit.note_secret_read("s", "env:S"))
                               for _ in range(3)))

        async def in_task() -> None:
            audit.note_secret_read("t", "env:T")

        await asyncio.gather(in_task(), in_task())
    assert audit.RUN_READS.get() is None
    assert {(s["name"], s["reads"]) for s in reads.listing()} == {("s", 3), ("t", 2)}


def test_no_audit_record_is_sampled_away() -> None:
    """Audit records are log records: the app exports them itself (OpenTelemetry), and
    neither the host's Application Insights sampling nor a trace-based sampling of logs
    applies to them (the distro's options are checked in test_telemetry_setup)."""
    host = json.loads((ROOT / "host.json").read_text())
    assert host["telemetryMode"] == "OpenTelemetry"
    assert "applicationInsights" not in host["logging"]
    source = (ROOT / "app_telemetry.py").read_text()
    assert "sampling" not in source.replace("sampled", "")

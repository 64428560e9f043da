"""The audit trail on a small workload: one record per backend fetch, per failure and per
workflow run, whatever the number of reads; never a value. Real Azurite and emulator."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from azure.keyvault.secrets.aio import SecretClient

from shared.admin.workflows import run_workflow, unregister, workflow
from shared.context import OrganizationContext
from shared.core.audit import Actor, dimensions
from shared.core.values import ConfigEntry
from shared.errors import SecretAccessError, SecretNotFoundError
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tools.keyvault_emulator.control import EmulatorControl

pytestmark = pytest.mark.integration

CANARIES = ("Zx-org-vault", "Zx-global-vault", "Zx-env-value")
ROWS = [
    ("GLOBAL", "smtp_password", "smtp-password", "secret_ref"),
    ("GLOBAL", "psa_api_key", "psa-api-key", "secret_ref"),
    ("GLOBAL", "graph_secret", "graph-secret", "secret_ref"),
    ("GLOBAL", "smtp_host", "mail.example"),
    ("acme", "smtp_host", "mail.acme"),
    ("GLOBAL", "smtp_port", "587", "int"),
]
READS_PER_RUN = 10


@pytest.fixture
def audit_records(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="orgconfig.audit")
    return caplog


def audits(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The audit records' fields; a run's secret listing is JSON text (one attribute)."""
    found = [dimensions(r) for r in caplog.records if r.name == "orgconfig.audit"]
    for fields in found:
        if "secrets" in fields:
            fields["secrets"] = json.loads(fields["secrets"])
    return found


@pytest.fixture
def reader_workflow() -> Iterator[str]:
    async def read_config(context: OrganizationContext, params: dict[str, Any]
                          ) -> dict[str, Any]:
        for _ in range(READS_PER_RUN // 5):
            await context.get_config("smtp_password")
            await context.get_config("psa_api_key")
            await context.get_config("graph_secret")
            await context.get_configs("smtp_host", "smtp_port")
        return {"ok": True}

    workflow("audit-reader")(read_config)
    yield "audit-reader"
    unregister("audit-reader")


@pytest.fixture
async def workload_resolver(
    settings: Settings, vault: SecretClient, monkeypatch: pytest.MonkeyPatch
) -> Any:
    await vault.set_secret("acme--smtp-password", "Zx-org-vault")
    await vault.set_secret("GLOBAL--smtp-password", "Zx-global-vault")
    await vault.set_secret("GLOBAL--psa-api-key", "Zx-global-vault")
    monkeypatch.setenv("GLOBAL__GRAPH_SECRET", "Zx-env-value")
    async with ConfigResolver(replace(settings, secret_name_index=False)) as resolver:
        await resolver.config_store.upsert_many(
            [ConfigEntry(*row) for row in ROWS])  # type: ignore[arg-type]
        yield resolver


async def test_a_workload_writes_one_record_per_fetch_and_per_run(
    workload_resolver: ConfigResolver, reader_workflow: str,
    audit_records: pytest.LogCaptureFixture, kv_control: EmulatorControl,
) -> None:
    kv_control.reset_counters()
    runs = 0
    for _ in range(5):
        for org in ("acme", "beta"):
            await run_workflow(reader_workflow, workload_resolver.context(org), {},
                               actor=Actor.of("oid-1", "Operator"))
            runs += 1
    records = audits(audit_records)
    by_event = Counter(r["event"] for r in records)
    vault_gets = kv_control.count("get_secret")
    # acme: acme--smtp-password, acme--psa-api-key (404), GLOBAL--psa-api-key,
    # acme--graph-secret (404), GLOBAL--graph-secret (404); beta adds its 3 names and
    # GLOBAL--smtp-password. Each GET once: later reads are cache or memo hits.
    assert vault_gets == 9
    fetches = [r for r in records if r["event"] == "secret.fetch"]
    assert Counter(r["backend"] for r in fetches)["keyvault"] == vault_gets
    env_fetches = [r for r in fetches if r["backend"] == "env"]
    # the env value is read when an answer is built: a cold read and the read that
    # memoizes it, per org; then the memo serves it
    assert {r["name"] for r in env_fetches} == {"GLOBAL__GRAPH_SECRET"}
    assert 2 <= len(env_fetches) <= 2 * 2
    assert by_event["workflow.run"] == runs
    assert by_event["secret.failure"] == 0
    assert len(records) == vault_gets + len(env_fetches) + runs  # not one per read


async def test_the_run_record_lists_each_secret_read_with_source_and_counts(
    workload_resolver: ConfigResolver, reader_workflow: str,
    audit_records: pytest.LogCaptureFixture,
) -> None:
    for _ in range(3):
        await run_workflow(reader_workflow, workload_resolver.context("acme"), {},
                           actor=Actor.of("oid-1", "Operator"))
    run = [r for r in audits(audit_records) if r["event"] == "workflow.run"][-1]
    assert {k: run[k] for k in ("workflow", "org_id", "outcome", "actor_id", "actor_name")} == {
        "workflow": reader_workflow, "org_id": "acme", "outcome": "ok", "actor_id": "oid-1",
        "actor_name": "Operator"}
    reads = {(s["name"], s["source"]): s["reads"] for s in run["secrets"]}
    assert reads == {
        ("graph-secret", "env:GLOBAL__GRAPH_SECRET"): READS_PER_RUN // 5,
        ("psa-api-key", "keyvault:GLOBAL--psa-api-key"): READS_PER_RUN // 5,
        ("smtp-password", "keyvault:acme--smtp-password"): READS_PER_RUN // 5,
    }
    assert all(s["fetched"] == 0 for s in run["secrets"] if s["source"].startswith("keyvault"))


async def test_no_record_holds_a_value(
    workload_resolver: ConfigResolver, reader_workflow: str,
    audit_records: pytest.LogCaptureFixture,
) -> None:
    for org in ("acme", "beta", "acme"):
        await run_workflow(reader_workflow, workload_resolver.context(org), {})
    assert audits(audit_records)
    for record in audit_records.records:
        text = record.getMessage() + repr(record.__dict__)
        assert not any(canary in text for canary in CANARIES)


async def test_every_failed_read_is_audited(
    workload_resolver: ConfigResolver, audit_records: pytest.LogCaptureFixture,
    kv_control: EmulatorControl,
) -> None:
    await workload_resolver.config_store.put_entry(
        ConfigEntry("GLOBAL", "dangling", "no-such-secret", "secret_ref"))
    ctx = workload_resolver.context("acme")
    for _ in range(3):
        with pytest.raises(SecretNotFoundError):
            await ctx.get_config("dangling")
    kv_control.fail_next(5, 403, operation="get_secret")
    await workload_resolver.config_store.put_entry(
        ConfigEntry("GLOBAL", "denied", "denied-secret", "secret_ref"))
    with pytest.raises(SecretAccessError):
        await ctx.get_config("denied")
    failures = [(r["config_key"], r["outcome"]) for r in audits(audit_records)
                if r["event"] == "secret.failure"]
    assert failures == [("dangling", "not_found")] * 3 + [("denied", "denied")]


async def test_a_failed_run_is_recorded_with_its_outcome(
    workload_resolver: ConfigResolver, audit_records: pytest.LogCaptureFixture,
) -> None:
    async def failing(context: OrganizationContext, params: dict[str, Any]) -> dict[str, Any]:
        await context.get_config("smtp_password")
        raise RuntimeError("boom")

    workflow("audit-failing")(failing)
    try:
        with pytest.raises(RuntimeError):
            await run_workflow("audit-failing", workload_resolver.context("acme"), {})
    finally:
        unregister("audit-failing")
    (run,) = [r for r in audits(audit_records) if r["event"] == "workflow.run"]
    assert run["outcome"] == "error" and [s["name"] for s in run["secrets"]] == ["smtp-password"]

"""OpenTelemetry over the real stack (Azurite, the Key Vault emulator, the Azure SDKs): the
span tree of a cold workflow run, no span on the warm path, the metric instruments after a
known workload, the audit records' attributes, failures on spans, and no value anywhere.
The signals are held by the session's in-memory exporters (tests/telemetry_capture.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import pytest
from azure.keyvault.secrets.aio import SecretClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel, SecretStr

from shared.context import OrganizationContext
from shared.core.audit import Actor
from shared.core.values import ConfigEntry
from shared.errors import BackendUnavailableError, SecretNotFoundError
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tests import telemetry_capture as capture
from tools.keyvault_emulator.control import EmulatorControl
from workflows import run_workflow
from workflows.registry import unregister, workflow

pytestmark = pytest.mark.integration

ORG_SECRET = "Zx-otel-org-4e1f"
GLOBAL_SECRET = "Zx-otel-global-88aa"
ROWS = [
    ("GLOBAL", "smtp_host", "mail.example"),
    ("acme", "smtp_password", "smtp-password", "secret_ref"),
    ("GLOBAL", "psa_api_key", "psa-api-key", "secret_ref"),
    ("GLOBAL", "dangling", "no-such-secret", "secret_ref"),
]


@pytest.fixture
async def world(settings: Settings, vault: SecretClient) -> AsyncIterator[ConfigResolver]:
    await vault.set_secret("acme--smtp-password", ORG_SECRET)
    await vault.set_secret("GLOBAL--psa-api-key", GLOBAL_SECRET)
    async with ConfigResolver(replace(settings, secret_name_index=False)) as resolver:
        await resolver.config_store.upsert_many(
            [ConfigEntry(*row) for row in ROWS])  # type: ignore[arg-type]
        resolver.invalidate()
        capture.clear()
        yield resolver


@pytest.fixture
def reader() -> Iterator[str]:
    async def read(context: OrganizationContext, params: dict[str, Any]) -> dict[str, Any]:
        await context.get_config("smtp_host")
        await context.get_config("smtp_password")
        return {"ok": True}

    workflow("otel-reader")(read)
    yield "otel-reader"
    unregister("otel-reader")


def by_name(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def children(spans: tuple[ReadableSpan, ...], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is not None
            and s.parent.span_id == parent.context.span_id]


async def test_a_cold_run_is_one_span_tree_down_to_the_sdk_requests(
    world: ConfigResolver, reader: str
) -> None:
    await run_workflow(reader, world.context("acme"), {}, actor=Actor.of("oid-1", "Op"))
    spans = capture.finished()
    [run] = by_name(spans, "orgconfig.workflow.run")
    assert run.parent is None
    assert run.attributes is not None
    assert run.attributes["orgconfig.workflow"] == "otel-reader"
    assert run.attributes["orgconfig.org_id"] == "acme"
    assert run.attributes["orgconfig.outcome"] == "ok"
    assert len(str(run.attributes["orgconfig.run_id"])) == 32

    resolves = {str(s.attributes["orgconfig.key"]): s  # type: ignore[index]
                for s in by_name(spans, "orgconfig.resolve")}
    assert set(resolves) == {"smtp_host", "smtp_password"}
    assert all(s.parent is not None and s.parent.span_id == run.context.span_id
               for s in resolves.values())
    host = dict(resolves["smtp_host"].attributes or {})
    assert host["orgconfig.scope"] == "GLOBAL"
    assert host["orgconfig.source.kind"] == "table"
    assert host["orgconfig.source"] == "table:GLOBAL"
    assert host["orgconfig.type"] == "string"
    assert host["orgconfig.cache"] == "miss"

    # the first read loads both snapshots (one query each), under its own span
    queries = by_name(spans, "orgconfig.table.query")
    assert sorted(str(q.attributes["orgconfig.scope"]) for q in queries) == \
        ["GLOBAL", "acme"]  # type: ignore[index]
    assert all(q.parent is not None and q.parent.span_id ==
               resolves["smtp_host"].context.span_id for q in queries)
    for query in queries:  # the Azure SDK's own spans below: its method, then HTTP
        assert children(spans, query), f"no SDK span under the query of {query.attributes}"

    secret = dict(resolves["smtp_password"].attributes or {})
    assert secret["orgconfig.source.kind"] == "keyvault"
    assert secret["orgconfig.source"] == "keyvault:acme--smtp-password"
    assert secret["orgconfig.secret.name"] == "smtp-password"
    assert secret["orgconfig.scope"] == "acme"
    assert secret["orgconfig.type"] == "secret_ref"
    assert secret["orgconfig.cache"] == "miss"
    assert list(secret["orgconfig.secret.tried"]) == ["keyvault:acme--smtp-password"]  # type: ignore[arg-type]

    [get] = by_name(spans, "orgconfig.vault.get")
    assert get.parent is not None and get.parent.span_id == \
        resolves["smtp_password"].context.span_id
    assert dict(get.attributes or {}) == {
        "orgconfig.vault": "default", "orgconfig.secret.name": "acme--smtp-password",
        "orgconfig.breaker.state": "closed", "orgconfig.outcome": "found"}
    sdk = children(spans, get)
    assert sdk, "no Azure SDK span under the vault GET"
    below = [s for parent in sdk for s in [parent, *children(spans, parent)]]
    http = [s for s in below if s.kind == SpanKind.CLIENT]
    assert http, [s.name for s in below]
    assert any("GET" in s.name or "GET" in str(dict(s.attributes or {})) for s in http)
    assert capture.leaks({ORG_SECRET, GLOBAL_SECRET}) == []


async def test_each_vault_name_of_the_chain_says_how_it_was_answered(
    world: ConfigResolver
) -> None:
    ctx = world.context("acme")
    assert await ctx.get_config("psa_api_key") == GLOBAL_SECRET
    [first] = by_name(capture.finished(), "orgconfig.resolve")
    assert list(first.attributes["orgconfig.secret.lookups"]) == [  # type: ignore[index, arg-type]
        "acme--psa-api-key=miss", "GLOBAL--psa-api-key=miss"]
    world.answers.clear()  # the memo dropped: the chain asks the caches again
    capture.clear()
    assert await world.context("beta").get_config("psa_api_key") == GLOBAL_SECRET
    assert await ctx.get_config("psa_api_key") == GLOBAL_SECRET
    spans = by_name(capture.finished(), "orgconfig.resolve")
    lookups = [list(s.attributes["orgconfig.secret.lookups"])  # type: ignore[index, arg-type]
               for s in spans]
    assert lookups == [["beta--psa-api-key=miss", "GLOBAL--psa-api-key=hit"],
                       ["acme--psa-api-key=negative", "GLOBAL--psa-api-key=hit"]]
    assert [s.attributes["orgconfig.cache"] for s in spans] == ["hit", "hit"]  # type: ignore[index]


class MailConfig(BaseModel):
    smtp_host: str
    smtp_password: SecretStr
    missing_key: int = 5


async def test_a_declared_config_load_is_one_span_over_each_key(world: ConfigResolver) -> None:
    async def send(context: OrganizationContext, params: dict[str, Any],
                   config: MailConfig) -> dict[str, Any]:
        return {"ok": config.smtp_password.get_secret_value() == ORG_SECRET}

    workflow("otel-declared", config=MailConfig)(send)
    try:
        assert await run_workflow("otel-declared", world.context("acme"), {}) == {"ok": True}
    finally:
        unregister("otel-declared")
    spans = capture.finished()
    [run] = by_name(spans, "orgconfig.workflow.run")
    [load] = by_name(spans, "orgconfig.load")
    assert load.parent is not None and load.parent.span_id == run.context.span_id
    assert dict(load.attributes or {}) == {"orgconfig.org_id": "acme",
                                           "orgconfig.model": "MailConfig", "orgconfig.keys": 3}
    keys = {str((s.attributes or {})["orgconfig.key"]): s for s in children(spans, load)}
    assert set(keys) == {"smtp_host", "smtp_password", "missing_key"}
    assert dict(keys["missing_key"].attributes or {}).get("orgconfig.outcome") is None  # default
    assert dict(keys["smtp_password"].attributes or {})["orgconfig.source.kind"] == "keyvault"
    assert by_name(spans, "orgconfig.vault.get")
    assert capture.leaks({ORG_SECRET, GLOBAL_SECRET}) == []


async def test_the_warm_path_makes_no_span_but_the_run(
    world: ConfigResolver, reader: str
) -> None:
    await run_workflow(reader, world.context("acme"), {})
    await run_workflow(reader, world.context("acme"), {})  # memoized answers now
    capture.clear()
    await run_workflow(reader, world.context("acme"), {})
    assert [s.name for s in capture.finished()] == ["orgconfig.workflow.run"]


async def test_a_resolution_that_fails_is_an_error_span_naming_what_was_tried(
    world: ConfigResolver
) -> None:
    with pytest.raises(SecretNotFoundError):
        await world.context("acme").get_config("dangling")
    [resolve] = [s for s in by_name(capture.finished(), "orgconfig.resolve")]
    assert resolve.status.status_code == StatusCode.ERROR
    attributes = dict(resolve.attributes or {})
    assert attributes["error.type"] == "SecretNotFoundError"
    assert "GLOBAL--no-such-secret" in str(resolve.status.description)
    gets = by_name(capture.finished(), "orgconfig.vault.get")
    assert sorted(str(g.attributes["orgconfig.outcome"]) for g in gets) == \
        ["not_found", "not_found"]  # type: ignore[index]


async def test_a_vault_outage_is_recorded_by_class_never_by_foreign_text(
    settings: Settings, vault: SecretClient, kv_control: EmulatorControl
) -> None:
    await vault.set_secret("GLOBAL--psa-api-key", GLOBAL_SECRET)
    async with ConfigResolver(replace(settings, secret_name_index=False,
                                      backend_timeout=1.0)) as resolver:
        await resolver.config_store.upsert_many([ConfigEntry(*ROWS[2])])  # type: ignore[arg-type]
        kv_control.refuse_connections(True)
        try:
            capture.clear()
            with pytest.raises(BackendUnavailableError):
                await resolver.context("acme").get_config("psa_api_key")
        finally:
            kv_control.refuse_connections(False)
    [get] = by_name(capture.finished(), "orgconfig.vault.get")
    assert get.status.status_code == StatusCode.ERROR
    assert dict(get.attributes or {})["error.type"] == "BackendUnavailableError"
    # orgconfig's own message (names the setting to check), never the SDK's text
    assert "AZURE_KEY_VAULT_URL" in str(get.status.description)


async def test_the_instruments_report_a_known_workload(world: ConfigResolver) -> None:
    def snapshot() -> dict[str, float]:
        points = capture.metric_points()
        return {
            "gets": capture.value("orgconfig.vault.operations", points,
                                  orgconfig__operation="get"),
            "answer_hits": capture.value("orgconfig.cache.lookups", points,
                                         orgconfig__cache="answer", orgconfig__outcome="hit"),
            "secret_misses": capture.value("orgconfig.cache.lookups", points,
                                           orgconfig__cache="secret",
                                           orgconfig__outcome="miss"),
            "config_misses": capture.value("orgconfig.cache.lookups", points,
                                           orgconfig__cache="config",
                                           orgconfig__outcome="miss"),
            "timed_gets": capture.value("orgconfig.backend.duration", points,
                                        orgconfig__backend="keyvault",
                                        orgconfig__operation="get"),
            "timed_queries": capture.value("orgconfig.backend.duration", points,
                                           orgconfig__backend="table",
                                           orgconfig__operation="query"),
        }

    before = snapshot()
    ctx = world.context("acme")
    for _ in range(10):
        assert await ctx.get_config("psa_api_key") == GLOBAL_SECRET
    after = snapshot()
    delta = {name: after[name] - before[name] for name in after}
    # acme--psa-api-key (404) and GLOBAL--psa-api-key: two GETs, each timed; two
    # snapshot queries (acme, GLOBAL); then the memo answers (the second read builds and
    # memoizes the answer from the caches, the other 8 are memo hits)
    assert delta == {"gets": 2, "answer_hits": 8, "secret_misses": 2, "config_misses": 2,
                     "timed_gets": 2, "timed_queries": 2}
    points = capture.metric_points()
    entries = {str(a["orgconfig.cache"]): p.value
               for a, p in points["orgconfig.cache.entries"]}
    assert entries["secret"] >= 2 and entries["config"] >= 2 and entries["answer"] >= 1
    assert "orgconfig.cache.oldest_stale_age" in points
    assert not points.get("orgconfig.unmapped"), points.get("orgconfig.unmapped")
    described = {m.name: (m.unit, m.description)
                 for r in (capture.collect() or ()).resource_metrics  # type: ignore[union-attr]
                 for s in r.scope_metrics for m in s.metrics}
    assert described["orgconfig.backend.duration"][0] == "s"
    assert described["orgconfig.vault.operations"][0] == "{operation}"


async def test_a_breaker_opening_moves_the_open_breakers_gauge(
    settings: Settings, kv_control: EmulatorControl
) -> None:
    def open_now() -> float:
        return capture.value("orgconfig.breaker.open", orgconfig__breaker="vault")

    before = open_now()
    async with ConfigResolver(replace(settings, secret_name_index=False, backend_timeout=1.0,
                                      breaker_threshold=1, breaker_cooldown=0.0)) as resolver:
        await resolver.config_store.upsert_many([ConfigEntry(*ROWS[2])])  # type: ignore[arg-type]
        kv_control.refuse_connections(True)
        try:
            with pytest.raises(BackendUnavailableError):
                await resolver.context("acme").get_config("psa_api_key")
            assert open_now() == before + 1
        finally:
            kv_control.refuse_connections(False)
        resolver.invalidate()
        with pytest.raises(SecretNotFoundError):  # the vault answers again: closed
            await resolver.context("acme").get_config("psa_api_key")
    assert open_now() == before


async def test_audit_records_carry_their_fields_as_log_attributes(
    world: ConfigResolver, reader: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="orgconfig")  # as app_telemetry sets it
    await run_workflow(reader, world.context("acme"), {}, actor=Actor.of("oid-7", "Ana"))
    records = {str((r.log_record.attributes or {}).get("orgconfig.event")): r.log_record
               for r in capture.records()}
    run = records["workflow.run"]
    attributes = dict(run.attributes or {})
    assert attributes["orgconfig.workflow"] == "otel-reader"
    assert attributes["orgconfig.org_id"] == "acme"
    assert attributes["orgconfig.outcome"] == "ok"
    assert attributes["orgconfig.actor"] == "Ana <oid-7>"
    assert attributes["orgconfig.actor_id"] == "oid-7"
    assert json.loads(str(attributes["orgconfig.secrets"])) == [
        {"fetched": 1, "name": "smtp-password", "reads": 1,
         "source": "keyvault:acme--smtp-password"}]
    assert str(run.body).startswith("workflow otel-reader for org acme: ok")
    fetch = dict(records["secret.fetch"].attributes or {})
    assert fetch["orgconfig.backend"] == "keyvault"
    assert fetch["orgconfig.name"] == "acme--smtp-password"
    assert fetch["orgconfig.outcome"] == "found"
    # the trace and the audit meet: the run's record carries the run span's trace id
    [span] = by_name(capture.finished(), "orgconfig.workflow.run")
    assert run.trace_id == span.context.trace_id
    assert capture.leaks({ORG_SECRET, GLOBAL_SECRET}) == []


def test_the_leak_scan_sees_a_value_in_each_signal() -> None:
    """The scan the API suite and the canary rely on finds a planted value anywhere."""
    from opentelemetry import trace

    from shared.core import telemetry
    from shared.core.audit import log_fields

    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("planted-attribute", attributes={"x": "Zx-plant-1"}):
        pass
    with tracer.start_as_current_span("planted-event") as span:
        span.add_event("e", {"y": ["ok", "Zx-plant-2"]})
    logger = logging.getLogger("orgconfig.test")
    logger.setLevel(logging.INFO)
    try:
        logger.info("body Zx-plant-3")
        logger.info("fields", extra=log_fields(note="Zx-plant-4"))
    finally:
        logger.setLevel(logging.NOTSET)
    telemetry.backend_duration.record(0.1, {"orgconfig.operation": "Zx-plant-5"})
    found = capture.leaks({"Zx-plant-1", "Zx-plant-2", "Zx-plant-3", "Zx-plant-4",
                           "Zx-plant-5"})
    assert found == ["log 'body Zx-plant-3'", "log 'fields'",
                     "metric orgconfig.backend.duration", "span planted-attribute",
                     "span planted-event"]

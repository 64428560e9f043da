"""Canary: known secret values driven through every public path must never appear in a
log record, an exception text, a repr, or an output (the one-time echo aside)."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any

import pytest
from azure.keyvault.secrets.aio import SecretClient

from shared.cli.main import run as cli_run
from shared.errors import ConfigError
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tests import telemetry_capture
from tests.cli_io import Pipe, settings_env
from workflows import run_workflow

pytestmark = pytest.mark.integration

CANARIES = {
    "acme--graph-client-secret": "CANARY-acme-graph-7f3a",
    "GLOBAL--psa-api-key": "CANARY-global-psa-91be",
    "acme--smtp-password": "CANARY-acme-smtp-c0de",
}
ENV_CANARY = "CANARY-env-beta-5eed"


def assert_clean(text: str, where: str) -> None:
    for value in (*CANARIES.values(), ENV_CANARY):
        assert value not in text, f"secret value leaked into {where}"


@pytest.fixture
async def world(
    resolver: ConfigResolver, vault: SecretClient, seed: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> ConfigResolver:
    for name, value in CANARIES.items():
        await vault.set_secret(name, value)
    monkeypatch.setenv("BETA__GRAPH_CLIENT_SECRET", ENV_CANARY)
    await seed(
        ("GLOBAL", "graph_client_secret", "graph-client-secret", "secret_ref"),
        ("GLOBAL", "psa_api_key", "psa-api-key", "secret_ref"),
        ("GLOBAL", "smtp_password", "smtp-password", "secret_ref"),
        ("GLOBAL", "graph_tenant_id", "t"), ("GLOBAL", "graph_client_id", "c"),
        ("GLOBAL", "graph_page_size", "10", "int"), ("GLOBAL", "psa_api_url", "https://psa/"),
        ("GLOBAL", "psa_field_mapping", '{"a": "b"}', "json"),
        ("GLOBAL", "smtp_host", "h"), ("GLOBAL", "smtp_username", "u"),
        ("GLOBAL", "report_sender", "s@x"),
        ("GLOBAL", "broken_int", "CANARY-acme-smtp-c0de", "int"),  # a secret typed wrongly
        ("GLOBAL", "dangling", "no-such-secret", "secret_ref"),
    )
    return resolver


async def test_no_public_path_leaks_a_secret(
    world: ConfigResolver, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[tuple[str, str]] = []
    for org in ("acme", "beta", "gamma"):
        ctx = world.context(org)
        texts.append(("context repr", repr(ctx) + repr(world)))
        for key in ("graph_client_secret", "psa_api_key", "smtp_password", "broken_int",
                    "dangling"):
            texts.append(("explain", (await ctx.explain(key)).model_dump_json()))
            try:
                await ctx.get_config(key)
            except ConfigError as exc:
                texts.append(("exception", f"{exc}\n{exc!r}\n{exc.args!r}"))
        for name in ("graph-user-sync", "psa-ticket", "smtp-digest"):
            try:
                texts.append(("workflow result", repr(await run_workflow(name, ctx, {}))))
            except ConfigError as exc:
                texts.append(("workflow error", f"{exc}\n{exc!r}"))
        try:
            await ctx.get_configs("graph_client_secret", "broken_int")
        except ConfigError as exc:
            texts.append(("get_configs error", repr(exc)))
    texts.append(("cache repr", repr(world.secret_store.cache.peek("acme--smtp-password"))))
    env = {**settings_env(settings), "BETA__GRAPH_CLIENT_SECRET": ENV_CANARY}
    for argv in (["get", "acme", "smtp_password", "--explain"],
                 ["get", "beta", "graph_client_secret", "--explain"],
                 ["get", "acme", "broken_int"], ["list", "GLOBAL"], ["doctor"],
                 ["get", "GLOBAL", "smtp_password", "--explain"],
                 ["secret", "list", "--scope", "acme"], ["secret", "list"],
                 ["secret", "versions", "acme", "smtp-password"]):
        out = io.StringIO()
        await cli_run(argv, out=out, stdin=Pipe(""), env=env, err=out)
        texts.append((f"cli {argv}", out.getvalue()))
    out = io.StringIO()
    await cli_run(["secret", "set", "acme", "smtp-password"], out=out, err=out,
                  stdin=Pipe("CANARY-acme-smtp-c0de"), env=env)
    texts.append(("cli secret set", out.getvalue()))
    for where, text in texts:
        assert_clean(text, where)
    for record in caplog.records:
        assert_clean(record.getMessage() + repr(record.__dict__), f"log {record.name}")
    assert len(caplog.records) > 20  # the paths above did log: the scan saw them
    # every OpenTelemetry signal of those paths: spans (attributes, events, statuses, the
    # Azure SDK's HTTP spans), log records (bodies, attributes), metric attributes
    assert len(telemetry_capture.finished()) > 50 and telemetry_capture.records()
    assert telemetry_capture.leaks({*CANARIES.values(), ENV_CANARY}) == []

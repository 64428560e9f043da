"""The workflow registry, executor and example workflows over real stores."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from azure.keyvault.secrets.aio import SecretClient
from pydantic import BaseModel, Field

from shared.context import OrganizationContext
from shared.errors import ConfigNotReadyError, ConfigValueError
from shared.resolver import ConfigResolver
from workflows import (
    InvalidParamsError,
    UnknownWorkflowError,
    get_workflow,
    list_workflows,
    params_model,
    run_workflow,
    workflow,
)
from workflows.examples import SmtpDigestParams
from workflows.registry import unregister

pytestmark = pytest.mark.integration
Seed = Callable[..., Any]


def test_examples_are_registered() -> None:
    assert {"graph-user-sync", "psa-ticket", "smtp-digest"} <= set(list_workflows())


def test_unknown_workflow_names_the_known_ones() -> None:
    with pytest.raises(UnknownWorkflowError) as info:
        get_workflow("nope")
    assert isinstance(info.value, KeyError) and "psa-ticket" in str(info.value)


def test_duplicate_and_invalid_registrations_are_refused() -> None:
    with pytest.raises(ValueError):
        workflow("psa-ticket")(lambda c, p: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError):
        workflow("bad name")


class Greeting(BaseModel):
    name: str = Field(max_length=5)


@pytest.fixture
def greeting_workflow() -> Any:
    calls: list[object] = []

    async def greet(context: OrganizationContext, params: Greeting) -> dict[str, Any]:
        calls.append(params)
        return {"hello": params.name}

    workflow("test-greeting", params=Greeting)(greet)
    yield calls
    unregister("test-greeting")


async def test_declared_params_arrive_validated_as_the_model(
    resolver: ConfigResolver, greeting_workflow: list[object]
) -> None:
    assert params_model("test-greeting") is Greeting
    result = await run_workflow("test-greeting", resolver.context("acme"), {"name": "ada"})
    assert result == {"hello": "ada"} and greeting_workflow == [Greeting(name="ada")]


async def test_params_outside_the_model_never_reach_the_workflow(
    resolver: ConfigResolver, greeting_workflow: list[object]
) -> None:
    with pytest.raises(InvalidParamsError) as info:
        await run_workflow("test-greeting", resolver.context("acme"), {"name": "Zx-too-long"})
    assert greeting_workflow == []
    assert "Zx-too-long" not in str(info.value)


def test_the_example_workflows_declare_their_params() -> None:
    assert params_model("smtp-digest") is SmtpDigestParams
    assert all(params_model(n) is not None
               for n in ("graph-user-sync", "psa-ticket", "smtp-digest"))


@pytest.fixture
async def graph_org(seed: Seed, vault: SecretClient) -> None:
    await seed(("acme", "graph_tenant_id", "tenant-1"), ("acme", "graph_client_id", "client-1"),
               ("acme", "graph_client_secret", "graph-client-secret", "secret_ref"),
               ("GLOBAL", "graph_page_size", "2", "int"))
    await vault.set_secret("acme--graph-client-secret", "Zx-graph-canary")


@pytest.mark.usefixtures("graph_org")
async def test_graph_user_sync_reads_its_org_config(resolver: ConfigResolver) -> None:
    users = [{"id": "1"}, {"id": "2", "accountEnabled": False}, {"id": "3"}]
    result = await run_workflow("graph-user-sync", resolver.context("acme"), {"users": users})
    assert result["token_request"]["url"].endswith("/tenant-1/oauth2/v2.0/token")
    assert (result["pages"], result["users_synced"], result["client_secret"]) == (2, 2, "present")
    assert "Zx-graph-canary" not in json.dumps(result)


@pytest.mark.usefixtures("graph_org")
async def test_a_workflow_for_another_org_cannot_use_acmes_secret(
    resolver: ConfigResolver, seed: Seed
) -> None:
    await seed(("beta", "graph_tenant_id", "t"), ("beta", "graph_client_id", "c"),
               ("beta", "graph_client_secret", "graph-client-secret", "secret_ref"))
    with pytest.raises(ConfigNotReadyError) as info:
        await run_workflow("graph-user-sync", resolver.context("beta"), {})
    assert [(p.key, p.problem) for p in info.value.problems] == [
        ("graph_client_secret", "secret_missing")]


async def test_psa_ticket_maps_alert_fields(
    resolver: ConfigResolver, seed: Seed, vault: SecretClient
) -> None:
    await seed(("GLOBAL", "psa_api_url", "https://psa.example/api/"),
               ("GLOBAL", "psa_api_key", "psa-api-key", "secret_ref"),
               ("GLOBAL", "psa_field_mapping", '{"title": "summary", "sev": "priority"}', "json"))
    await vault.set_secret("GLOBAL--psa-api-key", "Zx-psa-canary")
    result = await run_workflow("psa-ticket", resolver.context("acme"),
                                {"alert": {"title": "Disk full", "sev": 1, "other": "x"}})
    request = result["request"]
    assert request["url"] == "https://psa.example/api/tickets"
    assert request["json"] == {"summary": "Disk full", "priority": 1}
    assert "Zx-psa-canary" not in json.dumps(result)


async def test_smtp_digest_loads_a_model(
    resolver: ConfigResolver, seed: Seed, vault: SecretClient
) -> None:
    await seed(("GLOBAL", "smtp_host", "smtp.example"), ("acme", "smtp_username", "u@acme"),
               ("GLOBAL", "smtp_password", "smtp-password", "secret_ref"),
               ("GLOBAL", "report_sender", "r@example.com"))
    await vault.set_secret("GLOBAL--smtp-password", "Zx-smtp-canary")
    result = await run_workflow("smtp-digest", resolver.context("acme"),
                                {"recipients": ["a@b.c"], "events": [1]})
    assert (result["server"], result["login"], result["password"]) == (
        "smtp.example:587", "u@acme", "present")
    assert "Zx-smtp-canary" not in json.dumps(result)


def test_demo_runs_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from tools import demo

    assert asyncio.run(demo.main()) == 0
    out = capsys.readouterr().out
    assert "env:FABRIKAM__GRAPH_CLIENT_SECRET" in out and "keyvault:GLOBAL--psa-api-key" in out
    assert "table queries 0, vault GETs 0" in out  # the warm passes
    assert "(of which not-found 0), vault listings 0" in out  # the secret catalog answers
    assert "demo-" not in out  # no secret value of the seed is printed


@pytest.mark.parametrize(("value", "kind"), [
    ("Zx-not-a-mapping", "string"), ('{"a": [1]}', "json"), ("[1, 2]", "json"),
])
async def test_psa_ticket_with_a_malformed_mapping_is_a_config_value_error(
    resolver: ConfigResolver, seed: Seed, vault: SecretClient, value: str, kind: str
) -> None:
    await seed(("GLOBAL", "psa_api_url", "https://psa.example/api/"),
               ("GLOBAL", "psa_api_key", "psa-api-key", "secret_ref"),
               ("GLOBAL", "psa_field_mapping", value, kind))
    await vault.set_secret("GLOBAL--psa-api-key", "Zx-psa-canary")
    with pytest.raises(ConfigValueError) as info:
        await run_workflow("psa-ticket", resolver.context("acme"), {"alert": {"a": 1}})
    assert "Zx" not in str(info.value)


@pytest.mark.parametrize(("value", "kind"), [("0", "int"), ("true", "bool"), ("[]", "json"),
                                             ("ten", "string")])
@pytest.mark.usefixtures("graph_org")
async def test_graph_user_sync_with_a_bad_page_size_is_a_config_value_error(
    resolver: ConfigResolver, seed: Seed, value: str, kind: str
) -> None:
    await seed(("acme", "graph_page_size", value, kind))
    with pytest.raises(ConfigValueError):
        await run_workflow("graph-user-sync", resolver.context("acme"), {})

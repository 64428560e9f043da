"""Running workflows over HTTP: the org's context, params, and value-free failures."""

from __future__ import annotations

import pytest

from tests.api.conftest import ACME_MEMBER, Api, Table, Vault

pytestmark = pytest.mark.integration


def run(name: str, org: str = "acme") -> dict[str, str]:
    return {"org": org, "name": name}


async def test_a_workflow_gets_its_orgs_context_and_the_params(api: Api) -> None:
    response = await api.call("workflow_run", route=run("api-test-echo", "ACME"),
                              json_body={"n": 1, "tags": ["a"]})
    assert response.status == 200
    assert response.json() == {"workflow": "api-test-echo", "org_id": "acme",
                               "result": {"org": "acme", "params": {"n": 1, "tags": ["a"]}}}


async def test_an_empty_body_means_no_params(api: Api) -> None:
    response = await api.call("workflow_run", route=run("api-test-echo"), body=b"")
    assert response.status == 200 and response.json()["result"]["params"] == {}


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"null", b"{not json", b"\xff"])
async def test_params_must_be_a_json_object(api: Api, body: bytes) -> None:
    response = await api.call("workflow_run", route=run("api-test-echo"), body=body)
    assert response.status == 400


async def test_an_unknown_workflow_is_404(api: Api) -> None:
    response = await api.call("workflow_run", route=run("no-such-workflow"), json_body={})
    assert (response.status, response.error) == (404, "workflow_not_found")
    assert "api-test-echo" in response.json()["known"]


async def test_the_example_workflows_are_registered(api: Api) -> None:
    response = await api.call("workflow_run", route=run("no-such-workflow"), json_body={})
    assert {"graph-user-sync", "psa-ticket", "smtp-digest"} <= set(response.json()["known"])


async def test_global_is_not_an_org_to_run_for(api: Api) -> None:
    response = await api.call("workflow_run", route=run("api-test-echo", "GLOBAL"), json_body={})
    assert (response.status, response.error) == (400, "invalid_name")


async def test_a_member_reads_org_config_over_global(api: Api, table: Table, vault: Vault) -> None:
    await table.seed(("GLOBAL", "pwd", "smtp-password", "secret_ref"))
    await vault.set("acme--smtp-password", "Zx-workflow-secret")
    response = await api.call("workflow_run", route=run("api-test-read"),
                              json_body={"key": "pwd"}, principal=ACME_MEMBER)
    assert response.status == 200
    assert response.json()["result"] == {"type": "str", "length": len("Zx-workflow-secret")}


async def test_missing_config_is_424_naming_the_key(api: Api) -> None:
    response = await api.call("workflow_run", route=run("api-test-read"),
                              json_body={"key": "smtp_host"})
    assert (response.status, response.error) == (424, "config_not_found")
    assert "smtp_host" in response.json()["message"]


async def test_declared_config_that_does_not_fit_is_424_with_structured_problems(
    api: Api, table: Table
) -> None:
    await table.seed(("acme", "smtp_port", "Zx-port-canary"),
                     ("acme", "smtp_username", "digest"),
                     ("acme", "smtp_password", "smtp-password", "secret_ref"))
    response = await api.call("workflow_run", route=run("smtp-digest"), json_body={})
    assert (response.status, response.error) == (424, "config_not_ready")
    problems = {p["key"]: (p["problem"], p["expected_type"], p["secret"])
                for p in response.json()["problems"]}
    assert problems == {
        "smtp_host": ("missing", "string", None),
        "smtp_port": ("wrong_type", "int", None),
        "smtp_password": ("secret_missing", "secret_ref", "smtp-password"),
        "report_sender": ("missing", "string", None),
    }
    assert all(p["message"] for p in response.json()["problems"])
    assert "Zx-port-canary" not in response.text


async def test_a_dangling_secret_ref_is_424_listing_the_names_tried(
    api: Api, table: Table
) -> None:
    await table.seed(("acme", "pwd", "smtp-password", "secret_ref"))
    response = await api.call("workflow_run", route=run("api-test-read"),
                              json_body={"key": "pwd"})
    assert (response.status, response.error) == (424, "secret_not_found")
    assert "keyvault:acme--smtp-password" in response.json()["message"]


async def test_a_stored_value_of_the_wrong_type_is_424_without_the_value(
    api: Api, table: Table
) -> None:
    await table.seed(("acme", "port", "Zx-not-a-port", "int"))
    api.remember("Zx-not-a-port")
    response = await api.call("workflow_run", route=run("api-test-read"),
                              json_body={"key": "port"})
    assert (response.status, response.error) == (424, "invalid_value")


async def test_a_secret_the_vault_refuses_is_502(api: Api, table: Table, vault: Vault) -> None:
    await table.seed(("acme", "pwd", "smtp-password", "secret_ref"))
    await vault.set("acme--smtp-password", "Zx-disabled")
    await vault.client.update_secret_properties("acme--smtp-password", enabled=False)
    response = await api.call("workflow_run", route=run("api-test-read"),
                              json_body={"key": "pwd"})
    assert (response.status, response.error) == (502, "secret_access_denied")


async def test_a_crashing_workflow_is_500_without_its_exception_text(api: Api) -> None:
    response = await api.call("workflow_run", route=run("api-test-crash"),
                              json_body={"token": "Zx-crash"})
    assert (response.status, response.error) == (500, "internal_error")
    assert "crash-canary" not in response.text


async def test_a_result_that_is_not_json_is_500_workflow_failed(api: Api) -> None:
    response = await api.call("workflow_run", route=run("api-test-bad-result"), json_body={})
    assert (response.status, response.error) == (500, "workflow_failed")


def digest(recipients: object) -> dict[str, object]:
    return {"recipients": recipients, "events": [1]}


@pytest.mark.parametrize("params", [
    digest(["a" * 80_000 + "@example.com"]), digest(["(" * 5_000 + "a@example.com"]),
    digest(['"' * 20_000]), digest(["x@example.com"] * 51), digest("x@example.com"),
    digest([5]), {"recipients": [], "unknown": 1}, {"events": "many"},
])
async def test_smtp_digest_params_outside_their_bounds_are_400_before_any_work(
    api: Api, params: dict[str, object]
) -> None:
    # No config is seeded: had the workflow started, reading smtp_* would answer 424.
    response = await api.call("workflow_run", route=run("smtp-digest"), json_body=params,
                              principal=ACME_MEMBER)
    assert (response.status, response.error) == (400, "invalid_params"), response.text
    assert response.json()["details"]
    assert "(((" not in response.text and "aaaa" not in response.text


async def test_workflow_param_errors_locate_the_problem_without_the_input(api: Api) -> None:
    response = await api.call("workflow_run", route=run("smtp-digest"),
                              json_body=digest(["ok@example.com", "Zx-not-an-address"]))
    assert response.json()["details"][0]["loc"] == ["recipients", "1"]
    assert "Zx-not-an-address" not in response.text


async def test_each_example_workflow_rejects_unknown_params(api: Api) -> None:
    for name in ("graph-user-sync", "psa-ticket", "smtp-digest"):
        response = await api.call("workflow_run", route=run(name), json_body={"typo": 1})
        assert (response.status, response.error) == (400, "invalid_params"), name


@pytest.mark.parametrize("body", [b" ", b"\n", b"\t \r\n"])
async def test_a_body_of_only_whitespace_is_not_json(api: Api, body: bytes) -> None:
    response = await api.call("workflow_run", route=run("api-test-echo"), body=body,
                              headers={"Content-Type": "application/json"})
    assert (response.status, response.error) == (400, "invalid_json")

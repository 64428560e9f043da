"""Declared config and readiness over the API: the 424 of a workflow whose declared config
does not fit, ``GET orgs/{org}/readiness`` per problem kind (with the secret catalog on, and
off: the vault's metadata), no vault GET for readiness, the paged fleet view, and the
warnings of a config write that breaks a declared constraint. Never a value in an answer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field, SecretStr

from shared.admin.catalog_sync import SecretCatalog
from shared.context import OrganizationContext
from shared.resolver import ConfigResolver
from tests.api.conftest import ACME_MEMBER, Api, Table, Vault
from tools.keyvault_emulator.control import EmulatorControl
from workflows import registry

pytestmark = pytest.mark.integration

WF = "api-test-declared"


class DeclaredConfig(BaseModel):
    rt_host: str = Field(min_length=3, max_length=50)
    rt_port: int = Field(ge=1, le=65535)
    rt_mode: Literal["fast", "slow"] = "fast"
    rt_secret: SecretStr


RUNS: list[DeclaredConfig] = []


async def _declared(context: OrganizationContext, params: dict[str, Any],
                    config: DeclaredConfig) -> dict[str, Any]:
    RUNS.append(config)
    return {"host": config.rt_host, "port": config.rt_port, "mode": config.rt_mode,
            "secret": "present" if config.rt_secret.get_secret_value() else "missing"}


@pytest.fixture(autouse=True)
def declared_workflow() -> Iterator[None]:
    RUNS.clear()
    registry.workflow(WF, config=DeclaredConfig)(_declared)
    yield
    registry.unregister(WF)


GOOD = (("GLOBAL", "rt_host", "mail.example"), ("acme", "rt_port", "587", "int"),
        ("acme", "rt_secret", "rt-secret", "secret_ref"))


async def mine(api: Api, org: str = "acme") -> dict[str, Any]:
    response = await api.call("org_readiness", route={"org": org})
    assert response.status == 200, response.text
    body = response.json()
    assert body["org"] == org
    (found,) = [w for w in body["workflows"] if w["name"] == WF]
    return found


def kinds(found: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["key"], p["problem"]) for p in found["problems"]]


def fields(found: dict[str, Any]) -> dict[str, tuple[str | None, str | None]]:
    """Each problem's structured fields by key: (expected_type, secret)."""
    assert all(set(p) == {"key", "problem", "message", "expected_type", "secret"}
               for p in found["problems"])
    return {p["key"]: (p["expected_type"], p["secret"]) for p in found["problems"]}


@pytest.fixture(params=["catalog", "vault-metadata"])
def mode(request: pytest.FixtureRequest) -> str:
    """Secret presence from the catalog (reconciled), or the vault's metadata (no catalog)."""
    return str(request.param)


async def prepare(mode: str, resolver: ConfigResolver) -> None:
    if mode == "catalog":
        await SecretCatalog(resolver).reconcile()
        resolver.invalidate()


# -- the run --------------------------------------------------------------------------------------
async def test_a_ready_org_runs_with_the_config_model(
    api: Api, table: Table, vault: Vault
) -> None:
    await table.seed(*GOOD)
    await vault.set("acme--rt-secret", "Zx-declared-secret")
    response = await api.call("workflow_run", route={"org": "acme", "name": WF}, json_body={})
    assert response.status == 200, response.text
    assert response.json()["result"] == {"host": "mail.example", "port": 587, "mode": "fast",
                                         "secret": "present"}
    assert len(RUNS) == 1 and isinstance(RUNS[0], DeclaredConfig)


async def test_config_that_does_not_fit_is_424_with_every_problem_and_no_value(
    api: Api, table: Table
) -> None:
    await table.seed(("acme", "rt_host", "Zx"), ("acme", "rt_port", "Zx-port-canary"),
                     ("acme", "rt_mode", "Zx-mode-canary"),
                     ("acme", "rt_secret", "rt-secret", "secret_ref"))
    response = await api.call("workflow_run", route={"org": "acme", "name": WF}, json_body={},
                              principal=ACME_MEMBER)
    assert (response.status, response.error) == (424, "config_not_ready")
    assert sorted(kinds(response.json())) == [
        ("rt_host", "invalid"), ("rt_mode", "invalid"), ("rt_port", "wrong_type"),
        ("rt_secret", "secret_missing")]
    assert fields(response.json()) == {
        "rt_host": ("string", None), "rt_mode": ("string", None), "rt_port": ("int", None),
        "rt_secret": ("secret_ref", "rt-secret")}
    assert "Zx-" not in response.text.replace("Zx\"", "")  # no stored value is repeated
    assert "Zx-port-canary" not in response.text and "Zx-mode-canary" not in response.text
    assert RUNS == []  # the workflow never started


async def test_a_missing_key_is_424_missing(api: Api, table: Table, vault: Vault) -> None:
    await table.seed(*GOOD[1:])
    await vault.set("acme--rt-secret", "Zx-declared-secret")
    response = await api.call("workflow_run", route={"org": "acme", "name": WF}, json_body={})
    assert (response.status, response.error) == (424, "config_not_ready")
    assert kinds(response.json()) == [("rt_host", "missing")]
    assert fields(response.json()) == {"rt_host": ("string", None)}
    assert RUNS == []


@pytest.mark.parametrize(("state", "policy", "status"), [
    ("secret_disabled", "serve", 424), ("secret_expired", "refuse", 424),
    ("secret_expired", "serve", 200),
])
async def test_a_disabled_or_refused_expired_secret_is_424_before_the_run(
    api: Api, api_env: Any, table: Table, vault: Vault, state: str, policy: str, status: int,
) -> None:
    api_env(SECRET_EXPIRED_POLICY=policy)
    await table.seed(*GOOD)
    await vault.set("acme--rt-secret", "Zx-declared-secret")
    if state == "secret_disabled":
        await vault.client.update_secret_properties("acme--rt-secret", enabled=False)
    else:
        await vault.client.update_secret_properties(
            "acme--rt-secret", expires_on=datetime.now(UTC) - timedelta(days=1))
    response = await api.call("workflow_run", route={"org": "acme", "name": WF}, json_body={})
    assert response.status == status, response.text
    if status == 424:
        assert kinds(response.json()) == [("rt_secret", state)] and RUNS == []
        assert fields(response.json()) == {"rt_secret": ("secret_ref", "rt-secret")}
    # readiness reports it either way: an expired secret is a problem to fix
    found = await mine(api)
    assert kinds(found) == [("rt_secret", state)]
    assert fields(found) == {"rt_secret": ("secret_ref", "rt-secret")}


# -- readiness per problem kind --------------------------------------------------------------
async def test_a_ready_org_is_ready(
    api: Api, table: Table, vault: Vault, resolver: ConfigResolver, mode: str
) -> None:
    await table.seed(*GOOD)
    await vault.set("GLOBAL--rt-secret", "Zx-declared-secret")
    await prepare(mode, resolver)
    assert await mine(api) == {"name": WF, "ready": True, "problems": []}


@pytest.mark.parametrize(("rows", "expected", "expected_type"), [
    ((GOOD[1], GOOD[2]), [("rt_host", "missing")], "string"),
    ((*GOOD, ("acme", "rt_port", "Zx-port-canary")), [("rt_port", "wrong_type")], "int"),
    ((*GOOD, ("acme", "rt_port", "2.5", "float")), [("rt_port", "wrong_type")], "int"),
    ((*GOOD, ("acme", "rt_port", "Zx-not-int", "int")), [("rt_port", "wrong_type")], "int"),
    ((*GOOD, ("acme", "rt_host", "rt-secret", "secret_ref")), [("rt_host", "wrong_type")],
     "string"),
    ((*GOOD, ("acme", "rt_secret", "Zx-plain-canary")), [("rt_secret", "wrong_type")],
     "secret_ref"),
    ((*GOOD, ("acme", "rt_port", "70000", "int")), [("rt_port", "invalid")], "int"),
    ((*GOOD, ("acme", "rt_mode", "Zx-mode-canary")), [("rt_mode", "invalid")], "string"),
    ((*GOOD, ("acme", "rt_host", "Zx")), [("rt_host", "invalid")], "string"),
], ids=["missing", "string-for-int", "float-for-int", "unparsable-int", "secret-for-plain",
        "plain-for-secret", "out-of-range", "not-a-literal", "too-short"])
async def test_readiness_names_each_problem_of_the_entries(
    api: Api, table: Table, vault: Vault, resolver: ConfigResolver, mode: str,
    rows: tuple[tuple[str, ...], ...], expected: list[tuple[str, str]], expected_type: str,
) -> None:
    await table.seed(*rows)
    await vault.set("acme--rt-secret", "Zx-declared-secret")
    await prepare(mode, resolver)
    found = await mine(api)
    assert (found["ready"], kinds(found)) == (False, expected)
    # the type to store, and no secret name: none of these is a secret_* problem
    assert fields(found) == {expected[0][0]: (expected_type, None)}
    shown = str(found)
    assert "Zx-port-canary" not in shown and "Zx-mode-canary" not in shown
    assert "Zx-not-int" not in shown and "Zx-plain-canary" not in shown


@pytest.mark.parametrize("state", ["secret_missing", "secret_disabled", "secret_expired"])
async def test_readiness_names_each_problem_of_the_secret(
    api: Api, table: Table, vault: Vault, resolver: ConfigResolver, mode: str, state: str,
) -> None:
    await table.seed(*GOOD)
    if state != "secret_missing":
        await vault.set("acme--rt-secret", "Zx-declared-secret")
    if state == "secret_disabled":
        await vault.client.update_secret_properties("acme--rt-secret", enabled=False)
    if state == "secret_expired":
        await vault.client.update_secret_properties(
            "acme--rt-secret", expires_on=datetime.now(UTC) - timedelta(days=1))
    if state != "secret_missing":
        # GLOBAL's secret of that name is not used: the org's own, found first, decides
        await vault.set("GLOBAL--rt-secret", "Zx-global-secret")
    await prepare(mode, resolver)
    found = await mine(api)
    assert (found["ready"], kinds(found)) == (False, [("rt_secret", state)])
    assert "rt-secret" in found["problems"][0]["message"]
    assert fields(found) == {"rt_secret": ("secret_ref", "rt-secret")}


async def test_an_env_secret_makes_the_key_ready(
    api: Api, api_env: Any, table: Table
) -> None:
    api_env(ACME__RT_SECRET="Zx-env-secret")
    api.remember("Zx-env-secret")
    await table.seed(*GOOD)
    assert (await mine(api))["ready"] is True


# -- no vault GET ------------------------------------------------------------------------------
async def test_readiness_reads_no_secret_value(
    api: Api, table: Table, vault: Vault, resolver: ConfigResolver, kv_control: EmulatorControl,
    mode: str,
) -> None:
    await table.seed(*GOOD, ("contoso", "rt_secret", "rt-secret", "secret_ref"),
                     ("GLOBAL", "rt_port", "25", "int"))
    await vault.set("acme--rt-secret", "Zx-declared-secret")
    await vault.set("GLOBAL--rt-secret", "Zx-global-secret")
    await prepare(mode, resolver)
    kv_control.reset_counters()
    assert (await mine(api, "acme"))["ready"] and (await mine(api, "contoso"))["ready"]
    fleet = await api.call("fleet_readiness")
    assert fleet.status == 200
    assert kv_control.count("get_secret") == 0
    # a run of the same workflow does read it: the counter counts
    assert (await api.call("workflow_run", route={"org": "acme", "name": WF},
                           json_body={})).status == 200
    assert kv_control.count("get_secret") == 1


# -- the fleet view ---------------------------------------------------------------------------
async def test_the_fleet_view_pages_through_the_orgs(
    api: Api, table: Table, vault: Vault
) -> None:
    orgs = [f"org{i:02d}" for i in range(7)]
    await table.seed(("GLOBAL", "rt_host", "mail.example"),
                     ("GLOBAL", "rt_secret", "rt-secret", "secret_ref"),
                     *[(org, "rt_port", str(100 + i), "int") for i, org in enumerate(orgs[:5])],
                     *[(org, "rt_host", "ab") for org in orgs[5:]])
    await vault.set("GLOBAL--rt-secret", "Zx-global-secret")
    seen: list[dict[str, Any]] = []
    after: str | None = None
    pages = 0
    while True:
        query = {"limit": "3", **({"after": after} if after else {})}
        response = await api.call("fleet_readiness", query=query)
        assert response.status == 200, response.text
        body = response.json()
        assert WF in body["workflows"] and len(body["orgs"]) <= 3
        seen += body["orgs"]
        pages += 1
        after = body["next"]
        if after is None:
            break
    assert pages == 3 and [o["org"] for o in seen] == orgs  # GLOBAL is not an org
    for org in seen:
        (mine_,) = [w for w in org["workflows"] if w["name"] == WF]
        assert org["ready"] + org["not_ready"] == len(org["workflows"])
        if org["org"] in orgs[:5]:
            assert mine_["ready"] is True
        else:
            assert sorted(kinds(mine_)) == [("rt_host", "invalid"), ("rt_port", "missing")]
            assert org["not_ready"] >= 1


async def test_the_fleet_view_of_an_empty_table_and_bad_paging(api: Api) -> None:
    response = await api.call("fleet_readiness")
    assert response.status == 200 and response.json()["orgs"] == []
    assert response.json()["next"] is None
    for query in ({"limit": "0"}, {"limit": "201"}, {"limit": "x"}, {"after": "not valid!"}):
        response = await api.call("fleet_readiness", query=query)
        assert response.status == 400, query


async def test_readiness_is_for_admins_and_orgs_only(api: Api) -> None:
    response = await api.call("org_readiness", route={"org": "acme"}, principal=ACME_MEMBER)
    assert response.status == 403
    assert (await api.call("fleet_readiness", principal=ACME_MEMBER)).status == 403
    response = await api.call("org_readiness", route={"org": "GLOBAL"})
    assert (response.status, response.error) == (400, "invalid_name")


# -- write warnings ----------------------------------------------------------------------------
async def test_a_write_that_breaks_a_declared_constraint_is_saved_with_a_warning(
    api: Api,
) -> None:
    route = {"org": "acme", "key": "rt_port"}
    response = await api.call("config_put", route=route,
                              json_body={"type": "int", "value": "70000"})
    assert response.status == 200
    (warning,) = response.json()["warnings"]
    assert WF in warning and "rt_port" in warning and "(invalid)" in warning
    assert "70000" not in warning
    response = await api.call("config_put", route=route,
                              json_body={"type": "string", "value": "Zx-port-text"})
    (warning,) = response.json()["warnings"]
    assert "(wrong_type)" in warning and "Zx-port-text" not in warning
    response = await api.call("config_put", route=route,
                              json_body={"type": "int", "value": "587"})
    assert response.json()["warnings"] == []
    # a key no workflow declares: no warning
    response = await api.call("config_put", route={"org": "acme", "key": "free_key"},
                              json_body={"type": "string", "value": "anything"})
    assert response.json()["warnings"] == []

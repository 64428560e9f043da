"""The org registry (DESIGN "Organizations"): register, list, rename, suspend; unknown orgs
refused everywhere once it is on; upgrading breaks nothing."""

from __future__ import annotations

import io
from typing import Any

import pytest

from shared.backends.org_registry import PARTITION
from shared.cli.main import run as cli_run
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tests.api.conftest import Api, Table, snapshot_reload

pytestmark = pytest.mark.integration


def run(name: str, org: str = "acme") -> dict[str, str]:
    return {"org": org, "name": name}


async def register(api: Api, org_id: str, name: str | None = None) -> Any:
    body = {"id": org_id, **({"display_name": name} if name else {})}
    return await api.call("orgs_create", json_body=body)


async def test_before_the_first_registration_every_org_is_known(api: Api) -> None:
    listed = await api.call("orgs_list")
    assert listed.json()["registry"] == "off" and listed.json()["orgs"] == []
    put = await api.call("config_put", route={"org": "anything", "key": "k"},
                         json_body={"value": "v"})
    assert put.status == 200


async def test_the_first_registration_adopts_every_org_with_data(api: Api, table: Table) -> None:
    await table.seed(("beta", "k", "v"), ("GLOBAL", "g", "1"))
    created = await register(api, "Acme", "Acme Corp")
    assert created.status == 201
    assert created.json()["id"] == "acme" and created.json()["display_name"] == "Acme Corp"
    assert created.json()["status"] == "active" and created.json()["created_by"]
    listed = (await api.call("orgs_list")).json()
    assert listed["registry"] == "on"
    assert [o["id"] for o in listed["orgs"]] == ["acme", "beta"]  # beta had entries
    assert (await api.call("config_get", route={"org": "beta", "key": "k"})).status == 200


async def test_the_first_registration_of_an_org_that_has_data_creates_it_as_asked(
    api: Api, table: Table
) -> None:
    # the requested org is created by the request (its display name as given), not adopted
    # first and then refused as 409 org_exists; the other orgs with data are still adopted
    await table.seed(("acme", "k", "v"), ("beta", "k", "v"))
    created = await register(api, "ACME", "Acme Corp")
    assert created.status == 201, created.json()
    assert created.json()["id"] == "acme" and created.json()["display_name"] == "Acme Corp"
    listed = (await api.call("orgs_list")).json()
    assert listed["registry"] == "on"
    assert [o["id"] for o in listed["orgs"]] == ["acme", "beta"]
    again = await register(api, "acme")
    assert again.status == 409 and again.error == "org_exists"


async def test_registering_twice_global_or_a_bad_id_is_a_clear_4xx(api: Api) -> None:
    assert (await register(api, "acme")).status == 201
    again = await register(api, "ACME")
    assert again.status == 409 and again.error == "org_exists"
    assert (await register(api, "global")).status == 400
    assert (await register(api, "Bad Org!")).status == 400


async def test_an_unknown_org_is_refused_everywhere_naming_close_matches(api: Api) -> None:
    await register(api, "acme")
    checks = [
        await api.call("config_list", route={"org": "acmee"}),
        await api.call("config_get", route={"org": "acmee", "key": "smtp_host"}),
        await api.call("config_put", route={"org": "acmee", "key": "k"},
                       json_body={"value": "v"}),
        await api.call("config_history", route={"org": "acmee", "key": "k"}),
        await api.call("orgs_effective", route={"org": "acmee"}),
        await api.call("secrets_list", query={"scope": "acmee"}),
        await api.call("secrets_create", json_body={"scope": "acmee", "name": "x",
                                                    "value": "never-stored-secret-4711"}),
        await api.call("workflow_run", route=run("api-test-echo", "acmee"), json_body={}),
    ]
    assert [c.status for c in checks] == [404] * len(checks)
    assert {c.error for c in checks} == {"unknown_org"}
    assert checks[0].json()["close_matches"] == ["acme"]
    assert "acme" in checks[0].json()["message"]
    assert (await api.call("config_list", route={"org": "GLOBAL"})).status == 200


async def test_a_suspended_org_keeps_its_data_and_its_runs_answer_409(api: Api) -> None:
    await register(api, "acme")
    await api.call("config_put", route={"org": "acme", "key": "k"}, json_body={"value": "v"})
    assert (await api.call("workflow_run", route=run("api-test-echo"),
                           json_body={})).status == 200
    suspended = await api.call("orgs_update", route={"org": "acme"},
                               json_body={"status": "suspended"})
    assert suspended.status == 200 and suspended.json()["status"] == "suspended"
    refused = await api.call("workflow_run", route=run("api-test-echo"), json_body={})
    assert refused.status == 409 and refused.error == "org_suspended"
    assert (await api.call("config_get", route={"org": "acme", "key": "k"})).status == 200
    back = await api.call("orgs_update", route={"org": "acme"},
                          json_body={"status": "active", "display_name": "Acme Ltd"})
    assert back.json()["display_name"] == "Acme Ltd"
    assert (await api.call("workflow_run", route=run("api-test-echo"),
                           json_body={})).status == 200


async def test_updates_of_unknown_orgs_or_with_nothing_to_change_are_4xx(
    api: Api, stores_unchanged: None,
) -> None:
    assert (await api.call("orgs_update", route={"org": "nosuch"},
                           json_body={"status": "active"})).status == 404
    assert (await api.call("orgs_create", json_body={"id": "x", "display_name": "\u0007"})
            ).status == 400


async def test_the_cli_refuses_an_unknown_org_and_manages_the_registry(
    api: Api, settings: Settings,
) -> None:
    env = {"CONFIG_STORAGE_CONNECTION": settings.storage_connection or "",
           "CONFIG_TABLE_NAME": settings.table_name}

    async def cli(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = await cli_run(list(argv), out=out, err=err, env=env)
        return code, out.getvalue(), err.getvalue()

    assert (await cli("orgs", "add", "acme", "--name", "Acme Corp"))[0] == 0
    code, out, err = await cli("get", "acmee", "smtp_host")
    assert code == 2 and "no org 'acmee' is registered" in err and "acme" in err
    assert (await cli("list", "nosuchorg"))[0] == 2
    assert (await cli("orgs", "suspend", "acme"))[0] == 0
    code, out, _ = await cli("orgs", "list")
    assert code == 0 and "acme" in out and "suspended" in out and "Acme Corp" in out
    assert (await cli("orgs", "resume", "acme"))[0] == 0
    assert (await cli("orgs", "rename", "acme", "Acme Ltd"))[0] == 0
    assert "Acme Ltd" in (await cli("orgs", "list"))[1]
    assert (await cli("orgs", "add", "acme"))[0] == 2  # registered already


async def test_registry_rows_add_nothing_to_a_snapshot_reload(
    api: Api, settings: Settings, resolver: ConfigResolver,
) -> None:
    await register(api, "acme")
    await api.call("config_put", route={"org": "acme", "key": "k"}, json_body={"value": "v"})

    async def reload_bytes(scope: str) -> int:
        return (await snapshot_reload(settings, resolver.settings.table_name, scope))[0]

    before = (await reload_bytes("acme"), await reload_bytes("GLOBAL"))
    rows = [("create", {"PartitionKey": PARTITION, "RowKey": f"org-{n:05d}",
                        "DisplayName": f"Org {n}", "Status": "active"}) for n in range(2000)]
    for start in range(0, len(rows), 100):
        await resolver.config_store.client.submit_transaction(rows[start:start + 100])
    assert (await reload_bytes("acme"), await reload_bytes("GLOBAL")) == before
    assert len(await resolver.orgs.all()) == 2001


async def test_the_reconcile_timer_names_orgs_with_data_that_are_not_registered(
    api: Api, table: Table, resolver: ConfigResolver,
) -> None:
    from shared.admin.reconcile_timer import unregistered_orgs

    assert await unregistered_orgs(resolver) == []  # registry off: nothing to report
    await register(api, "acme")
    await table.seed(("stray", "k", "v"))  # written around the app
    assert await unregistered_orgs(resolver) == ["stray"]


async def test_the_fleet_readiness_view_pages_through_the_registered_orgs(
    api: Api, table: Table,
) -> None:
    for org_id in ("a-org", "b-org", "c-org"):
        assert (await register(api, org_id)).status == 201  # b-org and c-org have no config
    first = await api.call("fleet_readiness", query={"limit": "2"})
    assert first.status == 200, first.text
    body = first.json()
    assert [o["org"] for o in body["orgs"]] == ["a-org", "b-org"] and body["next"] == "b-org"
    rest = await api.call("fleet_readiness", query={"limit": "2", "after": body["next"]})
    assert [o["org"] for o in rest.json()["orgs"]] == ["c-org"] and rest.json()["next"] is None

"""GET orgs and GET orgs/{org}/effective: which scopes have config, and every key an org
sees with where it comes from; for a secret_ref where it resolves, never the value."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.api.conftest import NO_ROLES, Api, Table, Vault

pytestmark = pytest.mark.integration


async def test_orgs_lists_global_first_then_every_org_with_config(api: Api, table: Table) -> None:
    await table.seed(("zeta", "k", "v"), ("acme", "k", "v"), ("acme", "k2", "v"),
                     ("GLOBAL", "k", "v"))
    response = await api.call("orgs_list")
    assert response.status == 200
    assert response.json() == {"scopes": ["GLOBAL", "acme", "zeta"], "orgs": [],
                               "registry": "off"}


async def test_orgs_leaves_out_bookkeeping_partitions(api: Api, table: Table) -> None:
    await table.seed(("acme", "k", "v"))
    await table.client.upsert_entity({"PartitionKey": "_orgconfig", "RowKey": "sentinel"})
    await table.client.upsert_entity({"PartitionKey": "Not An Org", "RowKey": "x"})
    assert (await api.call("orgs_list")).json()["scopes"] == ["GLOBAL", "acme"]


async def test_orgs_of_an_empty_deployment_is_global_alone(api: Api) -> None:
    assert (await api.call("orgs_list")).json()["scopes"] == ["GLOBAL"]


async def test_orgs_is_for_admins_only(api: Api) -> None:
    response = await api.call("orgs_list", principal=NO_ROLES)
    assert (response.status, response.error) == (403, "forbidden")


async def test_effective_shows_the_org_entry_over_globals_with_its_scope(
    api: Api, table: Table
) -> None:
    await table.seed(("GLOBAL", "smtp_port", "25", "int"), ("acme", "smtp_port", "587", "int"),
                     ("GLOBAL", "region", "eu"))
    body = (await api.call("orgs_effective", route={"org": "ACME"})).json()
    assert body["scope"] == "acme" and body["problems"] == 0
    rows = {e["key"]: (e["scope"], e["type"], e["value"]) for e in body["entries"]}
    assert rows == {"smtp_port": ("acme", "int", "587"), "region": ("GLOBAL", "string", "eu")}
    assert [e["key"] for e in body["entries"]] == ["region", "smtp_port"]


async def test_effective_of_an_org_secret_names_the_vault_secret_not_the_value(
    api: Api, table: Table, vault: Vault
) -> None:
    await table.seed(("acme", "smtp_password", "smtp-password", "secret_ref"))
    await vault.set("acme--smtp-password", "Zx-effective-org")
    entry = (await api.call("orgs_effective", route={"org": "acme"})).json()["entries"][0]
    assert entry["value"] is None and entry["problem"] is None
    assert entry["secret"] == {
        "secret_name": "smtp-password", "resolved_from": "org_secret",
        "source": "keyvault:acme--smtp-password", "tried": ["keyvault:acme--smtp-password"],
    }


async def test_effective_falls_back_to_the_global_secret(
    api: Api, table: Table, vault: Vault
) -> None:
    await table.seed(("GLOBAL", "psa_key", "psa-key", "secret_ref"))
    await vault.set("GLOBAL--psa-key", "Zx-effective-global")
    entry = (await api.call("orgs_effective", route={"org": "acme"})).json()["entries"][0]
    assert (entry["scope"], entry["secret"]["resolved_from"]) == ("GLOBAL", "global_secret")
    assert entry["secret"]["tried"] == ["keyvault:acme--psa-key", "keyvault:GLOBAL--psa-key"]


async def test_effective_reports_an_env_secret(
    api: Api, table: Table, api_env: Callable[..., None]
) -> None:
    api_env(ACME__GRAPH_SECRET="Zx-effective-env")
    api.remember("Zx-effective-env")
    await table.seed(("acme", "graph", "graph-secret", "secret_ref"))
    entry = (await api.call("orgs_effective", route={"org": "acme"})).json()["entries"][0]
    assert entry["secret"]["resolved_from"] == "env"
    assert entry["secret"]["source"] == "env:ACME__GRAPH_SECRET"


async def test_effective_flags_a_secret_ref_that_resolves_nowhere_with_the_names_tried(
    api: Api, table: Table
) -> None:
    await table.seed(("acme", "smtp_password", "missing", "secret_ref"))
    body = (await api.call("orgs_effective", route={"org": "acme"})).json()
    entry = body["entries"][0]
    assert body["problems"] == 1
    assert entry["secret"]["resolved_from"] == "nowhere"
    assert entry["secret"]["tried"] == [
        "keyvault:acme--missing", "keyvault:GLOBAL--missing", "env:ACME__MISSING",
        "env:GLOBAL__MISSING"]
    assert "resolves nowhere" in entry["problem"]


async def test_effective_of_global_tries_each_global_name_once(
    api: Api, table: Table, vault: Vault
) -> None:
    await table.seed(("GLOBAL", "psa_key", "psa-key", "secret_ref"))
    await vault.set("GLOBAL--psa-key", "Zx-effective-g2")
    entry = (await api.call("orgs_effective", route={"org": "global"})).json()["entries"][0]
    assert entry["secret"]["resolved_from"] == "global_secret"
    assert entry["secret"]["tried"] == ["keyvault:GLOBAL--psa-key"]


async def test_effective_does_not_show_a_value_that_does_not_parse_as_its_type(
    api: Api, table: Table
) -> None:
    await table.seed(("acme", "port", "Zx-pasted-secret", "int"))
    api.remember("Zx-pasted-secret")
    entry = (await api.call("orgs_effective", route={"org": "acme"})).json()["entries"][0]
    assert entry["value"] is None and entry["problem"]


async def test_effective_of_an_invalid_org_id_is_400(api: Api) -> None:
    response = await api.call("orgs_effective", route={"org": "no--such"})
    assert (response.status, response.error) == (400, "invalid_name")


async def test_effective_gives_each_entry_its_etag_for_a_conditional_edit(
    api: Api, table: Table
) -> None:
    await table.seed(("acme", "region", "eu"))
    entry = (await api.call("orgs_effective", route={"org": "acme"})).json()["entries"][0]
    stale = await api.call("config_put", route={"org": "acme", "key": "region"},
                           json_body={"value": "us"}, headers={"If-Match": entry["etag"]})
    assert stale.status == 200
    again = await api.call("config_put", route={"org": "acme", "key": "region"},
                           json_body={"value": "ap"}, headers={"If-Match": entry["etag"]})
    assert again.status == 412

"""Secret routes: names and references only, one-time echo, 409s, soft delete and recovery."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared.core.audit import dimensions
from shared.resolver import ConfigResolver
from tests.api.conftest import Api, Table, Vault
from tools.keyvault_emulator.control import EmulatorControl

pytestmark = pytest.mark.integration


def new(name: str = "smtp-password", value: str = "Zx-created-1", scope: str = "acme") -> dict:
    return {"scope": scope, "name": name, "value": value}


def target(name: str = "smtp-password", scope: str = "acme") -> dict[str, str]:
    return {"scope": scope, "name": name}


async def test_create_is_201_and_echoes_the_value_once(api: Api, vault: Vault) -> None:
    response = await api.call("secrets_create", json_body=new())
    assert response.status == 201
    body = response.json()
    assert (body["scope"], body["name"], body["vault_name"]) == (
        "acme", "smtp-password", "acme--smtp-password")
    assert body["value"] == "Zx-created-1" and body["version"]
    assert await vault.names() == ["acme--smtp-password"]


async def test_create_in_global_uses_the_global_prefix(api: Api, vault: Vault) -> None:
    response = await api.call("secrets_create", json_body=new(scope="global"))
    assert response.json()["vault_name"] == "GLOBAL--smtp-password"
    assert await vault.names() == ["GLOBAL--smtp-password"]


async def test_create_of_an_existing_name_is_409(api: Api, vault: Vault) -> None:
    await vault.set("acme--smtp-password", "Zx-existing")
    response = await api.call("secrets_create", json_body=new(name="SMTP-Password"))
    assert (response.status, response.error) == (409, "secret_exists")
    assert (await vault.state())[0] == [("acme--smtp-password", 1)]


async def test_create_of_a_soft_deleted_name_is_409_offering_recovery(
    api: Api, vault: Vault
) -> None:
    await vault.set("acme--smtp-password", "Zx-old")
    await vault.client.delete_secret("acme--smtp-password")
    response = await api.call("secrets_create", json_body=new())
    assert (response.status, response.error) == (409, "secret_deleted")
    body = response.json()
    assert body["recoverable"] is True and body["scheduled_purge_date"]
    assert "secrets/acme/smtp-password/recover" in body["message"]


async def test_recover_restores_a_soft_deleted_secret(api: Api, vault: Vault) -> None:
    await vault.set("acme--smtp-password", "Zx-old")
    await vault.client.delete_secret("acme--smtp-password")
    response = await api.call("secrets_recover", route=target())
    assert response.status == 200 and response.json()["recovered"] is True
    assert await vault.names() == ["acme--smtp-password"]


async def test_recover_of_a_name_that_is_not_deleted_is_404(api: Api) -> None:
    response = await api.call("secrets_recover", route=target())
    assert (response.status, response.error) == (404, "secret_not_found")


async def test_update_sets_a_new_version_and_echoes_it_once(api: Api, vault: Vault) -> None:
    created = await api.call("secrets_create", json_body=new())
    updated = await api.call("secrets_update", route=target(), json_body={"value": "Zx-v2"})
    assert updated.status == 200 and updated.json()["value"] == "Zx-v2"
    assert updated.json()["version"] != created.json()["version"]
    assert (await vault.state())[0] == [("acme--smtp-password", 2)]


async def test_update_of_an_absent_secret_is_404(api: Api, vault: Vault) -> None:
    response = await api.call("secrets_update", route=target(), json_body={"value": "Zx-v"})
    assert (response.status, response.error) == (404, "secret_not_found")
    assert await vault.names() == []


async def test_update_of_a_soft_deleted_secret_is_404_saying_it_is_recoverable(
    api: Api, vault: Vault
) -> None:
    await vault.set("acme--smtp-password", "Zx-old")
    await vault.client.delete_secret("acme--smtp-password")
    response = await api.call("secrets_update", route=target(), json_body={"value": "Zx-v"})
    assert response.status == 404 and response.json()["recoverable"] is True
    assert "recover" in response.json()["message"]


async def test_list_shows_the_orgs_and_global_names_with_their_references(
    api: Api, vault: Vault, table: Table
) -> None:
    await vault.set("acme--smtp-password", "Zx-acme")
    await vault.set("GLOBAL--psa-api-key", "Zx-global")
    await vault.set("beta--smtp-password", "Zx-beta")
    await table.seed(("acme", "smtp_password", "smtp-password", "secret_ref"),
                     ("GLOBAL", "psa_api_key", "psa-api-key", "secret_ref"),
                     ("GLOBAL", "graph_secret", "graph-secret", "secret_ref"))
    response = await api.call("secrets_list", query={"scope": "acme"})
    assert response.status == 200
    body = response.json()
    assert [(s["scope"], s["name"]) for s in body["secrets"]] == [
        ("GLOBAL", "psa-api-key"), ("acme", "smtp-password")]
    assert body["secrets"][0]["referenced_by"] == [{"scope": "GLOBAL", "key": "psa_api_key"}]
    assert body["secrets"][1]["referenced_by"] == [{"scope": "acme", "key": "smtp_password"}]
    assert body["unresolved_references"] == [
        {"scope": "GLOBAL", "key": "graph_secret", "secret_name": "graph-secret"}]
    assert "value" not in body["secrets"][0]


async def test_list_of_global_shows_global_secrets_only(api: Api, vault: Vault) -> None:
    await vault.set("acme--a", "Zx-a")
    await vault.set("GLOBAL--b", "Zx-b")
    body = (await api.call("secrets_list", query={"scope": "GLOBAL"})).json()
    assert [s["vault_name"] for s in body["secrets"]] == ["GLOBAL--b"]


async def test_list_needs_a_scope(api: Api) -> None:
    response = await api.call("secrets_list")
    assert (response.status, response.error) == (400, "scope_required")


async def test_delete_of_a_referenced_secret_is_409_listing_the_references(
    api: Api, vault: Vault, table: Table
) -> None:
    await vault.set("acme--smtp-password", "Zx-ref")
    await table.seed(("acme", "smtp_password", "smtp-password", "secret_ref"))
    response = await api.call("secrets_delete", route=target())
    assert (response.status, response.error) == (409, "secret_in_use")
    assert response.json()["references"] == [{"scope": "acme", "key": "smtp_password"}]
    assert await vault.names() == ["acme--smtp-password"]


async def test_delete_of_a_global_secret_counts_every_orgs_references(
    api: Api, vault: Vault, table: Table
) -> None:
    await vault.set("GLOBAL--smtp-password", "Zx-global")
    await table.seed(("beta", "pwd", "smtp-password", "secret_ref"), ("acme", "other", "x"))
    response = await api.call("secrets_delete", route=target(scope="GLOBAL"))
    assert response.status == 409
    assert response.json()["references"] == [{"scope": "beta", "key": "pwd"}]


async def test_forced_delete_soft_deletes_and_reports_the_references(
    api: Api, vault: Vault, table: Table
) -> None:
    await vault.set("acme--smtp-password", "Zx-ref")
    await table.seed(("GLOBAL", "smtp_password", "smtp-password", "secret_ref"))
    response = await api.call("secrets_delete", route=target(), query={"force": "true"})
    assert response.status == 200
    body = response.json()
    assert body["forced"] is True and body["recoverable"] is True
    assert body["references"] == [{"scope": "GLOBAL", "key": "smtp_password"}]
    assert await vault.state() == ([], ["acme--smtp-password"])


async def test_delete_of_an_unreferenced_secret_needs_no_force(api: Api, vault: Vault) -> None:
    await vault.set("acme--old", "Zx-old")
    response = await api.call("secrets_delete", route=target("old"))
    assert response.status == 200 and response.json()["forced"] is False
    assert await vault.names() == []


async def test_delete_of_an_absent_secret_is_404(api: Api) -> None:
    assert (await api.call("secrets_delete", route=target())).status == 404


async def test_an_org_override_shields_the_global_reference(
    api: Api, vault: Vault, table: Table
) -> None:
    await vault.set("acme--smtp-password", "Zx-ref")
    await table.seed(("GLOBAL", "smtp_password", "smtp-password", "secret_ref"),
                     ("acme", "smtp_password", "other-name", "secret_ref"))
    response = await api.call("secrets_delete", route=target())
    assert response.status == 200 and response.json()["references"] == []


async def test_the_writing_process_sees_a_rotation_at_once(
    api: Api, table: Table, resolver: ConfigResolver
) -> None:
    await table.seed(("acme", "pwd", "smtp-password", "secret_ref"))
    await api.call("secrets_create", json_body=new(value="Zx-rot-1"))
    context = resolver.context("acme")
    assert await context.get_config("pwd") == "Zx-rot-1"
    await api.call("secrets_update", route=target(), json_body={"value": "Zx-rot-2"})
    assert await context.get_config("pwd") == "Zx-rot-2"


async def test_a_new_org_secret_replaces_a_cached_global_one_at_once(
    api: Api, table: Table, vault: Vault, resolver: ConfigResolver
) -> None:
    await table.seed(("GLOBAL", "pwd", "smtp-password", "secret_ref"))
    await vault.set("GLOBAL--smtp-password", "Zx-global")
    context = resolver.context("acme")
    assert await context.get_config("pwd") == "Zx-global"
    await api.call("secrets_create", json_body=new(value="Zx-org"))
    assert await context.get_config("pwd") == "Zx-org"


async def test_every_secret_write_leaves_an_audit_record(
    api: Api, vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    await api.call("secrets_create", json_body=new(value="Zx-audit-1"))
    await api.call("secrets_update", route=target(), json_body={"value": "Zx-audit-2"})
    await api.call("secrets_delete", route=target())
    await api.call("secrets_recover", route=target())
    actions = [(dimensions(r)["action"], dimensions(r)["actor"],
                dimensions(r)["name"])
               for r in caplog.records if r.name == "orgconfig.audit"
               and "action" in dimensions(r)]
    assert actions == [(a, "admin@example.com", "smtp-password")
                       for a in ("secret.create", "secret.update", "secret.delete",
                                 "secret.recover")]


async def test_without_a_vault_secret_routes_are_503_vault_not_configured(
    api: Api, api_env: Callable[..., None]
) -> None:
    api_env(AZURE_KEY_VAULT_URL=None, AZURE_KEY_VAULT_CA_FILE=None)
    for response in [
        await api.call("secrets_list", query={"scope": "acme"}),
        await api.call("secrets_create", json_body=new()),
        await api.call("secrets_delete", route=target()),
    ]:
        assert (response.status, response.error) == (503, "vault_not_configured")


async def test_vault_permission_denied_is_502_with_guidance(
    api: Api, kv_control: EmulatorControl
) -> None:
    kv_control.fail_next(1, 403, operation="list_versions")
    response = await api.call("secrets_create", json_body=new())
    assert (response.status, response.error) == (502, "secret_access_denied")
    assert "Key Vault Secrets Officer" in response.json()["message"]


async def test_vault_outage_is_503_with_retry_after(
    api: Api, kv_control: EmulatorControl
) -> None:
    kv_control.refuse_connections(True)
    try:
        response = await api.call("secrets_list", query={"scope": "acme"})
    finally:
        kv_control.refuse_connections(False)
    assert (response.status, response.error) == (503, "backend_unavailable")
    assert response.headers["Retry-After"]

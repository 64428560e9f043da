"""The HTTP API keeps the secret catalog, hides it from config, and reports expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from azure.core.rest import HttpRequest

from shared.admin.catalog_sync import SecretCatalog
from shared.resolver import ConfigResolver
from tests.api.conftest import Api, Table, Vault

pytestmark = pytest.mark.integration


async def listed(resolver: ConfigResolver) -> set[tuple[str, str]]:
    return set(await SecretCatalog(resolver).read_all())


async def test_create_update_delete_recover_through_the_api_keep_the_catalog(
    api: Api, resolver: ConfigResolver
) -> None:
    route = {"scope": "acme", "name": "smtp-password"}
    body = {"scope": "acme", "name": "smtp-password", "value": "Zx-cat-1"}
    assert (await api.call("secrets_create", json_body=body)).status == 201
    assert await listed(resolver) == {("acme", "smtp-password")}
    assert (await api.call("secrets_update", route=route,
                           json_body={"value": "Zx-cat-2"})).status == 200
    assert await listed(resolver) == {("acme", "smtp-password")}
    assert (await api.call("secrets_delete", route=route)).status == 200
    assert await listed(resolver) == set()
    assert (await api.call("secrets_recover", route=route)).status == 200
    assert await listed(resolver) == {("acme", "smtp-password")}


async def test_catalog_rows_never_appear_in_the_config_api(
    api: Api, vault: Vault, table: Table, resolver: ConfigResolver
) -> None:
    await table.seed(("acme", "smtp_host", "mail.acme"), ("GLOBAL", "port", "25", "int"))
    await vault.set("acme--smtp-password", "Zx-cat-3")
    await vault.set("GLOBAL--smtp-password", "Zx-cat-4")
    await SecretCatalog(resolver).reconcile()
    for org, keys in (("acme", ["smtp_host"]), ("GLOBAL", ["port"])):
        response = await api.call("config_list", route={"org": org})
        assert response.status == 200
        assert [e["key"] for e in response.json()["entries"]] == keys
    response = await api.call("config_get", route={"org": "acme", "key": "~secret~smtp-password"})
    assert response.status == 400


async def test_health_reports_the_catalog_and_expiring_secrets_per_scope(
    api: Api, vault: Vault, resolver: ConfigResolver
) -> None:
    response = await api.call("health_keyvault")
    assert response.json()["catalog"] == "absent"
    now = datetime.now(UTC)
    await vault.client.set_secret("acme--old", "Zx-cat-5", expires_on=now - timedelta(days=1))
    await vault.client.set_secret("GLOBAL--soon", "Zx-cat-6", expires_on=now + timedelta(days=3))
    await vault.client.set_secret("acme--fine", "Zx-cat-7", expires_on=now + timedelta(days=99))
    api.remember("Zx-cat-5", "Zx-cat-6", "Zx-cat-7")
    await SecretCatalog(resolver).reconcile()
    body = (await api.call("health_keyvault")).json()
    assert body["catalog"] == "in_use" and body["catalog_reconciled_at"]
    expiring = {scope: [(s["vault_name"], s["state"]) for s in items]
                for scope, items in body["expiring_secrets"].items()}
    assert expiring == {"acme": [("acme--old", "expired")],
                        "GLOBAL": [("GLOBAL--soon", "expiring")]}


async def test_the_secrets_list_marks_expired_and_expiring_secrets(
    api: Api, vault: Vault, api_env: object
) -> None:
    now = datetime.now(UTC)
    await vault.client.set_secret("acme--old", "Zx-cat-8", expires_on=now - timedelta(days=1))
    await vault.client.set_secret("acme--soon", "Zx-cat-9", expires_on=now + timedelta(days=3))
    await vault.client.set_secret("acme--fine", "Zx-cat-0")
    api.remember("Zx-cat-8", "Zx-cat-9", "Zx-cat-0")
    body = (await api.call("secrets_list", query={"scope": "acme"})).json()
    states = {s["name"]: s["expiry"] for s in body["secrets"]}
    assert states == {"old": "expired", "soon": "expiring", "fine": None}
    assert next(s for s in body["secrets"] if s["name"] == "old")["expires_on"]


async def test_the_reconcile_timer_is_registered_and_builds_the_catalog(
    api: Api, vault: Vault, functions: dict[str, object], resolver: ConfigResolver
) -> None:
    from azure.functions.timer import TimerRequest

    timer = functions["catalog_reconcile"]
    trigger = timer.get_trigger()  # type: ignore[attr-defined]
    assert trigger.get_binding_name() == "timerTrigger" and trigger.schedule == "0 7 * * * *"
    await vault.set("acme--smtp-password", "Zx-cat-timer")
    await timer.get_user_function()(TimerRequest())  # type: ignore[attr-defined]
    assert await listed(resolver) == {("acme", "smtp-password")}
    assert await SecretCatalog(resolver).marker() is not None


async def test_unreadable_catalog_dates_written_by_hand_break_no_route(
    api: Api, vault: Vault, table: Table, resolver: ConfigResolver
) -> None:
    year_89 = datetime(89, 1, 1, tzinfo=UTC)  # the SDK writes it unpadded: unparsable
    await table.seed(("acme", "smtp_host", "mail.acme"))
    await vault.set("acme--smtp-password", "Zx-cat-odd")
    await SecretCatalog(resolver).reconcile()
    await table.client.upsert_entity({
        "PartitionKey": "acme", "RowKey": "~secret~smtp-password", "Name": "smtp-password",
        "Enabled": True, "ExpiresOn": year_89})
    await table.client.upsert_entity({
        "PartitionKey": "GLOBAL", "RowKey": "~catalog", "ReconciledAt": year_89, "Secrets": 1})
    health = await api.call("health_keyvault")
    assert health.status == 200 and health.json()["catalog"] == "in_use"
    assert (await api.call("config_list", route={"org": "acme"})).status == 200
    assert (await api.call("secrets_list", query={"scope": "acme"})).status == 200


async def test_the_secrets_list_shows_an_expiry_past_year_9999_as_none(
    api: Api, vault: Vault
) -> None:
    await vault.client.send_request(HttpRequest(  # no datetime can say year 10000
        "PUT", "secrets/acme--far", params={"api-version": "7.4"},
        json={"value": "Zx-cat-far", "attributes": {"exp": 253402300800}}))
    api.remember("Zx-cat-far")
    response = await api.call("secrets_list", query={"scope": "acme"})
    assert response.status == 200
    assert [(s["name"], s["expires_on"]) for s in response.json()["secrets"]] == [("far", None)]

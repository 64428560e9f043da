"""The HTTP API over several vaults (the app configured through its environment, as the
Functions worker would be): secret writes land in the scope's vault, the listing says
which vault, health reports each vault and the worst status."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.api.conftest import Api
from tests.integration.shards import ORG_VAULTS, SHARDS, names_read
from tools.services import KeyVaultEmulator

pytestmark = pytest.mark.integration


@pytest.fixture
def sharded_api(api: Api, api_env: Callable[..., None],
                sharded_keyvault: KeyVaultEmulator) -> Api:
    kv = sharded_keyvault
    api_env(AZURE_KEY_VAULT_URL=kv.urls["default"], AZURE_KEY_VAULT_CA_FILE=kv.ca_file,
            AZURE_KEY_VAULT_SHARDS=json.dumps({name: kv.urls[name] for name in SHARDS}),
            AZURE_KEY_VAULT_ORG_VAULTS=json.dumps(ORG_VAULTS))
    return api


async def test_secret_routes_write_to_and_list_from_the_scopes_vault(
    sharded_api: Api, sharded_keyvault: KeyVaultEmulator,
) -> None:
    sharded_api.remember("Zx-shard-acme-1", "Zx-shard-global", "Zx-shard-acme-2")
    created = await sharded_api.call("secrets_create", json_body={
        "scope": "acme", "name": "token", "value": "Zx-shard-acme-1"})
    assert (created.status, created.json()["vault"]) == (201, "shard1")
    glob = await sharded_api.call("secrets_create", json_body={
        "scope": "GLOBAL", "name": "token", "value": "Zx-shard-global"})
    assert glob.json()["vault"] == "default"
    updated = await sharded_api.call("secrets_update", route={"scope": "acme", "name": "token"},
                                     json_body={"value": "Zx-shard-acme-2"})
    assert (updated.status, updated.json()["vault"]) == (200, "shard1")
    assert sharded_keyvault.control("shard1").count("set_secret", "acme--token") == 2
    assert sharded_keyvault.control("default").count("set_secret", "acme--token") == 0
    listing = (await sharded_api.call("secrets_list", query={"scope": "acme"})).json()
    assert [(s["vault_name"], s["vault"]) for s in listing["secrets"]] == [
        ("GLOBAL--token", "default"), ("acme--token", "shard1")]
    deleted = await sharded_api.call("secrets_delete", route={"scope": "acme", "name": "token"},
                                     query={"force": "true"})
    assert deleted.status == 200
    assert "acme--token" in names_read(sharded_keyvault, "shard1", "delete_secret")


async def test_health_reports_every_vault_and_503_when_one_shard_is_down(
    sharded_api: Api, sharded_keyvault: KeyVaultEmulator,
) -> None:
    ok = await sharded_api.call("health_keyvault")
    assert ok.status == 200
    assert [(v["vault"], v["status"]) for v in ok.json()["vaults"]] == [
        ("default", "connected"), ("shard1", "connected"), ("shard2", "connected")]
    assert {"vault", "vault[default]", "vault[shard1]", "vault[shard2]", "table"} == set(
        ok.json()["breakers"])
    sharded_keyvault.control("shard1").refuse_connections()
    try:
        down = await sharded_api.call("health_keyvault")
    finally:
        sharded_keyvault.control("shard1").refuse_connections(False)
    body = down.json()
    assert (down.status, body["status"]) == (503, "disconnected")
    assert {v["vault"]: v["status"] for v in body["vaults"]}["shard1"] == "disconnected"
    assert {v["vault"]: v["status"] for v in body["vaults"]}["default"] == "connected"

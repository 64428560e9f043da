"""``make dev SHARDS=n``: the printed Values are valid settings that reach every vault."""

from __future__ import annotations

import json

import pytest

from shared.settings import Settings
from tools.devservices import parse_args, settings_values, shard_names
from tools.services import Azurite, KeyVaultEmulator

pytestmark = pytest.mark.integration


def test_shards_are_named_shard1_to_n() -> None:
    assert shard_names(0) == ()
    assert shard_names(2) == ("shard1", "shard2")


@pytest.mark.parametrize("count", ["-1", "17", "two"])
def test_a_bad_shard_count_is_refused(count: str) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--shards", count])


def test_printed_values_name_every_shard_and_parse_as_settings(
    sharded_keyvault: KeyVaultEmulator,
) -> None:
    values = settings_values(Azurite(port=10002), sharded_keyvault)
    shards = json.loads(values["AZURE_KEY_VAULT_SHARDS"])
    assert shards == {"shard1": sharded_keyvault.urls["shard1"],
                      "shard2": sharded_keyvault.urls["shard2"]}
    mapped = dict(values, AZURE_KEY_VAULT_ORG_VAULTS='{"acme": "shard2"}')
    settings = Settings.from_env(mapped)
    assert settings.vault_url_for("acme") == sharded_keyvault.urls["shard2"]
    assert settings.vault_url_for("GLOBAL") == sharded_keyvault.url


def test_without_shards_no_shard_settings_are_printed(keyvault: KeyVaultEmulator) -> None:
    values = settings_values(Azurite(port=10002), keyvault)
    assert "AZURE_KEY_VAULT_SHARDS" not in values
    assert Settings.from_env(values).vault_url_for("acme") == keyvault.url

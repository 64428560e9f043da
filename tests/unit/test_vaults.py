"""Pure parts of sharding: which vault holds a scope, how events name vaults, the settings."""

from __future__ import annotations

import pytest

from shared.backends.vaults import DEFAULT_VAULT, VaultSet, vault_name_for
from shared.core.metrics import Metrics
from shared.errors import ConfigError
from shared.settings import Settings

SHARDED = Settings(
    key_vault_url="https://main-kv.vault.azure.net",
    key_vault_shards={"eu": "https://eu-kv.vault.azure.net/", "us": "https://us-kv.vault.azure.net"},
    key_vault_org_vaults={"Acme": "eu", "beta": "us"},
)


def vaults(settings: Settings) -> VaultSet:
    return VaultSet(settings, Metrics(), lambda url=None: None)


@pytest.mark.parametrize(("scope", "vault"), [
    ("acme", "eu"), ("ACME", "eu"), ("beta", "us"), ("contoso", DEFAULT_VAULT),
    ("GLOBAL", DEFAULT_VAULT), ("global", DEFAULT_VAULT),
])
def test_a_scope_lives_in_its_mapped_vault_else_the_default(scope: str, vault: str) -> None:
    assert vault_name_for(SHARDED, scope) == vault
    assert vaults(SHARDED).for_scope(scope).name == vault


def test_without_shards_every_scope_uses_the_one_vault() -> None:
    single = Settings(key_vault_url="https://main-kv.vault.azure.net")
    assert [v.name for v in vaults(single)] == [DEFAULT_VAULT]
    assert vaults(single).for_scope("acme").url == "https://main-kv.vault.azure.net"


def test_no_vault_configured_is_a_clear_error_naming_the_settings() -> None:
    with pytest.raises(ConfigError, match="AZURE_KEY_VAULT_URL"):
        vaults(Settings()).for_scope("acme")


def test_events_name_a_vault_by_the_first_label_of_its_host() -> None:
    found = vaults(SHARDED)
    assert found.by_event_name("EU-KV").name == "eu"  # type: ignore[union-attr]
    assert found.by_event_name("main-kv").name == DEFAULT_VAULT  # type: ignore[union-attr]
    assert found.by_event_name("eu") is None  # a setting name is no vault name in Azure
    assert found.by_event_name("other-kv") is None


def test_loopback_vaults_sharing_a_host_are_named_by_their_setting_names() -> None:
    local = Settings(key_vault_url="https://127.0.0.1:9001",
                     key_vault_shards={"shard1": "https://127.0.0.1:9002"},
                     key_vault_ca_file="/tmp/ca.pem")
    found = vaults(local)
    assert found.by_event_name("127") is None  # ambiguous: names neither
    assert found.by_event_name("shard1").url == "https://127.0.0.1:9002"  # type: ignore[union-attr]
    assert found.by_event_name("default").url == "https://127.0.0.1:9001"  # type: ignore[union-attr]


def test_a_shard_cannot_be_called_default() -> None:
    with pytest.raises(ConfigError, match="'default' means AZURE_KEY_VAULT_URL"):
        Settings(key_vault_url="https://main-kv.vault.azure.net",
                 key_vault_shards={"Default": "https://x-kv.vault.azure.net"})


def test_every_vault_has_its_own_breaker_and_labelled_counters() -> None:
    metrics = Metrics()
    found = VaultSet(SHARDED, metrics, lambda url=None: None)
    eu, us = found.named("eu"), found.named("us")
    assert eu.breaker is not us.breaker and eu.breaker.name == "vault[eu]"
    eu.incr("vault.get")
    assert metrics.snapshot() == {"vault.get": 1, "vault.get[eu]": 1}

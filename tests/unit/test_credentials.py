"""Which credential talks to which vault (no network: clients are built, not used)."""

from __future__ import annotations

import certifi
import pytest
from azure.identity.aio import DefaultAzureCredential

from shared.backends.vault_clients import LocalDevelopmentCredential, uses_local_vault
from shared.errors import ConfigError
from shared.resolver import ConfigResolver
from shared.settings import Settings


def _credential_of(resolver: ConfigResolver) -> object:
    policy = resolver.secret_store.client._client._config.authentication_policy
    return policy._credential


async def test_default_azure_credential_for_a_real_vault() -> None:
    settings = Settings(key_vault_url="https://prod-vault.vault.azure.net")
    assert not uses_local_vault(settings)
    async with ConfigResolver(settings) as resolver:
        assert isinstance(_credential_of(resolver), DefaultAzureCredential)


async def test_default_azure_credential_for_loopback_without_ca_file() -> None:
    async with ConfigResolver(Settings(key_vault_url="https://127.0.0.1:8443")) as resolver:
        assert isinstance(_credential_of(resolver), DefaultAzureCredential)


async def test_local_credential_only_for_loopback_with_ca_file() -> None:
    settings = Settings(key_vault_url="https://localhost:8443", key_vault_ca_file=certifi.where())
    assert uses_local_vault(settings)
    async with ConfigResolver(settings) as resolver:
        assert isinstance(_credential_of(resolver), LocalDevelopmentCredential)


async def test_an_unreadable_ca_file_is_a_clear_error() -> None:
    settings = Settings(key_vault_url="https://localhost:8443",
                        key_vault_ca_file="/nonexistent.pem")
    async with ConfigResolver(settings) as resolver:
        with pytest.raises(ConfigError, match="AZURE_KEY_VAULT_CA_FILE"):
            _ = resolver.secret_store.client


async def test_clients_are_created_lazily_and_closed() -> None:
    resolver = ConfigResolver(Settings(key_vault_url="https://prod-vault.vault.azure.net"))
    assert resolver._secrets is None and resolver._config is None
    store = resolver.secret_store
    _ = store.client
    assert resolver._credential is not None
    await resolver.aclose()
    assert resolver._credential is None and store.vaults.default._client is None

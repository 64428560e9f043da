"""Helpers for the sharding tests: settings over the multi-vault emulator, a client per vault,
and which secret names each vault was asked for."""

from __future__ import annotations

import json
import uuid
from typing import Any

from azure.keyvault.secrets.aio import SecretClient

from shared.backends.vault_clients import LocalDevelopmentCredential, make_secret_client
from shared.settings import Settings
from tests.cli_io import settings_env
from tools.services import Azurite, KeyVaultEmulator

#: the shards of the tests (the emulator's other vaults are ``default``'s neighbours)
SHARDS = ("shard1", "shard2")
#: acme and beta live in shards; contoso (unmapped) and GLOBAL in the default vault
ORG_VAULTS = {"acme": "shard1", "beta": "shard2"}


def sharded_settings(azurite: Azurite, kv: KeyVaultEmulator, org_vaults: dict[str, str]
                     | None = None, **overrides: Any) -> Settings:
    """Settings with the default vault and both shards, on a table of its own."""
    values: dict[str, Any] = {
        "storage_connection": azurite.connection_string,
        "table_name": f"Shd{uuid.uuid4().hex[:12]}",
        "key_vault_url": kv.urls["default"],
        "key_vault_ca_file": kv.ca_file,
        "key_vault_shards": {name: kv.urls[name] for name in SHARDS},
        "key_vault_org_vaults": ORG_VAULTS if org_vaults is None else org_vaults,
        "backend_timeout": 5,
    }
    values.update(overrides)
    return Settings(**values)


def sharded_env(settings: Settings) -> dict[str, str]:
    """The same settings as environment variables (the CLI, the app)."""
    return {
        **settings_env(settings),
        "AZURE_KEY_VAULT_SHARDS": json.dumps(dict(settings.key_vault_shards)),
        "AZURE_KEY_VAULT_ORG_VAULTS": json.dumps(dict(settings.key_vault_org_vaults)),
    }


def vault_client(settings: Settings, kv: KeyVaultEmulator, vault: str) -> SecretClient:
    """A real aio SecretClient on one vault of the emulator (seeding, checking)."""
    return make_secret_client(settings, LocalDevelopmentCredential(), kv.urls[vault])


def names_read(kv: KeyVaultEmulator, vault: str, operation: str = "get_secret") -> set[str]:
    """The secret names ``vault`` answered ``operation`` for since its counters were reset."""
    secrets = kv.control(vault).counters()["secrets"]
    return {name for name, ops in secrets.items() if ops.get(operation)}

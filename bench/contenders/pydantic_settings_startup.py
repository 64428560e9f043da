"""pydantic-settings' ``AzureKeyVaultSettingsSource``: the start-up cost of a vault this size.

The source lists the vault's secret names when the settings object is built and fetches
the value of every field it fills, one ``get_secret`` per field, synchronously. A
multi-tenant app declares every secret it may need (here: one field per vault secret,
aliased to its name, 10 per org plus GLOBAL's 10), so each instance start pays a list of
the vault plus one GET per secret, and the values never change until the next start.

Only one thing is changed in the library: ``_load_env_vars`` builds its ``SecretClient``
with no options, which cannot trust the emulator's CA nor skip the challenge's resource
check, so :class:`EmulatorKeyVaultSource` repeats those lines with the two options.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from azure.keyvault.secrets import SecretClient
from pydantic import Field, create_model
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from pydantic_settings.sources.providers.azure import (
    AzureKeyVaultMapping,
    AzureKeyVaultSettingsSource,
)

from bench.clients import BackendInfo, SyncLocalCredential, sync_secret_client_options
from bench.workload import Workload
from tools.keyvault_emulator.control import EmulatorControl


class EmulatorKeyVaultSource(AzureKeyVaultSettingsSource):
    """The library's source; its SecretClient gets the emulator's TLS options."""

    client_options: dict[str, Any] = {}

    def _load_env_vars(self) -> Mapping[str, str | None]:
        client = SecretClient(vault_url=self._url, credential=self._credential,
                              **self.client_options)
        return AzureKeyVaultMapping(
            secret_client=client,
            case_sensitive=self.case_sensitive,
            snake_case_conversion=self._snake_case_conversion,
            env_prefix=self.env_prefix,
            env_parse_none_str=self.env_parse_none_str,
        )


def settings_class(info: BackendInfo, secret_names: list[str]) -> type[BaseSettings]:
    """A BaseSettings with one str field per secret, read only from the vault."""

    class VaultSettings(BaseSettings):
        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], *args: Any, **kwargs: Any
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            # the source lists the vault while it is constructed: options go on the class
            EmulatorKeyVaultSource.client_options = sync_secret_client_options(info)
            source = EmulatorKeyVaultSource(
                settings_cls, info.vault_url, SyncLocalCredential()
            )
            return (source,)

    fields: dict[str, Any] = {
        f"secret_{i}": (str, Field(alias=name)) for i, name in enumerate(secret_names)
    }
    model: type[BaseSettings] = create_model(
        "TenantSecrets", __base__=VaultSettings, **fields
    )
    return model


def measure(info: BackendInfo, workload: Workload) -> dict[str, Any]:
    expected = workload.secrets()
    names = sorted(expected)
    model = settings_class(info, names)
    control = EmulatorControl(info.control_url)
    control.reset_counters()
    started = time.perf_counter()
    loaded = model()
    wall = time.perf_counter() - started
    counters = control.counters()
    values = loaded.model_dump(by_alias=True)
    wrong = sum(1 for name in names if values.get(name) != expected[name])
    ops = counters["operations"]
    return {
        "secrets_loaded": len(values),
        "wrong_values": wrong,
        "vault_gets": int(ops.get("get_secret", 0)),
        "vault_list_requests": int(ops.get("list_secrets", 0)),
        "vault_requests": int(counters["total"]),
        "wall_s": round(wall, 3),
        "requests_per_s": round(int(counters["total"]) / wall, 1) if wall > 0 else 0.0,
    }

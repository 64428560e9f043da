"""Settings from environment variables (``local.settings.json`` Values under ``func start``)."""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal, cast
from urllib.parse import urlsplit

from shared.core.naming import GLOBAL, canonical_org_id, canonical_scope
from shared.errors import ConfigError, InvalidNameError

#: The app's folder (function_app.py, host.json): where ``func start`` runs.
APP_ROOT = Path(__file__).resolve().parent.parent
CA_FILE_SETTING = "AZURE_KEY_VAULT_CA_FILE"

ExpiredPolicy = Literal["serve", "refuse"]
_TRUE = {"1", "true", "yes", "on"}
_SHARD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
SHARDS = "AZURE_KEY_VAULT_SHARDS"
ORG_VAULTS = "AZURE_KEY_VAULT_ORG_VAULTS"
_FALSE = {"0", "false", "no", "off", ""}


def is_loopback_url(url: str) -> bool:
    """True when the URL's host is localhost or a loopback IP address."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _count(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    value = _number(env, name, default, minimum=minimum)
    if value != int(value) or value > 10_000:
        raise ConfigError(f"setting {name} must be a whole number from {minimum} to 10000, "
                          f"got {env.get(name)!r}")
    return int(value)


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"setting {name} must be a number of seconds, got {raw!r}") from None
    if value < minimum or value != value or value == float("inf"):
        raise ConfigError(f"setting {name} must be a finite number >= {minimum}, got {raw!r}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in choices:
        raise ConfigError(f"setting {name} must be one of {', '.join(choices)}, got {raw!r}")
    return value


def _ca_file(env: Mapping[str, str]) -> str | None:
    """A relative CA path is relative to the app's folder, where ``func start`` runs and
    the committed ``local.settings.json.example`` points, so a script started from any
    directory finds the same file."""
    raw = (env.get(CA_FILE_SETTING) or "").strip()
    if not raw:
        return None
    return raw if Path(raw).is_absolute() else str(APP_ROOT / raw)


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"setting {name} must be true or false, got {raw!r}")


def _json_object(env: Mapping[str, str], name: str, example: str) -> dict[str, str]:
    raw = (env.get(name) or "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigError(f"setting {name} must be a JSON object like {example}") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(
            f"setting {name} must be a JSON object of strings like {example}, got {raw[:80]!r}"
        )
    return value


def _vault_key(url: str) -> str:
    return url.strip().rstrip("/").lower()


def _check_shards(shards: Mapping[str, str], default_url: str | None) -> dict[str, str]:
    if shards and not default_url:
        raise ConfigError(
            f"setting {SHARDS} needs AZURE_KEY_VAULT_URL: unmapped orgs and GLOBAL's secrets "
            "live in that default vault"
        )
    seen = {_vault_key(default_url): "AZURE_KEY_VAULT_URL"} if default_url else {}
    out: dict[str, str] = {}
    for name, url in shards.items():
        if not isinstance(name, str) or not _SHARD_NAME.fullmatch(name):
            raise ConfigError(
                f"setting {SHARDS}: vault name {name!r} must be 1-63 letters, digits, '-' or "
                "'_', starting with a letter or digit"
            )
        if name.lower() == "default":
            raise ConfigError(
                f"setting {SHARDS}: the vault name 'default' means AZURE_KEY_VAULT_URL; "
                "give the shard another name"
            )
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme != "https" or not parts.hostname:
            raise ConfigError(
                f"setting {SHARDS}: vault {name!r} must be an https:// URL, got {url!r}"
            )
        if _vault_key(url) in seen:
            raise ConfigError(
                f"setting {SHARDS}: vault {name!r} has the same URL as {seen[_vault_key(url)]}; "
                "list each vault once"
            )
        seen[_vault_key(url)] = f"vault {name!r}"
        out[name] = url.strip()
    return out


def _check_org_vaults(org_vaults: Mapping[str, str], shards: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_org, shard in org_vaults.items():
        try:
            org = canonical_org_id(raw_org)
        except InvalidNameError as exc:
            raise ConfigError(f"setting {ORG_VAULTS}: {exc}") from None
        if shard not in shards:
            listed = ", ".join(sorted(shards)) or "none"
            raise ConfigError(
                f"setting {ORG_VAULTS} maps org {org!r} to vault {shard!r}, which is not listed "
                f"in {SHARDS} (listed: {listed}); add it there or fix the name"
            )
        if out.get(org, shard) != shard:
            raise ConfigError(
                f"setting {ORG_VAULTS} maps org {org!r} twice (in different cases) to different "
                f"vaults ({out[org]!r}, {shard!r})"
            )
        out[org] = shard
    return out


@dataclass(frozen=True)
class Settings:
    """Every setting of DESIGN.md, with its default. Build with :meth:`from_env`."""

    storage_connection: str | None = None
    storage_endpoint: str | None = None
    table_name: str = "Config"
    key_vault_url: str | None = None
    key_vault_ca_file: str | None = None
    #: more vaults (name -> https URL) and the orgs that live in them (org id -> name);
    #: unmapped orgs and GLOBAL use ``key_vault_url``. Read-only after validation.
    key_vault_shards: Mapping[str, str] = field(default_factory=dict)
    key_vault_org_vaults: Mapping[str, str] = field(default_factory=dict)
    config_cache_ttl: float = 30.0
    secret_cache_ttl: float = 3600.0
    secret_not_found_ttl: float = 300.0
    secret_env_fallback: bool = True
    #: list the vault's names once per not-found TTL instead of a GET (404) per org
    secret_name_index: bool = True
    max_stale_seconds: float = 86400.0
    backend_timeout: float = 5.0
    coherence_check_seconds: float = 5.0
    #: history items kept per config key (at least 50)
    history_max_per_key: int = 100
    environment: str = "Production"
    #: consecutive backend outages that open the circuit breaker, and its cool-down
    breaker_threshold: int = 5
    breaker_cooldown: float = 10.0
    #: Development only: trust X-MS-CLIENT-PRINCIPAL without platform authentication.
    trust_dev_principal: bool = False
    #: Whether App Service authentication (EasyAuth) is on, so its principal header is trusted.
    platform_auth_enabled: bool = False
    #: a secret expiring within this many days is reported (health, doctor, secrets list)
    expiry_warning_days: float = 30.0
    #: what a read of an expired secret does: ``serve`` (with a warning) or ``refuse``
    expired_policy: ExpiredPolicy = "serve"
    #: Running on App Service / Azure Functions (``WEBSITE_INSTANCE_ID`` is set there).
    running_in_azure: bool = False

    def __post_init__(self) -> None:
        if self.trust_dev_principal and self.running_in_azure:
            # `func azure functionapp publish --publish-local-settings` copies every local
            # Value, this one too: in Azure it would let any caller claim any role.
            raise ConfigError(
                "setting ORGCONFIG_TRUST_DEV_PRINCIPAL=true is for local development only and "
                "is refused in Azure (WEBSITE_INSTANCE_ID is set): it would trust an "
                "X-MS-CLIENT-PRINCIPAL header sent by anyone. Remove it from the app settings "
                "(`--publish-local-settings` copies it from local.settings.json) and turn on "
                "App Service authentication instead"
            )
        vault = self.key_vault_url
        if self.key_vault_ca_file and vault and not is_loopback_url(vault):
            raise ConfigError(
                "AZURE_KEY_VAULT_CA_FILE is only honoured for a vault on a loopback address "
                "(the local emulator); unset it for a real vault, which uses managed identity"
            )
        if self.key_vault_url and urlsplit(self.key_vault_url).scheme != "https":
            raise ConfigError(
                f"AZURE_KEY_VAULT_URL must be an https:// URL, got {self.key_vault_url!r}"
            )
        shards = _check_shards(self.key_vault_shards, vault)
        if self.key_vault_ca_file and not all(is_loopback_url(u) for u in shards.values()):
            raise ConfigError(
                f"AZURE_KEY_VAULT_CA_FILE is only honoured when every vault is on a loopback "
                f"address (the local emulator); a vault in {SHARDS} is not"
            )
        org_vaults = _check_org_vaults(self.key_vault_org_vaults, shards)
        object.__setattr__(self, "key_vault_shards", MappingProxyType(shards))
        object.__setattr__(self, "key_vault_org_vaults", MappingProxyType(org_vaults))
        if not self.table_name.isalnum() or not 3 <= len(self.table_name) <= 63 or \
                not self.table_name[0].isalpha():
            raise ConfigError(
                "setting CONFIG_TABLE_NAME must be 3-63 letters and digits starting with a "
                f"letter, got {self.table_name!r}"
            )

    def vault_url_for(self, scope: str) -> str | None:
        """The vault holding ``scope``'s secrets: its shard's URL for a mapped org, else
        ``AZURE_KEY_VAULT_URL`` (GLOBAL and unmapped orgs; ``None`` when no vault is set).

        >>> s = Settings(key_vault_url="https://main.vault.azure.net",
        ...              key_vault_shards={"eu": "https://eu.vault.azure.net"},
        ...              key_vault_org_vaults={"Acme": "eu"})
        >>> s.vault_url_for("acme"), s.vault_url_for("GLOBAL")
        ('https://eu.vault.azure.net', 'https://main.vault.azure.net')
        """
        canonical = canonical_scope(scope)
        shard = None if canonical == GLOBAL else self.key_vault_org_vaults.get(canonical)
        return self.key_vault_url if shard is None else self.key_vault_shards[shard]

    @property
    def is_development(self) -> bool:
        return self.environment.lower() == "development"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``env`` (default: ``os.environ``); bad values raise ConfigError."""
        env = os.environ if env is None else env
        connection = env.get("CONFIG_STORAGE_CONNECTION") or env.get("AzureWebJobsStorage") or None
        return cls(
            storage_connection=connection,
            storage_endpoint=env.get("CONFIG_STORAGE_ENDPOINT") or None,
            table_name=env.get("CONFIG_TABLE_NAME") or "Config",
            key_vault_url=(env.get("AZURE_KEY_VAULT_URL") or "").strip() or None,
            key_vault_ca_file=_ca_file(env),
            key_vault_shards=_json_object(env, SHARDS, '{"eu": "https://eu-vault.vault.azure.net"}'),
            key_vault_org_vaults=_json_object(env, ORG_VAULTS, '{"acme": "eu"}'),
            config_cache_ttl=_number(env, "CONFIG_CACHE_TTL_SECONDS", 30),
            secret_cache_ttl=_number(env, "SECRET_CACHE_TTL_SECONDS", 3600),
            secret_not_found_ttl=_number(env, "SECRET_NOT_FOUND_TTL_SECONDS", 300),
            secret_env_fallback=_flag(env, "SECRET_ENV_FALLBACK", True),
            secret_name_index=_flag(env, "SECRET_NAME_INDEX", True),
            max_stale_seconds=_number(env, "MAX_STALE_SECONDS", 86400),
            backend_timeout=_number(env, "BACKEND_TIMEOUT_SECONDS", 5, minimum=0.01),
            coherence_check_seconds=_number(env, "COHERENCE_CHECK_SECONDS", 5),
            history_max_per_key=_count(env, "CONFIG_HISTORY_MAX_PER_KEY", 100, minimum=50),
            environment=env.get("AZURE_FUNCTIONS_ENVIRONMENT") or "Production",
            breaker_threshold=int(_number(env, "BREAKER_FAILURE_THRESHOLD", 5, minimum=1)),
            breaker_cooldown=_number(env, "BREAKER_COOLDOWN_SECONDS", 10),
            trust_dev_principal=_flag(env, "ORGCONFIG_TRUST_DEV_PRINCIPAL", False),
            platform_auth_enabled=_flag(env, "WEBSITE_AUTH_ENABLED", False),
            expiry_warning_days=_number(env, "SECRET_EXPIRY_WARNING_DAYS", 30),
            expired_policy=cast(ExpiredPolicy, _choice(
                env, "SECRET_EXPIRED_POLICY", "serve", ("serve", "refuse"))),
            running_in_azure=bool((env.get("WEBSITE_INSTANCE_ID") or "").strip()),
        )

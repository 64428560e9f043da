"""Settings from environment variables (``local.settings.json`` Values under ``func start``)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast
from urllib.parse import urlsplit

from shared.errors import ConfigError

ExpiredPolicy = Literal["serve", "refuse"]
_TRUE = {"1", "true", "yes", "on"}
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


@dataclass(frozen=True)
class Settings:
    """Every setting of DESIGN.md, with its default. Build with :meth:`from_env`."""

    storage_connection: str | None = None
    storage_endpoint: str | None = None
    table_name: str = "Config"
    key_vault_url: str | None = None
    key_vault_ca_file: str | None = None
    config_cache_ttl: float = 30.0
    secret_cache_ttl: float = 3600.0
    secret_not_found_ttl: float = 300.0
    secret_env_fallback: bool = True
    #: list the vault's names once per not-found TTL instead of a GET (404) per org
    secret_name_index: bool = True
    max_stale_seconds: float = 86400.0
    backend_timeout: float = 5.0
    coherence_check_seconds: float = 5.0
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
        if not self.table_name.isalnum() or not 3 <= len(self.table_name) <= 63 or \
                not self.table_name[0].isalpha():
            raise ConfigError(
                "setting CONFIG_TABLE_NAME must be 3-63 letters and digits starting with a "
                f"letter, got {self.table_name!r}"
            )

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
            key_vault_ca_file=env.get("AZURE_KEY_VAULT_CA_FILE") or None,
            config_cache_ttl=_number(env, "CONFIG_CACHE_TTL_SECONDS", 30),
            secret_cache_ttl=_number(env, "SECRET_CACHE_TTL_SECONDS", 3600),
            secret_not_found_ttl=_number(env, "SECRET_NOT_FOUND_TTL_SECONDS", 300),
            secret_env_fallback=_flag(env, "SECRET_ENV_FALLBACK", True),
            secret_name_index=_flag(env, "SECRET_NAME_INDEX", True),
            max_stale_seconds=_number(env, "MAX_STALE_SECONDS", 86400),
            backend_timeout=_number(env, "BACKEND_TIMEOUT_SECONDS", 5, minimum=0.01),
            coherence_check_seconds=_number(env, "COHERENCE_CHECK_SECONDS", 5),
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

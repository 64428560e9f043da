"""Key Vault clients: the async SecretClient the stores use, and, for a vault on a loopback
address (the local emulator), a development credential and a transport that trusts the
emulator's CA. Also :func:`vault_time`, the SDK's dates as aware datetimes."""

from __future__ import annotations

import logging
import ssl
import time
from datetime import datetime
from typing import Any

import aiohttp
from azure.core.credentials import AccessToken
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.pipeline.transport import AioHttpTransport
from azure.keyvault.secrets.aio import SecretClient

from shared.errors import (
    ConfigError,
)
from shared.settings import Settings, is_loopback_url

log = logging.getLogger("orgconfig.secret_store")

def vault_time(value: object) -> datetime | None:
    """A Key Vault date attribute as a datetime, None when there is none or it is no date:
    for a Unix time past year 9999 the SDK hands back the bare number it could not convert."""
    return value if isinstance(value, datetime) else None


class LocalDevelopmentCredential:
    """A token for the local Key Vault emulator only (it accepts any bearer token).

    Never used for a vault that is not on a loopback address: see :func:`make_credential`.
    """

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("orgconfig-local-development", int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> LocalDevelopmentCredential:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None


def uses_local_vault(settings: Settings) -> bool:
    """True for the local emulator: a loopback vault URL with AZURE_KEY_VAULT_CA_FILE."""
    return bool(
        settings.key_vault_ca_file and settings.key_vault_url
        and is_loopback_url(settings.key_vault_url)
    )


class LocalVaultTransport(AioHttpTransport):
    """The aiohttp transport with one TLS context trusting the emulator's CA.

    Given a CA *path*, azure-core builds a new SSLContext for every request, so aiohttp
    can never reuse a connection: each read would pay a TLS handshake.
    """

    def __init__(self, ca_file: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        try:
            self._ssl = ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"AZURE_KEY_VAULT_CA_FILE {ca_file!r} cannot be loaded ({exc.__class__.__name__}); "
                "point it at the certificate the emulator printed at start"
            ) from None

    async def open(self) -> None:
        session: aiohttp.ClientSession | None = self.session  # type: ignore[has-type]
        if session is None and self._session_owner and not self._has_been_opened:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._ssl),
                cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False,
            )
        await super().open()


def make_secret_client(
    settings: Settings, credential: AsyncTokenCredential, vault_url: str | None = None,
    **extra: Any,
) -> SecretClient:
    """A SecretClient on ``vault_url`` (default: AZURE_KEY_VAULT_URL) whose retries (which
    honour Retry-After) fit the backend timeout. ``extra``: more azure-core client options
    (e.g. the fleet benchmark's ``raw_response_hook``, which sees every attempt)."""
    vault_url = vault_url or settings.key_vault_url
    if not vault_url:
        raise ValueError("no vault configured")
    options: dict[str, Any] = {
        "retry_total": 3,
        "retry_backoff_factor": 0.2,
        "retry_backoff_max": 2,
        "connection_timeout": settings.backend_timeout,
        "read_timeout": settings.backend_timeout,
    }
    if uses_local_vault(settings):
        # the emulator's self-signed certificate, and no Azure AD resource check on loopback
        options["transport"] = LocalVaultTransport(str(settings.key_vault_ca_file))
        options["verify_challenge_resource"] = False
    return SecretClient(vault_url, credential, **{**options, **extra})

"""Azure SDK clients for the benchmark, built the same way for every contender.

Table Storage: Azurite answers in well under a millisecond, so a pipeline policy sleeps
``table_delay_ms`` before every HTTP attempt to model an Azure round trip, and counts the
attempt. It sits after the retry policy (``per_retry_policies``), so retries are delayed
and counted too. Key Vault: the emulator itself adds its latency, and counts requests.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from azure.core.credentials import AccessToken
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import AsyncHTTPPolicy, HTTPPolicy
from azure.data.tables import TableClient as SyncTableClient
from azure.data.tables.aio import TableClient
from azure.keyvault.secrets import SecretClient as SyncSecretClient
from azure.keyvault.secrets.aio import SecretClient

from shared.backends.vault_clients import LocalDevelopmentCredential, make_secret_client
from shared.settings import Settings

#: The resolver's own Table client options (shared/resolver.py), used for every contender.
TABLE_OPTIONS: dict[str, Any] = {"retry_total": 2, "retry_backoff_factor": 0.2}
VAULT_OPTIONS: dict[str, Any] = {"retry_total": 3, "retry_backoff_factor": 0.2,
                                 "retry_backoff_max": 2}
TIMEOUT_S = 5.0


@dataclass(frozen=True)
class BackendInfo:
    """Where the running services are; passed to each contender's subprocess as JSON."""

    table_connection: str
    table_name: str
    vault_url: str
    ca_file: str
    control_url: str
    table_delay_ms: float
    vault_latency_ms: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def settings(self, **overrides: Any) -> Settings:
        """orgconfig Settings for these backends (defaults otherwise: the TTLs under test)."""
        values: dict[str, Any] = {
            "storage_connection": self.table_connection, "table_name": self.table_name,
            "key_vault_url": self.vault_url, "key_vault_ca_file": self.ca_file,
            "backend_timeout": TIMEOUT_S,
        }
        values.update(overrides)
        return Settings(**values)


class RequestCounter:
    """HTTP requests sent to Table Storage by this process (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def incr(self) -> None:
        with self._lock:
            self.count += 1

    def reset(self) -> int:
        with self._lock:
            count, self.count = self.count, 0
        return count


TABLE_REQUESTS = RequestCounter()


class AsyncTableDelay(AsyncHTTPPolicy):
    """Counts each table HTTP attempt and delays it by ``delay_s`` (an Azure round trip)."""

    def __init__(self, delay_s: float, counter: RequestCounter = TABLE_REQUESTS) -> None:
        super().__init__()
        self.delay_s = delay_s
        self.counter = counter

    async def send(self, request: PipelineRequest) -> PipelineResponse:
        self.counter.incr()
        if self.delay_s > 0:
            await asyncio.sleep(self.delay_s)
        return await self.next.send(request)


class SyncTableDelay(HTTPPolicy):
    """The blocking twin of :class:`AsyncTableDelay`, for the sync (Powertools) clients."""

    def __init__(self, delay_s: float, counter: RequestCounter = TABLE_REQUESTS) -> None:
        super().__init__()
        self.delay_s = delay_s
        self.counter = counter

    def send(self, request: PipelineRequest) -> PipelineResponse:
        self.counter.incr()
        if self.delay_s > 0:
            time.sleep(self.delay_s)
        return self.next.send(request)


def table_client(info: BackendInfo) -> TableClient:
    """An aio TableClient with the resolver's options, the delay and the counter."""
    return TableClient.from_connection_string(
        info.table_connection, info.table_name,
        per_retry_policies=[AsyncTableDelay(info.table_delay_ms / 1000)],
        connection_timeout=TIMEOUT_S, read_timeout=TIMEOUT_S, **TABLE_OPTIONS,
    )


def sync_table_client(info: BackendInfo) -> SyncTableClient:
    return SyncTableClient.from_connection_string(
        info.table_connection, info.table_name,
        per_retry_policies=[SyncTableDelay(info.table_delay_ms / 1000)],
        connection_timeout=TIMEOUT_S, read_timeout=TIMEOUT_S, **TABLE_OPTIONS,
    )


def secret_client(info: BackendInfo) -> SecretClient:
    """An aio SecretClient with the resolver's options (``make_secret_client``), trusting the
    emulator's CA through ``SSL_CERT_FILE`` (set by the parent for each subprocess).

    ``make_secret_client`` passes the CA file as ``connection_verify``; with a path there,
    azure-core builds a new SSLContext for every request, and aiohttp, which pools
    connections per SSLContext, then opens a new TLS connection for every request. Azure
    uses the system trust store and keeps connections alive; so does this client.
    """
    return SecretClient(
        info.vault_url, LocalDevelopmentCredential(), verify_challenge_resource=False,
        connection_timeout=TIMEOUT_S, read_timeout=TIMEOUT_S, **VAULT_OPTIONS,
    )


def seeding_secret_client(info: BackendInfo) -> SecretClient:
    """The resolver's own client for the emulator (CA file as ``connection_verify``)."""
    return make_secret_client(info.settings(), LocalDevelopmentCredential())


def subprocess_env(info: BackendInfo) -> dict[str, str]:
    """Environment for a measurement subprocess: trust the emulator's CA by default."""
    return {**os.environ, "SSL_CERT_FILE": info.ca_file}


class SyncLocalCredential:
    """A sync token for the emulator (it accepts any bearer token), for sync SDK clients."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("orgconfig-bench", int(time.time()) + 3600)


def sync_secret_client_options(info: BackendInfo) -> dict[str, Any]:
    """What a sync SecretClient needs for the emulator: its CA file and no resource check."""
    return {
        "connection_verify": info.ca_file, "verify_challenge_resource": False,
        "connection_timeout": TIMEOUT_S, "read_timeout": TIMEOUT_S, **VAULT_OPTIONS,
    }


def sync_secret_client(info: BackendInfo) -> SyncSecretClient:
    return SyncSecretClient(
        info.vault_url, SyncLocalCredential(), **sync_secret_client_options(info)
    )

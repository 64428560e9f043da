"""Response bodies of the health routes (pydantic; the OpenAPI schemas come from here)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.admin.health import Failure, Status


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class ExpiringSecretInfo(BaseModel):
    """A secret expired or expiring soon (from the secret catalog; never a value)."""

    name: str
    vault_name: str
    expires_on: datetime
    state: Literal["expired", "expiring"]


class VaultProbe(BaseModel):
    """One configured vault's answer to the probe."""

    vault: str
    status: Status
    vault_url: str | None = None
    latency_ms: float | None = None
    last_success: datetime | None = None
    failure: Failure | None = None
    guidance: str | None = None
    checked_at: datetime


class KeyVaultHealth(BaseModel):
    """Whether this instance reaches Key Vault; ``failure`` and ``guidance`` when it does not.
    With several vaults the status is the worst of ``vaults`` (one probe per vault, at
    once); the other top-level fields are the default vault's."""

    status: Status
    vault_url: str | None = None
    latency_ms: float | None = None
    last_success: datetime | None = None
    failure: Failure | None = None
    guidance: str | None = None
    checked_at: datetime
    #: ``default`` (AZURE_KEY_VAULT_URL): the vault the top-level fields describe
    vault: str | None = None
    #: every configured vault (the default first, then AZURE_KEY_VAULT_SHARDS)
    vaults: list[VaultProbe] = Field(default_factory=list)
    #: this instance's resolver counters (cache hits and misses, backend calls, stale
    #: serves, breaker opens and fast-fails, coherence checks)
    metrics: dict[str, int] = Field(default_factory=dict)
    #: circuit breaker per backend: state, consecutive failures, last error
    breakers: dict[str, dict[str, str | int | float | None]] = Field(default_factory=dict)
    #: ``in_use`` (a reconcile has run), ``absent`` (the name index decides),
    #: ``unavailable`` (the table did not answer in time) or ``not_configured`` (no vault)
    catalog: Literal["in_use", "absent", "unavailable", "not_configured"] = "not_configured"
    catalog_reconciled_at: datetime | None = None
    #: per scope: its secrets expired or expiring within SECRET_EXPIRY_WARNING_DAYS
    expiring_secrets: dict[str, list[ExpiringSecretInfo]] = Field(default_factory=dict)

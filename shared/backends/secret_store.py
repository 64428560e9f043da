"""Secrets: Key Vault (azure-keyvault-secrets aio) with the environment as a fallback.

For a ``secret_ref`` named ``name`` read by org ``acme`` the chain is::

    Key Vault  acme--name  ->  Key Vault  GLOBAL--name  ->  env ACME__NAME  ->  env GLOBAL__NAME

With several vaults (:mod:`shared.backends.vaults`) ``acme--name`` is read from acme's vault and
``GLOBAL--name`` from the default vault; a full name lives in one vault only, so one cache
serves them all.

Each Key Vault answer, found or not-found, is cached under its full (case-folded)
vault name, so a GLOBAL secret is fetched once for every org and a GLOBAL-only
secret costs each org one 404 per ``SECRET_NOT_FOUND_TTL_SECONDS``. Concurrent
misses share one call. Values are held as ``SecretStr`` and never logged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from azure.core.exceptions import (
    ResourceNotFoundError,
)
from azure.keyvault.secrets.aio import SecretClient
from pydantic import SecretStr

from shared.backends.catalog import CatalogRecord, changed_names, still_current
from shared.backends.name_index import VaultNameIndex
from shared.backends.vault_clients import vault_time
from shared.backends.vaults import ClientFactory, Vault, VaultSet, vault_lookup_plan
from shared.core import audit, telemetry
from shared.core.breaker import CircuitBreaker
from shared.core.cache import ExpiringCache, Lookup, RateLimitedWarning, StaleReporter
from shared.core.metrics import Metrics
from shared.core.naming import GLOBAL, keyvault_name, lookup_chain, split_keyvault_name
from shared.errors import (
    BackendUnavailableError,
    SecretAccessError,
    SecretExpiredError,
    SecretNotFoundError,
)
from shared.settings import Settings

log = logging.getLogger("orgconfig.secret_store")
T = TypeVar("T")
BACKEND = "Key Vault"


@dataclass(frozen=True, slots=True)
class VaultAnswer:
    """What the vault said about one full secret name."""

    found: bool
    value: SecretStr | None = None
    #: the version's expiry (Key Vault still returns an expired secret's value)
    expires_on: datetime | None = None
    #: the version read and its last update: what the catalog is compared with
    version: str | None = None
    updated_on: datetime | None = None


@dataclass(frozen=True)
class SecretResolution:
    """Where a secret came from. ``value`` is a SecretStr: its repr never shows the value."""

    value: SecretStr
    source: str
    tried: list[str]
    cache_hit: bool
    age_seconds: float
    stale: bool = False
    #: vault names the secret catalog answered "absent" (no request, no cache entry)
    catalog_absent: tuple[str, ...] = ()
    #: the vault version's expiry, if it has one
    expires_on: datetime | None = None
    #: how the cache answered (:attr:`shared.core.cache.Lookup.outcome`; ``none`` for env)
    cache: str = "none"


@dataclass
class SecretStore:
    """The secret chain of the module docstring, with its caches and audit records."""

    settings: Settings
    metrics: Metrics
    #: builds a vault's client: called with no argument for the default vault
    #: (AZURE_KEY_VAULT_URL), with the vault's URL for a shard (:mod:`shared.backends.vaults`)
    client_factory: ClientFactory
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    #: ``(scope, name) -> bool | None``: whether the secret catalog lists that secret
    #: (no request; None when it cannot tell). See :mod:`shared.backends.catalog`.
    catalog: Callable[[str, str], bool | None] | None = None
    #: ``(scope, name) -> CatalogRecord | None``: the catalog's row as of the snapshots held
    #: (None when the catalog cannot tell): a cached secret the row says is unchanged is
    #: renewed without a vault request (revalidation by version)
    catalog_record: Callable[[str, str], CatalogRecord | None] | None = None

    def __post_init__(self) -> None:
        self._drift_log = RateLimitedWarning(log, "catalog")
        self._expired_log = RateLimitedWarning(log, "expiry")
        #: one cache for every vault: a full name lives in exactly one vault (its scope's)
        self.cache: ExpiringCache[str, VaultAnswer] = ExpiringCache(
            max_stale=self.settings.max_stale_seconds,
            on_stale=StaleReporter(self.metrics, "secret.stale_refresh_failed", "secret", log),
        )
        self.vaults = VaultSet(self.settings, self.metrics, self.client_factory)

    @property
    def vault_configured(self) -> bool:
        return bool(self.settings.key_vault_url)

    def vault_for(self, scope: str) -> Vault:
        """The vault holding ``scope``'s secrets (:mod:`shared.backends.vaults`)."""
        return self.vaults.for_scope(scope)

    @property
    def client(self) -> SecretClient:
        """The default vault's client (``AZURE_KEY_VAULT_URL``), created on first use."""
        return self.vaults.default.client

    @property
    def breaker(self) -> CircuitBreaker:
        """The default vault's circuit breaker (each vault has its own)."""
        return self.vaults.default.breaker

    @property
    def index(self) -> VaultNameIndex | None:
        """The default vault's name index (each vault has its own), if any."""
        return self.vaults.default.index if self.vault_configured else None

    async def aclose(self) -> None:
        await self.cache.aclose()
        await self.vaults.aclose()

    # -- the vault ---------------------------------------------------------------------
    async def call_vault(self, what: str, op: Callable[[], Awaitable[T]],
                         scope: str = GLOBAL) -> T:
        """One operation on ``scope``'s vault (default: the default vault) through its
        circuit breaker, within BACKEND_TIMEOUT_SECONDS, its failures mapped to orgconfig's
        errors."""
        return await self.vault_for(scope).call(what, op)

    def _vault_of(self, full_name: str) -> Vault:
        """The vault a full name belongs in: its scope's (the default for a name outside
        orgconfig's scheme, which no chain produces)."""
        parts = split_keyvault_name(full_name)
        return self.vaults.default if parts is None else self.vault_for(parts[0])

    async def lookup_vault(
        self, full_name: str, *, cataloged: bool | None = None, vault: Vault | None = None
    ) -> Lookup[VaultAnswer]:
        """The cached vault answer for one full name (single-flight on a miss).
        ``cataloged=True``: the catalog lists it, so the name index is not consulted and
        a 404 is drift. ``vault``: where to ask (default: the vault of the name's scope)."""
        settings = self.settings
        vault = vault if vault is not None else self._vault_of(full_name)

        async def load() -> tuple[VaultAnswer, float]:
            held = self.cache.peek(full_name.lower())
            if held is not None and self._still_current(full_name, held.value):
                vault.incr("vault.revalidated")  # the catalog names the same version
                return held.value, settings.secret_cache_ttl
            if cataloged is None and vault.index is not None and \
                    not vault.index.may_exist(full_name):
                vault.incr("vault.index_not_found")
                return VaultAnswer(False), settings.secret_not_found_ttl
            vault.incr("vault.get")
            with telemetry.span("orgconfig.vault.get", {
                telemetry.VAULT: vault.name, telemetry.SECRET: full_name,
                telemetry.BREAKER_STATE: vault.breaker.state,
            }) as span:
                try:
                    secret = await vault.call(
                        full_name, lambda: vault.client.get_secret(full_name), operation="get")
                except ResourceNotFoundError:
                    span.set_attribute(telemetry.OUTCOME, "not_found")
                    vault.incr("vault.not_found")
                    audit.secret_fetched("keyvault", full_name, found=False)
                    if cataloged:
                        self.metrics.incr("catalog.drift")
                        self._drift_log(
                            full_name, "the catalog lists secret %s but Key Vault has no "
                            "such secret: falling back along the chain; the next reconcile "
                            "repairs the catalog", full_name,
                        )
                    return VaultAnswer(False), settings.secret_not_found_ttl
                span.set_attribute(telemetry.OUTCOME,
                                   "found" if secret.value is not None else "no_value")
            audit.secret_fetched("keyvault", full_name, found=secret.value is not None)
            if secret.value is None:
                return VaultAnswer(False), settings.secret_not_found_ttl
            props = secret.properties
            return VaultAnswer(True, SecretStr(secret.value), vault_time(props.expires_on),
                               props.version, vault_time(props.updated_on)), \
                settings.secret_cache_ttl

        lookup = await self.cache.get(full_name.lower(), load)
        self.metrics.incr("secret.cache_hit" if lookup.hit else "secret.cache_miss")
        if lookup.stale:
            self.metrics.incr("secret.stale_served")
        return lookup

    def _still_current(self, full_name: str, answer: VaultAnswer) -> bool:
        """A held value the catalog says is still the current, enabled version."""
        parts = split_keyvault_name(full_name)
        if not answer.found or parts is None or self.catalog_record is None:
            return False
        return still_current(self.catalog_record(*parts), answer.version, answer.updated_on)

    def revalidate_held(self, scope: str, records: Mapping[str, CatalogRecord]) -> int:
        """After a snapshot of ``scope`` loads: drop each held secret of that scope that
        its catalog rows say changed (a newer version, disabled, deleted), before its TTL.
        ``records``: the snapshot's rows by lower-cased name. Returns how many."""
        stale = changed_names(scope, records, {
            key: (held.value.version, held.value.updated_on) for key in list(self.cache.keys())
            if (held := self.cache.peek(key)) is not None and held.value.found})
        for key in stale:
            self.cache.invalidate(key)
        if stale:
            self.metrics.incr("secret.revalidation_dropped", len(stale))
        return len(stale)

    # -- the chain ---------------------------------------------------------------------
    async def resolve(self, org_id: str, key: str, secret_name: str) -> SecretResolution:
        """Resolve ``secret_name`` for ``org_id`` through the chain. A failure is audited
        every time; a success is counted in the workflow run under way (its one record
        lists the secrets it read); a value from the environment is audited as a fetch
        (Key Vault fetches are audited where they happen, in :meth:`lookup_vault`)."""
        tried: list[str] = []
        lookups: list[str] = []
        try:
            resolution = await self._resolve(org_id, secret_name, tried, lookups)
        except SecretAccessError as exc:
            audit.secret_failed(org_id, key, secret_name, "denied", tried, error=exc)
            raise
        except BackendUnavailableError as exc:
            audit.secret_failed(org_id, key, secret_name, "unavailable", tried, error=exc)
            raise
        finally:
            span = telemetry.trace.get_current_span()
            if lookups and span.is_recording():
                span.set_attribute(telemetry.LOOKUPS, lookups)
        if resolution is None:
            audit.secret_failed(org_id, key, secret_name, "not_found", tried)
            raise SecretNotFoundError(org_id, key, secret_name, tried)
        from_env = resolution.source.startswith("env:")
        if from_env:
            audit.secret_fetched("env", resolution.source[4:], found=True, org_id=org_id,
                                 config_key=key)
        audit.note_secret_read(secret_name, resolution.source,
                               fetched=from_env or not resolution.cache_hit)
        return resolution

    async def _resolve(
        self, org_id: str, secret_name: str, tried: list[str], lookups: list[str]
    ) -> SecretResolution | None:
        """The chain; ``tried`` gets each name asked, ``lookups`` how each vault name was
        answered (``name=hit|miss|stale|joined|negative|catalog_absent``: telemetry)."""
        vault_error: Exception | None = None
        env_names = lookup_chain(org_id, secret_name)[1]
        absent: list[str] = []
        if self.vault_configured:
            plan = vault_lookup_plan(self.settings, org_id, secret_name)
            for scope, (vault_name, full_name) in zip((org_id, GLOBAL), plan, strict=True):
                tried.append(f"keyvault:{full_name}")
                cataloged = self.catalog(scope, secret_name) if self.catalog else None
                if cataloged is False:
                    self.metrics.incr("vault.catalog_absent")  # known absent: no request
                    absent.append(full_name.lower())
                    lookups.append(f"{full_name}=catalog_absent")
                    continue
                try:
                    lookup = await self.lookup_vault(
                        full_name, cataloged=cataloged, vault=self.vaults.named(vault_name))
                except (BackendUnavailableError, SecretAccessError) as exc:
                    if not self._may_fall_back(exc):
                        raise
                    log.warning(
                        "Key Vault failed for %s (%s); Development: trying the environment",
                        full_name, exc.__class__.__name__,
                    )
                    vault_error = exc
                    break
                answer = lookup.value
                negative = lookup.hit and not lookup.stale and not answer.found
                lookups.append(f"{full_name}={'negative' if negative else lookup.outcome}")
                if answer.found and answer.value is not None:
                    self._check_expiry(full_name, answer.expires_on)
                    return SecretResolution(
                        answer.value, f"keyvault:{full_name}", tried, lookup.hit,
                        lookup.age, lookup.stale, tuple(absent), answer.expires_on,
                        lookup.outcome,
                    )
        if self.settings.secret_env_fallback:
            for env_name in env_names:
                tried.append(f"env:{env_name}")
                value = self.environ.get(env_name)
                if value:
                    self.metrics.incr("env.hit")
                    return SecretResolution(SecretStr(value), f"env:{env_name}", tried, False,
                                            0.0, catalog_absent=tuple(absent))
        if vault_error is not None:
            raise vault_error
        return None

    def _check_expiry(self, full_name: str, expires_on: datetime | None) -> None:
        """An expired secret is served with a warning, or refused, by SECRET_EXPIRED_POLICY
        (Key Vault returns it either way)."""
        if expires_on is None or expires_on > datetime.now(UTC):
            return
        when = expires_on.isoformat(timespec="seconds")
        if self.settings.expired_policy == "refuse":
            self.metrics.incr("secret.expired_refused")
            raise SecretExpiredError(full_name, when)
        self.metrics.incr("secret.expired_served")
        self._expired_log(
            full_name, "serving secret %s although it expired at %s (SECRET_EXPIRED_POLICY="
            "serve): set a new version before its consumers are locked out", full_name, when,
        )

    def _may_fall_back(self, exc: Exception) -> bool:
        """Only Development may use env after a vault auth/network failure; a 403 never."""
        if not (self.settings.is_development and self.settings.secret_env_fallback):
            return False
        if isinstance(exc, SecretAccessError):
            return exc.reason == "authentication"
        return True

    def invalidate(self, scope: str | None = None, secret_name: str | None = None) -> None:
        """Forget cached vault answers: of one scoped name, of a name in every scope, of a
        scope, or everything. The name index of the vault concerned (of each vault, when
        the scope is not known) learns that the name may now exist."""
        vaults = list(self.vaults)
        if scope is None and secret_name is None:
            self.cache.clear()
            for vault in vaults:
                if vault.index is not None:
                    vault.index.note_change()
            return
        if scope is not None and secret_name is not None:
            full_name = keyvault_name(scope, secret_name).lower()
            self.cache.invalidate(full_name)
            index = self.vault_for(scope).index if vaults else None
            if index is not None:
                index.note_change(full_name)
            return
        if secret_name is not None:
            suffix = f"--{secret_name}".lower()
            for vault in vaults:
                if vault.index is not None:
                    vault.index.note_change()
            self.cache.invalidate_where(lambda k: k.endswith(suffix))
            return
        prefix = f"{scope}--".lower()
        index = self.vault_for(str(scope)).index if vaults else None
        if index is not None:
            index.note_change(scope=str(scope))
        self.cache.invalidate_where(lambda k: k.startswith(prefix))

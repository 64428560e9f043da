"""ConfigResolver: one per process; owns the stores, their clients, caches and metrics.

>>> async with ConfigResolver() as resolver:          # doctest: +SKIP
...     ctx = resolver.context("acme")
...     host = await ctx.get_config("smtp_host")

Clients and credentials are created lazily, on first use, inside the running event
loop (never at import time), reused for every context, and closed by ``aclose``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.data.tables.aio import TableClient
from azure.keyvault.secrets.aio import SecretClient

from shared.backends.config_rows import ConfigSnapshot
from shared.backends.config_store import ConfigStore
from shared.backends.org_registry import OrgRegistry
from shared.backends.secret_store import SecretResolution, SecretStore
from shared.backends.vault_clients import (
    LocalDevelopmentCredential,
    make_secret_client,
    uses_local_vault,
)
from shared.context import OrganizationContext
from shared.core.cache import Lookup
from shared.core.metrics import Metrics
from shared.core.naming import GLOBAL, canonical_org_id, canonical_scope, validate_secret_name
from shared.core.values import ConfigEntry
from shared.errors import ConfigError, InvalidNameError
from shared.read.answers import Answer, AnswerMemo
from shared.read.coherence import (
    DELAYED,
    Change,
    ChangeSentinel,
    Propagation,
    propagation_until,
)
from shared.settings import Settings

log = logging.getLogger("orgconfig.resolver")
#: the scope of a sentinel change that drops every cached snapshot and secret
EVERYTHING = "*"
_TABLE_OPTIONS: dict[str, Any] = {"retry_total": 2, "retry_backoff_factor": 0.2}
#: what a resolver does the first time it finds no secret catalog: called with the resolver,
#: it starts the build in the background and returns its task (None: nothing started)
CatalogMissingHook = Callable[["ConfigResolver"], "asyncio.Future[Any] | None"]


class ConfigResolver:
    """Resolves configuration for organizations. Use as ``async with`` or call ``aclose``."""

    def __init__(
        self, settings: Settings | None = None, *, environ: Mapping[str, str] | None = None
    ) -> None:
        """``environ`` is where the env fallback looks (default: ``os.environ``)."""
        self.settings = settings if settings is not None else Settings.from_env()
        self._environ = environ if environ is not None else os.environ
        self.metrics = Metrics()
        #: memoized final answers per org and key: the warm path of get_config
        self.answers = AnswerMemo(self.metrics)
        self._credential: AsyncTokenCredential | None = None
        self._local_credential = LocalDevelopmentCredential()
        self._config: ConfigStore | None = None
        self._secrets: SecretStore | None = None
        self._coherence: ChangeSentinel | None = None
        self._orgs: OrgRegistry | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._watching = False
        self.metrics.add_gauge("cache.entries", self._cache_sizes)
        self.metrics.add_gauge("cache.oldest_stale_age", self._stale_ages)
        #: called once, when the first GLOBAL snapshot shows no catalog marker (the admin
        #: side's first build, wired from above: :func:`when_catalog_missing`)
        self.on_catalog_missing: CatalogMissingHook | None = None
        self._catalog_missing_seen = False

    def _cache_sizes(self) -> list[tuple[dict[str, str], float]]:
        """Entries per cache (the ``orgconfig.cache.entries`` gauge)."""
        sizes = [({"orgconfig.cache": "answer"}, float(len(self.answers)))]
        if self._config is not None:
            sizes.append(({"orgconfig.cache": "config"}, float(len(self._config.snapshots))))
        if self._secrets is not None:
            sizes.append(({"orgconfig.cache": "secret"}, float(len(self._secrets.cache))))
        return sizes

    def _stale_ages(self) -> list[tuple[dict[str, str], float]]:
        """The oldest stale value's age per cache (``orgconfig.cache.oldest_stale_age``)."""
        ages = []
        if self._config is not None:
            ages.append(({"orgconfig.cache": "config"},
                         self._config.snapshots.oldest_stale_age()))
        if self._secrets is not None:
            ages.append(({"orgconfig.cache": "secret"}, self._secrets.cache.oldest_stale_age()))
        return ages

    def __repr__(self) -> str:
        return (
            f"ConfigResolver(table={self.settings.table_name!r}, "
            f"vault={self.settings.key_vault_url!r}, "
            f"shards={len(self.settings.key_vault_shards)})"
        )

    # -- lifecycle ----------------------------------------------------------------------
    async def __aenter__(self) -> ConfigResolver:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def run_in_background(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``work`` on this resolver's loop, cancelled when the resolver closes (work
        the admin side starts: building the catalog on first use)."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def aclose(self) -> None:
        """Close every client and credential this resolver created."""
        self._closed = True
        self.answers.clear()
        for task in list(self._background):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        if self._coherence is not None:
            await self._coherence.aclose()
        if self._config is not None:
            await self._config.aclose()
        if self._secrets is not None:
            await self._secrets.aclose()
        if self._credential is not None:
            await self._credential.close()
            self._credential = None
        self.metrics.retire()  # its counts stay in the process totals; its gauges go

    def _azure_credential(self) -> AsyncTokenCredential:
        if self._credential is None:
            from azure.identity.aio import DefaultAzureCredential

            self._credential = DefaultAzureCredential()
        return self._credential

    def _table_client(self) -> TableClient:
        s = self.settings
        timeouts: dict[str, Any] = {
            "connection_timeout": s.backend_timeout, "read_timeout": s.backend_timeout,
        }
        if s.storage_endpoint:
            return TableClient(
                s.storage_endpoint, s.table_name, credential=self._azure_credential(),
                **_TABLE_OPTIONS, **timeouts,
            )
        if s.storage_connection:
            return TableClient.from_connection_string(
                s.storage_connection, s.table_name, **_TABLE_OPTIONS, **timeouts
            )
        raise ConfigError(
            "no config table configured: set CONFIG_STORAGE_CONNECTION (or AzureWebJobsStorage) "
            "to a connection string, or CONFIG_STORAGE_ENDPOINT for managed identity"
        )

    def _secret_client(self, vault_url: str | None = None) -> SecretClient:
        """A client of the default vault, or of the shard at ``vault_url``; every vault's
        client shares this resolver's one credential."""
        credential: AsyncTokenCredential
        if uses_local_vault(self.settings):
            credential = self._local_credential
        else:
            credential = self._azure_credential()
        return make_secret_client(self.settings, credential, vault_url)

    @property
    def config_store(self) -> ConfigStore:
        if self._closed:
            raise ConfigError("this ConfigResolver is closed; create a new one")
        if self._config is None:
            self._config = ConfigStore(self.settings, self.metrics, self._table_client)
            self._config.snapshots.on_invalidate = self.answers.clear
            self._config.on_catalog = self._revalidate_secrets
            self._config.on_catalog_missing = self._catalog_missing
        return self._config

    @property
    def secret_store(self) -> SecretStore:
        if self._closed:
            raise ConfigError("this ConfigResolver is closed; create a new one")
        if self._secrets is None:
            self._secrets = SecretStore(
                self.settings, self.metrics, self._secret_client, self._environ,
                catalog=lambda scope, name: self.config_store.catalog_presence(scope, name),
                catalog_record=lambda scope, name: self.config_store.catalog_entry(scope, name),
            )
            self._secrets.cache.on_invalidate = self.answers.clear
        return self._secrets

    def _revalidate_secrets(self, snapshot: ConfigSnapshot) -> None:
        """A snapshot's catalog rows, as they load: held secrets of its scope that changed
        (newer version, disabled, deleted) are dropped now, not at their TTL."""
        if self._secrets is not None:
            self._secrets.revalidate_held(snapshot.scope, snapshot.secrets)

    def _catalog_missing(self) -> None:
        """A GLOBAL snapshot without the catalog marker. The first time (once per resolver,
        so per process): hand the catalog's build to :attr:`on_catalog_missing`, which runs
        it in the background, one instance at a time; while it runs, this instance's name
        indexes start no listing of their own (the build lists every vault)."""
        if self._catalog_missing_seen or self.on_catalog_missing is None or \
                self._closed or not self.settings.key_vault_url:
            return
        self._catalog_missing_seen = True
        try:
            work = self.on_catalog_missing(self)
        except Exception as exc:  # never fail the read that noticed: the timer builds it
            log.warning("could not start building the secret catalog (%s); the hourly "
                        "reconcile will", exc.__class__.__name__)
            return
        if work is None:
            return
        for vault in self.secret_store.vaults:
            if vault.index is not None:
                vault.index.hold_until(work)

    @property
    def orgs(self) -> OrgRegistry:
        """The org registry (its answers cached like a snapshot)."""
        if self._orgs is None:
            self._orgs = OrgRegistry(self.config_store, self.settings.config_cache_ttl)
        return self._orgs

    @property
    def coherence(self) -> ChangeSentinel:
        """The change sentinel shared by every instance over the config table."""
        if self._coherence is None:
            self._coherence = ChangeSentinel(
                self.config_store, self.metrics, self.settings.coherence_check_seconds,
                self._apply_changes,
            )
        return self._coherence

    def _apply_changes(self, changes: list[Change] | None) -> None:
        if changes is None:
            self.invalidate()
            return
        for change in changes:
            if change.scope == EVERYTHING:
                self.invalidate()
                continue
            try:
                self._drop(change.scope, change.secret)
            except InvalidNameError:
                log.warning("ignoring a change sentinel record with an invalid name")

    def _drop(self, scope: str, secret: str | None) -> None:
        """What one admin write invalidates: a secret's cached answers and its scope's
        snapshot (which holds the scope's secret catalog), or a scope's config snapshot (a
        config write leaves the vault, and so the cached secrets, as they were)."""
        if secret is not None:
            self.invalidate(scope, secret=secret)
        if self._config is not None:
            self._config.invalidate(scope)
        if self._orgs is not None:
            self._orgs.forget(scope)  # a registration or a status change

    # -- reading --------------------------------------------------------------------------
    def context(self, org_id: str) -> OrganizationContext:
        """The context of one organization (``org_id`` is canonicalized or rejected)."""
        return OrganizationContext(self, canonical_org_id(org_id))

    async def snapshots(
        self, org_id: str
    ) -> tuple[Lookup[ConfigSnapshot], Lookup[ConfigSnapshot]]:
        """The org's and GLOBAL's snapshots; a cold context loads both in parallel."""
        store = self.config_store
        if not self._watching:
            await self._start_watching()
        if store.snapshots.is_fresh(org_id) and store.snapshots.is_fresh(GLOBAL):
            return await store.snapshot(org_id), await store.snapshot(GLOBAL)
        org, glob = await asyncio.gather(store.snapshot(org_id), store.snapshot(GLOBAL))
        return org, glob

    async def find_entry(
        self, org_id: str, key: str
    ) -> tuple[ConfigEntry | None, Lookup[ConfigSnapshot]]:
        """The entry that applies to ``org_id`` (org overrides GLOBAL) and the snapshot
        lookup it came from."""
        org, glob = await self.snapshots(org_id)
        entry = org.value.get(key)
        if entry is not None:
            return entry, org
        return glob.value.get(key), glob

    # -- memoized answers (shared.read.answers) ---------------------------------------------
    def cache_generation(self) -> int:
        """Changes whenever either cache changes: taken before an answer is built and
        compared by :meth:`remember`."""
        return self.config_store.snapshots.generation + self.secret_store.cache.generation

    def remember(
        self, org_id: str, key: str, mark: int, value: Any, *,
        resolution: SecretResolution | None = None, secret_name: str | None = None,
    ) -> None:
        """Memoize the answer ``value`` for ``org_id``/``key``, built from the caches as
        they were at ``mark``, until the first of its inputs needs the backend again:
        the org's and GLOBAL's snapshots and, for a secret, the vault answers of every
        name tried. Nothing is kept if the caches changed since ``mark`` or an input
        is stale (see the docstring of shared.read.answers)."""
        snapshots, vault = self.config_store.snapshots, self.secret_store.cache
        if mark != snapshots.generation + vault.generation:
            return
        fresh = min(snapshots.fresh_for(org_id), snapshots.fresh_for(GLOBAL))
        counts: list[tuple[str, int]] = [("config.cache_hit", 2)]
        source = ""
        if resolution is not None:
            if resolution.stale:
                return
            if resolution.expires_on is not None:
                # an expired secret is never memoized: each read applies the expiry policy
                left = (resolution.expires_on - datetime.now(UTC)).total_seconds()
                if left <= 0:
                    return
                fresh = min(fresh, left)
            absent = resolution.catalog_absent  # answered by the snapshots' catalog rows
            names = [t[len("keyvault:"):].lower() for t in resolution.tried
                     if t.startswith("keyvault:") and t[len("keyvault:"):].lower() not in absent]
            for name in names:
                fresh = min(fresh, vault.fresh_for(name))
            if names:
                counts.append(("secret.cache_hit", len(names)))
            if absent:
                counts.append(("vault.catalog_absent", len(absent)))
            if resolution.source.startswith("env:"):
                counts.append(("env.hit", 1))
            source = resolution.source
        if fresh <= 0:
            return
        until = self.answers.clock() + fresh
        self.answers.store(org_id, key, Answer(value, until, tuple(counts), secret_name, source))

    # -- writers ------------------------------------------------------------------------
    async def _start_watching(self) -> None:
        if self.settings.coherence_check_seconds > 0:
            await self.coherence.start()
        self._watching = True

    async def notify_change(self, scope: str, *, secret: str | None = None
                            ) -> Propagation | None:
        """Call after every admin write: drops this process's cached state for what changed
        and tells other instances (one row in the change log) to do the same.

        The write itself has succeeded, so a failure to record the change is not raised:
        it is counted (``coherence.record_failed``), logged, retried in the background
        until it lands, and returned (and noted for the HTTP answer, see
        :data:`~shared.read.coherence.DELAYED`) as a :class:`Propagation` saying until when
        other instances may serve the old value."""
        scope = canonical_scope(scope)
        self._drop(scope, secret)
        return await self._record(scope, secret)

    async def notify_everything_changed(self) -> Propagation | None:
        """Like :meth:`notify_change` for every scope (the catalog's first reconcile)."""
        self.invalidate()
        return await self._record(EVERYTHING, None)

    async def _record(self, scope: str, secret: str | None) -> Propagation | None:
        if self.settings.coherence_check_seconds <= 0:
            return None
        try:
            await self.coherence.record(scope, secret)
        except ConfigError as exc:
            self.metrics.incr("coherence.record_failed")
            ttl = self.settings.config_cache_ttl if secret is None and scope != EVERYTHING \
                else max(self.settings.config_cache_ttl, self.settings.secret_cache_ttl)
            delayed = Propagation(scope, secret, propagation_until(ttl))
            log.warning("could not record the change of %s for other instances (%s); retrying "
                        "in the background; until then they may serve the old value until %s",
                        scope, exc, delayed.until.isoformat(timespec="seconds"))
            self.coherence.retry_in_background(scope, secret)
            DELAYED.set((*DELAYED.get(), delayed))
            return delayed
        return None

    def invalidate(self, scope: str | None = None, *, secret: str | None = None) -> None:
        """Drop cached state after a write.

        - ``invalidate()``: everything;
        - ``invalidate("acme")``: acme's config snapshot and its cached secrets;
        - ``invalidate("GLOBAL")``: the GLOBAL snapshot and GLOBAL secrets;
        - ``invalidate("acme", secret="smtp-password")``: that one secret;
        - ``invalidate(secret="smtp-password")``: that secret in every scope.
        """
        canonical = canonical_scope(scope) if scope is not None else None
        if secret is not None:
            validate_secret_name(secret)
            if self._secrets is not None:
                self._secrets.invalidate(canonical, secret)
            return
        if self._config is not None:
            self._config.invalidate(canonical)
        if self._secrets is not None:
            self._secrets.invalidate(canonical)
        if self._orgs is not None:
            self._orgs.forget(canonical)


_shared: ConfigResolver | None = None
_shared_catalog_missing: CatalogMissingHook | None = None


def when_catalog_missing(hook: CatalogMissingHook | None) -> CatalogMissingHook | None:
    """Set the :attr:`ConfigResolver.on_catalog_missing` of the process-wide resolvers
    :func:`get_resolver` creates from now on; returns the previous hook. The app's entry
    point (``function_app.py``) sets the admin side's first build of the secret catalog
    (this layer cannot import it); resolvers created directly (CLI, tools, tests) have
    none unless they set their own."""
    global _shared_catalog_missing
    previous, _shared_catalog_missing = _shared_catalog_missing, hook
    return previous


def get_resolver() -> ConfigResolver:
    """The process-wide resolver (created on first call, settings from the environment)."""
    global _shared
    if _shared is None or _shared._closed:
        _shared = ConfigResolver()
        _shared.on_catalog_missing = _shared_catalog_missing
    return _shared


async def reset_resolver() -> None:
    """Close and forget the process-wide resolver (tests, settings changes)."""
    global _shared
    if _shared is not None:
        await _shared.aclose()
    _shared = None

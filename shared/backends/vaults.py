"""The Key Vaults of a deployment and which scope's secrets live in which.

``AZURE_KEY_VAULT_URL`` is the *default* vault: GLOBAL's secrets and every org not listed
in ``AZURE_KEY_VAULT_ORG_VAULTS``. ``AZURE_KEY_VAULT_SHARDS`` names more vaults; a mapped
org's secrets are read from and written to its shard only. Names stay ``{scope}--{name}``.
An org's chain is therefore::

    its vault  {org}--name  ->  the default vault  GLOBAL--name  ->  env

Per vault: one SecretClient (created on first use, reused, closed with the store; the
credential is shared), a circuit breaker, a name index and, when there is more than one
vault, counters labelled with the vault's name (``vault.get[eu]`` beside ``vault.get``).
Only settings, never table data, decide where a scope's secrets live.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.keyvault.secrets.aio import SecretClient

from shared.backends.name_index import VaultNameIndex
from shared.core import telemetry
from shared.core.breaker import CircuitBreaker
from shared.core.late import StillRunning, wait_without_cancelling
from shared.core.metrics import Metrics
from shared.core.naming import GLOBAL, canonical_scope, lookup_chain
from shared.errors import (
    BackendUnavailableError,
    ConfigError,
    SecretAccessError,
    WriteOutcomeUnknownError,
)
from shared.settings import Settings, is_loopback_url

T = TypeVar("T")
AccessReason = Literal["authentication", "permission", "disabled"]
BACKEND = "Key Vault"
#: the name of ``AZURE_KEY_VAULT_URL`` in metrics, health and the CLI (a shard cannot use it)
DEFAULT_VAULT = "default"
#: builds a vault's client: no argument for the default vault, the URL for a shard
ClientFactory = Callable[..., SecretClient]


def vault_name_for(settings: Settings, scope: str) -> str:
    """The name of the vault holding ``scope``'s secrets (``default`` or a shard's name).

    >>> s = Settings(key_vault_url="https://main.vault.azure.net",
    ...              key_vault_shards={"eu": "https://eu.vault.azure.net"},
    ...              key_vault_org_vaults={"acme": "eu"})
    >>> vault_name_for(s, "acme"), vault_name_for(s, "contoso"), vault_name_for(s, "GLOBAL")
    ('eu', 'default', 'default')
    """
    canonical = canonical_scope(scope)
    if canonical == GLOBAL:
        return DEFAULT_VAULT
    return settings.key_vault_org_vaults.get(canonical, DEFAULT_VAULT)


def vault_lookup_plan(settings: Settings, org_id: str, secret_name: str) -> list[tuple[str, str]]:
    """The vault reads of an org's chain, in order: ``(vault name, full secret name)``:
    its own name in its vault, then ``GLOBAL--name`` in the default vault. Pure."""
    own, glob = lookup_chain(org_id, secret_name)[0]
    return [(vault_name_for(settings, org_id), own), (DEFAULT_VAULT, glob)]


def access_error(reason: AccessReason, full_name: str) -> SecretAccessError:
    """A SecretAccessError with what to do for ``reason`` (authentication/permission/disabled)."""
    guidance = {
        "authentication": (
            "authentication to Key Vault failed; in Azure check the Function App's managed "
            "identity; locally run `az login` or set AZURE_KEY_VAULT_CA_FILE for the emulator"
        ),
        "permission": (
            "Key Vault denied access (403); grant the identity the 'Key Vault Secrets User' "
            "role (or a get-secret access policy) on the vault"
        ),
        "disabled": (
            "the secret is disabled or expired in Key Vault; enable it or set a new version"
        ),
    }[reason]
    return SecretAccessError(f"cannot read secret {full_name}: {guidance}", reason)


def event_vault_name(url: str) -> str:
    """How Key Vault events name the vault of ``url``: the first label of its host."""
    return (urlsplit(url).hostname or "").split(".")[0].lower()


@dataclass
class Vault:
    """One configured vault: its client, breaker, name index and labelled counters."""

    name: str
    url: str
    metrics: Metrics
    settings: Settings
    factory: Callable[[], SecretClient]
    labelled: bool

    def __post_init__(self) -> None:
        self._client: SecretClient | None = None
        label = f"[{self.name}]" if self.labelled else ""
        self._label = label
        self.breaker = CircuitBreaker(
            f"vault{label}", BACKEND if not self.labelled else f"{BACKEND} {self.name}",
            self.metrics, threshold=self.settings.breaker_threshold,
            cooldown=self.settings.breaker_cooldown,
        )
        self.index: VaultNameIndex | None = None
        if self.settings.secret_name_index:
            self.index = VaultNameIndex(
                lambda: self.client, self.metrics, self.settings.secret_not_found_ttl
            )

    def __repr__(self) -> str:
        return f"Vault({self.name!r}, {self.url!r})"

    @property
    def client(self) -> SecretClient:
        """This vault's client, created on first use and reused until :meth:`aclose`."""
        if self._client is None:
            self._client = self.factory()
        return self._client

    def incr(self, metric: str, amount: int = 1) -> None:
        """Count ``vault.get`` and, with several vaults, ``vault.get[name]`` too. The
        process total (OpenTelemetry's) always names the vault: ``vault.get[default]``."""
        self.metrics.incr(metric, amount, export=f"{metric}[{self.name}]")
        if self._label:
            self.metrics.incr(metric + self._label, amount, export=None)

    async def aclose(self) -> None:
        if self.index is not None:
            await self.index.aclose()
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def call(self, what: str, op: Callable[[], Awaitable[T]], *, write: bool = False,
                   operation: str | None = None) -> T:
        """One operation on this vault through its breaker, within BACKEND_TIMEOUT_SECONDS,
        its failures mapped to orgconfig's errors. A ``write`` is not cancelled at the
        bound: :class:`WriteOutcomeUnknownError` carries it, still running. ``operation``:
        the call's name in the ``orgconfig.backend.duration`` histogram (default ``read``
        or ``write``)."""
        kind = operation or ("write" if write else "read")
        return await self.breaker.call(lambda: self._timed_call(what, op, write, kind))

    async def _timed_call(self, what: str, op: Callable[[], Awaitable[T]], write: bool,
                          operation: str) -> T:
        with telemetry.timed("keyvault", operation, {telemetry.VAULT: self.name}):
            return await self._call_mapped(what, op, write)

    async def _call_mapped(self, what: str, op: Callable[[], Awaitable[T]],
                           write: bool = False) -> T:
        timeout = self.settings.backend_timeout
        where = "Key Vault" if not self.labelled else f"Key Vault {self.name!r}"
        setting = "AZURE_KEY_VAULT_URL" if self.name == DEFAULT_VAULT else \
            f"AZURE_KEY_VAULT_SHARDS[{self.name!r}]"
        try:
            if write:
                return await wait_without_cancelling(op(), timeout)
            return await asyncio.wait_for(op(), timeout)
        except StillRunning as late:
            self.incr("vault.write_outcome_unknown")
            raise WriteOutcomeUnknownError(
                BACKEND,
                f"{where} did not answer {what} within {timeout}s: the write was sent and "
                "may still be applied when the vault answers. List the secret's versions to "
                "see; writing the value again is safe (a new version)",
                late.task,
            ) from None
        except TimeoutError:
            raise BackendUnavailableError(
                BACKEND,
                f"{where} did not answer {what} within {timeout}s (slow, throttled or "
                f"unreachable); check {setting} and the network",
            ) from None
        except ClientAuthenticationError:
            raise access_error("authentication", what) from None
        except ResourceNotFoundError:
            raise
        except HttpResponseError as exc:
            if exc.status_code == 403:
                message = str(getattr(exc, "message", "") or "").lower()
                disabled = "disabled" in message or "expired" in message
                raise access_error("disabled" if disabled else "permission", what) from None
            if exc.status_code == 429:
                raise BackendUnavailableError(
                    BACKEND, f"{where} throttled {what} (429) beyond the retry budget",
                ) from None
            if exc.status_code is not None and 400 <= exc.status_code < 500:
                raise
            raise BackendUnavailableError(
                BACKEND, f"{where} failed {what} (HTTP {exc.status_code}); retry later",
            ) from None
        except AzureError as exc:
            raise BackendUnavailableError(
                BACKEND,
                f"{where} is unreachable for {what} ({exc.__class__.__name__}); check "
                f"{setting}, DNS and the network",
            ) from None


class VaultSet:
    """Every configured vault, created from settings; empty when no vault is set."""

    def __init__(self, settings: Settings, metrics: Metrics, factory: ClientFactory) -> None:
        self.settings = settings
        self._vaults: dict[str, Vault] = {}
        if not settings.key_vault_url:
            return
        labelled = bool(settings.key_vault_shards)
        self._vaults[DEFAULT_VAULT] = Vault(
            DEFAULT_VAULT, settings.key_vault_url, metrics, settings, lambda: factory(),
            labelled,
        )
        for name, url in settings.key_vault_shards.items():
            self._vaults[name] = Vault(
                name, url, metrics, settings, functools.partial(factory, url), labelled,
            )
        self._by_event_name = _event_names(self._vaults)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._vaults.values())

    def __len__(self) -> int:
        return len(self._vaults)

    @property
    def default(self) -> Vault:
        """The vault of ``AZURE_KEY_VAULT_URL``; ConfigError when none is configured."""
        return self.named(DEFAULT_VAULT)

    def named(self, name: str) -> Vault:
        """The vault of that name (``default`` or a shard's); ConfigError if not configured."""
        vault = self._vaults.get(name)
        if vault is None:
            listed = ", ".join(self._vaults) or "none (AZURE_KEY_VAULT_URL is unset)"
            raise ConfigError(
                f"no vault named {name!r} is configured (configured: {listed}); vaults are "
                "added in the settings AZURE_KEY_VAULT_URL and AZURE_KEY_VAULT_SHARDS"
            )
        return vault

    def for_scope(self, scope: str) -> Vault:
        """The vault holding ``scope``'s secrets (see :func:`vault_name_for`)."""
        return self.named(vault_name_for(self.settings, scope))

    def by_event_name(self, event_vault: str) -> Vault | None:
        """The configured vault an event's ``VaultName`` names, or None."""
        return self._by_event_name.get(event_vault.lower())

    async def aclose(self) -> None:
        for vault in self._vaults.values():
            await vault.aclose()


def _event_names(vaults: dict[str, Vault]) -> dict[str, Vault]:
    """Event ``VaultName`` -> vault. In Azure each vault has its own host, whose first label
    is the vault's name. Vaults on a loopback address (the local emulator: one host, a port
    per vault) share that label, so it names none of them; they are known by their setting
    names instead (``default``, the shard's)."""
    by_label: dict[str, list[Vault]] = {}
    for vault in vaults.values():
        by_label.setdefault(event_vault_name(vault.url), []).append(vault)
    names = {label: found[0] for label, found in by_label.items() if len(found) == 1 and label}
    for vault in vaults.values():
        if is_loopback_url(vault.url):
            names.setdefault(vault.name.lower(), vault)
    return names

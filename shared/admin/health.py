"""Is Key Vault reachable from this instance? A bounded probe that reads no secret value.

The probe lists at most one secret's *properties* (``list_properties_of_secrets``,
one page of one item, no retries): it proves DNS, network, authentication and the
list permission without fetching any value. Failures are classified so the answer
can say what to fix.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

if TYPE_CHECKING:
    from azure.keyvault.secrets.aio import SecretClient

    from shared.resolver import ConfigResolver

log = logging.getLogger("orgconfig.health")

#: The probe's own budget; the route must answer within 2 s in total.
PROBE_BUDGET_SECONDS = 1.5

Status = Literal["connected", "disconnected", "not_configured"]
Failure = Literal["authentication", "permission", "dns", "network", "throttling", "timeout",
                  "service"]

GUIDANCE: dict[Failure, str] = {
    "authentication": (
        "the Function App could not authenticate to Key Vault: enable its managed identity "
        "(in Azure) or run `az login` (locally), check the vault's tenant; for the local "
        "emulator set AZURE_KEY_VAULT_CA_FILE"
    ),
    "permission": (
        "Key Vault refused the identity (403): grant it 'Key Vault Secrets User' (RBAC) or "
        "get/list secret permissions (access policy); if the vault firewall is on, allow the "
        "Function App's outbound addresses or use a private endpoint"
    ),
    "dns": (
        "the vault's host name does not resolve: check AZURE_KEY_VAULT_URL for typos; with a "
        "private endpoint, link the privatelink.vaultcore.azure.net DNS zone to the "
        "Function App's virtual network"
    ),
    "network": (
        "cannot connect to the vault: check VNet integration, outbound rules, the vault "
        "firewall and that the vault exists"
    ),
    "throttling": (
        "Key Vault is throttling requests (429): the resolver's caches absorb most reads; "
        "lower the request rate (raise SECRET_CACHE_TTL_SECONDS) and retry later"
    ),
    "timeout": (
        f"Key Vault did not answer within {PROBE_BUDGET_SECONDS} s: the network path is slow "
        "or silently dropping packets (firewall), or the service is degraded"
    ),
    "service": (
        "Key Vault answered with a server error: usually transient; check Azure status and "
        "retry"
    ),
}

_last_success: dict[str, datetime] = {}


def record_vault_success(vault_url: str) -> None:
    """Note a successful vault call by this instance (the probe and admin operations)."""
    _last_success[vault_url] = datetime.now(UTC)


def last_vault_success(vault_url: str) -> datetime | None:
    """When this instance last reached ``vault_url`` successfully, if ever."""
    return _last_success.get(vault_url)


@dataclass(frozen=True)
class VaultHealth:
    """The probe's answer (see :class:`shared.api.models.KeyVaultHealth`): for one vault,
    or overall (the worst status, the default vault's details, and ``vaults``: one answer
    per configured vault)."""

    status: Status
    checked_at: datetime
    vault_url: str | None = None
    latency_ms: float | None = None
    last_success: datetime | None = None
    failure: Failure | None = None
    guidance: str | None = None
    #: the vault's name: ``default`` (AZURE_KEY_VAULT_URL) or a shard's
    vault: str | None = None
    vaults: tuple[VaultHealth, ...] = ()


async def probe_keyvault(
    resolver: ConfigResolver, budget: float = PROBE_BUDGET_SECONDS
) -> VaultHealth:
    """Probe every configured vault at once, each within ``budget`` seconds; never raises
    for vault failures. Overall ``disconnected`` when any vault is."""
    now = datetime.now(UTC)
    if not resolver.settings.key_vault_url:
        return VaultHealth(
            "not_configured", now,
            guidance="AZURE_KEY_VAULT_URL is not set: secrets come from environment variables",
        )
    vaults = list(resolver.secret_store.vaults)
    probes = await asyncio.gather(*(probe_vault(v.name, v.url, v.client, budget, now)
                                    for v in vaults))
    default = probes[0]
    down = [p for p in probes if p.status == "disconnected"]
    if down and default.status != "disconnected":
        names = ", ".join(str(p.vault) for p in down)
        return replace(default, status="disconnected", failure=down[0].failure,
                       guidance=f"vault {names} unreachable: {down[0].guidance}",
                       vaults=tuple(probes))
    return replace(default, vaults=tuple(probes))


async def probe_vault(
    name: str, url: str, client: SecretClient, budget: float, now: datetime
) -> VaultHealth:
    """Probe one vault within ``budget`` seconds (lists one name, no value)."""
    started = time.perf_counter()
    try:
        await asyncio.wait_for(_list_one(client), budget)
    except Exception as exc:
        failure = classify(exc)
        log.warning("Key Vault probe of %s failed: %s (%s)", name, failure,
                    exc.__class__.__name__)
        return VaultHealth(
            "disconnected", now, url, _ms(started), last_vault_success(url), failure,
            GUIDANCE[failure], name,
        )
    record_vault_success(url)
    return VaultHealth("connected", now, url, _ms(started), last_vault_success(url), vault=name)


async def _list_one(client: SecretClient) -> None:
    # No retries: a throttled or failing vault is reported as such, within the budget.
    pager = client.list_properties_of_secrets(max_page_size=1, retry_total=0)
    async for page in pager.by_page():
        async for _ in page:
            break
        break


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


_BY_STATUS: dict[int, Failure] = {401: "authentication", 403: "permission", 429: "throttling"}


def classify(exc: BaseException) -> Failure:
    """Which failure class a probe exception belongs to."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ClientAuthenticationError):
        return "authentication"
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        return _BY_STATUS.get(exc.status_code, "service")
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return "dns" if _is_dns_failure(exc) else "network"
    if isinstance(exc, AzureError | OSError):
        return "network"
    return "service"


def _is_dns_failure(exc: BaseException) -> bool:
    # The SDK wraps aiohttp's error, which wraps socket.gaierror: walk every link.
    pending: list[object] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, socket.gaierror) or "DNS" in type(current).__name__:
            return True
        pending += [getattr(current, "inner_exception", None), getattr(current, "os_error", None),
                    current.__cause__, current.__context__]
    return False

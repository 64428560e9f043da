"""Health: liveness for anyone, Key Vault reachability for admins."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, replace
from typing import Any
from urllib.parse import urlsplit

from shared.admin.catalog_sync import SecretCatalog
from shared.admin.health import GUIDANCE, PROBE_BUDGET_SECONDS, VaultHealth, probe_keyvault
from shared.api.health_models import ExpiringSecretInfo, KeyVaultHealth, Liveness
from shared.api.routing import Call, Reply, RouteTable
from shared.core.loopback import is_loopback_name
from shared.errors import ConfigError
from shared.resolver import ConfigResolver

log = logging.getLogger("orgconfig.health")

routes = RouteTable("health")

#: A vault on a loopback address is the local Key Vault emulator (``make serve`` /
#: ``make dev``): no VNet, firewall or DNS zone to check, but a process to start.
LOCAL_GUIDANCE: dict[str, str] = {
    "network": (
        "nothing answers at {url}, a loopback address: the local Key Vault emulator is not "
        "running, listens on another port or refuses by an injected fault. Start it with "
        "`make serve` (the whole stack) or `make dev` (for `func start`), or set "
        "AZURE_KEY_VAULT_URL to the port it printed (faults: POST /faults/clear on its "
        "control port)"
    ),
    "timeout": (
        f"the local Key Vault emulator at {{url}} did not answer within {PROBE_BUDGET_SECONDS} s: "
        "is its process stopped (Ctrl-Z, SIGSTOP) or slowed by an injected fault? clear "
        "faults with `curl -X POST -H 'Content-Type: application/json' -d '{{}}' "
        "http://127.0.0.1:<control port>/faults/clear` (see README, See an outage locally)"
    ),
}


@routes.route(
    "GET", "health", name="health", access="anyone", response=Liveness,
    summary="Liveness: the function host runs this app (touches no backend)",
)
async def liveness(call: Call[None]) -> Liveness:
    return Liveness()


@routes.route(
    "GET", "health/keyvault", name="health_keyvault", access="admin", response=KeyVaultHealth,
    also=(503,),
    summary="Key Vault reachability within 2 s, with guidance per failure class; 503 when "
            "disconnected; reads no secret value",
)
async def keyvault(call: Call[None]) -> Reply:
    resolver = call.resolver
    probe, catalog = await asyncio.gather(probe_keyvault(resolver), catalog_health(resolver))
    probe = local_guidance(probe)
    health = KeyVaultHealth(
        **asdict(probe), **catalog, metrics=resolver.metrics.snapshot(),
        breakers=breakers(resolver),
    )
    # 503 lets an availability monitor alert on the status code alone.
    return Reply(health, 503 if probe.status == "disconnected" else 200)


def _is_loopback_url(url: str | None) -> bool:
    host = urlsplit(url).hostname if url else None
    if host is None:
        return False
    return is_loopback_name(f"[{host}]" if ":" in host else host)


def _localized(health: VaultHealth, url: str | None) -> VaultHealth:
    local = LOCAL_GUIDANCE.get(health.failure or "")
    if local is None or not health.guidance or not _is_loopback_url(url):
        return health
    assert health.failure is not None
    guidance = health.guidance.replace(GUIDANCE[health.failure], local.format(url=url))
    return replace(health, guidance=guidance)


def local_guidance(probe: VaultHealth) -> VaultHealth:
    """The probe's answer with the local emulator's guidance for each vault on a loopback
    address that cannot be reached (the overall answer quotes the first vault down)."""
    vaults = tuple(_localized(v, v.vault_url) for v in probe.vaults)
    down = next((v for v in probe.vaults if v.status == "disconnected"), None)
    overall = _localized(probe, down.vault_url if down is not None else probe.vault_url)
    return replace(overall, vaults=vaults)


def breakers(resolver: ConfigResolver) -> dict[str, dict[str, str | int | float | None]]:
    """Each backend's circuit breaker: ``vault`` (the default vault's), with several vaults
    also ``vault[name]`` for each, and ``table``."""
    found = {}
    if resolver.settings.key_vault_url:
        vaults = list(resolver.secret_store.vaults)
        found["vault"] = vaults[0].breaker.snapshot()
        if len(vaults) > 1:
            found.update({f"vault[{v.name}]": v.breaker.snapshot() for v in vaults})
    found["table"] = resolver.config_store.breaker.snapshot()
    return found


async def catalog_health(resolver: ConfigResolver) -> dict[str, Any]:
    """The catalog's mode and the secrets expired or expiring, per scope, within the
    probe's budget (two table queries, concurrent with the vault probe)."""
    if not resolver.settings.key_vault_url:
        return {"catalog": "not_configured"}
    secret_catalog = SecretCatalog(resolver)

    async def read() -> dict[str, Any]:
        marker = await secret_catalog.marker()
        if marker is None:
            return {"catalog": "absent"}
        by_scope: dict[str, list[ExpiringSecretInfo]] = {}
        for item in await secret_catalog.expiring():
            by_scope.setdefault(item.scope, []).append(ExpiringSecretInfo(
                name=item.name, vault_name=item.vault_name, expires_on=item.expires_on,
                state=item.state))
        return {"catalog": "in_use", "catalog_reconciled_at": marker.reconciled_at,
                "expiring_secrets": by_scope}

    try:
        return await asyncio.wait_for(read(), PROBE_BUDGET_SECONDS)
    except (ConfigError, TimeoutError) as exc:
        log.warning("secret catalog unreadable for health (%s)", exc.__class__.__name__)
        return {"catalog": "unavailable"}

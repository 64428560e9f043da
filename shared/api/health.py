"""Health: liveness for anyone, Key Vault reachability for admins."""

from __future__ import annotations

from dataclasses import asdict

from shared.api.models import KeyVaultHealth, Liveness
from shared.api.routing import Call, Reply, RouteTable
from shared.health import probe_keyvault

routes = RouteTable("health")


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
    probe = await probe_keyvault(resolver)
    health = KeyVaultHealth(
        **asdict(probe), metrics=resolver.metrics.snapshot(),
        breakers={"vault": resolver.secret_store.breaker.snapshot(),
                  "table": resolver.config_store.breaker.snapshot()},
    )
    # 503 lets an availability monitor alert on the status code alone.
    return Reply(health, 503 if probe.status == "disconnected" else 200)

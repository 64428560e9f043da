"""Orgs as the admin page shows them: which scopes have config, and every key an org
sees with where it comes from (for a ``secret_ref``: where the secret resolves, no value)."""

from __future__ import annotations

from shared.admin.org_overview import EffectiveEntry, effective_config, list_scopes
from shared.api.models import EffectiveConfig, EffectiveEntryOut, ScopeList, SecretResolutionOut
from shared.api.params import ORG_OR_GLOBAL
from shared.api.routing import Call, RouteTable
from shared.core.naming import canonical_scope

routes = RouteTable("orgs")


@routes.route(
    "GET", "orgs", name="orgs_list", access="admin", response=ScopeList, errors=(503,),
    summary="GLOBAL and every org that has config entries",
)
async def list_orgs(call: Call[None]) -> ScopeList:
    return ScopeList(scopes=await list_scopes(call.resolver))


@routes.route(
    "GET", "orgs/{org}/effective", name="orgs_effective", access="admin",
    response=EffectiveConfig, params=(ORG_OR_GLOBAL,), errors=(400, 503),
    summary="Every key an org sees, where it comes from and, for a secret_ref, where the "
            "secret resolves and the names tried (never a secret value)",
)
async def effective(call: Call[None]) -> EffectiveConfig:
    scope = canonical_scope(call.route.get("org"))
    entries = [_out(e) for e in await effective_config(call.resolver, scope)]
    return EffectiveConfig(scope=scope, entries=entries,
                           problems=sum(1 for e in entries if e.problem))


def _out(item: EffectiveEntry) -> EffectiveEntryOut:
    entry, why = item.entry, item.explanation
    secret = None
    if item.resolution is not None:
        secret = SecretResolutionOut(secret_name=entry.value, resolved_from=item.resolution,
                                     source=why.source, tried=why.tried)
    return EffectiveEntryOut(
        key=entry.key, type=entry.type, scope=entry.scope, value=item.value,
        description=entry.description, updated_at=entry.updated_at,
        updated_by=entry.updated_by, etag=entry.etag, secret=secret, problem=item.problem,
    )

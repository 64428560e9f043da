"""Orgs as the admin page shows them: which scopes have config, and every key an org
sees with where it comes from (for a ``secret_ref``: where the secret resolves, no value)."""

from __future__ import annotations

from shared.admin.org_overview import EffectiveEntry, effective_config, list_scopes
from shared.admin.orgs import register
from shared.api.audit import audit_write
from shared.api.models import EffectiveConfig, EffectiveEntryOut, SecretResolutionOut
from shared.api.org_models import OrgCreate, OrgOut, OrgUpdate, ScopeList
from shared.api.params import ORG, ORG_OR_GLOBAL
from shared.api.routing import Call, Reply, RouteTable
from shared.backends.org_registry import Org, UnknownOrgError
from shared.core.naming import GLOBAL, canonical_org_id, canonical_scope
from shared.errors import InvalidNameError

routes = RouteTable("orgs")


@routes.route(
    "GET", "orgs", name="orgs_list", access="admin", response=ScopeList, errors=(503,),
    summary="GLOBAL and every org that has config entries, and the registered orgs",
)
async def list_orgs(call: Call[None]) -> ScopeList:
    registry = call.resolver.orgs
    on = await registry.enabled()
    orgs = [_org(o) for o in await registry.all()] if on else []
    return ScopeList(scopes=await list_scopes(call.resolver), orgs=orgs,
                     registry="on" if on else "off")


@routes.route(
    "POST", "orgs", name="orgs_create", access="admin", body=OrgCreate, response=OrgOut,
    status=201, errors=(400, 409, 503),
    summary="Register an org (the first registration also registers every org that "
            "already has config or secrets)",
)
async def create_org(call: Call[OrgCreate]) -> Reply:
    if canonical_scope(call.body.id) == GLOBAL:
        raise InvalidNameError("GLOBAL is the platform-wide scope, not an org; choose "
                               "another id")
    org = await register(call.resolver, call.body.id, call.body.display_name,
                         str(call.actor))
    audit_write("org.create", call.actor, org.id, display_name=org.display_name)
    return Reply(_org(org), 201)


@routes.route(
    "PATCH", "orgs/{org}", name="orgs_update", access="admin", body=OrgUpdate,
    response=OrgOut, params=(ORG,), errors=(400, 404, 503),
    summary="Rename an org, or suspend or reactivate it (a suspended org keeps its data; "
            "its workflow runs answer 409)",
)
async def update_org(call: Call[OrgUpdate]) -> OrgOut:
    org_id = canonical_org_id(call.route.get("org"))
    if call.body.display_name is None and call.body.status is None:
        current = await call.resolver.orgs.get(org_id)
        if current is None:
            raise UnknownOrgError(org_id, [])
        return _org(current)  # nothing to change: the org as it is
    org = await call.resolver.orgs.update(org_id, display_name=call.body.display_name,
                                          status=call.body.status)
    await call.resolver.notify_change(org_id)
    audit_write("org.update", call.actor, org_id, status=org.status,
                renamed=call.body.display_name is not None)
    return _org(org)


def _org(org: Org) -> OrgOut:
    return OrgOut(id=org.id, display_name=org.display_name, status=org.status,
                  created_at=org.created_at, created_by=org.created_by)


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

"""Readiness routes (DESIGN "Declared config and readiness"): for one org, or a page of the
fleet, whether each registered workflow's declared config fits; no secret value is read
(:mod:`shared.admin.readiness`)."""

from __future__ import annotations

import re
from typing import Any

from shared.admin.readiness import OrgReadiness, fleet_readiness, org_readiness
from shared.admin.workflows import list_workflows
from shared.api.errors import ApiError
from shared.api.models import (
    ConfigProblemOut,
    FleetOrgReadiness,
    FleetReadiness,
    OrgReadinessOut,
    WorkflowReadinessOut,
)
from shared.api.params import ORG_ID_PATTERN, ORG_SCHEMA, page_limit
from shared.api.routing import Call, Param, RouteTable
from shared.core.naming import ORG_ID_MAX

routes = RouteTable("readiness")

READINESS_ORG = Param("org", "org id (not GLOBAL)", where="path", required=True,
                      schema=ORG_SCHEMA)
FLEET_LIMIT = Param("limit", "orgs per page (1 to 200; default 50)",
                    schema={"type": "integer", "minimum": 1, "maximum": 200, "default": 50})
# Empty query values never reach the app (the Functions host drops them): empty means absent.
FLEET_AFTER = Param("after", "the `next` of the previous page: the org id the page starts "
                    "after (empty: the first page)",
                    schema={"type": "string", "maxLength": ORG_ID_MAX,
                            "pattern": f"({ORG_ID_PATTERN})|^$"})


def _workflows(found: OrgReadiness) -> list[WorkflowReadinessOut]:
    return [WorkflowReadinessOut(
        name=w.name, ready=w.ready,
        problems=[ConfigProblemOut.of(p) for p in w.problems]) for w in found.workflows]


@routes.route(
    "GET", "orgs/{org}/readiness", name="org_readiness", access="admin",
    response=OrgReadinessOut, params=(READINESS_ORG,), errors=(400, 503),
    summary="For every registered workflow: ready, or the problems of the org's config "
            "(no secret value is read)",
)
async def readiness(call: Call[None]) -> OrgReadinessOut:
    found = await org_readiness(call.resolver, call.route.get("org", ""))
    return OrgReadinessOut(org=found.org, workflows=_workflows(found))


def _after(call: Call[Any]) -> str | None:
    raw = call.query.get("after")
    if not raw:
        return None
    if len(raw) > ORG_ID_MAX or not re.fullmatch(ORG_ID_PATTERN, raw):
        raise ApiError(400, "invalid_after", "after must be the `next` of a previous page "
                       "(an org id)")
    return raw.lower()


@routes.route(
    "GET", "readiness", name="fleet_readiness", access="admin", response=FleetReadiness,
    params=(FLEET_LIMIT, FLEET_AFTER), errors=(400, 503),
    summary="Orgs x workflows, a page of orgs at a time (orgs that have config, in id order): "
            "ready or the problems (no secret value is read)",
)
async def fleet(call: Call[None]) -> FleetReadiness:
    page, following = await fleet_readiness(call.resolver, _after(call), page_limit(call, 200))
    orgs = [FleetOrgReadiness(org=o.org, workflows=_workflows(o), ready=o.ready,
                              not_ready=o.not_ready) for o in page]
    return FleetReadiness(workflows=list_workflows(), orgs=orgs,
                          ready_orgs=sum(1 for o in page if o.not_ready == 0), next=following)

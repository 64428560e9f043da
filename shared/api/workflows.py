"""Run a registered workflow for an org, with that org's context."""

from __future__ import annotations

import logging

from pydantic import BaseModel, ValidationError

from shared.admin.workflows import (
    InvalidParamsError,
    UnknownWorkflowError,
    get_workflow,
    list_workflows,
    params_model,
    run_workflow,
)
from shared.api.errors import ApiError, validation_details
from shared.api.models import ConfigProblemOut, WorkflowParams, WorkflowRun
from shared.api.params import ORG, WORKFLOW_NAME
from shared.api.routing import Call, RouteTable
from shared.backends.org_registry import OrgSuspendedError
from shared.errors import (
    ConfigNotFoundError,
    ConfigNotReadyError,
    ConfigValueError,
    SecretNotFoundError,
)

log = logging.getLogger("orgconfig.api")
routes = RouteTable("workflows")

#: Errors that mean the org's configuration cannot satisfy the workflow (not a caller error).
MISCONFIGURATION = (ConfigNotFoundError, SecretNotFoundError, ConfigValueError)


def documented_workflows() -> list[tuple[str, type[BaseModel] | None]]:
    """Each registered workflow and its params model, for the OpenAPI document."""
    return [(name, params_model(name)) for name in list_workflows()]


def _shown(name: str) -> str:
    return repr(name) if len(name) <= 64 else repr(name[:61] + "...")


@routes.route(
    "POST", "orgs/{org}/workflows/{name}", name="workflow_run", access="org_member",
    body=WorkflowParams, body_optional=True, response=WorkflowRun, params=(ORG, WORKFLOW_NAME),
    errors=(400, 404, 409, 424, 502, 503),
    summary="Run a registered workflow with the org's context (admins and members of the org)",
)
async def run(call: Call[WorkflowParams]) -> WorkflowRun:
    context = call.resolver.context(call.route.get("org", ""))
    org = await call.resolver.orgs.require(context.org_id)
    if org is not None and org.status == "suspended":
        raise OrgSuspendedError(f"org {context.org_id!r} is suspended: its config and secrets "
                                "are kept, its workflows do not run; reactivate it with "
                                f"PATCH orgs/{context.org_id} {{\"status\": \"active\"}}")
    name = call.route.get("name", "")
    try:
        get_workflow(name)
    except UnknownWorkflowError:
        raise ApiError(404, "workflow_not_found", f"no workflow named {_shown(name)} is "
                       "registered", known=list_workflows()) from None
    try:
        result = await run_workflow(name, context, call.body.root, actor=call.actor)
    except InvalidParamsError as exc:
        # The details locate each problem; the input is not repeated (it may be sensitive).
        raise ApiError(400, "invalid_params", str(exc),
                       details=validation_details(exc.error)) from None
    except ConfigNotReadyError as exc:
        # The workflow never started: its declared config does not fit the org's. Each
        # problem names a key and its kind; messages hold no value.
        raise ApiError(424, exc.code, f"workflow {name!r} cannot run for org "
                       f"{context.org_id!r}: its declared config does not fit the org's "
                       f"({len(exc.problems)} problems; GET orgs/{context.org_id}/readiness)",
                       problems=[ConfigProblemOut.of(p).model_dump(mode="json")
                                 for p in exc.problems]) from None
    except MISCONFIGURATION as exc:
        # 424: the request was fine, the org's config is not. The library's messages name
        # keys and secret names only, never values.
        raise ApiError(424, exc.code, f"workflow {name!r} cannot run for org "
                       f"{context.org_id!r}: {exc}") from None
    try:
        return WorkflowRun(workflow=name, org_id=context.org_id, result=result)
    except ValidationError:
        log.error("workflow %s returned something that is not a JSON object", name)
        raise ApiError(500, "workflow_failed",
                       f"workflow {name!r} returned a result that is not a JSON object") from None

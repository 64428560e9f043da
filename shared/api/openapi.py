"""The OpenAPI 3.1 document of the API, generated from the route tables and their models.

Routes are registered from the same :class:`~shared.api.routing.Endpoint` records this
module describes, so the document lists exactly the functions the app serves. Every
status an operation can answer is documented with its body (the model, or the error
body ``{error, message, ...}``), parameters carry the naming rules as schemas, and
OpenAPI links describe the stateful sequences (:mod:`shared.api.openapi_links`), so
clients and schema-driven fuzzers get a complete contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from shared.api.auth import PLATFORM_ADMIN, PRINCIPAL_HEADER
from shared.api.models import ErrorBody
from shared.api.openapi_links import LINKS, PROPAGATION, SUCCESS_HEADERS
from shared.api.params import ORG
from shared.api.routing import MAX_BODY_BYTES, Call, Endpoint, RouteTable

routes = RouteTable("meta")

_SECURITY_SCHEMES = {
    "functionKey": {
        "type": "apiKey", "in": "header", "name": "x-functions-key",
        "description": "a function or host key, checked by the Functions host (defense in "
                       "depth; not enforced by the local host unless asked to)",
    },
    "functionKeyQuery": {
        "type": "apiKey", "in": "query", "name": "code",
        "description": "the function key as a query parameter instead of the header",
    },
    "appServiceAuthentication": {
        "type": "apiKey", "in": "header", "name": PRINCIPAL_HEADER.upper(),
        "description": "base64 JSON principal set by App Service authentication after "
                       f"sign-in; roles `{PLATFORM_ADMIN}` (admin) and `org:{{org_id}}` "
                       "(member of an org). Trusted only when platform authentication is on",
    },
}
_SIGNED_IN: list[dict[str, list[str]]] = [{"functionKey": [], "appServiceAuthentication": []},
              {"functionKeyQuery": [], "appServiceAuthentication": []}]

#: What each error status means on this API (the body is always ``ErrorBody``).
_ERROR_MEANING = {
    400: "bad input: a name, value, parameter or body breaks the rules (`error` says which)",
    401: "no trusted caller identity (`unauthenticated`)",
    403: "the caller lacks the role (`forbidden`, with `required_roles`), or a cross-site "
         "request was refused",
    404: "the entry, secret or workflow does not exist",
    409: "a conflict: the secret exists, is soft-deleted, or is still referenced",
    412: "the If-Match ETag is no longer current (or the entry no longer exists)",
    413: f"the body exceeds {MAX_BODY_BYTES} bytes",
    415: "a request body must be `application/json`",
    424: "the org's configuration cannot satisfy the workflow (a key or secret is missing "
         "or invalid)",
    500: "unexpected error; the function logs have the details",
    502: "a backing service (Key Vault, Table Storage) refused the function's own request",
    503: "a backing service is unreachable and nothing cached can be served; retry later",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying",
                                "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
_JSON = "application/json"


def build_document(
    tables: Sequence[RouteTable],
    workflows: Sequence[tuple[str, type[BaseModel] | None]] = (),
) -> dict[str, Any]:
    """The OpenAPI document of every endpoint in ``tables``; ``workflows`` (name, params
    model) are also documented as their own operations of the workflow route."""
    endpoints = [e for table in tables for e in table.endpoints]
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for e in endpoints:
        if e.body is not None:
            wanted.append((e.body, "validation"))
        if e.response is not None:
            wanted.append((e.response, "serialization"))
    wanted += [(model, "validation") for _, model in workflows if model is not None]
    refs, schemas = models_json_schema(
        list(dict.fromkeys(wanted)), ref_template="#/components/schemas/{model}"
    )
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        paths.setdefault(f"/{e.route}", {})[e.method.lower()] = _operation(e, refs)
    runner = next((e for e in endpoints if e.name == "workflow_run"), None)
    if runner is not None:
        for name, model in workflows:
            route = runner.route.replace("{name}", name)
            paths.setdefault(f"/{route}", {})[runner.method.lower()] = _workflow_operation(
                runner, name, model, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "orgconfig",
            "version": "1",
            "description": "Per-organization configuration and secrets for Azure Functions "
                           "workflows. Errors are `{\"error\": code, \"message\": ...}`. "
                           "Every response carries `Cache-Control: no-store`.",
        },
        "servers": [{"url": "/api"}],
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": _SECURITY_SCHEMES,
        },
    }


def _operation(e: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    declared = {(p.where, p.name): p for p in e.params}
    parameters = [
        _parameter(declared.get(("path", name)), name, "path") for name in e.route_params
    ] + [_parameter(p, p.name, p.where) for p in e.params if p.where != "path"]
    operation: dict[str, Any] = {
        "operationId": e.name, "summary": e.summary, "tags": [e.tag],
        "parameters": parameters,
        "responses": _responses(e, refs),
        "security": [] if e.access == "anyone" else _SIGNED_IN,
    }
    if e.access != "anyone":
        operation["x-required-roles"] = (
            [PLATFORM_ADMIN] if e.access == "admin" else [PLATFORM_ADMIN, "org:{org}"]
        )
    if e.body is not None:
        operation["requestBody"] = {
            "required": not e.body_optional,
            "content": {_JSON: {"schema": refs[(e.body, "validation")]}},
        }
    return operation


def _parameter(param: Any, name: str, where: str) -> dict[str, Any]:
    if param is None:
        return {"name": name, "in": where, "required": True, "schema": {"type": "string"}}
    schema = dict(param.schema) if param.schema is not None else {"type": param.kind}
    return {"name": param.name, "in": where, "required": where == "path" or param.required,
            "description": param.description, "schema": schema}


def _workflow_operation(
    runner: Endpoint, name: str, model: type[BaseModel] | None, refs: dict[Any, Any]
) -> dict[str, Any]:
    """The workflow route for one registered workflow, with its declared params model."""
    operation = _operation(runner, refs)
    operation["operationId"] = f"{runner.name}_{name.replace('-', '_')}"
    operation["summary"] = f"Run workflow {name!r} with the org's context"
    operation["parameters"] = [_parameter(ORG, "org", "path")]
    operation["x-served-by"] = runner.name
    if model is not None:
        operation["requestBody"]["content"][_JSON]["schema"] = refs[(model, "validation")]
    return operation


def _success_content(e: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    if e.produces != (_JSON,):
        return {media: {"schema": {"type": "string"}} for media in e.produces}
    schema = refs[(e.response, "serialization")] if e.response is not None else {"type": "object"}
    return {_JSON: {"schema": schema}}


def _error_statuses(e: Endpoint) -> set[int]:
    statuses = set(e.errors) | {500}
    if e.route_params or e.body is not None or any(p.where != "path" for p in e.params):
        statuses.add(400)
    if e.access != "anyone":
        # Signed-in routes reach the stores: their outages are 502/503; any state-changing
        # request can be refused as cross-site (403).
        statuses |= {401, 403, 502, 503}
    if e.body is not None:
        statuses |= {413, 415}
    return statuses


def _responses(e: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    links = LINKS.get(e.name, {})
    for status in (e.status, *e.also):
        answer: dict[str, Any] = {"description": HTTPStatus(status).phrase}
        if 300 <= status < 400:
            answer["headers"] = {"Location": {"schema": {"type": "string"}}}
        elif status != 204:
            answer["content"] = _success_content(e, refs)
        if e.name in SUCCESS_HEADERS:
            answer["headers"] = {**answer.get("headers", {}), **SUCCESS_HEADERS[e.name]}
        if e.method.upper() not in ("GET", "HEAD") and status < 300:
            answer["headers"] = {**answer.get("headers", {}), **PROPAGATION}
        if str(status) in links:
            answer["links"] = links[str(status)]
        responses[str(status)] = answer
    error_schema = {_JSON: {"schema": refs[(ErrorBody, "serialization")]}}
    for status in sorted(_error_statuses(e) - {e.status, *e.also}):
        answer = {"description": _ERROR_MEANING.get(status, HTTPStatus(status).phrase),
                  "content": error_schema}
        if status == 503:
            answer["headers"] = _RETRY_AFTER
        if str(status) in links:
            answer["links"] = links[str(status)]
        responses[str(status)] = answer
    return responses


@cache
def document() -> dict[str, Any]:
    """The document of this app (built once per process)."""
    from shared.api import TABLES  # the package assembles the tables, this module among them
    from shared.api.workflows import documented_workflows

    return build_document(TABLES, documented_workflows())


@routes.route(
    "GET", "openapi.json", name="openapi", access="anyone",
    summary="This OpenAPI document",
)
async def openapi_json(call: Call[None]) -> dict[str, Any]:
    return document()

"""The OpenAPI 3.1 document of the API, generated from the route tables and their models.

Routes are registered from the same :class:`~shared.api.routing.Endpoint` records this
module describes, so the document lists exactly the functions the app serves.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from shared.api.models import ErrorBody
from shared.api.routing import Call, Endpoint, RouteTable
from shared.auth import PLATFORM_ADMIN

routes = RouteTable("meta")

_SECURITY_SCHEMES = {
    "functionKey": {
        "type": "apiKey", "in": "header", "name": "x-functions-key",
        "description": "a function or host key (defense in depth; the `code` query "
                       "parameter works too)",
    },
    "appServiceAuthentication": {
        "type": "apiKey", "in": "header", "name": "X-MS-CLIENT-PRINCIPAL",
        "description": "set by App Service authentication after sign-in; roles "
                       f"`{PLATFORM_ADMIN}` (admin) and `org:{{org_id}}` (member of an org)",
    },
}


def build_document(tables: Sequence[RouteTable]) -> dict[str, Any]:
    """The OpenAPI document of every endpoint in ``tables``."""
    endpoints = [e for table in tables for e in table.endpoints]
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for e in endpoints:
        if e.body is not None:
            wanted.append((e.body, "validation"))
        if e.response is not None:
            wanted.append((e.response, "serialization"))
    refs, schemas = models_json_schema(
        list(dict.fromkeys(wanted)), ref_template="#/components/schemas/{model}"
    )
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        paths.setdefault(f"/{e.route}", {})[e.method.lower()] = _operation(e, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "orgconfig",
            "version": "1",
            "description": "Per-organization configuration and secrets for Azure Functions "
                           "workflows. Errors are `{\"error\": code, \"message\": ...}`.",
        },
        "servers": [{"url": "/api"}],
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": _SECURITY_SCHEMES,
        },
    }


def _operation(e: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": e.name, "summary": e.summary, "tags": [e.tag],
        "parameters": [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in e.route_params
        ] + [
            {"name": p.name, "in": p.where, "required": p.required,
             "description": p.description, "schema": {"type": p.kind}}
            for p in e.params
        ],
        "responses": _responses(e, refs),
        "security": [] if e.access == "anyone" else [
            {"functionKey": [], "appServiceAuthentication": []}
        ],
    }
    if e.access != "anyone":
        operation["x-required-roles"] = (
            [PLATFORM_ADMIN] if e.access == "admin" else [PLATFORM_ADMIN, "org:{org}"]
        )
    if e.body is not None:
        operation["requestBody"] = {
            "required": not e.body_optional,
            "content": {"application/json": {"schema": refs[(e.body, "validation")]}},
        }
    return operation


def _responses(e: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status in (e.status, *e.also):
        responses[str(status)] = {"description": HTTPStatus(status).phrase}
        if e.response is not None:
            responses[str(status)]["content"] = {
                "application/json": {"schema": refs[(e.response, "serialization")]}
            }
    error_schema = {"application/json": {"schema": refs[(ErrorBody, "serialization")]}}
    statuses = set(e.errors) | {500}
    if e.access != "anyone":
        statuses |= {401, 403}
    for status in sorted(statuses):
        responses[str(status)] = {"description": HTTPStatus(status).phrase,
                                  "content": error_schema}
    return responses


@cache
def document() -> dict[str, Any]:
    """The document of this app (built once per process)."""
    from shared.api import TABLES  # the package assembles the tables, this module among them

    return build_document(TABLES)


@routes.route(
    "GET", "openapi.json", name="openapi", access="anyone",
    summary="This OpenAPI document",
)
async def openapi_json(call: Call[None]) -> dict[str, Any]:
    return document()

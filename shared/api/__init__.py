"""The HTTP API: one route table per area, each registered as an Azure Functions blueprint.

``function_app.py`` registers :func:`blueprints`; the OpenAPI document is built from
the same :data:`TABLES`. Routes and roles: docs/api.md.
"""

from __future__ import annotations

import azure.functions as func

from shared.api import (
    admin_page,
    config,
    health,
    history,
    openapi,
    orgs,
    readiness,
    secrets,
    workflows,
)
from shared.api.routing import RouteTable

TABLES: tuple[RouteTable, ...] = (
    health.routes, orgs.routes, config.routes, history.routes, secrets.routes,
    workflows.routes, readiness.routes,
    openapi.routes, admin_page.routes,
)


def blueprints() -> list[func.Blueprint]:
    """One blueprint per area, with one function per route."""
    return [table.blueprint() for table in TABLES]

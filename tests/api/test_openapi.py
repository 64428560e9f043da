"""The OpenAPI document: generated from the route table, so it lists every function."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.integration


@pytest.fixture
async def document(api: Api) -> dict[str, Any]:
    response = await api.call("openapi", principal=None)
    assert response.status == 200
    return dict(response.json())


def test_every_http_function_is_in_the_document(
    functions: dict[str, Any], document: dict[str, Any]
) -> None:
    http = {name: fn.get_trigger() for name, fn in functions.items()
            if getattr(fn.get_trigger(), "route", None) is not None}
    assert len(http) >= 12
    for name, trigger in http.items():
        operations = document["paths"][f"/{trigger.route}"]
        for method in trigger.methods:
            assert operations[method.value.lower()]["operationId"] == name


def test_the_document_has_no_route_the_app_does_not_serve(
    functions: dict[str, Any], document: dict[str, Any]
) -> None:
    served = {(f"/{fn.get_trigger().route}", m.value.lower()) for fn in functions.values()
              if getattr(fn.get_trigger(), "route", None) is not None
              for m in fn.get_trigger().methods}
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert documented == served


def test_routes_match_the_design(document: dict[str, Any]) -> None:
    assert {"/health", "/health/keyvault", "/orgs/{org}/config", "/orgs/{org}/config/{key}",
            "/secrets", "/secrets/{scope}/{name}", "/orgs/{org}/workflows/{name}",
            "/openapi.json"} <= set(document["paths"])
    assert document["servers"] == [{"url": "/api"}]


def test_request_and_response_schemas_come_from_the_models(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    create = document["paths"]["/secrets"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SecretCreate"}
    assert schemas["SecretCreate"]["properties"]["value"]["writeOnly"] is True
    assert set(create["responses"]) >= {"201", "400", "401", "403", "409"}


def test_admin_routes_declare_their_roles_and_security(document: dict[str, Any]) -> None:
    run = document["paths"]["/orgs/{org}/workflows/{name}"]["post"]
    assert run["x-required-roles"] == ["PlatformAdmin", "org:{org}"]
    assert run["security"] == [{"functionKey": [], "appServiceAuthentication": []}]
    assert document["paths"]["/health"]["get"]["security"] == []

"""The OpenAPI document: generated from the route table, so it lists every function."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from openapi_spec_validator import validate

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
    documented = {(path, method) for path, ops in document["paths"].items()
                  for method, op in ops.items() if "x-served-by" not in op}
    assert documented == served


def test_each_registered_workflow_is_an_operation_of_the_workflow_route(
    functions: dict[str, Any], document: dict[str, Any]
) -> None:
    template = f"/{functions['workflow_run'].get_trigger().route}"
    for name in ("graph-user-sync", "psa-ticket", "smtp-digest"):
        operation = document["paths"][template.replace("{name}", name)]["post"]
        assert operation["x-served-by"] == "workflow_run"
    smtp = document["paths"][template.replace("{name}", "smtp-digest")]["post"]
    schema = smtp["requestBody"]["content"]["application/json"]["schema"]
    recipients = document["components"]["schemas"][schema["$ref"].split("/")[-1]][
        "properties"]["recipients"]
    assert recipients["maxItems"] == 50 and recipients["items"]["maxLength"] == 254


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
    assert {"functionKey": [], "appServiceAuthentication": []} in run["security"]
    assert {"functionKeyQuery": [], "appServiceAuthentication": []} in run["security"]
    assert document["paths"]["/health"]["get"]["security"] == []


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in document["paths"].items()
            for method, op in ops.items()]


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validate(document)


def test_schemathesis_loads_every_operation_and_link(document: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_dict(document)
    loaded = [result.ok() for result in schema.get_all_operations()]
    assert len(loaded) == len(operations(document))
    schema.as_state_machine()  # raises on a link to a missing operation or parameter


def test_every_status_has_a_body_schema_or_is_204(document: dict[str, Any]) -> None:
    for path, method, op in operations(document):
        for status, answer in op["responses"].items():
            if status in ("204", "308"):
                assert "content" not in answer, (path, method)
            else:
                assert all("schema" in media for media in answer["content"].values()), (
                    path, method, status)
            if int(status) >= 400 and (op["operationId"], status) != ("health_keyvault", "503"):
                assert answer["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorBody"}, (path, method, status)
        assert "500" in op["responses"], (path, method)


def test_the_admin_page_documents_its_media_types(document: dict[str, Any]) -> None:
    page = document["paths"]["/admin"]["get"]["responses"]
    asset = document["paths"]["/admin/assets/{name}"]["get"]["responses"]
    assert set(page["200"]["content"]) == {"text/html"}
    assert set(asset["200"]["content"]) == {"text/javascript", "text/css"}
    assert "Location" in page["308"]["headers"]


def test_error_bodies_require_error_and_message(document: dict[str, Any]) -> None:
    assert set(document["components"]["schemas"]["ErrorBody"]["required"]) == {
        "error", "message"}


def test_routes_with_a_body_document_413_and_415(document: dict[str, Any]) -> None:
    with_body = [(path, op) for path, _, op in operations(document) if "requestBody" in op]
    assert len(with_body) >= 5
    for path, op in with_body:
        assert {"400", "413", "415"} <= set(op["responses"]), path


def test_signed_in_routes_document_401_403_and_outages(document: dict[str, Any]) -> None:
    for path, method, op in operations(document):
        if op["security"]:
            assert {"401", "403", "502", "503"} <= set(op["responses"]), (path, method)


def test_path_parameters_carry_the_naming_rules(document: dict[str, Any]) -> None:
    put = document["paths"]["/orgs/{org}/config/{key}"]["put"]
    schemas = {p["name"]: p["schema"] for p in put["parameters"]}
    assert schemas["org"]["pattern"] == "^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$"
    assert schemas["org"]["maxLength"] == 63
    assert schemas["key"]["maxLength"] == 128
    assert schemas["If-Match"]["maxLength"] == 256
    run = document["paths"]["/orgs/{org}/workflows/{name}"]["post"]
    assert {p["name"]: p["schema"] for p in run["parameters"]}["org"]["allOf"][0]["not"]
    for path, method, op in operations(document):
        for parameter in op["parameters"]:
            if parameter["in"] == "path":
                assert {"pattern", "enum"} & set(parameter["schema"]), (path, method,
                                                                   parameter["name"])


def test_links_describe_the_secret_and_etag_sequences(document: dict[str, Any]) -> None:
    created = document["paths"]["/secrets"]["post"]["responses"]["201"]["links"]
    assert created["ReferenceFromConfig"]["requestBody"] == {
        "type": "secret_ref", "value": "$response.body#/name"}
    delete = document["paths"]["/secrets/{scope}/{name}"]["delete"]["responses"]
    assert delete["409"]["links"]["ForceDelete"]["parameters"]["query.force"] == "true"
    put = document["paths"]["/orgs/{org}/config/{key}"]["put"]["responses"]["200"]
    assert put["links"]["PutWithStaleETag"]["parameters"]["header.If-Match"] == (
        "$request.header.If-Match")
    assert "ETag" in put["headers"]


def test_config_problems_document_their_structured_fields(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["ConfigProblemOut"]
    assert set(problem["required"]) == {"key", "problem", "message"}
    expected_type = problem["properties"]["expected_type"]
    assert {"enum": ["string", "int", "float", "bool", "json", "secret_ref"],
            "type": "string"} in expected_type["anyOf"]
    assert {"type": "null"} in expected_type["anyOf"]
    assert problem["properties"]["secret"]["anyOf"] == [{"type": "string"}, {"type": "null"}]

"""CSRF defences end to end, in process and over real HTTP: a body other than JSON is
415, a cross-origin state-changing request is 403, and neither changes anything; same-
origin pages and non-browser clients (curl) keep working."""

from __future__ import annotations

from typing import Any

import pytest

from shared.api.openapi import document
from tests.api.conftest import Api, HttpApi, Table

pytestmark = pytest.mark.integration


@pytest.fixture(params=["in_process", "over_http"])
def client(request: pytest.FixtureRequest) -> Api:
    name = "api" if request.param == "in_process" else "http_api"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


def own_origin(client: Api) -> str:
    """The origin the request's own Host names (in process the URL is http://localhost)."""
    return client.host.url if isinstance(client, HttpApi) else "http://localhost"


ENTRY = {"org": "acme", "key": "k"}
SECRET = b'{"scope": "acme", "name": "smtp-password", "value": "Zx-csrf-1"}'


@pytest.mark.usefixtures("stores_unchanged")
async def test_a_text_plain_body_is_415_and_changes_nothing(client: Api) -> None:
    response = await client.call("config_put", route=ENTRY, body=b'{"value": "v"}',
                                 headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert (response.status, response.error) == (415, "unsupported_media_type")


@pytest.mark.usefixtures("stores_unchanged")
async def test_a_form_encoded_body_is_415_and_changes_nothing(client: Api) -> None:
    client.remember("Zx-csrf-form")
    response = await client.call(
        "secrets_create", body=b"scope=acme&name=smtp-password&value=Zx-csrf-form",
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (response.status, response.error) == (415, "unsupported_media_type")


@pytest.mark.usefixtures("stores_unchanged")
async def test_a_body_without_content_type_is_415(client: Api) -> None:
    client.remember("Zx-csrf-1")
    response = await client.call("secrets_create", body=SECRET, headers={"Content-Type": ""})
    assert (response.status, response.error) == (415, "unsupported_media_type")


async def test_a_workflow_run_with_a_text_plain_body_is_415(client: Api) -> None:
    response = await client.call("workflow_run", route={"org": "acme", "name": "api-test-echo"},
                                 body=b"{}", headers={"Content-Type": "text/plain"})
    assert (response.status, response.error) == (415, "unsupported_media_type")


@pytest.mark.usefixtures("stores_unchanged")
async def test_a_cross_site_write_is_403_and_changes_nothing(client: Api) -> None:
    response = await client.call("config_put", route=ENTRY, json_body={"value": "v"},
                                 headers={"Sec-Fetch-Site": "cross-site"})
    assert (response.status, response.error) == (403, "cross_origin_refused")


async def test_a_cross_site_delete_is_403_and_the_entry_stays(client: Api, table: Table) -> None:
    await table.seed(("acme", "k", "v"))
    response = await client.call("config_delete", route=ENTRY,
                                 headers={"Sec-Fetch-Site": "cross-site"})
    assert (response.status, response.error) == (403, "cross_origin_refused")
    assert await table.state() == [("acme", "k", "v", "string")]


@pytest.mark.usefixtures("stores_unchanged")
async def test_a_foreign_origin_is_403_and_changes_nothing(client: Api) -> None:
    client.remember("Zx-csrf-1")
    response = await client.call("secrets_create", body=SECRET,
                                 headers={"Origin": "https://evil.example"})
    assert (response.status, response.error) == (403, "cross_origin_refused")


async def test_a_same_origin_page_may_write(client: Api, table: Table) -> None:
    response = await client.call("config_put", route=ENTRY, json_body={"value": "v"},
                                 headers={"Sec-Fetch-Site": "same-origin",
                                          "Origin": own_origin(client)})
    assert response.status == 200
    assert ("acme", "k", "v", "string") in await table.state()


async def test_an_old_browser_on_the_own_origin_may_write(client: Api, table: Table) -> None:
    response = await client.call("config_put", route=ENTRY, json_body={"value": "v"},
                                 headers={"Origin": own_origin(client)})
    assert response.status == 200


async def test_a_curl_like_request_may_write(client: Api, table: Table) -> None:
    response = await client.call("config_put", route=ENTRY, json_body={"value": "v"})
    assert response.status == 200
    assert ("acme", "k", "v", "string") in await table.state()


async def test_cross_site_reads_are_not_refused(client: Api, table: Table) -> None:
    """Reading is protected by the browser's same-origin policy (no CORS is answered)."""
    response = await client.call("config_list", route={"org": "acme"},
                                 headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status == 200


def responses_of(operation_id: str) -> dict[str, Any]:
    for item in document()["paths"].values():
        for operation in item.values():
            if operation["operationId"] == operation_id:
                return operation["responses"]  # type: ignore[no-any-return]
    raise AssertionError(operation_id)


@pytest.mark.parametrize("operation", [
    "config_put", "config_delete", "secrets_create", "secrets_update", "secrets_delete",
    "secrets_recover", "workflow_run",
])
def test_state_changing_routes_document_403_and_415(operation: str) -> None:
    assert {"403", "415"} <= set(responses_of(operation))


def test_read_routes_do_not_document_415() -> None:
    assert "415" not in responses_of("config_get")
    assert "415" not in responses_of("health")

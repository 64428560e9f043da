"""The admin page's routes over real HTTP through the local Functions host: the page and
its assets with their content types and CSP as a browser receives them, and the API
routes the page calls."""

from __future__ import annotations

import pytest

from tests.api.conftest import HttpApi, Table, Vault

pytestmark = pytest.mark.integration


async def test_the_page_arrives_as_html_with_its_security_headers(http_api: HttpApi) -> None:
    response = await http_api.call("admin_page", principal=None)
    assert response.status == 200 and response.mimetype == "text/html"
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_a_module_arrives_as_javascript(http_api: HttpApi) -> None:
    response = await http_api.call("admin_asset", principal=None, route={"name": "app.js"})
    assert response.status == 200 and response.mimetype == "text/javascript"
    assert "Content-Security-Policy" in response.headers


async def test_a_path_outside_the_assets_is_not_served(http_api: HttpApi) -> None:
    response = await http_api.call("admin_asset", principal=None,
                                   route={"name": "..%2F__init__.py"})
    assert response.status == 404


async def test_orgs_and_effective_over_http(
    http_api: HttpApi, table: Table, vault: Vault
) -> None:
    await table.seed(("acme", "smtp_password", "smtp-password", "secret_ref"))
    await vault.set("GLOBAL--smtp-password", "Zx-http-effective")
    assert (await http_api.call("orgs_list")).json() == {
        "scopes": ["GLOBAL", "acme"], "orgs": [], "registry": "off"}
    entry = (await http_api.call("orgs_effective", route={"org": "acme"})).json()["entries"][0]
    assert entry["secret"]["resolved_from"] == "global_secret"


async def test_versions_and_rollback_over_http(http_api: HttpApi, vault: Vault) -> None:
    created = await http_api.call("secrets_create", json_body={
        "scope": "acme", "name": "api-token", "value": "Zx-http-1"})
    await vault.set("acme--api-token", "Zx-http-2")
    route = {"scope": "acme", "name": "api-token"}
    versions = (await http_api.call("secrets_versions", route=route)).json()["versions"]
    assert len(versions) == 2
    rolled = await http_api.call("secrets_rollback", route=route,
                                 json_body={"version": created.json()["version"]})
    assert rolled.status == 200
    assert (await vault.client.get_secret("acme--api-token")).value == "Zx-http-1"
    deleted = await http_api.call("secrets_deleted", query={"scope": "acme"})
    assert deleted.status == 200 and deleted.json()["secrets"] == []


async def test_the_page_with_a_trailing_slash_redirects_to_the_page(http_api: HttpApi) -> None:
    async with http_api.session.get(f"{http_api.host.base_url}/admin/",
                                    allow_redirects=False) as answer:
        assert answer.status == 308
        assert answer.headers["Location"] == "../admin"
    async with http_api.session.get(f"{http_api.host.base_url}/admin/") as answer:
        assert answer.status == 200 and str(answer.url).endswith("/api/admin")

"""Who may call what: principal parsing, trust, and the authorization matrix over every route."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from shared.api.auth import NotAuthenticatedError, parse_principal
from tests.api.conftest import (
    ACME_MEMBER,
    ADMIN,
    BETA_MEMBER,
    NO_ROLES,
    Api,
    app_service_principal,
    encode,
    static_web_apps_principal,
)

pytestmark = pytest.mark.integration


# -- parsing ---------------------------------------------------------------------------------
def test_app_service_principal_gives_name_and_roles() -> None:
    principal = parse_principal(app_service_principal("PlatformAdmin", "org:acme", name="al"))
    assert principal.name == "al" and principal.provider == "aad"
    assert principal.roles == {"PlatformAdmin", "org:acme"}
    assert principal.is_platform_admin and principal.member_orgs() == {"acme"}


def test_app_service_role_claims_follow_role_typ() -> None:
    raw = encode({"auth_typ": "aad", "role_typ": "custom-role",
                  "claims": [{"typ": "custom-role", "val": "PlatformAdmin"},
                             {"typ": "groups", "val": "PlatformAdmin-lookalike"}]})
    assert parse_principal(raw).roles == {"PlatformAdmin"}


def test_static_web_apps_principal_gives_name_and_roles() -> None:
    principal = parse_principal(static_web_apps_principal("org:Beta", name="bo"))
    assert principal.name == "bo" and principal.member_orgs() == {"beta"}
    assert not principal.is_platform_admin


def test_missing_base64_padding_is_tolerated() -> None:
    raw = app_service_principal("PlatformAdmin").rstrip("=")
    assert parse_principal(raw).is_platform_admin


def test_roles_are_case_sensitive() -> None:
    assert not parse_principal(app_service_principal("platformadmin")).is_platform_admin


@pytest.mark.parametrize("raw", [
    "", "not base64!", base64.b64encode(b"not json").decode(), encode([1, 2]), encode("admin"),
    encode({"claims": "PlatformAdmin"}), encode({"userRoles": "PlatformAdmin"}),
    encode({"userRoles": [1]}), encode({"claims": [["roles", "PlatformAdmin"]]}),
    encode({"roles": ["PlatformAdmin"]}), base64.b64encode(b"\xff\xfe").decode(),
    encode({"userRoles": ["PlatformAdmin"], "pad": "x" * 20_000}),
])
def test_garbled_principals_are_refused(raw: str) -> None:
    with pytest.raises(NotAuthenticatedError):
        parse_principal(raw)


# -- the matrix -------------------------------------------------------------------------------
#: One call per route that needs a signed-in caller: (function, route params, query, body).
CALLS: list[tuple[str, dict[str, str], dict[str, str], Any]] = [
    ("health_keyvault", {}, {}, None),
    ("config_list", {"org": "acme"}, {}, None),
    ("config_get", {"org": "acme", "key": "k"}, {}, None),
    ("config_put", {"org": "acme", "key": "k"}, {}, {"value": "v"}),
    ("config_delete", {"org": "acme", "key": "k"}, {}, None),
    ("secrets_list", {}, {"scope": "acme"}, None),
    ("secrets_create", {}, {}, {"scope": "acme", "name": "n", "value": "Zx-matrix"}),
    ("secrets_update", {"scope": "acme", "name": "n"}, {}, {"value": "Zx-matrix-2"}),
    ("secrets_delete", {"scope": "acme", "name": "n"}, {}, None),
    ("secrets_recover", {"scope": "acme", "name": "n"}, {}, None),
    ("workflow_run", {"org": "acme", "name": "api-test-echo"}, {}, {}),
]
ADMIN_ONLY = [c for c in CALLS if c[0] != "workflow_run"]
GARBLED = "eyJub3QiOiAidmFsaWQi"  # base64 of a truncated JSON document


async def _call(api: Api, call: tuple[str, dict[str, str], dict[str, str], Any],
                principal: str | None) -> Any:
    function, route, query, body = call
    return await api.call(function, principal=principal, route=route, query=query,
                          json_body=body)


@pytest.mark.parametrize("call", CALLS, ids=[c[0] for c in CALLS])
@pytest.mark.usefixtures("stores_unchanged")
async def test_anonymous_is_401(api: Api, call: Any) -> None:
    response = await _call(api, call, None)
    assert (response.status, response.error) == (401, "unauthenticated")


@pytest.mark.parametrize("call", CALLS, ids=[c[0] for c in CALLS])
@pytest.mark.usefixtures("stores_unchanged")
async def test_a_principal_is_not_trusted_when_platform_auth_is_off(
    api: Api, api_env: Callable[..., None], call: Any
) -> None:
    api_env(WEBSITE_AUTH_ENABLED="false")
    response = await _call(api, call, ADMIN)
    assert (response.status, response.error) == (401, "unauthenticated")
    assert "WEBSITE_AUTH_ENABLED" in response.json()["message"]


@pytest.mark.parametrize("call", CALLS, ids=[c[0] for c in CALLS])
@pytest.mark.usefixtures("stores_unchanged")
async def test_a_garbled_principal_is_401(api: Api, call: Any) -> None:
    response = await _call(api, call, GARBLED)
    assert (response.status, response.error) == (401, "unauthenticated")


@pytest.mark.parametrize("call", CALLS, ids=[c[0] for c in CALLS])
@pytest.mark.usefixtures("stores_unchanged")
async def test_a_caller_without_roles_is_403_naming_the_role(api: Api, call: Any) -> None:
    response = await _call(api, call, NO_ROLES)
    assert (response.status, response.error) == (403, "forbidden")
    assert "PlatformAdmin" in response.json()["required_roles"]


@pytest.mark.parametrize("call", ADMIN_ONLY, ids=[c[0] for c in ADMIN_ONLY])
@pytest.mark.usefixtures("stores_unchanged")
async def test_an_org_member_cannot_use_admin_routes(api: Api, call: Any) -> None:
    response = await _call(api, call, ACME_MEMBER)
    assert response.status == 403
    assert response.json()["required_roles"] == ["PlatformAdmin"]
    assert "'PlatformAdmin'" in response.json()["message"]


@pytest.mark.parametrize("call", CALLS, ids=[c[0] for c in CALLS])
async def test_an_admin_passes_authorization(api: Api, call: Any) -> None:
    response = await _call(api, call, ADMIN)
    assert response.status not in (401, 403), response.text


async def test_an_org_member_runs_its_orgs_workflows(api: Api) -> None:
    response = await _call(api, CALLS[-1], ACME_MEMBER)
    assert response.status == 200 and response.json()["org_id"] == "acme"


async def test_a_member_of_another_org_is_403_naming_both_roles(api: Api) -> None:
    response = await _call(api, CALLS[-1], BETA_MEMBER)
    assert response.status == 403
    assert response.json()["required_roles"] == ["PlatformAdmin", "org:acme"]


async def test_static_web_apps_admin_is_an_admin(api: Api) -> None:
    response = await api.call("config_list", route={"org": "acme"},
                              principal=static_web_apps_principal("PlatformAdmin"))
    assert response.status == 200


# -- the Development opt-in --------------------------------------------------------------------
async def test_development_opt_in_trusts_the_header_without_platform_auth(
    api: Api, api_env: Callable[..., None]
) -> None:
    api_env(WEBSITE_AUTH_ENABLED=None, AZURE_FUNCTIONS_ENVIRONMENT="Development",
            ORGCONFIG_TRUST_DEV_PRINCIPAL="true")
    assert (await api.call("config_list", route={"org": "acme"})).status == 200
    assert (await api.call("config_list", route={"org": "acme"}, principal=None)).status == 401


async def test_the_opt_in_is_ignored_outside_development(
    api: Api, api_env: Callable[..., None]
) -> None:
    api_env(WEBSITE_AUTH_ENABLED=None, ORGCONFIG_TRUST_DEV_PRINCIPAL="true")
    assert (await api.call("config_list", route={"org": "acme"})).status == 401


async def test_development_alone_does_not_trust_the_header(
    api: Api, api_env: Callable[..., None]
) -> None:
    api_env(WEBSITE_AUTH_ENABLED=None, AZURE_FUNCTIONS_ENVIRONMENT="Development")
    assert (await api.call("config_list", route={"org": "acme"})).status == 401


REBOUND_HOSTS = ["attacker.example", "attacker.example:7071", "localhost.attacker.example",
                 "127.0.0.1.nip.io:7071", "localhost.", "localhost.:7071", "10.0.0.5:7071", ""]
LOOPBACK_HOSTS = ["localhost:7071", "LOCALHOST:7071", "127.0.0.1:7071", "127.8.9.10", "[::1]:7071"]


@pytest.mark.parametrize("host", REBOUND_HOSTS)
async def test_a_development_principal_on_a_rebound_host_is_not_believed(
    api: Api, api_env: Callable[..., None], host: str
) -> None:
    # a page whose name was rebound to 127.0.0.1 sends its own name as Host: under
    # `func start` with the opt-in it must not become PlatformAdmin with a forged header
    api_env(WEBSITE_AUTH_ENABLED=None, AZURE_FUNCTIONS_ENVIRONMENT="Development",
            ORGCONFIG_TRUST_DEV_PRINCIPAL="true")
    answer = await api.call("config_list", route={"org": "acme"}, headers={"Host": host})
    assert answer.status == 401 and "loopback Host" in answer.json()["message"]


@pytest.mark.parametrize("host", LOOPBACK_HOSTS)
async def test_a_development_principal_on_a_loopback_host_is_believed(
    api: Api, api_env: Callable[..., None], host: str
) -> None:
    api_env(WEBSITE_AUTH_ENABLED=None, AZURE_FUNCTIONS_ENVIRONMENT="Development",
            ORGCONFIG_TRUST_DEV_PRINCIPAL="true")
    answer = await api.call("config_list", route={"org": "acme"}, headers={"Host": host})
    assert answer.status == 200


async def test_x_forwarded_host_never_makes_a_rebound_host_loopback(
    api: Api, api_env: Callable[..., None]
) -> None:
    api_env(WEBSITE_AUTH_ENABLED=None, AZURE_FUNCTIONS_ENVIRONMENT="Development",
            ORGCONFIG_TRUST_DEV_PRINCIPAL="true")
    answer = await api.call("config_list", route={"org": "acme"},
                            headers={"Host": "attacker.example", "X-Forwarded-Host": "localhost"})
    assert answer.status == 401


async def test_platform_authentication_is_believed_on_any_host(api: Api) -> None:
    # behind App Service authentication the platform strips forged headers: real names
    answer = await api.call("config_list", route={"org": "acme"},
                            headers={"Host": "orgconfig-prod.azurewebsites.net"})
    assert answer.status == 200


# -- function keys -----------------------------------------------------------------------------
def test_every_route_but_health_openapi_and_the_page_needs_a_function_key(
    functions: Any,
) -> None:
    levels = {name: str(fn.get_trigger().auth_level) for name, fn in functions.items()
              if hasattr(fn.get_trigger(), "auth_level")}
    anonymous = {name for name, level in levels.items() if level.endswith("ANONYMOUS")}
    # the page and its assets hold no data: every API call they make is authorized
    assert anonymous == {"health", "openapi", "admin_page", "admin_asset"}
    assert all(level.endswith("FUNCTION") for name, level in levels.items()
               if name not in anonymous)

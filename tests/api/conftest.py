"""API tests: the function app's functions called in process, against Azurite and the emulator.

``app.get_functions()`` runs once per session; each test gets a fresh table, an empty
vault and a fresh process-wide resolver configured through the environment, exactly as
the Functions worker would. :class:`Api` records every response, and after each test
checks that no secret value a test wrote appears in any response body or header (except
the one-time echo of that value) nor in any log record.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import azure.functions as func
import pytest
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables.aio import TableClient
from azure.keyvault.secrets.aio import SecretClient

from shared.backends.config_rows import entity_from_entry
from shared.backends.config_store import SNAPSHOT_FILTER
from shared.backends.history import BOOKKEEPING_END
from shared.backends.vault_clients import LocalDevelopmentCredential, make_secret_client
from shared.context import OrganizationContext
from shared.core.values import ConfigEntry
from shared.resolver import (
    CatalogMissingHook,
    ConfigResolver,
    get_resolver,
    reset_resolver,
    when_catalog_missing,
)
from shared.settings import Settings
from tests import telemetry_capture
from tools.services import Azurite, KeyVaultEmulator
from workflows import registry

ECHOING = {"secrets_create", "secrets_update"}


# -- principals -------------------------------------------------------------------------------
def encode(document: object) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def app_service_principal(*roles: str, name: str = "alice@example.com") -> str:
    """An X-MS-CLIENT-PRINCIPAL as App Service authentication sends it."""
    claims = [{"typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", "val": name}]
    claims += [{"typ": "roles", "val": role} for role in roles]
    return encode({
        "auth_typ": "aad", "claims": claims,
        "name_typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
        "role_typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
    })


def static_web_apps_principal(*roles: str, name: str = "bob@example.com") -> str:
    """An X-MS-CLIENT-PRINCIPAL as Static Web Apps sends it."""
    return encode({"identityProvider": "aad", "userId": "u-1", "userDetails": name,
                   "userRoles": ["anonymous", "authenticated", *roles]})


ADMIN = app_service_principal("PlatformAdmin", name="admin@example.com")
ACME_MEMBER = app_service_principal("org:acme", name="member@acme.example")
BETA_MEMBER = app_service_principal("org:beta", name="member@beta.example")
NO_ROLES = app_service_principal(name="nobody@example.com")


# -- test workflows ---------------------------------------------------------------------------
async def _echo(context: OrganizationContext, params: dict[str, Any]) -> dict[str, Any]:
    return {"org": context.org_id, "params": params}


async def _read(context: OrganizationContext, params: dict[str, Any]) -> dict[str, Any]:
    value = await context.get_config(str(params.get("key", "")))
    return {"type": type(value).__name__, "length": len(str(value))}


async def _crash(context: OrganizationContext, params: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError(f"crash-canary-{params.get('token')}")


async def _bad_result(context: OrganizationContext, params: dict[str, Any]) -> dict[str, Any]:
    return {"not_json": object()}


TEST_WORKFLOWS = {"api-test-echo": _echo, "api-test-read": _read, "api-test-crash": _crash,
                  "api-test-bad-result": _bad_result}


@pytest.fixture(autouse=True)
def registered_test_workflows() -> Iterator[None]:
    """Registers the test workflows for one test only, so no other suite (the demo runs
    every registered workflow) sees them."""
    for name, fn in TEST_WORKFLOWS.items():
        registry.workflow(name)(fn)
    yield
    for name in TEST_WORKFLOWS:
        registry.unregister(name)


# -- calling functions ------------------------------------------------------------------------
@dataclass
class Response:
    function: str
    status: int
    headers: dict[str, str]
    text: str
    mimetype: str = "application/json"

    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def error(self) -> str | None:
        body = self.json() if self.text else None
        return body.get("error") if isinstance(body, dict) else None


def with_json_type(headers: dict[str, str], body: bytes | None) -> None:
    """A body is sent as JSON unless the test names another Content-Type (any case)."""
    if body and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"


@pytest.fixture(scope="session")
def functions() -> dict[str, Any]:
    from function_app import app

    return {f.get_function_name(): f for f in app.get_functions()}


@dataclass
class Api:
    """Calls the app's functions by name and records what they answer."""

    functions: Mapping[str, Any]
    responses: list[Response] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    #: what function_app.py wires as the process-wide resolver's first build of the secret
    #: catalog: off in these tests (each one decides when its catalog exists) unless a test
    #: takes the ``catalog_on_start`` fixture
    catalog_on_start: CatalogMissingHook | None = None

    def remember(self, *values: str) -> None:
        """Secret values that must never be in a response (but their one-time echo)."""
        self.secrets.update(values)

    async def call(
        self,
        function: str,
        *,
        principal: str | None = ADMIN,
        route: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        fn = self.functions[function]
        trigger = fn.get_trigger()
        route = dict(route or {})
        path = trigger.route
        for name, value in route.items():
            path = path.replace("{" + name + "}", quote(value, safe=""))
        url = f"http://localhost/api/{path}" + (f"?{urlencode(query)}" if query else "")
        all_headers = dict(headers or {})
        if principal is not None:
            all_headers["X-MS-CLIENT-PRINCIPAL"] = principal
        if json_body is not None:
            body = json.dumps(json_body).encode()
            if function in ECHOING and isinstance(json_body, dict) and \
                    isinstance(json_body.get("value"), str):
                self.remember(json_body["value"])
        with_json_type(all_headers, body)
        request = func.HttpRequest(
            trigger.methods[0].value, url, headers=all_headers, params=dict(query or {}),
            route_params=route, body=body or b"",
        )
        answer: func.HttpResponse = await fn.get_user_function()(request)
        response = Response(function, answer.status_code, dict(answer.headers),
                            answer.get_body().decode("utf-8"), answer.mimetype)
        self.responses.append(response)
        return response

    def leaks(self) -> list[str]:
        """Responses that show a known secret value other than their own one-time echo."""
        found = []
        for r in self.responses:
            echoed = None
            if r.function in ECHOING and r.status in (200, 201):
                echoed = r.json().get("value")
            shown = r.text + json.dumps(r.headers)
            found += [f"{r.function} {r.status}" for s in self.secrets
                      if s != echoed and s in shown]
            if echoed is not None and r.text.count(echoed) > 1:
                found.append(f"{r.function} {r.status} echoes the value more than once")
        return found


@pytest.fixture
def table_name() -> str:
    return f"Api{uuid.uuid4().hex[:12]}"


_CLEARED = (
    "AzureWebJobsStorage", "CONFIG_STORAGE_ENDPOINT", "SECRET_ENV_FALLBACK",
    "ORGCONFIG_TRUST_DEV_PRINCIPAL", "CONFIG_CACHE_TTL_SECONDS", "SECRET_CACHE_TTL_SECONDS",
)


@pytest.fixture
def api_env(
    azurite: Azurite, keyvault: KeyVaultEmulator, table_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., None]:
    """Sets the environment the app reads; ``api_env(NAME=value)`` changes it (``None``
    unsets) for the resolver the test's first call creates (``api`` resets it per test)."""
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)

    def apply(**values: str | None) -> None:
        for name, value in values.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)

    apply(
        CONFIG_STORAGE_CONNECTION=azurite.connection_string, CONFIG_TABLE_NAME=table_name,
        AZURE_KEY_VAULT_URL=keyvault.url, AZURE_KEY_VAULT_CA_FILE=keyvault.ca_file,
        AZURE_FUNCTIONS_ENVIRONMENT="Production", WEBSITE_AUTH_ENABLED="true",
        BACKEND_TIMEOUT_SECONDS="3",
    )
    return apply


@pytest.fixture
async def api(
    functions: dict[str, Any], api_env: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> AsyncIterator[Api]:
    caplog.set_level(logging.INFO, logger="orgconfig")
    await reset_resolver()
    client = Api(functions, catalog_on_start=when_catalog_missing(None))
    yield client
    await reset_resolver()
    when_catalog_missing(client.catalog_on_start)
    assert client.leaks() == []
    for record in caplog.records:
        text = record.getMessage() + repr(record.__dict__)
        assert not [s for s in client.secrets if s in text], f"secret in log {record.name}"
    # every OpenTelemetry signal the test emitted: spans, log records, metric attributes
    assert telemetry_capture.leaks(client.secrets) == []


@pytest.fixture
async def catalog_on_start(api: Api) -> CatalogMissingHook:
    """The app's wiring as in production: the process-wide resolver builds the secret
    catalog the first time it finds none. Returns that hook (for resolvers a test makes)."""
    hook = api.catalog_on_start
    assert hook is not None, "function_app.py no longer wires the catalog's first build"
    await reset_resolver()
    when_catalog_missing(hook)
    return hook


@pytest.fixture
def settings(api_env: Callable[..., None]) -> Settings:
    return Settings.from_env()


@pytest.fixture
async def vault(settings: Settings, api: Api) -> AsyncIterator[Vault]:
    client = make_secret_client(settings, LocalDevelopmentCredential())
    async with client:
        yield Vault(client, api)


@dataclass
class Vault:
    """The emulator through the SDK, for seeding and checking; values it sets are remembered
    as secrets that no response may show."""

    client: SecretClient
    api: Api

    async def set(self, name: str, value: str) -> None:
        self.api.remember(value)
        await self.client.set_secret(name, value)

    async def names(self) -> list[str]:
        return sorted([p.name or "" async for p in self.client.list_properties_of_secrets()])

    async def state(self) -> tuple[list[tuple[str, int]], list[str]]:
        """Every active secret with its number of versions, and every deleted one."""
        active = []
        for name in await self.names():
            versions = [v async for v in self.client.list_properties_of_secret_versions(name)]
            active.append((name, len(versions)))
        deleted = sorted([d.name or "" async for d in self.client.list_deleted_secrets()])
        return active, deleted


@pytest.fixture
async def table(settings: Settings) -> AsyncIterator[Table]:
    assert settings.storage_connection is not None
    client = TableClient.from_connection_string(settings.storage_connection, settings.table_name)
    async with client:
        yield Table(client)


@dataclass
class Table:
    """The config table, read and seeded directly (not through the API)."""

    client: TableClient

    async def seed(self, *rows: tuple[str, ...]) -> None:
        """``await table.seed(("acme", "k", "v"), ("GLOBAL", "n", "5", "int"))``"""
        with contextlib.suppress(ResourceExistsError):
            await self.client.create_table()
        for row in rows:
            entry = ConfigEntry(*row)  # type: ignore[arg-type]
            await self.client.upsert_entity(entity_from_entry(entry))

    async def state(self) -> list[tuple[str, str, str, str]]:
        """Every config entry (the change log and the history rows aside)."""
        return [r for r in await self._rows() if not r[1].startswith(BOOKKEEPING_END)]

    async def history_state(self) -> list[tuple[str, str, str, str]]:
        """Every history and change-feed row (``~~h~`` and ``~~c~``)."""
        return [r for r in await self._rows() if r[1].startswith(BOOKKEEPING_END)]

    async def _rows(self) -> list[tuple[str, str, str, str]]:
        try:
            rows = [(e["PartitionKey"], e["RowKey"], str(e.get("Value")), str(e.get("Type")))
                    async for e in self.client.list_entities()]
        except ResourceNotFoundError:
            return []  # no table yet
        return sorted(r for r in rows if r[0] != "_orgconfig")


@pytest.fixture
async def stores_unchanged(table: Table, vault: Vault) -> AsyncIterator[None]:
    """Asserts at the end of the test that neither the table (history included) nor the
    vault changed."""
    before = (await table.state(), await table.history_state(), await vault.state())
    yield
    assert (await table.state(), await table.history_state(), await vault.state()) == before


@pytest.fixture
def resolver(api: Api) -> ConfigResolver:
    """The process-wide resolver the functions use (created from the environment)."""
    return get_resolver()


# -- the same functions over real HTTP (tools.localhost) --------------------------------------
class Headers(dict[str, str]):
    """Response headers looked up case-insensitively, as HTTP header names are."""

    def __init__(self, items: Any) -> None:
        super().__init__((k.lower(), v) for k, v in items)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)


@dataclass
class HttpApi(Api):
    """Calls the app's functions over real HTTP through the local Functions host, with the
    same interface as :class:`Api` (``method``/``path`` override the function's own)."""

    host: Any = None
    session: Any = None

    async def call(  # type: ignore[override]
        self,
        function: str,
        *,
        principal: str | None = ADMIN,
        route: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        method: str | None = None,
    ) -> Response:
        trigger = self.functions[function].get_trigger()
        path = trigger.route
        for name, value in (route or {}).items():
            path = path.replace("{" + name + "}", quote(value, safe=""))
        all_headers = dict(headers or {})
        if principal is not None:
            all_headers["X-MS-CLIENT-PRINCIPAL"] = principal
        if json_body is not None:
            body = json.dumps(json_body).encode()
            if function in ECHOING and isinstance(json_body, dict) and \
                    isinstance(json_body.get("value"), str):
                self.remember(json_body["value"])
        with_json_type(all_headers, body)
        async with self.session.request(
            method or trigger.methods[0].value, f"{self.host.base_url}/{path}",
            params=dict(query or {}), data=body, headers=all_headers,
        ) as answer:
            text = (await answer.read()).decode("utf-8")
            response = Response(function, answer.status, Headers(answer.headers.items()), text,
                                answer.content_type)
        self.responses.append(response)
        return response


@pytest.fixture
def host_options() -> dict[str, Any]:
    """Options of the local host (a test module overrides this fixture, e.g. for keys)."""
    return {}


@pytest.fixture
async def http_api(
    api: Api, host_options: dict[str, Any]
) -> AsyncIterator[HttpApi]:
    """The app served over HTTP on a free loopback port, in the test's own loop (so the
    functions create the process-wide resolver there, as the worker does); responses are
    checked for leaks by ``api``'s teardown too."""
    import aiohttp

    from tools.localhost import LocalFunctionsHost

    async with LocalFunctionsHost(api.functions.values(), **host_options) as host, \
            aiohttp.ClientSession() as session:
        client = HttpApi(api.functions, host=host, session=session)
        yield client
    api.responses += client.responses
    api.secrets |= client.secrets


async def snapshot_reload(settings: Settings, table_name: str, scope: str
                          ) -> tuple[int, set[str]]:
    """The bytes a snapshot reload of ``scope`` fetches (response bodies, as the resolver's
    query) and the RowKeys it returns."""
    sizes: list[int] = []
    assert settings.storage_connection is not None
    client = TableClient.from_connection_string(
        settings.storage_connection, table_name,
        raw_response_hook=lambda r: sizes.append(len(r.http_response.body())))
    async with client:
        rows = [e async for e in client.query_entities(
            SNAPSHOT_FILTER, parameters={"pk": scope, "end": BOOKKEEPING_END})]
    return sum(sizes), {str(r["RowKey"]) for r in rows}

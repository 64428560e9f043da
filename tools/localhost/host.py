"""A local stand-in for the Azure Functions host: the app's HTTP functions over real HTTP.

It serves ``app.get_functions()`` on a loopback port with aiohttp, matching routes as
the host does (:mod:`tools.localhost.routes`), and builds each ``func.HttpRequest`` and
reads each ``func.HttpResponse`` with the very converters the Python worker uses
(``azure.functions.http``), from the values the host sends the worker:

- header names lower-cased, repeated headers joined with ``,``;
- query parameters decoded, repeated ones joined with ``,``, empty ones left out;
- route values decoded (``%2F`` kept), absent optionals left out; the body as bytes.

Event Grid-triggered functions are served as the host's Event Grid extension serves them,
at ``POST /runtime/webhooks/eventgrid?functionName={name}``: the ``aeg-event-type`` header
``SubscriptionValidation`` is answered ``{"validationResponse": code}`` without calling the
function; ``Notification`` calls it once per event of the array (Event Grid schema or
CloudEvents, decoded by the worker's own converter) and answers 202, or 500 when it raised
(Event Grid retries); ``Unsubscribe`` 202; no or another header 400; an unknown function
404. With keys enforced, ``code`` (or ``x-functions-key``) must be the master key or the
``eventgrid_extension`` system key (``eventgrid_key``), as in Azure.

Answers like the host: no route for the path and method -> 404 (also for a known path
with another method); a function key missing or wrong -> 401 (only when keys are
enforced: off by default, as under Core Tools); a body over the limit (the host's
100 MB, ``FUNCTIONS_REQUEST_BODY_SIZE_LIMIT`` or ``max_body_bytes``) -> 413; a function
that raises -> 500 with an empty body; a function that returns nothing -> 204. All
three error answers have empty bodies, as the host's do.

Guarded as a loopback server must be, before any routing:

- a request whose ``Host`` is not a loopback name (:mod:`tools.loopback`: ``localhost``,
  ``127.0.0.0/8``, ``[::1]``, with any port) -> 421 Misdirected Request, so a page whose
  name an attacker rebinds to 127.0.0.1 (DNS rebinding) reaches nothing. ``Host`` alone
  decides; ``X-Forwarded-Host`` is never read;
- request headers must be complete within ``header_timeout`` (30 s, as Kestrel) -> 408 and
  closed; at most ``max_connections`` (100) open connections -> 503 and closed
  (:mod:`tools.localhost.guard`), so a slow loris cannot hold the host.

The host runs on the event loop that starts it. Tests start it inside the test's own
loop (``async with LocalFunctionsHost(app) as host``), so the functions, the process-wide
resolver they create lazily and the test's clients share one loop, as in the worker.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import inspect
import ipaddress
import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func
from aiohttp import web
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.http import HttpRequestConverter, HttpResponseConverter
from azure.functions.meta import Datum

from shared.core.loopback import is_loopback_host
from tools.localhost.guard import DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS, ConnectionGuard
from tools.localhost.routes import Route, RouteTable

log = logging.getLogger("orgconfig.localhost")

#: The Functions host's default request body limit (100 MB).
DEFAULT_MAX_BODY_BYTES = 104_857_600
BODY_LIMIT_SETTING = "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"
KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"
PRINCIPAL_HEADER = "X-MS-CLIENT-PRINCIPAL"
#: where the Functions host's Event Grid extension takes deliveries (no route prefix)
EVENTGRID_PATH = "/runtime/webhooks/eventgrid"
REPO_ROOT = Path(__file__).resolve().parents[2]
MISDIRECTED = "Misdirected Request: the Host must be localhost, 127.0.0.1 or [::1]\n"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def read_route_prefix(host_json: Path) -> str:
    """``extensions.http.routePrefix`` of a host.json (``api`` when absent; ``""`` kept)."""
    try:
        document = json.loads(host_json.read_text())
    except FileNotFoundError:
        return "api"
    prefix = document.get("extensions", {}).get("http", {}).get("routePrefix", "api")
    return str(prefix).strip("/")


@dataclass(frozen=True)
class HttpFunction:
    """One HTTP-triggered function of the app, as the host routes to it."""

    name: str
    route: Route
    auth_level: str  # anonymous | function | admin
    binding: str  # the parameter the trigger binds to
    user_function: Callable[..., Any]


def _level(value: Any) -> str:
    if value is None:
        return "function"  # the Functions default
    return str(getattr(value, "value", value)).lower()


Functions = func.FunctionApp | Iterable[Any]


@dataclass(frozen=True)
class EventGridFunction:
    """One Event Grid-triggered function of the app, served at :data:`EVENTGRID_PATH`."""

    name: str
    binding: str
    user_function: Callable[..., Any]


def eventgrid_functions(functions: Iterable[Any]) -> list[EventGridFunction]:
    """The Event Grid-triggered functions among ``app.get_functions()``'s."""
    found = []
    for function in functions:
        trigger = function.get_trigger()
        if trigger is not None and trigger.get_binding_name() == "eventGridTrigger":
            found.append(EventGridFunction(function.get_function_name() or "?", trigger.name,
                                           function.get_user_function()))
    return found


def http_functions(app: Functions, prefix: str) -> tuple[list[HttpFunction], list[str]]:
    """The app's HTTP functions, and the names of the functions it cannot serve.

    ``app`` is a FunctionApp or what its ``get_functions()`` returned (which may be
    called only once per app: a second call reports every function as a duplicate)."""
    served, skipped = [], []
    functions = app.get_functions() if isinstance(app, func.FunctionApp) else app
    for function in functions:
        name = function.get_function_name() or "?"
        trigger = function.get_trigger()
        if not function.is_http_function() or trigger is None:
            skipped.append(f"{name} ({type(trigger).__name__ if trigger else 'no trigger'})")
            continue
        methods = [getattr(m, "value", m) for m in getattr(trigger, "methods", None) or []]
        route = Route.build(getattr(trigger, "route", None) or name, prefix, methods or None,
                            target=name)
        served.append(HttpFunction(name, route, _level(getattr(trigger, "auth_level", None)),
                                   trigger.name, function.get_user_function()))
    return served, skipped


def _joined(pairs: Iterable[tuple[str, str]], *, lower: bool, drop_empty: bool) -> dict[str, str]:
    """Repeated names joined with ``,``, as ``StringValues.ToString()`` does in the host."""
    merged: dict[str, list[str]] = {}
    spelled: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        spelled.setdefault(key, key if lower else name)
        merged.setdefault(key, []).append(value)
    out = {spelled[k]: ",".join(v) for k, v in merged.items()}
    return {k: v for k, v in out.items() if v != ""} if drop_empty else out


def build_request(request: web.Request, route_values: dict[str, str], body: bytes,
                  added_headers: dict[str, str] | None = None) -> func.HttpRequest:
    """The ``func.HttpRequest`` the worker would build for ``request`` (with
    ``added_headers``, as the platform adds ``X-MS-CLIENT-PRINCIPAL``)."""
    url = f"{request.scheme}://{request.host}{request.rel_url.raw_path}"
    if request.rel_url.raw_query_string:
        url += "?" + request.rel_url.raw_query_string

    def strings(values: dict[str, str]) -> dict[str, Datum]:
        return {k: Datum(v, "string") for k, v in values.items()}

    datum = Datum({
        "method": Datum(request.method, "string"),
        "url": Datum(url, "string"),
        "headers": strings(_joined([*request.headers.items(), *(added_headers or {}).items()],
                                   lower=True, drop_empty=False)),
        "query": strings(_joined(request.rel_url.query.items(), lower=False, drop_empty=True)),
        "params": strings(route_values),
        "body": Datum(body, "bytes"),
    }, "http")
    result: func.HttpRequest = HttpRequestConverter.decode(datum, trigger_metadata=None)
    return result


def build_response(result: Any) -> web.Response:
    """The HTTP answer for what a function returned, via the worker's converter."""
    if result is None:
        return web.Response(status=204)
    if isinstance(result, str):
        return web.Response(status=200, body=result.encode(),
                            headers={"Content-Type": "text/plain; charset=utf-8"})
    datum = HttpResponseConverter.encode(result, expected_type=None)
    value = datum.value
    headers = {k: v.value for k, v in value["headers"].items()
               if k.lower() not in {"content-length", "transfer-encoding"}}
    response = web.Response(status=int(value["status_code"].value), body=value["body"].value,
                            headers=headers)
    for cookie in value.get("cookies") or []:
        for morsel in cookie.values():
            response.headers.add("Set-Cookie", morsel.OutputString())
    return response


class LocalFunctionsHost:
    """Serves a ``func.FunctionApp``'s HTTP functions on ``http://{host}:{port}``
    (or those of a list already taken from ``app.get_functions()``).

    ``route_prefix=None`` reads host.json next to the app (``api`` when absent).
    ``function_keys``: ``None`` serves without keys (as Core Tools does); keys (one or
    several) are then required for ``function``-level functions, in the
    ``x-functions-key`` header or the ``code`` query parameter; ``master_key`` also
    opens ``admin``-level ones.
    ``sign_in``: a base64 ``X-MS-CLIENT-PRINCIPAL`` added to every request that carries
    none, as App Service authentication does for a signed-in browser (``make serve``:
    the admin page works in any browser). Only for requests whose ``Host`` is a loopback
    name, so a page that rebinds its own domain to 127.0.0.1 cannot borrow it (the host
    answers such requests 421 anyway).
    ``header_timeout`` (seconds) and ``max_connections``: the slow-loris limits above.
    ``eventgrid_key``: the ``eventgrid_extension`` system key the Event Grid webhook takes
    (besides the master key) when keys are enforced.

    >>> async with LocalFunctionsHost(app) as host:           # doctest: +SKIP
    ...     url = f"{host.base_url}/health"
    """

    def __init__(
        self,
        app: Functions,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        route_prefix: str | None = None,
        host_json: Path = REPO_ROOT / "host.json",
        function_keys: str | Iterable[str] | None = None,
        master_key: str | None = None,
        max_body_bytes: int | None = None,
        sign_in: str | None = None,
        header_timeout: float = DEFAULT_HEADER_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        eventgrid_key: str | None = None,
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the local host listens on loopback only, not {host!r}")
        self.host, self.port = host, port
        self.route_prefix = (read_route_prefix(host_json) if route_prefix is None
                             else route_prefix.strip("/"))
        functions = list(app.get_functions() if isinstance(app, func.FunctionApp) else app)
        self.functions, skipped = http_functions(functions, self.route_prefix)
        self.event_functions = {f.name.lower(): f for f in eventgrid_functions(functions)}
        self.skipped = [name for name in skipped
                        if name.split(" ", 1)[0].lower() not in self.event_functions]
        self.eventgrid_key = eventgrid_key
        self.table = RouteTable([f.route for f in self.functions])
        self._by_name = {f.name: f for f in self.functions}
        keys = [function_keys] if isinstance(function_keys, str) else function_keys
        self.function_keys: tuple[str, ...] | None = None if keys is None else tuple(keys)
        self.master_key = master_key
        if max_body_bytes is None:
            max_body_bytes = int(os.environ.get(BODY_LIMIT_SETTING) or DEFAULT_MAX_BODY_BYTES)
        self.max_body_bytes = max_body_bytes
        self.sign_in = sign_in
        self.guard = ConnectionGuard(header_timeout=header_timeout,
                                     max_connections=max_connections)
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        """The server's origin, e.g. ``http://127.0.0.1:7071``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Where routes start: the origin plus the route prefix."""
        return f"{self.url}/{self.route_prefix}" if self.route_prefix else self.url

    @property
    def keys_enforced(self) -> bool:
        return self.function_keys is not None or self.master_key is not None

    def describe(self) -> list[str]:
        """One line per served function (methods and URL) and per skipped one."""
        lines = []
        for f in sorted(self.functions, key=lambda f: f.name):
            methods = ",".join(sorted(f.route.methods)) if f.route.methods else "*"
            lines.append(f"  {f.name}: [{methods}] {self.url}/{f.route.template}")
        for key in sorted(self.event_functions):
            name = self.event_functions[key].name
            lines.append(f"  {name}: [POST] {self.eventgrid_url(name)} (Event Grid)")
        lines += [f"  skipped (not HTTP): {name}" for name in self.skipped]
        return lines

    def eventgrid_url(self, function: str) -> str:
        """The webhook URL an Event Grid subscription for ``function`` delivers to."""
        return f"{self.url}{EVENTGRID_PATH}?functionName={function}"

    async def start(self) -> LocalFunctionsHost:
        app = web.Application(client_max_size=self.max_body_bytes,
                              middlewares=[self.guard.middleware, self._loopback_only])
        # [\s\S], not ".": a path may hold an encoded newline (%0A), which "." would not match.
        app.router.add_route("*", r"/{tail:[\s\S]*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        assert self._runner.server is not None
        # Our own listener rather than a TCPSite: the guard wraps each connection's protocol.
        self._server = await asyncio.get_running_loop().create_server(
            self.guard.factory(self._runner.server), self.host, self.port)
        if self.port == 0:
            self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("serving %d functions on %s", len(self.functions), self.base_url)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()  # stop accepting; open connections are shut down below
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> LocalFunctionsHost:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _key_accepted(self, function: HttpFunction, request: web.Request) -> bool:
        if not self.keys_enforced or function.auth_level == "anonymous":
            return True
        given = request.headers.get(KEY_HEADER) or request.rel_url.query.get(KEY_QUERY) or ""
        valid = [self.master_key] if self.master_key else []
        if function.auth_level == "function":
            valid += list(self.function_keys or ())
        return any(hmac.compare_digest(given.encode(), key.encode()) for key in valid)

    @web.middleware
    async def _loopback_only(self, request: web.Request, handler: Handler
                             ) -> web.StreamResponse:
        """421 unless the request's one ``Host`` is a loopback name (DNS rebinding)."""
        hosts = request.headers.getall("Host", [])
        if len(hosts) != 1 or not is_loopback_host(hosts[0]):
            log.warning("refused %s %s for Host %r: not a loopback name", request.method,
                        request.rel_url.raw_path[:200], hosts[0][:200] if hosts else None)
            return web.Response(status=421, text=MISDIRECTED)
        return await handler(request)

    def _platform_headers(self, request: web.Request) -> dict[str, str]:
        if self.sign_in is None or PRINCIPAL_HEADER in request.headers:
            return {}
        loopback = is_loopback_host(request.headers.get("Host"))
        return {PRINCIPAL_HEADER: self.sign_in} if loopback else {}

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.rel_url.path.rstrip("/").lower() == EVENTGRID_PATH:
            return await self._eventgrid(request)
        found = self.table.find(request.rel_url.raw_path, request.method)
        if found is None:
            return web.Response(status=404)
        route, values = found
        function = self._by_name[route.target]
        if not self._key_accepted(function, request):
            return web.Response(status=401)
        if (request.content_length or 0) > self.max_body_bytes:
            return web.Response(status=413)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413)
        req = build_request(request, values, body, self._platform_headers(request))
        try:
            if inspect.iscoroutinefunction(function.user_function):
                result = await function.user_function(**{function.binding: req})
            else:  # the worker runs sync functions on its thread pool
                result = await asyncio.get_running_loop().run_in_executor(
                    None, lambda: function.user_function(**{function.binding: req}))
        except Exception:
            log.exception("function %s raised", function.name)
            return web.Response(status=500)
        return build_response(result)

    async def _eventgrid(self, request: web.Request) -> web.StreamResponse:
        """The Event Grid extension's webhook (see the module docstring)."""
        name = request.rel_url.query.get("functionName", "")
        function = self.event_functions.get(name.lower())
        if request.method != "POST" or function is None:
            return web.Response(status=404)
        if self.keys_enforced:
            given = request.rel_url.query.get(KEY_QUERY) or request.headers.get(KEY_HEADER) or ""
            valid = [k for k in (self.master_key, self.eventgrid_key) if k]
            if not any(hmac.compare_digest(given.encode(), k.encode()) for k in valid):
                return web.Response(status=401)
        if (request.content_length or 0) > self.max_body_bytes:
            return web.Response(status=413)
        kind = request.headers.get("aeg-event-type", "")
        if kind == "Unsubscribe":
            return web.Response(status=202)
        if kind not in ("SubscriptionValidation", "Notification"):
            return web.Response(status=400, text=f"Unrecognized 'aeg-event-type' header "
                                f"{kind!r}: expected SubscriptionValidation or Notification")
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError, web.HTTPRequestEntityTooLarge):
            return web.Response(status=400, text="the body is not a JSON array of events")
        events = body if isinstance(body, list) else [body]
        if not events or not all(isinstance(e, dict) for e in events):
            return web.Response(status=400, text="the body is not a JSON array of events")
        if kind == "SubscriptionValidation":
            data = events[0].get("data")
            code = data.get("validationCode") if isinstance(data, dict) else None
            if not isinstance(code, str) or not code:
                return web.Response(status=400, text="no data.validationCode to answer")
            return web.json_response({"validationResponse": code})
        for event in events:  # the host invokes the function once per event
            argument = EventGridEventInConverter.decode(
                Datum(json.dumps(event), "json"), trigger_metadata=None)
            try:
                if inspect.iscoroutinefunction(function.user_function):
                    await function.user_function(**{function.binding: argument})
                else:
                    await asyncio.get_running_loop().run_in_executor(
                        None, functools.partial(function.user_function,
                                                **{function.binding: argument}))
            except Exception:
                log.exception("function %s raised", function.name)
                return web.Response(status=500)
        return web.Response(status=202)

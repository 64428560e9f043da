"""The route table: each endpoint declared once, registered as an Azure Function and
described in the OpenAPI document from the same declaration, so neither can drift.

A handler is ``async def handler(call: Call[Body]) -> Reply | BaseModel``: it sees the
resolver, the caller and the validated request, never an HTTP object, so tests can
call it directly. :func:`respond` is the one place that turns an ``HttpRequest`` into
a :class:`Call` (browser-safety checks, authentication, authorization, body
parsing) and anything raised into an error reply (:mod:`shared.api.errors`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func
from pydantic import BaseModel, ValidationError

from shared.api.auth import (
    Principal,
    authenticate,
    require_org_member,
    require_platform_admin,
)
from shared.api.browser_safety import SAFE_METHODS, refuse_cross_origin, require_json_body
from shared.api.errors import ApiError, error_reply, invalid_request
from shared.api.openapi_links import PROPAGATION
from shared.core.audit import ANONYMOUS, Actor, log_fields
from shared.core.naming import GLOBAL, canonical_org_id, canonical_scope
from shared.errors import InvalidNameError
from shared.read.coherence import DELAYED
from shared.resolver import ConfigResolver, get_resolver

log = logging.getLogger("orgconfig.api")

#: on a write's answer when the change could not be recorded for the other instances yet:
#: until when they may still serve the old value (RFC 3339); the record is being retried
PROPAGATION_HEADER = next(iter(PROPAGATION))

B = TypeVar("B")
Access = Literal["anyone", "admin", "org_member"]
Handler = Callable[["Call[Any]"], Awaitable["Reply | BaseModel | dict[str, Any]"]]

#: Larger bodies are refused before parsing: the biggest legitimate one is a config value
#: of 32,000 characters (each up to 6 bytes once JSON-escaped).
MAX_BODY_BYTES = 256 * 1024
_ROUTE_PARAM = re.compile(r"{(\w+)}")


@dataclass
class Reply:
    """A successful answer: a model (or plain dict), a status and extra headers; or raw
    ``bytes`` of ``media_type`` (the admin page and its assets)."""

    body: BaseModel | dict[str, Any] | bytes | None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"


@dataclass
class Call(Generic[B]):
    """One validated request, as a handler sees it."""

    principal: Principal | None
    route: Mapping[str, str]
    body: B
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    resolver_factory: Callable[[], ConfigResolver] = get_resolver
    url: str = ""

    @cached_property
    def resolver(self) -> ConfigResolver:
        return self.resolver_factory()

    @property
    def actor(self) -> Actor:
        """The caller as audit records name it."""
        return self.principal.actor if self.principal is not None else ANONYMOUS

    def header(self, name: str) -> str | None:
        """A request header, by case-insensitive name."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    def sent_empty(self, name: str) -> bool:
        """Whether query parameter ``name`` was sent with an empty value (``?name=``, also
        what an empty array or object serializes to): the Functions host leaves empty
        values out of ``query``, so only the URL tells this from an absent parameter."""
        if name in self.query:
            return False
        pairs = parse_qsl(urlsplit(self.url).query, keep_blank_values=True)
        return any(key == name for key, _ in pairs)


@dataclass(frozen=True)
class Param:
    """A documented path, query or header parameter (values arrive as strings);
    ``schema`` is its JSON Schema in the OpenAPI document (default: ``{"type": kind}``)."""

    name: str
    description: str
    where: Literal["query", "header", "path"] = "query"
    required: bool = False
    kind: Literal["string", "boolean"] = "string"
    schema: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)


@dataclass(frozen=True)
class Endpoint:
    """One route: what it is, who may call it, what it takes and returns."""

    name: str
    method: str
    route: str
    handler: Handler
    access: Access
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    body_optional: bool = False
    response: type[BaseModel] | None = None
    status: int = 200
    #: other statuses answered with the ``response`` model (not an error body)
    also: tuple[int, ...] = ()
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()
    #: media types of the success body (the admin page answers HTML, scripts, CSS)
    produces: tuple[str, ...] = ("application/json",)

    @property
    def route_params(self) -> list[str]:
        return _ROUTE_PARAM.findall(self.route)

    @property
    def auth_level(self) -> func.AuthLevel:
        # Function keys are defense in depth on every route a caller must sign in for.
        return func.AuthLevel.ANONYMOUS if self.access == "anyone" else func.AuthLevel.FUNCTION


class RouteTable:
    """The endpoints of one area (config, secrets, ...), declared with :meth:`route`."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.endpoints: list[Endpoint] = []

    def route(
        self,
        method: str,
        route: str,
        *,
        name: str,
        access: Access,
        summary: str,
        body: type[BaseModel] | None = None,
        body_optional: bool = False,
        response: type[BaseModel] | None = None,
        status: int = 200,
        also: tuple[int, ...] = (),
        params: tuple[Param, ...] = (),
        errors: tuple[int, ...] = (),
        produces: tuple[str, ...] = ("application/json",),
    ) -> Callable[[Handler], Handler]:
        """Declare ``handler`` as the endpoint ``method route``."""

        def register(handler: Handler) -> Handler:
            self.endpoints.append(Endpoint(
                name=name, method=method, route=route, handler=handler, access=access,
                summary=summary, tag=self.tag, body=body, body_optional=body_optional,
                response=response, status=status, also=also, params=params,
                errors=(*errors, *_browser_safety_errors(method, body),
                        *_unknown_org_errors(route, params)), produces=produces,
            ))
            return handler

        return register

    def blueprint(self) -> func.Blueprint:
        """An Azure Functions blueprint with one function per endpoint."""
        bp = func.Blueprint()
        for endpoint in self.endpoints:
            trigger = bp.route(
                route=endpoint.route, methods=[endpoint.method], auth_level=endpoint.auth_level
            )
            bp.function_name(endpoint.name)(trigger(_function(endpoint)))
        return bp


def _browser_safety_errors(method: str, body: type[BaseModel] | None) -> tuple[int, ...]:
    """The statuses :func:`_answer`'s browser-safety checks add to a route's errors:
    403 cross-origin refusal on state-changing methods, 415 for a non-JSON body."""
    state_changing = method.upper() not in SAFE_METHODS
    return ((403,) if state_changing else ()) + ((415,) if state_changing or body else ())


def _function(endpoint: Endpoint) -> Callable[[func.HttpRequest], Awaitable[func.HttpResponse]]:
    async def function(req: func.HttpRequest) -> func.HttpResponse:
        return await respond(endpoint, req)

    function.__name__ = function.__qualname__ = endpoint.name
    function.__doc__ = endpoint.summary
    # The worker binds parameters by their annotations; give it the real types.
    function.__annotations__ = {"req": func.HttpRequest, "return": func.HttpResponse}
    return function


async def respond(endpoint: Endpoint, req: func.HttpRequest) -> func.HttpResponse:
    """Answer one request: every failure goes through the API's one error mapping."""
    started = time.perf_counter()
    try:
        response = _http(await _answer(endpoint, req))
    except Exception as exc:
        error = error_reply(exc, route=endpoint.name)
        response = _http(Reply(error.body, error.status, error.headers))
    log.info(
        "%s %s -> %d in %.1f ms", endpoint.method, endpoint.route, response.status_code,
        (time.perf_counter() - started) * 1000,
        extra=log_fields(route=endpoint.name, status=response.status_code),
    )
    return response


async def _answer(endpoint: Endpoint, req: func.HttpRequest) -> Reply:
    # Browser-forgeable requests are refused first, before anything is read or changed.
    refuse_cross_origin(req.method, req.headers, req.url)
    if endpoint.body is not None or req.method.upper() not in SAFE_METHODS:
        require_json_body(req.headers, req.get_body())
    route = dict(req.route_params or {})
    principal: Principal | None = None
    if endpoint.access != "anyone":
        principal = authenticate(req.headers, get_resolver().settings, req.url)
        authorize(endpoint.access, principal, route)
    body = None
    if endpoint.body is not None:
        body = parse_body(req.get_body(), endpoint.body, optional=endpoint.body_optional)
    call: Call[Any] = Call(principal, route, body, dict(req.params or {}), req.headers,
                           url=req.url)
    if endpoint.access != "anyone":
        await require_known_org(call)
    token = DELAYED.set(())
    try:
        result = await endpoint.handler(call)
        reply = result if isinstance(result, Reply) else Reply(result, endpoint.status)
        if delayed := DELAYED.get():
            # the write is done here, but other instances were not told yet (retrying)
            until = max(d.until for d in delayed)
            reply.headers[PROPAGATION_HEADER] = until.isoformat(timespec="seconds")
    finally:
        DELAYED.reset(token)
    return reply


def _unknown_org_errors(route: str, params: tuple[Param, ...]) -> tuple[int, ...]:
    """404 ``unknown_org`` is an answer of every route that names an org."""
    names = {p.name for p in params} | set(_ROUTE_PARAM.findall(route))
    return (404,) if names & {"org", "scope"} else ()


async def require_known_org(call: Call[Any]) -> None:
    """Once the org registry is on, an org a request names (path ``org`` or ``scope``,
    query ``scope``) must be registered: 404 ``unknown_org`` otherwise. GLOBAL always
    exists; a malformed id is left to the handler (400)."""
    for value in (call.route.get("org"), call.route.get("scope"), call.query.get("scope")):
        if not value:
            continue
        try:
            scope = canonical_scope(value)
        except InvalidNameError:
            continue
        if scope != GLOBAL:
            await call.resolver.orgs.require(scope)


def authorize(access: Access, principal: Principal, route: Mapping[str, str]) -> None:
    """Raise ForbiddenError unless ``principal`` may use a route with ``access``."""
    if access == "admin":
        require_platform_admin(principal)
    elif access == "org_member":
        require_org_member(principal, canonical_org_id(route.get("org")))


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_body(raw: bytes | None, model: type[BaseModel], *, optional: bool = False) -> BaseModel:
    """The request body validated against ``model``, or a 4xx ApiError. An empty body is
    ``{}`` when ``optional``; a body of only whitespace is not JSON (400), as the fuzzer
    found it was taken for no body."""
    raw = raw or b""
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
    if not raw.strip() and not (optional and not raw):
        if not optional:
            raise ApiError(400, "body_required", "this route needs a JSON body")
        raise ApiError(400, "invalid_json", "the body is not JSON (send none, or {})")
    raw = raw or b"{}"
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "the body is not valid UTF-8 JSON") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_request(exc) from None
    except RecursionError:
        raise ApiError(400, "invalid_json", "the body is nested too deeply") from None


_SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _http(reply: Reply) -> func.HttpResponse:
    if reply.body is None:
        text: str | bytes | None = None
    elif isinstance(reply.body, bytes):
        text = reply.body
    elif isinstance(reply.body, BaseModel):
        text = reply.body.model_dump_json()
    else:
        text = json.dumps(reply.body)
    return func.HttpResponse(
        text, status_code=reply.status, headers={**_SECURITY_HEADERS, **reply.headers},
        mimetype=reply.media_type, charset="utf-8",
    )

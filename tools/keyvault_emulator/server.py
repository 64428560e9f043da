"""The vault port: Key Vault's secrets REST API (as ``azure-keyvault-secrets`` uses it) over HTTPS.

Routing is done by hand rather than with aiohttp's router because Key Vault's paths have
quirks the SDK relies on (``/secrets/{name}/`` with an empty version means "latest") and
because every request must be classified into an operation *before* it is answered, so
that counters and injected faults can be keyed by operation.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
import ssl
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, unquote

from aiohttp import web

from .backup import BackupSealer
from .faults import Counters, Faults, fault_error
from .proxy import VAULT_DOMAIN, vault_of_host
from .store import (
    NAME_RE,
    RECOVERABLE_DAYS,
    RECOVERY_LEVEL,
    Attributes,
    Secret,
    SecretStore,
    SecretVersion,
    VaultError,
    bad_parameter,
)

log = logging.getLogger("keyvault_emulator")

#: The 401 challenge; the SDK takes the tenant from ``authorization`` and the token scope
#: from ``resource`` (+ "/.default"). Clients addressing ``127.0.0.1:port`` must pass
#: ``verify_challenge_resource=False`` because ``vault.azure.net`` is not a parent domain
#: of ``127.0.0.1``; through the drop-in proxy (``{vault}.vault.localhost``, see proxy.py)
#: the challenge names ``https://vault.localhost``, which passes that check unmodified.
CHALLENGE = (
    'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000",'
    ' resource="https://vault.azure.net"'
)
HOSTNAME_CHALLENGE = CHALLENGE.replace("https://vault.azure.net", f"https://{VAULT_DOMAIN}")
PAGE_SIZE = 25  # Key Vault's default and maximum page size
_HOST_RE = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
T = TypeVar("T")


@dataclass(frozen=True)
class Route:
    """A classified vault request: the operation and the path parameters."""

    operation: str
    name: str | None = None
    version: str | None = None


def _error(status: int, code: str, message: str) -> VaultError:
    return VaultError(status, code, message)


def resolve(method: str, raw_path: str) -> Route:
    """Map method + raw (still percent-encoded) path to a :class:`Route`.

    Raises :class:`VaultError` 404/405/501 for requests that are no secrets operation.
    """
    # Split before unquoting so an encoded "/" inside a name stays inside that name
    # (and is then rejected as an invalid name, like Key Vault does).
    parts = [unquote(p) for p in raw_path.split("/")[1:]]
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()  # "/secrets/{name}/" is how the SDK asks for the latest version
    collection = parts[0].lower() if parts else ""
    rest = parts[1:]
    route: Route | None = None
    if collection == "secrets":
        route = _secrets_route(method, rest)
    elif collection == "deletedsecrets":
        route = _deleted_route(method, rest)
    else:
        raise _error(404, "NotFound", f"The requested resource {raw_path} was not found.")
    if route is None:
        message = f"The requested resource does not support http method '{method}'."
        raise _error(405, "MethodNotAllowed", message)
    return route


def _secrets_route(method: str, rest: Sequence[str]) -> Route | None:
    if not rest:
        return Route("list_secrets") if method == "GET" else None
    name = rest[0]
    if len(rest) == 1 or (len(rest) == 2 and rest[1] == ""):
        if method == "POST" and name.lower() == "restore":
            return Route("restore_secret")
        return {
            "GET": Route("get_secret", name),
            "PUT": Route("set_secret", name),
            "PATCH": Route("update_secret", name),
            "DELETE": Route("delete_secret", name),
        }.get(method)
    if len(rest) == 2:
        if rest[1].lower() == "versions" and method == "GET":
            return Route("list_versions", name)
        if rest[1].lower() == "backup" and method == "POST":
            return Route("backup_secret", name)
        if method == "GET":
            return Route("get_secret", name, rest[1])
        if method == "PATCH":
            return Route("update_secret", name, rest[1])
        return None
    raise _error(404, "NotFound", "The requested resource was not found.")


def _deleted_route(method: str, rest: Sequence[str]) -> Route | None:
    if not rest:
        return Route("list_deleted_secrets") if method == "GET" else None
    name = rest[0]
    if len(rest) == 1:
        return {
            "GET": Route("get_deleted_secret", name),
            "DELETE": Route("purge_deleted_secret", name),
        }.get(method)
    if len(rest) == 2 and rest[1].lower() == "recover":
        return Route("recover_deleted_secret", name) if method == "POST" else None
    raise _error(404, "NotFound", "The requested resource was not found.")


# -- JSON shapes -------------------------------------------------------------------------------


def _attributes(v: SecretVersion) -> dict[str, Any]:
    attrs: dict[str, Any] = {"enabled": v.enabled}
    if v.nbf is not None:
        attrs["nbf"] = v.nbf
    if v.exp is not None:
        attrs["exp"] = v.exp
    attrs.update(
        created=v.created,
        updated=v.updated,
        recoveryLevel=RECOVERY_LEVEL,
        recoverableDays=RECOVERABLE_DAYS,
    )
    return attrs


def _common(ident: str, v: SecretVersion) -> dict[str, Any]:
    body: dict[str, Any] = {"id": ident, "attributes": _attributes(v)}
    # Key Vault omits unset optional properties rather than sending nulls.
    if v.content_type is not None:
        body["contentType"] = v.content_type
    if v.tags is not None:
        body["tags"] = v.tags
    return body


def secret_bundle(base: str, s: Secret, v: SecretVersion, *, value: bool = True) -> dict[str, Any]:
    """SecretBundle: a version's id (with version), attributes and, for gets/sets, value."""
    body = _common(f"{base}/secrets/{s.name}/{v.version}", v)
    if value:
        body = {"value": v.value, **body}
    return body


def secret_item(base: str, s: Secret, v: SecretVersion, *, versioned: bool) -> dict[str, Any]:
    """SecretItem for list responses: never a value; id without version for list_secrets."""
    ident = f"{base}/secrets/{s.name}" + (f"/{v.version}" if versioned else "")
    return _common(ident, v)


def _deleted(base: str, s: Secret) -> dict[str, Any]:
    return {
        "recoveryId": f"{base}/deletedsecrets/{s.name}",
        "deletedDate": s.deleted_date,
        "scheduledPurgeDate": s.scheduled_purge_date,
    }


def _deleted_bundle(base: str, s: Secret) -> dict[str, Any]:
    # DeletedSecretBundle: the latest version's bundle (without value) + deletion facts.
    return {**secret_bundle(base, s, s.current, value=False), **_deleted(base, s)}


def json_response(
    status: int, body: Any, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response the way Key Vault sends it (``application/json; charset=utf-8``)."""
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":")).encode(),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def error_response(err: VaultError, headers: dict[str, str] | None = None) -> web.Response:
    """Key Vault's ``{"error": {"code", "message"}}`` answer."""
    return json_response(err.status, err.body(), headers)


# -- paging ------------------------------------------------------------------------------------


def _encode_token(marker: str) -> str:
    # base64url without padding: survives the SDK's re-quoting of nextLink query values.
    raw = json.dumps({"NextMarker": marker}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        marker = json.loads(raw)["NextMarker"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise bad_parameter("The $skiptoken parameter is invalid.") from None
    if not isinstance(marker, str):
        raise bad_parameter("The $skiptoken parameter is invalid.")
    return marker


def paginate(
    request: web.Request, items: list[T], key: Callable[[T], str], base: str
) -> tuple[list[T], str | None]:
    """One page of ``items`` (sorted by ``key``) and the absolute ``nextLink``, if more remain."""
    raw_max = request.query.get("maxresults")
    size = PAGE_SIZE
    if raw_max is not None:
        try:
            size = int(raw_max)
        except ValueError:
            size = 0
        if not 1 <= size <= PAGE_SIZE:
            raise bad_parameter(
                f"Invalid value for maxresults: {raw_max}. It must be between 1 and {PAGE_SIZE}."
            )
    token = request.query.get("$skiptoken")
    if token:
        marker = _decode_token(token)
        items = [i for i in items if key(i) > marker]
    page = items[:size]
    if len(items) <= size:
        return page, None
    api = quote(request.query.get("api-version", ""), safe="")
    link = (
        f"{base}{request.rel_url.path}?api-version={api}"
        f"&$skiptoken={_encode_token(key(page[-1]))}&maxresults={size}"
    )
    return page, link


# -- the vault application ---------------------------------------------------------------------


class VaultApp:
    """Answers vault requests from a :class:`SecretStore`, applying counters and faults."""

    def __init__(
        self,
        store: SecretStore,
        counters: Counters,
        faults: Faults,
        public_url: str,
        sealer: BackupSealer,
    ) -> None:
        self.store = store
        self.counters = counters
        self.faults = faults
        self.public_url = public_url
        self.sealer = sealer

    def application(self) -> web.Application:
        """An aiohttp application routing every path to :meth:`handle`."""
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    def _base(self, request: web.Request) -> str:
        # Ids and nextLinks use the host the client addressed (127.0.0.1 or localhost), so
        # following a nextLink reuses the client's connection and cached challenge.
        host = request.headers.get("Host", "")
        return f"https://{host}" if _HOST_RE.match(host) else self.public_url

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Entry point for every vault request."""
        request["generation"] = self.counters.generation
        if self.faults.latency_ms > 0:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        headers = {
            "x-ms-request-id": str(uuid.uuid4()),
            "x-ms-keyvault-service-version": "emulator",
        }
        client_request_id = request.headers.get("x-ms-client-request-id")
        if client_request_id:
            headers["x-ms-client-request-id"] = client_request_id
        response = await self._answer(request, headers)
        log.info("%s %s %d", request.method, request.rel_url.path, response.status)
        return response

    async def _answer(self, request: web.Request, headers: dict[str, str]) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            # Not counted: it is the SDK's authentication handshake, not an operation.
            err = VaultError(
                401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token."
            )
            by_name = vault_of_host(request.headers.get("Host", "")) is not None
            challenge = HOSTNAME_CHALLENGE if by_name else CHALLENGE
            return error_response(err, {**headers, "WWW-Authenticate": challenge})
        try:
            route = resolve(request.method, request.rel_url.raw_path)
        except VaultError as err:
            return error_response(err, headers)
        name = route.name if route.name and NAME_RE.match(route.name) else None
        rule = self.faults.take(route.operation)
        if rule is not None:
            code, message = fault_error(rule.status)
            if rule.retry_after is not None:
                headers["Retry-After"] = _seconds(rule.retry_after)
            response = error_response(VaultError(rule.status, code, message), headers)
        else:
            try:
                response = await self._dispatch(request, route)
                response.headers.update(headers)
            except VaultError as err:
                response = error_response(err, headers)
            except Exception:
                log.exception("unexpected error in %s", route.operation)
                internal = VaultError(500, "InternalServerError", "Unexpected emulator error.")
                response = error_response(internal, headers)
        self.counters.record(route.operation, name, response.status, request["generation"])
        return response

    async def _dispatch(self, request: web.Request, route: Route) -> web.Response:
        base = self._base(request)
        store = self.store
        op, name, version = route.operation, route.name or "", route.version
        if op == "get_secret":
            s, v = store.get(name, version)
            return json_response(200, secret_bundle(base, s, v))
        if op == "set_secret":
            body = await _json_body(request)
            s, v = store.set(
                name,
                body.get("value"),
                content_type=body.get("contentType"),
                tags=body.get("tags"),
                attributes=Attributes.parse(body.get("attributes")),
            )
            return json_response(200, secret_bundle(base, s, v))
        if op == "update_secret":
            body = await _json_body(request)
            s, v = store.update(name, version, body=body)
            return json_response(200, secret_bundle(base, s, v, value=False))
        if op == "list_secrets":
            active = store.list_secrets()
            page, link = paginate(request, active, lambda s: s.name.lower(), base)
            value = [secret_item(base, s, s.current, versioned=False) for s in page]
            return json_response(200, {"value": value, "nextLink": link})
        if op == "list_versions":
            # Like Key Vault, an unknown name lists no versions rather than answering 404.
            secret, versions = store.list_versions(name)
            vpage, link = paginate(request, versions, lambda v: v.version, base)
            value = [] if secret is None else [
                secret_item(base, secret, v, versioned=True) for v in vpage
            ]
            return json_response(200, {"value": value, "nextLink": link})
        if op == "delete_secret":
            return json_response(200, _deleted_bundle(base, store.delete(name)))
        if op == "get_deleted_secret":
            return json_response(200, _deleted_bundle(base, store.get_deleted(name)))
        if op == "list_deleted_secrets":
            deleted = store.list_deleted()
            page, link = paginate(request, deleted, lambda s: s.name.lower(), base)
            value = [
                {**_deleted(base, s), **secret_item(base, s, s.current, versioned=False)}
                for s in page
            ]
            return json_response(200, {"value": value, "nextLink": link})
        if op == "recover_deleted_secret":
            s = store.recover(name)
            return json_response(200, secret_bundle(base, s, s.current, value=False))
        if op == "purge_deleted_secret":
            store.purge(name)
            return web.Response(status=204)
        if op == "backup_secret":
            blob = self.sealer.seal(store.backup(name))
            return json_response(200, {"value": _b64url(blob)})
        if op == "restore_secret":
            blob = _from_b64url((await _json_body(request)).get("value"))
            s = store.restore(self.sealer.unseal(blob))
            # Like Key Vault: the restored secret's bundle without its value.
            return json_response(200, secret_bundle(base, s, s.current, value=False))
        raise AssertionError(f"unrouted operation {op}")  # resolve() only yields the above


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise bad_parameter("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise bad_parameter("The request body must be a JSON object.")
    return body


def _b64url(data: bytes) -> str:
    # Key Vault's "base64url" fields: URL-safe alphabet, no padding.
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _from_b64url(value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        raise bad_parameter("Property value is required and must be a base64url string.")
    try:
        return base64.b64decode(
            value.translate(str.maketrans("-_", "+/")) + "=" * (-len(value) % 4), validate=True
        )
    except (binascii.Error, ValueError):
        raise bad_parameter("Property value is not valid base64url.") from None


def _seconds(value: float) -> str:
    # Key Vault sends whole seconds; fractions are allowed here so tests stay fast
    # (azure-core parses Retry-After as a float).
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def server_ssl_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """TLS context for the vault port from the emulator's self-signed certificate."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_file, key_file)
    return ctx

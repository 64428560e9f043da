"""The vault port: Key Vault's secrets REST API (as ``azure-keyvault-secrets`` uses it) over HTTPS.

Requests are classified into operations by :mod:`.routes` (so counters and injected faults
can be keyed by operation) and answered in Key Vault's JSON shapes (:mod:`.shapes`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import ssl
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .backup import BackupSealer
from .faults import Counters, Faults, fault_error
from .guard import vault_refusal
from .model import NAME_RE, Attributes, Secret, SecretVersion, VaultError, bad_parameter
from .proxy import VAULT_DOMAIN, vault_of_host
from .routes import Route, resolve
from .shapes import (
    deleted_bundle,
    deleted_facts,
    error_response,
    json_response,
    paginate,
    secret_bundle,
    secret_item,
)
from .store import SecretStore

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
_HOST_RE = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")


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
        #: called after each new version is stored (the Event Grid publisher, events.py);
        #: it only queues, so the write's answer never waits for a delivery
        self.on_new_version: Callable[[Secret, SecretVersion], None] | None = None

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
        headers = {
            "x-ms-request-id": str(uuid.uuid4()),
            "x-ms-keyvault-service-version": "emulator",
        }
        client_request_id = request.headers.get("x-ms-client-request-id")
        if client_request_id:
            headers["x-ms-client-request-id"] = client_request_id
        refusal = vault_refusal(request)  # a browser (or a rebound name): not counted
        if refusal is not None:
            response = error_response(VaultError(*refusal), headers)
            log.info("%s %s %d (refused)", request.method, request.rel_url.path, response.status)
            return response
        if self.faults.latency_ms > 0 and self.faults.latency_applies(
                request.method, request.rel_url.raw_path):
            await asyncio.sleep(self.faults.latency_ms / 1000)
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
        wait = self.faults.throttled()
        rule = None if wait is not None else self.faults.take(route.operation)
        if wait is not None:  # Key Vault's service limit: 429 with Retry-After
            code, message = fault_error(429)
            headers["Retry-After"] = _seconds(wait)
            response = error_response(VaultError(429, code, message), headers)
        elif rule is not None:
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
            response = json_response(200, secret_bundle(base, s, v))
            if self.on_new_version is not None:
                try:
                    self.on_new_version(s, v)
                except Exception:  # an event must never fail the write
                    log.exception("publishing the new-version event failed")
            return response
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
            return json_response(200, deleted_bundle(base, store.delete(name)))
        if op == "get_deleted_secret":
            return json_response(200, deleted_bundle(base, store.get_deleted(name)))
        if op == "list_deleted_secrets":
            deleted = store.list_deleted()
            page, link = paginate(request, deleted, lambda s: s.name.lower(), base)
            value = [
                {**deleted_facts(base, s), **secret_item(base, s, s.current, versioned=False)}
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

"""Running emulator: one HTTPS listener per vault, the plain-HTTP control API, their lifecycle.

Each vault has its own port, store, counters and faults, so one emulator process stands in
for several Key Vaults (sharding) while sharing one certificate and one backup key.

The vault port is served through ``loop.create_server`` directly (not an aiohttp site)
so the control API can close and reopen it on the same port (``refuse_connections``)
and swap in a protocol that hangs up without answering (``drop_connections``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .backup import BackupSealer
from .events import NEW_VERSION, EventDelivery, ExpiryWatcher, secret_event
from .faults import OPERATIONS, Counters, FailRule, Faults
from .guard import control_guard
from .model import is_number
from .proxy import VAULT_DOMAIN, ConnectProxy
from .server import VaultApp, server_ssl_context
from .store import SecretStore

log = logging.getLogger("keyvault_emulator")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _HangUp(asyncio.Protocol):
    """Accepts a connection (and the TLS handshake), then closes it once the request arrives."""

    def __init__(self, open_transports: set[asyncio.BaseTransport]) -> None:
        self._open = open_transports
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._open.add(transport)

    def data_received(self, data: bytes) -> None:
        # Waiting for the request (rather than closing at once) makes the client see
        # "connection closed without response" — the failure this fault is meant to model.
        if self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._open.discard(self._transport)


class VaultListener:
    """The vault port; can stop and resume listening and drop established connections."""

    def __init__(
        self, web_server: web.Server, faults: Faults, host: str, port: int, ctx: ssl.SSLContext
    ) -> None:
        self._web_server = web_server
        self._faults = faults
        self.host = host
        self.port = port
        self._ctx = ctx
        self._server: asyncio.Server | None = None
        self._hanging: set[asyncio.BaseTransport] = set()

    def _protocol(self) -> asyncio.BaseProtocol:
        if self._faults.drop:
            return _HangUp(self._hanging)
        return self._web_server()

    async def listen(self) -> None:
        """Start listening (no-op when already listening); the first call fixes the port."""
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol, self.host, self.port, ssl=self._ctx, reuse_address=True, backlog=256
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop_listening(self) -> None:
        """Close the listening socket: new connections are refused by the OS."""
        if self._server is not None:
            self._server.close()
            self._server = None

    def close_connections(self) -> None:
        """Close established connections so pooled keep-alive sockets see the fault too."""
        for handler in self._web_server.connections:
            handler.force_close()
        for transport in list(self._hanging):
            transport.close()


@dataclass
class VaultSpec:
    """One vault to serve: its name, the port to bind (0 = any free port) and its store."""

    name: str
    port: int
    store: SecretStore


@dataclass
class Vault:
    """One running vault: its own store, counters, faults and port (nothing is shared)."""

    name: str
    store: SecretStore
    counters: Counters
    faults: Faults
    listener: VaultListener
    app: VaultApp
    runner: web.AppRunner

    @property
    def url(self) -> str:
        """The vault URL clients use (``https://127.0.0.1:<port>``)."""
        return self.app.public_url

    async def set_refuse(self, on: bool) -> None:
        """``refuse_connections``: stop listening (and cut open connections) or listen again."""
        self.faults.refuse = on
        if on:
            await self.listener.stop_listening()
            self.listener.close_connections()
        else:
            await self.listener.listen()

    def set_drop(self, on: bool) -> None:
        """``drop_connections``: accept, then hang up without an answer."""
        self.faults.drop = on
        if on:
            self.listener.close_connections()

    async def clear_faults(self) -> None:
        """No latency, no queued errors, listening and answering normally."""
        self.faults.clear()
        await self.listener.listen()

    async def reset(self) -> None:
        """Delete every secret (soft-deleted too), zero counters, clear faults."""
        self.store.clear()
        self.counters.reset()
        await self.clear_faults()


def _ok(**extra: Any) -> web.Response:
    return web.json_response({"ok": True, **extra})


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=f'{{"error": "{message}"}}', content_type="application/json")


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise _bad("body is not JSON") from None
    if not isinstance(body, dict):
        raise _bad("body must be a JSON object")
    return body


def _flag(body: dict[str, Any]) -> bool:
    on = body.get("on", True)
    if not isinstance(on, bool):
        raise _bad("'on' must be a boolean")
    return on


def control_application(
    vaults: dict[str, Vault], info: dict[str, Any],
    events: tuple[EventDelivery, ExpiryWatcher] | None = None,
) -> web.Application:
    """The control API (plain HTTP, loopback only; browsers refused, see guard.py). See
    README.md for the endpoint list.

    The event subscription (``/events...``) is the emulator's, not one vault's: its events
    name their vault (``data.VaultName``).

    Every endpoint exists twice: ``/x`` acts on the default vault (the first one, so a
    single-vault emulator keeps its API unchanged) and ``/vaults/{vault}/x`` on the named one.
    """
    default = next(iter(vaults))
    routes: list[web.RouteDef] = []

    def vault_of(request: web.Request) -> Vault:
        name = request.match_info.get("vault", default)
        if name not in vaults:
            raise web.HTTPNotFound(
                text=json.dumps({"error": f"no vault {name!r}; vaults: {', '.join(vaults)}"}),
                content_type="application/json",
            )
        return vaults[name]

    def route(method: str, path: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            routes.append(web.route(method, path, handler))
            routes.append(web.route(method, "/vaults/{vault}" + path, handler))
            return handler

        return register

    @route("GET", "/health")
    async def health(request: web.Request) -> web.Response:
        vault = vault_of(request)
        return web.json_response({"status": "ok", **info, "vault": vault.name, "url": vault.url})

    async def vault_list(request: web.Request) -> web.Response:
        return web.json_response({name: v.url for name, v in vaults.items()})

    routes.append(web.get("/vaults", vault_list))

    async def identity_token(request: web.Request) -> web.Response:
        # App Service's managed identity endpoint (api-version 2019-08-01), so that
        # DefaultAzureCredential works unmodified with IDENTITY_ENDPOINT/IDENTITY_HEADER
        # pointing here. The vaults accept any bearer token; this one is only a placeholder.
        if not request.headers.get("X-IDENTITY-HEADER"):
            raise _bad("X-IDENTITY-HEADER is required (set IDENTITY_HEADER to any value)")
        resource = request.query.get("resource")
        if not resource:
            raise _bad("the 'resource' query parameter is required")
        expires_on = int(time.time()) + 3600
        return web.json_response({
            "access_token": f"emulator-{secrets.token_hex(8)}",
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": "00000000-0000-0000-0000-000000000000",
        })

    routes.append(web.get("/identity/token", identity_token))

    @route("POST", "/reset")
    async def reset(request: web.Request) -> web.Response:
        await vault_of(request).reset()
        return _ok()

    @route("GET", "/counters")
    async def counters(request: web.Request) -> web.Response:
        return web.json_response(vault_of(request).counters.snapshot())

    @route("POST", "/counters/reset")
    async def reset_counters(request: web.Request) -> web.Response:
        vault_of(request).counters.reset()
        return _ok()

    @route("GET", "/faults")
    async def faults(request: web.Request) -> web.Response:
        return web.json_response(vault_of(request).faults.to_json())

    @route("POST", "/faults/latency")
    async def latency(request: web.Request) -> web.Response:
        vault = vault_of(request)
        body = await _body(request)
        ms, operation = body.get("ms"), body.get("operation")
        if not is_number(ms) or ms < 0:
            raise _bad("'ms' must be a non-negative number")
        if operation is not None and operation not in OPERATIONS:
            raise _bad(f"'operation' must be one of {', '.join(OPERATIONS)}")
        vault.faults.latency_ms = float(ms)
        vault.faults.latency_operation = operation
        return _ok()

    @route("POST", "/faults/rate-limit")
    async def rate_limit(request: web.Request) -> web.Response:
        vault = vault_of(request)
        per_10s = (await _body(request)).get("per_10s")
        if per_10s is not None and (not is_number(per_10s) or per_10s < 1
                                    or per_10s != int(per_10s)):
            raise _bad("'per_10s' must be a whole number >= 1, or null for no limit")
        vault.faults.rate_limit = None if per_10s is None else int(per_10s)
        return _ok()

    @route("POST", "/faults/fail-next")
    async def fail_next(request: web.Request) -> web.Response:
        vault = vault_of(request)
        body = await _body(request)
        count, status = body.get("count"), body.get("status")
        retry_after, operation = body.get("retry_after"), body.get("operation")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise _bad("'count' must be a non-negative integer")
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise _bad("'status' must be an HTTP error status (400-599)")
        if retry_after is not None and (not is_number(retry_after) or retry_after < 0):
            raise _bad("'retry_after' must be a non-negative number of seconds")
        if operation is not None and operation not in OPERATIONS:
            raise _bad(f"'operation' must be one of {', '.join(OPERATIONS)}")
        vault.faults.add_rule(FailRule(count, status, retry_after, operation))
        return _ok()

    @route("POST", "/faults/refuse")
    async def refuse(request: web.Request) -> web.Response:
        vault = vault_of(request)
        await vault.set_refuse(_flag(await _body(request)))
        return _ok()

    @route("POST", "/faults/drop")
    async def drop(request: web.Request) -> web.Response:
        vault = vault_of(request)
        vault.set_drop(_flag(await _body(request)))
        return _ok()

    @route("POST", "/faults/clear")
    async def clear(request: web.Request) -> web.Response:
        await vault_of(request).clear_faults()
        return _ok()

    if events is not None:
        routes.extend(_event_routes(*events))
    app = web.Application(middlewares=[control_guard])  # Host, cross-site, JSON only
    app.add_routes(routes)
    return app


def _event_routes(delivery: EventDelivery, watcher: ExpiryWatcher) -> list[web.RouteDef]:
    async def status(request: web.Request) -> web.Response:
        return web.json_response(delivery.status())

    async def subscribe(request: web.Request) -> web.Response:
        body = await _body(request)
        endpoint, attempts, backoff = (body.get("endpoint"), body.get("max_attempts"),
                                       body.get("backoff"))
        if endpoint is not None and (not isinstance(endpoint, str) or not endpoint):
            raise _bad("'endpoint' must be a URL, or null for no subscription")
        if attempts is not None and (isinstance(attempts, bool) or not isinstance(attempts, int)
                                     or not 1 <= attempts <= 100):
            raise _bad("'max_attempts' must be a whole number from 1 to 100")
        if backoff is not None and (not is_number(backoff) or not 0 <= backoff <= 60):
            raise _bad("'backoff' must be a number of seconds from 0 to 60")
        try:
            delivery.set_endpoint(endpoint, max_attempts=attempts,
                                  backoff=None if backoff is None else float(backoff))
        except ValueError as exc:
            raise _bad(str(exc)) from None
        return _ok(**delivery.status())

    async def check(request: web.Request) -> web.Response:
        return _ok(published=watcher.check())

    async def reset(request: web.Request) -> web.Response:
        delivery.reset()
        watcher.forget()
        return _ok()

    return [
        web.get("/events", status),
        web.post("/events/subscription", subscribe),
        web.post("/events/check-expiry", check),
        web.post("/events/reset", reset),
    ]


async def _start_vault(
    spec: VaultSpec, host: str, ctx: ssl.SSLContext, sealer: BackupSealer, latency_ms: float,
    delivery: EventDelivery | None = None,
) -> Vault:
    counters, faults = Counters(), Faults(latency_ms=latency_ms)
    app = VaultApp(spec.store, counters, faults, public_url="", sealer=sealer)
    if delivery is not None:
        def new_version(secret: Any, version: Any) -> None:
            delivery.publish(secret_event(NEW_VERSION, spec.name, app.public_url, secret,
                                          version, delivery.clock()))

        app.on_new_version = new_version
    # No aiohttp access log: the vault logs method, path and status itself, never bodies.
    runner = web.AppRunner(app.application(), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    assert runner.server is not None
    listener = VaultListener(runner.server, faults, host, spec.port, ctx)
    vault = Vault(spec.name, spec.store, counters, faults, listener, app, runner)
    try:
        await listener.listen()
    except BaseException:
        await runner.cleanup()
        raise
    url_host = f"[{host}]" if ":" in host else host
    app.public_url = f"https://{url_host}:{listener.port}"
    return vault


async def serve(
    specs: Sequence[VaultSpec],
    *,
    host: str,
    control_port: int,
    proxy_port: int = 0,
    cert_file: str,
    key_file: str,
    backup_key: bytes,
    latency_ms: float,
    ready: Callable[[dict[str, Any]], None],
    stop: asyncio.Event,
    event_endpoint: str | None = None,
    allow_remote_events: bool = False,
    event_check_seconds: float = 60.0,
) -> None:
    """Run every vault's port, the control port and the drop-in proxy until ``stop`` is
    set; call ``ready`` once listening with ``{"url", "urls": {name: url}, "control_url",
    "proxy_url", "hostname_urls": {name: url}}`` (``url`` is the first vault's, the default).

    Key Vault's Event Grid events go to ``event_endpoint`` (settable later through the
    control API; see events.py), the expiry check runs every ``event_check_seconds``.

    Raises ``OSError`` when a port cannot be bound (the caller reports it and exits);
    ``ValueError`` for an event endpoint that is not allowed.
    """
    delivery = EventDelivery(endpoint=event_endpoint, allow_remote=allow_remote_events)
    ctx = server_ssl_context(cert_file, key_file)
    sealer = BackupSealer(backup_key)  # one key: a blob restores into any of these vaults
    vaults: dict[str, Vault] = {}
    control_runner: web.AppRunner | None = None
    proxy = ConnectProxy(host, lambda name: vaults[name].listener.port if name in vaults else None)
    url_host = f"[{host}]" if ":" in host else host
    watcher = ExpiryWatcher(
        delivery, lambda: [(v.name, v.url, v.store) for v in vaults.values()],
        event_check_seconds,
    )
    try:
        await delivery.start()
        await watcher.start()
        for spec in specs:
            vaults[spec.name] = await _start_vault(spec, host, ctx, sealer, latency_ms,
                                                   delivery)
        default = next(iter(vaults.values()))
        info: dict[str, Any] = {
            "url": default.url, "urls": {name: v.url for name, v in vaults.items()},
        }
        control_runner = web.AppRunner(
            control_application(vaults, info, (delivery, watcher)), access_log=None,
            shutdown_timeout=2.0,
        )
        await control_runner.setup()
        await web.TCPSite(control_runner, host, control_port, reuse_address=True).start()
        info["control_url"] = f"http://{url_host}:{control_runner.addresses[0][1]}"
        await proxy.listen(proxy_port)
        info["proxy_url"] = f"http://{url_host}:{proxy.port}"
        info["hostname_urls"] = {name: f"https://{name}.{VAULT_DOMAIN}" for name in vaults}
        ready(dict(info))
        await stop.wait()
    finally:
        await watcher.close()
        await delivery.close()
        await proxy.close()
        for vault in vaults.values():
            await vault.listener.stop_listening()
        if control_runner is not None:
            await control_runner.cleanup()
        for vault in vaults.values():
            await vault.runner.cleanup()

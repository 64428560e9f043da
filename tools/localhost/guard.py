"""Connection limits of the local host: a header deadline and a cap on open connections.

aiohttp has neither (nothing caps connections, and only recent versions' keep-alive
timer, 3630 s by default, also runs while a connection waits for its first request), so
:class:`ConnectionGuard` wraps aiohttp's protocol factory (``web.Server`` is one) for
``loop.create_server``:

- **header deadline** (Kestrel's ``RequestHeadersTimeout``, 30 s): from the moment a
  connection opens, and again from the moment the handler of its previous request
  returned, the next request's headers must be complete within ``header_timeout``
  seconds. Otherwise the connection is answered ``408 Request Timeout`` and closed (just
  closed when not a byte of a request arrived: an idle keep-alive connection). The
  deadline ends when the request reaches the app: :meth:`ConnectionGuard.middleware`
  tells the connection so.
- **connection cap** (Kestrel's ``MaxConcurrentConnections``): while ``max_connections``
  connections are open, a new one is answered ``503 Service Unavailable`` and closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger("orgconfig.localhost")

#: Kestrel's defaults: RequestHeadersTimeout 30 s; its connection cap is unlimited by
#: default, a loopback development server needs far fewer than this.
DEFAULT_HEADER_TIMEOUT = 30.0
DEFAULT_MAX_CONNECTIONS = 100

_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n"
            b"Connection: close\r\n\r\n")
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
         b"Connection: close\r\nRetry-After: 1\r\n\r\n")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Refused(asyncio.Protocol):
    """Over the cap: answer 503 and close without reading anything."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_BUSY)
        transport.close()


class _Connection(asyncio.Protocol):
    """aiohttp's protocol for one connection, counted and under the header deadline."""

    def __init__(self, inner: asyncio.Protocol, guard: ConnectionGuard) -> None:
        self._inner = inner
        self._guard = guard
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._in_request = False
        self._bytes_waiting = False  # a byte arrived since the deadline was armed

    # -- the header deadline ---------------------------------------------------------------
    def _arm(self) -> None:
        self._disarm()
        self._bytes_waiting = False
        self._timer = asyncio.get_running_loop().call_later(
            self._guard.header_timeout, self._deadline)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _deadline(self) -> None:
        self._timer = None
        transport = self._transport
        if self._in_request or transport is None or transport.is_closing():
            return
        if self._bytes_waiting:
            log.info("closed a connection whose request headers took over %.3g s",
                     self._guard.header_timeout)
            transport.write(_TIMEOUT)
        transport.close()

    def request_started(self) -> None:
        """The request's headers are complete and it reached the app."""
        self._in_request = True
        self._disarm()

    def request_finished(self) -> None:
        """The handler returned: the next request's headers are due within the deadline."""
        self._in_request = False
        if self._transport is not None and not self._transport.is_closing():
            self._arm()

    # -- asyncio.Protocol, forwarded to aiohttp's ------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._guard.opened(transport, self)
        self._arm()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._bytes_waiting = True
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._guard.closed(self._transport)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class ConnectionGuard:
    """The header deadline and the connection cap (module docstring) of one server.

    ``loop.create_server(guard.factory(aiohttp_server), ...)`` counts and times the
    connections; :meth:`middleware`, added to the app first, ends a request's deadline."""

    def __init__(self, *, header_timeout: float = DEFAULT_HEADER_TIMEOUT,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS) -> None:
        if header_timeout <= 0 or max_connections < 1:
            raise ValueError("header_timeout must be > 0 and max_connections >= 1")
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.open_connections = 0  # counted from accept (the factory call) to connection_lost
        self._by_transport: dict[asyncio.BaseTransport, _Connection] = {}

    def factory(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory for ``loop.create_server`` wrapping ``inner``'s protocols."""
        def accept() -> asyncio.Protocol:
            if self.open_connections >= self.max_connections:
                log.warning("refused a connection: %d are open (the cap)", self.open_connections)
                return _Refused()
            self.open_connections += 1
            return _Connection(inner(), self)

        return accept

    def opened(self, transport: asyncio.BaseTransport, connection: _Connection) -> None:
        self._by_transport[transport] = connection

    def closed(self, transport: asyncio.BaseTransport | None) -> None:
        self.open_connections -= 1
        if transport is not None:
            self._by_transport.pop(transport, None)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Ends the header deadline while the app handles the request, re-arms it after."""
        transport = request.transport
        connection = self._by_transport.get(transport) if transport is not None else None
        if connection is not None:
            connection.request_started()
        try:
            return await handler(request)
        finally:
            if connection is not None:
                connection.request_finished()

"""Drop-in mode: vault host names (``{vault}.vault.localhost``) through an HTTPS proxy.

Unmodified SDK code — Microsoft's samples, ``DefaultAzureCredential``, default client
options — checks that the 401 challenge's resource domain is a parent of the vault's host
(``verify_challenge_resource``), which no challenge can satisfy for ``127.0.0.1:port``.
Host names fix that, but ``*.localhost`` does not resolve everywhere and ``/etc/hosts`` is
not ours to edit. An HTTPS proxy resolves names itself: with ``HTTPS_PROXY`` pointing here,
the SDK sends ``CONNECT default.vault.localhost:443``, this module connects the tunnel to
that vault's port, and TLS runs end to end (the emulator's certificate also names
``*.vault.localhost``). The challenge for those hosts names ``https://vault.localhost``.

Only ``{vault}.vault.localhost`` targets are tunnelled (``.localhost`` is reserved, RFC
6761, so no real host is ever intercepted); anything else gets 403 — never an open relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

log = logging.getLogger("keyvault_emulator")

VAULT_DOMAIN = "vault.localhost"
_HEAD_LIMIT = 8192
_HEAD_TIMEOUT = 10.0


def vault_of_host(host: str) -> str | None:
    """The vault name in ``{vault}.vault.localhost[:port]``, else ``None``."""
    name, dot, domain = host.rsplit(":", 1)[0].lower().partition(".")
    return name if dot and domain == VAULT_DOMAIN and name else None


class ConnectProxy:
    """A CONNECT-only HTTP proxy from vault host names to the vaults' loopback ports."""

    def __init__(self, host: str, vault_port: Callable[[str], int | None]) -> None:
        self.host = host
        self._vault_port = vault_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def listen(self, port: int) -> None:
        """Start listening on ``port`` (0 = any free port)."""
        self._server = await asyncio.start_server(self._handle, self.host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening and cut every open tunnel."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            target = await self._target(reader)
            if isinstance(target, bytes):
                writer.write(target)
                await writer.drain()
                return
            try:
                up_reader, upstream = await asyncio.open_connection(self.host, target)
            except OSError:
                # The vault refuses connections (an injected fault): what a gateway says.
                writer.write(_status(502, "Bad Gateway"))
                await writer.drain()
                return
            self._writers.add(upstream)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            for w in (writer, upstream):
                if w is not None:
                    self._writers.discard(w)
                    w.close()

    async def _target(self, reader: asyncio.StreamReader) -> int | bytes:
        """The vault port to tunnel to, or the error response to send."""
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _HEAD_TIMEOUT)
        if len(head) > _HEAD_LIMIT:
            return _status(431, "Request Header Fields Too Large")
        method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
        authority = rest.partition(" ")[0]
        if method != "CONNECT":
            return _status(405, "Method Not Allowed")
        vault = vault_of_host(authority)
        port = self._vault_port(vault) if vault else None
        if port is None:
            log.info("proxy refused CONNECT %s", authority)
            return _status(403, "Forbidden")
        log.info("proxy CONNECT %s -> vault %s", authority, vault)
        return port


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            if writer.can_write_eof():
                writer.write_eof()


def _status(code: int, reason: str) -> bytes:
    return f"HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()

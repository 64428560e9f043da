"""The local host as a loopback server must be, over real HTTP (raw sockets, so any Host
can be sent): DNS rebinding (421 for a Host that is not a loopback name, before routing)
and slow loris (a header deadline and a connection cap)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import azure.functions as func
import pytest

from tools.localhost import LocalFunctionsHost
from tools.localhost.guard import DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS

PRINCIPAL = "cHJpbmNpcGFs"


def guarded_app() -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="whoami", methods=["GET", "POST"])
    async def whoami(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("principal=" + req.headers.get("x-ms-client-principal", "-"))

    @app.route(route="slow", methods=["GET"])
    async def slow(req: func.HttpRequest) -> func.HttpResponse:
        await asyncio.sleep(1.5)
        return func.HttpResponse("slow ok")

    return app


@pytest.fixture
async def host() -> AsyncIterator[LocalFunctionsHost]:
    async with LocalFunctionsHost(guarded_app(), route_prefix="api", sign_in=PRINCIPAL) as h:
        yield h


async def exchange(host: LocalFunctionsHost, data: bytes, timeout: float = 20) -> bytes:
    """Send ``data`` on a new connection; everything the host answers until it closes."""
    reader, writer = await asyncio.open_connection(host.host, host.port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


def get(path: str, *headers: str, version: str = "1.1") -> bytes:
    lines = [f"GET {path} HTTP/{version}", *headers, "Connection: close", "", ""]
    return "\r\n".join(lines).encode()


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


# -- DNS rebinding: Host must be a loopback name -------------------------------------------------

@pytest.mark.parametrize("host_header", [
    "attacker.example", "attacker.example:{port}",            # a name rebound to 127.0.0.1
    "localhost.attacker.example", "localhost.attacker.example:{port}",
    "127.0.0.1.nip.io", "127.0.0.1.nip.io:{port}",
    "localhost.", "localhost.:{port}", "127.0.0.1.:{port}",   # trailing dot: refused
    "10.0.0.8", "0.0.0.0:{port}", "[::2]:{port}", "127.1:{port}", "",
])
async def test_a_host_that_is_not_a_loopback_name_is_421_before_routing(
    host: LocalFunctionsHost, host_header: str
) -> None:
    value = host_header.format(port=host.port)
    for path in ("/api/whoami", "/no/such/route"):
        # the attack: a rebound page forging PlatformAdmin, or borrowing the signed-in one
        answer = await exchange(host, get(path, f"Host: {value}",
                                          "X-MS-CLIENT-PRINCIPAL: Zm9yZ2Vk"))
        assert status(answer) == 421, (value, answer[:200])
        assert b"principal=" not in answer


async def test_a_request_without_host_is_421(host: LocalFunctionsHost) -> None:
    assert status(await exchange(host, get("/api/whoami", version="1.0"))) == 421


@pytest.mark.parametrize("host_header", [
    "localhost", "localhost:{port}", "LOCALHOST:{port}", "LocalHost",
    "127.0.0.1:{port}", "127.0.0.2:{port}", "[::1]:{port}", "[::1]",
])
async def test_loopback_names_are_served(host: LocalFunctionsHost, host_header: str) -> None:
    answer = await exchange(host, get("/api/whoami", f"Host: {host_header.format(port=host.port)}"))
    assert status(answer) == 200
    assert answer.endswith(b"principal=" + PRINCIPAL.encode())


async def test_x_forwarded_host_never_decides(host: LocalFunctionsHost) -> None:
    passes = await exchange(host, get("/api/whoami", "Host: localhost",
                                      "X-Forwarded-Host: attacker.example"))
    assert status(passes) == 200
    refused = await exchange(host, get("/api/whoami", "Host: attacker.example",
                                       "X-Forwarded-Host: localhost",
                                       "Forwarded: host=localhost"))
    assert status(refused) == 421


async def test_two_host_headers_are_refused(host: LocalFunctionsHost) -> None:
    answer = await exchange(host, get("/api/whoami", "Host: localhost", "Host: attacker.example"))
    assert status(answer) in (400, 421)
    assert b"principal=" not in answer


# -- slow loris: header deadline and connection cap -----------------------------------------------

def test_the_limits_default_to_kestrels_deadline_and_a_cap() -> None:
    h = LocalFunctionsHost(guarded_app())
    assert h.guard.header_timeout == DEFAULT_HEADER_TIMEOUT == 30
    assert h.guard.max_connections == DEFAULT_MAX_CONNECTIONS == 100


@pytest.fixture
async def quick() -> AsyncIterator[LocalFunctionsHost]:
    async with LocalFunctionsHost(guarded_app(), route_prefix="api", header_timeout=1) as h:
        yield h


async def _trickle(writer: asyncio.StreamWriter, reader: asyncio.StreamReader) -> bytes:
    """Send a header line every 0.2 s (never the blank line) until the host answers or
    closes; what it answered (generous bound: 20 s)."""
    read = asyncio.ensure_future(reader.read())
    try:
        for i in range(100):
            if read.done():
                break
            try:
                writer.write(f"X-Slow-{i}: a\r\n".encode())
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.wait([read], timeout=0.2)
        return await asyncio.wait_for(read, 5)
    finally:
        read.cancel()
        writer.close()


async def test_headers_trickling_past_the_deadline_get_408_and_the_connection_closes(
    quick: LocalFunctionsHost,
) -> None:
    reader, writer = await asyncio.open_connection(quick.host, quick.port)
    writer.write(b"GET /api/whoami HTTP/1.1\r\nHost: localhost\r\n")
    started = time.monotonic()
    answer = await _trickle(writer, reader)
    assert time.monotonic() - started < 15  # deadline 1 s; the bound is generous on purpose
    assert answer.startswith(b"HTTP/1.1 408 ")


async def test_the_deadline_applies_again_to_the_next_request_on_a_kept_alive_connection(
    quick: LocalFunctionsHost,
) -> None:
    reader, writer = await asyncio.open_connection(quick.host, quick.port)
    writer.write(b"GET /api/whoami HTTP/1.1\r\nHost: localhost\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"principal=-"), 10)
    assert head.startswith(b"HTTP/1.1 200 ")
    writer.write(b"GET /api/whoami HTTP/1.1\r\nHost: localhost\r\n")
    assert (await _trickle(writer, reader)).startswith(b"HTTP/1.1 408 ")


async def test_a_connection_that_sends_nothing_is_closed(quick: LocalFunctionsHost) -> None:
    reader, writer = await asyncio.open_connection(quick.host, quick.port)
    try:
        assert await asyncio.wait_for(reader.read(), 15) == b""
    finally:
        writer.close()


async def test_a_slow_function_is_not_cut_by_the_header_deadline(
    quick: LocalFunctionsHost,
) -> None:
    answer = await exchange(quick, get("/api/slow", "Host: localhost"))
    assert status(answer) == 200 and answer.endswith(b"slow ok")


async def test_connections_over_the_cap_are_answered_503_until_one_closes() -> None:
    async with LocalFunctionsHost(guarded_app(), route_prefix="api", max_connections=2) as h:
        held = [await asyncio.open_connection(h.host, h.port) for _ in range(2)]
        for _ in range(200):  # until the host has accepted both
            if h.guard.open_connections == 2:
                break
            await asyncio.sleep(0.05)
        assert h.guard.open_connections == 2
        over = await exchange(h, get("/api/whoami", "Host: localhost"))
        assert status(over) == 503
        held[0][1].close()
        for _ in range(200):
            if h.guard.open_connections < 2:
                break
            await asyncio.sleep(0.05)
        answer = await exchange(h, get("/api/whoami", "Host: localhost"))
        assert status(answer) == 200
        held[1][1].close()

"""The soak's phases: load, faults and the checks each one makes.

Every phase fills a :class:`Tally` (statuses, latencies, notes, problems). A problem is a
broken promise: a 500, a lost update, a change not recorded, an outage the breaker made
longer, a stale read on the second instance, a secret value in a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tools.soak.common import digest

Request = Callable[[], Awaitable[int]]


@dataclass
class Tally:
    name: str
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, status: int, seconds: float) -> None:
        self.statuses[status] += 1
        self.latencies.append(seconds)
        if status >= 500 and status not in (502, 503):
            self.problems.append(f"{self.name}: HTTP {status}")

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


@dataclass
class Stack:
    """What the phases drive: two instances' base URLs, the vault's fault control, the
    table's pause, and the values created (for the leak scan)."""

    session: aiohttp.ClientSession
    a: str
    b: str
    control: Any  # tools.keyvault_emulator.control.EmulatorControl
    azurite: Any  # tools.services.Azurite
    orgs: list[str]
    settings: dict[str, float]
    secret_values: set[str] = field(default_factory=set)
    expected: dict[tuple[str, str], str] = field(default_factory=dict)

    async def call(self, method: str, url: str, body: Any = None,
                   headers: dict[str, str] | None = None) -> tuple[int, Any, Mapping[str, str]]:
        data = None if body is None else json.dumps(body)
        async with self.session.request(method, url, data=data, headers=headers) as answer:
            text = await answer.text()
            parsed = json.loads(text) if text and answer.content_type == "application/json" \
                else None
            return answer.status, parsed, answer.headers.copy()  # case-insensitive

    def new_secret(self) -> str:
        value = f"soak-{secrets.token_hex(12)}"
        self.secret_values.add(value)
        return value


async def timed(tally: Tally, request: Request) -> int:
    started = time.perf_counter()
    try:
        status = await request()
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.problems.append(f"{tally.name}: request failed ({exc.__class__.__name__})")
        status = 599
    tally.add(status, time.perf_counter() - started)
    return status


async def load(tally: Tally, seconds: float, concurrency: int,
               pick: Callable[[int], Request]) -> None:
    """``concurrency`` workers send ``pick(n)()`` requests for ``seconds``."""
    deadline = time.monotonic() + seconds

    async def worker(w: int) -> None:
        n = w
        while time.monotonic() < deadline:
            status = await timed(tally, pick(n))
            if status == 503:
                await asyncio.sleep(0.05)
            n += concurrency

    await asyncio.gather(*(worker(w) for w in range(concurrency)))


# -- requests --------------------------------------------------------------------------------
def mixed(stack: Stack) -> Callable[[int], Request]:
    """Warm workflow runs on both instances, entry reads and writes, secret rotations."""

    def pick(n: int) -> Request:
        org = stack.orgs[n % len(stack.orgs)]
        base = stack.a if n % 2 else stack.b
        kind = n % 10

        async def run() -> int:
            if kind < 6:
                return (await stack.call("POST", f"{base}/orgs/{org}/workflows/smtp-digest",
                                         {}))[0]
            if kind < 8:
                return (await stack.call("GET", f"{base}/orgs/{org}/config/smtp_host"))[0]
            if kind < 9:
                return (await stack.call("PUT", f"{base}/orgs/{org}/config/soak_load",
                                         {"value": str(n)}))[0]
            value = stack.new_secret()
            status = (await stack.call("PUT", f"{base}/secrets/{org}/rotating",
                                       {"value": value}))[0]
            return status

        return run

    return pick


async def settle(stack: Stack, limit: float = 30.0) -> float:
    """Wait until both instances write to the table and the vault again (after a fault
    phase the breakers may still be open, or a backlog still draining); returns seconds."""
    started = time.monotonic()
    org = stack.orgs[0]
    while time.monotonic() - started < limit:
        ok = True
        for base in (stack.a, stack.b):
            status = (await stack.call("PUT", f"{base}/orgs/{org}/config/soak_settle",
                                       {"value": "x"}))[0]
            value = stack.new_secret()
            vault = (await stack.call("PUT", f"{base}/secrets/{org}/rotating",
                                      {"value": value}))[0]
            ok = ok and status == 200 and vault == 200
        if ok:
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    return time.monotonic() - started


# -- phases ----------------------------------------------------------------------------------
async def steady(stack: Stack, name: str, seconds: float, concurrency: int) -> Tally:
    tally = Tally(name)
    await load(tally, seconds, concurrency, mixed(stack))
    return tally


async def vault_fault(stack: Stack, name: str, seconds: float, concurrency: int,
                      start: Callable[[], None]) -> Tally:
    """The mix while the vault misbehaves; warm workflows must keep answering."""
    tally = Tally(name)
    start()
    try:
        await load(tally, seconds, concurrency, mixed(stack))
    finally:
        stack.control.clear_faults()
    if tally.statuses[200] == 0:
        tally.problems.append(f"{name}: no request was served (warm values should be)")
    return tally


async def table_paused(stack: Stack, pause: float, concurrency: int) -> Tally:
    """Writers and readers while Azurite is paused: after it resumes, writes must succeed
    again within the breaker's cooldown (plus one timeout), not a cooldown after the last
    stale timeout."""
    tally = Tally("table paused")
    resumed_at: list[float] = []
    first_ok_after: list[float] = []
    stop, recovered = asyncio.Event(), asyncio.Event()

    async def writer(w: int) -> None:
        org = stack.orgs[w % len(stack.orgs)]
        n = 0
        while not stop.is_set():
            n += 1
            body = {"value": f"{w}-{n}"}
            status = await timed(tally, lambda b=body: _status(stack.call(  # type: ignore[misc]
                "PUT", f"{stack.a}/orgs/{org}/config/soak_paused", b)))
            if status < 300 and resumed_at and not first_ok_after:
                first_ok_after.append(time.monotonic() - resumed_at[0])
                recovered.set()
            if status >= 300:
                await asyncio.sleep(0.05)

    workers = [asyncio.ensure_future(writer(w)) for w in range(concurrency)]
    await asyncio.sleep(1.0)
    stack.azurite.pause()
    try:
        await asyncio.sleep(pause)
    finally:
        stack.azurite.resume()
    resumed_at.append(time.monotonic())
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(recovered.wait(), 30)
    stop.set()
    await asyncio.gather(*workers)
    bound = stack.settings["cooldown"] + stack.settings["timeout"] + 1.5
    if not first_ok_after:
        tally.problems.append("table paused: writes did not recover within 30 s")
    else:
        tally.notes.append(f"paused {pause:.0f} s; writes back {first_ok_after[0]:.2f} s "
                           f"after resume (bound {bound:.1f} s)")
        if first_ok_after[0] > bound:
            tally.problems.append(f"table paused: recovery took {first_ok_after[0]:.1f} s, "
                                  f"over the breaker's bound {bound:.1f} s")
    return tally


async def _status(call: Awaitable[tuple[int, Any, Mapping[str, str]]]) -> int:
    return (await call)[0]


async def conditional_writers(stack: Stack, writers: int, increments: int) -> Tally:
    """``writers`` clients increment one counter with GET + PUT If-Match: every accepted
    PUT must count (no lost update)."""
    tally = Tally("conditional writers")
    url = f"{stack.a}/orgs/{stack.orgs[0]}/config/soak_counter"
    await stack.call("PUT", url, {"type": "int", "value": 0})
    accepted = 0

    async def writer(w: int) -> None:
        nonlocal accepted
        done = 0
        while done < increments:
            status, body, headers = await stack.call("GET", url)
            if status != 200:
                await asyncio.sleep(0.05)
                continue
            # each writer's own description: two writers never ask for the same state
            put = {"type": "int", "value": int(body["value"]) + 1, "description": f"w{w}"}
            started = time.perf_counter()
            status = (await stack.call("PUT", url, put, {"If-Match": headers["ETag"]}))[0]
            tally.add(status, time.perf_counter() - started)
            if status == 200:
                accepted += 1
                done += 1

    await asyncio.gather(*(writer(w) for w in range(writers)))
    final = int((await stack.call("GET", url))[1]["value"])
    tally.notes.append(f"{accepted} increments accepted, counter {final}, "
                       f"{tally.statuses[412]} conflicts retried")
    if final != accepted:
        tally.problems.append(f"conditional writers: {accepted - final} lost updates")
    return tally


async def cross_instance(stack: Stack,
                         count_rows: Callable[[float], Awaitable[Counter[str]]]) -> Tally:
    """Config writes and secret rotations at once on instance A; after one coherence
    interval and one check, instance B must serve every new value."""
    tally = Tally("writes on A, reads on B")
    keys = ["smtp_host", "smtp_username", "smtp_password"]
    for org in stack.orgs:  # B caches every value (TTLs far longer than the phase)
        await stack.call("POST", f"{stack.b}/orgs/{org}/workflows/soak-probe", {"keys": keys})
    stack.expected.clear()
    started = time.time()

    async def config_write(org: str, key: str) -> None:
        value = f"{key}-{secrets.token_hex(4)}.example"
        status = await timed(tally, lambda: _status(stack.call(
            "PUT", f"{stack.a}/orgs/{org}/config/{key}", {"value": value})))
        if status == 200:
            stack.expected[(org, key)] = digest(value)

    async def rotation(org: str) -> None:
        value = stack.new_secret()
        status = await timed(tally, lambda: _status(stack.call(
            "PUT", f"{stack.a}/secrets/{org}/smtp-password", {"value": value})))
        if status == 200:
            stack.expected[(org, "smtp_password")] = digest(value)

    await asyncio.gather(*(config_write(o, k) for o in stack.orgs
                           for k in ("smtp_host", "smtp_username")),
                         *(rotation(o) for o in stack.orgs))
    accepted = sum(n for s, n in tally.statuses.items() if s < 300)
    accepted_by_scope: Counter[str] = Counter(org for org, _ in stack.expected)
    await asyncio.sleep(stack.settings["coherence"] * 2 + 0.5)
    stale = []
    for org in stack.orgs:
        status, body, _ = await stack.call("POST", f"{stack.b}/orgs/{org}/workflows/soak-probe",
                                           {"keys": keys})
        for key in keys:
            want = stack.expected.get((org, key))
            if want is not None and (status != 200 or body["result"][key] != want):
                stale.append(f"{org}/{key}")
    recorded = await count_rows(started)
    missing = {scope: n - recorded.get(scope, 0) for scope, n in accepted_by_scope.items()
               if recorded.get(scope, 0) < n}
    tally.notes.append(f"{accepted} writes accepted, {sum(recorded.values())} changes "
                       f"recorded, {len(stale)} stale reads on B")
    if missing:
        tally.problems.append(f"writes on A: {sum(missing.values())} changes not recorded "
                              f"({', '.join(sorted(missing)[:5])})")
    if stale:
        tally.problems.append(f"reads on B: {len(stale)} stale ({', '.join(stale[:5])})")
    return tally

"""The emulator delivers Key Vault's Event Grid events as Azure does: the real SDK writes to
a real emulator process, which posts over real HTTP to a subscriber served in the test's
loop (aiohttp) that records every request and answers as told.

Handshake before anything else, the Event Grid schema of Key Vault's events (no value),
retries with a bounded backoff, 400 given up at once, a dead endpoint never slowing a
write, near-expiry and expired once per version, loopback-only endpoints.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.test_keyvault_emulator import async_client
from tools.keyvault_emulator.control import EmulatorControl, EmulatorControlError
from tools.services import REPO_ROOT, KeyVaultEmulator, free_port

pytestmark = pytest.mark.integration

NEW = "Microsoft.KeyVault.SecretNewVersionCreated"
NEAR = "Microsoft.KeyVault.SecretNearExpiry"
EXPIRED = "Microsoft.KeyVault.SecretExpired"
VALIDATION = "Microsoft.EventGrid.SubscriptionValidationEvent"
CANARY = "value-canary-4f1e9"  # a secret value: never in an event
KEY = "function-key-canary-77"  # the endpoint's code=: never shown or logged


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyVaultEmulator]:
    """An emulator of this module's own, looking for expiring secrets every 0.2 s."""
    service = KeyVaultEmulator(state=tmp_path_factory.mktemp("kv-events"),
                               event_check_seconds=0.2).start()
    try:
        yield service
    finally:
        service.stop()


@dataclass
class Subscriber:
    """An Event Grid webhook: records requests; ``fail`` statuses answer the next
    notifications; ``validate=False`` answers the handshake with a wrong code."""

    validate: bool = True
    fail: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], str]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        self.requests.append((dict(request.headers), body))
        events = json.loads(body)
        if request.headers.get("aeg-event-type") == "SubscriptionValidation":
            code = events[0]["data"]["validationCode"]
            return web.json_response({"validationResponse": code if self.validate else "no"})
        if self.fail:
            return web.Response(status=self.fail.pop(0))
        return web.Response(status=200)

    def of(self, kind: str) -> list[tuple[dict[str, str], Any]]:
        return [(h, json.loads(b)) for h, b in self.requests if h.get("aeg-event-type") == kind]

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        return [e for _, body in self.of("Notification") for e in body
                if event_type is None or e["eventType"] == event_type]


@pytest.fixture
async def subscriber(emulator: KeyVaultEmulator) -> AsyncIterator[Subscriber]:
    sub = Subscriber()
    app = web.Application()
    app.router.add_post("/hook", sub.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    sub.url = f"http://127.0.0.1:{port}/hook?code={KEY}"
    control = emulator.control()
    control.reset()
    control.reset_events()
    try:
        yield sub
    finally:
        control.set_event_endpoint(None, max_attempts=5, backoff=0.2)
        control.reset_events()
        control.reset()
        await runner.cleanup()


async def until(check: Any, timeout: float = 10.0) -> None:
    """Poll ``check()`` until true, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout}s")
        await asyncio.sleep(0.05)


async def test_handshake_first_then_new_version_in_key_vaults_schema(
    emulator: KeyVaultEmulator, subscriber: Subscriber
) -> None:
    control = emulator.control()
    status = control.set_event_endpoint(subscriber.url, backoff=0.05)
    assert status["endpoint"].endswith("/hook?...") and status["validated"] is False
    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=90)
    async with async_client(emulator) as client:
        secret = await client.set_secret("acme--smtp-password", CANARY, expires_on=expires)
        await until(lambda: len(subscriber.events(NEW)) == 1)
        again = await client.set_secret("acme--smtp-password", CANARY + "2")
        await until(lambda: len(subscriber.events(NEW)) == 2)

    kinds = [h["aeg-event-type"] for h, _ in subscriber.requests]
    assert kinds == ["SubscriptionValidation", "Notification", "Notification"]  # one handshake
    (headers, handshake), = subscriber.of("SubscriptionValidation")
    assert handshake[0]["eventType"] == VALIDATION and handshake[0]["data"]["validationCode"]
    headers, body = subscriber.of("Notification")[0]
    assert headers["aeg-subscription-name"] and headers["aeg-delivery-count"] == "0"
    assert headers["Content-Type"].startswith("application/json")
    assert len(body) == 1
    event = body[0]
    assert set(event) == {"id", "topic", "subject", "eventType", "eventTime", "data",
                          "dataVersion", "metadataVersion"}
    assert event["topic"].startswith("/subscriptions/")
    assert event["topic"].endswith("/providers/Microsoft.KeyVault/vaults/default")
    assert event["subject"] == "acme--smtp-password"
    assert event["eventTime"].endswith("Z") and (event["dataVersion"], event["metadataVersion"]
                                                 ) == ("1", "1")
    assert event["data"] == {
        "Id": f"{emulator.url}/secrets/acme--smtp-password/{secret.properties.version}",
        "VaultName": "default", "ObjectType": "Secret", "ObjectName": "acme--smtp-password",
        "Version": secret.properties.version, "NBF": None, "EXP": int(expires.timestamp()),
    }
    assert subscriber.events(NEW)[1]["data"]["Version"] == again.properties.version
    assert subscriber.events(NEW)[1]["data"]["EXP"] is None
    assert not [b for _, b in subscriber.requests if CANARY in b]  # events carry no value

    shown = control.events()
    assert shown["validated"] is True and shown["validations"] == 1
    assert (shown["delivered"], shown["failed"]) == (2, 0)
    assert [(r["eventType"], r["outcome"], r["attempts"]) for r in shown["recent"]] == [
        (NEW, "delivered", 1), (NEW, "delivered", 1)]
    assert KEY not in json.dumps(shown)
    assert not [line for line in emulator.log_tail(200) if KEY in line or CANARY in line]


async def test_nothing_is_delivered_to_an_endpoint_that_fails_the_handshake(
    emulator: KeyVaultEmulator, subscriber: Subscriber
) -> None:
    subscriber.validate = False
    control = emulator.control()
    control.set_event_endpoint(subscriber.url, max_attempts=3, backoff=0.02)
    async with async_client(emulator) as client:
        await client.set_secret("acme--x", CANARY)
    await until(lambda: control.events()["failed"] == 1)
    assert [h["aeg-event-type"] for h, _ in subscriber.requests] == \
        ["SubscriptionValidation"] * 3
    assert control.events()["validated"] is False
    assert control.events()["recent"][-1]["outcome"] == "failed"


async def test_a_failed_delivery_is_retried_with_backoff_until_it_lands(
    emulator: KeyVaultEmulator, subscriber: Subscriber
) -> None:
    subscriber.fail = [503, 500]
    control = emulator.control()
    control.set_event_endpoint(subscriber.url, max_attempts=4, backoff=0.05)
    async with async_client(emulator) as client:
        await client.set_secret("acme--retried", CANARY)
    await until(lambda: control.events()["delivered"] == 1)
    notifications = subscriber.of("Notification")
    assert [h["aeg-delivery-count"] for h, _ in notifications] == ["0", "1", "2"]
    assert len({body[0]["id"] for _, body in notifications}) == 1  # the same event again
    assert control.events()["recent"][-1]["attempts"] == 3


async def test_bad_request_is_not_retried_and_attempts_are_bounded(
    emulator: KeyVaultEmulator, subscriber: Subscriber
) -> None:
    control = emulator.control()
    subscriber.fail = [400]
    control.set_event_endpoint(subscriber.url, max_attempts=5, backoff=0.02)
    async with async_client(emulator) as client:
        await client.set_secret("acme--bad", CANARY)
        await until(lambda: control.events()["failed"] == 1)
        assert len(subscriber.of("Notification")) == 1  # 400: given up at once
        subscriber.fail = [500] * 10
        await client.set_secret("acme--bad", CANARY)
        await until(lambda: control.events()["failed"] == 2)
    assert len(subscriber.of("Notification")) == 1 + 5  # max_attempts, then dropped


async def test_a_dead_endpoint_never_slows_or_fails_a_write(
    emulator: KeyVaultEmulator, subscriber: Subscriber
) -> None:
    control = emulator.control()
    control.set_event_endpoint(f"http://127.0.0.1:{free_port()}/nobody", max_attempts=3,
                               backoff=2.0)
    async with async_client(emulator) as client:
        started = time.monotonic()
        for i in range(3):
            await client.set_secret("acme--fast", f"{CANARY}{i}")
        assert time.monotonic() - started < 2.0  # the first event alone retries for 6 s
        assert (await client.get_secret("acme--fast")).value == f"{CANARY}2"
    assert control.events()["pending"] == 3
    # a new subscription does not wait for the old endpoint's retries, nor get its events
    control.set_event_endpoint(subscriber.url, backoff=0.05)
    async with async_client(emulator) as client:
        await client.set_secret("acme--fast", CANARY)
    await until(lambda: len(subscriber.events(NEW)) == 1, timeout=1.5)
    assert [o["outcome"] for o in control.events()["recent"]] == \
        ["unsubscribed"] * 3 + ["delivered"]


async def test_near_expiry_and_expired_are_sent_once_per_version(
    emulator: KeyVaultEmulator, subscriber: Subscriber
) -> None:
    control = emulator.control()
    control.set_event_endpoint(subscriber.url, backoff=0.05)
    now = datetime.datetime.now(datetime.UTC)
    async with async_client(emulator) as client:
        soon = await client.set_secret("acme--soon", CANARY,
                                       expires_on=now + datetime.timedelta(seconds=2))
        await client.set_secret("acme--later", CANARY,
                                expires_on=now + datetime.timedelta(days=60))
        await client.set_secret("acme--never", CANARY)
        await until(lambda: len(subscriber.events(EXPIRED)) == 1)
        await asyncio.sleep(1.0)  # five more checks: nothing is sent twice
        assert [e["subject"] for e in subscriber.events(NEAR)] == ["acme--soon"]
        assert [e["subject"] for e in subscriber.events(EXPIRED)] == ["acme--soon"]
        near, = subscriber.events(NEAR)
        assert near["data"]["Version"] == soon.properties.version
        assert near["data"]["EXP"] == int((now + datetime.timedelta(seconds=2)).timestamp())
        # a new version of an expired secret is a new object: its own events, once
        fresh = await client.set_secret("acme--soon", CANARY,
                                        expires_on=now + datetime.timedelta(days=1))
        await until(lambda: len(subscriber.events(NEAR)) == 2)
    assert subscriber.events(NEAR)[1]["data"]["Version"] == fresh.properties.version
    assert control.check_expiry() == 0  # all already sent
    assert not [b for _, b in subscriber.requests if CANARY in b]


async def test_events_before_a_subscription_are_not_kept(
    emulator: KeyVaultEmulator, subscriber: Subscriber
) -> None:
    control = emulator.control()
    async with async_client(emulator) as client:
        await client.set_secret("acme--before", CANARY)
        control.set_event_endpoint(subscriber.url, backoff=0.05)
        await client.set_secret("acme--after", CANARY)
    await until(lambda: len(subscriber.events(NEW)) == 1)
    assert [e["subject"] for e in subscriber.events()] == ["acme--after"]


def test_the_endpoint_must_be_on_loopback(emulator: KeyVaultEmulator) -> None:
    control: EmulatorControl = emulator.control()
    for url in ("http://example.com/hook", "ftp://127.0.0.1/x", "http://10.0.0.1:7071/x"):
        with pytest.raises(EmulatorControlError, match="event endpoint"):
            control.set_event_endpoint(url)
    assert control.events()["endpoint"] is None
    done = subprocess.run(
        [sys.executable, "-m", "tools.keyvault_emulator", "--event-endpoint",
         "https://example.com/api/events", "--state", str(Path("/nonexistent"))],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2 and "--allow-remote-event-endpoint" in done.stderr

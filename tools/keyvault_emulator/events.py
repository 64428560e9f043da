"""Key Vault's Event Grid events, delivered to one webhook subscription as Event Grid would.

What is delivered (Event Grid schema, one event per POST, as Key Vault's events arrive):

- ``Microsoft.KeyVault.SecretNewVersionCreated`` after every ``set_secret`` (a new
  version), once the write has been answered;
- ``Microsoft.KeyVault.SecretNearExpiry`` when the current version's ``exp`` is less than
  30 days away, and ``Microsoft.KeyVault.SecretExpired`` once it has passed: found by a
  periodic check (``--event-check-seconds``), each at most once per version (remembered in
  memory: a restarted emulator may send them again).

Each event carries what Key Vault's does (``data``: ``Id``, ``VaultName``, ``ObjectType``,
``ObjectName``, ``Version``, ``NBF``, ``EXP``): names, version and dates, never a value.
``VaultName`` is the emulator's vault name (``default``, ``shard1``...), which is how the
app knows a loopback vault (:mod:`shared.backends.vaults`).

Before the first delivery to an endpoint, the subscription validation handshake: a
``Microsoft.EventGrid.SubscriptionValidationEvent`` with a ``validationCode``
(``aeg-event-type: SubscriptionValidation``); the endpoint must answer 200 with
``{"validationResponse": code}``. Until it has, nothing else is sent to it. Then each event
is posted with ``aeg-event-type: Notification``; a 2xx is delivered; 400 and 413 are given up
at once (Event Grid dead-letters those); anything else (an error status, a refused
connection, a timeout, a failed handshake) is retried after a short, doubling backoff, at
most ``max_attempts`` times, then dropped and logged. Delivery runs on its own task, in
order, and never delays or fails a vault operation.

The endpoint is whatever the developer configures (``--event-endpoint``, the
``KEYVAULT_EMULATOR_EVENT_ENDPOINT`` variable, or the control API), but only on a loopback
address unless ``--allow-remote-event-endpoint`` is given: the emulator is a local tool.
Its query string (a function key, ``code=...``) is never logged or shown by the control API.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from .model import Secret, SecretVersion

log = logging.getLogger("keyvault_emulator.events")

NEW_VERSION = "Microsoft.KeyVault.SecretNewVersionCreated"
NEAR_EXPIRY = "Microsoft.KeyVault.SecretNearExpiry"
EXPIRED = "Microsoft.KeyVault.SecretExpired"
VALIDATION = "Microsoft.EventGrid.SubscriptionValidationEvent"
#: Key Vault sends SecretNearExpiry 30 days before the current version's expiry.
NEAR_EXPIRY_SECONDS = 30 * 86400
ENDPOINT_ENV = "KEYVAULT_EMULATOR_EVENT_ENDPOINT"
SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
RESOURCE_GROUP = "keyvault-emulator"
SUBSCRIPTION_NAME = "KEYVAULT-EMULATOR"
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_BACKOFF = 0.2
#: statuses Event Grid does not retry (it dead-letters them at once)
NOT_RETRIED = frozenset({400, 413})


def topic(vault: str) -> str:
    """The vault's Azure resource id, as Key Vault events carry it in ``topic``."""
    return (f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{RESOURCE_GROUP}"
            f"/providers/Microsoft.KeyVault/vaults/{vault}")


def _time(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def secret_event(event_type: str, vault: str, vault_url: str, secret: Secret,
                 version: SecretVersion, now: float) -> dict[str, Any]:
    """One Key Vault secret event in the Event Grid schema (no value: Key Vault's carry none)."""
    return {
        "id": str(uuid.uuid4()),
        "topic": topic(vault),
        "subject": secret.name,
        "eventType": event_type,
        "eventTime": _time(now),
        "data": {
            "Id": f"{vault_url}/secrets/{secret.name}/{version.version}",
            "VaultName": vault,
            "ObjectType": "Secret",
            "ObjectName": secret.name,
            "Version": version.version,
            "NBF": version.nbf,
            "EXP": version.exp,
        },
        "dataVersion": "1",
        "metadataVersion": "1",
    }


def shown(url: str | None) -> str | None:
    """The endpoint without its query string (which may hold a function key)."""
    if url is None:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?..." if parts.query else "")


def endpoint_problem(url: str, *, allow_remote: bool) -> str | None:
    """Why ``url`` cannot be the event endpoint, or None when it can."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "the event endpoint is not a valid URL"
    if parts.scheme not in ("http", "https") or not host:
        return "the event endpoint must be an http:// or https:// URL with a host"
    if allow_remote:
        return None
    if host.lower() == "localhost":
        return None
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return ("the event endpoint must be on a loopback address (localhost, 127.0.0.1, "
                "[::1]); start the emulator with --allow-remote-event-endpoint to send "
                "events elsewhere")
    return None


class _NotValidated(Exception):
    """The endpoint did not complete the validation handshake."""


class EventDelivery:
    """The emulator's one Event Grid subscription: a queue and a task delivering it."""

    def __init__(self, *, endpoint: str | None = None, allow_remote: bool = False,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS, backoff: float = DEFAULT_BACKOFF,
                 timeout: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        self.allow_remote = allow_remote
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.timeout = timeout
        self.clock = clock
        self.endpoint: str | None = None
        self.validated = False
        self.delivered = 0
        self.failed = 0
        self.validations = 0
        self.recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=100)
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(maxsize=10_000)
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        #: set (and replaced) when the subscription changes: a retry waiting for its
        #: backoff stops waiting, so events of the old endpoint never hold up the new one's
        self._changed = asyncio.Event()
        if endpoint:
            self.set_endpoint(endpoint)

    # -- configuration ------------------------------------------------------------------

    def set_endpoint(self, url: str | None, *, max_attempts: int | None = None,
                     backoff: float | None = None) -> None:
        """Subscribe ``url`` (None: unsubscribe); a new endpoint is validated again.
        Raises ValueError (the message says why) for an endpoint that is not allowed."""
        if url is not None:
            problem = endpoint_problem(url, allow_remote=self.allow_remote)
            if problem:
                raise ValueError(problem)
        if url != self.endpoint:
            self.validated = False
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()
        self.endpoint = url or None
        if max_attempts is not None:
            self.max_attempts = max_attempts
        if backoff is not None:
            self.backoff = backoff
        log.info("event subscription: %s", shown(self.endpoint) or "none")

    def reset(self) -> None:
        """Zero the counters and forget recent deliveries (the subscription stays)."""
        self.delivered = self.failed = self.validations = 0
        self.recent.clear()

    def status(self) -> dict[str, Any]:
        """What the control API shows: no function key, no value (events carry none)."""
        return {
            "endpoint": shown(self.endpoint), "validated": self.validated,
            "max_attempts": self.max_attempts, "backoff": self.backoff,
            "pending": self._queue.qsize() + (0 if self._idle.is_set() else 1),
            "delivered": self.delivered, "failed": self.failed,
            "validations": self.validations, "recent": list(self.recent),
        }

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout), trust_env=False)
        self._task = asyncio.create_task(self._run(), name="event-delivery")

    async def close(self) -> None:
        await _stop(self._task)
        self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- publishing ---------------------------------------------------------------------

    def publish(self, event: dict[str, Any]) -> None:
        """Queue ``event`` for the subscription (nothing when there is none, as in Azure:
        events before a subscription exists are not kept). Never blocks, never raises."""
        if self.endpoint is None:
            return
        try:
            self._queue.put_nowait((self.endpoint, event))
        except asyncio.QueueFull:
            self.failed += 1
            log.warning("event queue full: dropped %s for %s", event["eventType"],
                        event["subject"])

    async def _run(self) -> None:
        while True:
            endpoint, event = await self._queue.get()
            self._idle.clear()
            try:
                await self._deliver(endpoint, event)
            except Exception:  # never let one event stop the delivery task
                log.exception("delivering %s failed unexpectedly", event.get("eventType"))
            finally:
                self._idle.set()

    def _record(self, event: dict[str, Any], outcome: str, attempts: int,
                status: int | None) -> None:
        data = event["data"]
        self.recent.append({
            "eventType": event["eventType"], "subject": event["subject"],
            "vault": data["VaultName"], "version": data["Version"], "outcome": outcome,
            "attempts": attempts, "status": status,
        })

    async def _deliver(self, endpoint: str, event: dict[str, Any]) -> None:
        """Deliver ``event`` to the ``endpoint`` it was published for; dropped when the
        subscription changed meanwhile (it was never the new endpoint's event)."""
        status: int | None = None
        attempt = 0
        while attempt < self.max_attempts:
            if endpoint != self.endpoint:
                self._record(event, "unsubscribed", attempt, status)
                return
            attempt += 1
            why = ""
            try:
                if not self.validated:
                    await self._validate(endpoint)
                status = await self._post(endpoint, [event], "Notification", attempt)
                if 200 <= status < 300:
                    self.delivered += 1
                    self._record(event, "delivered", attempt, status)
                    return
                why = f"status {status}"
                if status in NOT_RETRIED:
                    break
            except _NotValidated as exc:
                why = f"validation handshake failed ({exc})"
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                why = exc.__class__.__name__
            if attempt < self.max_attempts:
                log.info("%s for %s to %s: %s; retrying", event["eventType"], event["subject"],
                         shown(endpoint), why)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(),
                                           self.backoff * 2 ** (attempt - 1))
            else:
                log.warning("%s for %s to %s: %s; giving up after %d attempts",
                            event["eventType"], event["subject"], shown(endpoint), why, attempt)
        self.failed += 1
        self._record(event, "failed", attempt, status)

    async def _post(self, endpoint: str, events: list[dict[str, Any]], kind: str,
                    attempt: int = 1) -> int:
        assert self._session is not None, "start() the delivery first"
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "aeg-event-type": kind,
            "aeg-subscription-name": SUBSCRIPTION_NAME,
            "aeg-data-version": str(events[0].get("dataVersion", "")),
            "aeg-metadata-version": "1",
            "aeg-delivery-count": str(attempt - 1),
        }
        async with self._session.post(endpoint, data=json.dumps(events), headers=headers,
                                      allow_redirects=False) as response:
            await response.read()
            return response.status

    async def _validate(self, endpoint: str) -> None:
        assert self._session is not None, "start() the delivery first"
        code = str(uuid.uuid4())
        first = urlsplit(endpoint).hostname or ""
        event = {
            "id": str(uuid.uuid4()),
            "topic": topic("emulator"),
            "subject": "",
            "eventType": VALIDATION,
            "eventTime": _time(self.clock()),
            "data": {
                "validationCode": code,
                # Event Grid's manual-validation URL; the emulator offers none (a handshake
                # answer is the only way to validate here)
                "validationUrl": None,
            },
            "dataVersion": "2",
            "metadataVersion": "1",
        }
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "aeg-event-type": "SubscriptionValidation",
                   "aeg-subscription-name": SUBSCRIPTION_NAME,
                   "aeg-data-version": "2", "aeg-metadata-version": "1",
                   "aeg-delivery-count": "0"}
        async with self._session.post(endpoint, data=json.dumps([event]), headers=headers,
                                      allow_redirects=False) as response:
            body = await response.read()
            if response.status != 200:
                raise _NotValidated(f"status {response.status} from {first}")
        try:
            answer = json.loads(body)
        except ValueError:
            raise _NotValidated("the answer is not JSON") from None
        if not isinstance(answer, dict) or answer.get("validationResponse") != code:
            raise _NotValidated("the answer has no matching validationResponse")
        if endpoint == self.endpoint:
            self.validated = True
            self.validations += 1
            log.info("event subscription %s validated", shown(endpoint))


#: (vault name, vault URL, store) of every served vault, for the expiry check
VaultView = tuple[str, str, Any]


class ExpiryWatcher:
    """Finds current versions near or past ``exp`` and publishes each event once."""

    def __init__(self, delivery: EventDelivery, vaults: Callable[[], Iterable[VaultView]],
                 interval: float, clock: Callable[[], float] = time.time) -> None:
        self.delivery = delivery
        self.vaults = vaults
        self.interval = interval
        self.clock = clock
        self._sent: set[tuple[str, str, str, str]] = set()
        self._task: asyncio.Task[None] | None = None

    def forget(self, vault: str | None = None) -> None:
        """Forget which events were sent (for ``vault`` only, when given)."""
        self._sent = {s for s in self._sent if vault is not None and s[0] != vault}

    def check(self) -> int:
        """Publish the due near-expiry and expired events now; returns how many."""
        if self.delivery.endpoint is None:
            return 0  # as in Azure: nothing is produced (or remembered) without a subscription
        now = self.clock()
        published = 0
        for vault, url, store in self.vaults():
            for secret in store.list_secrets():
                version = secret.current
                if version.exp is None:
                    continue
                if now >= version.exp:
                    kind = EXPIRED
                elif now >= version.exp - NEAR_EXPIRY_SECONDS:
                    kind = NEAR_EXPIRY
                else:
                    continue
                key = (vault, secret.name.lower(), version.version, kind)
                if key in self._sent:
                    continue
                self._sent.add(key)
                self.delivery.publish(secret_event(kind, vault, url, secret, version, now))
                published += 1
        return published

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="expiry-check")

    async def close(self) -> None:
        await _stop(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.check()
            except Exception:
                log.exception("expiry check failed")


async def _stop(task: asyncio.Task[None] | None) -> None:
    """Cancel a background task of this module and wait for it to end."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

"""Synchronous client for the emulator's control API (standard library only).

Tests and benchmarks use it to reset the vault, read request counters and inject faults::

    control = EmulatorControl(emulator.control_url)
    control.fail_next(2, 429, retry_after=0.05, operation="get_secret")
    ...
    assert control.count("get_secret", "My-Secret") == 3

An emulator serving several vaults is driven one vault at a time: ``control`` addresses the
default vault, ``control.vault("shard1")`` another (its own counters, faults and reset).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class EmulatorControlError(RuntimeError):
    """The control API rejected a call (the message carries its explanation)."""


class EmulatorControl:
    """Drives one vault of a running emulator through its control URL
    (``http://127.0.0.1:<port>``): the default vault unless ``vault`` names another."""

    def __init__(self, control_url: str, timeout: float = 10.0, vault: str | None = None) -> None:
        self.control_url = control_url.rstrip("/")
        self.timeout = timeout
        self.vault_name = vault
        self._prefix = "" if vault is None else f"/vaults/{urllib.parse.quote(vault, safe='')}"

    def vault(self, name: str) -> EmulatorControl:
        """A control client for the vault ``name`` of the same emulator."""
        return EmulatorControl(self.control_url, self.timeout, vault=name)

    def vaults(self) -> dict[str, str]:
        """Every vault the emulator serves: name -> URL (the default vault first)."""
        result: dict[str, str] = self._call("GET", "/vaults", vault_scoped=False)
        return result

    def reset_all(self) -> None:
        """:meth:`reset` every vault of the emulator."""
        for name in self.vaults():
            self.vault(name).reset()

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None,
        *, vault_scoped: bool = True,
    ) -> Any:
        # Every POST carries a JSON object (the control API refuses any other POST: 415).
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.control_url + (self._prefix if vault_scoped else "") + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data is not None else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise EmulatorControlError(f"{method} {path} -> {exc.code}: {detail}") from None

    def health(self) -> dict[str, Any]:
        """``{"status": "ok", "vault": name, "url": this vault's URL, "urls": {name: url},
        "control_url": ...}``."""
        result: dict[str, Any] = self._call("GET", "/health")
        return result

    def reset(self) -> None:
        """Delete all secrets (including soft-deleted ones), zero counters, clear faults."""
        self._call("POST", "/reset", {})

    def reset_counters(self) -> None:
        """Zero the request counters only."""
        self._call("POST", "/counters/reset", {})

    def counters(self) -> dict[str, Any]:
        """``{"total": int, "operations": {op: int}, "secrets": {lower_name: {op: int}},
        "statuses": {"200": int, ...}}`` for vault requests since the last reset.

        Counted: every vault request classified as an operation, including ones answered
        with an error or an injected fault. Not counted: the 401 authentication challenge,
        requests to unknown paths, refused or dropped connections.
        """
        result: dict[str, Any] = self._call("GET", "/counters")
        return result

    def count(self, operation: str, name: str | None = None) -> int:
        """Requests of ``operation`` (for secret ``name``, case-insensitive, if given), or 0."""
        snapshot = self.counters()
        if name is None:
            return int(snapshot["operations"].get(operation, 0))
        return int(snapshot["secrets"].get(name.lower(), {}).get(operation, 0))

    def faults(self) -> dict[str, Any]:
        """The current fault settings (latency, queued failures, refuse/drop flags)."""
        result: dict[str, Any] = self._call("GET", "/faults")
        return result

    def set_latency(self, ms: float, operation: str | None = None) -> None:
        """Delay every vault answer (or only ``operation``'s, e.g. ``set_secret``) by ``ms``
        milliseconds (0 turns it off)."""
        self._call("POST", "/faults/latency", {"ms": ms, "operation": operation})

    def set_rate_limit(self, per_10s: int | None) -> None:
        """Key Vault's throttling: at most ``per_10s`` requests per 10 s to this vault, the
        rest answered 429 with ``Retry-After`` (None: no limit)."""
        self._call("POST", "/faults/rate-limit", {"per_10s": per_10s})

    def fail_next(
        self,
        count: int,
        status: int,
        *,
        retry_after: float | None = None,
        operation: str | None = None,
    ) -> None:
        """Answer the next ``count`` vault requests (only ``operation``'s, if given) with
        ``status`` in Key Vault's error shape, with a ``Retry-After`` header (seconds, may be
        fractional) when ``retry_after`` is given. Calls queue up in order."""
        self._call(
            "POST",
            "/faults/fail-next",
            {"count": count, "status": status, "retry_after": retry_after, "operation": operation},
        )

    def refuse_connections(self, on: bool = True) -> None:
        """Stop listening on the vault port (connections are refused, open ones are closed);
        ``on=False`` listens again on the same port."""
        self._call("POST", "/faults/refuse", {"on": on})

    def drop_connections(self, on: bool = True) -> None:
        """Accept vault connections, then close them without answering; ``on=False`` stops."""
        self._call("POST", "/faults/drop", {"on": on})

    def clear_faults(self) -> None:
        """Remove latency and queued failures; accept and answer connections again."""
        self._call("POST", "/faults/clear", {})

    # -- Key Vault's Event Grid events (the emulator's one subscription, every vault) ------

    def set_event_endpoint(
        self, url: str | None, *, max_attempts: int | None = None,
        backoff: float | None = None,
    ) -> dict[str, Any]:
        """Deliver Key Vault's events (SecretNewVersionCreated, SecretNearExpiry,
        SecretExpired) to ``url`` (None: stop), after Event Grid's validation handshake.
        ``max_attempts`` and ``backoff`` (seconds, doubling) bound the retries of a failed
        delivery. A URL not on a loopback address is refused unless the emulator was
        started with ``--allow-remote-event-endpoint``. Returns :meth:`events`."""
        result: dict[str, Any] = self._call(
            "POST", "/events/subscription",
            {"endpoint": url, "max_attempts": max_attempts, "backoff": backoff},
            vault_scoped=False,
        )
        return result

    def events(self) -> dict[str, Any]:
        """``{"endpoint": URL without its query, "validated": bool, "pending": int,
        "delivered": int, "failed": int, "validations": int, "recent": [{"eventType",
        "subject", "vault", "version", "outcome", "attempts", "status"}]}``."""
        result: dict[str, Any] = self._call("GET", "/events", vault_scoped=False)
        return result

    def check_expiry(self) -> int:
        """Run the near-expiry/expired check now (it also runs every
        ``--event-check-seconds``); returns how many events it queued."""
        return int(self._call("POST", "/events/check-expiry", {},
                              vault_scoped=False)["published"])

    def reset_events(self) -> None:
        """Zero the delivery counters, forget recent deliveries and which expiry events
        were sent (the subscription stays)."""
        self._call("POST", "/events/reset", {}, vault_scoped=False)

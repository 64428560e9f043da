"""Request counters and fault injection state for the emulator's vault port.

Both are plain in-process objects driven by the control API; the server consults them on
every vault request. Kept apart from the HTTP code so their rules are easy to read.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from .model import VaultError
from .routes import resolve

#: Key Vault counts its service limits per 10 seconds
THROTTLE_WINDOW = 10.0

#: Operation names used by counters and ``fail_next(operation=...)``.
OPERATIONS = (
    "get_secret",
    "set_secret",
    "update_secret",
    "list_secrets",
    "list_versions",
    "delete_secret",
    "get_deleted_secret",
    "list_deleted_secrets",
    "recover_deleted_secret",
    "purge_deleted_secret",
    "backup_secret",
    "restore_secret",
)

# Key Vault's error code and message for the statuses tests usually inject.
_FAULT_ERRORS: dict[int, tuple[str, str]] = {
    429: (
        "Throttled",
        "Request was not processed because too many requests were received. "
        "Reason: injected by the Key Vault emulator.",
    ),
    500: (
        "InternalServerError",
        "An unexpected error occurred (injected by the Key Vault emulator).",
    ),
    502: ("BadGateway", "Bad gateway (injected by the Key Vault emulator)."),
    503: ("ServiceUnavailable", "The service is unavailable (injected by the Key Vault emulator)."),
    504: ("GatewayTimeout", "The gateway timed out (injected by the Key Vault emulator)."),
}


def fault_error(status: int) -> tuple[str, str]:
    """``(code, message)`` for an injected error response with ``status``."""
    return _FAULT_ERRORS.get(
        status, ("InjectedFault", f"Status {status} injected by the Key Vault emulator.")
    )


class Counters:
    """How many vault requests were answered, per operation, per secret and per status."""

    def __init__(self) -> None:
        self.generation = 0
        self.total = 0
        self.operations: Counter[str] = Counter()
        self.secrets: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.statuses: Counter[str] = Counter()

    def record(
        self, operation: str, name: str | None, status: int, generation: int | None = None
    ) -> None:
        """Count one answered request; ``name`` is lower-cased (names are case-insensitive).

        ``generation`` is :attr:`generation` when the request arrived: a request that was
        still in flight (e.g. delayed by injected latency) when the counters were reset
        belongs to the test before, and is not counted."""
        if generation is not None and generation != self.generation:
            return
        self.total += 1
        self.operations[operation] += 1
        if name:
            self.secrets[name.lower()][operation] += 1
        self.statuses[str(status)] += 1

    def reset(self) -> None:
        """Back to zero."""
        self.generation += 1
        self.total = 0
        self.operations.clear()
        self.secrets.clear()
        self.statuses.clear()

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready copy: ``{"total", "operations", "secrets", "statuses"}``."""
        return {
            "total": self.total,
            "operations": dict(self.operations),
            "secrets": {name: dict(ops) for name, ops in self.secrets.items()},
            "statuses": dict(self.statuses),
        }


@dataclass
class FailRule:
    """Answer the next ``remaining`` matching requests with ``status``."""

    remaining: int
    status: int
    retry_after: float | None = None
    operation: str | None = None  # None: any operation

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form for ``GET /faults``."""
        return {
            "remaining": self.remaining,
            "status": self.status,
            "retry_after": self.retry_after,
            "operation": self.operation,
        }


@dataclass
class Faults:
    """Everything the control API can break: latency, error answers, refused/dropped connections."""

    latency_ms: float = 0.0
    #: delay only this operation's requests (``None``: every request)
    latency_operation: str | None = None
    #: Key Vault's service limit, per vault: at most this many requests per 10 s, the
    #: rest answered 429 with Retry-After (None: no limit)
    rate_limit: int | None = None
    _admitted: deque[float] = field(default_factory=deque)
    rules: list[FailRule] = field(default_factory=list)
    refuse: bool = False
    drop: bool = False

    def add_rule(self, rule: FailRule) -> None:
        """Queue a rule; rules are consumed in the order they were added."""
        if rule.remaining > 0:
            self.rules.append(rule)

    def latency_applies(self, method: str, raw_path: str) -> bool:
        """Whether the injected latency delays this request (all, or one operation's)."""
        if self.latency_operation is None:
            return True
        try:
            return resolve(method, raw_path).operation == self.latency_operation
        except VaultError:  # an unroutable request: the server answers it as such, undelayed
            return False

    def throttled(self, now: float | None = None) -> float | None:
        """Seconds until a request is admitted again if the rate limit refuses this one
        (it is then not counted against the limit), else None (and it is counted)."""
        if self.rate_limit is None:
            return None
        now = time.monotonic() if now is None else now
        while self._admitted and now - self._admitted[0] >= THROTTLE_WINDOW:
            self._admitted.popleft()
        if len(self._admitted) >= self.rate_limit:
            return max(0.001, THROTTLE_WINDOW - (now - self._admitted[0]))
        self._admitted.append(now)
        return None

    def take(self, operation: str) -> FailRule | None:
        """The rule that answers this request, if any (and consume one use of it)."""
        for rule in self.rules:
            if rule.operation is None or rule.operation == operation:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self.rules.remove(rule)
                return rule
        return None

    def clear(self) -> None:
        """No latency, no injected errors, connections accepted and answered."""
        self.latency_ms = 0.0
        self.latency_operation = None
        self.rate_limit = None
        self._admitted.clear()
        self.rules.clear()
        self.refuse = False
        self.drop = False

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form for ``GET /faults``."""
        return {
            "latency_ms": self.latency_ms,
            "latency_operation": self.latency_operation,
            "rate_limit_per_10s": self.rate_limit,
            "fail_next": [r.to_json() for r in self.rules],
            "refuse_connections": self.refuse,
            "drop_connections": self.drop,
        }

"""What a fuzz run did, and the checks every response must pass.

:class:`Ledger` follows the accepted writes from their responses (the table entries and
vault secrets they made), remembers every secret value sent, counts requests, and checks
each response: no secret value other than the one-time echo of that very request, always
``Cache-Control: no-store``, and error bodies ``{"error", "message", ...}``. After the
run, the stores must hold exactly what the ledger says: a rejected request changed nothing.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from shared.core.naming import canonical_scope

#: Secret values shorter or plainer than this are not tracked: "0" or "aaaaaaaaaa" can be in
#: a response by coincidence; a leak of a tracked value cannot.
MIN_TRACKED_CHARS = 10
MIN_DISTINCT_CHARS = 5
_SECRET_WRITES = {("POST", "/secrets"), ("PUT", "/secrets/{scope}/{name}")}
#: The writes whose responses say what they stored (besides the config delete's 204).
_WRITES = {("PUT", "/orgs/{org}/config/{key}"), *_SECRET_WRITES,
           ("DELETE", "/secrets/{scope}/{name}"), ("POST", "/secrets/{scope}/{name}/recover"),
           ("POST", "/secrets/{scope}/{name}/rollback")}


def distinctive(value: str) -> bool:
    """Whether a secret value is unlikely to be in a response by coincidence."""
    return len(value) >= MIN_TRACKED_CHARS and len(set(value)) >= MIN_DISTINCT_CHARS


def shown_forms(value: str) -> tuple[str, ...]:
    """A value as it could appear in a body: raw, and JSON-escaped (both ASCII styles)."""
    return tuple({value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]})


class CountingSession(requests.Session):
    """A requests session that counts every request sent through it (checks that re-send
    a request, such as ``ignored_auth``, use it too)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self._lock = threading.Lock()

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        with self._lock:
            self.count += 1
        return super().request(*args, **kwargs)


@dataclass
class Ledger:
    """The expected state of the stores, and every secret value a response must not show."""

    table: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    #: vault name (lower-case, as Key Vault compares names) -> number of versions
    active: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    #: secret values sent in create/update requests; may appear only in their own echo
    secrets: set[str] = field(default_factory=set)
    #: text every caller may see (the OpenAPI document, seeded names): a "secret" value
    #: that is part of it (say, "smtp-password" sent as a value) cannot be told from it
    public: str = ""
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    #: (caller, operation, status) of the parametrized run's requests
    by_caller: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    host_answers: Counter[int] = field(default_factory=Counter)
    #: stateful suites run (more than one when Hypothesis found a replay flaky)
    suites: int = 0

    def remember(self, value: object) -> None:
        if isinstance(value, str) and distinctive(value) and value not in self.public:
            self.secrets.add(value)

    # -- bookkeeping of accepted writes -----------------------------------------------------
    def record(self, case: Any, response: Any) -> None:
        """Note what an accepted write made (a rejected one must have made nothing)."""
        method, path, status = case.method.upper(), case.operation.path, response.status_code
        self.statuses[(f"{method} {path}", status)] += 1
        if status >= 300 or method == "GET":
            return
        if (method, path) == ("DELETE", "/orgs/{org}/config/{key}"):  # 204, no body
            params = case.path_parameters
            self.table.pop((canonical_scope(params["org"]), params["key"]), None)
            return
        if (method, path) not in _WRITES:
            return
        body = _json(response)
        if (method, path) == ("PUT", "/orgs/{org}/config/{key}"):
            self.table[(body["scope"], body["key"])] = (body["value"], body["type"])
        elif (method, path) == ("POST", "/secrets"):
            self.active[body["vault_name"].lower()] = 1
        elif (method, path) in (("PUT", "/secrets/{scope}/{name}"),
                                ("POST", "/secrets/{scope}/{name}/rollback")):
            self.active[body["vault_name"].lower()] += 1
        elif (method, path) == ("DELETE", "/secrets/{scope}/{name}"):
            name = body["vault_name"].lower()
            self.deleted[name] = self.active.pop(name)
        elif (method, path) == ("POST", "/secrets/{scope}/{name}/recover"):
            name = body["vault_name"].lower()
            self.active[name] = self.deleted.pop(name)

    # -- per-response checks ----------------------------------------------------------------
    def leaks(self, case: Any, response: Any) -> list[str]:
        """Tracked secret values this response shows, other than its own one-time echo."""
        own = None
        if (case.method.upper(), case.operation.path) in _SECRET_WRITES and isinstance(
                case.body, dict):
            own = case.body.get("value")
            if response.status_code in (200, 201):
                echoed = _json(response).get("value")
                assert echoed == own, "the echo is not the value that was sent"
        text = response.text or ""
        headers = json.dumps(dict(response.headers))
        found = []
        for secret in self.secrets:
            forms = shown_forms(secret)
            in_body = sum(text.count(form) for form in forms)
            allowed = 1 if secret == own and response.status_code in (200, 201) else 0
            if in_body > allowed or any(form in headers for form in forms):
                found.append(f"{len(secret)}-character secret value")
        return found

    def is_host_answer(self, response: Any) -> bool:
        """An answer of the host, not of the app (no function ran), as Azure's front end
        gives its own: a 404 without a body for a path no route matches, or the HTTP
        server's 400 for a request line or header over its 8 KiB limit (a link can carry a
        20 KB config value into a path). The app's contract does not apply to them."""
        text = response.content or b""
        if (response.status_code == 404 and not text) or (
                response.status_code == 400 and text.startswith(b"Got more than ")):
            self.host_answers[response.status_code] += 1
            return True
        return False


def header(response: Any, name: str) -> str:
    """A response header (schemathesis keeps lower-case names and lists of values)."""
    values = response.headers.get(name.lower(), [])
    return ", ".join(values) if isinstance(values, list) else str(values)


def _json(response: Any) -> Any:
    return json.loads(response.text)


def before_sending(ledger: Ledger, case: Any) -> None:
    """Remember the secret value a create or update request carries."""
    if (case.method.upper(), case.operation.path) in _SECRET_WRITES and isinstance(
            case.body, dict):
        ledger.remember(case.body.get("value"))


def check_response(ledger: Ledger, case: Any, response: Any) -> None:
    """The run's own checks on one response (raises AssertionError)."""
    if ledger.is_host_answer(response):
        return
    ledger.record(case, response)
    leaks = ledger.leaks(case, response)
    assert not leaks, f"response shows {', '.join(leaks)}"
    cache_control = header(response, "Cache-Control")
    assert "no-store" in cache_control, f"Cache-Control is {cache_control!r}, not no-store"
    if response.status_code >= 400:
        try:
            body = _json(response)
        except ValueError:
            raise AssertionError("the error body is not JSON") from None
        assert isinstance(body, dict), "the error body is not a JSON object"
        assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str), \
            "the error body lacks a string error and message"

"""Schemathesis against the app over real HTTP, driven by the app's own OpenAPI document.

Every operation with positive and negative data (examples, coverage and fuzzing phases),
all of schemathesis' checks, then stateful sequences along the document's links; each
request from one of many callers (admin, org member, no roles, forged principals, none).
On every response, besides schemathesis' checks: no secret value but the one-time echo of
that very request, ``Cache-Control: no-store``, error bodies with ``error`` and ``message``.
After the run: the stores hold exactly what the accepted writes made, and the host's log
holds no secret value.

``make test`` runs a short deterministic slice; ``make fuzz`` the long run (see conftest).

The document is loaded when this module is imported (schemathesis' lazy fixture loader
does not support this pytest), from the same code that serves it; the first test proves
that the served ``/api/openapi.json`` is exactly that document.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import time
import zlib
from collections import Counter
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky
from schemathesis.engine.errors import is_inconsistent_replay

from shared.api.openapi import document
from tests.fuzz.conftest import Budget, FuzzTarget
from tests.fuzz.ledger import before_sending, check_response
from tests.fuzz.stores import read_state

pytestmark = pytest.mark.integration

PRINCIPAL = "X-MS-CLIENT-PRINCIPAL"


def _encode(document: object) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def _app_service(*roles: str, name: str) -> str:
    claims = [{"typ": "name", "val": name}] + [{"typ": "roles", "val": r} for r in roles]
    return _encode({"auth_typ": "aad", "claims": claims})


#: Who calls: a header value, or None for no header. Admins open the most code paths.
CALLERS: dict[str, str | None] = {
    "admin": _app_service("PlatformAdmin", name="fuzz-admin@example.com"),
    "member-of-acme": _app_service("org:acme", name="fuzz-member@acme.example"),
    "no-roles": _app_service(name="fuzz-nobody@example.com"),
    "no-principal": None,
    "garbled-base64": "%%%not*base64%%%",
    "base64-of-not-json": base64.b64encode(b"{roles: PlatformAdmin").decode(),
    "roles-not-a-list": _encode({"userDetails": "x", "userRoles": "PlatformAdmin"}),
    "roles-of-wrong-types": _encode({"userRoles": [1, None, ["PlatformAdmin"], {"a": 1}]}),
    "claims-of-wrong-types": _encode({"claims": [{"typ": "roles", "val": ["PlatformAdmin"]}]}),
    "json-not-an-object": _encode(["PlatformAdmin"]),
    # Below the host's 8 KiB header limit (a bigger header never reaches the app).
    "many-roles": _encode({"userRoles": [f"org:o{i}" for i in range(500)]}),
}
WEIGHTED_CALLERS = ["admin"] * 8 + ["member-of-acme"] * 4 + [
    c for c in CALLERS if c not in ("admin", "member-of-acme")]

#: Values the seeded stores know, so generated requests also reach existing entries.
ORGS = ["acme", "ACME", "GLOBAL", "global", "contoso", "fabrikam", "beta"]
KEYS = ["smtp_host", "smtp_password", "graph_client_secret", "psa_field_mapping", "smtp_port"]
SECRET_NAMES = ["smtp-password", "psa-api-key", "graph-client-secret", "SMTP-Password"]
#: Input of the kinds that once crashed the app or held its event loop: deep nesting,
#: quadratic header parsing, recursion in the e-mail parser.
HOSTILE_VALUES = ["[" * 15_000 + "]" * 15_000, '{"a":' * 3_000 + "1" + "}" * 3_000,
                  '"' * 20_000, "(" * 5_000, "." * 20_000, "a " * 10_000]
#: Distinctive secret values: the leak check tracks every value of 10+ varied characters,
#: and generated values are mostly shorter. '~' keeps them from being valid names or keys.
CANARIES = [f"Zx~fuzz~canary~{i:02d}~{zlib.crc32(str(i).encode()):08x}" for i in range(40)]
HOSTILE_ADDRESSES = ["a" * 80_000 + "@example.com", "(" * 5_000 + "a@example.com",
                     '"' * 20_000, "," * 20_000, "a." * 120 + "a@example.com"]


POSITIVE_OUTCOMES = ["2xx", "401", "403", "404", "409", "412", "424"]


def fuzz_config(budget: Budget) -> schemathesis.Config:
    return schemathesis.Config.from_dict({
        "seed": budget.seed,
        "generation": {
            "mode": "all", "max-examples": budget.examples, "database": "none",
            "deterministic": budget.derandomize,
            # The server's state moves on between tries, so a shrunk replay is not the same
            # request sequence; the failure as found is reported (with its curl line).
            "no-shrink": True,
            # The callers below are the principals; function keys are off on the local host
            # (as under Core Tools), so a generated key would test nothing.
            "with-security-parameters": False,
            # HTTP lets clients and proxies add headers and query parameters; the app ignores
            # unknown ones (request bodies refuse unknown fields: tests/api cover that).
            "allow-extra-parameters": False,
        },
        # The Functions host, not the app, answers a method no function accepts: 404, as in
        # Azure (the local host does the same); the app never sees such a request.
        "phases": {"stateful": {"max-steps": budget.steps},
                   "coverage": {"unexpected-methods": []}},
        "checks": {
            "unsupported_method": {"enabled": False},
            # A valid request may still meet state: 404/409 (schemathesis' defaults), a
            # stale ETag (412), an org whose config cannot run the workflow (424).
            "positive_data_acceptance": {"expected-statuses": POSITIVE_OUTCOMES},
            # Too large (413) and not JSON (415) are rejections too.
            "negative_data_rejection": {"expected-statuses": [
                "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428",
                "429", "5xx"]},
        },
        "request-timeout": 60,
        "output": {"sanitization": {"enabled": False}},
        "dictionaries": {
            "orgs": {"values": ORGS}, "keys": {"values": KEYS},
            "secret-names": {"values": SECRET_NAMES}, "hostile": {"values": HOSTILE_VALUES},
            "hostile-addresses": {"values": HOSTILE_ADDRESSES},
            "canaries": {"values": CANARIES},
        },
        "parameters": {
            "path.org": {"dictionary": "orgs", "probability": 0.5},
            "path.scope": {"dictionary": "orgs", "probability": 0.5},
            "query.scope": {"dictionary": "orgs", "probability": 0.5},
            "path.key": {"dictionary": "keys", "probability": 0.3},
        },
        "operations": [
            {"include-path-regex": "^/secrets/", "parameters": {
                "path.name": {"dictionary": "secret-names", "probability": 0.4}}},
            *({"include-operation-id": operation, "parameters": {
                "body.value": {"dictionary": "canaries", "probability": 0.5},
                "body.scope": {"dictionary": "orgs", "probability": 0.5}}}
              for operation in ("secrets_create", "secrets_update")),
            {"include-operation-id": "config_put", "parameters": {
                "body.value": {"dictionary": "hostile", "probability": 0.1}},
             # Whether a value parses as its type (int, json text, a secret name...) is
             # checked by the app, not stated in the schema: 400 invalid_value.
             "checks": {"positive_data_acceptance": {
                 "expected-statuses": [*POSITIVE_OUTCOMES, "400"]}}},
            # schemathesis' coverage phase keeps header values alphanumeric, so it cannot
            # build an entity-tag (quoted) and sends e.g. "If-Match: 0" as valid: a 400.
            *({"include-operation-id": operation, "phases": {"coverage": {"checks": {
                "positive_data_acceptance": {"expected-statuses": [*POSITIVE_OUTCOMES, "400"]},
            }}}} for operation in ("config_put", "config_delete", "config_rollback")),
            # `after` is opaque (a `next` this API handed out) and `since` a real date (the
            # pattern admits month 13): a token or date the schema cannot rule out is a 400.
            *({"include-operation-id": operation, "checks": {"positive_data_acceptance": {
                "expected-statuses": [*POSITIVE_OUTCOMES, "400"]}}}
              for operation in ("config_history", "config_changes")),
            {"include-operation-id": "workflow_run_smtp_digest", "parameters": {
                "body.recipients[*]": {"dictionary": "hostile-addresses", "probability": 0.1}}},
        ],
    })


BUDGET = Budget.from_env()
schema = schemathesis.openapi.from_dict(document(), config=fuzz_config(BUDGET))


def test_the_fuzzer_is_driven_by_the_served_document(fuzz_target: FuzzTarget) -> None:
    served = fuzz_target.session.get(f"{fuzz_target.base_url}/openapi.json", timeout=30)
    assert served.status_code == 200
    assert served.json() == document()


def _send_as(case: Any, caller: str) -> dict[str, str]:
    """The headers that make ``caller`` the sender (a generated principal is dropped)."""
    value = CALLERS[caller]
    if case.headers:
        for name in [n for n in case.headers if n.lower() == PRINCIPAL.lower()]:
            del case.headers[name]
    return {} if value is None else {PRINCIPAL: value}


def orgconfig_rules(target: FuzzTarget) -> Any:
    def orgconfig_response_rules(ctx: Any, response: Any, case: Any) -> bool | None:
        check_response(target.ledger, case, response)
        return None

    return orgconfig_response_rules


def caller_of(case: Any) -> str:
    """The caller of a generated request: spread over :data:`WEIGHTED_CALLERS` by a hash of
    the request, so a run is as repeatable as its generated data. (Hypothesis cannot draw it
    beside the case: schemathesis refuses ``@schema.given`` together with schema examples.)"""
    text = f"{case.method} {case.formatted_path} {case.query!r} {case.body!r}"
    return WEIGHTED_CALLERS[zlib.crc32(text.encode("utf-8", "surrogatepass"))
                            % len(WEIGHTED_CALLERS)]


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_holds_its_contract_for_every_caller(
    case: Any, fuzz_target: FuzzTarget
) -> None:
    caller = caller_of(case)
    before_sending(fuzz_target.ledger, case)
    response = case.call(base_url=fuzz_target.base_url, session=fuzz_target.session,
                         headers=_send_as(case, caller))
    fuzz_target.ledger.by_caller[(caller, case.operation.label, response.status_code)] += 1
    if fuzz_target.ledger.is_host_answer(response):
        return
    case.validate_response(response, additional_checks=[orgconfig_rules(fuzz_target)],
                           transport_kwargs={"base_url": fuzz_target.base_url,
                                             "session": fuzz_target.session})


def test_the_stateful_sequences_hold_their_contract(fuzz_target: FuzzTarget) -> None:
    rules, scenarios = orgconfig_rules(fuzz_target), [0]

    class Sequences(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            before_sending(fuzz_target.ledger, case)
            # Admins, so that the sequences get past authorization.
            return {"base_url": fuzz_target.base_url, "session": fuzz_target.session,
                    "headers": _send_as(case, "admin")}

        def validate_response(self, response: Any, case: Any,
                              additional_checks: Any = None, **kwargs: Any) -> None:
            if not fuzz_target.ledger.is_host_answer(response):
                super().validate_response(response, case, additional_checks=[rules], **kwargs)

        def teardown(self) -> None:
            scenarios[0] += 1
            super().teardown()

    # The server's state moves on, so Hypothesis may find that a scenario it replays no
    # longer draws the same rules (Flaky): as schemathesis' own runner does, start a new
    # suite with the next seed and run the remaining scenarios. Real failures raise.
    suites = 0
    while scenarios[0] < BUDGET.scenarios:
        machine = hypothesis.seed(BUDGET.seed + suites)(Sequences)
        suites += 1
        try:
            machine.run(settings=settings(
                max_examples=BUDGET.scenarios - scenarios[0], stateful_step_count=BUDGET.steps,
                deadline=None, derandomize=False, database=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.generate],  # no shrinking: see "no-shrink" above
            ))
            break
        except Exception as exc:
            if not (isinstance(exc, Flaky) or is_inconsistent_replay(exc)) or suites >= 100:
                raise
    fuzz_target.ledger.suites = suites
    statuses = fuzz_target.ledger.statuses
    assert statuses[("POST /secrets", 201)] > 0, "no secret was created along the links"


def test_the_stores_hold_exactly_what_the_accepted_writes_made(fuzz_target: FuzzTarget) -> None:
    state = asyncio.run(read_state(fuzz_target.settings))
    ledger = fuzz_target.ledger
    assert state.table == ledger.table
    assert state.active == ledger.active
    assert set(state.deleted) == set(ledger.deleted)


def test_no_log_record_of_the_host_holds_a_secret_value(fuzz_target: FuzzTarget) -> None:
    text = fuzz_target.log.read_text(encoding="utf-8", errors="replace")
    assert "orgconfig.api" in text, "the host's log was not captured"
    lines = [line for line in text.splitlines()
             if any(secret in line for secret in fuzz_target.ledger.secrets)]
    masked = []
    for line in lines[:5]:
        for secret in fuzz_target.ledger.secrets:
            line = line.replace(secret, "***")
        masked.append(line[:300])
    assert lines == [], f"{len(lines)} log lines hold a secret value, e.g. {masked}"


def test_no_telemetry_signal_of_the_host_holds_a_secret_value(fuzz_target: FuzzTarget) -> None:
    """The host exports every OpenTelemetry signal to files (spans with the Azure SDK's HTTP
    spans, log records with their attributes, metrics): none holds a tracked value."""
    assert fuzz_target.telemetry is not None
    files = {name: fuzz_target.telemetry / f"{name}.jsonl" for name in ("traces", "logs")}
    deadline = time.monotonic() + 10  # the batch processors export every 0.2 s
    while not all(f.exists() and f.stat().st_size for f in files.values()):
        assert time.monotonic() < deadline, f"no telemetry exported: {files}"
        time.sleep(0.2)
    time.sleep(1.5)  # the last batch and one metric collection (every second)
    texts = {p.name: p.read_text(encoding="utf-8", errors="replace")
             for p in fuzz_target.telemetry.glob("*.jsonl")}
    assert '"orgconfig.resolve"' in texts["traces.jsonl"] or \
        '"orgconfig.table.query"' in texts["traces.jsonl"], "no orgconfig span exported"
    assert '"orgconfig.event"' in texts["logs.jsonl"], "no audit record exported"
    leaked = sorted({name for name, text in texts.items()
                     for secret in fuzz_target.ledger.secrets if secret in text})
    assert leaked == [], f"a secret value is in the host's exported {leaked}"


def test_report_the_run(fuzz_target: FuzzTarget, capsys: pytest.CaptureFixture[str]) -> None:
    """The run's table: on the terminal under ``make fuzz`` (FUZZ_REPORT=1); otherwise
    captured like any test output (``make test`` shows it only if this test fails)."""
    ledger = fuzz_target.ledger
    seconds = time.monotonic() - fuzz_target.started
    shown = capsys.disabled() if os.environ.get("FUZZ_REPORT") else contextlib.nullcontext()
    with shown:
        print(f"\nfuzz: {fuzz_target.session.count} requests in {seconds:.0f} s; "
              f"{sum(ledger.statuses.values())} responses checked by the run's rules; "
              f"{len(ledger.secrets)} secret values tracked; answers of the host itself "
              f"{dict(ledger.host_answers)}; stateful suites {ledger.suites}")
        for (operation, status), count in sorted(ledger.statuses.items()):
            print(f"  {count:6d}  {status}  {operation}")
        callers: Counter[tuple[str, int]] = Counter()
        for (caller, _, status), count in ledger.by_caller.items():
            callers[(caller, status)] += count
        print("  by caller: " + ", ".join(
            f"{caller} {status}: {count}" for (caller, status), count in sorted(callers.items())))
        member = {(op, status): count for (caller, op, status), count in ledger.by_caller.items()
                  if caller == "member-of-acme" and "/workflows/" in op}
        print(f"  org member on the workflow routes: {sorted(member.items())}")
    assert fuzz_target.session.count >= int(os.environ.get("FUZZ_MIN_REQUESTS", "1"))

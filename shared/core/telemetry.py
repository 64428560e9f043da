"""OpenTelemetry: the spans, instruments and attribute names orgconfig emits.

The library uses the OpenTelemetry *API* only: with no SDK configured every call here is
a no-op (the API's proxies). The app configures the SDK and its exporters
(``app_telemetry.py``: Azure Monitor when ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set,
else the standard ``OTEL_*`` variables); a library user configures their own.

- **Traces**: a span per workflow run (``orgconfig.workflow.run``), per model load
  (``orgconfig.load``), per key resolved on the slow path (``orgconfig.resolve``: a memo
  hit makes none), per table query (``orgconfig.table.query``) and per vault request
  (``orgconfig.vault.get``); the Azure SDK's own spans (``azure-core`` tracing) nest
  under the last two. Attributes name orgs, keys, scopes, sources, cache outcomes,
  vaults and breaker states; never a value. An error is recorded by its class and, for
  orgconfig's own errors (whose texts are value-free by design), its message: a foreign
  exception's text is never recorded.
- **Metrics**: :data:`INSTRUMENTS`, observed at each collection from the process's
  tallies (:mod:`shared.core.metrics`: hot paths count in plain ints, folded in then),
  plus a histogram of backend call durations, an up-down counter of open breakers and
  gauges of cache sizes and the oldest stale value's age.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import Span, Status, StatusCode

from shared.core import metrics as tallies
from shared.errors import ConfigError

SCOPE = "orgconfig"
tracer = trace.get_tracer(SCOPE)
meter = metrics.get_meter(SCOPE)

# -- attribute names (stable: dashboards and queries use them) ---------------------------
ORG = "orgconfig.org_id"
KEY = "orgconfig.key"
SCOPE_ATTR = "orgconfig.scope"
TYPE = "orgconfig.type"
SOURCE_KIND = "orgconfig.source.kind"  # table | keyvault | env
SOURCE = "orgconfig.source"  # e.g. keyvault:acme--smtp-password (a name, never a value)
CACHE = "orgconfig.cache"  # hit | miss | stale | joined (per name: LOOKUPS)
SECRET = "orgconfig.secret.name"  # noqa: S105 - an attribute name
TRIED = "orgconfig.secret.tried"
#: how each vault name of the chain was answered: ``acme--x=negative`` (a cached
#: not-found), ``GLOBAL--x=hit``, ``=miss``, ``=stale``, ``=joined``, ``=catalog_absent``
LOOKUPS = "orgconfig.secret.lookups"
VAULT = "orgconfig.vault"
BREAKER = "orgconfig.breaker"
BREAKER_STATE = "orgconfig.breaker.state"
WORKFLOW = "orgconfig.workflow"
RUN_ID = "orgconfig.run_id"
MODEL = "orgconfig.model"
OUTCOME = "orgconfig.outcome"
BACKEND = "orgconfig.backend"  # table | keyvault
OPERATION = "orgconfig.operation"
ROWS = "orgconfig.rows"
ERROR_TYPE = "error.type"  # the OpenTelemetry semantic convention


def record_error(span: Span, exc: BaseException) -> None:
    """Mark ``span`` failed by ``exc``: its class always, its text only for orgconfig's own
    errors (value-free by design); the text of anything else (an SDK error may quote a
    response) never reaches telemetry."""
    span.set_attribute(ERROR_TYPE, type(exc).__name__)
    if isinstance(exc, ConfigError):
        span.set_status(Status(StatusCode.ERROR, str(exc)[:500]))
        span.add_event("exception", {"exception.type": type(exc).__name__,
                                     "exception.message": str(exc)[:500]})
    else:
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


@contextmanager
def span(name: str, attributes: dict[str, Any] | None = None,
         kind: trace.SpanKind = trace.SpanKind.INTERNAL) -> Iterator[Span]:
    """A current span over the block, its failure recorded by :func:`record_error` (the
    SDK's own exception recording, which stores any exception's text, is off)."""
    with tracer.start_as_current_span(name, kind=kind, attributes=attributes,
                                      record_exception=False,
                                      set_status_on_exception=False) as current:
        try:
            yield current
        except BaseException as exc:
            record_error(current, exc)
            raise


# -- metrics -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Instrument:
    """One observable counter fed from tallies (see :func:`instrument_of`)."""

    name: str
    unit: str
    description: str


INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument("orgconfig.cache.lookups", "{lookup}",
               "Cache lookups by cache (config, secret, answer) and result (hit, miss)"),
    Instrument("orgconfig.cache.stale_served", "{lookup}",
               "Values served stale because their refresh failed (stale-if-error)"),
    Instrument("orgconfig.cache.refresh_failed", "{refresh}",
               "Refreshes that failed and left a value stale"),
    Instrument("orgconfig.vault.operations", "{operation}",
               "Vault outcomes by vault and operation: get (a GET sent), not_found, "
               "revalidated (renewed by the catalog's version, no request), "
               "catalog_absent (no request), index_not_found, index_refresh, "
               "index_failed, write_outcome_unknown"),
    Instrument("orgconfig.breaker.events", "{event}",
               "Circuit breaker events by breaker: opened, closed, fast_fail, late_failure"),
    Instrument("orgconfig.table.operations", "{operation}",
               "Table Storage: calls, queries, unparsable_pages, write_outcome_unknown"),
    Instrument("orgconfig.secret.events", "{event}",
               "Secret outcomes: env_hit, expired_served, expired_refused, "
               "revalidation_dropped"),
    Instrument("orgconfig.catalog.events", "{event}",
               "Secret catalog: writes, write_failed, drift, reconciles, reconcile_drift, "
               "stray_names, unreadable_dates, unstorable_dates"),
    Instrument("orgconfig.coherence.events", "{event}",
               "Change log between instances: recorded, record_failed, record_retried, "
               "record_retry_failed, checks, check_failed, changes_seen, fell_behind, trimmed"),
    Instrument("orgconfig.keyvault_events", "{event}",
               "Key Vault Event Grid events handled, by kind, and refused"),
)
_BY_NAME = {i.name: i for i in INSTRUMENTS}

_LABELLED = re.compile(r"^(?P<base>[a-z_.]+)\[(?P<label>[^\]]+)\]$")
_CACHES = ("config", "secret")


@functools.cache  # a few dozen names, asked at every collection by every instrument
def instrument_of(tally: str) -> tuple[str, dict[str, str]] | None:
    """The instrument and attributes a tally (``vault.get[eu]``, ``config.cache_hit``,
    ``breaker.vault.opened``...) is reported under; None for an unknown tally (reported
    as ``orgconfig.unmapped``, so a new one is seen rather than lost)."""
    vault = "default"
    labelled = _LABELLED.match(tally)
    if labelled:
        tally, vault = labelled["base"], labelled["label"]
    family, _, rest = tally.partition(".")
    if family in _CACHES and rest in ("cache_hit", "cache_miss"):
        return "orgconfig.cache.lookups", {CACHE: family, OUTCOME: rest[6:]}
    if family in _CACHES and rest in ("stale_served", "stale_refresh_failed"):
        name = "stale_served" if rest == "stale_served" else "refresh_failed"
        return f"orgconfig.cache.{name}", {CACHE: family}
    if tally == "answer.memo_hit":
        return "orgconfig.cache.lookups", {CACHE: "answer", OUTCOME: "hit"}
    if family == "vault" and rest:
        return "orgconfig.vault.operations", {VAULT: vault, OPERATION: rest}
    if family == "breaker" and "." in rest:
        name, _, event = rest.rpartition(".")
        return "orgconfig.breaker.events", {BREAKER: name, OUTCOME: event}
    if family == "env" and rest == "hit":
        return "orgconfig.secret.events", {OUTCOME: "env_hit"}
    if family == "events" and rest:
        return "orgconfig.keyvault_events", {OUTCOME: rest}
    if family in ("table", "secret", "catalog", "coherence") and rest:
        return f"orgconfig.{family}.{'operations' if family == 'table' else 'events'}", \
            {OUTCOME: rest}
    return None


def _observations(instrument: str) -> Iterable[Observation]:
    for tally, value in tallies.process_totals().items():
        mapped = instrument_of(tally)
        if mapped is None:
            if instrument == "orgconfig.unmapped":
                yield Observation(value, {OPERATION: tally})
            continue
        if mapped[0] == instrument:
            yield Observation(value, mapped[1])


def _observer(instrument: str):  # type: ignore[no-untyped-def]
    def observe(options: CallbackOptions) -> Iterable[Observation]:
        return list(_observations(instrument))
    return observe


for _instrument in (*INSTRUMENTS, Instrument("orgconfig.unmapped", "{event}",
                                             "Tallies no instrument maps (a defect)")):
    meter.create_observable_counter(_instrument.name, [_observer(_instrument.name)],
                                    unit=_instrument.unit,
                                    description=_instrument.description)


def _gauge(name: str, reduce: str):  # type: ignore[no-untyped-def]
    def observe(options: CallbackOptions) -> Iterable[Observation]:
        by_attrs: dict[tuple[tuple[str, str], ...], float] = {}
        for attrs, value in tallies.gauge_readings(name):
            key = tuple(sorted(attrs.items()))
            old = by_attrs.get(key)
            by_attrs[key] = value if old is None else \
                (old + value if reduce == "sum" else max(old, value))
        return [Observation(v, dict(k)) for k, v in by_attrs.items()]
    return observe


meter.create_observable_gauge(
    "orgconfig.cache.entries", [_gauge("cache.entries", "sum")], unit="{entry}",
    description="Entries held per cache (config snapshots, vault answers, memoized answers)")
meter.create_observable_gauge(
    "orgconfig.cache.oldest_stale_age", [_gauge("cache.oldest_stale_age", "max")], unit="s",
    description="Age of the oldest value held stale (served past its TTL), 0 when none")

backend_duration = meter.create_histogram(
    "orgconfig.backend.duration", unit="s",
    description="Duration of one backend call (table or vault), by operation and outcome")
breakers_open = meter.create_up_down_counter(
    "orgconfig.breaker.open", unit="{breaker}",
    description="Circuit breakers open (or half-open) now, by breaker")


@contextmanager
def timed(backend: str, operation: str, extra: dict[str, str] | None = None
          ) -> Iterator[dict[str, str]]:
    """Record the block's duration in ``orgconfig.backend.duration``; the outcome is ``ok``
    or the exception's class (the caller may set ``attrs[OUTCOME]`` itself)."""
    attrs = {BACKEND: backend, OPERATION: operation, **(extra or {})}
    start = time.perf_counter()
    try:
        yield attrs
    except BaseException as exc:
        attrs.setdefault(OUTCOME, type(exc).__name__)
        raise
    finally:
        attrs.setdefault(OUTCOME, "ok")
        backend_duration.record(time.perf_counter() - start, attrs)


def names(values: Sequence[str]) -> list[str]:
    """A list attribute of names (copied: a span keeps what it was given)."""
    return [str(v) for v in values]

"""Every OpenTelemetry signal the tests' process emits, held in memory: the SDK's in-memory
span and log exporters and metric reader, installed once for the session (tests/conftest.py)
with the Azure SDK's own tracing on, as the app configures it.

The API suite's ``api`` fixture scans what each test emitted for the secret values it
knows (:func:`leaks`), as it scans responses and log lines.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

spans = InMemorySpanExporter()
logs = InMemoryLogRecordExporter()
reader = InMemoryMetricReader()
_installed = False


def install() -> None:
    """Set the process's providers (once: OpenTelemetry allows one of each)."""
    global _installed
    if _installed:
        return
    _installed = True
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    set_logger_provider(logger_provider)
    logging.getLogger("orgconfig").addHandler(
        LoggingHandler(level=logging.INFO, logger_provider=logger_provider))
    from azure.core.settings import settings
    from azure.core.tracing.ext.opentelemetry_span import OpenTelemetrySpan

    settings.tracing_implementation = OpenTelemetrySpan


def clear() -> None:
    spans.clear()
    logs.clear()


def finished() -> tuple[ReadableSpan, ...]:
    return spans.get_finished_spans()


def records() -> tuple[ReadableLogRecord, ...]:
    return logs.get_finished_logs()


def collect() -> MetricsData | None:
    return reader.get_metrics_data()


def metric_points(data: MetricsData | None = None) -> dict[str, list[tuple[dict[str, Any], Any]]]:
    """Metric name -> [(attributes, point)] of one collection."""
    found: dict[str, list[tuple[dict[str, Any], Any]]] = {}
    data = data if data is not None else collect()
    for resource in (data.resource_metrics if data else ()):
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    found.setdefault(metric.name, []).append((dict(point.attributes or {}),
                                                              point))
    return found


def value(name: str, points: dict[str, list[tuple[dict[str, Any], Any]]] | None = None,
          **attributes: str) -> float:
    """The sum of a counter's (or the last of a gauge's) points whose attributes include
    ``attributes`` (keys with ``__`` for ``.``: ``orgconfig__cache="config"``)."""
    wanted = {k.replace("__", "."): v for k, v in attributes.items()}
    total = 0.0
    for attrs, point in (points if points is not None else metric_points()).get(name, []):
        if all(attrs.get(k) == v for k, v in wanted.items()):
            total += getattr(point, "value", getattr(point, "count", 0))
    return total


def texts(include_metrics: bool = True) -> Iterator[tuple[str, str]]:
    """(where, text) of everything emitted since the last :func:`clear`: span names,
    attributes, events and statuses; log bodies and attributes; metric point attributes."""
    for span in finished():
        yield f"span {span.name}", json.dumps({
            "name": span.name, "attributes": dict(span.attributes or {}),
            "events": [(e.name, dict(e.attributes or {})) for e in span.events],
            "status": span.status.description or "",
        }, default=str)
    for record in records():
        log = record.log_record
        yield f"log {log.body!r:.40}", json.dumps({
            "body": str(log.body), "attributes": dict(log.attributes or {})}, default=str)
    if include_metrics:
        for name, points in metric_points().items():
            for attrs, _ in points:
                yield f"metric {name}", json.dumps(attrs, default=str)


def leaks(secrets: set[str] | frozenset[str], include_metrics: bool = True) -> list[str]:
    """Where a known secret value appears in any signal (empty: none)."""
    return sorted({where for where, text in texts(include_metrics)
                   for secret in secrets if secret and secret in text})

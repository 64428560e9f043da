"""The app's OpenTelemetry set-up: which SDK, exporters and handlers receive what orgconfig
emits through the OpenTelemetry API (:mod:`shared.core.telemetry`; the library itself
depends on the API only).

:func:`configure` runs once per process, before the first request (``function_app.py``,
``make serve``/``make demo``), and picks one of:

- ``already``: a tracer provider is set already (the Functions worker configured the Azure
  Monitor distro itself, ``PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY``): nothing is added,
  so nothing is exported twice;
- ``azure-monitor``: ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set: the Azure Monitor
  distro, with Entra ID ingestion by the identity ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING``
  names (``ClientId=...;Authorization=AAD``); the records of the ``orgconfig`` loggers go
  through the distro only (not also through the worker to the host: no record twice),
  everything else as before (the worker forwards it to the host, which exports its own);
- ``otel``: one of the standard ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` /
  ``OTEL_LOGS_EXPORTER`` is set: ``otlp`` (``OTEL_EXPORTER_OTLP_ENDPOINT``, HTTP),
  ``console`` (stdout), ``file`` (orgconfig's own: JSON lines under
  ``ORGCONFIG_TELEMETRY_DIR``, default ``.local/telemetry``) or ``none``;
- ``off``: none of these (or ``OTEL_SDK_DISABLED=true``): the API's no-ops.

With a provider configured the Azure SDK's spans (``azure-core`` tracing) nest under
orgconfig's. Nothing here ever sees a value: the library puts none in any signal.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

OTEL_SIGNALS = ("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER")
#: every setting read here: the README's settings table documents them (the exporters read
#: their own ``OTEL_EXPORTER_OTLP_*`` variables; the two APPLICATIONINSIGHTS_* are the
#: platform's, set by the template)
SETTINGS = (*OTEL_SIGNALS, "OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", "ORGCONFIG_TELEMETRY_DIR",
            "APPLICATIONINSIGHTS_CONNECTION_STRING", "APPLICATIONINSIGHTS_AUTHENTICATION_STRING")
EXPORTERS = ("otlp", "console", "file", "none")
LOGGER = "orgconfig"

_configured: str | None = None
_files: list[IO[str]] = []


def configure(environ: Mapping[str, str] | None = None) -> str:
    """Configure OpenTelemetry for this process once (see the module docstring); returns
    which set-up applies. A bad exporter name raises ValueError naming the variable."""
    global _configured
    env = os.environ if environ is None else environ
    if _configured is not None:
        return _configured
    _configured = _choose(env)
    return _configured


def _choose(environ: Mapping[str, str]) -> str:
    env = {name: environ.get(name) or "" for name in SETTINGS}
    chosen = {name: env[name].strip().lower() for name in OTEL_SIGNALS}
    for name, value in chosen.items():
        if value and value not in EXPORTERS:
            raise ValueError(f"{name}={value!r}: use one of {', '.join(EXPORTERS)}")
    if env["OTEL_SDK_DISABLED"].strip().lower() == "true":
        return "off"
    from opentelemetry import trace

    if type(trace.get_tracer_provider()).__name__ != "ProxyTracerProvider":
        return "already"
    connection = env["APPLICATIONINSIGHTS_CONNECTION_STRING"]
    if connection:
        _azure_monitor(connection, env["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"])
        return "azure-monitor"
    if any(v and v != "none" for v in chosen.values()):
        _sdk(chosen, Path(env["ORGCONFIG_TELEMETRY_DIR"] or ".local/telemetry"),
             env["OTEL_SERVICE_NAME"] or "orgconfig")
        return "otel"
    return "off"


def _azure_monitor(connection: str, authentication: str) -> None:
    from azure.monitor.opentelemetry import configure_azure_monitor

    options: dict[str, Any] = {"connection_string": connection, "logger_name": LOGGER}
    parts = dict(p.split("=", 1) for p in authentication.split(";") if "=" in p)
    if parts.get("Authorization", "").upper() == "AAD":
        from azure.identity import ManagedIdentityCredential

        client_id = parts.get("ClientId") or None
        options["credential"] = ManagedIdentityCredential(client_id=client_id)
    configure_azure_monitor(**options)
    logger = logging.getLogger(LOGGER)
    logger.setLevel(logging.INFO)  # the audit is INFO: never filtered
    # the distro's handler on this logger exports orgconfig's records with their
    # attributes; not propagating keeps the worker's root handler from forwarding the same
    # records to the host, which would export them a second time (as plain text)
    logger.propagate = False


def _sdk(chosen: Mapping[str, str], folder: Path, service: str) -> None:
    from opentelemetry import metrics, trace
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.instrumentation.logging.handler import LoggingHandler
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": service})
    if (kind := chosen["OTEL_TRACES_EXPORTER"]) not in ("", "none"):
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(_exporter("traces", kind, folder)))
        trace.set_tracer_provider(provider)
        _trace_azure_sdk()
    if (kind := chosen["OTEL_METRICS_EXPORTER"]) not in ("", "none"):
        reader = PeriodicExportingMetricReader(_exporter("metrics", kind, folder))
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))
    if (kind := chosen["OTEL_LOGS_EXPORTER"]) not in ("", "none"):
        logs = LoggerProvider(resource=resource)
        logs.add_log_record_processor(BatchLogRecordProcessor(_exporter("logs", kind, folder)))
        set_logger_provider(logs)
        logger = logging.getLogger(LOGGER)
        logger.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logs))
        logger.setLevel(logging.INFO)


def _trace_azure_sdk() -> None:
    """The Azure SDK's own spans (a span per client method, one per HTTP request)."""
    from azure.core.settings import settings
    from azure.core.tracing.ext.opentelemetry_span import OpenTelemetrySpan

    settings.tracing_implementation = OpenTelemetrySpan


def _exporter(signal: str, kind: str, folder: Path) -> Any:
    if kind == "otlp":
        if signal == "traces":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            return OTLPSpanExporter()
        if signal == "metrics":
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter,
            )
            return OTLPMetricExporter()
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        return OTLPLogExporter()
    out: IO[str] | None = None
    if kind == "file":
        folder.mkdir(parents=True, exist_ok=True)
        out = (folder / f"{signal}.jsonl").open("a", encoding="utf-8")
        _files.append(out)
    if signal == "traces":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter
        return ConsoleSpanExporter(**_console(out, "span"))
    if signal == "metrics":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
        return ConsoleMetricExporter(**_console(out, "metrics"))
    from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter
    return ConsoleLogRecordExporter(**_console(out, "record"))


def _console(out: IO[str] | None, item: str) -> dict[str, Any]:
    """A console exporter's options: to ``out`` (a file) one JSON document per line."""
    if out is None:
        return {}
    return {"out": out, "formatter": lambda thing: thing.to_json(indent=None) + "\n"}

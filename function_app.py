"""Azure Functions entry point: registers blueprints and nothing else.

Clients (table, vault, credentials) are created lazily by the process-wide resolver on
first use, inside the worker's event loop, never here. The settings are read once here
only to validate them: a bad setting (e.g. the dev-principal opt-in in Azure) stops the
app at start with a message naming it, instead of failing request by request.
Telemetry (OpenTelemetry SDK and exporters) is configured first, by ``app_telemetry``.

The process-wide resolver builds the secret catalog the first time it finds none (one
instance of the fleet at a time, in the background: ``shared.admin.catalog_bootstrap``),
so a new deployment does not wait for the hourly ``catalog_reconcile`` timer.
"""

import azure.functions as func

import app_telemetry
import workflows  # noqa: F401 - registers the app's workflows (@workflow) for the run route
from shared.admin import events, reconcile_timer
from shared.admin.catalog_bootstrap import ensure_catalog_soon
from shared.api import blueprints
from shared.resolver import when_catalog_missing
from shared.settings import Settings

app_telemetry.configure()  # OpenTelemetry, before any client is created (see app_telemetry.py)

Settings.from_env()
when_catalog_missing(ensure_catalog_soon)

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (*blueprints(), events.bp, reconcile_timer.bp):
    app.register_functions(blueprint)

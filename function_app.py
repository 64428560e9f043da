"""Azure Functions entry point: registers blueprints and nothing else.

Clients (table, vault, credentials) are created lazily by the process-wide resolver on
first use, inside the worker's event loop, never here.
"""

import azure.functions as func

from shared import events, reconcile_timer
from shared.api import blueprints

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (*blueprints(), events.bp, reconcile_timer.bp):
    app.register_functions(blueprint)

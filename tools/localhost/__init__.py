"""The local Functions host behind ``make serve``: the app's HTTP functions over real
HTTP on loopback, routed and converted as the Azure Functions host does."""

from tools.localhost.host import DEFAULT_MAX_BODY_BYTES, LocalFunctionsHost, read_route_prefix
from tools.localhost.routes import Route, RouteTable, RouteTemplateError

__all__ = [
    "DEFAULT_MAX_BODY_BYTES", "LocalFunctionsHost", "Route", "RouteTable",
    "RouteTemplateError", "read_route_prefix",
]

"""The admin web page: ``GET admin`` (HTML) and ``GET admin/assets/{name}`` (its ES modules
and stylesheet), served by the function app itself so the page deploys with it.

The page holds no data: everything it shows comes from the admin API, called from the
browser with the caller's own credentials. Assets are an explicit allow-list read from
``static/`` beside this module (no path from the request reaches the file system), and
every response carries a strict Content-Security-Policy: scripts, styles and API calls
from this origin only, no inline script or style, no framing.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from urllib.parse import urlsplit

from shared.api.errors import ApiError
from shared.api.routing import Call, Param, Reply, RouteTable

routes = RouteTable("page")

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    # every form is handled by script; none may navigate anywhere
    "form-action 'none'",
    "frame-ancestors 'none'",
))
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
#: Every file the page may load; anything else is a 404.
ASSETS = frozenset({
    "api.js", "app.js", "dom.js", "config_view.js", "entry_form.js", "secrets_view.js",
    "history_view.js", "changes_view.js", "format.js", "orgs_view.js", "readiness_view.js",
    "style.css",
})


@cache
def _read(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def _file(name: str) -> Reply:
    media_type = _TYPES[name[name.rindex("."):]]
    return Reply(_read(name), headers=dict(PAGE_HEADERS), media_type=media_type)


_ASSET = Param("name", "a file of the page", where="path", required=True,
               schema={"type": "string", "enum": sorted(ASSETS)})


@routes.route(
    "GET", "admin", name="admin_page", access="anyone", also=(308,), produces=("text/html",),
    summary="The admin web page (HTML; it holds no data, its API calls are authorized)",
)
async def page(call: Call[None]) -> Reply:
    if urlsplit(call.url).path.endswith("/"):
        # The host also routes ``admin/`` here, where the page's relative asset URLs
        # would miss: send the browser to ``admin``.
        return Reply(None, 308, headers={**PAGE_HEADERS, "Location": "../admin"})
    return _file("index.html")


@routes.route(
    "GET", "admin/assets/{name}", name="admin_asset", access="anyone", errors=(404,),
    params=(_ASSET,), produces=("text/javascript", "text/css"),
    summary="A script or stylesheet of the admin page (a fixed allow-list)",
)
async def asset(call: Call[None]) -> Reply:
    name = call.route.get("name") or ""
    if name not in ASSETS:
        raise ApiError(404, "not_found", "no such asset of the admin page")
    return _file(name)

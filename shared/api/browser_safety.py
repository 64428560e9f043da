"""Refusing the requests a hostile web page could make a signed-in admin's browser send.

Two independent defences against cross-site request forgery, checked for every route
before authentication, so a refused request changes nothing:

1. A body is accepted only as ``Content-Type: application/json``: an HTML form (or a
   "simple" ``fetch``) can only send ``text/plain``, form-encoded or multipart bodies
   without a CORS preflight, and this app answers no preflight.
2. Cross-origin refusal on every method but GET/HEAD/OPTIONS, as Go 1.25's
   ``http.CrossOriginProtection`` does: ``Sec-Fetch-Site`` present and not
   ``same-origin``/``none`` -> refused; otherwise ``Origin`` present and not naming the
   request's own host (``Host`` header, port included) -> refused. A request with
   neither header (curl, the CLI, SDKs, server to server) passes unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from shared.api.errors import ApiError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON_MEDIA_TYPE = "application/json"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def refuse_cross_origin(method: str, headers: Mapping[str, str], url: str) -> None:
    """Raise a 403 ``cross_origin_refused`` for a state-changing request that a browser
    says comes from another origin."""
    if method.upper() in SAFE_METHODS:
        return
    site = _header(headers, "Sec-Fetch-Site")
    if site is not None:
        if site.strip().lower() in {"same-origin", "none"}:
            return
        raise ApiError(403, "cross_origin_refused",
                       f"cross-origin request refused (Sec-Fetch-Site: {site[:40]}): "
                       "state-changing requests are accepted only from this app's own "
                       "pages or from non-browser clients")
    origin = _header(headers, "Origin")
    if origin is None:
        return
    own_host = (_header(headers, "Host") or urlsplit(url).netloc).strip().lower()
    try:
        origin_host = urlsplit(origin.strip()).netloc.lower()
    except ValueError:
        origin_host = ""
    if origin_host and origin_host == own_host:
        return
    raise ApiError(403, "cross_origin_refused",
                   "cross-origin request refused: the Origin header does not match this "
                   "host; state-changing requests are accepted only from this app's own "
                   "pages or from non-browser clients")


def require_json_body(headers: Mapping[str, str], body: bytes | None) -> None:
    """Raise a 415 ``unsupported_media_type`` when ``body`` is not empty and not sent as
    ``application/json`` (a ``charset`` parameter may say utf-8, nothing else)."""
    if not body:
        return
    content_type = _header(headers, "Content-Type") or ""
    media, *params = (part.strip() for part in content_type.split(";"))
    charsets = [p.split("=", 1)[1].strip().strip('"').lower()
                for p in params if p.lower().startswith("charset=")]
    if media.lower() == JSON_MEDIA_TYPE and all(c in {"utf-8", "utf8"} for c in charsets):
        return
    shown = content_type[:80] or "none"
    raise ApiError(415, "unsupported_media_type",
                   f"send the body as Content-Type: {JSON_MEDIA_TYPE} (UTF-8), "
                   f"not {shown!r}")

"""Browser defences of the emulator's two ports: loopback ``Host`` only, no cross-site
requests, and (control port) JSON bodies only.

Any page the developer visits can send the emulator simple requests (no preflight):
``POST /reset`` would wipe the persisted dev vault, a ``text/plain`` body could inject
faults, and a page whose name is rebound to 127.0.0.1 could read ``/counters``. No
legitimate client of either port is a browser: the SDK and :class:`.control.EmulatorControl`
address ``127.0.0.1:<port>``/``localhost:<port>`` and send neither ``Origin`` nor
``Sec-Fetch-Site``. So both ports refuse:

- a ``Host`` that is not a loopback name (:mod:`tools.loopback`; the vault port also takes
  the drop-in names ``{vault}.vault.localhost``, ``.localhost`` being loopback by RFC
  6761) -> 421;
- a cross-site request (Go's ``http.CrossOriginProtection`` rule, for every method here):
  ``Sec-Fetch-Site`` present and not ``same-origin``/``none``, or ``Origin`` present and
  not the request's own ``http(s)://{Host}`` -> 403;

and the control port takes bodies only as ``application/json`` and requires one on every
``POST`` (``{}`` when there is nothing to say) -> 415: a browser cannot send that
cross-site without a preflight, which the emulator never grants.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from tools.loopback import host_name, is_loopback_name

from .proxy import vault_of_host

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_SAME_SITE = {"same-origin", "none"}


def _one_host(request: web.Request) -> str | None:
    hosts = request.headers.getall("Host", [])
    return hosts[0] if len(hosts) == 1 else None


def host_refused(request: web.Request, *, vault_names: bool = False) -> bool:
    """True unless the request's one ``Host`` is a loopback name (or, with ``vault_names``,
    a drop-in ``{vault}.vault.localhost`` name)."""
    name = host_name(_one_host(request))
    if name is None:
        return True
    return not (is_loopback_name(name) or (vault_names and vault_of_host(name) is not None))


def cross_site(request: web.Request) -> bool:
    """True for a request a browser sent from another origin (see the module docstring)."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site.strip().lower() not in _SAME_SITE:
        return True
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    host = (_one_host(request) or "").lower()
    return not host or origin.strip().lower() not in (f"http://{host}", f"https://{host}")


def _refusal(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def control_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The control port's checks, before its routes."""
    if host_refused(request):
        return _refusal(421, "the Host must be localhost, 127.0.0.1 or [::1]")
    if cross_site(request):
        return _refusal(403, "cross-site requests are refused")
    has_body = request.body_exists
    if (has_body or request.method == "POST") and request.content_type != "application/json":
        return _refusal(415, "send a JSON body with Content-Type: application/json")
    if request.method == "POST" and not has_body:
        return _refusal(415, "a POST needs a JSON body ({} when there is nothing to say)")
    return await handler(request)


def vault_refusal(request: web.Request) -> tuple[int, str, str] | None:
    """``(status, code, message)`` when the vault port must refuse ``request``, else ``None``."""
    if host_refused(request, vault_names=True):
        return (421, "MisdirectedRequest",
                "The Host must be localhost, 127.0.0.1, [::1] or {vault}.vault.localhost.")
    if cross_site(request):
        return 403, "Forbidden", "Cross-site requests are refused."
    return None


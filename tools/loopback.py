"""Is a request's ``Host`` a loopback name? The Key Vault emulator's copy of
:mod:`shared.core.loopback` (the emulator imports nothing from ``shared``); a test holds
both to the same answers.

A loopback server is not protected by the browser's same-origin policy against DNS
rebinding: a page on ``attacker.example`` whose name is rebound to 127.0.0.1 is
same-origin with itself, so its ``fetch()`` reaches the server and reads the answers. The
browser still sends the page's own name as ``Host``, so a loopback server answers only
requests whose ``Host`` is a name that means this machine:

- ``localhost`` (any case: host names are case-insensitive),
- an IPv4 address of ``127.0.0.0/8`` in dotted-quad form (what browsers send),
- ``[::1]`` (any spelling of ``::1``, in brackets),

each optionally followed by ``:port``. Everything else is refused: other names
(``attacker.example``, ``localhost.attacker.example``, ``127.0.0.1.nip.io``), a trailing
dot (``localhost.``: an absolute name that resolvers may look up in DNS and browsers never
send for ``http://localhost/``; refusing it costs nothing), an empty or missing ``Host``,
short or octal IPv4 forms, IPv4-mapped IPv6, zone ids, user info and whitespace.

``X-Forwarded-Host`` and the like are never looked at: nothing sits in front of a
loopback server, so any such header comes from the client itself.
"""

from __future__ import annotations

import ipaddress
import re

_HOST_RE = re.compile(r"(?P<name>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(?P<port>[0-9]{1,5}))?")
_IPV6_LOOPBACK = ipaddress.IPv6Address("::1")


def host_name(host: str | None) -> str | None:
    """The lower-cased name of a ``Host`` header value without its port (IPv6 keeps its
    brackets), or ``None`` when the value is missing or not a plain ``name[:port]``."""
    if not host:
        return None
    match = _HOST_RE.fullmatch(host)
    if match is None or (match["port"] is not None and int(match["port"]) > 65535):
        return None
    return match["name"].lower()


def is_loopback_name(name: str) -> bool:
    """True for ``localhost``, ``127.x.y.z`` and ``[::1]`` (``name`` lower-cased, no port)."""
    if name == "localhost":
        return True
    if name.startswith("[") and name.endswith("]"):
        try:
            return ipaddress.IPv6Address(name[1:-1]) == _IPV6_LOOPBACK
        except ValueError:
            return False
    try:
        return ipaddress.IPv4Address(name).is_loopback
    except ValueError:
        return False


def is_loopback_host(host: str | None) -> bool:
    """True when a ``Host`` header value names this machine (see the module docstring)."""
    name = host_name(host)
    return name is not None and is_loopback_name(name)

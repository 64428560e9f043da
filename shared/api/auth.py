"""Who is calling: the App Service authentication principal, and role checks.

App Service authentication ("EasyAuth") and Static Web Apps put the signed-in caller
in the ``X-MS-CLIENT-PRINCIPAL`` header (base64 of a JSON document) and strip any
value a client sends. Without platform authentication nothing strips it, so the
header is trusted only when ``WEBSITE_AUTH_ENABLED=true``, or in ``Development`` with
the explicit opt-in ``ORGCONFIG_TRUST_DEV_PRINCIPAL=true``; otherwise every caller is
anonymous, whatever the header says.

>>> principal = authenticate(headers, settings)          # doctest: +SKIP
>>> require_platform_admin(principal)                    # doctest: +SKIP
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from shared.core.audit import Actor
from shared.core.loopback import is_loopback_host
from shared.core.naming import canonical_org_id
from shared.errors import InvalidNameError
from shared.settings import Settings

PRINCIPAL_HEADER = "x-ms-client-principal"
PLATFORM_ADMIN = "PlatformAdmin"
ORG_ROLE_PREFIX = "org:"
#: A real principal is a few KiB; a bigger header is refused before decoding it.
MAX_PRINCIPAL_BYTES = 16 * 1024

_ROLE_CLAIMS = {"roles", "role", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"}
_NAME_CLAIMS = (
    "name", "preferred_username",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
)
_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid", "sub")


class AuthError(Exception):
    """Base of the authentication and authorization failures (401 and 403)."""


class NotAuthenticatedError(AuthError):
    """No trustworthy caller identity: missing, untrusted or garbled principal (401)."""


class ForbiddenError(AuthError):
    """The caller is known but lacks the role the route needs (403)."""

    def __init__(self, required_roles: Iterable[str]) -> None:
        self.required_roles = list(required_roles)
        super().__init__(
            "this route needs the role "
            + " or ".join(repr(role) for role in self.required_roles)
        )


@dataclass(frozen=True)
class Principal:
    """A signed-in caller: an identity for audit records and its roles."""

    name: str
    user_id: str = ""
    provider: str = ""
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def actor(self) -> Actor:
        """How audit records and ``UpdatedBy`` name this caller: the stable user id (the
        ``oid`` claim, or Static Web Apps' ``userId``) with the display name, both
        cleaned of control characters."""
        return Actor.of(self.user_id, self.name)

    @property
    def is_platform_admin(self) -> bool:
        return PLATFORM_ADMIN in self.roles

    def member_orgs(self) -> set[str]:
        """Canonical ids of the orgs this caller has an ``org:{org_id}`` role for."""
        orgs = set()
        for role in self.roles:
            if role.startswith(ORG_ROLE_PREFIX):
                try:
                    orgs.add(canonical_org_id(role[len(ORG_ROLE_PREFIX):]))
                except InvalidNameError:
                    continue  # a role for no valid org grants nothing
        return orgs


def org_role(org_id: str) -> str:
    """The role that makes a caller a member of ``org_id``: ``org:{org_id}``."""
    return f"{ORG_ROLE_PREFIX}{org_id}"


def principal_trusted(settings: Settings) -> bool:
    """Whether X-MS-CLIENT-PRINCIPAL can be believed (see the module docstring)."""
    return settings.platform_auth_enabled or (
        settings.is_development and settings.trust_dev_principal
    )


def authenticate(headers: Mapping[str, str], settings: Settings, url: str | None = None
                 ) -> Principal:
    """The caller of a request, or :class:`NotAuthenticatedError` (never a guess).

    A development principal (no platform authentication, the Development opt-in) is
    believed only on a request whose ``Host`` is a loopback name: a web page whose own
    name is rebound to 127.0.0.1 sends its own name as ``Host``, and must not be able to
    claim PlatformAdmin from the developer's browser (DNS rebinding). ``url`` stands in
    for a missing ``Host`` header (the Functions host builds it from ``Host``)."""
    raw = _header(headers, PRINCIPAL_HEADER)
    if not settings.platform_auth_enabled and principal_trusted(settings):
        host = _header(headers, "host")
        if host is None and url is not None:
            host = urlsplit(url).netloc
        if not is_loopback_host(host):
            raise NotAuthenticatedError(
                "a development principal is trusted only on a loopback Host (localhost, "
                "127.0.0.1, [::1]); this request's Host is another name, as a DNS-rebound "
                "page's would be. Open the app as http://localhost:<port>/"
            )
    if not principal_trusted(settings):
        raise NotAuthenticatedError(
            "caller identity is not trusted: App Service authentication is off "
            "(WEBSITE_AUTH_ENABLED is not true), so X-MS-CLIENT-PRINCIPAL could be forged. "
            "Turn on App Service authentication; for local development set "
            "AZURE_FUNCTIONS_ENVIRONMENT=Development and ORGCONFIG_TRUST_DEV_PRINCIPAL=true"
        )
    if raw is None:
        raise NotAuthenticatedError(
            "sign in: this route needs an authenticated caller "
            "(X-MS-CLIENT-PRINCIPAL from App Service authentication)"
        )
    return parse_principal(raw)


def _header(headers: Mapping[str, str], wanted: str) -> str | None:
    for name, value in headers.items():
        if name.lower() == wanted:
            return value
    return None


def parse_principal(raw: str) -> Principal:
    """Decode an X-MS-CLIENT-PRINCIPAL value (App Service or Static Web Apps shape)."""
    garbled = NotAuthenticatedError(
        "X-MS-CLIENT-PRINCIPAL is not a base64-encoded JSON principal; sign in again"
    )
    if len(raw) > MAX_PRINCIPAL_BYTES:
        raise garbled
    text = raw.strip()
    try:
        # Standard alphabet; tolerate missing padding, which some proxies drop.
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        data = json.loads(decoded.decode("utf-8"))
    except (binascii.Error, ValueError, RecursionError):
        raise garbled from None
    if not isinstance(data, dict):
        raise garbled
    try:
        if "userRoles" in data:
            return _static_web_apps(data)
        if "claims" in data:
            return _app_service(data)
    except (TypeError, ValueError):
        raise garbled from None
    raise garbled


def _text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError("principal fields are strings")
    return value


def _static_web_apps(data: Mapping[str, Any]) -> Principal:
    roles = data["userRoles"]
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise TypeError("userRoles must be a list of strings")
    return Principal(
        name=_text(data.get("userDetails")),
        user_id=_text(data.get("userId")),
        provider=_text(data.get("identityProvider")),
        roles=frozenset(roles),
    )


def _app_service(data: Mapping[str, Any]) -> Principal:
    claims = data["claims"]
    if not isinstance(claims, list):
        raise TypeError("claims must be a list")
    pairs: list[tuple[str, str]] = []
    for claim in claims:
        if not isinstance(claim, dict):
            raise TypeError("a claim is an object")
        pairs.append((_text(claim.get("typ")), _text(claim.get("val"))))
    role_types = _ROLE_CLAIMS | ({_text(data.get("role_typ"))} - {""})
    name_types = (_text(data.get("name_typ")), *_NAME_CLAIMS)
    return Principal(
        name=_first(pairs, name_types),
        user_id=_first(pairs, _ID_CLAIMS),
        provider=_text(data.get("auth_typ")),
        roles=frozenset(val for typ, val in pairs if typ in role_types and val),
    )


def _first(pairs: list[tuple[str, str]], types: Iterable[str]) -> str:
    for wanted in types:
        for typ, val in pairs:
            if wanted and typ == wanted and val:
                return val
    return ""


def require_platform_admin(principal: Principal) -> None:
    """Raise :class:`ForbiddenError` unless the caller has the ``PlatformAdmin`` role."""
    if not principal.is_platform_admin:
        raise ForbiddenError([PLATFORM_ADMIN])


def require_org_member(principal: Principal, org_id: str) -> None:
    """Raise :class:`ForbiddenError` unless the caller is a platform admin or has the role
    ``org:{org_id}`` (``org_id`` canonical)."""
    if principal.is_platform_admin or org_id in principal.member_orgs():
        return
    raise ForbiddenError([PLATFORM_ADMIN, org_role(org_id)])

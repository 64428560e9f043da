"""Key Vault's JSON shapes for the vault port: bundles, items, errors and paging."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import web

from .model import (
    RECOVERABLE_DAYS,
    RECOVERY_LEVEL,
    Secret,
    SecretVersion,
    VaultError,
    bad_parameter,
)

PAGE_SIZE = 25  # Key Vault's default and maximum page size
T = TypeVar("T")


# -- JSON shapes -------------------------------------------------------------------------------


def _attributes(v: SecretVersion) -> dict[str, Any]:
    attrs: dict[str, Any] = {"enabled": v.enabled}
    if v.nbf is not None:
        attrs["nbf"] = v.nbf
    if v.exp is not None:
        attrs["exp"] = v.exp
    attrs.update(
        created=v.created,
        updated=v.updated,
        recoveryLevel=RECOVERY_LEVEL,
        recoverableDays=RECOVERABLE_DAYS,
    )
    return attrs


def _common(ident: str, v: SecretVersion) -> dict[str, Any]:
    body: dict[str, Any] = {"id": ident, "attributes": _attributes(v)}
    # Key Vault omits unset optional properties rather than sending nulls.
    if v.content_type is not None:
        body["contentType"] = v.content_type
    if v.tags is not None:
        body["tags"] = v.tags
    return body


def secret_bundle(base: str, s: Secret, v: SecretVersion, *, value: bool = True) -> dict[str, Any]:
    """SecretBundle: a version's id (with version), attributes and, for gets/sets, value."""
    body = _common(f"{base}/secrets/{s.name}/{v.version}", v)
    if value:
        body = {"value": v.value, **body}
    return body


def secret_item(base: str, s: Secret, v: SecretVersion, *, versioned: bool) -> dict[str, Any]:
    """SecretItem for list responses: never a value; id without version for list_secrets."""
    ident = f"{base}/secrets/{s.name}" + (f"/{v.version}" if versioned else "")
    return _common(ident, v)


def deleted_facts(base: str, s: Secret) -> dict[str, Any]:
    return {
        "recoveryId": f"{base}/deletedsecrets/{s.name}",
        "deletedDate": s.deleted_date,
        "scheduledPurgeDate": s.scheduled_purge_date,
    }


def deleted_bundle(base: str, s: Secret) -> dict[str, Any]:
    # DeletedSecretBundle: the latest version's bundle (without value) + deletion facts.
    return {**secret_bundle(base, s, s.current, value=False), **deleted_facts(base, s)}


def json_response(
    status: int, body: Any, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response the way Key Vault sends it (``application/json; charset=utf-8``)."""
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":")).encode(),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def error_response(err: VaultError, headers: dict[str, str] | None = None) -> web.Response:
    """Key Vault's ``{"error": {"code", "message"}}`` answer."""
    return json_response(err.status, err.body(), headers)


# -- paging ------------------------------------------------------------------------------------


def _encode_token(marker: str) -> str:
    # base64url without padding: survives the SDK's re-quoting of nextLink query values.
    raw = json.dumps({"NextMarker": marker}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        marker = json.loads(raw)["NextMarker"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise bad_parameter("The $skiptoken parameter is invalid.") from None
    if not isinstance(marker, str):
        raise bad_parameter("The $skiptoken parameter is invalid.")
    return marker


def paginate(
    request: web.Request, items: list[T], key: Callable[[T], str], base: str
) -> tuple[list[T], str | None]:
    """One page of ``items`` (sorted by ``key``) and the absolute ``nextLink``, if more remain."""
    raw_max = request.query.get("maxresults")
    size = PAGE_SIZE
    if raw_max is not None:
        try:
            size = int(raw_max)
        except ValueError:
            size = 0
        if not 1 <= size <= PAGE_SIZE:
            raise bad_parameter(
                f"Invalid value for maxresults: {raw_max}. It must be between 1 and {PAGE_SIZE}."
            )
    token = request.query.get("$skiptoken")
    if token:
        marker = _decode_token(token)
        items = [i for i in items if key(i) > marker]
    page = items[:size]
    if len(items) <= size:
        return page, None
    api = quote(request.query.get("api-version", ""), safe="")
    link = (
        f"{base}{request.rel_url.path}?api-version={api}"
        f"&$skiptoken={_encode_token(key(page[-1]))}&maxresults={size}"
    )
    return page, link

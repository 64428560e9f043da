"""Config entries of an org or GLOBAL: list, get, put (typed, ETag-guarded), delete."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Any, TypeVar

from azure.core.exceptions import HttpResponseError

from shared.admin.readiness import constraint_warnings
from shared.admin.reference_check import reference_warnings
from shared.api.audit import audit_write, completed_if_late
from shared.api.errors import ApiError
from shared.api.models import ConfigEntryOut, ConfigList, ConfigWrite, ConfigWritten
from shared.api.params import CONFIG_KEY, IF_MATCH, ORG_OR_GLOBAL
from shared.api.routing import Call, Reply, RouteTable
from shared.core.naming import SECRET_NAME_MAX, canonical_scope, validate_config_key
from shared.core.values import ConfigEntry, ValueType, validate_value
from shared.errors import ConcurrencyError, ConfigValueError, InvalidNameError

routes = RouteTable("config")

_ENTRY = (ORG_OR_GLOBAL, CONFIG_KEY)
_MAX_ETAG = 256
#: RFC 9110 entity-tag: optional weak prefix, a quoted string of visible ASCII but '"'.
_ENTITY_TAG = re.compile(r'(W/)?"[\x21\x23-\x7e]*"')
T = TypeVar("T")


def _target(call: Call[Any]) -> tuple[str, str]:
    return canonical_scope(call.route.get("org")), validate_config_key(call.route.get("key"))


def if_match_of(call: Call[Any]) -> str | None:
    """The request's ``If-Match`` (checked: an entity tag or ``*``), or None."""
    value = call.header("If-Match")
    if value is None:
        return None
    value = value.strip()
    if value != "*" and (len(value) > _MAX_ETAG or not _ENTITY_TAG.fullmatch(value)):
        raise ApiError(400, "invalid_if_match", "If-Match must be an ETag from a GET, or *")
    return value


async def _conditional(write: Awaitable[T], scope: str, key: str) -> T:
    try:
        return await write
    except HttpResponseError as exc:
        # A well-formed entity tag that the table service does not recognize is, by RFC 9110,
        # simply not the entry's current version: the precondition fails (412), as for a
        # stale ETag. Only the If-Match header's syntax is a 400 (checked in _if_match).
        if exc.status_code == 400:
            raise ConcurrencyError(
                f"config entry {scope}/{key}: If-Match is not its current ETag; read it again "
                "and retry with the ETag of that read"
            ) from None
        raise


def etag_headers(entry: ConfigEntry) -> dict[str, str]:
    return {"ETag": entry.etag} if entry.etag else {}


@routes.route(
    "GET", "orgs/{org}/config", name="config_list", access="admin", response=ConfigList,
    params=(ORG_OR_GLOBAL,),
    summary="List the config entries of an org (or GLOBAL)", errors=(400, 503),
)
async def list_entries(call: Call[None]) -> ConfigList:
    scope = canonical_scope(call.route.get("org"))
    snapshot = await call.resolver.config_store.read_partition(scope)
    entries = [ConfigEntryOut.of(e) for _, e in sorted(snapshot.entries.items())]
    return ConfigList(scope=scope, entries=entries)


@routes.route(
    "GET", "orgs/{org}/config/{key}", name="config_get", access="admin",
    response=ConfigEntryOut, params=_ENTRY, errors=(400, 404, 503),
    summary="Read one config entry and its ETag",
)
async def get_entry(call: Call[None]) -> Reply:
    scope, key = _target(call)
    entry = await call.resolver.config_store.get_entry(scope, key)
    if entry is None:
        raise ApiError(404, "config_not_found", f"no config entry {key!r} in scope {scope}")
    return Reply(ConfigEntryOut.of(entry), headers=etag_headers(entry))


@routes.route(
    "PUT", "orgs/{org}/config/{key}", name="config_put", access="admin", body=ConfigWrite,
    response=ConfigWritten, params=(*_ENTRY, IF_MATCH), errors=(400, 412, 503),
    summary="Create or replace a config entry; the type and value are validated",
)
async def put_entry(call: Call[ConfigWrite]) -> Reply:
    scope, key = _target(call)
    if_match = if_match_of(call)
    value_type, value = _validated(call.body)
    resolver = call.resolver
    entry = ConfigEntry(scope, key, value, value_type, call.body.description, None,
                        str(call.actor))
    wanted = (value_type, value, call.body.description)

    async def current_state() -> ConfigEntry | None:
        current = await resolver.config_store.get_entry(scope, key)
        same = current is not None and (current.type, current.value, current.description) \
            == wanted
        return current if same else None

    async def landed() -> bool:
        return await current_state() is not None

    try:
        async with completed_if_late(call, scope, "config.put", location=call.url,
                                     landed=landed, key=key, type=value_type,
                                     conditional=if_match is not None):
            written = await _conditional(
                resolver.config_store.put_entry(entry, if_match=if_match,
                                                actor_id=call.actor.id), scope, key)
    except ConcurrencyError:
        # A retry of a PUT that was applied after all (its first answer was a timeout):
        # the entry is already exactly what was asked, so the PUT succeeds (idempotent).
        current = await current_state()
        if current is None:
            raise
        return Reply(ConfigWritten(**ConfigEntryOut.of(current).model_dump(), warnings=[]),
                     headers=etag_headers(current))
    await resolver.notify_change(scope)
    audit_write("config.put", call.actor, scope, key=key, type=value_type,
                conditional=if_match is not None)
    warnings = await reference_warnings(resolver, scope, value) if written.is_secret_ref else []
    # a value the declared config of a workflow using this key refuses: saved, but said
    warnings += constraint_warnings(scope, key, value_type, value)
    out = ConfigWritten(**ConfigEntryOut.of(written).model_dump(), warnings=warnings)
    return Reply(out, headers=etag_headers(written))


def _validated(body: ConfigWrite) -> tuple[ValueType, str]:
    try:
        return validate_value(body.type, body.value)
    except InvalidNameError:
        # The naming error would quote the input, and an admin may have pasted the secret
        # itself where its name belongs.
        raise ConfigValueError(
            "a secret_ref value must be the bare name of a secret: 1-"
            f"{SECRET_NAME_MAX} ASCII letters, digits and single '-', without a scope prefix "
            "such as 'acme--' (the value is not repeated here in case it is a secret)"
        ) from None


@routes.route(
    "DELETE", "orgs/{org}/config/{key}", name="config_delete", access="admin", status=204,
    params=(*_ENTRY, IF_MATCH), errors=(400, 404, 412, 503), summary="Delete one config entry",
)
async def delete_entry(call: Call[None]) -> Reply:
    scope, key = _target(call)
    if_match = if_match_of(call)
    store = call.resolver.config_store
    if if_match is None and await store.get_entry(scope, key) is None:
        raise ApiError(404, "config_not_found", f"no config entry {key!r} in scope {scope}")
    async def landed() -> bool:
        return await store.get_entry(scope, key) is None

    try:
        async with completed_if_late(call, scope, "config.delete", location=call.url,
                                     landed=landed, key=key,
                                     conditional=if_match is not None):
            await _conditional(store.delete_entry(
                scope, key, if_match=if_match, actor=str(call.actor), actor_id=call.actor.id),
                scope, key)
    except ConcurrencyError:
        # a retry of a DELETE that was applied after all: the entry is gone, as asked
        if await store.get_entry(scope, key) is not None:
            raise
        return Reply(None, 204)
    await call.resolver.notify_change(scope)
    audit_write("config.delete", call.actor, scope, key=key, conditional=if_match is not None)
    return Reply(None, 204)

"""Secrets of an org or GLOBAL in Key Vault: list names (never values), create, update,
delete (refused while referenced, unless forced) and recover.

Every write invalidates the resolver's cache for that secret and leaves an audit
record. The value is echoed once, in the response to the create or update.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from shared.admin.catalog_bootstrap import ensure_catalog
from shared.admin.references import config_references, effective_entries
from shared.admin.secret_admin import (
    SecretAdmin,
    SecretInfo,
    SecretInUseError,
)
from shared.api.audit import audit_write, completed_if_late
from shared.api.errors import ApiError
from shared.api.models import (
    ConfigRef,
    DanglingRef,
    DeletedSecretList,
    DeletedSecretOut,
    SecretCreate,
    SecretDeleted,
    SecretEcho,
    SecretList,
    SecretRecovered,
    SecretRollback,
    SecretRolledBack,
    SecretSummary,
    SecretUpdate,
    SecretVersionOut,
    SecretVersions,
)
from shared.api.params import FORCE, SCOPE_QUERY, SECRET_NAME, SECRET_SCOPE
from shared.api.routing import Call, Reply, RouteTable
from shared.backends.catalog import expiry_state
from shared.core.naming import GLOBAL, canonical_scope, validate_secret_name
from shared.core.values import ConfigEntry

routes = RouteTable("secrets")

_SECRET = (SECRET_SCOPE, SECRET_NAME)
_VAULT_ERRORS = (400, 502, 503)


def _target(call: Call[Any]) -> tuple[str, str]:
    return canonical_scope(call.route.get("scope")), validate_secret_name(call.route.get("name"))


def _refs(entries: list[ConfigEntry]) -> list[ConfigRef]:
    return [ConfigRef(scope=e.scope, key=e.key) for e in entries]


def _flag(raw: str | None, name: str) -> bool:
    value = (raw or "false").strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no", ""):
        return False
    raise ApiError(400, "invalid_query", f"query parameter {name} must be true or false")


@routes.route(
    "GET", "secrets", name="secrets_list", access="admin", response=SecretList,
    params=(SCOPE_QUERY,), errors=_VAULT_ERRORS,
    summary="Names of the secrets of an org and GLOBAL, with the config keys referencing each",
)
async def list_secrets(call: Call[None]) -> SecretList:
    scope = _scope_query(call)
    admin = SecretAdmin(call.resolver)
    secrets = await admin.list_secrets(*{scope, GLOBAL})
    refs = [e for e in (await effective_entries(call.resolver, scope)).values()
            if e.is_secret_ref]
    names = {s.name.lower() for s in secrets}
    return SecretList(
        scope=scope,
        secrets=[_summary(s, [e for e in refs if e.value.lower() == s.name.lower()],
                          call.resolver.settings.expiry_warning_days)
                 for s in secrets],
        unresolved_references=[
            DanglingRef(scope=e.scope, key=e.key, secret_name=e.value)
            for e in sorted(refs, key=lambda e: (e.scope, e.key)) if e.value.lower() not in names
        ],
    )


def _summary(info: SecretInfo, refs: list[ConfigEntry], warning_days: float) -> SecretSummary:
    return SecretSummary(
        scope=info.scope, name=info.name, vault_name=info.vault_name, vault=info.vault,
        enabled=info.enabled,
        created_on=info.created_on, updated_on=info.updated_on, expires_on=info.expires_on,
        expiry=expiry_state(info.expires_on, datetime.now(UTC), warning_days),
        updated_by=info.updated_by, referenced_by=_refs(refs),
    )


def _echo(info: SecretInfo, value: SecretStr) -> SecretEcho:
    return SecretEcho(scope=info.scope, name=info.name, vault_name=info.vault_name,
                      vault=info.vault, version=info.version, value=value.get_secret_value())


@routes.route(
    "POST", "secrets", name="secrets_create", access="admin", body=SecretCreate,
    response=SecretEcho, status=201, errors=(*_VAULT_ERRORS, 404, 409),
    summary="Create a secret (409 if the name exists or is soft-deleted); echoes the value once",
)
async def create_secret(call: Call[SecretCreate]) -> Reply:
    scope, name = canonical_scope(call.body.scope), validate_secret_name(call.body.name)
    if scope != GLOBAL:
        await call.resolver.orgs.require(scope)
    async with completed_if_late(call, scope, "secret.create", secret=name, name=name):
        info = await SecretAdmin(call.resolver).create(
            scope, name, call.body.value, actor=str(call.actor),
            expires_on=call.body.expires_on)
    await call.resolver.notify_change(scope, secret=name)
    audit_write("secret.create", call.actor, scope, name=name, version=info.version)
    await ensure_catalog(call.resolver)  # the first secret of a deployment: catalog on
    return Reply(_echo(info, call.body.value), 201)


@routes.route(
    "PUT", "secrets/{scope}/{name}", name="secrets_update", access="admin", body=SecretUpdate,
    response=SecretEcho, params=_SECRET, errors=(*_VAULT_ERRORS, 404),
    summary="Set a new version of an existing secret (404 if absent); echoes the value once",
)
async def update_secret(call: Call[SecretUpdate]) -> Reply:
    scope, name = _target(call)
    async with completed_if_late(call, scope, "secret.update", secret=name, name=name):
        info = await SecretAdmin(call.resolver).update(
            scope, name, call.body.value, actor=str(call.actor),
            expires_on=call.body.expires_on)
    await call.resolver.notify_change(scope, secret=name)
    audit_write("secret.update", call.actor, scope, name=name, version=info.version)
    return Reply(_echo(info, call.body.value))


@routes.route(
    "DELETE", "secrets/{scope}/{name}", name="secrets_delete", access="admin",
    response=SecretDeleted, params=(*_SECRET, FORCE), errors=(*_VAULT_ERRORS, 404, 409),
    summary="Soft-delete a secret; 409 listing the referencing config entries unless force=true",
)
async def delete_secret(call: Call[None]) -> SecretDeleted:
    scope, name = _target(call)
    force = _flag(call.query.get("force"), "force")
    admin = SecretAdmin(call.resolver)
    if await admin.get(scope, name) is None:
        raise ApiError(404, "secret_not_found", f"secret {name!r} does not exist in {scope}")
    references = await config_references(call.resolver, scope, name)
    if references and not force:
        raise SecretInUseError(
            f"{len(references)} config entries reference secret {name!r} and would stop "
            "resolving; repoint or delete them, or repeat with ?force=true", references,
        )
    async with completed_if_late(call, scope, "secret.delete", secret=name, name=name,
                                 forced=bool(references), references=len(references)):
        deleted = await admin.delete(scope, name)
    await call.resolver.notify_change(scope, secret=name)
    audit_write("secret.delete", call.actor, scope, name=name, forced=bool(references),
                references=len(references))
    return SecretDeleted(
        scope=scope, name=name, vault_name=deleted.vault_name, recoverable=deleted.recoverable,
        scheduled_purge_date=deleted.scheduled_purge_date, forced=bool(references),
        references=_refs(references),
    )


@routes.route(
    "POST", "secrets/{scope}/{name}/recover", name="secrets_recover", access="admin",
    response=SecretRecovered, params=_SECRET, errors=(*_VAULT_ERRORS, 404, 409),
    summary="Recover a soft-deleted secret with its versions",
)
async def recover_secret(call: Call[None]) -> SecretRecovered:
    scope, name = _target(call)
    async with completed_if_late(call, scope, "secret.recover", secret=name, name=name):
        info = await SecretAdmin(call.resolver).recover(scope, name)
    await call.resolver.notify_change(scope, secret=name)
    audit_write("secret.recover", call.actor, scope, name=name)
    return SecretRecovered(scope=scope, name=name, vault_name=info.vault_name)


def _scope_query(call: Call[None]) -> str:
    raw = call.query.get("scope")
    if not raw:
        raise ApiError(400, "scope_required", "give ?scope={org_id} (or ?scope=GLOBAL)")
    return canonical_scope(raw)


@routes.route(
    "GET", "secrets/{scope}/{name}/versions", name="secrets_versions", access="admin",
    response=SecretVersions, params=_SECRET, errors=(*_VAULT_ERRORS, 404),
    summary="A secret's versions, newest first: created, enabled, expiry, by whom (no values)",
)
async def list_versions(call: Call[None]) -> SecretVersions:
    scope, name = _target(call)
    versions = await SecretAdmin(call.resolver).versions(scope, name)
    return SecretVersions(
        scope=scope, name=name, vault_name=versions[0].vault_name,
        versions=[SecretVersionOut(
            version=v.version or "", current=i == 0, enabled=v.enabled, created_on=v.created_on,
            updated_on=v.updated_on, expires_on=v.expires_on, updated_by=v.updated_by,
            rolled_back_from=v.rolled_back_from,
        ) for i, v in enumerate(versions)],
    )


@routes.route(
    "POST", "secrets/{scope}/{name}/rollback", name="secrets_rollback", access="admin",
    body=SecretRollback, response=SecretRolledBack, params=_SECRET,
    errors=(*_VAULT_ERRORS, 404),
    summary="Make an earlier version's value current again, as a new version; the value "
            "stays on the server",
)
async def rollback_secret(call: Call[SecretRollback]) -> SecretRolledBack:
    scope, name = _target(call)
    async with completed_if_late(call, scope, "secret.rollback", secret=name, name=name,
                                 restored_from=call.body.version):
        info = await SecretAdmin(call.resolver).rollback(scope, name, call.body.version,
                                                         actor=str(call.actor))
    await call.resolver.notify_change(scope, secret=name)
    audit_write("secret.rollback", call.actor, scope, name=name, version=info.version,
                restored_from=call.body.version)
    return SecretRolledBack(scope=scope, name=name, vault_name=info.vault_name,
                            version=info.version, restored_from=call.body.version)


@routes.route(
    "GET", "secrets/deleted", name="secrets_deleted", access="admin",
    response=DeletedSecretList, params=(SCOPE_QUERY,), errors=_VAULT_ERRORS,
    summary="Soft-deleted secrets of an org and GLOBAL, recoverable until their purge date",
)
async def list_deleted(call: Call[None]) -> DeletedSecretList:
    scope = _scope_query(call)
    found = await SecretAdmin(call.resolver).list_deleted(*{scope, GLOBAL})
    return DeletedSecretList(scope=scope, secrets=[
        DeletedSecretOut(scope=info.scope, name=info.name, vault_name=d.vault_name,
                         recoverable=d.recoverable, deleted_on=d.deleted_on,
                         scheduled_purge_date=d.scheduled_purge_date)
        for info, d in found
    ])

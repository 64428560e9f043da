"""Key Vault lifecycle for admins: list, create, update, delete, recover scoped secrets,
(the config entries that reference a secret: :mod:`shared.admin.references`).

Secrets live in the vault as ``{scope}--{name}`` (see :mod:`shared.core.naming`). Nothing
here returns a secret value: existence is checked by listing versions (metadata only),
and the value written by :meth:`SecretAdmin.create` / :meth:`SecretAdmin.update` is only
ever in the caller's hands.
Vault calls go through the secret store's ``call_vault`` (timeout and error mapping).

>>> admin = SecretAdmin(resolver)                               # doctest: +SKIP
>>> await admin.create("acme", "smtp-password", SecretStr("..."))
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.keyvault.secrets import SecretProperties
from pydantic import SecretStr

from shared.admin.catalog_sync import SecretCatalog
from shared.admin.health import record_vault_success
from shared.backends.vault_clients import vault_time
from shared.core.late import when_applied
from shared.core.naming import GLOBAL, canonical_scope, keyvault_name, split_keyvault_name
from shared.core.values import ConfigEntry
from shared.errors import ConfigError, SecretAccessError, WriteOutcomeUnknownError

if TYPE_CHECKING:
    from azure.keyvault.secrets.aio import SecretClient

    from shared.resolver import ConfigResolver

T = TypeVar("T")

#: Key Vault records no author: writes through the admin API and the CLI tag each new
#: version with who made it (an audit actor, never a value).
UPDATED_BY_TAG = "orgconfig-updated-by"
#: On a version made by :meth:`SecretAdmin.rollback`: the version whose value it copies.
ROLLED_BACK_FROM_TAG = "orgconfig-rolled-back-from"
_MAX_TAG_VALUE = 256


# -- errors ----------------------------------------------------------------------------------
class VaultNotConfiguredError(ConfigError):
    """AZURE_KEY_VAULT_URL is unset: this deployment keeps secrets in the environment only."""

    code = "vault_not_configured"


class SecretExistsError(ConfigError):
    """Create found an active secret of that name."""

    code = "secret_exists"


class SecretDeletedError(ConfigError):
    """The name belongs to a soft-deleted secret: recover it (or purge it in the vault)."""

    code = "secret_deleted"

    def __init__(self, message: str, deleted: DeletedSecretInfo) -> None:
        self.deleted = deleted
        super().__init__(message)


class SecretAbsentError(ConfigError, KeyError):
    """No active secret of that name (it may be soft-deleted: see ``deleted``)."""

    code = "secret_not_found"

    def __init__(self, message: str, deleted: DeletedSecretInfo | None = None) -> None:
        self.deleted = deleted
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


class SecretInUseError(ConfigError):
    """Delete refused: config entries still reference the secret."""

    code = "secret_in_use"

    def __init__(self, message: str, references: list[ConfigEntry]) -> None:
        self.references = references
        super().__init__(message)


# -- results ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SecretInfo:
    """A secret's metadata (never its value)."""

    scope: str
    name: str
    vault_name: str
    enabled: bool | None = None
    version: str | None = None
    created_on: datetime | None = None
    updated_on: datetime | None = None
    expires_on: datetime | None = None
    #: from the ``orgconfig-updated-by`` tag: None when written outside orgconfig
    updated_by: str | None = None
    rolled_back_from: str | None = None
    #: the vault holding it: ``default`` (AZURE_KEY_VAULT_URL) or a shard's name
    vault: str = "default"


@dataclass(frozen=True)
class DeletedSecretInfo:
    vault_name: str
    recoverable: bool
    scheduled_purge_date: datetime | None = None
    deleted_on: datetime | None = None


def _info(scope: str, name: str, props: SecretProperties, vault: str) -> SecretInfo:
    tags = props.tags or {}
    return SecretInfo(
        scope, name, props.name or keyvault_name(scope, name), props.enabled, props.version,
        vault_time(props.created_on), vault_time(props.updated_on),
        vault_time(props.expires_on), tags.get(UPDATED_BY_TAG),
        tags.get(ROLLED_BACK_FROM_TAG), vault,
    )


def _tags(actor: str | None, **more: str) -> dict[str, str] | None:
    tags = {UPDATED_BY_TAG: actor[:_MAX_TAG_VALUE]} if actor else {}
    tags.update(more)
    return tags or None


def _newest_first(versions: list[SecretProperties]) -> list[SecretProperties]:
    return sorted(versions, key=lambda v: v.created_on or datetime.min.replace(tzinfo=UTC),
                  reverse=True)


class SecretAdmin:
    """Admin operations on the vault of one resolver."""

    def __init__(self, resolver: ConfigResolver) -> None:
        self.resolver = resolver
        self.store = resolver.secret_store
        #: every write here updates the secret catalog after the vault (shared.admin.catalog_sync)
        self.catalog = SecretCatalog(resolver)
        if not self.store.vault_configured:
            raise VaultNotConfiguredError(
                "no Key Vault is configured (AZURE_KEY_VAULT_URL is unset): this deployment "
                "reads secrets from environment variables, which the API cannot manage"
            )

    def _client(self, scope: str) -> SecretClient:
        """The client of ``scope``'s vault (:mod:`shared.backends.vaults`)."""
        return self.store.vault_for(scope).client

    def _vault(self, scope: str) -> str:
        """The name of ``scope``'s vault."""
        return self.store.vault_for(scope).name

    async def _call(self, what: str, op: Callable[[], Awaitable[T]], scope: str, *,
                    write: bool = False) -> T:
        """``op`` on ``scope``'s vault, through that vault's breaker and error mapping (a
        ``write`` left running at the time bound: :class:`WriteOutcomeUnknownError`)."""
        vault = self.store.vault_for(scope)
        try:
            result = await vault.call(what, op, write=write)
        except SecretAccessError as exc:
            if exc.reason != "permission":
                raise
            raise SecretAccessError(
                f"Key Vault refused {what} (403): grant the Function App's identity "
                "'Key Vault Secrets Officer' (RBAC) or get/list/set/delete/recover secret "
                "permissions (access policy)", "permission",
            ) from None
        record_vault_success(vault.url)
        return result

    async def _write(self, what: str, scope: str, name: str, op: Callable[[], Awaitable[T]],
                     properties: Callable[[T], SecretProperties | None]) -> T:
        """A vault write, then the catalog's row for it; a write the vault answers late
        still updates the catalog when it lands (:mod:`shared.core.late`)."""
        try:
            result = await self._call(what, op, scope, write=True)
        except WriteOutcomeUnknownError as exc:
            when_applied(exc.pending,
                         lambda late: self.catalog.after_write(scope, name, properties(late)),
                         what)
            raise
        await self.catalog.after_write(scope, name, properties(result))
        return result

    # -- reads -------------------------------------------------------------------------------
    async def list_secrets(self, *scopes: str) -> list[SecretInfo]:
        """Every active secret of the given scopes, sorted by scope then name. Each scope's
        vault is listed (once per vault); a name of a scope that another vault holds (a
        copy left in the vault an org moved from) is not that scope's secret."""
        found = []
        for vault, in_vault in self._by_vault(scopes).items():
            client = self.store.vaults.named(vault).client

            async def collect(client: SecretClient = client) -> list[SecretProperties]:
                return [p async for p in client.list_properties_of_secrets()]

            for props in await self._call("listing secrets", collect, next(iter(in_vault))):
                parts = split_keyvault_name(props.name or "")
                if parts is not None and parts[0] in in_vault:
                    found.append(_info(parts[0], parts[1], props, vault))
        return sorted(found, key=lambda s: (s.scope != GLOBAL, s.scope, s.name.lower()))

    def _by_vault(self, scopes: tuple[str, ...]) -> dict[str, set[str]]:
        """The canonical scopes grouped by the name of the vault holding them."""
        by_vault: dict[str, set[str]] = {}
        for scope in {canonical_scope(s) for s in scopes}:
            by_vault.setdefault(self._vault(scope), set()).add(scope)
        return by_vault

    async def _version_properties(self, scope: str, full: str) -> list[SecretProperties]:
        """Every version's metadata of the full name ``full`` in ``scope``'s vault (an
        empty list when no active secret has that name)."""

        async def collect() -> list[SecretProperties]:
            try:
                return [v async for v in
                        self._client(scope).list_properties_of_secret_versions(full)]
            except ResourceNotFoundError:
                return []

        return await self._call(f"listing versions of {full}", collect, scope)

    async def get(self, scope: str, name: str) -> SecretInfo | None:
        """The latest version's metadata, or None when no active secret has that name."""
        scope, full = canonical_scope(scope), keyvault_name(scope, name)
        found = await self._version_properties(scope, full)
        if not found:
            return None
        return _info(scope, name, _newest_first(found)[0], self._vault(scope))

    async def versions(self, scope: str, name: str) -> list[SecretInfo]:
        """Every version's metadata, newest first; :class:`SecretAbsentError` if absent."""
        scope, full = canonical_scope(scope), keyvault_name(scope, name)
        found = await self._version_properties(scope, full)
        if not found:
            raise SecretAbsentError(f"secret {full} does not exist")
        # Timestamps have one-second resolution, so two versions written in one second
        # tie: the vault's own answer says which one reads return.
        current = await self._current_version(scope, full)
        ordered = sorted(_newest_first(found), key=lambda v: v.version != current)
        return [_info(scope, name, v, self._vault(scope)) for v in ordered]

    async def _current_version(self, scope: str, full: str) -> str | None:
        """The version id reads return (None if that version is disabled). Key Vault has
        no metadata-only read of the latest version: the value arrives in the SDK's result
        and is dropped here."""
        try:
            secret = await self._call(f"reading {full}",
                                      lambda: self._client(scope).get_secret(full), scope)
        except (SecretAccessError, ResourceNotFoundError):
            return None
        return secret.properties.version

    async def list_deleted(self, *scopes: str) -> list[tuple[SecretInfo, DeletedSecretInfo]]:
        """The soft-deleted secrets of the given scopes (recoverable until their purge date)."""
        found = []
        for vault, in_vault in self._by_vault(scopes).items():
            client = self.store.vaults.named(vault).client

            async def collect(client: SecretClient = client) -> list[Any]:
                return [d async for d in client.list_deleted_secrets()]

            listing = await self._call("listing deleted secrets", collect, next(iter(in_vault)))
            for deleted in listing:
                parts = split_keyvault_name(deleted.name or "")
                if parts is not None and parts[0] in in_vault:
                    found.append((_info(parts[0], parts[1], deleted.properties, vault),
                                  DeletedSecretInfo(
                                      deleted.name or "", bool(deleted.recovery_id),
                                      deleted.scheduled_purge_date, deleted.deleted_date,
                                  )))
        return sorted(found, key=lambda d: (d[0].scope != GLOBAL, d[0].scope, d[0].name.lower()))

    async def get_deleted(self, scope: str, name: str) -> DeletedSecretInfo | None:
        """The soft-deleted secret of that name, or None."""
        full = keyvault_name(scope, name)
        try:
            deleted = await self._call(
                f"reading deleted secret {full}",
                lambda: self._client(scope).get_deleted_secret(full), scope,
            )
        except ResourceNotFoundError:
            return None
        return DeletedSecretInfo(full, bool(deleted.recovery_id), deleted.scheduled_purge_date)

    # -- writes ------------------------------------------------------------------------------
    async def create(
        self, scope: str, name: str, value: SecretStr, *, actor: str | None = None,
        expires_on: datetime | None = None,
    ) -> SecretInfo:
        """A new secret; :class:`SecretExistsError` or :class:`SecretDeletedError` if the
        name is taken. (Key Vault has no create-if-absent: two racing creates both win.)"""
        scope, full = canonical_scope(scope), keyvault_name(scope, name)
        if await self.get(scope, name) is not None:
            raise SecretExistsError(
                f"secret {full} already exists; change its value with PUT secrets/{scope}/{name}"
            )
        try:
            return await self.put(scope, name, value, actor=actor, expires_on=expires_on)
        except ResourceExistsError:
            raise await self._deleted_conflict(scope, name) from None

    async def update(
        self, scope: str, name: str, value: SecretStr, *, actor: str | None = None,
        expires_on: datetime | None = None,
    ) -> SecretInfo:
        """A new version of an existing secret; :class:`SecretAbsentError` otherwise."""
        scope, full = canonical_scope(scope), keyvault_name(scope, name)
        if await self.get(scope, name) is None:
            deleted = await self.get_deleted(scope, name)
            hint = (f"; it is soft-deleted: POST secrets/{scope}/{name}/recover restores it"
                    if deleted else "; create it with POST secrets")
            raise SecretAbsentError(f"secret {full} does not exist{hint}", deleted)
        return await self.put(scope, name, value, actor=actor, expires_on=expires_on)

    async def put(
        self, scope: str, name: str, value: SecretStr, *, actor: str | None = None,
        expires_on: datetime | None = None, tags: dict[str, str] | None = None,
    ) -> SecretInfo:
        """Write a new version whether or not the secret exists (the CLI's ``secret set``),
        tagged with ``actor`` (who wrote it)."""
        scope, full = canonical_scope(scope), keyvault_name(scope, name)
        secret = await self._write(
            f"setting secret {full}", scope, name,
            lambda: self._client(scope).set_secret(
                full, value.get_secret_value(), tags=_tags(actor, **(tags or {})),
                expires_on=expires_on,
            ), lambda written: written.properties,
        )
        return _info(scope, name, secret.properties, self._vault(scope))

    async def rollback(self, scope: str, name: str, version: str, *, actor: str | None = None
                       ) -> SecretInfo:
        """Make ``version``'s value current again as a new version (Key Vault has no
        "current version" pointer). The value is read and written here, never returned;
        a still-future expiry is kept. :class:`SecretAbsentError` if there is no such
        version; a disabled version is refused by the vault (:class:`SecretAccessError`)."""
        scope, full = canonical_scope(scope), keyvault_name(scope, name)
        known = {v.version: v for v in await self.versions(scope, name)}
        if version not in known:
            raise SecretAbsentError(f"secret {full} has no version {version!r}")
        old = await self._call(f"reading a version of {full}",
                               lambda: self._client(scope).get_secret(full, version), scope)
        expires = vault_time(old.properties.expires_on)
        if expires is not None and expires <= datetime.now(UTC):
            expires = None
        return await self.put(scope, name, SecretStr(old.value or ""), actor=actor,
                              expires_on=expires, tags={ROLLED_BACK_FROM_TAG: version})

    async def _deleted_conflict(self, scope: str, name: str) -> ConfigError:
        full = keyvault_name(scope, name)
        deleted = await self.get_deleted(scope, name)
        if deleted is None:
            return SecretExistsError(f"Key Vault reports a conflict on {full}; retry")
        return SecretDeletedError(
            f"secret {full} was deleted and is recoverable until its purge date: "
            f"POST secrets/{scope}/{name}/recover restores it (with its versions); "
            "to reuse the name with a new value, recover it and then PUT a new value",
            deleted,
        )

    async def delete(self, scope: str, name: str) -> DeletedSecretInfo:
        """Soft-delete a secret (every version); :class:`SecretAbsentError` if absent."""
        scope, full = canonical_scope(scope), keyvault_name(scope, name)

        async def delete() -> Any:
            # The SDK polls until the deletion is visible; no secret value is read.
            return await self._client(scope).delete_secret(full)

        try:
            deleted = await self._write(f"deleting secret {full}", scope, name, delete,
                                        lambda _: None)
        except ResourceNotFoundError:
            raise SecretAbsentError(f"secret {full} does not exist") from None
        return DeletedSecretInfo(full, bool(deleted.recovery_id), deleted.scheduled_purge_date)

    async def recover(self, scope: str, name: str) -> SecretInfo:
        """Recover a soft-deleted secret; :class:`SecretAbsentError` if none is deleted."""
        scope, full = canonical_scope(scope), keyvault_name(scope, name)
        try:
            # The SDK confirms the recovery by polling get_secret: the value reaches this
            # process inside the SDK's result and is dropped; only metadata is returned.
            props = await self._write(
                f"recovering secret {full}", scope, name,
                lambda: self._client(scope).recover_deleted_secret(full), lambda p: p,
            )
        except ResourceNotFoundError:
            raise SecretAbsentError(f"no deleted secret named {full} to recover") from None
        return _info(scope, name, props, self._vault(scope))

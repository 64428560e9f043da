"""Moving an org's secrets from one vault to another (``python -m shared.cli move-org``).

Three steps, because the mapping is a setting (``AZURE_KEY_VAULT_ORG_VAULTS``), never table
data, so this code cannot switch it:

1. :meth:`OrgMove.copy`: every ``{org}--name`` of the org's current vault is read (the
   current version's value) and written to the target vault with its enabled flag, expiry,
   activation date, content type and tags; then each copy is read back and compared.
   A different value already in the target is left alone (a conflict) unless
   ``overwrite``. Older versions are not copied.
2. The operator switches the setting (:func:`mapping_after_move` gives the exact value).
3. :meth:`OrgMove.delete_source`, only once the settings map the org to the target:
   soft-deletes the copies left in the old vault (recoverable for the vault's retention),
   except a copy whose value differs from the target's and is newer (a write that reached
   the old vault after the copy: copy again first).

Why get/set and not Key Vault's backup/restore: a real vault restores a backup only into a
vault of the same subscription and geography, and refuses a name that exists in it, even
soft-deleted; a backup also carries every version. Get/set works between any two vaults
the identity can read and write, and lets the copy be compared value by value.

No value is ever logged, printed or returned: reports carry names and outcomes only.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from pydantic import SecretStr

from shared.backends.vaults import DEFAULT_VAULT, Vault, vault_name_for
from shared.core.naming import GLOBAL, canonical_org_id, split_keyvault_name
from shared.errors import ConfigError, SecretAccessError
from shared.settings import ORG_VAULTS, Settings

if TYPE_CHECKING:
    from azure.keyvault.secrets import KeyVaultSecret, SecretProperties

    from shared.resolver import ConfigResolver

T = TypeVar("T")
Outcome = Literal["copied", "same", "overwritten", "conflict", "skipped", "failed",
                  "deleted", "kept"]


@dataclass(frozen=True)
class MoveItem:
    """What happened to one secret (its full name; never its value)."""

    name: str
    outcome: Outcome
    reason: str = ""


@dataclass
class MoveReport:
    """The outcome of one step: ``ok`` when every secret was copied and verified (or,
    when deleting, every source copy was deleted)."""

    org: str
    source: str
    target: str
    items: list[MoveItem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(i.outcome in ("copied", "same", "overwritten", "deleted") for i in self.items)

    def count(self, *outcomes: Outcome) -> int:
        return sum(1 for i in self.items if i.outcome in outcomes)


class MoveRefusedError(ConfigError):
    """A move step that must not run now (wrong vault, mapping not switched yet, ...)."""

    code = "move_refused"


def mapping_after_move(settings: Settings, org: str, target: str) -> str:
    """The value ``AZURE_KEY_VAULT_ORG_VAULTS`` must have once ``org`` lives in ``target``
    (compact JSON, sorted; ``{}`` when no org is mapped any more)."""
    mapping = dict(settings.key_vault_org_vaults)
    mapping.pop(org, None)
    if target != DEFAULT_VAULT:
        mapping[org] = target
    return json.dumps(dict(sorted(mapping.items())), separators=(",", ":"))


class OrgMove:
    """Copies one org's secrets to ``target`` (a vault name: ``default`` or a shard's)."""

    def __init__(self, resolver: ConfigResolver, org: str, target: str) -> None:
        if not isinstance(org, str) or org.strip().lower() == "global":
            raise MoveRefusedError(
                "GLOBAL's secrets always live in the default vault (AZURE_KEY_VAULT_URL); "
                "only an org can move"
            )
        self.resolver = resolver
        self.org = canonical_org_id(org)
        vaults = resolver.secret_store.vaults
        if not resolver.settings.key_vault_url:
            raise MoveRefusedError("no Key Vault is configured (AZURE_KEY_VAULT_URL is unset)")
        self.target = vaults.named(target)
        self.current = vaults.named(vault_name_for(resolver.settings, self.org))

    # -- step 1 ------------------------------------------------------------------------------
    async def copy(self, *, overwrite: bool = False) -> MoveReport:
        """Copy the org's secrets from its current vault to the target, then verify."""
        source, target = self.current, self.target
        if source.name == target.name:
            raise MoveRefusedError(
                f"org {self.org!r} already lives in vault {target.name!r} "
                f"({ORG_VAULTS}); after switching, remove the old copies with "
                f"`move-org {self.org} --to {target.name} --from OLD_VAULT --delete-source`"
            )
        report = MoveReport(self.org, source.name, target.name)
        for props in await self._org_secrets(source):
            report.items.append(await self._copy_one(props, overwrite))
        return report

    async def _copy_one(self, props: SecretProperties, overwrite: bool) -> MoveItem:
        name = str(props.name)
        if props.enabled is False:
            return MoveItem(name, "skipped", "disabled in the source vault (Key Vault returns "
                            "no value of a disabled version): enable it and copy again")
        try:
            secret = await _call(self.current, f"reading {name}",
                                 lambda: self.current.client.get_secret(name))
        except (ResourceNotFoundError, SecretAccessError) as exc:
            return MoveItem(name, "failed", f"cannot read it in the source vault: {exc}")
        value = SecretStr(secret.value or "")
        existing = await self._read_target(name)
        if isinstance(existing, str):
            return MoveItem(name, "conflict", existing)
        if existing is not None and existing.value == value.get_secret_value():
            return MoveItem(name, "same", "already in the target vault with this value")
        if existing is not None and not overwrite:
            return MoveItem(name, "conflict", "the target vault has a different value; "
                            "give --overwrite to replace it")
        outcome: Outcome = "copied" if existing is None else "overwritten"
        try:
            await _call(self.target, f"writing {name}", lambda: self.target.client.set_secret(
                name, value.get_secret_value(), **_attributes(secret.properties)))
        except ResourceExistsError:
            return MoveItem(name, "conflict", "a deleted secret of this name is in the target "
                            "vault: recover or purge it there first")
        check = await self._read_target(name)
        if isinstance(check, str) or check is None or \
                check.value != value.get_secret_value() or \
                _attributes(check.properties) != _attributes(secret.properties):
            return MoveItem(name, "failed", "the copy read back differs from the source")
        return MoveItem(name, outcome)

    async def _read_target(self, name: str) -> KeyVaultSecret | str | None:
        """The target's current version, None when absent, or why it cannot be compared."""
        try:
            return await _call(self.target, f"reading {name}",
                               lambda: self.target.client.get_secret(name))
        except ResourceNotFoundError:
            return None
        except SecretAccessError as exc:
            if exc.reason == "disabled":
                return "disabled in the target vault: enable it or delete it there first"
            raise

    # -- step 3 ------------------------------------------------------------------------------
    async def delete_source(self, source_name: str) -> MoveReport:
        """Soft-delete the copies left in ``source_name`` once the settings map the org to
        the target (each only when the target has it with the same value or a newer one)."""
        source = self.resolver.secret_store.vaults.named(source_name)
        if self.current.name != self.target.name:
            mapping = mapping_after_move(self.resolver.settings, self.org, self.target.name)
            raise MoveRefusedError(
                f"{ORG_VAULTS} still maps org {self.org!r} to vault {self.current.name!r}: "
                f"switch it to {mapping} first (the app must read the new vault before the "
                "old copies go)"
            )
        if source.name == self.target.name:
            raise MoveRefusedError(f"--from {source.name} is the org's vault now: nothing to "
                                   "delete there")
        report = MoveReport(self.org, source.name, self.target.name)
        for props in await self._org_secrets(source):
            report.items.append(await self._delete_one(source, props))
        return report

    async def _delete_one(self, source: Vault, props: SecretProperties) -> MoveItem:
        name = str(props.name)
        target = await self._read_target(name)
        if target is None or isinstance(target, str):
            why = "not in the target vault" if target is None else target
            return MoveItem(name, "kept", f"{why}: copy it first")
        if props.enabled is not False:
            try:
                old = await _call(source, f"reading {name}",
                                  lambda: source.client.get_secret(name))
            except ResourceNotFoundError:
                return MoveItem(name, "deleted", "already gone")
            old_at, new_at = old.properties.updated_on, target.properties.updated_on
            if old.value != target.value and (old_at is None or new_at is None or
                                              old_at > new_at):
                return MoveItem(name, "kept", "the old vault has a newer, different value "
                                "(written after the copy): copy again with --overwrite first")
        try:
            await _call(source, f"deleting {name}", lambda: source.client.delete_secret(name))
        except ResourceNotFoundError:
            return MoveItem(name, "deleted", "already gone")
        return MoveItem(name, "deleted")

    # -- helpers -----------------------------------------------------------------------------
    async def _org_secrets(self, vault: Vault) -> list[SecretProperties]:
        """The org's secrets in ``vault`` (metadata only), sorted by name."""

        async def collect() -> list[SecretProperties]:
            found = []
            async for props in vault.client.list_properties_of_secrets():
                parts = split_keyvault_name(props.name or "")
                if parts is not None and parts[0] == self.org and parts[0] != GLOBAL:
                    found.append(props)
            return sorted(found, key=lambda p: str(p.name).lower())

        return await _call(vault, f"listing secrets of {self.org}", collect)


def _attributes(props: SecretProperties) -> dict[str, Any]:
    """What a copy keeps besides the value."""
    return {"enabled": props.enabled, "expires_on": props.expires_on,
            "not_before": props.not_before, "content_type": props.content_type,
            "tags": props.tags or None}


async def _call(vault: Vault, what: str, op: Callable[[], Awaitable[T]]) -> T:
    try:
        return await vault.call(f"{what} in vault {vault.name!r}", op)
    except HttpResponseError as exc:
        if isinstance(exc, ResourceNotFoundError | ResourceExistsError):
            raise
        raise ConfigError(f"vault {vault.name!r} refused {what} (HTTP {exc.status_code})") \
            from None

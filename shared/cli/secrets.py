"""``secret set|list|delete|versions|rollback|recover``: Key Vault secrets from the command
line, the admin API's secret verbs. Values come from stdin or a hidden prompt, never from the
command line, and none is ever printed (names, versions and metadata only)."""

from __future__ import annotations

import argparse
import getpass
from datetime import UTC, datetime
from typing import TextIO

from pydantic import SecretStr

from shared.admin.references import config_references, effective_entries
from shared.admin.secret_admin import SecretAdmin, SecretInfo
from shared.backends.catalog import expiry_state
from shared.cli.common import MASK, cli_actor, print_warnings, read_secret_value
from shared.core.audit import audit_write
from shared.core.naming import GLOBAL, canonical_scope, keyvault_name, validate_secret_name
from shared.core.values import ConfigEntry
from shared.errors import ConfigError
from shared.resolver import ConfigResolver


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The ``secret`` command's parser."""
    secret = sub.add_parser("secret", help="manage Key Vault secrets (values never shown)",
                            description="Key Vault secrets of an org or GLOBAL. Values are "
                                        "read from stdin or a hidden prompt and never shown.")
    secret_sub = secret.add_subparsers(dest="subcommand", required=True, metavar="COMMAND",
                                       help="one of these; COMMAND --help for more")

    def verb(name: str, text: str, *, named: bool = True) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = secret_sub.add_parser(
            name, help=text, description=text[0].upper() + text[1:])
        if named:
            parser.add_argument("scope", help="org id or GLOBAL")
            parser.add_argument("name", help="bare secret name, e.g. smtp-password")
        return parser

    verb("set", "set a secret, a new version if it exists (value from stdin or a prompt)")
    lst = verb("list", "secret names, vault names, enabled and expiry, and the config keys "
                       "resolving to each (never values)", named=False)
    lst.add_argument("--scope", help="an org: its secrets and GLOBAL's, as that org sees them "
                                     "(default: GLOBAL's)")
    delete = verb("delete", "soft-delete a secret (refused while config entries resolve to "
                            "it, unless --force)")
    delete.add_argument("--force", action="store_true",
                        help="delete even though config entries resolve to it")
    verb("versions", "a secret's versions, newest first (no values)")
    rollback = verb("rollback", "make an earlier version's value current again, as a new "
                                "version (the value is not shown)")
    rollback.add_argument("version", help="version id, from `secret versions`")
    verb("recover", "recover a soft-deleted secret with its versions")


def _shown(resolver: ConfigResolver, info: SecretInfo) -> str:
    return info.vault_name if not resolver.settings.key_vault_shards else \
        f"{info.vault_name} (vault {info.vault!r})"


async def set_secret(resolver: ConfigResolver, scope: str, name: str, value: str) -> str:
    """Write a secret (a new version if it exists) and tell every instance."""
    info = await SecretAdmin(resolver).put(scope, name, SecretStr(value),
                                           actor=f"cli:{getpass.getuser()}")
    await resolver.notify_change(info.scope, secret=info.name)
    audit_write("secret.put", cli_actor(), info.scope, name=info.name, vault=info.vault,
                via="cli")
    return _shown(resolver, info)


async def resolving_references(resolver: ConfigResolver, admin: SecretAdmin, scope: str,
                               name: str) -> list[ConfigEntry]:
    """The ``secret_ref`` entries that resolve to secret ``name`` of ``scope``:
    :func:`config_references`, less (for a GLOBAL secret) the entries of orgs that have their
    own secret of that name, which never reach GLOBAL's."""
    refs = await config_references(resolver, scope, name)
    orgs = {e.scope for e in refs if e.scope != GLOBAL}
    if scope != GLOBAL or not orgs:
        return refs
    own = {s.scope for s in await admin.list_secrets(*orgs) if s.name.lower() == name.lower()}
    return [e for e in refs if e.scope not in own]


def _entries(refs: list[ConfigEntry]) -> str:
    return ", ".join(f"{e.scope}/{e.key}" for e in sorted(refs, key=lambda e: (e.scope, e.key)))


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="minutes") if value else "?"


async def cmd_secret(resolver: ConfigResolver, args: argparse.Namespace, out: TextIO,
                     stdin: TextIO, err: TextIO) -> int:
    if args.subcommand == "list":
        return await _list(resolver, args.scope, out, err)
    scope, name = canonical_scope(args.scope), validate_secret_name(args.name)
    if args.subcommand == "set":
        value = read_secret_value(stdin)
        full_name = await set_secret(resolver, scope, name, value)
        print(f"set secret {full_name} = {MASK}", file=out)
        return 0
    admin = SecretAdmin(resolver)
    if args.subcommand == "delete":
        return await _delete(resolver, admin, scope, name, args.force, out, err)
    if args.subcommand == "versions":
        return _versions(await admin.versions(scope, name), out)
    actor = cli_actor()
    if args.subcommand == "rollback":
        info = await admin.rollback(scope, name, args.version, actor=str(actor))
        await resolver.notify_change(scope, secret=name)
        audit_write("secret.rollback", actor, scope, name=name, version=info.version,
                    restored_from=args.version, via="cli")
        print(f"rolled back secret {_shown(resolver, info)} to version {args.version}: new "
              f"version {info.version} = {MASK}", file=out)
        return 0
    info = await admin.recover(scope, name)
    await resolver.notify_change(scope, secret=name)
    audit_write("secret.recover", actor, scope, name=name, via="cli")
    print(f"recovered secret {_shown(resolver, info)} with its versions", file=out)
    return 0


async def _list(resolver: ConfigResolver, raw_scope: str | None, out: TextIO,
                err: TextIO) -> int:
    """One line per secret; each config entry is listed under the secret it resolves to
    (an org's own secret before GLOBAL's)."""
    admin = SecretAdmin(resolver)
    scope = canonical_scope(raw_scope) if raw_scope else GLOBAL
    secrets = await admin.list_secrets(*{scope, GLOBAL})
    found = {(s.scope, s.name.lower()) for s in secrets}
    used_by: dict[tuple[str, str], list[ConfigEntry]] = {}
    unresolved: list[ConfigEntry] = []
    if scope == GLOBAL:
        for info in secrets:
            used_by[(GLOBAL, info.name.lower())] = await resolving_references(
                resolver, admin, GLOBAL, info.name)
    for entry in (await effective_entries(resolver, scope)).values():
        if not entry.is_secret_ref:
            continue
        name = entry.value.lower()
        target = next((s for s in (scope, GLOBAL) if (s, name) in found), None)
        if target is None:
            unresolved.append(entry)
        elif scope != GLOBAL:
            used_by.setdefault((target, name), []).append(entry)
    now, days = datetime.now(UTC), resolver.settings.expiry_warning_days
    for info in secrets:
        expiry = f"expires {_when(info.expires_on)}" if info.expires_on else "no expiry"
        state = expiry_state(info.expires_on, now, days)
        refs = used_by.get((info.scope, info.name.lower()), [])
        print(f"{info.scope} {info.name}  {_shown(resolver, info)}  "
              f"{'enabled' if info.enabled is not False else 'DISABLED'}  {expiry}"
              f"{f' ({state.upper()})' if state else ''}  used by: {_entries(refs) or 'none'}",
              file=out)
    seen = "GLOBAL" if scope == GLOBAL else f"{scope} and GLOBAL, as {scope} sees them"
    print(f"{len(secrets)} secrets of {seen} (values are never shown)", file=out)
    print_warnings([f"{e.scope}/{e.key} refers to secret {e.value!r}, which is in the vault "
                    f"neither for {scope} nor GLOBAL" if scope != GLOBAL else
                    f"{e.scope}/{e.key} refers to secret {e.value!r}, which GLOBAL's vault "
                    "does not hold" for e in sorted(unresolved, key=lambda e: e.key)], err)
    return 0


async def _delete(resolver: ConfigResolver, admin: SecretAdmin, scope: str, name: str,
                  force: bool, out: TextIO, err: TextIO) -> int:
    full = keyvault_name(scope, name)
    if await admin.get(scope, name) is None:
        deleted = await admin.get_deleted(scope, name)
        hint = f"; it is soft-deleted: `secret recover {scope} {name}` restores it" \
            if deleted else ""
        raise ConfigError(f"secret {full} does not exist{hint}; nothing was deleted")
    refs = await resolving_references(resolver, admin, scope, name)
    if refs and not force:
        raise ConfigError(f"{len(refs)} config entries resolve to secret {full} and would stop "
                          f"resolving: {_entries(refs)}; repoint or delete them, or repeat "
                          "with --force; nothing was deleted")
    deleted = await admin.delete(scope, name)
    await resolver.notify_change(scope, secret=name)
    audit_write("secret.delete", cli_actor(), scope, name=name, forced=bool(refs),
                references=len(refs), via="cli")
    until = f" until {_when(deleted.scheduled_purge_date)}" \
        if deleted.scheduled_purge_date else ""
    print(f"deleted secret {full} (soft delete: `secret recover {scope} {name}` restores it"
          f"{until})" if deleted.recoverable else f"deleted secret {full} (not recoverable)",
          file=out)
    if refs:
        print_warnings([f"these entries no longer resolve to {full}: {_entries(refs)}"], err)
    return 0


def _versions(versions: list[SecretInfo], out: TextIO) -> int:
    print(f"{versions[0].vault_name}: {len(versions)} versions, newest first (values are "
          "never shown)", file=out)
    for i, v in enumerate(versions):
        extra = "".join((
            f"  expires {_when(v.expires_on)}" if v.expires_on else "",
            f"  by {v.updated_by}" if v.updated_by else "",
            f"  rolled back from {v.rolled_back_from}" if v.rolled_back_from else "",
        ))
        print(f"  {'current' if i == 0 else '       '}  {v.version}  created "
              f"{_when(v.created_on)}  {'enabled' if v.enabled is not False else 'DISABLED'}"
              f"{extra}", file=out)
    return 0

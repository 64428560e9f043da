"""Admin and developer CLI: ``python -m shared.cli {get,set,list,secret,import,catalog,doctor,
move-org}``.

Settings come from the environment, or from a ``local.settings.json`` given with
``--settings``. Secret values are read from stdin or a hidden prompt, never from
the command line (where shell history and ``ps`` would see them), and are masked
in every output.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from pydantic import SecretStr

from shared.admin.catalog_sync import ExpiringSecret, SecretCatalog
from shared.admin.reference_check import reference_warnings
from shared.admin.secret_admin import SecretAdmin
from shared.backends.secret_store import uses_local_vault
from shared.cli.vaults import add_move_parser, cmd_move_org, doctor_vaults
from shared.core.audit import Actor, audit_write
from shared.core.naming import canonical_scope, validate_config_key, validate_secret_name
from shared.core.values import VALUE_TYPES, ConfigEntry, ValueType, parse_value, validate_value
from shared.errors import ConfigError, ConfigValueError, InvalidNameError
from shared.resolver import ConfigResolver
from shared.settings import CA_FILE_SETTING, Settings

MASK = "********"


def load_settings_file(path: Path) -> dict[str, str]:
    """The ``Values`` of a Functions ``local.settings.json``.

    A relative ``AZURE_KEY_VAULT_CA_FILE`` is taken relative to the file's folder (as
    ``func start``, which runs there, would), so the CLI works from any directory.
    """
    try:
        values = json.loads(path.read_text())["Values"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read Values from {path}: {exc.__class__.__name__}") from None
    values = {str(k): str(v) for k, v in values.items()}
    ca_file = values.get(CA_FILE_SETTING)
    if ca_file and not Path(ca_file).is_absolute():
        values[CA_FILE_SETTING] = str(path.resolve().parent / ca_file)
    return values


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared.cli", description=__doc__)
    parser.add_argument("--settings", type=Path, help="read settings from local.settings.json")
    sub = parser.add_subparsers(dest="command", required=True)

    get = sub.add_parser("get", help="resolve a key for an org (secrets masked)")
    get.add_argument("org")
    get.add_argument("key")
    get.add_argument("--explain", action="store_true", help="show where the value comes from")

    lst = sub.add_parser("list", help="list the entries of an org or GLOBAL")
    lst.add_argument("scope")

    put = sub.add_parser("set", help="create or replace a config entry")
    put.add_argument("scope", help="org id or GLOBAL")
    put.add_argument("key")
    put.add_argument("value", help="for --type secret_ref: the bare secret name")
    put.add_argument("--type", default="string", dest="value_type", choices=VALUE_TYPES,
                     help="how the value is parsed when read (default: string)")
    put.add_argument("--description")

    secret = sub.add_parser("secret", help="manage Key Vault secrets")
    secret_sub = secret.add_subparsers(dest="secret_command", required=True)
    sset = secret_sub.add_parser("set", help="set a secret (value from stdin or a prompt)")
    sset.add_argument("scope", help="org id or GLOBAL")
    sset.add_argument("name", help="bare secret name, e.g. smtp-password")

    imp = sub.add_parser("import", help="import orgs, entries and secrets from a JSON file")
    imp.add_argument("file", type=Path)

    cat = sub.add_parser("catalog", help="the secret catalog in the config table")
    cat_sub = cat.add_subparsers(dest="catalog_command", required=True)
    cat_sub.add_parser("reconcile", help="list the vault (names and metadata, never values) "
                                         "and repair the catalog both ways")
    exp = cat_sub.add_parser("expiring", help="secrets expired or expiring soon")
    exp.add_argument("--days", type=float, help="threshold (default SECRET_EXPIRY_WARNING_DAYS)")
    exp.add_argument("--scope", help="one org (with GLOBAL's secrets); default every scope")

    sub.add_parser("doctor", help="check table and vault connectivity and credentials")
    add_move_parser(sub)
    return parser


async def cmd_get(resolver: ConfigResolver, args: argparse.Namespace, out: TextIO) -> int:
    ctx = resolver.context(args.org)
    explanation = await ctx.explain(args.key)
    if not explanation.found:
        print(f"{ctx.org_id} {args.key}: not set (neither org nor GLOBAL)", file=out)
        return 1
    if explanation.error:
        print(f"{ctx.org_id} {args.key}: {explanation.error}: {explanation.error_message}",
              file=out)
        return 1
    is_secret = explanation.type == "secret_ref"
    shown = MASK if is_secret else json.dumps(await ctx.get_config(args.key))
    print(f"{ctx.org_id} {args.key} = {shown}", file=out)
    if args.explain:
        print(json.dumps(explanation.model_dump(exclude_none=True), indent=2), file=out)
    return 0


async def cmd_list(resolver: ConfigResolver, args: argparse.Namespace, out: TextIO) -> int:
    snapshot = await resolver.config_store.read_partition(args.scope)
    for key in sorted(snapshot.entries):
        entry = snapshot.entries[key]
        try:
            parse_value(entry)
        except ConfigError:
            # a value that does not parse as its type may be a misplaced secret: not shown
            shown = f"(stored value is not a valid {entry.type})"
        else:
            shown = f"-> secret {entry.value}" if entry.is_secret_ref else json.dumps(entry.value)
        print(f"{entry.scope} {key} [{entry.type}] {shown}", file=out)
    print(f"{len(snapshot.entries)} entries", file=out)
    return 0


async def cmd_set(resolver: ConfigResolver, args: argparse.Namespace, out: TextIO) -> int:
    scope, key = canonical_scope(args.scope), validate_config_key(args.key)
    value_type, value = validate_value(args.value_type, args.value)
    actor = cli_actor()
    entry = ConfigEntry(scope, key, value, value_type, args.description, updated_by=str(actor))
    await resolver.config_store.put_entry(entry)
    await resolver.notify_change(scope)
    audit_write("config.put", actor, scope, key=key, type=value_type, via="cli")
    shown = f"-> secret {value}" if value_type == "secret_ref" else json.dumps(value)
    print(f"set {scope} {key} [{value_type}] {shown}", file=out)
    if value_type == "secret_ref":
        print_warnings(await reference_warnings(resolver, scope, value), out)
    return 0


def print_warnings(warnings: list[str], out: TextIO) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=out)


def read_secret_value(stdin: TextIO) -> str:
    """From a pipe: all of stdin minus one trailing newline; from a terminal: a hidden prompt."""
    if stdin.isatty():
        value = getpass.getpass("secret value (hidden): ")
        if getpass.getpass("again: ") != value:
            raise ConfigError("the two entries differ; nothing was written")
    else:
        value = stdin.read()
        value = value[:-1] if value.endswith("\n") else value
    if not value:
        raise ConfigError("empty secret value; nothing was written")
    return value


def cli_actor() -> Actor:
    """The CLI's actor in audit records and ``UpdatedBy``: the local user name."""
    return Actor.of(f"cli:{getpass.getuser()}", "")


async def set_secret(resolver: ConfigResolver, scope: str, name: str, value: str) -> str:
    """Write a secret (a new version if it exists) and tell every instance."""
    info = await SecretAdmin(resolver).put(scope, name, SecretStr(value),
                                           actor=f"cli:{getpass.getuser()}")
    await resolver.notify_change(info.scope, secret=info.name)
    audit_write("secret.put", cli_actor(), info.scope, name=info.name, vault=info.vault,
                via="cli")
    return info.vault_name if not resolver.settings.key_vault_shards else \
        f"{info.vault_name} (vault {info.vault!r})"


async def cmd_secret(resolver: ConfigResolver, args: argparse.Namespace, out: TextIO,
                     stdin: TextIO) -> int:
    scope, name = canonical_scope(args.scope), validate_secret_name(args.name)
    value = read_secret_value(stdin)
    full_name = await set_secret(resolver, scope, name, value)
    print(f"set secret {full_name} = {MASK}", file=out)
    return 0


def parse_import(document: Any) -> tuple[list[ConfigEntry], list[tuple[str, str, str]]]:
    """Validate a whole import document before anything is written.

    Format: ``{"<org id or GLOBAL>": {"config": {key: value | {"value", "type",
    "description"} | {"secret_ref": name}}, "secrets": {name: value}}}``.
    """
    if not isinstance(document, dict):
        raise ConfigError("import file must hold a JSON object of scopes")
    entries: list[ConfigEntry] = []
    secrets: list[tuple[str, str, str]] = []
    for raw_scope, body in document.items():
        scope = canonical_scope(raw_scope)
        if not isinstance(body, dict) or set(body) - {"config", "secrets"}:
            raise ConfigError(f"scope {scope}: expected an object with 'config' and 'secrets'")
        for key, item in (body.get("config") or {}).items():
            validate_config_key(key)
            value_type, value, description = _import_item(scope, key, item)
            entries.append(ConfigEntry(scope, key, value, value_type, description,
                                       updated_by="cli:import"))
        for name, value in (body.get("secrets") or {}).items():
            validate_secret_name(name)
            if not isinstance(value, str) or not value:
                raise ConfigError(f"secret {scope}/{name}: value must be a non-empty string")
            secrets.append((scope, name, value))
    return entries, secrets


def _import_item(scope: str, key: str, item: Any) -> tuple[ValueType, str, str | None]:
    """One config item of an import file; errors name the scope and key, never the value."""
    try:
        if isinstance(item, dict) and "secret_ref" in item:
            return (*validate_value("secret_ref", item["secret_ref"]), None)
        if isinstance(item, dict):
            return (*validate_value(item.get("type", "string"), item.get("value")),
                    item.get("description"))
        kind = {bool: "bool", int: "int", float: "float", str: "string"}.get(type(item), "json")
        return (*validate_value(kind, item), None)
    except InvalidNameError:
        # the naming error would quote the name, and a secret may have been pasted there
        raise ConfigValueError(
            f"{scope} {key}: a secret_ref must be the bare name of a secret (letters, digits "
            "and single '-', no scope prefix); the value is not repeated here") from None
    except ConfigError as exc:
        raise ConfigValueError(f"{scope} {key}: {exc}") from None


async def cmd_import(resolver: ConfigResolver, args: argparse.Namespace, out: TextIO) -> int:
    try:
        document = json.loads(args.file.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{args.file} is not valid JSON: {exc.msg} at line {exc.lineno} "
                          f"column {exc.colno}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {args.file}: {exc.__class__.__name__}") from None
    entries, secrets = parse_import(document)
    if secrets and not resolver.secret_store.vault_configured:
        raise ConfigError("the file has secrets but AZURE_KEY_VAULT_URL is not set")
    written = await resolver.config_store.upsert_many(entries)
    for scope, name, value in secrets:
        await set_secret(resolver, scope, name, value)
    for scope in {e.scope for e in entries}:
        await resolver.notify_change(scope)
        audit_write("config.import", cli_actor(), scope, via="cli",
                    entries=sum(1 for e in entries if e.scope == scope))
    print(f"imported {written} config entries and {len(secrets)} secrets "
          f"({len({e.scope for e in entries})} scopes)", file=out)
    for entry in entries:
        if entry.is_secret_ref:
            warnings = await reference_warnings(resolver, entry.scope, entry.value)
            print_warnings([f"{entry.scope} {entry.key}: {w}" for w in warnings], out)
    return 0


async def cmd_catalog(resolver: ConfigResolver, args: argparse.Namespace, out: TextIO) -> int:
    secret_catalog = SecretCatalog(resolver)
    if args.catalog_command == "reconcile":
        report = await secret_catalog.reconcile()
        print(f"catalog reconciled in {report.seconds:.1f} s: {report.listed} secrets in the "
              f"vault; added {len(report.added)}, updated {len(report.updated)}, removed "
              f"{len(report.removed)}", file=out)
        for label, names in (("added", report.added), ("updated", report.updated),
                             ("removed", report.removed)):
            for name in names:
                print(f"  {label} {name}", file=out)
        if report.first:
            print("first reconcile: the resolver now uses the catalog (no vault listing, no "
                  "404 per org)", file=out)
        return 0
    return print_expiring(await secret_catalog.expiring(args.days, args.scope), out)


def print_expiring(found: list[ExpiringSecret], out: TextIO, indent: str = "") -> int:
    """One line per expired or expiring secret; returns 1 if any has expired."""
    for item in found:
        print(f"{indent}{item.state.upper()}: {item.vault_name} "
              f"{'expired' if item.state == 'expired' else 'expires'} "
              f"{item.expires_on.isoformat(timespec='minutes')}", file=out)
    if not found:
        print(f"{indent}no secret expired or expiring", file=out)
    return 1 if any(item.state == "expired" for item in found) else 0


async def doctor_catalog(resolver: ConfigResolver, out: TextIO) -> bool:
    """Which mode the resolver is in, and the secrets expired or expiring soon."""
    secret_catalog = SecretCatalog(resolver)
    try:
        marker = await secret_catalog.marker()
        if marker is None:
            print("secret catalog: absent (no reconcile yet): the resolver lists the vault's "
                  "names per instance (name index); run `catalog reconcile` to switch", file=out)
            return True
        when = marker.reconciled_at.isoformat(timespec="minutes") if marker.reconciled_at \
            else "?"
        print(f"secret catalog: in use ({marker.secrets} secrets at the last reconcile, "
              f"{when}); secrets created in the portal appear at the next event or reconcile",
              file=out)
        days = resolver.settings.expiry_warning_days
        print(f"secret expiry (warning at {days:g} days, expired secrets "
              f"{'refused' if resolver.settings.expired_policy == 'refuse' else 'served'}):",
              file=out)
        return print_expiring(await secret_catalog.expiring(), out, "  ") == 0
    except ConfigError as exc:
        print(f"  FAIL: secret catalog unreadable: {exc}", file=out)
        return False


async def cmd_doctor(resolver: ConfigResolver, out: TextIO) -> int:
    settings, ok = resolver.settings, True
    print(f"environment: {settings.environment}", file=out)
    store = settings.storage_endpoint or ("connection string" if settings.storage_connection
                                          else None)
    print(f"config table: {settings.table_name} via {store or 'NOT CONFIGURED'}", file=out)
    started = time.perf_counter()
    try:
        snapshot = await resolver.config_store.read_partition("GLOBAL")
        print(f"  ok: table reachable in {(time.perf_counter() - started) * 1000:.0f} ms, "
              f"{len(snapshot.entries)} GLOBAL entries", file=out)
    except ConfigError as exc:
        ok = False
        print(f"  FAIL: {exc}", file=out)
    if not settings.key_vault_url:
        print("key vault: not configured (AZURE_KEY_VAULT_URL unset): secrets from env only",
              file=out)
        return 0 if ok else 1
    credential = "local development (emulator)" if uses_local_vault(settings) else \
        "DefaultAzureCredential"
    print(f"key vault: {settings.key_vault_url} with {credential}", file=out)
    ok = await doctor_vaults(resolver, out) and ok
    ok = await doctor_catalog(resolver, out) and ok
    return 0 if ok else 1


async def run(argv: Sequence[str], out: TextIO = sys.stdout, stdin: TextIO = sys.stdin,
              env: dict[str, str] | None = None) -> int:
    """Run the CLI; returns the exit code. Errors print a message, never a traceback."""
    args = _parser().parse_args(argv)
    try:
        values = dict(os.environ if env is None else env)
        if args.settings is not None:
            values.update(load_settings_file(args.settings))
        async with ConfigResolver(Settings.from_env(values), environ=values) as resolver:
            if args.command == "get":
                return await cmd_get(resolver, args, out)
            if args.command == "list":
                return await cmd_list(resolver, args, out)
            if args.command == "set":
                return await cmd_set(resolver, args, out)
            if args.command == "secret":
                return await cmd_secret(resolver, args, out, stdin)
            if args.command == "import":
                return await cmd_import(resolver, args, out)
            if args.command == "catalog":
                return await cmd_catalog(resolver, args, out)
            if args.command == "move-org":
                return await cmd_move_org(resolver, args, out)
            return await cmd_doctor(resolver, out)
    except ConfigError as exc:
        print(f"error: {exc}", file=out)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    raise SystemExit(main())

"""``get``, ``list``, ``set``, ``delete`` and ``import``: config entries from the command line.
Output on ``out``; warnings and "not set" on ``err``: as the API's PUT answers, a write is
saved but warned about when it references a missing secret or breaks the declared config
of a registered workflow (``--workflows``, as ``readiness`` loads them)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from shared.admin.orgs import register_many
from shared.admin.readiness import constraint_warnings
from shared.admin.reference_check import reference_warnings
from shared.cli.common import MASK, cli_actor, print_warnings
from shared.cli.readiness import load_workflows
from shared.cli.secrets import set_secret
from shared.core.audit import audit_write
from shared.core.naming import (
    GLOBAL,
    canonical_scope,
    env_var_name,
    keyvault_name,
    validate_config_key,
    validate_secret_name,
)
from shared.core.values import VALUE_TYPES, ConfigEntry, ValueType, parse_value, validate_value
from shared.errors import ConfigError, ConfigValueError, InvalidNameError
from shared.resolver import ConfigResolver


def _add(sub: argparse._SubParsersAction, name: str, text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=text,
                                                     description=text[0].upper() + text[1:])
    return parser


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """The config commands' parsers."""
    get = _add(sub, "get", "resolve a key for an org (org, then GLOBAL), or GLOBAL's own "
                           "value; secrets masked")
    get.add_argument("org", help="org id, or GLOBAL for GLOBAL's own entry")
    get.add_argument("key", help="config key")
    get.add_argument("--explain", action="store_true", help="show where the value comes from")

    lst = _add(sub, "list", "list the entries of an org or GLOBAL")
    lst.add_argument("scope", help="org id or GLOBAL")

    put = _add(sub, "set", "create or replace a config entry")
    put.add_argument("scope", help="org id or GLOBAL")
    put.add_argument("key", help="config key")
    put.add_argument("value", help="for --type secret_ref: the bare secret name")
    put.add_argument("--type", default="string", dest="value_type", choices=VALUE_TYPES,
                     help="how the value is parsed when read (default: string)")
    put.add_argument("--description", help="free text shown with the entry")
    _add_workflows(put)

    delete = _add(sub, "delete", "delete a config entry (an org then reads GLOBAL's, if any)")
    delete.add_argument("scope", help="org id or GLOBAL")
    delete.add_argument("key", help="config key")

    imp = _add(sub, "import", "import orgs, entries and secrets from a JSON file")
    imp.add_argument("file", type=Path, help="JSON file (format: see the README)")
    _add_workflows(imp)


def _add_workflows(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workflows", default="workflows", metavar="MODULE",
                        help="the module that registers the workflows whose declared config "
                             "a written value is checked against (default: workflows)")


def _declared_checks(args: argparse.Namespace, err: TextIO) -> bool:
    """Load the workflows whose declared config writes are checked against; a module that
    cannot be imported is a warning (the write is not refused for it): False then."""
    try:
        load_workflows(args.workflows)
    except ConfigError as exc:
        print_warnings([f"declared config not checked: {exc}"], err)
        return False
    return True


async def cmd_get(resolver: ConfigResolver, args: argparse.Namespace, out: TextIO,
                  err: TextIO) -> int:
    if canonical_scope(args.org) == GLOBAL:
        return await _get_global(resolver, args, out, err)
    ctx = resolver.context(args.org)
    explanation = await ctx.explain(args.key)
    if not explanation.found:
        print(f"error: {ctx.org_id} {args.key}: not set (neither org nor GLOBAL)", file=err)
        return 1
    if explanation.error:
        raise ConfigError(f"{ctx.org_id} {args.key}: {explanation.error}: "
                          f"{explanation.error_message}")
    is_secret = explanation.type == "secret_ref"
    shown = MASK if is_secret else json.dumps(await ctx.get_config(args.key))
    print(f"{ctx.org_id} {args.key} = {shown}", file=out)
    if args.explain:
        print(json.dumps(explanation.model_dump(exclude_none=True), indent=2), file=out)
    return 0


async def _get_global(resolver: ConfigResolver, args: argparse.Namespace, out: TextIO,
                      err: TextIO) -> int:
    """GLOBAL's own entry (no org chain): its value, or for a ``secret_ref`` the mask once
    the secret is known to exist (vault metadata or the environment; no value is read)."""
    key = validate_config_key(args.key)
    entry = await resolver.config_store.get_entry(GLOBAL, key)
    if entry is None:
        print(f"error: {GLOBAL} {key}: not set", file=err)
        return 1
    value = parse_value(entry)
    explanation: dict[str, Any] = {"scope": GLOBAL, "key": key, "found": True,
                                   "type": entry.type, "source": f"table:{GLOBAL}"}
    if entry.is_secret_ref:
        problems = await reference_warnings(resolver, GLOBAL, value)
        if problems:
            raise ConfigError(f"{GLOBAL} {key}: {problems[0]}")
        tried = [f"keyvault:{keyvault_name(GLOBAL, value)}"] \
            if resolver.secret_store.vault_configured else []
        if resolver.settings.secret_env_fallback:
            tried.append(f"env:{env_var_name(GLOBAL, value)}")
        explanation.update(secret_name=value, tried=tried)
    shown = MASK if entry.is_secret_ref else json.dumps(value)
    print(f"{GLOBAL} {key} = {shown}", file=out)
    if args.explain:
        print(json.dumps(explanation, indent=2), file=out)
    return 0


async def cmd_list(resolver: ConfigResolver, args: argparse.Namespace, out: TextIO,
                   err: TextIO) -> int:
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


async def cmd_set(resolver: ConfigResolver, args: argparse.Namespace, out: TextIO,
                  err: TextIO) -> int:
    scope, key = canonical_scope(args.scope), validate_config_key(args.key)
    value_type, value = validate_value(args.value_type, args.value)
    actor = cli_actor()
    entry = ConfigEntry(scope, key, value, value_type, args.description, updated_by=str(actor))
    await resolver.config_store.put_entry(entry, actor_id=actor.id)
    await resolver.notify_change(scope)
    audit_write("config.put", actor, scope, key=key, type=value_type, via="cli")
    shown = f"-> secret {value}" if value_type == "secret_ref" else json.dumps(value)
    print(f"set {scope} {key} [{value_type}] {shown}", file=out)
    if value_type == "secret_ref":
        print_warnings(await reference_warnings(resolver, scope, value), err)
    if _declared_checks(args, err):
        # saved, but said: a value the declared config of a workflow using this key refuses
        print_warnings(constraint_warnings(scope, key, value_type, value), err)
    return 0


async def cmd_delete(resolver: ConfigResolver, args: argparse.Namespace, out: TextIO,
                     err: TextIO) -> int:
    """As the API's DELETE: an absent entry is an error; audited and told to every instance."""
    scope, key = canonical_scope(args.scope), validate_config_key(args.key)
    store = resolver.config_store
    if await store.get_entry(scope, key) is None:
        raise ConfigError(f"no config entry {key!r} in scope {scope}; nothing was deleted")
    actor = cli_actor()
    await store.delete_entry(scope, key, actor=str(actor), actor_id=actor.id)
    await resolver.notify_change(scope)
    audit_write("config.delete", actor, scope, key=key, via="cli")
    print(f"deleted {scope} {key}", file=out)
    if scope != GLOBAL and await store.get_entry(GLOBAL, key) is not None:
        print(f"{scope} now reads GLOBAL's {key}", file=out)
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


async def cmd_import(resolver: ConfigResolver, args: argparse.Namespace, out: TextIO,
                     err: TextIO) -> int:
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
    written = await resolver.config_store.import_entries(entries, actor_id=cli_actor().id)
    for scope, name, value in secrets:
        await set_secret(resolver, scope, name, value)
    scopes = {e.scope for e in entries} | {s for s, _, _ in secrets}
    registered = await register_many(resolver, [s for s in scopes if s != GLOBAL],
                                     str(cli_actor()))
    if registered:
        print(f"registered {len(registered)} orgs: {', '.join(registered)}", file=out)
    for scope in {e.scope for e in entries}:
        await resolver.notify_change(scope)
        audit_write("config.import", cli_actor(), scope, via="cli",
                    entries=sum(1 for e in entries if e.scope == scope))
    print(f"imported {written} config entries and {len(secrets)} secrets "
          f"({len({e.scope for e in entries})} scopes)", file=out)
    for entry in entries:
        if entry.is_secret_ref:
            warnings = await reference_warnings(resolver, entry.scope, entry.value)
            print_warnings([f"{entry.scope} {entry.key}: {w}" for w in warnings], err)
    if entries and _declared_checks(args, err):
        for entry in entries:
            warnings = constraint_warnings(entry.scope, entry.key, entry.type, entry.value)
            print_warnings([f"{entry.scope} {entry.key}: {w}" for w in warnings], err)
    return 0


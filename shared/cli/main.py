"""Admin and developer CLI: ``python -m shared.cli {get,list,set,delete,import,secret,catalog,
doctor,move-org,history,changes,rollback,readiness}`` (the ``--help`` text is
:data:`DESCRIPTION`, plain text).

Settings come from the environment, or from a ``local.settings.json`` given with
``--settings``. Secret values are read from stdin or a hidden prompt, never from
the command line (where shell history and ``ps`` would see them), and are masked
in every output. One module per command group; this one parses and dispatches.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import TextIO

from shared.backends.vault_clients import uses_local_vault
from shared.cli import catalog, config, history, orgs, readiness, secrets, vaults
from shared.cli.common import Interrupted, load_settings_file
from shared.core.naming import GLOBAL, canonical_scope
from shared.errors import ConfigError, InvalidNameError
from shared.resolver import ConfigResolver
from shared.settings import Settings

DESCRIPTION = """\
Admin and developer CLI of orgconfig: config entries and Key Vault secrets of an org or
GLOBAL, the secret catalog, connectivity checks, moving an org to another vault, and which
workflows an org's config is ready for.

Settings come from the environment, or from a local.settings.json given with --settings.
Secret values are read from stdin or a hidden prompt, never from the command line, and are
never printed. Output goes to stdout; warnings and errors go to stderr.
Exit codes: 0 ok, 1 not found or a check failed, 2 error, 130 interrupted."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m shared.cli", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", type=Path, help="read settings from local.settings.json")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                help="one of these; COMMAND --help for more")
    config.add_parsers(sub)
    history.add_parsers(sub)
    orgs.add_parser(sub)
    secrets.add_parser(sub)
    catalog.add_parser(sub)
    sub.add_parser("doctor", help="check table and vault connectivity and credentials",
                   description="Check table and vault connectivity and credentials, the "
                               "secret catalog's mode and expiring secrets.")
    vaults.add_move_parser(sub)
    readiness.add_parser(sub)
    return parser


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
    ok = await vaults.doctor_vaults(resolver, out) and ok
    ok = await catalog.doctor_catalog(resolver, out) and ok
    return 0 if ok else 1


_COMMANDS = {"get": config.cmd_get, "list": config.cmd_list, "set": config.cmd_set,
             "delete": config.cmd_delete, "import": config.cmd_import,
             "catalog": catalog.cmd_catalog, "move-org": vaults.cmd_move_org,
             "history": history.cmd_history, "changes": history.cmd_changes,
             "rollback": history.cmd_rollback, "orgs": orgs.cmd_orgs,
             "readiness": readiness.cmd_readiness}


async def _require_known_org(resolver: ConfigResolver, args: argparse.Namespace) -> None:
    """Once the registry is on, an org a command names must be registered (as the API's
    404 unknown_org): a typo is an error, never GLOBAL's values."""
    if args.command in ("orgs", "import"):
        return
    for attr in ("org", "scope"):
        value = getattr(args, attr, None)
        if not isinstance(value, str) or not value:
            continue
        try:
            scope = canonical_scope(value)
        except InvalidNameError:
            continue  # the command says what is wrong with it
        if scope != GLOBAL:
            await resolver.orgs.require(scope)


async def run(argv: Sequence[str], out: TextIO = sys.stdout, stdin: TextIO = sys.stdin,
              env: dict[str, str] | None = None, err: TextIO = sys.stderr) -> int:
    """Run the CLI; returns the exit code. Output goes to ``out``; warnings and errors go
    to ``err``, each error one line ``error: ...`` (exit 2), never a traceback."""
    try:
        with redirect_stdout(out), redirect_stderr(err):  # argparse's usage, help, errors
            args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else 2
    try:
        values = dict(os.environ if env is None else env)
        if args.settings is not None:
            values.update(load_settings_file(args.settings))
        async with ConfigResolver(Settings.from_env(values), environ=values) as resolver:
            await _require_known_org(resolver, args)
            if args.command == "secret":
                return await secrets.cmd_secret(resolver, args, out, stdin, err)
            if args.command == "doctor":
                return await cmd_doctor(resolver, out)
            return await _COMMANDS[args.command](resolver, args, out, err)
    except ConfigError as exc:
        print(f"error: {_one_line(str(exc))}", file=err)
    except (Interrupted, KeyboardInterrupt) as exc:
        print(f"\n{str(exc) or 'interrupted'}", file=err)
        return 130
    except Exception as exc:
        print(f"error: unexpected {exc.__class__.__name__}: {_one_line(str(exc))}", file=err)
    return 2


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "(no message)"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return asyncio.run(run(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

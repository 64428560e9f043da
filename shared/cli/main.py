"""Admin and developer CLI: ``python -m shared.cli {get,set,list,secret,import,catalog,doctor,
move-org}``.

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
from pathlib import Path
from typing import TextIO

from shared.backends.secret_store import uses_local_vault
from shared.cli import catalog, config, secrets, vaults
from shared.cli.common import load_settings_file
from shared.errors import ConfigError
from shared.resolver import ConfigResolver
from shared.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared.cli", description=__doc__)
    parser.add_argument("--settings", type=Path, help="read settings from local.settings.json")
    sub = parser.add_subparsers(dest="command", required=True)
    config.add_parsers(sub)
    secrets.add_parser(sub)
    catalog.add_parser(sub)
    sub.add_parser("doctor", help="check table and vault connectivity and credentials")
    vaults.add_move_parser(sub)
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
                return await config.cmd_get(resolver, args, out)
            if args.command == "list":
                return await config.cmd_list(resolver, args, out)
            if args.command == "set":
                return await config.cmd_set(resolver, args, out)
            if args.command == "secret":
                return await secrets.cmd_secret(resolver, args, out, stdin)
            if args.command == "import":
                return await config.cmd_import(resolver, args, out)
            if args.command == "catalog":
                return await catalog.cmd_catalog(resolver, args, out)
            if args.command == "move-org":
                return await vaults.cmd_move_org(resolver, args, out)
            return await cmd_doctor(resolver, out)
    except ConfigError as exc:
        print(f"error: {exc}", file=out)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(sys.argv[1:] if argv is None else argv))



if __name__ == "__main__":
    raise SystemExit(main())

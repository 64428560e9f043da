"""``secret set``: Key Vault secrets from the command line (values from stdin or a hidden
prompt, never from the command line)."""

from __future__ import annotations

import argparse
import getpass
from typing import TextIO

from pydantic import SecretStr

from shared.admin.secret_admin import SecretAdmin
from shared.cli.common import MASK, cli_actor, read_secret_value
from shared.core.audit import audit_write
from shared.core.naming import canonical_scope, validate_secret_name
from shared.resolver import ConfigResolver


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The ``secret`` command's parser."""
    secret = sub.add_parser("secret", help="manage Key Vault secrets")
    secret_sub = secret.add_subparsers(dest="secret_command", required=True)
    sset = secret_sub.add_parser("set", help="set a secret (value from stdin or a prompt)")
    sset.add_argument("scope", help="org id or GLOBAL")
    sset.add_argument("name", help="bare secret name, e.g. smtp-password")


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


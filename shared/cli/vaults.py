"""The CLI's vault commands: ``doctor``'s check of every vault and ``move-org``.

``move-org ORG --to VAULT`` copies and verifies (:mod:`shared.admin.org_move`), then prints the
exact ``AZURE_KEY_VAULT_ORG_VAULTS`` value to set; ``move-org ORG --to VAULT --from OLD
--delete-source``, run once the settings say so, soft-deletes the old copies. No value is
ever printed.
"""

from __future__ import annotations

import argparse
import time
from typing import TextIO

from shared.admin.org_move import MoveReport, OrgMove, mapping_after_move
from shared.backends.vaults import Vault
from shared.cli.common import cli_actor
from shared.core.audit import audit_write
from shared.errors import ConfigError
from shared.resolver import ConfigResolver
from shared.settings import ORG_VAULTS


def add_move_parser(sub: argparse._SubParsersAction) -> None:
    move = sub.add_parser(
        "move-org", help="copy an org's secrets to another vault (then switch the setting)",
        description="Copy an org's secrets to another vault and verify them, then print the "
                    f"{ORG_VAULTS} value to set; with --delete-source, remove the old copies.",
    )
    move.add_argument("org", help="org id")
    move.add_argument("--to", required=True, dest="target",
                      help="target vault: 'default' (AZURE_KEY_VAULT_URL) or a shard's name")
    move.add_argument("--overwrite", action="store_true",
                      help="replace a different value already in the target vault")
    move.add_argument("--delete-source", action="store_true",
                      help="after the switch: soft-delete the copies left in --from")
    move.add_argument("--from", dest="source",
                      help="with --delete-source: the vault the org moved from")


async def cmd_move_org(resolver: ConfigResolver, args: argparse.Namespace, out: TextIO,
                       err: TextIO) -> int:
    move = OrgMove(resolver, args.org, args.target)
    actor = _actor()
    if args.delete_source:
        if not args.source:
            raise ConfigError("--delete-source needs --from VAULT (the vault the org left)")
        report = await move.delete_source(args.source)
        _print_items(report, out)
        audit_write("org.move.delete_source", actor, report.org, source=report.source,
                    target=report.target, deleted=report.count("deleted"), via="cli")
        print(f"{report.count('deleted')} old copies soft-deleted in vault {report.source!r}"
              f", {report.count('kept')} kept", file=out)
        return 0 if report.ok else 1
    report = await move.copy(overwrite=args.overwrite)
    _print_items(report, out)
    audit_write("org.move.copy", actor, report.org, source=report.source,
                target=report.target, copied=report.count("copied", "overwritten"), via="cli")
    done = report.count("copied", "overwritten", "same")
    print(f"{done} of {len(report.items)} secrets of {report.org} are in vault "
          f"{report.target!r} and verified", file=out)
    if not report.ok:
        print(f"not done: fix the lines above and run this again; do NOT switch "
              f"{ORG_VAULTS} yet", file=err)
        return 1
    mapping = mapping_after_move(resolver.settings, report.org, report.target)
    print(f"""next:
  1. switch the org in the app settings (settings, never table data; this CLI cannot):
       {ORG_VAULTS}={mapping}
     in Azure: az functionapp config appsettings set -g RG -n APP --settings '{ORG_VAULTS}={mapping}'
     locally: the Values of local.settings.json. Writes to {report.org}'s secrets until then
     still go to vault {report.source!r}: run this command again just before the switch.
  2. after the app runs with the new setting, remove the old copies (soft delete):
       python -m shared.cli move-org {report.org} --to {report.target} --from {report.source} --delete-source""",  # noqa: E501
          file=out)
    return 0


def _print_items(report: MoveReport, out: TextIO) -> None:
    for item in report.items:
        reason = f": {item.reason}" if item.reason else ""
        print(f"  {item.outcome.upper():<11} {item.name}{reason}", file=out)
    if not report.items:
        print(f"  no secrets of {report.org} in vault {report.source!r}", file=out)


def _actor() -> str:
    return str(cli_actor())


async def doctor_vaults(resolver: ConfigResolver, out: TextIO) -> bool:
    """Reach and list every configured vault; False if any fails."""
    ok = True
    vaults = list(resolver.secret_store.vaults)
    orgs = resolver.settings.key_vault_org_vaults
    for vault in vaults:
        mapped = sorted(org for org, name in orgs.items() if name == vault.name)
        holds = "GLOBAL and unmapped orgs" if vault.name == "default" else \
            f"{len(mapped)} orgs ({', '.join(mapped[:5])}{', ...' if len(mapped) > 5 else ''})"
        if len(vaults) > 1:
            print(f"  vault {vault.name!r}: {vault.url} holds {holds}", file=out)
        ok = await _probe(vault, out) and ok
    return ok


async def _probe(vault: Vault, out: TextIO) -> bool:
    started = time.perf_counter()

    async def first_page() -> int:
        pages = vault.client.list_properties_of_secrets(max_page_size=1).by_page()
        async for page in pages:
            return len([item async for item in page])
        return 0

    try:
        await vault.call("a list of secret names", first_page)
    except ConfigError as exc:
        print(f"  FAIL: {exc}", file=out)
        return False
    print(f"  ok: vault reachable and listable in "
          f"{(time.perf_counter() - started) * 1000:.0f} ms", file=out)
    return True

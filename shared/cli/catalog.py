"""``catalog reconcile`` and ``catalog expiring``: the secret catalog from the command line."""

from __future__ import annotations

import argparse
from typing import TextIO

from shared.admin.catalog_sync import ExpiringSecret, SecretCatalog
from shared.errors import ConfigError
from shared.resolver import ConfigResolver


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The ``catalog`` command's parser."""
    cat = sub.add_parser("catalog", help="the secret catalog in the config table",
                         description="The secret catalog in the config table: what the vault "
                                     "holds (metadata, never values).")
    cat_sub = cat.add_subparsers(dest="catalog_command", required=True, metavar="COMMAND",
                                 help="one of these; COMMAND --help for more")
    text = "list the vault (names and metadata, never values) and repair the catalog both ways"
    cat_sub.add_parser("reconcile", help=text, description=text[0].upper() + text[1:])
    exp = cat_sub.add_parser("expiring", help="secrets expired or expiring soon",
                             description="Secrets expired or expiring soon (exit 1 if any "
                                         "has expired).")
    exp.add_argument("--days", type=float, help="threshold (default SECRET_EXPIRY_WARNING_DAYS)")
    exp.add_argument("--scope", help="one org (with GLOBAL's secrets); default every scope")


async def cmd_catalog(resolver: ConfigResolver, args: argparse.Namespace, out: TextIO,
                      err: TextIO) -> int:
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


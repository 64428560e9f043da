"""``orgs list|add|rename|suspend|resume|adopt``: the org registry from the command line."""

from __future__ import annotations

import argparse
from typing import TextIO

from shared.admin.orgs import adopt, register
from shared.backends.org_registry import Org
from shared.cli.common import cli_actor
from shared.core.audit import audit_write
from shared.core.naming import GLOBAL, canonical_org_id, canonical_scope
from shared.errors import InvalidNameError
from shared.resolver import ConfigResolver


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The ``orgs`` command's parser."""
    orgs = sub.add_parser("orgs", help="the org registry: list, add, rename, suspend, resume, "
                                       "adopt", description="Registered organizations.")
    verbs = orgs.add_subparsers(dest="orgs_command", required=True, metavar="VERB",
                                help="what to do; VERB --help for more")
    verbs.add_parser("list", help="registered orgs with display name and status",
                     description="Registered orgs (and whether the registry is on).")
    add = verbs.add_parser("add", help="register an org", description="Register an org (the "
                           "first registration also registers every org that has data).")
    add.add_argument("org_id", help="the org id (letters, digits, single '-')")
    add.add_argument("--name", help="display name (default: the id)")
    rename = verbs.add_parser("rename", help="change an org's display name",
                              description="Change an org's display name.")
    rename.add_argument("org_id", help="the org id")
    rename.add_argument("name", help="the new display name")
    for verb, text in (("suspend", "suspend an org: its data stays, its workflows do not run"),
                       ("resume", "reactivate a suspended org")):
        parser = verbs.add_parser(verb, help=text, description=text[0].upper() + text[1:] + ".")
        parser.add_argument("org_id", help="the org id")
    verbs.add_parser("adopt", help="register every org that has config or secrets (turns "
                     "the registry on)", description="Register every org that already has "
                     "config entries or secrets, and turn the registry on.")


def _line(org: Org) -> str:
    return f"{org.id:<24} {org.status:<10} {org.display_name}"


async def cmd_orgs(resolver: ConfigResolver, args: argparse.Namespace, out: TextIO,
                   err: TextIO) -> int:
    registry, actor = resolver.orgs, cli_actor()
    verb = args.orgs_command
    if verb == "list":
        if not await registry.enabled():
            print("the org registry is off: every org is known (turn it on with `orgs add` "
                  "or `orgs adopt`)", file=out)
            return 0
        orgs = await registry.all()
        for org in orgs:
            print(_line(org), file=out)
        print(f"{len(orgs)} registered orgs", file=out)
        return 0
    if verb == "adopt":
        added = await adopt(resolver, str(actor))
        audit_write("org.adopt", actor, GLOBAL, added=len(added), via="cli")
        print(f"registry on; registered {len(added)} orgs that had data"
              + (f": {', '.join(added)}" if added else ""), file=out)
        return 0
    org_id = canonical_org_id(args.org_id)
    if canonical_scope(args.org_id) == GLOBAL:
        raise InvalidNameError("GLOBAL is the platform-wide scope, not an org")
    if verb == "add":
        org = await register(resolver, org_id, args.name, str(actor))
        audit_write("org.create", actor, org_id, via="cli")
        print(f"registered {_line(org)}", file=out)
        return 0
    if verb == "rename":
        org = await registry.update(org_id, display_name=args.name)
    else:
        org = await registry.update(org_id, status="suspended" if verb == "suspend"
                                    else "active")
    await resolver.notify_change(org_id)
    audit_write("org.update", actor, org_id, status=org.status, via="cli")
    print(_line(org), file=out)
    return 0

"""``readiness [ORG]``: whether each registered workflow's declared config fits an org (or
every org with config), without reading any secret value; exits 1 when something is not
ready, so a pipeline can gate on it.

The workflows are the app's: the CLI imports the module that registers them (``--workflows``,
default ``workflows``, as ``function_app.py`` does), by name at run time, since the library
itself never imports the app.
"""

from __future__ import annotations

import argparse
import importlib
from typing import TextIO

from shared.admin.readiness import OrgReadiness, fleet_readiness, org_readiness
from shared.admin.workflows import list_workflows
from shared.errors import ConfigError
from shared.resolver import ConfigResolver

#: orgs checked per page when no ORG is given
_PAGE = 100


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "readiness", help="which workflows can run for an org (exit 1 if any cannot)",
        description="For each registered workflow: ready, or what in the org's config does "
                    "not fit its declared config (missing, wrong_type, invalid, "
                    "secret_missing, secret_disabled, secret_expired). No secret value is "
                    "read. Without ORG, every org that has config. Exit 0 when everything "
                    "is ready, 1 otherwise.")
    parser.add_argument("org", nargs="?", help="org id (default: every org with config)")
    parser.add_argument("--workflows", default="workflows", metavar="MODULE",
                        help="the module that registers the workflows (default: workflows)")


def load_workflows(module: str) -> None:
    """Import the module whose ``@workflow`` declarations fill the registry."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(f"cannot import the workflows module {module!r} ({exc.name or exc}); "
                          "run from the app's folder or pass --workflows") from None


def _print(found: OrgReadiness, out: TextIO) -> None:
    print(f"{found.org}: {found.ready} of {len(found.workflows)} workflows ready", file=out)
    width = max((len(w.name) for w in found.workflows), default=0)
    for wf in found.workflows:
        print(f"  {wf.name:<{width}}  {'ready' if wf.ready else 'NOT READY'}", file=out)
        for problem in wf.problems:
            print(f"    {problem.key}: {problem.problem}: {problem.message}", file=out)


async def cmd_readiness(resolver: ConfigResolver, args: argparse.Namespace, out: TextIO,
                        err: TextIO) -> int:
    load_workflows(args.workflows)
    if not list_workflows():
        print(f"no workflows are registered by {args.workflows!r}", file=err)
    if args.org is not None:
        found = await org_readiness(resolver, args.org)
        _print(found, out)
        return 0 if found.not_ready == 0 else 1
    after: str | None = None
    orgs = not_ready = 0
    while True:
        page, after = await fleet_readiness(resolver, after, _PAGE)
        for found in page:
            _print(found, out)
            orgs += 1
            not_ready += found.not_ready > 0
        if after is None:
            break
    print(f"{orgs - not_ready} of {orgs} orgs ready", file=out)
    return 0 if not_ready == 0 else 1

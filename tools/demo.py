"""``make demo``: the resolver end to end on a laptop.

Starts Azurite and the Key Vault emulator, seeds GLOBAL and three organizations
(an org override, a GLOBAL-only secret, an org secret overriding a GLOBAL one, an
env-only secret), runs every example workflow for every org through the executor,
prints per key the org, the scope, the source and a masked value, then the backend
call counts of a cold and a warm pass, and stops both services.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import app_telemetry
from shared.admin.catalog_sync import SecretCatalog
from shared.admin.orgs import register_many
from shared.cli.common import MASK
from shared.cli.config import parse_import
from shared.cli.secrets import set_secret
from shared.core.naming import GLOBAL
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tools.keyvault_emulator.control import EmulatorControl
from tools.services import REPO_ROOT, local_stack
from workflows import list_workflows, run_workflow

#: GLOBAL + three orgs: acme overrides smtp_host; contoso's own psa-api-key overrides
#: GLOBAL's; fabrikam's Graph secret is in the environment only (see ENV_ONLY).
SEED_FILE = REPO_ROOT / "examples" / "seed.json"
#: fabrikam's Graph secret lives only in the environment (as in local.settings.json)
ENV_ONLY = {"FABRIKAM__GRAPH_CLIENT_SECRET": "demo-fabrikam-graph-env"}

PARAMS: dict[str, dict[str, Any]] = {
    "graph-user-sync": {"users": [{"id": "1"}, {"id": "2", "accountEnabled": False}, {"id": "3"}]},
    "psa-ticket": {"alert": {"title": "Disk C: 95% full", "host": "SRV-FS01", "severity": 2}},
    "smtp-digest": {"recipients": ["it@customer.example"], "events": [1, 2, 3]},
}
KEYS: dict[str, list[str]] = {
    "graph-user-sync": ["graph_tenant_id", "graph_client_id", "graph_client_secret",
                        "graph_page_size"],
    "psa-ticket": ["psa_api_url", "psa_api_key", "psa_field_mapping", "psa_default_priority"],
    "smtp-digest": ["smtp_host", "smtp_port", "smtp_use_tls", "smtp_username", "smtp_password",
                    "report_sender"],
}
SEED: dict[str, Any] = json.loads(SEED_FILE.read_text())
ORGS = [org for org in SEED if org != "GLOBAL"]


def _show(value: Any, limit: int = 38) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def seed(resolver: ConfigResolver) -> None:
    """The seed's entries and secrets, and its orgs registered (the registry turns on)."""
    entries, secrets = parse_import(SEED)
    await resolver.config_store.upsert_many(entries)
    for scope, name, value in secrets:
        await set_secret(resolver, scope, name, value)
    orgs = {e.scope for e in entries} | {s for s, _, _ in secrets}
    await register_many(resolver, sorted(orgs - {GLOBAL}), "seed")


async def run_all(resolver: ConfigResolver, verbose: bool) -> None:
    for org in ORGS:
        ctx = resolver.context(org)
        if verbose:
            print(f"\n== {org} ==")
        for name in list_workflows():
            result = await run_workflow(name, ctx, PARAMS.get(name, {}))
            if not verbose:
                continue
            print(f"  workflow {name}: {_show(result, 90)}")
            for key in KEYS.get(name, []):
                why = await ctx.explain(key)
                shown = MASK if why.type == "secret_ref" else _show(await ctx.get_config(key))
                print(f"    {org:<9}{key:<22}{why.scope or '-':<10}{why.source or '-':<40}{shown}")


async def main() -> int:
    os.environ.update(ENV_ONLY)
    app_telemetry.configure()  # OTEL_* variables pick exporters, as for make serve
    print("starting Azurite (tables) and the Key Vault emulator ...")
    with local_stack() as (azurite, vault):
        control = EmulatorControl(vault.control_url)
        settings = Settings(
            storage_connection=azurite.connection_string, key_vault_url=vault.url,
            key_vault_ca_file=vault.ca_file,
        )
        print(f"  tables: {azurite.endpoint}\n  vault:  {vault.url}")
        async with ConfigResolver(settings) as resolver:
            await seed(resolver)
            report = await SecretCatalog(resolver).reconcile()  # what the hourly timer does
            resolver.invalidate()
        print(f"seeded GLOBAL + {len(ORGS)} orgs; FABRIKAM__GRAPH_CLIENT_SECRET in env only; "
              f"secret catalog reconciled ({report.listed} secrets)")
        print(f"\n    {'org':<9}{'key':<22}{'scope':<10}{'source':<40}value")
        async with ConfigResolver(settings) as resolver:
            control.reset_counters()
            await run_all(resolver, verbose=True)
            cold = (resolver.metrics.snapshot(), control.count("get_secret"),
                    control.count("list_secrets"))
            control.reset_counters()
            resolver.metrics.reset()
            for _ in range(10):
                await run_all(resolver, verbose=False)
            warm = resolver.metrics.snapshot(), control.count("get_secret")
        runs = len(ORGS) * len(list_workflows())
        print(f"\nbackend calls, first pass ({runs} workflow runs, cold caches):")
        print(f"  table queries {cold[0].get('table.queries', 0)}, vault GETs {cold[1]} "
              f"(of which not-found {cold[0].get('vault.not_found', 0)}), "
              f"vault listings {cold[2]}, lookups the secret catalog answered 'absent' "
              f"without a request {cold[0].get('vault.catalog_absent', 0)}, "
              f"env hits {cold[0].get('env.hit', 0)}")
        print(f"then 10 more passes ({10 * runs} runs, warm caches):")
        print(f"  table queries {warm[0].get('table.queries', 0)}, vault GETs {warm[1]}, "
              f"cache hits config {warm[0].get('config.cache_hit', 0)} / "
              f"secret {warm[0].get('secret.cache_hit', 0)}")
    print("stopped Azurite and the emulator")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

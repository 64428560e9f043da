"""The timer function that reconciles the secret catalog with the vault.

The Functions host runs a timer trigger as a singleton (one instance of the whole app at
a time, coordinated through the ``AzureWebJobsStorage`` lease), so one listing of the
vault per schedule serves the whole fleet. Secrets created or deleted directly in the
vault without an Event Grid event reach the catalog at the next run. The first catalog of
a deployment does not wait for it: the app's first request builds it
(:mod:`shared.admin.catalog_bootstrap`), and the azd postdeploy hook runs this function
once (``infra/hooks/catalog-on.sh``).
"""

from __future__ import annotations

import logging

import azure.functions as func

from shared.admin.catalog_sync import SecretCatalog
from shared.admin.orgs import orgs_with_data
from shared.resolver import ConfigResolver, get_resolver

log = logging.getLogger("orgconfig.catalog")

#: NCRONTAB (seconds first): minute 7 of every hour. A vault of 100,000 secrets is 4,000
#: listing requests, one throttle window's worth spread over a few minutes: hourly keeps
#: it a small share of the vault's budget; events cover the common changes at once.
SCHEDULE = "0 7 * * * *"

bp = func.Blueprint()


@bp.function_name("catalog_reconcile")
@bp.timer_trigger(arg_name="timer", schedule=SCHEDULE, run_on_startup=False)
async def catalog_reconcile(timer: func.TimerRequest) -> None:
    resolver = get_resolver()
    if not resolver.secret_store.vault_configured:
        log.info("no Key Vault configured: no secret catalog to reconcile")
        return
    report = await SecretCatalog(resolver).reconcile()
    log.info("catalog reconcile: %d secrets listed, %d rows repaired in %.1f s",
             report.listed, report.drift, report.seconds)
    unregistered = await unregistered_orgs(resolver)
    if unregistered:
        log.warning("%d orgs have config or secrets but are not registered (their requests "
                    "answer 404 unknown_org): %s; register them with POST orgs or "
                    "`python -m shared.cli orgs adopt`", len(unregistered),
                    ", ".join(unregistered[:20]))


async def unregistered_orgs(resolver: ConfigResolver) -> list[str]:
    """Orgs with data that the registry does not hold (empty while the registry is off)."""
    if not await resolver.orgs.enabled():
        return []
    registered = {org.id for org in await resolver.orgs.all()}
    return sorted(await orgs_with_data(resolver) - registered)

"""Key Vault → Event Grid → catalog and sentinel: secrets created, rotated or expiring
directly in the vault reach the secret catalog and every instance within
``COHERENCE_CHECK_SECONDS``, not only at the next reconcile or after the secret TTL.

Wiring (once per vault)::

    az eventgrid event-subscription create \\
      --name orgconfig-secret-changes \\
      --source-resource-id $(az keyvault show -n VAULT --query id -o tsv) \\
      --endpoint-type azurefunction \\
      --endpoint $(az functionapp function show -g RG -n APP \\
                    --function-name keyvault_events --query id -o tsv) \\
      --included-event-types Microsoft.KeyVault.SecretNewVersionCreated \\
                             Microsoft.KeyVault.SecretNearExpiry \\
                             Microsoft.KeyVault.SecretExpired

(``azd up`` creates this subscription: infra/app/events.bicep.)

Only events of a vault this app is configured for (``AZURE_KEY_VAULT_URL``, the shards) are
accepted, and only for a secret whose scope lives in that vault (GLOBAL's and unmapped orgs'
in the default vault, a mapped org's in its shard: :mod:`shared.backends.vaults`); any other event,
including one that names no vault, is refused, logged and counted (``events.refused``).
An accepted event is a hint, never trusted for content: the secret's metadata is read
from the vault before the catalog row is written. A secret
about to expire changes no value: its catalog row is refreshed (the expiry health and
``doctor`` report) and a warning says to rotate it, but no change is recorded.
"""

from __future__ import annotations

import logging
from typing import Any

import azure.functions as func

from shared.admin.catalog_sync import SecretCatalog
from shared.backends.vaults import event_vault_name, vault_name_for
from shared.core.audit import log_fields
from shared.core.naming import split_keyvault_name
from shared.errors import ConfigError
from shared.resolver import ConfigResolver, get_resolver
from shared.settings import Settings

log = logging.getLogger("orgconfig.events")

NEW_VERSION = "Microsoft.KeyVault.SecretNewVersionCreated"
NEAR_EXPIRY = "Microsoft.KeyVault.SecretNearExpiry"
EXPIRED = "Microsoft.KeyVault.SecretExpired"
HANDLED = {NEW_VERSION, NEAR_EXPIRY, EXPIRED}

bp = func.Blueprint()


def configured_vaults(settings: Settings) -> set[str]:
    """The names (first label of the host, lower-case) of the vaults this app is configured
    for: ``AZURE_KEY_VAULT_URL`` and the ``AZURE_KEY_VAULT_SHARDS``."""
    urls = [settings.key_vault_url, *settings.key_vault_shards.values()]
    return {event_vault_name(url) for url in urls if url and event_vault_name(url)}


def _refuse(resolver: ConfigResolver, why: str, *args: object) -> None:
    resolver.metrics.incr("events.refused")
    log.warning("refusing Key Vault event: " + why, *args)


async def handle_keyvault_event(
    resolver: ConfigResolver, event_type: str, subject: str | None, data: Any
) -> str | None:
    """Update the catalog from the vault and bump the change sentinel for a secret event
    of our vault; returns the scoped name whose change was recorded, or None when the
    event is ignored (another type, a name outside orgconfig's scheme), refused (no vault,
    or not ours) or changes no value (near expiry: catalog refreshed, warning logged)."""
    if event_type not in HANDLED:
        return None
    data = data if isinstance(data, dict) else {}
    vault_name = str(data.get("VaultName") or "").lower()
    if not vault_name:
        _refuse(resolver, "%s names no vault", event_type)
        return None
    vault = resolver.secret_store.vaults.by_event_name(vault_name) \
        if resolver.settings.key_vault_url else None
    if vault is None:
        _refuse(resolver, "%s of vault %r, which this app is not configured for",
                event_type, vault_name[:64])
        return None
    name = str(data.get("ObjectName") or subject or "")
    parsed = split_keyvault_name(name)
    if parsed is None:
        log.info("ignoring Key Vault event for %r: not an orgconfig secret name", name[:130])
        return None
    scope, secret = parsed
    home = vault_name_for(resolver.settings, scope)
    if home != vault.name:
        # e.g. the copy left in the vault an org moved from: the resolver never reads it
        # there, so its events must not touch the catalog row or the caches of the org
        _refuse(resolver, "%s for %s--%s from vault %r, but that scope's secrets live in "
                "vault %r (AZURE_KEY_VAULT_ORG_VAULTS)", event_type, scope, secret[:64],
                vault.name, home)
        return None
    kind = event_type.rsplit(".", 1)[-1]
    resolver.metrics.incr(f"events.{kind}")
    try:
        created = str(data.get("Version") or "") if event_type == NEW_VERSION else None
        record = await SecretCatalog(resolver).refresh(scope, secret, current=created or None)
    except ConfigError as exc:
        # the sentinel still tells instances; the next event or reconcile fixes the row
        resolver.metrics.incr("catalog.write_failed")
        log.warning("catalog not updated for %s--%s after %s (%s)", scope, secret, kind,
                    exc.__class__.__name__)
        record = None
    when = record.expires_on.isoformat(timespec="seconds") \
        if record is not None and record.expires_on else str(data.get("EXP") or "unknown")
    if event_type == NEAR_EXPIRY:
        log.warning("Key Vault secret %s--%s expires at %s: rotate it (PUT "
                    "secrets/{scope}/{name})", scope, secret, when,
                    extra=log_fields(event=kind, secret=f"{scope}--{secret}"))
        return None  # no value changed: nothing for the caches
    await resolver.notify_change(scope, secret=secret)
    if event_type == EXPIRED:
        log.warning("Key Vault secret %s--%s expired at %s: set a new version (SECRET_EXPIRED_"
                    "POLICY decides whether reads still get it)", scope, secret, when,
                    extra=log_fields(event=kind, secret=f"{scope}--{secret}"))
    else:
        log.info("Key Vault %s for %s--%s: catalog and sentinel updated", kind, scope, secret)
    return f"{scope}--{secret}"


@bp.function_name("keyvault_events")
@bp.event_grid_trigger(arg_name="event")
async def keyvault_events(event: func.EventGridEvent) -> None:
    await handle_keyvault_event(get_resolver(), event.event_type, event.subject, event.get_json())


"""Key Vault → Event Grid → sentinel: secrets rotated directly in the vault reach every
instance within ``COHERENCE_CHECK_SECONDS``, not only after the secret TTL.

Wiring (once per vault)::

    az eventgrid event-subscription create \\
      --name orgconfig-secret-changes \\
      --source-resource-id $(az keyvault show -n VAULT --query id -o tsv) \\
      --endpoint-type azurefunction \\
      --endpoint $(az functionapp function show -g RG -n APP \\
                    --function-name keyvault_events --query id -o tsv) \\
      --included-event-types Microsoft.KeyVault.SecretNewVersionCreated \\
                             Microsoft.KeyVault.SecretExpired \\
                             Microsoft.KeyVault.SecretNearExpiry

(``azd up`` creates this subscription: infra/app/events.bicep.) A secret about to expire
changes no value, so it records no change; it is logged as a warning to rotate it.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func

from shared.naming import split_keyvault_name
from shared.resolver import ConfigResolver, get_resolver

log = logging.getLogger("orgconfig.events")

HANDLED = {
    "Microsoft.KeyVault.SecretNewVersionCreated",
    "Microsoft.KeyVault.SecretExpired",
}
#: Logged for the operator (rotate the secret); no value changed, so no change is recorded.
NEAR_EXPIRY = "Microsoft.KeyVault.SecretNearExpiry"

bp = func.Blueprint()


async def handle_keyvault_event(
    resolver: ConfigResolver, event_type: str, subject: str | None, data: Any
) -> str | None:
    """Bump the change sentinel for a secret event of our vault; returns the scoped name
    handled, or None when the event is ignored (another type, vault or naming scheme)."""
    data = data if isinstance(data, dict) else {}
    if event_type == NEAR_EXPIRY:
        name = str(data.get("ObjectName") or subject or "")[:130]
        log.warning("Key Vault secret %s expires at %s: rotate it (PUT secrets/{scope}/{name})",
                    name, data.get("EXP", "an unknown time"))
        return None
    if event_type not in HANDLED:
        return None
    vault_url = resolver.settings.key_vault_url
    vault_name = str(data.get("VaultName") or "")
    if vault_url and vault_name:
        ours = (urlsplit(vault_url).hostname or "").split(".")[0].lower()
        if vault_name.lower() != ours:
            log.warning("ignoring Key Vault event of vault %r (ours: %r)", vault_name, ours)
            return None
    name = str(data.get("ObjectName") or subject or "")
    parsed = split_keyvault_name(name)
    if parsed is None:
        log.info("ignoring Key Vault event for %r: not an orgconfig secret name", name[:130])
        return None
    scope, secret = parsed
    await resolver.notify_change(scope, secret=secret)
    log.info("Key Vault %s for %s--%s: change recorded", event_type.rsplit(".", 1)[-1],
             scope, secret)
    return f"{scope}--{secret}"


@bp.function_name("keyvault_events")
@bp.event_grid_trigger(arg_name="event")
async def keyvault_events(event: func.EventGridEvent) -> None:
    await handle_keyvault_event(get_resolver(), event.event_type, event.subject, event.get_json())

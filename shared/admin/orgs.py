"""Registering organizations: the first registration (or ``cli orgs adopt``) turns the
registry on, and first registers every org that already has config entries or secrets, so
no existing org becomes unknown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.backends.org_registry import Org, OrgExistsError, clean_display_name
from shared.core.naming import GLOBAL, canonical_org_id, split_keyvault_name
from shared.errors import InvalidNameError

if TYPE_CHECKING:
    from shared.resolver import ConfigResolver


async def orgs_with_data(resolver: ConfigResolver) -> set[str]:
    """Every org id with config entries (or catalog rows) in the table, or secrets in any
    of the vaults (their names, listed as metadata; never a value)."""
    found = {s for s in await resolver.config_store.list_scopes() if s != GLOBAL}
    store = resolver.secret_store
    if store.vault_configured:
        for vault in store.vaults:
            async def names(v: object = vault) -> list[str]:
                return [p.name or "" async for p in
                        v.client.list_properties_of_secrets()]  # type: ignore[attr-defined]

            for name in await vault.call("listing secret names for the org registry", names):
                parts = split_keyvault_name(name)
                if parts is not None and parts[0] != GLOBAL:
                    try:
                        found.add(canonical_org_id(parts[0]))
                    except InvalidNameError:
                        continue
    return found


async def adopt(resolver: ConfigResolver, by: str, *, exclude: str | None = None) -> list[str]:
    """Register every org that has data but ``exclude`` (turning the registry on); the ones
    added."""
    found = await orgs_with_data(resolver)
    found.discard(exclude or "")
    added = await resolver.orgs.adopt(sorted(found), by)
    for org_id in added:
        await resolver.notify_change(org_id)
    return added


async def register(resolver: ConfigResolver, org_id: str, display: str | None,
                   by: str) -> Org:
    """Register one org; the first registration adopts the other orgs that already have
    data. The requested org is never adopted: this request creates it (its display name as
    given), so its having data already is no 409."""
    org_id = canonical_org_id(org_id)
    if display is not None:
        clean_display_name(display)  # refused before anything is written
    if await resolver.orgs.get(org_id) is not None:
        raise OrgExistsError(f"org {org_id!r} is registered already")
    if not await resolver.orgs.enabled():
        await adopt(resolver, by, exclude=org_id)
    org = await resolver.orgs.register(org_id, display, by)
    await resolver.notify_change(org_id)
    return org


async def register_many(resolver: ConfigResolver, org_ids: list[str], by: str) -> list[str]:
    """Register these orgs (an import's): turning the registry on adopts every org with
    data first. The ones added."""
    wanted = sorted({canonical_org_id(o) for o in org_ids})
    if not await resolver.orgs.enabled():
        return sorted(set(await adopt(resolver, by)) | set(
            await resolver.orgs.adopt(wanted, by)))
    added = await resolver.orgs.adopt(wanted, by)
    for org_id in added:
        await resolver.notify_change(org_id)
    return added

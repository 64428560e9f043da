"""The secret catalog from the first minute: a deployment without a catalog builds it at
once instead of waiting for the hourly timer.

The first instance that finds no catalog marker (when its resolver first loads a GLOBAL
snapshot without the marker, i.e. on its first request: ``function_app.py`` wires
:func:`ensure_catalog_soon` as the process-wide resolver's ``on_catalog_missing``; or after
an admin write of a secret) claims the build with a row in the table (``GLOBAL/~catalog-claim``,
created only if absent; a claim older than :data:`CLAIM_SECONDS` is taken over with an
ETag-guarded replace, so a crashed builder does not block the others), runs the reconcile,
and removes the claim. Other instances see the claim and leave it to that one; every
instance trusts the catalog as soon as its GLOBAL snapshot shows the marker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode

from shared.admin.catalog_sync import SecretCatalog
from shared.core.naming import GLOBAL
from shared.errors import ConfigError
from shared.resolver import ConfigResolver

log = logging.getLogger("orgconfig.catalog")
CLAIM_ROW = "~catalog-claim"
CLAIM_SECONDS = 600.0

#: resolvers whose catalog is known to exist (no more checks in this process)
_known: weakref.WeakSet[ConfigResolver] = weakref.WeakSet()
_running: weakref.WeakKeyDictionary[ConfigResolver, asyncio.Task[bool]] = \
    weakref.WeakKeyDictionary()


async def ensure_catalog(resolver: ConfigResolver) -> bool:
    """Build the catalog if there is none and nobody else is building it; True if this
    call (or the build under way in this process's background, which it waits for)
    built it. Failures are logged, never raised: the timer builds it later."""
    running = _running.get(resolver)
    if running is not None and not running.done():
        return await asyncio.shield(running)
    return await _build(resolver)


async def _build(resolver: ConfigResolver) -> bool:
    if resolver in _known or not resolver.secret_store.vault_configured:
        return False
    try:
        catalog = SecretCatalog(resolver)
        if await catalog.marker() is not None:
            _known.add(resolver)
            return False
        if not await _claim(resolver):
            return False
        try:
            if await catalog.marker() is not None:  # built by the claim we just followed
                _known.add(resolver)
                return False
            report = await catalog.reconcile()
        finally:
            await _release(resolver)
    except ConfigError as exc:
        log.warning("could not build the secret catalog now (%s); the hourly reconcile will",
                    exc)
        return False
    _known.add(resolver)
    log.info("secret catalog built on first use: %d secrets", report.listed)
    return True


def ensure_catalog_soon(resolver: ConfigResolver) -> asyncio.Task[bool] | None:
    """:func:`ensure_catalog` in the background (one at a time per resolver): its task,
    or None when the catalog is known to exist. The app wires this as the process-wide
    resolver's :attr:`~shared.resolver.ConfigResolver.on_catalog_missing`."""
    running = _running.get(resolver)
    if resolver in _known:
        return None
    if running is None or running.done():
        running = _running[resolver] = resolver.run_in_background(_build(resolver))
    return running


async def _claim(resolver: ConfigResolver) -> bool:
    store = resolver.config_store
    await store.ensure_table()
    client = store.client
    now = datetime.now(UTC)
    entity = {"PartitionKey": GLOBAL, "RowKey": CLAIM_ROW, "ClaimedAt": now.isoformat()}

    async def claim() -> bool:
        try:
            await client.create_entity(entity)
            return True
        except ResourceExistsError:
            pass
        try:
            held: Any = await client.get_entity(GLOBAL, CLAIM_ROW)
        except ResourceNotFoundError:
            return False  # released meanwhile: the builder finished
        since = datetime.fromisoformat(str(held.get("ClaimedAt") or now.isoformat()))
        if now - since < timedelta(seconds=CLAIM_SECONDS):
            return False  # another instance is building it
        try:  # a stale claim (its builder died): take it over, one instance only
            await client.update_entity(entity, mode=UpdateMode.REPLACE,
                                       etag=held.metadata.get("etag"),
                                       match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        return True

    return await store.call("claiming the catalog build", claim)


async def _release(resolver: ConfigResolver) -> None:
    client = resolver.config_store.client
    with contextlib.suppress(ConfigError):
        await resolver.config_store.call(
            "releasing the catalog build", lambda: client.delete_entity(GLOBAL, CLAIM_ROW))

"""Which secret names exist in the vault: one paged listing per TTL instead of a 404 per org.

A ``secret_ref`` that lives only in GLOBAL is first looked up as ``{org}--{name}`` for
every org that reads it; without an index each of those lookups is a GET answered 404
(the benchmark's warm instances spent 86% of their vault calls on them). The index
lists the vault's secret *names* (``list_properties_of_secrets``: metadata only, never
a value) at most once per ``SECRET_NOT_FOUND_TTL_SECONDS`` and answers "certainly
absent" for a name it does not hold.

Names written after a listing started (reported by :meth:`note_change`, from admin
writes, the change sentinel and Key Vault events) are never answered "absent" until a
later listing includes them. If listing is not permitted (an identity with get but
not list rights) the index switches itself off and every lookup is a GET, as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from shared.cache import ExpiringCache
from shared.errors import BackendUnavailableError, SecretAccessError
from shared.metrics import Metrics

if TYPE_CHECKING:
    from azure.keyvault.secrets.aio import SecretClient

log = logging.getLogger("orgconfig.name_index")

CallVault = Callable[[str, Callable[[], Awaitable[frozenset[str]]]], Awaitable[frozenset[str]]]


class VaultNameIndex:
    """The lower-cased names of the vault's secrets (enabled or not), refreshed per TTL."""

    def __init__(
        self,
        client: Callable[[], SecretClient],
        call_vault: CallVault,
        metrics: Metrics,
        ttl: float,
        max_stale: float,
    ) -> None:
        self._client = client
        self._call_vault = call_vault
        self.metrics = metrics
        self.ttl = ttl
        self.enabled = True
        self._names: ExpiringCache[str, frozenset[str]] = ExpiringCache(max_stale=max_stale)
        self._changed_names: dict[str, float] = {}
        self._changed_scopes: dict[str, float] = {}
        self._retry_at = 0.0

    async def may_exist(self, full_name: str) -> bool:
        """False only when the vault certainly has no secret of that name."""
        if not self.enabled:
            return True
        name = full_name.lower()
        if name in self._changed_names or name.split("--", 1)[0] in self._changed_scopes:
            return True
        if not self._names.is_fresh("names") and time.monotonic() < self._retry_at:
            return True  # the last listing failed: GETs decide until the retry time
        try:
            lookup = await self._names.get("names", self._load)
        except SecretAccessError as exc:
            if exc.reason != "permission":
                raise
            self.enabled = False
            log.warning(
                "the vault refused to list secret names (no list permission); every lookup "
                "is now a GET. Grant list (Key Vault Secrets User) to save the 404s"
            )
            return True
        except BackendUnavailableError:
            # no answer from the index: let the GET decide, and do not list on every read
            self._retry_at = time.monotonic() + min(self.ttl, 30.0)
            return True
        return name in lookup.value

    async def _load(self) -> tuple[frozenset[str], float]:
        started = time.monotonic()

        async def list_names() -> frozenset[str]:
            pages = self._client().list_properties_of_secrets()
            return frozenset([p.name.lower() async for p in pages if p.name])

        names = await self._call_vault("a listing of secret names", list_names)
        self.metrics.incr("vault.index_refresh")
        # what changed before this listing began is in it; later changes stay exempt
        self._changed_names = {k: t for k, t in self._changed_names.items() if t >= started}
        self._changed_scopes = {k: t for k, t in self._changed_scopes.items() if t >= started}
        return names, self.ttl

    def note_change(self, full_name: str | None = None, scope: str | None = None) -> None:
        """A secret (or any secret of a scope, or anything) may have been created."""
        if full_name is not None:
            self._changed_names[full_name.lower()] = time.monotonic()
        elif scope is not None:
            self._changed_scopes[scope.lower()] = time.monotonic()
        else:
            self._names.clear()

    async def aclose(self) -> None:
        await self._names.aclose()

"""Which secret names exist in the vault: one paged listing per TTL instead of a 404 per org.

A ``secret_ref`` that lives only in GLOBAL is first looked up as ``{org}--{name}`` for
every org that reads it; without an index each of those lookups is a GET answered 404
(the benchmark's warm instances spent 86% of their vault calls on them). The index
lists the vault's secret *names* (``list_properties_of_secrets``: metadata only, never
a value) about once per ``SECRET_NOT_FOUND_TTL_SECONDS`` and answers "certainly
absent" for a name it does not hold.

- Reads never wait for a listing: it runs in the background (a large vault takes many
  pages); until the first one completes, and whenever the last one is too old, lookups
  are GETs as without an index.
- Names written after a listing started (reported by :meth:`note_change`, from admin
  writes, the change sentinel and Key Vault events) are never answered "absent" until
  a later listing includes them.
- While the secret catalog's first build runs on this instance (:meth:`hold_until`) no
  listing starts: the build lists the vault itself, and the catalog replaces the index.
- If listing is not permitted (an identity with get but not list rights) the index
  switches itself off; a failed listing is retried after a pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from azure.core.exceptions import HttpResponseError

from shared.core.metrics import Metrics

if TYPE_CHECKING:
    from azure.keyvault.secrets.aio import SecretClient

log = logging.getLogger("orgconfig.name_index")

#: a listing pages through the whole vault (25 names a page): its own, generous bound
LISTING_TIMEOUT_SECONDS = 120.0
RETRY_AFTER_FAILURE_SECONDS = 30.0


class VaultNameIndex:
    """The lower-cased names of the vault's secrets (enabled or not)."""

    def __init__(self, client: Callable[[], SecretClient], metrics: Metrics, ttl: float) -> None:
        self._client = client
        self.metrics = metrics
        self.ttl = ttl
        self.enabled = True
        self._names: frozenset[str] | None = None
        self._listed_at = 0.0
        self._life = 0.0
        self._retry_at = 0.0
        self._task: asyncio.Task[None] | None = None
        #: while this is under way no listing starts (lookups are GETs): the catalog's
        #: first build on this instance lists the vault already
        self._held_by: asyncio.Future[object] | None = None
        self._changed_names: dict[str, float] = {}
        self._changed_scopes: dict[str, float] = {}

    def may_exist(self, full_name: str) -> bool:
        """False only when the vault certainly has no secret of that name."""
        if not self.enabled:
            return True
        now = time.monotonic()
        if self._names is None or now - self._listed_at > self._life:
            self._refresh(now)
        name = full_name.lower()
        if self._names is None or now - self._listed_at > 2 * self.ttl:
            return True  # no listing yet, or too old to trust: the GET decides
        if name in self._changed_names or name.split("--", 1)[0] in self._changed_scopes:
            return True
        return name in self._names

    def hold_until(self, work: asyncio.Future[object]) -> None:
        """Start no listing until ``work`` is done (the catalog's first build, which lists
        the vault itself and then makes this index unnecessary)."""
        self._held_by = work

    def _refresh(self, now: float) -> None:
        if self._held_by is not None:
            if not self._held_by.done():
                return
            self._held_by = None
        if (self._task is None or self._task.done()) and now >= self._retry_at:
            self._task = asyncio.ensure_future(self._load())

    async def ready(self) -> None:
        """Wait for a listing under way (tests; a warm-up at start)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _load(self) -> None:
        started = time.monotonic()
        try:
            pages = self._client().list_properties_of_secrets()
            names = await asyncio.wait_for(
                _collect(pages), LISTING_TIMEOUT_SECONDS
            )
        except HttpResponseError as exc:
            if exc.status_code == 403:
                self.enabled = False
                log.warning(
                    "the vault refused to list secret names (no list permission); every "
                    "lookup is a GET. Grant list (Key Vault Secrets User) to save the 404s"
                )
                return
            self._failed(exc)
            return
        except Exception as exc:  # any failure: the GETs decide, and we retry later
            self._failed(exc)
            return
        self.metrics.incr("vault.index_refresh")
        # what changed before this listing began is in it; later changes stay exempt
        self._changed_names = {k: t for k, t in self._changed_names.items() if t >= started}
        self._changed_scopes = {k: t for k, t in self._changed_scopes.items() if t >= started}
        self._names, self._listed_at = names, started
        self._life = self.ttl * (1 - 0.1 * random.random())  # noqa: S311 - jitter
        self._retry_at = 0.0

    def _failed(self, exc: BaseException) -> None:
        self.metrics.incr("vault.index_failed")
        self._retry_at = time.monotonic() + min(self.ttl, RETRY_AFTER_FAILURE_SECONDS)
        log.warning("listing the vault's secret names failed (%s); retrying later",
                    exc.__class__.__name__)

    def note_change(self, full_name: str | None = None, scope: str | None = None) -> None:
        """A secret (or any secret of a scope, or anything) may have been created."""
        if full_name is not None:
            self._changed_names[full_name.lower()] = time.monotonic()
        elif scope is not None:
            self._changed_scopes[scope.lower()] = time.monotonic()
        else:
            self._names = None

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        self._task = None


async def _collect(pages: object) -> frozenset[str]:
    return frozenset([p.name.lower() async for p in pages if p.name])  # type: ignore[attr-defined]

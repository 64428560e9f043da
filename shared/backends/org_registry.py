"""The org registry: which organizations exist, with a display name and a status.

Rows live in a partition of their own, ``_orgs`` (no org id can spell it), one per org
(``RowKey`` = canonical org id: ``DisplayName``, ``Status``, ``CreatedAt``, ``CreatedBy``),
and the switch ``_orgs/~registry`` that says the registry is on. Nothing here is in a scope's
partition, so a config snapshot reload fetches exactly what it did before, at 200 orgs as
at 10,000; listing the orgs is one partition read. A request asks about one org with a
point read, cached for ``CONFIG_CACHE_TTL_SECONDS`` like a snapshot (a registration or a
status change made on this instance drops the cached answer at once; others see it within
the TTL, or at once through the change log).

Before the registry is turned on (the first registration, or ``cli orgs adopt``), every
org is known, as it always was.
"""

from __future__ import annotations

import contextlib
import difflib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.errors import ConfigError, ConfigValueError

T = TypeVar("T")
PARTITION = "_orgs"
SWITCH = "~registry"
Status = Literal["active", "suspended"]
STATUSES: tuple[Status, ...] = ("active", "suspended")
MAX_DISPLAY_NAME = 256


class UnknownOrgError(ConfigError, KeyError):
    """The org is not registered (the registry is on): a typo, or an org never added."""

    code = "unknown_org"

    def __init__(self, org_id: str, close: list[str]) -> None:
        self.org_id, self.close = org_id, close
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        super().__init__(f"no org {org_id!r} is registered{hint} Register it with POST orgs "
                         "(or `python -m shared.cli orgs add`)")

    def __str__(self) -> str:
        return str(self.args[0])


class OrgExistsError(ConfigError):
    code = "org_exists"


class OrgSuspendedError(ConfigError):
    code = "org_suspended"


@dataclass(frozen=True)
class Org:
    id: str
    display_name: str
    status: Status
    created_at: str | None
    created_by: str | None


class Table(Protocol):
    """What the registry needs of the config store."""

    @property
    def client(self) -> TableClient: ...

    async def call(self, what: str, op: Callable[[], Awaitable[T]]) -> T: ...

    async def ensure_table(self) -> None: ...


def _org(entity: Any) -> Org:
    status = str(entity.get("Status") or "active")
    return Org(str(entity["RowKey"]), str(entity.get("DisplayName") or entity["RowKey"]),
               status if status in STATUSES else "active",
               entity.get("CreatedAt"), entity.get("CreatedBy"))


class OrgRegistry:
    """Registered orgs, read and written through the config table."""

    def __init__(self, table: Table, ttl: float, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.table = table
        self.ttl = ttl
        self.clock = clock
        self._answers: dict[str, tuple[float, Org | None]] = {}
        self._switch: tuple[float, bool] | None = None
        self._ids: tuple[float, list[str]] | None = None

    def forget(self, org_id: str | None = None) -> None:
        """Drop cached answers (one org's, or all and the switch)."""
        self._ids = None
        if org_id is None:
            self._answers.clear()
            self._switch = None
        else:
            self._answers.pop(org_id, None)

    async def _point(self, row: str) -> Any:
        client = self.table.client

        async def read() -> Any:
            try:
                return await client.get_entity(PARTITION, row)
            except ResourceNotFoundError:
                return None

        return await self.table.call(f"a read of the org registry ({row})", read)

    async def enabled(self) -> bool:
        now = self.clock()
        if self._switch is not None and now - self._switch[0] < self.ttl:
            return self._switch[1]
        on = await self._point(SWITCH) is not None
        self._switch = (now, on)
        return on

    async def get(self, org_id: str) -> Org | None:
        """The registered org (cached), or None."""
        now = self.clock()
        cached = self._answers.get(org_id)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        entity = await self._point(org_id)
        org = None if entity is None else _org(entity)
        self._answers[org_id] = (now, org)
        return org

    async def require(self, org_id: str) -> Org | None:
        """The org, or :class:`UnknownOrgError` when the registry is on and does not hold
        it; None while the registry is off (every org is known)."""
        if not await self.enabled():
            return None
        org = await self.get(org_id)
        if org is None:
            known = await self._known_ids()
            raise UnknownOrgError(org_id, difflib.get_close_matches(org_id, known, n=3))
        return org

    async def _known_ids(self) -> list[str]:
        """Registered ids for naming close matches, cached for the TTL (a listing of 10,000
        orgs takes about half a second; a burst of typos should not repeat it)."""
        now = self.clock()
        if self._ids is None or now - self._ids[0] >= self.ttl:
            self._ids = (now, [o.id for o in await self.all()])
        return self._ids[1]

    async def all(self) -> list[Org]:
        client = self.table.client

        async def query() -> list[Org]:
            pager = client.query_entities(
                "PartitionKey eq @p and RowKey lt @end", parameters={"p": PARTITION, "end": "~"})
            try:
                return [_org(e) async for e in pager]
            except ResourceNotFoundError:
                return []

        return sorted(await self.table.call("a listing of the org registry", query),
                      key=lambda o: o.id)

    async def page(self, after: str | None, limit: int) -> tuple[list[str], bool]:
        """Registered org ids after ``after`` (in id order), at most ``limit``, and whether
        more follow: one range read of the registry partition."""
        client = self.table.client

        async def query() -> list[str]:
            pager = client.query_entities(
                "PartitionKey eq @p and RowKey gt @lo and RowKey lt @end",
                parameters={"p": PARTITION, "lo": after or "", "end": "~"},
                select=["RowKey"], results_per_page=min(limit + 1, 1000))
            ids: list[str] = []
            try:
                async for entity in pager:
                    ids.append(str(entity["RowKey"]))
                    if len(ids) > limit:
                        break
            except ResourceNotFoundError:
                return []
            return ids

        ids = await self.table.call("a page of the org registry", query)
        return ids[:limit], len(ids) > limit

    async def register(self, org_id: str, display_name: str | None, by: str) -> Org:
        """Add an org; :class:`OrgExistsError` if it is registered already. Turns the
        registry on (the caller registers existing orgs first: :meth:`adopt`)."""
        await self.table.ensure_table()
        entity = {"PartitionKey": PARTITION, "RowKey": org_id,
                  "DisplayName": clean_display_name(display_name or org_id), "Status": "active",
                  "CreatedAt": datetime.now(UTC).isoformat(timespec="seconds"),
                  "CreatedBy": by}
        client = self.table.client
        try:
            await self.table.call(f"registering org {org_id}",
                                  lambda: client.create_entity(entity))
        except ResourceExistsError:
            raise OrgExistsError(f"org {org_id!r} is registered already") from None
        await self._turn_on()
        self.forget(org_id)
        return _org(entity)

    async def _turn_on(self) -> None:
        client = self.table.client
        switch = {"PartitionKey": PARTITION, "RowKey": SWITCH,
                  "Since": datetime.now(UTC).isoformat(timespec="seconds")}

        async def create() -> None:
            with contextlib.suppress(ResourceExistsError):
                await client.create_entity(switch)

        await self.table.call("turning the org registry on", create)
        self._switch = (self.clock(), True)

    async def adopt(self, org_ids: list[str], by: str) -> list[str]:
        """Register each of ``org_ids`` not registered yet, then turn the registry on;
        returns the ones added."""
        await self.table.ensure_table()
        added = []
        for org_id in sorted(set(org_ids)):
            try:
                await self.register(org_id, None, by)
                added.append(org_id)
            except OrgExistsError:
                continue
        await self._turn_on()
        return added

    async def update(self, org_id: str, *, display_name: str | None = None,
                     status: Status | None = None) -> Org:
        """Rename and/or suspend or reactivate a registered org."""
        entity = await self._point(org_id)
        if entity is None:
            raise UnknownOrgError(org_id, [])
        changed = dict(entity)
        if display_name is not None:
            changed["DisplayName"] = clean_display_name(display_name)
        if status is not None:
            changed["Status"] = status
        client = self.table.client
        etag = entity.metadata.get("etag")
        await self.table.call(f"updating org {org_id}", lambda: client.update_entity(
            changed, mode=UpdateMode.REPLACE, etag=etag,
            match_condition=MatchConditions.IfNotModified))
        self.forget(org_id)
        return _org(changed)


def clean_display_name(name: str) -> str:
    """A display name as stored (whitespace collapsed), or ConfigValueError."""
    name = " ".join(name.split())
    if not name or len(name) > MAX_DISPLAY_NAME or any(ord(c) < 32 for c in name):
        raise ConfigValueError(
            f"a display name is 1 to {MAX_DISPLAY_NAME} printable characters")
    return name

"""Audit records of admin writes (defined in :mod:`shared.core.audit`, where every audit
record lives), and what follows a write the store answers late."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from shared.api.errors import RETRY_AFTER_SECONDS, ApiError
from shared.core.audit import Actor, audit_write
from shared.core.late import when_applied
from shared.errors import WriteOutcomeUnknownError

if TYPE_CHECKING:
    from shared.api.routing import Call

__all__ = ["Actor", "audit_write", "completed_if_late"]


@contextlib.asynccontextmanager
async def completed_if_late(call: Call[Any], scope: str, action: str, *,
                            secret: str | None = None, location: str | None = None,
                            landed: Callable[[], Awaitable[bool]] | None = None,
                            **fields: Any) -> AsyncIterator[None]:
    """Around a store write: if the store answers too late (503 ``write_outcome_unknown``),
    the write goes on, and once it lands this instance drops what it changed, records the
    change for the others and writes the audit record (``applied_late=True``), as the
    answered path does. ``location``: where to read what the write made (the 503 answer's
    ``Location``); ``landed``: whether the store holds what the write asked for, for a
    write whose late answer is a failure (see :func:`~shared.core.late.when_applied`)."""
    try:
        yield
    except WriteOutcomeUnknownError as exc:
        resolver, actor = call.resolver, call.actor

        async def follow_up(_: Any) -> None:
            await resolver.notify_change(scope, secret=secret)
            audit_write(action, actor, scope, applied_late=True, **fields)

        when_applied(exc.pending, follow_up, f"{action} of {scope}", landed=landed)
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if location:
            headers["Location"] = location
        raise ApiError(503, exc.code, str(exc), headers=headers, backend=exc.backend) from None

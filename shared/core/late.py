"""Bounded waits that do not cancel a write: when the bound passes, the write goes on.

A request already sent may be applied by the store however long it takes to answer;
cancelling our side only loses the answer (and with it the audit record, the
invalidation and the change record that should follow the write). So a write is awaited
for at most its time limit and then left running: :class:`StillRunning` (a
``TimeoutError``, so the callers' timeout mapping applies) carries the task, and
:func:`when_applied` runs the write's follow-up once it lands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

log = logging.getLogger("orgconfig.late")
T = TypeVar("T")

#: the writes still running after their caller gave up, kept referenced until they end
_RUNNING: set[asyncio.Future[Any]] = set()


class StillRunning(TimeoutError):
    """The bound passed; ``task`` is the write, still running."""

    def __init__(self, task: asyncio.Future[Any]) -> None:
        super().__init__("the write is still running")
        self.task = task


def _forget(task: asyncio.Future[Any]) -> None:
    _RUNNING.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: a late failure is not an "unretrieved" error


async def wait_without_cancelling(op: Awaitable[T], limit: float) -> T:
    """``op``'s result within ``limit`` seconds, else :class:`StillRunning` (``op`` goes on).
    Cancelling the caller still cancels ``op``: only the bound leaves it running."""
    task = asyncio.ensure_future(op)
    try:
        return await asyncio.wait_for(asyncio.shield(task), limit)
    except TimeoutError:
        _RUNNING.add(task)
        task.add_done_callback(_forget)
        raise StillRunning(task) from None
    except asyncio.CancelledError:
        task.cancel()
        raise


def when_applied(pending: asyncio.Future[Any], follow_up: Callable[[Any], Awaitable[None]],
                 what: str, *, landed: Callable[[], Awaitable[bool]] | None = None) -> None:
    """Run ``follow_up(result)`` once ``pending`` (a write left running) succeeds.

    A write that fails late may still have landed: the SDK retries an attempt whose answer
    timed out, and the retry of a conditional write that the store applied meanwhile fails
    its own condition (412). ``landed()`` says whether the store now holds what the write
    asked for; if so the follow-up runs (with ``None``), otherwise nothing was applied and
    nothing follows."""

    async def settle(task: asyncio.Future[Any]) -> None:
        if not task.cancelled() and task.exception() is None:
            log.warning("%s was applied after its caller gave up (the store answered late); "
                        "completing its audit, invalidation and change record", what)
            await follow_up(task.result())
            return
        if landed is not None and not task.cancelled() and await _ask(landed, what):
            log.warning("%s was applied after its caller gave up (a retry of it failed "
                        "its condition, the first attempt had landed); completing its audit, "
                        "invalidation and change record", what)
            await follow_up(None)
            return
        log.info("%s failed after its caller gave up (%s): nothing was applied", what,
                 "cancelled" if task.cancelled() else task.exception().__class__.__name__)

    def done(task: asyncio.Future[Any]) -> None:
        late = asyncio.ensure_future(settle(task))
        _RUNNING.add(late)
        late.add_done_callback(_forget)

    pending.add_done_callback(done)


async def _ask(landed: Callable[[], Awaitable[bool]], what: str) -> bool:
    """``landed()``, asked again while the store does not answer (it may still be coming
    back: the write failed late because it was unreachable), for up to about a minute."""
    pause = 0.5
    for _ in range(8):
        try:
            return await landed()
        except Exception as exc:
            log.info("cannot tell yet whether %s landed (%s); asking again",
                     what, exc.__class__.__name__)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 15.0)
    log.warning("could not tell whether %s landed: the store did not answer; its audit "
                "record and change record may be missing", what)
    return False


async def drain() -> None:
    """Wait for every write left running and its follow-up (tests, orderly shutdown)."""
    while _RUNNING:
        await asyncio.gather(*list(_RUNNING), return_exceptions=True)

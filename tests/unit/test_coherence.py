"""The change log's bookkeeping (pure logic): what an instance drops after a check."""

from __future__ import annotations

from shared.core.metrics import Metrics
from shared.read.coherence import ROW_PREFIX, Change, ChangeSentinel, row_key


class ScriptedSentinel(ChangeSentinel):
    """A change log whose window reads return scripted rows, on a settable clock."""

    def __init__(self, reads: list[list[Change]], *, lookback: float = 120) -> None:
        self.dropped: list[list[Change] | None] = []
        self.now = 1_000_000.0
        super().__init__(store=None, metrics=Metrics(), interval=5,  # type: ignore[arg-type]
                         on_change=self.dropped.append, clock=lambda: self.now,
                         lookback=lookback)
        self.reads = reads
        self.windows: list[float] = []

    async def _read(self, since: float) -> list[Change]:
        self.windows.append(since)
        return self.reads.pop(0)


def rows(*names: str) -> list[Change]:
    return [Change(f"{ROW_PREFIX}{n}", f"org-{n}", None if n.endswith("c") else "s") for n in names]


async def test_the_first_check_is_a_baseline_and_drops_nothing() -> None:
    s = ScriptedSentinel([rows("1c", "2s")])
    await s.check()
    assert s.dropped == [] and s.seen == {f"{ROW_PREFIX}1c", f"{ROW_PREFIX}2s"}


async def test_rows_already_seen_drop_nothing() -> None:
    s = ScriptedSentinel([rows("1c"), rows("1c")])
    await s.check()
    s.now += 5
    await s.check()
    assert s.dropped == []


async def test_exactly_the_rows_not_seen_yet_are_dropped() -> None:
    s = ScriptedSentinel([rows("1c"), rows("1c", "2s", "3c")])
    await s.check()
    s.now += 5
    await s.check()
    assert s.dropped == [rows("2s", "3c")]


async def test_a_row_that_lands_late_inside_the_window_is_still_dropped() -> None:
    # a slow writer's row sorts before rows already seen: the window, not a watermark, finds it
    s = ScriptedSentinel([rows("5c"), rows("5c", "6c"), rows("4s", "5c", "6c")])
    await s.check()
    for _ in range(2):
        s.now += 5
        await s.check()
    assert s.dropped == [rows("6c"), rows("4s")]


async def test_every_check_reads_the_whole_lookback_window() -> None:
    s = ScriptedSentinel([[], []], lookback=120)
    await s.check()
    s.now += 5
    await s.check()
    assert s.windows == [1_000_000.0 - 120, 1_000_005.0 - 120]


async def test_an_instance_whose_checks_failed_longer_than_the_window_drops_everything() -> None:
    s = ScriptedSentinel([rows("1c"), rows("9c")], lookback=120)
    await s.check()
    s.now += 200  # the table was unreachable: rows may have scrolled out of the window
    await s.check()
    assert s.dropped == [None]


async def test_a_baseline_taken_late_drops_everything() -> None:
    s = ScriptedSentinel([rows("4c")])
    s._checked_once = True  # an earlier baseline read failed: caches may predate changes
    await s.check()
    assert s.dropped == [None]


async def test_rows_that_left_the_window_are_forgotten() -> None:
    s = ScriptedSentinel([[Change(row_key(1_000_000.0 - 100), "acme")], []], lookback=120)
    await s.check()
    assert len(s.seen) == 1
    s.now += 30
    await s.check()
    assert s.seen == set()


def test_row_keys_sort_by_time_and_never_collide() -> None:
    keys = [row_key(t) for t in (1.0, 1.000001, 2.5, 10.0, 1e9)]
    assert keys == sorted(keys) and len({row_key(1.0) for _ in range(1000)}) == 1000
    assert row_key(5.0, "") < row_key(5.0) < row_key(5.000001, "")

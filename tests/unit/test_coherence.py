"""The change sentinel's bookkeeping (pure logic): what an instance drops after a check."""

from __future__ import annotations

from typing import Any

from shared.core.metrics import Metrics
from shared.read.coherence import Change, ChangeSentinel, _decode, _encode


class ScriptedSentinel(ChangeSentinel):
    """A sentinel whose reads return scripted (version, changes) states."""

    def __init__(self, states: list[tuple[int, list[Change]]]) -> None:
        self.dropped: list[list[Change] | None] = []
        super().__init__(store=None, metrics=Metrics(), interval=1,  # type: ignore[arg-type]
                         on_change=self.dropped.append)
        self.states = states

    async def _read(self) -> tuple[int, list[Change], str | None]:
        version, changes = self.states.pop(0)
        return version, changes, None


def log(*versions: int) -> list[Change]:
    return [Change(v, f"org{v}", None if v % 2 else f"s{v}") for v in versions]


async def test_the_first_check_is_a_baseline_and_drops_nothing() -> None:
    s = ScriptedSentinel([(3, log(1, 2, 3))])
    await s.check()
    assert s.seen == 3 and s.dropped == []


async def test_an_unchanged_version_drops_nothing() -> None:
    s = ScriptedSentinel([(3, log(1, 2, 3)), (3, log(1, 2, 3))])
    await s.check()
    await s.check()
    assert s.dropped == []


async def test_exactly_the_new_changes_are_dropped() -> None:
    s = ScriptedSentinel([(3, log(1, 2, 3)), (5, log(1, 2, 3, 4, 5))])
    await s.check()
    await s.check()
    assert s.dropped == [log(4, 5)]


async def test_falling_behind_the_log_drops_everything() -> None:
    s = ScriptedSentinel([(3, log(3)), (200, log(*range(101, 201)))])
    await s.check()
    await s.check()
    assert s.dropped == [None]


async def test_a_version_going_backwards_drops_everything() -> None:
    s = ScriptedSentinel([(7, log(7)), (2, log(1, 2))])  # the sentinel was recreated
    await s.check()
    await s.check()
    assert s.dropped == [None]


async def test_a_baseline_taken_late_drops_everything() -> None:
    s = ScriptedSentinel([(4, log(4))])
    s._checked_once = True  # an earlier baseline read failed: caches may predate changes
    await s.check()
    assert s.dropped == [None]


def test_the_change_log_round_trips_and_garbage_reads_as_a_full_change() -> None:
    changes = log(1, 2, 3)
    entity: dict[str, Any] = {"Version": 3, "Changes": _encode(changes)}
    assert _decode(entity) == (3, changes)
    assert _decode({"Version": "x", "Changes": "[]"})[0] == -1
    assert _decode({"Version": 1, "Changes": "{not json"})[0] == -1

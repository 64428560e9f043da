"""The memo's bookkeeping (shared.read.answers): hits counted cheaply, folded into the metrics
exactly, and never a value in a repr."""

from __future__ import annotations

from shared.core.metrics import Metrics
from shared.read import answers
from shared.read.answers import Answer, AnswerMemo

SECRET_COUNTS = (("config.cache_hit", 2), ("secret.cache_hit", 1))


def hit(memo: AnswerMemo, org: str, key: str, times: int) -> None:
    for _ in range(times):
        memo.of_org(org)[key].hits += 1  # what get_config does on a memo hit


def test_hits_reach_the_metrics_when_they_are_read() -> None:
    metrics = Metrics()
    memo = AnswerMemo(metrics)
    memo.store("acme", "pwd", Answer("v", 10.0, SECRET_COUNTS, "smtp-password", "kv"))
    hit(memo, "acme", "pwd", 3)
    assert metrics.get("answer.memo_hit") == 3
    assert metrics.snapshot()["config.cache_hit"] == 6
    assert metrics.get("secret.cache_hit") == 3
    hit(memo, "acme", "pwd", 1)
    assert metrics.get("secret.cache_hit") == 4  # nothing counted twice


def test_hits_of_dropped_and_replaced_answers_are_kept() -> None:
    metrics = Metrics()
    memo = AnswerMemo(metrics)
    memo.store("acme", "k", Answer(1, 10.0, (("config.cache_hit", 2),)))
    hit(memo, "acme", "k", 2)
    memo.store("acme", "k", Answer(2, 20.0, (("config.cache_hit", 2),)))  # replaced
    hit(memo, "acme", "k", 1)
    memo.clear()  # dropped
    assert len(memo) == 0
    assert metrics.get("config.cache_hit") == 6


def test_reset_discards_pending_hits() -> None:
    metrics = Metrics()
    memo = AnswerMemo(metrics)
    memo.store("acme", "k", Answer(1, 10.0, (("config.cache_hit", 2),)))
    hit(memo, "acme", "k", 2)
    metrics.reset()
    assert metrics.snapshot() == {}


def test_a_context_sees_a_clear_at_once() -> None:
    memo = AnswerMemo(Metrics())
    held = memo.of_org("acme")  # what an OrganizationContext keeps
    memo.store("acme", "k", Answer(1, 10.0, ()))
    assert "k" in held
    memo.clear()
    assert "k" not in held


def test_an_org_holds_a_bounded_number_of_answers() -> None:
    memo = AnswerMemo(Metrics())
    for i in range(answers.MAX_PER_ORG + 5):
        memo.store("acme", f"k{i}", Answer(i, 10.0, ()))
    assert len(memo) <= answers.MAX_PER_ORG


def test_repr_never_shows_the_value() -> None:
    answer = Answer("Zx-memo-canary", 10.0, SECRET_COUNTS, "smtp-password", "kv")
    memo = AnswerMemo(Metrics())
    memo.store("acme", "pwd", answer)
    assert "Zx-memo-canary" not in repr(answer) + repr(memo.of_org("acme"))

"""feeds.tokenbucket: the one bucket formula, and the budget of log lines by key on a clock the test moves."""

from __future__ import annotations

import math

from feeds.tokenbucket import LineBudget, refilled

from .fakeclock import FakeClock


def test_a_bucket_gains_rate_tokens_a_second_up_to_its_burst() -> None:
    assert refilled(0.0, since=10.0, now=10.5, rate=2.0, burst=5) == 1.0
    assert refilled(4.5, since=10.0, now=20.0, rate=2.0, burst=5) == 5
    assert refilled(math.inf, since=0.0, now=1.0, rate=2.0, burst=5) == 5  # a session's bucket starts full so


def test_each_key_has_its_burst_then_rate_lines_a_second_and_the_next_line_carries_the_count_held_back() -> None:
    clock = FakeClock()
    budget = LineBudget(rate=2.0, burst=3, max_keys=10, clock=clock.time)
    assert [budget.take("a") for _ in range(5)] == [0, 0, 0, None, None]
    assert budget.take("b") == 0  # another key has its own budget
    clock.advance(0.25)  # half a line's worth: still held back
    assert budget.take("a") is None
    clock.advance(0.25)  # held-back lines cost nothing: the refill since the last line counts
    assert [budget.take("a"), budget.take("a")] == [3, None]
    clock.advance(10.0)  # refilled to the burst, no further
    assert [budget.take("a") for _ in range(4)] == [1, 0, 0, None]


def test_a_quiet_budget_comes_back_only_after_an_interval_without_a_line_of_its_key() -> None:
    clock = FakeClock()
    budget = LineBudget(rate=1 / 60, burst=1, max_keys=10, clock=clock.time, quiet=True)
    assert budget.take("kind") == 0
    for _ in range(3):  # every 50 s: never a quiet minute, however long it goes on
        clock.advance(50.0)
        assert budget.take("kind") is None
    clock.advance(60.0)
    assert budget.take("kind") == 3
    assert budget.take("other") == 0


def test_at_most_max_keys_are_remembered_and_a_forgotten_key_starts_full() -> None:
    clock = FakeClock()
    budget = LineBudget(rate=1.0, burst=1, max_keys=3, clock=clock.time)
    for key in range(3):
        budget.take(key)
    assert budget.take(0) is None  # 0 is now the most recent: 1 is the least
    budget.take(3)
    assert len(budget) == 3
    assert budget.take(1) == 0  # forgotten: a full budget, no count
    assert budget.take(0) is None  # remembered, still spent

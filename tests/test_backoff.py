"""broker.backoff: the delays between attempts to reach Redis grow, are capped, jittered in full, and start over."""

from __future__ import annotations

import random

from broker.backoff import Backoff


def test_delays_are_drawn_below_a_ceiling_that_doubles_up_to_the_cap_and_starts_over_after_a_reset() -> None:
    backoff = Backoff(0.25, 5.0, random.Random(1))
    ceilings = [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    delays = [backoff.next() for _ in ceilings]
    assert all(0 <= delay <= ceiling for delay, ceiling in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)  # jittered: no two nodes come back on the same beat
    many = [backoff.next() for _ in range(1000)]
    assert max(many) <= 5.0 and max(many) > 4.5 and min(many) < 0.5  # uniform over all of [0, cap]
    backoff.reset()
    assert backoff.next() <= 0.25

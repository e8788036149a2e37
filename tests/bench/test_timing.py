"""bench.timing.interleaved: settling calls are untimed, blocks fill their time, rounds are shuffled."""

import pytest

from jiasu.bench.timing import interleaved


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_interleaved_times_blocks_after_untimed_settling_calls():
    clock = FakeClock()
    calls = []

    def fn(name, cost, first_cost):
        def call():
            # The first call of each visit is slow (another callable's threads still spin); later ones are not.
            clock.now += first_cost if not calls or calls[-1] != name else cost
            calls.append(name)
        return call

    # Binary fractions, so the fake clock adds up exactly.
    fns = {"a": fn("a", 0.25, 1.0), "b": fn("b", 0.5, 1.0)}
    samples = interleaved(fns, rounds=4, block_s=2.0, settle_s=1.25, clock=clock)
    # Settling absorbs the slow first call, so every timed call is at its steady cost.
    assert samples == {"a": [0.25] * 4, "b": [0.5] * 4}
    # Per visit: 8 and 4 timed calls fill 2.0, after at least 2 settling calls (1.0 + 0.25 and 1.0 + 0.5 reach 1.25;
    # a visit that follows its own callable across a round boundary has no slow call and settles longer).
    assert calls.count("a") >= 4 * 10 and calls.count("b") >= 4 * 6


def test_interleaved_shuffles_the_order_of_each_round():
    clock = FakeClock()
    visits = []

    def fn(name):
        def call():
            clock.now += 1.0
            if not visits or visits[-1] != name:
                visits.append(name)
        return call

    interleaved({n: fn(n) for n in "abcde"}, rounds=6, block_s=0.0, settle_s=0.0, seed=1, clock=clock)
    orders = [tuple(visits[5 * r : 5 * r + 5]) for r in range(6)]
    assert all(sorted(o) == list("abcde") for o in orders)
    assert len(set(orders)) > 1


def test_interleaved_without_settling_times_every_call():
    clock = FakeClock()
    n = []

    def call():
        clock.now += 0.5
        n.append(1)

    assert interleaved({"x": call}, rounds=2, block_s=0.0, settle_s=0.0, clock=clock) == {"x": [0.5, 0.5]}
    assert len(n) == 2
    with pytest.raises(ValueError, match="rounds must be >= 1, got 0"):
        interleaved({"x": call}, rounds=0)

"""The mixed plan: every applicable strategy measured on the case at hand, the fastest one kept.

"Case" is the feeds' shapes: the first run at a new shape times each candidate
(a screen, then ``repeats`` interleaved rounds of the contenders; see
:func:`choose_strategy`) and remembers the winner for that
shape, so batch 1 may run spatially split and batch 64 data-parallel. Since the
winner is the measured minimum over the candidates, the mixed plan is never
slower than the best single strategy beyond measurement noise. Candidates that
do not apply (``StrategyError``) are recorded with their reason.
"""

from __future__ import annotations

from typing import Any, Optional

from .base import Runner, StrategyError

#: what the mixed plan tries by default, as (strategy, options).
DEFAULT_CANDIDATES: list[tuple[str, dict]] = [
    ("sequential", {}),
    ("intra_op", {}),
    ("batch", {}),
    ("pipeline", {"micro_batch": 4}),
    ("spatial", {}),
    ("spatial", {"tail_threads": 1}),
    ("inter_op", {"policy": "fifo"}),
    ("inter_op", {"policy": "small_first"}),
    ("inter_op", {"policy": "critical_path"}),
]


#: per candidate and round: seconds of untimed calls, then of timed ones (at least one call each). Enough
#: settling for libgomp's spinning threads to yield (a few ms); short enough that nine candidates x five
#: rounds of a 1 ms model choose in well under a second.
CHOICE_SETTLE_S = 0.005
CHOICE_BLOCK_S = 0.01
#: rounds of the screen; candidates over this factor of the screen's fastest are out of the final rounds.
SCREEN_ROUNDS = 2
CONTENDER_MARGIN = 1.3


def candidate_label(name: str, options: dict) -> str:
    return name + "".join(f":{k}={v}" for k, v in sorted(options.items()))


def parse_label(label: str) -> tuple[str, dict[str, Any]]:
    """The inverse of :func:`candidate_label`: ``"inter_op:policy=fifo"`` -> ``("inter_op", {"policy": "fifo"})``."""
    name, *pairs = label.split(":")
    options: dict[str, Any] = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        options[key] = int(value) if value.isdigit() else value
    return name, options


def choose_strategy(engine, feeds, candidates: Optional[list[tuple[str, dict]]] = None, workers: int = 2, repeats: int = 5,
                    info=None, costs=None) -> tuple[str, dict[str, Any], dict[str, Runner]]:
    """Time every candidate on ``feeds``; the fastest wins.

    A screen of ``SCREEN_ROUNDS`` rounds times every candidate; those within
    ``CONTENDER_MARGIN`` of its fastest go on to ``repeats`` more rounds. A
    candidate's timing is its best round in either stage (a burst of load
    elsewhere only ever adds time, and a one-shot choice must not be swayed by
    one). Each round visits the candidates in a shuffled order and times a short
    block of calls after untimed settling calls
    (:func:`jiasu.bench.timing.interleaved`): the previous candidate's idle
    worker threads spin for milliseconds, which a single timed call per
    candidate in a fixed cycle charged to whichever came next. Returns (winning
    label, label -> seconds per call or why the candidate does not apply,
    label -> runner built for each candidate that applies).
    """
    from ...bench.timing import interleaved
    from . import make_runner
    from ._graph import GraphInfo, step_costs

    info = info or GraphInfo(engine)
    if costs is None:
        costs = step_costs(engine, feeds)
    timings: dict[str, Any] = {}
    runners: dict[str, Runner] = {}
    for name, options in candidates or DEFAULT_CANDIDATES:
        label = candidate_label(name, options)
        try:
            runner = make_runner(engine, name, workers, info=info, costs=costs, **options)
            runner.run(feeds)  # warm-up: per-shape plans, weight transforms, thread pools
        except StrategyError as e:
            timings[label] = f"not applicable: {e}"
            continue
        runners[label] = runner
    if not runners:
        raise StrategyError("no candidate strategy applies to this model and batch; include 'sequential' among the candidates")
    calls = {label: (lambda r=runner: r.run(feeds)) for label, runner in runners.items()}
    # Two stages: a quick screen of every candidate, then the contenders alone for `repeats` rounds, so the
    # time goes to telling close candidates apart (on 2 cores the strategies span 0.5x to 2x).
    screen = interleaved(calls, rounds=SCREEN_ROUNDS, block_s=CHOICE_BLOCK_S, settle_s=CHOICE_SETTLE_S)
    for label in runners:
        timings[label] = min(screen[label])
    fastest = min(timings[label] for label in runners)
    contenders = {label: fn for label, fn in calls.items() if timings[label] <= CONTENDER_MARGIN * fastest}
    if len(contenders) > 1:
        final = interleaved(contenders, rounds=repeats, block_s=2 * CHOICE_BLOCK_S, settle_s=CHOICE_SETTLE_S, seed=1)
        for label in contenders:
            timings[label] = min(timings[label], *final[label])  # best round of both stages: stays under the others
    best = min(contenders, key=timings.get)
    return best, timings, runners


class Mixed(Runner):
    name = "mixed"

    def __init__(self, engine, workers=2, candidates: Optional[list[tuple[str, dict]]] = None, repeats: int = 5, **kw):
        kw.pop("costs", None)
        kw.pop("feeds", None)
        super().__init__(engine, workers, **kw)
        self.candidates = candidates or DEFAULT_CANDIDATES
        self.repeats = repeats
        self.choices: dict[tuple, tuple[str, dict]] = {}  # shape key -> (label, timings)
        self._winners: dict[tuple, Runner] = {}

    def run(self, feeds):
        key = tuple((k, tuple(getattr(v, "shape", ()))) for k, v in sorted(feeds.items()))
        if key not in self._winners:
            best, timings, runners = choose_strategy(self.engine, feeds, self.candidates, self.workers, self.repeats, info=self.info)
            for label, r in runners.items():
                if label != best:
                    r.close()
            self.choices[key] = (best, timings)
            self._winners[key] = runners[best]
        return self._winners[key].run(feeds)

    def describe(self):
        return {"strategy": self.name, "workers": self.workers,
                "chosen": {str(dict(k)): label for k, (label, _) in self.choices.items()}}

    def close(self):
        for r in self._winners.values():
            r.close()

"""Every multi-core strategy against the sequential engine (max abs difference <= 1e-5), and their errors.

Models are the zoo networks at reduced image sizes (as in tests/runtime/test_zoo_models.py),
at batch 1 and 3, both as exported and after jiasu's graph passes (FusedConv nodes).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

import jiasu
from jiasu.passes import optimize
from jiasu.runtime.parallel import STRATEGIES, StrategyError, choose_strategy, make_runner, step_costs

TOLERANCE = 1e-5
MODELS = {"resnet18": {"image_size": 64}, "googlenet": {"image_size": 64}, "unet": {"image_size": 32}, "smallcnn": {}}
CASES = [
    ("sequential", {}),
    ("intra_op", {}),
    ("batch", {}),
    ("pipeline", {"micro_batch": 1}),
    ("pipeline", {"micro_batch": 2}),
    ("spatial", {}),
    ("spatial", {"tail_threads": 1}),
    ("inter_op", {"policy": "fifo"}),
    ("inter_op", {"policy": "small_first"}),
    ("inter_op", {"policy": "critical_path"}),
]


@functools.lru_cache(maxsize=8)
def engine(name: str, fused: bool) -> jiasu.Engine:
    model = jiasu.load(f"zoo:{name}", **MODELS[name])
    if fused:
        optimize(model)
    return jiasu.Engine(model)


@functools.lru_cache(maxsize=8)
def costs(name: str, fused: bool) -> list[float]:
    e = engine(name, fused)
    return step_costs(e, jiasu.example_feeds(e.model, batch=1), repeats=1)


@functools.lru_cache(maxsize=16)
def reference(name: str, fused: bool, batch: int):
    e = engine(name, fused)
    feeds = jiasu.example_feeds(e.model, batch=batch, seed=batch)
    return feeds, e.run_numpy(feeds)


def assert_exact(out: dict, ref: dict, label: str) -> None:
    assert list(out) == list(ref), label
    for k, expected in ref.items():
        got = out[k].detach().numpy()
        assert got.shape == expected.shape, label
        assert np.abs(expected).max() > 0, "reference must be a meaningful signal"
        err = float(np.abs(got - expected).max())
        assert err <= TOLERANCE, f"{label} {k}: max abs error {err:.2e}"


@pytest.mark.parametrize(
    "name, fused",
    [(name, False) for name in MODELS]
    + [("resnet18", True), ("smallcnn", True)]
    + [pytest.param("googlenet", True, marks=pytest.mark.slow), pytest.param("unet", True, marks=pytest.mark.slow)],
)
def test_every_strategy_is_exact(name, fused):
    e = engine(name, fused)
    old = torch.get_num_threads()
    for batch in (1, 3):
        feeds, ref = reference(name, fused, batch)
        for strategy, options in CASES:
            label = f"{name} batch {batch} {strategy} {options}"
            with make_runner(e, strategy, 2, costs=costs(name, fused), **options) as runner:
                if strategy == "batch" and batch == 1:
                    with pytest.raises(StrategyError) as info:
                        runner.run(feeds)
                    assert str(info.value) == (
                        "batch strategy needs a batch of at least 2 (one item per worker), got 1; "
                        "use 'spatial' or 'inter_op' for a single image"
                    )
                    continue
                assert_exact(runner.run(feeds), ref, label)
                if strategy in ("spatial", "inter_op"):  # their per-shape plans and buffers are reused
                    assert_exact(runner.run(feeds), ref, label + " (second run)")
    assert torch.get_num_threads() == old, "strategies must restore torch's thread count"


def test_spatial_split_really_splits_with_halos():
    e = engine("smallcnn", False)
    feeds, ref = reference("smallcnn", False, 4)
    runner = make_runner(e, "spatial", 2)
    assert runner.describe()["chain"] == ["Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Conv"]
    plan = runner.plan_for(88, 88)
    assert len(plan.tiles) == 2
    first, second = plan.tiles[0][0], plan.tiles[1][0]
    assert first.lo == 0 and second.hi == 88
    assert first.hi > second.lo, "the parts' input rows must overlap by the halo"
    assert_exact(runner.run(feeds), ref, "spatial smallcnn")
    runner.close()


def test_three_workers_and_pipeline_stages_are_balanced():
    e = engine("resnet18", True)
    feeds, ref = reference("resnet18", True, 4)
    for strategy in ("batch", "spatial", "pipeline", "inter_op"):
        with make_runner(e, strategy, 3, costs=costs("resnet18", True)) as runner:
            assert_exact(runner.run(feeds), ref, f"{strategy} x3")
    runner = make_runner(e, "pipeline", 2, costs=costs("resnet18", True))
    stage = runner.stage_costs
    assert len(stage) == 2 and max(stage) < 0.8 * sum(stage), f"stages not balanced: {stage}"


def test_mixed_picks_the_measured_fastest_and_is_exact():
    e = engine("smallcnn", False)
    feeds, ref = reference("smallcnn", False, 4)
    candidates = [("sequential", {}), ("batch", {}), ("spatial", {})]
    best, timings, runners = choose_strategy(e, feeds, candidates, repeats=2)
    assert set(timings) == {"sequential", "batch", "spatial"}
    assert timings[best] == min(timings.values())
    for r in runners.values():
        r.close()
    with make_runner(e, "mixed", 2, candidates=candidates, repeats=2) as runner:
        assert_exact(runner.run(feeds), ref, "mixed")
        assert list(runner.describe()["chosen"].values())[0] in timings


def test_mixed_choice_is_not_charged_for_the_previous_candidates_threads(monkeypatch):
    """A candidate run right after another pays a transition cost (that one's threads still spin); the choice must not count it.

    "fast" costs 1 ms, but 6 ms on the first call after "steady" ran; "steady" always costs 2 ms. One timed call
    each in a fixed cycle measured fast at 6 ms and chose steady; settling calls before each block do not.
    """
    import time as time_mod

    from jiasu.runtime.parallel.base import Runner

    last = []

    def fake(name, cost, after_steady=0.0):
        class Fake(Runner):
            def run(self, feeds):
                time_mod.sleep(cost + (after_steady if last and last[-1] == "steady" else 0.0))
                last.append(name)
                return {}

        Fake.name = name
        return Fake

    monkeypatch.setitem(STRATEGIES, "fast", fake("fast", 0.001, after_steady=0.005))
    monkeypatch.setitem(STRATEGIES, "steady", fake("steady", 0.002))
    monkeypatch.setitem(STRATEGIES, "hopeless", fake("hopeless", 0.004))
    e = engine("smallcnn", False)
    feeds, _ = reference("smallcnn", False, 1)
    best, timings, runners = choose_strategy(e, feeds, [("steady", {}), ("fast", {}), ("hopeless", {})], repeats=3, costs=[0.0] * len(e.steps))
    assert best == "fast", timings
    assert timings["fast"] < 0.0018 < 0.0019 < timings["steady"], timings  # charged, fast would be 6 ms
    # hopeless was screened out: over 1.3x the fastest, it is not among the final rounds (its time stays the screen's)
    assert timings["hopeless"] > 1.3 * timings["fast"]
    assert timings[best] == min(timings.values())


def test_mixed_records_why_a_candidate_does_not_apply():
    e = engine("smallcnn", False)
    feeds, _ = reference("smallcnn", False, 1)
    best, timings, _ = choose_strategy(e, feeds, [("sequential", {}), ("batch", {})], repeats=1)
    assert best == "sequential"
    assert timings["batch"] == (
        "not applicable: batch strategy needs a batch of at least 2 (one item per worker), got 1; "
        "use 'spatial' or 'inter_op' for a single image"
    )


def _engine_of(module, shape):
    return jiasu.Engine(jiasu.load(module, example_input=torch.zeros(shape)))


def test_spatial_split_refuses_a_graph_without_a_conv_chain():
    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 4)).eval()
    with pytest.raises(StrategyError) as info:
        make_runner(_engine_of(mlp, (1, 1, 4, 4)), "spatial", 2)
    message = str(info.value)
    assert message.startswith("spatial split needs a chain of Conv/MaxPool/AveragePool layers at the graph's input; this graph starts with Flatten node")
    assert message.endswith("; use 'batch', 'pipeline' or 'inter_op'")


def test_unknown_strategy_and_policy_name_the_choices():
    e = engine("smallcnn", False)
    with pytest.raises(StrategyError) as info:
        make_runner(e, "warp", 2)
    assert str(info.value) == f"unknown strategy 'warp'; available: {', '.join(sorted(STRATEGIES))}"
    with pytest.raises(StrategyError) as info:
        make_runner(e, "inter_op", 2, policy="random", costs=[0.0] * len(e.steps))
    assert str(info.value) == "unknown scheduling policy 'random'; available: critical_path, fifo, small_first"
    with pytest.raises(StrategyError) as info:
        make_runner(e, "pipeline", 1, costs=[0.0] * len(e.steps))
    assert str(info.value) == "a pipeline needs at least 2 workers (one per stage)"

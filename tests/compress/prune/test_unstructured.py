"""Unstructured pruning: exact sparsities, what magnitude keeps, masks that survive training, and export."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

import jiasu
from jiasu import zoo
from jiasu.compress.prune import (
    choose_ratios,
    count_nonzero,
    gradual_steps,
    iterative_prune,
    make_permanent,
    prune_unstructured,
    sensitivity_scan,
    sparsity_report,
)
from jiasu.data import fashion_mnist as fm
from jiasu.errors import JiasuError
from jiasu.frontends import export_module
from jiasu.train import evaluate, fit


def fmnist_cnn():
    return zoo.get("smallcnn", num_classes=10, image_size=28, padding=2)


def two_layer():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))


@pytest.mark.parametrize("method", ["magnitude", "random"])
@pytest.mark.parametrize("scope", ["global", "layer"])
def test_sparsity_is_exact(method, scope):
    model = fmnist_cnn()
    per_layer = prune_unstructured(model, 0.9, method=method, scope=scope)
    total = sum(r.total for r in sparsity_report(model))
    nonzero = sum(r.nonzero for r in sparsity_report(model))
    assert nonzero == total - round(0.9 * total) if scope == "global" else abs(1 - nonzero / total - 0.9) < 1e-4
    if scope == "layer":
        assert all(abs(s - 0.9) < 1e-3 for s in per_layer.values())


def test_global_magnitude_keeps_the_largest_weights():
    model = two_layer()
    weights = torch.cat([model[0].weight.detach().abs().flatten(), model[2].weight.detach().abs().flatten()])
    prune_unstructured(model, 0.75)
    kept = torch.cat([model[0].weight.detach().flatten(), model[2].weight.detach().flatten()]) != 0
    threshold = weights.sort().values[round(0.75 * len(weights))]
    assert torch.equal(kept, weights >= threshold)


def test_per_layer_ratios_override():
    model = two_layer()
    sp = prune_unstructured(model, 0.5, per_layer={"0": 0.9})
    assert sp == pytest.approx({"0": 0.9, "2": 0.5}, abs=1e-6)


def test_raising_sparsity_only_adds_to_the_pruned_set_even_at_random():
    model = two_layer()
    prune_unstructured(model, 0.5, method="random", seed=1)
    zero_before = [m.weight.detach() == 0 for m in (model[0], model[2])]
    prune_unstructured(model, 0.8, method="random", seed=2)
    for z, m in zip(zero_before, (model[0], model[2])):
        assert torch.all((m.weight.detach() == 0)[z])


def test_masks_survive_training_and_make_permanent_keeps_zeros():
    model, data = fmnist_cnn().train(), fm.load_subset("train").take(128)
    prune_unstructured(model, 0.8)
    fit(model, data, epochs=1, batch_size=32, progress=False, num_workers=0)
    zeros = [r.total - r.nonzero for r in sparsity_report(model)]
    make_permanent(model)
    assert not any(hasattr(m, "weight_mask") for m in model.modules())
    assert [r.total - r.nonzero for r in sparsity_report(model)] == zeros
    nonzero, total = count_nonzero(model)
    assert total == sum(p.numel() for p in model.parameters()) and nonzero < 0.25 * total


def test_pruned_model_exports_and_matches_torch_on_our_engine_and_onnxruntime():
    model = fmnist_cnn()
    prune_unstructured(model, 0.9)
    make_permanent(model)
    x = fm.load_subset("test").images[:8]
    with torch.no_grad():
        expected = model.eval()(x).numpy()
    onnx_bytes = export_module(model, x[:1])
    ours = jiasu.Engine(jiasu.load(onnx_bytes)).run({"input": x})["output"].numpy()
    theirs = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(theirs, expected, rtol=0, atol=1e-5)


def test_gradual_steps_end_at_the_target():
    steps = gradual_steps(0.9, 3)
    assert steps[-1] == pytest.approx(0.9) and steps == sorted(steps)
    assert steps[0] == pytest.approx(0.9 * (1 - (2 / 3) ** 3))


def test_iterative_prune_retrains_back_up():
    # Trained 1 epoch on the bundled subset, then pruned to 90% in 2 steps with 1 retraining epoch each:
    # retraining must recover most of what pruning alone lost (accuracies on the bundled test images).
    train, test = fm.load_subset("train"), fm.load_subset("test")
    model = fmnist_cnn().train()
    fit(model, train, epochs=1, batch_size=32, lr=2e-3, progress=False, num_workers=0)
    dense = evaluate(model, test).accuracy
    steps = iterative_prune(model, train, test, 0.9, steps=2, batch_size=32, lr=1e-3, progress=False, num_workers=0)
    assert [round(s.sparsity, 4) for s in steps] == [round(0.9 * 7 / 8, 4), 0.9]
    assert steps[-1].accuracy_after_retrain >= dense - 0.03
    assert abs(1 - count_nonzero(make_permanent(model))[0] / count_nonzero(model)[1] - 0.9) < 0.01


def test_sensitivity_scan_and_ratios():
    model, data = two_layer(), None
    from jiasu.data import ArrayDataset

    torch.manual_seed(1)
    x = torch.randn(64, 1, 1, 10)
    model = nn.Sequential(nn.Flatten(), nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))
    with torch.no_grad():
        y = model(x).argmax(1)
    data = ArrayDataset(x, y)
    base, points = sensitivity_scan(model, data, sparsities=(0.25, 0.5, 0.99))
    assert base == 1.0 and len(points) == 6
    assert {(p.layer, p.sparsity) for p in points} == {(l, s) for l in ("1", "3") for s in (0.25, 0.5, 0.99)}
    assert all(torch.count_nonzero(m.weight) == m.weight.numel() for m in (model[1], model[3]))  # unchanged
    ratios = choose_ratios(base, points, max_drop=0.0)
    for layer, r in ratios.items():
        ok = [p.sparsity for p in points if p.layer == layer and p.accuracy == 1.0]
        assert r == max(ok, default=0.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sparsity": 1.0}, "sparsity must be in [0, 1), got 1.0"),
        ({"sparsity": 0.5, "method": "taylor"}, "unknown pruning method 'taylor'; choose one of magnitude, random"),
        ({"sparsity": 0.5, "scope": "net"}, "unknown pruning scope 'net'; choose one of global, layer"),
        ({"sparsity": 0.5, "exclude": ["fc9"]}, "cannot exclude fc9: not a Conv or Linear layer of the model; prunable: 0, 2"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(JiasuError) as e:
        prune_unstructured(two_layer(), **kwargs)
    assert str(e.value) == message

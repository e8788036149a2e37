"""Structured pruning through residual adds (resnet18), concats (googlenet) and depthwise convs (mobilenet_v2).

Each pruned network must be a valid smaller model: fewer channels and MACs, the
same output shape, and an ONNX export that our engine and ONNX Runtime both
run with the same result as torch.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

import jiasu
from jiasu import zoo
from jiasu.compress.prune import count_macs_params, prune_channels
from jiasu.errors import JiasuError
from jiasu.frontends import export_module

pytest.importorskip("torch_pruning", reason="structured pruning needs torch-pruning (pip install 'jiasu[prune]')")


def conv_widths(model):
    return [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize("name", ["resnet18", "googlenet", "mobilenet_v2"])
def test_pruned_network_is_smaller_valid_and_exports(name):
    model = zoo.get(name, num_classes=10)
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    widths = conv_widths(model)
    result = prune_channels(model, x[:1], 0.5)
    # Half the channels leave about a quarter of the MACs (both sides of most convs shrink).
    assert 0.2 < result.mac_ratio < 0.35 and result.params_after < 0.4 * result.params_before
    assert (result.macs_after, result.params_after) == count_macs_params(model.eval(), x[:1])
    new_widths = conv_widths(model)
    assert len(new_widths) == len(widths) and sum(new_widths) < 0.55 * sum(widths)
    with torch.no_grad():
        expected = model(x).numpy()
    assert expected.shape == (2, 10)
    onnx_bytes = export_module(model, x[:1])
    ours = jiasu.Engine(jiasu.load(onnx_bytes)).run({"input": x})["output"].numpy()
    theirs = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(theirs, expected, rtol=1e-4, atol=1e-4)


def test_depthwise_groups_follow_their_channels():
    model = zoo.get("mobilenet_v2", num_classes=10)
    prune_channels(model, torch.rand(1, 3, 64, 64), 0.3)
    depthwise = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert depthwise and all(m.groups == m.in_channels == m.out_channels for m in depthwise)


def test_googlenet_concat_feeds_the_right_width():
    model = zoo.get("googlenet", num_classes=10)
    prune_channels(model, torch.rand(1, 3, 64, 64), 0.5)
    fc = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    assert fc.out_features == 10 and fc.in_features < 1024


def test_residual_add_keeps_branches_equal():
    model = zoo.get("resnet18", num_classes=10)
    prune_channels(model, torch.rand(1, 3, 64, 64), 0.5)
    for block in (m for m in model.modules() if hasattr(m, "conv2") and hasattr(m, "conv1")):
        identity_width = block.conv1.in_channels if getattr(block, "downsample", None) is None else block.downsample[0].out_channels
        assert block.conv2.out_channels == identity_width


def test_bn_importance_needs_batchnorm():
    model = zoo.get("smallcnn", num_classes=10, image_size=28, padding=2)
    with pytest.raises(JiasuError) as e:
        prune_channels(model, torch.rand(1, 1, 28, 28), 0.5, importance="bn")
    assert str(e.value) == "importance 'bn' ranks channels by BatchNorm scale, but the model has no BatchNorm; use 'l1' or 'l2'"


def test_bn_importance_prunes_resnet():
    model = zoo.get("resnet18", num_classes=10)
    r = prune_channels(model, torch.rand(1, 3, 64, 64), 0.3, importance="bn")
    assert r.mac_ratio < 0.6


def test_round_to_keeps_widths_multiples_of_eight():
    model = zoo.get("smallcnn", num_classes=10, image_size=28, padding=2)
    prune_channels(model, torch.rand(1, 1, 28, 28), 0.3, round_to=8)
    assert conv_widths(model) == [8, 32, 64] and model.fc1.out_features == 88

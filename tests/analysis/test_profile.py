"""profile() on the zoo against the published figures, and its public behaviour.

The published figures (parameters, MACs, and the convolution share of each) are
those of the field's comparison tables (e.g. Sze et al., "Efficient Processing
of Deep Neural Networks", Proc. IEEE 2017, Table 3) and of torchvision's model
cards. "Operations" there are the MACs of convolution and fully-connected
layers only, which is exactly our ``macs`` (pooling, ReLU and other elementwise
work are FLOPs, not MACs), and the "conv share of operations" is conv MACs /
(conv + FC MACs), our ``shares["macs"]["conv"]``.

Our parameter count is of the exported graph: batch norms are folded into the
preceding conv (one bias per channel instead of scale + shift), so BN networks
count one parameter per BN channel less than PyTorch does (resnet18: 4,800;
googlenet: 7,280), far inside the tolerance.
"""

from __future__ import annotations

import json

import pytest

import jiasu
from jiasu.analysis import profile
from jiasu.errors import JiasuError

from ._build import f32, one_node

# name: (parameters, MACs) as published
PUBLISHED = {
    "alexnet": (61e6, 0.72e9),
    "vgg16": (138e6, 15.5e9),
    "googlenet": (6.8e6, 1.5e9),
    "resnet18": (11.7e6, 1.82e9),
    "resnet50": (25.6e6, 4.1e9),
    "mobilenet_v2": (3.5e6, 0.30e9),
}
# name: (conv % of parameters, conv % of operations) as published
PUBLISHED_SHARES = {"alexnet": (3.8, 91.9), "vgg16": (10.6, 99.2), "googlenet": (85.1, 99.9)}
# Figures our definition cannot reproduce within 2%, with the count we stand by instead.
NOT_REPRODUCED = {("googlenet", "parameters"): 6_617_624}


@pytest.mark.parametrize("name", PUBLISHED)
def test_zoo_matches_published_figures(name):
    """Totals within 2% and conv shares within 1 point of the published tables.

    AlexNet: the published 0.72 GMAC / 61M / 3.8% / 91.9% are for Krizhevsky's
    two-tower network (96-256-384-384-256 filters, grouped convs, 227x227).
    torchvision's one-tower AlexNet, our zoo's, has 64-192-384-256-256 filters
    at 224x224: 0.714 GMAC (-0.8%), 61.1M parameters, conv 4.0% of parameters
    and 91.8% of MACs.

    GoogLeNet: not reproducible for parameters. Our zoo's GoogLeNet is
    torchvision's, which (like torchvision's pretrained weights) uses 3x3 convs in
    the "5x5" branches and has no auxiliary heads: 6,624,904 parameters in
    PyTorch, 6,617,624 exported (batch norms folded), 2.7% under the published
    6.8M. 5x5 branches would add 380,928 weights (7.0M, 2.9% over), so no
    honest count of this network lands within 2% of 6.8M. Its MACs (1.498 G)
    and conv shares (84.5% of parameters, 99.93% of MACs) do match.
    """
    p = profile(jiasu.load(f"zoo:{name}"), machine=False)
    assert p.warnings == []
    params, macs = PUBLISHED[name]
    assert p.totals.macs == pytest.approx(macs, rel=0.02)
    if (name, "parameters") in NOT_REPRODUCED:
        assert p.totals.parameters == NOT_REPRODUCED[name, "parameters"]
        assert p.totals.parameters / params - 1 == pytest.approx(-0.027, abs=0.001)
    else:
        assert p.totals.parameters == pytest.approx(params, rel=0.02)
    if name in PUBLISHED_SHARES:
        conv_params, conv_ops = PUBLISHED_SHARES[name]
        assert 100 * p.shares["parameters"]["conv"] == pytest.approx(conv_params, abs=1.0)
        assert 100 * p.shares["macs"]["conv"] == pytest.approx(conv_ops, abs=1.0)


def test_smallcnn_parameters_exactly():
    p = profile("zoo:smallcnn", machine=False)
    assert p.totals.parameters == 1_039_744
    assert p.model == "zoo:smallcnn"
    # conv1 16@7x7 on 88x88 -> 82x82; conv2 48@6x6 on 41x41 -> 36x36; conv3 96@5x5 on 12x12 -> 8x8; fc 6144->128->848
    convs = 16 * 82 * 82 * 49 + 48 * 36 * 36 * 16 * 36 + 96 * 8 * 8 * 48 * 25
    assert p.totals.macs == convs + 6144 * 128 + 128 * 848


@pytest.mark.parametrize("source", ["zoo:textcnn", "zoo:dqn", "zoo:unet?image_size=32", "zoo:yolov3_tiny?image_size=128"])
def test_other_zoo_models_profile_without_warnings(source):
    p = profile(source, machine=False)
    assert p.warnings == []
    assert p.totals.macs > 0 and p.totals.peak_activation_bytes > 0


def test_batch_scales_work_not_parameters(conv_relu_model):
    one = profile(conv_relu_model, machine=False)
    four = profile(conv_relu_model, batch=4, machine=False)
    assert four.totals.macs == 4 * one.totals.macs == 4 * 8 * 8 * 4 * 27
    assert four.totals.parameters == one.totals.parameters == 112
    assert four.totals.activation_bytes == 4 * one.totals.activation_bytes


def test_bytes_follow_the_dtype(conv_relu_model):
    fp32, int8 = (profile(conv_relu_model, dtype=d, machine=False).totals for d in ("fp32", "int8"))
    assert fp32.weight_bytes == 4 * int8.weight_bytes == 4 * 112
    assert fp32.weight_bytes_by_dtype == int8.weight_bytes_by_dtype == {"FLOAT": 448}
    assert fp32.intensity * 4 == pytest.approx(int8.intensity)


def test_top_and_json(conv_relu_model):
    p = profile(conv_relu_model, machine=False)
    assert [n.op_type for n in p.top(2)] == ["Conv", "Relu"]
    d = json.loads(json.dumps(p.to_dict()))
    assert d["totals"]["macs"] == 6912 and d["totals"]["energy"]["total_pj"] > 0
    assert d["nodes"][0]["output_shapes"] == [[1, 4, 8, 8]]
    assert d["shares"]["macs"] == {"conv": 1.0, "fc": 0.0, "other": 0.0}
    assert d["roofline"] is None and d["efficiency"] is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dtype": "bf16"}, "dtype 'bf16' is not supported; choose from: fp32, fp16, int8"),
        ({"batch": 0}, "batch must be >= 1, got 0"),
        ({"cache_bytes": -1}, "cache size must be >= 0 bytes, got -1"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(JiasuError) as e:
        profile(one_node("Relu", [1, 3]), machine=False, **kwargs)
    assert str(e.value) == message


def test_unknown_ops_surface_in_the_profile():
    p = profile(one_node("Einsum", [2, 3], f32(3, 4), equation="ij,jk->ik"), machine=False)
    assert p.warnings == ["no counting rule for Einsum (1 node, first 'node'): counted as 0 MACs and 0 FLOPs"]

"""Binary / ternary weights: the quantizer, STE training, bit packing round trip, and the packed kernels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import jiasu
from jiasu.compress.quantize.lowbit import KINDS, freeze_lowbit, lowbit_weight, pack_codes, pack_lowbit, prepare_lowbit, unpack_codes
from jiasu.errors import JiasuError

from ._models import MLP, Residual


def test_binary_weights_are_sign_times_mean_abs_per_channel():
    v = torch.tensor([[0.5, -1.5, 1.0], [-0.2, -0.2, 0.2]])
    np.testing.assert_allclose(lowbit_weight(v, "binary").numpy(), [[1.0, -1.0, 1.0], [-0.2, -0.2, 0.2]])


def test_ternary_zeroes_small_weights_and_scales_by_the_mean_of_the_kept_ones():
    v = torch.tensor([[0.1, -2.0, 1.0, 0.05]])  # delta = 0.7 * 0.7875 = 0.55125: keep -2 and 1
    np.testing.assert_allclose(lowbit_weight(v, "ternary").numpy(), [[0.0, -1.5, 1.5, 0.0]])


def test_straight_through_gradient_passes_inside_minus_one_to_one():
    layer = prepare_lowbit(torch.nn.Sequential(torch.nn.Linear(4, 1, bias=False)), "binary")[0]
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.5, -2.0, 0.9, 1.5]]))
    layer(torch.ones(1, 4)).sum().backward()
    np.testing.assert_array_equal(layer.weight.grad.numpy(), [[1.0, 0.0, 1.0, 0.0]])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("k", [1, 7, 8, 33])
def test_pack_unpack_round_trip(kind, k):
    rng = np.random.default_rng(k)
    codes = rng.integers(-1 if kind == "ternary" else 0, 2, size=(5, k)).astype(np.int8)
    if kind == "binary":
        codes = codes * 2 - 1
    packed = pack_codes(codes, kind)
    assert packed.shape == (5, -(-k * (1 if kind == "binary" else 2) // 8))
    np.testing.assert_array_equal(unpack_codes(torch.from_numpy(packed), kind, k).numpy(), codes)


@pytest.mark.parametrize("kind", KINDS)
def test_packed_model_matches_the_trained_torch_model(kind):
    torch.manual_seed(0)
    for build, shape, tol in ((Residual, (4, 3, 12, 12), 1e-5), (MLP, (8, 32), 0.02)):
        model = prepare_lowbit(build().eval(), kind)
        x = torch.randn(*shape)
        packed, done = pack_lowbit(jiasu.load(freeze_lowbit(model), example_input=x[:1]))
        assert len(done) == (3 if build is Residual else 2)
        assert {n.op_type for n in packed.graph} >= {"LowBitConv" if build is Residual else "LowBitGemm"}
        ours = jiasu.Engine(packed).run_numpy({"input": x.numpy()})["output"]
        with torch.no_grad():
            ref = model(x).numpy()
        # LowBitConv is exact float; LowBitGemm quantizes activations to uint8 per call (tolerance relative)
        assert np.abs(ours - ref).max() <= tol * max(1.0, np.abs(ref).max()), build.__name__
        bytes_packed = sum(v.const_value.nbytes for v in packed.graph.initializers.values() if v.name.endswith("_packed"))
        bits = 1 if kind == "binary" else 2
        weights = sum(p.numel() for n, p in model.named_parameters() if n.endswith("weight"))
        assert bytes_packed <= weights * bits / 8 + 64


def test_unknown_kind():
    with pytest.raises(JiasuError, match=r"^unknown low-bit kind 'quaternary'; choose one of: binary, ternary$"):
        prepare_lowbit(MLP(), "quaternary")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stride, pad, dilation", [(1, 0, 1), (1, 1, 1), (2, 1, 1), (1, 2, 2)])
def test_add_sub_only_conv_matches_the_float_conv(kind, stride, pad, dilation):
    """The add/sub kernel (no multiplication per weight) against torch's conv on the same alpha * {-1, 0, 1} weight."""
    from jiasu.kernels.ops.low_bit_conv import AddSubConv

    torch.manual_seed(stride * 10 + pad + dilation)
    weight = lowbit_weight(torch.randn(6, 5, 3, 3), kind)
    alpha = weight.reshape(6, -1).abs().amax(1)
    codes = torch.sign(weight.reshape(6, -1)).to(torch.int8)
    bias = torch.randn(6)
    x = torch.randn(2, 5, 11, 9)
    conv = AddSubConv(codes, alpha, bias, (3, 3), (stride, stride), (pad, pad), (dilation, dilation))
    ref = torch.nn.functional.conv2d(x, weight, bias, stride=stride, padding=pad, dilation=dilation)
    np.testing.assert_allclose(conv(x).numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["float", "addsub", "measure"])
def test_low_bit_conv_runs_either_way_and_records_its_measured_choice(mode, monkeypatch):
    from jiasu.kernels.ops.low_bit_conv import LowBitConv

    monkeypatch.setattr(LowBitConv, "mode", mode)
    torch.manual_seed(0)
    model = prepare_lowbit(Residual().eval(), "ternary")
    x = torch.randn(2, 3, 12, 12)
    packed, _ = pack_lowbit(jiasu.load(freeze_lowbit(model), example_input=x[:1]))
    engine = jiasu.Engine(packed)
    ours = engine.run_numpy({"input": x.numpy()})["output"]
    with torch.no_grad():
        ref = model(x).numpy()
    assert np.abs(ours - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max())
    kernels = [s.kernel for s in engine.steps if isinstance(s.kernel, LowBitConv)]
    assert kernels
    for k in kernels:
        if mode == "measure" and k._addsub is not None:
            (record,) = k.choices.values()
            assert record["choice"] in ("float", "addsub") and record["float_s"] > 0 and record["addsub_s"] > 0
            assert record["choice"] == ("addsub" if record["addsub_s"] < record["float_s"] else "float")
        else:
            assert k.choices == {}

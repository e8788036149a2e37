"""QAT: fake quantization matches what the QDQ writer stores, gradients follow the straight-through estimator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import jiasu
from jiasu.compress.quantize.qat import ActivationFakeQuant, QATLinear, convert_qat, fake_quant_weight, prepare_qat, strip_qat

from ._models import MLP, ort_run


@pytest.mark.parametrize("reduce_range", [False, True])
def test_weight_fake_quant_equals_the_writers_int8_weights_dequantized(reduce_range):
    """Training sees the weights the export stores, in 8 bits or (``reduce_range``) 7: -64..64."""
    model = MLP().eval()
    x = torch.randn(16, 32)
    prepared = prepare_qat(model, reduce_range=reduce_range)
    assert prepared.fc1.weight_qmax == (64 if reduce_range else 127)
    result = convert_qat(prepared, x[:1], x.numpy())
    assert result.reduce_range == reduce_range
    dq = next(n for n in result.model.graph if n.op_type == "DequantizeLinear" and n.inputs[0].const_value is not None
              and n.inputs[0].const_value.numpy().ndim == 2 and n.inputs[0].const_value.numpy().shape == (64, 32))
    q, s = dq.inputs[0].const_value.numpy(), dq.inputs[1].const_value.numpy()
    stored = q.astype(np.float32) * s.reshape(-1, 1)
    assert np.abs(q).max() == prepared.fc1.weight_qmax  # the largest weight of a row takes the top level
    np.testing.assert_array_equal(fake_quant_weight(model.fc1.weight, prepared.fc1.weight_qmax).detach().numpy(), stored)


def test_straight_through_gradient_is_one_inside_the_range_and_zero_outside():
    fq = ActivationFakeQuant()
    fq.train()
    fq(torch.tensor([-1.0, 3.0]))  # range [-1, 3]
    fq.eval()
    x = torch.tensor([-5.0, -0.5, 0.0, 2.9, 7.0], requires_grad=True)
    fq(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 1.0, 1.0, 0.0])


def test_prepare_leaves_the_original_alone_and_strip_restores_plain_layers():
    model = MLP()
    qat = prepare_qat(model)
    assert type(model.fc1) is torch.nn.Linear and type(qat.fc1) is QATLinear
    plain = strip_qat(qat)
    assert type(plain.fc1) is torch.nn.Linear and not hasattr(plain.fc1, "input_quant")
    torch.testing.assert_close(plain.fc1.weight, model.fc1.weight)


def test_qat_fine_tuning_then_export_runs_on_onnxruntime_close_to_the_fake_quant_model():
    torch.manual_seed(0)
    model = MLP()
    x = torch.randn(256, 32)
    target = torch.randn(256, 16).relu()
    qat = prepare_qat(model).train()
    opt = torch.optim.Adam(qat.parameters(), lr=1e-3)
    for _ in range(30):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(qat(x), target)
        loss.backward()
        opt.step()
    qat.eval()
    result = convert_qat(qat, x[:1], x.numpy())
    ours = jiasu.Engine(result.model).run_numpy({"input": x.numpy()})["output"]
    np.testing.assert_allclose(ours, ort_run(result.model, {"input": x.numpy()}), atol=1e-5)
    with torch.no_grad():
        simulated = qat(x).numpy()
    # the exported model quantizes like the fake-quant one (activation ranges: EMA vs calibration min-max)
    assert np.abs(ours - simulated).mean() < 0.02 * np.abs(simulated).mean() + 1e-3

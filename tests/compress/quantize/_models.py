"""Small networks built in code for the quantization tests (exported through jiasu's torch front end)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

import jiasu


class Residual(nn.Module):
    """conv-relu-conv + skip -> relu -> maxpool: every int8 pattern of resnet (Conv, fused Relu, Add, MaxPool)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        s = torch.relu(self.stem(x))
        y = self.conv2(torch.relu(self.conv1(s)))
        return self.pool(torch.relu(y + s))


class MLP(nn.Module):
    """Linear-relu-linear-relu -> flatten (the Gemm pattern, output quantized)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc1 = nn.Linear(32, 64)
        self.fc2 = nn.Linear(64, 16)

    def forward(self, x):
        return torch.flatten(torch.relu(self.fc2(torch.relu(self.fc1(x)))), 1)


def residual_model():
    x = np.random.default_rng(1).normal(size=(16, 3, 12, 12)).astype(np.float32)
    return jiasu.load(Residual().eval(), example_input=torch.from_numpy(x[:1])), x


def mlp_model():
    x = np.random.default_rng(2).normal(size=(64, 32)).astype(np.float32)
    return jiasu.load(MLP().eval(), example_input=torch.from_numpy(x[:1])), x


def ort_run(model, feeds):
    import onnx_ir as ir
    import onnxruntime as ort

    sess = ort.InferenceSession(ir.serde.serialize_model(model).SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)[0]

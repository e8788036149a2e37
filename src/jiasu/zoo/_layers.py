"""Layers shared by several zoo families."""

from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn


def _bin_average_matrix(in_size: int, out_size: int) -> Tensor:
    """(out_size, in_size) matrix whose row i averages adaptive-pool bin i.

    Bin i covers [floor(i * in / out), ceil((i + 1) * in / out)), as in
    ``torch.nn.functional.adaptive_avg_pool2d``.
    """
    rows = []
    for i in range(out_size):
        start, end = (i * in_size) // out_size, -((-(i + 1) * in_size) // out_size)
        rows.append([1.0 / (end - start) if start <= j < end else 0.0 for j in range(in_size)])
    return torch.tensor(rows)


class AdaptiveAvgPool2d(nn.AdaptiveAvgPool2d):
    """``nn.AdaptiveAvgPool2d`` that also exports to ONNX when the input side is not a multiple of the output side.

    The legacy (TorchScript) exporter only lowers an adaptive pool to
    AveragePool when each input side is a multiple of the output side; AlexNet
    and VGG at small image sizes leave a 1x1 or 2x2 map for their 6x6 / 7x7
    pool, which it refuses. In that case, and only while exporting, this
    computes the same bin averages as ``R @ x @ C.T`` with constant averaging
    matrices (two MatMuls), valid for the traced spatial size (our exports
    make only the batch axis dynamic). Eager execution, the other exports and
    the module's state are exactly ``nn.AdaptiveAvgPool2d``'s.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not torch.onnx.is_in_onnx_export():
            return super().forward(x)
        with warnings.catch_warnings():
            # Baking the traced spatial size into the graph is the point here.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            in_h, in_w = int(x.shape[-2]), int(x.shape[-1])
            size = self.output_size
            out_h, out_w = (size, size) if isinstance(size, int) else size
            out_h, out_w = out_h or in_h, out_w or in_w  # None keeps that side, as in nn.AdaptiveAvgPool2d
            if in_h % out_h == 0 and in_w % out_w == 0:
                return super().forward(x)
            rows = _bin_average_matrix(in_h, out_h).to(x.dtype)
            cols = _bin_average_matrix(in_w, out_w).to(x.dtype)
        return torch.matmul(torch.matmul(rows, x), cols.t())

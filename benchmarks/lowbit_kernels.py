"""Ternary/binary convolution kernels against the float and INT8 ones, per layer (issue #6).

    python benchmarks/lowbit_kernels.py [--threads 2]

For conv layers of smallcnn on Fashion-MNIST (28x28, padding 2) at batch 1 and 64 and resnet18's first
block at batch 8: the same alpha_c * {-1, 0, +1} weight run as a float convolution (``F.conv2d``), by
jiasu's add/sub-only kernel (``jiasu.kernels.ops.low_bit_conv.AddSubConv``: no multiplication per
weight) and as torch's INT8 convolution (codes as the int8 weight, alpha as the per-channel scale,
activations quantized to uint8 per tensor). Milliseconds per call, best of 7 interleaved rounds.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from jiasu.bench.timing import interleaved
from jiasu.compress.quantize.lowbit import lowbit_weight
from jiasu.kernels.ops.low_bit_conv import AddSubConv

LAYERS = [  # name, batch, in channels, side, out channels, kernel, pad
    ("smallcnn conv2", 1, 16, 13, 48, 6, 2),
    ("smallcnn conv2", 64, 16, 13, 48, 6, 2),
    ("smallcnn conv3", 1, 48, 4, 96, 5, 2),
    ("smallcnn conv3", 64, 48, 4, 96, 5, 2),
    ("resnet18 layer1 conv", 8, 64, 56, 64, 3, 1),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--kind", default="ternary", choices=("binary", "ternary"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print("| layer | batch | float conv ms | add/sub ms | int8 conv ms | add/sub vs float | add/sub vs int8 |\n|---|---:|---:|---:|---:|---:|---:|")
    for name, n, ci, side, co, k, pad in LAYERS:
        w = lowbit_weight(torch.randn(co, ci, k, k), args.kind)
        alpha = w.reshape(co, -1).abs().amax(1)
        codes = torch.sign(w.reshape(co, -1)).to(torch.int8)
        x = torch.randn(n, ci, side, side)
        addsub = AddSubConv(codes, alpha, None, (k, k), (1, 1), (pad, pad), (1, 1))
        xs = float(x.abs().max()) / 127
        qw = torch._make_per_channel_quantized_tensor(codes.reshape(co, ci, k, k), alpha.double(), torch.zeros(co, dtype=torch.long), 0)
        packed = torch.ops.quantized.conv2d_prepack(qw, None, [1, 1], [pad, pad], [1, 1], 1)
        ref = F.conv2d(x, w, padding=pad)
        err = float((addsub(x) - ref).abs().max())
        assert err < 1e-4 * max(1.0, float(ref.abs().max())), err
        fns = {"float": lambda: F.conv2d(x, w, padding=pad), "addsub": lambda: addsub(x),
               "int8": lambda: torch.ops.quantized.conv2d(torch.quantize_per_tensor(x, xs, 128, torch.quint8), packed, 0.05, 128)}
        best = {k_: min(v) * 1e3 for k_, v in interleaved(fns, rounds=7, block_s=0.05, settle_s=0.01).items()}
        print(f"| {name} | {n} | {best['float']:.3f} | {best['addsub']:.3f} | {best['int8']:.3f} | "
              f"{best['addsub'] / best['float']:.1f}x slower | {best['addsub'] / best['int8']:.1f}x slower |")


if __name__ == "__main__":
    main()

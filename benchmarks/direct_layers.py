"""jiasu's C convolutions against oneDNN, layer by layer (issue #5): ``nhwc_direct`` on first layers and depthwise
layers, ``pointwise`` on 1x1 layers.

    python benchmarks/direct_layers.py [--threads 2] [--batches 1 8] [--rounds 5] [--layers mobilenet_v2,resnet50]

Each layer runs as the engine runs it: channels_last input (a first layer, on 1-3 input channels, the NCHW
network input as it comes), bias and the activation fused (ReLU, or Clip 0..6 for mobilenet_v2), weights
prepared once, glibc's malloc set to keep freed memory. Timed by
``jiasu.bench.timing.interleaved`` (best round's mean per call, ms); the speed-up is oneDNN's time over
the C kernel's.
"""

from __future__ import annotations

import argparse

import torch

from jiasu.bench.timing import interleaved
from jiasu.kernels.conv import CONV_ALGORITHMS, ConvSpec, Epilogue
from jiasu.runtime.allocator import keep_freed_memory

# (name, channels in, channels out, kernel, stride, input size, padding, groups, activation); the C algorithm is
# pointwise for 1x1 layers, nhwc_direct for the others.
LAYERS = [
    ("smallcnn conv1", 1, 16, 7, 1, 88, 0, 1, "Relu"),
    ("resnet18 conv1", 3, 64, 7, 2, 224, 3, 1, "Relu"),
    ("googlenet conv1", 3, 64, 7, 2, 224, 3, 1, "Relu"),
    ("mobilenet_v2 features.0", 3, 32, 3, 2, 224, 1, 1, "Clip"),
    ("mobilenet_v2 dw 32ch 112", 32, 32, 3, 1, 112, 1, 32, "Clip"),
    ("mobilenet_v2 dw 96ch 112 s2", 96, 96, 3, 2, 112, 1, 96, "Clip"),
    ("mobilenet_v2 dw 144ch 56", 144, 144, 3, 1, 56, 1, 144, "Clip"),
    ("mobilenet_v2 dw 192ch 28", 192, 192, 3, 1, 28, 1, 192, "Clip"),
    ("mobilenet_v2 dw 384ch 14", 384, 384, 3, 1, 14, 1, 384, "Clip"),
    ("mobilenet_v2 dw 576ch 14 s2", 576, 576, 3, 2, 14, 1, 576, "Clip"),
    ("mobilenet_v2 dw 960ch 7", 960, 960, 3, 1, 7, 1, 960, "Clip"),
    ("mobilenet_v2 pw 16->96 112", 16, 96, 1, 1, 112, 0, 1, "Clip"),
    ("mobilenet_v2 pw 32->16 112", 32, 16, 1, 1, 112, 0, 1, ""),
    ("mobilenet_v2 pw 24->144 56", 24, 144, 1, 1, 56, 0, 1, "Clip"),
    ("mobilenet_v2 pw 144->24 56", 144, 24, 1, 1, 56, 0, 1, ""),
    ("mobilenet_v2 pw 192->32 28", 192, 32, 1, 1, 28, 0, 1, ""),
    ("mobilenet_v2 pw 64->384 14", 64, 384, 1, 1, 14, 0, 1, "Clip"),
    ("mobilenet_v2 pw 576->160 7", 576, 160, 1, 1, 7, 0, 1, ""),
    ("mobilenet_v2 pw 960->160 7", 960, 160, 1, 1, 7, 0, 1, ""),
    ("mobilenet_v2 pw 320->1280 7", 320, 1280, 1, 1, 7, 0, 1, "Clip"),
    ("resnet50 pw 64->256 56", 64, 256, 1, 1, 56, 0, 1, ""),
    ("resnet50 pw 256->64 56", 256, 64, 1, 1, 56, 0, 1, "Relu"),
    ("resnet50 pw 512->128 28", 512, 128, 1, 1, 28, 0, 1, "Relu"),
    ("resnet50 pw 256->1024 14", 256, 1024, 1, 1, 14, 0, 1, ""),
    ("resnet50 pw 1024->256 14", 1024, 256, 1, 1, 14, 0, 1, "Relu"),
    ("resnet50 pw 2048->512 7", 2048, 512, 1, 1, 7, 0, 1, "Relu"),
    ("resnet50 pw 512->2048 7", 512, 2048, 1, 1, 7, 0, 1, ""),
    ("googlenet pw 192->64 28", 192, 64, 1, 1, 28, 0, 1, "Relu"),
    ("googlenet pw 480->192 14", 480, 192, 1, 1, 14, 0, 1, "Relu"),
    ("googlenet pw 832->384 7", 832, 384, 1, 1, 7, 0, 1, "Relu"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--layers", default="", help="only layers whose name starts with one of these, joined by ',' (default: all)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()
    print(f"torch {torch.__version__}, {args.threads} threads, float32, best of {args.rounds} interleaved rounds, ms per call\n")
    print("| layer | batch | onednn | jiasu's C |")
    print("|---|---:|---:|---:|")
    gen = torch.Generator().manual_seed(0)
    wanted = [w for w in args.layers.split(",") if w]
    for label, c_in, c_out, k, stride, size, pad, groups, act in LAYERS:
        if wanted and not any(label.startswith(w) for w in wanted):
            continue
        weight = torch.randn(c_out, c_in // groups, k, k, generator=gen) * (2 / (k * k * c_in / groups)) ** 0.5
        bias = torch.randn(c_out, generator=gen)
        spec = ConvSpec.from_weight(weight, stride=(stride, stride), pads=(pad,) * 4, groups=groups)
        epilogue = Epilogue(act, (0.0, 6.0) if act == "Clip" else ())
        ours = "pointwise" if k == 1 else "nhwc_direct"
        names = ["onednn", ours]
        for batch in args.batches:
            x = torch.randn(batch, c_in, size, size, generator=gen)
            if groups > 1 or c_in > 3:  # past the first layer, activations are channels_last
                x = x.contiguous(memory_format=torch.channels_last)
            fns = {name: CONV_ALGORITHMS[name].prepare_fused(weight, bias, spec, epilogue) for name in names}
            ref = fns["onednn"](x, None)
            err = ((fns[ours](x, None) - ref).abs().max() / ref.abs().max()).item()
            assert err < 1e-5, f"{label} batch {batch}: {ours} is off by {err:.1e}"
            samples = interleaved({name: (lambda fn=fn: fn(x, None)) for name, fn in fns.items()}, rounds=args.rounds, block_s=0.3, settle_s=0.05)
            best = {name: min(v) * 1e3 for name, v in samples.items()}
            print(f"| {label} | {batch} | {best['onednn']:.3f} | {ours} {best[ours]:.3f} ({best['onednn'] / best[ours]:.2f}x) |", flush=True)


if __name__ == "__main__":
    main()

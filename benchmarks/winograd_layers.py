"""Winograd F(4x4, 3x3) against oneDNN's direct convolution on the 3x3 layers of vgg16 and resnet18 (issue #5).

    python benchmarks/winograd_layers.py [--threads 2] [--batches 1 8] [--rounds 5] [--columns onednn,winograd,winograd_f6]

Each layer runs as the engine runs it: channels_last input, bias and ReLU fused, weights prepared once, and
glibc's malloc set to keep freed memory (``jiasu.runtime.allocator``, as building an engine does).
Columns (``--columns``): ``onednn`` (the engine's default), ``winograd`` (F(4x4): the chunked CPU path,
cache-sized chunks of tiles, oneDNN inner products), ``winograd_f6`` and ``winograd_f2`` (F(6x6) and F(2x2), the
same path), ``winograd whole`` (F(4x4) with ``chunk_bytes = 0``: the whole batch at once with one
``torch.bmm``, the path before the chunked one) and ``winograd serial`` (F(4x4) with ``parallel_chunks``
off: the chunks one after another, every op on all threads, the path before session 7). Timed by ``jiasu.bench.timing.interleaved`` (best round's
mean per call, ms); the speed-up is oneDNN's time over the column's.
"""

from __future__ import annotations

import argparse

import torch

from jiasu.bench.timing import interleaved
from jiasu.kernels.conv import CONV_ALGORITHMS, ConvSpec, Epilogue
from jiasu.kernels.conv.winograd import WinogradF4
from jiasu.runtime.allocator import keep_freed_memory

# (name, channels in = out, size); 3x3, stride 1, padding 1.
LAYERS = [
    ("vgg16 conv1_2", 64, 224),
    ("vgg16 conv2_2", 128, 112),
    ("vgg16 conv3_2", 256, 56),
    ("vgg16 conv4_2", 512, 28),
    ("vgg16 conv5_2", 512, 14),
    ("resnet18 layer1", 64, 56),
    ("resnet18 layer2", 128, 28),
    ("resnet18 layer3", 256, 14),
    ("resnet18 layer4", 512, 7),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--columns", default="onednn,winograd,winograd_f6", help="algorithms timed, joined by ','; 'winograd whole' is F(4x4) unchunked, 'winograd serial' F(4x4) with its chunks one after another")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()
    whole = WinogradF4()
    whole.chunk_bytes = 0
    serial = WinogradF4()
    serial.parallel_chunks = False
    extra = {"winograd whole": whole, "winograd serial": serial}
    algorithms = {name: extra.get(name) or CONV_ALGORITHMS[name] for name in ["onednn"] + [c for c in args.columns.split(",") if c != "onednn"]}
    print(f"torch {torch.__version__}, {args.threads} threads, float32, best of {args.rounds} interleaved rounds, ms per call\n")
    print("| layer | batch | " + " | ".join(algorithms) + " |")
    print("|---|---:|" + "---:|" * len(algorithms))
    gen = torch.Generator().manual_seed(0)
    for label, channels, size in LAYERS:
        weight = torch.randn(channels, channels, 3, 3, generator=gen) * (2 / (9 * channels)) ** 0.5
        bias = torch.randn(channels, generator=gen)
        spec = ConvSpec.from_weight(weight, pads=(1, 1, 1, 1))
        for batch in args.batches:
            x = torch.randn(batch, channels, size, size, generator=gen).contiguous(memory_format=torch.channels_last)
            fns = {name: algo.prepare_fused(weight, bias, spec, Epilogue("Relu")) for name, algo in algorithms.items()}
            ref = fns["onednn"](x, None)
            for name, fn in fns.items():  # every column computes the same layer
                err = ((fn(x, None) - ref).abs().max() / ref.abs().max()).item()
                assert err < 1e-4, f"{label} batch {batch}: {name} is off by {err:.1e}"
            samples = interleaved({name: (lambda fn=fn: fn(x, None)) for name, fn in fns.items()}, rounds=args.rounds, block_s=0.3, settle_s=0.05)
            best = {name: min(v) * 1e3 for name, v in samples.items()}
            cells = [f"{best[name]:.2f}" + ("" if name == "onednn" else f" ({best['onednn'] / best[name]:.2f}x)") for name in algorithms]
            print(f"| {label} ({channels} ch, {size}x{size}) | {batch} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()

"""Winograd against oneDNN's direct convolution on the 3x3 layers of vgg16 and resnet18 and smallcnn's 6x6 and 5x5 (issue #5).

    python benchmarks/winograd_layers.py [--threads 2] [--batches 1 8] [--rounds 5] [--columns onednn,winograd,winograd_f6]
        [--layers resnet18,smallcnn]

Each layer runs as the engine runs it: channels_last input, bias and ReLU fused, weights prepared once, and
glibc's malloc set to keep freed memory (``jiasu.runtime.allocator``, as building an engine does).
Columns (``--columns``): ``onednn`` (the engine's default), ``winograd`` (F(4x4): the chunked CPU path,
cache-sized chunks of tiles, oneDNN inner products), ``winograd_f6`` and ``winograd_f2`` (F(6x6) and F(2x2), the
same path), ``winograd whole`` (F(4x4) with ``chunk_bytes = 0``: the whole batch at once with one
``torch.bmm``, the path before the chunked one) and ``winograd serial`` (F(4x4) with ``parallel_chunks``
off: the chunks one after another, every op on all threads, the path before session 7), ``winograd torch`` (F(4x4)
with the tile transforms as torch ops instead of the C kernels, ``native = False``: the path before session 8) and
``winograd_large`` (the 4x4..7x7 kernels on 8x8 tiles). A column whose algorithm does not apply to a layer shows
``-``. Timed by ``jiasu.bench.timing.interleaved`` (best round's
mean per call, ms); the speed-up is oneDNN's time over the column's.
"""

from __future__ import annotations

import argparse

import torch

from jiasu.bench.timing import interleaved
from jiasu.kernels.conv import CONV_ALGORITHMS, ConvSpec, Epilogue
from jiasu.kernels.conv.winograd import WinogradF4
from jiasu.runtime.allocator import keep_freed_memory

# (name, channels in, channels out, kernel, input size, padding); stride 1.
LAYERS = [
    ("vgg16 conv1_2", 64, 64, 3, 224, 1),
    ("vgg16 conv2_2", 128, 128, 3, 112, 1),
    ("vgg16 conv3_2", 256, 256, 3, 56, 1),
    ("vgg16 conv4_2", 512, 512, 3, 28, 1),
    ("vgg16 conv5_2", 512, 512, 3, 14, 1),
    ("resnet18 layer1", 64, 64, 3, 56, 1),
    ("resnet18 layer2", 128, 128, 3, 28, 1),
    ("resnet18 layer3", 256, 256, 3, 14, 1),
    ("resnet18 layer4", 512, 512, 3, 7, 1),
    ("smallcnn conv2", 16, 48, 6, 41, 0),
    ("smallcnn conv3", 48, 96, 5, 12, 0),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--columns", default="onednn,winograd,winograd_f6", help="algorithms timed, joined by ','; 'winograd whole' is F(4x4) unchunked, 'winograd serial' F(4x4) with its chunks one after another, 'winograd torch' F(4x4) with torch-op transforms")
    ap.add_argument("--layers", default="", help="only layers whose name starts with one of these, joined by ',' (default: all)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()
    whole = WinogradF4()
    whole.chunk_bytes = 0
    serial = WinogradF4()
    serial.parallel_chunks = False
    torch_ops = WinogradF4()
    torch_ops.native = False
    extra = {"winograd whole": whole, "winograd serial": serial, "winograd torch": torch_ops}
    algorithms = {name: extra.get(name) or CONV_ALGORITHMS[name] for name in ["onednn"] + [c for c in args.columns.split(",") if c != "onednn"]}
    print(f"torch {torch.__version__}, {args.threads} threads, float32, best of {args.rounds} interleaved rounds, ms per call\n")
    print("| layer | batch | " + " | ".join(algorithms) + " |")
    print("|---|---:|" + "---:|" * len(algorithms))
    gen = torch.Generator().manual_seed(0)
    wanted = [w for w in args.layers.split(",") if w]
    for label, c_in, c_out, k, size, pad in LAYERS:
        if wanted and not any(label.startswith(w) for w in wanted):
            continue
        weight = torch.randn(c_out, c_in, k, k, generator=gen) * (2 / (k * k * c_in)) ** 0.5
        bias = torch.randn(c_out, generator=gen)
        spec = ConvSpec.from_weight(weight, pads=(pad,) * 4)
        for batch in args.batches:
            x = torch.randn(batch, c_in, size, size, generator=gen).contiguous(memory_format=torch.channels_last)
            fns = {name: algo.prepare_fused(weight, bias, spec, Epilogue("Relu")) for name, algo in algorithms.items() if algo.check(spec) is None}
            ref = fns["onednn"](x, None)
            for name, fn in fns.items():  # every column computes the same layer
                err = ((fn(x, None) - ref).abs().max() / ref.abs().max()).item()
                assert err < 1e-4, f"{label} batch {batch}: {name} is off by {err:.1e}"
            samples = interleaved({name: (lambda fn=fn: fn(x, None)) for name, fn in fns.items()}, rounds=args.rounds, block_s=0.3, settle_s=0.05)
            best = {name: min(v) * 1e3 for name, v in samples.items()}
            cells = [
                "-" if name not in best else f"{best[name]:.2f}" + ("" if name == "onednn" else f" ({best['onednn'] / best[name]:.2f}x)")
                for name in algorithms
            ]
            shape = f"{c_in} ch, {size}x{size}" if (c_in, k) == (c_out, 3) else f"{c_in}->{c_out} ch, {k}x{k}, {size}x{size}"
            print(f"| {label} ({shape}) | {batch} | " + " | ".join(cells) + " |", flush=True)

if __name__ == "__main__":
    main()

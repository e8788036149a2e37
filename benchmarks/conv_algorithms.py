"""Time every registered convolution algorithm against ``direct`` on real layer shapes.

    python benchmarks/conv_algorithms.py [--runs 10] [--threads 2] [--batches 1 8] [--stat median]

Layers are 3x3 convolutions of resnet18 and vgg16 and depthwise convolutions of
mobilenet v1/v2, in float32 on the CPU. Each cell is the median (or, with
``--stat min``, the minimum: the better estimate on a machine shared with other
work) wall time of ``--runs`` calls after two warm-up calls (the warm-up also fills per-input-size
caches such as the FFT kernel spectrum; weight transforms in ``prepare`` are not
timed), with the speedup over ``direct`` in parentheses; ``-`` means the
algorithm does not apply, ``skip`` that its working set is too large to be
worth timing (see ``--max-spectrum-mb``).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from jiasu.kernels.conv import CONV_ALGORITHMS, ConvSpec
from jiasu.kernels.conv.fft import fast_fft_length

# (name, in_channels, out_channels, size, stride, groups); all 3x3 with padding 1.
LAYERS = [
    ("resnet18 layer1", 64, 64, 56, 1, 1),
    ("resnet18 layer2", 128, 128, 28, 1, 1),
    ("resnet18 layer3", 256, 256, 14, 1, 1),
    ("resnet18 layer4", 512, 512, 7, 1, 1),
    ("vgg16 conv3_2", 256, 256, 56, 1, 1),
    ("vgg16 conv4_2", 512, 512, 28, 1, 1),
    ("mobilenet dw 32", 32, 32, 112, 1, 32),
    ("mobilenetv2 dw 144 s2", 144, 144, 56, 2, 144),
]


def time_ms(fn, x: torch.Tensor, runs: int, stat) -> float:
    for _ in range(2):
        fn(x)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return 1000 * stat(times)


def fft_spectrum_mb(c_in: int, c_out: int, groups: int, size: int) -> float:
    """Size of the cached kernel spectrum the fft algorithm builds for this layer, in MB."""
    length = fast_fft_length(size + 2)
    return c_out * (c_in // groups) * length * (length // 2 + 1) * 8 / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--stat", choices=["median", "min"], default="median")
    parser.add_argument(
        "--max-spectrum-mb", type=float, default=1024.0, help="skip fft above this cached kernel spectrum size"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    names = list(CONV_ALGORITHMS)
    stat = statistics.median if args.stat == "median" else min
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, {args.stat} of {args.runs} runs, ms")
    header = f"{'layer':24s} {'N':>2s} " + " ".join(f"{n:>16s}" for n in names)
    print(header)
    print("-" * len(header))
    for label, c_in, c_out, size, stride, groups in LAYERS:
        weight = torch.randn(c_out, c_in // groups, 3, 3) * (2 / (9 * c_in / groups)) ** 0.5
        bias = torch.randn(c_out)
        spec = ConvSpec.from_weight(weight, stride=(stride, stride), pads=(1, 1, 1, 1), groups=groups)
        for batch in args.batches:
            x = torch.randn(batch, c_in, size, size)
            cells, base = [], None
            for name in names:
                algo = CONV_ALGORITHMS[name]
                if algo.check(spec) is not None:
                    cells.append("-")
                    continue
                if name == "fft" and fft_spectrum_mb(c_in, c_out, groups, size) > args.max_spectrum_mb:
                    cells.append("skip")
                    continue
                ms = time_ms(algo.prepare(weight, bias, spec), x, args.runs, stat)
                if name == "direct":
                    base = ms
                cells.append(f"{ms:.2f} (x{base / ms:.2f})" if base else f"{ms:.2f}")
            print(f"{label:24s} {batch:2d} " + " ".join(f"{c:>16s}" for c in cells))


if __name__ == "__main__":
    main()

"""The depthwise 3x3 code of this checkout against that of another revision, layer by layer, one thread, in one
process (issue #5, session 19).

    python benchmarks/depthwise_rows.py [--base 5349b05] [--runs 3000]

For each of mobilenet_v2's depthwise shapes (one image, channels_last, pad 1, ReLU6), a C harness runs a whole map
through ``kernels/native/depthwise.h`` as ``inverted_residual.c`` does (every output row, every vector of
channels), built twice: with this checkout's headers and with those of ``--base`` (``git show``; 5349b05 is the
last revision before session 19's blocks). Runs alternate between the two; the figure is each one's best, in us
and GFLOP/s, and the largest difference between their outputs. On session 19's AVX2 Zen 3: 12-26 GFLOP/s before,
21-41 after, 1.4-1.9x.

Compiled with ``$CC`` (default ``cc``) ``-O3 -march=native``, as jiasu's native kernels are.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path

HEADERS = ("vec.h", "depthwise.h", "window.h")
NATIVE = Path(__file__).resolve().parents[1] / "src" / "jiasu" / "kernels" / "native"
# (size, channels, stride)
SHAPES = [(112, 32, 1), (112, 96, 2), (56, 144, 1), (56, 144, 2), (28, 192, 1), (28, 192, 2), (14, 384, 1),
          (14, 576, 1), (14, 576, 2), (7, 960, 1)]  # fmt: skip

# One whole map, the depthwise rows as inverted_residual.c runs them; MAP names the function. Before session 19
# depthwise.h had depthwise_3x3_s1/_s2 for the columns inside the row and depthwise_3x3_edge for the others.
MAP = r"""
#include "depthwise.h"
#include "window.h"
void MAP(const float *e, float *d, const float *wd, const float *bd, int h, int w, int c, int s) {
    int ho = (h - 1) / s + 1, wo = (w - 1) / s + 1;
    vf lo = 0.0f + (vf){0}, hi = 6.0f + (vf){0};
#ifndef DW_MAX
    int xa, xb;
    interior(wo, s, 1, 1, 3, w, &xa, &xb);
    if (xb < xa) xb = xa;
#endif
    for (int oy = 0; oy < ho; oy++) {
        const float *rows[3];
        int iy0 = oy * s - 1;
        for (int i = 0; i < 3; i++) rows[i] = iy0 + i >= 0 && iy0 + i < h ? e + (long)(iy0 + i) * w * c : 0;
        float *dr = d + (long)oy * wo * c;
        for (int cb = 0; cb < c; cb += CB) {
            vf b = vbias(bd, cb, CB);
#ifdef DW_MAX
            depthwise_3x3_row(rows, w, c, wd, s, 1, wo, cb, b, 0, lo, hi, dr, 0);
#else
            for (int ox = 0; ox < xa; ox++) depthwise_3x3_edge(rows, w, c, wd, s, 1, ox, cb, b, 0, lo, hi, dr);
            (s == 1 ? depthwise_3x3_s1 : depthwise_3x3_s2)(rows, c, wd, 1, xa, xb, cb, b, 0, lo, hi, dr, 0);
            for (int ox = xb; ox < wo; ox++) depthwise_3x3_edge(rows, w, c, wd, s, 1, ox, cb, b, 0, lo, hi, dr);
#endif
        }
    }
}
"""

MAIN = r"""
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
typedef void map_fn(const float *, float *, const float *, const float *, int, int, int, int);
map_fn map_base, map_head;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(int argc, char **argv) {
    int h = atoi(argv[1]), c = atoi(argv[2]), s = atoi(argv[3]), runs = atoi(argv[4]), ho = (h - 1) / s + 1;
    float *e = aligned_alloc(64, (size_t)h * h * c * 4), *wd = aligned_alloc(64, 9 * (size_t)c * 4);
    float *bd = aligned_alloc(64, (size_t)c * 4), *d[2];
    for (int k = 0; k < 2; k++) d[k] = aligned_alloc(64, (size_t)ho * ho * c * 4);
    srand(1);
    for (long i = 0; i < (long)h * h * c; i++) e[i] = rand() / (float)RAND_MAX;
    for (int i = 0; i < 9 * c; i++) wd[i] = rand() / (float)RAND_MAX - 0.5f;
    for (int i = 0; i < c; i++) bd[i] = 0.1f;
    map_fn *fn[2] = {map_base, map_head};
    double best[2] = {1e9, 1e9};
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        fn[r & 1](e, d[r & 1], wd, bd, h, h, c, s);
        double t = now() - t0;
        if (t < best[r & 1]) best[r & 1] = t;
    }
    double diff = 0;
    for (long i = 0; i < (long)ho * ho * c; i++) diff = fmax(diff, fabs(d[0][i] - d[1][i]));
    printf("%.3f %.3f %.1e\n", best[0] * 1e6, best[1] * 1e6, diff);
    return 0;
}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="5349b05", help="git revision whose depthwise code to compare against")
    parser.add_argument("--runs", type=int, default=3000, help="runs a shape, alternating between the two")
    args = parser.parse_args()
    cc = os.environ.get("CC", "cc")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        objects = []
        for tag in ("base", "head"):
            include = tmp / tag
            include.mkdir()
            for name in HEADERS:
                if tag == "head":
                    text = (NATIVE / name).read_text()
                else:
                    git = ["git", "-C", str(NATIVE), "show", f"{args.base}:./{name}"]
                    text = subprocess.run(git, check=True, capture_output=True, text=True).stdout
                (include / name).write_text(text)
            source = include / "map.c"
            source.write_text(MAP.replace("MAP", f"map_{tag}"))
            objects.append(str(include / "map.o"))
            subprocess.run([cc, "-O3", "-march=native", "-I", str(include), "-c", str(source), "-o", objects[-1]], check=True)
        (tmp / "main.c").write_text(MAIN)
        binary = tmp / "depthwise_rows"
        subprocess.run([cc, "-O3", str(tmp / "main.c"), *objects, "-o", str(binary), "-lm"], check=True)
        print(f"depthwise 3x3, pad 1, one image, one thread: {args.base} against this checkout, best of {args.runs // 2} runs each")
        print("| layer | before us (GFLOP/s) | now us (GFLOP/s) | before / now | outputs differ by |\n|---|---:|---:|---:|---:|")
        for size, channels, stride in SHAPES:
            out = subprocess.run([str(binary), str(size), str(channels), str(stride), str(args.runs)], check=True,
                                 capture_output=True, text=True).stdout.split()
            before, now, diff = float(out[0]), float(out[1]), out[2]
            flops = 2 * 9 * ((size - 1) // stride + 1) ** 2 * channels
            print(f"| {size}x{size}x{channels}, stride {stride} | {before:.1f} ({flops / before / 1e3:.1f}) | "
                  f"{now:.1f} ({flops / now / 1e3:.1f}) | {before / now:.2f}x | {diff} |")


if __name__ == "__main__":
    main()

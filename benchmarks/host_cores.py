"""Whether the threads of a turn get a core each, turn by turn, as `jiasu bench --rounds` takes its turns
(issue #5, session 19).

    python benchmarks/host_cores.py [--turns 40] [--sleep 0.05] [--threads 2]

Each turn sleeps ``--sleep`` seconds (the bench's pause between turns), then runs a multiply-add loop (AVX2/AVX-512
FMA, 10 independent chains, nothing from memory) on ``--threads`` threads at once for 50 ms, each thread's rate
measured alone, then on one thread for 30 ms. Where the threads have a physical core each, their rates add up to
``--threads`` times the one thread's; where the host has put them on the SMT siblings of one core, they add up to
about one thread's. Prints every turn, sorted by the threads' total, and how many turns were of which kind.

On session 19's 2-vCPU KVM guest (AMD EPYC, Zen 3), at 02:40 UTC 4 of 40 turns ran 46-48 GFLOP/s on each of
the two threads, the one thread after them 94-96: both vCPUs on one core. In the other 36, 77-94 on each. At 03:21,
none of 40 (96-120 on each thread). This is what halves our engine's speed in some turns (smallcnn at batch 1:
0.62 ms or 1.06 ms a run at 02:35, ``turn_speeds.py``), and it is the host's, not ours: after a sleep, the
hypervisor places the vCPUs anew, and how often it puts them on one core changes from one hour to the next.

The loop is C, compiled here with ``$CC`` (default ``cc``) ``-O3 -march=native -fopenmp``, as jiasu's native
kernels are.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
from pathlib import Path

SOURCE = r"""
#define _GNU_SOURCE
#include <immintrin.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__AVX512F__)
typedef __m512 v;
#define FMA _mm512_fmadd_ps
#define SET _mm512_set1_ps
#define LANES 16
#else
typedef __m256 v;
#define FMA _mm256_fmadd_ps
#define SET _mm256_set1_ps
#define LANES 8
#endif
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static volatile float sink;
/* GFLOP/s of 10 independent FMA chains for `secs` seconds */
static double work(double secs) {
    v a[10], b = SET(0.9999f), c = SET(1e-5f);
    for (int i = 0; i < 10; i++) a[i] = SET(i * 1e-3f);
    long n = 0;
    double t0 = now();
    while (now() - t0 < secs) {
        for (int r = 0; r < 1000; r++)
            for (int i = 0; i < 10; i++) a[i] = FMA(a[i], b, c);
        n += 1000;
    }
    double rate = n * 10.0 * 2 * LANES / (now() - t0) / 1e9;
    float s[LANES];
    memcpy(s, &a[9], sizeof s);
    sink = s[0];
    return rate;
}
int main(int argc, char **argv) {
    int turns = atoi(argv[1]), threads = atoi(argv[2]);
    double sleep_s = atof(argv[3]);
    for (int k = 0; k < turns; k++) {
        usleep((useconds_t)(sleep_s * 1e6));
        double r[256];
        int cpu[256];
#pragma omp parallel num_threads(threads)
        {
            int id = omp_get_thread_num();
            cpu[id] = sched_getcpu();
            r[id] = work(0.05);
        }
        printf("turn %d one %.1f", k, work(0.03));
        for (int t = 0; t < threads; t++) printf(" t%d %.1f cpu%d", t, r[t], cpu[t]);
        printf("\n");
        fflush(stdout);
    }
    return 0;
}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--sleep", type=float, default=0.05)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source, binary = Path(tmp) / "cores.c", Path(tmp) / "cores"
        source.write_text(SOURCE)
        cc = os.environ.get("CC", "cc")
        subprocess.run([cc, "-O3", "-march=native", "-fopenmp", str(source), "-o", str(binary)], check=True)
        out = subprocess.run([str(binary), str(args.turns), str(args.threads), str(args.sleep)], check=True,
                             capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        one = float(re.search(r"one ([\d.]+)", line).group(1))
        each = [float(x) for x in re.findall(r" t\d+ ([\d.]+)", line)]
        cpus = re.findall(r"cpu(\d+)", line)
        rows.append((sum(each), each, cpus, one))
    rows.sort(key=lambda r: r[0])
    print(f"{args.turns} turns, {args.threads} threads, {args.sleep} s sleep before each; GFLOP/s")
    print("threads' total | each thread (vCPU) | one thread after them | total / one")
    shared = 0
    for total, each, cpus, one in rows:
        ratio = total / one
        # with a core each the total is about `threads` x one; on one core's siblings, about one
        shared += ratio < 0.5 * (1 + args.threads)
        print(f"{total:8.1f}       | " + " ".join(f"{e:5.1f} ({c})" for e, c in zip(each, cpus)) + f" | {one:5.1f} | {ratio:.2f}")
    print(f"turns whose threads shared a core's worth (total under {(1 + args.threads) / 2:.1f}x one): {shared} of {len(rows)}")


if __name__ == "__main__":
    main()

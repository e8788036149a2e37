/* A chain: consecutive kernels of a plan run by one call from Python (jiasu/runtime/chain.py).
 *
 * Why: in a whole run the Python around each C kernel (argument checks, allocating the output, the
 * ctypes call) costs 20-100 us, where the same lines take 2-5 us in a loop of their own: the kernel
 * before has pushed the interpreter's code and data out of the caches. Measured on mobilenet_v2 at
 * batch 1 (perf, 2 threads): 16% of the main thread's samples outside the kernels and OpenMP, and a
 * GlobalAveragePool that takes 20 us in a loop took 98-120 us in the model.
 *
 * Each step is a kernel's `_entry` (entry.h) and its argument slots, filled once per input shape; the
 * Python side writes only the pointers that change from run to run (the chain's inputs and the outputs
 * it hands back). Returns 0, or i + 1 where step i's kernel failed (it could not allocate its buffers). */
#include <time.h>

#include "entry.h"

typedef struct {
    jiasu_entry fn;
    const jiasu_arg *args;
} jiasu_step;

int jiasu_run_chain(const jiasu_step *steps, int n) {
    for (int i = 0; i < n; i++)
        if (steps[i].fn(steps[i].args) != 0) return i + 1;
    return 0;
}

/* The same, writing each step's wall time in seconds to seconds[i] (Engine.chain_times): what a kernel costs
 * inside the run, with the caches as the kernels before it left them, and no Python around it. */
int jiasu_run_chain_timed(const jiasu_step *steps, int n, double *seconds) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++) {
        int failed = steps[i].fn(steps[i].args);
        clock_gettime(CLOCK_MONOTONIC, &b);
        seconds[i] = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
        a = b;
        if (failed) return i + 1;
    }
    return 0;
}

/* Max pooling for jiasu/kernels/ops/max_pool.py, on channels_last (NHWC) float32 tensors.
 *
 * torch's max_pool2d on a channels_last tensor ran 4-6x slower here than ONNX Runtime's pooling
 * (smallcnn's 2x2 pool on 16 x 82 x 82 at batch 1: 43 us against 8). With the channels innermost,
 * a window is a few runs of contiguous channels: CB at a time as one vector (vec.h), one maximum
 * per tap. Taps outside the image (ONNX pads, and windows that ceil_mode lets run past the end)
 * are skipped, which is what padding with -inf means. A NaN in a window gives NaN, as in torch.
 * Rows of output (image, oy) are split over nt OpenMP threads. x (n, h, w, c); y (n, ho, wo, c).
 */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "entry.h"
#include "vec.h"
#include "window.h"

static inline vf vmax(vf acc, vf x) {
    vi m = (x > acc) | (x != x); /* x wins if larger, or if it is NaN */
    return (vf)(((vi)x & m) | ((vi)acc & ~m));
}

/* The maxima of one window over NV channel vectors from xp's first (cw channels in the last, CB in the others),
 * into yp; taps [ky0, ky1) x [kx0, kx1), a row of taps rs floats after the last and a column cs. NV independent
 * chains of maxima: one chain waits on each compare-and-select's latency (googlenet's 3x3 pools took 2.3 ms of
 * its 25 at batch 1 on AVX2 with one). Inlined with NV a constant, so the accumulators stay in registers. */
static inline __attribute__((always_inline)) void window_max(const float *xp, long rs, long cs, int ky0, int ky1,
                                                             int kx0, int kx1, int NV, int cw, float *yp) {
    vf acc[4];
    for (int v = 0; v < NV; v++) acc[v] = -INFINITY + (vf){0};
    for (int ky = ky0; ky < ky1; ky++)
        for (int kx = kx0; kx < kx1; kx++)
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)
                acc[v] = vmax(acc[v], vload(xp + ky * rs + kx * cs + v * CB, v == NV - 1 ? cw : CB));
    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) vstore(yp + v * CB, acc[v], v == NV - 1 ? cw : CB);
}

int jiasu_max_pool(const float *x, int n, int h, int w, int c, int kh, int kw, int sh, int sw, int dh, int dw,
                   int pt, int pl, float *y, int ho, int wo, int nt) {
    /* Output columns whose window lies inside the image along x: [xa, xb), no per-pixel tap range. */
    int xa, xb;
    interior(wo, sw, pl, dw, kw, w, &xa, &xb);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (long row = 0; row < (long)n * ho; row++) {
        long img = row / ho;
        int oy = (int)(row % ho), ky0, ky1;
        tap_range(oy, sh, pt, dh, kh, h, &ky0, &ky1);
        const float *xr = x + img * (long)h * w * c;
        for (int ox = 0; ox < wo; ox++) {
            int kx0 = 0, kx1 = kw;
            if (ox < xa || ox >= xb) tap_range(ox, sw, pl, dw, kw, w, &kx0, &kx1);
            /* the window's first tap (row oy * sh - pt, column ox * sw - pl), which may lie in the padding */
            const float *xp = xr + ((long)(oy * sh - pt) * w + ox * sw - pl) * c;
            float *yp = y + (row * wo + ox) * c;
            long rs = (long)dh * w * c, cs = (long)dw * c;
            int cb = 0;
            for (; cb + 4 * CB <= c; cb += 4 * CB) window_max(xp + cb, rs, cs, ky0, ky1, kx0, kx1, 4, CB, yp + cb);
            for (; cb < c; cb += CB) window_max(xp + cb, rs, cs, ky0, ky1, kx0, kx1, 1, c - cb < CB ? c - cb : CB, yp + cb);
        }
    }
    return 0;
}

/* Global average pooling for jiasu/kernels/ops/global_average_pool.py: y (n, c) = the mean of x
 * (n, hw, c) over its hw pixels. The n * hw pixel rows are split over nt threads in contiguous
 * ranges, as the C convolutions split the rows they write, so each thread reads rows that the
 * producing kernel's same-numbered thread left in its own cache. (torch's mean read them all from
 * one thread: on mobilenet_v2's 1280 x 7 x 7 output, 94 us in the model against 8 us alone.) Each
 * thread sums its rows per image into part (nt, n, c), zeroed here first (a thread the runtime did
 * not start leaves its part at zero); the parts are then added in thread order, so the result does
 * not depend on timing. */
int jiasu_global_avg_pool(const float *x, int n, long hw, int c, float *part, float *y, int nt) {
    long rows = (long)n * hw;
    memset(part, 0, sizeof(float) * (size_t)nt * n * c);
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), team = omp_get_num_threads();
        long r0 = rows * t / team, r1 = rows * (t + 1) / team;
        float *mine = part + (long)t * n * c;
        for (long r = r0; r < r1; r++) {
            float *acc = mine + (r / hw) * c;
            const float *xr = x + r * c;
            for (int cb = 0; cb < c; cb += CB) {
                int cw = c - cb < CB ? c - cb : CB;
                vstore(acc + cb, vload(acc + cb, cw) + vload(xr + cb, cw), cw);
            }
        }
    }
    float scale = 1.0f / (float)hw;
    for (long k = 0; k < (long)n * c; k++) {
        float s = 0.0f;
        for (int t = 0; t < nt; t++) s += part[(long)t * n * c + k];
        y[k] = s * scale;
    }
    return 0;
}

int jiasu_max_pool_entry(const jiasu_arg *a) {
    return jiasu_max_pool(a[0].p, (int)a[1].i, (int)a[2].i, (int)a[3].i, (int)a[4].i, (int)a[5].i, (int)a[6].i,
                          (int)a[7].i, (int)a[8].i, (int)a[9].i, (int)a[10].i, (int)a[11].i, (int)a[12].i, a[13].p,
                          (int)a[14].i, (int)a[15].i, (int)a[16].i);
}

int jiasu_global_avg_pool_entry(const jiasu_arg *a) {
    return jiasu_global_avg_pool(a[0].p, (int)a[1].i, a[2].i, (int)a[3].i, a[4].p, a[5].p, (int)a[6].i);
}

/* Matrix-vector product for jiasu/kernels/ops/gemm.py: a fully-connected layer on one row.
 *
 * y[n] = clamp(b[n] + sum_k w[n, k] * a[k], lo, hi), w (N, K) row-major float32.
 *
 * One row through a fully-connected layer reads every weight once and does one multiply-add
 * per weight: it runs at memory speed, not at arithmetic speed. MKL's GEMV (behind torch's
 * F.linear for one row) ran on one thread here whatever torch's thread count; one thread
 * does not draw the memory bandwidth that two do. This splits the output rows over nt OpenMP
 * threads, four rows at a time sharing each load of a (CB floats a vector, four independent
 * accumulator chains). lo/hi are -inf/+inf without an activation (a ReLU is lo = 0).
 */
#include "entry.h"
#include "vec.h"

static inline float hsum(vf v) {
    float t[CB], s = 0;
    memcpy(t, &v, sizeof t);
    for (int i = 0; i < CB; i++) s += t[i];
    return s;
}

static inline float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

int jiasu_gemv(const float *w, const float *a, const float *b, float *y, long n, long k, float lo, float hi, int nt) {
    long kv = k / CB * CB;
    long blocks = (n + 3) / 4;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (long blk = 0; blk < blocks; blk++) {
        long r0 = blk * 4, rows = n - r0 < 4 ? n - r0 : 4;
        vf acc[4] = {{0}, {0}, {0}, {0}};
        const float *wr[4];
        for (int r = 0; r < 4; r++) wr[r] = w + (r0 + (r < rows ? r : 0)) * k; /* short last block: repeat row 0 */
        for (long j = 0; j < kv; j += CB) {
            vf av;
            memcpy(&av, a + j, sizeof av);
            for (int r = 0; r < 4; r++) {
                vf wv;
                memcpy(&wv, wr[r] + j, sizeof wv);
                acc[r] += wv * av;
            }
        }
        for (int r = 0; r < rows; r++) {
            float s = hsum(acc[r]);
            for (long j = kv; j < k; j++) s += wr[r][j] * a[j];
            y[r0 + r] = clampf(s + (b ? b[r0 + r] : 0.0f), lo, hi);
        }
    }
    return 0;
}

int jiasu_gemv_entry(const jiasu_arg *a) { return jiasu_gemv(a[0].p, a[1].p, a[2].p, a[3].p, a[4].i, a[5].i, a[6].f, a[7].f, (int)a[8].i); }

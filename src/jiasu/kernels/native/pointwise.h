/* Register-blocked matrix product on channels_last rows for jiasu's C kernels: the pointwise (1x1)
 * convolution of pointwise.c and the expand/project steps of inverted_residual.c.
 *
 * y (p, cout) = x (p, cin) . W + bias, with the epilogue y = clamp(y + z, lo, hi) (z the residual,
 * optional; lo/hi +-inf where there is no clamp, a ReLU is lo = 0).
 *
 * The weight is packed once (jiasu_pack_pointwise in pointwise.c): output channels in panels of up to
 * NVMAX vectors of CB floats, each panel a (cin, width) block with its rows contiguous, so the inner loop reads
 * weights as one sequential stream. A block of P pixel rows and one panel of NV vectors keep P x NV
 * accumulators in registers: per input channel, NV weight-vector loads and P broadcasts feed P x NV
 * multiply-adds, over all cin input channels (a 2048-channel panel is 512 KiB, read from L2 at a few
 * bytes per multiply-add; blocking over input channels measured no faster).
 */
#ifndef JIASU_POINTWISE_H
#define JIASU_POINTWISE_H
#include "vec.h"

/* Panels of NVMAX vectors, blocks of rows[nv] pixels: at most 24 accumulators with 32 registers (AVX-512),
 * 12 with 16 (AVX2: the classic 6 x 16-float block), leaving room for the weight vectors and a broadcast.
 * -DNVMAX=N -DROWS={...} override both (JIASU_NATIVE_CFLAGS): on the AVX2 host, panels of 4 vectors with
 * blocks of 12/6/4/3 rows ran googlenet 1.7-2.3x slower than these (separate processes, interleaved). */
#ifndef NVMAX
#if JIASU_REGISTERS >= 32
#define NVMAX 4
#define ROWS {0, 16, 12, 8, 6}
#else
#define NVMAX 2
#define ROWS {0, 12, 6, 0, 0}
#endif
#endif

/* How a block's loop over input channels is unrolled: not at all by default; a kernel whose products run long
 * over many input channels defines it first (winograd.c, gemm_conv.c: by 4). */
#ifndef POINTWISE_K_UNROLL
#define POINTWISE_K_UNROLL
#endif

/* Panel layout: panel j starts at column cb = j * NVMAX * CB and holds nv = min(NVMAX, vectors
 * left) vectors; its (cin, nv * CB) block starts at wp + cb * cin. Columns past cout are zero. */

/* P pixel rows from x (row stride cin) times one panel w (cin, NV * CB) of output channels from cb.
 * bias is padded to whole vectors (zeros). Loops over p and v are unrolled so that the P x NV
 * accumulators stay in registers; only the last vector of the last panel can be partial (cout not
 * a multiple of CB), and only its store takes the slow path. */
#define BLOCK(NV, P)                                                                                      \
    static void block_##NV##_##P(const float *x, int cin, const float *w, int cb, int cout,               \
                                 const float *bias, const float *z, vf lo, vf hi, float *y,            \
                                 int stream) {                                                            \
        vf acc[P][NV];                                                                                   \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) {                                            \
            vf b;                                                                                        \
            memcpy(&b, bias + cb + v * CB, sizeof b);                                                     \
            _Pragma("GCC unroll 16") for (int p = 0; p < P; p++) acc[p][v] = b;                           \
        }                                                                                                 \
        POINTWISE_K_UNROLL for (int k = 0; k < cin; k++, w += NV * CB) {                                  \
            vf wv[NV];                                                                                   \
            for (int v = 0; v < NV; v++) memcpy(&wv[v], w + v * CB, sizeof(vf));                         \
            for (int p = 0; p < P; p++) {                                                                 \
                float xv = x[(long)p * cin + k];                                                          \
                for (int v = 0; v < NV; v++) acc[p][v] += xv * wv[v];                                     \
            }                                                                                             \
        }                                                                                                 \
        int full = cb + NV * CB <= cout;                                                                  \
        if (full && !stream) { /* the common case, straight-line: whole vectors, plain stores */          \
            if (z) {                                                                                      \
                _Pragma("GCC unroll 16") for (int p = 0; p < P; p++)                                      \
                    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) {                                \
                        long o = (long)p * cout + cb + v * CB;                                            \
                        vf zv;                                                                           \
                        memcpy(&zv, z + o, sizeof zv);                                                    \
                        vf r = vclamp(acc[p][v] + zv, lo, hi);                                           \
                        memcpy(y + o, &r, sizeof r);                                                      \
                    }                                                                                     \
            } else {                                                                                      \
                _Pragma("GCC unroll 16") for (int p = 0; p < P; p++)                                      \
                    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) {                                \
                        vf r = vclamp(acc[p][v], lo, hi);                                                \
                        memcpy(y + (long)p * cout + cb + v * CB, &r, sizeof r);                           \
                    }                                                                                     \
            }                                                                                             \
            return;                                                                                       \
        }                                                                                                 \
        _Pragma("GCC unroll 16") for (int p = 0; p < P; p++)                                              \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) {                                        \
                long o = (long)p * cout + cb + v * CB;                                                    \
                int cw = full ? CB : cout - cb - v * CB;                                                  \
                if (cw <= 0) continue;                                                                    \
                if (cw > CB) cw = CB;                                                                     \
                vf r = acc[p][v];                                                                        \
                if (z) r += vload(z + o, cw);                                                            \
                vput(y + o, vclamp(r, lo, hi), cw, stream);                                             \
            }                                                                                             \
    }

/* Every block size up to the largest of ROWS; the smaller ones take the rows left at a strip's end. */
BLOCK(1, 1) BLOCK(1, 2) BLOCK(1, 3) BLOCK(1, 4) BLOCK(1, 5) BLOCK(1, 6) BLOCK(1, 7) BLOCK(1, 8)
BLOCK(1, 9) BLOCK(1, 10) BLOCK(1, 11) BLOCK(1, 12) BLOCK(1, 13) BLOCK(1, 14) BLOCK(1, 15) BLOCK(1, 16)
BLOCK(2, 1) BLOCK(2, 2) BLOCK(2, 3) BLOCK(2, 4) BLOCK(2, 5) BLOCK(2, 6) BLOCK(2, 7) BLOCK(2, 8)
BLOCK(2, 9) BLOCK(2, 10) BLOCK(2, 11) BLOCK(2, 12)
BLOCK(3, 1) BLOCK(3, 2) BLOCK(3, 3) BLOCK(3, 4) BLOCK(3, 5) BLOCK(3, 6) BLOCK(3, 7) BLOCK(3, 8)
BLOCK(4, 1) BLOCK(4, 2) BLOCK(4, 3) BLOCK(4, 4) BLOCK(4, 5) BLOCK(4, 6)

typedef void (*block_fn)(const float *, int, const float *, int, int, const float *, const float *, vf, vf,
                         float *, int);

#define PMAX 16
/* blocks[nv][q]: q pixel rows, nv vectors; rows[nv]: the largest q for nv. */
static const int rows[5] = ROWS;
static const block_fn blocks[5][PMAX + 1] = {
    {0},
    {0, block_1_1, block_1_2, block_1_3, block_1_4, block_1_5, block_1_6, block_1_7, block_1_8, block_1_9,
     block_1_10, block_1_11, block_1_12, block_1_13, block_1_14, block_1_15, block_1_16},
    {0, block_2_1, block_2_2, block_2_3, block_2_4, block_2_5, block_2_6, block_2_7, block_2_8, block_2_9,
     block_2_10, block_2_11, block_2_12},
    {0, block_3_1, block_3_2, block_3_3, block_3_4, block_3_5, block_3_6, block_3_7, block_3_8},
    {0, block_4_1, block_4_2, block_4_3, block_4_4, block_4_5, block_4_6},
};

/* Panel vb (its first vector) over pixel rows [r0, r1), in as few blocks as the panel's largest height
 * allows, of heights that differ by at most one. A short last block is a few dependent chains of
 * multiply-adds, bound by their latency and not the units' throughput: 49 rows (a 7x7 map at batch 1)
 * as 8 x 6 + 1 spent on the 1 row two thirds of a 6-row block's time; as 4 x 6 + 5 x 5, a 5-row block
 * keeps 10 chains going, enough for two FMA units of latency 4. */
static void panel_rows(const float *x, long r0, long r1, int cin, const float *wp, int vb, int nvec, int cout,
                       const float *bias, const float *z, vf lo, vf hi, float *y, int stream) {
    int nv = nvec - vb < NVMAX ? nvec - vb : NVMAX, cb = vb * CB;
    const float *panel = wp + (long)cb * cin;
    for (long r = r0; r < r1;) {
        long left = r1 - r, n = (left + rows[nv] - 1) / rows[nv]; /* the blocks left */
        int q = (int)((left + n - 1) / n);
        blocks[nv][q](x + r * cin, cin, panel, cb, cout, bias, z ? z + r * cout : 0, lo, hi, y + r * cout, stream);
        r += q;
    }
}
#endif

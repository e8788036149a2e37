/* Depthwise 3x3 rows for jiasu's C kernels (direct.c, inverted_residual.c), on channels_last float32:
 * y[c] = b[c] + sum over the 9 taps of x[tap, c] * w[tap, c], CB channels a vector, with the epilogue
 * y = clamp(y + z, lo, hi) (z the residual, optional; lo/hi +-inf where there is no clamp). wt is
 * (3, 3, c). An input row is given by a pointer to its first pixel (w pixels of c floats), or NULL where
 * the row is padding. */
#ifndef JIASU_DEPTHWISE_H
#define JIASU_DEPTHWISE_H
#include "vec.h"

static inline vf finish(vf acc, const float *z, vf lo, vf hi, int cw) {
    if (z) acc += vload(z, cw);
    return vclamp(acc, lo, hi);
}

static inline vf vbias(const float *bias, int cb, int cw) { return bias ? vload(bias + cb, cw) : (vf){0}; }

/* Depthwise 3x3, dilation 1, stride S, a full vector of channels from cb, output columns [ox0, ox1) of
 * one row whose taps all lie inside the image along x: straight-line code with the 9 weight vectors in
 * registers, DW_PIXELS pixels at a time (independent accumulator chains), and each input vector of a
 * kernel row loaded once for them (four pixels: 2 + 3S + 1 loads for 12 multiply-adds). Four with
 * AVX-512's 16-float vectors; eight with AVX2's 8-float ones: the FMA chains' latency, not the registers,
 * bounds this loop (8 chains keep two FMA units busy; the spilled input vectors are L1 loads): on an AVX2
 * Zen 3, mobilenet_v2 at batch 1 ran 8.5-10.9 ms with 2 pixels, 6.9-8.3 with 4, and 7.2 with 8 where 4
 * took 7.2-9.2 (benchmarks/RESULTS.md, session 13). rows[i] is input
 * row iy0 + i, or NULL where that row is padding: its taps are skipped, not multiplied by a stand-in
 * (a real row times zero weights would turn an infinity there into a NaN). */
#ifndef DW_PIXELS
#if CB >= 16
#define DW_PIXELS 4
#else
#define DW_PIXELS 8
#endif
#endif

#define DEPTHWISE_3X3(S)                                                                                  \
    static void depthwise_3x3_s##S(const float *const *rows, int c, const float *wt, int pl, int ox0,    \
                                   int ox1, int cb, vf b, const float *zr, vf lo, vf hi, float *yr,    \
                                   int stream) {                                                          \
        vf wv[3][3];                                                                                     \
        for (int i = 0; i < 3; i++)                                                                       \
            for (int j = 0; j < 3; j++) memcpy(&wv[i][j], wt + (long)(i * 3 + j) * c + cb, sizeof(vf));  \
        int ox = ox0;                                                                                     \
        for (; ox + DW_PIXELS <= ox1; ox += DW_PIXELS) {                                                  \
            long x0 = (long)(ox * S - pl) * c + cb;                                                       \
            vf a[DW_PIXELS];                                                                              \
            for (int k = 0; k < DW_PIXELS; k++) a[k] = b;                                                 \
            for (int i = 0; i < 3; i++) {                                                                 \
                if (!rows[i]) continue;                                                                   \
                vf t[3 + (DW_PIXELS - 1) * S];                                                            \
                for (int q = 0; q < 3 + (DW_PIXELS - 1) * S; q++) memcpy(&t[q], rows[i] + x0 + (long)q * c, sizeof(vf)); \
                for (int k = 0; k < DW_PIXELS; k++)                                                       \
                    for (int j = 0; j < 3; j++) a[k] += t[j + k * S] * wv[i][j];                          \
            }                                                                                             \
            for (int k = 0; k < DW_PIXELS; k++) {                                                         \
                long off = (long)(ox + k) * c + cb;                                                       \
                vput(yr + off, finish(a[k], zr ? zr + off : 0, lo, hi, CB), CB, stream);                 \
            }                                                                                             \
        }                                                                                                 \
        for (; ox < ox1; ox++) {                                                                          \
            long x0 = (long)(ox * S - pl) * c + cb;                                                       \
            vf r[3] = {0};                                                                               \
            for (int i = 0; i < 3; i++) {                                                                 \
                if (!rows[i]) continue;                                                                   \
                for (int j = 0; j < 3; j++) {                                                             \
                    vf xv;                                                                               \
                    memcpy(&xv, rows[i] + x0 + (long)j * c, sizeof xv);                                   \
                    r[i] += xv * wv[i][j];                                                                \
                }                                                                                         \
            }                                                                                             \
            long off = (long)ox * c + cb;                                                                 \
            vstore(yr + off, finish(b + r[0] + r[1] + r[2], zr ? zr + off : 0, lo, hi, CB), CB);        \
        }                                                                                                 \
    }

DEPTHWISE_3X3(1)
DEPTHWISE_3X3(2)

/* The same for one output pixel whose window crosses the left or right edge: taps outside the row are
 * skipped. */
static void depthwise_3x3_edge(const float *const *rows, int w, int c, const float *wt, int sw, int pl, int ox,
                               int cb, vf b, const float *zr, vf lo, vf hi, float *yr) {
    int ix0 = ox * sw - pl;
    vf acc = b;
    for (int i = 0; i < 3; i++) {
        if (!rows[i]) continue;
        for (int j = 0; j < 3; j++)
            if (ix0 + j >= 0 && ix0 + j < w)
                acc += vload(rows[i] + (long)(ix0 + j) * c + cb, CB) * vload(wt + (long)(i * 3 + j) * c + cb, CB);
    }
    long off = (long)ox * c + cb;
    vstore(yr + off, finish(acc, zr ? zr + off : 0, lo, hi, CB), CB);
}
#endif

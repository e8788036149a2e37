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

/* Depthwise 3x3, dilation 1, stride S, one vector of channels: a block of P output pixels. Straight-line code (P
 * and S are constants): per kernel row, its 3 weight vectors are loaded, and each input vector of the row once,
 * then multiplied into every accumulator it feeds (P = 8, S = 1: 10 loads for 24 multiply-adds). P accumulators,
 * 3 weights and the input in flight are 12 vectors with P = 8: all fit AVX2's 16 registers. rows[i] points at
 * the block's first input vector in kernel row i (input pixels xs floats apart), or is NULL where that row is
 * padding: its taps are skipped. wt (3, 3, c) and yr (and zr, the residual, or NULL) are at the block's
 * channels, pixels c floats apart.
 *
 * Before session 19 the row's 9 weights stayed in registers across it, which left too few for the
 * accumulators (gcc passed each input vector through the stack), and the pixels past the last whole block and at
 * the row's ends went one at a time. On one Zen 3 thread (AVX2), each of mobilenet_v2's depthwise layers alone,
 * old against new (benchmarks/depthwise_rows.py): 12-26 against 21-41 GFLOP/s, 1.4-1.9x. */
#define DW_BLOCK_AT(S, P, L, R, NAME)                                                                     \
    static void NAME(const float *const *rows, long xs, long c, const float *wt, vf b, const float *zr, vf lo, vf hi, \
                     float *yr, int stream) {                                                             \
        vf a[P];                                                                                          \
        _Pragma("GCC unroll 8") for (int k = 0; k < P; k++) a[k] = b;                                     \
        for (int i = 0; i < 3; i++) {                                                                     \
            if (!rows[i]) continue;                                                                       \
            const float *r = rows[i], *wr = wt + i * 3 * c;                                               \
            vf w0 = vload(wr, CB), w1 = vload(wr + c, CB), w2 = vload(wr + 2 * c, CB);                    \
            _Pragma("GCC unroll 24") for (int q = 0; q < (P - 1) * S + 3; q++) {                          \
                if ((L && q == 0) || (R && q == (P - 1) * S + 2)) continue; /* padding: zeros */          \
                vf t = vload(r + q * xs, CB);                                                             \
                if (q % S == 0 && q / S < P) a[q / S] += t * w0;                                          \
                if (q >= 1 && (q - 1) % S == 0 && (q - 1) / S < P) a[(q - 1) / S] += t * w1;              \
                if (q >= 2 && (q - 2) % S == 0 && (q - 2) / S < P) a[(q - 2) / S] += t * w2;              \
            }                                                                                             \
        }                                                                                                 \
        _Pragma("GCC unroll 8") for (int k = 0; k < P; k++)                                               \
            vput(yr + k * c, finish(a[k], zr ? zr + k * c : 0, lo, hi, CB), CB, stream);                  \
    }
/* Each block four times: inside the row; with its first tap column in the padding (the row's first block at a
 * begin pad of 1); with its last there (the last block, where the end pad is used); both (a row of one block). */
#define DW_BLOCK(S, P)                                                                                    \
    DW_BLOCK_AT(S, P, 0, 0, dw_s##S##_##P) DW_BLOCK_AT(S, P, 1, 0, dw_l_s##S##_##P)                       \
    DW_BLOCK_AT(S, P, 0, 1, dw_r_s##S##_##P) DW_BLOCK_AT(S, P, 1, 1, dw_lr_s##S##_##P)

DW_BLOCK(1, 1) DW_BLOCK(1, 2) DW_BLOCK(1, 3) DW_BLOCK(1, 4) DW_BLOCK(1, 5) DW_BLOCK(1, 6) DW_BLOCK(1, 7) DW_BLOCK(1, 8)
DW_BLOCK(2, 1) DW_BLOCK(2, 2) DW_BLOCK(2, 3) DW_BLOCK(2, 4) DW_BLOCK(2, 5) DW_BLOCK(2, 6) DW_BLOCK(2, 7) DW_BLOCK(2, 8)

typedef void (*dw_block_fn)(const float *const *, long, long, const float *, vf, const float *, vf, vf, float *, int);
#define DW_MAX 8 /* pixels a block */
#define DW_ROW(V, S) {0, V##_s##S##_1, V##_s##S##_2, V##_s##S##_3, V##_s##S##_4, V##_s##S##_5, V##_s##S##_6, V##_s##S##_7, V##_s##S##_8}
/* [first tap column in the padding][last tap column in it][stride - 1][pixels] */
static const dw_block_fn dw_blocks[2][2][2][DW_MAX + 1] = {
    {{DW_ROW(dw, 1), DW_ROW(dw, 2)}, {DW_ROW(dw_r, 1), DW_ROW(dw_r, 2)}},
    {{DW_ROW(dw_l, 1), DW_ROW(dw_l, 2)}, {DW_ROW(dw_lr, 1), DW_ROW(dw_lr, 2)}},
};

/* Depthwise 3x3, dilation 1, stride s (1 or 2), begin pad pl along x: one output row of wo pixels from input rows
 * of w (rows as above, at the row's first pixel), one vector of channels from cb (c channels a pixel), into yr
 * (and zr, the residual's row, or NULL) at the row's first pixel.
 *
 * The row goes in blocks of at most DW_MAX pixels, of sizes that differ by at most one (14 pixels are 7 + 7):
 * each pixel's 9 multiply-adds are one dependent chain, so a block takes at least 9 FMA latencies whatever its
 * size, and a short one leaves the units idle. A block with one tap column in the padding at either end (a pad
 * of 1, the usual case) has its own code, which skips that column. (One function with a check per tap instead
 * compiled to thousands of branches and ran slower than the code it replaced.) Wider padding: the block reads a
 * copy of its inputs with zeros there, as the convolution's zero padding defines them. */
static void depthwise_3x3_row(const float *const *rows, int w, int c, const float *wt, int s, int pl, int wo, int cb,
                              vf b, const float *zr, vf lo, vf hi, float *yr, int stream) {
    vf pad[3][(DW_MAX - 1) * 2 + 3];
    for (int ox = 0; ox < wo;) {
        int left = wo - ox, n = (left + DW_MAX - 1) / DW_MAX, p = (left + n - 1) / n, ix0 = ox * s - pl;
        int taps = (p - 1) * s + 3, before = ix0 < 0 ? -ix0 : 0, after = ix0 + taps > w ? ix0 + taps - w : 0;
        const float *at[3];
        long off = (long)ox * c + cb;
        if (before <= 1 && after <= 1) { /* at most a tap column of padding each side */
            for (int i = 0; i < 3; i++) at[i] = rows[i] ? rows[i] + (long)ix0 * c + cb : 0;
            dw_blocks[before][after][s - 1][p](at, c, c, wt + cb, b, zr ? zr + off : 0, lo, hi, yr + off, stream);
        } else { /* wider padding: a copy with its zeros */
            for (int i = 0; i < 3; i++) {
                at[i] = rows[i] ? (const float *)pad[i] : 0;
                for (int q = 0; rows[i] && q < taps; q++)
                    pad[i][q] = ix0 + q >= 0 && ix0 + q < w ? vload(rows[i] + (long)(ix0 + q) * c + cb, CB) : (vf){0};
            }
            dw_blocks[0][0][s - 1][p](at, CB, c, wt + cb, b, zr ? zr + off : 0, lo, hi, yr + off, stream);
        }
        ox += p;
    }
}
#endif

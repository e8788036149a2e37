/* Direct convolution for jiasu/kernels/conv/nhwc_direct.py, on channels_last float32 tensors.
 *
 * Two convolutions that oneDNN (through torch) and GEMMs serve badly, as loops over output
 * pixels with the channels innermost (NHWC), CB at a time as one vector (vec.h):
 *
 * - dense, groups 1, few input channels (a network's first layer: 1 or 3 channels): per output
 *   pixel, y[co] = b[co] + sum over taps and input channels of x[tap, ci] * w[tap, ci, co]. Each
 *   input value is broadcast against a vector of output channels; a block of P pixels along a
 *   row shares every weight vector load, with P x NV accumulators in registers.
 * - depthwise, groups == channels (multiplier 1): y[c] = b[c] + sum over taps of x[tap, c] * w[tap, c]
 *   (the unrolled 3x3 rows, shared with inverted_residual.c, are in depthwise.h).
 *
 * Dense reads an output row whose taps reach into the padding through a small zero-padded copy of its input
 * rows (its window); depthwise skips the taps that fall in the padding, with no copy. Both fuse the epilogue:
 * y = clamp(conv + bias + z, lo, hi), with z (the residual, NHWC like y) optional and lo/hi +-inf where there
 * is no clamp (a ReLU is lo = 0). Rows of output (image, oy) are split over nt OpenMP threads. Shapes: x (n, h,
 * w, cin), or for dense with nchw set (n, cin, h, w); y and z (n, ho, wo, cout).
 */
#include <stdlib.h>
#include <string.h>

#include "entry.h"
#include "depthwise.h"
#include "scratch.h"
#include "window.h"

/* P output pixels from ox of one row, read in place or from the row's window (see jiasu_direct_dense): P x NV
 * accumulators in registers, and each weight vector loaded once for the P pixels. The taps (ky, kx, ci) are one
 * flat run t in [0, taps): off[t] is tap t's offset from pixel ox's first input, pixel ox + p's is p * step
 * further, and the weights are stored in the same order, so the loop has no per-row or per-tap overhead
 * (first layers have 1-3 input channels: a loop over channels alone would run one to three times). wp is the
 * panel of output channels [cb, cb + NV * CB): taps rows of `width` floats (jiasu_pack_dense). */
#define DENSE_BLOCK(NV, P)                                                                                \
    static void dense_##NV##_##P(const float *xc, const int *off, int taps, long step,                   \
                                 const float *wp, int width, int ox, int cb, int cout, const float *bias, \
                                 const float *zr, vf lo, vf hi, float *yr, int stream) {                \
        vf acc[P][NV];                                                                                   \
        for (int v = 0; v < NV; v++) {                                                                    \
            vf b = bias ? vload(bias + cb + v * CB, CB) : (vf){0};                                     \
            for (int p = 0; p < P; p++) acc[p][v] = b;                                                    \
        }                                                                                                 \
        for (int t = 0; t < taps; t++) {                                                                  \
            vf wv[NV];                                                                                   \
            for (int v = 0; v < NV; v++) memcpy(&wv[v], wp + (long)t * width + v * CB, sizeof(vf));      \
            const float *xt = xc + off[t];                                                                \
            for (int p = 0; p < P; p++) {                                                                 \
                float xv = xt[p * step];                                                                  \
                for (int v = 0; v < NV; v++) acc[p][v] += xv * wv[v];                                     \
            }                                                                                             \
        }                                                                                                 \
        if (cb + NV * CB <= cout && !stream) { /* the common case, straight-line (pointwise.h's BLOCK) */  \
            for (int p = 0; p < P; p++)                                                                   \
                for (int v = 0; v < NV; v++) {                                                            \
                    long o = (long)(ox + p) * cout + cb + v * CB;                                         \
                    vf r = acc[p][v];                                                                    \
                    if (zr) {                                                                             \
                        vf zv;                                                                           \
                        memcpy(&zv, zr + o, sizeof zv);                                                   \
                        r += zv;                                                                          \
                    }                                                                                     \
                    r = vclamp(r, lo, hi);                                                                \
                    memcpy(yr + o, &r, sizeof r);                                                         \
                }                                                                                         \
            return;                                                                                       \
        }                                                                                                 \
        for (int p = 0; p < P; p++)                                                                       \
            for (int v = 0; v < NV; v++) {                                                                \
                int c0 = cb + v * CB, cw = cout - c0 < CB ? cout - c0 : CB;                               \
                long o = (long)(ox + p) * cout + c0;                                                      \
                vput(yr + o, finish(acc[p][v], zr ? zr + o : 0, lo, hi, cw), cw, stream);                \
            }                                                                                             \
    }

/* With 32 registers (AVX-512): 16 pixels a block for one vector of output channels, 12 for two, 8 for
 * three, 6 for four: at most 24 accumulators, so they stay in registers next to the weight vectors. What
 * is left of a row takes blocks of 4, then of 1, which are still straight-line code over the flat tap run.
 * With 16 (AVX2) strips of two vectors, 12 or 6 pixels a block (12 accumulators), then 4, then 1. */
#if JIASU_REGISTERS >= 32
#define DENSE_NV 4
DENSE_BLOCK(1, 16)
DENSE_BLOCK(2, 12)
DENSE_BLOCK(3, 8)
DENSE_BLOCK(4, 6)
DENSE_BLOCK(1, 4)
DENSE_BLOCK(2, 4)
DENSE_BLOCK(3, 4)
DENSE_BLOCK(4, 4)
DENSE_BLOCK(1, 1)
DENSE_BLOCK(2, 1)
DENSE_BLOCK(3, 1)
DENSE_BLOCK(4, 1)
#define DENSE_BLOCKS                                                                                      \
    {{0, dense_1_16, dense_2_12, dense_3_8, dense_4_6}, {0, dense_1_4, dense_2_4, dense_3_4, dense_4_4},  \
     {0, dense_1_1, dense_2_1, dense_3_1, dense_4_1}}
#define DENSE_PX {{0, 16, 12, 8, 6}, {0, 4, 4, 4, 4}, {0, 1, 1, 1, 1}}
#else
#define DENSE_NV 2
DENSE_BLOCK(1, 12)
DENSE_BLOCK(2, 6)
DENSE_BLOCK(1, 4)
DENSE_BLOCK(2, 4)
DENSE_BLOCK(1, 1)
DENSE_BLOCK(2, 1)
#define DENSE_BLOCKS {{0, dense_1_12, dense_2_6}, {0, dense_1_4, dense_2_4}, {0, dense_1_1, dense_2_1}}
#define DENSE_PX {{0, 12, 6}, {0, 4, 4}, {0, 1, 1}}
#endif

typedef void (*dense_fn)(const float *, const int *, int, long, const float *, int, int, int, int,
                         const float *, const float *, vf, vf, float *, int);

/* Output row (image, oy)'s window: win[(ky * cin + ci) * wp + j] = x at input row oy*sh - pt + ky*dh, column
 * j - pl, channel ci, and zero where that lies in the padding. Pixel ox's taps start at column ox*sw. */
static void dense_window(const float *xi, int h, int w, int cin, int nchw, int kh, int sh, int dh, int pt, int pl,
                         int oy, int wp, float *win) {
    for (int ky = 0; ky < kh; ky++) {
        int iy = oy * sh - pt + ky * dh;
        for (int ci = 0; ci < cin; ci++) {
            float *row = win + (long)(ky * cin + ci) * wp;
            if (iy < 0 || iy >= h) {
                memset(row, 0, sizeof(float) * (size_t)wp);
                continue;
            }
            int left = pl < wp ? pl : wp, inside = w < wp - left ? w : wp - left;
            memset(row, 0, sizeof(float) * (size_t)left);
            if (nchw)
                memcpy(row + left, xi + ((long)ci * h + iy) * w, sizeof(float) * (size_t)inside);
            else
                for (int ix = 0; ix < inside; ix++) row[left + ix] = xi[((long)iy * w + ix) * cin + ci];
            memset(row + left + inside, 0, sizeof(float) * (size_t)(wp - left - inside));
        }
    }
}

/* wp from w (cout, taps) row-major, an ONNX weight (cout, cin, kh, kw) with its axes ordered (cout, kh, kw, cin),
 * so that tap t = (ky * kw + kx) * cin + ci: for jiasu_direct_dense, output channels in panels of up to DENSE_NV
 * vectors, as a row's blocks take them, each panel's taps x width floats in one run (pack_panels, vec.h). wp holds
 * taps * padded(cout) floats. With the channels as one (taps, padded(cout)) matrix instead, a block's taps were
 * 256 bytes apart at 64 output channels: its 147 weight lines (resnet's 7x7 conv1) fell in 16 of the L1's 64
 * sets, more than its 8 ways hold. */
void jiasu_pack_dense(const float *w, int cout, int taps, float *wp) { pack_panels(w, cout, taps, DENSE_NV, wp); }

/* Dense: x (n, h, w, cin), or with nchw set (n, cin, h, w): a first layer's input as it comes, which spares the
 * copy to NHWC. wt is packed by jiasu_pack_dense: whole vectors load past cout (as does the bias, padded to
 * whole runs of CPAD). An output row whose taps reach into the padding is read
 * through a copy of its input rows (dense_window: kh x cin rows of the padded width, 19 KiB for a 7x7 stride-2
 * layer on 224x224, zeros in the padding), so that every pixel of the row, borders included, goes through the
 * register blocks; other rows are read in place. Before, the pixels whose taps crossed the border went one at a
 * time with every tap checked: on resnet18's 7x7 stride-2 conv1 (3 of its 112 columns, and the 1 pixel left
 * after its blocks of 6) about a tenth of the layer's time. Returns 0, or -1 where a window cannot be
 * allocated. */
int jiasu_direct_dense(const float *x, const float *z, float *y, int n, int h, int w, int cin, int nchw,
                       const float *wt, int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, int cout,
                       const float *bias, float lo, float hi, int ho, int wo, int nt) {
    static const dense_fn blocks[3][DENSE_NV + 1] = DENSE_BLOCKS;
    static const int block_px[3][DENSE_NV + 1] = DENSE_PX;
    int nvec = vectors(cout);
    int wp = (wo - 1) * sw + (kw - 1) * dw + 1; /* the window's width: every column some pixel's taps read */
    vf lov = lo + (vf){0}, hiv = hi + (vf){0};
    /* Where pixel (iy, ix) channel ci is: x[(iy * w + ix) * ps + ci * cs], NHWC or NCHW. */
    long ps = nchw ? 1 : cin, cs = nchw ? (long)h * w : 1;
    /* A row whose window lies inside the image (no padding on the left or right, none of its input rows in
     * the padding: smallcnn's unpadded 7x7, most rows of a 3x3 with pad 0) is read in place, as the window
     * would hold the same values. Tap t = (ky * kw + kx) * cin + ci is off_in[t] floats from the pixel's
     * first input in x, off_win[t] from its first column in the window. */
    int inside_x = pl == 0 && wp <= w;
    int taps = kh * kw * cin;
    int *off_in = malloc(sizeof(int) * (size_t)taps * 2), *off_win = off_in + taps;
    if (!off_in) return -1;
    for (int ky = 0; ky < kh; ky++)
        for (int kx = 0; kx < kw; kx++)
            for (int ci = 0; ci < cin; ci++) {
                int t = (ky * kw + kx) * cin + ci;
                off_in[t] = (int)(((long)ky * dh * w + kx * dw) * ps + ci * cs);
                off_win[t] = (ky * cin + ci) * wp + kx * dw;
            }
    /* A large output (a first layer at batch 8: 8 x 112 x 112 x 32 floats) skips the caches on the blocks' stores. */
    int stream = worth_streaming(y, (long)n * ho * wo * cout, cout);
    int failed = 0;
#pragma omp parallel num_threads(nt) reduction(| : failed)
    {
        float *win = scratch(0, (size_t)kh * cin * wp);
        if (!win) failed = 1;
#pragma omp for schedule(static)
        for (long row = 0; row < (long)n * ho; row++) {
            if (failed) continue;
            long img = row / ho;
            int oy = (int)(row % ho), iy0 = oy * sh - pt;
            const float *xi = x + img * (long)h * w * cin, *base = win; /* pixel 0's first input */
            const int *off = off_win;
            long step = sw;
            if (inside_x && iy0 >= 0 && iy0 + (kh - 1) * dh < h)
                base = xi + (long)iy0 * w * ps, off = off_in, step = sw * ps;
            else
                dense_window(xi, h, w, cin, nchw, kh, sh, dh, pt, pl, oy, wp, win);
            const float *zr = z ? z + row * (long)wo * cout : 0;
            float *yr = y + row * (long)wo * cout;
            for (int vb = 0; vb < nvec; vb += DENSE_NV) {
                int nv = nvec - vb < DENSE_NV ? nvec - vb : DENSE_NV, cb = vb * CB, ox = 0;
                const float *panel = wt + (long)cb * taps;
                for (int size = 0; size < 3; size++)
                    for (int px = block_px[size][nv]; ox + px <= wo; ox += px)
                        blocks[size][nv](base + ox * step, off, taps, step, panel, nv * CB, ox, cb, cout, bias, zr, lov,
                                         hiv, yr, stream);
            }
        }
        if (stream) stream_fence(); /* before the barrier that ends the region: the caller reads y next */
    }
    free(off_in);
    return failed ? -1 : 0;
}

/* One depthwise output pixel, channels [cb, cb + cw), every tap checked: borders, border rows, and
 * kernels the fast path does not take. */
static void depthwise_pixel(const float *xr, int w, int c, const float *wt, int kw, int sw, int dh, int dw, int pl,
                            int ky0, int ky1, int iy0, int ox, int cb, int cw, vf b, const float *zr, vf lo,
                            vf hi, float *yr) {
    int kx0, kx1;
    tap_range(ox, sw, pl, dw, kw, w, &kx0, &kx1);
    const float *xp = xr + ((long)iy0 * w + ox * sw - pl) * c + cb;
    vf acc = b;
    for (int ky = ky0; ky < ky1; ky++) {
        vf r = (vf){0}; /* a chain per kernel row, so the rows overlap */
        for (int kx = kx0; kx < kx1; kx++)
            r += vload(xp + ((long)ky * dh * w + kx * dw) * c, cw) * vload(wt + (long)(ky * kw + kx) * c + cb, cw);
        acc += r;
    }
    long off = (long)ox * c + cb;
    vstore(yr + off, finish(acc, zr ? zr + off : 0, lo, hi, cw), cw);
}

/* Depthwise: wt is (kh, kw, c); bias (c) or NULL. */
int jiasu_direct_depthwise(const float *x, const float *z, float *y, int n, int h, int w, int c, const float *wt,
                           int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, const float *bias,
                           float lo, float hi, int ho, int wo, int nt) {
    vf lov = lo + (vf){0}, hiv = hi + (vf){0};
    int fast = kh == 3 && kw == 3 && dh == 1 && dw == 1 && (sw == 1 || sw == 2);
    int full = fast ? c / CB * CB : 0; /* channels [0, full) take the 3x3 code, the rest the general loop */
    /* A large output (a batch of big maps) skips the caches on the fast path's stores: measured on
     * mobilenet_v2's 112x112x32 and 56x56x144 layers at batch 8, 0.76 -> 0.57 and 1.84 -> 0.77 ms. */
    int stream = worth_streaming(y, (long)n * ho * wo * c, c);
#pragma omp parallel num_threads(nt)
    {
#pragma omp for schedule(static)
        for (long row = 0; row < (long)n * ho; row++) {
            long img = row / ho;
            int oy = (int)(row % ho), ky0, ky1;
            tap_range(oy, sh, pt, dh, kh, h, &ky0, &ky1);
            const float *xr = x + img * (long)h * w * c;
            const float *zr = z ? z + row * (long)wo * c : 0;
            float *yr = y + row * (long)wo * c;
            int iy0 = oy * sh - pt;
            if (full) {
                const float *rows[3];
                for (int i = 0; i < 3; i++) rows[i] = iy0 + i >= 0 && iy0 + i < h ? xr + (long)(iy0 + i) * w * c : 0;
                for (int cb = 0; cb < full; cb += CB) {
                    vf bv = vbias(bias, cb, CB);
                    depthwise_3x3_row(rows, w, c, wt, sw, pl, wo, cb, bv, zr, lov, hiv, yr, stream);
                }
            }
            for (int cb = full; cb < c; cb += CB) {
                int cw = c - cb < CB ? c - cb : CB;
                vf bv = vbias(bias, cb, cw);
                for (int ox = 0; ox < wo; ox++)
                    depthwise_pixel(xr, w, c, wt, kw, sw, dh, dw, pl, ky0, ky1, iy0, ox, cb, cw, bv, zr, lov, hiv, yr);
            }
        }
        if (stream) stream_fence(); /* before the barrier that ends the region: the caller reads y next */
    }
    return 0;
}

int jiasu_direct_dense_entry(const jiasu_arg *a) {
    return jiasu_direct_dense(a[0].p, a[1].p, a[2].p, (int)a[3].i, (int)a[4].i, (int)a[5].i, (int)a[6].i, (int)a[7].i,
                              a[8].p, (int)a[9].i, (int)a[10].i, (int)a[11].i, (int)a[12].i, (int)a[13].i, (int)a[14].i,
                              (int)a[15].i, (int)a[16].i, (int)a[17].i, a[18].p, a[19].f, a[20].f, (int)a[21].i,
                              (int)a[22].i, (int)a[23].i);
}

int jiasu_direct_depthwise_entry(const jiasu_arg *a) {
    return jiasu_direct_depthwise(a[0].p, a[1].p, a[2].p, (int)a[3].i, (int)a[4].i, (int)a[5].i, (int)a[6].i, a[7].p,
                                  (int)a[8].i, (int)a[9].i, (int)a[10].i, (int)a[11].i, (int)a[12].i, (int)a[13].i,
                                  (int)a[14].i, (int)a[15].i, a[16].p, a[17].f, a[18].f, (int)a[19].i, (int)a[20].i,
                                  (int)a[21].i);
}

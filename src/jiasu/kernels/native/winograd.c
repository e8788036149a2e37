/* Winograd tile transforms for jiasu/kernels/conv/winograd.py, on channels_last float32 tensors.
 *
 * The convolution is Y = A^T [ U (.) (B^T d B) ] A per output tile (see winograd.py). Torch runs
 * each transform as two small matmuls over strided views, each a separate pass over memory; here
 * one loop over the tiles reads each input tile once and writes its alpha x alpha transformed
 * values, and the output loop reads them back and writes finished outputs (bias, residual and
 * ReLU applied in the same pass). Channels are innermost (NHWC), so each tile position is a run
 * of contiguous channels, taken CB at a time as one vector (gcc's vector extension: AVX-512 where
 * the CPU has it, narrower vectors elsewhere).
 *
 * Tiles are numbered t = (image * th + tile_row) * tw + tile_col. A call handles tiles [t0, t1)
 * and stores tile t at row (t - base) of its (alpha^2, T, C) buffer, so a caller can transform one
 * chunk of tiles into a chunk-sized buffer (base = t0) or all of them at once (base = 0).
 * nt is the OpenMP thread count for the loop over tiles (1 inside a caller's own worker thread).
 * alpha is 4, 6 or 8; any other value returns -1 and writes nothing.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "entry.h"
#include "pointwise.h"
#include "vec.h"

/* Tile t's image and tile row/column in an n x th x tw grid. */
static inline long tile_of(long t, int th, int tw, int *ty, int *tx) {
    int r = (int)(t % ((long)th * tw));
    *ty = r / tw;
    *tx = r % tw;
    return t / ((long)th * tw);
}

/* v[(i*A + j), t - base, c] = (B^T d B)[i, j, c], d the A x A input tile at (ty*m - pt, tx*m - pl),
 * zero outside the h x w image. x is (n, h, w, c); bt is B^T, A x A, row-major. */
#define INPUT_FN(A)                                                                                       \
    static void input_##A(const float *x, int h, int w, int c, int pt, int pl, int th, int tw, int m,    \
                          const float *bt, long t0, long t1, long base, long T, float *v, int nt) {      \
        _Pragma("omp parallel for num_threads(nt) schedule(static)") for (long t = t0; t < t1; t++) {    \
            vf d[A][A], s[A][A];                                                                         \
            int ty, tx;                                                                                   \
            long img = tile_of(t, th, tw, &ty, &tx);                                                      \
            int y0 = ty * m - pt, x0 = tx * m - pl;                                                       \
            const float *xi = x + img * (long)h * w * c;                                                  \
            for (int cb = 0; cb < c; cb += CB) {                                                          \
                int cw = c - cb < CB ? c - cb : CB;                                                       \
                for (int i = 0; i < A; i++)                                                               \
                    for (int j = 0; j < A; j++) {                                                         \
                        int yy = y0 + i, xx = x0 + j;                                                     \
                        d[i][j] = (yy >= 0 && yy < h && xx >= 0 && xx < w)                                \
                                      ? vload(xi + ((long)yy * w + xx) * c + cb, cw)                     \
                                      : (vf){0};                                                         \
                    }                                                                                     \
                for (int i = 0; i < A; i++)                                                               \
                    for (int j = 0; j < A; j++) {                                                         \
                        vf acc = (vf){0};                                                               \
                        for (int q = 0; q < A; q++) acc += bt[i * A + q] * d[q][j];                       \
                        s[i][j] = acc;                                                                    \
                    }                                                                                     \
                for (int i = 0; i < A; i++)                                                               \
                    for (int j = 0; j < A; j++) {                                                         \
                        vf acc = (vf){0};                                                               \
                        for (int q = 0; q < A; q++) acc += bt[j * A + q] * s[i][q];                       \
                        vstore(v + ((long)(i * A + j) * T + (t - base)) * c + cb, acc, cw);              \
                    }                                                                                     \
            }                                                                                             \
        }                                                                                                 \
    }

/* y[img, ty*m + a, tx*m + b, :] = relu?((A^T M A)[a, b] + bias + z[same place]) for the m x m outputs
 * of tile t inside ho x wo (the rest of the tile is dropped). mm is (A*A, T, co); at is A^T, m x A;
 * bias (co) and z (n, ho, wo, co) may be NULL; y is (n, ho, wo, co). */
#define OUTPUT_FN(A)                                                                                      \
    static void output_##A(const float *mm, long T, int co, const float *at, int m, const float *bias,    \
                           const float *z, int relu, float *y, int ho, int wo, int th, int tw, long t0,   \
                           long t1, long base, int nt) {                                                  \
        _Pragma("omp parallel for num_threads(nt) schedule(static)") for (long t = t0; t < t1; t++) {    \
            vf v[A][A], s[A][A];                                                                         \
            int ty, tx;                                                                                   \
            long img = tile_of(t, th, tw, &ty, &tx);                                                      \
            for (int cb = 0; cb < co; cb += CB) {                                                         \
                int cw = co - cb < CB ? co - cb : CB;                                                     \
                vf bv = bias ? vload(bias + cb, cw) : (vf){0};                                         \
                for (int i = 0; i < A; i++)                                                               \
                    for (int j = 0; j < A; j++)                                                           \
                        v[i][j] = vload(mm + ((long)(i * A + j) * T + (t - base)) * co + cb, cw);        \
                for (int a = 0; a < m; a++)                                                               \
                    for (int j = 0; j < A; j++) {                                                         \
                        vf acc = (vf){0};                                                               \
                        for (int q = 0; q < A; q++) acc += at[a * A + q] * v[q][j];                       \
                        s[a][j] = acc;                                                                    \
                    }                                                                                     \
                for (int a = 0; a < m && ty * m + a < ho; a++)                                            \
                    for (int b = 0; b < m && tx * m + b < wo; b++) {                                      \
                        vf acc = bv;                                                                     \
                        for (int q = 0; q < A; q++) acc += at[b * A + q] * s[a][q];                       \
                        long off = ((img * ho + ty * m + a) * (long)wo + tx * m + b) * co + cb;           \
                        if (z) acc += vload(z + off, cw);                                                \
                        if (relu) acc = (vf)((vi)acc & (acc > (vf){0}));                              \
                        vstore(y + off, acc, cw);                                                        \
                    }                                                                                     \
            }                                                                                             \
        }                                                                                                 \
    }

INPUT_FN(4)
INPUT_FN(6)
INPUT_FN(8)
OUTPUT_FN(4)
OUTPUT_FN(6)
OUTPUT_FN(8)

int jiasu_winograd_input(int alpha, const float *x, int h, int w, int c, int pt, int pl, int th, int tw, int m,
                         const float *bt, long t0, long t1, long base, long T, float *v, int nt) {
    switch (alpha) {
    case 4: input_4(x, h, w, c, pt, pl, th, tw, m, bt, t0, t1, base, T, v, nt); return 0;
    case 6: input_6(x, h, w, c, pt, pl, th, tw, m, bt, t0, t1, base, T, v, nt); return 0;
    case 8: input_8(x, h, w, c, pt, pl, th, tw, m, bt, t0, t1, base, T, v, nt); return 0;
    default: return -1;
    }
}

int jiasu_winograd_output(int alpha, const float *mm, long T, int co, const float *at, int m, const float *bias,
                          const float *z, int relu, float *y, int ho, int wo, int th, int tw, long t0, long t1,
                          long base, int nt) {
    switch (alpha) {
    case 4: output_4(mm, T, co, at, m, bias, z, relu, y, ho, wo, th, tw, t0, t1, base, nt); return 0;
    case 6: output_6(mm, T, co, at, m, bias, z, relu, y, ho, wo, th, tw, t0, t1, base, nt); return 0;
    case 8: output_8(mm, T, co, at, m, bias, z, relu, y, ho, wo, th, tw, t0, t1, base, nt); return 0;
    default: return -1;
    }
}

/* The channel products of the alpha^2 positions: mm[q] (T, cout) = v[q] (T, cin) . U[q], q < positions, with
 * each U[q] (cin, cout) packed as jiasu_pack_pointwise packs a 1x1 weight (cin x padded(cout) floats a
 * position, in up). pointwise.h's register blocks; the threads split the (position, panel) pairs, each
 * over all T rows (at batch 1 a call has 36 x 4 or more pairs and few rows), or where pairs are fewer
 * than 4 threads a pair, each pair's rows too. Returns 0, or -1 where the zero bias cannot be allocated. */
int jiasu_winograd_product(const float *v, long T, int cin, const float *up, int cout, float *mm, int positions, int nt) {
    int cop = padded(cout), nvec = vectors(cout), panels = (nvec + NVMAX - 1) / NVMAX;
    float *zero = calloc((size_t)cop, sizeof(float));
    if (!zero) return -1;
    long pairs = (long)positions * panels;
    long strips = pairs >= 4L * nt ? 1 : (4L * nt + pairs - 1) / pairs;
    if (strips > T) strips = T > 0 ? T : 1;
    long items = pairs * strips;
    vf lo = -INFINITY + (vf){0}, hi = INFINITY + (vf){0};
#pragma omp parallel for num_threads(nt) schedule(static)
    for (long it = 0; it < items; it++) {
        long pair = it / strips, strip = it % strips;
        int q = (int)(pair / panels), j = (int)(pair % panels);
        long r0 = T * strip / strips, r1 = T * (strip + 1) / strips;
        panel_rows(v + (long)q * T * cin, r0, r1, cin, up + (long)q * cin * cop, j * NVMAX, nvec, cout, zero, 0, lo,
                   hi, mm + (long)q * T * cout, 0);
    }
    free(zero);
    return 0;
}

/* A whole Winograd convolution: per chunk of at most `chunk` tiles (0: all of them at once), the input
 * transform, the channel products and the output transform, into y (n, ho, wo, cout) with the bias, the
 * residual z and a ReLU (relu != 0). th x tw tiles an image; bt, at as for the transforms; up as for
 * jiasu_winograd_product. The chunks are as even as winograd.py's even_chunks makes them. Returns 0, or
 * -1 where alpha is not 4, 6 or 8 or a buffer cannot be allocated. */
int jiasu_winograd_conv(const float *x, const float *z, float *y, int alpha, int n, int h, int w, int cin, int pt,
                        int pl, int th, int tw, int m, const float *bt, const float *up, int cout, const float *at,
                        const float *bias, int relu, int ho, int wo, long chunk, int nt) {
    long tiles = (long)n * th * tw;
    long count = chunk > 0 ? (tiles + chunk - 1) / chunk : 1;
    if (count < 1) count = 1;
    long most = (tiles + count - 1) / count, a2 = (long)alpha * alpha;
    float *v = malloc(sizeof(float) * (size_t)(a2 * most * cin + 1));
    float *mm = malloc(sizeof(float) * (size_t)(a2 * most * cout + 1));
    int failed = !v || !mm;
    for (long i = 0; i < count && !failed; i++) {
        long t0 = tiles * i / count, t1 = tiles * (i + 1) / count, rows = t1 - t0;
        failed = jiasu_winograd_input(alpha, x, h, w, cin, pt, pl, th, tw, m, bt, t0, t1, t0, rows, v, nt) ||
                 jiasu_winograd_product(v, rows, cin, up, cout, mm, (int)a2, nt) ||
                 jiasu_winograd_output(alpha, mm, rows, cout, at, m, bias, z, relu, y, ho, wo, th, tw, t0, t1, t0, nt);
    }
    free(v);
    free(mm);
    return failed ? -1 : 0;
}

int jiasu_winograd_conv_entry(const jiasu_arg *a) {
    return jiasu_winograd_conv(a[0].p, a[1].p, a[2].p, (int)a[3].i, (int)a[4].i, (int)a[5].i, (int)a[6].i, (int)a[7].i,
                               (int)a[8].i, (int)a[9].i, (int)a[10].i, (int)a[11].i, (int)a[12].i, a[13].p, a[14].p,
                               (int)a[15].i, a[16].p, a[17].p, (int)a[18].i, (int)a[19].i, (int)a[20].i, a[21].i,
                               (int)a[22].i);
}

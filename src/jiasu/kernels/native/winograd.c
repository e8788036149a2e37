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

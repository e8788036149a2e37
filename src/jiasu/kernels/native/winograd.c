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
#include <string.h>

#include "claim.h"
#include "entry.h"
/* The channel products' loop over input channels unrolled by 4 (pointwise.h), here and in gemm_conv.c: paired, whole
 * models (AVX2 Zen 3), resnet18 1.03-1.06x at batch 8 and 1.06x at batch 1, resnet50 1.02x at batch 8. With it in
 * pointwise.c too, resnet50 ran 0.98-0.99x, so the 1x1 and fused-block kernels keep the plain loop. */
#define POINTWISE_K_UNROLL _Pragma("GCC unroll 4")
#include "pointwise.h"
#include "scratch.h"
#include "vec.h"

/* Tile t's image and tile row/column in an n x th x tw grid. */
static inline long tile_of(long t, int th, int tw, int *ty, int *tx) {
    int r = (int)(t % ((long)th * tw));
    *ty = r / tw;
    *tx = r % tw;
    return t / ((long)th * tw);
}

/* The transform matrices of winograd.py's F(2x2, 3x3) (alpha 4, points 0, 1, -1), F(4x4, 3x3) (alpha 6, points
 * 0, 1, -1, 1/2, -2) and F(6x6, 3x3) (alpha 8, points 0, +-1, +-2, +-1/2; its B^T also serves the larger kernels
 * on 8x8 tiles), row-major, as cook_toom makes them (every entry exact in float32). A call whose matrix equals
 * one of these runs the transform compiled with it (see term); any other matrix, the general loops. */
static const float BT4[16] = {-1, 0, 1, 0, 0, 1, 1, 0, 0, -1, 1, 0, 0, -1, 0, 1};
static const float AT4[8] = {1, 1, 1, 0, 0, 1, -1, 1};
static const float BT6[36] = {1, -1.5f, -2, 1.5f, 1, 0, 0, -1, 0.5f, 2.5f, 1, 0, 0, 1, -2.5f, 0.5f, 1, 0,
                              0, -2, -1, 2, 1, 0, 0, 0.5f, -1, -0.5f, 1, 0, 0, 1, -1.5f, -2, 1.5f, 1};
static const float AT6[24] = {1, 1, 1, 1, 1, 0, 0, 1, -1, 0.5f, -2, 0, 0, 1, 1, 0.25f, 4, 0, 0, 1, -1, 0.125f, -8, 1};
static const float BT8[64] = {-1, 0,     5.25f, 0,     -5.25f, 0,     1, 0, 0, 1,  1,     -4.25f, -4.25f, 1,     1, 0,
                              0,  -1,    1,     4.25f, -4.25f, -1,    1, 0, 0, .5f, .25f, -2.5f,  -1.25f, 2,     1, 0,
                              0,  -.5f,  .25f,  2.5f,  -1.25f, -2,    1, 0, 0, 2,  4,     -2.5f,  -5,     .5f,   1, 0,
                              0,  -2,    4,     2.5f,  -5,     -.5f,  1, 0, 0, -1, 0,     5.25f,  0,      -5.25f, 0, 1};
static const float AT8[48] = {1, 1, 1,  1,  1, 1,      1,       0, 0, 1, -1, 2,  -2,  .5f,    -.5f,    0,
                              0, 1, 1,  4,  4, .25f,   .25f,    0, 0, 1, -1, 8,  -8,  .125f,  -.125f,  0,
                              0, 1, 1, 16, 16, .0625f, .0625f,  0, 0, 1, -1, 32, -32, .03125f, -.03125f, 1};

/* acc + k x for an entry k of a transform matrix. The transforms below are inlined with a matrix the compiler
 * sees (known = 1: the built-in ones above) or one it does not (known = 0: any other, read at run time). With a
 * known matrix and the loops unrolled, k is a constant: a zero costs nothing and +-1 an add, where a matrix
 * read at run time costs a multiply-add for every entry. Both transforms are a quarter to a half zeros, and at
 * 64 channels (resnet18's layer1) they took more time than the channel products. Sums start at -0.0, which the
 * compiler drops from the first add (x + -0.0 is x for every x; x + 0.0 is not, for x = -0.0). */
static inline __attribute__((always_inline)) vf term(vf acc, float k, vf x, int known) {
    if (!known) return acc + k * x;
    return k == 0.0f ? acc : k == 1.0f ? acc + x : k == -1.0f ? acc - x : acc + k * x;
}

/* One vector of cw channels of one tile: o[(i*A + j) * ps] = (B^T d B)[i][j], with d[q][j] at src + q*rs + j*cs
 * and mat B^T, A x A. Column by column, then row by row, so that a column's A vectors and the A sums it feeds
 * fit in the registers, and the A^2 stores go out in order, one pointer step apart. */
static inline __attribute__((always_inline)) void input_tile(int A, const float *mat, int known, const float *src,
                                                              long rs, long cs, float *o, long ps, int cw) {
    vf s[8][8];
    _Pragma("GCC unroll 8") for (int j = 0; j < A; j++) {
        vf d[8];
        _Pragma("GCC unroll 8") for (int q = 0; q < A; q++) d[q] = vload(src + q * rs + j * cs, cw);
        _Pragma("GCC unroll 8") for (int i = 0; i < A; i++) {
            vf acc = -(vf){0};
            _Pragma("GCC unroll 8") for (int q = 0; q < A; q++) acc = term(acc, mat[i * A + q], d[q], known);
            s[i][j] = acc;
        }
    }
    _Pragma("GCC unroll 8") for (int i = 0; i < A; i++) _Pragma("GCC unroll 8") for (int j = 0; j < A; j++) {
        vf acc = -(vf){0};
        _Pragma("GCC unroll 8") for (int q = 0; q < A; q++) acc = term(acc, mat[j * A + q], s[i][q], known);
        vstore(o, acc, cw);
        o += ps;
    }
}

/* v[(i*A + j) * ps + (t - base) * c + c'] = (B^T d B)[i, j, c'], d the A x A input tile at (ty*m - pt, tx*m - pl),
 * zero outside the h x w image. x is (n, h, w, c); MAT is B^T, A x A, row-major: bt, or a known matrix (KNOWN 1).
 * A tile inside the image is read in place; one on the border through a zero-filled copy. */
#define INPUT_FN(NAME, A, MAT, KNOWN)                                                                            \
    static void NAME(const float *x, int h, int w, int c, int pt, int pl, int th, int tw, int m, const float *bt, \
                     long t0, long t1, long base, long ps, float *v, int nt) {                                   \
        (void)bt;                                                                                                \
        long rs = (long)w * c;                                                                                   \
        _Pragma("omp parallel for num_threads(nt) schedule(static)") for (long t = t0; t < t1; t++) {           \
            int ty, tx;                                                                                          \
            long img = tile_of(t, th, tw, &ty, &tx);                                                             \
            int y0 = ty * m - pt, x0 = tx * m - pl;                                                              \
            const float *xi = x + img * (long)h * w * c;                                                         \
            float *o = v + (t - base) * c;                                                                       \
            if (y0 >= 0 && x0 >= 0 && y0 + A <= h && x0 + A <= w) {                                             \
                const float *src = xi + ((long)y0 * w + x0) * c;                                                 \
                int cb = 0;                                                                                      \
                for (; cb + CB <= c; cb += CB) input_tile(A, MAT, KNOWN, src + cb, rs, c, o + cb, ps, CB);       \
                if (cb < c) input_tile(A, MAT, KNOWN, src + cb, rs, c, o + cb, ps, c - cb);                      \
                continue;                                                                                        \
            }                                                                                                    \
            float d[A * A * CB] __attribute__((aligned(64)));                                                    \
            for (int cb = 0; cb < c; cb += CB) {                                                                 \
                int cw = c - cb < CB ? c - cb : CB;                                                              \
                for (int i = 0; i < A; i++)                                                                      \
                    for (int j = 0; j < A; j++) {                                                                \
                        int yy = y0 + i, xx = x0 + j;                                                            \
                        vf e = (yy >= 0 && yy < h && xx >= 0 && xx < w) ? vload(xi + ((long)yy * w + xx) * c + cb, cw) \
                                                                         : (vf){0};                             \
                        memcpy(d + (i * A + j) * CB, &e, sizeof e);                                              \
                    }                                                                                            \
                input_tile(A, MAT, KNOWN, d, A * CB, CB, o + cb, ps, cw);                                        \
            }                                                                                                    \
        }                                                                                                        \
    }

/* One vector of cw channels of one tile: y[a*rs + b*cs] = relu?((A^T M A)[a][b] + bias + z[a*rs + b*cs]) for
 * a < ra, b < rb (the part of the m x m outputs inside the image), with M[q][j] at src + (q*A + j) * ps and mat
 * A^T, m x A. z may be NULL. */
static inline __attribute__((always_inline)) void output_tile(int A, int m, const float *mat, int known,
                                                               const float *src, long ps, vf bias, const float *z,
                                                               float *y, long rs, long cs, int ra, int rb, int relu,
                                                               int cw) {
    vf s[8][8];
    _Pragma("GCC unroll 8") for (int j = 0; j < A; j++) {
        vf v[8];
        const float *p = src + j * ps;
        _Pragma("GCC unroll 8") for (int q = 0; q < A; q++, p += A * ps) v[q] = vload(p, cw);
        _Pragma("GCC unroll 8") for (int a = 0; a < m; a++) {
            vf acc = -(vf){0};
            _Pragma("GCC unroll 8") for (int q = 0; q < A; q++) acc = term(acc, mat[a * A + q], v[q], known);
            s[a][j] = acc;
        }
    }
    _Pragma("GCC unroll 8") for (int a = 0; a < m; a++) _Pragma("GCC unroll 8") for (int b = 0; b < m; b++) {
        if (a >= ra || b >= rb) continue;
        vf acc = bias;
        _Pragma("GCC unroll 8") for (int q = 0; q < A; q++) acc = term(acc, mat[b * A + q], s[a][q], known);
        long off = a * rs + b * cs;
        if (z) acc += vload(z + off, cw);
        if (relu) acc = (vf)((vi)acc & (acc > (vf){0}));
        vstore(y + off, acc, cw);
    }
}

/* y[img, ty*m + a, tx*m + b, :] = relu?((A^T M A)[a, b] + bias + z[same place]) for the m x m outputs of tile t
 * inside ho x wo (the rest of the tile is dropped). Position q's row for tile t is at mm + q * ps + (t - base) * co;
 * MAT is A^T, M x A (at with M = m, or a known matrix with its M); bias (co) and z (n, ho, wo, co) may be NULL;
 * y is (n, ho, wo, co). */
#define OUTPUT_FN(NAME, A, M, MAT, KNOWN)                                                                        \
    static void NAME(const float *mm, long ps, int co, const float *at, int m, const float *bias, const float *z, \
                     int relu, float *y, int ho, int wo, int th, int tw, long t0, long t1, long base, int nt) {  \
        (void)at;                                                                                                \
        long rs = (long)wo * co;                                                                                 \
        _Pragma("omp parallel for num_threads(nt) schedule(static)") for (long t = t0; t < t1; t++) {           \
            int ty, tx;                                                                                          \
            long img = tile_of(t, th, tw, &ty, &tx);                                                             \
            int ra = ho - ty * m < m ? ho - ty * m : m, rb = wo - tx * m < m ? wo - tx * m : m;                  \
            const float *src = mm + (t - base) * co;                                                             \
            long off = ((img * ho + ty * m) * (long)wo + tx * m) * co;                                           \
            const float *zt = z ? z + off : NULL;                                                                \
            float *yt = y + off;                                                                                 \
            for (int cb = 0; cb < co; cb += CB) {                                                                \
                int cw = co - cb < CB ? co - cb : CB;                                                            \
                vf bv = bias ? vload(bias + cb, cw) : (vf){0};                                                   \
                const float *zc = zt ? zt + cb : NULL;                                                           \
                if (cw == CB && ra == M && rb == M)                                                              \
                    output_tile(A, M, MAT, KNOWN, src + cb, ps, bv, zc, yt + cb, rs, co, M, M, relu, CB);        \
                else                                                                                             \
                    output_tile(A, M, MAT, KNOWN, src + cb, ps, bv, zc, yt + cb, rs, co, ra, rb, relu, cw);      \
            }                                                                                                    \
        }                                                                                                        \
    }

INPUT_FN(input_4, 4, bt, 0)
INPUT_FN(input_6, 6, bt, 0)
INPUT_FN(input_8, 8, bt, 0)
INPUT_FN(input_4_known, 4, BT4, 1)
INPUT_FN(input_6_known, 6, BT6, 1)
INPUT_FN(input_8_known, 8, BT8, 1)
OUTPUT_FN(output_4, 4, m, at, 0)
OUTPUT_FN(output_6, 6, m, at, 0)
OUTPUT_FN(output_8, 8, m, at, 0)
OUTPUT_FN(output_4_known, 4, 2, AT4, 1)
OUTPUT_FN(output_6_known, 6, 4, AT6, 1)
OUTPUT_FN(output_8_known, 8, 6, AT8, 1)

/* Whether the matrix at p (count floats) is the known one. */
static int same(const float *p, const float *known, int count) {
    return memcmp(p, known, sizeof(float) * (size_t)count) == 0;
}

/* The input transform: see INPUT_FN (v's positions ps floats apart). */
static int input_strided(int alpha, const float *x, int h, int w, int c, int pt, int pl, int th, int tw, int m,
                         const float *bt, long t0, long t1, long base, long ps, float *v, int nt) {
    switch (alpha) {
    case 4:
        (same(bt, BT4, 16) ? input_4_known : input_4)(x, h, w, c, pt, pl, th, tw, m, bt, t0, t1, base, ps, v, nt);
        return 0;
    case 6:
        (same(bt, BT6, 36) ? input_6_known : input_6)(x, h, w, c, pt, pl, th, tw, m, bt, t0, t1, base, ps, v, nt);
        return 0;
    case 8:
        (same(bt, BT8, 64) ? input_8_known : input_8)(x, h, w, c, pt, pl, th, tw, m, bt, t0, t1, base, ps, v, nt);
        return 0;
    default: return -1;
    }
}

int jiasu_winograd_input(int alpha, const float *x, int h, int w, int c, int pt, int pl, int th, int tw, int m,
                         const float *bt, long t0, long t1, long base, long T, float *v, int nt) {
    return input_strided(alpha, x, h, w, c, pt, pl, th, tw, m, bt, t0, t1, base, T * c, v, nt);
}

/* The output transform of M (alpha^2 positions ps apart, T x co each): see OUTPUT_FN. */
static int output_strided(int alpha, const float *mm, long ps, int co, const float *at, int m, const float *bias,
                          const float *z, int relu, float *y, int ho, int wo, int th, int tw, long t0, long t1,
                          long base, int nt) {
    switch (alpha) {
    case 4:
        (m == 2 && same(at, AT4, 8) ? output_4_known : output_4)(mm, ps, co, at, m, bias, z, relu, y, ho, wo, th, tw,
                                                                 t0, t1, base, nt);
        return 0;
    case 6:
        (m == 4 && same(at, AT6, 24) ? output_6_known : output_6)(mm, ps, co, at, m, bias, z, relu, y, ho, wo, th, tw,
                                                                  t0, t1, base, nt);
        return 0;
    case 8:
        (m == 6 && same(at, AT8, 48) ? output_8_known : output_8)(mm, ps, co, at, m, bias, z, relu, y, ho, wo, th, tw,
                                                                  t0, t1, base, nt);
        return 0;
    default: return -1;
    }
}

int jiasu_winograd_output(int alpha, const float *mm, long T, int co, const float *at, int m, const float *bias,
                          const float *z, int relu, float *y, int ho, int wo, int th, int tw, long t0, long t1,
                          long base, int nt) {
    return output_strided(alpha, mm, T * co, co, at, m, bias, z, relu, y, ho, wo, th, tw, t0, t1, base, nt);
}

/* The channel products of the alpha^2 positions: mm[q] (T, cout) = v[q] (T, cin) . U[q], q < positions, with
 * each U[q] (cin, cout) packed as jiasu_pack_pointwise packs a 1x1 weight (cin x padded(cout) floats a
 * position, in up). pointwise.h's register blocks; the threads split the (position, panel) pairs, each
 * over all T rows (at batch 1 a call has 36 x 4 or more pairs and few rows), or where pairs are fewer
 * than 4 threads a pair, each pair's rows too. Returns 0, or -1 where the zero bias cannot be allocated. */
/* jiasu_winograd_product with v's positions vps floats apart and mm's mps, and zero: padded(cout) zeros (the
 * products' bias), allocated once per convolution by the caller. */
static void product_strided(const float *v, long vps, long T, int cin, const float *up, int cout, float *mm, long mps,
                            int positions, const float *zero, int nt) {
    int nvec = vectors(cout), panels = (nvec + NVMAX - 1) / NVMAX;
    long cop = padded(cout);
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
        panel_rows(v + q * vps, r0, r1, cin, up + (long)q * cin * cop, j * NVMAX, nvec, cout, zero, 0, lo, hi,
                   mm + q * mps, 0);
    }
}

int jiasu_winograd_product(const float *v, long T, int cin, const float *up, int cout, float *mm, int positions, int nt) {
    float *zero = calloc((size_t)padded(cout), sizeof(float));
    if (!zero) return -1;
    product_strided(v, T * cin, T, cin, up, cout, mm, T * cout, positions, zero, nt);
    free(zero);
    return 0;
}

/* The floats between the positions of a chunk's V or M, rows x c each: rows * c rounded up to a whole number of
 * 64-byte lines, and an odd number of them. The transforms touch all alpha^2 positions of a tile at once; a
 * stride of a multiple of 4 KiB (64 channels by 16k tiles) put them all in one set of the 8-way L1 cache, and
 * resnet18's layer1 transforms ran 2.5x slower than with the lines spread over the sets. */
static long position_stride(long rows, int c) {
    long lines = (rows * c + 15) / 16;
    return 16 * (lines | 1);
}

/* Where U is at most OWN_TILES_U_BYTES (64 and 128 channels with F(4x4)), each thread takes its own share of
 * the tiles through all three steps, own_step_rows tiles (a multiple of the products' 6-row blocks) at a time:
 * about OWN_STEP_BYTES of V, so that V and M stay in the thread's L2 and only x and y cross the L3, where in
 * chunks shared by all threads (the threads split a chunk's tiles in the transforms and its positions in the
 * products) V and M went out to the L3 and back, three times x's and y's traffic at 64 channels. Larger U
 * keeps the shared chunks: each thread would read all of U for every step of its tiles. Each thread walks its own
 * share of the steps in order, then takes what is left of the others' from their far ends (claim.h), so that a
 * thread on a slower vCPU does not keep the other waiting. */
#ifndef OWN_TILES_U_BYTES
#define OWN_TILES_U_BYTES (1L << 20)
#endif
#ifndef OWN_STEP_BYTES
#define OWN_STEP_BYTES (192L << 10)
#endif
static long own_step_rows(long v_tile) {
    long rows = OWN_STEP_BYTES / v_tile / 6 * 6;
    return rows < 12 ? 12 : rows;
}

/* jiasu_winograd_conv on each thread's own tiles (see OWN_TILES_U_BYTES). */
static int own_tiles(const float *x, const float *z, float *y, int alpha, long tiles, int h, int w, int cin, int pt,
                     int pl, int th, int tw, int m, const float *bt, const float *up, int cout, const float *at,
                     const float *bias, int relu, int ho, int wo, int nt) {
    long a2 = (long)alpha * alpha, step = own_step_rows(a2 * cin * (long)sizeof(float));
    long vps = position_stride(step, cin), mps = position_stride(step, cout);
    float *zero = calloc((size_t)padded(cout), sizeof(float));
    if (!zero) return -1;
    int failed = 0;
    long steps = (tiles + step - 1) / step;
    claim_range ranges[CLAIM_THREADS];
#pragma omp parallel num_threads(nt < CLAIM_THREADS ? nt : CLAIM_THREADS) reduction(| : failed)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        /* each thread's own scratch; the steps' transforms and products below run on this thread alone */
        float *v = scratch(0, (size_t)(a2 * vps)), *mm = scratch(1, (size_t)(a2 * mps));
        if (!v || !mm) failed = 1;
        claim_init(ranges, steps, t, T);
#pragma omp barrier
        claim_cursor cursor = {0};
        for (long i; !failed && (i = claim_next(ranges, t, T, &cursor)) >= 0;) {
            long t0 = i * step, t1 = t0 + step < tiles ? t0 + step : tiles;
            failed = input_strided(alpha, x, h, w, cin, pt, pl, th, tw, m, bt, t0, t1, t0, vps, v, 1);
            if (!failed) product_strided(v, vps, t1 - t0, cin, up, cout, mm, mps, (int)a2, zero, 1);
            failed = failed || output_strided(alpha, mm, mps, cout, at, m, bias, z, relu, y, ho, wo, th, tw, t0, t1, t0, 1);
        }
    }
    free(zero);
    return failed ? -1 : 0;
}

/* A whole Winograd convolution: per chunk of at most `chunk` tiles (0: all of them at once), the input
 * transform, the channel products and the output transform (or each thread's own tiles through all three, see
 * OWN_TILES_U_BYTES), into y (n, ho, wo, cout) with the bias, the residual z and a ReLU (relu != 0). th x tw
 * tiles an image; bt, at as for the transforms; up as for jiasu_winograd_product. The chunks are as even as
 * winograd.py's even_chunks makes them. Returns 0, or -1 where alpha is not 4, 6 or 8 or a buffer cannot be
 * allocated. V and M are the scratch (scratch.h) of the thread that fills them. */
int jiasu_winograd_conv(const float *x, const float *z, float *y, int alpha, int n, int h, int w, int cin, int pt,
                        int pl, int th, int tw, int m, const float *bt, const float *up, int cout, const float *at,
                        const float *bias, int relu, int ho, int wo, long chunk, int nt) {
    long tiles = (long)n * th * tw;
    long u_bytes = (long)alpha * alpha * cin * padded(cout) * (long)sizeof(float);
    if (nt > 1 && u_bytes <= OWN_TILES_U_BYTES && tiles >= 2L * nt * own_step_rows((long)alpha * alpha * cin * 4))
        return own_tiles(x, z, y, alpha, tiles, h, w, cin, pt, pl, th, tw, m, bt, up, cout, at, bias, relu, ho, wo, nt);
    long count = chunk > 0 ? (tiles + chunk - 1) / chunk : 1;
    if (count < 1) count = 1;
    long most = (tiles + count - 1) / count, a2 = (long)alpha * alpha;
    long vps = position_stride(most, cin), mps = position_stride(most, cout);
    float *v = scratch(0, (size_t)(a2 * vps)), *mm = scratch(1, (size_t)(a2 * mps));
    float *zero = calloc((size_t)padded(cout), sizeof(float));
    int failed = !v || !mm || !zero;
    for (long i = 0; i < count && !failed; i++) {
        long t0 = tiles * i / count, t1 = tiles * (i + 1) / count, rows = t1 - t0;
        failed = input_strided(alpha, x, h, w, cin, pt, pl, th, tw, m, bt, t0, t1, t0, vps, v, nt);
        if (!failed) product_strided(v, vps, rows, cin, up, cout, mm, mps, (int)a2, zero, nt);
        failed = failed || output_strided(alpha, mm, mps, cout, at, m, bias, z, relu, y, ho, wo, th, tw, t0, t1, t0, nt);
    }
    free(zero);
    return failed ? -1 : 0;
}

int jiasu_winograd_conv_entry(const jiasu_arg *a) {
    return jiasu_winograd_conv(a[0].p, a[1].p, a[2].p, (int)a[3].i, (int)a[4].i, (int)a[5].i, (int)a[6].i, (int)a[7].i,
                               (int)a[8].i, (int)a[9].i, (int)a[10].i, (int)a[11].i, (int)a[12].i, a[13].p, a[14].p,
                               (int)a[15].i, a[16].p, a[17].p, (int)a[18].i, (int)a[19].i, (int)a[20].i, a[21].i,
                               (int)a[22].i);
}

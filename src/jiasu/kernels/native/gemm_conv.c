/* A dense convolution as rows of patches times the packed weight, for jiasu/kernels/conv/nhwc_gemm.py, on
 * channels_last float32 tensors: the convolutions the other C kernels leave to oneDNN (strided, on small maps,
 * many input channels), so that a chain (jiasu/runtime/chain.py) can take them too.
 *
 *     y (pixels, cout) = clamp(patches (pixels, K) . W (K, cout) + bias + z, lo, hi),  K = kh * kw * cin
 *
 * A patch is the input window of one output pixel in (ky, kx, ci) order, zeros where it falls in the padding.
 * Output pixels go in blocks of R rows: a thread gathers a block's patches into its own buffer (sized to stay
 * in L2 next to a weight panel) and runs pointwise.h's register blocks over it, panel by panel. Where the
 * blocks are fewer than 2 per thread, the (block, panel group) pairs are split instead, and a thread gathers
 * a block once for all the panels it takes of it; where the weight outweighs the patches, one block holds
 * every pixel and the threads split its panels.
 *
 * Shapes: x (n, h, w, cin); y and z (n, ho, wo, cout); wp the (cout, K) weight packed by jiasu_pack_pointwise
 * (pointwise.c), bias padded to whole vectors (zeros). Returns 0, or -1 where a buffer cannot be allocated. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "entry.h"
#define POINTWISE_K_UNROLL _Pragma("GCC unroll 4") /* as winograd.c (see there) */
#include "pointwise.h"
#include "scratch.h"

/* Bytes of patches a block holds at most (a quarter of a 512 KiB L2: the weight panel streams past it). */
#define PATCH_BYTES (128 << 10)

/* Output pixels [p0, p1) of the (n, ho, wo) grid as patch rows of K floats into buf. */
static void gather(const float *x, int h, int w, int cin, int kh, int kw, int sh, int sw, int dh, int dw, int pt,
                   int pl, int ho, int wo, long p0, long p1, float *buf) {
    long K = (long)kh * kw * cin;
    for (long p = p0; p < p1; p++) {
        long img = p / ((long)ho * wo);
        int r = (int)(p % ((long)ho * wo)), oy = r / wo, ox = r % wo;
        float *row = buf + (p - p0) * K;
        for (int ky = 0; ky < kh; ky++) {
            int iy = oy * sh - pt + ky * dh;
            for (int kx = 0; kx < kw; kx++, row += cin) {
                int ix = ox * sw - pl + kx * dw;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                    memset(row, 0, sizeof(float) * (size_t)cin);
                else
                    memcpy(row, x + ((img * h + iy) * w + ix) * cin, sizeof(float) * (size_t)cin);
            }
        }
    }
}

int jiasu_gemm_conv(const float *x, const float *z, float *y, int n, int h, int w, int cin, const float *wp, int kh,
                    int kw, int sh, int sw, int dh, int dw, int pt, int pl, int cout, const float *bias, float lo,
                    float hi, int ho, int wo, int nt) {
    long K = (long)kh * kw * cin, P = (long)n * ho * wo;
    long R = PATCH_BYTES / 4 / K;
    R = R < 12 ? 12 : R > 96 ? 96 : R / 12 * 12; /* whole 12-row register blocks */
    int nvec = vectors(cout), panels = (nvec + NVMAX - 1) / NVMAX;
    /* Where the weight outweighs the patches (more output channels than pixels: 512 -> 512 on a 7x7 map at
     * batch 1, a 9 MiB weight), every block would stream all of it again: one block of every pixel instead,
     * its panels split over the threads, so the weight is read once in all (as jiasu_pointwise splits). */
    if ((long)padded(cout) > P && panels >= 2 * nt) R = P;
    long blocks = (P + R - 1) / R;
    int groups = blocks >= 2L * nt ? 1 : (int)((2L * nt + blocks - 1) / blocks);
    if (R == P) groups = panels;
    if (groups > panels) groups = panels;
    long items = blocks * groups;
    vf lov = lo + (vf){0}, hiv = hi + (vf){0};
    int failed = 0;
#pragma omp parallel num_threads(nt) reduction(| : failed)
    {
        float *buf = scratch(0, (size_t)(R * K)); /* each OpenMP thread's own, kept for its next call */
        if (!buf) failed = 1;
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        long have = -1;
        for (long it = items * t / T; it < items * (t + 1) / T && buf; it++) {
            long b = it / groups;
            int g = (int)(it % groups);
            long p0 = b * R, p1 = p0 + R < P ? p0 + R : P;
            if (have != b) {
                gather(x, h, w, cin, kh, kw, sh, sw, dh, dw, pt, pl, ho, wo, p0, p1, buf);
                have = b;
            }
            for (int j = panels * g / groups; j < panels * (g + 1) / groups; j++)
                panel_rows(buf, 0, p1 - p0, (int)K, wp, j * NVMAX, nvec, cout, bias, z ? z + p0 * cout : 0, lov, hiv,
                           y + p0 * cout, 0);
        }
    }
    return failed ? -1 : 0;
}

int jiasu_gemm_conv_entry(const jiasu_arg *a) {
    return jiasu_gemm_conv(a[0].p, a[1].p, a[2].p, (int)a[3].i, (int)a[4].i, (int)a[5].i, (int)a[6].i, a[7].p,
                           (int)a[8].i, (int)a[9].i, (int)a[10].i, (int)a[11].i, (int)a[12].i, (int)a[13].i,
                           (int)a[14].i, (int)a[15].i, (int)a[16].i, a[17].p, a[18].f, a[19].f, (int)a[20].i,
                           (int)a[21].i, (int)a[22].i);
}

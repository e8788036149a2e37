/* A mobilenet inverted residual block in one pass over the image, for
 * jiasu/kernels/ops/inverted_residual.py, on channels_last float32:
 *
 *     e = clamp(x . We + be, lo1, hi1)             expand, 1x1, cin -> hid (optional)
 *     d = clamp(depthwise3x3(e, stride s) + bd, lo2, hi2)      pad 1
 *     y = clamp(d . Wp + bp + z, lo3, hi3)         project, 1x1, hid -> cout; z the residual (optional)
 *
 * Run as three layers, e and d (hid = 6 cin channels) are written to memory whole and read back by
 * the next layer: at batch 8 on 56x56 maps, 14 MiB each, far past the caches. Here each thread takes
 * groups of G output rows: it expands the few rows of e the group's windows need into a buffer, runs
 * the depthwise rows into a second buffer, and projects those into y, so e and d never leave L2. A
 * group keeps the rows of e the next group of the same image shares with it (2 at stride 1, 1 at
 * stride 2); a thread's first group of an image computes them. The threads share the groups of all
 * images (n x ceil(ho / G)) in contiguous runs.
 *
 * With fewer images than threads (batch 1) that would leave a 7x7 map (one group) to one thread, or
 * make each thread recompute the rows of e around its share. There the threads expand one image's
 * e whole into a shared buffer instead, each its share of the pixels, and after a barrier each runs
 * the depthwise and the projection of its share of the output rows. Where a weight outweighs the
 * pixels (7x7 and 14x14 maps), that product splits its output panels over the threads instead, as
 * jiasu_pointwise does, so each thread reads only its part of the weight: then d is made whole first
 * (one more barrier), and the projection reads it all. mobilenet_v2 at batch 1: 0.3-3% faster than
 * with rows (one process, interleaved).
 *
 * Measured against the three layers run one after another by the same C code (one process, both
 * hot; benchmarks/inverted_residual.py): 1.10-1.29x at batch 1, 1.07-1.67x at batch 8.
 *
 * The matrix products are pointwise.h's register blocks over a group's rows (G rows of wo pixels are
 * one run of G * wo pixels); the depthwise rows are depthwise.h's 3x3 code. Without an expand
 * (we == NULL; mobilenet_v2's first block) e is x itself and hid == cin.
 *
 * Shapes: x (n, h, w, cin); y and z (n, ho, wo, cout), ho = (h - 1) / s + 1. we and wp packed by
 * jiasu_pack_pointwise (pointwise.c), be and bp padded to whole vectors (zeros); wd (3, 3, hid), bd (hid).
 * hid is a multiple of 16. Returns 0, or -1 where a buffer cannot be allocated.
 */
#include <omp.h>
#include <stdlib.h>

#include "entry.h"
#include "depthwise.h"
#include "pointwise.h"

/* Rows of output a group, so that a group's products run over at least GROUP_PIXELS pixels (a 7x7 map:
 * the whole image; 56x56: one row). */
#define GROUP_PIXELS 64

static float *buffer(long floats) { return aligned_alloc(64, ((size_t)floats * sizeof(float) + 63) / 64 * 64); }

/* A run of pixels (row stride cin) through every panel of a packed weight, into y (row stride cout). */
static void product(const float *x, long pixels, int cin, const float *wp, int cout, const float *bias, const float *z,
                    vf lo, vf hi, float *y, int stream) {
    int nvec = vectors(cout); /* the packed panels' vectors */
    for (int vb = 0; vb < nvec; vb += NVMAX) panel_rows(x, 0, pixels, cin, wp, vb, nvec, cout, bias, z, lo, hi, y, stream);
}

/* The shapes and operands of one call. */
typedef struct {
    const float *x, *z, *we, *be, *wd, *bd, *wp, *bp;
    float *y;
    int n, h, w, cin, hid, s, cout, ho, wo, stream;
    vf l1, h1, l2, h2, l3, h3;
} block;

/* Output rows [oy0, oy1) of image img's depthwise conv from e (row r at rows_at + (r - base) * w * hid) into d. */
static void depthwise_rows(const block *b, int oy0, int oy1, const float *rows_at, int base, float *d) {
    int w = b->w, hid = b->hid, wo = b->wo, s = b->s;
    for (int oy = oy0; oy < oy1; oy++) {
        const float *rows[3];
        int iy0 = oy * s - 1;
        for (int i = 0; i < 3; i++) rows[i] = iy0 + i >= 0 && iy0 + i < b->h ? rows_at + (long)(iy0 + i - base) * w * hid : 0;
        float *dr = d + (long)(oy - oy0) * wo * hid;
        for (int cb = 0; cb < hid; cb += CB) {
            vf bv = vbias(b->bd, cb, CB);
            depthwise_3x3_row(rows, w, hid, b->wd, s, 1, wo, cb, bv, 0, b->l2, b->h2, dr, 0);
        }
    }
}

/* Output rows [oy0, oy1) of image img: the depthwise rows into d, then d's rows projected into y. */
static void rows_out(const block *b, long img, int oy0, int oy1, const float *rows_at, int base, float *d) {
    depthwise_rows(b, oy0, oy1, rows_at, base, d);
    long out = (img * b->ho + oy0) * (long)b->wo * b->cout;
    product(d, (long)(oy1 - oy0) * b->wo, b->hid, b->wp, b->cout, b->bp, b->z ? b->z + out : 0, b->l3, b->h3, b->y + out, b->stream);
}

/* Whether a product over p pixels into cout channels splits its panels over the threads rather than its pixels,
 * as jiasu_pointwise decides: a weight larger than the pixels' share (7x7 maps at batch 1) is then read once
 * in all, not once by each thread. */
static int by_panels(long p, int cout, int nt) {
    int cop = padded(cout), panels = (vectors(cout) + NVMAX - 1) / NVMAX;
    return (long)cop > p && panels >= 2 * nt;
}

/* Thread t of T's share of a product of p pixels: its panels (all pixels), or its pixels (all panels). */
static void product_share(const float *x, long p, int cin, const float *wp, int cout, const float *bias, const float *z,
                          vf lo, vf hi, float *y, int stream, int panels_split, int t, int T) {
    int nvec = vectors(cout); /* the packed panels' vectors */
    if (panels_split) {
        int panels = (nvec + NVMAX - 1) / NVMAX;
        for (int j = panels * t / T; j < panels * (t + 1) / T; j++)
            panel_rows(x, 0, p, cin, wp, j * NVMAX, nvec, cout, bias, z, lo, hi, y, stream);
    } else {
        long p0 = p * t / T, p1 = p * (t + 1) / T;
        if (p0 < p1) product(x + p0 * cin, p1 - p0, cin, wp, cout, bias, z ? z + p0 * cout : 0, lo, hi, y + p0 * cout, stream);
    }
}

/* Rows [r0, r1) of image img's e, expanded into e (row r0 first). */
static void expand(const block *b, long img, int r0, int r1, float *e) {
    long w = b->w;
    product(b->x + (img * b->h + r0) * w * b->cin, (r1 - r0) * w, b->cin, b->we, b->hid, b->be, 0, b->l1, b->h1, e, 0);
}

/* Rows of output a group for output rows of wo pixels, at most ho. */
static int group_rows(int ho, int wo) {
    int g = (GROUP_PIXELS + wo - 1) / wo;
    return g > ho ? ho : g;
}

/* Rows of e a group of g output rows reads, at most (never more than the image's h). */
static int span_rows(int g, int s, int h) { return (g - 1) * s + 3 < h ? (g - 1) * s + 3 : h; }

/* The largest e (in floats) the threads share at batch 1: 1 MiB. Past it (mobilenet_v2's 56x56 and 112x112
 * blocks) the whole e leaves L2 on its way from the expand to the depthwise; the thread's own row groups keep it
 * there for an extra row or two of expand at the seam between the threads' shares. mobilenet_v2 at batch 1, one
 * process, interleaved runs, against sharing e at every size: 1.06x (share up to 200,000 floats 1.057x, up to
 * 131,072 1.044x and 1.031x, never 0.91x). */
#ifndef SHARED_E_FLOATS
#define SHARED_E_FLOATS (1L << 18)
#endif
/* Whether the threads share each image's rows through one buffer of e (see the top). */
static int shares_rows(int n, int h, int w, int hid, int expand, int nt) {
    return expand && n < nt && (long)h * w * hid <= SHARED_E_FLOATS;
}

/* Shared rows where a product splits by panels: the depthwise output d is then shared whole too (see the top). */
static int shares_d(int h, int w, int hid, int cout, int s, int nt) {
    int ho = (h - 1) / s + 1, wo = (w - 1) / s + 1;
    return by_panels((long)h * w, hid, nt) || by_panels((long)ho * wo, cout, nt);
}

/* The floats jiasu_inverted_residual allocates for its buffers with these arguments (for memory reports). */
long jiasu_inverted_residual_workspace(int n, int h, int w, int hid, int cout, int expand, int s, int nt) {
    int ho = (h - 1) / s + 1, wo = (w - 1) / s + 1, g = group_rows(ho, wo);
    long d = (long)g * wo * hid;
    if (shares_rows(n, h, w, hid, expand, nt))
        return (long)h * w * hid + (shares_d(h, w, hid, cout, s, nt) ? (long)ho * wo * hid : nt * d);
    return nt * (d + (expand ? (long)span_rows(g, s, h) * w * hid : 0));
}

int jiasu_inverted_residual(const float *x, const float *z, float *y, int n, int h, int w, int cin, const float *we,
                            int hid, const float *be, float lo1, float hi1, const float *wd, const float *bd, int s,
                            float lo2, float hi2, const float *wp, int cout, const float *bp, float lo3, float hi3,
                            int nt) {
    block b = {x, z, we, be, wd, bd, wp, bp, y, n, h, w, cin, hid, s, cout, (h - 1) / s + 1, (w - 1) / s + 1};
    int ho = b.ho, wo = b.wo;
    b.l1 = lo1 + (vf){0}, b.h1 = hi1 + (vf){0}, b.l2 = lo2 + (vf){0}, b.h2 = hi2 + (vf){0};
    b.l3 = lo3 + (vf){0}, b.h3 = hi3 + (vf){0};
    b.stream = worth_streaming(y, (long)n * ho * wo * cout, cout);
    int g = group_rows(ho, wo);
    int shared = shares_rows(n, h, w, hid, we != 0, nt);
    int whole_d = shared && shares_d(h, w, hid, cout, s, nt);
    float *e_all = shared ? buffer((long)h * w * hid) : 0, *d_all = whole_d ? buffer((long)ho * wo * hid) : 0;
    if ((shared && !e_all) || (whole_d && !d_all)) {
        free(e_all);
        return -1;
    }
    long per_image = (ho + g - 1) / g, items = n * per_image;
    int span = span_rows(g, s, h);
    int failed = 0;
#pragma omp parallel num_threads(nt) reduction(| : failed)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        float *e = we && !shared ? buffer((long)span * w * hid) : 0;
        float *d = whole_d ? 0 : buffer((long)g * wo * hid);
        if ((we && !shared && !e) || (!whole_d && !d)) failed = 1;
        if (shared) {
            /* Each thread's share of the output rows, in groups of at most g rows of about equal size (7
             * rows at g = 5: 4 + 3, not 5 + 2, whose 2-row products would run on short pixel blocks). */
            int o0 = (int)((long)ho * t / T), o1 = (int)((long)ho * (t + 1) / T);
            int groups = (o1 - o0 + g - 1) / g;
            for (long img = 0; img < n; img++) {
                /* e split by pixels (a 7x7 map is 25 + 24 pixels, where rows would be 4 + 3), or by panels */
                if (!failed)
                    product_share(x + img * (long)h * w * cin, (long)h * w, cin, we, hid, be, 0, b.l1, b.h1, e_all, 0,
                                  by_panels((long)h * w, hid, nt), t, T);
#pragma omp barrier /* every thread reaches the barriers, even one whose buffer failed */
                if (whole_d) {
                    /* A product splits by panels: it needs every row of d, so d is made whole first. */
                    if (!failed && o0 < o1) depthwise_rows(&b, o0, o1, e_all, 0, d_all + (long)o0 * wo * hid);
#pragma omp barrier
                    long out = img * (long)ho * wo * cout;
                    if (!failed)
                        product_share(d_all, (long)ho * wo, hid, wp, cout, bp, z ? z + out : 0, b.l3, b.h3, y + out, b.stream,
                                      by_panels((long)ho * wo, cout, nt), t, T);
                }
                for (int k = 0; k < groups && !failed && !whole_d; k++) {
                    int oy0 = o0 + (int)((long)(o1 - o0) * k / groups), oy1 = o0 + (int)((long)(o1 - o0) * (k + 1) / groups);
                    rows_out(&b, img, oy0, oy1, e_all, 0, d);
                }
                if (img + 1 < n) {
#pragma omp barrier /* before the next image's e overwrites this one's */
                }
            }
        } else if (!failed) {
            long first = items * t / T, last = items * (t + 1) / T;
            long have_image = -1; /* e holds rows [have0, have1) of this image, row have0 at e */
            int have0 = 0, have1 = 0;
            for (long item = first; item < last; item++) {
                long img = item / per_image;
                int oy0 = (int)(item % per_image) * g, oy1 = oy0 + g < ho ? oy0 + g : ho;
                int r0 = oy0 * s - 1 > 0 ? oy0 * s - 1 : 0, r1 = (oy1 - 1) * s + 2 < h ? (oy1 - 1) * s + 2 : h;
                if (!we) {
                    rows_out(&b, img, oy0, oy1, x + img * (long)h * w * cin, 0, d);
                    continue;
                }
                int from = r0;
                if (have_image == img && have0 <= r0 && r0 < have1) {
                    memmove(e, e + (long)(r0 - have0) * w * hid, sizeof(float) * (size_t)(have1 - r0) * w * hid);
                    from = have1;
                }
                if (from < r1) expand(&b, img, from, r1, e + (long)(from - r0) * w * hid);
                have_image = img, have0 = r0, have1 = r1;
                rows_out(&b, img, oy0, oy1, e, r0, d);
            }
        }
        free(e);
        free(d);
        if (b.stream) stream_fence(); /* before the barrier that ends the region: the caller reads y next */
    }
    free(e_all);
    free(d_all);
    return failed ? -1 : 0;
}

int jiasu_inverted_residual_entry(const jiasu_arg *a) {
    return jiasu_inverted_residual(a[0].p, a[1].p, a[2].p, (int)a[3].i, (int)a[4].i, (int)a[5].i, (int)a[6].i, a[7].p,
                                   (int)a[8].i, a[9].p, a[10].f, a[11].f, a[12].p, a[13].p, (int)a[14].i, a[15].f,
                                   a[16].f, a[17].p, (int)a[18].i, a[19].p, a[20].f, a[21].f, (int)a[22].i);
}

/* Pointwise (1x1, stride 1) convolution for jiasu/kernels/conv/pointwise.py, on channels_last float32.
 *
 * On NHWC tensors a 1x1 convolution is one matrix product: the p = n*h*w pixels are the rows of
 * x (p, cin), and y (p, cout) = x . W + bias, with the epilogue y = clamp(y + z, lo, hi) (z the
 * residual, optional; lo/hi +-inf where there is no clamp, a ReLU is lo = 0). Through torch it
 * goes to oneDNN, which costs 25-40 us a call before any arithmetic here; mobilenet_v2 has 34 such
 * layers at 14-250 us each.
 *
 * The weight's panels and the register blocking are in pointwise.h.
 *
 * Threads split the pixel rows into strips (static schedule); each thread runs every panel over its
 * strip, so a strip's rows of x stay in cache across the panels. On small maps with more output
 * channels than pixels they split the panels instead (see jiasu_pointwise). An output of 8 MiB or
 * more is written with streaming stores (vec.h).
 */
#include "entry.h"
#include "pointwise.h"

#define PS 48 /* at most this many pixel rows a strip */

/* wp[...] from w (cout, cin) row-major (an ONNX 1x1 weight): the panel layout of pointwise.h (pack_panels, vec.h).
 * wp holds cin * padded(cout) floats. */
void jiasu_pack_pointwise(const float *w, int cout, int cin, float *wp) { pack_panels(w, cout, cin, NVMAX, wp); }

int jiasu_pointwise(const float *x, const float *z, float *y, long p, int cin, const float *wp, int cout,
                    const float *bias, float lo, float hi, int nt) {
    int cop = padded(cout), nvec = vectors(cout);
    vf lov = lo + (vf){0}, hiv = hi + (vf){0};
    /* Strips of at most PS rows, as many as a multiple of nt, of equal length: a 7x7 map at batch 1
     * (49 rows) is 25 + 24, not 48 + 1. */
    long strips = (p + (long)nt * PS - 1) / ((long)nt * PS) * nt;
    long len = (p + strips - 1) / strips;
    /* A large output skips the caches (see vstream and worth_streaming in vec.h). */
    int stream = worth_streaming(y, p * cout, cout);
    /* Small maps with many channels (a 7x7 map at batch 1 against a 2048 x 512 weight): each thread
     * takes whole panels and all the rows, so the weight, larger than the input here, is read once
     * and not once per thread. Only with enough panels to share out evenly. */
    int panels = (nvec + NVMAX - 1) / NVMAX;
    int by_panels = (long)cop > p && panels >= 2 * nt;
#pragma omp parallel num_threads(nt)
    {
        if (by_panels) {
#pragma omp for schedule(static)
            for (int j = 0; j < panels; j++) panel_rows(x, 0, p, cin, wp, j * NVMAX, nvec, cout, bias, z, lov, hiv, y, stream);
        } else {
#pragma omp for schedule(static)
            for (long s = 0; s < strips; s++) {
                long r0 = s * len, r1 = r0 + len < p ? r0 + len : p;
                for (int vb = 0; vb < nvec; vb += NVMAX) panel_rows(x, r0, r1, cin, wp, vb, nvec, cout, bias, z, lov, hiv, y, stream);
            }
        }
        if (stream) stream_fence(); /* before the barrier that ends the region: the caller reads y next */
    }
    return 0;
}

int jiasu_pointwise_entry(const jiasu_arg *a) { return jiasu_pointwise(a[0].p, a[1].p, a[2].p, a[3].i, (int)a[4].i, a[5].p, (int)a[6].i, a[7].p, a[8].f, a[9].f, (int)a[10].i); }

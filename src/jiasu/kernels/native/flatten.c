/* Flatten of a channels_last image batch, for jiasu/kernels/ops/flatten.py: y (n, c * hw) in NCHW order (what
 * ONNX's Flatten means: channel-major) from x (n, hw, c) as a channels_last tensor holds it. A network's last conv
 * leaves channels_last, so its Flatten is a transposition, not a view; torch's reshape makes that copy from
 * Python between two chains (smallcnn: 37 us a run, where the copy alone is a few). Here it is one more step a
 * chain (jiasu/runtime/chain.py) can run. The threads split the images' channels. */
#include <omp.h>

#include "entry.h"

int jiasu_flatten_nhwc(const float *x, long n, long hw, long c, float *y, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static) if (n * hw * c >= (1L << 16))
    for (long r = 0; r < n * c; r++) {
        long img = r / c, ch = r % c;
        const float *xp = x + img * hw * c + ch;
        float *yp = y + r * hw;
        for (long p = 0; p < hw; p++) yp[p] = xp[p * c];
    }
    return 0;
}

int jiasu_flatten_nhwc_entry(const jiasu_arg *a) { return jiasu_flatten_nhwc(a[0].p, a[1].i, a[2].i, a[3].i, a[4].p, (int)a[5].i); }

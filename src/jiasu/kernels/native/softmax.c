/* Softmax along the rows of a contiguous float32 (rows, cols) matrix, for jiasu/kernels/ops/softmax.py:
 * y = exp(x - max) / sum(exp(x - max)) per row, as torch.softmax computes it (the same subtraction of the row's
 * maximum, so large logits do not overflow). A classifier's last step: in C it joins the chain before it
 * (jiasu/runtime/chain.py) instead of running from Python after it. Scalar expf, so ops/softmax.py sends only
 * small inputs here (torch's vectorized loop wins on large ones). A row holding NaN gives NaN, as in torch. */
#include <math.h>

#include "entry.h"

int jiasu_softmax_rows(const float *x, long rows, long cols, float *y) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float top = -INFINITY;
        for (long k = 0; k < cols; k++) top = xr[k] > top || isnan(xr[k]) ? xr[k] : top;
        float sum = 0.0f;
        for (long k = 0; k < cols; k++) sum += yr[k] = expf(xr[k] - top);
        float scale = 1.0f / sum;
        for (long k = 0; k < cols; k++) yr[k] *= scale;
    }
    return 0;
}

int jiasu_softmax_rows_entry(const jiasu_arg *a) { return jiasu_softmax_rows(a[0].p, a[1].i, a[2].i, a[3].p); }

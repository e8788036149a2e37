/* Concat along the channels of channels_last float32 images, for jiasu/kernels/ops/concat.py: y (pixels, ctot)
 * takes the k inputs' (pixels, c_i) rows one after another per pixel (ctot = sum of c_i). googlenet joins its
 * four inception branches so nine times a run; in C the join is one more step a chain (jiasu/runtime/chain.py)
 * can take, where torch.cat would end the chain. The threads split the pixels. At most CONCAT_MAX inputs, as
 * separate arguments (a chain's argument slots hold pointers, not arrays of them). Returns 0, or -1 for k
 * outside 1..CONCAT_MAX. */
#include <omp.h>
#include <string.h>

#include "entry.h"

#define CONCAT_MAX 8

int jiasu_concat_channels(float *y, long pixels, int nt, int k, const float *x0, int c0, const float *x1, int c1,
                          const float *x2, int c2, const float *x3, int c3, const float *x4, int c4, const float *x5,
                          int c5, const float *x6, int c6, const float *x7, int c7) {
    const float *xs[CONCAT_MAX] = {x0, x1, x2, x3, x4, x5, x6, x7};
    const int cs[CONCAT_MAX] = {c0, c1, c2, c3, c4, c5, c6, c7};
    if (k < 1 || k > CONCAT_MAX) return -1;
    int ctot = 0;
    for (int i = 0; i < k; i++) ctot += cs[i];
#pragma omp parallel for num_threads(nt) schedule(static)
    for (long p = 0; p < pixels; p++) {
        float *out = y + p * ctot;
        for (int i = 0; i < k; i++) {
            memcpy(out, xs[i] + p * cs[i], sizeof(float) * (size_t)cs[i]);
            out += cs[i];
        }
    }
    return 0;
}

int jiasu_concat_channels_entry(const jiasu_arg *a) {
    return jiasu_concat_channels(a[0].p, a[1].i, (int)a[2].i, (int)a[3].i, a[4].p, (int)a[5].i, a[6].p, (int)a[7].i,
                                 a[8].p, (int)a[9].i, a[10].p, (int)a[11].i, a[12].p, (int)a[13].i, a[14].p,
                                 (int)a[15].i, a[16].p, (int)a[17].i, a[18].p, (int)a[19].i);
}

/* Sliding-window geometry shared by jiasu's C kernels (direct.c, pool.c): which taps of a window lie
 * inside the image, so padding is skipped rather than read. */
#ifndef JIASU_WINDOW_H
#define JIASU_WINDOW_H

/* The first and one-past-last taps along one axis whose input position o*s - p + k*d is in [0, size). */
static inline void tap_range(int o, int s, int p, int d, int k, int size, int *k0, int *k1) {
    int base = o * s - p, a = 0, b = k;
    while (a < k && base + a * d < 0) a++;
    while (b > a && base + (b - 1) * d >= size) b--;
    *k0 = a;
    *k1 = b;
}

/* The output columns [*xa, *xb) of a row of wo whose window (k taps, stride s, dilation d, begin pad p)
 * lies wholly inside an input row of w: there every tap is read without a check. */
static inline void interior(int wo, int s, int p, int d, int k, int w, int *xa, int *xb) {
    int a = 0, b = wo;
    while (a < wo && a * s - p < 0) a++;
    while (b > a && (b - 1) * s - p + (k - 1) * d >= w) b--;
    *xa = a;
    *xb = b;
}
#endif

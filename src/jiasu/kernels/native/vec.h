/* 16-float vectors for jiasu's C kernels (gcc's vector extension: AVX-512 where the CPU has it,
 * narrower vectors elsewhere), with loads and stores of a partial vector at a channel tail. */
#ifndef JIASU_VEC_H
#define JIASU_VEC_H
#include <string.h>

typedef float v16 __attribute__((vector_size(64)));
typedef int vi16 __attribute__((vector_size(64)));
#define CB 16

/* p[0..cw), zeros after: cw < CB only at the last block of a channel run. With AVX-512 a masked
 * load/store (lanes past cw are neither read nor written, so no fault past an allocation's end);
 * elsewhere a copy through a small array. The masked moves matter for speed: the copy compiled to
 * a memcpy call, and a call makes the compiler keep a kernel's vector accumulators on the stack
 * around it (every vector register is caller-saved). */
#ifdef __AVX512F__
#include <immintrin.h>
static inline v16 load16(const float *p, int cw) { return (v16)_mm512_maskz_loadu_ps((__mmask16)((1u << cw) - 1), p); }

static inline void store16(float *p, v16 r, int cw) { _mm512_mask_storeu_ps(p, (__mmask16)((1u << cw) - 1), (__m512)r); }
#else
static inline v16 load16(const float *p, int cw) {
    v16 r;
    if (cw == CB) {
        memcpy(&r, p, sizeof r);
        return r;
    }
    float tmp[CB] = {0};
    for (int k = 0; k < cw; k++) tmp[k] = p[k];
    memcpy(&r, tmp, sizeof r);
    return r;
}

static inline void store16(float *p, v16 r, int cw) {
    if (cw == CB) {
        memcpy(p, &r, sizeof r);
        return;
    }
    float tmp[CB];
    memcpy(tmp, &r, sizeof r);
    for (int k = 0; k < cw; k++) p[k] = tmp[k];
}
#endif

/* A whole vector stored past the caches (p 64-byte aligned), for outputs too large to stay in them:
 * a normal store first reads the line it writes into (write-allocate), so an output that will be
 * evicted anyway costs its size in reads as well. Call stream_fence() before other threads read. */
#ifdef __AVX512F__
static inline void stream16(float *p, v16 r) { _mm512_stream_ps(p, (__m512)r); }
static inline void stream_fence(void) { _mm_sfence(); }
#else
static inline void stream16(float *p, v16 r) { memcpy(p, &r, sizeof r); }
static inline void stream_fence(void) {}
#endif

/* r into p[0..cw): streamed when asked and the vector is whole (a partial one takes store16). */
static inline void put16(float *p, v16 r, int cw, int stream) {
    if (stream && cw == CB)
        stream16(p, r);
    else
        store16(p, r, cw);
}

/* Whether an output of `count` floats at y, rows of `channels` floats, is worth streaming: at least
 * STREAM_MIN_BYTES, 64-byte aligned (torch's allocations are), and rows of whole vectors, so that every
 * row stays aligned. */
#define STREAM_MIN_BYTES (8L << 20)
static inline int worth_streaming(const float *y, long count, int channels) {
    return channels % CB == 0 && count * (long)sizeof(float) >= STREAM_MIN_BYTES && ((unsigned long)y & 63) == 0;
}

/* max(a, lo) and min(a, hi), lane by lane: a ReLU is clamp(a, 0, +inf). */
static inline v16 clamp16(v16 a, v16 lo, v16 hi) {
    vi16 m = a > lo;
    a = (v16)(((vi16)a & m) | ((vi16)lo & ~m));
    m = a < hi;
    return (v16)(((vi16)a & m) | ((vi16)hi & ~m));
}
#endif

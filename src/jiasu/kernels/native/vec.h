/* Vectors of CB floats for jiasu's C kernels (gcc's vector extension), as wide as the CPU's registers:
 * 16 with AVX-512, 8 with AVX/AVX2, 4 elsewhere (SSE, NEON); with loads and stores of a partial vector
 * at a channel tail.
 *
 * Why the width follows the CPU: gcc keeps a vector wider than the registers in memory, not in a pair of
 * registers. With 16-float vectors on an AVX2 CPU (AMD Zen 3) every accumulator went through the stack
 * and general registers: mobilenet_v2's 320 -> 1280 1x1 conv ran at 1.4 GFLOP/s (oneDNN 31).
 *
 * Packed weights and padded biases keep channels in runs of CPAD = 16 whatever CB is, so their layout
 * (and the Python side that allocates them) is the same on every CPU; 16 is a multiple of every CB. */
#ifndef JIASU_VEC_H
#define JIASU_VEC_H
#include <string.h>

#define CPAD 16

/* c channels rounded up to whole runs of CPAD: the channel stride of packed weights and padded biases. */
static inline int padded(int c) { return (c + CPAD - 1) / CPAD * CPAD; }

#if defined(__AVX512F__)
#define CB 16
#elif defined(__AVX__)
#define CB 8
#else
#define CB 4
#endif

/* The vectors that c channels fill: what a kernel computes of a packed weight's padded(c) columns. With
 * 8-float vectors, 24 channels are 3 vectors, not the 4 of their 32 padded columns (a quarter of mobilenet_v2's
 * 24-channel projections' multiply-adds went to zero columns). */
static inline int vectors(int c) { return (c + CB - 1) / CB; }

/* wp from w (cout, k) row-major: output channels in panels of up to nv vectors, as the register blocks take them,
 * each panel a (k, width) block with its rows contiguous, so a block reads its weights as one sequential stream.
 * Panel j holds the columns from cb = j * nv * CB, width = min(nv * CB, the vectors' columns left), and starts at
 * wp + cb * k; columns past cout are zero. wp holds k * padded(cout) floats, of which the panels fill k *
 * vectors(cout) * CB. The layout of pointwise.h (nv = NVMAX) and of direct.c's dense blocks (nv = DENSE_NV). */
static inline void pack_panels(const float *w, int cout, int k, int nv, float *wp) {
    int cov = vectors(cout) * CB; /* the columns the panels hold; the rest of the k * padded(cout) stays unused */
    for (int cb = 0; cb < cov; cb += nv * CB) {
        int width = cov - cb < nv * CB ? cov - cb : nv * CB;
        float *panel = wp + (long)cb * k;
        for (int r = 0; r < k; r++)
            for (int j = 0; j < width; j++) panel[(long)r * width + j] = cb + j < cout ? w[(long)(cb + j) * k + r] : 0.0f;
    }
}

typedef float vf __attribute__((vector_size(CB * 4)));
typedef int vi __attribute__((vector_size(CB * 4)));

/* How many vectors the register file holds (32 zmm with AVX-512, 16 ymm with AVX2, 16 xmm with SSE): the
 * kernels size their blocks of accumulators by it. -DJIASU_REGISTERS=N overrides it (JIASU_NATIVE_CFLAGS). */
#ifndef JIASU_REGISTERS
#if defined(__AVX512F__)
#define JIASU_REGISTERS 32
#else
#define JIASU_REGISTERS 16
#endif
#endif

/* p[0..cw), zeros after: cw < CB only at the last block of a channel run. With AVX-512 and AVX2 a masked
 * load/store (lanes past cw are neither read nor written, so no fault past an allocation's end);
 * elsewhere a copy through a small array. The masked moves matter for speed: the copy compiled to a
 * memcpy call, and a call makes the compiler keep a kernel's vector accumulators on the stack around it
 * (every vector register is caller-saved). */
#if defined(__AVX512F__)
#include <immintrin.h>
static inline vf vload(const float *p, int cw) { return (vf)_mm512_maskz_loadu_ps((__mmask16)((1u << cw) - 1), p); }

static inline void vstore(float *p, vf r, int cw) { _mm512_mask_storeu_ps(p, (__mmask16)((1u << cw) - 1), (__m512)r); }
#elif defined(__AVX2__)
#include <immintrin.h>
/* lanes below n */
static inline __m256i lanes_below(int n) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }

static inline vf vload(const float *p, int cw) {
    if (cw == CB) {
        vf r;
        memcpy(&r, p, sizeof r);
        return r;
    }
    return (vf)_mm256_maskload_ps(p, lanes_below(cw));
}

static inline void vstore(float *p, vf r, int cw) {
    if (cw == CB)
        memcpy(p, &r, sizeof r);
    else
        _mm256_maskstore_ps(p, lanes_below(cw), (__m256)r);
}
#else
static inline vf vload(const float *p, int cw) {
    vf r;
    if (cw == CB) {
        memcpy(&r, p, sizeof r);
        return r;
    }
    float tmp[CB] = {0};
    for (int k = 0; k < cw; k++) tmp[k] = p[k];
    memcpy(&r, tmp, sizeof r);
    return r;
}

static inline void vstore(float *p, vf r, int cw) {
    if (cw == CB) {
        memcpy(p, &r, sizeof r);
        return;
    }
    float tmp[CB];
    memcpy(tmp, &r, sizeof r);
    for (int k = 0; k < cw; k++) p[k] = tmp[k];
}
#endif

/* A whole vector stored past the caches (p aligned to the vector's size), for outputs too large to stay
 * in them: a normal store first reads the line it writes into (write-allocate), so an output that will
 * be evicted anyway costs its size in reads as well. Call stream_fence() before other threads read. */
#if defined(__AVX512F__)
static inline void vstream(float *p, vf r) { _mm512_stream_ps(p, (__m512)r); }
static inline void stream_fence(void) { _mm_sfence(); }
#elif defined(__AVX__)
#include <immintrin.h>
static inline void vstream(float *p, vf r) { _mm256_stream_ps(p, (__m256)r); }
static inline void stream_fence(void) { _mm_sfence(); }
#else
static inline void vstream(float *p, vf r) { memcpy(p, &r, sizeof r); }
static inline void stream_fence(void) {}
#endif

/* r into p[0..cw): streamed when asked and the vector is whole (a partial one takes vstore). */
static inline void vput(float *p, vf r, int cw, int stream) {
    if (stream && cw == CB)
        vstream(p, r);
    else
        vstore(p, r, cw);
}

/* Whether an output of `count` floats at y, rows of `channels` floats, is worth streaming: at least
 * STREAM_MIN_BYTES, 64-byte aligned (torch's allocations are), and rows of whole vectors, so that every
 * row stays aligned. */
#define STREAM_MIN_BYTES (8L << 20)
static inline int worth_streaming(const float *y, long count, int channels) {
    return channels % CB == 0 && count * (long)sizeof(float) >= STREAM_MIN_BYTES && ((unsigned long)y & 63) == 0;
}

/* max(a, lo) and min(a, hi), lane by lane: a ReLU is clamp(a, 0, +inf). A NaN stays NaN, as in torch's
 * clamp and relu. On x86 one vmaxps and one vminps (the hardware returns its second operand where either is
 * NaN); the compare-and-select it replaced took four instructions per output vector, which the epilogue of a
 * small product (16-32 input channels: 16 to 32 multiply-adds per output) felt. */
#if defined(__AVX512F__)
static inline vf vclamp(vf a, vf lo, vf hi) { return (vf)_mm512_min_ps((__m512)hi, _mm512_max_ps((__m512)lo, (__m512)a)); }
#elif defined(__AVX__)
static inline vf vclamp(vf a, vf lo, vf hi) { return (vf)_mm256_min_ps((__m256)hi, _mm256_max_ps((__m256)lo, (__m256)a)); }
#else
static inline vf vclamp(vf a, vf lo, vf hi) {
    vi m = (a > lo) | (a != a);
    a = (vf)(((vi)a & m) | ((vi)lo & ~m));
    m = (a < hi) | (a != a);
    return (vf)(((vi)a & m) | ((vi)hi & ~m));
}
#endif
#endif

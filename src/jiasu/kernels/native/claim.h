/* Work items shared by the threads of a parallel region, each thread first on its own contiguous share, then
 * taking what is left of the others' from their ends.
 *
 * Why: a static split makes every thread wait at the region's end for the slowest. On this project's shared
 * 2-vCPU hosts one vCPU often runs slower than the other for a while (another guest on its core), or a thread
 * starts late. In resnet18's 64-channel Winograd convs at batch 8 (winograd.c's own_tiles, each thread its half of
 * the tiles), the threads finished 0.2-0.7 ms apart on average, of 6.7 ms a call; claiming the steps, the model
 * ran 1.02-1.04x faster (resnet18, googlenet and resnet50 at batch 8, paired). Claiming every item from one
 * counter would even that out too, but it scatters each thread's items over the image, away from what the same
 * thread wrote in the layer before. Here a thread walks its own share in order; a thread out of work takes a
 * quarter of the largest remainder from its far end, and walks that piece in order too. (In the fused inverted
 * residual block, whose row groups share rows of e with their neighbours, it lost: 0.98x, session 19.)
 *
 * Use, inside `#pragma omp parallel` (every thread of the team calls claim_init, then claim_next in a loop):
 *
 *     static claim_range ranges[CLAIM_THREADS];   (or one on the stack of the caller, shared with the team)
 *     claim_init(ranges, n, t, T);  #pragma omp barrier
 *     claim_cursor c = {0};
 *     for (long i; (i = claim_next(ranges, t, T, &c)) >= 0;) work(i);
 *
 * claim_next returns each item of [0, n) to exactly one thread, and -1 when none is left. Items are counted in
 * 32 bits (n < 2^31). T is at most CLAIM_THREADS; a caller with more threads splits statically instead. */
#ifndef JIASU_CLAIM_H
#define JIASU_CLAIM_H
#include <stdint.h>

#define CLAIM_THREADS 64

/* One thread's share: [front, back) in one 64-bit word (front low, back high), so that the owner's claims at the
 * front and a thief's at the back are each one compare-and-swap. A cache line each, so that a thread's claims do
 * not move the others' lines. */
typedef struct {
    uint64_t word;
    char pad[56];
} claim_range;

/* Where a thread is: the piece it took from another's share, [lo, hi), walked in order. */
typedef struct {
    long lo, hi, own_done;
} claim_cursor;

static inline uint64_t claim_pack(uint32_t front, uint32_t back) { return (uint64_t)back << 32 | front; }

/* Thread t of T sets its own share of [0, n); the team must pass a barrier before the first claim_next. */
static inline void claim_init(claim_range *r, long n, int t, int T) {
    __atomic_store_n(&r[t].word, claim_pack((uint32_t)(n * t / T), (uint32_t)(n * (t + 1) / T)), __ATOMIC_RELAXED);
}

/* The next item for thread t, or -1 when every share is empty. */
static inline long claim_next(claim_range *r, int t, int T, claim_cursor *c) {
    if (c->lo < c->hi) return c->lo++;
    while (!c->own_done) { /* the front of the own share */
        uint64_t w = __atomic_load_n(&r[t].word, __ATOMIC_RELAXED);
        uint32_t front = (uint32_t)w, back = (uint32_t)(w >> 32);
        if (front >= back) {
            c->own_done = 1;
            break;
        }
        if (__atomic_compare_exchange_n(&r[t].word, &w, claim_pack(front + 1, back), 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return front;
    }
    for (;;) { /* a quarter of the largest remainder, from its back */
        int victim = -1;
        uint32_t most = 0;
        for (int u = 0; u < T; u++) {
            uint64_t w = __atomic_load_n(&r[u].word, __ATOMIC_RELAXED);
            uint32_t left = (uint32_t)(w >> 32) - (uint32_t)w;
            if ((uint32_t)(w >> 32) > (uint32_t)w && left > most) most = left, victim = u;
        }
        if (victim < 0) return -1;
        uint64_t w = __atomic_load_n(&r[victim].word, __ATOMIC_RELAXED);
        uint32_t front = (uint32_t)w, back = (uint32_t)(w >> 32);
        if (front >= back) continue;
        uint32_t take = (back - front + 3) / 4;
        if (__atomic_compare_exchange_n(&r[victim].word, &w, claim_pack(front, back - take), 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
            c->lo = back - take + 1, c->hi = back;
            return back - take;
        }
    }
}
#endif

/* Scratch buffers that a thread keeps from one call to the next, grown as needed and freed when the thread
 * exits: scratch(slot, floats) returns at least `floats` floats, 64-byte aligned, or NULL where they cannot
 * be allocated. Each slot is one buffer of the calling thread (a kernel that needs two at once takes two
 * slots); a later call may return the same memory, so a buffer is valid only until the thread asks for that
 * slot again.
 *
 * Why: a buffer malloc'd and freed on every call comes back as fresh pages whenever glibc hands it to mmap or
 * trims the heap after it. A Winograd convolution alone (resnet18's 256-channel layer at batch 8, 9 MiB of
 * V and M) then took 2,272 page faults a call, and ran 1.7x slower than with its buffers kept: what a kernel
 * timed on its own (autotuning, `node_times`) paid, and a whole model did or did not, depending on the heap.
 * A thread keeps the largest size it asked for per slot (the largest layer's), for as long as it lives. */
#ifndef JIASU_SCRATCH_H
#define JIASU_SCRATCH_H
#include <pthread.h>
#include <stdlib.h>

#define SCRATCH_SLOTS 2

typedef struct {
    float *p[SCRATCH_SLOTS];
    size_t n[SCRATCH_SLOTS];
} scratch_set;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_ready;

static void scratch_release(void *s) {
    scratch_set *set = s;
    for (int i = 0; i < SCRATCH_SLOTS; i++) free(set->p[i]);
    free(set);
}

static void scratch_init(void) { scratch_ready = pthread_key_create(&scratch_key, scratch_release) == 0; }

static float *scratch(int slot, size_t floats) {
    pthread_once(&scratch_once, scratch_init);
    if (!scratch_ready || slot < 0 || slot >= SCRATCH_SLOTS) return NULL;
    scratch_set *set = pthread_getspecific(scratch_key);
    if (!set) {
        set = calloc(1, sizeof *set);
        if (!set || pthread_setspecific(scratch_key, set) != 0) {
            free(set);
            return NULL;
        }
    }
    if (set->n[slot] < floats || !set->p[slot]) {
        free(set->p[slot]);
        size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
        set->p[slot] = aligned_alloc(64, bytes ? bytes : 64);
        set->n[slot] = set->p[slot] ? floats : 0;
    }
    return set->p[slot];
}
#endif

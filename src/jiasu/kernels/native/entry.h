/* One calling convention for every kernel a chain runs (chain.c, jiasu/runtime/chain.py): the kernel's
 * arguments as an array of 8-byte slots, one slot an argument in the kernel's own order, read through
 * the member of the argument's type. Each kernel that a chain can run has a `<name>_entry` next to it
 * that unpacks the slots into a plain call, so the compiler checks every argument's type and a chain
 * needs no foreign-call machinery (libffi) to call kernels whose signatures differ. */
#ifndef JIASU_ENTRY_H
#define JIASU_ENTRY_H

typedef union {
    void *p;  /* pointers: tensors' memory, packed weights, or NULL */
    long i;   /* int and long arguments */
    float f;  /* float arguments (the clamp bounds) */
} jiasu_arg;

typedef int (*jiasu_entry)(const jiasu_arg *a);

#endif

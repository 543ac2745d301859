/* stylize: the memory plan. Every large buffer of a run (network
 * activations, kernels, loss targets, optimiser history, images) is
 * requested through one stylize_mem, which counts the bytes held now and
 * the peak. A live plan allocates; a dry plan allocates nothing and returns
 * NULL buffers, so that running the same creation code on a dry plan gives
 * the peak memory of a run before anything is allocated: the estimate and
 * the allocation come from one place and cannot drift. Code that creates
 * objects on a dry plan must not compute with them (every buffer is NULL).
 *
 * Buffers are 64-byte aligned and uninitialised; stylize_mem_calloc's are
 * zeroed (16-byte aligned, as calloc's: large ones stay untouched pages,
 * not resident, until written).
 * A NULL plan means plain allocation without counting. Not thread-safe: one
 * plan per thread of creation. */
#ifndef STYLIZE_MEM_H
#define STYLIZE_MEM_H

#include <stddef.h>
#include "stylize/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int dry;     /* 1: count only */
    size_t cur;  /* bytes held now through this plan */
    size_t peak; /* the largest cur so far */
} stylize_mem;

/* A plan with nothing held: live (dry = 0) or dry (dry = 1). */
void stylize_mem_init(stylize_mem *m, int dry);

/* Non-zero for a dry plan (NULL: live). */
int stylize_mem_is_dry(const stylize_mem *m);

/* Counts bytes already held outside the plan (e.g. loaded images) as held
 * by it, so that the peak includes them; release with stylize_mem_release. */
void stylize_mem_hold(stylize_mem *m, size_t bytes);
void stylize_mem_release(stylize_mem *m, size_t bytes);

/* *out = bytes of memory owned by the caller (NULL in a dry plan, and for
 * bytes == 0), counted in m. Fails with STYLIZE_ERR_NOMEM naming `what`
 * (e.g. "layer relu3_1") and leaves *out NULL and m unchanged. */
stylize_status stylize_mem_alloc(stylize_mem *m, void **out, size_t bytes, const char *what,
                                 stylize_error *err);
/* As stylize_mem_alloc, zero-filled. */
stylize_status stylize_mem_calloc(stylize_mem *m, void **out, size_t bytes, const char *what,
                                  stylize_error *err);
/* Frees p (NULL is allowed: a dry plan's buffer) and uncounts bytes, which
 * must be what was allocated. */
void stylize_mem_free(stylize_mem *m, void *p, size_t bytes);

/* bytes rounded up to the plan's alignment (64): for carving one block into
 * several buffers with the same count as separate allocations. */
size_t stylize_mem_align(size_t bytes);

/* a * b * c (element counts and sizes) or SIZE_MAX if it overflows. */
size_t stylize_mem_mul(size_t a, size_t b, size_t c);

#ifdef __cplusplus
}
#endif
#endif

/* The memory plan: counted allocation, or counting alone (stylize/core/mem.h). */
#include "stylize/core/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MEM_ALIGN 64

void stylize_mem_init(stylize_mem *m, int dry)
{
    m->dry = dry != 0;
    m->cur = 0;
    m->peak = 0;
}

int stylize_mem_is_dry(const stylize_mem *m)
{
    return m && m->dry;
}

void stylize_mem_hold(stylize_mem *m, size_t bytes)
{
    if (!m)
        return;
    m->cur += bytes;
    if (m->cur > m->peak)
        m->peak = m->cur;
}

void stylize_mem_release(stylize_mem *m, size_t bytes)
{
    if (m)
        m->cur = bytes < m->cur ? m->cur - bytes : 0;
}

size_t stylize_mem_align(size_t bytes)
{
    if (bytes > SIZE_MAX - (MEM_ALIGN - 1))
        return SIZE_MAX;
    return (bytes + MEM_ALIGN - 1) & ~(size_t)(MEM_ALIGN - 1);
}

size_t stylize_mem_mul(size_t a, size_t b, size_t c)
{
    if (a && b > SIZE_MAX / a)
        return SIZE_MAX;
    size_t ab = a * b;
    if (ab && c > SIZE_MAX / ab)
        return SIZE_MAX;
    return ab * c;
}

/* The shared body of alloc and calloc: zero selects calloc. */
static stylize_status mem_get(stylize_mem *m, void **out, size_t bytes, int zero, const char *what,
                              stylize_error *err)
{
    *out = NULL;
    if (bytes == 0)
        return STYLIZE_OK;
    if (bytes == SIZE_MAX)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT, "%s: size overflows", what);
    if (!m || !m->dry) {
        void *p = NULL;
        /* calloc, not posix_memalign + memset: large zeroed blocks then come
         * as untouched pages, resident only once written */
        if (zero)
            p = calloc(1, bytes);
        else if (posix_memalign(&p, MEM_ALIGN, stylize_mem_align(bytes)) != 0)
            p = NULL;
        if (!p)
            return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory for %s (%zu MiB)", what,
                                     bytes >> 20);
        *out = p;
    }
    stylize_mem_hold(m, bytes);
    return STYLIZE_OK;
}

stylize_status stylize_mem_alloc(stylize_mem *m, void **out, size_t bytes, const char *what,
                                 stylize_error *err)
{
    return mem_get(m, out, bytes, 0, what, err);
}

stylize_status stylize_mem_calloc(stylize_mem *m, void **out, size_t bytes, const char *what,
                                  stylize_error *err)
{
    return mem_get(m, out, bytes, 1, what, err);
}

void stylize_mem_free(stylize_mem *m, void *p, size_t bytes)
{
    free(p);
    if (bytes && (p || stylize_mem_is_dry(m))) /* a live NULL was never counted */
        stylize_mem_release(m, bytes);
}

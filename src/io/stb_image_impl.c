/* stb_image (the header of Debian's libstb-dev, not a copy in this tree)
 * compiled into the library with zero-filled allocations, instead of taking
 * stbi_* from libstb.so.
 *
 * Why: fuzzing (tests/fuzz/fuzz_image.c) showed that stb_image 2.27 decodes
 * some malformed files "successfully" from memory it never wrote, e.g. a
 * JPEG without a quantisation table or without any scan, so heap contents
 * could become pixels. With every allocation zeroed, whatever a decoder
 * misses is deterministic black. stb_image_write and stb_image_resize still
 * come from libstb.so. */
#include <stdlib.h>
#include <string.h>

static void *stylize_stbi_malloc(size_t n)
{
    return calloc(1, n ? n : 1);
}

static void *stylize_stbi_realloc(void *p, size_t old_n, size_t n)
{
    unsigned char *q = realloc(p, n ? n : 1);
    if (q && n > old_n)
        memset(q + old_n, 0, n - old_n);
    return q;
}

#define STBI_MALLOC(n) stylize_stbi_malloc(n)
#define STBI_REALLOC_SIZED(p, old_n, n) stylize_stbi_realloc(p, old_n, n)
#define STBI_FREE(p) free(p)
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>

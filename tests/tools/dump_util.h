/* Shared by the cross-check dump tools (dump_generator.c, dump_tnet.c):
 * the padding modes' names as torch spells them and little-endian float32
 * blob files. */
#ifndef STYLIZE_DUMP_UTIL_H
#define STYLIZE_DUMP_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "stylize/nn/conv.h"

static inline const char *pad_name(stylize_pad_mode p)
{
    switch (p) {
    case STYLIZE_PAD_ZERO: return "zeros";
    case STYLIZE_PAD_REFLECT: return "reflect";
    case STYLIZE_PAD_REPLICATE: return "replicate";
    case STYLIZE_PAD_CIRCULAR: return "circular";
    }
    return "?";
}

/* Writes n floats little-endian to dir/file; 0 on success. */
static inline int write_f32(const char *dir, const char *file, const float *v, size_t n)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        uint32_t u;
        unsigned char b[4];
        memcpy(&u, &v[i], sizeof u);
        for (int k = 0; k < 4; k++)
            b[k] = (unsigned char)(u >> (8 * k));
        ok = fwrite(b, 1, 4, f) == 4;
    }
    if (fclose(f) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

#endif

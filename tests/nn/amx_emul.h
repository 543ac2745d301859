/* A software model of the AMX tile instructions that src/nn/conv_amx.c
 * uses (palette 1: eight tiles of 16 rows of 64 bytes), so that its
 * packing, tap offsets and bands are checked on any CPU with AVX512-BF16,
 * not only where the tiles are granted. Include it before the source under
 * test: after <immintrin.h> it replaces _tile_loadconfig, _tile_release,
 * _tile_zero, _tile_loadd, _tile_stored and _tile_dpbf16ps by the functions
 * below, each thread with its own tiles (as the hardware's).
 *
 * tdpbf16ps as Intel's Intrinsics Guide writes it: C[m][n] (float32) +=
 * A[m][2k] B[k][2n], then += A[m][2k + 1] B[k][2n + 1], for k = 0..15
 * ascending. Each product of two bfloat16 is exact in float32, so only the
 * order of the additions can differ from the hardware's (the SDM's
 * description sums the even and odd products apart and adds them to C
 * once), and denormals are not flushed here: the tests compare with
 * tolerances that cover either order, never bits with the hardware. */
#ifndef STYLIZE_TESTS_AMX_EMUL_H
#define STYLIZE_TESTS_AMX_EMUL_H

#include <immintrin.h>
#include <string.h>

static _Thread_local unsigned char amx_emul_tiles[8][16][64];
static _Thread_local int amx_emul_configured;
static int amx_emul_misuse; /* tile operations before _tile_loadconfig or after _tile_release */

static inline void amx_emul_check(void)
{
    if (!amx_emul_configured)
        __atomic_add_fetch(&amx_emul_misuse, 1, __ATOMIC_RELAXED);
}

static inline float amx_emul_bf16(const unsigned char *p)
{
    unsigned u = (unsigned)(p[0] | p[1] << 8) << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline void amx_emul_loadconfig(const void *cfg)
{
    (void)cfg; /* the code under test always asks for 16 rows of 64 bytes */
    amx_emul_configured = 1;
}

static inline void amx_emul_release(void) { amx_emul_configured = 0; }

static inline void amx_emul_zero(int t)
{
    amx_emul_check();
    memset(amx_emul_tiles[t], 0, sizeof amx_emul_tiles[t]);
}

static inline void amx_emul_loadd(int t, const void *base, long stride)
{
    amx_emul_check();
    for (int r = 0; r < 16; r++)
        memcpy(amx_emul_tiles[t][r], (const unsigned char *)base + r * stride, 64);
}

static inline void amx_emul_stored(int t, void *base, long stride)
{
    amx_emul_check();
    for (int r = 0; r < 16; r++)
        memcpy((unsigned char *)base + r * stride, amx_emul_tiles[t][r], 64);
}

/* The bfloat16 pairs of a tile as 16 x 32 floats. */
static inline void amx_emul_widen(float out[16][32], int t)
{
    for (int r = 0; r < 16; r++)
        for (int i = 0; i < 32; i++)
            out[r][i] = amx_emul_bf16(&amx_emul_tiles[t][r][2 * i]);
}

static inline void amx_emul_dpbf16ps(int c, int a, int b)
{
    amx_emul_check();
    float A[16][32], B[16][32], C[16][16];
    amx_emul_widen(A, a);
    amx_emul_widen(B, b);
    memcpy(C, amx_emul_tiles[c], sizeof C);
    for (int m = 0; m < 16; m++)
        for (int k = 0; k < 16; k++)
            for (int n = 0; n < 16; n++) {
                C[m][n] += A[m][2 * k] * B[k][2 * n];
                C[m][n] += A[m][2 * k + 1] * B[k][2 * n + 1];
            }
    memcpy(amx_emul_tiles[c], C, sizeof C);
}

#undef _tile_zero
#undef _tile_loadd
#undef _tile_stored
#undef _tile_dpbf16ps
#define _tile_loadconfig(cfg) amx_emul_loadconfig(cfg)
#define _tile_release() amx_emul_release()
#define _tile_zero(t) amx_emul_zero(t)
#define _tile_loadd(t, base, stride) amx_emul_loadd(t, base, stride)
#define _tile_stored(t, base, stride) amx_emul_stored(t, base, stride)
#define _tile_dpbf16ps(c, a, b) amx_emul_dpbf16ps(c, a, b)

#endif

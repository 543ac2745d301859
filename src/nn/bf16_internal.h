/* stylize internal: the bfloat16 pieces shared by the GEMM
 * (src/nn/gemm_bf16.c) and the direct AMX convolution (src/nn/conv_amx.c):
 * pairs of values as one 32-bit word, and the AMX tile steps both kernels
 * take (a 32 x 32 float32 block of C in tiles 0..3, two A tiles in 4..5,
 * two B tiles in 6..7). Not a public header. */
#ifndef STYLIZE_BF16_INTERNAL_H
#define STYLIZE_BF16_INTERNAL_H

#include <string.h>

#include "stylize/nn/gemm_bf16.h"

/* (bf16(lo), bf16(hi)) as one word, lo in the low half: a pair of k. */
static inline unsigned stylize_bf16_pair(float lo, float hi)
{
    return (unsigned)stylize_bf16_round(lo) | (unsigned)stylize_bf16_round(hi) << 16;
}

#if defined(__x86_64__)
#include <immintrin.h>

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512bf16")))
#define BF16_INLINE static inline __attribute__((always_inline))

/* 16 words (r0[j], r1[j]) from 16 floats of each row, with vcvtneps2bf16
 * (nearest even, as stylize_bf16_round but denormal inputs become 0):
 * returned from vectors, or stored from vectors or from memory (r1 NULL
 * for zeros). */
BF16_INLINE BF16_TARGET __m512i stylize_bf16_pairs16(__m512 r0, __m512 r1)
{
    __m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(r0));
    __m512i hi = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(r1));
    return _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
}

BF16_INLINE BF16_TARGET void stylize_bf16_pair16v(__m512 r0, __m512 r1, unsigned *dst)
{
    _mm512_storeu_si512(dst, stylize_bf16_pairs16(r0, r1));
}

BF16_INLINE BF16_TARGET void stylize_bf16_pair16(const float *r0, const float *r1, unsigned *dst)
{
    stylize_bf16_pair16v(_mm512_loadu_ps(r0), r1 ? _mm512_loadu_ps(r1) : _mm512_setzero_ps(), dst);
}

/* The palette-1 configuration: all eight tiles 16 rows of 64 bytes. */
typedef struct {
    unsigned char palette, start_row, reserved[14];
    unsigned short colsb[16];
    unsigned char rows[16];
} stylize_amx_config;

/* Configures this thread's tiles (each AMX task, before its first tile). */
BF16_INLINE AMX_TARGET void stylize_amx_begin(void)
{
    stylize_amx_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++)
        cfg.colsb[t] = 64, cfg.rows[t] = 16;
    _tile_loadconfig(&cfg);
}

/* C (tiles 0..3) = 0. */
BF16_INLINE AMX_TARGET void stylize_amx_zero_c(void)
{
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
}

/* C (tiles 0..3) = the 32 x 32 block at c (rows ldc floats apart), or C to it. */
BF16_INLINE AMX_TARGET void stylize_amx_load_c(const float *c, long ldc)
{
    _tile_loadd(0, c, ldc * 4);
    _tile_loadd(1, c + 16, ldc * 4);
    _tile_loadd(2, c + 16 * ldc, ldc * 4);
    _tile_loadd(3, c + 16 * ldc + 16, ldc * 4);
}

BF16_INLINE AMX_TARGET void stylize_amx_store_c(float *c, long ldc)
{
    _tile_stored(0, c, ldc * 4);
    _tile_stored(1, c + 16, ldc * 4);
    _tile_stored(2, c + 16 * ldc, ldc * 4);
    _tile_stored(3, c + 16 * ldc + 16, ldc * 4);
}

/* C += A B with the loaded tiles: four independent multiply-adds. */
BF16_INLINE AMX_TARGET void stylize_amx_dp4(void)
{
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
}

/* One step of 32 k: the A tiles a0, a1 (16 x 32 bf16, rows 64 bytes
 * apart), the B tiles at b and b + 16 words (16 pairs, rows sb bytes
 * apart), then C += A B. */
BF16_INLINE AMX_TARGET void stylize_amx_step(const unsigned short *a0, const unsigned short *a1, const unsigned *b,
                                             long sb)
{
    _tile_loadd(4, a0, 64);
    _tile_loadd(5, a1, 64);
    _tile_loadd(6, b, sb);
    _tile_loadd(7, b + 16, sb);
    stylize_amx_dp4();
}
#endif
#endif

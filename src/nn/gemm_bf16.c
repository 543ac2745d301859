/* bfloat16 GEMM with float32 accumulation on AVX512-BF16
 * (stylize/nn/gemm_bf16.h).
 *
 * Packed A: panels of MR rows; in each, for every pair of k, MR 32-bit
 * words (A[r][2p], A[r][2p + 1]) as bf16 (low, high). Packed B: panels of
 * NR columns; in each, for every pair of k, NR 32-bit words
 * (B[2p][j], B[2p + 1][j]): four 512-bit vectors. vdpbf16ps then adds
 * A[r][2p] B[2p][j] + A[r][2p + 1] B[2p + 1][j] into lane j of row r's
 * accumulators: a 6 x 64 tile in 24 registers. K runs in blocks of KC
 * pairs so that a B block (KC x 256 bytes) stays in L1/L2 while every A
 * panel passes over it. Padding (rows, columns, an odd K) is zero. */
#include "stylize/nn/gemm_bf16.h"

#include <string.h>

#include "core/parallel.h"

#define MR STYLIZE_BF16_MR
#define NR STYLIZE_BF16_NR
#define KC 128 /* pairs of k per block */

static int pairs(int k)
{
    return (k + 1) / 2;
}

size_t stylize_bf16_pack_a_bytes(int m, int k)
{
    return (size_t)((m + MR - 1) / MR) * MR * (size_t)pairs(k) * 4;
}

size_t stylize_bf16_pack_b_bytes(int k, int n)
{
    return (size_t)((n + NR - 1) / NR) * NR * (size_t)pairs(k) * 4;
}

static unsigned pair_word(float lo, float hi)
{
    return (unsigned)stylize_bf16_round(lo) | (unsigned)stylize_bf16_round(hi) << 16;
}

void stylize_bf16_pack_a(const float *a, int lda, int trans_a, int m, int k, void *pa)
{
    unsigned short *dst = pa;
    memset(pa, 0, stylize_bf16_pack_a_bytes(m, k)); /* the padding */
    for (int row = 0; row < m; row++)
        for (int col = 0; col < k; col++)
            dst[stylize_bf16_pack_a_index(row, col, k)] =
                stylize_bf16_round(trans_a ? a[(size_t)col * lda + row] : a[(size_t)row * lda + col]);
}

#if defined(__x86_64__)
#include <immintrin.h>

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

typedef struct {
    const float *b;
    int ldb, k, n, ntasks;
    unsigned *pb;
} pack_job;

/* 16 words (r0[j], r1[j]) as bf16 (low, high) from 16 floats of each row (r1 NULL: zeros). */
BF16_TARGET static void pack16(const float *r0, const float *r1, unsigned *dst)
{
    __m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(r0)));
    __m512i hi = r1 ? _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(r1))) : _mm512_setzero_si512();
    _mm512_storeu_si512(dst, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
}

/* Column panel jp of B: full groups of 16 columns by vector, the rest one by one. */
BF16_TARGET static void pack_panel(const pack_job *g, int jp)
{
    int kp = pairs(g->k), j0 = jp * NR, cols = g->n - j0 < NR ? g->n - j0 : NR;
    unsigned *dst = g->pb + (size_t)jp * kp * NR;
    for (int q = 0; q < kp; q++, dst += NR) {
        const float *r0 = g->b + (size_t)(2 * q) * g->ldb + j0, *r1 = 2 * q + 1 < g->k ? r0 + g->ldb : NULL;
        int j = 0;
        for (; j + 16 <= cols; j += 16)
            pack16(r0 + j, r1 ? r1 + j : NULL, dst + j);
        for (; j < cols; j++)
            dst[j] = pair_word(r0[j], r1 ? r1[j] : 0.0f);
        for (; j < NR; j++)
            dst[j] = 0;
    }
}

static void pack_task(void *user, int t)
{
    const pack_job *g = user;
    for (int jp = t; jp < (g->n + NR - 1) / NR; jp += g->ntasks)
        pack_panel(g, jp);
}

void stylize_bf16_pack_b(const float *b, int ldb, int k, int n, void *pb)
{
    int np = (n + NR - 1) / NR, nt = stylize_parallel_threads();
    pack_job g = {b, ldb, k, n, np < nt ? np : nt, pb};
    if (n > 0 && k > 0)
        stylize_parallel_run(g.ntasks, pack_task, &g);
}

/* tile (MR x NR, rows ld floats apart) = (first ? 0 : tile) + A panel . B block over np pairs */
BF16_TARGET static void kernel(int np, const unsigned *a, const unsigned *b, float *tile, size_t ld, int first)
{
    __m512 acc[MR][4];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < 4; j++)
            acc[i][j] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(tile + i * ld + 16 * j);
    for (int q = 0; q < np; q++, a += MR, b += NR) { /* unaligned loads: the caller's buffers */
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 16);
        __m512bh b2 = (__m512bh)_mm512_loadu_si512(b + 32), b3 = (__m512bh)_mm512_loadu_si512(b + 48);
        for (int i = 0; i < MR; i++) {
            __m512bh ai = (__m512bh)_mm512_set1_epi32((int)a[i]);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
            acc[i][2] = _mm512_dpbf16_ps(acc[i][2], ai, b2);
            acc[i][3] = _mm512_dpbf16_ps(acc[i][3], ai, b3);
        }
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < 4; j++)
            _mm512_storeu_ps(tile + i * ld + 16 * j, acc[i][j]);
}

typedef struct {
    int m, n, kp;
    const unsigned *pa;
    const unsigned *pb;
    float *c;
    int ldc, accumulate;
    int ntasks;
} gemm_job;

/* Column panel j: every row panel, K block by K block, in C itself where
 * the tile is whole, else through a local tile. */
static void panel(const gemm_job *g, int jp)
{
    float tile[MR * NR] __attribute__((aligned(64)));
    int j0 = jp * NR, cols = g->n - j0 < NR ? g->n - j0 : NR;
    const unsigned *bp = g->pb + (size_t)jp * g->kp * NR;
    for (int i0 = 0; i0 < g->m; i0 += MR) {
        const unsigned *ap = g->pa + (size_t)(i0 / MR) * g->kp * MR;
        int rows = g->m - i0 < MR ? g->m - i0 : MR;
        int whole = rows == MR && cols == NR;
        float *dst = whole ? g->c + (size_t)i0 * g->ldc + j0 : tile;
        size_t ld = whole ? (size_t)g->ldc : NR;
        for (int q0 = 0; q0 < g->kp; q0 += KC) {
            int np = g->kp - q0 < KC ? g->kp - q0 : KC;
            kernel(np, ap + (size_t)q0 * MR, bp + (size_t)q0 * NR, dst, ld, q0 == 0 && !(whole && g->accumulate));
        }
        if (whole)
            continue;
        for (int r = 0; r < rows; r++) {
            float *row = g->c + (size_t)(i0 + r) * g->ldc + j0;
            if (g->accumulate)
                for (int j = 0; j < cols; j++)
                    row[j] += tile[r * NR + j];
            else
                memcpy(row, tile + r * NR, (size_t)cols * sizeof(float));
        }
    }
}

static void gemm_task(void *user, int t)
{
    const gemm_job *g = user;
    int np = (g->n + NR - 1) / NR;
    for (int jp = t; jp < np; jp += g->ntasks)
        panel(g, jp);
}

void stylize_gemm_bf16(int m, int n, int k, const void *pa, const void *pb, float *c, int ldc, int accumulate)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) { /* an empty sum */
        for (int i = 0; i < m && !accumulate; i++)
            memset(c + (size_t)i * ldc, 0, (size_t)n * sizeof(float));
        return;
    }
    int np = (n + NR - 1) / NR, nt = stylize_parallel_threads();
    gemm_job g = {m, n, pairs(k), pa, pb, c, ldc, accumulate, np < nt ? np : nt};
    stylize_parallel_run(g.ntasks, gemm_task, &g);
}
#else
void stylize_bf16_pack_b(const float *b, int ldb, int k, int n, void *pb)
{
    unsigned *dst = pb;
    int kp = pairs(k);
    for (int j0 = 0; j0 < n; j0 += NR)
        for (int q = 0; q < kp; q++) {
            const float *r0 = b + (size_t)(2 * q) * ldb, *r1 = 2 * q + 1 < k ? r0 + ldb : NULL;
            int cols = n - j0 < NR ? n - j0 : NR;
            for (int j = 0; j < cols; j++)
                dst[j] = pair_word(r0[j0 + j], r1 ? r1[j0 + j] : 0.0f);
            for (int j = cols; j < NR; j++)
                dst[j] = 0;
            dst += NR;
        }
}

void stylize_gemm_bf16(int m, int n, int k, const void *pa, const void *pb, float *c, int ldc, int accumulate)
{
    (void)m, (void)n, (void)k, (void)pa, (void)pb, (void)c, (void)ldc, (void)accumulate; /* never called: no AVX512-BF16 */
}
#endif

/* bfloat16 GEMM with float32 accumulation on AMX or AVX512-BF16
 * (stylize/nn/gemm_bf16.h).
 *
 * Packed B (both kernels): panels of NR columns; in each, for every pair
 * of k, NR 32-bit words (B[2p][j], B[2p + 1][j]) as bf16 (low, high), the
 * pairs padded with zeros to a multiple of KQ.
 *
 * vdpbf16ps: packed A in panels of MR rows; in each, for every pair of k,
 * MR 32-bit words (A[r][2p], A[r][2p + 1]). vdpbf16ps adds
 * A[r][2p] B[2p][j] + A[r][2p + 1] B[2p + 1][j] into lane j of row r's
 * accumulators: a 6 x 64 tile in 24 registers. K runs in blocks of KC
 * pairs so that a B block (KC x 256 bytes) stays in L1/L2 while every A
 * panel passes over it.
 *
 * AMX: packed A in 16 x 32 tiles of 1 KiB (row-major bf16), rows padded to
 * 32 and k to 32; a B tile is 16 pairs of one panel's 16 columns (rows 256
 * bytes apart). tdpbf16ps adds a 16 x 32 A tile times a 16-pair x 16 B tile
 * into a 16 x 16 float32 tile: a 32 x 32 block of C in four tiles, from
 * two A and two B tiles per 32 k. Padding (rows, columns, K) is zero. */
#include "stylize/nn/gemm_bf16.h"

#include <string.h>

#include "core/parallel.h"
#include "nn/bf16_internal.h"
#include "stylize/core/clock.h"
#include "stylize/core/cpu.h"

#define MR STYLIZE_BF16_MR
#define NR STYLIZE_BF16_NR
#define KQ STYLIZE_BF16_KQ
#define KC 128 /* pairs of k per block (vdpbf16ps) */

static int pairs(int k)
{
    return (k + 1) / 2;
}

/* pairs per B panel row block: padded to the AMX tile's KQ */
int stylize_bf16_pack_b_pairs(int k)
{
    return (pairs(k) + KQ - 1) / KQ * KQ;
}

static size_t round_up(size_t v, size_t to)
{
    return (v + to - 1) / to * to;
}

stylize_bf16_kernel stylize_bf16_kernel_for_cpu(void)
{
    const stylize_cpu_features *f = stylize_cpu();
    return f->amx_usable && f->avx512_bf16 ? STYLIZE_BF16_AMX : STYLIZE_BF16_DPBF16;
}

size_t stylize_bf16_pack_a_bytes(int m, int k)
{
    size_t dp = round_up((size_t)m, MR) * (size_t)pairs(k) * 4;
    size_t amx = round_up((size_t)m, 32) * round_up((size_t)k, 32) * 2;
    return dp > amx ? dp : amx;
}

size_t stylize_bf16_pack_b_bytes(int k, int n)
{
    return round_up((size_t)n, NR) * (size_t)stylize_bf16_pack_b_pairs(k) * 4;
}

void stylize_bf16_pack_a(stylize_bf16_kernel kern, const float *a, int lda, int trans_a, int m, int k, void *pa)
{
    unsigned short *dst = pa;
    memset(pa, 0, stylize_bf16_pack_a_bytes(m, k)); /* the padding */
    for (int row = 0; row < m; row++)
        for (int col = 0; col < k; col++)
            dst[stylize_bf16_pack_a_index(kern, row, col, k)] =
                stylize_bf16_round(trans_a ? a[(size_t)col * lda + row] : a[(size_t)row * lda + col]);
}

#if defined(__x86_64__)

typedef struct {
    const float *b;
    int ldb, k, n, ntasks;
    unsigned *pb;
} pack_job;

/* Column panel jp of B: full groups of 16 columns by vector, the rest one by one. */
BF16_TARGET static void pack_panel(const pack_job *g, int jp)
{
    int kp = pairs(g->k), j0 = jp * NR, cols = g->n - j0 < NR ? g->n - j0 : NR;
    int kq = stylize_bf16_pack_b_pairs(g->k);
    unsigned *dst = g->pb + (size_t)jp * kq * NR;
    memset(dst + (size_t)kp * NR, 0, (size_t)(kq - kp) * NR * 4); /* the tiles' padding */
    for (int q = 0; q < kp; q++, dst += NR) {
        const float *r0 = g->b + (size_t)(2 * q) * g->ldb + j0, *r1 = 2 * q + 1 < g->k ? r0 + g->ldb : NULL;
        int j = 0;
        for (; j + 16 <= cols; j += 16)
            stylize_bf16_pair16(r0 + j, r1 ? r1 + j : NULL, dst + j);
        for (; j < cols; j++)
            dst[j] = stylize_bf16_pair(r0[j], r1 ? r1[j] : 0.0f);
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
    int m, n, kp, kq; /* kp pairs of k, kq = kp padded (B's panels) */
    const unsigned *pa;
    const unsigned *pb;
    float *c;
    int ldc, accumulate;
    int ntasks;
} gemm_job;

/* C[rows x cols] at dst (ldc apart) = (accumulate ? dst : 0) + tile (ld apart). */
static void put_tile(float *dst, int ldc, const float *tile, int ld, int rows, int cols, int accumulate)
{
    for (int r = 0; r < rows; r++) {
        float *row = dst + (size_t)r * ldc;
        if (accumulate)
            for (int j = 0; j < cols; j++)
                row[j] += tile[r * ld + j];
        else
            memcpy(row, tile + r * ld, (size_t)cols * sizeof(float));
    }
}

/* Column panel j: every row panel, K block by K block, in C itself where
 * the tile is whole, else through a local tile. */
static void panel(const gemm_job *g, int jp)
{
    float tile[MR * NR] __attribute__((aligned(64)));
    int j0 = jp * NR, cols = g->n - j0 < NR ? g->n - j0 : NR;
    const unsigned *bp = g->pb + (size_t)jp * g->kq * NR;
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
        if (!whole)
            put_tile(g->c + (size_t)i0 * g->ldc + j0, g->ldc, tile, NR, rows, cols, g->accumulate);
    }
}

/* ---- AMX ------------------------------------------------------------------ */

/* The 32 x 32 block of C at c (ldc floats apart) = (load ? c : 0) + A B
 * over nkb blocks of 32 k: a0, a1 the two 16-row A tile columns (a tile
 * each 512 elements), b the panel's 16-pair rows at this block's first
 * column (NR words apart). Tiles: 0..3 C, 4..5 A, 6..7 B. */
AMX_TARGET static void amx_block(const unsigned short *a0, const unsigned short *a1, const unsigned *b, int nkb,
                                 float *c, int ldc, int load)
{
    if (load)
        stylize_amx_load_c(c, ldc);
    else
        stylize_amx_zero_c();
    for (int kb = 0; kb < nkb; kb++, a0 += 512, a1 += 512, b += KQ * NR)
        stylize_amx_step(a0, a1, b, NR * 4);
    stylize_amx_store_c(c, ldc);
}

/* Column panel jp on AMX: each half (32 columns) against every 32-row
 * block, in C where the block is whole, else through a local block. */
AMX_TARGET static void amx_panel(const gemm_job *g, int jp)
{
    float blk[32 * 32] __attribute__((aligned(64)));
    const unsigned short *pa = (const unsigned short *)g->pa;
    int nkb = g->kq / KQ;
    for (int h = 0; h < NR; h += 32) {
        int j0 = jp * NR + h, cols = g->n - j0 < 32 ? g->n - j0 : 32;
        const unsigned *bp = g->pb + (size_t)jp * g->kq * NR + h;
        for (int i0 = 0; cols > 0 && i0 < g->m; i0 += 32) {
            int rows = g->m - i0 < 32 ? g->m - i0 : 32, whole = rows == 32 && cols == 32;
            const unsigned short *a0 = pa + (size_t)(i0 / 16) * nkb * 512;
            float *c = g->c + (size_t)i0 * g->ldc + j0;
            if (whole) {
                amx_block(a0, a0 + (size_t)nkb * 512, bp, nkb, c, g->ldc, g->accumulate);
                continue;
            }
            amx_block(a0, a0 + (size_t)nkb * 512, bp, nkb, blk, 32, 0);
            put_tile(c, g->ldc, blk, 32, rows, cols, g->accumulate);
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

/* The AMX tasks configure the tiles of their thread and release them at the end. */
AMX_TARGET static void amx_task(void *user, int t)
{
    const gemm_job *g = user;
    int np = (g->n + NR - 1) / NR;
    /* the packed operands were written before this task started; the
     * barrier keeps the compiler from moving memory accesses across the
     * tile loads, which it cannot see */
    __asm__ volatile("" ::: "memory");
    stylize_amx_begin();
    for (int jp = t; jp < np; jp += g->ntasks)
        amx_panel(g, jp);
    _tile_release();
}

/* rounds rounds of four independent tile multiplies (0 += 4 6, 1 += 4 7,
 * 2 += 5 6, 3 += 5 7: 4 x 8192 multiply-adds) on zero tiles, so that
 * latency (four chains) does not bound the rate: seconds. */
AMX_TARGET double stylize_bf16_amx_probe(long rounds)
{
    float buf[32 * 32] __attribute__((aligned(64))) = {0}; /* zero tiles (no denormals), then C */
    stylize_amx_begin();
    stylize_amx_zero_c();
    _tile_loadd(4, buf, 64);
    _tile_loadd(5, buf, 64);
    _tile_loadd(6, buf, 64);
    _tile_loadd(7, buf, 64);
    double t0 = stylize_seconds();
    for (long r = 0; r < rounds; r++)
        stylize_amx_dp4();
    stylize_amx_store_c(buf, 32); /* waits for all four chains */
    double t = stylize_seconds() - t0;
    _tile_release();
    return t;
}

void stylize_gemm_bf16(stylize_bf16_kernel kern, int m, int n, int k, const void *pa, const void *pb, float *c,
                       int ldc, int accumulate)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) { /* an empty sum */
        for (int i = 0; i < m && !accumulate; i++)
            memset(c + (size_t)i * ldc, 0, (size_t)n * sizeof(float));
        return;
    }
    int np = (n + NR - 1) / NR, nt = stylize_parallel_threads();
    gemm_job g = {m, n, pairs(k), stylize_bf16_pack_b_pairs(k), pa, pb, c, ldc, accumulate,
                  np < nt ? np : nt};
    stylize_parallel_run(g.ntasks, kern == STYLIZE_BF16_AMX ? amx_task : gemm_task, &g);
}
#else
double stylize_bf16_amx_probe(long rounds)
{
    (void)rounds; /* never called: no AMX */
    return 0.0;
}

void stylize_bf16_pack_b(const float *b, int ldb, int k, int n, void *pb)
{
    unsigned *dst = pb;
    int kp = stylize_bf16_pack_b_pairs(k);
    for (int j0 = 0; j0 < n; j0 += NR)
        for (int q = 0; q < kp; q++) {
            const float *r0 = 2 * q < k ? b + (size_t)(2 * q) * ldb : NULL;
            const float *r1 = 2 * q + 1 < k ? r0 + ldb : NULL;
            int cols = r0 ? (n - j0 < NR ? n - j0 : NR) : 0;
            for (int j = 0; j < cols; j++)
                dst[j] = stylize_bf16_pair(r0[j0 + j], r1 ? r1[j0 + j] : 0.0f);
            for (int j = cols; j < NR; j++)
                dst[j] = 0;
            dst += NR;
        }
}

void stylize_gemm_bf16(stylize_bf16_kernel kern, int m, int n, int k, const void *pa, const void *pb, float *c,
                       int ldc, int accumulate)
{
    (void)kern, (void)m, (void)n, (void)k, (void)pa, (void)pb, (void)c, (void)ldc, (void)accumulate; /* never called: no AVX512-BF16 */
}
#endif

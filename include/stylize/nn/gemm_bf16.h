/* stylize: C = A B in bfloat16 with float32 accumulation, on AMX tiles
 * (tdpbf16ps) or on AVX512-BF16 (vdpbf16ps). A (M x K) and B (K x N) are
 * float32, rounded to bfloat16 (nearest even) while packed; C (M x N) is
 * float32. The packed B is the same for both kernels; the packed A is laid
 * out for one of them (stylize_bf16_kernel), and the GEMM must be called
 * with the kernel its A was packed for.
 *
 * Only where stylize_cpu()->avx512_bf16 (core/cpu.h), and the AMX kernel
 * only where stylize_bf16_kernel_for_cpu() returns it: nothing here may be
 * called elsewhere. Error bound (the tests' tolerance): each
 * operand's rounding is at most 2^-8 relative (8 significant bits), so
 *   |C - AB|_ij <= (2^-7 + 2^-16 + K 2^-24) sum_k |A_ik| |B_kj|.
 * The packed buffers are the caller's (sizes below): nothing is allocated. */
#ifndef STYLIZE_GEMM_BF16_H
#define STYLIZE_GEMM_BF16_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STYLIZE_BF16_MR 6  /* rows of A per panel (vdpbf16ps) */
#define STYLIZE_BF16_NR 64 /* columns of B per panel */
#define STYLIZE_BF16_KQ 16 /* pairs of k per AMX tile: B's panels are padded to a multiple */

/* The two kernels, each with its own layout of the packed A. */
typedef enum {
    STYLIZE_BF16_DPBF16 = 0, /* AVX512-BF16: panels of MR rows, for each pair of k MR words */
    STYLIZE_BF16_AMX = 1     /* AMX: 16 x 32 tiles (1 KiB, row-major), rows padded to 32 and k to 32 */
} stylize_bf16_kernel;

/* The kernel this CPU runs: AMX where Linux granted the tile data (and
 * AVX512-BF16, which packs B, is there), else vdpbf16ps. Read at each call:
 * the test hooks of core/cpu.h change it. */
stylize_bf16_kernel stylize_bf16_kernel_for_cpu(void);

/* Bytes of the packed A (M x K; enough for either layout) and B (K x N). */
size_t stylize_bf16_pack_a_bytes(int m, int k);
size_t stylize_bf16_pack_b_bytes(int k, int n);
/* Pairs of K in each packed B panel: ceil(K / 2) rounded up to KQ (a
 * panel is that many rows of NR words; producers writing B in place use it). */
int stylize_bf16_pack_b_pairs(int k);

/* pa = A (M x K, rows lda floats apart; trans_a: A^T is given, K x M with
 * rows lda apart) in kern's layout. */
void stylize_bf16_pack_a(stylize_bf16_kernel kern, const float *a, int lda, int trans_a, int m, int k, void *pa);
/* pb = B (K x N, rows ldb floats apart) in panels of NR columns, each of
 * ceil(K / 2) pairs rounded up to KQ (zeros), with vcvtneps2bf16 (nearest
 * even; denormal inputs become 0), threaded over panels. */
void stylize_bf16_pack_b(const float *b, int ldb, int k, int n, void *pb);

/* C (M x N, rows ldc apart) = (accumulate ? C : 0) + A B from the packed
 * operands (A packed for kern); threads over column panels (the library's
 * pool). */
void stylize_gemm_bf16(stylize_bf16_kernel kern, int m, int n, int k, const void *pa, const void *pb, float *c,
                       int ldc, int accumulate);

/* The AMX rate probe (only where stylize_bf16_kernel_for_cpu() is AMX):
 * seconds for rounds rounds of four independent tile multiply-adds
 * (4 x 16 x 16 x 32 multiply-adds), on this thread (nn/precision.c). */
double stylize_bf16_amx_probe(long rounds);

/* Index, in bfloat16 elements, of A[row][col] inside the packed A of an
 * M x k matrix in kern's layout: lets a producer write a packed operand
 * directly (after zeroing the buffer for the padding). */
static inline size_t stylize_bf16_pack_a_index(stylize_bf16_kernel kern, int row, int col, int k)
{
    if (kern == STYLIZE_BF16_AMX) { /* tile (row / 16, col / 32), then row-major inside */
        size_t kt = (size_t)(k + 31) / 32;
        return (((size_t)(row / 16) * kt + (size_t)(col / 32)) * 16 + (size_t)(row % 16)) * 32 + (size_t)(col % 32);
    }
    size_t kp = (size_t)(k + 1) / 2;
    size_t word = ((size_t)(row / STYLIZE_BF16_MR) * kp + (size_t)(col / 2)) * STYLIZE_BF16_MR +
                  (size_t)(row % STYLIZE_BF16_MR);
    return word * 2 + (size_t)(col % 2);
}

/* float -> bfloat16, round to nearest even (NaN stays NaN). */
static inline unsigned short stylize_bf16_round(float f)
{
    union {
        float f;
        unsigned u;
    } v = {f};
    if ((v.u & 0x7fffffffu) > 0x7f800000u)
        return (unsigned short)((v.u >> 16) | 0x40u);
    return (unsigned short)((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);
}

#ifdef __cplusplus
}
#endif
#endif

/* The bfloat16 GEMM (stylize/nn/gemm_bf16.h) against a double-precision
 * product of the float32 operands, on every layer shape the engine runs as
 * a GEMM (VGG-19's im2col shapes, the generators' 1x1, 3x3 and 9x9 layers)
 * and on ragged sizes (remainders of every panel). Tolerance per element,
 * from bfloat16's 8-bit mantissa and the reduction length K:
 *   |C - AB|_ij <= (2^-7 + 2^-16 + K 2^-24) sum_k |A_ik| |B_kj|
 * (each operand rounded with relative error <= 2^-8, bfloat16 having 8
 * significant bits; float32 accumulation).
 * The result must also differ from the float32 product by more than float32
 * rounding somewhere (it really is bfloat16), be the same with 1 and 2
 * threads, transpose and accumulate as asked. Each kernel the CPU has runs
 * every shape: vdpbf16ps (AVX512-BF16), and AMX tiles where Linux grants
 * them (else a visible "SKIP" line for AMX). The two differ only in the
 * order of float32 accumulation, so they must also agree to K 2^-23 of the
 * magnitudes. The rounding helper: nearest even, NaN kept. Skipped,
 * visibly (exit 77), on CPUs without AVX512-BF16. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stylize/core/cpu.h"
#include "stylize/core/threads.h"
#include "stylize/nn/gemm_bf16.h"
#include "testutil.h"

static void check_round(void)
{
    CHECK(stylize_bf16_round(1.0f) == 0x3f80);
    CHECK(stylize_bf16_round(1.0f + 0x1p-8f) == 0x3f80); /* a tie: to even */
    CHECK(stylize_bf16_round(1.0f + 0x3p-8f) == 0x3f82); /* a tie: to even, upwards */
    CHECK(stylize_bf16_round(1.0f + 0x1p-7f + 0x1p-9f) == 0x3f81);
    CHECK(stylize_bf16_round(-2.0f) == 0xc000);
    CHECK(stylize_bf16_round(INFINITY) == 0x7f80);
    unsigned short n = stylize_bf16_round(NAN);
    CHECK((n & 0x7f80) == 0x7f80 && (n & 0x7f) != 0);
}

/* c (AMX's result) against vdpbf16ps's on the same operands: within
 * K 2^-23 sum |A||B| per element (both sum exact products in float32). */
static void check_kernels_agree(const float *a, const float *b, const float *c, int m, int n, int k, int trans_a,
                                int accumulate, void *pa, void *pb)
{
    float *d = malloc((size_t)m * n * sizeof *d);
    if (!d) {
        CHECK(!"out of memory");
        return;
    }
    tu_fill(d, (size_t)m * n, 5, -1.0f, 1.0f);
    stylize_bf16_pack_a(STYLIZE_BF16_DPBF16, a, trans_a ? m : k, trans_a, m, k, pa);
    stylize_gemm_bf16(STYLIZE_BF16_DPBF16, m, n, k, pa, pb, d, n, accumulate);
    double worst = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double mag = 1.0;
            for (int q = 0; q < k; q++)
                mag += fabs((trans_a ? a[(size_t)q * m + i] : a[(size_t)i * k + q]) * b[(size_t)q * n + j]);
            worst = fmax(worst, fabs(c[(size_t)i * n + j] - d[(size_t)i * n + j]) / (k * 0x1p-23 * mag));
        }
    CHECK_MSG(worst <= 1.0, "%dx%dx%d: amx and dpbf16 differ by %.3g of K 2^-23 |A||B|", m, n, k, worst);
    free(d);
}

/* One shape with kernel kern: returns 1 if the result differs from
 * float32's beyond float32 rounding somewhere. */
static int check_shape(stylize_bf16_kernel kern, int m, int n, int k, int trans_a, int accumulate)
{
    float *a = malloc((size_t)m * k * sizeof *a), *b = malloc((size_t)k * n * sizeof *b);
    float *c = malloc((size_t)m * n * sizeof *c), *c2 = malloc((size_t)m * n * sizeof *c2);
    void *pa = malloc(stylize_bf16_pack_a_bytes(m, k)), *pb = malloc(stylize_bf16_pack_b_bytes(k, n));
    if (!a || !b || !c || !c2 || !pa || !pb) {
        CHECK(!"out of memory");
        return 0;
    }
    tu_fill(a, (size_t)m * k, (uint64_t)m * 7 + k, -1.0f, 1.0f);
    tu_fill(b, (size_t)k * n, (uint64_t)n * 3 + k, -2.0f, 2.0f);
    tu_fill(c, (size_t)m * n, 5, -1.0f, 1.0f);
    memcpy(c2, c, (size_t)m * n * sizeof *c);
    /* A as given: (m, k), or its transpose (k, m) */
    stylize_bf16_pack_a(kern, a, trans_a ? m : k, trans_a, m, k, pa);
    stylize_bf16_pack_b(b, n, k, n, pb);
    stylize_set_threads(2);
    stylize_gemm_bf16(kern, m, n, k, pa, pb, c, n, accumulate);
    stylize_set_threads(1);
    stylize_gemm_bf16(kern, m, n, k, pa, pb, c2, n, accumulate);
    stylize_set_threads(2);
    CHECK_MSG(memcmp(c, c2, (size_t)m * n * sizeof *c) == 0, "%dx%dx%d: 1 and 2 threads differ", m, n, k);
    tu_fill(c2, (size_t)m * n, 5, -1.0f, 1.0f); /* C before the call, for accumulate */
    double worst = 0;
    int bf16_visible = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double ref = accumulate ? c2[(size_t)i * n + j] : 0, mag = 0;
            for (int q = 0; q < k; q++) {
                double av = trans_a ? a[(size_t)q * m + i] : a[(size_t)i * k + q], bv = b[(size_t)q * n + j];
                ref += av * bv, mag += fabs(av * bv);
            }
            double err = fabs(c[(size_t)i * n + j] - ref), tol = (0x1p-7 + 0x1p-16 + k * 0x1p-24) * mag + 1e-30;
            worst = fmax(worst, err / tol);
            bf16_visible |= err > k * 0x1p-22 * mag + 1e-6 * fabs(ref);
        }
    CHECK_MSG(worst <= 1.0, "%s %dx%dx%d%s%s: error %.3g of the bound", kern == STYLIZE_BF16_AMX ? "amx" : "dpbf16",
              m, n, k, trans_a ? " A^T" : "", accumulate ? " +=" : "", worst);
    if (kern == STYLIZE_BF16_AMX) /* the same bf16 products as vdpbf16ps, summed in another order */
        check_kernels_agree(a, b, c, m, n, k, trans_a, accumulate, pa, pb);
    free(a), free(b), free(c), free(c2), free(pa), free(pb);
    return bf16_visible;
}

/* Every shape with kernel kern. */
static void check_kernel(stylize_bf16_kernel kern)
{
    /* (M = cout, N = positions, K = cin * k * k) */
    static const int shapes[][3] = {
        {64, 96, 27},   {64, 96, 576},  {128, 64, 576}, {128, 64, 1152}, {256, 40, 1152}, {256, 40, 2304},
        {512, 24, 2304}, {512, 24, 4608}, /* VGG-19: conv1_1 .. conv5_x */
        {8, 100, 27},   {8, 100, 72},   {8, 100, 8},    {3, 100, 48}, /* the pyramid's 3x3 and 1x1 layers */
        {32, 70, 243},  {3, 70, 2592},  {64, 70, 288},  {128, 70, 1152}, /* the residual net: 9x9, 3x3 */
        {7, 13, 5},     {1, 1, 1},      {65, 130, 33},  {6, 64, 2}, {13, 200, 129}, /* every remainder */
    };
    int visible = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        visible += check_shape(kern, shapes[s][0], shapes[s][1], shapes[s][2], 0, 0);
    visible += check_shape(kern, 65, 130, 33, 1, 0);
    visible += check_shape(kern, 65, 130, 33, 0, 1);
    visible += check_shape(kern, 128, 70, 1152, 1, 1);
    visible += check_shape(kern, 48, 200, 64, 0, 1); /* whole AMX blocks, accumulated, and a 16-row half */
    CHECK_MSG(visible > 0, "the products never differ from float32's: bfloat16 is not used");
}

int main(void)
{
    const stylize_cpu_features *f = stylize_cpu();
    printf("CPU: %s; avx512_bf16 %d, amx_bf16 %d (usable %d)\n", f->model, f->avx512_bf16, f->amx_bf16, f->amx_usable);
    check_round();
    if (!f->avx512_bf16) {
        printf("SKIP: this CPU has no AVX512-BF16; the bfloat16 GEMM is not used here\n");
        return TEST_SUMMARY() ? 1 : 77;
    }
    check_kernel(STYLIZE_BF16_DPBF16);
    if (stylize_bf16_kernel_for_cpu() == STYLIZE_BF16_AMX) {
        check_kernel(STYLIZE_BF16_AMX);
        stylize_cpu_testing_disable_amx(1);
        CHECK(stylize_bf16_kernel_for_cpu() == STYLIZE_BF16_DPBF16);
        stylize_cpu_testing_disable_amx(0);
    } else {
        printf("SKIP: AMX (amx_bf16 %d, tile data granted %d): its kernel is not used here\n", f->amx_bf16,
               f->amx_usable);
    }
    return TEST_SUMMARY();
}

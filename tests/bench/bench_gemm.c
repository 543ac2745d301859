/* Benchmark (not a test): the bfloat16 GEMM (nn/gemm_bf16.h) against
 * OpenBLAS's sgemm on the im2col shapes of VGG-19's convolutions at a given
 * image size (M = cout, N = positions, K = cin x 9), median of REPS.
 *
 *   bench_gemm [-s SIZE] [-r REPS] [-t THREADS]
 *
 * One line per layer: sgemm seconds and GFLOP/s, bf16 seconds with and
 * without packing B (A, the weights, is packed once as a model would) and
 * GFLOP/s. Prints "skip" lines on a CPU without AVX512-BF16. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "bench_util.h"
#include "stylize/core/clock.h"
#include "stylize/core/cpu.h"
#include "stylize/core/threads.h"
#include "stylize/nn/gemm_bf16.h"

int main(int argc, char **argv)
{
    int size = 256, reps = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-s") == 0)
            size = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-r") == 0)
            reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-t") == 0)
            stylize_set_threads(atoi(argv[i + 1]));
    }
    if (reps < 1 || reps > 64)
        reps = 5;
    const stylize_cpu_features *f = stylize_cpu();
    printf("# %s, avx512_bf16 %d, amx %d, %d threads, image %d px\n", f->model, f->avx512_bf16, f->amx_usable,
           stylize_get_threads(), size);
    static const struct { const char *name; int cin, cout, pool; } L[] = {
        {"conv1_2", 64, 64, 0}, {"conv2_1", 64, 128, 1}, {"conv2_2", 128, 128, 1}, {"conv3_1", 128, 256, 2},
        {"conv3_2", 256, 256, 2}, {"conv4_1", 256, 512, 3}, {"conv4_2", 512, 512, 3}, {"conv5_1", 512, 512, 4}};
    for (size_t l = 0; l < sizeof L / sizeof L[0]; l++) {
        int s = size >> L[l].pool, m = L[l].cout, n = s * s, k = L[l].cin * 9;
        float *a = malloc((size_t)m * k * 4), *b = malloc((size_t)k * n * 4), *c = malloc((size_t)m * n * 4);
        void *pa = malloc(stylize_bf16_pack_a_bytes(m, k)), *pb = malloc(stylize_bf16_pack_b_bytes(k, n));
        if (!a || !b || !c || !pa || !pb)
            return 1;
        for (size_t i = 0; i < (size_t)m * k; i++)
            a[i] = (float)(i % 7) * 0.1f;
        for (size_t i = 0; i < (size_t)k * n; i++)
            b[i] = (float)(i % 5) * 0.1f;
        double ts[64], tb[64], tp[64], flop = 2.0 * m * n * k;
        for (int r = 0; r < reps; r++) {
            double t0 = stylize_seconds();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, a, k, b, n, 0, c, n);
            ts[r] = stylize_seconds() - t0;
        }
        double t_s = bench_median(ts, reps);
        if (!f->avx512_bf16) {
            printf("%-8s M %4d N %6d K %5d  sgemm %.4f s %6.1f GFLOP/s  bf16: skip (no AVX512-BF16)\n", L[l].name, m,
                   n, k, t_s, flop / t_s / 1e9);
            continue;
        }
        stylize_bf16_kernel kern = stylize_bf16_kernel_for_cpu();
        stylize_bf16_pack_a(kern, a, k, 0, m, k, pa);
        for (int r = 0; r < reps; r++) {
            double t0 = stylize_seconds();
            stylize_bf16_pack_b(b, n, k, n, pb);
            double t1 = stylize_seconds();
            stylize_gemm_bf16(kern, m, n, k, pa, pb, c, n, 0);
            double t2 = stylize_seconds();
            tp[r] = t2 - t0, tb[r] = t2 - t1;
        }
        double t_b = bench_median(tb, reps), t_p = bench_median(tp, reps);
        printf("%-8s M %4d N %6d K %5d  sgemm %.4f s %6.1f GFLOP/s  bf16 %.4f s %6.1f GFLOP/s (with packing B %.4f s)\n",
               L[l].name, m, n, k, t_s, flop / t_s / 1e9, t_b, flop / t_b / 1e9,
               t_p);
        free(a), free(b), free(c), free(pa), free(pb);
    }
    return 0;
}

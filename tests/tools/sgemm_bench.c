#define _POSIX_C_SOURCE 200809L
/* Benchmark tool (not a test): prints the median GFLOP/s of a
 * 512 x 4608 x 4096 cblas_sgemm (a VGG conv4-sized product) with N threads.
 * usage: stylize-sgemm-bench [THREADS] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    if (threads > 0)
        openblas_set_num_threads(threads);
    const int M = 512, K = 4608, N = 4096;
    float *A = malloc((size_t)M * K * sizeof(float)), *B = malloc((size_t)K * N * sizeof(float));
    float *C = malloc((size_t)M * N * sizeof(float));
    if (!A || !B || !C)
        return 1;
    for (size_t i = 0; i < (size_t)M * K; i++)
        A[i] = (float)(i % 7) * 0.01f;
    for (size_t i = 0; i < (size_t)K * N; i++)
        B[i] = (float)(i % 5) * 0.01f;
    double t[5];
    for (int r = 0; r < 6; r++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (r > 0)
            t[r - 1] = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
    }
    qsort(t, 5, sizeof t[0], cmp);
    printf("%.1f\n", 2.0 * M * N * K / t[2] / 1e9);
    free(A), free(B), free(C);
    return 0;
}

/* Content, Gram/style and total-variation losses (see losses.h). */
#include "stylize/style/losses.h"

#include <cblas.h>

double stylize_content_loss(const float *F, const float *P, size_t n, float *grad, float scale)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        float d = F[i] - P[i];
        sum += (double)d * d;
        if (grad)
            grad[i] += scale * d;
    }
    return 0.5 * sum;
}

void stylize_gram_strided(float *G, const float *F, int N, int M, size_t ld, int accumulate)
{
    /* ssyrk updates the upper triangle, then mirror it */
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, N, M, 1.0f, F, (int)ld,
                accumulate ? 1.0f : 0.0f, G, N);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < i; j++)
            G[(size_t)i * N + j] = G[(size_t)j * N + i];
}

void stylize_gram(float *G, const float *F, int N, int M)
{
    stylize_gram_strided(G, F, N, M, (size_t)M, 0);
}

double stylize_style_loss(const float *G, const float *A, int N, int M)
{
    double sum = 0;
    size_t nn = (size_t)N * N;
    for (size_t i = 0; i < nn; i++) {
        double d = (double)G[i] - (double)A[i];
        sum += d * d;
    }
    double nm = (double)N * (double)M;
    return sum / (4.0 * nm * nm);
}

void stylize_style_grad_strided(float *grad, const float *F, size_t ld, int N, int m, double M,
                                const float *G, const float *A, float scale, float *D)
{
    double nm = (double)N * M;
    float k = (float)((double)scale / (nm * nm));
    size_t nn = (size_t)N * N;
    for (size_t i = 0; i < nn; i++)
        D[i] = G[i] - A[i];
    /* grad (N, m) += k D (N, N) F (N, m); D is symmetric. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, m, N, k, D, N, F, (int)ld, 1.0f, grad,
                (int)ld);
}

void stylize_style_grad(float *grad, const float *F, const float *G, const float *A, int N, int M,
                        float scale, float *D)
{
    stylize_style_grad_strided(grad, F, (size_t)M, N, M, (double)M, G, A, scale, D);
}

double stylize_tv_loss(const float *x, int C, int H, int W, float *grad, float scale)
{
    double sum = 0;
    for (int c = 0; c < C; c++) {
        const float *p = x + (size_t)c * H * W;
        float *g = grad ? grad + (size_t)c * H * W : NULL;
        for (int i = 0; i < H; i++) {
            for (int j = 0; j < W; j++) {
                size_t k = (size_t)i * W + j;
                if (j + 1 < W) {
                    float d = p[k + 1] - p[k];
                    sum += (double)d * d;
                    if (g) {
                        g[k + 1] += 2.0f * scale * d;
                        g[k] -= 2.0f * scale * d;
                    }
                }
                if (i + 1 < H) {
                    float d = p[k + W] - p[k];
                    sum += (double)d * d;
                    if (g) {
                        g[k + W] += 2.0f * scale * d;
                        g[k] -= 2.0f * scale * d;
                    }
                }
            }
        }
    }
    return sum;
}

/* Losses: values against hand computation and central finite differences
 * of the content, Gram/style and total-variation gradients. */
#include "stylize/style/losses.h"
#include "testutil.h"

typedef struct {
    const float *P, *A;
    int N, M;
    float *G;
} loss_ctx;

static double f_content(void *u, const float *x)
{
    loss_ctx *c = u;
    return stylize_content_loss(x, c->P, (size_t)c->N * c->M, NULL, 0.0f);
}

static double f_style(void *u, const float *x)
{
    loss_ctx *c = u;
    /* Gram in double for an accurate finite difference. */
    double sum = 0;
    for (int i = 0; i < c->N; i++)
        for (int j = 0; j < c->N; j++) {
            double g = 0;
            for (int k = 0; k < c->M; k++)
                g += (double)x[i * c->M + k] * x[j * c->M + k];
            double d = g - c->A[i * c->N + j];
            sum += d * d;
        }
    double nm = (double)c->N * c->M;
    return sum / (4 * nm * nm);
}

static double f_tv(void *u, const float *x)
{
    loss_ctx *c = u;
    return stylize_tv_loss(x, 2, c->N, c->M, NULL, 0.0f);
}

int main(void)
{
    enum { N = 6, M = 11 };
    float F[N * M], P[N * M], G[N * N], A[N * N], grad[N * M], D[N * N];
    tu_fill(F, N * M, 1, -1, 2);
    tu_fill(P, N * M, 2, -1, 2);

    /* Content: value and gradient. */
    double expect = 0;
    for (int i = 0; i < N * M; i++)
        expect += 0.5 * (double)(F[i] - P[i]) * (F[i] - P[i]);
    memset(grad, 0, sizeof grad);
    CHECK_CLOSE(stylize_content_loss(F, P, N * M, grad, 1.0f), expect, 1e-6);
    loss_ctx c = {P, A, N, M, G};
    CHECK(tu_fd_check(f_content, &c, F, grad, N * M, 1e-2f, 1000) < 1e-3);
    /* Accumulates with scale. */
    stylize_content_loss(F, P, N * M, grad, 2.0f);
    CHECK_CLOSE(grad[5], 3.0 * (F[5] - P[5]), 1e-6);

    /* Gram: G = F F^T, symmetric, against a direct sum. */
    stylize_gram(G, F, N, M);
    double g23 = 0;
    for (int k = 0; k < M; k++)
        g23 += (double)F[2 * M + k] * F[3 * M + k];
    CHECK_CLOSE(G[2 * N + 3], g23, 1e-5);
    CHECK_CLOSE(G[3 * N + 2], g23, 1e-5);

    /* Style: E = 1/(4 N^2 M^2) sum (G - A)^2 on a target from other features. */
    float Fs[N * M];
    tu_fill(Fs, N * M, 3, 0, 1.5f);
    stylize_gram(A, Fs, N, M);
    double s = 0;
    for (int i = 0; i < N * N; i++)
        s += (double)(G[i] - A[i]) * (G[i] - A[i]);
    CHECK_CLOSE(stylize_style_loss(G, A, N, M), s / (4.0 * N * N * M * M), 1e-6);
    memset(grad, 0, sizeof grad);
    stylize_style_grad(grad, F, G, A, N, M, 1.0f, D);
    { double e1 = tu_fd_check(f_style, &c, F, grad, N * M, 1e-2f, 1000), e2 = tu_fd_check(f_style, &c, F, grad, N * M, 1e-3f, 1000); fprintf(stderr, "style fd %g %g\n", e1, e2); CHECK(e2 < 2e-3); }
    /* Zero loss and zero gradient at the target itself. */
    stylize_gram(G, Fs, N, M);
    CHECK(stylize_style_loss(G, A, N, M) == 0.0);
    memset(grad, 0, sizeof grad);
    stylize_style_grad(grad, Fs, G, A, N, M, 1.0f, D);
    double gmax = 0;
    for (int i = 0; i < N * M; i++)
        gmax = fmax(gmax, fabs(grad[i]));
    CHECK(gmax == 0.0);

    /* TV on a (2, 6, 11) image: value of a known ramp and finite differences. */
    float img[2 * N * M], tg[2 * N * M];
    for (int ch = 0; ch < 2; ch++)
        for (int i = 0; i < N; i++)
            for (int j = 0; j < M; j++)
                img[(ch * N + i) * M + j] = (float)j; /* horizontal ramp: each dx = 1 */
    CHECK_CLOSE(stylize_tv_loss(img, 2, N, M, NULL, 0.0f), 2.0 * N * (M - 1), 1e-9);
    tu_fill(img, 2 * N * M, 4, 0, 1);
    memset(tg, 0, sizeof tg);
    stylize_tv_loss(img, 2, N, M, tg, 1.0f);
    CHECK(tu_fd_check(f_tv, &c, img, tg, 2 * N * M, 1e-2f, 1000) < 1e-3);
    return TEST_SUMMARY();
}

/* The matrix-free Matting Laplacian (style/matting.h) against the explicit
 * matrix built here from Levin et al.'s definition (every window, every
 * pair of its pixels, the 3x3 inverse by Gauss-Jordan elimination: another
 * route to the same numbers) on small random images, to 1e-10 relative;
 * M 1 = 0; symmetry; v^T M v >= 0; an affine function of the content's
 * colours scores ~0; central finite differences of the loss's gradient;
 * a dry plan counts what a live one allocates. */
#include <string.h>

#include "stylize/core/threads.h"
#include "stylize/style/matting.h"
#include "testutil.h"

#define W 7
#define H 6
#define N (W * H)

/* a (3x3) = inverse of s by Gauss-Jordan with partial pivoting. */
static void gj_inverse(double s[3][3], double a[3][3])
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            a[i][j] = i == j;
    for (int c = 0; c < 3; c++) {
        int p = c;
        for (int r = c + 1; r < 3; r++)
            if (fabs(s[r][c]) > fabs(s[p][c]))
                p = r;
        for (int j = 0; j < 3; j++) {
            double t = s[c][j]; s[c][j] = s[p][j]; s[p][j] = t;
            t = a[c][j]; a[c][j] = a[p][j]; a[p][j] = t;
        }
        double d = s[c][c];
        for (int j = 0; j < 3; j++)
            s[c][j] /= d, a[c][j] /= d;
        for (int r = 0; r < 3; r++)
            if (r != c) {
                double f = s[r][c];
                for (int j = 0; j < 3; j++)
                    s[r][j] -= f * s[c][j], a[r][j] -= f * a[c][j];
            }
    }
}

/* L (N x N) from the definition. */
static void explicit_laplacian(const float *img, double eps, double *L)
{
    memset(L, 0, sizeof(double) * N * N);
    for (int y = 1; y < H - 1; y++)
        for (int x = 1; x < W - 1; x++) {
            int idx[9];
            double mu[3] = {0, 0, 0}, cov[3][3] = {{0}}, inv[3][3];
            for (int k = 0; k < 9; k++) {
                idx[k] = (y - 1 + k / 3) * W + (x - 1 + k % 3);
                for (int c = 0; c < 3; c++)
                    mu[c] += img[c * N + idx[k]] / 9.0;
            }
            for (int k = 0; k < 9; k++)
                for (int a = 0; a < 3; a++)
                    for (int b = 0; b < 3; b++)
                        cov[a][b] += (img[a * N + idx[k]] - mu[a]) * (img[b * N + idx[k]] - mu[b]) / 9.0;
            for (int a = 0; a < 3; a++)
                cov[a][a] += eps / 9.0;
            gj_inverse(cov, inv);
            for (int i = 0; i < 9; i++)
                for (int j = 0; j < 9; j++) {
                    double q = 1.0;
                    for (int a = 0; a < 3; a++)
                        for (int b = 0; b < 3; b++)
                            q += (img[a * N + idx[i]] - mu[a]) * inv[a][b] * (img[b * N + idx[j]] - mu[b]);
                    L[idx[i] * N + idx[j]] += (i == j) - q / 9.0;
                }
        }
}

static double max_abs(const double *v, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++)
        m = fmax(m, fabs(v[i]));
    return m;
}

static stylize_status make(stylize_matting **m, const float *img, int w, int h, double eps, stylize_mem *mem,
                           stylize_error *e)
{
    stylize_status st = stylize_matting_create(m, w, h, eps, mem, e);
    if (st == STYLIZE_OK)
        stylize_matting_set_image(*m, img, NULL, NULL);
    return st;
}

static void check_image(uint64_t seed, double eps)
{
    float img[3 * N];
    tu_fill(img, 3 * N, seed, 0.0f, 1.0f);
    static double L[N * N];
    explicit_laplacian(img, eps, L);
    stylize_matting *m;
    stylize_error e;
    CHECK(make(&m, img, W, H, eps, NULL, &e) == STYLIZE_OK);
    double v[N], mv[N], ref[N], one[N], u[N], mu[N];
    float fv[N];
    tu_fill(fv, N, seed + 1, -1.0f, 1.0f);
    for (int i = 0; i < N; i++)
        v[i] = fv[i], one[i] = 1.0;
    stylize_matting_apply(m, v, mv);
    double err = 0;
    for (int i = 0; i < N; i++) {
        ref[i] = 0;
        for (int j = 0; j < N; j++)
            ref[i] += L[i * N + j] * v[j];
    }
    for (int i = 0; i < N; i++)
        err = fmax(err, fabs(mv[i] - ref[i]));
    CHECK_MSG(err <= 1e-10 * max_abs(ref, N), "eps %g: M v differs from the explicit product by %g (of %g)", eps,
              err, max_abs(ref, N));
    stylize_matting_apply(m, one, mu);
    CHECK_MSG(max_abs(mu, N) <= 1e-9 * max_abs(ref, N), "M 1 = %g, not 0", max_abs(mu, N));
    tu_fill(fv, N, seed + 2, -1.0f, 1.0f);
    for (int i = 0; i < N; i++)
        u[i] = fv[i];
    double uMv = 0, vMu = 0, vMv = 0;
    stylize_matting_apply(m, u, mu);
    for (int i = 0; i < N; i++)
        uMv += u[i] * mv[i], vMu += v[i] * mu[i], vMv += v[i] * mv[i];
    CHECK_MSG(fabs(uMv - vMu) <= 1e-10 * fmax(fabs(uMv), 1.0), "not symmetric: %g vs %g", uMv, vMu);
    CHECK(vMv >= 0);
    stylize_matting_free(m);
}

/* An output that is an affine function of the content's colours in every
 * window scores ~0 (the reason for the term); a random one does not. */
static void check_affine(void)
{
    float img[3 * N], out[3 * N], grad[3 * N];
    tu_fill(img, 3 * N, 9, 0.0f, 1.0f);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < N; i++)
            out[c * N + i] = 0.2f + 0.3f * img[i] - 0.5f * img[N + i] * (c == 1) + 0.1f * c * img[2 * N + i];
    stylize_matting *m;
    stylize_error e;
    CHECK(make(&m, img, W, H, STYLIZE_MATTING_EPS, NULL, &e) == STYLIZE_OK);
    double affine = stylize_matting_loss(m, out, NULL, grad, 1.0);
    tu_fill(out, 3 * N, 10, 0.0f, 1.0f);
    double rnd = stylize_matting_loss(m, out, NULL, grad, 1.0);
    CHECK_MSG(affine < 1e-6 * rnd && rnd > 1.0, "affine output %g, random %g", affine, rnd);
    stylize_matting_free(m);
}

typedef struct {
    stylize_matting *m;
} fd_ctx;

static double fd_loss(void *user, const float *x)
{
    return stylize_matting_loss(((fd_ctx *)user)->m, x, NULL, NULL, 1.0);
}

static void check_grad(void)
{
    float img[3 * N], x[3 * N], g[3 * N];
    tu_fill(img, 3 * N, 21, 0.0f, 1.0f);
    tu_fill(x, 3 * N, 22, 0.0f, 1.0f);
    stylize_matting *m;
    stylize_error e;
    CHECK(make(&m, img, W, H, 1e-4, NULL, &e) == STYLIZE_OK);
    memset(g, 0, sizeof g);
    double v = stylize_matting_loss(m, x, NULL, g, 1.0); /* grad = 2 M x: of the returned value */
    CHECK(v > 0);
    fd_ctx c = {m};
    double worst = tu_fd_check(fd_loss, &c, x, g, 3 * N, 1e-3f, 3 * N);
    CHECK_MSG(worst < 1e-3, "matting gradient FD error %g", worst);
    /* grad accumulates scale * dL/dx */
    float g2[3 * N];
    for (int i = 0; i < 3 * N; i++)
        g2[i] = 1.0f;
    stylize_matting_loss(m, x, NULL, g2, 0.25);
    CHECK(fabsf(g2[7] - 1.0f - 0.25f * g[7]) <= 1e-6f * fabsf(g[7]) + 1e-6f);
    /* per-channel factors a_c: L(x) with a equals L(a x) without, and its gradient is a_c times */
    const double a[3] = {2.0, 0.5, 1.5};
    float ax[3 * N], ga[3 * N], gp[3 * N];
    for (int ch = 0; ch < 3; ch++)
        for (int i = 0; i < N; i++)
            ax[ch * N + i] = (float)(a[ch] * x[ch * N + i]);
    memset(ga, 0, sizeof ga);
    memset(gp, 0, sizeof gp);
    double la = stylize_matting_loss(m, x, a, ga, 1.0), lp = stylize_matting_loss(m, ax, NULL, gp, 1.0);
    CHECK_MSG(fabs(la - lp) <= 1e-5 * lp, "with a: %g, on a x: %g", la, lp);
    for (int i = 0; i < 3 * N; i += 17)
        CHECK(fabsf(ga[i] - (float)a[i / N] * gp[i]) <= 1e-4f * (fabsf(gp[i]) + 1e-3f));
    stylize_matting_free(m);
}

static void check_plan(void)
{
    float img[3 * N];
    tu_fill(img, 3 * N, 5, 0.0f, 1.0f);
    stylize_mem dry, live;
    stylize_mem_init(&dry, 1);
    stylize_mem_init(&live, 0);
    stylize_matting *a, *b;
    stylize_error e;
    CHECK(make(&a, img, W, H, 1e-7, &dry, &e) == STYLIZE_OK);
    CHECK(make(&b, img, W, H, 1e-7, &live, &e) == STYLIZE_OK);
    CHECK(dry.peak == live.peak && dry.peak == stylize_matting_bytes(W, H));
    stylize_matting_free(a);
    stylize_matting_free(b);
    CHECK(dry.cur == 0 && live.cur == 0);
    CHECK(make(&a, img, 2, 5, 1e-7, NULL, &e) == STYLIZE_ERR_ARG);
}

int main(void)
{
    check_image(1, STYLIZE_MATTING_EPS);
    check_image(2, 1e-3);
    check_image(3, 1e-1);
    check_affine();
    check_grad();
    check_plan();
    stylize_set_threads(3); /* the row-parallel passes, with tasks of one or two rows */
    check_image(4, STYLIZE_MATTING_EPS);
    check_grad();
    return TEST_SUMMARY();
}

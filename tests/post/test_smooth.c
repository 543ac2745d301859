/* Post-processing (stylize/post/smooth.h): the guided filter and the smooth
 * local affine filter against direct implementations written here from
 * their definitions (every box and every bilateral sum visited pixel by
 * pixel), in place and out of place; both lower the Matting Laplacian
 * term of a noisy output; the photorealism figures (L_m per pixel, SSIM of
 * Sobel edges) at their known values; dry plans count what live ones hold. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stylize/core/threads.h"
#include "stylize/post/smooth.h"
#include "stylize/style/matting.h"
#include "testutil.h"

enum { W = 13, H = 11, N = W * H };

/* The guided filter by definition: for every window k (clipped), a_k and
 * b_k from the window's own sums; q_i averages the windows containing i. */
static void guided_direct(const float *I, const float *p, double *q, int r, double eps)
{
    static double A[N][3], B[N];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double mu[3] = {0}, s[3][3] = {{0}}, mp = 0, ip[3] = {0}, cnt = 0;
            for (int yy = y - r; yy <= y + r; yy++)
                for (int xx = x - r; xx <= x + r; xx++) {
                    if (yy < 0 || yy >= H || xx < 0 || xx >= W)
                        continue;
                    int j = yy * W + xx;
                    cnt++;
                    mp += p[j];
                    for (int a = 0; a < 3; a++) {
                        mu[a] += I[a * N + j];
                        ip[a] += I[a * N + j] * p[j];
                        for (int b = 0; b < 3; b++)
                            s[a][b] += I[a * N + j] * I[b * N + j];
                    }
                }
            double m[3][4];
            for (int a = 0; a < 3; a++) {
                for (int b = 0; b < 3; b++)
                    m[a][b] = s[a][b] / cnt - mu[a] / cnt * mu[b] / cnt + (a == b ? eps : 0);
                m[a][3] = ip[a] / cnt - mu[a] / cnt * mp / cnt;
            }
            for (int c = 0; c < 3; c++) /* Gauss-Jordan on the 3x4 system */
                for (int rr = 0; rr < 3; rr++)
                    if (rr != c) {
                        double f = m[rr][c] / m[c][c];
                        for (int k = 0; k < 4; k++)
                            m[rr][k] -= f * m[c][k];
                    }
            int i = y * W + x;
            B[i] = mp / cnt;
            for (int a = 0; a < 3; a++) {
                A[i][a] = m[a][3] / m[a][a];
                B[i] -= A[i][a] * mu[a] / cnt;
            }
        }
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double a[3] = {0}, b = 0, cnt = 0;
            for (int yy = y - r; yy <= y + r; yy++)
                for (int xx = x - r; xx <= x + r; xx++)
                    if (yy >= 0 && yy < H && xx >= 0 && xx < W) {
                        int j = yy * W + xx;
                        cnt++, b += B[j];
                        for (int c = 0; c < 3; c++)
                            a[c] += A[j][c];
                    }
            int i = y * W + x;
            q[i] = b / cnt;
            for (int c = 0; c < 3; c++)
                q[i] += a[c] / cnt * I[c * N + i];
        }
}

/* Least squares over rows f (k, 4) with ridge on the first 3 coefficients:
 * (F^T F + ridge) x = F^T t, by Gauss-Jordan. */
static void ridge_fit(double f[9][4], const double *t, int k, double x[4])
{
    double m[4][5] = {{0}};
    for (int a = 0; a < 4; a++) {
        for (int b = 0; b < 4; b++)
            for (int i = 0; i < k; i++)
                m[a][b] += f[i][a] * f[i][b];
        for (int i = 0; i < k; i++)
            m[a][4] += f[i][a] * t[i];
    }
    for (int a = 0; a < 3; a++)
        m[a][a] += STYLIZE_AFFINE_RIDGE;
    for (int c = 0; c < 4; c++)
        for (int r = 0; r < 4; r++)
            if (r != c) {
                double g = m[r][c] / m[c][c];
                for (int j = 0; j < 5; j++)
                    m[r][j] -= g * m[c][j];
            }
    for (int a = 0; a < 4; a++)
        x[a] = m[a][4] / m[a][a];
}

static void affine_direct(const float *I, const float *p, double *q, int r, double edge)
{
    static double coef[N][3][4];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double f[9][4], t[3][9];
            int k = 0;
            for (int yy = y - 1; yy <= y + 1; yy++)
                for (int xx = x - 1; xx <= x + 1; xx++)
                    if (yy >= 0 && yy < H && xx >= 0 && xx < W) {
                        int j = yy * W + xx;
                        for (int c = 0; c < 3; c++)
                            f[k][c] = I[c * N + j], t[c][k] = p[c * N + j];
                        f[k++][3] = 1.0;
                    }
            for (int c = 0; c < 3; c++)
                ridge_fit(f, t[c], k, coef[y * W + x][c]);
        }
    double ss = r / 3.0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int i = y * W + x;
            double acc[3][4] = {{0}}, ws = 0;
            for (int yy = y - r; yy <= y + r; yy++)
                for (int xx = x - r; xx <= x + r; xx++) {
                    if (yy < 0 || yy >= H || xx < 0 || xx >= W)
                        continue;
                    int j = yy * W + xx;
                    double d = 0;
                    for (int c = 0; c < 3; c++)
                        d += (I[c * N + j] - I[c * N + i]) * (I[c * N + j] - I[c * N + i]) / 3.0;
                    double wt = exp(-((xx - x) * (xx - x) + (yy - y) * (yy - y)) / (2 * ss * ss)) *
                                exp(-d / (2 * edge * edge));
                    ws += wt;
                    for (int c = 0; c < 3; c++)
                        for (int a = 0; a < 4; a++)
                            acc[c][a] += wt * coef[j][c][a];
                }
            for (int c = 0; c < 3; c++)
                q[c * N + i] = (acc[c][0] * I[i] + acc[c][1] * I[N + i] + acc[c][2] * I[2 * N + i] + acc[c][3]) / ws;
        }
}

static double max_rel(const float *a, const double *b, int n)
{
    double e = 0, m = 0;
    for (int i = 0; i < n; i++)
        e = fmax(e, fabs(a[i] - b[i])), m = fmax(m, fabs(b[i]));
    return e / m;
}

static double lm(const float *guide, const float *img)
{
    double v = 0, s = 0;
    stylize_error e;
    CHECK(stylize_photo_figures(guide, img, W, H, NULL, &v, &s, &e) == STYLIZE_OK);
    return v;
}

static void check_filters(void)
{
    float I[3 * N], p[3 * N], out[3 * N], inplace[3 * N];
    static double ref[3 * N];
    tu_fill(I, 3 * N, 1, 0.0f, 1.0f);
    tu_fill(p, 3 * N, 2, 0.0f, 1.0f);
    stylize_error e;
    for (int kind = STYLIZE_SMOOTH_GUIDED; kind <= STYLIZE_SMOOTH_AFFINE; kind++)
        for (int r = 1; r <= 7; r += 3) {
            stylize_smooth_params sp = {(stylize_smooth_kind)kind, r, kind == STYLIZE_SMOOTH_GUIDED ? 0.1 : 0.2};
            CHECK(stylize_smooth(&sp, I, p, out, W, H, NULL, &e) == STYLIZE_OK);
            if (kind == STYLIZE_SMOOTH_GUIDED)
                for (int c = 0; c < 3; c++)
                    guided_direct(I, p + c * N, ref + c * N, r, sp.edge * sp.edge);
            else
                affine_direct(I, p, ref, r, sp.edge);
            double err = max_rel(out, ref, 3 * N);
            CHECK_MSG(err < 2e-5, "%s r %d: %g off the direct filter", stylize_smooth_name(sp.kind), r, err);
            memcpy(inplace, p, sizeof p);
            CHECK(stylize_smooth(&sp, I, inplace, inplace, W, H, NULL, &e) == STYLIZE_OK);
            CHECK(memcmp(inplace, out, sizeof out) == 0);
            /* a noisy output pulled onto the content's edges: L_m falls */
            double before = lm(I, p), after = lm(I, out);
            CHECK_MSG(after < 0.5 * before, "%s r %d: L_m %g -> %g", stylize_smooth_name(sp.kind), r, before, after);
            /* memory: a dry plan counts what a live one holds at its peak */
            stylize_mem dry, live;
            stylize_mem_init(&dry, 1);
            stylize_mem_init(&live, 0);
            CHECK(stylize_smooth(&sp, I, p, out, W, H, &dry, &e) == STYLIZE_OK);
            CHECK(stylize_smooth(&sp, I, p, out, W, H, &live, &e) == STYLIZE_OK);
            CHECK(dry.peak == live.peak && dry.peak > 0 && live.cur == 0 && dry.cur == 0);
        }
    stylize_smooth_params bad = {STYLIZE_SMOOTH_AFFINE, 0, 0.05};
    CHECK(stylize_smooth(&bad, I, p, out, W, H, NULL, &e) == STYLIZE_ERR_ARG);
    CHECK(stylize_smooth_parse("affine") == STYLIZE_SMOOTH_AFFINE && stylize_smooth_parse("box") == -1);
}

static void check_figures(void)
{
    float I[3 * N], affine[3 * N], noise[3 * N];
    tu_fill(I, 3 * N, 5, 0.0f, 1.0f);
    tu_fill(noise, 3 * N, 6, 0.0f, 1.0f);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < N; i++)
            affine[c * N + i] = 0.1f + 0.5f * I[((c + 1) % 3) * N + i] + 0.2f * I[c * N + i];
    double v, s;
    stylize_error e;
    CHECK(stylize_photo_figures(I, I, W, H, NULL, &v, &s, &e) == STYLIZE_OK);
    CHECK_MSG(fabs(s - 1.0) < 1e-12 && v < 1e-6, "content against itself (eps keeps L_m off 0): SSIM %g, L_m %g", s, v);
    double va, sa, vn, sn;
    CHECK(stylize_photo_figures(I, affine, W, H, NULL, &va, &sa, &e) == STYLIZE_OK);
    CHECK(stylize_photo_figures(I, noise, W, H, NULL, &vn, &sn, &e) == STYLIZE_OK);
    CHECK_MSG(va < 1e-6 * vn && vn > 0.01, "L_m per pixel: affine %g, noise %g", va, vn);
    CHECK_MSG(sn < 0.5 && sn < sa, "edge SSIM: noise %g, affine %g", sn, sa);
    stylize_mem dry, live;
    stylize_mem_init(&dry, 1);
    stylize_mem_init(&live, 0);
    CHECK(stylize_photo_figures(I, noise, W, H, &dry, &v, &s, &e) == STYLIZE_OK);
    CHECK(stylize_photo_figures(I, noise, W, H, &live, &v, &s, &e) == STYLIZE_OK);
    CHECK(dry.peak == live.peak && live.cur == 0 && dry.cur == 0);
}

int main(void)
{
    check_filters();
    check_figures();
    stylize_set_threads(3); /* the row-parallel passes with more tasks than rows need */
    check_filters();
    return TEST_SUMMARY();
}

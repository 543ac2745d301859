/* The guided filter and the smooth local affine filter (stylize/post/smooth.h). */
#include <math.h>
#include <string.h>

#include "core/parallel.h"
#include "core/sym3.h"
#include "post/post_internal.h"
#include "stylize/post/smooth.h"

void stylize_smooth_defaults(stylize_smooth_params *p)
{
    p->kind = STYLIZE_SMOOTH_NONE;
    p->radius = 7;
    p->edge = 0.05;
}

int stylize_smooth_parse(const char *name)
{
    static const char *names[] = {"none", "guided", "affine"};
    for (int k = 0; k < 3; k++)
        if (strcmp(name, names[k]) == 0)
            return k;
    return -1;
}

const char *stylize_smooth_name(stylize_smooth_kind k)
{
    return k == STYLIZE_SMOOTH_GUIDED ? "guided" : k == STYLIZE_SMOOTH_AFFINE ? "affine" : "none";
}

/* ---- box means -------------------------------------------------------------- */

void post_box_mean(const double *src, double *dst, double *tmp, int w, int h, int r)
{
    for (int y = 0; y < h; y++) { /* horizontal sums, clipped windows */
        const double *s = src + (size_t)y * w;
        double *t = tmp + (size_t)y * w, acc = 0;
        for (int x = 0; x < r && x < w; x++)
            acc += s[x];
        for (int x = 0; x < w; x++) {
            if (x + r < w)
                acc += s[x + r];
            if (x - r - 1 >= 0)
                acc -= s[x - r - 1];
            t[x] = acc;
        }
    }
    for (int x = 0; x < w; x++) { /* vertical sums, then the window's size */
        double acc = 0;
        for (int y = 0; y < r && y < h; y++)
            acc += tmp[(size_t)y * w + x];
        int cx = (x + r < w ? x + r : w - 1) - (x - r > 0 ? x - r : 0) + 1;
        for (int y = 0; y < h; y++) {
            if (y + r < h)
                acc += tmp[(size_t)(y + r) * w + x];
            if (y - r - 1 >= 0)
                acc -= tmp[(size_t)(y - r - 1) * w + x];
            int cy = (y + r < h ? y + r : h - 1) - (y - r > 0 ? y - r : 0) + 1;
            dst[(size_t)y * w + x] = acc / ((double)cx * cy);
        }
    }
}

/* ---- guided filter ---------------------------------------------------------- */

/* Maps of n doubles each: the guide's means (3) and second moments (6), then
 * per channel p's mean, the means of I_c p (3), a (3) and b, and a scratch. */
enum { G_MU = 0, G_II = 3, G_P = 9, G_IP = 10, G_A = 13, G_B = 16, G_TMP = 17, G_MAPS = 18 };

static void guided_channel(double *maps, const float *guide, const float *p, float *out, int w, int h,
                           int r, double eps)
{
    size_t n = (size_t)w * h;
    double *m[G_MAPS];
    for (int k = 0; k < G_MAPS; k++)
        m[k] = maps + (size_t)k * n;
    for (size_t i = 0; i < n; i++) {
        m[G_TMP][i] = p[i];
        for (int c = 0; c < 3; c++)
            m[G_A + c][i] = (double)guide[c * n + i] * p[i];
    }
    post_box_mean(m[G_TMP], m[G_P], m[G_B], w, h, r);
    for (int c = 0; c < 3; c++)
        post_box_mean(m[G_A + c], m[G_IP + c], m[G_B], w, h, r);
    for (size_t i = 0; i < n; i++) {
        const double mu[3] = {m[G_MU][i], m[G_MU + 1][i], m[G_MU + 2][i]};
        double s[6], a[6], cv[3];
        static const int pr[6][2] = {{0, 0}, {0, 1}, {0, 2}, {1, 1}, {1, 2}, {2, 2}};
        for (int k = 0; k < 6; k++)
            s[k] = m[G_II + k][i] - mu[pr[k][0]] * mu[pr[k][1]] + (pr[k][0] == pr[k][1] ? eps : 0.0);
        for (int c = 0; c < 3; c++)
            cv[c] = m[G_IP + c][i] - mu[c] * m[G_P][i];
        sym3_inverse(s, a);
        double a0 = a[0] * cv[0] + a[1] * cv[1] + a[2] * cv[2];
        double a1 = a[1] * cv[0] + a[3] * cv[1] + a[4] * cv[2];
        double a2 = a[2] * cv[0] + a[4] * cv[1] + a[5] * cv[2];
        m[G_A][i] = a0, m[G_A + 1][i] = a1, m[G_A + 2][i] = a2;
        m[G_TMP][i] = m[G_P][i] - (a0 * mu[0] + a1 * mu[1] + a2 * mu[2]);
    }
    post_box_mean(m[G_TMP], m[G_B], m[G_P], w, h, r); /* m[G_P] is free now */
    for (int c = 0; c < 3; c++) {
        post_box_mean(m[G_A + c], m[G_TMP], m[G_P], w, h, r);
        memcpy(m[G_A + c], m[G_TMP], n * sizeof(double));
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (float)(m[G_A][i] * guide[i] + m[G_A + 1][i] * guide[n + i] + m[G_A + 2][i] * guide[2 * n + i] +
                         m[G_B][i]);
}

static void guided(double *maps, const float *guide, const float *img, float *out, int w, int h, int r,
                   double eps)
{
    size_t n = (size_t)w * h;
    static const int pr[6][2] = {{0, 0}, {0, 1}, {0, 2}, {1, 1}, {1, 2}, {2, 2}};
    double *tmp = maps + (size_t)G_TMP * n, *src = maps + (size_t)G_A * n;
    for (int c = 0; c < 3; c++) {
        for (size_t i = 0; i < n; i++)
            src[i] = guide[c * n + i];
        post_box_mean(src, maps + (size_t)(G_MU + c) * n, tmp, w, h, r);
    }
    for (int k = 0; k < 6; k++) {
        for (size_t i = 0; i < n; i++)
            src[i] = (double)guide[pr[k][0] * n + i] * guide[pr[k][1] * n + i];
        post_box_mean(src, maps + (size_t)(G_II + k) * n, tmp, w, h, r);
    }
    for (int c = 0; c < 3; c++) /* out may be img: each channel reads only its own input */
        guided_channel(maps, guide, img + c * n, out + c * n, w, h, r, eps);
}

/* ---- smooth local affine ---------------------------------------------------- */

/* Solves the 4x4 symmetric positive definite system m x = b (Cholesky). */
static void spd4_solve(double m[4][4], const double b[4], double x[4])
{
    double l[4][4] = {{0}}, y[4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j <= i; j++) {
            double s = m[i][j];
            for (int k = 0; k < j; k++)
                s -= l[i][k] * l[j][k];
            l[i][j] = i == j ? sqrt(s > 1e-300 ? s : 1e-300) : s / l[j][j];
        }
    for (int i = 0; i < 4; i++) {
        double s = b[i];
        for (int k = 0; k < i; k++)
            s -= l[i][k] * y[k];
        y[i] = s / l[i][i];
    }
    for (int i = 3; i >= 0; i--) {
        double s = y[i];
        for (int k = i + 1; k < 4; k++)
            s -= l[k][i] * x[k];
        x[i] = s / l[i][i];
    }
}

typedef struct {
    const float *guide, *img;
    float *coef, *filtered, *out; /* coef, filtered: (h w, 12) */
    int w, h, r;
    double sigma_s, sigma_r;
    const double *spatial; /* (2r + 1)^2 */
    int ntasks;
} affine_ctx;

/* Row y's per-pixel affine fits over their 3x3 patches. */
static void affine_fit_row(void *user, int y)
{
    affine_ctx *c = user;
    int w = c->w, h = c->h;
    size_t n = (size_t)w * h;
    for (int x = 0; x < w; x++) {
        double mm[4][4] = {{0}}, ms[3][4] = {{0}};
        for (int k = 0; k < 3; k++)
            mm[k][k] = STYLIZE_AFFINE_RIDGE;
        for (int yy = y - 1; yy <= y + 1; yy++)
            for (int xx = x - 1; xx <= x + 1; xx++) {
                if (yy < 0 || yy >= h || xx < 0 || xx >= w)
                    continue;
                size_t q = (size_t)yy * w + xx;
                double f[4] = {c->guide[q], c->guide[n + q], c->guide[2 * n + q], 1.0};
                for (int i = 0; i < 4; i++) {
                    for (int j = 0; j < 4; j++)
                        mm[i][j] += f[i] * f[j];
                    for (int ch = 0; ch < 3; ch++)
                        ms[ch][i] += f[i] * c->img[ch * n + q];
                }
            }
        float *co = c->coef + ((size_t)y * w + x) * 12;
        for (int ch = 0; ch < 3; ch++) {
            double m2[4][4], sol[4];
            memcpy(m2, mm, sizeof m2);
            spd4_solve(m2, ms[ch], sol);
            for (int i = 0; i < 4; i++)
                co[ch * 4 + i] = (float)sol[i];
        }
    }
}

/* Row y's coefficients, joint-bilateral filtered, applied to the guide. */
static void affine_filter_row(void *user, int y)
{
    affine_ctx *c = user;
    int w = c->w, h = c->h, r = c->r;
    size_t n = (size_t)w * h;
    double inv2r = 1.0 / (2.0 * c->sigma_r * c->sigma_r);
    for (int x = 0; x < w; x++) {
        size_t p = (size_t)y * w + x;
        double acc[12] = {0}, wsum = 0;
        for (int yy = y - r; yy <= y + r; yy++)
            for (int xx = x - r; xx <= x + r; xx++) {
                if (yy < 0 || yy >= h || xx < 0 || xx >= w)
                    continue;
                size_t q = (size_t)yy * w + xx;
                double d0 = c->guide[q] - c->guide[p], d1 = c->guide[n + q] - c->guide[n + p];
                double d2 = c->guide[2 * n + q] - c->guide[2 * n + p];
                double wt = c->spatial[(yy - y + r) * (2 * r + 1) + (xx - x + r)] *
                            exp(-(d0 * d0 + d1 * d1 + d2 * d2) / 3.0 * inv2r);
                const float *co = c->coef + q * 12;
                for (int k = 0; k < 12; k++)
                    acc[k] += wt * co[k];
                wsum += wt;
            }
        double f[4] = {c->guide[p], c->guide[n + p], c->guide[2 * n + p], 1.0};
        for (int ch = 0; ch < 3; ch++) {
            double v = 0;
            for (int i = 0; i < 4; i++)
                v += acc[ch * 4 + i] / wsum * f[i];
            c->out[ch * n + p] = (float)v;
        }
    }
}

static void affine_task(void *user, int task)
{
    affine_ctx *c = user;
    for (int y = task; y < c->h; y += c->ntasks)
        (c->filtered ? affine_filter_row : affine_fit_row)(user, y);
}

/* coef (h w 12 floats) and spatial ((2r + 1)^2 doubles) are the caller's. */
static void smooth_affine(float *coef, double *spatial, const float *guide, const float *img, float *out, int w,
                          int h, int r, double edge)
{
    affine_ctx c = {guide, img, coef, NULL, out, w, h, r, r / 3.0 > 0 ? r / 3.0 : 1.0, edge, spatial,
                    stylize_parallel_threads()};
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++)
            spatial[(dy + r) * (2 * r + 1) + dx + r] = exp(-(dx * dx + dy * dy) / (2.0 * c.sigma_s * c.sigma_s));
    stylize_parallel_run(c.ntasks, affine_task, &c); /* every coefficient first: the filter reads neighbours' */
    c.filtered = coef;                                /* marks the second pass */
    stylize_parallel_run(c.ntasks, affine_task, &c);
}

/* ---- dispatch ---------------------------------------------------------------- */

size_t post_smooth_bytes(const stylize_smooth_params *p, int w, int h)
{
    size_t n = (size_t)w * h;
    if (p->kind == STYLIZE_SMOOTH_GUIDED)
        return stylize_mem_mul(n, G_MAPS, sizeof(double));
    if (p->kind == STYLIZE_SMOOTH_AFFINE) /* coefficients; a copy of img when out is img */
        return stylize_mem_align(stylize_mem_mul(n, 12, sizeof(float))) +
               stylize_mem_align(stylize_mem_mul(n, 3, sizeof(float))) +
               (size_t)(2 * p->radius + 1) * (2 * p->radius + 1) * sizeof(double);
    return 0;
}

stylize_status stylize_smooth(const stylize_smooth_params *p, const float *guide, const float *img, float *out,
                              int w, int h, stylize_mem *mem, stylize_error *err)
{
    size_t n = (size_t)w * h;
    if (p->kind == STYLIZE_SMOOTH_NONE) {
        if (out != img && !stylize_mem_is_dry(mem))
            memmove(out, img, 3 * n * sizeof(float));
        return STYLIZE_OK;
    }
    if (p->radius < 1 || p->radius > 64 || !(p->edge > 0) || !isfinite(p->edge))
        return stylize_error_set(err, STYLIZE_ERR_ARG, "smoothing radius %d (1..64) or edge %g (> 0)", p->radius,
                                 p->edge);
    size_t bytes = post_smooth_bytes(p, w, h);
    unsigned char *block = NULL;
    stylize_status st = stylize_mem_alloc(mem, (void **)&block, bytes, "the smoothing filter", err);
    if (st != STYLIZE_OK)
        return st;
    if (!block) { /* a dry plan: counted, and given back as the live run does */
        stylize_mem_free(mem, NULL, bytes);
        return STYLIZE_OK;
    }
    if (p->kind == STYLIZE_SMOOTH_GUIDED) {
        guided((double *)block, guide, img, out, w, h, p->radius, p->edge * p->edge);
    } else {
        float *coef = (float *)block;
        float *copy = (float *)(block + stylize_mem_align(n * 12 * sizeof(float)));
        double *spatial = (double *)((unsigned char *)copy + stylize_mem_align(n * 3 * sizeof(float)));
        memcpy(copy, img, 3 * n * sizeof(float));
        smooth_affine(coef, spatial, guide, copy, out, w, h, p->radius, p->edge);
    }
    stylize_mem_free(mem, block, bytes);
    return STYLIZE_OK;
}

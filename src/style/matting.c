/* The matrix-free Matting Laplacian (stylize/style/matting.h). */
#include <stdlib.h>
#include <string.h>

#include "core/sym3.h"
#include "stylize/style/matting.h"

struct stylize_matting {
    int w, h;
    double eps;
    stylize_mem *mem;
    double *win;    /* ((h - 2) (w - 2), 9): mu (3), A (6: xx xy xz yy yz zz) per window */
    double *img;    /* (3, h w) the colours */
    double *count;  /* (h w) windows containing each pixel */
    double *maps;   /* (8, h w): v, I_c v (3); per-window b, c (4), box-summed */
    double *vbuf;   /* (2, h w): a channel as double, its product */
    size_t bytes;
};

size_t stylize_matting_bytes(int w, int h)
{
    size_t n = (size_t)w * (size_t)h, nw = (size_t)(w - 2) * (size_t)(h - 2);
    return (nw * 9 + n * (3 + 1 + 8 + 2)) * sizeof(double);
}

/* mu and A of the window centred at (x, y). */
static void window_stats(const stylize_matting *m, int x, int y, double eps, double *out)
{
    size_t n = (size_t)m->w * m->h;
    double mu[3] = {0, 0, 0}, s[6] = {0, 0, 0, 0, 0, 0};
    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
            size_t p = (size_t)(y + dy) * m->w + (x + dx);
            for (int c = 0; c < 3; c++)
                mu[c] += m->img[c * n + p] / 9.0;
        }
    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
            size_t p = (size_t)(y + dy) * m->w + (x + dx);
            double d[3] = {m->img[p] - mu[0], m->img[n + p] - mu[1], m->img[2 * n + p] - mu[2]};
            s[0] += d[0] * d[0], s[1] += d[0] * d[1], s[2] += d[0] * d[2];
            s[3] += d[1] * d[1], s[4] += d[1] * d[2], s[5] += d[2] * d[2];
        }
    for (int k = 0; k < 6; k++)
        s[k] /= 9.0;
    s[0] += eps / 9.0, s[3] += eps / 9.0, s[5] += eps / 9.0;
    memcpy(out, mu, sizeof mu);
    sym3_inverse(s, out + 3);
}

stylize_status stylize_matting_create(stylize_matting **out, int w, int h, double eps, stylize_mem *mem,
                                      stylize_error *err)
{
    *out = NULL;
    if (w < 3 || h < 3 || !(eps > 0))
        return stylize_error_set(err, STYLIZE_ERR_ARG, "matting: %dx%d image or eps %g (needs 3x3 and eps > 0)", w, h, eps);
    stylize_matting *m = calloc(1, sizeof *m);
    if (!m)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory for the Matting Laplacian");
    m->w = w, m->h = h, m->eps = eps, m->mem = mem, m->bytes = stylize_matting_bytes(w, h);
    double *block;
    stylize_status st = stylize_mem_alloc(mem, (void **)&block, m->bytes, "the Matting Laplacian's windows", err);
    if (st != STYLIZE_OK) {
        free(m);
        return st;
    }
    *out = m;
    if (!block)
        return STYLIZE_OK; /* a dry plan */
    size_t n = (size_t)w * h, nw = (size_t)(w - 2) * (h - 2);
    m->win = block, m->img = block + nw * 9, m->count = m->img + 3 * n, m->maps = m->count + n;
    m->vbuf = m->maps + 8 * n;
    return STYLIZE_OK;
}

void stylize_matting_set_image(stylize_matting *m, const float *x, const double *a, const double *b)
{
    if (!m->win)
        return; /* a dry plan */
    int w = m->w, h = m->h;
    size_t n = (size_t)w * h;
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < n; i++)
            m->img[c * n + i] = (a ? a[c] : 1.0) * x[c * n + i] + (b ? b[c] : 0.0);
    memset(m->count, 0, n * sizeof(double));
    for (int y = 1; y < h - 1; y++)
        for (int xx = 1; xx < w - 1; xx++) {
            window_stats(m, xx, y, m->eps, m->win + ((size_t)(y - 1) * (w - 2) + (xx - 1)) * 9);
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++)
                    m->count[(size_t)(y + dy) * w + xx + dx] += 1.0;
        }
}

void stylize_matting_free(stylize_matting *m)
{
    if (!m)
        return;
    if (m->win || stylize_mem_is_dry(m->mem))
        stylize_mem_free(m->mem, m->win, m->bytes);
    free(m);
}

/* Sum of the 3x3 neighbourhood of (x, y) in map q (w wide), inside the image. */
static double box3(const double *q, int w, int h, int x, int y)
{
    double s = 0;
    for (int yy = y - 1; yy <= y + 1; yy++)
        for (int xx = x - 1; xx <= x + 1; xx++)
            if (yy >= 0 && yy < h && xx >= 0 && xx < w)
                s += q[(size_t)yy * w + xx];
    return s;
}

/* Per window (at its centre in maps 4..7): b = (s - mu.a) / 9, c = a / 9. */
static void window_terms(stylize_matting *m)
{
    int w = m->w, h = m->h;
    size_t n = (size_t)w * h;
    double *q = m->maps, *b = m->maps + 4 * n;
    memset(b, 0, 4 * n * sizeof(double));
    for (int y = 1; y < h - 1; y++)
        for (int x = 1; x < w - 1; x++) {
            const double *k = m->win + ((size_t)(y - 1) * (w - 2) + (x - 1)) * 9, *A = k + 3;
            double s = box3(q, w, h, x, y), t[3];
            for (int c = 0; c < 3; c++)
                t[c] = box3(q + (size_t)(c + 1) * n, w, h, x, y) - k[c] * s;
            double a0 = A[0] * t[0] + A[1] * t[1] + A[2] * t[2];
            double a1 = A[1] * t[0] + A[3] * t[1] + A[4] * t[2];
            double a2 = A[2] * t[0] + A[4] * t[1] + A[5] * t[2];
            size_t p = (size_t)y * w + x;
            b[p] = (s - (k[0] * a0 + k[1] * a1 + k[2] * a2)) / 9.0;
            b[n + p] = a0 / 9.0, b[2 * n + p] = a1 / 9.0, b[3 * n + p] = a2 / 9.0;
        }
}

void stylize_matting_apply(stylize_matting *m, const double *v, double *out)
{
    int w = m->w, h = m->h;
    size_t n = (size_t)w * h;
    double *q = m->maps;
    for (size_t i = 0; i < n; i++) {
        q[i] = v[i];
        for (int c = 0; c < 3; c++)
            q[(size_t)(c + 1) * n + i] = m->img[c * n + i] * v[i];
    }
    window_terms(m);
    const double *b = m->maps + 4 * n;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t p = (size_t)y * w + x;
            double r = m->count[p] * v[p] - box3(b, w, h, x, y);
            for (int c = 0; c < 3; c++)
                r -= m->img[c * n + p] * box3(b + (size_t)(c + 1) * n, w, h, x, y);
            out[p] = r;
        }
}

double stylize_matting_loss(stylize_matting *m, const float *x, const double *a, float *grad, double scale)
{
    size_t n = (size_t)m->w * m->h;
    double *v = m->vbuf, *mv = m->vbuf + n, total = 0;
    for (int c = 0; c < 3; c++) {
        double ac = a ? a[c] : 1.0;
        for (size_t i = 0; i < n; i++)
            v[i] = ac * x[c * n + i];
        stylize_matting_apply(m, v, mv);
        for (size_t i = 0; i < n; i++) {
            total += v[i] * mv[i];
            if (grad)
                grad[c * n + i] += (float)(2.0 * scale * ac * mv[i]);
        }
    }
    return total;
}

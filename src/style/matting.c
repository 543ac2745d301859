/* The matrix-free Matting Laplacian (stylize/style/matting.h). */
#include <stdlib.h>
#include <string.h>

#include "core/parallel.h"
#include "core/sym3.h"
#include "stylize/style/matting.h"

struct stylize_matting {
    int w, h;
    double eps;
    stylize_mem *mem;
    double *win;    /* ((h - 2) (w - 2), 9): mu (3), A (6: xx xy xz yy yz zz) per window */
    double *img;    /* (3, h w) the colours */
    double *count;  /* (h w) windows containing each pixel */
    double *maps;   /* (8, h w): q = (v, I_c v) or per-window b (4), their horizontal 3-sums (4) */
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

/* M v in three row-parallel passes over maps (8, h w): q = (v, I_c v) and
 * their horizontal 3-sums hq; then per window b = ((s - mu.a), a) / 9 from
 * the vertical sums (b zero off the windows' centres), written over q;
 * then b's horizontal 3-sums over hq and the product from their vertical
 * sums. Every box sum is separable and branch-free inside the image. */
typedef struct {
    stylize_matting *m;
    const double *v;
    double *out;
    int pass, ntasks;
} apply_ctx;

/* dst row y = 3-sums along the row of src row y (missing neighbours: 0). */
static void hsum_row(const double *src, double *dst, int w)
{
    dst[0] = src[0] + (w > 1 ? src[1] : 0);
    for (int x = 1; x < w - 1; x++)
        dst[x] = src[x - 1] + src[x] + src[x + 1];
    if (w > 1)
        dst[w - 1] = src[w - 2] + src[w - 1];
}

static void pass_q(apply_ctx *c, int y)
{
    stylize_matting *m = c->m;
    int w = m->w;
    size_t n = (size_t)w * m->h, o = (size_t)y * w;
    double *q = m->maps, *hq = m->maps + 4 * n;
    for (int x = 0; x < w; x++) {
        double v = c->v[o + x];
        q[o + x] = v;
        for (int k = 0; k < 3; k++)
            q[(size_t)(k + 1) * n + o + x] = m->img[k * n + o + x] * v;
    }
    for (int k = 0; k < 4; k++)
        hsum_row(q + k * n + o, hq + k * n + o, w);
}

static void pass_windows(apply_ctx *c, int y)
{
    stylize_matting *m = c->m;
    int w = m->w, h = m->h;
    size_t n = (size_t)w * h, o = (size_t)y * w;
    double *b = m->maps;
    const double *hq = m->maps + 4 * n;
    for (int k = 0; k < 4; k++)
        memset(b + k * n + o, 0, (size_t)w * sizeof(double));
    if (y == 0 || y == h - 1)
        return;
    for (int x = 1; x < w - 1; x++) {
        const double *kw = m->win + ((size_t)(y - 1) * (w - 2) + (x - 1)) * 9, *A = kw + 3;
        double sm[4];
        for (int k = 0; k < 4; k++) {
            const double *r = hq + k * n + o + x;
            sm[k] = r[-w] + r[0] + r[w];
        }
        double t0 = sm[1] - kw[0] * sm[0], t1 = sm[2] - kw[1] * sm[0], t2 = sm[3] - kw[2] * sm[0];
        double a0 = A[0] * t0 + A[1] * t1 + A[2] * t2;
        double a1 = A[1] * t0 + A[3] * t1 + A[4] * t2;
        double a2 = A[2] * t0 + A[4] * t1 + A[5] * t2;
        b[o + x] = (sm[0] - (kw[0] * a0 + kw[1] * a1 + kw[2] * a2)) / 9.0;
        b[n + o + x] = a0 / 9.0, b[2 * n + o + x] = a1 / 9.0, b[3 * n + o + x] = a2 / 9.0;
    }
}

static void pass_hb(apply_ctx *c, int y)
{
    stylize_matting *m = c->m;
    size_t n = (size_t)m->w * m->h, o = (size_t)y * m->w;
    for (int k = 0; k < 4; k++)
        hsum_row(m->maps + k * n + o, m->maps + (4 + k) * n + o, m->w);
}

static void pass_out(apply_ctx *c, int y)
{
    stylize_matting *m = c->m;
    int w = m->w, h = m->h;
    size_t n = (size_t)w * h, o = (size_t)y * w;
    const double *hb = m->maps + 4 * n;
    for (int x = 0; x < w; x++) {
        double sm[4];
        for (int k = 0; k < 4; k++) {
            const double *r = hb + k * n + o + x;
            sm[k] = r[0] + (y > 0 ? r[-w] : 0) + (y < h - 1 ? r[w] : 0);
        }
        size_t p = o + x;
        c->out[p] = m->count[p] * c->v[p] - sm[0] - m->img[p] * sm[1] - m->img[n + p] * sm[2] -
                    m->img[2 * n + p] * sm[3];
    }
}

static void apply_task(void *user, int task)
{
    apply_ctx *c = user;
    int nt = c->ntasks, h = c->m->h;
    int y0 = (int)((long)h * task / nt), y1 = (int)((long)h * (task + 1) / nt);
    static void (*const passes[4])(apply_ctx *, int) = {pass_q, pass_windows, pass_hb, pass_out};
    for (int y = y0; y < y1; y++)
        passes[c->pass](c, y);
}

void stylize_matting_apply(stylize_matting *m, const double *v, double *out)
{
    apply_ctx c = {m, v, out, 0, stylize_parallel_threads()};
    for (c.pass = 0; c.pass < 4; c.pass++) /* each pass reads the previous one's neighbouring rows */
        stylize_parallel_run(c.ntasks, apply_task, &c);
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

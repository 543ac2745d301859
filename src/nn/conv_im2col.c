/* The im2col convolution paths (stylize/nn/conv.h).
 *
 * 3x3, stride 1, zero padding (the reference path of the VGG network): the
 * im2col matrix of a band of output rows times the (cout, cin * 9) kernel,
 * tiled over output rows so the matrix stays within
 * STYLIZE_CONV_WORKSPACE_MAX_FLOATS. The input gradient is the same
 * operation with the flipped, channel-swapped kernel, no bias.
 *
 * General path, any odd kernel side k, stride s and padding mode: the
 * forward is the same banded im2col + sgemm, with rows (ci * k + ky) * k + kx
 * of the matrix holding in[ci][y s + ky - p][x s + kx - p] (p = k / 2), the
 * indices outside the image mapped by the padding mode. The input gradient
 * is dcol = W^T gout_band followed by col2im, the adjoint of im2col, which
 * adds each column entry into the pixel it was read from. Bands of output
 * rows read overlapping input rows, so the input gradient splits its work
 * by input channel instead (each task owns its channels' rows of dcol and
 * its channels of gin: writes never overlap). The weight gradient
 * gw += gout_band col_band^T splits by (ci, ky) units, the k rows of the
 * matrix a unit owns and the k columns of gw they produce.
 *
 * Threads: forward tasks own contiguous shares of the band's output rows
 * (columns of the matrix) and take runs of rows from a shared counter;
 * gradient tasks own shares of channels or units and walk every band. All
 * run on the library's pool with OpenBLAS single-threaded inside the tasks
 * (stylize_conv_run_blas_tasks). */
#include "nn/conv_internal.h"

#include "stylize/nn/gemm_bf16.h"

#include <cblas.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t stylize_conv_band_rows(size_t per_row, int rows)
{
    size_t n = STYLIZE_CONV_WORKSPACE_MAX_FLOATS / per_row;
    if (n < 1)
        n = 1;
    if (n > (size_t)rows)
        n = (size_t)rows;
    return n;
}

/* ---- OpenBLAS's buffers ------------------------------------------------
 * Debian's OpenBLAS 0.3.21 (its Haswell/Zen kernels, seen on an AMD EPYC
 * Zen 1) runs every sgemm of a thread at a third of its rate, whatever the
 * shape, until that thread has once run one whose N (row-major; OpenBLAS's
 * m) exceeds about 336 and whose other sides are not tiny: 512 x 256 x 512
 * at 9.8 GFLOP/s before such a call, 36 after it, in one process; it
 * depends only on the calls made before (our operands' addresses change
 * nothing), as if the kernel's prefetches into the untouched part of the
 * thread's packing buffer cost a page walk each. The Winograd sgemms (N =
 * a block's tiles, often 48-256) would never leave the slow state. So each
 * pool thread runs one such sgemm (512 x 768 x 64, 50 MFLOP) once, when
 * the first convolution of a pool is created (stylize_set_threads with
 * another count starts a new pool, new threads: warmed again). */
enum { WARM_M = 512, WARM_N = 768, WARM_K = 64 };

typedef struct {
    const float *a, *b; /* (WARM_M, WARM_K), (WARM_K, WARM_N): zeros */
    float *c;           /* per thread: (WARM_M, WARM_N), n of them */
    int n;
} warm_job;

static void warm_task(void *ctx, int t)
{
    const warm_job *j = ctx;
    if (t >= j->n)
        return; /* the pool grew since it was counted: warmed at the next creation */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, WARM_M, WARM_N, WARM_K, 1.0f, j->a, WARM_K, j->b,
                WARM_N, 0.0f, j->c + (size_t)t * WARM_M * WARM_N, WARM_N);
}

/* The pool epoch whose threads' OpenBLAS buffers are warm, plus one (0:
 * none yet; epochs start at 0 before the first pool). */
static atomic_uint warmed_epoch;

int stylize_conv_testing_blas_warmed(void)
{
    return atomic_load(&warmed_epoch) == stylize_parallel_epoch() + 1;
}

void stylize_conv_blas_warm(void)
{
    unsigned e = stylize_parallel_epoch();
    if (atomic_load(&warmed_epoch) == e + 1)
        return;
    int n = stylize_parallel_threads();
    size_t floats = (size_t)WARM_M * WARM_K + (size_t)WARM_K * WARM_N + (size_t)n * WARM_M * WARM_N;
    float *buf = calloc(floats, sizeof(float));
    if (!buf)
        return; /* only speed is lost */
    warm_job j = {buf, buf + (size_t)WARM_M * WARM_K, buf + (size_t)WARM_M * WARM_K + (size_t)WARM_K * WARM_N, n};
    int saved = openblas_get_num_threads();
    if (saved != 1)
        openblas_set_num_threads(1);
    int ran = stylize_parallel_each(warm_task, &j);
    if (saved != 1)
        openblas_set_num_threads(saved);
    free(buf);
    if (ran >= n && stylize_parallel_epoch() == e)
        atomic_store(&warmed_epoch, e + 1);
}

void stylize_conv_run_blas_tasks(int ntasks, stylize_task_fn fn, void *ctx)
{
    if (ntasks <= 1) {
        fn(ctx, 0);
        return;
    }
    int saved = openblas_get_num_threads();
    if (saved != 1)
        openblas_set_num_threads(1);
    stylize_parallel_run(ntasks, fn, ctx);
    if (saved != 1)
        openblas_set_num_threads(saved);
}

/* ---- 3x3, stride 1, zero padding ---------------------------------------- */

/* Writes the im2col columns of output rows [y, y + rows) of in (cin, h, w)
 * into col, whose rows are ld floats apart: row (ci * 3 + ky) * 3 + kx,
 * column (yy - y) * w + x holds in[ci][yy + ky - 1][x + kx - 1], zero
 * outside. */
static void im2col_rows(float *col, size_t ld, const float *in, int cin, int h, int w, int y,
                        int rows)
{
    size_t wn = (size_t)w, plane = (size_t)h * wn;
    for (int ci = 0; ci < cin; ci++) {
        const float *src_c = in + (size_t)ci * plane; /* (h, w) */
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                /* x + kx - 1 is in range for x in [x_lo, x_hi) */
                int x_lo = kx == 0 ? 1 : 0;
                int x_hi = kx == 2 ? w - 1 : w;
                for (int r = 0; r < rows; r++) {
                    float *dst = col + (size_t)r * wn; /* (w) */
                    int sy = y + r + ky - 1;
                    if (sy < 0 || sy >= h || x_hi <= x_lo) {
                        memset(dst, 0, wn * sizeof(float));
                        continue;
                    }
                    const float *src = src_c + (size_t)sy * wn + (size_t)(x_lo + kx - 1);
                    if (x_lo > 0)
                        dst[0] = 0.0f;
                    memcpy(dst + x_lo, src, (size_t)(x_hi - x_lo) * sizeof(float));
                    if (x_hi < w)
                        dst[w - 1] = 0.0f;
                }
                col += ld;
            }
    }
}

typedef struct {
    float *ws;                      /* im2col matrix (cin * 9, band * w) */
    float *out;                     /* (cout, h, w) */
    const float *in, *weight, *bias;
    int cin, cout, h, w, band, ntasks;
    atomic_int next; /* first output row not yet taken by a task */
} im2col_job;

/* Task t owns rows [r0, r0 + cap) of the workspace band (its columns of
 * the im2col matrix), a 1/ntasks share. It takes runs of up to cap output
 * rows from the shared counter and walks each through its columns: im2col,
 * bias, sgemm. */
static void im2col_task(void *vctx, int t)
{
    im2col_job *j = vctx;
    /* equal shares: every run of rows has one length and position whichever
     * task takes it, so results do not depend on the threads' timing */
    int cap = j->band / j->ntasks, r0 = cap * t; /* rows per step */
    size_t wn = (size_t)j->w, plane = (size_t)j->h * wn, ld = (size_t)j->band * wn;
    float *col = j->ws + (size_t)r0 * wn;
    int k = j->cin * 9;
    for (;;) {
        int y = atomic_fetch_add_explicit(&j->next, cap, memory_order_relaxed);
        if (y >= j->h)
            break;
        int rows = j->h - y < cap ? j->h - y : cap;
        int cols = rows * j->w; /* <= band * w, which fits an int */
        float *dst = j->out + (size_t)y * wn;
        im2col_rows(col, ld, j->in, j->cin, j->h, j->w, y, rows);
        if (j->bias)
            for (int co = 0; co < j->cout; co++) {
                float *o = dst + (size_t)co * plane;
                float b = j->bias[co];
                for (int i = 0; i < cols; i++)
                    o[i] = b;
            }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->cout, cols, k, 1.0f, j->weight,
                    k, col, (int)ld, j->bias ? 1.0f : 0.0f, dst, (int)plane);
    }
}

/* out (cout, h, w) = conv(in (cin, h, w)) with weight (cout, cin, 3, 3) and
 * bias (cout) or NULL, through ws (a band of stylize_conv_band_rows(cin * 9 * w,
 * h) output rows). The sgemm output leading dimension is h * w, which must
 * fit an int. */
void stylize_conv_im2col3x3(float *out, const float *in, const float *weight, const float *bias,
                            int cin, int cout, int h, int w, float *ws)
{
    if (h <= 0 || w <= 0)
        return;
    int band = (int)stylize_conv_band_rows((size_t)cin * 9 * (size_t)w, h);
    int nthr = stylize_parallel_threads();
    im2col_job j = {ws, out, in, weight, bias, cin, cout, h, w, band, band < nthr ? band : nthr,
                    0};
    atomic_init(&j.next, 0);
    stylize_conv_run_blas_tasks(j.ntasks, im2col_task, &j);
}


/* ---- general path: any kernel side, stride and padding mode -------------- */

/* The sizes of one general-path call. */
typedef struct {
    int cin, cout, k, s, p; /* channels, kernel side, stride, padding (k / 2) */
    stylize_pad_mode mode;
    int h, w, oh, ow; /* input and output sides */
    int band;         /* output rows per band of the im2col matrix */
    size_t ld;        /* floats between rows of the im2col matrix: band * ow */
} gen_shape;

/* The shape of g at input h x w; 0 when the call must not run (an empty
 * image, or padding wider than reflect or circular allow: it would read
 * outside the image). */
static int gen_shape_of(gen_shape *s, const stylize_conv_geom *g, int h, int w)
{
    int p = g->k / 2;
    if (h <= 0 || w <= 0)
        return 0;
    if (g->pad == STYLIZE_PAD_REFLECT && (h <= p || w <= p))
        return 0;
    if (g->pad == STYLIZE_PAD_CIRCULAR && (h < p || w < p))
        return 0;
    s->cin = g->cin;
    s->cout = g->cout;
    s->k = g->k;
    s->s = g->stride;
    s->p = p;
    s->mode = g->pad;
    s->h = h;
    s->w = w;
    s->oh = stylize_conv_out_side(h, g->k, g->stride);
    s->ow = stylize_conv_out_side(w, g->k, g->stride);
    size_t per_row = (size_t)g->cin * (size_t)g->k * (size_t)g->k * (size_t)s->ow;
    s->band = (int)stylize_conv_band_rows(per_row, s->oh);
    s->ld = (size_t)s->band * (size_t)s->ow;
    return 1;
}

size_t stylize_conv_general_floats(const stylize_conv_geom *g, int h, int w)
{
    gen_shape s;
    if (!gen_shape_of(&s, g, h, w))
        return 0;
    if (stylize_conv_is_pointwise(g))
        return 0; /* straight sgemm on the tensors */
    if (stylize_conv_is_thin(g))
        return stylize_conv_thin_floats(g, h, w, 0, 1); /* all three directions direct, float32 */
    return (size_t)s.cin * (size_t)s.k * (size_t)s.k * s.ld;
}

/* Output columns x in [*lo, *hi) read source column x s + kx - p inside
 * [0, w); those outside read the padding. */
static void gen_x_range(const gen_shape *s, int kx, int *lo, int *hi)
{
    int off = kx - s->p, last = s->w - 1 - off; /* x s + off in [0, w): x s in [-off, last] */
    int l = off >= 0 ? 0 : (-off + s->s - 1) / s->s;
    int e = last < 0 ? 0 : last / s->s + 1;
    if (l > s->ow)
        l = s->ow;
    if (e > s->ow)
        e = s->ow;
    *lo = l;
    *hi = e > l ? e : l;
}

/* dst (ow) = the kernel column kx's samples of the source row src (w):
 * dst[x] = src[pad(x s + kx - p)], zero where zero padding reads; src NULL:
 * a row of zero padding. */
static void gen_gather_row(float *dst, const float *src, const gen_shape *s, int kx)
{
    if (!src) {
        memset(dst, 0, (size_t)s->ow * sizeof(float));
        return;
    }
    int lo, hi, off = kx - s->p, st = s->s;
    gen_x_range(s, kx, &lo, &hi);
    for (int x = 0; x < lo; x++) {
        int j = stylize_conv_pad_index(x * st + off, s->w, s->mode);
        dst[x] = j < 0 ? 0.0f : src[j];
    }
    if (st == 1 && hi > lo)
        memcpy(dst + lo, src + lo + off, (size_t)(hi - lo) * sizeof(float));
    else if (st != 1)
        for (int x = lo; x < hi; x++)
            dst[x] = src[x * st + off];
    for (int x = hi; x < s->ow; x++) {
        int j = stylize_conv_pad_index(x * st + off, s->w, s->mode);
        dst[x] = j < 0 ? 0.0f : src[j];
    }
}

/* The adjoint of gen_gather_row: dst[pad(x s + kx - p)] += src[x] for the
 * row dst (w) and the samples src (ow); samples of zero padding are dropped. */
static void gen_scatter_row(float *dst, const float *src, const gen_shape *s, int kx)
{
    int lo, hi, off = kx - s->p, st = s->s;
    gen_x_range(s, kx, &lo, &hi);
    for (int x = 0; x < lo; x++) {
        int j = stylize_conv_pad_index(x * st + off, s->w, s->mode);
        if (j >= 0)
            dst[j] += src[x];
    }
    if (st == 1) {
        for (int x = lo; x < hi; x++)
            dst[x + off] += src[x];
    } else {
        for (int x = lo; x < hi; x++)
            dst[x * st + off] += src[x];
    }
    for (int x = hi; x < s->ow; x++) {
        int j = stylize_conv_pad_index(x * st + off, s->w, s->mode);
        if (j >= 0)
            dst[j] += src[x];
    }
}

/* Rows of units [u0, u1) of the im2col matrix of output rows [y, y + rows)
 * of in (cin, h, w) into col (rows ld apart). Unit u = ci k + ky owns rows
 * u k + kx, kx < k; column r ow + x holds in[ci][pad((y + r) s + ky - p)]
 * [pad(x s + kx - p)]. */
static void gen_im2col(float *col, const float *in, const gen_shape *s, int y, int rows, int u0,
                       int u1)
{
    size_t plane = (size_t)s->h * (size_t)s->w;
    for (int u = u0; u < u1; u++) {
        int ci = u / s->k, ky = u % s->k;
        const float *src_c = in + (size_t)ci * plane; /* (h, w) */
        for (int r = 0; r < rows; r++) {
            int sy = stylize_conv_pad_index((y + r) * s->s + ky - s->p, s->h, s->mode);
            const float *src = sy < 0 ? NULL : src_c + (size_t)sy * (size_t)s->w;
            float *dst = col + (size_t)u * (size_t)s->k * s->ld + (size_t)r * (size_t)s->ow;
            for (int kx = 0; kx < s->k; kx++)
                gen_gather_row(dst + (size_t)kx * s->ld, src, s, kx);
        }
    }
}

/* The adjoint of gen_im2col for the units of channels [c0, c1): adds the
 * matrix col (rows ld apart) into gin (cin, h, w). */
static void gen_col2im(float *gin, const float *col, const gen_shape *s, int y, int rows, int c0,
                       int c1)
{
    size_t plane = (size_t)s->h * (size_t)s->w;
    for (int u = c0 * s->k; u < c1 * s->k; u++) {
        int ci = u / s->k, ky = u % s->k;
        float *dst_c = gin + (size_t)ci * plane; /* (h, w) */
        for (int r = 0; r < rows; r++) {
            int sy = stylize_conv_pad_index((y + r) * s->s + ky - s->p, s->h, s->mode);
            if (sy < 0)
                continue;
            float *dst = dst_c + (size_t)sy * (size_t)s->w;
            const float *src = col + (size_t)u * (size_t)s->k * s->ld + (size_t)r * (size_t)s->ow;
            for (int kx = 0; kx < s->k; kx++)
                gen_scatter_row(dst, src + (size_t)kx * s->ld, s, kx);
        }
    }
}

typedef struct {
    const gen_shape *s;
    float *ws;                       /* im2col matrix (cin k k, band ow) */
    float *out;                      /* (cout, oh, ow) */
    const float *in, *weight, *bias; /* (cin, h, w), (cout, cin k k), (cout) or NULL */
    int ntasks;
    atomic_int next; /* first output row not yet taken by a task */
} gen_fwd_job;

/* As im2col_task: task t owns rows [r0, r0 + cap) of the band (its columns
 * of the matrix) and takes runs of up to cap output rows from the counter. */
static void gen_fwd_task(void *vctx, int t)
{
    gen_fwd_job *j = vctx;
    const gen_shape *s = j->s;
    int cap = s->band / j->ntasks, r0 = cap * t; /* rows per step, equal shares */
    size_t plane = (size_t)s->oh * (size_t)s->ow;
    float *col = j->ws + (size_t)r0 * (size_t)s->ow;
    int kdim = s->cin * s->k * s->k;
    for (;;) {
        int y = atomic_fetch_add_explicit(&j->next, cap, memory_order_relaxed);
        if (y >= s->oh)
            break;
        int rows = s->oh - y < cap ? s->oh - y : cap;
        int cols = rows * s->ow; /* <= band * ow, which fits an int */
        float *dst = j->out + (size_t)y * (size_t)s->ow;
        gen_im2col(col, j->in, s, y, rows, 0, s->cin * s->k);
        if (j->bias)
            for (int co = 0; co < s->cout; co++) {
                float *o = dst + (size_t)co * plane;
                for (int i = 0; i < cols; i++)
                    o[i] = j->bias[co];
            }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->cout, cols, kdim, 1.0f,
                    j->weight, kdim, col, (int)s->ld, j->bias ? 1.0f : 0.0f, dst, (int)plane);
    }
}

void stylize_conv_general_forward(const stylize_conv_geom *g, const float *weight,
                                  const float *bias, float *out, const float *in, int h, int w,
                                  float *ws)
{
    gen_shape s;
    if (!gen_shape_of(&s, g, h, w))
        return;
    if (stylize_conv_is_pointwise(g)) {
        stylize_conv_pointwise_forward(g, weight, bias, out, in, h * w);
        return;
    }
    if (stylize_conv_is_thin(g)) {
        stylize_conv_thin_forward(g, weight, bias, out, in, h, w, ws);
        return;
    }
    int nthr = stylize_parallel_threads();
    gen_fwd_job j = {&s, ws, out, in, weight, bias, s.band < nthr ? s.band : nthr, 0};
    atomic_init(&j.next, 0);
    stylize_conv_run_blas_tasks(j.ntasks, gen_fwd_task, &j);
}

/* ---- bfloat16 forward ------------------------------------------------- */

static int test_band_rows; /* stylize_conv_testing_bf16_band_rows */

void stylize_conv_testing_bf16_band_rows(int rows)
{
    test_band_rows = rows > 0 ? rows : 0;
}

/* The bf16 forward's band: output rows whose im2col matrix (kdim x band ow
 * floats) and packed copy (pairs of kdim by band ow rounded up to whole
 * panels, as words) fit the workspace bound together; *pack_at: the packed
 * copy's offset in floats (on a 64-byte boundary). 0 when the call must
 * not run. */
static int gen_bf16_shape(gen_shape *s, const stylize_conv_geom *g, int h, int w, size_t *pack_at)
{
    if (!gen_shape_of(s, g, h, w))
        return 0;
    size_t kdim = (size_t)s->cin * (size_t)s->k * (size_t)s->k;
    size_t pairs = (size_t)stylize_bf16_pack_b_pairs((int)kdim);
    size_t per_row = (kdim + pairs) * (size_t)s->ow, round = pairs * STYLIZE_BF16_NR + 16;
    size_t room = STYLIZE_CONV_WORKSPACE_MAX_FLOATS > round ? STYLIZE_CONV_WORKSPACE_MAX_FLOATS - round : 0;
    size_t band = room / per_row;
    if (test_band_rows && band > (size_t)test_band_rows)
        band = (size_t)test_band_rows;
    s->band = band < 1 ? 1 : band > (size_t)s->oh ? s->oh : (int)band;
    s->ld = (size_t)s->band * (size_t)s->ow;
    *pack_at = (kdim * s->ld + 15) & ~(size_t)15;
    return 1;
}

size_t stylize_conv_general_bf16_floats(const stylize_conv_geom *g, int h, int w)
{
    gen_shape s;
    size_t at;
    if (!gen_bf16_shape(&s, g, h, w, &at))
        return 0;
    return at + stylize_bf16_pack_b_bytes(s.cin * s.k * s.k, (int)s.ld) / sizeof(float);
}

typedef struct {
    const gen_shape *s;
    float *col, *out;  /* the band's matrix; the output (cout, oh, ow) */
    const float *in, *bias;
    int y, rows, ntasks;
} gen_band_job;

/* Task t: its share of the band's im2col units, then of its bias rows. */
static void gen_band_task(void *vctx, int t)
{
    const gen_band_job *j = vctx;
    const gen_shape *s = j->s;
    int units = s->cin * s->k;
    int u0 = (int)((long long)units * t / j->ntasks), u1 = (int)((long long)units * (t + 1) / j->ntasks);
    gen_im2col(j->col, j->in, s, j->y, j->rows, u0, u1);
    int c0 = (int)((long long)s->cout * t / j->ntasks), c1 = (int)((long long)s->cout * (t + 1) / j->ntasks);
    size_t plane = (size_t)s->oh * (size_t)s->ow, cols = (size_t)j->rows * (size_t)s->ow;
    for (int co = c0; co < c1; co++) {
        float *o = j->out + (size_t)co * plane + (size_t)j->y * (size_t)s->ow, b = j->bias ? j->bias[co] : 0.0f;
        for (size_t i = 0; i < cols; i++)
            o[i] = b;
    }
}

void stylize_conv_general_forward_bf16(const stylize_conv_geom *g, int kern, const void *pa, const float *bias,
                                       float *out, const float *in, int h, int w, float *ws)
{
    gen_shape s;
    size_t at;
    if (!gen_bf16_shape(&s, g, h, w, &at))
        return;
    int kdim = s.cin * s.k * s.k, nthr = stylize_parallel_threads();
    gen_band_job j = {&s, ws, out, in, bias, 0, 0, nthr};
    for (j.y = 0; j.y < s.oh; j.y += s.band) {
        j.rows = s.oh - j.y < s.band ? s.oh - j.y : s.band;
        int cols = j.rows * s.ow;
        stylize_parallel_run(j.ntasks, gen_band_task, &j); /* the matrix, C = the bias */
        stylize_bf16_pack_b(ws, (int)s.ld, kdim, cols, ws + at);
        stylize_gemm_bf16((stylize_bf16_kernel)kern, s.cout, cols, kdim, pa, ws + at,
                          out + (size_t)j.y * (size_t)s.ow, s.oh * s.ow, 1);
    }
}

typedef struct {
    const gen_shape *s;
    float *ws;                  /* dcol (cin k k, band ow) */
    float *gin;                 /* (cin, h, w) */
    const float *gout, *weight; /* (cout, oh, ow), (cout, cin k k) */
    int ntasks;
} gen_bwd_job;

/* Task t owns input channels [c0, c1): zeroes them in gin, then for every
 * band computes its rows of dcol = W^T gout_band and adds them back
 * (col2im) into its channels. */
static void gen_bwd_task(void *vctx, int t)
{
    const gen_bwd_job *j = vctx;
    const gen_shape *s = j->s;
    int c0 = (int)((long long)s->cin * t / j->ntasks);
    int c1 = (int)((long long)s->cin * (t + 1) / j->ntasks);
    if (c1 <= c0)
        return;
    size_t plane = (size_t)s->h * (size_t)s->w, oplane = (size_t)s->oh * (size_t)s->ow;
    memset(j->gin + (size_t)c0 * plane, 0, (size_t)(c1 - c0) * plane * sizeof(float));
    int kk = s->k * s->k, kdim = s->cin * kk;
    float *dcol = j->ws + (size_t)c0 * (size_t)kk * s->ld; /* its rows of dcol */
    for (int y = 0; y < s->oh; y += s->band) {
        int rows = s->oh - y < s->band ? s->oh - y : s->band;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (c1 - c0) * kk, rows * s->ow,
                    s->cout, 1.0f, j->weight + (size_t)c0 * (size_t)kk, kdim,
                    j->gout + (size_t)y * (size_t)s->ow, (int)oplane, 0.0f, dcol, (int)s->ld);
        gen_col2im(j->gin, j->ws, s, y, rows, c0, c1);
    }
}

void stylize_conv_general_backward(const stylize_conv_geom *g, const float *weight, float *gin,
                                   const float *gout, int h, int w, float *ws)
{
    gen_shape s;
    if (!gen_shape_of(&s, g, h, w))
        return;
    if (stylize_conv_is_pointwise(g)) {
        stylize_conv_pointwise_backward(g, weight, gin, gout, h * w);
        return;
    }
    if (stylize_conv_is_thin(g)) {
        stylize_conv_thin_backward(g, weight, gin, gout, h, w, ws);
        return;
    }
    int nthr = stylize_parallel_threads();
    gen_bwd_job j = {&s, ws, gin, gout, weight, s.cin < nthr ? s.cin : nthr};
    stylize_conv_run_blas_tasks(j.ntasks, gen_bwd_task, &j);
}

typedef struct {
    const gen_shape *s;
    float *ws;              /* im2col matrix (cin k k, band ow) */
    float *gw, *gb;         /* (cout, cin k k), (cout) or NULL: accumulated */
    const float *in, *gout; /* (cin, h, w), (cout, oh, ow) */
    int ntasks;
} gen_wgt_job;

/* Task t owns units [u0, u1) of (ci, ky) (their k rows of the matrix and k
 * columns of gw each) and output channels [b0, b1) of gb: for every band,
 * its rows of the im2col matrix, then gw[:, u0 k .. u1 k) += gout_band
 * col_rows^T; gb[co] += the sum of gout[co]. */
static void gen_wgt_task(void *vctx, int t)
{
    const gen_wgt_job *j = vctx;
    const gen_shape *s = j->s;
    int units = s->cin * s->k;
    int u0 = (int)((long long)units * t / j->ntasks);
    int u1 = (int)((long long)units * (t + 1) / j->ntasks);
    size_t oplane = (size_t)s->oh * (size_t)s->ow;
    int kdim = s->cin * s->k * s->k;
    for (int y = 0; u1 > u0 && y < s->oh; y += s->band) {
        int rows = s->oh - y < s->band ? s->oh - y : s->band;
        gen_im2col(j->ws, j->in, s, y, rows, u0, u1);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->cout, (u1 - u0) * s->k,
                    rows * s->ow, 1.0f, j->gout + (size_t)y * (size_t)s->ow, (int)oplane,
                    j->ws + (size_t)u0 * (size_t)s->k * s->ld, (int)s->ld, 1.0f,
                    j->gw + (size_t)u0 * (size_t)s->k, kdim);
    }
    if (!j->gb)
        return;
    int b0 = (int)((long long)s->cout * t / j->ntasks);
    int b1 = (int)((long long)s->cout * (t + 1) / j->ntasks);
    stylize_conv_bias_grad(j->gb, j->gout, oplane, b0, b1);
}

void stylize_conv_general_weights(const stylize_conv_geom *g, float *gw, float *gb,
                                  const float *in, const float *gout, int h, int w, float *ws)
{
    gen_shape s;
    if (!gen_shape_of(&s, g, h, w))
        return;
    if (stylize_conv_is_pointwise(g)) {
        stylize_conv_pointwise_weights(g, gw, gb, in, gout, h * w);
        return;
    }
    if (stylize_conv_is_thin(g)) {
        stylize_conv_thin_weights(g, gw, gb, in, gout, h, w, ws);
        return;
    }
    int nthr = stylize_parallel_threads(), units = s.cin * s.k;
    gen_wgt_job j = {&s, ws, gw, gb, in, gout, units < nthr ? units : nthr};
    stylize_conv_run_blas_tasks(j.ntasks, gen_wgt_task, &j);
}

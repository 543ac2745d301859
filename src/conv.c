/* 3x3, stride 1, pad 1 convolution over CHW float32 tensors.
 *
 * Two algorithms, both through cblas_sgemm and a caller-supplied workspace:
 *
 * im2col (the reference): the im2col matrix of a band of output rows times
 * the (cout, cin * 9) kernel, tiled over output rows so the matrix stays
 * within STYLIZE_CONV_WORKSPACE_MAX_FLOATS.
 *
 * Winograd F(m x m, 3 x 3), m = 4 or 2 (Lavin & Gray 2015): the output is cut
 * into m x m tiles, each computed from the (m + 2) x (m + 2) input patch
 * around it (zero outside the image) as Y = A^T [U .* V] A with U = G g G^T
 * (the kernel, transformed once when the algorithm is selected) and
 * V = B^T d B. Summed over input channels, the element-wise products become
 * (m + 2)^2 independent sgemms [cout x cin] x [cin x tiles]. The tiles are
 * processed in blocks of `nt` (raster order over the tile grid) so the
 * transformed input V (a^2, cin, nt) and product M (a^2, cout, nt) stay
 * within the workspace bound.
 *
 * The input gradient is the same operation with the flipped, channel-swapped
 * kernel built at create (and its own Winograd transform), no bias.
 *
 * Transforms and im2col run on the library's thread pool (parallel.h),
 * split by channel (and, for few channels, by tile chunks); sgemm threads
 * itself. */
#include "stylize/conv.h"

#include <cblas.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parallel.h"

struct stylize_conv {
    const float *weight; /* (cout, cin, 3, 3), borrowed */
    const float *bias;   /* (cout) or NULL, borrowed */
    float *weight_t;     /* (cin, cout, 3, 3), owned: weight flipped 180 deg, channels swapped */
    float *u_fwd;        /* (a * a, cout, cin), owned: Winograd transform of weight, or NULL */
    float *u_bwd;        /* (a * a, cin, cout), owned: Winograd transform of weight_t, or NULL */
    int u_m;             /* output tile size of u_fwd / u_bwd (4 or 2); 0 when absent */
    int cin, cout;
    stylize_conv_algo algo;
};

static stylize_conv_algo g_default_algo = STYLIZE_CONV_WINOGRAD;

void stylize_conv_set_default_algo(stylize_conv_algo algo) { g_default_algo = algo; }
stylize_conv_algo stylize_conv_get_default_algo(void) { return g_default_algo; }

/* Output tile size of a Winograd algo, 0 for im2col. */
static int algo_tile(stylize_conv_algo algo)
{
    switch (algo) {
    case STYLIZE_CONV_WINOGRAD: return 4;
    case STYLIZE_CONV_WINOGRAD_F2: return 2;
    case STYLIZE_CONV_IM2COL: break;
    }
    return 0;
}

/* ---- Winograd weight transform ------------------------------------------ */

/* G (a x 3) of F(m, 3) in double; a = m + 2. */
static const double G4[6][3] = {{1.0 / 4, 0, 0},
                                {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                {0, 0, 1}};
static const double G2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};

typedef struct {
    float *u;        /* (a * a, rows, cols) */
    const float *wt; /* (rows, cols, 3, 3) */
    int rows, cols, m;
    int flip;        /* transform wt[c][r] flipped 180 deg instead of wt[r][c] */
    int ntasks;
} utrans_job;

/* u[k][r][c] = (G g G^T)[k] for g = the kernel of output r, input c. One
 * task per band of rows. */
static void utrans_task(void *vctx, int task)
{
    const utrans_job *j = vctx;
    int a = j->m + 2, nthr = j->ntasks;
    const double(*G)[3] = j->m == 4 ? G4 : G2;
    size_t plane = (size_t)j->rows * (size_t)j->cols;
    int r0 = (int)((long long)j->rows * task / nthr), r1 = (int)((long long)j->rows * (task + 1) / nthr);
    for (int r = r0; r < r1; r++)
        for (int c = 0; c < j->cols; c++) {
            double g[3][3], t[6][3];
            if (j->flip) {
                /* wt here is (cols, rows, 3, 3): the forward weight */
                const float *src = j->wt + ((size_t)c * (size_t)j->rows + (size_t)r) * 9;
                for (int k = 0; k < 9; k++)
                    g[k / 3][k % 3] = src[8 - k];
            } else {
                const float *src = j->wt + ((size_t)r * (size_t)j->cols + (size_t)c) * 9;
                for (int k = 0; k < 9; k++)
                    g[k / 3][k % 3] = src[k];
            }
            for (int i = 0; i < a; i++) /* t = G g */
                for (int x = 0; x < 3; x++)
                    t[i][x] = G[i][0] * g[0][x] + G[i][1] * g[1][x] + G[i][2] * g[2][x];
            float *dst = j->u + (size_t)r * (size_t)j->cols + (size_t)c;
            for (int i = 0; i < a; i++) /* u = t G^T */
                for (int x = 0; x < a; x++)
                    dst[(size_t)(i * a + x) * plane] =
                        (float)(t[i][0] * G[x][0] + t[i][1] * G[x][1] + t[i][2] * G[x][2]);
        }
}

/* Allocates and fills conv->u_fwd / u_bwd for tile size m. Returns 0 on
 * allocation failure (conv unchanged). */
static int make_winograd_kernels(stylize_conv *c, int m)
{
    if (c->u_m == m)
        return 1;
    size_t aa = (size_t)(m + 2) * (size_t)(m + 2);
    size_t n = aa * (size_t)c->cin * (size_t)c->cout;
    if ((size_t)c->cin * (size_t)c->cout > SIZE_MAX / sizeof(float) / 36)
        return 0;
    float *uf = malloc(n * sizeof(float)), *ub = malloc(n * sizeof(float));
    if (!uf || !ub) {
        free(uf);
        free(ub);
        return 0;
    }
    stylize_parallel_init();
    int nthr = stylize_parallel_threads();
    utrans_job jf = {uf, c->weight, c->cout, c->cin, m, 0, nthr};
    stylize_parallel_run(nthr, utrans_task, &jf);
    utrans_job jb = {ub, c->weight, c->cin, c->cout, m, 1, nthr};
    stylize_parallel_run(nthr, utrans_task, &jb);
    free(c->u_fwd);
    free(c->u_bwd);
    c->u_fwd = uf;
    c->u_bwd = ub;
    c->u_m = m;
    return 1;
}

static void drop_winograd_kernels(stylize_conv *c)
{
    free(c->u_fwd);
    free(c->u_bwd);
    c->u_fwd = c->u_bwd = NULL;
    c->u_m = 0;
}

/* ---- create / free ------------------------------------------------------ */

stylize_status stylize_conv_create(stylize_conv **out, const float *weight, const float *bias,
                                   int cin, int cout, stylize_error *err)
{
    if (!out)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "conv: output pointer is NULL");
    *out = NULL;
    if (!weight)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "conv: weight is NULL");
    if (cin <= 0 || cout <= 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "conv: channel counts must be positive (cin %d, cout %d)", cin,
                                 cout);
    /* The sgemm inner dimension (channels * 9) must fit an int, in both directions. */
    if (cin > INT_MAX / 9 || cout > INT_MAX / 9)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                 "conv: too many channels (cin %d, cout %d)", cin, cout);
    size_t ci_n = (size_t)cin, co_n = (size_t)cout;
    if (ci_n > SIZE_MAX / sizeof(float) / 36 / co_n)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                 "conv: weight too large (cin %d, cout %d)", cin, cout);

    stylize_conv *c = calloc(1, sizeof *c);
    if (!c)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "conv: out of memory for the layer");
    c->weight_t = malloc(ci_n * co_n * 9 * sizeof(float)); /* (cin, cout, 3, 3) */
    if (!c->weight_t) {
        free(c);
        return stylize_error_set(err, STYLIZE_ERR_NOMEM,
                                 "conv: out of memory for the %d x %d backward kernel", cin, cout);
    }
    /* weight_t[ci][co][ky][kx] = weight[co][ci][2 - ky][2 - kx] */
    for (size_t co = 0; co < co_n; co++)
        for (size_t ci = 0; ci < ci_n; ci++) {
            const float *src = weight + (co * ci_n + ci) * 9;
            float *dst = c->weight_t + (ci * co_n + co) * 9;
            for (size_t k = 0; k < 9; k++)
                dst[k] = src[8 - k];
        }
    c->weight = weight;
    c->bias = bias;
    c->cin = cin;
    c->cout = cout;
    c->algo = STYLIZE_CONV_IM2COL;
    stylize_parallel_init();
    int m = algo_tile(g_default_algo);
    if (m) {
        if (!make_winograd_kernels(c, m)) {
            size_t mib = stylize_conv_owned_bytes(g_default_algo, cin, cout) >> 20;
            stylize_conv_free(c);
            return stylize_error_set(err, STYLIZE_ERR_NOMEM,
                                     "conv: out of memory for the %d x %d Winograd kernels "
                                     "(%zu MiB)",
                                     cin, cout, mib);
        }
        c->algo = g_default_algo;
    }
    *out = c;
    return STYLIZE_OK;
}

void stylize_conv_free(stylize_conv *conv)
{
    if (!conv)
        return;
    free(conv->weight_t);
    drop_winograd_kernels(conv);
    free(conv);
}

int stylize_conv_in_channels(const stylize_conv *conv) { return conv->cin; }
int stylize_conv_out_channels(const stylize_conv *conv) { return conv->cout; }

void stylize_conv_set_algo(stylize_conv *conv, stylize_conv_algo algo)
{
    int m = algo_tile(algo);
    if (m) {
        if (!make_winograd_kernels(conv, m))
            return; /* out of memory: keep the current algorithm */
    } else {
        drop_winograd_kernels(conv);
        algo = STYLIZE_CONV_IM2COL;
    }
    conv->algo = algo;
}

stylize_conv_algo stylize_conv_get_algo(const stylize_conv *conv) { return conv->algo; }

size_t stylize_conv_owned_bytes(stylize_conv_algo algo, int cin, int cout)
{
    size_t pairs = (size_t)cin * (size_t)cout;
    size_t floats = pairs * 9; /* weight_t */
    int m = algo_tile(algo);
    if (m)
        floats += 2 * pairs * (size_t)(m + 2) * (size_t)(m + 2);
    return floats * sizeof(float) + sizeof(stylize_conv);
}

/* ---- workspace sizing --------------------------------------------------- */

/* Output rows per im2col tile when the im2col matrix has cin * 9 rows of w
 * floats per output row: as many as fit the workspace bound, at least one,
 * at most h. */
static size_t tile_rows(int cin, int h, int w)
{
    size_t per_row = (size_t)cin * 9 * (size_t)w; /* im2col floats per output row */
    size_t rows = STYLIZE_CONV_WORKSPACE_MAX_FLOATS / per_row;
    if (rows < 1)
        rows = 1;
    if (rows > (size_t)h)
        rows = (size_t)h;
    return rows;
}

static size_t im2col_floats(int cin, int h, int w)
{
    return (size_t)cin * 9 * (size_t)w * tile_rows(cin, h, w);
}

/* Preferred Winograd block: enough tiles for an efficient sgemm (its N),
 * few enough that V and M stay near the caches. */
#define WINO_BLOCK_MIN_TILES 256
#define WINO_BLOCK_TARGET_FLOATS ((size_t)1 << 20)

/* Tiles per Winograd block for tile size m: the preferred block, capped by
 * the tile count and by the workspace bound (at least one tile). */
static size_t wino_block_tiles(int m, int cin, int cout, int h, int w)
{
    size_t aa = (size_t)(m + 2) * (size_t)(m + 2);
    size_t tiles = (size_t)((h + m - 1) / m) * (size_t)((w + m - 1) / m);
    size_t per_tile = aa * ((size_t)cin + (size_t)cout); /* floats of V and M per tile */
    size_t nt = WINO_BLOCK_TARGET_FLOATS / per_tile;
    if (nt < WINO_BLOCK_MIN_TILES)
        nt = WINO_BLOCK_MIN_TILES;
    size_t cap = STYLIZE_CONV_WORKSPACE_MAX_FLOATS / per_tile;
    if (nt > cap)
        nt = cap;
    if (nt > tiles)
        nt = tiles;
    return nt ? nt : 1;
}

size_t stylize_conv_algo_workspace_floats(stylize_conv_algo algo, int cin, int cout, int h, int w)
{
    if (h <= 0 || w <= 0 || cin <= 0 || cout <= 0)
        return 0;
    int m = algo_tile(algo);
    if (m) {
        /* V (a^2, channels in, nt) + M (a^2, channels out, nt): the same sum both ways */
        size_t aa = (size_t)(m + 2) * (size_t)(m + 2);
        return aa * ((size_t)cin + (size_t)cout) * wino_block_tiles(m, cin, cout, h, w);
    }
    size_t fwd = im2col_floats(cin, h, w);  /* forward: im2col of the input */
    size_t bwd = im2col_floats(cout, h, w); /* backward: im2col of the gradient */
    return fwd > bwd ? fwd : bwd;
}

size_t stylize_conv_workspace_floats(const stylize_conv *conv, int h, int w)
{
    return stylize_conv_algo_workspace_floats(conv->algo, conv->cin, conv->cout, h, w);
}

/* ---- im2col ------------------------------------------------------------- */

/* Writes the im2col rows of channels [c0, c1) for output rows [y0, y0 + rows)
 * of in (cin, h, w) into col (cin * 9, rows * w): row (ci * 3 + ky) * 3 + kx,
 * column (y - y0) * w + x holds in[ci][y + ky - 1][x + kx - 1], zero outside. */
static void im2col_rows(float *col, const float *in, int c0, int c1, int h, int w, int y0,
                        int rows)
{
    size_t wn = (size_t)w, plane = (size_t)h * wn;
    col += (size_t)c0 * 9 * (size_t)rows * wn;
    for (int ci = c0; ci < c1; ci++) {
        const float *src_c = in + (size_t)ci * plane; /* (h, w) */
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                /* x + kx - 1 is in range for x in [x_lo, x_hi) */
                int x_lo = kx == 0 ? 1 : 0;
                int x_hi = kx == 2 ? w - 1 : w;
                for (int r = 0; r < rows; r++) {
                    float *dst = col + (size_t)r * wn; /* (w) */
                    int sy = y0 + r + ky - 1;
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
                col += (size_t)rows * wn;
            }
    }
}

typedef struct {
    float *col, *dst;
    const float *in, *bias;
    int cin, cout, h, w, y0, rows, nthr;
    size_t plane;
} im2col_job;

/* Task t of nthr: im2col of its share of the input channels, then the bias
 * fill of its share of the output channels. */
static void im2col_task(void *vctx, int t)
{
    const im2col_job *j = vctx;
    int c0 = (int)((long long)j->cin * t / j->nthr), c1 = (int)((long long)j->cin * (t + 1) / j->nthr);
    im2col_rows(j->col, j->in, c0, c1, j->h, j->w, j->y0, j->rows);
    if (j->bias) {
        size_t cols = (size_t)j->rows * (size_t)j->w;
        int o0 = (int)((long long)j->cout * t / j->nthr);
        int o1 = (int)((long long)j->cout * (t + 1) / j->nthr);
        for (int co = o0; co < o1; co++) {
            float *o = j->dst + (size_t)co * j->plane;
            float b = j->bias[co];
            for (size_t i = 0; i < cols; i++)
                o[i] = b;
        }
    }
}

/* out (cout, h, w) = conv(in (cin, h, w)) with weight (cout, cin, 3, 3) and
 * bias (cout) or NULL, through ws (at least im2col_floats(cin, h, w)).
 * The sgemm output leading dimension is h * w, which must fit an int. */
static void conv_im2col(float *out, const float *in, const float *weight, const float *bias,
                        int cin, int cout, int h, int w, float *ws)
{
    if (h <= 0 || w <= 0)
        return;
    size_t plane = (size_t)h * (size_t)w;
    int k = cin * 9;
    int rows = (int)tile_rows(cin, h, w);
    int nthr = stylize_parallel_threads();
    for (int y0 = 0; y0 < h; y0 += rows) {
        int n = h - y0 < rows ? h - y0 : rows;
        int cols = n * w; /* <= the workspace bound or w, so fits an int */
        float *dst = out + (size_t)y0 * (size_t)w; /* (cout, n, w) inside out, stride plane */
        im2col_job j = {ws, dst, in, bias, cin, cout, h, w, y0, n, nthr, plane};
        stylize_parallel_run(nthr, im2col_task, &j); /* ws: (cin * 9, n * w) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, cols, k, 1.0f, weight, k, ws,
                    cols, bias ? 1.0f : 0.0f, dst, (int)plane);
    }
}

/* ---- Winograd ----------------------------------------------------------- */

typedef struct {
    const float *in;   /* (cin, h, w) */
    float *out;        /* (cout, h, w) */
    const float *u;    /* (a^2, cout, cin) */
    const float *bias; /* (cout) or NULL */
    float *V, *M;      /* (a^2, cin, nt), (a^2, cout, nt) */
    int cin, cout, h, w, m, tw;
    long long t0;      /* first tile of the block (raster index) */
    int nt;            /* tiles in the block */
    int nthr;          /* tasks of the transform runs */
    int chunks;        /* tile chunks per channel in a transform run */
} wino_job;

#define WINO_CHUNK 32 /* tiles per chunk when channels alone do not balance the threads */

/* Channels [c0, c1) and tiles [b0, b1) of the block for transform task t:
 * task t takes a contiguous share of the (channel, chunk) units. */
static void unit_range(const wino_job *j, int channels, int t, int *u0, int *u1)
{
    long long units = (long long)channels * j->chunks;
    *u0 = (int)(units * t / j->nthr);
    *u1 = (int)(units * (t + 1) / j->nthr);
}

static void unit_tiles(const wino_job *j, int unit, int *c, int *b0, int *b1)
{
    int k = unit % j->chunks;
    *c = unit / j->chunks;
    *b0 = (int)((long long)j->nt * k / j->chunks);
    *b1 = (int)((long long)j->nt * (k + 1) / j->chunks);
}

/* Copies the a x a patch with top-left input pixel (y0, x0) of plane (h, w)
 * into d (a x a), zero outside the image. */
static void load_patch(float *d, int a, const float *plane, int h, int w, int y0, int x0)
{
    for (int i = 0; i < a; i++) {
        int y = y0 + i;
        for (int x = 0; x < a; x++) {
            int xx = x0 + x;
            d[i * a + x] =
                (y >= 0 && y < h && xx >= 0 && xx < w) ? plane[(size_t)y * (size_t)w + (size_t)xx] : 0.0f;
        }
    }
}

/* F(4, 3): r = B^T d for one column of 6 values at stride s. */
#define BT4(r, d, s)                                                   \
    do {                                                               \
        float d0_ = (d)[0], d1_ = (d)[(s)], d2_ = (d)[2 * (s)];        \
        float d3_ = (d)[3 * (s)], d4_ = (d)[4 * (s)], d5_ = (d)[5 * (s)]; \
        float p_ = d4_ - 4.0f * d2_, q_ = d3_ - 4.0f * d1_;            \
        float e_ = d4_ - d2_, f_ = 2.0f * (d3_ - d1_);                 \
        (r)[0] = 4.0f * d0_ - 5.0f * d2_ + d4_;                        \
        (r)[1] = p_ + q_;                                              \
        (r)[2] = p_ - q_;                                              \
        (r)[3] = e_ + f_;                                              \
        (r)[4] = e_ - f_;                                              \
        (r)[5] = 4.0f * d1_ - 5.0f * d3_ + d5_;                        \
    } while (0)

/* F(2, 3): r = B^T d for one column of 4 values at stride s. */
#define BT2(r, d, s)                                                   \
    do {                                                               \
        float d0_ = (d)[0], d1_ = (d)[(s)], d2_ = (d)[2 * (s)], d3_ = (d)[3 * (s)]; \
        (r)[0] = d0_ - d2_;                                            \
        (r)[1] = d1_ + d2_;                                            \
        (r)[2] = d2_ - d1_;                                            \
        (r)[3] = d1_ - d3_;                                            \
    } while (0)

/* V[k][c][t] = (B^T d B)[k] for the patch d of each (channel, tile) unit of task t. */
static void wino_input_task(void *vctx, int task)
{
    const wino_job *j = vctx;
    int m = j->m, a = m + 2, aa = a * a;
    size_t plane = (size_t)j->h * (size_t)j->w, kstride = (size_t)j->cin * (size_t)j->nt;
    int u0, u1;
    unit_range(j, j->cin, task, &u0, &u1);
    for (int u = u0; u < u1; u++) {
        int c, b0, b1;
        unit_tiles(j, u, &c, &b0, &b1);
        const float *src = j->in + (size_t)c * plane;
        float *vc = j->V + (size_t)c * (size_t)j->nt;
        for (int b = b0; b < b1; b++) {
            long long t = j->t0 + b;
            int ty = (int)(t / j->tw), tx = (int)(t % j->tw);
            int y0 = ty * m - 1, x0 = tx * m - 1;
            float patch[36], tmp[36], v[36];
            const float *d;
            int ds;
            if (y0 >= 0 && x0 >= 0 && y0 + a <= j->h && x0 + a <= j->w) {
                d = src + (size_t)y0 * (size_t)j->w + (size_t)x0;
                ds = j->w;
            } else {
                load_patch(patch, a, src, j->h, j->w, y0, x0);
                d = patch;
                ds = a;
            }
            if (m == 4) {
                for (int x = 0; x < 6; x++) { /* columns: tmp = B^T d */
                    float r[6];
                    BT4(r, d + x, (size_t)ds);
                    for (int i = 0; i < 6; i++)
                        tmp[i * 6 + x] = r[i];
                }
                for (int i = 0; i < 6; i++) /* rows: v = tmp B */
                    BT4(v + i * 6, tmp + i * 6, 1);
            } else {
                for (int x = 0; x < 4; x++) {
                    float r[4];
                    BT2(r, d + x, (size_t)ds);
                    for (int i = 0; i < 4; i++)
                        tmp[i * 4 + x] = r[i];
                }
                for (int i = 0; i < 4; i++)
                    BT2(v + i * 4, tmp + i * 4, 1);
            }
            for (int k = 0; k < aa; k++)
                vc[(size_t)k * kstride + (size_t)b] = v[k];
        }
    }
}

/* out tile = A^T M A (+ bias) for each (output channel, tile) unit of task t. */
static void wino_output_task(void *vctx, int task)
{
    const wino_job *j = vctx;
    int m = j->m, a = m + 2, aa = a * a;
    size_t plane = (size_t)j->h * (size_t)j->w, kstride = (size_t)j->cout * (size_t)j->nt;
    int u0, u1;
    unit_range(j, j->cout, task, &u0, &u1);
    for (int u = u0; u < u1; u++) {
        int c, b0, b1;
        unit_tiles(j, u, &c, &b0, &b1);
        float bias = j->bias ? j->bias[c] : 0.0f;
        float *dst = j->out + (size_t)c * plane;
        const float *mc = j->M + (size_t)c * (size_t)j->nt;
        for (int b = b0; b < b1; b++) {
            long long t = j->t0 + b;
            int ty = (int)(t / j->tw), tx = (int)(t % j->tw);
            int y0 = ty * m, x0 = tx * m;
            float mm[36], tmp[24], y[16];
            for (int k = 0; k < aa; k++)
                mm[k] = mc[(size_t)k * kstride + (size_t)b];
            if (m == 4) {
                for (int x = 0; x < 6; x++) { /* columns: tmp (4 x 6) = A^T mm */
                    float m0 = mm[x], m1 = mm[6 + x], m2 = mm[12 + x];
                    float m3 = mm[18 + x], m4 = mm[24 + x], m5 = mm[30 + x];
                    float s1 = m1 + m2, d1 = m1 - m2, s2 = m3 + m4, d2 = m3 - m4;
                    tmp[x] = m0 + s1 + s2;
                    tmp[6 + x] = d1 + 2.0f * d2;
                    tmp[12 + x] = s1 + 4.0f * s2;
                    tmp[18 + x] = d1 + 8.0f * d2 + m5;
                }
                for (int i = 0; i < 4; i++) { /* rows: y (4 x 4) = tmp A */
                    const float *r = tmp + i * 6;
                    float s1 = r[1] + r[2], d1 = r[1] - r[2], s2 = r[3] + r[4], d2 = r[3] - r[4];
                    y[i * 4 + 0] = r[0] + s1 + s2 + bias;
                    y[i * 4 + 1] = d1 + 2.0f * d2 + bias;
                    y[i * 4 + 2] = s1 + 4.0f * s2 + bias;
                    y[i * 4 + 3] = d1 + 8.0f * d2 + r[5] + bias;
                }
            } else {
                for (int x = 0; x < 4; x++) {
                    float m0 = mm[x], m1 = mm[4 + x], m2 = mm[8 + x], m3 = mm[12 + x];
                    tmp[x] = m0 + m1 + m2;
                    tmp[4 + x] = m1 - m2 - m3;
                }
                for (int i = 0; i < 2; i++) {
                    const float *r = tmp + i * 4;
                    y[i * 2 + 0] = r[0] + r[1] + r[2] + bias;
                    y[i * 2 + 1] = r[1] - r[2] - r[3] + bias;
                }
            }
            int ny = j->h - y0 < m ? j->h - y0 : m, nx = j->w - x0 < m ? j->w - x0 : m;
            float *o = dst + (size_t)y0 * (size_t)j->w + (size_t)x0;
            for (int i = 0; i < ny; i++)
                for (int x = 0; x < nx; x++)
                    o[(size_t)i * (size_t)j->w + (size_t)x] = y[i * m + x];
        }
    }
}

/* out (cout, h, w) = conv(in (cin, h, w)) through Winograd F(m, 3) with the
 * transformed kernel u (a^2, cout, cin) and bias (cout) or NULL; ws holds
 * stylize_conv_algo_workspace_floats floats for (cin, cout, h, w). */
static void conv_winograd(float *out, const float *in, const float *u, const float *bias, int m,
                          int cin, int cout, int h, int w, float *ws)
{
    if (h <= 0 || w <= 0)
        return;
    int a = m + 2, aa = a * a;
    int th = (h + m - 1) / m, tw = (w + m - 1) / m;
    long long tiles = (long long)th * tw;
    int block = (int)wino_block_tiles(m, cin, cout, h, w);
    int nthr = stylize_parallel_threads();
    wino_job j = {in, out, u, bias, ws, ws + (size_t)aa * (size_t)cin * (size_t)block,
                  cin, cout, h, w, m, tw, 0, 0, nthr, 1};
    for (long long t0 = 0; t0 < tiles; t0 += block) {
        int nt = tiles - t0 < block ? (int)(tiles - t0) : block;
        j.t0 = t0;
        j.nt = nt;
        int cmin = cin < cout ? cin : cout;
        j.chunks = 1;
        if (cmin < 4 * nthr) {
            j.chunks = (nt + WINO_CHUNK - 1) / WINO_CHUNK;
            if (j.chunks < 1)
                j.chunks = 1;
        }
        j.M = ws + (size_t)aa * (size_t)cin * (size_t)nt;
        stylize_parallel_run(nthr, wino_input_task, &j);
        for (int k = 0; k < aa; k++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, nt, cin, 1.0f,
                        u + (size_t)k * (size_t)cout * (size_t)cin, cin,
                        j.V + (size_t)k * (size_t)cin * (size_t)nt, nt, 0.0f,
                        j.M + (size_t)k * (size_t)cout * (size_t)nt, nt);
        stylize_parallel_run(nthr, wino_output_task, &j);
    }
}

/* ---- entry points ------------------------------------------------------- */

void stylize_conv_forward(const stylize_conv *conv, float *out, const float *in, int h, int w,
                          float *ws)
{
    if (conv->algo != STYLIZE_CONV_IM2COL && conv->u_fwd)
        conv_winograd(out, in, conv->u_fwd, conv->bias, conv->u_m, conv->cin, conv->cout, h, w, ws);
    else
        conv_im2col(out, in, conv->weight, conv->bias, conv->cin, conv->cout, h, w, ws);
}

void stylize_conv_backward(const stylize_conv *conv, float *gin, const float *gout, int h, int w,
                           float *ws)
{
    /* dL/din[ci][p][q] = sum_{co,ky,kx} weight[co][ci][ky][kx] gout[co][p - ky + 1][q - kx + 1],
     * i.e. a pad-1 convolution of gout with weight_t and no bias. */
    if (conv->algo != STYLIZE_CONV_IM2COL && conv->u_bwd)
        conv_winograd(gin, gout, conv->u_bwd, NULL, conv->u_m, conv->cout, conv->cin, h, w, ws);
    else
        conv_im2col(gin, gout, conv->weight_t, NULL, conv->cout, conv->cin, h, w, ws);
}

void stylize_conv3x3_direct(float *out, const float *in, const float *weight, const float *bias,
                            int cin, int cout, int h, int w)
{
    size_t wn = (size_t)w, plane = (size_t)h * wn;
    for (int co = 0; co < cout; co++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double acc = bias ? (double)bias[co] : 0.0;
                for (int ci = 0; ci < cin; ci++) {
                    const float *wk = weight + ((size_t)co * (size_t)cin + (size_t)ci) * 9;
                    const float *src = in + (size_t)ci * plane;
                    for (int ky = 0; ky < 3; ky++) {
                        int sy = y + ky - 1;
                        if (sy < 0 || sy >= h)
                            continue;
                        for (int kx = 0; kx < 3; kx++) {
                            int sx = x + kx - 1;
                            if (sx < 0 || sx >= w)
                                continue;
                            acc += (double)wk[ky * 3 + kx] *
                                   (double)src[(size_t)sy * wn + (size_t)sx];
                        }
                    }
                }
                out[(size_t)co * plane + (size_t)y * wn + (size_t)x] = (float)acc;
            }
}

/* Tests of 2x2 stride-2 pooling: hand-computed forward and backward values
 * for both kinds on odd sizes, degenerate sizes, first-maximum routing on
 * ties, NaN propagation, finite-difference checks of the backward, and the
 * vectorised rows bit for bit against a scalar reference of the rule on
 * wide rows of ties, signed zeros, infinities and NaNs. */
#include "stylize/nn/pool.h"

#include <string.h>

#include "testutil.h"

static float *xalloc(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "test_pool: out of memory (%zu floats)\n", n);
        exit(2);
    }
    return p;
}

static void fill_nan(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = NAN;
}

/* 2 channels, 3 x 5: the floored last row and column hold the largest values
 * so that including them by mistake changes the max. */
static const float hand_in[2 * 3 * 5] = {
    /* channel 0 */
    1, 5, 2, 0, 9, /**/ 3, 4, 8, 7, 9, /**/ 60, 60, 60, 60, 60,
    /* channel 1 */
    -1, -2, -3, -4, 100, /**/ -5, -6, -0.5f, -8, 100, /**/ 100, 100, 100, 100, 100};

static void check_forward_by_hand(void)
{
    float out[2 * 1 * 2]; /* (2, 1, 2) */
    fill_nan(out, 4);
    stylize_pool_forward(STYLIZE_POOL_MAX, out, hand_in, 2, 3, 5);
    CHECK_CLOSE(out[0], 5, 0);
    CHECK_CLOSE(out[1], 8, 0);
    CHECK_CLOSE(out[2], -1, 0);
    CHECK_CLOSE(out[3], -0.5, 0);

    fill_nan(out, 4);
    stylize_pool_forward(STYLIZE_POOL_AVG, out, hand_in, 2, 3, 5);
    CHECK_CLOSE(out[0], 3.25, 1e-7);  /* (1 + 5 + 3 + 4) / 4 */
    CHECK_CLOSE(out[1], 4.25, 1e-7);  /* (2 + 0 + 8 + 7) / 4 */
    CHECK_CLOSE(out[2], -3.5, 1e-7);  /* (-1 - 2 - 5 - 6) / 4 */
    CHECK_CLOSE(out[3], -3.875, 1e-7); /* (-3 - 4 - 0.5 - 8) / 4 */

    /* 1 x 5 x 4: odd height, even width, out (1, 2, 2). */
    const float in2[5 * 4] = {0,  1,  2,  3,  /**/ 4,  5,  6,  7,  /**/ 8,  9, 10, 11,
                              12, 13, 14, 15, /**/ 99, 99, 99, 99};
    float out2[4];
    fill_nan(out2, 4);
    stylize_pool_forward(STYLIZE_POOL_MAX, out2, in2, 1, 5, 4);
    CHECK_CLOSE(out2[0], 5, 0);
    CHECK_CLOSE(out2[1], 7, 0);
    CHECK_CLOSE(out2[2], 13, 0);
    CHECK_CLOSE(out2[3], 15, 0);
    fill_nan(out2, 4);
    stylize_pool_forward(STYLIZE_POOL_AVG, out2, in2, 1, 5, 4);
    CHECK_CLOSE(out2[0], 2.5, 1e-7);
    CHECK_CLOSE(out2[1], 4.5, 1e-7);
    CHECK_CLOSE(out2[2], 10.5, 1e-7);
    CHECK_CLOSE(out2[3], 12.5, 1e-7);
}

static void check_backward_by_hand(void)
{
    const float gout[4] = {10, 20, 30, 40}; /* (2, 1, 2) */
    float gin[2 * 3 * 5];                   /* (2, 3, 5) */
    /* Max: each gradient lands on its window's maximum; everything else,
     * including the floored row and column, is 0. */
    const float want_max[30] = {0,  10, 0, 0, 0, /**/ 0, 0, 20, 0, 0, /**/ 0, 0, 0, 0, 0,
                                30, 0,  0, 0, 0, /**/ 0, 0, 40, 0, 0, /**/ 0, 0, 0, 0, 0};
    fill_nan(gin, 30);
    stylize_pool_backward(STYLIZE_POOL_MAX, gin, gout, hand_in, 2, 3, 5);
    int bad = 0;
    for (int i = 0; i < 30; i++)
        bad += !(gin[i] == want_max[i]);
    CHECK_MSG(bad == 0, "max backward: %d wrong elements", bad);

    const float want_avg[30] = {2.5f, 2.5f, 5, 5, 0, /**/ 2.5f, 2.5f, 5, 5, 0, /**/ 0, 0, 0, 0, 0,
                                7.5f, 7.5f, 10, 10, 0, /**/ 7.5f, 7.5f, 10, 10, 0, /**/ 0, 0, 0, 0, 0};
    fill_nan(gin, 30);
    stylize_pool_backward(STYLIZE_POOL_AVG, gin, gout, hand_in, 2, 3, 5);
    bad = 0;
    for (int i = 0; i < 30; i++)
        bad += !(gin[i] == want_avg[i]);
    CHECK_MSG(bad == 0, "avg backward: %d wrong elements", bad);
}

/* Inputs smaller than one window: empty output, all-zero gradient. */
static void check_degenerate(void)
{
    const float in[3] = {1, 2, 3};
    float gin[3];
    float out[1] = {-7};
    float gout[1] = {5};
    for (int k = 0; k < 2; k++) {
        stylize_pool_kind kind = k ? STYLIZE_POOL_AVG : STYLIZE_POOL_MAX;
        stylize_pool_forward(kind, out, in, 1, 1, 3); /* out (1, 0, 1): nothing written */
        CHECK(out[0] == -7);
        stylize_pool_forward(kind, out, in, 1, 3, 1); /* out (1, 1, 0) */
        CHECK(out[0] == -7);
        fill_nan(gin, 3);
        stylize_pool_backward(kind, gin, gout, in, 1, 1, 3);
        CHECK(gin[0] == 0 && gin[1] == 0 && gin[2] == 0);
        fill_nan(gin, 3);
        stylize_pool_backward(kind, gin, gout, in, 1, 3, 1);
        CHECK(gin[0] == 0 && gin[1] == 0 && gin[2] == 0);
    }
}

/* Ties route to the first maximum in row-major window order. */
static void check_ties(void)
{
    /* Four 2x2 windows side by side in a 2 x 8 input, window k at columns 2k, 2k+1.
     * Window 0: all equal         -> top-left.
     * Window 1: max at TR and BR  -> top-right.
     * Window 2: max at BL and BR  -> bottom-left.
     * Window 3: max at TL and BR  -> top-left. */
    const float in[2 * 8] = {3, 3, 1, 7, 1, 2, 9, 0, /**/ 3, 3, 2, 7, 7, 7, 4, 9};
    const float gout[4] = {1, 2, 3, 4};
    const float want[16] = {1, 0, 0, 2, 0, 0, 4, 0, /**/ 0, 0, 0, 0, 3, 0, 0, 0};
    float gin[16], out[4];
    fill_nan(gin, 16);
    stylize_pool_backward(STYLIZE_POOL_MAX, gin, gout, in, 1, 2, 8);
    int bad = 0;
    for (int i = 0; i < 16; i++)
        bad += !(gin[i] == want[i]);
    CHECK_MSG(bad == 0, "tie routing: %d wrong elements", bad);
    stylize_pool_forward(STYLIZE_POOL_MAX, out, in, 1, 2, 8);
    CHECK(out[0] == 3 && out[1] == 7 && out[2] == 7 && out[3] == 9);
}

/* A NaN in a max window propagates to the output. */
static void check_nan(void)
{
    const float in[2 * 4] = {1, 5, 2, 3, /**/ NAN, 0, 4, NAN};
    float out[2];
    stylize_pool_forward(STYLIZE_POOL_MAX, out, in, 1, 2, 4);
    CHECK(isnan(out[0]));
    CHECK(isnan(out[1]));
}

typedef struct {
    stylize_pool_kind kind;
    const float *r; /* (c, h/2, w/2) */
    int c, h, w;
    float *tmp; /* (c, h/2, w/2) */
} loss_ctx;

/* L(x) = sum r .* pool(x), summed in double. */
static double pool_loss(void *user, const float *x)
{
    const loss_ctx *l = user;
    size_t n = (size_t)l->c * (size_t)(l->h / 2) * (size_t)(l->w / 2);
    stylize_pool_forward(l->kind, l->tmp, x, l->c, l->h, l->w);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)l->r[i] * (double)l->tmp[i];
    return s;
}

static void check_fd(stylize_pool_kind kind, int c, int h, int w, uint64_t seed)
{
    size_t nin = (size_t)c * h * w, nout = (size_t)c * (size_t)(h / 2) * (size_t)(w / 2);
    float *x = xalloc(nin);     /* (c, h, w) */
    float *gin = xalloc(nin);   /* (c, h, w) */
    float *r = xalloc(nout);    /* (c, h/2, w/2) */
    float *tmp = xalloc(nout);  /* (c, h/2, w/2) */
    /* Distinct values 0.05 apart in shuffled order: with a perturbation of
     * 1e-2 no window's maximum changes, so the max loss is linear near x. */
    for (size_t i = 0; i < nin; i++)
        x[i] = 0.05f * (float)i - 2.0f;
    uint64_t s = seed;
    for (size_t i = nin - 1; i > 0; i--) {
        size_t j = (size_t)(tu_next(&s) % (i + 1));
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
    tu_fill(r, nout, seed + 1, -1, 1);
    fill_nan(gin, nin);
    stylize_pool_backward(kind, gin, r, x, c, h, w);
    loss_ctx ctx = {kind, r, c, h, w, tmp};
    double e = tu_fd_check(pool_loss, &ctx, x, gin, nin, 1e-2f, nin);
    CHECK_MSG(e <= 1e-3, "pool %s FD c %d h %d w %d: worst rel err %g",
              kind == STYLIZE_POOL_MAX ? "max" : "avg", c, h, w, e);
    free(x);
    free(gin);
    free(r);
    free(tmp);
}

/* Max pooling with recorded argmax equals the recomputing one exactly:
 * ties, NaN windows and odd sizes included. */
static void check_argmax(void)
{
    const int c = 3, h = 7, w = 9;
    size_t n = (size_t)c * h * w, no = (size_t)c * (h / 2) * (w / 2);
    float *in = xalloc(n), *o1 = xalloc(no), *o2 = xalloc(no), *g = xalloc(no);
    float *g1 = xalloc(n), *g2 = xalloc(n);
    uint8_t *idx = malloc(no);
    if (!in || !o1 || !o2 || !g || !g1 || !g2 || !idx) {
        CHECK(0);
        return;
    }
    tu_fill(in, n, 77, -1, 1);
    for (size_t i = 0; i < n; i += 5)
        in[i] = 0.5f; /* ties */
    in[10] = NAN;
    tu_fill(g, no, 78, -1, 1);
    fill_nan(g1, n);
    fill_nan(g2, n);
    stylize_pool_forward(STYLIZE_POOL_MAX, o1, in, c, h, w);
    stylize_pool_forward_argmax(o2, idx, in, c, h, w);
    stylize_pool_backward(STYLIZE_POOL_MAX, g1, g, in, c, h, w);
    stylize_pool_backward_argmax(g2, g, idx, c, h, w);
    int bad = 0, badg = 0, badi = 0;
    for (size_t i = 0; i < no; i++) {
        bad += memcmp(&o1[i], &o2[i], sizeof(float)) != 0;
        badi += idx[i] > 3;
    }
    for (size_t i = 0; i < n; i++)
        badg += memcmp(&g1[i], &g2[i], sizeof(float)) != 0;
    CHECK_MSG(bad == 0 && badg == 0 && badi == 0, "argmax pooling: %d outputs, %d gradients, %d indices differ",
              bad, badg, badi);
    /* average pooling's backward does not read the input */
    stylize_pool_backward(STYLIZE_POOL_AVG, g1, g, NULL, c, h, w);
    CHECK_CLOSE(g1[0], 0.25f * g[0], 0);
    free(in), free(o1), free(o2), free(g), free(g1), free(g2), free(idx);
}

/* The rule, one window at a time: index of the first maximum, the first
 * NaN winning (pool.c's specification, as in PyTorch). */
static int ref_first_max(const float v[4])
{
    int idx = 0;
    for (int i = 1; i < 4 && v[idx] == v[idx]; i++)
        if (v[i] > v[idx] || v[i] != v[i])
            idx = i;
    return idx;
}

/* Wide rows (several vectors of every width and a remainder) whose values
 * come from a small set, so that windows tie, mix -0 and +0, hold
 * infinities and NaNs (two payloads: the first NaN must be the one kept):
 * max (with and without argmax) and average, forward and backward, bit for
 * bit against the scalar rule. */
static void check_wide(void)
{
    const int c = 2, h = 5, w = 163, oh = h / 2, ow = w / 2;
    size_t n = (size_t)c * h * w, no = (size_t)c * oh * ow;
    float *in = xalloc(n), *o = xalloc(no), *oa = xalloc(no), *av = xalloc(no), *g = xalloc(no);
    float *gm = xalloc(n), *ga = xalloc(n), *gv = xalloc(n);
    uint8_t *idx = malloc(no);
    const float set[8] = {-1.0f, 0.0f, -0.0f, 1.0f, 2.0f, INFINITY, -INFINITY, NAN};
    uint64_t st = 99;
    for (size_t i = 0; i < n; i++) {
        in[i] = set[stylize_splitmix64(&st) % 8];
        if (in[i] != in[i] && (i & 1)) { /* a second payload */
            uint32_t u = 0x7fc00123u;
            memcpy(&in[i], &u, sizeof u);
        }
    }
    tu_fill(g, no, 5, -1, 1);
    stylize_pool_forward(STYLIZE_POOL_MAX, o, in, c, h, w);
    stylize_pool_forward_argmax(oa, idx, in, c, h, w);
    stylize_pool_forward(STYLIZE_POOL_AVG, av, in, c, h, w);
    stylize_pool_backward(STYLIZE_POOL_MAX, gm, g, in, c, h, w);
    stylize_pool_backward_argmax(ga, g, idx, c, h, w);
    stylize_pool_backward(STYLIZE_POOL_AVG, gv, g, NULL, c, h, w);
    int bad = 0, badg = 0;
    for (int k = 0; k < c; k++)
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                const float *r0 = in + ((size_t)k * h + 2 * y) * w + 2 * x, *r1 = r0 + w;
                float v[4] = {r0[0], r0[1], r1[0], r1[1]};
                size_t j = ((size_t)k * oh + y) * ow + x;
                int m = ref_first_max(v);
                float mean = 0.25f * ((v[0] + v[1]) + (v[2] + v[3])), q = 0.25f * g[j];
                bad += memcmp(&o[j], &v[m], 4) != 0 || memcmp(&oa[j], &v[m], 4) != 0 || idx[j] != m;
                /* the mean: bit for bit, or NaN on both sides (a sum of two
                 * NaNs may keep either payload once vectorised) */
                bad += memcmp(&av[j], &mean, 4) != 0 && !(av[j] != av[j] && mean != mean);
                for (int e = 0; e < 4; e++) {
                    size_t gi = ((size_t)k * h + 2 * y + e / 2) * w + 2 * x + e % 2;
                    float want = e == m ? g[j] : 0.0f;
                    badg += memcmp(&gm[gi], &want, 4) != 0 || memcmp(&ga[gi], &want, 4) != 0;
                    badg += memcmp(&gv[gi], &q, 4) != 0;
                }
            }
    CHECK_MSG(bad == 0 && badg == 0, "wide rows: %d outputs, %d gradients differ from the scalar rule", bad, badg);
    free(in), free(o), free(oa), free(av), free(g), free(gm), free(ga), free(gv), free(idx);
}

int main(void)
{
    check_wide();
    check_argmax();
    check_forward_by_hand();
    check_backward_by_hand();
    check_degenerate();
    check_ties();
    check_nan();
    for (int k = 0; k < 2; k++) {
        stylize_pool_kind kind = k ? STYLIZE_POOL_AVG : STYLIZE_POOL_MAX;
        check_fd(kind, 3, 7, 9, 41 + (uint64_t)k);
        check_fd(kind, 2, 6, 8, 43 + (uint64_t)k);
        check_fd(kind, 1, 5, 2, 45 + (uint64_t)k);
    }
    return TEST_SUMMARY();
}

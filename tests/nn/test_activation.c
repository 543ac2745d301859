/* Tests of ReLU: forward and backward values (including the kink, where the
 * gradient is 0), in-place use, NaN propagation, and a finite-difference
 * check away from the kink. */
#include "stylize/nn/activation.h"

#include <string.h>

#include "testutil.h"

static void check_values(void)
{
    const float in[6] = {-2.0f, -0.5f, 0.0f, 0.25f, 3.0f, -1e-30f};
    const float want[6] = {0.0f, 0.0f, 0.0f, 0.25f, 3.0f, 0.0f};
    float out[6];
    for (int i = 0; i < 6; i++)
        out[i] = NAN;
    stylize_relu_forward(out, in, 6);
    int bad = 0;
    for (int i = 0; i < 6; i++)
        bad += !(out[i] == want[i]);
    CHECK_MSG(bad == 0, "relu forward: %d wrong values", bad);

    /* In place. */
    float buf[6];
    memcpy(buf, in, sizeof buf);
    stylize_relu_forward(buf, buf, 6);
    bad = 0;
    for (int i = 0; i < 6; i++)
        bad += !(buf[i] == want[i]);
    CHECK_MSG(bad == 0, "relu forward in place: %d wrong values", bad);

    /* Backward from the forward output: gout passes where in > 0 only; in == 0 gives 0. */
    const float gout[6] = {1, 2, 3, 4, 5, 6};
    const float want_g[6] = {0, 0, 0, 4, 5, 0};
    float gin[6];
    for (int i = 0; i < 6; i++)
        gin[i] = NAN;
    stylize_relu_backward(gin, gout, out, 6);
    bad = 0;
    for (int i = 0; i < 6; i++)
        bad += !(gin[i] == want_g[i]);
    CHECK_MSG(bad == 0, "relu backward: %d wrong values", bad);
    CHECK(gin[2] == 0.0f); /* exactly at the kink */

    /* In place: gin == gout. */
    memcpy(buf, gout, sizeof buf);
    stylize_relu_backward(buf, buf, out, 6);
    bad = 0;
    for (int i = 0; i < 6; i++)
        bad += !(buf[i] == want_g[i]);
    CHECK_MSG(bad == 0, "relu backward in place: %d wrong values", bad);

    /* n == 0 touches nothing. */
    float untouched = 7.0f;
    stylize_relu_forward(&untouched, in, 0);
    stylize_relu_backward(&untouched, gout, out, 0);
    CHECK(untouched == 7.0f);
}

/* A NaN input stays NaN so that numeric failures surface downstream. */
static void check_nan(void)
{
    const float in[2] = {NAN, 1.0f};
    float out[2];
    stylize_relu_forward(out, in, 2);
    CHECK(isnan(out[0]));
    CHECK(out[1] == 1.0f);
}

typedef struct {
    const float *r; /* (n) */
    size_t n;
    float *tmp; /* (n) */
} loss_ctx;

/* L(x) = sum r .* relu(x), summed in double. */
static double relu_loss(void *user, const float *x)
{
    const loss_ctx *l = user;
    stylize_relu_forward(l->tmp, x, l->n);
    double s = 0;
    for (size_t i = 0; i < l->n; i++)
        s += (double)l->r[i] * (double)l->tmp[i];
    return s;
}

static void check_fd(void)
{
    enum { N = 500 };
    static float x[N], r[N], out[N], gin[N], tmp[N];
    uint64_t s = 51;
    /* |x| in [0.1, 1): a perturbation of 1e-2 never crosses the kink. */
    for (size_t i = 0; i < N; i++) {
        float m = tu_uniform(&s, 0.1f, 1.0f);
        x[i] = (tu_next(&s) & 1) ? m : -m;
    }
    tu_fill(r, N, 52, -1, 1);
    stylize_relu_forward(out, x, N);
    stylize_relu_backward(gin, r, out, N);
    loss_ctx ctx = {r, N, tmp};
    double e = tu_fd_check(relu_loss, &ctx, x, gin, N, 1e-2f, N);
    CHECK_MSG(e <= 1e-3, "relu FD: worst rel err %g", e);
    /* The check must see both branches. */
    int pos = 0, neg = 0;
    for (size_t i = 0; i < N; i++) {
        pos += x[i] > 0;
        neg += x[i] < 0;
    }
    CHECK(pos > 100 && neg > 100);
}

/* The bit-mask variants equal the plain ones exactly, on sizes that are not
 * multiples of 8 and on one large enough to be split over threads. */
static void check_mask(void)
{
    const size_t sizes[] = {1, 7, 8, 13, 200003};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        float *in = malloc(n * sizeof(float)), *o1 = malloc(n * sizeof(float));
        float *o2 = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float));
        float *g1 = malloc(n * sizeof(float)), *g2 = malloc(n * sizeof(float));
        uint8_t *bits = malloc((n + 7) / 8);
        if (!in || !o1 || !o2 || !g || !g1 || !g2 || !bits) {
            CHECK(0);
            return;
        }
        tu_fill(in, n, 90 + s, -1, 1);
        tu_fill(g, n, 190 + s, -1, 1);
        if (n > 3)
            in[3] = 0.0f, in[2] = -0.0f; /* the kink: zero gradient both ways */
        stylize_relu_forward(o1, in, n);
        stylize_relu_forward_mask(o2, in, n, bits);
        int bad = 0, badbit = 0;
        for (size_t i = 0; i < n; i++) {
            bad += memcmp(&o1[i], &o2[i], sizeof(float)) != 0;
            badbit += ((bits[i / 8] >> (i % 8)) & 1) != (o1[i] > 0.0f);
        }
        CHECK_MSG(bad == 0 && badbit == 0, "n %zu: %d outputs, %d mask bits differ", n, bad, badbit);
        stylize_relu_backward(g1, g, o1, n);
        memcpy(g2, g, n * sizeof(float));
        stylize_relu_backward_mask(g2, g2, bits, n); /* in place */
        bad = 0;
        for (size_t i = 0; i < n; i++)
            bad += memcmp(&g1[i], &g2[i], sizeof(float)) != 0;
        CHECK_MSG(bad == 0, "n %zu: %d gradients differ", n, bad);
        free(in), free(o1), free(o2), free(g), free(g1), free(g2), free(bits);
    }
}

int main(void)
{
    check_mask();
    check_values();
    check_nan();
    check_fd();
    return TEST_SUMMARY();
}

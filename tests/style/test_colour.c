/* Tests of colour control: YIQ luminance of known colours, luminance
 * matching (mean and standard deviation), colour histogram matching (mean
 * and covariance on correlated random colours, degenerate styles), and the
 * luminance + content-chroma restoration, including a content of another
 * size and argument errors. */
#include "stylize/style/colour.h"

#include "testutil.h"

static const double yiq[3][3] = {
    {0.299, 0.587, 0.114},
    {0.595716, -0.274453, -0.321263},
    {0.211456, -0.522591, 0.311135},
};

static void must_alloc(stylize_image *img, int w, int h)
{
    if (stylize_image_alloc(img, w, h, NULL) != STYLIZE_OK) {
        fprintf(stderr, "test_colour: cannot allocate a %dx%d image\n", w, h);
        exit(2);
    }
}

static size_t npix(const stylize_image *img)
{
    return (size_t)img->width * (size_t)img->height;
}

/* Component k (0 Y, 1 I, 2 Q) of pixel i. */
static double yiq_at(const stylize_image *img, int k, size_t i)
{
    size_t n = npix(img);
    return yiq[k][0] * img->data[i] + yiq[k][1] * img->data[n + i] + yiq[k][2] * img->data[2 * n + i];
}

static void lum_stats(const stylize_image *img, double *mean, double *sd)
{
    size_t n = npix(img);
    double s = 0, ss = 0;
    for (size_t i = 0; i < n; i++)
        s += yiq_at(img, 0, i);
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++) {
        double d = yiq_at(img, 0, i) - *mean;
        ss += d * d;
    }
    *sd = sqrt(ss / (double)n);
}

static void rgb_stats(const stylize_image *img, double mu[3], double cov[3][3])
{
    size_t n = npix(img);
    for (int c = 0; c < 3; c++) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += img->data[c * n + i];
        mu[c] = s / (double)n;
    }
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            double s = 0;
            for (size_t i = 0; i < n; i++)
                s += (img->data[a * n + i] - mu[a]) * (img->data[b * n + i] - mu[b]);
            cov[a][b] = s / (double)n;
        }
}

/* Correlated colours: mu + M u with u uniform in [-0.5, 0.5]^3. */
static void fill_correlated(stylize_image *img, uint64_t seed, const double mu[3], const double M[3][3])
{
    size_t n = npix(img);
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        double u[3];
        for (int k = 0; k < 3; k++)
            u[k] = tu_uniform(&s, -0.5f, 0.5f);
        for (int c = 0; c < 3; c++)
            img->data[c * n + i] = (float)(mu[c] + M[c][0] * u[0] + M[c][1] * u[1] + M[c][2] * u[2]);
    }
}

static void test_luminance_known(void)
{
    stylize_image in = {0}, out = {0};
    must_alloc(&in, 2, 1);
    /* pixel 0: pure red; pixel 1: (0.2, 0.4, 0.6) */
    float rgb[2][3] = {{1, 0, 0}, {0.2f, 0.4f, 0.6f}};
    for (int i = 0; i < 2; i++)
        for (int c = 0; c < 3; c++)
            in.data[c * 2 + i] = rgb[i][c];
    CHECK(stylize_colour_luminance_image(&out, &in, NULL) == STYLIZE_OK);
    CHECK(out.width == 2 && out.height == 1);
    double want[2] = {0.299, 0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6};
    for (int i = 0; i < 2; i++)
        for (int c = 0; c < 3; c++)
            CHECK_CLOSE(out.data[c * 2 + i], want[i], 1e-6);
    stylize_image_free(&out);
    stylize_image_free(&in);
}

static void test_luminance_matched(void)
{
    stylize_image style = {0}, content = {0}, out = {0};
    must_alloc(&style, 17, 13);
    must_alloc(&content, 20, 11);
    tu_fill(style.data, 3 * npix(&style), 11, 0.0f, 1.0f);
    tu_fill(content.data, 3 * npix(&content), 12, 0.3f, 0.6f);
    CHECK(stylize_colour_luminance_matched(&out, &style, &content, NULL) == STYLIZE_OK);
    CHECK(out.width == 17 && out.height == 13);
    double mc, sc, mo, so;
    lum_stats(&content, &mc, &sc);
    lum_stats(&out, &mo, &so);
    CHECK_CLOSE(mo, mc, 1e-3);
    CHECK_CLOSE(so, sc, 1e-3);
    /* Grey output: all three channels equal. */
    size_t n = npix(&out);
    int grey = 1;
    for (size_t i = 0; i < n; i++)
        grey &= out.data[i] == out.data[n + i] && out.data[i] == out.data[2 * n + i];
    CHECK(grey);
    /* The affine map keeps the style's luminance ordering (correlation 1). */
    double ms, ss;
    lum_stats(&style, &ms, &ss);
    double cov = 0;
    for (size_t i = 0; i < n; i++)
        cov += (yiq_at(&style, 0, i) - ms) * (out.data[i] - mo);
    CHECK_CLOSE(cov / (double)n / (ss * so), 1.0, 1e-4);
    stylize_image_free(&out);

    /* A constant style maps to the content's mean, without NaN. */
    for (size_t i = 0; i < 3 * npix(&style); i++)
        style.data[i] = 0.25f;
    CHECK(stylize_colour_luminance_matched(&out, &style, &content, NULL) == STYLIZE_OK);
    CHECK_CLOSE(out.data[0], mc, 1e-5);
    CHECK(isfinite(out.data[3 * n - 1]));
    stylize_image_free(&out);
    stylize_image_free(&style);
    stylize_image_free(&content);
}

static void check_histogram_case(const double mu_s[3], const double Ms[3][3], const double mu_c[3],
                                 const double Mc[3][3], uint64_t seed)
{
    stylize_image style = {0}, content = {0}, out = {0};
    must_alloc(&style, 40, 30);
    must_alloc(&content, 33, 27);
    fill_correlated(&style, seed, mu_s, Ms);
    fill_correlated(&content, seed + 1, mu_c, Mc);
    CHECK(stylize_colour_histogram_matched(&out, &style, &content, NULL) == STYLIZE_OK);
    CHECK(out.width == 40 && out.height == 30);
    size_t n = 3 * npix(&out);
    int inside = 1; /* no clamping happened: the statistics are exact */
    for (size_t i = 0; i < n; i++)
        inside &= out.data[i] > 0.0f && out.data[i] < 1.0f;
    CHECK(inside);
    double mc[3], cc[3][3], mo[3], co[3][3];
    rgb_stats(&content, mc, cc);
    rgb_stats(&out, mo, co);
    for (int a = 0; a < 3; a++) {
        CHECK_CLOSE(mo[a], mc[a], 1e-3);
        for (int b = 0; b < 3; b++)
            CHECK_MSG(fabs(co[a][b] - cc[a][b]) <= 1e-4, "cov[%d][%d] %.6g vs content %.6g", a, b,
                      co[a][b], cc[a][b]);
    }
    stylize_image_free(&out);
    stylize_image_free(&style);
    stylize_image_free(&content);
}

static void test_histogram_matched(void)
{
    /* Strongly correlated style channels, a differently shaped content. */
    const double mu_s[3] = {0.55, 0.45, 0.5};
    const double Ms[3][3] = {{0.30, 0.10, 0.02}, {0.25, -0.12, 0.05}, {0.10, 0.08, 0.20}};
    const double mu_c[3] = {0.45, 0.5, 0.6};
    const double Mc[3][3] = {{0.15, -0.05, 0.04}, {0.02, 0.20, -0.03}, {-0.06, 0.05, 0.18}};
    check_histogram_case(mu_s, Ms, mu_c, Mc, 101);
    /* Near-diagonal covariances (the Jacobi sweep has little to do). */
    const double Ds[3][3] = {{0.3, 0, 0}, {0, 0.2, 0.001}, {0, 0.001, 0.25}};
    const double Dc[3][3] = {{0.1, 0, 0}, {0, 0.22, 0}, {0, 0, 0.15}};
    check_histogram_case(mu_s, Ds, mu_c, Dc, 202);
    /* Content with nearly equal channel variances (repeated eigenvalues). */
    const double Ec[3][3] = {{0.15, 0, 0}, {0, 0.15, 0}, {0, 0, 0.15}};
    check_histogram_case(mu_c, Ms, mu_s, Ec, 303);

    /* A constant (degenerate) style: finite output in [0, 1]. */
    stylize_image style = {0}, content = {0}, out = {0};
    must_alloc(&style, 8, 8);
    must_alloc(&content, 8, 8);
    for (size_t i = 0; i < 3 * 64; i++)
        style.data[i] = 0.3f;
    tu_fill(content.data, 3 * 64, 7, 0.0f, 1.0f);
    CHECK(stylize_colour_histogram_matched(&out, &style, &content, NULL) == STYLIZE_OK);
    int ok = 1;
    for (size_t i = 0; i < 3 * 64; i++)
        ok &= isfinite(out.data[i]) && out.data[i] >= 0.0f && out.data[i] <= 1.0f;
    CHECK(ok);
    stylize_image_free(&out);
    /* Clamping: a wide content spread pushes values out of [0, 1]. */
    tu_fill(style.data, 3 * 64, 8, 0.45f, 0.55f);
    CHECK(stylize_colour_histogram_matched(&out, &style, &content, NULL) == STYLIZE_OK);
    ok = 1;
    for (size_t i = 0; i < 3 * 64; i++)
        ok &= out.data[i] >= 0.0f && out.data[i] <= 1.0f;
    CHECK(ok);
    stylize_image_free(&out);
    stylize_image_free(&style);
    stylize_image_free(&content);
}

static void test_restore(void)
{
    stylize_image result = {0}, orig = {0}, content = {0};
    int w = 19, h = 14;
    must_alloc(&result, w, h);
    must_alloc(&orig, w, h);
    must_alloc(&content, w, h);
    size_t n = npix(&result);
    tu_fill(result.data, 3 * n, 21, 0.3f, 0.7f);
    memcpy(orig.data, result.data, 3 * n * sizeof(float));
    tu_fill(content.data, 3 * n, 22, 0.4f, 0.6f);
    CHECK(stylize_colour_restore(&result, &content, NULL) == STYLIZE_OK);
    CHECK(result.width == w && result.height == h);
    double worst_y = 0, worst_iq = 0;
    for (size_t i = 0; i < n; i++) {
        double y = (orig.data[i] + orig.data[n + i] + orig.data[2 * n + i]) / 3.0;
        worst_y = fmax(worst_y, fabs(yiq_at(&result, 0, i) - y));
        for (int k = 1; k < 3; k++)
            worst_iq = fmax(worst_iq, fabs(yiq_at(&result, k, i) - yiq_at(&content, k, i)));
    }
    CHECK_MSG(worst_y <= 1e-3, "luminance off by %g", worst_y);
    CHECK_MSG(worst_iq <= 1e-3, "chroma off by %g", worst_iq);

    /* A grey result carrying the content's luminance gives back the content. */
    for (size_t i = 0; i < n; i++) {
        float y = (float)yiq_at(&content, 0, i);
        result.data[i] = result.data[n + i] = result.data[2 * n + i] = y;
    }
    CHECK(stylize_colour_restore(&result, &content, NULL) == STYLIZE_OK);
    double worst = 0;
    for (size_t i = 0; i < 3 * n; i++)
        worst = fmax(worst, fabs(result.data[i] - content.data[i]));
    CHECK_MSG(worst <= 1e-4, "grey + content colours off by %g", worst);
    stylize_image_free(&content);

    /* Content of another size (a uniform colour, so the resize is exact). */
    stylize_image big = {0};
    must_alloc(&big, 2 * w + 3, 2 * h + 1);
    size_t nb = npix(&big);
    const float col[3] = {0.6f, 0.45f, 0.35f};
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < nb; i++)
            big.data[c * nb + i] = col[c];
    for (size_t i = 0; i < 3 * n; i++)
        result.data[i] = 0.5f;
    CHECK(stylize_colour_restore(&result, &big, NULL) == STYLIZE_OK);
    CHECK(result.width == w && result.height == h);
    double ci = yiq[1][0] * col[0] + yiq[1][1] * col[1] + yiq[1][2] * col[2];
    double cq = yiq[2][0] * col[0] + yiq[2][1] * col[1] + yiq[2][2] * col[2];
    worst = 0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs(yiq_at(&result, 0, i) - 0.5));
        worst = fmax(worst, fabs(yiq_at(&result, 1, i) - ci));
        worst = fmax(worst, fabs(yiq_at(&result, 2, i) - cq));
    }
    CHECK_MSG(worst <= 1e-4, "resized content: off by %g", worst);

    /* Clamped to [0, 1]: a white result with saturated content chroma. */
    for (size_t i = 0; i < 3 * n; i++)
        result.data[i] = 1.0f;
    for (size_t i = 0; i < nb; i++) {
        big.data[i] = 1.0f;
        big.data[nb + i] = 0.0f;
        big.data[2 * nb + i] = 0.0f;
    }
    CHECK(stylize_colour_restore(&result, &big, NULL) == STYLIZE_OK);
    int ok = 1;
    for (size_t i = 0; i < 3 * n; i++)
        ok &= result.data[i] >= 0.0f && result.data[i] <= 1.0f;
    CHECK(ok);
    stylize_image_free(&big);
    stylize_image_free(&orig);
    stylize_image_free(&result);
}

static void test_errors(void)
{
    stylize_image empty = {0}, img = {0}, out = {0};
    stylize_error err;
    must_alloc(&img, 4, 4);
    CHECK(stylize_colour_luminance_image(&out, &empty, &err) == STYLIZE_ERR_ARG);
    CHECK(strlen(err.msg) > 0);
    CHECK(out.data == NULL);
    CHECK(stylize_colour_luminance_matched(&out, &img, &empty, &err) == STYLIZE_ERR_ARG);
    CHECK(stylize_colour_histogram_matched(&out, &empty, &img, &err) == STYLIZE_ERR_ARG);
    CHECK(stylize_colour_restore(&img, &empty, &err) == STYLIZE_ERR_ARG);
    CHECK(stylize_colour_restore(&empty, &img, NULL) == STYLIZE_ERR_ARG);
    stylize_image_free(&img);
}

int main(void)
{
    test_luminance_known();
    test_luminance_matched();
    test_histogram_matched();
    test_restore();
    test_errors();
    return TEST_SUMMARY();
}

/* Colour control: luminance-only transfer (YIQ) and colour histogram
 * matching by mean and covariance (Gatys et al. 2016, "Preserving Color in
 * Neural Artistic Style Transfer").
 *
 * All statistics are accumulated in double over the planar (3, h, w) float
 * images. The 3x3 symmetric square roots come from a cyclic Jacobi
 * eigendecomposition. Nothing here prints; every output image is allocated
 * here and owned by the caller (stylize_image_free). */
#include "stylize/style/colour.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

/* Added to the diagonal of both covariance matrices before the square roots,
 * so that a (nearly) degenerate colour distribution stays invertible. */
#define COLOUR_COV_EPS 1e-5

/* Largest number of Jacobi sweeps (a 3x3 matrix converges in a handful). */
#define JACOBI_MAX_SWEEPS 64

/* RGB -> YIQ (NTSC 1953 primaries). Row 0 is the luminance. */
static const double rgb_to_yiq[3][3] = {
    {0.299, 0.587, 0.114},
    {0.595716, -0.274453, -0.321263},
    {0.211456, -0.522591, 0.311135},
};

static stylize_status check_image(const stylize_image *img, const char *what, stylize_error *err)
{
    if (!img || !img->data || img->width < 1 || img->height < 1)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "colour: %s image is empty", what);
    return STYLIZE_OK;
}

static size_t plane_size(const stylize_image *img)
{
    return (size_t)img->width * (size_t)img->height;
}

static float clamp01(double v)
{
    if (!(v > 0.0)) /* also maps NaN to 0 */
        return 0.0f;
    if (v > 1.0)
        return 1.0f;
    return (float)v;
}

/* inv = m^{-1} by cofactors (m is well conditioned: the YIQ matrix). */
static void invert3(const double m[3][3], double inv[3][3])
{
    double c00 = m[1][1] * m[2][2] - m[1][2] * m[2][1];
    double c01 = m[1][2] * m[2][0] - m[1][0] * m[2][2];
    double c02 = m[1][0] * m[2][1] - m[1][1] * m[2][0];
    double det = m[0][0] * c00 + m[0][1] * c01 + m[0][2] * c02;
    double d = 1.0 / det;
    inv[0][0] = c00 * d;
    inv[1][0] = c01 * d;
    inv[2][0] = c02 * d;
    inv[0][1] = (m[0][2] * m[2][1] - m[0][1] * m[2][2]) * d;
    inv[1][1] = (m[0][0] * m[2][2] - m[0][2] * m[2][0]) * d;
    inv[2][1] = (m[0][1] * m[2][0] - m[0][0] * m[2][1]) * d;
    inv[0][2] = (m[0][1] * m[1][2] - m[0][2] * m[1][1]) * d;
    inv[1][2] = (m[0][2] * m[1][0] - m[0][0] * m[1][2]) * d;
    inv[2][2] = (m[0][0] * m[1][1] - m[0][1] * m[1][0]) * d;
}

static double luminance_at(const float *data, size_t plane, size_t i)
{
    return rgb_to_yiq[0][0] * data[i] + rgb_to_yiq[0][1] * data[plane + i] +
           rgb_to_yiq[0][2] * data[2 * plane + i];
}

/* Mean and (population) standard deviation of the luminance of img. */
static void luminance_stats(const stylize_image *img, double *mean, double *sd)
{
    size_t n = plane_size(img);
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += luminance_at(img->data, n, i);
    double m = s / (double)n;
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = luminance_at(img->data, n, i) - m;
        ss += d * d;
    }
    *mean = m;
    *sd = sqrt(ss / (double)n);
}

stylize_status stylize_colour_luminance_image(stylize_image *out, const stylize_image *in,
                                              stylize_error *err)
{
    stylize_status st = check_image(in, "input", err);
    if (st != STYLIZE_OK)
        return st;
    if ((st = stylize_image_alloc(out, in->width, in->height, err)) != STYLIZE_OK)
        return st;
    size_t n = plane_size(in);
    for (size_t i = 0; i < n; i++) {
        float y = (float)luminance_at(in->data, n, i);
        out->data[i] = out->data[n + i] = out->data[2 * n + i] = y;
    }
    return STYLIZE_OK;
}

stylize_status stylize_colour_luminance_matched(stylize_image *out, const stylize_image *style,
                                                const stylize_image *content, stylize_error *err)
{
    stylize_status st = check_image(style, "style", err);
    if (st == STYLIZE_OK)
        st = check_image(content, "content", err);
    if (st != STYLIZE_OK)
        return st;
    double mu_s, sd_s, mu_c, sd_c;
    luminance_stats(style, &mu_s, &sd_s);
    luminance_stats(content, &mu_c, &sd_c);
    /* A constant style luminance has no spread to scale: it maps to the
     * content's mean. */
    double gain = sd_s > 1e-12 ? sd_c / sd_s : 0.0;
    if ((st = stylize_image_alloc(out, style->width, style->height, err)) != STYLIZE_OK)
        return st;
    size_t n = plane_size(style);
    for (size_t i = 0; i < n; i++) {
        float y = (float)((luminance_at(style->data, n, i) - mu_s) * gain + mu_c);
        out->data[i] = out->data[n + i] = out->data[2 * n + i] = y;
    }
    return STYLIZE_OK;
}

/* Mean (3) and covariance (3x3, population) of the RGB colours of img. */
static void colour_stats(const stylize_image *img, double mu[3], double cov[3][3])
{
    size_t n = plane_size(img);
    const float *p[3] = {img->data, img->data + n, img->data + 2 * n};
    for (int c = 0; c < 3; c++) {
        double s = 0.0;
        for (size_t i = 0; i < n; i++)
            s += p[c][i];
        mu[c] = s / (double)n;
    }
    double acc[3][3] = {{0}};
    for (size_t i = 0; i < n; i++) {
        double d[3] = {p[0][i] - mu[0], p[1][i] - mu[1], p[2][i] - mu[2]};
        for (int a = 0; a < 3; a++)
            for (int b = a; b < 3; b++)
                acc[a][b] += d[a] * d[b];
    }
    for (int a = 0; a < 3; a++)
        for (int b = a; b < 3; b++)
            cov[a][b] = cov[b][a] = acc[a][b] / (double)n;
}

/* Eigendecomposition of the symmetric 3x3 matrix m by cyclic Jacobi
 * rotations: m = V diag(lambda) V^T, eigenvectors in the columns of V. */
static void jacobi3(const double m[3][3], double lambda[3], double V[3][3])
{
    double a[3][3];
    memcpy(a, m, sizeof a);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            V[i][j] = i == j ? 1.0 : 0.0;
    for (int sweep = 0; sweep < JACOBI_MAX_SWEEPS; sweep++) {
        double off = fabs(a[0][1]) + fabs(a[0][2]) + fabs(a[1][2]);
        double diag = fabs(a[0][0]) + fabs(a[1][1]) + fabs(a[2][2]);
        if (off == 0.0 || off <= 1e-18 * diag)
            break;
        for (int p = 0; p < 2; p++) {
            for (int q = p + 1; q < 3; q++) {
                if (a[p][q] == 0.0)
                    continue;
                /* Rotation that zeroes a[p][q]: t = tan(phi), the smaller root of
                 * t^2 + 2 theta t - 1 = 0 with theta = (a_qq - a_pp) / (2 a_pq). */
                double theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                double t = 1.0 / (fabs(theta) + sqrt(theta * theta + 1.0));
                if (theta < 0.0)
                    t = -t;
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                /* a = J^T a J with J the rotation in the (p, q) plane. */
                for (int k = 0; k < 3; k++) {
                    double akp = a[k][p], akq = a[k][q];
                    a[k][p] = c * akp - s * akq;
                    a[k][q] = s * akp + c * akq;
                }
                for (int k = 0; k < 3; k++) {
                    double apk = a[p][k], aqk = a[q][k];
                    a[p][k] = c * apk - s * aqk;
                    a[q][k] = s * apk + c * aqk;
                }
                a[p][q] = a[q][p] = 0.0;
                for (int k = 0; k < 3; k++) {
                    double vkp = V[k][p], vkq = V[k][q];
                    V[k][p] = c * vkp - s * vkq;
                    V[k][q] = s * vkp + c * vkq;
                }
            }
        }
    }
    for (int i = 0; i < 3; i++)
        lambda[i] = a[i][i];
}

/* out = m^{power} for symmetric positive semi-definite m, power = +1/2 or
 * -1/2 (eigenvalues floored at a tiny positive value for the inverse). */
static void sym_sqrt(const double m[3][3], int inverse, double out[3][3])
{
    double lambda[3], V[3][3], f[3];
    jacobi3(m, lambda, V);
    for (int i = 0; i < 3; i++) {
        double l = lambda[i] > 1e-300 ? lambda[i] : 1e-300;
        f[i] = inverse ? 1.0 / sqrt(l) : (lambda[i] > 0.0 ? sqrt(lambda[i]) : 0.0);
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0.0;
            for (int k = 0; k < 3; k++)
                s += V[i][k] * f[k] * V[j][k];
            out[i][j] = s;
        }
}

stylize_status stylize_colour_histogram_matched(stylize_image *out, const stylize_image *style,
                                                const stylize_image *content, stylize_error *err)
{
    stylize_status st = check_image(style, "style", err);
    if (st == STYLIZE_OK)
        st = check_image(content, "content", err);
    if (st != STYLIZE_OK)
        return st;
    double mu_s[3], mu_c[3], cov_s[3][3], cov_c[3][3], root_c[3][3], invroot_s[3][3], A[3][3];
    colour_stats(style, mu_s, cov_s);
    colour_stats(content, mu_c, cov_c);
    for (int i = 0; i < 3; i++) {
        cov_s[i][i] += COLOUR_COV_EPS;
        cov_c[i][i] += COLOUR_COV_EPS;
    }
    sym_sqrt(cov_c, 0, root_c);
    sym_sqrt(cov_s, 1, invroot_s);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0.0;
            for (int k = 0; k < 3; k++)
                s += root_c[i][k] * invroot_s[k][j];
            A[i][j] = s;
        }
    if ((st = stylize_image_alloc(out, style->width, style->height, err)) != STYLIZE_OK)
        return st;
    size_t n = plane_size(style);
    const float *p = style->data;
    for (size_t i = 0; i < n; i++) {
        double d[3] = {p[i] - mu_s[0], p[n + i] - mu_s[1], p[2 * n + i] - mu_s[2]};
        for (int c = 0; c < 3; c++)
            out->data[c * n + i] = clamp01(A[c][0] * d[0] + A[c][1] * d[1] + A[c][2] * d[2] + mu_c[c]);
    }
    return STYLIZE_OK;
}

stylize_status stylize_colour_restore(stylize_image *result, const stylize_image *content,
                                      stylize_error *err)
{
    stylize_status st = check_image(result, "result", err);
    if (st == STYLIZE_OK)
        st = check_image(content, "content", err);
    if (st != STYLIZE_OK)
        return st;
    stylize_image resized = {0}; /* owned here when content needs resizing */
    const stylize_image *src = content;
    if (content->width != result->width || content->height != result->height) {
        if ((st = stylize_image_resize(&resized, content, result->width, result->height, err)) !=
            STYLIZE_OK) {
            stylize_error_prefix(err, "colour: resizing the content to %dx%d", result->width,
                                 result->height);
            return st;
        }
        src = &resized;
    }
    double inv[3][3];
    invert3(rgb_to_yiq, inv);
    size_t n = plane_size(result);
    float *r = result->data;
    const float *c = src->data;
    for (size_t i = 0; i < n; i++) {
        double y = ((double)r[i] + (double)r[n + i] + (double)r[2 * n + i]) / 3.0;
        double ci = rgb_to_yiq[1][0] * c[i] + rgb_to_yiq[1][1] * c[n + i] + rgb_to_yiq[1][2] * c[2 * n + i];
        double cq = rgb_to_yiq[2][0] * c[i] + rgb_to_yiq[2][1] * c[n + i] + rgb_to_yiq[2][2] * c[2 * n + i];
        for (int k = 0; k < 3; k++)
            r[k * n + i] = clamp01(inv[k][0] * y + inv[k][1] * ci + inv[k][2] * cq);
    }
    stylize_image_free(&resized);
    return STYLIZE_OK;
}

/* Photorealism figures of a result (stylize/post/smooth.h): L_m per pixel
 * and the SSIM of the Sobel edge maps. */
#include <math.h>
#include <string.h>

#include "stylize/post/smooth.h"
#include "stylize/style/matting.h"

enum { F_EX, F_EY, F_MX, F_MY, F_XX, F_YY, F_XY, F_TMP, F_MAPS };

/* e (h, w) = |Sobel gradient| of img's Rec. 601 luminance, borders replicated. */
static void sobel_luma(const float *img, double *e, int w, int h)
{
    size_t n = (size_t)w * h;
#define LUMA(xx, yy)                                                                                           \
    (0.299 * img[(size_t)(yy) * w + (xx)] + 0.587 * img[n + (size_t)(yy) * w + (xx)] +                       \
     0.114 * img[2 * n + (size_t)(yy) * w + (xx)])
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int x0 = x > 0 ? x - 1 : 0, x1 = x < w - 1 ? x + 1 : w - 1;
            int y0 = y > 0 ? y - 1 : 0, y1 = y < h - 1 ? y + 1 : h - 1;
            double gx = (LUMA(x1, y0) + 2 * LUMA(x1, y) + LUMA(x1, y1)) - (LUMA(x0, y0) + 2 * LUMA(x0, y) + LUMA(x0, y1));
            double gy = (LUMA(x0, y1) + 2 * LUMA(x, y1) + LUMA(x1, y1)) - (LUMA(x0, y0) + 2 * LUMA(x, y0) + LUMA(x1, y0));
            e[(size_t)y * w + x] = sqrt(gx * gx + gy * gy);
        }
#undef LUMA
}

/* dst = src blurred by the normalised Gaussian (11 taps, sigma 1.5), clipped at the border. */
static void gauss(const double *src, double *dst, double *tmp, int w, int h)
{
    double k[11];
    for (int i = 0; i < 11; i++)
        k[i] = exp(-(i - 5) * (i - 5) / (2 * 1.5 * 1.5));
    for (int pass = 0; pass < 2; pass++) {
        const double *s = pass ? tmp : src;
        double *d = pass ? dst : tmp;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double acc = 0, ws = 0;
                for (int i = -5; i <= 5; i++) {
                    int xx = pass ? x : x + i, yy = pass ? y + i : y;
                    if (xx < 0 || xx >= w || yy < 0 || yy >= h)
                        continue;
                    acc += k[i + 5] * s[(size_t)yy * w + xx];
                    ws += k[i + 5];
                }
                d[(size_t)y * w + x] = acc / ws;
            }
    }
}

static double edge_ssim(double *maps, const float *guide, const float *img, int w, int h)
{
    size_t n = (size_t)w * h;
    double *m[F_MAPS];
    for (int k = 0; k < F_MAPS; k++)
        m[k] = maps + (size_t)k * n;
    sobel_luma(guide, m[F_EX], w, h);
    sobel_luma(img, m[F_EY], w, h);
    gauss(m[F_EX], m[F_MX], m[F_TMP], w, h);
    gauss(m[F_EY], m[F_MY], m[F_TMP], w, h);
    for (int k = 0; k < 3; k++) { /* second moments, through F_XY as the product's buffer */
        const double *a = m[k == 1 ? F_EY : F_EX], *b = m[k == 0 ? F_EX : F_EY];
        double *prod = m[F_XY], *dst = m[F_XX + k];
        for (size_t i = 0; i < n; i++)
            prod[i] = a[i] * b[i];
        gauss(prod, dst, m[F_TMP], w, h); /* k == 2 blurs F_XY onto itself through tmp: allowed */
    }
    const double L = 4.0 * sqrt(2.0), c1 = (0.01 * L) * (0.01 * L), c2 = (0.03 * L) * (0.03 * L);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double mx = m[F_MX][i], my = m[F_MY][i];
        double vx = m[F_XX][i] - mx * mx, vy = m[F_YY][i] - my * my, cxy = m[F_XY][i] - mx * my;
        sum += (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
    }
    return sum / (double)n;
}

stylize_status stylize_photo_figures(const float *guide, const float *img, int w, int h, stylize_mem *mem,
                                     double *lm_per_pixel, double *edge_ssim_out, stylize_error *err)
{
    size_t n = (size_t)w * h;
    *lm_per_pixel = 0, *edge_ssim_out = 0;
    stylize_matting *m = NULL;
    stylize_status st = stylize_matting_create(&m, w, h, STYLIZE_MATTING_EPS, mem, err);
    if (st != STYLIZE_OK)
        return st;
    int dry = stylize_mem_is_dry(mem);
    if (!dry) {
        stylize_matting_set_image(m, guide, NULL, NULL);
        *lm_per_pixel = stylize_matting_loss(m, img, NULL, NULL, 1.0) / (double)n;
    }
    stylize_matting_free(m);
    double *maps = NULL;
    size_t bytes = stylize_mem_mul(n, F_MAPS, sizeof(double));
    if ((st = stylize_mem_alloc(mem, (void **)&maps, bytes, "the edge maps", err)) != STYLIZE_OK)
        return st;
    if (!dry)
        *edge_ssim_out = edge_ssim(maps, guide, img, w, h);
    stylize_mem_free(mem, maps, bytes);
    return STYLIZE_OK;
}

/* stylize: post-processing that pulls a stylised photo back onto the
 * content's edges (Deep Photo Style Transfer's last step), and the figures
 * that say how photographic a result is.
 *
 * Guided filter (He, Sun and Tang 2010), with the content I (RGB) as guide
 * and each output channel p as input, over (2r + 1)^2 boxes (clipped at the
 * border) with regulariser eps:
 *   a_k = (Sigma_k + eps Id)^-1 cov_k(I, p),   b_k = mean_k(p) - a_k . mu_k,
 *   q_i = mean_{k containing i}(a_k) . I_i + mean_{k containing i}(b_k).
 * Box sums by running sums: O(pixels) whatever r.
 *
 * Smooth local affine (Luan et al.'s reference code): for every pixel the
 * affine map [R G B 1] -> output over its 3x3 patch by least squares
 * (ridge STYLIZE_AFFINE_RIDGE on the colour coefficients), then the 12
 * coefficients joint-bilateral filtered with the content as guide (radius
 * r, spatial sigma r / 3, range sigma edge on the channel-mean squared
 * colour difference), then applied to the content: O(pixels r^2).
 *
 * Images are RGB (3, h, w) in [0, 1]; buffers come from the caller's plan
 * (a dry plan only counts them and computes nothing). */
#ifndef STYLIZE_SMOOTH_H
#define STYLIZE_SMOOTH_H

#include "stylize/core/mem.h"
#include "stylize/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { STYLIZE_SMOOTH_NONE = 0, STYLIZE_SMOOTH_GUIDED, STYLIZE_SMOOTH_AFFINE } stylize_smooth_kind;

#define STYLIZE_AFFINE_RIDGE 1e-3

typedef struct {
    stylize_smooth_kind kind;
    int radius;  /* guided: box radius; affine: the bilateral filter's radius (the reference's f_radius 7) */
    double edge; /* guided: eps = edge^2; affine: the range sigma (the reference's f_edge 0.05) */
} stylize_smooth_params;

/* Defaults: radius 7, edge 0.05 (kind none). */
void stylize_smooth_defaults(stylize_smooth_params *p);

/* "none", "guided", "affine" -> kind; -1 if unknown. */
int stylize_smooth_parse(const char *name);
const char *stylize_smooth_name(stylize_smooth_kind k);

/* out (3, h, w) = the filtered img (3, h, w) with guide (3, h, w); out may
 * be img. Temporary buffers through mem. Kind none copies. */
stylize_status stylize_smooth(const stylize_smooth_params *p, const float *guide, const float *img, float *out,
                              int w, int h, stylize_mem *mem, stylize_error *err);

/* Photorealism figures of img against the content guide (both (3, h, w)):
 * *lm_per_pixel = sum_c V_c^T M_guide V_c / (h w) (the Matting Laplacian
 * of matting.h, eps STYLIZE_MATTING_EPS); *edge_ssim = the mean SSIM
 * (Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03, range 4 sqrt 2) between
 * the Sobel gradient magnitudes of the two images' luminance (Rec. 601):
 * 1 when the edges are the content's. Buffers through mem. */
stylize_status stylize_photo_figures(const float *guide, const float *img, int w, int h, stylize_mem *mem,
                                     double *lm_per_pixel, double *edge_ssim, stylize_error *err);

#ifdef __cplusplus
}
#endif
#endif

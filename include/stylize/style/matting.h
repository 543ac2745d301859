/* stylize: the Matting Laplacian of an image (Levin, Lischinski and Weiss
 * 2008), matrix-free, for the photorealism term of Deep Photo Style Transfer
 * (Luan et al. 2017): L_m = sum_c V_c^T M V_c.
 *
 * For every 3x3 window w_k whose centre is at least one pixel from the
 * border, with mu_k and Sigma_k the mean and covariance of the image's
 * colours I (in [0, 1]) over the window and A_k = (Sigma_k + eps/9 Id)^-1,
 *   M_ij = sum_{k: i, j in w_k} (delta_ij - (1 + (I_i - mu_k)^T A_k (I_j - mu_k)) / 9).
 * M v is computed window by window without a matrix: with s_k = sum_{j in w_k}
 * v_j and t_k = sum_{j in w_k} (I_j - mu_k) v_j, a_k = A_k t_k,
 *   (M v)_i = n_i v_i - sum_{k containing i} ((s_k - mu_k^T a_k) + I_i^T a_k) / 9
 * (n_i the windows containing i): a few 3x3 box sums per product. mu_k and
 * A_k are computed once, in double. */
#ifndef STYLIZE_MATTING_H
#define STYLIZE_MATTING_H

#include <stddef.h>
#include "stylize/core/mem.h"
#include "stylize/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STYLIZE_MATTING_EPS 1e-7

typedef struct stylize_matting stylize_matting; /* opaque */

/* Allocates the windows' buffers for a w x h image, h, w >= 3, through mem
 * (NULL: malloc; a dry plan only counts). *out is owned by the caller:
 * stylize_matting_free. set_image must be called before apply or loss. */
stylize_status stylize_matting_create(stylize_matting **out, int w, int h, double eps, stylize_mem *mem,
                                      stylize_error *err);
void stylize_matting_free(stylize_matting *m); /* NULL is allowed */
/* Bytes create allocates for a w x h image. */
size_t stylize_matting_bytes(int w, int h);

/* Precomputes mu_k and A_k of every window of the image I_c = a_c x_c + b_c
 * (x (3, h, w), borrowed during the call; a, b NULL: 1 and 0), RGB in
 * [0, 1] (any channel order: M does not depend on it). Allocates nothing. */
void stylize_matting_set_image(stylize_matting *m, const float *x, const double *a, const double *b);

/* out (h w) = M v for v (h w); double. Allocates nothing. */
void stylize_matting_apply(stylize_matting *m, const double *v, double *out);

/* L = sum_c V_c^T M V_c with V_c = a_c x_c (a NULL: 1; an offset b_c
 * would not change L, since M 1 = 0), x (3, h, w). grad (3, h, w), if not
 * NULL, accumulates scale * dL/dx = scale * 2 a_c M V_c. Returns L
 * (unscaled). Allocates nothing. */
double stylize_matting_loss(stylize_matting *m, const float *x, const double *a, float *grad, double scale);

#ifdef __cplusplus
}
#endif
#endif

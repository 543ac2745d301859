/* stylize: the style-transfer / texture objective over an image x.
 *
 *   L_total = alpha sum_l c_l L_content,l + beta sum_l w_l E_l + tv TV(x)
 *             + lambda sum_c V_c^T M_I V_c
 *
 * with L_content,l and E_l as in losses.h, computed on VGG-19 layers given
 * by index (network.h). Style targets A_l are Gram matrices of one or more
 * style images (blended with weights), rescaled by M_x / M_style so that a
 * style image of another size than x gives a Gram matrix of the same scale
 * (exactly the paper's A when the sizes are equal). Targets are computed once;
 * evaluation allocates nothing. */
#ifndef STYLIZE_OBJECTIVE_H
#define STYLIZE_OBJECTIVE_H

#include "stylize/core/mem.h"
#include "stylize/vgg/network.h"
#include "stylize/core/status.h"
#include "stylize/vgg/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int layer;     /* network layer index, 0..36 */
    double weight; /* c_l or w_l */
} stylize_layer_weight;

typedef struct {
    stylize_pool_kind pool;
    int width, height; /* size of x */
    int n_content;
    stylize_layer_weight content[STYLIZE_VGG19_NLAYERS];
    int n_style;
    stylize_layer_weight style[STYLIZE_VGG19_NLAYERS];
    double alpha, beta, tv;
    /* As neural-style's -normalize_gradients: each layer's gradient is divided
     * by its L1 norm before weighting (loss values unchanged). */
    int normalise_gradients;
    /* Random-feature mode: each layer's loss is divided by its target's
     * energy (1/2 sum P^2 for content, 1/(4 N^2 M^2) sum A^2 for style), so
     * that layers of untrained features contribute comparably. */
    int normalise_by_target;
    /* Spatial control (Gatys et al. 2017): 0 for none, else the number of
     * regions of x, each with its own mask (set_region_mask) and its own
     * style targets (add_style_region). Each style layer's loss is then the
     * sum over regions of E_l,r computed on guided Gram matrices
     * G_r = (F o m_r)(F o m_r)^T, with M_l replaced by the region's area
     * sum m_r at that layer. Masks are carried to each layer by 2x2
     * averaging at every pooling. */
    int n_regions;
    /* Spatial tiling: 0 runs the network on the whole of x at once. Else it
     * runs on horizontal strips of x of tile_rows rows (rounded up to a
     * multiple of 2^pools, the network's downsampling), each computed with
     * enough rows of halo above and below that every loss layer's values in
     * the strip are exact: Gram matrices and content sums accumulate strip by
     * strip, then each strip's backward injects the loss gradients at its own
     * positions only and the strips' image gradients add up. The result
     * equals the untiled one (up to summation order); memory grows with the
     * strip instead of the image, for the price of the halo and a second
     * forward of every strip but one. Not with normalise_gradients. */
    int tile_rows;
    /* Photorealism (Luan et al. 2017), lambda: 0 for none, else the term
     * lambda sum_c V_c^T M_I V_c is added, V_c channel c of x as pixels in
     * [0, 1] (x converted back from the network's input convention) and
     * M_I the Matting Laplacian (matting.h, eps STYLIZE_MATTING_EPS) of the
     * content image given to set_content. It lives on pixels: unchanged by
     * tiling; its windows (stylize_matting_bytes) are part of the
     * objective's memory. */
    double photorealism;
    /* With regions: each region's style loss E_l,r is weighted by its share
     * of the layer's positions, area_r / M_l (as Luan et al.'s reference
     * code weights its segments). */
    int region_area_weights;
} stylize_objective_spec;

#define STYLIZE_MAX_REGIONS 16

typedef struct {
    double total;
    double content;        /* alpha * sum c_l L_content,l (after normalisation) */
    double style;          /* beta * sum w_l E_l */
    double tv;             /* tv * TV(x) */
    double photo;          /* lambda * L_m */
    double matting;        /* raw L_m = sum_c V_c^T M_I V_c */
    double content_layer[STYLIZE_VGG19_NLAYERS]; /* raw L_content,l by layer index */
    double style_layer[STYLIZE_VGG19_NLAYERS];   /* raw E_l by layer index */
} stylize_loss_breakdown;

typedef struct stylize_objective stylize_objective; /* opaque */

/* Validates spec (layer indices, weights finite and >= 0, at least one loss
 * layer, x large enough for the deepest layer) and allocates the targets and
 * scratch buffers for x of the spec's size (the network: see prepare), all
 * through mem (NULL: malloc), as are the temporary buffers of every later
 * call. On a dry plan nothing is allocated or computed: every call then only
 * counts what it would allocate (stylize/core/mem.h), and the image and mask
 * arguments are not read. w and mem are borrowed and must outlive the
 * objective. *out is owned by the caller: free with stylize_objective_free. */
stylize_status stylize_objective_create(stylize_objective **out, const stylize_weights *w,
                                        const stylize_objective_spec *spec, stylize_mem *mem,
                                        stylize_error *err);
void stylize_objective_free(stylize_objective *obj);

/* Allocates the network for x (idempotent). set_content calls it; call it
 * after adding the styles (whose temporary networks are then already freed)
 * and before the first evaluation, so that evaluations allocate nothing. */
stylize_status stylize_objective_prepare(stylize_objective *obj, stylize_error *err);

/* Bytes the objective allocates (network, targets, scratch): a dry run of
 * create and prepare. */
size_t stylize_objective_memory_bytes(const stylize_weights *w, const stylize_objective_spec *spec);

/* Bytes that add_style / add_style_region allocate for the duration of the
 * call (the style image's network, in strips when spec tiles), for a style
 * image of (sw, sh), with a style mask when masked != 0: a dry run. */
size_t stylize_objective_style_memory_bytes(const stylize_weights *w, const stylize_objective_spec *spec,
                                            int sw, int sh, int masked);

/* Content targets P_l from xc (3, height, width) in the input convention,
 * and with photorealism the Matting Laplacian of xc's pixels. */
stylize_status stylize_objective_set_content(stylize_objective *obj, const float *xc,
                                             stylize_error *err);

/* Clears the style targets (before adding styles again, e.g. at a new scale). */
void stylize_objective_clear_style(stylize_objective *obj);

/* A_l += blend * (M_x / M_s) G_l(xs) for a style image xs (3, sh, sw). A
 * temporary network for the style's size is created and freed here. */
stylize_status stylize_objective_add_style(stylize_objective *obj, const float *xs, int sw, int sh,
                                           double blend, stylize_error *err);

/* Sets region r's mask over x: mask (height, width), values in [0, 1]
 * (1 where the region's style applies). Only with spec.n_regions > 0. */
stylize_status stylize_objective_set_region_mask(stylize_objective *obj, int region, const float *mask,
                                                 stylize_error *err);

/* As add_style, for region r: A_l,r += blend * (area_x / area_s) G_r(xs)
 * where the style's own mask smask (sh, sw) (NULL: all of it) selects the
 * part of the style image to use. Without regions, region must be 0 and
 * smask NULL. */
stylize_status stylize_objective_add_style_region(stylize_objective *obj, int region, const float *xs,
                                                  int sw, int sh, const float *smask, double blend,
                                                  stylize_error *err);

/* Right after add_style or add_style_region (before any evaluation): copies
 * the style image's Gram matrices, per style entry i into grams[i] (N_i x N_i
 * floats, caller's buffers), and the positions (or mask area) behind each
 * into areas[i]. With add_style_grams they let a batch compute a style's
 * targets once for many contents. */
stylize_status stylize_objective_last_style_grams(const stylize_objective *obj, int region,
                                                  float *const *grams, double *areas);

/* A_l,r += blend * (area_x / areas[i]) grams[i]: style targets from Gram
 * matrices saved with last_style_grams (same layers and weights). */
stylize_status stylize_objective_add_style_grams(stylize_objective *obj, int region,
                                                 const float *const *grams, const double *areas,
                                                 double blend, stylize_error *err);

/* Value and gradient (3, height, width) at x: a stylize_objective_fn (optim.h)
 * with user = the objective. Fails with STYLIZE_ERR_NUMERIC on NaN/Inf. */
stylize_status stylize_objective_eval(void *obj, const float *x, float *grad, double *value,
                                      stylize_error *err);

/* Breakdown of the last evaluation. */
void stylize_objective_breakdown(const stylize_objective *obj, stylize_loss_breakdown *out);

#ifdef __cplusplus
}
#endif
#endif

/* stylize: one complete style-transfer or texture-synthesis run, from loaded
 * images to the written output image and JSON report.
 *
 * Coarse to fine: the run visits each scale in turn (longest side of the
 * output at that scale); the first scale starts from the chosen init, each
 * later one from the previous result upsampled; content and style targets
 * are recomputed at every scale. */
#ifndef STYLIZE_RUN_H
#define STYLIZE_RUN_H

#include <signal.h>
#include "stylize/io/image.h"
#include "stylize/nn/precision.h"
#include "stylize/post/smooth.h"
#include "stylize/style/objective.h"
#include "stylize/optim/optim.h"
#include "stylize/core/status.h"
#include "stylize/vgg/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STYLIZE_MAX_STYLES 16
#define STYLIZE_TILE_AUTO (-1)
#define STYLIZE_MAX_SCALES 16

typedef enum {
    STYLIZE_INIT_CONTENT = 0, /* the content image (texture mode: noise) */
    STYLIZE_INIT_NOISE,       /* white noise, uniform in [0, 1] per pixel */
    STYLIZE_INIT_STYLE,       /* the first style image, resized to the output */
    STYLIZE_INIT_IMAGE        /* a given image, resized to the output */
} stylize_init_kind;

typedef enum { STYLIZE_OPTIM_LBFGS = 0, STYLIZE_OPTIM_ADAM } stylize_optim_kind;

typedef enum {
    STYLIZE_COLOURS_NONE = 0,
    STYLIZE_COLOURS_LUMINANCE, /* transfer on luminance, keep the content's colours */
    STYLIZE_COLOURS_HISTOGRAM  /* match the style's colour statistics to the content first */
} stylize_colours;

/* Parses "relu1_1:0.2,relu2_1,pool1:1e-3" into layers (index + weight,
 * default weight 1). Returns STYLIZE_ERR_ARG naming the bad item. */
stylize_status stylize_parse_layers(const char *s, stylize_layer_weight *out, int *n,
                                    stylize_error *err);

/* Style targets kept between runs that share their styles and settings (a
 * batch over several contents): each style's Gram matrices at each style
 * size are computed once. Owned by the caller; free with
 * stylize_style_cache_free. Only valid for runs with the same weights,
 * pooling, style layers, styles and style masks. Runs with colour control
 * (preserve_colours) do not use it: their styles are matched to each
 * content first. */
typedef struct stylize_style_cache stylize_style_cache;
stylize_status stylize_style_cache_create(stylize_style_cache **out, stylize_error *err);
void stylize_style_cache_free(stylize_style_cache *cache); /* NULL is allowed */
/* Number of times the cache supplied a style's targets. */
int stylize_style_cache_hits(const stylize_style_cache *cache);

typedef struct {
    /* Network. */
    const stylize_weights *weights; /* borrowed */
    stylize_pool_kind pool;
    int random_features;            /* per-layer loss normalised by target energy */
    /* Images (borrowed, RGB in [0, 1] at their loaded size). */
    const stylize_image *content;   /* NULL: texture synthesis */
    int n_styles;
    const stylize_image *styles[STYLIZE_MAX_STYLES];
    double style_blend[STYLIZE_MAX_STYLES]; /* normalised to sum 1 by the run */
    const stylize_image *init_image;        /* for STYLIZE_INIT_IMAGE */
    /* Spatial control (Gatys et al. 2017): when content_masks[0] is set,
     * style k applies where content_masks[k] (grey, white = apply; resized
     * to the output) is bright, using only the part of style k where
     * style_masks[k] (optional) is bright. One mask per style. */
    const stylize_image *content_masks[STYLIZE_MAX_STYLES];
    const stylize_image *style_masks[STYLIZE_MAX_STYLES];
    /* Sizes. */
    int size;             /* longest side of the output (content mode); <= 0 keeps the content's */
    int width, height;    /* texture output size; 0: the (resized) source's */
    double style_scale;   /* style's longest side = style_scale * output's longest side */
    int n_scales;         /* coarse to fine: longest side at each scale */
    int scales[STYLIZE_MAX_SCALES];
    int scale_iterations[STYLIZE_MAX_SCALES]; /* 0: use iterations */
    /* Losses. */
    int n_content;
    stylize_layer_weight content_layers[STYLIZE_VGG19_NLAYERS];
    int n_style;
    stylize_layer_weight style_layers[STYLIZE_VGG19_NLAYERS];
    double alpha, beta, tv;
    int normalise_gradients;
    stylize_colours preserve_colours;
    /* Photorealism (Deep Photo Style Transfer, Luan et al. 2017; the term
     * of objective.h): lambda; 0: off. Needs a content image. With
     * photo_iterations == 0 the term is in every scale's objective; with
     * photo_iterations > 0 the run has two stages: the scales without the
     * term (stage 1), then one more pass at the output size that starts
     * from stage 1's result and runs photo_iterations iterations with it
     * (stage 2). */
    double photorealism;
    int photo_iterations;
    int region_area_weights;      /* objective.h: regions weighted by their area (the photo preset) */
    stylize_smooth_params smooth; /* the result filtered with the content as guide (kind none: off) */
    /* Optimisation. */
    stylize_init_kind init;
    unsigned long long seed;
    stylize_optim_kind optimizer;
    int iterations;       /* per scale; 0: evaluate once and write the initial image */
    int max_evaluations;  /* per scale, L-BFGS only; 0: no limit besides iterations */
    stylize_precision precision; /* the convolutions' (nn/precision.h; auto: the measured default) */
    int lbfgs_history;
    double learning_rate; /* Adam */
    double tol_change;
    /* Output. */
    const char *output_path;
    int jpeg_quality;
    int save_every;       /* 0: off; else write <output>_NNNN.<ext> every N iterations */
    int print_every;      /* history entries every N iterations (and first/last) */
    const char *report_path; /* NULL: no report */
    const char *plot_path;   /* NULL: no SVG plot */
    /* Control. */
    volatile sig_atomic_t *stop_flag; /* non-NULL and non-zero: stop after the current evaluation */
    size_t max_memory;    /* 0: no limit; else fail before starting if the estimate exceeds it */
    /* Spatial tiling (objective.h, tile_rows): 0 runs whole images; > 0
     * strips of that many rows; STYLIZE_TILE_AUTO whole images unless the
     * estimate exceeds max_memory, then the largest strips that fit. */
    int tile_rows;
    stylize_style_cache *style_cache; /* NULL: compute style targets every run */
    stylize_logger log;
    /* Settings echoed into the report (may be NULL): key/value strings. */
    int n_settings;
    const char *setting_keys[64];
    const char *setting_values[64];
} stylize_run_config;

/* Deep Photo Style Transfer's reference settings (Luan et al.'s code:
 * content weight 5 and style weight 100 on neural-style's mean-squared
 * losses, TV 1e-3, lambda 1e4, on Caffe inputs scaled by 256) in this
 * objective's units for an output of (width, height) and weights w whose
 * inputs have scale s = pixel_scale / mean(std), with r = 256 / s:
 *   content layer l: 5 mean((F - P)^2) = c_l L_content,l, c_l = 10 r^2 / (N_l M_l)
 *   style layer l, region j: 100 m_j mean((G_j - A_j)^2 / (N_l M_l m_j)^2) = w_l E_l,j,
 *     w_l = 400 r^4 / N_l^2 with m_j = area_j / M_l (region_area_weights)
 *   TV: the reference's gradient-only 1e-3 is the gradient of 5e-4 r^2 TV
 *   photorealism: lambda 1e4 (both on pixels in [0, 1]).
 * out = base with alpha = beta = 1, every content / style layer's weight
 * multiplied by c_l / w_l, tv and photorealism set, region_area_weights
 * on; keep (STYLIZE_PHOTO_KEEP_*) leaves alpha with the content weights,
 * beta with the style weights, tv or photorealism as in base. With random
 * features (random_features) alpha, beta and tv are kept (their per-layer
 * normalisation replaces the translation) and photorealism defaults to
 * STYLIZE_PHOTO_RANDOM_LAMBDA. */
enum { STYLIZE_PHOTO_KEEP_ALPHA = 1, STYLIZE_PHOTO_KEEP_BETA = 2, STYLIZE_PHOTO_KEEP_TV = 4,
       STYLIZE_PHOTO_KEEP_LAMBDA = 8 };
#define STYLIZE_PHOTO_LAMBDA 1e4
#define STYLIZE_PHOTO_RANDOM_LAMBDA 1.0
void stylize_photo_settings(const stylize_run_config *base, int width, int height, unsigned keep,
                            stylize_run_config *out);

/* Defaults (README "Flags"): avg pooling, size 512, alpha 1, beta 1000,
 * tv 0, L-BFGS with history 10, 500 iterations, init content. */
void stylize_run_defaults(stylize_run_config *c);

/* The default style weight for a network's input convention: 1000 (the
 * paper's alpha/beta = 1e-3) for inputs on Caffe's 0..255 scale, scaled by
 * (255 / s)^2 where s = pixel_scale / mean(std) is the network's input scale,
 * because E_l grows as the fourth power of the feature scale and L_content as
 * the square: about 3.3e6 for torchvision's convention. */
double stylize_default_beta(const stylize_input_convention *c);

typedef struct {
    int scale_index, n_scales;     /* the pass, and the scales of its stage (1 for stage 2) */
    int width, height;
    int iteration, max_iterations; /* within the scale */
    int evaluations;               /* within the scale */
    double loss;
    const stylize_loss_breakdown *breakdown; /* of the evaluation the iterate came from */
    double seconds;                /* since the run started */
    size_t memory;                 /* bytes the run's plan holds now (inputs included) */
    int stage;                     /* 2 for the photorealism pass of a two-stage run, else 1 */
} stylize_run_progress;

typedef void (*stylize_run_progress_fn)(void *user, const stylize_run_progress *p);

typedef struct {
    int iterations, evaluations; /* summed over scales */
    double seconds;
    double loss_initial, loss_final; /* first scale's initial, last scale's final */
    stylize_stop_reason reason;      /* of the last scale */
    int width, height;               /* output size */
    int tile_rows;                   /* rows per strip the run used (0: whole images) */
    size_t memory_estimate;          /* the dry run's peak bytes (stylize_run_memory_estimate) */
    size_t memory_peak;              /* the run's own plan's peak: equal to the estimate */
    /* Photorealism figures of the written image against the content at the
     * output size (post/smooth.h), computed for content runs with a report,
     * photorealism or smoothing: have_figures = 1 then. */
    int have_figures;
    double matting_per_pixel, edge_ssim;
    stylize_precision precision;     /* the convolutions' precision, resolved (fp32 or bf16) */
} stylize_run_result;

/* Rows per strip that stylize_run will use (0: whole images): tile_rows
 * when set, else for STYLIZE_TILE_AUTO the choice described there. */
int stylize_run_tile_rows(const stylize_run_config *c);

/* Peak bytes of a run with this configuration: a dry run of the run itself
 * (every stage allocates through one memory plan, which on the dry run only
 * counts: core/mem.h), plus the loaded images and weights, and a bound of
 * the image encoder's buffers while the output and snapshots are written
 * (stylize_image_save_bytes). What it does not count: small structs, stb's
 * resize scratch, the style cache, OpenBLAS's own buffers. 0 if the
 * configuration is invalid. */
size_t stylize_run_memory_estimate(const stylize_run_config *c);

/* The plan of a run without running it: the output size, the rows per
 * strip (0: whole images) and the peak bytes (the estimate above). Fails,
 * with the message stylize_run would give, where stylize_run would refuse
 * to start; over max_memory (STYLIZE_ERR_LIMIT) the outputs are filled. */
stylize_status stylize_run_plan(const stylize_run_config *c, int *width, int *height, int *tile_rows,
                                size_t *bytes, stylize_error *err);

/* Runs, writes the output image (and report / plot if asked). On an
 * interrupt (stop_flag) or a numerical fault the best image so far and the
 * report are still written, and the status says why. progress may be NULL. */
stylize_status stylize_run(const stylize_run_config *c, stylize_run_progress_fn progress, void *puser,
                           stylize_run_result *res, stylize_error *err);

#ifdef __cplusplus
}
#endif
#endif

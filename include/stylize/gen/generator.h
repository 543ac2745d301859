/* stylize: feed-forward generators (Ulyanov et al. 2016, Texture Networks;
 * Johnson, Alahi and Fei-Fei 2016), built on the layer graph (nn/graph.h).
 *
 * A generator maps noise (a texture model) or a content image plus noise (a
 * style model) to an image in one forward pass. Conventions, the same for
 * every architecture and independent of the VGG-19 used to train it:
 *   - image input: RGB pixels in [0, 1], (N, 3, H, W);
 *   - noise: uniform, drawn from the library's RNG (core/rng.h);
 *   - output: RGB pixels on the [0, 1] scale, (N, 3, H, W), not clamped
 *     (clamp when saving); training maps them to VGG's input convention.
 * H and W must be multiples of stylize_gen_multiple; stylize_gen_apply pads
 * other sizes (replicate) and crops the result back.
 *
 * Architectures:
 *   pyramid   Ulyanov's multi-scale generator (texture_nets models/
 *             pyramid.lua): K scales, the input average-pooled by 2^(K-1),
 *             ..., 2, 1; each scale a block conv3x3 -> conv3x3 -> conv1x1 of
 *             `channels` filters, each followed by instance norm and ReLU
 *             (or leaky ReLU); joins upsample the coarser path x2 (nearest),
 *             instance-normalise both paths, concatenate (channels, 2
 *             channels, ..., K channels) and apply the same block; a final
 *             1x1 convolution to 3 channels. Scale i has its own 3 noise
 *             channels (a style model adds them to the pooled content).
 *   residual  Johnson's transformer: 9x9 conv (w), two stride-2 3x3 convs
 *             (2w, 4w), residual blocks of 4w (conv3x3-IN-ReLU-conv3x3-IN,
 *             added to the block's input), two nearest-upsample x2 + 3x3
 *             conv stages (2w, w), a 9x9 conv to 3; instance norm and ReLU
 *             after every conv but the last; w = 32 * width_mult. Its input
 *             is the content (style model) or 3 noise channels (texture).
 * Padding: replicate (pyramid style models), reflect (residual style
 * models), circular (texture models of both kinds, so that they tile).
 * Every instance norm is affine (trainable scale and shift); convolutions
 * followed by one have no bias (the norm would remove it). */
#ifndef STYLIZE_GENERATOR_H
#define STYLIZE_GENERATOR_H

#include <stdint.h>
#include "stylize/core/mem.h"
#include "stylize/core/rng.h"
#include "stylize/core/status.h"
#include "stylize/nn/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { STYLIZE_ARCH_PYRAMID = 0, STYLIZE_ARCH_RESIDUAL = 1 } stylize_arch_kind;
typedef enum { STYLIZE_GEN_TEXTURE = 0, STYLIZE_GEN_STYLE = 1 } stylize_gen_mode;

#define STYLIZE_GEN_MAX_SCALES 8

typedef struct {
    stylize_arch_kind kind;
    stylize_gen_mode mode;
    int scales;        /* pyramid: K, 1..8 (default 6) */
    int channels;      /* pyramid: filters per scale, 1..64 (default 8) */
    float slope;       /* leaky ReLU slope, 0 for ReLU (default 0; the option: 0.01) */
    double width_mult; /* residual: w = 32 width_mult, 1/32..4 (default 1; 0.5: the half-width net) */
    int blocks;        /* residual: residual blocks, 0..16 (default 5) */
} stylize_gen_arch;

/* Defaults of an architecture for a mode. */
void stylize_gen_arch_defaults(stylize_gen_arch *a, stylize_arch_kind kind, stylize_gen_mode mode);
/* "pyramid" / "residual"; the parse returns -1 for other names. */
const char *stylize_arch_name(stylize_arch_kind k);
int stylize_arch_parse(const char *s, stylize_arch_kind *k);
/* STYLIZE_ERR_ARG with a message when a hyper-parameter is out of range. */
stylize_status stylize_gen_arch_check(const stylize_gen_arch *a, stylize_error *err);
/* Sides must be multiples of this: 2^(K-1) (pyramid), 4 (residual). */
int stylize_gen_multiple(const stylize_gen_arch *a);
/* Smallest side a generator runs on (every scale at least 4 pixels wide;
 * 9x9 reflect padding at the residual net's finest level). */
int stylize_gen_min_side(const stylize_gen_arch *a);

/* A model: the architecture, its graph description and its parameters. */
typedef struct {
    stylize_gen_arch arch;
    stylize_graph_desc *desc; /* owned */
    int output;               /* the output node */
    int n_noise;              /* noise inputs, 3 channels each */
    stylize_params params;    /* owned */
} stylize_gen_model;

/* Builds the description and allocates the parameters through mem (NULL:
 * malloc; mem must outlive the model), initialised as
 * stylize_params_init(seed). Free with stylize_gen_model_free. */
stylize_status stylize_gen_model_create(stylize_gen_model *m, const stylize_gen_arch *a, uint64_t seed,
                                        stylize_mem *mem, stylize_error *err);
void stylize_gen_model_free(stylize_gen_model *m); /* zeroes *m; a zeroed struct is allowed */

/* An instance of a model for a batch and a size (multiples of
 * stylize_gen_multiple), with its input buffers. */
typedef struct stylize_gen stylize_gen; /* opaque */

/* train: the backward accumulates parameter gradients into m->params.grad.
 * Every buffer is allocated here through mem (NULL: malloc; a dry plan only
 * counts). m is borrowed and must outlive the instance; *out is owned by
 * the caller: free with stylize_gen_free. */
stylize_status stylize_gen_create(stylize_gen **out, stylize_gen_model *m, int batch, int height,
                                  int width, int train, stylize_mem *mem, stylize_error *err);
void stylize_gen_free(stylize_gen *g); /* NULL is allowed */
/* Runs at a smaller size (multiples as above, at most the created size). */
stylize_status stylize_gen_set_size(stylize_gen *g, int height, int width, stylize_error *err);
/* The content input (N, 3, H, W) to fill before the forward (style models),
 * contiguous at the current size (images 3 H W floats apart); NULL for
 * texture models. */
float *stylize_gen_content(stylize_gen *g);
/* Fills the noise inputs from rng and runs the generator. */
void stylize_gen_forward(stylize_gen *g, stylize_rng *rng);
/* The output (N, 3, H, W) of the last forward, images *nstride floats
 * apart (3 H W at the created size, more at a smaller one). */
const float *stylize_gen_output(stylize_gen *g, size_t *nstride);
/* Adds d(loss)/d(parameters) into m->params.grad for dout (N, 3, H, W),
 * contiguous, = d(loss)/d(output) (instances created with train). */
void stylize_gen_backward(stylize_gen *g, const float *dout);
/* After the parameters changed (an optimiser step). */
void stylize_gen_params_changed(stylize_gen *g);
/* Bytes the instance holds. */
size_t stylize_gen_bytes(const stylize_gen *g);

/* Internal to the builders, public for tests and the cross-check: the noise
 * input i of a pyramid is filled with 0.5 + (u - 0.5) 2^levels_i, u ~ U(0, 1)
 * i.i.d., so that after its average pooling by 2^levels_i it has U(0, 1)'s
 * mean and spread. Returns the amplitude 2^levels_i (1 for the residual
 * net). */
float stylize_gen_noise_amplitude(const stylize_gen_model *m, int i);

#ifdef __cplusplus
}
#endif
#endif

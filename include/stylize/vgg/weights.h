/* stylize: VGG-19 convolution weights and the native weights format.
 *
 * Native format (documented in weights/README.md): a JSON manifest plus one
 * raw little-endian float32 blob. The manifest names the architecture
 * ("vgg19"), the blob file (relative to the manifest's directory), the input
 * convention, and every conv layer conv1_1 .. conv5_4 with its shape
 * (out, in, 3, 3) and the byte offsets of its weight (out-in-kh-kw order) and
 * bias in the blob. */
#ifndef STYLIZE_WEIGHTS_H
#define STYLIZE_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>
#include "stylize/core/status.h"
#include "stylize/vgg/vgg19.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STYLIZE_FORMAT_VERSION 1

typedef enum { STYLIZE_RGB = 0, STYLIZE_BGR = 1 } stylize_channel_order;

/* How an image pixel becomes a network input. A pixel value v in [0, 1]
 * (channel c in the network's channel order) becomes
 *     x = (v * pixel_scale - mean[c]) / std[c].
 * torchvision: RGB, scale 1, mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225).
 * Caffe:       BGR, scale 255, mean (103.939, 116.779, 123.68), std (1, 1, 1). */
typedef struct {
    stylize_channel_order order;
    float pixel_scale;
    float mean[3]; /* in network channel order */
    float std[3];  /* in network channel order, each > 0 */
} stylize_input_convention;

void stylize_convention_torchvision(stylize_input_convention *c);
void stylize_convention_caffe(stylize_input_convention *c);

typedef struct {
    char name[16];  /* "conv1_1" */
    int out_ch;     /* cout */
    int in_ch;      /* cin: 3 for conv1_1, else previous layer's out_ch */
    float *weight;  /* (out_ch, in_ch, 3, 3), points into blob */
    float *bias;    /* (out_ch), points into blob */
} stylize_conv_layer;

typedef struct {
    char arch[16];     /* "vgg19" */
    char source[256];  /* free text: where these weights came from */
    stylize_input_convention input;
    int n_layers;      /* STYLIZE_VGG19_NCONV */
    stylize_conv_layer layers[STYLIZE_VGG19_NCONV];
    float *blob;       /* owned: every weight and bias, layer by layer */
    size_t blob_floats;
} stylize_weights;

/* Allocates a VGG-19-shaped network whose layer i has out_ch[i] outputs
 * (in_ch follows: 3, then the previous out_ch). Values are zero; input
 * convention torchvision's; source empty. Every out_ch must be in 1..4096.
 * *out is owned by the caller: free with stylize_weights_free. */
stylize_status stylize_weights_alloc(stylize_weights **out, const int out_ch[STYLIZE_VGG19_NCONV],
                                     stylize_error *err);

/* He-normal random weights (std sqrt(2 / (9 cin)), zero bias), from a
 * deterministic generator seeded by seed. Widths are the published ones
 * divided by width_divisor (which must divide 64, i.e. be 1, 2, 4, ..., 64).
 * *out is owned by the caller: free with stylize_weights_free. */
stylize_status stylize_weights_random(stylize_weights **out, uint64_t seed, int width_divisor,
                                      stylize_error *err);

/* Loads and validates a native manifest and its blob (sizes, offsets,
 * shapes, that every value is finite). Messages name the file and the
 * problem. *out is owned by the caller: free with stylize_weights_free. */
stylize_status stylize_weights_load(stylize_weights **out, const char *manifest_path,
                                    stylize_error *err);

/* Writes manifest_path (which should end in .json) and its blob (same path
 * with .json replaced by .bin, or .bin appended). Each file is written to a
 * temporary file in the same directory and renamed into place. */
stylize_status stylize_weights_save(const stylize_weights *w, const char *manifest_path,
                                    stylize_error *err);

/* Frees w and its blob. NULL is allowed. */
void stylize_weights_free(stylize_weights *w);

/* Keeps only the first n_conv convolutions (n_layers becomes n_conv) and
 * returns the memory of the others, for runs whose deepest loss layer needs
 * no more (stylize_vgg19_convs_needed). Needs the canonical blob layout of
 * stylize_weights_alloc (every loader and importer makes it). Trimmed
 * weights cannot be saved. n_conv outside 1..n_layers: no change. */
void stylize_weights_trim(stylize_weights *w, int n_conv);

/* Index of the conv layer with this name in w, or -1. */
int stylize_weights_find(const stylize_weights *w, const char *name);

#ifdef __cplusplus
}
#endif
#endif

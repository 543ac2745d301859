/* stylize: the frozen VGG-19 feature network as a layer graph (nn/graph.h):
 * forward, and backward with respect to the input image only.
 *
 * The network runs layers 0..depth of the table in vgg19.h (the deepest
 * layer a loss needs). Every buffer is planned and allocated by
 * stylize_net_create through a memory plan; forward and backward allocate
 * nothing. */
#ifndef STYLIZE_NETWORK_H
#define STYLIZE_NETWORK_H

#include <stddef.h>
#include "stylize/core/mem.h"
#include "stylize/core/status.h"
#include "stylize/nn/conv.h"
#include "stylize/nn/pool.h"
#include "stylize/vgg/vgg19.h"
#include "stylize/vgg/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Channels of layer i's output with weights w (those of the convolution
 * that feeds it; 3 for i < 0). */
int stylize_vgg19_layer_channels(const stylize_weights *w, int i);

/* Shape (c, h, w) of layer i's output for an input of (width, height):
 * its channels with weights w, the sizes halved (floor) at each pooling up
 * to i. */
void stylize_vgg19_layer_dims(const stylize_weights *w, int i, int width, int height, int *c, int *h, int *wd);

/* Non-zero when an input of (width, height) keeps every pooled size up to
 * layer depth >= 1. */
int stylize_net_fits(int depth, int width, int height);

typedef struct stylize_net stylize_net; /* opaque */

/* Builds a network over w (borrowed: must outlive the network) for an input
 * of size (3, height, width), running layers 0..depth, with its buffers
 * allocated through mem (NULL: malloc; on a dry plan only counted: the
 * network then answers shape queries only).
 *
 * keep == NULL: every layer's output stays readable after the forward (a
 * conv layer's as its ReLU's output: the ReLU runs in place). keep != NULL
 * ("lean"): only the layers i with keep[i] != 0 stay readable (a conv layer
 * in keep is readable before its ReLU); all other outputs pass through
 * shared scratch buffers, and the backward uses bit masks of the ReLUs and
 * argmax indices of max pooling instead, which needs about a third of the
 * memory at the paper's loss layers. relu1_1 in keep (without conv1_1) is
 * recomputed from the input when read. The results are identical either way.
 *
 * *out is owned by the caller: free with stylize_net_free (before mem).
 * Fails with STYLIZE_ERR_ARG if the image is too small for the pooling
 * layers up to depth (every pooled size must be >= 1). */
stylize_status stylize_net_create(stylize_net **out, const stylize_weights *w, stylize_pool_kind pool,
                                  int depth, int width, int height, const unsigned char *keep,
                                  stylize_mem *mem, stylize_error *err);
void stylize_net_free(stylize_net *net); /* NULL is allowed */

/* Bytes of buffers that stylize_net_create would allocate (weights excluded),
 * or 0 if the image is too small: a dry run of the same planner. */
size_t stylize_net_memory_bytes(const stylize_weights *w, int depth, int width, int height,
                                const unsigned char *keep);

/* Makes the network run on inputs of (3, height, width) for a height up to
 * the one it was created with, reusing its buffers (nothing is allocated).
 * Outputs of earlier forwards are invalid afterwards. Spatial tiling runs one
 * network over row strips of different heights this way. */
stylize_status stylize_net_set_height(stylize_net *net, int height, stylize_error *err);

int stylize_net_depth(const stylize_net *net);

/* Runs layers 0..depth on x (3, height, width), in the weights' input
 * convention; x is borrowed until the backward is done. */
void stylize_net_forward(stylize_net *net, const float *x);
/* Runs only what stylize_net_output(net, layer) reads (layer <= depth): the
 * outputs of deeper layers are stale afterwards, and a backward needs a
 * full stylize_net_forward. */
void stylize_net_forward_to(stylize_net *net, const float *x, int layer);

/* Output of layer i (0 <= i <= depth) from the last forward, shape
 * (*c, *h, *w) (set even when the result is NULL). Without keep, a conv
 * layer's output is its ReLU's. With keep, NULL for a layer not in keep. A
 * recomputed relu1_1's pointer is valid until the next forward or backward. */
const float *stylize_net_output(stylize_net *net, int layer, int *c, int *h, int *w);

/* Called by the backward pass when it reaches the output of a layer, before
 * propagating through it: add dL/d(output of layer) into grad (shape as
 * stylize_net_output). act is the layer's forward output. */
typedef void (*stylize_grad_inject_fn)(void *user, int layer, const float *act, float *grad, int c,
                                       int h, int w);

/* gx (3, height, width) = dL/dx, where the loss gradients at each layer are
 * added by inject (called for every layer from depth down to 0, with act as
 * stylize_net_output: NULL for a layer a lean network did not keep).
 * Requires a preceding forward on the same x. */
void stylize_net_backward(stylize_net *net, float *gx, stylize_grad_inject_fn inject, void *user);

#ifdef __cplusplus
}
#endif
#endif

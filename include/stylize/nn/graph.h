/* stylize: the layer graph. A network is a list of nodes (a DAG in
 * topological order: every node's inputs come before it), each one op of
 * nn/: convolution, instance normalisation, (leaky) ReLU, max and average
 * pooling, nearest upsampling, channel concatenation, residual addition and
 * a per-channel affine map. The frozen VGG-19 (vgg/network.h) and the
 * trainable generators are builders over it.
 *
 * Three objects, as in llm.c:
 *   stylize_graph_desc  the description: nodes, their hyper-parameters, and
 *                       the layout of the trainable parameters;
 *   stylize_params      the trainable parameters: one contiguous value blob
 *                       and one gradient blob of the same layout (so an
 *                       optimiser sees one vector);
 *   stylize_graph       one instance for a batch and an input size: every
 *                       activation, gradient, mask and workspace buffer,
 *                       planned and allocated at creation through a memory
 *                       plan (core/mem.h). Forward and backward allocate
 *                       nothing.
 *
 * Tensors are float32 (N, C, H, W): N images of (C, H, W), images nstride
 * floats apart (a node that writes straight into its slice of a
 * concatenation has the concatenation's stride). Every input node of a graph
 * has the graph's (N, H, W).
 *
 * Memory: a node's output is kept for the backward only where a consumer's
 * backward needs it (a trainable convolution's input, instance norm's input,
 * a trainable affine map's input) or the caller asked to read it (keep).
 * Every other output passes through shared scratch slots, which the backward
 * then reuses for the gradients; ReLUs keep 1-bit masks and max pooling its
 * argmax indices instead of their inputs; element-wise ops (ReLU, leaky
 * ReLU, affine) run in place when their input is not needed afterwards, and
 * producers write straight into their slice of a concatenation when it is
 * their only consumer. */
#ifndef STYLIZE_GRAPH_H
#define STYLIZE_GRAPH_H

#include <stddef.h>
#include <stdint.h>
#include "stylize/core/mem.h"
#include "stylize/core/status.h"
#include "stylize/nn/conv.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STYLIZE_GRAPH_MAX_NODES 512
#define STYLIZE_GRAPH_MAX_FANIN 8 /* inputs of a concatenation */

typedef enum {
    STYLIZE_OP_INPUT = 0, /* an input tensor (N, C, H, W), given to forward */
    STYLIZE_OP_CONV,      /* any odd kernel, stride 1 or 2, padding mode, optional bias */
    STYLIZE_OP_INORM,     /* instance normalisation, optionally affine (nn/norm.h) */
    STYLIZE_OP_RELU,
    STYLIZE_OP_LRELU,     /* leaky ReLU with a fixed slope */
    STYLIZE_OP_MAXPOOL,   /* 2 x 2, stride 2 */
    STYLIZE_OP_AVGPOOL,   /* 2^k x 2^k, stride 2^k (k = 1: VGG's 2 x 2) */
    STYLIZE_OP_UPSAMPLE,  /* nearest, x 2 */
    STYLIZE_OP_CONCAT,    /* along channels, in the order given */
    STYLIZE_OP_ADD,       /* residual addition of two tensors of one shape */
    STYLIZE_OP_AFFINE     /* y = x scale[c] + shift[c], trainable */
} stylize_op;

/* Name of an op ("conv", "inorm", ...). */
const char *stylize_op_name(stylize_op op);

/* ---- description ---------------------------------------------------------- */

typedef struct stylize_graph_desc stylize_graph_desc; /* opaque */

/* *out is owned by the caller: free with stylize_graph_desc_free. */
stylize_status stylize_graph_desc_create(stylize_graph_desc **out, stylize_error *err);
void stylize_graph_desc_free(stylize_graph_desc *d); /* NULL is allowed */

/* Node builders. Each returns the new node's index, or -1 if the node is
 * invalid (bad input index, shape rule, too many nodes) or an earlier call
 * failed: the first error is kept and returned by stylize_graph_desc_status
 * and stylize_graph_create, so a builder can add every node and check once. */
int stylize_gd_input(stylize_graph_desc *d, int channels);
/* A trainable convolution: weight (cout, cin, k, k) and, if bias, bias
 * (cout) in the parameter blob. */
int stylize_gd_conv(stylize_graph_desc *d, int in, int cout, int k, int stride,
                    stylize_pad_mode pad, int bias);
/* A frozen convolution over borrowed weight (cout, cin, k, k) and bias (cout)
 * or NULL, which must outlive every graph built from the description (NULL
 * weight is allowed for descriptions used only on dry plans). */
int stylize_gd_conv_frozen(stylize_graph_desc *d, int in, int cout, int k, int stride,
                           stylize_pad_mode pad, const float *weight, const float *bias);
/* Instance norm; affine: trainable scale (init 1) and shift (init 0) per channel. */
int stylize_gd_inorm(stylize_graph_desc *d, int in, int affine);
int stylize_gd_relu(stylize_graph_desc *d, int in);
int stylize_gd_lrelu(stylize_graph_desc *d, int in, float slope); /* slope > 0 */
int stylize_gd_maxpool(stylize_graph_desc *d, int in);
int stylize_gd_avgpool(stylize_graph_desc *d, int in, int k); /* k in 1..10 */
int stylize_gd_upsample(stylize_graph_desc *d, int in);
int stylize_gd_concat(stylize_graph_desc *d, int n, const int *in); /* 2 <= n <= FANIN */
int stylize_gd_add(stylize_graph_desc *d, int a, int b);
/* Trainable per-channel scale and shift of in's channels. */
int stylize_gd_affine(stylize_graph_desc *d, int in);
/* Names node i (copied; at most 31 characters) for messages and lookups. */
void stylize_gd_name(stylize_graph_desc *d, int node, const char *name);

/* STYLIZE_OK, or the first error of the builders (with its message). */
stylize_status stylize_graph_desc_status(const stylize_graph_desc *d, stylize_error *err);
int stylize_graph_desc_nodes(const stylize_graph_desc *d);
/* The op of a node (STYLIZE_OP_INPUT for a bad index). */
stylize_op stylize_graph_desc_op(const stylize_graph_desc *d, int node);
/* The node's name, or "" if unnamed. */
const char *stylize_graph_desc_node_name(const stylize_graph_desc *d, int node);
/* Index of the node named name, or -1. */
int stylize_graph_desc_find(const stylize_graph_desc *d, const char *name);
/* Output channels of a node (known at build time). */
int stylize_graph_desc_channels(const stylize_graph_desc *d, int node);

/* Everything the description knows of one node (for model files, listings
 * and cross-checks). */
typedef struct {
    stylize_op op;
    int n_in, in[STYLIZE_GRAPH_MAX_FANIN]; /* input nodes */
    int channels;                           /* output channels */
    int k, stride, bias;                    /* conv */
    stylize_pad_mode pad;                   /* conv */
    int trainable;                          /* has parameters in the blob */
    int frozen;                             /* conv over borrowed weights */
    float slope;                            /* lrelu */
    int levels;                             /* avgpool: 2^levels */
} stylize_gd_node_info;

/* Fills *info for node (returns 0), or returns -1 for a bad index. */
int stylize_graph_desc_node(const stylize_graph_desc *d, int node, stylize_gd_node_info *info);

/* Parameters of a node in the blob: which = 0 for a convolution's weight or
 * a norm's / affine map's scale, 1 for the bias or shift. Returns the
 * offset in floats and sets *count, or returns -1 (and *count = 0) when the
 * node has no such trainable parameter. */
long stylize_graph_desc_param(const stylize_graph_desc *d, int node, int which, size_t *count);
/* Floats of the parameter blob. */
size_t stylize_graph_desc_param_floats(const stylize_graph_desc *d);

/* ---- parameters ----------------------------------------------------------- */

typedef struct {
    size_t n;     /* floats of each blob */
    float *value; /* (n) every trainable parameter, in node order */
    float *grad;  /* (n) their gradients: the backward accumulates (+=) */
    stylize_mem *mem;
} stylize_params;

/* Allocates the blobs for d through mem (NULL: malloc; mem must outlive p),
 * values zero except norm and affine scales (1), gradients zero. */
stylize_status stylize_params_create(stylize_params *p, const stylize_graph_desc *d,
                                     stylize_mem *mem, stylize_error *err);
/* PyTorch's default initialisation from the library's RNG: convolution
 * weights and biases uniform in +-1/sqrt(cin k k), scales 1, shifts 0. */
void stylize_params_init(stylize_params *p, const stylize_graph_desc *d, uint64_t seed);
void stylize_params_free(stylize_params *p); /* zeroes *p; a zeroed struct is allowed */
void stylize_params_zero_grad(stylize_params *p);

/* ---- instances ------------------------------------------------------------ */

typedef struct stylize_graph stylize_graph; /* opaque */

typedef struct {
    int batch, height, width; /* N, H, W of every input */
    /* Per node (NULL: every node): outputs readable after the forward. */
    const unsigned char *keep;
    /* Per node (NULL: none): kept nodes recomputed from an input when read
     * instead of occupying a buffer: a convolution of an input followed by
     * element-wise ops (VGG-19's relu1_1: conv1_1 has 3 input channels, so
     * recomputing costs ~0.5% of the network). */
    const unsigned char *recompute;
    int input_grad;           /* the backward computes gradients w.r.t. the inputs */
    int param_grad;           /* the backward accumulates the parameters' gradients */
    stylize_conv_algo algo;   /* for 3x3, stride 1, zero-padded convolutions */
} stylize_graph_opts;

/* Defaults: batch 1, keep NULL, recompute NULL, input_grad 1, param_grad 0,
 * algo stylize_conv_get_default_algo(); the size must be set. */
void stylize_graph_opts_defaults(stylize_graph_opts *o);

/* Builds an instance of d for opts, allocating every buffer through mem
 * (NULL: malloc, uncounted). d is borrowed and must outlive the graph;
 * params (borrowed) holds d's trainable parameters (NULL when d has none).
 * On a dry plan nothing is allocated or computed: the graph then only
 * answers shape queries (the plan has counted its memory) and must be freed.
 * Fails with STYLIZE_ERR_ARG naming the node when a size is too small for
 * it (pooling to zero, reflect padding wider than the input, ...). *out is
 * owned by the caller: stylize_graph_free returns the memory to mem. */
stylize_status stylize_graph_create(stylize_graph **out, const stylize_graph_desc *d,
                                    stylize_params *params, const stylize_graph_opts *opts,
                                    stylize_mem *mem, stylize_error *err);
void stylize_graph_free(stylize_graph *g); /* NULL is allowed */

/* Bytes the graph holds through its plan. */
size_t stylize_graph_bytes(const stylize_graph *g);

/* Activations the plan runs inside the op before them (an op read by that
 * activation alone, written where the activation's output lives, the
 * activation keeping no mask): ReLUs after convolutions (VGG-19's conv/relu
 * pairs), computed by stylize_conv_forward_relu, and ReLUs and leaky ReLUs
 * after instance norms (the generators' conv/inorm/activation blocks), by
 * stylize_inorm_forward_act; with no pass of their own. */
int stylize_graph_fused_acts(const stylize_graph *g);

/* Runs on inputs of height h <= the height it was created with, reusing its
 * buffers (spatial tiling runs one graph over row strips). Outputs of
 * earlier forwards are invalid afterwards. */
stylize_status stylize_graph_set_height(stylize_graph *g, int height, stylize_error *err);
/* As set_height for both sides: height and width at most the created ones
 * (a batch of images of several sizes runs through one instance created at
 * the largest). */
stylize_status stylize_graph_set_size(stylize_graph *g, int height, int width, stylize_error *err);

typedef struct {
    int n, c, h, w;  /* shape of the tensor */
    size_t nstride;  /* floats between images */
} stylize_tshape;

/* Output shape of a node at the current size (all zero for a bad index). */
void stylize_graph_shape(const stylize_graph *g, int node, stylize_tshape *s);

/* Runs every node. inputs[k] is the k-th input node's tensor (N, C_k, H, W),
 * contiguous, borrowed until the backward is done. */
void stylize_graph_forward(stylize_graph *g, const float *const *inputs);
/* Runs nodes 0..last only (nodes are in the order they run, each after its
 * inputs): the outputs of later nodes are stale, so a backward needs a full
 * forward. For features that only shallower nodes feed (content targets). */
void stylize_graph_forward_to(stylize_graph *g, const float *const *inputs, int last);

/* A kept node's output after the forward (shape as stylize_graph_shape), or
 * NULL for a node not kept. A recomputed node is computed into scratch here:
 * its pointer is valid until the next forward, backward or read of another
 * recomputed node. */
const float *stylize_graph_output(stylize_graph *g, int node);

/* Called by the backward for each node whose gradient is needed, from the
 * last node to the first, before propagating through it: add dL/d(output)
 * into grad (shape s, images grad_nstride apart; act, the node's output
 * with images s->nstride apart, or NULL if the node was not kept). */
typedef void (*stylize_graph_inject_fn)(void *user, int node, const float *act, float *grad,
                                        const stylize_tshape *s, size_t grad_nstride);

/* Backpropagates the gradients that inject adds. With opts.input_grad,
 * input_grads[k] (N, C_k, H, W) receives dL/d(input k) (overwritten;
 * input_grads or an entry of it may be NULL: that gradient is skipped); with
 * opts.param_grad the parameters' gradients are added into params->grad.
 * Work nobody needs is skipped (the input gradient of a node whose inputs
 * need none). Requires a preceding forward. */
void stylize_graph_backward(stylize_graph *g, stylize_graph_inject_fn inject, void *user,
                            float *const *input_grads);

/* After params->value changed (an optimiser step): refreshes the cached
 * transforms of trainable convolutions (Winograd kernels). Allocates nothing. */
void stylize_graph_params_changed(stylize_graph *g);

#ifdef __cplusplus
}
#endif
#endif

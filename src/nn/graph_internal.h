/* Internal: the layer graph's description and instance (stylize/nn/graph.h).
 * graph_desc.c builds descriptions and parameter blobs, graph_plan.c plans
 * and allocates instances, graph_exec.c runs them. */
#ifndef STYLIZE_GRAPH_INTERNAL_H
#define STYLIZE_GRAPH_INTERNAL_H

#include "stylize/nn/graph.h"

#define FANIN STYLIZE_GRAPH_MAX_FANIN
#define NONE_OFF ((size_t)-1)

/* One node of a description. */
typedef struct {
    stylize_op op;
    int in[FANIN];
    int n_in;
    int c;                   /* output channels */
    int k, stride, bias;     /* conv */
    stylize_pad_mode pad;    /* conv */
    int trainable;           /* parameters in the blob (conv, affine inorm, affine) */
    const float *fw, *fb;    /* frozen conv: borrowed weight (c, cin, k, k) and bias (c) */
    float slope;             /* lrelu */
    int levels;              /* avgpool: 2^levels */
    long p0, p1;             /* blob offsets: weight or scale, bias or shift; -1: none */
    size_t n0, n1;           /* their floats */
    int input_index;         /* input nodes: 0, 1, ... in order */
    char name[32];
} gd_node;

struct stylize_graph_desc {
    gd_node *nodes; /* (STYLIZE_GRAPH_MAX_NODES) */
    int n;
    int n_inputs;
    size_t n_params;
    stylize_status st; /* first builder error */
    stylize_error err;
};

/* Where a node's output lives. */
enum { STORE_INPUT = 0, STORE_OWN, STORE_SLOT };

/* How a node's backward delivers the gradient of one of its inputs x. */
enum {
    GM_NONE = 0, /* x needs no gradient */
    GM_VIEW,     /* grad[x] is grad[node]'s buffer: computed in place */
    GM_SLICE,    /* concat: grad[x] is its slice of grad[node]: nothing to do */
    GM_WRITE,    /* written (overwritten) into grad[x], its first contribution */
    GM_ACCUM     /* added into grad[x] (through the step's temporary slot for ops
                  * other than add and concat) */
};

typedef struct {
    int c, h, w;          /* output shape at the current height */
    size_t emax;          /* c h w at the created height: floats per image planned */
    /* forward placement: the output is channels [choff, choff + c) of the
     * storage of node base (itself unless written into a consumer's buffer) */
    int base, choff;
    int store;            /* base nodes: STORE_* */
    int slot;             /* STORE_SLOT bases */
    size_t off;           /* STORE_OWN bases: byte offset in the block */
    size_t bits_off;      /* relu/lrelu masks, per image (emax + 7) / 8 bytes; NONE_OFF */
    size_t idx_off;       /* maxpool argmax, per image emax bytes; NONE_OFF */
    size_t stats_off;     /* inorm mean and rstd (2, N, c) floats; NONE_OFF */
    int persist;          /* the output stays intact until the backward */
    int consumers;        /* number of input references to this node */
    int rg;               /* a gradient w.r.t. this output is needed */
    int wgrad;            /* accumulate the node's parameter gradients */
    int act_fused;        /* conv: its only consumer, a ReLU over the same storage,
                           * runs inside it (stylize_conv_forward_relu); inorm: so
                           * does a ReLU or leaky ReLU (stylize_inorm_forward_act);
                           * that activation: its forward is its input's */
    int fused_into;       /* act_fused conv and inorm nodes: the activation's node */
    stylize_conv *conv;
    /* backward placement (rg nodes): grad is channels [gchoff, ...) of the
     * gradient storage of node gbase: a slot, or for inputs the caller's */
    int gbase, gchoff, gslot;
    int gzero;            /* zero the gradient at its own step (no consumer wrote it) */
    int mode[FANIN];      /* per input: GM_* */
    int tmp_slot;         /* the step's temporary slot (ACCUM, recompute), or -1 */
} g_node;

struct stylize_graph {
    const stylize_graph_desc *d; /* borrowed */
    stylize_params *params;      /* borrowed; NULL without trainable nodes */
    stylize_graph_opts o;
    stylize_mem *mem;            /* borrowed */
    int n;                       /* nodes */
    g_node *nodes;               /* (n) */
    unsigned char *keep, *recompute; /* (n) each */
    int hmax, wmax;              /* the size the buffers were planned for */
    unsigned char *block;        /* every buffer but the conv kernels (block_bytes) */
    size_t block_bytes;
    int nslots;
    size_t slot_floats;          /* each slot: (slot_floats) */
    size_t slots_off;            /* byte offset of slot 0; slots slot_stride bytes apart */
    size_t slot_stride;
    size_t ws_off, ws_floats;    /* conv workspace */
    size_t conv_bytes;           /* kernel bytes the convs hold through mem */
    const float *inputs[STYLIZE_GRAPH_MAX_NODES];
    float *input_grads[STYLIZE_GRAPH_MAX_NODES];
    int recomputed;              /* the recomputed node whose output is in slot 0, or -1 */
};

/* Shapes of every node for inputs of (h, w); 0 on success, else sets err
 * naming the node. */
stylize_status graph_shapes(stylize_graph *g, int h, int w, stylize_error *err);

/* Pointers into a graph's buffers. */
float *graph_fwd(const stylize_graph *g, int node);       /* image 0 of the output view */
size_t graph_fwd_stride(const stylize_graph *g, int node); /* floats between images */
float *graph_slot(const stylize_graph *g, int slot);
float *graph_grad(const stylize_graph *g, int node);
size_t graph_grad_stride(const stylize_graph *g, int node);

#endif

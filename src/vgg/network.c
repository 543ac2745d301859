/* The VGG-19 feature network: forward and input-gradient backward. */
#include "stylize/vgg/network.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stylize/nn/activation.h"

static const char *const layer_names[STYLIZE_VGG19_NLAYERS] = {
    "conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1",
    "conv2_1", "relu2_1", "conv2_2", "relu2_2", "pool2",
    "conv3_1", "relu3_1", "conv3_2", "relu3_2", "conv3_3", "relu3_3", "conv3_4", "relu3_4", "pool3",
    "conv4_1", "relu4_1", "conv4_2", "relu4_2", "conv4_3", "relu4_3", "conv4_4", "relu4_4", "pool4",
    "conv5_1", "relu5_1", "conv5_2", "relu5_2", "conv5_3", "relu5_3", "conv5_4", "relu5_4", "pool5"};

const char *stylize_vgg19_layer_name(int i)
{
    return i >= 0 && i < STYLIZE_VGG19_NLAYERS ? layer_names[i] : NULL;
}

int stylize_vgg19_layer_index(const char *name)
{
    for (int i = 0; name && i < STYLIZE_VGG19_NLAYERS; i++)
        if (strcmp(name, layer_names[i]) == 0)
            return i;
    return -1;
}

stylize_layer_kind stylize_vgg19_layer_kind(int i)
{
    const char *n = stylize_vgg19_layer_name(i);
    if (n && n[0] == 'r')
        return STYLIZE_LAYER_RELU;
    if (n && n[0] == 'p')
        return STYLIZE_LAYER_POOL;
    return STYLIZE_LAYER_CONV;
}

/* Conv index 0..15 of network layer i (a conv layer). */
static int conv_ordinal(int layer)
{
    int k = -1;
    for (int i = 0; i <= layer; i++)
        if (stylize_vgg19_layer_kind(i) == STYLIZE_LAYER_CONV)
            k++;
    return k;
}

/* Where each layer's output goes. */
enum { DEST_OWN = -1, DEST_NEXT = -2 }; /* else 0 or 1: a scratch buffer */

typedef struct {
    int c[STYLIZE_VGG19_NLAYERS]; /* output shape of each layer: (c, h, w) */
    int h[STYLIZE_VGG19_NLAYERS];
    int w[STYLIZE_VGG19_NLAYERS];
    /* DEST_OWN: a buffer of its own; DEST_NEXT: the buffer of layer i + 1
     * (a conv writing into its ReLU's buffer, which then runs in place);
     * 0 or 1: scratch[0] or scratch[1] (not kept after the forward) */
    signed char dest[STYLIZE_VGG19_NLAYERS];
    unsigned char bits[STYLIZE_VGG19_NLAYERS];   /* ReLU keeps a bit mask for the backward */
    unsigned char argmax[STYLIZE_VGG19_NLAYERS]; /* max pooling keeps its argmax indices */
    size_t maxact;                               /* floats of each scratch buffer */
    /* relu1_1 is kept by recomputing conv1_1 from the input when it is read
     * (a 3-channel convolution: ~0.5% of the network's work) instead of
     * occupying a buffer of the largest activation size */
    int recompute1;
} net_plan;

int stylize_vgg19_convs_needed(int i)
{
    return i < 0 ? 0 : conv_ordinal(i < STYLIZE_VGG19_NLAYERS ? i : STYLIZE_VGG19_NLAYERS - 1) + 1;
}

int stylize_vgg19_layer_channels(const stylize_weights *w, int i)
{
    int k = stylize_vgg19_convs_needed(i);
    return k > 0 ? w->layers[k - 1].out_ch : 3;
}

struct stylize_net {
    const stylize_weights *weights; /* borrowed */
    stylize_pool_kind pool;
    int depth;                       /* last layer run */
    int width, height;               /* input size */
    int max_height;                  /* height the buffers were allocated for */
    int lean;                        /* only the layers in keep[] are readable */
    unsigned char keep[STYLIZE_VGG19_NLAYERS];
    net_plan plan;
    float *act[STYLIZE_VGG19_NLAYERS];   /* output of each layer (c, h, w); may alias */
    unsigned char owns[STYLIZE_VGG19_NLAYERS]; /* act[i] was allocated for layer i */
    uint8_t *bits[STYLIZE_VGG19_NLAYERS];      /* ReLU masks ((c h w + 7) / 8 bytes), lean only */
    uint8_t *argmax[STYLIZE_VGG19_NLAYERS];    /* max-pool indices, (c, h, w) bytes, lean only */
    stylize_conv *conv[STYLIZE_VGG19_NLAYERS]; /* conv layers only */
    const float *input;              /* x of the last forward (3, height, width), borrowed */
    /* Two buffers of the largest activation: the layers passing through in
     * the forward (lean) and the ping-pong gradients of the backward. */
    float *scratch[2];
    int f1_ready;                    /* recompute1: relu1_1 is in scratch[0] */
    float *ws;                       /* conv workspace, max over layers */
    size_t ws_floats;
};

/* Shapes and buffers of every layer up to depth; returns 0 if a pooled size
 * reaches 0. Without keep every output gets a buffer of its own (a conv
 * shares its ReLU's, except at depth). With keep only the layers in it do:
 * the others pass through the two scratch buffers, and for the backward each
 * such ReLU keeps a bit mask and max pooling its argmax indices. */
static int plan_net(net_plan *p, const stylize_weights *wt, stylize_pool_kind pool, int depth,
                    int width, int height, const unsigned char *keep)
{
    memset(p, 0, sizeof *p);
    int cc = 3, hh = height, ww = width;
    p->maxact = (size_t)3 * width * height;
    for (int i = 0; i <= depth; i++) {
        switch (stylize_vgg19_layer_kind(i)) {
        case STYLIZE_LAYER_CONV: cc = wt->layers[conv_ordinal(i)].out_ch; break;
        case STYLIZE_LAYER_RELU: break;
        case STYLIZE_LAYER_POOL:
            hh /= 2;
            ww /= 2;
            if (hh < 1 || ww < 1)
                return 0;
            break;
        }
        p->c[i] = cc, p->h[i] = hh, p->w[i] = ww;
        size_t n = (size_t)cc * hh * ww;
        if (n > p->maxact)
            p->maxact = n;
    }
    p->recompute1 = keep && depth >= 2 && keep[1] && !keep[0];
    int in_scratch = -1; /* the scratch buffer holding layer i's input, or -1 */
    for (int i = 0; i <= depth; i++) {
        stylize_layer_kind kind = stylize_vgg19_layer_kind(i);
        int next_relu = i < depth && stylize_vgg19_layer_kind(i + 1) == STYLIZE_LAYER_RELU;
        if (!keep) {
            p->dest[i] = kind == STYLIZE_LAYER_CONV && i < depth ? DEST_NEXT : DEST_OWN;
            continue;
        }
        if (keep[i] && !(p->recompute1 && i == 1))
            p->dest[i] = DEST_OWN;
        else if (kind == STYLIZE_LAYER_CONV && next_relu && keep[i + 1] && !(p->recompute1 && i == 0))
            p->dest[i] = DEST_NEXT;
        else if (kind == STYLIZE_LAYER_RELU && in_scratch >= 0)
            p->dest[i] = (signed char)in_scratch; /* in place */
        else
            p->dest[i] = (signed char)(in_scratch == 0 ? 1 : 0);
        in_scratch = p->dest[i] >= 0 ? p->dest[i] : -1;
        if (kind == STYLIZE_LAYER_RELU && !keep[i])
            p->bits[i] = 1; /* (relu1_1 recomputed: its mask comes with it) */
        if (kind == STYLIZE_LAYER_POOL && pool == STYLIZE_POOL_MAX)
            p->argmax[i] = 1;
    }
    return 1;
}

static size_t plan_elems(const net_plan *p, int i)
{
    return (size_t)p->c[i] * p->h[i] * p->w[i];
}

size_t stylize_net_memory_bytes(const stylize_weights *wt, int depth, int width, int height,
                                const unsigned char *keep)
{
    net_plan p;
    if (depth < 0 || depth >= STYLIZE_VGG19_NLAYERS ||
        !plan_net(&p, wt, STYLIZE_POOL_MAX, depth, width, height, keep))
        return 0;
    size_t floats = 2 * p.maxact, bytes = 0;
    for (int i = 0; i <= depth; i++) {
        if (p.dest[i] == DEST_OWN)
            floats += plan_elems(&p, i);
        if (p.bits[i])
            bytes += (plan_elems(&p, i) + 7) / 8;
        if (p.argmax[i])
            bytes += plan_elems(&p, i);
    }
    /* conv workspace (bounded by tiling) and the kernels each conv owns, for
     * the algorithm new convolutions get (conv.h) */
    size_t ws = 0;
    int cin = 3;
    stylize_conv_algo algo = stylize_conv_get_default_algo();
    for (int i = 0; i <= depth; i++) {
        if (stylize_vgg19_layer_kind(i) == STYLIZE_LAYER_CONV) {
            size_t need = stylize_conv_algo_workspace_floats(algo, cin, p.c[i], p.h[i], p.w[i]);
            if (need > ws)
                ws = need;
            bytes += stylize_conv_owned_bytes(algo, cin, p.c[i]);
        }
        cin = p.c[i];
    }
    return (floats + ws) * sizeof(float) + bytes;
}

stylize_status stylize_net_create(stylize_net **out, const stylize_weights *wt, stylize_pool_kind pool,
                                  int depth, int width, int height, const unsigned char *keep,
                                  stylize_error *err)
{
    stylize_status st;
    *out = NULL;
    if (depth < 0 || depth >= STYLIZE_VGG19_NLAYERS)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "network depth %d out of range", depth);
    if (width < 1 || height < 1)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "image size %dx%d is empty", width, height);
    stylize_net *net = calloc(1, sizeof *net);
    if (!net)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory creating the network");
    net->weights = wt;
    net->pool = pool;
    net->depth = depth;
    net->width = width;
    net->height = height;
    net->max_height = height;
    net->lean = keep != NULL;
    if (keep)
        memcpy(net->keep, keep, sizeof net->keep);
    net_plan *p = &net->plan;
    if (!plan_net(p, wt, pool, depth, width, height, keep)) {
        free(net);
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "image %dx%d is too small for layer %s (each pooling halves it)",
                                 width, height, layer_names[depth]);
    }
    for (int i = 0; i <= depth; i++) {
        size_t n = plan_elems(p, i);
        if (p->dest[i] == DEST_OWN) {
            net->act[i] = malloc(n * sizeof(float));
            net->owns[i] = 1;
            if (!net->act[i]) {
                st = stylize_error_set(err, STYLIZE_ERR_NOMEM,
                                       "out of memory for layer %s (%zu MiB)", layer_names[i],
                                       n * sizeof(float) >> 20);
                goto fail;
            }
        }
        if ((p->bits[i] && !(net->bits[i] = malloc((n + 7) / 8))) ||
            (p->argmax[i] && !(net->argmax[i] = malloc(n)))) {
            st = stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory for layer %s",
                                   layer_names[i]);
            goto fail;
        }
    }
    net->scratch[0] = malloc(p->maxact * sizeof(float));
    net->scratch[1] = malloc(p->maxact * sizeof(float));
    if (!net->scratch[0] || !net->scratch[1]) {
        st = stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory for network workspace");
        goto fail;
    }
    for (int i = depth; i >= 0; i--) {
        if (p->dest[i] == DEST_NEXT)
            net->act[i] = net->act[i + 1]; /* conv writes into its ReLU's buffer */
        else if (p->dest[i] >= 0)
            net->act[i] = net->scratch[(int)p->dest[i]];
    }
    for (int i = 0; i <= depth; i++) {
        if (stylize_vgg19_layer_kind(i) != STYLIZE_LAYER_CONV)
            continue;
        const stylize_conv_layer *l = &wt->layers[conv_ordinal(i)];
        st = stylize_conv_create(&net->conv[i], l->weight, l->bias, l->in_ch, l->out_ch, err);
        if (st != STYLIZE_OK)
            goto fail;
        size_t ws = stylize_conv_workspace_floats(net->conv[i], p->h[i], p->w[i]);
        if (ws > net->ws_floats)
            net->ws_floats = ws;
    }
    net->ws = malloc((net->ws_floats ? net->ws_floats : 1) * sizeof(float));
    if (!net->ws) {
        st = stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory for network workspace");
        goto fail;
    }
    *out = net;
    return STYLIZE_OK;
fail:
    stylize_net_free(net);
    return st;
}

void stylize_net_free(stylize_net *net)
{
    if (!net)
        return;
    for (int i = 0; i < STYLIZE_VGG19_NLAYERS; i++) {
        if (net->owns[i])
            free(net->act[i]);
        free(net->bits[i]);
        free(net->argmax[i]);
        stylize_conv_free(net->conv[i]);
    }
    free(net->ws);
    free(net->scratch[0]);
    free(net->scratch[1]);
    free(net);
}

stylize_status stylize_net_set_height(stylize_net *net, int height, stylize_error *err)
{
    net_plan p;
    if (height < 1 || height > net->max_height)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "network height %d outside 1..%d", height,
                                 net->max_height);
    if (!plan_net(&p, net->weights, net->pool, net->depth, net->width, height,
                  net->lean ? net->keep : NULL))
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "image %dx%d is too small for layer %s (each pooling halves it)",
                                 net->width, height, layer_names[net->depth]);
    for (int i = 0; i <= net->depth; i++)
        if (net->conv[i] && stylize_conv_workspace_floats(net->conv[i], p.h[i], p.w[i]) > net->ws_floats)
            return stylize_error_set(err, STYLIZE_ERR_ARG, "network height %d: workspace too small",
                                     height);
    /* every buffer size grows with the height, and dest[] does not depend on it */
    net->plan = p;
    net->height = height;
    return STYLIZE_OK;
}

int stylize_net_depth(const stylize_net *net)
{
    return net->depth;
}

void stylize_net_forward(stylize_net *net, const float *x)
{
    const net_plan *p = &net->plan;
    const float *in = x;
    net->input = x;
    net->f1_ready = 0;
    for (int i = 0; i <= net->depth; i++) {
        size_t n = plan_elems(p, i);
        switch (stylize_vgg19_layer_kind(i)) {
        case STYLIZE_LAYER_CONV:
            stylize_conv_forward(net->conv[i], net->act[i], in, p->h[i], p->w[i], net->ws);
            break;
        case STYLIZE_LAYER_RELU: /* in place when in == act[i] */
            if (net->bits[i])
                stylize_relu_forward_mask(net->act[i], in, n, net->bits[i]);
            else
                stylize_relu_forward(net->act[i], in, n);
            break;
        case STYLIZE_LAYER_POOL:
            if (net->argmax[i])
                stylize_pool_forward_argmax(net->act[i], net->argmax[i], in, p->c[i - 1],
                                            p->h[i - 1], p->w[i - 1]);
            else
                stylize_pool_forward(net->pool, net->act[i], in, p->c[i - 1], p->h[i - 1],
                                     p->w[i - 1]);
            break;
        }
        in = net->act[i];
    }
}

/* relu1_1 = relu(conv1_1(input)) into dst (recompute1). */
static void recompute_f1(stylize_net *net, float *dst)
{
    const net_plan *p = &net->plan;
    stylize_conv_forward(net->conv[0], dst, net->input, p->h[0], p->w[0], net->ws);
    stylize_relu_forward(dst, dst, plan_elems(p, 1));
}

/* Layer i's output, if it is still readable after the forward. */
static const float *readable(stylize_net *net, int i)
{
    if (i == 1 && net->plan.recompute1) {
        if (!net->f1_ready) {
            recompute_f1(net, net->scratch[0]);
            net->f1_ready = 1;
        }
        return net->scratch[0];
    }
    return !net->lean || net->keep[i] ? net->act[i] : NULL;
}

const float *stylize_net_output(stylize_net *net, int layer, int *c, int *h, int *w)
{
    if (layer < 0 || layer > net->depth)
        return NULL;
    if (c)
        *c = net->plan.c[layer];
    if (h)
        *h = net->plan.h[layer];
    if (w)
        *w = net->plan.w[layer];
    return readable(net, layer);
}

void stylize_net_backward(stylize_net *net, float *gx, stylize_grad_inject_fn inject, void *user)
{
    const net_plan *p = &net->plan;
    int cur = 0;
    float *g = net->scratch[cur]; /* dL/d(output of layer i), shape (c[i], h[i], w[i]) */
    int d = net->depth;
    net->f1_ready = 0; /* the scratch buffers now hold gradients */
    memset(g, 0, plan_elems(p, d) * sizeof(float));
    for (int i = d; i >= 0; i--) {
        const float *act;
        if (i == 1 && p->recompute1) { /* into the free scratch buffer */
            recompute_f1(net, net->scratch[1 - cur]);
            act = net->scratch[1 - cur];
        } else {
            act = readable(net, i);
        }
        if (inject)
            inject(user, i, act, g, p->c[i], p->h[i], p->w[i]);
        switch (stylize_vgg19_layer_kind(i)) {
        case STYLIZE_LAYER_RELU:
            if (i == 1 && p->recompute1)
                stylize_relu_backward(g, g, act, plan_elems(p, i));
            else if (net->bits[i])
                stylize_relu_backward_mask(g, g, net->bits[i], plan_elems(p, i));
            else
                stylize_relu_backward(g, g, net->act[i], plan_elems(p, i));
            break;
        case STYLIZE_LAYER_CONV: {
            float *dst = i == 0 ? gx : net->scratch[1 - cur];
            stylize_conv_backward(net->conv[i], dst, g, p->h[i], p->w[i], net->ws);
            cur = 1 - cur;
            g = dst;
            break;
        }
        case STYLIZE_LAYER_POOL: {
            float *dst = net->scratch[1 - cur];
            if (net->argmax[i])
                stylize_pool_backward_argmax(dst, g, net->argmax[i], p->c[i - 1], p->h[i - 1],
                                             p->w[i - 1]);
            else
                stylize_pool_backward(net->pool, dst, g, readable(net, i - 1), p->c[i - 1],
                                      p->h[i - 1], p->w[i - 1]);
            cur = 1 - cur;
            g = dst;
            break;
        }
        }
    }
}

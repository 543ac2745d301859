/* The VGG-19 feature network, built on the layer graph: layer i of the
 * table (vgg19.h) is graph node i + 1, node 0 the input image. */
#include "stylize/vgg/network.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "stylize/nn/graph.h"

#define NL STYLIZE_VGG19_NLAYERS

int stylize_vgg19_layer_channels(const stylize_weights *w, int i)
{
    int k = stylize_vgg19_convs_needed(i);
    return k > 0 ? w->layers[k - 1].out_ch : 3;
}

void stylize_vgg19_layer_dims(const stylize_weights *w, int i, int width, int height, int *c, int *h, int *wd)
{
    for (int k = 0; k <= i; k++)
        if (stylize_vgg19_layer_kind(k) == STYLIZE_LAYER_POOL)
            height /= 2, width /= 2;
    *c = stylize_vgg19_layer_channels(w, i), *h = height, *wd = width;
}

struct stylize_net {
    stylize_graph_desc *desc;
    stylize_graph *graph;
    int depth;
    int lean;                       /* only the layers in keep are readable */
    stylize_grad_inject_fn inject;  /* the caller's, during a backward */
    void *user;
};

/* The graph of layers 0..depth over w's convolutions (weights borrowed). */
static stylize_status build_desc(stylize_graph_desc **out, const stylize_weights *w,
                                 stylize_pool_kind pool, int depth, stylize_error *err)
{
    stylize_graph_desc *d = NULL;
    stylize_status st = stylize_graph_desc_create(&d, err);
    if (st != STYLIZE_OK)
        return st;
    int x = stylize_gd_input(d, 3), conv = 0;
    for (int i = 0; i <= depth; i++) {
        switch (stylize_vgg19_layer_kind(i)) {
        case STYLIZE_LAYER_CONV: {
            const stylize_conv_layer *l = &w->layers[conv++];
            x = stylize_gd_conv_frozen(d, x, l->out_ch, 3, 1, STYLIZE_PAD_ZERO, l->weight, l->bias);
            break;
        }
        case STYLIZE_LAYER_RELU: x = stylize_gd_relu(d, x); break;
        case STYLIZE_LAYER_POOL:
            x = pool == STYLIZE_POOL_MAX ? stylize_gd_maxpool(d, x) : stylize_gd_avgpool(d, x, 1);
            break;
        }
        stylize_gd_name(d, x, stylize_vgg19_layer_name(i));
    }
    if ((st = stylize_graph_desc_status(d, err)) != STYLIZE_OK) {
        stylize_graph_desc_free(d);
        return st;
    }
    *out = d;
    return STYLIZE_OK;
}

/* Graph keep and recompute flags (node = layer + 1) for a layer keep set.
 * Without one, every output is kept except a conv's that its ReLU takes
 * over (the conv then writes into the ReLU's buffer, which runs in place). */
static void graph_flags(const unsigned char *keep, int depth, unsigned char *gkeep,
                        unsigned char *grecompute)
{
    memset(gkeep, 0, NL + 1);
    memset(grecompute, 0, NL + 1);
    for (int i = 0; i <= depth; i++) {
        int conv_then_relu = stylize_vgg19_layer_kind(i) == STYLIZE_LAYER_CONV && i < depth;
        gkeep[i + 1] = keep ? keep[i] != 0 : !conv_then_relu;
    }
    /* relu1_1 is recomputed from the image when read (a 3-channel
     * convolution: ~0.5% of the network's work) instead of occupying a
     * buffer of the largest activation size */
    if (keep && depth >= 2 && keep[1] && !keep[0])
        grecompute[2] = 1;
}

int stylize_net_fits(int depth, int width, int height)
{
    for (int i = 0; i <= depth; i++)
        if (stylize_vgg19_layer_kind(i) == STYLIZE_LAYER_POOL && ((height /= 2) < 1 || (width /= 2) < 1))
            return 0;
    return 1;
}

stylize_status stylize_net_create(stylize_net **out, const stylize_weights *w, stylize_pool_kind pool,
                                  int depth, int width, int height, const unsigned char *keep,
                                  stylize_mem *mem, stylize_error *err)
{
    *out = NULL;
    if (depth < 0 || depth >= NL || stylize_vgg19_convs_needed(depth) > w->n_layers)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "network depth %d out of range", depth);
    if (width < 1 || height < 1)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "image size %dx%d is empty", width, height);
    if (!stylize_net_fits(depth, width, height))
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "image %dx%d is too small for layer %s (each pooling halves it)",
                                 width, height, stylize_vgg19_layer_name(depth));
    stylize_net *net = calloc(1, sizeof *net);
    if (!net)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory creating the network");
    net->depth = depth;
    net->lean = keep != NULL;
    stylize_status st = build_desc(&net->desc, w, pool, depth, err);
    if (st == STYLIZE_OK) {
        unsigned char gkeep[NL + 1], grec[NL + 1];
        graph_flags(keep, depth, gkeep, grec);
        stylize_graph_opts o;
        stylize_graph_opts_defaults(&o);
        o.width = width, o.height = height, o.keep = gkeep, o.recompute = grec;
        st = stylize_graph_create(&net->graph, net->desc, NULL, &o, mem, err);
    }
    if (st != STYLIZE_OK) {
        stylize_net_free(net);
        return st;
    }
    *out = net;
    return STYLIZE_OK;
}

void stylize_net_free(stylize_net *net)
{
    if (!net)
        return;
    stylize_graph_free(net->graph);
    stylize_graph_desc_free(net->desc);
    free(net);
}

size_t stylize_net_memory_bytes(const stylize_weights *w, int depth, int width, int height,
                                const unsigned char *keep)
{
    stylize_mem dry;
    stylize_mem_init(&dry, 1);
    stylize_net *net = NULL;
    if (stylize_net_create(&net, w, STYLIZE_POOL_MAX, depth, width, height, keep, &dry, NULL) !=
        STYLIZE_OK)
        return 0;
    stylize_net_free(net);
    return dry.peak;
}

stylize_status stylize_net_set_height(stylize_net *net, int height, stylize_error *err)
{
    stylize_tshape s;
    stylize_graph_shape(net->graph, 0, &s);
    if (height >= 1 && !stylize_net_fits(net->depth, s.w, height))
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "image %dx%d is too small for layer %s (each pooling halves it)",
                                 s.w, height, stylize_vgg19_layer_name(net->depth));
    return stylize_graph_set_height(net->graph, height, err);
}

int stylize_net_depth(const stylize_net *net)
{
    return net->depth;
}

void stylize_net_forward(stylize_net *net, const float *x)
{
    stylize_graph_forward(net->graph, &x);
}

/* The graph node whose output layer i reads as: a full network reads a
 * conv layer (but the last) as its ReLU. */
static int read_node(const stylize_net *net, int layer)
{
    int conv_then_relu = stylize_vgg19_layer_kind(layer) == STYLIZE_LAYER_CONV && layer < net->depth;
    return !net->lean && conv_then_relu ? layer + 2 : layer + 1;
}

const float *stylize_net_output(stylize_net *net, int layer, int *c, int *h, int *w)
{
    if (layer < 0 || layer > net->depth)
        return NULL;
    stylize_tshape s;
    stylize_graph_shape(net->graph, layer + 1, &s);
    if (c)
        *c = s.c;
    if (h)
        *h = s.h;
    if (w)
        *w = s.w;
    return stylize_graph_output(net->graph, read_node(net, layer));
}

void stylize_net_forward_to(stylize_net *net, const float *x, int layer)
{
    stylize_graph_forward_to(net->graph, &x, layer < net->depth ? read_node(net, layer) : INT_MAX);
}

/* The graph's inject callback, passed on as the layer's. */
static void net_inject(void *user, int node, const float *act, float *grad, const stylize_tshape *s,
                       size_t grad_nstride)
{
    stylize_net *net = user;
    int layer = node - 1;
    (void)grad_nstride; /* one image */
    if (!net->lean && read_node(net, layer) != node)
        act = stylize_graph_output(net->graph, read_node(net, layer));
    net->inject(net->user, layer, act, grad, s->c, s->h, s->w);
}

void stylize_net_backward(stylize_net *net, float *gx, stylize_grad_inject_fn inject, void *user)
{
    net->inject = inject;
    net->user = user;
    stylize_graph_backward(net->graph, inject ? net_inject : NULL, net, &gx);
}

/* The VGG-19 feature network: forward and input-gradient backward. */
#include "stylize/network.h"

#include <stdlib.h>
#include <string.h>

#include "stylize/activation.h"

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

struct stylize_net {
    const stylize_weights *weights; /* borrowed */
    stylize_pool_kind pool;
    int depth;                       /* last layer run */
    int width, height;               /* input size */
    int c[STYLIZE_VGG19_NLAYERS];    /* output shape of each layer: (c, h, w) */
    int h[STYLIZE_VGG19_NLAYERS];
    int w[STYLIZE_VGG19_NLAYERS];
    float *act[STYLIZE_VGG19_NLAYERS];   /* output of each layer (c, h, w); may alias */
    unsigned char owns[STYLIZE_VGG19_NLAYERS]; /* act[i] was allocated for layer i */
    stylize_conv *conv[STYLIZE_VGG19_NLAYERS]; /* conv layers only */
    const float *input;              /* x of the last forward (3, height, width), borrowed */
    float *grad[2];                  /* ping-pong gradient buffers, max activation size each */
    float *ws;                       /* conv workspace, max over layers */
    size_t ws_floats;
};

/* Shapes of every layer up to depth; returns 0 if a pooled size reaches 0. */
static int plan_shapes(const stylize_weights *wt, int depth, int width, int height, int *c, int *h,
                       int *w)
{
    int cc = 3, hh = height, ww = width;
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
        c[i] = cc, h[i] = hh, w[i] = ww;
    }
    return 1;
}

/* Whether layer i gets its own activation buffer (else conv i writes into
 * the buffer of relu i+1, which then runs in place). */
static int layer_owns(int i, int depth, const unsigned char *keep_pre)
{
    if (stylize_vgg19_layer_kind(i) != STYLIZE_LAYER_CONV)
        return 1;
    return i == depth || (keep_pre && keep_pre[i]);
}

size_t stylize_net_memory_bytes(const stylize_weights *wt, int depth, int width, int height,
                                const unsigned char *keep_pre)
{
    int c[STYLIZE_VGG19_NLAYERS], h[STYLIZE_VGG19_NLAYERS], w[STYLIZE_VGG19_NLAYERS];
    if (depth < 0 || depth >= STYLIZE_VGG19_NLAYERS || !plan_shapes(wt, depth, width, height, c, h, w))
        return 0;
    size_t total = 0, maxact = (size_t)3 * width * height;
    for (int i = 0; i <= depth; i++) {
        size_t n = (size_t)c[i] * h[i] * w[i];
        if (layer_owns(i, depth, keep_pre))
            total += n;
        if (n > maxact)
            maxact = n;
    }
    total += 2 * maxact;
    /* conv workspace (bounded by tiling) and the kernels each conv owns, for
     * the algorithm new convolutions get (conv.h) */
    size_t ws = 0, owned = 0;
    int cin = 3;
    stylize_conv_algo algo = stylize_conv_get_default_algo();
    for (int i = 0; i <= depth; i++) {
        if (stylize_vgg19_layer_kind(i) == STYLIZE_LAYER_CONV) {
            size_t need = stylize_conv_algo_workspace_floats(algo, cin, c[i], h[i], w[i]);
            if (need > ws)
                ws = need;
            owned += stylize_conv_owned_bytes(algo, cin, c[i]);
        }
        cin = c[i];
    }
    total += ws;
    return total * sizeof(float) + owned;
}

stylize_status stylize_net_create(stylize_net **out, const stylize_weights *wt, stylize_pool_kind pool,
                                  int depth, int width, int height, const unsigned char *keep_pre,
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
    if (!plan_shapes(wt, depth, width, height, net->c, net->h, net->w)) {
        free(net);
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "image %dx%d is too small for layer %s (each pooling halves it)",
                                 width, height, layer_names[depth]);
    }
    size_t maxact = (size_t)3 * width * height;
    for (int i = 0; i <= depth; i++) {
        size_t n = (size_t)net->c[i] * net->h[i] * net->w[i];
        if (n > maxact)
            maxact = n;
        if (layer_owns(i, depth, keep_pre)) {
            net->act[i] = malloc(n * sizeof(float));
            net->owns[i] = 1;
            if (!net->act[i]) {
                st = stylize_error_set(err, STYLIZE_ERR_NOMEM,
                                       "out of memory for layer %s (%zu MiB)", layer_names[i],
                                       n * sizeof(float) >> 20);
                goto fail;
            }
        }
    }
    for (int i = depth; i >= 0; i--)
        if (!net->owns[i])
            net->act[i] = net->act[i + 1]; /* conv writes into its ReLU's buffer */
    for (int i = 0; i <= depth; i++) {
        if (stylize_vgg19_layer_kind(i) != STYLIZE_LAYER_CONV)
            continue;
        const stylize_conv_layer *l = &wt->layers[conv_ordinal(i)];
        st = stylize_conv_create(&net->conv[i], l->weight, l->bias, l->in_ch, l->out_ch, err);
        if (st != STYLIZE_OK)
            goto fail;
        size_t ws = stylize_conv_workspace_floats(net->conv[i], net->h[i], net->w[i]);
        if (ws > net->ws_floats)
            net->ws_floats = ws;
    }
    net->ws = malloc((net->ws_floats ? net->ws_floats : 1) * sizeof(float));
    net->grad[0] = malloc(maxact * sizeof(float));
    net->grad[1] = malloc(maxact * sizeof(float));
    if (!net->ws || !net->grad[0] || !net->grad[1]) {
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
        stylize_conv_free(net->conv[i]);
    }
    free(net->ws);
    free(net->grad[0]);
    free(net->grad[1]);
    free(net);
}

int stylize_net_depth(const stylize_net *net)
{
    return net->depth;
}

void stylize_net_forward(stylize_net *net, const float *x)
{
    const float *in = x;
    net->input = x;
    for (int i = 0; i <= net->depth; i++) {
        size_t n = (size_t)net->c[i] * net->h[i] * net->w[i];
        switch (stylize_vgg19_layer_kind(i)) {
        case STYLIZE_LAYER_CONV:
            stylize_conv_forward(net->conv[i], net->act[i], in, net->h[i], net->w[i], net->ws);
            break;
        case STYLIZE_LAYER_RELU:
            stylize_relu_forward(net->act[i], in, n); /* in place when in == act[i] */
            break;
        case STYLIZE_LAYER_POOL:
            stylize_pool_forward(net->pool, net->act[i], in, net->c[i - 1], net->h[i - 1],
                                 net->w[i - 1]);
            break;
        }
        in = net->act[i];
    }
}

const float *stylize_net_output(const stylize_net *net, int layer, int *c, int *h, int *w)
{
    if (layer < 0 || layer > net->depth)
        return NULL;
    if (c)
        *c = net->c[layer];
    if (h)
        *h = net->h[layer];
    if (w)
        *w = net->w[layer];
    return net->act[layer];
}

void stylize_net_backward(stylize_net *net, float *gx, stylize_grad_inject_fn inject, void *user)
{
    int cur = 0;
    float *g = net->grad[cur]; /* dL/d(output of layer i), shape (c[i], h[i], w[i]) */
    int d = net->depth;
    memset(g, 0, (size_t)net->c[d] * net->h[d] * net->w[d] * sizeof(float));
    for (int i = d; i >= 0; i--) {
        if (inject)
            inject(user, i, net->act[i], g, net->c[i], net->h[i], net->w[i]);
        switch (stylize_vgg19_layer_kind(i)) {
        case STYLIZE_LAYER_RELU:
            stylize_relu_backward(g, g, net->act[i], (size_t)net->c[i] * net->h[i] * net->w[i]);
            break;
        case STYLIZE_LAYER_CONV: {
            float *dst = i == 0 ? gx : net->grad[1 - cur];
            stylize_conv_backward(net->conv[i], dst, g, net->h[i], net->w[i], net->ws);
            cur = 1 - cur;
            g = dst;
            break;
        }
        case STYLIZE_LAYER_POOL: {
            float *dst = net->grad[1 - cur];
            stylize_pool_backward(net->pool, dst, g, net->act[i - 1], net->c[i - 1], net->h[i - 1],
                                  net->w[i - 1]);
            cur = 1 - cur;
            g = dst;
            break;
        }
        }
    }
}

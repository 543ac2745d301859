/* VGG-19 weights: allocation, input conventions (the layer table is vgg19.c).
 * Loading and saving the native format live in weights_io.c; random
 * initialisation in weights_random.c. */
#include "stylize/vgg/weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void stylize_convention_torchvision(stylize_input_convention *c)
{
    c->order = STYLIZE_RGB;
    c->pixel_scale = 1.0f;
    c->mean[0] = 0.485f, c->mean[1] = 0.456f, c->mean[2] = 0.406f;
    c->std[0] = 0.229f, c->std[1] = 0.224f, c->std[2] = 0.225f;
}

void stylize_convention_caffe(stylize_input_convention *c)
{
    c->order = STYLIZE_BGR;
    c->pixel_scale = 255.0f;
    c->mean[0] = 103.939f, c->mean[1] = 116.779f, c->mean[2] = 123.68f;
    c->std[0] = c->std[1] = c->std[2] = 1.0f;
}

stylize_status stylize_weights_alloc(stylize_weights **out, const int out_ch[STYLIZE_VGG19_NCONV],
                                     stylize_error *err)
{
    size_t total = 0;
    int in = 3;
    *out = NULL;
    for (int i = 0; i < STYLIZE_VGG19_NCONV; i++) {
        if (out_ch[i] < 1 || out_ch[i] > 4096)
            return stylize_error_set(err, STYLIZE_ERR_ARG, "%s: %d output channels (must be 1..4096)",
                                     stylize_vgg19_conv_name(i), out_ch[i]);
        total += (size_t)out_ch[i] * (size_t)in * 9 + (size_t)out_ch[i];
        in = out_ch[i];
    }
    stylize_weights *w = calloc(1, sizeof *w);
    if (!w)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory allocating weights");
    w->blob = calloc(total, sizeof(float));
    if (!w->blob) {
        free(w);
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory allocating %zu weights", total);
    }
    w->blob_floats = total;
    snprintf(w->arch, sizeof w->arch, "vgg19");
    stylize_convention_torchvision(&w->input);
    w->n_layers = STYLIZE_VGG19_NCONV;
    size_t off = 0;
    in = 3;
    for (int i = 0; i < STYLIZE_VGG19_NCONV; i++) {
        stylize_conv_layer *l = &w->layers[i];
        snprintf(l->name, sizeof l->name, "%s", stylize_vgg19_conv_name(i));
        l->out_ch = out_ch[i];
        l->in_ch = in;
        l->weight = w->blob + off;
        off += (size_t)out_ch[i] * (size_t)in * 9;
        l->bias = w->blob + off;
        off += (size_t)out_ch[i];
        in = out_ch[i];
    }
    *out = w;
    return STYLIZE_OK;
}

void stylize_weights_free(stylize_weights *w)
{
    if (!w)
        return;
    free(w->blob);
    free(w);
}

int stylize_weights_find(const stylize_weights *w, const char *name)
{
    for (int i = 0; w && name && i < w->n_layers; i++)
        if (strcmp(w->layers[i].name, name) == 0)
            return i;
    return -1;
}

void stylize_weights_trim(stylize_weights *w, int n_conv)
{
    if (!w || n_conv < 1 || n_conv >= w->n_layers)
        return;
    size_t keep = (size_t)(w->layers[n_conv - 1].bias - w->blob) + (size_t)w->layers[n_conv - 1].out_ch;
    size_t woff[STYLIZE_VGG19_NCONV], boff[STYLIZE_VGG19_NCONV];
    for (int i = 0; i < n_conv; i++) {
        woff[i] = (size_t)(w->layers[i].weight - w->blob);
        boff[i] = (size_t)(w->layers[i].bias - w->blob);
    }
    float *b = realloc(w->blob, keep * sizeof(float));
    if (b) /* a shrinking realloc that fails leaves the blob as it was */
        w->blob = b;
    w->blob_floats = keep;
    for (int i = 0; i < n_conv; i++) {
        w->layers[i].weight = w->blob + woff[i];
        w->layers[i].bias = w->blob + boff[i];
    }
    for (int i = n_conv; i < STYLIZE_VGG19_NCONV; i++) {
        w->layers[i].weight = NULL;
        w->layers[i].bias = NULL;
    }
    w->n_layers = n_conv;
}

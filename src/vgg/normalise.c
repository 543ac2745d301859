/* Gatys' normalisation of VGG-19: unit mean activation per filter. */
#include "stylize/vgg/normalise.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stylize/vgg/network.h"

stylize_status stylize_weights_normalise(stylize_weights *w, const stylize_image *const *images,
                                         int n_images, int size, float *means, stylize_error *err)
{
    if (n_images < 1)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "normalise: no images");
    size_t total = 0;
    int off[STYLIZE_VGG19_NCONV];
    for (int l = 0; l < w->n_layers; l++) {
        off[l] = (int)total;
        total += (size_t)w->layers[l].out_ch;
    }
    double *sum = calloc(total, sizeof(double)); /* (sum of out_ch): activation sums */
    if (!sum)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "normalise: out of memory");
    double positions[STYLIZE_VGG19_NCONV] = {0}; /* positions seen per layer */
    int depth = stylize_vgg19_layer_index("relu5_4");
    stylize_status st = STYLIZE_OK;
    for (int i = 0; i < n_images && st == STYLIZE_OK; i++) {
        const stylize_image *src = images[i];
        stylize_image img = {0};
        int iw = src->width, ih = src->height;
        if (size > 0)
            stylize_image_fit(src->width, src->height, size, &iw, &ih);
        if ((st = stylize_image_resize(&img, src, iw, ih, err)) != STYLIZE_OK)
            break;
        float *x = malloc((size_t)3 * iw * ih * sizeof(float)); /* (3, ih, iw) */
        stylize_net *net = NULL;
        if (!x) {
            st = stylize_error_set(err, STYLIZE_ERR_NOMEM, "normalise: out of memory");
        } else if ((st = stylize_net_create(&net, w, STYLIZE_POOL_MAX, depth, iw, ih, NULL, NULL, err)) ==
                   STYLIZE_OK) {
            stylize_image_to_input(&img, &w->input, x);
            stylize_net_forward(net, x);
            int l = 0;
            for (int k = 0; k <= depth; k++) {
                if (stylize_vgg19_layer_kind(k) != STYLIZE_LAYER_RELU)
                    continue;
                int c, h, wd;
                const float *F = stylize_net_output(net, k, &c, &h, &wd);
                for (int f = 0; f < c; f++) {
                    double s = 0;
                    for (size_t p = 0; p < (size_t)h * wd; p++)
                        s += F[(size_t)f * h * wd + p];
                    sum[off[l] + f] += s;
                }
                positions[l] += (double)h * wd;
                l++;
            }
        } else {
            stylize_error_prefix(err, "normalise: image %d", i + 1);
        }
        stylize_net_free(net);
        free(x);
        stylize_image_free(&img);
    }
    if (st == STYLIZE_OK) {
        for (int l = 0; l < w->n_layers; l++) {
            stylize_conv_layer *L = &w->layers[l];
            for (int f = 0; f < L->out_ch; f++) {
                double a = sum[off[l] + f] / positions[l];
                sum[off[l] + f] = a > 0 && isfinite(a) ? a : 0.0;
            }
        }
        /* Rescale: W'[f, c] = W[f, c] a_prev[c] / a[f], b'[f] = b[f] / a[f]. */
        for (int l = 0; l < w->n_layers; l++) {
            stylize_conv_layer *L = &w->layers[l];
            for (int f = 0; f < L->out_ch; f++) {
                double a = sum[off[l] + f];
                double inv = a > 0 ? 1.0 / a : 1.0;
                for (int c = 0; c < L->in_ch; c++) {
                    double ap = l == 0 ? 1.0 : sum[off[l - 1] + c];
                    if (!(ap > 0))
                        ap = 1.0;
                    float *k = L->weight + ((size_t)f * L->in_ch + c) * 9;
                    for (int j = 0; j < 9; j++)
                        k[j] = (float)(k[j] * ap * inv);
                }
                L->bias[f] = (float)(L->bias[f] * inv);
            }
        }
        if (means)
            for (size_t k = 0; k < total; k++)
                means[k] = (float)sum[k];
        size_t len = strlen(w->source);
        if (len + 12 < sizeof w->source)
            snprintf(w->source + len, sizeof w->source - len, "%snormalised", len ? ", " : "");
    }
    free(sum);
    return st;
}

/* Random VGG-19 weights for tests and demos: He-normal (Kaiming) weights,
 * std sqrt(2 / fan_in) with fan_in = 9 cin, and zero biases.
 *
 * The generator is the library's one RNG (stylize/core/rng.h), so that a
 * seed gives the same weights on every platform. */
#include "stylize/vgg/weights.h"

#include "stylize/core/rng.h"

#include <math.h>
#include <stdio.h>

stylize_status stylize_weights_random(stylize_weights **out, uint64_t seed, int width_divisor,
                                      stylize_error *err)
{
    int widths[STYLIZE_VGG19_NCONV];
    *out = NULL;
    if (width_divisor < 1 || width_divisor > 64 || 64 % width_divisor != 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "width divisor %d must be one of 1, 2, 4, 8, 16, 32, 64",
                                 width_divisor);
    for (int i = 0; i < STYLIZE_VGG19_NCONV; i++)
        widths[i] = stylize_vgg19_conv_width(i) / width_divisor;

    stylize_weights *w = NULL;
    stylize_status s = stylize_weights_alloc(&w, widths, err);
    if (s != STYLIZE_OK)
        return s;
    stylize_rng g;
    stylize_rng_seed(&g, seed);
    for (int i = 0; i < STYLIZE_VGG19_NCONV; i++) {
        stylize_conv_layer *l = &w->layers[i];
        size_t n = (size_t)l->out_ch * (size_t)l->in_ch * 9; /* weight (out, in, 3, 3) */
        double sd = sqrt(2.0 / (9.0 * l->in_ch));
        for (size_t k = 0; k < n; k++)
            l->weight[k] = (float)(sd * stylize_rng_normal(&g));
        for (int k = 0; k < l->out_ch; k++) /* bias (out) */
            l->bias[k] = 0.0f;
    }
    snprintf(w->source, sizeof w->source, "random He-normal, seed %llu, width divisor %d",
             (unsigned long long)seed, width_divisor);
    *out = w;
    return STYLIZE_OK;
}

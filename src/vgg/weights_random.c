/* Random VGG-19 weights for tests and demos: He-normal (Kaiming) weights,
 * std sqrt(2 / fan_in) with fan_in = 9 cin, and zero biases.
 *
 * The generator is fixed so that a seed gives the same weights on every
 * platform: splitmix64 for 64-bit words, two 53-bit uniforms per pair of
 * normals via the Box-Muller transform, computed in double. */
#include "stylize/vgg/weights.h"

#include <math.h>
#include <stdio.h>

typedef struct {
    uint64_t state;
    double spare;   /* second Box-Muller output, valid when has_spare */
    int has_spare;
} normal_gen;

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1]: never 0, so log() below is finite. */
static double uniform_open0(uint64_t *s)
{
    return (double)((splitmix64(s) >> 11) + 1) * (1.0 / 9007199254740992.0);
}

static double next_normal(normal_gen *g)
{
    if (g->has_spare) {
        g->has_spare = 0;
        return g->spare;
    }
    const double two_pi = 6.283185307179586476925286766559;
    double u1 = uniform_open0(&g->state), u2 = uniform_open0(&g->state);
    double r = sqrt(-2.0 * log(u1));
    g->spare = r * sin(two_pi * u2);
    g->has_spare = 1;
    return r * cos(two_pi * u2);
}

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
    normal_gen g = {seed, 0.0, 0};
    for (int i = 0; i < STYLIZE_VGG19_NCONV; i++) {
        stylize_conv_layer *l = &w->layers[i];
        size_t n = (size_t)l->out_ch * (size_t)l->in_ch * 9; /* weight (out, in, 3, 3) */
        double sd = sqrt(2.0 / (9.0 * l->in_ch));
        for (size_t k = 0; k < n; k++)
            l->weight[k] = (float)(sd * next_normal(&g));
        for (int k = 0; k < l->out_ch; k++) /* bias (out) */
            l->bias[k] = 0.0f;
    }
    snprintf(w->source, sizeof w->source, "random He-normal, seed %llu, width divisor %d",
             (unsigned long long)seed, width_divisor);
    *out = w;
    return STYLIZE_OK;
}

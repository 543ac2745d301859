/* Deep Photo Style Transfer's reference weights in this objective's units
 * (stylize/run/run.h: stylize_photo_settings). */
#include "stylize/run/run.h"
#include "stylize/vgg/network.h"
#include "stylize/vgg/vgg19.h"

/* Positions M_l of layer l for an output of (w, h). */
static double layer_positions(const stylize_weights *wt, int l, int w, int h)
{
    int c, lh, lw;
    stylize_vgg19_layer_dims(wt, l, w, h, &c, &lh, &lw);
    return (double)lh * lw;
}

void stylize_photo_settings(const stylize_run_config *base, int width, int height, unsigned keep,
                            stylize_run_config *out)
{
    *out = *base;
    out->region_area_weights = 1;
    if (!(keep & STYLIZE_PHOTO_KEEP_LAMBDA))
        out->photorealism = base->random_features ? STYLIZE_PHOTO_RANDOM_LAMBDA : STYLIZE_PHOTO_LAMBDA;
    if (base->random_features || !base->weights)
        return;
    const stylize_input_convention *c = &base->weights->input;
    double s = c->pixel_scale / ((c->std[0] + c->std[1] + c->std[2]) / 3.0), r = 256.0 / s;
    if (!(keep & STYLIZE_PHOTO_KEEP_ALPHA)) {
        out->alpha = 1.0;
        for (int i = 0; i < base->n_content; i++) {
            int l = base->content_layers[i].layer;
            double n = stylize_vgg19_layer_channels(base->weights, l);
            out->content_layers[i].weight *= 10.0 * r * r / (n * layer_positions(base->weights, l, width, height));
        }
    }
    if (!(keep & STYLIZE_PHOTO_KEEP_BETA)) {
        out->beta = 1.0;
        for (int i = 0; i < base->n_style; i++) {
            double n = stylize_vgg19_layer_channels(base->weights, base->style_layers[i].layer);
            out->style_layers[i].weight *= 400.0 * r * r * r * r / (n * n);
        }
    }
    if (!(keep & STYLIZE_PHOTO_KEEP_TV))
        out->tv = 5e-4 * r * r;
}

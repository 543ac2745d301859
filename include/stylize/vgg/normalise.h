/* stylize: Gatys' normalised VGG-19. Each conv layer is rescaled so that the
 * mean of each filter's rectified output over a set of images and positions
 * is 1 (Gatys, Ecker and Bethge 2015, texture paper). A ReLU network with
 * average or max pooling keeps its outputs up to these per-filter scales:
 * with a_l,f the mean of filter f of layer l on the original network,
 *     W'_l[f, c] = W_l[f, c] a_{l-1,c} / a_l,f,   b'_l[f] = b_l[f] / a_l,f
 * (a_{-1,c} = 1), so that relu'_l,f = relu_l,f / a_l,f everywhere. Filters
 * that never fire (a = 0) keep scale 1. */
#ifndef STYLIZE_NORMALISE_H
#define STYLIZE_NORMALISE_H

#include "stylize/io/image.h"
#include "stylize/core/status.h"
#include "stylize/vgg/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Normalises w in place from n_images images (borrowed), each resized so its
 * longest side is size (<= 0: as loaded), through max pooling as in VGG.
 * means (optional, sum of every layer's out_ch floats, layer by layer)
 * receives a_l,f. */
stylize_status stylize_weights_normalise(stylize_weights *w, const stylize_image *const *images,
                                         int n_images, int size, float *means, stylize_error *err);

#ifdef __cplusplus
}
#endif
#endif

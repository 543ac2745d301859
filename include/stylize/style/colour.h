/* stylize: colour control (Gatys, Bethge, Hertzmann and Shechtman 2016,
 * "Preserving Color in Neural Artistic Style Transfer").
 *
 * Luminance transfer: the transfer runs on luminance-only images (Y of YIQ
 * replicated in R, G and B), the style's luminance first matched to the
 * content's mean and standard deviation; the result's luminance is then
 * combined with the content's I and Q channels.
 * Histogram (colour) matching: the style image's RGB colours are mapped by
 * an affine transform so that their mean and covariance equal the
 * content's (x' = A (x - mu_s) + mu_c with A = C_c^{1/2} C_s^{-1/2},
 * symmetric square roots by eigendecomposition). */
#ifndef STYLIZE_COLOUR_H
#define STYLIZE_COLOUR_H

#include "stylize/io/image.h"
#include "stylize/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out (allocated here, caller frees with stylize_image_free) = the
 * luminance Y = 0.299 R + 0.587 G + 0.114 B of in, in all three channels. */
stylize_status stylize_colour_luminance_image(stylize_image *out, const stylize_image *in,
                                              stylize_error *err);

/* out (allocated) = luminance of style, affinely matched to the mean and
 * standard deviation of the luminance of content, in all three channels. */
stylize_status stylize_colour_luminance_matched(stylize_image *out, const stylize_image *style,
                                                const stylize_image *content, stylize_error *err);

/* out (allocated) = style with colours matched to content's mean and
 * covariance, clamped to [0, 1]. */
stylize_status stylize_colour_histogram_matched(stylize_image *out, const stylize_image *style,
                                                const stylize_image *content, stylize_error *err);

/* In place: result's luminance (mean of its three channels after the
 * luminance-only transfer) combined with the I and Q channels of content
 * (resized to result's size if needed), converted back to RGB, clamped. */
stylize_status stylize_colour_restore(stylize_image *result, const stylize_image *content,
                                      stylize_error *err);

#ifdef __cplusplus
}
#endif
#endif

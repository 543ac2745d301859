/* Internal: helpers shared by the post-processing files (smooth.c,
 * figures.c). */
#ifndef STYLIZE_POST_INTERNAL_H
#define STYLIZE_POST_INTERNAL_H

#include <stddef.h>
#include "stylize/post/smooth.h"

/* dst (h, w) = mean of src over the (2r + 1)^2 box around each pixel,
 * clipped at the border; tmp (h, w) is scratch. O(h w) whatever r. */
void post_box_mean(const double *src, double *dst, double *tmp, int w, int h, int r);

/* Bytes stylize_smooth allocates for a w x h image. */
size_t post_smooth_bytes(const stylize_smooth_params *p, int w, int h);

#endif

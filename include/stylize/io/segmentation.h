/* stylize: colour-coded segmentation images (Deep Photo Style Transfer's
 * convention): each pixel's label is the one of nine colours within 0.1 of
 * it in every channel (RGB in [0, 1]): blue (0,0,1), green (0,1,0), black
 * (0,0,0), white (1,1,1), red (1,0,0), yellow (1,1,0), grey (0.5,0.5,0.5),
 * light blue (0,1,1), purple (1,0,1). Pixels near no colour (anti-aliased
 * edges) belong to no label. */
#ifndef STYLIZE_SEGMENTATION_H
#define STYLIZE_SEGMENTATION_H

#include "stylize/io/image.h"
#include "stylize/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STYLIZE_SEG_LABELS 9
#define STYLIZE_SEG_TOLERANCE 0.1
/* More than this share of pixels near no colour: not a segmentation image. */
#define STYLIZE_SEG_MAX_UNLABELLED 0.2

/* "blue", "green", ... by label index. */
const char *stylize_seg_label_name(int label);

/* counts[k] = pixels of seg with label k; returns the number of pixels with
 * no label. */
size_t stylize_seg_count(const stylize_image *seg, size_t counts[STYLIZE_SEG_LABELS]);

/* mask = label k's pixels of seg: 1 there, 0 elsewhere, in all three
 * channels (a grey mask image of seg's size, allocated here: the caller
 * frees it with stylize_image_free). */
stylize_status stylize_seg_mask(const stylize_image *seg, int label, stylize_image *mask, stylize_error *err);

#ifdef __cplusplus
}
#endif
#endif

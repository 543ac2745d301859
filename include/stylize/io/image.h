/* stylize: images. Loading (JPEG, PNG, BMP, TGA, PSD, GIF, grey and alpha
 * converted to RGB, 16-bit reduced to float, JPEGs turned upright by their
 * EXIF orientation), resizing, saving (PNG or JPEG
 * by extension, written atomically), and conversion to and from a network's
 * input convention. */
#ifndef STYLIZE_IMAGE_H
#define STYLIZE_IMAGE_H

#include <stddef.h>
#include "stylize/core/mem.h"
#include "stylize/core/status.h"
#include "stylize/vgg/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits checked before any pixel is decoded or allocated. */
#define STYLIZE_IMAGE_MAX_SIDE 16384
#define STYLIZE_IMAGE_MAX_PIXELS ((size_t)64 * 1024 * 1024)

/* RGB planar float image: data is (3, height, width), values nominally in
 * [0, 1]. data is owned by the image: free with stylize_image_free. */
typedef struct {
    int width;
    int height;
    float *data;
} stylize_image;

/* Allocates a zeroed width x height image. Sizes are checked against the limits. */
stylize_status stylize_image_alloc(stylize_image *img, int width, int height, stylize_error *err);

/* Frees img->data and zeroes the struct. NULL is allowed. */
void stylize_image_free(stylize_image *img);

/* Loads path; on success *img owns its data. Errors name the file. A JPEG
 * is turned upright by its EXIF orientation (stylize_jpeg_orientation). */
stylize_status stylize_image_load(stylize_image *img, const char *path, stylize_error *err);

/* Decodes an encoded image held in memory (same rules as stylize_image_load;
 * name is used in messages only). */
stylize_status stylize_image_load_memory(stylize_image *img, const unsigned char *bytes, size_t len,
                                         const char *name, stylize_error *err);

/* EXIF orientation (1..8) of a JPEG held in memory: tag 0x0112 of IFD0 in
 * the first APP1 "Exif" segment before the scan. 1 when bytes is not a
 * JPEG, has no such tag, or its EXIF data is malformed (every offset and
 * count is checked against len; nothing is allocated). 2..8 as in the EXIF
 * specification: 2 mirrored, 3 rotated 180, 4 flipped, 5 transposed, 6 to be
 * rotated 90 degrees clockwise, 7 transversed, 8 to be rotated 90 degrees
 * counter-clockwise. stylize_image_load and stylize_image_load_memory apply
 * it to every JPEG, so loaded images are upright. */
int stylize_jpeg_orientation(const unsigned char *bytes, size_t len);

/* Turns img upright from EXIF orientation 1..8 (width and height swap for
 * 5..8). 1 changes nothing. Otherwise the pixels are moved into a newly
 * allocated buffer that img then owns, and the old one is freed; on failure
 * img is unchanged (still owned by the caller). */
stylize_status stylize_image_orient(stylize_image *img, int orientation, stylize_error *err);

/* out = in resized to width x height (stb_image_resize, linear-light is not
 * assumed: values are resized as stored). out is allocated here; in and out
 * must be different images. */
stylize_status stylize_image_resize(stylize_image *out, const stylize_image *in, int width,
                                    int height, stylize_error *err);

/* out (allocated, of the wanted size) = in resized to out's size; in and
 * out must not share data. Allocates only stb_image_resize's scratch. */
stylize_status stylize_image_resize_into(stylize_image *out, const stylize_image *in,
                                         stylize_error *err);

/* As stylize_image_alloc, through a memory plan (core/mem.h; NULL: malloc).
 * On a dry plan data stays NULL (the size is set and counted); free such an
 * image with stylize_image_free_in on the same plan. */
stylize_status stylize_image_alloc_in(stylize_image *img, int width, int height, stylize_mem *mem,
                                      stylize_error *err);
void stylize_image_free_in(stylize_image *img, stylize_mem *mem);
/* Bytes of a width x height image's data. */
size_t stylize_image_bytes(int width, int height);
/* An upper bound of the bytes stylize_image_save allocates (8-bit copy, the
 * encoder's buffers, the encoded file) while it writes such an image. */
size_t stylize_image_save_bytes(int width, int height);

/* Size that fits the longest side of (w, h) to max_side, keeping the aspect
 * ratio (rounded, at least 1). max_side <= 0 keeps the size. */
void stylize_image_fit(int w, int h, int max_side, int *out_w, int *out_h);

/* Writes img as PNG (.png) or JPEG (.jpg, .jpeg; quality 1..100) chosen by
 * the extension, values clamped to [0, 1] and rounded to 8 bits. The file is
 * written to a temporary file in the same directory and renamed into place,
 * so a failure leaves the old file or nothing. */
stylize_status stylize_image_save(const stylize_image *img, const char *path, int jpeg_quality,
                                  stylize_error *err);

/* x (3, h, w) in the network's channel order = convention applied to img. */
void stylize_image_to_input(const stylize_image *img, const stylize_input_convention *conv, float *x);

/* img (already allocated at the right size) = inverse convention of x (3, h, w).
 * No clamping here. */
void stylize_image_from_input(stylize_image *img, const stylize_input_convention *conv, const float *x);

#ifdef __cplusplus
}
#endif
#endif

/* The image encoders (stb_image_write from Debian's libstb-dev, compiled
 * in stb_write_impl.c with zlib's deflate for PNG). Internal to src/io. */
#ifndef STYLIZE_IO_STB_WRITE_H
#define STYLIZE_IO_STB_WRITE_H

/* Receives the encoded bytes in pieces, in order. */
typedef void stylize_write_fn(void *ctx, void *data, int size);

/* Encode rgb (h, w, 3) bytes as PNG (deflate level 1, stb's per-row
 * filter choice) or as baseline JPEG of quality 1..100, passing the file's
 * bytes to f. Return 0 when the encoder failed (out of memory). */
int stylize_encode_png(stylize_write_fn *f, void *ctx, int w, int h, const unsigned char *rgb);
int stylize_encode_jpg(stylize_write_fn *f, void *ctx, int w, int h, const unsigned char *rgb, int quality);

#endif

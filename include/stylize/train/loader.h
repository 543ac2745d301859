/* stylize: the training data loader of the style models (train/train.h).
 *
 * It streams any number of image files (never more than one decoded at a
 * time), in a new random order every epoch, as random square crops: each
 * image's shorter side is rescaled to `size` times a factor drawn from
 * U(1, 1.25) (images smaller than the crop are enlarged), a size x size
 * window is cut at a random position. Images are decoded (EXIF orientation
 * honoured, greyscale and 16-bit converted) on a background thread into a
 * ring of ready crops while the networks compute. A file that cannot be
 * decoded is skipped, with one warning line through the logger (from the
 * caller's thread) and counted; it is not retried in later epochs.
 *
 * Determinism: sample k of the stream depends only on the seed and on k
 * (the epoch's order is a shuffle seeded by (seed, epoch), the crop is drawn
 * from (seed, position)), so a loader started at a position (a checkpoint's)
 * continues the stream of an uninterrupted run exactly. The decoder's own
 * buffers (stb_image) are allocated on the loader's thread per image; the
 * crops and the ring are allocated at creation. */
#ifndef STYLIZE_LOADER_H
#define STYLIZE_LOADER_H

#include <stdint.h>
#include "stylize/core/mem.h"
#include "stylize/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int n_files;
    const char *const *files; /* borrowed: must outlive the loader */
    int size;                 /* crop side */
    uint64_t seed;
    long long start;          /* stream position to start at (0, or a checkpoint's) */
    int queue;                /* ready crops kept ahead, >= 1 */
    stylize_logger log;
} stylize_loader_config;

typedef struct stylize_loader stylize_loader; /* opaque */

/* Checks that at least one file decodes (trying them in stream order; the
 * ones that fail are warned about and skipped): STYLIZE_ERR_ARG "no usable
 * image among N files" otherwise. Then starts the thread. The ring (queue
 * crops of 3 size^2 floats) comes from mem (NULL: malloc). *out is owned by
 * the caller: stylize_loader_free stops the thread. */
stylize_status stylize_loader_create(stylize_loader **out, const stylize_loader_config *c,
                                     stylize_mem *mem, stylize_error *err);
void stylize_loader_free(stylize_loader *l); /* NULL is allowed */

/* Waits for the next crop and copies it into dst (3, size, size), RGB in
 * [0, 1]; logs the warnings of files skipped since the last call. */
stylize_status stylize_loader_next(stylize_loader *l, float *dst, stylize_error *err);

/* Stream position after the last crop taken (for a checkpoint). */
long long stylize_loader_position(const stylize_loader *l);
/* Files skipped so far (each counted once). */
long long stylize_loader_skipped(const stylize_loader *l);

#ifdef __cplusplus
}
#endif
#endif

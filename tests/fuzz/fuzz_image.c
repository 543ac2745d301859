/* libFuzzer harness: image decoding (stylize_image_load_memory, with its
 * dimension limits), then resizing and conversion to network input.
 *
 * Input: the bytes of an image file (any format stb reads). On success the
 * decoded image must respect the limits and hold values in [0, 1] (stb's
 * allocations are zero-filled by src/stb_image_impl.c, so what a decoder
 * misses is deterministic); it is resized to a small size
 * derived from the input and converted with both input conventions, whose
 * results must be finite. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "stylize/io/image.h"

/* Every value of img must be in [lo, hi] (so finite). */
static void check_values(const float *x, size_t n, float lo, float hi, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!(x[i] >= lo && x[i] <= hi))
            fuzz_fail("%s: value %zu is %g, outside [%g, %g]", what, i, (double)x[i], (double)lo,
                      (double)hi);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    stylize_image img;
    stylize_error err = {STYLIZE_OK, ""};
    memset(&img, 0xa5, sizeof img); /* the loader must reset it even on failure */
    stylize_status s = stylize_image_load_memory(&img, data, size, "fuzz", &err);
    if (s != STYLIZE_OK) {
        fuzz_check_error(&err, s, "image load");
        if (img.data || img.width || img.height)
            fuzz_fail("image load failed but left an image behind");
        return 0;
    }
    if (!img.data || img.width < 1 || img.height < 1 || img.width > STYLIZE_IMAGE_MAX_SIDE ||
        img.height > STYLIZE_IMAGE_MAX_SIDE ||
        (size_t)img.width * (size_t)img.height > STYLIZE_IMAGE_MAX_PIXELS)
        fuzz_fail("image load: %dx%d image breaks the limits", img.width, img.height);
    size_t plane = (size_t)img.width * (size_t)img.height;
    check_values(img.data, 3 * plane, 0.0f, 1.0f, "decoded image");

    /* Target size from the last two bytes: 1..16 a side, so both shrinking
     * and (for tiny inputs) enlarging are exercised. */
    int tw = 1 + (size > 0 ? data[size - 1] % 16 : 0);
    int th = 1 + (size > 1 ? data[size - 2] % 16 : 0);
    stylize_image small;
    memset(&small, 0, sizeof small);
    s = stylize_image_resize(&small, &img, tw, th, &err);
    if (s == STYLIZE_OK) {
        if (small.width != tw || small.height != th || !small.data)
            fuzz_fail("resize to %dx%d gave %dx%d", tw, th, small.width, small.height);
        size_t n = 3 * (size_t)tw * (size_t)th;
        /* stb's resampling filters overshoot a little at edges; anything
         * non-finite or far outside [0, 1] is a bug. */
        check_values(small.data, n, -1.0f, 2.0f, "resized image");
        float *x = malloc(n * sizeof *x);
        if (!x)
            abort();
        stylize_input_convention conv[2];
        stylize_convention_torchvision(&conv[0]);
        stylize_convention_caffe(&conv[1]);
        for (int k = 0; k < 2; k++) {
            stylize_image_to_input(&small, &conv[k], x);
            for (size_t i = 0; i < n; i++)
                if (!isfinite(x[i]))
                    fuzz_fail("to_input (convention %d): value %zu is not finite", k, i);
        }
        free(x);
    } else {
        fuzz_check_error(&err, s, "image resize");
        if (s != STYLIZE_ERR_NOMEM)
            fuzz_fail("resize %dx%d -> %dx%d failed: %s", img.width, img.height, tw, th, err.msg);
    }
    stylize_image_free(&small);
    stylize_image_free(&img);
    if (img.data || img.width || img.height)
        fuzz_fail("stylize_image_free left data behind");
    return 0;
}

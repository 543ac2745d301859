/* Seed files that only the library itself can write, for make_corpus.sh:
 *
 *     make_seeds OUTDIR
 *
 * writes OUTDIR/w.json and OUTDIR/w.bin (stylize_weights_random seed 1,
 * widths divided by 64, saved by stylize_weights_save: the network that
 * fuzz_manifest and fuzz_blob build at startup) and OUTDIR/stylize.png,
 * OUTDIR/stylize.jpg (a 7x5 gradient saved by stylize_image_save). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stylize/io/image.h"
#include "stylize/vgg/weights.h"

static int fail(const stylize_error *err)
{
    fprintf(stderr, "make_seeds: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    char path[4096];
    stylize_error err = {STYLIZE_OK, ""};
    stylize_weights *w = NULL;
    stylize_image img;
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds OUTDIR\n");
        return 2;
    }
    if (strlen(argv[1]) > sizeof path - 32) {
        fprintf(stderr, "make_seeds: path too long\n");
        return 2;
    }
    snprintf(path, sizeof path, "%s/w.json", argv[1]);
    if (stylize_weights_random(&w, 1, 64, &err) || stylize_weights_save(w, path, &err))
        return fail(&err);
    stylize_weights_free(w);

    if (stylize_image_alloc(&img, 7, 5, &err))
        return fail(&err);
    size_t plane = 7 * 5;
    for (int y = 0; y < 5; y++)
        for (int x = 0; x < 7; x++) {
            img.data[y * 7 + x] = (float)x / 6.0f;
            img.data[plane + y * 7 + x] = (float)y / 4.0f;
            img.data[2 * plane + y * 7 + x] = (float)((x + y) % 3) / 2.0f;
        }
    snprintf(path, sizeof path, "%s/stylize.png", argv[1]);
    if (stylize_image_save(&img, path, 0, &err))
        return fail(&err);
    snprintf(path, sizeof path, "%s/stylize.jpg", argv[1]);
    if (stylize_image_save(&img, path, 90, &err))
        return fail(&err);
    stylize_image_free(&img);
    return 0;
}

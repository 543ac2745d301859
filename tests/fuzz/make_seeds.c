/* Seed files that only the library itself can write, for make_corpus.sh:
 *
 *     make_seeds OUTDIR
 *
 * writes OUTDIR/w.json and OUTDIR/w.bin (stylize_weights_random seed 1,
 * widths divided by 64, saved by stylize_weights_save: the network that
 * fuzz_manifest and fuzz_blob build at startup) and OUTDIR/stylize.png,
 * OUTDIR/stylize.jpg (a 7x5 gradient saved by stylize_image_save), and
 * OUTDIR/tnet-*.tnet: tiny generators saved by stylize_tnet_save (pyramid
 * with 2 scales of 2 channels, residual with width_mult 1/16 and 1 block;
 * texture and style; model and checkpoint), the seeds of fuzz_tnet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stylize/gen/model_file.h"
#include "stylize/io/image.h"
#include "stylize/vgg/weights.h"

static int fail(const stylize_error *err)
{
    fprintf(stderr, "make_seeds: %s\n", err->msg);
    return 1;
}

/* dir/tnet-ARCH-MODE-KIND.tnet: a tiny generator of that kind, mode and
 * file kind, with deterministic settings (and moments for a checkpoint). */
static int tnet_seed(const char *dir, stylize_arch_kind kind, stylize_gen_mode mode, int checkpoint,
                     stylize_error *err)
{
    char path[4096];
    stylize_gen_arch a;
    stylize_gen_model m;
    stylize_tnet_meta t;
    stylize_gen_arch_defaults(&a, kind, mode);
    a.scales = 2, a.channels = 2, a.width_mult = 1.0 / 16, a.blocks = 1;
    if (checkpoint)
        a.slope = 0.01f; /* the leaky ReLU variant too */
    if (stylize_gen_model_create(&m, &a, 5 + (uint64_t)kind * 4 + (uint64_t)mode * 2 + (uint64_t)checkpoint,
                                 NULL, err))
        return 1;
    stylize_tnet_meta_init(&t);
    t.size = 64, t.batch = 2, t.iterations = 100, t.learning_rate = 1e-3;
    t.lr_decay = 0.5, t.lr_decay_every = 50, t.alpha = 1, t.beta = 10, t.tv = 1e-6;
    t.style_size = 64, t.seed = 7;
    strcpy(t.content_layers, mode == STYLIZE_GEN_STYLE ? "relu4_2" : "");
    strcpy(t.style_layers, "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1");
    strcpy(t.style_name, "style.png");
    strcpy(t.style_sha256, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    strcpy(t.weights, "random:1");
    strcpy(t.created_by, "stylize make_seeds");
    t.steps = 10, t.final_loss = 3.25;
    size_t n = m.params.n;
    if (checkpoint) {
        t.checkpoint = 1, t.adam_steps = 10, t.lr_now = 5e-4, t.skipped = 1, t.data_position = 20;
        t.adam_m = malloc(n * sizeof(float));
        t.adam_v = malloc(n * sizeof(float));
        if (!t.adam_m || !t.adam_v) {
            stylize_tnet_meta_free(&t);
            stylize_gen_model_free(&m);
            stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory");
            return 1;
        }
        for (size_t i = 0; i < n; i++) {
            t.adam_m[i] = (float)((int)(i % 7) - 3) * 1e-3f;
            t.adam_v[i] = (float)(i % 5) * 1e-6f;
        }
    }
    snprintf(path, sizeof path, "%s/tnet-%s-%s-%s.tnet", dir, stylize_arch_name(kind),
             mode == STYLIZE_GEN_STYLE ? "style" : "texture", checkpoint ? "checkpoint" : "model");
    stylize_status st = stylize_tnet_save(path, &m, &t, err);
    stylize_tnet_meta_free(&t);
    stylize_gen_model_free(&m);
    return st != STYLIZE_OK;
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

    for (int k = 0; k < 2; k++)
        for (int mode = 0; mode < 2; mode++)
            for (int c = 0; c < 2; c++)
                if (tnet_seed(argv[1], (stylize_arch_kind)k, (stylize_gen_mode)mode, c, &err))
                    return fail(&err);
    return 0;
}

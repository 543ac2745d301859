/* Benchmark of the photorealism pieces (not a test): for each size (the
 * longest side; 3:2 images), the median seconds of the Matting Laplacian's
 * precompute (set_image), of one evaluation of the term (value and
 * gradient, the work it adds to every objective evaluation), of the guided
 * and smooth local affine filters and of the figures, on random images.
 *
 *   bench_photo [-s SIZE]... [-r REPS] [-t THREADS]
 *
 * One line per size: "size W H precompute S term S guided S affine S figures S". */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "stylize/core/clock.h"
#include "stylize/core/rng.h"
#include "stylize/core/threads.h"
#include "stylize/post/smooth.h"
#include "stylize/style/matting.h"

static int bench_size(int side, int reps)
{
    int w = side, h = side * 2 / 3;
    size_t n = (size_t)3 * w * h;
    float *img = malloc(n * sizeof *img), *x = malloc(n * sizeof *x), *g = malloc(n * sizeof *g);
    float *out = malloc(n * sizeof *out);
    double t[5][32];
    stylize_matting *m = NULL;
    stylize_error e;
    if (!img || !x || !g || !out || stylize_matting_create(&m, w, h, STYLIZE_MATTING_EPS, NULL, &e) != STYLIZE_OK) {
        fprintf(stderr, "bench_photo: out of memory at %d\n", side);
        return 1;
    }
    stylize_rng rng;
    stylize_rng_seed(&rng, 1);
    for (size_t i = 0; i < n; i++)
        img[i] = stylize_rng_uniform(&rng), x[i] = stylize_rng_uniform(&rng), g[i] = 0;
    stylize_smooth_params gp = {STYLIZE_SMOOTH_GUIDED, 7, 0.05}, ap = {STYLIZE_SMOOTH_AFFINE, 7, 0.05};
    double lm, ssim;
    for (int r = 0; r < reps; r++) {
        double t0 = stylize_seconds();
        stylize_matting_set_image(m, img, NULL, NULL);
        double t1 = stylize_seconds();
        stylize_matting_loss(m, x, NULL, g, 1.0);
        double t2 = stylize_seconds();
        stylize_smooth(&gp, img, x, out, w, h, NULL, &e);
        double t3 = stylize_seconds();
        stylize_smooth(&ap, img, x, out, w, h, NULL, &e);
        double t4 = stylize_seconds();
        stylize_photo_figures(img, x, w, h, NULL, &lm, &ssim, &e);
        double t5 = stylize_seconds();
        t[0][r] = t1 - t0, t[1][r] = t2 - t1, t[2][r] = t3 - t2, t[3][r] = t4 - t3, t[4][r] = t5 - t4;
    }
    printf("size %d %d precompute %.4f term %.4f guided %.4f affine %.4f figures %.4f\n", w, h, bench_median(t[0], reps),
           bench_median(t[1], reps), bench_median(t[2], reps), bench_median(t[3], reps), bench_median(t[4], reps));
    stylize_matting_free(m);
    free(img), free(x), free(g), free(out);
    return 0;
}

int main(int argc, char **argv)
{
    int sizes[8], ns = 0, reps = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-s") == 0 && i + 1 < argc && ns < 8)
            sizes[ns++] = atoi(argv[++i]);
        else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
            stylize_set_threads(atoi(argv[++i]));
        else {
            fprintf(stderr, "usage: bench_photo [-s SIZE]... [-r REPS] [-t THREADS]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > 32)
        reps = 5;
    if (ns == 0)
        sizes[ns++] = 512, sizes[ns++] = 1024;
    for (int i = 0; i < ns; i++)
        if (bench_size(sizes[i], reps) != 0)
            return 1;
    return 0;
}

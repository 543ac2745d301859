/* Test tool for tests/style/test_matting_numpy.sh: M v of the matrix-free
 * Matting Laplacian for vectors written by numpy.
 *   stylize-dump-matting DIR W H EPS K
 * reads DIR/img.f32 (3, H, W) float32 and DIR/v.f64 (K, H W) float64,
 * writes DIR/mv.f64 (K, H W) float64 (native byte order, as numpy's
 * tofile / fromfile). Exit 0 on success, 1 on any failure. */
#include <stdio.h>
#include <stdlib.h>

#include "stylize/core/threads.h"
#include "stylize/style/matting.h"

static int read_all(const char *dir, const char *name, void *buf, size_t bytes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t got = fread(buf, 1, bytes, f);
    fclose(f);
    return got == bytes ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: stylize-dump-matting DIR W H EPS K\n");
        return 1;
    }
    const char *dir = argv[1];
    int w = atoi(argv[2]), h = atoi(argv[3]), k = atoi(argv[5]);
    double eps = atof(argv[4]);
    stylize_set_threads(2); /* the product's row-parallel passes, as a run uses them */
    size_t n = (size_t)w * (size_t)h;
    float *img = malloc(3 * n * sizeof *img);
    double *v = malloc((size_t)k * n * sizeof *v), *mv = malloc((size_t)k * n * sizeof *mv);
    stylize_matting *m = NULL;
    stylize_error e;
    int rc = 1;
    if (img && v && mv && k > 0 && read_all(dir, "img.f32", img, 3 * n * sizeof *img) == 0 &&
        read_all(dir, "v.f64", v, (size_t)k * n * sizeof *v) == 0 &&
        stylize_matting_create(&m, w, h, eps, NULL, &e) == STYLIZE_OK) {
        stylize_matting_set_image(m, img, NULL, NULL);
        for (int i = 0; i < k; i++)
            stylize_matting_apply(m, v + (size_t)i * n, mv + (size_t)i * n);
        char path[4096];
        snprintf(path, sizeof path, "%s/mv.f64", dir);
        FILE *f = fopen(path, "wb");
        if (f) {
            rc = fwrite(mv, sizeof *mv, (size_t)k * n, f) == (size_t)k * n ? 0 : 1;
            rc |= fclose(f) != 0;
        }
    }
    stylize_matting_free(m);
    free(img);
    free(v);
    free(mv);
    return rc;
}

/* Test tool (not installed): runs the network on an image and writes the
 * named layers' outputs, one after another, as little-endian float32.
 *
 * usage: dump_features WEIGHTS.json IMAGE avg|max OUT.bin LAYER... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stylize/stylize.h"

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: dump_features WEIGHTS IMAGE avg|max OUT LAYER...\n");
        return 2;
    }
    stylize_error e;
    stylize_weights *w = NULL;
    stylize_image img = {0};
    if (stylize_weights_load(&w, argv[1], &e) || stylize_image_load(&img, argv[2], &e)) {
        fprintf(stderr, "dump_features: %s\n", e.msg);
        return 1;
    }
    int depth = -1, layers[64], n = argc - 5;
    for (int i = 0; i < n && i < 64; i++) {
        layers[i] = stylize_vgg19_layer_index(argv[5 + i]);
        if (layers[i] < 0) {
            fprintf(stderr, "dump_features: unknown layer %s\n", argv[5 + i]);
            return 2;
        }
        if (layers[i] > depth)
            depth = layers[i];
    }
    stylize_net *net = NULL;
    stylize_pool_kind pool = strcmp(argv[3], "avg") == 0 ? STYLIZE_POOL_AVG : STYLIZE_POOL_MAX;
    float *x = malloc((size_t)3 * img.width * img.height * sizeof(float));
    if (!x || stylize_net_create(&net, w, pool, depth, img.width, img.height, NULL, NULL, &e)) {
        fprintf(stderr, "dump_features: %s\n", x ? e.msg : "out of memory");
        return 1;
    }
    stylize_image_to_input(&img, &w->input, x);
    stylize_net_forward(net, x);
    FILE *f = fopen(argv[4], "wb");
    if (!f)
        return 1;
    for (int i = 0; i < n; i++) {
        int c, h, wd;
        const float *F = stylize_net_output(net, layers[i], &c, &h, &wd);
        size_t k = (size_t)c * h * wd;
        if (fwrite(F, sizeof(float), k, f) != k)
            return 1;
    }
    if (fclose(f) != 0)
        return 1;
    stylize_net_free(net);
    free(x);
    stylize_image_free(&img);
    stylize_weights_free(w);
    return 0;
}

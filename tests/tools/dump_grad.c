/* Test tool (not installed): evaluates the objective once and writes the
 * loss breakdown and the image gradient, for the PyTorch cross-check.
 *
 * usage: dump_grad WEIGHTS.json CONTENT STYLE INIT avg|max ALPHA BETA TV OUT.bin
 * OUT.bin: float32 little-endian gradient (3, H, W) in the input convention.
 * stdout: "total <v>" then "content <layer> <v>" and "style <layer> <v>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stylize/stylize.h"

int main(int argc, char **argv)
{
    if (argc != 10) {
        fprintf(stderr, "usage: dump_grad WEIGHTS CONTENT STYLE INIT avg|max ALPHA BETA TV OUT\n");
        return 2;
    }
    stylize_error e;
    stylize_weights *w = NULL;
    stylize_image c = {0}, s = {0}, x0 = {0};
    if (stylize_weights_load(&w, argv[1], &e) || stylize_image_load(&c, argv[2], &e) ||
        stylize_image_load(&s, argv[3], &e) || stylize_image_load(&x0, argv[4], &e)) {
        fprintf(stderr, "dump_grad: %s\n", e.msg);
        return 1;
    }
    stylize_objective_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.pool = strcmp(argv[5], "max") == 0 ? STYLIZE_POOL_MAX : STYLIZE_POOL_AVG;
    spec.width = c.width;
    spec.height = c.height;
    stylize_parse_layers("relu4_2", spec.content, &spec.n_content, &e);
    stylize_parse_layers("relu1_1:0.2,relu2_1:0.2,relu3_1:0.2,relu4_1:0.2,relu5_1:0.2", spec.style,
                         &spec.n_style, &e);
    spec.alpha = atof(argv[6]);
    spec.beta = atof(argv[7]);
    spec.tv = atof(argv[8]);
    stylize_objective *obj = NULL;
    size_t n = (size_t)3 * c.width * c.height;
    float *xc = malloc(n * sizeof(float)), *xs = malloc((size_t)3 * s.width * s.height * sizeof(float));
    float *x = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float));
    if (!xc || !xs || !x || !g || x0.width != c.width || x0.height != c.height)
        return 1;
    stylize_image_to_input(&c, &w->input, xc);
    stylize_image_to_input(&s, &w->input, xs);
    stylize_image_to_input(&x0, &w->input, x);
    double v;
    if (stylize_objective_create(&obj, w, &spec, NULL, &e) || stylize_objective_set_content(obj, xc, &e) ||
        stylize_objective_add_style(obj, xs, s.width, s.height, 1.0, &e) ||
        stylize_objective_eval(obj, x, g, &v, &e)) {
        fprintf(stderr, "dump_grad: %s\n", e.msg);
        return 1;
    }
    stylize_loss_breakdown b;
    stylize_objective_breakdown(obj, &b);
    printf("total %.10e\n", b.total);
    for (int i = 0; i < spec.n_content; i++)
        printf("content %s %.10e\n", stylize_vgg19_layer_name(spec.content[i].layer),
               b.content_layer[spec.content[i].layer]);
    for (int i = 0; i < spec.n_style; i++)
        printf("style %s %.10e\n", stylize_vgg19_layer_name(spec.style[i].layer),
               b.style_layer[spec.style[i].layer]);
    FILE *f = fopen(argv[9], "wb");
    if (!f || fwrite(g, sizeof(float), n, f) != n || fclose(f) != 0)
        return 1;
    stylize_objective_free(obj);
    stylize_weights_free(w);
    stylize_image_free(&c), stylize_image_free(&s), stylize_image_free(&x0);
    free(xc), free(xs), free(x), free(g);
    return 0;
}

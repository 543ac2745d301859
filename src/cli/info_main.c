/* stylize info MODEL.tnet: what a model file or checkpoint says. */
#include <stdio.h>
#include <string.h>

#include "gen_cli.h"

static void print_arch(const stylize_gen_model *m)
{
    const stylize_gen_arch *a = &m->arch;
    printf("architecture: %s (%s model)\n", stylize_arch_name(a->kind),
           a->mode == STYLIZE_GEN_STYLE ? "style" : "texture");
    if (a->kind == STYLIZE_ARCH_PYRAMID)
        printf("  scales %d, channels per scale %d", a->scales, a->channels);
    else
        printf("  width multiplier %g, residual blocks %d", a->width_mult, a->blocks);
    printf(", %s\n", a->slope > 0 ? "leaky ReLU" : "ReLU");
    if (a->slope > 0)
        printf("  leaky ReLU slope %g\n", a->slope);
    printf("  sides: multiples of %d (others are padded and cropped back)\n", stylize_gen_multiple(a));
    printf("  parameters: %zu in %d nodes\n", m->params.n, stylize_graph_desc_nodes(m->desc));
}

static void print_meta(const stylize_tnet_meta *t)
{
    printf("training: size %d, batch %d, %lld of %d steps, learning rate %g", t->size, t->batch, t->steps,
           t->iterations, t->learning_rate);
    if (t->lr_decay_every > 0)
        printf(" x %g every %d steps", t->lr_decay, t->lr_decay_every);
    printf("\n  alpha %g, beta %g, tv %g, pool %s, precision %s, seed %llu\n", t->alpha, t->beta, t->tv,
           t->pool, t->precision, t->seed);
    if (*t->content_layers)
        printf("  content layers %s\n", t->content_layers);
    printf("  style layers %s%s\n", t->style_layers, t->random_features ? " (random features)" : "");
    printf("provenance: style %s (sha256 %s)\n", t->style_name, t->style_sha256);
    printf("  weights %s (sha256 %s)\n", t->weights, t->weights_sha256);
    printf("  final loss %.6e, created by %s\n", t->final_loss, t->created_by);
    if (t->checkpoint)
        printf("checkpoint: Adam step %lld, learning rate now %g, data position %lld, files skipped %lld\n",
               t->adam_steps, t->lr_now, t->data_position, t->skipped);
}

int stylize_info_main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: stylize info MODEL.tnet\nPrints what a model file or checkpoint of stylize train says.\n");
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "stylize info: give one model file (usage: stylize info MODEL.tnet)\n");
        return EXIT_USAGE;
    }
    stylize_gen_model m;
    stylize_tnet_meta t;
    stylize_error e;
    if (stylize_tnet_load(argv[1], &m, &t, &e) != STYLIZE_OK) {
        fprintf(stderr, "stylize info: %s\n", e.msg);
        return EXIT_INPUT;
    }
    printf("%s: stylize %s, format version %d\n", argv[1], t.checkpoint ? "checkpoint" : "model", STYLIZE_TNET_VERSION);
    print_arch(&m);
    print_meta(&t);
    stylize_tnet_meta_free(&t);
    stylize_gen_model_free(&m);
    return 0;
}

/* Test tool (not installed): a small generator of either architecture
 * (gen/generator.h), written as a model file and loaded back (.tnet,
 * gen/model_file.h), run forward on a batch and through one training step
 * (src/train/step.c) for the PyTorch cross-check (tests/gen/
 * tnet_crosscheck.py, driven by tests/gen/test_generator_torch.sh).
 *
 * usage: dump_tnet WEIGHTS.json STYLE.png OUTDIR --arch pyramid|residual
 *                  --mode texture|style [--content CONTENT.png] [--size N]
 *                  [--batch B] [--seed S] [--slope X] [--random-features]
 *                  [--model-out FILE.tnet]
 *
 * The model: pyramid 3 scales of 4 channels, residual width_mult 0.125 (w =
 * 4) with 1 residual block; --slope sets the leaky ReLU slope (default 0:
 * ReLU). Parameters: stylize_gen_model_create(seed), then every norm scale
 * and shift moved by 0.2 (2u - 1) so that none is 1 or 0. The model is
 * saved with stylize_tnet_save (default OUTDIR/model.tnet) and loaded back
 * with stylize_tnet_load; everything below runs on the loaded model.
 *
 * The instance: stylize_gen_create(train = 1) at N x N (default 32) for a
 * batch of B (default 2). A style model's content input holds, for image
 * b, the content PNG (even b) or the style PNG (odd b), both N x N, RGB in
 * [0, 1]; the forward draws the noise from stylize_rng seeded with seed ^
 * 0x9e3779b97f4a7c15 (train_step's seed for its first step). The inputs
 * the forward used are re-created here by the generator's formula (noise
 * input i: 0.5 + (u - 0.5) stylize_gen_noise_amplitude(m, i), the inputs
 * in order, each over the whole batch, from the same RNG) and checked by a
 * separate graph of the model's description fed them (every node kept),
 * whose output must equal the instance's bit for bit.
 *
 * The training step, as train_step: the objective (avg pooling; style
 * relu1_1, relu2_1; content relu2_1 for style models; alpha 1, beta 1000,
 * or beta 10 with --random-features, which normalises each layer's loss by
 * its target's energy as the trainer does for random weights) with the
 * style image fitted to N (its longest side) as the trainer's style
 * targets; per image b the content target from image b's content input
 * (stylize_train_to_input), the loss of the converted output image b, its
 * gradient mapped back by stylize_train_grad_from_input scaled by 1/B; the
 * loss is the batch's mean; parameter gradients zeroed, then
 * stylize_gen_backward (no Adam step).
 *
 * Writes into OUTDIR (float32 little-endian blobs):
 *   input_K.bin     the K-th input node's tensor (B, 3, N, N)
 *   output.bin      (B, 3, N, N) the instance's output
 *   params.bin      the loaded model's parameter blob
 *   grad.bin        d(loss)/d(parameters), same layout
 *   style_input.bin the style targets' image (3, sh, sw) in the VGG input
 *                   convention
 *   preact_I.bin    the input of (leaky) ReLU node I as the check graph
 *                   computed it (B, C, N, N): on which side of the kink our
 *                   float32 values fell
 *   graph.json      sizes, architecture, loss, the objective's settings,
 *                   every node of the description (stylize_graph_desc_node:
 *                   op, inputs, channels, hyper-parameters), the inputs and
 *                   the parameter layout (node, op, which, offset, count)
 * and prints "loss <mean>" on stdout. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump_util.h"
#include "stylize/core/rng.h"
#include "stylize/nn/norm.h"
#include "stylize/stylize.h"

#define MAX_BATCH 8
#define ALPHA 1.0
#define CONTENT_LAYERS "relu2_1"
#define STYLE_LAYERS "relu1_1,relu2_1"
#define MAX_INPUTS (STYLIZE_GEN_MAX_SCALES + 1)
#define STEP_SEED_MIX 0x9e3779b97f4a7c15ull
#define MAX_PREACTS STYLIZE_GRAPH_MAX_NODES

typedef struct {
    stylize_gen_arch arch;
    int N, B, random_features;
    uint64_t seed;
    double beta;
    int n_inputs, input_node[MAX_INPUTS];
    float amplitude[MAX_INPUTS]; /* 0 for the content input */
    int n_preacts, preact_node[MAX_PREACTS]; /* (leaky) ReLUs whose input is dumped */
    int sw, sh;                  /* the style targets' image */
    double loss, per_image[MAX_BATCH];
    const char *model_path;
} run_info;

static int write_json(const char *dir, const stylize_gen_model *m, const run_info *ri)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/graph.json", dir) >= (int)sizeof path)
        return -1;
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    const stylize_graph_desc *d = m->desc;
    const stylize_gen_arch *a = &m->arch;
    fprintf(f, "{\n  \"batch\": %d, \"height\": %d, \"width\": %d,\n", ri->B, ri->N, ri->N);
    fprintf(f,
            "  \"arch\": {\"name\": \"%s\", \"mode\": \"%s\", \"scales\": %d, \"channels\": %d, "
            "\"slope\": %.9g, \"width_mult\": %.17g, \"blocks\": %d},\n",
            stylize_arch_name(a->kind), a->mode == STYLIZE_GEN_STYLE ? "style" : "texture", a->scales,
            a->channels, (double)a->slope, a->width_mult, a->blocks);
    fprintf(f, "  \"model\": \"%s\", \"seed\": %llu,\n", ri->model_path, (unsigned long long)ri->seed);
    fprintf(f, "  \"output\": %d, \"loss\": %.17g, \"loss_per_image\": [", m->output, ri->loss);
    for (int b = 0; b < ri->B; b++)
        fprintf(f, "%s%.17g", b ? ", " : "", ri->per_image[b]);
    fprintf(f, "],\n  \"alpha\": %.17g, \"beta\": %.17g, \"pool\": \"avg\", \"random_features\": %d,\n",
            ALPHA, ri->beta, ri->random_features);
    fprintf(f, "  \"content_layers\": \"%s\", \"style_layers\": \"%s\",\n",
            a->mode == STYLIZE_GEN_STYLE ? CONTENT_LAYERS : "", STYLE_LAYERS);
    fprintf(f, "  \"style_input\": {\"file\": \"style_input.bin\", \"width\": %d, \"height\": %d},\n",
            ri->sw, ri->sh);
    fprintf(f, "  \"inputs\": [\n");
    for (int k = 0; k < ri->n_inputs; k++)
        fprintf(f, "    {\"node\": %d, \"file\": \"input_%d.bin\", \"role\": \"%s\", \"amplitude\": %.9g}%s\n",
                ri->input_node[k], k, ri->amplitude[k] > 0 ? "noise" : "content",
                (double)ri->amplitude[k], k + 1 < ri->n_inputs ? "," : "");
    fprintf(f, "  ],\n  \"preacts\": [");
    for (int k = 0; k < ri->n_preacts; k++)
        fprintf(f, "%s{\"node\": %d, \"file\": \"preact_%d.bin\"}", k ? ", " : "", ri->preact_node[k],
                ri->preact_node[k]);
    fprintf(f, "],\n  \"param_floats\": %zu,\n  \"nodes\": [\n", stylize_graph_desc_param_floats(d));
    int n = stylize_graph_desc_nodes(d);
    for (int i = 0; i < n; i++) {
        stylize_gd_node_info ni;
        if (stylize_graph_desc_node(d, i, &ni) != 0) {
            fclose(f);
            return -1;
        }
        const char *op = stylize_op_name(ni.op), *nm = stylize_graph_desc_node_name(d, i);
        char name[48];
        if (nm[0])
            snprintf(name, sizeof name, "%s", nm);
        else
            snprintf(name, sizeof name, "%s%d", op, i);
        fprintf(f, "    {\"id\": %d, \"name\": \"%s\", \"op\": \"%s\", \"channels\": %d, \"in\": [", i,
                name, op, ni.channels);
        for (int k = 0; k < ni.n_in; k++)
            fprintf(f, "%s%d", k ? ", " : "", ni.in[k]);
        fprintf(f, "]");
        switch (ni.op) {
        case STYLIZE_OP_CONV:
            fprintf(f, ", \"k\": %d, \"stride\": %d, \"pad\": \"%s\", \"bias\": %d, \"frozen\": %d", ni.k,
                    ni.stride, pad_name(ni.pad), ni.bias, ni.frozen);
            break;
        case STYLIZE_OP_INORM:
            fprintf(f, ", \"affine\": %d, \"eps\": %.9g", ni.trainable, (double)STYLIZE_INORM_EPS);
            break;
        case STYLIZE_OP_LRELU: fprintf(f, ", \"slope\": %.9g", (double)ni.slope); break;
        case STYLIZE_OP_AVGPOOL: fprintf(f, ", \"levels\": %d", ni.levels); break;
        default: break;
        }
        fprintf(f, "}%s\n", i + 1 < n ? "," : "");
    }
    fprintf(f, "  ],\n  \"params\": [\n");
    int first = 1;
    for (int i = 0; i < n; i++)
        for (int which = 0; which < 2; which++) {
            size_t count;
            long off = stylize_graph_desc_param(d, i, which, &count);
            if (off < 0)
                continue;
            fprintf(f,
                    "%s    {\"node\": %d, \"op\": \"%s\", \"which\": %d, \"offset\": %ld, "
                    "\"count\": %zu}",
                    first ? "" : ",\n", i, stylize_op_name(stylize_graph_desc_op(d, i)), which, off,
                    count);
            first = 0;
        }
    fprintf(f, "\n  ]\n}\n");
    int bad = ferror(f);
    return fclose(f) == 0 && !bad ? 0 : -1;
}

static int usage(void)
{
    fprintf(stderr, "usage: dump_tnet WEIGHTS.json STYLE.png OUTDIR --arch pyramid|residual "
                    "--mode texture|style [--content CONTENT.png] [--size N] [--batch B] [--seed S] "
                    "[--slope X] [--random-features] [--model-out FILE.tnet]\n");
    return 2;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || end == s || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* Moves every norm's scale and shift by 0.2 (2u - 1). */
static void perturb_norms(stylize_gen_model *m, uint64_t seed)
{
    stylize_rng rng;
    stylize_rng_seed(&rng, seed + 1000);
    int n = stylize_graph_desc_nodes(m->desc);
    for (int i = 0; i < n; i++) {
        if (stylize_graph_desc_op(m->desc, i) != STYLIZE_OP_INORM)
            continue;
        for (int which = 0; which < 2; which++) {
            size_t count;
            long off = stylize_graph_desc_param(m->desc, i, which, &count);
            for (size_t k = 0; off >= 0 && k < count; k++)
                m->params.value[(size_t)off + k] += 0.2f * (2.0f * stylize_rng_uniform(&rng) - 1.0f);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return usage();
    const char *weights_path = argv[1], *style_path = argv[2], *dir = argv[3];
    const char *content_path = NULL, *model_out = NULL;
    run_info ri;
    memset(&ri, 0, sizeof ri);
    ri.N = 32, ri.B = 2, ri.seed = 1;
    int have_arch = 0, have_mode = 0;
    stylize_arch_kind kind = STYLIZE_ARCH_PYRAMID;
    stylize_gen_mode mode = STYLIZE_GEN_TEXTURE;
    float slope = 0.0f;
    for (int a = 4; a < argc; a++) {
        const char *opt = argv[a], *val = a + 1 < argc ? argv[a + 1] : NULL;
        if (strcmp(opt, "--random-features") == 0) {
            ri.random_features = 1;
            continue;
        }
        if (!val)
            return usage();
        a++;
        if (strcmp(opt, "--arch") == 0) {
            if (stylize_arch_parse(val, &kind) != 0)
                return usage();
            have_arch = 1;
        } else if (strcmp(opt, "--mode") == 0) {
            if (strcmp(val, "texture") == 0)
                mode = STYLIZE_GEN_TEXTURE;
            else if (strcmp(val, "style") == 0)
                mode = STYLIZE_GEN_STYLE;
            else
                return usage();
            have_mode = 1;
        } else if (strcmp(opt, "--content") == 0) {
            content_path = val;
        } else if (strcmp(opt, "--size") == 0) {
            if (parse_int(val, 1, 4096, &ri.N))
                return usage();
        } else if (strcmp(opt, "--batch") == 0) {
            if (parse_int(val, 1, MAX_BATCH, &ri.B))
                return usage();
        } else if (strcmp(opt, "--seed") == 0) {
            char *end;
            ri.seed = strtoull(val, &end, 10);
            if (*end || end == val)
                return usage();
        } else if (strcmp(opt, "--slope") == 0) {
            char *end;
            slope = strtof(val, &end);
            if (*end || end == val)
                return usage();
        } else if (strcmp(opt, "--model-out") == 0) {
            model_out = val;
        } else {
            return usage();
        }
    }
    if (!have_arch || !have_mode)
        return usage();
    if (mode == STYLIZE_GEN_STYLE && !content_path) {
        fprintf(stderr, "dump_tnet: a style model needs --content\n");
        return 2;
    }
    char model_buf[4096];
    if (!model_out) {
        if (snprintf(model_buf, sizeof model_buf, "%s/model.tnet", dir) >= (int)sizeof model_buf)
            return usage();
        model_out = model_buf;
    }
    ri.model_path = model_out;
    ri.beta = ri.random_features ? 10.0 : 1000.0;

    int rc = 1;
    stylize_error e;
    memset(&e, 0, sizeof e);
    stylize_weights *w = NULL;
    stylize_image ci = {0}, si = {0}, sfit = {0};
    stylize_gen_model m0, m;
    memset(&m0, 0, sizeof m0);
    memset(&m, 0, sizeof m);
    stylize_tnet_meta meta, meta2;
    stylize_tnet_meta_init(&meta);
    stylize_tnet_meta_init(&meta2);
    stylize_gen *gen = NULL;
    stylize_graph *check = NULL;
    stylize_objective *obj = NULL;
    float *in[MAX_INPUTS] = {0};
    float *y = NULL, *dout = NULL, *x = NULL, *gx = NULL, *xs = NULL;

    if (stylize_weights_load(&w, weights_path, &e) || stylize_image_load(&si, style_path, &e) ||
        (content_path && stylize_image_load(&ci, content_path, &e)))
        goto fail;
    const int N = ri.N, B = ri.B;
    const size_t hw = (size_t)N * N, per = 3 * hw, nb = (size_t)B * per;
    if (mode == STYLIZE_GEN_STYLE &&
        (ci.width != N || ci.height != N || si.width != N || si.height != N)) {
        fprintf(stderr, "dump_tnet: a style model's content and style images must be %dx%d "
                        "(content %dx%d, style %dx%d)\n",
                N, N, ci.width, ci.height, si.width, si.height);
        goto done;
    }

    /* the model, through its file */
    stylize_gen_arch arch;
    stylize_gen_arch_defaults(&arch, kind, mode);
    arch.scales = 3, arch.channels = 4;
    arch.width_mult = 0.125, arch.blocks = 1;
    arch.slope = slope;
    if (stylize_gen_model_create(&m0, &arch, ri.seed, NULL, &e))
        goto fail;
    perturb_norms(&m0, ri.seed);
    meta.size = N, meta.batch = B, meta.iterations = 1;
    meta.learning_rate = 1e-3, meta.lr_decay = 1.0;
    meta.alpha = ALPHA, meta.beta = ri.beta;
    snprintf(meta.content_layers, sizeof meta.content_layers, "%s",
             mode == STYLIZE_GEN_STYLE ? CONTENT_LAYERS : "");
    snprintf(meta.style_layers, sizeof meta.style_layers, "%s", STYLE_LAYERS);
    meta.random_features = ri.random_features;
    meta.seed = ri.seed;
    snprintf(meta.created_by, sizeof meta.created_by, "%s", "dump_tnet");
    if (stylize_tnet_save(model_out, &m0, &meta, &e) || stylize_tnet_load(model_out, &m, &meta2, &e))
        goto fail;
    if (m.arch.kind != m0.arch.kind || m.arch.mode != m0.arch.mode || m.arch.scales != m0.arch.scales ||
        m.arch.channels != m0.arch.channels || m.arch.slope != m0.arch.slope ||
        m.arch.width_mult != m0.arch.width_mult || m.arch.blocks != m0.arch.blocks ||
        m.params.n != m0.params.n ||
        memcmp(m.params.value, m0.params.value, m.params.n * sizeof(float)) != 0 ||
        m.output != m0.output || m.n_noise != m0.n_noise ||
        stylize_graph_desc_nodes(m.desc) != stylize_graph_desc_nodes(m0.desc)) {
        fprintf(stderr, "dump_tnet: the model loaded from %s differs from the one saved\n", model_out);
        goto done;
    }
    stylize_gen_model_free(&m0);

    /* the inputs, in input-node order */
    int nodes = stylize_graph_desc_nodes(m.desc);
    for (int i = 0; i < nodes; i++)
        if (stylize_graph_desc_op(m.desc, i) == STYLIZE_OP_INPUT) {
            if (ri.n_inputs == MAX_INPUTS) {
                fprintf(stderr, "dump_tnet: more than %d inputs\n", MAX_INPUTS);
                goto done;
            }
            ri.input_node[ri.n_inputs++] = i;
        }
    int first_noise = mode == STYLIZE_GEN_STYLE ? 1 : 0;
    if (ri.n_inputs != first_noise + m.n_noise) {
        fprintf(stderr, "dump_tnet: %d input nodes, expected %d\n", ri.n_inputs, first_noise + m.n_noise);
        goto done;
    }
    for (int k = 0; k < ri.n_inputs; k++) {
        ri.amplitude[k] = k < first_noise ? 0.0f : stylize_gen_noise_amplitude(&m, k - first_noise);
        if (!(in[k] = malloc(nb * sizeof(float))))
            goto nomem;
    }

    /* the forward */
    if (stylize_gen_create(&gen, &m, B, N, N, 1, NULL, &e))
        goto fail;
    if (mode == STYLIZE_GEN_STYLE) {
        float *content = stylize_gen_content(gen);
        for (int b = 0; b < B; b++)
            memcpy(content + (size_t)b * per, (b % 2 ? si : ci).data, per * sizeof(float));
        memcpy(in[0], content, nb * sizeof(float));
    }
    uint64_t fseed = ri.seed ^ STEP_SEED_MIX;
    stylize_rng rng;
    stylize_rng_seed(&rng, fseed);
    stylize_gen_forward(gen, &rng);
    size_t ns;
    const float *out = stylize_gen_output(gen, &ns);
    if (!(y = malloc(nb * sizeof *y)) || !(dout = malloc(nb * sizeof *dout)) ||
        !(x = malloc(per * sizeof *x)) || !(gx = malloc(per * sizeof *gx)))
        goto nomem;
    for (int b = 0; b < B; b++)
        memcpy(y + (size_t)b * per, out + (size_t)b * ns, per * sizeof *y);

    /* the noise the forward drew, replayed; checked through another graph */
    stylize_rng_seed(&rng, fseed);
    for (int k = first_noise; k < ri.n_inputs; k++)
        for (size_t j = 0; j < nb; j++)
            in[k][j] = 0.5f + (stylize_rng_uniform(&rng) - 0.5f) * ri.amplitude[k];
    {
        stylize_graph_opts o;
        stylize_graph_opts_defaults(&o);
        unsigned char *keep = malloc((size_t)nodes);
        if (!keep)
            goto nomem;
        memset(keep, 1, (size_t)nodes);
        o.batch = B, o.height = N, o.width = N, o.keep = keep;
        o.input_grad = 0, o.param_grad = 0;
        stylize_status st = stylize_graph_create(&check, m.desc, &m.params, &o, NULL, &e);
        free(keep);
        if (st)
            goto fail;
        const float *inputs[MAX_INPUTS];
        for (int k = 0; k < ri.n_inputs; k++)
            inputs[k] = in[k];
        stylize_graph_forward(check, inputs);
        stylize_tshape s;
        stylize_graph_shape(check, m.output, &s);
        const float *o2 = stylize_graph_output(check, m.output);
        if (!o2 || s.n != B || s.c != 3 || s.h != N || s.w != N) {
            fprintf(stderr, "dump_tnet: the check graph's output is not (%d, 3, %d, %d)\n", B, N, N);
            goto done;
        }
        for (int b = 0; b < B; b++)
            if (memcmp(o2 + (size_t)b * s.nstride, y + (size_t)b * per, per * sizeof *y) != 0) {
                fprintf(stderr, "dump_tnet: the replayed inputs do not reproduce image %d's output\n", b);
                goto done;
            }
        /* every (leaky) ReLU's input, for the kinks */
        for (int i = 0; i < nodes; i++) {
            stylize_gd_node_info ni;
            stylize_graph_desc_node(m.desc, i, &ni);
            if (ni.op != STYLIZE_OP_RELU && ni.op != STYLIZE_OP_LRELU)
                continue;
            if (ri.n_preacts == MAX_PREACTS) {
                fprintf(stderr, "dump_tnet: more than %d ReLUs\n", MAX_PREACTS);
                goto done;
            }
            int j = ni.in[0];
            const float *v = stylize_graph_output(check, j);
            stylize_graph_shape(check, j, &s);
            size_t e1 = (size_t)s.c * s.h * s.w;
            float *buf = malloc((size_t)B * e1 * sizeof *buf);
            if (!v || !buf) {
                free(buf);
                fprintf(stderr, "dump_tnet: node %d's output is not readable\n", j);
                goto done;
            }
            for (int b = 0; b < B; b++)
                memcpy(buf + (size_t)b * e1, v + (size_t)b * s.nstride, e1 * sizeof *buf);
            char file[48];
            snprintf(file, sizeof file, "preact_%d.bin", i);
            int werr = write_f32(dir, file, buf, (size_t)B * e1);
            free(buf);
            if (werr)
                goto wfail;
            ri.preact_node[ri.n_preacts++] = i;
        }
        stylize_graph_free(check);
        check = NULL;
    }

    /* one training step's gradients, as train_step */
    stylize_objective_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.pool = STYLIZE_POOL_AVG;
    spec.width = spec.height = N;
    spec.alpha = ALPHA, spec.beta = ri.beta;
    spec.normalise_by_target = ri.random_features;
    if ((mode == STYLIZE_GEN_STYLE && stylize_parse_layers(CONTENT_LAYERS, spec.content, &spec.n_content, &e)) ||
        stylize_parse_layers(STYLE_LAYERS, spec.style, &spec.n_style, &e) ||
        stylize_objective_create(&obj, w, &spec, NULL, &e))
        goto fail;
    stylize_image_fit(si.width, si.height, N, &ri.sw, &ri.sh);
    if (stylize_image_alloc(&sfit, ri.sw, ri.sh, &e) || stylize_image_resize_into(&sfit, &si, &e))
        goto fail;
    if (!(xs = malloc((size_t)3 * ri.sw * ri.sh * sizeof *xs)))
        goto nomem;
    stylize_image_to_input(&sfit, &w->input, xs);
    if (stylize_objective_add_style(obj, xs, ri.sw, ri.sh, 1.0, &e) || stylize_objective_prepare(obj, &e))
        goto fail;
    const stylize_input_convention *conv = &w->input;
    for (int b = 0; b < B; b++) {
        if (mode == STYLIZE_GEN_STYLE) {
            stylize_train_to_input(conv, stylize_gen_content(gen) + (size_t)b * per, gx, hw);
            if (stylize_objective_set_content(obj, gx, &e))
                goto fail;
        }
        stylize_train_to_input(conv, y + (size_t)b * per, x, hw);
        if (stylize_objective_eval(obj, x, gx, &ri.per_image[b], &e))
            goto fail;
        stylize_train_grad_from_input(conv, gx, dout + (size_t)b * per, hw, 1.0f / (float)B);
        ri.loss += ri.per_image[b];
    }
    ri.loss /= B;
    stylize_params_zero_grad(&m.params);
    stylize_gen_backward(gen, dout);

    char file[32];
    for (int k = 0; k < ri.n_inputs; k++) {
        snprintf(file, sizeof file, "input_%d.bin", k);
        if (write_f32(dir, file, in[k], nb))
            goto wfail;
    }
    if (write_f32(dir, "output.bin", y, nb) || write_f32(dir, "params.bin", m.params.value, m.params.n) ||
        write_f32(dir, "grad.bin", m.params.grad, m.params.n) ||
        write_f32(dir, "style_input.bin", xs, (size_t)3 * ri.sw * ri.sh) || write_json(dir, &m, &ri))
        goto wfail;
    printf("loss %.10e\n", ri.loss);
    rc = 0;
    goto done;
wfail:
    fprintf(stderr, "dump_tnet: cannot write into %s\n", dir);
    goto done;
nomem:
    fprintf(stderr, "dump_tnet: out of memory\n");
    goto done;
fail:
    fprintf(stderr, "dump_tnet: %s\n", e.msg);
done:
    stylize_objective_free(obj);
    stylize_graph_free(check);
    stylize_gen_free(gen);
    stylize_gen_model_free(&m);
    stylize_gen_model_free(&m0);
    stylize_tnet_meta_free(&meta2);
    stylize_weights_free(w);
    stylize_image_free(&ci);
    stylize_image_free(&si);
    stylize_image_free(&sfit);
    for (int k = 0; k < MAX_INPUTS; k++)
        free(in[k]);
    free(y), free(dout), free(x), free(gx), free(xs);
    return rc;
}

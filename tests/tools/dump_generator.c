/* Test tool (not installed): a small multi-scale generator on the layer
 * graph (nn/graph.h) that uses every op and option, run forward on a batch
 * of 2 and backward from the VGG-19 style objective, for the PyTorch
 * cross-check (tests/nn/generator_crosscheck.py).
 *
 * usage: dump_generator WEIGHTS.json CONTENT.png STYLE.png OUTDIR [--seed N] [--keep-all]
 *                       [--algo im2col|winograd|winograd2]
 *
 * The generator's output size is the content image's (both sides multiples
 * of 8; the style image of the same size). Its input (2, 6, H, W) holds 3
 * "image" channels (the content in the input convention for image 0, the
 * style for image 1) and 3 channels of uniform noise from the seed.
 * Parameters: stylize_params_init(seed), then every norm and affine scale
 * and shift moved by 0.2 (2u - 1) so that none is 1 or 0. Each image of the
 * output is evaluated by the objective (content relu2_1, style relu1_1 and
 * relu2_1, the content and style PNGs as targets); the loss is the sum over
 * the batch and its gradient is injected at the output node.
 *
 * Memory plans: by default only the output is kept and the input gradient
 * is computed (scratch slots, in-place ops and concatenation views in use);
 * --keep-all keeps every node and skips the input gradient. --algo sets the
 * default algorithm of 3x3 stride-1 zero-padded convolutions (the
 * generator's and VGG's; default: the library's).
 *
 * Writes into OUTDIR (float32 little-endian blobs):
 *   input.bin       (2, 6, H, W)
 *   output.bin      (2, 3, H, W)
 *   params.bin      the parameter blob
 *   grad.bin        dL/d(parameters), same layout
 *   input_grad.bin  dL/d(input) (2, 6, H, W); not with --keep-all
 *   graph.json      sizes, loss, the objective's settings, every node (op,
 *                   inputs, channels, hyper-parameters) and the parameter
 *                   layout (node, op, which, offset, count)
 * and prints "loss <total>" on stdout. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump_util.h"
#include "stylize/core/rng.h"
#include "stylize/nn/graph.h"
#include "stylize/nn/norm.h"
#include "stylize/stylize.h"

#define BATCH 2
#define IN_CH 6
#define MAXN 96
#define ALPHA 1.0
#define BETA 1000.0
#define CONTENT_LAYERS "relu2_1"
#define STYLE_LAYERS "relu1_1:0.5,relu2_1:0.5"

/* The builder's record of each node, for graph.json. */
typedef struct {
    stylize_graph_desc *d;
    int n;
    const char *op[MAXN];
    char name[MAXN][32];
    int in[MAXN][STYLIZE_GRAPH_MAX_FANIN], n_in[MAXN];
    char extra[MAXN][160]; /* hyper-parameters as JSON members, or "" */
    int bad;               /* a node was recorded out of order or past MAXN */
} gen;

/* Records node i (op, name, inputs in[0..n_in), hyper-parameters). */
static void record(gen *g, int i, const char *op, const char *name, int n_in, const int *in,
                   const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static void record(gen *g, int i, const char *op, const char *name, int n_in, const int *in,
                   const char *fmt, ...)
{
    if (i < 0)
        return; /* the description keeps the error */
    if (i != g->n || i >= MAXN) {
        g->bad = 1;
        return;
    }
    g->op[i] = op;
    g->n_in[i] = n_in;
    for (int k = 0; k < n_in; k++)
        g->in[i][k] = in[k];
    snprintf(g->name[i], sizeof g->name[i], "%s", name);
    stylize_gd_name(g->d, i, name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->extra[i], sizeof g->extra[i], fmt, ap);
    va_end(ap);
    g->n++;
}

static int input(gen *g, const char *name, int channels)
{
    int i = stylize_gd_input(g->d, channels);
    record(g, i, "input", name, 0, NULL, "%s", "");
    return i;
}

static int conv(gen *g, const char *name, int in, int cout, int k, int stride,
                stylize_pad_mode pad, int bias)
{
    int i = stylize_gd_conv(g->d, in, cout, k, stride, pad, bias);
    record(g, i, "conv", name, 1, &in, "\"k\": %d, \"stride\": %d, \"pad\": \"%s\", \"bias\": %d", k,
           stride, pad_name(pad), bias);
    return i;
}

static int inorm(gen *g, const char *name, int in, int affine)
{
    int i = stylize_gd_inorm(g->d, in, affine);
    record(g, i, "inorm", name, 1, &in, "\"affine\": %d, \"eps\": %.9g", affine,
           (double)STYLIZE_INORM_EPS);
    return i;
}

static int lrelu(gen *g, const char *name, int in)
{
    const float slope = 0.01f;
    int i = stylize_gd_lrelu(g->d, in, slope);
    record(g, i, "lrelu", name, 1, &in, "\"slope\": %.9g", (double)slope);
    return i;
}

static int avgpool(gen *g, const char *name, int in, int levels)
{
    int i = stylize_gd_avgpool(g->d, in, levels);
    record(g, i, "avgpool", name, 1, &in, "\"levels\": %d", levels);
    return i;
}

/* relu, maxpool, upsample, affine: one input, no hyper-parameters. */
static int unary(gen *g, stylize_op op, const char *name, int in)
{
    int i = -1;
    switch (op) {
    case STYLIZE_OP_RELU: i = stylize_gd_relu(g->d, in); break;
    case STYLIZE_OP_MAXPOOL: i = stylize_gd_maxpool(g->d, in); break;
    case STYLIZE_OP_UPSAMPLE: i = stylize_gd_upsample(g->d, in); break;
    case STYLIZE_OP_AFFINE: i = stylize_gd_affine(g->d, in); break;
    default: g->bad = 1; return -1;
    }
    record(g, i, stylize_op_name(op), name, 1, &in, "%s", "");
    return i;
}

static int concat2(gen *g, const char *name, int a, int b)
{
    int in[2] = {a, b};
    int i = stylize_gd_concat(g->d, 2, in);
    record(g, i, "concat", name, 2, in, "%s", "");
    return i;
}

static int add(gen *g, const char *name, int a, int b)
{
    int in[2] = {a, b};
    int i = stylize_gd_add(g->d, a, b);
    record(g, i, "add", name, 2, in, "%s", "");
    return i;
}

/* conv -> inorm (affine) -> leaky ReLU. A bias before the norm cancels
 * (its gradient is zero up to rounding): only one block has it. */
static int block(gen *g, const char *name, int in, int cout, int k, int stride,
                 stylize_pad_mode pad, int bias)
{
    char nm[32];
    snprintf(nm, sizeof nm, "%s.conv", name);
    int c = conv(g, nm, in, cout, k, stride, pad, bias);
    snprintf(nm, sizeof nm, "%s.norm", name);
    int n = inorm(g, nm, c, 1);
    snprintf(nm, sizeof nm, "%s.act", name);
    return lrelu(g, nm, n);
}

/* The generator: three scales (1, 1/2, 1/4 of the input), joined coarse to
 * fine by upsampling and concatenation after instance norms, as in Ulyanov
 * et al.'s pyramid. Returns the output node (3 channels, the input's size). */
static int build(gen *g)
{
    int x = input(g, "input", IN_CH);
    int s1 = avgpool(g, "half", x, 1);
    int s2 = avgpool(g, "quarter", x, 2);

    /* 1/4: a replicate 3x3 block (with bias), a stride-2 reflect block
     * down to 1/8, upsampling, a circular 3x3 with bias (no norm after
     * it), upsampling */
    int q = block(g, "q1", s2, 8, 3, 1, STYLIZE_PAD_REPLICATE, 1);
    q = block(g, "q2", q, 8, 3, 2, STYLIZE_PAD_REFLECT, 0);
    q = unary(g, STYLIZE_OP_UPSAMPLE, "q2.up", q);
    q = conv(g, "q3.conv", q, 8, 3, 1, STYLIZE_PAD_CIRCULAR, 1);
    q = lrelu(g, "q3.act", q);
    q = unary(g, STYLIZE_OP_UPSAMPLE, "q.up", q);
    q = inorm(g, "q.join_norm", q, 1);

    /* 1/2: two replicate 3x3 blocks, a plain (not affine) norm, the join
     * with 1/4, a 1x1 without bias, a zero-padded 3x3 block (the Winograd
     * path), upsampling */
    int h = block(g, "h1", s1, 8, 3, 1, STYLIZE_PAD_REPLICATE, 0);
    h = block(g, "h2", h, 8, 3, 1, STYLIZE_PAD_REPLICATE, 0);
    h = inorm(g, "h.join_norm", h, 0);
    int j = concat2(g, "h.join", q, h);
    j = conv(g, "h3.conv1x1", j, 8, 1, 1, STYLIZE_PAD_ZERO, 0);
    j = block(g, "h4", j, 8, 3, 1, STYLIZE_PAD_ZERO, 0);
    j = unary(g, STYLIZE_OP_UPSAMPLE, "h.up", j);
    j = inorm(g, "h.up_norm", j, 1);

    /* 1: a 9x9 zero-padded block, a max-pooled side branch (1x1 with bias)
     * upsampled and added back (residual), the join with 1/2 */
    int f = block(g, "f1", x, 4, 9, 1, STYLIZE_PAD_ZERO, 0);
    int p = unary(g, STYLIZE_OP_MAXPOOL, "f.pool", f);
    p = conv(g, "f2.conv1x1", p, 4, 1, 1, STYLIZE_PAD_ZERO, 1);
    p = unary(g, STYLIZE_OP_UPSAMPLE, "f2.up", p);
    f = add(g, "f.res", f, p);
    f = lrelu(g, "f.res_act", f); /* else the norm would cancel f2's bias */
    f = inorm(g, "f.join_norm", f, 1);
    int t = concat2(g, "f.join", j, f);

    /* head: 3x3 -> norm -> ReLU, a reflect 3x3 with bias added back
     * (residual), ReLU, affine, 1x1 with bias to RGB */
    int r = conv(g, "o1.conv", t, 8, 3, 1, STYLIZE_PAD_ZERO, 0);
    r = inorm(g, "o1.norm", r, 1);
    r = unary(g, STYLIZE_OP_RELU, "o1.act", r);
    int r2 = conv(g, "o2.conv", r, 8, 3, 1, STYLIZE_PAD_REFLECT, 1);
    r = add(g, "o.res", r, r2);
    r = unary(g, STYLIZE_OP_RELU, "o.act", r);
    r = unary(g, STYLIZE_OP_AFFINE, "o.affine", r);
    return conv(g, "out", r, 3, 1, 1, STYLIZE_PAD_ZERO, 1);
}

typedef struct {
    int out, H, W, keep_all;
    uint64_t seed;
    double loss, per_image[BATCH];
} run_info;

static int write_json(const char *dir, const gen *g, const run_info *ri)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/graph.json", dir) >= (int)sizeof path)
        return -1;
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    const stylize_graph_desc *d = g->d;
    fprintf(f, "{\n  \"batch\": %d, \"height\": %d, \"width\": %d, \"in_channels\": %d,\n", BATCH,
            ri->H, ri->W, IN_CH);
    fprintf(f, "  \"seed\": %llu, \"keep_all\": %d, \"input_grad\": %d,\n",
            (unsigned long long)ri->seed, ri->keep_all, !ri->keep_all);
    fprintf(f, "  \"output\": %d, \"loss\": %.17g, \"loss_per_image\": [%.17g, %.17g],\n", ri->out,
            ri->loss, ri->per_image[0], ri->per_image[1]);
    fprintf(f, "  \"alpha\": %.17g, \"beta\": %.17g, \"pool\": \"avg\",\n", ALPHA, BETA);
    fprintf(f, "  \"content_layers\": \"%s\", \"style_layers\": \"%s\",\n", CONTENT_LAYERS,
            STYLE_LAYERS);
    fprintf(f, "  \"param_floats\": %zu,\n  \"nodes\": [\n", stylize_graph_desc_param_floats(d));
    for (int i = 0; i < g->n; i++) {
        fprintf(f, "    {\"id\": %d, \"name\": \"%s\", \"op\": \"%s\", \"channels\": %d, \"in\": [", i,
                g->name[i], g->op[i], stylize_graph_desc_channels(d, i));
        for (int k = 0; k < g->n_in[i]; k++)
            fprintf(f, "%s%d", k ? ", " : "", g->in[i][k]);
        fprintf(f, "]%s%s}%s\n", g->extra[i][0] ? ", " : "", g->extra[i], i + 1 < g->n ? "," : "");
    }
    fprintf(f, "  ],\n  \"params\": [\n");
    int first = 1;
    for (int i = 0; i < g->n; i++)
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

/* The objective's gradient of each output image, added at the output node. */
typedef struct {
    int out;
    const float *dy; /* (BATCH, 3, H, W) contiguous */
    int calls, with_act;
} inject_ctx;

static void inject(void *user, int node, const float *act, float *grad, const stylize_tshape *s,
                   size_t grad_nstride)
{
    inject_ctx *c = user;
    if (node != c->out)
        return;
    c->calls++;
    c->with_act += act != NULL;
    size_t e = (size_t)s->c * (size_t)s->h * (size_t)s->w;
    for (int b = 0; b < s->n; b++)
        for (size_t k = 0; k < e; k++)
            grad[(size_t)b * grad_nstride + k] += c->dy[(size_t)b * e + k];
}

static int usage(void)
{
    fprintf(stderr, "usage: dump_generator WEIGHTS.json CONTENT.png STYLE.png OUTDIR [--seed N] "
                    "[--keep-all] [--algo im2col|winograd|winograd2]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 5)
        return usage();
    const char *dir = argv[4];
    run_info ri;
    memset(&ri, 0, sizeof ri);
    ri.seed = 1;
    for (int a = 5; a < argc; a++) {
        if (strcmp(argv[a], "--seed") == 0 && a + 1 < argc) {
            char *end;
            ri.seed = strtoull(argv[++a], &end, 10);
            if (*end)
                return usage();
        } else if (strcmp(argv[a], "--keep-all") == 0) {
            ri.keep_all = 1;
        } else if (strcmp(argv[a], "--algo") == 0 && a + 1 < argc) {
            const char *v = argv[++a];
            if (strcmp(v, "im2col") == 0)
                stylize_conv_set_default_algo(STYLIZE_CONV_IM2COL);
            else if (strcmp(v, "winograd") == 0)
                stylize_conv_set_default_algo(STYLIZE_CONV_WINOGRAD);
            else if (strcmp(v, "winograd2") == 0)
                stylize_conv_set_default_algo(STYLIZE_CONV_WINOGRAD_F2);
            else
                return usage();
        } else {
            return usage();
        }
    }

    int rc = 1;
    stylize_error e;
    memset(&e, 0, sizeof e);
    stylize_weights *w = NULL;
    stylize_image ci = {0}, si = {0};
    gen g;
    memset(&g, 0, sizeof g);
    stylize_params p;
    memset(&p, 0, sizeof p);
    stylize_graph *net = NULL;
    stylize_objective *obj = NULL;
    float *x = NULL, *xg = NULL, *y = NULL, *dy = NULL, *xc = NULL, *xs = NULL;
    unsigned char *keep = NULL;

    if (stylize_weights_load(&w, argv[1], &e) || stylize_image_load(&ci, argv[2], &e) ||
        stylize_image_load(&si, argv[3], &e))
        goto fail;
    int H = ci.height, W = ci.width;
    ri.H = H, ri.W = W;
    if (H % 8 || W % 8 || si.width != W || si.height != H) {
        fprintf(stderr, "dump_generator: images must be of one size, both sides multiples of 8 "
                        "(content %dx%d, style %dx%d)\n",
                W, H, si.width, si.height);
        goto done;
    }

    if (stylize_graph_desc_create(&g.d, &e))
        goto fail;
    ri.out = build(&g);
    if (stylize_graph_desc_status(g.d, &e))
        goto fail;
    if (g.bad || g.n != stylize_graph_desc_nodes(g.d)) {
        fprintf(stderr, "dump_generator: the builder's record disagrees with the description\n");
        goto done;
    }
    for (int i = 0; i < g.n; i++)
        if (strcmp(g.op[i], stylize_op_name(stylize_graph_desc_op(g.d, i))) != 0 ||
            strcmp(g.name[i], stylize_graph_desc_node_name(g.d, i)) != 0 ||
            stylize_graph_desc_find(g.d, g.name[i]) != i) {
            fprintf(stderr, "dump_generator: node %d is %s %s in the description, built as %s %s\n",
                    i, stylize_op_name(stylize_graph_desc_op(g.d, i)),
                    stylize_graph_desc_node_name(g.d, i), g.op[i], g.name[i]);
            goto done;
        }

    /* The instance is created over the freshly created (unit/zero)
     * parameters; the initialised values reach the convolutions' cached
     * kernels through stylize_graph_params_changed, as after an optimiser
     * step. */
    if (stylize_params_create(&p, g.d, NULL, &e))
        goto fail;
    keep = calloc((size_t)g.n, 1);
    if (!keep)
        goto nomem;
    for (int i = 0; i < g.n; i++)
        keep[i] = ri.keep_all || i == ri.out;
    stylize_graph_opts o;
    stylize_graph_opts_defaults(&o);
    o.batch = BATCH, o.height = H, o.width = W;
    o.keep = keep;
    o.input_grad = !ri.keep_all;
    o.param_grad = 1;
    if (stylize_graph_create(&net, g.d, &p, &o, NULL, &e))
        goto fail;
    stylize_params_init(&p, g.d, ri.seed);
    stylize_rng rng;
    stylize_rng_seed(&rng, ri.seed + 1000);
    for (int i = 0; i < g.n; i++) {
        stylize_op op = stylize_graph_desc_op(g.d, i);
        if (op != STYLIZE_OP_INORM && op != STYLIZE_OP_AFFINE)
            continue;
        for (int which = 0; which < 2; which++) {
            size_t count;
            long off = stylize_graph_desc_param(g.d, i, which, &count);
            for (size_t k = 0; off >= 0 && k < count; k++)
                p.value[(size_t)off + k] += 0.2f * (2.0f * stylize_rng_uniform(&rng) - 1.0f);
        }
    }
    stylize_graph_params_changed(net);

    /* input: image channels (content, style) and noise */
    size_t plane = (size_t)H * W, nx = (size_t)BATCH * IN_CH * plane, ny = (size_t)BATCH * 3 * plane;
    x = malloc(nx * sizeof *x);
    xg = malloc(nx * sizeof *xg);
    y = malloc(ny * sizeof *y);
    dy = malloc(ny * sizeof *dy);
    xc = malloc(3 * plane * sizeof *xc);
    xs = malloc(3 * plane * sizeof *xs);
    if (!x || !xg || !y || !dy || !xc || !xs)
        goto nomem;
    stylize_image_to_input(&ci, &w->input, xc);
    stylize_image_to_input(&si, &w->input, xs);
    memcpy(x, xc, 3 * plane * sizeof *x);
    memcpy(x + IN_CH * plane, xs, 3 * plane * sizeof *x);
    for (int b = 0; b < BATCH; b++)
        for (size_t k = 3 * plane; k < IN_CH * plane; k++)
            x[(size_t)b * IN_CH * plane + k] = 2.0f * stylize_rng_uniform(&rng) - 1.0f;

    stylize_tshape s;
    stylize_graph_shape(net, ri.out, &s);
    if (s.n != BATCH || s.c != 3 || s.h != H || s.w != W) {
        fprintf(stderr, "dump_generator: output shape (%d, %d, %d, %d), expected (%d, 3, %d, %d)\n",
                s.n, s.c, s.h, s.w, BATCH, H, W);
        goto done;
    }
    const float *inputs[1] = {x};
    stylize_graph_forward(net, inputs);
    const float *out = stylize_graph_output(net, ri.out);
    if (!out) {
        fprintf(stderr, "dump_generator: the kept output is not readable\n");
        goto done;
    }
    for (int b = 0; b < BATCH; b++)
        memcpy(y + (size_t)b * 3 * plane, out + (size_t)b * s.nstride, 3 * plane * sizeof *y);

    /* the objective on each output image; the loss is the batch's sum */
    stylize_objective_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.pool = STYLIZE_POOL_AVG;
    spec.width = W, spec.height = H;
    spec.alpha = ALPHA, spec.beta = BETA;
    if (stylize_parse_layers(CONTENT_LAYERS, spec.content, &spec.n_content, &e) ||
        stylize_parse_layers(STYLE_LAYERS, spec.style, &spec.n_style, &e) ||
        stylize_objective_create(&obj, w, &spec, NULL, &e) ||
        stylize_objective_add_style(obj, xs, W, H, 1.0, &e) ||
        stylize_objective_set_content(obj, xc, &e) || stylize_objective_prepare(obj, &e))
        goto fail;
    for (int b = 0; b < BATCH; b++) {
        if (stylize_objective_eval(obj, y + (size_t)b * 3 * plane, dy + (size_t)b * 3 * plane,
                                   &ri.per_image[b], &e))
            goto fail;
        ri.loss += ri.per_image[b];
    }

    inject_ctx ic = {ri.out, dy, 0, 0};
    stylize_params_zero_grad(&p);
    float *input_grads[1] = {xg};
    stylize_graph_backward(net, inject, &ic, input_grads);
    if (ic.calls != 1 || ic.with_act != 1) {
        fprintf(stderr, "dump_generator: inject called %d times at the output (%d with its value)\n",
                ic.calls, ic.with_act);
        goto done;
    }

    if (write_f32(dir, "input.bin", x, nx) || write_f32(dir, "output.bin", y, ny) ||
        write_f32(dir, "params.bin", p.value, p.n) || write_f32(dir, "grad.bin", p.grad, p.n) ||
        (!ri.keep_all && write_f32(dir, "input_grad.bin", xg, nx)) || write_json(dir, &g, &ri)) {
        fprintf(stderr, "dump_generator: cannot write into %s\n", dir);
        goto done;
    }
    printf("loss %.10e\n", ri.loss);
    rc = 0;
    goto done;
nomem:
    fprintf(stderr, "dump_generator: out of memory\n");
    goto done;
fail:
    fprintf(stderr, "dump_generator: %s\n", e.msg);
done:
    stylize_objective_free(obj);
    stylize_graph_free(net);
    stylize_params_free(&p);
    stylize_graph_desc_free(g.d);
    stylize_weights_free(w);
    stylize_image_free(&ci);
    stylize_image_free(&si);
    free(keep), free(x), free(xg), free(y), free(dy), free(xc), free(xs);
    return rc;
}

/* stylize apply: paints with a trained model (gen/generator.h) in one
 * forward pass: style models over one or many content images, texture
 * models into one or many samples. The model is loaded once and its
 * instance planned once at the largest size needed (grown only when a
 * later image is larger). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_cli.h"
#include "stylize/core/clock.h"
#include "stylize_inputs.h"

static const char *const cmd = "apply";

static const char usage[] =
    "usage: stylize apply --model STYLE.tnet --content IMAGE [IMAGE ...|DIR|@LIST] -o OUT | --output-dir DIR\n"
    "       stylize apply --model TEXTURE.tnet [--width W --height H --seed N --count N] -o OUT | --output-dir DIR\n"
    "Paints with a model of `stylize train` in one forward pass.";

static const gen_flag flags[] = {
    {"model", 'm', 1, "MODEL.tnet", "the model file (stylize train)"},
    {"content", 'c', 1, "IMAGE...", "content images (style models): files, a folder, @LIST"},
    {"output", 'o', 1, "FILE", "output image (.png or .jpg)"},
    {"output-dir", 0, 1, "DIR", "batch: write DIR/<name>.png for each input (or sample)"},
    {"size", 0, 1, "N", "longest side of the output (default: the content's own)"},
    {"width", 0, 1, "W", "texture models: output width (default: the training size)"},
    {"height", 0, 1, "H", "texture models: output height (default: the training size)"},
    {"count", 0, 1, "N", "texture models: samples to write (default 1)"},
    {"seed", 0, 1, "N", "noise seed (default 0; sample k uses seed + k)"},
    {"preserve-colors", 0, 1, "MODE", "none, luminance (keep the content's colours) or histogram"},
    {"preserve-colours", 0, 1, "MODE", NULL},
    {"jpeg-quality", 0, 1, "N", "1..100 (default 95)"},
    {"threads", 0, 1, "N", "threads (default: all cores)"},
    {"precision", 0, 1, "fp32|bf16|auto", CLI_PRECISION_HELP("bf16 where the CPU has it and runs it fast, else fp32")},
    {"quiet", 'q', 0, "", "print nothing but errors"},
};
#define NF ((int)(sizeof flags / sizeof flags[0]))

typedef struct {
    gen_args a;
    const char *model_path, *output, *output_dir;
    int size, width, height, count, quality, quiet, colours;
    unsigned long long seed;
    char **contents;
    int n_contents;
    stylize_gen_model m;
    stylize_tnet_meta meta;
    stylize_gen *g;            /* planned at (gh, gw) */
    int gh, gw;
} apply_state;

static int round_up(int v, int m)
{
    return (v + m - 1) / m * m;
}

/* The instance for (h, w) (sides already multiples): reused, or planned
 * again at the larger of both sizes. */
static stylize_status instance_for(apply_state *s, int h, int w, stylize_error *err)
{
    if (!s->g || h > s->gh || w > s->gw) {
        int nh = h > s->gh ? h : s->gh, nw = w > s->gw ? w : s->gw;
        stylize_gen_free(s->g);
        s->g = NULL;
        stylize_status st = stylize_gen_create(&s->g, &s->m, 1, nh, nw, 0, NULL, err);
        if (st != STYLIZE_OK)
            return st;
        s->gh = nh, s->gw = nw;
    }
    return stylize_gen_set_size(s->g, h, w, err);
}

/* img (w, h) into the generator's content input of (H, W), replicating the
 * last row and column into the padding. */
static void fill_padded(float *dst, const stylize_image *img, int H, int W)
{
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < H; y++) {
            const float *src = img->data + ((size_t)c * img->height + (y < img->height ? y : img->height - 1)) * img->width;
            float *d = dst + ((size_t)c * H + y) * W;
            memcpy(d, src, (size_t)img->width * sizeof(float));
            for (int x = img->width; x < W; x++)
                d[x] = src[img->width - 1];
        }
}

/* out (w, h, allocated) = the generator's output cropped and clamped. */
static void crop_out(stylize_image *out, const float *o, int H, int W)
{
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < out->height; y++)
            for (int x = 0; x < out->width; x++) {
                float v = o[((size_t)c * H + y) * W + x];
                out->data[((size_t)c * out->height + y) * out->width + x] = v < 0 ? 0 : v > 1 ? 1 : v;
            }
}

/* Runs the generator at (w, h) on content (NULL: texture) into out. */
static stylize_status generate(apply_state *s, const stylize_image *content, int w, int h, unsigned long long seed,
                               stylize_image *out, stylize_error *err)
{
    int mult = stylize_gen_multiple(&s->m.arch), lo = stylize_gen_min_side(&s->m.arch);
    int H = round_up(h < lo ? lo : h, mult), W = round_up(w < lo ? lo : w, mult);
    stylize_status st = instance_for(s, H, W, err);
    if (st == STYLIZE_OK)
        st = stylize_image_alloc(out, w, h, err);
    if (st != STYLIZE_OK)
        return st;
    if (content)
        fill_padded(stylize_gen_content(s->g), content, H, W);
    stylize_rng rng;
    stylize_rng_seed(&rng, seed);
    stylize_gen_forward(s->g, &rng);
    size_t ns;
    crop_out(out, stylize_gen_output(s->g, &ns), H, W);
    return STYLIZE_OK;
}

static int stage_flags(apply_state *s)
{
    const gen_args *a = &s->a;
    s->model_path = gen_str(flags, NF, a, "model");
    s->output = gen_str(flags, NF, a, "output");
    s->output_dir = gen_str(flags, NF, a, "output-dir");
    s->quiet = gen_str(flags, NF, a, "quiet") != NULL;
    s->count = 1, s->quality = 95;
    int threads = 0, rc = gen_int(cmd, flags, NF, a, "size", 8, 16384, &s->size);
    if (rc == GEN_GO_ON)
        rc = gen_int(cmd, flags, NF, a, "width", 8, 16384, &s->width);
    if (rc == GEN_GO_ON)
        rc = gen_int(cmd, flags, NF, a, "height", 8, 16384, &s->height);
    if (rc == GEN_GO_ON)
        rc = gen_int(cmd, flags, NF, a, "count", 1, 1000000, &s->count);
    if (rc == GEN_GO_ON)
        rc = gen_int(cmd, flags, NF, a, "jpeg-quality", 1, 100, &s->quality);
    if (rc == GEN_GO_ON)
        rc = gen_int(cmd, flags, NF, a, "threads", 1, 1024, &threads);
    if (rc != GEN_GO_ON)
        return rc;
    if (threads > 0)
        stylize_set_threads(threads);
    const char *precision = gen_str(flags, NF, a, "precision");
    int p = 0;
    if (precision && (rc = cli_parse_precision("stylize apply", "--precision", precision, &p)) != 0)
        return rc;
    stylize_error err;
    if (stylize_precision_select((stylize_precision)p, STYLIZE_WORK_APPLY, NULL, &err) != STYLIZE_OK) {
        fprintf(stderr, "stylize apply: --precision: %s\n", err.msg);
        return EXIT_USAGE;
    }
    const char *seed = gen_str(flags, NF, a, "seed");
    if (seed && cli_parse_u64(seed, &s->seed) != 0) {
        fprintf(stderr, "stylize apply: --seed: '%s' is not a non-negative integer\n", seed);
        return EXIT_USAGE;
    }
    const char *pc = gen_str(flags, NF, a, "preserve-colors");
    pc = pc ? pc : gen_str(flags, NF, a, "preserve-colours");
    static const char *const modes[] = {"none", "luminance", "histogram"};
    for (s->colours = 0; pc && s->colours < 3 && strcmp(pc, modes[s->colours]) != 0; s->colours++)
        ;
    if (s->colours == 3) {
        fprintf(stderr, "stylize apply: --preserve-colors: '%s' is not none, luminance or histogram\n", pc);
        return EXIT_USAGE;
    }
    if (!s->model_path) {
        fprintf(stderr, "stylize apply: --model MODEL.tnet is required\n");
        return EXIT_USAGE;
    }
    if (!!s->output == !!s->output_dir) {
        fprintf(stderr, "stylize apply: give either -o FILE or --output-dir DIR\n");
        return EXIT_USAGE;
    }
    if (s->output_dir && !cli_writable_dir(s->output_dir)) {
        fprintf(stderr, "stylize apply: --output-dir: '%s' is not a writable directory\n", s->output_dir);
        return EXIT_OUTPUT;
    }
    if (s->output && !cli_output_dir_ok(s->output)) {
        fprintf(stderr, "stylize apply: --output: directory of '%s' does not exist or is not writable\n", s->output);
        return EXIT_OUTPUT;
    }
    return GEN_GO_ON;
}

/* The model, and the inputs its mode takes. */
static int stage_model(apply_state *s)
{
    stylize_error e;
    if (stylize_tnet_load(s->model_path, &s->m, &s->meta, &e) != STYLIZE_OK) {
        fprintf(stderr, "stylize apply: --model: %s\n", e.msg);
        return EXIT_INPUT;
    }
    const char *content = gen_str(flags, NF, &s->a, "content");
    int style = s->m.arch.mode == STYLIZE_GEN_STYLE;
    if (!style && (content || s->a.n_positional > 0 || s->colours)) {
        fprintf(stderr, "stylize apply: %s: a texture model takes no content (use --width/--height/--seed/--count)\n",
                content || s->a.n_positional ? "--content" : "--preserve-colors");
        return EXIT_USAGE;
    }
    if (style && (s->width || s->height || gen_str(flags, NF, &s->a, "count"))) {
        fprintf(stderr, "stylize apply: --width/--height/--count: only for texture models (a style model keeps the content's shape; see --size)\n");
        return EXIT_USAGE;
    }
    if (style && !content) {
        fprintf(stderr, "stylize apply: --content IMAGE is required for a style model\n");
        return EXIT_USAGE;
    }
    if (!style) {
        s->width = s->width ? s->width : (s->meta.size > 0 ? s->meta.size : 256);
        s->height = s->height ? s->height : (s->meta.size > 0 ? s->meta.size : 256);
        return GEN_GO_ON;
    }
    char *args[GEN_MAX_POSITIONAL + 1];
    args[0] = (char *)content;
    for (int i = 0; i < s->a.n_positional; i++)
        args[i + 1] = s->a.positional[i];
    if (cli_expand_contents(args, s->a.n_positional + 1, &s->contents, &s->n_contents) != 0)
        return EXIT_INPUT;
    if (s->output && s->n_contents > 1) {
        fprintf(stderr, "stylize apply: -o: %d contents need --output-dir DIR\n", s->n_contents);
        return EXIT_USAGE;
    }
    return GEN_GO_ON;
}

/* Where job j goes: -o, or DIR/<input's name>.png, or DIR/texture_NNNN.png. */
static void out_path(const apply_state *s, int j, char *buf, size_t cap)
{
    if (s->output && (s->contents || s->count == 1)) {
        snprintf(buf, cap, "%s", s->output);
    } else if (s->output) {
        const char *dot = strrchr(s->output, '.'), *slash = strrchr(s->output, '/');
        int stem = dot && (!slash || dot > slash) ? (int)(dot - s->output) : (int)strlen(s->output);
        snprintf(buf, cap, "%.*s_%04d%s", stem, s->output, j + 1, dot && (!slash || dot > slash) ? dot : ".png");
    } else if (s->contents) {
        const char *base = strrchr(s->contents[j], '/');
        base = base ? base + 1 : s->contents[j];
        const char *dot = strrchr(base, '.');
        snprintf(buf, cap, "%s/%.*s.png", s->output_dir, dot ? (int)(dot - base) : (int)strlen(base), base);
    } else {
        snprintf(buf, cap, "%s/texture_%04d.png", s->output_dir, j + 1);
    }
}

/* Colour control after the pass: the content's chrominance (luminance) or
 * the result's colour statistics matched to the content's (histogram). */
static stylize_status keep_colours(const apply_state *s, stylize_image *out, const stylize_image *content,
                                   stylize_error *err)
{
    if (s->colours == 1)
        return stylize_colour_restore(out, content, err);
    if (s->colours != 2)
        return STYLIZE_OK;
    stylize_image matched;
    stylize_status st = stylize_colour_histogram_matched(&matched, out, content, err);
    if (st == STYLIZE_OK) {
        stylize_image_free(out);
        *out = matched;
    }
    return st;
}

/* A content at --size (or as loaded) into *img. */
static int load_content(const apply_state *s, const char *path, stylize_image *img)
{
    if (cli_load_image(img, "--content", path) != 0)
        return EXIT_INPUT;
    if (s->size <= 0)
        return 0;
    int w, h;
    stylize_image_fit(img->width, img->height, s->size, &w, &h);
    stylize_image r;
    stylize_error e;
    if (stylize_image_resize(&r, img, w, h, &e) != STYLIZE_OK) {
        fprintf(stderr, "stylize apply: %s: %s\n", path, e.msg);
        stylize_image_free(img);
        return EXIT_MEMORY;
    }
    stylize_image_free(img);
    *img = r;
    return 0;
}

static int apply_one(apply_state *s, int j)
{
    char out[4096];
    out_path(s, j, out, sizeof out);
    stylize_image content = {0, 0, NULL}, result = {0, 0, NULL};
    const char *in = s->contents ? s->contents[j] : NULL;
    if (in && cli_same_file(in, out)) {
        fprintf(stderr, "stylize apply: %s: the output would overwrite its input\n", out);
        return EXIT_USAGE;
    }
    int rc = in ? load_content(s, in, &content) : 0;
    if (rc)
        return rc;
    double t0 = stylize_seconds();
    stylize_error e;
    int w = in ? content.width : s->width, h = in ? content.height : s->height;
    stylize_status st = generate(s, in ? &content : NULL, w, h, s->seed + (in ? 0 : (unsigned long long)j), &result, &e);
    double dt = stylize_seconds() - t0;
    if (st == STYLIZE_OK && in)
        st = keep_colours(s, &result, &content, &e);
    rc = st != STYLIZE_OK ? EXIT_MEMORY : 0;
    if (st == STYLIZE_OK && (st = stylize_image_save(&result, out, s->quality, &e)) != STYLIZE_OK)
        rc = EXIT_OUTPUT;
    if (rc)
        fprintf(stderr, "stylize apply: %s: %s\n", in ? in : out, e.msg);
    else if (!s->quiet)
        fprintf(stderr, "stylize apply: wrote %s (%dx%d, %.3f s)\n", out, w, h, dt);
    stylize_image_free(&content);
    stylize_image_free(&result);
    return rc;
}

int stylize_apply_main(int argc, char **argv)
{
    apply_state *s = calloc(1, sizeof *s);
    if (!s) {
        fprintf(stderr, "stylize apply: out of memory\n");
        return EXIT_MEMORY;
    }
    int rc = gen_parse(cmd, usage, flags, NF, argc, argv, &s->a);
    if (rc == GEN_GO_ON)
        rc = stage_flags(s);
    if (rc == GEN_GO_ON)
        rc = stage_model(s);
    if (rc == GEN_GO_ON) {
        int n = s->contents ? s->n_contents : s->count, failures = 0, last = 0;
        for (int j = 0; j < n; j++) {
            int r = apply_one(s, j);
            failures += r != 0;
            last = r ? r : last;
        }
        rc = failures == 0 ? 0 : n > 1 ? EXIT_PARTIAL : last;
        if (failures && n > 1)
            fprintf(stderr, "stylize apply: %d of %d failed\n", failures, n);
    }
    stylize_gen_free(s->g);
    stylize_gen_model_free(&s->m);
    stylize_tnet_meta_free(&s->meta);
    cli_free_list(s->contents, s->n_contents);
    free(s);
    return rc;
}

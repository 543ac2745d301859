/* stylize train: trains a Texture Network (train/train.h) and writes the
 * model file. Stages as in the Gatys command: flags, settings, weights,
 * images, model, training with progress and signals, outputs. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen_cli.h"
#include "stylize/core/sha256.h"
#include "stylize_inputs.h"

static const char *const cmd = "train";
static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig)
{
    g_stop = sig;
    signal(sig, SIG_DFL);
}

static const char usage[] =
    "usage: stylize train --texture IMAGE -o MODEL.tnet [flags]\n"
    "       stylize train --style IMAGE --content-dir DIR|@LIST -o MODEL.tnet [flags]\n"
    "Trains a feed-forward generator (Ulyanov et al. 2016, Texture Networks) against\n"
    "the VGG-19 losses of the Gatys mode; `stylize apply` then paints in one pass.";

static const gen_flag flags[] = {
    {"texture", 0, 1, "IMAGE", "train a texture model on this image"},
    {"style", 's', 1, "IMAGE", "train a style model on this style image"},
    {"content-dir", 0, 1, "DIR|@LIST", "training photos: a folder, or a file of paths (style models)"},
    {"output", 'o', 1, "MODEL.tnet", "the model file to write"},
    {"arch", 0, 1, "NAME", "pyramid (default) or residual"},
    {"width-mult", 0, 1, "F", "residual: width multiplier (default 1; 0.5: half width)"},
    {"scales", 0, 1, "K", "pyramid: scales (default 6)"},
    {"channels", 0, 1, "N", "pyramid: filters per scale (default 8)"},
    {"leaky-relu", 0, 1, "SLOPE", "leaky ReLU instead of ReLU (e.g. 0.01)"},
    {"size", 0, 1, "N", "training crop side (default 256; a multiple of 32 / 4)"},
    {"batch", 0, 1, "N", "images per step (default 4)"},
    {"iterations", 0, 1, "N", "steps (default 2000 texture, 20000 style: one MS-COCO epoch)"},
    {"learning-rate", 0, 1, "F", "Adam's step size (default 1e-3)"},
    {"lr-decay", 0, 1, "F", "multiply the learning rate by F ... (default 1: constant)"},
    {"lr-decay-every", 0, 1, "N", "... every N steps (default 0: never)"},
    {"alpha", 0, 1, "A", "content weight (default 1)"},
    {"beta", 0, 1, "B", "style weight (default as the Gatys mode)"},
    {"tv", 0, 1, "T", "total-variation weight (default 0)"},
    {"content-layers", 0, 1, "L", "default relu4_2"},
    {"style-layers", 0, 1, "L", "default relu1_1,relu2_1,relu3_1,relu4_1,relu5_1 (each 0.2)"},
    {"style-size", 0, 1, "N", "longest side of the style image for its targets (default --size)"},
    {"pool", 0, 1, "avg|max", "VGG-19 pooling (default avg)"},
    {"weights", 0, 1, "FILE|random[:SEED[:D]]", "VGG-19 weights (as the Gatys mode)"},
    {"seed", 0, 1, "N", "initial parameters, noise and data order (default 0)"},
    {"threads", 0, 1, "N", "threads (default: all cores)"},
    {"precision", 0, 1, "fp32|bf16|auto", CLI_PRECISION_HELP("bf16 where the CPU has it and runs it fast, else fp32")},
    {"report", 0, 1, "FILE.json", "write a training report"},
    {"plot", 0, 1, "FILE.svg", "write a loss plot"},
    {"checkpoint-every", 0, 1, "N", "write a checkpoint every N steps (default 0)"},
    {"checkpoint", 0, 1, "FILE", "the checkpoint file (default MODEL.tnet.ckpt)"},
    {"resume", 0, 1, "CHECKPOINT", "continue a run from its checkpoint"},
    {"print-every", 0, 1, "N", "progress line every N steps in a pipe (default 10)"},
    {"quiet", 'q', 0, "", "print nothing but errors"},
};
#define NF ((int)(sizeof flags / sizeof flags[0]))

/* What the stages fill. */
typedef struct {
    gen_args a;
    stylize_train_config c;
    stylize_gen_arch arch;
    const char *output, *style_path, *report, *plot, *resume;
    char checkpoint[4096];
    int quiet, print_every, texture, tty;
    stylize_weights *weights;
    stylize_image style;
    char **files;
    int n_files;
    stylize_gen_model model;
    stylize_tnet_meta meta, resumed;
    char cl[512], sl[512];          /* the layer lists as given */
    int beta_set;
    stylize_train_entry *hist;
    int n_hist, cap_hist;
    double t_last;
} train_state;

/* Mode and files: --texture, or --style with --content-dir; -o. */
static int stage_mode(train_state *s)
{
    const gen_args *a = &s->a;
    const char *tex = gen_str(flags, NF, a, "texture"), *sty = gen_str(flags, NF, a, "style");
    const char *dir = gen_str(flags, NF, a, "content-dir");
    if (a->n_positional > 0) {
        fprintf(stderr, "stylize train: unexpected argument '%s' (see stylize train --help)\n", a->positional[0]);
        return EXIT_USAGE;
    }
    if (!!tex == !!sty) {
        fprintf(stderr, "stylize train: give either --texture IMAGE or --style IMAGE (see stylize train --help)\n");
        return EXIT_USAGE;
    }
    if (sty && !dir) {
        fprintf(stderr, "stylize train: --style needs --content-dir DIR|@LIST (the training photos)\n");
        return EXIT_USAGE;
    }
    if (tex && dir) {
        fprintf(stderr, "stylize train: --content-dir: a texture model trains on noise alone\n");
        return EXIT_USAGE;
    }
    s->output = gen_str(flags, NF, a, "output");
    if (!s->output || !*s->output) {
        fprintf(stderr, "stylize train: -o MODEL.tnet is required\n");
        return EXIT_USAGE;
    }
    s->texture = tex != NULL;
    s->style_path = tex ? tex : sty;
    s->report = gen_str(flags, NF, a, "report");
    s->plot = gen_str(flags, NF, a, "plot");
    s->resume = gen_str(flags, NF, a, "resume");
    s->quiet = gen_str(flags, NF, a, "quiet") != NULL;
    const char *ck = gen_str(flags, NF, a, "checkpoint");
    snprintf(s->checkpoint, sizeof s->checkpoint, "%s%s", ck ? ck : s->output, ck ? "" : ".ckpt");
    const char *outs[3] = {s->output, s->report, s->plot};
    const char *names[3] = {"--output", "--report", "--plot"};
    for (int i = 0; i < 3; i++)
        if (outs[i] && !cli_output_dir_ok(outs[i])) {
            fprintf(stderr, "stylize train: %s: directory of '%s' does not exist or is not writable\n", names[i], outs[i]);
            return EXIT_OUTPUT;
        }
    return GEN_GO_ON;
}

/* The architecture: from the checkpoint when resuming, else the flags. */
static int stage_arch(train_state *s)
{
    static const char *const arch_flags[] = {"arch", "width-mult", "scales", "channels", "leaky-relu"};
    if (s->resume) {
        for (int i = 0; i < 5; i++)
            if (gen_str(flags, NF, &s->a, arch_flags[i])) {
                fprintf(stderr, "stylize train: --%s: the architecture comes from the checkpoint when resuming\n", arch_flags[i]);
                return EXIT_USAGE;
            }
        stylize_error e;
        if (stylize_tnet_load(s->resume, &s->model, &s->resumed, &e) != STYLIZE_OK) {
            fprintf(stderr, "stylize train: --resume: %s\n", e.msg);
            return EXIT_INPUT;
        }
        if (!s->resumed.checkpoint || (s->model.arch.mode == STYLIZE_GEN_TEXTURE) != s->texture) {
            fprintf(stderr, "stylize train: --resume: %s is not a %s checkpoint\n", s->resume,
                    s->texture ? "texture model's" : "style model's");
            return EXIT_INPUT;
        }
        s->arch = s->model.arch;
        return GEN_GO_ON;
    }
    const char *an = gen_str(flags, NF, &s->a, "arch");
    stylize_arch_kind k = STYLIZE_ARCH_PYRAMID;
    if (an && stylize_arch_parse(an, &k) != 0) {
        fprintf(stderr, "stylize train: --arch: '%s' is not pyramid or residual\n", an);
        return EXIT_USAGE;
    }
    stylize_gen_arch_defaults(&s->arch, k, s->texture ? STYLIZE_GEN_TEXTURE : STYLIZE_GEN_STYLE);
    double slope = 0;
    int rc = gen_double(cmd, flags, NF, &s->a, "width-mult", 1.0 / 32, 4, &s->arch.width_mult);
    if (rc == GEN_GO_ON)
        rc = gen_int(cmd, flags, NF, &s->a, "scales", 1, STYLIZE_GEN_MAX_SCALES, &s->arch.scales);
    if (rc == GEN_GO_ON)
        rc = gen_int(cmd, flags, NF, &s->a, "channels", 1, 64, &s->arch.channels);
    if (rc == GEN_GO_ON)
        rc = gen_double(cmd, flags, NF, &s->a, "leaky-relu", 1e-6, 0.999, &slope);
    s->arch.slope = (float)slope;
    return rc;
}

/* Settings: defaults (the checkpoint's when resuming), then the flags. */
static void settings_defaults(train_state *s)
{
    stylize_train_config *c = &s->c;
    stylize_error e;
    stylize_train_defaults(c);
    c->iterations = s->texture ? 2000 : 20000;
    s->print_every = 10;
    snprintf(s->cl, sizeof s->cl, "relu4_2");
    snprintf(s->sl, sizeof s->sl, "relu1_1:0.2,relu2_1:0.2,relu3_1:0.2,relu4_1:0.2,relu5_1:0.2");
    if (!s->resume)
        return;
    const stylize_tnet_meta *m = &s->resumed;
    c->size = m->size, c->batch = m->batch, c->iterations = m->iterations;
    c->learning_rate = m->learning_rate, c->lr_decay = m->lr_decay, c->lr_decay_every = m->lr_decay_every;
    c->alpha = m->alpha, c->beta = m->beta, c->tv = m->tv, c->style_size = m->style_size;
    c->pool = strcmp(m->pool, "max") == 0 ? STYLIZE_POOL_MAX : STYLIZE_POOL_AVG;
    c->seed = m->seed;
    snprintf(s->cl, sizeof s->cl, "%s", m->content_layers);
    snprintf(s->sl, sizeof s->sl, "%s", m->style_layers);
    s->beta_set = 1;
    stylize_parse_layers(m->content_layers, c->content_layers, &c->n_content, &e);
    stylize_parse_layers(m->style_layers, c->style_layers, &c->n_style, &e);
}

static int layer_flag(train_state *s, const char *name, stylize_layer_weight *l, int *n, char *keep, size_t cap)
{
    const char *v = gen_str(flags, NF, &s->a, name);
    stylize_error e;
    if (v && stylize_parse_layers(v, l, n, &e) != STYLIZE_OK) {
        fprintf(stderr, "stylize train: --%s: %s\n", name, e.msg);
        return EXIT_USAGE;
    }
    if (v)
        snprintf(keep, cap, "%s", v);
    return GEN_GO_ON;
}

static int stage_settings(train_state *s)
{
    stylize_train_config *c = &s->c;
    const gen_args *a = &s->a;
    settings_defaults(s);
    int rc = gen_int(cmd, flags, NF, a, "size", 8, 8192, &c->size);
#define ALSO(call) \
    if (rc == GEN_GO_ON) \
        rc = (call);
    ALSO(gen_int(cmd, flags, NF, a, "batch", 1, 256, &c->batch))
    ALSO(gen_int(cmd, flags, NF, a, "iterations", 0, 100000000, &c->iterations))
    ALSO(gen_double(cmd, flags, NF, a, "learning-rate", 1e-12, 10, &c->learning_rate))
    ALSO(gen_double(cmd, flags, NF, a, "lr-decay", 1e-6, 1, &c->lr_decay))
    ALSO(gen_int(cmd, flags, NF, a, "lr-decay-every", 0, 100000000, &c->lr_decay_every))
    ALSO(gen_double(cmd, flags, NF, a, "alpha", 0, 1e30, &c->alpha))
    ALSO(gen_double(cmd, flags, NF, a, "beta", 0, 1e30, &c->beta))
    ALSO(gen_double(cmd, flags, NF, a, "tv", 0, 1e30, &c->tv))
    ALSO(gen_int(cmd, flags, NF, a, "style-size", 8, 8192, &c->style_size))
    ALSO(gen_int(cmd, flags, NF, a, "checkpoint-every", 0, 100000000, &c->checkpoint_every))
    ALSO(gen_int(cmd, flags, NF, a, "print-every", 1, 100000000, &s->print_every))
    ALSO(layer_flag(s, "content-layers", c->content_layers, &c->n_content, s->cl, sizeof s->cl))
    ALSO(layer_flag(s, "style-layers", c->style_layers, &c->n_style, s->sl, sizeof s->sl))
#undef ALSO
    if (rc != GEN_GO_ON)
        return rc;
    s->beta_set |= gen_str(flags, NF, a, "beta") != NULL;
    const char *seed = gen_str(flags, NF, a, "seed"), *pool = gen_str(flags, NF, a, "pool");
    if (seed && cli_parse_u64(seed, &c->seed) != 0) {
        fprintf(stderr, "stylize train: --seed: '%s' is not a non-negative integer\n", seed);
        return EXIT_USAGE;
    }
    if (pool && strcmp(pool, "avg") != 0 && strcmp(pool, "max") != 0) {
        fprintf(stderr, "stylize train: --pool: '%s' is not avg or max\n", pool);
        return EXIT_USAGE;
    }
    if (pool)
        c->pool = strcmp(pool, "max") == 0 ? STYLIZE_POOL_MAX : STYLIZE_POOL_AVG;
    int mult = stylize_gen_multiple(&s->arch);
    if (c->size % mult || c->size < stylize_gen_min_side(&s->arch)) {
        fprintf(stderr, "stylize train: --size: %d is not a multiple of %d (the %s generator's)\n", c->size,
                mult, stylize_arch_name(s->arch.kind));
        return EXIT_USAGE;
    }
    int threads = 0;
    if ((rc = gen_int(cmd, flags, NF, a, "threads", 1, 1024, &threads)) != GEN_GO_ON)
        return rc;
    if (threads > 0)
        stylize_set_threads(threads);
    const char *precision = gen_str(flags, NF, a, "precision");
    int p = 0;
    if (precision && (rc = cli_parse_precision("stylize train", "--precision", precision, &p)) != 0)
        return rc;
    c->precision = (stylize_precision)p;
    return GEN_GO_ON;
}

/* Weights, the style image (and its hash), the training files. */
static int stage_inputs(train_state *s)
{
    stylize_train_config *c = &s->c;
    int deepest = cli_deepest_layer(c->content_layers, s->texture ? 0 : c->n_content, c->style_layers, c->n_style);
    int rc = cli_load_weights("stylize train", gen_str(flags, NF, &s->a, "weights"), deepest, s->quiet, &s->weights,
                              &c->random_features, s->meta.weights, s->meta.weights_sha256);
    if (rc)
        return rc;
    c->weights = s->weights;
    if (!s->beta_set)
        c->beta = c->random_features ? 10.0 : stylize_default_beta(&s->weights->input);
    const char *flag = s->texture ? "--texture" : "--style";
    if (cli_load_image(&s->style, flag, s->style_path) != 0)
        return EXIT_INPUT;
    stylize_error e;
    if (stylize_sha256_file(s->style_path, s->meta.style_sha256, &e) != STYLIZE_OK) {
        fprintf(stderr, "stylize train: %s: %s\n", flag, e.msg);
        return EXIT_INPUT;
    }
    const char *base = strrchr(s->style_path, '/');
    snprintf(s->meta.style_name, sizeof s->meta.style_name, "%s", base ? base + 1 : s->style_path);
    c->style = &s->style;
    if (s->texture)
        return GEN_GO_ON;
    char *arg[1] = {(char *)gen_str(flags, NF, &s->a, "content-dir")};
    if (cli_expand_contents(arg, 1, &s->files, &s->n_files) != 0)
        return EXIT_USAGE;
    if (s->n_files == 0) {
        fprintf(stderr, "stylize train: --content-dir: no images in '%s'\n", arg[0]);
        return EXIT_USAGE;
    }
    c->files = (const char *const *)s->files, c->n_files = s->n_files;
    return GEN_GO_ON;
}

static void train_log(void *user, stylize_log_level level, const char *msg)
{
    const train_state *s = user;
    if (level <= STYLIZE_LOG_WARN || !s->quiet)
        fprintf(stderr, "%sstylize train: %s\n", s->tty && !s->quiet ? "\n" : "", msg);
}

static void record(train_state *s, const stylize_train_progress *p)
{
    if (s->n_hist == s->cap_hist) { /* full: keep every other entry */
        for (int i = 0; i < s->cap_hist / 2; i++)
            s->hist[i] = s->hist[2 * i + 1];
        s->n_hist = s->cap_hist / 2;
    }
    const stylize_loss_breakdown *b = p->last;
    s->hist[s->n_hist++] = (stylize_train_entry){p->step, p->loss, p->loss_avg, b ? b->content : 0,
                                                 b ? b->style : 0, b ? b->tv : 0, p->learning_rate, p->seconds};
}

static int on_progress(void *user, const stylize_train_progress *p)
{
    train_state *s = user;
    if (p->step % s->print_every == 0 || p->step == p->steps || s->n_hist == 0)
        record(s, p);
    if (s->quiet)
        return 0;
    double per = p->seconds / (double)(p->step - (s->resumed.steps));
    double left = per * (double)(p->steps - p->step);
    if (s->tty) {
        int width = 24, done = (int)(width * p->step / (p->steps > 0 ? p->steps : 1));
        char bar[32];
        for (int i = 0; i < width; i++)
            bar[i] = i < done ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r[%s] step %lld/%lld loss %.4e (mean %.4e) %.2f s/step ~%.0fs left   ", bar, p->step,
                p->steps, p->loss, p->loss_avg, per, left);
        if (p->step == p->steps)
            fputc('\n', stderr);
    } else if (p->step % s->print_every == 0 || p->step == p->steps) {
        fprintf(stderr, "step %lld/%lld loss %.6e mean %.6e lr %.3g %.2f s/step %.1fs skipped %lld\n", p->step,
                p->steps, p->loss, p->loss_avg, p->learning_rate, per, p->seconds, p->skipped);
    }
    return 0;
}

static int stage_model(train_state *s)
{
    stylize_error e;
    if (!s->resume && stylize_gen_model_create(&s->model, &s->arch, s->c.seed, NULL, &e) != STYLIZE_OK) {
        fprintf(stderr, "stylize train: %s\n", e.msg);
        return EXIT_USAGE;
    }
    s->cap_hist = 4096;
    s->hist = malloc((size_t)s->cap_hist * sizeof *s->hist);
    if (!s->hist) {
        fprintf(stderr, "stylize train: out of memory\n");
        return EXIT_MEMORY;
    }
    return GEN_GO_ON;
}

/* The report and plot (also after a stop or failure: what happened). */
static int write_extras(train_state *s, const stylize_train_result *res, stylize_status st)
{
    stylize_error e;
    const char *status = st == STYLIZE_OK ? "ok" : st == STYLIZE_ERR_INTERRUPTED ? "interrupted" : stylize_status_str(st);
    size_t est = stylize_train_memory_estimate(&s->c, &s->arch);
    if (s->report && stylize_train_report_write(s->report, &s->arch, &s->meta, res, est, status, s->hist, s->n_hist, &e) != STYLIZE_OK) {
        fprintf(stderr, "stylize train: --report: %s\n", e.msg);
        return EXIT_OUTPUT;
    }
    if (s->plot && stylize_train_plot(s->plot, s->hist, s->n_hist, &e) != STYLIZE_OK) {
        fprintf(stderr, "stylize train: --plot: %s\n", e.msg);
        return EXIT_OUTPUT;
    }
    return 0;
}

static int stage_train(train_state *s)
{
    stylize_train_config *c = &s->c;
    s->tty = isatty(STDERR_FILENO);
    c->log.fn = train_log, c->log.user = s;
    c->checkpoint_path = s->checkpoint;
    c->stop_flag = &g_stop;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    stylize_train_result res;
    stylize_error e;
    snprintf(s->meta.content_layers, sizeof s->meta.content_layers, "%s", s->texture ? "" : s->cl);
    snprintf(s->meta.style_layers, sizeof s->meta.style_layers, "%s", s->sl);
    snprintf(s->meta.created_by, sizeof s->meta.created_by, "stylize %s", STYLIZE_VERSION);
    stylize_status st = stylize_train(c, &s->model, s->resume ? &s->resumed : NULL, on_progress, s, &s->meta, &res, &e);
    if (st == STYLIZE_OK && stylize_tnet_save(s->output, &s->model, &s->meta, &e) != STYLIZE_OK) {
        fprintf(stderr, "stylize train: --output: %s\n", e.msg);
        return EXIT_OUTPUT;
    }
    int rc = write_extras(s, &res, st);
    if (st != STYLIZE_OK) {
        fprintf(stderr, "stylize train: %s\n", e.msg);
        return cli_exit_code(st, 1, g_stop);
    }
    if (!s->quiet)
        fprintf(stderr, "stylize train: wrote %s (%lld steps, final loss %.6e, %.1f s, %lld files skipped)\n",
                s->output, res.steps, res.loss_final, res.seconds, res.skipped);
    return rc;
}

int stylize_train_main(int argc, char **argv)
{
    train_state *s = calloc(1, sizeof *s);
    if (!s) {
        fprintf(stderr, "stylize train: out of memory\n");
        return EXIT_MEMORY;
    }
    stylize_tnet_meta_init(&s->meta);
    stylize_tnet_meta_init(&s->resumed);
    int rc = gen_parse(cmd, usage, flags, NF, argc, argv, &s->a);
    if (rc == GEN_GO_ON)
        rc = stage_mode(s);
    if (rc == GEN_GO_ON)
        rc = stage_arch(s);
    if (rc == GEN_GO_ON)
        rc = stage_settings(s);
    if (rc == GEN_GO_ON)
        rc = stage_inputs(s);
    if (rc == GEN_GO_ON)
        rc = stage_model(s);
    if (rc == GEN_GO_ON)
        rc = stage_train(s);
    free(s->hist);
    cli_free_list(s->files, s->n_files);
    stylize_image_free(&s->style);
    stylize_gen_model_free(&s->model);
    stylize_tnet_meta_free(&s->resumed);
    stylize_weights_free(s->weights);
    free(s);
    return rc;
}

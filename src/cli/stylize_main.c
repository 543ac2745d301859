/* stylize: command-line front end over the library (flags, weights lookup,
 * images, progress, signals, batch, exit codes). All printing happens here
 * and in the stylize_*.c files beside it.
 *
 * main() runs the stages below in order; each returns CLI_GO_ON or the exit
 * code to end with (after printing one error line). The flags are listed in
 * stylize_flags.c and parsed in stylize_options.c. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli_common.h"
#include "stylize/stylize.h"
#include "stylize/run/testing.h"
#include "gen_cli.h"
#include "stylize_flags.h"
#include "stylize_inputs.h"
#include "stylize_options.h"

static const char *const prog = STYLIZE_PROG;
static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig)
{
    g_stop = sig;
    signal(sig, SIG_DFL); /* a second signal ends the process at once */
}

/* Progress printing state. */
typedef struct {
    int quiet, tty, print_every;
    int last_len;
    char label[256]; /* batch: "[j/n name] " before every line */
} progress_ctx;

static void print_progress(void *user, const stylize_run_progress *p)
{
    progress_ctx *pc = user;
    if (pc->quiet)
        return;
    double rate = p->seconds > 0 ? p->evaluations / p->seconds : 0;
    char pass[32]; /* "scale 2/3", or "stage 2" for the photorealism pass */
    if (p->stage == 2)
        snprintf(pass, sizeof pass, "stage 2");
    else
        snprintf(pass, sizeof pass, "scale %d/%d", p->scale_index + 1, p->n_scales);
    if (pc->tty) {
        int width = 24, done = p->max_iterations > 0 ? width * p->iteration / p->max_iterations : width;
        char bar[32];
        for (int i = 0; i < width; i++)
            bar[i] = i < done ? '#' : '.';
        bar[width] = '\0';
        double left = p->iteration > 0 ? p->seconds / p->iteration * (p->max_iterations - p->iteration) : 0;
        fprintf(stderr, "\r%s[%s] %s %dx%d it %d/%d loss %.4e %.2f eval/s ~%.0fs left   ",
                pc->label, bar, pass, p->width, p->height, p->iteration,
                p->max_iterations, p->loss, rate, left);
        if (p->iteration >= p->max_iterations)
            fputc('\n', stderr);
        fflush(stderr);
    } else if (p->iteration % pc->print_every == 0 || p->iteration == p->max_iterations) {
        fprintf(stderr, "%s%s %dx%d iteration %d/%d evaluations %d loss %.6e (content %.4e style %.4e tv %.4e photo %.4e) %.1fs\n",
                pc->label, pass, p->width, p->height, p->iteration,
                p->max_iterations, p->evaluations, p->loss, p->breakdown ? p->breakdown->content : 0,
                p->breakdown ? p->breakdown->style : 0, p->breakdown ? p->breakdown->tv : 0,
                p->breakdown ? p->breakdown->photo : 0, p->seconds);
    }
}

/* --- the state that the stages fill ----------------------------------- */

/* The style images (or the texture) and the per-style lists, split from
 * their flags: pointers into the buffers. */
typedef struct {
    char style_buf[8192], blend_buf[1024], cmask_buf[8192], smask_buf[8192];
    char *styles[STYLIZE_MAX_STYLES + 1], *blends[STYLIZE_MAX_STYLES + 1];
    char *cmasks[STYLIZE_MAX_STYLES + 1], *smasks[STYLIZE_MAX_STYLES + 1];
    int n_styles, n_cmasks, n_smasks;
} style_lists;

/* The contents to paint, one run each (none for a texture). */
typedef struct {
    char **contents; /* owned */
    int n_contents;
    int batch;       /* several contents or --output-dir: outputs DIR/<name>.png */
} job_list;

/* What every run shares: the weights and the images loaded once. */
typedef struct {
    stylize_weights *weights;
    stylize_image styles[STYLIZE_MAX_STYLES], cmasks[STYLIZE_MAX_STYLES], smasks[STYLIZE_MAX_STYLES];
    stylize_image init;
    stylize_image segs[2];            /* --content-seg, --style-seg */
    int n_styles, n_cmasks, n_smasks; /* loaded so far */
} shared_inputs;

/* Where the library's log lines and the progress go. */
typedef struct {
    cli_log_ctx log;
    progress_ctx progress;
} run_printing;

/* What the batch loop did. */
typedef struct {
    int rc;       /* exit code of the last failure, 0 if none */
    int failures; /* contents that failed */
    int n_jobs;
} batch_result;

/* --- stages ----------------------------------------------------------- */

/* Mode: --content with --style, or --texture alone; --width/--height only
 * for a texture. */
static int check_mode(const cli_options *o)
{
    if (o->texture && (o->content || o->style)) {
        cli_error(prog, "--texture cannot be combined with --content or --style");
        return EXIT_USAGE;
    }
    if (!o->texture && !(o->content && o->style)) {
        cli_error(prog, "give --content and --style, or --texture (see --help)");
        return EXIT_USAGE;
    }
    if (!o->texture && (o->cfg.width || o->cfg.height)) {
        cli_error(prog, "--width/--height apply to --texture only (use --size)");
        return EXIT_USAGE;
    }
    return CLI_GO_ON;
}

/* Loss layers: --content-layers and --style-layers, or the defaults (the
 * texture paper's for a texture, which has no content loss). */
static int parse_loss_layers(cli_options *o)
{
    stylize_error e;
    const char *cl = o->content_layers ? o->content_layers : "relu4_2";
    const char *sl = o->style_layers ? o->style_layers
                     : o->texture    ? "relu1_1:0.2,pool1:0.2,pool2:0.2,pool3:0.2,pool4:0.2"
                     : o->photo      ? "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1" /* the reference's: 1 each */
                                     : "relu1_1:0.2,relu2_1:0.2,relu3_1:0.2,relu4_1:0.2,relu5_1:0.2";
    if (stylize_parse_layers(cl, o->cfg.content_layers, &o->cfg.n_content, &e) != STYLIZE_OK) {
        cli_error(prog, "--content-layers: %s", e.msg);
        return EXIT_USAGE;
    }
    if (stylize_parse_layers(sl, o->cfg.style_layers, &o->cfg.n_style, &e) != STYLIZE_OK) {
        cli_error(prog, "--style-layers: %s", e.msg);
        return EXIT_USAGE;
    }
    if (o->texture)
        o->cfg.n_content = 0;
    return CLI_GO_ON;
}

/* Styles and blend: the style images (or the texture) and their weights. */
static int split_styles(cli_options *o, style_lists *l)
{
    snprintf(l->style_buf, sizeof l->style_buf, "%s", o->texture ? o->texture : o->style);
    l->n_styles = cli_split_list(l->style_buf, l->styles, STYLIZE_MAX_STYLES);
    if (l->n_styles <= 0) {
        cli_error(prog, "--style: give 1 to %d images separated by commas", STYLIZE_MAX_STYLES);
        return EXIT_USAGE;
    }
    if (!o->style_blend)
        return CLI_GO_ON;
    snprintf(l->blend_buf, sizeof l->blend_buf, "%s", o->style_blend);
    int nb = cli_split_list(l->blend_buf, l->blends, STYLIZE_MAX_STYLES);
    if (nb != l->n_styles) {
        cli_error(prog, "--style-blend: %d weights for %d style images", nb, l->n_styles);
        return EXIT_USAGE;
    }
    double sum = 0;
    for (int i = 0; i < nb; i++) {
        if (cli_parse_double(l->blends[i], 0, 1e30, &o->cfg.style_blend[i]) != 0) {
            cli_error(prog, "--style-blend: '%s' is not a number >= 0", l->blends[i]);
            return EXIT_USAGE;
        }
        sum += o->cfg.style_blend[i];
    }
    if (!(sum > 0)) {
        cli_error(prog, "--style-blend: the weights sum to zero");
        return EXIT_USAGE;
    }
    return CLI_GO_ON;
}

/* Masks: one content mask per style, and optionally one style mask each. */
static int split_masks(const cli_options *o, style_lists *l)
{
    if (o->content_mask) {
        snprintf(l->cmask_buf, sizeof l->cmask_buf, "%s", o->content_mask);
        l->n_cmasks = cli_split_list(l->cmask_buf, l->cmasks, STYLIZE_MAX_STYLES);
        if (o->texture || l->n_cmasks != l->n_styles) {
            cli_error(prog, "--content-mask: give one mask per style image (%d)", l->n_styles);
            return EXIT_USAGE;
        }
    }
    if (o->style_mask) {
        snprintf(l->smask_buf, sizeof l->smask_buf, "%s", o->style_mask);
        l->n_smasks = cli_split_list(l->smask_buf, l->smasks, STYLIZE_MAX_STYLES);
        if (!o->content_mask || l->n_smasks != l->n_styles) {
            cli_error(prog, "--style-mask: needs --content-mask and one mask per style image (%d)",
                      l->n_styles);
            return EXIT_USAGE;
        }
    }
    return CLI_GO_ON;
}

/* Segmentation: both files, one style image, no masks, no batch; the
 * photorealistic flags need a content image. */
static int check_photo_flags(const cli_options *o, const style_lists *l, const job_list *jobs)
{
    if (o->texture && (o->photo || o->content_seg || o->style_seg || o->cfg.photorealism > 0 ||
                       o->cfg.smooth.kind != STYLIZE_SMOOTH_NONE || o->cfg.photo_iterations > 0)) {
        cli_error(prog, "--photo, --photorealism, --photo-iterations, --smooth and the segmentations need --content");
        return EXIT_USAGE;
    }
    if (!o->content_seg != !o->style_seg) {
        cli_error(prog, "%s: give both --content-seg and --style-seg", o->content_seg ? "--content-seg" : "--style-seg");
        return EXIT_USAGE;
    }
    if (o->content_seg && (o->content_mask || l->n_styles != 1 || jobs->n_contents > 1)) {
        cli_error(prog, "--content-seg: needs one content, one style image and no --content-mask");
        return EXIT_USAGE;
    }
    return CLI_GO_ON;
}

/* Scales as a list: SIZE[:ITERATIONS],... non-decreasing; the last is the
 * output's size. */
static int parse_scale_list(stylize_run_config *cfg, const char *arg)
{
    char sbuf[512];
    char *items[STYLIZE_MAX_SCALES + 1];
    snprintf(sbuf, sizeof sbuf, "%s", arg);
    int ns = cli_split_list(sbuf, items, STYLIZE_MAX_SCALES);
    if (ns <= 0) {
        cli_error(prog, "--scales: '%s' is not a list of sizes or a number of octaves", arg);
        return EXIT_USAGE;
    }
    for (int k = 0; k < ns; k++) {
        char *colon = strchr(items[k], ':');
        if (colon) {
            *colon = '\0';
            if (cli_parse_int(colon + 1, 0, 1000000, &cfg->scale_iterations[k]) != 0) {
                cli_error(prog, "--scales: bad iteration count '%s'", colon + 1);
                return EXIT_USAGE;
            }
        }
        if (cli_parse_int(items[k], 16, STYLIZE_IMAGE_MAX_SIDE, &cfg->scales[k]) != 0) {
            cli_error(prog, "--scales: '%s' is not a size in [16, %d]", items[k], STYLIZE_IMAGE_MAX_SIDE);
            return EXIT_USAGE;
        }
        if (k > 0 && cfg->scales[k] < cfg->scales[k - 1]) {
            cli_error(prog, "--scales: sizes must not decrease");
            return EXIT_USAGE;
        }
    }
    cfg->n_scales = ns;
    cfg->size = cfg->scales[ns - 1];
    return CLI_GO_ON;
}

/* Scales: --scales N (octaves up to --size) or a list of sizes. */
static int parse_scales(cli_options *o)
{
    int octaves;
    if (!o->scales)
        return CLI_GO_ON;
    if (strchr(o->scales, ',') || cli_parse_int(o->scales, 1, 8, &octaves) != 0)
        return parse_scale_list(&o->cfg, o->scales);
    o->cfg.n_scales = octaves;
    for (int k = 0; k < octaves; k++)
        o->cfg.scales[k] = o->cfg.size >> (octaves - 1 - k);
    return CLI_GO_ON;
}

/* Expand contents: --content and the positional arguments into paths; a
 * batch when there are several or --output-dir is given. */
static int expand_batch(const cli_options *o, job_list *jobs)
{
    if (o->content) {
        char *args[CLI_MAX_EXTRA_CONTENTS + 1];
        args[0] = (char *)o->content;
        for (int i = 0; i < o->n_extra; i++)
            args[i + 1] = o->extra_contents[i];
        if (cli_expand_contents(args, o->n_extra + 1, &jobs->contents, &jobs->n_contents) != 0)
            return EXIT_INPUT;
        if (jobs->n_contents == 0) {
            cli_error(prog, "--content: no images found in '%s'", o->content);
            return EXIT_INPUT;
        }
    }
    jobs->batch = jobs->n_contents > 1 || o->output_dir;
    return CLI_GO_ON;
}

/* Outputs, part 1: --output or --output-dir (as the batch needs), the
 * output's extension and that its directory can be written. */
static int check_output_paths(cli_options *o, const job_list *jobs)
{
    if (jobs->batch && !o->output_dir) {
        cli_error(prog, "several contents need --output-dir");
        return EXIT_USAGE;
    }
    if (jobs->batch && o->output) {
        cli_error(prog, "give either --output or --output-dir, not both");
        return EXIT_USAGE;
    }
    if (!jobs->batch && !o->output)
        o->output = "out.png";
    if (o->output) {
        const char *dot = strrchr(o->output, '.');
        if (!dot || (strcasecmp(dot, ".png") && strcasecmp(dot, ".jpg") && strcasecmp(dot, ".jpeg"))) {
            cli_error(prog, "--output: '%s' must end in .png, .jpg or .jpeg", o->output);
            return EXIT_USAGE;
        }
        if (!cli_output_dir_ok(o->output)) {
            cli_error(prog, "--output: directory of '%s' does not exist or is not writable", o->output);
            return EXIT_OUTPUT;
        }
    }
    if (o->output_dir && !cli_writable_dir(o->output_dir)) {
        cli_error(prog, "--output-dir: '%s' is not a writable directory", o->output_dir);
        return EXIT_OUTPUT;
    }
    return CLI_GO_ON;
}

/* A batch's output for input name (a content, or the texture source):
 * DIR/<name without directory and extension>.png; *len gets the length of
 * that base name, base its start. */
static void batch_output(const cli_options *o, const char *name, char *buf, size_t cap,
                         const char **base, int *len)
{
    const char *b = strrchr(name, '/');
    b = b ? b + 1 : name;
    const char *dot = strrchr(b, '.');
    *len = dot ? (int)(dot - b) : (int)strlen(b);
    *base = b;
    snprintf(buf, cap, "%s/%.*s.png", o->output_dir, *len, b);
}

/* Whether path is one of the input files. */
static int is_input(const cli_options *o, const style_lists *l, const job_list *jobs, const char *path)
{
    int clash = o->texture && cli_same_file(path, o->texture);
    for (int i = 0; i < jobs->n_contents && !clash; i++)
        clash = cli_same_file(path, jobs->contents[i]);
    for (int i = 0; i < l->n_styles && !clash; i++)
        clash = cli_same_file(path, l->styles[i]);
    for (int i = 0; i < l->n_cmasks && !clash; i++)
        clash = cli_same_file(path, l->cmasks[i]);
    for (int i = 0; i < l->n_smasks && !clash; i++)
        clash = cli_same_file(path, l->smasks[i]);
    if (!clash && o->content_seg)
        clash = cli_same_file(path, o->content_seg) || cli_same_file(path, o->style_seg);
    return clash;
}

/* A batch's outputs (DIR/<name>.png) are none of the inputs: a batch over
 * a folder written into that folder would overwrite its own contents. */
static int check_batch_clashes(const cli_options *o, const style_lists *l, const job_list *jobs)
{
    int n = o->texture ? 1 : jobs->n_contents;
    for (int j = 0; jobs->batch && j < n; j++) {
        char out[4096];
        const char *base;
        int len;
        batch_output(o, o->texture ? o->texture : jobs->contents[j], out, sizeof out, &base, &len);
        if (is_input(o, l, jobs, out)) {
            cli_error(prog, "--output-dir: '%s' is one of the inputs: refusing to overwrite it", out);
            return EXIT_USAGE;
        }
    }
    return CLI_GO_ON;
}

/* Outputs, part 2: the output, report and plot are none of the inputs, and
 * the report's and plot's directories can be written. */
static int check_output_clashes(const cli_options *o, const style_lists *l, const job_list *jobs)
{
    const char *outs[3] = {o->output, o->cfg.report_path, o->cfg.plot_path};
    const char *flags[3] = {"--output", "--report", "--plot"};
    for (int k = 0; k < 3; k++) {
        const char *out = outs[k];
        if (!out)
            continue;
        if (is_input(o, l, jobs, out)) {
            cli_error(prog, "output '%s' is one of the inputs: refusing to overwrite it", out);
            return EXIT_USAGE;
        }
        if (k > 0 && !cli_output_dir_ok(out)) {
            cli_error(prog, "%s: directory of '%s' does not exist or is not writable", flags[k], out);
            return EXIT_OUTPUT;
        }
    }
    return check_batch_clashes(o, l, jobs);
}

/* Weights: --weights random[:SEED], or the manifest found by
 * cli_find_weights; then only the convolutions up to the deepest loss
 * layer stay in memory. */
static int load_weights(cli_options *o, shared_inputs *in)
{
    int deepest = cli_deepest_layer(o->cfg.content_layers, o->cfg.n_content, o->cfg.style_layers, o->cfg.n_style);
    int rc = cli_load_weights(prog, o->weights, deepest, o->quiet, &in->weights, &o->cfg.random_features,
                              NULL, NULL);
    if (rc)
        return rc;
    o->cfg.weights = in->weights;
    return CLI_GO_ON;
}

/* Settings that wait for the weights: the memory limit's default, the
 * test hook STYLIZE_TEST_INJECT_NAN, beta's default (from the network's
 * input scale), the thread count. */
static void finish_config(cli_options *o, const stylize_weights *weights)
{
    if (o->cfg.max_memory == 0)
        o->cfg.max_memory = cli_available_memory();
    const char *inj = getenv("STYLIZE_TEST_INJECT_NAN");
    int at;
    if (inj && cli_parse_int(inj, 1, 1000000000, &at) == 0)
        stylize_testing_inject_nan(at);
    if (!o->beta_set)
        o->cfg.beta = o->cfg.random_features ? 10.0 : stylize_default_beta(&weights->input);
    if (o->threads > 0)
        stylize_set_threads(o->threads);
    if (o->photo && !o->photo_iterations_set)
        o->cfg.photo_iterations = o->cfg.iterations;
}

/* Loads n images named by paths into imgs, counting them in *n_loaded and
 * pointing slots at them. */
static int load_images(const char *flag, char *const *paths, int n, stylize_image *imgs,
                       int *n_loaded, const stylize_image **slots)
{
    for (int i = 0; i < n; i++) {
        if (cli_load_image(&imgs[i], flag, paths[i]) != 0)
            return EXIT_INPUT;
        *n_loaded = i + 1;
        slots[i] = &imgs[i];
    }
    return CLI_GO_ON;
}

/* A segmentation image and its label counts; fails (EXIT_INPUT, one line)
 * when too many pixels are near none of the nine colours. */
static int load_seg(const char *flag, const char *path, stylize_image *seg, size_t counts[STYLIZE_SEG_LABELS])
{
    if (cli_load_image(seg, flag, path) != 0)
        return EXIT_INPUT;
    size_t none = stylize_seg_count(seg, counts), n = (size_t)seg->width * seg->height;
    if ((double)none > STYLIZE_SEG_MAX_UNLABELLED * (double)n) {
        cli_error(prog, "%s: '%s' is not a colour-coded segmentation: %.0f%% of its pixels are near none of the "
                  "nine colours (blue, green, black, white, red, yellow, grey, lightblue, purple)",
                  flag, path, 100.0 * (double)none / (double)n);
        return EXIT_INPUT;
    }
    return CLI_GO_ON;
}

/* Segmentation: one region per label of the content that the style has
 * too, each with the content's and the style's masks of that label and the
 * style image; labels missing from the style are dropped with one warning. */
static int load_segmentation(cli_options *o, shared_inputs *in)
{
    size_t cc[STYLIZE_SEG_LABELS], sc[STYLIZE_SEG_LABELS];
    int rc = load_seg("--content-seg", o->content_seg, &in->segs[0], cc);
    if (rc == CLI_GO_ON)
        rc = load_seg("--style-seg", o->style_seg, &in->segs[1], sc);
    char dropped[256] = "";
    int n = 0;
    stylize_error e;
    for (int k = 0; k < STYLIZE_SEG_LABELS && rc == CLI_GO_ON; k++) {
        if (cc[k] > 0 && sc[k] == 0)
            snprintf(dropped + strlen(dropped), sizeof dropped - strlen(dropped), "%s%s", *dropped ? ", " : "",
                     stylize_seg_label_name(k));
        if (cc[k] == 0 || sc[k] == 0)
            continue;
        if (stylize_seg_mask(&in->segs[0], k, &in->cmasks[n], &e) != STYLIZE_OK ||
            (in->n_cmasks = n + 1, stylize_seg_mask(&in->segs[1], k, &in->smasks[n], &e)) != STYLIZE_OK) {
            cli_error(prog, "--content-seg: %s", e.msg);
            return EXIT_MEMORY;
        }
        in->n_smasks = n + 1;
        o->cfg.content_masks[n] = &in->cmasks[n], o->cfg.style_masks[n] = &in->smasks[n];
        o->cfg.styles[n] = &in->styles[0], o->cfg.style_blend[n] = 1.0;
        n++;
    }
    if (rc != CLI_GO_ON)
        return rc;
    if (*dropped && !o->quiet)
        fprintf(stderr, "%s: warning: --content-seg: label(s) %s not in --style-seg: dropped (no style loss there)\n",
                prog, dropped);
    if (n == 0) {
        cli_error(prog, "--content-seg: no label of '%s' appears in '%s'", o->content_seg, o->style_seg);
        return EXIT_INPUT;
    }
    o->cfg.n_styles = n;
    return CLI_GO_ON;
}

/* Shared images: content masks, style masks, the styles (or texture), and
 * the initial image of --init FILE; these are loaded once for a batch. */
static int load_shared_images(cli_options *o, const style_lists *l, shared_inputs *in)
{
    stylize_run_config *cfg = &o->cfg;
    int rc = load_images("--content-mask", l->cmasks, l->n_cmasks, in->cmasks, &in->n_cmasks,
                         cfg->content_masks);
    if (rc == CLI_GO_ON)
        rc = load_images("--style-mask", l->smasks, l->n_smasks, in->smasks, &in->n_smasks,
                         cfg->style_masks);
    if (rc == CLI_GO_ON)
        rc = load_images(o->texture ? "--texture" : "--style", l->styles, l->n_styles, in->styles,
                         &in->n_styles, cfg->styles);
    if (rc != CLI_GO_ON)
        return rc;
    cfg->n_styles = l->n_styles;
    if (o->content_seg && (rc = load_segmentation(o, in)) != CLI_GO_ON)
        return rc;
    if (!o->init) {
        if (o->texture)
            cfg->init = STYLIZE_INIT_NOISE;
    } else if (strcmp(o->init, "content") == 0) {
        cfg->init = STYLIZE_INIT_CONTENT;
    } else if (strcmp(o->init, "noise") == 0) {
        cfg->init = STYLIZE_INIT_NOISE;
    } else if (strcmp(o->init, "style") == 0) {
        cfg->init = STYLIZE_INIT_STYLE;
    } else {
        if (cli_load_image(&in->init, "--init", o->init) != 0)
            return EXIT_INPUT;
        cfg->init = STYLIZE_INIT_IMAGE;
        cfg->init_image = &in->init;
    }
    return CLI_GO_ON;
}

static void free_shared_inputs(shared_inputs *in)
{
    stylize_image_free(&in->segs[0]);
    stylize_image_free(&in->segs[1]);
    for (int i = 0; i < in->n_styles; i++)
        stylize_image_free(&in->styles[i]);
    for (int i = 0; i < in->n_cmasks; i++)
        stylize_image_free(&in->cmasks[i]);
    for (int i = 0; i < in->n_smasks; i++)
        stylize_image_free(&in->smasks[i]);
    stylize_image_free(&in->init);
    stylize_weights_free(in->weights);
}

/* Signals and logging: SIGINT/SIGTERM stop the run after the current
 * evaluation; the library's log lines and the progress go to stderr. */
static void setup_signals_and_logging(cli_options *o, run_printing *p)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    o->cfg.stop_flag = &g_stop;

    p->log = (cli_log_ctx){prog, o->quiet ? STYLIZE_LOG_ERROR : STYLIZE_LOG_INFO};
    o->cfg.log.fn = cli_log;
    o->cfg.log.user = &p->log;
    p->progress = (progress_ctx){o->quiet, isatty(2), o->print_every, 0, ""};
}

/* The error line of a failed run; a batch's names the content (else NULL). */
static void print_run_failure(stylize_status st, const stylize_run_result *res, const stylize_error *e,
                              const char *content, const char *out_path)
{
    const char *name = content ? content : "", *sep = content ? ": " : "";
    if (st == STYLIZE_ERR_INTERRUPTED)
        cli_error(prog, "%s: wrote the best image so far to %s",
                  g_stop == SIGTERM ? "terminated" : "interrupted", out_path);
    else if (st == STYLIZE_ERR_NUMERIC && res->width > 0)
        cli_error(prog, "%s%s%s; wrote the last good image to %s", name, sep, e->msg, out_path);
    else
        cli_error(prog, "%s%s%s", name, sep, e->msg);
}

/* How one job ended. */
typedef enum { JOB_OK, JOB_FAILED, JOB_STOP } job_outcome;

/* --dry-run: the run's plan (a dry run of its stages), printed; nothing is
 * run or written. */
static job_outcome dry_run(const stylize_run_config *cfg, const progress_ctx *pc, int *code)
{
    int w, h, tile;
    size_t est;
    stylize_error e;
    stylize_status st = stylize_run_plan(cfg, &w, &h, &tile, &est, &e);
    if (st == STYLIZE_OK || (st == STYLIZE_ERR_LIMIT && est > 0)) { /* over --max-memory: the plan, then why */
        char strips[64] = "the whole image at once";
        if (tile)
            snprintf(strips, sizeof strips, "strips of %d rows", tile);
        printf("%s%dx%d: estimated peak %zu MiB, %s\n", pc->label, w, h, est >> 20, strips);
    }
    if (st != STYLIZE_OK) {
        *code = cli_exit_code(st, 0, 0);
        cli_error(prog, "%s%s", pc->label, e.msg);
        return JOB_FAILED;
    }
    return JOB_OK;
}

/* One run of the batch loop: loads content j (none for a texture), runs,
 * prints the outcome; *code is the exit code of a failure. */
static job_outcome run_job(cli_options *o, const job_list *jobs, int j, int n_jobs, progress_ctx *pc,
                           int *code)
{
    stylize_image content = {0};
    char outbuf[4096];
    const char *out_path = o->output;
    /* --output-dir names the output after the content (or the texture source) */
    const char *name = o->texture ? o->texture : jobs->contents[j];
    if (!o->texture) {
        if (cli_load_image(&content, "--content", jobs->contents[j]) != 0) {
            *code = EXIT_INPUT;
            return JOB_FAILED;
        }
        o->cfg.content = &content;
    }
    if (jobs->batch) {
        const char *base;
        int len;
        batch_output(o, name, outbuf, sizeof outbuf, &base, &len);
        out_path = outbuf;
        snprintf(pc->label, sizeof pc->label, "[%d/%d %.*s] ", j + 1, n_jobs, len, base);
    }
    o->cfg.output_path = out_path;
    stylize_run_result res;
    stylize_error e;
    stylize_run_config photo_cfg; /* --photo: the reference's weights at this content's output size */
    const stylize_run_config *cfg = &o->cfg;
    if (o->photo) {
        int w, h;
        stylize_image_fit(content.width, content.height, o->cfg.size, &w, &h);
        stylize_photo_settings(&o->cfg, w, h, o->photo_keep, &photo_cfg);
        cfg = &photo_cfg;
    }
    if (o->dry_run) {
        job_outcome r = dry_run(cfg, pc, code);
        stylize_image_free(&content);
        o->cfg.content = NULL, o->cfg.output_path = NULL;
        return r;
    }
    stylize_status st = stylize_run(cfg, print_progress, pc, &res, &e);
    stylize_image_free(&content);
    o->cfg.content = NULL;
    o->cfg.output_path = NULL;
    if (st != STYLIZE_OK) {
        if (pc->tty && !o->quiet)
            fputc('\n', stderr);
        *code = cli_exit_code(st, 0, g_stop);
        print_run_failure(st, &res, &e, jobs->batch ? name : NULL, out_path);
        return st == STYLIZE_ERR_INTERRUPTED ? JOB_STOP : JOB_FAILED;
    }
    if (!o->quiet)
        fprintf(stderr, "%swrote %s (%dx%d): %d iterations, %d evaluations, loss %.6e -> %.6e, %.1fs\n",
                pc->label, out_path, res.width, res.height, res.iterations, res.evaluations,
                res.loss_initial, res.loss_final, res.seconds);
    if (!o->quiet && res.reason == STYLIZE_STOP_LINE_SEARCH && res.precision == STYLIZE_PRECISION_BF16)
        fprintf(stderr, "%s: %swarning: L-BFGS stopped: its line search found no decrease in bf16, whose "
                        "rounding hides small decreases (--precision fp32 does not)\n", prog, pc->label);
    return JOB_OK;
}

/* The batch loop: one run per content (one for a texture), until a signal;
 * a failed content is reported and skipped. The styles' targets are
 * computed once for a batch. */
static batch_result run_batch(cli_options *o, const job_list *jobs, progress_ctx *pc)
{
    batch_result b = {0, 0, o->texture ? 1 : jobs->n_contents};
    stylize_style_cache *cache = NULL;
    stylize_error e;
    if (b.n_jobs > 1 && stylize_style_cache_create(&cache, &e) == STYLIZE_OK)
        o->cfg.style_cache = cache;
    for (int j = 0; j < b.n_jobs && !g_stop; j++) {
        int code = 0;
        job_outcome r = run_job(o, jobs, j, b.n_jobs, pc, &code);
        if (r == JOB_OK)
            continue;
        b.rc = code;
        b.failures++;
        if (r == JOB_STOP)
            break;
    }
    o->cfg.style_cache = NULL;
    stylize_style_cache_free(cache);
    return b;
}

/* Summary and exit code: a batch with failures (not stopped by a signal)
 * says how many and ends with EXIT_PARTIAL; else the last failure's code. */
static int summarise(const job_list *jobs, const batch_result *b)
{
    if (jobs->batch && b->failures > 0 && !g_stop) {
        cli_error(prog, "%d of %d contents failed", b->failures, b->n_jobs);
        return EXIT_PARTIAL;
    }
    return b->rc;
}

/* The stages in order: each either lets the next one run or gives the exit
 * code; what was loaded is freed at the end whatever happened. */
int main(int argc, char **argv)
{
    cli_blas_autoselect(argv);
    if (argc > 1 && strcmp(argv[1], "train") == 0)
        return stylize_train_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "apply") == 0)
        return stylize_apply_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "info") == 0)
        return stylize_info_main(argc - 1, argv + 1);
    cli_options o;
    style_lists lists;
    job_list jobs = {NULL, 0, 0};
    shared_inputs in;
    run_printing printing;
    memset(&lists, 0, sizeof lists);
    memset(&in, 0, sizeof in);

    int rc = cli_parse_options(argc, argv, &o);
    if (rc == CLI_GO_ON)
        rc = check_mode(&o);
    if (rc == CLI_GO_ON)
        rc = parse_loss_layers(&o);
    if (rc == CLI_GO_ON)
        rc = split_styles(&o, &lists);
    if (rc == CLI_GO_ON)
        rc = split_masks(&o, &lists);
    if (rc == CLI_GO_ON)
        rc = parse_scales(&o);
    if (rc == CLI_GO_ON)
        rc = expand_batch(&o, &jobs);
    if (rc == CLI_GO_ON)
        rc = check_photo_flags(&o, &lists, &jobs);
    if (rc == CLI_GO_ON)
        rc = check_output_paths(&o, &jobs);
    if (rc == CLI_GO_ON)
        rc = check_output_clashes(&o, &lists, &jobs);
    if (rc == CLI_GO_ON)
        rc = load_weights(&o, &in);
    if (rc == CLI_GO_ON)
        finish_config(&o, in.weights);
    if (rc == CLI_GO_ON)
        rc = load_shared_images(&o, &lists, &in);
    if (rc == CLI_GO_ON) {
        setup_signals_and_logging(&o, &printing);
        batch_result b = run_batch(&o, &jobs, &printing.progress);
        rc = summarise(&jobs, &b);
    }
    free_shared_inputs(&in);
    cli_free_list(jobs.contents, jobs.n_contents);
    return rc;
}

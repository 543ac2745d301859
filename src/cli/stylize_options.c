/* Parses the stylize command's flags: getopt_long over the flag table
 * (stylize_flags.c), then one parse function per --help section that checks
 * a flag's value and stores it in the run configuration or the command's
 * settings. Every error is one line naming the flag. */
#include "stylize_options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "stylize/core/threads.h"
#include "stylize/io/image.h"
#include "stylize_flags.h"

static const char *const prog = STYLIZE_PROG;

/* --- value checks: CLI_GO_ON, or EXIT_USAGE after printing why --------- */

/* A number in [lo, hi] into *dst (left alone on error). */
static int number_value(const char *flag, const char *arg, double lo, double hi, double *dst)
{
    if (cli_parse_double(arg, lo, hi, dst) != 0) {
        cli_error(prog, "%s: '%s' is not a number in [%g, %g]", flag, arg, lo, hi);
        return EXIT_USAGE;
    }
    return CLI_GO_ON;
}

/* An integer in [lo, hi] into *dst (left alone on error). */
static int int_value(const char *flag, const char *arg, long lo, long hi, int *dst)
{
    if (cli_parse_int(arg, lo, hi, dst) != 0) {
        cli_error(prog, "%s: '%s' is not an integer in [%ld, %ld]", flag, arg, lo, hi);
        return EXIT_USAGE;
    }
    return CLI_GO_ON;
}

/* The index of arg among the n words, or -1 after "FLAG: 'arg' is not a,
 * b or c". */
static int keyword_value(const char *flag, const char *arg, const char *const *words, int n)
{
    char list[256] = "";
    for (int i = 0; i < n; i++) {
        if (strcmp(arg, words[i]) == 0)
            return i;
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ", words[i]);
    }
    cli_error(prog, "%s: '%s' is not %s", flag, arg, list);
    return -1;
}

/* "512M", "2G", "1048576" -> bytes; 0 on error. */
static size_t parse_size(const char *s)
{
    char *end = NULL;
    if (!s || !*s || *s == '-')
        return 0;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v > 0))
        return 0;
    double mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = 1024.0; end++; break;
    case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
    case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
    case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end || v * mul > 1e18)
        return 0;
    return (size_t)(v * mul);
}

/* --- one parse function per --help section ---------------------------- */

/* Each stores flag id's value arg; flag is "--name" as given (for errors).
 * Returns CLI_GO_ON or an exit code. */
typedef int flag_parser(cli_options *o, flag_id id, const char *flag, const char *arg);

static int unhandled(const char *flag)
{
    cli_error(prog, "internal error: %s has no parser", flag);
    return EXIT_FAILURE_;
}

/* Inputs and outputs. */
static int parse_io_flag(cli_options *o, flag_id id, const char *flag, const char *arg)
{
    switch (id) {
    case FLAG_CONTENT: o->content = arg; return CLI_GO_ON;
    case FLAG_STYLE: o->style = arg; return CLI_GO_ON;
    case FLAG_STYLE_BLEND: o->style_blend = arg; return CLI_GO_ON;
    case FLAG_TEXTURE: o->texture = arg; return CLI_GO_ON;
    case FLAG_OUTPUT: o->output = arg; return CLI_GO_ON;
    case FLAG_OUTPUT_DIR: o->output_dir = arg; return CLI_GO_ON;
    case FLAG_REPORT: o->cfg.report_path = arg; return CLI_GO_ON;
    case FLAG_PLOT: o->cfg.plot_path = arg; return CLI_GO_ON;
    case FLAG_JPEG_QUALITY: return int_value(flag, arg, 1, 100, &o->cfg.jpeg_quality);
    case FLAG_SAVE_EVERY: return int_value(flag, arg, 0, 1000000, &o->cfg.save_every);
    default: return unhandled(flag);
    }
}

/* Sizes. */
static int parse_size_flag(cli_options *o, flag_id id, const char *flag, const char *arg)
{
    switch (id) {
    case FLAG_SIZE: return int_value(flag, arg, 16, STYLIZE_IMAGE_MAX_SIDE, &o->cfg.size);
    case FLAG_WIDTH: return int_value(flag, arg, 16, STYLIZE_IMAGE_MAX_SIDE, &o->cfg.width);
    case FLAG_HEIGHT: return int_value(flag, arg, 16, STYLIZE_IMAGE_MAX_SIDE, &o->cfg.height);
    case FLAG_STYLE_SCALE: return number_value(flag, arg, 0.01, 100, &o->cfg.style_scale);
    case FLAG_SCALES: o->scales = arg; return CLI_GO_ON;
    default: return unhandled(flag);
    }
}

/* Losses. */
static int parse_loss_flag(cli_options *o, flag_id id, const char *flag, const char *arg)
{
    static const char *const pools[] = {"avg", "max"};
    static const stylize_pool_kind pool_kinds[] = {STYLIZE_POOL_AVG, STYLIZE_POOL_MAX};
    static const char *const colours[] = {"none", "luminance", "histogram"};
    static const stylize_colours colour_kinds[] = {STYLIZE_COLOURS_NONE, STYLIZE_COLOURS_LUMINANCE,
                                                   STYLIZE_COLOURS_HISTOGRAM};
    int k;
    switch (id) {
    case FLAG_ALPHA:
        o->photo_keep |= STYLIZE_PHOTO_KEEP_ALPHA;
        return number_value(flag, arg, 0, 1e30, &o->cfg.alpha);
    case FLAG_BETA:
        o->beta_set = 1;
        o->photo_keep |= STYLIZE_PHOTO_KEEP_BETA;
        return number_value(flag, arg, 0, 1e30, &o->cfg.beta);
    case FLAG_TV:
        o->photo_keep |= STYLIZE_PHOTO_KEEP_TV;
        return number_value(flag, arg, 0, 1e30, &o->cfg.tv);
    case FLAG_CONTENT_LAYERS: o->content_layers = arg; return CLI_GO_ON;
    case FLAG_STYLE_LAYERS: o->style_layers = arg; return CLI_GO_ON;
    case FLAG_POOL:
        if ((k = keyword_value(flag, arg, pools, 2)) < 0)
            return EXIT_USAGE;
        o->cfg.pool = pool_kinds[k];
        return CLI_GO_ON;
    case FLAG_NORMALISE_GRADIENTS: o->cfg.normalise_gradients = 1; return CLI_GO_ON;
    case FLAG_PRESERVE_COLOURS:
        if ((k = keyword_value(flag, arg, colours, 3)) < 0)
            return EXIT_USAGE;
        o->cfg.preserve_colours = colour_kinds[k];
        return CLI_GO_ON;
    case FLAG_CONTENT_MASK: o->content_mask = arg; return CLI_GO_ON;
    case FLAG_STYLE_MASK: o->style_mask = arg; return CLI_GO_ON;
    default: return unhandled(flag);
    }
}

/* Photorealistic transfer. */
static int parse_photo_flag(cli_options *o, flag_id id, const char *flag, const char *arg)
{
    static const char *const smooths[] = {"none", "guided", "affine"};
    int k;
    switch (id) {
    case FLAG_PHOTO: o->photo = 1; return CLI_GO_ON;
    case FLAG_PHOTOREALISM:
        o->photo_keep |= STYLIZE_PHOTO_KEEP_LAMBDA;
        return number_value(flag, arg, 0, 1e30, &o->cfg.photorealism);
    case FLAG_PHOTO_ITERATIONS:
        o->photo_iterations_set = 1;
        return int_value(flag, arg, 0, 1000000, &o->cfg.photo_iterations);
    case FLAG_CONTENT_SEG: o->content_seg = arg; return CLI_GO_ON;
    case FLAG_STYLE_SEG: o->style_seg = arg; return CLI_GO_ON;
    case FLAG_SMOOTH:
        if ((k = keyword_value(flag, arg, smooths, 3)) < 0)
            return EXIT_USAGE;
        o->cfg.smooth.kind = (stylize_smooth_kind)stylize_smooth_parse(smooths[k]);
        return CLI_GO_ON;
    case FLAG_SMOOTH_RADIUS: return int_value(flag, arg, 1, 64, &o->cfg.smooth.radius);
    case FLAG_SMOOTH_EDGE: return number_value(flag, arg, 1e-6, 10, &o->cfg.smooth.edge);
    default: return unhandled(flag);
    }
}

/* Optimisation. */
static int parse_optim_flag(cli_options *o, flag_id id, const char *flag, const char *arg)
{
    static const char *const optimizers[] = {"lbfgs", "adam"};
    static const stylize_optim_kind optim_kinds[] = {STYLIZE_OPTIM_LBFGS, STYLIZE_OPTIM_ADAM};
    int k;
    switch (id) {
    case FLAG_ITERATIONS: return int_value(flag, arg, 0, 1000000, &o->cfg.iterations);
    case FLAG_INIT: o->init = arg; return CLI_GO_ON;
    case FLAG_SEED:
        if (cli_parse_u64(arg, &o->cfg.seed) != 0) {
            cli_error(prog, "%s: '%s' is not a non-negative integer", flag, arg);
            return EXIT_USAGE;
        }
        return CLI_GO_ON;
    case FLAG_OPTIMIZER:
        if ((k = keyword_value(flag, arg, optimizers, 2)) < 0)
            return EXIT_USAGE;
        o->cfg.optimizer = optim_kinds[k];
        return CLI_GO_ON;
    case FLAG_LEARNING_RATE: return number_value(flag, arg, 1e-12, 1e6, &o->cfg.learning_rate);
    case FLAG_LBFGS_HISTORY: return int_value(flag, arg, 1, 1000, &o->cfg.lbfgs_history);
    case FLAG_MAX_EVALS: return int_value(flag, arg, 0, 10000000, &o->cfg.max_evaluations);
    case FLAG_TOLERANCE: return number_value(flag, arg, 0, 1, &o->cfg.tol_change);
    default: return unhandled(flag);
    }
}

/* Weights. */
static int parse_weights_flag(cli_options *o, flag_id id, const char *flag, const char *arg)
{
    if (id != FLAG_WEIGHTS)
        return unhandled(flag);
    o->weights = arg;
    return CLI_GO_ON;
}

/* Other: resources, printing, --help and --version (which end the parse). */
static int parse_other_flag(cli_options *o, flag_id id, const char *flag, const char *arg)
{
    switch (id) {
    case FLAG_THREADS: return int_value(flag, arg, 1, 1024, &o->threads);
    case FLAG_PRECISION: {
        int p = 0, rc = cli_parse_precision(prog, flag, arg, &p);
        o->cfg.precision = (stylize_precision)p;
        return rc ? rc : CLI_GO_ON;
    }
    case FLAG_MAX_MEMORY:
        if ((o->cfg.max_memory = parse_size(arg)) == 0) {
            cli_error(prog, "%s: '%s' is not a size such as 512M or 2G", flag, arg);
            return EXIT_USAGE;
        }
        return CLI_GO_ON;
    case FLAG_TILE_ROWS:
        if (strcmp(arg, "auto") == 0) {
            o->cfg.tile_rows = STYLIZE_TILE_AUTO;
            return CLI_GO_ON;
        }
        return int_value(flag, arg, 0, STYLIZE_IMAGE_MAX_SIDE, &o->cfg.tile_rows);
    case FLAG_DRY_RUN: o->dry_run = 1; return CLI_GO_ON;
    case FLAG_PRINT_EVERY: return int_value(flag, arg, 1, 1000000, &o->print_every);
    case FLAG_QUIET: o->quiet = 1; return CLI_GO_ON;
    case FLAG_HELP: stylize_flags_help(stdout); return EXIT_OK_;
    case FLAG_VERSION:
        printf("stylize %s (OpenBLAS core %s)\n", STYLIZE_VERSION, stylize_blas_core());
        return EXIT_OK_;
    default: return unhandled(flag);
    }
}

static flag_parser *const section_parsers[FLAG_N_SECTIONS] = {
    [FLAG_SECTION_IO] = parse_io_flag,           [FLAG_SECTION_SIZES] = parse_size_flag,
    [FLAG_SECTION_LOSSES] = parse_loss_flag,     [FLAG_SECTION_PHOTO] = parse_photo_flag,
    [FLAG_SECTION_OPTIM] = parse_optim_flag,
    [FLAG_SECTION_WEIGHTS] = parse_weights_flag, [FLAG_SECTION_OTHER] = parse_other_flag,
};

/* --- the parse -------------------------------------------------------- */

/* The error line for getopt_long's '?' (unknown flag, or a value given to
 * a switch) and ':' (missing value). */
static int flag_error(int c, char **argv)
{
    if (c == ':')
        cli_error(prog, "option %s needs a value", argv[optind - 1]);
    else if (optopt > 0 && optopt < 256)
        cli_error(prog, "unknown option '-%c' (see --help)", optopt);
    else
        cli_error(prog, "unknown option '%s' (see --help)", argv[optind - 1]);
    return EXIT_USAGE;
}

/* Positional arguments are more contents (a batch), after --content's. */
static int take_positionals(int argc, char **argv, cli_options *o)
{
    int n = argc - optind;
    if (n > 0 && !o->content) {
        cli_error(prog, "unexpected argument '%s' (see --help)", argv[optind]);
        return EXIT_USAGE;
    }
    if (n > CLI_MAX_EXTRA_CONTENTS) {
        cli_error(prog, "too many content arguments");
        return EXIT_USAGE;
    }
    o->extra_contents = argv + optind;
    o->n_extra = n;
    return CLI_GO_ON;
}

int cli_parse_options(int argc, char **argv, cli_options *o)
{
    stylize_getopt_args ga;
    memset(o, 0, sizeof *o);
    stylize_run_defaults(&o->cfg);
    o->print_every = 10;
    stylize_flags_getopt(&ga);
    opterr = 0;
    for (;;) {
        int longindex = -1;
        int c = getopt_long(argc, argv, ga.shortopts, ga.longopts, &longindex);
        if (c == -1)
            break;
        /* the spelling used (an alias or not), or the short letter's flag */
        const stylize_flag *f = longindex >= 0 ? &stylize_flags[longindex] : stylize_flag_for_code(c);
        if (c == '?' || c == ':' || !f)
            return flag_error(c, argv);
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", f->name);
        int rc = section_parsers[f->section](o, f->id, flag, optarg);
        if (rc != CLI_GO_ON)
            return rc;
    }
    o->cfg.print_every = o->print_every;
    return take_positionals(argc, argv, o);
}

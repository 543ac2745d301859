/* stylize-weights: makes, inspects and imports VGG-19 weights in stylize's
 * native format (weights/README.md).
 *
 *   stylize-weights random --out FILE.json [--seed N] [--width-divisor K]
 *   stylize-weights info FILE.json
 *   stylize-weights import IN --out OUT.json [--format auto|torch|caffe]
 *   stylize-weights normalise IN.json OUT.json --images DIR [--size N]
 *
 * Usage errors print one line "stylize-weights: ..." on stderr and exit 2.
 * Outputs are written atomically by the library: a failure leaves no partial
 * file. */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "stylize/io/image.h"
#include "stylize/vgg/import.h"
#include "stylize/vgg/normalise.h"
#include "stylize/vgg/weights.h"

#ifndef STYLIZE_VERSION
#define STYLIZE_VERSION "unknown"
#endif

static const char *const PROG = "stylize-weights";

static void print_help(FILE *f)
{
    fprintf(f,
            "Usage: %s COMMAND [OPTIONS]\n"
            "Make, inspect and import VGG-19 weights in stylize's native format\n"
            "(a JSON manifest FILE.json plus its float32 blob FILE.bin).\n"
            "\n"
            "Commands:\n"
            "  random --out FILE.json [--seed N] [--width-divisor K]\n"
            "      Random He-normal weights (for tests and demos; they do not make\n"
            "      meaningful styles). --seed N (default 0) fixes the values;\n"
            "      --width-divisor K (1, 2, 4, ..., 64; default 1) divides every\n"
            "      layer's channel count, e.g. 16 gives a small, fast network.\n"
            "  info FILE.json\n"
            "      Validate FILE.json and its blob, then print the architecture, source,\n"
            "      input convention and every layer's shape and parameter count.\n"
            "  import IN --out OUT.json [--format auto|torch|caffe]\n"
            "      Convert a PyTorch checkpoint (torch.save state dict, zip or legacy,\n"
            "      e.g. torchvision's vgg19-dcbb9e9d.pth) or a Caffe .caffemodel with\n"
            "      VGG-19 convolutions into the native format. Default --format auto.\n"
            "  normalise IN.json OUT.json --images DIR [--size N]\n"
            "      Gatys' normalisation: rescale every conv layer so that each filter's\n"
            "      mean rectified activation over the images in DIR (resized to\n"
            "      longest side N, default 256) is 1. Features stay the same up to\n"
            "      per-filter scales.\n"
            "\n"
            "Options:\n"
            "  -h, --help       print this help and exit\n"
            "      --version    print the version and exit\n"
            "\n"
            "Exit status: 0 success, 2 usage error, 4 weights missing or invalid,\n"
            "5 output cannot be written, 6 out of memory, 1 other failure.\n",
            PROG);
}

/* Exit code for a failure while reading weights. */
static int exit_for_read(stylize_status s)
{
    switch (s) {
    case STYLIZE_ERR_NOMEM: return EXIT_MEMORY;
    case STYLIZE_ERR_IO:
    case STYLIZE_ERR_FORMAT:
    case STYLIZE_ERR_LIMIT:
    case STYLIZE_ERR_ARG: return EXIT_WEIGHTS;
    default: return EXIT_FAILURE_;
    }
}

/* Exit code for a failure while writing weights. */
static int exit_for_write(stylize_status s)
{
    return s == STYLIZE_ERR_NOMEM ? EXIT_MEMORY : s == STYLIZE_ERR_INTERNAL ? EXIT_FAILURE_ : EXIT_OUTPUT;
}

/* Writes w to path (atomically), frees w, and returns the exit code. */
static int save_and_free(stylize_weights *w, const char *path)
{
    stylize_error err = {0};
    stylize_status s = stylize_weights_save(w, path, &err);
    stylize_weights_free(w);
    if (s != STYLIZE_OK) {
        cli_error(PROG, "%s", err.msg);
        return exit_for_write(s);
    }
    return EXIT_OK_;
}

static int usage_error(const char *msg, const char *arg)
{
    if (arg)
        cli_error(PROG, "%s '%s' (see --help)", msg, arg);
    else
        cli_error(PROG, "%s (see --help)", msg);
    return EXIT_USAGE;
}

enum { OPT_VERSION = 256, OPT_SEED, OPT_DIVISOR, OPT_FORMAT, OPT_IMAGES, OPT_SIZE };

static const struct option long_opts[] = {
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {"out", required_argument, NULL, 'o'},
    {"seed", required_argument, NULL, OPT_SEED},
    {"width-divisor", required_argument, NULL, OPT_DIVISOR},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"images", required_argument, NULL, OPT_IMAGES},
    {"size", required_argument, NULL, OPT_SIZE},
    {NULL, 0, NULL, 0}};

typedef struct {
    const char *out;
    const char *seed;
    const char *divisor;
    const char *format;
    const char *images;
    const char *size;
    const char *positional[2];
    int n_positional;
    int help, version;
} parsed_args;

/* Parses argv[first..argc-1]. Options and positionals may be mixed. Returns 0
 * or an exit code (after printing the error). */
static int parse_args(int argc, char **argv, int first, parsed_args *a)
{
    memset(a, 0, sizeof *a);
    /* Leading '-': positionals come back in order as option 1, whatever
     * POSIXLY_CORRECT says; ':' reports a missing value as ':'. */
    static const char optstring[] = "-:ho:";
    opterr = 0;
#ifdef __GLIBC__
    optind = 0; /* full re-initialisation */
#else
    optind = 1;
#endif
    /* getopt_long expects argv[0] to be the program: shift the view so that
     * argv[first - 1] plays that role. */
    int sub_argc = argc - (first - 1);
    char **sub_argv = argv + (first - 1);
    int c;
    while ((c = getopt_long(sub_argc, sub_argv, optstring, long_opts, NULL)) != -1) {
        switch (c) {
        case 1:
            if (a->n_positional >= 2)
                return usage_error("unexpected argument", optarg);
            a->positional[a->n_positional++] = optarg;
            break;
        case 'h': a->help = 1; break;
        case OPT_VERSION: a->version = 1; break;
        case 'o': a->out = optarg; break;
        case OPT_SEED: a->seed = optarg; break;
        case OPT_DIVISOR: a->divisor = optarg; break;
        case OPT_FORMAT: a->format = optarg; break;
        case OPT_IMAGES: a->images = optarg; break;
        case OPT_SIZE: a->size = optarg; break;
        case ':': return usage_error("missing value for option", sub_argv[optind - 1]);
        default:
            if (optopt > 0 && optopt < 256) {
                char opt[3] = {'-', (char)optopt, '\0'};
                return usage_error("unknown option", opt);
            }
            return usage_error("unknown option", sub_argv[optind - 1]);
        }
    }
    return 0;
}

static int cmd_random(const parsed_args *a)
{
    unsigned long long seed = 0;
    int divisor = 1;
    if (a->n_positional > 0)
        return usage_error("random: unexpected argument", a->positional[0]);
    if (a->format || a->images || a->size)
        return usage_error("random: option not allowed:", a->format ? "--format" : a->images ? "--images" : "--size");
    if (!a->out || !*a->out)
        return usage_error("random: --out FILE.json is required", NULL);
    if (a->seed && cli_parse_u64(a->seed, &seed) != 0)
        return usage_error("random: --seed must be a non-negative integer, got", a->seed);
    if (a->divisor && (cli_parse_int(a->divisor, 1, 64, &divisor) != 0 || 64 % divisor != 0))
        return usage_error("random: --width-divisor must be 1, 2, 4, 8, 16, 32 or 64, got",
                           a->divisor);
    stylize_weights *w = NULL;
    stylize_error err = {0};
    stylize_status s = stylize_weights_random(&w, (uint64_t)seed, divisor, &err);
    if (s != STYLIZE_OK) {
        cli_error(PROG, "%s", err.msg);
        return s == STYLIZE_ERR_NOMEM ? EXIT_MEMORY : EXIT_FAILURE_;
    }
    return save_and_free(w, a->out);
}

static int cmd_info(const parsed_args *a)
{
    if (a->out || a->seed || a->divisor || a->format || a->images || a->size)
        return usage_error("info: takes no options besides --help", NULL);
    if (a->n_positional != 1)
        return usage_error(a->n_positional ? "info: unexpected argument"
                                           : "info: missing FILE.json",
                           a->n_positional ? a->positional[1] : NULL);
    stylize_weights *w = NULL;
    stylize_error err = {0};
    stylize_status s = stylize_weights_load(&w, a->positional[0], &err);
    if (s != STYLIZE_OK) {
        cli_error(PROG, "%s", err.msg);
        return exit_for_read(s);
    }
    const stylize_input_convention *c = &w->input;
    printf("file:   %s\n", a->positional[0]);
    printf("arch:   %s\n", w->arch);
    printf("source: %s\n", w->source[0] ? w->source : "(not given)");
    printf("input:  channel order %s, x = (v * %g - mean) / std, v in [0, 1]\n",
           c->order == STYLIZE_BGR ? "BGR" : "RGB", (double)c->pixel_scale);
    printf("        mean (%g, %g, %g), std (%g, %g, %g)\n", (double)c->mean[0],
           (double)c->mean[1], (double)c->mean[2], (double)c->std[0], (double)c->std[1],
           (double)c->std[2]);
    printf("%-8s %-16s %12s\n", "layer", "shape", "parameters");
    unsigned long long total = 0;
    for (int i = 0; i < w->n_layers; i++) {
        const stylize_conv_layer *l = &w->layers[i];
        char shape[48];
        unsigned long long n = (unsigned long long)l->out_ch * (unsigned long long)l->in_ch * 9ull +
                               (unsigned long long)l->out_ch;
        snprintf(shape, sizeof shape, "%dx%dx3x3", l->out_ch, l->in_ch);
        printf("%-8s %-16s %12llu\n", l->name, shape, n);
        total += n;
    }
    printf("total parameters: %llu (%llu bytes of float32)\n", total, total * 4ull);
    stylize_weights_free(w);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error(PROG, "cannot write to standard output");
        return EXIT_OUTPUT;
    }
    return EXIT_OK_;
}

static int cmd_import(const parsed_args *a)
{
    stylize_import_format fmt = STYLIZE_IMPORT_AUTO;
    if (a->seed || a->divisor || a->images || a->size)
        return usage_error("import: takes IN --out OUT.json [--format F] only", NULL);
    if (a->n_positional != 1)
        return usage_error(a->n_positional ? "import: unexpected argument"
                                           : "import: missing input file",
                           a->n_positional ? a->positional[1] : NULL);
    if (!a->out || !*a->out)
        return usage_error("import: --out OUT.json is required", NULL);
    if (a->format) {
        if (strcmp(a->format, "auto") == 0)
            fmt = STYLIZE_IMPORT_AUTO;
        else if (strcmp(a->format, "torch") == 0)
            fmt = STYLIZE_IMPORT_TORCH_ZIP; /* the importer tells zip from legacy by content */
        else if (strcmp(a->format, "caffe") == 0)
            fmt = STYLIZE_IMPORT_CAFFE;
        else
            return usage_error("import: --format must be auto, torch or caffe, got", a->format);
    }
    stylize_weights *w = NULL;
    stylize_error err = {0};
    stylize_status s = stylize_import_file(&w, a->positional[0], fmt, &err);
    if (s != STYLIZE_OK) {
        cli_error(PROG, "%s", err.msg);
        return exit_for_read(s);
    }
    return save_and_free(w, a->out);
}

static int is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    static const char *const exts[] = {".png", ".jpg", ".jpeg", ".bmp", ".tga", ".gif", ".psd",
                                       ".PNG", ".JPG", ".JPEG"};
    if (!dot || name[0] == '.')
        return 0;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (strcmp(dot, exts[i]) == 0)
            return 1;
    return 0;
}

static int cmd_normalise(const parsed_args *a)
{
    int size = 256;
    if (a->seed || a->divisor || a->format || a->out)
        return usage_error("normalise: takes IN.json OUT.json --images DIR [--size N]", NULL);
    if (a->n_positional != 2)
        return usage_error("normalise: needs IN.json and OUT.json", NULL);
    if (!a->images)
        return usage_error("normalise: --images DIR is required", NULL);
    if (a->size && cli_parse_int(a->size, 16, STYLIZE_IMAGE_MAX_SIDE, &size) != 0)
        return usage_error("normalise: --size must be an integer in [16, 16384], got", a->size);
    DIR *d = opendir(a->images);
    if (!d) {
        cli_error(PROG, "--images: cannot read directory '%s'", a->images);
        return EXIT_INPUT;
    }
    enum { MAX_IMAGES = 4096 };
    stylize_image *imgs = calloc(MAX_IMAGES, sizeof *imgs);
    const stylize_image **ptrs = calloc(MAX_IMAGES, sizeof *ptrs);
    int n = 0, rc = EXIT_OK_;
    stylize_error err = {0};
    struct dirent *e;
    if (!imgs || !ptrs) {
        closedir(d);
        free(imgs);
        free(ptrs);
        cli_error(PROG, "out of memory");
        return EXIT_MEMORY;
    }
    while ((e = readdir(d)) && n < MAX_IMAGES) {
        char path[4096];
        if (!is_image_name(e->d_name))
            continue;
        snprintf(path, sizeof path, "%s/%s", a->images, e->d_name);
        if (stylize_image_load(&imgs[n], path, &err) != STYLIZE_OK) {
            cli_error(PROG, "--images: %s", err.msg);
            rc = EXIT_INPUT;
            break;
        }
        ptrs[n] = &imgs[n];
        n++;
    }
    closedir(d);
    stylize_weights *w = NULL;
    if (rc == EXIT_OK_ && n == 0) {
        cli_error(PROG, "--images: no images in '%s'", a->images);
        rc = EXIT_INPUT;
    }
    if (rc == EXIT_OK_) {
        stylize_status s = stylize_weights_load(&w, a->positional[0], &err);
        if (s != STYLIZE_OK) {
            cli_error(PROG, "%s", err.msg);
            rc = exit_for_read(s);
        } else if ((s = stylize_weights_normalise(w, ptrs, n, size, NULL, &err)) != STYLIZE_OK) {
            cli_error(PROG, "%s", err.msg);
            rc = s == STYLIZE_ERR_NOMEM ? EXIT_MEMORY : EXIT_FAILURE_;
        } else {
            rc = save_and_free(w, a->positional[1]);
            w = NULL;
        }
    }
    stylize_weights_free(w);
    for (int i = 0; i < n; i++)
        stylize_image_free(&imgs[i]);
    free(imgs);
    free(ptrs);
    return rc;
}

int main(int argc, char **argv)
{
    cli_blas_autoselect(argv);
    parsed_args a;
    if (argc < 2)
        return usage_error("missing command (random, info, import or normalise)", NULL);
    const char *cmd = argv[1];
    /* Only --help / --version may come before a command. */
    int first = cmd[0] == '-' ? 1 : 2;
    int rc = parse_args(argc, argv, first, &a);
    if (rc)
        return rc;
    if (a.help) {
        print_help(stdout);
        return EXIT_OK_;
    }
    if (a.version) {
        printf("%s %s\n", PROG, STYLIZE_VERSION);
        return EXIT_OK_;
    }
    if (first == 1)
        return usage_error("an option must follow a command, got", cmd);
    if (strcmp(cmd, "random") == 0)
        return cmd_random(&a);
    if (strcmp(cmd, "info") == 0)
        return cmd_info(&a);
    if (strcmp(cmd, "import") == 0)
        return cmd_import(&a);
    if (strcmp(cmd, "normalise") == 0 || strcmp(cmd, "normalize") == 0)
        return cmd_normalise(&a);
    return usage_error("unknown command", cmd);
}

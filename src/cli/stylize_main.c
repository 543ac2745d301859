/* stylize: command-line front end over the library (flags, weights lookup,
 * images, progress, signals, batch, exit codes). All printing happens here. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_common.h"
#include "stylize/stylize.h"
#include "stylize/run/testing.h"

static const char *prog = "stylize";
static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig)
{
    g_stop = sig;
    signal(sig, SIG_DFL); /* a second signal ends the process at once */
}

static void usage(FILE *f)
{
    fprintf(f,
"Usage: stylize --content IMAGE --style IMAGE[,IMAGE...] [options] -o OUTPUT\n"
"       stylize --texture IMAGE [options] -o OUTPUT\n"
"       stylize --style IMAGE --content A B C ... --output-dir DIR   (batch)\n"
"\n"
"Paints the content image in the style of the style image(s), or synthesises a\n"
"texture, by optimising the pixels with L-BFGS against VGG-19 features\n"
"(Gatys, Ecker and Bethge 2015):\n"
"  L = alpha * 1/2 sum (F - P)^2 + beta * sum_l w_l/(4 N_l^2 M_l^2) sum (G_l - A_l)^2 + tv * TV\n"
"\n"
"Inputs and outputs:\n"
"  -c, --content FILE...      content image(s); more than one, a directory or @LIST runs a batch\n"
"  -s, --style FILE[,FILE]    style image(s)\n"
"      --style-blend W[,W]    weights of the style images (normalised to sum 1; default equal)\n"
"  -t, --texture FILE         texture synthesis from this source (style loss only, from noise)\n"
"  -o, --output FILE          output image, .png or .jpg (default out.png)\n"
"      --output-dir DIR       batch: one output per content, DIR/<name>.png\n"
"      --jpeg-quality N       1..100 (default 95)\n"
"      --report FILE.json     write a JSON report (settings, losses per layer, history)\n"
"      --plot FILE.svg        write the loss curves as an SVG plot\n"
"      --save-every N         write OUTPUT_NNNN.png every N iterations (default 0: off)\n"
"\n"
"Sizes:\n"
"      --size N               longest side of the output (default 512)\n"
"      --width N, --height N  texture output size (default: the source's at --size)\n"
"      --style-scale F        style image size relative to the output (default 1.0)\n"
"      --scales LIST|N        coarse to fine: longest sides, e.g. 256,512, or N octaves up to --size\n"
"\n"
"Losses:\n"
"  -a, --alpha F              content weight (default 1)\n"
"  -b, --beta F               style weight (default 1000 x (255/s)^2 for a network whose\n"
"                             inputs have scale s: 1000 for Caffe weights, about 3.3e6\n"
"                             for torchvision's; 10 with --weights random)\n"
"      --tv F                 total-variation weight (default 0)\n"
"      --content-layers L     default relu4_2\n"
"      --style-layers L       default relu1_1,relu2_1,relu3_1,relu4_1,relu5_1 (each 0.2);\n"
"                             texture default relu1_1,pool1,pool2,pool3,pool4 (each 0.2)\n"
"                             layer lists: name[:weight],... names conv1_1..conv5_4,\n"
"                             relu1_1..relu5_4, pool1..pool5\n"
"      --pool avg|max         pooling (default avg, as in the paper)\n"
"      --normalize-gradients  scale each layer's gradient to unit L1 norm (as neural-style)\n"
"      --preserve-colors MODE none|luminance|histogram (default none)\n"
"      --content-mask M[,M]   spatial control: one grey mask per style over the output;\n"
"                             style k applies where mask k is white\n"
"      --style-mask M[,M]     one grey mask per style image: the part of it to use\n"
"\n"
"Optimisation:\n"
"  -n, --iterations N         iterations per scale (default 500; 0: evaluate and write the init)\n"
"      --init KIND            content|noise|style|FILE (default content; texture: noise)\n"
"      --seed N               noise seed (default 0)\n"
"      --optimizer NAME       lbfgs|adam (default lbfgs)\n"
"      --learning-rate F      Adam step size (default 1.0)\n"
"      --lbfgs-history M      L-BFGS memory (default 10)\n"
"      --max-evals N          L-BFGS: also stop after N evaluations per scale (default 0: no limit)\n"
"      --tolerance F          stop when the relative loss change is below F (default 1e-7)\n"
"\n"
"Weights:\n"
"  -w, --weights FILE|random[:SEED]\n"
"                             native manifest (.json); default: $STYLIZE_WEIGHTS, then\n"
"                             ./weights/vgg19.json, then " STYLIZE_DATADIR_STR "/vgg19.json.\n"
"                             random: untrained He-initialised VGG-19 in memory, a lower\n"
"                             quality mode for trying the tool without a download\n"
"\n"
"Other:\n"
"      --threads N            threads (default: all cores)\n"
"      --max-memory SIZE      refuse runs estimated to need more, e.g. 2G, 512M\n"
"                             (default: the machine's available memory)\n"
"      --tile-rows N|auto     run the network over strips of N image rows (exact: each\n"
"                             strip has a halo); memory then grows with the strip, not\n"
"                             the image. 0: never; auto (default): only when the whole\n"
"                             image would not fit in --max-memory\n"
"      --print-every N        progress line every N iterations when not on a terminal (default 10)\n"
"  -q, --quiet                print nothing but errors\n"
"  -h, --help                 this help\n"
"  -V, --version              version\n"
"\n"
"Exit codes: 0 ok, 1 internal error, 2 usage, 3 bad input image, 4 weights,\n"
"5 output not writable, 6 memory, 7 numerical failure, 8 batch with failures,\n"
"130 interrupted (SIGINT), 143 terminated (SIGTERM).\n");
}

enum {
    OPT_STYLE_BLEND = 256, OPT_OUTPUT_DIR, OPT_JPEG_QUALITY, OPT_REPORT, OPT_PLOT, OPT_SAVE_EVERY,
    OPT_SIZE, OPT_WIDTH, OPT_HEIGHT, OPT_STYLE_SCALE, OPT_SCALES, OPT_TV, OPT_CONTENT_LAYERS,
    OPT_STYLE_LAYERS, OPT_POOL, OPT_NORMGRAD, OPT_COLORS, OPT_INIT, OPT_SEED, OPT_OPTIMIZER,
    OPT_LR, OPT_HISTORY, OPT_TOL, OPT_THREADS, OPT_PRINT_EVERY, OPT_CONTENT_MASK, OPT_STYLE_MASK, OPT_MAX_MEMORY, OPT_MAX_EVALS, OPT_TILE_ROWS
};

static const struct option long_opts[] = {
    {"content", required_argument, 0, 'c'},
    {"style", required_argument, 0, 's'},
    {"style-blend", required_argument, 0, OPT_STYLE_BLEND},
    {"texture", required_argument, 0, 't'},
    {"output", required_argument, 0, 'o'},
    {"output-dir", required_argument, 0, OPT_OUTPUT_DIR},
    {"jpeg-quality", required_argument, 0, OPT_JPEG_QUALITY},
    {"report", required_argument, 0, OPT_REPORT},
    {"plot", required_argument, 0, OPT_PLOT},
    {"save-every", required_argument, 0, OPT_SAVE_EVERY},
    {"size", required_argument, 0, OPT_SIZE},
    {"width", required_argument, 0, OPT_WIDTH},
    {"height", required_argument, 0, OPT_HEIGHT},
    {"style-scale", required_argument, 0, OPT_STYLE_SCALE},
    {"scales", required_argument, 0, OPT_SCALES},
    {"alpha", required_argument, 0, 'a'},
    {"beta", required_argument, 0, 'b'},
    {"tv", required_argument, 0, OPT_TV},
    {"content-layers", required_argument, 0, OPT_CONTENT_LAYERS},
    {"style-layers", required_argument, 0, OPT_STYLE_LAYERS},
    {"pool", required_argument, 0, OPT_POOL},
    {"normalize-gradients", no_argument, 0, OPT_NORMGRAD},
    {"preserve-colors", required_argument, 0, OPT_COLORS},
    {"content-mask", required_argument, 0, OPT_CONTENT_MASK},
    {"style-mask", required_argument, 0, OPT_STYLE_MASK},
    {"iterations", required_argument, 0, 'n'},
    {"init", required_argument, 0, OPT_INIT},
    {"seed", required_argument, 0, OPT_SEED},
    {"optimizer", required_argument, 0, OPT_OPTIMIZER},
    {"learning-rate", required_argument, 0, OPT_LR},
    {"lbfgs-history", required_argument, 0, OPT_HISTORY},
    {"max-evals", required_argument, 0, OPT_MAX_EVALS},
    {"tile-rows", required_argument, 0, OPT_TILE_ROWS},
    {"tolerance", required_argument, 0, OPT_TOL},
    {"weights", required_argument, 0, 'w'},
    {"threads", required_argument, 0, OPT_THREADS},
    {"max-memory", required_argument, 0, OPT_MAX_MEMORY},
    {"print-every", required_argument, 0, OPT_PRINT_EVERY},
    {"quiet", no_argument, 0, 'q'},
    {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, 'V'},
    {0, 0, 0, 0}};

/* Progress printing state. */
typedef struct {
    int quiet, tty, print_every;
    int last_len;
    const char *label;
} progress_ctx;

static void print_progress(void *user, const stylize_run_progress *p)
{
    progress_ctx *pc = user;
    if (pc->quiet)
        return;
    double rate = p->seconds > 0 ? p->evaluations / p->seconds : 0;
    if (pc->tty) {
        int width = 24, done = p->max_iterations > 0 ? width * p->iteration / p->max_iterations : width;
        char bar[32];
        for (int i = 0; i < width; i++)
            bar[i] = i < done ? '#' : '.';
        bar[width] = '\0';
        double left = p->iteration > 0 ? p->seconds / p->iteration * (p->max_iterations - p->iteration) : 0;
        fprintf(stderr, "\r%s[%s] scale %d/%d %dx%d it %d/%d loss %.4e %.2f eval/s ~%.0fs left   ",
                pc->label, bar, p->scale_index + 1, p->n_scales, p->width, p->height, p->iteration,
                p->max_iterations, p->loss, rate, left);
        if (p->iteration >= p->max_iterations)
            fputc('\n', stderr);
        fflush(stderr);
    } else if (p->iteration % pc->print_every == 0 || p->iteration == p->max_iterations) {
        fprintf(stderr, "%sscale %d/%d %dx%d iteration %d/%d evaluations %d loss %.6e (content %.4e style %.4e tv %.4e) %.1fs\n",
                pc->label, p->scale_index + 1, p->n_scales, p->width, p->height, p->iteration,
                p->max_iterations, p->evaluations, p->loss, p->breakdown ? p->breakdown->content : 0,
                p->breakdown ? p->breakdown->style : 0, p->breakdown ? p->breakdown->tv : 0,
                p->seconds);
    }
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

/* MemAvailable from /proc/meminfo in bytes, or 0 if unknown. */
static size_t available_memory(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    size_t kb = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %zu kB", &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}

static int exit_for_status(stylize_status st, int is_input)
{
    switch (st) {
    case STYLIZE_OK: return 0;
    case STYLIZE_ERR_ARG: return EXIT_USAGE;
    case STYLIZE_ERR_IO:
    case STYLIZE_ERR_FORMAT: return is_input ? EXIT_INPUT : EXIT_OUTPUT;
    case STYLIZE_ERR_NOMEM:
    case STYLIZE_ERR_LIMIT: return EXIT_MEMORY;
    case STYLIZE_ERR_NUMERIC: return EXIT_NUMERIC;
    case STYLIZE_ERR_INTERRUPTED: return g_stop == SIGTERM ? EXIT_SIGTERM : EXIT_SIGINT;
    case STYLIZE_ERR_INTERNAL: return EXIT_FAILURE_;
    }
    return EXIT_FAILURE_;
}

/* Splits a comma list into at most max items (pointers into a copy in buf). */
static int split_list(char *buf, char **items, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n >= max)
            return -1;
        items[n++] = tok;
    }
    return n;
}

static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Finds the weights manifest: flag, $STYLIZE_WEIGHTS, ./weights/, data dir. */
static const char *find_weights(const char *flag, char *buf, size_t cap)
{
    if (flag)
        return flag;
    const char *env = getenv("STYLIZE_WEIGHTS");
    if (env && *env)
        return env;
    if (file_exists("weights/vgg19.json"))
        return "weights/vgg19.json";
    snprintf(buf, cap, "%s/vgg19.json", STYLIZE_DATADIR_STR);
    if (file_exists(buf))
        return buf;
    return NULL;
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Checks that the output's directory exists and is writable. */
static int output_dir_ok(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return 0;
    return access(dir, W_OK) == 0;
}

static int has_image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    const char *exts[] = {".png", ".jpg", ".jpeg", ".bmp", ".tga", ".psd", ".gif", ".PNG", ".JPG", ".JPEG"};
    if (!dot)
        return 0;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (strcmp(dot, exts[i]) == 0)
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Expands content arguments (files, directories, @list files) into paths. */
static int add_path(char ***list, int *n, int *cap, const char *p)
{
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        char **nl = realloc(*list, (size_t)nc * sizeof *nl);
        if (!nl)
            return -1;
        *list = nl;
        *cap = nc;
    }
    (*list)[*n] = strdup(p);
    if (!(*list)[*n])
        return -1;
    (*n)++;
    return 0;
}

static int expand_contents(char **args, int nargs, char ***out, int *nout)
{
    char **list = NULL;
    int n = 0, cap = 0;
    for (int i = 0; i < nargs; i++) {
        const char *a = args[i];
        struct stat sb;
        if (a[0] == '@') {
            FILE *f = fopen(a + 1, "r");
            if (!f) {
                cli_error(prog, "--content: cannot read list file '%s': %s", a + 1, strerror(errno));
                goto fail;
            }
            char line[4096];
            while (fgets(line, sizeof line, f)) {
                line[strcspn(line, "\r\n")] = '\0';
                if (line[0] && line[0] != '#' && add_path(&list, &n, &cap, line) != 0) {
                    fclose(f);
                    goto nomem;
                }
            }
            fclose(f);
        } else if (stat(a, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            DIR *d = opendir(a);
            if (!d) {
                cli_error(prog, "--content: cannot read directory '%s': %s", a, strerror(errno));
                goto fail;
            }
            int first = n;
            struct dirent *e;
            while ((e = readdir(d))) {
                if (e->d_name[0] == '.' || !has_image_ext(e->d_name))
                    continue;
                char p[4096];
                snprintf(p, sizeof p, "%s/%s", a, e->d_name);
                if (add_path(&list, &n, &cap, p) != 0) {
                    closedir(d);
                    goto nomem;
                }
            }
            closedir(d);
            qsort(list + first, (size_t)(n - first), sizeof *list, cmp_str);
        } else if (add_path(&list, &n, &cap, a) != 0) {
            goto nomem;
        }
    }
    *out = list;
    *nout = n;
    return 0;
nomem:
    cli_error(prog, "out of memory");
fail:
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
    return -1;
}

static void free_list(char **list, int n)
{
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* Loads an image, printing one line naming the flag and file on failure. */
static int load_image(stylize_image *img, const char *flag, const char *path)
{
    stylize_error e;
    if (stylize_image_load(img, path, &e) != STYLIZE_OK) {
        cli_error(prog, "%s: %s", flag, e.msg);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    cli_blas_autoselect(argv);
    stylize_run_config cfg;
    stylize_run_defaults(&cfg);
    const char *content_arg = NULL, *style_arg = NULL, *texture = NULL, *output = NULL;
    const char *output_dir = NULL, *weights_arg = NULL, *blend_arg = NULL, *init_arg = NULL;
    const char *content_layers = NULL, *style_layers = NULL, *scales_arg = NULL;
    const char *cmask_arg = NULL, *smask_arg = NULL;
    int quiet = 0, threads = 0, print_every = 10, beta_set = 0;
    int c;
    char *extra_contents[4096];
    int n_extra = 0;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:s:t:o:a:b:n:w:qhV", long_opts, NULL)) != -1) {
        double d;
        int v;
        switch (c) {
        case 'c': content_arg = optarg; break;
        case 's': style_arg = optarg; break;
        case 't': texture = optarg; break;
        case 'o': output = optarg; break;
        case OPT_OUTPUT_DIR: output_dir = optarg; break;
        case OPT_STYLE_BLEND: blend_arg = optarg; break;
        case OPT_REPORT: cfg.report_path = optarg; break;
        case OPT_PLOT: cfg.plot_path = optarg; break;
        case OPT_CONTENT_LAYERS: content_layers = optarg; break;
        case OPT_STYLE_LAYERS: style_layers = optarg; break;
        case OPT_SCALES: scales_arg = optarg; break;
        case OPT_INIT: init_arg = optarg; break;
        case OPT_CONTENT_MASK: cmask_arg = optarg; break;
        case OPT_MAX_MEMORY:
            if ((cfg.max_memory = parse_size(optarg)) == 0) {
                cli_error(prog, "--max-memory: '%s' is not a size such as 512M or 2G", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_STYLE_MASK: smask_arg = optarg; break;
        case 'w': weights_arg = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("stylize %s (OpenBLAS core %s)\n", STYLIZE_VERSION, stylize_blas_core()); return 0;
        case OPT_NORMGRAD: cfg.normalise_gradients = 1; break;
#define NUM(flag, lo, hi, dst)                                                              \
    if (cli_parse_double(optarg, lo, hi, &d) != 0) {                                        \
        cli_error(prog, "%s: '%s' is not a number in [%g, %g]", flag, optarg, (double)(lo), \
                  (double)(hi));                                                            \
        return EXIT_USAGE;                                                                  \
    }                                                                                       \
    dst = d;
#define INT(flag, lo, hi, dst)                                                                 \
    if (cli_parse_int(optarg, lo, hi, &v) != 0) {                                              \
        cli_error(prog, "%s: '%s' is not an integer in [%ld, %ld]", flag, optarg, (long)(lo),  \
                  (long)(hi));                                                                 \
        return EXIT_USAGE;                                                                     \
    }                                                                                          \
    dst = v;
        case 'a': NUM("--alpha", 0, 1e30, cfg.alpha); break;
        case 'b': NUM("--beta", 0, 1e30, cfg.beta); beta_set = 1; break;
        case OPT_TV: NUM("--tv", 0, 1e30, cfg.tv); break;
        case OPT_STYLE_SCALE: NUM("--style-scale", 0.01, 100, cfg.style_scale); break;
        case OPT_LR: NUM("--learning-rate", 1e-12, 1e6, cfg.learning_rate); break;
        case OPT_TOL: NUM("--tolerance", 0, 1, cfg.tol_change); break;
        case 'n': INT("--iterations", 0, 1000000, cfg.iterations); break;
        case OPT_SIZE: INT("--size", 16, STYLIZE_IMAGE_MAX_SIDE, cfg.size); break;
        case OPT_WIDTH: INT("--width", 16, STYLIZE_IMAGE_MAX_SIDE, cfg.width); break;
        case OPT_HEIGHT: INT("--height", 16, STYLIZE_IMAGE_MAX_SIDE, cfg.height); break;
        case OPT_JPEG_QUALITY: INT("--jpeg-quality", 1, 100, cfg.jpeg_quality); break;
        case OPT_SAVE_EVERY: INT("--save-every", 0, 1000000, cfg.save_every); break;
        case OPT_HISTORY: INT("--lbfgs-history", 1, 1000, cfg.lbfgs_history); break;
        case OPT_MAX_EVALS: INT("--max-evals", 0, 10000000, cfg.max_evaluations); break;
        case OPT_TILE_ROWS:
            if (strcmp(optarg, "auto") == 0) {
                cfg.tile_rows = STYLIZE_TILE_AUTO;
            } else {
                INT("--tile-rows", 0, STYLIZE_IMAGE_MAX_SIDE, cfg.tile_rows);
            }
            break;
        case OPT_THREADS: INT("--threads", 1, 1024, threads); break;
        case OPT_PRINT_EVERY: INT("--print-every", 1, 1000000, print_every); break;
        case OPT_SEED: {
            unsigned long long s;
            if (cli_parse_u64(optarg, &s) != 0) {
                cli_error(prog, "--seed: '%s' is not a non-negative integer", optarg);
                return EXIT_USAGE;
            }
            cfg.seed = s;
            break;
        }
        case OPT_POOL:
            if (strcmp(optarg, "avg") == 0)
                cfg.pool = STYLIZE_POOL_AVG;
            else if (strcmp(optarg, "max") == 0)
                cfg.pool = STYLIZE_POOL_MAX;
            else {
                cli_error(prog, "--pool: '%s' is not avg or max", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_OPTIMIZER:
            if (strcmp(optarg, "lbfgs") == 0)
                cfg.optimizer = STYLIZE_OPTIM_LBFGS;
            else if (strcmp(optarg, "adam") == 0)
                cfg.optimizer = STYLIZE_OPTIM_ADAM;
            else {
                cli_error(prog, "--optimizer: '%s' is not lbfgs or adam", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_COLORS:
            if (strcmp(optarg, "none") == 0)
                cfg.preserve_colours = STYLIZE_COLOURS_NONE;
            else if (strcmp(optarg, "luminance") == 0)
                cfg.preserve_colours = STYLIZE_COLOURS_LUMINANCE;
            else if (strcmp(optarg, "histogram") == 0)
                cfg.preserve_colours = STYLIZE_COLOURS_HISTOGRAM;
            else {
                cli_error(prog, "--preserve-colors: '%s' is not none, luminance or histogram", optarg);
                return EXIT_USAGE;
            }
            break;
        case ':':
            cli_error(prog, "option %s needs a value", argv[optind - 1]);
            return EXIT_USAGE;
        case '?':
        default:
            if (optopt)
                cli_error(prog, "unknown option '-%c' (see --help)", optopt);
            else
                cli_error(prog, "unknown option '%s' (see --help)", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
#undef NUM
#undef INT
    cfg.print_every = print_every;
    /* Positional arguments after --content are more contents (batch). */
    for (int i = optind; i < argc; i++) {
        if (!content_arg) {
            cli_error(prog, "unexpected argument '%s' (see --help)", argv[i]);
            return EXIT_USAGE;
        }
        if (n_extra >= (int)(sizeof extra_contents / sizeof extra_contents[0])) {
            cli_error(prog, "too many content arguments");
            return EXIT_USAGE;
        }
        extra_contents[n_extra++] = argv[i];
    }

    /* Mode checks. */
    if (texture && (content_arg || style_arg)) {
        cli_error(prog, "--texture cannot be combined with --content or --style");
        return EXIT_USAGE;
    }
    if (!texture && !(content_arg && style_arg)) {
        cli_error(prog, "give --content and --style, or --texture (see --help)");
        return EXIT_USAGE;
    }
    if (!texture && (cfg.width || cfg.height)) {
        cli_error(prog, "--width/--height apply to --texture only (use --size)");
        return EXIT_USAGE;
    }

    /* Loss layers. */
    stylize_error e;
    const char *cl = content_layers ? content_layers : "relu4_2";
    const char *sl = style_layers ? style_layers
                     : texture    ? "relu1_1:0.2,pool1:0.2,pool2:0.2,pool3:0.2,pool4:0.2"
                                  : "relu1_1:0.2,relu2_1:0.2,relu3_1:0.2,relu4_1:0.2,relu5_1:0.2";
    if (stylize_parse_layers(cl, cfg.content_layers, &cfg.n_content, &e) != STYLIZE_OK) {
        cli_error(prog, "--content-layers: %s", e.msg);
        return EXIT_USAGE;
    }
    if (stylize_parse_layers(sl, cfg.style_layers, &cfg.n_style, &e) != STYLIZE_OK) {
        cli_error(prog, "--style-layers: %s", e.msg);
        return EXIT_USAGE;
    }
    if (texture)
        cfg.n_content = 0;

    /* Styles and blend. */
    char style_buf[8192], blend_buf[1024];
    char *style_items[STYLIZE_MAX_STYLES + 1], *blend_items[STYLIZE_MAX_STYLES + 1];
    int n_style_items = 0;
    snprintf(style_buf, sizeof style_buf, "%s", texture ? texture : style_arg);
    n_style_items = split_list(style_buf, style_items, STYLIZE_MAX_STYLES);
    if (n_style_items <= 0) {
        cli_error(prog, "--style: give 1 to %d images separated by commas", STYLIZE_MAX_STYLES);
        return EXIT_USAGE;
    }
    if (blend_arg) {
        snprintf(blend_buf, sizeof blend_buf, "%s", blend_arg);
        int nb = split_list(blend_buf, blend_items, STYLIZE_MAX_STYLES);
        if (nb != n_style_items) {
            cli_error(prog, "--style-blend: %d weights for %d style images", nb, n_style_items);
            return EXIT_USAGE;
        }
        double sum = 0;
        for (int i = 0; i < nb; i++) {
            if (cli_parse_double(blend_items[i], 0, 1e30, &cfg.style_blend[i]) != 0) {
                cli_error(prog, "--style-blend: '%s' is not a number >= 0", blend_items[i]);
                return EXIT_USAGE;
            }
            sum += cfg.style_blend[i];
        }
        if (!(sum > 0)) {
            cli_error(prog, "--style-blend: the weights sum to zero");
            return EXIT_USAGE;
        }
    }

    /* Masks: one per style. */
    char cmask_buf[8192], smask_buf[8192];
    char *cmask_items[STYLIZE_MAX_STYLES + 1], *smask_items[STYLIZE_MAX_STYLES + 1];
    int n_cmask = 0, n_smask = 0;
    if (cmask_arg) {
        snprintf(cmask_buf, sizeof cmask_buf, "%s", cmask_arg);
        n_cmask = split_list(cmask_buf, cmask_items, STYLIZE_MAX_STYLES);
        if (texture || n_cmask != n_style_items) {
            cli_error(prog, "--content-mask: give one mask per style image (%d)", n_style_items);
            return EXIT_USAGE;
        }
    }
    if (smask_arg) {
        snprintf(smask_buf, sizeof smask_buf, "%s", smask_arg);
        n_smask = split_list(smask_buf, smask_items, STYLIZE_MAX_STYLES);
        if (!cmask_arg || n_smask != n_style_items) {
            cli_error(prog, "--style-mask: needs --content-mask and one mask per style image (%d)",
                      n_style_items);
            return EXIT_USAGE;
        }
    }

    /* Scales. */
    if (scales_arg) {
        int octaves;
        if (!strchr(scales_arg, ',') && cli_parse_int(scales_arg, 1, 8, &octaves) == 0) {
            cfg.n_scales = octaves;
            for (int k = 0; k < octaves; k++)
                cfg.scales[k] = cfg.size >> (octaves - 1 - k);
        } else {
            char sbuf[512];
            char *items[STYLIZE_MAX_SCALES + 1];
            snprintf(sbuf, sizeof sbuf, "%s", scales_arg);
            int ns = split_list(sbuf, items, STYLIZE_MAX_SCALES);
            if (ns <= 0) {
                cli_error(prog, "--scales: '%s' is not a list of sizes or a number of octaves", scales_arg);
                return EXIT_USAGE;
            }
            for (int k = 0; k < ns; k++) {
                /* SIZE or SIZE:ITERATIONS */
                char *colon = strchr(items[k], ':');
                if (colon) {
                    *colon = '\0';
                    if (cli_parse_int(colon + 1, 0, 1000000, &cfg.scale_iterations[k]) != 0) {
                        cli_error(prog, "--scales: bad iteration count '%s'", colon + 1);
                        return EXIT_USAGE;
                    }
                }
                if (cli_parse_int(items[k], 16, STYLIZE_IMAGE_MAX_SIDE, &cfg.scales[k]) != 0) {
                    cli_error(prog, "--scales: '%s' is not a size in [16, %d]", items[k], STYLIZE_IMAGE_MAX_SIDE);
                    return EXIT_USAGE;
                }
                if (k > 0 && cfg.scales[k] < cfg.scales[k - 1]) {
                    cli_error(prog, "--scales: sizes must not decrease");
                    return EXIT_USAGE;
                }
            }
            cfg.n_scales = ns;
            cfg.size = cfg.scales[ns - 1];
        }
    }

    /* Contents (batch when several). */
    char **contents = NULL;
    int n_contents = 0;
    if (content_arg) {
        char *args[4097];
        args[0] = (char *)content_arg;
        for (int i = 0; i < n_extra; i++)
            args[i + 1] = extra_contents[i];
        if (expand_contents(args, n_extra + 1, &contents, &n_contents) != 0)
            return EXIT_INPUT;
        if (n_contents == 0) {
            cli_error(prog, "--content: no images found in '%s'", content_arg);
            return EXIT_INPUT;
        }
    }
    int batch = n_contents > 1 || output_dir;
    if (batch && !output_dir) {
        cli_error(prog, "several contents need --output-dir");
        free_list(contents, n_contents);
        return EXIT_USAGE;
    }
    if (batch && output) {
        cli_error(prog, "give either --output or --output-dir, not both");
        free_list(contents, n_contents);
        return EXIT_USAGE;
    }
    if (!batch && !output)
        output = "out.png";
    if (output) {
        const char *dot = strrchr(output, '.');
        if (!dot || (strcasecmp(dot, ".png") && strcasecmp(dot, ".jpg") && strcasecmp(dot, ".jpeg"))) {
            cli_error(prog, "--output: '%s' must end in .png, .jpg or .jpeg", output);
            free_list(contents, n_contents);
            return EXIT_USAGE;
        }
        if (!output_dir_ok(output)) {
            cli_error(prog, "--output: directory of '%s' does not exist or is not writable", output);
            free_list(contents, n_contents);
            return EXIT_OUTPUT;
        }
    }
    if (output_dir) {
        struct stat sb;
        if (stat(output_dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || access(output_dir, W_OK) != 0) {
            cli_error(prog, "--output-dir: '%s' is not a writable directory", output_dir);
            free_list(contents, n_contents);
            return EXIT_OUTPUT;
        }
    }
    const char *outs_to_check[3] = {output, cfg.report_path, cfg.plot_path};
    for (int k = 0; k < 3; k++) {
        const char *o = outs_to_check[k];
        if (!o)
            continue;
        int clash = texture && same_file(o, texture);
        for (int i = 0; i < n_contents && !clash; i++)
            clash = same_file(o, contents[i]);
        for (int i = 0; i < n_style_items && !clash; i++)
            clash = same_file(o, style_items[i]);
        if (clash) {
            cli_error(prog, "output '%s' is one of the inputs: refusing to overwrite it", o);
            free_list(contents, n_contents);
            return EXIT_USAGE;
        }
        if (k > 0 && !output_dir_ok(o)) {
            cli_error(prog, "%s: directory of '%s' does not exist or is not writable",
                      k == 1 ? "--report" : "--plot", o);
            free_list(contents, n_contents);
            return EXIT_OUTPUT;
        }
    }

    /* Weights. */
    int rc = 0;
    stylize_weights *weights = NULL;
    char wbuf[4096];
    const char *wpath = find_weights(weights_arg, wbuf, sizeof wbuf);
    if (wpath && strncmp(wpath, "random", 6) == 0 && (wpath[6] == '\0' || wpath[6] == ':')) {
        unsigned long long wseed = 0;
        if (wpath[6] == ':' && cli_parse_u64(wpath + 7, &wseed) != 0) {
            cli_error(prog, "--weights: bad seed in '%s' (random[:SEED])", wpath);
            free_list(contents, n_contents);
            return EXIT_USAGE;
        }
        if (stylize_weights_random(&weights, wseed, 1, &e) != STYLIZE_OK) {
            cli_error(prog, "--weights: %s", e.msg);
            free_list(contents, n_contents);
            return EXIT_WEIGHTS;
        }
        cfg.random_features = 1;
        if (!quiet)
            fprintf(stderr, "%s: using random VGG-19 features (lower quality; get real weights with scripts/get-weights.sh)\n", prog);
    } else if (!wpath) {
        cli_error(prog, "no VGG-19 weights found (--weights, $STYLIZE_WEIGHTS, ./weights/vgg19.json, "
                        "%s/vgg19.json); get them with: scripts/get-weights.sh (or try --weights random)",
                  STYLIZE_DATADIR_STR);
        free_list(contents, n_contents);
        return EXIT_WEIGHTS;
    } else if (stylize_weights_load(&weights, wpath, &e) != STYLIZE_OK) {
        cli_error(prog, "--weights: %s", e.msg);
        free_list(contents, n_contents);
        return EXIT_WEIGHTS;
    }
    {
        /* only the convolutions up to the deepest loss layer stay in memory */
        int deepest = -1;
        for (int i = 0; i < cfg.n_content; i++)
            deepest = cfg.content_layers[i].layer > deepest ? cfg.content_layers[i].layer : deepest;
        for (int i = 0; i < cfg.n_style; i++)
            deepest = cfg.style_layers[i].layer > deepest ? cfg.style_layers[i].layer : deepest;
        stylize_weights_trim(weights, stylize_vgg19_convs_needed(deepest));
    }
    cfg.weights = weights;
    if (cfg.max_memory == 0)
        cfg.max_memory = available_memory();
    {
        const char *inj = getenv("STYLIZE_TEST_INJECT_NAN");
        int at;
        if (inj && cli_parse_int(inj, 1, 1000000000, &at) == 0)
            stylize_testing_inject_nan(at);
    }
    if (!beta_set)
        cfg.beta = cfg.random_features ? 10.0 : stylize_default_beta(&weights->input);
    if (threads > 0)
        stylize_set_threads(threads);

    /* Images shared by every content. */
    stylize_image styles[STYLIZE_MAX_STYLES], init_img = {0};
    stylize_image cmasks[STYLIZE_MAX_STYLES], smasks[STYLIZE_MAX_STYLES];
    int n_loaded = 0, n_cm_loaded = 0, n_sm_loaded = 0;
    memset(styles, 0, sizeof styles);
    memset(cmasks, 0, sizeof cmasks);
    memset(smasks, 0, sizeof smasks);
    for (int i = 0; i < n_cmask; i++) {
        if (load_image(&cmasks[i], "--content-mask", cmask_items[i]) != 0) {
            rc = EXIT_INPUT;
            goto out;
        }
        n_cm_loaded = i + 1;
        cfg.content_masks[i] = &cmasks[i];
    }
    for (int i = 0; i < n_smask; i++) {
        if (load_image(&smasks[i], "--style-mask", smask_items[i]) != 0) {
            rc = EXIT_INPUT;
            goto out;
        }
        n_sm_loaded = i + 1;
        cfg.style_masks[i] = &smasks[i];
    }
    for (int i = 0; i < n_style_items; i++) {
        if (load_image(&styles[i], texture ? "--texture" : "--style", style_items[i]) != 0) {
            rc = EXIT_INPUT;
            goto out;
        }
        n_loaded = i + 1;
        cfg.styles[i] = &styles[i];
    }
    cfg.n_styles = n_style_items;
    if (init_arg) {
        if (strcmp(init_arg, "content") == 0)
            cfg.init = STYLIZE_INIT_CONTENT;
        else if (strcmp(init_arg, "noise") == 0)
            cfg.init = STYLIZE_INIT_NOISE;
        else if (strcmp(init_arg, "style") == 0)
            cfg.init = STYLIZE_INIT_STYLE;
        else {
            if (load_image(&init_img, "--init", init_arg) != 0) {
                rc = EXIT_INPUT;
                goto out;
            }
            cfg.init = STYLIZE_INIT_IMAGE;
            cfg.init_image = &init_img;
        }
    } else if (texture) {
        cfg.init = STYLIZE_INIT_NOISE;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    cfg.stop_flag = &g_stop;

    cli_log_ctx lctx = {prog, quiet ? STYLIZE_LOG_ERROR : STYLIZE_LOG_INFO};
    cfg.log.fn = cli_log;
    cfg.log.user = &lctx;
    progress_ctx pc = {quiet, isatty(2), print_every, 0, ""};

    int n_jobs = texture ? 1 : n_contents, failures = 0;
    stylize_style_cache *cache = NULL;
    if (n_jobs > 1 && stylize_style_cache_create(&cache, &e) == STYLIZE_OK)
        cfg.style_cache = cache; /* the styles' targets are computed once for the batch */
    for (int j = 0; j < n_jobs && !g_stop; j++) {
        stylize_image content = {0};
        char outbuf[4096], label[256];
        const char *out_path = output;
        if (!texture) {
            if (load_image(&content, "--content", contents[j]) != 0) {
                failures++;
                rc = EXIT_INPUT;
                continue;
            }
            cfg.content = &content;
        }
        if (batch) {
            const char *base = strrchr(contents[j], '/');
            base = base ? base + 1 : contents[j];
            const char *dot = strrchr(base, '.');
            int len = dot ? (int)(dot - base) : (int)strlen(base);
            snprintf(outbuf, sizeof outbuf, "%s/%.*s.png", output_dir, len, base);
            out_path = outbuf;
            snprintf(label, sizeof label, "[%d/%d %.*s] ", j + 1, n_jobs, len, base);
            pc.label = label;
        }
        cfg.output_path = out_path;
        stylize_run_result res;
        stylize_status st = stylize_run(&cfg, print_progress, &pc, &res, &e);
        stylize_image_free(&content);
        if (st != STYLIZE_OK) {
            if (pc.tty && !quiet)
                fputc('\n', stderr);
            int code = exit_for_status(st, 0);
            if (st == STYLIZE_ERR_INTERRUPTED)
                cli_error(prog, "%s: wrote the best image so far to %s",
                          g_stop == SIGTERM ? "terminated" : "interrupted", out_path);
            else if (st == STYLIZE_ERR_NUMERIC && res.width > 0)
                cli_error(prog, "%s%s%s; wrote the last good image to %s", batch ? contents[j] : "",
                          batch ? ": " : "", e.msg, out_path);
            else
                cli_error(prog, "%s%s%s", batch ? contents[j] : "", batch ? ": " : "", e.msg);
            rc = code;
            failures++;
            if (st == STYLIZE_ERR_INTERRUPTED)
                break;
            continue;
        }
        if (!quiet)
            fprintf(stderr, "%swrote %s (%dx%d): %d iterations, %d evaluations, loss %.6e -> %.6e, %.1fs\n",
                    pc.label, out_path, res.width, res.height, res.iterations, res.evaluations,
                    res.loss_initial, res.loss_final, res.seconds);
    }
    if (batch && failures > 0 && !g_stop) {
        cli_error(prog, "%d of %d contents failed", failures, n_jobs);
        rc = EXIT_PARTIAL;
    }
    stylize_style_cache_free(cache);
out:
    for (int i = 0; i < n_loaded; i++)
        stylize_image_free(&styles[i]);
    for (int i = 0; i < n_cm_loaded; i++)
        stylize_image_free(&cmasks[i]);
    for (int i = 0; i < n_sm_loaded; i++)
        stylize_image_free(&smasks[i]);
    stylize_image_free(&init_img);
    stylize_weights_free(weights);
    free_list(contents, n_contents);
    return rc;
}

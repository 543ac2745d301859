/* The stylize command's flag table, and the --help text and getopt_long
 * arguments generated from it. */
#include "stylize_flags.h"

#include "cli_common.h"

#include <string.h>

#define S_IO FLAG_SECTION_IO
#define S_SIZES FLAG_SECTION_SIZES
#define S_LOSSES FLAG_SECTION_LOSSES
#define S_PHOTO FLAG_SECTION_PHOTO
#define S_OPTIM FLAG_SECTION_OPTIM
#define S_WEIGHTS FLAG_SECTION_WEIGHTS
#define S_OTHER FLAG_SECTION_OTHER
#define VAL required_argument
#define NOVAL no_argument

/* Within a section, --help lists the flags in this order. An alias follows
 * its flag (an abbreviation such as --normal then resolves to the flag). */
const stylize_flag stylize_flags[] = {
    /* name, short, value?, id, section, listing, value's name, help */
    {"content", 'c', VAL, FLAG_CONTENT, S_IO, FLAG_LISTED, "FILE...",
     "content image(s); more than one, a directory or @LIST runs a batch"},
    {"style", 's', VAL, FLAG_STYLE, S_IO, FLAG_LISTED, "FILE[,FILE]", "style image(s)"},
    {"style-blend", 0, VAL, FLAG_STYLE_BLEND, S_IO, FLAG_LISTED, "W[,W]",
     "weights of the style images (normalised to sum 1; default equal)"},
    {"texture", 't', VAL, FLAG_TEXTURE, S_IO, FLAG_LISTED, "FILE",
     "texture synthesis from this source (style loss only, from noise)"},
    {"output", 'o', VAL, FLAG_OUTPUT, S_IO, FLAG_LISTED, "FILE",
     "output image, .png or .jpg (default out.png)"},
    {"output-dir", 0, VAL, FLAG_OUTPUT_DIR, S_IO, FLAG_LISTED, "DIR",
     "one output per content (or texture source), DIR/<name>.png"},
    {"jpeg-quality", 0, VAL, FLAG_JPEG_QUALITY, S_IO, FLAG_LISTED, "N", "1..100 (default 95)"},
    {"report", 0, VAL, FLAG_REPORT, S_IO, FLAG_LISTED, "FILE.json",
     "write a JSON report (settings, losses per layer, history)"},
    {"plot", 0, VAL, FLAG_PLOT, S_IO, FLAG_LISTED, "FILE.svg",
     "write the loss curves as an SVG plot"},
    {"save-every", 0, VAL, FLAG_SAVE_EVERY, S_IO, FLAG_LISTED, "N",
     "write OUTPUT_NNNN.png every N iterations (default 0: off)"},

    {"size", 0, VAL, FLAG_SIZE, S_SIZES, FLAG_LISTED, "N", "longest side of the output (default 512)"},
    {"width", 0, VAL, FLAG_WIDTH, S_SIZES, FLAG_LISTED, "N",
     "texture output size (default: the source's at --size)"},
    {"height", 0, VAL, FLAG_HEIGHT, S_SIZES, FLAG_SAME_LINE, "N", NULL},
    {"style-scale", 0, VAL, FLAG_STYLE_SCALE, S_SIZES, FLAG_LISTED, "F",
     "style image size relative to the output (default 1.0)"},
    {"scales", 0, VAL, FLAG_SCALES, S_SIZES, FLAG_LISTED, "LIST|N",
     "coarse to fine: longest sides, e.g. 256,512, or N octaves up to --size"},

    {"alpha", 'a', VAL, FLAG_ALPHA, S_LOSSES, FLAG_LISTED, "F", "content weight (default 1)"},
    {"beta", 'b', VAL, FLAG_BETA, S_LOSSES, FLAG_LISTED, "F",
     "style weight (default 1000 x (255/s)^2 for a network whose\n"
     "inputs have scale s: 1000 for Caffe weights, about 3.3e6\n"
     "for torchvision's; 10 with --weights random)"},
    {"tv", 0, VAL, FLAG_TV, S_LOSSES, FLAG_LISTED, "F", "total-variation weight (default 0)"},
    {"content-layers", 0, VAL, FLAG_CONTENT_LAYERS, S_LOSSES, FLAG_LISTED, "L", "default relu4_2"},
    {"style-layers", 0, VAL, FLAG_STYLE_LAYERS, S_LOSSES, FLAG_LISTED, "L",
     "default relu1_1,relu2_1,relu3_1,relu4_1,relu5_1 (each 0.2);\n"
     "texture default relu1_1,pool1,pool2,pool3,pool4 (each 0.2)\n"
     "layer lists: name[:weight],... names conv1_1..conv5_4,\n"
     "relu1_1..relu5_4, pool1..pool5"},
    {"pool", 0, VAL, FLAG_POOL, S_LOSSES, FLAG_LISTED, "avg|max",
     "pooling (default avg, as in the paper)"},
    {"normalize-gradients", 0, NOVAL, FLAG_NORMALISE_GRADIENTS, S_LOSSES, FLAG_LISTED, NULL,
     "scale each layer's gradient to unit L1 norm (as neural-style)"},
    {"normalise-gradients", 0, NOVAL, FLAG_NORMALISE_GRADIENTS, S_LOSSES, FLAG_ALIAS, NULL, NULL},
    {"preserve-colors", 0, VAL, FLAG_PRESERVE_COLOURS, S_LOSSES, FLAG_LISTED, "MODE",
     "none|luminance|histogram (default none)"},
    {"preserve-colours", 0, VAL, FLAG_PRESERVE_COLOURS, S_LOSSES, FLAG_ALIAS, "MODE", NULL},
    {"content-mask", 0, VAL, FLAG_CONTENT_MASK, S_LOSSES, FLAG_LISTED, "M[,M]",
     "spatial control: one grey mask per style over the output;\n"
     "style k applies where mask k is white"},
    {"style-mask", 0, VAL, FLAG_STYLE_MASK, S_LOSSES, FLAG_LISTED, "M[,M]",
     "one grey mask per style image: the part of it to use"},

    {"photo", 0, NOVAL, FLAG_PHOTO, S_PHOTO, FLAG_LISTED, NULL,
     "Deep Photo Style Transfer's two stages: the style transfer,\n"
     "then --photo-iterations more with the photorealism term;\n"
     "the reference's weights translated (README); flags override"},
    {"photorealism", 0, VAL, FLAG_PHOTOREALISM, S_PHOTO, FLAG_LISTED, "LAMBDA",
     "weight of the Matting Laplacian term (default 0: off;\n"
     "1e4 with --photo, 1 with --photo and --weights random)"},
    {"photo-iterations", 0, VAL, FLAG_PHOTO_ITERATIONS, S_PHOTO, FLAG_LISTED, "N",
     "a second stage of N iterations with the term, from the\n"
     "first stage's result (default 0; --iterations with --photo)"},
    {"content-seg", 0, VAL, FLAG_CONTENT_SEG, S_PHOTO, FLAG_LISTED, "FILE",
     "colour-coded segmentation of the content (nine colours)"},
    {"style-seg", 0, VAL, FLAG_STYLE_SEG, S_PHOTO, FLAG_LISTED, "FILE",
     "colour-coded segmentation of the style image"},
    {"smooth", 0, VAL, FLAG_SMOOTH, S_PHOTO, FLAG_LISTED, "KIND",
     "none|guided|affine: filter the result with the content as\n"
     "guide (default none)"},
    {"smooth-radius", 0, VAL, FLAG_SMOOTH_RADIUS, S_PHOTO, FLAG_LISTED, "N",
     "the filter's radius (default 7)"},
    {"smooth-edge", 0, VAL, FLAG_SMOOTH_EDGE, S_PHOTO, FLAG_LISTED, "F",
     "edge sensitivity: affine's colour sigma, guided's sqrt(eps)\n"
     "(default 0.05)"},

    {"iterations", 'n', VAL, FLAG_ITERATIONS, S_OPTIM, FLAG_LISTED, "N",
     "iterations per scale (default 500; 0: evaluate and write the init)"},
    {"init", 0, VAL, FLAG_INIT, S_OPTIM, FLAG_LISTED, "KIND",
     "content|noise|style|FILE (default content; texture: noise)"},
    {"seed", 0, VAL, FLAG_SEED, S_OPTIM, FLAG_LISTED, "N", "noise seed (default 0)"},
    {"optimizer", 0, VAL, FLAG_OPTIMIZER, S_OPTIM, FLAG_LISTED, "NAME", "lbfgs|adam (default lbfgs)"},
    {"learning-rate", 0, VAL, FLAG_LEARNING_RATE, S_OPTIM, FLAG_LISTED, "F",
     "Adam step size (default 1.0)"},
    {"lbfgs-history", 0, VAL, FLAG_LBFGS_HISTORY, S_OPTIM, FLAG_LISTED, "M",
     "L-BFGS memory (default 10)"},
    {"max-evals", 0, VAL, FLAG_MAX_EVALS, S_OPTIM, FLAG_LISTED, "N",
     "L-BFGS: also stop after N evaluations per scale (default 0: no limit)"},
    {"tolerance", 0, VAL, FLAG_TOLERANCE, S_OPTIM, FLAG_LISTED, "F",
     "stop when the relative loss change is below F (default 1e-7)"},

    {"weights", 'w', VAL, FLAG_WEIGHTS, S_WEIGHTS, FLAG_LISTED, "FILE|random[:SEED[:D]]",
     "native manifest (.json); default: $STYLIZE_WEIGHTS, then\n"
     "./weights/vgg19.json, then " STYLIZE_DATADIR_STR "/vgg19.json.\n"
     "random: untrained He-initialised VGG-19 in memory, a lower\n"
     "quality mode for trying the tool without a download"},

    {"threads", 0, VAL, FLAG_THREADS, S_OTHER, FLAG_LISTED, "N", "threads (default: all cores)"},
    {"precision", 0, VAL, FLAG_PRECISION, S_OTHER, FLAG_LISTED, "fp32|bf16|auto", CLI_PRECISION_HELP("fp32, as L-BFGS needs it")},
    {"max-memory", 0, VAL, FLAG_MAX_MEMORY, S_OTHER, FLAG_LISTED, "SIZE",
     "refuse runs estimated to need more, e.g. 2G, 512M\n"
     "(default: the machine's available memory)"},
    {"tile-rows", 0, VAL, FLAG_TILE_ROWS, S_OTHER, FLAG_LISTED, "N|auto",
     "run the network over strips of N image rows (exact: each\n"
     "strip has a halo); memory then grows with the strip, not\n"
     "the image. 0: never; auto (default): only when the whole\n"
     "image would not fit in --max-memory"},
    {"dry-run", 0, NOVAL, FLAG_DRY_RUN, S_OTHER, FLAG_LISTED, NULL,
     "print the output size, the estimated peak memory and the\n"
     "strips a run would use, then exit without running"},
    {"print-every", 0, VAL, FLAG_PRINT_EVERY, S_OTHER, FLAG_LISTED, "N",
     "progress line every N iterations when not on a terminal (default 10)"},
    {"quiet", 'q', NOVAL, FLAG_QUIET, S_OTHER, FLAG_LISTED, NULL, "print nothing but errors"},
    {"help", 'h', NOVAL, FLAG_HELP, S_OTHER, FLAG_LISTED, NULL, "this help"},
    {"version", 'V', NOVAL, FLAG_VERSION, S_OTHER, FLAG_LISTED, NULL, "version"},
};

const int stylize_n_flags = (int)(sizeof stylize_flags / sizeof stylize_flags[0]);
_Static_assert(sizeof stylize_flags / sizeof stylize_flags[0] <= STYLIZE_FLAGS_MAX,
               "raise STYLIZE_FLAGS_MAX");

static const char *const section_titles[FLAG_N_SECTIONS] = {
    [FLAG_SECTION_IO] = "Inputs and outputs", [FLAG_SECTION_SIZES] = "Sizes",
    [FLAG_SECTION_LOSSES] = "Losses",         [FLAG_SECTION_PHOTO] = "Photorealistic transfer",
    [FLAG_SECTION_OPTIM] = "Optimisation",
    [FLAG_SECTION_WEIGHTS] = "Weights",       [FLAG_SECTION_OTHER] = "Other",
};

static const char help_head[] =
    "Usage: stylize --content IMAGE --style IMAGE[,IMAGE...] [options] -o OUTPUT\n"
    "       stylize --texture IMAGE [options] -o OUTPUT\n"
    "       stylize --style IMAGE --content A B C ... --output-dir DIR   (batch)\n"
    "\n"
    "Paints the content image in the style of the style image(s), or synthesises a\n"
    "texture, by optimising the pixels with L-BFGS against VGG-19 features\n"
    "(Gatys, Ecker and Bethge 2015):\n"
    "  L = alpha * 1/2 sum (F - P)^2 + beta * sum_l w_l/(4 N_l^2 M_l^2) sum (G_l - A_l)^2 + tv * TV\n"
    "\n"
    "Feed-forward (Ulyanov et al. 2016, Texture Networks): train a generator once, then\n"
    "paint in one pass (see stylize train --help, stylize apply --help):\n"
    "       stylize train --texture IMAGE | --style IMAGE --content-dir DIR  -o MODEL.tnet\n"
    "       stylize apply --model MODEL.tnet [--content IMAGE...] -o OUTPUT | --output-dir DIR\n"
    "       stylize info MODEL.tnet\n"
    "\n";

static const char help_tail[] =
    "Exit codes: 0 ok, 1 internal error, 2 usage, 3 bad input image, 4 weights,\n"
    "5 output not writable, 6 memory, 7 numerical failure, 8 batch with failures,\n"
    "130 interrupted (SIGINT), 143 terminated (SIGTERM).\n";

/* Layout of a flag's --help item: "  -c, --content FILE...      text", the
 * text at column HELP_COLUMN, on the next line when fewer than three spaces
 * would separate it from the flag (scripts/man.sh splits at three). */
enum { HELP_COLUMN = 29 };

/* Appends "--name VALUE" to term. */
static void append_flag_name(char *term, size_t cap, const stylize_flag *f)
{
    size_t len = strlen(term);
    snprintf(term + len, cap - len, "--%s%s%s", f->name, f->value ? " " : "", f->value ? f->value : "");
}

/* The flag column of item i: "-c, --content FILE...", or "    --width N,
 * --height N" for an item with flags listed on its line. */
static void help_term(int i, char *term, size_t cap)
{
    const stylize_flag *f = &stylize_flags[i];
    if (f->short_name)
        snprintf(term, cap, "-%c, ", f->short_name);
    else
        snprintf(term, cap, "    ");
    append_flag_name(term, cap, f);
    for (int k = i + 1; k < stylize_n_flags && stylize_flags[k].listing == FLAG_SAME_LINE; k++) {
        size_t len = strlen(term);
        snprintf(term + len, cap - len, ", ");
        append_flag_name(term, cap, &stylize_flags[k]);
    }
}

/* Prints item i: its flag column, its help lines, then "(also --ALIAS)". */
static void help_item(FILE *f, int i)
{
    const stylize_flag *flag = &stylize_flags[i];
    char term[128];
    help_term(i, term, sizeof term);
    int width = 2 + (int)strlen(term);
    fprintf(f, "  %s", term);
    if (width + 3 > HELP_COLUMN) {
        fputc('\n', f);
        width = 0;
    }
    for (const char *line = flag->help; *line;) {
        size_t len = strcspn(line, "\n");
        fprintf(f, "%*s%.*s\n", HELP_COLUMN - width, "", (int)len, line);
        width = 0;
        line += len + (line[len] == '\n');
    }
    for (int k = 0; k < stylize_n_flags; k++)
        if (stylize_flags[k].listing == FLAG_ALIAS && stylize_flags[k].id == flag->id)
            fprintf(f, "%*s(also --%s)\n", HELP_COLUMN, "", stylize_flags[k].name);
}

void stylize_flags_help(FILE *f)
{
    fputs(help_head, f);
    for (int s = 0; s < FLAG_N_SECTIONS; s++) {
        fprintf(f, "%s:\n", section_titles[s]);
        for (int i = 0; i < stylize_n_flags; i++)
            if (stylize_flags[i].section == (flag_section)s && stylize_flags[i].listing == FLAG_LISTED)
                help_item(f, i);
        fputc('\n', f);
    }
    fputs(help_tail, f);
}

/* The code getopt_long returns for a flag: its short letter if it has one
 * (the short and long forms are then the same code), else 256 + its id
 * (shared by its aliases, so that an abbreviation matching both a flag and
 * its alias is not ambiguous). */
static int flag_code(const stylize_flag *f)
{
    const stylize_flag *first = stylize_flag_for_code(256 + (int)f->id);
    return first && first->short_name ? first->short_name : 256 + (int)f->id;
}

const stylize_flag *stylize_flag_for_code(int code)
{
    for (int i = 0; i < stylize_n_flags; i++) {
        const stylize_flag *f = &stylize_flags[i];
        if (code >= 256 ? (int)f->id == code - 256 : (f->short_name && f->short_name == code))
            return f;
    }
    return NULL;
}

void stylize_flags_getopt(stylize_getopt_args *args)
{
    /* ':' first: a missing value comes back as ':' instead of '?' */
    size_t n = 0;
    args->shortopts[n++] = ':';
    for (int i = 0; i < stylize_n_flags; i++) {
        const stylize_flag *f = &stylize_flags[i];
        args->longopts[i] = (struct option){f->name, f->has_arg, NULL, flag_code(f)};
        if (f->short_name) {
            args->shortopts[n++] = f->short_name;
            if (f->has_arg == required_argument)
                args->shortopts[n++] = ':';
        }
    }
    args->longopts[stylize_n_flags] = (struct option){NULL, 0, NULL, 0};
    args->shortopts[n] = '\0';
}

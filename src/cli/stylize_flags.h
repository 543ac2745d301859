/* The flags of the stylize command, in one table: each long option once,
 * with its short letter, whether it takes a value, its --help section and
 * text. `stylize --help` and getopt_long's option array are both generated
 * from the table; what each flag does is in stylize_options.c. */
#ifndef STYLIZE_CLI_FLAGS_H
#define STYLIZE_CLI_FLAGS_H

#include <getopt.h>
#include <stdio.h>

#define STYLIZE_PROG "stylize"

/* --help sections, in the order printed. */
typedef enum {
    FLAG_SECTION_IO,      /* Inputs and outputs */
    FLAG_SECTION_SIZES,
    FLAG_SECTION_LOSSES,
    FLAG_SECTION_PHOTO,   /* Photorealistic transfer */
    FLAG_SECTION_OPTIM,   /* Optimisation */
    FLAG_SECTION_WEIGHTS,
    FLAG_SECTION_OTHER,
    FLAG_N_SECTIONS
} flag_section;

/* What a flag does; an alias has the id of the flag it aliases. */
typedef enum {
    FLAG_CONTENT, FLAG_STYLE, FLAG_STYLE_BLEND, FLAG_TEXTURE, FLAG_OUTPUT, FLAG_OUTPUT_DIR,
    FLAG_JPEG_QUALITY, FLAG_REPORT, FLAG_PLOT, FLAG_SAVE_EVERY,
    FLAG_SIZE, FLAG_WIDTH, FLAG_HEIGHT, FLAG_STYLE_SCALE, FLAG_SCALES,
    FLAG_ALPHA, FLAG_BETA, FLAG_TV, FLAG_CONTENT_LAYERS, FLAG_STYLE_LAYERS, FLAG_POOL,
    FLAG_NORMALISE_GRADIENTS, FLAG_PRESERVE_COLOURS, FLAG_CONTENT_MASK, FLAG_STYLE_MASK,
    FLAG_PHOTO, FLAG_PHOTOREALISM, FLAG_PHOTO_ITERATIONS, FLAG_CONTENT_SEG, FLAG_STYLE_SEG, FLAG_SMOOTH,
    FLAG_SMOOTH_RADIUS, FLAG_SMOOTH_EDGE,
    FLAG_ITERATIONS, FLAG_INIT, FLAG_SEED, FLAG_OPTIMIZER, FLAG_LEARNING_RATE,
    FLAG_LBFGS_HISTORY, FLAG_MAX_EVALS, FLAG_TOLERANCE,
    FLAG_WEIGHTS,
    FLAG_THREADS, FLAG_PRECISION, FLAG_MAX_MEMORY, FLAG_TILE_ROWS, FLAG_DRY_RUN, FLAG_PRINT_EVERY, FLAG_QUIET, FLAG_HELP,
    FLAG_VERSION
} flag_id;

/* How a flag appears in --help. */
typedef enum {
    FLAG_LISTED,    /* a line of its own */
    FLAG_SAME_LINE, /* on the line of the flag before it ("--width N, --height N") */
    FLAG_ALIAS      /* another spelling: its flag's help says "(also --NAME)" */
} flag_listing;

typedef struct {
    const char *name;     /* long name, without the dashes */
    char short_name;      /* one-letter form, or 0 */
    int has_arg;          /* no_argument or required_argument */
    flag_id id;
    flag_section section;
    flag_listing listing;
    const char *value;    /* the value's name in --help ("FILE"); NULL for switches */
    const char *help;     /* --help text; each '\n' starts a continuation line */
} stylize_flag;

extern const stylize_flag stylize_flags[];
extern const int stylize_n_flags;

/* Prints the --help text: usage, the flags by section, the exit codes. */
void stylize_flags_help(FILE *f);

/* getopt_long's arguments, built from the table (stylize_flags_getopt).
 * The option at index i of longopts is stylize_flags[i]. */
enum { STYLIZE_FLAGS_MAX = 64 };
typedef struct {
    struct option longopts[STYLIZE_FLAGS_MAX + 1];
    char shortopts[2 * STYLIZE_FLAGS_MAX + 2];
} stylize_getopt_args;
void stylize_flags_getopt(stylize_getopt_args *args);

/* The flag (the first of its spellings) behind a code that getopt_long
 * returned, or NULL if the code is none of the table's. */
const stylize_flag *stylize_flag_for_code(int code);

#endif

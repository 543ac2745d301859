/* What the stylize command's flags say: the run configuration for the
 * library and the command's own settings, parsed and validated from argv
 * (the flags themselves are listed in stylize_flags.c). */
#ifndef STYLIZE_CLI_OPTIONS_H
#define STYLIZE_CLI_OPTIONS_H

#include "stylize/run/run.h"

/* A stage's result: go on to the next stage, or else an exit code. */
enum { CLI_GO_ON = -1 };

/* At most this many content paths after --content's own (batch). */
enum { CLI_MAX_EXTRA_CONTENTS = 4096 };

typedef struct {
    stylize_run_config cfg; /* the flags that the library reads directly */
    /* Flag values that later stages interpret (NULL: not given); they
     * point into argv. */
    const char *content, *style, *texture, *output, *output_dir, *weights;
    const char *style_blend, *init, *content_layers, *style_layers, *scales;
    const char *content_mask, *style_mask;
    const char *content_seg, *style_seg;
    int photo;             /* --photo: the two-stage preset */
    unsigned photo_keep;   /* STYLIZE_PHOTO_KEEP_*: the flags given, which the preset keeps */
    int photo_iterations_set;
    int quiet, threads, print_every;
    int dry_run;           /* --dry-run: print the plan, run nothing */
    int beta_set;          /* --beta given: no default from the weights */
    char **extra_contents; /* positional arguments: more contents (argv) */
    int n_extra;
} cli_options;

/* Fills o from the defaults and argv, validating every value. Returns
 * CLI_GO_ON, or the exit code to end with: 0 after --help or --version
 * (printed to stdout), EXIT_USAGE after printing the error line. */
int cli_parse_options(int argc, char **argv, cli_options *o);

#endif

/* The generator subcommands of stylize: `stylize train`, `stylize apply`
 * and `stylize info` (train_main.c, apply_main.c, info_main.c), and their
 * small flag parser (gen_flags.c). */
#ifndef STYLIZE_GEN_CLI_H
#define STYLIZE_GEN_CLI_H

#include "cli_common.h"
#include "stylize/stylize.h"

#define GEN_GO_ON (-1)
#define GEN_MAX_POSITIONAL 4096

typedef struct {
    const char *name;  /* without "--" */
    char short_name;   /* 0: none */
    int takes_value;
    const char *metavar;
    const char *help;  /* NULL: an alias, not listed */
} gen_flag;

typedef struct {
    const char *value[64];  /* by flag index: the value given (or "" for a switch), NULL if absent */
    char *positional[GEN_MAX_POSITIONAL];
    int n_positional;
} gen_args;

/* Parses argv[1..] (argv[0] is the subcommand) against the table (n flags,
 * at most 64): "--name VALUE", "--name=VALUE", "-x VALUE", switches, other
 * words positional. A repeated flag keeps its last value. Returns GEN_GO_ON,
 * 0 after printing help for --help, or EXIT_USAGE after one error line. */
int gen_parse(const char *cmd, const char *usage, const gen_flag *flags, int n, int argc, char **argv,
              gen_args *a);
/* The index of the flag named name in the table (the parse's index). */
int gen_flag_index(const gen_flag *flags, int n, const char *name);
/* Typed values of flag `name` (absent: *out unchanged). GEN_GO_ON or
 * EXIT_USAGE after "stylize CMD: --name: 'v' is not ...". */
int gen_int(const char *cmd, const gen_flag *flags, int n, const gen_args *a, const char *name, long lo,
            long hi, int *out);
int gen_double(const char *cmd, const gen_flag *flags, int n, const gen_args *a, const char *name,
               double lo, double hi, double *out);
const char *gen_str(const gen_flag *flags, int n, const gen_args *a, const char *name);

int stylize_train_main(int argc, char **argv);
int stylize_apply_main(int argc, char **argv);
int stylize_info_main(int argc, char **argv);

#endif

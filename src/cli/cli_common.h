/* Shared by the stylize and stylize-weights executables: exit codes, the
 * log callback that prints to stderr, and strict numeric flag parsing. */
#ifndef STYLIZE_CLI_COMMON_H
#define STYLIZE_CLI_COMMON_H

#include <stdio.h>
#include "stylize/core/status.h"

/* Documented exit codes (README "Exit codes"). */
enum {
    EXIT_OK_ = 0,
    EXIT_FAILURE_ = 1,    /* generic failure (internal error) */
    EXIT_USAGE = 2,       /* bad flag, missing value, bad value */
    EXIT_INPUT = 3,       /* an input file is missing, unreadable or malformed */
    EXIT_WEIGHTS = 4,     /* weights missing or invalid */
    EXIT_OUTPUT = 5,      /* output cannot be written */
    EXIT_MEMORY = 6,      /* out of memory or over --max-memory */
    EXIT_NUMERIC = 7,     /* NaN/Inf during optimisation */
    EXIT_PARTIAL = 8,     /* batch: some inputs failed */
    EXIT_SIGTERM = 143,   /* stopped by SIGTERM (128 + 15) */
    EXIT_SIGINT = 130     /* stopped by SIGINT (128 + 2) */
};

/* The exit code for a library status: for I/O and format errors
 * EXIT_INPUT when is_input, else EXIT_OUTPUT; for an interruption 143 when
 * signal (the one received) is SIGTERM, else 130. */
int cli_exit_code(stylize_status st, int is_input, int signal);

/* Parse helpers: the whole string must be a finite number in [lo, hi].
 * Return 0 on success, -1 otherwise (nothing printed). */
int cli_parse_double(const char *s, double lo, double hi, double *out);
int cli_parse_int(const char *s, long lo, long hi, int *out);
int cli_parse_u64(const char *s, unsigned long long *out);

/* --precision's value: fp32, bf16 or auto; bf16 needs the CPU's
 * AVX512-BF16. Returns 0 and sets *out, or prints one line naming flag and
 * returns EXIT_USAGE. */
int cli_parse_precision(const char *prog, const char *flag, const char *arg, int *out);
/* --precision's help line in stylize, train and apply, with auto's meaning there. */
#define CLI_PRECISION_HELP(auto_means) \
    "the convolutions' arithmetic; bf16 needs AVX512-BF16 (default auto: " auto_means "; README Precision)"

/* Prints "prog: message" on stderr. */
void cli_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* stylize_log_fn that prints to stderr, prefixed with the program name
 * given as user (const char *); levels above the verbosity are dropped. */
typedef struct {
    const char *prog;
    int verbosity; /* max stylize_log_level printed */
} cli_log_ctx;
void cli_log(void *user, stylize_log_level level, const char *msg);

/* OpenBLAS settings that it reads only when it loads, so the program
 * re-executes itself once with them set (unless STYLIZE_BLAS_AUTO is "0",
 * under valgrind, or nothing needs setting):
 *  - OPENBLAS_CORETYPE: OpenBLAS 0.3.21 does not recognise some recent x86
 *    CPUs and falls back to its generic kernel, about ten times slower. When
 *    that happened and the CPU has AVX2/AVX-512, set to the matching kernel.
 *  - OPENBLAS_THREAD_TIMEOUT (when neither it nor GOTO_THREAD_TIMEOUT is
 *    set): 4, the shortest. OpenBLAS's idle threads otherwise spin on
 *    sched_yield for about 2^28 cycles after each threaded call, taking the
 *    cores from the library's own pool between calls (about 10% of an
 *    evaluation's time on 2 cores).
 * Returns only if nothing was done or the exec failed. */
void cli_blas_autoselect(char **argv);

#endif

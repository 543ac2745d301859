/* Shared CLI helpers: strict number parsing, error printing, logging. */
#include "cli_common.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stylize/core/threads.h"
#include "stylize/nn/precision.h"

/* Numbers start with a digit, a sign or a point: no leading white space
 * (strtod and friends would skip it). */
static int starts_like_number(const char *s)
{
    return s && ((*s >= '0' && *s <= '9') || *s == '-' || *s == '+' || *s == '.');
}

int cli_parse_double(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    if (!starts_like_number(s))
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_int(const char *s, long lo, long hi, int *out)
{
    char *end = NULL;
    if (!starts_like_number(s) || *s == '.')
        return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

int cli_parse_u64(const char *s, unsigned long long *out)
{
    char *end = NULL;
    if (!s || !*s)
        return -1;
    for (const char *p = s; *p; p++) /* digits only: strtoull would take " -1" */
        if (*p < '0' || *p > '9')
            return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int cli_exit_code(stylize_status st, int is_input, int signal)
{
    switch (st) {
    case STYLIZE_OK: return 0;
    case STYLIZE_ERR_ARG: return EXIT_USAGE;
    case STYLIZE_ERR_IO:
    case STYLIZE_ERR_FORMAT: return is_input ? EXIT_INPUT : EXIT_OUTPUT;
    case STYLIZE_ERR_NOMEM:
    case STYLIZE_ERR_LIMIT: return EXIT_MEMORY;
    case STYLIZE_ERR_NUMERIC: return EXIT_NUMERIC;
    case STYLIZE_ERR_INTERRUPTED: return signal == SIGTERM ? EXIT_SIGTERM : EXIT_SIGINT;
    case STYLIZE_ERR_INTERNAL: return EXIT_FAILURE_;
    }
    return EXIT_FAILURE_;
}

void cli_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cli_log(void *user, stylize_log_level level, const char *msg)
{
    const cli_log_ctx *ctx = user;
    if ((int)level > ctx->verbosity)
        return;
    if (level == STYLIZE_LOG_ERROR)
        fprintf(stderr, "%s: error: %s\n", ctx->prog, msg);
    else if (level == STYLIZE_LOG_WARN)
        fprintf(stderr, "%s: warning: %s\n", ctx->prog, msg);
    else
        fprintf(stderr, "%s\n", msg);
}

void cli_blas_autoselect(char **argv)
{
    const char *preload = getenv("LD_PRELOAD");
    const char *autosel = getenv("STYLIZE_BLAS_AUTO");
    if (getenv("STYLIZE_BLAS_REEXEC") || (autosel && strcmp(autosel, "0") == 0) ||
        (preload && strstr(preload, "vgpreload")))
        return;
    const char *hint = getenv("OPENBLAS_CORETYPE") ? NULL : stylize_blas_coretype_hint();
    int timeout = !getenv("OPENBLAS_THREAD_TIMEOUT") && !getenv("GOTO_THREAD_TIMEOUT");
    if (!hint && !timeout)
        return;
    if ((hint && setenv("OPENBLAS_CORETYPE", hint, 1) != 0) ||
        (timeout && setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1) != 0) ||
        setenv("STYLIZE_BLAS_REEXEC", "1", 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with OpenBLAS as it loaded */
    if (hint)
        unsetenv("OPENBLAS_CORETYPE");
    if (timeout)
        unsetenv("OPENBLAS_THREAD_TIMEOUT");
    unsetenv("STYLIZE_BLAS_REEXEC");
}

int cli_parse_precision(const char *prog, const char *flag, const char *arg, int *out)
{
    stylize_precision p;
    stylize_error err;
    if (stylize_precision_parse(arg, &p) != 0) {
        cli_error(prog, "%s: '%s' is not fp32, bf16 or auto", flag, arg);
        return EXIT_USAGE;
    }
    if (stylize_precision_check(p, &err) != STYLIZE_OK) {
        cli_error(prog, "%s %s", flag, err.msg);
        return EXIT_USAGE;
    }
    *out = (int)p;
    return 0;
}

/* stylize: status codes, error messages and the log callback.
 *
 * Every library function that can fail returns a stylize_status and, when the
 * caller passes a non-NULL stylize_error, fills it with one human-readable
 * line (no trailing newline) that names the file, flag or value at fault.
 * The library never prints and never exits. */
#ifndef STYLIZE_STATUS_H
#define STYLIZE_STATUS_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    STYLIZE_OK = 0,
    STYLIZE_ERR_ARG = 1,         /* bad argument or option value */
    STYLIZE_ERR_IO = 2,          /* file missing, unreadable or unwritable */
    STYLIZE_ERR_FORMAT = 3,      /* file readable but malformed */
    STYLIZE_ERR_NOMEM = 4,       /* allocation failed */
    STYLIZE_ERR_LIMIT = 5,       /* a size limit would be exceeded */
    STYLIZE_ERR_NUMERIC = 6,     /* NaN or Inf in a loss or gradient */
    STYLIZE_ERR_INTERRUPTED = 7, /* stopped on request (signal) */
    STYLIZE_ERR_INTERNAL = 8     /* a bug: an invariant did not hold */
} stylize_status;

#define STYLIZE_ERROR_MSG_MAX 512

typedef struct {
    stylize_status code;
    char msg[STYLIZE_ERROR_MSG_MAX];
} stylize_error;

/* Static string naming the status, e.g. "file format error". Never NULL. */
const char *stylize_status_str(stylize_status s);

/* Sets err (if non-NULL) to code and the printf-formatted message; returns
 * code so that callers can write `return stylize_error_set(err, ...)`. */
stylize_status stylize_error_set(stylize_error *err, stylize_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the existing message in err with the formatted text and ": ". */
void stylize_error_prefix(stylize_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

typedef enum {
    STYLIZE_LOG_ERROR = 0,
    STYLIZE_LOG_WARN = 1,
    STYLIZE_LOG_INFO = 2,
    STYLIZE_LOG_DEBUG = 3
} stylize_log_level;

/* The only way the library emits text: a caller-supplied callback.
 * msg is one line without a trailing newline, valid during the call only. */
typedef void (*stylize_log_fn)(void *user, stylize_log_level level, const char *msg);

typedef struct {
    stylize_log_fn fn; /* may be NULL: nothing is logged */
    void *user;
} stylize_logger;

void stylize_log(const stylize_logger *log, stylize_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif
#endif

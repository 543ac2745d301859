/* Status strings, error messages and logging. */
#include "stylize/core/status.h"

#include <stdio.h>
#include <string.h>

const char *stylize_status_str(stylize_status s)
{
    switch (s) {
    case STYLIZE_OK: return "ok";
    case STYLIZE_ERR_ARG: return "invalid argument";
    case STYLIZE_ERR_IO: return "input/output error";
    case STYLIZE_ERR_FORMAT: return "file format error";
    case STYLIZE_ERR_NOMEM: return "out of memory";
    case STYLIZE_ERR_LIMIT: return "limit exceeded";
    case STYLIZE_ERR_NUMERIC: return "numerical error";
    case STYLIZE_ERR_INTERRUPTED: return "interrupted";
    case STYLIZE_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

stylize_status stylize_error_set(stylize_error *err, stylize_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void stylize_error_prefix(stylize_error *err, const char *fmt, ...)
{
    char prefix[STYLIZE_ERROR_MSG_MAX], old[STYLIZE_ERROR_MSG_MAX];
    va_list ap;
    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    size_t np = strlen(prefix), no = strlen(old), cap = sizeof err->msg - 1, k = 0;
    for (size_t i = 0; i < np && k < cap; i++)
        err->msg[k++] = prefix[i];
    for (size_t i = 0; i < 2 && k < cap; i++)
        err->msg[k++] = ": "[i];
    for (size_t i = 0; i < no && k < cap; i++)
        err->msg[k++] = old[i];
    err->msg[k] = '\0';
}

void stylize_log(const stylize_logger *log, stylize_log_level level, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    if (!log || !log->fn)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    log->fn(log->user, level, buf);
}

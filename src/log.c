/*
 * log.c: see log.h.  The level is process-global: there is one gateway per process.
 */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "rbgw/log.h"

static enum rbgw_log_level threshold = RBGW_LOG_INFO;

void
rbgw_log_set_level(enum rbgw_log_level level)
{
    threshold = level;
}

enum rbgw_log_level
rbgw_log_get_level(void)
{
    return threshold;
}

void
rbgw_log(enum rbgw_log_level level, const char *fmt, ...)
{
    if (level > threshold) {
        return;
    }
    char line[1024];
    int n =
        snprintf(line, sizeof(line), "rbgw[%d]: %s: ", (int)getpid(), rbgw_log_level_name(level));
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2) {
        len = sizeof(line) - 2;
    }
    for (size_t i = (size_t)n; i < len; i++) {
        if (line[i] == '\n' || line[i] == '\r') {
            line[i] = ' ';
        }
    }
    line[len++] = '\n';
    ssize_t rc = write(STDERR_FILENO, line, len);
    RBGW_UNUSED(rc);
}

/*
 * log.h: leveled logging to stderr (never stdout: in pipe mode stdout belongs to pdns).
 *
 * One line per event, written with a single write(2) so lines from several rbgw processes
 * (pdns runs one co-process per backend instance) do not interleave.  Lines look like
 *   rbgw[1234]: warning: req=17 u=http:127.0.0.1:8080: upstream timed out after 1500 ms
 */
#ifndef RBGW_LOG_H
#define RBGW_LOG_H

#include "rbgw/config.h"

void rbgw_log_set_level(enum rbgw_log_level level);
enum rbgw_log_level rbgw_log_get_level(void);
void rbgw_log(enum rbgw_log_level level, const char *fmt, ...) RBGW_PRINTF(2, 3);

#define rbgw_log_enabled(lvl) ((lvl) <= rbgw_log_get_level())
#define rbgw_log_err(...) rbgw_log(RBGW_LOG_ERROR, __VA_ARGS__)
#define rbgw_log_warn(...) rbgw_log(RBGW_LOG_WARN, __VA_ARGS__)
#define rbgw_log_info(...) rbgw_log(RBGW_LOG_INFO, __VA_ARGS__)
#define rbgw_log_debug(...)                                                                        \
    do {                                                                                           \
        if (rbgw_log_enabled(RBGW_LOG_DEBUG)) {                                                    \
            rbgw_log(RBGW_LOG_DEBUG, __VA_ARGS__);                                                 \
        }                                                                                          \
    } while (0)

#endif

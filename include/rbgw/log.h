/*
 * log.h: leveled logging to stderr (never stdout: in pipe mode stdout belongs to pdns).
 *
 * One line per event, written with a single write(2) so lines from several rbgw processes
 * (pdns runs one co-process per backend instance) do not interleave.  The settings are
 * process-wide (one gateway per process): level, format, access log, journald.
 *
 * Lines come in four kinds:
 *
 *   gateway    rbgw_log_err/warn/info/debug(fmt, ...): start, stop, listeners, signals
 *   request    rbgw_rlog_*(req, fmt, ...): one call (its id, listener, method, upstream,
 *              qname, time so far); rbgw_ulog_*(u, fmt, ...): one upstream, no call
 *   access     rbgw_access_log(req, outcome, reply): one per call answered, access-log=yes
 *   responder  rbgw_log_responder*(req, u, ...): the "log" lines of a responder's reply
 *
 * log-format=text (the default), the request fields as a prefix:
 *
 *   rbgw[1234]: warning: req=17 lookup u=http#1: 127.0.0.1:8080: no reply within 1500 ms (timed
 * out) rbgw[1234]: info: req=18 lookup u=http#1: responder: zone example.com. not found rbgw[1234]:
 * info: access req=19 listener=pipe method=lookup qname=www.example.com. upstream=http#1 outcome=ok
 * elapsed_us=312 bytes=118          (one line)
 *
 * log-format=json, one object per line; fields that do not apply are left out:
 *
 *   {"ts":"2024-05-01T12:00:00.123456Z","level":"warning","pid":1234,"msg":"127.0.0.1:8080: ...",
 *    "request_id":17,"listener":"pipe","upstream":"http#1","method":"lookup",
 *    "qname":"www.example.com.","elapsed_us":1500312}
 *
 *   ts (UTC, microseconds), level, pid, msg always; request_id, listener, upstream, method,
 *   qname, elapsed_us for a call; outcome and bytes on access lines (msg "access"); source
 *   "responder" on forwarded lines; suppressed on rate-limit summaries.  Strings are escaped for
 *   any bytes: control characters as \uXXXX, bytes that are not UTF-8 as U+FFFD.  The qname is
 *   read only for lines that are written: from the call's tree when it has one, else by a scan
 *   of the call's text (a pass-through call has no tree); text mode shows it on access lines
 *   only.
 *
 * journald: when JOURNAL_STREAM names the file stderr is (device:inode, as systemd documents
 * it), every line starts with the syslog priority "<3>" error, "<4>" warning, "<6>" info,
 * "<7>" debug, which journald turns into PRIORITY= and strips; it stamps the time itself.
 *
 * Rate limiting (rbgw_rlog_limited, rbgw_ulog_limited): lines that can come once per call or
 * per failure (a dead upstream at 20k calls/s) are limited per key, the pair (what, upstream
 * name): at most RBGW_LOG_BURST lines in a window of RBGW_LOG_WINDOW_MS, the rest counted.
 * The next line of that key after its window, a timer (rbgw_log_attach_loop) or
 * rbgw_log_flush then writes one summary at the same level:
 *   rbgw[1234]: warning: u=dead: calls answered false (19990 similar messages suppressed in
 *   the last 1.0 s)
 * Access lines are never limited: whoever turns them on wants one per call.
 */
#ifndef RBGW_LOG_H
#define RBGW_LOG_H

#include <stdbool.h>

#include "rbgw/buf.h"
#include "rbgw/config.h"

struct uv_loop_s;

#define RBGW_LOG_BURST 10       /* lines per key per window */
#define RBGW_LOG_WINDOW_MS 1000 /* the window */

/* The settings, read inline by the macros below (set them with the functions). */
extern enum rbgw_log_level rbgw__log_level;
extern bool rbgw__log_access;

/** level, format, access log from cfg; journald from the environment (rbgw_log_journal_detect). */
void rbgw_log_configure(const struct rbgw_config *cfg);
void rbgw_log_set_level(enum rbgw_log_level level);
enum rbgw_log_level rbgw_log_get_level(void);
void rbgw_log_set_format(enum rbgw_log_format format);
void rbgw_log_set_access(bool on);
/** Write the "<N>" priority prefix (journald) or not. */
void rbgw_log_set_journal(bool on);
/** True if JOURNAL_STREAM is set and names the file stderr is (device and inode). */
bool rbgw_log_journal_detect(void);

/** Where lines go: STDERR_FILENO unless a test points them elsewhere. */
void rbgw_log_set_fd(int fd);
/**
 * The clocks (tests): mono_ns for rate limiting and elapsed_us (default rbgw_now_ns), real_ns
 * for the JSON ts (default CLOCK_REALTIME).  NULL restores the default.
 */
void rbgw_log_set_clocks(uint64_t (*mono_ns)(void), uint64_t (*real_ns)(void));

/**
 * Write rate-limit summaries that are due from a timer on loop (unreferenced: it never keeps
 * the loop alive).  rbgw_log_detach_loop writes every summary still pending and closes the
 * timer; run the loop once more before closing it.
 */
void rbgw_log_attach_loop(struct uv_loop_s *loop);
void rbgw_log_detach_loop(void);
/** Write every rate-limit summary still pending, due or not. */
void rbgw_log_flush(void);

#define rbgw_log_enabled(lvl) ((lvl) <= rbgw__log_level)
#define rbgw_log_access_enabled() (rbgw__log_access)

/* ---- gateway lines ---- */

void rbgw_log(enum rbgw_log_level level, const char *fmt, ...) RBGW_PRINTF(2, 3);

#define rbgw_log_err(...) rbgw_log(RBGW_LOG_ERROR, __VA_ARGS__)
#define rbgw_log_warn(...) rbgw_log(RBGW_LOG_WARN, __VA_ARGS__)
#define rbgw_log_info(...) rbgw_log(RBGW_LOG_INFO, __VA_ARGS__)
#define rbgw_log_debug(...)                                                                        \
    do {                                                                                           \
        if (rbgw_log_enabled(RBGW_LOG_DEBUG)) {                                                    \
            rbgw_log(RBGW_LOG_DEBUG, __VA_ARGS__);                                                 \
        }                                                                                          \
    } while (0)

/* ---- request and upstream lines ---- */

/**
 * A line about a call (req, may be NULL) and/or an upstream (u; NULL: req->upstream, the one
 * the call went to last).  Nothing is computed when level is filtered out.
 */
void rbgw_rlog(enum rbgw_log_level level, const struct rbgw_request *req,
               const struct rbgw_upstream *u, const char *fmt, ...) RBGW_PRINTF(4, 5);

/**
 * rbgw_rlog, rate-limited per (what, upstream name): what is a static label for the kind of
 * line ("calls answered false"), named by the summary.
 */
void rbgw_rlog_limited(enum rbgw_log_level level, const char *what, const struct rbgw_request *req,
                       const struct rbgw_upstream *u, const char *fmt, ...) RBGW_PRINTF(5, 6);

#define rbgw_rlog_err(req, ...) rbgw_rlog(RBGW_LOG_ERROR, (req), NULL, __VA_ARGS__)
#define rbgw_rlog_warn(req, ...) rbgw_rlog(RBGW_LOG_WARN, (req), NULL, __VA_ARGS__)
#define rbgw_rlog_info(req, ...) rbgw_rlog(RBGW_LOG_INFO, (req), NULL, __VA_ARGS__)
#define rbgw_rlog_debug(req, ...)                                                                  \
    do {                                                                                           \
        if (rbgw_log_enabled(RBGW_LOG_DEBUG)) {                                                    \
            rbgw_rlog(RBGW_LOG_DEBUG, (req), NULL, __VA_ARGS__);                                   \
        }                                                                                          \
    } while (0)

#define rbgw_ulog_err(u, ...) rbgw_rlog(RBGW_LOG_ERROR, NULL, (u), __VA_ARGS__)
#define rbgw_ulog_warn(u, ...) rbgw_rlog(RBGW_LOG_WARN, NULL, (u), __VA_ARGS__)
#define rbgw_ulog_info(u, ...) rbgw_rlog(RBGW_LOG_INFO, NULL, (u), __VA_ARGS__)
#define rbgw_ulog_debug(u, ...)                                                                    \
    do {                                                                                           \
        if (rbgw_log_enabled(RBGW_LOG_DEBUG)) {                                                    \
            rbgw_rlog(RBGW_LOG_DEBUG, NULL, (u), __VA_ARGS__);                                     \
        }                                                                                          \
    } while (0)

/* ---- access and responder lines ---- */

/**
 * The access line of a call being answered (info, when access-log=yes; the caller checks
 * rbgw_log_access_enabled()).  outcome: the answer's token (outcome.h rbgw_answer_name: "ok",
 * "false", a failure class, "no_upstream", "bad_request").  reply: the bytes answered.
 */
void rbgw_access_log(const struct rbgw_request *req, const char *outcome, struct rbgw_str reply);

/**
 * Forward a responder's "log" lines at info, rate-limited per upstream: log is the text of the
 * reply's "log" array (vetted JSON), req the call (may be NULL), u the upstream that sent it.
 * Strings are written as their text, other values as JSON; at most 16 lines per reply.
 */
void rbgw_log_responder(const struct rbgw_request *req, const struct rbgw_upstream *u,
                        struct rbgw_str log);
/** The same for a "log" array already parsed (a reply that was refused). */
void rbgw_log_responder_tree(const struct rbgw_request *req, const struct rbgw_upstream *u,
                             const struct rbgw_json *log);

#endif

/*
 * itest.h: what the integration tests do the same way around the rbgw child (rbgw_proc.h):
 * memory that lives until the test ends, bounded reads of reply lines, the checks at the end
 * of a run (stdout closed clean, exit status 0, no problem reported on stderr), and the shape
 * of a failure reply.
 *
 * Everything asserts (Criterion): a failure ends the test with a message quoting the tail of
 * rbgw's stderr.  Because an assertion can end a test anywhere, strings handed out here are
 * kept until rbgw_test_release (the suite's .fini calls it), never freed by the caller.
 */
#ifndef RBGW_TEST_ITEST_H
#define RBGW_TEST_ITEST_H

#include <stdarg.h>
#include <stdbool.h>

#include "fake_json.h"
#include "rbgw_proc.h"

#define RBGW_TEST_IO_MS 10000 /* safety bound for one read or wait, not a timing assertion */

/** Keep p (asserted non-NULL: out of memory) until rbgw_test_release; returns p. */
void *rbgw_test_keep(void *p);
/** printf into kept memory. */
char *rbgw_test_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** vprintf into kept memory. */
char *rbgw_test_vfmt(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/** Free everything kept so far. */
void rbgw_test_release(void);

/** The last 4000 bytes of gw's stderr (kept), or "(no rbgw)" when gw is NULL. */
const char *rbgw_test_stderr(struct rbgw_proc *gw);

/** True if gw's stderr so far contains needle. */
bool rbgw_test_stderr_has(struct rbgw_proc *gw, const char *needle);

/** One line from gw's stdout (kept, without '\n'), within RBGW_TEST_IO_MS; asserts that it
 * came and holds no NUL byte. */
char *rbgw_test_read_line(struct rbgw_proc *gw);
/** Write request and then "\n" to gw's stdin, and return rbgw_test_read_line. */
char *rbgw_test_call(struct rbgw_proc *gw, const char *request);

/** Write line and then "\n" on c, a connection to rbgw's unix listener. */
void rbgw_test_client_send(struct fake_json_client *c, const char *line);
/** One line from c (kept, without '\n'), within RBGW_TEST_IO_MS; asserts that it came and
 * holds no NUL byte.  gw: the rbgw serving c, whose stderr a failure quotes (may be NULL). */
char *rbgw_test_client_read(struct fake_json_client *c, struct rbgw_proc *gw);

/** Close gw's stdin (pdns went away): stdout must reach EOF with no byte left unread. */
void rbgw_test_assert_stdout_ends(struct rbgw_proc *gw);
/** gw must exit (within RBGW_TEST_IO_MS) with status 0. */
void rbgw_test_assert_exit_0(struct rbgw_proc *gw);
/** gw's stderr must hold no sanitizer report ("Sanitizer", "runtime error") and no "handles
 * still open" (rbgw's own complaint at a shutdown that left its loop busy). */
void rbgw_test_assert_clean_stderr(struct rbgw_proc *gw);

/**
 * line must be a failure reply (§8): a JSON object with "result": false and a "log" whose first
 * entry is a string starting with "rbgw: " and, if keyword is not NULL, containing keyword
 * (case-insensitive).
 */
void rbgw_test_assert_false_reply(const char *line, const char *keyword);

#endif

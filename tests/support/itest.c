/*
 * itest.c: see itest.h.
 *
 * Kept memory is one growing array of pointers, process-wide: Criterion runs each test in its
 * own process, so "until the test ends" is "until the suite's .fini".
 */
#include "itest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <yajl/yajl_tree.h>

static void **kept;  /* kept allocations */
static size_t nkept; /* entries in kept */

void *
rbgw_test_keep(void *p)
{
    cr_assert_not_null(p, "out of memory");
    void **k = realloc(kept, (nkept + 1) * sizeof(*k));
    cr_assert_not_null(k, "out of memory");
    kept = k;
    kept[nkept++] = p;
    return p;
}

char *
rbgw_test_vfmt(const char *fmt, va_list ap)
{
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    cr_assert_geq(n, 0, "out of memory");
    return rbgw_test_keep(s);
}

char *
rbgw_test_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = rbgw_test_vfmt(fmt, ap);
    va_end(ap);
    return s;
}

void
rbgw_test_release(void)
{
    for (size_t i = 0; i < nkept; i++) {
        free(kept[i]);
    }
    free(kept);
    kept = NULL;
    nkept = 0;
}

const char *
rbgw_test_stderr(struct rbgw_proc *gw)
{
    return gw ? rbgw_test_keep(rbgw_proc_stderr(gw, 4000)) : "(no rbgw)";
}

bool
rbgw_test_stderr_has(struct rbgw_proc *gw, const char *needle)
{
    char *e = rbgw_proc_stderr(gw, 0);
    bool found = e && strstr(e, needle) != NULL;
    free(e);
    return found;
}

/* The line a bounded read returned (NULL: errno why said what happened instead): kept, and
 * asserted present and free of NUL bytes.  from names the source for messages. */
static char *
checked_line(char *line, size_t len, int why, const char *from, struct rbgw_proc *gw)
{
    if (line) {
        rbgw_test_keep(line);
    }
    cr_assert_not_null(line, "no reply line on %s (%s); stderr:\n%s", from,
                       why == ETIMEDOUT ? "nothing within the safety bound" : "EOF",
                       rbgw_test_stderr(gw));
    cr_assert_eq(strlen(line), len, "reply line on %s holds a NUL byte: <%s>", from, line);
    return line;
}

char *
rbgw_test_read_line(struct rbgw_proc *gw)
{
    size_t len = 0;
    char *line = rbgw_proc_read_line(gw, RBGW_TEST_IO_MS, &len);
    return checked_line(line, len, errno, "rbgw's stdout", gw);
}

char *
rbgw_test_call(struct rbgw_proc *gw, const char *request)
{
    int rc = rbgw_proc_write_str(gw, request);
    if (rc == 0) {
        rc = rbgw_proc_write_str(gw, "\n");
    }
    cr_assert_eq(rc, 0, "writing to rbgw's stdin: %s; stderr:\n%s", strerror(-rc),
                 rbgw_test_stderr(gw));
    return rbgw_test_read_line(gw);
}

void
rbgw_test_client_send(struct fake_json_client *c, const char *line)
{
    const char *b = rbgw_test_fmt("%s\n", line);
    int rc = fake_json_send(c, b, strlen(b));
    cr_assert_eq(rc, 0, "writing to rbgw's unix socket: %s", strerror(-rc));
}

char *
rbgw_test_client_read(struct fake_json_client *c, struct rbgw_proc *gw)
{
    size_t len = 0;
    char *line = fake_json_read_line(c, RBGW_TEST_IO_MS, &len);
    return checked_line(line, len, errno, "the unix connection", gw);
}

void
rbgw_test_assert_stdout_ends(struct rbgw_proc *gw)
{
    rbgw_proc_close_stdin(gw);
    char *rest = NULL;
    size_t rest_len = 0;
    int rc = rbgw_proc_read_to_eof(gw, RBGW_TEST_IO_MS, &rest, &rest_len);
    cr_assert_eq(rc, 0, "stdout not closed after stdin EOF; stderr:\n%s", rbgw_test_stderr(gw));
    rbgw_test_keep(rest);
    cr_assert_eq(rest_len, 0, "stray bytes on stdout after the last reply: <%s>", rest);
}

void
rbgw_test_assert_exit_0(struct rbgw_proc *gw)
{
    int status = 0;
    int rc = rbgw_proc_wait(gw, RBGW_TEST_IO_MS, &status);
    cr_assert_eq(rc, 0, "rbgw did not exit; stderr:\n%s", rbgw_test_stderr(gw));
    cr_assert(WIFEXITED(status), "rbgw died by signal %d; stderr:\n%s",
              WIFSIGNALED(status) ? WTERMSIG(status) : -1, rbgw_test_stderr(gw));
    cr_assert_eq(WEXITSTATUS(status), 0, "rbgw exit status %d; stderr:\n%s", WEXITSTATUS(status),
                 rbgw_test_stderr(gw));
}

void
rbgw_test_assert_clean_stderr(struct rbgw_proc *gw)
{
    const char *err = rbgw_test_keep(rbgw_proc_stderr(gw, 0));
    cr_assert(!strstr(err, "Sanitizer") && !strstr(err, "runtime error") &&
                  !strstr(err, "handles still open"),
              "rbgw's stderr reports a problem:\n%s", err);
}

void
rbgw_test_assert_false_reply(const char *line, const char *keyword)
{
    char err[256] = "";
    yajl_val v = yajl_tree_parse(line, err, sizeof(err));
    cr_assert_not_null(v, "reply is not JSON (%s): <%s>", err, line);
    const char *rpath[] = {"result", NULL};
    const char *lpath[] = {"log", NULL};
    yajl_val r = yajl_tree_get(v, rpath, yajl_t_any);
    bool is_false = YAJL_IS_OBJECT(v) && r && YAJL_IS_FALSE(r);
    yajl_val log = yajl_tree_get(v, lpath, yajl_t_array);
    char *first = NULL;
    if (log && log->u.array.len > 0 && YAJL_IS_STRING(log->u.array.values[0])) {
        const char *s0 = YAJL_GET_STRING(log->u.array.values[0]);
        first = s0 ? rbgw_test_keep(strdup(s0)) : NULL;
    }
    yajl_tree_free(v);
    cr_assert(is_false, "expected \"result\": false, got <%s>", line);
    cr_assert_not_null(first, "failure reply without a log string: <%s>", line);
    cr_assert(strncmp(first, "rbgw: ", 6) == 0, "log[0] does not start with \"rbgw: \": <%s>",
              line);
    if (keyword) {
        cr_assert_not_null(strcasestr(first, keyword), "log[0] does not mention \"%s\": <%s>",
                           keyword, line);
    }
}

/*
 * test_jsonstream_upstream.c: rbgw's unix and pipe upstreams against scripted JSON stream
 * responders (support/fake_json.h).
 *
 *   test ──stdin──> rbgw --listen=pipe --upstream=unix:path=...  ──socket──> fake_json thread
 *   test <─stdout──                    --upstream=pipe:command=... ──pipes──> responder.py child
 *
 * What is checked (docs/protocol.md §3.1, §4.1, §4.2, §8.3-§8.7, §8.11, §8.17): every new
 * connection or child first gets rbgw's own initialize (all connection-string options as
 * strings, keys in byte order, json11 form) and pdns's initialize never reaches the responder;
 * calls go out as the exact bytes pdns wrote and replies come back as the exact bytes the
 * responder wrote, flattened to one line; replies in pieces, pretty-printed, without a newline
 * or after blank lines work; a responder that stalls, crashes (during initialize, before or in
 * the middle of a reply), answers garbage / no result / a null result, or is not there at all
 * yields one {"result":false,"log":["rbgw: ..."]} line and the next call is served by a fresh
 * connection or child (a new initialize is seen); max-conns bounds the connections under
 * concurrent callers (through rbgw's unix listener) and every caller is answered.
 *
 * Most scenarios run against both upstream kinds (BOTH below: one test per kind).  Reads are
 * bounded by IO_BOUND_MS only so that a broken build fails instead of hanging.  The responder's
 * records of a call are written before it answers, so once the test has the reply it can read
 * them: nothing here waits for a duration.  Upstream timeouts (and connect-timeout, which
 * bounds a python child's start and initialize) are long: 5 s where no timeout is the subject,
 * 3 s in the stall tests, so that a loaded machine cannot turn a slow start into a failure.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "fake_json.h"
#include "itest.h"
#include "rbgw_proc.h"

#define IO_BOUND_MS 10000     /* safety bound for one read/wait, not a timing assertion */
#define UP_TIMEOUT_MS 5000    /* upstream timeout where no timeout is being tested */
#define STALL_TIMEOUT_MS 3000 /* upstream timeout of the stall tests (a child must start in it) */

/* What pdns sends first on a pipe (§3.1): rbgw answers it itself. */
#define PDNS_INITIALIZE                                                                            \
    "{\"method\": \"initialize\", \"parameters\": {\"command\": \"/usr/sbin/rbgw\", \"timeout\": " \
    "\"2000\"}}"
#define LOOKUP_FMT                                                                                 \
    "{\"method\": \"lookup\", \"parameters\": {\"local\": \"192.0.2.53\", \"qname\": \"%s\", "     \
    "\"qtype\": \"A\", \"real-remote\": \"198.51.100.0/24\", \"remote\": \"198.51.100.7\", "       \
    "\"zone-id\": 5}}"

enum kind { UNIX, PIPE };

static enum kind kind;                 /* upstream kind of the current test */
static char *dir;                      /* the test's directory */
static char *cmd;                      /* pipe: the responder's command= */
static char *up_path;                  /* unix: the responder's socket */
static struct fake_json *srv;          /* unix: the responder, or NULL */
static struct rbgw_proc *gw;           /* rbgw, or NULL */
static struct fake_json_client *cl[3]; /* unix listener clients */

static void
teardown(void)
{
    rbgw_proc_free(gw); /* SIGKILL: its pipe children then see EOF on stdin and exit */
    gw = NULL;
    for (size_t i = 0; i < 3; i++) {
        fake_json_client_free(cl[i]);
        cl[i] = NULL;
    }
    fake_json_stop(srv);
    srv = NULL;
    fake_json_rmtree(dir);
    free(dir);
    dir = NULL;
    free(cmd);
    cmd = NULL;
    rbgw_test_release();
}

TestSuite(jsonstream, .fini = teardown, .timeout = 30);

/* ---- helpers ---- */

static const char *
errtail(void)
{
    return rbgw_test_stderr(gw);
}

static const char *
kind_name(void)
{
    return kind == UNIX ? "unix" : "pipe";
}

/* The test directory, the pipe script and the unix responder's path. */
static void
setup_dir(enum kind k)
{
    kind = k;
    dir = fake_json_mkdtemp();
    cr_assert_not_null(dir, "mkdtemp: %s", strerror(errno));
    cmd = fake_json_pipe_script(dir);
    cr_assert_not_null(cmd, "cannot write the pipe responder: %s", strerror(errno));
    up_path = rbgw_test_fmt("%s/up.sock", dir);
}

static const char *
upstream_arg(int timeout_ms, const char *extra)
{
    if (kind == UNIX) {
        return rbgw_test_fmt("--upstream=unix:path=%s,timeout=%d,connect-timeout=%d%s", up_path,
                             timeout_ms, timeout_ms, extra);
    }
    return rbgw_test_fmt("--upstream=pipe:command=%s,timeout=%d,connect-timeout=%d%s", cmd,
                         timeout_ms, timeout_ms, extra);
}

/* rbgw with a pipe listener (the test's stdin/stdout) and one upstream of the test's kind.
 * unix: the responder is started first unless no_server. */
static void
start_with(enum kind k, int timeout_ms, const char *extra, bool no_server)
{
    setup_dir(k);
    if (k == UNIX && !no_server) {
        srv = fake_json_unix_start(up_path);
        cr_assert_not_null(srv, "cannot start the unix responder: %s", strerror(errno));
    }
    const char *args[] = {"--listen=pipe", upstream_arg(timeout_ms, extra ? extra : ""),
                          "--log-level=debug", NULL};
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
}

static void
start(enum kind k, int timeout_ms, const char *extra)
{
    start_with(k, timeout_ms, extra, false);
}

static char *
call(const char *request)
{
    return rbgw_test_call(gw, request);
}

/* What the echo responder answers to request. */
static char *
echo_of(const char *request)
{
    return rbgw_test_fmt("{\"result\": %s}", request);
}

static char *
lookup(const char *qname)
{
    return rbgw_test_fmt(LOOKUP_FMT, qname);
}

static char *
method_call(const char *method)
{
    return rbgw_test_fmt("{\"method\": \"%s\", \"parameters\": {}}", method);
}

/* Call request; the reply must be the responder's echo of it, byte for byte. */
static void
expect_echo(const char *request)
{
    char *line = call(request);
    cr_assert_str_eq(line, echo_of(request),
                     "[%s] reply is not the echo of the request; stderr:\n%s", kind_name(),
                     errtail());
}

static void
expect_false(const char *request, const char *keyword)
{
    rbgw_test_assert_false_reply(call(request), keyword);
}

/* The responder's records so far (kept until the end of the test). */
static size_t
records(struct fake_json_rec **out)
{
    size_t n = kind == UNIX ? fake_json_records(srv, out) : fake_json_pipe_records(dir, out);
    if (*out) {
        rbgw_test_keep(*out);
        for (size_t i = 0; i < n; i++) {
            rbgw_test_keep((*out)[i].data);
        }
    }
    return n;
}

static size_t
count_method(const struct fake_json_rec *r, size_t n, const char *method)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        k += fake_json_rec_is(&r[i], method);
    }
    return k;
}

/* Index of the record whose line is exactly line, or -1. */
static long
find_rec(const struct fake_json_rec *r, size_t n, const char *line)
{
    for (size_t i = 0; i < n; i++) {
        if (r[i].len == strlen(line) && memcmp(r[i].data, line, r[i].len) == 0) {
            return (long)i;
        }
    }
    return -1;
}

static void
assert_initializes(size_t want)
{
    struct fake_json_rec *r;
    size_t n = records(&r);
    size_t got = count_method(r, n, "initialize");
    cr_assert_eq(got, want, "[%s] the responder saw %zu initialize(s), expected %zu; stderr:\n%s",
                 kind_name(), got, want, errtail());
}

/* Close stdin: stdout must reach EOF with nothing more, rbgw must exit 0, no sanitizer report. */
static void
finish(void)
{
    rbgw_test_assert_stdout_ends(gw);
    rbgw_test_assert_exit_0(gw);
    rbgw_test_assert_clean_stderr(gw);
}

/* One test per upstream kind for scenario fn(enum kind). */
#define BOTH(name)                                                                                 \
    Test(jsonstream, name##_unix, .timeout = 30)                                                   \
    {                                                                                              \
        name(UNIX);                                                                                \
    }                                                                                              \
    Test(jsonstream, name##_pipe, .timeout = 30)                                                   \
    {                                                                                              \
        name(PIPE);                                                                                \
    }

/* ---- initialize ---- */

/* rbgw's initialize carries every option of its connection string, json11 form, sorted keys;
 * pdns's own initialize is answered locally; the connection is then reused without another. */
static void
initialize_exact_bytes(enum kind k)
{
    start(k, UP_TIMEOUT_MS, ",foo=bar=baz,flag, sp ace=1,esc=a\"b\\c");
    const char *expected =
        k == UNIX
            ? rbgw_test_fmt(
                  "{\"method\": \"initialize\", \"parameters\": {\" sp ace\": \"1\", "
                  "\"connect-timeout\": \"%d\", \"esc\": \"a\\\"b\\\\c\", \"flag\": \"yes\", "
                  "\"foo\": \"bar=baz\", \"path\": \"%s\", \"timeout\": \"%d\"}}",
                  UP_TIMEOUT_MS, up_path, UP_TIMEOUT_MS)
            : rbgw_test_fmt(
                  "{\"method\": \"initialize\", \"parameters\": {\" sp ace\": \"1\", "
                  "\"command\": \"%s\", \"connect-timeout\": \"%d\", \"esc\": \"a\\\"b\\\\c\", "
                  "\"flag\": \"yes\", \"foo\": \"bar=baz\", \"timeout\": \"%d\"}}",
                  cmd, UP_TIMEOUT_MS, UP_TIMEOUT_MS);

    char *line = call(PDNS_INITIALIZE);
    cr_assert_str_eq(line, "{\"result\":true}", "pdns's initialize: got <%s>; stderr:\n%s", line,
                     errtail());
    expect_echo(lookup("one.example.com."));
    expect_echo(lookup("two.example.com."));

    struct fake_json_rec *r;
    size_t n = records(&r);
    cr_assert_eq(n, 3, "[%s] expected initialize + 2 lookups at the responder, got %zu records",
                 kind_name(), n);
    cr_assert_eq(r[0].len, strlen(expected),
                 "[%s] initialize differs:\nexpected <%s>\n     got <%s>", kind_name(), expected,
                 r[0].data);
    cr_assert(memcmp(r[0].data, expected, r[0].len) == 0,
              "[%s] initialize differs:\nexpected <%s>\n     got <%s>", kind_name(), expected,
              r[0].data);
    cr_assert_str_eq(r[1].data, lookup("one.example.com."));
    cr_assert_str_eq(r[2].data, lookup("two.example.com."));
    cr_assert(r[0].conn == r[1].conn && r[1].conn == r[2].conn,
              "[%s] the calls did not reuse the initialized connection", kind_name());
    finish();
}
BOTH(initialize_exact_bytes)

/* ---- pass-through ---- */

/* Key order, number forms, escapes and raw non-UTF-8 bytes survive both ways. */
static void
passthrough_bytes_both_ways(enum kind k)
{
    start(k, UP_TIMEOUT_MS, NULL);
    const char *req = "{\"parameters\": {\"z\": 1.50, \"a\": [1E2, -0.0, 7, 2.5e-3], \"s\": "
                      "\"caf\xc3\xa9 \xff\xfe\x80 raw\", \"u\": \"\\u00e9\\/\\n\"}, "
                      "\"method\": \"echoTest\"}";
    expect_echo(req);
    struct fake_json_rec *r;
    size_t n = records(&r);
    cr_assert_geq(find_rec(r, n, req), 0, "[%s] the responder did not get the request's bytes",
                  kind_name());

    char *line = call(method_call("raw"));
    cr_assert_str_eq(line, FAKE_JSON_REPLY_RAW, "[%s] the responder's reply bytes changed",
                     kind_name());
    finish();
}
BOTH(passthrough_bytes_both_ways)

/* ---- reply framing ---- */

static void
reply_in_pieces(enum kind k)
{
    start(k, UP_TIMEOUT_MS, NULL);
    char *line = call(method_call("pieces"));
    cr_assert_str_eq(line, FAKE_JSON_REPLY_PIECES, "[%s]; stderr:\n%s", kind_name(), errtail());
    expect_echo(lookup("after.pieces."));
    assert_initializes(1);
    finish();
}
BOTH(reply_in_pieces)

/* A multi-line document comes back on one line: each newline became one space. */
static void
reply_pretty_printed(enum kind k)
{
    start(k, UP_TIMEOUT_MS, NULL);
    char *flat = rbgw_test_fmt("%s", FAKE_JSON_REPLY_PRETTY);
    for (char *p = flat; *p; p++) {
        if (*p == '\n') {
            *p = ' ';
        }
    }
    char *line = call(method_call("pretty"));
    cr_assert_str_eq(line, flat, "[%s]; stderr:\n%s", kind_name(), errtail());
    expect_echo(lookup("after.pretty."));
    assert_initializes(1);
    finish();
}
BOTH(reply_pretty_printed)

/* No trailing newline: the document's end is enough, and the connection stays usable. */
static void
reply_without_newline(enum kind k)
{
    start(k, UP_TIMEOUT_MS, NULL);
    char *line = call(method_call("nonl"));
    cr_assert_str_eq(line, FAKE_JSON_REPLY_NONL, "[%s]; stderr:\n%s", kind_name(), errtail());
    expect_echo(lookup("after.nonl."));
    expect_echo(lookup("after.nonl.again."));
    assert_initializes(1);
    finish();
}
BOTH(reply_without_newline)

static void
reply_after_blank_lines(enum kind k)
{
    start(k, UP_TIMEOUT_MS, NULL);
    char *line = call(method_call("blank"));
    cr_assert_str_eq(line, FAKE_JSON_REPLY_BLANK, "[%s]; stderr:\n%s", kind_name(), errtail());
    expect_echo(lookup("after.blank."));
    finish();
}
BOTH(reply_after_blank_lines)

/* A second document after the reply answers nothing: the first is the reply, and the
 * connection is not reused (its extra bytes would be taken for the next call's reply). */
static void
stray_document_drops_connection(enum kind k)
{
    start(k, UP_TIMEOUT_MS, NULL);
    char *line = call(method_call("stray"));
    cr_assert_str_eq(line, FAKE_JSON_REPLY_STRAY_FIRST, "[%s]; stderr:\n%s", kind_name(),
                     errtail());
    expect_echo(lookup("after.stray."));
    assert_initializes(2);
    finish();
}
BOTH(stray_document_drops_connection)

/* ---- failures ---- */

/* pidfd of a process that must be gone (or going): readable once it has exited. */
static void
assert_process_ends(long pid)
{
    int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
    if (fd < 0) {
        cr_assert_eq(errno, ESRCH, "pidfd_open(%ld): %s", pid, strerror(errno));
        return; /* already reaped */
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int rc = poll(&pfd, 1, IO_BOUND_MS);
    close(fd);
    cr_assert_eq(rc, 1, "child %ld is still running after rbgw gave up on it", pid);
}

/* The responder never answers: false "timed out", the connection or child is thrown away,
 * and the next call works on a fresh one that gets its own initialize. */
static void
stall_times_out_then_fresh_connection(enum kind k)
{
    start(k, STALL_TIMEOUT_MS, NULL);
    expect_false(method_call("stall"), "timed out");
    if (k == UNIX) {
        cr_assert(fake_json_wait_closes(srv, 1, IO_BOUND_MS),
                  "rbgw did not close the stalled connection; stderr:\n%s", errtail());
    }
    expect_echo(lookup("after.stall."));

    struct fake_json_rec *r;
    size_t n = records(&r);
    cr_assert_eq(count_method(r, n, "initialize"), 2, "[%s] expected 2 initializes, got %zu",
                 kind_name(), count_method(r, n, "initialize"));
    long stalled = r[find_rec(r, n, method_call("stall"))].conn;
    long fresh = r[find_rec(r, n, lookup("after.stall."))].conn;
    cr_assert_neq(stalled, fresh, "[%s] the call after a timeout went to the stalled %s",
                  kind_name(), k == UNIX ? "connection" : "child");
    for (size_t i = 0; i < n; i++) {
        if (r[i].conn == fresh) {
            cr_assert(fake_json_rec_is(&r[i], "initialize"),
                      "[%s] the fresh %s did not start with initialize", kind_name(),
                      k == UNIX ? "connection" : "child");
            break;
        }
    }
    if (k == PIPE) {
        assert_process_ends(stalled);
    }
    finish();
}
BOTH(stall_times_out_then_fresh_connection)

/* The responder goes away after reading a call, before any reply byte. */
static void
dies_before_replying(enum kind k)
{
    start(k, UP_TIMEOUT_MS, NULL);
    expect_echo(lookup("before.crash."));
    rbgw_test_assert_false_reply(call(method_call("crash")), NULL);
    expect_echo(lookup("after.crash."));
    assert_initializes(2);
    finish();
}
BOTH(dies_before_replying)

/* The responder goes away in the middle of a reply. */
static void
dies_mid_reply(enum kind k)
{
    start(k, UP_TIMEOUT_MS, NULL);
    rbgw_test_assert_false_reply(call(method_call("crash-mid")), NULL);
    expect_echo(lookup("after.crash-mid."));
    assert_initializes(2);
    finish();
}
BOTH(dies_mid_reply)

/* Replies pdns would choke on become false (never passed through), and the next call works. */
static void
bad_replies_are_false(enum kind k)
{
    static const struct {
        const char *method;
        const char *keyword;
    } cases[] = {
        {"garbage", "JSON"},
        {"noresult", "result"},
        {"nullresult", "null"},
    };
    start(k, UP_TIMEOUT_MS, NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_false(method_call(cases[i].method), cases[i].keyword);
        expect_echo(lookup(rbgw_test_fmt("after.%s.", cases[i].method)));
    }
    finish();
}
BOTH(bad_replies_are_false)

/* A pipe child that dies while initializing: false, rbgw stays up, and once the responder is
 * fixed the next call spawns a good child (retry-after=0: no back-off to wait out). */
Test(jsonstream, pipe_child_crashes_during_initialize, .timeout = 30)
{
    start(PIPE, UP_TIMEOUT_MS, ",retry-after=0");
    cr_assert_eq(fake_json_pipe_flag(dir, "init-crash", true), 0);
    expect_false(lookup("fail1.example."), NULL);
    expect_false(lookup("fail2.example."), NULL);
    cr_assert_eq(fake_json_pipe_flag(dir, "init-crash", false), 0);
    expect_echo(lookup("ok.example."));

    struct fake_json_rec *r;
    size_t n = records(&r);
    cr_assert_eq(count_method(r, n, "initialize"), 3, "expected 3 children, got %zu initializes",
                 count_method(r, n, "initialize"));
    cr_assert_eq(find_rec(r, n, lookup("fail1.example.")), -1,
                 "a call went to a child whose initialize had failed");
    cr_assert_eq(find_rec(r, n, lookup("fail2.example.")), -1,
                 "a call went to a child whose initialize had failed");
    cr_assert_eq(n, 4);
    finish();
}

/* With a back-off in force, the call after a failed initialize fails at once: no new child. */
Test(jsonstream, pipe_initialize_failure_backs_off, .timeout = 30)
{
    start(PIPE, UP_TIMEOUT_MS, ",retry-after=60000");
    cr_assert_eq(fake_json_pipe_flag(dir, "init-crash", true), 0);
    expect_false(lookup("fail1.example."), NULL);
    expect_false(lookup("fail2.example."), "unavailable");
    assert_initializes(1);
    finish();
}

/* pdns keeps using a pipe child whose initialize answered false (§3.1); so does rbgw. */
Test(jsonstream, pipe_initialize_false_child_used_anyway, .timeout = 30)
{
    start(PIPE, UP_TIMEOUT_MS, NULL);
    cr_assert_eq(fake_json_pipe_flag(dir, "init-false", true), 0);
    expect_echo(lookup("www.example.com."));
    assert_initializes(1);
    finish();
}

/* A unix responder that closes during initialize, then one that answers it false (pdns closes
 * such a connection, §3.1): both fail the call; once it answers true, calls work. */
Test(jsonstream, unix_initialize_failures_then_fixed, .timeout = 30)
{
    start(UNIX, UP_TIMEOUT_MS, ",retry-after=0");
    fake_json_set_init(srv, FAKE_JSON_INIT_CLOSE);
    expect_false(lookup("fail1.example."), NULL);
    fake_json_set_init(srv, FAKE_JSON_INIT_FALSE);
    expect_false(lookup("fail2.example."), "initialize");
    fake_json_set_init(srv, FAKE_JSON_INIT_TRUE);
    expect_echo(lookup("ok.example."));

    struct fake_json_rec *r;
    size_t n = records(&r);
    cr_assert_eq(count_method(r, n, "initialize"), 3);
    cr_assert_eq(n, 4, "a call reached a connection whose initialize failed (%zu records)", n);
    cr_assert_eq(fake_json_accepts(srv), 3);
    finish();
}

/* Nobody listens on the path: false at once (a connect error, not a timeout), and calls work
 * as soon as the responder is there. */
Test(jsonstream, unix_responder_down, .timeout = 30)
{
    start_with(UNIX, 60000, ",retry-after=0", true);
    char *line = call(lookup("down.example."));
    rbgw_test_assert_false_reply(line, "connect");
    cr_assert_null(strstr(line, "timed out"), "a refused connect waited for the timeout: <%s>",
                   line);
    srv = fake_json_unix_start(up_path);
    cr_assert_not_null(srv, "cannot start the unix responder: %s", strerror(errno));
    expect_echo(lookup("up.example."));
    assert_initializes(1);
    finish();
}

/* ---- max-conns ---- */

/* rbgw with a unix listener for three concurrent callers (plus the pipe listener as readiness
 * probe), and an upstream of kind k with max-conns=2. */
static const char *
start_three_callers(enum kind k)
{
    setup_dir(k);
    if (k == UNIX) {
        srv = fake_json_unix_start(up_path);
        cr_assert_not_null(srv, "cannot start the unix responder: %s", strerror(errno));
    }
    const char *lpath = rbgw_test_fmt("%s/rbgw.sock", dir);
    const char *args[] = {rbgw_test_fmt("--listen=unix:path=%s", lpath), "--listen=pipe",
                          upstream_arg(10000, ",max-conns=2"), "--log-level=debug", NULL};
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
    cr_assert(fake_json_gw_ready(gw, IO_BOUND_MS), "rbgw did not start; stderr:\n%s", errtail());
    for (size_t i = 0; i < 3; i++) {
        cl[i] = fake_json_connect(lpath);
        cr_assert_not_null(cl[i], "connect %s: %s", lpath, strerror(errno));
    }
    return lpath;
}

static void
client_send(size_t i, const char *line)
{
    rbgw_test_client_send(cl[i], line);
}

static char *
client_read(size_t i)
{
    return rbgw_test_client_read(cl[i], gw);
}

/* Three callers at once, at most two upstream connections: the responder holds the first two
 * calls until both are there, so the third must queue; all three get their own answer. */
Test(jsonstream, unix_max_conns_two_three_callers, .timeout = 30)
{
    start_three_callers(UNIX);
    char *req[3];
    for (size_t i = 0; i < 3; i++) {
        client_send(i, PDNS_INITIALIZE);
        cr_assert_str_eq(client_read(i), "{\"result\":true}");
    }
    for (size_t i = 0; i < 3; i++) {
        req[i] = rbgw_test_fmt("{\"method\": \"hold\", \"parameters\": {\"caller\": %zu}}", i);
        client_send(i, req[i]);
    }
    cr_assert(fake_json_wait_held(srv, 2, IO_BOUND_MS),
              "two calls never reached the responder at once; stderr:\n%s", errtail());
    fake_json_release(srv);
    for (size_t i = 0; i < 3; i++) {
        char *got = client_read(i);
        cr_assert_str_eq(got, echo_of(req[i]), "caller %zu: expected <%s>\ngot <%s>\nstderr:\n%s",
                         i, echo_of(req[i]), got, errtail());
    }
    cr_assert_eq(fake_json_accepts(srv), 2, "max-conns=2 but the responder accepted %u",
                 fake_json_accepts(srv));
    cr_assert_leq(fake_json_max_open(srv), 2);
    struct fake_json_rec *r;
    size_t n = records(&r);
    cr_assert_eq(count_method(r, n, "hold"), 3);
    cr_assert_eq(count_method(r, n, "initialize"), 2);
}

/* The same with pipe children: all three answered by at most two children. */
Test(jsonstream, pipe_max_conns_two_three_callers, .timeout = 30)
{
    start_three_callers(PIPE);
    char *req[3];
    for (size_t i = 0; i < 3; i++) {
        req[i] = lookup(rbgw_test_fmt("caller%zu.example.", i));
        client_send(i, req[i]);
    }
    for (size_t i = 0; i < 3; i++) {
        char *got = client_read(i);
        cr_assert_str_eq(got, echo_of(req[i]), "caller %zu: expected <%s>\ngot <%s>\nstderr:\n%s",
                         i, echo_of(req[i]), got, errtail());
    }
    struct fake_json_rec *r;
    size_t n = records(&r);
    long pids[4];
    size_t npids = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < npids && pids[j] != r[i].conn) {
            j++;
        }
        if (j == npids) {
            cr_assert_lt(npids, 3, "max-conns=2 but at least 3 children were spawned");
            pids[npids++] = r[i].conn;
        }
    }
    cr_assert_eq(count_method(r, n, "initialize"), npids);
}

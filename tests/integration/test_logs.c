/*
 * test_logs.c: what rbgw writes on stderr, and that it never writes it on stdout.
 *
 *   test ──stdin──> rbgw --listen=pipe --log-format=json --access-log=yes ──> fake responder
 *   test <─stdout── replies only          ──stderr──> file, every line parsed as JSON
 *
 * What is checked:
 *   - json: every stderr line is one JSON object (parsed by yajl, which also insists on UTF-8)
 *     with ts, level, pid and msg; an access line per call with the call's request_id,
 *     listener, method, qname, upstream, outcome, elapsed_us and bytes; a failing call's
 *     warning (rbgw's side) and its responder's log lines (the upstream's side) carry the same
 *     request_id as its access line; a qname with quotes, backslashes, control characters and
 *     non-ASCII comes back intact.
 *   - pipe mode with access-log=yes at debug level: stdout holds exactly one reply line per
 *     call and nothing else, in text and in json.
 *   - journald: with JOURNAL_STREAM naming rbgw's stderr every line starts with its syslog
 *     priority; naming another file, no line does.
 *   - a reload (SIGHUP) that changes log-format and access-log: text lines before, JSON from
 *     the reload's own line on, and access lines only for calls after it.
 *   - a flood of failures: in-process against a dead upstream with the log's clock frozen
 *     (no timing), 20000 failed calls write RBGW_LOG_BURST warnings and one summary counting
 *     the rest exactly; through the binary on the real clock, every failed call is a warning
 *     or counted in a summary (shown + counted = calls, whatever the timing).
 *
 * Reads are bounded by RBGW_TEST_IO_MS only so that a broken build fails instead of hanging.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "fake_http.h"
#include "fake_json.h"
#include "itest.h"
#include "netio.h"
#include "rbgw_proc.h"

#include "rbgw/config.h"
#include "rbgw/gateway.h"
#include "rbgw/log.h"

#define PDNS_INITIALIZE                                                                            \
    "{\"method\": \"initialize\", \"parameters\": {\"command\": \"/usr/sbin/rbgw\", \"timeout\": " \
    "\"2000\"}}"
#define LOOKUP_FMT "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"%s\", \"qtype\": \"A\"}}"

static char *dir;
static struct rbgw_proc *gw;
static struct fake_http *http;
static struct fake_json *js;

static void
teardown(void)
{
    rbgw_proc_free(gw);
    gw = NULL;
    if (http) {
        fake_http_stop(http);
        http = NULL;
    }
    fake_json_stop(js);
    js = NULL;
    fake_json_rmtree(dir);
    free(dir);
    dir = NULL;
    rbgw_test_release();
}

static void
setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    dir = fake_json_mkdtemp();
    cr_assert_not_null(dir, "mkdtemp: %s", strerror(errno));
}

TestSuite(logs, .init = setup, .fini = teardown, .timeout = 120);

/* ---- stderr as lines ---- */

struct lines {
    char **v; /* kept */
    size_t n; /* how many */
};

/* rbgw's whole stderr, split at '\n' (the last line must be complete). */
static struct lines
stderr_lines(void)
{
    char *all = rbgw_test_keep(rbgw_proc_stderr(gw, 0));
    size_t len = strlen(all);
    cr_assert(len == 0 || all[len - 1] == '\n', "stderr ends in a partial line:\n%s", all);
    struct lines l = {rbgw_test_keep(calloc(len + 1, sizeof(char *))), 0};
    for (char *p = all, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        *nl = '\0';
        l.v[l.n++] = p;
    }
    return l;
}

/* One parsed JSON log line. */
struct jline {
    const char *text; /* the line */
    yajl_val v;       /* its tree (freed with the test: see jfree) */
};

static yajl_val trees[512];
static size_t ntrees;

static void
jfree(void)
{
    for (size_t i = 0; i < ntrees; i++) {
        yajl_tree_free(trees[i]);
    }
    ntrees = 0;
}

static const char *
jstr(yajl_val v, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val s = yajl_tree_get(v, path, yajl_t_string);
    return s ? YAJL_GET_STRING(s) : NULL;
}

static long long
jnum(yajl_val v, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val s = yajl_tree_get(v, path, yajl_t_number);
    return s && YAJL_IS_INTEGER(s) ? YAJL_GET_INTEGER(s) : -1;
}

/* Every line of stderr parsed; asserts each is an object with ts, level, pid and msg. */
static size_t
json_lines(struct jline *out, size_t max)
{
    struct lines l = stderr_lines();
    cr_assert_leq(l.n, max, "%zu lines", l.n);
    cr_assert_leq(l.n, RBGW_NELEM(trees));
    for (size_t i = 0; i < l.n; i++) {
        char err[256];
        yajl_val v = yajl_tree_parse(l.v[i], err, sizeof(err));
        cr_assert_not_null(v, "stderr line %zu is not JSON (%s): %s", i, err, l.v[i]);
        trees[ntrees++] = v;
        cr_assert(YAJL_IS_OBJECT(v), "line %zu is not an object: %s", i, l.v[i]);
        const char *ts = jstr(v, "ts");
        cr_assert(ts && strlen(ts) == 27 && ts[10] == 'T' && ts[26] == 'Z', "ts in %s", l.v[i]);
        cr_assert_not_null(jstr(v, "level"), "%s", l.v[i]);
        cr_assert_not_null(jstr(v, "msg"), "%s", l.v[i]);
        cr_assert_eq(jnum(v, "pid"), (long long)rbgw_proc_pid(gw), "%s", l.v[i]);
        out[i].text = l.v[i];
        out[i].v = v;
    }
    return l.n;
}

/* The access line of request id, or NULL. */
static const struct jline *
access_of(const struct jline *l, size_t n, long long id)
{
    for (size_t i = 0; i < n; i++) {
        const char *msg = jstr(l[i].v, "msg");
        if (strcmp(msg, "access") == 0 && jnum(l[i].v, "request_id") == id) {
            return &l[i];
        }
    }
    return NULL;
}

static void
expect_field(const struct jline *l, const char *key, const char *want)
{
    const char *got = jstr(l->v, key);
    if (want == NULL) {
        cr_expect_null(got, "%s should have no %s: %s", l->text, key, l->text);
    } else {
        cr_expect(got && strcmp(got, want) == 0, "%s: %s, want %s", key, l->text, want);
    }
}

static void
finish(void)
{
    rbgw_test_assert_stdout_ends(gw);
    rbgw_test_assert_exit_0(gw);
}

/* ---- json lines, end to end ---- */

Test(logs, json_lines_carry_the_call)
{
    http = fake_http_start();
    cr_assert_not_null(http);
    fake_http_push_json(http, "{\"result\":[{\"qtype\":\"A\",\"qname\":\"www.example.com.\","
                              "\"content\":\"192.0.2.1\",\"ttl\":300}],\"log\":[\"found it\"]}");
    struct fake_http_action fail = {
        .kind = FAKE_HTTP_RESPOND,
        .status = 500,
        .body = "{\"result\":false,\"log\":[\"backend db down\",\"retry \\\"later\\\"\"]}",
    };
    fake_http_push(http, &fail);
    fake_http_push_json(http, "{\"result\":[]}");
    fake_http_push_json(http, "{\"result\":false}");
    const char *up = rbgw_test_fmt("--upstream=http:url=http://127.0.0.1:%u/dns,name=web,"
                                   "timeout=10000",
                                   fake_http_port(http));
    const char *args[] = {"--listen=pipe", up, "--log-format=json", "--access-log=yes", NULL};
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw);

    const char *r0 = rbgw_test_call(gw, PDNS_INITIALIZE);
    const char *r1 = rbgw_test_call(gw, rbgw_test_fmt(LOOKUP_FMT, "www.example.com."));
    const char *r2 = rbgw_test_call(gw, rbgw_test_fmt(LOOKUP_FMT, "bad.example."));
    const char *r3 = rbgw_test_call(gw, "{\"method\": \"getAllDomains\", \"parameters\": "
                                        "{\"include_disabled\": true}}");
    /* A qname pdns could send: quote, backslash, a control character, non-ASCII. */
    const char *r4 =
        rbgw_test_call(gw, rbgw_test_fmt(LOOKUP_FMT, "we\\\"ird\\\\\\u0001\\u00e9.example."));
    cr_assert_str_eq(r0, "{\"result\":true}");
    cr_assert(strstr(r1, "found it"), "%s", r1);
    rbgw_test_assert_false_reply(r2, "500");
    cr_assert_str_eq(r3, "{\"result\":[]}");
    cr_assert_str_eq(r4, "{\"result\":false}");
    rbgw_proc_close_stdin(gw);
    finish();

    struct jline l[64];
    size_t n = json_lines(l, RBGW_NELEM(l));

    /* Request ids are 1..5 in the order sent. */
    const struct jline *a0 = access_of(l, n, 1), *a1 = access_of(l, n, 2), *a2 = access_of(l, n, 3),
                       *a3 = access_of(l, n, 4), *a4 = access_of(l, n, 5);
    cr_assert(a0 && a1 && a2 && a3 && a4, "an access line is missing:\n%s", rbgw_test_stderr(gw));

    expect_field(a0, "method", "initialize");
    expect_field(a0, "outcome", "ok");
    expect_field(a0, "upstream", NULL);
    expect_field(a0, "listener", "pipe");
    cr_expect_eq(jnum(a0->v, "bytes"), 15, "%s", a0->text);

    expect_field(a1, "level", "info");
    expect_field(a1, "method", "lookup");
    expect_field(a1, "qname", "www.example.com.");
    expect_field(a1, "upstream", "web");
    expect_field(a1, "listener", "pipe");
    expect_field(a1, "outcome", "ok");
    cr_expect_eq(jnum(a1->v, "bytes"), (long long)strlen(r1), "%s", a1->text);
    cr_expect_geq(jnum(a1->v, "elapsed_us"), 0, "%s", a1->text);

    expect_field(a2, "outcome", "protocol");
    expect_field(a2, "qname", "bad.example.");
    cr_expect_eq(jnum(a2->v, "bytes"), (long long)strlen(r2), "%s", a2->text);

    expect_field(a3, "method", "getAllDomains");
    expect_field(a3, "qname", NULL);
    expect_field(a3, "outcome", "ok");

    expect_field(a4, "outcome", "false");
    expect_field(a4, "qname", "we\"ird\\\x01\xc3\xa9.example.");

    /* The responder's line of call 2 is at info, with the upstream's name. */
    size_t found = 0, fail_warn = 0, fail_resp = 0;
    for (size_t i = 0; i < n; i++) {
        const char *msg = jstr(l[i].v, "msg");
        const char *src = jstr(l[i].v, "source");
        long long id = jnum(l[i].v, "request_id");
        if (src && strcmp(msg, "found it") == 0) {
            cr_expect_eq(id, 2, "%s", l[i].text);
            expect_field(&l[i], "upstream", "web");
            expect_field(&l[i], "level", "info");
            expect_field(&l[i], "source", "responder");
            expect_field(&l[i], "qname", "www.example.com.");
            found++;
        }
        /* Call 3 failed: rbgw's warning and the responder's two lines, one request id. */
        if (id == 3 && src == NULL && strcmp(msg, "access") != 0) {
            expect_field(&l[i], "level", "warning");
            expect_field(&l[i], "upstream", "web");
            expect_field(&l[i], "method", "lookup");
            cr_expect(strstr(msg, "HTTP status 500"), "%s", l[i].text);
            fail_warn++;
        }
        if (src && (strcmp(msg, "backend db down") == 0 || strcmp(msg, "retry \"later\"") == 0)) {
            cr_expect_eq(id, 3, "the responder's line has another id: %s", l[i].text);
            expect_field(&l[i], "upstream", "web");
            expect_field(&l[i], "level", "info");
            fail_resp++;
        }
    }
    cr_expect_eq(found, 1, "%s", rbgw_test_stderr(gw));
    cr_expect_eq(fail_warn, 1, "%s", rbgw_test_stderr(gw));
    cr_expect_eq(fail_resp, 2, "%s", rbgw_test_stderr(gw));
    jfree();
}

/* ---- stdout holds replies only ---- */

static void
stdout_only_replies(const char *format)
{
    const char *sock = rbgw_test_fmt("%s/up.sock", dir);
    js = fake_json_unix_start(sock);
    cr_assert_not_null(js);
    const char *up = rbgw_test_fmt("--upstream=unix:path=%s,name=js,timeout=10000", sock);
    const char *args[] = {"--listen=pipe",     up,  format, "--access-log=yes",
                          "--log-level=debug", NULL};
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw);
    /* initialize (local), echo, a reply with log lines, a refused reply, a malformed call. */
    const char *calls[] = {
        PDNS_INITIALIZE,
        "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"a.example.\"}}",
        "{\"method\": \"pieces\", \"parameters\": {}}",
        "{\"method\": \"noresult\", \"parameters\": {}}",
        "{\"method\": 17}",
    };
    for (size_t i = 0; i < RBGW_NELEM(calls); i++) {
        char *line = rbgw_test_call(gw, calls[i]);
        char err[200];
        yajl_val v = yajl_tree_parse(line, err, sizeof(err));
        cr_assert_not_null(v, "stdout line %zu is not JSON: %s", i, line);
        const char *path[] = {"result", NULL};
        cr_assert_not_null(yajl_tree_get(v, path, yajl_t_any), "not a reply: %s", line);
        yajl_tree_free(v);
    }
    rbgw_proc_close_stdin(gw);
    finish();
    /* The logs went somewhere: stderr, an access line per call. */
    struct lines l = stderr_lines();
    size_t access = 0;
    for (size_t i = 0; i < l.n; i++) {
        access += strstr(l.v[i], "\"msg\":\"access\"") != NULL ||
                  strstr(l.v[i], "info: access req=") != NULL;
    }
    cr_expect_eq(access, RBGW_NELEM(calls), "%s", rbgw_test_stderr(gw));
    cr_expect(rbgw_test_stderr_has(gw, "in pieces"), "the responder's line is on stderr");
}

Test(logs, pipe_stdout_only_replies_text)
{
    stdout_only_replies("--log-format=text");
}

Test(logs, pipe_stdout_only_replies_json)
{
    stdout_only_replies("--log-format=json");
}

/* ---- journald ---- */

/* rbgw through /bin/sh, with JOURNAL_STREAM set to `stream` (sh expands it, so
 * "$(stat ...)" can name the very file sh's stderr, and so rbgw's, is). */
static void
spawn_with_journal(const char *stream, const char *format)
{
    const char *script = rbgw_test_fmt("JOURNAL_STREAM=%s exec \"$0\" \"$@\"", stream);
    const char *binary = getenv("RBGW_ITEST_BINARY");
    const char *args[] = {"-c",
                          script,
                          binary && *binary ? binary : RBGW_BINARY,
                          "--listen=pipe",
                          "--upstream=unix:path=/nonexistent/up.sock,name=gone",
                          format,
                          NULL};
    gw = rbgw_proc_spawn("/bin/sh", args);
    cr_assert_not_null(gw);
    rbgw_test_call(gw, PDNS_INITIALIZE);
    rbgw_test_assert_false_reply(rbgw_test_call(gw, rbgw_test_fmt(LOOKUP_FMT, "x.example.")), NULL);
    rbgw_proc_close_stdin(gw);
    finish();
}

Test(logs, journald_priority_prefix)
{
    spawn_with_journal("$(stat -L -c %d:%i /dev/fd/2)", "--log-format=text");
    struct lines l = stderr_lines();
    size_t warn = 0, info = 0;
    cr_assert_gt(l.n, 0);
    for (size_t i = 0; i < l.n; i++) {
        cr_expect(l.v[i][0] == '<' && l.v[i][2] == '>' && strchr("3467", l.v[i][1]),
                  "no priority prefix: %s", l.v[i]);
        warn += strncmp(l.v[i], "<4>rbgw[", 8) == 0 && strstr(l.v[i], "]: warning: req=2 ");
        info += strncmp(l.v[i], "<6>rbgw[", 8) == 0 && strstr(l.v[i], "]: info: ");
    }
    cr_expect_eq(warn, 1, "the failed call's warning at <4>:\n%s", rbgw_test_stderr(gw));
    cr_expect_gt(info, 0, "the start-up lines at <6>:\n%s", rbgw_test_stderr(gw));
}

Test(logs, journald_json_lines_keep_the_prefix_outside)
{
    spawn_with_journal("$(stat -L -c %d:%i /dev/fd/2)", "--log-format=json");
    struct lines l = stderr_lines();
    cr_assert_gt(l.n, 0);
    for (size_t i = 0; i < l.n; i++) {
        cr_expect(l.v[i][0] == '<' && l.v[i][2] == '>' && l.v[i][3] == '{', "%s", l.v[i]);
        char err[200];
        yajl_val v = yajl_tree_parse(l.v[i] + 3, err, sizeof(err));
        cr_expect_not_null(v, "not JSON after the prefix: %s", l.v[i]);
        yajl_tree_free(v);
    }
}

Test(logs, journal_stream_of_another_file_is_ignored)
{
    spawn_with_journal("$(stat -L -c %d:%i /dev/null)", "--log-format=text");
    struct lines l = stderr_lines();
    cr_assert_gt(l.n, 0);
    for (size_t i = 0; i < l.n; i++) {
        cr_expect(strncmp(l.v[i], "rbgw[", 5) == 0, "unexpected prefix: %s", l.v[i]);
    }
}

/* ---- a reload switches the format ---- */

static void
write_conf(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

Test(logs, reload_switches_format_and_access_log)
{
    const char *conf = rbgw_test_fmt("%s/rbgw.conf", dir);
    const char *base =
        rbgw_test_fmt("listen=pipe\nupstream=unix:path=%s/nobody.sock,name=dead\n", dir);
    write_conf(conf, rbgw_test_fmt("%slog-format=text\n", base));
    const char *args[] = {rbgw_test_fmt("--config=%s", conf), NULL};
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw);
    rbgw_test_assert_false_reply(rbgw_test_call(gw, rbgw_test_fmt(LOOKUP_FMT, "a.example.")), NULL);
    write_conf(conf, rbgw_test_fmt("%slog-format=json\naccess-log=yes\n", base));
    cr_assert_eq(kill(rbgw_proc_pid(gw), SIGHUP), 0);
    /* The reload's own line is the first one in the new format (a bounded poll). */
    const char *in_force = "\"msg\":\"reload: generation 2 in force";
    long deadline = rbgw_test_now_ms() + RBGW_TEST_IO_MS;
    while (!rbgw_test_stderr_has(gw, in_force)) {
        cr_assert_lt(rbgw_test_now_ms(), deadline, "no json reload line:\n%s",
                     rbgw_test_stderr(gw));
        usleep(1000);
    }
    rbgw_test_assert_false_reply(rbgw_test_call(gw, rbgw_test_fmt(LOOKUP_FMT, "b.example.")), NULL);
    rbgw_proc_close_stdin(gw);
    finish();
    struct lines l = stderr_lines();
    size_t i = 0, access = 0;
    for (; i < l.n && !strstr(l.v[i], in_force); i++) {
        cr_expect(strncmp(l.v[i], "rbgw[", 5) == 0, "before the reload, text: %s", l.v[i]);
        cr_expect_null(strstr(l.v[i], "access"), "no access line before: %s", l.v[i]);
    }
    cr_assert_lt(i, l.n);
    for (; i < l.n; i++) {
        char err[200];
        yajl_val v = yajl_tree_parse(l.v[i], err, sizeof(err));
        cr_expect_not_null(v, "after the reload, json: %s", l.v[i]);
        if (v && strcmp(jstr(v, "msg"), "access") == 0) {
            cr_expect_eq(jnum(v, "request_id"), 2, "%s", l.v[i]);
            access++;
        }
        yajl_tree_free(v);
    }
    cr_expect_eq(access, 1, "%s", rbgw_test_stderr(gw));
}

/* ---- floods ---- */

static uint64_t frozen_ns = 5000000000ull;

static uint64_t
frozen(void)
{
    return frozen_ns;
}

static void
on_reply(struct rbgw_request *req, struct rbgw_str reply)
{
    bool *done = req->origin;
    RBGW_UNUSED(reply);
    *done = true;
}

/* Read fd's whole content. */
static char *
slurp(int fd)
{
    off_t end = lseek(fd, 0, SEEK_END);
    cr_assert_geq(end, 0);
    char *buf = rbgw_test_keep(malloc((size_t)end + 1));
    cr_assert_eq(pread(fd, buf, (size_t)end, 0), end);
    buf[end] = '\0';
    return buf;
}

static size_t
count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
        n++;
    }
    return n;
}

Test(logs, flood_against_a_dead_upstream_is_counted)
{
    /* The gateway in this process, its log in a file and on a clock that does not move: every
     * failure falls in one window, whatever the machine's speed. */
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    rbgw_log_set_fd(fileno(f));
    rbgw_log_set_clocks(frozen, NULL);
    const char *up = rbgw_test_fmt("--upstream=unix:path=%s/nobody.sock,name=dead", dir);
    /* A unix listener nobody uses keeps the gateway from stopping. */
    const char *argv[] = {"rbgw", rbgw_test_fmt("--listen=unix:path=%s/gw.sock", dir), up, NULL};
    struct rbgw_config cfg;
    char err[512];
    cr_assert_eq(rbgw_config_load(&cfg, 3, (char **)argv, err, sizeof(err)), 0, "%s", err);
    rbgw_log_configure(&cfg);
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct rbgw_gateway g;
    cr_assert_eq(rbgw_gateway_init(&g, &loop, &cfg, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(rbgw_gateway_start(&g, err, sizeof(err)), 0, "%s", err);
    struct rbgw_session *s = rbgw_session_new(&g, NULL);
    const char *call = "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"x.example.\"}}";
    enum { CALLS = 20000 };
    for (int i = 0; i < CALLS; i++) {
        bool done = false;
        struct rbgw_request *req = rbgw_request_new(s, call, strlen(call), &done, on_reply);
        rbgw_request_dispatch(req);
        while (!done) {
            uv_run(&loop, UV_RUN_ONCE);
        }
        rbgw_request_unref(req);
    }
    rbgw_session_gone(s, "the test ended");
    rbgw_gateway_stop(&g);
    uv_run(&loop, UV_RUN_DEFAULT);
    rbgw_gateway_deinit(&g);
    cr_expect_eq(uv_loop_close(&loop), 0);
    rbgw_config_free(&cfg);
    rbgw_log_flush();

    const char *out = slurp(fileno(f));
    size_t warnings = count(out, "warning: req=");
    cr_expect_eq(warnings, RBGW_LOG_BURST, "%zu failure lines:\n%.2000s", warnings, out);
    char want[160];
    snprintf(want, sizeof(want),
             "warning: u=dead: calls answered false (%d similar messages suppressed in the last "
             "0.0 s)\n",
             CALLS - RBGW_LOG_BURST);
    cr_expect_eq(count(out, want), 1, "no summary '%s' in:\n%.3000s", want, out);
    /* Bounded whatever the number of calls: a few kinds of limited lines (failed calls, failed
     * checks, connection errors), each at most a burst and a summary, and a few single ones. */
    cr_expect_leq(count(out, "\n"), 3 * (RBGW_LOG_BURST + 1) + 4, "too many lines:\n%.3000s", out);
    fclose(f);
}

Test(logs, flood_through_the_binary_adds_up)
{
    /* On the real clock the windows fall where they fall; what holds whatever the timing is
     * that every failed call is either written or counted, exactly once. */
    const char *up = rbgw_test_fmt("--upstream=unix:path=%s/nobody.sock,name=dead", dir);
    const char *args[] = {"--listen=pipe", up, NULL};
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw);
    enum { CALLS = 3000 };
    const char *call = "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"x.example.\"}}\n";
    for (int i = 0; i < CALLS; i++) {
        cr_assert_eq(rbgw_proc_write_str(gw, call), 0);
        rbgw_test_assert_false_reply(rbgw_test_read_line(gw), NULL);
    }
    rbgw_proc_close_stdin(gw);
    finish();
    struct lines l = stderr_lines();
    unsigned long long shown = 0, counted = 0, summaries = 0;
    for (size_t i = 0; i < l.n; i++) {
        const char *sum = strstr(l.v[i], "u=dead: calls answered false (");
        if (sum) {
            unsigned long long k =
                strtoull(sum + strlen("u=dead: calls answered false ("), NULL, 10);
            cr_expect_gt(k, 0, "%s", l.v[i]);
            counted += k;
            summaries++;
        } else if (strstr(l.v[i], "warning: req=")) {
            shown++;
        }
    }
    cr_expect_eq(shown + counted, CALLS, "%llu written + %llu counted in %llu summaries", shown,
                 counted, summaries);
}

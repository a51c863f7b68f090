/*
 * test_pipe_http.c: the rbgw binary as pdns's pipe co-process, forwarding to an HTTP responder.
 *
 *   test ──stdin──> rbgw --listen=pipe --upstream=http:... ──HTTP──> fake_http (thread)
 *   test <─stdout── (one JSON line per request)          <───────── (scripted replies)
 *
 * What is checked (docs/protocol.md §1.3, §4.1, §4.4-§5.3, §8): initialize is answered locally; the
 * REST/post/post_json requests rbgw sends; that responder bodies come back unchanged on one
 * line (with squeeze=1, only the whitespace between their tokens dropped); that every failure mode
 * of the responder (refused, stalled, bad status, bad body, closed connections) still yields
 * exactly one {"result":false,"log":["rbgw: ..."]} line; keep-alive reuse and the one retry on a
 * pooled connection closed before any reply byte; chunked and split responses; the stdin framing
 * rules; and a clean exit 0 at EOF with nothing on stdout but reply lines.
 *
 * Every test ends with finish(): close stdin, require stdout to reach EOF with no stray bytes,
 * and exit status 0.  Reads are bounded by IO_BOUND_MS only so a broken build fails instead of
 * hanging.  Short rbgw timeouts (timeout=300, connect-timeout=200, idle-timeout=50) only make
 * the timeout tests quick; the tests wait for the resulting event (reply, close), never for a
 * duration.  The one pause is request_split_across_writes's absence check (no early reply).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "fake_http.h"
#include "itest.h"
#include "netio.h"
#include "rbgw_proc.h"

#define IO_BOUND_MS 10000  /* safety bound for one read/wait, not a timing assertion */
#define UP_TIMEOUT_MS 5000 /* rbgw's upstream timeout where no timeout is being tested */

/* pdns's own serialisation (§1.1): sorted keys, ", " and ": " separators, one line. */
#define LOOKUP_FMT                                                                                 \
    "{\"method\": \"lookup\", \"parameters\": {\"local\": \"192.0.2.53\", \"qname\": \"%s\", "     \
    "\"qtype\": \"%s\", \"real-remote\": \"198.51.100.0/24\", \"remote\": \"198.51.100.7\", "      \
    "\"zone-id\": %d}}"
#define LOOKUP_WWW                                                                                 \
    "{\"method\": \"lookup\", \"parameters\": {\"local\": \"192.0.2.53\", \"qname\": "             \
    "\"www.example.com.\", \"qtype\": \"A\", \"real-remote\": \"198.51.100.0/24\", \"remote\": "   \
    "\"198.51.100.7\", \"zone-id\": 5}}"
#define WWW_TARGET "/dns/lookup/www%2eexample%2ecom%2e/A"
#define INITIALIZE                                                                                 \
    "{\"method\": \"initialize\", \"parameters\": {\"command\": \"/usr/bin/rbgw --listen=pipe\", " \
    "\"timeout\": \"2000\"}}"
#define BODY_WWW                                                                                   \
    "{\"result\":[{\"qtype\":\"A\",\"qname\":\"www.example.com.\",\"content\":\"192.0.2.10\","     \
    "\"ttl\":300,\"domain_id\":5,\"auth\":1}],\"log\":[\"served by fake_http\"]}"

static struct fake_http *srv; /* the responder of the current test, or NULL */
static struct rbgw_proc *gw;  /* the rbgw child of the current test, or NULL */
static int held_fd = -1;      /* a bound, non-listening socket (refused port), or -1 */

static void
teardown(void)
{
    rbgw_proc_free(gw);
    gw = NULL;
    fake_http_stop(srv);
    srv = NULL;
    if (held_fd >= 0) {
        close(held_fd);
        held_fd = -1;
    }
    rbgw_test_release();
}

TestSuite(pipe_http, .fini = teardown, .timeout = 30);

/* ---- helpers ---- */

/* The tail of rbgw's stderr, for failure messages. */
static const char *
errtail(void)
{
    return rbgw_test_stderr(gw);
}

/* Spawn rbgw: pipe listener, http upstream to port with timeout_ms and extra connstr options,
 * plus up to two extra command-line arguments (NULL if unused). */
/* The pipe listener as rbgw is started with (tests of squeeze=1 change it). */
static const char *listen_arg = "--listen=pipe";

static void
start_gw_port(int port, int timeout_ms, const char *opts, const char *arg1, const char *arg2)
{
    char *up = rbgw_test_fmt("--upstream=http:url=http://127.0.0.1:%d/dns,timeout=%d%s", port,
                             timeout_ms, opts ? opts : "");
    const char *args[] = {listen_arg, up, "--log-level=debug", arg1, arg2, NULL};
    if (!arg1) {
        args[3] = arg2;
        args[4] = NULL;
    }
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw, "cannot spawn %s: %s", RBGW_BINARY, strerror(errno));
}

/* Start the fake responder and rbgw pointing at it. */
static void
start(const char *opts, int timeout_ms, const char *arg)
{
    srv = fake_http_start();
    cr_assert_not_null(srv, "cannot start the fake HTTP responder");
    start_gw_port(fake_http_port(srv), timeout_ms, opts, arg, NULL);
}

/* A port on 127.0.0.1 where nothing listens: bound (so nobody else takes it) but not listening,
 * so a connect gets ECONNREFUSED. */
static int
refused_port(void)
{
    uint16_t port = 0;
    held_fd = rbgw_test_tcp_bind(&port);
    cr_assert_geq(held_fd, 0, "cannot bind a port on 127.0.0.1: %s", strerror(errno));
    return port;
}

static void
send_raw(const char *bytes, size_t len)
{
    int rc = rbgw_proc_write(gw, bytes, len);
    cr_assert_eq(rc, 0, "writing to rbgw's stdin failed: %s; rbgw stderr:\n%s", strerror(-rc),
                 errtail());
}

static void
send_str(const char *s)
{
    send_raw(s, strlen(s));
}

/* Parse a reply line; it must be a JSON object with a non-null "result". */
static yajl_val
parse_reply(const char *line)
{
    char err[256] = "";
    yajl_val v = yajl_tree_parse(line, err, sizeof(err));
    cr_assert_not_null(v, "stdout line is not JSON (%s): <%s>; rbgw stderr:\n%s", err, line,
                       errtail());
    cr_assert(YAJL_IS_OBJECT(v), "stdout line is not a JSON object: <%s>", line);
    const char *path[] = {"result", NULL};
    yajl_val r = yajl_tree_get(v, path, yajl_t_any);
    cr_assert_not_null(r, "stdout line has no \"result\": <%s>", line);
    cr_assert(!YAJL_IS_NULL(r), "stdout line has \"result\": null: <%s>", line);
    return v;
}

/* Read one reply line (bounded), and check it is a reply object. */
static char *
read_reply(void)
{
    char *line = rbgw_test_read_line(gw);
    yajl_tree_free(parse_reply(line));
    return line;
}

/* Send one request line and return its reply line. */
static char *
call(const char *request)
{
    send_str(request);
    send_str("\n");
    return read_reply();
}

static char *
lookup_req(const char *qname, const char *qtype, int zone_id)
{
    return rbgw_test_fmt(LOOKUP_FMT, qname, qtype, zone_id);
}

static void
assert_result_true(const char *line)
{
    yajl_val v = parse_reply(line);
    const char *path[] = {"result", NULL};
    yajl_val r = yajl_tree_get(v, path, yajl_t_any);
    cr_assert(YAJL_IS_TRUE(r), "expected \"result\": true, got <%s>", line);
    yajl_tree_free(v);
}

/* The i-th log string of a reply, or NULL. */
static const char *
log_entry(yajl_val v, size_t i)
{
    const char *path[] = {"log", NULL};
    yajl_val log = yajl_tree_get(v, path, yajl_t_array);
    if (!log || i >= log->u.array.len || !YAJL_IS_STRING(log->u.array.values[i])) {
        return NULL;
    }
    return YAJL_GET_STRING(log->u.array.values[i]);
}

/* A failure reply: result false, log[0] a string starting "rbgw: " and containing keyword
 * (case-insensitive) if keyword is not NULL.  Returns the parsed tree (caller may inspect). */
static yajl_val
assert_false_reply(const char *line, const char *keyword)
{
    rbgw_test_assert_false_reply(line, keyword);
    return parse_reply(line);
}

/* The responder answers `body` to the next request; rbgw must pass it through unchanged. */
static void
expect_passthrough(const char *request, const char *body)
{
    fake_http_push_json(srv, body);
    char *line = call(request);
    cr_assert_str_eq(line, body, "reply differs from the responder's body; rbgw stderr:\n%s",
                     errtail());
}

/* After a failure, a good call must work again. */
static void
expect_recovery(void)
{
    expect_passthrough(LOOKUP_WWW, BODY_WWW);
}

/* Close stdin: stdout must reach EOF with nothing more on it, and rbgw must exit 0. */
static void
finish(void)
{
    rbgw_test_assert_stdout_ends(gw);
    rbgw_test_assert_exit_0(gw);
}

static const struct fake_http_request *
req_at(size_t i)
{
    const struct fake_http_request *r = fake_http_request(srv, i);
    cr_assert_not_null(r, "the responder has no request #%zu (it has %zu)", i,
                       fake_http_nrequests(srv));
    return r;
}

static void
assert_header(const struct fake_http_request *r, const char *name, const char *value)
{
    const char *v = fake_http_header(r, name);
    cr_assert_not_null(v, "request has no %s header:\n%s", name, r->raw);
    cr_assert_str_eq(v, value, "header %s: expected <%s>, got <%s>", name, value, v);
}

static int
hexval(int c)
{
    return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

/* Percent-decode s (which must only hold alphanumerics and %xx with lowercase hex, §5.1). */
static char *
pct_decode_strict(const char *s)
{
    char *out = rbgw_test_keep(malloc(strlen(s) + 1));
    size_t n = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '%') {
            cr_assert(isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2]),
                      "bad %% escape in <%s>", s);
            cr_assert(!isupper((unsigned char)p[1]) && !isupper((unsigned char)p[2]),
                      "upper-case hex in <%s> (pdns writes lower case)", s);
            out[n++] = (char)(hexval(p[1]) * 16 + hexval(p[2]));
            p += 2;
        } else {
            cr_assert(isalnum((unsigned char)*p), "byte '%c' not percent-encoded in <%s>", *p, s);
            out[n++] = *p;
        }
    }
    out[n] = '\0';
    return out;
}

static void
assert_json_string(yajl_val obj, const char *key, const char *expected)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(obj, path, yajl_t_string);
    cr_assert_not_null(v, "no string \"%s\"", key);
    cr_assert_str_eq(YAJL_GET_STRING(v), expected, "\"%s\"", key);
}

/* ---- initialize ---- */

Test(pipe_http, initialize_is_answered_locally, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    char *line = call(INITIALIZE);
    assert_result_true(line);
    expect_recovery();
    cr_assert_eq(fake_http_nrequests(srv), 1, "initialize reached the responder");
    cr_assert_str_eq(req_at(0)->target, WWW_TARGET);
    finish();
}

Test(pipe_http, initialize_is_true_even_with_responder_down, .timeout = 30)
{
    start_gw_port(refused_port(), UP_TIMEOUT_MS, NULL, NULL, NULL);
    assert_result_true(call(INITIALIZE));
    finish();
}

/* ---- REST request shape and reply passthrough ---- */

Test(pipe_http, lookup_goes_out_as_rest_get, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    expect_passthrough(LOOKUP_WWW, BODY_WWW);
    cr_assert_eq(fake_http_nrequests(srv), 1);
    const struct fake_http_request *r = req_at(0);
    cr_assert_str_eq(r->method, "GET", "request:\n%s", r->raw);
    cr_assert_str_eq(r->target, WWW_TARGET, "request:\n%s", r->raw);
    cr_assert_str_eq(r->version, "HTTP/1.1", "request:\n%s", r->raw);
    assert_header(r, "X-Remotebackend-Local", "192.0.2.53");
    assert_header(r, "X-Remotebackend-Remote", "198.51.100.7");
    assert_header(r, "X-Remotebackend-Real-Remote", "198.51.100.0/24");
    assert_header(r, "X-Remotebackend-Zone-Id", "5");
    cr_assert_eq(fake_http_count_headers(r, "X-Remotebackend-"), 4,
                 "unexpected X-Remotebackend-* headers:\n%s", r->raw);
    cr_assert_not_null(fake_http_header(r, "Host"), "HTTP/1.1 request without Host:\n%s", r->raw);
    cr_assert_eq(r->body_len, 0, "GET with a body:\n%s", r->raw);
    finish();
}

Test(pipe_http, lookup_path_encodes_every_non_alnum_byte, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    /* qname we/ird\032na_me.example.com. (a DNSName escape, JSON-escaped once more) */
    char *req = lookup_req("we/ird\\\\032na_me.example.com.", "TYPE65534", -1);
    expect_passthrough(req, "{\"result\":false}");
    const struct fake_http_request *r = req_at(0);
    cr_assert_str_eq(r->target, "/dns/lookup/we%2fird%5c032na%5fme%2eexample%2ecom%2e/TYPE65534",
                     "request:\n%s", r->raw);
    assert_header(r, "X-Remotebackend-Zone-Id", "-1");
    finish();
}

Test(pipe_http, pretty_printed_reply_body_becomes_one_line, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    const char *pretty = "{\n  \"result\": [\n    {\n      \"qtype\": \"A\",\n"
                         "      \"qname\": \"www.example.com.\",\n"
                         "      \"content\": \"192.0.2.10\",\n      \"ttl\": 300\n    }\n  ],\n"
                         "  \"log\": [\n    \"pretty\"\n  ]\n}";
    char *expected = rbgw_test_keep(strdup(pretty));
    for (char *p = expected; *p; p++) {
        if (*p == '\n') {
            *p = ' ';
        }
    }
    fake_http_push_json(srv, pretty);
    char *line = call(LOOKUP_WWW);
    cr_assert_str_eq(line, expected, "raw newlines should become spaces, nothing else changes");
    finish();
}

Test(pipe_http, squeezed_pretty_printed_reply_body_becomes_one_short_line, .timeout = 30)
{
    listen_arg = "--listen=pipe:squeeze=1";
    start(NULL, UP_TIMEOUT_MS, NULL);
    /* Whitespace between tokens goes (pdns reads the pipe one byte per read()); inside strings
     * it stays, and escaped quotes and a string ending in an escaped backslash do not end or
     * extend a string early. */
    const char *pretty = "\n{\n  \"result\": [\n    {\n      \"qtype\": \"TXT\",\n"
                         "      \"qname\": \"www.example.com.\",\n"
                         "      \"content\": \"\\\"a  b\\\" c, d: \\\\\",\r\n\t\"ttl\": 300\n"
                         "    }\n  ],\n  \"log\": [\n    \"pretty, printed: yes\"\n  ]\n}\n";
    const char *expected = "{\"result\":[{\"qtype\":\"TXT\",\"qname\":\"www.example.com.\","
                           "\"content\":\"\\\"a  b\\\" c, d: \\\\\",\"ttl\":300}],"
                           "\"log\":[\"pretty, printed: yes\"]}";
    fake_http_push_json(srv, pretty);
    char *line = call(LOOKUP_WWW);
    cr_assert_str_eq(line, expected, "whitespace outside strings should go, nothing else");
    finish();
}

Test(pipe_http, squeezed_python_style_reply_is_written_without_separator_spaces, .timeout = 30)
{
    listen_arg = "--listen=pipe:squeeze=1";
    start(NULL, UP_TIMEOUT_MS, NULL);
    fake_http_push_json(srv, "{\"result\": [{\"qtype\": \"A\", \"qname\": \"www.example.com.\", "
                             "\"content\": \"192.0.2.10\", \"ttl\": 300}]}");
    char *line = call(LOOKUP_WWW);
    cr_assert_str_eq(line,
                     "{\"result\":[{\"qtype\":\"A\",\"qname\":\"www.example.com.\","
                     "\"content\":\"192.0.2.10\",\"ttl\":300}]}",
                     "the same value, without the separators' spaces");
    finish();
}

Test(pipe_http, large_reply_body_passes_through, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    size_t cap = 400000, len = 0;
    char *body = rbgw_test_keep(malloc(cap));
    len += (size_t)snprintf(body + len, cap - len, "{\"result\":[");
    for (int i = 0; i < 3000; i++) {
        len += (size_t)snprintf(body + len, cap - len,
                                "%s{\"qtype\":\"A\",\"qname\":\"h%d.example.com.\","
                                "\"content\":\"192.0.%d.%d\",\"ttl\":300}",
                                i ? "," : "", i, i / 256, i % 256);
    }
    len += (size_t)snprintf(body + len, cap - len, "]}");
    cr_assert_lt(len, cap);
    expect_passthrough(LOOKUP_WWW, body);
    finish();
}

/* ---- failures ---- */

Test(pipe_http, responder_down_answers_false, .timeout = 30)
{
    start_gw_port(refused_port(), UP_TIMEOUT_MS, NULL, NULL, NULL);
    yajl_tree_free(assert_false_reply(call(LOOKUP_WWW), NULL));
    /* and again: a failed connect must not wedge the upstream */
    yajl_tree_free(assert_false_reply(call(LOOKUP_WWW), NULL));
    finish();
}

Test(pipe_http, stalled_responder_times_out_with_false, .timeout = 30)
{
    srv = fake_http_start();
    cr_assert_not_null(srv);
    struct fake_http_action stall = {.kind = FAKE_HTTP_STALL};
    fake_http_push(srv, &stall);
    start_gw_port(fake_http_port(srv), 300, NULL, NULL, NULL);
    yajl_tree_free(assert_false_reply(call(LOOKUP_WWW), "timed out"));
    /* a connection with an outstanding reply is never reused: rbgw closes it */
    cr_assert(fake_http_wait_closes(srv, 1, IO_BOUND_MS),
              "rbgw did not close the stalled connection; stderr:\n%s", errtail());
    expect_recovery();
    cr_assert_eq(fake_http_nrequests(srv), 2);
    cr_assert_neq(req_at(1)->conn, req_at(0)->conn, "the stalled connection was reused");
    finish();
}

Test(pipe_http, http_500_answers_false, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    struct fake_http_action a = {.status = 500, .content_type = "text/plain", .body = "oops"};
    fake_http_push(srv, &a);
    yajl_tree_free(assert_false_reply(call(LOOKUP_WWW), "HTTP status 500"));
    expect_recovery();
    finish();
}

Test(pipe_http, http_500_json_log_follows_rbgw_log, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    /* result true inside a 500 must not turn it into a success */
    struct fake_http_action a = {
        .status = 500, .body = "{\"result\":true,\"log\":[\"backend exploded\",\"second line\"]}"};
    fake_http_push(srv, &a);
    char *line = call(LOOKUP_WWW);
    yajl_val v = assert_false_reply(line, "HTTP status 500");
    cr_assert_str_eq(log_entry(v, 1) ? log_entry(v, 1) : "(none)", "backend exploded",
                     "log[1]: <%s>", line);
    cr_assert_str_eq(log_entry(v, 2) ? log_entry(v, 2) : "(none)", "second line", "log[2]: <%s>",
                     line);
    yajl_tree_free(v);
    expect_recovery();
    finish();
}

/* Criterion runs each parameterized case in a re-executed PIE process, so parameters must not
 * hold pointers: they are indices into these static tables, which every process has. */
struct bad_reply {
    const char *name;         /* for messages */
    int status;               /* HTTP status */
    const char *content_type; /* NULL: application/json */
    const char *body;         /* body */
    const char *keyword;      /* expected in log[0], or NULL */
};

static const struct bad_reply bad_replies[] = {
    {"HTML error page with 200", 200, "text/html",
     "<html><body><h1>502 Bad Gateway</h1></body></html>", NULL},
    {"200 with plain text", 200, "text/plain", "hello world", NULL},
    {"200 with JSON lacking result", 200, NULL, "{\"log\":[\"no result here\"]}", NULL},
    {"200 with result null", 200, NULL, "{\"result\":null}", NULL},
    {"200 with result null and a log", 200, NULL, "{\"result\":null,\"log\":[\"x\"]}", NULL},
    {"200 with a top-level array", 200, NULL, "[{\"result\":true}]", NULL},
    {"200 with a top-level true", 200, NULL, "true", NULL},
    {"200 with truncated JSON", 200, NULL, "{\"result\":[", NULL},
    {"200 with trailing garbage", 200, NULL, "{\"result\":true} trailing", NULL},
    {"404 with an HTML page", 404, "text/html", "<html><body>Not Found</body></html>", NULL},
    {"503 with a JSON true", 503, NULL, "{\"result\":true}", "HTTP status 503"},
};

ParameterizedTestParameters(pipe_http, unusable_reply_answers_false)
{
    static int idx[sizeof(bad_replies) / sizeof(bad_replies[0])];
    for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
        idx[i] = (int)i;
    }
    return cr_make_param_array(int, idx, sizeof(idx) / sizeof(idx[0]));
}

ParameterizedTest(int *i, pipe_http, unusable_reply_answers_false, .timeout = 30)
{
    const struct bad_reply *c = &bad_replies[*i];
    start(NULL, UP_TIMEOUT_MS, NULL);
    struct fake_http_action a = {
        .status = c->status, .content_type = c->content_type, .body = c->body};
    fake_http_push(srv, &a);
    char *line = call(LOOKUP_WWW);
    cr_log_info("case: %s -> %s", c->name, line);
    yajl_val v = parse_reply(line);
    const char *path[] = {"result", NULL};
    cr_assert(YAJL_IS_FALSE(yajl_tree_get(v, path, yajl_t_any)), "%s: expected false, got <%s>",
              c->name, line);
    yajl_tree_free(v);
    yajl_tree_free(assert_false_reply(line, c->keyword));
    expect_recovery();
    finish();
}

Test(pipe_http, empty_2xx_body_is_result_true, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    struct fake_http_action empty200 = {.status = 200, .content_type = ""};
    struct fake_http_action nocontent = {.status = 204, .content_type = "", .no_length = true};
    struct fake_http_action chunked = {.status = 200, .chunked = true};
    fake_http_push(srv, &empty200);
    fake_http_push(srv, &nocontent);
    fake_http_push(srv, &chunked);
    assert_result_true(call(LOOKUP_WWW)); /* 200, Content-Length: 0 */
    assert_result_true(call(LOOKUP_WWW)); /* 204, no length */
    assert_result_true(call(LOOKUP_WWW)); /* 200, chunked, zero chunks */
    expect_recovery();
    finish();
}

Test(pipe_http, http_404_with_json_passes_through, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    struct fake_http_action a = {.status = 404, .body = "{\"result\":false,\"log\":[\"x\"]}"};
    fake_http_push(srv, &a);
    char *line = call(LOOKUP_WWW);
    cr_assert_str_eq(line, "{\"result\":false,\"log\":[\"x\"]}", "404+JSON is a reply (§4.4)");
    struct fake_http_action b = {.status = 404, .body = BODY_WWW};
    fake_http_push(srv, &b);
    line = call(LOOKUP_WWW);
    cr_assert_str_eq(line, BODY_WWW, "404 with result data is data (§4.4)");
    finish();
}

/* ---- connections ---- */

Test(pipe_http, keep_alive_reuses_one_connection, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    for (int i = 0; i < 6; i++) {
        char *body = rbgw_test_fmt("{\"result\":[],\"log\":[\"call %d\"]}", i);
        expect_passthrough(LOOKUP_WWW, body);
    }
    cr_assert_eq(fake_http_nrequests(srv), 6);
    cr_assert_eq(fake_http_accepts(srv), 1, "%u connections for 6 sequential calls",
                 fake_http_accepts(srv));
    for (size_t i = 0; i < 6; i++) {
        cr_assert_eq(req_at(i)->conn, 0);
    }
    finish();
}

static void
run_closing_server(const char *headers)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    struct fake_http_action a = {.headers = headers, .close_after = true};
    for (int i = 0; i < 5; i++) {
        char *body = rbgw_test_fmt("{\"result\":[],\"log\":[\"call %d\"]}", i);
        a.body = body;
        fake_http_push(srv, &a);
        char *line = call(LOOKUP_WWW);
        cr_assert_str_eq(line, body, "call %d after the server closed the previous connection", i);
    }
    cr_assert_eq(fake_http_nrequests(srv), 5);
    cr_assert_eq(fake_http_accepts(srv), 5);
    finish();
}

Test(pipe_http, server_sending_connection_close_every_time, .timeout = 30)
{
    run_closing_server("Connection: close\r\n");
}

Test(pipe_http, server_closing_silently_after_every_response, .timeout = 30)
{
    run_closing_server(NULL);
}

Test(pipe_http, pooled_connection_closed_before_reply_is_retried_once, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    struct fake_http_action close_now = {.kind = FAKE_HTTP_CLOSE};
    fake_http_push_json(srv, "{\"result\":[],\"log\":[\"first\"]}");
    fake_http_push(srv, &close_now);
    fake_http_push_json(srv, BODY_WWW);
    char *line = call(LOOKUP_WWW);
    cr_assert_str_eq(line, "{\"result\":[],\"log\":[\"first\"]}");
    line = call(LOOKUP_WWW);
    cr_assert_str_eq(line, BODY_WWW, "the call was not retried on a fresh connection");
    cr_assert_eq(fake_http_nrequests(srv), 3);
    cr_assert_eq(req_at(1)->conn, 0, "the second call did not use the pooled connection");
    cr_assert_eq(req_at(2)->conn, 1, "the retry did not use a fresh connection");
    cr_assert_str_eq(req_at(2)->raw, req_at(1)->raw, "the retry is not the same request");
    cr_assert_eq(fake_http_accepts(srv), 2);
    finish();
}

Test(pipe_http, fresh_connection_closed_before_reply_is_false_not_retried, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    /* two CLOSEs: a (wrong) retry would meet the second one, so the count below tells */
    struct fake_http_action close_now = {.kind = FAKE_HTTP_CLOSE};
    fake_http_push(srv, &close_now);
    fake_http_push(srv, &close_now);
    yajl_tree_free(assert_false_reply(call(LOOKUP_WWW), NULL));
    cr_assert_eq(fake_http_nrequests(srv), 1,
                 "a request on a fresh connection was re-sent (%zu times in all)",
                 fake_http_nrequests(srv));
    yajl_tree_free(assert_false_reply(call(LOOKUP_WWW), NULL)); /* the second CLOSE */
    cr_assert_eq(fake_http_nrequests(srv), 2);
    expect_recovery();
    finish();
}

Test(pipe_http, reply_cut_by_close_is_false_and_not_retried, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    fake_http_push_json(srv, "{\"result\":true}");
    /* headers and part of the body, then the server closes: the reply had started, so a
     * retry could repeat a side effect; rbgw must answer false instead */
    struct fake_http_action cut = {.body = BODY_WWW, .cut_after = 90, .close_after = true};
    fake_http_push(srv, &cut);
    assert_result_true(call(LOOKUP_WWW));
    yajl_tree_free(assert_false_reply(call(LOOKUP_WWW), NULL));
    cr_assert_eq(fake_http_nrequests(srv), 2,
                 "a request whose reply had started arriving was re-sent");
    expect_recovery();
    finish();
}

Test(pipe_http, reply_stalling_midway_times_out_with_false, .timeout = 30)
{
    srv = fake_http_start();
    cr_assert_not_null(srv);
    /* the status line and half the headers, then nothing */
    struct fake_http_action cut = {.body = BODY_WWW, .cut_after = 40};
    fake_http_push(srv, &cut);
    start_gw_port(fake_http_port(srv), 300, NULL, NULL, NULL);
    yajl_tree_free(assert_false_reply(call(LOOKUP_WWW), "timed out"));
    cr_assert(fake_http_wait_closes(srv, 1, IO_BOUND_MS),
              "rbgw did not close the connection with the half reply; stderr:\n%s", errtail());
    expect_recovery();
    cr_assert_neq(req_at(1)->conn, req_at(0)->conn, "the half-answered connection was reused");
    finish();
}

Test(pipe_http, idle_timeout_closes_the_pooled_connection, .timeout = 30)
{
    start(",idle-timeout=50", UP_TIMEOUT_MS, NULL);
    expect_recovery();
    /* no sleep: wait for rbgw to close the idle connection, whenever it does */
    cr_assert(fake_http_wait_closes(srv, 1, IO_BOUND_MS),
              "rbgw kept an idle connection past idle-timeout; stderr:\n%s", errtail());
    expect_recovery();
    cr_assert_eq(fake_http_accepts(srv), 2);
    cr_assert_eq(req_at(1)->conn, 1);
    finish();
}

Test(pipe_http, upstream_tuning_options_are_accepted, .timeout = 30)
{
    start(",connect-timeout=1000,max-conns=2,idle-timeout=60000,rest-dialect=4", UP_TIMEOUT_MS,
          NULL);
    expect_recovery();
    cr_assert_str_eq(req_at(0)->target, WWW_TARGET);
    finish();
}

Test(pipe_http, connect_timeout_answers_false, .timeout = 30)
{
    /* A listener whose accept queue is full: the kernel drops further SYNs, so rbgw's connect
     * neither succeeds nor is refused until connect-timeout. */
    held_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(held_fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t salen = sizeof(sa);
    cr_assert_eq(bind(held_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(held_fd, 0), 0);
    cr_assert_eq(getsockname(held_fd, (struct sockaddr *)&sa, &salen), 0);
    int fillers[4];
    for (int i = 0; i < 4; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        cr_assert_geq(fillers[i], 0);
        (void)connect(fillers[i], (struct sockaddr *)&sa, sizeof(sa));
    }
    start_gw_port(ntohs(sa.sin_port), UP_TIMEOUT_MS, ",connect-timeout=200", NULL, NULL);
    yajl_tree_free(assert_false_reply(call(LOOKUP_WWW), "connect"));
    for (int i = 0; i < 4; i++) {
        close(fillers[i]);
    }
    finish();
}

/* ---- response framing ---- */

Test(pipe_http, chunked_reply_body, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    struct fake_http_action a = {.body = BODY_WWW, .chunked = true, .chunks = 5};
    fake_http_push(srv, &a);
    char *line = call(LOOKUP_WWW);
    cr_assert_str_eq(line, BODY_WWW);
    expect_recovery(); /* and the connection is still usable after a chunked body */
    cr_assert_eq(fake_http_accepts(srv), 1);
    finish();
}

Test(pipe_http, chunked_reply_in_small_writes, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    struct fake_http_action a = {.body = BODY_WWW, .chunked = true, .chunks = 7, .pieces = 40};
    fake_http_push(srv, &a);
    char *line = call(LOOKUP_WWW);
    cr_assert_str_eq(line, BODY_WWW);
    expect_recovery();
    finish();
}

Test(pipe_http, reply_in_small_writes, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    struct fake_http_action a = {
        .body = BODY_WWW, .headers = "X-Padding: some header to split as well\r\n", .pieces = 30};
    fake_http_push(srv, &a);
    char *line = call(LOOKUP_WWW);
    cr_assert_str_eq(line, BODY_WWW);
    expect_recovery();
    cr_assert_eq(fake_http_accepts(srv), 1);
    finish();
}

/* ---- post and post_json modes ---- */

Test(pipe_http, post_mode_sends_form_parameters, .timeout = 30)
{
    start(",post=yes", UP_TIMEOUT_MS, NULL);
    expect_passthrough(LOOKUP_WWW, BODY_WWW);
    const struct fake_http_request *r = req_at(0);
    cr_assert_str_eq(r->method, "POST", "request:\n%s", r->raw);
    cr_assert_str_eq(r->target, "/dns/lookup", "request:\n%s", r->raw);
    const char *ct = fake_http_header(r, "Content-Type");
    cr_assert(ct && strncmp(ct, "application/x-www-form-urlencoded", 33) == 0, "Content-Type: <%s>",
              ct ? ct : "(none)");
    cr_assert_eq(fake_http_count_headers(r, "X-Remotebackend-"), 0,
                 "X-Remotebackend-* headers in post mode:\n%s", r->raw);
    const char *cl = fake_http_header(r, "Content-Length");
    cr_assert(cl && strtoul(cl, NULL, 10) == r->body_len, "Content-Length <%s> for %zu bytes",
              cl ? cl : "(none)", r->body_len);
    cr_assert(strncmp(r->body, "parameters=", 11) == 0, "body: <%s>", r->body);
    char *json = pct_decode_strict(r->body + 11);
    char err[256] = "";
    yajl_val params = yajl_tree_parse(json, err, sizeof(err));
    cr_assert_not_null(params, "parameters= is not JSON (%s): <%s>", err, json);
    cr_assert(YAJL_IS_OBJECT(params), "parameters= is not an object: <%s>", json);
    assert_json_string(params, "qname", "www.example.com.");
    assert_json_string(params, "qtype", "A");
    assert_json_string(params, "local", "192.0.2.53");
    assert_json_string(params, "remote", "198.51.100.7");
    assert_json_string(params, "real-remote", "198.51.100.0/24");
    const char *zpath[] = {"zone-id", NULL};
    yajl_val zid = yajl_tree_get(params, zpath, yajl_t_number);
    cr_assert(zid && YAJL_IS_INTEGER(zid) && YAJL_GET_INTEGER(zid) == 5, "zone-id in <%s>", json);
    cr_assert_eq(params->u.object.len, 6, "parameters has extra keys: <%s>", json);
    yajl_tree_free(params);
    finish();
}

Test(pipe_http, post_json_mode_sends_the_request_object, .timeout = 30)
{
    start(",post=yes,post_json=yes", UP_TIMEOUT_MS, NULL);
    expect_passthrough(LOOKUP_WWW, BODY_WWW);
    const struct fake_http_request *r = req_at(0);
    cr_assert_str_eq(r->method, "POST", "request:\n%s", r->raw);
    cr_assert_str_eq(r->target, "/dns", "request:\n%s", r->raw);
    const char *ct = fake_http_header(r, "Content-Type");
    cr_assert(ct && strncmp(ct, "text/javascript", 15) == 0, "Content-Type: <%s>",
              ct ? ct : "(none)");
    cr_assert_eq(fake_http_count_headers(r, "X-Remotebackend-"), 0,
                 "X-Remotebackend-* headers in post_json mode:\n%s", r->raw);
    cr_assert_str_eq(r->body, LOOKUP_WWW, "post_json body is not the raw request");
    finish();
}

Test(pipe_http, post_json_without_post_is_rest, .timeout = 30)
{
    start(",post_json=yes", UP_TIMEOUT_MS, NULL);
    expect_passthrough(LOOKUP_WWW, BODY_WWW);
    const struct fake_http_request *r = req_at(0);
    cr_assert_str_eq(r->method, "GET", "§4.6: post_json without post falls back to REST:\n%s",
                     r->raw);
    cr_assert_str_eq(r->target, WWW_TARGET);
    finish();
}

/* ---- pipe framing on stdin ---- */

Test(pipe_http, request_split_across_writes, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    fake_http_push_json(srv, BODY_WWW);
    const char *req = LOOKUP_WWW;
    size_t len = strlen(req);
    send_raw(req, 17);
    /* absence check: an incomplete request must not be answered (nothing here waits for
     * rbgw to do something; the pause only gives it the chance to misbehave) */
    cr_assert(!rbgw_proc_readable(gw, 50), "rbgw answered an incomplete request");
    send_raw(req + 17, 40);
    cr_assert(!rbgw_proc_readable(gw, 20), "rbgw answered an incomplete request");
    send_raw(req + 57, len - 57);
    send_str("\n");
    char *line = read_reply();
    cr_assert_str_eq(line, BODY_WWW);
    cr_assert_str_eq(req_at(0)->target, WWW_TARGET);
    finish();
}

Test(pipe_http, request_pretty_printed_over_lines, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    fake_http_push_json(srv, BODY_WWW);
    send_str("{\n  \"method\": \"lookup\",\n  \"parameters\": {\n    \"local\": \"192.0.2.53\",\n"
             "    \"qname\": \"www.example.com.\",\n    \"qtype\": \"A\",\n"
             "    \"real-remote\": \"198.51.100.0/24\",\n    \"remote\": \"198.51.100.7\",\n"
             "    \"zone-id\": 5\n  }\n}\n");
    char *line = read_reply();
    cr_assert_str_eq(line, BODY_WWW);
    const struct fake_http_request *r = req_at(0);
    cr_assert_str_eq(r->target, WWW_TARGET);
    assert_header(r, "X-Remotebackend-Zone-Id", "5");
    finish();
}

Test(pipe_http, two_requests_in_one_write, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    fake_http_push_json(srv, "{\"result\":[],\"log\":[\"one\"]}");
    fake_http_push_json(srv, "{\"result\":[],\"log\":[\"two\"]}");
    char *both = rbgw_test_fmt("%s\n%s\n", LOOKUP_WWW, lookup_req("mail.example.com.", "MX", 5));
    send_str(both);
    char *l1 = read_reply();
    char *l2 = read_reply();
    cr_assert_str_eq(l1, "{\"result\":[],\"log\":[\"one\"]}");
    cr_assert_str_eq(l2, "{\"result\":[],\"log\":[\"two\"]}");
    cr_assert_str_eq(req_at(0)->target, WWW_TARGET);
    cr_assert_str_eq(req_at(1)->target, "/dns/lookup/mail%2eexample%2ecom%2e/MX");
    finish();
}

Test(pipe_http, many_requests_in_one_write_are_answered_in_order, .timeout = 30)
{
    enum { N = 50 };
    start(NULL, UP_TIMEOUT_MS, NULL);
    size_t cap = N * 300, len = 0;
    char *all = rbgw_test_keep(malloc(cap));
    for (int i = 0; i < N; i++) {
        char *qname = rbgw_test_fmt("h%d.example.com.", i);
        char *body = rbgw_test_fmt("{\"result\":[],\"log\":[\"reply %d\"]}", i);
        fake_http_push_json(srv, body);
        /* blank lines and CRLF between requests must not produce replies */
        len += (size_t)snprintf(all + len, cap - len, "%s%s", lookup_req(qname, "A", 5),
                                i % 3 == 0 ? "\r\n\n  \n" : "\n");
    }
    cr_assert_lt(len, cap);
    send_raw(all, len);
    for (int i = 0; i < N; i++) {
        char *line = read_reply();
        char *expected = rbgw_test_fmt("{\"result\":[],\"log\":[\"reply %d\"]}", i);
        cr_assert_str_eq(line, expected, "reply %d out of order", i);
        char *target = rbgw_test_fmt("/dns/lookup/h%d%%2eexample%%2ecom%%2e/A", i);
        cr_assert_str_eq(req_at((size_t)i)->target, target);
    }
    finish();
}

Test(pipe_http, garbage_line_answers_false_then_recovers, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    send_str("this is not json at all\n");
    yajl_tree_free(assert_false_reply(read_reply(), NULL));
    expect_recovery();
    cr_assert_eq(fake_http_nrequests(srv), 1, "garbage reached the responder");
    finish();
}

static const char *const not_requests[] = {
    "{\"foo\": 1}",
    "[1, 2, 3]",
    "\"just a string\"",
    "42",
    "{\"method\": 5, \"parameters\": {}}",
    "{\"method\": \"lookup\", \"parameters\": {\"qname\": }}",
};

ParameterizedTestParameters(pipe_http, json_that_is_not_a_request)
{
    static int idx[sizeof(not_requests) / sizeof(not_requests[0])];
    for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
        idx[i] = (int)i;
    }
    return cr_make_param_array(int, idx, sizeof(idx) / sizeof(idx[0]));
}

ParameterizedTest(int *i, pipe_http, json_that_is_not_a_request, .timeout = 30)
{
    const char *text = not_requests[*i];
    start(NULL, UP_TIMEOUT_MS, NULL);
    char *line = call(text);
    cr_log_info("case: %s -> %s", text, line);
    yajl_tree_free(assert_false_reply(line, NULL));
    expect_recovery();
    cr_assert_eq(fake_http_nrequests(srv), 1, "<%s> reached the responder", text);
    finish();
}

Test(pipe_http, oversized_request_answers_false_then_recovers, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, "--max-request-size=512");
    char *big_name = rbgw_test_keep(malloc(2001));
    memset(big_name, 'a', 2000);
    big_name[2000] = '\0';
    char *big = lookup_req(big_name, "A", 5);
    /* the oversized request and a valid one in a single write */
    fake_http_push_json(srv, BODY_WWW);
    send_str(rbgw_test_fmt("%s\n%s\n", big, LOOKUP_WWW));
    yajl_tree_free(assert_false_reply(read_reply(), NULL));
    char *line = read_reply();
    cr_assert_str_eq(line, BODY_WWW);
    cr_assert_eq(fake_http_nrequests(srv), 1, "the oversized request reached the responder");
    cr_assert_str_eq(req_at(0)->target, WWW_TARGET);
    finish();
}

Test(pipe_http, oversized_request_streamed_in_pieces, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, "--max-request-size=1024");
    size_t n = 300000;
    char *big_name = rbgw_test_keep(malloc(n + 1));
    memset(big_name, 'b', n);
    big_name[n] = '\0';
    char *big = lookup_req(big_name, "A", 5);
    size_t len = strlen(big);
    for (size_t off = 0; off < len; off += 8192) {
        send_raw(big + off, len - off < 8192 ? len - off : 8192);
    }
    send_str("\n");
    yajl_tree_free(assert_false_reply(read_reply(), NULL));
    expect_recovery();
    cr_assert_eq(fake_http_nrequests(srv), 1, "the oversized request reached the responder");
    finish();
}

/* ---- EOF on stdin ---- */

Test(pipe_http, eof_on_idle_exits_0_silently, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    finish();
    cr_assert_eq(fake_http_nrequests(srv), 0);
}

Test(pipe_http, eof_after_requests_answers_all_then_exits_0, .timeout = 30)
{
    start(NULL, UP_TIMEOUT_MS, NULL);
    for (int i = 0; i < 3; i++) {
        fake_http_push_json(srv, rbgw_test_fmt("{\"result\":[],\"log\":[\"eof %d\"]}", i));
    }
    send_str(rbgw_test_fmt("%s\n%s\n%s\n", LOOKUP_WWW, INITIALIZE, LOOKUP_WWW));
    send_str(LOOKUP_WWW); /* the last one without its newline, right before EOF */
    rbgw_proc_close_stdin(gw);
    cr_assert_str_eq(read_reply(), "{\"result\":[],\"log\":[\"eof 0\"]}");
    assert_result_true(read_reply());
    cr_assert_str_eq(read_reply(), "{\"result\":[],\"log\":[\"eof 1\"]}");
    cr_assert_str_eq(read_reply(), "{\"result\":[],\"log\":[\"eof 2\"]}");
    finish();
}

Test(pipe_http, eof_with_a_stalled_call_in_flight_answers_false_then_exits_0, .timeout = 30)
{
    srv = fake_http_start();
    cr_assert_not_null(srv);
    struct fake_http_action stall = {.kind = FAKE_HTTP_STALL};
    fake_http_push(srv, &stall);
    start_gw_port(fake_http_port(srv), 300, NULL, NULL, NULL);
    send_str(LOOKUP_WWW);
    send_str("\n");
    cr_assert(fake_http_wait_requests(srv, 1, IO_BOUND_MS), "the call never reached the responder");
    rbgw_proc_close_stdin(gw);
    yajl_tree_free(assert_false_reply(read_reply(), "timed out"));
    finish();
}

/*
 * test_http_listener.c: the rbgw binary serving pdns's HTTP connector (docs/protocol.md §4.4-§4.6,
 * §6, §8.1, §8.2, §8.18).
 *
 *   test (raw HTTP/1.1 on TCP) ──> rbgw --listen=http:address=127.0.0.1:PORT,path=/dns,
 *                                        url-suffix=.php
 *                                  --upstream=pipe:command=responder.py ──> echo responder
 *   test ──stdin/stdout (readiness probe)──> --listen=pipe
 *
 * The echo responder answers {"result": <the request line it received>}, so every HTTP answer
 * shows the JSON-RPC call rbgw made of the HTTP request, and the responder's records show the
 * exact bytes.  What is checked: a REST lookup with X-RemoteBackend-* headers in odd case
 * becomes the call pdns would have written on a pipe (json11 form, zone-id an integer); post
 * mode's parameters= field and post_json's body (byte for byte) likewise; every answer is
 * HTTP 200 with Content-Type application/json, a Content-Length that matches and a JSON object
 * with a non-null result; keep-alive; pipelined requests answered in order; a wrong prefix or a
 * missing url-suffix gets 200 {"result":false,...} and the connection stays usable; a responder
 * failure is 200 {"result":false,...}; a body past max-request-size (Content-Length or chunked,
 * in one write or several) gets 200 false naming the limit, a warning on stderr, nothing reaches
 * the responder, and the same connection serves the next call (or closes if the request said
 * Connection: close); bytes that are not HTTP get a 400 with a JSON body and the connection is
 * closed.  Requests in pieces (rbgw parses each read from one buffer shared by its connections
 * and keeps per connection only what the parser has not taken): a request sent one byte at a
 * time, two connections whose half-sent requests interleave, pipelined requests cut into small
 * pieces, and a reply too big to be written at once followed by the next call, all answered
 * right.
 *
 * The port: a free one is picked by binding port 0 and closing it; if another process takes it
 * before rbgw binds (rbgw then exits with "address already in use"), another one is tried.
 * Readiness: rbgw also gets a pipe listener, and listeners start before its loop runs, so once
 * the probe on stdin is answered the HTTP port accepts.  Reads are bounded by IO_BOUND_MS only
 * so that a broken build fails instead of hanging.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "fake_json.h"
#include "itest.h"
#include "netio.h"
#include "rbgw_proc.h"

#define IO_BOUND_MS 10000 /* safety bound for one read/wait, not a timing assertion */
#define PORT_TRIES 5

/* pdns 4.7.3's REST lookup (tests/fixtures/pdns-wire/lookup-www-suffix), header names in odd
 * case, and the call it stands for on a pipe (§1.1). */
#define REST_LOOKUP                                                                                \
    "GET /dns/lookup/www%2eexample%2ecom%2e/A.php HTTP/1.1\r\n"                                    \
    "Accept: application/json\r\n"                                                                 \
    "Connection: Keep-Alive\r\n"                                                                   \
    "Host: 127.0.0.1\r\n"                                                                          \
    "User-Agent: YaHTTP v1.0\r\n"                                                                  \
    "x-remotebackend-LOCAL: 192.0.2.53\r\n"                                                        \
    "X-REMOTEBACKEND-REAL-REMOTE: 198.51.100.0/24\r\n"                                             \
    "x-RemoteBackend-remote: 198.51.100.7\r\n"                                                     \
    "X-rEMOTEbACKEND-zONE-iD: 5\r\n"                                                               \
    "\r\n"
#define REST_LOOKUP_CALL                                                                           \
    "{\"method\": \"lookup\", \"parameters\": {\"local\": \"192.0.2.53\", \"qname\": "             \
    "\"www.example.com.\", \"qtype\": \"A\", \"real-remote\": \"198.51.100.0/24\", \"remote\": "   \
    "\"198.51.100.7\", \"zone-id\": 5}}"

/* post mode (§4.5): POST <prefix>/<method><suffix>, parameters=<percent-encoded JSON>. */
#define POST_BODY                                                                                  \
    "parameters=%7b%22kind%22%3a%20%22X%2dFOO%22%2c%20%22name%22%3a%20%22example%2ecom%2e%22%2c%"  \
    "20%22value%22%3a%20%5b%22v%201%22%2c%20%22a%26b%3dc%2fd%22%5d%7d"
#define POST_CALL                                                                                  \
    "{\"method\": \"setDomainMetadata\", \"parameters\": {\"kind\": \"X-FOO\", \"name\": "         \
    "\"example.com.\", \"value\": [\"v 1\", \"a&b=c/d\"]}}"

/* post_json (§4.6): the body is the call; odd key order, number forms and raw non-UTF-8 bytes
 * must reach the responder unchanged. */
#define POST_JSON_BODY                                                                             \
    "{\"parameters\": {\"z\": 1.50, \"e\": 1E3, \"s\": \"caf\xc3\xa9 \xff\xfe raw\"}, "            \
    "\"method\": "                                                                                 \
    "\"oddCall\"}"

static char *dir;            /* the test's directory */
static char *cmd;            /* the echo responder's command= */
static int port;             /* rbgw's HTTP port */
static struct rbgw_proc *gw; /* rbgw, or NULL */
static int conn_fd = -1;     /* the test's HTTP connection, or -1 */
static char *inbuf;          /* bytes read from conn_fd, not yet consumed */
static size_t inlen;         /* bytes in inbuf */
static int other_fd = -1;    /* a second connection (swap_conn), or -1 */
static char *other_buf;      /* its inbuf */
static size_t other_len;     /* its inlen */

static void
teardown(void)
{
    if (conn_fd >= 0) {
        close(conn_fd);
        conn_fd = -1;
    }
    free(inbuf);
    inbuf = NULL;
    inlen = 0;
    if (other_fd >= 0) {
        close(other_fd);
        other_fd = -1;
    }
    free(other_buf);
    other_buf = NULL;
    other_len = 0;
    rbgw_proc_free(gw);
    gw = NULL;
    fake_json_rmtree(dir);
    free(dir);
    dir = NULL;
    free(cmd);
    cmd = NULL;
    rbgw_test_release();
}

TestSuite(http_listener, .fini = teardown, .timeout = 30);

/* ---- helpers ---- */

static const char *
errtail(void)
{
    return rbgw_test_stderr(gw);
}

/* A port on 127.0.0.1 that was free a moment ago. */
static int
free_port(void)
{
    uint16_t p = 0;
    int fd = rbgw_test_tcp_bind(&p);
    cr_assert_geq(fd, 0, "cannot bind a port on 127.0.0.1: %s", strerror(errno));
    close(fd);
    return p;
}

/* rbgw: HTTP listener (prefix /dns, suffix .php), pipe listener, echo pipe upstream, and one
 * more argument (NULL: none). */
static void
start_gw_with(const char *extra)
{
    dir = fake_json_mkdtemp();
    cr_assert_not_null(dir, "mkdtemp: %s", strerror(errno));
    cmd = fake_json_pipe_script(dir);
    cr_assert_not_null(cmd, "cannot write the pipe responder: %s", strerror(errno));
    for (int attempt = 0; attempt < PORT_TRIES; attempt++) {
        port = free_port();
        const char *args[] = {
            rbgw_test_fmt("--listen=http:address=127.0.0.1:%d,path=/dns,url-suffix=.php", port),
            "--listen=pipe",
            rbgw_test_fmt("--upstream=pipe:command=%s,timeout=5000,connect-timeout=5000", cmd),
            "--log-level=debug",
            extra,
            NULL};
        gw = rbgw_proc_spawn(NULL, args);
        cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
        if (fake_json_gw_ready(gw, IO_BOUND_MS)) {
            return;
        }
        const char *err = errtail();
        cr_assert_not_null(strcasestr(err, "address already in use"),
                           "rbgw did not start; stderr:\n%s", err);
        rbgw_proc_free(gw); /* somebody took the port meanwhile: try another */
        gw = NULL;
    }
    cr_assert_fail("no free port after %d tries", PORT_TRIES);
}

static void
start_gw(void)
{
    start_gw_with(NULL);
}

/* A new current connection; rcvbuf > 0: its SO_RCVBUF (set before connecting, so that the
 * window it advertises fits). */
static void
http_connect_rcvbuf(int rcvbuf)
{
    if (conn_fd >= 0) {
        close(conn_fd);
    }
    inlen = 0;
    conn_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(conn_fd, 0);
    if (rcvbuf > 0) {
        cr_assert_eq(setsockopt(conn_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(conn_fd, (struct sockaddr *)&sa, sizeof(sa)), 0,
                 "connect 127.0.0.1:%d: %s; stderr:\n%s", port, strerror(errno), errtail());
    int one = 1;
    setsockopt(conn_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void
http_connect(void)
{
    http_connect_rcvbuf(0);
}

/* Make the second connection the current one (conn_fd, inbuf, inlen) and the current one the
 * second; http_connect() after the first swap opens it. */
static void
swap_conn(void)
{
    int fd = conn_fd;
    conn_fd = other_fd;
    other_fd = fd;
    char *b = inbuf;
    inbuf = other_buf;
    other_buf = b;
    size_t n = inlen;
    inlen = other_len;
    other_len = n;
}

static void
http_send(const char *bytes, size_t len)
{
    while (len > 0) {
        ssize_t n = send(conn_fd, bytes, len, MSG_NOSIGNAL);
        cr_assert_gt(n, 0, "send: %s", strerror(errno));
        bytes += n;
        len -= (size_t)n;
    }
}

static void
http_send_str(const char *s)
{
    http_send(s, strlen(s));
}

/* Read more bytes (bounded).  False at EOF. */
static bool
fill(long deadline)
{
    long left = deadline - rbgw_test_now_ms();
    struct pollfd pfd = {.fd = conn_fd, .events = POLLIN};
    int rc;
    do {
        rc = poll(&pfd, 1, left > 0 ? (int)left : 0);
    } while (rc < 0 && errno == EINTR);
    cr_assert_gt(rc, 0, "no answer within the safety bound; stderr:\n%s", errtail());
    inbuf = realloc(inbuf, inlen + 65536 + 1);
    cr_assert_not_null(inbuf);
    ssize_t n = read(conn_fd, inbuf + inlen, 65536);
    if (n <= 0) {
        return false;
    }
    inlen += (size_t)n;
    inbuf[inlen] = '\0';
    return true;
}

struct resp {
    int status;       /* status code */
    char *head;       /* status line and headers */
    char *ctype;      /* Content-Type value, or NULL */
    char *connection; /* Connection value, or NULL */
    char *body;       /* body (NUL-terminated) */
    size_t body_len;  /* bytes in body */
};

/* Value of header name in head (case-insensitive), trimmed; NULL if absent. */
static char *
header(const char *head, const char *name)
{
    size_t nlen = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            while (*v == ' ' || *v == '\t') {
                v++;
            }
            const char *e = strstr(v, "\r\n");
            size_t vlen = e ? (size_t)(e - v) : strlen(v);
            while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) {
                vlen--;
            }
            return rbgw_test_fmt("%.*s", (int)vlen, v);
        }
    }
    return NULL;
}

/* One response: it must carry a Content-Length that frames its body exactly. */
static struct resp *
read_response(void)
{
    long deadline = rbgw_test_now_ms() + IO_BOUND_MS;
    char *end;
    while (!inbuf || (end = strstr(inbuf, "\r\n\r\n")) == NULL) {
        cr_assert(fill(deadline),
                  "connection closed before a response head; got <%.*s>; "
                  "stderr:\n%s",
                  (int)inlen, inbuf ? inbuf : "", errtail());
    }
    struct resp *r = rbgw_test_keep(calloc(1, sizeof(*r)));
    size_t head_len = (size_t)(end - inbuf) + 2;
    r->head = rbgw_test_fmt("%.*s", (int)head_len, inbuf);
    cr_assert_eq(sscanf(r->head, "HTTP/1.%*d %d ", &r->status), 1, "bad status line: <%s>",
                 r->head);
    r->ctype = header(r->head, "Content-Type");
    r->connection = header(r->head, "Connection");
    char *cl = header(r->head, "Content-Length");
    cr_assert_not_null(cl, "response without Content-Length:\n%s", r->head);
    char *cl_end;
    long clen = strtol(cl, &cl_end, 10);
    cr_assert(*cl && !*cl_end && clen >= 0, "bad Content-Length <%s>", cl);
    cr_assert_null(header(r->head, "Transfer-Encoding"), "unexpected Transfer-Encoding");
    size_t need = head_len + 2 + (size_t)clen;
    while (inlen < need) {
        cr_assert(fill(deadline), "connection closed in the body (%zu of %ld bytes)",
                  inlen - head_len - 2, clen);
    }
    r->body = rbgw_test_keep(malloc((size_t)clen + 1));
    memcpy(r->body, inbuf + head_len + 2, (size_t)clen);
    r->body[clen] = '\0';
    r->body_len = (size_t)clen;
    memmove(inbuf, inbuf + need, inlen - need);
    inlen -= need;
    inbuf[inlen] = '\0';
    return r;
}

/* A 200 answer echoing call: the responder got exactly call, and its reply came back byte for
 * byte (compared as bytes: a JSON parser would reject the raw non-UTF-8 ones). */
static void
assert_echo(const struct resp *r, const char *call)
{
    cr_assert_eq(r->status, 200, "status %d:\n%s%s", r->status, r->head, r->body);
    cr_assert(r->ctype && strncmp(r->ctype, "application/json", 16) == 0,
              "Content-Type <%s>, expected application/json", r->ctype ? r->ctype : "(none)");
    cr_assert_eq(r->body_len, strlen(call) + 12, "body <%s>\nexpected the echo of <%s>", r->body,
                 call);
    cr_assert(memcmp(r->body, "{\"result\": ", 11) == 0 &&
                  memcmp(r->body + 11, call, strlen(call)) == 0 && r->body[r->body_len - 1] == '}',
              "body <%s>\nexpected the echo of <%s>", r->body, call);
}

/* A 200 answer {"result": false, "log": ["rbgw: ..."]}. */
static void
assert_false_200(const struct resp *r, int status)
{
    cr_assert_eq(r->status, status, "status %d, expected %d:\n%s%s", r->status, status, r->head,
                 r->body);
    cr_assert(r->ctype && strncmp(r->ctype, "application/json", 16) == 0,
              "Content-Type <%s>, expected application/json", r->ctype ? r->ctype : "(none)");
    char err[256] = "";
    yajl_val v = yajl_tree_parse(r->body, err, sizeof(err));
    cr_assert_not_null(v, "body is not JSON (%s): <%s>", err, r->body);
    const char *rpath[] = {"result", NULL};
    const char *lpath[] = {"log", NULL};
    yajl_val res = yajl_tree_get(v, rpath, yajl_t_any);
    yajl_val log = yajl_tree_get(v, lpath, yajl_t_array);
    bool is_false = res && YAJL_IS_FALSE(res);
    bool has_log = log && log->u.array.len > 0 && YAJL_IS_STRING(log->u.array.values[0]);
    yajl_tree_free(v);
    cr_assert(is_false, "expected result false: <%s>", r->body);
    cr_assert(has_log, "false answer without a log string: <%s>", r->body);
}

/* A 200 false answer whose log[0] is "rbgw: ..." mentioning every one of the keywords
 * (NULL-terminated). */
static void
assert_false_because(const struct resp *r, const char *const *keywords)
{
    assert_false_200(r, 200);
    rbgw_test_assert_false_reply(r->body, NULL);
    for (const char *const *k = keywords; *k; k++) {
        rbgw_test_assert_false_reply(r->body, *k);
    }
}

/* The connection must be closed by rbgw with nothing more on it. */
static void
assert_closed(void)
{
    long deadline = rbgw_test_now_ms() + IO_BOUND_MS;
    while (fill(deadline)) {
    }
    cr_assert_eq(inlen, 0, "bytes after the last answer: <%s>", inbuf);
}

/* How many non-initialize calls the responder has seen. */
static size_t
calls_seen(struct fake_json_rec **out)
{
    size_t n = fake_json_pipe_records(dir, out);
    if (*out) {
        rbgw_test_keep(*out);
        for (size_t i = 0; i < n; i++) {
            rbgw_test_keep((*out)[i].data);
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!fake_json_rec_is(&(*out)[i], "initialize")) {
            (*out)[k++] = (*out)[i];
        }
    }
    return k;
}

static char *
post_json(const char *body)
{
    return rbgw_test_fmt(
        "POST /dns HTTP/1.1\r\nAccept: application/json\r\nConnection: Keep-Alive\r\n"
        "Content-Length: %zu\r\nContent-Type: text/javascript; charset=utf-8\r\n"
        "Host: 127.0.0.1\r\nUser-Agent: YaHTTP v1.0\r\n\r\n%s",
        strlen(body), body);
}

static char *
rest_get(const char *target)
{
    return rbgw_test_fmt("GET %s HTTP/1.1\r\nAccept: application/json\r\nConnection: Keep-Alive\r\n"
                         "Host: 127.0.0.1\r\nUser-Agent: YaHTTP v1.0\r\n\r\n",
                         target);
}

/* ---- tests ---- */

Test(http_listener, rest_lookup_headers_in_any_case, .timeout = 30)
{
    start_gw();
    http_connect();
    http_send_str(REST_LOOKUP);
    struct resp *r = read_response();
    assert_echo(r, REST_LOOKUP_CALL);
    struct fake_json_rec *calls;
    size_t n = calls_seen(&calls);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(calls[0].data, REST_LOOKUP_CALL, "the responder got another call");
    /* keep-alive: the same connection serves the next request */
    http_send_str(REST_LOOKUP);
    assert_echo(read_response(), REST_LOOKUP_CALL);
}

Test(http_listener, post_mode, .timeout = 30)
{
    start_gw();
    http_connect();
    http_send_str(
        rbgw_test_fmt("POST /dns/setDomainMetadata.php HTTP/1.1\r\nAccept: application/json\r\n"
                      "Connection: Keep-Alive\r\nContent-Length: %zu\r\n"
                      "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
                      "Host: 127.0.0.1\r\nUser-Agent: YaHTTP v1.0\r\n\r\n%s",
                      strlen(POST_BODY), POST_BODY));
    assert_echo(read_response(), POST_CALL);
    struct fake_json_rec *calls;
    cr_assert_eq(calls_seen(&calls), 1);
    cr_assert_str_eq(calls[0].data, POST_CALL);
}

Test(http_listener, post_json_bytes_pass_through, .timeout = 30)
{
    start_gw();
    http_connect();
    http_send_str(post_json(POST_JSON_BODY));
    assert_echo(read_response(), POST_JSON_BODY);
    struct fake_json_rec *calls;
    cr_assert_eq(calls_seen(&calls), 1);
    cr_assert_eq(calls[0].len, strlen(POST_JSON_BODY));
    cr_assert(memcmp(calls[0].data, POST_JSON_BODY, calls[0].len) == 0, "the responder got <%s>",
              calls[0].data);
}

/* Three requests in one write (REST, post_json, REST): three answers, in request order. */
Test(http_listener, pipelined_requests_answered_in_order, .timeout = 30)
{
    start_gw();
    http_connect();
    const char *c1 = "{\"method\": \"lookup\", \"parameters\": {\"local\": \"0.0.0.0\", \"qname\": "
                     "\"a.example.\", \"qtype\": \"ANY\", \"real-remote\": \"0.0.0.0/0\", "
                     "\"remote\": \"0.0.0.0\", \"zone-id\": -1}}";
    const char *c2 = "{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": \"b.example.\"}}";
    const char *c3 = "{\"method\": \"getDomainMetadata\", \"parameters\": {\"kind\": \"SOA-EDIT\", "
                     "\"name\": \"c.example.\"}}";
    char *r1 =
        rbgw_test_fmt("GET /dns/lookup/a%%2eexample%%2e/ANY.php HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "X-RemoteBackend-zone-id: -1\r\nX-RemoteBackend-remote: 0.0.0.0\r\n"
                      "X-RemoteBackend-local: 0.0.0.0\r\nX-RemoteBackend-real-remote: 0.0.0.0/0\r\n"
                      "\r\n");
    char *all = rbgw_test_fmt("%s%s%s", r1, post_json(c2),
                              rest_get("/dns/getDomainMetadata/c%2eexample%2e/SOA%2dEDIT.php"));
    http_send_str(all);
    struct resp *a = read_response();
    struct resp *b = read_response();
    struct resp *c = read_response();
    assert_echo(a, c1);
    assert_echo(b, c2);
    assert_echo(c, c3);
    cr_assert_eq(inlen, 0, "bytes after the third answer: <%s>", inbuf);
}

/* Requests that are HTTP but not remote-backend calls for this prefix/suffix: 200 false, the
 * responder is not bothered, and the connection stays usable. */
Test(http_listener, wrong_prefix_or_suffix_answers_false, .timeout = 30)
{
    start_gw();
    http_connect();
    http_send_str(rest_get("/other/lookup/www%2eexample%2ecom%2e/A.php"));
    assert_false_200(read_response(), 200);
    http_send_str(rest_get("/dns/lookup/www%2eexample%2ecom%2e/A"));
    assert_false_200(read_response(), 200);
    http_send_str(REST_LOOKUP);
    assert_echo(read_response(), REST_LOOKUP_CALL);
    struct fake_json_rec *calls;
    cr_assert_eq(calls_seen(&calls), 1,
                 "a request with a wrong prefix/suffix reached the "
                 "responder");
}

/* Bytes that are not HTTP: 400 with a JSON body (never HTML, never empty), then close. */
Test(http_listener, garbage_gets_400_json_and_close, .timeout = 30)
{
    start_gw();
    http_connect();
    http_send_str("\x16\x03\x01 this is not HTTP at all\r\n\r\n");
    struct resp *r = read_response();
    assert_false_200(r, 400);
    assert_closed();
}

/* The responder fails (garbage, null result): still 200 + JSON false, and the next call on the
 * same connection works. */
Test(http_listener, upstream_failure_is_200_json_false, .timeout = 30)
{
    start_gw();
    http_connect();
    http_send_str(post_json("{\"method\": \"garbage\", \"parameters\": {}}"));
    assert_false_200(read_response(), 200);
    http_send_str(post_json("{\"method\": \"nullresult\", \"parameters\": {}}"));
    assert_false_200(read_response(), 200);
    http_send_str(REST_LOOKUP);
    assert_echo(read_response(), REST_LOOKUP_CALL);
}

/* ---- a body past max-request-size (§8.2, §8.18) ---- */

#define SMALL_LIMIT 1024
#define SMALL_LIMIT_ARG "--max-request-size=1024"

/* A post_json call of about n bytes of body: valid JSON, so only its size can be refused. */
static const char *
big_call(size_t n)
{
    char *pad = rbgw_test_keep(malloc(n + 1));
    memset(pad, 'a', n);
    pad[n] = '\0';
    return rbgw_test_fmt("{\"method\": \"tooBig\", \"parameters\": {\"pad\": \"%s\"}}", pad);
}

static const char *const too_big_words[] = {"max-request-size", "1024", "discarded", NULL};

/* rbgw logged a warning naming the limit. */
static void
assert_too_big_warning(void)
{
    const char *err = rbgw_test_keep(rbgw_proc_stderr(gw, 0));
    bool found = false;
    for (const char *p = strstr(err, "max-request-size (1024 bytes)"); p && !found;
         p = strstr(p + 1, "max-request-size (1024 bytes)")) {
        const char *bol = p;
        while (bol > err && bol[-1] != '\n') {
            bol--;
        }
        found = strstr(bol, ": warning: ") != NULL && strstr(bol, ": warning: ") < p;
    }
    cr_assert(found, "no warning about max-request-size on stderr:\n%s", err);
}

/* More pipelined input than max-conn-buffer while a call is in flight: rbgw stops reading
 * until it is back under the bound (bounded memory) and still answers every request, in
 * order. */
#define SMALL_BUFFER 4096
Test(http_listener, pipelined_past_the_size_limit_all_answered, .timeout = 30)
{
    start_gw_with("--max-conn-buffer=4096");
    http_connect();
    const int n = 150; /* 150 x ~330 bytes: about 12 times the 4 KiB bound */
    size_t one = strlen(REST_LOOKUP);
    char *all = rbgw_test_keep(malloc(one * (size_t)n + 1));
    for (int i = 0; i < n; i++) {
        memcpy(all + one * (size_t)i, REST_LOOKUP, one);
    }
    all[one * (size_t)n] = '\0';
    cr_assert_gt(one * (size_t)n, 10 * SMALL_BUFFER);
    http_send_str(all);
    for (int i = 0; i < n; i++) {
        struct resp *r = read_response();
        cr_assert_not_null(r, "no answer to request %d", i);
        assert_echo(r, REST_LOOKUP_CALL);
    }
    cr_assert_eq(inlen, 0, "bytes after the last answer: <%s>", inbuf);
    struct fake_json_rec *calls;
    cr_assert_eq(calls_seen(&calls), (size_t)n);
    cr_assert(rbgw_test_stderr_has(gw, "reading paused"), "rbgw never paused reading:\n%s",
              errtail());
}

/* 200 + false with the reason, keep-alive, nothing forwarded; the same connection then serves a
 * normal call. */
Test(http_listener, oversized_body_answers_false_and_keeps_the_connection, .timeout = 30)
{
    start_gw_with(SMALL_LIMIT_ARG);
    http_connect();
    http_send_str(post_json(big_call(4 * SMALL_LIMIT)));
    struct resp *r = read_response();
    assert_false_because(r, too_big_words);
    cr_assert(r->connection && strcasecmp(r->connection, "keep-alive") == 0,
              "Connection <%s>, expected keep-alive", r->connection ? r->connection : "(none)");
    assert_too_big_warning();

    http_send_str(REST_LOOKUP);
    assert_echo(read_response(), REST_LOOKUP_CALL);
    http_send_str(post_json(POST_JSON_BODY));
    assert_echo(read_response(), POST_JSON_BODY);
    struct fake_json_rec *calls;
    cr_assert_eq(calls_seen(&calls), 2, "the oversized call reached the responder");
    cr_assert_str_eq(calls[0].data, REST_LOOKUP_CALL);
}

/* The body comes chunked (Transfer-Encoding) and in several writes, crossing the limit midway;
 * the next request follows its last chunk in the same write.  Both are answered, in order. */
Test(http_listener, oversized_chunked_body_in_pieces_answers_false, .timeout = 30)
{
    start_gw_with(SMALL_LIMIT_ARG);
    http_connect();
    const char *body = big_call(6 * SMALL_LIMIT);
    size_t len = strlen(body);
    http_send_str("POST /dns HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/javascript\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n");
    const size_t piece = 700;
    for (size_t off = 0; off < len; off += piece) {
        size_t n = len - off < piece ? len - off : piece;
        http_send_str(rbgw_test_fmt("%zx\r\n%.*s\r\n", n, (int)n, body + off));
    }
    http_send_str(rbgw_test_fmt("0\r\n\r\n%s", REST_LOOKUP));
    struct resp *r = read_response();
    assert_false_because(r, too_big_words);
    cr_assert(r->connection && strcasecmp(r->connection, "keep-alive") == 0,
              "Connection <%s>, expected keep-alive", r->connection ? r->connection : "(none)");
    assert_echo(read_response(), REST_LOOKUP_CALL);

    /* Content-Length framing, the body in several writes: the same. */
    http_send_str(rbgw_test_fmt("POST /dns HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %zu\r\n"
                                "Content-Type: text/javascript\r\n\r\n",
                                len));
    for (size_t off = 0; off < len; off += piece) {
        http_send(body + off, len - off < piece ? len - off : piece);
    }
    assert_false_because(read_response(), too_big_words);
    http_send_str(REST_LOOKUP);
    assert_echo(read_response(), REST_LOOKUP_CALL);
    struct fake_json_rec *calls;
    cr_assert_eq(calls_seen(&calls), 2, "an oversized call reached the responder");
}

/* Connection: close on the oversized request: the same false answer, then the close it asked
 * for (as for any other answer). */
Test(http_listener, oversized_body_with_connection_close, .timeout = 30)
{
    start_gw_with(SMALL_LIMIT_ARG);
    http_connect();
    const char *body = big_call(2 * SMALL_LIMIT);
    http_send_str(rbgw_test_fmt("POST /dns HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                                "Content-Length: %zu\r\n\r\n%s",
                                strlen(body), body));
    struct resp *r = read_response();
    assert_false_because(r, too_big_words);
    cr_assert(r->connection && strcasecmp(r->connection, "close") == 0,
              "Connection <%s>, expected close", r->connection ? r->connection : "(none)");
    assert_closed();
}

/* ---- requests in pieces ---- */

/* Every byte in its own write (TCP_NODELAY: mostly its own segment and read): the target, the
 * header names and values and the body all arrive in pieces. */
Test(http_listener, request_sent_one_byte_at_a_time, .timeout = 30)
{
    start_gw();
    http_connect();
    const char *reqs[] = {REST_LOOKUP, post_json(POST_JSON_BODY)};
    const char *calls[] = {REST_LOOKUP_CALL, POST_JSON_BODY};
    for (size_t k = 0; k < 2; k++) {
        for (const char *b = reqs[k]; *b; b++) {
            http_send(b, 1);
        }
        assert_echo(read_response(), calls[k]);
    }
    cr_assert_eq(inlen, 0, "bytes after the last answer: <%s>", inbuf);
}

/* Two connections with half-sent requests at the same time: each one's parts stay its own,
 * also while the other one completes a whole call meanwhile, and when the two send byte by
 * byte in turn. */
Test(http_listener, half_sent_requests_on_two_connections_stay_apart, .timeout = 30)
{
    start_gw();
    const char *x = post_json(POST_JSON_BODY);
    const char *y = REST_LOOKUP;
    size_t xcut = (size_t)(strstr(x, "Keep-Alive") + 4 - x); /* in a header value */
    size_t ycut = (size_t)(strstr(y, "%2ecom") + 2 - y);     /* in the target */
    /* x on the current connection, y on the second one */
    http_connect();
    swap_conn();
    http_connect();
    swap_conn();

    http_send(x, xcut);
    swap_conn();
    http_send(y, ycut);
    swap_conn();
    http_send_str(x + xcut);
    assert_echo(read_response(), POST_JSON_BODY);
    swap_conn();
    http_send_str(y + ycut);
    assert_echo(read_response(), REST_LOOKUP_CALL);

    /* y completes a whole call while x is half-sent (cut in its body) */
    swap_conn();
    xcut = strlen(x) - 10;
    http_send(x, xcut);
    swap_conn();
    http_send_str(y);
    assert_echo(read_response(), REST_LOOKUP_CALL);
    swap_conn();
    http_send_str(x + xcut);
    assert_echo(read_response(), POST_JSON_BODY);

    /* byte by byte, in turn */
    size_t xl = strlen(x), yl = strlen(y);
    for (size_t i = 0; i < xl || i < yl; i++) {
        if (i < xl) {
            http_send(x + i, 1);
        }
        swap_conn();
        if (i < yl) {
            http_send(y + i, 1);
        }
        swap_conn();
    }
    assert_echo(read_response(), POST_JSON_BODY);
    cr_assert_eq(inlen, 0, "bytes after the answer on x: <%s>", inbuf);
    swap_conn();
    assert_echo(read_response(), REST_LOOKUP_CALL);
    cr_assert_eq(inlen, 0, "bytes after the answer on y: <%s>", inbuf);
    struct fake_json_rec *seen;
    cr_assert_eq(calls_seen(&seen), 6);
}

/* Three pipelined requests cut into pieces of 1, 7 and 61 bytes: pieces end inside a request
 * and pieces hold the end of one request and the start of the next (which waits, in order,
 * behind the call in flight).  Every request is answered once, in order. */
Test(http_listener, pipelined_requests_in_small_pieces, .timeout = 30)
{
    start_gw();
    http_connect();
    const char *c2 = "{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": \"b.example.\"}}";
    const char *c3 = "{\"method\": \"getDomainMetadata\", \"parameters\": {\"kind\": \"SOA-EDIT\", "
                     "\"name\": \"c.example.\"}}";
    const char *all =
        rbgw_test_fmt("%s%s%s", REST_LOOKUP, post_json(c2),
                      rest_get("/dns/getDomainMetadata/c%2eexample%2e/SOA%2dEDIT.php"));
    size_t len = strlen(all);
    const size_t pieces[] = {1, 7, 61};
    for (size_t k = 0; k < 3; k++) {
        for (size_t off = 0; off < len; off += pieces[k]) {
            http_send(all + off, len - off < pieces[k] ? len - off : pieces[k]);
        }
        assert_echo(read_response(), REST_LOOKUP_CALL);
        assert_echo(read_response(), c2);
        assert_echo(read_response(), c3);
        cr_assert_eq(inlen, 0, "bytes after the third answer (pieces of %zu): <%s>", pieces[k],
                     inbuf);
    }
    struct fake_json_rec *seen;
    cr_assert_eq(calls_seen(&seen), 9);
}

/* A reply of ~5 MB cannot go out in one write (rbgw's send buffer is at most 4 MiB here and
 * the client's receive buffer is small): the rest is written later, and the connection then
 * serves the next call. */
Test(http_listener, big_reply_then_the_next_call, .timeout = 30)
{
    start_gw_with("--max-request-size=8388608");
    http_connect_rcvbuf(16384);
    const char *call = big_call(5 * 1000 * 1000);
    http_send_str(post_json(call));
    struct resp *r = read_response();
    /* not assert_echo: its messages would carry 5 MB (criterion --full-stats formats them) */
    size_t clen = strlen(call);
    cr_assert_eq(r->status, 200);
    cr_assert(r->body_len == clen + 12 && memcmp(r->body, "{\"result\": ", 11) == 0 &&
                  memcmp(r->body + 11, call, clen) == 0 && r->body[r->body_len - 1] == '}',
              "a %zu-byte body is not the echo of the %zu-byte call", r->body_len, clen);
    http_send_str(REST_LOOKUP);
    assert_echo(read_response(), REST_LOOKUP_CALL);
    cr_assert_eq(inlen, 0, "bytes after the last answer: <%s>", inbuf);
}

/*
 * test_faults_pdns.c: fault injection from the pdns side: clients of rbgw's pipe listener (its
 * stdin/stdout) and unix listener that misbehave, each fault one test, against the rbgw binary.
 *
 *   test ──stdin/stdout──> rbgw --listen=pipe                          ──> fake_json unix
 *   test ──unix clients──>      --listen+=unix:path=...                    responder (echo)
 *
 * Every test takes a baseline of rbgw's descriptors and memory after a good call
 * (support/faultcheck.h), injects its fault, checks the answers (exactly one per call, in
 * order: the responder's echo for a good call, {"result":false,"log":["rbgw: <reason>"]}
 * naming the fault for a bad one) and the good calls after it, and then that rbgw's
 * descriptors come back to the baseline (bounded poll) and its memory stays within
 * RBGW_FAULT_RSS_SLACK_KB.  It ends by closing stdin and sending SIGTERM: nothing more may come
 * on stdout, and rbgw must exit 0 with no sanitizer report.
 *
 * What each test proves:
 *   oversized frame (unix, pipe)    a 32 MiB call past max-request-size (4 KiB here), sent in
 *                                   pieces, is answered false at once naming the limit while
 *                                   the rest of it is still arriving, is discarded as it comes
 *                                   (rbgw's peak memory does not grow by the call's size), and
 *                                   the calls after it on the same connection / stream are
 *                                   served, in order
 *   pipelined garbage (unix, pipe)  one write holding good calls with every kind of bad frame
 *                                   between them (not JSON, binary with a NUL, stray closing
 *                                   brackets, JSON that is not a call object, a call without
 *                                   a method or with a non-string one, a bare string, a
 *                                   number, a NUL or a control byte inside a string): one
 *                                   answer per frame, in order, false for each bad one, the
 *                                   echo for each good one
 *   half-close (unix)               a client that pipelines calls and half of one more, then
 *                                   shuts down its sending side: the whole calls are answered
 *                                   in order, the half one is never dispatched, and rbgw closes
 *                                   the connection
 *   connection churn (unix, HTTP)   3,000 connections opened and dropped: some at once, some
 *                                   after half a call, some after a whole call whose answer
 *                                   they never read, some after reading it with half of the
 *                                   next call sent: rbgw stays up, keeps no connection and no
 *                                   descriptor from them, its memory stays within the slack,
 *                                   and a new client is served (on the HTTP listener the same,
 *                                   with REST requests)
 *
 * Slow clients and clients that never read are in test_limits.c and
 * test_listener_backpressure.c.  No test waits for a duration; reads are bounded by
 * RBGW_TEST_IO_MS only so that a broken build fails instead of hanging.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_json.h"
#include "faultcheck.h"
#include "itest.h"
#include "netio.h"
#include "procstat.h"
#include "rbgw_proc.h"

#define IO_MS RBGW_TEST_IO_MS
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_REQUEST 4096             /* --max-request-size */
#define OVERSIZED (32u << 20)        /* bytes of the oversized call */
#define OVERSIZED_PIECE (256u << 10) /* it is sent in pieces of this size */
#define CHURN 3000                   /* connections opened and dropped */
#define PORT_TRIES 5                 /* HTTP ports taken by someone else before rbgw bound them */
#define REST_FMT "GET /dns/lookup/%s/A HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

#define LOOKUP_FMT                                                                                 \
    "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"%s\", \"qtype\": \"A\", "              \
    "\"remote\": \"198.51.100.7\", \"zone-id\": -1}}"

static char *dir;                   /* the test's directory */
static char *gw_sock;               /* rbgw's unix listener */
static struct fake_json *srv;       /* the unix responder */
static struct rbgw_proc *gw;        /* rbgw, or NULL */
static struct fake_json_client *cl; /* a unix listener client, or NULL */
static int http_port;               /* rbgw's HTTP listener, where one is started */

static void
teardown(void)
{
    rbgw_proc_free(gw);
    gw = NULL;
    fake_json_client_free(cl);
    cl = NULL;
    fake_json_stop(srv);
    srv = NULL;
    fake_json_rmtree(dir);
    free(dir);
    dir = NULL;
    rbgw_test_release();
}

TestSuite(faults_pdns, .fini = teardown, .timeout = 120);

/* ---- helpers ---- */

static const char *
errtail(void)
{
    return rbgw_test_stderr(gw);
}

/* rbgw with its pipe and unix listeners in front of the echo responder (one connection to it:
 * max-conns=1, so that its descriptors are the same whenever nothing is in flight). */
static void
start_http(bool with_http)
{
    dir = fake_json_mkdtemp();
    cr_assert_not_null(dir, "mkdtemp: %s", strerror(errno));
    gw_sock = rbgw_test_fmt("%s/gw.sock", dir);
    const char *up_sock = rbgw_test_fmt("%s/up.sock", dir);
    srv = fake_json_unix_start(up_sock);
    cr_assert_not_null(srv, "cannot start the unix responder: %s", strerror(errno));
    const char *args[] = {
        "--listen=pipe",
        rbgw_test_fmt("--listen+=unix:path=%s", gw_sock),
        rbgw_test_fmt("--upstream=unix:path=%s,timeout=5000,max-conns=1,queue-timeout=5000",
                      up_sock),
        rbgw_test_fmt("--max-request-size=%d", MAX_REQUEST),
        "--deadline=9000",
        "--log-level=info",
        NULL, /* start_http: the HTTP listener */
    };
    if (!with_http) {
        gw = rbgw_proc_spawn(NULL, args);
        cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
        cr_assert(fake_json_gw_ready(gw, IO_MS), "rbgw did not start; stderr:\n%s", errtail());
        return;
    }
    /* A free port, taken by someone else before rbgw binds it at worst: then try another. */
    for (int attempt = 0; attempt < PORT_TRIES; attempt++) {
        uint16_t p = 0;
        int fd = rbgw_test_tcp_bind(&p);
        cr_assert_geq(fd, 0, "cannot bind a port: %s", strerror(errno));
        close(fd);
        http_port = p;
        const char *hargs[NELEM(args) + 1];
        memcpy(hargs, args, sizeof(args));
        hargs[NELEM(args) - 1] =
            rbgw_test_fmt("--listen+=http:address=127.0.0.1:%d,path=/dns", http_port);
        hargs[NELEM(args)] = NULL;
        gw = rbgw_proc_spawn(NULL, hargs);
        cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
        if (fake_json_gw_ready(gw, IO_MS)) {
            return;
        }
        cr_assert_not_null(strcasestr(errtail(), "address already in use"),
                           "rbgw did not start; stderr:\n%s", errtail());
        rbgw_proc_free(gw);
        gw = NULL;
    }
    cr_assert_fail("no free port after %d tries", PORT_TRIES);
}

static void
start(void)
{
    start_http(false);
}

static const char *
lookup(const char *qname)
{
    return rbgw_test_fmt(LOOKUP_FMT, qname);
}

static const char *
echo_of(const char *request)
{
    return rbgw_test_fmt("{\"result\": %s}", request);
}

/* A good call on stdin, then the baseline. */
static struct rbgw_fault_base
warm(void)
{
    const char *q = lookup("warm.example.");
    cr_assert_str_eq(rbgw_test_call(gw, q), echo_of(q), "stderr:\n%s", errtail());
    return rbgw_fault_base_take(gw);
}

static struct fake_json_client *
connect_gw(void)
{
    struct fake_json_client *c = fake_json_connect(gw_sock);
    cr_assert_not_null(c, "connect %s: %s; stderr:\n%s", gw_sock, strerror(errno), errtail());
    return c;
}

/* pdns goes away: stdin closed, SIGTERM (the unix listener would keep rbgw running); stdout
 * must end with nothing more, rbgw must exit 0 with a clean stderr. */
static void
finish(void)
{
    rbgw_proc_close_stdin(gw);
    cr_assert_eq(kill(rbgw_proc_pid(gw), SIGTERM), 0);
    char *rest;
    size_t rest_len;
    cr_assert_eq(rbgw_proc_read_to_eof(gw, IO_MS, &rest, &rest_len), 0,
                 "stdout did not end; stderr:\n%s", errtail());
    rbgw_test_keep(rest);
    cr_assert_eq(rest_len, 0, "rbgw wrote more after the last answer: <%s>", rest);
    rbgw_test_assert_exit_0(gw);
    rbgw_test_assert_clean_stderr(gw);
}

/* Where the test writes calls and reads answers: rbgw's stdin/stdout, or a unix client. */
enum side { PIPE, UNIX };

static void
side_write(enum side s, const void *p, size_t len)
{
    int rc = s == PIPE ? rbgw_proc_write(gw, p, len) : fake_json_send(cl, p, len);
    cr_assert_eq(rc, 0, "writing to rbgw: %s; stderr:\n%s", strerror(-rc), errtail());
}

static const char *
side_read(enum side s)
{
    return s == PIPE ? rbgw_test_read_line(gw) : rbgw_test_client_read(cl, gw);
}

#define BOTH(name)                                                                                 \
    Test(faults_pdns, name##_unix)                                                                 \
    {                                                                                              \
        name(UNIX);                                                                                \
    }                                                                                              \
    Test(faults_pdns, name##_pipe)                                                                 \
    {                                                                                              \
        name(PIPE);                                                                                \
    }

/* ---- oversized frames ---- */

static void
oversized_frame(enum side s)
{
    start();
    struct rbgw_fault_base base = warm();
    if (s == UNIX) {
        cl = connect_gw();
    }
    /* {"method": "lookup", "parameters": {"qname": "xxx...xxx"}} of OVERSIZED bytes, then a
     * good call right behind it. */
    static const char head[] = "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"";
    static const char tail[] = "\"}}\n";
    char *piece = rbgw_test_keep(malloc(OVERSIZED_PIECE));
    memset(piece, 'x', OVERSIZED_PIECE);
    side_write(s, head, sizeof(head) - 1);
    for (size_t sent = sizeof(head) - 1 + sizeof(tail) - 1; sent < OVERSIZED;
         sent += OVERSIZED_PIECE) {
        side_write(s, piece, OVERSIZED_PIECE);
    }
    side_write(s, tail, sizeof(tail) - 1);
    const char *after = lookup("after.oversized.");
    side_write(s, after, strlen(after));
    side_write(s, "\n", 1);

    rbgw_test_assert_false_reply(side_read(s), "max-request-size");
    cr_assert_str_eq(side_read(s), echo_of(after), "stderr:\n%s", errtail());
    const char *again = lookup("again.oversized.");
    side_write(s, again, strlen(again));
    side_write(s, "\n", 1);
    cr_assert_str_eq(side_read(s), echo_of(again), "stderr:\n%s", errtail());
    rbgw_fault_assert_peak(gw, &base, "32 MiB call");
    if (s == UNIX) {
        fake_json_client_free(cl);
        cl = NULL;
    }
    rbgw_fault_assert_settled(gw, &base, "oversized call");
    cr_assert_eq(fake_json_accepts(srv), 1, "rbgw opened more than its one upstream connection");
    finish();
}
BOTH(oversized_frame)

/* ---- pipelined garbage ---- */

/* Bad frames, each ending at its newline (docs/protocol.md §4: a frame is one JSON document,
 * or up to a newline when it is not one), and a word of the reason rbgw gives. */
static const struct {
    const char *bytes; /* the frame, '\n' included */
    size_t len;        /* its bytes */
    const char *why;   /* in the false reply's log (NULL: any reason) */
} garbage[] = {
#define G(s, why)                                                                                  \
    {                                                                                              \
        s, sizeof(s) - 1, why                                                                      \
    }
    G("this is not json\n", NULL),
    G("\x01\xff\xfe junk \x00 with a NUL\x7f\n", NULL),
    G("]]]}}}\n", NULL),
    G("[1, 2, 3]\n", NULL),
    G("{\"parameters\": {\"qname\": \"no.method.\"}}\n", "method"),
    G("{\"method\": 42, \"parameters\": {}}\n", "method"),
    G("\"a bare string\"\n", NULL),
    G("12345\n", NULL),
    G("{\"method\": \"lookup\", \"parameters\": {\"qname\": \"x\",}}\n", NULL),
    G("{\"method\" \"lookup\"}\n", NULL),
    G("{\"method\": \"lookup\", \"parameters\": {\"qname\": \"a\x00b.\", \"qtype\": \"A\"}}\n",
      "JSON"),
    G("{\"method\": \"look\x01up\", \"parameters\": {}}\n", "JSON"),
#undef G
};

static void
pipelined_garbage(enum side s)
{
    start();
    struct rbgw_fault_base base = warm();
    if (s == UNIX) {
        cl = connect_gw();
    }
    /* good0 bad0 good1 bad1 ... goodN, all in one write. */
    const char *good[NELEM(garbage) + 1];
    size_t cap = 1 << 16, len = 0;
    char *all = rbgw_test_keep(malloc(cap));
    for (size_t i = 0; i <= NELEM(garbage); i++) {
        good[i] = lookup(rbgw_test_fmt("good%zu.example.", i));
        size_t gl = strlen(good[i]);
        cr_assert_lt(len + gl + 1 + (i < NELEM(garbage) ? garbage[i].len : 0), cap);
        memcpy(all + len, good[i], gl);
        len += gl;
        all[len++] = '\n';
        if (i < NELEM(garbage)) {
            memcpy(all + len, garbage[i].bytes, garbage[i].len);
            len += garbage[i].len;
        }
    }
    side_write(s, all, len);
    for (size_t i = 0; i <= NELEM(garbage); i++) {
        cr_assert_str_eq(side_read(s), echo_of(good[i]), "good call %zu; stderr:\n%s", i,
                         errtail());
        if (i < NELEM(garbage)) {
            rbgw_test_assert_false_reply(side_read(s), garbage[i].why);
        }
    }
    if (s == UNIX) {
        fake_json_client_free(cl);
        cl = NULL;
    }
    rbgw_fault_assert_settled(gw, &base, "pipelined garbage");
    finish();
}
BOTH(pipelined_garbage)

/* Poll (bounded) until rbgw has no connection left on its unix listener. */
static void
wait_no_conns(void)
{
    pid_t pid = rbgw_proc_pid(gw);
    long deadline = rbgw_test_now_ms() + IO_MS;
    while (rbgw_test_unix_conns(pid, gw_sock) != 0 && rbgw_test_now_ms() < deadline) {
        poll(NULL, 0, 10);
    }
    cr_assert_eq(rbgw_test_unix_conns(pid, gw_sock), 0,
                 "rbgw keeps %d connections on its unix listener; stderr:\n%s",
                 rbgw_test_unix_conns(pid, gw_sock), errtail());
}

/* ---- a client that stops sending ---- */

/* Calls pipelined, half of one more, then the client shuts down its sending side (it still
 * reads): every whole call is answered, in order; then rbgw closes the connection (the half
 * call is dropped with a log line, never dispatched). */
Test(faults_pdns, unix_client_half_closes_after_pipelined_calls)
{
    start();
    struct rbgw_fault_base base = warm();
    cl = connect_gw();
    const char *q[3];
    for (int i = 0; i < 3; i++) {
        q[i] = lookup(rbgw_test_fmt("half-close%d.example.", i));
        side_write(UNIX, q[i], strlen(q[i]));
        side_write(UNIX, "\n", 1);
    }
    const char *partial = lookup("never.finished.");
    side_write(UNIX, partial, strlen(partial) / 2);
    cr_assert_eq(fake_json_client_shutdown(cl), 0, "shutdown: %s", strerror(errno));
    for (int i = 0; i < 3; i++) {
        cr_assert_str_eq(side_read(UNIX), echo_of(q[i]), "call %d; stderr:\n%s", i, errtail());
    }
    size_t n;
    char *more = fake_json_read_line(cl, IO_MS, &n);
    cr_assert_null(more, "an answer to the half call: <%s>", more ? more : "");
    cr_assert_eq(errno, 0, "rbgw did not close the connection (%s); stderr:\n%s", strerror(errno),
                 errtail());
    cr_assert_eq(fake_json_pending(cl), 0, "bytes after the last answer");
    fake_json_client_free(cl);
    cl = NULL;
    cr_assert(rbgw_test_stderr_has(gw, "in the middle of a request"), "no log line:\n%s",
              errtail());
    cr_assert_eq(fake_json_accepts(srv), 1);
    struct fake_json_rec *r;
    size_t nrec = fake_json_records(srv, &r);
    fake_json_recs_free(r, nrec);
    cr_assert_eq(nrec, 5,
                 "the responder got %zu lines: initialize, warm call and 3 calls "
                 "expected (the half call must not be dispatched)",
                 nrec);
    wait_no_conns();
    rbgw_fault_assert_settled(gw, &base, "half-closed client");
    finish();
}

/* ---- connection churn ---- */

Test(faults_pdns, thousands_of_connections_opened_and_dropped)
{
    start();
    struct rbgw_fault_base base = warm();
    unsigned answered = 0;
    for (int i = 0; i < CHURN; i++) {
        const char *q = lookup(rbgw_test_fmt("churn%d.example.", i));
        size_t qlen = strlen(q);
        struct fake_json_client *c = connect_gw();
        switch (i % 4) {
        case 0: /* opened and dropped */
            break;
        case 1: /* half a call */
            cr_assert_eq(fake_json_send(c, q, qlen / 2), 0);
            break;
        case 2: /* a whole call, its answer never read */
            cr_assert_eq(fake_json_send(c, q, qlen), 0);
            cr_assert_eq(fake_json_send(c, "\n", 1), 0);
            break;
        default: { /* a whole call answered, then half of the next */
            cr_assert_eq(fake_json_send(c, q, qlen), 0);
            cr_assert_eq(fake_json_send(c, "\n", 1), 0);
            size_t n;
            char *line = fake_json_read_line(c, IO_MS, &n);
            cr_assert_not_null(line, "connection %d: no answer (%s); stderr:\n%s", i,
                               errno ? strerror(errno) : "EOF", errtail());
            bool echo = strcmp(line, echo_of(q)) == 0;
            free(line);
            cr_assert(echo, "connection %d: not the echo; stderr:\n%s", i, errtail());
            answered++;
            cr_assert_eq(fake_json_send(c, q, qlen / 2), 0);
            break;
        }
        }
        fake_json_client_free(c);
    }
    cr_assert_eq(answered, CHURN / 4);
    wait_no_conns();
    rbgw_fault_assert_settled(gw, &base, "3000 connections opened and dropped");

    cl = connect_gw();
    const char *q = lookup("after.churn.");
    rbgw_test_client_send(cl, q);
    cr_assert_str_eq(rbgw_test_client_read(cl, gw), echo_of(q), "stderr:\n%s", errtail());
    fake_json_client_free(cl);
    cl = NULL;
    cr_assert_eq(fake_json_accepts(srv), 1, "rbgw opened more than its one upstream connection");
    rbgw_fault_assert_settled(gw, &base, "a client after the churn");
    finish();
}

/* A TCP connection to rbgw's HTTP listener. */
static int
http_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)http_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s\n%s",
                 strerror(errno), errtail());
    return fd;
}

/* Read one whole HTTP answer (by Content-Length) on fd; its status. */
static int
http_status(int fd)
{
    char *buf = NULL;
    size_t len = 0, cap = 0, need = 0;
    long deadline = rbgw_test_now_ms() + IO_MS;
    while (need == 0 || len < need) {
        const char *end = len ? rbgw_test_head_end(buf, len) : NULL;
        if (end && need == 0) {
            const char *cl_hdr = strcasestr(buf, "Content-Length:");
            cr_assert(cl_hdr && cl_hdr < end, "no Content-Length: %s", buf);
            need = (size_t)(end + 4 - buf) + strtoul(cl_hdr + 15, NULL, 10);
            continue;
        }
        long left = deadline - rbgw_test_now_ms();
        cr_assert_gt(left, 0, "no whole HTTP answer (%zu bytes); stderr:\n%s", len, errtail());
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)left) <= 0) {
            continue;
        }
        ssize_t n = rbgw_test_recv_more(fd, &buf, &len, &cap);
        cr_assert(n != 0, "the connection ended before a whole answer: <%s>", buf ? buf : "");
        cr_assert(n > 0 || errno == EINTR || errno == EAGAIN, "recv: %s", strerror(errno));
    }
    int status = atoi(buf + 9);
    free(buf);
    return status;
}

/* The HTTP listener's share of the churn: the same four kinds of connection, in REST. */
Test(faults_pdns, thousands_of_http_connections_opened_and_dropped)
{
    start_http(true);
    struct rbgw_fault_base base = warm();
    unsigned answered = 0;
    for (int i = 0; i < CHURN; i++) {
        const char *req = rbgw_test_fmt(REST_FMT, rbgw_test_fmt("churn%d.example.", i));
        size_t rlen = strlen(req);
        int fd = http_connect();
        switch (i % 4) {
        case 0: /* opened and dropped */
            break;
        case 1: /* half a request head */
            cr_assert(rbgw_test_send_all(fd, req, rlen / 2));
            break;
        case 2: /* a whole request, its answer never read */
            cr_assert(rbgw_test_send_all(fd, req, rlen));
            break;
        default: /* a whole request answered, then half of the next */
            cr_assert(rbgw_test_send_all(fd, req, rlen));
            cr_assert_eq(http_status(fd), 200, "connection %d; stderr:\n%s", i, errtail());
            answered++;
            cr_assert(rbgw_test_send_all(fd, req, rlen / 2));
            break;
        }
        close(fd);
    }
    cr_assert_eq(answered, CHURN / 4);
    pid_t pid = rbgw_proc_pid(gw);
    long deadline = rbgw_test_now_ms() + IO_MS;
    while (rbgw_test_tcp_conns(pid, http_port) != 0 && rbgw_test_now_ms() < deadline) {
        poll(NULL, 0, 10);
    }
    cr_assert_eq(rbgw_test_tcp_conns(pid, http_port), 0,
                 "rbgw keeps %d connections on its HTTP listener; stderr:\n%s",
                 rbgw_test_tcp_conns(pid, http_port), errtail());
    rbgw_fault_assert_settled(gw, &base, "3000 HTTP connections opened and dropped");

    int fd = http_connect();
    const char *req = rbgw_test_fmt(REST_FMT, "after.churn.");
    cr_assert(rbgw_test_send_all(fd, req, strlen(req)));
    cr_assert_eq(http_status(fd), 200, "stderr:\n%s", errtail());
    close(fd);
    cr_assert_eq(fake_json_accepts(srv), 1, "rbgw opened more than its one upstream connection");
    rbgw_fault_assert_settled(gw, &base, "an HTTP client after the churn");
    finish();
}

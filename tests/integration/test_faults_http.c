/*
 * test_faults_http.c: an HTTP responder that misbehaves in every way we know of, one test per
 * fault, in front of the rbgw binary.  For each fault: rbgw does not crash, the call that met it
 * gets exactly one answer (the responder's, or a false naming the fault's class) and the log
 * says why, the calls around it (before, meanwhile, after; on the faulty upstream and on a
 * healthy one) are answered as if nothing happened, and rbgw's descriptors and memory come back
 * to what they were.
 *
 *   test ──unix clients──> rbgw --listen=unix:path=...      (calls, as pdns's unix connector)
 *        ──stdin/stdout──> rbgw --listen=pipe               (readiness probe, clean exit)
 *                          rbgw ──route zone=evil.example.──> "evil" http upstream (fake_httpd,
 *                                                             a decide callback with the fault)
 *                          rbgw ──every other call─────────> "good" http upstream (fake_httpd)
 *
 * Both responders answer an ordinary call by echoing the request target in the reply's log
 * (`{"result":true,"log":["seen <target>"]}`), so a test knows which call an answer belongs to:
 * a call followed on the same connection by another that gets its own echo was answered once,
 * not twice.  On the evil responder a call whose name starts with "bad" meets the fault.
 *
 * What each test proves (in parentheses: the fault class the false reply must name):
 *   stall_before_headers   no byte of a reply: answered false at the upstream's timeout (timed
 *                          out); calls on a second connection, to both upstreams, are served
 *                          while the stalled one waits
 *   stall_mid_body         headers and part of the body, then nothing (timed out)
 *   close_mid_reply        headers and part of the body, then FIN (connection closed)
 *   reset_before_reply     an RST instead of a reply: the read is retried once on a fresh
 *                          connection, which is reset too (connection closed)
 *   reset_mid_reply        part of a reply, then RST (connection closed)
 *   keepalive_close_after_n      the server closes each connection after its N-th answer:
 *                                every call is served
 *   keepalive_close_unanswered   the server closes each connection on its (N+1)-th request
 *                                without answering it: a read is retried on a fresh
 *                                connection and served; a write is not repeated (it may have
 *                                been applied): answered false (connection closed), received
 *                                once
 *   garbage                bytes that are not HTTP (protocol error)
 *   deep_json              a reply nested 100,000 levels deep: refused (max-json-depth), no
 *                          stack overflow
 *   huge_reply             a 100 MB reply (Content-Length): refused at max-reply-size (1 MiB
 *                          here) and the connection closed, so the responder could not send it
 *                          all, and rbgw's peak RSS stays within 8 MB of its baseline
 *   huge_reply_announced   a head whose Content-Length is 100 MB, and no body after it:
 *                          refused at once (max-reply-size), not left to time out
 *   big_reply_memory_returns  a 12 MB reply within max-reply-size=16m is served whole, and the
 *                          kept-alive connection does not keep the memory it took
 *   html_404, html_500     an HTML error page (protocol error, naming the status)
 *   empty_200              200 with an empty body: {"result":true}, as documented
 *   chunked_split_at_every_byte  one chunked reply, written in two pieces split at each byte
 *                          position in turn: every split gives the same answer
 *   accept_queue_full      a responder that listens (backlog 1) and never accepts, its queue
 *                          filled: the connect times out (could not connect)
 *
 * Descriptors: rbgw's count at the baseline (after the calls before the fault) plus the change
 * in connections open on the responders must come back, waited for with a bounded poll.  Memory
 * is not a timing threshold: RSS may grow by at most RSS_SLACK_KB over the baseline (not checked
 * under AddressSanitizer, whose quarantine keeps freed memory).  Reads are bounded by
 * RBGW_TEST_IO_MS only so that a broken build fails instead of hanging.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "fake_httpd.h"
#include "fake_json.h"
#include "itest.h"
#include "netio.h"
#include "procstat.h"
#include "rbgw_proc.h"

#define IO_MS RBGW_TEST_IO_MS
#define EVIL_TIMEOUT_MS 500     /* the evil upstream's timeout= (the subject of the stalls) */
#define EVIL_CONNECT_MS 250     /* its connect-timeout= (of accept_queue_full): expires first */
#define RSS_SLACK_KB (8 * 1024) /* RSS may grow this much over the baseline */
#define KEEPALIVE_N 3           /* requests a keep-alive connection serves before it closes */
#define DEEP 100000             /* nesting levels of the deep reply */
#define HUGE_FILL ((size_t)100 * 1024 * 1024) /* filler bytes of the huge reply */
#define BIG_FILL ((size_t)12 * 1024 * 1024)   /* filler bytes of a big reply within the limit */
#define MAX_CONNS 256                         /* responder connections a script keeps counts for */

/* What the evil responder does; read and written under its lock (decide runs under it). */
struct script {
    struct fake_http_action fault; /* what a call named bad* gets */
    unsigned keepalive_n;          /* > 0: close each connection after this many answers */
    bool close_unanswered;         /* keepalive_n: close on the next request instead, unanswered */
    unsigned served[MAX_CONNS];    /* requests decided per connection (accept index) */
    char body[1024];               /* the echo body being answered */
    char raw[2048];                /* a raw response being answered */
};

static struct rbgw_proc *gw;
static struct fake_httpd *evil;
static struct fake_httpd *good;
static struct script evil_script;
static struct script good_script;
static char *dir;
static char gw_sock[108];
static int evil_port;
static const char *max_reply = "1m"; /* rbgw's max-reply-size= */
static int silent_fd = -1;           /* accept_queue_full: the listener that never accepts */
static int fillers[8];               /* accept_queue_full: the test's queued connections */
static size_t nfillers;
static struct fake_json_client *clients[4];
static size_t nclients;

static void
teardown(void)
{
    for (size_t i = 0; i < nclients; i++) {
        fake_json_client_free(clients[i]);
    }
    nclients = 0;
    rbgw_proc_free(gw);
    gw = NULL;
    fake_httpd_stop(evil);
    evil = NULL;
    fake_httpd_stop(good);
    good = NULL;
    for (size_t i = 0; i < nfillers; i++) {
        close(fillers[i]);
    }
    nfillers = 0;
    if (silent_fd >= 0) {
        close(silent_fd);
        silent_fd = -1;
    }
    fake_json_rmtree(dir);
    free(dir);
    dir = NULL;
    rbgw_test_release();
}

TestSuite(faults_http, .fini = teardown, .timeout = 120);

static const char *
errtail(void)
{
    return rbgw_test_stderr(gw);
}

/* ---- the responders ---- */

/* The echo answer to r, in sc->body. */
static void
echo(struct script *sc, const struct fake_http_request *r, struct fake_http_action *a)
{
    snprintf(sc->body, sizeof(sc->body), "{\"result\":true,\"log\":[\"seen %s\"]}", r->target);
    *a = (struct fake_http_action){.kind = FAKE_HTTP_RESPOND, .body = sc->body};
}

/* The echo answer to r as a chunked response in sc->raw: chunks of 1, 7 and the rest, one
 * with a chunk extension, the last size in upper-case hex, and a trailer. */
static size_t
chunked_echo(struct script *sc, const struct fake_http_request *r)
{
    char body[900];
    int blen = snprintf(body, sizeof(body), "{\"result\":true,\"log\":[\"seen %s\"]}", r->target);
    int rest = blen - 8;
    int n = snprintf(sc->raw, sizeof(sc->raw),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n"
                     "1\r\n%.1s\r\n7;ext=1\r\n%.7s\r\n%X\r\n%s\r\n0\r\nX-Trailer: t\r\n\r\n",
                     body, body + 1, rest, body + 8);
    return (size_t)n;
}

static int
decide(void *ctx, struct fake_httpd *s, size_t i, const struct fake_http_request *r,
       struct fake_http_action *a)
{
    struct script *sc = ctx;
    unsigned n = r->conn < MAX_CONNS ? ++sc->served[r->conn] : 0;
    const char *split = strstr(r->target, "split");
    if (split) {
        size_t len = chunked_echo(sc, r);
        size_t at = strtoul(split + 5, NULL, 10);
        *a = (struct fake_http_action){
            .kind = FAKE_HTTP_RESPOND, .raw = sc->raw, .split_at = at < len ? at : 0};
        return 0;
    }
    if (strstr(r->target, "/bad")) {
        *a = sc->fault;
        return 1;
    }
    if (sc->keepalive_n && sc->close_unanswered && n == sc->keepalive_n + 1) {
        *a = (struct fake_http_action){.kind = FAKE_HTTP_CLOSE};
        return 2;
    }
    echo(sc, r, a);
    a->close_after = sc->keepalive_n && !sc->close_unanswered && n == sc->keepalive_n;
    return 0;
}

/* ---- rbgw ---- */

/*
 * Start the good responder, the evil one (unless port is not 0: then that port is the evil
 * upstream, and nothing answers there) and rbgw in front of them.
 */
static void
start(int port)
{
    dir = fake_json_mkdtemp();
    cr_assert_not_null(dir, "mkdtemp: %s", strerror(errno));
    snprintf(gw_sock, sizeof(gw_sock), "%s/gw.sock", dir);
    good = fake_httpd_start(decide, &good_script);
    cr_assert_not_null(good, "cannot start the good responder");
    if (port == 0) {
        evil = fake_httpd_start(decide, &evil_script);
        cr_assert_not_null(evil, "cannot start the evil responder");
        port = fake_httpd_port(evil);
    }
    evil_port = port;
    const char *args[] = {
        "--listen=pipe",
        rbgw_test_fmt("--listen+=unix:path=%s", gw_sock),
        rbgw_test_fmt("--upstream=http:url=http://127.0.0.1:%d/dns,name=evil,timeout=%d,"
                      "connect-timeout=%d,retry-after=0",
                      port, EVIL_TIMEOUT_MS, EVIL_CONNECT_MS),
        rbgw_test_fmt("--upstream+=http:url=http://127.0.0.1:%u/dns,name=good,timeout=8000",
                      (unsigned)fake_httpd_port(good)),
        "--pool=evil:upstreams=evil,retries=0",
        "--pool+=good:upstreams=good",
        "--route=all:pool=evil,zone=evil.example.",
        "--route+=all:pool=good",
        "--deadline=9000",
        rbgw_test_fmt("--max-reply-size=%s", max_reply),
        "--log-level=info",
        NULL,
    };
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
    cr_assert(fake_json_gw_ready(gw, IO_MS), "rbgw did not start; stderr:\n%s", errtail());
}

static struct fake_json_client *
client(void)
{
    cr_assert_lt(nclients, sizeof(clients) / sizeof(clients[0]));
    struct fake_json_client *c = fake_json_connect(gw_sock);
    cr_assert_not_null(c, "connect %s: %s\n%s", gw_sock, strerror(errno), errtail());
    clients[nclients++] = c;
    return c;
}

/* ---- calls ---- */

static const char *
lookup(const char *qname)
{
    return rbgw_test_fmt("{\"method\": \"lookup\", \"parameters\": {\"qname\": \"%s\", "
                         "\"qtype\": \"A\", \"zone-id\": -1}}",
                         qname);
}

/* Send a lookup of qname on c (the answer is read later). */
static void
send_lookup(struct fake_json_client *c, const char *qname)
{
    rbgw_test_client_send(c, lookup(qname));
}

/* qname as the REST path carries it: every '.' as "%2e" (kept). */
static const char *
path_name(const char *qname)
{
    char *p = rbgw_test_keep(calloc(3 * strlen(qname) + 1, 1));
    for (char *o = p; *qname; qname++) {
        o += *qname == '.' ? sprintf(o, "%%2e") : sprintf(o, "%c", *qname);
    }
    return p;
}

/* The answer must be the responder's echo of this call. */
static void
assert_echo(const char *line, const char *qname)
{
    cr_assert(strstr(line, "\"result\":true") &&
                  strstr(line, rbgw_test_fmt("seen /dns/lookup/%s/A", path_name(qname))),
              "expected the echo of %s, got <%s>; stderr:\n%s", qname, line, errtail());
}

/* A lookup of qname on c, answered by the responder's echo. */
static void
good_call(struct fake_json_client *c, const char *qname)
{
    send_lookup(c, qname);
    assert_echo(rbgw_test_client_read(c, gw), qname);
}

/* A lookup of qname on c, answered false naming keyword (and the log says so too). */
static const char *
failed_call(struct fake_json_client *c, const char *qname, const char *keyword)
{
    send_lookup(c, qname);
    const char *line = rbgw_test_client_read(c, gw);
    rbgw_test_assert_false_reply(line, keyword);
    return line;
}

/* ---- descriptors and memory ---- */

/* AddressSanitizer keeps freed memory in quarantine by design: no memory checks under it. */
#if defined(__SANITIZE_ADDRESS__)
#define CHECK_MEMORY false
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHECK_MEMORY false
#endif
#endif
#ifndef CHECK_MEMORY
#define CHECK_MEMORY true
#endif

struct baseline {
    int fds;       /* rbgw's descriptors */
    long rss_kb;   /* rbgw's VmRSS */
    long hwm_kb;   /* rbgw's VmHWM (its peak RSS so far) */
    int evil_open; /* connections open on the evil responder (as it sees them) */
    int good_open; /* connections open on the good responder */
};

static int
open_on(struct fake_httpd *s)
{
    return s ? (int)fake_httpd_accepts(s) - (int)fake_httpd_closes(s) : 0;
}

/* Bounded poll until the connections rbgw holds are the ones the responders see open (no
 * close left half-done on either side), then take the numbers. */
static struct baseline
settle(const struct baseline *before)
{
    pid_t pid = rbgw_proc_pid(gw);
    long deadline = rbgw_test_now_ms() + IO_MS;
    struct baseline b;
    for (;;) {
        b.evil_open = open_on(evil);
        b.good_open = open_on(good);
        b.fds = rbgw_test_fd_count(pid);
        int tcp = rbgw_test_tcp_peer_conns(pid, evil_port) +
                  rbgw_test_tcp_peer_conns(pid, fake_httpd_port(good));
        int want = before ? before->fds + (b.evil_open - before->evil_open) +
                                (b.good_open - before->good_open)
                          : b.fds;
        /* rbgw's sockets to the responders are exactly the ones they hold open. */
        bool steady = tcp == b.evil_open + b.good_open && b.fds == want;
        if (steady || rbgw_test_now_ms() >= deadline) {
            cr_assert(steady,
                      "descriptors did not settle: rbgw has %d fds (want %d), %d sockets to the "
                      "responders, which hold %d + %d open; stderr:\n%s",
                      b.fds, want, tcp, b.evil_open, b.good_open, errtail());
            break;
        }
        poll(NULL, 0, 10);
    }
    b.rss_kb = rbgw_test_status_kb(pid, "VmRSS");
    b.hwm_kb = rbgw_test_status_kb(pid, "VmHWM");
    cr_assert_gt(b.rss_kb, 0);
    cr_assert_gt(b.hwm_kb, 0);
    return b;
}

/* The descriptors came back and RSS stayed within RSS_SLACK_KB of the baseline. */
static void
assert_back_to(const struct baseline *base)
{
    struct baseline now = settle(base);
    cr_log_info("fds %d -> %d, VmRSS %ld -> %ld kB, VmHWM %ld -> %ld kB", base->fds, now.fds,
                base->rss_kb, now.rss_kb, base->hwm_kb, now.hwm_kb);
    if (CHECK_MEMORY) {
        cr_assert_leq(now.rss_kb, base->rss_kb + RSS_SLACK_KB, "rbgw's RSS grew from %ld to %ld kB",
                      base->rss_kb, now.rss_kb);
    }
}

/* rbgw drains and exits 0 at SIGTERM, with nothing more on stdout and nothing wrong in its log
 * (EOF on stdin alone does not stop an rbgw that has another listener). */
static void
assert_clean_exit(void)
{
    cr_assert_eq(kill(rbgw_proc_pid(gw), SIGTERM), 0);
    char *rest = NULL;
    size_t rest_len = 0;
    cr_assert_eq(rbgw_proc_read_to_eof(gw, IO_MS, &rest, &rest_len), 0,
                 "stdout not closed after SIGTERM; stderr:\n%s", errtail());
    rbgw_test_keep(rest);
    cr_assert_eq(rest_len, 0, "stray bytes on stdout: <%s>", rest);
    rbgw_test_assert_exit_0(gw);
    rbgw_test_assert_clean_stderr(gw);
}

/* ---- the common shape of a test ---- */

/* Good calls to both upstreams on c, then the baseline. */
static struct baseline
before_fault(struct fake_json_client *c)
{
    good_call(c, "before.good.example.");
    good_call(c, "before.evil.example.");
    return settle(NULL);
}

/* Good calls to both upstreams on c after the fault, descriptors and memory back, clean exit. */
static void
after_fault(struct fake_json_client *c, const struct baseline *base)
{
    good_call(c, "after.good.example.");
    good_call(c, "after.evil.example.");
    cr_assert_eq(fake_json_pending(c), 0, "stray bytes after the last answer");
    assert_back_to(base);
    assert_clean_exit();
}

/* One bad call on c, answered false naming keyword; the log names it too. */
static void
fault_call(struct fake_json_client *c, const char *keyword, const char *log_says)
{
    failed_call(c, "bad.evil.example.", keyword);
    cr_assert(rbgw_test_stderr_has(gw, log_says), "the log does not say \"%s\":\n%s", log_says,
              errtail());
}

/* A test whose fault is one scripted action against a bad call. */
static void
simple_fault(const struct fake_http_action *fault, const char *keyword, const char *log_says)
{
    evil_script.fault = *fault;
    start(0);
    struct fake_json_client *c = client();
    struct baseline base = before_fault(c);
    fault_call(c, keyword, log_says);
    after_fault(c, &base);
}

/*
 * A stalled bad call on one connection: while it waits, a second connection's calls to both
 * upstreams are served; then it is answered false (timed out).
 */
static void
stalled_fault(const struct fake_http_action *fault)
{
    evil_script.fault = *fault;
    start(0);
    struct fake_json_client *c = client();
    struct fake_json_client *c2 = client();
    struct baseline base = before_fault(c);
    size_t seen = fake_httpd_nrequests(evil);
    send_lookup(c, "bad.evil.example.");
    cr_assert(fake_httpd_wait_requests(evil, seen + 1, IO_MS), "the bad call never came");
    good_call(c2, "meanwhile.good.example.");
    good_call(c2, "meanwhile.evil.example.");
    rbgw_test_assert_false_reply(rbgw_test_client_read(c, gw), "timed out");
    cr_assert(rbgw_test_stderr_has(gw, "no reply within"), "%s", errtail());
    after_fault(c, &base);
}

/* ---- the faults ---- */

Test(faults_http, stall_before_headers)
{
    stalled_fault(&(struct fake_http_action){.kind = FAKE_HTTP_STALL});
}

Test(faults_http, stall_mid_body)
{
    stalled_fault(&(struct fake_http_action){
        .kind = FAKE_HTTP_RESPOND,
        .raw = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
               "{\"result\": [{\"qname\"",
    });
}

Test(faults_http, close_mid_reply)
{
    simple_fault(
        &(struct fake_http_action){
            .kind = FAKE_HTTP_RESPOND,
            .raw = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n"
                   "\r\n{\"result\": [{\"qname\"",
            .close_after = true,
        },
        "connection closed", "in the middle of the response");
}

/* Requests for the bad call the evil responder received. */
static size_t
bad_requests(void)
{
    size_t n = 0;
    for (size_t i = 0; i < fake_httpd_nrequests(evil); i++) {
        n += strstr(fake_httpd_request(evil, i)->target, "/bad") != NULL;
    }
    return n;
}

Test(faults_http, reset_before_reply)
{
    simple_fault(&(struct fake_http_action){.kind = FAKE_HTTP_CLOSE, .reset = true},
                 "connection closed", "before any response");
    /* on the reused connection, then once on a fresh one: two requests, not one, not three */
    cr_assert_eq(bad_requests(), 2, "the bad call reached the responder %zu times", bad_requests());
}

Test(faults_http, reset_mid_reply)
{
    simple_fault(
        &(struct fake_http_action){
            .kind = FAKE_HTTP_RESPOND,
            .raw = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n"
                   "\r\n{\"result\": [{\"qname\"",
            .close_after = true,
            .reset = true,
        },
        "connection closed", "in the middle of the response");
}

/* Calls on c, each its own echo, while the evil responder closes connections under them. */
static void
keepalive_calls(struct fake_json_client *c, int from, int n)
{
    for (int k = from; k < from + n; k++) {
        good_call(c, rbgw_test_fmt("ka%d.evil.example.", k));
    }
}

Test(faults_http, keepalive_close_after_n)
{
    evil_script.keepalive_n = KEEPALIVE_N;
    start(0);
    struct fake_json_client *c = client();
    struct baseline base = before_fault(c);
    keepalive_calls(c, 0, 4 * KEEPALIVE_N);
    cr_assert_geq(fake_httpd_closes(evil), 4, "the responder closed %u connections",
                  fake_httpd_closes(evil));
    after_fault(c, &base);
}

Test(faults_http, keepalive_close_unanswered)
{
    evil_script.keepalive_n = KEEPALIVE_N;
    evil_script.close_unanswered = true;
    start(0);
    struct fake_json_client *c = client();
    /* before_fault's evil call was request 1 of connection 0: two more fill it */
    struct baseline base = before_fault(c);
    keepalive_calls(c, 0, KEEPALIVE_N - 1);
    /* request N+1 of connection 0 is closed unanswered: the read goes again on connection 1 */
    keepalive_calls(c, KEEPALIVE_N - 1, KEEPALIVE_N);
    cr_assert(fake_httpd_wait_conn_closed(evil, 0, IO_MS));
    /* connection 1 served N: a write as its N+1-th is not repeated */
    rbgw_test_client_send(c, "{\"method\": \"setDomainMetadata\", \"parameters\": {\"name\": "
                             "\"w.evil.example.\", \"kind\": \"X-TEST\", \"value\": [\"1\"]}}");
    const char *line = rbgw_test_client_read(c, gw);
    rbgw_test_assert_false_reply(line, "connection closed");
    size_t writes = 0;
    for (size_t i = 0; i < fake_httpd_nrequests(evil); i++) {
        writes += strcasestr(fake_httpd_request(evil, i)->target, "/setDomainMetadata/") != NULL;
    }
    cr_assert_eq(writes, 1, "the write reached the responder %zu times", writes);
    keepalive_calls(c, 2 * KEEPALIVE_N, KEEPALIVE_N);
    after_fault(c, &base);
}

Test(faults_http, garbage)
{
    simple_fault(
        &(struct fake_http_action){.kind = FAKE_HTTP_RESPOND, .raw = "SSH-2.0-OpenSSH_9.2p1\r\n"},
        "protocol error", "malformed HTTP response");
}

Test(faults_http, deep_json)
{
    size_t len = 12 + 2 * DEEP + 2;
    char *body = rbgw_test_keep(malloc(len));
    char *p = body;
    p += sprintf(p, "{\"result\":");
    memset(p, '[', DEEP);
    p += DEEP;
    memset(p, ']', DEEP);
    p += DEEP;
    strcpy(p, "}");
    simple_fault(&(struct fake_http_action){.kind = FAKE_HTTP_RESPOND, .body = body},
                 "max-json-depth", "max-json-depth");
}

Test(faults_http, huge_reply)
{
    evil_script.fault = (struct fake_http_action){
        .kind = FAKE_HTTP_RESPOND,
        .body = "{\"result\":\"",
        .fill_len = HUGE_FILL,
        .fill_end = "\"}",
    };
    start(0);
    struct fake_json_client *c = client();
    struct baseline base = before_fault(c);
    fault_call(c, "max-reply-size", "max-reply-size");
    /* rbgw closed the connection: the responder's send failed long before 100 MB */
    cr_assert(fake_httpd_wait_conn_closed(evil, 0, IO_MS));
    size_t sent = fake_httpd_bytes_sent(evil);
    cr_log_info("the responder sent %zu bytes of a %zu-byte reply", sent, HUGE_FILL);
    cr_assert_lt(sent, HUGE_FILL / 2, "the responder sent %zu bytes", sent);
    /* and rbgw never held much of it at once */
    long hwm = rbgw_test_status_kb(rbgw_proc_pid(gw), "VmHWM");
    cr_log_info("VmHWM %ld -> %ld kB", base.hwm_kb, hwm);
    if (CHECK_MEMORY) {
        cr_assert_leq(hwm, base.hwm_kb + RSS_SLACK_KB, "rbgw's peak RSS grew from %ld to %ld kB",
                      base.hwm_kb, hwm);
    }
    after_fault(c, &base);
}

Test(faults_http, huge_reply_announced)
{
    /* Only the head: were rbgw to wait for the body, the call would time out instead. */
    simple_fault(&(struct fake_http_action){.kind = FAKE_HTTP_RESPOND,
                                            .raw = "HTTP/1.1 200 OK\r\n"
                                                   "Content-Type: application/json\r\n"
                                                   "Content-Length: 104857600\r\n\r\n"},
                 "max-reply-size", "bytes (its Content-Length) larger than max-reply-size");
}

Test(faults_http, big_reply_memory_returns)
{
    max_reply = "16m";
    evil_script.fault = (struct fake_http_action){
        .kind = FAKE_HTTP_RESPOND,
        .body = "{\"result\":\"",
        .fill_len = BIG_FILL,
        .fill_end = "\"}",
    };
    start(0);
    struct fake_json_client *c = client();
    struct baseline base = before_fault(c);
    send_lookup(c, "bad.evil.example.");
    /* read here, not by rbgw_test_client_read: its assertions quote the line, and Criterion's
     * --full-stats reports passing assertions too, 12 MB messages each */
    size_t len = 0;
    char *line = fake_json_read_line(c, IO_MS, &len);
    cr_assert(line != NULL, "no reply (%s)", errno == ETIMEDOUT ? "timed out" : "EOF");
    rbgw_test_keep(line);
    cr_assert(len == BIG_FILL + 13 && strlen(line) == len, "a reply of %zu bytes", len);
    cr_assert(strncmp(line, "{\"result\":\"xxxx", 15) == 0, "<%.40s...>", line);
    after_fault(c, &base);
}

Test(faults_http, html_404)
{
    simple_fault(
        &(struct fake_http_action){
            .kind = FAKE_HTTP_RESPOND,
            .status = 404,
            .content_type = "text/html",
            .body = "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1>"
                    "</body></html>",
        },
        "protocol error", "HTTP status 404");
}

Test(faults_http, html_500)
{
    simple_fault(
        &(struct fake_http_action){
            .kind = FAKE_HTTP_RESPOND,
            .status = 500,
            .content_type = "text/html",
            .body = "<html><body><h1>500 Internal Server Error</h1></body></html>",
        },
        "protocol error", "HTTP status 500");
}

Test(faults_http, empty_200)
{
    evil_script.fault = (struct fake_http_action){.kind = FAKE_HTTP_RESPOND};
    start(0);
    struct fake_json_client *c = client();
    struct baseline base = before_fault(c);
    send_lookup(c, "bad.evil.example.");
    const char *line = rbgw_test_client_read(c, gw);
    cr_assert_str_eq(line, "{\"result\":true}");
    after_fault(c, &base);
}

Test(faults_http, chunked_split_at_every_byte)
{
    start(0);
    struct fake_json_client *c = client();
    struct baseline base = before_fault(c);
    /* the length of one split reply: the target's digits do not change it below 10000 */
    struct fake_http_request probe = {.target = "/dns/lookup/split1000.evil.example./A"};
    size_t len = chunked_echo(&(struct script){0}, &probe);
    cr_assert_lt(len, 1000);
    for (size_t at = 1; at < len; at++) {
        good_call(c, rbgw_test_fmt("split%zu.evil.example.", 1000 + at));
    }
    after_fault(c, &base);
}

#define SILENT_BACKLOG 1 /* listen() backlog of the responder that never accepts */

/* A TCP listener on 127.0.0.1 that never accepts, its accept queue filled by the test; its
 * port. */
static int
silent_listener(void)
{
    uint16_t port = 0;
    silent_fd = rbgw_test_tcp_bind(&port);
    cr_assert_geq(silent_fd, 0, "bind: %s", strerror(errno));
    cr_assert_eq(listen(silent_fd, SILENT_BACKLOG), 0, "listen: %s", strerror(errno));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    while (rbgw_test_listen_queue(port) <= SILENT_BACKLOG) {
        cr_assert_lt(nfillers, sizeof(fillers) / sizeof(fillers[0]), "the queue never filled");
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(fd, 0);
        fillers[nfillers++] = fd;
        /* room in the queue: the handshake completes at once */
        cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s",
                     strerror(errno));
    }
    return port;
}

Test(faults_http, accept_queue_full)
{
    start(silent_listener());
    struct fake_json_client *c = client();
    good_call(c, "before.good.example.");
    struct baseline base = settle(NULL);
    fault_call(c, "could not connect", "connect timed out");
    good_call(c, "after.good.example.");
    cr_assert_eq(fake_json_pending(c), 0, "stray bytes after the last answer");
    assert_back_to(&base);
    assert_clean_exit();
}

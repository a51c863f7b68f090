/*
 * test_limits.c: the limits that protect the rbgw process, each hit on the binary: the answer
 * or the close it gives, the log line, the counter in rbgw_limit_hits_total, and that rbgw
 * goes on serving afterwards.
 *
 *   test ──stdin/stdout──> rbgw --listen=pipe            (calls, and the readiness probe)
 *   test ──unix clients──> rbgw --listen=unix:path=...   (max-conns, pipelining, EMFILE)
 *   test ──TCP clients───> rbgw --listen=http:...        (431, slow clients, 503)
 *   test ──admin socket──> rbgw --admin=unix:path=...    (GET /metrics)
 *                          rbgw ──> fake_json unix responder (echo; "hold" waits for a latch)
 *
 * What each test proves:
 *   duplicate envelope keys   a call naming "method" or "parameters" twice is answered false and
 *                             never reaches the responder (it used to go out as a mix of one
 *                             method and the other's parameters); keys repeated inside
 *                             parameters are left to the reader (the last one wins)
 *   JSON limits               a call past max-json-depth / max-json-elements is answered false
 *                             naming the key, and a reply past them is refused (too_big) while
 *                             the same call within the limits is served: the echo responder's
 *                             reply holds one more level and one more value than the call, so
 *                             the boundaries of both directions are tested at once
 *   max-inflight              with max-inflight calls held upstream, a new one is answered
 *                             false at once ("overloaded"), never queued; once they are
 *                             answered a call is served again
 *   reload                    max-inflight set in the file takes effect at SIGHUP
 *   431                       an HTTP request with more than max-headers header lines, or a
 *                             head larger than max-header-size, gets 431 with a JSON body and
 *                             the connection closes; a new connection is served
 *   slow clients              connections that trickle their request line and headers, their
 *                             body, or send nothing at all are closed after header-timeout /
 *                             body-timeout while a normal client is served meanwhile, and
 *                             rbgw's descriptors come back to what they were
 *   max-conns                 a connection past max-conns is closed at once (HTTP: 503 with a
 *                             JSON body first), and one is served again once another closed
 *   EMFILE                    with rbgw's descriptor table full, its unix listener drops new
 *                             connections (libuv sheds them), the loop keeps serving the pipe
 *                             listener, and once descriptors are free the listener serves again
 *   max-conn-buffer           a client pipelining past max-conn-buffer with a call in flight is
 *                             paused with a log line and counted, and every call is answered
 *
 * Timeouts are set short (hundreds of ms) and waited for with bounded polls; nothing here
 * measures how long anything took.  Reads are bounded by RBGW_TEST_IO_MS only so that a broken
 * build fails instead of hanging.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fake_json.h"
#include "itest.h"
#include "netio.h"
#include "procstat.h"
#include "rbgw_proc.h"

#define IO_MS RBGW_TEST_IO_MS
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define PORT_TRIES 5

#define LOOKUP                                                                                     \
    "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"www.example.com.\", \"qtype\": "       \
    "\"A\"}}"
#define HOLD "{\"method\": \"hold\", \"parameters\": {\"qname\": \"held.example.\"}}"
#define REST_LOOKUP                                                                                \
    "GET /dns/lookup/www.example.com./A HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: "                   \
    "application/json\r\n\r\n"

static struct rbgw_proc *gw;                  /* rbgw, or NULL */
static struct fake_json *up;                  /* the unix responder, or NULL */
static char *dir;                             /* the test's directory */
static char *conf_file;                       /* a config file (reload test), or NULL */
static int port;                              /* rbgw's HTTP port */
static char gw_sock[108];                     /* rbgw's unix listener */
static char admin_sock[108];                  /* rbgw's admin endpoint */
static struct fake_json_client *clients[256]; /* unix clients, closed at the end */
static size_t nclients;
static int tcp_fds[64]; /* TCP clients, closed at the end */
static size_t ntcp;

static void
teardown(void)
{
    for (size_t i = 0; i < nclients; i++) {
        fake_json_client_free(clients[i]);
    }
    nclients = 0;
    for (size_t i = 0; i < ntcp; i++) {
        if (tcp_fds[i] >= 0) {
            close(tcp_fds[i]);
        }
    }
    ntcp = 0;
    rbgw_proc_free(gw);
    gw = NULL;
    fake_json_stop(up);
    up = NULL;
    if (conf_file) {
        unlink(conf_file);
        conf_file = NULL;
    }
    fake_json_rmtree(dir);
    free(dir);
    dir = NULL;
    rbgw_test_release();
}

TestSuite(limits, .fini = teardown, .timeout = 60);

static const char *
errtail(void)
{
    return rbgw_test_stderr(gw);
}

/* ---- rbgw ---- */

/*
 * Start rbgw with a pipe listener, a unix listener (options unix_opts, may be ""), an HTTP
 * listener on a free port (http_opts), the admin endpoint, the unix responder as upstream "up",
 * and extra arguments (NULL-terminated, may be NULL).  nofile > 0: rbgw's RLIMIT_NOFILE.
 */
static void
start(const char *unix_opts, const char *http_opts, const char *const *extra, unsigned nofile)
{
    dir = fake_json_mkdtemp();
    cr_assert_not_null(dir, "mkdtemp: %s", strerror(errno));
    const char *up_sock = rbgw_test_fmt("%s/up.sock", dir);
    snprintf(gw_sock, sizeof(gw_sock), "%s/gw.sock", dir);
    snprintf(admin_sock, sizeof(admin_sock), "%s/admin.sock", dir);
    up = fake_json_unix_start(up_sock);
    cr_assert_not_null(up, "cannot start the unix responder");
    for (int attempt = 0; attempt < PORT_TRIES; attempt++) {
        uint16_t p = 0;
        int fd = rbgw_test_tcp_bind(&p);
        cr_assert_geq(fd, 0, "cannot bind a port: %s", strerror(errno));
        close(fd);
        port = p;
        const char *args[32] = {
            "--listen=pipe",
            rbgw_test_fmt("--listen+=unix:path=%s%s", gw_sock, unix_opts),
            rbgw_test_fmt("--listen+=http:address=127.0.0.1:%d,path=/dns%s", port, http_opts),
            rbgw_test_fmt("--upstream=unix:path=%s,name=up,timeout=5000", up_sock),
            rbgw_test_fmt("--admin=unix:path=%s", admin_sock),
            "--deadline=8000",
            "--log-level=info",
        };
        size_t n = 7;
        for (size_t i = 0; extra && extra[i]; i++) {
            cr_assert_lt(n, 31);
            args[n++] = extra[i];
        }
        args[n] = NULL;
        gw = nofile ? rbgw_proc_spawn_nofile(NULL, args, nofile) : rbgw_proc_spawn(NULL, args);
        cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
        if (fake_json_gw_ready(gw, IO_MS)) {
            return;
        }
        cr_assert_not_null(strcasestr(errtail(), "address already in use"),
                           "rbgw did not start; stderr:\n%s", errtail());
        rbgw_proc_free(gw);
        gw = NULL;
        fake_json_stop(up);
        up = fake_json_unix_start(up_sock);
        cr_assert_not_null(up);
    }
    cr_assert_fail("no free port after %d tries", PORT_TRIES);
}

/* ---- the admin endpoint ---- */

/* GET /metrics: the body (kept). */
static const char *
scrape(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, admin_sock, strlen(admin_sock) + 1);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "admin connect: %s\n%s",
                 strerror(errno), errtail());
    static const char req[] = "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    cr_assert(rbgw_test_send_all(fd, req, sizeof(req) - 1));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    long deadline = rbgw_test_now_ms() + IO_MS;
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        long left = deadline - rbgw_test_now_ms();
        cr_assert_gt(left, 0, "no whole /metrics answer");
        if (poll(&pfd, 1, (int)left) <= 0) {
            continue;
        }
        ssize_t n = rbgw_test_recv_more(fd, &buf, &len, &cap);
        if (n == 0) {
            break;
        }
        cr_assert(n > 0 || errno == EINTR || errno == EAGAIN, "recv: %s", strerror(errno));
    }
    close(fd);
    rbgw_test_keep(buf);
    const char *body = strstr(buf, "\r\n\r\n");
    cr_assert_not_null(body, "not HTTP: %s", buf);
    return body + 4;
}

/* The value of the sample whose name and labels are written exactly as `series`. */
static double
sample(const char *text, const char *series)
{
    size_t sl = strlen(series);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, series, sl) == 0 && line[sl] == ' ') {
            return strtod(line + sl + 1, NULL);
        }
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    cr_assert_fail("no sample %s in:\n%s", series, text);
    return -1;
}

/* The sum of every sample of family name whose labels hold label (k="v"). */
static double
sum_with(const char *text, const char *name, const char *label)
{
    double sum = 0;
    size_t nl = strlen(name);
    for (const char *line = text; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (strncmp(line, name, nl) == 0 && line[nl] == '{') {
            const char *close = memchr(line, '}', len);
            const char *at = strstr(line, label);
            if (close && at && at < close) {
                sum += strtod(close + 2, NULL);
            }
        }
        line = eol ? eol + 1 : NULL;
    }
    return sum;
}

static double
limit_hits(const char *limit)
{
    return sample(scrape(), rbgw_test_fmt("rbgw_limit_hits_total{limit=\"%s\"}", limit));
}

/* Poll (bounded) until the limit was hit at least n times; its count. */
static double
wait_limit(const char *limit, double n)
{
    long deadline = rbgw_test_now_ms() + IO_MS;
    double got;
    while ((got = limit_hits(limit)) < n && rbgw_test_now_ms() < deadline) {
        poll(NULL, 0, 10);
    }
    cr_assert_geq(got, n, "%s hit %g times, want %g; stderr:\n%s", limit, got, n, errtail());
    return got;
}

/* ---- clients ---- */

static struct fake_json_client *
unix_client(void)
{
    cr_assert_lt(nclients, NELEM(clients));
    struct fake_json_client *c = fake_json_connect(gw_sock);
    cr_assert_not_null(c, "connect %s: %s", gw_sock, strerror(errno));
    clients[nclients++] = c;
    return c;
}

/* Close unix client i now. */
static void
unix_close(size_t i)
{
    fake_json_client_free(clients[i]);
    clients[i] = NULL;
}

/* A new TCP connection to rbgw's HTTP listener (closed at the end unless closed before). */
static int
tcp_client(void)
{
    cr_assert_lt(ntcp, NELEM(tcp_fds));
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s\n%s",
                 strerror(errno), errtail());
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    tcp_fds[ntcp++] = fd;
    return fd;
}

static void
tcp_close(int fd)
{
    for (size_t i = 0; i < ntcp; i++) {
        if (tcp_fds[i] == fd) {
            tcp_fds[i] = -1;
        }
    }
    close(fd);
}

struct http_answer {
    int status;       /* 0: the connection ended before a whole answer */
    const char *body; /* kept */
    bool closed;      /* EOF came after the answer (or instead of one) */
};

/*
 * Read one HTTP answer on fd (bounded): its status and body (by Content-Length).  With
 * to_eof, go on reading until the connection ends and say whether it did.
 */
static struct http_answer
http_read(int fd, bool to_eof)
{
    struct http_answer a = {0, "", false};
    char *buf = NULL;
    size_t len = 0, cap = 0;
    long deadline = rbgw_test_now_ms() + IO_MS;
    size_t need = 0; /* bytes of the whole answer, once the head is in */
    for (;;) {
        const char *end = len ? rbgw_test_head_end(buf, len) : NULL;
        if (end && need == 0) {
            const char *cl = strcasestr(buf, "Content-Length:");
            cr_assert(cl && cl < end, "no Content-Length: %s", buf);
            need = (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10);
        }
        if (need && len >= need && !to_eof) {
            break;
        }
        long left = deadline - rbgw_test_now_ms();
        cr_assert_gt(left, 0, "no answer within %d ms (got %zu bytes)", IO_MS, len);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)left) <= 0) {
            continue;
        }
        ssize_t n = rbgw_test_recv_more(fd, &buf, &len, &cap);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            a.closed = true;
            break;
        }
        cr_assert(n > 0 || errno == EINTR || errno == EAGAIN, "recv: %s", strerror(errno));
    }
    if (buf) {
        rbgw_test_keep(buf);
    }
    if (need && len >= need) {
        a.status = atoi(buf + 9);
        const char *end = rbgw_test_head_end(buf, len);
        a.body = rbgw_test_keep(strndup(end + 4, need - (size_t)(end + 4 - buf)));
    }
    return a;
}

/* A REST lookup on a new connection, answered 200 with the responder's echo. */
static void
http_served(void)
{
    int fd = tcp_client();
    cr_assert(rbgw_test_send_all(fd, REST_LOOKUP, strlen(REST_LOOKUP)));
    struct http_answer a = http_read(fd, false);
    cr_assert_eq(a.status, 200, "REST lookup: status %d, body %s\n%s", a.status, a.body, errtail());
    cr_assert_not_null(strstr(a.body, "www.example.com."), "not the echo: %s", a.body);
    tcp_close(fd);
}

/* Send line on a unix client and read its answer (kept); NULL if the connection ended. */
static char *
unix_call(struct fake_json_client *c, const char *line)
{
    if (fake_json_send(c, line, strlen(line)) != 0 || fake_json_send(c, "\n", 1) != 0) {
        return NULL;
    }
    size_t len;
    char *r = fake_json_read_line(c, IO_MS, &len);
    /* EOF, or a reset when rbgw closed with the call unread: either way, ended. */
    cr_assert(r != NULL || errno != ETIMEDOUT, "no answer within %d ms\n%s", IO_MS, errtail());
    return r ? rbgw_test_keep(r) : NULL;
}

/* How many records the responder has whose line holds needle. */
static size_t
records_with(const char *needle)
{
    struct fake_json_rec *r;
    size_t n = fake_json_records(up, &r), k = 0;
    for (size_t i = 0; i < n; i++) {
        k += strstr(r[i].data, needle) != NULL;
    }
    fake_json_recs_free(r, n);
    return k;
}

/* {"method": "m", "parameters": {"a": [0, ...]}} holding `values` values in all. */
static const char *
call_with_values(const char *tag, size_t values)
{
    size_t zeros = values - 4; /* the object, "method"'s value, "parameters"' value, the array */
    char *s = rbgw_test_keep(malloc(zeros * 3 + 128));
    size_t n = (size_t)sprintf(s, "{\"method\": \"%s\", \"parameters\": {\"a\": [", tag);
    for (size_t i = 0; i < zeros; i++) {
        n += (size_t)sprintf(s + n, i ? ",0" : "0");
    }
    strcpy(s + n, "]}}");
    return s;
}

/* {"method": "m", "parameters": {"a": [[...[1]...]]}} nested `depth` containers deep. */
static const char *
call_with_depth(const char *tag, int depth)
{
    int arrays = depth - 2; /* the object and "parameters" */
    char *s = rbgw_test_keep(malloc(128 + 2 * (size_t)arrays));
    int n = sprintf(s, "{\"method\": \"%s\", \"parameters\": {\"a\": ", tag);
    for (int i = 0; i < arrays; i++) {
        s[n++] = '[';
    }
    s[n++] = '1';
    for (int i = 0; i < arrays; i++) {
        s[n++] = ']';
    }
    strcpy(s + n, "}}");
    return s;
}

/* ---- tests ---- */

Test(limits, duplicate_envelope_keys_are_refused)
{
    start("", "", NULL, 0);
    /* The shape that used to reach REST as "list" with lookup's parameters. */
    char *r = rbgw_test_call(gw, "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"dup_1.\", "
                                 "\"qtype\": \"A\"}, \"method\": \"list\"}");
    rbgw_test_assert_false_reply(r, "'method' 2 times");
    r = rbgw_test_call(gw, "{\"method\": \"list\", \"parameters\": {\"zonename\": \"dup_2.\"}, "
                           "\"parameters\": {\"qname\": \"dup_3.\"}}");
    rbgw_test_assert_false_reply(r, "'parameters' 2 times");
    /* Inside parameters a repeated key is the reader's to settle (json11: the last one); the
     * call goes out as written. */
    r = rbgw_test_call(gw, "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"first.\", "
                           "\"qname\": \"last.\", \"qtype\": \"A\"}}");
    cr_assert_not_null(strstr(r, "\"qname\": \"last.\""), "%s", r);
    /* The pipe goes on. */
    r = rbgw_test_call(gw, LOOKUP);
    cr_assert_not_null(strstr(r, "www.example.com."), "%s", r);
    cr_expect_eq(records_with("dup_"), 0, "a refused call reached the responder");
    cr_expect(rbgw_test_stderr_has(gw, "'method' 2 times (it may appear once)"), "%s", errtail());
}

Test(limits, json_depth_and_elements_bound_calls_and_replies)
{
    const char *extra[] = {"--max-json-depth=8", "--max-json-elements=1000", NULL};
    start("", "", extra, 0);
    /* Calls past the limits: false at once, nothing forwarded. */
    char *r = rbgw_test_call(gw, call_with_depth("deep_9", 9));
    rbgw_test_assert_false_reply(r, "nesting deeper than 8 levels (max-json-depth)");
    r = rbgw_test_call(gw, call_with_values("many_1001", 1001));
    rbgw_test_assert_false_reply(r, "more than 1000 values (max-json-elements)");
    /* Calls at the limits go out; the echo holds one more level / value: refused replies. */
    r = rbgw_test_call(gw, call_with_depth("deep_8", 8));
    rbgw_test_assert_false_reply(r, "reply refused: nesting deeper than 8 levels");
    r = rbgw_test_call(gw, call_with_values("many_1000", 1000));
    rbgw_test_assert_false_reply(r, "reply refused: more than 1000 values");
    /* And rbgw goes on: the same pipe, the same upstream connection. */
    r = rbgw_test_call(gw, LOOKUP);
    cr_assert_not_null(strstr(r, "www.example.com."), "%s", r);

    cr_expect_eq(records_with("\"deep_9\""), 0);
    cr_expect_eq(records_with("\"many_1001\""), 0);
    cr_expect_eq(records_with("\"deep_8\""), 1);
    cr_expect_eq(records_with("\"many_1000\""), 1);
    cr_expect_eq(fake_json_accepts(up), 1, "a refused reply cost the upstream connection");
    const char *m = scrape();
    cr_expect_eq(sample(m, "rbgw_limit_hits_total{limit=\"max_json_depth\"}"), 2);
    cr_expect_eq(sample(m, "rbgw_limit_hits_total{limit=\"max_json_elements\"}"), 2);
    cr_expect_eq(sample(m, "rbgw_upstream_calls_total{upstream=\"up\",outcome=\"too_big\"}"), 2);
    cr_expect_eq(sample(m, "rbgw_upstream_up{upstream=\"up\"}"), 1);
    cr_expect_eq(sum_with(m, "rbgw_calls_total", "outcome=\"bad_request\""), 2);
}

Test(limits, calls_past_max_inflight_are_answered_overloaded)
{
    const char *extra[] = {"--max-inflight=2", NULL};
    start("", "", extra, 0);
    struct fake_json_client *a = unix_client(), *b = unix_client();
    rbgw_test_client_send(a, HOLD);
    rbgw_test_client_send(b, HOLD);
    cr_assert(fake_json_wait_held(up, 2, IO_MS), "the two calls did not reach the responder");
    char *r = rbgw_test_call(gw, LOOKUP);
    rbgw_test_assert_false_reply(r, "overloaded: 2 calls in flight (max-inflight=2)");
    fake_json_release(up);
    cr_assert_not_null(strstr(rbgw_test_client_read(a, gw), "held.example."));
    cr_assert_not_null(strstr(rbgw_test_client_read(b, gw), "held.example."));
    r = rbgw_test_call(gw, LOOKUP);
    cr_assert_not_null(strstr(r, "www.example.com."), "not served after the others: %s", r);
    const char *m = scrape();
    cr_expect_eq(sample(m, "rbgw_limit_hits_total{limit=\"max_inflight\"}"), 1);
    cr_expect_eq(sum_with(m, "rbgw_calls_total", "outcome=\"overloaded\""), 1);
    cr_expect(rbgw_test_stderr_has(gw, "overloaded: 2 calls in flight"), "%s", errtail());
}

static void
write_conf(const char *text)
{
    FILE *f = fopen(conf_file, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(limits, max_inflight_changes_at_reload)
{
    char *d = fake_json_mkdtemp();
    cr_assert_not_null(d);
    conf_file = rbgw_test_fmt("%s.conf", d);
    fake_json_rmtree(d);
    free(d);
    write_conf("max-inflight = 1\n");
    const char *extra[] = {rbgw_test_fmt("--config=%s", conf_file), NULL};
    start("", "", extra, 0);
    struct fake_json_client *a = unix_client(), *b = unix_client();
    rbgw_test_client_send(a, HOLD);
    cr_assert(fake_json_wait_held(up, 1, IO_MS));
    char *r = unix_call(b, HOLD);
    cr_assert_not_null(r, "b's connection ended");
    rbgw_test_assert_false_reply(r, "(max-inflight=1)");

    write_conf("max-inflight = 3\n");
    cr_assert_eq(kill(rbgw_proc_pid(gw), SIGHUP), 0);
    long deadline = rbgw_test_now_ms() + IO_MS;
    while (sample(scrape(), "rbgw_config_generation") < 2 && rbgw_test_now_ms() < deadline) {
        poll(NULL, 0, 10);
    }
    cr_assert_eq(sample(scrape(), "rbgw_config_generation"), 2, "no reload:\n%s", errtail());
    rbgw_test_client_send(b, HOLD);
    cr_assert(fake_json_wait_held(up, 2, IO_MS), "refused after the reload:\n%s", errtail());
    fake_json_release(up);
    cr_assert_not_null(strstr(rbgw_test_client_read(a, gw), "held.example."));
    cr_assert_not_null(strstr(rbgw_test_client_read(b, gw), "held.example."));
}

Test(limits, http_heads_past_the_limits_get_431)
{
    start("", ",max-headers=4,max-header-size=1024", NULL, 0);
    int fd = tcp_client();
    static const char many[] = "GET /dns/lookup/www.example.com./A HTTP/1.1\r\nHost: x\r\n"
                               "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
    cr_assert(rbgw_test_send_all(fd, many, sizeof(many) - 1));
    struct http_answer a = http_read(fd, true);
    cr_assert_eq(a.status, 431, "five header lines: %d %s", a.status, a.body);
    cr_assert_not_null(strstr(a.body, "\"result\":false"), "%s", a.body);
    cr_assert_not_null(strstr(a.body, "max-headers=4"), "%s", a.body);
    cr_assert(a.closed, "the connection stayed open after the 431");
    tcp_close(fd);

    fd = tcp_client();
    char big[1200 + 128];
    memset(big, 'v', sizeof(big));
    int n = snprintf(big, sizeof(big), "GET /dns/lookup/www.example.com./A HTTP/1.1\r\nX: ");
    big[n] = 'v';
    memcpy(big + 1200, "\r\n\r\n", 4);
    cr_assert(rbgw_test_send_all(fd, big, 1204));
    a = http_read(fd, true);
    cr_assert_eq(a.status, 431, "a 1200-byte head: %d %s", a.status, a.body);
    cr_assert_not_null(strstr(a.body, "max-header-size (1024 bytes)"), "%s", a.body);
    cr_assert(a.closed);
    tcp_close(fd);

    http_served();
    const char *m = scrape();
    cr_expect_eq(sample(m, "rbgw_limit_hits_total{limit=\"max_headers\"}"), 1);
    cr_expect_eq(sample(m, "rbgw_limit_hits_total{limit=\"max_header_size\"}"), 1);
}

#define SLOW_HEADS 20
#define SLOW_BODIES 10
#define SILENT 5
#define SLOW (SLOW_HEADS + SLOW_BODIES + SILENT)

Test(limits, slow_http_clients_are_closed_after_the_timeouts)
{
    start("", ",header-timeout=300,body-timeout=300", NULL, 0);
    http_served(); /* the upstream connection exists: the baseline has it */
    pid_t pid = rbgw_proc_pid(gw);
    long deadline = rbgw_test_now_ms() + IO_MS;
    while (rbgw_test_tcp_conns(pid, port) != 0 && rbgw_test_now_ms() < deadline) {
        poll(NULL, 0, 10); /* rbgw closes its end of the served connection */
    }
    int fds0 = rbgw_test_fd_count(pid);

    int fds[SLOW];
    bool open_[SLOW];
    for (int i = 0; i < SLOW; i++) {
        fds[i] = tcp_client();
        open_[i] = true;
        if (i < SLOW_HEADS) {
            static const char head[] = "GET /dns/lookup/www.example.com./A HTTP/1.1\r\nX-Slow: ";
            cr_assert(rbgw_test_send_all(fds[i], head, sizeof(head) - 1));
        } else if (i < SLOW_HEADS + SLOW_BODIES) {
            static const char head[] = "POST /dns/lookup HTTP/1.1\r\nHost: x\r\n"
                                       "Content-Length: 100000\r\n\r\nparameters=";
            cr_assert(rbgw_test_send_all(fds[i], head, sizeof(head) - 1));
        }
    }
    /* Trickle a byte to each slow client per round (the spacing is the poll below, which also
     * watches for the closes) until rbgw has closed them all; serve a normal client on the
     * way. */
    deadline = rbgw_test_now_ms() + IO_MS;
    int left = SLOW;
    bool served = false;
    while (left > 0 && rbgw_test_now_ms() < deadline) {
        struct pollfd pfd[SLOW];
        for (int i = 0; i < SLOW; i++) {
            pfd[i] = (struct pollfd){.fd = open_[i] ? fds[i] : -1, .events = POLLIN};
        }
        poll(pfd, SLOW, 50);
        for (int i = 0; i < SLOW; i++) {
            if (!open_[i]) {
                continue;
            }
            if (pfd[i].revents) {
                char b[256];
                ssize_t n = recv(fds[i], b, sizeof(b), MSG_DONTWAIT);
                cr_assert(n <= 0, "a slow client got an answer: %.*s", (int)n, b);
                if (n == 0 || errno == ECONNRESET) {
                    open_[i] = false;
                    left--;
                    continue;
                }
            }
            if (i < SLOW_HEADS + SLOW_BODIES) {
                send(fds[i], "a", 1, MSG_NOSIGNAL);
            }
        }
        if (!served) {
            http_served();
            served = true;
        }
    }
    cr_assert_eq(left, 0, "%d slow connections still open; stderr:\n%s", left, errtail());
    for (int i = 0; i < SLOW; i++) {
        tcp_close(fds[i]);
    }
    deadline = rbgw_test_now_ms() + IO_MS;
    while (rbgw_test_fd_count(pid) != fds0 && rbgw_test_now_ms() < deadline) {
        poll(NULL, 0, 10);
    }
    cr_assert_eq(rbgw_test_fd_count(pid), fds0, "rbgw holds %d descriptors, %d before",
                 rbgw_test_fd_count(pid), fds0);
    const char *m = scrape();
    cr_expect_eq(sample(m, "rbgw_limit_hits_total{limit=\"header_timeout\"}"), SLOW_HEADS + SILENT);
    cr_expect_eq(sample(m, "rbgw_limit_hits_total{limit=\"body_timeout\"}"), SLOW_BODIES);
    cr_expect(rbgw_test_stderr_has(gw, "did not arrive within header-timeout=300 ms"), "%s",
              errtail());
    http_served();
}

Test(limits, connections_past_max_conns_are_closed_at_once)
{
    start(",max-conns=2", ",max-conns=3", NULL, 0);
    pid_t pid = rbgw_proc_pid(gw);
    /* HTTP: three served and kept open, the fourth gets 503 and is closed. */
    int keep[3];
    for (int i = 0; i < 3; i++) {
        keep[i] = tcp_client();
        cr_assert(rbgw_test_send_all(keep[i], REST_LOOKUP, strlen(REST_LOOKUP)));
        cr_assert_eq(http_read(keep[i], false).status, 200);
    }
    int fd = tcp_client();
    struct http_answer a = http_read(fd, true);
    cr_assert_eq(a.status, 503, "the fourth connection: %d %s", a.status, a.body);
    cr_assert_not_null(strstr(a.body, "too many connections (max-conns)"), "%s", a.body);
    cr_assert(a.closed);
    tcp_close(fd);
    tcp_close(keep[0]);
    long deadline = rbgw_test_now_ms() + IO_MS;
    while (rbgw_test_tcp_conns(pid, port) > 2 && rbgw_test_now_ms() < deadline) {
        poll(NULL, 0, 10);
    }
    http_served();

    /* unix: two served, the third closed unanswered. */
    struct fake_json_client *c0 = unix_client(), *c1 = unix_client();
    cr_assert_not_null(unix_call(c0, LOOKUP));
    cr_assert_not_null(unix_call(c1, LOOKUP));
    struct fake_json_client *c2 = unix_client();
    cr_assert_null(unix_call(c2, LOOKUP), "the third unix connection was served");
    unix_close(0);
    deadline = rbgw_test_now_ms() + IO_MS;
    while (rbgw_test_unix_conns(pid, gw_sock) > 1 && rbgw_test_now_ms() < deadline) {
        poll(NULL, 0, 10);
    }
    cr_assert_not_null(unix_call(unix_client(), LOOKUP), "not served once one was closed");

    cr_expect_eq(limit_hits("max_conns"), 2);
    cr_expect(rbgw_test_stderr_has(gw, "(max-conns=3): a new one is closed at once"), "%s",
              errtail());
    cr_expect(rbgw_test_stderr_has(gw, "(max-conns=2): a new one is closed at once"), "%s",
              errtail());
}

#define NOFILE 64

Test(limits, unix_listener_serves_again_after_rbgw_ran_out_of_descriptors)
{
    start(",max-conns=1000", "", NULL, NOFILE);
    char *r = rbgw_test_call(gw, LOOKUP); /* the upstream connection exists */
    cr_assert_not_null(strstr(r, "www.example.com."), "%s", r);
    /* Fill rbgw's descriptor table with served connections until one is dropped. */
    bool dropped = false;
    while (!dropped && nclients < (size_t)NOFILE + 8) {
        dropped = unix_call(unix_client(), LOOKUP) == NULL;
    }
    cr_assert(dropped, "%zu connections and none dropped (RLIMIT_NOFILE %d)", nclients, NOFILE);
    /* The loop is not stuck in accept: the pipe is answered. */
    r = rbgw_test_call(gw, LOOKUP);
    cr_assert_not_null(strstr(r, "www.example.com."), "%s", r);
    /* Free a few descriptors; a new connection is served again (rbgw closes its end of a
     * closed one when it reads the EOF, so this polls, bounded). */
    for (size_t i = 0; i < 4; i++) {
        unix_close(i);
    }
    long deadline = rbgw_test_now_ms() + IO_MS;
    bool served = false;
    while (!served && rbgw_test_now_ms() < deadline && nclients < NELEM(clients)) {
        served = unix_call(unix_client(), LOOKUP) != NULL;
        if (!served) {
            poll(NULL, 0, 20);
        }
    }
    cr_assert(served, "the unix listener never served again; stderr:\n%s", errtail());
    rbgw_test_assert_clean_stderr(gw);
}

Test(limits, pipelining_past_max_conn_buffer_pauses_with_a_log_line)
{
    const char *extra[] = {"--max-conn-buffer=4096", NULL};
    start("", "", extra, 0);
    struct fake_json_client *c = unix_client();
    rbgw_test_client_send(c, HOLD);
    cr_assert(fake_json_wait_held(up, 1, IO_MS));
    const int n = 200; /* about 14 KiB behind the call in flight */
    for (int i = 0; i < n; i++) {
        rbgw_test_client_send(c, LOOKUP);
    }
    wait_limit("max_conn_buffer", 1);
    cr_expect(rbgw_test_stderr_has(gw, "(max-conn-buffer=4096): reading paused"), "%s", errtail());
    fake_json_release(up);
    cr_assert_not_null(strstr(rbgw_test_client_read(c, gw), "held.example."));
    for (int i = 0; i < n; i++) {
        cr_assert_not_null(strstr(rbgw_test_client_read(c, gw), "www.example.com."), "call %d", i);
    }
}

/*
 * test_admin.c: the admin endpoint of a real rbgw: what /metrics counts against calls the test
 * made, that Prometheus's own promtool accepts the scrape, readiness following an upstream
 * that dies and comes back, `rbgw status`, and the limits that keep a client from holding the
 * loop or growing memory (max-conns, max-request-size, timeout).
 *
 *   test ──stdin/stdout (pipe listener)──> rbgw ──> fake HTTP responder (scripted) / unix
 *        ──HTTP over the admin socket────────^        responder / a port that refuses
 *
 * Calls go through the pipe listener, so their answers arrive on rbgw's stdout before the
 * test scrapes: every counter is final by then (a call is counted where it is answered).  The
 * values checked are exact; the one timing fact used (a call cut off by a 300 ms timeout took
 * more than 250 ms) holds by construction, not by the machine's speed.  Waits for a state
 * (ejection, a check bringing an upstream back, a freed admin slot) are bounded polls.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "fake_http.h"
#include "fake_json.h"
#include "itest.h"
#include "netio.h"

#include "rbgw/metrics.h"

#define IO_MS RBGW_TEST_IO_MS

static struct rbgw_proc *gw;
static struct fake_http *web;
static struct fake_json *sock_up;
static char *dir;
static int held_fd = -1;
static char admin_path[100]; /* unix admin socket, or "" for TCP */
static uint16_t admin_port;  /* TCP admin port when admin_path is "" */

static void
teardown(void)
{
    if (gw) {
        rbgw_proc_free(gw);
        gw = NULL;
    }
    if (web) {
        fake_http_stop(web);
        web = NULL;
    }
    if (sock_up) {
        fake_json_stop(sock_up);
        sock_up = NULL;
    }
    if (held_fd >= 0) {
        close(held_fd);
        held_fd = -1;
    }
    fake_json_rmtree(dir);
    free(dir);
    dir = NULL;
    rbgw_test_release();
}

TestSuite(admin, .fini = teardown, .timeout = 60);

static const char *
errtail(void)
{
    return rbgw_test_stderr(gw);
}

static void
make_dir(void)
{
    dir = fake_json_mkdtemp();
    cr_assert_not_null(dir, "mkdtemp failed");
}

/* Spawn rbgw with a pipe listener and args (NULL-terminated), wait until it answers. */
static void
start_gw(const char *const *args)
{
    const char *all[32] = {"--listen=pipe"};
    size_t n = 1;
    for (size_t i = 0; args[i]; i++) {
        cr_assert_lt(n, 31);
        all[n++] = args[i];
    }
    all[n] = NULL;
    gw = rbgw_proc_spawn(NULL, all);
    cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
    cr_assert(fake_json_gw_ready(gw, IO_MS), "rbgw did not start; stderr:\n%s", errtail());
}

static const char *
admin_unix_arg(const char *opts)
{
    snprintf(admin_path, sizeof(admin_path), "%s/admin.sock", dir);
    return rbgw_test_fmt("--admin=unix:path=%s%s", admin_path, opts ? opts : "");
}

/* ---- an HTTP client of the admin endpoint ---- */

static int
admin_connect(void)
{
    int fd;
    if (admin_path[0]) {
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        memcpy(sa.sun_path, admin_path, strlen(admin_path) + 1);
        cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0,
                     "connect to the admin socket: %s; rbgw stderr:\n%s", strerror(errno),
                     errtail());
    } else {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(admin_port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0,
                     "connect to the admin port: %s; rbgw stderr:\n%s", strerror(errno), errtail());
    }
    return fd;
}

/* Read from fd until EOF (bounded); everything received, kept. */
static char *
read_to_eof(int fd, size_t *len_out)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    long deadline = rbgw_test_now_ms() + IO_MS;
    for (;;) {
        long left = deadline - rbgw_test_now_ms();
        cr_assert_gt(left, 0, "the admin endpoint did not close within %d ms", IO_MS);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0) {
            continue;
        }
        ssize_t n = rbgw_test_recv_more(fd, &buf, &len, &cap);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            break;
        }
        cr_assert(n > 0 || errno == EINTR || errno == EAGAIN, "recv: %s", strerror(errno));
    }
    if (buf == NULL) {
        buf = calloc(1, 1);
    }
    if (len_out) {
        *len_out = len;
    }
    return rbgw_test_keep(buf);
}

struct answer {
    int status;      /* HTTP status */
    const char *all; /* the whole answer */
    const char *body;
};

static struct answer
parse_answer(const char *all)
{
    struct answer a = {0, all, ""};
    if (*all == '\0') {
        return a; /* closed without a word: status 0 */
    }
    cr_assert_eq(sscanf(all, "HTTP/1.1 %d", &a.status), 1, "not an HTTP answer: <%s>", all);
    const char *end = strstr(all, "\r\n\r\n");
    cr_assert_not_null(end, "answer without a header end: <%s>", all);
    a.body = end + 4;
    return a;
}

/*
 * One request (the bytes as given) on a fresh connection; the answer.  The send may fail when
 * rbgw refused the connection at once (max-conns: a 503 written, then closed): what it wrote is
 * still read, so the caller sees that answer (or status 0 for nothing) and decides.
 */
static struct answer
admin_raw(const char *request)
{
    int fd = admin_connect();
    (void)rbgw_test_send_all(fd, request, strlen(request));
    char *all = read_to_eof(fd, NULL);
    close(fd);
    return parse_answer(all);
}

static struct answer
admin_req(const char *method, const char *path)
{
    return admin_raw(
        rbgw_test_fmt("%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", method, path));
}

static const char *
scrape(void)
{
    struct answer a = admin_req("GET", "/metrics");
    cr_assert_eq(a.status, 200, "GET /metrics: %s", a.all);
    cr_assert_not_null(strstr(a.all, "Content-Type: text/plain; version=0.0.4"),
                       "no exposition format content type: %s", a.all);
    return a.body;
}

/* ---- reading a scrape ---- */

/* Does the sample line carry label k with value v (escapes compared as written)? */
static bool
has_label(const char *labels, size_t len, const char *k, const char *v)
{
    const char *want = rbgw_test_fmt("%s=\"%s\"", k, v);
    size_t wl = strlen(want);
    for (size_t i = 0; i + wl <= len; i++) {
        if ((i == 0 || labels[i - 1] == '{' || labels[i - 1] == ',') &&
            memcmp(labels + i, want, wl) == 0 && (labels[i + wl] == ',' || labels[i + wl] == '}')) {
            return true;
        }
    }
    return false;
}

/*
 * The value of the one sample of family `name` (with its suffix) whose labels include the
 * given pairs (k, v, k, v, ..., NULL).  Asserts that exactly one matches.
 */
static double
metric(const char *text, const char *name, ...)
{
    const char *pairs[16];
    size_t np = 0;
    va_list ap;
    va_start(ap, name);
    for (const char *k; (k = va_arg(ap, const char *)) != NULL && np < 14;) {
        pairs[np++] = k;
        pairs[np++] = va_arg(ap, const char *);
    }
    va_end(ap);
    size_t nl = strlen(name);
    int found = 0;
    double value = 0;
    for (const char *line = text; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : "") {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len <= nl || line[0] == '#' || memcmp(line, name, nl) != 0 ||
            (line[nl] != '{' && line[nl] != ' ')) {
            continue;
        }
        const char *labels = line + nl;
        const char *close = memchr(line, '}', len);
        const char *sp = close ? close + 1 : line + nl;
        bool ok = true;
        for (size_t i = 0; i < np && ok; i += 2) {
            ok = has_label(labels, (size_t)(sp - labels), pairs[i], pairs[i + 1]);
        }
        if (ok) {
            found++;
            value = strtod(sp, NULL);
        }
    }
    cr_assert_eq(found, 1, "%d samples of %s with the given labels in:\n%s", found, name, text);
    return value;
}

#define expect_metric(text, want, name, ...)                                                       \
    do {                                                                                           \
        double got_ = metric(text, name, __VA_ARGS__, NULL);                                       \
        cr_expect_eq(got_, (double)(want), "%s%s: %g, want %g", name, #__VA_ARGS__, got_,          \
                     (double)(want));                                                              \
    } while (0)

/* Run promtool check metrics over text: it must accept it with nothing to say. */
static void
promtool_accepts(const char *text)
{
    const char *path = rbgw_test_fmt("%s/scrape.txt", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    const char *cmd = rbgw_test_fmt("promtool check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "popen promtool");
    char out[4096] = "";
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 127,
              "promtool is not installed (Debian package prometheus; scripts/setup.sh): %s", out);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0 && n == 0,
              "promtool check metrics refused the scrape (status %d):\n%s", WEXITSTATUS(st), out);
}

/* Every family rbgw declares is in the scrape with HELP and TYPE, and nothing else is. */
static void
families_complete(const char *text)
{
    for (int i = 0; i < RBGW_MF_COUNT; i++) {
        const char *help = rbgw_test_fmt("# HELP %s ", rbgw_metric_names[i]);
        const char *type = rbgw_test_fmt("\n# TYPE %s ", rbgw_metric_names[i]);
        cr_expect_not_null(strstr(text, help), "no HELP for %s", rbgw_metric_names[i]);
        cr_expect_not_null(strstr(text, type), "no TYPE for %s", rbgw_metric_names[i]);
    }
    size_t ntypes = 0;
    for (const char *p = text; (p = strstr(p, "# TYPE ")) != NULL; p++) {
        ntypes++;
    }
    cr_expect_eq(ntypes, (size_t)RBGW_MF_COUNT, "%zu families in the scrape, %d declared", ntypes,
                 (int)RBGW_MF_COUNT);
}

/* pdns goes away: rbgw must close its stdout, exit 0, and say nothing alarming (under the
 * sanitizers: no leak, no error) with its admin endpoint torn down on the way. */
static void
finish(void)
{
    rbgw_test_assert_stdout_ends(gw);
    rbgw_test_assert_exit_0(gw);
    rbgw_test_assert_clean_stderr(gw);
}

/* ---- calls through the pipe listener ---- */

static char *
call(const char *request)
{
    return rbgw_test_call(gw, request);
}

#define LOOKUP(name)                                                                               \
    "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"" name "\", \"qtype\": \"A\", "        \
    "\"zone-id\": -1}}"

/* Poll /readyz until it answers want (bounded); the last answer. */
static struct answer
readyz_until(int want)
{
    long deadline = rbgw_test_now_ms() + IO_MS;
    struct answer a;
    do {
        a = admin_req("GET", "/readyz");
        if (a.status == want) {
            return a;
        }
        struct pollfd none = {.fd = -1};
        poll(&none, 0, 10); /* pace the poll; the bound is the deadline */
    } while (rbgw_test_now_ms() < deadline);
    cr_assert_fail("/readyz stayed %d (want %d): %s; rbgw stderr:\n%s", a.status, want, a.all,
                   errtail());
    return a;
}

/*
 * Known calls, known counts: ok, false from the responder, a timeout, a refused upstream, a
 * call that cannot be read, and the initialize of the readiness probe.  The scrape must pass
 * promtool and show exactly these.
 */
Test(admin, metrics_count_the_calls_made)
{
    make_dir();
    web = fake_http_start();
    cr_assert_not_null(web);
    uint16_t dead_port;
    held_fd = rbgw_test_tcp_bind(&dead_port); /* bound, not listening: refused */
    cr_assert_geq(held_fd, 0);
    const char *args[] = {
        rbgw_test_fmt("--upstream=http:url=http://127.0.0.1:%u/dns,name=web,timeout=300,"
                      "failure-limit=100",
                      fake_http_port(web)),
        rbgw_test_fmt("--upstream=http:url=http://127.0.0.1:%u/dns,name=dead,failure-limit=1,"
                      "health-interval=60000",
                      dead_port),
        "--pool=web:upstreams=web",
        "--pool=dead:upstreams=dead",
        "--route=all:pool=dead,zone=dead.test.",
        admin_unix_arg(NULL),
        NULL,
    };
    start_gw(args);

    fake_http_push_json(web, "{\"result\":[{\"qtype\":\"A\",\"qname\":\"www.example.com.\","
                             "\"content\":\"192.0.2.1\",\"ttl\":300}]}");
    fake_http_push_json(web, "{\"result\":false,\"log\":[\"no such name\"]}");
    struct fake_http_action stall = {.kind = FAKE_HTTP_STALL};
    fake_http_push(web, &stall);
    fake_http_push_json(web, "{\"result\":{\"id\":1,\"zone\":\"example.com.\"}}");

    char *r = call(LOOKUP("www.example.com."));
    cr_assert_not_null(strstr(r, "192.0.2.1"), "%s", r);
    r = call(LOOKUP("nx.example.com."));
    cr_assert_not_null(strstr(r, "no such name"), "%s", r);
    r = call(LOOKUP("slow.example.com."));
    rbgw_test_assert_false_reply(r, "timed out");
    r = call("{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": \"example.com.\"}}");
    cr_assert_not_null(strstr(r, "\"zone\""), "%s", r);
    r = call(LOOKUP("x.dead.test."));
    rbgw_test_assert_false_reply(r, "connect");
    r = call("this is not a call");
    rbgw_test_assert_false_reply(r, NULL);

    const char *m = scrape();
    promtool_accepts(m);
    families_complete(m);

    const char *L = "pipe#1";
    expect_metric(m, 1, "rbgw_calls_total", "listener", L, "class", "write", "outcome", "ok");
    expect_metric(m, 2, "rbgw_calls_total", "listener", L, "class", "read", "outcome", "ok");
    expect_metric(m, 1, "rbgw_calls_total", "listener", L, "class", "read", "outcome", "false");
    expect_metric(m, 1, "rbgw_calls_total", "listener", L, "class", "read", "outcome", "timeout");
    expect_metric(m, 1, "rbgw_calls_total", "listener", L, "class", "read", "outcome", "connect");
    expect_metric(m, 1, "rbgw_calls_total", "listener", L, "class", "write", "outcome",
                  "bad_request");
    expect_metric(m, 0, "rbgw_calls_total", "listener", L, "class", "read", "outcome",
                  "no_upstream");
    expect_metric(m, 0, "rbgw_calls_total", "listener", L, "class", "read", "outcome",
                  "queue_full");
    expect_metric(m, 4, "rbgw_calls_by_method_total", "listener", L, "method", "lookup");
    expect_metric(m, 1, "rbgw_calls_by_method_total", "listener", L, "method", "getDomainInfo");
    expect_metric(m, 2, "rbgw_calls_by_method_total", "listener", L, "method", "other");
    expect_metric(m, 0, "rbgw_calls_by_method_total", "listener", L, "method", "list");
    expect_metric(m, 7, "rbgw_call_duration_seconds_count", "listener", L);
    expect_metric(m, 7, "rbgw_call_duration_seconds_bucket", "listener", L, "le", "+Inf");
    expect_metric(m, 1, "rbgw_listener_up", "listener", L);
    expect_metric(m, 1, "rbgw_listener_sessions", "listener", L);
    expect_metric(m, 1, "rbgw_listener_sessions_total", "listener", L);

    expect_metric(m, 2, "rbgw_upstream_calls_total", "upstream", "web", "outcome", "ok");
    expect_metric(m, 1, "rbgw_upstream_calls_total", "upstream", "web", "outcome", "false");
    expect_metric(m, 1, "rbgw_upstream_calls_total", "upstream", "web", "outcome", "timeout");
    expect_metric(m, 0, "rbgw_upstream_calls_total", "upstream", "web", "outcome", "connect");
    expect_metric(m, 1, "rbgw_upstream_calls_total", "upstream", "dead", "outcome", "connect");
    expect_metric(m, 0, "rbgw_upstream_calls_total", "upstream", "dead", "outcome", "ok");
    /* Every leg that reached a connection is timed; the refused one never did. */
    expect_metric(m, 4, "rbgw_upstream_call_duration_seconds_count", "upstream", "web");
    expect_metric(m, 0, "rbgw_upstream_call_duration_seconds_count", "upstream", "dead");
    /* The timed-out leg lasted at least its 300 ms timeout: not in the 250 ms bucket. */
    double le250 = metric(m, "rbgw_upstream_call_duration_seconds_bucket", "upstream", "web", "le",
                          "0.25", NULL);
    cr_expect_leq(le250, 3, "the 300 ms timeout landed at or below 0.25 s");
    expect_metric(m, 1, "rbgw_upstream_up", "upstream", "web");
    expect_metric(m, 0, "rbgw_upstream_up", "upstream", "dead");
    expect_metric(m, 1, "rbgw_upstream_ejections_total", "upstream", "dead");
    expect_metric(m, 0, "rbgw_upstream_ejections_total", "upstream", "web");
    expect_metric(m, 0, "rbgw_upstream_calls_in_flight", "upstream", "web");
    expect_metric(m, 0, "rbgw_upstream_retries_total", "upstream", "web", "kind", "member");
    expect_metric(m, 1, "rbgw_upstream_connection_opens_total", "upstream", "dead", "result",
                  "failed");
    expect_metric(m, 0, "rbgw_upstream_queue_depth", "upstream", "web");
    expect_metric(m, 0, "rbgw_pool_members_up", "pool", "dead");
    expect_metric(m, 1, "rbgw_pool_members_up", "pool", "web");
    expect_metric(m, 0, "rbgw_calls_in_flight", NULL);
    expect_metric(m, 1, "rbgw_config_generation", NULL);
    expect_metric(m, 0, "rbgw_config_reloads_total", "result", "failed");
    expect_metric(m, 1, "rbgw_build_info", "version", RBGW_VERSION);

    /* The route to dead has nothing in service: not ready, and it says why. */
    struct answer a = readyz_until(503);
    cr_expect_not_null(strstr(a.body, "\"ready\":false"), "%s", a.body);
    cr_expect_not_null(strstr(a.body, "pool dead"), "%s", a.body);
    struct answer st = admin_req("GET", "/status");
    cr_assert_eq(st.status, 200, "%s", st.all);
    cr_expect_not_null(strstr(st.body, "\"name\":\"dead\""), "%s", st.body);
    cr_expect_not_null(strstr(st.body, "\"state\":\"ejected\""), "%s", st.body);
    cr_expect_not_null(strstr(st.body, "\"generation\":1"), "%s", st.body);

    /* The admin requests themselves are counted by path and status. */
    m = scrape();
    expect_metric(m, 1, "rbgw_admin_requests_total", "path", "/metrics", "code", "200");
    expect_metric(m, 1, "rbgw_admin_requests_total", "path", "/status", "code", "200");
    finish();
}

/* An upstream killed and started again: /readyz goes 503 and comes back to 200 by itself. */
Test(admin, readiness_follows_an_upstream_killed_and_back)
{
    make_dir();
    const char *up_path = rbgw_test_fmt("%s/up.sock", dir);
    sock_up = fake_json_unix_start(up_path);
    cr_assert_not_null(sock_up);
    const char *args[] = {
        rbgw_test_fmt("--upstream=unix:path=%s,name=sock,failure-limit=1,health-interval=20,"
                      "retry-after=0",
                      up_path),
        admin_unix_arg(NULL),
        NULL,
    };
    start_gw(args);
    char *r = call(LOOKUP("www.example.com."));
    cr_assert_not_null(strstr(r, "www.example.com."), "%s", r);
    readyz_until(200);

    fake_json_stop(sock_up); /* killed: its socket file goes too */
    sock_up = NULL;
    r = call(LOOKUP("www.example.com."));
    rbgw_test_assert_false_reply(r, NULL);
    struct answer a = readyz_until(503);
    cr_expect_not_null(strstr(a.body, "pool default"), "%s", a.body);
    const char *m = scrape();
    expect_metric(m, 0, "rbgw_upstream_up", "upstream", "sock");
    expect_metric(m, 1, "rbgw_upstream_ejections_total", "upstream", "sock");
    expect_metric(m, 1, "rbgw_upstream_calls_total", "upstream", "sock", "outcome", "ok");

    sock_up = fake_json_unix_start(up_path); /* back: the next health check finds it */
    cr_assert_not_null(sock_up);
    readyz_until(200);
    r = call(LOOKUP("www.example.com."));
    cr_assert_not_null(strstr(r, "www.example.com."), "%s", r);
    m = scrape();
    expect_metric(m, 1, "rbgw_upstream_up", "upstream", "sock");
    expect_metric(m, 2, "rbgw_upstream_calls_total", "upstream", "sock", "outcome", "ok");
    cr_expect_geq(
        metric(m, "rbgw_upstream_health_checks_total", "upstream", "sock", "result", "ok", NULL),
        1);
    finish();
}

/* One connection over max-conns is told 503 and closed; a freed slot serves again. */
Test(admin, max_conns_bounds_connections)
{
    make_dir();
    web = fake_http_start();
    const char *args[] = {
        rbgw_test_fmt("--upstream=http:url=http://127.0.0.1:%u/dns", fake_http_port(web)),
        admin_unix_arg(",max-conns=2,timeout=600000"),
        NULL,
    };
    start_gw(args);
    int idle1 = admin_connect();
    int idle2 = admin_connect();
    /* Accepted in order: by the time the third is answered the first two hold both slots. */
    int third = admin_connect();
    struct answer a = parse_answer(read_to_eof(third, NULL));
    close(third);
    cr_expect_eq(a.status, 503, "%s", a.all);

    close(idle1);
    long deadline = rbgw_test_now_ms() + IO_MS;
    do {
        a = admin_req("GET", "/healthz");
    } while (a.status != 200 && rbgw_test_now_ms() < deadline);
    cr_assert_eq(a.status, 200, "a freed slot did not serve again: %s", a.all);
    cr_expect_str_eq(a.body, "ok\n");
    deadline = rbgw_test_now_ms() + IO_MS;
    const char *m;
    do {
        struct answer s = admin_req("GET", "/metrics");
        m = s.body;
        if (s.status == 200) {
            break;
        }
    } while (rbgw_test_now_ms() < deadline);
    cr_expect_geq(metric(m, "rbgw_admin_refused_total", "reason", "max_conns", NULL), 1);
    finish(); /* with idle2 still connected: shutdown closes it */
    close(idle2);
}

/* A request over max-request-size gets 431 and the connection closes, complete or not. */
Test(admin, max_request_size_bounds_a_request)
{
    make_dir();
    web = fake_http_start();
    const char *args[] = {
        rbgw_test_fmt("--upstream=http:url=http://127.0.0.1:%u/dns", fake_http_port(web)),
        admin_unix_arg(",max-request-size=512"),
        NULL,
    };
    start_gw(args);
    char pad[2048];
    memset(pad, 'a', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    /* Headers that never end: only the limit stops it. */
    struct answer a = admin_raw(rbgw_test_fmt("GET /metrics HTTP/1.1\r\nX-Pad: %s", pad));
    cr_expect_eq(a.status, 431, "%s", a.all);
    /* A complete request just under the limit is served. */
    a = admin_raw(rbgw_test_fmt("GET /healthz HTTP/1.1\r\nX-Pad: %.400s\r\n\r\n", pad));
    cr_expect_eq(a.status, 200, "%s", a.all);
    const char *m = scrape();
    expect_metric(m, 1, "rbgw_admin_refused_total", "reason", "too_large");
    finish();
}

/* A client trickling its request a byte at a time is cut off at timeout=, not kept. */
Test(admin, timeout_cuts_off_a_trickling_client)
{
    make_dir();
    web = fake_http_start();
    const char *args[] = {
        rbgw_test_fmt("--upstream=http:url=http://127.0.0.1:%u/dns", fake_http_port(web)),
        admin_unix_arg(",timeout=300"),
        NULL,
    };
    start_gw(args);
    int fd = admin_connect();
    const char *head = "GET /metrics HTTP/1.1\r\nX-Slow: ";
    cr_assert(rbgw_test_send_all(fd, head, strlen(head)));
    /* One more byte whenever 20 ms pass with nothing from rbgw; the request never ends, and
     * fewer than max-request-size bytes go out, so only the timeout can end this. */
    size_t sent = strlen(head);
    long deadline = rbgw_test_now_ms() + IO_MS;
    bool closed = false;
    while (!closed && rbgw_test_now_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 20) > 0) {
            closed = true;
            break;
        }
        if (!rbgw_test_send_all(fd, "a", 1)) {
            closed = true;
            break;
        }
        sent++;
        cr_assert_lt(sent, 8000, "still open after %zu bytes", sent);
    }
    cr_assert(closed, "rbgw kept a trickling client for %d ms", IO_MS);
    char *rest = read_to_eof(fd, NULL);
    close(fd);
    if (*rest) {
        cr_expect_eq(strncmp(rest, "HTTP/1.1 408", 12), 0, "%s", rest);
    }
    const char *m = scrape();
    expect_metric(m, 1, "rbgw_admin_refused_total", "reason", "timeout");
    finish();
}

/* The HTTP form, methods, unknown paths, HEAD, and POST /reload agreeing with the metrics. */
Test(admin, http_endpoint_paths_methods_reload)
{
    make_dir();
    web = fake_http_start();
    int fd = rbgw_test_tcp_bind(&admin_port); /* a free port, released just before use */
    cr_assert_geq(fd, 0);
    close(fd);
    admin_path[0] = '\0';
    const char *args[] = {
        rbgw_test_fmt("--upstream=http:url=http://127.0.0.1:%u/dns", fake_http_port(web)),
        rbgw_test_fmt("--admin=http:address=127.0.0.1:%u", admin_port),
        NULL,
    };
    start_gw(args);
    struct answer a = admin_req("GET", "/healthz");
    cr_expect_eq(a.status, 200, "%s", a.all);
    a = admin_req("GET", "/readyz?verbose=1");
    cr_expect_eq(a.status, 200, "%s", a.all);
    cr_expect_str_eq(a.body, "{\"ready\":true}\n");
    a = admin_req("GET", "/nope");
    cr_expect_eq(a.status, 404, "%s", a.all);
    a = admin_req("POST", "/metrics");
    cr_expect_eq(a.status, 405, "%s", a.all);
    cr_expect_not_null(strstr(a.all, "Allow: GET, HEAD\r\n"), "%s", a.all);
    a = admin_req("GET", "/reload");
    cr_expect_eq(a.status, 405, "%s", a.all);
    a = admin_req("HEAD", "/status");
    cr_expect_eq(a.status, 200, "%s", a.all);
    cr_expect_str_eq(a.body, "", "HEAD must not send a body");
    a = admin_raw("this is not http\r\n\r\n");
    cr_expect_eq(a.status, 400, "%s", a.all);

    a = admin_req("POST", "/reload");
    bool reloaded = a.status == 200;
    cr_expect(a.status == 200 || a.status == 500, "%s", a.all);
    cr_expect_not_null(strstr(a.body, reloaded ? "\"reloaded\":true" : "\"reloaded\":false"), "%s",
                       a.body);
    const char *m = scrape();
    expect_metric(m, reloaded ? 1 : 0, "rbgw_config_reloads_total", "result", "ok");
    expect_metric(m, reloaded ? 0 : 1, "rbgw_config_reloads_total", "result", "failed");
    expect_metric(m, reloaded ? 2 : 1, "rbgw_config_generation", NULL);
    expect_metric(m, 1, "rbgw_admin_refused_total", "reason", "malformed");
    expect_metric(m, 1, "rbgw_admin_requests_total", "path", "other", "code", "404");
    finish();
}

/* Run rbgw status ARGS...: its exit status, stdout and stderr (kept). */
static int
run_status(const char *const *args, char **out, char **err)
{
    const char *all[8] = {"status"};
    size_t n = 1;
    for (size_t i = 0; args[i]; i++) {
        all[n++] = args[i];
    }
    all[n] = NULL;
    struct rbgw_proc *p = rbgw_proc_spawn(NULL, all);
    cr_assert_not_null(p);
    size_t len;
    cr_assert_eq(rbgw_proc_read_to_eof(p, IO_MS, out, &len), 0, "rbgw status did not finish");
    rbgw_test_keep(*out);
    int st;
    cr_assert_eq(rbgw_proc_wait(p, IO_MS, &st), 0);
    *err = rbgw_test_keep(rbgw_proc_stderr(p, 0));
    rbgw_proc_free(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `rbgw status` prints the tables, finds the address in --config, and says when it can't. */
Test(admin, status_command)
{
    make_dir();
    web = fake_http_start();
    const char *admin = admin_unix_arg(NULL);
    const char *args[] = {
        rbgw_test_fmt("--upstream=http:url=http://127.0.0.1:%u/dns,name=web", fake_http_port(web)),
        admin,
        NULL,
    };
    start_gw(args);
    char *out, *err;
    const char *a1[] = {admin + strlen("--admin="), NULL};
    cr_assert_eq(run_status(a1, &out, &err), 0, "stderr: %s", err);
    cr_expect_not_null(strstr(out, ": ready\n"), "%s", out);
    cr_expect_not_null(strstr(out, "UPSTREAM"), "%s", out);
    cr_expect_not_null(strstr(out, "\nweb "), "%s", out);
    cr_expect_not_null(strstr(out, "\npipe#1 "), "%s", out);
    cr_expect_not_null(strstr(out, "\ndefault "), "%s", out);

    const char *conf = rbgw_test_fmt("%s/rbgw.conf", dir);
    FILE *f = fopen(conf, "w");
    cr_assert_not_null(f);
    fprintf(f, "upstream=pipe:command=/bin/cat\nadmin=unix:path=%s\n", admin_path);
    fclose(f);
    const char *a2[] = {rbgw_test_fmt("--config=%s", conf), NULL};
    cr_assert_eq(run_status(a2, &out, &err), 0, "stderr: %s", err);
    cr_expect_not_null(strstr(out, "\nweb "), "%s", out);

    const char *a3[] = {rbgw_test_fmt("unix:path=%s/nobody.sock", dir), NULL};
    cr_expect_eq(run_status(a3, &out, &err), 1);
    cr_expect_str_eq(out, "", "nothing on stdout when it cannot connect");
    cr_expect_not_null(strstr(err, "cannot connect"), "%s", err);
    finish();
}

/* The read cache's counters: a miss, a hit, a stored reply; a write that drops it. */
Test(admin, cache_metrics_count_hits_misses_and_drops)
{
    make_dir();
    web = fake_http_start();
    cr_assert_not_null(web);
    const char *args[] = {
        rbgw_test_fmt("--upstream=http:url=http://127.0.0.1:%u/dns,name=web", fake_http_port(web)),
        "--cache-ttl=600000",
        admin_unix_arg(NULL),
        NULL,
    };
    start_gw(args);
    fake_http_push_json(web, "{\"result\":[{\"qtype\":\"A\",\"qname\":\"www.example.com.\","
                             "\"content\":\"192.0.2.1\",\"ttl\":300}]}");
    fake_http_push_json(web, "{\"result\":true}");
    char *r = call(LOOKUP("www.example.com."));
    cr_assert_not_null(strstr(r, "192.0.2.1"), "%s", r);
    r = call(LOOKUP("www.example.com."));
    cr_assert_not_null(strstr(r, "192.0.2.1"), "%s", r);
    cr_expect_eq(fake_http_nrequests(web), 1, "the second lookup must come from the cache");

    const char *m = scrape();
    promtool_accepts(m);
    expect_metric(m, 1, "rbgw_cache_reads_total", "result", "hit");
    expect_metric(m, 1, "rbgw_cache_reads_total", "result", "miss");
    expect_metric(m, 0, "rbgw_cache_reads_total", "result", "coalesced");
    cr_expect_eq(metric(m, "rbgw_cache_entries", NULL), 1.0, "entries held");
    cr_expect_gt(metric(m, "rbgw_cache_bytes", NULL), 0, "bytes held");

    /* A write to the zone: the entry is stale, and dropped when next looked up. */
    r = call("{\"method\": \"setDomainMetadata\", \"parameters\": {\"name\": "
             "\"example.com.\", \"kind\": \"X\", \"value\": [\"1\"]}}");
    cr_assert_not_null(strstr(r, "true"), "%s", r);
    fake_http_push_json(web, "{\"result\":[]}");
    r = call(LOOKUP("www.example.com."));
    cr_expect_eq(fake_http_nrequests(web), 3, "after the write the lookup goes upstream again");
    m = scrape();
    expect_metric(m, 1, "rbgw_cache_drops_total", "reason", "invalidated");
    expect_metric(m, 2, "rbgw_cache_reads_total", "result", "miss");
    finish();
}

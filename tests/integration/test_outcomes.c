/*
 * test_outcomes.c: every class a failed upstream call can end in (outcome.h) is provoked over
 * real sockets and children, and the status fan-out received is checked through the
 * upstream's per-class counters (rbgw_upstream.outcomes, counted in fanout.c from that
 * status), together with the false reply's text, which is derived from the same status.
 *
 *   test ──rbgw_request_dispatch──> gateway (in this process, its own loop)
 *        ──> http / unix / pipe / zeromq upstream ──> fake responder (thread or child)
 *
 * The gateway runs in the test process, as main.c runs it, with a unix listener nobody uses
 * (it keeps the gateway from stopping); calls enter through rbgw_request_new/dispatch as a
 * listener's would, and the loop runs until the reply hook fired.  Every wait is bounded by
 * the Criterion timeout only; nothing sleeps.  Times given to rbgw are either the subject
 * (a 200 ms call timeout) or long (10 s), so a loaded machine cannot change a class.
 *
 * Ejection is checked where it is the point: a pool of the subject and a healthy "good"
 * upstream, policy=first-available, failure-limit=1, retries=0: after a failure that counts
 * toward ejection the next call goes to good; after one that does not, to the subject again.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <signal.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "fake_http.h"
#include "fake_json.h"
#include "itest.h"
#include "zmq_responder.h"

#include "rbgw/connpool.h"
#include "rbgw/gateway.h"
#include "rbgw/log.h"
#include "rbgw/outcome.h"

#define LONG_MS 10000 /* times that are not the subject: never reached */

#define LOOKUP_FMT "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"%s\", \"qtype\": \"A\"}}"
#define LOOKUP_WWW                                                                                 \
    "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"www.example.com.\", \"qtype\": "       \
    "\"A\"}}"

/* One call in flight: the reply hook fills it. */
struct pending {
    struct rbgw_request *req; /* our (the "listener's") reference until answered */
    bool done;                /* the reply hook ran */
    char *line;               /* the reply (kept) */
};

static uv_loop_t loop;
static bool loop_up;
static struct rbgw_config cfg;
static bool cfg_up;
static struct rbgw_gateway gw;
static bool gw_up;
static struct rbgw_session *session; /* the one pdns connection the test's calls come on */
static char *dir;
static struct fake_http *http[2];
static struct fake_json *js;
static struct zmq_responder *zr;
static int fillers[4096];
static size_t nfillers;
static struct pending *pendings[16];
static size_t npendings;

/* ---- the gateway in this process ---- */

static void
on_reply(struct rbgw_request *req, struct rbgw_str reply)
{
    struct pending *p = req->origin;
    p->line = rbgw_test_fmt("%.*s", (int)reply.len, reply.p);
    p->done = true;
}

static struct pending *
send_call(const char *json)
{
    struct pending *p = rbgw_test_keep(calloc(1, sizeof(*p)));
    cr_assert_lt(npendings, RBGW_NELEM(pendings));
    pendings[npendings++] = p;
    if (session == NULL) {
        session = rbgw_session_new(&gw, NULL);
    }
    p->req = rbgw_request_new(session, json, strlen(json), p, on_reply);
    rbgw_request_dispatch(p->req);
    return p;
}

/* Run the loop until p is answered (the suite's timeout bounds it); returns the reply. */
static const char *
wait_reply(struct pending *p)
{
    while (!p->done) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    if (p->req) {
        rbgw_request_unref(p->req);
        p->req = NULL;
    }
    return p->line;
}

static const char *
call(const char *json)
{
    return wait_reply(send_call(json));
}

/* True if the reply's result is not false. */
static bool
reply_ok(const char *line)
{
    char err[200];
    yajl_val v = yajl_tree_parse(line, err, sizeof(err));
    cr_assert_not_null(v, "reply is not JSON (%s): %s", err, line);
    const char *path[] = {"result", NULL};
    yajl_val r = yajl_tree_get(v, path, yajl_t_any);
    cr_assert_not_null(r, "reply without result: %s", line);
    bool ok = !YAJL_IS_FALSE(r);
    yajl_tree_free(v);
    return ok;
}

static void
start_gw(const char *first, ...)
{
    const char *argv[32];
    int argc = 0;
    argv[argc++] = "rbgw";
    argv[argc++] = rbgw_test_fmt("--listen=unix:path=%s/gw.sock", dir);
    argv[argc++] = "--log-level=warning";
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        cr_assert_lt(argc, 31);
        argv[argc++] = a;
    }
    va_end(ap);
    argv[argc] = NULL;
    char err[512];
    cr_assert_eq(uv_loop_init(&loop), 0);
    loop_up = true;
    cr_assert_eq(rbgw_config_load(&cfg, argc, (char **)argv, err, sizeof(err)), 0, "config: %s",
                 err);
    cfg_up = true;
    rbgw_log_set_level(cfg.log_level);
    cr_assert_eq(rbgw_gateway_init(&gw, &loop, &cfg, err, sizeof(err)), 0, "init: %s", err);
    gw_up = true;
    cr_assert_eq(rbgw_gateway_start(&gw, err, sizeof(err)), 0, "start: %s", err);
}

static struct rbgw_upstream *
upstream(const char *name)
{
    for (size_t i = 0; i < rbgw_gateway_nupstreams(&gw); i++) {
        if (strcmp(rbgw_gateway_upstream(&gw, i)->name, name) == 0) {
            return rbgw_gateway_upstream(&gw, i);
        }
    }
    cr_assert_fail("no upstream %s", name);
    return NULL;
}

static void
release_fds(void)
{
    for (size_t i = 0; i < nfillers; i++) {
        close(fillers[i]);
    }
    nfillers = 0;
}

static void
teardown(void)
{
    release_fds();
    if (gw_up) {
        /* Fail whatever is still in flight (as close_all does), then stop as main does. */
        for (size_t i = 0; i < rbgw_gateway_nupstreams(&gw); i++) {
            rbgw_connpool_stop(rbgw_gateway_upstream(&gw, i)->cp);
        }
        for (size_t i = 0; i < npendings; i++) {
            wait_reply(pendings[i]);
        }
        if (session) {
            rbgw_session_gone(session, "the test ended");
            session = NULL;
        }
        rbgw_gateway_stop(&gw);
        uv_run(&loop, UV_RUN_DEFAULT);
        rbgw_gateway_deinit(&gw);
        gw_up = false;
    }
    if (loop_up) {
        int rc = uv_loop_close(&loop);
        loop_up = false;
        cr_expect_eq(rc, 0, "the loop still had handles open");
    }
    if (cfg_up) {
        rbgw_config_free(&cfg);
        cfg_up = false;
    }
    for (size_t i = 0; i < 2; i++) {
        if (http[i]) {
            fake_http_stop(http[i]);
            http[i] = NULL;
        }
    }
    fake_json_stop(js);
    js = NULL;
    zmq_responder_stop(zr);
    zr = NULL;
    fake_json_rmtree(dir);
    free(dir);
    dir = NULL;
    npendings = 0;
    rbgw_test_release();
}

static void
setup(void)
{
    signal(SIGPIPE, SIG_IGN); /* as main.c: a vanished peer shows up as EPIPE */
    dir = fake_json_mkdtemp();
    cr_assert_not_null(dir, "mkdtemp: %s", strerror(errno));
}

TestSuite(outcomes, .init = setup, .fini = teardown, .timeout = 60);

/* ---- checks ---- */

/*
 * u's counters say exactly n legs ended in class o and none in any other failure class; the
 * reply (when given) is false and names the class in words: "(<rbgw_strerror(status)>)".
 */
static void
expect_outcome(const char *name, enum rbgw_outcome o, uint64_t n, const char *reply)
{
    const struct rbgw_upstream *u = upstream(name);
    for (int i = 0; i < RBGW_OUTCOME_COUNT; i++) {
        if (i == RBGW_OUTCOME_OK) {
            continue;
        }
        uint64_t want = i == (int)o ? n : 0;
        cr_assert_eq(u->outcomes.n[i], want, "%s: %llu leg(s) ended as %s, expected %llu (%s)",
                     name, (unsigned long long)u->outcomes.n[i],
                     rbgw_outcome_name((enum rbgw_outcome)i), (unsigned long long)want,
                     reply ? reply : "");
    }
    if (reply) {
        int status = 0;
#define RBGW_X(cname, st, tok, fl)                                                                 \
    if (o == RBGW_OUTCOME_##cname) {                                                               \
        status = st;                                                                               \
    }
        RBGW_OUTCOME_MAP(RBGW_X)
#undef RBGW_X
        rbgw_test_assert_false_reply(reply, rbgw_test_fmt("(%s)", rbgw_strerror(status)));
    }
}

static uint64_t
oks(const char *name)
{
    return upstream(name)->outcomes.n[RBGW_OUTCOME_OK];
}

/* ---- responders ---- */

static const char *
http_url(size_t i)
{
    if (!http[i]) {
        http[i] = fake_http_start();
        cr_assert_not_null(http[i], "cannot start the HTTP responder");
    }
    return rbgw_test_fmt("http://127.0.0.1:%u/dns", fake_http_port(http[i]));
}

/* A port with a socket bound and not listening: connects are refused, and nobody else can
 * take the port meanwhile.  The socket is kept until teardown. */
static unsigned
refusing_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    socklen_t len = sizeof(sin);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    fillers[nfillers++] = fd;
    return ntohs(sin.sin_port);
}

static const char *
http_upstream(const char *name, const char *url, const char *opts)
{
    return rbgw_test_fmt("--upstream+=http:url=%s,name=%s,timeout=%d,connect-timeout=%d%s%s", url,
                         name, LONG_MS, LONG_MS, opts ? "," : "", opts ? opts : "");
}

static const char *
unix_upstream(const char *opts)
{
    return rbgw_test_fmt("--upstream=unix:path=%s/up.sock,name=subject,timeout=%d,"
                         "connect-timeout=%d%s%s",
                         dir, LONG_MS, LONG_MS, opts ? "," : "", opts ? opts : "");
}

static const char *
pipe_upstream(const char *opts)
{
    char *cmd = rbgw_test_keep(fake_json_pipe_script(dir));
    return rbgw_test_fmt("--upstream=pipe:command=%s,name=subject,timeout=%d,"
                         "connect-timeout=%d%s%s",
                         cmd, LONG_MS, LONG_MS, opts ? "," : "", opts ? opts : "");
}

static const char *
zmq_upstream(const char *opts)
{
    zr = zmq_responder_start(rbgw_test_fmt("ipc://%s/z.sock", dir));
    cr_assert_not_null(zr, "cannot start the zeromq responder");
    return rbgw_test_fmt("--upstream=zeromq:endpoint=%s,name=subject,timeout=%d,"
                         "connect-timeout=%d%s%s",
                         zmq_responder_endpoint(zr), LONG_MS, LONG_MS, opts ? "," : "",
                         opts ? opts : "");
}

static void
start_unix_responder(void)
{
    js = fake_json_unix_start(rbgw_test_fmt("%s/up.sock", dir));
    cr_assert_not_null(js, "cannot start the unix responder");
}

/* A call whose echo (unix, pipe) is larger than max-reply-size=256. */
static const char *
big_lookup(void)
{
    char name[400];
    memset(name, 'a', sizeof(name) - 2);
    name[sizeof(name) - 2] = '.';
    name[sizeof(name) - 1] = '\0';
    return rbgw_test_fmt(LOOKUP_FMT, name);
}

static const char *
method_call(const char *method)
{
    return rbgw_test_fmt("{\"method\": \"%s\", \"parameters\": {}}", method);
}

/* ---- timeout ---- */

Test(outcomes, http_timeout)
{
    http_url(0);
    fake_http_push(http[0], &(struct fake_http_action){.kind = FAKE_HTTP_STALL});
    start_gw(http_upstream("subject", http_url(0), "timeout=200"), NULL);
    const char *r = call(LOOKUP_WWW);
    expect_outcome("subject", RBGW_OUTCOME_TIMEOUT, 1, r);
    cr_assert(strstr(r, "no reply within 200 ms"), "the reply names the timeout: %s", r);
}

Test(outcomes, http_timeout_capped_by_the_deadline_says_so)
{
    http_url(0);
    fake_http_push(http[0], &(struct fake_http_action){.kind = FAKE_HTTP_STALL});
    start_gw("--deadline=200", http_upstream("subject", http_url(0), "timeout=60000"), NULL);
    const char *r = call(LOOKUP_WWW);
    expect_outcome("subject", RBGW_OUTCOME_TIMEOUT, 1, r);
    cr_assert(strstr(r, "no reply within 200 ms: the call's deadline came before timeout=60000"),
              "the reply says the deadline cut the timeout short: %s", r);
}

Test(outcomes, unix_timeout)
{
    start_unix_responder();
    start_gw(unix_upstream("timeout=200"), NULL);
    expect_outcome("subject", RBGW_OUTCOME_TIMEOUT, 1, call(method_call("stall")));
}

Test(outcomes, zmq_timeout)
{
    const char *up = zmq_upstream("timeout=200");
    zmq_responder_push(zr, ZR_STALL, NULL);
    start_gw(up, NULL);
    expect_outcome("subject", RBGW_OUTCOME_TIMEOUT, 1, call(LOOKUP_WWW));
}

/* ---- connect ---- */

Test(outcomes, http_refused_is_connect_and_ejects)
{
    const char *bad = rbgw_test_fmt("http://127.0.0.1:%u/dns", refusing_port());
    start_gw(http_upstream("subject", bad, "failure-limit=1,health-interval=600000"),
             http_upstream("good", http_url(1), NULL),
             "--pool=main:upstreams=subject+good,policy=first-available,retries=0", NULL);
    const char *r = call(LOOKUP_WWW);
    expect_outcome("subject", RBGW_OUTCOME_CONNECT, 1, r);
    cr_assert(strstr(r, "connection refused"), "the reply names the refusal: %s", r);
    cr_assert(reply_ok(call(LOOKUP_WWW)), "good answers once subject is ejected");
    cr_assert_eq(oks("good"), 1, "the call after the failure went to good");
    expect_outcome("subject", RBGW_OUTCOME_CONNECT, 1, NULL);
}

Test(outcomes, unix_no_socket_is_connect)
{
    start_gw(unix_upstream(NULL), NULL);
    expect_outcome("subject", RBGW_OUTCOME_CONNECT, 1, call(LOOKUP_WWW));
}

Test(outcomes, unix_initialize_false_is_connect)
{
    start_unix_responder();
    fake_json_set_init(js, FAKE_JSON_INIT_FALSE);
    start_gw(unix_upstream(NULL), NULL);
    const char *r = call(LOOKUP_WWW);
    expect_outcome("subject", RBGW_OUTCOME_CONNECT, 1, r);
    cr_assert(strstr(r, "initialize answered false"), "the reply says why: %s", r);
}

Test(outcomes, pipe_child_dying_in_initialize_is_connect)
{
    const char *up = pipe_upstream(NULL);
    cr_assert_eq(fake_json_pipe_flag(dir, "init-crash", true), 0);
    start_gw(up, NULL);
    expect_outcome("subject", RBGW_OUTCOME_CONNECT, 1, call(LOOKUP_WWW));
}

Test(outcomes, zmq_initialize_false_is_connect)
{
    const char *up = zmq_upstream(NULL);
    zmq_responder_set_init_reply(zr, "{\"result\":false}");
    start_gw(up, NULL);
    expect_outcome("subject", RBGW_OUTCOME_CONNECT, 1, call(LOOKUP_WWW));
}

/* ---- closed ---- */

Test(outcomes, http_close_mid_call_is_closed)
{
    http_url(0);
    fake_http_push(http[0], &(struct fake_http_action){.kind = FAKE_HTTP_CLOSE});
    start_gw(http_upstream("subject", http_url(0), NULL), NULL);
    expect_outcome("subject", RBGW_OUTCOME_CLOSED, 1, call(LOOKUP_WWW));
}

Test(outcomes, http_close_in_the_middle_of_a_response_is_closed)
{
    http_url(0);
    fake_http_push(http[0], &(struct fake_http_action){.kind = FAKE_HTTP_RESPOND,
                                                       .body = "{\"result\": true}",
                                                       .cut_after = 20,
                                                       .close_after = true});
    start_gw(http_upstream("subject", http_url(0), NULL), NULL);
    expect_outcome("subject", RBGW_OUTCOME_CLOSED, 1, call(LOOKUP_WWW));
}

Test(outcomes, unix_crash_is_closed)
{
    start_unix_responder();
    start_gw(unix_upstream(NULL), NULL);
    expect_outcome("subject", RBGW_OUTCOME_CLOSED, 1, call(method_call("crash-mid")));
}

Test(outcomes, pipe_crash_is_closed)
{
    start_gw(pipe_upstream(NULL), NULL);
    expect_outcome("subject", RBGW_OUTCOME_CLOSED, 1, call(method_call("crash")));
}

/* ---- too big ---- */

Test(outcomes, http_too_big)
{
    http_url(0);
    char body[600];
    snprintf(body, sizeof(body), "{\"result\": \"%0500d\"}", 0);
    fake_http_push_json(http[0], body);
    start_gw("--max-reply-size=256",
             http_upstream("subject", http_url(0), "failure-limit=1,health-interval=600000"),
             http_upstream("good", http_url(1), NULL),
             "--pool=main:upstreams=subject+good,policy=first-available,retries=1", NULL);
    const char *r = call(LOOKUP_WWW);
    expect_outcome("subject", RBGW_OUTCOME_TOO_BIG, 1, r);
    cr_assert_eq(oks("good"), 0, "a too large reply is not retried elsewhere");
    /* Not ejected: the next call goes to subject again. */
    cr_assert(reply_ok(call(LOOKUP_WWW)));
    cr_assert_eq(oks("subject"), 1, "subject was ejected for a large reply");
}

Test(outcomes, unix_too_big)
{
    start_unix_responder();
    start_gw("--max-reply-size=256", unix_upstream(NULL), NULL);
    expect_outcome("subject", RBGW_OUTCOME_TOO_BIG, 1, call(big_lookup()));
}

Test(outcomes, pipe_too_big)
{
    start_gw("--max-reply-size=256", pipe_upstream(NULL), NULL);
    expect_outcome("subject", RBGW_OUTCOME_TOO_BIG, 1, call(big_lookup()));
}

Test(outcomes, zmq_too_big)
{
    const char *up = zmq_upstream(NULL);
    char body[600];
    /* Between max-reply-size and ZMQ_MAXMSGSIZE (twice that), beyond which libzmq drops it. */
    snprintf(body, sizeof(body), "{\"result\": \"%0300d\"}", 0);
    zmq_responder_push(zr, ZR_REPLY, body);
    start_gw("--max-reply-size=256", up, NULL);
    expect_outcome("subject", RBGW_OUTCOME_TOO_BIG, 1, call(LOOKUP_WWW));
}

/* ---- queue ---- */

Test(outcomes, queue_full_does_not_eject)
{
    http_url(0);
    fake_http_push(http[0], &(struct fake_http_action){.kind = FAKE_HTTP_STALL});
    start_gw(http_upstream("subject", http_url(0),
                           "max-conns=1,max-queue=0,failure-limit=1,health-interval=600000"),
             http_upstream("good", http_url(1), NULL),
             "--pool=main:upstreams=subject+good,policy=first-available,retries=0", NULL);
    struct pending *stalled = send_call(LOOKUP_WWW);
    const char *r = call(LOOKUP_WWW);
    expect_outcome("subject", RBGW_OUTCOME_QUEUE_FULL, 1, r);
    cr_assert(strstr(r, "max-queue=0"), "the reply names the limit: %s", r);
    cr_assert_not(stalled->done, "the first call is still in flight");
}

Test(outcomes, queue_timeout)
{
    http_url(0);
    fake_http_push(http[0], &(struct fake_http_action){.kind = FAKE_HTTP_STALL});
    start_gw("--deadline=60000",
             http_upstream("subject", http_url(0), "timeout=60000,max-conns=1,queue-timeout=100"),
             NULL);
    struct pending *stalled = send_call(LOOKUP_WWW);
    const char *r = call(LOOKUP_WWW);
    expect_outcome("subject", RBGW_OUTCOME_QUEUE_TIMEOUT, 1, r);
    cr_assert_not(stalled->done, "the first call is still in flight");
}

/* ---- shutdown ---- */

Test(outcomes, shutdown_fails_queued_and_running_calls)
{
    http_url(0);
    fake_http_push(http[0], &(struct fake_http_action){.kind = FAKE_HTTP_STALL});
    start_gw(http_upstream("subject", http_url(0), "max-conns=1"), NULL);
    struct pending *running = send_call(LOOKUP_WWW);
    struct pending *queued = send_call(LOOKUP_WWW);
    /* Run the loop until the first call is on the wire (the server records it). */
    while (!fake_http_wait_requests(http[0], 1, 1)) {
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    rbgw_connpool_stop(upstream("subject")->cp);
    expect_outcome("subject", RBGW_OUTCOME_SHUTDOWN, 2, wait_reply(running));
    expect_outcome("subject", RBGW_OUTCOME_SHUTDOWN, 2, wait_reply(queued));
}

/* ---- protocol ---- */

Test(outcomes, http_status_500_is_protocol)
{
    http_url(0);
    fake_http_push(http[0], &(struct fake_http_action){.kind = FAKE_HTTP_RESPOND, .status = 500});
    start_gw(http_upstream("subject", http_url(0), NULL), NULL);
    const char *r = call(LOOKUP_WWW);
    expect_outcome("subject", RBGW_OUTCOME_PROTOCOL, 1, r);
    cr_assert(strstr(r, "HTTP status 500"), "the reply names the status: %s", r);
}

Test(outcomes, http_malformed_response_is_protocol)
{
    http_url(0);
    fake_http_push(http[0], &(struct fake_http_action){.kind = FAKE_HTTP_RESPOND,
                                                       .headers = "Bad Header\r\n",
                                                       .body = "{\"result\": true}"});
    start_gw(http_upstream("subject", http_url(0), NULL), NULL);
    expect_outcome("subject", RBGW_OUTCOME_PROTOCOL, 1, call(LOOKUP_WWW));
}

Test(outcomes, unix_garbage_is_protocol)
{
    start_unix_responder();
    start_gw(unix_upstream(NULL), NULL);
    expect_outcome("subject", RBGW_OUTCOME_PROTOCOL, 1, call(method_call("noresult")));
}

Test(outcomes, pipe_garbage_is_protocol)
{
    start_gw(pipe_upstream(NULL), NULL);
    expect_outcome("subject", RBGW_OUTCOME_PROTOCOL, 1, call(method_call("nullresult")));
}

Test(outcomes, zmq_two_parts_is_protocol)
{
    const char *up = zmq_upstream(NULL);
    zmq_responder_push(zr, ZR_PARTS, "{\"result\": true}");
    start_gw(up, NULL);
    expect_outcome("subject", RBGW_OUTCOME_PROTOCOL, 1, call(LOOKUP_WWW));
}

/* ---- unsupported ---- */

Test(outcomes, untranslatable_call_is_unsupported_and_does_not_eject)
{
    start_gw(http_upstream("subject", http_url(0), "failure-limit=1,health-interval=600000"),
             http_upstream("good", http_url(1), NULL),
             "--pool=main:upstreams=subject+good,policy=first-available,retries=0", NULL);
    /* A header value with CR LF would break HTTP framing: refused before sending. */
    const char *r = call("{\"method\": \"lookup\", \"parameters\": {\"qname\": \"a.\", "
                         "\"qtype\": \"A\", \"remote\": \"x\\r\\nEvil: 1\"}}");
    expect_outcome("subject", RBGW_OUTCOME_UNSUPPORTED, 1, r);
    cr_assert(reply_ok(call(LOOKUP_WWW)));
    cr_assert_eq(oks("subject"), 1, "subject was ejected for a call it could not be sent");
}

/* ---- local ---- */

/* Make the next descriptor this process opens fail with EMFILE (released in teardown). */
static void
exhaust_fds(void)
{
    int max = 0;
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        max = fd > max ? fd : max;
    }
    closedir(d);
    /* Fill every hole up to max, so that the lowest free descriptor is max + 1. */
    for (;;) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        if (fd > max) {
            close(fd);
            break;
        }
        cr_assert_lt(nfillers, RBGW_NELEM(fillers));
        fillers[nfillers++] = fd;
    }
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = (rlim_t)max + 1;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

static void
restore_fds(void)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

Test(outcomes, own_emfile_is_local_and_does_not_eject)
{
    start_gw(http_upstream("subject", http_url(0), "failure-limit=1,health-interval=600000"),
             http_upstream("good", http_url(1), NULL),
             "--pool=main:upstreams=subject+good,policy=first-available,retries=0", NULL);
    exhaust_fds();
    const char *r = call(LOOKUP_WWW);
    restore_fds();
    expect_outcome("subject", RBGW_OUTCOME_LOCAL, 1, r);
    /* Not ejected and not backing off: the next call goes to subject and is answered. */
    cr_assert(reply_ok(call(LOOKUP_WWW)), "subject answers once fds are back");
    cr_assert_eq(oks("subject"), 1);
    cr_assert_eq(oks("good"), 0, "subject was ejected for rbgw's own EMFILE");
}

/* ---- backoff ---- */

Test(outcomes, backoff_after_a_failed_open)
{
    const char *bad = rbgw_test_fmt("http://127.0.0.1:%u/dns", refusing_port());
    start_gw(http_upstream("subject", bad, "retry-after=600000,failure-limit=1000"), NULL);
    expect_outcome("subject", RBGW_OUTCOME_CONNECT, 1, call(LOOKUP_WWW));
    const char *r = call(LOOKUP_WWW);
    cr_assert_eq(upstream("subject")->outcomes.n[RBGW_OUTCOME_BACKOFF], 1, "%s", r);
    rbgw_test_assert_false_reply(r, "(backing off)");
    cr_assert(strstr(r, "unavailable after 1 failed attempt"), "the reply says why: %s", r);
}

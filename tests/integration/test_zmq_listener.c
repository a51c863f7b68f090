/*
 * test_zmq_listener.c: the rbgw binary with a ZeroMQ listener, driven by libzmq REQ sockets the
 * way pdns's zeromq connector drives it, forwarding to an HTTP responder.
 *
 *   REQ sockets ──ipc:// or tcp://──> rbgw --listen=zeromq:... ──HTTP──> fake_http / echo server
 *
 * What is checked (docs/protocol.md §4.3, §8.1, §8.7): initialize is answered locally; lookups with
 * and without pdns 4.x's trailing NUL reach the responder and come back unchanged as one part
 * without a NUL; five REQ peers in flight at the same time each get their own reply although the
 * responder answers in reverse order; malformed JSON, an oversized request and an upstream
 * failure all get {"result":false,"log":["rbgw: ..."]}; malformed envelopes are dropped
 * without disturbing the peer's later requests; the tcp:// transport and the zmq: spelling; a
 * reply still in flight at SIGTERM is delivered; a live ipc path is refused and a stale one
 * replaced.  Every test that starts rbgw ends with finish(): SIGTERM, exit status 0, the ipc
 * socket file removed, no sanitizer report on stderr.
 *
 * Waits are bounded by IO_BOUND_MS only so a broken build fails instead of hanging; nothing
 * depends on timing except the deliberately short upstream timeout of the shutdown test.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>
#include <zmq.h>

#include "fake_http.h"
#include "itest.h"
#include "netio.h"
#include "rbgw_proc.h"
#include "zmq_echo_http.h"

#define IO_BOUND_MS 10000  /* safety bound for one wait, not a timing assertion */
#define UP_TIMEOUT_MS 8000 /* rbgw's upstream timeout where no timeout is being tested */
#define NPEERS 5

#define LOOKUP_FMT                                                                                 \
    "{\"method\": \"lookup\", \"parameters\": {\"local\": \"192.0.2.53\", \"qname\": \"%s\", "     \
    "\"qtype\": \"A\", \"real-remote\": \"198.51.100.0/24\", \"remote\": \"198.51.100.7\", "       \
    "\"zone-id\": 5}}"
#define LOOKUP_WWW                                                                                 \
    "{\"method\": \"lookup\", \"parameters\": {\"local\": \"192.0.2.53\", \"qname\": "             \
    "\"www.example.com.\", \"qtype\": \"A\", \"real-remote\": \"198.51.100.0/24\", \"remote\": "   \
    "\"198.51.100.7\", \"zone-id\": 5}}"
#define WWW_TARGET "/dns/lookup/www%2eexample%2ecom%2e/A"
#define INITIALIZE                                                                                 \
    "{\"method\": \"initialize\", \"parameters\": {\"endpoint\": \"ipc:///run/rbgw.zmq\", "        \
    "\"timeout\": \"2000\"}}"
#define BODY_WWW                                                                                   \
    "{\"result\":[{\"qtype\":\"A\",\"qname\":\"www.example.com.\",\"content\":\"192.0.2.10\","     \
    "\"ttl\":300,\"domain_id\":5,\"auth\":1}],\"log\":[\"served by fake_http\"]}"

static char tmpdir[64];            /* mkdtemp directory of the current test, or "" */
static char ipc_path[128];         /* tmpdir/gw.zmq */
static char endpoint[160];         /* "ipc://" ipc_path, or a tcp endpoint */
static void *zctx;                 /* the test's zmq context, or NULL */
static void *socks[NPEERS + 2];    /* open zmq sockets, closed by teardown */
static int nsocks;                 /* entries in socks */
static struct fake_http *srv;      /* fake responder, or NULL */
static struct zmq_echo_http *echo; /* echo responder, or NULL */
static struct rbgw_proc *gw;       /* the rbgw child, or NULL */
static int extra_fd = -1;          /* a socket the test holds (port or stale file), or -1 */

static void
setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/rbgw-zmq-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
    snprintf(ipc_path, sizeof(ipc_path), "%s/gw.zmq", tmpdir);
    snprintf(endpoint, sizeof(endpoint), "ipc://%s", ipc_path);
    zctx = zmq_ctx_new();
    cr_assert_not_null(zctx);
}

static void
teardown(void)
{
    for (int i = 0; i < nsocks; i++) {
        zmq_close(socks[i]);
    }
    nsocks = 0;
    if (zctx) {
        zmq_ctx_term(zctx);
        zctx = NULL;
    }
    rbgw_proc_free(gw);
    gw = NULL;
    fake_http_stop(srv);
    srv = NULL;
    zmq_echo_http_stop(echo);
    echo = NULL;
    if (extra_fd >= 0) {
        close(extra_fd);
        extra_fd = -1;
    }
    char path[128];
    snprintf(path, sizeof(path), "%s/gw.zmq", tmpdir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/gw2.zmq", tmpdir);
    unlink(path);
    rmdir(tmpdir);
    rbgw_test_release();
}

TestSuite(zmq_listener, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ---- */

/* The tail of rbgw's stderr, for failure messages. */
static const char *
errtail(void)
{
    return rbgw_test_stderr(gw);
}

/* Spawn rbgw: the listener `listen` (NULL: zeromq on `endpoint`), an http upstream to port,
 * and one optional extra argument. */
static void
spawn_gw(const char *listen, int port, int timeout_ms, const char *extra)
{
    char *l = listen ? rbgw_test_fmt("--listen=%s", listen)
                     : rbgw_test_fmt("--listen=zeromq:endpoint=%s", endpoint);
    char *up = rbgw_test_fmt("--upstream=http:url=http://127.0.0.1:%d/dns,timeout=%d,max-conns=8",
                             port, timeout_ms);
    const char *args[] = {l, up, "--log-level=debug", extra, NULL};
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw, "cannot spawn %s: %s", RBGW_BINARY, strerror(errno));
}

/* fake_http responder and rbgw in front of it. */
static void
start(const char *extra)
{
    srv = fake_http_start();
    cr_assert_not_null(srv, "cannot start the fake HTTP responder");
    spawn_gw(NULL, fake_http_port(srv), UP_TIMEOUT_MS, extra);
}

static void *
new_socket(int type, const char *ep)
{
    void *s = zmq_socket(zctx, type);
    cr_assert_not_null(s, "zmq_socket: %s", zmq_strerror(zmq_errno()));
    int linger = 0;
    cr_assert_eq(zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    /* rbgw binds asynchronously: connect retries until it is there, messages wait meanwhile. */
    cr_assert_eq(zmq_connect(s, ep ? ep : endpoint), 0, "zmq_connect %s: %s", ep ? ep : endpoint,
                 zmq_strerror(zmq_errno()));
    socks[nsocks++] = s;
    return s;
}

static void
send_part(void *s, const void *data, size_t len, int flags)
{
    int rc = zmq_send(s, data, len, flags);
    cr_assert_eq(rc, (int)len, "zmq_send: %s", zmq_strerror(zmq_errno()));
}

/* Receive one part (bounded).  Returns a malloc'd NUL-terminated copy; *len its size, *more
 * whether more parts follow (both may be NULL). */
static char *
recv_part(void *s, size_t *len, int *more)
{
    zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
    int rc = zmq_poll(&it, 1, IO_BOUND_MS);
    cr_assert_eq(rc, 1, "no reply within the safety bound; rbgw stderr:\n%s", errtail());
    zmq_msg_t m;
    zmq_msg_init(&m);
    cr_assert_geq(zmq_msg_recv(&m, s, 0), 0, "zmq_msg_recv: %s", zmq_strerror(zmq_errno()));
    size_t n = zmq_msg_size(&m);
    char *copy = malloc(n + 1);
    memcpy(copy, zmq_msg_data(&m), n);
    copy[n] = '\0';
    if (len) {
        *len = n;
    }
    if (more) {
        *more = zmq_msg_more(&m);
    }
    zmq_msg_close(&m);
    return copy;
}

/* Receive a REQ reply: exactly one part, a JSON object with a non-null result, no NUL. */
static char *
recv_reply(void *s)
{
    size_t len;
    int more;
    char *r = recv_part(s, &len, &more);
    cr_assert(!more, "the reply has more than one part: <%s>", r);
    cr_assert_eq(strlen(r), len, "the reply contains a NUL byte: <%s>", r);
    return r;
}

/* Send request (plus a NUL if nul) on a REQ socket and return the reply. */
static char *
call(void *s, const char *request, bool nul)
{
    send_part(s, request, strlen(request) + (nul ? 1 : 0), 0);
    return recv_reply(s);
}

/* SIGTERM rbgw: it must exit 0, remove its ipc socket, and leave no sanitizer report. */
static void
finish(void)
{
    cr_assert_eq(kill(rbgw_proc_pid(gw), SIGTERM), 0);
    rbgw_test_assert_exit_0(gw);
    if (strncmp(endpoint, "ipc://", 6) == 0) {
        struct stat sb;
        cr_assert_neq(lstat(ipc_path, &sb), 0, "rbgw left its ipc socket %s behind", ipc_path);
    }
    rbgw_test_assert_clean_stderr(gw);
}

/* ---- tests ---- */

Test(zmq_listener, initialize_is_answered_locally)
{
    start(NULL);
    void *s = new_socket(ZMQ_REQ, NULL);
    char *r = call(s, INITIALIZE, false);
    cr_assert_str_eq(r, "{\"result\":true}");
    free(r);
    r = call(s, INITIALIZE, true); /* pdns 4.x */
    cr_assert_str_eq(r, "{\"result\":true}");
    free(r);
    cr_assert_eq(fake_http_nrequests(srv), 0, "initialize reached the HTTP responder");
    finish();
}

Test(zmq_listener, lookups_with_and_without_trailing_nul_reach_upstream)
{
    start(NULL);
    void *s = new_socket(ZMQ_REQ, NULL);
    static const char *const other =
        "{\"result\":[{\"qtype\":\"A\",\"qname\":\"mail.example.com.\",\"content\":"
        "\"192.0.2.25\",\"ttl\":300,\"domain_id\":5,\"auth\":1}]}";
    fake_http_push_json(srv, BODY_WWW);
    fake_http_push_json(srv, other);

    char *r = call(s, LOOKUP_WWW, false); /* pdns 5.x framing */
    cr_assert_str_eq(r, BODY_WWW, "stderr:\n%s", errtail());
    free(r);
    char *mail = rbgw_test_fmt(LOOKUP_FMT, "mail.example.com.");
    r = call(s, mail, true); /* pdns 4.x framing: JSON text plus its NUL */
    cr_assert_str_eq(r, other, "stderr:\n%s", errtail());
    free(r);

    cr_assert_eq(fake_http_nrequests(srv), 2);
    cr_assert_str_eq(fake_http_request(srv, 0)->target, WWW_TARGET);
    cr_assert_str_eq(fake_http_request(srv, 1)->target, "/dns/lookup/mail%2eexample%2ecom%2e/A");
    finish();
}

Test(zmq_listener, concurrent_peers_each_get_their_own_reply)
{
    /* The responder answers nothing until NPEERS requests wait at once, then newest first. */
    echo = zmq_echo_http_start(NPEERS);
    cr_assert_not_null(echo);
    spawn_gw(NULL, zmq_echo_http_port(echo), UP_TIMEOUT_MS, NULL);
    void *s[NPEERS];
    for (int i = 0; i < NPEERS; i++) {
        s[i] = new_socket(ZMQ_REQ, NULL);
        char qname[64];
        snprintf(qname, sizeof(qname), "host%d.example.com.", i);
        char *req = rbgw_test_fmt(LOOKUP_FMT, qname);
        send_part(s[i], req, strlen(req) + (i % 2), 0); /* mixed 4.x and 5.x framing */
    }
    for (int i = 0; i < NPEERS; i++) {
        char *r = recv_reply(s[i]);
        char *want = rbgw_test_fmt("\"content\":\"/dns/lookup/host%d%%2eexample%%2ecom%%2e/A\"", i);
        cr_assert_not_null(strstr(r, want), "peer %d got <%s>, expected its own echo %s", i, r,
                           want);
        cr_assert(strncmp(r, "{\"result\":[", 11) == 0, "peer %d got <%s>", i, r);
        free(r);
    }
    cr_assert_eq(zmq_echo_http_max_waiting(echo), NPEERS,
                 "the responder never saw all calls in flight at once");
    cr_assert_eq(zmq_echo_http_requests(echo), NPEERS);
    finish();
}

Test(zmq_listener, malformed_json_gets_a_false_reply)
{
    start(NULL);
    void *s = new_socket(ZMQ_REQ, NULL);
    char *r = call(s, "{\"method\": \"lookup\", \"parameters\": {", false);
    rbgw_test_assert_false_reply(r, NULL);
    free(r);
    r = call(s, "", false); /* an empty message */
    rbgw_test_assert_false_reply(r, NULL);
    free(r);
    cr_assert_eq(fake_http_nrequests(srv), 0);
    /* The peer (and the listener) carry on. */
    fake_http_push_json(srv, BODY_WWW);
    r = call(s, LOOKUP_WWW, true);
    cr_assert_str_eq(r, BODY_WWW);
    free(r);
    finish();
}

Test(zmq_listener, upstream_failure_gets_a_false_reply)
{
    start(NULL);
    void *s = new_socket(ZMQ_REQ, NULL);
    fake_http_push(
        srv, &(struct fake_http_action){.kind = FAKE_HTTP_RESPOND, .status = 500, .body = "oops"});
    char *r = call(s, LOOKUP_WWW, true);
    rbgw_test_assert_false_reply(r, NULL);
    free(r);
    cr_assert_eq(fake_http_nrequests(srv), 1);
    finish();
}

Test(zmq_listener, oversized_request_gets_a_false_reply)
{
    start("--max-request-size=300");
    void *s = new_socket(ZMQ_REQ, NULL);
    char label[200];
    memset(label, 'a', sizeof(label) - 1);
    label[sizeof(label) - 1] = '\0';
    char *qname = rbgw_test_fmt("%s.example.com.", label);
    char *big = rbgw_test_fmt(LOOKUP_FMT, qname);
    cr_assert_gt(strlen(big), 300);
    char *r = call(s, big, true);
    rbgw_test_assert_false_reply(r, "max-request-size");
    free(r);
    cr_assert_eq(fake_http_nrequests(srv), 0);
    /* A request right at the limit is fine, NUL not counted. */
    char pad[400];
    int n = snprintf(pad, sizeof(pad), "%-300s", INITIALIZE);
    cr_assert_eq(n, 300);
    r = call(s, pad, true);
    cr_assert_str_eq(r, "{\"result\":true}", "stderr:\n%s", errtail());
    free(r);
    finish();
}

Test(zmq_listener, malformed_envelopes_are_dropped)
{
    start(NULL);
    /* A DEALER writes the envelope by hand; the ROUTER prepends the routing id. */
    void *d = new_socket(ZMQ_DEALER, NULL);
    send_part(d, INITIALIZE, strlen(INITIALIZE), 0); /* no delimiter: 2 parts */
    send_part(d, "x", 1, ZMQ_SNDMORE);               /* non-empty delimiter: 3 parts */
    send_part(d, INITIALIZE, strlen(INITIALIZE), 0);
    send_part(d, "", 0, ZMQ_SNDMORE); /* one part too many: 4 parts */
    send_part(d, INITIALIZE, strlen(INITIALIZE), ZMQ_SNDMORE);
    send_part(d, "extra", 5, 0);
    send_part(d, "", 0, ZMQ_SNDMORE); /* well formed */
    send_part(d, INITIALIZE, strlen(INITIALIZE), 0);

    /* One peer's messages are handled in order: had any malformed one been answered, its
     * answer would come first. */
    size_t len;
    int more;
    char *p = recv_part(d, &len, &more);
    cr_assert(len == 0 && more, "expected the empty delimiter first, got <%s>", p);
    free(p);
    p = recv_part(d, &len, &more);
    cr_assert(!more);
    cr_assert_str_eq(p, "{\"result\":true}");
    free(p);
    zmq_pollitem_t it = {.socket = d, .events = ZMQ_POLLIN};
    cr_assert_eq(zmq_poll(&it, 1, 0), 0, "a malformed message was answered");

    cr_assert(rbgw_test_stderr_has(gw, "malformed message: 2 part(s)"), "stderr:\n%s", errtail());
    cr_assert(rbgw_test_stderr_has(gw, "malformed message: 3 part(s) with a non-empty delimiter"),
              "stderr:\n%s", errtail());
    cr_assert(rbgw_test_stderr_has(gw, "malformed message: 4 part(s)"), "stderr:\n%s", errtail());
    finish();
}

Test(zmq_listener, tcp_endpoint_and_zmq_spelling)
{
    /* A free port: bind 0, read it, release it just before rbgw binds it. */
    uint16_t port = 0;
    int fd = rbgw_test_tcp_bind(&port);
    cr_assert_geq(fd, 0, "cannot bind a port on 127.0.0.1: %s", strerror(errno));
    close(fd);
    snprintf(endpoint, sizeof(endpoint), "tcp://127.0.0.1:%d", port);

    srv = fake_http_start();
    cr_assert_not_null(srv);
    char *listen = rbgw_test_fmt("zmq:endpoint=%s", endpoint);
    spawn_gw(listen, fake_http_port(srv), UP_TIMEOUT_MS, NULL);
    void *s = new_socket(ZMQ_REQ, NULL);
    char *r = call(s, INITIALIZE, true);
    cr_assert_str_eq(r, "{\"result\":true}", "stderr:\n%s", errtail());
    free(r);
    fake_http_push_json(srv, BODY_WWW);
    r = call(s, LOOKUP_WWW, false);
    cr_assert_str_eq(r, BODY_WWW);
    free(r);
    cr_assert(rbgw_test_stderr_has(gw, "listening on zeromq:tcp://127.0.0.1:"), "stderr:\n%s",
              errtail());
    finish();
}

Test(zmq_listener, reply_in_flight_at_sigterm_is_delivered)
{
    srv = fake_http_start();
    cr_assert_not_null(srv);
    fake_http_push(srv, &(struct fake_http_action){.kind = FAKE_HTTP_STALL});
    spawn_gw(NULL, fake_http_port(srv), 1000, NULL);
    void *s = new_socket(ZMQ_REQ, NULL);
    send_part(s, LOOKUP_WWW, strlen(LOOKUP_WWW), 0);
    cr_assert(fake_http_wait_requests(srv, 1, IO_BOUND_MS), "stderr:\n%s", errtail());
    cr_assert_eq(kill(rbgw_proc_pid(gw), SIGTERM), 0);
    /* rbgw stops reading but finishes the call: the upstream times out, false goes out. */
    char *r = recv_reply(s);
    rbgw_test_assert_false_reply(r, NULL);
    free(r);
    rbgw_test_assert_exit_0(gw);
    struct stat sb;
    cr_assert_neq(lstat(ipc_path, &sb), 0, "rbgw left its ipc socket behind");
}

Test(zmq_listener, live_ipc_path_is_refused_stale_one_replaced)
{
    /* Somebody else serves the path: rbgw must not steal it. */
    void *other = zmq_socket(zctx, ZMQ_ROUTER);
    socks[nsocks++] = other;
    cr_assert_eq(zmq_bind(other, endpoint), 0);
    start(NULL);
    int st = 0;
    cr_assert_eq(rbgw_proc_wait(gw, IO_BOUND_MS, &st), 0, "rbgw kept running:\n%s", errtail());
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0, "exit status %#x", st);
    cr_assert(rbgw_test_stderr_has(gw, "in use by a running server"), "stderr:\n%s", errtail());
    rbgw_proc_free(gw);
    gw = NULL;
    zmq_close(other);
    nsocks--;

    /* A socket file nobody listens on any more (a crashed rbgw) is replaced.  On a second
     * path: libzmq removes the first one asynchronously while closing `other`. */
    snprintf(ipc_path, sizeof(ipc_path), "%s/gw2.zmq", tmpdir);
    snprintf(endpoint, sizeof(endpoint), "ipc://%s", ipc_path);
    extra_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    cr_assert_lt(strlen(ipc_path), sizeof(un.sun_path));
    memcpy(un.sun_path, ipc_path, strlen(ipc_path) + 1);
    cr_assert_eq(bind(extra_fd, (struct sockaddr *)&un, sizeof(un)), 0);
    close(extra_fd);
    extra_fd = -1;
    spawn_gw(NULL, fake_http_port(srv), UP_TIMEOUT_MS, NULL);
    void *s = new_socket(ZMQ_REQ, NULL);
    char *r = call(s, INITIALIZE, false);
    cr_assert_str_eq(r, "{\"result\":true}", "stderr:\n%s", errtail());
    free(r);
    finish();
}

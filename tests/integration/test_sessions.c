/*
 * test_sessions.c: pdns sessions on every listener, and what happens to their transactions when
 * pdns goes away (docs/architecture.md, Sessions; docs/fanout.md, Transactions).
 *
 *   pdns-like clients ──pipe (stdin/stdout)──┐
 *                     ──unix socket─────────┤
 *                     ──HTTP post_json──────┼──> rbgw ──HTTP──> alpha, bravo (fake_fanout)
 *                     ──ZeroMQ REQ/DEALER───┘
 *
 * A session is one pdns connection: the pipe's stdin stream, a unix or HTTP connection, a
 * ZeroMQ peer (its routing id, until it has been idle for session-timeout ms).  What is checked:
 *
 *  - pdns closing its side while a commitTransaction is in flight (pdns's own timeout does
 *    that) on each listener: the commit's late answer is swallowed or written, rbgw stays up
 *    and serves the next client, and nothing reaches a sanitizer (the HTTP case was a heap
 *    use-after-free: the transaction was freed by the close and again by the commit's answer);
 *  - pdns closing its side while a feedRecord is in flight: the transaction's upstream
 *    connection, busy at that moment, is closed once the call is answered (the responder sees
 *    an abort) instead of staying reserved;
 *  - a transaction over each listener stays on the upstream connection that carried its
 *    startTransaction, checked at the responder (over ZeroMQ every message used to be a
 *    session of its own, so its calls were spread over the pool);
 *  - a ZeroMQ session expires after session-timeout ms idle and its open transaction is
 *    dropped (the upstream connection closed), but never while a call of it is in flight;
 *  - a DEALER peer pipelining calls of one transaction (pdns never does) gets one answer per
 *    call and leaves rbgw sound.
 *
 * Waits are bounded polls for a state (a log line, a responder's count); the bounds only keep a
 * broken build from hanging.  rbgw has two ZeroMQ listeners: gw.zmq with the default
 * session-timeout (a minute: no session expires by accident however slow the machine), and
 * gw-short.zmq with SESSION_MS, for the tests about expiry.  Those are written so that an
 * expiry coming earlier than the test intends (a slow machine, a peer idle between two calls
 * longer than SESSION_MS) can only weaken them, never fail them on a correct rbgw; no
 * assertion depends on how long anything took.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zmq.h>

#include "fake_fanout.h"
#include "fake_json.h"
#include "itest.h"
#include "netio.h"
#include "rbgw_proc.h"

#define IO_MS 10000 /* safety bound for one read or wait, never a timing assertion */
#define PORT_TRIES 5
#define SESSION_MS 100 /* session-timeout of the gw-short.zmq listener */
#define MAX_CLIENTS 8

enum kind { K_PIPE, K_UNIX, K_HTTP, K_ZMQ, K_ZMQ_SHORT, K_DEALER };

static const char *const kind_names[] = {"pipe",   "unix",           "http",
                                         "zeromq", "zeromq (short)", "zeromq dealer"};

/* One pdns-side connection of any kind. */
struct client {
    enum kind kind;              /* transport */
    struct fake_json_client *jc; /* K_UNIX */
    int fd;                      /* K_HTTP: the TCP connection, or -1 */
    char *in;                    /* K_HTTP: bytes read, not yet consumed */
    size_t inlen;                /* bytes in in */
    size_t incap;                /* allocated */
    void *zs;                    /* ZeroMQ kinds: the socket, or NULL once closed */
    char id[32];                 /* ZeroMQ kinds: its routing id */
};

static char *dir;                          /* the test's directory (config, sockets) */
static struct rbgw_proc *gw;               /* rbgw, or NULL */
static int http_port;                      /* rbgw's HTTP listener */
static void *zctx;                         /* the test's zmq context, or NULL */
static struct client clients[MAX_CLIENTS]; /* open clients */
static size_t nclients;                    /* entries used in clients */

static void
client_free(struct client *c)
{
    if (c->jc) {
        fake_json_client_free(c->jc);
        c->jc = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    free(c->in);
    c->in = NULL;
    if (c->zs) {
        zmq_close(c->zs);
        c->zs = NULL;
    }
}

static void
teardown(void)
{
    for (size_t i = 0; i < nclients; i++) {
        client_free(&clients[i]);
    }
    nclients = 0;
    if (zctx) {
        zmq_ctx_term(zctx);
        zctx = NULL;
    }
    rbgw_proc_free(gw);
    gw = NULL;
    fake_json_rmtree(dir);
    free(dir);
    dir = NULL;
    fanout_test_teardown(); /* responders, kept memory */
}

TestSuite(sessions, .fini = teardown, .timeout = 60);

/* ---- rbgw ---- */

static const char *
errtail(void)
{
    return rbgw_test_stderr(gw);
}

/* A free TCP port (bound once, then released: rbgw binds it next, retried if it was taken). */
static int
free_port(void)
{
    uint16_t port;
    int fd = rbgw_test_tcp_bind(&port);
    cr_assert_geq(fd, 0, "cannot bind a port: %s", strerror(errno));
    close(fd);
    return port;
}

/*
 * Start rbgw with every listener (pipe, unix, HTTP post_json at /dns, ZeroMQ with the default
 * session-timeout and with SESSION_MS) in front of the first nup fake_fanout responders (as
 * upstreams alpha, bravo), plus the config lines conf.
 */
static void
start(size_t nup, const char *conf)
{
    fanout_test_responders(nup);
    dir = fake_json_mkdtemp();
    cr_assert_not_null(dir, "mkdtemp: %s", strerror(errno));
    char *ups = rbgw_test_fmt("%s", "");
    static const char *const names[] = {"alpha", "bravo"};
    for (size_t i = 0; i < nup; i++) {
        ups = rbgw_test_fmt("%supstream%s=http:url=http://127.0.0.1:%u/dns,name=%s\n", ups,
                            i ? "+" : "", (unsigned)fake_fanout_port(fanout_test_up(i)), names[i]);
    }
    for (int attempt = 0; attempt < PORT_TRIES; attempt++) {
        http_port = free_port();
        const char *path = rbgw_test_fmt("%s/rbgw.conf", dir);
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f, "cannot write %s", path);
        fprintf(f,
                "listen=pipe\n"
                "listen+=unix:path=%s/gw.sock\n"
                "listen+=http:address=127.0.0.1:%d,path=/dns\n"
                "listen+=zeromq:endpoint=ipc://%s/gw.zmq\n"
                "listen+=zeromq:endpoint=ipc://%s/gw-short.zmq,session-timeout=%d\n"
                "log-level=debug\n%s%s\n",
                dir, http_port, dir, dir, SESSION_MS, ups, conf);
        fclose(f);
        const char *args[] = {rbgw_test_fmt("--config=%s", path), NULL};
        gw = rbgw_proc_spawn(NULL, args);
        cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
        if (fake_json_gw_ready(gw, IO_MS)) {
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

/* Wait (bounded poll) until rbgw's stderr holds needle. */
static void
wait_log(const char *needle)
{
    long deadline = rbgw_test_now_ms() + IO_MS;
    while (!rbgw_test_stderr_has(gw, needle)) {
        cr_assert_lt(rbgw_test_now_ms(), deadline, "rbgw never logged \"%s\"; stderr:\n%s", needle,
                     errtail());
        usleep(2000);
    }
}

/* Wait (bounded poll) until the responder's connection with accept index conn is closed. */
static void
wait_conn_closed(struct fake_fanout *s, unsigned conn, const char *why)
{
    long deadline = rbgw_test_now_ms() + IO_MS;
    while (fake_fanout_conn_open(s, conn)) {
        cr_assert_lt(rbgw_test_now_ms(), deadline,
                     "%s: %s's connection #%u stayed open; "
                     "stderr:\n%s",
                     why, fake_fanout_name(s), conn, errtail());
        usleep(2000);
    }
}

/* SIGTERM: rbgw exits 0 and reports nothing to a sanitizer. */
static void
finish(void)
{
    cr_assert_eq(kill(rbgw_proc_pid(gw), SIGTERM), 0);
    rbgw_test_assert_exit_0(gw);
    rbgw_test_assert_clean_stderr(gw);
}

/* ---- clients ---- */

static void *
zmq_peer(int type, const char *id, const char *file)
{
    if (zctx == NULL) {
        zctx = zmq_ctx_new();
        cr_assert_not_null(zctx);
    }
    void *s = zmq_socket(zctx, type);
    cr_assert_not_null(s, "zmq_socket: %s", zmq_strerror(zmq_errno()));
    int linger = 0;
    cr_assert_eq(zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    cr_assert_eq(zmq_setsockopt(s, ZMQ_ROUTING_ID, id, strlen(id)), 0);
    const char *ep = rbgw_test_fmt("ipc://%s/%s", dir, file);
    cr_assert_eq(zmq_connect(s, ep), 0, "zmq_connect %s: %s", ep, zmq_strerror(zmq_errno()));
    return s;
}

/* Open a client of the given kind (ZeroMQ: with routing id zid); JSON kinds are initialized. */
static struct client *
client_open(enum kind k, const char *zid)
{
    cr_assert_lt(nclients, MAX_CLIENTS);
    struct client *c = &clients[nclients++];
    memset(c, 0, sizeof(*c));
    c->kind = k;
    c->fd = -1;
    switch (k) {
    case K_PIPE:
        break;
    case K_UNIX: {
        const char *sock = rbgw_test_fmt("%s/gw.sock", dir);
        c->jc = fake_json_connect(sock);
        cr_assert_not_null(c->jc, "connect %s: %s", sock, strerror(errno));
        break;
    }
    case K_HTTP: {
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(c->fd, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)http_port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert_eq(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s",
                     strerror(errno));
        break;
    }
    case K_ZMQ:
    case K_ZMQ_SHORT:
    case K_DEALER:
        snprintf(c->id, sizeof(c->id), "%s", zid ? zid : "peer");
        c->zs = zmq_peer(k == K_DEALER ? ZMQ_DEALER : ZMQ_REQ, c->id,
                         k == K_ZMQ_SHORT ? "gw-short.zmq" : "gw.zmq");
        break;
    }
    return c;
}

static void
client_send(struct client *c, const char *json)
{
    switch (c->kind) {
    case K_PIPE: {
        int rc = rbgw_proc_write_str(gw, rbgw_test_fmt("%s\n", json));
        cr_assert_eq(rc, 0, "writing to rbgw's stdin: %s", strerror(-rc));
        break;
    }
    case K_UNIX:
        rbgw_test_client_send(c->jc, json);
        break;
    case K_HTTP: {
        /* pdns's post_json mode: POST to the url's path, the call as the body. */
        const char *req = rbgw_test_fmt("POST /dns HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                        "Content-Type: text/javascript; charset=utf-8\r\n"
                                        "Content-Length: %zu\r\n\r\n%s",
                                        strlen(json), json);
        cr_assert(rbgw_test_send_all(c->fd, req, strlen(req)), "send: %s", strerror(errno));
        break;
    }
    case K_ZMQ:
    case K_ZMQ_SHORT:
        cr_assert_eq(zmq_send(c->zs, json, strlen(json), 0), (int)strlen(json), "zmq_send: %s",
                     zmq_strerror(zmq_errno()));
        break;
    case K_DEALER:
        cr_assert_eq(zmq_send(c->zs, "", 0, ZMQ_SNDMORE), 0);
        cr_assert_eq(zmq_send(c->zs, json, strlen(json), 0), (int)strlen(json), "zmq_send: %s",
                     zmq_strerror(zmq_errno()));
        break;
    }
}

/* One ZeroMQ message part (bounded wait), kept. */
static const char *
zmq_part(void *s, int *more)
{
    zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
    cr_assert_eq(zmq_poll(&it, 1, IO_MS), 1, "no reply within the bound; stderr:\n%s", errtail());
    zmq_msg_t m;
    zmq_msg_init(&m);
    cr_assert_geq(zmq_msg_recv(&m, s, 0), 0, "zmq_msg_recv: %s", zmq_strerror(zmq_errno()));
    const char *r = rbgw_test_fmt("%.*s", (int)zmq_msg_size(&m), (char *)zmq_msg_data(&m));
    *more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    return r;
}

/* The body of one HTTP response on c (framed by its Content-Length), kept. */
static const char *
http_read(struct client *c)
{
    long deadline = rbgw_test_now_ms() + IO_MS;
    const char *end;
    while ((end = rbgw_test_head_end(c->in, c->inlen)) == NULL ||
           c->inlen < (size_t)(end - c->in) + 4) {
        cr_assert_lt(rbgw_test_now_ms(), deadline, "no HTTP response; stderr:\n%s", errtail());
        ssize_t n = rbgw_test_recv_more(c->fd, &c->in, &c->inlen, &c->incap);
        cr_assert(n > 0 || (n < 0 && errno == EINTR), "HTTP connection closed; stderr:\n%s",
                  errtail());
    }
    size_t head = (size_t)(end - c->in) + 4;
    const char *cl = strcasestr(c->in, "\r\nContent-Length:");
    cr_assert(cl && cl < end, "no Content-Length in <%.*s>", (int)head, c->in);
    size_t len = strtoul(cl + 17, NULL, 10);
    while (c->inlen < head + len) {
        cr_assert_lt(rbgw_test_now_ms(), deadline, "HTTP body cut short");
        ssize_t n = rbgw_test_recv_more(c->fd, &c->in, &c->inlen, &c->incap);
        cr_assert(n > 0 || (n < 0 && errno == EINTR), "HTTP connection closed in a body");
    }
    const char *body = rbgw_test_fmt("%.*s", (int)len, c->in + head);
    memmove(c->in, c->in + head + len, c->inlen - head - len);
    c->inlen -= head + len;
    return body;
}

static const char *
client_read(struct client *c)
{
    int more = 0;
    const char *r = NULL;
    switch (c->kind) {
    case K_PIPE:
        return rbgw_test_read_line(gw);
    case K_UNIX:
        return rbgw_test_client_read(c->jc, gw);
    case K_HTTP:
        return http_read(c);
    case K_ZMQ:
    case K_ZMQ_SHORT:
        r = zmq_part(c->zs, &more);
        cr_assert(!more, "a reply in more than one part");
        return r;
    case K_DEALER:
        r = zmq_part(c->zs, &more);
        cr_assert(more && *r == '\0', "a DEALER reply starts with the empty delimiter");
        r = zmq_part(c->zs, &more);
        cr_assert(!more);
        return r;
    }
    return NULL;
}

static const char *
client_call(struct client *c, const char *json)
{
    client_send(c, json);
    return client_read(c);
}

/* pdns goes away: the pipe's stdin closes, a socket closes, a ZeroMQ socket is closed. */
static void
client_close(struct client *c)
{
    if (c->kind == K_PIPE) {
        rbgw_proc_close_stdin(gw);
        return;
    }
    client_free(c);
}

static void
expect_ok(const char *what, const char *r)
{
    cr_assert(fanout_reply_ok(r), "%s: %s\nrbgw stderr:\n%s", what, r, errtail());
}

/* The log line rbgw writes when the session behind a client of kind k has gone. */
static const char *
gone_log(enum kind k)
{
    return k == K_ZMQ_SHORT ? "expired" : "pdns connection closed";
}

/* ---- pdns gives up during a commit ---- */

/*
 * start, feed, commit held at the responder; pdns closes; the commit's answer comes after.
 * rbgw must stay sound (no sanitizer report), serve a new client, and close cleanly.
 */
static void
close_mid_commit(enum kind k)
{
    start(1, "");
    struct fake_fanout *alpha = fanout_test_up(0);
    fake_fanout_rule(alpha, "commitTransaction", FAKE_FANOUT_HOLD, 1);
    struct client *c = client_open(k, "committer");
    expect_ok("start", client_call(c, fanout_test_start_trx("example.org.", 42)));
    expect_ok("feed", client_call(c, fanout_test_feed("r1.example.org.", 42)));
    client_send(c, fanout_test_commit(42));
    cr_assert(fake_fanout_wait_pending(alpha, 1, IO_MS), "the commit did not reach alpha");
    client_close(c);
    if (k == K_HTTP) {
        /* HTTP sees the close at once; a JSON stream first finishes its call in flight, and a
         * ZeroMQ session with a call in flight does not expire. */
        wait_log(gone_log(k));
    }
    fake_fanout_release(alpha);
    wait_log("commitTransaction u=alpha: answered");
    cr_assert_eq(fake_fanout_count(alpha, "commitTransaction"), 1);
    cr_assert_eq(fake_fanout_count(alpha, "abortTransaction"), 0);
    if (k == K_PIPE) {
        /* The commit's answer is still written after stdin closed; the other listeners keep
         * rbgw up (with only the pipe listener it would exit now). */
        expect_ok("the commit, answered after stdin closed", rbgw_test_read_line(gw));
        struct client *next = client_open(K_UNIX, NULL);
        expect_ok("lookup on a unix connection",
                  client_call(next, fanout_test_lookup("www.example.net.")));
        finish();
        return;
    }
    if (k == K_ZMQ_SHORT) {
        wait_log(gone_log(k)); /* the session expires once its commit was answered */
    }
    /* A new pdns connection of the same kind is served. */
    struct client *next = client_open(k, "next");
    expect_ok("lookup on a new connection",
              client_call(next, fanout_test_lookup("www.example.net.")));
    expect_ok("lookup on stdin",
              client_call(client_open(K_PIPE, NULL), fanout_test_lookup("www.example.net.")));
    finish();
}

Test(sessions, http_close_during_commit)
{
    close_mid_commit(K_HTTP);
}

Test(sessions, unix_close_during_commit)
{
    close_mid_commit(K_UNIX);
}

Test(sessions, pipe_eof_during_commit)
{
    close_mid_commit(K_PIPE);
}

Test(sessions, zeromq_peer_gone_during_commit)
{
    close_mid_commit(K_ZMQ_SHORT);
}

/*
 * start, feed held at the responder; pdns closes.  Once the feed is answered the transaction's
 * connection (busy with it when pdns left) must be closed: the responder sees the abort.
 */
static void
close_mid_feed(enum kind k)
{
    start(1, "");
    struct fake_fanout *alpha = fanout_test_up(0);
    struct client *c = client_open(k, "feeder");
    expect_ok("start", client_call(c, fanout_test_start_trx("example.org.", 43)));
    fake_fanout_rule(alpha, "feedRecord", FAKE_FANOUT_HOLD, 1);
    client_send(c, fanout_test_feed("r1.example.org.", 43));
    cr_assert(fake_fanout_wait_pending(alpha, 1, IO_MS), "the feed did not reach alpha");
    struct fake_fanout_req st;
    cr_assert(fake_fanout_req(alpha, 0, &st));
    cr_assert_str_eq(st.method, "startTransaction");
    client_close(c);
    if (k == K_HTTP) {
        wait_log(gone_log(k));
    }
    fake_fanout_release(alpha);
    wait_conn_closed(alpha, st.conn, "pdns left mid-transaction");
    cr_assert_eq(fake_fanout_count(alpha, "commitTransaction"), 0);
    expect_ok("lookup after",
              client_call(client_open(K_PIPE, NULL), fanout_test_lookup("www.example.net.")));
    finish();
}

Test(sessions, http_close_during_feed_closes_the_transaction_connection)
{
    close_mid_feed(K_HTTP);
}

Test(sessions, unix_close_during_feed_closes_the_transaction_connection)
{
    close_mid_feed(K_UNIX);
}

Test(sessions, zeromq_expiry_after_feed_closes_the_transaction_connection)
{
    close_mid_feed(K_ZMQ_SHORT);
}

/* ---- a transaction stays on one upstream connection, whatever the listener ---- */

/* True when name is suffix or ends in "." suffix. */
static bool
name_in(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n >= s && strcmp(name + n - s, suffix) == 0 && (n == s || name[n - s - 1] == '.');
}

static bool
is_trx_method(const char *m)
{
    return strcmp(m, "startTransaction") == 0 || strcmp(m, "feedRecord") == 0 ||
           strcmp(m, "commitTransaction") == 0 || strcmp(m, "abortTransaction") == 0;
}

/*
 * Two responders behind round-robin: consecutive calls would alternate if rbgw did not keep
 * the transaction together.  start, 3 x (lookup, feed), commit from one client; every call of
 * the transaction must reach the responder and the connection (accept index) of its start.
 */
static void
transaction_on_one_connection(enum kind k)
{
    start(2, "pool=p:upstreams=alpha+bravo,policy=round-robin\n");
    struct client *c = client_open(k, "axfr");
    expect_ok("start", client_call(c, fanout_test_start_trx("example.org.", 77)));
    for (int i = 1; i <= 3; i++) {
        expect_ok("lookup",
                  client_call(c, fanout_test_lookup(fanout_test_fmt("q%d.example.net.", i))));
        expect_ok("feed",
                  client_call(c, fanout_test_feed(fanout_test_fmt("r%d.example.org.", i), 77)));
    }
    expect_ok("commit", client_call(c, fanout_test_commit(77)));

    size_t who = 2;
    unsigned conn = 0;
    for (size_t u = 0; u < 2; u++) {
        struct fake_fanout *s = fanout_test_up(u);
        for (size_t i = 0; i < fake_fanout_nreqs(s); i++) {
            struct fake_fanout_req r;
            cr_assert(fake_fanout_req(s, i, &r));
            if (strcmp(r.method, "startTransaction") == 0) {
                cr_assert_eq(who, 2, "two startTransactions");
                who = u;
                conn = r.conn;
            }
        }
    }
    cr_assert_neq(who, 2, "no startTransaction reached a responder");
    struct fake_fanout *holder = fanout_test_up(who);
    size_t n = 0;
    for (size_t i = 0; i < fake_fanout_nreqs(holder); i++) {
        struct fake_fanout_req r;
        cr_assert(fake_fanout_req(holder, i, &r));
        if (!is_trx_method(r.method)) {
            cr_assert(r.conn != conn, "%s: a lookup used the transaction's connection",
                      kind_names[k]);
            continue;
        }
        cr_assert_eq(r.conn, conn,
                     "%s: %s (%s) reached %s on connection #%u, the start came on #%u",
                     kind_names[k], r.method, r.name, fake_fanout_name(holder), r.conn, conn);
        cr_assert_eq(r.trxid, 77);
        n++;
    }
    cr_assert_eq(n, 5, "%s: %zu calls of the transaction at %s, not 5", kind_names[k], n,
                 fake_fanout_name(holder));
    struct fake_fanout *other = fanout_test_up(1 - who);
    for (size_t i = 0; i < fake_fanout_nreqs(other); i++) {
        struct fake_fanout_req r;
        cr_assert(fake_fanout_req(other, i, &r));
        cr_assert_not(is_trx_method(r.method) || name_in(r.name, "example.org."),
                      "%s: %s got %s, a call of %s's transaction", kind_names[k],
                      fake_fanout_name(other), r.method, fake_fanout_name(holder));
    }
    finish();
}

Test(sessions, transaction_on_one_connection_pipe)
{
    transaction_on_one_connection(K_PIPE);
}

Test(sessions, transaction_on_one_connection_unix)
{
    transaction_on_one_connection(K_UNIX);
}

Test(sessions, transaction_on_one_connection_http)
{
    transaction_on_one_connection(K_HTTP);
}

Test(sessions, transaction_on_one_connection_zeromq)
{
    transaction_on_one_connection(K_ZMQ);
}

/* ---- ZeroMQ sessions ---- */

/*
 * Peer A's first call (a startTransaction) is held at the responder while peer B makes one call
 * and goes idle.  B's session expires; A's, older but never idle, does not (were calls in flight
 * ignored, A would expire first).  Once A's start is answered A idles, and its session expires
 * with the transaction, whose connection is closed.
 */
Test(sessions, zeromq_session_with_a_call_in_flight_does_not_expire)
{
    start(1, "");
    struct fake_fanout *alpha = fanout_test_up(0);
    fake_fanout_rule(alpha, "startTransaction", FAKE_FANOUT_HOLD, 1);
    struct client *a = client_open(K_ZMQ_SHORT, "peerA");
    client_send(a, fanout_test_start_trx("example.org.", 5));
    cr_assert(fake_fanout_wait_pending(alpha, 1, IO_MS), "the start did not reach alpha");
    struct client *b = client_open(K_ZMQ_SHORT, "peerB");
    expect_ok("B's lookup", client_call(b, fanout_test_lookup("www.example.net.")));
    wait_log("peer 7065657242 expired"); /* hex of "peerB" */
    cr_assert_not(rbgw_test_stderr_has(gw, "peer 7065657241 expired"),
                  "A's session expired with a call in flight; stderr:\n%s", errtail());
    fake_fanout_release(alpha);
    expect_ok("A's start", client_read(a));
    wait_log("peer 7065657241 expired");
    wait_log("transaction 5 dropped");
    struct fake_fanout_req st;
    cr_assert(fake_fanout_req(alpha, 0, &st));
    cr_assert_str_eq(st.method, "startTransaction");
    wait_conn_closed(alpha, st.conn, "A's session expired");
    finish();
}

/* An idle peer's session expires: its open transaction is dropped, its connection closed. */
Test(sessions, zeromq_idle_session_drops_its_transaction)
{
    start(1, "");
    struct fake_fanout *alpha = fanout_test_up(0);
    struct client *a = client_open(K_ZMQ_SHORT, "idler");
    expect_ok("start", client_call(a, fanout_test_start_trx("example.org.", 6)));
    expect_ok("feed", client_call(a, fanout_test_feed("r1.example.org.", 6)));
    struct fake_fanout_req st;
    cr_assert(fake_fanout_req(alpha, 0, &st));
    cr_assert_str_eq(st.method, "startTransaction");
    wait_conn_closed(alpha, st.conn, "the idle session's transaction");
    wait_log("transaction 6 dropped");
    /* The peer comes back: a new session, served as any other. */
    expect_ok("lookup", client_call(a, fanout_test_lookup("www.example.net.")));
    finish();
}

/*
 * A DEALER peer (not pdns: pdns's REQ sockets wait for each answer) pipelines calls of one
 * transaction.  The second and third meet the transaction's connection busy: they are answered
 * false, not sent elsewhere; every call gets exactly one answer and rbgw stays sound.
 */
Test(sessions, zeromq_dealer_pipelining_a_transaction)
{
    start(1, "");
    struct fake_fanout *alpha = fanout_test_up(0);
    struct client *d = client_open(K_DEALER, "dealer");
    expect_ok("start", client_call(d, fanout_test_start_trx("example.org.", 8)));
    fake_fanout_rule(alpha, "feedRecord", FAKE_FANOUT_HOLD, 1);
    client_send(d, fanout_test_feed("r1.example.org.", 8));
    cr_assert(fake_fanout_wait_pending(alpha, 1, IO_MS));
    client_send(d, fanout_test_feed("r2.example.org.", 8));
    client_send(d, fanout_test_commit(8));
    /* Both meet the busy connection and are answered at once. */
    rbgw_test_assert_false_reply(client_read(d), "busy");
    rbgw_test_assert_false_reply(client_read(d), "busy");
    fake_fanout_release(alpha);
    expect_ok("the first feed", client_read(d));
    /* The commit failed without reaching the responder: the transaction is over, and its
     * connection closed (the responder sees an abort). */
    cr_assert(fake_fanout_wait_closes(alpha, 1, IO_MS), "stderr:\n%s", errtail());
    cr_assert_eq(fake_fanout_count(alpha, "commitTransaction"), 0);
    expect_ok("a new transaction", client_call(d, fanout_test_start_trx("example.com.", 9)));
    expect_ok("its commit", client_call(d, fanout_test_commit(9)));
    finish();
}

/*
 * listener/zmq.c: pdns's zeromq connector talks to rbgw over a ZeroMQ ROUTER socket.
 *
 *   zmq_listener ──owns──> zmq context (1 I/O thread) ──> ROUTER socket, bound to endpoint=
 *                ├─owns──> uv_poll_t on ZMQ_FD (wake-ups), uv_idle_t (deferred drain),
 *                │         a deadline timer (session expiry, dtimer.h)
 *                ├─owns──> peers (hash by routing id) ──ref──> rbgw_session
 *                └─list──> zmq_call (in its request's arena) ──ref──> rbgw_request
 *                              └──borrows──> its peer (alive while the call is in flight)
 *
 * Every pdns backend instance has its own REQ socket connected to our endpoint.  A REP socket
 * would serve them one request at a time; a ROUTER serves them all concurrently: each request
 * arrives as [routing id, empty delimiter, JSON], becomes its own rbgw_request, and its reply
 * goes back as [routing id, empty, reply] whenever it completes, in any order.  The routing id
 * is the whole envelope; it lives in the peer, and each request's zmq_call points at its peer.
 *
 * Sessions (session.h): a peer is one pdns session, so that a transaction's calls from one
 * REQ socket stay together.  libzmq never says that a peer went away (a reconnecting REQ
 * socket even comes back with a new routing id), so a session expires instead: a peer with
 * nothing in flight for session-timeout ms (listener option, default 60000) is forgotten and
 * its session reported gone, which drops its open transactions.  A peer with a call in flight
 * never expires.  Peers with nothing in flight sit on an idle list in the order they became
 * idle, so one timer, armed for the oldest, is enough (pgbouncer's janitor, without the scan).
 *
 * libuv integration: ZMQ_FD is not the socket but a notification fd, and it is edge-triggered:
 * it signals "ZMQ_EVENTS may have changed", and only reading ZMQ_EVENTS (or recv/send) resets
 * it.  So after every wake-up we loop on ZMQ_EVENTS until ZMQ_POLLIN is gone, always with
 * ZMQ_DONTWAIT.  A zmq_send (from a reply hook) can consume an edge that announced new input,
 * so after each send ZMQ_EVENTS is checked again and, if input is pending, a drain is scheduled
 * on the idle handle: the reply hook runs inside upstream callbacks, where dispatching new
 * requests re-entrantly is best avoided.  One drain handles at most DRAIN_BUDGET messages and
 * reschedules itself, so a flood of requests cannot starve the other handles of the loop.
 *
 * Sending: ZMQ_ROUTER_MANDATORY is set so that a reply that cannot be routed is reported
 * rather than dropped silently: EHOSTUNREACH (the peer went away, e.g. pdns rebuilt its
 * connector after a timeout: nothing to do) and EAGAIN (the peer's queue is at its high-water
 * mark: the reply is dropped and logged, so memory stays bounded).  Replies are copied by
 * zmq_send, so the request can be released right after.
 *
 * Limits: a request longer than max-request-size gets a false reply.  ZMQ_MAXMSGSIZE is set to
 * twice that, so a peer sending far more is disconnected by libzmq before the message is held
 * in memory (pdns then times out and rebuilds its connector).  A message that is not exactly
 * three parts with an empty delimiter cannot be answered (a REQ peer would not accept it) and
 * is logged and dropped.
 *
 * Shutdown: stop() stops reading; replies of in-flight requests are still sent.  close()
 * orphans what is left, closes both handles and, once libuv no longer watches ZMQ_FD (the
 * last close callback), closes the socket, terminates the context and removes the ipc socket
 * file (libzmq 4.3 leaves it behind).  The socket runs with ZMQ_LINGER 0, but zmq_send only
 * queues a reply for the I/O thread, and the gateway closes listeners right after the last
 * reply was handed over: with linger 0 that reply would be thrown away.  So just before
 * zmq_close the linger becomes CLOSE_FLUSH_MS, a bound on how long zmq_ctx_term may wait for
 * queued replies to reach peers that stopped reading.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <zmq.h>

#include "rbgw/gateway.h"
#include "rbgw/list.h"
#include "rbgw/log.h"

#define DRAIN_BUDGET 64 /* messages per drain before yielding to the loop */
#define NPARTS 3        /* routing id, empty delimiter, payload */
#define IPC_PREFIX "ipc://"
#define CLOSE_FLUSH_MS 1000 /* linger at close: time to flush the last replies */

struct zmq_peer;

struct zmq_listener {
    struct rbgw_listener *l;     /* borrowed owner */
    void *ctx;                   /* owned zmq context, NULL once terminated */
    void *sock;                  /* owned ROUTER socket, NULL once closed */
    uv_poll_t poll;              /* watches ZMQ_FD; initialised when poll_inited */
    uv_idle_t idle;              /* runs a deferred drain; always initialised */
    struct rbgw_dtimer expiry;   /* expires idle peers' sessions (dtimer.h: the loop's sleep
                                    stays untimed while peers idle); always initialised */
    struct rbgw_list inflight;   /* zmq_calls awaiting their answer */
    struct zmq_peer **peers;     /* owned: hash table of peers by routing id, chained */
    size_t nbuckets;             /* buckets in peers (a power of two) */
    size_t npeers;               /* peers in the table */
    struct rbgw_list idle_peers; /* peers with nothing in flight, longest idle first */
    uint32_t session_timeout;    /* session-timeout= (ms) */
    char *endpoint;              /* owned: the endpoint as bound (for logs) */
    size_t max_request;          /* max-request-size */
    int pending_closes;          /* handles whose close callback has not run yet */
    unsigned poll_inited : 1;    /* poll handle initialised */
    unsigned bound : 1;          /* zmq_bind succeeded (an ipc file is ours to remove) */
    unsigned draining : 1;       /* inside drain(): it re-checks ZMQ_EVENTS itself */
    unsigned stopped : 1;        /* no more intake */
    unsigned closed : 1;         /* handles closing */
};

/* One REQ (or DEALER) peer: its routing id and its session. */
struct zmq_peer {
    struct zmq_peer *next;        /* next in its hash bucket */
    struct rbgw_list idle_link;   /* on zl->idle_peers while nothing is in flight */
    struct rbgw_session *session; /* our reference: the peer's session */
    uint64_t idle_since;          /* loop time (ms) its last call was answered */
    uint32_t hash;                /* hash of id */
    uint32_t inflight;            /* calls received and not yet answered */
    size_t idlen;                 /* bytes in id */
    unsigned char id[];           /* the routing id (first part of its messages) */
};

/* One request's envelope; lives in the request's arena, so it goes with the request. */
struct zmq_call {
    struct zmq_listener *zl;  /* borrowed owner */
    struct rbgw_request *req; /* our reference */
    struct zmq_peer *peer;    /* borrowed: never expires while this call is in flight */
    struct rbgw_list link;    /* on zl->inflight until answered or dropped at close */
};

static void drain(struct zmq_listener *zl);
static void on_idle(uv_idle_t *h);

/* ---- peers and their sessions ---- */

#define PEER_BUCKETS_MIN 16
#define PEER_ID_LOG_MAX 32 /* routing id bytes shown in logs */

static uint32_t
id_hash(const unsigned char *id, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h = (h ^ id[i]) * 16777619u;
    }
    return h;
}

/* The routing id in hex (at most PEER_ID_LOG_MAX bytes of it), for logs. */
static const char *
id_hex(const struct zmq_peer *p, char *buf, size_t size)
{
    static const char digits[] = "0123456789abcdef";
    size_t n = p->idlen < PEER_ID_LOG_MAX ? p->idlen : PEER_ID_LOG_MAX;
    size_t o = 0;
    for (size_t i = 0; i < n && o + 3 < size; i++) {
        buf[o++] = digits[p->id[i] >> 4];
        buf[o++] = digits[p->id[i] & 15];
    }
    buf[o] = '\0';
    return buf;
}

static void
peers_grow(struct zmq_listener *zl)
{
    size_t n = zl->nbuckets ? zl->nbuckets * 2 : PEER_BUCKETS_MIN;
    struct zmq_peer **t = rbgw_xcalloc(n, sizeof(*t));
    for (size_t b = 0; b < zl->nbuckets; b++) {
        struct zmq_peer *p = zl->peers[b];
        while (p) {
            struct zmq_peer *next = p->next;
            p->next = t[p->hash & (n - 1)];
            t[p->hash & (n - 1)] = p;
            p = next;
        }
    }
    free(zl->peers);
    zl->peers = t;
    zl->nbuckets = n;
}

/* The peer with this routing id; a new one (with a new session) if there is none. */
static struct zmq_peer *
peer_get(struct zmq_listener *zl, const unsigned char *id, size_t idlen)
{
    uint32_t h = id_hash(id, idlen);
    for (struct zmq_peer *p = zl->peers[h & (zl->nbuckets - 1)]; p; p = p->next) {
        if (p->hash == h && p->idlen == idlen && memcmp(p->id, id, idlen) == 0) {
            return p;
        }
    }
    if (zl->npeers >= zl->nbuckets) {
        peers_grow(zl);
    }
    struct zmq_peer *p = rbgw_xcalloc(1, sizeof(*p) + idlen);
    p->hash = h;
    p->idlen = idlen;
    memcpy(p->id, id, idlen);
    rbgw_list_init(&p->idle_link);
    p->session = rbgw_session_new(zl->l->gw, zl->l);
    p->next = zl->peers[h & (zl->nbuckets - 1)];
    zl->peers[h & (zl->nbuckets - 1)] = p;
    zl->npeers++;
    return p;
}

/* Take p out of the table and the idle list, report its session gone, free it. */
static void
peer_free(struct zmq_listener *zl, struct zmq_peer *p, const char *why)
{
    struct zmq_peer **pp = &zl->peers[p->hash & (zl->nbuckets - 1)];
    while (*pp != p) {
        pp = &(*pp)->next;
    }
    *pp = p->next;
    zl->npeers--;
    if (rbgw_list_linked(&p->idle_link)) {
        rbgw_list_remove(&p->idle_link);
    }
    rbgw_session_gone(p->session, why);
    free(p);
}

static void on_expiry(struct rbgw_dtimer *t);

/* Arm the expiry timer for the longest idle peer, unless it is armed already. */
static void
arm_expiry(struct zmq_listener *zl)
{
    if (zl->closed || rbgw_dtimer_active(&zl->expiry) || rbgw_list_empty(&zl->idle_peers)) {
        return;
    }
    struct zmq_peer *p = rbgw_list_entry(zl->idle_peers.next, struct zmq_peer, idle_link);
    uint64_t due = p->idle_since + zl->session_timeout;
    uint64_t now = uv_now(zl->l->gw->loop);
    rbgw_dtimer_start(&zl->l->gw->dtimers, &zl->expiry, on_expiry, due > now ? due - now : 0);
}

static void
on_expiry(struct rbgw_dtimer *t)
{
    struct zmq_listener *zl = t->data;
    uint64_t now = uv_now(zl->l->gw->loop);
    while (!rbgw_list_empty(&zl->idle_peers)) {
        struct zmq_peer *p = rbgw_list_entry(zl->idle_peers.next, struct zmq_peer, idle_link);
        if (p->idle_since + zl->session_timeout > now) {
            break;
        }
        if (rbgw_log_enabled(RBGW_LOG_DEBUG)) {
            char hex[2 * PEER_ID_LOG_MAX + 1];
            rbgw_log_debug("zeromq listener %s: peer %s expired after %u ms idle (session %llu)",
                           zl->endpoint, id_hex(p, hex, sizeof(hex)), zl->session_timeout,
                           (unsigned long long)p->session->id);
        }
        peer_free(zl, p, "its zeromq peer was idle for session-timeout");
    }
    arm_expiry(zl);
}

/* A call of p arrived: p is not idle any more. */
static void
peer_busy(struct zmq_peer *p)
{
    if (p->inflight++ == 0 && rbgw_list_linked(&p->idle_link)) {
        rbgw_list_remove(&p->idle_link);
    }
}

/* A call of p was answered: with nothing else in flight, p starts to idle. */
static void
peer_idle(struct zmq_listener *zl, struct zmq_peer *p)
{
    RBGW_ASSERT(p->inflight > 0);
    if (--p->inflight > 0) {
        return;
    }
    p->idle_since = uv_now(zl->l->gw->loop);
    rbgw_list_push_back(&zl->idle_peers, &p->idle_link);
    arm_expiry(zl);
}

/* ---- messages ---- */

/* ZMQ_EVENTS of the socket, or -1 (logged) if it cannot be read. */
static int
socket_events(struct zmq_listener *zl)
{
    int ev = 0;
    size_t len = sizeof(ev);
    if (zmq_getsockopt(zl->sock, ZMQ_EVENTS, &ev, &len) != 0) {
        rbgw_log_warn("zeromq listener %s: cannot read ZMQ_EVENTS: %s", zl->endpoint,
                      zmq_strerror(zmq_errno()));
        return -1;
    }
    return ev;
}

static void
schedule_drain(struct zmq_listener *zl)
{
    if (!zl->stopped && !uv_is_active((uv_handle_t *)&zl->idle)) {
        uv_idle_start(&zl->idle, on_idle);
    }
}

/* After a send: input announced by an edge the send consumed must not be left waiting. */
static void
kick(struct zmq_listener *zl)
{
    if (zl->draining || zl->stopped || zl->closed) {
        return;
    }
    int ev = socket_events(zl);
    if (ev > 0 && (ev & ZMQ_POLLIN)) {
        schedule_drain(zl);
    }
}

static void
send_reply(struct zmq_listener *zl, const struct zmq_call *zc, struct rbgw_str reply)
{
    if (zmq_send(zl->sock, zc->peer->id, zc->peer->idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        int e = zmq_errno();
        if (e == EHOSTUNREACH) {
            rbgw_rlog_debug(zc->req, "zeromq listener %s: the peer has gone, reply dropped",
                            zl->endpoint);
        } else if (e == EAGAIN) {
            rbgw_rlog_limited(RBGW_LOG_WARN, "replies dropped", zc->req, NULL,
                              "zeromq listener %s: the peer's queue is full (high-water mark), "
                              "reply dropped",
                              zl->endpoint);
        } else {
            rbgw_rlog_limited(RBGW_LOG_WARN, "replies dropped", zc->req, NULL,
                              "zeromq listener %s: cannot send the reply: %s", zl->endpoint,
                              zmq_strerror(e));
        }
        return;
    }
    /* The high-water mark is checked on the first part only: the rest cannot block. */
    if (zmq_send(zl->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(zl->sock, reply.p, reply.len, ZMQ_DONTWAIT) < 0) {
        rbgw_rlog_limited(RBGW_LOG_WARN, "replies dropped", zc->req, NULL,
                          "zeromq listener %s: cannot send the reply: %s", zl->endpoint,
                          zmq_strerror(zmq_errno()));
    }
}

static void
on_reply(struct rbgw_request *req, struct rbgw_str reply)
{
    struct zmq_call *zc = req->origin;
    struct zmq_listener *zl = zc->zl;
    RBGW_ASSERT(zc->req == req);
    rbgw_list_remove(&zc->link);
    send_reply(zl, zc, reply);
    peer_idle(zl, zc->peer); /* only arms the timer: the peer outlives this function */
    /* Safe even if this frees the request: an upstream answering holds its own reference,
     * and a local answer (inside rbgw_request_dispatch) touches nothing after calling us.
     * zc lives in the arena and is not used past this point. */
    rbgw_request_unref(req);
    kick(zl);
}

/* Turn one well-formed message into a request and dispatch it. */
static void
dispatch_message(struct zmq_listener *zl, zmq_msg_t *idm, zmq_msg_t *payload)
{
    const char *data = zmq_msg_data(payload);
    size_t len = zmq_msg_size(payload);
    if (len > 0 && data[len - 1] == '\0') {
        len--; /* pdns 4.x sends the JSON text with its terminating NUL (docs/protocol.md §4.3) */
    }
    bool oversized = len > zl->max_request;
    struct zmq_peer *peer = peer_get(zl, zmq_msg_data(idm), zmq_msg_size(idm));
    peer_busy(peer);
    struct rbgw_request *req =
        rbgw_request_new(peer->session, oversized ? "" : data, oversized ? 0 : len, NULL, on_reply);
    struct zmq_call *zc = rbgw_arena_alloc(&req->arena, sizeof(*zc));
    zc->zl = zl;
    zc->req = req;
    zc->peer = peer;
    rbgw_list_init(&zc->link);
    rbgw_list_push_back(&zl->inflight, &zc->link);
    req->origin = zc;
    if (oversized) {
        rbgw_request_fail(req, RBGW_EPARSE, NULL,
                          "request larger than max-request-size (%zu bytes)", zl->max_request);
        return;
    }
    rbgw_request_dispatch(req);
}

/*
 * Receive one whole message (all its parts) and handle it.  1 if a message was consumed
 * (answered, dispatched or dropped), 0 if none was there, -1 on a socket error (logged).
 */
static int
recv_message(struct zmq_listener *zl)
{
    zmq_msg_t parts[NPARTS], extra;
    for (int i = 0; i < NPARTS; i++) {
        zmq_msg_init(&parts[i]);
    }
    zmq_msg_init(&extra);
    size_t nparts = 0;
    int more = 1;
    int rc = 1;
    while (more) {
        zmq_msg_t *m = nparts < NPARTS ? &parts[nparts] : &extra;
        if (zmq_msg_recv(m, zl->sock, ZMQ_DONTWAIT) < 0) {
            int e = zmq_errno();
            if (nparts == 0 && e == EAGAIN) {
                rc = 0;
            } else {
                /* libzmq delivers multipart messages atomically: this is not a short read. */
                rbgw_log_warn("zeromq listener %s: receive failed after %zu part(s): %s",
                              zl->endpoint, nparts, zmq_strerror(e));
                rc = -1;
            }
            goto out;
        }
        nparts++;
        more = zmq_msg_more(m);
    }
    if (nparts != NPARTS || zmq_msg_size(&parts[1]) != 0) {
        rbgw_rlog_limited(RBGW_LOG_WARN, "malformed messages", NULL, NULL,
                          "zeromq listener %s: dropping a malformed message: %zu part(s)%s (a REQ "
                          "peer sends [routing id, empty delimiter, request])",
                          zl->endpoint, nparts,
                          nparts == NPARTS ? " with a non-empty delimiter" : "");
        goto out;
    }
    dispatch_message(zl, &parts[0], &parts[2]);
out:
    for (int i = 0; i < NPARTS; i++) {
        zmq_msg_close(&parts[i]);
    }
    zmq_msg_close(&extra);
    return rc;
}

/* Read every pending message (up to the budget), leaving ZMQ_FD re-armed. */
static void
drain(struct zmq_listener *zl)
{
    if (zl->draining || zl->stopped || zl->closed) {
        return;
    }
    zl->draining = 1;
    int budget = DRAIN_BUDGET;
    for (;;) {
        int ev = socket_events(zl);
        if (ev < 0 || !(ev & ZMQ_POLLIN)) {
            break;
        }
        if (budget-- == 0) {
            schedule_drain(zl);
            break;
        }
        /* Dispatching may answer at once (initialize, errors): sends are fine here, this
         * loop reads ZMQ_EVENTS again before going to sleep. */
        if (recv_message(zl) <= 0 || zl->stopped || zl->closed) {
            break;
        }
    }
    zl->draining = 0;
}

static void
on_idle(uv_idle_t *h)
{
    struct zmq_listener *zl = h->data;
    uv_idle_stop(h);
    drain(zl);
}

static void
on_poll(uv_poll_t *h, int status, int events)
{
    struct zmq_listener *zl = h->data;
    RBGW_UNUSED(events);
    if (status < 0) {
        rbgw_log_warn("zeromq listener %s: polling ZMQ_FD failed: %s", zl->endpoint,
                      uv_strerror(status));
    }
    drain(zl);
}

/* For ipc://PATH: refuse a path another live server answers on (libzmq would silently unlink
 * and steal it) or that is not a socket.  0 ok, RBGW_ECONFIG with err. */
static int
check_ipc_path(const char *endpoint, char *err, size_t errlen)
{
    if (strncmp(endpoint, IPC_PREFIX, strlen(IPC_PREFIX)) != 0) {
        return 0;
    }
    const char *path = endpoint + strlen(IPC_PREFIX);
    struct stat st;
    if (*path == '@' || strcmp(path, "*") == 0 || lstat(path, &st) != 0) {
        return 0; /* abstract namespace, wildcard, or nothing there */
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a socket; refusing to replace it", path);
        return RBGW_ECONFIG;
    }
    struct sockaddr_un sa;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        return 0; /* libzmq reports the length problem itself */
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return 0;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path));
    int live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN;
    close(fd);
    if (live) {
        snprintf(err, errlen, "%s is in use by a running server", path);
        return RBGW_ECONFIG;
    }
    return 0;
}

static int
listener_start(struct rbgw_listener *l, char *err, size_t errlen)
{
    const char *endpoint = rbgw_connstr_get(&l->conf->cs, "endpoint");
    if (endpoint == NULL || *endpoint == '\0') {
        snprintf(err, errlen, "endpoint= is required");
        return RBGW_ECONFIG;
    }
    int rc = check_ipc_path(endpoint, err, errlen);
    if (rc != 0) {
        return rc;
    }

    long session_timeout;
    rc = rbgw_listener_int_opt(l, "session-timeout", &session_timeout, err, errlen);
    if (rc != 0) {
        return rc;
    }

    struct zmq_listener *zl = rbgw_xcalloc(1, sizeof(*zl));
    zl->l = l;
    zl->endpoint = rbgw_xstrdup(endpoint);
    zl->max_request = l->gw->cfg->max_request_size;
    zl->session_timeout = (uint32_t)session_timeout;
    rbgw_list_init(&zl->inflight);
    rbgw_list_init(&zl->idle_peers);
    peers_grow(zl);
    l->impl = zl;
    /* From here on a failure is cleaned up by stop/close/destroy, like a running listener. */
    uv_idle_init(l->gw->loop, &zl->idle);
    zl->idle.data = zl;
    rbgw_dtimer_init(&zl->expiry, on_expiry, zl);

    zl->ctx = zmq_ctx_new();
    if (zl->ctx == NULL) {
        snprintf(err, errlen, "cannot create a zmq context: %s", zmq_strerror(zmq_errno()));
        return RBGW_ECONFIG;
    }
    zmq_ctx_set(zl->ctx, ZMQ_IO_THREADS, 1);
    zl->sock = zmq_socket(zl->ctx, ZMQ_ROUTER);
    if (zl->sock == NULL) {
        snprintf(err, errlen, "cannot create a zmq socket: %s", zmq_strerror(zmq_errno()));
        return RBGW_ECONFIG;
    }
    int linger = 0, mandatory = 1;
    int64_t maxmsg = (int64_t)zl->max_request * 2;
    if (zmq_setsockopt(zl->sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_setsockopt(zl->sock, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof(mandatory)) != 0 ||
        zmq_setsockopt(zl->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) != 0) {
        snprintf(err, errlen, "cannot set zmq socket options: %s", zmq_strerror(zmq_errno()));
        return RBGW_ECONFIG;
    }
    if (zmq_bind(zl->sock, endpoint) != 0) {
        snprintf(err, errlen, "cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        return RBGW_ECONFIG;
    }
    zl->bound = 1;
    char last[256];
    size_t llen = sizeof(last);
    if (zmq_getsockopt(zl->sock, ZMQ_LAST_ENDPOINT, last, &llen) == 0 && llen > 1) {
        free(zl->endpoint); /* a wildcard (port or ipc path "*") resolved */
        zl->endpoint = rbgw_xstrndup(last, strnlen(last, llen));
    }
    int fd;
    size_t fdlen = sizeof(fd);
    if (zmq_getsockopt(zl->sock, ZMQ_FD, &fd, &fdlen) != 0) {
        snprintf(err, errlen, "cannot get ZMQ_FD: %s", zmq_strerror(zmq_errno()));
        return RBGW_ECONFIG;
    }
    rc = uv_poll_init(l->gw->loop, &zl->poll, fd);
    if (rc < 0) {
        snprintf(err, errlen, "cannot watch ZMQ_FD: %s", uv_strerror(rc));
        return rc;
    }
    zl->poll_inited = 1;
    zl->poll.data = zl;
    rc = uv_poll_start(&zl->poll, UV_READABLE, on_poll);
    if (rc < 0) {
        snprintf(err, errlen, "cannot watch ZMQ_FD: %s", uv_strerror(rc));
        return rc;
    }
    rbgw_log_info("listening on zeromq:%s", zl->endpoint);
    return 0;
}

static void
listener_stop(struct rbgw_listener *l)
{
    struct zmq_listener *zl = l->impl;
    if (zl->stopped) {
        return;
    }
    zl->stopped = 1;
    if (zl->poll_inited) {
        uv_poll_stop(&zl->poll);
    }
    uv_idle_stop(&zl->idle);
    l->done = true;
}

static void
release_zmq(struct zmq_listener *zl)
{
    if (zl->sock) {
        int linger = CLOSE_FLUSH_MS;
        zmq_setsockopt(zl->sock, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_close(zl->sock);
        zl->sock = NULL;
    }
    if (zl->ctx) {
        zmq_ctx_term(zl->ctx);
        zl->ctx = NULL;
    }
    if (zl->bound && strncmp(zl->endpoint, IPC_PREFIX, strlen(IPC_PREFIX)) == 0 &&
        zl->endpoint[strlen(IPC_PREFIX)] != '@') {
        /* libzmq 4.3 leaves the socket file behind; the next start would find it stale. */
        unlink(zl->endpoint + strlen(IPC_PREFIX));
    }
    zl->bound = 0;
}

static void
on_handle_closed(uv_handle_t *h)
{
    struct zmq_listener *zl = h->data;
    if (--zl->pending_closes == 0) {
        /* libuv no longer watches ZMQ_FD: the socket that owns it may go now. */
        release_zmq(zl);
        rbgw_gateway_listener_closed(zl->l);
    }
}

static void
listener_close(struct rbgw_listener *l)
{
    struct zmq_listener *zl = l->impl;
    if (zl->closed) {
        return;
    }
    listener_stop(l);
    zl->closed = 1;
    /* Every session is gone first, so that no answer reaches on_reply from now on.  The
     * gateway closes listeners when nothing is in flight; anything left is dropped. */
    for (size_t b = 0; b < zl->nbuckets; b++) {
        while (zl->peers[b]) {
            peer_free(zl, zl->peers[b], "its listener closed");
        }
    }
    while (!rbgw_list_empty(&zl->inflight)) {
        struct zmq_call *zc = rbgw_list_entry(zl->inflight.next, struct zmq_call, link);
        struct rbgw_request *req = zc->req;
        rbgw_list_remove(&zc->link);
        rbgw_request_unref(req);
    }
    rbgw_dtimer_stop(&zl->l->gw->dtimers, &zl->expiry);
    zl->pending_closes = 1;
    uv_close((uv_handle_t *)&zl->idle, on_handle_closed);
    if (zl->poll_inited) {
        zl->pending_closes++;
        uv_close((uv_handle_t *)&zl->poll, on_handle_closed);
    }
}

static void
listener_destroy(struct rbgw_listener *l)
{
    struct zmq_listener *zl = l->impl;
    release_zmq(zl); /* normally done by the last close callback already */
    free(zl->peers);
    free(zl->endpoint);
    free(zl);
    l->impl = NULL;
}

const struct rbgw_listener_ops rbgw_zmq_listener_ops = {
    .name = "zeromq",
    .start = listener_start,
    .stop = listener_stop,
    .close = listener_close,
    .destroy = listener_destroy,
};

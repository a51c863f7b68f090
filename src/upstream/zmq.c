/*
 * upstream/zmq.c: responders behind pdns's zeromq connector (docs/protocol.md §4.3), as a transport
 * of the generic pool (connpool.h).
 *
 *   zmq_upstream { pool, zmq context (1 I/O thread), initialize text }
 *        └──pool──> zmq_conn { upconn, REQ socket (ZMQ_LINGER 0), uv_poll_t on its ZMQ_FD }
 *
 * Each pool conn is one ZMQ_REQ socket connected to endpoint= (the responder binds, as it does
 * for pdns), so concurrency is max-conns sockets with one call in flight on each, which is what
 * the pool guarantees and what a REQ socket allows.  Every new socket first sends `initialize`
 * with the upstream's own connection-string options (all values strings, keys sorted: the
 * json11 text jsonstream.c sends), and only a `true` answer makes it ready: pdns's zeromq
 * connector throws on a false initialize, so a false answer is an open failure here (the pool
 * backs off before the next attempt).  Calls go out as the bytes the listener received, one
 * single-part message without pdns 4.x's trailing NUL (the 5.x form); the reply must be exactly
 * one part and is vetted like any other reply (rbgw_rpc_check_reply), then passed on flattened.
 *
 * libuv integration: ZMQ_FD is a notification fd, not the socket, and it is edge-triggered: it
 * says "ZMQ_EVENTS may have changed", and only reading ZMQ_EVENTS (or sending/receiving) resets
 * it.  So after every wake-up, and after every zmq_send / zmq_msg_recv made outside that loop,
 * process() reads ZMQ_EVENTS again and acts until neither an awaited POLLOUT nor a POLLIN is
 * left.  Everything uses ZMQ_DONTWAIT; a send that gets EAGAIN (no peer pipe or high-water
 * mark) is kept and retried on POLLOUT, bounded by the pool's timer.  libzmq queues messages
 * for a connect()ed endpoint before the peer exists (as pdns, ZMQ_IMMEDIATE stays off), so a
 * responder that is not running shows up as an open that misses connect-timeout / timeout.
 *
 * Recovery: a REQ socket that missed its reply is stuck (it cannot send again), so the pool's
 * rule "a conn whose call timed out is closed" is exactly what is needed; the next call opens a
 * new socket and sends a new initialize (pdns rebuilds its connector the same way).  Like pdns,
 * an idle socket whose responder restarted is reconnected by libzmq without a new initialize.
 *
 * Closing: uv_poll_stop removes ZMQ_FD from the loop's poller at once, so the socket is closed
 * right after (ZMQ_LINGER 0 drops whatever is queued); the conn is handed back to the pool in
 * the poll handle's close callback.  As every socket is closed by the time the loop has closed
 * every handle, zmq_ctx_term in destroy() does not block.
 *
 * Reply size: ZMQ_MAXMSGSIZE is twice max-reply-size, so a reply far too large is cut off by
 * libzmq before it is held in memory (the call then times out); a moderately oversized one is
 * received and refused with a clear reason.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "rbgw/log.h"
#include "rbgw/outcome.h"
#include "rbgw/connpool.h"

struct zmq_upstream {
    struct rbgw_connpool cp;   /* socket pool */
    void *ctx;                 /* owned zmq context, NULL once terminated */
    char *endpoint;            /* owned: endpoint= */
    char *target;              /* owned: "zeromq:<endpoint>", for messages */
    struct rbgw_buf init_call; /* the initialize request, built once */
    size_t max_reply;          /* max-reply-size */
};

struct zmq_conn {
    struct rbgw_upconn base;   /* must stay first */
    void *sock;                /* owned REQ socket, NULL once closed */
    uv_poll_t poll;            /* watches the socket's ZMQ_FD; valid when poll_inited */
    const char *out;           /* borrowed: message waiting to be sent (init_call or req->raw) */
    size_t outlen;             /* bytes in out */
    struct rbgw_buf out_line;  /* the one-line reply handed to the request */
    struct rbgw_arena scratch; /* for vetting the initialize reply */
    unsigned poll_inited : 1;  /* poll handle initialised (close must close it) */
    unsigned sending : 1;      /* out is not sent yet (EAGAIN): retried on POLLOUT */
    unsigned awaiting : 1;     /* sent; the reply is due */
    unsigned initializing : 1; /* the message in flight is initialize */
    unsigned processing : 1;   /* inside process(): it re-reads ZMQ_EVENTS itself */
    unsigned closing : 1;      /* ops->close called */
};

static struct zmq_upstream *
upstream_of(struct zmq_conn *c)
{
    return c->base.cp->transport;
}

/* ---- closing ---- */

static void
release_conn(struct zmq_conn *c)
{
    rbgw_buf_free(&c->out_line);
    rbgw_arena_free(&c->scratch);
    rbgw_upconn_free(&c->base);
}

static void
on_poll_closed(uv_handle_t *h)
{
    release_conn(h->data);
}

static void
zmq_conn_close(struct rbgw_upconn *uc)
{
    struct zmq_conn *c = (struct zmq_conn *)uc;
    if (c->closing) {
        return;
    }
    c->closing = 1;
    if (c->poll_inited) {
        /* Stopping takes ZMQ_FD out of the poller now, so the socket may go before the close
         * callback runs. */
        uv_poll_stop(&c->poll);
        uv_close((uv_handle_t *)&c->poll, on_poll_closed);
    }
    if (c->sock) {
        zmq_close(c->sock);
        c->sock = NULL;
    }
    if (!c->poll_inited) {
        /* The pool's timer is still closing, so this cannot free c under the pool's feet. */
        release_conn(c);
    }
}

/* ---- failures ---- */

/*
 * The socket itself failed (not the responder's answer): settle the conn.  e is the errno
 * value: rbgw's own shortage is local; otherwise the open failed, or the conn is lost.
 */
static void
socket_failed(struct zmq_conn *c, const char *what, int e, const char *why)
{
    if (c->base.state == RBGW_UPCONN_IDLE) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s: %s", what, why);
        rbgw_upconn_lost(&c->base, msg);
    } else if (c->initializing) {
        rbgw_upconn_error(&c->base, rbgw_outcome_from_errno(e, RBGW_ECONNECT), 0, NULL,
                          "%s during initialize: %s", what, why);
    } else {
        rbgw_upconn_error(&c->base, rbgw_outcome_from_errno(e, RBGW_ECLOSED), 0, NULL, "%s: %s",
                          what, why);
    }
}

/* ---- replies ---- */

static void
handle_reply(struct zmq_conn *c, const char *data, size_t len)
{
    char err[256];
    if (c->initializing) {
        c->initializing = 0;
        rbgw_arena_free(&c->scratch);
        rbgw_buf_reset(&c->out_line);
        bool init_false;
        struct rbgw_str ilog;
        if (rbgw_rpc_check_reply(&c->scratch, rbgw_str_make(data, len), &c->out_line, &init_false,
                                 &ilog, err, sizeof(err)) != 0) {
            rbgw_upconn_error(&c->base, RBGW_ECONNECT, 0, NULL, "bad initialize reply: %s", err);
            return;
        }
        rbgw_log_responder(NULL, c->base.cp->u, ilog);
        if (init_false) {
            /* pdns's zeromq connector throws "Failed to initialize zeromq" here. */
            rbgw_upconn_error(&c->base, RBGW_ECONNECT, 0, NULL, "initialize answered false");
            return;
        }
        rbgw_upconn_ready(&c->base);
        return;
    }
    if (c->base.state != RBGW_UPCONN_BUSY || c->base.call == NULL) {
        rbgw_upconn_lost(&c->base, "the responder sent a reply nobody asked for");
        return;
    }
    struct rbgw_request *req = c->base.call->req;
    struct rbgw_str log_text;
    rbgw_buf_reset(&c->out_line);
    bool said_false;
    struct rbgw_gateway *gw = upstream_of(c)->cp.u->gw;
    enum rbgw_json_over over;
    int rc =
        rbgw_rpc_check_reply_limited(&req->arena, rbgw_str_make(data, len), &gw->cfg->json_limits,
                                     &over, &c->out_line, &said_false, &log_text, err, sizeof(err));
    if (rc == RBGW_ETOOBIG) {
        /* A whole message past max-json-*: the socket is in step for the next call. */
        gw->limit_hits[rbgw_limit_of_json(over)]++;
        rbgw_upconn_error(&c->base, RBGW_ETOOBIG, RBGW_UPCONN_KEEP, NULL, "%s", err);
        return;
    }
    if (rc != 0) {
        rbgw_upconn_error(&c->base, RBGW_EPROTO, 0, NULL, "%s", err);
        return;
    }
    rbgw_upconn_reply(&c->base, rbgw_buf_str(&c->out_line), log_text,
                      RBGW_UPCONN_KEEP | (said_false ? RBGW_UPCONN_FALSE : 0));
}

/*
 * Receive one whole message (libzmq delivers all parts at once) and settle the conn with it.
 * 0 if nothing was there, 1 if a message was handled (the conn may be closing now).
 */
static int
recv_reply(struct zmq_conn *c)
{
    struct zmq_upstream *up = upstream_of(c);
    zmq_msg_t first, extra;
    zmq_msg_init(&first);
    zmq_msg_init(&extra);
    size_t nparts = 0;
    int more = 1;
    int rc = 1;
    while (more) {
        zmq_msg_t *m = nparts == 0 ? &first : &extra;
        if (zmq_msg_recv(m, c->sock, ZMQ_DONTWAIT) < 0) {
            int e = zmq_errno();
            if (nparts == 0 && e == EAGAIN) {
                rc = 0;
            } else {
                socket_failed(c, "receiving the reply failed", e, zmq_strerror(e));
            }
            goto out;
        }
        nparts++;
        more = zmq_msg_more(m);
    }
    c->awaiting = 0;
    c->base.got_bytes = 1;
    if (nparts != 1) {
        /* pdns reads one part only; the rest would break its REQ socket's state machine. */
        rbgw_upconn_error(&c->base, RBGW_EPROTO, 0, NULL,
                          "reply has %zu message parts, expected exactly one", nparts);
        goto out;
    }
    if (zmq_msg_size(&first) > up->max_reply) {
        rbgw_upconn_error(&c->base, RBGW_ETOOBIG, 0, NULL,
                          "reply larger than max-reply-size=%zu bytes", up->max_reply);
        goto out;
    }
    handle_reply(c, zmq_msg_data(&first), zmq_msg_size(&first));
out:
    zmq_msg_close(&first);
    zmq_msg_close(&extra);
    return rc;
}

/* ---- the event loop side ---- */

/* Try to hand c->out to libzmq: 0 (sent, or EAGAIN: still sending) or a zmq errno. */
static int
try_send(struct zmq_conn *c)
{
    if (zmq_send(c->sock, c->out, c->outlen, ZMQ_DONTWAIT) >= 0) {
        c->sending = 0;
        c->awaiting = 1;
        return 0;
    }
    int e = zmq_errno();
    return e == EAGAIN ? 0 : e;
}

static void
send_failed(struct zmq_conn *c, int e)
{
    if (c->initializing) {
        rbgw_upconn_error(&c->base, rbgw_outcome_from_errno(e, RBGW_ECONNECT), 0, NULL,
                          "sending initialize failed: %s", zmq_strerror(e));
    } else {
        /* Nothing left this process: the call may go again on a fresh socket. */
        rbgw_upconn_error(&c->base, rbgw_outcome_from_errno(e, RBGW_ECLOSED),
                          RBGW_UPCONN_RETRY | RBGW_UPCONN_UNSENT, NULL,
                          "sending the call failed: %s", zmq_strerror(e));
    }
}

/*
 * Act on ZMQ_EVENTS until neither an awaited POLLOUT nor a POLLIN is left, which also re-arms
 * the edge-triggered ZMQ_FD.  Outcomes may re-enter (the pool sends the next call on this conn,
 * or closes it); sends made meanwhile are covered by this loop's next ZMQ_EVENTS read.
 */
static void
process(struct zmq_conn *c)
{
    if (c->processing || c->closing) {
        return;
    }
    c->processing = 1;
    while (!c->closing) {
        int ev = 0;
        size_t evlen = sizeof(ev);
        if (zmq_getsockopt(c->sock, ZMQ_EVENTS, &ev, &evlen) != 0) {
            int e = zmq_errno();
            socket_failed(c, "cannot read ZMQ_EVENTS", e, zmq_strerror(e));
            break;
        }
        if (c->sending && (ev & ZMQ_POLLOUT)) {
            int e = try_send(c);
            if (e != 0) {
                send_failed(c, e);
                break;
            }
            if (!c->sending) {
                continue; /* sent: the send may have consumed an edge, read ZMQ_EVENTS again */
            }
        }
        if (!(ev & ZMQ_POLLIN) || recv_reply(c) == 0) {
            break;
        }
    }
    c->processing = 0;
}

static void
on_poll(uv_poll_t *h, int status, int events)
{
    struct zmq_conn *c = h->data;
    RBGW_UNUSED(events);
    if (c->closing) {
        return;
    }
    if (status < 0) {
        /* libuv has stopped watching ZMQ_FD: the conn would be deaf from now on. */
        socket_failed(c, "polling ZMQ_FD failed", -status, uv_strerror(status));
        return;
    }
    process(c);
}

/* Queue msg for sending and push it as far as libzmq takes it now. */
static void
start_send(struct zmq_conn *c, const char *msg, size_t len)
{
    c->out = msg;
    c->outlen = len;
    c->sending = 1;
    int e = try_send(c);
    if (e != 0) {
        send_failed(c, e);
        return;
    }
    process(c);
}

/* ---- pool transport ---- */

static void
zmq_conn_send(struct rbgw_upconn *uc)
{
    struct zmq_conn *c = (struct zmq_conn *)uc;
    struct rbgw_request *req = uc->call->req;
    RBGW_ASSERT(!c->sending && !c->awaiting);
    /* zmq_send copies, so req->raw need only live through the call itself. */
    start_send(c, req->raw.p, req->raw.len);
}

static void
zmq_conn_open(struct rbgw_upconn *uc)
{
    struct zmq_conn *c = (struct zmq_conn *)uc;
    struct zmq_upstream *up = upstream_of(c);
    rbgw_buf_init(&c->out_line);
    rbgw_arena_init(&c->scratch);
    const char *what;
    int linger = 0, fd, e;
    int64_t maxmsg = (int64_t)up->max_reply * 2;
    size_t fdlen = sizeof(fd);

    what = "cannot create a zmq socket";
    if ((c->sock = zmq_socket(up->ctx, ZMQ_REQ)) == NULL) {
        goto fail;
    }
    what = "cannot set zmq socket options";
    if (zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) != 0) {
        goto fail;
    }
    what = "cannot connect";
    if (zmq_connect(c->sock, up->endpoint) != 0) {
        goto fail;
    }
    what = "cannot get ZMQ_FD";
    if (zmq_getsockopt(c->sock, ZMQ_FD, &fd, &fdlen) != 0) {
        goto fail;
    }
    int rc = uv_poll_init(up->cp.u->gw->loop, &c->poll, fd);
    if (rc == 0) {
        c->poll_inited = 1;
        c->poll.data = c;
        rc = uv_poll_start(&c->poll, UV_READABLE, on_poll);
    }
    if (rc < 0) {
        rbgw_upconn_error(uc, rbgw_outcome_from_uv(rc, RBGW_ECONNECT), 0, NULL,
                          "cannot watch ZMQ_FD: %s", uv_strerror(rc));
        return;
    }
    c->initializing = 1;
    start_send(c, up->init_call.data, up->init_call.len);
    return;
fail:
    /* zmq_socket fails with EMFILE when rbgw is out of descriptors: not the responder's fault. */
    e = zmq_errno();
    rbgw_upconn_error(uc, rbgw_outcome_from_errno(e, RBGW_ECONNECT), 0, NULL, "%s: %s", what,
                      zmq_strerror(e));
}

static const struct rbgw_upconn_ops zmq_conn_ops = {
    .conn_size = sizeof(struct zmq_conn),
    .open = zmq_conn_open,
    .send = zmq_conn_send,
    .close = zmq_conn_close,
};

/* ---- upstream ops ---- */

static void
free_upstream(struct zmq_upstream *up)
{
    if (up->ctx) {
        /* Every socket is closed by now (closed in ops->close), so this returns promptly. */
        while (zmq_ctx_term(up->ctx) != 0 && zmq_errno() == EINTR) {
        }
        up->ctx = NULL;
    }
    free(up->endpoint);
    free(up->target);
    rbgw_buf_free(&up->init_call);
    free(up);
}

/*
 * The endpoint forms a REQ socket can connect to: tcp://HOST:PORT and ipc://PATH.  Checked here
 * so that a typo is a configuration error, not a failure of every call (zmq_connect only runs
 * when the first socket opens).
 */
static bool
endpoint_ok(const char *ep)
{
    if (strncmp(ep, "ipc://", 6) == 0) {
        return ep[6] != '\0';
    }
    if (strncmp(ep, "tcp://", 6) != 0) {
        return false;
    }
    const char *colon = strrchr(ep + 6, ':');
    if (colon == NULL || colon == ep + 6 || colon[1] == '\0') {
        return false;
    }
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
    }
    return true;
}

static int
zmq_create(struct rbgw_upstream *u, char *err, size_t errlen)
{
    const struct rbgw_connstr *cs = &u->conf->cs;
    const char *endpoint = rbgw_connstr_get(cs, "endpoint");
    if (endpoint == NULL || *endpoint == '\0') {
        snprintf(err, errlen, "endpoint= is required");
        return RBGW_ECONFIG;
    }
    if (!endpoint_ok(endpoint)) {
        snprintf(err, errlen, "endpoint=%s: expected tcp://HOST:PORT or ipc://PATH", endpoint);
        return RBGW_ECONFIG;
    }
    struct zmq_upstream *up = rbgw_xcalloc(1, sizeof(*up));
    up->endpoint = rbgw_xstrdup(endpoint);
    up->max_reply = u->gw->cfg->max_reply_size;
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "zeromq:%s", endpoint);
    up->target = rbgw_xstrdup(tmp);

    rbgw_rpc_initialize_call(&up->init_call, cs);

    up->ctx = zmq_ctx_new();
    if (up->ctx == NULL) {
        snprintf(err, errlen, "cannot create a zmq context: %s", zmq_strerror(zmq_errno()));
        free_upstream(up);
        return RBGW_ECONFIG;
    }
    zmq_ctx_set(up->ctx, ZMQ_IO_THREADS, 1);
    int rc = rbgw_connpool_init(&up->cp, u, &zmq_conn_ops, up, up->target, err, errlen);
    if (rc != 0) {
        free_upstream(up);
        return rc;
    }
    u->impl = up;
    return 0;
}

static void
zmq_destroy(struct rbgw_upstream *u)
{
    if (u->impl) {
        free_upstream(u->impl);
        u->impl = NULL;
    }
}

const struct rbgw_upstream_ops rbgw_zmq_upstream_ops = {
    .name = "zeromq",
    .create = zmq_create,
    .destroy = zmq_destroy,
};

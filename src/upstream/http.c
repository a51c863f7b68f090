/*
 * upstream/http.c: the HTTP responder client: translation, keep-alive pool, timeouts.
 *
 * Objects and lists (pgbouncer style: each state is one list, conn_set_state() moves them):
 *
 *   http_upstream ─┬─ idle     : conns with no call, reading (to notice a server close), LIFO
 *                  ├─ busy     : conns carrying one call (connecting, writing or reading)
 *                  └─ waiters  : calls queued because max-conns conns are busy, FIFO
 *
 *   http_call (in the request's arena) ──ref──> rbgw_request
 *   http_conn ──borrows──> http_call (at most one, pdns never pipelines)
 *
 * One timer per conn, re-armed per phase (h2o http1client): connect timeout while connecting,
 * the call's deadline while busy, idle-timeout while idle.  Waiters share one upstream timer
 * armed for the head: every call of an upstream has the same timeout, so the FIFO is also
 * deadline order.
 *
 * Failure rules (STYLE §4.7): a conn whose call timed out, failed or got a malformed response
 * is closed, never reused.  A call that finds its pooled conn closed by the server before any
 * reply byte arrived (write error, EOF, reset) is retried once on a fresh connection: the
 * server closed an idle keep-alive connection, which is normal, and the call never reached it.
 *
 * Every call ends in exactly one rbgw_request_reply/fail through call_finish().
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>

#include <llhttp.h>

#include "rbgw/gateway.h"
#include "rbgw/list.h"
#include "rbgw/log.h"
#include "rbgw/url.h"
#include "rbgw/xlate.h"

enum conn_state {
    CONN_RESOLVING,  /* on busy: waiting for getaddrinfo */
    CONN_CONNECTING, /* on busy: uv_tcp_connect in progress */
    CONN_BUSY,       /* on busy: request written or being written, reading the response */
    CONN_IDLE,       /* on idle */
    CONN_CLOSING,    /* on no list: handles closing */
};

struct http_upstream;

struct http_call {
    struct rbgw_request *req; /* our reference */
    struct rbgw_list link;    /* on up->waiters while queued */
    uint64_t deadline;        /* loop time (ms) by which the call must be answered */
    int attempts;             /* connections tried for this call */
};

struct http_conn {
    uv_tcp_t tcp;             /* the socket */
    uv_timer_t timer;         /* phase timer */
    uv_connect_t creq;        /* connect request */
    uv_write_t wreq;          /* request write */
    uv_getaddrinfo_t gai;     /* name resolution (hostnames only) */
    struct addrinfo *ai_list; /* owned: resolved addresses */
    struct addrinfo *ai_next; /* next address to try */
    struct http_upstream *up; /* borrowed owner */
    struct rbgw_list link;    /* on up->idle or up->busy */
    enum conn_state state;    /* see enum */
    struct http_call *call;   /* borrowed: current call, or NULL */
    llhttp_t parser;          /* response parser, re-initialised per call */
    struct rbgw_buf wbuf;     /* encoded request bytes (kept until the write completes) */
    struct rbgw_buf body;     /* response body */
    struct rbgw_buf out;      /* scratch: the one-line reply handed to the request */
    int pending_close;        /* handles not yet closed */
    unsigned reused : 1;      /* came from the idle list (a server close is then expected) */
    unsigned got_bytes : 1;   /* any response byte received for the current call */
    unsigned complete : 1;    /* response complete */
    unsigned too_big : 1;     /* body exceeded max-reply-size */
    unsigned tcp_open : 1;    /* tcp handle initialised */
    unsigned tcp_closing : 1; /* a failed socket is closing before the next address */
};

struct http_upstream {
    struct rbgw_upstream *u;        /* borrowed owner */
    struct rbgw_url url;            /* owned: parsed url= */
    struct rbgw_http_target target; /* translation settings (views into url / conf) */
    struct sockaddr_storage addr;   /* literal address, when url host is an IP */
    bool literal;                   /* addr is valid; no resolution needed */
    char port_str[8];               /* for getaddrinfo */
    uint32_t max_conns;             /* max-conns= */
    uint32_t idle_timeout_ms;       /* idle-timeout= (0: never close idle conns) */
    size_t max_reply;               /* max-reply-size */
    struct rbgw_list idle;          /* idle conns, most recently used first */
    struct rbgw_list busy;          /* conns in use */
    struct rbgw_list waiters;       /* queued calls */
    uint32_t nconns;                /* conns on idle + busy */
    uv_timer_t wait_timer;          /* deadline of the head waiter */
    bool stopping;                  /* stop() called */
};

static void conn_send(struct http_conn *c, struct http_call *call);
static void conn_close(struct http_conn *c);
static int conn_open(struct http_upstream *up, struct http_call *call);
static void pool_dispatch(struct http_upstream *up);

/* ---- calls ---- */

static void
call_finish_reply(struct http_call *call, struct rbgw_str reply)
{
    struct rbgw_request *req = call->req;
    call->req = NULL;
    rbgw_request_reply(req, reply);
    rbgw_request_unref(req);
}

static void call_fail(struct http_call *call, const struct rbgw_json *extra, const char *fmt, ...)
    RBGW_PRINTF(3, 4);

static void
call_fail(struct http_call *call, const struct rbgw_json *extra, const char *fmt, ...)
{
    struct rbgw_request *req = call->req;
    call->req = NULL;
    char reason[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    rbgw_request_fail(req, extra, "%s", reason);
    rbgw_request_unref(req);
}

/* ---- waiter queue ---- */

static void
on_wait_timer(uv_timer_t *t)
{
    struct http_upstream *up = t->data;
    uint64_t now = uv_now(up->u->gw->loop);
    while (!rbgw_list_empty(&up->waiters)) {
        struct http_call *call = rbgw_list_entry(up->waiters.next, struct http_call, link);
        if (call->deadline > now) {
            uv_timer_start(&up->wait_timer, on_wait_timer, call->deadline - now, 0);
            return;
        }
        rbgw_list_remove(&call->link);
        call_fail(call, NULL, "no connection to %s became free within %u ms (max-conns=%u)",
                  up->url.hostport, up->u->timeout_ms, up->max_conns);
    }
}

static void
waiters_rearm(struct http_upstream *up)
{
    if (rbgw_list_empty(&up->waiters)) {
        uv_timer_stop(&up->wait_timer);
        return;
    }
    struct http_call *call = rbgw_list_entry(up->waiters.next, struct http_call, link);
    uint64_t now = uv_now(up->u->gw->loop);
    uv_timer_start(&up->wait_timer, on_wait_timer, call->deadline > now ? call->deadline - now : 0,
                   0);
}

/* ---- connection state ---- */

static void
conn_set_state(struct http_conn *c, enum conn_state st)
{
    struct http_upstream *up = c->up;
    if (rbgw_list_linked(&c->link)) {
        rbgw_list_remove(&c->link);
    }
    c->state = st;
    switch (st) {
    case CONN_IDLE:
        rbgw_list_push_front(&up->idle, &c->link); /* LIFO: hot conns first */
        break;
    case CONN_CLOSING:
        break;
    default:
        rbgw_list_push_back(&up->busy, &c->link);
        break;
    }
}

static void
on_conn_handle_closed(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    if (--c->pending_close > 0) {
        return;
    }
    if (c->ai_list) {
        uv_freeaddrinfo(c->ai_list);
    }
    rbgw_buf_free(&c->wbuf);
    rbgw_buf_free(&c->body);
    rbgw_buf_free(&c->out);
    free(c);
}

/* Close a conn (its call, if any, must already be finished or moved). */
static void
conn_close(struct http_conn *c)
{
    if (c->state == CONN_CLOSING) {
        return;
    }
    RBGW_ASSERT(c->call == NULL);
    struct http_upstream *up = c->up;
    conn_set_state(c, CONN_CLOSING);
    up->nconns--;
    c->pending_close = 1;
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
    if (c->tcp_open) {
        c->pending_close++;
        uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    } else if (c->tcp_closing) {
        c->pending_close++; /* on_tcp_closed_retry will count it down */
    }
}

/* Detach the current call from c and close c.  Returns the call. */
static struct http_call *
conn_detach_close(struct http_conn *c)
{
    struct http_call *call = c->call;
    c->call = NULL;
    conn_close(c);
    return call;
}

static void
on_idle_timeout(uv_timer_t *t)
{
    struct http_conn *c = t->data;
    rbgw_log_debug("u=%s: closing connection idle for %u ms", c->up->u->name,
                   c->up->idle_timeout_ms);
    conn_close(c);
}

/* The conn finished its call cleanly: reuse it for a waiter, park it, or close it. */
static void
conn_release(struct http_conn *c, bool keepalive)
{
    struct http_upstream *up = c->up;
    c->call = NULL;
    if (!keepalive || up->stopping) {
        conn_close(c);
        pool_dispatch(up);
        return;
    }
    if (!rbgw_list_empty(&up->waiters)) {
        struct http_call *next = rbgw_list_entry(up->waiters.next, struct http_call, link);
        rbgw_list_remove(&next->link);
        waiters_rearm(up);
        c->reused = 1;
        conn_send(c, next);
        return;
    }
    conn_set_state(c, CONN_IDLE);
    c->reused = 1;
    uv_timer_stop(&c->timer);
    if (up->idle_timeout_ms > 0) {
        uv_timer_start(&c->timer, on_idle_timeout, up->idle_timeout_ms, 0);
    }
}

/* A call whose conn broke before any reply byte may go once more on a fresh conn. */
static void
conn_fail_call(struct http_conn *c, bool retryable, const char *what)
{
    struct http_upstream *up = c->up;
    bool reused = c->reused;
    struct http_call *call = conn_detach_close(c);
    if (call == NULL) {
        return;
    }
    uint64_t now = uv_now(up->u->gw->loop);
    if (retryable && reused && call->attempts < 2 && !up->stopping && call->deadline > now) {
        rbgw_log_debug("req=%llu u=%s: pooled connection was closed by the server (%s); retrying "
                       "on a new connection",
                       (unsigned long long)call->req->id, up->u->name, what);
        if (conn_open(up, call) == 0) {
            return;
        }
    }
    call_fail(call, NULL, "upstream %s: %s", up->url.hostport, what);
    pool_dispatch(up);
}

/* ---- response parsing ---- */

static int
on_body(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    if (c->body.len + len > c->up->max_reply) {
        c->too_big = 1;
        return HPE_USER;
    }
    rbgw_buf_append(&c->body, at, len);
    return 0;
}

static int
on_message_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    c->complete = 1;
    return HPE_PAUSED;
}

static const llhttp_settings_t parser_settings = {
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void
conn_complete(struct http_conn *c, bool clean_end)
{
    struct http_upstream *up = c->up;
    struct http_call *call = c->call;
    int status = c->parser.status_code;
    bool keepalive = clean_end && llhttp_should_keep_alive(&c->parser);
    uv_timer_stop(&c->timer);

    const struct rbgw_json *log = NULL;
    char err[300];
    rbgw_buf_reset(&c->out);
    int rc = rbgw_rpc_from_http(&call->req->arena, status, rbgw_buf_str(&c->body), &c->out, &log,
                                err, sizeof(err));
    c->call = NULL;
    conn_release(c, keepalive);
    /* c may now carry the next call or be closing: use nothing of it but c->out, which a
     * closing conn keeps until its close callback and a reused conn refills only on reply. */
    if (rc == 0) {
        call_finish_reply(call, rbgw_buf_str(&c->out));
    } else {
        call_fail(call, log, "upstream %s: %s", up->url.hostport, err);
    }
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct http_conn *c = s->data;
    if (nread == 0) {
        return;
    }
    if (c->state == CONN_IDLE) {
        /* Idle: the server closed (EOF/reset) or sent stray bytes; either way, drop it. */
        rbgw_log_debug("u=%s: idle connection %s by the server", c->up->u->name,
                       nread < 0 ? "closed" : "sent unsolicited bytes and was closed");
        struct http_upstream *up = c->up;
        conn_close(c);
        pool_dispatch(up);
        return;
    }
    if (c->state != CONN_BUSY || c->call == NULL) {
        return;
    }
    if (nread < 0) {
        if (nread == UV_EOF && c->got_bytes) {
            /* A body delimited by the close of the connection ends here. */
            llhttp_errno_t e = llhttp_finish(&c->parser);
            if (e == HPE_OK && c->complete) {
                conn_complete(c, false);
                return;
            }
            if (e == HPE_PAUSED && c->complete) {
                conn_complete(c, false);
                return;
            }
        }
        char what[160];
        if (c->got_bytes) {
            snprintf(what, sizeof(what), "connection closed in the middle of the response (%s)",
                     uv_err_name((int)nread));
        } else {
            snprintf(what, sizeof(what), "connection closed before any response (%s)",
                     uv_err_name((int)nread));
        }
        conn_fail_call(c, !c->got_bytes, what);
        return;
    }
    c->got_bytes = 1;
    llhttp_errno_t e = llhttp_execute(&c->parser, buf->base, (size_t)nread);
    if (e == HPE_PAUSED && c->complete) {
        const char *stop = llhttp_get_error_pos(&c->parser);
        bool extra = stop && stop < buf->base + nread;
        conn_complete(c, !extra);
        return;
    }
    if (e != HPE_OK) {
        char what[200];
        if (c->too_big) {
            snprintf(what, sizeof(what), "response body larger than max-reply-size (%zu bytes)",
                     c->up->max_reply);
        } else {
            snprintf(what, sizeof(what), "malformed HTTP response: %s",
                     llhttp_get_error_reason(&c->parser));
        }
        conn_fail_call(c, false, what);
    }
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    /* Responses are parsed straight out of this buffer; the body is copied once into
     * c->body.  One static buffer serves all conns: a read callback runs to completion
     * before the next read, on one thread. */
    static char slab[65536];
    RBGW_UNUSED(h);
    RBGW_UNUSED(suggested);
    *buf = uv_buf_init(slab, sizeof(slab));
}

/* ---- timers ---- */

static void
on_call_timeout(uv_timer_t *t)
{
    struct http_conn *c = t->data;
    struct http_upstream *up = c->up;
    if (c->call == NULL) {
        return;
    }
    const char *phase = c->state == CONN_BUSY ? "no response" : "could not connect";
    struct http_call *call = conn_detach_close(c);
    call_fail(call, NULL, "upstream %s: %s within %u ms (timed out)", up->url.hostport, phase,
              up->u->timeout_ms);
    pool_dispatch(up);
}

static void
on_connect_timeout(uv_timer_t *t)
{
    struct http_conn *c = t->data;
    struct http_upstream *up = c->up;
    struct http_call *call = conn_detach_close(c);
    call_fail(call, NULL, "upstream %s: connect timed out after %u ms", up->url.hostport,
              up->u->connect_timeout_ms);
    pool_dispatch(up);
}

static void
arm_deadline(struct http_conn *c)
{
    uint64_t now = uv_now(c->up->u->gw->loop);
    uint64_t left = c->call->deadline > now ? c->call->deadline - now : 0;
    uv_timer_start(&c->timer, on_call_timeout, left, 0);
}

/* ---- sending ---- */

static void
on_write(uv_write_t *w, int status)
{
    struct http_conn *c = w->data;
    if (status < 0 && c->state == CONN_BUSY && c->call && !c->got_bytes) {
        char what[120];
        snprintf(what, sizeof(what), "sending the request failed (%s)", uv_err_name(status));
        conn_fail_call(c, true, what);
    }
}

static void
conn_send(struct http_conn *c, struct http_call *call)
{
    struct http_upstream *up = c->up;
    struct rbgw_request *req = call->req;
    c->call = call;
    conn_set_state(c, CONN_BUSY);
    c->got_bytes = 0;
    c->complete = 0;
    c->too_big = 0;
    rbgw_buf_reset(&c->body);
    rbgw_buf_reset(&c->wbuf);

    char err[200];
    if (rbgw_xlate_rpc_to_http(&up->target, req->call.method, req->call.params, req->raw, &c->wbuf,
                               err, sizeof(err)) != 0) {
        c->call = NULL;
        conn_release(c, true);
        call_fail(call, NULL, "cannot translate %.*s for HTTP: %s", (int)req->call.method.len,
                  req->call.method.p, err);
        return;
    }
    llhttp_init(&c->parser, HTTP_RESPONSE, &parser_settings);
    c->parser.data = c;
    arm_deadline(c);
    uv_buf_t b = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
    c->wreq.data = c;
    int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc < 0) {
        char what[120];
        snprintf(what, sizeof(what), "sending the request failed (%s)", uv_err_name(rc));
        conn_fail_call(c, true, what);
    }
}

/* ---- connecting ---- */

static void try_connect(struct http_conn *c);

static void
on_tcp_closed_retry(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    c->tcp_closing = 0;
    if (c->state == CONN_CLOSING) {
        /* The conn was closed meanwhile (timeout): count this handle down. */
        on_conn_handle_closed(h);
        return;
    }
    try_connect(c);
}

static void
on_connect(uv_connect_t *cr, int status)
{
    struct http_conn *c = cr->data;
    struct http_upstream *up = c->up;
    if (c->state == CONN_CLOSING) {
        return;
    }
    if (status < 0) {
        if (c->ai_next) {
            /* Try the next resolved address on a fresh socket, once this one is closed. */
            c->tcp_open = 0;
            c->tcp_closing = 1;
            uv_close((uv_handle_t *)&c->tcp, on_tcp_closed_retry);
            return;
        }
        struct http_call *call = conn_detach_close(c);
        call_fail(call, NULL, "cannot connect to upstream %s: %s", up->url.hostport,
                  uv_strerror(status));
        pool_dispatch(up);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->tcp.data = c;
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc < 0) {
        struct http_call *call = conn_detach_close(c);
        call_fail(call, NULL, "upstream %s: cannot read: %s", up->url.hostport, uv_strerror(rc));
        pool_dispatch(up);
        return;
    }
    struct http_call *call = c->call;
    c->call = NULL;
    conn_send(c, call);
}

static void
try_connect(struct http_conn *c)
{
    struct http_upstream *up = c->up;
    const struct sockaddr *sa;
    if (up->literal) {
        sa = (const struct sockaddr *)&up->addr;
    } else {
        sa = c->ai_next->ai_addr;
        c->ai_next = c->ai_next->ai_next;
    }
    uv_tcp_init(up->u->gw->loop, &c->tcp);
    c->tcp.data = c;
    c->tcp_open = 1;
    conn_set_state(c, CONN_CONNECTING);
    c->creq.data = c;
    int rc = uv_tcp_connect(&c->creq, &c->tcp, sa, on_connect);
    if (rc < 0) {
        struct http_call *call = conn_detach_close(c);
        call_fail(call, NULL, "cannot connect to upstream %s: %s", up->url.hostport,
                  uv_strerror(rc));
        return;
    }
}

static void
on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
    struct http_conn *c = g->data;
    struct http_upstream *up = c->up;
    if (c->state == CONN_CLOSING) {
        if (res) {
            uv_freeaddrinfo(res);
        }
        return;
    }
    if (status < 0 || res == NULL) {
        struct http_call *call = conn_detach_close(c);
        call_fail(call, NULL, "cannot resolve upstream host %s: %s", up->url.host,
                  uv_strerror(status));
        pool_dispatch(up);
        return;
    }
    c->ai_list = res;
    c->ai_next = res;
    try_connect(c);
}

/* Open a new conn for call.  Returns <0 (call untouched) only if nothing could be started. */
static int
conn_open(struct http_upstream *up, struct http_call *call)
{
    struct http_conn *c = rbgw_xcalloc(1, sizeof(*c));
    c->up = up;
    rbgw_list_init(&c->link);
    rbgw_buf_init(&c->wbuf);
    rbgw_buf_init(&c->body);
    rbgw_buf_init(&c->out);
    uv_timer_init(up->u->gw->loop, &c->timer);
    c->timer.data = c;
    c->call = call;
    call->attempts++;
    up->nconns++;
    uint64_t now = uv_now(up->u->gw->loop);
    uint64_t left = call->deadline > now ? call->deadline - now : 0;
    uint64_t cto = up->u->connect_timeout_ms < left ? up->u->connect_timeout_ms : left;
    if (cto == left) {
        uv_timer_start(&c->timer, on_call_timeout, cto, 0);
    } else {
        uv_timer_start(&c->timer, on_connect_timeout, cto, 0);
    }
    if (up->literal) {
        try_connect(c);
        return 0;
    }
    conn_set_state(c, CONN_RESOLVING);
    c->gai.data = c;
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    int rc =
        uv_getaddrinfo(up->u->gw->loop, &c->gai, on_resolved, up->url.host, up->port_str, &hints);
    if (rc < 0) {
        c->call = NULL;
        call->attempts--;
        conn_close(c);
        return rc;
    }
    return 0;
}

/* Give queued calls a connection when one can be had. */
static void
pool_dispatch(struct http_upstream *up)
{
    while (!rbgw_list_empty(&up->waiters) && !up->stopping) {
        struct http_call *call = rbgw_list_entry(up->waiters.next, struct http_call, link);
        if (!rbgw_list_empty(&up->idle)) {
            struct http_conn *c = rbgw_list_entry(up->idle.next, struct http_conn, link);
            rbgw_list_remove(&call->link);
            conn_send(c, call);
        } else if (up->nconns < up->max_conns) {
            rbgw_list_remove(&call->link);
            int rc = conn_open(up, call);
            if (rc < 0) {
                call_fail(call, NULL, "cannot open a connection to %s: %s", up->url.hostport,
                          uv_strerror(rc));
            }
        } else {
            break;
        }
    }
    waiters_rearm(up);
}

/* ---- upstream ops ---- */

static void
http_submit(struct rbgw_upstream *u, struct rbgw_request *req)
{
    struct http_upstream *up = u->impl;
    struct http_call *call = rbgw_arena_calloc(&req->arena, sizeof(*call));
    rbgw_request_ref(req);
    call->req = req;
    rbgw_list_init(&call->link);
    call->deadline = uv_now(u->gw->loop) + u->timeout_ms;
    if (up->stopping) {
        call_fail(call, NULL, "shutting down");
        return;
    }
    if (!rbgw_list_empty(&up->idle)) {
        struct http_conn *c = rbgw_list_entry(up->idle.next, struct http_conn, link);
        conn_send(c, call);
        return;
    }
    if (up->nconns < up->max_conns) {
        int rc = conn_open(up, call);
        if (rc < 0) {
            call_fail(call, NULL, "cannot open a connection to %s: %s", up->url.hostport,
                      uv_strerror(rc));
        }
        return;
    }
    rbgw_list_push_back(&up->waiters, &call->link);
    if (!uv_is_active((uv_handle_t *)&up->wait_timer)) {
        waiters_rearm(up);
    }
}

static int
http_create(struct rbgw_upstream *u, char *err, size_t errlen)
{
    const struct rbgw_connstr *cs = &u->conf->cs;
    struct http_upstream *up = rbgw_xcalloc(1, sizeof(*up));
    up->u = u;
    const char *url = rbgw_connstr_get(cs, "url");
    if (url == NULL) {
        snprintf(err, errlen, "url= is required");
        free(up);
        return RBGW_ECONFIG;
    }
    int rc = rbgw_url_parse(url, &up->url, err, errlen);
    if (rc != 0) {
        free(up);
        return rc;
    }
    long max_conns, idle, dialect;
    if ((rc = rbgw_upstream_int_opt(u, "max-conns", &max_conns, err, errlen)) ||
        (rc = rbgw_upstream_int_opt(u, "idle-timeout", &idle, err, errlen)) ||
        (rc = rbgw_upstream_int_opt(u, "rest-dialect", &dialect, err, errlen))) {
        rbgw_url_free(&up->url);
        free(up);
        return rc;
    }
    up->max_conns = (uint32_t)max_conns;
    up->idle_timeout_ms = (uint32_t)idle;
    up->max_reply = u->gw->cfg->max_reply_size;
    bool post = rbgw_connstr_get_bool(cs, "post", false);
    bool post_json = rbgw_connstr_get_bool(cs, "post_json", false);
    up->target.mode = post ? (post_json ? RBGW_HTTP_POST_JSON : RBGW_HTTP_POST) : RBGW_HTTP_REST;
    up->target.dialect = (int)dialect;
    up->target.host = rbgw_str_cstr(up->url.host);
    up->target.path = rbgw_str_cstr(up->url.path);
    up->target.suffix = rbgw_str_cstr(rbgw_connstr_get(cs, "url-suffix"));
    snprintf(up->port_str, sizeof(up->port_str), "%u", (unsigned)up->url.port);

    struct sockaddr_in *sin = (struct sockaddr_in *)&up->addr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&up->addr;
    if (uv_ip4_addr(up->url.host, up->url.port, sin) == 0) {
        up->literal = true;
    } else if (uv_ip6_addr(up->url.host, up->url.port, sin6) == 0) {
        up->literal = true;
    }
    rbgw_list_init(&up->idle);
    rbgw_list_init(&up->busy);
    rbgw_list_init(&up->waiters);
    uv_timer_init(u->gw->loop, &up->wait_timer);
    up->wait_timer.data = up;
    u->impl = up;
    return 0;
}

static void
http_stop(struct rbgw_upstream *u)
{
    struct http_upstream *up = u->impl;
    if (up->stopping) {
        return;
    }
    up->stopping = true;
    while (!rbgw_list_empty(&up->waiters)) {
        struct http_call *call = rbgw_list_entry(up->waiters.next, struct http_call, link);
        rbgw_list_remove(&call->link);
        call_fail(call, NULL, "shutting down");
    }
    while (!rbgw_list_empty(&up->busy)) {
        struct http_conn *c = rbgw_list_entry(up->busy.next, struct http_conn, link);
        struct http_call *call = conn_detach_close(c);
        if (call) {
            call_fail(call, NULL, "shutting down");
        }
    }
    while (!rbgw_list_empty(&up->idle)) {
        conn_close(rbgw_list_entry(up->idle.next, struct http_conn, link));
    }
    uv_close((uv_handle_t *)&up->wait_timer, NULL);
}

static void
http_destroy(struct rbgw_upstream *u)
{
    struct http_upstream *up = u->impl;
    if (up == NULL) {
        return;
    }
    rbgw_url_free(&up->url);
    free(up);
    u->impl = NULL;
}

const struct rbgw_upstream_ops rbgw_http_upstream_ops = {
    .name = "http",
    .create = http_create,
    .submit = http_submit,
    .stop = http_stop,
    .destroy = http_destroy,
};

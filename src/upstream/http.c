/*
 * upstream/http.c: the HTTP responder transport: translation, connect, llhttp responses.
 *
 * The pool (connpool.c) does keep-alive bookkeeping, timeouts, queueing and the retry rule; this
 * file only opens TCP connections, writes the translated request and parses the response:
 *
 *   http_upstream { cp, url, target, xprt ops, tls ctx, headers }
 *        ──pool──> http_conn { upconn, tcp, xprt, parser, buffers }
 *
 * Bytes go through a transport layer (xprt.h): plain TCP for http://, TLS for https://, picked
 * once per upstream.  This file connects the socket (resolution, address fallback) and from
 * then on reads and writes only plaintext through conn->x; it never calls OpenSSL.  The layer
 * reports back through the upcalls below (ready, data, eof, fail, write_failed); a TLS
 * handshake or certificate failure arrives as a connect failure with OpenSSL's reason.
 *
 * Responses are parsed by llhttp straight from a shared read slab; the body is copied once.
 * rbgw_rpc_from_http() applies pdns's acceptance rules (docs/protocol.md §4.4) and flattens the
 * reply to one line.  A conn stays open after an HTTP-level error (e.g. a 500 with keep-alive):
 * the connection itself is sound.  A malformed or oversized response closes it.
 * An idle conn keeps reading so a server close is seen at once, not by the next request.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <llhttp.h>

#include "rbgw/httphdr.h"
#include "rbgw/log.h"
#include "rbgw/outcome.h"
#include "rbgw/connpool.h"
#include "rbgw/tls.h"
#include "rbgw/url.h"
#include "rbgw/xlate.h"
#include "upstream/xprt.h"

struct http_upstream {
    struct rbgw_connpool cp;          /* connection pool */
    struct rbgw_url url;              /* owned: parsed url= */
    struct rbgw_http_target target;   /* translation settings (views into url / conf) */
    struct sockaddr_storage addr;     /* literal address, when the url host is an IP */
    bool literal;                     /* addr is valid; no resolution needed */
    char port_str[8];                 /* for getaddrinfo */
    size_t max_reply;                 /* max-reply-size */
    const struct rbgw_xprt_ops *xprt; /* byte layer: TCP, or TLS for https:// */
    struct rbgw_tls_ctx *tls;         /* owned: https:// settings and session cache, or NULL */
    struct rbgw_buf headers;          /* owned: header= / header-file= lines, rendered once */
};

struct http_conn {
    struct rbgw_upconn base;      /* must stay first */
    uv_tcp_t tcp;                 /* the socket */
    struct rbgw_xprt x;           /* the byte layer over tcp (TCP or TLS) */
    uv_connect_t creq;            /* connect request */
    uv_getaddrinfo_t gai;         /* name resolution (hostnames only) */
    struct addrinfo *ai_list;     /* owned: resolved addresses */
    struct addrinfo *ai_next;     /* next address to try */
    llhttp_t parser;              /* response parser, re-initialised per call */
    struct rbgw_buf wbuf;         /* encoded request (kept until the write completes) */
    struct rbgw_buf body;         /* response body */
    struct rbgw_buf out;          /* the one-line reply handed to the request */
    struct rbgw_xlate_scratch xs; /* translation scratch, reused call after call */
    struct rbgw_wbatch_item wb;   /* queued while wbuf waits for the loop pass's end */
    int pending;                  /* handles/requests to wait for after close */
    unsigned tcp_open : 1;        /* tcp handle initialised and not closing */
    unsigned gai_active : 1;      /* getaddrinfo in flight */
    unsigned closing : 1;         /* ops->close called */
    unsigned complete : 1;        /* response complete */
    unsigned too_big : 1;         /* body exceeded max-reply-size */
    unsigned too_big_said : 1;    /* ... as its Content-Length said, before any of it came */
};

static struct http_upstream *
upstream_of(struct http_conn *c)
{
    return c->base.cp->transport;
}

static struct http_conn *
conn_of(struct rbgw_xprt *x)
{
    return rbgw_container_of(x, struct http_conn, x);
}

/* Layer errors are either UV_E* codes or already a class (RBGW_ELOCAL from TLS). */
static int
status_of(int rc, int otherwise)
{
    return rc <= RBGW_EPARSE ? rc : rbgw_outcome_from_uv(rc, otherwise);
}

static const char *
err_name(int rc)
{
    return rc <= RBGW_EPARSE ? rbgw_strerror(rc) : uv_err_name(rc);
}

/* ---- closing ---- */

static void
unpend(struct http_conn *c)
{
    if (--c->pending == 0 && c->closing) {
        if (c->ai_list) {
            uv_freeaddrinfo(c->ai_list);
        }
        rbgw_buf_free(&c->wbuf);
        rbgw_buf_free(&c->body);
        rbgw_buf_free(&c->out);
        rbgw_xlate_scratch_free(&c->xs);
        c->x.ops->free(&c->x);
        rbgw_upconn_free(&c->base);
    }
}

static void
on_tcp_closed(uv_handle_t *h)
{
    unpend(rbgw_container_of(h, struct http_conn, tcp));
}

static void
http_conn_close(struct rbgw_upconn *uc)
{
    struct http_conn *c = (struct http_conn *)uc;
    c->closing = 1;
    rbgw__wbatch_remove(&c->wb);
    c->pending++; /* held across this function so a synchronous unpend cannot free early */
    if (c->tcp_open) {
        c->tcp_open = 0;
        c->pending++;
        c->x.ops->shutdown(&c->x);
        uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
    }
    if (c->gai_active) {
        uv_cancel((uv_req_t *)&c->gai);
    }
    unpend(c);
}

/* ---- response parsing ---- */

/* A Content-Length past max-reply-size is refused with the head: nothing of the body would be
 * kept, and waiting for it would only hold the call until its timeout. */
static int
on_headers_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > upstream_of(c)->max_reply) {
        c->too_big = c->too_big_said = 1;
        return -1;
    }
    return 0;
}

static int
on_body(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    if (c->body.len + len > upstream_of(c)->max_reply) {
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
    return HPE_PAUSED; /* stop here: anything after one response is not ours */
}

static const llhttp_settings_t parser_settings = {
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Buffer memory a kept-alive conn holds on to between calls; a larger reply's is freed. */
#define KEEP_BUF_MAX 65536

static void
response_done(struct http_conn *c, bool clean_end)
{
    struct rbgw_request *req = c->base.call->req;
    bool keep = clean_end && llhttp_should_keep_alive(&c->parser);
    const struct rbgw_json *log = NULL;
    struct rbgw_str log_text;
    char err[300];
    rbgw_buf_reset(&c->out);
    bool said_false;
    struct rbgw_gateway *gw = upstream_of(c)->cp.u->gw;
    enum rbgw_json_over over;
    int rc = rbgw_rpc_from_http_limited(&req->arena, c->parser.status_code, rbgw_buf_str(&c->body),
                                        &gw->cfg->json_limits, &over, &c->out, &said_false,
                                        &log_text, &log, err, sizeof(err));
    if (rc == 0) {
        rbgw_upconn_reply(&c->base, rbgw_buf_str(&c->out), log_text,
                          (keep ? RBGW_UPCONN_KEEP : 0) | (said_false ? RBGW_UPCONN_FALSE : 0));
    } else {
        if (rc == RBGW_ETOOBIG) {
            gw->limit_hits[rbgw_limit_of_json(over)]++; /* past max-json-* */
        }
        rbgw_upconn_error(&c->base, rc, keep ? RBGW_UPCONN_KEEP : 0, log, "%s", err);
    }
    /* The reply was only valid during the callback, and a next call on this conn (sent from
     * inside it) has only reset body: neither buffer holds anything anyone still reads. */
    rbgw_buf_reset_max(&c->body, KEEP_BUF_MAX);
    rbgw_buf_reset_max(&c->out, KEEP_BUF_MAX);
}

/* ---- the layer's upcalls ---- */

static void
on_data(struct rbgw_xprt *x, const char *p, size_t n)
{
    struct http_conn *c = conn_of(x);
    if (c->closing) {
        return;
    }
    if (c->base.state == RBGW_UPCONN_IDLE) {
        rbgw_upconn_lost(&c->base, "the server sent bytes nobody asked for");
        return;
    }
    if (c->base.state != RBGW_UPCONN_BUSY || c->base.call == NULL) {
        return;
    }
    c->base.got_bytes = 1;
    llhttp_errno_t e = llhttp_execute(&c->parser, p, n);
    if (e == HPE_PAUSED && c->complete) {
        const char *stop = llhttp_get_error_pos(&c->parser);
        response_done(c, !(stop && stop < p + n));
        return;
    }
    if (e != HPE_OK) {
        if (c->too_big_said) {
            rbgw_upconn_error(&c->base, RBGW_ETOOBIG, 0, NULL,
                              "response body of %" PRIu64
                              " bytes (its Content-Length) larger than max-reply-size=%zu bytes",
                              c->parser.content_length, upstream_of(c)->max_reply);
        } else if (c->too_big) {
            rbgw_upconn_error(&c->base, RBGW_ETOOBIG, 0, NULL,
                              "response body larger than max-reply-size=%zu bytes",
                              upstream_of(c)->max_reply);
        } else {
            rbgw_upconn_error(&c->base, RBGW_EPROTO, 0, NULL, "malformed HTTP response: %s",
                              llhttp_get_error_reason(&c->parser));
        }
    }
}

static void
on_eof(struct rbgw_xprt *x, int status)
{
    struct http_conn *c = conn_of(x);
    if (c->closing) {
        return;
    }
    if (c->base.state == RBGW_UPCONN_IDLE) {
        rbgw_upconn_lost(&c->base, "closed by the server");
        return;
    }
    if (c->base.state != RBGW_UPCONN_BUSY || c->base.call == NULL) {
        return;
    }
    if (status == UV_EOF && c->base.got_bytes) {
        /* A body delimited by the end of the connection ends here. */
        llhttp_errno_t e = llhttp_finish(&c->parser);
        if ((e == HPE_OK || e == HPE_PAUSED) && c->complete) {
            response_done(c, false);
            return;
        }
    }
    if (c->base.got_bytes) {
        rbgw_upconn_error(&c->base, RBGW_ECLOSED, 0, NULL,
                          "the server closed it in the middle of the response, %s",
                          uv_err_name(status));
    } else {
        rbgw_upconn_error(&c->base, RBGW_ECLOSED, RBGW_UPCONN_RETRY, NULL,
                          "the server closed it before any response, %s", uv_err_name(status));
    }
}

static void
on_fail(struct rbgw_xprt *x, int status, const char *why)
{
    struct http_conn *c = conn_of(x);
    if (c->closing) {
        return;
    }
    if (c->base.state == RBGW_UPCONN_IDLE) {
        rbgw_upconn_lost(&c->base, why);
        return;
    }
    rbgw_upconn_error(&c->base, status, 0, NULL, "%s", why);
}

static void
on_write_failed(struct rbgw_xprt *x, int status)
{
    struct http_conn *c = conn_of(x);
    if (c->closing) {
        return;
    }
    switch (c->base.state) {
    case RBGW_UPCONN_OPENING:
        rbgw_upconn_error(&c->base, status_of(status, RBGW_ECONNECT), 0, NULL,
                          "sending the TLS handshake failed: %s", err_name(status));
        break;
    case RBGW_UPCONN_BUSY:
        if (!c->base.got_bytes) {
            rbgw_upconn_error(&c->base, status_of(status, RBGW_ECLOSED),
                              RBGW_UPCONN_RETRY | RBGW_UPCONN_UNSENT, NULL,
                              "sending the request failed: %s", err_name(status));
        }
        break;
    case RBGW_UPCONN_IDLE:
        rbgw_upconn_lost(&c->base, "a write failed");
        break;
    case RBGW_UPCONN_CLOSING:
        break;
    }
}

static void
on_ready(struct rbgw_xprt *x)
{
    struct http_conn *c = conn_of(x);
    if (c->closing) {
        return;
    }
    if (rbgw_log_enabled(RBGW_LOG_DEBUG)) {
        char what[160];
        x->ops->describe(x, what, sizeof(what));
        rbgw_log_debug("u=%s: conn %llu to %s: %s", c->base.cp->u->name,
                       (unsigned long long)c->base.id, c->base.cp->target, what);
    }
    rbgw_upconn_ready(&c->base);
}

static const struct rbgw_xprt_upcalls http_upcalls = {
    .ready = on_ready,
    .data = on_data,
    .eof = on_eof,
    .fail = on_fail,
    .write_failed = on_write_failed,
};

/* ---- sending ---- */

static void
http_conn_send(struct rbgw_upconn *uc)
{
    struct http_conn *c = (struct http_conn *)uc;
    struct http_upstream *up = upstream_of(c);
    struct rbgw_request *req = uc->call->req;
    c->complete = 0;
    c->too_big = c->too_big_said = 0;
    rbgw_buf_reset(&c->body);
    rbgw_buf_reset(&c->wbuf);
    char err[200];
    if (rbgw_request_parse(req, err, sizeof(err)) != 0) {
        rbgw_upconn_error(uc, RBGW_ENOTSUP, RBGW_UPCONN_KEEP, NULL, "cannot translate to HTTP: %s",
                          err);
        return;
    }
    if (rbgw_xlate_rpc_to_http_with(&c->xs, &up->target, req->call.mid, req->call.method,
                                    req->call.params, req->raw, &c->wbuf, err, sizeof(err)) != 0) {
        rbgw_upconn_error(uc, RBGW_ENOTSUP, RBGW_UPCONN_KEEP, NULL,
                          "cannot translate %.*s to HTTP: %s", (int)req->call.method.len,
                          req->call.method.p, err);
        return;
    }
    llhttp_init(&c->parser, HTTP_RESPONSE, &parser_settings);
    c->parser.data = c;
    /* Written with the rest of the loop pass's writes (wbatch.h). */
    rbgw__wbatch_add(&up->cp.u->gw->wbatch, up->cp.u->gw->loop, &c->wb);
}

/* The end of the loop pass: write the request of the call in flight (if it still is: a timer
 * may have failed it meanwhile, and then nothing was sent). */
static void
http_conn_flush(struct rbgw_wbatch_item *it)
{
    struct http_conn *c = rbgw_container_of(it, struct http_conn, wb);
    if (c->closing || c->base.state != RBGW_UPCONN_BUSY || c->base.call == NULL) {
        return;
    }
    uv_buf_t b = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
    int rc = c->x.ops->send(&c->x, &b, 1);
    if (rc < 0) {
        rbgw_upconn_error(&c->base, status_of(rc, RBGW_ECLOSED),
                          RBGW_UPCONN_RETRY | RBGW_UPCONN_UNSENT, NULL,
                          "sending the request failed: %s", err_name(rc));
    }
}

/* ---- connecting ---- */

static void try_connect(struct http_conn *c);

static void
on_tcp_closed_retry(uv_handle_t *h)
{
    struct http_conn *c = rbgw_container_of(h, struct http_conn, tcp);
    if (c->closing) {
        unpend(c);
        return;
    }
    c->pending--;
    try_connect(c);
}

static void
on_connect(uv_connect_t *cr, int status)
{
    struct http_conn *c = cr->data;
    if (c->closing) {
        return;
    }
    if (status < 0) {
        if (c->ai_next) {
            /* Try the next resolved address on a fresh socket, once this one is closed. */
            c->tcp_open = 0;
            c->pending++;
            uv_close((uv_handle_t *)&c->tcp, on_tcp_closed_retry);
            return;
        }
        rbgw_upconn_error(&c->base, rbgw_outcome_from_uv(status, RBGW_ECONNECT), 0, NULL, "%s",
                          uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    /* The layer reports ready (TLS: after the handshake) or fails, through the upcalls. */
    int rc = c->x.ops->start(&c->x);
    if (rc < 0) {
        rbgw_upconn_error(&c->base, status_of(rc, RBGW_ECONNECT), 0, NULL, "cannot start: %s",
                          rbgw_strerror(rc));
    }
}

static void
try_connect(struct http_conn *c)
{
    struct http_upstream *up = upstream_of(c);
    const struct sockaddr *sa;
    if (up->literal) {
        sa = (const struct sockaddr *)&up->addr;
    } else {
        sa = c->ai_next->ai_addr;
        c->ai_next = c->ai_next->ai_next;
    }
    uv_tcp_init(up->cp.u->gw->loop, &c->tcp);
    c->tcp_open = 1;
    c->creq.data = c;
    int rc = uv_tcp_connect(&c->creq, &c->tcp, sa, on_connect);
    if (rc < 0) {
        /* A socket rbgw cannot create (EMFILE) is rbgw's failure, not the upstream's. */
        rbgw_upconn_error(&c->base, rbgw_outcome_from_uv(rc, RBGW_ECONNECT), 0, NULL, "%s",
                          uv_strerror(rc));
    }
}

static void
on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
    struct http_conn *c = g->data;
    c->gai_active = 0;
    if (c->closing) {
        if (res) {
            uv_freeaddrinfo(res);
        }
        unpend(c);
        return;
    }
    c->pending--;
    if (status < 0 || res == NULL) {
        rbgw_upconn_error(&c->base, rbgw_outcome_from_uv(status, RBGW_ECONNECT), 0, NULL,
                          "cannot resolve %s: %s", upstream_of(c)->url.host, uv_strerror(status));
        return;
    }
    c->ai_list = res;
    c->ai_next = res;
    try_connect(c);
}

static void
http_conn_open(struct rbgw_upconn *uc)
{
    struct http_conn *c = (struct http_conn *)uc;
    struct http_upstream *up = upstream_of(c);
    rbgw__wbatch_item_init(&c->wb, http_conn_flush);
    rbgw_buf_init(&c->wbuf);
    rbgw_buf_init(&c->body);
    rbgw_buf_init(&c->out);
    rbgw__xprt_init(&c->x, up->xprt, &http_upcalls, (uv_stream_t *)&c->tcp, up->tls);
    if (up->literal) {
        try_connect(c);
        return;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    c->gai.data = c;
    c->gai_active = 1;
    c->pending++;
    int rc = uv_getaddrinfo(up->cp.u->gw->loop, &c->gai, on_resolved, up->url.host, up->port_str,
                            &hints);
    if (rc < 0) {
        c->gai_active = 0;
        c->pending--;
        rbgw_upconn_error(uc, rbgw_outcome_from_uv(rc, RBGW_ECONNECT), 0, NULL,
                          "cannot resolve %s: %s", up->url.host, uv_strerror(rc));
    }
}

static const struct rbgw_upconn_ops http_conn_ops = {
    .conn_size = sizeof(struct http_conn),
    .open = http_conn_open,
    .send = http_conn_send,
    .close = http_conn_close,
};

/* ---- upstream ops ---- */

static int
http_create(struct rbgw_upstream *u, char *err, size_t errlen)
{
    const struct rbgw_connstr *cs = &u->conf->cs;
    struct http_upstream *up = rbgw_xcalloc(1, sizeof(*up));
    const char *url = rbgw_connstr_get(cs, "url");
    long dialect;
    int rc;
    if (url == NULL) {
        snprintf(err, errlen, "url= is required");
        free(up);
        return RBGW_ECONFIG;
    }
    up->xprt = &rbgw__xprt_tcp_ops;
    if ((rc = rbgw_url_parse(url, &up->url, err, errlen)) != 0 ||
        (rc = rbgw_upstream_int_opt(u, "rest-dialect", &dialect, err, errlen)) != 0 ||
        (rc = rbgw_httphdr_build(cs, &up->headers, err, errlen)) != 0 ||
        (up->url.tls && (rc = rbgw_tls_ctx_new(cs, up->url.host, &up->tls, err, errlen)) != 0) ||
        (rc = rbgw_connpool_init(&up->cp, u, &http_conn_ops, up, up->url.hostport, err, errlen)) !=
            0) {
        rbgw_tls_ctx_free(up->tls);
        rbgw_buf_free(&up->headers);
        rbgw_url_free(&up->url);
        free(up);
        return rc;
    }
    if (up->tls != NULL) {
        up->xprt = &rbgw__xprt_tls_ops;
        u->tls = rbgw_tls_ctx_stats(up->tls);
        if (!rbgw_tls_ctx_verifies(up->tls)) {
            rbgw_log_warn("u=%s: tls-verify=no: the certificate of %s is not checked; anyone on "
                          "the path can read and change the calls",
                          u->name, up->url.hostport);
        }
    }
    up->max_reply = u->gw->cfg->max_reply_size;
    bool post = rbgw_connstr_get_bool(cs, "post", false);
    bool post_json = rbgw_connstr_get_bool(cs, "post_json", false);
    /* post_json without post is REST in pdns too (docs/protocol.md §4.6). */
    up->target.mode = post ? (post_json ? RBGW_HTTP_POST_JSON : RBGW_HTTP_POST) : RBGW_HTTP_REST;
    up->target.dialect = (int)dialect;
    up->target.host = rbgw_str_cstr(up->url.host);
    up->target.path = rbgw_str_cstr(up->url.path);
    up->target.suffix = rbgw_str_cstr(rbgw_connstr_get(cs, "url-suffix"));
    up->target.extra = rbgw_buf_str(&up->headers);
    snprintf(up->port_str, sizeof(up->port_str), "%u", (unsigned)up->url.port);
    if (uv_ip4_addr(up->url.host, up->url.port, (struct sockaddr_in *)&up->addr) == 0 ||
        uv_ip6_addr(up->url.host, up->url.port, (struct sockaddr_in6 *)&up->addr) == 0) {
        up->literal = true;
    }
    u->impl = up;
    return 0;
}

static void
http_destroy(struct rbgw_upstream *u)
{
    struct http_upstream *up = u->impl;
    if (up == NULL) {
        return;
    }
    u->tls = NULL;
    rbgw_tls_ctx_free(up->tls);
    rbgw_buf_free(&up->headers);
    rbgw_url_free(&up->url);
    free(up);
    u->impl = NULL;
}

const struct rbgw_upstream_ops rbgw_http_upstream_ops = {
    .name = "http",
    .create = http_create,
    .destroy = http_destroy,
};

/*
 * xprt.h: the byte transport under an upstream's protocol code: plain TCP or TLS (private to
 * src/upstream).
 *
 *   protocol (upstream/http.c: requests, llhttp)
 *        │ ops->start / ops->send / ops->shutdown        ▲ upcalls: ready, data, eof, fail,
 *        ▼                                               │          write_failed
 *   struct rbgw_xprt { ops, up, stream }   ops = rbgw__xprt_tcp_ops | rbgw__xprt_tls_ops
 *        │ uv_read_start / uv_try_write / uv_write       ▲ uv read callback
 *        ▼                                               │
 *   uv_tcp_t, connected by the protocol
 *
 * The protocol connects the socket (it owns name resolution, the address list and the pool's
 * connect phase), embeds one struct rbgw_xprt per connection, and from then on reads and
 * writes only through it: it sees plaintext whichever layer is below, and never calls libuv's
 * stream functions or OpenSSL itself.  A layer is one const ops table (pgbouncer's SBufIO,
 * haproxy's xprt_ops), picked per upstream when the configuration is read, so nothing on the
 * hot path asks "is this TLS?".
 *
 * The TCP layer is a thin pass-through: the read callback hands the bytes straight to
 * up->data, and send is one uv_try_write (a uv_write for what did not fit).  The TLS layer
 * (xprt_tls.c) runs OpenSSL on memory BIOs: ciphertext read from the socket goes into the read
 * BIO, SSL_read yields plaintext for up->data; SSL_write fills the write BIO, whose bytes go to
 * the socket the same way the TCP layer writes.
 *
 * Contract:
 *  - start: the socket is connected.  Start reading and, for TLS, the handshake.  Returns 0 and
 *    ends later (or inside) in exactly one up->ready or up->fail; or returns <0 (UV_E* or an
 *    RBGW_E* class) and makes no upcall.
 *  - send: write the plaintext bufs.  Returns 0 (all written, or the rest queued: the bytes must
 *    stay valid until the next send or until up->write_failed) or <0 when nothing could be
 *    handed to the socket (no upcall then).  A queued write that fails later is reported once
 *    through up->write_failed.
 *  - Upcalls may call send (the next request) and the protocol's close (shutdown) re-entrantly;
 *    after shutdown a layer makes no further upcall.
 *  - data: p[0..n) is valid only during the upcall (one read slab per process).
 *  - shutdown: before the protocol closes the socket.  TLS queues its close_notify (best
 *    effort).  Idempotent.  free: after the socket's close callback, releases what the layer
 *    holds.  Every write callback has run by then (libuv runs them, cancelled, before the
 *    close callback).
 */
#ifndef RBGW_UPSTREAM_XPRT_H
#define RBGW_UPSTREAM_XPRT_H

#include <stdbool.h>

#include <uv.h>

#include "rbgw/common.h"

struct rbgw_xprt;

/** What the layer reports to the protocol above it. */
struct rbgw_xprt_upcalls {
    /** start finished: the connection carries bytes (TLS: the handshake succeeded). */
    void (*ready)(struct rbgw_xprt *x);
    /** Plaintext from the peer. */
    void (*data)(struct rbgw_xprt *x, const char *p, size_t n);
    /** The peer closed (UV_EOF; TLS: close_notify too) or reading failed (another UV_E*). */
    void (*eof)(struct rbgw_xprt *x, int uv_status);
    /**
     * The layer failed: status is the class (outcome.h): RBGW_ECONNECT during start (TLS
     * handshake, certificate verification), RBGW_EPROTO after it (a bad TLS record, an alert),
     * RBGW_ELOCAL for rbgw's own shortage.  why says it in words ("certificate verify failed:
     * hostname mismatch").
     */
    void (*fail)(struct rbgw_xprt *x, int status, const char *why);
    /** A write queued by send failed (UV_E*). */
    void (*write_failed)(struct rbgw_xprt *x, int uv_status);
};

struct rbgw_xprt_ops {
    const char *name; /* "tcp" or "tls", for logs */
    int (*start)(struct rbgw_xprt *x) RBGW_MUSTCHECK;
    int (*send)(struct rbgw_xprt *x, const uv_buf_t *bufs, unsigned nbufs) RBGW_MUSTCHECK;
    void (*shutdown)(struct rbgw_xprt *x);
    void (*free)(struct rbgw_xprt *x);
    /** One line about the connection for logs ("TLSv1.3 TLS_AES_256_GCM_SHA384, resumed"). */
    void (*describe)(const struct rbgw_xprt *x, char *buf, size_t len);
};

struct rbgw_xprt {
    const struct rbgw_xprt_ops *ops;    /* this connection's layer */
    const struct rbgw_xprt_upcalls *up; /* the protocol's upcalls */
    uv_stream_t *stream;                /* borrowed: the connected socket (the protocol's) */
    void *conf;                         /* borrowed: per-upstream layer settings (TLS: the
                                           struct rbgw_tls_ctx), NULL for TCP */
    void *layer;                        /* owned by ops: per-connection state, or NULL */
    uv_write_t wreq;                    /* the one write in flight */
    unsigned writing : 1;               /* wreq is in flight */
    unsigned shut : 1;                  /* shutdown called: no more upcalls */
};

extern const struct rbgw_xprt_ops rbgw__xprt_tcp_ops;
extern const struct rbgw_xprt_ops rbgw__xprt_tls_ops;

/** Set up x over stream (connected or not yet: nothing is read before ops->start). */
static inline void
rbgw__xprt_init(struct rbgw_xprt *x, const struct rbgw_xprt_ops *ops,
                const struct rbgw_xprt_upcalls *up, uv_stream_t *stream, void *conf)
{
    x->ops = ops;
    x->up = up;
    x->stream = stream;
    x->conf = conf;
    x->layer = NULL;
    x->writing = 0;
    x->shut = 0;
}

/** rbgw__xprt_write after its uv_try_write wrote n bytes (or failed with n): the rest. */
int rbgw__xprt_write_rest(struct rbgw_xprt *x, const uv_buf_t *bufs, unsigned nbufs, int n,
                          uv_write_cb done);

/**
 * Write bufs to the socket: one uv_try_write, and a uv_write (x->wreq) for what did not fit,
 * reporting its failure through done.  0 or <0 as ops->send.  For the layers' own use; inline
 * because a whole write of one buffer, the usual case, is the hot path of every plain call.
 */
static inline int
rbgw__xprt_write(struct rbgw_xprt *x, const uv_buf_t *bufs, unsigned nbufs, uv_write_cb done)
{
    if (x->writing) {
        /* The previous request is still being written (the peer answered before reading it
         * all): the one write request is in use, and nothing may overtake it. */
        return UV_EBUSY;
    }
    int n = uv_try_write(x->stream, bufs, nbufs);
    if (nbufs == 1 && n >= 0 && (size_t)n == bufs[0].len) {
        return 0;
    }
    return rbgw__xprt_write_rest(x, bufs, nbufs, n, done);
}

/** The read buffer every layer reads the socket into (one per process; see xprt_tcp.c). */
void rbgw__xprt_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

#endif

/*
 * upstream/xprt_tcp.c: the plain TCP layer under the HTTP upstream (see xprt.h), and the
 * socket write and read-buffer helpers the TLS layer shares.
 *
 * This is the hot path of every plain http:// call, so it adds nothing but the indirection:
 * the read callback hands the slab straight to the protocol, and send is the uv_try_write the
 * protocol used to make itself (a complete write needs no request and no epoll_ctl), with a
 * uv_write only for what the socket did not take.
 */
#include <stdio.h>

#include "upstream/xprt.h"

void
rbgw__xprt_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    /* One slab serves every conn: a read callback runs to completion before the next read,
     * on one thread, and nothing keeps pointers into it (up->data copies what it keeps). */
    static char slab[65536];
    RBGW_UNUSED(h);
    RBGW_UNUSED(suggested);
    *buf = uv_buf_init(slab, sizeof(slab));
}

int
rbgw__xprt_write_rest(struct rbgw_xprt *x, const uv_buf_t *bufs, unsigned nbufs, int n,
                      uv_write_cb done)
{
    size_t total = 0;
    for (unsigned i = 0; i < nbufs; i++) {
        total += bufs[i].len;
    }
    if (n >= 0 && (size_t)n == total) {
        return 0;
    }
    if (n < 0 && n != UV_EAGAIN) {
        return n;
    }
    /* Queue what is left: skip the bufs (or the part of one) the socket took. */
    size_t skip = n > 0 ? (size_t)n : 0;
    uv_buf_t rest[8];
    unsigned nrest = 0;
    for (unsigned i = 0; i < nbufs; i++) {
        if (skip >= bufs[i].len) {
            skip -= bufs[i].len;
            continue;
        }
        if (nrest == RBGW_NELEM(rest)) {
            return UV_ENOBUFS;
        }
        rest[nrest++] = uv_buf_init(bufs[i].base + skip, (unsigned)(bufs[i].len - skip));
        skip = 0;
    }
    x->wreq.data = x;
    int rc = uv_write(&x->wreq, x->stream, rest, nrest, done);
    if (rc < 0) {
        return rc;
    }
    x->writing = 1;
    return 0;
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct rbgw_xprt *x = s->data;
    if (nread == 0 || x->shut) {
        return;
    }
    if (nread < 0) {
        x->up->eof(x, (int)nread);
        return;
    }
    x->up->data(x, buf->base, (size_t)nread);
}

static void
on_write(uv_write_t *w, int status)
{
    struct rbgw_xprt *x = w->data;
    x->writing = 0;
    if (status < 0 && !x->shut) {
        x->up->write_failed(x, status);
    }
}

static int
tcp_start(struct rbgw_xprt *x)
{
    x->stream->data = x;
    int rc = uv_read_start(x->stream, rbgw__xprt_alloc, on_read);
    if (rc < 0) {
        return rc;
    }
    x->up->ready(x);
    return 0;
}

static int
tcp_send(struct rbgw_xprt *x, const uv_buf_t *bufs, unsigned nbufs)
{
    return rbgw__xprt_write(x, bufs, nbufs, on_write);
}

static void
tcp_shutdown(struct rbgw_xprt *x)
{
    x->shut = 1;
}

static void
tcp_free(struct rbgw_xprt *x)
{
    RBGW_UNUSED(x);
}

static void
tcp_describe(const struct rbgw_xprt *x, char *buf, size_t len)
{
    RBGW_UNUSED(x);
    snprintf(buf, len, "plain TCP");
}

const struct rbgw_xprt_ops rbgw__xprt_tcp_ops = {
    .name = "tcp",
    .start = tcp_start,
    .send = tcp_send,
    .shutdown = tcp_shutdown,
    .free = tcp_free,
    .describe = tcp_describe,
};

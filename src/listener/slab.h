/*
 * listener/slab.h: one read buffer shared by every connection of a listener.  Private to
 * listeners.
 *
 * An idle pdns connection should cost little memory, so connections do not own read buffers.  libuv
 * runs one read callback at a time on a loop, so all connections of a listener can read into one
 * slab: on_read marks the connection it serves (rbgw_slab_serve), consumes what it can straight
 * from the slab, and keeps only the rest in the connection's own buffer (rbgw_slab_release), which
 * gives its memory back once it is empty (rbgw_slab_drop).  While a connection is served from the
 * slab its "unserved input" is the slab's rest, otherwise its own buffer (rbgw_slab_unserved).
 *
 * Used by the JSON stream connections (jsonconn.c) and the HTTP listener (http.c).
 *
 * A connection's own buffer (rbgw_inbuf) is consumed by moving an offset, not the bytes: the
 * backlog of a client that pipelines is served one small frame at a time, and moving the whole
 * backlog for each frame made serving it quadratic (200,000 pipelined lookups on a unix
 * connection: 73 us a call with a 1 MiB backlog and 267 us with 64 MiB when the bytes moved,
 * 45 us with either since).  The consumed front is reclaimed on an append once it is as large
 * as what is kept, or half as large when the buffer would otherwise have to grow.  Simulated
 * over bounds from 16 KiB to 8 MiB with 64 KiB reads and 100-byte frames, each byte is then
 * moved at most 1.9 times, and a connection that keeps at most K bytes never allocates more
 * than 3 (K + 128 KiB) (4 times with the first rule alone).
 */
#ifndef RBGW_LISTENER_SLAB_H
#define RBGW_LISTENER_SLAB_H

#include <uv.h>

#include "rbgw/buf.h"

#define RBGW_READ_SLAB 65536

/* A connection's input kept across reads: buf.data[pos..buf.len).  Zero-initialised = empty. */
struct rbgw_inbuf {
    struct rbgw_buf buf; /* owned: no memory when empty */
    size_t pos;          /* bytes at the front already consumed */
};

/** Bytes kept and not yet consumed. */
static inline size_t
rbgw_inbuf_len(const struct rbgw_inbuf *b)
{
    return b->buf.len - b->pos;
}

/** Append p[0..n) (first reclaiming the consumed front: see above). */
void rbgw_inbuf_append(struct rbgw_inbuf *b, const char *p, size_t n);
/** Give the memory back. */
void rbgw_inbuf_free(struct rbgw_inbuf *b);

/* Zero-initialised = empty; allocated at the first read. */
struct rbgw_read_slab {
    char *data;        /* owned: RBGW_READ_SLAB bytes, or NULL before the first read */
    const void *owner; /* the connection on_read is serving from it, or NULL */
    size_t pos;        /* owner's first byte not yet consumed */
    size_t len;        /* bytes read into it */
};

/** libuv alloc_cb body: the slab (allocated on first use).  No connection may be served. */
uv_buf_t rbgw_slab_alloc(struct rbgw_read_slab *s);
/** on_read got n bytes into the slab for connection who: serve it from the slab. */
void rbgw_slab_serve(struct rbgw_read_slab *s, const void *who, size_t n);
/** on_read is done with who: append what it left unconsumed to own (unless drop_rest). */
void rbgw_slab_release(struct rbgw_read_slab *s, struct rbgw_inbuf *own, bool drop_rest);
/** who's input not yet consumed: the slab's rest while who is served from it, else own. */
const char *rbgw_slab_unserved(const struct rbgw_read_slab *s, const void *who,
                               const struct rbgw_inbuf *own, size_t *len);
/** Consume n bytes of who's input; an own buffer emptied gives its memory back. */
void rbgw_slab_drop(struct rbgw_read_slab *s, const void *who, struct rbgw_inbuf *own, size_t n);
/** Free the slab's memory (no connection may read into it any more). */
void rbgw_slab_free(struct rbgw_read_slab *s);

#endif

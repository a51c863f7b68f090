/*
 * listener/jsonconn.h: one pdns connection on a JSON stream connector (pipe or unix socket).
 * Private to listeners.
 *
 * pdns writes one request and waits for its reply (docs/protocol.md §1.6, §4.1, §4.2), so a
 * connection serves strictly one call at a time, in order: the next frame is dispatched only
 * when the previous reply has been written.  Input that arrives early stays buffered.
 *
 *   in ──read──> listener's slab ──frame scan──> request ──dispatch──> upstream
 *                     └─ unserved rest ──> rbuf (the conn's own, sized to it; freed when empty)
 *   out <──write "reply\n"── on_reply <──────────────────────────────────┘
 *
 * Memory (an idle pdns connection must cost little): every connection of a listener
 * reads into the listener's one read slab (libuv runs one read callback at a time on a loop,
 * and the request copies its call's bytes, so the slab is free again when on_read returns).
 * Only input not yet served when on_read returns (a partial frame, or calls pipelined behind
 * the one in flight) is copied into the connection's rbuf, which is freed once it is empty.
 * An idle connection thus holds its struct and its uv handle(s) only; a write request is
 * allocated only for a reply uv_try_write could not write at once.
 *
 * Flow control (a client that pipelines and does not read its replies must not make rbgw
 * buffer without limit): while a call is in flight, the unserved input plus the reply bytes
 * still in libuv's write queue may not pass max-conn-buffer; past it the connection stops
 * reading (the kernel's socket buffer then holds the client back) and resumes once it is back
 * under.  pdns never has input buffered while its call is in flight, so it never pauses.  A
 * reply that waits longer than write-timeout for the client to read it closes the connection
 * (the listener's write watchdog, listener/wdog.h; the pipe listener has none: its one client
 * is pdns itself, which gives up on its own timeout and closes the pipes).
 *
 * End of a connection: the peer is *gone* once a read or write fails, a reply is not read in
 * time, or it closed while its reply side is hung up (checked at EOF, so that a client that
 * only shut down its sending side still gets its replies).  A gone peer's unserved input is
 * dropped at once (nothing more is dispatched for it), the reply of the call in flight is
 * dropped when it comes, and then on_done runs.  At a plain EOF (or once intake was stopped)
 * the calls already received are still served, then on_done runs.  One log line says what was
 * dropped, never one per call.
 *
 * The owner embeds the struct, the uv streams and the slab; `in` and `out` are the same stream
 * for a socket and stdin/stdout for the pipe listener.  on_done runs once: the owner then
 * closes its handles.  The slab (listener/slab.h) and the watchdog must outlive every
 * connection using them (freed in the listener's destroy).
 *
 * Session (session.h): the connection is one pdns session, created with it and reported gone
 * in rbgw__jsonconn_deinit, when the owner closes.  A call still in flight then has its answer
 * swallowed by the request layer; the connection's reference to it is dropped at once if the
 * call is still upstream, or by on_write (UV_ECANCELED) if its reply is being written.
 */
#ifndef RBGW_LISTENER_JSONCONN_H
#define RBGW_LISTENER_JSONCONN_H

#include "rbgw/frame.h"
#include "rbgw/gateway.h"
#include "listener/slab.h"
#include "listener/wdog.h"

struct rbgw_jsonconn;
typedef void (*rbgw_jsonconn_cb)(struct rbgw_jsonconn *jc);

struct rbgw_jsonconn {
    struct rbgw_listener *l;      /* borrowed: the listener (gateway, limits) */
    struct rbgw_read_slab *slab;  /* borrowed: the listener's read slab */
    uv_stream_t *in;              /* borrowed: read side, owned by the embedding struct */
    uv_stream_t *out;             /* borrowed: write side (may equal in) */
    rbgw_jsonconn_cb on_done;     /* owner hook: peer gone or stopped, nothing in flight */
    struct rbgw_inbuf rbuf;       /* unserved input kept across reads; no memory when empty */
    struct rbgw_frame_scanner sc; /* scan state over the unserved input */
    struct rbgw_session *session; /* our reference until deinit: this pdns connection */
    struct rbgw_request *cur;     /* the call being served (our reference), or NULL */
    struct rbgw_wdog *wdog;       /* borrowed: the listener's write watchdog, or NULL */
    struct rbgw_wdog_wait wait;   /* on wdog while cur's reply waits in the write queue */
    struct rbgw_wbatch_item wb;   /* queued while cur's reply waits for the loop pass's end */
    size_t wb_off;                /* that reply's offset in the gateway's batch bytes */
    size_t wb_len;                /* its length, "\n" included */
    size_t max_request;           /* max-request-size */
    const char *what;             /* "pipe listener", "unix connection": for logs */
    struct rbgw_buf *squeeze;     /* borrowed: set by the pipe listener, replies are written
                                     without whitespace, squeezed here when they had some */
    unsigned reading : 1;         /* uv_read_start active */
    unsigned eof : 1;             /* EOF read: no more input (replies may still be read) */
    unsigned gone : 1;            /* peer gone: nothing more is served or written */
    unsigned stopped : 1;         /* intake stopped */
    unsigned discarding : 1;      /* dropping the rest of an oversized request */
    unsigned writing : 1;         /* cur's reply is in libuv's write queue */
    unsigned processing : 1;      /* process() is on the stack */
    unsigned done : 1;            /* on_done ran */
    unsigned defer : 1;           /* replies are written at the end of the loop pass (wbatch.h) */
};

/** wdog: the listener's write watchdog, or NULL for replies that may wait for ever. */
void rbgw__jsonconn_init(struct rbgw_jsonconn *jc, struct rbgw_listener *l,
                         struct rbgw_read_slab *slab, struct rbgw_wdog *wdog, uv_stream_t *in,
                         uv_stream_t *out, const char *what, rbgw_jsonconn_cb on_done);
/** Start reading.  <0 (libuv error) if reading cannot start. */
int rbgw__jsonconn_start(struct rbgw_jsonconn *jc) RBGW_MUSTCHECK;
/** Stop intake; on_done follows once the in-flight call (if any) is answered. */
void rbgw__jsonconn_stop(struct rbgw_jsonconn *jc);
/** The owner is closing its handles now: the session is gone, buffers are freed. */
void rbgw__jsonconn_deinit(struct rbgw_jsonconn *jc);

#endif

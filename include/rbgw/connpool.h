/*
 * connpool.h: the per-upstream connection pool every upstream transport plugs into.
 *
 * The pool does the bookkeeping that is the same for HTTP connections, unix sockets, pipe
 * co-processes and ZeroMQ sockets; a transport only opens, sends, reads and closes
 * (nginx's upstream hooks, h2o's socketpool lease API).  Every upstream has exactly one, embedded
 * in its transport's state and set up by rbgw_connpool_init, which also points u->cp at it:
 * fan-out and the gateway submit, probe, unpin and stop through u->cp, never through the
 * transport.  (In the configuration and in fan-out a "pool" is a group of upstreams,
 * pool=NAME:...; this module is always the connection pool, "connpool", to keep the two apart.)
 *
 *   pool ─┬─ idle    : conns with no call, LIFO (hot conns reused, cold ones reach idle-timeout)
 *         ├─ busy    : conns opening or carrying one call
 *         └─ waiters : calls queued while max-conns conns are busy, FIFO (= deadline order)
 *
 * One call per conn at a time: pdns never pipelines and pipe/unix/REQ peers cannot.
 * The pool owns one timer per conn, re-armed per phase: open (connect-timeout, bounded by the
 * call's deadline), call (the deadline), idle (idle-timeout).  When it fires the pool closes
 * the conn (a conn with an unanswered call is never reused) and fails the call.
 *
 * Retry rule: a call that meets a conn from the idle list that the peer closed is retried once
 * on a fresh conn (the peer dropped an idle keep-alive conn), if the request could not even be
 * written, or if no reply byte arrived and the call is idempotent (a read).  A write that may
 * have reached the responder is never sent twice, and a transaction's call never leaves its
 * pinned conn.
 *
 * Open failures back off: after a failed open (refused, spawn failure, initialize rejected),
 * further opens wait retry-after ms (doubling up to 8x on consecutive failures); calls that
 * need a new conn meanwhile fail at once as backoff (fan-out may try another member).  rbgw's
 * own shortage (a local failure: EMFILE, ENOMEM) does not back off: the upstream is not at
 * fault.
 *
 * Transport contract: a conn struct embeds `struct rbgw_upconn` as its first member.  Each of
 * ops->open and ops->send must end, now or later, in exactly one of the rbgw_upconn_* outcome
 * calls below; ops->close must (eventually) call rbgw_upconn_free().
 *
 * Failure classes (outcome.h): a failed call reaches call->done with the status that says why.
 * The pool picks it for what it sees itself (timeouts, queue limits, back-off, shutting down);
 * a transport names it in rbgw_upconn_error, since only it knows whether a connect was refused
 * or rbgw ran out of file descriptors (rbgw_outcome_from_uv / _from_errno).
 */
#ifndef RBGW_CONNPOOL_H
#define RBGW_CONNPOOL_H

#include "rbgw/gateway.h"
#include "rbgw/list.h"

struct rbgw_connpool;
struct rbgw_upconn;

/** One upstream leg of a request (owned by whoever submits it, usually in the request arena). */
struct rbgw_call {
    struct rbgw_request *req; /* borrowed: what to send (req->raw, req->call); NULL for probes */
    rbgw_call_done_cb done;   /* completion, exactly once */
    void *data;               /* the owner's */
    struct rbgw_list link;    /* on pool->waiters while queued */
    uint64_t deadline;        /* loop time (ms) by which the call must be answered; 0: now +
                                 the upstream's timeout (set by submit) */
    uint64_t submitted;       /* set by the pool: loop time (ms) of submit */
    uint64_t wait_deadline;   /* set by the pool: end of the wait in the queue */
    uint64_t pin;             /* id of the pinned conn to use (transaction affinity), 0 = any */
    uint64_t conn_id;         /* set by the pool: the conn that carried the call */
    unsigned retried : 1;     /* the retry rule was used once */
    unsigned sent : 1;        /* set by the pool: handed to a transport (may have reached the
                                 responder: a write must not be repeated) */
    unsigned pin_after : 1;   /* on success keep the conn pinned to this caller (start of a
                                 transaction) instead of returning it to the pool */
    unsigned unpin_after : 1; /* after this call's reply the conn returns to the pool
                                 (commit/abort) */
    unsigned probe : 1;       /* internal: an active health check (open a conn, nothing sent) */
    unsigned idempotent : 1;  /* a read outside a transaction: safe to send twice */
    unsigned said_false : 1;  /* set by the pool: the reply's result is false (RBGW_UPCONN_FALSE) */
};

enum rbgw_upconn_state {
    RBGW_UPCONN_OPENING, /* busy list: connecting / spawning / initialize */
    RBGW_UPCONN_BUSY,    /* busy list: carrying call */
    RBGW_UPCONN_IDLE,    /* idle list */
    RBGW_UPCONN_CLOSING, /* no list: ops->close called, waiting for rbgw_upconn_free */
};

struct rbgw_upconn {
    struct rbgw_connpool *cp;     /* borrowed owner */
    struct rbgw_list link;        /* on pool->idle or pool->busy */
    enum rbgw_upconn_state state; /* changed only by the pool (set_state) */
    struct rbgw_call *call;       /* borrowed: current call, or NULL */
    struct rbgw_dtimer timer;     /* phase timer (owned by the pool; dtimer.h) */
    uv_timer_t closer;            /* never started: closed with the conn, its close callback
                                     lets the conn be freed a loop pass later, never under a
                                     callback of its own that is still running */
    uint64_t id;                  /* per-pool sequence number, for logs */
    unsigned reused : 1;          /* has carried a call before (a peer close is expected) */
    unsigned got_bytes : 1;       /* transport: some reply byte arrived for the current call */
    unsigned pinned : 1;          /* reserved for one session's transaction (pool->pinned) */
    unsigned drop_after : 1;      /* unpinned while busy: closed when its current call ends */
    unsigned closer_closed : 1;   /* closer's close callback ran */
    unsigned transport_freed : 1; /* the transport called rbgw_upconn_free */
};

struct rbgw_upconn_ops {
    size_t conn_size; /* sizeof the transport's conn struct (embeds rbgw_upconn first) */
    /** Start connecting/spawning (and the initialize exchange).  Outcome: ready or error. */
    void (*open)(struct rbgw_upconn *c);
    /** Encode and write c->call.  Outcome: reply or error.  Sets c->got_bytes on input. */
    void (*send)(struct rbgw_upconn *c);
    /** Close every handle; call rbgw_upconn_free(c) once they are all closed.  Once only. */
    void (*close)(struct rbgw_upconn *c);
};

struct rbgw_connpool {
    struct rbgw_upstream *u;           /* borrowed owner */
    const struct rbgw_upconn_ops *ops; /* transport */
    void *transport;                   /* borrowed: the transport's per-upstream state */
    const char *target;                /* borrowed: peer for messages ("127.0.0.1:8080") */
    uint32_t max_conns;                /* max-conns= */
    uint32_t idle_timeout_ms;          /* idle-timeout= (0: keep forever) */
    uint32_t retry_after_ms;           /* back-off after an open failure */
    uint32_t max_queue;                /* max-queue= */
    uint32_t queue_timeout_ms;         /* queue-timeout= */
    struct rbgw_list idle;             /* idle conns, most recently used first */
    struct rbgw_list pinned;           /* idle conns reserved for a session's transaction */
    struct rbgw_list busy;             /* opening or busy conns */
    struct rbgw_list waiters;          /* queued calls */
    uint32_t nwaiters;                 /* calls on waiters */
    uint32_t nconns;                   /* conns on idle + pinned + busy */
    uint32_t open_failures;            /* consecutive failed opens (back-off exponent) */
    uint64_t next_open;                /* loop time before which no open starts */
    uint64_t next_id;                  /* conn ids */
    uv_timer_t wait_timer;             /* earliest waiter deadline, or the back-off end */
    uint32_t nalive;                   /* conns allocated and not yet freed (closing ones too) */
    bool stopping;                     /* stop() called */
    bool wait_timer_closed;            /* its close callback ran (after stop) */
};

/**
 * Set up the pool for u (reads max-conns, idle-timeout; retry-after from the options) and point
 * u->cp at it.
 */
int rbgw_connpool_init(struct rbgw_connpool *p, struct rbgw_upstream *u,
                       const struct rbgw_upconn_ops *ops, void *transport, const char *target,
                       char *err, size_t errlen) RBGW_MUSTCHECK;
/** Submit a call: always ends in exactly one call->done. */
void rbgw_connpool_submit(struct rbgw_connpool *p, struct rbgw_call *call);
/**
 * Active health check: open a fresh conn (connect / spawn + initialize), nothing else.  done is
 * called once with status 0 (the conn then joins the idle list) or <0 and a reason.
 */
void rbgw_connpool_probe(struct rbgw_connpool *p, rbgw_call_done_cb done, void *data);
/**
 * Release the conn pinned to a transaction that is over (its session ended, or its end call
 * failed): closed at once if idle, once its current call ends if busy (that call still gets its
 * reply; the responder then sees the connection drop, an abort).  No-op if the conn is gone or
 * no longer pinned.  Safe inside a call's done callback, the conn's own included.
 */
void rbgw_connpool_unpin(struct rbgw_connpool *p, uint64_t conn_id);
/**
 * Fail queued calls, close every conn.  Idempotent.  Once every handle of the pool is closed
 * (its timer, every conn's) it calls rbgw__upstream_part_closed(p->u), once, as the last thing
 * it does: the upstream may be freed then.
 */
void rbgw_connpool_stop(struct rbgw_connpool *p);

/* ---- outcomes, called by transports ---- */

/** open finished: the conn is connected (and initialized). */
void rbgw_upconn_ready(struct rbgw_upconn *c);
enum {
    RBGW_UPCONN_KEEP = 1,   /* the conn is still sound (e.g. HTTP 500 on a keep-alive conn) */
    RBGW_UPCONN_RETRY = 2,  /* no reply byte arrived: a read may go again on a fresh conn */
    RBGW_UPCONN_UNSENT = 4, /* the request could not be written: any call may go again */
    RBGW_UPCONN_FALSE = 8,  /* reply: its result is false (rbgw_rpc_check_reply said so) */
};

/**
 * The call got its reply (one-line vetted JSON).  log_text: the reply's non-empty "log" array
 * (rbgw_rpc_check_reply notes it), logged with the call's identity, or empty.  flags:
 * RBGW_UPCONN_KEEP if the conn may carry another call, RBGW_UPCONN_FALSE if the reply's result
 * is false (the call's said_false).
 */
void rbgw_upconn_reply(struct rbgw_upconn *c, struct rbgw_str reply, struct rbgw_str log_text,
                       int flags);
/**
 * The open or the call failed.  status is the class (outcome.h): RBGW_ECONNECT for any open
 * failure that is the upstream's (refused, spawn failed, initialize rejected), RBGW_ELOCAL for
 * rbgw's own shortage (no back-off then), RBGW_ECLOSED, RBGW_ETOOBIG, RBGW_EPROTO,
 * RBGW_ENOTSUP for calls.  Without KEEP the conn is closed.  The call (if any) is failed with
 * status and "<target>: <detail> (<class>)" (extra: responder log lines to pass through)
 * unless RETRY lets it go again on a fresh conn.
 */
void rbgw_upconn_error(struct rbgw_upconn *c, int status, int flags, const struct rbgw_json *extra,
                       const char *fmt, ...) RBGW_PRINTF(5, 6);
/** An idle conn was closed by the peer or became unusable: drop it. */
void rbgw_upconn_lost(struct rbgw_upconn *c, const char *why);
/** The transport has closed all its handles (after ops->close). */
void rbgw_upconn_free(struct rbgw_upconn *c);

/** Time left before the current call's deadline, in ms (0 if none or passed). */
uint64_t rbgw_upconn_time_left(const struct rbgw_upconn *c);

#endif

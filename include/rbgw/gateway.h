/*
 * gateway.h: the event-loop core: requests, listeners, upstreams and the gateway that owns them.
 *
 * Ownership (STYLE.md §3.4):
 *
 *   gateway ──owns──> listeners[]  ──own──> their connections ──ref──> sessions (session.h)
 *           │                                      └──ref──> requests ──ref──> their session
 *           └─owns──> upstreams[]  ──own──> their pools/conns  ──borrow (ref)──> requests
 *
 * A request is reference counted: the listener connection holds one reference from creation
 * until its reply is written (or the connection goes away), and an upstream holds one while the
 * request is in flight there.  The last unref frees the request and its arena in one step, and
 * drops the request's reference to its session.
 *
 * Exactly-one-answer rule: every request ends in exactly one rbgw_request_reply() or
 * rbgw_request_fail(); both are no-ops after the first (and log a bug at debug level).  The
 * reply goes to the listener through req->on_reply unless the request's session is gone
 * (rbgw_session_gone), in which case it is swallowed: the listener's connection (req->origin)
 * may be freed by then.
 *
 * Transports are behind two const vtables; core code never switches on a transport type.
 */
#ifndef RBGW_GATEWAY_H
#define RBGW_GATEWAY_H

#include <stdbool.h>

#include <uv.h>

#include "rbgw/buf.h"
#include "rbgw/config.h"
#include "rbgw/outcome.h"
#include "rbgw/rpc.h"
#include "rbgw/session.h"

struct rbgw_request;
struct rbgw_call;
struct rbgw_connpool;

/**
 * Completion of an upstream call (connpool.h): status 0 with the reply (one-line vetted JSON, valid
 * only during the callback), or a call-failure code (outcome.h: why it failed) with a one-line
 * reason (and extra: responder log lines to pass on, or NULL).  Runs exactly once per
 * submitted call; the call may be freed inside it.
 */
typedef void (*rbgw_call_done_cb)(struct rbgw_call *call, int status, struct rbgw_str reply,
                                  const struct rbgw_json *extra, const char *reason);

/** Listener hook: write the reply (one-line JSON, no newline) for req.  Called at most once. */
typedef void (*rbgw_reply_cb)(struct rbgw_request *req, struct rbgw_str reply);

struct rbgw_request {
    uint64_t id;                     /* per-process sequence number, for logs */
    uint32_t refs;                   /* listener + in-flight upstream */
    bool answered;                   /* reply or fail happened */
    struct rbgw_gateway *gw;         /* borrowed, gateway lifetime */
    struct rbgw_arena arena;         /* owned: tree, copies, encoded upstream bytes */
    struct rbgw_str raw;             /* the call's JSON text (in arena), trimmed */
    struct rbgw_rpc_call call;       /* the call: method always; root/params once parsed */
    struct rbgw_str trxid;           /* text of parameters.trxid when a number, else empty */
    bool parsed;                     /* call.root/params are built (rbgw_request_parse) */
    struct rbgw_session *session;    /* counted reference: the pdns connection it came on */
    void *origin;                    /* borrowed: the listener's per-request data (its conn, or
                                        a ZeroMQ envelope); used only while the session is not
                                        gone */
    rbgw_reply_cb on_reply;          /* the origin's reply hook */
    struct rbgw_buf reply;           /* owned: reply bytes while the listener writes them */
    uint64_t start_ns;               /* when the call was read, for latency logs */
    struct rbgw_upstream *upstream;  /* borrowed: where it was sent, for logs; NULL before */
    const char *outcome;             /* static token of why it is failed, for the access log
                                        (outcome.h's, "false", "no_upstream", "bad_request"),
                                        set before rbgw_request_fail; NULL: worked out there */
    struct rbgw_request *next_spare; /* in gw->spare while unused */
};

struct rbgw_upstream_ops {
    const char *name; /* "http", "unix", "pipe", "zeromq" */
    /**
     * Validate options, allocate u->impl and set up its connection pool (rbgw_connpool_init,
     * which sets u->cp); no I/O yet.  <0 with err on failure.  Calls, health checks,
     * transaction unpinning and stopping then go through u->cp (connpool.h).
     */
    int (*create)(struct rbgw_upstream *u, char *err, size_t errlen);
    /** Free u->impl once the loop has closed every handle. */
    void (*destroy)(struct rbgw_upstream *u);
};

struct rbgw_upstream {
    const struct rbgw_upstream_ops *ops;   /* transport */
    struct rbgw_gateway *gw;               /* borrowed */
    const struct rbgw_endpoint_conf *conf; /* borrowed from the config */
    char *name;                            /* owned: name= option, or "<type>#<index>" */
    uint32_t timeout_ms;                   /* request timeout (timeout=, default 1500) */
    uint32_t connect_timeout_ms;           /* connect-timeout=, default min(1000, timeout) */
    struct rbgw_outcome_counts outcomes;   /* legs sent here, by how they ended (fanout.c) */
    void *impl;                            /* owned by the transport */
    struct rbgw_connpool *cp;              /* borrowed: the connection pool inside impl, set by
                                              rbgw_connpool_init (connpool.h) */
};

struct rbgw_listener_ops {
    const char *name;
    /** Validate options, allocate l->impl and start accepting/reading.  <0 with err. */
    int (*start)(struct rbgw_listener *l, char *err, size_t errlen);
    /** Stop reading/accepting new calls; in-flight replies are still written.  Idempotent. */
    void (*stop)(struct rbgw_listener *l);
    /** Close every handle (called once nothing is in flight).  Idempotent. */
    void (*close)(struct rbgw_listener *l);
    /** Free l->impl once the loop has closed every handle. */
    void (*destroy)(struct rbgw_listener *l);
};

struct rbgw_listener {
    const struct rbgw_listener_ops *ops;   /* transport */
    struct rbgw_gateway *gw;               /* borrowed */
    const struct rbgw_endpoint_conf *conf; /* borrowed from the config */
    void *impl;                            /* owned by the transport */
    bool done;                             /* listener has finished (pipe: EOF handled) */
};

struct rbgw_gateway {
    uv_loop_t *loop;                 /* borrowed */
    const struct rbgw_config *cfg;   /* borrowed, immutable */
    struct rbgw_listener *listeners; /* owned array */
    size_t nlisteners;
    struct rbgw_upstream *upstreams; /* owned array */
    size_t nupstreams;
    struct rbgw_fanout *fanout; /* owned: routing, health, transactions (fanout.c) */
    uint64_t next_id;           /* request ids */
    uint64_t inflight;          /* requests created and not yet freed */
    uint64_t next_session_id;   /* session ids (session.c) */
    uint64_t nsessions;         /* sessions not yet ended (all end before deinit) */
    struct rbgw_request *spare; /* freed requests kept for reuse (request.c), a stack */
    unsigned nspare;            /* how many */
    bool stopping;              /* stop requested: no new requests, close when idle */
    bool stopped;               /* handles closing */
    uv_signal_t sig[2];         /* SIGINT, SIGTERM */
    int exit_code;              /* what main returns */
};

/* ---- gateway ---- */

/** Build listeners and upstreams from cfg (no I/O).  <0 with err naming the entry. */
int rbgw_gateway_init(struct rbgw_gateway *gw, uv_loop_t *loop, const struct rbgw_config *cfg,
                      char *err, size_t errlen) RBGW_MUSTCHECK;
/** Start upstreams and listeners, install signal handlers. */
int rbgw_gateway_start(struct rbgw_gateway *gw, char *err, size_t errlen) RBGW_MUSTCHECK;
/** Graceful stop: stop listeners, finish in-flight requests, then close everything. */
void rbgw_gateway_stop(struct rbgw_gateway *gw);
/** A listener reports it has finished (pipe EOF); the gateway stops when all have. */
void rbgw_gateway_listener_done(struct rbgw_listener *l);
/** Free what init allocated; call after uv_run returned. */
void rbgw_gateway_deinit(struct rbgw_gateway *gw);

/** Transport tables: rbgw_<t>_listener_ops / rbgw_<t>_upstream_ops, NULL if not built. */
const struct rbgw_listener_ops *rbgw_listener_ops_for(enum rbgw_transport t);
const struct rbgw_upstream_ops *rbgw_upstream_ops_for(enum rbgw_transport t);

/**
 * Read a numeric upstream option (RBGW_UPSTREAM_INT_OPTS in config.h: default and range from
 * that one table).  Returns 0 or RBGW_ECONFIG with a reason in err.
 */
int rbgw_upstream_int_opt(const struct rbgw_upstream *u, const char *name, long *out, char *err,
                          size_t errlen) RBGW_MUSTCHECK;
/** The same for a listener option (RBGW_LISTENER_INT_OPTS in config.h). */
int rbgw_listener_int_opt(const struct rbgw_listener *l, const char *name, long *out, char *err,
                          size_t errlen) RBGW_MUSTCHECK;

/* ---- requests ---- */

/**
 * New request of session s for the JSON text raw[0..len) (copied).  refs = 1 (the caller's,
 * i.e. the listener's); the request holds a reference to s until it is freed.  origin and
 * on_reply are the listener's: on_reply(req, reply) runs at most once, and never once s is
 * gone.  Nothing is parsed yet.
 */
struct rbgw_request *rbgw_request_new(struct rbgw_session *s, const char *raw, size_t len,
                                      void *origin, rbgw_reply_cb on_reply);
void rbgw_request_ref(struct rbgw_request *req);
void rbgw_request_unref(struct rbgw_request *req);

/**
 * Decode and route the request: malformed -> fail; initialize -> answered locally with true
 * (the JSON listeners' rule); otherwise submitted to the routed upstream.  Always leads to
 * exactly one answer.
 */
void rbgw_request_dispatch(struct rbgw_request *req);

/**
 * Build the call's JSON tree (params) if not done yet: translation to REST and name-based
 * routing need it; JSON-to-JSON forwarding does not.  Returns 0 or RBGW_EPARSE with a reason.
 */
int rbgw_request_parse(struct rbgw_request *req, char *err, size_t errlen) RBGW_MUSTCHECK;

/** Answer with the upstream's reply (one-line JSON object, already vetted). */
void rbgw_request_reply(struct rbgw_request *req, struct rbgw_str reply);
/**
 * Answer {"result":false,"log":["rbgw: <reason>", extra...]} and log the reason at warning
 * level with the request's identity (rate-limited per upstream: log.h).  extra: a JSON array
 * to append to log, or NULL.
 */
void rbgw_request_fail(struct rbgw_request *req, const struct rbgw_json *extra, const char *fmt,
                       ...) RBGW_PRINTF(3, 4);

#endif

/*
 * gateway.h: the event-loop core: requests, listeners, upstreams, generations and the gateway
 * that owns them.
 *
 * Ownership (docs/architecture.md, "Ownership"):
 *
 *   gateway ──owns──> listeners (all_listeners) ──own──> connections ──ref──> sessions
 *           │                                                 └──ref──> requests ──ref──> session
 *           ├──ref──> current generation ──owns──> config, routing (fan-out)
 *           │              ^     │
 *           │              │     └──ref──> upstreams ──own──> pool/conns, fan-out member
 *           │              ├──ref── fan-out of each request in flight (request arena)
 *           │              └──ref── each open transaction (session.h)
 *           └──lists──> all_upstreams, dead_gens (bookkeeping for deferred frees)
 *
 * A request is reference counted: the listener connection holds one reference from creation
 * until its reply is written (or the connection goes away), and an upstream holds one while the
 * request is in flight there.  The last unref frees the request and its arena in one step, and
 * drops the request's reference to its session.
 *
 * Reload (rbgw_gateway_reload) builds a new generation beside the current one and swaps the
 * gateway's pointer: older generations live on as long as a call or a transaction uses them.
 * Upstreams are shared between generations by reference; listeners belong to the gateway and
 * are kept, added or retired by comparing listen= texts.  Frees triggered by a reference
 * going away (a generation, a retired upstream or listener) run from the gateway's reaper
 * timer on the next loop iteration, never inside the callback that dropped the reference.
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
#include "rbgw/dtimer.h"
#include "rbgw/list.h"
#include "rbgw/wbatch.h"
#include "rbgw/metrics.h"
#include "rbgw/outcome.h"
#include "rbgw/rpc.h"
#include "rbgw/session.h"
#include "rbgw/tls.h"

struct rbgw_request;
struct rbgw_tls_stats;
struct rbgw_call;
struct rbgw_connpool;
struct rbgw_admin;
struct rbgw_cache;

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
    struct rbgw_str params;          /* text of the "parameters" value (in raw) when the call
                                        was peeked (not parsed), else empty (cache.h keys) */
    bool parsed;                     /* call.params is built (rbgw_request_parse); call.root
                                        too, unless peeked */
    bool peeked;                     /* the peek found method and parameters in raw (params) */
    struct rbgw_session *session;    /* counted reference: the pdns connection it came on */
    void *origin;                    /* borrowed: the listener's per-request data (its conn, or
                                        a ZeroMQ envelope); used only while the session is not
                                        gone */
    rbgw_reply_cb on_reply;          /* the origin's reply hook */
    struct rbgw_buf reply;           /* owned: reply bytes while the listener writes them */
    uint64_t start_ns;               /* when the call was read, for latency logs */
    uint64_t leg_end_ns;             /* when its last upstream leg ended (fanout.c), 0 before:
                                        the answer that follows at once is timed with it */
    struct rbgw_upstream *upstream;  /* borrowed: where it was sent, for logs; NULL before;
                                        valid until the answer (its generation may go then) */
    struct rbgw_request *next_spare; /* in gw->spare while unused */
};

struct rbgw_upstream_ops {
    const char *name; /* "http", "unix", "pipe", "zeromq" */
    /**
     * Validate options, allocate u->impl and set up its connection pool (rbgw_connpool_init,
     * which sets u->cp); no I/O yet.  <0 with err on failure, and then no handle is left open.
     * Global settings (max-reply-size) are read through u->gw->cfg.  Calls, health checks,
     * transaction unpinning and stopping then go through u->cp (connpool.h).
     */
    int (*create)(struct rbgw_upstream *u, char *err, size_t errlen);
    /** Free u->impl once its connection pool has closed every handle. */
    void (*destroy)(struct rbgw_upstream *u);
};

struct rbgw_member;

/* Every counter of an upstream, as a reload hands them over. */
struct rbgw_upstream_counts {
    struct rbgw_outcome_counts outcomes;
    struct rbgw_upstream_stats stats;
    struct rbgw_tls_stats tls;
};

/*
 * An upstream is shared by the generations that list it (reference counted): a reload that
 * keeps it (same name, same connection string, same max-reply-size) keeps the object, and with
 * it its connections, its health (the fan-out member) and its counters.  One that replaces an
 * upstream of the same name starts with a fresh pool and health but with that upstream's
 * counters, so the series a name is exported under never goes back; what the replaced one
 * counts after the reload (the calls it still finishes) is added to the upstream of its name
 * in force when it is released (handover).  When the last generation listing it is freed
 * (every call and transaction dispatched there is over) it is released: its pool stops (idle
 * conns close) and it is freed once every handle is closed.
 */
struct rbgw_upstream {
    const struct rbgw_upstream_ops *ops;   /* transport */
    struct rbgw_gateway *gw;               /* borrowed */
    const struct rbgw_endpoint_conf *conf; /* points at own_conf */
    struct rbgw_endpoint_conf own_conf;    /* owned copy of its upstream= entry */
    char *name;                            /* owned: name= option, or "<type>#<index>" */
    size_t max_reply_size;                 /* max-reply-size it was created with (identity) */
    uint32_t timeout_ms;                   /* request timeout (timeout=, default 1500) */
    uint32_t connect_timeout_ms;           /* connect-timeout=, default min(1000, timeout) */
    struct rbgw_outcome_counts outcomes;   /* legs sent here, by how they ended (fanout.c) */
    struct rbgw_upstream_stats stats;      /* the rest of its counters (metrics.h) */
    void *impl;                            /* owned by the transport */
    struct rbgw_connpool *cp;              /* borrowed: the connection pool inside impl, set by
                                              rbgw_connpool_init (connpool.h) */
    const struct rbgw_tls_stats *tls;      /* borrowed from impl: TLS handshake counters of an
                                              https:// upstream (tls.h), or NULL */
    struct rbgw_tls_stats tls_carried;     /* handshakes counted by the upstreams of the same
                                              name this one replaced (exported as their sum) */
    struct rbgw_member *member;            /* owned: fan-out's state for it: health, legs in
                                              flight, check timer (fanout.c) */
    struct rbgw_upstream_counts *handover; /* owned, or NULL: its counters when a reload gave
                                              its name to a new upstream (which went on from
                                              them); what it counts after that goes to the
                                              name's upstream when it is released */
    uint32_t refs;                         /* generations listing it */
    uint32_t open_parts;                   /* pool and member whose handles are not all closed */
    struct rbgw_list link;                 /* on gw->all_upstreams until freed */
};

struct rbgw_listener_ops {
    const char *name;
    /**
     * Cannot be added or removed by a reload (the pipe listener: stdin and stdout are pdns's,
     * there is nothing to open again and nothing else to read).
     */
    bool fixed;
    /** Validate options, allocate l->impl and start accepting/reading.  <0 with err; if
     * l->impl is set by then, close() still releases what was made. */
    int (*start)(struct rbgw_listener *l, char *err, size_t errlen);
    /** Stop reading/accepting new calls; in-flight replies are still written.  Idempotent. */
    void (*stop)(struct rbgw_listener *l);
    /**
     * Close every handle (called once nothing is in flight).  Idempotent.  Once every handle is
     * closed (possibly before close returns) the listener calls rbgw_gateway_listener_closed.
     */
    void (*close)(struct rbgw_listener *l);
    /** Free l->impl once the loop has closed every handle. */
    void (*destroy)(struct rbgw_listener *l);
};

/*
 * A listener lives from the configuration that adds it to the reload that removes it (or the
 * end): a reload keeps a listener whose listen= text is unchanged, socket, connections and
 * sessions included.  A removed one stops taking calls at once, is closed when the last request
 * of its sessions is freed (every answer written) and freed once its handles are closed.
 */
struct rbgw_listener {
    const struct rbgw_listener_ops *ops;   /* transport */
    struct rbgw_gateway *gw;               /* borrowed */
    const struct rbgw_endpoint_conf *conf; /* points at own_conf */
    struct rbgw_endpoint_conf own_conf;    /* owned copy of its listen= entry */
    char *name;                            /* owned: name= option, or "<type>#<index>" */
    void *impl;                            /* owned by the transport */
    bool done;                             /* listener has finished (pipe: EOF handled) */
    uint64_t inflight;                     /* requests of its sessions not yet freed */
    bool retiring;                         /* removed by a reload: stopped, closes when idle */
    bool closing;                          /* ops->close called */
    bool closed;                           /* every handle closed (or none was made) */
    struct rbgw_list link;                 /* on gw->all_listeners until freed */
    struct rbgw_listener_stats stats;      /* its calls' answers, sessions (metrics.h) */
};

/*
 * A generation: one configuration in force, with the routing built from it and references to
 * the upstreams it uses.  The gateway points at the current one; a request's fan-out holds a
 * reference to the generation it was dispatched in, and an open transaction to the one that
 * started it, so calls in flight and transactions finish where they began whatever reloads
 * happen meanwhile.  The last reference frees it (deferred to the loop: never inside a caller's
 * callback), which releases the upstreams it alone used.
 */
struct rbgw_generation {
    uint64_t id;                      /* 1 at start, +1 per reload that took effect */
    uint32_t refs;                    /* the gateway's while current + fan-outs + transactions */
    struct rbgw_gateway *gw;          /* borrowed */
    const struct rbgw_config *cfg;    /* the caller's (generation 1) or &own_cfg */
    struct rbgw_config own_cfg;       /* owned: a reload's configuration (empty for the first) */
    struct rbgw_upstream **upstreams; /* owned array of counted references, in config order */
    size_t nupstreams;                /* entries in upstreams */
    struct rbgw_fanout *fanout;       /* owned: pools, routes, balancing state (fanout.c) */
    struct rbgw_list dead_link;       /* on gw->dead_gens once unreferenced */
};

/**
 * Where a reload reads its configuration: the same sources as at start (main.c: rbgw_config_load
 * with the process's command line and environment).  Fills *out (then owned by the caller) or
 * returns <0 with the reason ("file:line: key: problem").
 */
typedef int (*rbgw_config_loader)(void *ctx, struct rbgw_config *out, char *err, size_t errlen);

#define RBGW_RELOAD_ERR_MAX 512

struct rbgw_gateway {
    uv_loop_t *loop;                           /* borrowed */
    const struct rbgw_config *cfg;             /* borrowed: the current generation's; while a
                                                  reload builds upstreams, the new one (their
                                                  create reads global settings here) */
    struct rbgw_generation *gen;               /* current generation (our reference) */
    uint64_t generation;                       /* gen->id: 1 at start, +1 per reload */
    uint64_t reloads_ok;                       /* reloads that took effect */
    uint64_t reloads_failed;                   /* reloads refused (nothing changed) */
    char reload_error[RBGW_RELOAD_ERR_MAX];    /* the last refusal's reason, "" if none */
    rbgw_config_loader load;                   /* configuration source for reloads, or NULL */
    void *load_ctx;                            /* its argument */
    const struct rbgw_upstream_ops *force_ops; /* tests: transport of every upstream, or NULL */
    struct rbgw_listener **listeners;          /* owned array: the current ones, config order */
    size_t nlisteners;                         /* entries in listeners */
    struct rbgw_list all_listeners;            /* every listener not yet freed (owned) */
    struct rbgw_list all_upstreams;            /* every upstream not yet freed (owned through
                                                  generation references) */
    struct rbgw_list dead_gens;                /* generations with no reference, to free */
    struct rbgw_cache *cache;                  /* owned: read cache and coalescing
                                                  (cachegw.h), dropped at every reload */
    double retry_tokens;                       /* fan-out's retry budget, shared by every
                                                  generation (fanout.c) */
    uint64_t retry_tokens_ts;                  /* loop time of its last refill */
    uint64_t next_id;                          /* request ids */
    uint64_t inflight;                         /* requests created and not yet freed */
    uint64_t next_session_id;                  /* session ids (session.c) */
    uint64_t nsessions;                        /* sessions not yet ended (none at deinit) */
    struct rbgw_request *spare;                /* freed requests kept for reuse (request.c) */
    unsigned nspare;                           /* how many */
    bool started;                              /* rbgw_gateway_start ran: listeners run */
    bool stopping;                             /* stop requested: no new calls, close when idle */
    bool stopped;                              /* handles closing */
    bool debug_toggled;                        /* SIGUSR2 turned debug logging on */
    unsigned stop_signals;                     /* SIGINT/SIGTERM/SIGQUIT received */
    int exit_code;                             /* what main returns */
    uv_signal_t sig[6];                        /* HUP, INT, TERM, QUIT, USR1, USR2 */
    bool sig_inited;                           /* sig[] initialised */
    uv_timer_t drain;                          /* bounds a stop by the deadline */
    bool drain_inited;                         /* drain initialised */
    uv_timer_t reaper;                         /* runs deferred frees on the next iteration */
    bool reaper_inited;                        /* reaper initialised (closed with the rest) */
    struct rbgw_wbatch wbatch;                 /* writes deferred to the end of the loop pass
                                                  (wbatch.h; closed with the rest) */
    struct rbgw_dtimers dtimers;               /* upstream connections' timers, which leave
                                                  the loop's sleep untimed (dtimer.h; closed
                                                  with the rest) */
    struct rbgw_admin *admin;                  /* owned: the admin endpoint (admin.h), or NULL */
    uint64_t start_time;                       /* wall-clock seconds at init, for metrics */
    uint64_t limit_hits[RBGW_LIMIT_COUNT];     /* times each limit was hit (metrics.h) */
    int reserve_fd;                            /* a descriptor held back for shedding
                                                  connections at EMFILE (listener/admit.h),
                                                  or -1 */
};

/* ---- gateway ---- */

/**
 * Build generation 1 from cfg (borrowed: it must outlive the gateway) and the listeners (not
 * started); no I/O.  <0 with err naming the entry; then nothing is left to free.
 */
int rbgw_gateway_init(struct rbgw_gateway *gw, uv_loop_t *loop, const struct rbgw_config *cfg,
                      char *err, size_t errlen) RBGW_MUSTCHECK;
/** rbgw_gateway_init with every upstream on the transport ops (tests' in-process transports,
 * reloads included); NULL: each upstream's own transport. */
int rbgw_gateway_init_with(struct rbgw_gateway *gw, uv_loop_t *loop, const struct rbgw_config *cfg,
                           const struct rbgw_upstream_ops *ops, char *err,
                           size_t errlen) RBGW_MUSTCHECK;
/** Where reloads read the configuration (main.c: load_config, the same sources as at start). */
void rbgw_gateway_set_loader(struct rbgw_gateway *gw, rbgw_config_loader load, void *ctx);
/** Start listeners, install the signal handlers (docs/operations.md, "Signals"). */
int rbgw_gateway_start(struct rbgw_gateway *gw, char *err, size_t errlen) RBGW_MUSTCHECK;
/**
 * Graceful stop (drain): listeners stop taking calls, calls in flight are answered, then
 * everything closes.  Bounded: after deadline= (+ a grace for writing the answers) whatever is
 * left is failed as shutting down and the listeners are closed.  Idempotent.
 */
void rbgw_gateway_stop(struct rbgw_gateway *gw);
/**
 * Re-read the configuration (the loader) and put it in force: 0, or <0 with the reason
 * ("file:line: key: problem") if it was refused, in which case nothing changed.  The new
 * configuration is checked whole first (loading, routing, every new upstream created, every
 * new listener started); then listeners whose text is unchanged are kept, removed ones stop
 * and close once idle, upstreams with the same name, text and max-reply-size are carried over
 * as they are, and calls and transactions in flight finish in the generation they started
 * in.  Counts reloads_ok / reloads_failed, keeps the last refusal in reload_error, logs either.
 */
int rbgw_gateway_reload(struct rbgw_gateway *gw, char *err, size_t errlen);
/** A listener reports it has finished (pipe EOF); the gateway stops when all have. */
void rbgw_gateway_listener_done(struct rbgw_listener *l);
/** A listener reports that every handle it had is closed (after ops->close). */
void rbgw_gateway_listener_closed(struct rbgw_listener *l);
/** Free what init allocated; call after rbgw_gateway_stop and once uv_run returned. */
void rbgw_gateway_deinit(struct rbgw_gateway *gw);
/** Log the one-line status summary (SIGUSR1) at warning level. */
void rbgw_gateway_log_status(struct rbgw_gateway *gw);

/* The current generation's listeners and upstreams, in configuration order (O(1)). */
size_t rbgw_gateway_nlisteners(const struct rbgw_gateway *gw);
struct rbgw_listener *rbgw_gateway_listener(const struct rbgw_gateway *gw, size_t i);
size_t rbgw_gateway_nupstreams(const struct rbgw_gateway *gw);
struct rbgw_upstream *rbgw_gateway_upstream(const struct rbgw_gateway *gw, size_t i);

/* Internal (fanout.c, connpool.c, request.c). */
void rbgw__generation_ref(struct rbgw_generation *g);
void rbgw__generation_unref(struct rbgw_generation *g);
/** One part of u (its pool, its fan-out member) has closed every handle. */
void rbgw__upstream_part_closed(struct rbgw_upstream *u);
/** A request of l's sessions was freed. */
void rbgw__listener_request_freed(struct rbgw_listener *l);

/** True while l accepts calls: started, not finished, the gateway not stopping. */
bool rbgw_listener_is_open(const struct rbgw_listener *l);

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
 * Hand req the peek of its call, made by the listener on raw (the text given to
 * rbgw_request_new) as it framed the call (rbgw_rpc_peek_frame): dispatch then does not scan
 * the call again.  pk's texts are moved to req's copy of raw.
 */
void rbgw_request_set_peek(struct rbgw_request *req, const struct rbgw_rpc_peek *pk,
                           const char *raw);

/**
 * Decode and route the request: malformed -> fail; initialize -> answered locally with true
 * (the JSON listeners' rule); otherwise submitted to the routed upstream.  Always leads to
 * exactly one answer.
 */
void rbgw_request_dispatch(struct rbgw_request *req);

/**
 * Build the call's JSON tree (params) if not done yet: translation to REST and name-based
 * routing need it; JSON-to-JSON forwarding does not.  A peeked call gets its parameters built
 * from their text, without yajl (rbgw_json_parse_valid), and no call.root.  Returns 0 or
 * RBGW_EPARSE with a reason.
 */
int rbgw_request_parse(struct rbgw_request *req, char *err, size_t errlen) RBGW_MUSTCHECK;

/**
 * Answer with the upstream's reply (one-line JSON object, already vetted).  said_false: its
 * result is false (the responder said no), which the metrics count apart from ok.
 */
void rbgw_request_reply(struct rbgw_request *req, struct rbgw_str reply, bool said_false);
/**
 * Answer {"result":false,"log":["rbgw: <reason>", extra...]} and log the reason at warning
 * level with the request's identity.  extra: a JSON array to append to log, or NULL.  status
 * says why, for the metrics (outcome.h, rbgw_answer_of): the call-failure code of the leg that
 * failed, RBGW_ENOUPSTREAM (no upstream could be tried), RBGW_EPARSE (pdns's call could not
 * be read), or 0 (a responder's false made the answer false).
 */
void rbgw_request_fail(struct rbgw_request *req, int status, const struct rbgw_json *extra,
                       const char *fmt, ...) RBGW_PRINTF(4, 5);
/**
 * Count req's answer without sending one through rbgw_request_reply/fail: for a listener that
 * writes an answer of its own (the HTTP listener's 400 to a request that is not HTTP).  Marks
 * req answered.
 */
void rbgw_request_answered(struct rbgw_request *req, enum rbgw_answer a);

#endif

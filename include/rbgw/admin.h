/*
 * admin.h: the admin endpoint: a small HTTP/1.1 server for operators and their tools, on the
 * gateway's loop, apart from every listener pdns uses (admin=, off by default).
 *
 *   GET /metrics   Prometheus text format 0.0.4 (metrics.h)
 *   GET /healthz   200 "ok": the loop is alive and answering
 *   GET /readyz    200 when every listener is open and every route has an upstream in
 *                  service, else 503 with a short JSON reason
 *   GET /status    JSON: listeners, upstreams with their state and pools, configuration
 *                  generation (`rbgw status` prints it as a table)
 *   POST /reload   re-read the configuration (rbgw_gateway_reload); 200 or 500 with the reason
 *
 * HEAD works wherever GET does.  One request per connection (the answer says Connection:
 * close), which keeps every connection's life short and its state small.
 *
 * Bounded, so that a slow or hostile client can neither hold the loop nor grow memory (the
 * limits are admin= options, config.h RBGW_ADMIN_INT_OPTS):
 *   max-conns          connections at once; one more is answered 503 and closed at once
 *   max-request-size   bytes read before the request is complete; beyond it 431 and close
 *   timeout            ms from accept to the end of the answer's write, whatever the client
 *                      does meanwhile (trickling one byte at a time, or not reading the
 *                      answer): then 408 if nothing was answered yet, and close
 * Requests are parsed (llhttp) straight from one read buffer shared by all connections, and
 * only the first bytes of the target are kept, so a connection holds its struct, its two
 * handles and, while it is written, its answer.  Every answer is computed at once, on the loop,
 * from counters and state already in memory.
 */
#ifndef RBGW_ADMIN_H
#define RBGW_ADMIN_H

#include "rbgw/config.h"

struct rbgw_gateway;
struct rbgw_admin;

/* The paths it serves, for its own counters.  X(ID, path) */
#define RBGW_ADMIN_PATHS(X)                                                                        \
    X(METRICS, "/metrics")                                                                         \
    X(HEALTHZ, "/healthz")                                                                         \
    X(READYZ, "/readyz")                                                                           \
    X(STATUS, "/status")                                                                           \
    X(RELOAD, "/reload")

enum rbgw_admin_path {
#define RBGW_X(id, path) RBGW_ADMIN_P_##id,
    RBGW_ADMIN_PATHS(RBGW_X)
#undef RBGW_X
        RBGW_ADMIN_P_OTHER, /* anything else (404) */
    RBGW_ADMIN_NPATHS
};

/* The status codes its answers use.  X(code) */
#define RBGW_ADMIN_CODES(X) X(200) X(404) X(405) X(500) X(503)

enum rbgw_admin_code {
#define RBGW_X(code) RBGW_ADMIN_C_##code,
    RBGW_ADMIN_CODES(RBGW_X)
#undef RBGW_X
        RBGW_ADMIN_NCODES
};

/* Why a connection was closed without an answer to a request.  X(ID, label, status, text) */
#define RBGW_ADMIN_REFUSALS(X)                                                                     \
    X(MAX_CONNS, "max_conns", 503, "Service Unavailable")                                          \
    X(TOO_LARGE, "too_large", 431, "Request Header Fields Too Large")                              \
    X(TIMEOUT, "timeout", 408, "Request Timeout")                                                  \
    X(MALFORMED, "malformed", 400, "Bad Request")

enum rbgw_admin_refusal {
#define RBGW_X(id, label, status, text) RBGW_ADMIN_R_##id,
    RBGW_ADMIN_REFUSALS(RBGW_X)
#undef RBGW_X
        RBGW_ADMIN_NREFUSALS
};

struct rbgw_admin_stats {
    uint64_t requests[RBGW_ADMIN_NPATHS][RBGW_ADMIN_NCODES]; /* answered, by path and status */
    uint64_t refused[RBGW_ADMIN_NREFUSALS];                  /* connections closed unserved */
};

/** Label values: the path ("/metrics", ..., "other"), the status ("200"), the reason. */
const char *rbgw_admin_path_name(enum rbgw_admin_path p);
int rbgw_admin_code_value(enum rbgw_admin_code c);
const char *rbgw_admin_refusal_name(enum rbgw_admin_refusal r);

/**
 * Start serving gw's admin endpoint as ec (admin=) says: bind, listen.  <0 with err (cannot
 * bind, a live server on the socket path).  *out is set on success.
 */
int rbgw_admin_start(struct rbgw_gateway *gw, const struct rbgw_endpoint_conf *ec,
                     struct rbgw_admin **out, char *err, size_t errlen) RBGW_MUSTCHECK;
/** Close the server and every connection (the gateway is closing).  NULL or twice: no-op. */
void rbgw_admin_close(struct rbgw_admin *ad);
/** Free after the loop has run the close callbacks.  NULL: no-op. */
void rbgw_admin_free(struct rbgw_admin *ad);
/** Its counters (NULL for NULL). */
const struct rbgw_admin_stats *rbgw_admin_stats(const struct rbgw_admin *ad);

#endif

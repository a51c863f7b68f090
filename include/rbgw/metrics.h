/*
 * metrics.h: what rbgw counts, where the counts live, and the Prometheus text they become.
 *
 * Counters live in the objects they describe (a listener's in struct rbgw_listener, an
 * upstream's in struct rbgw_upstream, the gateway's in struct rbgw_gateway) as plain integers:
 * there is one loop, so no locks and no atomics, and the hot path only adds to a field it
 * already has in cache.  Nothing is allocated per call.  Gauges (connections, queue depth,
 * health, calls in flight) are not kept at all: the renderer reads them from the objects'
 * state when a scrape comes (metrics.c).  An upstream that survives a configuration reload
 * keeps its object, and with it its counters.
 *
 * Latency histograms have one fixed array of buckets (RBGW_HIST_BUCKETS below), observed with
 * a short linear scan from the smallest bucket: the calls that matter for cost are the fast
 * ones, which stop after a few compares.  Buckets go from 10 µs to 10 s in 1-2.5-5 steps:
 *
 *   10 µs .. 500 µs   rbgw's own time and a local responder's (a unix→unix call costs rbgw
 *                     about 20 µs of CPU; a responder answering from memory, tens of µs)
 *   1 ms .. 500 ms    responders that do I/O (a database, a remote HTTP service)
 *   1 s, 2 s          the end of the road: upstream timeout= is 1.5 s and deadline= 1.8 s by
 *                     default, and pdns gives up on a call after 2 s (its remote-backend
 *                     timeout), so 2 s rather than 2.5 s: a call slower than that was lost
 *   5 s, 10 s         misconfigured timeouts above pdns's
 *
 * 19 bounds plus +Inf: 160 bytes per histogram, one per listener and one per upstream.
 */
#ifndef RBGW_METRICS_H
#define RBGW_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "rbgw/buf.h"
#include "rbgw/json.h"
#include "rbgw/method.h"
#include "rbgw/outcome.h"

/*   X(upper bound in µs, the same in seconds as the le label writes it) */
#define RBGW_HIST_BUCKETS(X)                                                                       \
    X(10, "1e-05")                                                                                 \
    X(25, "2.5e-05")                                                                               \
    X(50, "5e-05")                                                                                 \
    X(100, "0.0001")                                                                               \
    X(250, "0.00025")                                                                              \
    X(500, "0.0005")                                                                               \
    X(1000, "0.001")                                                                               \
    X(2500, "0.0025")                                                                              \
    X(5000, "0.005")                                                                               \
    X(10000, "0.01")                                                                               \
    X(25000, "0.025")                                                                              \
    X(50000, "0.05")                                                                               \
    X(100000, "0.1")                                                                               \
    X(250000, "0.25")                                                                              \
    X(500000, "0.5")                                                                               \
    X(1000000, "1")                                                                                \
    X(2000000, "2")                                                                                \
    X(5000000, "5")                                                                                \
    X(10000000, "10")

#define RBGW_HIST_NBOUNDS 19

/** The bucket bounds in ns, ascending (RBGW_HIST_BUCKETS). */
extern const uint64_t rbgw_hist_bounds_ns[RBGW_HIST_NBOUNDS];
/** The same as le label values ("1e-05" ... "10"). */
extern const char *const rbgw_hist_bounds_text[RBGW_HIST_NBOUNDS];

struct rbgw_hist {
    uint64_t n[RBGW_HIST_NBOUNDS + 1]; /* observations per bucket (not cumulative); the last
                                          one holds those above the largest bound */
    uint64_t sum_ns;                   /* sum of all observations */
};

/**
 * Count one observation of ns nanoseconds.  The bounds are compared as immediates, smallest
 * first, so a fast call costs a handful of instructions and no table load.
 */
static inline void
rbgw_hist_observe(struct rbgw_hist *h, uint64_t ns)
{
    unsigned i = 0;
#define RBGW_X(us, text)                                                                           \
    if (ns <= (uint64_t)(us)*1000u) {                                                              \
        goto found;                                                                                \
    }                                                                                              \
    i++;
    RBGW_HIST_BUCKETS(RBGW_X)
#undef RBGW_X
found:
    h->n[i]++;
    h->sum_ns += ns;
}

/*
 * Methods counted one by one: the ones pdns calls for nearly every query and every zone it
 * serves (lookup; getDomainInfo, getDomainMetadata, getAllDomainMetadata for DNSSEC and zone
 * settings; list for AXFR).  Every other method is "other".  X(ID, label)
 */
#define RBGW_METRIC_METHODS(X)                                                                     \
    X(LOOKUP, "lookup")                                                                            \
    X(GET_DOMAIN_INFO, "getDomainInfo")                                                            \
    X(GET_DOMAIN_METADATA, "getDomainMetadata")                                                    \
    X(GET_ALL_DOMAIN_METADATA, "getAllDomainMetadata")                                             \
    X(LIST, "list")

enum rbgw_metric_method {
    RBGW_MM_OTHER, /* 0: what a method-table row not listed maps to */
#define RBGW_X(id, label) RBGW_MM_##id,
    RBGW_METRIC_METHODS(RBGW_X)
#undef RBGW_X
        RBGW_MM_COUNT
};

/** The metrics' method of each method-table row (one load per call instead of a switch). */
extern const uint8_t rbgw_metric_method_of_row[RBGW_M__COUNT];

/** The metrics' method of a method-table row. */
static inline enum rbgw_metric_method
rbgw_metric_method_of(enum rbgw_method m)
{
    return (enum rbgw_metric_method)rbgw_metric_method_of_row[(unsigned)m < RBGW_M__COUNT ? m : 0];
}

/** "lookup", ..., "other". */
const char *rbgw_metric_method_name(enum rbgw_metric_method mm);

/** A listener's counters (struct rbgw_listener.stats); request.c and session.c count. */
struct rbgw_listener_stats {
    uint64_t calls[2][RBGW_ANSWER_COUNT]; /* answers by method class (enum rbgw_method_class)
                                             and answer class (outcome.h) */
    uint64_t methods[RBGW_MM_COUNT];      /* answers by method */
    struct rbgw_hist latency;             /* from reading a call to answering it */
    uint64_t sessions_total;              /* pdns connections (sessions) opened */
    uint64_t sessions_open;               /* ... and not gone yet */
};

/** An upstream's counters (struct rbgw_upstream.stats), besides its outcomes. */
struct rbgw_upstream_stats {
    uint64_t said_false;      /* legs answered with "result": false (also in outcomes' ok) */
    uint64_t retries_member;  /* legs sent here after another member failed the same call */
    uint64_t retries_conn;    /* calls sent again on a fresh connection (connpool.h rule) */
    uint64_t ejections;       /* times ejected from its pools (fanout.c) */
    uint64_t checks_ok;       /* health checks passed */
    uint64_t checks_failed;   /* health checks failed */
    uint64_t opens_ok;        /* connections opened (pipe: children spawned and initialized) */
    uint64_t opens_failed;    /* opens that failed */
    struct rbgw_hist latency; /* legs written to a connection: submit to reply or failure */
};

/*
 * The limits that protect the process (docs/configuration.md, Limits), as counted in
 * rbgw_limit_hits_total{limit=...}: each one is counted where the log line saying so is
 * written.  X(ID, label)
 */
#define RBGW_LIMITS(X)                                                                             \
    X(MAX_CONNS, "max_conns")                                                                      \
    X(ACCEPT_FAILED, "accept_failed")                                                              \
    X(MAX_HEADERS, "max_headers")                                                                  \
    X(MAX_HEADER_SIZE, "max_header_size")                                                          \
    X(HEADER_TIMEOUT, "header_timeout")                                                            \
    X(BODY_TIMEOUT, "body_timeout")                                                                \
    X(MAX_REQUEST_SIZE, "max_request_size")                                                        \
    X(MAX_CONN_BUFFER, "max_conn_buffer")                                                          \
    X(WRITE_TIMEOUT, "write_timeout")                                                              \
    X(MAX_INFLIGHT, "max_inflight")                                                                \
    X(MAX_JSON_DEPTH, "max_json_depth")                                                            \
    X(MAX_JSON_ELEMENTS, "max_json_elements")

/*
 * What each counts:
 *   max_conns          connections closed at accept: their listener had max-conns= open
 *   accept_failed      connections rbgw could not accept (its own EMFILE, ENFILE, ENOMEM)
 *   max_headers        HTTP requests refused with 431: more header lines than max-headers=
 *   max_header_size    ... a target and headers larger than max-header-size=
 *   header_timeout     HTTP connections closed: a request line and headers not in within
 *                      header-timeout=
 *   body_timeout       ... a body not in within body-timeout= after its headers
 *   max_request_size   calls answered false: larger than max-request-size
 *   max_conn_buffer    times a connection's reading paused: max-conn-buffer bytes held
 *   write_timeout      connections closed: a reply unread for write-timeout
 *   max_inflight       calls answered false (overloaded): max-inflight calls in flight
 *   max_json_depth     calls answered false and replies refused: nested deeper than
 *                      max-json-depth
 *   max_json_elements  ... more values than max-json-elements
 */
enum rbgw_limit {
#define RBGW_X(id, label) RBGW_LIMIT_##id,
    RBGW_LIMITS(RBGW_X)
#undef RBGW_X
        RBGW_LIMIT_COUNT
};

/** The limit's label ("max_conns", ...). */
const char *rbgw_limit_name(enum rbgw_limit l);

/** The limit a JSON document broke (json.h), for the counter. */
static inline enum rbgw_limit
rbgw_limit_of_json(enum rbgw_json_over over)
{
    return over == RBGW_JSON_OVER_DEPTH ? RBGW_LIMIT_MAX_JSON_DEPTH : RBGW_LIMIT_MAX_JSON_ELEMENTS;
}

struct rbgw_gateway;

/*
 * Every metric family rbgw exports: X(ID, name, type, help).  The renderer writes each one's
 * # HELP and # TYPE from here, the documentation lists the same, and the dashboard test checks
 * its queries against these names.
 */
#define RBGW_METRIC_FAMILIES(X)                                                                    \
    X(BUILD_INFO, "rbgw_build_info", "gauge", "rbgw's version (in the version label); always 1")   \
    X(START_TIME, "rbgw_start_time_seconds", "gauge", "when this rbgw started, Unix time")         \
    X(CPU, "rbgw_process_cpu_seconds_total", "counter", "CPU time used by rbgw (user + system)")   \
    X(RSS, "rbgw_process_resident_memory_bytes", "gauge", "rbgw's resident memory")                \
    X(GENERATION, "rbgw_config_generation", "gauge",                                               \
      "configuration in force: 1 at start, +1 per successful reload")                              \
    X(RELOADS, "rbgw_config_reloads_total", "counter", "configuration reloads, by result")         \
    X(INFLIGHT, "rbgw_calls_in_flight", "gauge", "calls of pdns read and not yet finished")        \
    X(CALLS, "rbgw_calls_total", "counter",                                                        \
      "calls of pdns answered, by listener, method class and outcome")                             \
    X(CALLS_METHOD, "rbgw_calls_by_method_total", "counter",                                       \
      "calls of pdns answered, by listener and method (the most frequent ones; others: other)")    \
    X(CALL_DURATION, "rbgw_call_duration_seconds", "histogram",                                    \
      "time from reading a call of pdns to answering it, by listener")                             \
    X(LISTENER_UP, "rbgw_listener_up", "gauge", "1 while the listener accepts calls")              \
    X(SESSIONS, "rbgw_listener_sessions", "gauge",                                                 \
      "pdns connections open (ZeroMQ: peers with a live session)")                                 \
    X(SESSIONS_TOTAL, "rbgw_listener_sessions_total", "counter", "pdns connections opened")        \
    X(UP_CALLS, "rbgw_upstream_calls_total", "counter",                                            \
      "calls sent to an upstream (each try counts), by outcome")                                   \
    X(UP_DURATION, "rbgw_upstream_call_duration_seconds", "histogram",                             \
      "time from sending a call to an upstream connection to its reply or failure")                \
    X(UP_RETRIES, "rbgw_upstream_retries_total", "counter",                                        \
      "calls sent again: kind=member (here after another member failed), kind=connection (here "   \
      "again on a fresh connection)")                                                              \
    X(UP_INFLIGHT, "rbgw_upstream_calls_in_flight", "gauge", "calls sent and not yet ended")       \
    X(UP_CONNS, "rbgw_upstream_connections", "gauge",                                              \
      "upstream connections (pipe: children) by state: opening, busy, idle, pinned")               \
    X(UP_OPENS, "rbgw_upstream_connection_opens_total", "counter",                                 \
      "connections opened (pipe: children spawned and initialized), by result")                    \
    X(UP_QUEUE, "rbgw_upstream_queue_depth", "gauge",                                              \
      "calls waiting for a free connection (max-queue=)")                                          \
    X(UP_MAX_CONNS, "rbgw_upstream_max_connections", "gauge", "max-conns= of the upstream")        \
    X(UP_UP, "rbgw_upstream_up", "gauge", "1 while the upstream is in service, 0 while ejected")   \
    X(UP_FAILURES, "rbgw_upstream_consecutive_failures", "gauge",                                  \
      "failures in a row (ejection at failure-limit=)")                                            \
    X(UP_EJECTIONS, "rbgw_upstream_ejections_total", "counter", "times the upstream was ejected")  \
    X(UP_CHECKS, "rbgw_upstream_health_checks_total", "counter",                                   \
      "health checks of the ejected upstream, by result")                                          \
    X(UP_TLS, "rbgw_upstream_tls_handshakes_total", "counter",                                     \
      "TLS handshakes of an https:// upstream: kind=full (new session), resumed, failed")          \
    X(POOL_UP, "rbgw_pool_members_up", "gauge", "members of a pool in service")                    \
    X(POOL_MEMBERS, "rbgw_pool_members", "gauge", "members of a pool")                             \
    X(BUDGET, "rbgw_retry_budget_tokens", "gauge",                                                 \
      "retries that may be made now (retry-budget=; one token per retry)")                         \
    X(CACHE_READS, "rbgw_cache_reads_total", "counter",                                            \
      "reads seen by the read cache and coalescing (cache-ttl=, coalesce=), by result: hit, "      \
      "coalesced, miss, bypassed")                                                                 \
    X(CACHE_DROPS, "rbgw_cache_drops_total", "counter",                                            \
      "cached replies dropped, by reason: evicted, expired, invalidated")                          \
    X(CACHE_ENTRIES, "rbgw_cache_entries", "gauge", "replies held by the read cache")              \
    X(CACHE_BYTES, "rbgw_cache_bytes", "gauge", "bytes held by the read cache (cache-size=)")      \
    X(ADMIN_REQUESTS, "rbgw_admin_requests_total", "counter",                                      \
      "requests to the admin endpoint, by path and status")                                        \
    X(ADMIN_REFUSED, "rbgw_admin_refused_total", "counter",                                        \
      "admin connections closed unserved, by reason")                                              \
    X(LIMIT_HITS, "rbgw_limit_hits_total", "counter",                                              \
      "times a limit that protects rbgw was hit, by limit (the configuration key's name)")

enum rbgw_metric_family {
#define RBGW_X(id, name, type, help) RBGW_MF_##id,
    RBGW_METRIC_FAMILIES(RBGW_X)
#undef RBGW_X
        RBGW_MF_COUNT
};

/** The families' names and types ("counter", "gauge", "histogram"), by enum
 * rbgw_metric_family. */
extern const char *const rbgw_metric_names[RBGW_MF_COUNT];
extern const char *const rbgw_metric_types[RBGW_MF_COUNT];

/** Append the Prometheus text exposition (format 0.0.4) of gw's metrics to out. */
void rbgw_metrics_render(struct rbgw_gateway *gw, struct rbgw_buf *out);

/** Append the JSON of GET /status (listeners, upstreams with state, pools, generation). */
void rbgw_metrics_status_json(struct rbgw_gateway *gw, struct rbgw_buf *out);

/**
 * Is gw ready for calls: every listener open and every route (and the default pool) with at
 * least one upstream in service?  If not, why (one line) goes to why.
 */
bool rbgw_metrics_ready(struct rbgw_gateway *gw, char *why, size_t whylen);

#endif

/*
 * router.h: routing and fan-out policy: which upstreams a call goes to and how their answers
 * combine.  Pure (no I/O, no clocks, no logging): the event-loop side lives in fanout.c and
 * hands this module plain state; every decision here is testable as a table.
 *
 * Model (docs/fanout.md):
 *   upstream=http:url=...,name=a,weight=2   named responders (name defaults to "<type>#<n>")
 *   pool=NAME:upstreams=a+b+c,policy=round-robin,read=first-nonempty,write=all,retries=1
 *   route=reads:pool=NAME[,zone=example.com.]      first matching route wins, in file order
 *   route=writes:pool=NAME                          classes: reads, writes, all
 * With no pool= lines there is one implicit pool "default" of every upstream; with no route=
 * lines every call goes to the first pool.  A call that no route matches goes to the first pool.
 *
 * Method classes: reads are lookup, APILookup, list, and every method starting with "get" or
 * "search"; everything else, unknown methods included, is a write.
 */
#ifndef RBGW_ROUTER_H
#define RBGW_ROUTER_H

#include <stdbool.h>

#include "rbgw/buf.h"
#include "rbgw/config.h"
#include "rbgw/json.h"

enum rbgw_method_class {
    RBGW_CLASS_READ,
    RBGW_CLASS_WRITE,
};

enum rbgw_lb_policy {
    RBGW_LB_FIRST_AVAILABLE,   /* "first-available": members in order, first healthy one */
    RBGW_LB_ROUND_ROBIN,       /* "round-robin" over healthy members */
    RBGW_LB_LEAST_OUTSTANDING, /* "least-outstanding" (default): fewest calls in flight, ties
                                  broken round-robin */
    RBGW_LB_WEIGHTED,          /* "weighted": smooth weighted round-robin by weight= */
    RBGW_LB_CONSISTENT_HASH,   /* "consistent-hash": rendezvous hash of the call's zone */
};

enum rbgw_read_mode {
    RBGW_READ_ONE,            /* "one" (default): one upstream (retries go to another) */
    RBGW_READ_FIRST_SUCCESS,  /* "first-success": try in policy order until one succeeds */
    RBGW_READ_FIRST_NONEMPTY, /* "first-nonempty": in order, first with records wins */
    RBGW_READ_MERGE,          /* "merge": all members, record arrays and logs concatenated */
};

enum rbgw_write_mode {
    RBGW_WRITE_ONE, /* "one" (default): one upstream, never retried once sent */
    RBGW_WRITE_ALL, /* "all": every member; success only if all succeed */
};

struct rbgw_pool_conf {
    char *name;                 /* owned */
    size_t *members;            /* owned: indexes into cfg->upstreams, in the order written */
    size_t nmembers;            /* at least 1 */
    enum rbgw_lb_policy policy; /* policy= */
    enum rbgw_read_mode read;   /* read= */
    enum rbgw_write_mode write; /* write= */
    unsigned retries;           /* retries= for reads in mode one (default 1; 0..8) */
    char *origin;               /* owned: "file:line" or "--pool" or "default" */
};

struct rbgw_route_conf {
    bool reads;   /* matches read-class methods */
    bool writes;  /* matches write-class methods */
    char *zone;   /* owned: zone suffix in DNS text form ("example.com."), or NULL = any */
    size_t pool;  /* index into rbgw_router_conf.pools */
    char *origin; /* owned */
};

struct rbgw_router_conf {
    struct rbgw_pool_conf *pools; /* owned; at least one */
    size_t npools;
    struct rbgw_route_conf *routes; /* owned; may be empty */
    size_t nroutes;
};

/**
 * Build the routing configuration from cfg->pools / cfg->routes (raw entries) and the upstream
 * names.  Errors name the entry's origin and the problem ("rbgw.conf:7: pool main: unknown
 * upstream 'c' (known: a, b)", "route: unknown pool 'x'", duplicate upstream or pool names,
 * bad policy/read/write words, an upstream in no pool is fine).  Returns 0 or RBGW_ECONFIG.
 */
int rbgw_router_conf_build(const struct rbgw_config *cfg, struct rbgw_router_conf *out, char *err,
                           size_t errlen) RBGW_MUSTCHECK;
void rbgw_router_conf_free(struct rbgw_router_conf *rc);

/** Class of a method name. */
enum rbgw_method_class rbgw_method_class(struct rbgw_str method);

/**
 * The DNS name a call is about, for zone routes and consistent hashing: lookup/APILookup qname,
 * list zonename, getDomainInfo/getDomainMetadata/getAllDomainMetadata/setDomainMetadata/
 * getDomainKeys/... name, startTransaction/feedEnts3/superMasterBackend/createSlaveDomain domain,
 * replaceRRSet qname, feedRecord rr.qname.  Empty when the call names none.
 */
struct rbgw_str rbgw_call_name(struct rbgw_str method, const struct rbgw_json *params);

/**
 * True when name is zone or below it (DNS label boundary, ASCII case-insensitive, trailing dots
 * optional on both): "www.Example.COM." is under "example.com", "badexample.com." is not;
 * "." (root) contains everything.
 */
bool rbgw_name_under(struct rbgw_str name, struct rbgw_str zone);

/** Index of the first route matching (class, name), or the first pool when none matches. */
size_t rbgw_route_pick(const struct rbgw_router_conf *rc, enum rbgw_method_class cls,
                       struct rbgw_str name);

/* ---- load balancing ---- */

struct rbgw_member_state {
    bool healthy;         /* not ejected */
    uint32_t outstanding; /* calls in flight on this upstream */
    uint32_t weight;      /* weight= (>= 1) */
    int64_t current;      /* smooth weighted round-robin state (owned by rbgw_lb_order) */
};

/**
 * Order the n members for one call: the first entry is the upstream to use, the rest the
 * fallbacks in the order retries / first-success / first-nonempty should try them.  Writes a
 * permutation of 0..n-1 to order.  Unhealthy members go last (panic mode: when none is
 * healthy the order is as if all were).  *rr is the pool's round-robin counter (advanced);
 * hash is the call name's hash (consistent-hash).  Deterministic for the same inputs.
 */
void rbgw_lb_order(enum rbgw_lb_policy policy, struct rbgw_member_state *m, size_t n, uint64_t *rr,
                   uint64_t hash, size_t *order);

/** Hash of a DNS name for consistent hashing (case-insensitive, trailing dot ignored). */
uint64_t rbgw_name_hash(struct rbgw_str name);

/* ---- reading results the way pdns does (protocol.md §3.4, §8.13) ---- */

enum rbgw_result_kind {
    RBGW_RESULT_FAILED, /* transport failure or result false */
    RBGW_RESULT_EMPTY,  /* success but nothing: [] / true for lookup-like methods */
    RBGW_RESULT_DATA,   /* success with data (records, an object, ...) */
};

/**
 * How pdns would read this reply for this method. reply: a vetted one-line JSON object (NULL,
 * unparsable, no object or no non-null result -> FAILED).  Per-method table: docs/fanout.md.
 */
enum rbgw_result_kind rbgw_result_kind(struct rbgw_arena *a, struct rbgw_str method,
                                       struct rbgw_str reply);

/**
 * Merge read replies (mode merge): for methods whose result is a record or DomainInfo array
 * (lookup, APILookup, list, searchRecords, getAllDomains, getUpdatedMasters,
 * getUnfreshSlaveInfos, getTSIGKeys, getDomainKeys) concatenate the arrays of successful replies
 * (getAllDomains-like lists: keep the first entry per zone name); for other methods the first
 * successful reply in member order wins (the first with data, else the first empty success).
 * Record objects are copied as written (key order, number text).  Every "log" array, those of
 * false replies included, is concatenated in member order.
 * replies[i] is NULL (.p == NULL) for a failed leg.  Writes one JSON object line to out.
 * Returns 0, or RBGW_EPROTO when no leg succeeded (out untouched).
 */
int rbgw_merge_replies(struct rbgw_arena *a, struct rbgw_str method, const struct rbgw_str *replies,
                       size_t n, struct rbgw_buf *out) RBGW_MUSTCHECK;

#endif

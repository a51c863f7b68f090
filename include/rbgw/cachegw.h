/*
 * cachegw.h: the read cache and coalescing on the event loop (private to the gateway: fanout.c
 * calls the hooks, gateway.c makes and reconfigures the cache).  The store and the keys are
 * cache.h's; this side decides which calls use them and answers the reads that wait.
 *
 *   dispatch  rbgw__cache_dispatch, first thing in rbgw_fanout_dispatch: a read outside any
 *             transaction is answered from the cache, or waits for an identical read in flight
 *             (coalesce=yes), or goes on as the lead of a flight (its key noted for the answer)
 *   answer    rbgw__cache_answered, where fan-out answers: a lead's reply goes to the reads
 *             waiting for it and, if it is a success (not false, not a failure) and no write
 *             ended the flight meanwhile, into the cache; a write outside a transaction drops
 *             what it names (cache.h, invalidation)
 *   trx end   rbgw__cache_trx_closed, when a transaction closes (commit, abort, or dropped
 *             with its session): everything at, above or below its zone is dropped
 *
 * Off (cache-ttl=0 and coalesce=no, the default) every hook returns at its first test.
 */
#ifndef RBGW_CACHEGW_H
#define RBGW_CACHEGW_H

#include "rbgw/cache.h"
#include "rbgw/gateway.h"

/** The read a request leads for identical ones (in its arena; cachegw.c's). */
struct rbgw_cache_lead;

/** The gateway's cache, with cfg's options (cache-ttl, cache-size, ...). */
struct rbgw_cache *rbgw__cache_new(const struct rbgw_config *cfg);
/** A reload put cfg in force: new options, nothing cached or in flight is reused. */
void rbgw__cache_configure(struct rbgw_cache *c, const struct rbgw_config *cfg);

/**
 * A call is about to be routed.  True: it was answered from the cache, or it waits for an
 * identical read (it is answered with that read's answer, within that read's deadline, which
 * is earlier than its own); the caller does nothing more with it.  False: route it; *lead is
 * then the flight it leads, to hand to rbgw__cache_answered, or NULL.
 */
bool rbgw__cache_dispatch(struct rbgw_cache *c, struct rbgw_request *req,
                          struct rbgw_cache_lead **lead);

/**
 * A routed call was answered: with reply (reason NULL; said_false: its result is false, so it
 * is not stored), or as failed with status (outcome.h: what the waiters are counted as) and
 * reason and extra (the responder's log lines, or NULL).  lead: what rbgw__cache_dispatch
 * gave.  in_trx: the call belonged to an open transaction (its writes are settled when the
 * transaction closes).
 */
void rbgw__cache_answered(struct rbgw_cache *c, struct rbgw_request *req,
                          struct rbgw_cache_lead *lead, bool in_trx, struct rbgw_str reply,
                          bool said_false, int status, const char *reason,
                          const struct rbgw_json *extra);

/** The zone a successful startTransaction names (malloc'd), for its close; NULL if off. */
char *rbgw__cache_trx_zone(struct rbgw_cache *c, struct rbgw_request *start);
/** A transaction of zone (NULL: not known) closed: what it may have changed is stale. */
void rbgw__cache_trx_closed(struct rbgw_gateway *gw, const char *zone);

/** Log the counters (SIGUSR1's status), when the cache or coalescing is on. */
void rbgw__cache_log_status(struct rbgw_cache *c);

#endif

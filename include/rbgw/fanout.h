/*
 * fanout.h: the event-loop side of routing: per-upstream health, legs, retries, transactions.
 * Private to the gateway (request.c dispatches through it).  Policy decisions are router.c's.
 */
#ifndef RBGW_FANOUT_H
#define RBGW_FANOUT_H

#include "rbgw/gateway.h"

struct rbgw_fanout;

/** Build routing state for gw (upstreams must exist).  <0 with err on a config error. */
int rbgw_fanout_new(struct rbgw_gateway *gw, struct rbgw_fanout **out, char *err,
                    size_t errlen) RBGW_MUSTCHECK;
/** Route and send a decoded request; always ends in exactly one answer. */
void rbgw_fanout_dispatch(struct rbgw_fanout *f, struct rbgw_request *req);
/** A listener connection went away: drop its open transactions (their conns are closed). */
void rbgw_fanout_origin_gone(struct rbgw_fanout *f, const void *origin);
/** Close timers (health checks).  Idempotent. */
void rbgw_fanout_stop(struct rbgw_fanout *f);
/** Free after the loop has closed every handle. */
void rbgw_fanout_free(struct rbgw_fanout *f);

#endif

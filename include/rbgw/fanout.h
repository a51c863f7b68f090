/*
 * fanout.h: the event-loop side of routing: per-upstream health, legs, retries, transactions.
 * Private to the gateway (request.c dispatches through it).  Policy decisions are router.c's.
 */
#ifndef RBGW_FANOUT_H
#define RBGW_FANOUT_H

#include "rbgw/gateway.h"
#include "rbgw/router.h"

struct rbgw_fanout;

/** Build routing state for gw (upstreams must exist).  <0 with err on a config error. */
int rbgw_fanout_new(struct rbgw_gateway *gw, struct rbgw_fanout **out, char *err,
                    size_t errlen) RBGW_MUSTCHECK;
/** Route and send a decoded request; always ends in exactly one answer. */
void rbgw_fanout_dispatch(struct rbgw_fanout *f, struct rbgw_request *req);
/**
 * Session s has ended (session.c, at its last unref): drop its open transactions; their
 * pinned upstream conns are closed (after their current call if busy).  Not for listeners:
 * they report a peer gone with rbgw_session_gone.
 */
void rbgw_fanout_session_end(struct rbgw_fanout *f, struct rbgw_session *s);
/** An upstream's routing state, for metrics and /status. */
struct rbgw_member_view {
    bool healthy;           /* in service (not ejected) */
    bool checking;          /* a health check is in flight */
    uint32_t outstanding;   /* legs in flight */
    uint32_t failures;      /* consecutive failures */
    uint32_t failure_limit; /* failure-limit= */
};

/** The state of upstream i (as rbgw_gateway_upstream numbers them). */
void rbgw_fanout_member_state(const struct rbgw_fanout *f, size_t i, struct rbgw_member_view *out);
/** The pools and routes in force. */
const struct rbgw_router_conf *rbgw_fanout_router(const struct rbgw_fanout *f);
/** Retry tokens available now (the budget as the next retry would find it). */
double rbgw_fanout_budget(const struct rbgw_fanout *f);

/** Close timers (health checks).  Idempotent. */
void rbgw_fanout_stop(struct rbgw_fanout *f);
/** Free after the loop has closed every handle. */
void rbgw_fanout_free(struct rbgw_fanout *f);

#endif

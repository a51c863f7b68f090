/*
 * fanout.h: the event-loop side of routing: per-upstream health, legs, retries, transactions.
 * Private to the gateway (request.c dispatches through it).  Policy decisions are router.c's.
 *
 * Two lifetimes (gateway.h, reloads): a fan-out (pools, routes, their balancing state) belongs
 * to one generation; a member (health, ejection, legs in flight, the check timer) belongs to
 * one upstream, and so survives every reload that keeps the upstream.
 */
#ifndef RBGW_FANOUT_H
#define RBGW_FANOUT_H

#include "rbgw/gateway.h"
#include "rbgw/router.h"

struct rbgw_fanout;

/** Build gen's routing (gen->cfg, gen->upstreams must be set).  <0 with err on a config error. */
int rbgw_fanout_new(struct rbgw_generation *gen, struct rbgw_fanout **out, char *err,
                    size_t errlen) RBGW_MUSTCHECK;
/** Route and send a decoded request; always ends in exactly one answer. */
void rbgw_fanout_dispatch(struct rbgw_fanout *f, struct rbgw_request *req);
/**
 * Session s has ended (session.c, at its last unref): drop its open transactions; their
 * pinned upstream conns are closed (after their current call if busy).  Not for listeners:
 * they report a peer gone with rbgw_session_gone.
 */
void rbgw_fanout_session_end(struct rbgw_session *s);
/** Fill the gateway's retry budget (shared by every generation) for a start. */
void rbgw_fanout_budget_init(struct rbgw_gateway *gw);
/** Free a generation's routing (no handles). */

/** An upstream's routing state, for metrics and /status. */
struct rbgw_member_view {
    bool healthy;           /* in service (not ejected) */
    bool checking;          /* a health check is in flight */
    uint32_t outstanding;   /* legs in flight */
    uint32_t failures;      /* consecutive failures */
    uint32_t failure_limit; /* failure-limit= */
};

/** The routing state of upstream u (its member). */
void rbgw_fanout_member_state(const struct rbgw_upstream *u, struct rbgw_member_view *out);
/** The pools and routes of a generation's routing. */
const struct rbgw_router_conf *rbgw_fanout_router(const struct rbgw_fanout *f);
/** Retry tokens available now (the gateway's budget as the next retry would find it). */
double rbgw_fanout_budget(struct rbgw_gateway *gw);

void rbgw_fanout_free(struct rbgw_fanout *f);

/**
 * Make u's member (u->member: reads failure-limit, health-interval, weight; one timer, counted
 * in u->open_parts).  <0 with err, and then nothing was made.
 */
int rbgw_fanout_member_new(struct rbgw_upstream *u, char *err, size_t errlen) RBGW_MUSTCHECK;
/** No more checks; close the timer, then rbgw__upstream_part_closed(u).  Idempotent. */
void rbgw_fanout_member_stop(struct rbgw_upstream *u);
/** Free u->member (after its timer closed, or if it was never made). */
void rbgw_fanout_member_free(struct rbgw_upstream *u);
/** u is in service (not ejected). */
bool rbgw_fanout_member_healthy(const struct rbgw_upstream *u);

#endif

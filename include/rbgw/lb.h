/*
 * lb.h: load-balancing policies: the order in which a pool's members serve one call (pure).
 *
 * fanout.c owns the runtime state (health, calls in flight, the pool's round-robin counter and
 * smooth-WRR scores) and hands it in; rbgw_lb_order decides.  docs/fanout.md describes each
 * policy from the operator's side.
 */
#ifndef RBGW_LB_H
#define RBGW_LB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rbgw_lb_policy {
    RBGW_LB_FIRST_AVAILABLE,   /* "first-available": members in order, first healthy one */
    RBGW_LB_ROUND_ROBIN,       /* "round-robin" over healthy members */
    RBGW_LB_LEAST_OUTSTANDING, /* "least-outstanding" (default): fewest calls in flight, ties
                                  broken round-robin */
    RBGW_LB_WEIGHTED,          /* "weighted": smooth weighted round-robin by weight= */
    RBGW_LB_CONSISTENT_HASH,   /* "consistent-hash": rendezvous hash of the call's zone */
};

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
 * hash is the call name's hash (rbgw_name_hash; consistent-hash).  Deterministic for the same
 * inputs.
 */
void rbgw_lb_order(enum rbgw_lb_policy policy, struct rbgw_member_state *m, size_t n, uint64_t *rr,
                   uint64_t hash, size_t *order);

#endif

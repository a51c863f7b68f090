/*
 * lb.c: load-balancing orders (lb.h): first-available, round-robin, least-outstanding,
 * nginx's smooth weighted round-robin and rendezvous hashing.
 *
 * One call's order is built in two steps: the members are split into the eligible group
 * (healthy, or everyone in panic mode) and the rest, each in member order; then the policy
 * arranges the eligible group (a rotation by the pool's counter, a stable sort by a key, or
 * both).  Stable sorts carry the rotation into ties, so equal loads still take turns.  Pools
 * are small (a handful of members), so insertion sort and linear scans are the right tools.
 * Pure: the only state is what the caller passes in.
 */
#include <string.h>

#include "rbgw/lb.h"

/* splitmix64's finaliser: a cheap, well-mixed 64-bit bijection. */
static uint64_t
mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

/* Rendezvous weight of member i for a call whose name hashes to hash. */
static uint64_t
rendezvous(uint64_t hash, size_t i)
{
    return mix64(hash ^ mix64((uint64_t)i + UINT64_C(0x9e3779b97f4a7c15)));
}

/* What a stable sort of members compares; "before" is the strict ordering of two members. */
struct lb_key {
    enum rbgw_lb_policy policy;        /* which key */
    const struct rbgw_member_state *m; /* member states */
    uint64_t hash;                     /* CONSISTENT_HASH: the call name's hash */
};

static bool
before(const struct lb_key *k, size_t a, size_t b)
{
    switch (k->policy) {
    case RBGW_LB_LEAST_OUTSTANDING:
        return k->m[a].outstanding < k->m[b].outstanding;
    case RBGW_LB_WEIGHTED:
        return k->m[a].current > k->m[b].current;
    case RBGW_LB_CONSISTENT_HASH:
        return rendezvous(k->hash, a) > rendezvous(k->hash, b);
    default:
        return false;
    }
}

/* Stable insertion sort (pools are small; stability carries the tie-break order in). */
static void
sort_members(size_t *order, size_t n, const struct lb_key *k)
{
    for (size_t i = 1; i < n; i++) {
        size_t v = order[i];
        size_t j = i;
        while (j > 0 && before(k, v, order[j - 1])) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
}

static void
rotate(size_t *order, size_t n, size_t by)
{
    if (n == 0 || by % n == 0) {
        return;
    }
    by %= n;
    /* three reversals */
    for (size_t a = 0, b = by - 1; a < b; a++, b--) {
        size_t t = order[a];
        order[a] = order[b];
        order[b] = t;
    }
    for (size_t a = by, b = n - 1; a < b; a++, b--) {
        size_t t = order[a];
        order[a] = order[b];
        order[b] = t;
    }
    for (size_t a = 0, b = n - 1; a < b; a++, b--) {
        size_t t = order[a];
        order[a] = order[b];
        order[b] = t;
    }
}

/*
 * Guide: members are first split into "eligible" (healthy, or everyone in panic mode) and
 * the rest, each group in member order; the policy then arranges the eligible group, and for
 * consistent-hash the rest too, so a call's fallbacks stay stable as members come and go.
 */
void
rbgw_lb_order(enum rbgw_lb_policy policy, struct rbgw_member_state *m, size_t n, uint64_t *rr,
              uint64_t hash, size_t *order)
{
    struct lb_key key = {policy, m, hash};
    size_t h = 0, t;
    bool panic = true;
    if (n == 0) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        panic = panic && !m[i].healthy;
    }
    for (size_t i = 0; i < n; i++) {
        if (panic || m[i].healthy) {
            order[h++] = i;
        }
    }
    t = h;
    for (size_t i = 0; i < n; i++) {
        if (!(panic || m[i].healthy)) {
            order[t++] = i;
        }
    }

    switch (policy) {
    case RBGW_LB_FIRST_AVAILABLE:
        break;
    case RBGW_LB_ROUND_ROBIN:
        rotate(order, h, (size_t)(*rr % h));
        break;
    case RBGW_LB_LEAST_OUTSTANDING:
        /* rotation first, then a stable sort: equal loads keep the round-robin order */
        rotate(order, h, (size_t)(*rr % h));
        sort_members(order, h, &key);
        break;
    case RBGW_LB_WEIGHTED: {
        /*
         * nginx's smooth weighted round-robin (ngx_http_upstream_get_peer): every eligible
         * member's current grows by its weight, the largest current wins (first in member
         * order on ties) and gives back the total.  Over any sum-of-weights picks each member
         * is chosen exactly weight times, interleaved.  Fallbacks follow by current, largest
         * first: who would win the next rounds.
         */
        int64_t total = 0;
        size_t best = order[0];
        for (size_t x = 0; x < h; x++) {
            size_t i = order[x];
            int64_t w = m[i].weight ? (int64_t)m[i].weight : 1;
            m[i].current += w;
            total += w;
            if (m[i].current > m[best].current) {
                best = i;
            }
        }
        m[best].current -= total;
        size_t x = 0;
        while (order[x] != best) {
            x++;
        }
        memmove(order + 1, order, x * sizeof(*order));
        order[0] = best;
        sort_members(order + 1, h - 1, &key);
        break;
    }
    case RBGW_LB_CONSISTENT_HASH:
        sort_members(order, h, &key);
        sort_members(order + h, n - h, &key);
        break;
    }
    (*rr)++;
}

/*
 * test_lb.c: the five load-balancing policies (lb.h, docs/fanout.md), over sequences of calls.
 *
 * Load balancing is checked over whole sequences, because its contract is about what happens
 * across calls (rotation, proportions, stability under ejection), not about one call.  Loops
 * over thousands of calls check with a plain `if` and report only a mismatch (Criterion
 * records every passing assertion, which made these tests slow); the checks are the same.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rbgw/dname.h"
#include "rbgw/lb.h"

static const char *const policy_name[] = {"first-available", "round-robin", "least-outstanding",
                                          "weighted", "consistent-hash"};

#define NM 8

static void
members(struct rbgw_member_state *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        m[i] = (struct rbgw_member_state){.healthy = true, .outstanding = 0, .weight = 1};
    }
}

/* Order for one call; asserts it is a permutation of 0..n-1. */
static void
order_of(enum rbgw_lb_policy p, struct rbgw_member_state *m, size_t n, uint64_t *rr, uint64_t hash,
         size_t *order)
{
    bool seen[NM] = {false};
    for (size_t i = 0; i < n; i++) {
        order[i] = 99;
    }
    rbgw_lb_order(p, m, n, rr, hash, order);
    for (size_t i = 0; i < n; i++) {
        if (order[i] >= n) {
            cr_assert_fail("policy %d: order[%zu] = %zu out of range", p, i, order[i]);
        }
        if (seen[order[i]]) {
            cr_assert_fail("policy %d: member %zu twice", p, order[i]);
        }
        seen[order[i]] = true;
    }
}

static void
expect_order(const size_t *got, const size_t *want, size_t n, const char *what)
{
    char g[64] = "", w[64] = "";
    for (size_t i = 0; i < n; i++) {
        snprintf(g + strlen(g), sizeof(g) - strlen(g), "%zu", got[i]);
        snprintf(w + strlen(w), sizeof(w) - strlen(w), "%zu", want[i]);
    }
    if (strcmp(g, w) != 0) {
        cr_expect_fail("%s: order %s, want %s", what, g, w);
    }
}

Test(lb, lb_first_available)
{
    struct rbgw_member_state m[3];
    size_t order[3];
    uint64_t rr = 0;
    members(m, 3);
    for (int call = 0; call < 4; call++) {
        order_of(RBGW_LB_FIRST_AVAILABLE, m, 3, &rr, 0, order);
        expect_order(order, (size_t[]){0, 1, 2}, 3, "all healthy, every call");
    }
    cr_expect_eq(rr, 4, "the counter advances on every call");
    m[0].healthy = false;
    order_of(RBGW_LB_FIRST_AVAILABLE, m, 3, &rr, 0, order);
    expect_order(order, (size_t[]){1, 2, 0}, 3, "first unhealthy");
    m[1].healthy = false;
    order_of(RBGW_LB_FIRST_AVAILABLE, m, 3, &rr, 0, order);
    expect_order(order, (size_t[]){2, 0, 1}, 3, "only the last healthy");
}

Test(lb, lb_round_robin_rotation)
{
    struct rbgw_member_state m[3];
    size_t order[3];
    uint64_t rr = 0;
    static const size_t want[3][3] = {{0, 1, 2}, {1, 2, 0}, {2, 0, 1}};
    members(m, 3);
    for (int call = 0; call < 9; call++) {
        order_of(RBGW_LB_ROUND_ROBIN, m, 3, &rr, 0, order);
        expect_order(order, want[call % 3], 3, "rotation");
    }
    /* an ejected member leaves the rotation and waits at the end */
    m[1].healthy = false;
    rr = 0;
    static const size_t want2[2][3] = {{0, 2, 1}, {2, 0, 1}};
    for (int call = 0; call < 4; call++) {
        order_of(RBGW_LB_ROUND_ROBIN, m, 3, &rr, 0, order);
        expect_order(order, want2[call % 2], 3, "rotation without member 1");
    }
}

Test(lb, lb_round_robin_even_spread)
{
    struct rbgw_member_state m[5];
    size_t order[5], count[5] = {0};
    uint64_t rr = 12345;
    members(m, 5);
    for (int call = 0; call < 1000; call++) {
        order_of(RBGW_LB_ROUND_ROBIN, m, 5, &rr, 0, order);
        count[order[0]]++;
    }
    for (size_t i = 0; i < 5; i++) {
        cr_expect_eq(count[i], 200, "member %zu picked %zu times", i, count[i]);
    }
}

Test(lb, lb_least_outstanding)
{
    struct rbgw_member_state m[3];
    size_t order[3];
    uint64_t rr = 0;
    members(m, 3);
    m[0].outstanding = 3;
    m[1].outstanding = 1;
    m[2].outstanding = 2;
    for (int call = 0; call < 3; call++) {
        order_of(RBGW_LB_LEAST_OUTSTANDING, m, 3, &rr, 0, order);
        expect_order(order, (size_t[]){1, 2, 0}, 3, "by load, whatever the counter");
    }
    /* all equal: plain rotation */
    members(m, 3);
    rr = 0;
    for (int call = 0; call < 6; call++) {
        order_of(RBGW_LB_LEAST_OUTSTANDING, m, 3, &rr, 0, order);
        cr_expect_eq(order[0], (size_t)call % 3, "call %d: tie broken by the counter", call);
    }
    /* a partial tie: 1 and 2 alternate, 0 stays last */
    m[0].outstanding = 1;
    rr = 0;
    order_of(RBGW_LB_LEAST_OUTSTANDING, m, 3, &rr, 0, order);
    expect_order(order, (size_t[]){1, 2, 0}, 3, "rr=0");
    order_of(RBGW_LB_LEAST_OUTSTANDING, m, 3, &rr, 0, order);
    expect_order(order, (size_t[]){1, 2, 0}, 3, "rr=1");
    order_of(RBGW_LB_LEAST_OUTSTANDING, m, 3, &rr, 0, order);
    expect_order(order, (size_t[]){2, 1, 0}, 3, "rr=2");
    /* the idlest member is skipped while unhealthy */
    members(m, 3);
    m[0].outstanding = 5;
    m[1].outstanding = 0;
    m[1].healthy = false;
    m[2].outstanding = 3;
    order_of(RBGW_LB_LEAST_OUTSTANDING, m, 3, &rr, 0, order);
    expect_order(order, (size_t[]){2, 0, 1}, 3, "unhealthy idle member last");
}

Test(lb, lb_least_outstanding_simulated_load)
{
    /* each pick adds one in-flight call: the loads stay within one of each other */
    struct rbgw_member_state m[4];
    size_t order[4];
    uint64_t rr = 0;
    members(m, 4);
    for (int call = 0; call < 101; call++) {
        order_of(RBGW_LB_LEAST_OUTSTANDING, m, 4, &rr, 0, order);
        for (size_t i = 0; i < 4; i++) {
            if (m[order[0]].outstanding > m[i].outstanding) {
                cr_assert_fail("call %d: picked %zu (load %u) over %zu (load %u)", call, order[0],
                               m[order[0]].outstanding, i, m[i].outstanding);
            }
        }
        m[order[0]].outstanding++;
    }
    cr_expect_eq(m[0].outstanding + m[1].outstanding + m[2].outstanding + m[3].outstanding, 101);
    cr_expect_eq(m[0].outstanding, 26);
    cr_expect_eq(m[3].outstanding, 25);
}

Test(lb, lb_weighted_nginx_sequence)
{
    /* nginx's documented example: weights 5, 1, 1 give a a b a c a a */
    struct rbgw_member_state m[3];
    size_t order[3];
    uint64_t rr = 0;
    static const size_t want[] = {0, 0, 1, 0, 2, 0, 0};
    members(m, 3);
    m[0].weight = 5;
    for (size_t call = 0; call < 14; call++) {
        order_of(RBGW_LB_WEIGHTED, m, 3, &rr, 0, order);
        if (order[0] != want[call % 7]) {
            cr_expect_fail("pick %zu: %zu, want %zu", call, order[0], want[call % 7]);
        }
    }
    for (size_t i = 0; i < 3; i++) {
        cr_expect_eq(m[i].current, 0, "member %zu current %lld after whole periods", i,
                     (long long)m[i].current);
    }
}

Test(lb, lb_weighted_exact_proportions)
{
    struct rbgw_member_state m[3];
    size_t order[3], count[3] = {0};
    uint64_t rr = 0;
    members(m, 3);
    m[0].weight = 5;
    m[1].weight = 3;
    m[2].weight = 2;
    for (int call = 0; call < 1000; call++) {
        order_of(RBGW_LB_WEIGHTED, m, 3, &rr, 0, order);
        count[order[0]]++;
    }
    cr_expect_eq(count[0], 500);
    cr_expect_eq(count[1], 300);
    cr_expect_eq(count[2], 200);

    /* member 0 ejected: the others share 3:2, member 0 is never first, always last */
    size_t count2[3] = {0};
    m[0].healthy = false;
    for (int call = 0; call < 500; call++) {
        order_of(RBGW_LB_WEIGHTED, m, 3, &rr, 0, order);
        count2[order[0]]++;
        if (order[2] != 0) {
            cr_expect_fail("call %d: ejected member not last", call);
        }
    }
    cr_expect_eq(count2[0], 0);
    cr_expect_eq(count2[1], 300);
    cr_expect_eq(count2[2], 200);
}

Test(lb, lb_weighted_is_smooth)
{
    /* the picks repeat with period 10 = 5+3+2, so every window of 10 consecutive picks holds
     * each member exactly weight times: no bursts of the heavy member */
    enum { CALLS = 200, W = 10 };
    static const uint32_t weight[3] = {5, 3, 2};
    struct rbgw_member_state m[3];
    size_t order[3], pick[CALLS];
    uint64_t rr = 0;
    members(m, 3);
    for (size_t i = 0; i < 3; i++) {
        m[i].weight = weight[i];
    }
    for (size_t call = 0; call < CALLS; call++) {
        order_of(RBGW_LB_WEIGHTED, m, 3, &rr, 0, order);
        pick[call] = order[0];
    }
    for (size_t start = 0; start + W <= CALLS; start++) {
        size_t count[3] = {0};
        for (size_t k = start; k < start + W; k++) {
            count[pick[k]]++;
        }
        for (size_t i = 0; i < 3; i++) {
            if (count[i] != weight[i]) {
                cr_expect_fail("window at %zu: member %zu picked %zu times", start, i, count[i]);
            }
        }
    }
    /* and the heaviest member is never picked three times in a row */
    for (size_t k = 2; k < CALLS; k++) {
        if (pick[k] == 0 && pick[k - 1] == 0 && pick[k - 2] == 0) {
            cr_expect_fail("burst at %zu", k);
        }
    }
}

static uint64_t
host_hash(int i)
{
    char name[64];
    snprintf(name, sizeof(name), "host%d.example.com.", i);
    return rbgw_name_hash(rbgw_str_cstr(name));
}

Test(lb, lb_consistent_hash_stable)
{
    enum { N = 5, CALLS = 1000 };
    struct rbgw_member_state m[N];
    static size_t before[CALLS][N];
    size_t order[N], count[N] = {0};
    uint64_t rr = 0;
    members(m, N);
    for (int i = 0; i < CALLS; i++) {
        order_of(RBGW_LB_CONSISTENT_HASH, m, N, &rr, host_hash(i), before[i]);
        count[before[i][0]]++;
        /* the same name, a different counter and load: the same order */
        m[i % N].outstanding += 7;
        order_of(RBGW_LB_CONSISTENT_HASH, m, N, &rr, host_hash(i), order);
        expect_order(order, before[i], N, "repeat");
    }
    for (size_t k = 0; k < N; k++) {
        cr_expect_geq(count[k], 120, "member %zu owns only %zu of %d names", k, count[k], CALLS);
    }

    /* eject member 2: only its names move, each to its own second choice */
    m[2].healthy = false;
    size_t moved = 0;
    for (int i = 0; i < CALLS; i++) {
        order_of(RBGW_LB_CONSISTENT_HASH, m, N, &rr, host_hash(i), order);
        if (order[N - 1] != 2) {
            cr_expect_fail("name %d: ejected member not last", i);
        }
        if (before[i][0] == 2) {
            moved++;
            if (order[0] != before[i][1]) {
                cr_expect_fail("name %d: moved to %zu, want %zu", i, order[0], before[i][1]);
            }
        } else if (order[0] != before[i][0]) {
            cr_expect_fail("name %d: moved from %zu to %zu", i, before[i][0], order[0]);
        }
        /* the healthy members keep their relative order */
        size_t x = 0;
        for (size_t k = 0; k < N; k++) {
            if (before[i][k] != 2) {
                if (order[x] != before[i][k]) {
                    cr_expect_fail("name %d: fallback order changed", i);
                }
                x++;
            }
        }
    }
    cr_expect_eq(moved, count[2]);

    /* back in service: everything returns */
    m[2].healthy = true;
    for (int i = 0; i < CALLS; i++) {
        order_of(RBGW_LB_CONSISTENT_HASH, m, N, &rr, host_hash(i), order);
        expect_order(order, before[i], N, "after recovery");
    }
}

Test(lb, lb_unhealthy_last_every_policy)
{
    for (int p = RBGW_LB_FIRST_AVAILABLE; p <= RBGW_LB_CONSISTENT_HASH; p++) {
        struct rbgw_member_state m[4];
        size_t order[4];
        uint64_t rr = 0;
        members(m, 4);
        m[0].healthy = false;
        m[2].healthy = false;
        m[0].outstanding = 0;
        m[1].outstanding = 9;
        m[3].outstanding = 9;
        m[0].weight = 100;
        for (int call = 0; call < 20; call++) {
            order_of((enum rbgw_lb_policy)p, m, 4, &rr, host_hash(call), order);
            if (!(order[0] == 1 || order[0] == 3) || !(order[1] == 1 || order[1] == 3) ||
                !(order[2] == 0 || order[2] == 2)) {
                cr_expect_fail("policy %s call %d: order %zu %zu %zu %zu", policy_name[p], call,
                               order[0], order[1], order[2], order[3]);
            }
        }
        if (p == RBGW_LB_WEIGHTED) {
            cr_expect_eq(m[0].current, 0, "an ejected member's weight state is left alone");
        }
    }
}

Test(lb, lb_panic_when_none_healthy)
{
    for (int p = RBGW_LB_FIRST_AVAILABLE; p <= RBGW_LB_CONSISTENT_HASH; p++) {
        struct rbgw_member_state sick[3], well[3];
        size_t o1[3], o2[3];
        uint64_t rr1 = 7, rr2 = 7;
        members(well, 3);
        well[0].weight = 3;
        well[1].outstanding = 2;
        memcpy(sick, well, sizeof(sick));
        for (size_t i = 0; i < 3; i++) {
            sick[i].healthy = false;
        }
        for (int call = 0; call < 12; call++) {
            order_of((enum rbgw_lb_policy)p, sick, 3, &rr1, host_hash(call), o1);
            order_of((enum rbgw_lb_policy)p, well, 3, &rr2, host_hash(call), o2);
            char what[64];
            snprintf(what, sizeof(what), "%s panic call %d", policy_name[p], call);
            expect_order(o1, o2, 3, what);
        }
    }
}

Test(lb, lb_single_member)
{
    for (int p = RBGW_LB_FIRST_AVAILABLE; p <= RBGW_LB_CONSISTENT_HASH; p++) {
        struct rbgw_member_state m[1];
        size_t order[1];
        uint64_t rr = 0;
        members(m, 1);
        order_of((enum rbgw_lb_policy)p, m, 1, &rr, 42, order);
        cr_expect_eq(order[0], 0);
        m[0].healthy = false;
        order_of((enum rbgw_lb_policy)p, m, 1, &rr, 42, order);
        cr_expect_eq(order[0], 0, "%s: panic with one member", policy_name[p]);
    }
}

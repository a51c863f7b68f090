/*
 * test_fanout_balance.c: which responder a call goes to: load-balancing policies and zone routes
 * (docs/fanout.md, Load-balancing policies, Routes).
 *
 *   test ──stdin / unix socket──> rbgw ──HTTP──> alpha, bravo, charlie (fake_fanout)
 *
 * Every responder answers a lookup with its own address (192.0.2.1, .2, .3), so each reply
 * says who served it.  The policies are deterministic for a given call sequence (the pool's
 * round-robin counter moves once per call), so the tests assert exact sequences and splits:
 * round-robin takes turns, weighted 3:1 gives exactly 30/10 over 40 calls and 3 of every 4,
 * least-outstanding alternates when idle and avoids a member holding a stalled call,
 * consistent-hash keeps each name on one member (case-insensitively) and spreads names; a zone
 * route sends reads at or below its zone, and only those, to its pool.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "fake_fanout.h"

TestSuite(fanout_balance, .fini = fanout_test_teardown, .timeout = 30);

#define THREE_UPSTREAMS                                                                            \
    "upstream=http:url={A},name=alpha\n"                                                           \
    "upstream+=http:url={B},name=bravo\n"                                                          \
    "upstream+=http:url={C},name=charlie\n"

/* Lookup qname over the pipe; it must succeed; returns the responder index. */
static size_t
lookup_from(const char *qname)
{
    const char *r = fanout_test_call(fanout_test_lookup(qname));
    cr_assert(fanout_reply_ok(r), "lookup %s answered false: %s\nrbgw stderr:\n%s", qname, r,
              fanout_test_stderr());
    return fanout_reply_from(r);
}

Test(fanout_balance, round_robin_takes_turns)
{
    fanout_test_responders(3);
    fanout_test_gw(THREE_UPSTREAMS "pool=p:upstreams=alpha+bravo+charlie,policy=round-robin\n");
    for (int i = 0; i < 30; i++) {
        size_t who = lookup_from(fanout_test_fmt("rr%d.example.com.", i));
        cr_assert_eq(who, (size_t)(i % 3), "call %d went to %s, expected %s", i,
                     fake_fanout_name(fanout_test_up(who)),
                     fake_fanout_name(fanout_test_up((size_t)(i % 3))));
    }
    for (size_t k = 0; k < 3; k++) {
        cr_assert_eq(fake_fanout_count(fanout_test_up(k), "lookup"), 10);
    }
}

Test(fanout_balance, weighted_splits_three_to_one)
{
    fanout_test_responders(2);
    fanout_test_gw("upstream=http:url={A},name=alpha,weight=3\n"
                   "upstream+=http:url={B},name=bravo,weight=1\n"
                   "pool=p:upstreams=alpha+bravo,policy=weighted\n");
    size_t per_window = 0;
    for (int i = 0; i < 40; i++) {
        per_window += lookup_from(fanout_test_fmt("w%d.example.com.", i)) == 0;
        if (i % 4 == 3) {
            /* smooth weighted round-robin: every run of sum-of-weights calls is exact */
            cr_assert_eq(per_window, 3, "calls %d..%d: alpha got %zu of 4, expected 3", i - 3, i,
                         per_window);
            per_window = 0;
        }
    }
    cr_assert_eq(fake_fanout_count(fanout_test_up(0), "lookup"), 30);
    cr_assert_eq(fake_fanout_count(fanout_test_up(1), "lookup"), 10);
}

Test(fanout_balance, least_outstanding_avoids_a_busy_member)
{
    fanout_test_responders(2);
    fanout_test_gw("deadline=60000\n"
                   "upstream=http:url={A},name=alpha,timeout=60000\n"
                   "upstream+=http:url={B},name=bravo,timeout=60000\n"
                   "pool=p:upstreams=alpha+bravo,policy=least-outstanding\n");
    /* Idle members tie: the rotation makes them take turns. */
    for (int i = 0; i < 4; i++) {
        size_t who = lookup_from(fanout_test_fmt("idle%d.example.com.", i));
        cr_assert_eq(who, (size_t)(i % 2), "idle call %d went to %s", i,
                     fake_fanout_name(fanout_test_up(who)));
    }
    /* The next call (the rotation's turn is alpha's) stalls there and stays in flight. */
    fake_fanout_rule(fanout_test_up(0), "lookup", FAKE_FANOUT_STALL, 1);
    struct fake_json_client *c = fanout_test_client();
    fanout_test_send(c, fanout_test_lookup("stalled.example.com."));
    cr_assert(fake_fanout_wait_pending(fanout_test_up(0), 1, FANOUT_IO_MS),
              "the stalled call never reached alpha; rbgw stderr:\n%s", fanout_test_stderr());
    for (int i = 0; i < 10; i++) {
        size_t who = lookup_from(fanout_test_fmt("busy%d.example.com.", i));
        cr_assert_eq(who, 1, "call %d went to alpha, which has a call in flight and bravo none", i);
    }
    cr_assert_eq(fake_fanout_count(fanout_test_up(0), "lookup"), 3);
    cr_assert_eq(fake_fanout_count(fanout_test_up(1), "lookup"), 12);
}

Test(fanout_balance, consistent_hash_keeps_a_name_on_one_member)
{
    enum { NAMES = 24 };
    size_t owner[NAMES];
    size_t used[3] = {0, 0, 0};
    fanout_test_responders(3);
    fanout_test_gw(THREE_UPSTREAMS "pool=p:upstreams=alpha+bravo+charlie,policy=consistent-hash\n");
    for (int i = 0; i < NAMES; i++) {
        owner[i] = lookup_from(fanout_test_fmt("host%d.example.com.", i));
        used[owner[i]]++;
    }
    /* Again, in another order and spelling: the counter moved, the owners must not. */
    for (int round = 0; round < 2; round++) {
        for (int i = NAMES - 1; i >= 0; i--) {
            const char *q = round == 0 ? fanout_test_fmt("host%d.example.com.", i)
                                       : fanout_test_fmt("HOST%d.Example.COM", i);
            size_t who = lookup_from(q);
            cr_assert_eq(who, owner[i], "%s went to %s, earlier host%d.example.com. to %s", q,
                         fake_fanout_name(fanout_test_up(who)), i,
                         fake_fanout_name(fanout_test_up(owner[i])));
        }
    }
    int members_used = (used[0] > 0) + (used[1] > 0) + (used[2] > 0);
    cr_assert_geq(members_used, 2, "%d names all hashed to one member (%zu/%zu/%zu)", NAMES,
                  used[0], used[1], used[2]);
}

Test(fanout_balance, zone_route_sends_reads_under_the_zone_to_its_pool)
{
    static const char *const to_p2[] = {"example.org.", "www.example.org.", "a.b.example.org.",
                                        "WWW.EXAMPLE.ORG."};
    static const char *const to_p1[] = {"www.example.com.", "badexample.org.", "org."};
    fanout_test_responders(2);
    fanout_test_gw("upstream=http:url={A},name=alpha\n"
                   "upstream+=http:url={B},name=bravo\n"
                   "pool=p1:upstreams=alpha\n"
                   "pool+=p2:upstreams=bravo\n"
                   "route=reads:pool=p2,zone=example.org.\n");
    for (size_t i = 0; i < sizeof(to_p2) / sizeof(*to_p2); i++) {
        cr_assert_eq(lookup_from(to_p2[i]), 1, "%s is under example.org.: pool p2 (bravo)",
                     to_p2[i]);
    }
    for (size_t i = 0; i < sizeof(to_p1) / sizeof(*to_p1); i++) {
        cr_assert_eq(lookup_from(to_p1[i]), 0, "%s is not under example.org.: first pool (alpha)",
                     to_p1[i]);
    }
    /* The route is for reads: a write about www.example.org. goes to the first pool. */
    const char *r = fanout_test_call(fanout_test_replace("www.example.org."));
    cr_assert(fanout_reply_ok(r), "write: %s", r);
    cr_assert(strstr(r, "alpha replaceRRSet"), "the write goes to p1 (alpha): %s", r);
    cr_assert_eq(fake_fanout_count(fanout_test_up(1), "lookup"), 4);
    cr_assert_eq(fake_fanout_count(fanout_test_up(1), "replaceRRSet"), 0);
    cr_assert_eq(fake_fanout_count(fanout_test_up(0), "lookup"), 3);
}

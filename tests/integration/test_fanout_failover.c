/*
 * test_fanout_failover.c: fan-out when responders die, fail and come back (docs/fanout.md,
 * Operation: retries, ejection and return, panic mode).
 *
 *   test ──stdin──> rbgw (pipe listener) ──HTTP──> alpha  (fake_fanout: killable, scripted)
 *                                        └─HTTP──> bravo
 *
 * What is checked: a read whose responder died is retried on the next member and answered, for
 * every read after the death; a write that reached a responder is never sent to another one
 * (false instead), while a write whose connection could not be opened moves on; failure-limit
 * consecutive failures eject a member, which then gets no calls at all; an active check (a new
 * TCP connection) brings a revived member back and its connection carries the next call; with
 * every member ejected, calls are still tried (panic mode).
 *
 * Nothing waits for a duration: tests wait for events (replies, accepted connections) with
 * FANOUT_IO_MS as a safety bound only.  Where a health check must happen, the test waits for
 * the check's connection to be accepted by the revived responder, counting from a number taken
 * while the responder was dead (so a check that connects at once is not missed).
 */
#include <criterion/criterion.h>

#include <string.h>

#include "fake_fanout.h"

TestSuite(fanout_failover, .fini = fanout_test_teardown, .timeout = 30);

static struct fake_fanout *
alpha(void)
{
    return fanout_test_up(0);
}

static struct fake_fanout *
bravo(void)
{
    return fanout_test_up(1);
}

static const char *
qname(int i)
{
    return fanout_test_fmt("q%d.example.com.", i);
}

/* A lookup that must be answered (not false) by responder `who`. */
static void
expect_lookup_from(int i, size_t who, const char *when)
{
    const char *r = fanout_test_call(fanout_test_lookup(qname(i)));
    cr_assert(fanout_reply_ok(r), "%s: lookup %d was answered false: %s\nrbgw stderr:\n%s", when, i,
              r, fanout_test_stderr());
    size_t from = fanout_reply_from(r);
    cr_assert_eq(from, who, "%s: lookup %d answered by %s, expected %s: %s", when, i,
                 fake_fanout_name(fanout_test_up(from)), fake_fanout_name(fanout_test_up(who)), r);
}

Test(fanout_failover, reads_fail_over_when_the_first_responder_dies)
{
    fanout_test_responders(2);
    fanout_test_gw("upstream=http:url={A},name=alpha\n"
                   "upstream+=http:url={B},name=bravo\n"
                   "pool=p:upstreams=alpha+bravo,policy=first-available\n");
    expect_lookup_from(0, 0, "before the kill");
    fake_fanout_kill(alpha());
    for (int i = 1; i <= 20; i++) {
        expect_lookup_from(i, 1, "after alpha died");
    }
    cr_assert_eq(fake_fanout_count(bravo(), "lookup"), 20);
    cr_assert_eq(fake_fanout_count(alpha(), "lookup"), 1);
}

Test(fanout_failover, write_that_reached_a_responder_is_not_sent_elsewhere)
{
    fanout_test_responders(2);
    /* alpha reads the write and closes the connection without a byte of reply. */
    fake_fanout_rule(alpha(), "replaceRRSet", FAKE_FANOUT_CLOSE, 1);
    fanout_test_gw("upstream=http:url={A},name=alpha\n"
                   "upstream+=http:url={B},name=bravo\n"
                   "pool=p:upstreams=alpha+bravo,policy=first-available\n");
    const char *r = fanout_test_call(fanout_test_replace("www.example.com."));
    cr_assert_not(fanout_reply_ok(r), "a write lost after reaching alpha must be false: %s", r);
    cr_assert(strstr(r, "alpha"), "the false reply should name alpha: %s", r);
    cr_assert_eq(fake_fanout_count(alpha(), "replaceRRSet"), 1,
                 "alpha saw the write %zu times (rbgw stderr:\n%s)",
                 fake_fanout_count(alpha(), "replaceRRSet"), fanout_test_stderr());
    cr_assert_eq(fake_fanout_nreqs(bravo()), 0,
                 "bravo must never see a write alpha may have "
                 "applied; rbgw stderr:\n%s",
                 fanout_test_stderr());

    /* alpha is still in service: the next write is its to answer. */
    r = fanout_test_call(fanout_test_replace("www.example.com."));
    cr_assert(fanout_reply_ok(r), "second write: %s", r);
    cr_assert(strstr(r, "alpha replaceRRSet"), "second write answered by alpha: %s", r);
    cr_assert_eq(fake_fanout_nreqs(bravo()), 0);
}

Test(fanout_failover, write_is_not_repeated_on_a_reused_connection)
{
    fanout_test_responders(2);
    fanout_test_gw("upstream=http:url={A},name=alpha\n"
                   "upstream+=http:url={B},name=bravo\n"
                   "pool=p:upstreams=alpha+bravo,policy=first-available\n");
    /* A first write leaves a kept-alive connection to alpha; the second write goes on it, and
     * alpha reads it and closes the connection: it may have applied it. */
    const char *r = fanout_test_call(fanout_test_replace("one.example.com."));
    cr_assert(fanout_reply_ok(r), "first write: %s", r);
    fake_fanout_rule(alpha(), "replaceRRSet", FAKE_FANOUT_CLOSE, 1);
    r = fanout_test_call(fanout_test_replace("two.example.com."));
    size_t seen = 0;
    for (size_t i = 0; i < fake_fanout_nreqs(alpha()); i++) {
        struct fake_fanout_req req;
        cr_assert(fake_fanout_req(alpha(), i, &req));
        seen += strcmp(req.name, "two.example.com.") == 0;
    }
    cr_assert_eq(seen, 1,
                 "alpha received the second write %zu times: a write that reached a responder "
                 "must not be sent again (reply %s); rbgw stderr:\n%s",
                 seen, r, fanout_test_stderr());
    cr_assert_not(fanout_reply_ok(r), "the write's fate is unknown: false: %s", r);
    cr_assert_eq(fake_fanout_nreqs(bravo()), 0);
}

Test(fanout_failover, write_that_could_not_connect_moves_on)
{
    fanout_test_responders(2);
    fanout_test_gw("upstream=http:url={A},name=alpha\n"
                   "upstream+=http:url={B},name=bravo\n"
                   "pool=p:upstreams=alpha+bravo,policy=first-available\n");
    fake_fanout_kill(alpha()); /* before any call: the connect is refused, nothing was sent */
    const char *r = fanout_test_call(fanout_test_replace("www.example.com."));
    cr_assert(fanout_reply_ok(r), "a write that never reached alpha goes to bravo: %s\n%s", r,
              fanout_test_stderr());
    cr_assert(strstr(r, "bravo replaceRRSet"), "answered by bravo: %s", r);
    cr_assert_eq(fake_fanout_count(bravo(), "replaceRRSet"), 1);
    cr_assert_eq(fake_fanout_nreqs(alpha()), 0);
}

Test(fanout_failover, ejected_member_gets_no_calls)
{
    fanout_test_responders(2);
    /* alpha is reachable but drops every lookup: transport failures, not answers. */
    fake_fanout_rule(alpha(), "lookup", FAKE_FANOUT_CLOSE, -1);
    fanout_test_gw("upstream=http:url={A},name=alpha,failure-limit=2,health-interval=600000\n"
                   "upstream+=http:url={B},name=bravo\n"
                   "pool=p:upstreams=alpha+bravo,policy=first-available\n");
    /* Two failures on alpha (each read retried on bravo) eject it. */
    expect_lookup_from(0, 1, "first failure on alpha");
    expect_lookup_from(1, 1, "second failure on alpha");
    cr_assert_eq(fake_fanout_count(alpha(), "lookup"), 2);
    unsigned accepts = fake_fanout_accepts(alpha());
    for (int i = 2; i < 22; i++) {
        expect_lookup_from(i, 1, "alpha ejected");
    }
    cr_assert_eq(fake_fanout_count(alpha(), "lookup"), 2,
                 "an ejected member was still sent lookups; rbgw stderr:\n%s",
                 fanout_test_stderr());
    cr_assert_eq(fake_fanout_accepts(alpha()), accepts,
                 "an ejected member was connected to before its health-interval");
    cr_assert_eq(fake_fanout_count(bravo(), "lookup"), 22);
}

Test(fanout_failover, revived_member_returns_after_an_active_check)
{
    fanout_test_responders(2);
    fake_fanout_rule(alpha(), "lookup", FAKE_FANOUT_CLOSE, 2);
    /* retry-after=0: while alpha is dead every call really tries it (no back-off), so a check
     * that passed just before the kill is undone by two failures, not by a budget of retries. */
    fanout_test_gw("upstream=http:url={A},name=alpha,failure-limit=2,health-interval=50,"
                   "retry-after=0\n"
                   "upstream+=http:url={B},name=bravo\n"
                   "pool=p:upstreams=alpha+bravo,policy=first-available\n");
    expect_lookup_from(0, 1, "first failure on alpha");
    expect_lookup_from(1, 1, "second failure on alpha");
    fake_fanout_kill(alpha()); /* ejected and now dead: its checks are refused */
    for (int i = 2; i < 7; i++) {
        expect_lookup_from(i, 1, "alpha dead");
    }
    /* Counted while alpha is dead: nothing can reach it before the revive, so these are the
     * counts the check's connection and the next call add to, however soon after the revive
     * the check connects (it may well be before fake_fanout_revive returns). */
    size_t alpha_reqs = fake_fanout_nreqs(alpha());
    unsigned accepts = fake_fanout_accepts(alpha());

    cr_assert_eq(fake_fanout_revive(alpha()), 0, "cannot listen again on alpha's port");
    cr_assert(fake_fanout_wait_accepts(alpha(), accepts + 1, FANOUT_IO_MS),
              "no health check connected to the revived alpha; rbgw stderr:\n%s",
              fanout_test_stderr());
    cr_assert_eq(fake_fanout_nreqs(alpha()), alpha_reqs, "the check must not send a call");

    /* The check has connected; rbgw marks alpha healthy when it sees the connect complete,
     * which may be a moment after alpha's accept: bravo may take a few more calls. */
    int i = 7;
    for (; i < 200; i++) {
        const char *r = fanout_test_call(fanout_test_lookup(qname(i)));
        cr_assert(fanout_reply_ok(r), "lookup %d around alpha's return: %s", i, r);
        if (fanout_reply_from(r) == 0) {
            break;
        }
    }
    cr_assert_lt(i, 200, "alpha never got a call after passing its check; rbgw stderr:\n%s",
                 fanout_test_stderr());
    struct fake_fanout_req req;
    cr_assert(fake_fanout_req(alpha(), alpha_reqs, &req));
    cr_assert_eq(req.conn, accepts,
                 "the first call after the return should use the check's connection (#%u), "
                 "came on #%u",
                 accepts, req.conn);
    for (int k = 0; k < 5; k++) {
        expect_lookup_from(1000 + k, 0, "alpha back in service");
    }
}

Test(fanout_failover, panic_mode_still_tries_ejected_members)
{
    fanout_test_responders(2);
    fake_fanout_rule(alpha(), "lookup", FAKE_FANOUT_CLOSE, 1);
    fake_fanout_rule(bravo(), "lookup", FAKE_FANOUT_CLOSE, 1);
    fanout_test_gw("upstream=http:url={A},name=alpha,failure-limit=1,health-interval=600000\n"
                   "upstream+=http:url={B},name=bravo,failure-limit=1,health-interval=600000\n"
                   "pool=p:upstreams=alpha+bravo,policy=round-robin\n");
    /* Call 0 starts at alpha: it fails (ejected), the retry on bravo fails (ejected). */
    const char *r = fanout_test_call(fanout_test_lookup(qname(0)));
    cr_assert_not(fanout_reply_ok(r), "both members failed: %s", r);
    cr_assert(strstr(r, "alpha") && strstr(r, "bravo"), "the reply names both: %s", r);
    /* Every member is ejected now: calls still go out, and in the policy's order over all of
     * them (round-robin takes turns), not "unhealthy last" in member order. */
    for (int i = 1; i <= 4; i++) {
        expect_lookup_from(i, (size_t)(i % 2), "panic mode");
    }
    cr_assert_eq(fake_fanout_count(alpha(), "lookup"), 3);
    cr_assert_eq(fake_fanout_count(bravo(), "lookup"), 3);
}

/*
 * test_fanout_modes.c: how several responders' answers become the one reply pdns reads: read
 * modes merge, first-nonempty, first-success and one, and write=all (docs/fanout.md, Read
 * modes, Write modes, Merging replies).
 *
 *   test ──stdin──> rbgw (pipe listener) ──HTTP──> alpha, bravo (fake_fanout)
 *
 * Responders name themselves in every answer (record content 192.0.2.<id>, log "<name>
 * <method>"), and per-method rules make one of them answer empty, false, or drop the
 * connection.  merge: records and logs of both, in pool order even when the first member
 * answers last (alpha is held until bravo has answered); failed legs are left out.
 * first-nonempty: the first with records wins, [] only when all are empty, and later members
 * are not asked once one had data.  first-success: false or a dropped connection moves on.
 * read=one: false is an answer, not retried.  write=all: every member gets the write; one
 * failure makes the reply false and names the member.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "fake_fanout.h"

TestSuite(fanout_modes, .fini = fanout_test_teardown, .timeout = 30);

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

static void
start_pool(const char *pool_opts)
{
    fanout_test_gw(fanout_test_fmt("upstream=http:url={A},name=alpha\n"
                                   "upstream+=http:url={B},name=bravo\n"
                                   "pool=p:upstreams=alpha+bravo,policy=first-available,%s\n",
                                   pool_opts));
}

static void
expect_contents(const char *r, size_t n, const char *c0, const char *c1)
{
    const char *c[4];
    cr_assert(fanout_reply_ok(r), "reply is false: %s\nrbgw stderr:\n%s", r, fanout_test_stderr());
    size_t got = fanout_reply_contents(r, c, 4);
    cr_assert_eq(got, n, "expected %zu records, got %zu: %s", n, got, r);
    if (n > 0) {
        cr_assert_str_eq(c[0], c0, "record 0: %s", r);
    }
    if (n > 1) {
        cr_assert_str_eq(c[1], c1, "record 1: %s", r);
    }
}

/* ---- merge ---- */

Test(fanout_modes, merge_concatenates_records_and_logs_in_pool_order)
{
    fanout_test_responders(2);
    /* alpha, first in the pool, answers only after bravo has: arrival order is bravo, alpha. */
    fake_fanout_rule(alpha(), "lookup", FAKE_FANOUT_HOLD, 1);
    start_pool("read=merge");
    struct fake_json_client *c = fanout_test_client();
    fanout_test_send(c, fanout_test_lookup("www.example.com."));
    cr_assert(fake_fanout_wait_pending(alpha(), 1, FANOUT_IO_MS), "alpha never got the lookup");
    cr_assert(fake_fanout_wait_reqs(bravo(), 1, FANOUT_IO_MS), "bravo never got the lookup");
    fake_fanout_release(alpha());
    const char *r = fanout_test_read(c);
    expect_contents(r, 2, "192.0.2.1", "192.0.2.2");
    const char *logs[4];
    size_t n = fanout_reply_logs(r, logs, 4);
    cr_assert_eq(n, 2, "two log lines expected: %s", r);
    cr_assert_str_eq(logs[0], "alpha lookup", "%s", r);
    cr_assert_str_eq(logs[1], "bravo lookup", "%s", r);
}

Test(fanout_modes, merge_leaves_out_failed_legs)
{
    fanout_test_responders(2);
    fake_fanout_rule(alpha(), "lookup", FAKE_FANOUT_FALSE, 1);
    /* twice: a read on a reused connection closed before any reply byte is sent once more on
     * a fresh connection (connpool.h retry rule); that one is dropped too */
    fake_fanout_rule(alpha(), "lookup", FAKE_FANOUT_CLOSE, 2);
    start_pool("read=merge");
    /* alpha says false: bravo's records, and both logs (failed legs' logs are kept). */
    const char *r = fanout_test_call(fanout_test_lookup("www.example.com."));
    expect_contents(r, 1, "192.0.2.2", NULL);
    const char *logs[4];
    size_t n = fanout_reply_logs(r, logs, 4);
    cr_assert_eq(n, 2, "two log lines expected: %s", r);
    cr_assert_str_eq(logs[0], "alpha lookup false", "%s", r);
    cr_assert_str_eq(logs[1], "bravo lookup", "%s", r);
    /* alpha drops the connection: bravo's records. */
    r = fanout_test_call(fanout_test_lookup("www.example.com."));
    expect_contents(r, 1, "192.0.2.2", NULL);
    cr_assert_geq(fake_fanout_count(alpha(), "lookup"), 2);
    cr_assert_eq(fake_fanout_count(bravo(), "lookup"), 2);
}

Test(fanout_modes, merge_with_every_leg_failed_is_false)
{
    fanout_test_responders(2);
    fake_fanout_rule(alpha(), "lookup", FAKE_FANOUT_FALSE, 1);
    fake_fanout_rule(bravo(), "lookup", FAKE_FANOUT_CLOSE, 1);
    start_pool("read=merge");
    const char *r = fanout_test_call(fanout_test_lookup("www.example.com."));
    cr_assert_not(fanout_reply_ok(r), "no leg succeeded: %s", r);
}

/* ---- first-nonempty ---- */

Test(fanout_modes, first_nonempty_moves_past_empty_answers)
{
    fanout_test_responders(2);
    start_pool("read=first-nonempty");

    fake_fanout_rule(alpha(), "lookup", FAKE_FANOUT_EMPTY, 1);
    const char *r = fanout_test_call(fanout_test_lookup("www.example.com."));
    expect_contents(r, 1, "192.0.2.2", NULL);
    cr_assert_eq(fake_fanout_count(alpha(), "lookup"), 1);
    cr_assert_eq(fake_fanout_count(bravo(), "lookup"), 1);

    /* Both empty: the (first) empty answer. */
    fake_fanout_rule(alpha(), "lookup", FAKE_FANOUT_EMPTY, 1);
    fake_fanout_rule(bravo(), "lookup", FAKE_FANOUT_EMPTY, 1);
    r = fanout_test_call(fanout_test_lookup("www.example.com."));
    cr_assert(fanout_reply_empty_array(r), "both empty: the reply is [] (not false): %s", r);
    cr_assert_eq(fake_fanout_count(bravo(), "lookup"), 2);

    /* alpha has data: bravo is not asked. */
    r = fanout_test_call(fanout_test_lookup("www.example.com."));
    expect_contents(r, 1, "192.0.2.1", NULL);
    cr_assert_eq(fake_fanout_count(bravo(), "lookup"), 2, "bravo asked although alpha had data");
}

/* ---- first-success and one ---- */

Test(fanout_modes, first_success_moves_past_false_and_failures)
{
    fanout_test_responders(2);
    start_pool("read=first-success");

    fake_fanout_rule(alpha(), "lookup", FAKE_FANOUT_FALSE, 1);
    const char *r = fanout_test_call(fanout_test_lookup("www.example.com."));
    expect_contents(r, 1, "192.0.2.2", NULL);

    /* twice: the pool's one retry on a fresh connection is dropped too (see above) */
    fake_fanout_rule(alpha(), "lookup", FAKE_FANOUT_CLOSE, 2);
    r = fanout_test_call(fanout_test_lookup("www.example.com."));
    expect_contents(r, 1, "192.0.2.2", NULL);

    r = fanout_test_call(fanout_test_lookup("www.example.com."));
    expect_contents(r, 1, "192.0.2.1", NULL);
    cr_assert_eq(fake_fanout_count(bravo(), "lookup"), 2, "bravo asked although alpha succeeded");

    fake_fanout_rule(alpha(), "lookup", FAKE_FANOUT_FALSE, 1);
    fake_fanout_rule(bravo(), "lookup", FAKE_FANOUT_FALSE, 1);
    r = fanout_test_call(fanout_test_lookup("www.example.com."));
    cr_assert_not(fanout_reply_ok(r), "both said false: %s", r);
}

Test(fanout_modes, read_one_does_not_retry_an_answered_false)
{
    fanout_test_responders(2);
    start_pool("read=one,retries=1");
    fake_fanout_rule(alpha(), "lookup", FAKE_FANOUT_FALSE, 1);
    const char *r = fanout_test_call(fanout_test_lookup("www.example.com."));
    cr_assert_not(fanout_reply_ok(r), "alpha's false is the answer: %s", r);
    cr_assert(strstr(r, "alpha lookup false"), "alpha's own log is passed on: %s", r);
    cr_assert_eq(fake_fanout_nreqs(bravo()), 0, "a false answer was retried on bravo");
}

/* ---- write=all ---- */

Test(fanout_modes, write_all_reaches_every_member_and_names_the_one_that_failed)
{
    fanout_test_responders(2);
    start_pool("write=all");

    const char *r = fanout_test_call(fanout_test_replace("www.example.com."));
    cr_assert(fanout_reply_ok(r), "both succeeded: %s\nrbgw stderr:\n%s", r, fanout_test_stderr());
    cr_assert_eq(fake_fanout_count(alpha(), "replaceRRSet"), 1);
    cr_assert_eq(fake_fanout_count(bravo(), "replaceRRSet"), 1);

    fake_fanout_rule(bravo(), "replaceRRSet", FAKE_FANOUT_FALSE, 1);
    r = fanout_test_call(fanout_test_replace("www.example.com."));
    cr_assert_not(fanout_reply_ok(r), "bravo said false: the write failed: %s", r);
    cr_assert(strstr(r, "bravo"), "the reply names bravo: %s", r);
    cr_assert_eq(fake_fanout_count(alpha(), "replaceRRSet"), 2, "alpha gets the write too");
    cr_assert_eq(fake_fanout_count(bravo(), "replaceRRSet"), 2);
}

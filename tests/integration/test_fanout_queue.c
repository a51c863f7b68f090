/*
 * test_fanout_queue.c: a saturated upstream answers false at once instead of stalling pdns
 * (docs/fanout.md, Operation: Connections and queueing; connpool.h max-conns, max-queue,
 * queue-timeout).
 *
 *   pdns connections (unix clients c1..c3) ──> rbgw ──HTTP, max-conns=1──> alpha (stalls)
 *
 * c1's lookup takes alpha's only connection and stalls there (timeout and deadline are a
 * minute, so it stays in flight for the whole test).  Further lookups must wait for a
 * connection: with queue-timeout=100 they are answered false, naming the wait, while c1 is
 * still unanswered (the order of events is the assertion, with a minute's margin; no
 * duration is measured).  With max-queue=1 one of two waiting lookups finds the queue full and
 * is answered "saturated".  Neither opens another connection to alpha.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fake_fanout.h"

TestSuite(fanout_queue, .fini = fanout_test_teardown, .timeout = 30);

/* Start alpha stalling every lookup, rbgw with opts on alpha, and c1's lookup stalled there. */
static struct fake_json_client *
start_saturated(const char *opts)
{
    fanout_test_responders(1);
    fake_fanout_rule(fanout_test_up(0), "lookup", FAKE_FANOUT_STALL, -1);
    fanout_test_gw(
        fanout_test_fmt("deadline=60000\n"
                        "upstream=http:url={A},name=alpha,timeout=60000,max-conns=1,%s\n",
                        opts));
    struct fake_json_client *c1 = fanout_test_client();
    fanout_test_send(c1, fanout_test_lookup("stalled.example.com."));
    cr_assert(fake_fanout_wait_pending(fanout_test_up(0), 1, FANOUT_IO_MS),
              "c1's lookup never reached alpha; rbgw stderr:\n%s", fanout_test_stderr());
    return c1;
}

static void
expect_unanswered(struct fake_json_client *c)
{
    char *line = fake_json_read_line(c, 0, NULL);
    cr_assert_null(line, "the stalled call was answered early: %s", line ? line : "");
    cr_assert_eq(errno, ETIMEDOUT, "rbgw closed the stalled call's connection");
}

Test(fanout_queue, queued_calls_get_a_prompt_false_after_queue_timeout)
{
    struct fake_json_client *c1 = start_saturated("queue-timeout=100");
    struct fake_json_client *c2 = fanout_test_client();
    struct fake_json_client *c3 = fanout_test_client();
    fanout_test_send(c2, fanout_test_lookup("two.example.com."));
    fanout_test_send(c3, fanout_test_lookup("three.example.com."));
    const char *r2 = fanout_test_read(c2);
    const char *r3 = fanout_test_read(c3);
    const char *replies[] = {r2, r3};
    for (size_t i = 0; i < 2; i++) {
        cr_assert_not(fanout_reply_ok(replies[i]), "a queued call cannot succeed: %s", replies[i]);
        cr_assert(strstr(replies[i], "no connection became free"),
                  "the reply names the wait for a connection: %s", replies[i]);
        cr_assert(strstr(replies[i], "max-conns=1"), "the reply names max-conns: %s", replies[i]);
    }
    expect_unanswered(c1);
    cr_assert_eq(fake_fanout_nreqs(fanout_test_up(0)), 1, "only c1's call reached alpha");
    cr_assert_eq(fake_fanout_accepts(fanout_test_up(0)), 1, "max-conns=1 was exceeded");
}

Test(fanout_queue, full_queue_answers_saturated)
{
    struct fake_json_client *c1 = start_saturated("queue-timeout=2000,max-queue=1");
    struct fake_json_client *c2 = fanout_test_client();
    struct fake_json_client *c3 = fanout_test_client();
    fanout_test_send(c2, fanout_test_lookup("two.example.com."));
    fanout_test_send(c3, fanout_test_lookup("three.example.com."));
    /* Which of c2, c3 rbgw reads first is not ours to know: one waits in the queue (and is
     * answered when its queue-timeout ends), the other finds the queue full. */
    const char *r2 = fanout_test_read(c2);
    const char *r3 = fanout_test_read(c3);
    const char *replies[] = {r2, r3};
    int saturated = 0, waited = 0;
    for (size_t i = 0; i < 2; i++) {
        cr_assert_not(fanout_reply_ok(replies[i]), "a queued call cannot succeed: %s", replies[i]);
        saturated += strstr(replies[i], "saturated") != NULL;
        waited += strstr(replies[i], "no connection became free") != NULL;
    }
    cr_assert(saturated == 1 && waited == 1,
              "expected one \"saturated\" and one queue-timeout reply:\n  %s\n  %s", r2, r3);
    cr_assert(strstr(strstr(r2, "saturated") ? r2 : r3, "max-queue=1"),
              "the saturated reply names max-queue: %s / %s", r2, r3);
    expect_unanswered(c1);
    cr_assert_eq(fake_fanout_nreqs(fanout_test_up(0)), 1, "only c1's call reached alpha");
    cr_assert_eq(fake_fanout_accepts(fanout_test_up(0)), 1, "max-conns=1 was exceeded");
}

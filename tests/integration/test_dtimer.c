/*
 * test_dtimer.c: the timers rung by one timerfd (src/dtimer.c) on a real event loop.
 *
 * What: while timers are active the loop's sleep has no timeout (uv_backend_timeout is -1:
 * the point of the module) and the loop stays alive; each timer fires once, in the order of
 * its due time, timers due at the same millisecond in the order they were started; a stopped
 * timer never fires and a restarted one fires at its new time only; a timer started from a
 * callback fires, on a later ring; an early ring (the timer it was set for was stopped) finds
 * nothing and rings again for the next; 2 000 timers started and stopped at random fire
 * exactly as a sorted list says; once closed, pending timers never fire and a start does
 * nothing, and the loop closes cleanly.
 *
 * Why: every upstream connection's call and idle timeouts go through it: a timer that never
 * rang would be a call never answered, one that rang twice a connection closed twice.
 *
 * Every case runs twice: on the timerfd, and on the libuv timer that rings where there is none.
 * Due times are a few milliseconds ahead; the assertions are about order and counts only, so
 * a slow machine changes nothing but how long the test takes.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rbgw/common.h"
#include "rbgw/dtimer.h"

#define MANY 2000

struct probe {
    struct rbgw_dtimer t;
    int key;             /* what the test calls it */
    int fired;           /* times its callback ran */
    struct probe *start; /* started from this one's callback (0 ms), or NULL */
};

static struct rbgw_dtimers set;
static uv_loop_t loop;
static int order[MANY + 16]; /* keys in firing order */
static int nfired;

static void
on_fire(struct rbgw_dtimer *t)
{
    struct probe *p = t->data;
    p->fired++;
    cr_assert_lt(nfired, (int)RBGW_NELEM(order));
    order[nfired++] = p->key;
    if (p->start) {
        rbgw_dtimer_start(&set, &p->start->t, on_fire, 0);
    }
}

static void
probe_init(struct probe *p, int key)
{
    memset(p, 0, sizeof(*p));
    p->key = key;
    rbgw_dtimer_init(&p->t, on_fire, p);
}

static void
setup(void)
{
    nfired = 0;
    cr_assert_eq(uv_loop_init(&loop), 0);
    rbgw_dtimers_init(&set, &loop);
    cr_assert_geq(set.fd, 0, "no timerfd");
}

/* Where there is no timerfd: one libuv timer rings the same heap. */
static void
setup_fallback(void)
{
    nfired = 0;
    cr_assert_eq(uv_loop_init(&loop), 0);
    rbgw__dtimers_init_fallback(&set, &loop);
    cr_assert_eq(set.fd, -1);
}

static void
teardown(void)
{
    rbgw_dtimers_close(&set);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_expect_eq(uv_loop_close(&loop), 0, "a timer handle is still open");
    rbgw_dtimers_free(&set);
}

TestSuite(dtimer, .init = setup, .fini = teardown, .timeout = 30);
TestSuite(dtimer_fallback, .init = setup_fallback, .fini = teardown, .timeout = 30);

static void
the_loop_sleeps_untimed_and_stays_alive_while_timers_wait(void)
{
    struct probe a;
    probe_init(&a, 1);
    cr_expect_eq(uv_loop_alive(&loop), 0, "an empty set keeps the loop alive");
    rbgw_dtimer_start(&set, &a.t, on_fire, 60000);
    cr_assert(rbgw_dtimer_active(&a.t));
    cr_expect_neq(uv_loop_alive(&loop), 0, "an active timer does not keep the loop alive");
    uv_run(&loop, UV_RUN_NOWAIT); /* one pass: the timerfd joins the loop's epoll set */
    /* What this module is for: with a libuv timer this would be its due time, 60 000 ms
     * (as the fallback shows). */
    if (set.fd >= 0) {
        cr_expect_eq(uv_backend_timeout(&loop), -1, "the loop would sleep with a timeout");
    } else {
        cr_expect_gt(uv_backend_timeout(&loop), 59000, "the fallback timer is not set");
    }
    cr_expect_eq(a.fired, 0);
    rbgw_dtimer_start(&set, &a.t, on_fire, 1);
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0); /* returns once nothing is left */
    cr_expect_eq(a.fired, 1);
    cr_expect_not(rbgw_dtimer_active(&a.t));
    cr_expect_eq(uv_loop_alive(&loop), 0, "a fired timer keeps the loop alive");
}

static void
fires_in_due_order_ties_in_start_order(void)
{
    struct probe p[6];
    /* keys: 0 (4 ms), 1 (1 ms), 2 (4 ms, after 0), 3 (0 ms), 4 (1 ms, after 1), 5 (2 ms) */
    static const uint64_t ms[6] = {4, 1, 4, 0, 1, 2};
    for (int i = 0; i < 6; i++) {
        probe_init(&p[i], i);
        rbgw_dtimer_start(&set, &p[i].t, on_fire, ms[i]);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    static const int want[6] = {3, 1, 4, 5, 0, 2};
    cr_assert_eq(nfired, 6);
    for (int i = 0; i < 6; i++) {
        cr_expect_eq(order[i], want[i], "fired #%d was %d, not %d", i, order[i], want[i]);
    }
}

static void
stopped_never_fires_restarted_fires_at_its_new_time(void)
{
    struct probe a, b, c;
    probe_init(&a, 1);
    probe_init(&b, 2);
    probe_init(&c, 3);
    rbgw_dtimer_start(&set, &a.t, on_fire, 1); /* the timerfd is set for a's time */
    rbgw_dtimer_start(&set, &b.t, on_fire, 3);
    rbgw_dtimer_start(&set, &c.t, on_fire, 2);
    rbgw_dtimer_stop(&set, &a.t); /* the ring set for a comes, finds nothing due, sets again */
    rbgw_dtimer_stop(&set, &a.t); /* twice: nothing */
    rbgw_dtimer_start(&set, &c.t, on_fire, 6); /* moved after b */
    cr_expect_not(rbgw_dtimer_active(&a.t));
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_expect_eq(a.fired, 0, "a stopped timer fired");
    cr_expect_eq(b.fired, 1);
    cr_expect_eq(c.fired, 1, "a restarted timer fired %d times", c.fired);
    cr_assert_eq(nfired, 2);
    cr_expect_eq(order[0], 2);
    cr_expect_eq(order[1], 3);
}

static void
a_timer_started_from_a_callback_fires_later(void)
{
    struct probe a, b, c;
    probe_init(&a, 1);
    probe_init(&b, 2);
    probe_init(&c, 3);
    a.start = &b; /* b starts from a's callback, for 0 ms; then c from b's */
    b.start = &c;
    rbgw_dtimer_start(&set, &a.t, on_fire, 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(nfired, 3);
    cr_expect(order[0] == 1 && order[1] == 2 && order[2] == 3);
    cr_expect_eq(a.fired + b.fired + c.fired, 3);
}

/* The heap against a sorted list: random due times, random stops and restarts. */
static int
by_due_then_seq(const void *x, const void *y)
{
    const struct probe *a = *(struct probe *const *)x, *b = *(struct probe *const *)y;
    if (a->t.due != b->t.due) {
        return a->t.due < b->t.due ? -1 : 1;
    }
    return a->t.seq < b->t.seq ? -1 : (a->t.seq > b->t.seq);
}

static void
many_timers_fire_as_a_sorted_list_says(void)
{
    static struct probe p[MANY];
    static struct probe *want[MANY];
    srand(12345);
    uv_update_time(&loop);
    for (int i = 0; i < MANY; i++) {
        probe_init(&p[i], i);
        rbgw_dtimer_start(&set, &p[i].t, on_fire, (uint64_t)(rand() % 20));
    }
    /* Stop a third and restart another third (new due times, new start order). */
    for (int i = 0; i < MANY; i++) {
        int r = rand() % 3;
        if (r == 0) {
            rbgw_dtimer_stop(&set, &p[i].t);
        } else if (r == 1) {
            rbgw_dtimer_start(&set, &p[i].t, on_fire, (uint64_t)(rand() % 20));
        }
    }
    size_t n = 0;
    for (int i = 0; i < MANY; i++) {
        if (rbgw_dtimer_active(&p[i].t)) {
            want[n++] = &p[i];
        }
    }
    qsort(want, n, sizeof(*want), by_due_then_seq);
    cr_assert_gt(n, MANY / 3);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq((size_t)nfired, n, "%d fired, %zu were active", nfired, n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(order[i], want[i]->key, "fired #%zu was %d, not %d", i, order[i],
                     want[i]->key);
    }
    for (int i = 0; i < MANY; i++) {
        cr_assert_leq(p[i].fired, 1, "timer %d fired %d times", i, p[i].fired);
    }
}

static void
closed_set_fires_nothing_and_starts_nothing(void)
{
    struct probe a, b;
    probe_init(&a, 1);
    probe_init(&b, 2);
    rbgw_dtimer_start(&set, &a.t, on_fire, 1);
    rbgw_dtimers_close(&set);
    cr_expect_not(rbgw_dtimer_active(&a.t), "a pending timer is still active after close");
    rbgw_dtimer_start(&set, &b.t, on_fire, 0);
    cr_expect_not(rbgw_dtimer_active(&b.t), "a start after close did something");
    rbgw_dtimer_stop(&set, &a.t); /* an owner closing later: harmless */
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_expect_eq(nfired, 0);
}

/* Every case, on the timerfd and on the fallback. */
Test(dtimer, the_loop_sleeps_untimed_and_stays_alive_while_timers_wait)
{
    the_loop_sleeps_untimed_and_stays_alive_while_timers_wait();
}

Test(dtimer_fallback, the_loop_sleeps_untimed_and_stays_alive_while_timers_wait)
{
    the_loop_sleeps_untimed_and_stays_alive_while_timers_wait();
}

Test(dtimer, fires_in_due_order_ties_in_start_order)
{
    fires_in_due_order_ties_in_start_order();
}

Test(dtimer_fallback, fires_in_due_order_ties_in_start_order)
{
    fires_in_due_order_ties_in_start_order();
}

Test(dtimer, stopped_never_fires_restarted_fires_at_its_new_time)
{
    stopped_never_fires_restarted_fires_at_its_new_time();
}

Test(dtimer_fallback, stopped_never_fires_restarted_fires_at_its_new_time)
{
    stopped_never_fires_restarted_fires_at_its_new_time();
}

Test(dtimer, a_timer_started_from_a_callback_fires_later)
{
    a_timer_started_from_a_callback_fires_later();
}

Test(dtimer_fallback, a_timer_started_from_a_callback_fires_later)
{
    a_timer_started_from_a_callback_fires_later();
}

Test(dtimer, many_timers_fire_as_a_sorted_list_says)
{
    many_timers_fire_as_a_sorted_list_says();
}

Test(dtimer_fallback, many_timers_fire_as_a_sorted_list_says)
{
    many_timers_fire_as_a_sorted_list_says();
}

Test(dtimer, closed_set_fires_nothing_and_starts_nothing)
{
    closed_set_fires_nothing_and_starts_nothing();
}

Test(dtimer_fallback, closed_set_fires_nothing_and_starts_nothing)
{
    closed_set_fires_nothing_and_starts_nothing();
}

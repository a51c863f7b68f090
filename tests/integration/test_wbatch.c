/*
 * test_wbatch.c: the write batch (src/wbatch.c) on a real event loop.
 *
 * What: queued items are flushed once each, in the order they were queued, at the end of the
 * loop pass; an item queued twice is flushed once; a removed item is not flushed; a flush that
 * queues another item has it flushed in the same pass; an item queued by a timer callback is
 * flushed before the loop blocks (the prepare handle), not when some later event wakes it; a
 * queued item keeps the loop alive and an empty batch does not; once closed, an add flushes at
 * once; copied bytes are readable at their offset until the flush.
 *
 * Why: every reply of the unix listener and every upstream request goes through the batch; an
 * item left queued while the loop sleeps would be a call that never gets its answer.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "rbgw/wbatch.h"

struct probe {
    struct rbgw_wbatch_item it; /* the item under test */
    int flushes;                /* times flushed */
    int order;                  /* flush sequence number of the last flush */
    struct probe *then;         /* queued from this one's flush, or NULL */
    bool stop;                  /* uv_stop the loop from the flush */
};

static struct rbgw_wbatch batch;
static uv_loop_t loop;
static int seq;

static void
on_flush(struct rbgw_wbatch_item *it)
{
    struct probe *p = rbgw_container_of(it, struct probe, it);
    p->flushes++;
    p->order = ++seq;
    if (p->then) {
        rbgw__wbatch_add(&batch, &loop, &p->then->it);
    }
    if (p->stop) {
        uv_stop(&loop);
    }
}

static void
setup(void)
{
    memset(&batch, 0, sizeof(batch));
    seq = 0;
    cr_assert_eq(uv_loop_init(&loop), 0);
}

static void
teardown(void)
{
    rbgw__wbatch_close(&batch);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_expect_eq(uv_loop_close(&loop), 0, "a batch handle is still open");
    rbgw__wbatch_free(&batch);
}

TestSuite(wbatch, .init = setup, .fini = teardown, .timeout = 20);

Test(wbatch, flushes_in_order_once_each)
{
    struct probe a = {0}, b = {0}, c = {0};
    rbgw__wbatch_item_init(&a.it, on_flush);
    rbgw__wbatch_item_init(&b.it, on_flush);
    rbgw__wbatch_item_init(&c.it, on_flush);
    rbgw__wbatch_add(&batch, &loop, &b.it);
    rbgw__wbatch_add(&batch, &loop, &a.it);
    rbgw__wbatch_add(&batch, &loop, &b.it); /* already queued: no second flush */
    rbgw__wbatch_add(&batch, &loop, &c.it);
    rbgw__wbatch_remove(&c.it); /* its owner closed */
    cr_expect(rbgw__wbatch_queued(&a.it));
    cr_expect_not(rbgw__wbatch_queued(&c.it));
    cr_expect_eq(a.flushes + b.flushes, 0, "flushed before the loop ran");
    /* A pending write keeps the loop alive (nothing else does here). */
    cr_expect_neq(uv_loop_alive(&loop), 0, "a queued write does not keep the loop alive");
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_expect_eq(b.flushes, 1);
    cr_expect_eq(a.flushes, 1);
    cr_expect_eq(c.flushes, 0, "a removed item was flushed");
    cr_expect_eq(b.order, 1, "b was queued first");
    cr_expect_eq(a.order, 2);
    cr_expect_not(rbgw__wbatch_queued(&a.it));
    cr_expect_not(rbgw__wbatch_queued(&b.it));
    cr_expect_eq(uv_loop_alive(&loop), 0, "an empty batch keeps the loop alive");
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_expect_eq(a.flushes + b.flushes, 2, "flushed again without being queued");
}

Test(wbatch, flush_may_queue_more)
{
    struct probe a = {0}, b = {0};
    rbgw__wbatch_item_init(&a.it, on_flush);
    rbgw__wbatch_item_init(&b.it, on_flush);
    a.then = &b;
    rbgw__wbatch_add(&batch, &loop, &a.it);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_expect_eq(a.flushes, 1);
    cr_expect_eq(b.flushes, 1, "the item queued by a flush waited for another pass");
    cr_expect_eq(b.order, 2);
}

struct timed {
    struct probe p;      /* queued by the timer */
    bool guard_hit;      /* the guard timer fired */
    uint64_t flushed_at; /* loop time at the flush */
};

static struct timed *timed_now;

static void
on_timed_flush(struct rbgw_wbatch_item *it)
{
    on_flush(it);
    timed_now->flushed_at = uv_now(&loop);
}

static void
on_queue_timer(uv_timer_t *t)
{
    struct timed *x = t->data;
    rbgw__wbatch_add(&batch, &loop, &x->p.it);
}

static void
on_guard(uv_timer_t *t)
{
    struct timed *x = t->data;
    x->guard_hit = true;
    uv_stop(&loop);
}

Test(wbatch, timer_queued_item_flushed_before_the_loop_blocks)
{
    struct timed x = {0};
    timed_now = &x;
    x.p.stop = true;
    rbgw__wbatch_item_init(&x.p.it, on_timed_flush);
    uv_timer_t q, guard;
    /* A descriptor for poll to wait on (with none, libuv's poll returns at once). */
    uv_async_t wake;
    uv_async_init(&loop, &wake, NULL);
    uv_timer_init(&loop, &q);
    uv_timer_init(&loop, &guard);
    q.data = &x;
    guard.data = &x;
    uv_timer_start(&q, on_queue_timer, 0, 0);
    /* Bounds the test: had the flush waited for the check phase, the loop would have slept in
     * poll until this is due, and the loop's clock would say so at the flush. */
    uv_timer_start(&guard, on_guard, 10000, 0);
    uint64_t start = uv_now(&loop);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_expect_eq(x.p.flushes, 1);
    cr_expect_lt(x.flushed_at, start + 10000, "the loop slept with a write queued");
    cr_expect_not(x.guard_hit);
    uv_close((uv_handle_t *)&q, NULL);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_close((uv_handle_t *)&wake, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
}

Test(wbatch, copied_bytes_until_the_flush)
{
    size_t o1 = rbgw__wbatch_copy(&batch, "hello", 5);
    size_t o2 = rbgw__wbatch_copy(&batch, "world\n", 6);
    cr_expect_eq(memcmp(rbgw__wbatch_at(&batch, o1), "hello", 5), 0);
    cr_expect_eq(memcmp(rbgw__wbatch_at(&batch, o2), "world\n", 6), 0);
    struct probe a = {0};
    rbgw__wbatch_item_init(&a.it, on_flush);
    rbgw__wbatch_add(&batch, &loop, &a.it);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_expect_eq(batch.bytes.len, 0, "the bytes outlived their batch");
}

Test(wbatch, closed_batch_flushes_at_once)
{
    struct probe a = {0}, b = {0};
    rbgw__wbatch_item_init(&a.it, on_flush);
    rbgw__wbatch_item_init(&b.it, on_flush);
    rbgw__wbatch_add(&batch, &loop, &a.it);
    rbgw__wbatch_close(&batch); /* gateway stop: what is queued goes out now */
    cr_expect_eq(a.flushes, 1);
    rbgw__wbatch_add(&batch, &loop, &b.it);
    cr_expect_eq(b.flushes, 1, "an add after close waited");
    cr_expect_not(rbgw__wbatch_queued(&b.it));
}

/*
 * listener/wdog.c: the write watchdog (see wdog.h).
 *
 * Invariant: the timer is active exactly while waits is not empty, and then it is due at the
 * deadline of the first wait, the earliest.
 */
#include "listener/wdog.h"

static void on_timer(uv_timer_t *t);

static void
arm(struct rbgw_wdog *d)
{
    struct rbgw_wdog_wait *w = rbgw_list_entry(d->waits.next, struct rbgw_wdog_wait, link);
    uint64_t now = uv_now(d->timer.loop);
    uv_timer_start(&d->timer, on_timer, w->due > now ? w->due - now : 0, 0);
}

static void
on_timer(uv_timer_t *t)
{
    struct rbgw_wdog *d = t->data;
    uint64_t now = uv_now(t->loop);
    while (!rbgw_list_empty(&d->waits)) {
        struct rbgw_wdog_wait *w = rbgw_list_entry(d->waits.next, struct rbgw_wdog_wait, link);
        if (w->due > now) {
            break;
        }
        /* Unlinked first: the hook closes the connection, which ends its wait again. */
        rbgw_list_remove(&w->link);
        w->on_expire(w);
    }
    if (!rbgw_list_empty(&d->waits)) {
        arm(d);
    }
}

void
rbgw__wdog_init(struct rbgw_wdog *d, uv_loop_t *loop)
{
    uv_timer_init(loop, &d->timer);
    d->timer.data = d;
    rbgw_list_init(&d->waits);
}

void
rbgw__wdog_close(struct rbgw_wdog *d, uv_close_cb cb)
{
    uv_close((uv_handle_t *)&d->timer, cb);
}

void
rbgw__wdog_wait_init(struct rbgw_wdog_wait *w, rbgw_wdog_cb on_expire)
{
    rbgw_list_init(&w->link);
    w->due = 0;
    w->timeout_ms = 0;
    w->on_expire = on_expire;
}

void
rbgw__wdog_begin(struct rbgw_wdog *d, struct rbgw_wdog_wait *w, uint32_t timeout_ms)
{
    if (timeout_ms == 0) {
        return;
    }
    RBGW_ASSERT(!rbgw_list_linked(&w->link));
    w->due = uv_now(d->timer.loop) + timeout_ms;
    w->timeout_ms = timeout_ms;
    /* After the last wait due no later: the tail itself unless a reload shortened the
     * timeout. */
    struct rbgw_list *pos = d->waits.prev;
    while (pos != &d->waits && rbgw_list_entry(pos, struct rbgw_wdog_wait, link)->due > w->due) {
        pos = pos->prev;
    }
    rbgw_list_insert_after(pos, &w->link);
    if (d->waits.next == &w->link) {
        arm(d);
    }
}

void
rbgw__wdog_end(struct rbgw_wdog *d, struct rbgw_wdog_wait *w)
{
    if (!rbgw_list_linked(&w->link)) {
        return;
    }
    bool first = d->waits.next == &w->link;
    rbgw_list_remove(&w->link);
    if (rbgw_list_empty(&d->waits)) {
        uv_timer_stop(&d->timer);
    } else if (first) {
        arm(d);
    }
}

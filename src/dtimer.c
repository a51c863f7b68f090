/*
 * dtimer.c: timers rung by one timerfd, so the loop sleeps untimed (see dtimer.h for why).
 *
 * The heap is an array of pointers ordered on (due, seq), each timer knowing its index, so a
 * stop takes its timer out in O(log n) without a search.  The array only grows (to the most
 * timers active at once: about one per upstream connection).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/timerfd.h>
#endif

#include "rbgw/common.h"
#include "rbgw/dtimer.h"
#include "rbgw/log.h"

/* ---- the heap ---- */

static inline bool
before(const struct rbgw_dtimer *a, const struct rbgw_dtimer *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static inline void
place(struct rbgw_dtimers *d, size_t i, struct rbgw_dtimer *t)
{
    d->heap[i] = t;
    t->idx = i;
}

static void
sift_up(struct rbgw_dtimers *d, size_t i, struct rbgw_dtimer *t)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(t, d->heap[parent])) {
            break;
        }
        place(d, i, d->heap[parent]);
        i = parent;
    }
    place(d, i, t);
}

static void
sift_down(struct rbgw_dtimers *d, size_t i, struct rbgw_dtimer *t)
{
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= d->n) {
            break;
        }
        if (child + 1 < d->n && before(d->heap[child + 1], d->heap[child])) {
            child++;
        }
        if (!before(d->heap[child], t)) {
            break;
        }
        place(d, i, d->heap[child]);
        i = child;
    }
    place(d, i, t);
}

static void
heap_remove(struct rbgw_dtimers *d, struct rbgw_dtimer *t)
{
    size_t i = t->idx;
    t->idx = RBGW_DTIMER_OFF;
    struct rbgw_dtimer *last = d->heap[--d->n];
    if (last == t) {
        return;
    }
    /* The last one fills the hole, then moves whichever way its key says. */
    if (i > 0 && before(last, d->heap[(i - 1) / 2])) {
        sift_up(d, i, last);
    } else {
        sift_down(d, i, last);
    }
}

/* ---- ringing ---- */

static void ring(struct rbgw_dtimers *d);

static void
on_fallback(uv_timer_t *h)
{
    ring(h->data);
}

#ifdef __linux__
static void
on_poll(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    struct rbgw_dtimers *d = h->data;
    uint64_t expirations;
    while (read(d->fd, &expirations, sizeof(expirations)) < 0 && errno == EINTR) {
    }
    ring(d);
}
#endif

/* Have the set ring at due (loop ms). */
static void
set_ring(struct rbgw_dtimers *d, uint64_t due)
{
    d->set_for = due;
#ifdef __linux__
    if (d->fd >= 0) {
        struct itimerspec its;
        memset(&its, 0, sizeof(its));
        its.it_value.tv_sec = (time_t)(due / 1000);
        its.it_value.tv_nsec = (long)(due % 1000) * 1000000L;
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) {
            its.it_value.tv_nsec = 1; /* all zero would disarm it */
        }
        if (timerfd_settime(d->fd, TFD_TIMER_ABSTIME, &its, NULL) == 0) {
            return;
        }
        rbgw_log_err("timerfd_settime: %s: this ring uses a libuv timer", strerror(errno));
    }
#endif
    uint64_t now = uv_now(d->loop);
    uv_timer_start(&d->fallback, on_fallback, due > now ? due - now : 0, 0);
}

/* The loop is kept alive while a timer is active, as by libuv's own timers. */
static void
set_ref(struct rbgw_dtimers *d)
{
    bool want = d->n > 0;
    uv_handle_t *h = d->fd >= 0 ? (uv_handle_t *)&d->poll : (uv_handle_t *)&d->fallback;
    if (want == (uv_has_ref(h) != 0)) {
        return;
    }
    if (want) {
        uv_ref(h);
    } else {
        uv_unref(h);
    }
}

/* The precise monotonic clock in the loop's unit (uv_now may lag it by its cache). */
static uint64_t
precise_now(void)
{
    return uv_hrtime() / 1000000u;
}

static void
ring(struct rbgw_dtimers *d)
{
    d->set_for = 0;
    uv_update_time(d->loop);
    uint64_t now = precise_now();
    /* Each timer due is taken out before its callback, which may start timers again: one
     * started for 0 ms from a callback fires on the next ring, not in this loop. */
    uint64_t stop_seq = d->seq;
    while (d->n > 0 && d->heap[0]->due <= now && d->heap[0]->seq < stop_seq) {
        struct rbgw_dtimer *t = d->heap[0];
        heap_remove(d, t);
        t->cb(t);
        if (d->closed) {
            return;
        }
    }
    if (d->n > 0) {
        set_ring(d, d->heap[0]->due);
    }
    set_ref(d);
}

/* ---- the set ---- */

static void
make_handles(struct rbgw_dtimers *d, bool want_fd)
{
#ifdef __linux__
    d->fd = want_fd ? timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC) : -1;
    if (d->fd >= 0 && uv_poll_init(d->loop, &d->poll, d->fd) == 0) {
        d->poll.data = d;
        uv_poll_start(&d->poll, UV_READABLE, on_poll);
        uv_unref((uv_handle_t *)&d->poll);
    } else {
        if (d->fd >= 0) {
            close(d->fd);
            d->fd = -1;
        }
        if (want_fd) {
            rbgw_log_warn("no timerfd (%s): timers use a libuv timer", strerror(errno));
        }
    }
#else
    (void)want_fd;
#endif
    uv_timer_init(d->loop, &d->fallback); /* made always: closed the same way either way */
    d->fallback.data = d;
    uv_unref((uv_handle_t *)&d->fallback);
    d->inited = true;
}

static void
init(struct rbgw_dtimers *d, uv_loop_t *loop, bool want_fd)
{
    memset(d, 0, sizeof(*d));
    d->loop = loop;
    d->fd = -1;
    make_handles(d, want_fd);
}

void
rbgw_dtimers_init(struct rbgw_dtimers *d, uv_loop_t *loop)
{
    init(d, loop, true);
}

void
rbgw__dtimers_init_fallback(struct rbgw_dtimers *d, uv_loop_t *loop)
{
    init(d, loop, false);
}

static void
on_poll_closed(uv_handle_t *h)
{
    struct rbgw_dtimers *d = h->data;
    if (d->fd >= 0) {
        close(d->fd);
        d->fd = -1;
    }
}

void
rbgw_dtimers_close(struct rbgw_dtimers *d)
{
    if (d->closed) {
        return;
    }
    d->closed = true;
    while (d->n > 0) {
        heap_remove(d, d->heap[d->n - 1]);
    }
    if (!d->inited) {
        return;
    }
    if (d->fd >= 0) {
        uv_close((uv_handle_t *)&d->poll, on_poll_closed);
    }
    uv_close((uv_handle_t *)&d->fallback, NULL);
}

void
rbgw_dtimers_free(struct rbgw_dtimers *d)
{
    free(d->heap);
    d->heap = NULL;
    d->n = d->cap = 0;
}

/* ---- timers ---- */

void
rbgw_dtimer_init(struct rbgw_dtimer *t, rbgw_dtimer_cb cb, void *data)
{
    memset(t, 0, sizeof(*t));
    t->idx = RBGW_DTIMER_OFF;
    t->cb = cb;
    t->data = data;
}

void
rbgw_dtimer_start(struct rbgw_dtimers *d, struct rbgw_dtimer *t, rbgw_dtimer_cb cb, uint64_t ms)
{
    if (rbgw_dtimer_active(t)) {
        heap_remove(d, t);
    }
    if (d->closed) {
        return;
    }
    t->cb = cb;
    t->due = uv_now(d->loop) + ms;
    t->seq = d->seq++;
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 16;
        d->heap = rbgw_xrealloc(d->heap, d->cap * sizeof(*d->heap));
    }
    sift_up(d, d->n++, t);
    if (d->set_for == 0 || t->due < d->set_for) {
        set_ring(d, t->due);
    }
    set_ref(d);
}

void
rbgw_dtimer_stop(struct rbgw_dtimers *d, struct rbgw_dtimer *t)
{
    if (rbgw_dtimer_active(t)) {
        heap_remove(d, t);
        set_ref(d);
    }
}

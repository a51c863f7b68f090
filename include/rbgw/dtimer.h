/*
 * dtimer.h: timers that never make the event loop's sleep a timed one.
 *
 * While any libuv timer is active, every epoll_wait rbgw makes carries a timeout, and the
 * kernel arms and cancels a timer around every such sleep.  Every upstream connection holds a
 * timer at all times (the call's timeout while busy, the idle timeout otherwise), so every
 * sleep was timed.  Measured on the project's 2-vCPU VM with the do-nothing relay made to
 * sleep the same way: 0.9 µs more CPU per serial call, 8 % (medians of 10 runs;
 * bench/README.md, rbgw_floor_relay --sleep-timeout).
 *
 * These timers are kept in a binary heap and rung by one timerfd (Linux) watched by the loop:
 * the loop sleeps without a timeout, and the timerfd is set only when a timer comes due
 * before the time it is set for.  Stopping a timer does not touch it: an early ring finds
 * nothing due and sets it for the next timer.  A connection's timeout, started and stopped
 * once per call, costs two heap operations and no system call; the timerfd is set about once
 * per timeout period (timeout=, 1.5 s by default) whatever the call rate.
 *
 *   start(t, ms): t.due = now + ms, into the heap; the timerfd set only if t.due < its time
 *   stop(t):      out of the heap (O(log n)); the timerfd left as it is
 *   ring:         every timer due is taken out, then its callback run (it may start any
 *                 timer again); the timerfd set for the earliest left, if any
 *
 * Due times are in the loop's milliseconds (uv_now, as libuv's timers) and checked against the
 * precise monotonic clock when the timerfd rings, so a cached clock that lags never makes a
 * ring find nothing and ring again at once.  Timers due at the same millisecond fire in the
 * order they were started.  Callbacks run in the loop's poll phase, after uv_update_time.
 * Where there is no timerfd (not Linux, or none could be made) one libuv timer rings instead:
 * the same behaviour, with timed sleeps.  The set keeps the loop alive while a timer is
 * active, as libuv's timers do.  Once closed (the gateway stops), a start does nothing.
 */
#ifndef RBGW_DTIMER_H
#define RBGW_DTIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct rbgw_dtimer;
typedef void (*rbgw_dtimer_cb)(struct rbgw_dtimer *t);

/* One timer, embedded in its owner.  Inactive after init, after stop and when it fired. */
struct rbgw_dtimer {
    uint64_t due; /* loop milliseconds when it fires */
    uint64_t seq; /* start order, for timers due at the same millisecond */
    size_t idx;   /* its place in the heap, or RBGW_DTIMER_OFF */
    rbgw_dtimer_cb cb;
    void *data; /* the owner's */
};

#define RBGW_DTIMER_OFF ((size_t)-1)

/* The loop's timers (one per gateway). */
struct rbgw_dtimers {
    uv_loop_t *loop;
    struct rbgw_dtimer **heap; /* min-heap on (due, seq) */
    size_t n, cap;
    uint64_t seq;     /* the next start's */
    uint64_t set_for; /* the time the timerfd (or the fallback timer) rings, 0 if unset */
    int fd;           /* the timerfd, or -1 (then fallback rings) */
    uv_poll_t poll;   /* readable when the timerfd rings */
    uv_timer_t fallback;
    bool inited; /* handles made (at init) */
    bool closed; /* handles closed: starts do nothing */
};

/** An empty set for loop, with its handles (a timerfd: one descriptor for the process). */
void rbgw_dtimers_init(struct rbgw_dtimers *d, uv_loop_t *loop);

/** The same with the libuv timer in the timerfd's place, as where there is none (tests). */
void rbgw__dtimers_init_fallback(struct rbgw_dtimers *d, uv_loop_t *loop);

/** Close the handles (pending timers never fire); later starts do nothing. */
void rbgw_dtimers_close(struct rbgw_dtimers *d);

/** Free the heap (after close, once the loop has run the close callbacks). */
void rbgw_dtimers_free(struct rbgw_dtimers *d);

/** An inactive timer calling cb with its data. */
void rbgw_dtimer_init(struct rbgw_dtimer *t, rbgw_dtimer_cb cb, void *data);

/** (Re)start t to fire ms milliseconds from the loop's now, calling cb. */
void rbgw_dtimer_start(struct rbgw_dtimers *d, struct rbgw_dtimer *t, rbgw_dtimer_cb cb,
                       uint64_t ms);

/** Stop t if it is active. */
void rbgw_dtimer_stop(struct rbgw_dtimers *d, struct rbgw_dtimer *t);

static inline bool
rbgw_dtimer_active(const struct rbgw_dtimer *t)
{
    return t->idx != RBGW_DTIMER_OFF;
}

#endif

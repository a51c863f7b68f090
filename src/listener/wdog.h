/*
 * listener/wdog.h: a listener's write watchdog, which finds the connections whose client does
 * not read its replies.  Private to listeners.
 *
 * A reply that uv_try_write could not write at once waits in libuv's write queue until the
 * client reads.  pdns reads every reply as soon as it comes; a client that stops reading would
 * otherwise keep its connection, its reply and its fd for ever.  write-timeout bounds that
 * wait: when a connection's reply has waited that long, the watchdog calls the connection's
 * on_expire hook, and the connection closes itself.
 *
 * One timer per listener, not one per connection, so that an idle connection costs no timer
 * handle.  Waits are kept on one list by deadline and the timer is armed for the earliest
 * only, and only while the list is not empty.  A wait takes the write-timeout in force when it
 * begins (a reload may change it); as they nearly always share it, a new wait goes at the end
 * of the list, found from the tail, so beginning and ending a wait are O(1).
 */
#ifndef RBGW_LISTENER_WDOG_H
#define RBGW_LISTENER_WDOG_H

#include <uv.h>

#include "rbgw/common.h"
#include "rbgw/list.h"

struct rbgw_wdog_wait;
typedef void (*rbgw_wdog_cb)(struct rbgw_wdog_wait *w);

struct rbgw_wdog {
    uv_timer_t timer;       /* due at the earliest wait's deadline; stopped when none */
    struct rbgw_list waits; /* rbgw_wdog_wait.link, earliest deadline first */
};

/* Embedded in a connection; set up by rbgw__wdog_wait_init. */
struct rbgw_wdog_wait {
    struct rbgw_list link;  /* on wdog->waits while a reply waits; unlinked otherwise */
    uint64_t due;           /* uv_now() at which the wait expires */
    uint32_t timeout_ms;    /* the write-timeout it began with (for logs) */
    rbgw_wdog_cb on_expire; /* the connection's hook: its reply waited write-timeout */
};

/** Initialise d on loop (its timer is a handle: rbgw__wdog_close it with the listener). */
void rbgw__wdog_init(struct rbgw_wdog *d, uv_loop_t *loop);
/** Close the timer; cb (may be NULL) gets &d->timer once it is closed. */
void rbgw__wdog_close(struct rbgw_wdog *d, uv_close_cb cb);
/** Prepare a connection's wait; on_expire runs when a begun wait reaches its deadline. */
void rbgw__wdog_wait_init(struct rbgw_wdog_wait *w, rbgw_wdog_cb on_expire);
/** A reply begins to wait for the client, for at most timeout_ms (0: no limit, nothing done). */
void rbgw__wdog_begin(struct rbgw_wdog *d, struct rbgw_wdog_wait *w, uint32_t timeout_ms);
/** The wait is over (reply written, failed, or the connection closes).  Idempotent. */
void rbgw__wdog_end(struct rbgw_wdog *d, struct rbgw_wdog_wait *w);

#endif

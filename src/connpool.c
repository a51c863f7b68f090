/*
 * connpool.c: per-upstream connection pool (see connpool.h for the model and the transport
 * contract).
 *
 * State changes go through set_state(), the only place that moves a conn between lists
 * (pgbouncer's change_server_state).  A conn is freed when both its closer handle (ours) and
 * its transport handles (theirs, rbgw_upconn_free) are closed, so never inside a callback of
 * its own.  Its timer is not a handle (dtimer.h): it is stopped when the conn closes.
 *
 * Order of effects when a call ends: the call is answered first, then the conn is released
 * (possibly straight to the next waiter).  The reply bytes may live in the conn, and the next
 * call's send could overwrite them; answering first also keeps the call (in the request
 * arena) from being touched after the request may have been freed.
 */
#include <stdio.h>
#include <string.h>

#include "rbgw/log.h"
#include "rbgw/outcome.h"
#include "rbgw/connpool.h"

#define BACKOFF_MAX_FACTOR 8

static void dispatch_waiters(struct rbgw_connpool *p);
static void start_call(struct rbgw_upconn *c, struct rbgw_call *call);

/* ---- calls ---- */

static void
call_reply(struct rbgw_call *call, struct rbgw_str reply)
{
    call->done(call, 0, reply, NULL, NULL);
}

/* Fail call with status (an RBGW_E* call-failure code, outcome.h) and its reason. */
static void
call_fail(struct rbgw_connpool *p, struct rbgw_call *call, int status,
          const struct rbgw_json *extra, const char *detail)
{
    char reason[480];
    rbgw_outcome_reason(reason, sizeof(reason), status, p->target, detail);
    if (extra != NULL) {
        rbgw_log_responder_tree(call->req, p->u, extra);
    }
    call->done(call, status, RBGW_STR_NULL, extra, reason);
}

static void call_failf(struct rbgw_connpool *p, struct rbgw_call *call, int status, const char *fmt,
                       ...) RBGW_PRINTF(4, 5);

static void
call_failf(struct rbgw_connpool *p, struct rbgw_call *call, int status, const char *fmt, ...)
{
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    call_fail(p, call, status, NULL, detail);
}

static uint64_t
now_ms(const struct rbgw_connpool *p)
{
    return uv_now(p->u->gw->loop);
}

/* ---- conn lists ---- */

static void
set_state(struct rbgw_upconn *c, enum rbgw_upconn_state st)
{
    struct rbgw_connpool *p = c->cp;
    if (rbgw_list_linked(&c->link)) {
        rbgw_list_remove(&c->link);
    }
    c->state = st;
    switch (st) {
    case RBGW_UPCONN_IDLE:
        /* LIFO: hot conns first.  A pinned conn waits for its own caller only. */
        rbgw_list_push_front(c->pinned ? &p->pinned : &p->idle, &c->link);
        break;
    case RBGW_UPCONN_CLOSING:
        break;
    case RBGW_UPCONN_OPENING:
    case RBGW_UPCONN_BUSY:
        rbgw_list_push_back(&p->busy, &c->link);
        break;
    }
}

/* A stopped pool whose handles are all closed tells its upstream (which may free the pool). */
static void
check_closed(struct rbgw_connpool *p)
{
    if (p->stopping && p->wait_timer_closed && p->nalive == 0) {
        rbgw__upstream_part_closed(p->u);
    }
}

static void
maybe_free(struct rbgw_upconn *c)
{
    if (c->closer_closed && c->transport_freed) {
        struct rbgw_connpool *p = c->cp;
        free(c);
        p->nalive--;
        check_closed(p);
    }
}

static void
on_closer_closed(uv_handle_t *h)
{
    struct rbgw_upconn *c = h->data;
    c->closer_closed = 1;
    maybe_free(c);
}

void
rbgw_upconn_free(struct rbgw_upconn *c)
{
    c->transport_freed = 1;
    maybe_free(c);
}

static struct rbgw_dtimers *
timers(struct rbgw_upconn *c)
{
    return &c->cp->u->gw->dtimers;
}

static void
timer_start(struct rbgw_upconn *c, rbgw_dtimer_cb cb, uint64_t ms)
{
    rbgw_dtimer_start(timers(c), &c->timer, cb, ms);
}

static void
timer_stop(struct rbgw_upconn *c)
{
    rbgw_dtimer_stop(timers(c), &c->timer);
}

/* Close c (its call must have been taken off it). */
static void
close_conn(struct rbgw_upconn *c)
{
    if (c->state == RBGW_UPCONN_CLOSING) {
        return;
    }
    RBGW_ASSERT(c->call == NULL);
    struct rbgw_connpool *p = c->cp;
    set_state(c, RBGW_UPCONN_CLOSING);
    p->nconns--;
    timer_stop(c);
    uv_close((uv_handle_t *)&c->closer, on_closer_closed);
    p->ops->close(c);
}

static struct rbgw_call *
take_call(struct rbgw_upconn *c)
{
    struct rbgw_call *call = c->call;
    c->call = NULL;
    return call;
}

uint64_t
rbgw_upconn_time_left(const struct rbgw_upconn *c)
{
    if (c->call == NULL) {
        return 0;
    }
    uint64_t now = now_ms(c->cp);
    return c->call->deadline > now ? c->call->deadline - now : 0;
}

/* ---- timers ---- */

/* An open failed for the upstream's reasons: counted, and the next one backs off. */
static void
note_open_failure(struct rbgw_connpool *p)
{
    p->u->stats.opens_failed++;
    uint32_t factor = 1u << (p->open_failures < 3 ? p->open_failures : 3);
    if (factor > BACKOFF_MAX_FACTOR) {
        factor = BACKOFF_MAX_FACTOR;
    }
    p->open_failures++;
    p->next_open = now_ms(p) + (uint64_t)p->retry_after_ms * factor;
}

static void
on_open_timeout(struct rbgw_dtimer *t)
{
    struct rbgw_upconn *c = t->data;
    struct rbgw_connpool *p = c->cp;
    struct rbgw_call *call = take_call(c);
    note_open_failure(p);
    close_conn(c);
    if (call) {
        call_failf(p, call, RBGW_ECONNECT, "connect timed out after %u ms",
                   p->u->connect_timeout_ms);
    }
    dispatch_waiters(p);
}

static void
on_call_timeout(struct rbgw_dtimer *t)
{
    struct rbgw_upconn *c = t->data;
    struct rbgw_connpool *p = c->cp;
    struct rbgw_call *call = take_call(c);
    bool opening = c->state == RBGW_UPCONN_OPENING;
    if (opening) {
        note_open_failure(p);
    }
    close_conn(c); /* its stream may still deliver the late reply: never reuse it */
    if (call) {
        /* The time the call had: timeout= (connect-timeout= while opening), or less when the
         * caller's deadline came first (deadline=, or what a retry had left of it).  Say which,
         * or a timeout above the deadline would pass unnoticed. */
        unsigned long long had = (unsigned long long)(call->deadline - call->submitted);
        uint32_t limit = opening ? p->u->connect_timeout_ms : p->u->timeout_ms;
        char why[96] = "";
        if (had < limit) {
            snprintf(why, sizeof(why), ": the call's deadline came before %s=%u",
                     opening ? "connect-timeout" : "timeout", limit);
        }
        if (opening) {
            call_failf(p, call, RBGW_ECONNECT, "connect timed out after %llu ms%s", had, why);
        } else {
            call_failf(p, call, RBGW_ETIMEDOUT, "no reply within %llu ms%s", had, why);
        }
    }
    dispatch_waiters(p);
}

static void
on_idle_timeout(struct rbgw_dtimer *t)
{
    struct rbgw_upconn *c = t->data;
    rbgw_ulog_debug(c->cp->u, "closing conn %llu, idle for %u ms", (unsigned long long)c->id,
                    c->cp->idle_timeout_ms);
    close_conn(c);
}

static void on_wait_timer(uv_timer_t *t);

static void
rearm_wait_timer(struct rbgw_connpool *p)
{
    if (p->stopping || rbgw_list_empty(&p->waiters)) {
        uv_timer_stop(&p->wait_timer);
        return;
    }
    uint64_t now = now_ms(p);
    uint64_t when = UINT64_MAX;
    for (struct rbgw_list *n = p->waiters.next; n != &p->waiters; n = n->next) {
        struct rbgw_call *call = rbgw_list_entry(n, struct rbgw_call, link);
        if (call->wait_deadline < when) {
            when = call->wait_deadline;
        }
    }
    if (p->nconns < p->max_conns && p->next_open > now && p->next_open < when) {
        when = p->next_open;
    }
    uv_timer_start(&p->wait_timer, on_wait_timer, when > now ? when - now : 0, 0);
}

static void
waiter_remove(struct rbgw_connpool *p, struct rbgw_call *call)
{
    rbgw_list_remove(&call->link);
    p->nwaiters--;
}

static void
on_wait_timer(uv_timer_t *t)
{
    struct rbgw_connpool *p = t->data;
    uint64_t now = now_ms(p);
    struct rbgw_list *n = p->waiters.next;
    while (n != &p->waiters) {
        struct rbgw_call *call = rbgw_list_entry(n, struct rbgw_call, link);
        n = n->next;
        if (call->wait_deadline > now) {
            continue;
        }
        waiter_remove(p, call);
        call_failf(p, call, RBGW_EQTIMEDOUT, "max-conns=%u connections stayed busy for %llu ms",
                   p->max_conns, (unsigned long long)(now - call->submitted));
    }
    dispatch_waiters(p);
}

/* ---- placing calls ---- */

static void
conn_new(struct rbgw_connpool *p, struct rbgw_call *call)
{
    struct rbgw_upconn *c = rbgw_xcalloc(1, p->ops->conn_size);
    c->cp = p;
    c->id = ++p->next_id;
    p->nalive++;
    rbgw_list_init(&c->link);
    rbgw_dtimer_init(&c->timer, NULL, c);
    uv_timer_init(p->u->gw->loop, &c->closer);
    c->closer.data = c;
    c->call = call;
    p->nconns++;
    set_state(c, RBGW_UPCONN_OPENING);
    uint64_t left = rbgw_upconn_time_left(c);
    if (p->u->connect_timeout_ms < left) {
        timer_start(c, on_open_timeout, p->u->connect_timeout_ms);
    } else {
        timer_start(c, on_call_timeout, left);
    }
    p->ops->open(c); /* may end synchronously in ready or error */
}

static void
start_call(struct rbgw_upconn *c, struct rbgw_call *call)
{
    c->call = call;
    c->got_bytes = 0;
    call->sent = 1;
    call->conn_id = c->id;
    set_state(c, RBGW_UPCONN_BUSY);
    timer_start(c, on_call_timeout, rbgw_upconn_time_left(c));
    c->cp->ops->send(c); /* may end synchronously in reply or error */
}

static bool
in_backoff(const struct rbgw_connpool *p)
{
    return p->open_failures > 0 && now_ms(p) < p->next_open;
}

static void
fail_backoff(struct rbgw_connpool *p, struct rbgw_call *call)
{
    call_failf(p, call, RBGW_EBACKOFF, "unavailable after %u failed attempt%s, next in %llu ms",
               p->open_failures, p->open_failures == 1 ? "" : "s",
               (unsigned long long)(p->next_open - now_ms(p)));
}

/* The conn with this id on list (pool->pinned or pool->busy), or NULL. */
static struct rbgw_upconn *
find_conn(struct rbgw_list *list, uint64_t id)
{
    for (struct rbgw_list *n = list->next; n != list; n = n->next) {
        struct rbgw_upconn *c = rbgw_list_entry(n, struct rbgw_upconn, link);
        if (c->id == id) {
            return c;
        }
    }
    return NULL;
}

static void
place_pinned(struct rbgw_connpool *p, struct rbgw_call *call)
{
    struct rbgw_upconn *c = find_conn(&p->pinned, call->pin);
    if (c == NULL) {
        /* Closed (peer, timeout, idle-timeout) or busy with another call of the same caller,
         * which pdns never does: the transaction cannot go on there. */
        call_failf(p, call, RBGW_ECLOSED,
                   "the connection holding this transaction is gone or busy");
        return;
    }
    start_call(c, call);
}

/* Run call now if a conn can be had; returns false if it must wait. */
static bool
place(struct rbgw_connpool *p, struct rbgw_call *call)
{
    if (call->pin) {
        place_pinned(p, call);
        return true;
    }
    if (!rbgw_list_empty(&p->idle)) {
        start_call(rbgw_list_entry(p->idle.next, struct rbgw_upconn, link), call);
        return true;
    }
    if (p->nconns < p->max_conns) {
        if (in_backoff(p)) {
            fail_backoff(p, call);
        } else {
            conn_new(p, call);
        }
        return true;
    }
    return false;
}

static void
dispatch_waiters(struct rbgw_connpool *p)
{
    while (!p->stopping && !rbgw_list_empty(&p->waiters)) {
        struct rbgw_call *call = rbgw_list_entry(p->waiters.next, struct rbgw_call, link);
        if (rbgw_list_empty(&p->idle) && p->nconns >= p->max_conns) {
            break;
        }
        waiter_remove(p, call);
        place(p, call);
    }
    rearm_wait_timer(p);
}

void
rbgw_connpool_submit(struct rbgw_connpool *p, struct rbgw_call *call)
{
    uint64_t now = now_ms(p);
    rbgw_list_init(&call->link);
    call->sent = 0;
    call->conn_id = 0;
    call->submitted = now;
    if (call->deadline == 0 || call->deadline > now + p->u->timeout_ms) {
        call->deadline = now + p->u->timeout_ms;
    }
    if (p->stopping) {
        call_failf(p, call, RBGW_ESHUTDOWN, "rbgw is stopping");
        return;
    }
    if (place(p, call)) {
        return;
    }
    if (p->nwaiters >= p->max_queue) {
        call_failf(p, call, RBGW_EQUEUE,
                   "saturated: %u calls in flight and %u waiting, max-conns=%u, max-queue=%u",
                   p->max_conns, p->nwaiters, p->max_conns, p->max_queue);
        return;
    }
    call->wait_deadline = now + p->queue_timeout_ms;
    if (call->wait_deadline > call->deadline) {
        call->wait_deadline = call->deadline;
    }
    rbgw_list_push_back(&p->waiters, &call->link);
    p->nwaiters++;
    rearm_wait_timer(p);
}

static void
probe_done(struct rbgw_call *call, int status, struct rbgw_str reply, const struct rbgw_json *extra,
           const char *reason)
{
    struct rbgw_call *owner = call->data;
    owner->done(owner, status, reply, extra, reason);
    free(owner);
    free(call);
}

void
rbgw_connpool_probe(struct rbgw_connpool *p, rbgw_call_done_cb done, void *data)
{
    /* The user's (done, data) ride in a small owner record so probe_done can free both. */
    struct rbgw_call *owner = rbgw_xcalloc(1, sizeof(*owner));
    owner->done = done;
    owner->data = data;
    struct rbgw_call *call = rbgw_xcalloc(1, sizeof(*call));
    call->probe = 1;
    call->done = probe_done;
    call->data = owner;
    rbgw_list_init(&call->link);
    call->submitted = now_ms(p);
    call->deadline = call->submitted + p->u->connect_timeout_ms;
    if (p->stopping) {
        call_failf(p, call, RBGW_ESHUTDOWN, "rbgw is stopping");
        return;
    }
    if (p->nconns >= p->max_conns) {
        /* Every conn is in use: the upstream answers, which is what a check wants to know. */
        call_reply(call, RBGW_STR("{\"result\":true}"));
        return;
    }
    conn_new(p, call);
}

void
rbgw_connpool_unpin(struct rbgw_connpool *p, uint64_t conn_id)
{
    struct rbgw_upconn *c = find_conn(&p->pinned, conn_id);
    if (c) {
        rbgw_ulog_debug(p->u, "closing conn %llu: its transaction is over",
                        (unsigned long long)conn_id);
        close_conn(c);
        dispatch_waiters(p);
        return;
    }
    /* Busy with a call of the transaction, or inside the done callback of the call that
     * pinned it or of its last one: the conn closes once that call ends (release).  A busy conn
     * that is not pinned went back to the pool: not ours to close. */
    c = find_conn(&p->busy, conn_id);
    if (c && c->state == RBGW_UPCONN_BUSY && c->pinned) {
        rbgw_ulog_debug(p->u, "conn %llu closes after its current call: its transaction is over",
                        (unsigned long long)conn_id);
        c->drop_after = 1;
    }
}

/* ---- outcomes ---- */

/* The conn is done with its call and sound: next waiter, idle list, or close. */
static void
release(struct rbgw_upconn *c, bool keep)
{
    struct rbgw_connpool *p = c->cp;
    if (c->state == RBGW_UPCONN_CLOSING) {
        return;
    }
    c->reused = 1;
    if (!keep || p->stopping || c->drop_after) {
        close_conn(c);
        dispatch_waiters(p);
        return;
    }
    if (!c->pinned && !rbgw_list_empty(&p->waiters)) {
        struct rbgw_call *next = rbgw_list_entry(p->waiters.next, struct rbgw_call, link);
        waiter_remove(p, next);
        rearm_wait_timer(p);
        start_call(c, next);
        return;
    }
    set_state(c, RBGW_UPCONN_IDLE);
    if (p->idle_timeout_ms > 0) {
        timer_start(c, on_idle_timeout, p->idle_timeout_ms);
    } else {
        timer_stop(c);
    }
}

void
rbgw_upconn_ready(struct rbgw_upconn *c)
{
    struct rbgw_connpool *p = c->cp;
    RBGW_ASSERT(c->state == RBGW_UPCONN_OPENING);
    p->open_failures = 0;
    p->u->stats.opens_ok++;
    struct rbgw_call *call = take_call(c);
    if (call && call->probe) {
        timer_stop(c);
        call_reply(call, RBGW_STR("{\"result\":true}"));
        release(c, true);
    } else if (call) {
        start_call(c, call);
    } else {
        release(c, true);
    }
}

void
rbgw_upconn_reply(struct rbgw_upconn *c, struct rbgw_str reply, struct rbgw_str log_text, int flags)
{
    RBGW_ASSERT(c->state == RBGW_UPCONN_BUSY);
    bool keep = (flags & RBGW_UPCONN_KEEP) != 0;
    timer_stop(c);
    struct rbgw_call *call = take_call(c);
    if (log_text.len) {
        rbgw_log_responder(call ? call->req : NULL, c->cp->u, log_text);
    }
    if (call) {
        call->said_false = (flags & RBGW_UPCONN_FALSE) != 0;
        /* Pinned before the callback: a transaction that is over by the time it returns (its
         * session ended inside it, or the start was answered false) can then release the conn
         * with rbgw_connpool_unpin.  Read the flag first: the call may be freed by its callback. */
        bool unpin = call->unpin_after;
        if (call->pin_after && keep) {
            c->pinned = 1;
        }
        call_reply(call, reply);
        if (unpin) {
            c->pinned = 0;
        }
    }
    release(c, keep);
}

void
rbgw_upconn_error(struct rbgw_upconn *c, int status, int flags, const struct rbgw_json *extra,
                  const char *fmt, ...)
{
    struct rbgw_connpool *p = c->cp;
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);

    bool opening = c->state == RBGW_UPCONN_OPENING;
    bool was_reused = c->reused;
    struct rbgw_call *call = take_call(c);
    if (opening && status != RBGW_ELOCAL) {
        note_open_failure(p);
    } else if (opening) {
        /* rbgw's own shortage (EMFILE, ENOMEM) is no reason to hold the upstream back. */
        p->u->stats.opens_failed++;
    }
    bool keep = (flags & RBGW_UPCONN_KEEP) && !opening;
    if (!keep) {
        close_conn(c);
    } else {
        timer_stop(c);
    }
    if (call) {
        bool again =
            (flags & RBGW_UPCONN_UNSENT) || ((flags & RBGW_UPCONN_RETRY) && call->idempotent);
        bool retry = again && was_reused && !call->retried && !call->pin && !p->stopping &&
                     call->deadline > now_ms(p);
        if (retry) {
            call->retried = 1;
            p->u->stats.retries_conn++;
            if (rbgw_log_enabled(RBGW_LOG_DEBUG)) {
                rbgw_rlog(RBGW_LOG_DEBUG, call->req, p->u, "%s: %s; retrying on a fresh connection",
                          p->target, detail);
            }
            if (p->nconns < p->max_conns && !in_backoff(p)) {
                conn_new(p, call);
            } else {
                call->wait_deadline = call->deadline;
                rbgw_list_push_front(&p->waiters, &call->link);
                p->nwaiters++;
            }
        } else {
            call_fail(p, call, status, extra, detail);
        }
    } else if (!opening) {
        char reason[480];
        rbgw_rlog_limited(RBGW_LOG_INFO, "connection errors", NULL, p->u, "%s",
                          rbgw_outcome_reason(reason, sizeof(reason), status, p->target, detail));
    }
    if (keep) {
        release(c, true);
    } else {
        dispatch_waiters(p);
    }
}

void
rbgw_upconn_lost(struct rbgw_upconn *c, const char *why)
{
    struct rbgw_connpool *p = c->cp;
    RBGW_ASSERT(c->call == NULL);
    rbgw_ulog_debug(p->u, "conn %llu dropped: %s", (unsigned long long)c->id, why);
    close_conn(c);
    dispatch_waiters(p);
}

/* ---- lifecycle ---- */

int
rbgw_connpool_init(struct rbgw_connpool *p, struct rbgw_upstream *u,
                   const struct rbgw_upconn_ops *ops, void *transport, const char *target,
                   char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    long max_conns, idle, retry_after, max_queue, queue_timeout;
    int rc;
    if ((rc = rbgw_upstream_int_opt(u, "max-conns", &max_conns, err, errlen)) ||
        (rc = rbgw_upstream_int_opt(u, "idle-timeout", &idle, err, errlen)) ||
        (rc = rbgw_upstream_int_opt(u, "retry-after", &retry_after, err, errlen)) ||
        (rc = rbgw_upstream_int_opt(u, "max-queue", &max_queue, err, errlen)) ||
        (rc = rbgw_upstream_int_opt(u, "queue-timeout", &queue_timeout, err, errlen))) {
        return rc;
    }
    p->u = u;
    u->cp = p;
    p->ops = ops;
    p->transport = transport;
    p->target = target;
    p->max_conns = (uint32_t)max_conns;
    p->idle_timeout_ms = (uint32_t)idle;
    p->retry_after_ms = (uint32_t)retry_after;
    p->max_queue = (uint32_t)max_queue;
    p->queue_timeout_ms = (uint32_t)queue_timeout;
    rbgw_list_init(&p->idle);
    rbgw_list_init(&p->pinned);
    rbgw_list_init(&p->busy);
    rbgw_list_init(&p->waiters);
    uv_timer_init(u->gw->loop, &p->wait_timer);
    p->wait_timer.data = p;
    return 0;
}

static void
on_wait_timer_closed(uv_handle_t *h)
{
    struct rbgw_connpool *p = h->data;
    p->wait_timer_closed = true;
    check_closed(p);
}

void
rbgw_connpool_stop(struct rbgw_connpool *p)
{
    if (p->stopping) {
        return;
    }
    p->stopping = true;
    while (!rbgw_list_empty(&p->waiters)) {
        struct rbgw_call *call = rbgw_list_entry(p->waiters.next, struct rbgw_call, link);
        waiter_remove(p, call);
        call_failf(p, call, RBGW_ESHUTDOWN, "rbgw is stopping");
    }
    while (!rbgw_list_empty(&p->busy)) {
        struct rbgw_upconn *c = rbgw_list_entry(p->busy.next, struct rbgw_upconn, link);
        struct rbgw_call *call = take_call(c);
        close_conn(c);
        if (call) {
            call_failf(p, call, RBGW_ESHUTDOWN, "rbgw is stopping");
        }
    }
    while (!rbgw_list_empty(&p->idle)) {
        close_conn(rbgw_list_entry(p->idle.next, struct rbgw_upconn, link));
    }
    while (!rbgw_list_empty(&p->pinned)) {
        close_conn(rbgw_list_entry(p->pinned.next, struct rbgw_upconn, link));
    }
    uv_close((uv_handle_t *)&p->wait_timer, on_wait_timer_closed);
}

/*
 * session.h: one pdns-side connection, on every listener; the owner of state that outlives a
 * call (open transactions).
 *
 *   pipe      the stdin stream (one session for the process)
 *   unix      one accepted connection
 *   http      one accepted TCP connection
 *   zeromq    one peer's routing id, until it has been idle for session-timeout ms
 *   rbgw call its one call
 *
 * Ownership (docs/architecture.md, "Ownership"):
 *
 *   listener conn ──ref──> session <──ref── request (each, from rbgw_request_new to its free)
 *                             └──owns──> open transactions (fanout.c's, on trxs)
 *                                            ^──ref── fan-out of each request using one
 *
 * The listener holds one reference from rbgw_session_new until the pdns side is gone; it then
 * calls rbgw_session_gone, which hands that reference back.  Every request holds one more.
 * "Gone" is an event, not a free: answers to requests still in flight are swallowed from then
 * on (their listener connection may already be freed), and the session ends only when its last
 * request has been freed.  Ending drops its open transactions through fan-out
 * (rbgw_fanout_session_end: their pinned upstream connections are closed, after the call they
 * carry if busy) and frees the session.  Nothing else frees a session, and a transaction lives
 * as long as its session lists it or a request's fan-out holds it.
 *
 * Sessions must all have ended before rbgw_gateway_deinit (fan-out is freed there); the
 * gateway counts them (gw->nsessions).  Each listener counts the requests of its sessions
 * (l->inflight): a listener a reload removed is closed once that count is 0.
 */
#ifndef RBGW_SESSION_H
#define RBGW_SESSION_H

#include <stdbool.h>

#include "rbgw/common.h"
#include "rbgw/list.h"

struct rbgw_session {
    struct rbgw_gateway *gw; /* borrowed, gateway lifetime */
    struct rbgw_listener *l; /* borrowed: the listener it came on (its counters; NULL for rbgw
                                call and tests); it outlives the session's requests (gateway.h) */
    uint64_t id;             /* per-process sequence number, for logs */
    uint32_t refs;           /* the listener's until gone + one per live request */
    bool gone;               /* the pdns side has gone: answers are swallowed */
    const char *why;         /* static text: why it went ("its pdns connection closed") */
    struct rbgw_list trxs;   /* open transactions, owned (fanout.c's, on their link) */
};

/**
 * A new session for a pdns connection on listener l (NULL: a call not from pdns, uncounted);
 * refs = 1, the caller's (the listener's).
 */
struct rbgw_session *rbgw_session_new(struct rbgw_gateway *gw, struct rbgw_listener *l);
void rbgw_session_ref(struct rbgw_session *s);
/** Drop a reference; the last one ends the session (open transactions dropped) and frees it. */
void rbgw_session_unref(struct rbgw_session *s);
/**
 * The pdns side is gone (why: static text for logs).  From now on answers to its requests are
 * swallowed.  Consumes the caller's reference: s may be freed before this returns.  Once per
 * session.
 */
void rbgw_session_gone(struct rbgw_session *s, const char *why);

#endif

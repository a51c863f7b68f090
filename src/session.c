/*
 * session.c: pdns-side sessions (see session.h for the model and the ownership diagram).
 *
 *   listener conn ──ref──> session <──ref── request
 *                             └──owns──> open transactions ──pin──> upstream conns
 *
 * Why a session of its own rather than the listener's connection struct: the connection is
 * freed when pdns goes away (in its handle's close callback), but a call of that connection
 * may still be upstream, and a transaction it opened still holds pinned upstream connections.
 * Both must outlive the connection, and both must be released exactly once whatever comes
 * first: the late answer, the peer's close, a deadline, shutdown.  Counting references on one
 * small object makes that order irrelevant: the listener and each request hold one, "gone"
 * only marks the session and gives the listener's back, and the last unref is the one place
 * where open transactions are dropped (never while one of their calls is still in flight on
 * behalf of this session).
 *
 * One allocation per pdns connection (per ZeroMQ peer), none per call.
 */
#include <stdio.h>

#include "rbgw/fanout.h"
#include "rbgw/gateway.h"
#include "rbgw/log.h"
#include "rbgw/session.h"

struct rbgw_session *
rbgw_session_new(struct rbgw_gateway *gw, struct rbgw_listener *l)
{
    struct rbgw_session *s = rbgw_xcalloc(1, sizeof(*s));
    s->gw = gw;
    s->l = l;
    if (l) {
        l->stats.sessions_total++;
        l->stats.sessions_open++;
    }
    s->id = ++gw->next_session_id;
    s->refs = 1;
    rbgw_list_init(&s->trxs);
    gw->nsessions++;
    return s;
}

void
rbgw_session_ref(struct rbgw_session *s)
{
    s->refs++;
}

void
rbgw_session_unref(struct rbgw_session *s)
{
    RBGW_ASSERT(s->refs > 0);
    if (--s->refs > 0) {
        return;
    }
    /* The listener is gone and no request of the session is left: nobody can use its open
     * transactions any more. */
    RBGW_ASSERT(s->gone);
    struct rbgw_gateway *gw = s->gw;
    if (!rbgw_list_empty(&s->trxs)) {
        rbgw_fanout_session_end(s);
    }
    RBGW_ASSERT(rbgw_list_empty(&s->trxs));
    gw->nsessions--;
    free(s);
}

void
rbgw_session_gone(struct rbgw_session *s, const char *why)
{
    RBGW_ASSERT(!s->gone);
    s->gone = true;
    s->why = why;
    if (s->l) {
        s->l->stats.sessions_open--;
    }
    if (rbgw_log_enabled(RBGW_LOG_DEBUG)) {
        size_t ntrx = 0;
        for (struct rbgw_list *n = s->trxs.next; n != &s->trxs; n = n->next) {
            ntrx++;
        }
        rbgw_log_debug("session %llu gone: %s (%u call%s in flight, %zu open transaction%s)",
                       (unsigned long long)s->id, why, s->refs - 1, s->refs == 2 ? "" : "s", ntrx,
                       ntrx == 1 ? "" : "s");
    }
    rbgw_session_unref(s);
}

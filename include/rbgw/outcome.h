/*
 * outcome.h: how an upstream call ended, as one of a few classes.
 *
 * The status a call's done callback receives (gateway.h) is 0 or one of the call-failure codes
 * of common.h.  The transport that saw the failure picks the code (it knows whether a connect
 * was refused, a reply was too large, or rbgw itself ran out of file descriptors), the pool
 * passes it on unchanged, and fan-out decides by the class alone, never by reason text:
 *
 *   HEALTH  the failure says the upstream is unwell: it counts toward failure-limit (ejection)
 *   NEXT    another member may be tried for the same call (within the deadline, the retry
 *           budget and the write rules of fanout.c)
 *
 *   class          status           token            HEALTH NEXT  when
 *   ok             0                "ok"               -     -    a reply (result false included)
 *   timeout        RBGW_ETIMEDOUT   "timeout"          x     x    no reply within the call's time
 *   connect        RBGW_ECONNECT    "connect"          x     x    no conn could be opened: refused,
 *                                                                 unreachable, connect-timeout,
 *                                                                 spawn failure, initialize failed
 *   closed         RBGW_ECLOSED     "closed"           x     x    the peer closed mid-call, or the
 *                                                                 conn a transaction holds is gone
 *   too_big        RBGW_ETOOBIG     "too_big"          -     -    reply over max-reply-size
 *   queue_full     RBGW_EQUEUE      "queue_full"       -     x    max-queue calls already waiting
 *   queue_timeout  RBGW_EQTIMEDOUT  "queue_timeout"    -     x    no conn became free in time
 *   shutdown       RBGW_ESHUTDOWN   "shutdown"         -     -    rbgw is stopping
 *   protocol       RBGW_EPROTO      "protocol"         x     x    a reply pdns would not accept:
 *                                                                 unparsable, bad HTTP status,
 *                                                                 wrong framing
 *   unsupported    RBGW_ENOTSUP     "unsupported"      -     x    the call cannot be expressed for
 *                                                                 this upstream (REST translation)
 *   local          RBGW_ELOCAL      "local"            -     -    rbgw's own EMFILE, ENFILE,
 *                                                                 ENOMEM: not the upstream's fault
 *   backoff        RBGW_EBACKOFF    "backoff"          x     x    the upstream's opens are backing
 *                                                                 off (retry-after) after failures
 *
 * A too-large reply is a fact about the answer, not about the upstream's health, and another
 * member would most likely send the same; a local failure would repeat on every member.
 * Tokens are stable: logs and metrics label outcomes with them.
 *
 * Answer classes: how rbgw answered one call of pdns (request.c counts each answer once, by
 * listener; the metrics' outcome label).  The first RBGW_OUTCOME_COUNT values are the call
 * classes above, so a failed answer is classed by the status of the leg that failed it
 * (rbgw_answer_of); three more say what no call status can:
 *
 *   ok            the responder's reply, whose result is not false
 *   <class>       rbgw answered false because a call failed that way (timeout, connect, ...)
 *   false         the responder's reply said false (or, with write=all, one of them did)
 *   no_upstream   answered false before any upstream was tried (none configured, the deadline
 *                 passed first): status RBGW_ENOUPSTREAM
 *   bad_request   pdns's call could not be read (not JSON, no method, larger than
 *                 max-request-size, not HTTP): status RBGW_EPARSE
 */
#ifndef RBGW_OUTCOME_H
#define RBGW_OUTCOME_H

#include <stdbool.h>

#include "rbgw/common.h"

#define RBGW_OUTCOME_HEALTH 1 /* counts toward the upstream's ejection */
#define RBGW_OUTCOME_NEXT 2   /* another member may be tried */

/*   X(NAME, status, token, flags) */
#define RBGW_OUTCOME_MAP(X)                                                                        \
    X(OK, 0, "ok", 0)                                                                              \
    X(TIMEOUT, RBGW_ETIMEDOUT, "timeout", RBGW_OUTCOME_HEALTH | RBGW_OUTCOME_NEXT)                 \
    X(CONNECT, RBGW_ECONNECT, "connect", RBGW_OUTCOME_HEALTH | RBGW_OUTCOME_NEXT)                  \
    X(CLOSED, RBGW_ECLOSED, "closed", RBGW_OUTCOME_HEALTH | RBGW_OUTCOME_NEXT)                     \
    X(TOO_BIG, RBGW_ETOOBIG, "too_big", 0)                                                         \
    X(QUEUE_FULL, RBGW_EQUEUE, "queue_full", RBGW_OUTCOME_NEXT)                                    \
    X(QUEUE_TIMEOUT, RBGW_EQTIMEDOUT, "queue_timeout", RBGW_OUTCOME_NEXT)                          \
    X(SHUTDOWN, RBGW_ESHUTDOWN, "shutdown", 0)                                                     \
    X(PROTOCOL, RBGW_EPROTO, "protocol", RBGW_OUTCOME_HEALTH | RBGW_OUTCOME_NEXT)                  \
    X(UNSUPPORTED, RBGW_ENOTSUP, "unsupported", RBGW_OUTCOME_NEXT)                                 \
    X(LOCAL, RBGW_ELOCAL, "local", 0)                                                              \
    X(BACKOFF, RBGW_EBACKOFF, "backoff", RBGW_OUTCOME_HEALTH | RBGW_OUTCOME_NEXT)

enum rbgw_outcome {
#define RBGW_X(name, status, token, flags) RBGW_OUTCOME_##name,
    RBGW_OUTCOME_MAP(RBGW_X)
#undef RBGW_X
        RBGW_OUTCOME_COUNT
};

/** Calls of one upstream by how they ended (fanout.c counts each leg once). */
struct rbgw_outcome_counts {
    uint64_t n[RBGW_OUTCOME_COUNT]; /* indexed by enum rbgw_outcome */
};

enum rbgw_answer {
    /* 0 .. RBGW_OUTCOME_COUNT-1: enum rbgw_outcome, RBGW_ANSWER_OK (0) included */
    RBGW_ANSWER_OK = RBGW_OUTCOME_OK,
    RBGW_ANSWER_FALSE = RBGW_OUTCOME_COUNT, /* the responder said false */
    RBGW_ANSWER_NO_UPSTREAM,                /* no upstream could be tried */
    RBGW_ANSWER_BAD_REQUEST,                /* pdns's call could not be read */
    RBGW_ANSWER_COUNT
};

/**
 * The answer class of a false answer rbgw gives with this status: a call-failure code gives
 * its call class, RBGW_ENOUPSTREAM no_upstream, RBGW_EPARSE bad_request, 0 false (a
 * responder's false made rbgw answer false).
 */
enum rbgw_answer rbgw_answer_of(int status);
/** The answer class's token ("ok", "false", "timeout", "no_upstream", ...); never NULL. */
const char *rbgw_answer_name(enum rbgw_answer a);

/** The class of a call status.  A code outside the table counts as protocol. */
enum rbgw_outcome rbgw_outcome_of(int status);
/** The class's token ("timeout", "queue_full", ...); never NULL. */
const char *rbgw_outcome_name(enum rbgw_outcome o);
/** True if a call that ended with status counts toward its upstream's ejection. */
bool rbgw_outcome_counts_against(int status);
/** True if after status another member may be tried for the same call. */
bool rbgw_outcome_may_try_next(int status);

/**
 * The one-line reason of a failed call, the text of its false reply and warning:
 * "<target>: <detail> (<what the class means>)", e.g.
 * "127.0.0.1:8080: no reply within 1500 ms (timed out)".  Truncated to fit; returns buf.
 */
char *rbgw_outcome_reason(char *buf, size_t len, int status, const char *target,
                          const char *detail);

/**
 * Failures of rbgw's own resources are the local class, whatever the operation: the status for
 * a libuv error (UV_E*) or a plain errno value (libzmq) seen while doing something whose
 * failure would otherwise be `otherwise`.
 */
int rbgw_outcome_from_uv(int uv_err, int otherwise);
int rbgw_outcome_from_errno(int errno_value, int otherwise);

#endif

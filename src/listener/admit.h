/*
 * listener/admit.h: who gets in at accept: max-conns= per socket listener, and rbgw's own
 * shortage of descriptors.  Private to listeners.
 *
 * max-conns: a connection past the listener's max-conns= is accepted and closed at once (the
 * HTTP listener first writes it a 503 with a JSON body), with a rate-limited warning and the
 * counter rbgw_limit_hits_total{limit="max_conns"}.  Connections still closing count until
 * their handle is closed: the bound is on descriptors held.
 *
 * Descriptors: when accept(2) fails for want of descriptors (EMFILE, ENFILE), libuv 1.44 first
 * sheds the waiting connections itself (it closes a descriptor it holds in reserve, accepts and
 * closes every waiting connection, and opens the reserve again), without telling the listener.
 * Only when that reserve is gone (another thread took the descriptor in between, or ENFILE)
 * does it call the connection callback with the error, and then it tries accept(2) again at
 * once, for as long as connections wait: the loop would spin there, never getting back to the
 * connections whose closing would free a descriptor.  So rbgw keeps a reserve of its own
 * (gw->reserve_fd, opened at start) and sheds the waiting connections with it the same way,
 * which ends libuv's retries (accept then says EAGAIN).  Either way the listener keeps
 * accepting once descriptors are free again.
 */
#ifndef RBGW_LISTENER_ADMIT_H
#define RBGW_LISTENER_ADMIT_H

#include "rbgw/gateway.h"

/**
 * The listening stream's connection callback got status < 0: count it, say so (rate-limited)
 * and, for EMFILE or ENFILE, shed the connections waiting on server with the reserve.  what:
 * "unix listener /run/rbgw.sock", for the log.
 */
void rbgw__admit_failed(struct rbgw_listener *l, uv_stream_t *server, int status, const char *what);

/**
 * A connection was accepted while nopen connections (itself included) hold descriptors: true
 * if it is past max (then it is counted and logged, rate-limited, and the caller closes it).
 */
bool rbgw__admit_over(struct rbgw_listener *l, uint32_t nopen, uint32_t max, const char *what);

/** Open (at start) and close (at the end) the gateway's reserve descriptor. */
void rbgw__admit_reserve_open(struct rbgw_gateway *gw);
void rbgw__admit_reserve_close(struct rbgw_gateway *gw);

#endif

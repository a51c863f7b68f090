/*
 * fake_upstream.h: an in-process gateway whose upstreams use a transport implemented here, for
 * tests of connpool.c, fanout.c and session.c without sockets, threads or child processes.
 *
 *   test ──rbgw_request_new / dispatch──> gateway (fan-out, pools: the real code)
 *                                             └── struct rbgw_upconn_ops fake_conn_ops
 *   test ──fake_conn_reply / _error / _ready──┘   (open, send, close only record)
 *
 * The transport does nothing by itself: open records a conn (and reports it ready at once
 * unless fake_gw_manual_open was set), send records the call, close marks the record closed.
 * The test then decides every outcome, one step at a time, in any order: a reply, a failure
 * (with the pool's KEEP/RETRY/UNSENT flags), a late reply on a conn the pool has closed (the
 * record says so; the step is then refused, as a real transport would drop it).  Deadlines are
 * real loop timers: fake_gw_run_until waits for a state, bounded.
 *
 * The gateway is rbgw_gateway_init's (rbgw_gateway_init_with the fake transport), never started:
 * its listeners do not run, the test plays the listener.  Its sessions
 * (fake_gw_session) and requests (fake_gw_send) behave like a listener's: the test's
 * reference to a request is dropped when its answer arrives, or at once when its session is
 * reported gone before that (fake_gw_gone), exactly as jsonconn and the HTTP listener do.
 *
 * Everything asserts (Criterion); state is per process (Criterion forks each test), and
 * fake_gw_teardown (the suite's .fini) releases what a failed test left.
 */
#ifndef RBGW_TEST_FAKE_UPSTREAM_H
#define RBGW_TEST_FAKE_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rbgw/gateway.h"
#include "rbgw/connpool.h"

#define FAKE_GW_MAX_CONNS 64
#define FAKE_GW_MAX_REQS 64

/* One conn the pool opened (kept after the pool freed the conn itself). */
struct fake_conn {
    char upstream[64];     /* name of its upstream */
    uint64_t id;           /* the pool's conn id */
    struct rbgw_upconn *c; /* the live conn; NULL once the pool closed it */
    bool opening;          /* open called, no outcome yet */
    bool sending;          /* a call was sent and has no outcome yet */
    unsigned nsent;        /* calls sent on it */
    char method[64];       /* method of the last call sent ("" for none or a probe) */
};

/* One request the test sent (the test is its listener). */
struct fake_req {
    struct rbgw_request *req;     /* live request while the test holds it, else NULL */
    struct rbgw_session *session; /* the session it was sent on (borrowed) */
    unsigned nanswers;            /* answers delivered to the listener hook */
    char answer[512];             /* the first answer */
};

/**
 * Build the gateway from rbgw options (NULL-terminated, e.g. "--upstream=unix:path=/fake/a,
 * name=alpha", "--pool=p:upstreams=alpha+bravo,write=all"); every upstream uses the fake
 * transport whatever its type.  "--log-level=debug" is added unless given.
 */
void fake_gw_start(const char *const *args);
struct rbgw_gateway *fake_gw(void);
/**
 * Reload the gateway with these options (as fake_gw_start takes them): rbgw_gateway_reload's
 * result; err (may be NULL) gets the reason of a refusal.
 */
int fake_gw_reload(const char *const *args, char *err, size_t errlen);
/** The pool of upstream i (of the current generation). */
struct rbgw_connpool *fake_gw_connpool(size_t i);
/** From now on opens wait for fake_conn_ready / fake_conn_error (default: ready at once). */
void fake_gw_manual_open(bool on);

/** A new session (the test holds the listener's reference until fake_gw_gone). */
struct rbgw_session *fake_gw_session(void);
/** pdns went away on s: unanswered requests are let go, then rbgw_session_gone. */
void fake_gw_gone(struct rbgw_session *s);
/** Send one call (JSON text) on s; returns its record. */
struct fake_req *fake_gw_send(struct rbgw_session *s, const char *json);

/** Conns opened so far (all upstreams), in opening order. */
size_t fake_gw_nconns(void);
struct fake_conn *fake_gw_conn(size_t i);
/** The conns with a call in flight right now (at most max), in opening order; their count. */
size_t fake_gw_sending(struct fake_conn **out, size_t max);

/* Outcomes, as a transport reports them (each asserts that the conn can have it). */
void fake_conn_ready(struct fake_conn *fc);
void fake_conn_reply(struct fake_conn *fc, const char *json, bool keep);
void fake_conn_error(struct fake_conn *fc, int flags, const char *why);
/** An idle conn's peer closed it. */
void fake_conn_lost(struct fake_conn *fc);

/**
 * Run the loop until cond(arg) holds; asserts that it does within a safety bound (10 s of
 * wall time), which only keeps a broken build from hanging.
 */
void fake_gw_run_until(bool (*cond)(void *arg), void *arg);

/** Conns of upstream i (current generation) on the pool's pinned / idle / busy list. */
size_t fake_gw_npinned(size_t i);
size_t fake_gw_nidle(size_t i);
size_t fake_gw_nbusy(size_t i);

/**
 * End the test's run: every session still held is reported gone, the gateway stopped and the
 * loop run to completion; asserts that no request, session or handle is left.
 */
void fake_gw_finish(void);
/** Release whatever a failed test left (the suite's .fini). */
void fake_gw_teardown(void);

#endif

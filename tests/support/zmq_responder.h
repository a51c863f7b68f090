/*
 * zmq_responder.h: a scripted remote-backend responder on a ZeroMQ ROUTER socket, standing where
 * a pdns zeromq responder stands (it binds; the REQ sockets of rbgw's zeromq upstream connect).
 *
 * A ROUTER rather than a REP: a REP that does not answer one request can serve nobody else, and
 * the tests need exactly that (a stalled call, then the next call on a new socket), plus several
 * REQ peers in flight at once.  Every REQ message arrives as [routing id, empty, payload].
 *
 * Script: initialize requests are answered with the init reply (default {"result":true});
 * every other request consumes the next pushed action, in order.  Each received message is
 * logged (payload, routing id, the reply chosen for it) for the test to read with a bounded
 * wait.  Runs in its own thread; the test talks to it through a mutex and an inproc socket.
 */
#ifndef RBGW_TEST_ZMQ_RESPONDER_H
#define RBGW_TEST_ZMQ_RESPONDER_H

#include <stdbool.h>
#include <stddef.h>

struct zmq_responder;

enum zr_action {
    ZR_REPLY,   /* answer with the text as one part */
    ZR_PARTS,   /* answer with the text, then a second part "extra" */
    ZR_STALL,   /* never answer */
    ZR_HOLD,    /* keep the request; answered (with the text) by the next ZR_RELEASE */
    ZR_RELEASE, /* answer with the text, then every held request, newest first */
};

/** One received message (fields malloc'd; free with zr_msg_free). */
struct zr_msg {
    char *data;            /* the payload, NUL-terminated (len excludes that NUL) */
    size_t len;            /* payload bytes */
    unsigned char id[256]; /* the peer's routing id */
    size_t idlen;          /* bytes in id */
    size_t nparts;         /* parts received (3 for a REQ peer) */
    bool initialize;       /* the payload is an initialize call */
    char *reply;           /* what it was (or will be) answered with; NULL: not answered */
};

/**
 * Bind a ROUTER to endpoint ("ipc:///tmp/x/r.sock", "tcp://127.0.0.1:*") and start the thread.
 * NULL on failure (errno-style reason on stderr).
 */
struct zmq_responder *zmq_responder_start(const char *endpoint);
/** The endpoint as bound (the real port for tcp://...:*). */
const char *zmq_responder_endpoint(const struct zmq_responder *zr);
/** Reply text for initialize requests from now on. */
void zmq_responder_set_init_reply(struct zmq_responder *zr, const char *reply);
/** Append an action for the next non-initialize request (text: the reply, may be NULL). */
void zmq_responder_push(struct zmq_responder *zr, enum zr_action a, const char *text);
/** Next logged message, waiting up to timeout_ms: 0, or -1 (timed out; *out zeroed). */
int zmq_responder_next(struct zmq_responder *zr, int timeout_ms, struct zr_msg *out);
/** Messages logged and not yet taken with zmq_responder_next. */
size_t zmq_responder_pending(struct zmq_responder *zr);
void zr_msg_free(struct zr_msg *m);
/** Stop the thread, close the socket (unlinking an ipc path), free everything.  NULL is ok. */
void zmq_responder_stop(struct zmq_responder *zr);

#endif

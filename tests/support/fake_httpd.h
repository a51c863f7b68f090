/*
 * fake_httpd.h: the one scripted HTTP/1.1 server of the test support.  fake_http.h (a
 * scripted responder), fake_fanout.h (killable pdns-REST responders) and zmq_echo_http.h (a
 * holding, echoing responder) are thin front ends over it.
 *
 * A server listens on 127.0.0.1:<ephemeral> and runs in its own thread.  It accepts any number
 * of connections, parses requests with llhttp (so whatever rbgw sends must be valid HTTP/1.1),
 * records every request, and then answers it with a scripted action: respond (any status,
 * headers, body, chunked or not, in pieces, cut short), stall, close, or hold until released.
 *
 * Guarantees the front ends and the tests build on:
 *   - Every request is recorded (in arrival order, with the accept index of its connection)
 *     before it is answered, and the answer is handed to the kernel in the same critical section
 *     as the record: once a test has rbgw's reply to a call, the record of it is there, and a
 *     test that sees a record also knows that its answer (if it has one) has been sent.
 *   - Answers on one connection go out in request order.  A request behind a stalled or held
 *     one on the same connection is recorded when it arrives but decided (a script action used
 *     up, a decide callback asked) only when its turn comes, i.e. never behind a stall.
 *   - Nothing blocks the server thread: sockets are non-blocking and every connection has its
 *     own output queue, so a stalled connection or a peer that does not read never holds up the
 *     others, and the test thread never waits on a blocked write.
 *   - Waits use a condition variable on CLOCK_MONOTONIC, never sleeps; their timeout is a
 *     safety bound, not a timing assertion.
 *   - The port stays bound from start to stop, also while the server is killed (connects are
 *     refused then, and nobody else can take the port).
 *   - Sockets are CLOEXEC, so a spawned rbgw never inherits them.
 */
#ifndef RBGW_TEST_FAKE_HTTPD_H
#define RBGW_TEST_FAKE_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fake_http_kind {
    FAKE_HTTP_RESPOND, /* answer with status/headers/body (see the fields below) */
    FAKE_HTTP_STALL,   /* never answer; keep the connection open until the peer closes it */
    FAKE_HTTP_CLOSE,   /* close the connection without writing a byte */
    FAKE_HTTP_HOLD,    /* answer as RESPOND once released (fake_httpd_release) */
};

/* One scripted reaction to one request.  Strings are copied by whoever takes the action. */
struct fake_http_action {
    enum fake_http_kind kind;
    int status;               /* RESPOND/HOLD: status code; 0 means 200 */
    const char *content_type; /* RESPOND/HOLD: NULL = application/json; "" = no Content-Type */
    const char *headers;      /* RESPOND/HOLD: extra header lines, each ending in "\r\n", or
                                 NULL */
    const char *body;         /* RESPOND/HOLD: body text, NULL = empty */
    bool chunked;             /* RESPOND/HOLD: Transfer-Encoding: chunked, not Content-Length */
    int chunks;               /* chunked: number of data chunks; 0 means 3 */
    bool no_length;           /* RESPOND/HOLD: neither Content-Length nor chunked (e.g. 204) */
    int pieces;               /* RESPOND/HOLD: write the response in this many send() calls,
                                 1 ms apart (so they likely reach rbgw as separate reads) */
    bool close_after;         /* RESPOND/HOLD: close the connection after the response */
    size_t cut_after;         /* RESPOND/HOLD: send only the first N bytes (0: all), then
                                 answer nothing more on the connection, or close if
                                 close_after */
};

/* One request as received.  Immutable once recorded; owned by the server until it stops. */
struct fake_http_request {
    unsigned conn;   /* connection it came on: 0-based accept order */
    char *raw;       /* the request exactly as received: head and body (NUL-terminated) */
    size_t raw_len;  /* bytes in raw */
    char *method;    /* "GET", "POST", ...; "?" for bytes llhttp rejected (then raw holds
                        them, and the server closed the connection) */
    char *target;    /* request target as sent, e.g. "/dns/lookup/www%2eexample%2ecom%2e/A" */
    char *version;   /* "HTTP/1.1" */
    size_t nheaders; /* header lines */
    char **names;    /* header names as sent */
    char **values;   /* header values, surrounding blanks trimmed */
    char *body;      /* body, de-chunked if it was chunked (NUL-terminated) */
    size_t body_len; /* bytes in body */
};

struct fake_httpd;

/**
 * How a front end answers: called on the server thread with the server locked, for request i
 * (r, arrival order) when its turn comes on its connection.  Fills *a (zeroed beforehand; the
 * strings it points at must live until the callback returns: the server copies them) and
 * returns a note the server keeps with the record (fake_httpd_tag).  It may call the *_locked
 * functions below and nothing else of this API.
 */
typedef int (*fake_httpd_decide_cb)(void *ctx, struct fake_httpd *s, size_t i,
                                    const struct fake_http_request *r, struct fake_http_action *a);

/**
 * Start a server.  decide NULL: requests are answered by the script (fake_httpd_push), then by
 * the default action (200 {"result":true} until fake_httpd_set_default).  NULL on failure.
 */
struct fake_httpd *fake_httpd_start(fake_httpd_decide_cb decide, void *ctx);
/** Stop the thread, close every socket, free everything (records included).  NULL: no-op. */
void fake_httpd_stop(struct fake_httpd *s);
/** The port it listens on. */
uint16_t fake_httpd_port(const struct fake_httpd *s);

/** Append one action to the script (used without a decide callback). */
void fake_httpd_push(struct fake_httpd *s, const struct fake_http_action *a);
/** The action once the script is used up (used without a decide callback). */
void fake_httpd_set_default(struct fake_httpd *s, const struct fake_http_action *a);

/** Answer every held request now (arrival order, or newest first), then go on with what
 * queued behind them.  Returns once done. */
void fake_httpd_release(struct fake_httpd *s, bool newest_first);
/** The same from inside a decide callback: done as soon as the callback's request is
 * settled (so a callback that holds its request and releases includes it). */
void fake_httpd_release_locked(struct fake_httpd *s, bool newest_first);
/** Stop listening and close every connection; connects are refused until revive.  Returns
 * once done. */
void fake_httpd_kill(struct fake_httpd *s);
/** Listen again on the same port.  0, or -errno.  Returns once done. */
int fake_httpd_revive(struct fake_httpd *s);

/** The server's lock, for a front end's own state next to the records (decide runs under it). */
void fake_httpd_lock(struct fake_httpd *s);
void fake_httpd_unlock(struct fake_httpd *s);

/** Requests recorded so far. */
size_t fake_httpd_nrequests(struct fake_httpd *s);
/** The i-th recorded request (arrival order), or NULL if there is none yet; valid until stop. */
const struct fake_http_request *fake_httpd_request(struct fake_httpd *s, size_t i);
/** The i-th request's note from the decide callback; -1 while undecided (queued behind a
 * stalled or held request, or rejected by llhttp) or when there is no request i. */
int fake_httpd_tag(struct fake_httpd *s, size_t i);
/** Connections accepted / closed (by either side) so far. */
unsigned fake_httpd_accepts(struct fake_httpd *s);
unsigned fake_httpd_closes(struct fake_httpd *s);
/** Requests stalled or held right now (on open connections). */
unsigned fake_httpd_pending(struct fake_httpd *s);
unsigned fake_httpd_pending_locked(struct fake_httpd *s);
/** True while the connection with this accept index is open. */
bool fake_httpd_conn_open(struct fake_httpd *s, unsigned conn);

/* Waits: true once the state is reached (counts: at least n), false if timeout_ms passed first. */
bool fake_httpd_wait_requests(struct fake_httpd *s, size_t n, int timeout_ms);
bool fake_httpd_wait_accepts(struct fake_httpd *s, unsigned n, int timeout_ms);
bool fake_httpd_wait_closes(struct fake_httpd *s, unsigned n, int timeout_ms);
bool fake_httpd_wait_pending(struct fake_httpd *s, unsigned n, int timeout_ms);
/** Wait until the connection with this accept index was accepted and is closed. */
bool fake_httpd_wait_conn_closed(struct fake_httpd *s, unsigned conn, int timeout_ms);

/** Value of header `name` (case-insensitive) in r, or NULL.  The first one if repeated. */
const char *fake_http_header(const struct fake_http_request *r, const char *name);
/** Number of headers in r whose name starts with `prefix` (case-insensitive). */
size_t fake_http_count_headers(const struct fake_http_request *r, const char *prefix);

#endif

/*
 * fake_http.h: a scripted HTTP/1.1 responder on 127.0.0.1:<ephemeral> for integration tests: a
 * front end of the test support's one HTTP server (fake_httpd.h, where the action and request
 * types and the header helpers are).
 *
 * The server runs in its own thread.  Every request it receives (on any connection) is recorded
 * and then handled by the next action of one global script, in arrival order; once the script is
 * used up the default action applies to every further request.  rbgw sends one request at a
 * time, so "the n-th request" is a well-defined thing to script against, including across
 * reconnects.  A request behind a stalled one on the same connection is recorded but never
 * answered, and uses up no action.  The test reads back the recorded requests and the number of
 * accepted and closed connections, and waits for them with condition variables (never sleeps).
 */
#ifndef RBGW_TEST_FAKE_HTTP_H
#define RBGW_TEST_FAKE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fake_httpd.h"

struct fake_http;

/** Start a server on 127.0.0.1:0.  Default action: 200 {"result":true}.  NULL on failure. */
struct fake_http *fake_http_start(void);
/** Stop the thread, close every socket, free everything (recorded requests included). */
void fake_http_stop(struct fake_http *s);

/** The port the server listens on. */
uint16_t fake_http_port(const struct fake_http *s);

/** Append one action to the script. */
void fake_http_push(struct fake_http *s, const struct fake_http_action *a);
/** Shorthand: push a 200 response with this JSON body. */
void fake_http_push_json(struct fake_http *s, const char *body);
/** The action for requests once the script is used up. */
void fake_http_set_default(struct fake_http *s, const struct fake_http_action *a);
/** Answer every request held by a FAKE_HTTP_HOLD action now (arrival order). */
void fake_http_release(struct fake_http *s);

/** Requests recorded so far. */
size_t fake_http_nrequests(struct fake_http *s);
/** The i-th recorded request (arrival order), or NULL if there is none yet. */
const struct fake_http_request *fake_http_request(struct fake_http *s, size_t i);
/** Connections accepted so far. */
unsigned fake_http_accepts(struct fake_http *s);
/** Connections closed so far (by either side). */
unsigned fake_http_closes(struct fake_http *s);
/** Requests stalled or held right now (on open connections). */
unsigned fake_http_pending(struct fake_http *s);

/** Wait until at least n requests were recorded; false if timeout_ms passed first. */
bool fake_http_wait_requests(struct fake_http *s, size_t n, int timeout_ms);
/** Wait until at least n connections were closed; false if timeout_ms passed first. */
bool fake_http_wait_closes(struct fake_http *s, unsigned n, int timeout_ms);
/** Wait until at least n requests are stalled or held; false if timeout_ms passed first. */
bool fake_http_wait_pending(struct fake_http *s, unsigned n, int timeout_ms);
/** Wait until the connection with accept index conn is closed; false if timeout_ms passed
 * first. */
bool fake_http_wait_conn_closed(struct fake_http *s, unsigned conn, int timeout_ms);

#endif

/*
 * zmq_echo_http.h: an HTTP/1.1 responder that holds requests back and then answers them in
 * reverse arrival order, each with a body naming its own request target.
 *
 * It exists to prove concurrency end to end: the server answers nothing until `hold` requests
 * are waiting at the same time, which only happens if the gateway in front of it really has
 * that many calls in flight; the reverse order then makes every reply complete out of order,
 * and the echoed target lets each client check it got its own answer.
 *
 * Reply body (one line): {"result":[{"qtype":"TXT","qname":"echo.","content":"<target>",
 * "ttl":60,"auth":1,"domain_id":1}]}.  Runs on 127.0.0.1:<ephemeral> in its own thread: a
 * front end of the test support's one HTTP server (fake_httpd.h).  A request whose target
 * holds '"' or '\' (never sent by rbgw) has its connection closed unanswered, which keeps the
 * echo valid JSON without escaping.
 */
#ifndef RBGW_TEST_ZMQ_ECHO_HTTP_H
#define RBGW_TEST_ZMQ_ECHO_HTTP_H

#include <stdbool.h>
#include <stdint.h>

struct zmq_echo_http;

/** Start the server; answer in batches of `hold` (>= 1) requests.  NULL on failure. */
struct zmq_echo_http *zmq_echo_http_start(unsigned hold);
/** Stop the thread, close every socket, free everything. */
void zmq_echo_http_stop(struct zmq_echo_http *s);
/** The port the server listens on. */
uint16_t zmq_echo_http_port(const struct zmq_echo_http *s);
/** Requests received so far. */
unsigned zmq_echo_http_requests(struct zmq_echo_http *s);
/** The most requests that were waiting at the same time. */
unsigned zmq_echo_http_max_waiting(struct zmq_echo_http *s);

#endif

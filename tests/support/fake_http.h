/*
 * fake_http.h: a scripted HTTP/1.1 responder on 127.0.0.1:<ephemeral> for integration tests.
 *
 * The server runs in its own thread.  Every request it receives (on any connection) is recorded
 * and then handled by the next action of one global script, in arrival order; once the script is
 * used up the default action applies to every further request.  rbgw sends one request at a
 * time, so "the n-th request" is a well-defined thing to script against, including across
 * reconnects.  The test reads back the recorded requests and the number of accepted and closed
 * connections, and waits for them with condition variables (never sleeps).
 */
#ifndef RBGW_TEST_FAKE_HTTP_H
#define RBGW_TEST_FAKE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fake_http_kind {
    FAKE_HTTP_RESPOND, /* answer with status/headers/body (see the fields below) */
    FAKE_HTTP_STALL,   /* never answer; keep the connection open until the peer closes it */
    FAKE_HTTP_CLOSE,   /* close the connection without writing a byte */
};

/* One scripted reaction to one request.  Strings are copied by fake_http_push/set_default. */
struct fake_http_action {
    enum fake_http_kind kind;
    int status;               /* RESPOND: status code; 0 means 200 */
    const char *content_type; /* RESPOND: NULL = application/json; "" = no Content-Type */
    const char *headers;      /* RESPOND: extra header lines, each ending in "\r\n", or NULL */
    const char *body;         /* RESPOND: body text, NULL = empty */
    bool chunked;             /* RESPOND: Transfer-Encoding: chunked instead of Content-Length */
    int chunks;               /* RESPOND+chunked: number of data chunks; 0 means 3 */
    bool no_length;           /* RESPOND: neither Content-Length nor chunked (e.g. for 204) */
    int pieces;               /* RESPOND: write the response in this many send() calls */
    bool close_after;         /* RESPOND: close the connection after the response */
    size_t cut_after;         /* RESPOND: send only the first N bytes (0: all), then stall, or
                                 close if close_after */
};

/* One request as received.  Immutable once recorded; owned by the server. */
struct fake_http_request {
    unsigned conn;   /* connection it came on: 0-based accept order */
    char *raw;       /* the request exactly as received: head and body (NUL-terminated) */
    size_t raw_len;  /* bytes in raw */
    char *method;    /* "GET", "POST", ... */
    char *target;    /* request target as sent, e.g. "/dns/lookup/www%2eexample%2ecom%2e/A" */
    char *version;   /* "HTTP/1.1" */
    size_t nheaders; /* header lines */
    char **names;    /* header names as sent */
    char **values;   /* header values, surrounding blanks trimmed */
    char *body;      /* body, de-chunked if it was chunked (NUL-terminated) */
    size_t body_len; /* bytes in body */
};

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

/** Requests recorded so far. */
size_t fake_http_nrequests(struct fake_http *s);
/** The i-th recorded request (arrival order), or NULL if there is none yet. */
const struct fake_http_request *fake_http_request(struct fake_http *s, size_t i);
/** Connections accepted so far. */
unsigned fake_http_accepts(struct fake_http *s);
/** Connections closed so far (by either side). */
unsigned fake_http_closes(struct fake_http *s);

/** Wait until at least n requests were recorded; false if timeout_ms passed first. */
bool fake_http_wait_requests(struct fake_http *s, size_t n, int timeout_ms);
/** Wait until at least n connections were closed; false if timeout_ms passed first. */
bool fake_http_wait_closes(struct fake_http *s, unsigned n, int timeout_ms);

/** Value of header `name` (case-insensitive) in r, or NULL.  The first one if repeated. */
const char *fake_http_header(const struct fake_http_request *r, const char *name);
/** Number of headers in r whose name starts with `prefix` (case-insensitive). */
size_t fake_http_count_headers(const struct fake_http_request *r, const char *prefix);

#endif

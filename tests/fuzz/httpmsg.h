/*
 * httpmsg.h: HTTP requests out of a byte stream, collected the way listener/http.c collects
 * them (for fuzz_rest_in and fuzz_rest_roundtrip).
 *
 * The listener's collection lives inside its connection object and needs a socket, so it is
 * mirrored here: llhttp in strict request mode, the url, header and body spans appended as
 * llhttp hands them out (a span may come in pieces), at most 64 headers, the parser paused
 * after each message (on_message_complete returns HPE_PAUSED) and resumed for the next one.
 */
#ifndef RBGW_FUZZ_HTTPMSG_H
#define RBGW_FUZZ_HTTPMSG_H

#include <llhttp.h>

#include "rbgw/xlate_in.h"

#define RBGW_FUZZ_MAX_HEADERS 64  /* listener/http.c's MAX_HEADERS */
#define RBGW_FUZZ_MAX_MESSAGES 64 /* messages taken from one stream */

struct rbgw_fuzz_span {
    size_t off; /* in head */
    size_t len; /* bytes */
};

/* Called for each complete message; in's views last until the callback returns. */
typedef void (*rbgw_fuzz_msg_cb)(const struct rbgw_http_in *in, void *ctx);

/* One connection's parse. */
struct rbgw_fuzz_http {
    llhttp_t parser;                                    /* request parser */
    struct rbgw_buf head;                               /* target, header names and values */
    struct rbgw_fuzz_span target;                       /* in head */
    struct rbgw_fuzz_span name[RBGW_FUZZ_MAX_HEADERS];  /* header names, in head */
    struct rbgw_fuzz_span value[RBGW_FUZZ_MAX_HEADERS]; /* header values, in head */
    size_t nhdrs;                                       /* headers so far */
    bool in_value;                                      /* the last header span was a value */
    struct rbgw_buf body;                               /* the message body */
    bool complete;                                      /* a message is complete */
    size_t messages;                                    /* complete messages */
    llhttp_errno_t end;                                 /* parser state after the stream */
    struct rbgw_buf log;                                /* every message's parts, then end */
};

/**
 * Parse p[0..len) arriving `chunk` bytes per read (0: all at once), calling cb (if not NULL)
 * for each complete message.  Afterwards h->log holds a transcript (verb, target, headers,
 * body of each message, then whether the stream ended in an error) and h->end the parser's
 * last result: HPE_OK when
 * the stream ended between or inside a message, an error otherwise.  Free with
 * rbgw_fuzz_http_free.
 */
void rbgw_fuzz_http_parse(struct rbgw_fuzz_http *h, const char *p, size_t len, size_t chunk,
                          rbgw_fuzz_msg_cb cb, void *ctx);
void rbgw_fuzz_http_free(struct rbgw_fuzz_http *h);

#endif

/*
 * rpc.h: the remote-backend JSON-RPC envelope (pure: no I/O, no logging).
 *
 * Requests are decoded only as far as routing and translation need: the tree is built once,
 * the method is a view into it, and the original bytes stay the authoritative copy for JSON
 * transports (pass-through, no re-serialisation).  Replies from upstreams are validated the
 * way pdns will read them (docs/protocol.md §1.3) and flattened to one line; anything pdns would
 * choke on becomes {"result":false,"log":["rbgw: <reason>", ...]}.
 */
#ifndef RBGW_RPC_H
#define RBGW_RPC_H

#include "rbgw/buf.h"
#include "rbgw/connstr.h"
#include "rbgw/json.h"
#include "rbgw/method.h"

struct rbgw_rpc_call {
    struct rbgw_json *root;         /* the whole request object (arena) */
    struct rbgw_str method;         /* view into root */
    enum rbgw_method mid;           /* method's row in the method table (RBGW_M_UNKNOWN: none) */
    const struct rbgw_json *params; /* "parameters" object (an empty object when absent) */
    enum rbgw_json_over over;       /* the limit the call broke (decode said RBGW_ETOOBIG) */
};

/**
 * Decode a JSON-RPC request.  Requires an object with a string "method"; "parameters" must be
 * an object when present; neither may appear twice (a call naming two methods has no one
 * meaning; duplicate keys *inside* parameters keep the last value, as pdns's json11 reads
 * them); out->mid is the method's row in the method table.  Returns 0 or RBGW_EPARSE with a
 * reason in err.
 */
int rbgw_rpc_decode(struct rbgw_arena *a, const char *text, size_t len, struct rbgw_rpc_call *out,
                    char *err, size_t errlen) RBGW_MUSTCHECK;
/**
 * rbgw_rpc_decode within lim (json.h; NULL: json11's rules only): a call past one of them
 * returns RBGW_ETOOBIG with out->over saying which, and err "request refused: nesting deeper
 * than N levels (max-json-depth)"; the tree is never built beyond the limit.
 */
int rbgw_rpc_decode_limited(struct rbgw_arena *a, const char *text, size_t len,
                            const struct rbgw_json_limits *lim, struct rbgw_rpc_call *out,
                            char *err, size_t errlen) RBGW_MUSTCHECK;

/** What routing needs from a call, found without building a tree. */
struct rbgw_rpc_peek {
    struct rbgw_str method; /* the "method" string (it has no escapes when peek succeeds) */
    enum rbgw_method mid;   /* its row in the method table (RBGW_M_UNKNOWN: none) */
    struct rbgw_str trxid;  /* text of parameters.trxid when it is a plain number, else empty */
    struct rbgw_str params; /* text of the "parameters" value ({...} or null), empty if none */
};

/**
 * Scan of a call without a tree (rbgw_json_scan): valid JSON, a top-level object with one
 * non-empty "method" string free of escapes and, if present, one "parameters" object or null;
 * parameters.trxid is noted when it is an integer, and the method name is looked up in the
 * method table (the one place a pass-through call's name is compared).  Returns 0, or -1 when
 * the text is not that (the caller then runs rbgw_rpc_decode, which explains).  Between JSON
 * connectors this is all rbgw reads of a call: its bytes are forwarded as received.
 */
int rbgw_rpc_peek(const char *text, size_t len, struct rbgw_rpc_peek *out);
/** rbgw_rpc_peek within lim (NULL: json11's rules only); a call past one of them is -1. */
int rbgw_rpc_peek_limited(const char *text, size_t len, const struct rbgw_json_limits *lim,
                          struct rbgw_rpc_peek *out);

/**
 * Frame and peek in one pass: when text (a stream's unread input) starts with a whole call
 * that rbgw_rpc_peek_limited accepts, possibly followed by more input, fill out as it would,
 * set [*start, *end) to the call's object and return 0.  Otherwise -1 (an incomplete,
 * invalid or unpeekable call): the caller frames with rbgw_frame_scan and peeks or decodes the
 * frame it finds, which gives the same result in two passes.  out's texts point into text.
 */
int rbgw_rpc_peek_frame(const char *text, size_t len, const struct rbgw_json_limits *lim,
                        struct rbgw_rpc_peek *out, size_t *start, size_t *end);

/**
 * Check a JSON reply body and append it to out as one line (raw newlines, which valid JSON can
 * only carry as whitespace, become spaces; surrounding whitespace trimmed; no trailing newline).
 * Returns 0, or RBGW_EPARSE with a reason ("reply is not JSON: ...", "reply has no 'result'")
 * in err; then out is unchanged.  *said_false (if not NULL) tells whether the reply's result
 * is false: the check finds the result anyway, so this costs nothing more.  log_text (may be
 * NULL) gets the text of the reply's top-level "log" member, within out, when it is a non-empty
 * array (responder lines to log), else empty; it is noted by the same pass that vets the reply.
 */
int rbgw_rpc_check_reply(struct rbgw_arena *a, struct rbgw_str body, struct rbgw_buf *out,
                         bool *said_false, struct rbgw_str *log_text, char *err,
                         size_t errlen) RBGW_MUSTCHECK;
/**
 * rbgw_rpc_check_reply within lim (NULL: json11's rules only): a reply past one of them is
 * RBGW_ETOOBIG with *over (if not NULL) saying which and err "reply refused: more than N
 * values (max-json-elements)", found by the scan alone (nothing is parsed).
 */
int rbgw_rpc_check_reply_limited(struct rbgw_arena *a, struct rbgw_str body,
                                 const struct rbgw_json_limits *lim, enum rbgw_json_over *over,
                                 struct rbgw_buf *out, bool *said_false, struct rbgw_str *log_text,
                                 char *err, size_t errlen) RBGW_MUSTCHECK;

/** A reply vetted as it was framed (rbgw_rpc_vet_frame). */
struct rbgw_rpc_vet {
    bool said_false;     /* its result is false */
    struct rbgw_str log; /* its "log" member when a non-empty array, else empty */
};

/**
 * Frame and vet in one pass: when text (a stream's unread input) starts with a whole reply
 * object that rbgw_rpc_check_reply_limited accepts without a parser (valid, within lim, with
 * a "result" that is not null), possibly followed by more input, set [*start, *end) to it,
 * fill v and return 0.  Otherwise -1: the caller frames with rbgw_frame_scan and checks the
 * document it finds, which then explains a refusal.  v->log points into text.
 */
int rbgw_rpc_vet_frame(const char *text, size_t len, const struct rbgw_json_limits *lim,
                       struct rbgw_rpc_vet *v, size_t *start, size_t *end);

/**
 * rbgw_rpc_check_reply_limited's success path for body, the reply rbgw_rpc_vet_frame framed
 * and vetted as v: appends it to out as one line, *log_text moved into out.
 */
void rbgw_rpc_reply_vetted(struct rbgw_str body, const struct rbgw_rpc_vet *v, struct rbgw_buf *out,
                           bool *said_false, struct rbgw_str *log_text);

/**
 * Interpret an HTTP response to a call the way pdns's HTTP connector would, but leniently:
 * status 200-399 and 404 carry the reply; an empty body with a 2xx status is {"result":true}.
 * On success appends the one-line reply to out and returns 0 (said_false and log_text as for
 * rbgw_rpc_check_reply).  Otherwise returns RBGW_EPROTO with a reason in err ("HTTP 500",
 * "reply is not JSON: ..."), and *log, when the body was a JSON object with a "log" array,
 * points at that array so it can be passed through.
 */
int rbgw_rpc_from_http(struct rbgw_arena *a, int status, struct rbgw_str body, struct rbgw_buf *out,
                       bool *said_false, struct rbgw_str *log_text, const struct rbgw_json **log,
                       char *err, size_t errlen) RBGW_MUSTCHECK;
/** rbgw_rpc_from_http within lim (NULL: json11's rules only): past one, RBGW_ETOOBIG. */
int rbgw_rpc_from_http_limited(struct rbgw_arena *a, int status, struct rbgw_str body,
                               const struct rbgw_json_limits *lim, enum rbgw_json_over *over,
                               struct rbgw_buf *out, bool *said_false, struct rbgw_str *log_text,
                               const struct rbgw_json **log, char *err,
                               size_t errlen) RBGW_MUSTCHECK;

/**
 * Append {"result":false,"log":["rbgw: <reason>", extra...]} (extra: a JSON array whose elements
 * are appended to log, or NULL).  Never fails.
 */
void rbgw_rpc_error_reply(struct rbgw_buf *out, const char *reason, const struct rbgw_json *extra);

/**
 * Append the initialize call pdns sends on a new pipe/unix/ZeroMQ connection (protocol.md
 * §3.1): every option of the connection string, values as strings, keys in byte order, json11
 * form, no newline.
 */
void rbgw_rpc_initialize_call(struct rbgw_buf *out, const struct rbgw_connstr *cs);

#endif

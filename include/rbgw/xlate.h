/*
 * xlate.h: JSON-RPC -> HTTP request translation (pure: no I/O, no globals, no logging).
 *
 * Produces the exact bytes pdns's own HTTP connector writes for a call (docs/protocol.md
 * §4.4-§5.4), in the three modes: REST (default), post (post=yes) and post_json
 * (post=yes,post_json=yes). The REST mapping is the `.rest` column of the method table (method.h:
 * verb, path components, body or query encoding); methods not in the table follow pdns's generic
 * GET rule.
 *
 * Dialect 5 (default) writes pdns 5.x's correct bodies; dialect 4 reproduces pdns 4.x's bytes
 * exactly, bugs included (bare 1/0 booleans, glued replaceRRSet groups, serial=N.000000).
 */
#ifndef RBGW_XLATE_H
#define RBGW_XLATE_H

#include "rbgw/buf.h"
#include "rbgw/json.h"
#include "rbgw/method.h"

enum rbgw_http_mode {
    RBGW_HTTP_REST,      /* RESTful verbs and paths, X-RemoteBackend-* headers, form bodies */
    RBGW_HTTP_POST,      /* POST <path>/<method><suffix>, body parameters=<urlencoded json> */
    RBGW_HTTP_POST_JSON, /* POST <path>, body = the JSON-RPC request object */
};

struct rbgw_http_target {
    enum rbgw_http_mode mode; /* from post= / post_json= (post_json alone means REST, as pdns) */
    int dialect;              /* 5 (default) or 4: rest-dialect=; any value but 4 means 5 */
    struct rbgw_str host;     /* the URL's host, no port, no brackets (xlate brackets IPv6) */
    struct rbgw_str path;     /* the URL's path without a trailing query; "" when none */
    struct rbgw_str suffix;   /* url-suffix= (REST and post modes only) */
    struct rbgw_str extra;    /* the upstream's own headers, "Name: value\r\n" lines checked by
                                 httphdr.c, written after the generated ones; may be empty */
};

/**
 * Append one complete HTTP/1.1 request for the call to out: request line, headers, blank line,
 * body.  method and params come from the decoded call (the method is looked up in the method
 * table here: the hot path uses rbgw_xlate_rpc_to_http_with and the call's enum); raw is the call's
 * JSON-RPC text as received (post_json sends it trimmed of surrounding whitespace; when empty, the
 * call is serialised).  params may be NULL (no parameters).  Returns 0, or RBGW_EPROTO with a
 * reason in err (may be NULL) when the parameters cannot be expressed (e.g. params is not an
 * object, a path component is an array) or would break HTTP framing (a control byte in a header
 * value, a space or control byte in the path); out is unchanged on error.
 */
int rbgw_xlate_rpc_to_http(const struct rbgw_http_target *t, struct rbgw_str method,
                           const struct rbgw_json *params, struct rbgw_str raw,
                           struct rbgw_buf *out, char *err, size_t errlen) RBGW_MUSTCHECK;

/** Buffers rbgw_xlate_rpc_to_http_with keeps between calls (no malloc per call once warm). */
struct rbgw_xlate_scratch {
    struct rbgw_buf path, query, body, scratch, hvals; /* owned; contents meaningless */
};

/**
 * rbgw_xlate_rpc_to_http with reusable scratch buffers (zero-initialise xs once) and the
 * method already looked up: m is its row in the method table (rbgw_rpc_call.mid), method its
 * wire name (written into the path; for RBGW_M_UNKNOWN the only name there is).
 */
int rbgw_xlate_rpc_to_http_with(struct rbgw_xlate_scratch *xs, const struct rbgw_http_target *t,
                                enum rbgw_method m, struct rbgw_str method,
                                const struct rbgw_json *params, struct rbgw_str raw,
                                struct rbgw_buf *out, char *err, size_t errlen) RBGW_MUSTCHECK;
void rbgw_xlate_scratch_free(struct rbgw_xlate_scratch *xs);

/** Append s percent-encoded as pdns does: every byte but A-Z a-z 0-9 as %xx, lowercase hex. */
void rbgw_xlate_urlencode(struct rbgw_buf *out, const char *s, size_t len);

#endif

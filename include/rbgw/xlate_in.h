/*
 * xlate_in.h: HTTP request from pdns -> JSON-RPC request text (REST ingress; pure: no I/O, no
 * globals, no logging).
 *
 * The reverse of xlate.h.  pdns's HTTP connector (REST, post, post_json) talks to rbgw's HTTP
 * listener; this module rebuilds, from one parsed request, the JSON-RPC call pdns would have
 * written on a JSON connector for the same call (docs/protocol.md §6), in json11 form with sorted
 * keys.  The mode is told apart per request:
 *
 *   post_json  POST whose path is exactly the prefix (or the prefix plus one '/'; "/" when the
 *              prefix is empty); the body is the request object and is passed through byte for
 *              byte, only trimmed of JSON whitespace.
 *   post       POST <prefix>/<method><suffix> whose form body has a `parameters` field; the
 *              field's JSON is the parameters object.
 *   REST       everything else: <prefix>/<method>{/<segment>}<suffix>[?query], decoded with the
 *              method table's REST column (method.h) and re-typed per §6.3.
 *
 * docs/rest-ingress.md has the full rules, the lossy cases and the unknown-method form.
 */
#ifndef RBGW_XLATE_IN_H
#define RBGW_XLATE_IN_H

#include "rbgw/buf.h"

struct rbgw_http_header {
    struct rbgw_str name;  /* as received; matched ASCII case-insensitively */
    struct rbgw_str value; /* as received; surrounding spaces and tabs are ignored */
};

/* One request as pdns sent it.  Every view points into the caller's read buffer. */
struct rbgw_http_in {
    struct rbgw_str verb;                   /* "GET", "POST", ... (case-sensitive) */
    struct rbgw_str target;                 /* request-target as sent: path[?query] */
    const struct rbgw_http_header *headers; /* borrowed; nheaders entries */
    size_t nheaders;                        /* number of headers */
    struct rbgw_str body;                   /* message body (de-chunked), may be empty */
};

/* The listener's view of pdns's connection string: url path and url-suffix. */
struct rbgw_http_in_conf {
    struct rbgw_str prefix; /* the path of pdns's url= ("/dns", or "" for http://host) */
    struct rbgw_str suffix; /* url-suffix= (e.g. ".php"), "" when none */
};

/**
 * Append the JSON-RPC request text for one HTTP request to out: one line, json11 form
 * ({"method": ..., "parameters": {...}} with sorted keys), no trailing newline.  In post_json
 * mode the (trimmed) body is appended unchanged.  Tree scratch goes to the arena, which the
 * caller frees.
 *
 * Returns 0, or a negative code with a one-line reason in err (out is then unchanged):
 *   RBGW_EPARSE  bytes that cannot be decoded: a bad percent escape, a body that is not JSON;
 *   RBGW_EPROTO  a well-formed request that is not a remote-backend call: wrong prefix, missing
 *                url-suffix, no method, wrong number of path segments for a known method, a
 *                value that cannot take its §6.3 type ("abc" as a domain id).
 * An unknown method is never an error: it is kept with its segments in "_segments".
 */
int rbgw_xlate_http_to_rpc(const struct rbgw_http_in_conf *conf, const struct rbgw_http_in *in,
                           struct rbgw_arena *a, struct rbgw_buf *out, char *err,
                           size_t errlen) RBGW_MUSTCHECK;

/**
 * rbgw_xlate_http_to_rpc with the JSON of a post or post_json body read within lim (json.h;
 * NULL: json11's rules only): a body past one of them is RBGW_ETOOBIG, with *over (if not
 * NULL) saying which, and its tree is never built beyond the limit.
 */
int rbgw_xlate_http_to_rpc_limited(const struct rbgw_http_in_conf *conf,
                                   const struct rbgw_http_in *in,
                                   const struct rbgw_json_limits *lim, struct rbgw_arena *a,
                                   struct rbgw_buf *out, enum rbgw_json_over *over, char *err,
                                   size_t errlen) RBGW_MUSTCHECK;

#endif

/*
 * connstr.h: pdns-style connection strings, parsed exactly as pdns parses them (docs/protocol.md
 * §2).
 *
 *   <type>:<options>      options split on ',', empty/space-only tokens dropped, each token split
 *                         at its first '=', a token without '=' gets "yes", nothing trimmed,
 *                         a repeated key keeps its last value.
 *
 * rbgw_connstr_get() and `initialize` see pdns's "last value wins"; the earlier values of a
 * repeated key are kept too, for the few rbgw options that may be given several times
 * (header= on an http upstream): rbgw_connstr_count() / rbgw_connstr_get_nth().
 *
 * rbgw also accepts "zmq" for "zeromq" (the old docs' spelling) and a bare type with no ':'
 * ("pipe") for listeners.  Options are kept sorted byte-wise by key, as pdns's std::map keeps
 * them, because that is the order in which `initialize` sends them.
 */
#ifndef RBGW_CONNSTR_H
#define RBGW_CONNSTR_H

#include <stdbool.h>

#include "rbgw/common.h"

enum rbgw_transport {
    RBGW_TRANSPORT_PIPE,
    RBGW_TRANSPORT_UNIX,
    RBGW_TRANSPORT_HTTP,
    RBGW_TRANSPORT_ZEROMQ,
    RBGW_TRANSPORT_NONE, /* rbgw_connstr_parse_named: the "type" is a name (pools, routes) */
};

struct rbgw_connstr_opt {
    char *key;    /* owned, NUL-terminated, exactly as written (not trimmed) */
    char *value;  /* owned, NUL-terminated; "yes" for a token without '='; the last occurrence */
    char **prev;  /* owned array of owned strings: earlier values of a repeated key, in order */
    size_t nprev; /* entries in prev */
};

struct rbgw_connstr {
    enum rbgw_transport transport; /* from the type */
    char *type;                    /* owned; the type as written ("zmq" stays "zmq") */
    struct rbgw_connstr_opt *opts; /* owned array, sorted byte-wise by key, keys unique */
    size_t nopts;                  /* entries in opts */
};

/** Canonical name of a transport: "pipe", "unix", "http", "zeromq". */
const char *rbgw_transport_name(enum rbgw_transport t);

/**
 * Parse s into *out.  On failure returns RBGW_ECONFIG with a reason in err (e.g. "unknown
 * connector type 'tcp' (expected pipe, unix, http or zeromq)") and *out is left empty.
 */
int rbgw_connstr_parse(const char *s, struct rbgw_connstr *out, char *err,
                       size_t errlen) RBGW_MUSTCHECK;
/**
 * The same syntax with any word before ':' ("main:upstreams=a+b" for pool=, "reads:pool=main"
 * for route=).  A known connector type still sets transport; any other word gives
 * RBGW_TRANSPORT_NONE.  type holds the word.
 */
int rbgw_connstr_parse_named(const char *s, struct rbgw_connstr *out, char *err,
                             size_t errlen) RBGW_MUSTCHECK;
void rbgw_connstr_free(struct rbgw_connstr *cs);
/** Deep copy of src into dst (which is overwritten, not freed). */
void rbgw_connstr_copy(struct rbgw_connstr *dst, const struct rbgw_connstr *src);

/** Value of key, or NULL when absent. */
const char *rbgw_connstr_get(const struct rbgw_connstr *cs, const char *key);

/** How many times key was given (0 when absent). */
size_t rbgw_connstr_count(const struct rbgw_connstr *cs, const char *key);
/** The i-th value of key in the order written (i < rbgw_connstr_count), else NULL. */
const char *rbgw_connstr_get_nth(const struct rbgw_connstr *cs, const char *key, size_t i);

/**
 * Options whose values are secrets (header=: an Authorization value): never echoed.  True if
 * key is one of them.
 */
bool rbgw_connstr_is_secret(const char *key);
/**
 * A copy of the connection string s with the value of every secret option masked, for logs and
 * --check-config: "header=Authorization: Bearer abc" -> "header=Authorization: ***" (the header
 * name stays; everything after its ':' is replaced), and a URL's userinfo too (a "user:pw@" in
 * front of url='s host becomes "***@").  Caller frees.
 */
char *rbgw_connstr_masked(const char *s);

/**
 * Integer option: absent -> *out = def and 0.  Present but not a whole decimal number within
 * [min, max] -> RBGW_ECONFIG with err like "timeout=abc is not a number" or
 * "timeout=0 not in 1..60000".
 */
int rbgw_connstr_get_int(const struct rbgw_connstr *cs, const char *key, long def, long min,
                         long max, long *out, char *err, size_t errlen) RBGW_MUSTCHECK;

/** Boolean as pdns reads post/post_json: true only for "yes", "true", "on", "1". */
bool rbgw_connstr_get_bool(const struct rbgw_connstr *cs, const char *key, bool def);

#endif

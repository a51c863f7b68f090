/*
 * url.h: the `url=` of an http upstream and the `address=` of an http listener.
 *
 * Accepts what pdns's HTTP connector accepts (docs/protocol.md), plus TLS:
 *   http[s]://[user:pass@]host[:port][/path][?query][#fragment]
 * The scheme is matched case-insensitively; the port defaults to 80 (443 for https); an IPv6
 * literal goes in brackets; user:pass@ is accepted and ignored (pdns sends no authentication;
 * use header= for credentials); ?query and #fragment are dropped, as pdns drops them from the
 * request line.  https:// means TLS toward the responder (pdns itself would talk plain HTTP to
 * port 443): the upstream verifies the responder's certificate (upstream/xprt_tls.c).
 */
#ifndef RBGW_URL_H
#define RBGW_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rbgw/common.h"

struct rbgw_url {
    char *host;     /* owned; without brackets ("::1", "127.0.0.1", "dns.example") */
    uint16_t port;  /* 1..65535; 80 when the URL names none */
    char *path;     /* owned; the path without ?query/#fragment, "" when absent */
    char *hostport; /* owned; "host:port" or "[v6]:port", for logs */
    bool tls;       /* https:// */
};

/**
 * Parse an http:// or https:// URL into *out.  Returns 0, or RBGW_ECONFIG with a reason in err
 * (e.g. "unsupported URL scheme 'ftp' (expected http:// or https://)") and *out zeroed.
 */
int rbgw_url_parse(const char *s, struct rbgw_url *out, char *err, size_t errlen) RBGW_MUSTCHECK;

/**
 * Parse a listen address "host:port" or "[v6]:port" (port required, host non-empty) into
 * *out; path is set to "".  Returns 0 or RBGW_ECONFIG with a reason in err.
 */
int rbgw_hostport_parse(const char *s, struct rbgw_url *out, char *err,
                        size_t errlen) RBGW_MUSTCHECK;

/** Free the strings of *u and zero it; safe on a zeroed struct. */
void rbgw_url_free(struct rbgw_url *u);

#endif

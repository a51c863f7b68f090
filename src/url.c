/*
 * url.c: http:// and https:// URLs (upstream url=) and host:port pairs (listener address=).
 *
 * A hand-written splitter rather than a general URI library: rbgw needs exactly the pieces
 * pdns's yahttp uses (host for connecting and the Host header, port, path for the request
 * line) plus whether the scheme asks for TLS.  Splitting order follows RFC 3986: the
 * authority ends at the first '/', '?' or '#'; userinfo is everything before the authority's
 * last '@'; a host that starts with '[' is an IPv6 literal, checked with inet_pton.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rbgw/url.h"

void
rbgw_url_free(struct rbgw_url *u)
{
    if (u == NULL) {
        return;
    }
    free(u->host);
    free(u->path);
    free(u->hostport);
    memset(u, 0, sizeof(*u));
}

static int
parse_port(const char *p, size_t n, uint16_t *port, char *err, size_t errlen)
{
    if (n == 0) {
        snprintf(err, errlen, "empty port after ':'");
        return RBGW_ECONFIG;
    }
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            snprintf(err, errlen, "bad port '%.*s' (expected a number 1..65535)", (int)n, p);
            return RBGW_ECONFIG;
        }
        v = v * 10 + (unsigned long)(p[i] - '0');
        if (v > 65535) {
            break;
        }
    }
    if (v < 1 || v > 65535) {
        snprintf(err, errlen, "port %.*s not in 1..65535", (int)n, p);
        return RBGW_ECONFIG;
    }
    *port = (uint16_t)v;
    return 0;
}

/*
 * "host", "host:port", "[v6]" or "[v6]:port" (n bytes at p) into out->host/port/hostport.
 * need_port: a listen address has no default port.
 */
static int
parse_hostport(const char *p, size_t n, bool need_port, uint16_t defport, struct rbgw_url *out,
               char *err, size_t errlen)
{
    const char *host, *rest;
    size_t hlen;
    bool v6 = false;

    if (n > 0 && p[0] == '[') {
        const char *close = memchr(p, ']', n);
        if (close == NULL) {
            snprintf(err, errlen, "missing ']' after IPv6 address");
            return RBGW_ECONFIG;
        }
        host = p + 1;
        hlen = (size_t)(close - host);
        rest = close + 1;
        char buf[INET6_ADDRSTRLEN + 1];
        struct in6_addr a6;
        if (hlen == 0 || hlen >= sizeof(buf)) {
            snprintf(err, errlen, "bad IPv6 address '[%.*s]'", (int)hlen, host);
            return RBGW_ECONFIG;
        }
        memcpy(buf, host, hlen);
        buf[hlen] = '\0';
        if (inet_pton(AF_INET6, buf, &a6) != 1) {
            snprintf(err, errlen, "bad IPv6 address '[%s]'", buf);
            return RBGW_ECONFIG;
        }
        v6 = true;
    } else {
        const char *colon = memchr(p, ':', n);
        host = p;
        hlen = colon ? (size_t)(colon - p) : n;
        rest = p + hlen;
        if (colon != NULL && memchr(colon + 1, ':', n - hlen - 1) != NULL) {
            snprintf(err, errlen, "IPv6 address '%.*s' must be written in brackets, e.g. [::1]",
                     (int)n, p);
            return RBGW_ECONFIG;
        }
        if (hlen == 0) {
            snprintf(err, errlen, "empty host");
            return RBGW_ECONFIG;
        }
        for (size_t i = 0; i < hlen; i++) {
            unsigned char c = (unsigned char)host[i];
            if (!isalnum(c) && c != '-' && c != '.' && c != '_') {
                snprintf(err, errlen, "bad character '%c' in host '%.*s'", isprint(c) ? c : '?',
                         (int)hlen, host);
                return RBGW_ECONFIG;
            }
        }
    }

    size_t rlen = n - (size_t)(rest - p);
    uint16_t port = defport;
    if (rlen > 0) {
        if (rest[0] != ':') {
            snprintf(err, errlen, "unexpected '%.*s' after host", (int)rlen, rest);
            return RBGW_ECONFIG;
        }
        if (parse_port(rest + 1, rlen - 1, &port, err, errlen) != 0) {
            return RBGW_ECONFIG;
        }
    } else if (need_port) {
        snprintf(err, errlen, "missing port (expected host:port, e.g. 127.0.0.1:8080)");
        return RBGW_ECONFIG;
    }

    out->host = rbgw_xstrndup(host, hlen);
    out->port = port;
    size_t cap = hlen + 16;
    out->hostport = rbgw_xmalloc(cap);
    snprintf(out->hostport, cap, v6 ? "[%s]:%u" : "%s:%u", out->host, (unsigned)port);
    return 0;
}

int
rbgw_url_parse(const char *s, struct rbgw_url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (s == NULL || *s == '\0') {
        snprintf(err, errlen, "empty URL (expected http[s]://host[:port][/path])");
        return RBGW_ECONFIG;
    }
    const char *sep = strstr(s, "://");
    if (sep == NULL) {
        snprintf(err, errlen, "'%s' is not a URL (expected http[s]://host[:port][/path])", s);
        return RBGW_ECONFIG;
    }
    size_t slen = (size_t)(sep - s);
    bool tls = slen == 5 && strncasecmp(s, "https", 5) == 0;
    if (!tls && (slen != 4 || strncasecmp(s, "http", 4) != 0)) {
        snprintf(err, errlen, "unsupported URL scheme '%.*s' (expected http:// or https://)",
                 (int)(slen > 32 ? 32 : slen), s);
        return RBGW_ECONFIG;
    }

    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *tail = auth + alen;

    /* userinfo: accepted and ignored, as pdns does; the last '@' ends it */
    for (size_t i = alen; i > 0; i--) {
        if (auth[i - 1] == '@') {
            alen -= i;
            auth += i;
            break;
        }
    }
    if (alen == 0) {
        snprintf(err, errlen, "empty host in URL '%s'", s);
        return RBGW_ECONFIG;
    }
    if (parse_hostport(auth, alen, false, tls ? 443 : 80, out, err, errlen) != 0) {
        rbgw_url_free(out);
        return RBGW_ECONFIG;
    }
    out->tls = tls;
    size_t plen = *tail == '/' ? strcspn(tail, "?#") : 0;
    out->path = rbgw_xstrndup(tail, plen);
    return 0;
}

int
rbgw_hostport_parse(const char *s, struct rbgw_url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (s == NULL || *s == '\0') {
        snprintf(err, errlen, "empty address (expected host:port, e.g. 127.0.0.1:8080)");
        return RBGW_ECONFIG;
    }
    if (parse_hostport(s, strlen(s), true, 0, out, err, errlen) != 0) {
        rbgw_url_free(out);
        return RBGW_ECONFIG;
    }
    out->path = rbgw_xstrdup("");
    return 0;
}

/*
 * test_url.c: http:// URL and host:port parsing, table-driven.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "rbgw/url.h"

struct url_row {
    const char *in;
    const char *host; /* NULL: expect an error */
    unsigned port;
    const char *path;
    const char *hostport;
    const char *err; /* exact error text when host == NULL */
};

static const struct url_row url_rows[] = {
    {"http://127.0.0.1:8080/dns", "127.0.0.1", 8080, "/dns", "127.0.0.1:8080", NULL},
    {"http://example.com", "example.com", 80, "", "example.com:80", NULL},
    {"http://example.com/", "example.com", 80, "/", "example.com:80", NULL},
    {"http://a.b-c_d.example:1/x/y/z", "a.b-c_d.example", 1, "/x/y/z", "a.b-c_d.example:1", NULL},
    {"HTTP://Example.COM:81/a/b?x=1#f", "Example.COM", 81, "/a/b", "Example.COM:81", NULL},
    {"http://h/dns?x=1", "h", 80, "/dns", "h:80", NULL},
    {"http://h?x=1", "h", 80, "", "h:80", NULL},
    {"http://h#frag", "h", 80, "", "h:80", NULL},
    {"http://h/a#f?g", "h", 80, "/a", "h:80", NULL},
    {"http://h//dns/", "h", 80, "//dns/", "h:80", NULL},
    {"http://h:65535", "h", 65535, "", "h:65535", NULL},
    {"http://[::1]:8080/dns", "::1", 8080, "/dns", "[::1]:8080", NULL},
    {"http://[2001:db8::1]/x", "2001:db8::1", 80, "/x", "[2001:db8::1]:80", NULL},
    {"http://[::ffff:127.0.0.1]:9", "::ffff:127.0.0.1", 9, "", "[::ffff:127.0.0.1]:9", NULL},
    {"http://user:pass@h:9/p", "h", 9, "/p", "h:9", NULL},
    {"http://user@h/p", "h", 80, "/p", "h:80", NULL},
    {"http://u@x@h/p", "h", 80, "/p", "h:80", NULL},
    {"http://u:p@[::1]:81/", "::1", 81, "/", "[::1]:81", NULL},

    {"https://h/dns", NULL, 0, NULL, NULL,
     "https is not supported (rbgw, like pdns, speaks no TLS); use http://"},
    {"HTTPS://h/dns", NULL, 0, NULL, NULL,
     "https is not supported (rbgw, like pdns, speaks no TLS); use http://"},
    {"ftp://h/", NULL, 0, NULL, NULL, "unsupported URL scheme 'ftp' (expected http://)"},
    {"://h/", NULL, 0, NULL, NULL, "unsupported URL scheme '' (expected http://)"},
    {"127.0.0.1:8080/dns", NULL, 0, NULL, NULL,
     "'127.0.0.1:8080/dns' is not a URL (expected http://host[:port][/path])"},
    {"", NULL, 0, NULL, NULL, "empty URL (expected http://host[:port][/path])"},
    {"http://", NULL, 0, NULL, NULL, "empty host in URL 'http://'"},
    {"http:///dns", NULL, 0, NULL, NULL, "empty host in URL 'http:///dns'"},
    {"http://user@/dns", NULL, 0, NULL, NULL, "empty host in URL 'http://user@/dns'"},
    {"http://:8080/", NULL, 0, NULL, NULL, "empty host"},
    {"http://h:", NULL, 0, NULL, NULL, "empty port after ':'"},
    {"http://h:/dns", NULL, 0, NULL, NULL, "empty port after ':'"},
    {"http://h:0", NULL, 0, NULL, NULL, "port 0 not in 1..65535"},
    {"http://h:65536", NULL, 0, NULL, NULL, "port 65536 not in 1..65535"},
    {"http://h:99999999999999999999", NULL, 0, NULL, NULL,
     "port 99999999999999999999 not in 1..65535"},
    {"http://h:8x/", NULL, 0, NULL, NULL, "bad port '8x' (expected a number 1..65535)"},
    {"http://h:-1/", NULL, 0, NULL, NULL, "bad port '-1' (expected a number 1..65535)"},
    {"http://[::1/", NULL, 0, NULL, NULL, "missing ']' after IPv6 address"},
    {"http://[]/", NULL, 0, NULL, NULL, "bad IPv6 address '[]'"},
    {"http://[zz::1]/", NULL, 0, NULL, NULL, "bad IPv6 address '[zz::1]'"},
    {"http://[::1]x/", NULL, 0, NULL, NULL, "unexpected 'x' after host"},
    {"http://::1/", NULL, 0, NULL, NULL,
     "IPv6 address '::1' must be written in brackets, e.g. [::1]"},
    {"http://a b/", NULL, 0, NULL, NULL, "bad character ' ' in host 'a b'"},
};

Test(url, parse_table)
{
    for (size_t i = 0; i < sizeof(url_rows) / sizeof(url_rows[0]); i++) {
        const struct url_row *r = &url_rows[i];
        struct rbgw_url u;
        char err[256] = "";
        int rc = rbgw_url_parse(r->in, &u, err, sizeof(err));
        if (r->host != NULL) {
            cr_expect_eq(rc, 0, "row %zu '%s': want success, got error: %s", i, r->in, err);
            if (rc != 0) {
                continue;
            }
            cr_expect_str_eq(u.host, r->host, "row %zu '%s': host", i, r->in);
            cr_expect_eq(u.port, r->port, "row %zu '%s': port %u, want %u", i, r->in, u.port,
                         r->port);
            cr_expect_str_eq(u.path, r->path, "row %zu '%s': path", i, r->in);
            cr_expect_str_eq(u.hostport, r->hostport, "row %zu '%s': hostport", i, r->in);
        } else {
            cr_expect_eq(rc, RBGW_ECONFIG, "row %zu '%s': want an error", i, r->in);
            cr_expect_str_eq(err, r->err, "row %zu '%s': error text", i, r->in);
            cr_expect_null(u.host, "row %zu: zeroed on error", i);
            cr_expect_null(u.path, "row %zu: zeroed on error", i);
            cr_expect_null(u.hostport, "row %zu: zeroed on error", i);
        }
        rbgw_url_free(&u);
    }
}

static const struct url_row hostport_rows[] = {
    {"127.0.0.1:8053", "127.0.0.1", 8053, "", "127.0.0.1:8053", NULL},
    {"localhost:1", "localhost", 1, "", "localhost:1", NULL},
    {"[::1]:53", "::1", 53, "", "[::1]:53", NULL},
    {"0.0.0.0:65535", "0.0.0.0", 65535, "", "0.0.0.0:65535", NULL},

    {"localhost", NULL, 0, NULL, NULL, "missing port (expected host:port, e.g. 127.0.0.1:8080)"},
    {"[::1]", NULL, 0, NULL, NULL, "missing port (expected host:port, e.g. 127.0.0.1:8080)"},
    {":53", NULL, 0, NULL, NULL, "empty host"},
    {"", NULL, 0, NULL, NULL, "empty address (expected host:port, e.g. 127.0.0.1:8080)"},
    {"h:0", NULL, 0, NULL, NULL, "port 0 not in 1..65535"},
    {"h:http", NULL, 0, NULL, NULL, "bad port 'http' (expected a number 1..65535)"},
    {"::1:53", NULL, 0, NULL, NULL,
     "IPv6 address '::1:53' must be written in brackets, e.g. [::1]"},
    {"h:53/x", NULL, 0, NULL, NULL, "bad port '53/x' (expected a number 1..65535)"},
};

Test(url, hostport_table)
{
    for (size_t i = 0; i < sizeof(hostport_rows) / sizeof(hostport_rows[0]); i++) {
        const struct url_row *r = &hostport_rows[i];
        struct rbgw_url u;
        char err[256] = "";
        int rc = rbgw_hostport_parse(r->in, &u, err, sizeof(err));
        if (r->host != NULL) {
            cr_expect_eq(rc, 0, "row %zu '%s': want success, got error: %s", i, r->in, err);
            if (rc != 0) {
                continue;
            }
            cr_expect_str_eq(u.host, r->host, "row %zu '%s': host", i, r->in);
            cr_expect_eq(u.port, r->port, "row %zu '%s': port", i, r->in);
            cr_expect_str_eq(u.path, r->path, "row %zu '%s': path", i, r->in);
            cr_expect_str_eq(u.hostport, r->hostport, "row %zu '%s': hostport", i, r->in);
        } else {
            cr_expect_eq(rc, RBGW_ECONFIG, "row %zu '%s': want an error", i, r->in);
            cr_expect_str_eq(err, r->err, "row %zu '%s': error text", i, r->in);
            cr_expect_null(u.host, "row %zu: zeroed on error", i);
        }
        rbgw_url_free(&u);
    }
}

Test(url, free_is_idempotent)
{
    struct rbgw_url u;
    char err[128];
    cr_assert_eq(rbgw_url_parse("http://h:1/p", &u, err, sizeof(err)), 0);
    rbgw_url_free(&u);
    cr_expect_null(u.host);
    cr_expect_null(u.path);
    cr_expect_null(u.hostport);
    cr_expect_eq(u.port, 0);
    rbgw_url_free(&u);
    rbgw_url_free(NULL);
}

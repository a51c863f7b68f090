/*
 * test_url.c: http:// and https:// URL and host:port parsing, table-driven.
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
    bool tls;        /* https:// */
};

static const struct url_row url_rows[] = {
    {"http://127.0.0.1:8080/dns", "127.0.0.1", 8080, "/dns", "127.0.0.1:8080", NULL, false},
    {"http://example.com", "example.com", 80, "", "example.com:80", NULL, false},
    {"http://example.com/", "example.com", 80, "/", "example.com:80", NULL, false},
    {"http://a.b-c_d.example:1/x/y/z", "a.b-c_d.example", 1, "/x/y/z", "a.b-c_d.example:1", NULL,
     false},
    {"HTTP://Example.COM:81/a/b?x=1#f", "Example.COM", 81, "/a/b", "Example.COM:81", NULL, false},
    {"http://h/dns?x=1", "h", 80, "/dns", "h:80", NULL, false},
    {"http://h?x=1", "h", 80, "", "h:80", NULL, false},
    {"http://h#frag", "h", 80, "", "h:80", NULL, false},
    {"http://h/a#f?g", "h", 80, "/a", "h:80", NULL, false},
    {"http://h//dns/", "h", 80, "//dns/", "h:80", NULL, false},
    {"http://h:65535", "h", 65535, "", "h:65535", NULL, false},
    {"http://[::1]:8080/dns", "::1", 8080, "/dns", "[::1]:8080", NULL, false},
    {"http://[2001:db8::1]/x", "2001:db8::1", 80, "/x", "[2001:db8::1]:80", NULL, false},
    {"http://[::ffff:127.0.0.1]:9", "::ffff:127.0.0.1", 9, "", "[::ffff:127.0.0.1]:9", NULL, false},
    {"http://user:pass@h:9/p", "h", 9, "/p", "h:9", NULL, false},
    {"http://user@h/p", "h", 80, "/p", "h:80", NULL, false},
    {"http://u@x@h/p", "h", 80, "/p", "h:80", NULL, false},
    {"http://u:p@[::1]:81/", "::1", 81, "/", "[::1]:81", NULL, false},

    /* https: TLS, port 443 unless given */
    {"https://h/dns", "h", 443, "/dns", "h:443", NULL, true},
    {"HTTPS://h:8443", "h", 8443, "", "h:8443", NULL, true},
    {"https://[::1]/x", "::1", 443, "/x", "[::1]:443", NULL, true},
    {"httpss://h/", NULL, 0, NULL, NULL,
     "unsupported URL scheme 'httpss' (expected http:// or https://)", false},
    {"ftp://h/", NULL, 0, NULL, NULL, "unsupported URL scheme 'ftp' (expected http:// or https://)",
     false},
    {"://h/", NULL, 0, NULL, NULL, "unsupported URL scheme '' (expected http:// or https://)",
     false},
    {"127.0.0.1:8080/dns", NULL, 0, NULL, NULL,
     "'127.0.0.1:8080/dns' is not a URL (expected http[s]://host[:port][/path])", false},
    {"", NULL, 0, NULL, NULL, "empty URL (expected http[s]://host[:port][/path])", false},
    {"http://", NULL, 0, NULL, NULL, "empty host in URL 'http://'", false},
    {"http:///dns", NULL, 0, NULL, NULL, "empty host in URL 'http:///dns'", false},
    {"http://user@/dns", NULL, 0, NULL, NULL, "empty host in URL 'http://user@/dns'", false},
    {"http://:8080/", NULL, 0, NULL, NULL, "empty host", false},
    {"http://h:", NULL, 0, NULL, NULL, "empty port after ':'", false},
    {"http://h:/dns", NULL, 0, NULL, NULL, "empty port after ':'", false},
    {"http://h:0", NULL, 0, NULL, NULL, "port 0 not in 1..65535", false},
    {"http://h:65536", NULL, 0, NULL, NULL, "port 65536 not in 1..65535", false},
    {"http://h:99999999999999999999", NULL, 0, NULL, NULL,
     "port 99999999999999999999 not in 1..65535", false},
    {"http://h:8x/", NULL, 0, NULL, NULL, "bad port '8x' (expected a number 1..65535)", false},
    {"http://h:-1/", NULL, 0, NULL, NULL, "bad port '-1' (expected a number 1..65535)", false},
    {"http://[::1/", NULL, 0, NULL, NULL, "missing ']' after IPv6 address", false},
    {"http://[]/", NULL, 0, NULL, NULL, "bad IPv6 address '[]'", false},
    {"http://[zz::1]/", NULL, 0, NULL, NULL, "bad IPv6 address '[zz::1]'", false},
    {"http://[::1]x/", NULL, 0, NULL, NULL, "unexpected 'x' after host", false},
    {"http://::1/", NULL, 0, NULL, NULL,
     "IPv6 address '::1' must be written in brackets, e.g. [::1]", false},
    {"http://a b/", NULL, 0, NULL, NULL, "bad character ' ' in host 'a b'", false},
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
            cr_expect_eq(u.tls, r->tls, "row %zu '%s': tls", i, r->in);
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
    {"127.0.0.1:8053", "127.0.0.1", 8053, "", "127.0.0.1:8053", NULL, false},
    {"localhost:1", "localhost", 1, "", "localhost:1", NULL, false},
    {"[::1]:53", "::1", 53, "", "[::1]:53", NULL, false},
    {"0.0.0.0:65535", "0.0.0.0", 65535, "", "0.0.0.0:65535", NULL, false},

    {"localhost", NULL, 0, NULL, NULL, "missing port (expected host:port, e.g. 127.0.0.1:8080)",
     false},
    {"[::1]", NULL, 0, NULL, NULL, "missing port (expected host:port, e.g. 127.0.0.1:8080)", false},
    {":53", NULL, 0, NULL, NULL, "empty host", false},
    {"", NULL, 0, NULL, NULL, "empty address (expected host:port, e.g. 127.0.0.1:8080)", false},
    {"h:0", NULL, 0, NULL, NULL, "port 0 not in 1..65535", false},
    {"h:http", NULL, 0, NULL, NULL, "bad port 'http' (expected a number 1..65535)", false},
    {"::1:53", NULL, 0, NULL, NULL, "IPv6 address '::1:53' must be written in brackets, e.g. [::1]",
     false},
    {"h:53/x", NULL, 0, NULL, NULL, "bad port '53/x' (expected a number 1..65535)", false},
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

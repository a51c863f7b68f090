/*
 * test_httphdr.c: an http upstream's own headers (src/httphdr.c), table-driven.
 *
 * Each parse row is one "NAME: VALUE" and either the name and value it yields or the exact
 * error text.  The build tests check the rendered block byte for byte, the order (header=
 * first, as written, then each file), the file format (comments, blank lines, CRLF), and that
 * no error text quotes a value.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rbgw/connstr.h"
#include "rbgw/httphdr.h"

#define SECRET "hunter2-secret"

struct parse_row {
    const char *in;    /* the header as written */
    size_t len;        /* 0: strlen(in) (for rows holding a NUL) */
    const char *name;  /* expected name, or NULL for an error */
    const char *value; /* expected value */
    const char *err;   /* exact error text */
};

static const struct parse_row parse_rows[] = {
    {"Authorization: Bearer abc", 0, "Authorization", "Bearer abc", NULL},
    {"X-A:b", 0, "X-A", "b", NULL},
    {"X-A: \t spaced out \t ", 0, "X-A", "spaced out", NULL},
    {"X-A:", 0, "X-A", "", NULL},
    {"X-A: a:b:c, d", 0, "X-A", "a:b:c, d", NULL},
    {"X-A: tab\tinside", 0, "X-A", "tab\tinside", NULL},
    {"X-A: caf\xc3\xa9 \xff", 0, "X-A", "caf\xc3\xa9 \xff", NULL},
    {"!#$%&'*+-.^_`|~09az: v", 0, "!#$%&'*+-.^_`|~09az", "v", NULL},
    {"X-Remote: v", 0, "X-Remote", "v", NULL},

    {"no colon", 0, NULL, NULL, "expected NAME: VALUE (no ':' found)"},
    {": v", 0, NULL, NULL, "empty header name before ':'"},
    {"X A: v", 0, NULL, NULL,
     "header name 'X A' holds byte 0x20 (a name is letters, digits and !#$%&'*+-.^_`|~ only)"},
    {"X-A : v", 0, NULL, NULL,
     "header name 'X-A ' holds byte 0x20 (a name is letters, digits and !#$%&'*+-.^_`|~ only)"},
    {"X(A): v", 0, NULL, NULL,
     "header name 'X(A)' holds byte 0x28 (a name is letters, digits and !#$%&'*+-.^_`|~ only)"},
    {"X\xc3\xa9: v", 0, NULL, NULL,
     "header name 'X\xc3\xa9' holds byte 0xc3 (a name is letters, digits and !#$%&'*+-.^_`|~ "
     "only)"},
    {"X-A: " SECRET "\r\nHost: evil", 0, NULL, NULL,
     "header X-A: the value holds CR or LF, which would split the request's header block"},
    {"X-A: " SECRET "\nX: y", 0, NULL, NULL,
     "header X-A: the value holds CR or LF, which would split the request's header block"},
    {"X-A: " SECRET "\r", 0, NULL, NULL,
     "header X-A: the value holds CR or LF, which would split the request's header block"},
    {"X-A: a\0b", 8, NULL, NULL, "header X-A: the value holds the control byte 0x00"},
    {"X-A: a\x7f", 0, NULL, NULL, "header X-A: the value holds the control byte 0x7f"},
    {"X-A: a\x1b[0m", 0, NULL, NULL, "header X-A: the value holds the control byte 0x1b"},
    {"Host: evil.example", 0, NULL, NULL,
     "header Host cannot be set: rbgw writes it itself or it changes how the request is "
     "framed"},
    {"content-LENGTH: 0", 0, NULL, NULL,
     "header content-LENGTH cannot be set: rbgw writes it itself or it changes how the request "
     "is framed"},
    {"Transfer-Encoding: chunked", 0, NULL, NULL,
     "header Transfer-Encoding cannot be set: rbgw writes it itself or it changes how the "
     "request is framed"},
    {"Connection: close", 0, NULL, NULL,
     "header Connection cannot be set: rbgw writes it itself or it changes how the request is "
     "framed"},
    {"Keep-Alive: 5", 0, NULL, NULL,
     "header Keep-Alive cannot be set: rbgw writes it itself or it changes how the request is "
     "framed"},
    {"TE: trailers", 0, NULL, NULL,
     "header TE cannot be set: rbgw writes it itself or it changes how the request is framed"},
    {"Upgrade: h2c", 0, NULL, NULL,
     "header Upgrade cannot be set: rbgw writes it itself or it changes how the request is "
     "framed"},
    {"Expect: 100-continue", 0, NULL, NULL,
     "header Expect cannot be set: rbgw writes it itself or it changes how the request is "
     "framed"},
    {"Content-Type: text/plain", 0, NULL, NULL,
     "header Content-Type cannot be set: rbgw writes it itself or it changes how the request is "
     "framed"},
    {"user-agent: me", 0, NULL, NULL,
     "header user-agent cannot be set: rbgw writes it itself or it changes how the request is "
     "framed"},
    {"Accept: */*", 0, NULL, NULL,
     "header Accept cannot be set: rbgw writes it itself or it changes how the request is "
     "framed"},
    {"X-RemoteBackend-Zone-Id: 7", 0, NULL, NULL,
     "header X-RemoteBackend-Zone-Id cannot be set: X-RemoteBackend-* headers carry the call's "
     "parameters"},
    {"x-remotebackend-: 7", 0, NULL, NULL,
     "header x-remotebackend- cannot be set: X-RemoteBackend-* headers carry the call's "
     "parameters"},
};

Test(httphdr, parse_table)
{
    for (size_t i = 0; i < sizeof(parse_rows) / sizeof(parse_rows[0]); i++) {
        const struct parse_row *r = &parse_rows[i];
        size_t len = r->len ? r->len : strlen(r->in);
        struct rbgw_str name = RBGW_STR_NULL, value = RBGW_STR_NULL;
        char err[256] = "";
        int rc = rbgw_httphdr_parse(r->in, len, &name, &value, err, sizeof(err));
        if (r->name != NULL) {
            cr_expect_eq(rc, 0, "row %zu: %s", i, err);
            cr_expect(rbgw_str_eq_cstr(name, r->name), "row %zu: name <%.*s>", i, (int)name.len,
                      name.p);
            cr_expect(rbgw_str_eq_cstr(value, r->value), "row %zu: value <%.*s>", i, (int)value.len,
                      value.p);
        } else {
            cr_expect_eq(rc, RBGW_ECONFIG, "row %zu: want an error", i);
            cr_expect_str_eq(err, r->err, "row %zu", i);
            cr_expect(strstr(err, SECRET) == NULL, "row %zu: the value is quoted", i);
        }
    }
}

static char *
write_tmp(const char *content, size_t len)
{
    char *path = strdup("/tmp/rbgw-httphdr-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, content, len), (ssize_t)len);
    close(fd);
    return path;
}

/* Build from a connection string; returns rc, *out the block (or the error text). */
static int
build(const char *connstr, char *out, size_t outlen)
{
    struct rbgw_connstr cs;
    char err[512] = "";
    cr_assert_eq(rbgw_connstr_parse(connstr, &cs, err, sizeof(err)), 0, "%s", err);
    struct rbgw_buf b = RBGW_BUF_INIT;
    rbgw_buf_append_cstr(&b, "kept|");
    int rc = rbgw_httphdr_build(&cs, &b, err, sizeof(err));
    snprintf(out, outlen, "%s", rc == 0 ? b.data : err);
    if (rc != 0) {
        cr_expect_str_eq(b.data, "kept|", "out changed on error");
    }
    rbgw_buf_free(&b);
    rbgw_connstr_free(&cs);
    return rc;
}

Test(httphdr, build_renders_in_order)
{
    char *f1 = write_tmp("# credentials\r\n"
                         "Authorization: Bearer " SECRET "\r\n"
                         "\n"
                         "   # indented comment\n"
                         "X-List: a, b, c\n"
                         "X-Last:no-newline",
                         strlen("# credentials\r\n"
                                "Authorization: Bearer " SECRET "\r\n"
                                "\n"
                                "   # indented comment\n"
                                "X-List: a, b, c\n"
                                "X-Last:no-newline"));
    char *f2 = write_tmp("X-Second-File: 2\n", 17);
    char connstr[512], out[1024];
    snprintf(connstr, sizeof(connstr),
             "http:url=u,header-file=%s,header=X-One: 1,header-file=%s,header=X-Two:  2  ", f1, f2);
    cr_assert_eq(build(connstr, out, sizeof(out)), 0, "%s", out);
    cr_expect_str_eq(out, "kept|X-One: 1\r\nX-Two: 2\r\nAuthorization: Bearer " SECRET "\r\n"
                          "X-List: a, b, c\r\nX-Last: no-newline\r\nX-Second-File: 2\r\n");
    cr_assert_eq(build("http:url=u", out, sizeof(out)), 0);
    cr_expect_str_eq(out, "kept|", "no options, no headers");
    unlink(f1);
    unlink(f2);
    free(f1);
    free(f2);
}

Test(httphdr, build_errors_name_the_source_not_the_value)
{
    char *f = write_tmp("X-Ok: 1\n\nHost: " SECRET "\n", strlen("X-Ok: 1\n\nHost: " SECRET "\n"));
    char *dup = write_tmp("x-one: " SECRET "\n", strlen("x-one: " SECRET "\n"));
    char *nul = write_tmp("X-A: a\0" SECRET "\n", 7 + strlen(SECRET) + 1);
    char connstr[512], out[1024], want[1024];

    snprintf(connstr, sizeof(connstr), "http:header-file=%s", f);
    cr_assert_eq(build(connstr, out, sizeof(out)), RBGW_ECONFIG);
    snprintf(want, sizeof(want),
             "header-file=%s: line 3: header Host cannot be set: rbgw writes it itself or it "
             "changes how the request is framed",
             f);
    cr_expect_str_eq(out, want);

    snprintf(connstr, sizeof(connstr), "http:header=X-One: 1,header-file=%s", dup);
    cr_assert_eq(build(connstr, out, sizeof(out)), RBGW_ECONFIG);
    snprintf(want, sizeof(want), "header-file=%s: line 1: header x-one is given twice", dup);
    cr_expect_str_eq(out, want);

    snprintf(connstr, sizeof(connstr), "http:header-file=%s", nul);
    cr_assert_eq(build(connstr, out, sizeof(out)), RBGW_ECONFIG);
    snprintf(want, sizeof(want),
             "header-file=%s: line 1: header X-A: the value holds the control byte 0x00", nul);
    cr_expect_str_eq(out, want);

    cr_assert_eq(build("http:header=X-A: 1,header=x-A: " SECRET, out, sizeof(out)), RBGW_ECONFIG);
    cr_expect_str_eq(out, "header x-A is given twice");

    cr_assert_eq(build("http:header-file=/nonexistent/rbgw", out, sizeof(out)), RBGW_ECONFIG);
    cr_expect_str_eq(out, "header-file=/nonexistent/rbgw: cannot open: No such file or directory");

    unlink(f);
    unlink(dup);
    unlink(nul);
    free(f);
    free(dup);
    free(nul);
}

Test(httphdr, build_limits)
{
    /* A file over the size limit is refused before it is parsed. */
    size_t big = RBGW_HTTPHDR_MAX_FILE + 1;
    char *content = malloc(big);
    memset(content, '#', big);
    char *f = write_tmp(content, big);
    free(content);
    char connstr[512], out[1024], want[1024];
    snprintf(connstr, sizeof(connstr), "http:header-file=%s", f);
    cr_assert_eq(build(connstr, out, sizeof(out)), RBGW_ECONFIG);
    snprintf(want, sizeof(want), "header-file=%s: larger than %d bytes", f, RBGW_HTTPHDR_MAX_FILE);
    cr_expect_str_eq(out, want);
    unlink(f);
    free(f);

    /* At most RBGW_HTTPHDR_MAX headers. */
    char lines[8192] = "";
    for (int i = 0; i <= RBGW_HTTPHDR_MAX; i++) {
        char l[32];
        snprintf(l, sizeof(l), "X-%d: v\n", i);
        strcat(lines, l);
    }
    f = write_tmp(lines, strlen(lines));
    snprintf(connstr, sizeof(connstr), "http:header-file=%s", f);
    cr_assert_eq(build(connstr, out, sizeof(out)), RBGW_ECONFIG);
    snprintf(want, sizeof(want), "header-file=%s: line %d: more than %d headers", f,
             RBGW_HTTPHDR_MAX + 1, RBGW_HTTPHDR_MAX);
    cr_expect_str_eq(out, want);
    unlink(f);
    free(f);
}

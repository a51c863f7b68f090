/*
 * test_dname.c: DNS names in text form (dname.h): validity, equality, names under zones and
 * the consistent-hashing hash, table-driven.
 *
 * Every spelling of one name (case, trailing dot, \DDD and \X escapes) must compare and hash
 * alike, and label boundaries must hold ("badexample.com." is not under "example.com.").
 * The canonical form (the read cache's) must agree with rbgw_name_eq and rbgw_name_under on
 * every row of their tables.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rbgw/dname.h"

struct under_row {
    const char *name;
    const char *zone;
    bool want;
};

static const struct under_row under_rows[] = {
    {"www.Example.COM.", "example.com", true},
    {"www.example.com", "example.com.", true},
    {"example.com", "example.com.", true},
    {"EXAMPLE.com.", "example.COM", true},
    {"a.b.c.example.com.", "example.com.", true},
    {"badexample.com.", "example.com.", false},
    {"xexample.com", "example.com", false},
    {"example.com.", "www.example.com.", false},
    {"com.", "example.com.", false},
    {"example.org.", "example.com.", false},
    /* the root contains everything, including the root and the empty name */
    {"www.example.com.", ".", true},
    {"www.example.com.", "", true},
    {".", ".", true},
    {"", ".", true},
    {".", "com.", false},
    {"", "example.com.", false},
    /* \. is part of a label, not a separator */
    {"a\\.b.example.com.", "example.com.", true},
    {"a\\.b.example.com.", "b.example.com.", false},
    {"a.b\\.example.com.", "example.com.", false},
    {"a.b\\.example.com.", "b\\.example.com", true},
    {"a.example.com\\.", "example.com", false},
    {"x.a\\\\.b.", "b.", true},
    {"x.a\\\\.b.", "a\\\\.b.", true},
    /* \DDD escapes compare by the byte they stand for, case-insensitively */
    {"\\065.example.com.", "a.example.com", true},
    {"www.\\101xample.com.", "example.com", true},
    {"www.ex\\.ample.com.", "ample.com", false},
    /* text that is no name is under nothing but the root */
    {"a..example.com.", "example.com.", false},
    {".example.com", "example.com.", false},
    {"www.example.com\\", "example.com.", false},
    {"\\999.example.com.", "example.com.", false},
    {"www.example.com.", "a..com", false},
};

Test(dname, name_under)
{
    size_t checked = 0;
    for (size_t i = 0; i < RBGW_NELEM(under_rows); i++) {
        const struct under_row *row = &under_rows[i];
        bool got = rbgw_name_under(rbgw_str_cstr(row->name), rbgw_str_cstr(row->zone));
        if (got != row->want) {
            cr_expect_fail("row %zu: '%s' under '%s' = %d, want %d", i, row->name, row->zone, got,
                           row->want);
        }
        checked++;
    }
    cr_assert_eq(checked, RBGW_NELEM(under_rows));
}

Test(dname, name_hash_spellings)
{
    uint64_t h = rbgw_name_hash(RBGW_STR("www.example.com."));
    cr_expect_eq(rbgw_name_hash(RBGW_STR("WWW.Example.COM")), h, "case and trailing dot");
    cr_expect_eq(rbgw_name_hash(RBGW_STR("\\119ww.example.com.")), h, "\\DDD escape");
    cr_expect_neq(rbgw_name_hash(RBGW_STR("www.example.org.")), h);
    cr_expect_neq(rbgw_name_hash(RBGW_STR("www\\.example.com.")),
                  rbgw_name_hash(RBGW_STR("www.example.com.")), "an escaped dot is no separator");
    cr_expect_eq(rbgw_name_hash(RBGW_STR(".")), rbgw_name_hash(RBGW_STR("")), "root");
    cr_expect_eq(rbgw_name_hash(RBGW_STR("")), UINT64_C(0xcbf29ce484222325), "FNV-1a basis");
    /* FNV-1a 64 over the wire form: \x01 'a' */
    uint64_t want = UINT64_C(0xcbf29ce484222325);
    want = (want ^ 1u) * UINT64_C(0x100000001b3);
    want = (want ^ 'a') * UINT64_C(0x100000001b3);
    cr_expect_eq(rbgw_name_hash(RBGW_STR("A.")), want, "wire-form FNV-1a of 'a.'");
    /* invalid names still hash deterministically, case-insensitively */
    cr_expect_eq(rbgw_name_hash(RBGW_STR("a..b.")), rbgw_name_hash(RBGW_STR("A..B")));
}

Test(dname, name_eq)
{
    static const struct {
        const char *a, *b;
        bool want;
    } rows[] = {
        {"example.com.", "EXAMPLE.COM", true},
        {"\\\\065.b.", "A.B", false}, /* "\\065" is a backslash and "065", not "a" */
        {"\\065.b.", "A.B", true},
        {"a\\.b.", "a.b.", false},
        {"a\\.b.", "A\\.B", true},
        {".", "", true},
        {"a.", "a.b.", false},
        /* text that is no name: caseless bytes, one trailing dot ignored */
        {"a..b.", "A..B", true},
        {"a..b.", "a..c", false},
        {"x\\", "X\\", true},
    };
    size_t checked = 0;
    for (size_t i = 0; i < RBGW_NELEM(rows); i++) {
        bool got = rbgw_name_eq(rbgw_str_cstr(rows[i].a), rbgw_str_cstr(rows[i].b));
        if (got != rows[i].want) {
            cr_expect_fail("'%s' == '%s' is %d, want %d", rows[i].a, rows[i].b, got, rows[i].want);
        }
        checked++;
    }
    cr_assert_eq(checked, RBGW_NELEM(rows));
}

Test(dname, name_valid)
{
    static const char *const good[] = {"", ".", "a", "a.", "A.b.c.", "\\065.x.", "a\\.b.", "\\\\."};
    static const char *const bad[] = {"a..b", ".a", "..", "a\\", "\\256.x.", "a.b.."};
    for (size_t i = 0; i < RBGW_NELEM(good); i++) {
        cr_expect(rbgw_name_valid(rbgw_str_cstr(good[i])), "'%s' is a name", good[i]);
    }
    for (size_t i = 0; i < RBGW_NELEM(bad); i++) {
        cr_expect(!rbgw_name_valid(rbgw_str_cstr(bad[i])), "'%s' is no name", bad[i]);
    }
    /* the limits: 1024 decoded bytes */
    char big[1100];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (size_t i = 60; i < sizeof(big) - 1; i += 61) {
        big[i] = '.';
    }
    cr_expect(!rbgw_name_valid(rbgw_str_cstr(big)), "over 1024 bytes");
    big[600] = '\0';
    cr_expect(rbgw_name_valid(rbgw_str_cstr(big)), "600 bytes");
}

/* ---- canonical form ---- */

struct canon_row {
    const char *name;
    const char *want; /* the form, as bytes (length bytes written \ooo), or NULL: no name */
    size_t len;
};

#define CANON(n, w)                                                                                \
    {                                                                                              \
        n, w, sizeof(w) - 1                                                                        \
    }

static const struct canon_row canon_rows[] = {
    CANON("www.Example.COM.", "\003com\007example\003www"),
    CANON("www.example.com", "\003com\007example\003www"),
    CANON("\\119ww.example.com.", "\003com\007example\003www"),
    CANON("a\\.b.example.", "\007example\003a.b"),
    CANON(".", ""),
    CANON("", ""),
    CANON("*.example.com.", "\003com\007example\001*"),
    {"a..example.com.", NULL, 0},
    {"www.example.com\\", NULL, 0},
    /* a label of 64 bytes is no DNS label */
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com.", NULL, 0},
};

Test(dname, name_canon)
{
    size_t checked = 0;
    for (size_t i = 0; i < RBGW_NELEM(canon_rows); i++) {
        const struct canon_row *r = &canon_rows[i];
        unsigned char out[RBGW_NAME_CANON_MAX];
        int n = rbgw_name_canon(rbgw_str_cstr(r->name), out);
        if (r->want == NULL) {
            cr_expect_lt(n, 0, "%s: has a canonical form", r->name);
        } else if (n != (int)r->len || memcmp(out, r->want, r->len) != 0) {
            cr_expect_fail("%s: canonical form of %d bytes, want %zu", r->name, n, r->len);
        }
        checked++;
    }
    cr_assert_eq(checked, RBGW_NELEM(canon_rows));
}

/* A name of 255 wire bytes has a form of 254; one more label byte and it has none. */
Test(dname, name_canon_length_limit)
{
    char name[300];
    unsigned char out[RBGW_NAME_CANON_MAX];
    /* 4 labels of 63 bytes and one of 1: 4 * 64 + 2 + 1 (root) = 259 wire bytes: too long */
    size_t o = 0;
    for (int l = 0; l < 3; l++) {
        memset(name + o, 'a', 63);
        o += 63;
        name[o++] = '.';
    }
    memset(name + o, 'b', 61);
    o += 61;
    name[o++] = '.';
    name[o] = '\0';
    /* 3 * 64 + 62 + 1 = 255 wire bytes */
    cr_expect_eq(rbgw_name_canon(rbgw_str_make(name, o), out), 254);
    name[o - 1] = 'c';
    name[o] = '.';
    name[o + 1] = '\0';
    cr_expect_lt(rbgw_name_canon(rbgw_str_make(name, o + 1), out), 0);
}

/* The form's byte equality and prefix test agree with rbgw_name_eq and rbgw_name_under. */
Test(dname, name_canon_agrees_with_under)
{
    size_t checked = 0;
    for (size_t i = 0; i < RBGW_NELEM(under_rows); i++) {
        const struct under_row *r = &under_rows[i];
        unsigned char a[RBGW_NAME_CANON_MAX], b[RBGW_NAME_CANON_MAX];
        int na = rbgw_name_canon(rbgw_str_cstr(r->name), a);
        int nb = rbgw_name_canon(rbgw_str_cstr(r->zone), b);
        if (na < 0 || nb < 0) {
            continue; /* text that is no name has no form (and the cache drops everything) */
        }
        bool under = nb <= na && memcmp(a, b, (size_t)nb) == 0;
        if (under != r->want) {
            cr_expect_fail("%s under %s: prefix says %d", r->name, r->zone, under);
        }
        bool eq = na == nb && memcmp(a, b, (size_t)na) == 0;
        if (eq != rbgw_name_eq(rbgw_str_cstr(r->name), rbgw_str_cstr(r->zone))) {
            cr_expect_fail("%s = %s: form equality disagrees with rbgw_name_eq", r->name, r->zone);
        }
        checked++;
    }
    cr_assert_gt(checked, 20);
}

/*
 * test_json.c: the byte-string JSON tree and the json11-exact writer (docs/protocol.md §1.1, §1.4).
 *
 * What: parse -> write round trips that must come out in pdns's json11 form byte for byte
 * (sorted keys, ", " and ": ", json11's escaping, raw non-UTF-8 bytes, number text kept), the
 * inputs pdns's parser rejects (comments, trailing garbage or NUL, nesting over 200), integer
 * reads, lookups, and trees built by hand with the constructors.
 *
 * Why tables: each row is one rule of the serialisation spec, so a failure names the rule.
 * Inputs and outputs carry explicit lengths (B()) because several hold NUL or raw high bytes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rbgw/json.h"
#include "show.h"

#define B(lit) (lit), (sizeof(lit) - 1)

static struct rbgw_arena arena;

static void
setup(void)
{
    rbgw_arena_init(&arena);
}

static void
teardown(void)
{
    rbgw_arena_free(&arena);
}

TestSuite(json, .init = setup, .fini = teardown);

static bool
buf_is(const struct rbgw_buf *b, const char *p, size_t n)
{
    return b->len == n && (n == 0 || memcmp(b->data, p, n) == 0);
}

/* ---- round trips: parse, then write in json11 form ---- */

struct trip {
    const char *name;
    const char *in;
    size_t inlen;
    const char *out;
    size_t outlen;
};

static const struct trip trips[] = {
    /* member order and separators */
    {"keys sorted", B("{\"b\":1,\"a\":2}"), B("{\"a\": 2, \"b\": 1}")},
    {"leading space key sorts first", B("{\"a\":1,\" sp\":2,\"B\":3,\"!\":4}"),
     B("{\" sp\": 2, \"!\": 4, \"B\": 3, \"a\": 1}")},
    {"prefix keys", B("{\"ab\":1,\"a b\":2,\"a\":3}"), B("{\"a\": 3, \"a b\": 2, \"ab\": 1}")},
    {"high byte key sorts unsigned", B("{\"\xff\":1,\"z\":2,\"\x7f\":3}"),
     B("{\"z\": 2, \"\x7f\": 3, \"\xff\": 1}")},
    {"empty key first", B("{\"a\":1,\"\":2}"), B("{\"\": 2, \"a\": 1}")},
    {"nested sorted", B("{\"p\":{\"z\":[1,{\"y\":true,\"x\":false}],\"a\":null}}"),
     B("{\"p\": {\"a\": null, \"z\": [1, {\"x\": false, \"y\": true}]}}")},
    {"whitespace dropped", B(" \t\r\n{ \"a\" :\n[ 1 ,\t2 ] , \"b\":{ } }\r\n "),
     B("{\"a\": [1, 2], \"b\": {}}")},
    {"empty containers", B("[[],{},[[]]]"), B("[[], {}, [[]]]")},
    {"pdns lookup example",
     B("{\"parameters\":{\"zone-id\":5,\"remote\":\"0.0.0.0\",\"real-remote\":\"0.0.0.0/0\","
       "\"qtype\":\"ANY\",\"qname\":\"www.example.com.\",\"local\":\"0.0.0.0\"},"
       "\"method\":\"lookup\"}"),
     B("{\"method\": \"lookup\", \"parameters\": {\"local\": \"0.0.0.0\", \"qname\": "
       "\"www.example.com.\", \"qtype\": \"ANY\", \"real-remote\": \"0.0.0.0/0\", \"remote\": "
       "\"0.0.0.0\", \"zone-id\": 5}}")},
    /* duplicate keys: the last one wins, as json11's std::map assignment */
    {"duplicate key keeps last", B("{\"a\":1,\"b\":0,\"a\":2}"), B("{\"a\": 2, \"b\": 0}")},
    {"triplicate key keeps last", B("{\"a\":1,\"a\":[2],\"a\":{\"c\":3}}"),
     B("{\"a\": {\"c\": 3}}")},
    /* scalars at top level */
    {"true", B("true"), B("true")},
    {"false", B(" false "), B("false")},
    {"null", B("null"), B("null")},
    {"bare string", B("\"x\""), B("\"x\"")},
    {"bare number", B("42"), B("42")},
    /* number text preserved exactly */
    {"numbers", B("[1795625247,-1,2.50,1e3,-0,0.0,3.0,1E+2,1e-7]"),
     B("[1795625247, -1, 2.50, 1e3, -0, 0.0, 3.0, 1E+2, 1e-7]")},
    {"huge number text", B("123456789012345678901234567890"), B("123456789012345678901234567890")},
    /* escapes written by letter */
    {"letter escapes", B("\"\\\"\\\\\\b\\f\\n\\r\\t\""), B("\"\\\"\\\\\\b\\f\\n\\r\\t\"")},
    {"escape in key", B("{\"k\\\"\\n\":1}"), B("{\"k\\\"\\n\": 1}")},
    /* other control bytes as \u00XX, lowercase hex */
    {"control bytes lowercase", B("\"\\u0001\\u001F\\u000b\\u001a\""),
     B("\"\\u0001\\u001f\\u000b\\u001a\"")},
    {"u0000 kept as a NUL byte", B("\"a\\u0000b\""), B("\"a\\u0000b\"")},
    /* U+2028/2029 escaped, neighbours raw */
    {"u2028 u2029 escaped", B("\"\\u2028\\u2029\""), B("\"\\u2028\\u2029\"")},
    {"raw u2028 escaped", B("\"\xe2\x80\xa8x\xe2\x80\xa9\""), B("\"\\u2028x\\u2029\"")},
    {"u2027 and u202a raw", B("\"\\u2027\\u202a\""), B("\"\xe2\x80\xa7\xe2\x80\xaa\"")},
    {"lone e2 bytes raw", B("\"\xe2\xe2\x80\xe2\""), B("\"\xe2\xe2\x80\xe2\"")},
    /* 0x7f and '/' raw */
    {"del and slash raw", B("\"\\u007f\\/\x7f/\""), B("\"\x7f/\x7f/\"")},
    /* \u escapes decoded to UTF-8 */
    {"u00e9 decoded", B("\"\\u00e9\\u0041\""),
     B("\"\xc3\xa9"
       "A\"")},
    {"u20ac decoded", B("\"\\u20AC\""), B("\"\xe2\x82\xac\"")},
    {"surrogate pair decoded", B("\"\\ud83d\\ude00\""), B("\"\xf0\x9f\x98\x80\"")},
    /* raw non-UTF-8 bytes survive parse and write */
    {"raw non-utf8 value", B("{\"salt\":\"\xab\xff\x80\"}"), B("{\"salt\": \"\xab\xff\x80\"}")},
    {"raw non-utf8 key", B("{\"\xab\":\"\xc0\xaf\"}"), B("{\"\xab\": \"\xc0\xaf\"}")},
};

Test(json, round_trip_table)
{
    for (size_t i = 0; i < RBGW_NELEM(trips); i++) {
        const struct trip *t = &trips[i];
        struct rbgw_json *v = NULL;
        char err[256] = "";
        int rc = rbgw_json_parse(&arena, t->in, t->inlen, &v, err, sizeof(err));
        cr_expect_eq(rc, 0, "%s: parse failed: %s (input %s)", t->name, err,
                     rbgw_test_show(t->in, t->inlen));
        if (rc != 0) {
            continue;
        }
        struct rbgw_buf b = RBGW_BUF_INIT;
        rbgw_json_write(&b, v);
        cr_expect(buf_is(&b, t->out, t->outlen), "%s: wrote %s, want %s", t->name,
                  rbgw_test_show(b.data, b.len), rbgw_test_show(t->out, t->outlen));
        cr_expect_eq(b.data[b.len], '\0', "%s: buffer not NUL-terminated", t->name);

        /* The written form is itself json11 output: it must reproduce itself. */
        struct rbgw_json *v2 = NULL;
        rc = rbgw_json_parse(&arena, b.data, b.len, &v2, err, sizeof(err));
        cr_expect_eq(rc, 0, "%s: re-parse of output failed: %s", t->name, err);
        if (rc == 0) {
            struct rbgw_buf b2 = RBGW_BUF_INIT;
            rbgw_json_write(&b2, v2);
            cr_expect(buf_is(&b2, b.data, b.len), "%s: second trip %s differs from %s", t->name,
                      rbgw_test_show(b2.data, b2.len), rbgw_test_show(b.data, b.len));
            rbgw_buf_free(&b2);
        }
        rbgw_buf_free(&b);
    }
}

/* Surrogate escapes.  yajl decodes a high surrogate glued to any following \u escape, and a
 * lone one as '?', where json11 keeps lone surrogates as 3-byte sequences.  pdns never writes
 * surrogate escapes, so rbgw refuses unpaired high surrogates instead of re-serialising them
 * differently from pdns; a lone low surrogate and a proper pair decode as json11 does. */
static const struct trip surrogates_ok[] = {
    {"lone low surrogate", B("\"\\udc00\""), B("\"\xed\xb0\x80\"")},
    {"proper pair", B("\"\\ud83d\\ude00\""), B("\"\xf0\x9f\x98\x80\"")},
    {"escaped backslash then u", B("\"\\\\ud800\""), B("\"\\\\ud800\"")},
};

static const struct bad_surrogate {
    const char *name;
    const char *in;
    size_t inlen;
} surrogates_bad[] = {
    {"lone high surrogate", B("\"\\ud800\"")},
    {"high surrogate then text", B("\"\\ud800x\"")},
    {"high surrogate then non-surrogate escape", B("\"\\ud800\\u0041\"")},
    {"high surrogate at the end of a key", B("{\"\\udbff\":1}")},
};

Test(json, surrogates)
{
    for (size_t i = 0; i < RBGW_NELEM(surrogates_ok); i++) {
        const struct trip *t = &surrogates_ok[i];
        struct rbgw_json *v = NULL;
        char err[256] = "";
        int rc = rbgw_json_parse(&arena, t->in, t->inlen, &v, err, sizeof(err));
        cr_expect_eq(rc, 0, "%s: parse failed: %s", t->name, err);
        if (rc != 0) {
            continue;
        }
        struct rbgw_buf b = RBGW_BUF_INIT;
        rbgw_json_write(&b, v);
        cr_expect(buf_is(&b, t->out, t->outlen), "%s: %s decoded and written as %s, want %s",
                  t->name, rbgw_test_show(t->in, t->inlen), rbgw_test_show(b.data, b.len),
                  rbgw_test_show(t->out, t->outlen));
        rbgw_buf_free(&b);
    }
    for (size_t i = 0; i < RBGW_NELEM(surrogates_bad); i++) {
        struct rbgw_json *v = NULL;
        char err[256] = "";
        int rc = rbgw_json_parse(&arena, surrogates_bad[i].in, surrogates_bad[i].inlen, &v, err,
                                 sizeof(err));
        cr_expect_eq(rc, RBGW_EPARSE, "%s: accepted", surrogates_bad[i].name);
        cr_expect(strstr(err, "surrogate") != NULL, "%s: error '%s'", surrogates_bad[i].name, err);
    }
}

/* ---- inputs pdns's json11 parser rejects ---- */

struct bad {
    const char *name;
    const char *in;
    size_t inlen;
};

static const struct bad bads[] = {
    {"empty input", B("")},
    {"whitespace only", B(" \r\n\t")},
    {"line comment after", B("{\"a\":1} // c")},
    {"block comment before", B("/* c */ {}")},
    {"block comment inside", B("[1,/*x*/2]")},
    {"trailing garbage", B("{} x")},
    /* yajl_complete_parse lets a started token after the document pass (jsonscan catches) */
    {"trailing unfinished string", B("{\"result\":true}\"")},
    {"trailing unfinished literal", B("{} t")},
    {"trailing minus", B("[] -")},
    {"second document", B("{}{}")},
    {"second value", B("1 2")},
    {"trailing NUL", B("{\"result\":true}\0")},
    {"trailing NUL after newline", B("{}\n\0")},
    {"leading NUL", B("\0{}")},
    {"trailing form feed", B("{}\f")},
    {"leading vertical tab", B("\v{}")},
    {"trailing comma in array", B("[1,]")},
    {"trailing comma in object", B("{\"a\":1,}")},
    {"single quotes", B("{'a':1}")},
    {"missing colon", B("{\"a\" 1}")},
    {"unquoted key", B("{a:1}")},
    {"unterminated string", B("\"abc")},
    {"unterminated object", B("{\"a\":1")},
    {"raw control byte in string", B("\"a\x01\"")},
    {"raw newline in string", B("\"a\nb\"")},
    {"bad escape", B("\"\\x41\"")},
    {"short unicode escape", B("\"\\u12\"")},
    {"leading zero", B("01")},
    {"bare dot", B(".5")},
    {"dot without digits", B("1.")},
    {"plus sign", B("+1")},
    {"NaN", B("NaN")},
    {"truncated literal", B("tru")},
    {"capitalised literal", B("True")},
};

Test(json, reject_table)
{
    for (size_t i = 0; i < RBGW_NELEM(bads); i++) {
        const struct bad *t = &bads[i];
        struct rbgw_json *v = NULL;
        char err[256] = "";
        int rc = rbgw_json_parse(&arena, t->in, t->inlen, &v, err, sizeof(err));
        cr_expect_eq(rc, RBGW_EPARSE, "%s: accepted %s, want RBGW_EPARSE", t->name,
                     rbgw_test_show(t->in, t->inlen));
        if (rc != 0) {
            cr_expect_neq(err[0], '\0', "%s: no error text", t->name);
            cr_expect_null(strchr(err, '\n'), "%s: error text is not one line: %s", t->name, err);
        }
    }
}

static char *
nest(const char *open, const char *mid, const char *close, int levels, size_t *len)
{
    size_t lo = strlen(open), lm = strlen(mid), lc = strlen(close);
    size_t n = (size_t)levels * (lo + lc) + lm;
    char *s = rbgw_xmalloc(n + 1);
    char *o = s;
    for (int i = 0; i < levels; i++, o += lo) {
        memcpy(o, open, lo);
    }
    memcpy(o, mid, lm);
    o += lm;
    for (int i = 0; i < levels; i++, o += lc) {
        memcpy(o, close, lc);
    }
    *o = '\0';
    *len = n;
    return s;
}

struct depth_case {
    const char *open;
    const char *mid;
    const char *close;
    int levels;
    bool ok;
};

static const struct depth_case depth_cases[] = {
    {"[", "", "]", 1, true},
    {"[", "", "]", 199, true},
    {"[", "", "]", 200, true},
    {"[", "", "]", 201, false},
    {"[", "", "]", 202, false},
    {"[", "", "]", 100000, false},
    {"{\"a\":", "1", "}", 200, true},
    {"{\"a\":", "1", "}", 201, false},
    {"[{\"k\":", "null", "}]", 100, true},
    {"[{\"k\":", "null", "}]", 101, false},
};

Test(json, nesting_limit_200)
{
    for (size_t i = 0; i < RBGW_NELEM(depth_cases); i++) {
        const struct depth_case *d = &depth_cases[i];
        size_t len;
        char *s = nest(d->open, d->mid, d->close, d->levels, &len);
        struct rbgw_json *v = NULL;
        char err[256] = "";
        int rc = rbgw_json_parse(&arena, s, len, &v, err, sizeof(err));
        if (d->ok) {
            cr_expect_eq(rc, 0, "%d x '%s': rejected: %s", d->levels, d->open, err);
            if (rc == 0) {
                /* The tree is as deep as the text: walk down to the innermost value. */
                int depth = 0;
                const struct rbgw_json *c = v;
                while (c && (c->type == RBGW_JSON_ARRAY || c->type == RBGW_JSON_OBJECT)) {
                    depth++;
                    c = c->child;
                }
                int want = d->levels * (d->open[0] == '[' && d->open[1] == '{' ? 2 : 1);
                cr_expect_eq(depth, want, "%d x '%s': tree depth %d, want %d", d->levels, d->open,
                             depth, want);
            }
        } else {
            cr_expect_eq(rc, RBGW_EPARSE, "%d x '%s': accepted", d->levels, d->open);
            cr_expect_neq(strstr(err, "nesting"), NULL, "%d x '%s': error '%s' should say nesting",
                          d->levels, d->open, err);
        }
        free(s);
    }
}

/* ---- the tree itself ---- */

Test(json, tree_shape_and_decoded_strings)
{
    static const char json[] = "{\"b\":[1,\"x\\u0041\\n\",null,true,false],\"a\\\"\":{},"
                               "\"raw\":\"\xab\xff\"}";
    struct rbgw_json *v = NULL;
    char err[256] = "";
    cr_assert_eq(rbgw_json_parse(&arena, json, sizeof(json) - 1, &v, err, sizeof(err)), 0, "%s",
                 err);
    cr_assert_eq(v->type, RBGW_JSON_OBJECT);
    cr_expect_eq(v->n, 3);

    /* Members stay in source order in the tree; only the writer sorts. */
    const struct rbgw_json *b = v->child;
    cr_assert_not_null(b);
    cr_expect(rbgw_str_eq_cstr(b->key, "b"), "first member key %s",
              rbgw_test_show(b->key.p, b->key.len));
    cr_assert_eq(b->type, RBGW_JSON_ARRAY);
    cr_expect_eq(b->n, 5);
    const struct rbgw_json *e = b->child;
    static const enum rbgw_json_type types[] = {RBGW_JSON_NUMBER, RBGW_JSON_STRING, RBGW_JSON_NULL,
                                                RBGW_JSON_TRUE, RBGW_JSON_FALSE};
    for (size_t i = 0; i < RBGW_NELEM(types); i++, e = e->next) {
        cr_assert_not_null(e, "array element %zu missing", i);
        cr_expect_eq(e->type, types[i], "array element %zu type %d", i, (int)e->type);
        cr_expect_eq(e->key.len, 0, "array element %zu has a key", i);
    }
    cr_expect_null(e, "array has more than 5 elements");
    cr_expect(rbgw_str_eq_cstr(b->child->str, "1"));
    const struct rbgw_json *s = b->child->next;
    cr_expect(rbgw_str_eq(s->str, RBGW_STR("xA\n")), "decoded string %s",
              rbgw_test_show(s->str.p, s->str.len));

    const struct rbgw_json *q = b->next;
    cr_assert_not_null(q);
    cr_expect(rbgw_str_eq(q->key, RBGW_STR("a\"")), "decoded key %s",
              rbgw_test_show(q->key.p, q->key.len));
    cr_expect_eq(q->type, RBGW_JSON_OBJECT);
    cr_expect_eq(q->n, 0);
    cr_expect_null(q->child);

    const struct rbgw_json *r = q->next;
    cr_assert_not_null(r);
    cr_expect(rbgw_str_eq(r->str, RBGW_STR("\xab\xff")), "raw bytes %s",
              rbgw_test_show(r->str.p, r->str.len));
    cr_expect_null(r->next);
}

struct get_case {
    const char *json;
    const char *key;
    const char *want; /* written form of the member, NULL when absent */
};

static const struct get_case gets[] = {
    {"{\"a\":1,\"b\":{\"c\":2}}", "a", "1"},
    {"{\"a\":1,\"b\":{\"c\":2}}", "b", "{\"c\": 2}"},
    {"{\"a\":1,\"b\":{\"c\":2}}", "c", NULL},
    {"{\"a\":1,\"b\":0,\"a\":3}", "a", "3"},
    {"{\"a\":1,\"a\":null}", "a", "null"},
    {"{\"\":5}", "", "5"},
    {"{\"ab\":1}", "a", NULL},
    {"{\"a\":1}", "ab", NULL},
    {"{\"A\":1}", "a", NULL},
    {"{}", "a", NULL},
    {"[\"a\"]", "a", NULL},
    {"\"a\"", "a", NULL},
};

Test(json, get_table)
{
    cr_expect_null(rbgw_json_get(NULL, "a"), "get on NULL");
    for (size_t i = 0; i < RBGW_NELEM(gets); i++) {
        const struct get_case *g = &gets[i];
        struct rbgw_json *v = NULL;
        char err[256] = "";
        cr_assert_eq(rbgw_json_parse(&arena, g->json, strlen(g->json), &v, err, sizeof(err)), 0,
                     "%s: %s", g->json, err);
        const struct rbgw_json *m = rbgw_json_get(v, g->key);
        if (g->want == NULL) {
            cr_expect_null(m, "%s get '%s': want NULL", g->json, g->key);
            continue;
        }
        cr_expect_not_null(m, "%s get '%s': want %s, got NULL", g->json, g->key, g->want);
        if (m) {
            struct rbgw_buf b = RBGW_BUF_INIT;
            rbgw_json_write(&b, m);
            cr_expect_str_eq(b.data, g->want, "%s get '%s'", g->json, g->key);
            rbgw_buf_free(&b);
        }
    }
}

/* ---- rbgw_json_int64 ---- */

struct int_case {
    const char *json;
    bool ok;
    int64_t want;
};

static const struct int_case ints[] = {
    {"1795625247", true, 1795625247},
    {"0", true, 0},
    {"-1", true, -1},
    {"-0", true, 0},
    {"3000000000", true, 3000000000LL},
    {"9223372036854775807", true, INT64_MAX},
    {"-9223372036854775808", true, INT64_MIN},
    {"9223372036854775808", false, 0},
    {"-9223372036854775809", false, 0},
    {"18446744073709551615", false, 0},
    {"18446744073709551616", false, 0},
    {"99999999999999999999", false, 0},
    {"1.0", false, 0},
    {"2.50", false, 0},
    {"1e3", false, 0},
    {"1E3", false, 0},
    {"\"42\"", true, 42},
    {"\"-7\"", true, -7},
    {"\"-0\"", true, 0},
    {"\"9223372036854775807\"", true, INT64_MAX},
    {"\"9223372036854775808\"", false, 0},
    {"\"-9223372036854775808\"", true, INT64_MIN},
    {"\"1.0\"", false, 0},
    {"\"1e3\"", false, 0},
    {"\"\"", false, 0},
    {"\"-\"", false, 0},
    {"\"+1\"", false, 0},
    {"\" 1\"", false, 0},
    {"\"1 \"", false, 0},
    {"\"0x10\"", false, 0},
    {"\"12a\"", false, 0},
    {"true", false, 0},
    {"false", false, 0},
    {"null", false, 0},
    {"[1]", false, 0},
    {"{\"a\":1}", false, 0},
};

Test(json, int64_table)
{
    int64_t out = 0;
    cr_expect_not(rbgw_json_int64(NULL, &out), "NULL value");
    for (size_t i = 0; i < RBGW_NELEM(ints); i++) {
        const struct int_case *c = &ints[i];
        struct rbgw_json *v = NULL;
        char err[256] = "";
        cr_assert_eq(rbgw_json_parse(&arena, c->json, strlen(c->json), &v, err, sizeof(err)), 0,
                     "%s: %s", c->json, err);
        out = 12345;
        bool ok = rbgw_json_int64(v, &out);
        cr_expect_eq(ok, c->ok, "%s: int64 returned %d, want %d", c->json, ok, c->ok);
        if (ok && c->ok) {
            cr_expect_eq(out, c->want, "%s: got %lld, want %lld", c->json, (long long)out,
                         (long long)c->want);
        }
    }
}

/* ---- rbgw_json_write_string: every byte value ---- */

Test(json, write_string_every_byte)
{
    for (unsigned c = 0; c < 256; c++) {
        char in = (char)c;
        char want[16];
        switch (c) {
        case '"':
            strcpy(want, "\"\\\"\"");
            break;
        case '\\':
            strcpy(want, "\"\\\\\"");
            break;
        case '\b':
            strcpy(want, "\"\\b\"");
            break;
        case '\f':
            strcpy(want, "\"\\f\"");
            break;
        case '\n':
            strcpy(want, "\"\\n\"");
            break;
        case '\r':
            strcpy(want, "\"\\r\"");
            break;
        case '\t':
            strcpy(want, "\"\\t\"");
            break;
        default:
            if (c < 0x20) {
                snprintf(want, sizeof(want), "\"\\u%04x\"", c);
            } else {
                want[0] = '"';
                want[1] = (char)c;
                want[2] = '"';
                want[3] = '\0';
            }
            break;
        }
        struct rbgw_buf b = RBGW_BUF_INIT;
        rbgw_buf_append_cstr(&b, "P");
        rbgw_json_write_string(&b, &in, 1);
        cr_expect_eq(b.data[0], 'P', "byte 0x%02x: existing content overwritten", c);
        cr_expect(b.len == 1 + strlen(want) && memcmp(b.data + 1, want, strlen(want)) == 0,
                  "byte 0x%02x: wrote %s, want %s", c, rbgw_test_show(b.data + 1, b.len - 1),
                  rbgw_test_show(want, strlen(want)));
        cr_expect_eq(b.data[b.len], '\0', "byte 0x%02x: not NUL-terminated", c);
        rbgw_buf_free(&b);
    }
}

struct wstr {
    const char *name;
    const char *in;
    size_t inlen;
    const char *out;
    size_t outlen;
};

static const struct wstr wstrs[] = {
    {"empty", B(""), B("\"\"")},
    {"u2028", B("\xe2\x80\xa8"), B("\"\\u2028\"")},
    {"u2029 between", B("a\xe2\x80\xa9z"), B("\"a\\u2029z\"")},
    {"u2028 truncated at end", B("a\xe2\x80"), B("\"a\xe2\x80\"")},
    {"e2 80 then other", B("\xe2\x80\xaa"), B("\"\xe2\x80\xaa\"")},
    {"e2 then u2028", B("\xe2\xe2\x80\xa8"), B("\"\xe2\\u2028\"")},
    {"NUL inside", B("a\0b"), B("\"a\\u0000b\"")},
    {"mixed", B("\"/\\\x7f\x1f\xff"), B("\"\\\"/\\\\\x7f\\u001f\xff\"")},
};

Test(json, write_string_table)
{
    for (size_t i = 0; i < RBGW_NELEM(wstrs); i++) {
        const struct wstr *w = &wstrs[i];
        struct rbgw_buf b = RBGW_BUF_INIT;
        rbgw_json_write_string(&b, w->in, w->inlen);
        cr_expect(buf_is(&b, w->out, w->outlen), "%s: wrote %s, want %s", w->name,
                  rbgw_test_show(b.data, b.len), rbgw_test_show(w->out, w->outlen));
        rbgw_buf_free(&b);
    }

    /* A long run of worst-case bytes must fit the reservation made up front. */
    char worst[3000];
    memset(worst, 0x01, sizeof(worst));
    struct rbgw_buf b = RBGW_BUF_INIT;
    rbgw_json_write_string(&b, worst, sizeof(worst));
    cr_expect_eq(b.len, sizeof(worst) * 6 + 2);
    cr_expect_eq(memcmp(b.data + 1 + 6 * 2999, "\\u0001\"", 7), 0);
    rbgw_buf_free(&b);
}

/* ---- trees built with the constructors ---- */

Test(json, constructors_append_write)
{
    struct rbgw_json *root = rbgw_json_new(&arena, RBGW_JSON_OBJECT);
    struct rbgw_json *arr = rbgw_json_new(&arena, RBGW_JSON_ARRAY);
    rbgw_json_append(&arena, arr, NULL, 0, rbgw_json_new_number(&arena, "2.50", 4));
    rbgw_json_append(&arena, arr, NULL, 0, rbgw_json_new_string(&arena, "x\n\xab", 3));
    rbgw_json_append(&arena, arr, NULL, 0, rbgw_json_new(&arena, RBGW_JSON_NULL));
    rbgw_json_append(&arena, arr, NULL, 0, rbgw_json_new(&arena, RBGW_JSON_ARRAY));

    struct rbgw_json *inner = rbgw_json_new(&arena, RBGW_JSON_OBJECT);
    rbgw_json_append(&arena, inner, "z", 1, rbgw_json_new(&arena, RBGW_JSON_TRUE));
    rbgw_json_append(&arena, inner, "y", 1, rbgw_json_new(&arena, RBGW_JSON_FALSE));

    /* Keys are copied: mutate the source afterwards. */
    char key[] = "qname";
    rbgw_json_append(&arena, root, key, 5, rbgw_json_new_string(&arena, "a.", 2));
    key[0] = 'X';
    rbgw_json_append(&arena, root, "b", 1, arr);
    rbgw_json_append(&arena, root, " sp", 3, inner);
    rbgw_json_append(&arena, root, "k\0x", 3, rbgw_json_new_number(&arena, "-1", 2));
    rbgw_json_append(&arena, root, "dup", 3, rbgw_json_new_number(&arena, "1", 1));
    rbgw_json_append(&arena, root, "dup", 3, rbgw_json_new_number(&arena, "2", 1));
    rbgw_json_append(&arena, root, "e", 1, rbgw_json_new(&arena, RBGW_JSON_OBJECT));

    cr_expect_eq(root->n, 7);
    cr_expect_eq(arr->n, 4);
    cr_expect(rbgw_str_eq_cstr(root->child->key, "qname"), "key not copied: %s",
              rbgw_test_show(root->child->key.p, root->child->key.len));
    cr_expect_eq(arr->child->key.len, 0, "array child got a key");

    static const char want[] = "{\" sp\": {\"y\": false, \"z\": true}, \"b\": [2.50, \"x\\n\xab\", "
                               "null, []], \"dup\": 2, \"e\": {}, \"k\\u0000x\": -1, \"qname\": "
                               "\"a.\"}";
    struct rbgw_buf b = RBGW_BUF_INIT;
    rbgw_json_write(&b, root);
    cr_expect(buf_is(&b, want, sizeof(want) - 1), "wrote %s\nwant  %s",
              rbgw_test_show(b.data, b.len), rbgw_test_show(want, sizeof(want) - 1));

    /* What was written parses back to the same bytes. */
    struct rbgw_json *back = NULL;
    char err[256] = "";
    cr_assert_eq(rbgw_json_parse(&arena, b.data, b.len, &back, err, sizeof(err)), 0, "%s", err);
    struct rbgw_buf b2 = RBGW_BUF_INIT;
    rbgw_json_write(&b2, back);
    cr_expect(buf_is(&b2, b.data, b.len), "re-written %s", rbgw_test_show(b2.data, b2.len));
    rbgw_buf_free(&b);
    rbgw_buf_free(&b2);
}

Test(json, write_many_members_sorted)
{
    /* More members than the writer's on-stack sort array, in reverse order. */
    struct rbgw_json *root = rbgw_json_new(&arena, RBGW_JSON_OBJECT);
    char key[8];
    for (int i = 99; i >= 0; i--) {
        int n = snprintf(key, sizeof(key), "k%02d", i);
        char num[8];
        int m = snprintf(num, sizeof(num), "%d", i);
        rbgw_json_append(&arena, root, key, (size_t)n,
                         rbgw_json_new_number(&arena, num, (size_t)m));
    }
    rbgw_json_append(&arena, root, "k50", 3, rbgw_json_new_number(&arena, "500", 3));
    struct rbgw_buf want = RBGW_BUF_INIT;
    rbgw_buf_putc(&want, '{');
    for (int i = 0; i < 100; i++) {
        rbgw_buf_printf(&want, "%s\"k%02d\": %d", i ? ", " : "", i, i == 50 ? 500 : i);
    }
    rbgw_buf_putc(&want, '}');
    struct rbgw_buf b = RBGW_BUF_INIT;
    rbgw_json_write(&b, root);
    cr_expect(buf_is(&b, want.data, want.len), "wrote %s", rbgw_test_show(b.data, b.len));
    rbgw_buf_free(&b);
    rbgw_buf_free(&want);
}

/* rbgw_json_sort_members against insertion sort (the definition: stable, by key bytes) on
 * member lists of every size up to 300, in several orders and with repeated keys; the merge
 * sort above 16 members must give the same order. */
Test(json, sort_members_is_a_stable_sort)
{
    enum { MAXN = 300 };
    struct rbgw_json nodes[MAXN];
    const struct rbgw_json *got[MAXN], *want[MAXN];
    char keys[MAXN][8];
    unsigned seed = 12345;
    for (size_t n = 0; n <= MAXN; n += n < 40 ? 1 : 37) {
        for (int order = 0; order < 4; order++) {
            for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                unsigned k = order == 0   ? (unsigned)i
                             : order == 1 ? (unsigned)(n - i)
                             : order == 2 ? (seed >> 16) % 1000
                                          : (seed >> 16) % 7; /* many repeats */
                int len = snprintf(keys[i], sizeof(keys[i]), "%u", k);
                memset(&nodes[i], 0, sizeof(nodes[i]));
                nodes[i].key = rbgw_str_make(keys[i], (size_t)len);
                got[i] = want[i] = &nodes[i];
            }
            for (size_t i = 1; i < n; i++) {
                const struct rbgw_json *c = want[i];
                size_t j = i;
                while (j > 0 && rbgw_json_key_cmp(want[j - 1], c) > 0) {
                    want[j] = want[j - 1];
                    j--;
                }
                want[j] = c;
            }
            rbgw_json_sort_members(got, n);
            for (size_t i = 0; i < n; i++) {
                if (got[i] != want[i]) {
                    cr_assert_fail("n %zu, order %d: position %zu differs", n, order, i);
                }
            }
        }
    }
}

/* rbgw_json_squeeze: whitespace between tokens goes, strings stay byte for byte. */
Test(json, squeeze_table)
{
    static const struct {
        const char *in;  /* JSON text */
        const char *out; /* the same without whitespace outside strings */
    } rows[] = {
        {"{\"result\": true}", "{\"result\":true}"},
        {" \r\n\t{ \"a\" : [ 1 , 2 ] } \n", "{\"a\":[1,2]}"},
        {"{\"s\": \"a  b\\t c\"}", "{\"s\":\"a  b\\t c\"}"},
        {"{\"s\": \"q \\\" q\", \"t\": 1}", "{\"s\":\"q \\\" q\",\"t\":1}"},
        {"{\"s\": \"ends in \\\\\", \"t\": \" x \"}", "{\"s\":\"ends in \\\\\",\"t\":\" x \"}"},
        {"[\"\\\\\\\"\" , \" \"]", "[\"\\\\\\\"\",\" \"]"},
        {"{\"result\": [], \"log\": [\"rbgw: no, it is not\"]}",
         "{\"result\":[],\"log\":[\"rbgw: no, it is not\"]}"},
        {"   ", ""},
        {"\"open \\", "\"open \\"},
    };
    struct rbgw_buf scratch = RBGW_BUF_INIT;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct rbgw_str in = {rows[i].in, strlen(rows[i].in)};
        struct rbgw_str out = rbgw_json_squeeze(&scratch, in);
        cr_expect(out.len == strlen(rows[i].out) && memcmp(out.p, rows[i].out, out.len) == 0,
                  "row %zu: squeeze(%s) gave '%.*s', want '%s'", i, rows[i].in, (int)out.len,
                  out.p ? out.p : "", rows[i].out);
    }
    rbgw_buf_free(&scratch);
}

Test(json, squeeze_without_whitespace_is_no_copy)
{
    struct rbgw_buf scratch = RBGW_BUF_INIT;
    const char *t = "{\"result\":[{\"content\":\"a b\",\"ttl\":1}]}";
    struct rbgw_str out = rbgw_json_squeeze(&scratch, (struct rbgw_str){t, strlen(t)});
    cr_assert(out.p == t && out.len == strlen(t), "a reply with nothing to drop is not copied");
    cr_assert(scratch.data == NULL, "and the scratch buffer is not touched");
}

/*
 * test_jsonscan.c: the tree-less validating scanner (jsonscan.h).
 *
 * What: (1) the members it notes, as a table: last occurrence wins, a subkey only inside the
 * last occurrence of its parent, nothing deeper than the watch path, escaped watched keys
 * give UNSURE; (2) that it accepts exactly what rbgw_json_parse accepts: on a corpus of calls,
 * replies and edge cases, and on every one-byte deletion, replacement and insertion of each
 * corpus document with the bytes that matter to a JSON lexer; (3) the nesting limit; (4) that
 * rbgw_json_scan_items splits exactly the containers the parser accepts, child for child, on
 * the same corpus and mutations; (5) that rbgw_json_parse_valid, on every one of those texts
 * the scanner accepts, builds the parser's tree node for node (type, key, value bytes,
 * children, order), or refuses a text with a backslash (escapes are the parser's to decode).
 *
 * Why the mutation sweep: the scanner is the accept oracle on the hot path (rpc.c settles good
 * calls and replies with it and runs yajl only to explain a refusal), so any input it accepts
 * that yajl refuses would let invalid JSON through to pdns.  (The other direction holds by
 * construction since rbgw_json_parse ends with the scanner itself: yajl_complete_parse lets an
 * unfinished token after the document pass, {}" for one, and the scanner refuses it.)
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rbgw/json.h"
#include "rbgw/jsonscan.h"
#include "show.h"

#define B(lit) (lit), (sizeof(lit) - 1)

static const struct rbgw_jscan_watch call_watch[] = {
    {"method", NULL},
    {"parameters", NULL},
    {"parameters", "trxid"},
};

struct found_case {
    const char *text;
    int rc;
    const char *method; /* expected found[0], NULL for absent */
    const char *params; /* found[1] */
    const char *trxid;  /* found[2] */
    char top;
};

static const struct found_case found_cases[] = {
    {"{\"method\":\"lookup\",\"parameters\":{\"qtype\":\"A\",\"trxid\":7}}", RBGW_JSCAN_OK,
     "\"lookup\"", "{\"qtype\":\"A\",\"trxid\":7}", "7", '{'},
    {" {\"parameters\" : null , \"method\" : \"commitTransaction\" } \n", RBGW_JSCAN_OK,
     "\"commitTransaction\"", "null", NULL, '{'},
    /* the last "method" wins, as rbgw_json_get reads it */
    {"{\"method\":\"a\",\"method\":\"b\"}", RBGW_JSCAN_OK, "\"b\"", NULL, NULL, '{'},
    /* trxid only from the last "parameters" */
    {"{\"parameters\":{\"trxid\":1},\"parameters\":{\"x\":2},\"method\":\"m\"}", RBGW_JSCAN_OK,
     "\"m\"", "{\"x\":2}", NULL, '{'},
    {"{\"parameters\":{\"x\":2},\"parameters\":{\"trxid\":-3}}", RBGW_JSCAN_OK, NULL,
     "{\"trxid\":-3}", "-3", '{'},
    /* deeper members are not watched: trxid two levels down is not parameters.trxid */
    {"{\"parameters\":{\"rr\":{\"trxid\":9}},\"trxid\":8}", RBGW_JSCAN_OK, NULL,
     "{\"rr\":{\"trxid\":9}}", NULL, '{'},
    /* a key in an array element is not a member of the top-level object */
    {"[{\"method\":\"x\"}]", RBGW_JSCAN_OK, NULL, NULL, NULL, '['},
    {"\"method\"", RBGW_JSCAN_OK, NULL, NULL, NULL, '"'},
    {"  -1.5e+3 ", RBGW_JSCAN_OK, NULL, NULL, NULL, '-'},
    /* values of any kind are spanned exactly */
    {"{\"method\":[1,{\"a\":\"}\"}],\"parameters\":{\"trxid\":\"12\"}}", RBGW_JSCAN_OK,
     "[1,{\"a\":\"}\"}]", "{\"trxid\":\"12\"}", "\"12\"", '{'},
    /* escapes in a key that could be watched: the scanner does not decode, so it can't tell */
    {"{\"m\\u0065thod\":\"lookup\"}", RBGW_JSCAN_UNSURE, NULL, NULL, NULL, '{'},
    {"{\"parameters\":{\"trx\\u0069d\":1}}", RBGW_JSCAN_UNSURE, NULL, NULL, NULL, '{'},
    /* ... but not where nothing is watched */
    {"{\"method\":\"m\",\"parameters\":{\"q\":{\"\\u0074rxid\":1}}}", RBGW_JSCAN_OK, "\"m\"",
     "{\"q\":{\"\\u0074rxid\":1}}", NULL, '{'},
    {"[{\"\\u006dethod\":1}]", RBGW_JSCAN_OK, NULL, NULL, NULL, '['},
    {"{\"method\":\"lookup\"", RBGW_JSCAN_INVALID, NULL, NULL, NULL, '{'},
    {"", RBGW_JSCAN_INVALID, NULL, NULL, NULL, '\0'},
    {"   ", RBGW_JSCAN_INVALID, NULL, NULL, NULL, '\0'},
};

static void
expect_found(struct rbgw_str got, const char *want, const char *what, const char *text)
{
    if (want == NULL) {
        cr_expect_null(got.p, "%s: %s should be absent, got [%.*s]", text, what, (int)got.len,
                       got.p ? got.p : "");
    } else {
        cr_expect(got.p && got.len == strlen(want) && memcmp(got.p, want, got.len) == 0,
                  "%s: %s is [%.*s], want [%s]", text, what, (int)got.len, got.p ? got.p : "",
                  want);
    }
}

/* One table, one test: each failure message names its row's text. */
Test(jsonscan, found_members)
{
    for (size_t i = 0; i < sizeof(found_cases) / sizeof(found_cases[0]); i++) {
        const struct found_case *c = &found_cases[i];
        struct rbgw_str f[3];
        char top = 'X';
        int rc = rbgw_json_scan(c->text, strlen(c->text), call_watch, 3, f, &top);
        cr_expect_eq(rc, c->rc, "%s: rc %d, want %d", c->text, rc, c->rc);
        cr_expect_eq(top, c->top, "%s: top '%c', want '%c'", c->text, top, c->top);
        if (rc == RBGW_JSCAN_OK && c->rc == RBGW_JSCAN_OK) {
            expect_found(f[0], c->method, "method", c->text);
            expect_found(f[1], c->params, "parameters", c->text);
            expect_found(f[2], c->trxid, "parameters.trxid", c->text);
        }
    }
}

/* ---- accepts exactly what rbgw_json_parse accepts ---- */

struct doc {
    const char *p;
    size_t len;
};

static const struct doc corpus[] = {
    {B("{\"method\":\"lookup\",\"parameters\":{\"qtype\":\"ANY\",\"qname\":\"www.example.com.\","
       "\"remote\":\"192.0.2.1\",\"local\":\"0.0.0.0\",\"real-remote\":\"192.0.2.1/32\","
       "\"zone-id\":-1}}")},
    {B("{\"result\":[{\"qtype\":\"A\",\"qname\":\"www.example.com.\",\"content\":\"192.0.2.1\","
       "\"ttl\":300,\"auth\":true,\"domain_id\":-1}],\"log\":[]}")},
    {B("{\"result\": false, \"log\": [\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"]}")},
    {B("{\"result\":{\"id\":1,\"zone\":\"example.com.\",\"serial\":2024010101,\"x\":null}}")},
    {B("{\"result\":\"\\u00e9\\ud83d\\ude00\\uDC00 raw \xc3\xa9 \xff\"}")},
    {B("[0, -0, 1.5, -2.25e10, 3E-7, 4e+2, 12345678901234567890123]")},
    {B(" \t\r\n{ \"a\" : [ ] , \"b\" : { } , \"c\" : [ true , false , null ] } \n")},
    {B("\"top-level string\"")},
    {B("true")},
    {B("{\"method\":\"setDomainMetadata\",\"parameters\":{\"name\":\"ex.\",\"kind\":\"K\","
       "\"value\":[\"1\",\"2\"],\"trxid\":1700000000}}")},
};

/* Bytes that move a JSON lexer between states. */
static const char interesting[] = "\"\\{}[]:,0-1.eE+tfnu ";
static const char extra[] = {'\f', '\v', '\x01', '\x1f', '\x7f', '\x80', '\0', '/', 'D', 'x'};

static int checked;

/* The text of a tree node's type, for messages. */
static const char *
type_name(enum rbgw_json_type t)
{
    static const char *const n[] = {"null", "false", "true", "number", "string", "array", "object"};
    return n[t];
}

/* The type a value's text starts with. */
static enum rbgw_json_type
type_of_text(struct rbgw_str s)
{
    switch (s.len ? s.p[0] : 'n') {
    case 'n':
        return RBGW_JSON_NULL;
    case 'f':
        return RBGW_JSON_FALSE;
    case 't':
        return RBGW_JSON_TRUE;
    case '"':
        return RBGW_JSON_STRING;
    case '[':
        return RBGW_JSON_ARRAY;
    case '{':
        return RBGW_JSON_OBJECT;
    default:
        return RBGW_JSON_NUMBER;
    }
}

/*
 * rbgw_json_scan_items against the tree: it splits exactly the containers the parser accepts,
 * into as many children as the tree has, each span a value of the child's type (the whole span:
 * its own text parses to a node of that type).  root is NULL when the parser refused.
 */
static void
check_items(const char *p, size_t len, const struct rbgw_json *root)
{
    struct rbgw_str items[64];
    size_t n = 99;
    int rc = rbgw_json_scan_items(p, len, items, RBGW_NELEM(items), &n);
    bool container = root && (root->type == RBGW_JSON_ARRAY || root->type == RBGW_JSON_OBJECT);
    if ((rc == RBGW_JSCAN_OK) != container) {
        cr_assert_fail("items %s a %s: %s", rc == RBGW_JSCAN_OK ? "splits" : "refuses",
                       root ? type_name(root->type) : "refused text", rbgw_test_show(p, len));
    }
    if (!container) {
        if (n != 0) {
            cr_assert_fail("refused, but n = %zu: %s", n, rbgw_test_show(p, len));
        }
        return;
    }
    if (n != root->n) {
        cr_assert_fail("items: %zu children, the tree %zu: %s", n, root->n, rbgw_test_show(p, len));
    }
    size_t k = 0;
    for (const struct rbgw_json *c = root->child; c != NULL && k < RBGW_NELEM(items);
         c = c->next, k++) {
        struct rbgw_arena a;
        rbgw_arena_init(&a);
        struct rbgw_json *v;
        char err[160];
        if (rbgw_json_parse(&a, items[k].p, items[k].len, &v, err, sizeof(err)) != 0 ||
            v->type != c->type || type_of_text(items[k]) != c->type ||
            (items[k].len && (items[k].p[items[k].len - 1] == ' '))) {
            cr_assert_fail("item %zu is not the child's text (%s): [%.*s] in %s", k,
                           type_name(c->type), (int)items[k].len, items[k].p,
                           rbgw_test_show(p, len));
        }
        rbgw_arena_free(&a);
    }
}

/* Are two trees the same, node for node?  Keys and values compared as bytes. */
static bool
same_tree(const struct rbgw_json *x, const struct rbgw_json *y)
{
    for (; x != NULL && y != NULL; x = x->next, y = y->next) {
        if (x->type != y->type || x->n != y->n || x->key.len != y->key.len ||
            (x->key.len && memcmp(x->key.p, y->key.p, x->key.len) != 0) ||
            x->str.len != y->str.len || (x->str.len && memcmp(x->str.p, y->str.p, x->str.len)) ||
            !same_tree(x->child, y->child)) {
            return false;
        }
    }
    return x == NULL && y == NULL;
}

/* rbgw_json_parse_valid on a text the scanner accepted, against the parser's tree. */
static void
check_valid_tree(const char *p, size_t len, const struct rbgw_json *parsed)
{
    struct rbgw_arena a;
    rbgw_arena_init(&a);
    struct rbgw_json *v = NULL;
    int rc = rbgw_json_parse_valid(&a, p, len, &v);
    bool escapes = memchr(p, '\\', len) != NULL;
    if (escapes && rc != -1) {
        cr_assert_fail("parse_valid built a tree for a text with escapes: %s",
                       rbgw_test_show(p, len));
    }
    if (!escapes && (rc != 0 || !same_tree(v, parsed))) {
        cr_assert_fail("parse_valid %s: %s", rc != 0 ? "refused" : "built another tree",
                       rbgw_test_show(p, len));
    }
    rbgw_arena_free(&a);
}

static void
check_same(const char *p, size_t len)
{
    struct rbgw_arena a;
    rbgw_arena_init(&a);
    struct rbgw_json *root;
    char err[160];
    bool parsed = rbgw_json_parse(&a, p, len, &root, err, sizeof(err)) == 0;
    check_items(p, len, parsed ? root : NULL);
    if (parsed) {
        check_valid_tree(p, len, root);
    }
    rbgw_arena_free(&a);
    /* Plain ifs on the passing path: ctest runs Criterion with --full-stats, which reports
     * every assertion, and this runs for tens of thousands of documents. */
    int rc = rbgw_json_scan(p, len, NULL, 0, NULL, NULL);
    if (rc == RBGW_JSCAN_UNSURE) {
        cr_assert_fail("UNSURE with nothing watched: %s", rbgw_test_show(p, len));
    }
    bool scanned = rc == RBGW_JSCAN_OK;
    if (parsed != scanned) {
        cr_assert_fail("scanner %s, parser %s (%s): %s", scanned ? "accepts" : "refuses",
                       parsed ? "accepts" : "refuses", parsed ? "" : err, rbgw_test_show(p, len));
    }
    /* With a watch the verdict on valid input stays (or turns UNSURE on an escaped key). */
    static const struct rbgw_jscan_watch w[] = {{"result", NULL}, {"parameters", "trxid"}};
    struct rbgw_str f[2];
    int rc2 = rbgw_json_scan(p, len, w, 2, f, NULL);
    if (rc2 != rc && rc2 != RBGW_JSCAN_UNSURE) {
        cr_assert_fail("watching changed the verdict: %s", rbgw_test_show(p, len));
    }
    checked++;
}

static void
mutate_with(const struct doc *d, char *tmp, char c)
{
    for (size_t i = 0; i <= d->len; i++) {
        /* insert c before byte i */
        memcpy(tmp, d->p, i);
        tmp[i] = c;
        memcpy(tmp + i + 1, d->p + i, d->len - i);
        check_same(tmp, d->len + 1);
        if (i < d->len) {
            /* replace byte i with c */
            memcpy(tmp, d->p, d->len);
            tmp[i] = c;
            check_same(tmp, d->len);
        }
    }
}

Test(jsonscan, agrees_with_parser_on_every_one_byte_mutation)
{
    char tmp[512];
    checked = 0;
    for (size_t k = 0; k < sizeof(corpus) / sizeof(corpus[0]); k++) {
        const struct doc *d = &corpus[k];
        cr_assert_lt(d->len + 1, sizeof(tmp));
        check_same(d->p, d->len);
        for (size_t i = 0; i < d->len; i++) {
            /* delete byte i */
            memcpy(tmp, d->p, i);
            memcpy(tmp + i, d->p + i + 1, d->len - i - 1);
            check_same(tmp, d->len - 1);
            /* cut after byte i */
            check_same(d->p, i);
        }
        for (const char *c = interesting; *c; c++) {
            mutate_with(d, tmp, *c);
        }
        for (size_t e = 0; e < sizeof(extra); e++) {
            mutate_with(d, tmp, extra[e]);
        }
    }
    cr_expect_gt(checked, 10000, "only %d documents checked", checked);
}

static const char *const edge_cases[] = {
    "01",           "-",
    "-0",           "1.",
    ".5",           "1e",
    "1e+",          "+1",
    "0x1",          "tru",
    "nul",          "falsey",
    "[1,]",         "{\"a\":1,}",
    "{,}",          "[,1]",
    "{\"a\"}",      "{\"a\":}",
    "{1:2}",        "\"\\x\"",
    "\"\\u12\"",    "\"\\u12g4\"",
    "\"\\ud800\"",  "\"\\ud800\\u0041\"",
    "\"\\ud800x\"", "\"\\udbff\\udfff\"",
    "\"\\udc00\"",  "[]]",
    "{}}",          "[[]",
    "1 2",          "\"a\"\"b\"",
    "{\"a\":1}x",   "/*c*/1",
    "[1]//",        "NaN",
    "Infinity",     "-Infinity",
    "1e999",        "[\"\\/\"]",
    "\"\t\"",       "\"\x7f\"",
};

Test(jsonscan, agrees_with_parser_on_edge_cases)
{
    for (size_t i = 0; i < sizeof(edge_cases) / sizeof(edge_cases[0]); i++) {
        check_same(edge_cases[i], strlen(edge_cases[i]));
    }
}

Test(jsonscan, items_spans)
{
    struct rbgw_str it[4];
    size_t n;
    const char *t = " [ 1 , \"a,]\" , {\"k\": [2]} ,[] ] ";
    cr_assert_eq(rbgw_json_scan_items(t, strlen(t), it, 4, &n), RBGW_JSCAN_OK);
    cr_assert_eq(n, 4);
    cr_expect(rbgw_str_eq_cstr(it[0], "1"));
    cr_expect(rbgw_str_eq_cstr(it[1], "\"a,]\""));
    cr_expect(rbgw_str_eq_cstr(it[2], "{\"k\": [2]}"));
    cr_expect(rbgw_str_eq_cstr(it[3], "[]"));
    /* object: the values, keys skipped (escaped ones too), repeated keys each counted */
    t = "{\"a\":1,\"\\u0062\" : \"x\",\"a\":null}";
    cr_assert_eq(rbgw_json_scan_items(t, strlen(t), it, 4, &n), RBGW_JSCAN_OK);
    cr_assert_eq(n, 3);
    cr_expect(rbgw_str_eq_cstr(it[0], "1"));
    cr_expect(rbgw_str_eq_cstr(it[1], "\"x\""));
    cr_expect(rbgw_str_eq_cstr(it[2], "null"));
    /* more children than room: counted, the first max written */
    t = "[1,2,3,4,5,6]";
    it[2] = RBGW_STR("untouched");
    cr_assert_eq(rbgw_json_scan_items(t, strlen(t), it, 2, &n), RBGW_JSCAN_OK);
    cr_expect_eq(n, 6);
    cr_expect(rbgw_str_eq_cstr(it[1], "2") && rbgw_str_eq_cstr(it[2], "untouched"));
    cr_expect_eq(rbgw_json_scan_items("{}", 2, it, 4, &n), RBGW_JSCAN_OK);
    cr_expect_eq(n, 0);
    cr_expect_eq(rbgw_json_scan_items("[1] x", 5, it, 4, &n), RBGW_JSCAN_INVALID);
    cr_expect_eq(rbgw_json_scan_items("\"s\"", 3, it, 4, &n), RBGW_JSCAN_INVALID);
    cr_expect_eq(n, 0);
}

static size_t
nested(char *out, int depth, const char *open, const char *close)
{
    size_t n = 0;
    for (int i = 0; i < depth; i++) {
        out[n++] = open[i % 2];
    }
    for (int i = depth - 1; i >= 0; i--) {
        out[n++] = close[i % 2];
    }
    return n;
}

Test(jsonscan, nesting_limit_is_the_parsers)
{
    char text[1400];
    size_t n = nested(text, 200, "[[", "]]");
    cr_expect_eq(rbgw_json_scan(text, n, NULL, 0, NULL, NULL), RBGW_JSCAN_OK, "200 levels");
    check_same(text, n);
    n = nested(text, 201, "[[", "]]");
    cr_expect_eq(rbgw_json_scan(text, n, NULL, 0, NULL, NULL), RBGW_JSCAN_INVALID, "201 levels");
    check_same(text, n);
    /* objects count too */
    size_t m = 0;
    for (int i = 0; i < 201; i++) {
        memcpy(text + m, "{\"k\":", 5);
        m += 5;
    }
    text[m++] = '1';
    memset(text + m, '}', 201);
    m += 201;
    cr_assert_lt(m, sizeof(text) + 1);
    cr_expect_eq(rbgw_json_scan(text, m, NULL, 0, NULL, NULL), RBGW_JSCAN_INVALID);
    check_same(text, m);
}

/* ---- limits (max-json-depth, max-json-elements) ---- */

static size_t
tree_values(const struct rbgw_json *v)
{
    size_t n = 1;
    for (const struct rbgw_json *c = v->child; c != NULL; c = c->next) {
        n += tree_values(c);
    }
    return n;
}

static uint32_t
tree_depth(const struct rbgw_json *v)
{
    if (v->type != RBGW_JSON_ARRAY && v->type != RBGW_JSON_OBJECT) {
        return 0;
    }
    uint32_t d = 0;
    for (const struct rbgw_json *c = v->child; c != NULL; c = c->next) {
        uint32_t cd = tree_depth(c);
        d = cd > d ? cd : d;
    }
    return d + 1;
}

/* Scan and parse within lim: the same verdict (want: RBGW_JSCAN_OK, TOO_DEEP or TOO_MANY). */
static void
check_limited(const char *p, size_t len, struct rbgw_json_limits lim, int want)
{
    struct rbgw_arena a;
    rbgw_arena_init(&a);
    struct rbgw_json *root;
    enum rbgw_json_over over;
    char err[160];
    int prc = rbgw_json_parse_limited(&a, p, len, &lim, &root, &over, err, sizeof(err));
    rbgw_arena_free(&a);
    int src = rbgw_json_scan_limited(p, len, &lim, NULL, 0, 0, NULL, NULL);
    int pwant = want == RBGW_JSCAN_OK ? 0 : RBGW_ETOOBIG;
    enum rbgw_json_over owant = want == RBGW_JSCAN_TOO_DEEP   ? RBGW_JSON_OVER_DEPTH
                                : want == RBGW_JSCAN_TOO_MANY ? RBGW_JSON_OVER_ELEMENTS
                                                              : RBGW_JSON_OVER_NONE;
    if (src != want || prc != pwant || over != owant) {
        cr_assert_fail("depth %u, values %u: scan %d, parse %d (%s), want %d: %s", lim.max_depth,
                       lim.max_elements, src, prc, prc ? err : "ok", want, rbgw_test_show(p, len));
    }
}

/* A valid document at its own depth and count passes, one below either is refused, by the
 * scanner and the parser alike. */
static void
check_limits_of(const char *p, size_t len)
{
    struct rbgw_arena a;
    rbgw_arena_init(&a);
    struct rbgw_json *root;
    char err[160];
    if (rbgw_json_parse(&a, p, len, &root, err, sizeof(err)) != 0) {
        rbgw_arena_free(&a);
        return;
    }
    uint32_t n = (uint32_t)tree_values(root), d = tree_depth(root);
    rbgw_arena_free(&a);
    check_limited(p, len, (struct rbgw_json_limits){d, n}, RBGW_JSCAN_OK);
    check_limited(p, len, (struct rbgw_json_limits){d, n - 1}, RBGW_JSCAN_TOO_MANY);
    if (d > 0) {
        check_limited(p, len, (struct rbgw_json_limits){d - 1, n}, RBGW_JSCAN_TOO_DEEP);
    }
    checked++;
}

Test(jsonscan, limits_are_the_parsers)
{
    char tmp[512];
    checked = 0;
    for (size_t k = 0; k < sizeof(corpus) / sizeof(corpus[0]); k++) {
        const struct doc *d = &corpus[k];
        check_limits_of(d->p, d->len);
        for (size_t i = 0; i < d->len; i++) {
            memcpy(tmp, d->p, i);
            memcpy(tmp + i, d->p + i + 1, d->len - i - 1);
            check_limits_of(tmp, d->len - 1);
        }
    }
    static const char *const more[] = {
        "[]",
        "{}",
        "[[],[]]",
        "[{},{\"a\":{}}]",
        "[\"a,b\",\"[{\",\"\\\",[\\\\\"]",
        "{\"a\" : [ 1 , 2 , { } , [ ] ] , \"b\" : \"}\" }",
        "  [ [ [ 1 ] ] ]  ",
        "0",
    };
    for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
        check_limits_of(more[i], strlen(more[i]));
    }
    cr_expect_gt(checked, 100, "only %d documents checked", checked);
    /* The words of a refusal name the key. */
    struct rbgw_arena a;
    rbgw_arena_init(&a);
    struct rbgw_json *root;
    char err[160];
    struct rbgw_json_limits lim = {2, 100};
    cr_expect_eq(rbgw_json_parse_limited(&a, B("[[[1]]]"), &lim, &root, NULL, err, sizeof(err)),
                 RBGW_ETOOBIG);
    cr_expect_str_eq(err, "nesting deeper than 2 levels (max-json-depth)");
    lim = (struct rbgw_json_limits){200, 3};
    cr_expect_eq(rbgw_json_parse_limited(&a, B("[1,2,3]"), &lim, &root, NULL, err, sizeof(err)),
                 RBGW_ETOOBIG);
    cr_expect_str_eq(err, "more than 3 values (max-json-elements)");
    rbgw_arena_free(&a);
}

Test(jsonscan, unique_watches_refuse_a_second_member)
{
    static const struct rbgw_jscan_watch w[] = {{"method", NULL}, {"parameters", NULL}};
    struct rbgw_str f[2];
    static const struct {
        const char *text;
        int rc;
    } cases[] = {
        {"{\"method\":\"a\",\"method\":\"b\"}", RBGW_JSCAN_DUPLICATE},
        {"{\"method\":\"a\",\"parameters\":{},\"parameters\":null}", RBGW_JSCAN_DUPLICATE},
        {"{\"method\":\"a\",\"parameters\":{\"method\":1,\"method\":2}}", RBGW_JSCAN_OK},
        {"[{\"method\":1},{\"method\":2}]", RBGW_JSCAN_OK},
        {"{\"method\":\"a\",\"x\":1,\"x\":2}", RBGW_JSCAN_OK},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *t = cases[i].text;
        cr_expect_eq(rbgw_json_scan_limited(t, strlen(t), NULL, w, 2, 0x3u, f, NULL), cases[i].rc,
                     "%s", t);
        /* Without the unique bits the last one is noted, as before. */
        cr_expect_eq(rbgw_json_scan(t, strlen(t), w, 2, f, NULL), RBGW_JSCAN_OK, "%s", t);
    }
}

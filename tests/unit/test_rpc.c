/*
 * test_rpc.c: the JSON-RPC envelope (docs/protocol.md §1.3, §4.4, §8 items 2-3 and 12).
 *
 * What: decoding calls (which inputs are refused and why, "parameters" defaulting to {}),
 * vetting replies the way pdns reads them and flattening them to one line with the bytes
 * otherwise untouched, interpreting HTTP status + body, and the exact bytes of rbgw's own
 * {"result":false,"log":[...]} replies.
 *
 * Why exact bytes: replies are passed through to pdns; any change beyond newline flattening
 * (key order, number text, raw bytes, extra keys) would be a behaviour change visible to pdns.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rbgw/frame.h"
#include "rbgw/rpc.h"
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

TestSuite(rpc, .init = setup, .fini = teardown);

static bool
buf_is(const struct rbgw_buf *b, const char *p, size_t n)
{
    return b->len == n && (n == 0 || memcmp(b->data, p, n) == 0);
}

/* ---- rbgw_rpc_decode ---- */

struct decode_case {
    const char *name;
    const char *in;
    size_t inlen;
    const char *method; /* NULL: expect an error */
    const char *params; /* json11 form of the parameters object */
    const char *err;    /* substring of the error text */
};

static const struct decode_case decodes[] = {
    {"lookup",
     B("{\"method\":\"lookup\",\"parameters\":{\"qtype\":\"ANY\",\"qname\":\"www.example.com.\","
       "\"zone-id\":-1}}"),
     "lookup", "{\"qname\": \"www.example.com.\", \"qtype\": \"ANY\", \"zone-id\": -1}", NULL},
    {"pdns spacing", B("{\"method\": \"initialize\", \"parameters\": {\"path\": \"/x\"}}\n"),
     "initialize", "{\"path\": \"/x\"}", NULL},
    {"parameters first", B("{\"parameters\":{},\"method\":\"getAllDomains\"}"), "getAllDomains",
     "{}", NULL},
    {"parameters absent", B("{\"method\":\"getAllDomains\"}"), "getAllDomains", "{}", NULL},
    {"parameters null (lenient)", B("{\"method\":\"m\",\"parameters\":null}"), "m", "{}", NULL},
    {"extra keys ignored", B("{\"method\":\"m\",\"parameters\":{\"a\":1},\"id\":7}"), "m",
     "{\"a\": 1}", NULL},
    {"unknown method passes", B("{\"method\":\"APILookup\",\"parameters\":{}}"), "APILookup", "{}",
     NULL},
    {"escaped method decoded", B("{\"method\":\"a\\u0062c\"}"), "abc", "{}", NULL},
    {"duplicate method refused", B("{\"method\":\"a\",\"method\":\"b\"}"), NULL, NULL,
     "'method' 2 times"},
    {"duplicate parameters refused",
     B("{\"method\":\"lookup\",\"parameters\":{\"qname\":\"a.\"},\"parameters\":{}}"), NULL, NULL,
     "'parameters' 2 times"},
    {"method twice, second one after the parameters",
     B("{\"method\":\"lookup\",\"parameters\":{\"qname\":\"a.\"},\"method\":\"list\"}"), NULL, NULL,
     "'method' 2 times"},
    {"duplicate keys inside parameters: the last one",
     B("{\"method\":\"m\",\"parameters\":"
       "{\"q\":1,\"q\":2}}"),
     "m", "{\"q\": 2}", NULL},
    {"raw bytes in parameters",
     B("{\"method\":\"feedEnts3\",\"parameters\":{\"salt\":\"\xab\xff\"}}"), "feedEnts3",
     "{\"salt\": \"\xab\xff\"}", NULL},

    {"not JSON", B("lookup please"), NULL, NULL, "not valid JSON"},
    {"empty", B(""), NULL, NULL, "not valid JSON"},
    {"truncated", B("{\"method\":\"lookup\""), NULL, NULL, "not valid JSON"},
    {"trailing garbage", B("{\"method\":\"m\"} x"), NULL, NULL, "not valid JSON"},
    {"comment", B("{\"method\":\"m\"/*c*/}"), NULL, NULL, "not valid JSON"},
    {"array", B("[{\"method\":\"m\"}]"), NULL, NULL, "not a JSON object"},
    {"string", B("\"lookup\""), NULL, NULL, "not a JSON object"},
    {"number", B("1"), NULL, NULL, "not a JSON object"},
    {"no method", B("{\"parameters\":{}}"), NULL, NULL, "'method'"},
    {"empty object", B("{}"), NULL, NULL, "'method'"},
    {"method number", B("{\"method\":1}"), NULL, NULL, "string 'method'"},
    {"method null", B("{\"method\":null}"), NULL, NULL, "string 'method'"},
    {"method array", B("{\"method\":[\"lookup\"]}"), NULL, NULL, "string 'method'"},
    {"method case", B("{\"Method\":\"lookup\"}"), NULL, NULL, "'method'"},
    {"empty method", B("{\"method\":\"\"}"), NULL, NULL, "empty 'method'"},
    {"parameters array", B("{\"method\":\"m\",\"parameters\":[]}"), NULL, NULL,
     "'parameters' is not an object"},
    {"parameters string", B("{\"method\":\"m\",\"parameters\":\"{}\"}"), NULL, NULL,
     "'parameters' is not an object"},
    {"parameters number", B("{\"method\":\"m\",\"parameters\":0}"), NULL, NULL,
     "'parameters' is not an object"},
    {"parameters false", B("{\"method\":\"m\",\"parameters\":false}"), NULL, NULL,
     "'parameters' is not an object"},
};

Test(rpc, decode_table)
{
    for (size_t i = 0; i < RBGW_NELEM(decodes); i++) {
        const struct decode_case *d = &decodes[i];
        struct rbgw_rpc_call call;
        memset(&call, 0, sizeof(call));
        char err[256] = "";
        int rc = rbgw_rpc_decode(&arena, d->in, d->inlen, &call, err, sizeof(err));
        if (d->method == NULL) {
            cr_expect_eq(rc, RBGW_EPARSE, "%s: accepted %s", d->name,
                         rbgw_test_show(d->in, d->inlen));
            cr_expect_not_null(strstr(err, d->err), "%s: error '%s' should contain '%s'", d->name,
                               err, d->err);
            continue;
        }
        cr_expect_eq(rc, 0, "%s: rejected: %s", d->name, err);
        if (rc != 0) {
            continue;
        }
        cr_expect(rbgw_str_eq_cstr(call.method, d->method), "%s: method %s, want %s", d->name,
                  rbgw_test_show(call.method.p, call.method.len), d->method);
        cr_assert_not_null(call.root, "%s: no root", d->name);
        cr_expect_eq(call.root->type, RBGW_JSON_OBJECT, "%s: root type", d->name);
        /* The method is a view into the tree, not a copy. */
        const struct rbgw_json *m = rbgw_json_get(call.root, "method");
        cr_expect(m && call.method.p == m->str.p, "%s: method is not a view into root", d->name);
        cr_assert_not_null(call.params, "%s: params NULL", d->name);
        cr_expect_eq(call.params->type, RBGW_JSON_OBJECT, "%s: params type %d", d->name,
                     (int)call.params->type);
        struct rbgw_buf b = RBGW_BUF_INIT;
        rbgw_json_write(&b, call.params);
        cr_expect(buf_is(&b, d->params, strlen(d->params)), "%s: params %s, want %s", d->name,
                  rbgw_test_show(b.data, b.len), rbgw_test_show(d->params, strlen(d->params)));
        rbgw_buf_free(&b);
    }
}

/* ---- rbgw_rpc_check_reply ---- */

struct reply_case {
    const char *name;
    const char *in;
    size_t inlen;
    const char *out; /* NULL: expect an error */
    size_t outlen;
    const char *err; /* substring of the error text */
};

#define OK(lit) (lit), (sizeof(lit) - 1), NULL
#define FAIL(sub) NULL, 0, (sub)

static const struct reply_case replies[] = {
    {"true", B("{\"result\":true}"), OK("{\"result\":true}")},
    {"pretty printed flattened",
     B("{\n  \"result\": [\n\t{\"qname\": \"a.\", \"ttl\": 300}\n  ],\r\n  \"log\": [\"x\"]\n}"),
     OK("{   \"result\": [ \t{\"qname\": \"a.\", \"ttl\": 300}   ],    \"log\": [\"x\"] }")},
    {"trailing whitespace trimmed", B("{\"result\":1}  \r\n\t \n"), OK("{\"result\":1}")},
    {"leading whitespace trimmed", B("\n\r\n \t{\"result\":1}"), OK("{\"result\":1}")},
    {"inner spacing kept", B("{ \"result\" :\t1 }"), OK("{ \"result\" :\t1 }")},
    {"extra keys and order kept", B("{\"z\":1,\"result\":false,\"a\":[1.50,2e0],\"id\":\"x\"}"),
     OK("{\"z\":1,\"result\":false,\"a\":[1.50,2e0],\"id\":\"x\"}")},
    {"raw non-utf8 kept", B("{\"result\":\"\xab\xff\"}"), OK("{\"result\":\"\xab\xff\"}")},
    {"escapes kept verbatim", B("{\"result\":\"a\\nb\\u00e9\\/\"}"),
     OK("{\"result\":\"a\\nb\\u00e9\\/\"}")},
    {"result 0", B("{\"result\":0}"), OK("{\"result\":0}")},
    {"result empty string", B("{\"result\":\"\"}"), OK("{\"result\":\"\"}")},
    {"result empty array", B("{\"result\":[]}"), OK("{\"result\":[]}")},
    {"result empty object", B("{\"result\":{}}"), OK("{\"result\":{}}")},
    {"result false with log", B("{\"result\":false,\"log\":[\"a\",1]}"),
     OK("{\"result\":false,\"log\":[\"a\",1]}")},
    {"duplicate result, last non-null", B("{\"result\":null,\"result\":1}"),
     OK("{\"result\":null,\"result\":1}")},
    {"false after log", B("{\"log\":[\"result\",false],\"result\":false}"),
     OK("{\"log\":[\"result\",false],\"result\":false}")},
    {"false only nested", B("{\"result\":{\"result\":false},\"x\":false}"),
     OK("{\"result\":{\"result\":false},\"x\":false}")},
    {"false as a string", B("{\"result\":\"false\"}"), OK("{\"result\":\"false\"}")},
    {"false then true", B("{\"result\":false,\"result\":true}"),
     OK("{\"result\":false,\"result\":true}")},
    {"true then false", B("{\"result\":true,\"result\":false}"),
     OK("{\"result\":true,\"result\":false}")},
    {"false, key escaped", B("{\"r\\u0065sult\":false}"), OK("{\"r\\u0065sult\":false}")},
    {"true, key escaped", B("{\"r\\u0065sult\":true}"), OK("{\"r\\u0065sult\":true}")},

    {"missing result", B("{\"log\":[\"x\"]}"), FAIL("no 'result'")},
    {"result wrong case", B("{\"Result\":true}"), FAIL("no 'result'")},
    {"null result", B("{\"result\":null}"), FAIL("null 'result'")},
    {"duplicate result, last null", B("{\"result\":1,\"result\":null}"), FAIL("null 'result'")},
    {"top-level true", B("true"), FAIL("not a JSON object")},
    {"top-level array", B("[]"), FAIL("not a JSON object")},
    {"top-level string", B("\"result\""), FAIL("not a JSON object")},
    {"empty", B(""), FAIL("not valid JSON")},
    {"blank", B(" \n "), FAIL("not valid JSON")},
    {"truncated", B("{\"result\":true"), FAIL("not valid JSON")},
    {"two replies", B("{\"result\":true}\n{\"result\":true}"), FAIL("not valid JSON")},
    {"html", B("<html>error</html>"), FAIL("not valid JSON")},
    {"trailing NUL", B("{\"result\":true}\0"), FAIL("not valid JSON")},
    {"comment", B("{\"result\":true} // ok"), FAIL("not valid JSON")},
};

/* What the tree parser reads as the reply's result: is it false?  The reference for the
 * said_false that vetting reports without a tree. */
static bool
tree_says_false(const char *in, size_t len)
{
    struct rbgw_json *root;
    char err[64];
    if (rbgw_json_parse(&arena, in, len, &root, err, sizeof(err)) != 0) {
        return false;
    }
    const struct rbgw_json *r = rbgw_json_get(root, "result");
    return r != NULL && r->type == RBGW_JSON_FALSE;
}

Test(rpc, check_reply_table)
{
    for (size_t i = 0; i < RBGW_NELEM(replies); i++) {
        const struct reply_case *r = &replies[i];
        struct rbgw_buf out = RBGW_BUF_INIT;
        rbgw_buf_append_cstr(&out, "PREFIX");
        char err[256] = "";
        bool said_false = !tree_says_false(r->in, r->inlen); /* poison: the wrong answer */
        int rc = rbgw_rpc_check_reply(&arena, rbgw_str_make(r->in, r->inlen), &out, &said_false,
                                      NULL, err, sizeof(err));
        if (r->out == NULL) {
            cr_expect_eq(rc, RBGW_EPARSE, "%s: accepted %s", r->name,
                         rbgw_test_show(r->in, r->inlen));
            cr_expect_not_null(strstr(err, r->err), "%s: error '%s' should contain '%s'", r->name,
                               err, r->err);
            cr_expect(buf_is(&out, "PREFIX", 6), "%s: out changed on error: %s", r->name,
                      rbgw_test_show(out.data, out.len));
        } else {
            cr_expect_eq(rc, 0, "%s: rejected: %s", r->name, err);
            cr_expect(out.len == 6 + r->outlen && memcmp(out.data, "PREFIX", 6) == 0 &&
                          memcmp(out.data + 6, r->out, r->outlen) == 0,
                      "%s: out %s, want PREFIX%s", r->name, rbgw_test_show(out.data, out.len),
                      rbgw_test_show(r->out, r->outlen));
            cr_expect_null(memchr(out.data, '\n', out.len), "%s: newline in output", r->name);
            cr_expect_eq(out.data[out.len], '\0', "%s: not NUL-terminated", r->name);
            cr_expect_eq(said_false, tree_says_false(r->in, r->inlen),
                         "%s: said_false %d, but the tree's result %s false", r->name, said_false,
                         said_false ? "is not" : "is");
        }
        rbgw_buf_free(&out);
    }
}

/* The responder's log lines are noted by the vetting pass: the text of a non-empty top-level
 * "log" array, as it stands in the flattened output, and nothing else.  Escaped top-level keys
 * send the reply through yajl, which must find the same array. */
static const struct {
    const char *name;
    const char *in;
    const char *log; /* expected text, NULL: none */
} reply_logs[] = {
    {"no log", "{\"result\":true}", NULL},
    {"empty log", "{\"result\":true,\"log\":[]}", NULL},
    {"blank log", "{\"result\":true,\"log\":[ \n ]}", NULL},
    {"one line", "{\"result\":true,\"log\":[\"a\"]}", "[\"a\"]"},
    {"before result", "{\"log\":[\"a\",\"b\"],\"result\":[]}", "[\"a\",\"b\"]"},
    {"result false", "{\"result\":false,\"log\":[\"no such zone\"]}", "[\"no such zone\"]"},
    {"flattened", "{\"result\":1,\"log\":[\n\"a\",\r\n1]}", "[ \"a\",  1]"},
    {"not an array", "{\"result\":true,\"log\":\"a\"}", NULL},
    {"an object", "{\"result\":true,\"log\":{\"a\":1}}", NULL},
    {"nested, not top-level", "{\"result\":{\"log\":[\"a\"]}}", NULL},
    {"repeated: the last wins", "{\"result\":1,\"log\":[\"a\"],\"log\":[]}", NULL},
    {"repeated: the last wins 2", "{\"result\":1,\"log\":[],\"log\":[\"b\"]}", "[\"b\"]"},
    {"escaped key (yajl)", "{\"l\\u006fg\":[\"a\",[1,[2]]],\"result\":true}", "[\"a\",[1,[2]]]"},
    {"escaped result (yajl)", "{\"res\\u0075lt\":true,\"log\":[\"x\"]}", "[\"x\"]"},
    {"escaped, empty (yajl)", "{\"res\\u0075lt\":true,\"log\":[]}", NULL},
    {"escaped, nested (yajl)", "{\"res\\u0075lt\":{\"log\":[1]}}", NULL},
    {"escaped, repeated: the last wins (yajl)", "{\"res\\u0075lt\":1,\"log\":[\"a\"],\"log\":5}",
     NULL},
    {"escaped, repeated: the last wins 2 (yajl)",
     "{\"res\\u0075lt\":1,\"log\":[\"a\"],\"log\":[\"b\"]}", "[\"b\"]"},
};

Test(rpc, check_reply_notes_log_lines)
{
    for (size_t i = 0; i < RBGW_NELEM(reply_logs); i++) {
        struct rbgw_buf out = RBGW_BUF_INIT;
        rbgw_buf_append_cstr(&out, "PREFIX");
        char err[256] = "";
        struct rbgw_str log = RBGW_STR("junk");
        int rc = rbgw_rpc_check_reply(&arena, rbgw_str_cstr(reply_logs[i].in), &out, NULL, &log,
                                      err, sizeof(err));
        cr_assert_eq(rc, 0, "%s: rejected: %s", reply_logs[i].name, err);
        if (reply_logs[i].log == NULL) {
            cr_expect(log.p == NULL && log.len == 0, "%s: log %s, want none", reply_logs[i].name,
                      rbgw_test_show(log.p, log.len));
        } else {
            cr_expect(rbgw_str_eq_cstr(log, reply_logs[i].log), "%s: log %s, want %s",
                      reply_logs[i].name, rbgw_test_show(log.p, log.len), reply_logs[i].log);
            cr_expect(log.p >= out.data + 6 && log.p + log.len <= out.data + out.len,
                      "%s: log is not a view into out", reply_logs[i].name);
        }
        rbgw_buf_free(&out);
    }
}

Test(rpc, from_http_notes_log_lines)
{
    struct rbgw_buf out = RBGW_BUF_INIT;
    const struct rbgw_json *tree;
    struct rbgw_str log;
    char err[256] = "";
    int rc = rbgw_rpc_from_http(&arena, 200, rbgw_str_cstr("{\"result\":true,\"log\":[\"a\"]}"),
                                &out, NULL, &log, &tree, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s", err);
    cr_expect(rbgw_str_eq_cstr(log, "[\"a\"]"), "log %s", rbgw_test_show(log.p, log.len));
    cr_expect_null(tree);
    rbgw_buf_reset(&out);
    rc = rbgw_rpc_from_http(&arena, 500, rbgw_str_cstr("{\"result\":false,\"log\":[\"b\"]}"), &out,
                            NULL, &log, &tree, err, sizeof(err));
    cr_expect_eq(rc, RBGW_EPROTO);
    cr_expect(log.p == NULL, "a refused reply's lines come as the tree");
    cr_expect(tree != NULL && tree->type == RBGW_JSON_ARRAY && tree->n == 1);
    rbgw_buf_reset(&out);
    rc = rbgw_rpc_from_http(&arena, 204, rbgw_str_cstr(""), &out, NULL, &log, &tree, err,
                            sizeof(err));
    cr_expect_eq(rc, 0, "%s", err);
    cr_expect(log.p == NULL);
    rbgw_buf_free(&out);
}

/* pdns's json11 allows only space, \t, \r and \n around and between tokens (§1.4); yajl also
 * skips \f and \v.  Whatever check_reply lets through goes to pdns as is, so it must not
 * carry those bytes outside strings: either refuse the reply or remove them. */
static const struct {
    const char *name;
    const char *in;
} odd_ws[] = {
    {"trailing form feed", "{\"result\":true}\f"},
    {"leading vertical tab", "\v{\"result\":true}"},
    {"form feed between tokens", "{\"result\":\ftrue}"},
};

Test(rpc, check_reply_never_forwards_ff_vt)
{
    for (size_t i = 0; i < RBGW_NELEM(odd_ws); i++) {
        struct rbgw_buf out = RBGW_BUF_INIT;
        char err[256] = "";
        int rc = rbgw_rpc_check_reply(&arena, rbgw_str_cstr(odd_ws[i].in), &out, NULL, NULL, err,
                                      sizeof(err));
        if (rc == 0) {
            cr_expect(out.len > 0 && memchr(out.data, '\f', out.len) == NULL &&
                          memchr(out.data, '\v', out.len) == NULL,
                      "%s: forwarded %s, which pdns rejects", odd_ws[i].name,
                      rbgw_test_show(out.data, out.len));
        }
        rbgw_buf_free(&out);
    }
}

/* ---- rbgw_rpc_from_http ---- */

struct http_case {
    const char *name;
    int status;
    const char *body;
    size_t bodylen;
    const char *out; /* NULL: expect an error */
    size_t outlen;
    const char *err; /* substrings of the error text, '|'-separated */
    const char *log; /* json11 form of *log, or NULL when *log must be NULL */
};

#define HOK(lit) (lit), (sizeof(lit) - 1), NULL, NULL
#define HFAIL(sub, log) NULL, 0, (sub), (log)

static const struct http_case https[] = {
    {"200 json", 200, B("{\"result\":true}"), HOK("{\"result\":true}")},
    {"204 json", 204, B("{\"result\":[]}"), HOK("{\"result\":[]}")},
    {"302 json used as reply", 302, B("{\"result\":{\"a\":1}}"), HOK("{\"result\":{\"a\":1}}")},
    {"399 json", 399, B("{\"result\":1}"), HOK("{\"result\":1}")},
    {"404 json false", 404, B("{\"result\":false}"), HOK("{\"result\":false}")},
    {"404 json data", 404, B("{\"result\":[1],\"log\":[\"l\"]}"),
     HOK("{\"result\":[1],\"log\":[\"l\"]}")},
    {"200 pretty flattened", 200, B("{\n\"result\": true\n}\n"), HOK("{ \"result\": true }")},
    {"200 extra keys kept", 200, B("{\"b\":1,\"result\":2.0,\"a\":\"\xff\"}"),
     HOK("{\"b\":1,\"result\":2.0,\"a\":\"\xff\"}")},
    {"200 empty body", 200, B(""), HOK("{\"result\":true}")},
    {"204 empty body", 204, B(""), HOK("{\"result\":true}")},
    {"200 blank body", 200, B(" \r\n"), HOK("{\"result\":true}")},
    {"299 empty body", 299, B(""), HOK("{\"result\":true}")},

    {"404 empty body", 404, B(""), HFAIL("404|empty", NULL)},
    {"302 empty body", 302, B(""), HFAIL("302|empty", NULL)},
    {"300 empty body", 300, B(""), HFAIL("300", NULL)},
    {"500 json with log", 500, B("{\"result\":false,\"log\":[\"boom\",\"x\"]}"),
     HFAIL("500", "[\"boom\", \"x\"]")},
    {"500 json with log, pretty", 500, B("\n{\n \"log\": [1, \"two\"]\n}\n"),
     HFAIL("500", "[1, \"two\"]")},
    {"500 json log not array", 500, B("{\"result\":false,\"log\":\"boom\"}"), HFAIL("500", NULL)},
    {"500 json array body", 500, B("[\"log\"]"), HFAIL("500", NULL)},
    {"500 empty", 500, B(""), HFAIL("500", NULL)},
    {"503 html", 503, B("<html><body>down</body></html>"), HFAIL("503", NULL)},
    {"100 continue", 100, B("{\"result\":true}"), HFAIL("100", NULL)},
    {"199", 199, B("{\"result\":true}"), HFAIL("199", NULL)},
    {"400", 400, B("{\"result\":true}"), HFAIL("400", NULL)},
    {"403", 403, B("{\"result\":true,\"log\":[\"no\"]}"), HFAIL("403", "[\"no\"]")},
    {"405", 405, B("{\"result\":false}"), HFAIL("405", NULL)},
    {"0", 0, B("{\"result\":true}"), HFAIL("0", NULL)},
    {"200 html", 200, B("<html><body>It works</body></html>"), HFAIL("200|not valid JSON", NULL)},
    {"404 html", 404, B("<h1>Not Found</h1>"), HFAIL("404|not valid JSON", NULL)},
    {"200 null result with log", 200, B("{\"result\":null,\"log\":[\"why\"]}"),
     HFAIL("null 'result'", "[\"why\"]")},
    {"200 no result with log", 200, B("{\"log\":[\"l\"]}"), HFAIL("no 'result'", "[\"l\"]")},
    {"200 no result", 200, B("{\"ok\":true}"), HFAIL("no 'result'", NULL)},
    {"200 array", 200, B("[1,2]"), HFAIL("not a JSON object", NULL)},
    {"200 two documents", 200, B("{\"result\":1}{\"result\":2}"), HFAIL("not valid JSON", NULL)},
};

static void
expect_err_parts(const char *name, const char *err, const char *parts)
{
    char tmp[128];
    snprintf(tmp, sizeof(tmp), "%s", parts);
    for (char *save = NULL, *p = strtok_r(tmp, "|", &save); p; p = strtok_r(NULL, "|", &save)) {
        cr_expect_not_null(strstr(err, p), "%s: error '%s' should contain '%s'", name, err, p);
    }
}

Test(rpc, from_http_table)
{
    for (size_t i = 0; i < RBGW_NELEM(https); i++) {
        const struct http_case *h = &https[i];
        struct rbgw_buf out = RBGW_BUF_INIT;
        rbgw_buf_append_cstr(&out, "PREFIX");
        const struct rbgw_json *log = (const struct rbgw_json *)&out; /* poison */
        char err[256] = "";
        bool said_false = true;
        int rc = rbgw_rpc_from_http(&arena, h->status, rbgw_str_make(h->body, h->bodylen), &out,
                                    &said_false, NULL, &log, err, sizeof(err));
        if (h->out != NULL) {
            cr_expect_eq(rc, 0, "%s: rejected: %s", h->name, err);
            /* an empty body reads as true; otherwise the tree parser is the reference */
            cr_expect_eq(said_false, tree_says_false(h->body, h->bodylen),
                         "%s: said_false %d is wrong", h->name, said_false);
            cr_expect(out.len == 6 + h->outlen && memcmp(out.data + 6, h->out, h->outlen) == 0,
                      "%s: out %s, want PREFIX%s", h->name, rbgw_test_show(out.data, out.len),
                      rbgw_test_show(h->out, h->outlen));
            cr_expect_null(log, "%s: *log set on success", h->name);
        } else {
            cr_expect_eq(rc, RBGW_EPROTO, "%s: accepted (rc %d) %s", h->name, rc,
                         rbgw_test_show(h->body, h->bodylen));
            expect_err_parts(h->name, err, h->err);
            cr_expect(buf_is(&out, "PREFIX", 6), "%s: out changed on error: %s", h->name,
                      rbgw_test_show(out.data, out.len));
            if (h->log == NULL) {
                cr_expect_null(log, "%s: *log should be NULL", h->name);
            } else {
                cr_expect_not_null(log, "%s: *log should be %s", h->name, h->log);
                if (log != NULL && log != (const struct rbgw_json *)&out) {
                    struct rbgw_buf lb = RBGW_BUF_INIT;
                    rbgw_json_write(&lb, log);
                    cr_expect(buf_is(&lb, h->log, strlen(h->log)), "%s: *log %s, want %s", h->name,
                              rbgw_test_show(lb.data, lb.len), h->log);
                    rbgw_buf_free(&lb);
                }
            }
        }
        rbgw_buf_free(&out);
    }
}

/* ---- rbgw_rpc_error_reply ---- */

struct errrep_case {
    const char *name;
    const char *reason;
    const char *extra; /* JSON text of the extra log array, or NULL */
    const char *want;
    size_t wantlen;
};

static const struct errrep_case errreps[] = {
    {"plain", "upstream timed out", NULL,
     B("{\"result\":false,\"log\":[\"rbgw: upstream timed out\"]}")},
    {"quotes newline backslash", "say \"hi\"\nthen\\go\ttab", NULL,
     B("{\"result\":false,\"log\":[\"rbgw: say \\\"hi\\\"\\nthen\\\\go\\ttab\"]}")},
    {"control and raw bytes", "a\x01z\x7f\xff\xe2\x80\xa8", NULL,
     B("{\"result\":false,\"log\":[\"rbgw: a\\u0001z\x7f\xff\\u2028\"]}")},
    {"empty reason", "", NULL, B("{\"result\":false,\"log\":[\"rbgw: \"]}")},
    {"extra log lines", "HTTP status 500", "[\"boom\",\"two \\\"q\\\"\\n\"]",
     B("{\"result\":false,\"log\":[\"rbgw: HTTP status 500\",\"boom\",\"two \\\"q\\\"\\n\"]}")},
    {"extra empty", "x", "[]", B("{\"result\":false,\"log\":[\"rbgw: x\"]}")},
    {"extra non-strings", "x", "[1, {\"b\":2,\"a\":null}, \"\\u0002\"]",
     B("{\"result\":false,\"log\":[\"rbgw: x\",1,{\"a\": null, \"b\": 2},\"\\u0002\"]}")},
};

Test(rpc, error_reply_exact_bytes)
{
    for (size_t i = 0; i < RBGW_NELEM(errreps); i++) {
        const struct errrep_case *e = &errreps[i];
        const struct rbgw_json *extra = NULL;
        if (e->extra) {
            struct rbgw_json *x = NULL;
            char err[256] = "";
            cr_assert_eq(rbgw_json_parse(&arena, e->extra, strlen(e->extra), &x, err, sizeof(err)),
                         0, "%s: bad fixture: %s", e->name, err);
            extra = x;
        }
        struct rbgw_buf out = RBGW_BUF_INIT;
        rbgw_buf_append_cstr(&out, "P");
        rbgw_rpc_error_reply(&out, e->reason, extra);
        cr_expect(out.len == 1 + e->wantlen && out.data[0] == 'P' &&
                      memcmp(out.data + 1, e->want, e->wantlen) == 0,
                  "%s: wrote %s\nwant      P%s", e->name, rbgw_test_show(out.data, out.len),
                  rbgw_test_show(e->want, e->wantlen));
        cr_expect_eq(out.data[out.len], '\0', "%s: not NUL-terminated", e->name);

        /* pdns must accept it: one line, a JSON object, result exactly false. */
        cr_expect_null(memchr(out.data, '\n', out.len), "%s: raw newline", e->name);
        struct rbgw_buf vetted = RBGW_BUF_INIT;
        char err[256] = "";
        bool said_false = false;
        int rc = rbgw_rpc_check_reply(&arena, rbgw_str_make(out.data + 1, out.len - 1), &vetted,
                                      &said_false, NULL, err, sizeof(err));
        cr_expect_eq(rc, 0, "%s: own error reply fails vetting: %s", e->name, err);
        cr_expect(said_false, "%s: own error reply not seen as false", e->name);
        struct rbgw_json *root = NULL;
        if (rbgw_json_parse(&arena, out.data + 1, out.len - 1, &root, err, sizeof(err)) == 0) {
            const struct rbgw_json *r = rbgw_json_get(root, "result");
            cr_expect(r && r->type == RBGW_JSON_FALSE, "%s: result is not false", e->name);
        }
        rbgw_buf_free(&vetted);
        rbgw_buf_free(&out);
    }
}

/* ---- rbgw_rpc_peek: what routing reads without a tree ---- */

static const struct peek_case {
    const char *name;
    const char *in;
    int rc;             /* 0 or -1 (fall back to the full decoder) */
    const char *method; /* expected method when rc == 0 */
    const char *trxid;  /* expected trxid text ("" for none) */
} peek_cases[] = {
    {"pdns lookup",
     "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"a.\", \"zone-id\": -1}}", 0, "lookup",
     ""},
    {"trxid number",
     "{\"method\": \"feedRecord\", \"parameters\": {\"rr\": {\"a\": [1, {\"b\": \"}\"}]}, "
     "\"trxid\": 1795625189}}",
     0, "feedRecord", "1795625189"},
    {"trxid negative", "{\"method\":\"commitTransaction\",\"parameters\":{\"trxid\":-1}}", 0,
     "commitTransaction", "-1"},
    {"trxid as string is not a number", "{\"method\":\"x\",\"parameters\":{\"trxid\":\"5\"}}", 0,
     "x", ""},
    {"nested trxid ignored", "{\"method\":\"x\",\"parameters\":{\"rr\":{\"trxid\":5}}}", 0, "x",
     ""},
    {"method after parameters", "{\"parameters\": {}, \"method\": \"getAllDomains\"}", 0,
     "getAllDomains", ""},
    {"no parameters", "{\"method\":\"getTSIGKeys\"}", 0, "getTSIGKeys", ""},
    {"null parameters", "{\"method\":\"m\",\"parameters\":null}", 0, "m", ""},
    {"whitespace", " \r\n{ \"method\" : \"m\" , \"parameters\" : { } } \n", 0, "m", ""},
    {"escaped quote in a value", "{\"method\":\"m\",\"parameters\":{\"q\":\"a\\\"b\\\\\"}}", 0, "m",
     ""},
    {"escaped method: full decoder", "{\"method\":\"look\\u0075p\"}", -1, NULL, NULL},
    {"escaped key: full decoder", "{\"meth\\u006fd\":\"lookup\"}", -1, NULL, NULL},
    {"no method", "{\"parameters\":{}}", -1, NULL, NULL},
    {"empty method", "{\"method\":\"\"}", -1, NULL, NULL},
    {"method not a string", "{\"method\":5}", -1, NULL, NULL},
    {"parameters an array", "{\"method\":\"m\",\"parameters\":[]}", -1, NULL, NULL},
    {"not an object", "[\"method\"]", -1, NULL, NULL},
    {"garbage", "hello", -1, NULL, NULL},
    {"truncated", "{\"method\":\"m\",\"parameters\":{\"a\":", -1, NULL, NULL},
    {"trailing garbage", "{\"method\":\"m\"} x", -1, NULL, NULL},
    {"unterminated string", "{\"method\":\"m", -1, NULL, NULL},
    {"method twice: the decoder refuses", "{\"method\":\"a\",\"method\":\"b\"}", -1, NULL, NULL},
    {"parameters twice: the decoder refuses",
     "{\"method\":\"m\",\"parameters\":{\"trxid\":1},\"parameters\":{}}", -1, NULL, NULL},
    {"a key twice inside parameters", "{\"method\":\"m\",\"parameters\":{\"a\":1,\"a\":2}}", 0, "m",
     ""},
};

Test(rpc, peek_table)
{
    for (size_t i = 0; i < RBGW_NELEM(peek_cases); i++) {
        const struct peek_case *c = &peek_cases[i];
        struct rbgw_rpc_peek pk;
        int rc = rbgw_rpc_peek(c->in, strlen(c->in), &pk);
        cr_expect_eq(rc, c->rc, "%s: rc %d, want %d", c->name, rc, c->rc);
        if (rc != 0 || c->rc != 0) {
            continue;
        }
        cr_expect(rbgw_str_eq_cstr(pk.method, c->method), "%s: method '%.*s', want '%s'", c->name,
                  (int)pk.method.len, pk.method.p, c->method);
        cr_expect(rbgw_str_eq_cstr(pk.trxid, c->trxid), "%s: trxid '%.*s', want '%s'", c->name,
                  (int)pk.trxid.len, pk.trxid.p ? pk.trxid.p : "", c->trxid);
        cr_expect_eq(pk.mid, rbgw_method_lookup(rbgw_str_cstr(c->method)),
                     "%s: the method's row is looked up once, here", c->name);
    }
    struct rbgw_rpc_peek pk;
    cr_assert_eq(rbgw_rpc_peek(B("{\"method\":\"startTransaction\"}"), &pk), 0);
    cr_expect_eq(pk.mid, RBGW_M_START_TRANSACTION);
    cr_assert_eq(rbgw_rpc_peek(B("{\"method\":\"futureMethod\"}"), &pk), 0);
    cr_expect_eq(pk.mid, RBGW_M_UNKNOWN, "unknown, the name still there");
    cr_expect(rbgw_str_eq_cstr(pk.method, "futureMethod"));
    /* an escaped name is the decoder's: it looks up the decoded text */
    struct rbgw_rpc_call call;
    char err[200];
    cr_assert_eq(
        rbgw_rpc_decode(&arena, B("{\"method\":\"look\\u0075p\"}"), &call, err, sizeof(err)), 0,
        "%s", err);
    cr_expect_eq(call.mid, RBGW_M_LOOKUP);
}

/* The parameters' text, for the read cache's keys (cache.h): the value as written, or none. */
Test(rpc, peek_params)
{
    static const struct {
        const char *in;
        const char *params; /* NULL: none */
    } rows[] = {
        {"{\"method\": \"lookup\", \"parameters\": {\"qname\": \"a.\", \"zone-id\": -1}}",
         "{\"qname\": \"a.\", \"zone-id\": -1}"},
        {"{\"parameters\" : { } , \"method\":\"m\"}", "{ }"},
        {"{\"method\":\"m\",\"parameters\":null}", "null"},
        {"{\"method\":\"getTSIGKeys\"}", NULL},
    };
    for (size_t i = 0; i < RBGW_NELEM(rows); i++) {
        struct rbgw_rpc_peek pk;
        cr_assert_eq(rbgw_rpc_peek(rows[i].in, strlen(rows[i].in), &pk), 0, "%s", rows[i].in);
        if (rows[i].params == NULL) {
            cr_expect_null(pk.params.p, "%s", rows[i].in);
        } else {
            cr_expect(rbgw_str_eq_cstr(pk.params, rows[i].params), "%s: params '%.*s'", rows[i].in,
                      (int)pk.params.len, pk.params.p ? pk.params.p : "");
        }
    }
}

/* Whatever peek accepts, the full decoder must agree on the method (peek never invents one). */
Test(rpc, peek_agrees_with_decode)
{
    for (size_t i = 0; i < RBGW_NELEM(peek_cases); i++) {
        const struct peek_case *c = &peek_cases[i];
        struct rbgw_rpc_peek pk;
        if (rbgw_rpc_peek(c->in, strlen(c->in), &pk) != 0) {
            continue;
        }
        struct rbgw_rpc_call call;
        char err[200];
        int rc = rbgw_rpc_decode(&arena, c->in, strlen(c->in), &call, err, sizeof(err));
        cr_expect_eq(rc, 0, "%s: peek accepted what decode refuses: %s", c->name, err);
        if (rc == 0) {
            cr_expect(rbgw_str_eq(call.method, pk.method), "%s: methods differ", c->name);
            cr_expect_eq(call.mid, pk.mid, "%s: method rows differ", c->name);
        }
    }
}

/* max-json-depth and max-json-elements on both directions: a call past them is refused by the
 * peek and explained by the decoder (RBGW_ETOOBIG, naming the key), a reply past them is
 * RBGW_ETOOBIG naming the key, from the scan alone; within them nothing changes. */
Test(rpc, json_limits_both_ways)
{
    const struct rbgw_json_limits lim = {3, 8};
    struct rbgw_rpc_peek pk;
    struct rbgw_rpc_call call;
    char err[200];
    /* 3 deep, 6 values: fine */
    static const char ok[] = "{\"method\":\"m\",\"parameters\":{\"a\":[1,2]}}";
    cr_expect_eq(rbgw_rpc_peek_limited(B(ok), &lim, &pk), 0);
    memset(&call, 0, sizeof(call));
    cr_expect_eq(rbgw_rpc_decode_limited(&arena, B(ok), &lim, &call, err, sizeof(err)), 0, "%s",
                 err);
    /* 4 deep */
    static const char deep[] = "{\"method\":\"m\",\"parameters\":{\"a\":[[1]]}}";
    cr_expect_eq(rbgw_rpc_peek_limited(B(deep), &lim, &pk), -1);
    cr_expect_eq(rbgw_rpc_decode_limited(&arena, B(deep), &lim, &call, err, sizeof(err)),
                 RBGW_ETOOBIG);
    cr_expect_str_eq(err, "request refused: nesting deeper than 3 levels (max-json-depth)");
    cr_expect_eq(call.over, RBGW_JSON_OVER_DEPTH);
    cr_expect_eq(rbgw_rpc_peek(B(deep), &pk), 0, "no limits: json11's");
    /* 9 values */
    static const char many[] = "{\"method\":\"m\",\"parameters\":{\"a\":[1,2,3,4,5]}}";
    cr_expect_eq(rbgw_rpc_peek_limited(B(many), &lim, &pk), -1);
    cr_expect_eq(rbgw_rpc_decode_limited(&arena, B(many), &lim, &call, err, sizeof(err)),
                 RBGW_ETOOBIG);
    cr_expect_str_eq(err, "request refused: more than 8 values (max-json-elements)");
    cr_expect_eq(call.over, RBGW_JSON_OVER_ELEMENTS);

    struct rbgw_buf out = RBGW_BUF_INIT;
    enum rbgw_json_over over;
    bool said_false;
    cr_expect_eq(rbgw_rpc_check_reply_limited(&arena, rbgw_str_cstr("{\"result\":[1,2,3]}"), &lim,
                                              &over, &out, &said_false, NULL, err, sizeof(err)),
                 0, "%s", err);
    cr_expect_eq(over, RBGW_JSON_OVER_NONE);
    rbgw_buf_reset(&out);
    cr_expect_eq(rbgw_rpc_check_reply_limited(&arena, rbgw_str_cstr("{\"result\":[[[1]]]}"), &lim,
                                              &over, &out, &said_false, NULL, err, sizeof(err)),
                 RBGW_ETOOBIG);
    cr_expect_str_eq(err, "reply refused: nesting deeper than 3 levels (max-json-depth)");
    cr_expect_eq(over, RBGW_JSON_OVER_DEPTH);
    cr_expect_eq(out.len, 0, "a refused reply is not passed on");
    /* An invalid reply past a limit is refused for the limit too: the parser stops there. */
    cr_expect_eq(
        rbgw_rpc_check_reply_limited(&arena, rbgw_str_cstr("{\"result\":[1,2,3,4,5,6,7,8,9,x]}"),
                                     &lim, &over, &out, &said_false, NULL, err, sizeof(err)),
        RBGW_ETOOBIG);
    cr_expect_eq(over, RBGW_JSON_OVER_ELEMENTS, "%s", err);
    const struct rbgw_json *log;
    cr_expect_eq(rbgw_rpc_from_http_limited(&arena, 200,
                                            rbgw_str_cstr("{\"result\":[1,2,3,4,5,6,7,8]}"), &lim,
                                            &over, &out, &said_false, NULL, &log, err, sizeof(err)),
                 RBGW_ETOOBIG);
    cr_expect_str_eq(err, "HTTP status 200, reply refused: more than 8 values (max-json-elements)");
    cr_expect_eq(over, RBGW_JSON_OVER_ELEMENTS);
    rbgw_buf_free(&out);
}

/* ---- framing and vetting in one pass (rbgw_rpc_peek_frame, rbgw_rpc_vet_frame) ----
 *
 * A stream reader tries the one-pass functions on its unread input and falls back to the frame
 * scanner plus the whole-document peek or check.  The one pass must never say anything the two
 * passes would not: same frame, same peek, same reply bytes, said_false and log.  Each corpus
 * text is tried whole, followed by the starts of other frames or garbage, and cut short at
 * every byte. */

static const char *const stream_suffixes[] = {
    "", "\n", "\r\n  ", "\n{\"method\":\"m\"}\n", "{\"result\":true}", "x", "}", "{", "\"", "\0",
};

/* The two-pass result on text[0..len): 1 and the frame when the scanner finds one. */
static int
two_pass_frame(const char *text, size_t len, size_t *start, size_t *end)
{
    struct rbgw_frame_scanner sc;
    rbgw_frame_scanner_init(&sc);
    return rbgw_frame_scan(&sc, text, len, start, end);
}

static int one_pass_calls, one_pass_replies;

static void
check_peek_frame(const char *text, size_t len, const struct rbgw_json_limits *lim)
{
    struct rbgw_rpc_peek one, two;
    size_t s1, e1, s2, e2;
    int rc1 = rbgw_rpc_peek_frame(text, len, lim, &one, &s1, &e1);
    bool framed = two_pass_frame(text, len, &s2, &e2) == 1;
    int rc2 = framed && text[s2] == '{' ? rbgw_rpc_peek_limited(text + s2, e2 - s2, lim, &two) : -1;
    cr_expect_eq(rc1, rc2, "one pass %d, two passes %d on %s", rc1, rc2, rbgw_test_show(text, len));
    if (rc1 != 0 || rc2 != 0) {
        return;
    }
    one_pass_calls++;
    cr_expect(s1 == s2 && e1 == e2, "frame [%zu,%zu), two passes [%zu,%zu) on %s", s1, e1, s2, e2,
              rbgw_test_show(text, len));
    cr_expect(one.method.p == two.method.p && one.method.len == two.method.len &&
                  one.mid == two.mid && one.trxid.p == two.trxid.p &&
                  one.trxid.len == two.trxid.len && one.params.p == two.params.p &&
                  one.params.len == two.params.len,
              "peeks differ on %s", rbgw_test_show(text, len));
}

static void
check_vet_frame(const char *text, size_t len, const struct rbgw_json_limits *lim)
{
    struct rbgw_rpc_vet v;
    size_t s1, e1, s2, e2;
    if (rbgw_rpc_vet_frame(text, len, lim, &v, &s1, &e1) != 0) {
        return; /* the fallback is the two passes themselves */
    }
    one_pass_replies++;
    cr_assert_eq(two_pass_frame(text, len, &s2, &e2), 1, "vetted what frames nothing: %s",
                 rbgw_test_show(text, len));
    cr_expect(s1 == s2 && e1 == e2, "frame [%zu,%zu), two passes [%zu,%zu) on %s", s1, e1, s2, e2,
              rbgw_test_show(text, len));
    struct rbgw_buf out1 = RBGW_BUF_INIT, out2 = RBGW_BUF_INIT;
    bool f1, f2;
    struct rbgw_str log1, log2;
    char err[256] = "";
    rbgw_rpc_reply_vetted(rbgw_str_make(text + s1, e1 - s1), &v, &out1, &f1, &log1);
    int rc = rbgw_rpc_check_reply_limited(&arena, rbgw_str_make(text + s2, e2 - s2), lim, NULL,
                                          &out2, &f2, &log2, err, sizeof(err));
    cr_expect_eq(rc, 0, "vetted what the check refuses (%s): %s", err, rbgw_test_show(text, len));
    cr_expect(rc != 0 ||
                  (out1.len == out2.len && memcmp(out1.data, out2.data, out1.len) == 0 &&
                   f1 == f2 && log1.len == log2.len && (log1.p == NULL) == (log2.p == NULL) &&
                   (log1.p == NULL || log1.p - out1.data == log2.p - out2.data)),
              "vetted reply differs from the check's on %s", rbgw_test_show(text, len));
    rbgw_buf_free(&out1);
    rbgw_buf_free(&out2);
}

/* Every corpus text, with every suffix, and every cut of it, through both checks. */
static void
one_pass_corpus(const char *in, size_t inlen, const struct rbgw_json_limits *lim)
{
    char text[512];
    for (size_t k = 0; k < RBGW_NELEM(stream_suffixes); k++) {
        const char *sfx = stream_suffixes[k];
        size_t slen = k == RBGW_NELEM(stream_suffixes) - 1 ? 1 : strlen(sfx);
        if (inlen + slen > sizeof(text)) {
            continue;
        }
        memcpy(text, in, inlen);
        memcpy(text + inlen, sfx, slen);
        for (size_t cut = 0; cut <= inlen + slen; cut++) {
            check_peek_frame(text, cut, lim);
            check_vet_frame(text, cut, lim);
        }
    }
}

Test(rpc, one_pass_framing_agrees_with_two_passes)
{
    static const struct rbgw_json_limits tight = {3, 8};
    const struct rbgw_json_limits *lims[] = {NULL, &tight};
    for (size_t l = 0; l < RBGW_NELEM(lims); l++) {
        for (size_t i = 0; i < RBGW_NELEM(peek_cases); i++) {
            one_pass_corpus(peek_cases[i].in, strlen(peek_cases[i].in), lims[l]);
        }
        for (size_t i = 0; i < RBGW_NELEM(decodes); i++) {
            one_pass_corpus(decodes[i].in, decodes[i].inlen, lims[l]);
        }
        for (size_t i = 0; i < RBGW_NELEM(replies); i++) {
            one_pass_corpus(replies[i].in, replies[i].inlen, lims[l]);
        }
        for (size_t i = 0; i < RBGW_NELEM(reply_logs); i++) {
            one_pass_corpus(reply_logs[i].in, strlen(reply_logs[i].in), lims[l]);
        }
    }
    /* The checks above are implications: make sure the one pass did take calls and replies. */
    cr_expect_gt(one_pass_calls, 100, "one pass framed %d calls", one_pass_calls);
    cr_expect_gt(one_pass_replies, 100, "one pass vetted %d replies", one_pass_replies);
}

/* The one pass takes a document at the front of the input and leaves the rest. */
Test(rpc, one_pass_framing_table)
{
    static const char two[] = " \n{\"method\":\"lookup\",\"parameters\":{\"trxid\":7}}\n{\"meth";
    struct rbgw_rpc_peek pk;
    size_t s, e;
    cr_assert_eq(rbgw_rpc_peek_frame(B(two), NULL, &pk, &s, &e), 0);
    cr_expect_eq(s, 2);
    cr_expect_eq(e, 46);
    cr_expect(rbgw_str_eq_cstr(pk.method, "lookup"));
    cr_expect(rbgw_str_eq_cstr(pk.trxid, "7"));
    cr_expect_eq(rbgw_rpc_peek_frame(B("{\"method\":\"lookup\""), NULL, &pk, &s, &e), -1,
                 "incomplete");
    cr_expect_eq(rbgw_rpc_peek_frame(B("[{\"method\":\"lookup\"}]"), NULL, &pk, &s, &e), -1,
                 "not an object");
    cr_expect_eq(rbgw_rpc_peek_frame(B("{\"method\":\"m\"}x"), NULL, &pk, &s, &e), 0,
                 "what follows is the next frame's business");
    struct rbgw_rpc_vet v;
    cr_assert_eq(
        rbgw_rpc_vet_frame(B("{\"result\":false,\"log\":[\"a\"]}\n{\"res"), NULL, &v, &s, &e), 0);
    cr_expect_eq(s, 0);
    cr_expect_eq(e, 28);
    cr_expect(v.said_false);
    cr_expect(rbgw_str_eq_cstr(v.log, "[\"a\"]"));
    cr_expect_eq(rbgw_rpc_vet_frame(B("{\"result\":null}"), NULL, &v, &s, &e), -1,
                 "the check explains a null result");
    cr_expect_eq(rbgw_rpc_vet_frame(B("{\"res\\u0075lt\":true}"), NULL, &v, &s, &e), -1,
                 "escaped keys: the parser reads them");
}

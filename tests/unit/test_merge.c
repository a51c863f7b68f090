/*
 * test_merge.c: read=merge (merge.h, docs/fanout.md "Merging replies"), table-driven: each row
 * is a method, the legs' replies (or a failed leg) and the exact merged line.
 *
 * The merged line must be byte-exact (records copied as the responder wrote them), one line,
 * and itself a reply pdns can parse.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "rbgw/json.h"
#include "rbgw/merge.h"

#define MAXLEG 4
#define LEG_FAILED NULL /* a leg with no reply (transport failure) */

struct merge_row {
    const char *name;
    const char *method;
    size_t n;
    const char *replies[MAXLEG]; /* LEG_FAILED for a failed leg */
    const char *want;            /* NULL = RBGW_EPROTO */
};

static const struct merge_row merge_rows[] = {
    {"two lookups concatenated, records byte-exact, logs in member order",
     "lookup",
     2,
     {"{\"result\": [{\"qtype\": \"A\", \"qname\": \"www.example.com.\", \"content\": "
      "\"192.0.2.1\", \"ttl\": 300}], \"log\": [\"a\"]}",
      "{\"result\":[{\"qname\":\"www.example.com\",\"qtype\":\"A\",\"content\":\"192.0.2.2\","
      "\"ttl\":3.0e2,\"auth\":true}],\"log\":[\"b\",7]}"},
     "{\"result\": [{\"qtype\": \"A\", \"qname\": \"www.example.com.\", \"content\": "
     "\"192.0.2.1\", \"ttl\": 300}, {\"qname\":\"www.example.com\",\"qtype\":\"A\",\"content\":"
     "\"192.0.2.2\",\"ttl\":3.0e2,\"auth\":true}], \"log\": [\"a\", \"b\", 7]}"},
    {"one failed leg is left out",
     "lookup",
     3,
     {"{\"result\": [{\"qname\": \"a.\", \"qtype\": \"A\", \"content\": \"1\"}]}", LEG_FAILED,
      "{\"result\": [{\"qname\": \"a.\", \"qtype\": \"A\", \"content\": \"2\"}]}"},
     "{\"result\": [{\"qname\": \"a.\", \"qtype\": \"A\", \"content\": \"1\"}, {\"qname\": "
     "\"a.\", \"qtype\": \"A\", \"content\": \"2\"}]}"},
    {"a false leg adds its log but no records",
     "list",
     2,
     {"{\"result\": false, \"log\": [\"zone unknown here\"]}",
      "{\"log\": [\"served\"], \"result\": [{\"qname\": \"a.\", \"qtype\": \"A\", \"content\": "
      "\"1\"}]}"},
     "{\"result\": [{\"qname\": \"a.\", \"qtype\": \"A\", \"content\": \"1\"}], \"log\": [\"zone "
     "unknown here\", \"served\"]}"},
    {"all failed", "lookup", 2, {LEG_FAILED, "{\"result\": false, \"log\": [\"no\"]}"}, NULL},
    {"no legs", "lookup", 0, {NULL}, NULL},
    {"only unparsable replies", "lookup", 2, {"{\"result\": ", "[1, 2]"}, NULL},
    {"empty arrays stay an empty array",
     "lookup",
     2,
     {"{\"result\": []}", "{\"result\": true}"},
     "{\"result\": []}"},
    {"no arrays at all: the first empty reply as written",
     "lookup",
     2,
     {"{\"result\": false}", "{\"result\": true, \"log\": []}"},
     "{\"result\": true, \"log\": []}"},
    {"getAllDomains keeps the first entry per zone, case and dot blind",
     "getAllDomains",
     2,
     {"{\"result\": [{\"zone\": \"example.com.\", \"id\": 1}, {\"zone\": \"a.test.\", \"id\": 2}]}",
      "{\"result\": [{\"zone\": \"EXAMPLE.COM\", \"id\": 9}, {\"zone\": \"b.test.\", \"id\": 3}, "
      "{\"zone\": \"a.test.\", \"id\": 4}]}"},
     "{\"result\": [{\"zone\": \"example.com.\", \"id\": 1}, {\"zone\": \"a.test.\", \"id\": 2}, "
     "{\"zone\": \"b.test.\", \"id\": 3}]}"},
    {"getUpdatedMasters dedupes too, also within one leg",
     "getUpdatedMasters",
     2,
     {"{\"result\": [{\"zone\": \"a.\", \"id\": 1}, {\"zone\": \"A\", \"id\": 2}]}",
      "{\"result\": [{\"zone\": \"\\u0061.\", \"id\": 3}, {\"zone\": \"c.\", \"id\": 4}]}"},
     "{\"result\": [{\"zone\": \"a.\", \"id\": 1}, {\"zone\": \"c.\", \"id\": 4}]}"},
    {"getUnfreshSlaveInfos passes entries without a zone",
     "getUnfreshSlaveInfos",
     2,
     {"{\"result\": [{\"id\": 1}]}", "{\"result\": [{\"id\": 1}, {\"zone\": \"x.\"}]}"},
     "{\"result\": [{\"id\": 1}, {\"id\": 1}, {\"zone\": \"x.\"}]}"},
    {"getTSIGKeys concatenated",
     "getTSIGKeys",
     2,
     {"{\"result\": [{\"name\": \"k1.\", \"algorithm\": \"hmac-md5.\", \"content\": \"a\"}]}",
      "{\"result\": [{\"name\": \"k2.\", \"algorithm\": \"hmac-md5.\", \"content\": \"b\"}]}"},
     "{\"result\": [{\"name\": \"k1.\", \"algorithm\": \"hmac-md5.\", \"content\": \"a\"}, "
     "{\"name\": \"k2.\", \"algorithm\": \"hmac-md5.\", \"content\": \"b\"}]}"},
    {"getDomainInfo: the first reply with data wins",
     "getDomainInfo",
     4,
     {"{\"result\": false, \"log\": [\"1\"]}", "{\"result\": true, \"log\": [\"2\"]}",
      "{\"result\": {\"zone\": \"example.com.\", \"id\": 2, \"serial\": 10}, \"log\": [\"3\"]}",
      "{\"result\": {\"zone\": \"example.com.\", \"id\": 3}, \"log\": [\"4\"]}"},
     "{\"result\": {\"zone\": \"example.com.\", \"id\": 2, \"serial\": 10}, \"log\": [\"1\", "
     "\"2\", "
     "\"3\", \"4\"]}"},
    {"getDomainInfo: nothing found anywhere but one empty success",
     "getDomainInfo",
     2,
     {"{\"result\": false}", "{\"result\": {\"id\": 1}}"},
     "{\"result\": {\"id\": 1}}"},
    {"getDomainMetadata: first success, not a union",
     "getDomainMetadata",
     2,
     {"{\"result\": [\"x\"]}", "{\"result\": [\"y\"]}"},
     "{\"result\": [\"x\"]}"},
    {"unknown method: first success",
     "futureMethod",
     2,
     {LEG_FAILED, "{\"result\": [1, 2], \"extra\": 1}"},
     "{\"result\": [1, 2]}"},
    {"a non-array log is ignored",
     "lookup",
     2,
     {"{\"result\": [1], \"log\": \"text\"}", "{\"result\": [2], \"log\": {\"a\": 1}}"},
     "{\"result\": [1, 2]}"},
    {"line breaks between tokens become spaces, escapes inside strings stay",
     "lookup",
     1,
     {"{\"result\":\n[{\"content\": \"a\\nb \\\" \\\\\",\r\n\"qname\": \"x.\"}]}"},
     "{\"result\": [{\"content\": \"a\\nb \\\" \\\\\",  \"qname\": \"x.\"}]}"},
    {"keys found by their decoded name, last one wins",
     "lookup",
     1,
     {"{\"log\": [\"old\"], \"res\\u0075lt\": [{\"n\": -0.0}], \"log\": [\"new\"], \"x\": "
      "[\"]\"]}"},
     "{\"result\": [{\"n\": -0.0}], \"log\": [\"new\"]}"},
    {"surrounding whitespace and nested brackets in strings",
     "searchRecords",
     2,
     {"  {\"result\" : [ {\"content\": \"[{]\"} , {\"content\": \"}\"} ] }  ",
      "{\"result\": [[], {}]}"},
     "{\"result\": [{\"content\": \"[{]\"}, {\"content\": \"}\"}, [], {}]}"},
};

static void
check_merge(size_t idx, const struct merge_row *row)
{
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_buf out = RBGW_BUF_INIT;
    struct rbgw_str replies[MAXLEG];
    for (size_t i = 0; i < row->n; i++) {
        replies[i] = row->replies[i] ? rbgw_str_cstr(row->replies[i]) : RBGW_STR_NULL;
    }
    rbgw_buf_append_cstr(&out, "PRE");
    enum rbgw_method m = rbgw_method_lookup(rbgw_str_cstr(row->method));
    int rc = rbgw_merge_replies(&a, m, replies, row->n, &out);
    if (row->want == NULL) {
        if (rc != RBGW_EPROTO || out.len != 3) {
            cr_expect_fail("row %zu %s: rc %d, out '%s'; want RBGW_EPROTO, out untouched", idx,
                           row->name, rc, out.data);
        }
    } else if (rc != 0) {
        cr_expect_fail("row %zu %s: rc %d", idx, row->name, rc);
    } else {
        struct rbgw_json *v;
        char err[256];
        if (strcmp(out.data + 3, row->want) != 0) {
            cr_expect_fail("row %zu %s:\n got  %s\n want %s", idx, row->name, out.data + 3,
                           row->want);
        }
        if (memchr(out.data, '\n', out.len) != NULL) {
            cr_expect_fail("row %zu %s: not one line", idx, row->name);
        }
        /* the merged line is itself a reply pdns can read */
        if (rbgw_json_parse(&a, out.data + 3, out.len - 3, &v, err, sizeof(err)) != 0) {
            cr_expect_fail("row %zu %s: merged reply does not parse: %s", idx, row->name, err);
        }
    }
    rbgw_buf_free(&out);
    rbgw_arena_free(&a);
}

Test(merge, rows)
{
    for (size_t i = 0; i < RBGW_NELEM(merge_rows); i++) {
        check_merge(i, &merge_rows[i]);
    }
    cr_assert_geq(RBGW_NELEM(merge_rows), 20);
}

/* Dedupe over many zones (the hash set grows with the input) keeps exactly one per name. */
Test(merge, getalldomains_large)
{
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_buf l0 = RBGW_BUF_INIT, l1 = RBGW_BUF_INIT, out = RBGW_BUF_INIT;
    rbgw_buf_append_cstr(&l0, "{\"result\": [");
    rbgw_buf_append_cstr(&l1, "{\"result\": [");
    for (int i = 0; i < 3000; i++) {
        rbgw_buf_printf(&l0, "%s{\"zone\": \"z%d.example.\", \"id\": %d}", i ? ", " : "", i, i);
        /* leg 1 repeats every even zone in upper case and adds odd-numbered new ones */
        rbgw_buf_printf(&l1, "%s{\"zone\": \"%s%d.EXAMPLE\", \"id\": %d}", i ? ", " : "",
                        i % 2 ? "n" : "Z", i, 10000 + i);
    }
    rbgw_buf_append_cstr(&l0, "]}");
    rbgw_buf_append_cstr(&l1, "]}");
    struct rbgw_str replies[2] = {rbgw_buf_str(&l0), rbgw_buf_str(&l1)};
    cr_assert_eq(rbgw_merge_replies(&a, RBGW_M_GET_ALL_DOMAINS, replies, 2, &out), 0);
    struct rbgw_json *v;
    char err[256];
    cr_assert_eq(rbgw_json_parse(&a, out.data, out.len, &v, err, sizeof(err)), 0, "%s", err);
    const struct rbgw_json *r = rbgw_json_get(v, "result");
    cr_assert_not_null(r);
    cr_expect_eq(r->n, 4500, "3000 from leg 0 + 1500 new from leg 1, got %zu", r->n);
    rbgw_buf_free(&l0);
    rbgw_buf_free(&l1);
    rbgw_buf_free(&out);
    rbgw_arena_free(&a);
}

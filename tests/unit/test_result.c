/*
 * test_result.c: pdns's reading of a reply's "result", per method (result.h, docs/fanout.md
 * "How results are read"), table-driven: each row is a method, a reply and the reading.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "rbgw/result.h"

struct kind_row {
    const char *method;
    const char *reply;
    enum rbgw_result_kind want;
};

#define KF RBGW_RESULT_FAILED
#define KE RBGW_RESULT_EMPTY
#define KD RBGW_RESULT_DATA

static const struct kind_row kind_rows[] = {
    /* lookup-like: non-empty array is data, anything else but false is empty */
    {"lookup", "{\"result\": [{\"qname\": \"a.\", \"qtype\": \"A\", \"content\": \"1.2.3.4\"}]}",
     KD},
    {"lookup", "{\"result\": []}", KE},
    {"lookup", "{\"result\": true}", KE},
    {"lookup", "{\"result\": {}}", KE},
    {"lookup", "{\"result\": 0}", KE},
    {"lookup", "{\"result\": false}", KF},
    {"lookup", "{\"result\": false, \"log\": [\"x\"]}", KF},
    {"APILookup", "{\"result\": [{}]}", KD},
    {"list", "{\"result\": [1]}", KD},
    {"list", "{\"result\": []}", KE},
    {"searchRecords", "{\"result\": [{}]}", KD},
    {"searchRecords", "{\"result\": \"x\"}", KE},
    {"getAllDomains", "{\"result\": [{\"zone\": \"a.\"}]}", KD},
    {"getAllDomains", "{\"result\": []}", KE},
    {"getUpdatedMasters", "{\"result\": [{\"zone\": \"a.\"}]}", KD},
    {"getUpdatedMasters", "{\"result\": true}", KE},
    {"getUnfreshSlaveInfos", "{\"result\": [{\"zone\": \"a.\"}]}", KD},
    {"getUnfreshSlaveInfos", "{\"result\": false}", KF},
    {"getDomainKeys", "{\"result\": [{\"id\": 1}]}", KD},
    {"getDomainKeys", "{\"result\": {}}", KE},
    {"getTSIGKeys", "{\"result\": [{\"name\": \"k.\"}]}", KD},
    {"getTSIGKeys", "{\"result\": []}", KE},
    {"getDomainMetadata", "{\"result\": [\"1\"]}", KD},
    {"getDomainMetadata", "{\"result\": []}", KE},
    {"getDomainMetadata", "{\"result\": \"NSEC3\"}", KD}, /* pdns reads one value */
    {"getDomainMetadata", "{\"result\": 5}", KE},
    /* getDomainInfo needs an object with a zone */
    {"getDomainInfo", "{\"result\": {\"zone\": \"example.com.\", \"id\": 1}}", KD},
    {"getDomainInfo", "{\"result\": {\"id\": 1}}", KE},
    {"getDomainInfo", "{\"result\": {\"zone\": 5}}", KE},
    {"getDomainInfo", "{\"result\": true}", KE},
    {"getDomainInfo", "{\"result\": [{\"zone\": \"a.\"}]}", KE},
    {"getDomainInfo", "{\"result\": false}", KF},
    /* getAllDomainMetadata: a non-empty object */
    {"getAllDomainMetadata", "{\"result\": {\"PRESIGNED\": [\"1\"]}}", KD},
    {"getAllDomainMetadata", "{\"result\": {}}", KE},
    {"getAllDomainMetadata", "{\"result\": [\"x\"]}", KE},
    {"getAllDomainMetadata", "{\"result\": false}", KF},
    /* any object */
    {"getBeforeAndAfterNamesAbsolute", "{\"result\": {\"unhashed\": \"a\", \"before\": \"\"}}", KD},
    {"getBeforeAndAfterNamesAbsolute", "{\"result\": {}}", KD},
    {"getBeforeAndAfterNamesAbsolute", "{\"result\": true}", KE},
    {"getBeforeAndAfterNamesAbsolute", "{\"result\": false}", KF},
    {"getTSIGKey", "{\"result\": {\"algorithm\": \"hmac-md5.\", \"content\": \"eA==\"}}", KD},
    {"getTSIGKey", "{\"result\": true}", KE},
    {"getTSIGKey", "{\"result\": false}", KF},
    /* §8.13: setDomainMetadata only on exactly true; addDomainKey an id pdns reads as >= 0 */
    {"setDomainMetadata", "{\"result\": true}", KD},
    {"setDomainMetadata", "{\"result\": 1}", KF},
    {"setDomainMetadata", "{\"result\": \"true\"}", KF},
    {"setDomainMetadata", "{\"result\": false}", KF},
    {"addDomainKey", "{\"result\": 12}", KD},
    {"addDomainKey", "{\"result\": 0}", KD},
    {"addDomainKey", "{\"result\": true}", KD},
    {"addDomainKey", "{\"result\": \"7\"}", KD},
    {"addDomainKey", "{\"result\": -1}", KF},
    {"addDomainKey", "{\"result\": -0.5}", KD},
    {"addDomainKey", "{\"result\": 3000000000}", KF},
    {"addDomainKey", "{\"result\": false}", KF},
    /* other methods: anything but false */
    {"replaceRRSet", "{\"result\": true}", KD},
    {"replaceRRSet", "{\"result\": 0}", KD},
    {"replaceRRSet", "{\"result\": []}", KD},
    {"replaceRRSet", "{\"result\": false}", KF},
    {"startTransaction", "{\"result\": {}}", KD},
    {"directBackendCmd", "{\"result\": \"PONG\"}", KD},
    {"superMasterBackend", "{\"result\": {\"account\": \"\", \"nameserver\": \"ns1.\"}}", KD},
    {"setNotified", "{\"result\": \"\"}", KD},
    {"futureMethod", "{\"result\": []}", KD},
    {"futureMethod", "{\"result\": false}", KF},
    /* what pdns rejects outright is a failure for everyone */
    {"replaceRRSet", "{\"result\": null}", KF},
    {"replaceRRSet", "{\"log\": [\"no result\"]}", KF},
    {"lookup", "[]", KF},
    {"lookup", "not json", KF},
    /* a repeated key: the last one counts, as in pdns's parser */
    {"lookup", "{\"result\": false, \"result\": [1]}", KD},
    {"lookup", "{\"result\": [1], \"result\": false}", KF},
};

Test(result, kind)
{
    static const char *const kn[] = {"FAILED", "EMPTY", "DATA"};
    size_t checked = 0;
    for (size_t i = 0; i < RBGW_NELEM(kind_rows); i++) {
        const struct kind_row *row = &kind_rows[i];
        struct rbgw_arena a = RBGW_ARENA_INIT;
        enum rbgw_method m = rbgw_method_lookup(rbgw_str_cstr(row->method));
        enum rbgw_result_kind got = rbgw_result_kind(&a, m, rbgw_str_cstr(row->reply));
        if (got != row->want) {
            cr_expect_fail("row %zu: %s %s -> %s, want %s", i, row->method, row->reply, kn[got],
                           kn[row->want]);
        }
        rbgw_arena_free(&a);
        checked++;
    }
    cr_assert_eq(checked, RBGW_NELEM(kind_rows));
}

Test(result, kind_of_no_reply)
{
    struct rbgw_arena a = RBGW_ARENA_INIT;
    cr_expect_eq(rbgw_result_kind(&a, RBGW_M_LOOKUP, RBGW_STR_NULL), RBGW_RESULT_FAILED);
    cr_expect_eq(rbgw_result_kind_of(RBGW_M_LOOKUP, NULL), RBGW_RESULT_FAILED, "no result member");
    rbgw_arena_free(&a);
}

/* Every rule of the method table is exercised by a row above. */
Test(result, every_rule_has_rows)
{
    bool seen[RBGW_RULE_KEY_ID + 1] = {false};
    for (size_t i = 0; i < RBGW_NELEM(kind_rows); i++) {
        enum rbgw_method m = rbgw_method_lookup(rbgw_str_cstr(kind_rows[i].method));
        seen[rbgw_method_info(m)->result] = true;
    }
    for (size_t r = 0; r <= RBGW_RULE_KEY_ID; r++) {
        cr_expect(seen[r], "no row for rule %zu", r);
    }
}

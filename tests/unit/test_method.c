/*
 * test_method.c: the method table itself (method.h, src/method.c).
 *
 * What: every row is well-formed (a name that looks itself up, an enumerator spelled after it,
 * a class, a transaction role, rules in range); the table holds exactly pdns's catalogue
 * (docs/protocol.md §3.0) plus searchComments; classes and transaction roles per method;
 * unknown names stay unknown and get the generic row; the DNS name each call is about; and
 * every method pdns's HTTP connector sends has a REST mapping whose egress and ingress columns
 * agree: a call built from the row alone goes out through rbgw_xlate_rpc_to_http and comes back
 * through rbgw_xlate_http_to_rpc unchanged, in both REST dialects.
 *
 * Tables are walked in one test each, with a plain `if` on the passing path and an expect/fail
 * naming the row on a mismatch, then a count of the rows checked, so a table that shrank to
 * nothing fails too.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rbgw/method.h"
#include "rbgw/xlate.h"
#include "rbgw/xlate_in.h"

/* ---- the rows ---- */

/* The catalogue of docs/protocol.md §3.0 (#0-#36), in its order. */
static const char *const catalogue[] = {
    "initialize",
    "lookup",
    "APILookup",
    "list",
    "getBeforeAndAfterNamesAbsolute",
    "getAllDomainMetadata",
    "getDomainMetadata",
    "setDomainMetadata",
    "getDomainKeys",
    "addDomainKey",
    "removeDomainKey",
    "activateDomainKey",
    "deactivateDomainKey",
    "publishDomainKey",
    "unpublishDomainKey",
    "getTSIGKey",
    "setTSIGKey",
    "deleteTSIGKey",
    "getTSIGKeys",
    "getDomainInfo",
    "setNotified",
    "superMasterBackend",
    "createSlaveDomain",
    "replaceRRSet",
    "feedRecord",
    "feedEnts",
    "feedEnts3",
    "startTransaction",
    "commitTransaction",
    "abortTransaction",
    "directBackendCmd",
    "searchRecords",
    "getAllDomains",
    "getUpdatedMasters",
    "getUnfreshSlaveInfos",
    "setStale",
    "setFresh",
};

Test(method, catalogue_is_the_table)
{
    cr_assert_eq(RBGW_NELEM(catalogue), 37);
    for (size_t i = 0; i < RBGW_NELEM(catalogue); i++) {
        enum rbgw_method m = rbgw_method_lookup(rbgw_str_cstr(catalogue[i]));
        if (m == RBGW_M_UNKNOWN) {
            cr_expect_fail("%s is not in the table", catalogue[i]);
        }
    }
    /* the catalogue, plus searchComments (never sent; pdns's REST builder still maps it) */
    cr_expect_eq(RBGW_M__COUNT, 1 + 37 + 1, "%d rows", (int)RBGW_M__COUNT);
    cr_expect_eq(rbgw_method_lookup(RBGW_STR("searchComments")), RBGW_M_SEARCH_COMMENTS);
}

/* Each enumerator against its row's wire name: RBGW_M_API_LOOKUP is "APILookup". */
#define ID_NAME(id, nm, ...) {#id, nm},
static const struct {
    const char *id;
    const char *name;
} id_names[] = {RBGW_METHOD_TABLE(ID_NAME)};
#undef ID_NAME

Test(method, rows_are_well_formed)
{
    size_t checked = 0;
    cr_assert_eq(RBGW_NELEM(id_names), RBGW_M__COUNT - 1);
    for (unsigned m = 1; m < RBGW_M__COUNT; m++) {
        const struct rbgw_method_info *row = rbgw_method_info((enum rbgw_method)m);
        const char *id = id_names[m - 1].id;
        char folded[64];
        size_t n = 0;
        for (const char *c = id; *c && n + 1 < sizeof(folded); c++) {
            if (*c != '_') {
                folded[n++] = *c;
            }
        }
        folded[n] = '\0';
        if (row->name == NULL || row->len == 0 || row->len != strlen(row->name)) {
            cr_expect_fail("row %u: name/len broken", m);
            continue;
        }
        if (strcmp(row->name, id_names[m - 1].name) != 0 ||
            !rbgw_str_caseeq(rbgw_str_cstr(folded), rbgw_str_cstr(row->name))) {
            cr_expect_fail("row %u: RBGW_M_%s does not spell %s", m, id, row->name);
        }
        /* xlate.c writes a known method's name into the request path without checking it */
        if (strspn(row->name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") !=
            row->len) {
            cr_expect_fail("%s: not only letters and digits", row->name);
        }
        if (rbgw_method_lookup(rbgw_str_make(row->name, row->len)) != (enum rbgw_method)m) {
            cr_expect_fail("%s does not look itself up", row->name);
        }
        if (row->cls != RBGW_CLASS_READ && row->cls != RBGW_CLASS_WRITE) {
            cr_expect_fail("%s: class %d", row->name, (int)row->cls);
        }
        if (row->trx > RBGW_TRX_END || row->result > RBGW_RULE_KEY_ID ||
            row->merge > RBGW_MERGE_ZONES) {
            cr_expect_fail("%s: trx/result/merge out of range", row->name);
        }
        if (row->cls == RBGW_CLASS_READ && row->trx != RBGW_TRX_NONE) {
            cr_expect_fail("%s: a read in a transaction role", row->name);
        }
        if (row->merge != RBGW_MERGE_FIRST && row->result != RBGW_RULE_LIST) {
            cr_expect_fail("%s: merges arrays but its result is not a list", row->name);
        }
        if (row->callname_member != NULL && row->callname == NULL) {
            cr_expect_fail("%s: call name member without a parameter", row->name);
        }
        if ((row->cache == RBGW_CACHE_SHARE_ONLY && row->cls != RBGW_CLASS_READ) ||
            ((row->cache == RBGW_CACHE_ZONE_STATE || row->cache == RBGW_CACHE_FLUSH) &&
             row->cls != RBGW_CLASS_WRITE) ||
            row->cache > RBGW_CACHE_FLUSH) {
            cr_expect_fail("%s: cache rule %d does not fit its class", row->name, (int)row->cache);
        }
        if (!row->rest.none && row->rest.verb > RBGW_VERB_DELETE) {
            cr_expect_fail("%s: verb %d", row->name, (int)row->rest.verb);
        }
        for (unsigned k = 1; k < m; k++) {
            if (strcmp(rbgw_method_info((enum rbgw_method)k)->name, row->name) == 0) {
                cr_expect_fail("%s listed twice", row->name);
            }
        }
        checked++;
    }
    cr_assert_eq(checked, RBGW_M__COUNT - 1);
}

Test(method, unknown_names_and_the_generic_row)
{
    static const char *const unknown[] = {
        "",
        "Lookup",
        "lookupx",
        "looku",
        "GETDomainInfo",
        "isMaster",
        "getSomethingNew",
        "calculateSOASerial",
        "list ",
        "initialize\n",
    };
    for (size_t i = 0; i < RBGW_NELEM(unknown); i++) {
        cr_expect_eq(rbgw_method_lookup(rbgw_str_cstr(unknown[i])), RBGW_M_UNKNOWN, "'%s'",
                     unknown[i]);
    }
    cr_expect_eq(rbgw_method_lookup(RBGW_STR_NULL), RBGW_M_UNKNOWN);
    /* a name that is a prefix of a longer one, and the longer one, both resolve exactly */
    cr_expect_eq(rbgw_method_lookup(RBGW_STR("getTSIGKey")), RBGW_M_GET_TSIG_KEY);
    cr_expect_eq(rbgw_method_lookup(RBGW_STR("getTSIGKeys")), RBGW_M_GET_TSIG_KEYS);
    cr_expect_eq(rbgw_method_lookup(RBGW_STR("feedEnts")), RBGW_M_FEED_ENTS);
    cr_expect_eq(rbgw_method_lookup(RBGW_STR("feedEnts3")), RBGW_M_FEED_ENTS3);

    const struct rbgw_method_info *g = rbgw_method_info(RBGW_M_UNKNOWN);
    cr_expect_eq(g->cls, RBGW_CLASS_WRITE, "unknown methods are writes");
    cr_expect_eq(g->trx, RBGW_TRX_NONE);
    cr_expect_eq(g->result, RBGW_RULE_ANY);
    cr_expect_eq(g->merge, RBGW_MERGE_FIRST);
    cr_expect(!g->rest.none && g->rest.verb == RBGW_VERB_GET && g->rest.body == RBGW_BODY_NONE &&
                  g->rest.fields == NULL && g->rest.extra[0] == NULL,
              "pdns's generic REST rule: GET, generic components only");
    cr_expect_eq(rbgw_method_info((enum rbgw_method)RBGW_M__COUNT), g, "out of range: generic");
}

/* ---- classes and transaction roles ---- */

#define CR RBGW_CLASS_READ
#define CW RBGW_CLASS_WRITE

static const struct {
    const char *method;
    enum rbgw_method_class cls;
} class_rows[] = {
    {"initialize", CW},
    {"lookup", CR},
    {"APILookup", CR},
    {"list", CR},
    {"getBeforeAndAfterNamesAbsolute", CR},
    {"getAllDomainMetadata", CR},
    {"getDomainMetadata", CR},
    {"setDomainMetadata", CW},
    {"getDomainKeys", CR},
    {"addDomainKey", CW},
    {"removeDomainKey", CW},
    {"activateDomainKey", CW},
    {"deactivateDomainKey", CW},
    {"publishDomainKey", CW},
    {"unpublishDomainKey", CW},
    {"getTSIGKey", CR},
    {"setTSIGKey", CW},
    {"deleteTSIGKey", CW},
    {"getTSIGKeys", CR},
    {"getDomainInfo", CR},
    {"setNotified", CW},
    {"superMasterBackend", CW},
    {"createSlaveDomain", CW},
    {"replaceRRSet", CW},
    {"feedRecord", CW},
    {"feedEnts", CW},
    {"feedEnts3", CW},
    {"startTransaction", CW},
    {"commitTransaction", CW},
    {"abortTransaction", CW},
    {"directBackendCmd", CW},
    {"searchRecords", CR},
    {"searchComments", CR},
    {"getAllDomains", CR},
    {"getUpdatedMasters", CR},
    {"getUnfreshSlaveInfos", CR},
    {"setStale", CW},
    {"setFresh", CW},
    /* unknown methods are writes, whatever their name looks like; names are exact */
    {"getSomethingNew", CW},
    {"searchSomething", CW},
    {"isMaster", CW},
    {"calculateSOASerial", CW},
    {"Lookup", CW},
    {"GETDomainInfo", CW},
    {"", CW},
};

Test(method, classes)
{
    size_t checked = 0;
    for (size_t i = 0; i < RBGW_NELEM(class_rows); i++) {
        enum rbgw_method_class got =
            rbgw_method_class(rbgw_method_lookup(rbgw_str_cstr(class_rows[i].method)));
        if (got != class_rows[i].cls) {
            cr_expect_fail("%s: class %s, want %s", class_rows[i].method,
                           got == CR ? "read" : "write",
                           class_rows[i].cls == CR ? "read" : "write");
        }
        checked++;
    }
    /* every known method is listed above, so the table cannot gain a row unclassified here */
    cr_assert_eq(checked, (size_t)RBGW_M__COUNT - 1 + 7);
}

/* The table's reads are exactly pdns's naming rule: lookup, APILookup, list, get*, search*. */
Test(method, reads_follow_the_naming_rule)
{
    for (unsigned m = 1; m < RBGW_M__COUNT; m++) {
        const struct rbgw_method_info *row = rbgw_method_info((enum rbgw_method)m);
        bool named_read = strcmp(row->name, "lookup") == 0 || strcmp(row->name, "APILookup") == 0 ||
                          strcmp(row->name, "list") == 0 || strncmp(row->name, "get", 3) == 0 ||
                          strncmp(row->name, "search", 6) == 0;
        if (named_read != (row->cls == RBGW_CLASS_READ)) {
            cr_expect_fail("%s: class does not follow the naming rule", row->name);
        }
    }
}

/* The read cache's exceptions (method.h, enum rbgw_cache_rule): DomainInfo is zone state that
 * writes by zone id change, and a method rbgw does not know may change anything. */
Test(method, cache_rules)
{
    static const struct {
        const char *method;
        enum rbgw_cache_rule rule;
    } rows[] = {
        {"getDomainInfo", RBGW_CACHE_SHARE_ONLY}, {"setNotified", RBGW_CACHE_ZONE_STATE},
        {"setStale", RBGW_CACHE_ZONE_STATE},      {"setFresh", RBGW_CACHE_ZONE_STATE},
        {"lookup", RBGW_CACHE_BY_CLASS},          {"getAllDomains", RBGW_CACHE_BY_CLASS},
        {"replaceRRSet", RBGW_CACHE_BY_CLASS},    {"directBackendCmd", RBGW_CACHE_BY_CLASS},
    };
    size_t special = 0;
    for (size_t i = 0; i < RBGW_NELEM(rows); i++) {
        const struct rbgw_method_info *row =
            rbgw_method_info(rbgw_method_lookup(rbgw_str_cstr(rows[i].method)));
        if (row->cache != rows[i].rule) {
            cr_expect_fail("%s: cache rule %d, want %d", rows[i].method, (int)row->cache,
                           (int)rows[i].rule);
        }
    }
    for (unsigned m = 1; m < RBGW_M__COUNT; m++) {
        special += rbgw_method_info((enum rbgw_method)m)->cache != RBGW_CACHE_BY_CLASS;
    }
    /* the four above are the only exceptions among the known methods */
    cr_expect_eq(special, 4);
    cr_expect_eq(rbgw_method_info(RBGW_M_UNKNOWN)->cache, RBGW_CACHE_FLUSH);
}

Test(method, transaction_roles)
{
    for (unsigned m = 0; m < RBGW_M__COUNT; m++) {
        enum rbgw_method e = (enum rbgw_method)m;
        enum rbgw_trx_role want = RBGW_TRX_NONE;
        switch (e) {
        case RBGW_M_START_TRANSACTION:
            want = RBGW_TRX_START;
            break;
        case RBGW_M_COMMIT_TRANSACTION:
        case RBGW_M_ABORT_TRANSACTION:
            want = RBGW_TRX_END;
            break;
        /* the writes pdns sends with a trxid (docs/protocol.md §3.4) */
        case RBGW_M_REPLACE_RRSET:
        case RBGW_M_FEED_RECORD:
        case RBGW_M_FEED_ENTS:
        case RBGW_M_FEED_ENTS3:
            want = RBGW_TRX_IN;
            break;
        default:
            break;
        }
        if (rbgw_method_trx(e) != want) {
            cr_expect_fail("%s: role %d, want %d", rbgw_method_info(e)->name,
                           (int)rbgw_method_trx(e), (int)want);
        }
    }
}

/* ---- call names ---- */

static const struct {
    const char *method;
    const char *params; /* JSON */
    const char *want;   /* NULL = empty */
} name_rows[] = {
    {"lookup",
     "{\"local\": \"0.0.0.0\", \"qname\": \"www.example.com.\", \"qtype\": \"ANY\", "
     "\"real-remote\": \"0.0.0.0/0\", \"remote\": \"0.0.0.0\", \"zone-id\": 5}",
     "www.example.com."},
    {"APILookup", "{\"qname\": \"a.example.\", \"qtype\": \"A\", \"zone-id\": -1}", "a.example."},
    {"list", "{\"domain_id\": 5, \"include_disabled\": false, \"zonename\": \"example.com.\"}",
     "example.com."},
    {"getBeforeAndAfterNamesAbsolute", "{\"id\": 5, \"qname\": \"nonexist.\"}", NULL},
    {"getAllDomainMetadata", "{\"name\": \"example.com.\"}", "example.com."},
    {"getDomainMetadata", "{\"kind\": \"PRESIGNED\", \"name\": \"example.com.\"}", "example.com."},
    {"setDomainMetadata", "{\"kind\": \"X\", \"name\": \"example.com.\", \"value\": []}",
     "example.com."},
    {"getDomainKeys", "{\"name\": \"example.com.\"}", "example.com."},
    {"addDomainKey", "{\"key\": {\"flags\": 257}, \"name\": \"example.com.\"}", "example.com."},
    {"removeDomainKey", "{\"id\": 1, \"name\": \"r.example.\"}", "r.example."},
    {"activateDomainKey", "{\"id\": 1, \"name\": \"a.example.\"}", "a.example."},
    {"deactivateDomainKey", "{\"id\": 1, \"name\": \"d.example.\"}", "d.example."},
    {"publishDomainKey", "{\"id\": 1, \"name\": \"p.example.\"}", "p.example."},
    {"unpublishDomainKey", "{\"id\": 1, \"name\": \"u.example.\"}", "u.example."},
    {"getTSIGKey", "{\"name\": \"key1.\"}", "key1."},
    {"setTSIGKey", "{\"algorithm\": \"hmac-sha256.\", \"content\": \"x\", \"name\": \"key2.\"}",
     "key2."},
    {"deleteTSIGKey", "{\"name\": \"key3.\"}", "key3."},
    {"getTSIGKeys", "{}", NULL},
    {"getDomainInfo", "{\"name\": \"example.com.\"}", "example.com."},
    {"setNotified", "{\"id\": 5, \"serial\": 2024010101}", NULL},
    {"superMasterBackend", "{\"domain\": \"new.test.\", \"ip\": \"192.0.2.1\", \"nsset\": []}",
     "new.test."},
    {"createSlaveDomain",
     "{\"account\": \"\", \"domain\": \"new.test.\", \"ip\": \"192.0.2.1\", \"nameserver\": \"\"}",
     "new.test."},
    {"replaceRRSet",
     "{\"domain_id\": 5, \"qname\": \"www.example.com.\", \"qtype\": \"A\", \"rrset\": [], "
     "\"trxid\": 0}",
     "www.example.com."},
    {"feedRecord",
     "{\"rr\": {\"auth\": true, \"content\": \"192.0.2.1\", \"ordername\": null, \"qclass\": 1, "
     "\"qname\": \"host.example.com.\", \"qtype\": \"A\", \"ttl\": 300}, \"trxid\": 1700000000}",
     "host.example.com."},
    {"feedEnts",
     "{\"domain_id\": 5, \"nonterm\": [{\"auth\": true, \"nonterm\": \"b.sec.test.\"}], "
     "\"trxid\": 1}",
     NULL},
    {"feedEnts3",
     "{\"domain\": \"sec.test.\", \"domain_id\": 5, \"narrow\": false, \"nonterm\": [], "
     "\"salt\": \"ab\", \"times\": 1, \"trxid\": 1}",
     "sec.test."},
    {"startTransaction", "{\"domain\": \"example.com.\", \"domain_id\": -1, \"trxid\": 1}",
     "example.com."},
    {"commitTransaction", "{\"trxid\": 1}", NULL},
    {"abortTransaction", "{\"trxid\": 1}", NULL},
    {"directBackendCmd", "{\"query\": \"PING\"}", NULL},
    {"searchRecords", "{\"maxResults\": 100, \"pattern\": \"www*\"}", NULL},
    {"searchComments", "{\"maxResults\": 100, \"pattern\": \"www*\", \"name\": \"x.\"}", NULL},
    {"getAllDomains", "{\"include_disabled\": true}", NULL},
    {"getUpdatedMasters", "{}", NULL},
    {"getUnfreshSlaveInfos", "{}", NULL},
    {"setStale", "{\"id\": 5}", NULL},
    {"setFresh", "{\"id\": 5}", NULL},
    {"initialize", "{\"command\": \"/x\", \"name\": \"a\"}", NULL},
    /* unknown methods: qname, then name, then zonename, then domain */
    {"futureMethod",
     "{\"domain\": \"d.\", \"name\": \"n.\", \"qname\": \"q.\", \"zonename\": \"z.\"}", "q."},
    {"futureMethod", "{\"domain\": \"d.\", \"name\": \"n.\", \"zonename\": \"z.\"}", "n."},
    {"futureMethod", "{\"domain\": \"d.\", \"zonename\": \"z.\"}", "z."},
    {"futureMethod", "{\"domain\": \"d.\"}", "d."},
    {"futureMethod", "{\"qname\": 5, \"domain\": \"d.\"}", "d."},
    {"futureMethod", "{\"other\": \"x.\"}", NULL},
    /* only strings name anything; params that are no object name nothing */
    {"lookup", "{\"qname\": 5}", NULL},
    {"feedRecord", "{\"rr\": \"host.example.\"}", NULL},
    {"getDomainInfo", "[\"example.com.\"]", NULL},
    {"lookup", "{}", NULL},
};

Test(method, call_names)
{
    size_t checked = 0;
    for (size_t i = 0; i < RBGW_NELEM(name_rows); i++) {
        struct rbgw_arena a = RBGW_ARENA_INIT;
        struct rbgw_json *params;
        char err[256];
        const char *text = name_rows[i].params;
        cr_assert_eq(rbgw_json_parse(&a, text, strlen(text), &params, err, sizeof(err)), 0,
                     "row %zu: %s", i, err);
        enum rbgw_method m = rbgw_method_lookup(rbgw_str_cstr(name_rows[i].method));
        struct rbgw_str got = rbgw_call_name(m, params);
        const char *want = name_rows[i].want;
        if (want == NULL ? got.len != 0 : !rbgw_str_eq_cstr(got, want)) {
            cr_expect_fail("row %zu %s: name '%.*s', want '%s'", i, name_rows[i].method,
                           (int)got.len, got.p ? got.p : "", want ? want : "");
        }
        rbgw_arena_free(&a);
        checked++;
    }
    cr_assert_eq(checked, RBGW_NELEM(name_rows));
    cr_expect_eq(rbgw_call_name(RBGW_M_LOOKUP, NULL).len, 0, "no parameters");
}

/* ---- REST: egress and ingress columns agree ---- */

/* The parameters pdns sends per method (docs/protocol.md §3.4), written independently of the
 * table: a REST row that forgets one loses it on the way through and fails the round trip. */
static const struct {
    const char *method;
    const char *params; /* space-separated */
} sent[] = {
    {"lookup", "qtype qname remote local real-remote zone-id"},
    {"APILookup", "qtype qname remote local real-remote zone-id include-disabled"},
    {"list", "zonename domain_id include_disabled"},
    {"getBeforeAndAfterNamesAbsolute", "id qname"},
    {"getAllDomainMetadata", "name"},
    {"getDomainMetadata", "name kind"},
    {"setDomainMetadata", "name kind value"},
    {"getDomainKeys", "name"},
    {"addDomainKey", "name key"},
    {"removeDomainKey", "name id"},
    {"activateDomainKey", "name id"},
    {"deactivateDomainKey", "name id"},
    {"publishDomainKey", "name id"},
    {"unpublishDomainKey", "name id"},
    {"getTSIGKey", "name"},
    {"setTSIGKey", "name algorithm content"},
    {"deleteTSIGKey", "name"},
    {"getTSIGKeys", ""},
    {"getDomainInfo", "name"},
    {"setNotified", "id serial"},
    {"superMasterBackend", "ip domain nsset"},
    {"createSlaveDomain", "ip domain nameserver account"},
    {"replaceRRSet", "domain_id qname qtype trxid rrset"},
    {"feedRecord", "rr trxid"},
    {"feedEnts", "domain_id trxid nonterm"},
    {"feedEnts3", "domain_id domain times salt narrow trxid nonterm"},
    {"startTransaction", "domain domain_id trxid"},
    {"commitTransaction", "trxid"},
    {"abortTransaction", "trxid"},
    {"directBackendCmd", "query"},
    {"searchRecords", "pattern maxResults"},
    {"searchComments", "pattern maxResults"},
    {"getAllDomains", "include_disabled"},
    {"getUpdatedMasters", ""},
    {"getUnfreshSlaveInfos", ""},
    {"setStale", "id"},
    {"setFresh", "id"},
};

static struct rbgw_json *
num(struct rbgw_arena *a, const char *text)
{
    return rbgw_json_new_number(a, text, strlen(text));
}

static struct rbgw_json *
str(struct rbgw_arena *a, const char *text)
{
    return rbgw_json_new_string(a, text, strlen(text));
}

static struct rbgw_json *
boolean(struct rbgw_arena *a, bool v)
{
    return rbgw_json_new(a, v ? RBGW_JSON_TRUE : RBGW_JSON_FALSE);
}

static bool
one_of(const char *name, const char *list)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t w = strcspn(p, " ");
        if (w == n && strncmp(p, name, n) == 0) {
            return true;
        }
        p += w + (p[w] == ' ');
    }
    return false;
}

/* One record as pdns puts it in rr, rrset and nsset. */
static struct rbgw_json *
record(struct rbgw_arena *a, bool with_ordername, bool auth)
{
    struct rbgw_json *r = rbgw_json_new(a, RBGW_JSON_OBJECT);
    rbgw_json_append(a, r, "auth", 4, boolean(a, auth));
    rbgw_json_append(a, r, "content", 7, str(a, "192.0.2.7"));
    if (with_ordername) {
        rbgw_json_append(a, r, "ordername", 9, str(a, "o."));
    }
    rbgw_json_append(a, r, "qclass", 6, num(a, "1"));
    rbgw_json_append(a, r, "qname", 5, str(a, "r.example."));
    rbgw_json_append(a, r, "qtype", 5, str(a, "A"));
    rbgw_json_append(a, r, "ttl", 3, num(a, "300"));
    return r;
}

/* A value for a parameter, of the JSON type pdns sends it as.  A parameter REST loses gets the
 * value the row's lost list puts back, so it round-trips exactly when the row knows it lost. */
static struct rbgw_json *
sample(struct rbgw_arena *a, const struct rbgw_rest *rest, const char *name)
{
    for (size_t i = 0; i < RBGW_REST_MAX_LOST && rest->lost[i].value != RBGW_LOST_NONE; i++) {
        if (strcmp(rest->lost[i].param, name) == 0) {
            switch (rest->lost[i].value) {
            case RBGW_LOST_FALSE:
            case RBGW_LOST_TRUE:
                return boolean(a, rest->lost[i].value == RBGW_LOST_TRUE);
            case RBGW_LOST_EMPTY_STR:
                return str(a, "");
            default:
                return rbgw_json_new(a, RBGW_JSON_ARRAY);
            }
        }
    }
    if (one_of(name, "id domain_id zone-id maxResults times")) {
        return num(a, "7");
    }
    if (one_of(name, "trxid serial")) {
        return num(a, "2024010101");
    }
    if (one_of(name, "include_disabled include-disabled narrow")) {
        return boolean(a, true);
    }
    if (strcmp(name, "value") == 0 || strcmp(name, "nonterm") == 0) {
        struct rbgw_json *v = rbgw_json_new(a, RBGW_JSON_ARRAY);
        rbgw_json_append(a, v, NULL, 0, str(a, "v 1"));
        rbgw_json_append(a, v, NULL, 0, str(a, "v&2"));
        return v;
    }
    if (strcmp(name, "key") == 0) {
        struct rbgw_json *k = rbgw_json_new(a, RBGW_JSON_OBJECT);
        rbgw_json_append(a, k, "active", 6, boolean(a, true));
        rbgw_json_append(a, k, "content", 7, str(a, "Private-key-format: v1.2"));
        rbgw_json_append(a, k, "flags", 5, num(a, "257"));
        rbgw_json_append(a, k, "published", 9, boolean(a, false));
        return k;
    }
    if (strcmp(name, "rr") == 0) {
        return record(a, true, true);
    }
    if (strcmp(name, "rrset") == 0 || strcmp(name, "nsset") == 0) {
        struct rbgw_json *v = rbgw_json_new(a, RBGW_JSON_ARRAY);
        rbgw_json_append(a, v, NULL, 0, record(a, false, true));
        rbgw_json_append(a, v, NULL, 0, record(a, false, false));
        return v;
    }
    return str(a, strcmp(name, "qtype") == 0 ? "A" : "some value.");
}

/* The call pdns would send for this method, as its parameters. */
static struct rbgw_json *
params_of(struct rbgw_arena *a, const struct rbgw_rest *rest, const char *names)
{
    struct rbgw_json *p = rbgw_json_new(a, RBGW_JSON_OBJECT);
    for (const char *n = names; *n;) {
        size_t w = strcspn(n, " ");
        char key[32];
        snprintf(key, sizeof(key), "%.*s", (int)w, n);
        rbgw_json_append(a, p, key, w, sample(a, rest, key));
        n += w + (n[w] == ' ');
    }
    return p;
}

/* Minimal split of the bytes xlate.c wrote: request line, headers, body. */
static bool
split_http(const char *req, struct rbgw_http_in *in, struct rbgw_http_header *h, size_t max)
{
    const char *eol = strstr(req, "\r\n");
    const char *sp1 = eol ? memchr(req, ' ', (size_t)(eol - req)) : NULL;
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (sp2 == NULL) {
        return false;
    }
    in->verb = rbgw_str_make(req, (size_t)(sp1 - req));
    in->target = rbgw_str_make(sp1 + 1, (size_t)(sp2 - sp1 - 1));
    in->nheaders = 0;
    const char *p = eol + 2;
    while (strncmp(p, "\r\n", 2) != 0) {
        eol = strstr(p, "\r\n");
        const char *colon = eol ? memchr(p, ':', (size_t)(eol - p)) : NULL;
        if (colon == NULL || in->nheaders == max) {
            return false;
        }
        h[in->nheaders].name = rbgw_str_make(p, (size_t)(colon - p));
        h[in->nheaders].value = rbgw_str_make(colon + 1, (size_t)(eol - colon - 1));
        in->nheaders++;
        p = eol + 2;
    }
    in->headers = h;
    in->body = rbgw_str_cstr(p + 2);
    return true;
}

Test(method, rest_rows_round_trip_through_ingress)
{
    size_t checked = 0;
    for (size_t i = 0; i < RBGW_NELEM(sent); i++) {
        enum rbgw_method m = rbgw_method_lookup(rbgw_str_cstr(sent[i].method));
        const struct rbgw_method_info *row = rbgw_method_info(m);
        if (m == RBGW_M_UNKNOWN || row->rest.none) {
            cr_expect_fail("%s: no REST row", sent[i].method);
            continue;
        }
        for (int dialect = 4; dialect <= 5; dialect++) {
            struct rbgw_arena a = RBGW_ARENA_INIT;
            struct rbgw_buf call = RBGW_BUF_INIT, req = RBGW_BUF_INIT, back = RBGW_BUF_INIT;
            char err[256] = "";
            struct rbgw_json *params = params_of(&a, &row->rest, sent[i].params);
            struct rbgw_json *root = rbgw_json_new(&a, RBGW_JSON_OBJECT);
            rbgw_json_append(&a, root, "method", 6, rbgw_json_new_string(&a, row->name, row->len));
            rbgw_json_append(&a, root, "parameters", 10, params);
            rbgw_json_write(&call, root);

            struct rbgw_http_target t = {.mode = RBGW_HTTP_REST,
                                         .dialect = dialect,
                                         .host = RBGW_STR("127.0.0.1"),
                                         .path = RBGW_STR("/dns"),
                                         .suffix = RBGW_STR(".php")};
            struct rbgw_xlate_scratch xs;
            memset(&xs, 0, sizeof(xs));
            int rc = rbgw_xlate_rpc_to_http_with(&xs, &t, m, rbgw_str_make(row->name, row->len),
                                                 params, RBGW_STR_NULL, &req, err, sizeof(err));
            rbgw_xlate_scratch_free(&xs);
            struct rbgw_http_header h[16];
            struct rbgw_http_in in;
            struct rbgw_http_in_conf conf = {RBGW_STR("/dns"), RBGW_STR(".php")};
            if (rc != 0) {
                cr_expect_fail("%s dialect %d: egress failed: %s", row->name, dialect, err);
            } else if (!split_http(req.data, &in, h, RBGW_NELEM(h))) {
                cr_expect_fail("%s dialect %d: request does not split:\n%s", row->name, dialect,
                               req.data);
            } else if ((rc = rbgw_xlate_http_to_rpc(&conf, &in, &a, &back, err, sizeof(err))) !=
                       0) {
                cr_expect_fail("%s dialect %d: ingress failed: %s\n%s", row->name, dialect, err,
                               req.data);
            } else if (strcmp(back.data, call.data) != 0) {
                cr_expect_fail("%s dialect %d:\n sent %s\n back %s\n via\n%s", row->name, dialect,
                               call.data, back.data, req.data);
            } else {
                checked++;
            }
            rbgw_buf_free(&call);
            rbgw_buf_free(&req);
            rbgw_buf_free(&back);
            rbgw_arena_free(&a);
        }
    }
    /* every row but initialize is in sent[], so every REST row was tried, in both dialects */
    cr_assert_eq(RBGW_NELEM(sent), (size_t)RBGW_M__COUNT - 2);
    cr_assert_eq(checked, 2 * RBGW_NELEM(sent), "%zu round trips", checked);
}

/* initialize has no REST form: out it follows pdns's generic rule, in it is an unknown method. */
Test(method, initialize_has_no_rest_row)
{
    cr_assert(rbgw_method_info(RBGW_M_INITIALIZE)->rest.none);
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_buf out = RBGW_BUF_INIT;
    struct rbgw_http_target t = {.mode = RBGW_HTTP_REST,
                                 .dialect = 5,
                                 .host = RBGW_STR("h"),
                                 .path = RBGW_STR("/dns"),
                                 .suffix = RBGW_STR("")};
    cr_assert_eq(
        rbgw_xlate_rpc_to_http(&t, RBGW_STR("initialize"), NULL, RBGW_STR(""), &out, NULL, 0), 0);
    cr_expect(strncmp(out.data, "GET /dns/initialize HTTP/1.1\r\n", 30) == 0, "%s", out.data);
    rbgw_buf_reset(&out);
    struct rbgw_http_in in = {RBGW_STR("GET"), RBGW_STR("/dns/initialize/x"), NULL, 0,
                              RBGW_STR_NULL};
    struct rbgw_http_in_conf conf = {RBGW_STR("/dns"), RBGW_STR("")};
    cr_assert_eq(rbgw_xlate_http_to_rpc(&conf, &in, &a, &out, NULL, 0), 0);
    cr_expect_str_eq(out.data,
                     "{\"method\": \"initialize\", \"parameters\": {\"_segments\": [\"x\"]}}");
    rbgw_buf_free(&out);
    rbgw_arena_free(&a);
}

/* rbgw_rest_param_index names each REST name by its place in the two lists, and nothing else:
 * every name of both lists, then keys that share a length and first bytes with one. */
Test(method, rest_param_index_is_the_lists)
{
    for (int i = 0; i < RBGW_REST_NCOMPONENTS; i++) {
        const char *k = rbgw_rest_components[i];
        cr_expect_eq(rbgw_rest_param_index(k, strlen(k)), i, "%s", k);
    }
    for (int j = 0; j < RBGW_REST_NHEADERS; j++) {
        const char *k = rbgw_rest_header_params[j];
        cr_expect_eq(rbgw_rest_param_index(k, strlen(k)), RBGW_REST_NCOMPONENTS + j, "%s", k);
    }
    static const char *const not_names[] = {
        "",         "i",         "iD",          "ix",          "nam",        "names",
        "kinD",     "nind",      "qnamE",       "qtypf",       "qzzzz",      "locaL",
        "trxiD",    "xxxxx",     "remotE",      "Remote",      "zone_id",    "zoneid",
        "zonenamE", "domain-id", "real-remotE", "real_remote", "parameters", "ttl",
        "content",  "auth",
    };
    for (size_t i = 0; i < RBGW_NELEM(not_names); i++) {
        const char *k = not_names[i];
        cr_expect_eq(rbgw_rest_param_index(k, strlen(k)), -1, "\"%s\" taken for a REST name", k);
    }
}

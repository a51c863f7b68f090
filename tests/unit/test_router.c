/*
 * test_router.c: the pure fan-out policy module (router.h, docs/fanout.md), table-driven.
 *
 * What: building pools and routes from pool=/route= entries (every error text exactly), method
 * classes for all 37 methods, the DNS name each call is about, label-boundary name matching,
 * route selection, the five load-balancing policies over sequences of calls, pdns's reading
 * of results and the read=merge combination of replies.
 *
 * Why tables: each row is one rule of docs/fanout.md, so a failure names the rule.  Rows are
 * reached by index (Criterion re-executes each parameterised case in a fresh process, where
 * pointers from the parent would be meaningless).  Load balancing is checked over whole
 * sequences, because its contract is about what happens across calls (rotation, proportions,
 * stability), not about one call.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rbgw/router.h"

#define MAXE 6 /* entries per kind in a config row */

static void
free_params(struct criterion_test_params *crp)
{
    cr_free(crp->params);
}

static struct criterion_test_params
index_params(size_t n)
{
    size_t *idx = cr_malloc(n * sizeof(*idx));
    for (size_t i = 0; i < n; i++) {
        idx[i] = i;
    }
    return cr_make_param_array(size_t, idx, n, free_params);
}

/* ---- configuration ---- */

/*
 * A config built by hand as rbgw_config_load would leave it: upstream i has origin
 * "t.conf:<i+1>", pool i "t.conf:<11+i>", route i "t.conf:<21+i>".
 */
static void
add_entries(struct rbgw_endpoint_conf **eps, size_t *n, const char *const *texts, bool named,
            int line0)
{
    size_t count = 0;
    while (count < MAXE && texts[count] != NULL) {
        count++;
    }
    *eps = count ? calloc(count, sizeof(**eps)) : NULL;
    *n = 0;
    for (size_t i = 0; i < count; i++) {
        struct rbgw_endpoint_conf *ep = &(*eps)[i];
        char err[256] = "", origin[32];
        int rc = named ? rbgw_connstr_parse_named(texts[i], &ep->cs, err, sizeof(err))
                       : rbgw_connstr_parse(texts[i], &ep->cs, err, sizeof(err));
        cr_assert_eq(rc, 0, "fixture '%s' does not parse: %s", texts[i], err);
        snprintf(origin, sizeof(origin), "t.conf:%d", line0 + (int)i);
        ep->text = strdup(texts[i]);
        ep->origin = strdup(origin);
        (*n)++;
    }
}

static void
make_cfg(struct rbgw_config *cfg, const char *const *ups, const char *const *pools,
         const char *const *routes)
{
    memset(cfg, 0, sizeof(*cfg));
    add_entries(&cfg->upstreams, &cfg->nupstreams, ups, false, 1);
    add_entries(&cfg->pools, &cfg->npools, pools, true, 11);
    add_entries(&cfg->routes, &cfg->nroutes, routes, true, 21);
}

static const char *const policy_name[] = {"first-available", "round-robin", "least-outstanding",
                                          "weighted", "consistent-hash"};
static const char *const read_name[] = {"one", "first-success", "first-nonempty", "merge"};
static const char *const write_name[] = {"one", "all"};

/*
 * "NAME:m+m:POLICY:READ:WRITE:RETRIES@ORIGIN ..." then " route:CLASS:ZONE:POOL@ORIGIN ..."
 * (members and pools as indexes, zone "-" when absent).
 */
static void
render(const struct rbgw_router_conf *rc, char *out, size_t len)
{
    size_t u = 0;
    out[0] = '\0';
    for (size_t i = 0; i < rc->npools; i++) {
        const struct rbgw_pool_conf *p = &rc->pools[i];
        u += (size_t)snprintf(out + u, len - u, "%s%s:", i ? " " : "", p->name);
        for (size_t j = 0; j < p->nmembers; j++) {
            u += (size_t)snprintf(out + u, len - u, "%s%zu", j ? "+" : "", p->members[j]);
        }
        u += (size_t)snprintf(out + u, len - u, ":%s:%s:%s:%u@%s", policy_name[p->policy],
                              read_name[p->read], write_name[p->write], p->retries, p->origin);
    }
    for (size_t i = 0; i < rc->nroutes; i++) {
        const struct rbgw_route_conf *r = &rc->routes[i];
        const char *cls = r->reads && r->writes ? "all" : r->reads ? "reads" : "writes";
        u += (size_t)snprintf(out + u, len - u, " route:%s:%s:%zu@%s", cls, r->zone ? r->zone : "-",
                              r->pool, r->origin);
    }
}

struct conf_row {
    const char *name;
    const char *ups[MAXE + 1];
    const char *pools[MAXE + 1];
    const char *routes[MAXE + 1];
    const char *want; /* render() output, or the exact error when rc != 0 */
    int rc;
};

#define A "pipe:command=/x,name=a"
#define B "unix:path=/s,name=b"
#define C "http:url=http://127.0.0.1:8080/dns,name=c"

static const struct conf_row conf_rows[] = {
    /* implicit pool, default names, defaults */
    {"implicit default pool of every upstream in order",
     {"pipe:command=/x", "unix:path=/s", "http:url=http://127.0.0.1/", "zmq:endpoint=tcp://a:1"},
     {NULL},
     {NULL},
     "default:0+1+2+3:least-outstanding:one:one:1@default",
     0},
    {"default names as the gateway gives them (zmq is zeromq#N)",
     {"pipe:command=/x", "zmq:endpoint=tcp://a:1", "unix:path=/s"},
     {"p:upstreams=zeromq#2 pipe#1+unix#3"},
     {NULL},
     "p:1+0+2:least-outstanding:one:one:1@t.conf:11",
     0},
    {"every pool option",
     {A, B, C},
     {"main:upstreams=c+a,policy=round-robin,read=merge,write=all,retries=0"},
     {NULL},
     "main:2+0:round-robin:merge:all:0@t.conf:11",
     0},
    {"empty tokens between separators are dropped",
     {A, B},
     {"p:upstreams=+a++ b "},
     {NULL},
     "p:0+1:least-outstanding:one:one:1@t.conf:11",
     0},
    {"each policy, read and write word",
     {A, B, C},
     {"p1:upstreams=a,policy=first-available,read=first-success",
      "p2:upstreams=b,policy=weighted,read=first-nonempty,write=one",
      "p3:upstreams=c,policy=consistent-hash,read=one,retries=8",
      "p4:upstreams=a+b,policy=least-outstanding"},
     {NULL},
     "p1:0:first-available:first-success:one:1@t.conf:11 "
     "p2:1:weighted:first-nonempty:one:1@t.conf:12 "
     "p3:2:consistent-hash:one:one:8@t.conf:13 "
     "p4:0+1:least-outstanding:one:one:1@t.conf:14",
     0},
    {"an upstream in no pool is fine",
     {A, B, C},
     {"only:upstreams=b"},
     {NULL},
     "only:1:least-outstanding:one:one:1@t.conf:11",
     0},
    {"routes: classes, zones made absolute, file order kept",
     {A, B},
     {"main:upstreams=a", "backup:upstreams=b"},
     {"reads:pool=backup,zone=Example.COM", "writes:pool=main", "all:pool=backup,zone=.",
      "reads:pool=main,zone=example.net."},
     "main:0:least-outstanding:one:one:1@t.conf:11 backup:1:least-outstanding:one:one:1@t.conf:12"
     " route:reads:Example.COM.:1@t.conf:21 route:writes:-:0@t.conf:22"
     " route:all:.:1@t.conf:23 route:reads:example.net.:0@t.conf:24",
     0},
    {"route to the implicit default pool",
     {A},
     {NULL},
     {"reads:pool=default"},
     "default:0:least-outstanding:one:one:1@default route:reads:-:0@t.conf:21",
     0},
    {"zone ending in an escaped dot gets its own trailing dot",
     {A},
     {NULL},
     {"reads:pool=default,zone=x\\.", "reads:pool=default,zone=y\\\\."},
     "default:0:least-outstanding:one:one:1@default route:reads:x\\..:0@t.conf:21"
     " route:reads:y\\\\.:0@t.conf:22",
     0},

    /* errors, each with its exact text */
    {"unknown upstream names the known ones",
     {A, B},
     {"main:upstreams=a+c"},
     {NULL},
     "t.conf:11: pool main: unknown upstream 'c' (known: a, b)",
     RBGW_ECONFIG},
    {"unknown upstream among default names",
     {"pipe:command=/x", "unix:path=/s"},
     {"main:upstreams=pipe#2"},
     {NULL},
     "t.conf:11: pool main: unknown upstream 'pipe#2' (known: pipe#1, unix#2)",
     RBGW_ECONFIG},
    {"unknown pool in a route",
     {A, B},
     {"main:upstreams=a", "backup:upstreams=b"},
     {"reads:pool=x"},
     "t.conf:21: route reads: unknown pool 'x' (known: main, backup)",
     RBGW_ECONFIG},
    {"unknown pool with only the implicit one",
     {A},
     {NULL},
     {"writes:pool=main"},
     "t.conf:21: route writes: unknown pool 'main' (known: default)",
     RBGW_ECONFIG},
    {"duplicate pool names",
     {A, B},
     {"main:upstreams=a", "main:upstreams=b"},
     {NULL},
     "t.conf:12: pool main: name already used by the pool at t.conf:11",
     RBGW_ECONFIG},
    {"duplicate upstream names",
     {A, "unix:path=/s,name=a"},
     {NULL},
     {NULL},
     "t.conf:2: upstream a: name already used by the upstream at t.conf:1",
     RBGW_ECONFIG},
    {"explicit name colliding with a default name",
     {"pipe:command=/x", "unix:path=/s,name=pipe#1"},
     {NULL},
     {NULL},
     "t.conf:2: upstream pipe#1: name already used by the upstream at t.conf:1",
     RBGW_ECONFIG},
    {"upstream name with '+'",
     {"pipe:command=/x,name=a+b"},
     {NULL},
     {NULL},
     "t.conf:1: upstream 'a+b': a name must be non-empty, without '+' or spaces",
     RBGW_ECONFIG},
    {"empty upstream name",
     {"pipe:command=/x,name="},
     {NULL},
     {NULL},
     "t.conf:1: upstream '': a name must be non-empty, without '+' or spaces",
     RBGW_ECONFIG},
    {"empty pool",
     {A},
     {"main:upstreams="},
     {NULL},
     "t.conf:11: pool main: no upstreams (expected upstreams=NAME+NAME...)",
     RBGW_ECONFIG},
    {"pool without upstreams=",
     {A},
     {"main:policy=weighted"},
     {NULL},
     "t.conf:11: pool main: no upstreams (expected upstreams=NAME+NAME...)",
     RBGW_ECONFIG},
    {"pool of separators only",
     {A},
     {"main:upstreams=+ +"},
     {NULL},
     "t.conf:11: pool main: no upstreams (expected upstreams=NAME+NAME...)",
     RBGW_ECONFIG},
    {"upstream listed twice",
     {A, B},
     {"main:upstreams=a+b+a"},
     {NULL},
     "t.conf:11: pool main: upstream 'a' listed twice",
     RBGW_ECONFIG},
    {"bad policy word",
     {A},
     {"main:upstreams=a,policy=fastest"},
     {NULL},
     "t.conf:11: pool main: policy=fastest is not one of first-available, round-robin, "
     "least-outstanding, weighted, consistent-hash",
     RBGW_ECONFIG},
    {"bad policy word close to a good one",
     {A},
     {"main:upstreams=a,policy=round_robin"},
     {NULL},
     "t.conf:11: pool main: policy=round_robin is not one of first-available, round-robin, "
     "least-outstanding, weighted, consistent-hash (did you mean 'round-robin'?)",
     RBGW_ECONFIG},
    {"bad read word",
     {A},
     {"main:upstreams=a,read=all"},
     {NULL},
     "t.conf:11: pool main: read=all is not one of one, first-success, first-nonempty, merge",
     RBGW_ECONFIG},
    {"bad write word",
     {A},
     {"main:upstreams=a,write=merge"},
     {NULL},
     "t.conf:11: pool main: write=merge is not one of one, all",
     RBGW_ECONFIG},
    {"retries above 8",
     {A},
     {"main:upstreams=a,retries=9"},
     {NULL},
     "t.conf:11: pool main: retries=9 not in 0..8",
     RBGW_ECONFIG},
    {"retries below 0",
     {A},
     {"main:upstreams=a,retries=-1"},
     {NULL},
     "t.conf:11: pool main: retries=-1 not in 0..8",
     RBGW_ECONFIG},
    {"retries not a number",
     {A},
     {"main:upstreams=a,retries=many"},
     {NULL},
     "t.conf:11: pool main: retries=many is not a number",
     RBGW_ECONFIG},
    {"unknown pool option with a hint",
     {A},
     {"main:upstreams=a,polcy=weighted"},
     {NULL},
     "t.conf:11: pool main: unknown option 'polcy' (did you mean 'policy'? allowed: upstreams, "
     "policy, read, write, retries)",
     RBGW_ECONFIG},
    {"unknown pool option: upstream for upstreams",
     {A},
     {"main:upstream=a"},
     {NULL},
     "t.conf:11: pool main: unknown option 'upstream' (did you mean 'upstreams'? allowed: "
     "upstreams, policy, read, write, retries)",
     RBGW_ECONFIG},
    {"unknown pool option: retry for retries",
     {A},
     {"main:upstreams=a,retry=2"},
     {NULL},
     "t.conf:11: pool main: unknown option 'retry' (did you mean 'retries'? allowed: upstreams, "
     "policy, read, write, retries)",
     RBGW_ECONFIG},
    {"unknown pool option without a hint",
     {A},
     {"main:upstreams=a,weight=3"},
     {NULL},
     "t.conf:11: pool main: unknown option 'weight' (allowed: upstreams, policy, read, write, "
     "retries)",
     RBGW_ECONFIG},
    {"unknown route option",
     {A},
     {NULL},
     {"reads:pool=default,zones=example.com"},
     "t.conf:21: route reads: unknown option 'zones' (did you mean 'zone'? allowed: pool, zone)",
     RBGW_ECONFIG},
    {"unknown route class with a hint",
     {A},
     {NULL},
     {"read:pool=default"},
     "t.conf:21: route read: unknown class (expected reads, writes or all; did you mean 'reads'?)",
     RBGW_ECONFIG},
    {"unknown route class",
     {A},
     {NULL},
     {"lookups:pool=default"},
     "t.conf:21: route lookups: unknown class (expected reads, writes or all)",
     RBGW_ECONFIG},
    {"route without pool=",
     {A},
     {NULL},
     {"reads:zone=example.com"},
     "t.conf:21: route reads: pool= is missing",
     RBGW_ECONFIG},
    {"route zone with an empty label",
     {A},
     {NULL},
     {"reads:pool=default,zone=a..b"},
     "t.conf:21: route reads: zone=a..b is not a DNS name (e.g. example.com.)",
     RBGW_ECONFIG},
    {"empty route zone",
     {A},
     {NULL},
     {"reads:pool=default,zone="},
     "t.conf:21: route reads: zone= is not a DNS name (e.g. example.com.)",
     RBGW_ECONFIG},
    {"no upstreams at all",
     {NULL},
     {NULL},
     {NULL},
     "default: pool default: no upstreams (add an upstream= line)",
     RBGW_ECONFIG},
    {"the first error wins: upstream names before pools",
     {A, "unix:path=/s,name=a"},
     {"main:upstreams=zz"},
     {NULL},
     "t.conf:2: upstream a: name already used by the upstream at t.conf:1",
     RBGW_ECONFIG},
};

ParameterizedTestParameters(router, conf)
{
    return index_params(RBGW_NELEM(conf_rows));
}

ParameterizedTest(size_t *ip, router, conf)
{
    const struct conf_row *row = &conf_rows[*ip];
    struct rbgw_config cfg;
    struct rbgw_router_conf rc;
    char err[512] = "", got[2048];
    make_cfg(&cfg, row->ups, row->pools, row->routes);

    int rc_ = rbgw_router_conf_build(&cfg, &rc, err, sizeof(err));
    cr_assert_eq(rc_, row->rc, "%s: rc %d, want %d (err '%s')", row->name, rc_, row->rc, err);
    if (row->rc == 0) {
        render(&rc, got, sizeof(got));
        cr_expect_str_eq(got, row->want, "%s:\n got  %s\n want %s", row->name, got, row->want);
        for (size_t i = 0; i < rc.npools; i++) {
            cr_expect_geq(rc.pools[i].nmembers, 1, "%s: pool %zu empty", row->name, i);
        }
    } else {
        cr_expect_str_eq(err, row->want, "%s:\n got  %s\n want %s", row->name, err, row->want);
        cr_expect_eq(rc.npools, 0, "%s: out not cleared on error", row->name);
        cr_expect_null(rc.pools, "%s: out not cleared on error", row->name);
    }
    rbgw_router_conf_free(&rc);
    rbgw_config_free(&cfg);
}

/* The same through the real loader: origins "--pool" and "FILE:LINE" reach the messages. */
Test(router, conf_origins_from_loader, .timeout = 10)
{
    struct rbgw_config cfg;
    struct rbgw_router_conf rc;
    char err[512] = "", want[512];
    char *argv1[] = {"rbgw", "--upstream=pipe:command=/bin/cat,name=a",
                     "--pool=main:upstreams=a+zz", NULL};
    cr_assert_eq(rbgw_config_load(&cfg, 3, argv1, err, sizeof(err)), 0, "load: %s", err);
    cr_expect_eq(rbgw_router_conf_build(&cfg, &rc, err, sizeof(err)), RBGW_ECONFIG);
    cr_expect_str_eq(err, "--pool: pool main: unknown upstream 'zz' (known: a)");
    rbgw_config_free(&cfg);

    char path[] = "/tmp/rbgw-test-router-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char *text = "upstream=pipe:command=/bin/cat,name=a\n"
                       "pool=main:upstreams=a\n"
                       "# a comment\n"
                       "route=reads:pool=backup\n";
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char arg[64];
    snprintf(arg, sizeof(arg), "--config=%s", path);
    char *argv2[] = {"rbgw", arg, NULL};
    int lrc = rbgw_config_load(&cfg, 2, argv2, err, sizeof(err));
    unlink(path);
    cr_assert_eq(lrc, 0, "load: %s", err);
    cr_expect_eq(rbgw_router_conf_build(&cfg, &rc, err, sizeof(err)), RBGW_ECONFIG);
    snprintf(want, sizeof(want), "%s:4: route reads: unknown pool 'backup' (known: main)", path);
    cr_expect_str_eq(err, want);
    rbgw_config_free(&cfg);
}

/* ---- method classes ---- */

struct class_row {
    const char *method;
    enum rbgw_method_class cls;
};

#define CR RBGW_CLASS_READ
#define CW RBGW_CLASS_WRITE

static const struct class_row class_rows[] = {
    /* the 37 methods of protocol.md §3.0 */
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
    {"getAllDomains", CR},
    {"getUpdatedMasters", CR},
    {"getUnfreshSlaveInfos", CR},
    {"setStale", CW},
    {"setFresh", CW},
    /* unknown methods: get* and search* read, everything else writes; names are exact */
    {"getSomethingNew", CR},
    {"searchComments", CR},
    {"isMaster", CW},
    {"calculateSOASerial", CW},
    {"Lookup", CW},
    {"GETDomainInfo", CW},
    {"", CW},
};

ParameterizedTestParameters(router, method_class)
{
    return index_params(RBGW_NELEM(class_rows));
}

ParameterizedTest(size_t *ip, router, method_class)
{
    const struct class_row *row = &class_rows[*ip];
    enum rbgw_method_class got = rbgw_method_class(rbgw_str_cstr(row->method));
    cr_expect_eq(got, row->cls, "%s: class %s, want %s", row->method, got == CR ? "read" : "write",
                 row->cls == CR ? "read" : "write");
}

Test(router, method_class_table_is_complete)
{
    /* all 37 methods of protocol.md §3.0 come first, each once */
    size_t known = 0;
    while (strcmp(class_rows[known].method, "getSomethingNew") != 0) {
        for (size_t j = 0; j < known; j++) {
            cr_expect_str_neq(class_rows[j].method, class_rows[known].method, "listed twice");
        }
        known++;
    }
    cr_expect_eq(known, 37, "%zu known methods in the table, want 37", known);
}

/* ---- call names ---- */

struct name_row {
    const char *method;
    const char *params; /* JSON */
    const char *want;   /* NULL = empty */
};

static const struct name_row name_rows[] = {
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

ParameterizedTestParameters(router, call_name)
{
    return index_params(RBGW_NELEM(name_rows));
}

ParameterizedTest(size_t *ip, router, call_name)
{
    const struct name_row *row = &name_rows[*ip];
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_json *params;
    char err[256];
    cr_assert_eq(rbgw_json_parse(&a, row->params, strlen(row->params), &params, err, sizeof(err)),
                 0, "row %zu: %s", *ip, err);
    struct rbgw_str got = rbgw_call_name(rbgw_str_cstr(row->method), params);
    if (row->want == NULL) {
        cr_expect_eq(got.len, 0, "row %zu %s: name '%.*s', want none", *ip, row->method,
                     (int)got.len, got.p);
    } else {
        cr_expect(rbgw_str_eq_cstr(got, row->want), "row %zu %s: name '%.*s', want '%s'", *ip,
                  row->method, (int)got.len, got.p ? got.p : "", row->want);
    }
    rbgw_arena_free(&a);
}

Test(router, call_name_without_params)
{
    struct rbgw_str got = rbgw_call_name(RBGW_STR("lookup"), NULL);
    cr_expect_eq(got.len, 0);
}

/* ---- names under zones ---- */

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

ParameterizedTestParameters(router, name_under)
{
    return index_params(RBGW_NELEM(under_rows));
}

ParameterizedTest(size_t *ip, router, name_under)
{
    const struct under_row *row = &under_rows[*ip];
    bool got = rbgw_name_under(rbgw_str_cstr(row->name), rbgw_str_cstr(row->zone));
    cr_expect_eq(got, row->want, "row %zu: '%s' under '%s' = %d, want %d", *ip, row->name,
                 row->zone, got, row->want);
}

Test(router, name_hash_spellings)
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

/* ---- route selection ---- */

struct pick_row {
    enum rbgw_method_class cls;
    const char *name;
    size_t want;
};

static const struct pick_row pick_rows[] = {
    {CR, "www.example.com.", 1},   /* reads under example.com -> ex */
    {CR, "EXAMPLE.COM", 1},        /* the apex itself */
    {CW, "www.example.com.", 2},   /* the zone route is for reads only -> writes route */
    {CR, "www.example.net.", 3},   /* all-class zone route */
    {CW, "x.example.net", 3},      /* it comes before the writes route */
    {CR, "www.example.org.", 0},   /* nothing matches: the first pool */
    {CR, "", 0},                   /* a call naming nothing matches no zone route */
    {CW, "", 2},                   /* ... but class-only routes still apply */
    {CR, "badexample.com.", 0},    /* label boundary */
    {CW, "a.b.example.net.", 3},   /* deep names */
    {CR, "x.sub.example.com.", 1}, /* first match wins over the later, more specific route */
};

static const char *const pick_ups[] = {A, B, C, NULL};
static const char *const pick_pools[] = {"main:upstreams=a", "ex:upstreams=b", "wr:upstreams=c",
                                         "net:upstreams=a+b", NULL};
static const char *const pick_routes[] = {"reads:pool=ex,zone=example.com",
                                          "all:pool=net,zone=example.net.", "writes:pool=wr",
                                          "reads:pool=wr,zone=sub.example.com", NULL};

ParameterizedTestParameters(router, route_pick)
{
    return index_params(RBGW_NELEM(pick_rows));
}

ParameterizedTest(size_t *ip, router, route_pick)
{
    const struct pick_row *row = &pick_rows[*ip];
    struct rbgw_config cfg;
    struct rbgw_router_conf rc;
    char err[256];
    make_cfg(&cfg, pick_ups, pick_pools, pick_routes);
    cr_assert_eq(rbgw_router_conf_build(&cfg, &rc, err, sizeof(err)), 0, "%s", err);
    size_t got = rbgw_route_pick(&rc, row->cls, rbgw_str_cstr(row->name));
    cr_expect_eq(got, row->want, "row %zu: %s '%s' -> pool %zu (%s), want %zu (%s)", *ip,
                 row->cls == CR ? "read" : "write", row->name, got, rc.pools[got].name, row->want,
                 rc.pools[row->want].name);
    rbgw_router_conf_free(&rc);
    rbgw_config_free(&cfg);
}

Test(router, route_pick_without_routes_is_first_pool)
{
    struct rbgw_config cfg;
    struct rbgw_router_conf rc;
    char err[256];
    const char *none[] = {NULL};
    make_cfg(&cfg, pick_ups, pick_pools, none);
    cr_assert_eq(rbgw_router_conf_build(&cfg, &rc, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(rbgw_route_pick(&rc, CR, RBGW_STR("www.example.com.")), 0);
    cr_expect_eq(rbgw_route_pick(&rc, CW, RBGW_STR("www.example.com.")), 0);
    rbgw_router_conf_free(&rc);
    rbgw_config_free(&cfg);
}

/* ---- load balancing ---- */

#define NM 8

static void
members(struct rbgw_member_state *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        m[i] = (struct rbgw_member_state){.healthy = true, .outstanding = 0, .weight = 1};
    }
}

/* Order for one call; asserts it is a permutation of 0..n-1. */
static void
order_of(enum rbgw_lb_policy p, struct rbgw_member_state *m, size_t n, uint64_t *rr, uint64_t hash,
         size_t *order)
{
    bool seen[NM] = {false};
    for (size_t i = 0; i < n; i++) {
        order[i] = 99;
    }
    rbgw_lb_order(p, m, n, rr, hash, order);
    for (size_t i = 0; i < n; i++) {
        cr_assert_lt(order[i], n, "policy %d: order[%zu] = %zu out of range", p, i, order[i]);
        cr_assert(!seen[order[i]], "policy %d: member %zu twice", p, order[i]);
        seen[order[i]] = true;
    }
}

static void
expect_order(const size_t *got, const size_t *want, size_t n, const char *what)
{
    char g[64] = "", w[64] = "";
    for (size_t i = 0; i < n; i++) {
        snprintf(g + strlen(g), sizeof(g) - strlen(g), "%zu", got[i]);
        snprintf(w + strlen(w), sizeof(w) - strlen(w), "%zu", want[i]);
    }
    cr_expect_str_eq(g, w, "%s: order %s, want %s", what, g, w);
}

Test(router, lb_first_available)
{
    struct rbgw_member_state m[3];
    size_t order[3];
    uint64_t rr = 0;
    members(m, 3);
    for (int call = 0; call < 4; call++) {
        order_of(RBGW_LB_FIRST_AVAILABLE, m, 3, &rr, 0, order);
        expect_order(order, (size_t[]){0, 1, 2}, 3, "all healthy, every call");
    }
    cr_expect_eq(rr, 4, "the counter advances on every call");
    m[0].healthy = false;
    order_of(RBGW_LB_FIRST_AVAILABLE, m, 3, &rr, 0, order);
    expect_order(order, (size_t[]){1, 2, 0}, 3, "first unhealthy");
    m[1].healthy = false;
    order_of(RBGW_LB_FIRST_AVAILABLE, m, 3, &rr, 0, order);
    expect_order(order, (size_t[]){2, 0, 1}, 3, "only the last healthy");
}

Test(router, lb_round_robin_rotation)
{
    struct rbgw_member_state m[3];
    size_t order[3];
    uint64_t rr = 0;
    static const size_t want[3][3] = {{0, 1, 2}, {1, 2, 0}, {2, 0, 1}};
    members(m, 3);
    for (int call = 0; call < 9; call++) {
        order_of(RBGW_LB_ROUND_ROBIN, m, 3, &rr, 0, order);
        expect_order(order, want[call % 3], 3, "rotation");
    }
    /* an ejected member leaves the rotation and waits at the end */
    m[1].healthy = false;
    rr = 0;
    static const size_t want2[2][3] = {{0, 2, 1}, {2, 0, 1}};
    for (int call = 0; call < 4; call++) {
        order_of(RBGW_LB_ROUND_ROBIN, m, 3, &rr, 0, order);
        expect_order(order, want2[call % 2], 3, "rotation without member 1");
    }
}

Test(router, lb_round_robin_even_spread)
{
    struct rbgw_member_state m[5];
    size_t order[5], count[5] = {0};
    uint64_t rr = 12345;
    members(m, 5);
    for (int call = 0; call < 1000; call++) {
        order_of(RBGW_LB_ROUND_ROBIN, m, 5, &rr, 0, order);
        count[order[0]]++;
    }
    for (size_t i = 0; i < 5; i++) {
        cr_expect_eq(count[i], 200, "member %zu picked %zu times", i, count[i]);
    }
}

Test(router, lb_least_outstanding)
{
    struct rbgw_member_state m[3];
    size_t order[3];
    uint64_t rr = 0;
    members(m, 3);
    m[0].outstanding = 3;
    m[1].outstanding = 1;
    m[2].outstanding = 2;
    for (int call = 0; call < 3; call++) {
        order_of(RBGW_LB_LEAST_OUTSTANDING, m, 3, &rr, 0, order);
        expect_order(order, (size_t[]){1, 2, 0}, 3, "by load, whatever the counter");
    }
    /* all equal: plain rotation */
    members(m, 3);
    rr = 0;
    for (int call = 0; call < 6; call++) {
        order_of(RBGW_LB_LEAST_OUTSTANDING, m, 3, &rr, 0, order);
        cr_expect_eq(order[0], (size_t)call % 3, "call %d: tie broken by the counter", call);
    }
    /* a partial tie: 1 and 2 alternate, 0 stays last */
    m[0].outstanding = 1;
    rr = 0;
    order_of(RBGW_LB_LEAST_OUTSTANDING, m, 3, &rr, 0, order);
    expect_order(order, (size_t[]){1, 2, 0}, 3, "rr=0");
    order_of(RBGW_LB_LEAST_OUTSTANDING, m, 3, &rr, 0, order);
    expect_order(order, (size_t[]){1, 2, 0}, 3, "rr=1");
    order_of(RBGW_LB_LEAST_OUTSTANDING, m, 3, &rr, 0, order);
    expect_order(order, (size_t[]){2, 1, 0}, 3, "rr=2");
    /* the idlest member is skipped while unhealthy */
    members(m, 3);
    m[0].outstanding = 5;
    m[1].outstanding = 0;
    m[1].healthy = false;
    m[2].outstanding = 3;
    order_of(RBGW_LB_LEAST_OUTSTANDING, m, 3, &rr, 0, order);
    expect_order(order, (size_t[]){2, 0, 1}, 3, "unhealthy idle member last");
}

Test(router, lb_least_outstanding_simulated_load)
{
    /* each pick adds one in-flight call: the loads stay within one of each other */
    struct rbgw_member_state m[4];
    size_t order[4];
    uint64_t rr = 0;
    members(m, 4);
    for (int call = 0; call < 101; call++) {
        order_of(RBGW_LB_LEAST_OUTSTANDING, m, 4, &rr, 0, order);
        for (size_t i = 0; i < 4; i++) {
            cr_assert_leq(m[order[0]].outstanding, m[i].outstanding,
                          "call %d: picked %zu (load %u) over %zu (load %u)", call, order[0],
                          m[order[0]].outstanding, i, m[i].outstanding);
        }
        m[order[0]].outstanding++;
    }
    cr_expect_eq(m[0].outstanding + m[1].outstanding + m[2].outstanding + m[3].outstanding, 101);
    cr_expect_eq(m[0].outstanding, 26);
    cr_expect_eq(m[3].outstanding, 25);
}

Test(router, lb_weighted_nginx_sequence)
{
    /* nginx's documented example: weights 5, 1, 1 give a a b a c a a */
    struct rbgw_member_state m[3];
    size_t order[3];
    uint64_t rr = 0;
    static const size_t want[] = {0, 0, 1, 0, 2, 0, 0};
    members(m, 3);
    m[0].weight = 5;
    for (size_t call = 0; call < 14; call++) {
        order_of(RBGW_LB_WEIGHTED, m, 3, &rr, 0, order);
        cr_expect_eq(order[0], want[call % 7], "pick %zu: %zu, want %zu", call, order[0],
                     want[call % 7]);
    }
    for (size_t i = 0; i < 3; i++) {
        cr_expect_eq(m[i].current, 0, "member %zu current %lld after whole periods", i,
                     (long long)m[i].current);
    }
}

Test(router, lb_weighted_exact_proportions)
{
    struct rbgw_member_state m[3];
    size_t order[3], count[3] = {0};
    uint64_t rr = 0;
    members(m, 3);
    m[0].weight = 5;
    m[1].weight = 3;
    m[2].weight = 2;
    for (int call = 0; call < 1000; call++) {
        order_of(RBGW_LB_WEIGHTED, m, 3, &rr, 0, order);
        count[order[0]]++;
        /* smooth: no member is picked more than its share within any window of 10 */
    }
    cr_expect_eq(count[0], 500);
    cr_expect_eq(count[1], 300);
    cr_expect_eq(count[2], 200);

    /* member 0 ejected: the others share 3:2, member 0 is never first, always last */
    size_t count2[3] = {0};
    m[0].healthy = false;
    for (int call = 0; call < 500; call++) {
        order_of(RBGW_LB_WEIGHTED, m, 3, &rr, 0, order);
        count2[order[0]]++;
        cr_expect_eq(order[2], 0, "call %d: ejected member not last", call);
    }
    cr_expect_eq(count2[0], 0);
    cr_expect_eq(count2[1], 300);
    cr_expect_eq(count2[2], 200);
}

Test(router, lb_weighted_is_smooth)
{
    /* the picks repeat with period 10 = 5+3+2, so every window of 10 consecutive picks holds
     * each member exactly weight times: no bursts of the heavy member */
    enum { CALLS = 200, W = 10 };
    static const uint32_t weight[3] = {5, 3, 2};
    struct rbgw_member_state m[3];
    size_t order[3], pick[CALLS];
    uint64_t rr = 0;
    members(m, 3);
    for (size_t i = 0; i < 3; i++) {
        m[i].weight = weight[i];
    }
    for (size_t call = 0; call < CALLS; call++) {
        order_of(RBGW_LB_WEIGHTED, m, 3, &rr, 0, order);
        pick[call] = order[0];
    }
    for (size_t start = 0; start + W <= CALLS; start++) {
        size_t count[3] = {0};
        for (size_t k = start; k < start + W; k++) {
            count[pick[k]]++;
        }
        for (size_t i = 0; i < 3; i++) {
            cr_expect_eq(count[i], weight[i], "window at %zu: member %zu picked %zu times", start,
                         i, count[i]);
        }
    }
    /* and the heaviest member is never picked three times in a row */
    for (size_t k = 2; k < CALLS; k++) {
        cr_expect(!(pick[k] == 0 && pick[k - 1] == 0 && pick[k - 2] == 0), "burst at %zu", k);
    }
}

static uint64_t
host_hash(int i)
{
    char name[64];
    snprintf(name, sizeof(name), "host%d.example.com.", i);
    return rbgw_name_hash(rbgw_str_cstr(name));
}

Test(router, lb_consistent_hash_stable)
{
    enum { N = 5, CALLS = 1000 };
    struct rbgw_member_state m[N];
    static size_t before[CALLS][N];
    size_t order[N], count[N] = {0};
    uint64_t rr = 0;
    members(m, N);
    for (int i = 0; i < CALLS; i++) {
        order_of(RBGW_LB_CONSISTENT_HASH, m, N, &rr, host_hash(i), before[i]);
        count[before[i][0]]++;
        /* the same name, a different counter and load: the same order */
        m[i % N].outstanding += 7;
        order_of(RBGW_LB_CONSISTENT_HASH, m, N, &rr, host_hash(i), order);
        expect_order(order, before[i], N, "repeat");
    }
    for (size_t k = 0; k < N; k++) {
        cr_expect_geq(count[k], 120, "member %zu owns only %zu of %d names", k, count[k], CALLS);
    }

    /* eject member 2: only its names move, each to its own second choice */
    m[2].healthy = false;
    size_t moved = 0;
    for (int i = 0; i < CALLS; i++) {
        order_of(RBGW_LB_CONSISTENT_HASH, m, N, &rr, host_hash(i), order);
        cr_expect_eq(order[N - 1], 2, "name %d: ejected member not last", i);
        if (before[i][0] == 2) {
            moved++;
            cr_expect_eq(order[0], before[i][1], "name %d: moved to %zu, want %zu", i, order[0],
                         before[i][1]);
        } else {
            cr_expect_eq(order[0], before[i][0], "name %d: moved from %zu to %zu", i, before[i][0],
                         order[0]);
        }
        /* the healthy members keep their relative order */
        size_t x = 0;
        for (size_t k = 0; k < N; k++) {
            if (before[i][k] != 2) {
                cr_expect_eq(order[x], before[i][k], "name %d: fallback order changed", i);
                x++;
            }
        }
    }
    cr_expect_eq(moved, count[2]);

    /* back in service: everything returns */
    m[2].healthy = true;
    for (int i = 0; i < CALLS; i++) {
        order_of(RBGW_LB_CONSISTENT_HASH, m, N, &rr, host_hash(i), order);
        expect_order(order, before[i], N, "after recovery");
    }
}

Test(router, lb_unhealthy_last_every_policy)
{
    for (int p = RBGW_LB_FIRST_AVAILABLE; p <= RBGW_LB_CONSISTENT_HASH; p++) {
        struct rbgw_member_state m[4];
        size_t order[4];
        uint64_t rr = 0;
        members(m, 4);
        m[0].healthy = false;
        m[2].healthy = false;
        m[0].outstanding = 0;
        m[1].outstanding = 9;
        m[3].outstanding = 9;
        m[0].weight = 100;
        for (int call = 0; call < 20; call++) {
            order_of((enum rbgw_lb_policy)p, m, 4, &rr, host_hash(call), order);
            cr_expect(order[0] == 1 || order[0] == 3, "policy %s call %d: first is %zu",
                      policy_name[p], call, order[0]);
            cr_expect(order[1] == 1 || order[1] == 3, "policy %s call %d: second is %zu",
                      policy_name[p], call, order[1]);
            cr_expect(order[2] == 0 || order[2] == 2, "policy %s call %d: third is %zu",
                      policy_name[p], call, order[2]);
        }
        if (p == RBGW_LB_WEIGHTED) {
            cr_expect_eq(m[0].current, 0, "an ejected member's weight state is left alone");
        }
    }
}

Test(router, lb_panic_when_none_healthy)
{
    for (int p = RBGW_LB_FIRST_AVAILABLE; p <= RBGW_LB_CONSISTENT_HASH; p++) {
        struct rbgw_member_state sick[3], well[3];
        size_t o1[3], o2[3];
        uint64_t rr1 = 7, rr2 = 7;
        members(well, 3);
        well[0].weight = 3;
        well[1].outstanding = 2;
        memcpy(sick, well, sizeof(sick));
        for (size_t i = 0; i < 3; i++) {
            sick[i].healthy = false;
        }
        for (int call = 0; call < 12; call++) {
            order_of((enum rbgw_lb_policy)p, sick, 3, &rr1, host_hash(call), o1);
            order_of((enum rbgw_lb_policy)p, well, 3, &rr2, host_hash(call), o2);
            char what[64];
            snprintf(what, sizeof(what), "%s panic call %d", policy_name[p], call);
            expect_order(o1, o2, 3, what);
        }
    }
}

Test(router, lb_single_member)
{
    for (int p = RBGW_LB_FIRST_AVAILABLE; p <= RBGW_LB_CONSISTENT_HASH; p++) {
        struct rbgw_member_state m[1];
        size_t order[1];
        uint64_t rr = 0;
        members(m, 1);
        order_of((enum rbgw_lb_policy)p, m, 1, &rr, 42, order);
        cr_expect_eq(order[0], 0);
        m[0].healthy = false;
        order_of((enum rbgw_lb_policy)p, m, 1, &rr, 42, order);
        cr_expect_eq(order[0], 0, "%s: panic with one member", policy_name[p]);
    }
}

/* ---- pdns's reading of results ---- */

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

ParameterizedTestParameters(router, result_kind)
{
    return index_params(RBGW_NELEM(kind_rows));
}

ParameterizedTest(size_t *ip, router, result_kind)
{
    static const char *const kn[] = {"FAILED", "EMPTY", "DATA"};
    const struct kind_row *row = &kind_rows[*ip];
    struct rbgw_arena a = RBGW_ARENA_INIT;
    enum rbgw_result_kind got =
        rbgw_result_kind(&a, rbgw_str_cstr(row->method), rbgw_str_cstr(row->reply));
    cr_expect_eq(got, row->want, "row %zu: %s %s -> %s, want %s", *ip, row->method, row->reply,
                 kn[got], kn[row->want]);
    rbgw_arena_free(&a);
}

Test(router, result_kind_of_no_reply)
{
    struct rbgw_arena a = RBGW_ARENA_INIT;
    cr_expect_eq(rbgw_result_kind(&a, RBGW_STR("lookup"), RBGW_STR_NULL), RBGW_RESULT_FAILED);
    rbgw_arena_free(&a);
}

/* ---- merging ---- */

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

ParameterizedTestParameters(router, merge)
{
    return index_params(RBGW_NELEM(merge_rows));
}

ParameterizedTest(size_t *ip, router, merge)
{
    const struct merge_row *row = &merge_rows[*ip];
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_buf out = RBGW_BUF_INIT;
    struct rbgw_str replies[MAXLEG];
    for (size_t i = 0; i < row->n; i++) {
        replies[i] = row->replies[i] ? rbgw_str_cstr(row->replies[i]) : RBGW_STR_NULL;
    }
    rbgw_buf_append_cstr(&out, "PRE");
    int rc = rbgw_merge_replies(&a, rbgw_str_cstr(row->method), replies, row->n, &out);
    if (row->want == NULL) {
        cr_expect_eq(rc, RBGW_EPROTO, "%s: rc %d, want RBGW_EPROTO", row->name, rc);
        cr_expect_eq(out.len, 3, "%s: out touched: %s", row->name, out.data);
    } else {
        cr_assert_eq(rc, 0, "%s: rc %d", row->name, rc);
        cr_expect_str_eq(out.data + 3, row->want, "%s:\n got  %s\n want %s", row->name,
                         out.data + 3, row->want);
        cr_expect_null(memchr(out.data, '\n', out.len), "%s: not one line", row->name);
        /* the merged line is itself a reply pdns can read */
        struct rbgw_json *v;
        char err[256];
        cr_expect_eq(rbgw_json_parse(&a, out.data + 3, out.len - 3, &v, err, sizeof(err)), 0,
                     "%s: merged reply does not parse: %s", row->name, err);
    }
    rbgw_buf_free(&out);
    rbgw_arena_free(&a);
}

/* Dedupe over many zones (the hash set grows with the input) keeps exactly one per name. */
Test(router, merge_getalldomains_large)
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
    cr_assert_eq(rbgw_merge_replies(&a, RBGW_STR("getAllDomains"), replies, 2, &out), 0);
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

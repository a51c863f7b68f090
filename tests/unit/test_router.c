/*
 * test_router.c: pools and routes from the configuration, and route selection (router.h,
 * docs/fanout.md), table-driven.
 *
 * What: building pools and routes from pool=/route= entries (every error text exactly, the
 * origins the loader gives), and which pool a call of a class and name goes to.  The policies
 * routing uses have their own tests: test_method.c (classes, call names), test_dname.c (names
 * under zones), test_lb.c, test_result.c and test_merge.c.
 *
 * Why tables: each row is one rule of docs/fanout.md, so a failure names the rule.  Rows are
 * reached by index (Criterion re-executes each parameterised case in a fresh process, where
 * pointers from the parent would be meaningless).
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
        ep->raw = strdup(texts[i]);
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

#define CR RBGW_CLASS_READ
#define CW RBGW_CLASS_WRITE

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

/*
 * router.c: pools and routes from the configuration, and route selection (router.h,
 * docs/fanout.md).
 *
 *   config --rbgw_router_conf_build-->  pools[] + routes[]           (boot, once)
 *   call   --(class, call name)--> rbgw_route_pick --> pool index      (per call)
 *
 * Building validates every pool= and route= entry and says what is wrong in the operator's
 * words: the entry's origin (file:line), the offending word, the allowed words, and a "did you
 * mean" when a word is one or two edits from an allowed one.  Everything here is a pure
 * function of its arguments: no I/O, no clocks, no logging, no globals but const tables.
 * fanout.c owns the runtime state and calls in.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbgw/dname.h"
#include "rbgw/router.h"

/* ---- word tables ---- */

static const char *const policy_words[] = {
    [RBGW_LB_FIRST_AVAILABLE] = "first-available",     [RBGW_LB_ROUND_ROBIN] = "round-robin",
    [RBGW_LB_LEAST_OUTSTANDING] = "least-outstanding", [RBGW_LB_WEIGHTED] = "weighted",
    [RBGW_LB_CONSISTENT_HASH] = "consistent-hash",
};

static const char *const read_words[] = {
    [RBGW_READ_ONE] = "one",
    [RBGW_READ_FIRST_SUCCESS] = "first-success",
    [RBGW_READ_FIRST_NONEMPTY] = "first-nonempty",
    [RBGW_READ_MERGE] = "merge",
};

static const char *const write_words[] = {
    [RBGW_WRITE_ONE] = "one",
    [RBGW_WRITE_ALL] = "all",
};

static const char *const pool_keys[] = {"upstreams", "policy", "read", "write", "retries"};
static const char *const route_keys[] = {"pool", "zone"};

#define RETRIES_DEFAULT 1
#define RETRIES_MAX 8

/* ---- helpers ---- */

static int fail(char *err, size_t errlen, const char *fmt, ...) RBGW_PRINTF(3, 4);

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return RBGW_ECONFIG;
}

/* "a, b, c" into buf (truncated with "..." when it does not fit). */
static void
join(char *buf, size_t len, const char *const *words, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", words[i]);
        if (w < 0 || (size_t)w >= len - used) {
            if (len >= 4) {
                memcpy(buf + len - 4, "...", 4);
            }
            return;
        }
        used += (size_t)w;
    }
}

/* Levenshtein distance of two short strings (longer inputs are capped; only used for hints). */
static size_t
edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[65];
    if (la > 64 || lb > 64) {
        return 99;
    }
    for (size_t j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] == b[j - 1] ? 0 : 1);
            if (up + 1 < best) {
                best = up + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The allowed word closest to w, when it is close enough to be a likely typo; else NULL. */
static const char *
did_you_mean(const char *w, const char *const *words, size_t n)
{
    const char *best = NULL;
    size_t bestd = 3;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(w, words[i]);
        size_t common = 0;
        while (w[common] && w[common] == words[i][common]) {
            common++;
        }
        if (d > 2 && common >= 4) {
            d = 2; /* "retry" for "retries": a shared stem is as good a hint */
        }
        if (d < bestd) {
            bestd = d;
            best = words[i];
        }
    }
    return best;
}

/* pre + "did you mean 'x'?" + post into buf when w looks like a typo of x, else "". */
static const char *
hint(char *buf, size_t len, const char *pre, const char *post, const char *w,
     const char *const *words, size_t n)
{
    const char *m = did_you_mean(w, words, n);
    if (m == NULL) {
        return "";
    }
    snprintf(buf, len, "%sdid you mean '%s'?%s", pre, m, post);
    return buf;
}

/* Index of word w in words[n], or -1. */
static int
word_index(const char *w, const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(w, words[i]) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* ---- configuration ---- */

void
rbgw_router_conf_free(struct rbgw_router_conf *rc)
{
    if (rc == NULL) {
        return;
    }
    for (size_t i = 0; i < rc->npools; i++) {
        free(rc->pools[i].name);
        free(rc->pools[i].members);
        free(rc->pools[i].origin);
    }
    free(rc->pools);
    for (size_t i = 0; i < rc->nroutes; i++) {
        free(rc->routes[i].zone);
        free(rc->routes[i].origin);
    }
    free(rc->routes);
    memset(rc, 0, sizeof(*rc));
}

/* Upstream names as the gateway gives them (rbgw_config_upstream_name). */
static char **
upstream_names(const struct rbgw_config *cfg)
{
    char **names = rbgw_xcalloc(cfg->nupstreams ? cfg->nupstreams : 1, sizeof(*names));
    for (size_t i = 0; i < cfg->nupstreams; i++) {
        names[i] = rbgw_config_upstream_name(cfg, i);
    }
    return names;
}

static void
free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
}

static int
check_upstream_names(const struct rbgw_config *cfg, char *const *names, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->nupstreams; i++) {
        const char *o = cfg->upstreams[i].origin;
        if (names[i][0] == '\0' || strpbrk(names[i], "+ ") != NULL) {
            return fail(err, errlen,
                        "%s: upstream '%s': a name must be non-empty, without '+' or spaces", o,
                        names[i]);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(names[i], names[j]) == 0) {
                return fail(err, errlen, "%s: upstream %s: name already used by the upstream at %s",
                            o, names[i], cfg->upstreams[j].origin);
            }
        }
    }
    return 0;
}

static int
check_keys(const struct rbgw_connstr *cs, const char *const *keys, size_t nkeys, const char *what,
           const char *origin, char *err, size_t errlen)
{
    for (size_t i = 0; i < cs->nopts; i++) {
        if (word_index(cs->opts[i].key, keys, nkeys) < 0) {
            char allowed[256], h[96];
            join(allowed, sizeof(allowed), keys, nkeys);
            return fail(err, errlen, "%s: %s %s: unknown option '%s' (%sallowed: %s)", origin, what,
                        cs->type, cs->opts[i].key,
                        hint(h, sizeof(h), "", " ", cs->opts[i].key, keys, nkeys), allowed);
        }
    }
    return 0;
}

/* key=word for a pool: absent -> def; else its index in words, or RBGW_ECONFIG (< 0). */
static int
pool_word(const struct rbgw_endpoint_conf *ec, const char *key, const char *const *words, size_t n,
          int def, char *err, size_t errlen)
{
    const char *v = rbgw_connstr_get(&ec->cs, key);
    if (v == NULL) {
        return def;
    }
    int i = word_index(v, words, n);
    if (i < 0) {
        char allowed[256], h[96];
        join(allowed, sizeof(allowed), words, n);
        return fail(err, errlen, "%s: pool %s: %s=%s is not one of %s%s", ec->origin, ec->cs.type,
                    key, v, allowed, hint(h, sizeof(h), " (", ")", v, words, n));
    }
    return i;
}

static int
build_members(const struct rbgw_endpoint_conf *ec, struct rbgw_pool_conf *p, char *const *names,
              size_t nnames, char *err, size_t errlen)
{
    const char *list = rbgw_connstr_get(&ec->cs, "upstreams");
    const char *s = list ? list : "";
    size_t cap = 1;
    for (const char *q = s; *q; q++) {
        cap += *q == '+' || *q == ' ';
    }
    p->members = rbgw_xcalloc(cap, sizeof(*p->members));
    while (*s) {
        size_t len = strcspn(s, "+ ");
        if (len == 0) {
            s++;
            continue;
        }
        size_t k;
        for (k = 0; k < nnames; k++) {
            if (strlen(names[k]) == len && memcmp(names[k], s, len) == 0) {
                break;
            }
        }
        if (k == nnames) {
            char known[512];
            join(known, sizeof(known), (const char *const *)names, nnames);
            return fail(err, errlen, "%s: pool %s: unknown upstream '%.*s' (known: %s)", ec->origin,
                        ec->cs.type, (int)len, s, known);
        }
        for (size_t j = 0; j < p->nmembers; j++) {
            if (p->members[j] == k) {
                return fail(err, errlen, "%s: pool %s: upstream '%s' listed twice", ec->origin,
                            ec->cs.type, names[k]);
            }
        }
        p->members[p->nmembers++] = k;
        s += len;
    }
    if (p->nmembers == 0) {
        return fail(err, errlen, "%s: pool %s: no upstreams (expected upstreams=NAME+NAME...)",
                    ec->origin, ec->cs.type);
    }
    return 0;
}

static int
build_pool(const struct rbgw_endpoint_conf *ec, struct rbgw_pool_conf *p, char *const *names,
           size_t nnames, char *err, size_t errlen)
{
    int rc;
    long retries;
    char why[200];
    p->name = rbgw_xstrdup(ec->cs.type);
    p->origin = rbgw_xstrdup(ec->origin);
    if ((rc = check_keys(&ec->cs, pool_keys, RBGW_NELEM(pool_keys), "pool", ec->origin, err,
                         errlen)) != 0 ||
        (rc = build_members(ec, p, names, nnames, err, errlen)) != 0) {
        return rc;
    }
    /* Each word is stored as soon as it is read, so no field is ever left unset. */
    if ((rc = pool_word(ec, "policy", policy_words, RBGW_NELEM(policy_words),
                        RBGW_LB_LEAST_OUTSTANDING, err, errlen)) < 0) {
        return rc;
    }
    p->policy = (enum rbgw_lb_policy)rc;
    if ((rc = pool_word(ec, "read", read_words, RBGW_NELEM(read_words), RBGW_READ_ONE, err,
                        errlen)) < 0) {
        return rc;
    }
    p->read = (enum rbgw_read_mode)rc;
    if ((rc = pool_word(ec, "write", write_words, RBGW_NELEM(write_words), RBGW_WRITE_ONE, err,
                        errlen)) < 0) {
        return rc;
    }
    p->write = (enum rbgw_write_mode)rc;
    if (rbgw_connstr_get_int(&ec->cs, "retries", RETRIES_DEFAULT, 0, RETRIES_MAX, &retries, why,
                             sizeof(why)) != 0) {
        return fail(err, errlen, "%s: pool %s: %s", ec->origin, ec->cs.type, why);
    }
    p->retries = (unsigned)retries;
    return 0;
}

static int
build_route(const struct rbgw_endpoint_conf *ec, const struct rbgw_router_conf *rc,
            struct rbgw_route_conf *r, char *err, size_t errlen)
{
    const char *cls = ec->cs.type;
    r->origin = rbgw_xstrdup(ec->origin);
    if (strcmp(cls, "reads") == 0) {
        r->reads = true;
    } else if (strcmp(cls, "writes") == 0) {
        r->writes = true;
    } else if (strcmp(cls, "all") == 0) {
        r->reads = r->writes = true;
    } else {
        static const char *const classes[] = {"reads", "writes", "all"};
        char h[96];
        return fail(err, errlen, "%s: route %s: unknown class (expected reads, writes or all%s)",
                    ec->origin, cls,
                    hint(h, sizeof(h), "; ", "", cls, classes, RBGW_NELEM(classes)));
    }
    int e =
        check_keys(&ec->cs, route_keys, RBGW_NELEM(route_keys), "route", ec->origin, err, errlen);
    if (e != 0) {
        return e;
    }
    const char *pool = rbgw_connstr_get(&ec->cs, "pool");
    if (pool == NULL) {
        return fail(err, errlen, "%s: route %s: pool= is missing", ec->origin, cls);
    }
    size_t k;
    for (k = 0; k < rc->npools; k++) {
        if (strcmp(rc->pools[k].name, pool) == 0) {
            break;
        }
    }
    if (k == rc->npools) {
        char known[512];
        const char **pn = rbgw_xcalloc(rc->npools, sizeof(*pn));
        for (size_t i = 0; i < rc->npools; i++) {
            pn[i] = rc->pools[i].name;
        }
        join(known, sizeof(known), pn, rc->npools);
        free(pn);
        return fail(err, errlen, "%s: route %s: unknown pool '%s' (known: %s)", ec->origin, cls,
                    pool, known);
    }
    r->pool = k;
    const char *zone = rbgw_connstr_get(&ec->cs, "zone");
    if (zone != NULL) {
        size_t zl = strlen(zone);
        if (zl == 0 || !rbgw_name_valid(rbgw_str_make(zone, zl))) {
            return fail(err, errlen, "%s: route %s: zone=%s is not a DNS name (e.g. example.com.)",
                        ec->origin, cls, zone);
        }
        /* Store it absolute: "example.com" -> "example.com.", "." stays "."; a final dot
         * after an odd run of backslashes is escaped (part of the label), not the root's */
        size_t bs = 0;
        while (bs + 1 < zl && zone[zl - 2 - bs] == '\\') {
            bs++;
        }
        bool dotted = zone[zl - 1] == '.' && bs % 2 == 0;
        r->zone = rbgw_xmalloc(zl + 2);
        memcpy(r->zone, zone, zl);
        if (!dotted) {
            r->zone[zl++] = '.';
        }
        r->zone[zl] = '\0';
    }
    return 0;
}

int
rbgw_router_conf_build(const struct rbgw_config *cfg, struct rbgw_router_conf *out, char *err,
                       size_t errlen)
{
    int rc = 0;
    char **names = upstream_names(cfg);
    memset(out, 0, sizeof(*out));

    if ((rc = check_upstream_names(cfg, names, err, errlen)) != 0) {
        goto fail;
    }

    /* Pools: as written, or one implicit "default" pool of every upstream in order. */
    if (cfg->npools == 0) {
        if (cfg->nupstreams == 0) {
            rc = fail(err, errlen, "default: pool default: no upstreams (add an upstream= line)");
            goto fail;
        }
        out->pools = rbgw_xcalloc(1, sizeof(*out->pools));
        out->npools = 1;
        struct rbgw_pool_conf *p = &out->pools[0];
        p->name = rbgw_xstrdup("default");
        p->origin = rbgw_xstrdup("default");
        p->members = rbgw_xcalloc(cfg->nupstreams, sizeof(*p->members));
        for (size_t i = 0; i < cfg->nupstreams; i++) {
            p->members[i] = i;
        }
        p->nmembers = cfg->nupstreams;
        p->policy = RBGW_LB_LEAST_OUTSTANDING;
        p->read = RBGW_READ_ONE;
        p->write = RBGW_WRITE_ONE;
        p->retries = RETRIES_DEFAULT;
    } else {
        out->pools = rbgw_xcalloc(cfg->npools, sizeof(*out->pools));
        for (size_t i = 0; i < cfg->npools; i++) {
            const struct rbgw_endpoint_conf *ec = &cfg->pools[i];
            for (size_t j = 0; j < i; j++) {
                if (strcmp(ec->cs.type, cfg->pools[j].cs.type) == 0) {
                    rc = fail(err, errlen, "%s: pool %s: name already used by the pool at %s",
                              ec->origin, ec->cs.type, cfg->pools[j].origin);
                    goto fail;
                }
            }
            out->npools++; /* counted first so a half-built pool is freed on error */
            if ((rc = build_pool(ec, &out->pools[i], names, cfg->nupstreams, err, errlen)) != 0) {
                goto fail;
            }
        }
    }

    if (cfg->nroutes > 0) {
        out->routes = rbgw_xcalloc(cfg->nroutes, sizeof(*out->routes));
        for (size_t i = 0; i < cfg->nroutes; i++) {
            out->nroutes++;
            if ((rc = build_route(&cfg->routes[i], out, &out->routes[i], err, errlen)) != 0) {
                goto fail;
            }
        }
    }
    free_names(names, cfg->nupstreams);
    return 0;

fail:
    free_names(names, cfg->nupstreams);
    rbgw_router_conf_free(out);
    return rc;
}

size_t
rbgw_route_pick(const struct rbgw_router_conf *rc, enum rbgw_method_class cls, struct rbgw_str name)
{
    for (size_t i = 0; i < rc->nroutes; i++) {
        const struct rbgw_route_conf *r = &rc->routes[i];
        if (!(cls == RBGW_CLASS_READ ? r->reads : r->writes)) {
            continue;
        }
        if (r->zone != NULL && !rbgw_name_under(name, rbgw_str_cstr(r->zone))) {
            continue;
        }
        return r->pool;
    }
    return 0;
}

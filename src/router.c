/*
 * router.c: routing, load balancing and reply merging for fan-out (router.h, docs/fanout.md).
 *
 * Everything here is a pure function of its arguments: no I/O, no clocks, no logging, no
 * globals but const tables.  fanout.c owns the runtime state (health, outstanding counts, the
 * round-robin counter, smooth-WRR "current" values) and hands it in; this file decides.
 *
 *   config  --rbgw_router_conf_build-->  pools[] + routes[]           (boot, once)
 *   call    --rbgw_method_class + rbgw_call_name-->  (class, name)
 *           --rbgw_route_pick-->  pool  --rbgw_lb_order-->  member order
 *   replies --rbgw_result_kind-->  FAILED / EMPTY / DATA  (pdns's own reading of `result`)
 *           --rbgw_merge_replies-->  one reply line                 (read=merge)
 *
 * One method table (methods[]) carries, per remote-backend method, the parameter that names
 * the call's DNS name, how pdns reads its result and how replies merge, so the three stay in
 * step.  Method classes follow the header's rule (lookup, APILookup, list, get*, search* are
 * reads) and need no table.
 *
 * DNS names are compared label by label after decoding \DDD and \X escapes, so "a\.b.example."
 * has the labels "a.b" and "example", and "\065.example." equals "a.example.".  Merging copies
 * each leg's record objects as raw text (found with a small scanner over the already-validated
 * reply), so key order and number text reach pdns exactly as the responder wrote them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- the method table ---- */

enum result_rule {
    RULE_ANY,       /* anything but false is data */
    RULE_LIST,      /* non-empty array is data; [] / true / other is empty */
    RULE_META,      /* getDomainMetadata: as LIST, and a single string is one value */
    RULE_DOMAIN,    /* getDomainInfo: object with a string "zone" */
    RULE_MAP,       /* getAllDomainMetadata: non-empty object */
    RULE_OBJECT,    /* any object is data, anything else empty */
    RULE_TRUE_ONLY, /* setDomainMetadata: exactly true, anything else failed */
    RULE_KEY_ID,    /* addDomainKey: an id pdns reads as >= 0 */
};

enum merge_rule {
    MERGE_FIRST,  /* first successful reply in member order */
    MERGE_CONCAT, /* concatenate the result arrays */
    MERGE_ZONES,  /* concatenate DomainInfo arrays, first entry per zone name */
};

struct method_row {
    const char *name;      /* method as pdns spells it */
    const char *key;       /* parameter holding the call's DNS name, or NULL */
    const char *sub;       /* member of key's object holding it (feedRecord rr.qname), or NULL */
    enum result_rule rule; /* how pdns reads the result */
    enum merge_rule merge; /* how read=merge combines replies */
};

static const struct method_row methods[] = {
    {"initialize", NULL, NULL, RULE_ANY, MERGE_FIRST},
    {"lookup", "qname", NULL, RULE_LIST, MERGE_CONCAT},
    {"APILookup", "qname", NULL, RULE_LIST, MERGE_CONCAT},
    {"list", "zonename", NULL, RULE_LIST, MERGE_CONCAT},
    /* its qname is relative to the zone, so it names nothing routable */
    {"getBeforeAndAfterNamesAbsolute", NULL, NULL, RULE_OBJECT, MERGE_FIRST},
    {"getAllDomainMetadata", "name", NULL, RULE_MAP, MERGE_FIRST},
    {"getDomainMetadata", "name", NULL, RULE_META, MERGE_FIRST},
    {"setDomainMetadata", "name", NULL, RULE_TRUE_ONLY, MERGE_FIRST},
    {"getDomainKeys", "name", NULL, RULE_LIST, MERGE_CONCAT},
    {"addDomainKey", "name", NULL, RULE_KEY_ID, MERGE_FIRST},
    {"removeDomainKey", "name", NULL, RULE_ANY, MERGE_FIRST},
    {"activateDomainKey", "name", NULL, RULE_ANY, MERGE_FIRST},
    {"deactivateDomainKey", "name", NULL, RULE_ANY, MERGE_FIRST},
    {"publishDomainKey", "name", NULL, RULE_ANY, MERGE_FIRST},
    {"unpublishDomainKey", "name", NULL, RULE_ANY, MERGE_FIRST},
    /* TSIG key names are DNS names too: hashing them keeps set/get of one key together */
    {"getTSIGKey", "name", NULL, RULE_OBJECT, MERGE_FIRST},
    {"setTSIGKey", "name", NULL, RULE_ANY, MERGE_FIRST},
    {"deleteTSIGKey", "name", NULL, RULE_ANY, MERGE_FIRST},
    {"getTSIGKeys", NULL, NULL, RULE_LIST, MERGE_CONCAT},
    {"getDomainInfo", "name", NULL, RULE_DOMAIN, MERGE_FIRST},
    {"setNotified", NULL, NULL, RULE_ANY, MERGE_FIRST},
    {"superMasterBackend", "domain", NULL, RULE_ANY, MERGE_FIRST},
    {"createSlaveDomain", "domain", NULL, RULE_ANY, MERGE_FIRST},
    {"replaceRRSet", "qname", NULL, RULE_ANY, MERGE_FIRST},
    {"feedRecord", "rr", "qname", RULE_ANY, MERGE_FIRST},
    {"feedEnts", NULL, NULL, RULE_ANY, MERGE_FIRST},
    {"feedEnts3", "domain", NULL, RULE_ANY, MERGE_FIRST},
    {"startTransaction", "domain", NULL, RULE_ANY, MERGE_FIRST},
    {"commitTransaction", NULL, NULL, RULE_ANY, MERGE_FIRST},
    {"abortTransaction", NULL, NULL, RULE_ANY, MERGE_FIRST},
    {"directBackendCmd", NULL, NULL, RULE_ANY, MERGE_FIRST},
    {"searchRecords", NULL, NULL, RULE_LIST, MERGE_CONCAT},
    {"getAllDomains", NULL, NULL, RULE_LIST, MERGE_ZONES},
    {"getUpdatedMasters", NULL, NULL, RULE_LIST, MERGE_ZONES},
    {"getUnfreshSlaveInfos", NULL, NULL, RULE_LIST, MERGE_ZONES},
    {"setStale", NULL, NULL, RULE_ANY, MERGE_FIRST},
    {"setFresh", NULL, NULL, RULE_ANY, MERGE_FIRST},
};

/* Parameters tried, in order, for a method the table does not know. */
static const char *const unknown_name_keys[] = {"qname", "name", "zonename", "domain"};

static const struct method_row *
method_find(struct rbgw_str method)
{
    for (size_t i = 0; i < RBGW_NELEM(methods); i++) {
        if (rbgw_str_eq_cstr(method, methods[i].name)) {
            return &methods[i];
        }
    }
    return NULL;
}

/* ---- small helpers ---- */

static unsigned char
lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static bool
has_prefix(struct rbgw_str s, const char *pre)
{
    size_t n = strlen(pre);
    return s.len >= n && memcmp(s.p, pre, n) == 0;
}

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

/* ---- DNS names ---- */

#define DNAME_MAX_BYTES 1024
#define DNAME_MAX_LABELS 256

/* A name split into decoded, lowercased labels; labels run from the leftmost one. */
struct dname {
    unsigned char buf[DNAME_MAX_BYTES]; /* label bytes, back to back */
    uint16_t off[DNAME_MAX_LABELS];     /* start of label i in buf */
    uint16_t len[DNAME_MAX_LABELS];     /* length of label i */
    size_t n;                           /* labels; 0 = the root */
};

/*
 * Split a name in DNS text form: '.' separates labels unless escaped, "\DDD" is one byte, "\X"
 * is X.  One trailing unescaped '.' is optional; "" and "." are the root.  Returns false for
 * text that is not a name (empty label, lone trailing backslash, \DDD over 255, too long).
 */
static bool
dname_parse(struct rbgw_str s, struct dname *d)
{
    size_t used = 0, i = 0;
    d->n = 0;
    if (s.len == 0 || (s.len == 1 && s.p[0] == '.')) {
        return true;
    }
    while (i < s.len) {
        if (d->n == DNAME_MAX_LABELS) {
            return false;
        }
        size_t start = used;
        while (i < s.len && s.p[i] != '.') {
            unsigned char c = (unsigned char)s.p[i++];
            if (c == '\\') {
                if (i >= s.len) {
                    return false;
                }
                if (i + 2 < s.len && s.p[i] >= '0' && s.p[i] <= '9' && s.p[i + 1] >= '0' &&
                    s.p[i + 1] <= '9' && s.p[i + 2] >= '0' && s.p[i + 2] <= '9') {
                    unsigned v = (unsigned)(s.p[i] - '0') * 100 +
                                 (unsigned)(s.p[i + 1] - '0') * 10 + (unsigned)(s.p[i + 2] - '0');
                    if (v > 255) {
                        return false;
                    }
                    c = (unsigned char)v;
                    i += 3;
                } else {
                    c = (unsigned char)s.p[i++];
                }
            }
            if (used == DNAME_MAX_BYTES) {
                return false;
            }
            d->buf[used++] = lower(c);
        }
        if (used == start) {
            return false; /* "a..b", ".a" */
        }
        d->off[d->n] = (uint16_t)start;
        d->len[d->n] = (uint16_t)(used - start);
        d->n++;
        if (i < s.len) {
            i++; /* the separator; a final one is the optional trailing dot */
        }
    }
    return true;
}

static bool
dname_label_eq(const struct dname *a, size_t i, const struct dname *b, size_t j)
{
    return a->len[i] == b->len[j] && memcmp(a->buf + a->off[i], b->buf + b->off[j], a->len[i]) == 0;
}

/* Text fallback for names dname_parse refuses: caseless, one trailing dot ignored. */
static struct rbgw_str
strip_dot(struct rbgw_str s)
{
    if (s.len > 0 && s.p[s.len - 1] == '.') {
        s.len--;
    }
    return s;
}

static bool
name_eq(struct rbgw_str a, struct rbgw_str b)
{
    struct dname da, db;
    if (!dname_parse(a, &da) || !dname_parse(b, &db)) {
        return rbgw_str_caseeq(strip_dot(a), strip_dot(b));
    }
    if (da.n != db.n) {
        return false;
    }
    for (size_t i = 0; i < da.n; i++) {
        if (!dname_label_eq(&da, i, &db, i)) {
            return false;
        }
    }
    return true;
}

bool
rbgw_name_under(struct rbgw_str name, struct rbgw_str zone)
{
    struct dname dn, dz;
    if (!dname_parse(zone, &dz)) {
        return false;
    }
    if (dz.n == 0) {
        return true; /* the root contains every name */
    }
    if (!dname_parse(name, &dn) || dn.n < dz.n) {
        return false;
    }
    for (size_t k = 1; k <= dz.n; k++) {
        if (!dname_label_eq(&dn, dn.n - k, &dz, dz.n - k)) {
            return false;
        }
    }
    return true;
}

#define FNV64_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV64_PRIME UINT64_C(0x100000001b3)

/*
 * FNV-1a 64 over the name in wire form with lowercased labels (length byte, bytes, ... ; the
 * root adds nothing), so every spelling of one name ("A.b.", "a.b", "\097.b.") hashes alike.
 * Text that is not a name is hashed as its lowercased bytes without a trailing dot.
 */
uint64_t
rbgw_name_hash(struct rbgw_str name)
{
    struct dname d;
    uint64_t h = FNV64_OFFSET;
    if (!dname_parse(name, &d)) {
        struct rbgw_str s = strip_dot(name);
        for (size_t i = 0; i < s.len; i++) {
            h = (h ^ lower((unsigned char)s.p[i])) * FNV64_PRIME;
        }
        return h;
    }
    for (size_t i = 0; i < d.n; i++) {
        h = (h ^ (unsigned char)d.len[i]) * FNV64_PRIME;
        for (size_t j = 0; j < d.len[i]; j++) {
            h = (h ^ d.buf[d.off[i] + j]) * FNV64_PRIME;
        }
    }
    return h;
}

/* ---- method classes and call names ---- */

enum rbgw_method_class
rbgw_method_class(struct rbgw_str method)
{
    if (rbgw_str_eq_cstr(method, "lookup") || rbgw_str_eq_cstr(method, "APILookup") ||
        rbgw_str_eq_cstr(method, "list") || has_prefix(method, "get") ||
        has_prefix(method, "search")) {
        return RBGW_CLASS_READ;
    }
    return RBGW_CLASS_WRITE;
}

static struct rbgw_str
string_member(const struct rbgw_json *obj, const char *key)
{
    const struct rbgw_json *v =
        obj != NULL && obj->type == RBGW_JSON_OBJECT ? rbgw_json_get(obj, key) : NULL;
    return v != NULL && v->type == RBGW_JSON_STRING ? v->str : RBGW_STR_NULL;
}

struct rbgw_str
rbgw_call_name(struct rbgw_str method, const struct rbgw_json *params)
{
    const struct method_row *row = method_find(method);
    if (params == NULL || params->type != RBGW_JSON_OBJECT) {
        return RBGW_STR_NULL;
    }
    if (row == NULL) {
        for (size_t i = 0; i < RBGW_NELEM(unknown_name_keys); i++) {
            struct rbgw_str s = string_member(params, unknown_name_keys[i]);
            if (s.p != NULL) {
                return s;
            }
        }
        return RBGW_STR_NULL;
    }
    if (row->key == NULL) {
        return RBGW_STR_NULL;
    }
    if (row->sub != NULL) {
        return string_member(rbgw_json_get(params, row->key), row->sub);
    }
    return string_member(params, row->key);
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

/* key=word for a pool: absent -> def; else its index in words or an error. */
static int
pool_word(const struct rbgw_endpoint_conf *ec, const char *key, const char *const *words, size_t n,
          int def, int *out, char *err, size_t errlen)
{
    const char *v = rbgw_connstr_get(&ec->cs, key);
    if (v == NULL) {
        *out = def;
        return 0;
    }
    int i = word_index(v, words, n);
    if (i < 0) {
        char allowed[256], h[96];
        join(allowed, sizeof(allowed), words, n);
        return fail(err, errlen, "%s: pool %s: %s=%s is not one of %s%s", ec->origin, ec->cs.type,
                    key, v, allowed, hint(h, sizeof(h), " (", ")", v, words, n));
    }
    *out = i;
    return 0;
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
    int rc, policy, read, write;
    long retries;
    char why[200];
    p->name = rbgw_xstrdup(ec->cs.type);
    p->origin = rbgw_xstrdup(ec->origin);
    if ((rc = check_keys(&ec->cs, pool_keys, RBGW_NELEM(pool_keys), "pool", ec->origin, err,
                         errlen)) != 0 ||
        (rc = build_members(ec, p, names, nnames, err, errlen)) != 0 ||
        (rc = pool_word(ec, "policy", policy_words, RBGW_NELEM(policy_words),
                        RBGW_LB_LEAST_OUTSTANDING, &policy, err, errlen)) != 0 ||
        (rc = pool_word(ec, "read", read_words, RBGW_NELEM(read_words), RBGW_READ_ONE, &read, err,
                        errlen)) != 0 ||
        (rc = pool_word(ec, "write", write_words, RBGW_NELEM(write_words), RBGW_WRITE_ONE, &write,
                        err, errlen)) != 0) {
        return rc;
    }
    if (rbgw_connstr_get_int(&ec->cs, "retries", RETRIES_DEFAULT, 0, RETRIES_MAX, &retries, why,
                             sizeof(why)) != 0) {
        return fail(err, errlen, "%s: pool %s: %s", ec->origin, ec->cs.type, why);
    }
    p->policy = (enum rbgw_lb_policy)policy;
    p->read = (enum rbgw_read_mode)read;
    p->write = (enum rbgw_write_mode)write;
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
        struct dname d;
        size_t zl = strlen(zone);
        if (zl == 0 || !dname_parse(rbgw_str_make(zone, zl), &d)) {
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

/* ---- load balancing ---- */

/* splitmix64's finaliser: a cheap, well-mixed 64-bit bijection. */
static uint64_t
mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

/* Rendezvous weight of member i for a call whose name hashes to hash. */
static uint64_t
rendezvous(uint64_t hash, size_t i)
{
    return mix64(hash ^ mix64((uint64_t)i + UINT64_C(0x9e3779b97f4a7c15)));
}

/* What a stable sort of members compares; "before" is the strict ordering of two members. */
struct lb_key {
    enum rbgw_lb_policy policy;        /* which key */
    const struct rbgw_member_state *m; /* member states */
    uint64_t hash;                     /* CONSISTENT_HASH: the call name's hash */
};

static bool
before(const struct lb_key *k, size_t a, size_t b)
{
    switch (k->policy) {
    case RBGW_LB_LEAST_OUTSTANDING:
        return k->m[a].outstanding < k->m[b].outstanding;
    case RBGW_LB_WEIGHTED:
        return k->m[a].current > k->m[b].current;
    case RBGW_LB_CONSISTENT_HASH:
        return rendezvous(k->hash, a) > rendezvous(k->hash, b);
    default:
        return false;
    }
}

/* Stable insertion sort (pools are small; stability carries the tie-break order in). */
static void
sort_members(size_t *order, size_t n, const struct lb_key *k)
{
    for (size_t i = 1; i < n; i++) {
        size_t v = order[i];
        size_t j = i;
        while (j > 0 && before(k, v, order[j - 1])) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
}

static void
rotate(size_t *order, size_t n, size_t by)
{
    if (n == 0 || by % n == 0) {
        return;
    }
    by %= n;
    /* three reversals */
    for (size_t a = 0, b = by - 1; a < b; a++, b--) {
        size_t t = order[a];
        order[a] = order[b];
        order[b] = t;
    }
    for (size_t a = by, b = n - 1; a < b; a++, b--) {
        size_t t = order[a];
        order[a] = order[b];
        order[b] = t;
    }
    for (size_t a = 0, b = n - 1; a < b; a++, b--) {
        size_t t = order[a];
        order[a] = order[b];
        order[b] = t;
    }
}

/*
 * Guide: members are first split into "eligible" (healthy, or everyone in panic mode) and
 * the rest, each group in member order; the policy then arranges the eligible group, and for
 * consistent-hash the rest too, so a call's fallbacks stay stable as members come and go.
 */
void
rbgw_lb_order(enum rbgw_lb_policy policy, struct rbgw_member_state *m, size_t n, uint64_t *rr,
              uint64_t hash, size_t *order)
{
    struct lb_key key = {policy, m, hash};
    size_t h = 0, t;
    bool panic = true;
    if (n == 0) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        panic = panic && !m[i].healthy;
    }
    for (size_t i = 0; i < n; i++) {
        if (panic || m[i].healthy) {
            order[h++] = i;
        }
    }
    t = h;
    for (size_t i = 0; i < n; i++) {
        if (!(panic || m[i].healthy)) {
            order[t++] = i;
        }
    }

    switch (policy) {
    case RBGW_LB_FIRST_AVAILABLE:
        break;
    case RBGW_LB_ROUND_ROBIN:
        rotate(order, h, (size_t)(*rr % h));
        break;
    case RBGW_LB_LEAST_OUTSTANDING:
        /* rotation first, then a stable sort: equal loads keep the round-robin order */
        rotate(order, h, (size_t)(*rr % h));
        sort_members(order, h, &key);
        break;
    case RBGW_LB_WEIGHTED: {
        /*
         * nginx's smooth weighted round-robin (ngx_http_upstream_get_peer): every eligible
         * member's current grows by its weight, the largest current wins (first in member
         * order on ties) and gives back the total.  Over any sum-of-weights picks each member
         * is chosen exactly weight times, interleaved.  Fallbacks follow by current, largest
         * first: who would win the next rounds.
         */
        int64_t total = 0;
        size_t best = order[0];
        for (size_t x = 0; x < h; x++) {
            size_t i = order[x];
            int64_t w = m[i].weight ? (int64_t)m[i].weight : 1;
            m[i].current += w;
            total += w;
            if (m[i].current > m[best].current) {
                best = i;
            }
        }
        m[best].current -= total;
        size_t x = 0;
        while (order[x] != best) {
            x++;
        }
        memmove(order + 1, order, x * sizeof(*order));
        order[0] = best;
        sort_members(order + 1, h - 1, &key);
        break;
    }
    case RBGW_LB_CONSISTENT_HASH:
        sort_members(order, h, &key);
        sort_members(order + h, n - h, &key);
        break;
    }
    (*rr)++;
}

/* ---- reading results ---- */

static bool
number_value(const struct rbgw_json *v, double *out)
{
    char tmp[64];
    if (v->str.len == 0 || v->str.len >= sizeof(tmp)) {
        return false;
    }
    memcpy(tmp, v->str.p, v->str.len);
    tmp[v->str.len] = '\0';
    *out = strtod(tmp, NULL);
    return true;
}

static enum rbgw_result_kind
kind_of(enum result_rule rule, const struct rbgw_json *r)
{
    if (r == NULL || r->type == RBGW_JSON_NULL || r->type == RBGW_JSON_FALSE) {
        return RBGW_RESULT_FAILED;
    }
    switch (rule) {
    case RULE_ANY:
        return RBGW_RESULT_DATA;
    case RULE_LIST:
        return r->type == RBGW_JSON_ARRAY && r->n > 0 ? RBGW_RESULT_DATA : RBGW_RESULT_EMPTY;
    case RULE_META:
        return (r->type == RBGW_JSON_ARRAY && r->n > 0) || r->type == RBGW_JSON_STRING
                   ? RBGW_RESULT_DATA
                   : RBGW_RESULT_EMPTY;
    case RULE_DOMAIN:
        return string_member(r, "zone").p != NULL ? RBGW_RESULT_DATA : RBGW_RESULT_EMPTY;
    case RULE_MAP:
        return r->type == RBGW_JSON_OBJECT && r->n > 0 ? RBGW_RESULT_DATA : RBGW_RESULT_EMPTY;
    case RULE_OBJECT:
        return r->type == RBGW_JSON_OBJECT ? RBGW_RESULT_DATA : RBGW_RESULT_EMPTY;
    case RULE_TRUE_ONLY:
        return r->type == RBGW_JSON_TRUE ? RBGW_RESULT_DATA : RBGW_RESULT_FAILED;
    case RULE_KEY_ID: {
        /* pdns reads the id as an int: a double truncates, anything outside int32 becomes
         * INT_MIN (protocol.md §1.4), and a negative id is failure; non-numbers read as 0 */
        double d;
        if (r->type != RBGW_JSON_NUMBER || !number_value(r, &d)) {
            return RBGW_RESULT_DATA;
        }
        return d <= -1.0 || d >= 2147483648.0 ? RBGW_RESULT_FAILED : RBGW_RESULT_DATA;
    }
    }
    return RBGW_RESULT_DATA;
}

static enum result_rule
rule_of(struct rbgw_str method)
{
    const struct method_row *row = method_find(method);
    return row ? row->rule : RULE_ANY;
}

/* The member of an object by key as rbgw_json_get finds it (the last one), with its index. */
static const struct rbgw_json *
member_at(const struct rbgw_json *obj, const char *key, size_t *idx)
{
    const struct rbgw_json *found = NULL;
    size_t k = 0;
    for (const struct rbgw_json *c = obj->child; c != NULL; c = c->next, k++) {
        if (rbgw_str_eq_cstr(c->key, key)) {
            found = c;
            *idx = k;
        }
    }
    return found;
}

enum rbgw_result_kind
rbgw_result_kind(struct rbgw_arena *a, struct rbgw_str method, struct rbgw_str reply)
{
    struct rbgw_json *root;
    char err[128];
    size_t idx;
    if (reply.p == NULL || rbgw_json_parse(a, reply.p, reply.len, &root, err, sizeof(err)) != 0 ||
        root->type != RBGW_JSON_OBJECT) {
        return RBGW_RESULT_FAILED;
    }
    return kind_of(rule_of(method), member_at(root, "result", &idx));
}

/* ---- merging ---- */

/*
 * A scanner over text the JSON parser has already accepted: it only needs to find where each
 * value ends, so it skips strings (minding escapes) and counts brackets.
 */
static const char *
skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
        p++;
    }
    return p;
}

static const char *
skip_string(const char *p, const char *end)
{
    for (p++; p < end && *p != '"'; p++) {
        if (*p == '\\') {
            p++;
        }
    }
    return p < end ? p + 1 : end;
}

static const char *
skip_value(const char *p, const char *end)
{
    if (p >= end) {
        return end;
    }
    if (*p == '"') {
        return skip_string(p, end);
    }
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < end) {
            if (*p == '"') {
                p = skip_string(p, end);
                continue;
            }
            if (*p == '{' || *p == '[') {
                depth++;
            } else if (*p == '}' || *p == ']') {
                if (--depth == 0) {
                    return p + 1;
                }
            }
            p++;
        }
        return end;
    }
    while (p < end && *p != ',' && *p != ']' && *p != '}' && *p != ' ' && *p != '\t' &&
           *p != '\r' && *p != '\n') {
        p++;
    }
    return p;
}

/*
 * Raw text of each child value of the container whose text is c (an object or array the
 * parser accepted with n children), in source order: spans[k] matches the tree's k-th child.
 */
static struct rbgw_str *
child_spans(struct rbgw_arena *a, struct rbgw_str c, size_t n)
{
    struct rbgw_str *spans = rbgw_arena_calloc(a, (n ? n : 1) * sizeof(*spans));
    const char *p = c.p, *end = c.p + c.len;
    bool object = *p == '{';
    p++;
    for (size_t k = 0; k < n; k++) {
        p = skip_ws(p, end);
        if (object) {
            p = skip_ws(skip_string(p, end), end);
            p = skip_ws(p + 1, end); /* the ':' */
        }
        const char *v = p;
        p = skip_value(p, end);
        spans[k] = rbgw_str_make(v, (size_t)(p - v));
        p = skip_ws(p, end);
        p++; /* ',' or the closing bracket */
    }
    return spans;
}

/* Append raw JSON text, with line breaks between tokens turned into spaces (one-line reply). */
static void
put_raw(struct rbgw_buf *out, struct rbgw_str s)
{
    if (s.len == 0) {
        return;
    }
    char *dst = rbgw_buf_reserve(out, s.len);
    bool in_string = false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (in_string) {
            if (c == '\\' && i + 1 < s.len) {
                dst[i] = c;
                i++;
                dst[i] = s.p[i];
                continue;
            }
            in_string = c != '"';
        } else if (c == '"') {
            in_string = true;
        } else if (c == '\n' || c == '\r') {
            c = ' ';
        }
        dst[i] = c;
    }
    out->len += s.len;
    out->data[out->len] = '\0';
}

/* One successfully parsed leg of a merge. */
struct leg {
    const struct rbgw_json *result; /* the result member, or NULL for a failed leg */
    struct rbgw_str result_raw;     /* its text */
    const struct rbgw_json *log;    /* the log member when it is an array, else NULL */
    struct rbgw_str log_raw;        /* its text */
    enum rbgw_result_kind kind;     /* pdns's reading of result */
};

static void
leg_read(struct rbgw_arena *a, enum result_rule rule, struct rbgw_str reply, struct leg *l)
{
    struct rbgw_json *root;
    char err[128];
    size_t ri = 0, li = 0;
    memset(l, 0, sizeof(*l));
    l->kind = RBGW_RESULT_FAILED;
    if (reply.p == NULL || rbgw_json_parse(a, reply.p, reply.len, &root, err, sizeof(err)) != 0 ||
        root->type != RBGW_JSON_OBJECT) {
        return;
    }
    const char *start = skip_ws(reply.p, reply.p + reply.len);
    struct rbgw_str *spans =
        child_spans(a, rbgw_str_make(start, (size_t)(reply.p + reply.len - start)), root->n);
    const struct rbgw_json *r = member_at(root, "result", &ri);
    const struct rbgw_json *log = member_at(root, "log", &li);
    if (log != NULL && log->type == RBGW_JSON_ARRAY) {
        l->log = log;
        l->log_raw = spans[li];
    }
    l->kind = kind_of(rule, r);
    if (l->kind != RBGW_RESULT_FAILED) {
        l->result = r;
        l->result_raw = spans[ri];
    }
}

/* An open-addressing set of zone names (by rbgw_name_hash, confirmed with name_eq). */
struct zone_set {
    struct rbgw_str *slot; /* arena; .p == NULL = free */
    uint64_t *hash;        /* arena */
    size_t mask;           /* capacity - 1 (a power of two) */
};

/* Adds zone; false when an equal name was already there. */
static bool
zone_set_add(struct zone_set *s, struct rbgw_str zone)
{
    uint64_t h = rbgw_name_hash(zone);
    for (size_t i = (size_t)h & s->mask;; i = (i + 1) & s->mask) {
        if (s->slot[i].p == NULL) {
            s->slot[i] = zone;
            s->hash[i] = h;
            return true;
        }
        if (s->hash[i] == h && name_eq(s->slot[i], zone)) {
            return false;
        }
    }
}

static void
merge_arrays(struct rbgw_arena *a, const struct leg *legs, size_t n, bool dedupe,
             struct rbgw_buf *out)
{
    struct zone_set set = {NULL, NULL, 0};
    size_t total = 0;
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (legs[i].result != NULL && legs[i].result->type == RBGW_JSON_ARRAY) {
            total += legs[i].result->n;
        }
    }
    if (dedupe) {
        size_t cap = 16;
        while (cap < 2 * total) {
            cap *= 2;
        }
        set.slot = rbgw_arena_calloc(a, cap * sizeof(*set.slot));
        set.hash = rbgw_arena_calloc(a, cap * sizeof(*set.hash));
        set.mask = cap - 1;
    }
    rbgw_buf_putc(out, '[');
    for (size_t i = 0; i < n; i++) {
        const struct rbgw_json *r = legs[i].result;
        if (r == NULL || r->type != RBGW_JSON_ARRAY) {
            continue;
        }
        struct rbgw_str *spans = child_spans(a, legs[i].result_raw, r->n);
        size_t k = 0;
        for (const struct rbgw_json *e = r->child; e != NULL; e = e->next, k++) {
            if (dedupe) {
                /* an entry without a zone is passed on; pdns reports it as it would anyway */
                struct rbgw_str zone = string_member(e, "zone");
                if (zone.p != NULL && !zone_set_add(&set, zone)) {
                    continue;
                }
            }
            if (!first) {
                rbgw_buf_append(out, ", ", 2);
            }
            first = false;
            put_raw(out, spans[k]);
        }
    }
    rbgw_buf_putc(out, ']');
}

int
rbgw_merge_replies(struct rbgw_arena *a, struct rbgw_str method, const struct rbgw_str *replies,
                   size_t n, struct rbgw_buf *out)
{
    const struct method_row *row = method_find(method);
    enum result_rule rule = row ? row->rule : RULE_ANY;
    enum merge_rule merge = row ? row->merge : MERGE_FIRST;
    struct leg *legs = rbgw_arena_calloc(a, (n ? n : 1) * sizeof(*legs));
    const struct leg *pick = NULL; /* first DATA leg, else first EMPTY leg */
    bool any_array = false, any_log = false;

    for (size_t i = 0; i < n; i++) {
        leg_read(a, rule, replies[i], &legs[i]);
        if (legs[i].kind == RBGW_RESULT_DATA && (pick == NULL || pick->kind != RBGW_RESULT_DATA)) {
            pick = &legs[i];
        } else if (legs[i].kind == RBGW_RESULT_EMPTY && pick == NULL) {
            pick = &legs[i];
        }
        any_array = any_array || (legs[i].result && legs[i].result->type == RBGW_JSON_ARRAY);
        any_log = any_log || legs[i].log != NULL;
    }
    if (pick == NULL) {
        return RBGW_EPROTO;
    }

    rbgw_buf_append_cstr(out, "{\"result\": ");
    if (merge != MERGE_FIRST && any_array) {
        merge_arrays(a, legs, n, merge == MERGE_ZONES, out);
    } else {
        /* no leg had an array to add up: pass the chosen result on as pdns would read it */
        put_raw(out, pick->result_raw);
    }
    if (any_log) {
        bool first = true;
        rbgw_buf_append_cstr(out, ", \"log\": [");
        for (size_t i = 0; i < n; i++) {
            if (legs[i].log == NULL) {
                continue;
            }
            struct rbgw_str *spans = child_spans(a, legs[i].log_raw, legs[i].log->n);
            for (size_t k = 0; k < legs[i].log->n; k++) {
                if (!first) {
                    rbgw_buf_append(out, ", ", 2);
                }
                first = false;
                put_raw(out, spans[k]);
            }
        }
        rbgw_buf_putc(out, ']');
    }
    rbgw_buf_putc(out, '}');
    return 0;
}

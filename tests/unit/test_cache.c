/*
 * test_cache.c: the read cache's keys, store and flights (cache.h, src/cache.c), table-driven,
 * with the clock injected (every call takes "now").
 *
 * What each table proves:
 *  - keys: two calls share a key exactly when a responder must answer them alike: the DNS
 *    name folded (case, escapes, trailing dot), the members' order ignored, every other
 *    parameter counted (qtype, zone-id, kind, local, a parameter rbgw does not know), the
 *    client's address counted unless per_client is off; which reads are stored, only
 *    coalesced, or neither;
 *  - expiry: an entry is served until now + ttl and not from then on, by the injected clock;
 *  - LRU: the byte bound evicts the least recently used entry, a hit refreshes an entry;
 *  - invalidation: a write to a name drops what is at, above or below it, on label boundaries
 *    ("badexample.com." survives a write to "example.com."), a wildcard as its parent; and it
 *    ends the flights of the same names, and every flight without a name.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbgw/cache.h"

/* ---- helpers ---- */

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

TestSuite(cache, .init = setup, .fini = teardown, .timeout = 30);

static const struct rbgw_json *
params_of(const char *json)
{
    struct rbgw_json *root;
    char err[200];
    cr_assert_eq(rbgw_json_parse(&arena, json, strlen(json), &root, err, sizeof(err)), 0, "%s: %s",
                 json, err);
    return root;
}

/* The key of a call (its use in *use), kept in a buffer the caller frees. */
static struct rbgw_buf
key_of(const char *method, const char *params, bool per_client, enum rbgw_cache_use *use)
{
    struct rbgw_buf b = RBGW_BUF_INIT;
    enum rbgw_method m = rbgw_method_lookup(rbgw_str_cstr(method));
    *use = rbgw_cache_key(m, params_of(params), per_client, &b);
    return b;
}

/* ---- keys ---- */

#define LOOKUP_P(q, t, z, r, l, rr)                                                                \
    "{\"qname\": \"" q "\", \"qtype\": \"" t "\", \"zone-id\": " z ", \"remote\": \"" r            \
    "\", \"local\": \"" l "\", \"real-remote\": \"" rr "\"}"
#define WWW_A LOOKUP_P("www.example.com.", "A", "-1", "192.0.2.7", "127.0.0.1", "192.0.2.7/32")

struct key_row {
    const char *what;        /* the case, for messages */
    const char *method;      /* both calls' method... */
    const char *params;      /* ...and parameters */
    const char *method2;     /* the second call's method (NULL: the same) */
    const char *params2;     /* the second call's parameters */
    bool per_client;         /* cache-per-client */
    enum rbgw_cache_use use; /* how the first call is used */
    bool same;               /* the two share a key */
};

#define STORE RBGW_CACHE_USE_STORE
#define SHARE RBGW_CACHE_USE_SHARE
#define NONE RBGW_CACHE_USE_NONE

static const struct key_row key_rows[] = {
    {"identical lookups", "lookup", WWW_A, NULL, WWW_A, true, STORE, true},
    {"qname case and trailing dot", "lookup", WWW_A, NULL,
     LOOKUP_P("WWW.Example.COM", "A", "-1", "192.0.2.7", "127.0.0.1", "192.0.2.7/32"), true, STORE,
     true},
    {"qname escapes", "lookup", WWW_A, NULL,
     LOOKUP_P("\\\\119ww.example.com.", "A", "-1", "192.0.2.7", "127.0.0.1", "192.0.2.7/32"), true,
     STORE, true},
    {"members in another order", "lookup", WWW_A, NULL,
     "{\"zone-id\": -1, \"real-remote\": \"192.0.2.7/32\", \"local\": \"127.0.0.1\", \"qtype\": "
     "\"A\", \"remote\": \"192.0.2.7\", \"qname\": \"www.example.com.\"}",
     true, STORE, true},
    {"another qname", "lookup", WWW_A, NULL,
     LOOKUP_P("ftp.example.com.", "A", "-1", "192.0.2.7", "127.0.0.1", "192.0.2.7/32"), true, STORE,
     false},
    {"another qtype", "lookup", WWW_A, NULL,
     LOOKUP_P("www.example.com.", "AAAA", "-1", "192.0.2.7", "127.0.0.1", "192.0.2.7/32"), true,
     STORE, false},
    {"qtype case is not folded", "lookup", WWW_A, NULL,
     LOOKUP_P("www.example.com.", "a", "-1", "192.0.2.7", "127.0.0.1", "192.0.2.7/32"), true, STORE,
     false},
    {"another zone-id", "lookup", WWW_A, NULL,
     LOOKUP_P("www.example.com.", "A", "3", "192.0.2.7", "127.0.0.1", "192.0.2.7/32"), true, STORE,
     false},
    {"zone-id spelled as another number", "lookup", WWW_A, NULL,
     LOOKUP_P("www.example.com.", "A", "-1.0", "192.0.2.7", "127.0.0.1", "192.0.2.7/32"), true,
     STORE, false},
    {"another client, per client", "lookup", WWW_A, NULL,
     LOOKUP_P("www.example.com.", "A", "-1", "198.51.100.9", "127.0.0.1", "192.0.2.7/32"), true,
     STORE, false},
    {"another client subnet, per client", "lookup", WWW_A, NULL,
     LOOKUP_P("www.example.com.", "A", "-1", "192.0.2.7", "127.0.0.1", "198.51.100.0/24"), true,
     STORE, false},
    {"another client, shared", "lookup", WWW_A, NULL,
     LOOKUP_P("www.example.com.", "A", "-1", "198.51.100.9", "127.0.0.1", "198.51.100.0/24"), false,
     STORE, true},
    {"another local address, shared", "lookup", WWW_A, NULL,
     LOOKUP_P("www.example.com.", "A", "-1", "192.0.2.7", "127.0.0.2", "192.0.2.7/32"), false,
     STORE, false},
    {"a parameter rbgw does not know", "lookup", WWW_A, NULL,
     "{\"qname\": \"www.example.com.\", \"qtype\": \"A\", \"zone-id\": -1, \"remote\": "
     "\"192.0.2.7\", \"local\": \"127.0.0.1\", \"real-remote\": \"192.0.2.7/32\", \"x\": 1}",
     true, STORE, false},
    {"the same parameters, another method", "lookup", WWW_A, "APILookup", WWW_A, true, STORE,
     false},
    {"metadata kinds", "getDomainMetadata", "{\"name\": \"example.com.\", \"kind\": \"PRESIGNED\"}",
     NULL, "{\"name\": \"example.com.\", \"kind\": \"NSEC3PARAM\"}", true, STORE, false},
    {"metadata zone case", "getDomainMetadata", "{\"name\": \"example.com.\", \"kind\": \"X\"}",
     NULL, "{\"kind\": \"X\", \"name\": \"EXAMPLE.com\"}", true, STORE, true},
    {"all metadata", "getAllDomainMetadata", "{\"name\": \"example.com.\"}", NULL,
     "{\"name\": \"example.com.\"}", true, STORE, true},
    {"list by domain_id", "list", "{\"zonename\": \"example.com.\", \"domain_id\": 1}", NULL,
     "{\"zonename\": \"example.com.\", \"domain_id\": 2}", true, STORE, false},
    {"domain keys", "getDomainKeys", "{\"name\": \"example.com.\"}", NULL,
     "{\"name\": \"example.org.\"}", true, STORE, false},
    {"a TSIG key", "getTSIGKey", "{\"name\": \"key1.\"}", NULL, "{\"name\": \"KEY1\"}", true, STORE,
     true},
    {"getDomainInfo: coalesced only", "getDomainInfo", "{\"name\": \"example.com.\"}", NULL,
     "{\"name\": \"example.com\"}", true, SHARE, true},
    {"getAllDomains: no name, coalesced only", "getAllDomains", "{\"include_disabled\": false}",
     NULL, "{\"include_disabled\": true}", true, SHARE, false},
    {"nested values, in another order", "getAllDomains",
     "{\"include_disabled\": true, \"x\": {\"a\": [1, \"}\\\"]\"], \"b\": null}}", NULL,
     "{\"x\": {\"a\": [1, \"}\\\"]\"], \"b\": null}, \"include_disabled\": true}", true, SHARE,
     true},
    {"nested values that differ", "getAllDomains", "{\"x\": {\"a\": [1, 2]}}", NULL,
     "{\"x\": {\"a\": [1, 3]}}", true, SHARE, false},
    {"getBeforeAndAfterNamesAbsolute: no call name", "getBeforeAndAfterNamesAbsolute",
     "{\"id\": 1, \"qname\": \"www\"}", NULL, "{\"id\": 1, \"qname\": \"www\"}", true, SHARE, true},
    {"a qname that is no DNS name: coalesced only, by its bytes", "lookup",
     "{\"qname\": \"a..example.com.\", \"qtype\": \"A\"}", NULL,
     "{\"qname\": \"A..example.com.\", \"qtype\": \"A\"}", true, SHARE, false},
    {"a write", "setDomainMetadata", "{\"name\": \"example.com.\", \"kind\": \"X\", \"value\": []}",
     NULL, "{\"name\": \"example.com.\", \"kind\": \"X\", \"value\": []}", true, NONE, true},
    {"a method rbgw does not know (a write)", "fooBar", "{\"qname\": \"example.com.\"}", NULL,
     "{\"qname\": \"example.com.\"}", true, NONE, true},
    {"parameters that are no object", "lookup", "[1, 2]", NULL, "[1, 2]", true, NONE, true},
};

Test(cache, keys)
{
    size_t checked = 0;
    for (size_t i = 0; i < RBGW_NELEM(key_rows); i++) {
        const struct key_row *r = &key_rows[i];
        enum rbgw_cache_use u1, u2;
        struct rbgw_buf k1 = key_of(r->method, r->params, r->per_client, &u1);
        struct rbgw_buf k2 =
            key_of(r->method2 ? r->method2 : r->method, r->params2, r->per_client, &u2);
        if (u1 != r->use) {
            cr_expect_fail("%s: use %d, want %d", r->what, (int)u1, (int)r->use);
        }
        if (r->use != NONE) {
            bool same = rbgw_str_eq(rbgw_buf_str(&k1), rbgw_buf_str(&k2));
            if (same != r->same) {
                cr_expect_fail("%s: keys %s, want %s", r->what, same ? "equal" : "differ",
                               r->same ? "equal" : "different");
            }
        } else if (k1.len != 0) {
            cr_expect_fail("%s: no key, but %zu bytes written", r->what, k1.len);
        }
        rbgw_buf_free(&k1);
        rbgw_buf_free(&k2);
        checked++;
    }
    cr_assert_eq(checked, RBGW_NELEM(key_rows));
}

/*
 * The text path (no tree) gives the tree's key byte for byte for calls in json11 form, which
 * every row is, or hands over (-1) when escapes need decoding; and keeps its own equality
 * classes for another spelling of the same calls.
 */
Test(cache, text_keys_are_the_tree_keys)
{
    size_t by_text = 0;
    for (size_t i = 0; i < RBGW_NELEM(key_rows); i++) {
        const struct key_row *r = &key_rows[i];
        const char *methods[2] = {r->method, r->method2 ? r->method2 : r->method};
        const char *params[2] = {r->params, r->params2};
        for (size_t k = 0; k < 2; k++) {
            enum rbgw_cache_use tu;
            struct rbgw_buf tree = key_of(methods[k], params[k], r->per_client, &tu);
            struct rbgw_buf text = RBGW_BUF_INIT;
            enum rbgw_method m = rbgw_method_lookup(rbgw_str_cstr(methods[k]));
            int use = rbgw_cache_key_text(m, rbgw_str_cstr(params[k]), r->per_client, &text);
            if (use >= 0) {
                by_text++;
                if (use != (int)tu || !rbgw_str_eq(rbgw_buf_str(&tree), rbgw_buf_str(&text))) {
                    cr_expect_fail("%s, call %zu: the text key differs from the tree's", r->what,
                                   k + 1);
                }
            } else if (text.len != 0) {
                cr_expect_fail("%s, call %zu: handed over with %zu bytes written", r->what, k + 1,
                               text.len);
            }
            rbgw_buf_free(&tree);
            rbgw_buf_free(&text);
        }
    }
    /* all but the escaped name and the array take the text path */
    cr_assert_eq(by_text, 2 * RBGW_NELEM(key_rows) - 3);

    /* no parameters at all: the decoder's empty object */
    struct rbgw_buf a = RBGW_BUF_INIT, b = RBGW_BUF_INIT;
    cr_expect_eq(rbgw_cache_key_text(RBGW_M_GET_ALL_DOMAINS, RBGW_STR_NULL, true, &a), SHARE);
    cr_expect_eq(rbgw_cache_key(RBGW_M_GET_ALL_DOMAINS, params_of("{}"), true, &b), SHARE);
    cr_expect(rbgw_str_eq(rbgw_buf_str(&a), rbgw_buf_str(&b)));
    rbgw_buf_free(&a);
    rbgw_buf_free(&b);

    /* compact JSON: its own keys, with the same equalities */
    static const char *const compact[][2] = {
        {"{\"qname\":\"www.example.com.\",\"qtype\":\"A\",\"remote\":\"192.0.2.1\"}",
         "{\"remote\":\"192.0.2.1\",\"qtype\":\"A\",\"qname\":\"WWW.example.com\"}"},
    };
    a = (struct rbgw_buf)RBGW_BUF_INIT;
    b = (struct rbgw_buf)RBGW_BUF_INIT;
    cr_expect_eq(rbgw_cache_key_text(RBGW_M_LOOKUP, rbgw_str_cstr(compact[0][0]), true, &a), STORE);
    cr_expect_eq(rbgw_cache_key_text(RBGW_M_LOOKUP, rbgw_str_cstr(compact[0][1]), true, &b), STORE);
    cr_expect(rbgw_str_eq(rbgw_buf_str(&a), rbgw_buf_str(&b)));
    rbgw_buf_reset(&b);
    cr_expect_eq(rbgw_cache_key_text(RBGW_M_LOOKUP,
                                     RBGW_STR("{\"qname\":\"www.example.com.\",\"qtype\":\"A\","
                                              "\"remote\":\"192.0.2.2\"}"),
                                     true, &b),
                 STORE);
    cr_expect_not(rbgw_str_eq(rbgw_buf_str(&a), rbgw_buf_str(&b)), "another client");
    /* an escape in a key hands over to the tree */
    rbgw_buf_reset(&b);
    cr_expect_eq(
        rbgw_cache_key_text(RBGW_M_LOOKUP, RBGW_STR("{\"q\\u006eame\": \"x.\"}"), true, &b), -1);
    rbgw_buf_free(&a);
    rbgw_buf_free(&b);
}

/* The key carries the canonical name where invalidation reads it. */
Test(cache, key_names)
{
    enum rbgw_cache_use use;
    struct rbgw_buf k = key_of("lookup", WWW_A, true, &use);
    struct rbgw_str name;
    cr_assert(rbgw_cache_key_name(rbgw_buf_str(&k), &name));
    cr_expect(rbgw_str_eq(name, RBGW_STR("\003com\007example\003www")));
    rbgw_buf_free(&k);
    k = key_of("getAllDomains", "{}", true, &use);
    cr_expect_not(rbgw_cache_key_name(rbgw_buf_str(&k), &name), "getAllDomains has no name");
    rbgw_buf_free(&k);
}

/* Text the peek would refuse never reaches the text path; still, every prefix of a call and
 * every byte flipped must end in an answer, not in a read past the text (ASan checks). */
Test(cache, text_keys_survive_bad_text)
{
    static const char good[] =
        "{\"qname\": \"www.example.com.\", \"x\": {\"a\": [1, \"}\\\"\"], \"b\": null}, "
        "\"qtype\": \"A\", \"zone-id\": -1}";
    static const char flips[] = "{}[]\",: \\x";
    size_t answered = 0;
    for (size_t len = 0; len <= sizeof(good) - 1; len++) {
        /* a copy of exactly len bytes, so that ASan sees a read past it */
        char *t = malloc(len ? len : 1);
        cr_assert_not_null(t);
        memcpy(t, good, len);
        for (size_t f = 0; f <= sizeof(flips) - 1; f++) {
            if (f > 0 && len > 0) {
                t[len / 2] = flips[f - 1];
            }
            struct rbgw_buf b = RBGW_BUF_INIT;
            int use = rbgw_cache_key_text(RBGW_M_LOOKUP, rbgw_str_make(t, len), true, &b);
            cr_expect(use >= -1 && use <= STORE);
            rbgw_buf_free(&b);
            answered++;
        }
        free(t);
    }
    cr_assert_eq(answered, sizeof(good) * sizeof(flips));
}

Test(cache, hash_is_seeded)
{
    struct rbgw_cache_opts o1 = {.ttl_ms = 1, .max_bytes = 1 << 20, .seed = 1};
    struct rbgw_cache_opts o2 = {.ttl_ms = 1, .max_bytes = 1 << 20, .seed = 2};
    struct rbgw_cache *c1 = rbgw_cache_new(&o1), *c2 = rbgw_cache_new(&o2);
    static const char *const keys[] = {"", "a", "abcdefgh", "abcdefghi", "lookup www.example.com"};
    for (size_t i = 0; i < RBGW_NELEM(keys); i++) {
        struct rbgw_str k = rbgw_str_cstr(keys[i]);
        cr_expect_eq(rbgw_cache_hash(c1, k), rbgw_cache_hash(c1, k));
        cr_expect_neq(rbgw_cache_hash(c1, k), rbgw_cache_hash(c2, k), "'%s'", keys[i]);
        for (size_t j = 0; j < i; j++) {
            cr_expect_neq(rbgw_cache_hash(c1, k), rbgw_cache_hash(c1, rbgw_str_cstr(keys[j])));
        }
    }
    rbgw_cache_free(c1);
    rbgw_cache_free(c2);
}

/* ---- the store ---- */

#define MB (1024 * 1024)

static struct rbgw_cache *
cache_new(uint32_t ttl, size_t max_bytes)
{
    struct rbgw_cache_opts o = {.ttl_ms = ttl, .max_bytes = max_bytes, .per_client = true};
    return rbgw_cache_new(&o);
}

/* A lookup's key for qname (kept in the arena). */
static struct rbgw_str
name_key(const char *qname)
{
    char params[300];
    snprintf(params, sizeof(params), "{\"qname\": \"%s\", \"qtype\": \"ANY\"}", qname);
    enum rbgw_cache_use use;
    struct rbgw_buf b = key_of("lookup", params, true, &use);
    cr_assert_eq(use, STORE, "%s", qname);
    struct rbgw_str k = rbgw_str_make(rbgw_arena_memdup(&arena, b.data, b.len), b.len);
    rbgw_buf_free(&b);
    return k;
}

static void
put(struct rbgw_cache *c, const char *qname, const char *reply, uint64_t now)
{
    struct rbgw_str k = name_key(qname);
    rbgw_cache_put(c, k, rbgw_cache_hash(c, k), rbgw_str_cstr(reply), now);
}

/* The reply stored for qname at now, or NULL. */
static const char *
get(struct rbgw_cache *c, const char *qname, uint64_t now)
{
    struct rbgw_str k = name_key(qname);
    struct rbgw_str r;
    if (!rbgw_cache_get(c, k, rbgw_cache_hash(c, k), now, &r)) {
        return NULL;
    }
    return rbgw_arena_memdup(&arena, r.p, r.len);
}

struct expiry_row {
    uint32_t ttl;    /* cache-ttl */
    uint64_t put_at; /* when the reply was stored */
    uint64_t get_at; /* when it is asked for */
    bool served;     /* it is still served */
};

static const struct expiry_row expiry_rows[] = {
    {100, 1000, 1000, true},     {100, 1000, 1099, true}, {100, 1000, 1100, false},
    {100, 1000, 5000, false},    {1, 0, 0, true},         {1, 0, 1, false},
    {3600000, 7, 3600006, true},
};

Test(cache, expiry_by_the_injected_clock)
{
    for (size_t i = 0; i < RBGW_NELEM(expiry_rows); i++) {
        const struct expiry_row *r = &expiry_rows[i];
        struct rbgw_cache *c = cache_new(r->ttl, MB);
        put(c, "www.example.com.", "{\"result\": [1]}", r->put_at);
        const char *got = get(c, "www.example.com.", r->get_at);
        if ((got != NULL) != r->served) {
            cr_expect_fail("ttl %u, stored at %llu, asked at %llu: %s", r->ttl,
                           (unsigned long long)r->put_at, (unsigned long long)r->get_at,
                           got ? "served" : "not served");
        }
        struct rbgw_cache_stats *st = rbgw_cache_stats(c);
        cr_expect_eq(st->expired, r->served ? 0 : 1, "row %zu: expired %llu", i,
                     (unsigned long long)st->expired);
        cr_expect_eq(st->entries, r->served ? 1 : 0, "row %zu: entries", i);
        rbgw_cache_free(c);
    }
}

Test(cache, nothing_stored_without_ttl_or_room)
{
    struct rbgw_cache *c = cache_new(0, MB);
    put(c, "www.example.com.", "{\"result\": [1]}", 0);
    cr_expect_null(get(c, "www.example.com.", 0), "cache-ttl=0 stores nothing");
    rbgw_cache_free(c);

    /* max_bytes / 8 is the largest entry: a 9 KiB reply in a 64 KiB cache is not stored */
    c = cache_new(1000, 65536);
    char *big = rbgw_arena_alloc(&arena, 9 * 1024 + 1);
    memset(big, 'x', 9 * 1024);
    big[9 * 1024] = '\0';
    put(c, "big.example.com.", big, 0);
    cr_expect_null(get(c, "big.example.com.", 0));
    cr_expect_eq(rbgw_cache_stats(c)->bytes, 0);
    rbgw_cache_free(c);
}

Test(cache, a_newer_reply_replaces_the_older)
{
    struct rbgw_cache *c = cache_new(1000, MB);
    put(c, "www.example.com.", "{\"result\": [1]}", 0);
    put(c, "WWW.example.com", "{\"result\": [2]}", 10);
    cr_expect_str_eq(get(c, "www.example.com.", 20), "{\"result\": [2]}");
    cr_expect_eq(rbgw_cache_stats(c)->entries, 1);
    /* its TTL runs from the newer store */
    cr_expect_not_null(get(c, "www.example.com.", 1009));
    rbgw_cache_free(c);
}

/* The bytes one entry takes (measured in a roomy cache). */
static size_t
entry_bytes(const char *qname, const char *reply)
{
    struct rbgw_cache *c = cache_new(1000, MB);
    put(c, qname, reply, 0);
    size_t n = rbgw_cache_stats(c)->bytes;
    rbgw_cache_free(c);
    return n;
}

Test(cache, lru_eviction_by_bytes)
{
    /* n0.x. ... n8.x. make entries of one size.  The store takes any bound (the
     * configuration's minimum is 64 KiB); an entry may take max_bytes / 8 at most, so the
     * bound is room for eight and a half: the ninth evicts one. */
    const char *reply = "{\"result\": [\"small\"]}";
    size_t one = entry_bytes("n0.x.", reply);
    cr_assert_gt(one, strlen(reply));
    struct rbgw_cache_opts o = {.ttl_ms = 1000, .max_bytes = one * 8 + one / 2, .per_client = true};
    size_t fit = 8;
    struct rbgw_cache *c = rbgw_cache_new(&o);
    char name[32];
    for (size_t i = 0; i < fit; i++) {
        snprintf(name, sizeof(name), "n%zu.x.", i);
        put(c, name, reply, 0);
    }
    cr_assert_eq(rbgw_cache_stats(c)->entries, fit);
    cr_assert_eq(rbgw_cache_stats(c)->evictions, 0);
    /* n0 is used: n1 is now the least recently used */
    cr_expect_not_null(get(c, "n0.x.", 1));
    put(c, "n8.x.", reply, 2);
    cr_expect_eq(rbgw_cache_stats(c)->entries, fit);
    cr_expect_eq(rbgw_cache_stats(c)->evictions, 1);
    cr_expect_null(get(c, "n1.x.", 3), "n1 was the least recently used");
    cr_expect_not_null(get(c, "n0.x.", 3));
    cr_expect_not_null(get(c, "n8.x.", 3));
    for (size_t i = 2; i < fit; i++) {
        snprintf(name, sizeof(name), "n%zu.x.", i);
        cr_expect_not_null(get(c, name, 3), "%s", name);
    }
    cr_expect_leq(rbgw_cache_stats(c)->bytes, o.max_bytes);
    rbgw_cache_free(c);
}

/* Many entries: the table grows and every entry stays reachable. */
Test(cache, many_entries)
{
    struct rbgw_cache *c = cache_new(1000, 64 * MB);
    char name[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "h%d.example.com.", i);
        put(c, name, "{\"result\": [1]}", 0);
    }
    cr_expect_eq(rbgw_cache_stats(c)->entries, 5000);
    for (int i = 0; i < 5000; i += 7) {
        snprintf(name, sizeof(name), "H%d.EXAMPLE.com", i);
        cr_expect_not_null(get(c, name, 1), "%s", name);
    }
    rbgw_cache_invalidate(c, rbgw_str_cstr("example.com."), 2);
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "h%d.example.com.", i);
        cr_expect_null(get(c, name, 3), "%s", name);
    }
    cr_expect_eq(rbgw_cache_stats(c)->invalidations, 5000);
    cr_expect_eq(rbgw_cache_stats(c)->entries, 0);
    cr_expect_eq(rbgw_cache_stats(c)->bytes, 0);
    rbgw_cache_free(c);
}

/* ---- invalidation ---- */

static const char *const stored_names[] = {
    "example.com.",
    "www.example.com.",
    "a.b.example.com.",
    "b.example.com.",
    "badexample.com.",
    "example.org.",
    "com.",
    "sub.example.com.",
    "x.sub.example.com.",
    ".",
};

struct inval_row {
    const char *write;     /* the name a write carried */
    const char *survivors; /* the stored names left, space-separated, in stored_names order */
};

static const struct inval_row inval_rows[] = {
    /* a zone: everything in it, its parents (the root's entry too), not its look-alikes */
    {"example.com.", "badexample.com. example.org."},
    /* a name inside: itself, below it, above it; not its siblings */
    {"www.example.com.",
     "a.b.example.com. b.example.com. badexample.com. example.org. sub.example.com. "
     "x.sub.example.com."},
    {"sub.example.com.",
     "www.example.com. a.b.example.com. b.example.com. badexample.com. example.org."},
    {"x.sub.example.com.",
     "www.example.com. a.b.example.com. b.example.com. badexample.com. example.org."},
    /* case and escapes do not matter */
    {"SUB.Example.COM", "www.example.com. a.b.example.com. b.example.com. badexample.com. "
                        "example.org."},
    /* a wildcard counts as its parent: its siblings may stop matching it */
    {"*.example.com.", "badexample.com. example.org."},
    {"*.sub.example.com.",
     "www.example.com. a.b.example.com. b.example.com. badexample.com. example.org."},
    /* an empty non-terminal's child */
    {"c.b.example.com.",
     "www.example.com. a.b.example.com. badexample.com. example.org. sub.example.com. "
     "x.sub.example.com."},
    /* a name no entry is related to but the parents */
    {"example.net.",
     "example.com. www.example.com. a.b.example.com. b.example.com. badexample.com. "
     "example.org. com. sub.example.com. x.sub.example.com."},
    /* the root, and text that is no name: everything */
    {".", ""},
    {"a..b.", ""},
};

Test(cache, invalidation_by_name)
{
    size_t checked = 0;
    for (size_t i = 0; i < RBGW_NELEM(inval_rows); i++) {
        const struct inval_row *r = &inval_rows[i];
        struct rbgw_cache *c = cache_new(1000, MB);
        for (size_t j = 0; j < RBGW_NELEM(stored_names); j++) {
            put(c, stored_names[j], "{\"result\": [1]}", 0);
        }
        rbgw_cache_invalidate(c, rbgw_str_cstr(r->write), 0);
        char left[512] = "";
        size_t nleft = 0;
        for (size_t j = 0; j < RBGW_NELEM(stored_names); j++) {
            if (get(c, stored_names[j], 1) != NULL) {
                snprintf(left + strlen(left), sizeof(left) - strlen(left), "%s%s",
                         nleft++ ? " " : "", stored_names[j]);
            }
        }
        if (strcmp(left, r->survivors) != 0) {
            cr_expect_fail("write to %s left \"%s\", want \"%s\"", r->write, left, r->survivors);
        }
        cr_expect_eq(rbgw_cache_stats(c)->invalidations + nleft, RBGW_NELEM(stored_names),
                     "%s: %llu dropped", r->write,
                     (unsigned long long)rbgw_cache_stats(c)->invalidations);
        rbgw_cache_free(c);
        checked++;
    }
    cr_assert_eq(checked, RBGW_NELEM(inval_rows));
}

/* What a write makes stale stays so; what is stored after it is fresh; marks go with the TTL. */
Test(cache, invalidation_is_ordered_by_stores)
{
    struct rbgw_cache *c = cache_new(100, MB);
    put(c, "www.example.com.", "{\"result\": [1]}", 0);
    put(c, "ftp.example.com.", "{\"result\": [2]}", 0);
    rbgw_cache_invalidate(c, rbgw_str_cstr("example.com."), 10);
    /* stored after the write: served */
    put(c, "www.example.com.", "{\"result\": [3]}", 20);
    cr_expect_str_eq(get(c, "www.example.com.", 30), "{\"result\": [3]}");
    cr_expect_null(get(c, "ftp.example.com.", 30), "stored before the write");
    /* another write, then the marks outlive their TTL: nothing they covered is left */
    rbgw_cache_invalidate(c, rbgw_str_cstr("www.example.com."), 40);
    cr_expect_null(get(c, "www.example.com.", 41));
    put(c, "www.example.com.", "{\"result\": [4]}", 200);
    cr_expect_not_null(get(c, "www.example.com.", 201), "a mark past its TTL covers nothing");
    rbgw_cache_free(c);
}

/* A write that names nothing makes everything stored before it stale, and only that. */
Test(cache, invalidate_all_is_ordered_too)
{
    struct rbgw_cache *c = cache_new(1000, MB);
    put(c, "a.example.com.", "{\"result\": [1]}", 0);
    rbgw_cache_invalidate_all(c);
    put(c, "b.example.com.", "{\"result\": [2]}", 1);
    cr_expect_null(get(c, "a.example.com.", 2));
    cr_expect_not_null(get(c, "b.example.com.", 2));
    /* too many names written within one TTL: the same, instead of more marks */
    char name[64];
    for (int i = 0; i < 70000; i++) {
        snprintf(name, sizeof(name), "w%d.example.org.", i);
        rbgw_cache_invalidate(c, rbgw_str_cstr(name), 3);
    }
    cr_expect_null(get(c, "b.example.com.", 4), "the safety valve made everything stale");
    rbgw_cache_free(c);
}

/* ---- flights ---- */

static void
flight_init(struct rbgw_cache *c, struct rbgw_cache_flight *f, const char *method,
            const char *params)
{
    memset(f, 0, sizeof(*f));
    enum rbgw_cache_use use;
    struct rbgw_buf b = key_of(method, params, true, &use);
    cr_assert_neq(use, NONE);
    f->key = rbgw_str_make(rbgw_arena_memdup(&arena, b.data, b.len), b.len);
    f->hash = rbgw_cache_hash(c, f->key);
    f->store = use == STORE;
    rbgw_buf_free(&b);
}

Test(cache, flights_are_found_by_key)
{
    struct rbgw_cache *c = cache_new(1000, MB);
    struct rbgw_cache_flight a, b, a2;
    flight_init(c, &a, "lookup", "{\"qname\": \"www.example.com.\", \"qtype\": \"A\"}");
    flight_init(c, &b, "lookup", "{\"qname\": \"www.example.com.\", \"qtype\": \"AAAA\"}");
    flight_init(c, &a2, "lookup", "{\"qtype\": \"A\", \"qname\": \"WWW.example.com\"}");
    rbgw_cache_flight_add(c, &a);
    rbgw_cache_flight_add(c, &b);
    cr_expect_eq(rbgw_cache_flight_find(c, a2.key, a2.hash), &a);
    cr_expect_eq(rbgw_cache_flight_find(c, b.key, b.hash), &b);
    rbgw_cache_flight_remove(c, &a);
    rbgw_cache_flight_remove(c, &a); /* idempotent */
    cr_expect_null(rbgw_cache_flight_find(c, a2.key, a2.hash));
    cr_expect_not(a.stale, "a completed flight is not stale");
    rbgw_cache_flight_remove(c, &b);
    rbgw_cache_free(c);
}

Test(cache, writes_end_flights)
{
    struct rbgw_cache *c = cache_new(1000, MB);
    struct rbgw_cache_flight in_zone, other_zone, above, nameless, info;
    flight_init(c, &in_zone, "lookup", "{\"qname\": \"www.example.com.\", \"qtype\": \"A\"}");
    flight_init(c, &other_zone, "lookup", "{\"qname\": \"www.example.org.\", \"qtype\": \"A\"}");
    flight_init(c, &above, "list", "{\"zonename\": \"example.com.\", \"domain_id\": 1}");
    flight_init(c, &nameless, "getAllDomains", "{\"include_disabled\": true}");
    flight_init(c, &info, "getDomainInfo", "{\"name\": \"example.org.\"}");
    struct rbgw_cache_flight *all[] = {&in_zone, &other_zone, &above, &nameless, &info};
    for (size_t i = 0; i < RBGW_NELEM(all); i++) {
        rbgw_cache_flight_add(c, all[i]);
    }

    rbgw_cache_invalidate(c, rbgw_str_cstr("www.example.com."), 0);
    cr_expect(in_zone.stale && !in_zone.listed, "the name written");
    cr_expect(above.stale && !above.listed, "its zone's list");
    cr_expect(nameless.stale && !nameless.listed, "a read without a name");
    cr_expect(!other_zone.stale && other_zone.listed, "another zone");
    cr_expect(!info.stale && info.listed, "another zone's DomainInfo");

    /* zone state (setNotified, ...) ends the coalesced-only reads, nothing else */
    rbgw_cache_end_shared(c);
    cr_expect(info.stale && !info.listed);
    cr_expect(!other_zone.stale && other_zone.listed);

    rbgw_cache_invalidate_all(c);
    cr_expect(other_zone.stale && !other_zone.listed);
    rbgw_cache_free(c);
}

Test(cache, configure_drops_everything)
{
    struct rbgw_cache *c = cache_new(1000, MB);
    put(c, "www.example.com.", "{\"result\": [1]}", 0);
    struct rbgw_cache_flight f;
    flight_init(c, &f, "lookup", "{\"qname\": \"www.example.org.\", \"qtype\": \"A\"}");
    rbgw_cache_flight_add(c, &f);
    struct rbgw_cache_opts o = {.ttl_ms = 50, .max_bytes = MB, .per_client = false};
    rbgw_cache_configure(c, &o);
    cr_expect_null(get(c, "www.example.com.", 1));
    cr_expect(f.stale && !f.listed);
    cr_expect_eq(rbgw_cache_opts(c)->ttl_ms, 50);
    cr_expect_not(rbgw_cache_opts(c)->per_client);
    rbgw_cache_free(c);
}

/*
 * connstr.c: pdns connection strings ("pipe:command=/x,timeout=2000") -> struct rbgw_connstr.
 *
 * The parse copies pdns's own (remotebackend.cc, docs/protocol.md §2) byte for byte, because the
 * options travel on to `initialize` and a responder written for pdns must see the same keys
 * and values from rbgw as it would from pdns:
 *
 *   "pipe:command=/x/resp  a  b,timeout=2000,foo=bar=baz,flag, sp ace=1"
 *    ^^^^ type: text before the first ':'
 *         options split on ',' ---------------------------------------->
 *         token "flag" has no '=' => value "yes"; "foo=bar=baz" splits at the first '='
 *         " sp ace=1" keeps its leading space (nothing is trimmed)
 *
 * Options are held in one array kept sorted by key with strcmp (which compares as unsigned
 * char, i.e. memcmp order, the order of pdns's std::map<std::string>), so `initialize` can emit
 * them in pdns's order by walking the array, and a repeated key simply overwrites its slot.
 * Option counts are tiny; insertion into a sorted array is the simplest correct structure.
 *
 * Two deliberate extensions over pdns: "zmq" is accepted as a spelling of "zeromq" (the old
 * docs used it), and a bare type with no ':' ("pipe") parses with no options.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "rbgw/connstr.h"

static const struct {
    const char *name;
    enum rbgw_transport transport;
} types[] = {
    {"pipe", RBGW_TRANSPORT_PIPE},  {"unix", RBGW_TRANSPORT_UNIX},
    {"http", RBGW_TRANSPORT_HTTP},  {"zeromq", RBGW_TRANSPORT_ZEROMQ},
    {"zmq", RBGW_TRANSPORT_ZEROMQ},
};

const char *
rbgw_transport_name(enum rbgw_transport t)
{
    switch (t) {
    case RBGW_TRANSPORT_PIPE:
        return "pipe";
    case RBGW_TRANSPORT_UNIX:
        return "unix";
    case RBGW_TRANSPORT_HTTP:
        return "http";
    case RBGW_TRANSPORT_ZEROMQ:
        return "zeromq";
    case RBGW_TRANSPORT_NONE:
        return "none";
    }
    return "?";
}

/* A token pdns drops: empty, or made only of spaces. */
static int
blank_token(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != ' ') {
            return 0;
        }
    }
    return 1;
}

/* The array arr of n elements of size bytes, with room for one more: arrays built by the parse
 * grow to the next power of two (at least 4) when full, so a long string costs O(n) copying,
 * not a realloc per option; nothing stores the capacity (it follows from n). */
static void *
grow(void *arr, size_t n, size_t size)
{
    if (n == 0 || (n >= 4 && (n & (n - 1)) == 0)) {
        return rbgw_xrealloc(arr, (n ? n * 2 : 4) * size);
    }
    return arr;
}

/* Insert or overwrite key in the sorted array (one this parse built: see grow); takes
 * ownership of key and value. */
static void
set_opt(struct rbgw_connstr *cs, char *key, char *value)
{
    size_t lo = 0, hi = cs->nopts;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(cs->opts[mid].key, key);
        if (c == 0) {
            /* pdns's map assignment: the last occurrence wins; the earlier ones are kept aside
             * for options rbgw allows several times (rbgw_connstr_get_nth). */
            struct rbgw_connstr_opt *o = &cs->opts[mid];
            o->prev = grow(o->prev, o->nprev, sizeof(*o->prev));
            o->prev[o->nprev++] = o->value;
            o->value = value;
            free(key);
            return;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    cs->opts = grow(cs->opts, cs->nopts, sizeof(*cs->opts));
    memmove(&cs->opts[lo + 1], &cs->opts[lo], (cs->nopts - lo) * sizeof(*cs->opts));
    cs->opts[lo].key = key;
    cs->opts[lo].value = value;
    cs->opts[lo].prev = NULL;
    cs->opts[lo].nprev = 0;
    cs->nopts++;
}

static int parse(const char *s, struct rbgw_connstr *out, bool any_type, char *err, size_t errlen);

int
rbgw_connstr_parse(const char *s, struct rbgw_connstr *out, char *err, size_t errlen)
{
    return parse(s, out, false, err, errlen);
}

int
rbgw_connstr_parse_named(const char *s, struct rbgw_connstr *out, char *err, size_t errlen)
{
    return parse(s, out, true, err, errlen);
}

static int
parse(const char *s, struct rbgw_connstr *out, bool any_type, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (s == NULL || *s == '\0') {
        snprintf(err, errlen,
                 "empty connection string (expected TYPE:OPTIONS, e.g. "
                 "pipe:command=/path/to/responder)");
        return RBGW_ECONFIG;
    }

    const char *colon = strchr(s, ':');
    size_t tlen = colon ? (size_t)(colon - s) : strlen(s);
    if (tlen == 0) {
        snprintf(err, errlen,
                 "missing connector type before ':' (expected pipe, unix, http or zeromq)");
        return RBGW_ECONFIG;
    }
    size_t i;
    for (i = 0; i < RBGW_NELEM(types); i++) {
        if (strlen(types[i].name) == tlen && memcmp(types[i].name, s, tlen) == 0) {
            break;
        }
    }
    if (i == RBGW_NELEM(types) && !any_type) {
        snprintf(err, errlen, "unknown connector type '%.*s' (expected pipe, unix, http or zeromq)",
                 (int)(tlen > 64 ? 64 : tlen), s);
        return RBGW_ECONFIG;
    }
    out->transport = i == RBGW_NELEM(types) ? RBGW_TRANSPORT_NONE : types[i].transport;
    out->type = rbgw_xstrndup(s, tlen);
    if (colon == NULL) {
        return 0;
    }

    const char *p = colon + 1;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (!blank_token(p, n)) {
            const char *eq = memchr(p, '=', n);
            char *key, *value;
            if (eq != NULL) {
                key = rbgw_xstrndup(p, (size_t)(eq - p));
                value = rbgw_xstrndup(eq + 1, n - (size_t)(eq - p) - 1);
            } else {
                key = rbgw_xstrndup(p, n);
                value = rbgw_xstrdup("yes");
            }
            set_opt(out, key, value);
        }
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    return 0;
}

void
rbgw_connstr_free(struct rbgw_connstr *cs)
{
    if (cs == NULL) {
        return;
    }
    for (size_t i = 0; i < cs->nopts; i++) {
        free(cs->opts[i].key);
        free(cs->opts[i].value);
        for (size_t j = 0; j < cs->opts[i].nprev; j++) {
            free(cs->opts[i].prev[j]);
        }
        free(cs->opts[i].prev);
    }
    free(cs->opts);
    free(cs->type);
    memset(cs, 0, sizeof(*cs));
}

void
rbgw_connstr_copy(struct rbgw_connstr *dst, const struct rbgw_connstr *src)
{
    dst->transport = src->transport;
    dst->type = src->type ? rbgw_xstrdup(src->type) : NULL;
    dst->nopts = src->nopts;
    dst->opts = src->nopts ? rbgw_xcalloc(src->nopts, sizeof(*dst->opts)) : NULL;
    for (size_t i = 0; i < src->nopts; i++) {
        const struct rbgw_connstr_opt *o = &src->opts[i];
        dst->opts[i].key = rbgw_xstrdup(o->key);
        dst->opts[i].value = rbgw_xstrdup(o->value);
        dst->opts[i].nprev = o->nprev;
        dst->opts[i].prev = o->nprev ? rbgw_xcalloc(o->nprev, sizeof(*o->prev)) : NULL;
        for (size_t j = 0; j < o->nprev; j++) {
            dst->opts[i].prev[j] = rbgw_xstrdup(o->prev[j]);
        }
    }
}

static const struct rbgw_connstr_opt *
find(const struct rbgw_connstr *cs, const char *key)
{
    size_t lo = 0, hi = cs->nopts;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(cs->opts[mid].key, key);
        if (c == 0) {
            return &cs->opts[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

const char *
rbgw_connstr_get(const struct rbgw_connstr *cs, const char *key)
{
    const struct rbgw_connstr_opt *o = find(cs, key);
    return o ? o->value : NULL;
}

size_t
rbgw_connstr_count(const struct rbgw_connstr *cs, const char *key)
{
    const struct rbgw_connstr_opt *o = find(cs, key);
    return o ? o->nprev + 1 : 0;
}

const char *
rbgw_connstr_get_nth(const struct rbgw_connstr *cs, const char *key, size_t i)
{
    const struct rbgw_connstr_opt *o = find(cs, key);
    if (o == NULL || i > o->nprev) {
        return NULL;
    }
    return i < o->nprev ? o->prev[i] : o->value;
}

bool
rbgw_connstr_is_secret(const char *key)
{
    return strcmp(key, "header") == 0;
}

/* The userinfo of the URL v[0..n) ("user:pass" in "https://user:pass@host/"), if any. */
static bool
userinfo(const char *v, size_t n, const char **ui, size_t *len)
{
    for (size_t i = 0; i + 3 <= n; i++) {
        if (memcmp(v + i, "://", 3) == 0) {
            const char *auth = v + i + 3, *end = v + n;
            const char *a = auth;
            while (a < end && *a != '/' && *a != '?' && *a != '#') {
                a++;
            }
            for (const char *at = a; at > auth; at--) {
                if (at[-1] == '@') {
                    *ui = auth;
                    *len = (size_t)(at - 1 - auth);
                    return true;
                }
            }
            return false;
        }
    }
    return false;
}

char *
rbgw_connstr_masked(const char *s)
{
    static const char mask[] = "***";
    size_t n = strlen(s);
    /* A masked token is at most 4 bytes longer than it was (" ***" after "NAME:", or "***"
     * for a one-byte userinfo), and a masked token ("header=...", "url=x://@") is at least 7
     * bytes long. */
    char *out = rbgw_xmalloc(n + (n / 7 + 1) * 4 + 1);
    char *o = out;
    const char *colon = strchr(s, ':');
    const char *p = colon ? colon + 1 : s + n;
    memcpy(o, s, (size_t)(p - s));
    o += p - s;
    while (*p != '\0') {
        const char *ui;
        size_t uilen;
        size_t tok = strcspn(p, ",");
        const char *eq = memchr(p, '=', tok);
        char key[32];
        size_t klen = eq ? (size_t)(eq - p) : 0;
        if (eq != NULL && klen < sizeof(key)) {
            memcpy(key, p, klen);
            key[klen] = '\0';
        } else {
            key[0] = '\0';
        }
        if (key[0] != '\0' && rbgw_connstr_is_secret(key)) {
            /* header=NAME: VALUE keeps NAME, so a reader still sees which header it is. */
            const char *v = eq + 1;
            const char *hc = memchr(v, ':', tok - klen - 1);
            size_t keep = hc ? (size_t)(hc - p) + 1 : klen + 1;
            memcpy(o, p, keep);
            o += keep;
            if (hc) {
                *o++ = ' ';
            }
            memcpy(o, mask, sizeof(mask) - 1);
            o += sizeof(mask) - 1;
        } else if (strcmp(key, "url") == 0 && userinfo(eq + 1, tok - klen - 1, &ui, &uilen)) {
            /* url=https://user:pass@host/: rbgw ignores the userinfo, but it may be a password. */
            memcpy(o, p, (size_t)(ui - p));
            o += ui - p;
            memcpy(o, mask, sizeof(mask) - 1);
            o += sizeof(mask) - 1;
            memcpy(o, ui + uilen, tok - (size_t)(ui + uilen - p));
            o += tok - (size_t)(ui + uilen - p);
        } else {
            memcpy(o, p, tok);
            o += tok;
        }
        p += tok;
        if (*p == ',') {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

int
rbgw_connstr_get_int(const struct rbgw_connstr *cs, const char *key, long def, long min, long max,
                     long *out, char *err, size_t errlen)
{
    const char *v = rbgw_connstr_get(cs, key);
    if (v == NULL) {
        *out = def;
        return 0;
    }

    /* Whole decimal only: strtol alone would accept " 12", "+12" and "12abc". */
    const char *d = v[0] == '-' ? v + 1 : v;
    if (*d == '\0' || strspn(d, "0123456789") != strlen(d)) {
        snprintf(err, errlen, "%s=%s is not a number", key, v);
        return RBGW_ECONFIG;
    }
    errno = 0;
    long n = strtol(v, NULL, 10);
    if (errno == ERANGE || n < min || n > max) {
        snprintf(err, errlen, "%s=%s not in %ld..%ld", key, v, min, max);
        return RBGW_ECONFIG;
    }
    *out = n;
    return 0;
}

bool
rbgw_connstr_get_bool(const struct rbgw_connstr *cs, const char *key, bool def)
{
    const char *v = rbgw_connstr_get(cs, key);
    if (v == NULL) {
        return def;
    }
    return strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "on") == 0 ||
           strcmp(v, "1") == 0;
}

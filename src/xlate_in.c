/*
 * xlate_in.c: one HTTP request from pdns's HTTP connector -> the JSON-RPC call it stands for.
 *
 * Pure: no I/O, no globals, no logging.  The reverse of xlate.c, driven by the same `.rest`
 * column of the method table (method.h): extra path components, body/query fields and their
 * conversions, plus what only ingress needs (which generic components a method's path carries,
 * and the parameters REST loses).  The method name is looked up once, after the path split.  The
 * result is a JSON tree in the caller's arena, written once at the end with rbgw_json_write (json11
 * form, sorted keys), so the text equals what pdns sends on a pipe for the same call and a failed
 * translation leaves `out` untouched.
 *
 * Flow (docs/protocol.md §4.5, §4.6, §6.2):
 *
 *   target --'?'--> path, query
 *   path == prefix (POST)           -> post_json: body passed through, trimmed
 *   path = prefix "/" rest suffix   -> rest split on '/' BEFORE decoding; segment 0 is the method
 *   POST, 1 segment, body has `parameters=` -> post: {"method", "parameters": <field's JSON>}
 *   otherwise REST:
 *     known method    segments named positionally (generic components, then row extras) and
 *                     typed by name (§6.3); X-RemoteBackend-* headers; row fields from query and
 *                     body; record groups with 4.x recovery (§5.4); lost parameters put back;
 *                     leftover form fields kept as strings
 *     unknown method  {"_segments": [...]} + typed headers + form/query fields as strings
 *
 * Decoding choices (docs/rest-ingress.md explains each):
 *  - '+' is a literal plus, never a space.  pdns encodes every non-alphanumeric byte (space is
 *    %20, '+' is %2b), so a raw '+' only comes from another client, and there it is far more
 *    likely base64 (TSIG secrets, key material) than an encoded space.
 *  - Form keys are percent-decoded before their brackets are read, so clients that encode
 *    "[" "]" as %5b %5d (most form encoders do) work too; pdns's group member names have none.
 *  - A repeated scalar field or header keeps its last value, as the reference responders do.
 *  - A path component wins over the header with the same name (trxid travels in both).
 *  - The verb is only used to tell the modes apart; pdns's per-method verbs are not enforced.
 *
 * Ownership: every token, decoded string and tree node lives in the caller's arena; nothing
 * here allocates from the heap except `out`, which grows only after success.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rbgw/json.h"
#include "rbgw/method.h"
#include "rbgw/xlate_in.h"

#define MAX_SEGMENT_NAMES (RBGW_REST_NCOMPONENTS + RBGW_REST_MAX_EXTRA)

/* §6.3: the JSON type of a parameter (path segment, header, field without a typed conversion,
 * record-group member) by its name.  Names not listed are strings. */
enum xin_type {
    XT_STRING,   /* the decoded bytes */
    XT_INT,      /* decimal int64 ("-1" arrives as %2d1) */
    XT_INT_FRAC, /* as XT_INT, but 4.x's "N.000000" is taken as N (serial, trxid) */
    XT_BOOL,     /* "1"/"0" (also "true"/"false") */
    XT_NULLABLE, /* a string, and the empty value is null (rr[ordername]=) */
};

struct xin_type_row {
    const char *name;   /* parameter or member name */
    enum xin_type type; /* how its text becomes JSON */
};

static const struct xin_type_row xin_types[] = {
    {"id", XT_INT},
    {"domain_id", XT_INT},
    {"zone-id", XT_INT},
    {"maxResults", XT_INT},
    {"times", XT_INT},
    {"flags", XT_INT},
    {"ttl", XT_INT},
    {"qclass", XT_INT},
    {"trxid", XT_INT_FRAC},
    {"serial", XT_INT_FRAC},
    {"active", XT_BOOL},
    {"published", XT_BOOL},
    {"auth", XT_BOOL},
    {"narrow", XT_BOOL},
    {"include_disabled", XT_BOOL},
    {"include-disabled", XT_BOOL},
    {"ordername", XT_NULLABLE},
};

struct xin {
    struct rbgw_arena *a; /* borrowed: the caller's arena */
    char *err;            /* caller's error text buffer */
    size_t errlen;
    const struct rbgw_json_limits *lim; /* borrowed: limits on JSON bodies, or NULL */
    enum rbgw_json_over over;           /* the limit a JSON body broke (RBGW_ETOOBIG) */
};

/* One form or query token, decoded. */
struct tok {
    struct rbgw_str key; /* decoded key; empty for a bare token */
    struct rbgw_str val; /* decoded value; for a bare token, the decoded token */
    bool bare;           /* the token has no '=' (4.x bool members) */
    bool body;           /* from the body, not the query string */
    bool used;           /* consumed by a field of the method's row */
};

struct form {
    struct tok *t; /* arena array */
    size_t n;      /* tokens in t */
    size_t cap;    /* room in t */
    size_t pieces; /* '&'-separated pieces of query and body, the empty ones included */
};

static int fail(struct xin *x, int rc, const char *fmt, ...) RBGW_PRINTF(3, 4);

static int
fail(struct xin *x, int rc, const char *fmt, ...)
{
    if (x->err != NULL && x->errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->err, x->errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* s made printable for an error message: other bytes as '?', long text cut with "...". */
static const char *
shown(char *buf, size_t cap, struct rbgw_str s)
{
    size_t keep = s.len < cap ? s.len : (cap > 4 ? cap - 4 : 0);
    for (size_t i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)s.p[i];
        buf[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    size_t n = keep;
    if (keep < s.len && cap >= 4) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

static bool
str_has_prefix(struct rbgw_str s, struct rbgw_str pre)
{
    return s.len >= pre.len && (pre.len == 0 || memcmp(s.p, pre.p, pre.len) == 0);
}

static bool
str_has_suffix(struct rbgw_str s, struct rbgw_str suf)
{
    return s.len >= suf.len && (suf.len == 0 || memcmp(s.p + s.len - suf.len, suf.p, suf.len) == 0);
}

/* ---- percent decoding ---------------------------------------------------------------------- */

static int
hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* %xx -> byte (either hex case); every other byte, '+' included, as-is.  The copy is in the
 * arena and NUL-terminated (the text itself may contain NUL bytes). */
static int
pct_decode(struct xin *x, struct rbgw_str s, struct rbgw_str *out, const char *what)
{
    char *d = rbgw_arena_alloc(x->a, s.len + 1);
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] != '%') {
            d[n++] = s.p[i];
            continue;
        }
        int hi = i + 1 < s.len ? hexval(s.p[i + 1]) : -1;
        int lo = i + 2 < s.len ? hexval(s.p[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            char b[8];
            size_t k = s.len - i < 3 ? s.len - i : 3;
            return fail(x, RBGW_EPARSE, "bad percent escape '%s' in %s",
                        shown(b, sizeof(b), rbgw_str_make(s.p + i, k)), what);
        }
        d[n++] = (char)(hi << 4 | lo);
        i += 2;
    }
    d[n] = '\0';
    *out = rbgw_str_make(d, n);
    return 0;
}

/* ---- forms --------------------------------------------------------------------------------- */

/* Append src's '&'-separated tokens to f.  Empty tokens (from "&&" or a trailing '&') are
 * skipped; a token without '=' is kept as a bare token. */
static int
form_parse(struct xin *x, struct form *f, struct rbgw_str src, bool body)
{
    if (src.len == 0) {
        return 0; /* no query or no body: the view may be NULL, and NULL + 0 is undefined */
    }
    const char *p = src.p, *end = src.p + src.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *te = amp ? amp : end;
        if (te > p) {
            RBGW_ASSERT(f->n < f->cap);
            struct tok *t = &f->t[f->n++];
            memset(t, 0, sizeof(*t));
            t->body = body;
            const char *eq = memchr(p, '=', (size_t)(te - p));
            int rc;
            if (eq == NULL) {
                t->bare = true;
                rc = pct_decode(x, rbgw_str_make(p, (size_t)(te - p)), &t->val,
                                body ? "body" : "query string");
            } else {
                rc = pct_decode(x, rbgw_str_make(p, (size_t)(eq - p)), &t->key,
                                body ? "a body field name" : "a query field name");
                if (rc == 0) {
                    char b[64], what[96];
                    snprintf(what, sizeof(what), "field '%s'", shown(b, sizeof(b), t->key));
                    rc = pct_decode(x, rbgw_str_make(eq + 1, (size_t)(te - eq - 1)), &t->val, what);
                }
            }
            if (rc != 0) {
                return rc;
            }
        }
        p = te + (amp ? 1 : 0);
    }
    return 0;
}

static size_t
count_byte(struct rbgw_str s, char c)
{
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++) {
        n += s.p[i] == c;
    }
    return n;
}

/* The last key=value token named key (all of them are marked used), or NULL. */
static struct tok *
form_last(struct form *f, const char *key, bool body_only)
{
    struct tok *last = NULL;
    for (size_t i = 0; i < f->n; i++) {
        struct tok *t = &f->t[i];
        if (!t->bare && (!body_only || t->body) && rbgw_str_eq_cstr(t->key, key)) {
            t->used = true;
            last = t;
        }
    }
    return last;
}

/* ---- tree helpers -------------------------------------------------------------------------- */

static struct rbgw_json *
obj_find(struct rbgw_json *obj, const char *key, size_t keylen)
{
    for (struct rbgw_json *c = obj->child; c != NULL; c = c->next) {
        if (rbgw_str_eq(c->key, rbgw_str_make(key, keylen))) {
            return c;
        }
    }
    return NULL;
}

/* obj[key] = v, replacing an existing member in place (rbgw_json_write would emit both). */
static void
obj_set(struct xin *x, struct rbgw_json *obj, const char *key, size_t keylen, struct rbgw_json *v)
{
    struct rbgw_json *c = obj_find(obj, key, keylen);
    if (c != NULL) {
        struct rbgw_str k = c->key;
        struct rbgw_json *next = c->next;
        *c = *v;
        c->key = k;
        c->next = next;
        return;
    }
    rbgw_json_append(x->a, obj, key, keylen, v);
}

static void
obj_set_c(struct xin *x, struct rbgw_json *obj, const char *key, struct rbgw_json *v)
{
    obj_set(x, obj, key, strlen(key), v);
}

static struct rbgw_json *
new_str(struct xin *x, struct rbgw_str s)
{
    return rbgw_json_new_string(x->a, s.p, s.len);
}

/* ---- §6.3 typing --------------------------------------------------------------------------- */

static enum xin_type
type_of(const char *name, size_t len)
{
    for (size_t i = 0; i < RBGW_NELEM(xin_types); i++) {
        if (rbgw_str_eq_cstr(rbgw_str_make(name, len), xin_types[i].name)) {
            return xin_types[i].type;
        }
    }
    return XT_STRING;
}

static enum xin_type
type_of_conv(enum rbgw_rest_conv c, const char *name)
{
    switch (c) {
    case RBGW_CONV_STR:
    case RBGW_CONV_STR_OPT:
        return XT_STRING;
    case RBGW_CONV_BOOL01:
    case RBGW_CONV_BOOLWORD:
        return XT_BOOL;
    case RBGW_CONV_INT:
        return XT_INT;
    case RBGW_CONV_SERIAL:
        return XT_INT_FRAC;
    case RBGW_CONV_TEXT:
    default:
        return type_of(name, strlen(name));
    }
}

/* Decimal int64 text -> canonical JSON number; with frac, an all-digit fraction is dropped
 * (4.x's "%f" serial).  Returns false for anything else, including overflow. */
static bool
parse_int(struct rbgw_str s, bool frac, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < s.len && s.p[i] == '-') {
        neg = true;
        i++;
    }
    size_t start = i;
    uint64_t acc = 0;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < s.len && s.p[i] >= '0' && s.p[i] <= '9'; i++) {
        unsigned d = (unsigned)(s.p[i] - '0');
        if (acc > (limit - d) / 10) {
            return false;
        }
        acc = acc * 10 + d;
    }
    if (i == start) {
        return false;
    }
    if (frac && i < s.len && s.p[i] == '.') {
        size_t fs = ++i;
        while (i < s.len && s.p[i] >= '0' && s.p[i] <= '9') {
            i++;
        }
        if (i == fs) {
            return false;
        }
    }
    if (i != s.len) {
        return false;
    }
    *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return true;
}

/* The JSON value of text under type t; what names it in an error ("domain_id", "rr[ttl]"). */
static int
typed(struct xin *x, struct rbgw_str text, enum xin_type t, const char *what,
      struct rbgw_json **out)
{
    char b[64];
    int64_t i;
    switch (t) {
    case XT_INT:
    case XT_INT_FRAC:
        if (!parse_int(text, t == XT_INT_FRAC, &i)) {
            return fail(x, RBGW_EPROTO, "%s '%s' is not an integer", what,
                        shown(b, sizeof(b), text));
        }
        char num[24];
        int n = snprintf(num, sizeof(num), "%" PRId64, i);
        *out = rbgw_json_new_number(x->a, num, (size_t)n);
        return 0;
    case XT_BOOL:
        if (rbgw_str_eq_cstr(text, "1") || rbgw_str_eq_cstr(text, "true")) {
            *out = rbgw_json_new(x->a, RBGW_JSON_TRUE);
        } else if (rbgw_str_eq_cstr(text, "0") || rbgw_str_eq_cstr(text, "false")) {
            *out = rbgw_json_new(x->a, RBGW_JSON_FALSE);
        } else {
            return fail(x, RBGW_EPROTO, "%s '%s' is not a boolean (1/0)", what,
                        shown(b, sizeof(b), text));
        }
        return 0;
    case XT_NULLABLE:
        *out = text.len == 0 ? rbgw_json_new(x->a, RBGW_JSON_NULL) : new_str(x, text);
        return 0;
    case XT_STRING:
    default:
        *out = new_str(x, text);
        return 0;
    }
}

/* ---- headers ------------------------------------------------------------------------------- */

static struct rbgw_str
trim_ows(struct rbgw_str s)
{
    while (s.len > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.len--;
    }
    while (s.len > 0 && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t')) {
        s.len--;
    }
    return s;
}

/* X-RemoteBackend-<param> for every whitelisted parameter (§5.2), any case, last one wins.
 * Values are raw (pdns does not percent-encode them).  Existing parameters are kept. */
static int
decode_headers(struct xin *x, const struct rbgw_http_in *in, struct rbgw_json *params)
{
    static const char pre[] = "x-remotebackend-";
    for (size_t k = 0; k < RBGW_NELEM(rbgw_rest_header_params); k++) {
        const char *p = rbgw_rest_header_params[k];
        const struct rbgw_http_header *found = NULL;
        for (size_t i = 0; i < in->nheaders; i++) {
            struct rbgw_str name = in->headers[i].name;
            if (name.len == sizeof(pre) - 1 + strlen(p) &&
                rbgw_str_caseeq(rbgw_str_make(name.p, sizeof(pre) - 1), RBGW_STR(pre)) &&
                rbgw_str_caseeq(rbgw_str_make(name.p + sizeof(pre) - 1, strlen(p)),
                                rbgw_str_cstr(p))) {
                found = &in->headers[i];
            }
        }
        if (found == NULL || obj_find(params, p, strlen(p)) != NULL) {
            continue;
        }
        char what[64];
        snprintf(what, sizeof(what), "header X-RemoteBackend-%s", p);
        struct rbgw_json *v;
        int rc = typed(x, trim_ows(found->value), type_of(p, strlen(p)), what, &v);
        if (rc != 0) {
            return rc;
        }
        obj_set_c(x, params, p, v);
    }
    return 0;
}

/* ---- record groups (§5.4) ------------------------------------------------------------------ */

/* Is key "<prefix>[member]" (index == NULL) or "<prefix>[i][member]"?  Sets index and member.
 * The member runs to the key's final ']': xlate.c encodes brackets inside a member name and
 * the key is decoded before this runs, so a member name may hold brackets of its own. */
static bool
group_key(struct rbgw_str key, const char *prefix, size_t *index, struct rbgw_str *member)
{
    size_t pl = strlen(prefix), i = pl;
    if (!str_has_prefix(key, rbgw_str_cstr(prefix)) || i >= key.len || key.p[i] != '[') {
        return false;
    }
    i++;
    if (index != NULL) {
        size_t v = 0, ds = i;
        for (; i < key.len && key.p[i] >= '0' && key.p[i] <= '9' && i - ds < 9; i++) {
            v = v * 10 + (size_t)(key.p[i] - '0');
        }
        if (i == ds || i + 1 >= key.len || key.p[i] != ']' || key.p[i + 1] != '[') {
            return false;
        }
        *index = v;
        i += 2;
    }
    if (i >= key.len || key.p[key.len - 1] != ']') {
        return false;
    }
    *member = rbgw_str_make(key.p + i, key.len - 1 - i);
    return true;
}

/* 4.x bare auth digits, in body order, with a cursor shared by the row's group fields. */
struct bare {
    const struct tok **t; /* arena array of bare "0"/"1" tokens */
    size_t n;             /* number of them; > 0 means the body is 4.x dialect */
    size_t next;          /* next one to hand out */
};

static bool
bare_take(struct xin *x, struct bare *b, struct rbgw_json *group)
{
    if (b->next >= b->n || obj_find(group, "auth", 4) != NULL) {
        return false;
    }
    obj_set_c(x, group, "auth", new_str(x, b->t[b->next++]->val));
    return true;
}

/* Members are collected as strings, recovered, then typed in place by member name. */
static int
type_group(struct xin *x, struct rbgw_json *g, const char *prefix, size_t index, bool indexed)
{
    for (struct rbgw_json *m = g->child; m != NULL; m = m->next) {
        char b[40], what[96];
        if (indexed) {
            snprintf(what, sizeof(what), "%s[%zu][%s]", prefix, index, shown(b, sizeof(b), m->key));
        } else {
            snprintf(what, sizeof(what), "%s[%s]", prefix, shown(b, sizeof(b), m->key));
        }
        struct rbgw_json *v;
        int rc = typed(x, m->str, type_of(m->key.p, m->key.len), what, &v);
        if (rc != 0) {
            return rc;
        }
        struct rbgw_json *next = m->next;
        struct rbgw_str k = m->key;
        *m = *v;
        m->key = k;
        m->next = next;
    }
    return 0;
}

/*
 * rr[k]=v (RBGW_PIECE_GROUP) or rrset[i][k]=v / nsset[i][k]=v (RBGW_PIECE_GROUPS) -> an object or
 * an array of objects, with pdns 4.x's bodies recovered as §5.4 says:
 *   - a single group takes the first bare digit as its auth;
 *   - '&'-joined groups (nsset) take the k-th bare digit as group k's auth;
 *   - glued groups (replaceRRSet in 4.x) take the first bare digit as group 0's auth, and for
 *     i = 0 .. n-2 the last character of group i's ttl is group i+1's auth.
 * A member that is already present (5.x bodies) is never overwritten by a bare digit.  Indexes
 * missing from the body become empty objects; an index is bounded by the token count.
 */
static int
decode_groups(struct xin *x, const struct rbgw_rest_field *f, struct form *fm, struct bare *bare,
              struct rbgw_json *params)
{
    bool indexed = f->piece == RBGW_PIECE_GROUPS;
    size_t n = 0, idx = 0;
    struct rbgw_str member;
    for (size_t i = 0; i < fm->n; i++) {
        if (!fm->t[i].bare && group_key(fm->t[i].key, f->key, indexed ? &idx : NULL, &member)) {
            /* Bounded by the body's size, not by its tokens: a group with no members (which
             * xlate.c writes as nothing between two '&') still takes an index. */
            if (indexed && idx >= fm->pieces) {
                return fail(x, RBGW_EPROTO, "%s[%zu]: group index out of range (%zu fields)",
                            f->key, idx, fm->pieces);
            }
            n = indexed ? (idx + 1 > n ? idx + 1 : n) : 1;
        }
    }
    if (!indexed && n == 0 && bare->next < bare->n) {
        n = 1; /* 4.x feedRecord whose only member would be the bare auth digit */
    }
    if (!indexed && n == 0) {
        return 0;
    }

    struct rbgw_json **g = rbgw_arena_alloc(x->a, (n ? n : 1) * sizeof(*g));
    for (size_t i = 0; i < n; i++) {
        g[i] = rbgw_json_new(x->a, RBGW_JSON_OBJECT);
    }
    for (size_t i = 0; i < fm->n; i++) {
        struct tok *t = &fm->t[i];
        if (!t->bare && group_key(t->key, f->key, indexed ? &idx : NULL, &member)) {
            t->used = true;
            obj_set(x, g[indexed ? idx : 0], member.p, member.len, new_str(x, t->val));
        }
    }

    if (bare->n > 0 && n > 0) {
        if (indexed && f->join == RBGW_JOIN_AMP5_GLUED4) {
            bare_take(x, bare, g[0]);
            for (size_t i = 0; i + 1 < n; i++) {
                if (obj_find(g[i + 1], "auth", 4) != NULL) {
                    continue;
                }
                struct rbgw_json *ttl = obj_find(g[i], "ttl", 3);
                size_t tl = ttl ? ttl->str.len : 0;
                if (tl < 2 || (ttl->str.p[tl - 1] != '0' && ttl->str.p[tl - 1] != '1')) {
                    char b[32];
                    return fail(x, RBGW_EPROTO,
                                "%s: 4.x body (bare auth digits) but %s[%zu][ttl] '%s' carries "
                                "no glued auth digit for %s[%zu]",
                                f->key, f->key, i, ttl ? shown(b, sizeof(b), ttl->str) : "", f->key,
                                i + 1);
                }
                obj_set_c(x, g[i + 1], "auth", new_str(x, rbgw_str_make(ttl->str.p + tl - 1, 1)));
                ttl->str.len = tl - 1;
            }
        } else {
            for (size_t i = 0; i < n; i++) {
                bare_take(x, bare, g[i]);
            }
        }
    }

    for (size_t i = 0; i < n; i++) {
        int rc = type_group(x, g[i], f->key, i, indexed);
        if (rc != 0) {
            return rc;
        }
    }
    if (!indexed) {
        obj_set_c(x, params, f->param, g[0]);
        return 0;
    }
    /* Link the groups directly: appending one by one would walk the list each time. */
    struct rbgw_json *arr = rbgw_json_new(x->a, RBGW_JSON_ARRAY);
    for (size_t i = 0; i < n; i++) {
        g[i]->next = i + 1 < n ? g[i + 1] : NULL;
    }
    arr->child = n ? g[0] : NULL;
    arr->n = n;
    obj_set_c(x, params, f->param, arr);
    return 0;
}

/* ---- row fields ---------------------------------------------------------------------------- */

static int
decode_fields(struct xin *x, const struct rbgw_rest *row, struct form *fm, struct rbgw_json *params)
{
    struct bare bare = {NULL, 0, 0};
    bare.t = rbgw_arena_alloc(x->a, (fm->n ? fm->n : 1) * sizeof(*bare.t));
    for (size_t i = 0; i < fm->n; i++) {
        struct tok *t = &fm->t[i];
        if (t->bare && t->body &&
            (rbgw_str_eq_cstr(t->val, "0") || rbgw_str_eq_cstr(t->val, "1"))) {
            bare.t[bare.n++] = t;
        }
    }

    for (const struct rbgw_rest_field *f = row->fields; f != NULL && f->piece != RBGW_PIECE_END;
         f++) {
        int rc = 0;
        switch (f->piece) {
        case RBGW_PIECE_SCALAR: {
            struct tok *t = form_last(fm, f->key, false);
            if (t == NULL) {
                break;
            }
            const char *name = f->member ? f->member : f->param;
            struct rbgw_json *v;
            if ((rc = typed(x, t->val, type_of_conv(f->conv, name), name, &v)) != 0) {
                break;
            }
            if (f->member == NULL) {
                obj_set_c(x, params, f->param, v);
                break;
            }
            struct rbgw_json *o = obj_find(params, f->param, strlen(f->param));
            if (o == NULL || o->type != RBGW_JSON_OBJECT) {
                o = rbgw_json_new(x->a, RBGW_JSON_OBJECT);
                obj_set_c(x, params, f->param, o);
                o = obj_find(params, f->param, strlen(f->param));
            }
            obj_set_c(x, o, f->member, v);
            break;
        }
        case RBGW_PIECE_LIST: {
            /* A list of members of objects (feedEnts auth[]) cannot be put back into objects
             * that REST never carried; its tokens are consumed and dropped. */
            struct rbgw_json *arr = NULL, *tail = NULL;
            for (size_t i = 0; i < fm->n && rc == 0; i++) {
                struct tok *t = &fm->t[i];
                if (t->bare || !rbgw_str_eq_cstr(t->key, f->key)) {
                    continue;
                }
                t->used = true;
                if (f->member != NULL) {
                    continue;
                }
                struct rbgw_json *v;
                if ((rc = typed(x, t->val, type_of_conv(f->conv, f->param), f->param, &v)) != 0) {
                    break;
                }
                if (arr == NULL) {
                    arr = rbgw_json_new(x->a, RBGW_JSON_ARRAY);
                    arr->child = v;
                } else {
                    tail->next = v;
                }
                tail = v;
                arr->n++;
            }
            if (rc == 0 && arr != NULL) {
                obj_set_c(x, params, f->param, arr);
            }
            break;
        }
        case RBGW_PIECE_GROUP:
        case RBGW_PIECE_GROUPS:
            rc = decode_groups(x, f, fm, &bare, params);
            break;
        case RBGW_PIECE_END:
            break;
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static void
apply_defaults(struct xin *x, const struct rbgw_rest *row, struct rbgw_json *params)
{
    for (size_t i = 0; i < RBGW_REST_MAX_LOST && row->lost[i].value != RBGW_LOST_NONE; i++) {
        const struct rbgw_rest_lost *d = &row->lost[i];
        if (!d->force && obj_find(params, d->param, strlen(d->param)) != NULL) {
            continue;
        }
        struct rbgw_json *v = NULL;
        switch (d->value) {
        case RBGW_LOST_FALSE:
            v = rbgw_json_new(x->a, RBGW_JSON_FALSE);
            break;
        case RBGW_LOST_TRUE:
            v = rbgw_json_new(x->a, RBGW_JSON_TRUE);
            break;
        case RBGW_LOST_EMPTY_STR:
            v = rbgw_json_new_string(x->a, "", 0);
            break;
        case RBGW_LOST_EMPTY_ARRAY:
        case RBGW_LOST_NONE:
        default:
            v = rbgw_json_new(x->a, RBGW_JSON_ARRAY);
            break;
        }
        obj_set_c(x, params, d->param, v);
    }
}

/* ---- REST ---------------------------------------------------------------------------------- */

static int
decode_segment(struct xin *x, struct rbgw_str raw, size_t pos, struct rbgw_str *out)
{
    char what[48];
    snprintf(what, sizeof(what), "path segment %zu", pos);
    return pct_decode(x, raw, out, what);
}

static int
decode_known(struct xin *x, const struct rbgw_method_info *mi, const struct rbgw_http_in *in,
             const struct rbgw_str *seg, size_t nseg, struct form *fm, struct rbgw_json *params)
{
    const struct rbgw_rest *row = &mi->rest;
    const char *names[MAX_SEGMENT_NAMES];
    size_t n = 0;
    for (size_t i = 0; i < RBGW_NELEM(rbgw_rest_components); i++) {
        if (row->path & (1u << i)) {
            names[n++] = rbgw_rest_components[i];
        }
    }
    for (size_t i = 0; i < RBGW_REST_MAX_EXTRA && row->extra[i] != NULL; i++) {
        names[n++] = row->extra[i];
    }
    if (nseg != n) {
        char list[160] = "none";
        size_t l = 0;
        for (size_t i = 0; i < n; i++) {
            l += (size_t)snprintf(list + l, sizeof(list) - l, "%s%s", i ? ", " : "", names[i]);
        }
        return fail(x, RBGW_EPROTO,
                    "%s: expected %zu path segment%s after the method (%s), got %zu", mi->name, n,
                    n == 1 ? "" : "s", list, nseg);
    }

    int rc;
    for (size_t i = 0; i < n; i++) {
        struct rbgw_str text;
        struct rbgw_json *v;
        if ((rc = decode_segment(x, seg[i], i + 2, &text)) != 0) {
            return rc;
        }
        char what[80];
        snprintf(what, sizeof(what), "%s: %s", mi->name, names[i]);
        if ((rc = typed(x, text, type_of(names[i], strlen(names[i])), what, &v)) != 0) {
            return rc;
        }
        obj_set_c(x, params, names[i], v);
    }
    if ((rc = decode_headers(x, in, params)) != 0) {
        return rc;
    }
    if ((rc = decode_fields(x, row, fm, params)) != 0) {
        return rc;
    }
    /* Fields the row does not know (a newer pdns, another client) survive as strings. */
    for (size_t i = 0; i < fm->n; i++) {
        struct tok *t = &fm->t[i];
        if (!t->bare && !t->used && obj_find(params, t->key.p, t->key.len) == NULL) {
            obj_set(x, params, t->key.p, t->key.len, new_str(x, t->val));
        }
    }
    apply_defaults(x, row, params);
    return 0;
}

/* §6.2: an unknown method's components cannot be named, so they are kept as a list.  Form and
 * query fields are strings (last one wins); the whitelisted headers are typed as always and win
 * over form fields of the same name; "_segments" wins over both. */
static int
decode_unknown(struct xin *x, const struct rbgw_http_in *in, const struct rbgw_str *seg,
               size_t nseg, struct form *fm, struct rbgw_json *params)
{
    int rc;
    if ((rc = decode_headers(x, in, params)) != 0) {
        return rc;
    }
    bool from_header[RBGW_NELEM(rbgw_rest_header_params)];
    for (size_t k = 0; k < RBGW_NELEM(rbgw_rest_header_params); k++) {
        const char *h = rbgw_rest_header_params[k];
        from_header[k] = obj_find(params, h, strlen(h)) != NULL;
    }
    for (size_t i = 0; i < fm->n; i++) {
        struct tok *t = &fm->t[i];
        bool shadowed = false;
        for (size_t k = 0; k < RBGW_NELEM(rbgw_rest_header_params); k++) {
            shadowed |= from_header[k] && rbgw_str_eq_cstr(t->key, rbgw_rest_header_params[k]);
        }
        if (!t->bare && !shadowed) {
            obj_set(x, params, t->key.p, t->key.len, new_str(x, t->val));
        }
    }
    if (nseg > 0) {
        struct rbgw_json *arr = rbgw_json_new(x->a, RBGW_JSON_ARRAY);
        for (size_t i = 0; i < nseg; i++) {
            struct rbgw_str text;
            if ((rc = decode_segment(x, seg[i], i + 2, &text)) != 0) {
                return rc;
            }
            rbgw_json_append(x->a, arr, NULL, 0, new_str(x, text));
        }
        obj_set_c(x, params, "_segments", arr);
    }
    return 0;
}

/* ---- the three modes ----------------------------------------------------------------------- */

static bool
is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static struct rbgw_str
trim_json(struct rbgw_str s)
{
    while (s.len > 0 && is_json_space(s.p[0])) {
        s.p++;
        s.len--;
    }
    while (s.len > 0 && is_json_space(s.p[s.len - 1])) {
        s.len--;
    }
    return s;
}

/* Parse JSON text of the request within the limits: 0, or (after fail) RBGW_EPARSE, or
 * RBGW_ETOOBIG with x->over set (the tree is never built beyond the limit). */
static int
parse_json(struct xin *x, struct rbgw_str text, struct rbgw_json **v, const char *what)
{
    char perr[160];
    int rc = x->lim ? rbgw_json_parse_limited(x->a, text.p, text.len, x->lim, v, &x->over, perr,
                                              sizeof(perr))
                    : rbgw_json_parse(x->a, text.p, text.len, v, perr, sizeof(perr));
    if (rc == RBGW_ETOOBIG) {
        return fail(x, RBGW_ETOOBIG, "%s refused: %s", what, perr);
    }
    if (rc != 0) {
        return fail(x, RBGW_EPARSE, "%s: %s", what, perr);
    }
    return 0;
}

static int
do_post_json(struct xin *x, const struct rbgw_http_in *in, struct rbgw_buf *out)
{
    struct rbgw_str body = trim_json(in->body);
    struct rbgw_json *root;
    if (body.len == 0) {
        return fail(x, RBGW_EPARSE, "post_json: empty body (expected the JSON-RPC request)");
    }
    int rc = parse_json(x, body, &root, "post_json body");
    if (rc != 0) {
        return rc;
    }
    if (root->type != RBGW_JSON_OBJECT) {
        return fail(x, RBGW_EPROTO, "post_json body is not a JSON object");
    }
    const struct rbgw_json *m = rbgw_json_get(root, "method");
    if (m == NULL || m->type != RBGW_JSON_STRING) {
        return fail(x, RBGW_EPROTO, "post_json body has no string \"method\"");
    }
    rbgw_buf_append_str(out, body);
    return 0;
}

static void
write_call(struct xin *x, struct rbgw_str method, struct rbgw_json *params, struct rbgw_buf *out)
{
    struct rbgw_json *root = rbgw_json_new(x->a, RBGW_JSON_OBJECT);
    rbgw_json_append(x->a, root, "method", 6, new_str(x, method));
    rbgw_json_append(x->a, root, "parameters", 10, params);
    rbgw_json_write(out, root);
}

static int
do_post(struct xin *x, struct rbgw_str method, struct tok *t, struct rbgw_buf *out)
{
    struct rbgw_json *params;
    struct rbgw_str text = trim_json(t->val);
    int rc = parse_json(x, text, &params, "post body: parameters");
    if (rc != 0) {
        return rc;
    }
    if (params->type != RBGW_JSON_OBJECT) {
        return fail(x, RBGW_EPROTO, "post body: parameters is not a JSON object");
    }
    write_call(x, method, params, out);
    return 0;
}

/* The translation proper (rbgw_xlate_http_to_rpc_limited). */
static int
translate(const struct rbgw_http_in_conf *conf, const struct rbgw_http_in *in, struct xin *x,
          struct rbgw_buf *out)
{
    char b1[128], b2[64];
    int rc;
    if (x->err != NULL && x->errlen > 0) {
        x->err[0] = '\0';
    }

    struct rbgw_str path = in->target, query = RBGW_STR_NULL;
    const char *q = path.len ? memchr(path.p, '?', path.len) : NULL;
    if (q != NULL) {
        query = rbgw_str_make(q + 1, (size_t)(path.p + path.len - q - 1));
        path.len = (size_t)(q - path.p);
    }
    if (!str_has_prefix(path, conf->prefix)) {
        return fail(x, RBGW_EPROTO, "path '%s' does not start with '%s'",
                    shown(b1, sizeof(b1), path), shown(b2, sizeof(b2), conf->prefix));
    }
    struct rbgw_str rest = rbgw_str_make(path.p + conf->prefix.len, path.len - conf->prefix.len);
    bool post = rbgw_str_eq_cstr(in->verb, "POST");

    /* post_json: the URL exactly, no method, no suffix (§4.6).  "/" is what pdns sends for a
     * URL without a path; one trailing '/' is tolerated for hand-written URLs. */
    if (post && (rest.len == 0 || rbgw_str_eq_cstr(rest, "/"))) {
        return do_post_json(x, in, out);
    }
    if (rest.len == 0 || rest.p[0] != '/') {
        return fail(x, RBGW_EPROTO, "path '%s' does not start with '%s/'",
                    shown(b1, sizeof(b1), path), shown(b2, sizeof(b2), conf->prefix));
    }
    /* The suffix is glued to the last segment and precedes the query; encoded components never
     * contain a literal '.', so a '.'-suffix strips unambiguously (§6.2). */
    if (!str_has_suffix(rest, conf->suffix) || rest.len < 1 + conf->suffix.len) {
        return fail(x, RBGW_EPROTO, "path '%s' does not end with url-suffix '%s'",
                    shown(b1, sizeof(b1), path), shown(b2, sizeof(b2), conf->suffix));
    }
    rest = rbgw_str_make(rest.p + 1, rest.len - 1 - conf->suffix.len);

    /* Split on '/' before decoding anything: %2f inside a name must stay inside its segment,
     * and empty segments ("//") are real (empty) components. */
    size_t nseg = count_byte(rest, '/') + 1;
    struct rbgw_str *seg = rbgw_arena_alloc(x->a, nseg * sizeof(*seg));
    const char *p = rest.p, *end = rest.p + rest.len;
    for (size_t i = 0; i < nseg; i++) {
        const char *slash = p < end ? memchr(p, '/', (size_t)(end - p)) : NULL;
        const char *se = slash ? slash : end;
        seg[i] = rbgw_str_make(p, (size_t)(se - p));
        p = se + 1;
    }
    struct rbgw_str method;
    if ((rc = decode_segment(x, seg[0], 1, &method)) != 0) {
        return rc;
    }
    if (method.len == 0) {
        return fail(x, RBGW_EPROTO, "no method in path '%s'", shown(b1, sizeof(b1), path));
    }

    struct form fm = {NULL, 0, 0, 0};
    fm.cap = count_byte(query, '&') + count_byte(in->body, '&') + 2;
    fm.pieces = (query.len ? count_byte(query, '&') + 1 : 0) +
                (in->body.len ? count_byte(in->body, '&') + 1 : 0);
    fm.t = rbgw_arena_alloc(x->a, fm.cap * sizeof(*fm.t));
    if ((rc = form_parse(x, &fm, query, false)) != 0 ||
        (rc = form_parse(x, &fm, in->body, true)) != 0) {
        return rc;
    }

    /* post (§4.5): POST <prefix>/<method><suffix>, body parameters=<json>.  No REST call has a
     * body field named "parameters" on a one-segment POST (directBackendCmd sends query=). */
    if (post && nseg == 1) {
        struct tok *t = form_last(&fm, "parameters", true);
        if (t != NULL) {
            return do_post(x, method, t, out);
        }
    }

    struct rbgw_json *params = rbgw_json_new(x->a, RBGW_JSON_OBJECT);
    /* The one lookup of the method name; initialize, which pdns never sends over HTTP, has no
     * REST row and is decoded as unknown. */
    const struct rbgw_method_info *mi = rbgw_method_info(rbgw_method_lookup(method));
    if (mi->len > 0 && !mi->rest.none) {
        rc = decode_known(x, mi, in, seg + 1, nseg - 1, &fm, params);
    } else {
        rc = decode_unknown(x, in, seg + 1, nseg - 1, &fm, params);
    }
    if (rc != 0) {
        return rc;
    }
    write_call(x, method, params, out);
    return 0;
}

int
rbgw_xlate_http_to_rpc(const struct rbgw_http_in_conf *conf, const struct rbgw_http_in *in,
                       struct rbgw_arena *a, struct rbgw_buf *out, char *err, size_t errlen)
{
    return rbgw_xlate_http_to_rpc_limited(conf, in, NULL, a, out, NULL, err, errlen);
}

int
rbgw_xlate_http_to_rpc_limited(const struct rbgw_http_in_conf *conf, const struct rbgw_http_in *in,
                               const struct rbgw_json_limits *lim, struct rbgw_arena *a,
                               struct rbgw_buf *out, enum rbgw_json_over *over, char *err,
                               size_t errlen)
{
    struct xin xs = {a, err, errlen, lim, RBGW_JSON_OVER_NONE};
    struct xin *x = &xs;
    if (over != NULL) {
        *over = RBGW_JSON_OVER_NONE;
    }
    int rc = translate(conf, in, x, out);
    if (over != NULL) {
        *over = xs.over;
    }
    return rc;
}

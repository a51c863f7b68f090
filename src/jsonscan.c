/*
 * jsonscan.c: a validating JSON scanner that builds nothing (see jsonscan.h for the contract).
 *
 * Recursive descent over the bytes, one function per grammar rule, nesting bounded at 200
 * levels like rbgw_json_parse (so the C stack stays small).  Strings, the bulk of remote
 * backend traffic, are skipped 16 bytes at a time (skip_int.h); only escapes take the slow
 * branch.  Watched members are found on the way: each object knows, as a bit mask, which
 * watches its keys could complete, so documents with nothing watched at some depth pay one
 * test per member there.
 *
 * Equivalence with rbgw_json_parse is what makes this safe to use as an accept oracle; the
 * unit test checks it on a corpus and on every one-byte mutation of it.
 */
#include <string.h>

#include "rbgw/jsonscan.h"
#include "skip_int.h"

#define MAX_DEPTH RBGW_JSON_MAX_DEPTH /* rbgw_json_parse's (json11's) limit */

struct scan {
    const unsigned char *p;   /* next byte */
    const unsigned char *end; /* end of the text */
    int depth;                /* open containers */
    int max_depth;            /* containers that may be open at once */
    int too_deep;             /* what passing max_depth returns: INVALID, or TOO_DEEP */
    const struct rbgw_jscan_watch *w;
    size_t nw;
    unsigned unique; /* watches whose member may occur once */
    struct rbgw_str *found;
    size_t klen[RBGW_JSCAN_MAX_WATCH]; /* strlen of each watch's key */
    size_t slen[RBGW_JSCAN_MAX_WATCH]; /* strlen of each watch's subkey, 0 if none */
};

/* JSON whitespace; yajl also skips \f and \v, which json11 (pdns) refuses. */
static const unsigned char is_ws[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1};

static int value(struct scan *s, unsigned mask, int level);

static void
skip_ws(struct scan *s)
{
    const unsigned char *p = s->p;
    while (p < s->end && is_ws[*p]) {
        p++;
    }
    s->p = p;
}

static int
hex4(const unsigned char *p, const unsigned char *end)
{
    if (end - p < 4) {
        return -1;
    }
    int v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        int d;
        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            d = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            d = c - 'A' + 10;
        } else {
            return -1;
        }
        v = v * 16 + d;
    }
    return v;
}

/* A string whose opening quote is at s->p; *escaped tells whether it holds any escape.
 * Inlined: strings are most of the tokens of remote backend traffic. */
static inline __attribute__((always_inline)) int
string(struct scan *s, bool *escaped)
{
    const unsigned char *p = s->p + 1, *end = s->end;
    for (;;) {
        p = rbgw__skip_string_body(p, end);
        if (p >= end || *p < 0x20) {
            return RBGW_JSCAN_INVALID;
        }
        if (*p == '"') {
            s->p = p + 1;
            return RBGW_JSCAN_OK;
        }
        *escaped = true;
        if (end - p < 2) {
            return RBGW_JSCAN_INVALID;
        }
        switch (p[1]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            p += 2;
            break;
        case 'u': {
            int cp = hex4(p + 2, end);
            if (cp < 0) {
                return RBGW_JSCAN_INVALID;
            }
            p += 6;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                /* json11 wants the low half right after the high half. */
                if (end - p < 2 || p[0] != '\\' || p[1] != 'u') {
                    return RBGW_JSCAN_INVALID;
                }
                int lo = hex4(p + 2, end);
                if (lo < 0xdc00 || lo > 0xdfff) {
                    return RBGW_JSCAN_INVALID;
                }
                p += 6;
            }
            break;
        }
        default:
            return RBGW_JSCAN_INVALID;
        }
    }
}

static bool
is_digit(const struct scan *s, const unsigned char *p)
{
    return p < s->end && *p >= '0' && *p <= '9';
}

static int
number(struct scan *s)
{
    const unsigned char *p = s->p;
    if (*p == '-') {
        p++;
    }
    if (!is_digit(s, p)) {
        return RBGW_JSCAN_INVALID;
    }
    if (*p++ != '0') {
        while (is_digit(s, p)) {
            p++;
        }
    }
    if (p < s->end && *p == '.') {
        if (!is_digit(s, ++p)) {
            return RBGW_JSCAN_INVALID;
        }
        while (is_digit(s, p)) {
            p++;
        }
    }
    if (p < s->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < s->end && (*p == '+' || *p == '-')) {
            p++;
        }
        if (!is_digit(s, p)) {
            return RBGW_JSCAN_INVALID;
        }
        while (is_digit(s, p)) {
            p++;
        }
    }
    s->p = p;
    return RBGW_JSCAN_OK;
}

static int
literal(struct scan *s, const char *word, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) {
        return RBGW_JSCAN_INVALID;
    }
    s->p += n;
    return RBGW_JSCAN_OK;
}

/* Which watches a key at this level matches: *record (the value is the watched member) and
 * *child (the watch continues into the value's members). */
static void
match_key(struct scan *s, unsigned mask, int level, const unsigned char *k, size_t klen,
          unsigned *record, unsigned *child)
{
    const size_t *lens = level == 0 ? s->klen : s->slen;
    for (unsigned m = mask; m != 0; m &= m - 1) {
        unsigned i = (unsigned)__builtin_ctz(m);
        if (lens[i] != klen) {
            continue;
        }
        const char *want = level == 0 ? s->w[i].key : s->w[i].subkey;
        if (memcmp(want, k, klen) != 0) {
            continue;
        }
        unsigned bit = 1u << i;
        if (level == 0 && s->w[i].subkey != NULL) {
            *child |= bit;
            s->found[i] = RBGW_STR_NULL; /* only the last occurrence of the parent counts */
        } else {
            *record |= bit;
        }
    }
}

static int
object(struct scan *s, unsigned mask, int level)
{
    s->p++; /* '{' */
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return RBGW_JSCAN_OK;
    }
    for (;;) {
        /* Whitespace before the key was skipped after '{' or ','. */
        if (s->p >= s->end || *s->p != '"') {
            return RBGW_JSCAN_INVALID;
        }
        const unsigned char *key = s->p + 1;
        bool escaped = false;
        int rc = string(s, &escaped);
        if (rc != RBGW_JSCAN_OK) {
            return rc;
        }
        unsigned record = 0, child = 0;
        if (mask) {
            if (escaped) {
                return RBGW_JSCAN_UNSURE; /* "res\u0075lt" is "result": let the parser say */
            }
            match_key(s, mask, level, key, (size_t)(s->p - 1 - key), &record, &child);
        }
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':') {
            return RBGW_JSCAN_INVALID;
        }
        s->p++;
        skip_ws(s);
        const unsigned char *v = s->p;
        if (v < s->end && *v == '"') {
            bool value_escaped = false;
            rc = string(s, &value_escaped); /* value()'s first case, without the call */
        } else {
            rc = value(s, child, level + 1);
        }
        if (rc != RBGW_JSCAN_OK) {
            return rc;
        }
        for (size_t i = 0; record; i++, record >>= 1) {
            if (record & 1u) {
                if (s->found[i].p != NULL && (s->unique >> i & 1u)) {
                    return RBGW_JSCAN_DUPLICATE;
                }
                s->found[i] = rbgw_str_make((const char *)v, (size_t)(s->p - v));
            }
        }
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            skip_ws(s);
            continue;
        }
        if (s->p < s->end && *s->p == '}') {
            s->p++;
            return RBGW_JSCAN_OK;
        }
        return RBGW_JSCAN_INVALID;
    }
}

static int
array(struct scan *s)
{
    s->p++; /* '[' */
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return RBGW_JSCAN_OK;
    }
    for (;;) {
        skip_ws(s);
        int rc = value(s, 0, -1);
        if (rc != RBGW_JSCAN_OK) {
            return rc;
        }
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == ']') {
            s->p++;
            return RBGW_JSCAN_OK;
        }
        return RBGW_JSCAN_INVALID;
    }
}

/* One value at s->p (whitespace already skipped).  mask: the watches that may match members
 * of this value if it is an object, level: how many keys of their paths are behind. */
static int
value(struct scan *s, unsigned mask, int level)
{
    if (s->p >= s->end) {
        return RBGW_JSCAN_INVALID;
    }
    int rc;
    switch (*s->p) {
    case '{':
    case '[':
        if (++s->depth > s->max_depth) {
            return s->too_deep;
        }
        rc = *s->p == '{' ? object(s, mask, level) : array(s);
        s->depth--;
        return rc;
    case '"': {
        bool escaped = false;
        return string(s, &escaped);
    }
    case 't':
        return literal(s, "true", 4);
    case 'f':
        return literal(s, "false", 5);
    case 'n':
        return literal(s, "null", 4);
    default:
        return number(s);
    }
}

/*
 * The values of a document already found valid: the top one, one more per ',' between two
 * items or members, and one per non-empty container (n items have n - 1 commas).  Strings are
 * skipped as the scan skips them.  Only documents large enough to hold more values than the
 * limit are counted (each value takes a byte, and a separator stands between two), so calls
 * and replies of ordinary size never pay for it.
 */
static uint64_t
count_values(const unsigned char *p, const unsigned char *end)
{
    uint64_t n = 1;
    while (p < end) {
        switch (*p) {
        case '"':
            for (p = rbgw__skip_to_quote(p + 1, end); p < end && *p == '\\';) {
                p = rbgw__skip_to_quote(p + 2, end);
            }
            p++;
            continue;
        case ',':
            n++;
            break;
        case '{':
        case '[':
            p++;
            while (p < end && is_ws[*p]) {
                p++;
            }
            n += p < end && *p != '}' && *p != ']';
            continue;
        default:
            break;
        }
        p++;
    }
    return n;
}

int
rbgw_json_scan(const char *text, size_t len, const struct rbgw_jscan_watch *watch, size_t nwatch,
               struct rbgw_str *found, char *top)
{
    return rbgw_json_scan_limited(text, len, NULL, watch, nwatch, 0, found, top);
}

/* rbgw_json_scan_limited, and with prefix rbgw_json_scan_prefix: the document's value runs
 * from *vstart to *vend (offsets in text), and in a prefix scan anything may follow it. */
static int
scan_doc(const char *text, size_t len, const struct rbgw_json_limits *lim,
         const struct rbgw_jscan_watch *watch, size_t nwatch, unsigned unique,
         struct rbgw_str *found, char *top, bool prefix, size_t *vstart, size_t *vend)
{
    RBGW_ASSERT(nwatch <= RBGW_JSCAN_MAX_WATCH);
    struct scan s = {
        .p = (const unsigned char *)text,
        .end = (const unsigned char *)text + len,
        .max_depth = MAX_DEPTH,
        .too_deep = RBGW_JSCAN_INVALID,
        .w = watch,
        .nw = nwatch,
        .unique = unique,
        .found = found,
    };
    if (lim != NULL) {
        s.max_depth = lim->max_depth < MAX_DEPTH ? (int)lim->max_depth : MAX_DEPTH;
        s.too_deep = RBGW_JSCAN_TOO_DEEP;
    }
    for (size_t i = 0; i < nwatch; i++) {
        s.klen[i] = strlen(watch[i].key);
        s.slen[i] = watch[i].subkey ? strlen(watch[i].subkey) : 0;
        found[i] = RBGW_STR_NULL;
    }
    skip_ws(&s);
    const unsigned char *v = s.p;
    if (top) {
        *top = s.p < s.end ? (char)*s.p : '\0';
    }
    if (prefix && (s.p == s.end || *s.p != '{')) {
        return RBGW_JSCAN_INVALID;
    }
    int rc = value(&s, nwatch ? (1u << nwatch) - 1 : 0, 0);
    if (rc != RBGW_JSCAN_OK) {
        return rc;
    }
    const unsigned char *vend_p = s.p;
    if (!prefix) {
        skip_ws(&s);
        if (s.p != s.end) {
            return RBGW_JSCAN_INVALID;
        }
    }
    size_t doclen = (size_t)(vend_p - (const unsigned char *)text);
    if (lim != NULL && doclen / 2 >= lim->max_elements &&
        count_values((const unsigned char *)text, vend_p) > lim->max_elements) {
        return RBGW_JSCAN_TOO_MANY;
    }
    if (vstart) {
        *vstart = (size_t)(v - (const unsigned char *)text);
        *vend = doclen;
    }
    return RBGW_JSCAN_OK;
}

int
rbgw_json_scan_limited(const char *text, size_t len, const struct rbgw_json_limits *lim,
                       const struct rbgw_jscan_watch *watch, size_t nwatch, unsigned unique,
                       struct rbgw_str *found, char *top)
{
    return scan_doc(text, len, lim, watch, nwatch, unique, found, top, false, NULL, NULL);
}

int
rbgw_json_scan_prefix(const char *text, size_t len, const struct rbgw_json_limits *lim,
                      const struct rbgw_jscan_watch *watch, size_t nwatch, unsigned unique,
                      struct rbgw_str *found, size_t *start, size_t *end)
{
    return scan_doc(text, len, lim, watch, nwatch, unique, found, NULL, true, start, end);
}

int
rbgw_json_scan_items(const char *text, size_t len, struct rbgw_str *items, size_t max, size_t *n)
{
    struct scan s = {
        .p = (const unsigned char *)text,
        .end = (const unsigned char *)text + len,
        .depth = 1, /* the container itself, as value() would count it */
        .max_depth = MAX_DEPTH,
        .too_deep = RBGW_JSCAN_INVALID,
    };
    size_t k = 0;
    *n = 0;
    skip_ws(&s);
    if (s.p >= s.end || (*s.p != '{' && *s.p != '[')) {
        return RBGW_JSCAN_INVALID;
    }
    bool object = *s.p == '{';
    unsigned char close = object ? '}' : ']';
    s.p++;
    skip_ws(&s);
    if (s.p < s.end && *s.p == close) {
        s.p++;
    } else {
        /* The object() and array() loops, noting where each child value starts and ends. */
        for (;;) {
            skip_ws(&s);
            if (object) {
                bool escaped = false;
                if (s.p >= s.end || *s.p != '"' || string(&s, &escaped) != RBGW_JSCAN_OK) {
                    return RBGW_JSCAN_INVALID;
                }
                skip_ws(&s);
                if (s.p >= s.end || *s.p != ':') {
                    return RBGW_JSCAN_INVALID;
                }
                s.p++;
                skip_ws(&s);
            }
            const unsigned char *v = s.p;
            if (value(&s, 0, 0) != RBGW_JSCAN_OK) {
                return RBGW_JSCAN_INVALID;
            }
            if (k < max) {
                items[k] = rbgw_str_make((const char *)v, (size_t)(s.p - v));
            }
            k++;
            skip_ws(&s);
            if (s.p < s.end && *s.p == ',') {
                s.p++;
                continue;
            }
            if (s.p < s.end && *s.p == close) {
                s.p++;
                break;
            }
            return RBGW_JSCAN_INVALID;
        }
    }
    skip_ws(&s);
    if (s.p != s.end) {
        return RBGW_JSCAN_INVALID;
    }
    *n = k;
    return RBGW_JSCAN_OK;
}

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
    const unsigned char *end; /* end of the text */
    int depth;                /* open containers */
    int max_depth;            /* containers that may be open at once */
    int too_deep;             /* what passing max_depth returns: INVALID, or TOO_DEEP */
    int rc;                   /* why the scan stopped, once a rule returned NULL */
    const struct rbgw_jscan_watch *w;
    unsigned unique; /* watches whose member may occur once */
    struct rbgw_str *found;
};

/*
 * Every rule takes the position of its first byte and returns the position after its last,
 * or NULL when the scan stops there (s->rc says why).  The position lives in a register that
 * way, where a field of struct scan would be stored and loaded again around every call.
 * Between tokens the byte expected next is tested first and whitespace skipped only when it
 * is not there: compact documents, the usual traffic, never enter the whitespace loop.
 */

/* JSON whitespace; yajl also skips \f and \v, which json11 (pdns) refuses. */
static const unsigned char is_ws[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1};

static inline const unsigned char *
skip_ws(const unsigned char *p, const unsigned char *end)
{
    while (p < end && is_ws[*p]) {
        p++;
    }
    return p;
}

/* At the next byte that is not whitespace: true when it is c (then p is past it). */
static inline __attribute__((always_inline)) bool
expect(const unsigned char **pp, const unsigned char *end, unsigned char c)
{
    const unsigned char *p = *pp;
    if (p < end && *p == c) {
        *pp = p + 1;
        return true;
    }
    p = skip_ws(p, end);
    *pp = p;
    if (p < end && *p == c) {
        *pp = p + 1;
        return true;
    }
    return false;
}

static const unsigned char *value(struct scan *s, const unsigned char *p, unsigned mask, int level);

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

/* The escapes of a string from the backslash at p on: the position after the last escape of
 * this run, or NULL when one is invalid.  Out of line: few strings hold any. */
static const unsigned char *
escapes(const unsigned char *p, const unsigned char *end)
{
    do {
        if (end - p < 2) {
            return NULL;
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
                return NULL;
            }
            p += 6;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                /* json11 wants the low half right after the high half. */
                if (end - p < 2 || p[0] != '\\' || p[1] != 'u') {
                    return NULL;
                }
                int lo = hex4(p + 2, end);
                if (lo < 0xdc00 || lo > 0xdfff) {
                    return NULL;
                }
                p += 6;
            }
            break;
        }
        default:
            return NULL;
        }
    } while (p < end && *p == '\\');
    return p;
}

/* A string whose opening quote is at p: the position after its closing quote, or NULL;
 * *escaped tells whether it holds any escape.  Inlined: strings are most of the tokens of
 * remote backend traffic. */
static inline __attribute__((always_inline)) const unsigned char *
string(const unsigned char *p, const unsigned char *end, bool *escaped)
{
    p++;
    for (;;) {
        p = rbgw__skip_string_body(p, end);
        if (p < end && *p == '"') {
            return p + 1;
        }
        if (p >= end || *p != '\\') {
            return NULL; /* the end, or a control byte */
        }
        *escaped = true;
        if ((p = escapes(p, end)) == NULL) {
            return NULL;
        }
    }
}

static inline bool
is_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

static const unsigned char *
number(const unsigned char *p, const unsigned char *end)
{
    if (*p == '-') {
        p++;
    }
    if (!is_digit(p, end)) {
        return NULL;
    }
    if (*p++ != '0') {
        while (is_digit(p, end)) {
            p++;
        }
    }
    if (p < end && *p == '.') {
        if (!is_digit(++p, end)) {
            return NULL;
        }
        while (is_digit(p, end)) {
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }
        if (!is_digit(p, end)) {
            return NULL;
        }
        while (is_digit(p, end)) {
            p++;
        }
    }
    return p;
}

static inline const unsigned char *
literal(const unsigned char *p, const unsigned char *end, const char *word, size_t n)
{
    if ((size_t)(end - p) < n || memcmp(p, word, n) != 0) {
        return NULL;
    }
    return p + n;
}

/* want (NUL-terminated) equals the klen bytes at k, which hold no NUL (a string's bytes are
 * all 0x20 or more): a mismatch at want's end stops the loop before it reads past it. */
static inline bool
key_is(const char *want, const unsigned char *k, size_t klen)
{
    for (size_t i = 0; i < klen; i++) {
        if ((unsigned char)want[i] != k[i]) {
            return false;
        }
    }
    return want[klen] == '\0';
}

/* Which watches a key at this level matches: *record (the value is the watched member) and
 * *child (the watch continues into the value's members). */
static void
match_key(struct scan *s, unsigned mask, int level, const unsigned char *k, size_t klen,
          unsigned *record, unsigned *child)
{
    for (unsigned m = mask; m != 0; m &= m - 1) {
        unsigned i = (unsigned)__builtin_ctz(m);
        const char *want = level == 0 ? s->w[i].key : s->w[i].subkey;
        if (!key_is(want, k, klen)) {
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

/* Record v..e as the value of the watches in record; NULL on a repeated unique member. */
static const unsigned char *
note(struct scan *s, unsigned record, const unsigned char *v, const unsigned char *e)
{
    for (size_t i = 0; record; i++, record >>= 1) {
        if (record & 1u) {
            if (s->found[i].p != NULL && (s->unique >> i & 1u)) {
                s->rc = RBGW_JSCAN_DUPLICATE;
                return NULL;
            }
            s->found[i] = rbgw_str_make((const char *)v, (size_t)(e - v));
        }
    }
    return e;
}

static const unsigned char *
object(struct scan *s, const unsigned char *p, unsigned mask, int level)
{
    const unsigned char *end = s->end;
    p++; /* '{' */
    if (expect(&p, end, '}')) {
        return p;
    }
    for (;;) {
        /* p is at the key's quote, or at what stands in its place. */
        if (p >= end || *p != '"') {
            return NULL;
        }
        const unsigned char *key = p + 1;
        bool escaped = false;
        if ((p = string(p, end, &escaped)) == NULL) {
            return NULL;
        }
        unsigned record = 0, child = 0;
        if (mask) {
            if (escaped) {
                s->rc = RBGW_JSCAN_UNSURE; /* "res\u0075lt" is "result": let the parser say */
                return NULL;
            }
            match_key(s, mask, level, key, (size_t)(p - 1 - key), &record, &child);
        }
        if (!expect(&p, end, ':')) {
            return NULL;
        }
        if (p < end && is_ws[*p]) {
            p = skip_ws(p + 1, end);
        }
        const unsigned char *v = p;
        if (p < end && *p == '"') {
            bool value_escaped = false;
            p = string(p, end, &value_escaped); /* value()'s first case, without the call */
        } else if (p < end && (*p == '-' || (*p >= '0' && *p <= '9'))) {
            p = number(p, end); /* and its last */
        } else {
            p = value(s, p, child, level + 1);
        }
        if (p == NULL || (record && (p = note(s, record, v, p)) == NULL)) {
            return NULL;
        }
        if (expect(&p, end, ',')) {
            if (p < end && is_ws[*p]) {
                p = skip_ws(p + 1, end);
            }
            continue;
        }
        if (p < end && *p == '}') {
            return p + 1;
        }
        return NULL;
    }
}

static const unsigned char *
array(struct scan *s, const unsigned char *p)
{
    const unsigned char *end = s->end;
    p++; /* '[' */
    if (expect(&p, end, ']')) {
        return p;
    }
    for (;;) {
        if (p < end && is_ws[*p]) {
            p = skip_ws(p + 1, end);
        }
        if ((p = value(s, p, 0, -1)) == NULL) {
            return NULL;
        }
        if (expect(&p, end, ',')) {
            continue;
        }
        if (p < end && *p == ']') {
            return p + 1;
        }
        return NULL;
    }
}

/* One value at p (whitespace already skipped).  mask: the watches that may match members of
 * this value if it is an object, level: how many keys of their paths are behind. */
static const unsigned char *
value(struct scan *s, const unsigned char *p, unsigned mask, int level)
{
    const unsigned char *end = s->end;
    if (p >= end) {
        return NULL;
    }
    switch (*p) {
    case '{':
    case '[':
        if (++s->depth > s->max_depth) {
            s->rc = s->too_deep;
            return NULL;
        }
        p = *p == '{' ? object(s, p, mask, level) : array(s, p);
        s->depth--;
        return p;
    case '"': {
        bool escaped = false;
        return string(p, end, &escaped);
    }
    case 't':
        return literal(p, end, "true", 4);
    case 'f':
        return literal(p, end, "false", 5);
    case 'n':
        return literal(p, end, "null", 4);
    default:
        return number(p, end);
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
    const unsigned char *end = (const unsigned char *)text + len;
    struct scan s = {
        .end = end,
        .max_depth = MAX_DEPTH,
        .too_deep = RBGW_JSCAN_INVALID,
        .rc = RBGW_JSCAN_INVALID,
        .w = watch,
        .unique = unique,
        .found = found,
    };
    if (lim != NULL) {
        s.max_depth = lim->max_depth < MAX_DEPTH ? (int)lim->max_depth : MAX_DEPTH;
        s.too_deep = RBGW_JSCAN_TOO_DEEP;
    }
    for (size_t i = 0; i < nwatch; i++) {
        found[i] = RBGW_STR_NULL;
    }
    const unsigned char *v = skip_ws((const unsigned char *)text, end);
    if (top) {
        *top = v < end ? (char)*v : '\0';
    }
    if (prefix && (v == end || *v != '{')) {
        return RBGW_JSCAN_INVALID;
    }
    const unsigned char *vend_p = value(&s, v, nwatch ? (1u << nwatch) - 1 : 0, 0);
    if (vend_p == NULL) {
        return s.rc;
    }
    if (!prefix && skip_ws(vend_p, end) != end) {
        return RBGW_JSCAN_INVALID;
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
    const unsigned char *end = (const unsigned char *)text + len;
    struct scan s = {
        .end = end,
        .depth = 1, /* the container itself, as value() would count it */
        .max_depth = MAX_DEPTH,
        .too_deep = RBGW_JSCAN_INVALID,
        .rc = RBGW_JSCAN_INVALID,
    };
    size_t k = 0;
    *n = 0;
    const unsigned char *p = skip_ws((const unsigned char *)text, end);
    if (p >= end || (*p != '{' && *p != '[')) {
        return RBGW_JSCAN_INVALID;
    }
    bool object = *p == '{';
    unsigned char close = object ? '}' : ']';
    p++;
    if (!expect(&p, end, close)) {
        /* The object() and array() loops, noting where each child value starts and ends. */
        for (;;) {
            p = skip_ws(p, end);
            if (object) {
                bool escaped = false;
                if (p >= end || *p != '"' || (p = string(p, end, &escaped)) == NULL ||
                    !expect(&p, end, ':')) {
                    return RBGW_JSCAN_INVALID;
                }
                p = skip_ws(p, end);
            }
            const unsigned char *v = p;
            if ((p = value(&s, p, 0, 0)) == NULL) {
                return RBGW_JSCAN_INVALID;
            }
            if (k < max) {
                items[k] = rbgw_str_make((const char *)v, (size_t)(p - v));
            }
            k++;
            if (expect(&p, end, ',')) {
                continue;
            }
            if (p < end && *p == close) {
                p++;
                break;
            }
            return RBGW_JSCAN_INVALID;
        }
    }
    if (skip_ws(p, end) != end) {
        return RBGW_JSCAN_INVALID;
    }
    *n = k;
    return RBGW_JSCAN_OK;
}

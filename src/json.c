/*
 * json.c: byte-string JSON trees on top of yajl's callback parser, and a json11-exact writer.
 *
 * Why not yajl_tree: it validates UTF-8 (pdns sends raw non-UTF-8 salt bytes), allows comments
 * (pdns rejects them), needs a NUL-terminated input and throws the number text away.  Our
 * builder keeps the number text, copies strings into the request arena, and appends children
 * in O(1) through a per-depth "last child" stack:
 *
 *      stack[0] = root container      last[0] = its newest child
 *      stack[1] = open child          last[1] = ...
 *
 * The writer reproduces pdns's json11 output (docs/protocol.md §1.1) so that what rbgw builds (post
 * mode parameters, REST ingress) is what pdns itself would have sent.
 */
#include <stdio.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "rbgw/json.h"
#include "rbgw/jsonscan.h"
#include "json_int.h"
#include "skip_int.h"

#define JSON_MAX_DEPTH RBGW_JSON_MAX_DEPTH /* json11's limit */

struct builder {
    struct rbgw_arena *arena;
    struct rbgw_json *root;
    struct rbgw_json *stack[JSON_MAX_DEPTH + 1]; /* open containers, stack[depth-1] innermost */
    struct rbgw_json *last[JSON_MAX_DEPTH + 1];  /* newest child of each open container */
    int depth;
    struct rbgw_str key;      /* pending member name (arena copy) */
    int max_depth;            /* containers that may be open at once */
    uint32_t elements;        /* values attached so far */
    uint32_t max_elements;    /* values the document may hold */
    enum rbgw_json_over over; /* the limit that stopped the parse, if one did */
};

struct rbgw_json *
rbgw_json_new(struct rbgw_arena *a, enum rbgw_json_type type)
{
    struct rbgw_json *v = rbgw_arena_calloc(a, sizeof(*v));
    v->type = type;
    return v;
}

struct rbgw_json *
rbgw_json_new_string(struct rbgw_arena *a, const char *s, size_t len)
{
    struct rbgw_json *v = rbgw_json_new(a, RBGW_JSON_STRING);
    v->str = rbgw_str_make(rbgw_arena_memdup(a, s, len), len);
    return v;
}

struct rbgw_json *
rbgw_json_new_number(struct rbgw_arena *a, const char *text, size_t len)
{
    struct rbgw_json *v = rbgw_json_new(a, RBGW_JSON_NUMBER);
    v->str = rbgw_str_make(rbgw_arena_memdup(a, text, len), len);
    return v;
}

void
rbgw_json_append(struct rbgw_arena *a, struct rbgw_json *parent, const char *key, size_t keylen,
                 struct rbgw_json *child)
{
    RBGW_ASSERT(parent->type == RBGW_JSON_ARRAY || parent->type == RBGW_JSON_OBJECT);
    if (parent->type == RBGW_JSON_OBJECT) {
        child->key = rbgw_str_make(rbgw_arena_memdup(a, key, keylen), keylen);
    }
    child->next = NULL;
    if (parent->child == NULL) {
        parent->child = child;
    } else {
        struct rbgw_json *c = parent->child;
        while (c->next) {
            c = c->next;
        }
        c->next = child;
    }
    parent->n++;
}

/* Count one more value: false (the parse stops) once the document holds too many. */
static bool
count_value(struct builder *b)
{
    if (b->elements == b->max_elements) {
        b->over = RBGW_JSON_OVER_ELEMENTS;
        return false;
    }
    b->elements++;
    return true;
}

/* Attach a finished or newly opened value to the innermost open container. */
static int
attach(struct builder *b, struct rbgw_json *v)
{
    if (b->depth == 0) {
        b->root = v;
        return 1;
    }
    struct rbgw_json *parent = b->stack[b->depth - 1];
    if (parent->type == RBGW_JSON_OBJECT) {
        v->key = b->key;
        b->key = RBGW_STR_NULL;
    }
    if (b->last[b->depth - 1]) {
        b->last[b->depth - 1]->next = v;
    } else {
        parent->child = v;
    }
    b->last[b->depth - 1] = v;
    parent->n++;
    return 1;
}

static int
on_null(void *ctx)
{
    struct builder *b = ctx;
    if (!count_value(b)) {
        return 0;
    }
    return attach(b, rbgw_json_new(b->arena, RBGW_JSON_NULL));
}

static int
on_boolean(void *ctx, int val)
{
    struct builder *b = ctx;
    if (!count_value(b)) {
        return 0;
    }
    return attach(b, rbgw_json_new(b->arena, val ? RBGW_JSON_TRUE : RBGW_JSON_FALSE));
}

static int
on_number(void *ctx, const char *s, size_t len)
{
    struct builder *b = ctx;
    if (!count_value(b)) {
        return 0;
    }
    return attach(b, rbgw_json_new_number(b->arena, s, len));
}

static int
on_string(void *ctx, const unsigned char *s, size_t len)
{
    struct builder *b = ctx;
    if (!count_value(b)) {
        return 0;
    }
    return attach(b, rbgw_json_new_string(b->arena, (const char *)s, len));
}

static int
open_container(struct builder *b, enum rbgw_json_type type)
{
    if (b->depth >= b->max_depth) {
        b->over = RBGW_JSON_OVER_DEPTH;
        return 0;
    }
    if (!count_value(b)) {
        return 0;
    }
    struct rbgw_json *v = rbgw_json_new(b->arena, type);
    attach(b, v);
    b->stack[b->depth] = v;
    b->last[b->depth] = NULL;
    b->depth++;
    return 1;
}

static int
on_start_map(void *ctx)
{
    return open_container(ctx, RBGW_JSON_OBJECT);
}

static int
on_start_array(void *ctx)
{
    return open_container(ctx, RBGW_JSON_ARRAY);
}

static int
on_end(void *ctx)
{
    struct builder *b = ctx;
    b->depth--;
    return 1;
}

static int
on_map_key(void *ctx, const unsigned char *s, size_t len)
{
    struct builder *b = ctx;
    b->key = rbgw_str_make(rbgw_arena_memdup(b->arena, s, len), len);
    return 1;
}

static const yajl_callbacks builder_callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

static int
hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= c - '0';
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            v |= (c | 0x20) - 'a' + 10;
        } else {
            return -1;
        }
    }
    return v;
}

/*
 * Where yajl is laxer than pdns's json11, on text yajl already accepted:
 *  - yajl takes \f and \v as whitespace; json11 does not.  Valid JSON cannot hold them raw
 *    inside strings, so any occurrence is outside one.
 *  - yajl glues a high surrogate escape to whatever \u escape follows and turns a lone one
 *    into '?'; json11 keeps lone surrogates.  pdns never writes surrogate escapes, so rbgw
 *    refuses unpaired ones rather than rewrite them differently from pdns.
 *  - yajl_complete_parse accepts an unfinished token after a complete document ({}" or {} t):
 *    its lexer holds the partial token back as "need more input" and finishing ignores it.
 *    rbgw_json_scan, which follows the grammar, refuses these.
 */
static bool
has_unpaired_surrogate(const char *text, size_t len)
{
    const char *bs = memchr(text, '\\', len);
    while (bs != NULL && bs + 1 < text + len && bs[1] != 'u') {
        bs = memchr(bs + 2, '\\', (size_t)(text + len - (bs + 2)));
    }
    if (bs == NULL || bs + 1 >= text + len) {
        return false; /* no \u escape at all: the common case */
    }
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (!in_string) {
            in_string = c == '"';
            continue;
        }
        if (c == '"') {
            in_string = false;
        } else if (c == '\\') {
            if (i + 5 < len && text[i + 1] == 'u') {
                int cp = hex4(text + i + 2);
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    int lo = (i + 11 < len && text[i + 6] == '\\' && text[i + 7] == 'u')
                                 ? hex4(text + i + 8)
                                 : -1;
                    if (lo < 0xdc00 || lo > 0xdfff) {
                        return true;
                    }
                    i += 6;
                }
                i += 5;
            } else {
                i++;
            }
        }
    }
    return false;
}

const char *
rbgw__json_stricter_than_yajl(const char *text, size_t len)
{
    /* rbgw_json_scan follows the grammar with all three rules, so one pass settles the usual
     * case (valid text); the rules are told apart only to word a refusal. */
    if (rbgw_json_scan(text, len, NULL, 0, NULL, NULL) == RBGW_JSCAN_OK) {
        return NULL;
    }
    if (memchr(text, '\f', len) || memchr(text, '\v', len)) {
        return "form feed or vertical tab outside a string";
    }
    if (has_unpaired_surrogate(text, len)) {
        return "unpaired UTF-16 surrogate escape";
    }
    return "trailing garbage";
}

/*
 * yajl allocates its handle, lexer and buffers per parse.  They come from the caller's arena
 * (a size header makes realloc possible; free is a no-op, the arena goes in one piece), so a
 * parse costs no malloc at all once the arena has room.
 */
struct arena_block {
    size_t size; /* usable bytes after this header */
    size_t pad;  /* keeps the payload 16-byte aligned */
};

static void *
arena_malloc(void *ctx, size_t sz)
{
    struct arena_block *b = rbgw_arena_alloc(ctx, sizeof(*b) + sz);
    b->size = sz;
    return b + 1;
}

static void *
arena_realloc(void *ctx, void *ptr, size_t sz)
{
    if (ptr == NULL) {
        return arena_malloc(ctx, sz);
    }
    struct arena_block *old = (struct arena_block *)ptr - 1;
    if (old->size >= sz) {
        return ptr;
    }
    void *p = arena_malloc(ctx, sz);
    memcpy(p, ptr, old->size);
    return p;
}

static void
arena_free(void *ctx, void *ptr)
{
    RBGW_UNUSED(ctx);
    RBGW_UNUSED(ptr);
}

yajl_handle
rbgw__yajl_alloc(const yajl_callbacks *cb, struct rbgw_arena *a, void *ctx)
{
    yajl_alloc_funcs afs = {arena_malloc, arena_realloc, arena_free, a};
    yajl_handle h = yajl_alloc(cb, &afs, ctx);
    if (h) {
        yajl_config(h, yajl_dont_validate_strings, 1);
    }
    return h;
}

char *
rbgw_json_over_text(char *buf, size_t len, enum rbgw_json_over over,
                    const struct rbgw_json_limits *lim)
{
    switch (over) {
    case RBGW_JSON_OVER_DEPTH:
        snprintf(buf, len, "nesting deeper than %u levels (max-json-depth)", lim->max_depth);
        break;
    case RBGW_JSON_OVER_ELEMENTS:
        snprintf(buf, len, "more than %u values (max-json-elements)", lim->max_elements);
        break;
    case RBGW_JSON_OVER_NONE:
        snprintf(buf, len, "within the limits");
        break;
    }
    return buf;
}

/* The parse.  lim NULL: json11's rules only (200 levels, any number of values), and a
 * document deeper than that is merely invalid (RBGW_EPARSE), as json11 words it. */
static int
parse(struct rbgw_arena *a, const char *text, size_t len, const struct rbgw_json_limits *lim,
      struct rbgw_json **out, enum rbgw_json_over *over, char *err, size_t errlen)
{
    static const struct rbgw_json_limits json11 = {JSON_MAX_DEPTH, UINT32_MAX};
    bool limited = lim != NULL;
    if (lim == NULL) {
        lim = &json11;
    }
    struct builder *b = rbgw_arena_alloc(a, sizeof(*b));
    b->arena = a;
    b->root = NULL;
    b->depth = 0;
    b->key = RBGW_STR_NULL;
    b->max_depth = lim->max_depth < JSON_MAX_DEPTH ? (int)lim->max_depth : JSON_MAX_DEPTH;
    b->elements = 0;
    b->max_elements = lim->max_elements;
    b->over = RBGW_JSON_OVER_NONE;
    if (over) {
        *over = RBGW_JSON_OVER_NONE;
    }

    yajl_handle h = rbgw__yajl_alloc(&builder_callbacks, a, b);
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return RBGW_EPARSE;
    }
    yajl_status st = yajl_parse(h, (const unsigned char *)text, len);
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
    }
    int rc = 0;
    if (st != yajl_status_ok) {
        rc = RBGW_EPARSE;
        if (b->over != RBGW_JSON_OVER_NONE && !limited) {
            snprintf(err, errlen, "nesting deeper than %d levels", JSON_MAX_DEPTH);
        } else if (b->over != RBGW_JSON_OVER_NONE) {
            rc = RBGW_ETOOBIG;
            rbgw_json_over_text(err, errlen, b->over, lim);
            if (over) {
                *over = b->over;
            }
        } else {
            unsigned char *msg = yajl_get_error(h, 0, (const unsigned char *)text, len);
            const char *m = (const char *)msg;
            /* yajl says "parse error: <what>\n"; keep <what>, one line. */
            if (strncmp(m, "parse error: ", 13) == 0) {
                m += 13;
            }
            size_t ml = strcspn(m, "\r\n");
            snprintf(err, errlen, "%.*s", (int)ml, m);
            yajl_free_error(h, msg);
        }
    } else if (b->root == NULL) {
        rc = RBGW_EPARSE;
        snprintf(err, errlen, "empty input");
    } else {
        const char *why = rbgw__json_stricter_than_yajl(text, len);
        if (why) {
            rc = RBGW_EPARSE;
            snprintf(err, errlen, "%s", why);
        }
    }
    if (rc == 0) {
        *out = b->root;
    }
    yajl_free(h);
    return rc;
}

int
rbgw_json_parse(struct rbgw_arena *a, const char *text, size_t len, struct rbgw_json **out,
                char *err, size_t errlen)
{
    return parse(a, text, len, NULL, out, NULL, err, errlen);
}

int
rbgw_json_parse_limited(struct rbgw_arena *a, const char *text, size_t len,
                        const struct rbgw_json_limits *lim, struct rbgw_json **out,
                        enum rbgw_json_over *over, char *err, size_t errlen)
{
    return parse(a, text, len, lim, out, over, err, errlen);
}

/* What a valid text holds between its tokens: whitespace and separators. */
static const bool between_tokens[256] = {
    [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1, [','] = 1, [':'] = 1,
};

/*
 * The tree of a text rbgw_json_scan accepted, without yajl: the scan settled the grammar, so
 * this only splits the text, one pass, and copies nothing (strings, keys and numbers are views
 * into text).  Without a backslash in the text every string's bytes are its value, which is
 * exactly what the yajl builder stores, and a string ends at the next quote; text with
 * escapes goes to rbgw_json_parse, which decodes them.  An HTTP upstream builds the parameters
 * of every call it translates this way: yajl took a third of that path's instructions.
 */
int
rbgw_json_parse_valid(struct rbgw_arena *a, const char *text, size_t len, struct rbgw_json **out)
{
    if (len == 0 || memchr(text, '\\', len) != NULL) {
        return -1;
    }
    struct rbgw_json *stack[JSON_MAX_DEPTH + 1]; /* open containers, innermost last */
    struct rbgw_json *last[JSON_MAX_DEPTH + 1];  /* newest child of each */
    int depth = 0;
    bool in_object = false; /* the innermost open container is an object */
    bool want_key = false;  /* in_object, and the next string is a member name */
    struct rbgw_json *root = NULL;
    struct rbgw_str key = RBGW_STR_NULL; /* the member name read, waiting for its value */
    const unsigned char *p = (const unsigned char *)text, *end = p + len;
    for (;;) {
        while (p < end && between_tokens[*p]) {
            p++;
        }
        if (p >= end) {
            break;
        }
        struct rbgw_json *v;
        switch (*p) {
        case '}':
        case ']':
            depth--;
            p++;
            in_object = want_key = depth > 0 && stack[depth - 1]->type == RBGW_JSON_OBJECT;
            continue;
        case '"': {
            const unsigned char *q = rbgw__skip_to_quote(p + 1, end);
            struct rbgw_str s = rbgw_str_make((const char *)p + 1, (size_t)(q - p - 1));
            p = q + 1;
            if (want_key) {
                key = s;
                want_key = false;
                continue;
            }
            v = rbgw_json_new(a, RBGW_JSON_STRING);
            v->str = s;
            break;
        }
        case '{':
        case '[':
            v = rbgw_json_new(a, *p == '{' ? RBGW_JSON_OBJECT : RBGW_JSON_ARRAY);
            p++;
            break;
        case 't':
            v = rbgw_json_new(a, RBGW_JSON_TRUE);
            p += 4;
            break;
        case 'f':
            v = rbgw_json_new(a, RBGW_JSON_FALSE);
            p += 5;
            break;
        case 'n':
            v = rbgw_json_new(a, RBGW_JSON_NULL);
            p += 4;
            break;
        default: {
            const unsigned char *q = p;
            while (q < end && ((*q >= '0' && *q <= '9') || *q == '-' || *q == '+' || *q == '.' ||
                               *q == 'e' || *q == 'E')) {
                q++;
            }
            v = rbgw_json_new(a, RBGW_JSON_NUMBER);
            v->str = rbgw_str_make((const char *)p, (size_t)(q - p));
            p = q;
            break;
        }
        }
        if (depth == 0) {
            root = v;
        } else {
            struct rbgw_json *parent = stack[depth - 1];
            if (in_object) {
                v->key = key;
                want_key = true;
            }
            if (last[depth - 1] != NULL) {
                last[depth - 1]->next = v;
            } else {
                parent->child = v;
            }
            last[depth - 1] = v;
            parent->n++;
        }
        if (v->type == RBGW_JSON_OBJECT || v->type == RBGW_JSON_ARRAY) {
            stack[depth] = v;
            last[depth] = NULL;
            depth++;
            in_object = want_key = v->type == RBGW_JSON_OBJECT;
        }
    }
    *out = root;
    return root != NULL ? 0 : -1;
}

const struct rbgw_json *
rbgw_json_get(const struct rbgw_json *obj, const char *key)
{
    if (obj == NULL || obj->type != RBGW_JSON_OBJECT) {
        return NULL;
    }
    size_t klen = strlen(key);
    const struct rbgw_json *found = NULL;
    for (const struct rbgw_json *c = obj->child; c; c = c->next) {
        if (c->key.len == klen && memcmp(c->key.p, key, klen) == 0) {
            found = c;
        }
    }
    return found;
}

bool
rbgw_json_int64(const struct rbgw_json *v, int64_t *out)
{
    if (v == NULL || (v->type != RBGW_JSON_NUMBER && v->type != RBGW_JSON_STRING)) {
        return false;
    }
    const char *p = v->str.p, *end = v->str.p + v->str.len;
    bool neg = false;
    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    if (p == end) {
        return false;
    }
    uint64_t acc = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        unsigned d = (unsigned)(*p - '0');
        if (acc > (UINT64_C(9223372036854775808) - d) / 10) {
            return false;
        }
        acc = acc * 10 + d;
    }
    if (!neg && acc > INT64_MAX) {
        return false;
    }
    *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return true;
}

/* JSON's whitespace (json11's: no form feed or vertical tab). */
static bool
is_json_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Offset of the first whitespace byte outside strings in s[from..len), from an outside state;
 * len if there is none. */
static size_t
squeeze_find(const char *s, size_t from, size_t len)
{
    for (size_t i = from; i < len; i++) {
        char c = s[i];
        if (c == '"') {
            /* Skip the string: to the next quote that no backslash escapes. */
            for (i++; i < len && s[i] != '"'; i++) {
                i += s[i] == '\\';
            }
        } else if (is_json_ws(c)) {
            return i;
        }
    }
    return len;
}

struct rbgw_str
rbgw_json_squeeze(struct rbgw_buf *scratch, struct rbgw_str s)
{
    size_t ws = squeeze_find(s.p, 0, s.len);
    if (ws == s.len) {
        return s;
    }
    rbgw_buf_reset(scratch);
    char *dst = rbgw_buf_reserve(scratch, s.len);
    size_t n = 0;
    size_t from = 0;
    while (from < s.len) {
        memcpy(dst + n, s.p + from, ws - from);
        n += ws - from;
        from = ws;
        while (from < s.len && is_json_ws(s.p[from])) {
            from++;
        }
        ws = squeeze_find(s.p, from, s.len);
    }
    scratch->len = n;
    scratch->data[n] = '\0';
    return (struct rbgw_str){scratch->data, n};
}

void
rbgw_json_write_string(struct rbgw_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    /* Worst case every byte becomes \u00XX. */
    char *dst = rbgw_buf_reserve(b, len * 6 + 2);
    char *o = dst;
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    *o++ = '"';
    for (; p < end; p++) {
        unsigned char c = *p;
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0xe2) {
            *o++ = (char)c;
            continue;
        }
        switch (c) {
        case '"':
            *o++ = '\\';
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            *o++ = '\\';
            break;
        case '\b':
            *o++ = '\\';
            *o++ = 'b';
            break;
        case '\f':
            *o++ = '\\';
            *o++ = 'f';
            break;
        case '\n':
            *o++ = '\\';
            *o++ = 'n';
            break;
        case '\r':
            *o++ = '\\';
            *o++ = 'r';
            break;
        case '\t':
            *o++ = '\\';
            *o++ = 't';
            break;
        case 0xe2:
            /* U+2028 / U+2029 are escaped by json11 for the sake of JavaScript. */
            if (end - p >= 3 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
                memcpy(o, p[2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
                o += 6;
                p += 2;
            } else {
                *o++ = (char)c;
            }
            break;
        default:
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
            break;
        }
    }
    *o++ = '"';
    b->len += (size_t)(o - dst);
    b->data[b->len] = '\0';
}

int
rbgw_json_key_cmp(const struct rbgw_json *x, const struct rbgw_json *y)
{
    size_t n = x->key.len < y->key.len ? x->key.len : y->key.len;
    int c = n ? memcmp(x->key.p, y->key.p, n) : 0;
    if (c != 0) {
        return c;
    }
    return x->key.len < y->key.len ? -1 : x->key.len > y->key.len;
}

static void write_value(struct rbgw_buf *b, const struct rbgw_json *v);

/* Merge the sorted runs m[lo..mid) and m[mid..hi) into out[lo..hi), the left one first on a
 * tie (stable). */
static void
merge_runs(const struct rbgw_json **m, const struct rbgw_json **out, size_t lo, size_t mid,
           size_t hi)
{
    size_t i = lo, j = mid, k = lo;
    while (i < mid && j < hi) {
        out[k++] = rbgw_json_key_cmp(m[j], m[i]) < 0 ? m[j++] : m[i++];
    }
    while (i < mid) {
        out[k++] = m[i++];
    }
    while (j < hi) {
        out[k++] = m[j++];
    }
}

void
rbgw_json_sort_members(const struct rbgw_json **m, size_t n)
{
    /* Members nearly always arrive sorted (pdns sorts them): one pass says so. */
    size_t i = 1;
    while (i < n && rbgw_json_key_cmp(m[i - 1], m[i]) <= 0) {
        i++;
    }
    if (i >= n) {
        return;
    }
    if (n <= 16) {
        for (; i < n; i++) {
            const struct rbgw_json *c = m[i];
            size_t j = i;
            while (j > 0 && rbgw_json_key_cmp(m[j - 1], c) > 0) {
                m[j] = m[j - 1];
                j--;
            }
            m[j] = c;
        }
        return;
    }
    /* Bottom-up merge sort: an insertion sort would take quadratic time on a call of 100,000
     * members in reverse order (seconds of the loop for one call under max-request-size). */
    const struct rbgw_json **tmp = rbgw_xmalloc(n * sizeof(*tmp));
    const struct rbgw_json **src = m, **dst = tmp;
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n;
            size_t hi = lo + 2 * w < n ? lo + 2 * w : n;
            merge_runs(src, dst, lo, mid, hi);
        }
        const struct rbgw_json **t = src;
        src = dst;
        dst = t;
    }
    if (src != m) {
        memcpy(m, src, n * sizeof(*m));
    }
    free(tmp);
}

static void
write_object(struct rbgw_buf *b, const struct rbgw_json *v)
{
    const struct rbgw_json *small[32];
    const struct rbgw_json **m =
        v->n <= RBGW_NELEM(small) ? small : rbgw_xmalloc(v->n * sizeof(*m));
    size_t n = 0;
    for (const struct rbgw_json *c = v->child; c; c = c->next) {
        m[n++] = c;
    }
    rbgw_json_sort_members(m, n);
    rbgw_buf_putc(b, '{');
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        /* A repeated key keeps its last value, as json11's std::map does. */
        if (i + 1 < n && rbgw_json_key_cmp(m[i], m[i + 1]) == 0) {
            continue;
        }
        if (!first) {
            rbgw_buf_append(b, ", ", 2);
        }
        first = false;
        rbgw_json_write_string(b, m[i]->key.p, m[i]->key.len);
        rbgw_buf_append(b, ": ", 2);
        write_value(b, m[i]);
    }
    rbgw_buf_putc(b, '}');
    if (m != small) {
        free(m);
    }
}

static void
write_value(struct rbgw_buf *b, const struct rbgw_json *v)
{
    switch (v->type) {
    case RBGW_JSON_NULL:
        rbgw_buf_append(b, "null", 4);
        break;
    case RBGW_JSON_FALSE:
        rbgw_buf_append(b, "false", 5);
        break;
    case RBGW_JSON_TRUE:
        rbgw_buf_append(b, "true", 4);
        break;
    case RBGW_JSON_NUMBER:
        rbgw_buf_append_str(b, v->str);
        break;
    case RBGW_JSON_STRING:
        rbgw_json_write_string(b, v->str.p, v->str.len);
        break;
    case RBGW_JSON_ARRAY:
        rbgw_buf_putc(b, '[');
        for (const struct rbgw_json *c = v->child; c; c = c->next) {
            if (c != v->child) {
                rbgw_buf_append(b, ", ", 2);
            }
            write_value(b, c);
        }
        rbgw_buf_putc(b, ']');
        break;
    case RBGW_JSON_OBJECT:
        write_object(b, v);
        break;
    }
}

void
rbgw_json_write(struct rbgw_buf *b, const struct rbgw_json *v)
{
    write_value(b, v);
}

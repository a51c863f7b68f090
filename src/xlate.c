/*
 * xlate.c: one JSON-RPC call -> the HTTP/1.1 request pdns's HTTP connector would write.
 *
 * Pure: no I/O, no globals, no logging.  The REST mapping is the `.rest` column of the method
 * table (method.h); this file only walks a row (docs/protocol.md §5.2-§5.4).  Requests are
 * assembled in four scratch buffers (path, query, body, header values) and written to `out` in one
 * go at the end, so a failed translation leaves `out` untouched.
 *
 * Byte-level rules, all from pdns (httpconnector.cc, yahttp reqresp/url/utility) unless noted:
 *  - Request line `<VERB> <path>[?query] HTTP/1.1`.  yahttp re-parses the URL it is given, so
 *    the path ends at the first '?' (a '?' in url-suffix or in a method name drops the rest),
 *    and a post_json URL without a path is sent as "/".
 *  - Headers in case-insensitive alphabetical order, names capitalised after each '-'
 *    (write_head()).  Host is the URL host without port; yahttp puts an IPv6 host (one that
 *    contains ':') back in brackets, and so do we.
 *  - Components, form values and query keys/values are percent-encoded per byte (§5.1); the
 *    method name, literal form keys (value[], rr, nsset[0]) and header values are raw.
 *  - Numbers as text (path components, headers, record-group members, addDomainKey flags,
 *    dialect-5 serial, maxResults, times) print as pdns's int_value(): the decimal int32.  An
 *    integer number text in int32 range prints as itself; anything outside int32 prints
 *    -2147483648 (the x86-64 result of pdns's double->int cast, seen on the wire); a fraction
 *    is truncated toward zero.  So a dialect-5 serial above 2^31-1 goes out as -2147483648,
 *    exactly as pdns 5.x sends it; the JSON modes carry such serials exactly.
 *  - Dialect 4 (t->dialect == 4; anything else means 5) reproduces the 4.x bugs: bool members
 *    of record groups are a bare 1/0 without their key, replaceRRSet groups are glued without
 *    '&', and setNotified's serial is printf("%f") of the number (2002010100.000000).
 *
 * Where rbgw is deliberately more lenient or stricter than pdns (pdns itself never sends such
 * input; a gateway may receive it from other clients or from REST ingress):
 *  - A numeric string where pdns reads a number (maxResults, times, the dialect-4 serial) is
 *    used as that number; pdns would read 0.  Where pdns prints any scalar as text (path
 *    components, headers, dialect-5 serial) a string is sent as-is, as pdns does.
 *  - Where pdns reads a bool (key active/published, narrow, includeDisabled, auth[]) a nonzero
 *    number and the strings "1" and "true" count as true; pdns accepts only JSON true.
 *  - pdns throws (and the call fails) when a path component, a header parameter or an
 *    addDomainKey flags value is an array or an object, or a header parameter is null; we
 *    return RBGW_EPROTO for the same inputs.
 *  - A header value with a control byte (CR, LF, NUL and every other byte below 0x20 but tab,
 *    and DEL), or a path with a control byte, space or DEL, would let a caller inject or break
 *    HTTP framing, or make a request strict HTTP parsers (llhttp, rbgw's own listener) refuse
 *    outright; pdns writes them raw, we refuse (RBGW_EPROTO).
 *  - The method name goes into the REST and post paths raw, as pdns writes it; every pdns
 *    method is letters and digits, and any other byte ('/', '.', '?', '#', '%') could move
 *    the request elsewhere on the responder, so such a name is refused (RBGW_EPROTO).
 *  - yahttp refuses URLs over 2048 bytes and then sends an empty path; we send the full path.
 *  - post_json sends `raw` trimmed of JSON whitespace (pdns sends its own serialisation of the
 *    same object); when raw is empty we serialise {"method", "parameters"} in json11 form.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "rbgw/method.h"
#include "rbgw/xlate.h"

struct xreq {
    const char *verb;        /* request verb */
    bool has_body;           /* Content-Length/-Type are sent (even for an empty body) */
    const char *ctype;       /* Content-Type value when has_body */
    struct rbgw_buf path;    /* request path before the '?' cut */
    struct rbgw_buf query;   /* "k=v&..." without '?', empty when none */
    size_t nquery;           /* number of query tokens */
    struct rbgw_buf body;    /* request body */
    struct rbgw_buf scratch; /* text of one value, before it is copied or encoded */
    struct rbgw_buf hvals;   /* X-Remotebackend-* values, back to back */
    struct {
        const char *name; /* "X-Remotebackend-<Param>", as written (xheader_names) */
        size_t namelen;   /* its length */
        size_t off;       /* value offset in hvals */
        size_t len;       /* value length */
    } xh[RBGW_REST_NHEADERS];
    size_t nxh; /* X-Remotebackend-* headers in xh */
    /* The members of params the path and the headers read, found in one pass over params
     * (gather()): comp[i] is rbgw_rest_components[i], hdr[i] rbgw_rest_header_params[i]. */
    const struct rbgw_json *comp[RBGW_REST_NCOMPONENTS];
    const struct rbgw_json *hdr[RBGW_REST_NHEADERS];
    bool d4;       /* dialect 4 */
    char *err;     /* caller's error text buffer */
    size_t errlen; /* its size */
};

/* Form or query tokens joined by '&'. */
struct tokens {
    struct rbgw_buf *b; /* where tokens go */
    size_t n;           /* tokens written so far */
};

static void
token_start(struct tokens *tk)
{
    if (tk->n++ > 0) {
        rbgw_buf_putc(tk->b, '&');
    }
}

static int fail(struct xreq *r, const char *fmt, ...) RBGW_PRINTF(2, 3);

static int
fail(struct xreq *r, const char *fmt, ...)
{
    if (r->err != NULL && r->errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, r->errlen, fmt, ap);
        va_end(ap);
    }
    return RBGW_EPROTO;
}

/* [0-9A-Za-z]: what pdns's URL encoding leaves as it is (a table: it runs per byte). */
static const bool alnum[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
    ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1,
    ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1,
    ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
    ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,
    ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static bool
is_alnum(unsigned char c)
{
    return alnum[c];
}

void
rbgw_xlate_urlencode(struct rbgw_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char *dst = rbgw_buf_reserve(out, len * 3);
    char *p = dst;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_alnum(c)) {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    out->len += (size_t)(p - dst);
    out->data[out->len] = '\0';
}

static void
put_encoded(struct rbgw_buf *out, const struct rbgw_buf *text)
{
    rbgw_xlate_urlencode(out, text->data, text->len);
}

/* ---- numbers and scalars as text ---------------------------------------------------------- */

/* A number's value.  NUMBER nodes carry their source text; a STRING counts when it is wholly a
 * decimal number (no spaces, no hex, no inf/nan). */
static bool
number_of(const struct rbgw_json *v, double *out)
{
    if (v == NULL || (v->type != RBGW_JSON_NUMBER && v->type != RBGW_JSON_STRING)) {
        return false;
    }
    size_t len = v->str.len;
    if (len == 0 || len >= 512) {
        return false;
    }
    char tmp[512];
    for (size_t i = 0; i < len; i++) {
        char c = v->str.p[i];
        if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')) {
            return false;
        }
        tmp[i] = c;
    }
    tmp[len] = '\0';
    char *end;
    double d = strtod(tmp, &end);
    if (end != tmp + len) {
        return false;
    }
    *out = d;
    return true;
}

/* pdns's int_value(): (int)double, which x86-64 turns into INT_MIN when out of range. */
static int32_t
int32_of(const struct rbgw_json *v)
{
    int64_t i;
    if (rbgw_json_int64(v, &i)) {
        return i >= INT32_MIN && i <= INT32_MAX ? (int32_t)i : INT32_MIN;
    }
    double d;
    if (!number_of(v, &d)) {
        return 0;
    }
    return d > -2147483649.0 && d < 2147483648.0 ? (int32_t)d : INT32_MIN;
}

static bool
truthy(const struct rbgw_json *v)
{
    double d;
    if (v == NULL) {
        return false;
    }
    switch (v->type) {
    case RBGW_JSON_TRUE:
        return true;
    case RBGW_JSON_NUMBER:
        return number_of(v, &d) && d != 0;
    case RBGW_JSON_STRING:
        return rbgw_str_eq_cstr(v->str, "1") || rbgw_str_eq_cstr(v->str, "true");
    default:
        return false;
    }
}

/* Decimal text of an int32 without printf (this runs for every id and port of every call). */
static void
put_int32(struct rbgw_buf *dst, int32_t v)
{
    char tmp[12];
    char *p = tmp + sizeof(tmp);
    uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) {
        *--p = '-';
    }
    rbgw_buf_append(dst, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* pdns's asString(): string as-is, number as int32, bool as 1/0; false for anything else. */
static bool
scalar_text(struct rbgw_buf *dst, const struct rbgw_json *v)
{
    if (v == NULL) {
        return false;
    }
    switch (v->type) {
    case RBGW_JSON_STRING:
        rbgw_buf_append_str(dst, v->str);
        return true;
    case RBGW_JSON_NUMBER:
        put_int32(dst, int32_of(v));
        return true;
    case RBGW_JSON_TRUE:
    case RBGW_JSON_FALSE:
        rbgw_buf_putc(dst, v->type == RBGW_JSON_TRUE ? '1' : '0');
        return true;
    default:
        return false;
    }
}

/* Text of v under conversion c into r->scratch.  Returns 0, 1 when the token is to be left
 * out (RBGW_CONV_STR_OPT), or RBGW_EPROTO. */
static int
conv_text(struct xreq *r, const struct rbgw_json *v, enum rbgw_rest_conv c, const char *what)
{
    struct rbgw_buf *s = &r->scratch;
    double d;
    rbgw_buf_reset(s);
    switch (c) {
    case RBGW_CONV_TEXT:
        if (!scalar_text(s, v)) {
            return fail(r, "parameter '%s' is not a string, number or bool", what);
        }
        return 0;
    case RBGW_CONV_STR:
    case RBGW_CONV_STR_OPT:
        if (v != NULL && v->type == RBGW_JSON_STRING) {
            rbgw_buf_append_str(s, v->str);
            return 0;
        }
        return c == RBGW_CONV_STR_OPT ? 1 : 0;
    case RBGW_CONV_BOOL01:
        rbgw_buf_putc(s, truthy(v) ? '1' : '0');
        return 0;
    case RBGW_CONV_BOOLWORD:
        rbgw_buf_append_cstr(s, truthy(v) ? "true" : "false");
        return 0;
    case RBGW_CONV_INT:
        put_int32(s, int32_of(v));
        return 0;
    case RBGW_CONV_SERIAL:
        if (r->d4) {
            /* 4.x: std::to_string(number_value()), i.e. "%f" of a double.  The radix is
             * forced to '.' so that a process locale cannot change the bytes. */
            rbgw_buf_printf(s, "%f", number_of(v, &d) ? d : 0.0);
            for (size_t i = 0; i < s->len; i++) {
                if (s->data[i] == ',') {
                    s->data[i] = '.';
                }
            }
            return 0;
        }
        if (!scalar_text(s, v)) {
            return fail(r, "parameter '%s' is not a string, number or bool", what);
        }
        return 0;
    }
    return fail(r, "bad conversion for '%s'", what);
}

/* ---- REST: path, headers, body ------------------------------------------------------------ */

/* A method name goes into the path raw: only letters and digits (every pdns method) may.  A
 * name the method table knows is one of them already (test_method checks every row), and
 * path_method writes the table's own spelling for it. */
static int
check_method(struct xreq *r, struct rbgw_str method)
{
    for (size_t i = 0; i < method.len; i++) {
        unsigned char c = (unsigned char)method.p[i];
        if (!is_alnum(c)) {
            return fail(r,
                        "method name holds byte 0x%02x; only letters and digits can go into "
                        "the request path",
                        c);
        }
    }
    return 0;
}

/* The method name the path carries: the table's for a known method (the same bytes as the
 * call's), the call's own, checked by check_method, for an unknown one. */
static struct rbgw_str
path_method(enum rbgw_method m, struct rbgw_str method)
{
    if (m == RBGW_M_UNKNOWN) {
        return method;
    }
    const struct rbgw_method_info *row = rbgw_method_info(m);
    return rbgw_str_make(row->name, row->len);
}

/* The method's REST row; pdns's generic rule for unknown methods and those it never sends over
 * HTTP (initialize). */
static const struct rbgw_rest *
rest_row(enum rbgw_method m)
{
    const struct rbgw_rest *row = &rbgw_method_info(m)->rest;
    return row->none ? &rbgw_method_info(RBGW_M_UNKNOWN)->rest : row;
}

/* One pass over params for the members every REST request reads (the path components and the
 * header parameters), instead of one rbgw_json_get per name: the last of a repeated key wins,
 * as with rbgw_json_get. */
static void
gather(struct xreq *r, const struct rbgw_json *params)
{
    if (params == NULL || params->type != RBGW_JSON_OBJECT) {
        return;
    }
    for (const struct rbgw_json *c = params->child; c != NULL; c = c->next) {
        size_t n = c->key.len;
        if (n == 0) {
            continue;
        }
        int i = rbgw_rest_param_index(c->key.p, n);
        if (i >= RBGW_REST_NCOMPONENTS) {
            r->hdr[i - RBGW_REST_NCOMPONENTS] = c;
        } else if (i >= 0) {
            r->comp[i] = c;
        }
    }
}

/* "/<encoded text>" when the parameter v (named name) is present and not null (pdns's
 * addUrlComponent). */
static int
put_component(struct xreq *r, const struct rbgw_json *v, const char *name)
{
    if (v == NULL || v->type == RBGW_JSON_NULL) {
        return 0;
    }
    int rc = conv_text(r, v, RBGW_CONV_TEXT, name);
    if (rc != 0) {
        return rc;
    }
    rbgw_buf_putc(&r->path, '/');
    put_encoded(&r->path, &r->scratch);
    return 0;
}

/*
 * One record group, as pdns's buildMemberListArgs(): members in byte order of their keys (a
 * repeated key keeps its last value, as json11's map does), joined by '&'.  Dialect 5 writes
 * prefix[key]=value with bools as 1/0 and null as an empty value; dialect 4 writes a bool as the
 * bare digit alone.  A non-object gives an empty group.  index < 0 means no [i] part.
 */
static int
put_group(struct xreq *r, const char *prefix, long index, const struct rbgw_json *obj)
{
    if (obj == NULL || obj->type != RBGW_JSON_OBJECT || obj->n == 0) {
        return 0;
    }
    const struct rbgw_json *small[16];
    const struct rbgw_json **m =
        obj->n <= RBGW_NELEM(small) ? small : rbgw_xmalloc(obj->n * sizeof(*m));
    size_t n = 0;
    for (const struct rbgw_json *c = obj->child; c != NULL && n < obj->n; c = c->next) {
        m[n++] = c;
    }
    rbgw_json_sort_members(m, n);
    int rc = 0;
    bool first = true;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct rbgw_json *v = m[i];
        if (i + 1 < n && rbgw_json_key_cmp(v, m[i + 1]) == 0) {
            continue;
        }
        if (!first) {
            rbgw_buf_putc(&r->body, '&');
        }
        first = false;
        bool is_bool = v->type == RBGW_JSON_TRUE || v->type == RBGW_JSON_FALSE;
        if (r->d4 && is_bool) {
            rbgw_buf_putc(&r->body, v->type == RBGW_JSON_TRUE ? '1' : '0');
            continue;
        }
        rbgw_buf_append_cstr(&r->body, prefix);
        if (index >= 0) {
            rbgw_buf_printf(&r->body, "[%ld]", index);
        }
        rbgw_buf_putc(&r->body, '[');
        rbgw_xlate_urlencode(&r->body, v->key.p, v->key.len);
        rbgw_buf_append(&r->body, "]=", 2);
        if (v->type == RBGW_JSON_NULL) {
            continue;
        }
        rc = conv_text(r, v, RBGW_CONV_TEXT, prefix);
        if (rc == 0) {
            put_encoded(&r->body, &r->scratch);
        }
    }
    if (m != small) {
        free(m);
    }
    return rc;
}

static int
put_token(struct xreq *r, struct tokens *tk, const char *key, const struct rbgw_json *v,
          enum rbgw_rest_conv c, const char *what)
{
    int rc = conv_text(r, v, c, what);
    if (rc < 0) {
        return rc;
    }
    if (rc == 1) {
        return 0;
    }
    token_start(tk);
    rbgw_buf_append_cstr(tk->b, key);
    rbgw_buf_putc(tk->b, '=');
    put_encoded(tk->b, &r->scratch);
    return 0;
}

/* Render a row's fields as tokens into tk (the body or the query). */
static int
put_fields(struct xreq *r, const struct rbgw_rest_field *f, const struct rbgw_json *params,
           struct tokens *tk)
{
    for (; f != NULL && f->piece != RBGW_PIECE_END; f++) {
        const struct rbgw_json *v = rbgw_json_get(params, f->param);
        int rc = 0;
        switch (f->piece) {
        case RBGW_PIECE_SCALAR:
            if (f->member != NULL) {
                v = rbgw_json_get(v, f->member);
            }
            rc = put_token(r, tk, f->key, v, f->conv, f->member ? f->member : f->param);
            break;
        case RBGW_PIECE_LIST:
            if (v == NULL || v->type != RBGW_JSON_ARRAY) {
                break;
            }
            for (const struct rbgw_json *e = v->child; e != NULL && rc == 0; e = e->next) {
                const struct rbgw_json *ev = f->member ? rbgw_json_get(e, f->member) : e;
                rc = put_token(r, tk, f->key, ev, f->conv, f->param);
            }
            break;
        case RBGW_PIECE_GROUP:
            token_start(tk);
            rc = put_group(r, f->key, -1, v);
            break;
        case RBGW_PIECE_GROUPS: {
            if (v == NULL || v->type != RBGW_JSON_ARRAY) {
                break;
            }
            bool glued = r->d4 && f->join == RBGW_JOIN_AMP5_GLUED4;
            long i = 0;
            for (const struct rbgw_json *e = v->child; e != NULL && rc == 0; e = e->next, i++) {
                if (!glued || i == 0) {
                    token_start(tk);
                }
                rc = put_group(r, f->key, i, e);
            }
            break;
        }
        case RBGW_PIECE_END:
            break;
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static bool
has_crlf_nul(struct rbgw_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] == '\r' || s.p[i] == '\n' || s.p[i] == '\0') {
            return true;
        }
    }
    return false;
}

/* Bytes refused: 1 in an HTTP field value (RFC 9110 5.5: controls but HTAB, and DEL), 2 in
 * the request path (controls, space and DEL).  One table load per byte. */
enum { BAD_IN_HEADER = 1, BAD_IN_PATH = 2 };
/* clang-format off */
static const unsigned char bad_byte[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, BAD_IN_PATH /* HTAB */, 3, 3, 3, 3, 3, 3, /* 0x00-0x0f */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3,                     3, 3, 3, 3, 3, 3, /* 0x10-0x1f */
    BAD_IN_PATH, /* 0x20, space */
    [0x7f] = 3,  /* DEL */
};
/* clang-format on */

/* The first byte of s that bad_byte marks with what, or -1. */
static int
first_bad(struct rbgw_str s, unsigned what)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (bad_byte[c] & what) {
            return c;
        }
    }
    return -1;
}

/* The first byte an HTTP field value cannot hold, or -1. */
static int
header_ctl(struct rbgw_str s)
{
    return first_bad(s, BAD_IN_HEADER);
}

/* The header names of rbgw_rest_header_params as yahttp writes them ("x-remotebackend-" and
 * the parameter, capitalised after every '-'; the wire golden tests pin each one). */
#define XHEADER_NAMES(X)                                                                           \
    X("X-Remotebackend-Local")                                                                     \
    X("X-Remotebackend-Real-Remote")                                                               \
    X("X-Remotebackend-Remote") X("X-Remotebackend-Trxid") X("X-Remotebackend-Zone-Id")
#define XH_NAME(s) s,
#define XH_LEN(s) sizeof(s) - 1,
static const char *const xheader_names[RBGW_REST_NHEADERS] = {XHEADER_NAMES(XH_NAME)};
static const unsigned char xheader_lens[RBGW_REST_NHEADERS] = {XHEADER_NAMES(XH_LEN)};

static int
put_headers(struct xreq *r)
{
    for (size_t i = 0; i < RBGW_NELEM(rbgw_rest_header_params); i++) {
        const char *p = rbgw_rest_header_params[i];
        const struct rbgw_json *v = r->hdr[i];
        if (v == NULL) {
            continue;
        }
        int rc = conv_text(r, v, RBGW_CONV_TEXT, p);
        if (rc != 0) {
            return rc;
        }
        int ctl = header_ctl(rbgw_buf_str(&r->scratch));
        if (ctl >= 0) {
            return fail(r, "parameter '%s' contains byte 0x%02x: not sendable as a header", p, ctl);
        }
        r->xh[r->nxh].name = xheader_names[i];
        r->xh[r->nxh].namelen = xheader_lens[i];
        r->xh[r->nxh].off = r->hvals.len;
        r->xh[r->nxh].len = r->scratch.len;
        rbgw_buf_append(&r->hvals, r->scratch.data, r->scratch.len);
        r->nxh++;
    }
    return 0;
}

static int
build_rest(struct xreq *r, const struct rbgw_http_target *t, enum rbgw_method m,
           struct rbgw_str method, const struct rbgw_json *params)
{
    if (params != NULL && params->type != RBGW_JSON_OBJECT) {
        return fail(r, "parameters is not an object");
    }
    const struct rbgw_rest *row = rest_row(m);
    int rc;
    if (m == RBGW_M_UNKNOWN && (rc = check_method(r, method)) != 0) {
        return rc;
    }

    r->verb = rbgw_rest_verb_names[row->verb];
    rbgw_buf_append_str(&r->path, t->path);
    rbgw_buf_putc(&r->path, '/');
    rbgw_buf_append_str(&r->path, path_method(m, method));
    gather(r, params);
    for (size_t i = 0; i < RBGW_NELEM(rbgw_rest_components); i++) {
        if ((rc = put_component(r, r->comp[i], rbgw_rest_components[i])) != 0) {
            return rc;
        }
    }
    for (size_t i = 0; i < RBGW_REST_MAX_EXTRA && row->extra[i] != NULL; i++) {
        const char *name = row->extra[i];
        if ((rc = put_component(r, rbgw_json_get(params, name), name)) != 0) {
            return rc;
        }
    }
    rbgw_buf_append_str(&r->path, t->suffix);

    if ((rc = put_headers(r)) != 0) {
        return rc;
    }

    if (row->body == RBGW_BODY_FORM) {
        struct tokens tk = {&r->body, 0};
        r->has_body = true;
        r->ctype = "application/x-www-form-urlencoded; charset=utf-8";
        return put_fields(r, row->fields, params, &tk);
    }
    if (row->body == RBGW_BODY_QUERY) {
        struct tokens tk = {&r->query, 0};
        rc = put_fields(r, row->fields, params, &tk);
        r->nquery = tk.n;
        return rc;
    }
    return 0;
}

/* ---- post and post_json ------------------------------------------------------------------- */

/* §4.5: POST <path>/<method><suffix>, body parameters=<urlencoded json11 text>. */
static int
build_post(struct xreq *r, const struct rbgw_http_target *t, enum rbgw_method m,
           struct rbgw_str method, const struct rbgw_json *params)
{
    int rc = m == RBGW_M_UNKNOWN ? check_method(r, method) : 0;
    if (rc != 0) {
        return rc;
    }
    r->verb = "POST";
    rbgw_buf_append_str(&r->path, t->path);
    rbgw_buf_putc(&r->path, '/');
    rbgw_buf_append_str(&r->path, path_method(m, method));
    rbgw_buf_append_str(&r->path, t->suffix);

    rbgw_buf_reset(&r->scratch);
    if (params != NULL) {
        rbgw_json_write(&r->scratch, params);
    } else {
        rbgw_buf_append(&r->scratch, "{}", 2);
    }
    rbgw_buf_append_cstr(&r->body, "parameters=");
    put_encoded(&r->body, &r->scratch);
    r->has_body = true;
    r->ctype = "application/x-www-form-urlencoded; charset=utf-8";
    return 0;
}

static bool
is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* §4.6: POST <path> exactly, body = the request object. */
static int
build_post_json(struct xreq *r, const struct rbgw_http_target *t, struct rbgw_str method,
                const struct rbgw_json *params, struct rbgw_str raw)
{
    r->verb = "POST";
    if (t->path.len > 0) {
        rbgw_buf_append_str(&r->path, t->path);
    } else {
        rbgw_buf_putc(&r->path, '/'); /* yahttp's path for "http://host" */
    }

    const char *p = raw.p, *end = raw.p + raw.len;
    while (p < end && is_json_space(*p)) {
        p++;
    }
    while (end > p && is_json_space(end[-1])) {
        end--;
    }
    if (p < end) {
        rbgw_buf_append(&r->body, p, (size_t)(end - p));
    } else {
        rbgw_buf_append_cstr(&r->body, "{\"method\": ");
        rbgw_json_write_string(&r->body, method.p, method.len);
        rbgw_buf_append_cstr(&r->body, ", \"parameters\": ");
        if (params != NULL) {
            rbgw_json_write(&r->body, params);
        } else {
            rbgw_buf_append(&r->body, "{}", 2);
        }
        rbgw_buf_putc(&r->body, '}');
    }
    r->has_body = true;
    r->ctype = "text/javascript; charset=utf-8";
    return 0;
}

/* ---- output ------------------------------------------------------------------------------- */

/* Copy n bytes to p and return the end. */
static char *
put(char *p, const void *src, size_t n)
{
    if (n > 0) {
        memcpy(p, src, n);
    }
    return p + n;
}

#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

/*
 * Request line, headers, body, computed to their exact size and copied into out in one pass.
 * The path is cut at its first '?', as yahttp's URL parser does.
 *
 * Headers as yahttp writes them: sorted by name case-insensitively, each name capitalised after
 * every '-' and lowercase elsewhere (camelizeHeader), "Name: value\r\n", then the upstream's
 * own headers (extra: pre-rendered lines, as configured), then the empty line.  This is the one
 * place that decides header bytes.  The fixed headers are written in that order and spelling
 * here; the X-Remotebackend-* ones follow them (X sorts last) in the order of
 * rbgw_rest_header_params, which is sorted (the wire golden tests pin it).
 */
static int
write_request(struct xreq *r, const struct rbgw_http_target *t, struct rbgw_buf *out)
{
    static const char head1[] = "Accept: application/json\r\nConnection: Keep-Alive\r\n";
    static const char ua[] = "\r\nUser-Agent: YaHTTP v1.0\r\n";
    struct rbgw_str path = rbgw_buf_str(&r->path);
    const char *q = path.len ? memchr(path.p, '?', path.len) : NULL;
    if (q != NULL) {
        path.len = (size_t)(q - path.p);
    }
    /* Between the url's path and the url-suffix every byte is safe: the method is letters and
     * digits (path_method: the table's name, or one check_method passed) and each component
     * is percent-encoded.  So when those two hold no byte a path cannot, neither does the whole,
     * and the byte-by-byte pass over it (~400 instructions a call) is needed only otherwise. */
    int bad = -1;
    if (first_bad(t->path, BAD_IN_PATH) >= 0 || first_bad(t->suffix, BAD_IN_PATH) >= 0) {
        bad = first_bad(path, BAD_IN_PATH);
    }
    if (bad >= 0) {
        return fail(r, "request path contains byte 0x%02x (method, url or url-suffix)", bad);
    }
    if (has_crlf_nul(t->host)) {
        return fail(r, "host contains CR, LF or NUL");
    }
    /* yahttp puts a host with a ':' (IPv6) back in brackets. */
    bool bracket = t->host.len > 0 && memchr(t->host.p, ':', t->host.len) != NULL;
    size_t verb_len = strlen(r->verb);
    char clen[24];
    size_t clen_len = 0, ctype_len = 0;
    if (r->has_body) {
        char *e = clen + sizeof(clen);
        size_t v = r->body.len;
        do {
            *--e = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        clen_len = (size_t)(clen + sizeof(clen) - e);
        memmove(clen, e, clen_len);
        ctype_len = strlen(r->ctype);
    }
    size_t total = verb_len + 1 + path.len + (r->nquery > 0 ? 1 + r->query.len : 0) +
                   sizeof(" HTTP/1.1\r\n") - 1 + sizeof(head1) - 1 + sizeof("Host: ") - 1 +
                   t->host.len + (bracket ? 2 : 0) + sizeof(ua) - 1 + t->extra.len + 2;
    if (r->has_body) {
        total += sizeof("Content-Length: \r\nContent-Type: \r\n") - 1 + clen_len + ctype_len +
                 r->body.len;
    }
    for (size_t i = 0; i < r->nxh; i++) {
        total += r->xh[i].namelen + 4 + r->xh[i].len;
    }

    char *start = rbgw_buf_reserve(out, total);
    char *p = put(start, r->verb, verb_len);
    *p++ = ' ';
    p = put(p, path.p, path.len);
    if (r->nquery > 0) {
        *p++ = '?';
        p = put(p, r->query.data, r->query.len);
    }
    p = PUT_LIT(p, " HTTP/1.1\r\n");
    p = PUT_LIT(p, head1);
    if (r->has_body) {
        p = PUT_LIT(p, "Content-Length: ");
        p = put(p, clen, clen_len);
        p = PUT_LIT(p, "\r\nContent-Type: ");
        p = put(p, r->ctype, ctype_len);
        p = PUT_LIT(p, "\r\n");
    }
    p = PUT_LIT(p, "Host: ");
    if (bracket) {
        *p++ = '[';
    }
    p = put(p, t->host.p, t->host.len);
    if (bracket) {
        *p++ = ']';
    }
    p = PUT_LIT(p, ua);
    for (size_t i = 0; i < r->nxh; i++) {
        p = put(p, r->xh[i].name, r->xh[i].namelen);
        p = PUT_LIT(p, ": ");
        p = put(p, r->hvals.data + r->xh[i].off, r->xh[i].len);
        p = PUT_LIT(p, "\r\n");
    }
    p = put(p, t->extra.p, t->extra.len);
    p = PUT_LIT(p, "\r\n");
    if (r->has_body) {
        p = put(p, r->body.data, r->body.len);
    }
    RBGW_ASSERT((size_t)(p - start) == total);
    out->len += total;
    out->data[out->len] = '\0';
    return 0;
}

int
rbgw_xlate_rpc_to_http_with(struct rbgw_xlate_scratch *xs, const struct rbgw_http_target *t,
                            enum rbgw_method m, struct rbgw_str method,
                            const struct rbgw_json *params, struct rbgw_str raw,
                            struct rbgw_buf *out, char *err, size_t errlen)
{
    struct xreq r;
    memset(&r, 0, sizeof(r));
    r.d4 = t->dialect == 4;
    r.err = err;
    r.errlen = errlen;
    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }
    /* Borrow the scratch buffers (their memory, not their contents). */
    r.path = xs->path;
    r.query = xs->query;
    r.body = xs->body;
    r.scratch = xs->scratch;
    r.hvals = xs->hvals;
    rbgw_buf_reset(&r.path);
    rbgw_buf_reset(&r.query);
    rbgw_buf_reset(&r.body);
    rbgw_buf_reset(&r.scratch);
    rbgw_buf_reset(&r.hvals);

    int rc;
    switch (t->mode) {
    case RBGW_HTTP_POST:
        rc = build_post(&r, t, m, method, params);
        break;
    case RBGW_HTTP_POST_JSON:
        rc = build_post_json(&r, t, method, params, raw);
        break;
    case RBGW_HTTP_REST:
    default:
        rc = build_rest(&r, t, m, method, params);
        break;
    }
    if (rc == 0) {
        rc = write_request(&r, t, out);
    }
    xs->path = r.path;
    xs->query = r.query;
    xs->body = r.body;
    xs->scratch = r.scratch;
    xs->hvals = r.hvals;
    return rc;
}

void
rbgw_xlate_scratch_free(struct rbgw_xlate_scratch *xs)
{
    rbgw_buf_free(&xs->path);
    rbgw_buf_free(&xs->query);
    rbgw_buf_free(&xs->body);
    rbgw_buf_free(&xs->scratch);
    rbgw_buf_free(&xs->hvals);
}

int
rbgw_xlate_rpc_to_http(const struct rbgw_http_target *t, struct rbgw_str method,
                       const struct rbgw_json *params, struct rbgw_str raw, struct rbgw_buf *out,
                       char *err, size_t errlen)
{
    struct rbgw_xlate_scratch xs;
    memset(&xs, 0, sizeof(xs));
    int rc = rbgw_xlate_rpc_to_http_with(&xs, t, rbgw_method_lookup(method), method, params, raw,
                                         out, err, errlen);
    rbgw_xlate_scratch_free(&xs);
    return rc;
}

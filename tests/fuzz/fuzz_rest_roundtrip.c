/*
 * fuzz_rest_roundtrip.c: a call through the HTTP upstream's translation and back through REST
 * ingress: call -> rbgw_xlate_rpc_to_http -> HTTP bytes -> (listener parse) ->
 * rbgw_xlate_http_to_rpc -> call.
 *
 * The input is a call as pdns writes it (JSON).  Calls rbgw_rpc_decode refuses are skipped.
 * Each call is encoded in five settings: REST dialect 5 (path /dns), REST dialect 5 (no path,
 * url-suffix .php), REST dialect 4 (path /dns), post (path /dns, url-suffix .php) and
 * post_json (no path), then decoded by a listener configured with the same path and suffix.
 * What must come back is what tests/unit/test_xlate_in.c and docs/rest-ingress.md promise:
 *
 *  - every encoding either succeeds or fails with RBGW_EPROTO, a one-line reason and an
 *    untouched output; a success is exactly one well-formed HTTP request (llhttp, strict,
 *    takes it whole as one message);
 *  - post_json: the call's own bytes, trimmed of JSON whitespace;
 *  - post: the same call, in json11 form;
 *  - REST, known method: the decoded call is not always the same JSON (REST carries text: a
 *    number written as a string comes back a number, parameters the method's row does not
 *    carry are lost, docs/rest-ingress.md §3), so the equivalence is the one pdns can observe:
 *    the decoded call encodes to exactly the same HTTP request, but for what REST cannot carry
 *    by construction (expected_request: feedEnts' nonterm, spaces around header values,
 *    trailing record groups without members, strings the ingress types back).  In
 *    dialect 5 the decoded call is moreover a fixed point: encoding and decoding it again
 *    gives it back byte for byte.  Decoding may fail only for a value that cannot take its
 *    type ("is not an integer", "is not a boolean"; docs/rest-ingress.md §2.4) or, in dialect
 *    4, a record group whose glued auth digit is missing.  This is checked for calls that
 *    carry exactly their method's path components (components_exact: the path names them by
 *    position only), and in dialect 4 only for calls whose record groups are shaped as pdns
 *    sends them (dialect4_decodable: 4.x drops the names of bools and glues groups, so other
 *    groups are ambiguous on the wire);
 *  - REST, unknown method: the decoded call holds the path components in "_segments"; the
 *    decoded call encodes to the expected request once its segments are put back in the path.
 *
 * The method name travels raw in REST and post paths, as pdns writes it; a method with '/',
 * '?', '%' or a byte pdns would break the path with cannot survive that, so for such methods
 * only the first point is checked.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "httpmsg.h"
#include "rbgw/rpc.h"
#include "rbgw/xlate.h"
#include "rbgw/method.h"
#include "rbgw/xlate_in.h"

struct setting {
    enum rbgw_http_mode mode; /* translation mode */
    int dialect;              /* REST dialect */
    const char *path;         /* url path = listener prefix */
    const char *suffix;       /* url-suffix */
    const char *name;         /* for messages */
};

static const struct setting settings[] = {
    {RBGW_HTTP_REST, 5, "/dns", "", "REST 5"},     {RBGW_HTTP_REST, 5, "", ".php", "REST 5 .php"},
    {RBGW_HTTP_REST, 4, "/dns", "", "REST 4"},     {RBGW_HTTP_POST, 5, "/dns", ".php", "post"},
    {RBGW_HTTP_POST_JSON, 5, "", "", "post_json"},
};

/* What decoding one request gave. */
struct decoded {
    const struct setting *s; /* the listener's configuration */
    size_t messages;         /* messages in the request bytes */
    int rc;                  /* rbgw_xlate_http_to_rpc's result for the first one */
    char err[300];           /* its reason */
    struct rbgw_buf call;    /* its call text */
};

static void
on_message(const struct rbgw_http_in *in, void *ctx)
{
    struct decoded *d = ctx;
    if (d->messages++ > 0) {
        return;
    }
    struct rbgw_http_in_conf conf = {rbgw_str_cstr(d->s->path), rbgw_str_cstr(d->s->suffix)};
    struct rbgw_arena a = RBGW_ARENA_INIT;
    d->rc = rbgw_xlate_http_to_rpc(&conf, in, &a, &d->call, d->err, sizeof(d->err));
    rbgw_arena_free(&a);
}

/* Decode request bytes the way the listener would; exactly one complete message expected. */
static void
decode(const struct setting *s, struct rbgw_str req, struct decoded *d)
{
    struct rbgw_fuzz_http h;
    memset(d, 0, sizeof(*d));
    d->s = s;
    rbgw_fuzz_http_parse(&h, req.p, req.len, 0, on_message, d);
    FUZZ_CHECK(d->messages == 1 && h.end == HPE_OK,
               "%s: the request is %zu messages, parser state %d: %s", s->name, d->messages,
               (int)h.end, rbgw_fuzz_show_str(req));
    rbgw_fuzz_http_free(&h);
}

static int
encode(const struct setting *s, struct rbgw_str method, const struct rbgw_json *params,
       struct rbgw_str raw, struct rbgw_buf *out, char *err, size_t errlen)
{
    struct rbgw_http_target t = {.mode = s->mode,
                                 .dialect = s->dialect,
                                 .host = RBGW_STR("127.0.0.1"),
                                 .path = rbgw_str_cstr(s->path),
                                 .suffix = rbgw_str_cstr(s->suffix),
                                 .extra = RBGW_STR_NULL};
    return rbgw_xlate_rpc_to_http(&t, method, params, raw, out, err, errlen);
}

static bool
is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
plain_method(struct rbgw_str m)
{
    for (size_t i = 0; i < m.len; i++) {
        unsigned char c = (unsigned char)m.p[i];
        if (c <= 0x20 || c == 0x7f || c == '/' || c == '?' || c == '%') {
            return false;
        }
    }
    return true;
}

/* A method with its own REST row (the table's other methods go by pdns's generic rule). */
static const struct rbgw_rest *
rest_row(const struct rbgw_rpc_call *call)
{
    const struct rbgw_method_info *mi = rbgw_method_info(call->mid);
    return call->mid != RBGW_M_UNKNOWN && !mi->rest.none ? &mi->rest : NULL;
}

/* A record group as pdns sends it: members named as pdns's record fields, auth a bool (and
 * the only bool), and, where groups are glued (4.x replaceRRSet), ttl a number. */
static bool
pdns_group(const struct rbgw_json *g, bool glued)
{
    static const char *const members[] = {"auth",  "content", "ordername", "qclass",
                                          "qname", "qtype",   "ttl"};
    if (g == NULL || g->type != RBGW_JSON_OBJECT) {
        return false;
    }
    const struct rbgw_json *auth = rbgw_json_get(g, "auth");
    const struct rbgw_json *ttl = rbgw_json_get(g, "ttl");
    if (auth == NULL || (auth->type != RBGW_JSON_TRUE && auth->type != RBGW_JSON_FALSE) ||
        (glued && (ttl == NULL || ttl->type != RBGW_JSON_NUMBER))) {
        return false;
    }
    for (const struct rbgw_json *m = g->child; m != NULL; m = m->next) {
        bool known = false;
        for (size_t i = 0; i < RBGW_NELEM(members); i++) {
            known |= rbgw_str_eq_cstr(m->key, members[i]);
        }
        bool is_bool = m->type == RBGW_JSON_TRUE || m->type == RBGW_JSON_FALSE;
        if (!known || (is_bool && !rbgw_str_eq_cstr(m->key, "auth"))) {
            return false;
        }
    }
    return true;
}

/*
 * Dialect 4 writes a record group's bools as bare digits without their names and glues
 * replaceRRSet's groups together, and prints setNotified's serial with "%f" (§5.4): only
 * groups shaped as pdns sends them can be told apart again, and only a serial that is a
 * whole number other than -0 reads back as what was sent (N.000000 is N; 1.5 and -0 print
 * as 1.500000 and -0.000000, which come back as 1 and 0).  True when the call is so shaped.
 */
static bool
dialect4_decodable(const struct rbgw_rpc_call *call)
{
    const struct rbgw_json *serial = rbgw_json_get(call->params, "serial");
    if (rbgw_str_eq_cstr(call->method, "setNotified") && serial != NULL &&
        (serial->type == RBGW_JSON_NUMBER || serial->type == RBGW_JSON_STRING) &&
        strspn(serial->str.p, "0123456789+-.eE") == serial->str.len) {
        /* a number, or a string xlate.c reads as one */
        int64_t v;
        if (!rbgw_json_int64(serial, &v) || (serial->str.p[0] == '-' && v == 0)) {
            return false;
        }
    }
    const struct rbgw_rest *rest = rest_row(call);
    for (const struct rbgw_rest_field *f = rest ? rest->fields : NULL;
         f != NULL && f->piece != RBGW_PIECE_END; f++) {
        const struct rbgw_json *v = rbgw_json_get(call->params, f->param);
        if (f->piece == RBGW_PIECE_GROUP && v != NULL && !pdns_group(v, false)) {
            return false;
        }
        if (f->piece == RBGW_PIECE_GROUPS && v != NULL && v->type == RBGW_JSON_ARRAY) {
            for (const struct rbgw_json *e = v->child; e != NULL; e = e->next) {
                if (!pdns_group(e, f->join == RBGW_JOIN_AMP5_GLUED4)) {
                    return false;
                }
            }
        }
    }
    return true;
}

/*
 * Path components travel by position only: a call that lacks one of its method's components,
 * or carries a generic component its method does not take (a qtype in feedEnts), comes back
 * named by position, as pdns's REST cannot tell either.  True when the call carries exactly
 * its method's components (present and not null), and for unknown methods always.
 */
static bool
components_exact(const struct rbgw_rpc_call *call)
{
    const struct rbgw_rest *rest = rest_row(call);
    if (rest == NULL) {
        return true;
    }
    for (size_t i = 0; i < RBGW_REST_NCOMPONENTS; i++) {
        const struct rbgw_json *v = rbgw_json_get(call->params, rbgw_rest_components[i]);
        bool present = v != NULL && v->type != RBGW_JSON_NULL;
        if (present != ((rest->path & (1u << i)) != 0)) {
            return false;
        }
    }
    for (size_t i = 0; i < RBGW_REST_MAX_EXTRA && rest->extra[i] != NULL; i++) {
        const struct rbgw_json *v = rbgw_json_get(call->params, rest->extra[i]);
        if (v == NULL || v->type == RBGW_JSON_NULL) {
            return false;
        }
    }
    return true;
}

/* The reasons docs/rest-ingress.md gives for REST calls that cannot come back. */
/* Does v hold a number outside int32?  REST prints such a number as pdns's int_value()
 * (-2147483648), so a call holding one is no fixed point (docs/rest-ingress.md §3, "numbers
 * outside int32"): ingress keeps the digits a string carried, the next egress clamps them. */
static bool
has_wide_number(const struct rbgw_json *v)
{
    if (v == NULL) {
        return false;
    }
    if (v->type == RBGW_JSON_NUMBER) {
        int64_t i;
        return !rbgw_json_int64(v, &i) || i < INT32_MIN || i > INT32_MAX;
    }
    for (const struct rbgw_json *c = v->child; c != NULL; c = c->next) {
        if (has_wide_number(c)) {
            return true;
        }
    }
    return false;
}

static bool
documented_loss(const char *err, int dialect)
{
    return strstr(err, " is not an integer") != NULL || strstr(err, " is not a boolean") != NULL ||
           (dialect == 4 && strstr(err, "carries no glued auth digit") != NULL);
}

/* request with "/<segment>" inserted for each element of segs just before suffix + " HTTP/1.1"
 * on the request line.  The segments are strings (decoded), encoded again as xlate.c does. */
static void
put_segments_back(struct rbgw_str req, const struct setting *s, const struct rbgw_json *segs,
                  struct rbgw_buf *out)
{
    const char *eol = memchr(req.p, '\r', req.len);
    FUZZ_CHECK(eol != NULL, "no request line");
    size_t tail = strlen(s->suffix) + strlen(" HTTP/1.1");
    size_t cut = (size_t)(eol - req.p);
    FUZZ_CHECK(cut >= tail, "short request line");
    cut -= tail;
    rbgw_buf_append(out, req.p, cut);
    for (const struct rbgw_json *e = segs ? segs->child : NULL; e != NULL; e = e->next) {
        FUZZ_CHECK(e->type == RBGW_JSON_STRING, "_segments holds a non-string");
        rbgw_buf_putc(out, '/');
        rbgw_xlate_urlencode(out, e->str.p, e->str.len);
    }
    rbgw_buf_append(out, req.p + cut, req.len - cut);
}

/* Is key the parameter of one of the row's fields of kind piece? */
static bool
field_param(const struct rbgw_rest *rest, enum rbgw_rest_piece piece, struct rbgw_str key)
{
    for (const struct rbgw_rest_field *f = rest ? rest->fields : NULL;
         f != NULL && f->piece != RBGW_PIECE_END; f++) {
        if (f->piece == piece && rbgw_str_eq_cstr(key, f->param)) {
            return true;
        }
    }
    return false;
}

/* Is key a parameter the ingress always overwrites with [] (the method table's forced lost
 * values: feedEnts' nonterm)? */
static bool
forced_empty(const struct rbgw_rest *rest, struct rbgw_str key)
{
    for (size_t i = 0; rest != NULL && i < RBGW_REST_MAX_LOST; i++) {
        if (rest->lost[i].force && rest->lost[i].value == RBGW_LOST_EMPTY_ARRAY &&
            rbgw_str_eq_cstr(key, rest->lost[i].param)) {
            return true;
        }
    }
    return false;
}

/* Drop the trailing elements of an array of record groups that write nothing (an object
 * without members, or not an object).  True when there were any. */
static bool
drop_trailing_memberless(struct rbgw_json *arr)
{
    struct rbgw_json *last = NULL; /* last group that writes anything */
    size_t n = 0, keep = 0;
    for (struct rbgw_json *g = arr->child; g != NULL; g = g->next) {
        n++;
        if (g->type == RBGW_JSON_OBJECT && g->n > 0) {
            last = g;
            keep = n;
        }
    }
    if (keep == n) {
        return false;
    }
    if (last != NULL) {
        last->next = NULL;
    } else {
        arr->child = NULL;
    }
    arr->n = keep;
    return true;
}

/*
 * A string the ingress reads as an integer (§2.4: decimal int64, and for trxid and serial an
 * all-digit fraction dropped) becomes that number, as the ingress gives it back: "007", "-0",
 * "5.000000" or "3000000000" go out as written but come back as 7, 0, 5 and 3000000000, which
 * then go out as pdns prints numbers (int32).  True when v changed.
 */
static bool
integer_words_as_numbers(struct rbgw_arena *a, struct rbgw_json *v, bool frac)
{
    if (v->type != RBGW_JSON_STRING) {
        return false;
    }
    const char *p = v->str.p, *end = v->str.p + v->str.len;
    bool neg = p < end && *p == '-';
    p += neg;
    const char *digits = p;
    uint64_t acc = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (acc > (limit - d) / 10) {
            return false;
        }
        acc = acc * 10 + d;
    }
    if (p == digits) {
        return false;
    }
    if (frac && p < end && *p == '.') {
        const char *f = ++p;
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
        if (p == f) {
            return false;
        }
    }
    if (p != end) {
        return false;
    }
    char text[24];
    int n = snprintf(text, sizeof(text), "%" PRId64, neg ? (int64_t)(0 - acc) : (int64_t)acc);
    v->type = RBGW_JSON_NUMBER;
    v->str = rbgw_str_make(rbgw_arena_memdup(a, text, (size_t)n), (size_t)n);
    return true;
}

/* A group's members as the ingress types them back: auth holding the string "true" or
 * "false" becomes that bool, ttl and qclass holding an integer's text become that number.
 * True when g changed. */
static bool
group_words(struct rbgw_arena *a, struct rbgw_json *g)
{
    bool changed = false;
    for (struct rbgw_json *m = g->type == RBGW_JSON_OBJECT ? g->child : NULL; m != NULL;
         m = m->next) {
        if (m->type == RBGW_JSON_STRING && rbgw_str_eq_cstr(m->key, "auth") &&
            (rbgw_str_eq_cstr(m->str, "true") || rbgw_str_eq_cstr(m->str, "false"))) {
            m->type = m->str.p[0] == 't' ? RBGW_JSON_TRUE : RBGW_JSON_FALSE;
            changed = true;
        }
        if (rbgw_str_eq_cstr(m->key, "ttl") || rbgw_str_eq_cstr(m->key, "qclass")) {
            changed |= integer_words_as_numbers(a, m, false);
        }
    }
    return changed;
}

/*
 * The request the decoded call must encode to: the call's own request, but for what REST
 * cannot carry by construction (docs/rest-ingress.md §2.5, §3):
 *  - a parameter the ingress always sets to [] (feedEnts' nonterm: REST carries one empty
 *    nonterm[]= per ENT and no names): the request of the call with it emptied;
 *  - spaces and tabs around a header value are not part of it in HTTP (RFC 9110 5.5; llhttp
 *    and the ingress drop them): the request of the call with string header parameters
 *    trimmed of them;
 *  - a record group without members (or not an object) is written as nothing but its '&',
 *    which the ingress can only see as a group when a later group follows: the request of
 *    the call without its trailing memberless groups;
 *  - a value is written as it is when it is a string, but the ingress types it by its name
 *    (§2.4): a group's auth "true"/"false" comes back a bool, written 1/0; an integer's text
 *    in id, domain_id, zone-id, trxid, serial, key.flags or a group's ttl or qclass ("007",
 *    "-0", "5.000000", "3000000000") comes back the number, written as pdns prints numbers:
 *    the request of the call with those strings as the bools and numbers they stand for.
 */
static void
expected_request(const struct setting *s, struct rbgw_str call_text, struct rbgw_str req1,
                 struct rbgw_buf *want)
{
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_rpc_call c;
    char err[256];
    bool changed = false;
    FUZZ_CHECK(rbgw_rpc_decode(&a, call_text.p, call_text.len, &c, err, sizeof(err)) == 0,
               "the call no longer decodes");
    const struct rbgw_rest *rest = rest_row(&c);
    for (struct rbgw_json *m = c.params->child; m != NULL; m = m->next) {
        if (forced_empty(rest, m->key)) {
            changed |= m->type != RBGW_JSON_ARRAY || m->n > 0;
            m->type = RBGW_JSON_ARRAY;
            m->child = NULL;
            m->n = 0;
        }
        if (m->type == RBGW_JSON_ARRAY && field_param(rest, RBGW_PIECE_GROUPS, m->key)) {
            changed |= drop_trailing_memberless(m);
            for (struct rbgw_json *g = m->child; g != NULL; g = g->next) {
                changed |= group_words(&a, g);
            }
        }
        if (field_param(rest, RBGW_PIECE_GROUP, m->key)) {
            changed |= group_words(&a, m);
        }
        bool header = false;
        for (size_t i = 0; i < RBGW_REST_NHEADERS; i++) {
            header |= rbgw_str_eq_cstr(m->key, rbgw_rest_header_params[i]);
        }
        if (header && m->type == RBGW_JSON_STRING) {
            while (m->str.len > 0 && (m->str.p[0] == ' ' || m->str.p[0] == '\t')) {
                m->str.p++;
                m->str.len--;
                changed = true;
            }
            while (m->str.len > 0 &&
                   (m->str.p[m->str.len - 1] == ' ' || m->str.p[m->str.len - 1] == '\t')) {
                m->str.len--;
                changed = true;
            }
        }
        /* (an unknown method's components come back as strings, in "_segments") */
        bool frac = rbgw_str_eq_cstr(m->key, "trxid") || rbgw_str_eq_cstr(m->key, "serial");
        if (frac || rbgw_str_eq_cstr(m->key, "zone-id") ||
            (rest != NULL &&
             (rbgw_str_eq_cstr(m->key, "id") || rbgw_str_eq_cstr(m->key, "domain_id")))) {
            changed |= integer_words_as_numbers(&a, m, frac);
        }
        if (rbgw_str_eq_cstr(m->key, "key") && m->type == RBGW_JSON_OBJECT) {
            for (struct rbgw_json *k = m->child; k != NULL; k = k->next) {
                if (rbgw_str_eq_cstr(k->key, "flags")) {
                    changed |= integer_words_as_numbers(&a, k, false);
                }
            }
        }
    }
    if (changed) {
        FUZZ_CHECK(encode(s, c.method, c.params, call_text, want, err, sizeof(err)) == 0,
                   "%s: the call without what REST cannot carry does not encode: %s", s->name, err);
    } else {
        rbgw_buf_append(want, req1.p, req1.len);
    }
    rbgw_arena_free(&a);
}

static void
check_rest(const struct setting *s, struct rbgw_str call_text, struct rbgw_str req1,
           const struct decoded *d1, bool known)
{
    if (d1->rc != 0) {
        FUZZ_CHECK(d1->rc == RBGW_EPROTO && documented_loss(d1->err, s->dialect),
                   "%s: rbgw's own request does not decode: %s\ncall: %s\nrequest: %s", s->name,
                   d1->err, rbgw_fuzz_show_str(call_text), rbgw_fuzz_show_str(req1));
        return;
    }
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_rpc_call back;
    char err[256] = "";
    struct rbgw_str text1 = rbgw_buf_str(&d1->call);
    FUZZ_CHECK(rbgw_rpc_decode(&a, text1.p, text1.len, &back, err, sizeof(err)) == 0,
               "%s: the decoded call does not decode (%s): %s", s->name, err,
               rbgw_fuzz_show_str(text1));
    struct rbgw_buf req2 = RBGW_BUF_INIT, want = RBGW_BUF_INIT;
    int rc = encode(s, back.method, back.params, text1, &req2, err, sizeof(err));
    FUZZ_CHECK(rc == 0, "%s: the decoded call %s does not encode: %s", s->name,
               rbgw_fuzz_show_str(text1), err);
    expected_request(s, call_text, req1, &want);
    if (!known) {
        struct rbgw_buf spliced = RBGW_BUF_INIT;
        put_segments_back(rbgw_buf_str(&req2), s, rbgw_json_get(back.params, "_segments"),
                          &spliced);
        rbgw_buf_free(&req2);
        req2 = spliced;
    }
    FUZZ_CHECK(rbgw_str_eq(rbgw_buf_str(&req2), rbgw_buf_str(&want)),
               "%s: call %s came back as %s, which is sent as\n%s\nnot as\n%s", s->name,
               rbgw_fuzz_show_str(call_text), rbgw_fuzz_show_str(text1),
               rbgw_fuzz_show(req2.data, req2.len), rbgw_fuzz_show(want.data, want.len));
    if (known && s->dialect == 5 && !has_wide_number(back.params)) {
        struct decoded d2;
        decode(s, rbgw_buf_str(&req2), &d2);
        FUZZ_CHECK(d2.rc == 0 && rbgw_str_eq(rbgw_buf_str(&d2.call), text1),
                   "%s: not a fixed point: %s came back as %s (%s)", s->name,
                   rbgw_fuzz_show_str(text1), rbgw_fuzz_show(d2.call.data, d2.call.len), d2.err);
        rbgw_buf_free(&d2.call);
    }
    rbgw_buf_free(&req2);
    rbgw_buf_free(&want);
    rbgw_arena_free(&a);
}

static void
check_setting(const struct setting *s, const char *text, size_t size,
              const struct rbgw_rpc_call *call)
{
    struct rbgw_str raw = rbgw_str_make(text, size);
    struct rbgw_buf req = RBGW_BUF_INIT;
    char err[256] = "";
    int rc = encode(s, call->method, call->params, raw, &req, err, sizeof(err));
    if (rc != 0) {
        FUZZ_CHECK(rc == RBGW_EPROTO && req.len == 0, "%s: encoding failed with %d, output %s",
                   s->name, rc, rbgw_fuzz_show(req.data, req.len));
        FUZZ_CHECK(err[0] != '\0' && rbgw_fuzz_one_line(err, strlen(err)),
                   "%s: reason empty or not one line: %s", s->name,
                   rbgw_fuzz_show(err, strlen(err)));
        return;
    }
    struct decoded d;
    decode(s, rbgw_buf_str(&req), &d);
    struct rbgw_str out = rbgw_buf_str(&d.call);
    bool plain = plain_method(call->method);
    if (s->mode == RBGW_HTTP_POST_JSON) {
        struct rbgw_str want = raw;
        while (want.len && is_ws(want.p[0])) {
            want.p++;
            want.len--;
        }
        while (want.len && is_ws(want.p[want.len - 1])) {
            want.len--;
        }
        FUZZ_CHECK(d.rc == 0 && rbgw_str_eq(out, want), "post_json: %s came back as %s (%s)",
                   rbgw_fuzz_show_str(want), rbgw_fuzz_show_str(out), d.err);
    } else if (s->mode == RBGW_HTTP_POST && plain) {
        struct rbgw_buf want = RBGW_BUF_INIT;
        rbgw_buf_append_cstr(&want, "{\"method\": ");
        rbgw_json_write_string(&want, call->method.p, call->method.len);
        rbgw_buf_append_cstr(&want, ", \"parameters\": ");
        rbgw_json_write(&want, call->params);
        rbgw_buf_putc(&want, '}');
        FUZZ_CHECK(d.rc == 0 && rbgw_str_eq(out, rbgw_buf_str(&want)),
                   "post: %s came back as %s (%s)", rbgw_fuzz_show(want.data, want.len),
                   rbgw_fuzz_show_str(out), d.err);
        rbgw_buf_free(&want);
    } else if (s->mode == RBGW_HTTP_REST && plain) {
        if (components_exact(call) && (s->dialect != 4 || dialect4_decodable(call))) {
            check_rest(s, raw, rbgw_buf_str(&req), &d, rest_row(call) != NULL);
        }
    }
    rbgw_buf_free(&d.call);
    rbgw_buf_free(&req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_rpc_call call;
    char err[256];
    if (rbgw_rpc_decode(&a, text, size, &call, err, sizeof(err)) == 0) {
        for (size_t i = 0; i < RBGW_NELEM(settings); i++) {
            check_setting(&settings[i], text, size, &call);
        }
    }
    rbgw_arena_free(&a);
    return 0;
}

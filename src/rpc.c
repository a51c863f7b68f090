/*
 * rpc.c: the JSON-RPC envelope: decoding calls, vetting replies, building error replies.
 *
 * A reply reaches pdns only if pdns will accept it (docs/protocol.md §1.3): a JSON object with a
 * non-null "result".  Anything else would make pdns rebuild its connector (and kill a pipe
 * co-process), so rbgw turns it into {"result":false,"log":["rbgw: <why>"]} instead.
 *
 * Replies are passed through as the responder's bytes (key order, number forms, raw bytes and
 * extra keys survive); the only change is flattening to one line, which the pipe connector
 * needs.  Valid JSON can hold raw CR/LF only as whitespace between tokens (yajl rejects raw
 * control bytes inside strings), so replacing them with spaces never changes a value.
 *
 * The _limited variants read within max-json-depth and max-json-elements (json.h): a call or a
 * reply past them is RBGW_ETOOBIG, with a reason naming the key, and no tree is built beyond
 * the limit.  A call's envelope may name "method" and "parameters" once each (the peek asks
 * the scanner to refuse a second one; the decoder counts them); keys repeated inside
 * parameters, and in replies, keep their last value, as pdns's json11 reads them.
 */
#include <stdio.h>
#include <string.h>

#include "rbgw/jsonscan.h"
#include "rbgw/rpc.h"
#include "json_int.h"

static bool
is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static struct rbgw_str
trim(struct rbgw_str s)
{
    while (s.len && is_ws(s.p[0])) {
        s.p++;
        s.len--;
    }
    while (s.len && is_ws(s.p[s.len - 1])) {
        s.len--;
    }
    return s;
}

int
rbgw_rpc_decode(struct rbgw_arena *a, const char *text, size_t len, struct rbgw_rpc_call *out,
                char *err, size_t errlen)
{
    return rbgw_rpc_decode_limited(a, text, len, NULL, out, err, errlen);
}

int
rbgw_rpc_decode_limited(struct rbgw_arena *a, const char *text, size_t len,
                        const struct rbgw_json_limits *lim, struct rbgw_rpc_call *out, char *err,
                        size_t errlen)
{
    struct rbgw_json *root;
    char perr[160];
    int rc = lim ? rbgw_json_parse_limited(a, text, len, lim, &root, &out->over, perr, sizeof(perr))
                 : rbgw_json_parse(a, text, len, &root, perr, sizeof(perr));
    if (rc == RBGW_ETOOBIG) {
        snprintf(err, errlen, "request refused: %s", perr);
        return RBGW_ETOOBIG;
    }
    if (rc != 0) {
        snprintf(err, errlen, "request is not valid JSON: %s", perr);
        return RBGW_EPARSE;
    }
    if (root->type != RBGW_JSON_OBJECT) {
        snprintf(err, errlen, "request is not a JSON object");
        return RBGW_EPARSE;
    }
    /* One pass finds both members and counts them: the envelope's own members may appear once
     * (a call that names two methods, or gives two parameter objects, has no one meaning:
     * which one a reader keeps is up to the reader). */
    const struct rbgw_json *m = NULL, *p = NULL;
    size_t nm = 0, np = 0;
    for (const struct rbgw_json *c = root->child; c != NULL; c = c->next) {
        if (c->key.len == 6 && memcmp(c->key.p, "method", 6) == 0) {
            m = c;
            nm++;
        } else if (c->key.len == 10 && memcmp(c->key.p, "parameters", 10) == 0) {
            p = c;
            np++;
        }
    }
    if (nm > 1 || np > 1) {
        snprintf(err, errlen, "request has '%s' %zu times (it may appear once)",
                 nm > 1 ? "method" : "parameters", nm > 1 ? nm : np);
        return RBGW_EPARSE;
    }
    if (m == NULL || m->type != RBGW_JSON_STRING) {
        snprintf(err, errlen, "request has no string 'method'");
        return RBGW_EPARSE;
    }
    if (m->str.len == 0) {
        snprintf(err, errlen, "request has an empty 'method'");
        return RBGW_EPARSE;
    }
    if (p == NULL || p->type == RBGW_JSON_NULL) {
        p = rbgw_json_new(a, RBGW_JSON_OBJECT);
    } else if (p->type != RBGW_JSON_OBJECT) {
        snprintf(err, errlen, "request 'parameters' is not an object");
        return RBGW_EPARSE;
    }
    out->root = root;
    out->method = m->str;
    out->mid = rbgw_method_lookup(m->str);
    out->params = p;
    return 0;
}

/*
 * Replies are vetted without building a tree: a reply can be a whole zone (list), and all
 * that matters is that pdns will parse it and find a non-null "result" at the top level.
 */
struct vet {
    int depth;                /* current nesting */
    int max_depth;            /* nesting allowed */
    uint32_t values_left;     /* values the reply may still hold */
    enum rbgw_json_over over; /* the limit that stopped the parse, if one did */
    bool at_result;           /* the next value is the top-level "result" */
    bool has_result;          /* a top-level "result" was seen */
    bool result_null;         /* ... and it is null */
    bool result_false;        /* ... and it is false */
    bool top_object;          /* the document is an object */
    bool too_deep;            /* nesting over 200 */
    bool at_log;              /* the next value is the top-level "log" */
    yajl_handle h;            /* the parser, for byte offsets */
    size_t log_start;         /* offset of the top-level "log" array's '[' (the last one) */
    size_t log_end;           /* offset just after its ']'; 0 while none is complete */
    bool in_log;              /* inside that array (depth 2 is its level) */
};

/* One more value (the parser's order: rbgw_json_scan_limited counts the same way). */
static bool
vet_count(struct vet *v)
{
    if (v->values_left == 0) {
        v->over = RBGW_JSON_OVER_ELEMENTS;
        return false;
    }
    v->values_left--;
    return true;
}

static void
vet_value(struct vet *v, bool is_null)
{
    if (v->at_result) {
        v->has_result = true;
        v->result_null = is_null;
        v->result_false = false;
        v->at_result = false;
    }
    v->at_log = false;
}

static int
vet_null(void *ctx)
{
    vet_value(ctx, true);
    return vet_count(ctx);
}

static int
vet_bool(void *ctx, int b)
{
    struct vet *v = ctx;
    bool at_result = v->at_result;
    vet_value(v, false);
    if (at_result && !b) {
        v->result_false = true;
    }
    return vet_count(v);
}

static int
vet_number(void *ctx, const char *s, size_t l)
{
    RBGW_UNUSED(s);
    RBGW_UNUSED(l);
    vet_value(ctx, false);
    return vet_count(ctx);
}

static int
vet_string(void *ctx, const unsigned char *s, size_t l)
{
    RBGW_UNUSED(s);
    RBGW_UNUSED(l);
    vet_value(ctx, false);
    return vet_count(ctx);
}

static int
vet_open(void *ctx, bool object)
{
    struct vet *v = ctx;
    if (v->depth == 0) {
        v->top_object = object;
    }
    if (v->at_log && !object) {
        /* yajl has consumed the '[' */
        v->log_start = yajl_get_bytes_consumed(v->h) - 1;
        v->log_end = 0;
        v->in_log = true;
    }
    vet_value(v, false);
    if (++v->depth > v->max_depth) {
        v->too_deep = true;
        v->over = RBGW_JSON_OVER_DEPTH;
        return 0;
    }
    return vet_count(v);
}

static int
vet_start_map(void *ctx)
{
    return vet_open(ctx, true);
}

static int
vet_start_array(void *ctx)
{
    return vet_open(ctx, false);
}

static int
vet_end(void *ctx)
{
    struct vet *v = ctx;
    if (v->in_log && v->depth == 2) {
        v->log_end = yajl_get_bytes_consumed(v->h);
        v->in_log = false;
    }
    v->depth--;
    return 1;
}

static int
vet_key(void *ctx, const unsigned char *s, size_t l)
{
    struct vet *v = ctx;
    v->at_result = v->depth == 1 && l == 6 && memcmp(s, "result", 6) == 0;
    v->at_log = v->depth == 1 && l == 3 && memcmp(s, "log", 3) == 0;
    if (v->at_log) {
        v->log_end = 0; /* a repeated "log": only the last one counts, whatever its value */
    }
    return 1;
}

static const yajl_callbacks vet_callbacks = {
    .yajl_null = vet_null,
    .yajl_boolean = vet_bool,
    .yajl_number = vet_number,
    .yajl_string = vet_string,
    .yajl_start_map = vet_start_map,
    .yajl_map_key = vet_key,
    .yajl_end_map = vet_end,
    .yajl_start_array = vet_start_array,
    .yajl_end_array = vet_end,
};

/* A "log" value's text if it is a non-empty array, else empty. */
static struct rbgw_str
nonempty_array(struct rbgw_str v)
{
    if (v.len < 2 || v.p[0] != '[') {
        return RBGW_STR_NULL;
    }
    for (size_t i = 1; i < v.len; i++) {
        if (!is_ws(v.p[i])) {
            return v.p[i] == ']' ? RBGW_STR_NULL : v;
        }
    }
    return RBGW_STR_NULL;
}

/* What vetting a reply notes: its result, and its log lines. */
static const struct rbgw_jscan_watch reply_watch[] = {{"result", NULL}, {"log", NULL}};

/* The scan's verdict on an object reply it found valid, from found[] (reply_watch's members):
 * 0 and *v when its result is there and not null (pdns's rule), else -1 (the parser words the
 * refusal, or reads keys written with escapes). */
static int
vet_found(const struct rbgw_str *found, struct rbgw_rpc_vet *v)
{
    if (found[0].p == NULL || rbgw_str_eq_cstr(found[0], "null")) {
        return -1;
    }
    v->said_false = found[0].len == 5 && memcmp(found[0].p, "false", 5) == 0;
    v->log = found[1].p != NULL ? nonempty_array(found[1]) : RBGW_STR_NULL;
    return 0;
}

/*
 * Vet body as pdns will read it.  *said_false: its result is false (valid only on 0).  *log
 * (when not NULL) gets the text of its top-level "log" member when that is a non-empty array:
 * responder log lines to pass on.  Both are noted by the same pass that vets the reply, so a
 * reply without them costs one more key compare per top-level member.
 */
static int
vet_reply(struct rbgw_arena *a, struct rbgw_str body, const struct rbgw_json_limits *lim,
          enum rbgw_json_over *over, bool *said_false, struct rbgw_str *log, char *err,
          size_t errlen)
{
    /* The usual case, a good reply, is settled by the scanner; yajl runs only to explain a
     * refusal (or to read a key written with escapes).  The scan hands out the result's text,
     * which is all "did the responder say false" needs. */
    struct rbgw_str found[2];
    char top;
    struct rbgw_rpc_vet good;
    int scanned = rbgw_json_scan_limited(body.p, body.len, lim, reply_watch, 2, 0, found, &top);
    if (scanned == RBGW_JSCAN_OK && top == '{' && vet_found(found, &good) == 0) {
        *said_false = good.said_false;
        if (log) {
            *log = good.log;
        }
        return 0;
    }
    if (scanned == RBGW_JSCAN_TOO_DEEP || scanned == RBGW_JSCAN_TOO_MANY) {
        /* Over a limit, whatever follows: said as such, and the reply is never parsed. */
        char why[96];
        *over = scanned == RBGW_JSCAN_TOO_DEEP ? RBGW_JSON_OVER_DEPTH : RBGW_JSON_OVER_ELEMENTS;
        snprintf(err, errlen, "reply refused: %s",
                 rbgw_json_over_text(why, sizeof(why), *over, lim));
        return RBGW_ETOOBIG;
    }
    static const struct rbgw_json_limits json11 = {RBGW_JSON_MAX_DEPTH, UINT32_MAX};
    const struct rbgw_json_limits *vl = lim ? lim : &json11;
    struct vet v = {
        .max_depth = vl->max_depth < RBGW_JSON_MAX_DEPTH ? (int)vl->max_depth : RBGW_JSON_MAX_DEPTH,
        .values_left = vl->max_elements,
    };
    yajl_handle h = rbgw__yajl_alloc(&vet_callbacks, a, &v);
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return RBGW_EPARSE;
    }
    v.h = h;
    yajl_status st = yajl_parse(h, (const unsigned char *)body.p, body.len);
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
    }
    int rc = 0;
    if (st != yajl_status_ok || body.len == 0) {
        if (v.over != RBGW_JSON_OVER_NONE && lim != NULL) {
            char why[96];
            snprintf(err, errlen, "reply refused: %s",
                     rbgw_json_over_text(why, sizeof(why), v.over, lim));
            *over = v.over;
            yajl_free(h);
            return RBGW_ETOOBIG;
        }
        if (v.too_deep) {
            snprintf(err, errlen, "reply is not valid JSON: nesting deeper than 200 levels");
        } else if (body.len == 0) {
            snprintf(err, errlen, "reply is not valid JSON: empty input");
        } else {
            unsigned char *msg = yajl_get_error(h, 0, (const unsigned char *)body.p, body.len);
            const char *m = (const char *)msg;
            if (strncmp(m, "parse error: ", 13) == 0) {
                m += 13;
            }
            snprintf(err, errlen, "reply is not valid JSON: %.*s", (int)strcspn(m, "\r\n"), m);
            yajl_free_error(h, msg);
        }
        rc = RBGW_EPARSE;
    } else {
        const char *why = rbgw__json_stricter_than_yajl(body.p, body.len);
        if (why) {
            snprintf(err, errlen, "reply is not valid JSON: %s", why);
            rc = RBGW_EPARSE;
        } else if (!v.top_object) {
            snprintf(err, errlen, "reply is not a JSON object");
            rc = RBGW_EPARSE;
        } else if (!v.has_result) {
            snprintf(err, errlen, "reply has no 'result'");
            rc = RBGW_EPARSE;
        } else if (v.result_null) {
            snprintf(err, errlen, "reply has a null 'result'");
            rc = RBGW_EPARSE;
        }
    }
    if (rc == 0 && log && v.log_end > v.log_start) {
        *log = nonempty_array(rbgw_str_make(body.p + v.log_start, v.log_end - v.log_start));
    }
    yajl_free(h);
    *said_false = rc == 0 && v.result_false;
    return rc;
}

/* The "log" array of a JSON object body, for passing a failed reply's log lines on.  The tree
 * is built within the limits: a refused reply must not cost more than a good one. */
static const struct rbgw_json *
body_log(struct rbgw_arena *a, struct rbgw_str body, const struct rbgw_json_limits *lim)
{
    struct rbgw_json *root;
    char perr[8];
    int rc =
        lim ? rbgw_json_parse_limited(a, body.p, body.len, lim, &root, NULL, perr, sizeof(perr))
            : rbgw_json_parse(a, body.p, body.len, &root, perr, sizeof(perr));
    if (body.len && rc == 0) {
        const struct rbgw_json *l = rbgw_json_get(root, "log");
        if (l && l->type == RBGW_JSON_ARRAY) {
            return l;
        }
    }
    return NULL;
}

/* Append s to out as one line; *log, a view into s, moves to the same bytes in out. */
static void
append_one_line(struct rbgw_buf *out, struct rbgw_str s, struct rbgw_str *log)
{
    char *dst = rbgw_buf_reserve(out, s.len);
    if (log && log->p) {
        log->p = dst + (log->p - s.p);
    }
    memcpy(dst, s.p, s.len);
    /* Most replies are one line already: look for line breaks with memchr. */
    for (char *p = dst, *end = dst + s.len; (p = memchr(p, '\n', (size_t)(end - p))) != NULL;) {
        *p++ = ' ';
    }
    for (char *p = dst, *end = dst + s.len; (p = memchr(p, '\r', (size_t)(end - p))) != NULL;) {
        *p++ = ' ';
    }
    out->len += s.len;
    out->data[out->len] = '\0';
}

int
rbgw_rpc_check_reply(struct rbgw_arena *a, struct rbgw_str body, struct rbgw_buf *out,
                     bool *said_false, struct rbgw_str *log_text, char *err, size_t errlen)
{
    return rbgw_rpc_check_reply_limited(a, body, NULL, NULL, out, said_false, log_text, err,
                                        errlen);
}

int
rbgw_rpc_check_reply_limited(struct rbgw_arena *a, struct rbgw_str body,
                             const struct rbgw_json_limits *lim, enum rbgw_json_over *over,
                             struct rbgw_buf *out, bool *said_false, struct rbgw_str *log_text,
                             char *err, size_t errlen)
{
    enum rbgw_json_over o = RBGW_JSON_OVER_NONE;
    if (over == NULL) {
        over = &o;
    }
    *over = RBGW_JSON_OVER_NONE;
    if (log_text) {
        *log_text = RBGW_STR_NULL;
    }
    body = trim(body);
    bool is_false;
    int rc = vet_reply(a, body, lim, over, &is_false, log_text, err, errlen);
    if (rc != 0) {
        return rc;
    }
    if (said_false) {
        *said_false = is_false;
    }
    append_one_line(out, body, log_text);
    return 0;
}

int
rbgw_rpc_vet_frame(const char *text, size_t len, const struct rbgw_json_limits *lim,
                   struct rbgw_rpc_vet *v, size_t *start, size_t *end)
{
    /* vet_reply's fast path, on a prefix of the stream. */
    struct rbgw_str found[2];
    if (rbgw_json_scan_prefix(text, len, lim, reply_watch, 2, 0, found, start, end) !=
        RBGW_JSCAN_OK) {
        return -1;
    }
    return vet_found(found, v);
}

void
rbgw_rpc_reply_vetted(struct rbgw_str body, const struct rbgw_rpc_vet *v, struct rbgw_buf *out,
                      bool *said_false, struct rbgw_str *log_text)
{
    *log_text = v->log;
    append_one_line(out, body, log_text);
    *said_false = v->said_false;
}

int
rbgw_rpc_from_http(struct rbgw_arena *a, int status, struct rbgw_str body, struct rbgw_buf *out,
                   bool *said_false, struct rbgw_str *log_text, const struct rbgw_json **log,
                   char *err, size_t errlen)
{
    return rbgw_rpc_from_http_limited(a, status, body, NULL, NULL, out, said_false, log_text, log,
                                      err, errlen);
}

int
rbgw_rpc_from_http_limited(struct rbgw_arena *a, int status, struct rbgw_str body,
                           const struct rbgw_json_limits *lim, enum rbgw_json_over *over,
                           struct rbgw_buf *out, bool *said_false, struct rbgw_str *log_text,
                           const struct rbgw_json **log, char *err, size_t errlen)
{
    enum rbgw_json_over o = RBGW_JSON_OVER_NONE;
    if (over == NULL) {
        over = &o;
    }
    *over = RBGW_JSON_OVER_NONE;
    *log = NULL;
    bool is_false = false;
    if (said_false) {
        *said_false = false;
    }
    if (log_text) {
        *log_text = RBGW_STR_NULL;
    }
    body = trim(body);
    bool accepted = (status >= 200 && status <= 399) || status == 404;
    if (!accepted) {
        /* Not a reply pdns would take; keep the responder's own log lines if it sent any. */
        *log = body_log(a, body, lim);
        snprintf(err, errlen, "HTTP status %d", status);
        return RBGW_EPROTO;
    }
    if (body.len == 0) {
        if (status >= 200 && status <= 299) {
            /* The remote backend docs promise responders this works (pdns itself errors). */
            rbgw_buf_append(out, "{\"result\":true}", 15);
            return 0;
        }
        snprintf(err, errlen, "HTTP status %d with an empty body", status);
        return RBGW_EPROTO;
    }
    char verr[200];
    int rc = vet_reply(a, body, lim, over, &is_false, log_text, verr, sizeof(verr));
    if (rc == RBGW_ETOOBIG) {
        snprintf(err, errlen, "HTTP status %d, %s", status, verr);
        return RBGW_ETOOBIG;
    }
    if (rc != 0) {
        snprintf(err, errlen, "HTTP status %d, %s", status, verr);
        *log = body_log(a, body, lim);
        return RBGW_EPROTO;
    }
    append_one_line(out, body, log_text);
    if (said_false) {
        *said_false = is_false;
    }
    return 0;
}

void
rbgw_rpc_error_reply(struct rbgw_buf *out, const char *reason, const struct rbgw_json *extra)
{
    rbgw_buf_append_cstr(out, "{\"result\":false,\"log\":[");
    size_t rlen = strlen(reason);
    char *msg = rbgw_xmalloc(rlen + 7);
    memcpy(msg, "rbgw: ", 6);
    memcpy(msg + 6, reason, rlen + 1);
    rbgw_json_write_string(out, msg, rlen + 6);
    free(msg);
    if (extra && extra->type == RBGW_JSON_ARRAY) {
        for (const struct rbgw_json *c = extra->child; c; c = c->next) {
            rbgw_buf_putc(out, ',');
            rbgw_json_write(out, c);
        }
    }
    rbgw_buf_append(out, "]}", 2);
}

void
rbgw_rpc_initialize_call(struct rbgw_buf *out, const struct rbgw_connstr *cs)
{
    /* connstr keeps the options sorted byte-wise, as pdns's std::map does. */
    rbgw_buf_append_cstr(out, "{\"method\": \"initialize\", \"parameters\": {");
    for (size_t i = 0; i < cs->nopts; i++) {
        if (i) {
            rbgw_buf_append(out, ", ", 2);
        }
        rbgw_json_write_string(out, cs->opts[i].key, strlen(cs->opts[i].key));
        rbgw_buf_append(out, ": ", 2);
        rbgw_json_write_string(out, cs->opts[i].value, strlen(cs->opts[i].value));
    }
    rbgw_buf_append(out, "}}", 2);
}

/* ---- peek ---- */

static bool
is_plain_number(struct rbgw_str s)
{
    size_t i = s.len && s.p[0] == '-' ? 1 : 0;
    if (i == s.len) {
        return false;
    }
    for (; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9') {
            return false;
        }
    }
    return true;
}

int
rbgw_rpc_peek(const char *text, size_t len, struct rbgw_rpc_peek *out)
{
    return rbgw_rpc_peek_limited(text, len, NULL, out);
}

/* The watches of a peek: the envelope's members are unique (a second one ends the scan, and
 * the decoder explains). */
static const struct rbgw_jscan_watch peek_watch[] = {
    {"method", NULL},
    {"parameters", NULL},
    {"parameters", "trxid"},
};
#define PEEK_UNIQUE 0x3u

/* The rest of a peek once the scan found f[] (peek_watch's members) in a valid object. */
static int
peek_found(const struct rbgw_str *f, struct rbgw_rpc_peek *out)
{
    struct rbgw_str m = f[0], params = f[1];
    if (m.len < 3 || m.p[0] != '"' || memchr(m.p, '\\', m.len) != NULL) {
        return -1; /* no method, not a string, empty, or escaped: the decoder explains */
    }
    if (params.p != NULL && params.p[0] != '{' && !rbgw_str_eq_cstr(params, "null")) {
        return -1;
    }
    out->method = rbgw_str_make(m.p + 1, m.len - 2);
    out->mid = rbgw_method_lookup(out->method);
    out->params = params;
    if (is_plain_number(f[2])) {
        out->trxid = f[2];
    }
    return 0;
}

static void
peek_clear(struct rbgw_rpc_peek *out)
{
    out->method = RBGW_STR_NULL;
    out->mid = RBGW_M_UNKNOWN;
    out->trxid = RBGW_STR_NULL;
    out->params = RBGW_STR_NULL;
}

int
rbgw_rpc_peek_limited(const char *text, size_t len, const struct rbgw_json_limits *lim,
                      struct rbgw_rpc_peek *out)
{
    struct rbgw_str f[3];
    char top;
    peek_clear(out);
    if (rbgw_json_scan_limited(text, len, lim, peek_watch, 3, PEEK_UNIQUE, f, &top) !=
            RBGW_JSCAN_OK ||
        top != '{') {
        return -1;
    }
    return peek_found(f, out);
}

int
rbgw_rpc_peek_frame(const char *text, size_t len, const struct rbgw_json_limits *lim,
                    struct rbgw_rpc_peek *out, size_t *start, size_t *end)
{
    struct rbgw_str f[3];
    peek_clear(out);
    if (rbgw_json_scan_prefix(text, len, lim, peek_watch, 3, PEEK_UNIQUE, f, start, end) !=
        RBGW_JSCAN_OK) {
        return -1;
    }
    return peek_found(f, out);
}

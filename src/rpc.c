/*
 * rpc.c: the JSON-RPC envelope: decoding calls, vetting replies, building error replies.
 *
 * A reply reaches pdns only if pdns will accept it (protocol.md §1.3): a JSON object with a
 * non-null "result".  Anything else would make pdns rebuild its connector (and kill a pipe
 * co-process), so rbgw turns it into {"result":false,"log":["rbgw: <why>"]} instead.
 *
 * Replies are passed through as the responder's bytes (key order, number forms, raw bytes and
 * extra keys survive); the only change is flattening to one line, which the pipe connector
 * needs.  Valid JSON can hold raw CR/LF only as whitespace between tokens (yajl rejects raw
 * control bytes inside strings), so replacing them with spaces never changes a value.
 */
#include <stdio.h>
#include <string.h>

#include "rbgw/rpc.h"

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
    struct rbgw_json *root;
    char perr[160];
    if (rbgw_json_parse(a, text, len, &root, perr, sizeof(perr)) != 0) {
        snprintf(err, errlen, "request is not valid JSON: %s", perr);
        return RBGW_EPARSE;
    }
    if (root->type != RBGW_JSON_OBJECT) {
        snprintf(err, errlen, "request is not a JSON object");
        return RBGW_EPARSE;
    }
    const struct rbgw_json *m = rbgw_json_get(root, "method");
    if (m == NULL || m->type != RBGW_JSON_STRING) {
        snprintf(err, errlen, "request has no string 'method'");
        return RBGW_EPARSE;
    }
    if (m->str.len == 0) {
        snprintf(err, errlen, "request has an empty 'method'");
        return RBGW_EPARSE;
    }
    const struct rbgw_json *p = rbgw_json_get(root, "parameters");
    if (p == NULL || p->type == RBGW_JSON_NULL) {
        p = rbgw_json_new(a, RBGW_JSON_OBJECT);
    } else if (p->type != RBGW_JSON_OBJECT) {
        snprintf(err, errlen, "request 'parameters' is not an object");
        return RBGW_EPARSE;
    }
    out->root = root;
    out->method = m->str;
    out->params = p;
    return 0;
}

static int
vet_reply(struct rbgw_arena *a, struct rbgw_str body, const struct rbgw_json **root_out, char *err,
          size_t errlen)
{
    struct rbgw_json *root;
    char perr[160];
    if (rbgw_json_parse(a, body.p, body.len, &root, perr, sizeof(perr)) != 0) {
        snprintf(err, errlen, "reply is not valid JSON: %s", perr);
        return RBGW_EPARSE;
    }
    *root_out = root;
    if (root->type != RBGW_JSON_OBJECT) {
        snprintf(err, errlen, "reply is not a JSON object");
        return RBGW_EPARSE;
    }
    const struct rbgw_json *r = rbgw_json_get(root, "result");
    if (r == NULL) {
        snprintf(err, errlen, "reply has no 'result'");
        return RBGW_EPARSE;
    }
    if (r->type == RBGW_JSON_NULL) {
        snprintf(err, errlen, "reply has a null 'result'");
        return RBGW_EPARSE;
    }
    return 0;
}

static void
append_one_line(struct rbgw_buf *out, struct rbgw_str s)
{
    char *dst = rbgw_buf_reserve(out, s.len);
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        dst[i] = (c == '\n' || c == '\r') ? ' ' : c;
    }
    out->len += s.len;
    out->data[out->len] = '\0';
}

int
rbgw_rpc_check_reply(struct rbgw_arena *a, struct rbgw_str body, struct rbgw_buf *out, char *err,
                     size_t errlen)
{
    const struct rbgw_json *root = NULL;
    body = trim(body);
    int rc = vet_reply(a, body, &root, err, errlen);
    if (rc != 0) {
        return rc;
    }
    append_one_line(out, body);
    return 0;
}

int
rbgw_rpc_from_http(struct rbgw_arena *a, int status, struct rbgw_str body, struct rbgw_buf *out,
                   const struct rbgw_json **log, char *err, size_t errlen)
{
    *log = NULL;
    body = trim(body);
    bool accepted = (status >= 200 && status <= 399) || status == 404;
    if (!accepted) {
        /* Not a reply pdns would take; keep the responder's own log lines if it sent any. */
        struct rbgw_json *root;
        char perr[8];
        if (body.len && rbgw_json_parse(a, body.p, body.len, &root, perr, sizeof(perr)) == 0) {
            const struct rbgw_json *l = rbgw_json_get(root, "log");
            if (l && l->type == RBGW_JSON_ARRAY) {
                *log = l;
            }
        }
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
    const struct rbgw_json *root = NULL;
    char verr[200];
    if (vet_reply(a, body, &root, verr, sizeof(verr)) != 0) {
        snprintf(err, errlen, "HTTP status %d, %s", status, verr);
        if (root && root->type == RBGW_JSON_OBJECT) {
            const struct rbgw_json *l = rbgw_json_get(root, "log");
            if (l && l->type == RBGW_JSON_ARRAY) {
                *log = l;
            }
        }
        return RBGW_EPROTO;
    }
    append_one_line(out, body);
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

/*
 * fuzz_rest_in.c: REST ingress (xlate_in.c) on raw HTTP requests, as pdns's HTTP connector, or
 * anyone else, would send them to rbgw's HTTP listener.
 *
 * The input is the byte stream of one connection.  It is parsed the way listener/http.c parses
 * it (httpmsg.h: the listener itself needs a socket, so its collection is mirrored).  Every
 * complete message goes through rbgw_xlate_http_to_rpc under four listener configurations
 * (path /dns, /dns with url-suffix .php, no path, and /dns/).  Checks:
 *
 *  1. the messages do not depend on how the bytes arrive: the whole stream at once and one
 *     byte per read give the same verbs, targets, headers and bodies, and both or neither end
 *     in an error (which error may differ: a span can be handed out before a bad byte in it);
 *  2. a translation (with the smallest JSON limits a configuration allows: depth 8, 1000
 *     values) that fails returns RBGW_EPARSE, RBGW_EPROTO or RBGW_ETOOBIG (naming the limit)
 *     with a one-line printable reason, leaves the output untouched, and the false reply built
 *     from the reason is valid;
 *  3. a translation that succeeds clears the reason and appends one line of JSON:
 *     - post_json (POST to the prefix itself): the body, trimmed of JSON whitespace, unchanged,
 *       and it is a JSON object with a string "method";
 *     - otherwise: a call rbgw_rpc_decode accepts, already in json11 form (writing it again
 *       gives the same bytes).
 */
#include <string.h>

#include "fuzz.h"
#include "httpmsg.h"
#include "rbgw/rpc.h"
#include "rbgw/xlate_in.h"

static const struct rbgw_http_in_conf confs[] = {
    {RBGW_STR("/dns"), RBGW_STR("")},
    {RBGW_STR("/dns"), RBGW_STR(".php")},
    {RBGW_STR(""), RBGW_STR("")},
    {RBGW_STR("/dns/"), RBGW_STR("")},
};

static bool
is_json_ws(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static bool
printable(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) {
            return false;
        }
    }
    return true;
}

/* post_json is the mode for a POST whose path (before '?') is the prefix, or prefix + "/". */
static bool
is_post_json(const struct rbgw_http_in *in, const struct rbgw_http_in_conf *conf)
{
    struct rbgw_str path = in->target;
    const char *q = path.len ? memchr(path.p, '?', path.len) : NULL;
    if (q != NULL) {
        path.len = (size_t)(q - path.p);
    }
    if (!rbgw_str_eq_cstr(in->verb, "POST") || path.len < conf->prefix.len ||
        (conf->prefix.len && memcmp(path.p, conf->prefix.p, conf->prefix.len) != 0)) {
        return false;
    }
    size_t rest = path.len - conf->prefix.len;
    return rest == 0 || (rest == 1 && path.p[conf->prefix.len] == '/');
}

static void
check_call(const struct rbgw_http_in *in, const struct rbgw_http_in_conf *conf, struct rbgw_str out)
{
    if (is_post_json(in, conf)) {
        struct rbgw_str b = in->body;
        while (b.len && is_json_ws(b.p[0])) {
            b.p++;
            b.len--;
        }
        while (b.len && is_json_ws(b.p[b.len - 1])) {
            b.len--;
        }
        FUZZ_CHECK(rbgw_str_eq(out, b), "post_json: %s out of body %s", rbgw_fuzz_show_str(out),
                   rbgw_fuzz_show_str(in->body));
        struct rbgw_arena a = RBGW_ARENA_INIT;
        struct rbgw_json *root;
        char err[200];
        FUZZ_CHECK(rbgw_json_parse(&a, out.p, out.len, &root, err, sizeof(err)) == 0 &&
                       root->type == RBGW_JSON_OBJECT,
                   "post_json: the body is not a JSON object: %s", rbgw_fuzz_show_str(out));
        const struct rbgw_json *m = rbgw_json_get(root, "method");
        FUZZ_CHECK(m != NULL && m->type == RBGW_JSON_STRING, "post_json: no string method");
        rbgw_arena_free(&a);
        return;
    }
    FUZZ_CHECK(memchr(out.p, '\n', out.len) == NULL && memchr(out.p, '\r', out.len) == NULL,
               "call is not one line: %s", rbgw_fuzz_show_str(out));
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_rpc_call call;
    char err[256];
    int rc = rbgw_rpc_decode(&a, out.p, out.len, &call, err, sizeof(err));
    FUZZ_CHECK(rc == 0, "the call does not decode (%s): %s", err, rbgw_fuzz_show_str(out));
    struct rbgw_buf w = RBGW_BUF_INIT;
    rbgw_json_write(&w, call.root);
    FUZZ_CHECK(rbgw_str_eq(rbgw_buf_str(&w), out), "the call is not in json11 form: %s, not %s",
               rbgw_fuzz_show_str(out), rbgw_fuzz_show(w.data, w.len));
    rbgw_buf_free(&w);
    rbgw_arena_free(&a);
}

static void
translate(const struct rbgw_http_in *inp, void *ctx)
{
    RBGW_UNUSED(ctx);
    const struct rbgw_http_in in = *inp;
    for (size_t k = 0; k < RBGW_NELEM(confs); k++) {
        struct rbgw_arena a = RBGW_ARENA_INIT;
        struct rbgw_buf out = RBGW_BUF_INIT;
        char err[300] = "unset";
        rbgw_buf_append_cstr(&out, "prev");
        /* As the listener calls it, with the smallest JSON limits a configuration allows. */
        static const struct rbgw_json_limits lim = {8, 1000};
        enum rbgw_json_over over = RBGW_JSON_OVER_NONE;
        int rc =
            rbgw_xlate_http_to_rpc_limited(&confs[k], &in, &lim, &a, &out, &over, err, sizeof(err));
        if (rc == 0) {
            FUZZ_CHECK(err[0] == '\0', "success left a reason: %s", err);
            FUZZ_CHECK(out.len > 4 && memcmp(out.data, "prev", 4) == 0, "output replaced");
            check_call(&in, &confs[k], rbgw_str_make(out.data + 4, out.len - 4));
        } else {
            FUZZ_CHECK(rc == RBGW_EPARSE || rc == RBGW_EPROTO ||
                           (rc == RBGW_ETOOBIG && over != RBGW_JSON_OVER_NONE),
                       "returned %d (over %d)", rc, (int)over);
            FUZZ_CHECK(out.len == 4, "a failure touched the output: %s",
                       rbgw_fuzz_show(out.data, out.len));
            FUZZ_CHECK(err[0] != '\0' && printable(err), "reason empty or not printable: %s",
                       rbgw_fuzz_show(err, strlen(err)));
            rbgw_fuzz_check_error_reply(err, NULL);
        }
        rbgw_buf_free(&out);
        rbgw_arena_free(&a);
    }
}

static struct rbgw_fuzz_http whole, bytewise;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    rbgw_fuzz_http_parse(&whole, p, size, 0, translate, NULL);
    rbgw_fuzz_http_parse(&bytewise, p, size, 1, NULL, NULL);
    FUZZ_CHECK(rbgw_str_eq(rbgw_buf_str(&whole.log), rbgw_buf_str(&bytewise.log)),
               "parsed at once: %s; one byte per read: %s",
               rbgw_fuzz_show_str(rbgw_buf_str(&whole.log)),
               rbgw_fuzz_show_str(rbgw_buf_str(&bytewise.log)));
    rbgw_fuzz_http_free(&whole);
    rbgw_fuzz_http_free(&bytewise);
    return 0;
}

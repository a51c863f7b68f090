/*
 * fuzz_reply.c: vetting a responder's reply (rbgw_rpc_check_reply) before pdns sees it.
 *
 * A reply reaches pdns only if pdns will take it; anything else must become rbgw's own false
 * reply.  The verdict is compared with the project's parser:
 *
 *   accepted  <=>  rbgw_json_parse accepts the body, its value is an object, and that object's
 *                  (last) "result" member exists and is not null.
 *
 * Checks, for every body:
 *  1. the verdict above (the vetting runs the scanner first and yajl only to word a refusal
 *     or to read keys written with escapes, so this also covers the scanner-yajl agreement on
 *     replies, watched "result" and "log" included);
 *  2. accepted: exactly the body trimmed of JSON whitespace, CR and LF turned into spaces, is
 *     appended to what the output buffer held; it is one line and is accepted again as it is;
 *     *said_false is whether the tree's result is false; log_text is, within the appended
 *     line, the exact text of the tree's (last) top-level "log" when that is a non-empty
 *     array, and empty otherwise;
 *  3. refused: RBGW_EPARSE, the output buffer untouched, a one-line reason, and the false reply
 *     built from it is valid (rbgw_fuzz_check_error_reply);
 *  4. rbgw_rpc_from_http(200, body) agrees: the same verdict, output, said_false and log_text,
 *     except that a body empty after trimming is {"result":true} there.
 */
#include <string.h>

#include "fuzz.h"
#include "rbgw/rpc.h"

static bool
is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* What the tree says: accepted, and then whether result is false and the non-empty log. */
struct expect {
    bool ok;                 /* pdns takes it */
    bool said_false;         /* its result is false */
    struct rbgw_buf log;     /* json11 form of a non-empty top-level log array, or empty */
    struct rbgw_arena arena; /* the tree */
};

static void
reference(const char *text, size_t len, struct expect *e)
{
    struct rbgw_json *root;
    char err[200];
    memset(e, 0, sizeof(*e));
    if (rbgw_json_parse(&e->arena, text, len, &root, err, sizeof(err)) != 0 ||
        root->type != RBGW_JSON_OBJECT) {
        return;
    }
    const struct rbgw_json *r = rbgw_json_get(root, "result");
    const struct rbgw_json *l = rbgw_json_get(root, "log");
    e->ok = r != NULL && r->type != RBGW_JSON_NULL;
    e->said_false = e->ok && r->type == RBGW_JSON_FALSE;
    if (l != NULL && l->type == RBGW_JSON_ARRAY && l->n > 0) {
        rbgw_json_write(&e->log, l);
    }
}

/* log_text must lie within line and be the text of the expected log (or both empty). */
static void
check_log(const struct expect *e, struct rbgw_str line, struct rbgw_str log_text, const char *text,
          size_t len)
{
    if (e->log.len == 0) {
        FUZZ_CHECK(log_text.len == 0, "log_text %s, but the tree has no non-empty log: %s",
                   rbgw_fuzz_show_str(log_text), rbgw_fuzz_show(text, len));
        return;
    }
    FUZZ_CHECK(log_text.len > 0 && log_text.p >= line.p &&
                   log_text.p + log_text.len <= line.p + line.len,
               "log_text %s is not within the reply line: %s", rbgw_fuzz_show_str(log_text),
               rbgw_fuzz_show(text, len));
    struct rbgw_buf got = RBGW_BUF_INIT;
    FUZZ_CHECK(rbgw_fuzz_canon(log_text.p, log_text.len, &got) == 0 &&
                   rbgw_str_eq(rbgw_buf_str(&got), rbgw_buf_str(&e->log)),
               "log_text %s, the tree's log is %s: %s", rbgw_fuzz_show_str(log_text),
               rbgw_fuzz_show(e->log.data, e->log.len), rbgw_fuzz_show(text, len));
    rbgw_buf_free(&got);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct rbgw_str body = rbgw_str_make(text, size);
    struct expect e;
    reference(text, size, &e);

    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_buf out = RBGW_BUF_INIT;
    char err[256] = "";
    bool said_false = !e.said_false;
    struct rbgw_str log_text = RBGW_STR("unset");
    rbgw_buf_append_cstr(&out, "prev");
    int rc = rbgw_rpc_check_reply(&a, body, &out, &said_false, &log_text, err, sizeof(err));
    FUZZ_CHECK((rc == 0) == e.ok, "vetting %s (%s), the parser says %s: %s",
               rc == 0 ? "accepts" : "refuses", err, e.ok ? "acceptable" : "not acceptable",
               rbgw_fuzz_show(text, size));

    /* The expected one-line form. */
    size_t s = 0, end = size;
    while (s < end && is_ws(text[s])) {
        s++;
    }
    while (end > s && is_ws(text[end - 1])) {
        end--;
    }
    struct rbgw_buf flat = RBGW_BUF_INIT;
    rbgw_buf_append_cstr(&flat, "prev");
    for (size_t i = s; i < end; i++) {
        rbgw_buf_putc(&flat, text[i] == '\r' || text[i] == '\n' ? ' ' : text[i]);
    }

    if (rc == 0) {
        FUZZ_CHECK(out.len == flat.len && memcmp(out.data, flat.data, out.len) == 0,
                   "accepted reply written as %s, want %s", rbgw_fuzz_show(out.data, out.len),
                   rbgw_fuzz_show(flat.data, flat.len));
        FUZZ_CHECK(said_false == e.said_false, "said_false %d, the tree's result says %d: %s",
                   said_false, e.said_false, rbgw_fuzz_show(text, size));
        struct rbgw_str line = rbgw_str_make(out.data + 4, out.len - 4);
        check_log(&e, line, log_text, text, size);
        struct rbgw_buf again = RBGW_BUF_INIT;
        FUZZ_CHECK(rbgw_rpc_check_reply(&a, line, &again, NULL, NULL, err, sizeof(err)) == 0,
                   "the flattened reply is refused (%s): %s", err, rbgw_fuzz_show_str(line));
        FUZZ_CHECK(rbgw_str_eq(rbgw_buf_str(&again), line), "vetting the flat reply changed it");
        rbgw_buf_free(&again);
    } else {
        FUZZ_CHECK(rc == RBGW_EPARSE, "vetting returned %d", rc);
        FUZZ_CHECK(out.len == 4 && memcmp(out.data, "prev", 4) == 0, "refusal touched the output");
        FUZZ_CHECK(log_text.len == 0, "a refusal left log_text %s", rbgw_fuzz_show_str(log_text));
        FUZZ_CHECK(err[0] != '\0' && rbgw_fuzz_one_line(err, strlen(err)),
                   "reason empty or not one line: %s", rbgw_fuzz_show(err, strlen(err)));
        rbgw_fuzz_check_error_reply(err, NULL);
    }

    /* The HTTP upstream's path for a 200 response with this body. */
    struct rbgw_buf hout = RBGW_BUF_INIT;
    const struct rbgw_json *log = NULL;
    bool hfalse = true;
    struct rbgw_str hlog = RBGW_STR("unset");
    char herr[300] = "";
    rbgw_buf_append_cstr(&hout, "prev");
    int hrc = rbgw_rpc_from_http(&a, 200, body, &hout, &hfalse, &hlog, &log, herr, sizeof(herr));
    if (s == end) {
        FUZZ_CHECK(hrc == 0 && rbgw_str_eq(rbgw_buf_str(&hout), RBGW_STR("prev{\"result\":true}")),
                   "empty 200 body: rc %d, %s", hrc, rbgw_fuzz_show(hout.data, hout.len));
        FUZZ_CHECK(!hfalse && hlog.len == 0, "empty 200 body: said_false or log_text set");
    } else {
        FUZZ_CHECK((hrc == 0) == (rc == 0), "HTTP 200 path %s, vetting %s: %s",
                   hrc == 0 ? "accepts" : "refuses", rc == 0 ? "accepts" : "refuses",
                   rbgw_fuzz_show(text, size));
        if (hrc == 0) {
            FUZZ_CHECK(rbgw_str_eq(rbgw_buf_str(&hout), rbgw_buf_str(&flat)),
                       "HTTP 200 path wrote %s", rbgw_fuzz_show(hout.data, hout.len));
            FUZZ_CHECK(hfalse == e.said_false, "HTTP 200 path: said_false %d", hfalse);
            check_log(&e, rbgw_str_make(hout.data + 4, hout.len - 4), hlog, text, size);
        } else {
            FUZZ_CHECK(hrc == RBGW_EPROTO && hout.len == 4, "HTTP 200 path: rc %d, output %s", hrc,
                       rbgw_fuzz_show(hout.data, hout.len));
            FUZZ_CHECK(rbgw_fuzz_one_line(herr, strlen(herr)), "HTTP reason not one line");
            FUZZ_CHECK(log == NULL || log->type == RBGW_JSON_ARRAY, "log is not an array");
            rbgw_fuzz_check_error_reply(herr, log);
        }
    }
    rbgw_buf_free(&hout);
    rbgw_buf_free(&flat);
    rbgw_buf_free(&out);
    rbgw_buf_free(&e.log);
    rbgw_arena_free(&e.arena);
    rbgw_arena_free(&a);
    return 0;
}

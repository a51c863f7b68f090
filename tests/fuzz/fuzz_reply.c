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
 *  1. the verdict above (the vetting runs the scanner first and yajl only to word a refusal,
 *     so this also covers the scanner-yajl agreement on replies, watched "result" included);
 *  2. accepted: exactly the body trimmed of JSON whitespace, CR and LF turned into spaces, is
 *     appended to what the output buffer held; it is one line and is accepted again as it is;
 *  3. refused: RBGW_EPARSE, the output buffer untouched, a one-line reason, and the false reply
 *     built from it is valid (rbgw_fuzz_check_error_reply);
 *  4. rbgw_rpc_from_http(200, body) agrees: the same verdict and output, except that a body
 *     empty after trimming is {"result":true} there.
 */
#include <string.h>

#include "fuzz.h"
#include "rbgw/rpc.h"

static bool
is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
reference(const char *text, size_t len)
{
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_json *root;
    char err[200];
    bool ok = false;
    if (rbgw_json_parse(&a, text, len, &root, err, sizeof(err)) == 0 &&
        root->type == RBGW_JSON_OBJECT) {
        const struct rbgw_json *r = rbgw_json_get(root, "result");
        ok = r != NULL && r->type != RBGW_JSON_NULL;
    }
    rbgw_arena_free(&a);
    return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct rbgw_str body = rbgw_str_make(text, size);
    bool want = reference(text, size);

    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_buf out = RBGW_BUF_INIT;
    char err[256] = "";
    rbgw_buf_append_cstr(&out, "prev");
    int rc = rbgw_rpc_check_reply(&a, body, &out, err, sizeof(err));
    FUZZ_CHECK((rc == 0) == want, "vetting %s (%s), the parser says %s: %s",
               rc == 0 ? "accepts" : "refuses", err, want ? "acceptable" : "not acceptable",
               rbgw_fuzz_show(text, size));

    /* The expected one-line form. */
    size_t s = 0, e = size;
    while (s < e && is_ws(text[s])) {
        s++;
    }
    while (e > s && is_ws(text[e - 1])) {
        e--;
    }
    struct rbgw_buf flat = RBGW_BUF_INIT;
    rbgw_buf_append_cstr(&flat, "prev");
    for (size_t i = s; i < e; i++) {
        rbgw_buf_putc(&flat, text[i] == '\r' || text[i] == '\n' ? ' ' : text[i]);
    }

    if (rc == 0) {
        FUZZ_CHECK(out.len == flat.len && memcmp(out.data, flat.data, out.len) == 0,
                   "accepted reply written as %s, want %s", rbgw_fuzz_show(out.data, out.len),
                   rbgw_fuzz_show(flat.data, flat.len));
        struct rbgw_buf again = RBGW_BUF_INIT;
        struct rbgw_str line = rbgw_str_make(out.data + 4, out.len - 4);
        FUZZ_CHECK(rbgw_rpc_check_reply(&a, line, &again, err, sizeof(err)) == 0,
                   "the flattened reply is refused (%s): %s", err, rbgw_fuzz_show_str(line));
        FUZZ_CHECK(rbgw_str_eq(rbgw_buf_str(&again), line), "vetting the flat reply changed it");
        rbgw_buf_free(&again);
    } else {
        FUZZ_CHECK(rc == RBGW_EPARSE, "vetting returned %d", rc);
        FUZZ_CHECK(out.len == 4 && memcmp(out.data, "prev", 4) == 0, "refusal touched the output");
        FUZZ_CHECK(err[0] != '\0' && rbgw_fuzz_one_line(err, strlen(err)),
                   "reason empty or not one line: %s", rbgw_fuzz_show(err, strlen(err)));
        rbgw_fuzz_check_error_reply(err, NULL);
    }

    /* The HTTP upstream's path for a 200 response with this body. */
    struct rbgw_buf hout = RBGW_BUF_INIT;
    const struct rbgw_json *log = NULL;
    char herr[300] = "";
    rbgw_buf_append_cstr(&hout, "prev");
    int hrc = rbgw_rpc_from_http(&a, 200, body, &hout, &log, herr, sizeof(herr));
    if (s == e) {
        FUZZ_CHECK(hrc == 0 && rbgw_str_eq(rbgw_buf_str(&hout), RBGW_STR("prev{\"result\":true}")),
                   "empty 200 body: rc %d, %s", hrc, rbgw_fuzz_show(hout.data, hout.len));
    } else {
        FUZZ_CHECK((hrc == 0) == (rc == 0), "HTTP 200 path %s, vetting %s: %s",
                   hrc == 0 ? "accepts" : "refuses", rc == 0 ? "accepts" : "refuses",
                   rbgw_fuzz_show(text, size));
        if (hrc == 0) {
            FUZZ_CHECK(rbgw_str_eq(rbgw_buf_str(&hout), rbgw_buf_str(&flat)),
                       "HTTP 200 path wrote %s", rbgw_fuzz_show(hout.data, hout.len));
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
    rbgw_arena_free(&a);
    return 0;
}

/*
 * fuzz_call.c: decoding a call (rpc.c): what pdns, or anyone on a listener, sends rbgw.
 *
 * A call meets two readers: rbgw_rpc_peek (the fast path: a scan, no tree) decides routing for
 * almost every call, and rbgw_rpc_decode (a tree) for the rest and for translation.  Checks:
 *
 *  1. peek accepts  =>  decode accepts, with the same method bytes and the same method table
 *     row (rbgw_method_lookup of the name), and peek's trxid is the source text of
 *     parameters.trxid when decode's tree holds it as a number without fraction or exponent,
 *     else empty;
 *  2. decode accepts and peek refuses  =>  the text has an escape (peek leaves escaped keys and
 *     methods to the decoder); anything else would send a plain call down the slow path or,
 *     worse, route a call the decoder then refuses;
 *  3. a refusal has a one-line reason, and rbgw's false reply carrying it is valid JSON that
 *     pdns accepts (rbgw_fuzz_check_error_reply);
 *  4. what decode accepts survives json11 writing: the written text parses, decodes to the same
 *     method and writes again to the same bytes (the writer is a fixed point after one pass),
 *     and the scanner accepts it.
 */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "rbgw/jsonscan.h"
#include "rbgw/rpc.h"

/* An integer as JSON writes it: optional '-', digits only. */
static bool
plain_integer(struct rbgw_str s)
{
    size_t i = s.len > 0 && s.p[0] == '-' ? 1 : 0;
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

static void
check_written(const struct rbgw_rpc_call *call)
{
    struct rbgw_buf w1 = RBGW_BUF_INIT, w2 = RBGW_BUF_INIT;
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_rpc_call again;
    char err[256];
    rbgw_json_write(&w1, call->root);
    int rc = rbgw_rpc_decode(&a, w1.data, w1.len, &again, err, sizeof(err));
    FUZZ_CHECK(rc == 0, "the written call does not decode (%s): %s", err,
               rbgw_fuzz_show(w1.data, w1.len));
    FUZZ_CHECK(rbgw_str_eq(again.method, call->method), "written call's method %s, was %s",
               rbgw_fuzz_show_str(again.method), rbgw_fuzz_show_str(call->method));
    rbgw_json_write(&w2, again.root);
    FUZZ_CHECK(w1.len == w2.len && memcmp(w1.data, w2.data, w1.len) == 0,
               "json11 writing is not a fixed point: %s then %s", rbgw_fuzz_show(w1.data, w1.len),
               rbgw_fuzz_show(w2.data, w2.len));
    FUZZ_CHECK(rbgw_json_scan(w1.data, w1.len, NULL, 0, NULL, NULL) == RBGW_JSCAN_OK,
               "the scanner refuses written JSON: %s", rbgw_fuzz_show(w1.data, w1.len));
    rbgw_arena_free(&a);
    rbgw_buf_free(&w1);
    rbgw_buf_free(&w2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_rpc_call call;
    char err[256] = "";
    int drc = rbgw_rpc_decode(&a, text, size, &call, err, sizeof(err));
    struct rbgw_rpc_peek pk;
    int prc = rbgw_rpc_peek(text, size, &pk);

    if (prc == 0) {
        FUZZ_CHECK(drc == 0, "peek accepts a call decode refuses (%s): %s", err,
                   rbgw_fuzz_show(text, size));
        FUZZ_CHECK(rbgw_str_eq(pk.method, call.method), "peek's method %s, decode's %s",
                   rbgw_fuzz_show_str(pk.method), rbgw_fuzz_show_str(call.method));
        FUZZ_CHECK(pk.mid == call.mid && pk.mid == rbgw_method_lookup(call.method),
                   "peek's row %d, decode's %d, the table's %d for %s", (int)pk.mid, (int)call.mid,
                   (int)rbgw_method_lookup(call.method), rbgw_fuzz_show_str(call.method));
        const struct rbgw_json *t = rbgw_json_get(call.params, "trxid");
        struct rbgw_str want = t != NULL && t->type == RBGW_JSON_NUMBER && plain_integer(t->str)
                                   ? t->str
                                   : RBGW_STR_NULL;
        FUZZ_CHECK(rbgw_str_eq(pk.trxid, want), "peek's trxid %s, the tree's %s: %s",
                   rbgw_fuzz_show_str(pk.trxid), rbgw_fuzz_show_str(want),
                   rbgw_fuzz_show(text, size));
    } else {
        FUZZ_CHECK(pk.method.len == 0 && pk.trxid.len == 0, "peek refused but filled its output");
        FUZZ_CHECK(drc != 0 || memchr(text, '\\', size) != NULL,
                   "decode accepts a call without escapes that peek refuses: %s",
                   rbgw_fuzz_show(text, size));
    }

    if (drc != 0) {
        FUZZ_CHECK(drc == RBGW_EPARSE, "decode returned %d", drc);
        FUZZ_CHECK(err[0] != '\0' && rbgw_fuzz_one_line(err, strlen(err)),
                   "decode's reason is empty or not one line: %s",
                   rbgw_fuzz_show(err, strlen(err)));
        rbgw_fuzz_check_error_reply(err, NULL);
    } else {
        FUZZ_CHECK(call.method.len > 0, "decode accepted an empty method");
        FUZZ_CHECK(call.mid == rbgw_method_lookup(call.method), "decode's row %d for %s",
                   (int)call.mid, rbgw_fuzz_show_str(call.method));
        FUZZ_CHECK(call.params != NULL && call.params->type == RBGW_JSON_OBJECT,
                   "decode's parameters are not an object");
        check_written(&call);
    }
    rbgw_arena_free(&a);
    return 0;
}

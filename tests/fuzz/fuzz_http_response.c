/*
 * fuzz_http_response.c: an HTTP upstream's response, from the first byte to the reply pdns
 * gets (upstream/http.c + rbgw_rpc_from_http).
 *
 * upstream/http.c reads responses inside its connection object, on a socket, so its parse is
 * mirrored here step by step (as of this file): llhttp in response mode; the body appended
 * span by span and refused past max-reply-size (a small 1000 bytes here, so that path is
 * reached); the parser paused when the message completes; on the end of the connection,
 * llhttp_finish for a body delimited by the close.  The complete response's status and body
 * then go through rbgw_rpc_from_http, the pure function that decides what pdns gets.  Checks:
 *
 *  1. the outcome (complete, malformed, too big, cut short) and a complete response's status
 *     and body do not depend on how the bytes arrive: all at once or one byte per read;
 *  2. rbgw_rpc_from_http accepts exactly when pdns's HTTP connector would, leniently: status
 *     200-399 or 404, and a body that rbgw_rpc_check_reply accepts, or an empty body (after
 *     trimming) with a 2xx status, which becomes {"result":true};
 *  3. accepted: one line is appended, the body trimmed with CR and LF turned into spaces, and
 *     said_false and the log text agree with rbgw_rpc_check_reply's (fuzz_reply checks those
 *     against the parser);
 *  4. refused: RBGW_EPROTO, output untouched, a one-line reason, *log NULL or the body's "log"
 *     array, and rbgw's false reply with that log passed on is valid JSON pdns accepts.
 */
#include <string.h>

#include <llhttp.h>

#include "fuzz.h"
#include "rbgw/rpc.h"

#define MAX_REPLY 1000

enum outcome {
    OUT_COMPLETE,  /* a whole response */
    OUT_MALFORMED, /* llhttp refused it */
    OUT_TOO_BIG,   /* body past MAX_REPLY */
    OUT_CUT,       /* the connection ended inside the response */
};

struct resp {
    llhttp_t parser;      /* response parser */
    struct rbgw_buf body; /* response body */
    bool complete;        /* message complete */
    bool too_big;         /* body exceeded MAX_REPLY */
};

static int
on_body(llhttp_t *p, const char *at, size_t len)
{
    struct resp *r = p->data;
    if (r->body.len + len > MAX_REPLY) {
        r->too_big = true;
        return HPE_USER;
    }
    rbgw_buf_append(&r->body, at, len);
    return 0;
}

static int
on_message_complete(llhttp_t *p)
{
    struct resp *r = p->data;
    r->complete = true;
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* http.c's on_read and its end-of-connection branch, over p[0..len) in `chunk`-byte reads. */
static enum outcome
read_response(struct resp *r, const char *p, size_t len, size_t chunk)
{
    memset(r, 0, sizeof(*r));
    llhttp_init(&r->parser, HTTP_RESPONSE, &settings);
    r->parser.data = r;
    for (size_t fed = 0; fed < len;) {
        size_t n = len - fed < chunk ? len - fed : chunk;
        llhttp_errno_t e = llhttp_execute(&r->parser, p + fed, n);
        fed += n;
        if (e == HPE_PAUSED && r->complete) {
            return OUT_COMPLETE;
        }
        if (e != HPE_OK) {
            return r->too_big ? OUT_TOO_BIG : OUT_MALFORMED;
        }
    }
    if (len > 0) {
        llhttp_errno_t e = llhttp_finish(&r->parser);
        if ((e == HPE_OK || e == HPE_PAUSED) && r->complete) {
            return OUT_COMPLETE;
        }
    }
    return OUT_CUT;
}

static bool
is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void
check_reply(int status, struct rbgw_str body)
{
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_buf out = RBGW_BUF_INIT, vetted = RBGW_BUF_INIT;
    const struct rbgw_json *log = NULL;
    char err[300] = "", verr[256] = "";
    rbgw_buf_append_cstr(&out, "prev");
    bool said_false = false;
    struct rbgw_str log_text = RBGW_STR_NULL;
    int rc =
        rbgw_rpc_from_http(&a, status, body, &out, &said_false, &log_text, &log, err, sizeof(err));

    struct rbgw_str t = body;
    while (t.len && is_ws(t.p[0])) {
        t.p++;
        t.len--;
    }
    while (t.len && is_ws(t.p[t.len - 1])) {
        t.len--;
    }
    bool status_ok = (status >= 200 && status <= 399) || status == 404;
    bool empty_ok = t.len == 0 && status >= 200 && status <= 299;
    bool vfalse = false;
    struct rbgw_str vlog = RBGW_STR_NULL;
    bool body_ok =
        t.len > 0 && rbgw_rpc_check_reply(&a, t, &vetted, &vfalse, &vlog, verr, sizeof(verr)) == 0;
    bool want = status_ok && (empty_ok || body_ok);
    FUZZ_CHECK((rc == 0) == want, "status %d: rbgw_rpc_from_http %s (%s), want %s: %s", status,
               rc == 0 ? "accepts" : "refuses", err, want ? "accepted" : "refused",
               rbgw_fuzz_show_str(body));
    if (rc == 0) {
        struct rbgw_str got = rbgw_str_make(out.data + 4, out.len - 4);
        struct rbgw_str expect = empty_ok ? RBGW_STR("{\"result\":true}") : rbgw_buf_str(&vetted);
        FUZZ_CHECK(out.len >= 4 && memcmp(out.data, "prev", 4) == 0 && rbgw_str_eq(got, expect),
                   "status %d: reply %s, want %s", status, rbgw_fuzz_show_str(got),
                   rbgw_fuzz_show_str(expect));
        FUZZ_CHECK(memchr(got.p, '\n', got.len) == NULL && memchr(got.p, '\r', got.len) == NULL,
                   "reply is not one line");
        FUZZ_CHECK(said_false == (!empty_ok && vfalse) && log_text.len == (empty_ok ? 0 : vlog.len),
                   "status %d: said_false or log_text differ from the vetting's", status);
    } else {
        FUZZ_CHECK(rc == RBGW_EPROTO && out.len == 4, "status %d: rc %d, output %s", status, rc,
                   rbgw_fuzz_show(out.data, out.len));
        FUZZ_CHECK(err[0] != '\0' && rbgw_fuzz_one_line(err, strlen(err)),
                   "reason empty or not one line: %s", rbgw_fuzz_show(err, strlen(err)));
        FUZZ_CHECK(log == NULL || log->type == RBGW_JSON_ARRAY, "log is not an array");
        rbgw_fuzz_check_error_reply(err, log);
    }
    rbgw_buf_free(&vetted);
    rbgw_buf_free(&out);
    rbgw_arena_free(&a);
}

static struct resp whole, bytewise;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    enum outcome o1 = read_response(&whole, p, size, size ? size : 1);
    enum outcome o2 = read_response(&bytewise, p, size, 1);
    FUZZ_CHECK(o1 == o2, "outcome %d at once, %d one byte per read: %s", (int)o1, (int)o2,
               rbgw_fuzz_show(p, size));
    if (o1 == OUT_COMPLETE) {
        FUZZ_CHECK(whole.parser.status_code == bytewise.parser.status_code &&
                       rbgw_str_eq(rbgw_buf_str(&whole.body), rbgw_buf_str(&bytewise.body)),
                   "status or body differ by read size: %s", rbgw_fuzz_show(p, size));
        check_reply(whole.parser.status_code, rbgw_buf_str(&whole.body));
    }
    rbgw_buf_free(&whole.body);
    rbgw_buf_free(&bytewise.body);
    return 0;
}

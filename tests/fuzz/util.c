/*
 * util.c: the helpers of fuzz.h, shared by every fuzz target and its replay program.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "rbgw/rpc.h"

const char *rbgw_fuzz_input_name;

void
rbgw_fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fuzz check failed: %s:%d: %s: ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (rbgw_fuzz_input_name != NULL) {
        fprintf(stderr, "input: %s\n", rbgw_fuzz_input_name);
    }
    fflush(stderr);
    abort();
}

const char *
rbgw_fuzz_show(const void *p, size_t n)
{
    static char bufs[4][2048];
    static unsigned k;
    char *o = bufs[k++ & 3];
    const unsigned char *u = p;
    size_t j = 0, i;
    if (p == NULL) {
        return "(null)";
    }
    for (i = 0; i < n && i < 400; i++) {
        if (u[i] >= 0x20 && u[i] < 0x7f && u[i] != '\\') {
            o[j++] = (char)u[i];
        } else {
            j += (size_t)snprintf(o + j, 5, "\\x%02x", u[i]);
        }
    }
    if (i < n) {
        j += (size_t)snprintf(o + j, 32, "... (%zu bytes)", n);
    }
    o[j] = '\0';
    return o;
}

const char *
rbgw_fuzz_show_str(struct rbgw_str s)
{
    return rbgw_fuzz_show(s.p, s.len);
}

int
rbgw_fuzz_canon(const char *text, size_t len, struct rbgw_buf *out)
{
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_json *root;
    char err[200];
    int rc = -1;
    if (rbgw_json_parse(&a, text, len, &root, err, sizeof(err)) == 0) {
        rbgw_json_write(out, root);
        rc = 0;
    }
    rbgw_arena_free(&a);
    return rc;
}

bool
rbgw_fuzz_one_line(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return false;
        }
    }
    return true;
}

void
rbgw_fuzz_check_error_reply(const char *reason, const struct rbgw_json *extra)
{
    struct rbgw_buf out = RBGW_BUF_INIT;
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_json *root;
    char err[200];
    rbgw_rpc_error_reply(&out, reason, extra);
    FUZZ_CHECK(memchr(out.data, '\n', out.len) == NULL && memchr(out.data, '\r', out.len) == NULL,
               "error reply spans lines: %s", rbgw_fuzz_show(out.data, out.len));
    int rc = rbgw_json_parse(&a, out.data, out.len, &root, err, sizeof(err));
    FUZZ_CHECK(rc == 0, "error reply is not JSON (%s): %s", err, rbgw_fuzz_show(out.data, out.len));
    const struct rbgw_json *res = rbgw_json_get(root, "result");
    const struct rbgw_json *log = rbgw_json_get(root, "log");
    FUZZ_CHECK(res != NULL && res->type == RBGW_JSON_FALSE, "error reply result: %s",
               rbgw_fuzz_show(out.data, out.len));
    FUZZ_CHECK(log != NULL && log->type == RBGW_JSON_ARRAY && log->child != NULL &&
                   log->child->type == RBGW_JSON_STRING,
               "error reply log: %s", rbgw_fuzz_show(out.data, out.len));
    size_t rlen = strlen(reason);
    FUZZ_CHECK(log->child->str.len == rlen + 6 && memcmp(log->child->str.p, "rbgw: ", 6) == 0 &&
                   memcmp(log->child->str.p + 6, reason, rlen) == 0,
               "error reply log[0] %s for reason %s",
               rbgw_fuzz_show(log->child->str.p, log->child->str.len),
               rbgw_fuzz_show(reason, rlen));
    size_t want = 1 + (extra != NULL && extra->type == RBGW_JSON_ARRAY ? extra->n : 0);
    FUZZ_CHECK(log->n == want, "error reply log has %zu lines, want %zu", log->n, want);
    if (want > 1) {
        /* The extra lines are copied as they are: compare their json11 forms one by one. */
        struct rbgw_buf x = RBGW_BUF_INIT, y = RBGW_BUF_INIT;
        const struct rbgw_json *e = extra->child;
        for (const struct rbgw_json *c = log->child->next; c != NULL; c = c->next, e = e->next) {
            rbgw_buf_reset(&x);
            rbgw_buf_reset(&y);
            rbgw_json_write(&x, c);
            rbgw_json_write(&y, e);
            FUZZ_CHECK(x.len == y.len && memcmp(x.data, y.data, x.len) == 0,
                       "error reply log line %s, want %s", rbgw_fuzz_show(x.data, x.len),
                       rbgw_fuzz_show(y.data, y.len));
        }
        rbgw_buf_free(&x);
        rbgw_buf_free(&y);
    }
    rbgw_arena_free(&a);
    rbgw_buf_free(&out);
}

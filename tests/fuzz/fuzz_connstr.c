/*
 * fuzz_connstr.c: connection strings (connstr.c) and the URLs and addresses inside them
 * (url.c): what a user writes in listen=, upstream=, pool= and route=.
 *
 * The input is one string (up to its first NUL byte, as it would arrive from a file or argv).
 * Checks:
 *
 *  1. rbgw_connstr_parse and rbgw_connstr_parse_named agree where they overlap: a string the
 *     first accepts, the second accepts with the same type, transport and options;
 *  2. a parsed string has its options sorted strictly by key bytes (unique keys, the order
 *     initialize sends them in), and writing them back as TYPE:k=v,... parses to the same
 *     options (the parse is a fixed point);
 *  3. the initialize call built from the options is a JSON call with method "initialize" whose
 *     parameters are exactly the options, as strings;
 *  4. every integer option rbgw reads either gives a value within its bounds or fails with a
 *     one-line reason;
 *  5. url= (and the whole input) through rbgw_url_parse, address= (and the whole input)
 *     through rbgw_hostport_parse: success gives a non-empty host without brackets, a port in
 *     1..65535 (80 by default for URLs), a path that is empty or starts with '/' (always
 *     empty for addresses), and host:port or [host]:port; failure gives a reason and a zeroed
 *     result.
 */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "rbgw/config.h"
#include "rbgw/connstr.h"
#include "rbgw/rpc.h"
#include "rbgw/url.h"

static void
same_options(const struct rbgw_connstr *x, const struct rbgw_connstr *y, const char *what)
{
    FUZZ_CHECK(x->nopts == y->nopts, "%s: %zu options, then %zu", what, x->nopts, y->nopts);
    for (size_t i = 0; i < x->nopts; i++) {
        FUZZ_CHECK(strcmp(x->opts[i].key, y->opts[i].key) == 0 &&
                       strcmp(x->opts[i].value, y->opts[i].value) == 0,
                   "%s: option %zu is %s=%s, then %s=%s", what, i, x->opts[i].key, x->opts[i].value,
                   y->opts[i].key, y->opts[i].value);
    }
}

static void
check_initialize(const struct rbgw_connstr *cs)
{
    struct rbgw_buf out = RBGW_BUF_INIT;
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_rpc_call call;
    char err[256];
    rbgw_rpc_initialize_call(&out, cs);
    FUZZ_CHECK(rbgw_rpc_decode(&a, out.data, out.len, &call, err, sizeof(err)) == 0,
               "initialize is not a call (%s): %s", err, rbgw_fuzz_show(out.data, out.len));
    FUZZ_CHECK(rbgw_str_eq_cstr(call.method, "initialize"), "initialize's method");
    FUZZ_CHECK(call.params->n == cs->nopts, "initialize has %zu parameters for %zu options",
               call.params->n, cs->nopts);
    size_t i = 0;
    for (const struct rbgw_json *p = call.params->child; p != NULL; p = p->next, i++) {
        const struct rbgw_connstr_opt *o = &cs->opts[i];
        FUZZ_CHECK(rbgw_str_eq_cstr(p->key, o->key) && p->type == RBGW_JSON_STRING &&
                       rbgw_str_eq_cstr(p->str, o->value),
                   "initialize parameter %zu is %s, option %s=%s", i, rbgw_fuzz_show_str(p->key),
                   o->key, o->value);
    }
    rbgw_arena_free(&a);
    rbgw_buf_free(&out);
}

static void
check_ints(const struct rbgw_connstr *cs)
{
    long v;
    char err[256];
#define CHECK_INT(name, def, min, max, help)                                                       \
    err[0] = '\0';                                                                                 \
    if (rbgw_connstr_get_int(cs, name, def, min, max, &v, err, sizeof(err)) == 0) {                \
        FUZZ_CHECK(v >= (min) && v <= (max), "%s=%ld out of bounds", name, v);                     \
    } else {                                                                                       \
        FUZZ_CHECK(err[0] != '\0', "%s: no reason", name);                                         \
    }
    RBGW_UPSTREAM_INT_OPTS(CHECK_INT)
#undef CHECK_INT
    (void)rbgw_connstr_get_bool(cs, "post", false);
}

static void
check_url(const char *s, bool address)
{
    struct rbgw_url u;
    char err[256] = "";
    int rc = address ? rbgw_hostport_parse(s, &u, err, sizeof(err))
                     : rbgw_url_parse(s, &u, err, sizeof(err));
    if (rc != 0) {
        FUZZ_CHECK(rc == RBGW_ECONFIG && err[0] != '\0', "no reason for %s",
                   rbgw_fuzz_show(s, strlen(s)));
        FUZZ_CHECK(u.host == NULL && u.path == NULL && u.hostport == NULL && u.port == 0,
                   "failed parse left a result");
        return;
    }
    FUZZ_CHECK(u.host != NULL && u.host[0] != '\0' && strpbrk(u.host, "[]") == NULL,
               "host %s of %s", u.host ? u.host : "(null)", s);
    FUZZ_CHECK(u.port >= 1, "port 0 from %s", s);
    FUZZ_CHECK(u.path != NULL && (u.path[0] == '\0' || u.path[0] == '/') &&
                   (!address || u.path[0] == '\0'),
               "path %s of %s", u.path ? u.path : "(null)", s);
    char want[600];
    snprintf(want, sizeof(want), strchr(u.host, ':') ? "[%s]:%u" : "%s:%u", u.host,
             (unsigned)u.port);
    FUZZ_CHECK(strcmp(u.hostport, want) == 0, "hostport %s, want %s", u.hostport, want);
    rbgw_url_free(&u);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) {
        return 0;
    }
    char *s = rbgw_xstrndup((const char *)data, size);
    struct rbgw_connstr cs, named, again;
    char err[256] = "", nerr[256] = "";
    int rc = rbgw_connstr_parse(s, &cs, err, sizeof(err));
    int nrc = rbgw_connstr_parse_named(s, &named, nerr, sizeof(nerr));
    if (rc != 0) {
        FUZZ_CHECK(rc == RBGW_ECONFIG && err[0] != '\0', "parse failed without a reason");
        FUZZ_CHECK(cs.opts == NULL && cs.type == NULL && cs.nopts == 0, "failed parse left data");
    }
    if (nrc != 0) {
        FUZZ_CHECK(rc != 0 && err[0] != '\0', "named parse refused what parse accepts: %s", s);
    }
    if (rc == 0) {
        FUZZ_CHECK(nrc == 0 && named.transport == cs.transport && strcmp(named.type, cs.type) == 0,
                   "named parse differs: %s", s);
        FUZZ_CHECK(cs.transport != RBGW_TRANSPORT_NONE, "transport none from parse");
        same_options(&cs, &named, "parse vs named");
    }
    if (nrc == 0) {
        for (size_t i = 1; i < named.nopts; i++) {
            FUZZ_CHECK(strcmp(named.opts[i - 1].key, named.opts[i].key) < 0,
                       "options not strictly sorted: %s before %s", named.opts[i - 1].key,
                       named.opts[i].key);
        }
        struct rbgw_buf w = RBGW_BUF_INIT;
        rbgw_buf_append_cstr(&w, named.type);
        rbgw_buf_putc(&w, ':');
        for (size_t i = 0; i < named.nopts; i++) {
            rbgw_buf_printf(&w, "%s%s=%s", i ? "," : "", named.opts[i].key, named.opts[i].value);
        }
        FUZZ_CHECK(rbgw_connstr_parse_named(w.data, &again, err, sizeof(err)) == 0,
                   "written back, %s does not parse: %s", w.data, err);
        same_options(&named, &again, "written back");
        rbgw_connstr_free(&again);
        rbgw_buf_free(&w);
        check_initialize(&named);
        check_ints(&named);
        const char *url = rbgw_connstr_get(&named, "url");
        const char *address = rbgw_connstr_get(&named, "address");
        if (url != NULL) {
            check_url(url, false);
        }
        if (address != NULL) {
            check_url(address, true);
        }
    }
    check_url(s, false);
    check_url(s, true);
    if (rc == 0) {
        rbgw_connstr_free(&cs);
    }
    if (nrc == 0) {
        rbgw_connstr_free(&named);
    }
    free(s);
    return 0;
}

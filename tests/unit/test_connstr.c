/*
 * test_connstr.c: pdns connection-string parsing (docs/protocol.md §2), table-driven.
 *
 * Each row gives the input and either the expected options rendered as "{key}={value}|..."
 * in the order the parser keeps them (byte-wise by key), or the exact error text.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rbgw/buf.h"
#include "rbgw/connstr.h"

/* "{k}={v}|{k}={v}" in stored order; braces make leading/trailing spaces visible. */
static void
render(const struct rbgw_connstr *cs, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < cs->nopts && n < outlen; i++) {
        n += (size_t)snprintf(out + n, outlen - n, "%s{%s}={%s}", i ? "|" : "", cs->opts[i].key,
                              cs->opts[i].value);
    }
}

struct parse_row {
    const char *in;
    int rc;                        /* 0 or RBGW_ECONFIG */
    enum rbgw_transport transport; /* when rc == 0 */
    const char *type;              /* when rc == 0: type as written */
    const char *opts;              /* when rc == 0: render() output */
    const char *err;               /* when rc != 0: exact message */
};

static const struct parse_row parse_rows[] = {
    /* the §2 / §3.1 wire example */
    {"pipe:command=/x/resp  a  b,timeout=2000,foo=bar=baz,flag, sp ace=1", 0, RBGW_TRANSPORT_PIPE,
     "pipe",
     "{ sp ace}={1}|{command}={/x/resp  a  b}|{flag}={yes}|{foo}={bar=baz}|{timeout}={2000}", NULL},
    {"pipe", 0, RBGW_TRANSPORT_PIPE, "pipe", "", NULL},
    {"pipe:", 0, RBGW_TRANSPORT_PIPE, "pipe", "", NULL},
    {"unix:path=/s", 0, RBGW_TRANSPORT_UNIX, "unix", "{path}={/s}", NULL},
    {"http:url=http://a:8080/b,post,post_json=no", 0, RBGW_TRANSPORT_HTTP, "http",
     "{post}={yes}|{post_json}={no}|{url}={http://a:8080/b}", NULL},
    {"zeromq:endpoint=ipc:///tmp/x", 0, RBGW_TRANSPORT_ZEROMQ, "zeromq",
     "{endpoint}={ipc:///tmp/x}", NULL},
    {"zmq:endpoint=tcp://127.0.0.1:5555", 0, RBGW_TRANSPORT_ZEROMQ, "zmq",
     "{endpoint}={tcp://127.0.0.1:5555}", NULL},
    /* empty and space-only tokens are dropped */
    {"unix:,,path=/s,  ,,", 0, RBGW_TRANSPORT_UNIX, "unix", "{path}={/s}", NULL},
    {"pipe:command=/x,", 0, RBGW_TRANSPORT_PIPE, "pipe", "{command}={/x}", NULL},
    /* nothing is trimmed */
    {"pipe: a = b ", 0, RBGW_TRANSPORT_PIPE, "pipe", "{ a }={ b }", NULL},
    /* a repeated key keeps its last value */
    {"unix:path=/a,timeout=1,path=/b,path=/c", 0, RBGW_TRANSPORT_UNIX, "unix",
     "{path}={/c}|{timeout}={1}", NULL},
    {"pipe:flag=no,flag", 0, RBGW_TRANSPORT_PIPE, "pipe", "{flag}={yes}", NULL},
    /* empty key and empty value, as pdns keeps them */
    {"pipe:=x,a=", 0, RBGW_TRANSPORT_PIPE, "pipe", "{}={x}|{a}={}", NULL},
    /* byte-wise order: uppercase before lowercase, prefix first, ' ' before letters */
    {"pipe:b=2,a=1,B=3,ab=4,a b=5", 0, RBGW_TRANSPORT_PIPE, "pipe",
     "{B}={3}|{a}={1}|{a b}={5}|{ab}={4}|{b}={2}", NULL},
    /* bytes >= 0x80 sort after ASCII (unsigned comparison) */
    {"pipe:\xc3\xa9=1,z=2", 0, RBGW_TRANSPORT_PIPE, "pipe", "{z}={2}|{\xc3\xa9}={1}", NULL},
    /* only the first ':' separates the type */
    {"pipe:command=/bin/x a:b", 0, RBGW_TRANSPORT_PIPE, "pipe", "{command}={/bin/x a:b}", NULL},

    {"", RBGW_ECONFIG, 0, NULL, NULL,
     "empty connection string (expected TYPE:OPTIONS, e.g. pipe:command=/path/to/responder)"},
    {":path=/x", RBGW_ECONFIG, 0, NULL, NULL,
     "missing connector type before ':' (expected pipe, unix, http or zeromq)"},
    {"tcp:host=x", RBGW_ECONFIG, 0, NULL, NULL,
     "unknown connector type 'tcp' (expected pipe, unix, http or zeromq)"},
    {"PIPE:command=/x", RBGW_ECONFIG, 0, NULL, NULL,
     "unknown connector type 'PIPE' (expected pipe, unix, http or zeromq)"},
    {" pipe:command=/x", RBGW_ECONFIG, 0, NULL, NULL,
     "unknown connector type ' pipe' (expected pipe, unix, http or zeromq)"},
    {"pipes", RBGW_ECONFIG, 0, NULL, NULL,
     "unknown connector type 'pipes' (expected pipe, unix, http or zeromq)"},
    {"https:url=x", RBGW_ECONFIG, 0, NULL, NULL,
     "unknown connector type 'https' (expected pipe, unix, http or zeromq)"},
};

Test(connstr, parse_table)
{
    for (size_t i = 0; i < sizeof(parse_rows) / sizeof(parse_rows[0]); i++) {
        const struct parse_row *r = &parse_rows[i];
        struct rbgw_connstr cs;
        char err[256] = "";
        char got[512];
        int rc = rbgw_connstr_parse(r->in, &cs, err, sizeof(err));
        cr_expect_eq(rc, r->rc, "row %zu '%s': rc %d, want %d (err: %s)", i, r->in, rc, r->rc, err);
        if (rc != r->rc) {
            rbgw_connstr_free(&cs);
            continue;
        }
        if (rc == 0) {
            render(&cs, got, sizeof(got));
            cr_expect_eq(cs.transport, r->transport, "row %zu '%s': transport", i, r->in);
            cr_expect_str_eq(cs.type, r->type, "row %zu '%s': type", i, r->in);
            cr_expect_str_eq(got, r->opts, "row %zu '%s': options", i, r->in);
        } else {
            cr_expect_str_eq(err, r->err, "row %zu '%s': error text", i, r->in);
            cr_expect_null(cs.type, "row %zu: type left empty on error", i);
            cr_expect_eq(cs.nopts, 0, "row %zu: no options on error", i);
        }
        rbgw_connstr_free(&cs);
    }
}

Test(connstr, get_looks_up_exact_keys)
{
    struct rbgw_connstr cs;
    char err[128];
    cr_assert_eq(rbgw_connstr_parse("pipe:command=/x, sp=1,a=,flag", &cs, err, sizeof(err)), 0);
    cr_expect_str_eq(rbgw_connstr_get(&cs, "command"), "/x");
    cr_expect_str_eq(rbgw_connstr_get(&cs, " sp"), "1");
    cr_expect_null(rbgw_connstr_get(&cs, "sp"), "keys are not trimmed");
    cr_expect_str_eq(rbgw_connstr_get(&cs, "a"), "");
    cr_expect_str_eq(rbgw_connstr_get(&cs, "flag"), "yes");
    cr_expect_null(rbgw_connstr_get(&cs, "Command"), "keys are case-sensitive");
    cr_expect_null(rbgw_connstr_get(&cs, "zzz"));
    rbgw_connstr_free(&cs);
    cr_expect_null(cs.opts, "free zeroes the struct");
    cr_expect_eq(cs.nopts, 0);
    rbgw_connstr_free(&cs); /* a freed (zeroed) struct can be freed again */
}

/* A repeated key: get() sees the last value (pdns), get_nth() every value in order. */
Test(connstr, repeated_key_keeps_every_value_in_order)
{
    struct rbgw_connstr cs;
    char err[128];
    cr_assert_eq(
        rbgw_connstr_parse("http:header=A: 1,url=u,header=B: 2,header=C: 3", &cs, err, sizeof(err)),
        0);
    cr_expect_str_eq(rbgw_connstr_get(&cs, "header"), "C: 3");
    cr_expect_eq(rbgw_connstr_count(&cs, "header"), 3);
    cr_expect_str_eq(rbgw_connstr_get_nth(&cs, "header", 0), "A: 1");
    cr_expect_str_eq(rbgw_connstr_get_nth(&cs, "header", 1), "B: 2");
    cr_expect_str_eq(rbgw_connstr_get_nth(&cs, "header", 2), "C: 3");
    cr_expect_null(rbgw_connstr_get_nth(&cs, "header", 3));
    cr_expect_eq(rbgw_connstr_count(&cs, "url"), 1);
    cr_expect_str_eq(rbgw_connstr_get_nth(&cs, "url", 0), "u");
    cr_expect_eq(rbgw_connstr_count(&cs, "nothing"), 0);
    cr_expect_null(rbgw_connstr_get_nth(&cs, "nothing", 0));
    cr_expect_eq(cs.nopts, 2, "one slot per key");
    rbgw_connstr_free(&cs);
}

/* Many options and one key many times: the arrays grow past several powers of two (ASan run
 * catches a write past one) and every value is kept, in order, keys sorted. */
Test(connstr, many_options_and_many_repeats)
{
    struct rbgw_buf s = RBGW_BUF_INIT;
    rbgw_buf_printf(&s, "http:url=u");
    for (int i = 39; i >= 0; i--) {
        rbgw_buf_printf(&s, ",k%02d=%d", i, i);
    }
    for (int i = 0; i < 33; i++) {
        rbgw_buf_printf(&s, ",header=H: %d", i);
    }
    rbgw_buf_putc(&s, '\0');
    struct rbgw_connstr cs;
    char err[128];
    cr_assert_eq(rbgw_connstr_parse(s.data, &cs, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(cs.nopts, 42, "40 k options, url and header");
    for (size_t i = 1; i < cs.nopts; i++) {
        cr_expect_lt(strcmp(cs.opts[i - 1].key, cs.opts[i].key), 0, "keys sorted");
    }
    for (int i = 0; i < 40; i++) {
        char key[8], want[8];
        snprintf(key, sizeof(key), "k%02d", i);
        snprintf(want, sizeof(want), "%d", i);
        cr_expect_str_eq(rbgw_connstr_get(&cs, key), want);
    }
    cr_expect_eq(rbgw_connstr_count(&cs, "header"), 33);
    for (int i = 0; i < 33; i++) {
        char want[16];
        snprintf(want, sizeof(want), "H: %d", i);
        cr_expect_str_eq(rbgw_connstr_get_nth(&cs, "header", (size_t)i), want);
    }
    rbgw_connstr_free(&cs);
    rbgw_buf_free(&s);
}

static const struct {
    const char *in;   /* a connection string as written */
    const char *want; /* as echoed */
} masked_rows[] = {
    {"http:url=http://h/,header=Authorization: Bearer abc,timeout=5",
     "http:url=http://h/,header=Authorization: ***,timeout=5"},
    {"http:header=X-A:1,header=X-B:  two words", "http:header=X-A: ***,header=X-B: ***"},
    {"http:header=no colon here", "http:header=***"},
    {"http:header=", "http:header=***"},
    {"http:header", "http:header"},
    {"http:headers=X: y, header=X: y", "http:headers=X: y, header=X: y"},
    {"unix:path=/s", "unix:path=/s"},
    {"pipe", "pipe"},
    {"http:url=https://user:pa:ss@h:8/p@x?q@y,timeout=1",
     "http:url=https://***@h:8/p@x?q@y,timeout=1"},
    {"http:url=http://a@b@h/", "http:url=http://***@h/"},
    {"http:url=http://@h/", "http:url=http://***@h/"},
    {"http:url=http://h/x@y", "http:url=http://h/x@y"},
    {"http:url=h@x", "http:url=h@x"},
    {"http:,,header=A: b,,", "http:,,header=A: ***,,"},
    {"http:header=A:b,header=A:b,header=A:b,header=A:b", "http:header=A: ***,header=A: ***,"
                                                         "header=A: ***,header=A: ***"},
};

/* Secret values (header values, a URL's userinfo) never reach the config echo or a log. */
Test(connstr, masked_hides_header_values)
{
    for (size_t i = 0; i < sizeof(masked_rows) / sizeof(masked_rows[0]); i++) {
        char *m = rbgw_connstr_masked(masked_rows[i].in);
        cr_expect_str_eq(m, masked_rows[i].want, "row %zu", i);
        free(m);
    }
    cr_expect(rbgw_connstr_is_secret("header"));
    cr_expect(!rbgw_connstr_is_secret("header-file"), "a path is no secret");
}

struct int_row {
    const char *value; /* NULL: key absent */
    long min, max;
    int rc;
    long want;
    const char *err;
};

static const struct int_row int_rows[] = {
    {NULL, 1, 60000, 0, 2000, NULL},
    {"1500", 1, 60000, 0, 1500, NULL},
    {"1", 1, 60000, 0, 1, NULL},
    {"60000", 1, 60000, 0, 60000, NULL},
    {"-5", -10, 10, 0, -5, NULL},
    {"007", 1, 60000, 0, 7, NULL},
    {"0", 1, 60000, RBGW_ECONFIG, 0, "timeout=0 not in 1..60000"},
    {"60001", 1, 60000, RBGW_ECONFIG, 0, "timeout=60001 not in 1..60000"},
    {"99999999999999999999999", 1, 60000, RBGW_ECONFIG, 0,
     "timeout=99999999999999999999999 not in 1..60000"},
    {"abc", 1, 60000, RBGW_ECONFIG, 0, "timeout=abc is not a number"},
    {"12abc", 1, 60000, RBGW_ECONFIG, 0, "timeout=12abc is not a number"},
    {" 12", 1, 60000, RBGW_ECONFIG, 0, "timeout= 12 is not a number"},
    {"+12", 1, 60000, RBGW_ECONFIG, 0, "timeout=+12 is not a number"},
    {"", 1, 60000, RBGW_ECONFIG, 0, "timeout= is not a number"},
    {"-", -10, 10, RBGW_ECONFIG, 0, "timeout=- is not a number"},
    {"yes", 1, 60000, RBGW_ECONFIG, 0, "timeout=yes is not a number"},
};

Test(connstr, get_int_table)
{
    for (size_t i = 0; i < sizeof(int_rows) / sizeof(int_rows[0]); i++) {
        const struct int_row *r = &int_rows[i];
        char in[128], err[128] = "";
        struct rbgw_connstr cs;
        if (r->value != NULL) {
            snprintf(in, sizeof(in), "pipe:command=/x,timeout=%s", r->value);
        } else {
            snprintf(in, sizeof(in), "pipe:command=/x");
        }
        cr_assert_eq(rbgw_connstr_parse(in, &cs, err, sizeof(err)), 0, "row %zu: parse", i);
        long got = -999;
        int rc = rbgw_connstr_get_int(&cs, "timeout", 2000, r->min, r->max, &got, err, sizeof(err));
        cr_expect_eq(rc, r->rc, "row %zu timeout=%s: rc %d want %d", i,
                     r->value ? r->value : "(absent)", rc, r->rc);
        if (rc == 0 && r->rc == 0) {
            cr_expect_eq(got, r->want, "row %zu timeout=%s: got %ld want %ld", i,
                         r->value ? r->value : "(absent)", got, r->want);
        } else if (rc != 0 && r->rc != 0) {
            cr_expect_str_eq(err, r->err, "row %zu: error text", i);
        }
        rbgw_connstr_free(&cs);
    }
}

struct bool_row {
    const char *in;
    bool def;
    bool want;
};

static const struct bool_row bool_rows[] = {
    {"http:url=x,post=yes", false, true},
    {"http:url=x,post=true", false, true},
    {"http:url=x,post=on", false, true},
    {"http:url=x,post=1", false, true},
    {"http:url=x,post", false, true},
    {"http:url=x,post=YES", true, false},
    {"http:url=x,post=no", true, false},
    {"http:url=x,post=0", true, false},
    {"http:url=x,post= yes", true, false},
    {"http:url=x,post=", true, false},
    {"http:url=x", true, true},
    {"http:url=x", false, false},
};

Test(connstr, get_bool_table)
{
    for (size_t i = 0; i < sizeof(bool_rows) / sizeof(bool_rows[0]); i++) {
        const struct bool_row *r = &bool_rows[i];
        struct rbgw_connstr cs;
        char err[128];
        cr_assert_eq(rbgw_connstr_parse(r->in, &cs, err, sizeof(err)), 0, "row %zu: parse", i);
        cr_expect_eq(rbgw_connstr_get_bool(&cs, "post", r->def), r->want,
                     "row %zu '%s' (default %d): want %d", i, r->in, r->def, r->want);
        rbgw_connstr_free(&cs);
    }
}

Test(connstr, transport_names)
{
    cr_expect_str_eq(rbgw_transport_name(RBGW_TRANSPORT_PIPE), "pipe");
    cr_expect_str_eq(rbgw_transport_name(RBGW_TRANSPORT_UNIX), "unix");
    cr_expect_str_eq(rbgw_transport_name(RBGW_TRANSPORT_HTTP), "http");
    cr_expect_str_eq(rbgw_transport_name(RBGW_TRANSPORT_ZEROMQ), "zeromq");
}

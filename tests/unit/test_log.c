/*
 * test_log.c: log lines (log.h): formats, escaping, journald prefixes, the request fields,
 * forwarded responder lines and the rate limiter.
 *
 * What: every kind of line in text, json and journald form, byte for byte, as a table; JSON
 * output that stays one valid UTF-8 object whatever the bytes (quotes, backslashes, control
 * characters, invalid UTF-8) and however it is cut; the qname read from a pass-through call's
 * text and from its tree; the rate limiter counted with an injected clock (no timing).
 *
 * Why: operators parse these lines (json) and journald reads the prefix; a line broken by a
 * qname from pdns, or a flood that writes one line per failed call, is an operations bug.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log_int.h"
#include "rbgw/gateway.h"
#include "rbgw/json.h"
#include "rbgw/log.h"
#include "show.h"

#define B(lit) (lit), (sizeof(lit) - 1)
#define SI(lit)                                                                                    \
    {                                                                                              \
        (lit), sizeof(lit) - 1                                                                     \
    }                                     /* in initializers */
#define S(lit) ((struct rbgw_str)SI(lit)) /* in expressions */

/* 2024-05-01T12:00:00.123456789Z */
#define TS_NS 1714564800123456789ull
#define TS "2024-05-01T12:00:00.123456Z"

TestSuite(log);

/* ---- formatting: one table ---- */

enum style { TEXT, JSON, JTEXT, JJSON };

struct fmt_case {
    const char *name;
    enum style style;
    struct rbgw__log_line line;
    const char *want; /* the whole line, '\n' included */
};

/* elapsed_us and bytes are -1 (none) unless a case sets them. */
#define LINE(...)                                                                                  \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }

static const struct fmt_case fmt_cases[] = {
    {"gateway text", TEXT,
     LINE(.elapsed_us = -1, .bytes = -1, .level = RBGW_LOG_WARN, .msg = SI("listening on unix:/x")),
     "rbgw[1234]: warning: listening on unix:/x\n"},
    {"request text: today's prefix", TEXT,
     LINE(.bytes = -1, .level = RBGW_LOG_WARN, .msg = SI("127.0.0.1:8080: no reply (timed out)"),
          .request_id = 17, .method = SI("lookup"), .upstream = SI("http#1"),
          .listener = SI("pipe"), .qname = SI("www.example.com."), .elapsed_us = 1500),
     "rbgw[1234]: warning: req=17 lookup u=http#1: 127.0.0.1:8080: no reply (timed out)\n"},
    {"request text, no method, no upstream", TEXT,
     LINE(.elapsed_us = -1, .bytes = -1, .level = RBGW_LOG_WARN,
          .msg = SI("request is not valid JSON"), .request_id = 3),
     "rbgw[1234]: warning: req=3: request is not valid JSON\n"},
    {"upstream text", TEXT,
     LINE(.elapsed_us = -1, .bytes = -1, .level = RBGW_LOG_INFO, .msg = SI("check failed"),
          .upstream = SI("a")),
     "rbgw[1234]: info: u=a: check failed\n"},
    {"responder text", TEXT,
     LINE(.elapsed_us = -1, .bytes = -1, .level = RBGW_LOG_INFO, .msg = SI("zone not found"),
          .request_id = 18, .method = SI("lookup"), .upstream = SI("a"), .source = "responder"),
     "rbgw[1234]: info: req=18 lookup u=a: responder: zone not found\n"},
    {"access text", TEXT,
     LINE(.level = RBGW_LOG_INFO, .request_id = 19, .listener = SI("unix:path=/run/r.sock"),
          .method = SI("lookup"), .qname = SI("www.example.com."), .upstream = SI("http#1"),
          .outcome = "ok", .elapsed_us = 312, .bytes = 118),
     "rbgw[1234]: info: access req=19 listener=unix:path=/run/r.sock method=lookup "
     "qname=www.example.com. upstream=http#1 outcome=ok elapsed_us=312 bytes=118\n"},
    {"access text, fields missing", TEXT,
     LINE(.level = RBGW_LOG_INFO, .request_id = 2, .outcome = "bad_request", .elapsed_us = 0,
          .bytes = 60),
     "rbgw[1234]: info: access req=2 listener=- method=- qname=- upstream=- "
     "outcome=bad_request elapsed_us=0 bytes=60\n"},
    {"text control bytes", TEXT,
     LINE(.elapsed_us = -1, .bytes = -1, .level = RBGW_LOG_INFO,
          .msg = SI("a\nb\rc\td\x01"
                    "e\x7f"
                    "f\xff")),
     "rbgw[1234]: info: a b c d?e?f\xff\n"},
    {"text qname with a newline (access)", TEXT,
     LINE(.level = RBGW_LOG_INFO, .request_id = 1, .qname = SI("evil\n.example."),
          .outcome = "false", .elapsed_us = 1, .bytes = 2),
     "rbgw[1234]: info: access req=1 listener=- method=- qname=evil .example. upstream=- "
     "outcome=false elapsed_us=1 bytes=2\n"},
    {"journald error", JTEXT,
     LINE(.elapsed_us = -1, .bytes = -1, .level = RBGW_LOG_ERROR, .msg = SI("x")),
     "<3>rbgw[1234]: error: x\n"},
    {"journald warning", JTEXT,
     LINE(.elapsed_us = -1, .bytes = -1, .level = RBGW_LOG_WARN, .msg = SI("x")),
     "<4>rbgw[1234]: warning: x\n"},
    {"journald info", JTEXT,
     LINE(.elapsed_us = -1, .bytes = -1, .level = RBGW_LOG_INFO, .msg = SI("x")),
     "<6>rbgw[1234]: info: x\n"},
    {"journald debug", JTEXT,
     LINE(.elapsed_us = -1, .bytes = -1, .level = RBGW_LOG_DEBUG, .msg = SI("x")),
     "<7>rbgw[1234]: debug: x\n"},
    {"gateway json", JSON,
     LINE(.elapsed_us = -1, .bytes = -1, .level = RBGW_LOG_INFO, .msg = SI("rbgw 0.1 started")),
     "{\"ts\":\"" TS "\",\"level\":\"info\",\"pid\":1234,\"msg\":\"rbgw 0.1 started\"}\n"},
    {"request json", JSON,
     LINE(.bytes = -1, .level = RBGW_LOG_WARN, .msg = SI("no reply"), .request_id = 17,
          .method = SI("lookup"), .upstream = SI("http#1"), .listener = SI("pipe"),
          .qname = SI("www.example.com."), .elapsed_us = 1500312),
     "{\"ts\":\"" TS "\",\"level\":\"warning\",\"pid\":1234,\"msg\":\"no reply\","
     "\"request_id\":17,\"listener\":\"pipe\",\"upstream\":\"http#1\",\"method\":\"lookup\","
     "\"qname\":\"www.example.com.\",\"elapsed_us\":1500312}\n"},
    {"access json", JSON,
     LINE(.level = RBGW_LOG_INFO, .request_id = 19, .listener = SI("pipe"), .method = SI("list"),
          .qname = SI("example.com."), .upstream = SI("a"), .outcome = "timeout", .elapsed_us = 7,
          .bytes = 80),
     "{\"ts\":\"" TS "\",\"level\":\"info\",\"pid\":1234,\"msg\":\"access\",\"request_id\":19,"
     "\"listener\":\"pipe\",\"upstream\":\"a\",\"method\":\"list\",\"qname\":\"example.com.\","
     "\"elapsed_us\":7,\"outcome\":\"timeout\",\"bytes\":80}\n"},
    {"responder json", JSON,
     LINE(.elapsed_us = -1, .bytes = -1, .level = RBGW_LOG_INFO, .msg = SI("hello"),
          .upstream = SI("a"), .source = "responder"),
     "{\"ts\":\"" TS "\",\"level\":\"info\",\"pid\":1234,\"msg\":\"hello\",\"upstream\":\"a\","
     "\"source\":\"responder\"}\n"},
    {"summary json", JSON,
     LINE(.elapsed_us = -1, .bytes = -1, .level = RBGW_LOG_WARN,
          .msg = SI("calls answered false (5 similar ...)"), .upstream = SI("dead"),
          .suppressed = 5),
     "{\"ts\":\"" TS "\",\"level\":\"warning\",\"pid\":1234,"
     "\"msg\":\"calls answered false (5 similar ...)\",\"upstream\":\"dead\",\"suppressed\":5}\n"},
    {"journald json", JJSON,
     LINE(.elapsed_us = -1, .bytes = -1, .level = RBGW_LOG_DEBUG, .msg = SI("x")),
     "<7>{\"ts\":\"" TS "\",\"level\":\"debug\",\"pid\":1234,\"msg\":\"x\"}\n"},
    {"json escapes", JSON,
     LINE(.elapsed_us = -1, .bytes = -1, .level = RBGW_LOG_INFO,
          .msg = SI("q\"b\\s/n\nr\rt\tb\bf\f\x01\x1f\x7f")),
     "{\"ts\":\"" TS "\",\"level\":\"info\",\"pid\":1234,"
     "\"msg\":\"q\\\"b\\\\s/n\\nr\\rt\\tb\\bf\\f\\u0001\\u001f\\u007f\"}\n"},
    {"json NUL byte", JSON,
     LINE(.elapsed_us = -1, .bytes = -1, .level = RBGW_LOG_INFO, .msg = {"a\0b", 3}),
     "{\"ts\":\"" TS "\",\"level\":\"info\",\"pid\":1234,\"msg\":\"a\\u0000b\"}\n"},
    {"json valid UTF-8 kept", JSON,
     LINE(.elapsed_us = -1, .bytes = -1, .level = RBGW_LOG_INFO,
          .msg = SI("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80")),
     "{\"ts\":\"" TS "\",\"level\":\"info\",\"pid\":1234,"
     "\"msg\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}\n"},
    {"json invalid UTF-8 replaced", JSON,
     LINE(.elapsed_us = -1, .bytes = -1, .level = RBGW_LOG_INFO,
          /* lone continuation, 0xff, overlong '/', a surrogate, beyond U+10FFFF, cut at end */
          .msg = SI("a\x80"
                    "b\xff"
                    "c\xc0\xaf"
                    "d\xed\xa0\x80"
                    "e\xf4\x90\x80\x80"
                    "f\xe2\x82")),
     "{\"ts\":\"" TS "\",\"level\":\"info\",\"pid\":1234,\"msg\":\"a\\ufffdb\\ufffdc\\ufffd\\ufffd"
     "d\\ufffd\\ufffd\\ufffde\\ufffd\\ufffd\\ufffd\\ufffdf\\ufffd\\ufffd\"}\n"},
    {"json qname from pdns, any bytes", JSON,
     LINE(.elapsed_us = -1, .bytes = -1, .level = RBGW_LOG_INFO, .msg = SI("m"), .request_id = 1,
          .qname = SI("a\"b\\c\x0a\xfe.")),
     "{\"ts\":\"" TS "\",\"level\":\"info\",\"pid\":1234,\"msg\":\"m\",\"request_id\":1,"
     "\"qname\":\"a\\\"b\\\\c\\n\\ufffd.\"}\n"},
};

static size_t
format(enum style s, const struct rbgw__log_line *l, char *out, size_t cap)
{
    struct rbgw__log_style st = {s == JSON || s == JJSON ? RBGW_LOG_JSON : RBGW_LOG_TEXT,
                                 s == JTEXT || s == JJSON, 1234, TS_NS};
    return rbgw__log_format(out, cap, &st, l);
}

Test(log, format_table)
{
    for (size_t i = 0; i < RBGW_NELEM(fmt_cases); i++) {
        const struct fmt_case *c = &fmt_cases[i];
        char out[RBGW__LOG_LINE_MAX];
        size_t n = format(c->style, &c->line, out, sizeof(out));
        cr_expect(n == strlen(c->want) && memcmp(out, c->want, n) == 0, "%s:\n got %s\nwant %s",
                  c->name, rbgw_test_show(out, n), rbgw_test_show(c->want, strlen(c->want)));
    }
}

/* ---- JSON validity whatever the bytes and the length ---- */

static bool
valid_utf8(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t k;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (i + k > n) {
            return false;
        }
        for (size_t j = 1; j < k; j++) {
            if ((p[i + j] & 0xc0) != 0x80) {
                return false;
            }
            cp = cp << 6 | (p[i + j] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += k;
    }
    return true;
}

/* One JSON object, valid UTF-8, no raw control byte, ending in "}\n"; returns its "msg". */
static struct rbgw_str
check_json_line(struct rbgw_arena *a, const char *out, size_t n, const char *what)
{
    cr_assert(n >= 3 && out[n - 1] == '\n' && out[n - 2] == '}', "%s: line end %s", what,
              rbgw_test_show(out, n));
    size_t ctl = 0;
    while (ctl + 1 < n && (unsigned char)out[ctl] >= 0x20) {
        ctl++;
    }
    cr_assert_eq(ctl, n - 1, "%s: raw control byte at %zu", what, ctl);
    cr_assert(valid_utf8((const unsigned char *)out, n), "%s: not UTF-8: %s", what,
              rbgw_test_show(out, n));
    struct rbgw_json *root;
    char err[200];
    cr_assert_eq(rbgw_json_parse(a, out, n - 1, &root, err, sizeof(err)), 0, "%s: %s: %s", what,
                 err, rbgw_test_show(out, n));
    cr_assert_eq(root->type, RBGW_JSON_OBJECT, "%s", what);
    const struct rbgw_json *m = rbgw_json_get(root, "msg");
    if (m == NULL && n < 256) {
        return RBGW_STR_NULL; /* a tiny buffer may hold no more than the time and level */
    }
    cr_assert(m && m->type == RBGW_JSON_STRING, "%s: no msg in %zu bytes", what, n);
    const struct rbgw_json *lv = rbgw_json_get(root, "level");
    cr_assert(lv && lv->type == RBGW_JSON_STRING, "%s: no level", what);
    return m->str;
}

static uint32_t rng = 12345;

static unsigned
next_rand(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 16;
}

Test(log, json_any_bytes_any_length)
{
    /* Bytes chosen to hit every branch: quotes, backslashes, controls, UTF-8 lead and
     * continuation bytes, and invalid ones. */
    static const unsigned char alphabet[] = {'a',  '"',  '\\', '\n', 0x01, 0x7f, 0xc3, 0xa9, 0xe2,
                                             0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xff, 0xed, 0xc0};
    struct rbgw_arena a = RBGW_ARENA_INIT;
    char msg[6000], qname[300], out[RBGW__LOG_LINE_MAX];
    for (int round = 0; round < 400; round++) {
        size_t mlen = next_rand() % sizeof(msg), qlen = next_rand() % sizeof(qname);
        for (size_t i = 0; i < mlen; i++) {
            msg[i] = (char)alphabet[next_rand() % sizeof(alphabet)];
        }
        for (size_t i = 0; i < qlen; i++) {
            qname[i] = (char)alphabet[next_rand() % sizeof(alphabet)];
        }
        struct rbgw__log_line l =
            LINE(.bytes = -1, .level = RBGW_LOG_WARN, .msg = {msg, mlen}, .request_id = 9,
                 .qname = {qname, qlen}, .listener = SI("pipe"), .upstream = {qname, qlen},
                 .method = SI("lookup"), .elapsed_us = 5);
        size_t cap = round % 4 == 0 ? 64 + next_rand() % 2000 : sizeof(out);
        size_t n = format(round % 2 ? JSON : JJSON, &l, out, cap);
        cr_assert(n <= cap, "round %d: %zu bytes in a %zu-byte buffer", round, n, cap);
        const char *line = out;
        if (round % 2 == 0) {
            cr_assert(n > 3 && memcmp(out, "<4>", 3) == 0, "round %d: journald prefix", round);
            line += 3, n -= 3;
        }
        check_json_line(&a, line, n, "random bytes");
        rbgw_arena_reset(&a);
    }
    rbgw_arena_free(&a);
}

Test(log, json_round_trips_utf8)
{
    /* Without cuts, a message of valid UTF-8 comes back byte for byte. */
    struct rbgw_arena a = RBGW_ARENA_INIT;
    static const char *const msgs[] = {
        "plain",
        "\"quoted\" \\back\\slash\\",
        "ctl \x01\x02\x1f\x7f end",
        "tab\tnl\ncr\r",
        "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
        "",
    };
    for (size_t i = 0; i < RBGW_NELEM(msgs); i++) {
        char out[RBGW__LOG_LINE_MAX];
        struct rbgw__log_line l = LINE(.elapsed_us = -1, .bytes = -1, .level = RBGW_LOG_INFO,
                                       .msg = rbgw_str_cstr(msgs[i]));
        size_t n = format(JSON, &l, out, sizeof(out));
        struct rbgw_str m = check_json_line(&a, out, n, msgs[i]);
        cr_expect(rbgw_str_eq_cstr(m, msgs[i]), "msg %s came back as %s", msgs[i],
                  rbgw_test_show(m.p, m.len));
    }
    rbgw_arena_free(&a);
}

Test(log, text_stays_one_line_when_cut)
{
    char msg[3000], out[200];
    memset(msg, 'x', sizeof(msg));
    msg[100] = '\n';
    struct rbgw__log_line l =
        LINE(.elapsed_us = -1, .bytes = -1, .level = RBGW_LOG_INFO, .msg = {msg, sizeof(msg)});
    size_t n = format(TEXT, &l, out, sizeof(out));
    cr_expect(n <= sizeof(out) && out[n - 1] == '\n');
    cr_expect_null(memchr(out, '\n', n - 1), "%s", rbgw_test_show(out, n));
}

/* ---- JSON string decoding (qnames and responder lines read without a tree) ---- */

static const struct {
    const char *in;
    const char *want;
    size_t wantlen;
} unescapes[] = {
    {"\"abc\"", B("abc")},
    {"\"\"", B("")},
    {"\"a\\nb\\r\\t\\b\\f\\/\\\\\\\"\"", B("a\nb\r\t\b\f/\\\"")},
    {"\"\\u00e9\\u20ac\"", B("\xc3\xa9\xe2\x82\xac")},
    {"\"\\ud83d\\ude00\"", B("\xf0\x9f\x98\x80")},
    {"\"\\ud800x\"", B("\xef\xbf\xbdx")},
    {"\"\\udc00\"", B("\xef\xbf\xbd")},
    {"\"\\u0000\"", B("\0")},
    {"\"raw \xff bytes\"", B("raw \xff bytes")},
    {"not a string", B("")},
};

Test(log, json_unescape_table)
{
    for (size_t i = 0; i < RBGW_NELEM(unescapes); i++) {
        char out[64];
        size_t n = rbgw__log_json_unescape(rbgw_str_cstr(unescapes[i].in), out, sizeof(out));
        cr_expect(n == unescapes[i].wantlen && memcmp(out, unescapes[i].want, n) == 0, "%s -> %s",
                  unescapes[i].in, rbgw_test_show(out, n));
    }
    char small[3];
    cr_expect_eq(rbgw__log_json_unescape(rbgw_str_cstr("\"abcdef\""), small, sizeof(small)), 3u);
    cr_expect_eq(rbgw__log_json_unescape(rbgw_str_cstr("\"ab\\u20ac\""), small, sizeof(small)), 2u,
                 "a sequence that does not fit is left out whole");
}

/* ---- journald ---- */

static const struct {
    const char *env;
    uint64_t dev, ino;
    bool want;
} journal_cases[] = {
    {"2049:131", 2049, 131, true},
    {"18446744073709551615:1", UINT64_MAX, 1, true},
    {"2049:132", 2049, 131, false},
    {"2048:131", 2049, 131, false},
    {NULL, 2049, 131, false},
    {"", 2049, 131, false},
    {"2049", 2049, 131, false},
    {"2049:", 2049, 131, false},
    {":131", 2049, 131, false},
    {"2049:131x", 2049, 131, false},
    {" 2049:131", 2049, 131, false},
    {"2049: 131", 2049, 131, false},
    {"-2049:131", 2049, 131, false},
    {"2049:-131", 2049, 131, false},
    {"99999999999999999999:131", 2049, 131, false},
};

Test(log, journal_stream_table)
{
    for (size_t i = 0; i < RBGW_NELEM(journal_cases); i++) {
        bool got = rbgw__log_journal_matches(journal_cases[i].env, journal_cases[i].dev,
                                             journal_cases[i].ino);
        cr_expect_eq(got, journal_cases[i].want, "JOURNAL_STREAM=%s", journal_cases[i].env);
    }
}

/* ---- the process-level entry points, writing to a temporary file ---- */

static FILE *sink;
static uint64_t fake_ms;

static uint64_t
fake_mono(void)
{
    return fake_ms * 1000000u;
}

static uint64_t
fake_real(void)
{
    return TS_NS;
}

static void
capture(enum rbgw_log_format f)
{
    sink = tmpfile();
    cr_assert_not_null(sink);
    rbgw_log_set_fd(fileno(sink));
    rbgw_log_set_clocks(fake_mono, fake_real);
    rbgw_log_set_format(f);
    rbgw_log_set_level(RBGW_LOG_INFO);
    fake_ms = 1000;
}

/* Everything written since the last call (kept in a static buffer). */
static const char *
written(void)
{
    static char buf[1 << 20];
    int fd = fileno(sink);
    off_t end = lseek(fd, 0, SEEK_END);
    cr_assert(end >= 0 && (size_t)end < sizeof(buf));
    ssize_t n = pread(fd, buf, (size_t)end, 0);
    cr_assert_eq(n, end);
    buf[n] = '\0';
    cr_assert_eq(ftruncate(fd, 0), 0);
    lseek(fd, 0, SEEK_SET);
    return buf;
}

static size_t
count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
        n++;
    }
    return n;
}

static char *line_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
line_of(const char *fmt, ...)
{
    static char buf[4][512];
    static int k;
    char *b = buf[k++ % 4];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, 512, fmt, ap);
    va_end(ap);
    return b;
}

Test(log, level_filters_and_gateway_lines_keep_their_form)
{
    capture(RBGW_LOG_TEXT);
    rbgw_log_set_level(RBGW_LOG_WARN);
    rbgw_log_info("not written");
    rbgw_log_debug("not written");
    rbgw_log_warn("written %d", 1);
    rbgw_log_err("written %d", 2);
    cr_expect_str_eq(written(),
                     line_of("rbgw[%d]: warning: written 1\nrbgw[%d]: error: written 2\n",
                             (int)getpid(), (int)getpid()));
}

/* A request as a listener makes it: its session on a listener, its call peeked (no tree). */
struct fake_req {
    struct rbgw_endpoint_conf ec;
    struct rbgw_listener l;
    struct rbgw_session s;
    struct rbgw_upstream u;
    struct rbgw_request r;
};

static void
fake_req(struct fake_req *f, const char *raw, enum rbgw_method mid, const char *method)
{
    memset(f, 0, sizeof(*f));
    f->ec.text = "unix:path=/run/rbgw.sock";
    f->l.conf = &f->ec;
    f->s.l = &f->l;
    f->u.name = "up1";
    f->r.id = 42;
    f->r.session = &f->s;
    f->r.raw = rbgw_str_cstr(raw);
    f->r.call.mid = mid;
    f->r.call.method = rbgw_str_cstr(method);
    f->r.upstream = &f->u;
    f->r.start_ns = fake_mono() - 312000; /* read 312 us ago */
    rbgw_arena_init(&f->r.arena);
}

Test(log, request_lines_carry_the_call)
{
    struct fake_req f;
    capture(RBGW_LOG_JSON);
    fake_req(&f,
             "{\"method\":\"lookup\",\"parameters\":{\"qname\":\"www.ex\\u0041mple.com.\","
             "\"qtype\":\"A\"}}",
             RBGW_M_LOOKUP, "lookup");
    rbgw_rlog_warn(&f.r, "%s", "boom");
    cr_expect_str_eq(written(),
                     line_of("{\"ts\":\"" TS "\",\"level\":\"warning\",\"pid\":%d,\"msg\":\"boom\","
                             "\"request_id\":42,\"listener\":\"unix:path=/run/rbgw.sock\","
                             "\"upstream\":\"up1\",\"method\":\"lookup\","
                             "\"qname\":\"www.exAmple.com.\",\"elapsed_us\":312}\n",
                             (int)getpid()));

    /* Text mode keeps today's prefix and reads no qname. */
    rbgw_log_set_format(RBGW_LOG_TEXT);
    struct rbgw_upstream other = {.name = "other"};
    rbgw_rlog(RBGW_LOG_INFO, &f.r, &other, "retrying");
    cr_expect_str_eq(written(),
                     line_of("rbgw[%d]: info: req=42 lookup u=other: retrying\n", (int)getpid()));
    rbgw_arena_free(&f.r.arena);
}

Test(log, qname_from_member_and_from_tree)
{
    struct fake_req f;
    capture(RBGW_LOG_JSON);
    rbgw_log_set_access(true);
    /* feedRecord names rr.qname: two levels, read by scanning. */
    fake_req(&f,
             "{\"method\":\"feedRecord\",\"parameters\":{\"rr\":{\"qname\":\"a.example.\","
             "\"qtype\":\"A\"},\"trxid\":1}}",
             RBGW_M_FEED_RECORD, "feedRecord");
    rbgw_access_log(&f.r, "ok", S("{\"result\":true}"));
    const char *out = written();
    cr_expect(strstr(out, "\"qname\":\"a.example.\"") && strstr(out, "\"outcome\":\"ok\"") &&
                  strstr(out, "\"bytes\":15") && strstr(out, "\"msg\":\"access\""),
              "%s", out);
    /* After a parse (the tree is there), the same name comes from the tree. */
    char err[128];
    cr_assert_eq(rbgw_request_parse(&f.r, err, sizeof(err)), 0, "%s", err);
    rbgw_access_log(&f.r, "false", S("{\"result\":false}"));
    out = written();
    cr_expect(strstr(out, "\"qname\":\"a.example.\"") && strstr(out, "\"outcome\":\"false\""), "%s",
              out);
    /* A method that names nothing, and a failure token. */
    rbgw_arena_free(&f.r.arena);
    fake_req(&f, "{\"method\":\"getAllDomains\",\"parameters\":{}}", RBGW_M_GET_ALL_DOMAINS,
             "getAllDomains");
    rbgw_access_log(&f.r, "timeout", S("{\"result\":false,\"log\":[\"rbgw: x\"]}"));
    out = written();
    cr_expect(!strstr(out, "qname") && strstr(out, "\"outcome\":\"timeout\"") &&
                  strstr(out, "\"method\":\"getAllDomains\""),
              "%s", out);
    rbgw_arena_free(&f.r.arena);
}

Test(log, access_line_text_and_level)
{
    struct fake_req f;
    capture(RBGW_LOG_TEXT);
    fake_req(&f, "{\"method\":\"lookup\",\"parameters\":{\"qname\":\"q.example.\"}}", RBGW_M_LOOKUP,
             "lookup");
    rbgw_access_log(&f.r, "ok", S("{\"result\":[]}"));
    cr_expect_str_eq(written(),
                     line_of("rbgw[%d]: info: access req=42 listener=unix:path=/run/rbgw.sock "
                             "method=lookup qname=q.example. upstream=up1 outcome=ok "
                             "elapsed_us=312 bytes=13\n",
                             (int)getpid()));
    rbgw_log_set_level(RBGW_LOG_WARN);
    rbgw_access_log(&f.r, "ok", S("{\"result\":[]}"));
    cr_expect_str_eq(written(), "", "access lines are info lines");
    rbgw_arena_free(&f.r.arena);
}

Test(log, responder_lines)
{
    struct fake_req f;
    capture(RBGW_LOG_TEXT);
    fake_req(&f, "{\"method\":\"lookup\",\"parameters\":{}}", RBGW_M_LOOKUP, "lookup");
    rbgw_log_responder(&f.r, &f.u, S("[\"zone \\\"x\\\" missing\", 7, {\"k\": [1]}, \"\\u00e9\"]"));
    int pid = (int)getpid();
    cr_expect_str_eq(written(),
                     line_of("rbgw[%d]: info: req=42 lookup u=up1: responder: zone \"x\" missing\n"
                             "rbgw[%d]: info: req=42 lookup u=up1: responder: 7\n"
                             "rbgw[%d]: info: req=42 lookup u=up1: responder: {\"k\": [1]}\n"
                             "rbgw[%d]: info: req=42 lookup u=up1: responder: \xc3\xa9\n",
                             pid, pid, pid, pid));
    rbgw_log_responder(&f.r, &f.u, S("[]"));
    rbgw_log_responder(&f.r, &f.u, S("{\"not\":\"an array\"}"));
    cr_expect_str_eq(written(), "");
    /* At most 16 lines of one reply, then a count. */
    fake_ms += 10000;
    char many[512] = "[";
    for (int i = 0; i < 20; i++) {
        strcat(many, i ? ",\"l\"" : "\"l\"");
    }
    strcat(many, "]");
    rbgw_log_responder(NULL, &f.u, rbgw_str_cstr(many));
    const char *out = written();
    /* The rate limit lets 10 through per second: 10 lines, the rest counted. */
    cr_expect_eq(count(out, "u=up1: responder: l\n"), RBGW_LOG_BURST, "%s", out);
    fake_ms += RBGW_LOG_WINDOW_MS;
    rbgw_log_flush();
    out = written();
    cr_expect_str_eq(out, line_of("rbgw[%d]: info: u=up1: responder log lines (7 similar messages "
                                  "suppressed in the last 1.0 s)\n",
                                  (int)getpid()));
    rbgw_arena_free(&f.r.arena);
}

Test(log, responder_lines_from_a_tree)
{
    capture(RBGW_LOG_JSON);
    struct rbgw_upstream u = {.name = "h"};
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_json *root;
    char err[64];
    cr_assert_eq(rbgw_json_parse(&a, B("[\"bad \\\"zone\\\"\", false]"), &root, err, sizeof(err)),
                 0);
    rbgw_log_responder_tree(NULL, &u, root);
    const char *out = written();
    cr_expect(
        strstr(out, "\"msg\":\"bad \\\"zone\\\"\",\"upstream\":\"h\",\"source\":\"responder\"") &&
            strstr(out, "\"msg\":\"false\""),
        "%s", out);
    rbgw_arena_free(&a);
}

/* ---- rate limiting, counted with a clock that moves only when told ---- */

Test(log, flood_is_limited_and_counted)
{
    capture(RBGW_LOG_TEXT);
    struct rbgw_upstream dead = {.name = "dead"}, alive = {.name = "alive"};
    /* 20000 failures within one window: RBGW_LOG_BURST lines, the rest counted. */
    for (int i = 0; i < 20000; i++) {
        rbgw_rlog_limited(RBGW_LOG_WARN, "calls answered false", NULL, &dead, "fail %d", i);
    }
    /* Another upstream, or another kind of line, is not held back by that flood. */
    rbgw_rlog_limited(RBGW_LOG_WARN, "calls answered false", NULL, &alive, "fail alive");
    rbgw_rlog_limited(RBGW_LOG_WARN, "failed checks", NULL, &dead, "check");
    const char *out = written();
    cr_expect_eq(count(out, "u=dead: fail "), RBGW_LOG_BURST, "%s", out);
    cr_expect_eq(count(out, "\n"), RBGW_LOG_BURST + 2, "%s", out);
    cr_expect(strstr(out, "u=dead: fail 9\n") && !strstr(out, "u=dead: fail 10\n"));
    cr_expect(strstr(out, "u=alive: fail alive\n") && strstr(out, "u=dead: check\n"));

    /* The next line after the window: the summary first, then the line. */
    fake_ms += 400;
    rbgw_rlog_limited(RBGW_LOG_WARN, "calls answered false", NULL, &dead, "still in the window");
    cr_expect_str_eq(written(), "");
    fake_ms += 600;
    rbgw_rlog_limited(RBGW_LOG_WARN, "calls answered false", NULL, &dead, "after");
    int pid = (int)getpid();
    cr_expect_str_eq(written(),
                     line_of("rbgw[%d]: warning: u=dead: calls answered false (19991 similar "
                             "messages suppressed in the last 1.0 s)\n"
                             "rbgw[%d]: warning: u=dead: after\n",
                             pid, pid));
    /* Nothing pending: a flush writes nothing. */
    rbgw_log_flush();
    cr_expect_str_eq(written(), "");
}

Test(log, steady_flood_writes_burst_per_window)
{
    capture(RBGW_LOG_JSON);
    struct rbgw_upstream dead = {.name = "dead"};
    /* 10 seconds at 2 calls per ms (20000 calls): per window, RBGW_LOG_BURST lines and one
     * summary of the window before. */
    uint64_t shown = 0, counted = 0;
    size_t summaries = 0;
    for (int ms = 0; ms < 10000; ms++) {
        fake_ms = 5000 + (uint64_t)ms;
        for (int k = 0; k < 2; k++) {
            rbgw_rlog_limited(RBGW_LOG_WARN, "calls answered false", NULL, &dead, "x");
        }
    }
    rbgw_log_flush();
    const char *out = written();
    for (const char *p = out; *p;) {
        const char *nl = strchr(p, '\n');
        cr_assert_not_null(nl);
        const char *sup = strstr(p, "\"suppressed\":");
        if (sup && sup < nl) {
            counted += strtoull(sup + 13, NULL, 10);
            summaries++;
        } else {
            shown++;
        }
        p = nl + 1;
    }
    cr_expect_eq(shown + counted, 20000u, "every call is a line or counted");
    cr_expect_eq(shown, 10u * RBGW_LOG_BURST, "10 windows of %d lines", RBGW_LOG_BURST);
    cr_expect_eq(summaries, 10u);
}

/*
 * log.c: see log.h for the kinds of lines, the formats and the rate-limit rule.
 *
 *   rbgw_log / rbgw_rlog / rbgw_access_log / rbgw_log_responder
 *        │  level filtered first: a line that is not written costs a compare
 *        v
 *   struct rbgw__log_line (fields as views: nothing copied)  ──> rbgw__log_format ──> write(2)
 *        ^                                                         (text or json, "<N>")
 *        └── request fields read from the request when the line is written: id, listener,
 *            method (its row in the method table), upstream, elapsed, and the qname (json and
 *            access lines only), from the call's tree if it has one, else by scanning its text
 *
 * Formatting is pure (log_int.h) and has its own unit tests; the rest is process state: the
 * settings, the output fd, the clocks (tests inject them), and the rate limiter.
 *
 * The rate limiter is a small open-addressed table of slots keyed by (what, upstream name):
 * what is the static label of a call site, so every site limits on its own and one dead
 * upstream cannot silence the lines of another.  A slot counts the lines of its current window
 * and the ones it dropped; the summary is written by the next line of the slot after its
 * window (so a flood reads: 10 lines, a summary, 10 lines, a summary...), by a timer when the
 * flood stopped, or by rbgw_log_flush at exit.  When the table is full, further keys share one
 * overflow slot.  Names are copied into the slot (cut to 63 bytes), so a summary written after
 * its upstream was freed (a reload) still names it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "rbgw/gateway.h"
#include "rbgw/json.h"
#include "rbgw/jsonscan.h"
#include "rbgw/log.h"
#include "rbgw/method.h"
#include "log_int.h"

#define MSG_MAX 2048       /* a message's text before formatting */
#define FIELD_MAX 256      /* json: output bytes of a short string field (names, qname) */
#define MSG_RESERVE 2048   /* json: room kept after msg for the other fields */
#define MARGIN 4           /* room always kept for the closing '"', '}', '\n' */
#define QNAME_MAX 256      /* a qname decoded for a line */
#define RESPONDER_LINES 16 /* responder log lines forwarded per reply */
#define NSLOTS 64          /* rate-limit keys */
#define SLOT_NAME 64       /* bytes of an upstream name kept in a slot (NUL included) */

enum rbgw_log_level rbgw__log_level = RBGW_LOG_INFO;
bool rbgw__log_access = false;

static const char *const level_words[] = {
    [RBGW_LOG_ERROR] = "error",
    [RBGW_LOG_WARN] = "warning",
    [RBGW_LOG_INFO] = "info",
    [RBGW_LOG_DEBUG] = "debug",
};

/* syslog priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */
static const char *const journal_prefix[] = {
    [RBGW_LOG_ERROR] = "<3>",
    [RBGW_LOG_WARN] = "<4>",
    [RBGW_LOG_INFO] = "<6>",
    [RBGW_LOG_DEBUG] = "<7>",
};

static const char responder_what[] = "responder log lines";

/* One rate-limit key. */
struct slot {
    const char *what;          /* static label of the call site; NULL: free */
    char name[SLOT_NAME];      /* upstream name (cut), "" when none */
    enum rbgw_log_level level; /* of the lines, and of the summary */
    uint64_t window;           /* ms: start of the current window */
    uint32_t lines;            /* lines written in it */
    uint64_t suppressed;       /* lines counted since the last summary */
    uint64_t since;            /* ms: when the first of them came */
};

static struct {
    enum rbgw_log_format format; /* log-format= */
    bool journal;                /* "<N>" prefix */
    int fd;                      /* where lines go */
    int pid;                     /* cached getpid(); 0 until the first line */
    uint64_t (*mono_ns)(void);   /* NULL: rbgw_now_ns */
    uint64_t (*real_ns)(void);   /* NULL: CLOCK_REALTIME */
    struct slot slots[NSLOTS];   /* rate-limit keys */
    struct slot overflow;        /* shared by keys that found no free slot */
    uv_timer_t timer;            /* writes due summaries (when attached) */
    bool attached;               /* timer initialized on a loop */
    uint64_t timer_due;          /* ms: when the armed timer fires */
} st = {
    .format = RBGW_LOG_TEXT,
    .fd = STDERR_FILENO,
    .overflow = {.what = "log lines"},
};

/* ---- settings ---- */

void
rbgw_log_set_level(enum rbgw_log_level level)
{
    rbgw__log_level = level;
}

enum rbgw_log_level
rbgw_log_get_level(void)
{
    return rbgw__log_level;
}

void
rbgw_log_set_format(enum rbgw_log_format format)
{
    st.format = format;
}

void
rbgw_log_set_access(bool on)
{
    rbgw__log_access = on;
}

void
rbgw_log_set_journal(bool on)
{
    st.journal = on;
}

void
rbgw_log_set_fd(int fd)
{
    st.fd = fd;
}

void
rbgw_log_set_clocks(uint64_t (*mono_ns)(void), uint64_t (*real_ns)(void))
{
    st.mono_ns = mono_ns;
    st.real_ns = real_ns;
}

bool
rbgw__log_journal_matches(const char *env, uint64_t dev, uint64_t ino)
{
    if (env == NULL || *env < '0' || *env > '9') {
        return false;
    }
    char *end;
    errno = 0;
    unsigned long long d = strtoull(env, &end, 10);
    if (errno != 0 || *end != ':' || end[1] < '0' || end[1] > '9') {
        return false;
    }
    const char *p = end + 1;
    unsigned long long i = strtoull(p, &end, 10);
    if (errno != 0 || *end != '\0') {
        return false;
    }
    return d == dev && i == ino;
}

bool
rbgw_log_journal_detect(void)
{
    struct stat sb;
    const char *env = getenv("JOURNAL_STREAM");
    if (env == NULL || fstat(STDERR_FILENO, &sb) != 0) {
        return false;
    }
    return rbgw__log_journal_matches(env, (uint64_t)sb.st_dev, (uint64_t)sb.st_ino);
}

void
rbgw_log_configure(const struct rbgw_config *cfg)
{
    rbgw__log_level = cfg->log_level;
    rbgw__log_access = cfg->access_log;
    st.format = cfg->log_format;
    st.journal = rbgw_log_journal_detect();
}

static uint64_t
mono_ns(void)
{
    return st.mono_ns ? st.mono_ns() : rbgw_now_ns();
}

static uint64_t
real_ns(void)
{
    if (st.real_ns) {
        return st.real_ns();
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- formatting (pure) ---- */

/* A line being built: what does not fit is dropped, and `full` stops later fields. */
struct lb {
    char *p;      /* the buffer */
    size_t len;   /* bytes written */
    size_t limit; /* bytes usable; the MARGIN after it is for closing the line */
    bool full;    /* something did not fit */
};

static void
put(struct lb *b, const char *s, size_t n)
{
    if (b->full || b->len >= b->limit || n > b->limit - b->len) {
        b->full = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void
put_cstr(struct lb *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Text mode: bytes as they are, except that line breaks and tabs become spaces and other
 * control characters '?', so one event stays one line and a terminal stays sane. */
static void
put_text(struct lb *b, struct rbgw_str s)
{
    for (size_t i = 0; i < s.len && !b->full; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (b->len >= b->limit) {
            b->full = true;
            break;
        }
        if (c == '\n' || c == '\r' || c == '\t') {
            c = ' ';
        } else if (c < 0x20 || c == 0x7f) {
            c = '?';
        }
        b->p[b->len++] = (char)c;
    }
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong forms, no surrogates,
 * at most U+10FFFF), or 0 if the bytes there are not one. */
static size_t
utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    uint32_t cp, min;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        n = 2, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return n;
}

/*
 * JSON mode: s as a JSON string of at most maxout bytes between its quotes.  Escapes and UTF-8
 * sequences are written whole or not at all, so a cut string is still valid; the closing
 * quote always fits (it may use the margin).  Bytes that are not UTF-8 become U+FFFD, one per
 * byte.
 */
static void
put_jstr(struct lb *b, struct rbgw_str s, size_t maxout)
{
    static const char hex[] = "0123456789abcdef";
    if (b->full || b->len + 2 > b->limit) {
        b->full = true;
        return;
    }
    b->p[b->len++] = '"';
    size_t end = b->limit;
    if (maxout < end - b->len) {
        end = b->len + maxout;
    }
    const unsigned char *p = (const unsigned char *)s.p, *e = p + s.len;
    while (p < e) {
        char tmp[8];
        const char *out = tmp;
        size_t n, take = 1;
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            tmp[0] = '\\', tmp[1] = (char)c, n = 2;
        } else if (c < 0x20 || c == 0x7f) {
            const char *short_esc = c == '\n'   ? "\\n"
                                    : c == '\r' ? "\\r"
                                    : c == '\t' ? "\\t"
                                    : c == '\b' ? "\\b"
                                    : c == '\f' ? "\\f"
                                                : NULL;
            if (short_esc) {
                out = short_esc, n = 2;
            } else {
                memcpy(tmp, "\\u00", 4);
                tmp[4] = hex[c >> 4];
                tmp[5] = hex[c & 15];
                n = 6;
            }
        } else if (c < 0x80) {
            out = (const char *)p, n = 1;
        } else if ((take = utf8_len(p, e)) > 0) {
            out = (const char *)p, n = take;
        } else {
            out = "\\ufffd", n = 6, take = 1;
        }
        if (n > end - b->len) {
            if (end == b->limit) {
                b->full = true;
            }
            break;
        }
        memcpy(b->p + b->len, out, n);
        b->len += n;
        p += take;
    }
    b->p[b->len++] = '"'; /* within limit + 1: the margin holds it */
}

/* ,"key":"value" (left out when value.p is NULL). */
static void
jfield_str(struct lb *b, const char *key, struct rbgw_str value, size_t maxout)
{
    if (value.p == NULL) {
        return;
    }
    size_t klen = strlen(key);
    if (b->full || b->len + klen + 6 > b->limit) {
        b->full = true;
        return;
    }
    put(b, ",\"", 2);
    put(b, key, klen);
    put(b, "\":", 2);
    put_jstr(b, value, maxout);
}

/* The decimal text of v at out (room for 21 bytes); returns its length.  printf costs more
 * than the rest of a line together. */
static size_t
put_dec(char *out, long long v)
{
    char tmp[24];
    size_t n = 0;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0) {
        out[len++] = '-';
    }
    while (n) {
        out[len++] = tmp[--n];
    }
    return len;
}

static void
put_num(struct lb *b, long long v)
{
    char tmp[24];
    put(b, tmp, put_dec(tmp, v));
}

/* ,"key":N, written whole or not at all. */
static void
jfield_num(struct lb *b, const char *key, long long v)
{
    char tmp[64];
    size_t klen = strlen(key), n = 0;
    if (klen > sizeof(tmp) - 28) {
        return;
    }
    tmp[n++] = ',';
    tmp[n++] = '"';
    memcpy(tmp + n, key, klen);
    n += klen;
    tmp[n++] = '"';
    tmp[n++] = ':';
    n += put_dec(tmp + n, v);
    put(b, tmp, n);
}

/* "2024-05-01T12:00:00.123456Z" into out (32 bytes); the part up to the seconds is kept from
 * the last call, since lines come many per second. */
static void
format_ts(char *out, uint64_t ns)
{
    static time_t last = -1;
    static char secs_text[64];
    time_t secs = (time_t)(ns / 1000000000u);
    if (secs != last) {
        struct tm tm;
        gmtime_r(&secs, &tm);
        snprintf(secs_text, sizeof(secs_text), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        last = secs;
    }
    size_t n = strlen(secs_text);
    memcpy(out, secs_text, n);
    unsigned us = (unsigned)(ns % 1000000000u / 1000u);
    out[n++] = '.';
    for (int i = 5; i >= 0; i--, us /= 10) {
        out[n + (size_t)i] = (char)('0' + us % 10);
    }
    n += 6;
    out[n++] = 'Z';
    out[n] = '\0';
}

static void
format_json(struct lb *b, const struct rbgw__log_style *st_, const struct rbgw__log_line *l)
{
    char ts[48];
    format_ts(ts, st_->real_ns);
    put(b, "{\"ts\":\"", 7);
    put_cstr(b, ts);
    put(b, "\",\"level\":\"", 11);
    put_cstr(b, level_words[l->level]);
    put(b, "\"", 1);
    jfield_num(b, "pid", st_->pid);
    struct rbgw_str msg = l->outcome ? RBGW_STR("access") : l->msg;
    if (msg.p == NULL) {
        msg = RBGW_STR("");
    }
    size_t room = b->limit > b->len + MSG_RESERVE ? b->limit - b->len - MSG_RESERVE : 0;
    jfield_str(b, "msg", msg, room);
    if (l->request_id) {
        jfield_num(b, "request_id", (long long)l->request_id);
    }
    jfield_str(b, "listener", l->listener, FIELD_MAX);
    jfield_str(b, "upstream", l->upstream, FIELD_MAX);
    jfield_str(b, "method", l->method, FIELD_MAX);
    jfield_str(b, "qname", l->qname, FIELD_MAX);
    if (l->elapsed_us >= 0) {
        jfield_num(b, "elapsed_us", l->elapsed_us);
    }
    if (l->outcome) {
        jfield_str(b, "outcome", rbgw_str_cstr(l->outcome), FIELD_MAX);
        jfield_num(b, "bytes", l->bytes);
    }
    if (l->source) {
        jfield_str(b, "source", rbgw_str_cstr(l->source), FIELD_MAX);
    }
    if (l->suppressed) {
        jfield_num(b, "suppressed", (long long)l->suppressed);
    }
    b->p[b->len++] = '}';
}

/* " key=value" of an access line, "-" for a field that does not apply. */
static void
text_kv(struct lb *b, const char *key, struct rbgw_str v)
{
    put(b, " ", 1);
    put_cstr(b, key);
    put(b, "=", 1);
    put_text(b, v.p ? v : RBGW_STR("-"));
}

static void
format_text(struct lb *b, const struct rbgw__log_line *l)
{
    char num[32];
    if (l->outcome) {
        put(b, "access", 6);
        text_kv(b, "req", rbgw_str_make(num, put_dec(num, (long long)l->request_id)));
        text_kv(b, "listener", l->listener);
        text_kv(b, "method", l->method);
        text_kv(b, "qname", l->qname);
        text_kv(b, "upstream", l->upstream);
        text_kv(b, "outcome", rbgw_str_cstr(l->outcome));
        text_kv(b, "elapsed_us", rbgw_str_make(num, put_dec(num, l->elapsed_us)));
        text_kv(b, "bytes", rbgw_str_make(num, put_dec(num, l->bytes)));
        return;
    }
    /* Today's prefix: "req=17 lookup u=http#1: " or "u=http#1: ". */
    if (l->request_id) {
        put(b, "req=", 4);
        put_num(b, (long long)l->request_id);
        if (l->method.len) {
            put(b, " ", 1);
            put_text(b, l->method);
        }
        if (l->upstream.p) {
            put(b, " u=", 3);
            put_text(b, l->upstream);
        }
        put(b, ": ", 2);
    } else if (l->upstream.p) {
        put(b, "u=", 2);
        put_text(b, l->upstream);
        put(b, ": ", 2);
    }
    if (l->source) {
        put_cstr(b, l->source);
        put(b, ": ", 2);
    }
    put_text(b, l->msg);
}

size_t
rbgw__log_format(char *out, size_t cap, const struct rbgw__log_style *style,
                 const struct rbgw__log_line *l)
{
    struct lb b = {out, 0, cap - MARGIN, false};
    if (style->journal) {
        put_cstr(&b, journal_prefix[l->level]);
    }
    if (style->format == RBGW_LOG_JSON) {
        format_json(&b, style, l);
    } else {
        put(&b, "rbgw[", 5);
        put_num(&b, style->pid);
        put(&b, "]: ", 3);
        put_cstr(&b, level_words[l->level]);
        put(&b, ": ", 2);
        format_text(&b, l);
    }
    out[b.len++] = '\n';
    return b.len;
}

static int
hexval(unsigned char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static size_t
put_utf8(char *out, size_t at, size_t cap, uint32_t cp)
{
    char tmp[4];
    size_t n;
    if (cp < 0x80) {
        tmp[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        tmp[0] = (char)(0xc0 | cp >> 6), tmp[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    } else if (cp < 0x10000) {
        tmp[0] = (char)(0xe0 | cp >> 12), tmp[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        tmp[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    } else {
        tmp[0] = (char)(0xf0 | cp >> 18), tmp[1] = (char)(0x80 | (cp >> 12 & 0x3f));
        tmp[2] = (char)(0x80 | (cp >> 6 & 0x3f)), tmp[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    }
    if (n > cap - at) {
        return at;
    }
    memcpy(out + at, tmp, n);
    return at + n;
}

size_t
rbgw__log_json_unescape(struct rbgw_str text, char *out, size_t cap)
{
    if (text.len < 2 || text.p[0] != '"') {
        return 0;
    }
    const unsigned char *p = (const unsigned char *)text.p + 1;
    const unsigned char *e = (const unsigned char *)text.p + text.len - 1;
    size_t n = 0;
    while (p < e && n < cap) {
        if (*p != '\\') {
            out[n++] = (char)*p++;
            continue;
        }
        if (e - p < 2) {
            break;
        }
        unsigned char c = p[1];
        p += 2;
        if (c != 'u') {
            out[n++] = c == 'n'   ? '\n'
                       : c == 'r' ? '\r'
                       : c == 't' ? '\t'
                       : c == 'b' ? '\b'
                       : c == 'f' ? '\f'
                                  : (char)c;
            continue;
        }
        if (e - p < 4) {
            break;
        }
        uint32_t cp = 0;
        for (int i = 0; i < 4; i++) {
            cp = cp << 4 | (uint32_t)hexval(p[i]);
        }
        p += 4;
        if (cp >= 0xd800 && cp <= 0xdbff && e - p >= 6 && p[0] == '\\' && p[1] == 'u') {
            uint32_t lo = 0;
            for (int i = 0; i < 4; i++) {
                lo = lo << 4 | (uint32_t)hexval(p[2 + i]);
            }
            if (lo >= 0xdc00 && lo <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }
        }
        if (cp >= 0xd800 && cp <= 0xdfff) {
            cp = 0xfffd;
        }
        size_t at = put_utf8(out, n, cap, cp);
        if (at == n) {
            break;
        }
        n = at;
    }
    return n;
}

/* ---- request fields ---- */

static struct rbgw_str
method_of(const struct rbgw_request *req)
{
    const struct rbgw_method_info *row = rbgw_method_info(req->call.mid);
    if (req->call.mid != RBGW_M_UNKNOWN) {
        return rbgw_str_make(row->name, row->len);
    }
    return req->call.method.len ? req->call.method : RBGW_STR_NULL;
}

/* The DNS name the call is about, for a line being written: from the tree when the call has
 * one, else by scanning its text (the row's callname parameter, and member). */
static struct rbgw_str
qname_of(const struct rbgw_request *req, char *buf, size_t cap)
{
    if (req->parsed) {
        return rbgw_call_name(req->call.mid, req->call.params);
    }
    const struct rbgw_method_info *row = rbgw_method_info(req->call.mid);
    if (row->callname == NULL || req->raw.len == 0) {
        return RBGW_STR_NULL;
    }
    const struct rbgw_jscan_watch w = {"parameters", row->callname};
    struct rbgw_str v;
    if (rbgw_json_scan(req->raw.p, req->raw.len, &w, 1, &v, NULL) != RBGW_JSCAN_OK || v.p == NULL) {
        return RBGW_STR_NULL;
    }
    if (row->callname_member != NULL) {
        const struct rbgw_jscan_watch m = {row->callname_member, NULL};
        struct rbgw_str mv;
        if (v.p[0] != '{' || rbgw_json_scan(v.p, v.len, &m, 1, &mv, NULL) != RBGW_JSCAN_OK ||
            mv.p == NULL) {
            return RBGW_STR_NULL;
        }
        v = mv;
    }
    if (v.p[0] != '"') {
        return RBGW_STR_NULL;
    }
    if (memchr(v.p, '\\', v.len) == NULL) {
        return rbgw_str_make(v.p + 1, v.len - 2);
    }
    return rbgw_str_make(buf, rbgw__log_json_unescape(v, buf, cap));
}

/* The fields of a line about req and/or u (NULL: req->upstream). */
static void
fill(struct rbgw__log_line *l, enum rbgw_log_level level, const struct rbgw_request *req,
     const struct rbgw_upstream *u, bool want_qname, char *qbuf)
{
    memset(l, 0, sizeof(*l));
    l->level = level;
    l->elapsed_us = -1;
    l->bytes = -1;
    if (u == NULL && req != NULL) {
        u = req->upstream;
    }
    if (u != NULL && u->name != NULL) {
        l->upstream = rbgw_str_cstr(u->name);
    }
    if (req == NULL) {
        return;
    }
    l->request_id = req->id;
    const struct rbgw_listener *lis = req->session ? req->session->l : NULL;
    if (lis != NULL && lis->conf != NULL && lis->conf->text != NULL) {
        l->listener = rbgw_str_cstr(lis->conf->text);
    }
    l->method = method_of(req);
    uint64_t now = mono_ns();
    l->elapsed_us = now > req->start_ns ? (int64_t)((now - req->start_ns) / 1000) : 0;
    if (want_qname) {
        l->qname = qname_of(req, qbuf, QNAME_MAX);
    }
}

static void
emit(const struct rbgw__log_line *l)
{
    char buf[RBGW__LOG_LINE_MAX];
    if (st.pid == 0) {
        st.pid = (int)getpid();
    }
    struct rbgw__log_style style = {st.format, st.journal, st.pid,
                                    st.format == RBGW_LOG_JSON ? real_ns() : 0};
    size_t n = rbgw__log_format(buf, sizeof(buf), &style, l);
    ssize_t rc = write(st.fd, buf, n);
    RBGW_UNUSED(rc);
}

/* ---- rate limiting ---- */

static uint64_t
mono_ms(void)
{
    return mono_ns() / 1000000u;
}

static void
write_summary(struct slot *s, uint64_t now)
{
    char msg[256];
    uint64_t ms = now > s->since ? now - s->since : 0;
    snprintf(msg, sizeof(msg), "%s (%llu similar message%s suppressed in the last %llu.%llu s)",
             s->what, (unsigned long long)s->suppressed, s->suppressed == 1 ? "" : "s",
             (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000 / 100));
    struct rbgw__log_line l;
    fill(&l, s->level, NULL, NULL, false, NULL);
    l.msg = rbgw_str_cstr(msg);
    if (s->name[0]) {
        l.upstream = rbgw_str_cstr(s->name);
    }
    l.suppressed = s->suppressed;
    s->suppressed = 0;
    emit(&l);
}

/* Write the summaries that are due (all pending ones when force); returns the earliest time
 * a pending one falls due, or UINT64_MAX. */
static uint64_t
flush_slots(uint64_t now, bool force)
{
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i <= NSLOTS; i++) {
        struct slot *s = i < NSLOTS ? &st.slots[i] : &st.overflow;
        if (s->suppressed == 0) {
            continue;
        }
        uint64_t due = s->window + RBGW_LOG_WINDOW_MS;
        if (force || now >= due) {
            write_summary(s, now);
        } else if (due < next) {
            next = due;
        }
    }
    return next;
}

static void on_timer(uv_timer_t *t);

static void
arm_timer(uint64_t due, uint64_t now)
{
    if (!st.attached || (uv_is_active((uv_handle_t *)&st.timer) && st.timer_due <= due)) {
        return;
    }
    st.timer_due = due;
    uv_timer_start(&st.timer, on_timer, due > now ? due - now : 0, 0);
}

static void
on_timer(uv_timer_t *t)
{
    RBGW_UNUSED(t);
    uint64_t now = mono_ms();
    uint64_t next = flush_slots(now, false);
    if (next != UINT64_MAX) {
        arm_timer(next, now);
    }
}

void
rbgw_log_attach_loop(uv_loop_t *loop)
{
    if (st.attached) {
        return;
    }
    uv_timer_init(loop, &st.timer);
    uv_unref((uv_handle_t *)&st.timer);
    st.attached = true;
}

void
rbgw_log_detach_loop(void)
{
    rbgw_log_flush();
    if (!st.attached) {
        return;
    }
    st.attached = false;
    uv_close((uv_handle_t *)&st.timer, NULL);
}

void
rbgw_log_flush(void)
{
    flush_slots(mono_ms(), true);
}

static struct slot *
find_slot(const char *what, const char *name)
{
    size_t h = (size_t)((uintptr_t)what >> 3);
    for (const char *p = name; *p; p++) {
        h = h * 31 + (unsigned char)*p;
    }
    for (size_t i = 0; i < NSLOTS; i++) {
        struct slot *s = &st.slots[(h + i) % NSLOTS];
        if (s->what == NULL) {
            s->what = what;
            snprintf(s->name, sizeof(s->name), "%s", name);
            s->window = 0;
            s->lines = 0;
            return s;
        }
        if (s->what == what && strncmp(s->name, name, SLOT_NAME - 1) == 0) {
            return s;
        }
    }
    return &st.overflow;
}

/* May a line of this key be written now?  Writes the summary of a window that ended. */
static bool
admit(enum rbgw_log_level level, const char *what, const struct rbgw_upstream *u)
{
    struct slot *s = find_slot(what, u != NULL && u->name != NULL ? u->name : "");
    uint64_t now = mono_ms();
    s->level = level;
    if (s->lines == 0 || now >= s->window + RBGW_LOG_WINDOW_MS) {
        if (s->suppressed) {
            write_summary(s, now);
        }
        s->window = now;
        s->lines = 0;
    }
    if (s->lines < RBGW_LOG_BURST) {
        s->lines++;
        return true;
    }
    if (s->suppressed++ == 0) {
        s->since = now;
        arm_timer(s->window + RBGW_LOG_WINDOW_MS, now);
    }
    return false;
}

/* ---- the entry points ---- */

void
rbgw_log(enum rbgw_log_level level, const char *fmt, ...)
{
    if (!rbgw_log_enabled(level)) {
        return;
    }
    char msg[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct rbgw__log_line l;
    fill(&l, level, NULL, NULL, false, NULL);
    l.msg = rbgw_str_make(msg, m < 0 ? 0 : (size_t)m < sizeof(msg) ? (size_t)m : sizeof(msg) - 1);
    emit(&l);
}

static void vrlog(enum rbgw_log_level level, const struct rbgw_request *req,
                  const struct rbgw_upstream *u, const char *fmt, va_list ap) RBGW_PRINTF(4, 0);

static void
vrlog(enum rbgw_log_level level, const struct rbgw_request *req, const struct rbgw_upstream *u,
      const char *fmt, va_list ap)
{
    char msg[MSG_MAX], qbuf[QNAME_MAX];
    int m = vsnprintf(msg, sizeof(msg), fmt, ap);
    struct rbgw__log_line l;
    fill(&l, level, req, u, st.format == RBGW_LOG_JSON, qbuf);
    l.msg = rbgw_str_make(msg, m < 0 ? 0 : (size_t)m < sizeof(msg) ? (size_t)m : sizeof(msg) - 1);
    emit(&l);
}

void
rbgw_rlog(enum rbgw_log_level level, const struct rbgw_request *req, const struct rbgw_upstream *u,
          const char *fmt, ...)
{
    if (!rbgw_log_enabled(level)) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vrlog(level, req, u, fmt, ap);
    va_end(ap);
}

void
rbgw_rlog_limited(enum rbgw_log_level level, const char *what, const struct rbgw_request *req,
                  const struct rbgw_upstream *u, const char *fmt, ...)
{
    if (!rbgw_log_enabled(level) || !admit(level, what,
                                           u != NULL     ? u
                                           : req != NULL ? req->upstream
                                                         : NULL)) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vrlog(level, req, u, fmt, ap);
    va_end(ap);
}

void
rbgw_access_log(const struct rbgw_request *req, const char *outcome, struct rbgw_str reply)
{
    if (!rbgw_log_enabled(RBGW_LOG_INFO)) {
        return;
    }
    char qbuf[QNAME_MAX];
    struct rbgw__log_line l;
    fill(&l, RBGW_LOG_INFO, req, NULL, true, qbuf);
    l.outcome = outcome;
    l.bytes = (int64_t)reply.len;
    emit(&l);
}

static void
responder_line(const struct rbgw_request *req, const struct rbgw_upstream *u, struct rbgw_str text)
{
    char qbuf[QNAME_MAX];
    struct rbgw__log_line l;
    fill(&l, RBGW_LOG_INFO, req, u, st.format == RBGW_LOG_JSON, qbuf);
    l.msg = text;
    l.source = "responder";
    emit(&l);
}

static void
responder_more(const struct rbgw_request *req, const struct rbgw_upstream *u, size_t more)
{
    char msg[96];
    snprintf(msg, sizeof(msg), "(%zu more log line%s not shown)", more, more == 1 ? "" : "s");
    if (admit(RBGW_LOG_INFO, responder_what, u)) {
        responder_line(req, u, rbgw_str_cstr(msg));
    }
}

void
rbgw_log_responder(const struct rbgw_request *req, const struct rbgw_upstream *u,
                   struct rbgw_str log)
{
    if (!rbgw_log_enabled(RBGW_LOG_INFO) || u == NULL || log.len == 0) {
        return;
    }
    struct rbgw_str items[RESPONDER_LINES];
    size_t n;
    if (rbgw_json_scan_items(log.p, log.len, items, RESPONDER_LINES, &n) != RBGW_JSCAN_OK ||
        log.p[0] != '[') {
        return;
    }
    for (size_t i = 0; i < n && i < RESPONDER_LINES; i++) {
        if (!admit(RBGW_LOG_INFO, responder_what, u)) {
            continue; /* counted; not decoded */
        }
        char buf[MSG_MAX];
        struct rbgw_str text = items[i];
        if (text.p[0] == '"') {
            text = rbgw_str_make(buf, rbgw__log_json_unescape(items[i], buf, sizeof(buf)));
        }
        responder_line(req, u, text);
    }
    if (n > RESPONDER_LINES) {
        responder_more(req, u, n - RESPONDER_LINES);
    }
}

void
rbgw_log_responder_tree(const struct rbgw_request *req, const struct rbgw_upstream *u,
                        const struct rbgw_json *log)
{
    if (!rbgw_log_enabled(RBGW_LOG_INFO) || u == NULL || log == NULL ||
        log->type != RBGW_JSON_ARRAY) {
        return;
    }
    size_t i = 0;
    for (const struct rbgw_json *c = log->child; c; c = c->next, i++) {
        if (i == RESPONDER_LINES) {
            size_t more = 0;
            for (; c; c = c->next) {
                more++;
            }
            responder_more(req, u, more);
            return;
        }
        if (!admit(RBGW_LOG_INFO, responder_what, u)) {
            continue;
        }
        if (c->type == RBGW_JSON_STRING) {
            responder_line(req, u, c->str);
            continue;
        }
        struct rbgw_buf b = RBGW_BUF_INIT;
        rbgw_json_write(&b, c);
        responder_line(req, u, rbgw_buf_str(&b));
        rbgw_buf_free(&b);
    }
}

/*
 * fast_responder.c: a deliberately cheap PowerDNS remote-backend responder for benchmarks.
 *
 * What: one process, one thread, one epoll loop.  It serves a fixed zone `example.com.`
 * (SOA, NS, ns1 A, www A) in three dialects at once:
 *
 *   - HTTP/1.1 keep-alive, pdns's REST form (docs/protocol.md §5): `GET
 * <prefix>/lookup/<qname>/<qtype>`,
 *     `/list/<id>/<zone>`, `/getDomainInfo/<zone>`, `/getAllDomains`, `/getAllDomainMetadata/..`,
 *     `/getDomainMetadata/..`; everything else gets `{"result":false}`.  A POST to exactly
 *     `<prefix>` is read as post_json (§4.6): the body is a JSON-RPC request object.
 *   - the line protocol (pipe/unix, §4.1-§4.2) on stdin/stdout with --pipe, or on a unix
 *     socket with --unix=PATH: one JSON request per line in, one JSON reply per line out.
 *
 * --delay-ms=N makes it a slow responder (a database behind it): every reply is held N ms
 * before it is written, without blocking the other connections (each connection's replies
 * stay in order; in --pipe mode, which serves one call at a time, it sleeps).  The read-cache
 * benchmark (bench/cache.sh) uses it.  --spaced writes replies as Python's json.dumps does
 * (a space after every ',' and ':'), as many real responders do.
 *
 * Why: the benchmarks in this directory measure what rbgw adds to a call, so the responder
 * must cost as little and vary as little as possible.  Replies are built from record JSON
 * fragments rendered once at start-up; requests are parsed by hand (request line, two headers,
 * Content-Length body; pipelined requests are answered in order); replies are written with one
 * write() per read batch.  It is a bench tool, not a server: no chunked request bodies, no
 * limits beyond a 64 KiB header cap, and the JSON "parser" only picks out the handful of
 * string members it needs (method, qname, qtype, name, zonename).
 *
 * Ownership: every struct conn is malloc'ed on accept and freed by conn_close(); buffers
 * belong to their conn.  Nothing is ever written to stdout except line-protocol replies in
 * --pipe mode; messages go to stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADER 65536
#define MAX_SEGS 8
#define MAX_SEG_LEN 1024

/* ---- growable byte buffer --------------------------------------------------------------- */

struct buf {
    char *p;    /* owned storage */
    size_t len; /* bytes in use, from p */
    size_t off; /* bytes already consumed (in) or written (out), from p */
    size_t cap; /* allocated size */
};

static void
buf_reserve(struct buf *b, size_t extra)
{
    if (b->len + extra <= b->cap) {
        return;
    }
    if (b->off > 0) {
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->len + extra <= b->cap) {
            return;
        }
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) {
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        perror("fast_responder: realloc");
        exit(1);
    }
    b->p = p;
    b->cap = cap;
}

static void
buf_add(struct buf *b, const void *d, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void
buf_adds(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void
buf_consume(struct buf *b, size_t n)
{
    b->off += n;
    if (b->off == b->len) {
        b->off = 0;
        b->len = 0;
    }
}

/* ---- the zone ---------------------------------------------------------------------------- */

struct rec {
    const char *qname;   /* lowercase, absolute */
    const char *qtype;   /* mnemonic */
    const char *content; /* presentation form */
    int ttl;             /* seconds */
};

static const char zone_name[] = "example.com.";

static const struct rec zone[] = {
    {"example.com.", "SOA",
     "ns1.example.com. hostmaster.example.com. 2024010101 10800 3600 604800 3600", 3600},
    {"example.com.", "NS", "ns1.example.com.", 3600},
    {"ns1.example.com.", "A", "192.0.2.53", 3600},
    {"www.example.com.", "A", "192.0.2.1", 300},
};

#define NRECS (sizeof(zone) / sizeof(zone[0]))

static char *rec_json[NRECS]; /* rendered once in render_zone(); never freed */

static const char domain_info_json[] =
    "{\"id\":1,\"zone\":\"example.com.\",\"kind\":\"native\",\"serial\":2024010101,"
    "\"notified_serial\":0,\"last_check\":0,\"masters\":[]}";

static void
render_zone(void)
{
    for (size_t i = 0; i < NRECS; i++) {
        char tmp[512];
        int n = snprintf(tmp, sizeof(tmp),
                         "{\"qtype\":\"%s\",\"qname\":\"%s\",\"content\":\"%s\",\"ttl\":%d,"
                         "\"domain_id\":1,\"auth\":1}",
                         zone[i].qtype, zone[i].qname, zone[i].content, zone[i].ttl);
        if (n < 0 || (size_t)n >= sizeof(tmp)) {
            abort();
        }
        rec_json[i] = strdup(tmp);
        if (rec_json[i] == NULL) {
            abort();
        }
    }
}

/* The decoded arguments one call needs; pointers into request-local storage. */
struct call {
    const char *method; /* e.g. "lookup" */
    const char *qname;  /* lookup */
    const char *qtype;  /* lookup */
    const char *name;   /* getDomainInfo, list's zonename, metadata */
};

static bool
name_eq(const char *a, const char *b)
{
    /* Names compare case-insensitively; a missing trailing dot is tolerated. */
    size_t la = strlen(a);
    size_t lb = strlen(b);
    if (la > 0 && a[la - 1] == '.') {
        la--;
    }
    if (lb > 0 && b[lb - 1] == '.') {
        lb--;
    }
    return la == lb && strncasecmp(a, b, la) == 0;
}

static void
add_records(struct buf *out, const char *qname, const char *qtype)
{
    size_t n = 0;
    for (size_t i = 0; i < NRECS; i++) {
        if (qname != NULL && !name_eq(qname, zone[i].qname)) {
            continue;
        }
        if (qtype != NULL && strcmp(qtype, "ANY") != 0 && strcasecmp(qtype, zone[i].qtype) != 0) {
            continue;
        }
        buf_adds(out, n == 0 ? "[" : ",");
        buf_adds(out, rec_json[i]);
        n++;
    }
    buf_adds(out, n == 0 ? "false" : "]");
}

static bool verbose; /* --verbose: one stderr line per call */
static bool spaced;  /* --spaced: ", " and ": " between members, as Python's json.dumps */

/* Rewrite out's bytes from start on with a space after every ',' and ':' outside strings. */
static void
space_out(struct buf *out, size_t start)
{
    static char tmp[16384];
    size_t n = out->len - start;
    if (n > sizeof(tmp)) {
        return;
    }
    memcpy(tmp, out->p + start, n);
    out->len = start;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char ch = tmp[i];
        buf_add(out, &ch, 1);
        if (in_str) {
            if (ch == '\\' && i + 1 < n) {
                buf_add(out, &tmp[++i], 1);
            } else if (ch == '"') {
                in_str = false;
            }
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == ',' || ch == ':') {
            buf_add(out, " ", 1);
        }
    }
}

/* Calls per method name, printed on exit: shows what pdns asks per DNS query. */
#define MAX_METHODS 48
static struct {
    char name[40];            /* method name, "" for an unused slot */
    unsigned long long count; /* calls seen */
} method_stats[MAX_METHODS];

static void
count_method(const char *m)
{
    for (size_t i = 0; i < MAX_METHODS; i++) {
        if (method_stats[i].name[0] == '\0') {
            snprintf(method_stats[i].name, sizeof(method_stats[i].name), "%s", m);
        }
        if (strncmp(method_stats[i].name, m, sizeof(method_stats[i].name) - 1) == 0) {
            method_stats[i].count++;
            return;
        }
    }
}

/* Append the complete reply object for c to out (no newline). */
static void
answer(struct buf *out, const struct call *c)
{
    const char *m = c->method != NULL ? c->method : "";

    count_method(m[0] != '\0' ? m : "(none)");
    if (verbose) {
        fprintf(stderr, "fast_responder: %s qname=%s qtype=%s name=%s\n", m,
                c->qname != NULL ? c->qname : "-", c->qtype != NULL ? c->qtype : "-",
                c->name != NULL ? c->name : "-");
    }

    size_t start = out->len;
    buf_adds(out, "{\"result\":");
    if (strcmp(m, "lookup") == 0 && c->qname != NULL && c->qtype != NULL) {
        add_records(out, c->qname, c->qtype);
    } else if (strcmp(m, "list") == 0 && c->name != NULL && name_eq(c->name, zone_name)) {
        add_records(out, NULL, NULL);
    } else if (strcmp(m, "getDomainInfo") == 0 && c->name != NULL && name_eq(c->name, zone_name)) {
        buf_adds(out, domain_info_json);
    } else if (strcmp(m, "getAllDomains") == 0) {
        buf_adds(out, "[");
        buf_adds(out, domain_info_json);
        buf_adds(out, "]");
    } else if (strcmp(m, "getAllDomainMetadata") == 0) {
        buf_adds(out, "{}");
    } else if (strcmp(m, "getDomainMetadata") == 0) {
        buf_adds(out, "[]");
    } else if (strcmp(m, "initialize") == 0) {
        buf_adds(out, "true");
    } else {
        buf_adds(out, "false");
    }
    buf_adds(out, "}");
    if (spaced) {
        space_out(out, start);
    }
}

/* ---- JSON-RPC requests (line protocol and post_json) ------------------------------------ */

/*
 * Find `"key"` followed by `:` and a string value in json[0..len) and copy the unescaped
 * value to dst.  Good enough for pdns's requests, whose string members never repeat a key
 * name; \uXXXX escapes are kept as written (the zone has no such names).
 */
static bool
json_str(const char *json, size_t len, const char *key, char *dst, size_t dstlen)
{
    char pat[64];
    int pl = snprintf(pat, sizeof(pat), "\"%s\"", key);
    if (pl < 0 || (size_t)pl >= sizeof(pat)) {
        return false;
    }
    const char *end = json + len;
    const char *p = memmem(json, len, pat, (size_t)pl);
    if (p == NULL) {
        return false;
    }
    p += pl;
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    if (p >= end || *p != ':') {
        return false;
    }
    p++;
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    if (p >= end || *p != '"') {
        return false;
    }
    p++;
    size_t n = 0;
    while (p < end && *p != '"') {
        char ch = *p++;
        if (ch == '\\' && p < end) {
            ch = *p++;
        }
        if (n + 1 >= dstlen) {
            return false;
        }
        dst[n++] = ch;
    }
    dst[n] = '\0';
    return p < end;
}

static void
answer_json(struct buf *out, const char *json, size_t len)
{
    char method[64], qname[MAX_SEG_LEN], qtype[32], name[MAX_SEG_LEN];
    struct call c = {0};

    if (json_str(json, len, "method", method, sizeof(method))) {
        c.method = method;
    }
    if (json_str(json, len, "qname", qname, sizeof(qname))) {
        c.qname = qname;
    }
    if (json_str(json, len, "qtype", qtype, sizeof(qtype))) {
        c.qtype = qtype;
    }
    if (json_str(json, len, "name", name, sizeof(name)) ||
        json_str(json, len, "zonename", name, sizeof(name))) {
        c.name = name;
    }
    answer(out, &c);
}

/* ---- HTTP REST requests ------------------------------------------------------------------ */

static const char *prefix = "/dns"; /* --prefix: the path of the url= pdns is given */
static size_t prefix_len = 4;

static int
hexval(int ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    if (ch >= 'A' && ch <= 'F') {
        return ch - 'A' + 10;
    }
    return -1;
}

/* Percent-decode src[0..n) into dst (NUL-terminated); false if it does not fit. */
static bool
pct_decode(const char *src, size_t n, char *dst, size_t dstlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)src[i];
        if (ch == '%' && i + 2 < n) {
            int hi = hexval(src[i + 1]);
            int lo = hexval(src[i + 2]);
            if (hi >= 0 && lo >= 0) {
                ch = hi * 16 + lo;
                i += 2;
            }
        }
        if (o + 1 >= dstlen) {
            return false;
        }
        dst[o++] = (char)ch;
    }
    dst[o] = '\0';
    return true;
}

/* Case-insensitive header value lookup in the header block hdr[0..len). */
static const char *
header_value(const char *hdr, size_t len, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = hdr;
    const char *end = hdr + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL) {
            eol = end;
        }
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t')) {
                v++;
            }
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) {
                ve--;
            }
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol + 1;
    }
    return NULL;
}

static void
http_reply(struct buf *out, int status, const char *body, size_t blen, bool close_after)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: %s\r\n\r\n",
                     status,
                     status == 200   ? "OK"
                     : status == 404 ? "Not Found"
                                     : "Bad Request",
                     blen, close_after ? "close" : "keep-alive");
    buf_add(out, head, (size_t)n);
    buf_add(out, body, blen);
}

/*
 * Answer one complete request: verb and target from the request line, body of blen bytes.
 * Returns the HTTP status it used.
 */
static int
http_answer(struct buf *out, struct buf *scratch, const char *verb, size_t verblen,
            const char *target, size_t tlen, const char *body, size_t blen, bool close_after)
{
    const char *q = memchr(target, '?', tlen);
    size_t plen = q != NULL ? (size_t)(q - target) : tlen;

    scratch->len = 0;
    scratch->off = 0;

    if (plen < prefix_len || memcmp(target, prefix, prefix_len) != 0 ||
        (plen > prefix_len && target[prefix_len] != '/')) {
        buf_adds(scratch, "{\"result\":false}");
        http_reply(out, 404, scratch->p, scratch->len, close_after);
        return 404;
    }
    if (plen <= prefix_len + 1) {
        /* post_json: the whole request object is the body. */
        if (verblen == 4 && memcmp(verb, "POST", 4) == 0 && blen > 0) {
            answer_json(scratch, body, blen);
        } else {
            buf_adds(scratch, "{\"result\":false}");
        }
        http_reply(out, 200, scratch->p, scratch->len, close_after);
        return 200;
    }

    /* Split the path after the prefix on '/' before decoding (docs/protocol.md §8.8). */
    static char segs[MAX_SEGS][MAX_SEG_LEN];
    size_t nseg = 0;
    const char *p = target + prefix_len + 1;
    const char *pend = target + plen;
    while (nseg < MAX_SEGS) {
        const char *slash = memchr(p, '/', (size_t)(pend - p));
        const char *se = slash != NULL ? slash : pend;
        if (!pct_decode(p, (size_t)(se - p), segs[nseg], MAX_SEG_LEN)) {
            segs[nseg][0] = '\0';
        }
        nseg++;
        if (slash == NULL) {
            break;
        }
        p = slash + 1;
    }

    struct call c = {.method = segs[0]};
    if (strcmp(c.method, "lookup") == 0 && nseg >= 3) {
        c.qname = segs[1];
        c.qtype = segs[2];
    } else if (strcmp(c.method, "list") == 0 && nseg >= 3) {
        c.name = segs[2];
    } else if (nseg >= 2) {
        c.name = segs[1];
    }
    answer(scratch, &c);
    http_reply(out, 200, scratch->p, scratch->len, close_after);
    return 200;
}

/* ---- connections and the loop ------------------------------------------------------------ */

enum proto {
    PROTO_HTTP, /* REST / post_json */
    PROTO_LINE, /* one JSON object per line (pipe/unix) */
};

enum kind {
    KIND_LISTENER,
    KIND_CONN,
};

struct listener {
    enum kind kind;   /* KIND_LISTENER; first member, read through the epoll pointer */
    int fd;           /* listening socket */
    enum proto proto; /* what accepted connections speak */
};

/* A reply held back by --delay-ms: its bytes are the next ones held at the end of out. */
struct held {
    unsigned long long due; /* monotonic ms from which it may be written */
    size_t len;             /* its bytes */
};

struct conn {
    enum kind kind;     /* KIND_CONN */
    int fd;             /* owned socket */
    enum proto proto;   /* from its listener */
    struct buf in;      /* unparsed input */
    struct buf out;     /* replies not yet written (the last `held_bytes` not yet due) */
    bool want_out;      /* EPOLLOUT registered */
    bool close_after;   /* close once out drains (Connection: close or a protocol error) */
    struct held *held;  /* owned: --delay-ms replies not yet due, oldest first (a ring) */
    size_t held_first;  /* ring index of the oldest */
    size_t held_n;      /* entries in the ring */
    size_t held_cap;    /* ring size */
    size_t held_bytes;  /* bytes at the end of out that are not due yet */
    struct conn *dprev; /* on the delayed list while held_n > 0 */
    struct conn *dnext; /* ditto */
};

static int epfd = -1;
static volatile sig_atomic_t stop_flag;
static unsigned delay_ms;         /* --delay-ms: hold every reply this long */
static bool pipe_mode;            /* --pipe: one blocking call at a time on stdin/stdout */
static struct conn *delayed;      /* conns holding replies back (doubly linked) */
static unsigned long long ncalls; /* requests answered, reported on exit */
static bool quiet;
static struct buf scratch; /* reply body being built; reused by every request */

static void
on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static unsigned long long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

static void
delayed_unlink(struct conn *c)
{
    if (c->dprev != NULL) {
        c->dprev->dnext = c->dnext;
    } else if (delayed == c) {
        delayed = c->dnext;
    }
    if (c->dnext != NULL) {
        c->dnext->dprev = c->dprev;
    }
    c->dprev = c->dnext = NULL;
}

/* The last len bytes appended to c->out are a reply: hold them for delay_ms. */
static void
hold_reply(struct conn *c, size_t len)
{
    if (c->held_n == c->held_cap) {
        size_t cap = c->held_cap ? c->held_cap * 2 : 8;
        struct held *h = malloc(cap * sizeof(*h));
        if (h == NULL) {
            perror("fast_responder: malloc");
            exit(1);
        }
        for (size_t i = 0; i < c->held_n; i++) {
            h[i] = c->held[(c->held_first + i) % c->held_cap];
        }
        free(c->held);
        c->held = h;
        c->held_cap = cap;
        c->held_first = 0;
    }
    c->held[(c->held_first + c->held_n) % c->held_cap] =
        (struct held){.due = now_ms() + delay_ms, .len = len};
    if (c->held_n++ == 0) {
        c->dprev = NULL;
        c->dnext = delayed;
        if (delayed != NULL) {
            delayed->dprev = c;
        }
        delayed = c;
    }
    c->held_bytes += len;
}

/* Let the replies of c that are due at now go; true if any did. */
static bool
release_due(struct conn *c, unsigned long long now)
{
    bool any = false;
    while (c->held_n > 0 && c->held[c->held_first].due <= now) {
        c->held_bytes -= c->held[c->held_first].len;
        c->held_first = (c->held_first + 1) % c->held_cap;
        c->held_n--;
        any = true;
    }
    if (c->held_n == 0) {
        delayed_unlink(c);
    }
    return any;
}

/* epoll_wait's timeout: until the next held reply is due (-1: none held). */
static int
next_timeout(void)
{
    if (delayed == NULL) {
        return -1;
    }
    unsigned long long now = now_ms(), due = ~0ULL;
    for (struct conn *c = delayed; c != NULL; c = c->dnext) {
        if (c->held[c->held_first].due < due) {
            due = c->held[c->held_first].due;
        }
    }
    return due <= now ? 0 : (int)(due - now);
}

static void
conn_close(struct conn *c)
{
    delayed_unlink(c);
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->in.p);
    free(c->out.p);
    free(c->held);
    free(c);
}

/* Parse and answer every complete request in c->in.  Returns false on a protocol error. */
static bool
conn_process(struct conn *c)
{
    while (c->in.len > c->in.off && !c->close_after) {
        const char *base = c->in.p + c->in.off;
        size_t avail = c->in.len - c->in.off;

        if (c->proto == PROTO_LINE) {
            const char *nl = memchr(base, '\n', avail);
            if (nl == NULL) {
                break;
            }
            size_t linelen = (size_t)(nl - base);
            /* Blank lines are leading whitespace of the next request. */
            size_t i = 0;
            while (i < linelen && (base[i] == ' ' || base[i] == '\r' || base[i] == '\t')) {
                i++;
            }
            if (i < linelen) {
                scratch.len = 0;
                scratch.off = 0;
                answer_json(&scratch, base, linelen);
                buf_add(&c->out, scratch.p, scratch.len);
                buf_add(&c->out, "\n", 1);
                ncalls++;
                if (delay_ms > 0 && !pipe_mode) {
                    hold_reply(c, scratch.len + 1);
                }
            }
            buf_consume(&c->in, linelen + 1);
            continue;
        }

        const char *he = memmem(base, avail, "\r\n\r\n", 4);
        if (he == NULL) {
            if (avail > MAX_HEADER) {
                return false;
            }
            break;
        }
        size_t hlen = (size_t)(he - base) + 4;
        const char *sp1 = memchr(base, ' ', hlen);
        const char *sp2 =
            sp1 != NULL ? memchr(sp1 + 1, ' ', hlen - (size_t)(sp1 + 1 - base)) : NULL;
        if (sp1 == NULL || sp2 == NULL) {
            return false;
        }
        size_t vlen = 0;
        size_t clen = 0;
        const char *v = header_value(base, hlen, "Content-Length", &vlen);
        if (v != NULL) {
            clen = (size_t)strtoull(v, NULL, 10);
        }
        if (header_value(base, hlen, "Transfer-Encoding", &vlen) != NULL) {
            return false; /* chunked request bodies: not needed by any pdns connector */
        }
        if (avail < hlen + clen) {
            break;
        }
        v = header_value(base, hlen, "Connection", &vlen);
        bool close_after = v != NULL && vlen == 5 && strncasecmp(v, "close", 5) == 0;
        size_t before = c->out.len - c->out.off;
        http_answer(&c->out, &scratch, base, (size_t)(sp1 - base), sp1 + 1, (size_t)(sp2 - sp1 - 1),
                    base + hlen, clen, close_after);
        ncalls++;
        if (delay_ms > 0) {
            hold_reply(c, c->out.len - c->out.off - before);
        }
        buf_consume(&c->in, hlen + clen);
        c->close_after = close_after;
    }
    return true;
}

/* Write as much of c->out as the socket takes.  Returns false if the conn must close. */
static bool
conn_flush(struct conn *c)
{
    while (c->out.len - c->out.off > c->held_bytes) {
        ssize_t n = write(c->fd, c->out.p + c->out.off, c->out.len - c->out.off - c->held_bytes);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                break;
            }
            return false;
        }
        buf_consume(&c->out, (size_t)n);
    }
    if (c->out.len == c->out.off && c->close_after) {
        return false;
    }
    bool pending = c->out.len - c->out.off > c->held_bytes;
    if (pending != c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (pending ? EPOLLOUT : 0), .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = pending;
    }
    return true;
}

static void
conn_readable(struct conn *c)
{
    for (;;) {
        buf_reserve(&c->in, 16384);
        ssize_t n = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                break;
            }
            conn_close(c);
            return;
        }
        if (n == 0) {
            conn_close(c);
            return;
        }
        c->in.len += (size_t)n;
        if ((size_t)n < 16384) {
            break;
        }
    }
    if (!conn_process(c)) {
        c->close_after = true;
    }
    if (!conn_flush(c)) {
        conn_close(c);
    }
}

static void
accept_all(struct listener *l)
{
    for (;;) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && !quiet) {
                perror("fast_responder: accept");
            }
            return;
        }
        if (l->proto == PROTO_HTTP) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        struct conn *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            return;
        }
        c->kind = KIND_CONN;
        c->fd = fd;
        c->proto = l->proto;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
        }
    }
}

static int
listen_tcp(const char *addr, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "fast_responder: bad --bind address '%s'\n", addr);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 512) < 0) {
        fprintf(stderr, "fast_responder: %s:%d: %s\n", addr, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int
listen_unix(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "fast_responder: unix path too long\n");
        return -1;
    }
    strcpy(sa.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 512) < 0) {
        fprintf(stderr, "fast_responder: %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* --pipe: the line protocol on stdin/stdout, blocking, until EOF. */
static int
run_pipe(void)
{
    struct conn c = {.kind = KIND_CONN, .fd = 1, .proto = PROTO_LINE};
    for (;;) {
        buf_reserve(&c.in, 16384);
        ssize_t n = read(0, c.in.p + c.in.len, c.in.cap - c.in.len);
        if (n < 0 && errno == EINTR) {
            if (stop_flag) {
                break;
            }
            continue;
        }
        if (n <= 0) {
            break;
        }
        c.in.len += (size_t)n;
        conn_process(&c);
        if (delay_ms > 0 && c.out.len > c.out.off) {
            struct timespec ts = {.tv_sec = delay_ms / 1000,
                                  .tv_nsec = (long)(delay_ms % 1000) * 1000000L};
            while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stop_flag) {
            }
        }
        while (c.out.len > c.out.off) {
            ssize_t w = write(1, c.out.p + c.out.off, c.out.len - c.out.off);
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                return 1;
            }
            buf_consume(&c.out, (size_t)w);
        }
    }
    free(c.in.p);
    free(c.out.p);
    return 0;
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: rbgw_fast_responder [--port=N] [--bind=ADDR] [--prefix=/dns] "
               "[--unix=PATH] [--pipe] [--delay-ms=N] [--spaced] [--quiet]\n"
               "  --port=N       HTTP (REST and post_json) on ADDR:N (default 127.0.0.1)\n"
               "  --prefix=P     path of the url= given to pdns (default /dns; \"\" for none)\n"
               "  --unix=PATH    also serve the line protocol (pdns unix connector) on PATH\n"
               "  --pipe         serve the line protocol on stdin/stdout and exit on EOF\n"
               "  --delay-ms=N   hold every reply N ms (a slow responder; other connections\n"
               "                 are served meanwhile)\n"
               "  --spaced       replies as Python's json.dumps writes them (\", \" and \": \")\n"
               "  --quiet        no start/stop messages on stderr\n"
               "  --verbose      log every call (method, qname, qtype, name) on stderr\n"
               "Zone served: example.com. (SOA, NS, ns1 A 192.0.2.53, www A 192.0.2.1).\n");
}

int
main(int argc, char **argv)
{
    int port = 0;
    const char *bind_addr = "127.0.0.1";
    const char *unix_path = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--port=", 7) == 0) {
            port = atoi(a + 7);
        } else if (strncmp(a, "--bind=", 7) == 0) {
            bind_addr = a + 7;
        } else if (strncmp(a, "--prefix=", 9) == 0) {
            prefix = a + 9;
            prefix_len = strlen(prefix);
            while (prefix_len > 0 && prefix[prefix_len - 1] == '/') {
                prefix_len--;
            }
        } else if (strncmp(a, "--unix=", 7) == 0) {
            unix_path = a + 7;
        } else if (strcmp(a, "--pipe") == 0) {
            pipe_mode = true;
        } else if (strncmp(a, "--delay-ms=", 11) == 0) {
            delay_ms = (unsigned)atoi(a + 11);
        } else if (strcmp(a, "--verbose") == 0) {
            verbose = true;
        } else if (strcmp(a, "--spaced") == 0) {
            spaced = true;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "fast_responder: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!pipe_mode && port <= 0 && unix_path == NULL) {
        usage(stderr);
        return 2;
    }

    render_zone();
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (pipe_mode) {
        return run_pipe();
    }

    epfd = epoll_create1(EPOLL_CLOEXEC);
    static struct listener ls[2];
    size_t nl = 0;
    if (port > 0) {
        ls[nl] = (struct listener){.kind = KIND_LISTENER, .proto = PROTO_HTTP};
        ls[nl].fd = listen_tcp(bind_addr, port);
        if (ls[nl].fd < 0) {
            return 1;
        }
        nl++;
    }
    if (unix_path != NULL) {
        ls[nl] = (struct listener){.kind = KIND_LISTENER, .proto = PROTO_LINE};
        ls[nl].fd = listen_unix(unix_path);
        if (ls[nl].fd < 0) {
            return 1;
        }
        nl++;
    }
    for (size_t i = 0; i < nl; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &ls[i]};
        epoll_ctl(epfd, EPOLL_CTL_ADD, ls[i].fd, &ev);
    }
    if (!quiet) {
        fprintf(stderr, "fast_responder: serving example.com. on");
        if (port > 0) {
            fprintf(stderr, " http://%s:%d%.*s", bind_addr, port, (int)prefix_len, prefix);
        }
        if (unix_path != NULL) {
            fprintf(stderr, " unix:%s", unix_path);
        }
        if (delay_ms > 0) {
            fprintf(stderr, ", every reply held %u ms", delay_ms);
        }
        fprintf(stderr, "\n");
    }

    struct epoll_event evs[64];
    while (!stop_flag) {
        int n = epoll_wait(epfd, evs, 64, next_timeout());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("fast_responder: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            enum kind *k = evs[i].data.ptr;
            if (*k == KIND_LISTENER) {
                accept_all((struct listener *)k);
                continue;
            }
            struct conn *c = (struct conn *)k;
            if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
                if (!(evs[i].events & EPOLLIN)) {
                    conn_close(c);
                    continue;
                }
            }
            if (evs[i].events & EPOLLOUT) {
                if (!conn_flush(c)) {
                    conn_close(c);
                    continue;
                }
            }
            if (evs[i].events & EPOLLIN) {
                conn_readable(c);
            }
        }
        if (delayed != NULL) {
            unsigned long long now = now_ms();
            struct conn *next;
            for (struct conn *c = delayed; c != NULL; c = next) {
                next = c->dnext;
                if (release_due(c, now) && !conn_flush(c)) {
                    conn_close(c);
                }
            }
        }
    }
    if (!quiet) {
        fprintf(stderr, "fast_responder: %llu calls answered:", ncalls);
        for (size_t i = 0; i < MAX_METHODS && method_stats[i].name[0] != '\0'; i++) {
            fprintf(stderr, " %s=%llu", method_stats[i].name, method_stats[i].count);
        }
        fprintf(stderr, "\n");
    }
    if (unix_path != NULL) {
        unlink(unix_path);
    }
    return 0;
}

/*
 * fake_fanout.c: killable scripted pdns-REST responders (a front end of fake_httpd.c) and the
 * fan-out test harness (see fake_fanout.h).
 *
 * A responder is the core server with a decide callback: the callback reads the method (the
 * first path segment after /dns/) and applies the first rule that matches, building the
 * answer that names the responder.  The core records and answers in one critical section, so
 * a waiter that sees a record also knows the answer has been sent; kill, revive and release
 * are the core's, and have taken effect when they return.  A record's `act` is the note the
 * callback left with it; the rest of a fake_fanout_req (method, name, trxid) is read from the
 * recorded request when the test asks for it.
 *
 *   test thread ──rule/release──> rules, released (under the core's lock) ──> decide ──> rbgw
 *   test thread ──kill, revive, waits, records──> the core
 */
#include "fake_fanout.h"
#include "fake_httpd.h"
#include "itest.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <criterion/criterion.h>
#include <yajl/yajl_tree.h>

struct rule {
    char method[64];          /* "" = any */
    enum fake_fanout_act act; /* what to do */
    int left;                 /* requests it still applies to; < 0 forever */
};

struct fake_fanout {
    char name[32];           /* "alpha" */
    char content[16];        /* "192.0.2.<id>" */
    struct fake_httpd *core; /* owned: the server */
    struct rule *rules;      /* owned; under the core's lock */
    size_t nrules;           /* entries in rules */
    bool released;           /* HOLD answers at once; under the core's lock */
    char answer[1024];       /* decide's answer body, until the core copied it; under the
                                core's lock */
};

/* ---- small helpers ---- */

static void *
xrealloc(void *p, size_t n)
{
    void *r = realloc(p, n);
    if (!r) {
        abort();
    }
    return r;
}

static void
copy_str(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap) {
        len = cap - 1;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static int
hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode src[0..len) into dst (cap bytes, NUL-terminated, truncated). */
static void
pct_decode(char *dst, size_t cap, const char *src, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < cap; i++) {
        if (src[i] == '%' && i + 2 < len && hexval(src[i + 1]) >= 0 && hexval(src[i + 2]) >= 0) {
            dst[o++] = (char)(hexval(src[i + 1]) * 16 + hexval(src[i + 2]));
            i += 2;
        } else if (src[i] == '+') {
            dst[o++] = ' ';
        } else {
            dst[o++] = src[i];
        }
    }
    dst[o] = '\0';
}

/* ---- reading a request ---- */

/* Path segment k (0 = the method) after "/dns/" of the request target, or false. */
static bool
segment(const char *target, int k, const char **seg, size_t *slen)
{
    const char *p = target;
    const char *end = target + strcspn(target, "?");
    if ((size_t)(end - p) < 5 || memcmp(p, "/dns/", 5) != 0) {
        return false;
    }
    p += 5;
    for (int i = 0; p <= end; i++) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *e = slash ? slash : end;
        if (i == k) {
            *seg = p;
            *slen = (size_t)(e - p);
            return true;
        }
        if (!slash) {
            return false;
        }
        p = slash + 1;
    }
    return false;
}

/* rr[qname]=... from a form body. */
static void
form_field(const char *body, size_t blen, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    const char *p = body;
    const char *end = body + blen;
    out[0] = '\0';
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if ((size_t)(e - p) > kl && memcmp(p, key, kl) == 0 && p[kl] == '=') {
            pct_decode(out, cap, p + kl + 1, (size_t)(e - p - (ptrdiff_t)kl - 1));
            return;
        }
        p = e + 1;
    }
}

/* What a fake_fanout_req says about r (act left to the caller). */
static void
describe(const struct fake_http_request *r, struct fake_fanout_req *out)
{
    memset(out, 0, sizeof(*out));
    out->conn = r->conn;
    out->trxid = -1;
    const char *seg;
    size_t slen;
    if (segment(r->target, 0, &seg, &slen)) {
        copy_str(out->method, sizeof(out->method), seg, slen);
    }
    int k = 0;
    if (strcmp(out->method, "lookup") == 0 || strcmp(out->method, "APILookup") == 0 ||
        strcmp(out->method, "getDomainInfo") == 0) {
        k = 1;
    } else if (strcmp(out->method, "startTransaction") == 0 ||
               strcmp(out->method, "replaceRRSet") == 0 || strcmp(out->method, "list") == 0) {
        k = 2;
    }
    if (k && segment(r->target, k, &seg, &slen)) {
        pct_decode(out->name, sizeof(out->name), seg, slen);
    }
    if (strcmp(out->method, "feedRecord") == 0) {
        form_field(r->body, r->body_len, "rr[qname]", out->name, sizeof(out->name));
    }
    const char *tx = fake_http_header(r, "X-RemoteBackend-Trxid");
    if (tx) {
        out->trxid = strtoll(tx, NULL, 10);
    }
}

/* ---- answers ---- */

static bool
is_record_method(const char *method)
{
    return strcmp(method, "lookup") == 0 || strcmp(method, "APILookup") == 0 ||
           strcmp(method, "list") == 0;
}

/* The body of the answer `act` to method about name. */
static void
answer_body(const struct fake_fanout *s, enum fake_fanout_act act, const char *method,
            const char *name, char *body, size_t cap)
{
    if (act == FAKE_FANOUT_EMPTY) {
        snprintf(body, cap, "{\"result\": [], \"log\": [\"%s %s empty\"]}", s->name, method);
    } else if (act == FAKE_FANOUT_FALSE) {
        snprintf(body, cap, "{\"result\": false, \"log\": [\"%s %s false\"]}", s->name, method);
    } else if (is_record_method(method)) {
        snprintf(body, cap,
                 "{\"result\": [{\"qtype\": \"A\", \"qname\": \"%s\", \"content\": \"%s\", "
                 "\"ttl\": 60, \"auth\": true}], \"log\": [\"%s %s\"]}",
                 name[0] ? name : "unknown.", s->content, s->name, method);
    } else {
        snprintf(body, cap, "{\"result\": true, \"log\": [\"%s %s\"]}", s->name, method);
    }
}

/* The first rule for method that is not used up, or ANSWER.  Caller holds the core's lock. */
static enum fake_fanout_act
pick_act(struct fake_fanout *s, const char *method)
{
    for (size_t i = 0; i < s->nrules; i++) {
        struct rule *ru = &s->rules[i];
        if (ru->left == 0 || (ru->method[0] && strcmp(ru->method, method) != 0)) {
            continue;
        }
        if (ru->left > 0) {
            ru->left--;
        }
        return ru->act;
    }
    return FAKE_FANOUT_ANSWER;
}

/* The core's decide callback: the rule's act, noted with the record. */
static int
decide(void *ctx, struct fake_httpd *core, size_t i, const struct fake_http_request *r,
       struct fake_http_action *a)
{
    struct fake_fanout *s = ctx;
    struct fake_fanout_req q;
    describe(r, &q);
    enum fake_fanout_act act = pick_act(s, q.method);
    if (act == FAKE_FANOUT_HOLD && s->released) {
        act = FAKE_FANOUT_ANSWER;
    }
    answer_body(s, act, q.method, q.name, s->answer, sizeof(s->answer));
    a->body = s->answer;
    switch (act) {
    case FAKE_FANOUT_ANSWER:
    case FAKE_FANOUT_EMPTY:
    case FAKE_FANOUT_FALSE:
        a->kind = FAKE_HTTP_RESPOND;
        break;
    case FAKE_FANOUT_CLOSE:
        a->kind = FAKE_HTTP_CLOSE;
        break;
    case FAKE_FANOUT_STALL:
        a->kind = FAKE_HTTP_STALL;
        break;
    case FAKE_FANOUT_HOLD:
        a->kind = FAKE_HTTP_HOLD;
        break;
    }
    return (int)act;
}

/* ---- responder API ---- */

struct fake_fanout *
fake_fanout_start(const char *name, int id)
{
    struct fake_fanout *s = calloc(1, sizeof(*s));
    if (!s) {
        return NULL;
    }
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(s->content, sizeof(s->content), "192.0.2.%d", id);
    s->core = fake_httpd_start(decide, s);
    if (!s->core) {
        free(s);
        return NULL;
    }
    return s;
}

void
fake_fanout_stop(struct fake_fanout *s)
{
    if (!s) {
        return;
    }
    fake_httpd_stop(s->core);
    free(s->rules);
    free(s);
}

uint16_t
fake_fanout_port(const struct fake_fanout *s)
{
    return fake_httpd_port(s->core);
}

const char *
fake_fanout_name(const struct fake_fanout *s)
{
    return s->name;
}

const char *
fake_fanout_content(const struct fake_fanout *s)
{
    return s->content;
}

void
fake_fanout_rule(struct fake_fanout *s, const char *method, enum fake_fanout_act act, int times)
{
    fake_httpd_lock(s->core);
    s->rules = xrealloc(s->rules, (s->nrules + 1) * sizeof(*s->rules));
    struct rule *ru = &s->rules[s->nrules++];
    snprintf(ru->method, sizeof(ru->method), "%s", method ? method : "");
    ru->act = act;
    ru->left = times;
    fake_httpd_unlock(s->core);
}

void
fake_fanout_release(struct fake_fanout *s)
{
    fake_httpd_lock(s->core);
    s->released = true;
    fake_httpd_unlock(s->core);
    fake_httpd_release(s->core, false);
}

void
fake_fanout_kill(struct fake_fanout *s)
{
    fake_httpd_kill(s->core);
}

int
fake_fanout_revive(struct fake_fanout *s)
{
    return fake_httpd_revive(s->core);
}

size_t
fake_fanout_nreqs(struct fake_fanout *s)
{
    return fake_httpd_nrequests(s->core);
}

size_t
fake_fanout_count(struct fake_fanout *s, const char *method)
{
    size_t n = 0;
    struct fake_fanout_req q;
    for (size_t i = 0; fake_fanout_req(s, i, &q); i++) {
        n += !method || strcmp(q.method, method) == 0;
    }
    return n;
}

bool
fake_fanout_req(struct fake_fanout *s, size_t i, struct fake_fanout_req *out)
{
    const struct fake_http_request *r = fake_httpd_request(s->core, i);
    if (!r) {
        return false;
    }
    describe(r, out);
    int tag = fake_httpd_tag(s->core, i);
    /* undecided: queued behind a stalled or held request on its connection */
    out->act = tag < 0 ? FAKE_FANOUT_STALL : (enum fake_fanout_act)tag;
    return true;
}

bool
fake_fanout_conn_open(struct fake_fanout *s, unsigned conn)
{
    return fake_httpd_conn_open(s->core, conn);
}

unsigned
fake_fanout_accepts(struct fake_fanout *s)
{
    return fake_httpd_accepts(s->core);
}

unsigned
fake_fanout_closes(struct fake_fanout *s)
{
    return fake_httpd_closes(s->core);
}

unsigned
fake_fanout_pending(struct fake_fanout *s)
{
    return fake_httpd_pending(s->core);
}

bool
fake_fanout_wait_reqs(struct fake_fanout *s, size_t n, int timeout_ms)
{
    return fake_httpd_wait_requests(s->core, n, timeout_ms);
}

bool
fake_fanout_wait_accepts(struct fake_fanout *s, unsigned n, int timeout_ms)
{
    return fake_httpd_wait_accepts(s->core, n, timeout_ms);
}

bool
fake_fanout_wait_closes(struct fake_fanout *s, unsigned n, int timeout_ms)
{
    return fake_httpd_wait_closes(s->core, n, timeout_ms);
}

bool
fake_fanout_wait_pending(struct fake_fanout *s, unsigned n, int timeout_ms)
{
    return fake_httpd_wait_pending(s->core, n, timeout_ms);
}

bool
fake_fanout_wait_conn_closed(struct fake_fanout *s, unsigned conn, int timeout_ms)
{
    return fake_httpd_wait_conn_closed(s->core, conn, timeout_ms);
}

/* ---- the harness ---- */

#define MAX_CLIENTS 8

static struct fake_fanout *up[FANOUT_MAX_UP];    /* responders of the current test */
static size_t nup;                               /* entries in up */
static char *dir;                                /* the test's directory, or NULL */
static struct rbgw_proc *gw;                     /* rbgw, or NULL */
static struct fake_json_client *cl[MAX_CLIENTS]; /* unix clients */
static size_t ncl;                               /* entries in cl */
static const char *const up_names[FANOUT_MAX_UP] = {"alpha", "bravo", "charlie"};

const char *
fanout_test_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *s = rbgw_test_vfmt(fmt, ap);
    va_end(ap);
    return s;
}

const char *
fanout_test_stderr(void)
{
    return gw ? rbgw_test_keep(rbgw_proc_stderr(gw, 6000)) : "(rbgw not started)";
}

void
fanout_test_responders(size_t n)
{
    cr_assert(n >= 1 && n <= FANOUT_MAX_UP);
    for (size_t i = 0; i < n; i++) {
        up[i] = fake_fanout_start(up_names[i], (int)i + 1);
        cr_assert_not_null(up[i], "cannot start responder %s: %s", up_names[i], strerror(errno));
        nup = i + 1;
    }
}

struct fake_fanout *
fanout_test_up(size_t i)
{
    cr_assert(i < nup, "responder %zu was not started", i);
    return up[i];
}

/* conf with {A} {B} {C} replaced by the responders' URLs. */
static char *
expand(const char *conf)
{
    size_t cap = strlen(conf) * 12 + 256; /* a 3-byte {X} becomes a URL of at most 33 */
    char *out = rbgw_test_keep(calloc(1, cap));
    size_t o = 0;
    for (const char *p = conf; *p;) {
        if (p[0] == '{' && p[1] >= 'A' && p[1] <= 'C' && p[2] == '}') {
            size_t i = (size_t)(p[1] - 'A');
            cr_assert(i < nup, "config names {%c} but only %zu responders run", p[1], nup);
            int n = snprintf(out + o, cap - o, "http://127.0.0.1:%u/dns",
                             (unsigned)fake_fanout_port(up[i]));
            o += (size_t)n;
            p += 3;
        } else {
            out[o++] = *p++;
        }
        cr_assert(o + 64 < cap);
    }
    out[o] = '\0';
    return out;
}

void
fanout_test_gw(const char *conf)
{
    dir = fake_json_mkdtemp();
    cr_assert_not_null(dir, "cannot create a test directory");
    const char *path = fanout_test_fmt("%s/rbgw.conf", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fprintf(f,
            "# written by tests/support/fake_fanout.c\nlisten=pipe\n"
            "listen+=unix:path=%s/gw.sock\nlog-level=debug\n%s\n",
            dir, expand(conf));
    fclose(f);
    const char *arg = fanout_test_fmt("--config=%s", path);
    const char *args[] = {arg, NULL};
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
    cr_assert(fake_json_gw_ready(gw, FANOUT_IO_MS),
              "rbgw did not answer the readiness initialize; config:\n%s\nrbgw stderr:\n%s",
              expand(conf), fanout_test_stderr());
}

const char *
fanout_test_call(const char *json)
{
    cr_assert_not_null(gw);
    return rbgw_test_call(gw, json);
}

struct fake_json_client *
fanout_test_client(void)
{
    cr_assert(ncl < MAX_CLIENTS);
    const char *sock = fanout_test_fmt("%s/gw.sock", dir);
    struct fake_json_client *c = fake_json_connect(sock);
    cr_assert_not_null(c, "cannot connect to %s: %s; rbgw stderr:\n%s", sock, strerror(errno),
                       fanout_test_stderr());
    cl[ncl++] = c;
    const char *reply = fanout_test_client_call(
        c, fanout_test_fmt("{\"method\": \"initialize\", \"parameters\": {\"path\": \"%s\", "
                           "\"timeout\": \"2000\"}}",
                           sock));
    cr_assert(fanout_reply_ok(reply), "initialize on the unix listener: %s", reply);
    return c;
}

void
fanout_test_send(struct fake_json_client *c, const char *json)
{
    rbgw_test_client_send(c, json);
}

const char *
fanout_test_read(struct fake_json_client *c)
{
    return rbgw_test_client_read(c, gw);
}

void
fanout_test_client_close(struct fake_json_client *c)
{
    for (size_t i = 0; i < ncl; i++) {
        if (cl[i] == c) {
            fake_json_client_free(c);
            cl[i] = cl[--ncl];
            return;
        }
    }
    cr_assert_fail("not a client of this test");
}

const char *
fanout_test_client_call(struct fake_json_client *c, const char *json)
{
    fanout_test_send(c, json);
    return fanout_test_read(c);
}

const char *
fanout_test_lookup(const char *qname)
{
    return fanout_test_fmt(
        "{\"method\": \"lookup\", \"parameters\": {\"local\": \"192.0.2.53\", \"qname\": \"%s\", "
        "\"qtype\": \"A\", \"real-remote\": \"198.51.100.0/24\", \"remote\": \"198.51.100.7\", "
        "\"zone-id\": -1}}",
        qname);
}

const char *
fanout_test_replace(const char *qname)
{
    return fanout_test_fmt(
        "{\"method\": \"replaceRRSet\", \"parameters\": {\"domain_id\": 3, \"qname\": \"%s\", "
        "\"qtype\": \"A\", \"rrset\": [{\"auth\": true, \"content\": \"192.0.2.99\", "
        "\"qname\": \"%s\", \"qtype\": \"A\", \"ttl\": 60}]}}",
        qname, qname);
}

const char *
fanout_test_start_trx(const char *domain, long long trxid)
{
    return fanout_test_fmt("{\"method\": \"startTransaction\", \"parameters\": {\"domain\": "
                           "\"%s\", \"domain_id\": 3, \"trxid\": %lld}}",
                           domain, trxid);
}

const char *
fanout_test_feed(const char *qname, long long trxid)
{
    return fanout_test_fmt(
        "{\"method\": \"feedRecord\", \"parameters\": {\"rr\": {\"auth\": true, \"content\": "
        "\"192.0.2.77\", \"qname\": \"%s\", \"qtype\": \"A\", \"ttl\": 60}, \"trxid\": %lld}}",
        qname, trxid);
}

const char *
fanout_test_commit(long long trxid)
{
    return fanout_test_fmt("{\"method\": \"commitTransaction\", \"parameters\": {\"trxid\": %lld}}",
                           trxid);
}

/* ---- replies ---- */

static yajl_val
parse(const char *line)
{
    char err[256] = "";
    yajl_val v = yajl_tree_parse(line, err, sizeof(err));
    cr_assert_not_null(v, "reply is not JSON (%s): <%s>", err, line);
    cr_assert(YAJL_IS_OBJECT(v), "reply is not a JSON object: <%s>", line);
    return v;
}

static yajl_val
member(yajl_val obj, const char *key)
{
    const char *path[] = {key, NULL};
    return yajl_tree_get(obj, path, yajl_t_any);
}

static yajl_val
result_of(const char *line, yajl_val *root)
{
    *root = parse(line);
    yajl_val r = member(*root, "result");
    cr_assert_not_null(r, "reply has no \"result\": <%s>", line);
    return r;
}

bool
fanout_reply_ok(const char *line)
{
    yajl_val root;
    yajl_val r = result_of(line, &root);
    bool ok = !YAJL_IS_FALSE(r);
    yajl_tree_free(root);
    return ok;
}

bool
fanout_reply_empty_array(const char *line)
{
    yajl_val root;
    yajl_val r = result_of(line, &root);
    bool empty = YAJL_IS_ARRAY(r) && r->u.array.len == 0;
    yajl_tree_free(root);
    return empty;
}

size_t
fanout_reply_contents(const char *line, const char **out, size_t max)
{
    yajl_val root;
    yajl_val r = result_of(line, &root);
    size_t n = 0;
    if (YAJL_IS_ARRAY(r)) {
        for (size_t i = 0; i < r->u.array.len && n < max; i++) {
            yajl_val c = member(r->u.array.values[i], "content");
            out[n++] =
                rbgw_test_keep(strdup(YAJL_IS_STRING(c) ? YAJL_GET_STRING(c) : "(no content)"));
        }
    }
    yajl_tree_free(root);
    return n;
}

size_t
fanout_reply_logs(const char *line, const char **out, size_t max)
{
    yajl_val root = parse(line);
    yajl_val l = member(root, "log");
    size_t n = 0;
    if (YAJL_IS_ARRAY(l)) {
        for (size_t i = 0; i < l->u.array.len && n < max; i++) {
            yajl_val s = l->u.array.values[i];
            out[n++] =
                rbgw_test_keep(strdup(YAJL_IS_STRING(s) ? YAJL_GET_STRING(s) : "(not a string)"));
        }
    }
    yajl_tree_free(root);
    return n;
}

size_t
fanout_reply_from(const char *line)
{
    const char *c[4];
    size_t n = fanout_reply_contents(line, c, 4);
    cr_assert_eq(n, 1, "expected exactly one record from one responder, got %zu: <%s>", n, line);
    for (size_t i = 0; i < nup; i++) {
        if (strcmp(c[0], fake_fanout_content(up[i])) == 0) {
            return i;
        }
    }
    cr_assert_fail("the record's content %s is no responder's: <%s>", c[0], line);
    return 0;
}

void
fanout_test_teardown(void)
{
    rbgw_proc_free(gw);
    gw = NULL;
    for (size_t i = 0; i < ncl; i++) {
        fake_json_client_free(cl[i]);
        cl[i] = NULL;
    }
    ncl = 0;
    for (size_t i = 0; i < nup; i++) {
        fake_fanout_stop(up[i]);
        up[i] = NULL;
    }
    nup = 0;
    fake_json_rmtree(dir);
    free(dir);
    dir = NULL;
    rbgw_test_release();
}

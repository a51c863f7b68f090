/*
 * fake_httpd.c: the scripted HTTP/1.1 server core of the test support (see fake_httpd.h).
 *
 * One thread runs a poll() loop over a wake-up pipe, the listening socket (while alive) and
 * every open connection.  Between two polls it holds the server's mutex, so everything it does
 * with one event (read, parse, record, decide, queue the answer, send what the socket takes) is
 * one critical section for the test thread, which only ever takes the mutex briefly.
 *
 *   test thread ──push/set_default──────────> script ┐
 *   test thread ──release/kill/revive/stop──> cmd + wake pipe ──> server thread ──send──> rbgw
 *   test thread <──wait_* (condvar)── reqs[], accepts, closes, pending <──recv/llhttp── rbgw
 *
 * Per connection:
 *
 *   in[] ──llhttp──> message complete (parser paused there) ──> record ──> queue[] (its turn)
 *   queue head ──decide (script or callback)──> RESPOND: response bytes ──> out[] ──send──>
 *                                               STALL / HOLD: the connection waits (pending)
 *                                               CLOSE: closed once out[] is sent
 *
 * llhttp pauses at the end of every message (on_message_complete returns HPE_PAUSED), so the
 * bytes of a message are exactly in[0..pause position): that is the recorded `raw`, and what
 * follows is the next message, parsed after resuming.  Spans (url, header names and values,
 * body) are appended as llhttp hands them out: it may split them.
 *
 * Output: a response becomes one segment per piece in out[]; a segment after the first is due
 * 1 ms after the one before it was sent (poll's timeout wakes the thread for it).  Sends are
 * non-blocking: what the socket does not take waits for POLLOUT.
 *
 * Dying without losing the port: the listening socket is bound to an explicit port (one the
 * kernel picked for a probe socket, bound again by the real one while the probe still holds
 * it), so shutdown(SHUT_RD) stops listening but keeps the port bound (an auto-bound port would
 * be released), and listen() later revives it in place.
 *
 * Ownership: the server owns the script (copied strings), the records (each allocated once and
 * never changed, so pointers stay valid until stop) and the connections (each allocated once:
 * llhttp keeps a pointer to it).  Closed connections stay in conns[] (buffers freed), so the
 * accept index is the position in conns[].
 */
#include "fake_httpd.h"
#include "netio.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <llhttp.h>

#define PIECE_GAP_MS 1 /* between the pieces of a response written in pieces */

/* ---- small helpers ---- */

static void *
xrealloc(void *p, size_t n)
{
    void *r = realloc(p, n ? n : 1);
    if (!r) {
        abort();
    }
    return r;
}

static char *
xstrndup(const char *s, size_t n)
{
    char *r = xrealloc(NULL, n + 1);
    memcpy(r, s, n);
    r[n] = '\0';
    return r;
}

static char *
xstrdup_or_null(const char *s)
{
    return s ? xstrndup(s, strlen(s)) : NULL;
}

/* A growable byte string, kept NUL-terminated. */
struct sbuf {
    char *p;    /* owned, or NULL while empty */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
};

static void
sbuf_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sbuf_addf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sbuf_addf(struct sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0) {
        sbuf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
    }
}

/* sbuf's string, handed over (never NULL). */
static char *
sbuf_take(struct sbuf *b)
{
    char *p = b->p ? b->p : xstrndup("", 0);
    *b = (struct sbuf){0};
    return p;
}

static void
action_copy(struct fake_http_action *dst, const struct fake_http_action *src)
{
    *dst = *src;
    dst->content_type = xstrdup_or_null(src->content_type);
    dst->headers = xstrdup_or_null(src->headers);
    dst->body = xstrdup_or_null(src->body);
}

static void
action_free(struct fake_http_action *a)
{
    free((char *)a->content_type);
    free((char *)a->headers);
    free((char *)a->body);
}

static void
request_free(struct fake_http_request *r)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->names[i]);
        free(r->values[i]);
    }
    free(r->names);
    free(r->values);
    free(r->raw);
    free(r->method);
    free(r->target);
    free(r->version);
    free(r->body);
    free(r);
}

/* ---- the server's state ---- */

/* One piece of a response waiting to be sent. */
struct seg {
    char *p;    /* owned bytes */
    size_t len; /* bytes in p */
    size_t off; /* bytes of p sent so far */
    int gap_ms; /* pause after the previous segment was sent, before this one starts */
};

enum wait_state {
    W_NONE,  /* answering requests as their turn comes */
    W_STALL, /* the head request is stalled: nothing more is answered, ever (pending) */
    W_HOLD,  /* the head request is held until a release (pending) */
    W_CUT,   /* a response was cut short: nothing more is answered, ever (not pending) */
};

struct conn {
    struct fake_httpd *s;         /* the server (llhttp callbacks reach it through here) */
    int fd;                       /* socket, -1 once closed */
    unsigned index;               /* accept order, also the position in s->conns */
    llhttp_t parser;              /* request parser; data points at this conn */
    char *in;                     /* owned: bytes of the current message and after it */
    size_t inlen;                 /* bytes in in */
    size_t incap;                 /* allocated size of in */
    size_t fed;                   /* bytes of in the parser has taken (of the current message) */
    bool complete;                /* the parser paused at the end of a message */
    struct sbuf url;              /* current message: target */
    struct sbuf body;             /* current message: body (de-chunked by llhttp) */
    char **names;                 /* current message: owned header names */
    char **values;                /* current message: owned header values */
    size_t nhdrs;                 /* current message: headers */
    size_t caphdrs;               /* allocated entries of names and values */
    bool in_value;                /* llhttp is inside a header value */
    struct sbuf hname;            /* the header name being collected */
    struct sbuf hvalue;           /* the header value being collected */
    size_t *queue;                /* owned: record indexes of requests waiting their turn */
    size_t qhead;                 /* first entry of queue not yet decided */
    size_t qlen;                  /* entries in queue */
    size_t qcap;                  /* allocated entries */
    enum wait_state wait;         /* see enum wait_state */
    size_t held_req;              /* W_HOLD: the held request's record index */
    struct fake_http_action held; /* W_HOLD: owned copy of the answer to send at release */
    struct seg *out;              /* owned: segments to send, in order */
    size_t nout;                  /* entries in out */
    long due_ms;                  /* when out[0] may be sent (rbgw_test_now_ms clock) */
    bool close_when_sent;         /* close once out is empty */
};

enum cmd {
    CMD_NONE,
    CMD_KILL,
    CMD_REVIVE,
    CMD_RELEASE,
    CMD_STOP,
};

struct fake_httpd {
    int lfd;                         /* the bound socket (listening while alive) */
    bool listening;                  /* alive */
    uint16_t port;                   /* bound port */
    int wake[2];                     /* self-pipe to the server thread */
    pthread_t thread;                /* the server loop */
    pthread_mutex_t mu;              /* guards everything below, held by the server thread
                                        except while it polls */
    pthread_cond_t cv;               /* broadcast on every change a test may wait for */
    fake_httpd_decide_cb decide;     /* front end's decision, or NULL for the script */
    void *ctx;                       /* its context */
    struct fake_http_action *script; /* owned array of owned copies */
    size_t nscript;                  /* actions in script */
    size_t script_next;              /* index of the next unused action */
    struct fake_http_action dflt;    /* owned copy: the action once the script is used up */
    struct fake_http_request **reqs; /* owned: records, arrival order */
    int *tags;                       /* owned: decide's note per record, -1 undecided */
    size_t nreqs;                    /* records */
    size_t capreqs;                  /* allocated entries of reqs and tags */
    unsigned accepts;                /* connections accepted */
    unsigned closes;                 /* connections closed */
    unsigned pending;                /* requests stalled or held on open connections */
    struct conn **conns;             /* owned: every connection ever accepted, accept order */
    size_t nconns;                   /* entries in conns */
    int release;                     /* release asked: 0 no, 1 arrival order, 2 newest first */
    enum cmd cmd;                    /* posted command, CMD_NONE when done */
    bool cmd_newest_first;           /* CMD_RELEASE: order */
    int cmd_result;                  /* its result (revive) */
};

/* ---- responses ---- */

static const char *
reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 302:
        return "Found";
    case 404:
        return "Not Found";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

static void
build_response(struct sbuf *b, const struct fake_http_action *a)
{
    int status = a->status ? a->status : 200;
    const char *body = a->body ? a->body : "";
    size_t blen = strlen(body);
    sbuf_addf(b, "HTTP/1.1 %d %s\r\n", status, reason_phrase(status));
    if (!a->content_type) {
        sbuf_addf(b, "Content-Type: application/json\r\n");
    } else if (a->content_type[0]) {
        sbuf_addf(b, "Content-Type: %s\r\n", a->content_type);
    }
    if (a->chunked) {
        sbuf_addf(b, "Transfer-Encoding: chunked\r\n");
    } else if (!a->no_length) {
        sbuf_addf(b, "Content-Length: %zu\r\n", blen);
    }
    if (a->headers) {
        sbuf_add(b, a->headers, strlen(a->headers));
    }
    sbuf_add(b, "\r\n", 2);
    if (!a->chunked) {
        sbuf_add(b, body, blen);
        return;
    }
    size_t nchunks = a->chunks > 0 ? (size_t)a->chunks : 3;
    size_t per = blen / nchunks + 1;
    for (size_t off = 0; off < blen; off += per) {
        size_t n = blen - off < per ? blen - off : per;
        sbuf_addf(b, "%zx\r\n", n);
        sbuf_add(b, body + off, n);
        sbuf_add(b, "\r\n", 2);
    }
    sbuf_add(b, "0\r\n\r\n", 5);
}

static void conn_close(struct fake_httpd *s, struct conn *c);

/* Send what is due of c->out; close c once it is sent if asked to.  Caller holds the mutex. */
static void
flush(struct fake_httpd *s, struct conn *c)
{
    while (c->fd >= 0 && c->nout > 0) {
        struct seg *g = &c->out[0];
        if (c->due_ms > rbgw_test_now_ms()) {
            return; /* the poll timeout comes back for it */
        }
        ssize_t n = send(c->fd, g->p + g->off, g->len - g->off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return; /* POLLOUT comes back for it */
        }
        if (n < 0) {
            conn_close(s, c); /* the peer is gone */
            return;
        }
        g->off += (size_t)n;
        if (g->off < g->len) {
            continue;
        }
        free(g->p);
        memmove(c->out, c->out + 1, (c->nout - 1) * sizeof(*c->out));
        c->nout--;
        if (c->nout > 0) {
            c->due_ms = rbgw_test_now_ms() + c->out[0].gap_ms;
        }
    }
    if (c->fd >= 0 && c->close_when_sent) {
        conn_close(s, c);
    }
}

/* Queue the response of a (RESPOND or a released HOLD) on c and send what the socket takes. */
static void
respond(struct fake_httpd *s, struct conn *c, const struct fake_http_action *a)
{
    struct sbuf b = {0};
    build_response(&b, a);
    size_t len = b.len;
    if (a->cut_after && a->cut_after < len) {
        len = a->cut_after;
    }
    size_t pieces = a->pieces > 1 ? (size_t)a->pieces : 1;
    if (pieces > len) {
        pieces = len ? len : 1;
    }
    size_t per = len / pieces;
    size_t off = 0;
    c->out = xrealloc(c->out, (c->nout + pieces) * sizeof(*c->out));
    for (size_t i = 0; i < pieces; i++) {
        size_t n = i + 1 == pieces ? len - off : per;
        bool first = c->nout == 0;
        c->out[c->nout++] =
            (struct seg){.p = xstrndup(b.p + off, n), .len = n, .gap_ms = i ? PIECE_GAP_MS : 0};
        if (first) {
            c->due_ms = 0;
        }
        off += n;
    }
    free(b.p);
    if (a->close_after) {
        c->close_when_sent = true;
    } else if (a->cut_after) {
        c->wait = W_CUT; /* the rest of that response never comes */
    }
    flush(s, c);
}

/* ---- deciding ---- */

/* The action for request i when no decide callback is set.  Caller holds the mutex. */
static void
script_action(struct fake_httpd *s, struct fake_http_action *a)
{
    if (s->script_next < s->nscript) {
        *a = s->script[s->script_next++];
    } else {
        *a = s->dflt;
    }
}

/* Answer the requests queued on c while it is not waiting.  Caller holds the mutex. */
static void
advance(struct fake_httpd *s, struct conn *c)
{
    while (c->fd >= 0 && c->wait == W_NONE && !c->close_when_sent && c->qhead < c->qlen) {
        size_t i = c->queue[c->qhead++];
        struct fake_http_action a = {0};
        int tag = 0;
        if (s->decide) {
            tag = s->decide(s->ctx, s, i, s->reqs[i], &a);
        } else {
            script_action(s, &a);
        }
        s->tags[i] = tag;
        switch (a.kind) {
        case FAKE_HTTP_RESPOND:
            respond(s, c, &a);
            break;
        case FAKE_HTTP_STALL:
            c->wait = W_STALL;
            s->pending++;
            break;
        case FAKE_HTTP_HOLD:
            c->wait = W_HOLD;
            c->held_req = i;
            action_copy(&c->held, &a);
            c->held.kind = FAKE_HTTP_RESPOND;
            s->pending++;
            break;
        case FAKE_HTTP_CLOSE:
            c->close_when_sent = true;
            flush(s, c);
            break;
        }
        pthread_cond_broadcast(&s->cv);
    }
}

static int
by_held_req(const void *a, const void *b)
{
    const struct conn *x = *(struct conn *const *)a;
    const struct conn *y = *(struct conn *const *)b;
    return x->held_req < y->held_req ? -1 : x->held_req > y->held_req;
}

/* Answer every held request, in the order asked, then go on with what queued behind them.
 * Caller holds the mutex. */
static void
do_release(struct fake_httpd *s, bool newest_first)
{
    struct conn **held = xrealloc(NULL, s->nconns * sizeof(*held));
    size_t n = 0;
    for (size_t i = 0; i < s->nconns; i++) {
        if (s->conns[i]->fd >= 0 && s->conns[i]->wait == W_HOLD) {
            held[n++] = s->conns[i];
        }
    }
    qsort(held, n, sizeof(*held), by_held_req);
    for (size_t k = 0; k < n; k++) {
        struct conn *c = held[newest_first ? n - 1 - k : k];
        c->wait = W_NONE;
        s->pending--;
        respond(s, c, &c->held);
        action_free(&c->held);
        c->held = (struct fake_http_action){0};
    }
    for (size_t k = 0; k < n; k++) {
        advance(s, held[k]);
    }
    free(held);
    pthread_cond_broadcast(&s->cv);
}

/* Releases asked for from decide callbacks.  Caller holds the mutex. */
static void
settle(struct fake_httpd *s)
{
    while (s->release) {
        bool newest_first = s->release == 2;
        s->release = 0;
        do_release(s, newest_first);
    }
}

/* ---- llhttp callbacks: collect one message ---- */

static int
on_message_begin(llhttp_t *p)
{
    struct conn *c = p->data;
    c->url.len = 0;
    c->body.len = 0;
    c->in_value = false;
    c->hname.len = 0;
    c->hvalue.len = 0;
    return 0;
}

static int
on_url(llhttp_t *p, const char *at, size_t len)
{
    sbuf_add(&((struct conn *)p->data)->url, at, len);
    return 0;
}

/* The header collected so far (if any) joins the message's list. */
static void
header_done(struct conn *c)
{
    if (!c->in_value) {
        return;
    }
    if (c->nhdrs == c->caphdrs) {
        c->caphdrs = c->caphdrs ? 2 * c->caphdrs : 16;
        c->names = xrealloc(c->names, c->caphdrs * sizeof(*c->names));
        c->values = xrealloc(c->values, c->caphdrs * sizeof(*c->values));
    }
    const char *v = c->hvalue.p ? c->hvalue.p : "";
    size_t vl = c->hvalue.len;
    while (vl > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        vl--;
    }
    while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) {
        vl--;
    }
    c->names[c->nhdrs] = xstrndup(c->hname.p ? c->hname.p : "", c->hname.len);
    c->values[c->nhdrs] = xstrndup(v, vl);
    c->nhdrs++;
    c->in_value = false;
    c->hname.len = 0;
    c->hvalue.len = 0;
}

static int
on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    header_done(c);
    sbuf_add(&c->hname, at, len);
    return 0;
}

static int
on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    c->in_value = true;
    sbuf_add(&c->hvalue, at, len);
    return 0;
}

static int
on_headers_complete(llhttp_t *p)
{
    header_done(p->data);
    return 0;
}

static int
on_body(llhttp_t *p, const char *at, size_t len)
{
    sbuf_add(&((struct conn *)p->data)->body, at, len);
    return 0;
}

static int
on_message_complete(llhttp_t *p)
{
    ((struct conn *)p->data)->complete = true;
    return HPE_PAUSED; /* the message ends here: record it before parsing on */
}

static const llhttp_settings_t parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- recording ---- */

/* Append r to the records and to c's queue.  Caller holds the mutex. */
static void
record(struct fake_httpd *s, struct conn *c, struct fake_http_request *r)
{
    if (s->nreqs == s->capreqs) {
        s->capreqs = s->capreqs ? 2 * s->capreqs : 64;
        s->reqs = xrealloc(s->reqs, s->capreqs * sizeof(*s->reqs));
        s->tags = xrealloc(s->tags, s->capreqs * sizeof(*s->tags));
    }
    s->reqs[s->nreqs] = r;
    s->tags[s->nreqs] = -1;
    if (strcmp(r->method, "?") != 0) {
        if (c->qlen == c->qcap) {
            c->qcap = c->qcap ? 2 * c->qcap : 8;
            c->queue = xrealloc(c->queue, c->qcap * sizeof(*c->queue));
        }
        c->queue[c->qlen++] = s->nreqs;
    }
    s->nreqs++;
    pthread_cond_broadcast(&s->cv);
}

/* The message that ends at in[end] (the parser paused there) as a record. */
static struct fake_http_request *
message(struct conn *c, size_t end)
{
    struct fake_http_request *r = xrealloc(NULL, sizeof(*r));
    *r = (struct fake_http_request){.conn = c->index};
    r->raw = xstrndup(c->in, end);
    r->raw_len = end;
    r->method = xstrdup_or_null(llhttp_method_name((llhttp_method_t)c->parser.method));
    r->target = sbuf_take(&c->url);
    char version[32];
    snprintf(version, sizeof(version), "HTTP/%u.%u", (unsigned)c->parser.http_major,
             (unsigned)c->parser.http_minor);
    r->version = xstrndup(version, strlen(version));
    r->nheaders = c->nhdrs;
    r->names = c->names;
    r->values = c->values;
    c->names = c->values = NULL;
    c->nhdrs = c->caphdrs = 0;
    r->body_len = c->body.len;
    r->body = sbuf_take(&c->body);
    return r;
}

/* Bytes llhttp rejected: recorded as they are (method "?", target their first line). */
static struct fake_http_request *
rejected(struct conn *c)
{
    struct fake_http_request *r = xrealloc(NULL, sizeof(*r));
    *r = (struct fake_http_request){.conn = c->index};
    r->raw = xstrndup(c->in, c->inlen);
    r->raw_len = c->inlen;
    r->method = xstrndup("?", 1);
    const char *eol = memchr(c->in, '\r', c->inlen);
    r->target = xstrndup(c->in, eol ? (size_t)(eol - c->in) : c->inlen);
    r->version = xstrndup("", 0);
    r->body = xstrndup("", 0);
    return r;
}

/* Parse what c has received, record complete messages and answer them in turn.  Caller
 * holds the mutex. */
static void
take_input(struct fake_httpd *s, struct conn *c)
{
    while (c->fd >= 0 && c->fed < c->inlen) {
        if (llhttp_get_errno(&c->parser) == HPE_PAUSED) {
            llhttp_resume(&c->parser);
        }
        const char *start = c->in + c->fed;
        llhttp_errno_t e = llhttp_execute(&c->parser, start, c->inlen - c->fed);
        if (e == HPE_PAUSED && c->complete) {
            size_t end = (size_t)(llhttp_get_error_pos(&c->parser) - c->in);
            c->complete = false;
            record(s, c, message(c, end));
            memmove(c->in, c->in + end, c->inlen - end);
            c->inlen -= end;
            c->in[c->inlen] = '\0';
            c->fed = 0;
            continue;
        }
        if (e != HPE_OK) {
            record(s, c, rejected(c));
            conn_close(s, c);
            return;
        }
        c->fed = c->inlen;
    }
    advance(s, c);
}

/* ---- connections ---- */

static void
conn_free_buffers(struct conn *c)
{
    free(c->in);
    free(c->url.p);
    free(c->body.p);
    free(c->hname.p);
    free(c->hvalue.p);
    for (size_t i = 0; i < c->nhdrs; i++) {
        free(c->names[i]);
        free(c->values[i]);
    }
    free(c->names);
    free(c->values);
    free(c->queue);
    for (size_t i = 0; i < c->nout; i++) {
        free(c->out[i].p);
    }
    free(c->out);
    action_free(&c->held);
    struct fake_httpd *s = c->s;
    unsigned index = c->index;
    *c = (struct conn){.s = s, .fd = -1, .index = index};
}

/* Close c (idempotent).  Caller holds the mutex. */
static void
conn_close(struct fake_httpd *s, struct conn *c)
{
    if (c->fd < 0) {
        return;
    }
    close(c->fd);
    c->fd = -1;
    if (c->wait == W_STALL || c->wait == W_HOLD) {
        s->pending--;
    }
    conn_free_buffers(c);
    s->closes++;
    pthread_cond_broadcast(&s->cv);
}

static void
on_readable(struct fake_httpd *s, struct conn *c)
{
    if (c->incap - c->inlen < 4096) {
        c->incap = c->incap ? 2 * c->incap : 8192;
        c->in = xrealloc(c->in, c->incap + 1);
    }
    ssize_t n = recv(c->fd, c->in + c->inlen, c->incap - c->inlen, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
    }
    if (n <= 0) {
        conn_close(s, c); /* EOF or reset: rbgw closed it */
        return;
    }
    c->inlen += (size_t)n;
    c->in[c->inlen] = '\0';
    take_input(s, c); /* on a stalled connection too: later requests are still recorded */
}

static void
on_accept(struct fake_httpd *s)
{
    int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
        return;
    }
    int one = 1;
    /* Small answers go out at once: no Nagle wait behind a piece or a delayed ACK. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct conn *c = xrealloc(NULL, sizeof(*c));
    *c = (struct conn){.s = s, .fd = fd, .index = s->accepts};
    llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
    c->parser.data = c;
    s->conns = xrealloc(s->conns, (s->nconns + 1) * sizeof(*s->conns));
    s->conns[s->nconns++] = c;
    s->accepts++;
    pthread_cond_broadcast(&s->cv);
}

/* ---- the server thread ---- */

/* Run the posted command.  Caller holds the mutex.  Returns false for CMD_STOP. */
static bool
run_cmd(struct fake_httpd *s)
{
    enum cmd cmd = s->cmd;
    s->cmd_result = 0;
    switch (cmd) {
    case CMD_NONE:
        return true;
    case CMD_KILL:
        if (s->listening) {
            shutdown(s->lfd, SHUT_RD); /* stops listening; the port stays bound */
            s->listening = false;
        }
        for (size_t i = 0; i < s->nconns; i++) {
            conn_close(s, s->conns[i]);
        }
        break;
    case CMD_REVIVE:
        if (!s->listening) {
            if (listen(s->lfd, 64) == 0) {
                s->listening = true;
            } else {
                s->cmd_result = -errno;
            }
        }
        break;
    case CMD_RELEASE:
        do_release(s, s->cmd_newest_first);
        break;
    case CMD_STOP:
        break;
    }
    s->cmd = CMD_NONE;
    pthread_cond_broadcast(&s->cv);
    return cmd != CMD_STOP;
}

static void *
server_main(void *arg)
{
    struct fake_httpd *s = arg;
    struct pollfd *pfds = NULL;
    struct conn **polled = NULL;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        /* the poll set: wake pipe, listener, open connections (POLLOUT when output is due) */
        pfds = xrealloc(pfds, (s->nconns + 2) * sizeof(*pfds));
        polled = xrealloc(polled, (s->nconns + 2) * sizeof(*polled));
        nfds_t n = 0;
        pfds[n++] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
        pfds[n++] = (struct pollfd){.fd = s->listening ? s->lfd : -1, .events = POLLIN};
        long now = rbgw_test_now_ms();
        long timeout = -1;
        for (size_t i = 0; i < s->nconns; i++) {
            struct conn *c = s->conns[i];
            if (c->fd < 0) {
                continue;
            }
            short events = POLLIN;
            if (c->nout > 0 && c->due_ms <= now) {
                events |= POLLOUT;
            } else if (c->nout > 0 && (timeout < 0 || c->due_ms - now < timeout)) {
                timeout = c->due_ms - now;
            }
            polled[n] = c;
            pfds[n++] = (struct pollfd){.fd = c->fd, .events = events};
        }
        pthread_mutex_unlock(&s->mu);
        int rc = poll(pfds, n, (int)timeout);
        int poll_errno = errno;
        pthread_mutex_lock(&s->mu);
        if (rc < 0 && poll_errno != EINTR) {
            break;
        }
        if (rc > 0 && pfds[0].revents) {
            char b[64];
            while (read(s->wake[0], b, sizeof(b)) < 0 && errno == EINTR) {
            }
            if (!run_cmd(s)) {
                break;
            }
            settle(s);
            continue; /* the fd set may have changed */
        }
        for (nfds_t k = 2; rc > 0 && k < n; k++) {
            struct conn *c = polled[k];
            if (c->fd != pfds[k].fd) {
                continue; /* closed meanwhile */
            }
            if (pfds[k].revents & POLLOUT) {
                flush(s, c);
            }
            if (c->fd >= 0 && (pfds[k].revents & (POLLIN | POLLHUP | POLLERR))) {
                on_readable(s, c);
            }
            settle(s);
        }
        for (size_t i = 0; i < s->nconns; i++) {
            if (s->conns[i]->fd >= 0 && s->conns[i]->nout > 0) {
                flush(s, s->conns[i]); /* pieces that came due */
            }
        }
        if (rc > 0 && s->listening && (pfds[1].revents & POLLIN)) {
            on_accept(s);
        }
    }
    pthread_mutex_unlock(&s->mu);
    free(pfds);
    free(polled);
    return NULL;
}

/* Post cmd and wait until the server thread has run it.  Returns its result. */
static int
post(struct fake_httpd *s, enum cmd cmd, bool newest_first)
{
    pthread_mutex_lock(&s->mu);
    while (s->cmd != CMD_NONE) {
        pthread_cond_wait(&s->cv, &s->mu);
    }
    s->cmd = cmd;
    s->cmd_newest_first = newest_first;
    ssize_t w;
    do {
        w = write(s->wake[1], "x", 1);
    } while (w < 0 && errno == EINTR);
    while (s->cmd != CMD_NONE) {
        pthread_cond_wait(&s->cv, &s->mu);
    }
    int rc = s->cmd_result;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- public API ---- */

/* A socket bound to an explicit, free port on 127.0.0.1 (see the design comment), or -1. */
static int
bind_explicit(uint16_t *port)
{
    int one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0) {
        return -1;
    }
    setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(probe, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(probe, (struct sockaddr *)&sa, &len) != 0) {
        close(probe);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            close(fd);
            fd = -1;
        }
    }
    close(probe);
    *port = ntohs(sa.sin_port);
    return fd;
}

struct fake_httpd *
fake_httpd_start(fake_httpd_decide_cb decide, void *ctx)
{
    struct fake_httpd *s = calloc(1, sizeof(*s));
    if (!s) {
        return NULL;
    }
    s->decide = decide;
    s->ctx = ctx;
    s->wake[0] = s->wake[1] = -1;
    s->lfd = bind_explicit(&s->port);
    if (s->lfd < 0 || listen(s->lfd, 64) != 0 || pipe2(s->wake, O_CLOEXEC) != 0) {
        goto fail;
    }
    s->listening = true;
    pthread_mutex_init(&s->mu, NULL);
    rbgw_test_cond_init(&s->cv);
    struct fake_http_action dflt = {.kind = FAKE_HTTP_RESPOND, .body = "{\"result\":true}"};
    action_copy(&s->dflt, &dflt);
    if (pthread_create(&s->thread, NULL, server_main, s) != 0) {
        action_free(&s->dflt);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        goto fail;
    }
    return s;
fail:
    if (s->lfd >= 0) {
        close(s->lfd);
    }
    if (s->wake[0] >= 0) {
        close(s->wake[0]);
        close(s->wake[1]);
    }
    free(s);
    return NULL;
}

void
fake_httpd_stop(struct fake_httpd *s)
{
    if (!s) {
        return;
    }
    post(s, CMD_STOP, false);
    pthread_join(s->thread, NULL);
    for (size_t i = 0; i < s->nconns; i++) {
        struct conn *c = s->conns[i];
        if (c->fd >= 0) {
            close(c->fd);
        }
        conn_free_buffers(c);
        free(c);
    }
    free(s->conns);
    close(s->lfd);
    close(s->wake[0]);
    close(s->wake[1]);
    for (size_t i = 0; i < s->nscript; i++) {
        action_free(&s->script[i]);
    }
    free(s->script);
    action_free(&s->dflt);
    for (size_t i = 0; i < s->nreqs; i++) {
        request_free(s->reqs[i]);
    }
    free(s->reqs);
    free(s->tags);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

uint16_t
fake_httpd_port(const struct fake_httpd *s)
{
    return s->port;
}

void
fake_httpd_push(struct fake_httpd *s, const struct fake_http_action *a)
{
    pthread_mutex_lock(&s->mu);
    s->script = xrealloc(s->script, (s->nscript + 1) * sizeof(*s->script));
    action_copy(&s->script[s->nscript++], a);
    pthread_mutex_unlock(&s->mu);
}

void
fake_httpd_set_default(struct fake_httpd *s, const struct fake_http_action *a)
{
    pthread_mutex_lock(&s->mu);
    action_free(&s->dflt);
    action_copy(&s->dflt, a);
    pthread_mutex_unlock(&s->mu);
}

void
fake_httpd_release(struct fake_httpd *s, bool newest_first)
{
    post(s, CMD_RELEASE, newest_first);
}

void
fake_httpd_release_locked(struct fake_httpd *s, bool newest_first)
{
    s->release = newest_first ? 2 : 1;
}

void
fake_httpd_kill(struct fake_httpd *s)
{
    post(s, CMD_KILL, false);
}

int
fake_httpd_revive(struct fake_httpd *s)
{
    return post(s, CMD_REVIVE, false);
}

void
fake_httpd_lock(struct fake_httpd *s)
{
    pthread_mutex_lock(&s->mu);
}

void
fake_httpd_unlock(struct fake_httpd *s)
{
    pthread_mutex_unlock(&s->mu);
}

size_t
fake_httpd_nrequests(struct fake_httpd *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->nreqs;
    pthread_mutex_unlock(&s->mu);
    return n;
}

const struct fake_http_request *
fake_httpd_request(struct fake_httpd *s, size_t i)
{
    pthread_mutex_lock(&s->mu);
    const struct fake_http_request *r = i < s->nreqs ? s->reqs[i] : NULL;
    pthread_mutex_unlock(&s->mu);
    return r;
}

int
fake_httpd_tag(struct fake_httpd *s, size_t i)
{
    pthread_mutex_lock(&s->mu);
    int tag = i < s->nreqs ? s->tags[i] : -1;
    pthread_mutex_unlock(&s->mu);
    return tag;
}

unsigned
fake_httpd_accepts(struct fake_httpd *s)
{
    return rbgw_test_locked_get(&s->mu, &s->accepts);
}

unsigned
fake_httpd_closes(struct fake_httpd *s)
{
    return rbgw_test_locked_get(&s->mu, &s->closes);
}

unsigned
fake_httpd_pending(struct fake_httpd *s)
{
    return rbgw_test_locked_get(&s->mu, &s->pending);
}

unsigned
fake_httpd_pending_locked(struct fake_httpd *s)
{
    return s->pending;
}

/* Caller holds the mutex. */
static bool
conn_closed(struct fake_httpd *s, unsigned conn)
{
    return conn < s->nconns && s->conns[conn]->fd < 0;
}

bool
fake_httpd_conn_open(struct fake_httpd *s, unsigned conn)
{
    pthread_mutex_lock(&s->mu);
    bool open = conn < s->nconns && s->conns[conn]->fd >= 0;
    pthread_mutex_unlock(&s->mu);
    return open;
}

enum what {
    WAIT_REQS,
    WAIT_ACCEPTS,
    WAIT_CLOSES,
    WAIT_PENDING,
    WAIT_CONN_CLOSED,
};

/* Caller holds the mutex. */
static bool
reached(struct fake_httpd *s, enum what w, size_t n)
{
    switch (w) {
    case WAIT_REQS:
        return s->nreqs >= n;
    case WAIT_ACCEPTS:
        return s->accepts >= n;
    case WAIT_CLOSES:
        return s->closes >= n;
    case WAIT_PENDING:
        return s->pending >= n;
    case WAIT_CONN_CLOSED:
        return conn_closed(s, (unsigned)n);
    }
    return false;
}

static bool
wait_for(struct fake_httpd *s, enum what w, size_t n, int timeout_ms)
{
    struct timespec dl;
    rbgw_test_deadline(&dl, timeout_ms);
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    while (!reached(s, w, n) && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait(&s->cv, &s->mu, &dl);
    }
    bool ok = reached(s, w, n);
    pthread_mutex_unlock(&s->mu);
    return ok;
}

bool
fake_httpd_wait_requests(struct fake_httpd *s, size_t n, int timeout_ms)
{
    return wait_for(s, WAIT_REQS, n, timeout_ms);
}

bool
fake_httpd_wait_accepts(struct fake_httpd *s, unsigned n, int timeout_ms)
{
    return wait_for(s, WAIT_ACCEPTS, n, timeout_ms);
}

bool
fake_httpd_wait_closes(struct fake_httpd *s, unsigned n, int timeout_ms)
{
    return wait_for(s, WAIT_CLOSES, n, timeout_ms);
}

bool
fake_httpd_wait_pending(struct fake_httpd *s, unsigned n, int timeout_ms)
{
    return wait_for(s, WAIT_PENDING, n, timeout_ms);
}

bool
fake_httpd_wait_conn_closed(struct fake_httpd *s, unsigned conn, int timeout_ms)
{
    return wait_for(s, WAIT_CONN_CLOSED, conn, timeout_ms);
}

const char *
fake_http_header(const struct fake_http_request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->names[i], name) == 0) {
            return r->values[i];
        }
    }
    return NULL;
}

size_t
fake_http_count_headers(const struct fake_http_request *r, const char *prefix)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strncasecmp(r->names[i], prefix, strlen(prefix)) == 0) {
            n++;
        }
    }
    return n;
}

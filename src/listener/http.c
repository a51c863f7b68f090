/*
 * listener/http.c: pdns's HTTP connector (REST, post, post_json) talks to rbgw.
 *
 *   http_listener ──owns──> server (uv_tcp_t), conns (list), read slab, write watchdog
 *   http_conn: llhttp request parser ──message──> rbgw_xlate_http_to_rpc ──JSON──> request
 *              reply hook ──> "HTTP/1.1 200 OK ... Content-Length ... <json>"
 *
 * pdns sends one request per connection at a time and waits for the answer (docs/protocol.md §1.6),
 * so a conn serves one call at a time: bytes that arrive while a call is in flight stay in the
 * conn's input until the reply is written, which keeps replies in order.  The conn keeps
 * reading meanwhile (stopping and restarting would cost two epoll_ctl per call); only when the
 * input kept plus the reply still in libuv's write queue pass max-conn-buffer does it stop
 * reading, until it is back under (a client that pipelines and does not read is held back by
 * its socket buffer, not by rbgw's memory).  A reply its client leaves unread for
 * write-timeout closes the conn (the listener's write watchdog, listener/wdog.h).
 *
 * A client that is gone (EOF, a failed read or write, write-timeout) has its conn closed at
 * once: what it pipelined is dropped, never dispatched, and the answer of a call still
 * upstream is swallowed (its session is gone).  One log line says what was dropped, never one
 * per request.
 *
 * A reply is written with uv_try_write; when it goes out whole (the usual case) the conn moves
 * on at once, with no write request and no epoll_ctl.
 * conn_process is a loop, so a reply given synchronously never recurses into the next message.
 *
 * Every answer is 200 with a JSON object body and a Content-Length (§8.2): never an empty body,
 * never HTML, also for requests that are not remote-backend calls (false + reason).  A request
 * that is not even HTTP gets a 400 with a JSON body, then the connection is closed.
 *
 * A body that takes the request past max-request-size is not an HTTP error: the parser still
 * knows where it ends, so its bytes are counted and dropped as they arrive (memory stays bounded
 * by the limit), and once the message is complete it is answered 200 false like any other call
 * that cannot be made.  The connection stays usable, so pdns does not have to throw and rebuild
 * its connector.  A head the limits refuse (more than max-headers header lines, a target and
 * headers past max-header-size, or a head past max-request-size) gets 431 with the same JSON
 * body, and the connection closes: the parser cannot go on, and the call cannot even be
 * decoded.  pdns's heads are a few hundred bytes in 5 to 10 lines, so it never meets these.
 *
 * Slow clients: a request line and headers must come in within header-timeout of the request's
 * first byte (of the accept, for a new connection), and a body within body-timeout of its
 * headers; else the connection is closed, unanswered.  One more watchdog per listener (rdog,
 * like the write watchdog) keeps the deadlines, and only a connection with a request still
 * incomplete when a read is done is on it (read_watch): pdns writes each request in one go, so
 * its calls cost no timer operation.  Connections past max-conns are answered 503 and closed
 * at accept (listener/admit.h).
 *
 * Spans (url, header names and values, body) are copied as llhttp hands them out, appending,
 * because a span can arrive in several pieces.
 *
 * Memory (an idle pdns connection must cost little): every connection of a listener
 * reads into the listener's one read slab (libuv runs one read callback at a time on a loop,
 * and the parser copies what it keeps, so the slab is free again when on_read returns), and
 * llhttp parses straight from it.  Only bytes the parser has not taken when on_read returns
 * (a request pipelined behind the call in flight: the parser pauses after each message) are
 * copied into the conn's `in`, and bytes that arrive while a call is in flight are appended
 * there; `in` is freed whenever it is empty.  The message's copies (url and headers in `head`,
 * the header offsets, the body) are freed once it is dispatched (the call copies what it
 * needs), and a write request is allocated only for a reply uv_try_write could not write at
 * once.  An idle connection thus holds its struct (with its uv handle and parser) only.
 */
#include <stdio.h>
#include <string.h>

#include <llhttp.h>

#include "rbgw/gateway.h"
#include "rbgw/list.h"
#include "rbgw/log.h"
#include "rbgw/url.h"
#include "rbgw/xlate_in.h"
#include "listener/admit.h"
#include "listener/slab.h"
#include "listener/wdog.h"

#define MAX_HEADERS 256  /* the largest max-headers= (config.h) */
#define HEAD_INITIAL 512 /* pdns's REST request line and headers fit (one allocation) */
#define HDRS_INITIAL 16  /* pdns sends 8-10 headers */

/* What a connection's read watchdog is waiting for (header-timeout, body-timeout). */
enum read_phase {
    READ_IDLE, /* nothing: between requests, or a call in flight */
    READ_HEAD, /* a request line and headers (from accept, or from a request's first byte) */
    READ_BODY, /* a body whose headers are in */
};

struct http_listener {
    struct rbgw_listener *l;       /* borrowed owner */
    uv_tcp_t server;               /* listening socket */
    struct rbgw_url addr;          /* owned: address= */
    struct rbgw_http_in_conf conf; /* prefix (path=) and suffix (url-suffix=) */
    struct rbgw_list conns;        /* open http_conns */
    struct rbgw_read_slab slab;    /* the read buffer of every conn (listener/slab.h) */
    uint32_t nconns;               /* conns allocated and not yet freed (closing ones too) */
    struct rbgw_wdog wdog;         /* closes conns whose client leaves a reply unread */
    struct rbgw_wdog rdog;         /* closes conns whose request does not arrive in time */
    uint32_t max_conns;            /* max-conns= */
    uint32_t max_headers;          /* max-headers= */
    uint32_t max_header_size;      /* max-header-size= */
    uint32_t header_timeout_ms;    /* header-timeout= */
    uint32_t body_timeout_ms;      /* body-timeout= */
    char what[96];                 /* "http listener 127.0.0.1:8053", for logs */
    unsigned stopped : 1;          /* no more accepts */
    unsigned closed : 1;           /* handles closing */
    unsigned server_closed : 1;    /* the listening socket's close callback ran */
    unsigned wdog_closed : 1;      /* the watchdog timer's close callback ran */
    unsigned rdog_closed : 1;      /* the read watchdog timer's close callback ran */
};

struct hdr_span {
    size_t name_off, name_len;   /* in head */
    size_t value_off, value_len; /* in head */
};

struct http_conn {
    uv_tcp_t tcp;                  /* the connection */
    struct http_listener *hl;      /* borrowed owner */
    struct rbgw_list link;         /* on hl->conns */
    llhttp_t parser;               /* request parser (strict) */
    struct rbgw_inbuf in;          /* received, not yet parsed bytes; no memory when empty */
    struct rbgw_buf head;          /* request target, then header names and values */
    size_t url_len;                /* the target: head[0..url_len) */
    struct hdr_span *hdrs;         /* owned: offsets into head, hdrs_cap entries */
    size_t nhdrs;                  /* headers seen */
    size_t hdrs_cap;               /* entries allocated (up to MAX_HEADERS) */
    struct rbgw_buf body;          /* message body */
    struct rbgw_session *session;  /* our reference until conn_close: this pdns connection */
    struct rbgw_request *cur;      /* call in flight (our reference) */
    struct rbgw_wdog_wait wait;    /* on hl->wdog while cur's reply waits in the write queue */
    struct rbgw_wdog_wait rwait;   /* on hl->rdog while a request is awaited (read_watch) */
    size_t max_request;            /* max-request-size */
    size_t size;                   /* url, header and body bytes of this message, dropped
                                      ones included */
    size_t head_limit;             /* the smaller of max-request-size and max-header-size */
    enum read_phase phase;         /* what the parser is in the middle of */
    enum read_phase watched;       /* what rwait is armed for (READ_IDLE: not armed) */
    unsigned in_value : 1;         /* last header span was a value */
    unsigned complete : 1;         /* a message is complete */
    unsigned too_big : 1;          /* message exceeded max-request-size */
    unsigned body_dropped : 1;     /* its body is being dropped (too_big in the body) */
    unsigned too_many_headers : 1; /* more than max-headers */
    unsigned head_too_big : 1;     /* url and headers past max-header-size */
    unsigned keepalive : 1;        /* the message allows keep-alive */
    unsigned close_after : 1;      /* close once the reply is written */
    unsigned reading : 1;          /* uv_read_start active */
    unsigned writing : 1;          /* cur's reply is in libuv's write queue */
    unsigned processing : 1;       /* conn_process is on the stack */
    unsigned closing : 1;          /* uv_close called */
};

static void conn_process(struct http_conn *c);
static const char *unparsed(const struct http_conn *c, size_t *len);

/* ---- connection lifecycle ---- */

/* Free the copies of the current message (a dispatched one needs them no more). */
static void
message_free(struct http_conn *c)
{
    rbgw_buf_free(&c->head);
    rbgw_buf_free(&c->body);
    free(c->hdrs);
    c->hdrs = NULL;
    c->hdrs_cap = 0;
    c->nhdrs = 0;
    c->url_len = 0;
}

/* Every handle closed after http_close: the gateway may free the listener. */
static void
check_closed(struct http_listener *hl)
{
    if (hl->closed && hl->server_closed && hl->wdog_closed && hl->rdog_closed && hl->nconns == 0) {
        rbgw_gateway_listener_closed(hl->l);
    }
}

static void
on_conn_closed(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    struct http_listener *hl = c->hl;
    rbgw_inbuf_free(&c->in);
    message_free(c);
    free(c);
    hl->nconns--;
    check_closed(hl);
}

static void
on_server_closed(uv_handle_t *h)
{
    struct http_listener *hl = h->data;
    hl->server_closed = 1;
    check_closed(hl);
}

static void
on_wdog_closed(uv_handle_t *h)
{
    struct http_listener *hl = rbgw_container_of(h, struct http_listener, wdog.timer);
    hl->wdog_closed = 1;
    check_closed(hl);
}

static void
on_rdog_closed(uv_handle_t *h)
{
    struct http_listener *hl = rbgw_container_of(h, struct http_listener, rdog.timer);
    hl->rdog_closed = 1;
    check_closed(hl);
}

static void
conn_close(struct http_conn *c)
{
    if (c->closing) {
        return;
    }
    c->closing = 1;
    rbgw__wdog_end(&c->hl->wdog, &c->wait); /* a write in progress is cancelled */
    rbgw__wdog_end(&c->hl->rdog, &c->rwait);
    rbgw_list_remove(&c->link);
    if (c->cur && !c->cur->answered) {
        /* Still upstream: its answer will be swallowed (the session is gone), so nothing would
         * drop our reference later.  A reply being written ends in on_write(UV_ECANCELED),
         * which drops it. */
        struct rbgw_request *req = c->cur;
        c->cur = NULL;
        rbgw_request_unref(req);
    }
    /* Its open transactions end with the session's last request. */
    rbgw_session_gone(c->session,
                      c->hl->stopped ? "its listener closed" : "its pdns connection closed");
    c->session = NULL;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* The client is gone (why: the failure): say once what is dropped with it, and close. */
static void
client_gone(struct http_conn *c, const char *why)
{
    size_t len;
    unparsed(c, &len);
    if (len > 0) {
        rbgw_log_info("http listener: client gone (%s): %zu bytes of requests not yet served "
                      "dropped%s",
                      why, len, c->cur ? ", and the reply in progress" : "");
    } else if (c->cur) {
        rbgw_log_info("http listener: client gone (%s): the reply in progress is dropped", why);
    } else {
        rbgw_log_debug("http listener: client gone (%s)", why);
    }
    conn_close(c);
}

/* write-timeout: the client has not read cur's reply; it will not read the next ones either. */
static void
on_write_stalled(struct rbgw_wdog_wait *w)
{
    struct http_conn *c = rbgw_container_of(w, struct http_conn, wait);
    char why[80];
    c->hl->l->gw->limit_hits[RBGW_LIMIT_WRITE_TIMEOUT]++;
    snprintf(why, sizeof(why), "its reply unread for write-timeout, %u ms", w->timeout_ms);
    client_gone(c, why);
}

/* header-timeout or body-timeout: the request did not arrive in time (a client trickling its
 * bytes, or one that connected and sends nothing).  pdns writes a request at once, so this
 * is not pdns: the connection closes, nothing is answered. */
static void
on_read_stalled(struct rbgw_wdog_wait *w)
{
    struct http_conn *c = rbgw_container_of(w, struct http_conn, rwait);
    struct http_listener *hl = c->hl;
    bool head = c->watched == READ_HEAD;
    c->watched = READ_IDLE;
    hl->l->gw->limit_hits[head ? RBGW_LIMIT_HEADER_TIMEOUT : RBGW_LIMIT_BODY_TIMEOUT]++;
    rbgw_rlog_limited(RBGW_LOG_WARN, head ? "header-timeout" : "body-timeout", NULL, NULL,
                      "%s: a connection closed: its request %s did not arrive within %s=%u ms",
                      hl->what, head ? "line and headers" : "body",
                      head ? "header-timeout" : "body-timeout", w->timeout_ms);
    conn_close(c);
}

/*
 * Arm the read watchdog for what the connection waits for, or disarm it.  A request that
 * arrives whole in one read (pdns's way) is dispatched before this runs, so it costs no timer
 * operation; only a request still incomplete when a read is done, or a new connection's first
 * request, is watched.  The deadline runs from then: bytes trickling in do not extend it.
 */
static void
read_watch(struct http_conn *c)
{
    struct http_listener *hl = c->hl;
    enum read_phase want = c->closing || c->cur ? READ_IDLE : c->phase;
    if (want == c->watched) {
        return;
    }
    rbgw__wdog_end(&hl->rdog, &c->rwait);
    c->watched = want;
    if (want != READ_IDLE) {
        rbgw__wdog_begin(&hl->rdog, &c->rwait,
                         want == READ_HEAD ? hl->header_timeout_ms : hl->body_timeout_ms);
    }
}

/* ---- llhttp callbacks: collect one message ---- */

static struct http_conn *
conn_of(llhttp_t *p)
{
    return p->data;
}

/* Count add more bytes of the message; true (and too_big set) once it is past the limit. */
static int
over_limit(struct http_conn *c, size_t add)
{
    c->size += add;
    if (c->size > c->max_request) {
        c->too_big = 1;
        return 1;
    }
    return 0;
}

static int
on_message_begin(llhttp_t *p)
{
    struct http_conn *c = conn_of(p);
    rbgw_buf_reset(&c->head);
    rbgw_buf_reset(&c->body);
    c->url_len = 0;
    c->size = 0;
    c->nhdrs = 0;
    c->in_value = 0;
    c->complete = 0;
    c->too_big = 0;
    c->body_dropped = 0;
    c->phase = READ_HEAD;
    return 0;
}

/* Count add more bytes of the target and headers (all the message has so far): true once past
 * max-header-size (head_too_big) or max-request-size (too_big), one compare for both. */
static bool
head_over(struct http_conn *c, size_t add)
{
    c->size += add;
    if (c->size > c->head_limit) {
        if (c->size > c->max_request) {
            c->too_big = 1;
        } else {
            c->head_too_big = 1;
        }
        return true;
    }
    return false;
}

static int
on_url(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = conn_of(p);
    if (head_over(c, len)) {
        return HPE_USER;
    }
    if (c->head.data == NULL) {
        rbgw_buf_reserve(&c->head, HEAD_INITIAL - 1);
    }
    rbgw_buf_append(&c->head, at, len); /* the target comes before any header */
    c->url_len += len;
    return 0;
}

static int
on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = conn_of(p);
    if (c->body_dropped) {
        return 0; /* trailers of a dropped body */
    }
    if (head_over(c, len)) {
        return HPE_USER;
    }
    if (c->nhdrs == 0 || c->in_value) {
        if (c->nhdrs == c->hl->max_headers) {
            c->too_many_headers = 1;
            return HPE_USER;
        }
        if (c->nhdrs == c->hdrs_cap) {
            c->hdrs_cap = c->hdrs_cap ? 2 * c->hdrs_cap : HDRS_INITIAL;
            c->hdrs = rbgw_xrealloc(c->hdrs, c->hdrs_cap * sizeof(*c->hdrs));
        }
        struct hdr_span *h = &c->hdrs[c->nhdrs++];
        h->name_off = c->head.len;
        h->name_len = 0;
        h->value_off = c->head.len;
        h->value_len = 0;
        c->in_value = 0;
    }
    rbgw_buf_append(&c->head, at, len);
    c->hdrs[c->nhdrs - 1].name_len += len;
    return 0;
}

static int
on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = conn_of(p);
    if (c->body_dropped) {
        return 0; /* trailers of a dropped body */
    }
    if (head_over(c, len)) {
        return HPE_USER;
    }
    struct hdr_span *h = &c->hdrs[c->nhdrs - 1];
    if (!c->in_value) {
        h->value_off = c->head.len;
        h->value_len = 0;
        c->in_value = 1;
    }
    rbgw_buf_append(&c->head, at, len);
    h->value_len += len;
    return 0;
}

/* Past the limit the body is counted and dropped, not buffered: the message is answered false
 * once complete (dispatch_message) and the connection goes on. */
static int
on_body(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = conn_of(p);
    if (c->body_dropped) {
        c->size += len;
        return 0;
    }
    if (over_limit(c, len)) {
        c->body_dropped = 1;
        rbgw_buf_free(&c->body); /* what was kept of it is no use either */
        return 0;
    }
    rbgw_buf_append(&c->body, at, len);
    return 0;
}

static int
on_headers_complete(llhttp_t *p)
{
    conn_of(p)->phase = READ_BODY;
    return 0;
}

static int
on_message_complete(llhttp_t *p)
{
    struct http_conn *c = conn_of(p);
    c->complete = 1;
    c->phase = READ_IDLE;
    c->keepalive = llhttp_should_keep_alive(p) ? 1 : 0;
    return HPE_PAUSED; /* one call at a time: the rest waits until this one is answered */
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

/* ---- replies ---- */

/* The reply of c->cur is written (or failed): drop the call and go on. */
static void
write_done(struct http_conn *c, int status)
{
    struct rbgw_request *req = c->cur;
    c->cur = NULL;
    rbgw_request_unref(req);
    if (status == UV_ECANCELED || c->closing) {
        return;
    }
    if (status < 0) {
        client_gone(c, uv_strerror(status));
        return;
    }
    if (c->close_after || c->hl->stopped) {
        conn_close(c);
        return;
    }
    conn_process(c);
}

static void
on_write(uv_write_t *w, int status)
{
    struct http_conn *c = w->data;
    free(w);
    c->writing = 0;
    rbgw__wdog_end(&c->hl->wdog, &c->wait);
    write_done(c, status);
}

static const char *
status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return "Bad Request";
    }
}

static void
write_response(struct http_conn *c, struct rbgw_request *req, int status, struct rbgw_str json)
{
    const char *reason = status_text(status);
    struct rbgw_buf *b = &req->reply;
    rbgw_buf_reset(b);
    rbgw_buf_printf(b,
                    "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                    "Content-Length: %zu\r\nConnection: %s\r\n\r\n",
                    status, reason, json.len, c->close_after ? "close" : "keep-alive");
    rbgw_buf_append_str(b, json);
    uv_buf_t ub = uv_buf_init(b->data, (unsigned)b->len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &ub, 1);
    if (n == (int)ub.len) {
        write_done(c, 0);
        return;
    }
    if (n > 0) {
        ub.base += n;
        ub.len -= (size_t)n;
    }
    /* The rest lives in req->reply until write_done drops the request.  The write request is
     * allocated here, not kept per connection: idle ones need none. */
    int rc = n;
    if (n >= 0 || n == UV_EAGAIN) {
        uv_write_t *w = rbgw_xmalloc(sizeof(*w));
        w->data = c;
        rc = uv_write(w, (uv_stream_t *)&c->tcp, &ub, 1, on_write);
        if (rc < 0) {
            free(w);
        } else {
            c->writing = 1;
            rbgw__wdog_begin(&c->hl->wdog, &c->wait, c->hl->l->gw->cfg->write_timeout_ms);
        }
    }
    if (rc < 0) {
        c->cur = NULL;
        rbgw_request_unref(req);
        client_gone(c, uv_strerror(rc));
    }
}

static void
on_reply(struct rbgw_request *req, struct rbgw_str reply)
{
    struct http_conn *c = req->origin;
    RBGW_ASSERT(c->cur == req);
    write_response(c, req, 200, reply);
}

/* Answer a message that could not become a call (the request carries no JSON text). */
static void answer_error(struct http_conn *c, int status, const char *fmt, ...) RBGW_PRINTF(3, 4);

static void
answer_error(struct http_conn *c, int status, const char *fmt, ...)
{
    char reason[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    struct rbgw_request *req = rbgw_request_new(c->session, "", 0, c, on_reply);
    c->cur = req;
    if (status == 200) {
        rbgw_request_fail(req, RBGW_EPARSE, NULL, "%s", reason);
        return;
    }
    /* Not HTTP at all, or a head past a limit: the parser cannot go on, so the connection closes
     * after the answer. */
    rbgw_rlog_limited(RBGW_LOG_WARN, "http requests refused", NULL, NULL, "%s: %d: %s", c->hl->what,
                      status, reason);
    struct rbgw_buf body = RBGW_BUF_INIT;
    rbgw_rpc_error_reply(&body, reason, NULL);
    rbgw_request_answered(req, RBGW_ANSWER_BAD_REQUEST);
    c->close_after = 1;
    write_response(c, req, status, rbgw_buf_str(&body));
    rbgw_buf_free(&body);
}

/* ---- request handling ---- */

/* Turn the complete message into a call (or an answer); its copies are freed afterwards. */
static void
dispatch_message(struct http_conn *c)
{
    struct rbgw_http_header hdrs[MAX_HEADERS];
    for (size_t i = 0; i < c->nhdrs; i++) {
        hdrs[i].name = rbgw_str_make(c->head.data + c->hdrs[i].name_off, c->hdrs[i].name_len);
        hdrs[i].value = rbgw_str_make(c->head.data + c->hdrs[i].value_off, c->hdrs[i].value_len);
    }
    const char *verb = llhttp_method_name((llhttp_method_t)c->parser.method);
    struct rbgw_str target = rbgw_str_make(c->head.data ? c->head.data : "", c->url_len);
    int tlen = (int)(target.len > 200 ? 200 : target.len); /* as much as reasons show */
    struct rbgw_http_in in = {
        .verb = rbgw_str_cstr(verb),
        .target = target,
        .headers = hdrs,
        .nheaders = c->nhdrs,
        .body = rbgw_buf_str(&c->body),
    };
    c->close_after = !c->keepalive;
    struct rbgw_gateway *gw = c->hl->l->gw;
    if (c->body_dropped) {
        gw->limit_hits[RBGW_LIMIT_MAX_REQUEST_SIZE]++;
        answer_error(c, 200,
                     "%s %.*s: request of %zu bytes is larger than max-request-size (%zu bytes); "
                     "its body was discarded",
                     verb, tlen, target.p, c->size, c->max_request);
        message_free(c);
        return;
    }
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_buf json = RBGW_BUF_INIT;
    char err[300];
    enum rbgw_json_over over;
    int rc = rbgw_xlate_http_to_rpc_limited(&c->hl->conf, &in, &gw->cfg->json_limits, &a, &json,
                                            &over, err, sizeof(err));
    if (rc != 0) {
        if (rc == RBGW_ETOOBIG) {
            gw->limit_hits[rbgw_limit_of_json(over)]++;
        }
        answer_error(c, 200, "%s %.*s: %s", verb, tlen, target.p, err);
    } else {
        /* The request copies the JSON text: nothing points into the message afterwards. */
        struct rbgw_request *req = rbgw_request_new(c->session, json.data, json.len, c, on_reply);
        c->cur = req;
        rbgw_request_dispatch(req);
    }
    rbgw_buf_free(&json);
    rbgw_arena_free(&a);
    message_free(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* The input not yet parsed: the slab's rest while on_read parses this conn from it, else in. */
static const char *
unparsed(const struct http_conn *c, size_t *len)
{
    return rbgw_slab_unserved(&c->hl->slab, c, &c->in, len);
}

/* Drop n parsed bytes from the front of the input; an emptied `in` gives its memory back. */
static void
consume(struct http_conn *c, size_t n)
{
    rbgw_slab_drop(&c->hl->slab, c, &c->in, n);
}

/* Parse the unparsed input and dispatch complete messages, one call at a time; keep reading. */
static void
conn_process(struct http_conn *c)
{
    if (c->processing) {
        return; /* a synchronous reply inside the loop below: the loop goes on */
    }
    c->processing = 1;
    while (!c->closing && !c->cur) {
        size_t len;
        const char *p = unparsed(c, &len);
        if (len == 0) {
            break;
        }
        if (llhttp_get_errno(&c->parser) == HPE_PAUSED) {
            llhttp_resume(&c->parser);
        }
        llhttp_errno_t e = llhttp_execute(&c->parser, p, len);
        if (e == HPE_PAUSED && c->complete) {
            /* Spans were copied as they came: only the bytes after the message remain. */
            consume(c, (size_t)(llhttp_get_error_pos(&c->parser) - p));
            c->complete = 0;
            dispatch_message(c);
            continue;
        }
        consume(c, len);
        if (e != HPE_OK) {
            /* A head past a limit is 431 (with the JSON body every answer has); the request
             * cannot be read further, so the connection closes after it. */
            struct rbgw_gateway *gw = c->hl->l->gw;
            c->phase = READ_IDLE;
            if (c->too_many_headers) {
                gw->limit_hits[RBGW_LIMIT_MAX_HEADERS]++;
                answer_error(c, 431, "more than %u header lines (max-headers=%u)",
                             c->hl->max_headers, c->hl->max_headers);
            } else if (c->head_too_big) {
                gw->limit_hits[RBGW_LIMIT_MAX_HEADER_SIZE]++;
                answer_error(c, 431,
                             "request target and headers larger than max-header-size (%u bytes)",
                             c->hl->max_header_size);
            } else if (c->too_big) {
                gw->limit_hits[RBGW_LIMIT_MAX_REQUEST_SIZE]++;
                answer_error(c, 431, "request head larger than max-request-size (%zu bytes)",
                             c->max_request);
            } else {
                answer_error(c, 400, "malformed HTTP request: %s",
                             llhttp_get_error_reason(&c->parser));
            }
        }
    }
    c->processing = 0;
    if (c->closing) {
        return;
    }
    if (c->cur == NULL && c->hl->stopped) {
        conn_close(c);
        return;
    }
    read_watch(c);
    size_t kept;
    unparsed(c, &kept);
    size_t held = kept + (c->writing ? uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) : 0);
    const struct rbgw_config *cfg = c->hl->l->gw->cfg;
    if (c->cur && held > cfg->max_conn_buffer) {
        /* pdns does not pipeline: whoever does waits, with bounded memory, until we are idle */
        if (c->reading) {
            c->hl->l->gw->limit_hits[RBGW_LIMIT_MAX_CONN_BUFFER]++;
            rbgw_rlog_limited(RBGW_LOG_INFO, "max-conn-buffer", NULL, NULL,
                              "%s: a connection holds %zu bytes (max-conn-buffer=%zu): reading "
                              "paused until its client reads its replies",
                              c->hl->what, held, cfg->max_conn_buffer);
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = 0;
        }
        return;
    }
    if (!c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) {
            c->reading = 1;
        } else {
            conn_close(c);
        }
    }
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct http_conn *c = h->data;
    RBGW_UNUSED(suggested);
    *buf = rbgw_slab_alloc(&c->hl->slab);
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct http_conn *c = s->data;
    if (nread > 0) {
        if (c->cur || rbgw_inbuf_len(&c->in) > 0) {
            /* Behind the call in flight: kept, in order, until its reply is written. */
            rbgw_inbuf_append(&c->in, buf->base, (size_t)nread);
            conn_process(c);
            return;
        }
        struct rbgw_read_slab *slab = &c->hl->slab;
        rbgw_slab_serve(slab, c, (size_t)nread);
        conn_process(c);
        bool rest = !c->closing && slab->pos < slab->len;
        /* Pipelined input behind a call in flight: the slab is the next reader's. */
        rbgw_slab_release(slab, &c->in, c->closing);
        if (rest) {
            conn_process(c); /* stops reading if that is already past max-conn-buffer */
        }
        return;
    }
    if (nread == 0) {
        return;
    }
    if (nread < 0) {
        /* pdns closed (or reset) its connection: normal at its shutdown or rebuild. */
        if (llhttp_message_needs_eof(&c->parser)) {
            llhttp_finish(&c->parser);
        }
        client_gone(c, nread == UV_EOF ? "closed" : uv_strerror((int)nread));
        return;
    }
}

static void
on_connection(uv_stream_t *server, int status)
{
    struct http_listener *hl = server->data;
    if (status < 0) {
        rbgw__admit_failed(hl->l, server, status, hl->what);
        return;
    }
    struct http_conn *c = rbgw_xcalloc(1, sizeof(*c));
    c->hl = hl;
    hl->nconns++;
    c->max_request = hl->l->gw->cfg->max_request_size;
    c->head_limit = hl->max_header_size < c->max_request ? hl->max_header_size : c->max_request;
    rbgw__wdog_wait_init(&c->wait, on_write_stalled);
    rbgw__wdog_wait_init(&c->rwait, on_read_stalled);
    rbgw_list_init(&c->link);
    uv_tcp_init(hl->l->gw->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        c->closing = 1;
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    if (rbgw__admit_over(hl->l, hl->nconns, hl->max_conns, hl->what)) {
        /* A static answer: uv_try_write copies it to the socket at once, or it is dropped. */
        static const char busy[] =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            "Content-Length: 65\r\nConnection: close\r\n\r\n"
            "{\"result\":false,\"log\":[\"rbgw: too many connections (max-conns)\"]}";
        uv_buf_t ub = uv_buf_init((char *)busy, sizeof(busy) - 1);
        (void)uv_try_write((uv_stream_t *)&c->tcp, &ub, 1);
        c->closing = 1;
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    c->session = rbgw_session_new(hl->l->gw, hl->l);
    rbgw_list_push_back(&hl->conns, &c->link);
    uv_tcp_nodelay(&c->tcp, 1);
    llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
    c->parser.data = c;
    c->phase = READ_HEAD; /* the first request is awaited from now */
    conn_process(c);
}

/* ---- listener ops ---- */

static int
http_start(struct rbgw_listener *l, char *err, size_t errlen)
{
    const struct rbgw_connstr *cs = &l->conf->cs;
    const char *address = rbgw_connstr_get(cs, "address");
    if (address == NULL) {
        snprintf(err, errlen, "address=host:port is required");
        return RBGW_ECONFIG;
    }
    struct http_listener *hl = rbgw_xcalloc(1, sizeof(*hl));
    int rc = rbgw_hostport_parse(address, &hl->addr, err, errlen);
    if (rc != 0) {
        free(hl);
        return rc;
    }
    hl->l = l;
    rbgw_list_init(&hl->conns);
    const char *path = rbgw_connstr_get(cs, "path");
    hl->conf.prefix = rbgw_str_cstr(path ? path : "");
    if (hl->conf.prefix.len == 1 && hl->conf.prefix.p[0] == '/') {
        hl->conf.prefix.len = 0; /* url=http://host/ and http://host send the same paths */
    }
    hl->conf.suffix = rbgw_str_cstr(rbgw_connstr_get(cs, "url-suffix"));
    snprintf(hl->what, sizeof(hl->what), "http listener %s", hl->addr.hostport);
    l->impl = hl;
    uv_tcp_init(l->gw->loop, &hl->server);
    hl->server.data = hl;
    rbgw__wdog_init(&hl->wdog, l->gw->loop);
    rbgw__wdog_init(&hl->rdog, l->gw->loop);
    long v[5];
    static const char *const names[5] = {"max-conns", "max-headers", "max-header-size",
                                         "header-timeout", "body-timeout"};
    for (size_t i = 0; i < 5; i++) {
        if ((rc = rbgw_listener_int_opt(l, names[i], &v[i], err, errlen)) != 0) {
            return rc;
        }
    }
    hl->max_conns = (uint32_t)v[0];
    hl->max_headers = (uint32_t)v[1];
    hl->max_header_size = (uint32_t)v[2];
    hl->header_timeout_ms = (uint32_t)v[3];
    hl->body_timeout_ms = (uint32_t)v[4];
    struct sockaddr_storage ss;
    if (uv_ip4_addr(hl->addr.host, hl->addr.port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(hl->addr.host, hl->addr.port, (struct sockaddr_in6 *)&ss) != 0) {
        snprintf(err, errlen, "address %s: the host must be an IP address", address);
        return RBGW_ECONFIG;
    }
    rc = uv_tcp_bind(&hl->server, (const struct sockaddr *)&ss, 0);
    if (rc == 0) {
        rc = uv_listen((uv_stream_t *)&hl->server, 256, on_connection);
    }
    if (rc < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", hl->addr.hostport, uv_strerror(rc));
        return rc;
    }
    rbgw_log_info("listening on http://%s%.*s", hl->addr.hostport, (int)hl->conf.prefix.len,
                  hl->conf.prefix.p ? hl->conf.prefix.p : "");
    return 0;
}

static void
http_stop(struct rbgw_listener *l)
{
    struct http_listener *hl = l->impl;
    if (hl->stopped) {
        return;
    }
    hl->stopped = 1;
    /* Idle conns close now; busy ones after their reply (on_write). */
    struct rbgw_list *n = hl->conns.next;
    while (n != &hl->conns) {
        struct http_conn *c = rbgw_list_entry(n, struct http_conn, link);
        n = n->next;
        if (c->cur == NULL) {
            conn_close(c);
        }
    }
    l->done = true;
}

static void
http_close(struct rbgw_listener *l)
{
    struct http_listener *hl = l->impl;
    if (hl->closed) {
        return;
    }
    hl->closed = 1;
    hl->stopped = 1;
    while (!rbgw_list_empty(&hl->conns)) {
        conn_close(rbgw_list_entry(hl->conns.next, struct http_conn, link));
    }
    uv_close((uv_handle_t *)&hl->server, on_server_closed);
    rbgw__wdog_close(&hl->wdog, on_wdog_closed);
    rbgw__wdog_close(&hl->rdog, on_rdog_closed);
}

static void
http_destroy(struct rbgw_listener *l)
{
    struct http_listener *hl = l->impl;
    rbgw_url_free(&hl->addr);
    rbgw_slab_free(&hl->slab);
    free(hl);
    l->impl = NULL;
}

const struct rbgw_listener_ops rbgw_http_listener_ops = {
    .name = "http",
    .start = http_start,
    .stop = http_stop,
    .close = http_close,
    .destroy = http_destroy,
};

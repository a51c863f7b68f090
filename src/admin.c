/*
 * admin.c: the admin endpoint (see admin.h for what it serves and the limits).
 *
 *   rbgw_admin ──owns──> server handle (uv_tcp_t or uv_pipe_t, listening)
 *              ├─owns──> read buffer (one, shared: libuv runs one read callback at a time)
 *              └─owns──> conns (list) ── each: stream handle + timer, parser, answer bytes
 *
 * A conn lives from accept to the close callbacks of its two handles (stream and timer); it is
 * freed in the second one.  Its timer runs from accept for timeout= ms and is never re-armed,
 * so neither trickled input nor a client that does not read its answer keeps it longer.
 * Requests are parsed by llhttp from the shared read buffer as they arrive; nothing of the
 * request is kept but the first TARGET_MAX bytes of its target.  Once a request is complete
 * reading stops, the answer is built (header and body in two buffers, written with one
 * uv_write) and the connection closes when the write completes.  A connection over max-conns
 * is accepted only to be told 503 (with uv_try_write: nothing waits on it) and closed.
 *
 * Why on the gateway's loop rather than a thread: every answer is a read of state that the
 * loop owns (counters, pools, health), so a thread would need locks on the hot path; a scrape
 * costs the loop one render of a few kilobytes per upstream, which is far less than a call.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <llhttp.h>

#include "rbgw/admin.h"
#include "rbgw/gateway.h"
#include "rbgw/json.h"
#include "rbgw/list.h"
#include "rbgw/log.h"
#include "rbgw/metrics.h"
#include "rbgw/url.h"

#define TARGET_MAX 64 /* bytes of the request target kept: every path served is shorter */
#define READ_BUF 4096 /* the shared read buffer */
#define BACKLOG 16    /* listen(2) backlog: operators' tools, not pdns */

struct rbgw_admin {
    struct rbgw_gateway *gw; /* borrowed owner */
    union {
        uv_handle_t h;
        uv_stream_t s;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } server;               /* listening socket */
    bool is_unix;           /* server is a uv_pipe_t */
    char *where;            /* owned: "http://127.0.0.1:8054" or "unix:/run/rbgw/admin.sock" */
    char *path;             /* owned: the unix socket path (unlinked at close), or NULL */
    uint32_t max_conns;     /* max-conns= */
    uint32_t timeout_ms;    /* timeout= */
    size_t max_request;     /* max-request-size= */
    uint32_t nconns;        /* conns being served (refused ones not counted) */
    struct rbgw_list conns; /* every conn not yet closing */
    char rbuf[READ_BUF];    /* the read buffer all conns share */
    struct rbgw_admin_stats stats; /* its counters */
    unsigned server_open : 1;      /* server handle initialised and not closed */
    unsigned closed : 1;           /* rbgw_admin_close ran */
    unsigned freeing : 1;          /* rbgw_admin_free ran: the server's close callback frees */
    unsigned server_closed : 1;    /* the server's close callback ran */
};

struct admin_conn {
    union {
        uv_handle_t h;
        uv_stream_t s;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } io;                     /* the connection */
    uv_timer_t timer;         /* end of the exchange (timeout=) */
    struct rbgw_admin *ad;    /* borrowed owner */
    struct rbgw_list link;    /* on ad->conns until closing */
    llhttp_t parser;          /* request parser */
    char target[TARGET_MAX];  /* start of the request target */
    size_t target_len;        /* bytes in target */
    size_t size;              /* bytes read so far */
    struct rbgw_buf head;     /* answer: status line and headers */
    struct rbgw_buf body;     /* answer: body */
    uv_write_t wreq;          /* the answer's write */
    int handles;              /* handles not yet closed (stream, timer) */
    unsigned counted : 1;     /* counts in ad->nconns */
    unsigned target_long : 1; /* the target did not fit in target[] */
    unsigned complete : 1;    /* a whole request was read */
    unsigned answering : 1;   /* the answer's write is under way */
    unsigned closing : 1;     /* handles closing */
};

const char *
rbgw_admin_path_name(enum rbgw_admin_path p)
{
    static const char *const names[RBGW_ADMIN_NPATHS] = {
#define RBGW_X(id, path) [RBGW_ADMIN_P_##id] = path,
        RBGW_ADMIN_PATHS(RBGW_X)
#undef RBGW_X
            [RBGW_ADMIN_P_OTHER] = "other",
    };
    return (unsigned)p < RBGW_ADMIN_NPATHS ? names[p] : "other";
}

int
rbgw_admin_code_value(enum rbgw_admin_code c)
{
    static const int codes[RBGW_ADMIN_NCODES] = {
#define RBGW_X(code) [RBGW_ADMIN_C_##code] = code,
        RBGW_ADMIN_CODES(RBGW_X)
#undef RBGW_X
    };
    return (unsigned)c < RBGW_ADMIN_NCODES ? codes[c] : 0;
}

static const struct {
    const char *label; /* metrics label */
    int status;        /* what the client is told */
    const char *text;  /* reason phrase */
} refusals[RBGW_ADMIN_NREFUSALS] = {
#define RBGW_X(id, label, status, text) [RBGW_ADMIN_R_##id] = {label, status, text},
    RBGW_ADMIN_REFUSALS(RBGW_X)
#undef RBGW_X
};

const char *
rbgw_admin_refusal_name(enum rbgw_admin_refusal r)
{
    return (unsigned)r < RBGW_ADMIN_NREFUSALS ? refusals[r].label : "unknown";
}

const struct rbgw_admin_stats *
rbgw_admin_stats(const struct rbgw_admin *ad)
{
    return ad ? &ad->stats : NULL;
}

/* ---- connections ---- */

static void
on_conn_handle_closed(uv_handle_t *h)
{
    struct admin_conn *c = h->data;
    if (--c->handles > 0) {
        return;
    }
    rbgw_buf_free(&c->head);
    rbgw_buf_free(&c->body);
    free(c);
}

static void
conn_close(struct admin_conn *c)
{
    if (c->closing) {
        return;
    }
    c->closing = 1;
    rbgw_list_remove(&c->link);
    if (c->counted) {
        c->ad->nconns--;
        c->counted = 0;
    }
    uv_close(&c->io.h, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

/* Tell the client why it is not served (best effort, never waits) and close. */
static void
refuse(struct admin_conn *c, enum rbgw_admin_refusal r)
{
    c->ad->stats.refused[r]++;
    if (!c->answering) {
        char text[160];
        int n = snprintf(text, sizeof(text),
                         "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                         refusals[r].status, refusals[r].text);
        uv_buf_t b = uv_buf_init(text, (unsigned)n);
        (void)uv_try_write(&c->io.s, &b, 1);
    }
    conn_close(c);
}

static void
on_timeout(uv_timer_t *t)
{
    struct admin_conn *c = t->data;
    refuse(c, RBGW_ADMIN_R_TIMEOUT);
}

static void
on_written(uv_write_t *w, int status)
{
    struct admin_conn *c = w->data;
    RBGW_UNUSED(status); /* written or not, the exchange is over */
    conn_close(c);
}

static const char *
reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

/* Write the answer in c->body with status; head=true: the headers only (HEAD). */
static void
send_answer(struct admin_conn *c, enum rbgw_admin_path path, enum rbgw_admin_code code,
            const char *content_type, const char *extra_headers, bool head_only)
{
    int status = rbgw_admin_code_value(code);
    c->ad->stats.requests[path][code]++;
    rbgw_buf_printf(&c->head,
                    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                    "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                    status, reason_phrase(status), content_type, c->body.len,
                    extra_headers ? extra_headers : "");
    uv_buf_t bufs[2] = {uv_buf_init(c->head.data, (unsigned)c->head.len),
                        uv_buf_init(c->body.data ? c->body.data : "", (unsigned)c->body.len)};
    c->answering = 1;
    c->wreq.data = c;
    int rc = uv_write(&c->wreq, &c->io.s, bufs, head_only || c->body.len == 0 ? 1 : 2, on_written);
    if (rc < 0) {
        rbgw_log_debug("admin: cannot write an answer: %s", uv_strerror(rc));
        conn_close(c);
    }
}

static enum rbgw_admin_path
path_of(const struct admin_conn *c)
{
    if (c->target_long) {
        return RBGW_ADMIN_P_OTHER;
    }
    size_t n = 0;
    while (n < c->target_len && c->target[n] != '?') {
        n++;
    }
#define RBGW_X(id, p)                                                                              \
    if (n == sizeof(p) - 1 && memcmp(c->target, p, n) == 0) {                                      \
        return RBGW_ADMIN_P_##id;                                                                  \
    }
    RBGW_ADMIN_PATHS(RBGW_X)
#undef RBGW_X
    return RBGW_ADMIN_P_OTHER;
}

static void
json_field_str(struct rbgw_buf *b, const char *key, const char *value)
{
    rbgw_json_write_string(b, key, strlen(key));
    rbgw_buf_putc(b, ':');
    rbgw_json_write_string(b, value, strlen(value));
}

/* A complete request: answer it. */
static void
serve(struct admin_conn *c)
{
    struct rbgw_gateway *gw = c->ad->gw;
    enum rbgw_admin_path path = path_of(c);
    llhttp_method_t method = (llhttp_method_t)llhttp_get_method(&c->parser);
    bool head_only = method == HTTP_HEAD;
    bool is_get = method == HTTP_GET || head_only;
    const char *json = "application/json";

    if (path == RBGW_ADMIN_P_OTHER) {
        rbgw_buf_append_cstr(&c->body, "{\"error\":\"not found\",\"paths\":[\"/metrics\","
                                       "\"/healthz\",\"/readyz\",\"/status\",\"/reload\"]}\n");
        send_answer(c, path, RBGW_ADMIN_C_404, json, NULL, head_only);
        return;
    }
    if (path == RBGW_ADMIN_P_RELOAD) {
        if (method != HTTP_POST) {
            rbgw_buf_append_cstr(&c->body, "{\"error\":\"use POST\"}\n");
            send_answer(c, path, RBGW_ADMIN_C_405, json, "Allow: POST\r\n", head_only);
            return;
        }
        char err[256];
        int rc = rbgw_gateway_reload(gw, err, sizeof(err));
        rbgw_buf_putc(&c->body, '{');
        if (rc == 0) {
            rbgw_buf_printf(&c->body, "\"reloaded\":true,\"generation\":%llu}\n",
                            (unsigned long long)gw->generation);
            rbgw_log_info("admin: configuration reloaded (generation %llu)",
                          (unsigned long long)gw->generation);
            send_answer(c, path, RBGW_ADMIN_C_200, json, NULL, false);
        } else {
            rbgw_buf_append_cstr(&c->body, "\"reloaded\":false,");
            json_field_str(&c->body, "error", err);
            rbgw_buf_printf(&c->body, ",\"generation\":%llu}\n",
                            (unsigned long long)gw->generation);
            rbgw_log_warn("admin: reload refused: %s", err);
            send_answer(c, path, RBGW_ADMIN_C_500, json, NULL, false);
        }
        return;
    }
    if (!is_get) {
        rbgw_buf_append_cstr(&c->body, "{\"error\":\"use GET or HEAD\"}\n");
        send_answer(c, path, RBGW_ADMIN_C_405, json, "Allow: GET, HEAD\r\n", head_only);
        return;
    }
    switch (path) {
    case RBGW_ADMIN_P_METRICS:
        rbgw_metrics_render(gw, &c->body);
        send_answer(c, path, RBGW_ADMIN_C_200, "text/plain; version=0.0.4; charset=utf-8", NULL,
                    head_only);
        return;
    case RBGW_ADMIN_P_HEALTHZ:
        rbgw_buf_append_cstr(&c->body, "ok\n");
        send_answer(c, path, RBGW_ADMIN_C_200, "text/plain; charset=utf-8", NULL, head_only);
        return;
    case RBGW_ADMIN_P_READYZ: {
        char why[256];
        bool ready = rbgw_metrics_ready(gw, why, sizeof(why));
        if (ready) {
            rbgw_buf_append_cstr(&c->body, "{\"ready\":true}\n");
        } else {
            rbgw_buf_append_cstr(&c->body, "{\"ready\":false,");
            json_field_str(&c->body, "reason", why);
            rbgw_buf_append_cstr(&c->body, "}\n");
        }
        send_answer(c, path, ready ? RBGW_ADMIN_C_200 : RBGW_ADMIN_C_503, json, NULL, head_only);
        return;
    }
    case RBGW_ADMIN_P_STATUS:
        rbgw_metrics_status_json(gw, &c->body);
        rbgw_buf_putc(&c->body, '\n');
        send_answer(c, path, RBGW_ADMIN_C_200, json, NULL, head_only);
        return;
    default:
        RBGW_ASSERT(!"unhandled admin path");
    }
}

static struct admin_conn *
conn_of(llhttp_t *p)
{
    return p->data;
}

static int
on_url(llhttp_t *p, const char *at, size_t len)
{
    struct admin_conn *c = conn_of(p);
    size_t room = TARGET_MAX - c->target_len;
    if (len > room) {
        c->target_long = 1;
        len = room;
    }
    memcpy(c->target + c->target_len, at, len);
    c->target_len += len;
    return 0;
}

static int
on_message_complete(llhttp_t *p)
{
    conn_of(p)->complete = 1;
    return HPE_PAUSED; /* one request per connection: whatever follows is ignored */
}

static const llhttp_settings_t parser_settings = {
    .on_url = on_url,
    .on_message_complete = on_message_complete,
};

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct admin_conn *c = h->data;
    RBGW_UNUSED(suggested);
    *buf = uv_buf_init(c->ad->rbuf, sizeof(c->ad->rbuf));
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct admin_conn *c = s->data;
    if (nread == 0 || c->closing || c->answering) {
        return;
    }
    if (nread < 0) {
        /* The client went away (or half-closed) before its request was complete. */
        conn_close(c);
        return;
    }
    c->size += (size_t)nread;
    llhttp_errno_t e = llhttp_execute(&c->parser, buf->base, (size_t)nread);
    if (c->complete) {
        uv_read_stop(s);
        serve(c);
        return;
    }
    if (e != HPE_OK) {
        refuse(c, RBGW_ADMIN_R_MALFORMED);
        return;
    }
    if (c->size > c->ad->max_request) {
        refuse(c, RBGW_ADMIN_R_TOO_LARGE);
    }
}

static void
on_connection(uv_stream_t *server, int status)
{
    struct rbgw_admin *ad = server->data;
    if (status < 0) {
        rbgw_log_warn("admin %s: accept failed: %s", ad->where, uv_strerror(status));
        return;
    }
    struct admin_conn *c = rbgw_xcalloc(1, sizeof(*c));
    c->ad = ad;
    rbgw_list_init(&c->link);
    if (ad->is_unix) {
        uv_pipe_init(ad->gw->loop, &c->io.pipe, 0);
    } else {
        uv_tcp_init(ad->gw->loop, &c->io.tcp);
    }
    c->io.h.data = c;
    uv_timer_init(ad->gw->loop, &c->timer);
    c->timer.data = c;
    c->handles = 2;
    rbgw_list_push_back(&ad->conns, &c->link);
    if (uv_accept(server, &c->io.s) != 0) {
        conn_close(c);
        return;
    }
    if (ad->nconns >= ad->max_conns) {
        refuse(c, RBGW_ADMIN_R_MAX_CONNS);
        return;
    }
    ad->nconns++;
    c->counted = 1;
    llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
    c->parser.data = c;
    uv_timer_start(&c->timer, on_timeout, ad->timeout_ms, 0);
    if (uv_read_start(&c->io.s, on_alloc, on_read) != 0) {
        conn_close(c);
    }
}

/* ---- the server ---- */

/* Is somebody answering on path?  1 yes, 0 no (stale or absent), <0 not a socket. */
static int
unix_path_live(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        return 0;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a socket; refusing to replace it", path);
        return RBGW_ECONFIG;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return 0;
    }
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN;
    close(fd);
    return live;
}

static int
bind_unix(struct rbgw_admin *ad, const struct rbgw_connstr *cs, char *err, size_t errlen)
{
    const char *path = rbgw_connstr_get(cs, "path");
    int live = unix_path_live(path, err, errlen);
    if (live < 0) {
        return live;
    }
    if (live) {
        snprintf(err, errlen, "%s is in use by a running server", path);
        return RBGW_ECONFIG;
    }
    unlink(path); /* a stale socket of a dead process, or nothing */
    ad->is_unix = true;
    uv_pipe_init(ad->gw->loop, &ad->server.pipe, 0);
    ad->server_open = 1;
    int rc = uv_pipe_bind(&ad->server.pipe, path);
    if (rc < 0) {
        snprintf(err, errlen, "cannot bind %s: %s", path, uv_strerror(rc));
        return rc;
    }
    ad->path = rbgw_xstrdup(path);
    char where[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
    snprintf(where, sizeof(where), "unix:%s", path);
    ad->where = rbgw_xstrdup(where);
    return 0;
}

static int
bind_tcp(struct rbgw_admin *ad, const struct rbgw_connstr *cs, char *err, size_t errlen)
{
    struct rbgw_url addr;
    int rc = rbgw_hostport_parse(rbgw_connstr_get(cs, "address"), &addr, err, errlen);
    if (rc != 0) {
        return rc;
    }
    struct sockaddr_storage ss;
    if (uv_ip4_addr(addr.host, addr.port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(addr.host, addr.port, (struct sockaddr_in6 *)&ss) != 0) {
        snprintf(err, errlen, "address %s: the host must be an IP address", addr.hostport);
        rbgw_url_free(&addr);
        return RBGW_ECONFIG;
    }
    uv_tcp_init(ad->gw->loop, &ad->server.tcp);
    ad->server_open = 1;
    rc = uv_tcp_bind(&ad->server.tcp, (const struct sockaddr *)&ss, 0);
    if (rc < 0) {
        snprintf(err, errlen, "cannot bind %s: %s", addr.hostport, uv_strerror(rc));
        rbgw_url_free(&addr);
        return rc;
    }
    char where[300];
    snprintf(where, sizeof(where), "http://%s", addr.hostport);
    ad->where = rbgw_xstrdup(where);
    rbgw_url_free(&addr);
    return 0;
}

int
rbgw_admin_start(struct rbgw_gateway *gw, const struct rbgw_endpoint_conf *ec,
                 struct rbgw_admin **out, char *err, size_t errlen)
{
    const struct rbgw_connstr *cs = &ec->cs;
    long max_conns = 0, timeout = 0, max_request = 0;
    long *const vals[] = {&max_conns, &timeout, &max_request};
    size_t k = 0;
#define RBGW_X(name, def, min, max, help)                                                          \
    if (rbgw_connstr_get_int(cs, name, def, min, max, vals[k++], err, errlen) != 0) {              \
        return RBGW_ECONFIG;                                                                       \
    }
    RBGW_ADMIN_INT_OPTS(RBGW_X)
#undef RBGW_X
    struct rbgw_admin *ad = rbgw_xcalloc(1, sizeof(*ad));
    ad->gw = gw;
    ad->max_conns = (uint32_t)max_conns;
    ad->timeout_ms = (uint32_t)timeout;
    ad->max_request = (size_t)max_request;
    rbgw_list_init(&ad->conns);
    *out = ad;
    int rc = cs->transport == RBGW_TRANSPORT_UNIX ? bind_unix(ad, cs, err, errlen)
                                                  : bind_tcp(ad, cs, err, errlen);
    if (rc != 0) {
        return rc;
    }
    ad->server.h.data = ad;
    rc = uv_listen(&ad->server.s, BACKLOG, on_connection);
    if (rc < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", ad->where, uv_strerror(rc));
        return rc;
    }
    rbgw_log_info("admin endpoint on %s (/metrics /healthz /readyz /status /reload)", ad->where);
    return 0;
}

static void
on_server_closed(uv_handle_t *h)
{
    struct rbgw_admin *ad = h->data;
    ad->server_closed = 1;
    if (ad->freeing) {
        free(ad);
    }
}

void
rbgw_admin_close(struct rbgw_admin *ad)
{
    if (ad == NULL || ad->closed) {
        return;
    }
    ad->closed = 1;
    while (!rbgw_list_empty(&ad->conns)) {
        conn_close(rbgw_list_entry(ad->conns.next, struct admin_conn, link));
    }
    if (ad->server_open) {
        ad->server.h.data = ad;
        uv_close(&ad->server.h, on_server_closed);
    }
    if (ad->path) {
        unlink(ad->path);
    }
}

void
rbgw_admin_free(struct rbgw_admin *ad)
{
    if (ad == NULL) {
        return;
    }
    rbgw_admin_close(ad);
    free(ad->where);
    free(ad->path);
    ad->where = ad->path = NULL;
    if (ad->server_open && !ad->server_closed) {
        /* The loop has not run the close callback yet (an aborted start): it frees. */
        ad->freeing = 1;
        return;
    }
    free(ad);
}

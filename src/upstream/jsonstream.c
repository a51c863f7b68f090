/*
 * upstream/jsonstream.c: responders on JSON stream connectors: unix sockets and pipe
 * co-processes.  Both speak the same framing (docs/protocol.md §4.1, §4.2): one JSON request plus
 * '\n' out, one JSON document back (newline optional, may span lines), and both start every
 * new connection or child with `initialize` carrying the upstream's own connection-string
 * options, all values strings, as pdns does (§3.1).
 *
 *   js_upstream { pool, kind, initialize text } ──pool──> js_conn { upconn, streams, rbuf }
 *      kind = unix: one socket per conn, connected to path=
 *      kind = pipe: one child per conn (command= split on single spaces, no shell), its
 *                   stdin/stdout as the streams, its stderr forwarded line by line to our log
 *
 * Calls are forwarded as the bytes the listener received, replies as the bytes the responder
 * sent (flattened to one line): no re-serialisation.
 *
 * A child or socket that misses its deadline is closed by the pool (a child is killed with
 * SIGKILL and reaped before its handles close); a new one is opened on demand, with the pool's
 * back-off after failed opens, so a crash-looping responder is not respawned in a tight loop.
 * A child that exits on its own settles its conn when it is reaped (settle_exited), not at its
 * stdout's EOF alone, which a grandchild holding the pipe would keep from ever coming.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "rbgw/frame.h"
#include "rbgw/log.h"
#include "rbgw/outcome.h"
#include "rbgw/connpool.h"

#define READ_CHUNK 65536

enum js_kind { JS_UNIX, JS_PIPE };

struct js_upstream {
    struct rbgw_connpool cp;   /* connection / child pool */
    enum js_kind kind;         /* unix or pipe */
    char *target;              /* owned: "unix:/path" or "pipe:/bin/resp", for messages */
    char *path;                /* owned: unix socket path */
    char **argv;               /* owned: pipe command split as pdns splits it, NULL-terminated */
    struct rbgw_buf init_call; /* the initialize request line, built once */
    size_t max_reply;          /* max-reply-size */
};

struct js_conn {
    struct rbgw_upconn base;      /* must stay first */
    uv_pipe_t sock;               /* unix: the socket; pipe: the child's stdin (we write) */
    uv_pipe_t out;                /* pipe: the child's stdout (we read) */
    uv_pipe_t err;                /* pipe: the child's stderr (forwarded to the log) */
    uv_process_t proc;            /* pipe: the child */
    uv_connect_t creq;            /* unix: connect request */
    uv_write_t wreq;              /* request write */
    struct rbgw_wbatch_item wb;   /* queued while the call waits for the loop pass's end */
    struct rbgw_buf rbuf;         /* reply bytes so far */
    struct rbgw_frame_scanner sc; /* reply framing */
    struct rbgw_buf ebuf;         /* partial stderr line */
    struct rbgw_buf out_line;     /* the one-line reply handed to the request */
    struct rbgw_arena scratch;    /* for vetting the initialize reply */
    int pending;                  /* handles to wait for after close */
    int pid;                      /* pipe: child pid, for logs */
    unsigned initializing : 1;    /* waiting for the initialize reply */
    unsigned closing : 1;         /* ops->close called */
    unsigned proc_alive : 1;      /* pipe: child not yet reaped */
    unsigned child_gone : 1;      /* pipe: the child exited (reaped) before the conn closed */
    unsigned handles_closed : 1;  /* stream handles closed (pipe: after the child was reaped) */
};

static struct js_upstream *
upstream_of(struct js_conn *c)
{
    return c->base.cp->transport;
}

static uv_stream_t *
read_stream(struct js_conn *c)
{
    return upstream_of(c)->kind == JS_PIPE ? (uv_stream_t *)&c->out : (uv_stream_t *)&c->sock;
}

/* ---- closing ---- */

static void
unpend(struct js_conn *c)
{
    if (--c->pending == 0 && c->closing) {
        rbgw_buf_free(&c->rbuf);
        rbgw_buf_free(&c->ebuf);
        rbgw_buf_free(&c->out_line);
        rbgw_arena_free(&c->scratch);
        rbgw_upconn_free(&c->base);
    }
}

static void
on_handle_closed(uv_handle_t *h)
{
    unpend(h->data);
}

static void
close_handle(struct js_conn *c, uv_handle_t *h)
{
    if (h->loop && !uv_is_closing(h)) {
        h->data = c;
        c->pending++;
        uv_close(h, on_handle_closed);
    }
}

static void
close_handles(struct js_conn *c)
{
    if (c->handles_closed) {
        return;
    }
    c->handles_closed = 1;
    close_handle(c, (uv_handle_t *)&c->sock);
    close_handle(c, (uv_handle_t *)&c->out);
    close_handle(c, (uv_handle_t *)&c->err);
    close_handle(c, (uv_handle_t *)&c->proc);
}

static void
js_conn_close(struct rbgw_upconn *uc)
{
    struct js_conn *c = (struct js_conn *)uc;
    c->closing = 1;
    rbgw__wbatch_remove(&c->wb);
    c->pending++; /* held across this function */
    if (c->proc_alive) {
        /* Reap before closing the process handle, or the child stays a zombie.  Its pipes
         * close now so a blocked child sees EPIPE/EOF; on_child_exit releases this count. */
        c->pending++;
        uv_process_kill(&c->proc, SIGKILL);
        close_handle(c, (uv_handle_t *)&c->sock);
        close_handle(c, (uv_handle_t *)&c->out);
    } else {
        close_handles(c);
    }
    unpend(c);
}

/* ---- replies ---- */

/* Data with no call in flight: the responder is out of step (it would be read as the next
 * call's reply), so the conn goes; a warning, as nothing else would show the fault. */
static void
unsolicited(struct js_conn *c)
{
    struct js_upstream *up = upstream_of(c);
    rbgw_ulog_warn(up->cp.u, "%s: the responder sent data nobody asked for; %s", up->target,
                   up->kind == JS_PIPE ? "its child is killed" : "connection dropped");
    rbgw_upconn_lost(&c->base, "the responder sent data nobody asked for");
}

static void
handle_document(struct js_conn *c, const char *doc, size_t len, bool stray,
                const struct rbgw_rpc_vet *vet)
{
    struct js_upstream *up = upstream_of(c);
    char err[256];
    if (c->initializing) {
        c->initializing = 0;
        rbgw_arena_free(&c->scratch);
        rbgw_buf_reset(&c->out_line);
        bool init_false;
        struct rbgw_str ilog;
        if (rbgw_rpc_check_reply(&c->scratch, rbgw_str_make(doc, len), &c->out_line, &init_false,
                                 &ilog, err, sizeof(err)) != 0) {
            rbgw_upconn_error(&c->base, RBGW_ECONNECT, 0, NULL, "bad initialize reply: %s", err);
            return;
        }
        rbgw_log_responder(NULL, up->cp.u, ilog);
        if (init_false) {
            if (up->kind == JS_UNIX) {
                /* pdns closes a unix connection whose initialize failed. */
                rbgw_upconn_error(&c->base, RBGW_ECONNECT, 0, NULL, "initialize answered false");
                return;
            }
            /* pdns keeps using a pipe child whose initialize failed; so do we. */
            rbgw_ulog_warn(up->cp.u, "%s: initialize answered false; using the child anyway",
                           up->target);
        }
        if (stray) {
            rbgw_upconn_error(&c->base, RBGW_ECONNECT, 0, NULL,
                              "extra data after the initialize reply");
            return;
        }
        if (c->child_gone) {
            rbgw_upconn_error(&c->base, RBGW_ECONNECT, 0, NULL,
                              "the child exited after its initialize reply");
            return;
        }
        rbgw_upconn_ready(&c->base);
        return;
    }
    if (c->base.state != RBGW_UPCONN_BUSY || c->base.call == NULL) {
        unsolicited(c);
        return;
    }
    struct rbgw_request *req = c->base.call->req;
    struct rbgw_str log_text;
    rbgw_buf_reset(&c->out_line);
    bool said_false;
    struct rbgw_gateway *gw = up->cp.u->gw;
    enum rbgw_json_over over;
    int rc = 0;
    if (vet != NULL) {
        rbgw_rpc_reply_vetted(rbgw_str_make(doc, len), vet, &c->out_line, &said_false, &log_text);
    } else {
        rc = rbgw_rpc_check_reply_limited(&req->arena, rbgw_str_make(doc, len),
                                          &gw->cfg->json_limits, &over, &c->out_line, &said_false,
                                          &log_text, err, sizeof(err));
    }
    if (rc == RBGW_ETOOBIG) {
        /* A whole document past max-json-*: the stream is in step for the next call. */
        gw->limit_hits[rbgw_limit_of_json(over)]++;
        rbgw_upconn_error(&c->base, RBGW_ETOOBIG, stray || c->child_gone ? 0 : RBGW_UPCONN_KEEP,
                          NULL, "%s", err);
        return;
    }
    if (rc != 0) {
        rbgw_upconn_error(&c->base, RBGW_EPROTO, 0, NULL, "%s", err);
        return;
    }
    /* Bytes after the reply would be read as the next call's reply: do not reuse the conn
     * (nor a child that is gone). */
    rbgw_upconn_reply(&c->base, rbgw_buf_str(&c->out_line), log_text,
                      (stray || c->child_gone ? 0 : RBGW_UPCONN_KEEP) |
                          (said_false ? RBGW_UPCONN_FALSE : 0));
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct js_conn *c = h->data;
    RBGW_UNUSED(suggested);
    if (h == (uv_handle_t *)&c->err) {
        *buf = uv_buf_init(rbgw_buf_reserve(&c->ebuf, 4096), 4096);
        return;
    }
    *buf = uv_buf_init(rbgw_buf_reserve(&c->rbuf, READ_CHUNK), READ_CHUNK);
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct js_conn *c = s->data;
    struct js_upstream *up;
    RBGW_UNUSED(buf);
    if (nread == 0 || c->closing) {
        return;
    }
    up = upstream_of(c);
    if (nread < 0) {
        const char *what = up->kind == JS_PIPE ? "the child closed its stdout"
                                               : "the responder closed the connection";
        if (c->base.state == RBGW_UPCONN_IDLE) {
            rbgw_upconn_lost(&c->base, what);
        } else if (c->initializing) {
            rbgw_upconn_error(&c->base, RBGW_ECONNECT, 0, NULL, "%s during initialize, %s", what,
                              uv_err_name((int)nread));
        } else {
            /* No retry: the call was delivered, and a responder that dies handling it may have
             * acted on it (an idle peer's close is noticed while idle, before any call). */
            rbgw_upconn_error(&c->base, RBGW_ECLOSED, 0, NULL, "%s %s, %s", what,
                              c->base.got_bytes ? "in the middle of a reply" : "before replying",
                              uv_err_name((int)nread));
        }
        return;
    }
    c->rbuf.len += (size_t)nread;
    c->rbuf.data[c->rbuf.len] = '\0';
    size_t start, end;
    /* The usual case, a whole good reply to the call in flight at the front of rbuf, is framed
     * and vetted in one pass; anything else takes the frame scanner and the full check. */
    struct rbgw_rpc_vet vet;
    bool vetted = c->base.state == RBGW_UPCONN_BUSY && !c->initializing &&
                  rbgw_frame_scanner_fresh(&c->sc) &&
                  rbgw_rpc_vet_frame(c->rbuf.data, c->rbuf.len, &up->cp.u->gw->cfg->json_limits,
                                     &vet, &start, &end) == 0;
    int complete = vetted || rbgw_frame_scan(&c->sc, c->rbuf.data, c->rbuf.len, &start, &end);
    if (!complete && c->sc.start == c->rbuf.len) {
        /* Only whitespace, e.g. the newline of the previous reply arriving late: the unix
         * connector treats it as leading whitespace of the next reply (docs/protocol.md §4.2). */
        rbgw_buf_reset(&c->rbuf);
        rbgw_frame_scanner_init(&c->sc);
        return;
    }
    if (c->base.state == RBGW_UPCONN_IDLE) {
        unsolicited(c);
        return;
    }
    c->base.got_bytes = 1;
    /* A reply that arrived whole in one read is held to the limit as well. */
    if ((complete ? end - start : c->rbuf.len) > up->max_reply) {
        rbgw_upconn_error(&c->base, c->initializing ? RBGW_ECONNECT : RBGW_ETOOBIG, 0, NULL,
                          "%s larger than max-reply-size=%zu bytes",
                          c->initializing ? "initialize reply" : "reply", up->max_reply);
        return;
    }
    if (!complete) {
        return;
    }
    bool stray = false;
    for (size_t i = end; i < c->rbuf.len; i++) {
        if (!strchr(" \t\r\n", c->rbuf.data[i])) {
            stray = true;
            break;
        }
    }
    /* The document stays in rbuf until handled; reset afterwards (the conn may be reused). */
    handle_document(c, c->rbuf.data + start, end - start, stray, vetted ? &vet : NULL);
    if (!c->closing) {
        rbgw_buf_reset(&c->rbuf);
        rbgw_frame_scanner_init(&c->sc);
    }
}

/* One line of a child's stderr, at info; limited per upstream (a child may write one per
 * call). */
static void
child_line(struct js_conn *c, const char *text, size_t len)
{
    rbgw_rlog_limited(RBGW_LOG_INFO, "child stderr lines", NULL, c->base.cp->u, "child[%d]: %.*s",
                      c->pid, (int)len, text);
}

/* Forward the child's stderr to our log, one line at a time. */
static void
on_err_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct js_conn *c = s->data;
    RBGW_UNUSED(buf);
    if (nread < 0) {
        if (c->ebuf.len) {
            child_line(c, c->ebuf.data, c->ebuf.len);
            rbgw_buf_reset(&c->ebuf);
        }
        uv_read_stop(s);
        return;
    }
    c->ebuf.len += (size_t)nread;
    char *nl;
    while ((nl = memchr(c->ebuf.data, '\n', c->ebuf.len)) != NULL) {
        size_t n = (size_t)(nl - c->ebuf.data);
        child_line(c, c->ebuf.data, n);
        rbgw_buf_consume(&c->ebuf, n + 1);
    }
    if (c->ebuf.len > 4000) {
        child_line(c, c->ebuf.data, c->ebuf.len);
        rbgw_buf_reset(&c->ebuf);
    }
}

/* ---- sending ---- */

static void
on_write(uv_write_t *w, int status)
{
    struct js_conn *c = w->data;
    if (status < 0 && !c->closing && !c->base.got_bytes) {
        if (c->initializing) {
            rbgw_upconn_error(&c->base, rbgw_outcome_from_uv(status, RBGW_ECONNECT), 0, NULL,
                              "sending initialize failed: %s", uv_err_name(status));
        } else if (c->base.state == RBGW_UPCONN_BUSY) {
            rbgw_upconn_error(&c->base, rbgw_outcome_from_uv(status, RBGW_ECLOSED),
                              RBGW_UPCONN_RETRY | RBGW_UPCONN_UNSENT, NULL,
                              "sending the call failed: %s", uv_err_name(status));
        }
    }
}

/*
 * Send the len bytes at p and a newline.  p[len] must be readable (the bytes are a
 * NUL-terminated copy); when it already is the newline (rbgw_request_new puts one after every
 * call) the line goes out from one buffer: a write of two buffers (writev) costs the kernel
 * about 0.13 µs more than a write of one on the project machine (docs/performance.md).
 */
static int
write_line(struct js_conn *c, const char *p, size_t len)
{
    static char nl = '\n';
    uv_buf_t b[2] = {uv_buf_init((char *)p, (unsigned)len), uv_buf_init(&nl, 1)};
    unsigned nb = 2;
    if (p[len] == '\n') {
        b[0].len = len + 1;
        nb = 1;
    }
    /* Try first: a complete write needs no request and no epoll_ctl afterwards.  The bytes
     * live in the request arena (or the upstream's initialize text) until the call ends. */
    int n = uv_try_write((uv_stream_t *)&c->sock, b, nb);
    if (n == (int)(len + 1)) {
        return 0;
    }
    if (n < 0 && n != UV_EAGAIN) {
        return n;
    }
    /* The rest, from where the socket stopped taking bytes (uv_write copies the buffers). */
    size_t done = n > 0 ? (size_t)n : 0;
    unsigned i = 0;
    while (done >= b[i].len) {
        done -= b[i].len;
        i++;
    }
    b[i].base += done;
    b[i].len -= done;
    c->wreq.data = c;
    return uv_write(&c->wreq, (uv_stream_t *)&c->sock, b + i, nb - i, on_write);
}

/* The end of the loop pass: write the call in flight (if it still is: a timer may have failed
 * it meanwhile, and then nothing was sent). */
static void
js_conn_flush(struct rbgw_wbatch_item *it)
{
    struct js_conn *c = rbgw_container_of(it, struct js_conn, wb);
    if (c->closing || c->base.state != RBGW_UPCONN_BUSY || c->base.call == NULL) {
        return;
    }
    struct rbgw_request *req = c->base.call->req;
    /* The request arena holds req->raw until the request is freed, after this write. */
    int rc = write_line(c, req->raw.p, req->raw.len);
    if (rc < 0) {
        rbgw_upconn_error(&c->base, rbgw_outcome_from_uv(rc, RBGW_ECLOSED),
                          RBGW_UPCONN_RETRY | RBGW_UPCONN_UNSENT, NULL,
                          "sending the call failed: %s", uv_err_name(rc));
    }
}

static void
js_conn_send(struct rbgw_upconn *uc)
{
    struct js_conn *c = (struct js_conn *)uc;
    struct rbgw_gateway *gw = uc->cp->u->gw;
    rbgw_buf_reset(&c->rbuf);
    rbgw_frame_scanner_init(&c->sc);
    /* Written with the rest of the loop pass's writes (wbatch.h). */
    rbgw__wbatch_add(&gw->wbatch, gw->loop, &c->wb);
}

/* ---- opening ---- */

static void
start_initialize(struct js_conn *c)
{
    struct js_upstream *up = upstream_of(c);
    int rc = uv_read_start(read_stream(c), on_alloc, on_read);
    if (rc == 0) {
        c->initializing = 1;
        rc = write_line(c, up->init_call.data, up->init_call.len);
    }
    if (rc < 0) {
        c->initializing = 0;
        rbgw_upconn_error(&c->base, rbgw_outcome_from_uv(rc, RBGW_ECONNECT), 0, NULL,
                          "cannot start: %s", uv_strerror(rc));
    }
}

static void
on_unix_connect(uv_connect_t *cr, int status)
{
    struct js_conn *c = cr->data;
    if (c->closing) {
        return;
    }
    if (status < 0) {
        /* uv_pipe_connect reports a socket it could not create (EMFILE) here too. */
        rbgw_upconn_error(&c->base, rbgw_outcome_from_uv(status, RBGW_ECONNECT), 0, NULL, "%s",
                          uv_strerror(status));
        return;
    }
    start_initialize(c);
}

/*
 * The child exited (and was reaped) while its conn is open.  Its stdout's EOF usually comes
 * next, but a grandchild that inherited the pipes holds them open, and then no EOF ever
 * comes: the conn would look alive and the next call would wait for its reply until
 * timeout=.  Everything the child wrote is in the pipe by now, so read it here (a reply it
 * finished before exiting is still delivered, as is the EOF if there is one), and settle the
 * conn without waiting for more.
 */
static void
settle_exited(struct js_conn *c)
{
    uv_os_fd_t fd;
    c->child_gone = 1;
    if (uv_fileno((const uv_handle_t *)&c->out, &fd) != 0) {
        return;
    }
    while (!c->closing) {
        char *p = rbgw_buf_reserve(&c->rbuf, READ_CHUNK);
        ssize_t n = read(fd, p, READ_CHUNK);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0) {
                on_read((uv_stream_t *)&c->out, UV_EOF, NULL);
            }
            break; /* EAGAIN: a grandchild holds the pipe; nothing more from the child */
        }
        uv_buf_t b = uv_buf_init(p, (unsigned)n);
        on_read((uv_stream_t *)&c->out, n, &b);
    }
    if (c->closing) {
        return;
    }
    if (c->base.state == RBGW_UPCONN_IDLE) {
        rbgw_upconn_lost(&c->base, "the child exited");
    } else if (c->initializing) {
        rbgw_upconn_error(&c->base, RBGW_ECONNECT, 0, NULL, "the child exited during initialize");
    } else {
        rbgw_upconn_error(&c->base, RBGW_ECLOSED, 0, NULL, "the child exited %s",
                          c->base.got_bytes ? "in the middle of a reply" : "before replying");
    }
}

static void
on_child_exit(uv_process_t *p, int64_t status, int signo)
{
    struct js_conn *c = p->data;
    c->proc_alive = 0;
    if (c->closing) {
        close_handles(c);
        unpend(c); /* the count js_conn_close took for this exit */
        return;
    }
    if (signo) {
        rbgw_ulog_warn(c->base.cp->u, "child[%d] killed by signal %d", c->pid, signo);
    } else {
        rbgw_ulog_warn(c->base.cp->u, "child[%d] exited with status %lld", c->pid,
                       (long long)status);
    }
    settle_exited(c);
}

static void
js_conn_open(struct rbgw_upconn *uc)
{
    struct js_conn *c = (struct js_conn *)uc;
    struct js_upstream *up = upstream_of(c);
    uv_loop_t *loop = up->cp.u->gw->loop;
    rbgw__wbatch_item_init(&c->wb, js_conn_flush);
    rbgw_buf_init(&c->rbuf);
    rbgw_buf_init(&c->ebuf);
    rbgw_buf_init(&c->out_line);
    rbgw_arena_init(&c->scratch);
    rbgw_frame_scanner_init(&c->sc);
    uv_pipe_init(loop, &c->sock, 0);
    c->sock.data = c;
    if (up->kind == JS_UNIX) {
        c->creq.data = c;
        uv_pipe_connect(&c->creq, &c->sock, up->path, on_unix_connect);
        return;
    }
    uv_pipe_init(loop, &c->out, 0);
    uv_pipe_init(loop, &c->err, 0);
    c->out.data = c;
    c->err.data = c;
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    stdio[0].data.stream = (uv_stream_t *)&c->sock;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&c->out;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&c->err;
    uv_process_options_t opt;
    memset(&opt, 0, sizeof(opt));
    opt.file = up->argv[0];
    opt.args = up->argv;
    opt.exit_cb = on_child_exit;
    opt.stdio = stdio;
    opt.stdio_count = 3;
    c->proc.data = c;
    int rc = uv_spawn(loop, &c->proc, &opt);
    if (rc < 0) {
        /* Pipes rbgw cannot create are its own failure; a command that will not run is not. */
        rbgw_upconn_error(uc, rbgw_outcome_from_uv(rc, RBGW_ECONNECT), 0, NULL,
                          "cannot start %s: %s", up->argv[0], uv_strerror(rc));
        return;
    }
    c->proc_alive = 1;
    c->pid = c->proc.pid;
    rbgw_ulog_debug(up->cp.u, "started child[%d]", c->pid);
    uv_read_start((uv_stream_t *)&c->err, on_alloc, on_err_read);
    start_initialize(c);
}

static const struct rbgw_upconn_ops js_conn_ops = {
    .conn_size = sizeof(struct js_conn),
    .open = js_conn_open,
    .send = js_conn_send,
    .close = js_conn_close,
};

/* ---- upstream ops ---- */

/* pdns splits command= on every single space, no quoting, no shell (docs/protocol.md §4.1). */
static char **
split_command(const char *cmd)
{
    size_t n = 1;
    for (const char *p = cmd; *p; p++) {
        n += *p == ' ';
    }
    char **argv = rbgw_xcalloc(n + 1, sizeof(*argv));
    const char *start = cmd;
    size_t i = 0;
    for (const char *p = cmd;; p++) {
        if (*p == ' ' || *p == '\0') {
            argv[i++] = rbgw_xstrndup(start, (size_t)(p - start));
            start = p + 1;
            if (*p == '\0') {
                break;
            }
        }
    }
    return argv;
}

static void
free_upstream(struct js_upstream *up)
{
    if (up->argv) {
        for (char **a = up->argv; *a; a++) {
            free(*a);
        }
        free(up->argv);
    }
    free(up->path);
    free(up->target);
    rbgw_buf_free(&up->init_call);
    free(up);
}

static int
js_create(struct rbgw_upstream *u, enum js_kind kind, char *err, size_t errlen)
{
    const struct rbgw_connstr *cs = &u->conf->cs;
    struct js_upstream *up = rbgw_xcalloc(1, sizeof(*up));
    up->kind = kind;
    up->max_reply = u->gw->cfg->max_reply_size;
    char tmp[600];
    if (kind == JS_UNIX) {
        const char *path = rbgw_connstr_get(cs, "path");
        if (path == NULL || *path == '\0') {
            snprintf(err, errlen, "path= is required");
            free_upstream(up);
            return RBGW_ECONFIG;
        }
        if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            snprintf(err, errlen, "path %s is too long for a unix socket", path);
            free_upstream(up);
            return RBGW_ECONFIG;
        }
        up->path = rbgw_xstrdup(path);
        snprintf(tmp, sizeof(tmp), "unix:%s", path);
    } else {
        const char *cmd = rbgw_connstr_get(cs, "command");
        if (cmd == NULL || *cmd == '\0') {
            snprintf(err, errlen, "command= is required");
            free_upstream(up);
            return RBGW_ECONFIG;
        }
        up->argv = split_command(cmd);
        if (access(up->argv[0], X_OK) != 0) {
            /* pdns checks the same (no PATH search): say it now, not at the first call. */
            snprintf(err, errlen, "command %s is not an executable file: %s", up->argv[0],
                     strerror(errno));
            free_upstream(up);
            return RBGW_ECONFIG;
        }
        snprintf(tmp, sizeof(tmp), "pipe:%s", up->argv[0]);
    }
    up->target = rbgw_xstrdup(tmp);
    rbgw_rpc_initialize_call(&up->init_call, cs);
    int rc = rbgw_connpool_init(&up->cp, u, &js_conn_ops, up, up->target, err, errlen);
    if (rc != 0) {
        free_upstream(up);
        return rc;
    }
    u->impl = up;
    return 0;
}

static int
unix_create(struct rbgw_upstream *u, char *err, size_t errlen)
{
    return js_create(u, JS_UNIX, err, errlen);
}

static int
pipe_create(struct rbgw_upstream *u, char *err, size_t errlen)
{
    return js_create(u, JS_PIPE, err, errlen);
}

static void
js_destroy(struct rbgw_upstream *u)
{
    if (u->impl) {
        free_upstream(u->impl);
        u->impl = NULL;
    }
}

const struct rbgw_upstream_ops rbgw_unix_upstream_ops = {
    .name = "unix",
    .create = unix_create,
    .destroy = js_destroy,
};

const struct rbgw_upstream_ops rbgw_pipe_upstream_ops = {
    .name = "pipe",
    .create = pipe_create,
    .destroy = js_destroy,
};

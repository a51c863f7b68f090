/*
 * listener/pipe.c: rbgw as pdns's pipe co-process: calls on stdin, replies on stdout.
 *
 * pdns writes one request line and waits for one reply line (protocol.md §4.1), so requests
 * are served strictly one at a time, in order: a frame is dispatched only when the previous
 * reply has been written.  Input that arrives early stays in the read buffer.
 *
 *   stdin ──read──> rbuf ──frame scan──> request ──dispatch──> upstream
 *   stdout <──write "reply\n"── on_reply <────────────────────────┘
 *
 * Rules that matter to pdns: exactly one '\n'-terminated line per request; nothing else on
 * stdout; never exit while stdin is open (pdns cannot recover an instance whose child exited);
 * on EOF finish the in-flight request, then report done so the gateway stops cleanly.
 *
 * Oversized input: once the buffered part of one request exceeds max-request-size, the request
 * is answered false at once and the rest of it is discarded up to the end of its frame.
 */
#include <string.h>
#include <unistd.h>

#include "rbgw/frame.h"
#include "rbgw/gateway.h"
#include "rbgw/log.h"

#define READ_CHUNK 65536

struct pipe_listener {
    struct rbgw_listener *l;      /* borrowed owner */
    uv_pipe_t in;                 /* stdin */
    uv_pipe_t out;                /* stdout */
    struct rbgw_buf rbuf;         /* unprocessed input */
    struct rbgw_frame_scanner sc; /* scan state over rbuf */
    struct rbgw_request *cur;     /* the request being served (our ref), or NULL */
    uv_write_t wreq;              /* the reply write (one at a time) */
    size_t max_request;           /* max-request-size */
    unsigned reading : 1;         /* uv_read_start active */
    unsigned eof : 1;             /* stdin reached EOF or failed */
    unsigned stopped : 1;         /* no more intake */
    unsigned discarding : 1;      /* dropping the rest of an oversized request */
    unsigned closed : 1;          /* handles closing */
    unsigned done : 1;            /* listener_done reported */
    int nclosing;                 /* handles not yet closed */
};

static void process(struct pipe_listener *p);

static void
finish_if_idle(struct pipe_listener *p)
{
    if (p->done || p->cur) {
        return;
    }
    if (p->eof || p->stopped) {
        p->done = 1;
        rbgw_gateway_listener_done(p->l);
    }
}

static void
on_write(uv_write_t *w, int status)
{
    struct pipe_listener *p = w->data;
    struct rbgw_request *req = p->cur;
    p->cur = NULL;
    if (status < 0) {
        /* pdns went away (EPIPE): nobody will read another reply. */
        rbgw_log_warn("pipe listener: writing reply failed: %s; stopping", uv_strerror(status));
        p->eof = 1;
    }
    rbgw_request_unref(req);
    process(p);
}

static void
on_reply(struct rbgw_request *req, struct rbgw_str reply)
{
    struct pipe_listener *p = req->origin;
    RBGW_ASSERT(p->cur == req);
    rbgw_buf_reset(&req->reply);
    rbgw_buf_reserve(&req->reply, reply.len + 1);
    rbgw_buf_append_str(&req->reply, reply);
    rbgw_buf_putc(&req->reply, '\n');
    uv_buf_t b = uv_buf_init(req->reply.data, (unsigned)req->reply.len);
    p->wreq.data = p;
    int rc = uv_write(&p->wreq, (uv_stream_t *)&p->out, &b, 1, on_write);
    if (rc < 0) {
        rbgw_log_warn("pipe listener: cannot write reply: %s", uv_strerror(rc));
        /* No callback will come: finish the request from the next loop turn is not needed,
         * the caller still holds its own reference; drop ours now. */
        p->cur = NULL;
        p->eof = 1;
        rbgw_request_orphan(req);
        rbgw_request_unref(req);
    }
}

static void
answer_local_error(struct pipe_listener *p, const char *text, size_t len, const char *why)
{
    struct rbgw_request *req = rbgw_request_new(p->l->gw, text, len, p, on_reply);
    p->cur = req;
    rbgw_request_fail(req, NULL, "%s", why);
}

/* Dispatch buffered frames while nothing is in flight. */
static void
process(struct pipe_listener *p)
{
    while (!p->cur && !p->closed) {
        size_t start, end;
        int complete = rbgw_frame_scan(&p->sc, p->rbuf.data, p->rbuf.len, &start, &end);
        if (p->discarding) {
            if (!complete) {
                rbgw_buf_reset(&p->rbuf);
                p->sc.pos = 0;
                p->sc.start = 0;
                break;
            }
            rbgw_buf_consume(&p->rbuf, end);
            rbgw_frame_scanner_init(&p->sc);
            p->discarding = 0;
            continue;
        }
        if (!complete) {
            /* Drop leading whitespace (the '\n' after the previous request) cheaply. */
            if (p->sc.start > 0 && p->sc.start == p->sc.pos) {
                rbgw_buf_consume(&p->rbuf, p->sc.start);
                rbgw_frame_scanner_init(&p->sc);
            }
            if (p->rbuf.len - p->sc.start > p->max_request) {
                char why[128];
                snprintf(why, sizeof(why), "request larger than max-request-size (%zu bytes)",
                         p->max_request);
                p->discarding = 1;
                answer_local_error(p, "", 0, why);
                /* keep the scanner state: the frame's end is found as more input arrives */
                rbgw_buf_consume(&p->rbuf, p->rbuf.len);
                p->sc.pos = 0;
                p->sc.start = 0;
            }
            break;
        }
        if (end - start > p->max_request) {
            char why[128];
            snprintf(why, sizeof(why), "request larger than max-request-size (%zu bytes)",
                     p->max_request);
            answer_local_error(p, "", 0, why);
            rbgw_buf_consume(&p->rbuf, end);
            rbgw_frame_scanner_init(&p->sc);
            break;
        }
        struct rbgw_request *req =
            rbgw_request_new(p->l->gw, p->rbuf.data + start, end - start, p, on_reply);
        rbgw_buf_consume(&p->rbuf, end);
        rbgw_frame_scanner_init(&p->sc);
        p->cur = req;
        rbgw_request_dispatch(req);
    }
    if (!p->cur && p->eof && p->rbuf.len > 0 && !p->discarding) {
        /* EOF in the middle of a request: pdns is gone, but log what was lost. */
        size_t i = 0;
        while (i < p->rbuf.len && strchr(" \t\r\n", p->rbuf.data[i])) {
            i++;
        }
        if (i < p->rbuf.len) {
            rbgw_log_warn("pipe listener: EOF inside a request (%zu bytes dropped)",
                          p->rbuf.len - i);
        }
        rbgw_buf_reset(&p->rbuf);
    }
    finish_if_idle(p);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct pipe_listener *p = h->data;
    RBGW_UNUSED(suggested);
    char *dst = rbgw_buf_reserve(&p->rbuf, READ_CHUNK);
    *buf = uv_buf_init(dst, READ_CHUNK);
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct pipe_listener *p = s->data;
    RBGW_UNUSED(buf);
    if (nread > 0) {
        p->rbuf.len += (size_t)nread;
        p->rbuf.data[p->rbuf.len] = '\0';
        process(p);
        return;
    }
    if (nread == 0) {
        return;
    }
    if (nread != UV_EOF) {
        rbgw_log_warn("pipe listener: reading stdin failed: %s", uv_strerror((int)nread));
    } else {
        rbgw_log_debug("pipe listener: EOF on stdin");
    }
    p->eof = 1;
    uv_read_stop(s);
    p->reading = 0;
    process(p);
}

static int
open_stdio(uv_loop_t *loop, uv_pipe_t *h, int fd, const char *what, char *err, size_t errlen)
{
    uv_handle_type t = uv_guess_handle(fd);
    if (t != UV_NAMED_PIPE && t != UV_TTY) {
        snprintf(err, errlen,
                 "%s is not a pipe (rbgw listen=pipe runs as pdns's co-process: "
                 "remote-connection-string=pipe:command=...)",
                 what);
        return RBGW_ENOTSUP;
    }
    int rc = uv_pipe_init(loop, h, 0);
    if (rc == 0) {
        rc = uv_pipe_open(h, fd);
    }
    if (rc < 0) {
        snprintf(err, errlen, "cannot use %s: %s", what, uv_strerror(rc));
    }
    return rc;
}

static int
pipe_start(struct rbgw_listener *l, char *err, size_t errlen)
{
    struct pipe_listener *p = rbgw_xcalloc(1, sizeof(*p));
    p->l = l;
    p->max_request = l->gw->cfg->max_request_size;
    rbgw_buf_init(&p->rbuf);
    rbgw_frame_scanner_init(&p->sc);
    uv_loop_t *loop = l->gw->loop;
    int rc = open_stdio(loop, &p->in, STDIN_FILENO, "stdin", err, errlen);
    if (rc < 0) {
        free(p);
        return rc;
    }
    p->in.data = p;
    rc = open_stdio(loop, &p->out, STDOUT_FILENO, "stdout", err, errlen);
    if (rc < 0) {
        /* The stdin handle is initialised and must be closed through the loop. */
        l->impl = p;
        p->nclosing = 1;
        p->closed = 1;
        p->done = 1;
        uv_close((uv_handle_t *)&p->in, NULL);
        return rc;
    }
    p->out.data = p;
    l->impl = p;
    rc = uv_read_start((uv_stream_t *)&p->in, on_alloc, on_read);
    if (rc < 0) {
        snprintf(err, errlen, "cannot read stdin: %s", uv_strerror(rc));
        return rc;
    }
    p->reading = 1;
    return 0;
}

static void
pipe_stop(struct rbgw_listener *l)
{
    struct pipe_listener *p = l->impl;
    if (p->stopped) {
        return;
    }
    p->stopped = 1;
    if (p->reading) {
        uv_read_stop((uv_stream_t *)&p->in);
        p->reading = 0;
    }
    finish_if_idle(p);
}

static void
pipe_close(struct rbgw_listener *l)
{
    struct pipe_listener *p = l->impl;
    if (p->closed) {
        return;
    }
    p->closed = 1;
    p->stopped = 1;
    uv_close((uv_handle_t *)&p->in, NULL);
    uv_close((uv_handle_t *)&p->out, NULL);
}

static void
pipe_destroy(struct rbgw_listener *l)
{
    struct pipe_listener *p = l->impl;
    rbgw_buf_free(&p->rbuf);
    free(p);
    l->impl = NULL;
}

const struct rbgw_listener_ops rbgw_pipe_listener_ops = {
    .name = "pipe",
    .start = pipe_start,
    .stop = pipe_stop,
    .close = pipe_close,
    .destroy = pipe_destroy,
};

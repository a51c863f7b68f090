/*
 * listener/jsonconn.c: the JSON stream connection shared by the pipe and unix listeners.
 * See jsonconn.h for the model.
 *
 * Oversized input: once the buffered part of one request exceeds max-request-size, that request
 * is answered false at once and the rest of it is discarded up to the end of its frame, so the
 * replies stay one per request and in order.
 */
#include <stdio.h>
#include <string.h>

#include "rbgw/fanout.h"
#include "rbgw/log.h"
#include "listener/jsonconn.h"

#define READ_CHUNK 65536

static void process(struct rbgw_jsonconn *jc);

static void
finish_if_idle(struct rbgw_jsonconn *jc)
{
    if (jc->done || jc->cur) {
        return;
    }
    if (jc->eof || jc->stopped) {
        jc->done = 1;
        if (jc->reading) {
            uv_read_stop(jc->in);
            jc->reading = 0;
        }
        jc->on_done(jc);
    }
}

static void
on_write(uv_write_t *w, int status)
{
    struct rbgw_jsonconn *jc = w->data;
    struct rbgw_request *req = jc->cur;
    jc->cur = NULL;
    rbgw_request_unref(req);
    if (status == UV_ECANCELED) {
        return; /* the owner is closing the stream: nothing more to do */
    }
    if (status < 0) {
        /* The peer went away (EPIPE): nobody will read another reply. */
        rbgw_log_warn("%s: writing a reply failed: %s", jc->what, uv_strerror(status));
        jc->eof = 1;
    }
    process(jc);
}

/* Nothing but the newline after the last call (or nothing at all) is buffered. */
static bool
only_whitespace(const struct rbgw_buf *b)
{
    for (size_t i = 0; i < b->len; i++) {
        if (!strchr(" \t\r\n", b->data[i])) {
            return false;
        }
    }
    return true;
}

static void
on_reply(struct rbgw_request *req, struct rbgw_str reply)
{
    struct rbgw_jsonconn *jc = req->origin;
    RBGW_ASSERT(jc->cur == req);
    static char nl = '\n';
    size_t done = 0;
    if (!jc->eof && only_whitespace(&jc->rbuf)) {
        /* Nothing else buffered (the usual case: pdns waits for this reply): write now,
         * straight from the answerer's bytes.  A complete uv_try_write needs no write request
         * and no copy, and spares libuv's epoll_ctl after every uv_write; the next call then
         * arrives through on_read as usual. */
        uv_buf_t parts[2] = {uv_buf_init((char *)reply.p, (unsigned)reply.len),
                             uv_buf_init(&nl, 1)};
        int n = uv_try_write(jc->out, parts, 2);
        if (n == (int)(reply.len + 1)) {
            jc->cur = NULL;
            /* May free req: every answer path delivers last and touches it no more. */
            rbgw_request_unref(req);
            return;
        }
        done = n > 0 ? (size_t)n : 0;
    }
    /* The rest must outlive this call: copy it into the request, which lives until on_write. */
    rbgw_buf_reset(&req->reply);
    if (done < reply.len) {
        rbgw_buf_append(&req->reply, reply.p + done, reply.len - done);
    }
    rbgw_buf_putc(&req->reply, '\n');
    uv_buf_t b = uv_buf_init(req->reply.data, (unsigned)req->reply.len);
    jc->wreq.data = jc;
    int rc = uv_write(&jc->wreq, jc->out, &b, 1, on_write);
    if (rc < 0) {
        /* No callback will come.  The answering code still holds its own reference, so
         * dropping ours here cannot free the request under its feet. */
        rbgw_log_warn("%s: cannot write a reply: %s", jc->what, uv_strerror(rc));
        jc->cur = NULL;
        jc->eof = 1;
        rbgw_request_orphan(req);
        rbgw_request_unref(req);
    }
}

static void
answer_oversized(struct rbgw_jsonconn *jc)
{
    struct rbgw_request *req = rbgw_request_new(jc->l->gw, "", 0, jc, on_reply);
    jc->cur = req;
    rbgw_request_fail(req, NULL, "request larger than max-request-size (%zu bytes)",
                      jc->max_request);
}

/* Dispatch buffered frames while nothing is in flight. */
static void
process(struct rbgw_jsonconn *jc)
{
    while (!jc->cur && !jc->done) {
        size_t start, end;
        int complete = rbgw_frame_scan(&jc->sc, jc->rbuf.data, jc->rbuf.len, &start, &end);
        if (jc->discarding) {
            if (!complete) {
                rbgw_buf_reset(&jc->rbuf);
                jc->sc.pos = 0;
                jc->sc.start = 0;
                break;
            }
            rbgw_buf_consume(&jc->rbuf, end);
            rbgw_frame_scanner_init(&jc->sc);
            jc->discarding = 0;
            continue;
        }
        if (!complete) {
            if (jc->sc.start > 0 && jc->sc.start == jc->sc.pos) {
                /* Only whitespace so far (the '\n' after the previous call): drop it. */
                rbgw_buf_consume(&jc->rbuf, jc->sc.start);
                rbgw_frame_scanner_init(&jc->sc);
            }
            if (jc->rbuf.len - jc->sc.start > jc->max_request) {
                /* Answer now; the scanner keeps its state to find the frame's end later. */
                jc->discarding = 1;
                rbgw_buf_reset(&jc->rbuf);
                jc->sc.pos = 0;
                jc->sc.start = 0;
                answer_oversized(jc);
            }
            break;
        }
        if (end - start > jc->max_request) {
            rbgw_buf_consume(&jc->rbuf, end);
            rbgw_frame_scanner_init(&jc->sc);
            answer_oversized(jc);
            break;
        }
        struct rbgw_request *req =
            rbgw_request_new(jc->l->gw, jc->rbuf.data + start, end - start, jc, on_reply);
        rbgw_buf_consume(&jc->rbuf, end);
        rbgw_frame_scanner_init(&jc->sc);
        jc->cur = req;
        rbgw_request_dispatch(req);
    }
    if (!jc->cur && jc->eof && jc->rbuf.len > 0) {
        size_t i = 0;
        while (i < jc->rbuf.len && strchr(" \t\r\n", jc->rbuf.data[i])) {
            i++;
        }
        if (i < jc->rbuf.len && !jc->discarding) {
            rbgw_log_warn("%s: peer closed in the middle of a request (%zu bytes dropped)",
                          jc->what, jc->rbuf.len - i);
        }
        rbgw_buf_reset(&jc->rbuf);
    }
    finish_if_idle(jc);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct rbgw_jsonconn *jc = h->data;
    RBGW_UNUSED(suggested);
    char *dst = rbgw_buf_reserve(&jc->rbuf, READ_CHUNK);
    *buf = uv_buf_init(dst, READ_CHUNK);
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct rbgw_jsonconn *jc = s->data;
    RBGW_UNUSED(buf);
    if (nread > 0) {
        jc->rbuf.len += (size_t)nread;
        jc->rbuf.data[jc->rbuf.len] = '\0';
        process(jc);
        return;
    }
    if (nread == 0) {
        return;
    }
    if (nread != UV_EOF) {
        rbgw_log_warn("%s: read failed: %s", jc->what, uv_strerror((int)nread));
    } else {
        rbgw_log_debug("%s: EOF", jc->what);
    }
    jc->eof = 1;
    uv_read_stop(s);
    jc->reading = 0;
    process(jc);
}

void
rbgw__jsonconn_init(struct rbgw_jsonconn *jc, struct rbgw_listener *l, uv_stream_t *in,
                    uv_stream_t *out, const char *what, rbgw_jsonconn_cb on_done)
{
    memset(jc, 0, sizeof(*jc));
    jc->l = l;
    jc->in = in;
    jc->out = out;
    jc->what = what;
    jc->on_done = on_done;
    jc->max_request = l->gw->cfg->max_request_size;
    rbgw_buf_init(&jc->rbuf);
    rbgw_frame_scanner_init(&jc->sc);
    in->data = jc;
    out->data = jc;
}

int
rbgw__jsonconn_start(struct rbgw_jsonconn *jc)
{
    int rc = uv_read_start(jc->in, on_alloc, on_read);
    if (rc == 0) {
        jc->reading = 1;
    }
    return rc;
}

void
rbgw__jsonconn_stop(struct rbgw_jsonconn *jc)
{
    if (jc->stopped) {
        return;
    }
    jc->stopped = 1;
    if (jc->reading) {
        uv_read_stop(jc->in);
        jc->reading = 0;
    }
    finish_if_idle(jc);
}

void
rbgw__jsonconn_deinit(struct rbgw_jsonconn *jc)
{
    jc->done = 1;
    /* Its open transactions can never be committed now (their conns are closed). */
    rbgw_fanout_origin_gone(jc->l->gw->fanout, jc);
    if (jc->cur) {
        /* A write in progress ends in on_write(UV_ECANCELED), which drops the reference;
         * a call still upstream is orphaned and its late answer swallowed. */
        rbgw_request_orphan(jc->cur);
    }
    rbgw_buf_free(&jc->rbuf);
}

/*
 * listener/jsonconn.c: the JSON stream connection shared by the pipe and unix listeners.
 * See jsonconn.h for the model.
 *
 * Input: reads land in the listener's slab.  When the connection has nothing kept from earlier
 * reads (the usual case: pdns sends one call and waits), on_read serves the frames straight
 * from the slab and copies only what is left unserved into rbuf; when rbuf already holds a
 * partial frame, the new bytes are appended to it and served from there.  "Unserved input"
 * below is whichever of the two is current (unserved(), drop()); the frame scanner's offsets
 * are relative to its first byte.  rbgw_request_new copies the call's bytes, so nothing points
 * into the slab or rbuf once a frame is dispatched.  Whitespace after a frame is dropped with
 * it, so that the '\n' ending a call is never what keeps an rbuf alive.
 *
 * Oversized input: once the buffered part of one request exceeds max-request-size, that request
 * is answered false at once and the rest of it is discarded up to the end of its frame, so the
 * replies stay one per request and in order.
 *
 * Flow control (jsonconn.h) lives in flow(): every path that changes what is buffered or in
 * flight ends in process(), which calls it.  Reading is paused only while a call is in flight:
 * with nothing in flight, the unserved input is at most one partial frame, which must be read
 * to its end (max-request-size bounds it).  So a connection holds at most max-conn-buffer plus
 * one read (the slab's size) of input, or one partial request, and one reply.  An emptied rbuf
 * is freed, so that memory goes back as soon as the client's backlog is served or dropped.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "rbgw/json.h"
#include "rbgw/log.h"
#include "listener/jsonconn.h"

static void process(struct rbgw_jsonconn *jc);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static bool
is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Number of whitespace bytes at the front of p[0..len). */
static size_t
leading_ws(const char *p, size_t len)
{
    size_t i = 0;
    while (i < len && is_ws(p[i])) {
        i++;
    }
    return i;
}

/* The input not yet served: the slab's rest while on_read serves this conn from it, else rbuf. */
static const char *
unserved(const struct rbgw_jsonconn *jc, size_t *len)
{
    return rbgw_slab_unserved(jc->slab, jc, &jc->rbuf, len);
}

/* Drop n bytes from the front of the unserved input; an rbuf emptied gives its memory back. */
static void
drop(struct rbgw_jsonconn *jc, size_t n)
{
    rbgw_slab_drop(jc->slab, jc, &jc->rbuf, n);
}

/* A frame ends at end: drop it and the whitespace after it, and scan afresh. */
static void
next_frame(struct rbgw_jsonconn *jc, size_t end)
{
    size_t len;
    const char *p = unserved(jc, &len);
    drop(jc, end + leading_ws(p + end, len - end));
    rbgw_frame_scanner_init(&jc->sc);
}

/* Bytes the connection holds for its client: unserved input plus the reply not yet written. */
static size_t
held(const struct rbgw_jsonconn *jc)
{
    size_t len;
    unserved(jc, &len);
    return len + (jc->writing ? uv_stream_get_write_queue_size(jc->out) : 0);
}

/* After EOF: has the client closed its reading side too (a socket closed, or the read end of
 * the stdout pipe)?  A client that only shut down its sending side still reads replies. */
static bool
reply_side_closed(const struct rbgw_jsonconn *jc)
{
    uv_os_fd_t fd;
    if (uv_fileno((const uv_handle_t *)jc->out, &fd) != 0) {
        return true;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR)) != 0;
}

/* The client is gone (why: the failure): drop its unserved input now, so that nothing more is
 * dispatched for it, and say once what is lost.  The caller goes on to process(). */
static void
peer_gone(struct rbgw_jsonconn *jc, const char *why)
{
    if (jc->gone) {
        return;
    }
    jc->gone = 1;
    size_t len;
    const char *p = unserved(jc, &len);
    size_t ws = leading_ws(p, len);
    drop(jc, len);
    if (ws < len) {
        /* rate-limited: a client that connects and drops in a loop must not flood the log */
        rbgw_rlog_limited(RBGW_LOG_INFO, "clients gone with calls unserved", NULL, NULL,
                          "%s: client gone (%s): %zu bytes of calls not yet served dropped%s",
                          jc->what, why, len - ws, jc->cur ? ", and the reply in progress" : "");
    } else if (jc->cur) {
        rbgw_rlog_limited(RBGW_LOG_INFO, "clients gone with calls unserved", NULL, NULL,
                          "%s: client gone (%s): the reply in progress is dropped", jc->what, why);
    } else {
        rbgw_log_debug("%s: client gone (%s)", jc->what, why);
    }
}

/* Read while the client may send and, with a call in flight, while what is held for it is
 * within max-conn-buffer; pause otherwise. */
static void
flow(struct rbgw_jsonconn *jc)
{
    bool want = !jc->done && !jc->eof && !jc->gone && !jc->stopped &&
                (jc->cur == NULL || held(jc) <= jc->l->gw->cfg->max_conn_buffer);
    if (want == (bool)jc->reading) {
        return;
    }
    if (!want) {
        uv_read_stop(jc->in);
        jc->reading = 0;
        if (jc->cur != NULL && !jc->done && !jc->eof && !jc->gone && !jc->stopped) {
            size_t max = jc->l->gw->cfg->max_conn_buffer;
            jc->l->gw->limit_hits[RBGW_LIMIT_MAX_CONN_BUFFER]++;
            rbgw_rlog_limited(RBGW_LOG_INFO, "max-conn-buffer", NULL, NULL,
                              "%s: %zu bytes held (max-conn-buffer=%zu): reading paused until "
                              "its client reads its replies",
                              jc->what, held(jc), max);
        }
        return;
    }
    int rc = uv_read_start(jc->in, on_alloc, on_read);
    if (rc < 0) {
        peer_gone(jc, uv_strerror(rc));
        process(jc);
        return;
    }
    jc->reading = 1;
}

/* Run on_done once the connection has nothing more to do: intake over (EOF, stop, client gone)
 * and no call in flight, or the client gone while its reply waits to be written. */
static void
finish_if_idle(struct rbgw_jsonconn *jc)
{
    if (jc->done) {
        return;
    }
    bool idle = jc->cur == NULL || (jc->gone && jc->writing);
    if (idle && (jc->eof || jc->stopped || jc->gone)) {
        jc->done = 1;
        if (jc->reading) {
            uv_read_stop(jc->in);
            jc->reading = 0;
        }
        jc->on_done(jc);
    }
}

/* The write of cur's reply is over (written, failed or cancelled). */
static void
write_over(struct rbgw_jsonconn *jc)
{
    jc->writing = 0;
    if (jc->wdog) {
        rbgw__wdog_end(jc->wdog, &jc->wait);
    }
}

static void
on_write(uv_write_t *w, int status)
{
    struct rbgw_jsonconn *jc = w->data;
    free(w);
    write_over(jc);
    struct rbgw_request *req = jc->cur;
    jc->cur = NULL;
    rbgw_request_unref(req);
    if (status == UV_ECANCELED) {
        return; /* the owner is closing the stream: nothing more to do */
    }
    if (status < 0) {
        /* EPIPE, ECONNRESET: nobody will read another reply. */
        peer_gone(jc, uv_strerror(status));
    }
    process(jc);
}

/* write-timeout: the client has not read cur's reply; it will not read the next ones either. */
static void
on_write_stalled(struct rbgw_wdog_wait *w)
{
    struct rbgw_jsonconn *jc = rbgw_container_of(w, struct rbgw_jsonconn, wait);
    char why[80];
    jc->l->gw->limit_hits[RBGW_LIMIT_WRITE_TIMEOUT]++;
    snprintf(why, sizeof(why), "its reply unread for write-timeout, %u ms", w->timeout_ms);
    peer_gone(jc, why);
    process(jc); /* gone with a reply waiting: on_done, which closes (the write is cancelled) */
}

/* cur's reply will not be written (the client is gone): drop the call and go on. */
static void
reply_dropped(struct rbgw_jsonconn *jc, struct rbgw_request *req)
{
    rbgw_rlog_debug(req, "%s: client gone, reply dropped", jc->what);
    jc->cur = NULL;
    /* May free req: every answer path delivers last and touches it no more. */
    rbgw_request_unref(req);
    process(jc);
}

static void write_rest(struct rbgw_jsonconn *jc, struct rbgw_request *req, const char *p,
                       size_t len, bool nl);

/* The end of the loop pass: write the reply queued by on_reply, as on_reply would have. */
static void
on_flush(struct rbgw_wbatch_item *it)
{
    struct rbgw_jsonconn *jc = rbgw_container_of(it, struct rbgw_jsonconn, wb);
    struct rbgw_request *req = jc->cur;
    if (jc->gone) {
        reply_dropped(jc, req);
        return;
    }
    const char *p = rbgw__wbatch_at(&jc->l->gw->wbatch, jc->wb_off);
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)jc->wb_len);
    int n = uv_try_write(jc->out, &b, 1);
    if (n == (int)jc->wb_len) {
        jc->cur = NULL;
        /* May free req: every answer path delivers last and touches it no more. */
        rbgw_request_unref(req);
        size_t left;
        unserved(jc, &left);
        if (left > 0 || jc->eof || jc->stopped) {
            process(jc); /* input that came meanwhile, or an end to finish */
        }
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        peer_gone(jc, uv_strerror(n));
        reply_dropped(jc, req);
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    write_rest(jc, req, p + done, jc->wb_len - done, false);
}

static void
on_reply(struct rbgw_request *req, struct rbgw_str reply)
{
    struct rbgw_jsonconn *jc = req->origin;
    RBGW_ASSERT(jc->cur == req);
    if (jc->gone) {
        reply_dropped(jc, req);
        return;
    }
    if (jc->squeeze) {
        reply = rbgw_json_squeeze(jc->squeeze, reply);
    }
    static char nl = '\n';
    size_t done = 0;
    size_t left;
    const char *rest = unserved(jc, &left);
    if (jc->defer && !jc->processing && !jc->eof && reply.len < RBGW_WBATCH_MAX_COPY &&
        leading_ws(rest, left) == left) {
        /* An answer from upstream: written with the rest of the loop pass's writes
         * (wbatch.h).  The reply's bytes may not outlive this call (an upstream's read
         * buffer): copied into the batch.  An answer given during dispatch (initialize, a
         * cache hit, a refusal) is written at once: a burst of those (a pdns starting its
         * connections) would otherwise keep every request alive until the end of the pass. */
        struct rbgw_wbatch *b = &jc->l->gw->wbatch;
        jc->wb_off = rbgw__wbatch_copy(b, reply.p, reply.len);
        rbgw__wbatch_copy(b, &nl, 1);
        jc->wb_len = reply.len + 1;
        rbgw__wbatch_add(b, jc->l->gw->loop, &jc->wb);
        return;
    }
    if (!jc->eof && leading_ws(rest, left) == left) {
        /* Nothing else buffered (the usual case: pdns waits for this reply): write now,
         * straight from the answerer's bytes.  A complete uv_try_write needs no write request
         * and no copy, and spares libuv's epoll_ctl after every uv_write; the next call then
         * arrives through on_read as usual.  (With calls buffered, the write completes in
         * on_write, which serves the next one.) */
        uv_buf_t parts[2] = {uv_buf_init((char *)reply.p, (unsigned)reply.len),
                             uv_buf_init(&nl, 1)};
        int n = uv_try_write(jc->out, parts, 2);
        if (n == (int)(reply.len + 1)) {
            jc->cur = NULL;
            /* May free req: every answer path delivers last and touches it no more. */
            rbgw_request_unref(req);
            return;
        }
        if (n < 0 && n != UV_EAGAIN) {
            peer_gone(jc, uv_strerror(n));
            reply_dropped(jc, req);
            return;
        }
        done = n > 0 ? (size_t)n : 0;
    }
    write_rest(jc, req, reply.p + done, reply.len - done, true);
}

/* Write what the socket did not take of cur's reply (len bytes at p, then "\n" if nl). */
static void
write_rest(struct rbgw_jsonconn *jc, struct rbgw_request *req, const char *p, size_t len, bool nl)
{
    /* The rest must outlive this call: copy it into the request, which lives until on_write.
     * The write request is allocated here, not kept per connection: idle ones need none. */
    rbgw_buf_reset(&req->reply);
    if (len > 0) {
        rbgw_buf_append(&req->reply, p, len);
    }
    if (nl) {
        rbgw_buf_putc(&req->reply, '\n');
    }
    uv_buf_t b = uv_buf_init(req->reply.data, (unsigned)req->reply.len);
    uv_write_t *w = rbgw_xmalloc(sizeof(*w));
    w->data = jc;
    int rc = uv_write(w, jc->out, &b, 1, on_write);
    if (rc < 0) {
        /* No callback will come (EPIPE once a read failed: libuv then refuses writes). */
        free(w);
        peer_gone(jc, uv_strerror(rc));
        reply_dropped(jc, req);
        return;
    }
    jc->writing = 1;
    if (jc->wdog) {
        rbgw__wdog_begin(jc->wdog, &jc->wait, jc->l->gw->cfg->write_timeout_ms);
    }
    /* A reply bigger than what may be held pauses reading, if it was not paused already. */
    process(jc);
}

static void
answer_oversized(struct rbgw_jsonconn *jc)
{
    struct rbgw_request *req = rbgw_request_new(jc->session, "", 0, jc, on_reply);
    jc->cur = req;
    jc->l->gw->limit_hits[RBGW_LIMIT_MAX_REQUEST_SIZE]++;
    rbgw_request_fail(req, RBGW_EPARSE, NULL, "request larger than max-request-size (%zu bytes)",
                      jc->max_request);
}

/* Dispatch unserved frames while nothing is in flight.  A reply given synchronously (by
 * dispatch or answer_oversized) clears jc->cur and the loop goes on with the next frame. */
static void
process(struct rbgw_jsonconn *jc)
{
    if (jc->processing) {
        return; /* a synchronous answer inside the loop below: the loop goes on */
    }
    jc->processing = 1;
    while (!jc->cur && !jc->done && !jc->gone) {
        size_t len, start, end;
        const char *p = unserved(jc, &len);
        struct rbgw_rpc_peek pk;
        if (!jc->discarding && rbgw_frame_scanner_fresh(&jc->sc) &&
            rbgw_rpc_peek_frame(p, len, &jc->l->gw->cfg->json_limits, &pk, &start, &end) == 0 &&
            end - start <= jc->max_request) {
            /* The usual case: a whole call at the front of the input, framed and peeked in
             * one pass.  Anything else takes the frame scanner below. */
            struct rbgw_request *req =
                rbgw_request_new(jc->session, p + start, end - start, jc, on_reply);
            rbgw_request_set_peek(req, &pk, p + start);
            next_frame(jc, end);
            jc->cur = req;
            rbgw_request_dispatch(req);
            continue;
        }
        int complete = rbgw_frame_scan(&jc->sc, p, len, &start, &end);
        if (jc->discarding) {
            if (!complete) {
                /* The scanner keeps its state to find the frame's end in later input. */
                drop(jc, len);
                jc->sc.pos = 0;
                jc->sc.start = 0;
                break;
            }
            jc->discarding = 0;
            next_frame(jc, end);
            continue;
        }
        if (!complete) {
            if (jc->sc.start == jc->sc.pos) {
                /* Only whitespace so far (no document started): drop it. */
                drop(jc, len);
                rbgw_frame_scanner_init(&jc->sc);
            } else if (len - jc->sc.start > jc->max_request) {
                /* Answer now; the scanner keeps its state to find the frame's end later. */
                jc->discarding = 1;
                drop(jc, len);
                jc->sc.pos = 0;
                jc->sc.start = 0;
                answer_oversized(jc);
                continue;
            }
            break;
        }
        if (end - start > jc->max_request) {
            next_frame(jc, end);
            answer_oversized(jc);
            continue;
        }
        /* The request copies the call's bytes: the input can be dropped before dispatching. */
        struct rbgw_request *req =
            rbgw_request_new(jc->session, p + start, end - start, jc, on_reply);
        next_frame(jc, end);
        jc->cur = req;
        rbgw_request_dispatch(req);
    }
    jc->processing = 0;
    if (!jc->cur && jc->eof) {
        size_t len;
        const char *p = unserved(jc, &len);
        size_t ws = leading_ws(p, len);
        if (ws < len && !jc->discarding) {
            rbgw_log_warn("%s: peer closed in the middle of a request (%zu bytes dropped)",
                          jc->what, len - ws);
        }
        drop(jc, len);
    }
    finish_if_idle(jc);
    flow(jc);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct rbgw_jsonconn *jc = h->data;
    RBGW_UNUSED(suggested);
    *buf = rbgw_slab_alloc(jc->slab);
}

static void
on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct rbgw_jsonconn *jc = stream->data;
    if (nread > 0) {
        if (rbgw_inbuf_len(&jc->rbuf) > 0) {
            /* A partial frame (or calls queued behind the one in flight) waits in rbuf. */
            rbgw_inbuf_append(&jc->rbuf, buf->base, (size_t)nread);
            process(jc);
            return;
        }
        rbgw_slab_serve(jc->slab, jc, (size_t)nread);
        process(jc);
        /* Keep what was not served: the slab is the next reader's.  process() counted it as
         * held already (unserved() is the slab's rest meanwhile). */
        rbgw_slab_release(jc->slab, &jc->rbuf, jc->done);
        return;
    }
    if (nread == 0) {
        return;
    }
    uv_read_stop(stream);
    jc->reading = 0;
    jc->eof = 1;
    if (nread != UV_EOF) {
        peer_gone(jc, uv_strerror((int)nread)); /* ECONNRESET: it closed with replies unread */
    } else if (reply_side_closed(jc)) {
        peer_gone(jc, "closed");
    } else {
        rbgw_log_debug("%s: EOF", jc->what);
    }
    process(jc);
}

void
rbgw__jsonconn_init(struct rbgw_jsonconn *jc, struct rbgw_listener *l, struct rbgw_read_slab *slab,
                    struct rbgw_wdog *wdog, uv_stream_t *in, uv_stream_t *out, const char *what,
                    rbgw_jsonconn_cb on_done)
{
    memset(jc, 0, sizeof(*jc));
    rbgw__wbatch_item_init(&jc->wb, on_flush);
    jc->l = l;
    jc->slab = slab;
    jc->wdog = wdog;
    rbgw__wdog_wait_init(&jc->wait, on_write_stalled);
    jc->in = in;
    jc->out = out;
    jc->what = what;
    jc->on_done = on_done;
    jc->max_request = l->gw->cfg->max_request_size;
    rbgw_frame_scanner_init(&jc->sc);
    jc->session = rbgw_session_new(l->gw, l);
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
    if (jc->wdog) {
        rbgw__wdog_end(jc->wdog, &jc->wait); /* a write in progress is cancelled */
    }
    if (rbgw__wbatch_queued(&jc->wb)) {
        /* Its reply waits for the end of the loop pass: not written now, our reference drops. */
        rbgw__wbatch_remove(&jc->wb);
        struct rbgw_request *req = jc->cur;
        jc->cur = NULL;
        rbgw_request_unref(req);
    }
    if (jc->cur && !jc->cur->answered) {
        /* Still upstream: its answer will be swallowed (the session is gone), so nothing
         * would drop our reference later.  A reply being written ends in on_write
         * (UV_ECANCELED), which drops it. */
        struct rbgw_request *req = jc->cur;
        jc->cur = NULL;
        rbgw_request_unref(req);
    }
    if (jc->session) {
        /* Its open transactions end with the session's last request. */
        rbgw_session_gone(jc->session, jc->eof || jc->gone ? "its pdns connection closed"
                                                           : "its listener closed");
        jc->session = NULL;
    }
    /* If on_read is serving this conn from the slab right now, it keeps nothing (done). */
    rbgw_inbuf_free(&jc->rbuf);
}

/*
 * listener/pipe.c: rbgw as pdns's pipe co-process: calls on stdin, replies on stdout.
 *
 * One JSON stream connection (jsonconn.c) with stdin as its read side and stdout as its write
 * side.  Rules that matter to pdns (docs/protocol.md §4.1, §8.4): exactly one '\n'-terminated line
 * per request, nothing else on stdout, never exit while stdin is open (pdns cannot recover an
 * instance whose child exited); on EOF finish the in-flight call, then report done so the
 * gateway stops and rbgw exits 0.
 *
 * A pdns that stops reading stdout gets no write-timeout: closing would mean exiting while stdin
 * is open, and pdns, once its own timeout passes, closes both pipes anyway (the write then
 * fails and rbgw finishes as at EOF).  Meanwhile max-conn-buffer bounds what rbgw reads ahead.
 *
 * Replies are written as the upstream wrote them (flattened to one line).  With squeeze=1 on
 * the listener (off by default) they go out without whitespace between tokens
 * (rbgw_json_squeeze; the same JSON value, strings untouched): pdns 4.7 reads its pipe one byte
 * per read() (docs/protocol.md §4.1), so each byte of a reply costs pdns a system call.  A
 * responder that writes `{"result": [...]}` with spaces, as Python's json.dumps does, and
 * rbgw's own re-serialised replies (fan-out merges, json11 form) get shorter; a reply without
 * whitespace is written as it came, with no copy.  The squeezed copy lives in this listener's
 * one buffer: one call is in flight at a time.
 */
#include <stdio.h>
#include <unistd.h>

#include "rbgw/buf.h"
#include "rbgw/log.h"
#include "listener/jsonconn.h"

struct pipe_listener {
    struct rbgw_listener *l;    /* borrowed owner */
    struct rbgw_jsonconn jc;    /* the one pdns connection */
    struct rbgw_read_slab slab; /* its read buffer */
    struct rbgw_buf squeeze;    /* the reply being written, when it had whitespace to drop */
    uv_pipe_t in;               /* stdin */
    uv_pipe_t out;              /* stdout */
    int pending_closes;         /* handles whose close callback has not run yet */
    unsigned closed : 1;        /* handles closing */
};

static void
on_done(struct rbgw_jsonconn *jc)
{
    rbgw_gateway_listener_done(jc->l);
}

static int
open_stdio(uv_loop_t *loop, uv_pipe_t *h, int fd, const char *what, char *err, size_t errlen)
{
    uv_handle_type t = uv_guess_handle(fd);
    if (t != UV_NAMED_PIPE && t != UV_TTY) {
        snprintf(err, errlen,
                 "%s is not a pipe (listen=pipe is for running as pdns's co-process: "
                 "remote-connection-string=pipe:command=/path/to/rbgw --config=FILE)",
                 what);
        return RBGW_ENOTSUP;
    }
    int rc = uv_pipe_init(loop, h, 0);
    if (rc < 0) {
        snprintf(err, errlen, "cannot use %s: %s", what, uv_strerror(rc));
        return rc;
    }
    rc = uv_pipe_open(h, fd);
    if (rc < 0) {
        snprintf(err, errlen, "cannot use %s: %s", what, uv_strerror(rc));
    }
    return rc;
}

static int
pipe_start(struct rbgw_listener *l, char *err, size_t errlen)
{
    struct pipe_listener *p = rbgw_xcalloc(1, sizeof(*p));
    uv_loop_t *loop = l->gw->loop;
    p->l = l;
    l->impl = p;
    /* pipe_close() closes whichever handle was initialised (h->loop set), whatever fails. */
    int rc = open_stdio(loop, &p->in, STDIN_FILENO, "stdin", err, errlen);
    if (rc == 0) {
        rc = open_stdio(loop, &p->out, STDOUT_FILENO, "stdout", err, errlen);
    }
    if (rc < 0) {
        return rc;
    }
    long squeeze; /* checked by the config loader: 0 or 1 */
    rc = rbgw_listener_int_opt(l, "squeeze", &squeeze, err, errlen);
    if (rc < 0) {
        return rc;
    }
    rbgw__jsonconn_init(&p->jc, l, &p->slab, NULL, (uv_stream_t *)&p->in, (uv_stream_t *)&p->out,
                        "pipe listener", on_done);
    if (squeeze) {
        p->jc.squeeze = &p->squeeze;
    }
    rc = rbgw__jsonconn_start(&p->jc);
    if (rc < 0) {
        snprintf(err, errlen, "cannot read stdin: %s", uv_strerror(rc));
    }
    return rc;
}

static void
pipe_stop(struct rbgw_listener *l)
{
    struct pipe_listener *p = l->impl;
    if (p->jc.l) {
        rbgw__jsonconn_stop(&p->jc);
    }
}

static void
on_closed(uv_handle_t *h)
{
    struct pipe_listener *p = h->data;
    if (--p->pending_closes == 0) {
        rbgw_gateway_listener_closed(p->l);
    }
}

static void
pipe_close(struct rbgw_listener *l)
{
    struct pipe_listener *p = l->impl;
    if (p->closed) {
        return;
    }
    p->closed = 1;
    if (p->jc.l) {
        rbgw__jsonconn_deinit(&p->jc);
    }
    uv_pipe_t *hs[2] = {&p->in, &p->out};
    for (size_t i = 0; i < 2; i++) {
        if (hs[i]->loop) {
            hs[i]->data = p;
            p->pending_closes++;
            uv_close((uv_handle_t *)hs[i], on_closed);
        }
    }
    if (p->pending_closes == 0) {
        rbgw_gateway_listener_closed(l);
    }
}

static void
pipe_destroy(struct rbgw_listener *l)
{
    struct pipe_listener *p = l->impl;
    rbgw_slab_free(&p->slab);
    rbgw_buf_free(&p->squeeze);
    free(p);
    l->impl = NULL;
}

const struct rbgw_listener_ops rbgw_pipe_listener_ops = {
    .name = "pipe",
    .fixed = true,
    .start = pipe_start,
    .stop = pipe_stop,
    .close = pipe_close,
    .destroy = pipe_destroy,
};

/*
 * floor_uv_relay.c: floor_relay's unix relay written on libuv, the event loop rbgw runs on.
 *
 * What: it listens on a unix socket (--listen=PATH); for every accepted client it opens one
 * connection to the upstream unix socket (--upstream=PATH) and copies bytes both ways, as
 * rbgw_floor_relay does, but through libuv: uv_read_start with one static buffer,
 * uv_try_write straight out (as rbgw writes), uv_write only for what a full socket did not
 * take, and while that is pending the sending side stops reading.  No parsing, no framing, no
 * timers, nothing on stdout (errors go to stderr).  When either side closes or fails, both
 * are closed.
 *
 * Why: rbgw is built on libuv (a fixed choice), and libuv's loop does work of its own on every
 * wake-up (its handle queues, the prepare/check/idle phases, one epoll_ctl batch, a time
 * update).  Beside rbgw_floor_relay (raw epoll, no libraries) this separates what any libuv
 * program pays per relayed call from what rbgw itself does per call: bench/ab_cpu.sh runs
 * the two relays and rbgw side by side.
 *
 * Built a second time as rbgw_floor_vet_relay (RBGW_FLOOR_VET defined, linked with rbgw_core),
 * it also runs rbgw's one-pass JSON check on every message before relaying it, with the watches
 * rbgw itself uses: a call's "method", "parameters" and parameters.trxid, a reply's "result"
 * and "log" (rbgw_json_scan_prefix, default limits).  That is the least a gateway that answers
 * bad input itself must do per call, so it is the floor of such a gateway on libuv; what rbgw
 * spends beyond it is request bookkeeping (routing, timers, pools, counters).  Each read is
 * taken as one whole message, as rbgw_floor_relay's HTTP mode does: true for the loadgen's small
 * messages with one call in flight per connection.  Messages the check refuses are still
 * relayed, and counted; the count goes to stderr at exit.
 *
 * Ownership: a struct pair is malloc'ed on accept and freed when the close callbacks of both
 * of its handles have run.  A write that did not go out at once owns a heap copy of its
 * bytes (struct pending), freed in its callback.
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#ifdef RBGW_FLOOR_VET
#include "rbgw/jsonscan.h"
#endif

#define BUF_SIZE 65536

struct pair;

struct side {
    uv_pipe_t h;
    struct pair *pair;
    unsigned pending; /* uv_write requests not completed on this side */
};

struct pair {
    struct side s[2]; /* 0: the client, 1: the upstream */
    uv_connect_t connect;
    int open; /* handles not closed yet */
    int closing;
};

/* A write of the bytes a socket did not take at once. */
struct pending {
    uv_write_t req;
    char data[];
};

static const char *upstream_path;
static char rbuf[BUF_SIZE]; /* every read lands here: it is relayed before the next read */

static void
usage(void)
{
#ifdef RBGW_FLOOR_VET
    fprintf(stderr, "usage: rbgw_floor_vet_relay --listen=PATH --upstream=PATH\n");
#else
    fprintf(stderr, "usage: rbgw_floor_uv_relay --listen=PATH --upstream=PATH\n");
#endif
    exit(2);
}

static struct side *
other(struct side *sd)
{
    return &sd->pair->s[sd == &sd->pair->s[0] ? 1 : 0];
}

static void
on_closed(uv_handle_t *h)
{
    struct side *sd = h->data;
    if (--sd->pair->open == 0) {
        free(sd->pair);
    }
}

static void
pair_close(struct pair *p)
{
    if (p->closing) {
        return;
    }
    p->closing = 1;
    for (int i = 0; i < 2; i++) {
        uv_close((uv_handle_t *)&p->s[i].h, on_closed);
    }
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)h;
    (void)hint;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void
on_written(uv_write_t *req, int status)
{
    struct side *dst = req->handle->data;
    free((char *)req - offsetof(struct pending, req));
    dst->pending--;
    if (status < 0) {
        pair_close(dst->pair);
        return;
    }
    if (dst->pending == 0 && !dst->pair->closing) {
        uv_read_start((uv_stream_t *)&other(dst)->h, on_alloc, on_read); /* backlog gone */
    }
}

/* Send n bytes to dst: what the socket takes now, the rest by uv_write (reading from the
 * sending side stops until it is done). */
static int
relay_out(struct side *dst, const char *data, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)n);
    int w = dst->pending == 0 ? uv_try_write((uv_stream_t *)&dst->h, &b, 1) : UV_EAGAIN;
    if (w < 0 && w != UV_EAGAIN) {
        return -1;
    }
    size_t done = w > 0 ? (size_t)w : 0;
    if (done == n) {
        return 0;
    }
    struct pending *pw = malloc(sizeof(*pw) + (n - done));
    if (pw == NULL) {
        return -1;
    }
    memcpy(pw->data, data + done, n - done);
    b = uv_buf_init(pw->data, (unsigned)(n - done));
    if (uv_write(&pw->req, (uv_stream_t *)&dst->h, &b, 1, on_written) < 0) {
        free(pw);
        return -1;
    }
    dst->pending++;
    uv_read_stop((uv_stream_t *)&other(dst)->h);
    return 0;
}

#ifdef RBGW_FLOOR_VET
static const struct rbgw_jscan_watch call_watch[] = {
    {"method", NULL}, {"parameters", NULL}, {"parameters", "trxid"}};
static const struct rbgw_jscan_watch reply_watch[] = {{"result", NULL}, {"log", NULL}};
static const struct rbgw_json_limits vet_limits = {200, 4000000}; /* rbgw's defaults */
static unsigned long long vetted, refused;

/* rbgw's check of one message: a call from the client, a reply from the upstream. */
static void
vet(const struct side *sd, const char *p, size_t n)
{
    bool is_call = sd == &sd->pair->s[0];
    struct rbgw_str found[3];
    size_t start, end;
    int rc = rbgw_json_scan_prefix(p, n, &vet_limits, is_call ? call_watch : reply_watch,
                                   is_call ? 3 : 2, is_call ? 0x3u : 0x1u, found, &start, &end);
    vetted++;
    if (rc != RBGW_JSCAN_OK) {
        refused++;
    }
}
#endif

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct side *sd = s->data;
    if (n > 0) {
#ifdef RBGW_FLOOR_VET
        vet(sd, buf->base, (size_t)n);
#endif
        if (relay_out(other(sd), buf->base, (size_t)n) < 0) {
            pair_close(sd->pair);
        }
    } else if (n < 0) {
        pair_close(sd->pair);
    }
}

static void
on_connect(uv_connect_t *req, int status)
{
    struct pair *p = req->data;
    if (p->closing) {
        return;
    }
    if (status < 0) {
        fprintf(stderr, "floor_uv_relay: connect %s: %s\n", upstream_path, uv_strerror(status));
        pair_close(p);
        return;
    }
    for (int i = 0; i < 2; i++) {
        uv_read_start((uv_stream_t *)&p->s[i].h, on_alloc, on_read);
    }
}

static void
on_connection(uv_stream_t *server, int status)
{
    if (status < 0) {
        fprintf(stderr, "floor_uv_relay: accept: %s\n", uv_strerror(status));
        return;
    }
    struct pair *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        fprintf(stderr, "floor_uv_relay: out of memory\n");
        exit(1);
    }
    for (int i = 0; i < 2; i++) {
        uv_pipe_init(server->loop, &p->s[i].h, 0);
        p->s[i].h.data = &p->s[i];
        p->s[i].pair = p;
    }
    p->open = 2;
    if (uv_accept(server, (uv_stream_t *)&p->s[0].h) < 0) {
        pair_close(p);
        return;
    }
    p->connect.data = p;
    uv_pipe_connect(&p->connect, &p->s[1].h, upstream_path, on_connect);
}

static void
on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    uv_stop(h->loop);
}

int
main(int argc, char **argv)
{
    const char *listen_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--listen=", 9) == 0) {
            listen_path = argv[i] + 9;
        } else if (strncmp(argv[i], "--upstream=", 11) == 0) {
            upstream_path = argv[i] + 11;
        } else {
            usage();
        }
    }
    if (listen_path == NULL || upstream_path == NULL) {
        usage();
    }
    uv_loop_t *loop = uv_default_loop();
    uv_pipe_t server;
    uv_pipe_init(loop, &server, 0);
    int rc = uv_pipe_bind(&server, listen_path);
    if (rc == 0) {
        rc = uv_listen((uv_stream_t *)&server, 128, on_connection);
    }
    if (rc < 0) {
        fprintf(stderr, "floor_uv_relay: listen %s: %s\n", listen_path, uv_strerror(rc));
        return 1;
    }
    uv_signal_t sigs[2];
    int signums[2] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        uv_signal_init(loop, &sigs[i]);
        uv_signal_start(&sigs[i], on_signal, signums[i]);
        uv_unref((uv_handle_t *)&sigs[i]);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    remove(listen_path);
#ifdef RBGW_FLOOR_VET
    fprintf(stderr, "floor_vet_relay: %llu messages checked, %llu refused\n", vetted, refused);
#endif
    return 0;
}

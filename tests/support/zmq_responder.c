/*
 * zmq_responder.c: scripted ZeroMQ ROUTER responder for the zeromq upstream tests (see
 * zmq_responder.h).
 *
 * The thread blocks in zmq_poll on two sockets: the ROUTER and the thread's end of an inproc
 * PAIR, over which zmq_responder_stop says "stop"; so it needs neither timeouts nor polling for
 * a flag.  The script and the log are shared with the test under one mutex; the log has a
 * condition variable so zmq_responder_next can wait with a bound.
 */
#include "zmq_responder.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#define MAX_LOG 256
#define MAX_SCRIPT 64
#define MAX_HELD 16

struct step {
    enum zr_action a; /* what to do */
    char *text;       /* owned reply text, or NULL */
};

struct held {
    unsigned char id[256]; /* routing id */
    size_t idlen;          /* bytes in id */
    char *reply;           /* owned reply text */
};

struct zmq_responder {
    void *ctx;                      /* own context */
    void *router;                   /* thread-owned after start */
    void *ctl_main;                 /* test side of the control PAIR */
    void *ctl_thread;               /* thread side */
    pthread_t thread;               /* the responder thread */
    char endpoint[256];             /* as bound */
    char ipc_path[256];             /* ipc path to unlink, or "" */
    pthread_mutex_t mu;             /* guards everything below */
    pthread_cond_t cv;              /* signalled on a new log entry */
    char *init_reply;               /* owned */
    struct step script[MAX_SCRIPT]; /* pending actions */
    size_t nscript;                 /* entries in script */
    struct zr_msg log[MAX_LOG];     /* received, not yet taken */
    size_t log_head, log_len;       /* ring */
    struct held held[MAX_HELD];     /* requests kept by ZR_HOLD (thread only) */
    size_t nheld;                   /* entries in held */
};

static char *
dupstr(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void
send_reply(struct zmq_responder *zr, const unsigned char *id, size_t idlen, const char *reply,
           bool extra_part)
{
    zmq_send(zr->router, id, idlen, ZMQ_SNDMORE);
    zmq_send(zr->router, "", 0, ZMQ_SNDMORE);
    zmq_send(zr->router, reply, strlen(reply), extra_part ? ZMQ_SNDMORE : 0);
    if (extra_part) {
        zmq_send(zr->router, "extra", 5, 0);
    }
}

/* Receive one whole message and act on it. */
static void
handle_message(struct zmq_responder *zr)
{
    zmq_msg_t parts[8];
    size_t n = 0;
    int more = 1;
    while (more) {
        zmq_msg_t tmp;
        zmq_msg_t *m = n < 8 ? &parts[n] : &tmp;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, zr->router, 0) < 0) {
            zmq_msg_close(m);
            break;
        }
        more = zmq_msg_more(m);
        if (m == &tmp) {
            zmq_msg_close(m);
        }
        n++;
    }
    size_t kept = n < 8 ? n : 8;
    if (kept == 0) {
        return;
    }
    struct zr_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.nparts = n;
    msg.idlen = zmq_msg_size(&parts[0]) < sizeof(msg.id) ? zmq_msg_size(&parts[0]) : sizeof(msg.id);
    memcpy(msg.id, zmq_msg_data(&parts[0]), msg.idlen);
    zmq_msg_t *payload = &parts[kept - 1];
    msg.len = zmq_msg_size(payload);
    msg.data = malloc(msg.len + 1);
    memcpy(msg.data, zmq_msg_data(payload), msg.len);
    msg.data[msg.len] = '\0';
    for (size_t i = 0; i < kept; i++) {
        zmq_msg_close(&parts[i]);
    }
    msg.initialize = strstr(msg.data, "\"method\": \"initialize\"") != NULL ||
                     strstr(msg.data, "\"method\":\"initialize\"") != NULL;

    /* Choose the action and log the message before answering, so the test can read which
     * reply went to which peer. */
    struct step st = {ZR_REPLY, NULL};
    pthread_mutex_lock(&zr->mu);
    if (msg.initialize) {
        st.text = dupstr(zr->init_reply);
    } else if (zr->nscript > 0) {
        st = zr->script[0];
        memmove(&zr->script[0], &zr->script[1], (zr->nscript - 1) * sizeof(zr->script[0]));
        zr->nscript--;
    } else {
        st.text = dupstr("{\"result\":false,\"log\":[\"zmq_responder: no scripted reply\"]}");
    }
    msg.reply = st.a == ZR_STALL ? NULL : dupstr(st.text);
    if (zr->log_len < MAX_LOG) {
        zr->log[(zr->log_head + zr->log_len) % MAX_LOG] = msg;
        zr->log_len++;
        pthread_cond_broadcast(&zr->cv);
    } else {
        zr_msg_free(&msg);
    }
    pthread_mutex_unlock(&zr->mu);

    switch (st.a) {
    case ZR_REPLY:
    case ZR_PARTS:
        send_reply(zr, msg.id, msg.idlen, st.text ? st.text : "", st.a == ZR_PARTS);
        break;
    case ZR_STALL:
        break;
    case ZR_HOLD:
        if (zr->nheld < MAX_HELD) {
            struct held *h = &zr->held[zr->nheld++];
            memcpy(h->id, msg.id, msg.idlen);
            h->idlen = msg.idlen;
            h->reply = st.text;
            st.text = NULL;
        }
        break;
    case ZR_RELEASE:
        send_reply(zr, msg.id, msg.idlen, st.text ? st.text : "", false);
        while (zr->nheld > 0) {
            struct held *h = &zr->held[--zr->nheld];
            send_reply(zr, h->id, h->idlen, h->reply ? h->reply : "", false);
            free(h->reply);
        }
        break;
    }
    free(st.text);
}

static void *
run(void *arg)
{
    struct zmq_responder *zr = arg;
    for (;;) {
        zmq_pollitem_t items[2] = {
            {zr->router, 0, ZMQ_POLLIN, 0},
            {zr->ctl_thread, 0, ZMQ_POLLIN, 0},
        };
        if (zmq_poll(items, 2, -1) < 0) {
            if (zmq_errno() == EINTR) {
                continue;
            }
            break;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            handle_message(zr);
        }
    }
    while (zr->nheld > 0) {
        free(zr->held[--zr->nheld].reply);
    }
    return NULL;
}

struct zmq_responder *
zmq_responder_start(const char *endpoint)
{
    struct zmq_responder *zr = calloc(1, sizeof(*zr));
    int linger = 0;
    char inproc[64];
    zr->ctx = zmq_ctx_new();
    zr->router = zmq_socket(zr->ctx, ZMQ_ROUTER);
    zmq_setsockopt(zr->router, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_bind(zr->router, endpoint) != 0) {
        fprintf(stderr, "zmq_responder: cannot bind %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        zmq_close(zr->router);
        zmq_ctx_term(zr->ctx);
        free(zr);
        return NULL;
    }
    size_t len = sizeof(zr->endpoint);
    zmq_getsockopt(zr->router, ZMQ_LAST_ENDPOINT, zr->endpoint, &len);
    if (strncmp(endpoint, "ipc://", 6) == 0) {
        snprintf(zr->ipc_path, sizeof(zr->ipc_path), "%s", endpoint + 6);
    }
    snprintf(inproc, sizeof(inproc), "inproc://zr-ctl-%p", (void *)zr);
    zr->ctl_thread = zmq_socket(zr->ctx, ZMQ_PAIR);
    zr->ctl_main = zmq_socket(zr->ctx, ZMQ_PAIR);
    zmq_setsockopt(zr->ctl_thread, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(zr->ctl_main, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_bind(zr->ctl_thread, inproc);
    zmq_connect(zr->ctl_main, inproc);
    zr->init_reply = strdup("{\"result\":true}");
    pthread_mutex_init(&zr->mu, NULL);
    pthread_cond_init(&zr->cv, NULL);
    pthread_create(&zr->thread, NULL, run, zr);
    return zr;
}

const char *
zmq_responder_endpoint(const struct zmq_responder *zr)
{
    return zr->endpoint;
}

void
zmq_responder_set_init_reply(struct zmq_responder *zr, const char *reply)
{
    pthread_mutex_lock(&zr->mu);
    free(zr->init_reply);
    zr->init_reply = strdup(reply);
    pthread_mutex_unlock(&zr->mu);
}

void
zmq_responder_push(struct zmq_responder *zr, enum zr_action a, const char *text)
{
    pthread_mutex_lock(&zr->mu);
    if (zr->nscript < MAX_SCRIPT) {
        zr->script[zr->nscript].a = a;
        zr->script[zr->nscript].text = dupstr(text);
        zr->nscript++;
    }
    pthread_mutex_unlock(&zr->mu);
}

int
zmq_responder_next(struct zmq_responder *zr, int timeout_ms, struct zr_msg *out)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&zr->mu);
    while (zr->log_len == 0) {
        if (pthread_cond_timedwait(&zr->cv, &zr->mu, &until) == ETIMEDOUT) {
            break;
        }
    }
    int rc = -1;
    if (zr->log_len > 0) {
        *out = zr->log[zr->log_head];
        zr->log_head = (zr->log_head + 1) % MAX_LOG;
        zr->log_len--;
        rc = 0;
    }
    pthread_mutex_unlock(&zr->mu);
    return rc;
}

size_t
zmq_responder_pending(struct zmq_responder *zr)
{
    pthread_mutex_lock(&zr->mu);
    size_t n = zr->log_len;
    pthread_mutex_unlock(&zr->mu);
    return n;
}

void
zr_msg_free(struct zr_msg *m)
{
    free(m->data);
    free(m->reply);
    m->data = m->reply = NULL;
}

void
zmq_responder_stop(struct zmq_responder *zr)
{
    if (zr == NULL) {
        return;
    }
    zmq_send(zr->ctl_main, "stop", 4, 0);
    pthread_join(zr->thread, NULL);
    zmq_close(zr->router);
    zmq_close(zr->ctl_thread);
    zmq_close(zr->ctl_main);
    zmq_ctx_term(zr->ctx);
    if (zr->ipc_path[0]) {
        unlink(zr->ipc_path);
    }
    while (zr->log_len > 0) {
        zr_msg_free(&zr->log[zr->log_head]);
        zr->log_head = (zr->log_head + 1) % MAX_LOG;
        zr->log_len--;
    }
    for (size_t i = 0; i < zr->nscript; i++) {
        free(zr->script[i].text);
    }
    free(zr->init_reply);
    pthread_mutex_destroy(&zr->mu);
    pthread_cond_destroy(&zr->cv);
    free(zr);
}

/*
 * zmq_echo_http.c: the holding, echoing HTTP responder (see zmq_echo_http.h).
 *
 * One thread, one poll() loop over a wake-up pipe, the listening socket and the connections.
 * A connection's buffer is parsed into requests (head up to CRLFCRLF, body by Content-Length);
 * each complete request joins the waiting list.  Once `hold` are waiting, all waiting requests
 * are answered, newest first, with blocking writes (the replies are small).  Connections are
 * keep-alive; one request per connection is waiting at most, as a client that does not pipeline
 * sends nothing more before its reply.  Sockets are CLOEXEC so spawned children never inherit
 * them.
 */
#include "zmq_echo_http.h"
#include "netio.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 64
#define MAX_HEAD 65536

struct echo_conn {
    int fd;       /* socket, -1 when the slot is free */
    char *buf;    /* owned: received bytes not yet parsed */
    size_t len;   /* bytes in buf */
    size_t cap;   /* allocated size of buf */
    char *target; /* owned: target of the request waiting for its answer, or NULL */
    unsigned seq; /* arrival number of that request */
};

struct zmq_echo_http {
    int lfd;                           /* listening socket */
    uint16_t port;                     /* its port */
    int wake[2];                       /* a byte on wake[0] stops the thread */
    pthread_t thread;                  /* the server loop */
    pthread_mutex_t mu;                /* guards the counters */
    unsigned hold;                     /* batch size */
    unsigned requests;                 /* requests received */
    unsigned waiting;                  /* requests waiting now */
    unsigned max_waiting;              /* high mark of waiting */
    struct echo_conn conns[MAX_CONNS]; /* connection slots (server thread only) */
};

static void
conn_drop(struct echo_conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c->buf);
    free(c->target);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

static void
answer(struct echo_conn *c)
{
    char body[2048], head[256];
    int blen = snprintf(body, sizeof(body),
                        "{\"result\":[{\"qtype\":\"TXT\",\"qname\":\"echo.\",\"content\":\"%s\","
                        "\"ttl\":60,\"auth\":1,\"domain_id\":1}]}",
                        c->target);
    if (blen < 0 || (size_t)blen >= sizeof(body)) {
        blen = snprintf(body, sizeof(body), "{\"result\":false}");
    }
    int hlen = snprintf(head, sizeof(head),
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        "Content-Length: %d\r\n\r\n",
                        blen);
    if (!rbgw_test_send_all(c->fd, head, (size_t)hlen) ||
        !rbgw_test_send_all(c->fd, body, (size_t)blen)) {
        conn_drop(c);
        return;
    }
    free(c->target);
    c->target = NULL;
}

/* Answer every waiting request, newest first. */
static void
release_batch(struct zmq_echo_http *s)
{
    for (;;) {
        struct echo_conn *newest = NULL;
        for (int i = 0; i < MAX_CONNS; i++) {
            struct echo_conn *c = &s->conns[i];
            if (c->fd >= 0 && c->target && (newest == NULL || c->seq > newest->seq)) {
                newest = c;
            }
        }
        if (newest == NULL) {
            break;
        }
        answer(newest);
    }
    pthread_mutex_lock(&s->mu);
    s->waiting = 0;
    pthread_mutex_unlock(&s->mu);
}

/* Parse a complete request out of c->buf, if there is one.  -1: malformed (drop the conn). */
static int
parse_request(struct zmq_echo_http *s, struct echo_conn *c)
{
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (end == NULL) {
        return c->len > MAX_HEAD ? -1 : 0;
    }
    size_t head_len = (size_t)(end - c->buf) + 4;
    size_t body_len = 0;
    *end = '\0';
    char *sp1 = strchr(c->buf, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (sp2 == NULL) {
        return -1;
    }
    for (char *line = strstr(c->buf, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "Content-Length:", 15) == 0) {
            body_len = strtoul(line + 2 + 15, NULL, 10);
        }
    }
    if (c->len < head_len + body_len) {
        *end = '\r';
        return 0;
    }
    for (const char *p = sp1 + 1; p < sp2; p++) {
        if (*p == '"' || *p == '\\') {
            return -1; /* never sent by rbgw; keeps the echo valid JSON without escaping */
        }
    }
    c->target = strndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
    memmove(c->buf, c->buf + head_len + body_len, c->len - head_len - body_len);
    c->len -= head_len + body_len;
    pthread_mutex_lock(&s->mu);
    c->seq = ++s->requests;
    s->waiting++;
    if (s->waiting > s->max_waiting) {
        s->max_waiting = s->waiting;
    }
    bool release = s->waiting >= s->hold;
    pthread_mutex_unlock(&s->mu);
    if (release) {
        release_batch(s);
    }
    return 1;
}

static void
on_readable(struct zmq_echo_http *s, struct echo_conn *c)
{
    ssize_t n = rbgw_test_recv_more(c->fd, &c->buf, &c->len, &c->cap);
    if (n <= 0) {
        if (c->target) {
            pthread_mutex_lock(&s->mu);
            s->waiting--;
            pthread_mutex_unlock(&s->mu);
        }
        conn_drop(c);
        return;
    }
    while (c->fd >= 0 && c->target == NULL) {
        int rc = parse_request(s, c);
        if (rc < 0) {
            conn_drop(c);
        }
        if (rc <= 0) {
            break;
        }
    }
}

static void *
run(void *arg)
{
    struct zmq_echo_http *s = arg;
    struct pollfd pfd[MAX_CONNS + 2];
    int slot[MAX_CONNS + 2];
    for (;;) {
        int n = 0;
        pfd[n++] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
        for (int i = 0; i < MAX_CONNS; i++) {
            if (s->conns[i].fd >= 0) {
                slot[n] = i;
                pfd[n++] = (struct pollfd){.fd = s->conns[i].fd, .events = POLLIN};
            }
        }
        if (poll(pfd, (nfds_t)n, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (pfd[0].revents) {
            break;
        }
        if (pfd[1].revents & POLLIN) {
            int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
            int i = 0;
            while (fd >= 0 && i < MAX_CONNS && s->conns[i].fd >= 0) {
                i++;
            }
            if (fd >= 0 && i == MAX_CONNS) {
                close(fd);
            } else if (fd >= 0) {
                s->conns[i].fd = fd;
            }
        }
        for (int k = 2; k < n; k++) {
            struct echo_conn *c = &s->conns[slot[k]];
            if (c->fd == pfd[k].fd && (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))) {
                on_readable(s, c);
            }
        }
    }
    return NULL;
}

struct zmq_echo_http *
zmq_echo_http_start(unsigned hold)
{
    struct zmq_echo_http *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->hold = hold ? hold : 1;
    for (int i = 0; i < MAX_CONNS; i++) {
        s->conns[i].fd = -1;
    }
    pthread_mutex_init(&s->mu, NULL);
    if (pipe2(s->wake, O_CLOEXEC) != 0) {
        free(s);
        return NULL;
    }
    s->lfd = rbgw_test_tcp_bind(&s->port);
    if (s->lfd < 0 || listen(s->lfd, 64) != 0) {
        if (s->lfd >= 0) {
            close(s->lfd);
        }
        close(s->wake[0]);
        close(s->wake[1]);
        free(s);
        return NULL;
    }
    if (pthread_create(&s->thread, NULL, run, s) != 0) {
        close(s->lfd);
        close(s->wake[0]);
        close(s->wake[1]);
        free(s);
        return NULL;
    }
    return s;
}

void
zmq_echo_http_stop(struct zmq_echo_http *s)
{
    if (s == NULL) {
        return;
    }
    ssize_t w = write(s->wake[1], "x", 1);
    (void)w;
    pthread_join(s->thread, NULL);
    for (int i = 0; i < MAX_CONNS; i++) {
        if (s->conns[i].fd >= 0) {
            conn_drop(&s->conns[i]);
        }
    }
    close(s->lfd);
    close(s->wake[0]);
    close(s->wake[1]);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

uint16_t
zmq_echo_http_port(const struct zmq_echo_http *s)
{
    return s->port;
}

unsigned
zmq_echo_http_requests(struct zmq_echo_http *s)
{
    return rbgw_test_locked_get(&s->mu, &s->requests);
}

unsigned
zmq_echo_http_max_waiting(struct zmq_echo_http *s)
{
    return rbgw_test_locked_get(&s->mu, &s->max_waiting);
}

/*
 * fake_http.c: scripted HTTP/1.1 responder for integration tests (see fake_http.h).
 *
 * One thread runs a poll() loop over a wake-up pipe, the listening socket and every accepted
 * connection, so a stalled connection never blocks the others (rbgw opens a fresh connection
 * after a timeout while the stalled one is still open).  Requests are parsed from each
 * connection's buffer (head up to CRLFCRLF, body by Content-Length or chunked), recorded under
 * the mutex, and answered by the next scripted action.  Writes are blocking and complete before
 * the next request is looked at: rbgw sends one request at a time and reads the whole reply.
 *
 *   test thread ──push/set_default──> script ──(mutex)──> server thread ──send──> rbgw
 *   test thread <──wait_* (condvar)── requests[], accepts, closes <──recv── rbgw
 *
 * Ownership: the server owns the script (copied strings), the recorded requests (each allocated
 * once and never moved or changed, so returned pointers stay valid until fake_http_stop) and
 * the connections.  Sockets are CLOEXEC so the rbgw child never inherits them.
 *
 * Split writes (`pieces`) are paced by a 1 ms pause so they are likely to reach rbgw as separate
 * reads; nothing depends on that pause for correctness.
 */
#include "fake_http.h"
#include "netio.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;         /* socket, -1 once closed */
    unsigned index; /* accept order */
    char *buf;      /* owned: bytes received and not yet parsed */
    size_t len;     /* bytes in buf */
    size_t cap;     /* allocated size of buf */
    bool stalled;   /* a request on it is being stalled: do not answer anything more */
};

struct fake_http {
    int lfd;                         /* listening socket */
    uint16_t port;                   /* its port */
    int wake[2];                     /* self-pipe: a byte on wake[0] stops the thread */
    pthread_t thread;                /* the server loop */
    pthread_mutex_t mu;              /* guards everything below */
    pthread_cond_t cv;               /* broadcast on every new request, accept and close */
    struct fake_http_action *script; /* owned array of owned copies */
    size_t nscript;                  /* actions in script */
    size_t script_next;              /* index of the next unused action */
    struct fake_http_action dflt;    /* owned copy: action once the script is used up */
    struct fake_http_request **reqs; /* owned: recorded requests, arrival order */
    size_t nreqs;                    /* recorded requests */
    unsigned accepts;                /* connections accepted */
    unsigned closes;                 /* connections closed */
    struct conn *conns;              /* owned: live connections (server thread only) */
    size_t nconns;                   /* entries in conns */
};

static char *
xstrdup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void
action_copy(struct fake_http_action *dst, const struct fake_http_action *src)
{
    *dst = *src;
    dst->content_type = xstrdup_or_null(src->content_type);
    dst->headers = xstrdup_or_null(src->headers);
    dst->body = xstrdup_or_null(src->body);
}

static void
action_free(struct fake_http_action *a)
{
    free((char *)a->content_type);
    free((char *)a->headers);
    free((char *)a->body);
}

static void
request_free(struct fake_http_request *r)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->names[i]);
        free(r->values[i]);
    }
    free(r->names);
    free(r->values);
    free(r->raw);
    free(r->method);
    free(r->target);
    free(r->version);
    free(r->body);
    free(r);
}

/* ---- writing responses ---- */

struct sbuf {
    char *p;    /* owned */
    size_t len; /* used */
    size_t cap; /* allocated */
};

static void
sbuf_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        b->p = realloc(b->p, cap);
        if (!b->p) {
            abort();
        }
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sbuf_addf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sbuf_addf(struct sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0) {
        sbuf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
    }
}

static const char *
reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 302:
        return "Found";
    case 404:
        return "Not Found";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

static void
build_response(struct sbuf *b, const struct fake_http_action *a)
{
    int status = a->status ? a->status : 200;
    const char *body = a->body ? a->body : "";
    size_t blen = strlen(body);
    sbuf_addf(b, "HTTP/1.1 %d %s\r\n", status, reason_phrase(status));
    if (!a->content_type) {
        sbuf_addf(b, "Content-Type: application/json\r\n");
    } else if (a->content_type[0]) {
        sbuf_addf(b, "Content-Type: %s\r\n", a->content_type);
    }
    if (a->chunked) {
        sbuf_addf(b, "Transfer-Encoding: chunked\r\n");
    } else if (!a->no_length) {
        sbuf_addf(b, "Content-Length: %zu\r\n", blen);
    }
    if (a->headers) {
        sbuf_add(b, a->headers, strlen(a->headers));
    }
    sbuf_add(b, "\r\n", 2);
    if (!a->chunked) {
        sbuf_add(b, body, blen);
        return;
    }
    size_t nchunks = a->chunks > 0 ? (size_t)a->chunks : 3;
    size_t per = blen / nchunks + 1;
    for (size_t off = 0; off < blen; off += per) {
        size_t n = blen - off < per ? blen - off : per;
        sbuf_addf(b, "%zx\r\n", n);
        sbuf_add(b, body + off, n);
        sbuf_add(b, "\r\n", 2);
    }
    sbuf_add(b, "0\r\n\r\n", 5);
}

static void
respond(int fd, const struct fake_http_action *a)
{
    struct sbuf b = {0};
    build_response(&b, a);
    if (a->cut_after && a->cut_after < b.len) {
        b.len = a->cut_after;
    }
    size_t pieces = a->pieces > 1 ? (size_t)a->pieces : 1;
    if (pieces > b.len) {
        pieces = b.len;
    }
    if (pieces <= 1) {
        rbgw_test_send_all(fd, b.p, b.len);
    } else {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        size_t per = b.len / pieces;
        size_t off = 0;
        for (size_t i = 0; i < pieces; i++) {
            size_t n = i + 1 == pieces ? b.len - off : per;
            rbgw_test_send_all(fd, b.p + off, n);
            off += n;
            if (i + 1 < pieces) {
                struct timespec pause = {0, 1000000L};
                nanosleep(&pause, NULL);
            }
        }
    }
    free(b.p);
}

/* ---- parsing requests ---- */

static char *
xstrndup(const char *s, size_t n)
{
    char *r = malloc(n + 1);
    if (!r) {
        abort();
    }
    memcpy(r, s, n);
    r[n] = '\0';
    return r;
}

/*
 * Decode a chunked body starting at p[0..len).  Returns the bytes consumed (through the final
 * CRLF after the last chunk and any trailers), 0 if incomplete, -1 if malformed.
 */
static long
dechunk(const char *p, size_t len, struct sbuf *out)
{
    size_t off = 0;
    for (;;) {
        const char *eol = memchr(p + off, '\n', len - off);
        if (!eol) {
            return 0;
        }
        char *end;
        unsigned long n = strtoul(p + off, &end, 16);
        if (end == p + off) {
            return -1;
        }
        off = (size_t)(eol - p) + 1;
        if (n == 0) {
            /* trailers, then an empty line */
            for (;;) {
                const char *e = memchr(p + off, '\n', len - off);
                if (!e) {
                    return 0;
                }
                size_t linelen = (size_t)(e - (p + off));
                off = (size_t)(e - p) + 1;
                if (linelen == 0 || (linelen == 1 && p[off - 2] == '\r')) {
                    return (long)off;
                }
            }
        }
        if (len - off < n + 2) {
            return 0;
        }
        sbuf_add(out, p + off, n);
        off += n + 2;
    }
}

/*
 * Parse one complete request from c->buf.  Returns it (and sets *used), NULL when more input is
 * needed.  A malformed head is recorded as it is (method "?") so the test can see it.
 */
static struct fake_http_request *
parse_request(struct conn *c, size_t *used)
{
    const char *end = rbgw_test_head_end(c->buf, c->len);
    if (!end) {
        return NULL;
    }
    size_t head_len = (size_t)(end - c->buf) + 4;
    struct fake_http_request *r = calloc(1, sizeof(*r));
    if (!r) {
        abort();
    }
    r->conn = c->index;

    /* request line */
    const char *line = c->buf;
    const char *eol = strstr(line, "\r\n");
    const char *sp1 = memchr(line, ' ', (size_t)(eol - line));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (sp1 && sp2) {
        r->method = xstrndup(line, (size_t)(sp1 - line));
        r->target = xstrndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
        r->version = xstrndup(sp2 + 1, (size_t)(eol - sp2 - 1));
    } else {
        r->method = strdup("?");
        r->target = xstrndup(line, (size_t)(eol - line));
        r->version = strdup("");
    }

    /* headers */
    size_t content_length = 0;
    bool chunked = false;
    size_t cap = 0;
    for (const char *h = eol + 2; h < end + 2; h = strstr(h, "\r\n") + 2) {
        const char *he = strstr(h, "\r\n");
        if (he == h) {
            break;
        }
        const char *colon = memchr(h, ':', (size_t)(he - h));
        const char *name_end = colon ? colon : he;
        const char *v = colon ? colon + 1 : he;
        while (v < he && (*v == ' ' || *v == '\t')) {
            v++;
        }
        const char *ve = he;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
            ve--;
        }
        if (r->nheaders == cap) {
            cap = cap ? cap * 2 : 16;
            r->names = realloc(r->names, cap * sizeof(*r->names));
            r->values = realloc(r->values, cap * sizeof(*r->values));
            if (!r->names || !r->values) {
                abort();
            }
        }
        r->names[r->nheaders] = xstrndup(h, (size_t)(name_end - h));
        r->values[r->nheaders] = xstrndup(v, (size_t)(ve - v));
        if (strcasecmp(r->names[r->nheaders], "Content-Length") == 0) {
            content_length = strtoul(r->values[r->nheaders], NULL, 10);
        } else if (strcasecmp(r->names[r->nheaders], "Transfer-Encoding") == 0 &&
                   strcasecmp(r->values[r->nheaders], "chunked") == 0) {
            chunked = true;
        }
        r->nheaders++;
    }

    /* body */
    size_t total;
    if (chunked) {
        struct sbuf body = {0};
        long n = dechunk(c->buf + head_len, c->len - head_len, &body);
        if (n <= 0) {
            free(body.p);
            request_free(r);
            if (n < 0) {
                *used = c->len; /* malformed chunking: the caller drops the buffer */
            }
            return NULL;
        }
        total = head_len + (size_t)n;
        r->body = body.p ? body.p : strdup("");
        r->body_len = body.len;
    } else {
        if (c->len - head_len < content_length) {
            request_free(r);
            return NULL;
        }
        total = head_len + content_length;
        r->body = xstrndup(c->buf + head_len, content_length);
        r->body_len = content_length;
    }
    r->raw = xstrndup(c->buf, total);
    r->raw_len = total;
    *used = total;
    return r;
}

/* ---- the server thread ---- */

static void
conn_close(struct fake_http *s, struct conn *c)
{
    if (c->fd < 0) {
        return;
    }
    close(c->fd);
    c->fd = -1;
    pthread_mutex_lock(&s->mu);
    s->closes++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void
serve_buffered(struct fake_http *s, struct conn *c)
{
    while (c->fd >= 0) {
        size_t used = 0;
        struct fake_http_request *r = parse_request(c, &used);
        if (!r) {
            if (used) {
                c->len = 0; /* malformed chunked body: drop it */
            }
            return;
        }
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
        c->buf[c->len] = '\0';

        struct fake_http_action a;
        pthread_mutex_lock(&s->mu);
        struct fake_http_request **reqs = realloc(s->reqs, (s->nreqs + 1) * sizeof(*reqs));
        if (!reqs) {
            abort();
        }
        s->reqs = reqs;
        s->reqs[s->nreqs++] = r;
        if (c->stalled) {
            /* answering a later request on a stalled connection would pair replies wrongly,
             * and it must not use up an action scripted for another connection */
            a = (struct fake_http_action){.kind = FAKE_HTTP_STALL};
        } else if (s->script_next < s->nscript) {
            action_copy(&a, &s->script[s->script_next++]);
        } else {
            action_copy(&a, &s->dflt);
        }
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);

        switch (a.kind) {
        case FAKE_HTTP_RESPOND:
            respond(c->fd, &a);
            if (a.close_after) {
                conn_close(s, c);
            } else if (a.cut_after) {
                c->stalled = true; /* the rest of that response never comes */
            }
            break;
        case FAKE_HTTP_STALL:
            c->stalled = true;
            break;
        case FAKE_HTTP_CLOSE:
            conn_close(s, c);
            break;
        }
        action_free(&a);
    }
}

static void
on_readable(struct fake_http *s, struct conn *c)
{
    ssize_t n = rbgw_test_recv_more(c->fd, &c->buf, &c->len, &c->cap);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return;
    }
    if (n <= 0) {
        conn_close(s, c);
        return;
    }
    serve_buffered(s, c); /* on a stalled connection too: later requests are still recorded */
}

static void
on_accept(struct fake_http *s)
{
    int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        return;
    }
    struct conn *conns = realloc(s->conns, (s->nconns + 1) * sizeof(*conns));
    if (!conns) {
        abort();
    }
    s->conns = conns;
    pthread_mutex_lock(&s->mu);
    unsigned index = s->accepts++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    s->conns[s->nconns++] = (struct conn){.fd = fd, .index = index};
}

static void *
server_main(void *arg)
{
    struct fake_http *s = arg;
    struct pollfd *pfd = NULL;
    for (;;) {
        size_t n = 2 + s->nconns;
        pfd = realloc(pfd, n * sizeof(*pfd));
        if (!pfd) {
            abort();
        }
        pfd[0] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
        for (size_t i = 0; i < s->nconns; i++) {
            pfd[2 + i] = (struct pollfd){.fd = s->conns[i].fd, .events = POLLIN};
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
        size_t nconns = s->nconns; /* on_accept may grow the array below */
        for (size_t i = 0; i < nconns; i++) {
            if (pfd[2 + i].revents && s->conns[i].fd >= 0) {
                on_readable(s, &s->conns[i]);
            }
        }
        if (pfd[1].revents & POLLIN) {
            on_accept(s);
        }
        /* drop closed connections */
        size_t j = 0;
        for (size_t i = 0; i < s->nconns; i++) {
            if (s->conns[i].fd >= 0) {
                s->conns[j++] = s->conns[i];
            } else {
                free(s->conns[i].buf);
            }
        }
        s->nconns = j;
    }
    free(pfd);
    return NULL;
}

/* ---- public API ---- */

struct fake_http *
fake_http_start(void)
{
    struct fake_http *s = calloc(1, sizeof(*s));
    if (!s) {
        return NULL;
    }
    s->lfd = rbgw_test_tcp_bind(&s->port);
    if (s->lfd < 0) {
        free(s);
        return NULL;
    }
    if (listen(s->lfd, 64) < 0 || pipe2(s->wake, O_CLOEXEC) < 0) {
        close(s->lfd);
        free(s);
        return NULL;
    }
    rbgw_test_cond_init(&s->cv);
    pthread_mutex_init(&s->mu, NULL);
    struct fake_http_action dflt = {.kind = FAKE_HTTP_RESPOND, .body = "{\"result\":true}"};
    action_copy(&s->dflt, &dflt);
    if (pthread_create(&s->thread, NULL, server_main, s) != 0) {
        close(s->lfd);
        close(s->wake[0]);
        close(s->wake[1]);
        action_free(&s->dflt);
        free(s);
        return NULL;
    }
    return s;
}

void
fake_http_stop(struct fake_http *s)
{
    if (!s) {
        return;
    }
    char b = 'x';
    while (write(s->wake[1], &b, 1) < 0 && errno == EINTR) {
    }
    pthread_join(s->thread, NULL);
    for (size_t i = 0; i < s->nconns; i++) {
        if (s->conns[i].fd >= 0) {
            close(s->conns[i].fd);
        }
        free(s->conns[i].buf);
    }
    free(s->conns);
    close(s->lfd);
    close(s->wake[0]);
    close(s->wake[1]);
    for (size_t i = 0; i < s->nscript; i++) {
        action_free(&s->script[i]);
    }
    free(s->script);
    action_free(&s->dflt);
    for (size_t i = 0; i < s->nreqs; i++) {
        request_free(s->reqs[i]);
    }
    free(s->reqs);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

uint16_t
fake_http_port(const struct fake_http *s)
{
    return s->port;
}

void
fake_http_push(struct fake_http *s, const struct fake_http_action *a)
{
    pthread_mutex_lock(&s->mu);
    struct fake_http_action *script = realloc(s->script, (s->nscript + 1) * sizeof(*script));
    if (!script) {
        abort();
    }
    s->script = script;
    action_copy(&s->script[s->nscript++], a);
    pthread_mutex_unlock(&s->mu);
}

void
fake_http_push_json(struct fake_http *s, const char *body)
{
    struct fake_http_action a = {.kind = FAKE_HTTP_RESPOND, .body = body};
    fake_http_push(s, &a);
}

void
fake_http_set_default(struct fake_http *s, const struct fake_http_action *a)
{
    pthread_mutex_lock(&s->mu);
    action_free(&s->dflt);
    action_copy(&s->dflt, a);
    pthread_mutex_unlock(&s->mu);
}

size_t
fake_http_nrequests(struct fake_http *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->nreqs;
    pthread_mutex_unlock(&s->mu);
    return n;
}

const struct fake_http_request *
fake_http_request(struct fake_http *s, size_t i)
{
    pthread_mutex_lock(&s->mu);
    const struct fake_http_request *r = i < s->nreqs ? s->reqs[i] : NULL;
    pthread_mutex_unlock(&s->mu);
    return r;
}

unsigned
fake_http_accepts(struct fake_http *s)
{
    return rbgw_test_locked_get(&s->mu, &s->accepts);
}

unsigned
fake_http_closes(struct fake_http *s)
{
    return rbgw_test_locked_get(&s->mu, &s->closes);
}

bool
fake_http_wait_requests(struct fake_http *s, size_t n, int timeout_ms)
{
    struct timespec dl;
    rbgw_test_deadline(&dl, timeout_ms);
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    while (s->nreqs < n && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait(&s->cv, &s->mu, &dl);
    }
    bool ok = s->nreqs >= n;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

bool
fake_http_wait_closes(struct fake_http *s, unsigned n, int timeout_ms)
{
    struct timespec dl;
    rbgw_test_deadline(&dl, timeout_ms);
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    while (s->closes < n && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait(&s->cv, &s->mu, &dl);
    }
    bool ok = s->closes >= n;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

const char *
fake_http_header(const struct fake_http_request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->names[i], name) == 0) {
            return r->values[i];
        }
    }
    return NULL;
}

size_t
fake_http_count_headers(const struct fake_http_request *r, const char *prefix)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strncasecmp(r->names[i], prefix, strlen(prefix)) == 0) {
            n++;
        }
    }
    return n;
}

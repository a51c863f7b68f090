/*
 * fake_fanout.c: killable scripted HTTP responders and the fan-out test harness (see
 * fake_fanout.h).
 *
 * Each responder runs one thread with a poll() loop over a wake-up pipe, its listening socket
 * (while alive) and every accepted connection, so a stalled connection never blocks the others.
 * Requests are parsed (head up to CRLFCRLF, body by Content-Length: rbgw never chunks),
 * recorded and answered while holding the mutex, so a waiter that sees a record also knows the
 * answer has been written.  Commands from the test thread (kill, revive, release, stop) are
 * posted under the mutex, signalled through the pipe, and acknowledged by the thread, so they
 * have taken effect when the call returns.
 *
 *   test thread ──rule/kill/revive/release──> (mutex + pipe) ──> server thread ──> rbgw
 *   test thread <──wait_* (condvar)── reqs[], accepts, closes, pending <──recv── rbgw
 *
 * Dying without losing the port: the listening socket is bound to an explicit port (an
 * ephemeral one found by a first socket, then bound again by the real one while the first
 * still holds it), so shutdown(SHUT_RD) stops listening but keeps the port bound: connects are
 * refused, no other process can take the port, and listen() later revives it in place.
 *
 * Sockets are CLOEXEC so the rbgw child never inherits them.
 */
#include "fake_fanout.h"
#include "itest.h"
#include "netio.h"

#include <arpa/inet.h>
#include <ctype.h>
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

#include <criterion/criterion.h>
#include <yajl/yajl_tree.h>

struct rule {
    char method[64];          /* "" = any */
    enum fake_fanout_act act; /* what to do */
    int left;                 /* requests it still applies to; < 0 forever */
};

struct conn {
    int fd;               /* socket, -1 once closed */
    unsigned index;       /* accept order */
    char *buf;            /* owned: bytes received and not yet parsed */
    size_t len;           /* bytes in buf */
    size_t cap;           /* allocated size of buf */
    bool waiting;         /* a request on it is stalled or held: nothing more is answered */
    bool held;            /* the waiting request is held (answered by release) */
    char held_method[64]; /* the held request's method */
    char held_name[256];  /* and name */
};

enum cmd {
    CMD_NONE,
    CMD_KILL,
    CMD_REVIVE,
    CMD_RELEASE,
    CMD_STOP,
};

struct fake_fanout {
    char name[32];                /* "alpha" */
    char content[16];             /* "192.0.2.<id>" */
    int lfd;                      /* the bound socket (listening while alive) */
    bool listening;               /* alive */
    uint16_t port;                /* bound port */
    int wake[2];                  /* self-pipe to the server thread */
    pthread_t thread;             /* the server loop */
    pthread_mutex_t mu;           /* guards everything below */
    pthread_cond_t cv;            /* broadcast on every change a test may wait for */
    struct rule *rules;           /* owned */
    size_t nrules;                /* entries in rules */
    struct fake_fanout_req *reqs; /* owned: recorded requests, arrival order */
    size_t nreqs;                 /* entries in reqs */
    size_t capreqs;               /* allocated entries */
    unsigned accepts;             /* connections accepted */
    unsigned closes;              /* connections closed */
    unsigned pending;             /* requests stalled or held on open connections */
    bool released;                /* HOLD answers at once */
    enum cmd cmd;                 /* posted command, CMD_NONE when done */
    int cmd_result;               /* its result (revive) */
    struct conn *conns;           /* owned: connections (server thread only) */
    size_t nconns;                /* entries in conns */
};

/* ---- small helpers ---- */

static void *
xrealloc(void *p, size_t n)
{
    void *r = realloc(p, n);
    if (!r) {
        abort();
    }
    return r;
}

static void
copy_str(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap) {
        len = cap - 1;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static int
hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode src[0..len) into dst (cap bytes, NUL-terminated, truncated). */
static void
pct_decode(char *dst, size_t cap, const char *src, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < cap; i++) {
        if (src[i] == '%' && i + 2 < len && hexval(src[i + 1]) >= 0 && hexval(src[i + 2]) >= 0) {
            dst[o++] = (char)(hexval(src[i + 1]) * 16 + hexval(src[i + 2]));
            i += 2;
        } else if (src[i] == '+') {
            dst[o++] = ' ';
        } else {
            dst[o++] = src[i];
        }
    }
    dst[o] = '\0';
}

/* ---- answers ---- */

static bool
is_record_method(const char *method)
{
    return strcmp(method, "lookup") == 0 || strcmp(method, "APILookup") == 0 ||
           strcmp(method, "list") == 0;
}

static void
respond(struct fake_fanout *s, int fd, enum fake_fanout_act act, const char *method,
        const char *name)
{
    char body[1024];
    if (act == FAKE_FANOUT_EMPTY) {
        snprintf(body, sizeof(body), "{\"result\": [], \"log\": [\"%s %s empty\"]}", s->name,
                 method);
    } else if (act == FAKE_FANOUT_FALSE) {
        snprintf(body, sizeof(body), "{\"result\": false, \"log\": [\"%s %s false\"]}", s->name,
                 method);
    } else if (is_record_method(method)) {
        snprintf(body, sizeof(body),
                 "{\"result\": [{\"qtype\": \"A\", \"qname\": \"%s\", \"content\": \"%s\", "
                 "\"ttl\": 60, \"auth\": true}], \"log\": [\"%s %s\"]}",
                 name[0] ? name : "unknown.", s->content, s->name, method);
    } else {
        snprintf(body, sizeof(body), "{\"result\": true, \"log\": [\"%s %s\"]}", s->name, method);
    }
    /* One write: a head and a body in two small writes would meet Nagle and delayed ACKs. */
    char msg[1400];
    int n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     strlen(body), body);
    rbgw_test_send_all(fd, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
}

/* ---- parsing ---- */

/* Value of header `name` in head[0..len), or NULL; *vlen gets its length. */
static const char *
header_value(const char *head, size_t len, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *end = head + len;
    const char *line = memchr(head, '\n', len);
    while (line && line + 1 < end) {
        line++;
        const char *eol = memchr(line, '\r', (size_t)(end - line));
        if (!eol || eol == line) {
            return NULL;
        }
        if ((size_t)(eol - line) > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
            const char *v = line + nl + 1;
            while (v < eol && *v == ' ') {
                v++;
            }
            *vlen = (size_t)(eol - v);
            return v;
        }
        line = memchr(line, '\n', (size_t)(end - line));
    }
    return NULL;
}

/* Path segment k (0 = the method) after "/dns/" of the request target, or false. */
static bool
segment(const char *target, size_t tlen, int k, const char **seg, size_t *slen)
{
    const char *p = target;
    const char *end = target + tlen;
    const char *q = memchr(p, '?', tlen);
    if (q) {
        end = q;
    }
    if ((size_t)(end - p) < 5 || memcmp(p, "/dns/", 5) != 0) {
        return false;
    }
    p += 5;
    for (int i = 0; p <= end; i++) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *e = slash ? slash : end;
        if (i == k) {
            *seg = p;
            *slen = (size_t)(e - p);
            return true;
        }
        if (!slash) {
            return false;
        }
        p = slash + 1;
    }
    return false;
}

/* rr[qname]=... from a form body. */
static void
form_field(const char *body, size_t blen, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    const char *p = body;
    const char *end = body + blen;
    out[0] = '\0';
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if ((size_t)(e - p) > kl && memcmp(p, key, kl) == 0 && p[kl] == '=') {
            pct_decode(out, cap, p + kl + 1, (size_t)(e - p - (ptrdiff_t)kl - 1));
            return;
        }
        p = e + 1;
    }
}

/* Parse one request from c->buf into *r; returns its size, 0 if incomplete. */
static size_t
parse_request(struct conn *c, struct fake_fanout_req *r)
{
    const char *end = rbgw_test_head_end(c->buf, c->len);
    if (!end) {
        return 0;
    }
    size_t head_len = (size_t)(end - c->buf) + 4;
    size_t vlen = 0;
    const char *cl = header_value(c->buf, head_len, "Content-Length", &vlen);
    size_t body_len = cl ? strtoul(cl, NULL, 10) : 0;
    if (c->len < head_len + body_len) {
        return 0;
    }
    memset(r, 0, sizeof(*r));
    r->conn = c->index;
    r->trxid = -1;
    const char *sp1 = memchr(c->buf, ' ', head_len);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', head_len - (size_t)(sp1 + 1 - c->buf)) : NULL;
    const char *seg;
    size_t slen;
    if (sp1 && sp2) {
        const char *target = sp1 + 1;
        size_t tlen = (size_t)(sp2 - target);
        if (segment(target, tlen, 0, &seg, &slen)) {
            copy_str(r->method, sizeof(r->method), seg, slen);
        }
        int k = 0;
        if (strcmp(r->method, "lookup") == 0 || strcmp(r->method, "APILookup") == 0 ||
            strcmp(r->method, "getDomainInfo") == 0) {
            k = 1;
        } else if (strcmp(r->method, "startTransaction") == 0 ||
                   strcmp(r->method, "replaceRRSet") == 0 || strcmp(r->method, "list") == 0) {
            k = 2;
        }
        if (k && segment(target, tlen, k, &seg, &slen)) {
            pct_decode(r->name, sizeof(r->name), seg, slen);
        }
    }
    if (strcmp(r->method, "feedRecord") == 0) {
        form_field(c->buf + head_len, body_len, "rr[qname]", r->name, sizeof(r->name));
    }
    const char *tx = header_value(c->buf, head_len, "X-RemoteBackend-Trxid", &vlen);
    if (tx) {
        r->trxid = strtoll(tx, NULL, 10);
    }
    return head_len + body_len;
}

/* ---- the server thread ---- */

/* Caller holds the mutex. */
static void
conn_close(struct fake_fanout *s, struct conn *c)
{
    if (c->fd < 0) {
        return;
    }
    close(c->fd);
    c->fd = -1;
    if (c->waiting) {
        s->pending--;
        c->waiting = c->held = false;
    }
    s->closes++;
    pthread_cond_broadcast(&s->cv);
}

/* Caller holds the mutex. */
static enum fake_fanout_act
pick_act(struct fake_fanout *s, const char *method)
{
    for (size_t i = 0; i < s->nrules; i++) {
        struct rule *ru = &s->rules[i];
        if (ru->left == 0 || (ru->method[0] && strcmp(ru->method, method) != 0)) {
            continue;
        }
        if (ru->left > 0) {
            ru->left--;
        }
        return ru->act;
    }
    return FAKE_FANOUT_ANSWER;
}

/* Caller holds the mutex. */
static void
serve_buffered(struct fake_fanout *s, struct conn *c)
{
    while (c->fd >= 0 && !c->waiting) {
        struct fake_fanout_req r;
        size_t used = parse_request(c, &r);
        if (used == 0) {
            return;
        }
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
        r.act = pick_act(s, r.method);
        if (r.act == FAKE_FANOUT_HOLD && s->released) {
            r.act = FAKE_FANOUT_ANSWER;
        }
        if (s->nreqs == s->capreqs) {
            s->capreqs = s->capreqs ? s->capreqs * 2 : 64;
            s->reqs = xrealloc(s->reqs, s->capreqs * sizeof(*s->reqs));
        }
        s->reqs[s->nreqs++] = r;
        switch (r.act) {
        case FAKE_FANOUT_ANSWER:
        case FAKE_FANOUT_EMPTY:
        case FAKE_FANOUT_FALSE:
            respond(s, c->fd, r.act, r.method, r.name);
            break;
        case FAKE_FANOUT_CLOSE:
            conn_close(s, c);
            break;
        case FAKE_FANOUT_STALL:
        case FAKE_FANOUT_HOLD:
            c->waiting = true;
            c->held = r.act == FAKE_FANOUT_HOLD;
            snprintf(c->held_method, sizeof(c->held_method), "%s", r.method);
            snprintf(c->held_name, sizeof(c->held_name), "%s", r.name);
            s->pending++;
            break;
        }
        pthread_cond_broadcast(&s->cv);
    }
}

static void
on_readable(struct fake_fanout *s, struct conn *c)
{
    ssize_t n = rbgw_test_recv_more(c->fd, &c->buf, &c->len, &c->cap);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    if (n <= 0) {
        conn_close(s, c);
    } else {
        serve_buffered(s, c);
    }
    pthread_mutex_unlock(&s->mu);
}

static void
on_accept(struct fake_fanout *s)
{
    int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    pthread_mutex_lock(&s->mu);
    s->conns = xrealloc(s->conns, (s->nconns + 1) * sizeof(*s->conns));
    struct conn *c = &s->conns[s->nconns++];
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->index = s->accepts++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Run the posted command.  Caller holds the mutex.  Returns false for CMD_STOP. */
static bool
run_cmd(struct fake_fanout *s)
{
    enum cmd cmd = s->cmd;
    s->cmd_result = 0;
    switch (cmd) {
    case CMD_NONE:
        return true;
    case CMD_KILL:
        if (s->listening) {
            shutdown(s->lfd, SHUT_RD); /* stops listening; the port stays bound */
            s->listening = false;
        }
        for (size_t i = 0; i < s->nconns; i++) {
            conn_close(s, &s->conns[i]);
        }
        break;
    case CMD_REVIVE:
        if (!s->listening) {
            if (listen(s->lfd, 64) == 0) {
                s->listening = true;
            } else {
                s->cmd_result = -errno;
            }
        }
        break;
    case CMD_RELEASE:
        s->released = true;
        for (size_t i = 0; i < s->nconns; i++) {
            struct conn *c = &s->conns[i];
            if (c->fd >= 0 && c->waiting && c->held) {
                respond(s, c->fd, FAKE_FANOUT_ANSWER, c->held_method, c->held_name);
                c->waiting = c->held = false;
                s->pending--;
                serve_buffered(s, c);
            }
        }
        break;
    case CMD_STOP:
        break;
    }
    s->cmd = CMD_NONE;
    pthread_cond_broadcast(&s->cv);
    return cmd != CMD_STOP;
}

static void *
server_main(void *arg)
{
    struct fake_fanout *s = arg;
    struct pollfd *pfds = NULL;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        size_t n = s->nconns;
        bool listening = s->listening;
        pthread_mutex_unlock(&s->mu);
        pfds = xrealloc(pfds, (n + 2) * sizeof(*pfds));
        pfds[0] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
        pfds[1] = (struct pollfd){.fd = listening ? s->lfd : -1, .events = POLLIN};
        for (size_t i = 0; i < n; i++) {
            pfds[i + 2] = (struct pollfd){.fd = s->conns[i].fd, .events = POLLIN};
        }
        int rc = poll(pfds, n + 2, -1);
        if (rc < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (pfds[0].revents) {
            char b[64];
            while (read(s->wake[0], b, sizeof(b)) < 0 && errno == EINTR) {
            }
            pthread_mutex_lock(&s->mu);
            bool go_on = run_cmd(s);
            pthread_mutex_unlock(&s->mu);
            if (!go_on) {
                break;
            }
            continue; /* the fd set may have changed */
        }
        for (size_t i = 0; i < n; i++) {
            if (pfds[i + 2].revents && s->conns[i].fd >= 0) {
                on_readable(s, &s->conns[i]);
            }
        }
        if (listening && pfds[1].revents) {
            on_accept(s);
        }
    }
    free(pfds);
    return NULL;
}

/* Post cmd and wait until the server thread has run it.  Returns its result. */
static int
post(struct fake_fanout *s, enum cmd cmd)
{
    pthread_mutex_lock(&s->mu);
    while (s->cmd != CMD_NONE) {
        pthread_cond_wait(&s->cv, &s->mu);
    }
    s->cmd = cmd;
    ssize_t w;
    do {
        w = write(s->wake[1], "x", 1);
    } while (w < 0 && errno == EINTR);
    while (s->cmd != CMD_NONE) {
        pthread_cond_wait(&s->cv, &s->mu);
    }
    int rc = s->cmd_result;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- responder API ---- */

/* A socket bound to an explicit, free port on 127.0.0.1 (see the design comment), or -1. */
static int
bind_explicit(uint16_t *port)
{
    int one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0) {
        return -1;
    }
    setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(probe, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(probe, (struct sockaddr *)&sa, &len) != 0) {
        close(probe);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            close(fd);
            fd = -1;
        }
    }
    close(probe);
    *port = ntohs(sa.sin_port);
    return fd;
}

struct fake_fanout *
fake_fanout_start(const char *name, int id)
{
    struct fake_fanout *s = calloc(1, sizeof(*s));
    if (!s) {
        return NULL;
    }
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(s->content, sizeof(s->content), "192.0.2.%d", id);
    s->wake[0] = s->wake[1] = -1;
    s->lfd = bind_explicit(&s->port);
    if (s->lfd < 0 || listen(s->lfd, 64) != 0 || pipe2(s->wake, O_CLOEXEC) != 0) {
        goto fail;
    }
    s->listening = true;
    pthread_mutex_init(&s->mu, NULL);
    rbgw_test_cond_init(&s->cv);
    if (pthread_create(&s->thread, NULL, server_main, s) != 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        goto fail;
    }
    return s;
fail:
    if (s->lfd >= 0) {
        close(s->lfd);
    }
    if (s->wake[0] >= 0) {
        close(s->wake[0]);
        close(s->wake[1]);
    }
    free(s);
    return NULL;
}

void
fake_fanout_stop(struct fake_fanout *s)
{
    if (!s) {
        return;
    }
    post(s, CMD_STOP);
    pthread_join(s->thread, NULL);
    for (size_t i = 0; i < s->nconns; i++) {
        if (s->conns[i].fd >= 0) {
            close(s->conns[i].fd);
        }
        free(s->conns[i].buf);
    }
    close(s->lfd);
    close(s->wake[0]);
    close(s->wake[1]);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->conns);
    free(s->reqs);
    free(s->rules);
    free(s);
}

uint16_t
fake_fanout_port(const struct fake_fanout *s)
{
    return s->port;
}

const char *
fake_fanout_name(const struct fake_fanout *s)
{
    return s->name;
}

const char *
fake_fanout_content(const struct fake_fanout *s)
{
    return s->content;
}

void
fake_fanout_rule(struct fake_fanout *s, const char *method, enum fake_fanout_act act, int times)
{
    pthread_mutex_lock(&s->mu);
    s->rules = xrealloc(s->rules, (s->nrules + 1) * sizeof(*s->rules));
    struct rule *ru = &s->rules[s->nrules++];
    snprintf(ru->method, sizeof(ru->method), "%s", method ? method : "");
    ru->act = act;
    ru->left = times;
    pthread_mutex_unlock(&s->mu);
}

void
fake_fanout_release(struct fake_fanout *s)
{
    post(s, CMD_RELEASE);
}

void
fake_fanout_kill(struct fake_fanout *s)
{
    post(s, CMD_KILL);
}

int
fake_fanout_revive(struct fake_fanout *s)
{
    return post(s, CMD_REVIVE);
}

size_t
fake_fanout_nreqs(struct fake_fanout *s)
{
    return fake_fanout_count(s, NULL);
}

size_t
fake_fanout_count(struct fake_fanout *s, const char *method)
{
    size_t n = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nreqs; i++) {
        n += !method || strcmp(s->reqs[i].method, method) == 0;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

bool
fake_fanout_req(struct fake_fanout *s, size_t i, struct fake_fanout_req *out)
{
    pthread_mutex_lock(&s->mu);
    bool ok = i < s->nreqs;
    if (ok) {
        *out = s->reqs[i];
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

bool
fake_fanout_conn_open(struct fake_fanout *s, unsigned conn)
{
    pthread_mutex_lock(&s->mu);
    /* conns[] is in accept order: the accept index is the position */
    bool open = conn < s->nconns && s->conns[conn].fd >= 0;
    pthread_mutex_unlock(&s->mu);
    return open;
}

unsigned
fake_fanout_accepts(struct fake_fanout *s)
{
    return rbgw_test_locked_get(&s->mu, &s->accepts);
}

unsigned
fake_fanout_closes(struct fake_fanout *s)
{
    return rbgw_test_locked_get(&s->mu, &s->closes);
}

unsigned
fake_fanout_pending(struct fake_fanout *s)
{
    return rbgw_test_locked_get(&s->mu, &s->pending);
}

enum what {
    W_REQS,
    W_ACCEPTS,
    W_CLOSES,
    W_PENDING,
};

static bool
wait_for(struct fake_fanout *s, enum what w, size_t n, int timeout_ms)
{
    struct timespec dl;
    rbgw_test_deadline(&dl, timeout_ms);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        size_t have = w == W_REQS      ? s->nreqs
                      : w == W_ACCEPTS ? s->accepts
                      : w == W_CLOSES  ? s->closes
                                       : s->pending;
        if (have >= n) {
            break;
        }
        if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) {
            pthread_mutex_unlock(&s->mu);
            return false;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return true;
}

bool
fake_fanout_wait_reqs(struct fake_fanout *s, size_t n, int timeout_ms)
{
    return wait_for(s, W_REQS, n, timeout_ms);
}

bool
fake_fanout_wait_accepts(struct fake_fanout *s, unsigned n, int timeout_ms)
{
    return wait_for(s, W_ACCEPTS, n, timeout_ms);
}

bool
fake_fanout_wait_closes(struct fake_fanout *s, unsigned n, int timeout_ms)
{
    return wait_for(s, W_CLOSES, n, timeout_ms);
}

bool
fake_fanout_wait_pending(struct fake_fanout *s, unsigned n, int timeout_ms)
{
    return wait_for(s, W_PENDING, n, timeout_ms);
}

/* ---- the harness ---- */

#define MAX_CLIENTS 8

static struct fake_fanout *up[FANOUT_MAX_UP];    /* responders of the current test */
static size_t nup;                               /* entries in up */
static char *dir;                                /* the test's directory, or NULL */
static struct rbgw_proc *gw;                     /* rbgw, or NULL */
static struct fake_json_client *cl[MAX_CLIENTS]; /* unix clients */
static size_t ncl;                               /* entries in cl */
static const char *const up_names[FANOUT_MAX_UP] = {"alpha", "bravo", "charlie"};

const char *
fanout_test_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *s = rbgw_test_vfmt(fmt, ap);
    va_end(ap);
    return s;
}

const char *
fanout_test_stderr(void)
{
    return gw ? rbgw_test_keep(rbgw_proc_stderr(gw, 6000)) : "(rbgw not started)";
}

void
fanout_test_responders(size_t n)
{
    cr_assert(n >= 1 && n <= FANOUT_MAX_UP);
    for (size_t i = 0; i < n; i++) {
        up[i] = fake_fanout_start(up_names[i], (int)i + 1);
        cr_assert_not_null(up[i], "cannot start responder %s: %s", up_names[i], strerror(errno));
        nup = i + 1;
    }
}

struct fake_fanout *
fanout_test_up(size_t i)
{
    cr_assert(i < nup, "responder %zu was not started", i);
    return up[i];
}

/* conf with {A} {B} {C} replaced by the responders' URLs. */
static char *
expand(const char *conf)
{
    size_t cap = strlen(conf) * 12 + 256; /* a 3-byte {X} becomes a URL of at most 33 */
    char *out = rbgw_test_keep(calloc(1, cap));
    size_t o = 0;
    for (const char *p = conf; *p;) {
        if (p[0] == '{' && p[1] >= 'A' && p[1] <= 'C' && p[2] == '}') {
            size_t i = (size_t)(p[1] - 'A');
            cr_assert(i < nup, "config names {%c} but only %zu responders run", p[1], nup);
            int n = snprintf(out + o, cap - o, "http://127.0.0.1:%u/dns",
                             (unsigned)fake_fanout_port(up[i]));
            o += (size_t)n;
            p += 3;
        } else {
            out[o++] = *p++;
        }
        cr_assert(o + 64 < cap);
    }
    out[o] = '\0';
    return out;
}

void
fanout_test_gw(const char *conf)
{
    dir = fake_json_mkdtemp();
    cr_assert_not_null(dir, "cannot create a test directory");
    const char *path = fanout_test_fmt("%s/rbgw.conf", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fprintf(f,
            "# written by tests/support/fake_fanout.c\nlisten=pipe\n"
            "listen+=unix:path=%s/gw.sock\nlog-level=debug\n%s\n",
            dir, expand(conf));
    fclose(f);
    const char *arg = fanout_test_fmt("--config=%s", path);
    const char *args[] = {arg, NULL};
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
    cr_assert(fake_json_gw_ready(gw, FANOUT_IO_MS),
              "rbgw did not answer the readiness initialize; config:\n%s\nrbgw stderr:\n%s",
              expand(conf), fanout_test_stderr());
}

const char *
fanout_test_call(const char *json)
{
    cr_assert_not_null(gw);
    return rbgw_test_call(gw, json);
}

struct fake_json_client *
fanout_test_client(void)
{
    cr_assert(ncl < MAX_CLIENTS);
    const char *sock = fanout_test_fmt("%s/gw.sock", dir);
    struct fake_json_client *c = fake_json_connect(sock);
    cr_assert_not_null(c, "cannot connect to %s: %s; rbgw stderr:\n%s", sock, strerror(errno),
                       fanout_test_stderr());
    cl[ncl++] = c;
    const char *reply = fanout_test_client_call(
        c, fanout_test_fmt("{\"method\": \"initialize\", \"parameters\": {\"path\": \"%s\", "
                           "\"timeout\": \"2000\"}}",
                           sock));
    cr_assert(fanout_reply_ok(reply), "initialize on the unix listener: %s", reply);
    return c;
}

void
fanout_test_send(struct fake_json_client *c, const char *json)
{
    rbgw_test_client_send(c, json);
}

const char *
fanout_test_read(struct fake_json_client *c)
{
    return rbgw_test_client_read(c, gw);
}

void
fanout_test_client_close(struct fake_json_client *c)
{
    for (size_t i = 0; i < ncl; i++) {
        if (cl[i] == c) {
            fake_json_client_free(c);
            cl[i] = cl[--ncl];
            return;
        }
    }
    cr_assert_fail("not a client of this test");
}

const char *
fanout_test_client_call(struct fake_json_client *c, const char *json)
{
    fanout_test_send(c, json);
    return fanout_test_read(c);
}

const char *
fanout_test_lookup(const char *qname)
{
    return fanout_test_fmt(
        "{\"method\": \"lookup\", \"parameters\": {\"local\": \"192.0.2.53\", \"qname\": \"%s\", "
        "\"qtype\": \"A\", \"real-remote\": \"198.51.100.0/24\", \"remote\": \"198.51.100.7\", "
        "\"zone-id\": -1}}",
        qname);
}

const char *
fanout_test_replace(const char *qname)
{
    return fanout_test_fmt(
        "{\"method\": \"replaceRRSet\", \"parameters\": {\"domain_id\": 3, \"qname\": \"%s\", "
        "\"qtype\": \"A\", \"rrset\": [{\"auth\": true, \"content\": \"192.0.2.99\", "
        "\"qname\": \"%s\", \"qtype\": \"A\", \"ttl\": 60}]}}",
        qname, qname);
}

const char *
fanout_test_start_trx(const char *domain, long long trxid)
{
    return fanout_test_fmt("{\"method\": \"startTransaction\", \"parameters\": {\"domain\": "
                           "\"%s\", \"domain_id\": 3, \"trxid\": %lld}}",
                           domain, trxid);
}

const char *
fanout_test_feed(const char *qname, long long trxid)
{
    return fanout_test_fmt(
        "{\"method\": \"feedRecord\", \"parameters\": {\"rr\": {\"auth\": true, \"content\": "
        "\"192.0.2.77\", \"qname\": \"%s\", \"qtype\": \"A\", \"ttl\": 60}, \"trxid\": %lld}}",
        qname, trxid);
}

const char *
fanout_test_commit(long long trxid)
{
    return fanout_test_fmt("{\"method\": \"commitTransaction\", \"parameters\": {\"trxid\": %lld}}",
                           trxid);
}

/* ---- replies ---- */

static yajl_val
parse(const char *line)
{
    char err[256] = "";
    yajl_val v = yajl_tree_parse(line, err, sizeof(err));
    cr_assert_not_null(v, "reply is not JSON (%s): <%s>", err, line);
    cr_assert(YAJL_IS_OBJECT(v), "reply is not a JSON object: <%s>", line);
    return v;
}

static yajl_val
member(yajl_val obj, const char *key)
{
    const char *path[] = {key, NULL};
    return yajl_tree_get(obj, path, yajl_t_any);
}

static yajl_val
result_of(const char *line, yajl_val *root)
{
    *root = parse(line);
    yajl_val r = member(*root, "result");
    cr_assert_not_null(r, "reply has no \"result\": <%s>", line);
    return r;
}

bool
fanout_reply_ok(const char *line)
{
    yajl_val root;
    yajl_val r = result_of(line, &root);
    bool ok = !YAJL_IS_FALSE(r);
    yajl_tree_free(root);
    return ok;
}

bool
fanout_reply_empty_array(const char *line)
{
    yajl_val root;
    yajl_val r = result_of(line, &root);
    bool empty = YAJL_IS_ARRAY(r) && r->u.array.len == 0;
    yajl_tree_free(root);
    return empty;
}

size_t
fanout_reply_contents(const char *line, const char **out, size_t max)
{
    yajl_val root;
    yajl_val r = result_of(line, &root);
    size_t n = 0;
    if (YAJL_IS_ARRAY(r)) {
        for (size_t i = 0; i < r->u.array.len && n < max; i++) {
            yajl_val c = member(r->u.array.values[i], "content");
            out[n++] =
                rbgw_test_keep(strdup(YAJL_IS_STRING(c) ? YAJL_GET_STRING(c) : "(no content)"));
        }
    }
    yajl_tree_free(root);
    return n;
}

size_t
fanout_reply_logs(const char *line, const char **out, size_t max)
{
    yajl_val root = parse(line);
    yajl_val l = member(root, "log");
    size_t n = 0;
    if (YAJL_IS_ARRAY(l)) {
        for (size_t i = 0; i < l->u.array.len && n < max; i++) {
            yajl_val s = l->u.array.values[i];
            out[n++] =
                rbgw_test_keep(strdup(YAJL_IS_STRING(s) ? YAJL_GET_STRING(s) : "(not a string)"));
        }
    }
    yajl_tree_free(root);
    return n;
}

size_t
fanout_reply_from(const char *line)
{
    const char *c[4];
    size_t n = fanout_reply_contents(line, c, 4);
    cr_assert_eq(n, 1, "expected exactly one record from one responder, got %zu: <%s>", n, line);
    for (size_t i = 0; i < nup; i++) {
        if (strcmp(c[0], fake_fanout_content(up[i])) == 0) {
            return i;
        }
    }
    cr_assert_fail("the record's content %s is no responder's: <%s>", c[0], line);
    return 0;
}

void
fanout_test_teardown(void)
{
    rbgw_proc_free(gw);
    gw = NULL;
    for (size_t i = 0; i < ncl; i++) {
        fake_json_client_free(cl[i]);
        cl[i] = NULL;
    }
    ncl = 0;
    for (size_t i = 0; i < nup; i++) {
        fake_fanout_stop(up[i]);
        up[i] = NULL;
    }
    nup = 0;
    fake_json_rmtree(dir);
    free(dir);
    dir = NULL;
    rbgw_test_release();
}

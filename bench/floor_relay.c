/*
 * floor_relay.c: the cheapest unix-socket relay we know how to write, as a benchmark floor.
 *
 * What: one process, one thread, one level-triggered epoll set, no libraries.  It listens on
 * a unix socket (--listen=PATH); for every accepted client it opens one connection to the
 * upstream unix socket (--upstream=PATH) and then copies bytes both ways: read() into a stack
 * buffer, write() the same bytes straight out.  No parsing, no framing, no timers, no logs on
 * stdout (errors go to stderr).  When either side closes or fails, both are closed.
 *
 * Why: rbgw has a per-call budget on the unix->unix path (docs/performance.md).  On a small VM most
 * of a relayed call is kernel work (two extra context switches, socket wake-ups) that ANY relay
 * process pays, however little it does.  This program measures that floor: its added p50 and
 * CPU per call are what a gateway costs before it does any work of its own.
 *
 * Steady state per relayed message, one call in flight: epoll_wait + read + write, i.e. six
 * system calls per request/reply round trip, and no epoll_ctl.  Level-triggered epoll is what
 * makes one read per wake-up enough (edge-triggered would need a second read to see EAGAIN);
 * a read that fills the buffer simply leaves the rest for the next epoll_wait.  Only when a
 * write is short (the receiver's socket buffer is full) does the relay copy the remainder
 * into a heap buffer, stop reading from the sending side and wait for EPOLLOUT: epoll_ctl is
 * called only then, and again when the backlog has drained.
 *
 * --upstream-http=HOST:PORT makes it the floor of the unix->HTTP path instead: the upstream
 * is a TCP connection (TCP_NODELAY, as rbgw sets it) to an HTTP responder, every read from the
 * client is answered upstream with one fixed request (the REST lookup of www.example.com./A,
 * as rbgw translates the loadgen's call), and every read from the responder is passed back as
 * its body plus "\n" (the bytes after the first blank line; one write, no copy).  Each read is
 * taken as one whole message, which holds for these small messages with one call in flight
 * per connection.  It does what any unix-to-HTTP bridge must do in the kernel (a loopback TCP
 * exchange per call) and nothing a real one does in user space (no parsing, no translation):
 * rbgw's unix->HTTP CPU per call is measured against it.
 *
 * --stdio makes it the floor of a pipe co-process instead (pdns's pipe connector starts it as
 * its command): the client side is stdin (read) and stdout (written, blocking), there is no
 * listening socket, the one pair is made at start, and the process exits when either side
 * closes.  A blocking stdout never leaves a backlog: pdns reads every reply in full before it
 * writes the next call.
 *
 * --sleep-timeout=MS makes every epoll_wait a timed one (as in an event loop with a timer
 * active, whatever its due time): what a timed sleep costs the kernel, measured by itself.
 *
 * Ownership: a struct pair (both fds, both backlogs) is malloc'ed on accept.  Closing a pair
 * closes its fds at once but frees it only after the current epoll_wait batch, since later
 * events of the same batch may still point at it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define BUF_SIZE 65536
#define MAX_EVENTS 64

struct pair;

/* One socket of a pair; `out` holds bytes read from the OTHER side that this fd has not
 * accepted yet (empty except under backpressure). */
struct side {
    int fd;          /* read from, and registered with epoll */
    int wfd;         /* written to: fd, except stdout for --stdio's client side */
    unsigned events; /* the mask currently registered with epoll */
    char *out;       /* malloc'ed backlog (BUF_SIZE), or NULL */
    size_t out_off;  /* first unwritten byte in out */
    size_t out_len;  /* bytes in out */
    struct pair *pair;
};

struct pair {
    struct side s[2]; /* 0: the client, 1: the upstream */
    bool closed;
    struct pair *next_dead;
};

static int epfd = -1;
static struct pair *dead; /* closed pairs, freed after the current batch */
static bool http_mode;    /* --upstream-http: canned request out, body back */
static bool stdio_mode;   /* --stdio: the client is stdin/stdout, one pair, exit when it ends */
static int sleep_timeout = -1; /* --sleep-timeout: epoll_wait's timeout (-1: none) */
static char http_req[512];     /* the canned request (http_mode) */
static size_t http_req_len;

static void
usage(void)
{
    fprintf(stderr, "usage: rbgw_floor_relay (--listen=PATH | --stdio) (--upstream=PATH | "
                    "--upstream-http=IPV4:PORT) [--sleep-timeout=MS]\n");
    exit(2);
}

static int
unix_addr(const char *path, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path)) {
        fprintf(stderr, "floor_relay: socket path too long: %s\n", path);
        return -1;
    }
    memcpy(sa->sun_path, path, strlen(path) + 1);
    return 0;
}

static void
pair_close(struct pair *p)
{
    if (p->closed) {
        return;
    }
    p->closed = true;
    if (stdio_mode) {
        exit(0); /* pdns closed the pipe (or the upstream went away): the co-process ends */
    }
    for (int i = 0; i < 2; i++) {
        close(p->s[i].fd); /* also removes it from the epoll set */
        free(p->s[i].out);
    }
    p->next_dead = dead;
    dead = p;
}

/* Register the mask a side needs now: EPOLLIN unless the other side has a backlog (stop
 * reading what it cannot take), EPOLLOUT while this side has a backlog. */
static int
side_update(struct side *sd)
{
    struct side *other = &sd->pair->s[sd == &sd->pair->s[0] ? 1 : 0];
    unsigned want =
        (other->out_len > 0 ? 0u : (unsigned)EPOLLIN) | (sd->out_len > 0 ? (unsigned)EPOLLOUT : 0u);
    if (want == sd->events) {
        return 0;
    }
    struct epoll_event ev = {.events = want, .data.ptr = sd};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, sd->fd, &ev) < 0) {
        perror("floor_relay: epoll_ctl");
        return -1;
    }
    sd->events = want;
    return 0;
}

/* Write n bytes to dst; keep what it does not take in dst's backlog.  -1: close the pair. */
static int
relay_out(struct side *dst, const char *data, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(dst->wfd, data + done, n - done);
        if (w > 0) {
            done += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            return -1;
        }
    }
    if (done == n) {
        return 0;
    }
    if (dst->out == NULL && (dst->out = malloc(BUF_SIZE)) == NULL) {
        perror("floor_relay: malloc");
        return -1;
    }
    memcpy(dst->out, data + done, n - done); /* n <= BUF_SIZE and the backlog was empty */
    dst->out_off = 0;
    dst->out_len = n - done;
    struct side *src = &dst->pair->s[dst == &dst->pair->s[0] ? 1 : 0];
    if (side_update(dst) < 0 || side_update(src) < 0) {
        return -1;
    }
    return 0;
}

/* EPOLLOUT on a side with a backlog: drain it; once empty, resume reading the other side. */
static int
drain(struct side *sd)
{
    while (sd->out_len > 0) {
        ssize_t w = write(sd->wfd, sd->out + sd->out_off, sd->out_len);
        if (w > 0) {
            sd->out_off += (size_t)w;
            sd->out_len -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        } else {
            return -1;
        }
    }
    struct side *other = &sd->pair->s[sd == &sd->pair->s[0] ? 1 : 0];
    if (side_update(sd) < 0 || side_update(other) < 0) {
        return -1;
    }
    return 0;
}

static void
on_event(struct side *sd, unsigned events)
{
    struct pair *p = sd->pair;
    if (p->closed) {
        return;
    }
    struct side *other = &p->s[sd == &p->s[0] ? 1 : 0];
    if ((events & EPOLLOUT) && drain(sd) < 0) {
        pair_close(p);
        return;
    }
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && (sd->events & EPOLLIN)) {
        char buf[BUF_SIZE + 1];
        ssize_t n = read(sd->fd, buf, BUF_SIZE);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            return;
        }
        if (n <= 0) {
            pair_close(p);
            return;
        }
        const char *out = buf;
        size_t len = (size_t)n;
        if (http_mode && sd == &p->s[0]) {
            out = http_req; /* any call: the one canned request */
            len = http_req_len;
        } else if (http_mode) {
            const char *body = memmem(buf, len, "\r\n\r\n", 4);
            if (body == NULL) {
                pair_close(p);
                return;
            }
            body += 4;
            buf[n] = '\n'; /* the line protocol's end of reply, in the spare byte */
            len = (size_t)(buf + n + 1 - body);
            out = body;
        }
        if (relay_out(other, out, len) < 0) {
            pair_close(p);
        }
        return;
    }
    if (events & (EPOLLHUP | EPOLLERR)) {
        pair_close(p); /* not reading this side now, but it is gone */
    }
}

static int
add_side(struct pair *p, int i, int fd)
{
    p->s[i].fd = fd;
    p->s[i].events = EPOLLIN;
    p->s[i].pair = p;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &p->s[i]};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        perror("floor_relay: epoll_ctl");
        return -1;
    }
    return 0;
}

/* A blocking connect to the upstream: a loopback connect completes at once, and connection
 * set-up is not what this program measures. */
static int
connect_upstream(const struct sockaddr_un *up, const struct sockaddr_in *tcp)
{
    int fd;
    if (http_mode) {
        int one = 1;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && (connect(fd, (const struct sockaddr *)tcp, sizeof(*tcp)) < 0 ||
                        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)) {
            close(fd);
            fd = -1;
        }
    } else {
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (const struct sockaddr *)up, sizeof(*up)) < 0) {
            close(fd);
            fd = -1;
        }
    }
    return fd;
}

/* Connect the upstream (non-blocking once connected) and pair it with a client whose reads
 * come from cfd and whose writes go to cwfd.  -1 when it fails (cfd is left open). */
static int
make_pair(int cfd, int cwfd, const struct sockaddr_un *up, const struct sockaddr_in *tcp)
{
    int ufd = connect_upstream(up, tcp);
    if (ufd < 0) {
        perror("floor_relay: upstream connect");
        return -1;
    }
    int fl = fcntl(ufd, F_GETFL);
    if (fl < 0 || fcntl(ufd, F_SETFL, fl | O_NONBLOCK) < 0) {
        perror("floor_relay: fcntl");
        close(ufd);
        return -1;
    }
    struct pair *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        perror("floor_relay: calloc");
        close(ufd);
        return -1;
    }
    p->s[0].fd = cfd;
    p->s[0].wfd = cwfd;
    p->s[1].fd = ufd;
    p->s[1].wfd = ufd; /* the upstream socket is read and written */
    if (add_side(p, 0, cfd) < 0 || add_side(p, 1, ufd) < 0) {
        pair_close(p);
    }
    return 0;
}

static void
on_accept(int lfd, const struct sockaddr_un *up, const struct sockaddr_in *tcp)
{
    for (;;) {
        int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED) {
                perror("floor_relay: accept4");
            }
            return;
        }
        if (make_pair(cfd, cfd, up, tcp) < 0) {
            close(cfd);
        }
    }
}

int
main(int argc, char **argv)
{
    const char *listen_path = NULL;
    const char *up_path = NULL;
    const char *up_http = NULL;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--listen=", 9) == 0) {
            listen_path = argv[i] + 9;
        } else if (strncmp(argv[i], "--sleep-timeout=", 16) == 0) {
            sleep_timeout = atoi(argv[i] + 16);
        } else if (strcmp(argv[i], "--stdio") == 0) {
            stdio_mode = true;
        } else if (strncmp(argv[i], "--upstream=", 11) == 0) {
            up_path = argv[i] + 11;
        } else if (strncmp(argv[i], "--upstream-http=", 16) == 0) {
            up_http = argv[i] + 16;
        } else {
            usage();
        }
    }
    if ((listen_path == NULL || *listen_path == '\0') == !stdio_mode ||
        (up_path == NULL) == (up_http == NULL)) {
        usage();
    }
    struct sockaddr_un la, ua;
    struct sockaddr_in ta;
    memset(&ua, 0, sizeof(ua));
    memset(&ta, 0, sizeof(ta));
    if ((listen_path != NULL && unix_addr(listen_path, &la) < 0) ||
        (up_path != NULL && unix_addr(up_path, &ua) < 0)) {
        return 2;
    }
    if (up_http != NULL) {
        char host[64];
        const char *colon = strrchr(up_http, ':');
        if (colon == NULL || (size_t)(colon - up_http) >= sizeof(host)) {
            usage();
        }
        memcpy(host, up_http, (size_t)(colon - up_http));
        host[colon - up_http] = '\0';
        ta.sin_family = AF_INET;
        ta.sin_port = htons((unsigned short)atoi(colon + 1));
        if (inet_pton(AF_INET, host, &ta.sin_addr) != 1) {
            usage();
        }
        http_mode = true;
        int n = snprintf(http_req, sizeof(http_req),
                         "GET /dns/lookup/www%%2eexample%%2ecom%%2e/A HTTP/1.1\r\n"
                         "Accept: application/json\r\nConnection: Keep-Alive\r\nHost: %s\r\n"
                         "User-Agent: rbgw\r\nX-Remotebackend-Local: 0.0.0.0\r\n"
                         "X-Remotebackend-Real-Remote: 0.0.0.0/0\r\n"
                         "X-Remotebackend-Remote: 0.0.0.0\r\nX-Remotebackend-Zone-Id: -1\r\n\r\n",
                         up_http);
        http_req_len = (size_t)n;
    }
    signal(SIGPIPE, SIG_IGN); /* a write to a closed peer fails with EPIPE instead */

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        perror("floor_relay: epoll");
        return 1;
    }
    int lfd = -1;
    if (stdio_mode) {
        /* stdin non-blocking for the level-triggered loop; stdout stays blocking. */
        int fl = fcntl(0, F_GETFL);
        if (fl < 0 || fcntl(0, F_SETFL, fl | O_NONBLOCK) < 0 || make_pair(0, 1, &ua, &ta) < 0) {
            perror("floor_relay: stdio");
            return 1;
        }
    } else {
        struct stat st;
        if (lstat(listen_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
            unlink(listen_path); /* a stale socket from an earlier run */
        }
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
        if (lfd < 0 || bind(lfd, (const struct sockaddr *)&la, sizeof(la)) < 0 ||
            listen(lfd, 128) < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0) {
            perror("floor_relay: listen socket");
            return 1;
        }
    }

    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(epfd, evs, MAX_EVENTS, sleep_timeout);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("floor_relay: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                on_accept(lfd, &ua, &ta);
            } else {
                on_event(evs[i].data.ptr, evs[i].events);
            }
        }
        while (dead != NULL) {
            struct pair *p = dead;
            dead = p->next_dead;
            free(p);
        }
    }
}

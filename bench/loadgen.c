/*
 * loadgen.c: call-level latency of a PowerDNS remote-backend responder, measured the way pdns
 * uses one.
 *
 * What: N connections (default 1), each with exactly ONE request in flight (pdns's connectors
 * are strictly synchronous, docs/protocol.md §1.6), driven by one epoll loop.  Every call is timed
 * from just before its request is written to the moment the complete reply has been read.
 *
 *   --mode=http   keep-alive TCP to --url, the REST lookup pdns sends (§5.2-§5.3), byte for byte
 *                 as yahttp writes it (headers in alphabetical order, X-Remotebackend-*).
 *   --mode=pipe   spawns the command after `--` once per connection with pipes on its stdin and
 *                 stdout, sends `initialize` first (as pdns does, §4.1, not timed), then one
 *                 compact-JSON lookup line per call in pdns's own serialization (§1.1), and reads
 *                 one reply line.
 *   --mode=unix   the same line protocol over a unix socket (--path), as pdns's unix connector:
 *                 `initialize` first on each new connection, then lookups.
 *
 * The run is bounded: --count calls in total, or --duration seconds after the warm-up; a call
 * that takes longer than --timeout-ms ends the run with an error.
 *
 * For memory measurements (bench/rss_idle.sh), --idle makes every pipe/unix connection send
 * only its `initialize` (no lookup) and every http connection exactly one untimed lookup (as
 * pdns's after its first query); --hold=S keeps the connections open for S seconds (or until
 * SIGTERM/SIGINT) after the summary line has been printed and flushed, so that a script can
 * read the server's memory while they are idle.  It prints one summary line
 * of key=value pairs on stdout (calls/s and p50/p90/p99/p99.9/max latency in µs) for scripts,
 * and exits 0 only if every call, warm-up included, got a successful reply (`result` present
 * and neither false nor null); errors= counts the failed timed calls.
 *
 * Why like this: the question the benchmarks ask is "how much latency does one more hop add
 * to a pdns backend call", so the generator must behave like pdns (no pipelining, one call
 * per connection) and keep every sample (a sorted array of nanosecond latencies; even a
 * 60 s run at 100k calls/s is only 24 MB) instead of an approximate histogram.
 *
 * Ownership: struct lconn array allocated once in main(); children reaped in stop_children().
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- small helpers ----------------------------------------------------------------------- */

struct buf {
    char *p;    /* owned storage */
    size_t len; /* bytes in use */
    size_t cap; /* allocated size */
};

static void
buf_reserve(struct buf *b, size_t extra)
{
    if (b->len + extra <= b->cap) {
        return;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) {
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        perror("loadgen: realloc");
        exit(1);
    }
    b->p = p;
    b->cap = cap;
}

static void
buf_add(struct buf *b, const char *s, size_t n)
{
    buf_reserve(b, n + 1);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
buf_adds(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void
buf_consume(struct buf *b, size_t n)
{
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* pdns's REST encoding (docs/protocol.md §5.1): every byte but [A-Za-z0-9] as lowercase %xx. */
static void
url_encode(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) {
            buf_add(b, (const char *)&ch, 1);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            buf_add(b, e, 3);
        }
    }
}

/* JSON string body as pdns's json11 writes it (§1.1): only the short escapes plus \u00XX. */
static void
json_escape(struct buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        char e[8];
        switch (ch) {
        case '"':
            buf_adds(b, "\\\"");
            break;
        case '\\':
            buf_adds(b, "\\\\");
            break;
        case '\n':
            buf_adds(b, "\\n");
            break;
        case '\t':
            buf_adds(b, "\\t");
            break;
        case '\r':
            buf_adds(b, "\\r");
            break;
        default:
            if (ch < 0x20) {
                snprintf(e, sizeof(e), "\\u%04x", ch);
                buf_adds(b, e);
            } else {
                buf_add(b, (const char *)&ch, 1);
            }
        }
    }
}

/* ---- options ----------------------------------------------------------------------------- */

enum mode {
    MODE_HTTP, /* REST over keep-alive TCP */
    MODE_PIPE, /* line protocol over a child's stdin/stdout */
    MODE_UNIX, /* line protocol over a unix socket (pdns's unix connector) */
};

static const char *const mode_names[] = {"http", "pipe", "unix"};

static struct {
    enum mode mode;    /* --mode */
    const char *url;   /* --url (http) */
    const char *path;  /* --path (unix) */
    int conns;         /* -c / --conns */
    double duration;   /* -d / --duration, seconds after warm-up; 0 = use count */
    uint64_t count;    /* -n / --count, timed calls in total; 0 = use duration */
    uint64_t warmup;   /* --warmup, untimed calls before measuring */
    const char *qname; /* --qname */
    const char *qtype; /* --qtype */
    int timeout_ms;    /* --timeout-ms, per call */
    const char *label; /* --label, echoed in the summary */
    bool idle;         /* --idle: initialize only (pipe, unix) or one lookup (http) */
    double hold;       /* --hold, seconds to keep the connections open after the summary */
    char **cmd;        /* argv after "--" (pipe) */
} opt = {
    .mode = MODE_HTTP,
    .url = "http://127.0.0.1:18200/dns",
    .conns = 1,
    .warmup = 2000,
    .qname = "www.example.com.",
    .qtype = "A",
    .timeout_ms = 2000,
    .label = "-",
};

static void
usage(FILE *f)
{
    fprintf(f, "usage: rbgw_loadgen --mode=http [--url=http://127.0.0.1:PORT/dns] [options]\n"
               "       rbgw_loadgen --mode=pipe [options] -- COMMAND [ARGS...]\n"
               "       rbgw_loadgen --mode=unix --path=SOCKET [options]\n"
               "options:\n"
               "  -c, --conns=N       connections / child processes, one call in flight each (1)\n"
               "  -d, --duration=S    measure for S seconds after the warm-up (default 5)\n"
               "  -n, --count=N       measure exactly N calls instead of a duration\n"
               "  --warmup=N          untimed calls first (2000)\n"
               "  --qname=NAME        lookup qname (www.example.com.)\n"
               "  --qtype=TYPE        lookup qtype (A)\n"
               "  --timeout-ms=MS     a call slower than this aborts the run (2000)\n"
               "  --label=TEXT        echoed as label= in the summary line\n"
               "  --idle              pipe/unix: send initialize only, no lookups;\n"
               "                      http: one untimed lookup per connection\n"
               "  --hold=S            keep the connections open S seconds after the summary\n"
               "                      (SIGTERM/SIGINT end the hold early)\n"
               "output: one line on stdout, latencies in microseconds:\n"
               "  label= mode= conns= calls= errors= secs= calls_per_s= p50_us= p90_us= p99_us= "
               "p999_us= max_us= mean_us=\n");
}

static bool
opt_value(const char *arg, const char *lng, const char *shrt, int *i, int argc, char **argv,
          const char **val)
{
    size_t n = strlen(lng);
    if (strncmp(arg, lng, n) == 0 && arg[n] == '=') {
        *val = arg + n + 1;
        return true;
    }
    if ((strcmp(arg, lng) == 0 || (shrt != NULL && strcmp(arg, shrt) == 0)) && *i + 1 < argc) {
        *val = argv[++*i];
        return true;
    }
    return false;
}

static int
parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        if (strcmp(a, "--") == 0) {
            if (i + 1 < argc) {
                opt.cmd = &argv[i + 1];
            }
            break;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (opt_value(a, "--mode", NULL, &i, argc, argv, &v)) {
            if (strcmp(v, "http") == 0) {
                opt.mode = MODE_HTTP;
            } else if (strcmp(v, "pipe") == 0) {
                opt.mode = MODE_PIPE;
            } else if (strcmp(v, "unix") == 0) {
                opt.mode = MODE_UNIX;
            } else {
                fprintf(stderr, "loadgen: --mode must be http, pipe or unix\n");
                return -1;
            }
        } else if (opt_value(a, "--url", NULL, &i, argc, argv, &v)) {
            opt.url = v;
        } else if (opt_value(a, "--path", NULL, &i, argc, argv, &v)) {
            opt.path = v;
        } else if (opt_value(a, "--conns", "-c", &i, argc, argv, &v)) {
            opt.conns = atoi(v);
        } else if (opt_value(a, "--duration", "-d", &i, argc, argv, &v)) {
            opt.duration = atof(v);
        } else if (opt_value(a, "--count", "-n", &i, argc, argv, &v)) {
            opt.count = strtoull(v, NULL, 10);
        } else if (opt_value(a, "--warmup", NULL, &i, argc, argv, &v)) {
            opt.warmup = strtoull(v, NULL, 10);
        } else if (opt_value(a, "--qname", NULL, &i, argc, argv, &v)) {
            opt.qname = v;
        } else if (opt_value(a, "--qtype", NULL, &i, argc, argv, &v)) {
            opt.qtype = v;
        } else if (opt_value(a, "--timeout-ms", NULL, &i, argc, argv, &v)) {
            opt.timeout_ms = atoi(v);
        } else if (opt_value(a, "--label", NULL, &i, argc, argv, &v)) {
            opt.label = v;
        } else if (strcmp(a, "--idle") == 0) {
            opt.idle = true;
        } else if (opt_value(a, "--hold", NULL, &i, argc, argv, &v)) {
            opt.hold = atof(v);
        } else {
            fprintf(stderr, "loadgen: unknown argument '%s'\n", a);
            usage(stderr);
            return -1;
        }
    }
    if (opt.conns < 1 || opt.conns > 4096 || opt.timeout_ms < 1 || opt.timeout_ms > 60000) {
        fprintf(stderr, "loadgen: need 1 <= conns <= 4096 and 1 <= timeout-ms <= 60000\n");
        return -1;
    }
    if (opt.count == 0 && opt.duration <= 0) {
        opt.duration = 5;
    }
    if (opt.hold < 0 || opt.hold > 3600) {
        fprintf(stderr, "loadgen: need 0 <= hold <= 3600\n");
        return -1;
    }
    if (opt.mode == MODE_PIPE && opt.cmd == NULL) {
        fprintf(stderr, "loadgen: --mode=pipe needs a command after --\n");
        return -1;
    }
    if (opt.mode == MODE_UNIX &&
        (opt.path == NULL || strlen(opt.path) >= sizeof(((struct sockaddr_un *)0)->sun_path))) {
        fprintf(stderr, "loadgen: --mode=unix needs --path=SOCKET (under 108 bytes)\n");
        return -1;
    }
    return 0;
}

/* ---- connections ------------------------------------------------------------------------- */

enum phase {
    PHASE_INIT, /* pipe/unix: waiting for the initialize reply; http --idle: the one lookup's */
    PHASE_CALL, /* a lookup is in flight */
    PHASE_IDLE, /* nothing in flight; the run is ending */
};

struct lconn {
    int rfd;          /* socket, or the child's stdout (read end) */
    int wfd;          /* socket, or the child's stdin (write end) */
    pid_t pid;        /* pipe child, 0 for http */
    enum phase phase; /* what the bytes in `in` answer */
    uint64_t t_sent;  /* ns, when the in-flight request was written */
    bool timed;       /* the in-flight call was issued after the warm-up */
    struct buf in;    /* reply bytes read so far */
};

static struct lconn *conns;
static struct buf request;  /* the lookup bytes, identical for every call */
static struct buf init_req; /* pipe/unix: the initialize line; http --idle: the lookup */
static int epfd;

static uint32_t *samples; /* latency in ns per timed call */
static size_t nsamples, samples_cap;
static uint64_t nwarm;     /* warm-up calls completed */
static uint64_t nissued;   /* timed calls issued (count mode) */
static uint64_t nerrors;   /* timed replies that were not successful */
static uint64_t nwarmerr;  /* warm-up replies that were not successful */
static uint64_t t_measure; /* ns, end of warm-up */
static uint64_t t_last;    /* ns, last timed completion */
static bool measuring;

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static int
parse_url(const char *url, struct sockaddr_in *sa, struct buf *path)
{
    const char *p = url;
    if (strncmp(p, "http://", 7) != 0) {
        return -1;
    }
    p += 7;
    const char *slash = strchr(p, '/');
    size_t hl = slash != NULL ? (size_t)(slash - p) : strlen(p);
    char host[128];
    if (hl == 0 || hl >= sizeof(host)) {
        return -1;
    }
    memcpy(host, p, hl);
    host[hl] = '\0';
    int port = 80;
    char *colon = strrchr(host, ':');
    if (colon != NULL) {
        *colon = '\0';
        port = atoi(colon + 1);
    }
    if (strcmp(host, "localhost") == 0) {
        strcpy(host, "127.0.0.1");
    }
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
        return -1;
    }
    if (slash != NULL) {
        size_t pl = strlen(slash);
        while (pl > 0 && slash[pl - 1] == '/') {
            pl--;
        }
        buf_add(path, slash, pl);
    }
    return 0;
}

static void
build_requests(struct sockaddr_in *sa)
{
    if (opt.mode == MODE_HTTP) {
        struct buf path = {0};
        if (parse_url(opt.url, sa, &path) < 0) {
            die("bad --url '%s' (want http://IPv4:PORT/path)", opt.url);
        }
        char host[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &sa->sin_addr, host, sizeof(host));
        buf_adds(&request, "GET ");
        if (path.len > 0) {
            buf_add(&request, path.p, path.len);
        }
        buf_adds(&request, "/lookup/");
        url_encode(&request, opt.qname);
        buf_adds(&request, "/");
        url_encode(&request, opt.qtype);
        buf_adds(&request, " HTTP/1.1\r\nAccept: application/json\r\nConnection: Keep-Alive\r\n"
                           "Host: ");
        buf_adds(&request, host);
        buf_adds(&request, "\r\nUser-Agent: YaHTTP v1.0\r\n"
                           "X-Remotebackend-Local: 0.0.0.0\r\n"
                           "X-Remotebackend-Real-Remote: 0.0.0.0/0\r\n"
                           "X-Remotebackend-Remote: 0.0.0.0\r\n"
                           "X-Remotebackend-Zone-Id: -1\r\n\r\n");
        free(path.p);
        if (opt.idle) {
            buf_add(&init_req, request.p, request.len); /* the one call, sent like initialize */
        }
        return;
    }
    buf_adds(&request, "{\"method\": \"lookup\", \"parameters\": {\"local\": \"0.0.0.0\", "
                       "\"qname\": \"");
    json_escape(&request, opt.qname);
    buf_adds(&request, "\", \"qtype\": \"");
    json_escape(&request, opt.qtype);
    buf_adds(&request, "\", \"real-remote\": \"0.0.0.0/0\", \"remote\": \"0.0.0.0\", "
                       "\"zone-id\": -1}}\n");

    /* initialize carries the connection-string options as strings (§3.1). */
    if (opt.mode == MODE_UNIX) {
        buf_adds(&init_req, "{\"method\": \"initialize\", \"parameters\": {\"path\": \"");
        json_escape(&init_req, opt.path);
        buf_adds(&init_req, "\", \"timeout\": \"2000\"}}\n");
        return;
    }
    buf_adds(&init_req, "{\"method\": \"initialize\", \"parameters\": {\"command\": \"");
    for (char **a = opt.cmd; *a != NULL; a++) {
        if (a != opt.cmd) {
            buf_adds(&init_req, " ");
        }
        json_escape(&init_req, *a);
    }
    buf_adds(&init_req, "\", \"timeout\": \"2000\"}}\n");
}

static void
set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void
open_conn(struct lconn *c, const struct sockaddr_in *sa)
{
    if (opt.mode == MODE_HTTP) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
            die("connect %s: refused or unreachable", opt.url);
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        set_nonblock(fd);
        c->rfd = c->wfd = fd;
        c->phase = opt.idle ? PHASE_INIT : PHASE_IDLE;
    } else if (opt.mode == MODE_UNIX) {
        struct sockaddr_un su = {.sun_family = AF_UNIX};
        strcpy(su.sun_path, opt.path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(fd, (const struct sockaddr *)&su, sizeof(su)) < 0) {
            die("connect %s: %s", opt.path, strerror(errno));
        }
        set_nonblock(fd);
        c->rfd = c->wfd = fd;
        c->phase = PHASE_INIT; /* pdns sends initialize on every new unix connection */
    } else {
        int to_child[2], from_child[2];
        if (pipe2(to_child, O_CLOEXEC) < 0 || pipe2(from_child, O_CLOEXEC) < 0) {
            die("pipe: %s", strerror(errno));
        }
        pid_t pid = fork();
        if (pid < 0) {
            die("fork: %s", strerror(errno));
        }
        if (pid == 0) {
            dup2(to_child[0], 0);
            dup2(from_child[1], 1);
            signal(SIGPIPE, SIG_DFL);
            execvp(opt.cmd[0], opt.cmd);
            fprintf(stderr, "loadgen: exec %s: %s\n", opt.cmd[0], strerror(errno));
            _exit(127);
        }
        close(to_child[0]);
        close(from_child[1]);
        c->pid = pid;
        c->wfd = to_child[1];
        c->rfd = from_child[0];
        set_nonblock(c->rfd);
        c->phase = PHASE_INIT;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->rfd, &ev);
}

/* Write all of s; requests are small, so a short write is waited out with poll(). */
static void
write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                poll(&p, 1, opt.timeout_ms);
                continue;
            }
            die("write: %s", strerror(errno));
        }
        s += w;
        n -= (size_t)w;
    }
}

static bool
want_more(uint64_t now)
{
    if (!measuring) {
        return true;
    }
    if (opt.count > 0) {
        return nissued < opt.count;
    }
    return now < t_measure + (uint64_t)(opt.duration * 1e9);
}

static void
send_call(struct lconn *c)
{
    uint64_t now = now_ns();
    if (!want_more(now)) {
        c->phase = PHASE_IDLE;
        return;
    }
    if (measuring) {
        nissued++;
    }
    c->timed = measuring;
    c->phase = PHASE_CALL;
    c->t_sent = now_ns();
    write_all(c->wfd, request.p, request.len);
}

/*
 * Is c->in a complete reply?  Returns its length (0 if more bytes are needed) and sets *ok
 * when the call succeeded: HTTP status 200 and a body whose `result` is not false.
 */
static size_t
reply_complete(struct lconn *c, bool *ok)
{
    const char *p = c->in.p;
    size_t len = c->in.len;
    const char *body;
    size_t blen, total;

    if (len == 0) {
        return 0;
    }
    if (opt.mode != MODE_HTTP) {
        const char *nl = memchr(p, '\n', len);
        if (nl == NULL) {
            return 0;
        }
        body = p;
        blen = (size_t)(nl - p);
        total = blen + 1;
    } else {
        const char *he = memmem(p, len, "\r\n\r\n", 4);
        if (he == NULL) {
            return 0;
        }
        size_t hlen = (size_t)(he - p) + 4;
        int status = (len > 12 && strncmp(p, "HTTP/1.", 7) == 0) ? atoi(p + 9) : 0;
        const char *cl = NULL;
        bool chunked = false;
        for (const char *l = p; l < p + hlen;) {
            const char *eol = memchr(l, '\n', (size_t)(p + hlen - l));
            if (eol == NULL) {
                break;
            }
            if (strncasecmp(l, "Content-Length:", 15) == 0) {
                cl = l + 15;
            } else if (strncasecmp(l, "Transfer-Encoding:", 18) == 0 &&
                       memmem(l, (size_t)(eol - l), "chunked", 7) != NULL) {
                chunked = true;
            }
            l = eol + 1;
        }
        if (chunked) {
            /* Small replies only: find the terminating zero-size chunk. */
            const char *end = memmem(p + hlen, len - hlen, "\r\n0\r\n\r\n", 7);
            if (end == NULL) {
                if (len - hlen >= 5 && memcmp(p + hlen, "0\r\n\r\n", 5) == 0) {
                    end = p + hlen - 2;
                } else {
                    return 0;
                }
            }
            body = p + hlen;
            blen = (size_t)(end - body);
            total = (size_t)(end - p) + 7;
        } else {
            size_t clen = cl != NULL ? strtoull(cl, NULL, 10) : 0;
            if (len < hlen + clen) {
                return 0;
            }
            body = p + hlen;
            blen = clen;
            total = hlen + clen;
        }
        if (status != 200) {
            *ok = false;
            return total;
        }
    }
    /* Successful: a "result" member whose value is not false (nor null). */
    const char *r = memmem(body, blen, "\"result\"", 8);
    *ok = false;
    if (r != NULL) {
        r += 8;
        const char *end = body + blen;
        while (r < end && (*r == ' ' || *r == ':' || *r == '\t')) {
            r++;
        }
        size_t left = (size_t)(end - r);
        *ok = left > 0 && !(left >= 5 && memcmp(r, "false", 5) == 0) &&
              !(left >= 4 && memcmp(r, "null", 4) == 0);
    }
    return total;
}

static void
record(bool timed, uint64_t t_sent, uint64_t t_done)
{
    if (!timed) {
        /* Calls issued during the warm-up are never timed, even if they end after it. */
        nwarm++;
        if (!measuring && nwarm >= opt.warmup) {
            measuring = true;
            t_measure = t_done;
            t_last = t_done;
        }
        return;
    }
    if (nsamples == samples_cap) {
        samples_cap = samples_cap ? samples_cap * 2 : 1 << 16;
        samples = realloc(samples, samples_cap * sizeof(*samples));
        if (samples == NULL) {
            die("%s", "out of memory for samples");
        }
    }
    uint64_t d = t_done - t_sent;
    samples[nsamples++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    t_last = t_done;
}

static void
on_readable(struct lconn *c)
{
    for (;;) {
        buf_reserve(&c->in, 8192);
        ssize_t n = read(c->rfd, c->in.p + c->in.len, c->in.cap - c->in.len - 1);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                break;
            }
            die("read: %s", strerror(errno));
        }
        if (n == 0) {
            die("%s",
                opt.mode == MODE_PIPE ? "child closed its stdout" : "peer closed the connection");
        }
        c->in.len += (size_t)n;
        c->in.p[c->in.len] = '\0';
        break;
    }
    bool ok = false;
    size_t used = reply_complete(c, &ok);
    if (used == 0) {
        return;
    }
    uint64_t t_done = now_ns();
    if (c->phase == PHASE_INIT) {
        if (!ok) {
            fprintf(stderr, "loadgen: %s was not answered true: %.*s\n",
                    opt.mode == MODE_HTTP ? "the lookup" : "initialize",
                    (int)(used > 200 ? 200 : used), c->in.p);
        }
        buf_consume(&c->in, used);
        if (opt.idle) {
            c->phase = PHASE_IDLE;
            return;
        }
        send_call(c);
        return;
    }
    if (c->phase != PHASE_CALL) {
        die("%s", "unsolicited bytes from the responder");
    }
    if (!ok) {
        if (nerrors + nwarmerr == 0) {
            fprintf(stderr, "loadgen: first failed reply: %.*s\n", (int)(used > 300 ? 300 : used),
                    c->in.p);
        }
        if (c->timed) {
            nerrors++;
        } else {
            nwarmerr++;
        }
    }
    record(c->timed, c->t_sent, t_done);
    if (used < c->in.len) {
        die("%s", "responder sent more than one reply");
    }
    buf_consume(&c->in, used);
    send_call(c);
}

static void
stop_children(void)
{
    for (int i = 0; i < opt.conns; i++) {
        if (conns[i].pid > 0) {
            close(conns[i].wfd); /* EOF on stdin: a pipe responder should exit */
        }
    }
    for (int i = 0; i < opt.conns; i++) {
        struct lconn *c = &conns[i];
        if (c->pid <= 0) {
            continue;
        }
        int status;
        bool reaped = false;
        for (int t = 0; t < 200 && !reaped; t++) {
            if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
                reaped = true;
            } else {
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
        }
        if (!reaped) {
            fprintf(stderr, "loadgen: child %d ignored EOF on stdin for 2 s; killing it\n",
                    (int)c->pid);
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &status, 0);
        }
        c->pid = 0;
    }
}

static volatile sig_atomic_t hold_stop;

static void
on_hold_signal(int sig)
{
    (void)sig;
    hold_stop = 1;
}

/* --hold: keep every connection open, idle, for opt.hold seconds or until SIGTERM/SIGINT. */
static void
hold_connections(void)
{
    if (opt.hold <= 0) {
        return;
    }
    struct sigaction sa = {.sa_handler = on_hold_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    uint64_t end = now_ns() + (uint64_t)(opt.hold * 1e9);
    while (!hold_stop) {
        uint64_t now = now_ns();
        if (now >= end) {
            break;
        }
        uint64_t left = end - now;
        struct timespec ts = {(time_t)(left / 1000000000u), (long)(left % 1000000000u)};
        nanosleep(&ts, NULL); /* a signal interrupts it */
    }
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a;
    uint32_t y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile, in µs. */
static double
pct(double p)
{
    if (nsamples == 0) {
        return 0;
    }
    size_t rank = (size_t)ceil(p * (double)nsamples);
    if (rank < 1) {
        rank = 1;
    }
    return samples[rank - 1] / 1000.0;
}

static void
report(void)
{
    qsort(samples, nsamples, sizeof(*samples), cmp_u32);
    double secs = (double)(t_last - t_measure) / 1e9;
    double sum = 0;
    for (size_t i = 0; i < nsamples; i++) {
        sum += samples[i];
    }
    printf("label=%s mode=%s conns=%d calls=%zu errors=%llu secs=%.3f calls_per_s=%.1f "
           "p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f mean_us=%.1f\n",
           opt.label, mode_names[opt.mode], opt.conns, nsamples, (unsigned long long)nerrors, secs,
           secs > 0 ? (double)nsamples / secs : 0.0, pct(0.50), pct(0.90), pct(0.99), pct(0.999),
           nsamples ? samples[nsamples - 1] / 1000.0 : 0.0,
           nsamples ? sum / (double)nsamples / 1000.0 : 0.0);
    fflush(stdout);
}

int
main(int argc, char **argv)
{
    if (parse_args(argc, argv) < 0) {
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in sa;
    build_requests(&sa);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    conns = calloc((size_t)opt.conns, sizeof(*conns));
    if (conns == NULL) {
        die("%s", "out of memory");
    }
    measuring = opt.warmup == 0;
    t_measure = t_last = now_ns();

    for (int i = 0; i < opt.conns; i++) {
        open_conn(&conns[i], &sa);
    }
    for (int i = 0; i < opt.conns; i++) {
        if (conns[i].phase == PHASE_INIT) {
            write_all(conns[i].wfd, init_req.p, init_req.len);
            conns[i].t_sent = now_ns();
        } else {
            send_call(&conns[i]);
        }
    }

    struct epoll_event evs[256];
    for (;;) {
        int busy = 0;
        uint64_t now = now_ns();
        for (int i = 0; i < opt.conns; i++) {
            if (conns[i].phase != PHASE_IDLE) {
                busy++;
                if (now - conns[i].t_sent > (uint64_t)opt.timeout_ms * 1000000u) {
                    fprintf(stderr, "loadgen: a call got no reply within %d ms; stopping\n",
                            opt.timeout_ms);
                    stop_children();
                    report();
                    return 1;
                }
            }
        }
        if (busy == 0) {
            break;
        }
        int n = epoll_wait(epfd, evs, 256, 100);
        if (n < 0 && errno != EINTR) {
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            on_readable(evs[i].data.ptr);
        }
    }
    report();
    hold_connections();
    stop_children();
    if (opt.idle) {
        return 0;
    }
    if (nsamples == 0) {
        fprintf(stderr, "loadgen: no call was measured\n");
        return 1;
    }
    if (nwarmerr > 0) {
        fprintf(stderr, "loadgen: %llu warm-up calls failed\n", (unsigned long long)nwarmerr);
    }
    return nerrors + nwarmerr > 0 ? 3 : 0;
}

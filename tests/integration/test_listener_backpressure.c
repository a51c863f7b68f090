/*
 * test_listener_backpressure.c: clients that do not read their replies, and clients that close
 * with calls still pending, on the unix, HTTP and pipe listeners of the rbgw binary.
 *
 *   clients (raw sockets) ──unix socket / HTTP──> rbgw ──unix──> fake_json responder
 *   test ──stdin/stdout (readiness; the pipe scenario)──> --listen=pipe     (echo, "hold")
 *
 * rbgw is watched from /proc (support/procstat.h): its peak and current memory (VmHWM,
 * VmRSS), its fds, and its sockets connected on each listener.  "Listener fds" below are its
 * fds minus its connections to the responder (the responder counts those: accepts - closes),
 * so that upstream connections the pool opens or keeps idle do not blur the count.
 *
 * What is checked, on the unix and the HTTP listener each:
 *
 *   - A client that pipelines 16 KiB calls and never reads: rbgw stops reading it.  The client
 *     gets no more than a bounded rbgw can take in (read_ahead_limit: max-conn-buffer, one
 *     read, the replies the kernel holds toward the client, each of them a call served, and
 *     the kernel's buffers from the client; a gateway that reads on takes all of the many MiB
 *     the client offers); rbgw's peak memory grows by no more than rss_limit_kb (derived from
 *     max-conn-buffer and the call size); another client's call is still answered meanwhile;
 *     once the client closes, its connection, fd and memory are given back.
 *   - The same client with write-timeout set: rbgw closes the connection itself (the client's
 *     send fails) and says so once on stderr.
 *   - Three clients each pipeline 5,000 calls and close without reading a reply: every
 *     connection and fd is given back, and stderr has no warning, only one line per client.
 *   - A call held by the responder with 4,999 more pipelined behind it, and the client closes:
 *     the responder only ever sees the held calls (nothing pipelined is dispatched once the
 *     client is gone), and after the held replies come (and are dropped) nothing is left.
 *
 * And on the pipe listener (pdns stops reading rbgw's stdout): rbgw stops reading stdin
 * instead of buffering, and once stdout is read again every call is answered, in order.
 *
 * Memory is only checked without AddressSanitizer (its redzones and quarantine make RSS say
 * nothing about rbgw's own buffers); everything else runs in both trees.  Nothing waits for a
 * duration: each wait is a bounded poll for a state (IO_BOUND_MS is a safety bound, not a
 * timing assertion).  write-timeout is a setting of rbgw; the test only waits for its effect.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fake_json.h"
#include "itest.h"
#include "netio.h"
#include "procstat.h"
#include "rbgw_proc.h"

#if defined(__SANITIZE_ADDRESS__)
#define CHECK_RSS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHECK_RSS 0
#endif
#endif
#ifndef CHECK_RSS
#define CHECK_RSS 1
#endif

#define IO_BOUND_MS 10000          /* safety bound for one wait, not a timing assertion */
#define PORT_TRIES 5               /* HTTP ports taken by someone else before rbgw bound them */
#define CONN_BUFFER (256 * 1024)   /* --max-conn-buffer for the flood scenarios */
#define BIG_CONN_BUFFER "4m"       /* --max-conn-buffer where 5,000 calls must all be read */
#define READ_SLAB (64 * 1024)      /* one read of rbgw (listener/slab.h RBGW_READ_SLAB) */
#define CALL_QNAME 16000           /* qname length of a flood call: about 16 KiB a call */
#define CLIENT_SOCKBUF (64 * 1024) /* SO_SNDBUF / SO_RCVBUF of a flooding client */
#define FLOOD_MIN (64u << 20)      /* the flood offers at least this much */
#define NPIPELINED 5000            /* calls each closing client pipelines */
#define NCLOSING 3                 /* clients that close with calls pending */
#define ALLOC_SLACK_KB 2048        /* the allocator's own rounding and keeping, in kB */
#define PIPE_CALLS 250             /* calls written to the pipe listener (about 4 MiB) */
#define PIPE_CAPACITY (64 * 1024)  /* a Linux pipe's buffer */
#define NFDS (NCLOSING + 2)        /* client sockets a test may hold */

enum kind { UNIX, HTTP };

static char *dir;            /* the test's directory */
static char *sock;           /* rbgw's unix listener path */
static int port;             /* rbgw's HTTP port */
static struct fake_json *up; /* the unix responder */
static struct rbgw_proc *gw; /* rbgw, or NULL */
static int fds[NFDS];        /* client sockets, -1 when closed (set by start) */

static void
teardown(void)
{
    for (size_t i = 0; i < NFDS; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
        fds[i] = -1;
    }
    rbgw_proc_free(gw);
    gw = NULL;
    fake_json_stop(up);
    up = NULL;
    fake_json_rmtree(dir);
    free(dir);
    dir = NULL;
    rbgw_test_release();
}

TestSuite(backpressure, .fini = teardown, .timeout = 60);

/* ---- rbgw and its clients ---- */

/* rbgw with a unix, an HTTP (prefix /dns) and a pipe listener, the unix responder as its
 * upstream, and one or two more options (opt2 may be NULL).  Deadlines are far: nothing here
 * may time out but what a test sets. */
static void
start(const char *opt1, const char *opt2)
{
    for (size_t i = 0; i < NFDS; i++) {
        fds[i] = -1;
    }
    dir = fake_json_mkdtemp();
    cr_assert_not_null(dir, "mkdtemp: %s", strerror(errno));
    sock = rbgw_test_fmt("%s/rbgw.sock", dir);
    char *up_path = rbgw_test_fmt("%s/up.sock", dir);
    up = fake_json_unix_start(up_path);
    cr_assert_not_null(up, "cannot start the unix responder: %s", strerror(errno));
    for (int attempt = 0; attempt < PORT_TRIES; attempt++) {
        uint16_t p = 0;
        int pfd = rbgw_test_tcp_bind(&p);
        cr_assert_geq(pfd, 0, "cannot bind a port on 127.0.0.1: %s", strerror(errno));
        close(pfd);
        port = p;
        const char *args[] = {rbgw_test_fmt("--listen=unix:path=%s", sock),
                              rbgw_test_fmt("--listen=http:address=127.0.0.1:%d,path=/dns", port),
                              "--listen=pipe",
                              rbgw_test_fmt("--upstream=unix:path=%s,timeout=60000", up_path),
                              "--deadline=60000",
                              "--log-level=debug",
                              opt1,
                              opt2,
                              NULL};
        gw = rbgw_proc_spawn(NULL, args);
        cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
        if (fake_json_gw_ready(gw, IO_BOUND_MS)) {
            return;
        }
        const char *err = rbgw_test_stderr(gw);
        cr_assert_not_null(strcasestr(err, "address already in use"),
                           "rbgw did not start; stderr:\n%s", err);
        rbgw_proc_free(gw); /* somebody took the port meanwhile: try another */
        gw = NULL;
    }
    cr_assert_fail("no free port after %d tries", PORT_TRIES);
}

/* A new client socket in fds[i]; bufsize > 0 sets its SO_SNDBUF and SO_RCVBUF. */
static int
client(size_t i, enum kind k, int bufsize)
{
    int fd = socket(k == UNIX ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
    fds[i] = fd;
    if (bufsize > 0) {
        cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize)), 0);
        cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize)), 0);
    }
    int rc;
    if (k == UNIX) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
        rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    } else {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    cr_assert_eq(rc, 0, "connect: %s; stderr:\n%s", strerror(errno), rbgw_test_stderr(gw));
    return fd;
}

/* Close client i (if open). */
static void
client_close(size_t i)
{
    if (fds[i] >= 0) {
        close(fds[i]);
        fds[i] = -1;
    }
}

/* The call {"method": method, "parameters": {"qname": qname, "qtype": "A"}}. */
static char *
call_json(const char *method, const char *qname)
{
    return rbgw_test_fmt("{\"method\": \"%s\", \"parameters\": {\"qname\": \"%s\", \"qtype\": "
                         "\"A\"}}",
                         method, qname);
}

/* The bytes that carry one call: a line on the unix socket, a post_json request over HTTP. */
static char *
wire(enum kind k, const char *json)
{
    if (k == UNIX) {
        return rbgw_test_fmt("%s\n", json);
    }
    return rbgw_test_fmt("POST /dns HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Keep-Alive\r\n"
                         "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                         strlen(json), json);
}

static void
send_all(int fd, const char *p, size_t n)
{
    cr_assert(rbgw_test_send_all(fd, p, n), "send: %s; stderr:\n%s", strerror(errno),
              rbgw_test_stderr(gw));
}

/* Read from fd until it gave a whole reply (a line, or an HTTP response with its
 * Content-Length body) to a small call; the reply is returned (kept). */
static char *
read_reply(enum kind k, int fd)
{
    const size_t cap = 65536;
    char *buf = rbgw_test_keep(malloc(cap + 1));
    size_t len = 0;
    long deadline = rbgw_test_now_ms() + IO_BOUND_MS;
    for (;;) {
        buf[len] = '\0';
        if (k == UNIX && memchr(buf, '\n', len)) {
            return buf;
        }
        const char *end = k == HTTP ? rbgw_test_head_end(buf, len) : NULL;
        const char *cl = end ? strcasestr(buf, "\r\nContent-Length:") : NULL;
        if (cl && cl < end && len >= (size_t)(end + 4 - buf) + strtoul(cl + 17, NULL, 10)) {
            return buf;
        }
        cr_assert_lt(len, cap, "a reply of more than %zu bytes: <%.300s>", cap, buf);
        long left = deadline - rbgw_test_now_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        cr_assert_gt(poll(&pfd, 1, left > 0 ? (int)left : 0), 0,
                     "no reply within the safety bound; stderr:\n%s", rbgw_test_stderr(gw));
        ssize_t n = recv(fd, buf + len, cap - len, 0);
        cr_assert_gt(n, 0, "connection closed before a reply; stderr:\n%s", rbgw_test_stderr(gw));
        len += (size_t)n;
    }
}

/* One call on client i, answered with the responder's echo of it. */
static void
expect_answered(enum kind k, size_t i, const char *qname)
{
    char *w = wire(k, call_json("lookup", qname));
    send_all(fds[i], w, strlen(w));
    char *r = read_reply(k, fds[i]);
    cr_assert_not_null(strstr(r, qname), "the reply does not echo the call: <%.300s>", r);
}

/* ---- what /proc says about rbgw ---- */

static pid_t
pid(void)
{
    return rbgw_proc_pid(gw);
}

/* rbgw's fds but its connections to the responder. */
static int
listener_fds(void)
{
    return rbgw_test_fd_count(pid()) - (int)(fake_json_accepts(up) - fake_json_closes(up));
}

/* rbgw's sockets connected on the listener k. */
static int
conns(enum kind k)
{
    return k == UNIX ? rbgw_test_unix_conns(pid(), sock) : rbgw_test_tcp_conns(pid(), port);
}

static long
kb(const char *field)
{
    long v = rbgw_test_status_kb(pid(), field);
    cr_assert_geq(v, 0, "no %s for rbgw", field);
    return v;
}

/* Poll (bounded) until rbgw has n connections on k and its listener fds are back to fds0. */
static void
wait_conns(enum kind k, int n, int fds0)
{
    long deadline = rbgw_test_now_ms() + IO_BOUND_MS;
    while ((conns(k) != n || listener_fds() != fds0) && rbgw_test_now_ms() < deadline) {
        poll(NULL, 0, 10);
    }
    cr_assert_eq(conns(k), n, "rbgw keeps %d connections on the listener (want %d); stderr:\n%s",
                 conns(k), n, rbgw_test_stderr(gw));
    cr_assert_eq(listener_fds(), fds0, "rbgw has %d listener fds (before: %d)", listener_fds(),
                 fds0);
}

/* Poll (bounded) until rbgw's stderr holds needle at least n times; the count is returned. */
static int
count_in_stderr(const char *needle)
{
    char *err = rbgw_test_keep(rbgw_proc_stderr(gw, 0));
    int n = 0;
    for (const char *p = strstr(err, needle); p; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

static void
wait_stderr(const char *needle, int n)
{
    long deadline = rbgw_test_now_ms() + IO_BOUND_MS;
    while (count_in_stderr(needle) < n && rbgw_test_now_ms() < deadline) {
        poll(NULL, 0, 10);
    }
    cr_assert_geq(count_in_stderr(needle), n, "'%s' is not %d times on stderr:\n%s", needle, n,
                  rbgw_test_stderr(gw));
}

/* Poll (bounded) until rbgw's VmRSS is at most limit kB. */
static void
wait_rss_below(long limit)
{
    if (!CHECK_RSS) {
        return;
    }
    long deadline = rbgw_test_now_ms() + IO_BOUND_MS;
    while (kb("VmRSS") > limit && rbgw_test_now_ms() < deadline) {
        poll(NULL, 0, 10);
    }
    cr_assert_leq(kb("VmRSS"), limit, "rbgw's memory did not come back: VmRSS %ld kB > %ld kB",
                  kb("VmRSS"), limit);
}

static size_t
sysctl_field(const char *path, int field, size_t dflt)
{
    FILE *f = fopen(path, "r");
    unsigned long v[3] = {dflt, dflt, dflt};
    if (f) {
        if (fscanf(f, "%lu %lu %lu", &v[0], &v[1], &v[2]) < 1) {
            v[0] = v[1] = v[2] = dflt;
        }
        fclose(f);
    }
    return v[field];
}

/*
 * The most a client that never reads can get a bounded rbgw to take in, in bytes: what rbgw
 * holds (max-conn-buffer, overshot by at most one read and one partial call), the calls it
 * served (the replies the kernel buffers toward the client, each as long as its call, plus the
 * call in flight and the one whose reply is stuck), and the kernel's buffers from the client.
 * A unix socket's writer may overshoot its SO_SNDBUF by one buffer (counted twice here); it
 * is rbgw's own (net.core.wmem_default) toward the client, the client's from it.  Over TCP
 * rbgw's socket buffers grow by autotuning up to tcp_rmem / tcp_wmem's maximum.
 */
static size_t
read_ahead_limit(enum kind k, size_t call)
{
    size_t client = 2 * CLIENT_SOCKBUF; /* the kernel doubles SO_SNDBUF / SO_RCVBUF */
    size_t toward, from;
    if (k == UNIX) {
        toward = 2 * sysctl_field("/proc/sys/net/core/wmem_default", 0, 212992);
        from = 2 * client;
    } else {
        toward = sysctl_field("/proc/sys/net/ipv4/tcp_wmem", 2, 4194304) + client;
        from = sysctl_field("/proc/sys/net/ipv4/tcp_rmem", 2, 6291456) + client;
    }
    return CONN_BUFFER + READ_SLAB + 3 * call + toward + from;
}

/* rbgw's own memory for one such client, in kB: its input buffer (listener/slab.h: at most
 * three times what it keeps plus two reads, as it grows by doubling), the call in flight and
 * its reply (each copied a few times on the way), and the allocator's slack. */
static long
rss_limit_kb(size_t call)
{
    return (long)((3 * (CONN_BUFFER + 2 * READ_SLAB) + 8 * call) / 1024) + ALLOC_SLACK_KB;
}

/* SIGTERM: rbgw must exit 0 with a clean stderr.  A request whose reference was lost (a
 * connection gone with a call in flight, say) would keep it from ever stopping. */
static void
assert_stops_clean(void)
{
    cr_assert_eq(kill(pid(), SIGTERM), 0);
    rbgw_test_assert_exit_0(gw);
    rbgw_test_assert_clean_stderr(gw);
}

/* ---- a client that writes calls and never reads ---- */

struct flood {
    pthread_t thread;
    int fd;             /* the client's socket */
    const char *unit;   /* one call's bytes */
    size_t unit_len;    /* their length */
    size_t target;      /* stop once this much was sent */
    pthread_mutex_t mu; /* guards what follows */
    pthread_cond_t cv;  /* signalled when done */
    size_t sent;        /* bytes the kernel took */
    int err;            /* errno of the send that failed, or 0 */
    bool done;          /* the thread has finished */
};

static struct flood fl;

static void *
flood_main(void *arg)
{
    struct flood *f = arg;
    size_t off = 0, sent = 0;
    int err = 0;
    while (sent < f->target) {
        ssize_t n = send(f->fd, f->unit + off, f->unit_len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            err = errno;
            break;
        }
        sent += (size_t)n;
        off = (off + (size_t)n) % f->unit_len;
        pthread_mutex_lock(&f->mu);
        f->sent = sent;
        pthread_mutex_unlock(&f->mu);
    }
    pthread_mutex_lock(&f->mu);
    f->err = err;
    f->done = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

static void
flood_start(int fd, const char *unit, size_t target)
{
    memset(&fl, 0, sizeof(fl));
    fl.fd = fd;
    fl.unit = unit;
    fl.unit_len = strlen(unit);
    fl.target = target;
    pthread_mutex_init(&fl.mu, NULL);
    rbgw_test_cond_init(&fl.cv);
    cr_assert_eq(pthread_create(&fl.thread, NULL, flood_main, &fl), 0);
}

/* Wait (bounded) for the flood to end; false if it is still sending. */
static bool
flood_wait(void)
{
    struct timespec ts;
    rbgw_test_deadline(&ts, IO_BOUND_MS);
    pthread_mutex_lock(&fl.mu);
    while (!fl.done && pthread_cond_timedwait(&fl.cv, &fl.mu, &ts) == 0) {
    }
    bool done = fl.done;
    pthread_mutex_unlock(&fl.mu);
    if (done) {
        pthread_join(fl.thread, NULL);
    }
    return done;
}

/* The flood's unit and target for listener k: 16 KiB calls, many times what rbgw may take. */
static void
flood_plan(enum kind k, const char **unit, size_t *target, size_t *limit)
{
    char *qname = rbgw_test_keep(malloc(CALL_QNAME + 1));
    memset(qname, 'f', CALL_QNAME);
    qname[CALL_QNAME] = '\0';
    *unit = wire(k, call_json("lookup", qname));
    *limit = read_ahead_limit(k, strlen(*unit));
    *target = 4 * *limit > FLOOD_MIN ? 4 * *limit : FLOOD_MIN;
}

/* ---- scenarios ---- */

/*
 * A client floods 16 KiB calls and never reads; another client's call is answered meanwhile;
 * the flooding client closes.  rbgw took in no more than read_ahead_limit, its peak memory grew
 * by at most rss_limit_kb, and afterwards its connection, fd and memory are back.
 */
static void
never_reads(enum kind k)
{
    start(rbgw_test_fmt("--max-conn-buffer=%d", CONN_BUFFER), "--write-timeout=0");
    client(0, k, 0);
    expect_answered(k, 0, "warm.example."); /* the upstream connection exists: a baseline */
    int fds0 = listener_fds();
    long hwm0 = kb("VmHWM"), rss0 = kb("VmRSS");

    const char *unit;
    size_t target, limit;
    flood_plan(k, &unit, &target, &limit);
    flood_start(client(1, k, CLIENT_SOCKBUF), unit, target);
    /* rbgw pauses reading this client at least once (for good, once a reply is stuck). */
    wait_stderr("reading paused", 1);
    expect_answered(k, 0, "other.example.");

    /* The client goes: its blocked send fails, and rbgw's stuck reply with it. */
    shutdown(fds[1], SHUT_RDWR);
    cr_assert(flood_wait(), "the flooding client's send did not end");
    cr_assert_lt(fl.sent, target, "rbgw took in all of the %zu bytes offered", target);
    cr_assert_leq(fl.sent, limit,
                  "rbgw took in %zu bytes from a client that does not read "
                  "(a bounded rbgw takes at most %zu)",
                  fl.sent, limit);
    client_close(1);
    wait_conns(k, 1, fds0);
    if (CHECK_RSS) {
        long grew = kb("VmHWM") - hwm0;
        cr_assert_leq(grew, rss_limit_kb(strlen(unit)),
                      "rbgw's peak memory grew by %ld kB (bound: %ld kB)", grew,
                      rss_limit_kb(strlen(unit)));
    }
    wait_rss_below(rss0 + ALLOC_SLACK_KB);
    expect_answered(k, 0, "after.example.");
    cr_assert_eq(count_in_stderr(": warning: "), 0, "warnings on stderr:\n%s",
                 rbgw_test_stderr(gw));
    client_close(0);
    assert_stops_clean();
}

/* The same client, but rbgw has a write-timeout: rbgw closes the connection itself. */
static void
unread_reply_times_out(enum kind k)
{
    start(rbgw_test_fmt("--max-conn-buffer=%d", CONN_BUFFER), "--write-timeout=200");
    int fds0 = listener_fds();
    const char *unit;
    size_t target, limit;
    flood_plan(k, &unit, &target, &limit);
    flood_start(client(1, k, CLIENT_SOCKBUF), unit, target);
    cr_assert(flood_wait(),
              "rbgw did not close a connection whose replies are not read; "
              "stderr:\n%s",
              rbgw_test_stderr(gw));
    cr_assert(fl.err == EPIPE || fl.err == ECONNRESET,
              "the flood ended with '%s' after %zu bytes, not with the connection closed",
              fl.err ? strerror(fl.err) : "everything sent", fl.sent);
    cr_assert_leq(fl.sent, limit, "rbgw took in %zu bytes (a bounded rbgw takes at most %zu)",
                  fl.sent, limit);
    cr_assert_eq(count_in_stderr("write-timeout"), 1, "stderr:\n%s", rbgw_test_stderr(gw));
    client_close(1);
    wait_conns(k, 0, fds0);
    cr_assert_eq(count_in_stderr(": warning: "), 0, "warnings on stderr:\n%s",
                 rbgw_test_stderr(gw));
    assert_stops_clean();
}

/* The NPIPELINED calls of one closing client, first the call `first` (NULL: none). */
static char *
pipeline(enum kind k, size_t who, const char *first)
{
    const char *one = wire(k, call_json("lookup", rbgw_test_fmt("c%zu.example.", who)));
    size_t n = strlen(one), pos = 0;
    size_t flen = first ? strlen(first) : 0;
    char *all = rbgw_test_keep(malloc(flen + n * NPIPELINED + 1));
    memcpy(all, first ? first : "", flen);
    pos = flen;
    for (size_t i = first ? 1 : 0; i < NPIPELINED; i++) {
        memcpy(all + pos, one, n);
        pos += n;
    }
    all[pos] = '\0';
    return all;
}

/* NCLOSING clients each pipeline NPIPELINED calls and close without reading a reply. */
static void
close_with_calls_pending(enum kind k)
{
    start("--max-conn-buffer=" BIG_CONN_BUFFER, NULL);
    client(0, k, 0);
    expect_answered(k, 0, "warm.example.");
    int fds0 = listener_fds();
    long rss0 = kb("VmRSS");
    for (size_t i = 1; i <= NCLOSING; i++) {
        char *all = pipeline(k, i, NULL);
        send_all(client(i, k, 0), all, strlen(all));
    }
    for (size_t i = 1; i <= NCLOSING; i++) {
        client_close(i);
    }
    wait_conns(k, 1, fds0);
    wait_rss_below(rss0 + ALLOC_SLACK_KB);
    expect_answered(k, 0, "after.example.");
    cr_assert_eq(count_in_stderr(": warning: "), 0, "warnings on stderr:\n%s",
                 rbgw_test_stderr(gw));
    cr_assert_leq(count_in_stderr("client gone ("), NCLOSING, "more than a line per client:\n%s",
                  rbgw_test_stderr(gw));
    client_close(0);
    assert_stops_clean();
}

/* Each closing client's first call is held upstream, the rest pipelined behind it; they close;
 * only the held calls ever reach the responder. */
static void
pipelined_behind_dropped(enum kind k)
{
    start("--max-conn-buffer=" BIG_CONN_BUFFER, NULL);
    int fds0 = listener_fds();
    for (size_t i = 1; i <= NCLOSING; i++) {
        char *all = pipeline(k, i, wire(k, call_json("hold", rbgw_test_fmt("h%zu.", i))));
        send_all(client(i, k, 0), all, strlen(all));
    }
    cr_assert(fake_json_wait_held(up, NCLOSING, IO_BOUND_MS), "the held calls did not arrive");
    for (size_t i = 1; i <= NCLOSING; i++) {
        client_close(i);
    }
    /* rbgw has seen each client go before the held calls are answered. */
    wait_stderr("client gone (", NCLOSING);
    fake_json_release(up);
    wait_conns(k, 0, fds0);
    struct fake_json_rec *r;
    size_t n = fake_json_records(up, &r);
    size_t held = 0, other = 0;
    for (size_t i = 0; i < n; i++) {
        if (fake_json_rec_is(&r[i], "hold")) {
            held++;
        } else if (!fake_json_rec_is(&r[i], "initialize")) {
            other++;
        }
    }
    fake_json_recs_free(r, n);
    cr_assert_eq(held, NCLOSING, "the responder got %zu held calls", held);
    cr_assert_eq(other, 0, "%zu calls pipelined behind a closed client's were dispatched", other);
    cr_assert_eq(count_in_stderr(": warning: "), 0, "warnings on stderr:\n%s",
                 rbgw_test_stderr(gw));
    assert_stops_clean();
}

/* ---- the pipe listener: pdns does not read stdout ---- */

/* Call i on the pipe: a lookup of "<i>fff...f" (CALL_QNAME letters), with its '\n'. */
static char *
pipe_call(int i, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"%05d", i);
    memset(buf + n, 'f', CALL_QNAME);
    snprintf(buf + n + CALL_QNAME, cap - (size_t)n - CALL_QNAME, "\", \"qtype\": \"A\"}}\n");
    return buf;
}

/* The writer thread: PIPE_CALLS calls to rbgw's stdin, one write each (fl.sent counts them). */
static void *
pipe_writer_main(void *arg)
{
    struct flood *f = arg;
    size_t cap = CALL_QNAME + 128;
    char *buf = malloc(cap);
    int err = 0;
    for (int i = 0; buf && i < PIPE_CALLS && err == 0; i++) {
        const char *c = pipe_call(i, buf, cap);
        err = -rbgw_proc_write(gw, c, strlen(c));
        pthread_mutex_lock(&f->mu);
        f->sent += err == 0 ? strlen(c) : 0;
        pthread_mutex_unlock(&f->mu);
    }
    free(buf);
    pthread_mutex_lock(&f->mu);
    f->err = buf ? err : ENOMEM;
    f->done = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

/* ---- tests ---- */

Test(backpressure, unix_client_that_never_reads_is_held_back_then_freed)
{
    never_reads(UNIX);
}

Test(backpressure, http_client_that_never_reads_is_held_back_then_freed)
{
    never_reads(HTTP);
}

Test(backpressure, unix_unread_reply_closes_after_write_timeout)
{
    unread_reply_times_out(UNIX);
}

Test(backpressure, http_unread_reply_closes_after_write_timeout)
{
    unread_reply_times_out(HTTP);
}

Test(backpressure, unix_clients_closing_with_5000_calls_pending_leave_nothing)
{
    close_with_calls_pending(UNIX);
}

Test(backpressure, http_clients_closing_with_5000_requests_pending_leave_nothing)
{
    close_with_calls_pending(HTTP);
}

Test(backpressure, unix_calls_behind_the_one_in_flight_are_dropped_not_dispatched)
{
    pipelined_behind_dropped(UNIX);
}

Test(backpressure, http_requests_behind_the_one_in_flight_are_dropped_not_dispatched)
{
    pipelined_behind_dropped(HTTP);
}

/* pdns stops reading rbgw's stdout while it writes calls: rbgw stops reading stdin (it takes
 * in no more than max-conn-buffer, one read, the replies the stdout pipe holds, the call in
 * flight and the stdin pipe's buffer) instead of buffering the calls, its memory stays within
 * the same bound as a socket's, and once stdout is read again every call is answered, in
 * order: no write-timeout applies to the pipe, whose one client is pdns itself. */
Test(backpressure, pipe_stdout_not_read_pauses_stdin_then_all_answered)
{
    /* write-timeout=1 would close a socket at once; the pipe must not care. */
    start(rbgw_test_fmt("--max-conn-buffer=%d", CONN_BUFFER), "--write-timeout=1");
    long hwm0 = kb("VmHWM");
    size_t call = CALL_QNAME + 64;
    size_t limit = CONN_BUFFER + READ_SLAB + 3 * call + 2 * PIPE_CAPACITY;
    cr_assert_gt((size_t)PIPE_CALLS * call, 4 * limit);
    memset(&fl, 0, sizeof(fl));
    pthread_mutex_init(&fl.mu, NULL);
    rbgw_test_cond_init(&fl.cv);
    cr_assert_eq(pthread_create(&fl.thread, NULL, pipe_writer_main, &fl), 0);
    wait_stderr("reading paused", 1); /* only the pipe has traffic */
    pthread_mutex_lock(&fl.mu);
    size_t sent = fl.sent;
    bool done = fl.done;
    pthread_mutex_unlock(&fl.mu);
    cr_assert(!done && sent <= limit, "rbgw took in %zu bytes (a bounded rbgw takes at most %zu)",
              sent, limit);
    if (CHECK_RSS) {
        long grew = kb("VmHWM") - hwm0;
        cr_assert_leq(grew, rss_limit_kb(call), "rbgw's peak memory grew by %ld kB (bound: %ld kB)",
                      grew, rss_limit_kb(call));
    }
    char want[CALL_QNAME + 128];
    for (int i = 0; i < PIPE_CALLS; i++) {
        char *line = rbgw_test_read_line(gw);
        pipe_call(i, want, sizeof(want));
        want[strlen(want) - 1] = '\0';
        cr_assert(strncmp(line, "{\"result\": ", 11) == 0 && strstr(line, want) != NULL,
                  "reply %d is not the echo of call %d: <%.100s>", i, i, line);
    }
    cr_assert(flood_wait(), "the writer did not finish");
    cr_assert_eq(fl.err, 0, "writing the calls failed: %s", strerror(fl.err));
    assert_stops_clean();
}

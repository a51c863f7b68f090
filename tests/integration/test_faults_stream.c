/*
 * test_faults_stream.c: fault injection on rbgw's JSON-stream upstreams (unix sockets, pipe
 * co-processes) and its ZeroMQ upstream, each fault one test, against the rbgw binary.
 *
 *   test ──stdin/stdout──> rbgw --listen=pipe [--listen+=unix:...]
 *                               ├─ unix:path=...       ──> fake_json unix thread (support/)
 *                               ├─ pipe:command=...    ──> fake_json python children
 *                               └─ zeromq:endpoint=... ──> zmq_responder ROUTER thread
 *
 * Every test does the same around its fault: a good call first (the upstream connection or
 * child exists), then the baseline of rbgw's descriptors and memory (support/faultcheck.h),
 * the fault, the calls it hits (each must get exactly one answer: the responder's, or
 * {"result":false,"log":["rbgw: <reason>"]} naming the fault), good calls after it (answered by
 * the responder, byte for byte), and then rbgw's descriptors must come back to the baseline
 * (bounded poll), its memory stay within RBGW_FAULT_RSS_SLACK_KB, and, for pipes, its children
 * be reaped.  Each test ends by closing rbgw's stdin (and SIGTERM where a unix listener runs):
 * stdout must end with no byte more (no second answer to anything), rbgw must exit 0 with no
 * sanitizer report.
 *
 * What each test proves:
 *   unsolicited reply (unix, pipe)   a reply written while no call is in flight (a reply for
 *                                    a call that is not there, which would be taken for the
 *                                    next call's) makes rbgw drop that connection / kill that
 *                                    child at once; the next call gets its own answer from a
 *                                    fresh one
 *   junk reply (unix, pipe)          binary garbage with a NUL as a reply: false naming JSON,
 *                                    the connection / child is replaced
 *   close mid-reply (unix, pipe)     the responder goes away halfway through a reply: false
 *                                    naming the close
 *   socket disappears and returns    the unix responder stops (socket closed and unlinked)
 *                                    with a call in flight and comes back at the same path:
 *                                    the call in flight is false, calls while it is gone are
 *                                    false naming the connect failure, calls after it returned
 *                                    are served
 *   accept queue full (unix)         a unix responder whose backlog is full (it never
 *                                    accepts): each call is false at once naming EAGAIN, not
 *                                    left hanging, and no descriptor is kept for it
 *   deeply nested reply              100,000 levels: refused (max-json-depth), no crash
 *   100 MB reply                     refused at max-reply-size (2 MiB here) while it is still
 *                                    arriving: rbgw's peak memory never grows by more than the
 *                                    slack, so it never held the reply
 *   pipe child crashes in initialize a respawned child that dies while initializing: false,
 *                                    and once it starts properly again calls are served
 *   pipe child exits after K calls   a child that exits after every 3rd reply: each is
 *                                    respawned (with its own initialize) and every call is
 *                                    answered by the responder, none false
 *   child exits, grandchild stays    a child that exits after its reply while a process it
 *                                    forked keeps its pipes open (so no EOF comes): its exit
 *                                    alone ends the conn, the next call goes to a new child
 *                                    instead of waiting for the dead one until timeout=
 *   ZeroMQ peer restarts             the ROUTER is closed and bound again with two calls held
 *                                    in flight: both are false (timed out) and nothing else,
 *                                    the next calls are served; a second restart while the
 *                                    socket is idle: the next call is served on the same,
 *                                    reconnected socket
 *
 * No test waits for a duration: states are polled (bounded) or waited for on a descriptor.
 * Reads are bounded by RBGW_TEST_IO_MS only so that a broken build fails instead of hanging.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fake_json.h"
#include "faultcheck.h"
#include "itest.h"
#include "netio.h"
#include "procstat.h"
#include "rbgw_proc.h"
#include "zmq_responder.h"

#define IO_MS RBGW_TEST_IO_MS
#define UP_TIMEOUT_MS 5000  /* upstream timeout= where no timeout is tested (a python start) */
#define ZMQ_TIMEOUT_MS 3000 /* zeromq timeout=: the held calls end with it */
#define DEADLINE "--deadline=9000"
#define EXIT_AFTER 3 /* the exiting child's calls */

#define LOOKUP_FMT                                                                                 \
    "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"%s\", \"qtype\": \"A\", "              \
    "\"remote\": \"198.51.100.7\", \"zone-id\": -1}}"

enum kind { UNIX, PIPE };

static enum kind kind;                 /* upstream kind of the current test */
static char *dir;                      /* the test's directory */
static char *cmd;                      /* pipe: the responder's command= */
static char *up_path;                  /* unix: the responder's socket */
static char *gw_sock;                  /* rbgw's unix listener, where one is started */
static struct fake_json *srv;          /* unix: the responder, or NULL */
static struct zmq_responder *zr;       /* zeromq: the responder, or NULL */
static struct rbgw_proc *gw;           /* rbgw, or NULL */
static struct fake_json_client *cl[2]; /* unix listener clients */

/* SIGKILL the grandchildren the "orphan" children left (pids in <dir>/orphans). */
static void
kill_orphans(void)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/orphans", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        return;
    }
    long pid;
    while (fscanf(f, "%ld", &pid) == 1) {
        kill((pid_t)pid, SIGKILL);
    }
    fclose(f);
}

static void
teardown(void)
{
    if (dir) {
        kill_orphans();
    }
    rbgw_proc_free(gw);
    gw = NULL;
    for (size_t i = 0; i < 2; i++) {
        fake_json_client_free(cl[i]);
        cl[i] = NULL;
    }
    fake_json_stop(srv);
    srv = NULL;
    zmq_responder_stop(zr);
    zr = NULL;
    fake_json_rmtree(dir);
    free(dir);
    dir = NULL;
    free(cmd);
    cmd = NULL;
    rbgw_test_release();
}

TestSuite(faults_stream, .fini = teardown, .timeout = 60);

/* ---- helpers ---- */

static const char *
errtail(void)
{
    return rbgw_test_stderr(gw);
}

static const char *
kind_name(void)
{
    return kind == UNIX ? "unix" : "pipe";
}

static void
make_dir(void)
{
    dir = fake_json_mkdtemp();
    cr_assert_not_null(dir, "mkdtemp: %s", strerror(errno));
    up_path = rbgw_test_fmt("%s/up.sock", dir);
    gw_sock = rbgw_test_fmt("%s/gw.sock", dir);
}

/* rbgw with its pipe listener (and a unix listener if with_unix), the upstream `upstream`
 * (a --upstream= value) and extra (may be NULL); returns once it answers on stdin. */
static void
spawn(const char *upstream, bool with_unix, const char *extra)
{
    const char *args[8];
    size_t n = 0;
    args[n++] = "--listen=pipe";
    if (with_unix) {
        args[n++] = rbgw_test_fmt("--listen+=unix:path=%s", gw_sock);
    }
    args[n++] = rbgw_test_fmt("--upstream=%s", upstream);
    args[n++] = DEADLINE;
    args[n++] = "--log-level=info";
    if (extra) {
        args[n++] = extra;
    }
    args[n] = NULL;
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
    cr_assert(fake_json_gw_ready(gw, IO_MS), "rbgw did not start; stderr:\n%s", errtail());
}

/* rbgw in front of a fake_json responder of kind k (unix: started first), with conn_opts
 * appended to the upstream's connection string and extra passed to rbgw (both may be NULL). */
static void
start(enum kind k, const char *conn_opts, const char *extra)
{
    kind = k;
    if (!dir) {
        make_dir();
    }
    const char *opts = conn_opts ? conn_opts : "";
    const char *up;
    if (k == UNIX) {
        srv = fake_json_unix_start(up_path);
        cr_assert_not_null(srv, "cannot start the unix responder: %s", strerror(errno));
        up = rbgw_test_fmt("unix:path=%s,timeout=%d,connect-timeout=%d%s", up_path, UP_TIMEOUT_MS,
                           UP_TIMEOUT_MS, opts);
    } else {
        cmd = fake_json_pipe_script(dir);
        cr_assert_not_null(cmd, "cannot write the pipe responder: %s", strerror(errno));
        up = rbgw_test_fmt("pipe:command=%s,timeout=%d,connect-timeout=%d%s", cmd, UP_TIMEOUT_MS,
                           UP_TIMEOUT_MS, opts);
    }
    spawn(up, false, extra);
}

static char *
call(const char *request)
{
    return rbgw_test_call(gw, request);
}

static char *
lookup(const char *qname)
{
    return rbgw_test_fmt(LOOKUP_FMT, qname);
}

static char *
method_call(const char *method)
{
    return rbgw_test_fmt("{\"method\": \"%s\", \"parameters\": {}}", method);
}

/* Call request: the answer must be the responder's echo of it, byte for byte. */
static void
expect_echo(const char *request)
{
    char *line = call(request);
    cr_assert_str_eq(line, rbgw_test_fmt("{\"result\": %s}", request),
                     "[%s] not the responder's echo; stderr:\n%s", kind_name(), errtail());
}

/* Call request: the answer must be rbgw's false naming keyword. */
static void
expect_false(const char *request, const char *keyword)
{
    rbgw_test_assert_false_reply(call(request), keyword);
}

/* The responder's records so far (kept until the end of the test). */
static size_t
records(struct fake_json_rec **out)
{
    size_t n = kind == UNIX ? fake_json_records(srv, out) : fake_json_pipe_records(dir, out);
    if (*out) {
        rbgw_test_keep(*out);
        for (size_t i = 0; i < n; i++) {
            rbgw_test_keep((*out)[i].data);
        }
    }
    return n;
}

static size_t
count_method(const char *method)
{
    struct fake_json_rec *r;
    size_t n = records(&r), k = 0;
    for (size_t i = 0; i < n; i++) {
        k += fake_json_rec_is(&r[i], method);
    }
    return k;
}

/* The connection index (unix) or child pid (pipe) that received the line exactly. */
static long
conn_of(const char *line)
{
    struct fake_json_rec *r;
    size_t n = records(&r);
    for (size_t i = n; i-- > 0;) {
        if (r[i].len == strlen(line) && memcmp(r[i].data, line, r[i].len) == 0) {
            return r[i].conn;
        }
    }
    cr_assert_fail("[%s] the responder never received <%s>", kind_name(), line);
    return -1;
}

static void
assert_initializes(size_t want)
{
    size_t got = count_method("initialize");
    cr_assert_eq(got, want, "[%s] the responder saw %zu initialize(s), expected %zu; stderr:\n%s",
                 kind_name(), got, want, errtail());
}

/* After the fault: descriptors and memory back to base; a pipe upstream has one live child. */
static void
settled(const struct rbgw_fault_base *base, const char *what)
{
    if (kind == PIPE) {
        rbgw_fault_assert_children(gw, 1);
    }
    rbgw_fault_assert_settled(gw, base, what);
}

/* pdns goes away: stdout must end with nothing more, rbgw must exit 0, cleanly. */
static void
finish(void)
{
    rbgw_test_assert_stdout_ends(gw);
    rbgw_test_assert_exit_0(gw);
    rbgw_test_assert_clean_stderr(gw);
}

/* A good call, then the baseline. */
static struct rbgw_fault_base
warm(void)
{
    expect_echo(lookup("warm.example."));
    if (kind == PIPE) {
        rbgw_fault_assert_children(gw, 1);
    }
    return rbgw_fault_base_take(gw);
}

#define BOTH(name)                                                                                 \
    Test(faults_stream, name##_unix)                                                               \
    {                                                                                              \
        name(UNIX);                                                                                \
    }                                                                                              \
    Test(faults_stream, name##_pipe)                                                               \
    {                                                                                              \
        name(PIPE);                                                                                \
    }

/* ---- a reply nobody asked for ---- */

/* Pipe: let the child blocked on <dir>/go write its unsolicited reply (bounded poll until the
 * child has the FIFO open for reading: before that, a non-blocking open fails with ENXIO). */
static void
release_fifo(void)
{
    const char *go = rbgw_test_fmt("%s/go", dir);
    long deadline = rbgw_test_now_ms() + IO_MS;
    int fd;
    while ((fd = open(go, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0 && errno == ENXIO &&
           rbgw_test_now_ms() < deadline) {
        poll(NULL, 0, 10);
    }
    cr_assert_geq(fd, 0, "the child never opened %s: %s", go, strerror(errno));
    cr_assert_eq(write(fd, "x", 1), 1);
    close(fd);
}

static void
unsolicited_reply(enum kind k)
{
    make_dir();
    if (k == PIPE) {
        cr_assert_eq(mkfifo(rbgw_test_fmt("%s/go", dir), 0600), 0, "mkfifo: %s", strerror(errno));
    }
    start(k, NULL, NULL);
    struct rbgw_fault_base base = warm();
    const char *trigger = method_call("unsolicited");
    expect_echo(trigger);
    long victim = conn_of(trigger);
    if (k == UNIX) {
        fake_json_inject(srv);
        cr_assert(fake_json_wait_closes(srv, 1, IO_MS),
                  "rbgw kept the connection on which a reply nobody asked for came; stderr:\n%s",
                  errtail());
    } else {
        release_fifo();
        rbgw_fault_assert_exited(victim);
    }
    const char *after = lookup("after.unsolicited.");
    expect_echo(after);
    cr_assert_neq(conn_of(after), victim,
                  "[%s] the call after the unsolicited reply went to the "
                  "same connection / child",
                  kind_name());
    assert_initializes(2);
    cr_assert(rbgw_test_stderr_has(gw, "nobody asked for"), "no log line; stderr:\n%s", errtail());
    settled(&base, "unsolicited reply");
    finish();
}
BOTH(unsolicited_reply)

/* ---- garbage ---- */

static void
junk_reply(enum kind k)
{
    start(k, NULL, NULL);
    struct rbgw_fault_base base = warm();
    const char *junk = method_call("junk");
    expect_false(junk, "JSON");
    long victim = conn_of(junk);
    if (k == PIPE) {
        rbgw_fault_assert_exited(victim);
    }
    const char *after = lookup("after.junk.");
    expect_echo(after);
    cr_assert_neq(conn_of(after), victim, "[%s] the connection / child that sent junk was reused",
                  kind_name());
    assert_initializes(2);
    settled(&base, "junk reply");
    finish();
}
BOTH(junk_reply)

/* ---- close mid-reply ---- */

static void
close_mid_reply(enum kind k)
{
    start(k, NULL, NULL);
    struct rbgw_fault_base base = warm();
    expect_false(method_call("crash-mid"), "middle of a reply");
    expect_echo(lookup("after.crash-mid."));
    assert_initializes(2);
    settled(&base, "close mid-reply");
    finish();
}
BOTH(close_mid_reply)

/* ---- the unix socket disappears and returns ---- */

Test(faults_stream, unix_socket_disappears_and_returns)
{
    /* retry-after=0: no back-off to wait out once it is back (the test waits for nothing). */
    start(UNIX, ",retry-after=0", NULL);
    struct rbgw_fault_base base = warm();

    const char *held = method_call("hold");
    cr_assert_eq(rbgw_proc_write_str(gw, rbgw_test_fmt("%s\n", held)), 0);
    cr_assert(fake_json_wait_held(srv, 1, IO_MS), "the held call did not arrive; stderr:\n%s",
              errtail());
    fake_json_stop(srv); /* closes every connection and unlinks the socket */
    srv = NULL;
    rbgw_test_assert_false_reply(rbgw_test_read_line(gw), "closed the connection");

    for (int i = 0; i < 3; i++) {
        expect_false(lookup(rbgw_test_fmt("gone%d.example.", i)), "no such file");
    }
    /* With the responder gone rbgw holds no connection to it. */
    struct rbgw_fault_base gone = base;
    gone.fds--;
    rbgw_fault_assert_settled(gw, &gone, "unix responder gone");

    srv = fake_json_unix_start(up_path);
    cr_assert_not_null(srv, "cannot restart the unix responder");
    expect_echo(lookup("returned.example."));
    expect_echo(lookup("returned.again.example."));
    assert_initializes(1); /* the new responder's records only */
    settled(&base, "unix socket gone and back");
    finish();
}

/* A unix listener at path whose accept queue is full: it never accepts, and the test's own
 * connections fill its backlog until one more would fail with EAGAIN.  Returns the listening
 * socket; the filling connections go to fill[] (*nfill of them). */
static int
full_listener(const char *path, int *fill, size_t max, size_t *nfill)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    cr_assert_lt(strlen(path), sizeof(sa.sun_path));
    strcpy(sa.sun_path, path);
    unlink(path);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(lfd, 0);
    cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind: %s", strerror(errno));
    cr_assert_eq(listen(lfd, 0), 0);
    *nfill = 0;
    for (;;) {
        cr_assert_lt(*nfill, max, "the backlog never filled");
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        cr_assert_geq(fd, 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            cr_assert_eq(errno, EAGAIN, "connect: %s", strerror(errno));
            close(fd);
            return lfd;
        }
        fill[(*nfill)++] = fd;
    }
}

Test(faults_stream, unix_accept_queue_full)
{
    start(UNIX, ",retry-after=0", NULL);
    struct rbgw_fault_base base = warm();
    fake_json_stop(srv); /* rbgw's idle connection sees the close */
    srv = NULL;
    struct rbgw_fault_base gone = base;
    gone.fds--;
    rbgw_fault_assert_settled(gw, &gone, "unix responder stopped");

    int fill[64];
    size_t nfill;
    int lfd = full_listener(up_path, fill, 64, &nfill);
    for (int i = 0; i < 3; i++) {
        expect_false(lookup(rbgw_test_fmt("queue-full%d.example.", i)), "temporarily unavailable");
    }
    rbgw_fault_assert_settled(gw, &gone, "accept queue full");
    for (size_t i = 0; i < nfill; i++) {
        close(fill[i]);
    }
    close(lfd);

    srv = fake_json_unix_start(up_path);
    cr_assert_not_null(srv, "cannot restart the unix responder");
    expect_echo(lookup("after.queue-full."));
    settled(&base, "accept queue full, then a responder again");
    finish();
}

/* ---- replies too deep or too large ---- */

Test(faults_stream, unix_deeply_nested_reply)
{
    start(UNIX, NULL, NULL);
    struct rbgw_fault_base base = warm();
    expect_false(method_call("nested"), "max-json-depth");
    expect_echo(lookup("after.nested."));
    settled(&base, "deeply nested reply");
    finish();
}

Test(faults_stream, unix_100mb_reply)
{
    start(UNIX, NULL, "--max-reply-size=2m");
    struct rbgw_fault_base base = warm();
    expect_false(method_call("huge"), "max-reply-size");
    rbgw_fault_assert_peak(gw, &base, "100 MB reply");
    expect_echo(lookup("after.huge."));
    assert_initializes(2);
    settled(&base, "100 MB reply");
    finish();
}

/* ---- pipe children that die ---- */

Test(faults_stream, pipe_child_crashes_during_initialize)
{
    make_dir();
    start(PIPE, ",retry-after=0", NULL);
    struct rbgw_fault_base base = warm();
    const char *crash = method_call("crash");
    expect_false(crash, "before replying");
    rbgw_fault_assert_exited(conn_of(crash));

    cr_assert_eq(fake_json_pipe_flag(dir, "init-crash", true), 0);
    for (int i = 0; i < 3; i++) {
        expect_false(lookup(rbgw_test_fmt("init-crash%d.example.", i)), "initialize");
    }
    rbgw_fault_assert_children(gw, 0); /* every child that died was reaped */
    cr_assert_eq(fake_json_pipe_flag(dir, "init-crash", false), 0);

    expect_echo(lookup("after.init-crash."));
    expect_echo(lookup("after.init-crash.again."));
    assert_initializes(5); /* the warm child, three that died in it, the good one */
    settled(&base, "child crashing in initialize");
    finish();
}

Test(faults_stream, pipe_child_exits_after_k_calls)
{
    make_dir();
    FILE *f = fopen(rbgw_test_fmt("%s/exit-after", dir), "w");
    cr_assert_not_null(f);
    fprintf(f, "%d\n", EXIT_AFTER);
    fclose(f);
    start(PIPE, NULL, NULL);
    struct rbgw_fault_base base = warm(); /* call 1 of the first child */

    const int calls = 4 * EXIT_AFTER; /* the warm call and these: 13, the last on a 5th child */
    for (int i = 2; i <= calls + 1; i++) {
        const char *q = lookup(rbgw_test_fmt("call%d.example.", i));
        expect_echo(q);
        if (i % EXIT_AFTER == 0) {
            /* The child exits after this reply; the next call must not race its exit (a call
             * written to a child that then dies is answered false, not retried: it may have
             * been acted on), so wait until it is gone: then rbgw either saw its stdout close
             * or gets EPIPE writing to it, and spawns a new one either way. */
            rbgw_fault_assert_exited(conn_of(q));
        }
    }
    assert_initializes(5);
    settled(&base, "children exiting after 3 calls");
    finish();
}

/* A child that exits while a grandchild it forked keeps its pipes open: no EOF comes on its
 * stdout, only its exit.  rbgw must not write the next call to the dead child (it would wait
 * for a reply until timeout= and answer false): the exit of an idle child ends its conn. */
Test(faults_stream, pipe_child_exits_while_a_grandchild_holds_its_pipes)
{
    make_dir();
    FILE *f = fopen(rbgw_test_fmt("%s/exit-after", dir), "w");
    cr_assert_not_null(f);
    fprintf(f, "1\n");
    fclose(f);
    cr_assert_eq(fake_json_pipe_flag(dir, "orphan", true), 0);
    start(PIPE, NULL, NULL);
    const char *first = lookup("warm.example.");
    expect_echo(first);                /* the child exits after this reply */
    rbgw_fault_assert_children(gw, 0); /* exited and reaped: rbgw knows it is gone */
    struct rbgw_fault_base base = rbgw_fault_base_take(gw);
    for (int i = 0; i < 3; i++) {
        const char *q = lookup(rbgw_test_fmt("next%d.example.", i));
        expect_echo(q);
        rbgw_fault_assert_exited(conn_of(q));
        rbgw_fault_assert_children(gw, 0);
    }
    assert_initializes(4);
    rbgw_fault_assert_settled(gw, &base, "children exiting with their pipes held open");
    finish();
}

/* ---- ZeroMQ: the peer restarts ---- */

/* The zeromq responder's next call message (initializes skipped), bounded. */
static struct zr_msg
next_call(void)
{
    struct zr_msg m;
    for (;;) {
        cr_assert_eq(zmq_responder_next(zr, IO_MS, &m), 0,
                     "the zeromq responder received no call; stderr:\n%s", errtail());
        if (!m.initialize) {
            return m;
        }
        zr_msg_free(&m);
    }
}

/* Poll (bounded) until n of rbgw's REQ sockets are connected to the responder's ipc path. */
static void
wait_zmq_peers(const char *ipc_path, int n)
{
    long deadline = rbgw_test_now_ms() + IO_MS;
    while (rbgw_test_unix_conns(getpid(), ipc_path) != n && rbgw_test_now_ms() < deadline) {
        poll(NULL, 0, 10);
    }
    cr_assert_eq(rbgw_test_unix_conns(getpid(), ipc_path), n,
                 "%d of rbgw's sockets connected to the responder, want %d; stderr:\n%s",
                 rbgw_test_unix_conns(getpid(), ipc_path), n, errtail());
}

static void
zmq_call_served(const char *qname, bool new_socket)
{
    const char *req = lookup(qname);
    const char *rep = rbgw_test_fmt("{\"result\": [{\"qname\": \"%s\"}]}", qname);
    zmq_responder_push(zr, ZR_REPLY, rep);
    char *got = call(req);
    cr_assert_str_eq(got, rep, "zeromq: not the responder's reply; stderr:\n%s", errtail());
    struct zr_msg m;
    cr_assert_eq(zmq_responder_next(zr, IO_MS, &m), 0);
    cr_assert_eq(m.initialize, new_socket, "zeromq: %s initialize before <%s>",
                 new_socket ? "no" : "an unexpected", req);
    if (new_socket) {
        zr_msg_free(&m);
        cr_assert_eq(zmq_responder_next(zr, IO_MS, &m), 0);
    }
    cr_assert_str_eq(m.data, req);
    zr_msg_free(&m);
}

Test(faults_stream, zmq_peer_restarts_with_calls_in_flight_and_after)
{
    make_dir();
    const char *ipc_path = rbgw_test_fmt("%s/zr.sock", dir);
    const char *ep = rbgw_test_fmt("ipc://%s", ipc_path);
    zr = zmq_responder_start(ep);
    cr_assert_not_null(zr, "cannot start the zeromq responder on %s", ep);
    spawn(rbgw_test_fmt("zeromq:endpoint=%s,timeout=%d,connect-timeout=%d,retry-after=0", ep,
                        ZMQ_TIMEOUT_MS, ZMQ_TIMEOUT_MS),
          true, NULL);

    zmq_call_served("warm.example.", true);
    struct rbgw_fault_base base = rbgw_fault_base_take(gw);

    /* Two calls held by the responder, on two sockets. */
    const char *held[2];
    for (int i = 0; i < 2; i++) {
        zmq_responder_push(zr, ZR_STALL, NULL);
        cl[i] = fake_json_connect(gw_sock);
        cr_assert_not_null(cl[i], "connect %s: %s", gw_sock, strerror(errno));
        held[i] = lookup(rbgw_test_fmt("held%d.example.", i));
        rbgw_test_client_send(cl[i], held[i]);
        struct zr_msg m = next_call();
        cr_assert_str_eq(m.data, held[i]);
        zr_msg_free(&m);
    }

    /* The peer restarts: closed (the held calls are lost with it) and bound again. */
    zmq_responder_stop(zr);
    zr = zmq_responder_start(ep);
    cr_assert_not_null(zr, "cannot restart the zeromq responder");
    for (int i = 0; i < 2; i++) {
        rbgw_test_assert_false_reply(rbgw_test_client_read(cl[i], gw), "timed out");
    }
    /* Exactly one answer each: a call after it on the same connection gets its own. */
    for (int i = 0; i < 2; i++) {
        const char *q = lookup(rbgw_test_fmt("after%d.example.", i));
        const char *rep = rbgw_test_fmt("{\"result\": [{\"qname\": \"after%d.example.\"}]}", i);
        zmq_responder_push(zr, ZR_REPLY, rep);
        rbgw_test_client_send(cl[i], q);
        cr_assert_str_eq(rbgw_test_client_read(cl[i], gw), rep, "stderr:\n%s", errtail());
        fake_json_client_free(cl[i]);
        cl[i] = NULL;
    }
    for (size_t n = zmq_responder_pending(zr); n > 0; n--) {
        struct zr_msg m;
        cr_assert_eq(zmq_responder_next(zr, IO_MS, &m), 0);
        zr_msg_free(&m);
    }

    /* The timed-out sockets were closed: one socket is left, idle (the pool reuses its most
     * recent one), as at the baseline. */
    wait_zmq_peers(ipc_path, 1);
    rbgw_fault_assert_settled(gw, &base, "zeromq peer restart with calls in flight");

    /* A second restart while that socket is idle: libzmq reconnects it (no new initialize,
     * as pdns); once it is connected again the next call is served on it. */
    zmq_responder_stop(zr);
    zr = zmq_responder_start(ep);
    cr_assert_not_null(zr, "cannot restart the zeromq responder");
    wait_zmq_peers(ipc_path, 1);
    zmq_call_served("after.restart.example.", false);
    rbgw_fault_assert_settled(gw, &base, "zeromq peer restart while idle");

    /* pdns goes away (stdin closed; SIGTERM for the unix listener): nothing more on stdout. */
    rbgw_proc_close_stdin(gw);
    cr_assert_eq(kill(rbgw_proc_pid(gw), SIGTERM), 0);
    char *rest;
    size_t rest_len;
    cr_assert_eq(rbgw_proc_read_to_eof(gw, IO_MS, &rest, &rest_len), 0);
    rbgw_test_keep(rest);
    cr_assert_eq(rest_len, 0, "rbgw wrote more after the last answer: <%s>", rest);
    rbgw_test_assert_exit_0(gw);
    rbgw_test_assert_clean_stderr(gw);
}

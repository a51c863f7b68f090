/*
 * test_unix_listener.c: the rbgw binary serving pdns's unix connector (docs/protocol.md §4.2).
 *
 *   clients (pdns-like, support/fake_json.h) ──unix socket──> rbgw --listen=unix:path=...
 *                                                            │ --upstream=pipe:command=...
 *   test ──stdin/stdout (readiness probe)──> --listen=pipe   └──pipes──> responder.py (echo)
 *
 * What is checked: several connections at once, each strictly request -> reply with '\n',
 * `initialize` answered locally on every connection (the responder only ever sees rbgw's own),
 * replies routed to the connection that asked (the echo responder's reply holds the request);
 * a stale socket file is replaced; a path a live server answers on, or a non-socket file, makes
 * rbgw refuse to start (status != 0, a message on stderr) and leaves the path alone; mode= is
 * applied; SIGTERM ends rbgw with status 0, closes idle connections and removes the socket file,
 * and a call in flight at that moment is still answered first.
 *
 * Framing over the listener's shared read slab (jsonconn.c): a call written one byte at a time;
 * partial calls pending on two connections at once (each must keep its own bytes); many calls
 * written in one go and cut into small pieces at arbitrary places, answered one per call, in
 * order; a call larger than the read slab, with a small call behind it in the same write; an
 * oversized call (max-request-size) spanning several reads with a valid call behind it.
 *
 * Readiness: rbgw also gets a pipe listener; listeners start before its loop runs, so once the
 * probe on stdin is answered the unix socket accepts (fake_json_gw_ready).  Reads are bounded
 * by IO_BOUND_MS only so that a broken build fails instead of hanging; nothing waits for a
 * duration.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "fake_json.h"
#include "itest.h"
#include "rbgw_proc.h"

#define IO_BOUND_MS 10000 /* safety bound for one read/wait, not a timing assertion */
#define NCLIENTS 3
#define ROUNDS 4

/* What pdns sends first on every unix connection (§3.1), path option included. */
#define PDNS_INITIALIZE_FMT                                                                        \
    "{\"method\": \"initialize\", \"parameters\": {\"path\": \"%s\", \"timeout\": \"2000\"}}"
#define LOOKUP_FMT                                                                                 \
    "{\"method\": \"lookup\", \"parameters\": {\"local\": \"192.0.2.53\", \"qname\": \"%s\", "     \
    "\"qtype\": \"ANY\", \"real-remote\": \"198.51.100.0/24\", \"remote\": \"198.51.100.7\", "     \
    "\"zone-id\": %d}}"

static char *dir;                             /* the test's directory */
static char *cmd;                             /* the echo responder's command= */
static char *sock;                            /* rbgw's socket path */
static struct rbgw_proc *gw;                  /* rbgw, or NULL */
static struct fake_json_client *cl[NCLIENTS]; /* clients, or NULL */
static struct fake_json *up;                  /* a unix responder, or NULL */
static int held_fd = -1;                      /* a socket the test holds on the path, or -1 */

static void
teardown(void)
{
    rbgw_proc_free(gw);
    gw = NULL;
    for (size_t i = 0; i < NCLIENTS; i++) {
        fake_json_client_free(cl[i]);
        cl[i] = NULL;
    }
    if (held_fd >= 0) {
        close(held_fd);
        held_fd = -1;
    }
    fake_json_stop(up);
    up = NULL;
    fake_json_rmtree(dir);
    free(dir);
    dir = NULL;
    free(cmd);
    cmd = NULL;
    rbgw_test_release();
}

TestSuite(unix_listener, .fini = teardown, .timeout = 30);

/* ---- helpers ---- */

static void
setup_dir(void)
{
    dir = fake_json_mkdtemp();
    cr_assert_not_null(dir, "mkdtemp: %s", strerror(errno));
    cmd = fake_json_pipe_script(dir);
    cr_assert_not_null(cmd, "cannot write the pipe responder: %s", strerror(errno));
    sock = rbgw_test_fmt("%s/rbgw.sock", dir);
}

/* Spawn rbgw: unix listener on sock (extra options appended), pipe listener, echo upstream. */
static void
spawn_gw(const char *listen_extra)
{
    const char *args[] = {
        rbgw_test_fmt("--listen=unix:path=%s%s", sock, listen_extra ? listen_extra : ""),
        "--listen=pipe",
        rbgw_test_fmt("--upstream=pipe:command=%s,timeout=5000,connect-timeout=5000", cmd),
        "--log-level=debug", NULL};
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
}

/* Spawn rbgw as spawn_gw(NULL) does, plus one more option (e.g. --max-request-size=N). */
static void
start_gw_with(const char *option)
{
    const char *args[] = {
        rbgw_test_fmt("--listen=unix:path=%s", sock),
        "--listen=pipe",
        rbgw_test_fmt("--upstream=pipe:command=%s,timeout=5000,connect-timeout=5000", cmd),
        "--log-level=debug",
        option,
        NULL};
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
    cr_assert(fake_json_gw_ready(gw, IO_BOUND_MS), "rbgw did not start; stderr:\n%s",
              rbgw_test_stderr(gw));
}

static void
start_gw(const char *listen_extra)
{
    spawn_gw(listen_extra);
    cr_assert(fake_json_gw_ready(gw, IO_BOUND_MS), "rbgw did not start; stderr:\n%s",
              rbgw_test_stderr(gw));
}

static void
connect_client(size_t i)
{
    cl[i] = fake_json_connect(sock);
    cr_assert_not_null(cl[i], "connect %s: %s; stderr:\n%s", sock, strerror(errno),
                       rbgw_test_stderr(gw));
}

static void
client_send(size_t i, const char *bytes)
{
    cr_assert_eq(fake_json_send(cl[i], bytes, strlen(bytes)), 0, "client %zu: send failed", i);
}

static char *
client_read(size_t i)
{
    size_t len;
    char *line = fake_json_read_line(cl[i], IO_BOUND_MS, &len);
    int why = errno;
    if (line) {
        rbgw_test_keep(line);
    }
    cr_assert_not_null(line, "client %zu: no reply line (%s); stderr:\n%s", i,
                       why == ETIMEDOUT ? "nothing within the safety bound" : "EOF",
                       rbgw_test_stderr(gw));
    cr_assert_eq(strlen(line), len, "client %zu: reply holds a NUL byte", i);
    return line;
}

/* pdns's initialize on client i: answered {"result": true} by rbgw itself. */
static void
client_initialize(size_t i)
{
    client_send(i, rbgw_test_fmt(PDNS_INITIALIZE_FMT "\n", sock));
    char *line = client_read(i);
    char err[128] = "";
    yajl_val v = yajl_tree_parse(line, err, sizeof(err));
    cr_assert_not_null(v, "client %zu: initialize reply is not JSON: <%s>", i, line);
    const char *path[] = {"result", NULL};
    yajl_val r = yajl_tree_get(v, path, yajl_t_any);
    bool ok = r && YAJL_IS_TRUE(r);
    yajl_tree_free(v);
    cr_assert(ok, "client %zu: initialize answered <%s>", i, line);
}

static char *
lookup(const char *qname, int zone_id)
{
    return rbgw_test_fmt(LOOKUP_FMT, qname, zone_id);
}

static char *
echo_of(const char *request)
{
    return rbgw_test_fmt("{\"result\": %s}", request);
}

/* The responder's records (kept until the end of the test). */
static size_t
records(struct fake_json_rec **out)
{
    size_t n = fake_json_pipe_records(dir, out);
    if (*out) {
        rbgw_test_keep(*out);
        for (size_t i = 0; i < n; i++) {
            rbgw_test_keep((*out)[i].data);
        }
    }
    return n;
}

/* A qname of n letters (then ".example."): for calls of a chosen size. */
static char *
long_name(size_t n, char letter)
{
    char *s = rbgw_test_keep(malloc(n + sizeof(".example.")));
    memset(s, letter, n);
    memcpy(s + n, ".example.", sizeof(".example."));
    return s;
}

static void
client_send_raw(size_t i, const char *bytes, size_t len)
{
    cr_assert_eq(fake_json_send(cl[i], bytes, len), 0, "client %zu: send failed", i);
}

/* Client i reads the next reply: it must be the echo of request, and nothing may follow. */
static void
expect_echo(size_t i, const char *request, const char *what)
{
    char *line = client_read(i);
    char *want = echo_of(request);
    cr_assert(strcmp(line, want) == 0, "client %zu, %s: got %zu bytes <%.200s>; stderr:\n%s", i,
              what, strlen(line), line, rbgw_test_stderr(gw));
}

/* Client i reads the next reply: {"result": false} with a log saying why. */
static void
expect_false(size_t i, const char *keyword)
{
    char *line = client_read(i);
    char err[128] = "";
    yajl_val v = yajl_tree_parse(line, err, sizeof(err));
    cr_assert_not_null(v, "client %zu: reply is not JSON: <%s>", i, line);
    const char *rpath[] = {"result", NULL}, *lpath[] = {"log", NULL};
    yajl_val r = yajl_tree_get(v, rpath, yajl_t_any);
    yajl_val log = yajl_tree_get(v, lpath, yajl_t_array);
    bool is_false = r && YAJL_IS_FALSE(r);
    const char *first =
        log && log->u.array.len > 0 ? YAJL_GET_STRING(log->u.array.values[0]) : NULL;
    bool says = first && strcasestr(first, keyword) != NULL;
    yajl_tree_free(v);
    cr_assert(is_false, "client %zu: expected \"result\": false, got <%s>", i, line);
    cr_assert(says, "client %zu: the log does not mention \"%s\": <%s>", i, keyword, line);
}

/* How many of the responder's records are exactly request. */
static size_t
times_seen(const char *request)
{
    struct fake_json_rec *r;
    size_t n = records(&r), seen = 0;
    for (size_t k = 0; k < n; k++) {
        seen += r[k].len == strlen(request) && memcmp(r[k].data, request, r[k].len) == 0;
    }
    return seen;
}

static void
assert_exit_status(bool want_zero)
{
    int status = 0;
    int rc = rbgw_proc_wait(gw, IO_BOUND_MS, &status);
    cr_assert_eq(rc, 0, "rbgw did not exit; stderr:\n%s", rbgw_test_stderr(gw));
    cr_assert(WIFEXITED(status), "rbgw died by signal %d; stderr:\n%s",
              WIFSIGNALED(status) ? WTERMSIG(status) : -1, rbgw_test_stderr(gw));
    if (want_zero) {
        cr_assert_eq(WEXITSTATUS(status), 0, "rbgw exit status %d; stderr:\n%s",
                     WEXITSTATUS(status), rbgw_test_stderr(gw));
    } else {
        cr_assert_neq(WEXITSTATUS(status), 0, "rbgw exited 0; stderr:\n%s", rbgw_test_stderr(gw));
    }
}

/* A unix socket bound on path; listening if listening, else closed (leaving a stale file). */
static void
make_socket_file(const char *path, bool listening)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind %s: %s", path,
                 strerror(errno));
    if (listening) {
        cr_assert_eq(listen(fd, 8), 0);
        held_fd = fd;
    } else {
        close(fd);
    }
}

/* ---- tests ---- */

/* Three pdns connections at once, each initialize + ROUNDS lookups; in every round all three
 * requests are written before any reply is read.  Each reply is the echo of that connection's
 * own request, on one line ending in '\n', and nothing else arrives. */
Test(unix_listener, concurrent_connections_routed, .timeout = 30)
{
    setup_dir();
    start_gw(NULL);
    for (size_t i = 0; i < NCLIENTS; i++) {
        connect_client(i);
    }
    for (size_t i = 0; i < NCLIENTS; i++) {
        client_initialize(i);
    }
    for (int round = 0; round < ROUNDS; round++) {
        char *req[NCLIENTS];
        for (size_t i = 0; i < NCLIENTS; i++) {
            req[i] = lookup(rbgw_test_fmt("c%zu-r%d.example.com.", i, round), (int)i + 1);
            client_send(i, rbgw_test_fmt("%s\n", req[i]));
        }
        for (size_t i = NCLIENTS; i-- > 0;) { /* read in the opposite order, for good measure */
            char *line = client_read(i);
            cr_assert_str_eq(line, echo_of(req[i]),
                             "client %zu round %d got another reply; stderr:\n%s", i, round,
                             rbgw_test_stderr(gw));
            cr_assert_eq(fake_json_pending(cl[i]), 0, "client %zu: bytes after the reply", i);
        }
    }
    /* The responder saw every lookup exactly once, and only rbgw's own initialize(s). */
    struct fake_json_rec *r;
    size_t n = records(&r);
    size_t lookups = 0;
    for (size_t k = 0; k < n; k++) {
        if (fake_json_rec_is(&r[k], "initialize")) {
            cr_assert_not_null(strstr(r[k].data, "\"command\": "),
                               "pdns's initialize reached the responder: <%s>", r[k].data);
        } else {
            lookups++;
        }
    }
    cr_assert_eq(lookups, NCLIENTS * ROUNDS, "the responder saw %zu calls", lookups);
    for (int round = 0; round < ROUNDS; round++) {
        for (size_t i = 0; i < NCLIENTS; i++) {
            char *want = lookup(rbgw_test_fmt("c%zu-r%d.example.com.", i, round), (int)i + 1);
            size_t seen = 0;
            for (size_t k = 0; k < n; k++) {
                seen += r[k].len == strlen(want) && memcmp(r[k].data, want, r[k].len) == 0;
            }
            cr_assert_eq(seen, 1, "call %s reached the responder %zu times", want, seen);
        }
    }
}

/* Requests that arrive together on one connection are answered one by one, in order. */
Test(unix_listener, back_to_back_requests_answered_in_order, .timeout = 30)
{
    setup_dir();
    start_gw(NULL);
    connect_client(0);
    char *a = lookup("first.example.", 1), *b = lookup("second.example.", 2),
         *c = lookup("third.example.", 3);
    client_send(0, rbgw_test_fmt(PDNS_INITIALIZE_FMT "\n%s\n%s\n%s\n", sock, a, b, c));
    cr_assert_str_eq(client_read(0), "{\"result\":true}");
    cr_assert_str_eq(client_read(0), echo_of(a));
    cr_assert_str_eq(client_read(0), echo_of(b));
    cr_assert_str_eq(client_read(0), echo_of(c));
}

/* A socket file left by a dead server is replaced, and the new socket serves. */
Test(unix_listener, stale_socket_file_replaced, .timeout = 30)
{
    setup_dir();
    make_socket_file(sock, false);
    struct stat st;
    cr_assert_eq(stat(sock, &st), 0);
    cr_assert(S_ISSOCK(st.st_mode));
    start_gw(NULL);
    connect_client(0);
    client_initialize(0);
    char *req = lookup("after.stale.example.", 7);
    client_send(0, rbgw_test_fmt("%s\n", req));
    cr_assert_str_eq(client_read(0), echo_of(req));
}

/* A live server on the path: rbgw refuses to start, says why, and leaves that server alone. */
Test(unix_listener, live_path_refused, .timeout = 30)
{
    setup_dir();
    make_socket_file(sock, true);
    spawn_gw(NULL);
    assert_exit_status(false);
    const char *err = rbgw_test_stderr(gw);
    cr_assert_not_null(strstr(err, sock), "stderr does not name the path:\n%s", err);
    cr_assert_not_null(strcasestr(err, "in use"), "stderr does not say the path is in use:\n%s",
                       err);
    struct stat st;
    cr_assert_eq(stat(sock, &st), 0, "rbgw removed the live server's socket file");
    connect_client(0); /* the test's own listening socket still takes connections */
}

/* A path that is not a socket is never replaced. */
Test(unix_listener, regular_file_path_refused, .timeout = 30)
{
    setup_dir();
    int fd = open(sock, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "keep me\n", 8), 8);
    close(fd);
    spawn_gw(NULL);
    assert_exit_status(false);
    const char *err = rbgw_test_stderr(gw);
    cr_assert_not_null(strstr(err, sock), "stderr does not name the path:\n%s", err);
    struct stat st;
    cr_assert_eq(stat(sock, &st), 0, "rbgw removed a regular file");
    cr_assert(S_ISREG(st.st_mode) && st.st_size == 8, "rbgw changed a regular file");
}

/* mode= sets the socket file's permission bits exactly (not filtered by the umask). */
Test(unix_listener, mode_applied, .timeout = 30)
{
    setup_dir();
    start_gw(",mode=0604");
    struct stat st;
    cr_assert_eq(stat(sock, &st), 0, "no socket file: %s", strerror(errno));
    cr_assert(S_ISSOCK(st.st_mode), "%s is not a socket", sock);
    cr_assert_eq(st.st_mode & 07777, 0604, "socket mode %04o, expected 0604",
                 (unsigned)(st.st_mode & 07777));
}

/* SIGTERM: idle pdns connections are closed, rbgw exits 0, and the socket file is gone. */
Test(unix_listener, sigterm_exits_zero_and_removes_socket, .timeout = 30)
{
    setup_dir();
    start_gw(NULL);
    connect_client(0);
    client_initialize(0);
    char *req = lookup("before.sigterm.example.", 1);
    client_send(0, rbgw_test_fmt("%s\n", req));
    cr_assert_str_eq(client_read(0), echo_of(req));
    struct stat st;
    cr_assert_eq(stat(sock, &st), 0);

    cr_assert_eq(kill(rbgw_proc_pid(gw), SIGTERM), 0);
    assert_exit_status(true);
    size_t len;
    char *line = fake_json_read_line(cl[0], IO_BOUND_MS, &len);
    int why = errno;
    free(line);
    cr_assert(line == NULL && why == 0, "the idle connection was not closed at exit (%s)",
              line ? "got a line" : "no EOF within the safety bound");
    cr_assert_neq(stat(sock, &st), 0, "the socket file is still there after exit");
    cr_assert_eq(errno, ENOENT);
    const char *err = rbgw_test_keep(rbgw_proc_stderr(gw, 0));
    cr_assert(!strstr(err, "Sanitizer") && !strstr(err, "runtime error:"),
              "sanitizer report in rbgw's stderr:\n%s", err);
}

/* SIGTERM while a call is upstream: no new calls are read, but that call's reply is still
 * written, then the connection is closed and rbgw exits 0.  The unix responder holds the call
 * until rbgw has acted on the signal, so the order of events is fixed. */
Test(unix_listener, sigterm_answers_the_call_in_flight, .timeout = 30)
{
    setup_dir();
    char *up_path = rbgw_test_fmt("%s/up.sock", dir);
    up = fake_json_unix_start(up_path);
    cr_assert_not_null(up, "cannot start the unix responder: %s", strerror(errno));
    const char *args[] = {rbgw_test_fmt("--listen=unix:path=%s", sock), "--listen=pipe",
                          rbgw_test_fmt("--upstream=unix:path=%s,timeout=10000", up_path),
                          "--log-level=debug", NULL};
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
    cr_assert(fake_json_gw_ready(gw, IO_BOUND_MS), "rbgw did not start; stderr:\n%s",
              rbgw_test_stderr(gw));
    connect_client(0);
    client_initialize(0);
    const char *req = "{\"method\": \"hold\", \"parameters\": {\"in-flight\": true}}";
    client_send(0, rbgw_test_fmt("%s\n", req));
    cr_assert(fake_json_wait_held(up, 1, IO_BOUND_MS),
              "the call never reached the responder; "
              "stderr:\n%s",
              rbgw_test_stderr(gw));
    cr_assert_eq(kill(rbgw_proc_pid(gw), SIGTERM), 0);
    /* A connection made now is closed unserved once rbgw has acted on the signal (an idle pdns
     * connection is only ever closed at shutdown): its EOF says the stop is under way. */
    connect_client(1);
    size_t len;
    char *line = fake_json_read_line(cl[1], IO_BOUND_MS, &len);
    int why = errno;
    free(line);
    cr_assert(line == NULL && why == 0, "a connection made after SIGTERM was not closed");
    fake_json_release(up);
    cr_assert_str_eq(client_read(0), echo_of(req), "the in-flight call was not answered");
    line = fake_json_read_line(cl[0], IO_BOUND_MS, &len);
    why = errno;
    free(line);
    cr_assert(line == NULL && why == 0, "the connection was not closed after the reply");
    assert_exit_status(true);
    struct stat st;
    cr_assert_neq(stat(sock, &st), 0, "the socket file is still there after exit");
}

/* A call written one byte per write(2): rbgw keeps the growing partial call between reads and
 * answers it once, when its last byte has come; the '\n' after it (a write of its own) makes no
 * second reply. */
Test(unix_listener, call_written_byte_by_byte, .timeout = 30)
{
    setup_dir();
    start_gw(NULL);
    connect_client(0);
    client_initialize(0);
    char *req = lookup("byte.by.byte.example.", 9);
    for (size_t k = 0; req[k]; k++) {
        client_send_raw(0, req + k, 1);
    }
    client_send(0, "\n");
    expect_echo(0, req, "call written byte by byte");
    /* The connection goes on normally, and only one reply came for that call. */
    char *next = lookup("after.bytes.example.", 10);
    client_send(0, rbgw_test_fmt("%s\n", next));
    expect_echo(0, next, "the call after it");
    cr_assert_eq(fake_json_pending(cl[0]), 0, "bytes after the last reply");
    cr_assert_eq(times_seen(req), 1);
}

/* Two connections each leave half a call with rbgw, then finish it (in the other order): each
 * connection's kept bytes stay its own although both read through the listener's one slab. */
Test(unix_listener, partial_calls_on_two_connections_stay_apart, .timeout = 30)
{
    setup_dir();
    start_gw(NULL);
    connect_client(0);
    connect_client(1);
    client_initialize(0);
    client_initialize(1);
    char *a = lookup("aaaa.first.connection.example.", 1);
    char *b = lookup("bbbb.second.connection.example.", 2);
    size_t cut_a = strlen(a) / 2, cut_b = strlen(b) / 3;
    client_send_raw(0, a, cut_a);
    client_send_raw(1, b, cut_b);
    client_send_raw(1, b + cut_b, strlen(b) - cut_b);
    client_send(1, "\n");
    expect_echo(1, b, "second connection");
    client_send_raw(0, a + cut_a, strlen(a) - cut_a);
    client_send(0, "\n");
    expect_echo(0, a, "first connection");
    cr_assert_eq(fake_json_pending(cl[0]), 0);
    cr_assert_eq(fake_json_pending(cl[1]), 0);
}

/* Many calls written in one go, with blank lines and CRLF between some, cut into 7-byte writes:
 * calls straddle reads and queue behind the one in flight; every call gets exactly one reply,
 * in order, and the responder sees each once. */
Test(unix_listener, pipelined_calls_in_small_pieces_answered_in_order, .timeout = 30)
{
    enum { N = 40, PIECE = 7 };
    setup_dir();
    start_gw(NULL);
    connect_client(0);
    client_initialize(0);
    char *req[N];
    size_t cap = N * 400, len = 0;
    char *all = rbgw_test_keep(malloc(cap));
    for (int i = 0; i < N; i++) {
        req[i] = lookup(rbgw_test_fmt("p%d.pipelined.example.", i), i + 1);
        len += (size_t)snprintf(all + len, cap - len, "%s%s", req[i],
                                i % 4 == 0 ? "\r\n\n  \n" : "\n");
    }
    cr_assert_lt(len, cap);
    for (size_t off = 0; off < len; off += PIECE) {
        client_send_raw(0, all + off, len - off < PIECE ? len - off : PIECE);
    }
    for (int i = 0; i < N; i++) {
        expect_echo(0, req[i], rbgw_test_fmt("pipelined call %d", i));
    }
    cr_assert_eq(fake_json_pending(cl[0]), 0, "more replies than calls");
    for (int i = 0; i < N; i++) {
        cr_assert_eq(times_seen(req[i]), 1, "call %d reached the responder %zu times", i,
                     times_seen(req[i]));
    }
}

/* A call of ~200 KiB (several times the 64 KiB read slab) with a small call behind it in the
 * same write: the big one is gathered across reads and passed on whole, then the small one is
 * answered; then a call on its own still works. */
Test(unix_listener, call_larger_than_the_read_slab, .timeout = 30)
{
    setup_dir();
    start_gw(NULL);
    connect_client(0);
    client_initialize(0);
    char *big = lookup(long_name(200000, 'x'), 3);
    char *small = lookup("behind.the.big.one.example.", 4);
    client_send(0, rbgw_test_fmt("%s\n%s\n", big, small));
    expect_echo(0, big, "the big call");
    expect_echo(0, small, "the call behind it");
    char *last = lookup("afterwards.example.", 5);
    client_send(0, rbgw_test_fmt("%s\n", last));
    expect_echo(0, last, "a later call");
    cr_assert_eq(fake_json_pending(cl[0]), 0);
    cr_assert_eq(times_seen(big), 1);
}

/* max-request-size on the unix listener: a call of ~150 KiB (more than one read) against a
 * 4 KiB limit is answered false without reaching the responder, its rest is skipped, and the
 * call written right behind it (same write) is answered normally. */
Test(unix_listener, oversized_call_over_several_reads_then_next_call, .timeout = 30)
{
    setup_dir();
    start_gw_with("--max-request-size=4096");
    connect_client(0);
    client_initialize(0);
    char *big = lookup(long_name(150000, 'y'), 6);
    char *next = lookup("after.oversized.example.", 7);
    client_send(0, rbgw_test_fmt("%s\n%s\n", big, next));
    expect_false(0, "max-request-size");
    expect_echo(0, next, "the call behind the oversized one");
    cr_assert_eq(fake_json_pending(cl[0]), 0, "more replies than calls");
    cr_assert_eq(times_seen(big), 0, "the oversized call reached the responder");
    cr_assert_eq(times_seen(next), 1);
}

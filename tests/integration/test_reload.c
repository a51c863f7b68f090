/*
 * test_reload.c: reload (SIGHUP), drain (SIGTERM, SIGINT, SIGQUIT) and the other signals, on
 * the rbgw binary (docs/operations.md, Reload and Signals).
 *
 *   pdns-like clients: 4 on the unix listener ──┐
 *                      1 on the pipe listener ──┼──> rbgw --config=rbgw.conf ──> responders
 *   a connector: connect/close on the unix      │         ^ SIGHUP after rewriting rbgw.conf
 *                and HTTP listeners, in a loop ─┘         └ test (main thread)
 *
 * reload_under_load (the measured one): 20 SIGHUPs alternate two configurations while the
 * clients call without pause.  Configuration X routes www.example.com. to responder A
 * (upstream a), Y to responder B (upstream b; a is gone), and both route names under c.example.
 * to responder C through upstream c, whose timeout differs between X and Y (so c is a new
 * upstream at every reload).  The responders answer with distinct addresses, so every reply
 * says which upstream answered.  The check cannot fail on a correct rbgw: a call's dispatch
 * happens between its send and its reply, so its generation lies between the generation known
 * to be in force when it was sent (the test saw rbgw log it) and the highest one asked for when
 * its reply came (SIGHUPs sent + 1, counted before the signal); one generation each way means
 * one configuration, else either of the two is right.  What is asserted: every call answered,
 * none false, each with the right address; at least MIN_EXACT calls of each kind whose
 * generation is exactly known, in every one of the 21 generations (so every generation was
 * really exercised); every connect to the kept listeners accepted during the 20 reloads; b,
 * kept by every reload, never opened more connections than its max-conns (re-created at each
 * Y generation it would have opened at least 10), while a and c were re-created as planned.
 *
 * Then, one case each: a refused reload (a bad line, a routing error, a port that cannot be
 * bound, a command that is not executable) says file:line on stderr and the old configuration
 * keeps serving, and the fixed file then goes in with its log level; a removed upstream, and a
 * removed listener, answer the call they hold, then close; a transaction opened before a
 * reload that removes its upstream commits there; SIGTERM answers every call in flight and
 * exits 0; SIGINT drains too and a second stop signal exits at once with status 1; a drain whose
 * last answer cannot be written (pdns not reading) ends at deadline= and exits 0; SIGUSR1 logs a
 * status line, SIGUSR2 toggles debug logging, SIGPIPE is ignored, SIGQUIT drains.
 *
 * Readiness and waits: fake_json_gw_ready (listeners start before the loop runs), reads
 * bounded by IO_MS, log lines and responder states waited for by bounded polls.  Nothing waits
 * for a duration and nothing is timed.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake_http.h"
#include "fake_json.h"
#include "itest.h"
#include "netio.h"
#include "rbgw/common.h"
#include "rbgw_proc.h"

#define IO_MS 10000 /* safety bound for one read or wait, not a timing assertion */
#define NRELOADS 20 /* SIGHUPs in reload_under_load */
#define NGENS (NRELOADS + 1)
#define NUNIX 4       /* unix clients in reload_under_load */
#define MIN_EXACT 25  /* calls of each kind with a known generation, per generation */
#define PORT_TRIES 5  /* rbgw's HTTP port taken by somebody else meanwhile: try another */
#define B_MAX_CONNS 8 /* b's max-conns (the default) */

#define ADDR_A "\"192.0.2.11\""
#define ADDR_B "\"192.0.2.22\""
#define ADDR_C "\"192.0.2.33\""
#define BODY(name, addr)                                                                           \
    "{\"result\":[{\"qtype\":\"A\",\"qname\":\"" name "\",\"content\":" addr ",\"ttl\":60}]}"

#define INITIALIZE "{\"method\": \"initialize\", \"parameters\": {\"timeout\": \"2000\"}}"
#define LOOKUP_FMT                                                                                 \
    "{\"method\": \"lookup\", \"parameters\": {\"local\": \"192.0.2.53\", \"qname\": \"%s\", "     \
    "\"qtype\": \"A\", \"real-remote\": \"198.51.100.0/24\", \"remote\": \"198.51.100.7\", "       \
    "\"zone-id\": -1}}"
#define HOLD_FMT "{\"method\": \"hold\", \"parameters\": {\"id\": %d}}"

static char *dir;                      /* the test's directory */
static struct rbgw_proc *gw;           /* rbgw, or NULL */
static struct fake_http *web[3];       /* HTTP responders A, B, C, or NULL */
static struct fake_json *js[2];        /* unix responders A, B, or NULL */
static struct fake_json_client *cl[4]; /* clients of single cases, or NULL */
static int held_fd = -1;               /* a port the test holds bound, or -1 */

static void
teardown(void)
{
    for (size_t i = 0; i < RBGW_NELEM(js); i++) {
        if (js[i]) {
            fake_json_release(js[i]); /* a held call must not keep rbgw busy */
        }
    }
    rbgw_proc_free(gw);
    gw = NULL;
    for (size_t i = 0; i < RBGW_NELEM(cl); i++) {
        fake_json_client_free(cl[i]);
        cl[i] = NULL;
    }
    for (size_t i = 0; i < RBGW_NELEM(web); i++) {
        if (web[i]) {
            fake_http_stop(web[i]);
            web[i] = NULL;
        }
    }
    for (size_t i = 0; i < RBGW_NELEM(js); i++) {
        fake_json_stop(js[i]);
        js[i] = NULL;
    }
    if (held_fd >= 0) {
        close(held_fd);
        held_fd = -1;
    }
    fake_json_rmtree(dir);
    free(dir);
    dir = NULL;
    rbgw_test_release();
}

TestSuite(reload, .fini = teardown, .timeout = 120);

/* ---- rbgw ---- */

static const char *
conf_path(void)
{
    return rbgw_test_fmt("%s/rbgw.conf", dir);
}

/* Replace rbgw.conf in one step (rename): rbgw never reads half a file. */
static void
write_conf(const char *text)
{
    const char *tmp = rbgw_test_fmt("%s/rbgw.conf.new", dir);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f, "cannot write %s: %s", tmp, strerror(errno));
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(rename(tmp, conf_path()), 0, "rename: %s", strerror(errno));
}

static void
make_dir(void)
{
    dir = fake_json_mkdtemp();
    cr_assert_not_null(dir, "mkdtemp: %s", strerror(errno));
}

/* Spawn rbgw on the current rbgw.conf; false if it did not come up (stderr says why). */
static bool
spawn(void)
{
    const char *args[] = {rbgw_test_fmt("--config=%s", conf_path()), NULL};
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
    return fake_json_gw_ready(gw, IO_MS);
}

static void
start(const char *conf)
{
    write_conf(conf);
    cr_assert(spawn(), "rbgw did not start; stderr:\n%s", rbgw_test_stderr(gw));
}

/* How many times needle occurs in rbgw's stderr so far. */
static unsigned
log_count(const char *needle)
{
    char *e = rbgw_proc_stderr(gw, 0);
    unsigned n = 0;
    for (const char *p = e; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
        n++;
    }
    free(e);
    return n;
}

/* Wait (bounded poll) until needle occurs at least n times in rbgw's stderr. */
static void
wait_log_n(const char *needle, unsigned n)
{
    long deadline = rbgw_test_now_ms() + IO_MS;
    while (log_count(needle) < n) {
        cr_assert_lt(rbgw_test_now_ms(), deadline,
                     "rbgw never logged \"%s\" (%u times); "
                     "stderr:\n%s",
                     needle, n, rbgw_test_stderr(gw));
        usleep(1000);
    }
}

static void
wait_log(const char *needle)
{
    wait_log_n(needle, 1);
}

static void
signal_gw(int sig)
{
    cr_assert_eq(kill(rbgw_proc_pid(gw), sig), 0, "kill: %s", strerror(errno));
}

/* SIGHUP and wait until rbgw says generation gen is in force. */
static void
reload_to(unsigned gen)
{
    signal_gw(SIGHUP);
    wait_log(rbgw_test_fmt("reload: generation %u in force", gen));
}

static int
exit_status(void)
{
    int status = 0;
    cr_assert_eq(rbgw_proc_wait(gw, IO_MS, &status), 0, "rbgw did not exit; stderr:\n%s",
                 rbgw_test_stderr(gw));
    cr_assert(WIFEXITED(status), "rbgw died by signal %d; stderr:\n%s",
              WIFSIGNALED(status) ? WTERMSIG(status) : -1, rbgw_test_stderr(gw));
    return WEXITSTATUS(status);
}

/* SIGTERM (the unix listener keeps rbgw up after stdin's EOF): exit 0, nothing reported. */
static void
finish(void)
{
    signal_gw(SIGTERM);
    rbgw_test_assert_exit_0(gw);
    rbgw_test_assert_clean_stderr(gw);
}

static const char *
lookup(const char *qname)
{
    return rbgw_test_fmt(LOOKUP_FMT, qname);
}

static struct fake_json_client *
client(size_t i)
{
    const char *sock = rbgw_test_fmt("%s/gw.sock", dir);
    cl[i] = fake_json_connect(sock);
    cr_assert_not_null(cl[i], "connect %s: %s", sock, strerror(errno));
    rbgw_test_client_send(cl[i], INITIALIZE);
    const char *r = rbgw_test_client_read(cl[i], gw);
    cr_assert(strstr(r, "true"), "initialize: %s", r);
    return cl[i];
}

static const char *
client_call(struct fake_json_client *c, const char *req)
{
    rbgw_test_client_send(c, req);
    return rbgw_test_client_read(c, gw);
}

static struct fake_http *
web_start(const char *body)
{
    struct fake_http *s = fake_http_start();
    cr_assert_not_null(s, "cannot start an HTTP responder");
    struct fake_http_action a = {.kind = FAKE_HTTP_RESPOND, .body = body};
    fake_http_set_default(s, &a);
    return s;
}

static struct fake_json *
json_start(const char *name)
{
    const char *path = rbgw_test_fmt("%s/%s.sock", dir, name);
    struct fake_json *s = fake_json_unix_start(path);
    cr_assert_not_null(s, "cannot start the unix responder %s", path);
    return s;
}

/* Records of s carrying method. */
static size_t
nrecs(struct fake_json *s, const char *method)
{
    struct fake_json_rec *r;
    size_t n = fake_json_records(s, &r), k = 0;
    for (size_t i = 0; i < n; i++) {
        k += fake_json_rec_is(&r[i], method);
    }
    fake_json_recs_free(r, n);
    return k;
}

/* ---- reload under load ---- */

/* What the load threads share with the main thread. */
struct load {
    atomic_uint confirmed; /* generation the test saw rbgw put in force */
    atomic_uint asked;     /* highest generation asked for: SIGHUPs sent + 1 */
    atomic_bool stop;      /* threads end their loop */
    pthread_mutex_t mu;    /* guards the counts below */
    unsigned long calls;   /* calls answered */
    unsigned long either;  /* calls in flight across a reload (either answer was right) */
    unsigned long exact[NGENS + 1][2]; /* calls with a known generation: [gen][main, c] */
    unsigned long failed;              /* calls answered wrong, or not at all */
    char failure[700];                 /* the first failure */
    unsigned long connects;            /* connects to the kept listeners */
    unsigned long refused;             /* connects that failed */
    char refusal[200];                 /* the first failed connect */
};

static struct load ld;
static uint16_t http_port;
static char sock_path[108]; /* rbgw's unix socket, for the threads (which keep no test memory:
                               rbgw_test_keep is not thread-safe) */

static void note_failure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
note_failure(const char *fmt, ...)
{
    pthread_mutex_lock(&ld.mu);
    if (ld.failed++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ld.failure, sizeof(ld.failure), fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&ld.mu);
}

/* Configuration of a generation: odd ones are X, even ones Y. */
static const char *
config_of(unsigned gen)
{
    const char *listen = rbgw_test_fmt("listen=unix:path=%s/gw.sock\nlisten+=pipe\n"
                                       "listen+=http:address=127.0.0.1:%u\n",
                                       dir, (unsigned)http_port);
    const char *routes = "route=all:pool=zc,zone=c.example.\nroute+=all:pool=main\n"
                         "deadline=8000\nlog-level=info\n";
    if (gen % 2) {
        return rbgw_test_fmt("%s"
                             "upstream=http:url=http://127.0.0.1:%u/dns,name=a,timeout=6000\n"
                             "upstream+=http:url=http://127.0.0.1:%u/dns,name=b,timeout=6000\n"
                             "upstream+=http:url=http://127.0.0.1:%u/dns,name=c,timeout=6100\n"
                             "pool=main:upstreams=a\npool+=zc:upstreams=c\n%s",
                             listen, (unsigned)fake_http_port(web[0]),
                             (unsigned)fake_http_port(web[1]), (unsigned)fake_http_port(web[2]),
                             routes);
    }
    return rbgw_test_fmt("%s"
                         "upstream=http:url=http://127.0.0.1:%u/dns,name=b,timeout=6000\n"
                         "upstream+=http:url=http://127.0.0.1:%u/dns,name=c,timeout=6200\n"
                         "pool=main:upstreams=b\npool+=zc:upstreams=c\n%s",
                         listen, (unsigned)fake_http_port(web[1]), (unsigned)fake_http_port(web[2]),
                         routes);
}

/*
 * Check one reply.  lo: generation known in force before the call was sent; hi: highest one
 * asked for once its reply came.  The call was dispatched in a generation between the two.
 */
static void
check_reply(const char *who, int c_name, const char *reply, unsigned lo, unsigned hi)
{
    if (reply == NULL) {
        note_failure("%s: no reply (generations %u..%u)", who, lo, hi);
        return;
    }
    bool ok;
    if (c_name) {
        ok = strstr(reply, ADDR_C) != NULL;
    } else {
        /* X (odd generations) answers A, Y (even) answers B. */
        bool a_ok = false, b_ok = false;
        for (unsigned g = lo; g <= hi; g++) {
            a_ok |= g % 2 == 1;
            b_ok |= g % 2 == 0;
        }
        ok = (a_ok && strstr(reply, ADDR_A)) || (b_ok && strstr(reply, ADDR_B));
    }
    if (!ok || strstr(reply, "\"result\":false")) {
        note_failure("%s: %s name, generations %u..%u: wrong reply %s", who,
                     c_name ? "c.example." : "main", lo, hi, reply);
        return;
    }
    pthread_mutex_lock(&ld.mu);
    ld.calls++;
    if (lo == hi) {
        ld.exact[lo][c_name]++;
    } else {
        ld.either++;
    }
    pthread_mutex_unlock(&ld.mu);
}

static const char *
load_qname(unsigned long i)
{
    return i % 2 ? "www.c.example." : "www.example.com.";
}

static void *
unix_client(void *arg)
{
    long id = (long)arg;
    char who[32];
    snprintf(who, sizeof(who), "unix client %ld", id);
    struct fake_json_client *c = fake_json_connect(sock_path);
    if (c == NULL) {
        note_failure("%s: cannot connect: %s", who, strerror(errno));
        return NULL;
    }
    char line[600];
    snprintf(line, sizeof(line), "%s\n", INITIALIZE);
    char *r = NULL;
    if (fake_json_send(c, line, strlen(line)) == 0) {
        r = fake_json_read_line(c, IO_MS, NULL);
    }
    if (r == NULL || strstr(r, "true") == NULL) {
        note_failure("%s: initialize: %s", who, r ? r : "no reply");
    }
    free(r);
    for (unsigned long i = (unsigned long)id; !atomic_load(&ld.stop); i++) {
        snprintf(line, sizeof(line), LOOKUP_FMT "\n", load_qname(i));
        unsigned lo = atomic_load(&ld.confirmed);
        r = NULL;
        if (fake_json_send(c, line, strlen(line)) == 0) {
            r = fake_json_read_line(c, IO_MS, NULL);
        }
        unsigned hi = atomic_load(&ld.asked);
        check_reply(who, (int)(i % 2), r, lo, hi);
        free(r);
        if (r == NULL) {
            break;
        }
    }
    fake_json_client_free(c);
    return NULL;
}

static void *
pipe_client(void *arg)
{
    RBGW_UNUSED(arg);
    char line[600];
    for (unsigned long i = 0; !atomic_load(&ld.stop); i++) {
        snprintf(line, sizeof(line), LOOKUP_FMT "\n", load_qname(i));
        unsigned lo = atomic_load(&ld.confirmed);
        char *r = NULL;
        if (rbgw_proc_write_str(gw, line) == 0) {
            r = rbgw_proc_read_line(gw, IO_MS, NULL);
        }
        unsigned hi = atomic_load(&ld.asked);
        check_reply("pipe client", (int)(i % 2), r, lo, hi);
        free(r);
        if (r == NULL) {
            break;
        }
    }
    return NULL;
}

/* One connect to the unix listener, one to the HTTP listener, closed at once; again. */
static void *
connector(void *arg)
{
    RBGW_UNUSED(arg);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(http_port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    while (!atomic_load(&ld.stop)) {
        const struct sockaddr *sa[2] = {(const struct sockaddr *)&sun,
                                        (const struct sockaddr *)&sin};
        socklen_t len[2] = {sizeof(sun), sizeof(sin)};
        for (int k = 0; k < 2; k++) {
            int fd = socket(sa[k]->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (k == 1 && fd >= 0) {
                /* Closed with a reset: no TIME_WAIT, so thousands of connects use no ports. */
                struct linger lg = {1, 0};
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            }
            int rc = fd < 0 ? -1 : connect(fd, sa[k], len[k]);
            int e = errno;
            if (fd >= 0) {
                close(fd);
            }
            pthread_mutex_lock(&ld.mu);
            ld.connects++;
            if (rc != 0 && ld.refused++ == 0) {
                snprintf(ld.refusal, sizeof(ld.refusal), "%s listener: %s", k ? "http" : "unix",
                         strerror(e));
            }
            pthread_mutex_unlock(&ld.mu);
        }
    }
    return NULL;
}

/* Calls of both kinds with a known generation gen, and connects since mark. */
static bool
gen_done(unsigned gen, unsigned long connects_mark)
{
    pthread_mutex_lock(&ld.mu);
    bool done = ld.exact[gen][0] >= MIN_EXACT && ld.exact[gen][1] >= MIN_EXACT &&
                ld.connects >= connects_mark + 4;
    bool broken = ld.failed > 0;
    pthread_mutex_unlock(&ld.mu);
    return done || broken;
}

static void
wait_gen_done(unsigned gen)
{
    pthread_mutex_lock(&ld.mu);
    unsigned long mark = ld.connects;
    pthread_mutex_unlock(&ld.mu);
    long deadline = rbgw_test_now_ms() + IO_MS;
    while (!gen_done(gen, mark)) {
        cr_assert_lt(rbgw_test_now_ms(), deadline,
                     "generation %u: too few calls or connects (%lu main, %lu c.example.); "
                     "stderr:\n%s",
                     gen, ld.exact[gen][0], ld.exact[gen][1], rbgw_test_stderr(gw));
        usleep(1000);
    }
}

Test(reload, reload_under_load)
{
    make_dir();
    web[0] = web_start(BODY("www.example.com.", ADDR_A));
    web[1] = web_start(BODY("www.example.com.", ADDR_B));
    web[2] = web_start(BODY("www.c.example.", ADDR_C));
    bool up = false;
    for (int attempt = 0; attempt < PORT_TRIES && !up; attempt++) {
        int fd = rbgw_test_tcp_bind(&http_port);
        cr_assert_geq(fd, 0, "cannot bind a port: %s", strerror(errno));
        close(fd);
        write_conf(config_of(1));
        up = spawn();
        if (!up) {
            cr_assert(rbgw_test_stderr_has(gw, "address already in use"),
                      "rbgw did not start; stderr:\n%s", rbgw_test_stderr(gw));
            rbgw_proc_free(gw); /* somebody took the port meanwhile */
            gw = NULL;
        }
    }
    cr_assert(up, "no free port after %d tries", PORT_TRIES);

    snprintf(sock_path, sizeof(sock_path), "%s/gw.sock", dir);
    memset(&ld, 0, sizeof(ld));
    pthread_mutex_init(&ld.mu, NULL);
    atomic_store(&ld.confirmed, 1);
    atomic_store(&ld.asked, 1);
    pthread_t th[NUNIX + 2];
    for (long i = 0; i < NUNIX; i++) {
        cr_assert_eq(pthread_create(&th[i], NULL, unix_client, (void *)i), 0);
    }
    cr_assert_eq(pthread_create(&th[NUNIX], NULL, pipe_client, NULL), 0);
    cr_assert_eq(pthread_create(&th[NUNIX + 1], NULL, connector, NULL), 0);

    for (unsigned gen = 1; gen < NGENS; gen++) {
        wait_gen_done(gen);
        if (ld.failed) {
            break;
        }
        write_conf(config_of(gen + 1));
        atomic_store(&ld.asked, gen + 1); /* before the signal: see check_reply */
        reload_to(gen + 1);
        atomic_store(&ld.confirmed, gen + 1);
    }
    if (!ld.failed) {
        wait_gen_done(NGENS);
    }
    atomic_store(&ld.stop, true);
    for (size_t i = 0; i < RBGW_NELEM(th); i++) {
        pthread_join(th[i], NULL);
    }

    cr_assert_eq(ld.failed, 0, "%lu failed call(s); first: %s\nstderr:\n%s", ld.failed, ld.failure,
                 rbgw_test_stderr(gw));
    cr_assert_eq(ld.refused, 0, "%lu of %lu connects refused; first: %s", ld.refused, ld.connects,
                 ld.refusal);
    for (unsigned gen = 1; gen <= NGENS; gen++) {
        cr_assert_geq(ld.exact[gen][0], MIN_EXACT, "generation %u: %lu main calls", gen,
                      ld.exact[gen][0]);
        cr_assert_geq(ld.exact[gen][1], MIN_EXACT, "generation %u: %lu c.example. calls", gen,
                      ld.exact[gen][1]);
    }
    cr_assert_eq(log_count("reload: generation"), NRELOADS);
    cr_assert_eq(log_count("reload refused"), 0);
    /* b was kept by every reload: its connections too.  a (gone in Y) and c (a new timeout
     * each time) were new upstreams, with new connections, in each generation using them. */
    cr_assert_leq(fake_http_accepts(web[1]), B_MAX_CONNS, "b opened %u connections",
                  fake_http_accepts(web[1]));
    cr_assert_geq(fake_http_accepts(web[0]), (NGENS + 1) / 2, "a opened %u connections",
                  fake_http_accepts(web[0]));
    cr_assert_geq(fake_http_accepts(web[2]), NGENS, "c opened %u connections",
                  fake_http_accepts(web[2]));
    cr_log_info("reload_under_load: %lu calls answered right (%lu across a reload), %u reloads, "
                "%lu connects, 0 failed",
                ld.calls, ld.either, NRELOADS, ld.connects);
    finish();
}

/* ---- refusals ---- */

static const char *
simple_conf(struct fake_http *up, const char *extra)
{
    return rbgw_test_fmt("listen=pipe\n"
                         "listen+=unix:path=%s/gw.sock\n"
                         "upstream=http:url=http://127.0.0.1:%u/dns,name=a\n"
                         "%s",
                         dir, (unsigned)fake_http_port(up), extra ? extra : "");
}

/* A refused reload names file:line, changes nothing, and the old configuration serves on. */
Test(reload, refused_reload_keeps_the_old_configuration)
{
    make_dir();
    web[0] = web_start(BODY("www.example.com.", ADDR_A));
    web[1] = web_start(BODY("www.example.com.", ADDR_B));
    start(simple_conf(web[0], NULL));
    struct fake_json_client *c = client(0);
    uint16_t port;
    held_fd = rbgw_test_tcp_bind(&port);
    cr_assert_geq(held_fd, 0);

    const struct {
        const char *extra; /* lines after the 3 of simple_conf: line 4 on */
        const char *why;   /* the refusal names this */
    } bad[] = {
        {"deadline=soon\n", "rbgw.conf:4: deadline: 'soon' is not a whole number"},
        {"pool=main:upstreams=a+z\n", "rbgw.conf:4: pool main: unknown upstream 'z'"},
        {"upstream+=pipe:command=/nonexistent/responder,name=p\n",
         "rbgw.conf:4: upstream p: command /nonexistent/responder is not an executable file"},
        {rbgw_test_fmt("listen+=http:address=127.0.0.1:%u\n", (unsigned)port),
         "rbgw.conf:4: listen http:address=127.0.0.1:"},
    };
    for (size_t i = 0; i < RBGW_NELEM(bad); i++) {
        write_conf(simple_conf(web[1], bad[i].extra)); /* also points a at B */
        signal_gw(SIGHUP);
        wait_log_n("reload refused, generation 1 stays in force", (unsigned)i + 1);
        cr_assert(rbgw_test_stderr_has(gw, bad[i].why), "no \"%s\" on stderr:\n%s", bad[i].why,
                  rbgw_test_stderr(gw));
        const char *r = client_call(c, lookup("www.example.com."));
        cr_assert(strstr(r, ADDR_A), "case %zu: the old configuration stopped serving: %s", i, r);
        r = rbgw_test_call(gw, lookup("www.example.com."));
        cr_assert(strstr(r, ADDR_A), "case %zu: pipe: %s", i, r);
    }
    signal_gw(SIGUSR1);
    wait_log("status: generation 1 (0 reload(s) done, 4 refused, last: ");

    /* The same file, fixed, goes in, and its log level with it. */
    cr_assert_eq(log_count("debug: "), 0);
    write_conf(simple_conf(web[1], "log-level=debug\n"));
    reload_to(2);
    cr_assert(strstr(client_call(c, lookup("www.example.com.")), ADDR_B));
    cr_assert(strstr(rbgw_test_call(gw, lookup("www.example.com.")), ADDR_B));
    cr_assert_geq(log_count("debug: req="), 2, "log-level=debug did not apply");
    signal_gw(SIGUSR1);
    wait_log("status: generation 2 (1 reload(s) done, 4 refused, last: ");
    finish();
}

/* ---- in flight across a reload ---- */

static const char *
json_conf(size_t which, const char *extra)
{
    return rbgw_test_fmt("listen=pipe\n"
                         "listen+=unix:path=%s/gw.sock\n"
                         "upstream=unix:path=%s/%s.sock,name=%s,timeout=60000\n"
                         "deadline=60000\nlog-level=debug\n%s",
                         dir, dir, which ? "B" : "A", which ? "b" : "a", extra ? extra : "");
}

/* A call held by an upstream the reload removes is answered by it; then its conn closes. */
Test(reload, removed_upstream_finishes_its_call)
{
    make_dir();
    js[0] = json_start("A");
    js[1] = json_start("B");
    start(json_conf(0, NULL));
    struct fake_json_client *c0 = client(0), *c1 = client(1);
    const char *hold = rbgw_test_fmt(HOLD_FMT, 1);
    rbgw_test_client_send(c0, hold);
    cr_assert(fake_json_wait_held(js[0], 1, IO_MS), "the call never reached a");

    write_conf(json_conf(1, NULL));
    reload_to(2);
    const char *r = client_call(c1, lookup("www.example.com."));
    cr_assert(strstr(r, "lookup"), "after the reload: %s", r);
    cr_assert_eq(nrecs(js[1], "lookup"), 1, "the new call did not go to b");
    cr_assert_eq(fake_json_closes(js[0]), 0, "a's connection closed under its call");

    fake_json_release(js[0]);
    r = rbgw_test_client_read(c0, gw);
    cr_assert(strstr(r, "\"hold\""), "the held call's answer: %s", r);
    cr_assert(fake_json_wait_closes(js[0], 1, IO_MS), "a's connection stayed open");
    wait_log("u=a: no generation uses it any more");
    finish();
}

/* Connect to the unix socket path; the errno of a failure, or 0. */
static int
try_connect(const char *path)
{
    struct fake_json_client *c = fake_json_connect(path);
    int e = c ? 0 : errno;
    fake_json_client_free(c);
    return e;
}

/*
 * A reload that moves the unix listener: the new socket serves at once; the old one takes no
 * new call but answers the one it holds, then closes (its socket file goes).
 */
Test(reload, removed_listener_answers_then_closes)
{
    make_dir();
    js[0] = json_start("A");
    start(json_conf(0, NULL));
    struct fake_json_client *c0 = client(0);
    rbgw_test_client_send(c0, rbgw_test_fmt(HOLD_FMT, 1));
    cr_assert(fake_json_wait_held(js[0], 1, IO_MS));

    const char *moved = rbgw_test_fmt("listen=pipe\n"
                                      "listen+=unix:path=%s/gw2.sock\n"
                                      "upstream=unix:path=%s/A.sock,name=a,timeout=60000\n"
                                      "deadline=60000\nlog-level=debug\n",
                                      dir, dir);
    write_conf(moved);
    reload_to(2);
    cr_assert(rbgw_test_stderr_has(gw, "listeners 1 kept, 1 added, 1 removed"), "stderr:\n%s",
              rbgw_test_stderr(gw));
    struct fake_json_client *c1 = fake_json_connect(rbgw_test_fmt("%s/gw2.sock", dir));
    cr_assert_not_null(c1, "the new listener does not accept: %s", strerror(errno));
    cl[1] = c1;
    cr_assert(strstr(client_call(c1, lookup("www.example.com.")), "lookup"));

    fake_json_release(js[0]);
    const char *r = rbgw_test_client_read(c0, gw);
    cr_assert(strstr(r, "\"hold\""), "the removed listener's call: %s", r);
    wait_log("(removed by a reload) is idle: closing it");
    const char *old = rbgw_test_fmt("%s/gw.sock", dir);
    long deadline = rbgw_test_now_ms() + IO_MS;
    while (try_connect(old) == 0) {
        cr_assert_lt(rbgw_test_now_ms(), deadline, "the removed listener still accepts");
        usleep(1000);
    }
    cr_assert_eq(fake_json_read_line(c0, IO_MS, NULL), NULL, "the old connection stayed open");
    cr_assert_eq(errno, 0, "the old connection did not reach EOF");
    finish();
}

#define TRX_START                                                                                  \
    "{\"method\": \"startTransaction\", \"parameters\": {\"domain\": \"example.org.\", "           \
    "\"domain_id\": 3, \"trxid\": 11}}"
#define TRX_FEED                                                                                   \
    "{\"method\": \"feedRecord\", \"parameters\": {\"rr\": {\"auth\": true, \"content\": "         \
    "\"192.0.2.77\", \"qname\": \"www.example.org.\", \"qtype\": \"A\", \"ttl\": 60}, "            \
    "\"trxid\": 11}}"
#define TRX_COMMIT "{\"method\": \"commitTransaction\", \"parameters\": {\"trxid\": 11}}"

/* A transaction opened before a reload that removes its upstream commits there. */
Test(reload, transaction_survives_a_reload)
{
    make_dir();
    js[0] = json_start("A");
    js[1] = json_start("B");
    start(json_conf(0, NULL));
    struct fake_json_client *c = client(0);
    cr_assert(strstr(client_call(c, TRX_START), "startTransaction"));

    write_conf(json_conf(1, NULL));
    reload_to(2);
    cr_assert(strstr(client_call(c, TRX_FEED), "feedRecord"));
    cr_assert(strstr(client_call(c, lookup("www.example.com.")), "lookup"));
    cr_assert(strstr(client_call(c, TRX_COMMIT), "commitTransaction"));

    cr_assert_eq(nrecs(js[0], "feedRecord"), 1, "the feed did not reach the transaction's a");
    cr_assert_eq(nrecs(js[0], "commitTransaction"), 1, "the commit did not reach a");
    cr_assert_eq(nrecs(js[1], "feedRecord") + nrecs(js[1], "commitTransaction"), 0,
                 "b got a call of a's transaction");
    cr_assert_eq(nrecs(js[1], "lookup"), 1, "the plain call did not go to b");
    cr_assert(fake_json_wait_closes(js[0], 1, IO_MS), "a stayed open after the commit");
    finish();
}

/* ---- drain ---- */

/* SIGTERM: every call in flight is answered, then rbgw exits 0. */
Test(reload, drain_answers_calls_in_flight)
{
    make_dir();
    js[0] = json_start("A");
    start(json_conf(0, NULL));
    for (int i = 0; i < 3; i++) {
        rbgw_test_client_send(client((size_t)i), rbgw_test_fmt(HOLD_FMT, i));
    }
    cr_assert(fake_json_wait_held(js[0], 3, IO_MS), "the calls never reached a");
    signal_gw(SIGTERM);
    wait_log("received SIGTERM: draining: 3 call(s) in flight");
    fake_json_release(js[0]);
    for (int i = 0; i < 3; i++) {
        const char *r = rbgw_test_client_read(cl[i], gw);
        cr_assert(strstr(r, rbgw_test_fmt("\"id\": %d", i)), "call %d answered %s", i, r);
    }
    cr_assert_eq(exit_status(), 0);
    rbgw_test_assert_clean_stderr(gw);
}

/* SIGINT drains like SIGTERM; a second stop signal while draining exits at once, status 1. */
Test(reload, second_signal_exits_at_once)
{
    make_dir();
    js[0] = json_start("A");
    start(json_conf(0, NULL));
    rbgw_test_client_send(client(0), rbgw_test_fmt(HOLD_FMT, 1));
    cr_assert(fake_json_wait_held(js[0], 1, IO_MS));
    signal_gw(SIGINT);
    wait_log("received SIGINT: draining: 1 call(s) in flight");
    signal_gw(SIGTERM);
    cr_assert_eq(exit_status(), 1);
    cr_assert(rbgw_test_stderr_has(gw, "received SIGTERM while draining: exiting at once with "
                                       "status 1, 1 call(s) unanswered"),
              "stderr:\n%s", rbgw_test_stderr(gw));
}

/*
 * pdns does not read the last answer (bigger than any pipe buffer): the drain ends at
 * deadline= anyway, and rbgw exits 0 saying what it cut.
 */
Test(reload, drain_is_bounded_by_the_deadline)
{
    make_dir();
    js[0] = json_start("A");
    start(rbgw_test_fmt("listen=pipe\n"
                        "upstream=unix:path=%s/A.sock,name=a,timeout=250\n"
                        "deadline=300\nmax-request-size=4m\n",
                        dir));
    size_t pad = 1536 * 1024;
    char *big = rbgw_test_keep(malloc(pad + 200));
    int n = snprintf(big, 200, "{\"method\": \"lookup\", \"parameters\": {\"pad\": \"");
    memset(big + n, 'x', pad);
    strcpy(big + n + pad, "\"}}\n");
    cr_assert_eq(rbgw_proc_write_str(gw, big), 0);
    long deadline = rbgw_test_now_ms() + IO_MS;
    while (nrecs(js[0], "lookup") == 0) {
        cr_assert_lt(rbgw_test_now_ms(), deadline, "the call never reached a");
        usleep(1000);
    }
    signal_gw(SIGTERM);
    cr_assert_eq(exit_status(), 0);
    cr_assert(rbgw_test_stderr_has(gw, "drain: 1 call(s) still unanswered after 500 ms"),
              "stderr:\n%s", rbgw_test_stderr(gw));
    rbgw_test_assert_clean_stderr(gw);
}

/* ---- the other signals ---- */

/* USR1 logs the status, USR2 toggles debug logging, PIPE is ignored, QUIT drains. */
Test(reload, other_signals)
{
    make_dir();
    web[0] = web_start(BODY("www.example.com.", ADDR_A));
    start(simple_conf(web[0], "log-level=info\n"));
    const char *q = lookup("www.example.com.");

    signal_gw(SIGUSR1);
    wait_log("status: generation 1 (0 reload(s) done, 0 refused); 2 listener(s), 1 upstream(s)");
    cr_assert(strstr(rbgw_test_call(gw, q), ADDR_A));

    signal_gw(SIGUSR2);
    wait_log("received SIGUSR2: debug logging on");
    cr_assert(strstr(rbgw_test_call(gw, q), ADDR_A));
    cr_assert_geq(log_count("debug: req="), 1, "no debug line for a call with debug on");
    signal_gw(SIGUSR2);
    wait_log("received SIGUSR2: debug logging off, back to log-level=info");
    unsigned ndebug = log_count("debug: ");
    cr_assert(strstr(rbgw_test_call(gw, q), ADDR_A));
    cr_assert_eq(log_count("debug: "), ndebug, "debug lines with debug off");

    /* Ignored: were it not, rbgw would be gone before it read the next call. */
    signal_gw(SIGPIPE);
    cr_assert(strstr(rbgw_test_call(gw, q), ADDR_A));

    signal_gw(SIGQUIT);
    wait_log("received SIGQUIT: draining");
    cr_assert_eq(exit_status(), 0);
    rbgw_test_assert_clean_stderr(gw);
}

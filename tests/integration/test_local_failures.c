/*
 * test_local_failures.c: rbgw's own shortage of file descriptors is a local failure: the call
 * is answered false saying so, and the healthy upstream is neither ejected nor backed off.
 *
 *   test ──stdin──> rbgw (RLIMIT_NOFILE 64) ──pool main, first-available──> alpha, bravo
 *   test ──unix clients──> rbgw's unix listener, until rbgw has no descriptor left
 *
 * alpha is the first member, with failure-limit=1: one failure that counted against it would
 * eject it, and the next call would go to bravo.  The test fills rbgw's descriptor table with
 * pdns-like connections to its unix listener (libuv accepts and drops one connection when
 * accept hits EMFILE: that EOF is how the test knows the table is full), then a lookup must
 * fail as local ("rbgw out of resources") without an ejection.  Once one connection is closed
 * (rbgw closes its end when it reads the EOF: the test re-sends the lookup, a bounded poll,
 * until rbgw has the descriptor back) alpha answers it, and bravo has seen nothing.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fake_fanout.h"
#include "fake_json.h"
#include "itest.h"
#include "rbgw_proc.h"

#define NOFILE 64     /* rbgw's descriptor limit: enough to start, few to fill */
#define MAX_POLLS 200 /* lookups re-sent while waiting for rbgw to close a connection */
#define INITIALIZE "{\"method\": \"initialize\", \"parameters\": {}}"
#define LOOKUP                                                                                     \
    "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"www.example.com.\", \"qtype\": "       \
    "\"A\"}}"

static struct fake_fanout *alpha, *bravo;
static struct rbgw_proc *gw;
static struct fake_json_client *clients[NOFILE];
static size_t nclients;
static char *dir;

static void
teardown(void)
{
    rbgw_proc_free(gw);
    gw = NULL;
    for (size_t i = 0; i < nclients; i++) {
        fake_json_client_free(clients[i]);
    }
    nclients = 0;
    fake_fanout_stop(alpha);
    fake_fanout_stop(bravo);
    alpha = bravo = NULL;
    fake_json_rmtree(dir);
    free(dir);
    dir = NULL;
    rbgw_test_release();
}

TestSuite(local_failures, .fini = teardown, .timeout = 60);

/* Open one more pdns connection to rbgw: true if rbgw served it, false if it dropped it. */
static bool
one_more_client(const char *sock)
{
    struct fake_json_client *c = fake_json_connect(sock);
    cr_assert_not_null(c, "cannot connect to %s: %s", sock, strerror(errno));
    clients[nclients++] = c;
    /* A dropped connection may be gone before the write, during it, or before the read. */
    int rc = fake_json_send(c, INITIALIZE "\n", strlen(INITIALIZE) + 1);
    if (rc == -EPIPE || rc == -ECONNRESET) {
        return false;
    }
    cr_assert_eq(rc, 0, "writing to rbgw: %s", strerror(-rc));
    char *line = fake_json_read_line(c, RBGW_TEST_IO_MS, NULL);
    if (line == NULL) {
        cr_assert(errno == 0 || errno == ECONNRESET,
                  "rbgw neither served nor dropped a connection (%s); stderr:\n%s", strerror(errno),
                  rbgw_test_stderr(gw));
        return false;
    }
    free(line);
    return true;
}

Test(local_failures, own_emfile_on_connect_does_not_eject_a_healthy_upstream)
{
    alpha = fake_fanout_start("alpha", 1);
    bravo = fake_fanout_start("bravo", 2);
    cr_assert(alpha && bravo, "cannot start the responders");
    dir = fake_json_mkdtemp();
    cr_assert_not_null(dir);
    const char *sock = rbgw_test_fmt("%s/gw.sock", dir);
    const char *up = "timeout=10000,connect-timeout=10000,failure-limit=1,health-interval=600000";
    const char *args[] = {
        "--listen=pipe",
        rbgw_test_fmt("--listen+=unix:path=%s", sock),
        rbgw_test_fmt("--upstream=http:url=http://127.0.0.1:%u/dns,name=alpha,%s",
                      fake_fanout_port(alpha), up),
        rbgw_test_fmt("--upstream+=http:url=http://127.0.0.1:%u/dns,name=bravo,%s",
                      fake_fanout_port(bravo), up),
        "--pool=main:upstreams=alpha+bravo,policy=first-available,retries=0",
        "--deadline=10000",
        "--log-level=debug",
        NULL,
    };
    gw = rbgw_proc_spawn_nofile(NULL, args, NOFILE);
    cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
    cr_assert(fake_json_gw_ready(gw, RBGW_TEST_IO_MS), "rbgw did not start; stderr:\n%s",
              rbgw_test_stderr(gw));

    bool full = false;
    while (!full && nclients < NOFILE) {
        full = !one_more_client(sock);
    }
    cr_assert(full, "rbgw served %zu connections with RLIMIT_NOFILE %d", nclients, NOFILE);

    const char *r = rbgw_test_call(gw, LOOKUP);
    rbgw_test_assert_false_reply(r, "(rbgw out of resources)");
    cr_assert(strstr(r, "alpha"), "the reply names alpha: %s", r);
    cr_assert_not(rbgw_test_stderr_has(gw, "ejected"), "alpha was ejected:\n%s",
                  rbgw_test_stderr(gw));

    /* Give rbgw one descriptor back; once it has closed its end, alpha answers. */
    fake_json_client_free(clients[0]);
    clients[0] = NULL;
    for (int i = 0; i < MAX_POLLS; i++) {
        r = rbgw_test_call(gw, LOOKUP);
        if (!strstr(r, "\"result\":false")) {
            break;
        }
        rbgw_test_assert_false_reply(r, "(rbgw out of resources)");
    }
    cr_assert(strstr(r, fake_fanout_content(alpha)), "alpha answers the lookup: %s\nstderr:\n%s", r,
              rbgw_test_stderr(gw));
    cr_assert_eq(fake_fanout_nreqs(bravo), 0, "a call went to bravo: alpha was ejected");
    cr_assert_not(rbgw_test_stderr_has(gw, "ejected"), "alpha was ejected:\n%s",
                  rbgw_test_stderr(gw));
}

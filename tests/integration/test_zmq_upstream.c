/*
 * test_zmq_upstream.c: the rbgw binary with a zeromq upstream, driven over its pipe listener the
 * way pdns drives a pipe co-process, in front of a scripted ROUTER responder (zmq_responder).
 *
 *   test ──stdin/stdout──> rbgw --listen=pipe --upstream=zeromq:endpoint=ipc://... ──REQ──>
 *        zmq_responder (ROUTER, its own thread)
 *
 * What is checked (docs/protocol.md §3.1, §4.3, §8.7, §8.17): every new REQ socket starts with
 * initialize carrying the connection-string options as strings, keys sorted, in pdns's json11
 * text; calls go out byte-identical as one part without a NUL and replies come back unchanged;
 * a responder that stalls makes the call fail with "timed out" and the next call runs on a new
 * socket (new routing id) after a new initialize; an absent responder gives a false reply and a
 * responder started later is used; garbage and multi-part replies and a false initialize give
 * false replies; two calls are in flight on two sockets at once (max-conns) and complete out of
 * order; the tcp:// transport and the zmq: spelling; a malformed endpoint is a start-up error.
 * Every test that starts rbgw ends with finish(): stdin closed (pdns went away), exit status 0,
 * no sanitizer report on stderr.
 *
 * Waits are bounded by IO_BOUND_MS only so that a broken build fails instead of hanging; the
 * short upstream timeouts (SHORT_MS) make the timeout paths quick, nothing asserts on timing.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "fake_json.h"
#include "itest.h"
#include "rbgw_proc.h"
#include "zmq_responder.h"

#define IO_BOUND_MS 10000 /* safety bound for one wait, not a timing assertion */
/* Upstream timeout where a timeout is what is being tested: long enough for a first connect and
 * initialize on a loaded machine under ASan (300 ms was not, and a correct rbgw failed). */
#define SHORT_MS 1000

#define LOOKUP_FMT                                                                                 \
    "{\"method\": \"lookup\", \"parameters\": {\"local\": \"192.0.2.53\", \"qname\": \"%s\", "     \
    "\"qtype\": \"A\", \"real-remote\": \"198.51.100.0/24\", \"remote\": \"198.51.100.7\", "       \
    "\"zone-id\": 5}}"
#define REPLY_FMT                                                                                  \
    "{\"result\": [{\"qtype\": \"A\", \"qname\": \"%s\", \"content\": \"192.0.2.10\", "            \
    "\"ttl\": 300, \"domain_id\": 5, \"auth\": 1}], \"log\": [\"from the responder\"]}"

static char tmpdir[64];                 /* mkdtemp directory of the current test */
static char resp_ep[160];               /* "ipc://<tmpdir>/r.sock" */
static char gw_sock[100];               /* <tmpdir>/gw.sock, for the unix listener test */
static struct zmq_responder *resp;      /* the responder, or NULL */
static struct rbgw_proc *gw;            /* the rbgw child, or NULL */
static struct fake_json_client *client; /* unix listener client, or NULL */

static void
setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/rbgw-zup-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
    snprintf(resp_ep, sizeof(resp_ep), "ipc://%s/r.sock", tmpdir);
    snprintf(gw_sock, sizeof(gw_sock), "%s/gw.sock", tmpdir);
}

static void
teardown(void)
{
    fake_json_client_free(client);
    client = NULL;
    rbgw_proc_free(gw);
    gw = NULL;
    zmq_responder_stop(resp);
    resp = NULL;
    unlink(gw_sock);
    char path[200];
    snprintf(path, sizeof(path), "%s/r.sock", tmpdir);
    unlink(path);
    rmdir(tmpdir);
    rbgw_test_release();
}

TestSuite(zmq_upstream, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ---- */

/* The tail of rbgw's stderr, for failure messages. */
static const char *
errtail(void)
{
    return rbgw_test_stderr(gw);
}

static void
start_responder(const char *ep)
{
    resp = zmq_responder_start(ep ? ep : resp_ep);
    cr_assert_not_null(resp, "cannot start the responder on %s", ep ? ep : resp_ep);
}

/* Spawn rbgw with the upstream connection string `up` and optional extra arguments. */
static void
spawn_gw(const char *up, const char *extra1, const char *extra2)
{
    char *u = rbgw_test_fmt("--upstream=%s", up);
    const char *args[] = {"--listen=pipe", u, "--log-level=debug", extra1, extra2, NULL};
    if (extra1 == NULL) {
        args[3] = NULL;
    }
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw, "cannot spawn %s: %s", RBGW_BINARY, strerror(errno));
}

/* Write one request line to rbgw and return its reply line. */
static char *
call(const char *request)
{
    return rbgw_test_call(gw, request);
}

/* The next message the responder received (bounded wait). */
static struct zr_msg
next_msg(const char *what)
{
    struct zr_msg m;
    cr_assert_eq(zmq_responder_next(resp, IO_BOUND_MS, &m), 0,
                 "the responder received no %s within the safety bound; rbgw stderr:\n%s", what,
                 errtail());
    cr_assert_eq(m.nparts, 3, "a REQ message has 3 parts at a ROUTER, got %zu", m.nparts);
    return m;
}

static bool
same_peer(const struct zr_msg *a, const struct zr_msg *b)
{
    return a->idlen == b->idlen && memcmp(a->id, b->id, a->idlen) == 0;
}

/* Expect an initialize with exactly the text want (NULL: any initialize). */
static struct zr_msg
expect_init(const char *want)
{
    struct zr_msg m = next_msg("initialize");
    cr_assert(m.initialize, "expected initialize first on a new socket, got <%s>", m.data);
    if (want) {
        cr_assert_str_eq(m.data, want);
    }
    return m;
}

/* Expect the call `want`, byte for byte: no NUL, no newline. */
static struct zr_msg
expect_call(const char *want)
{
    struct zr_msg m = next_msg("call");
    cr_assert(!m.initialize, "expected a call, got another initialize <%s>", m.data);
    cr_assert_eq(m.len, strlen(want), "call length %zu, expected %zu (<%s>)", m.len, strlen(want),
                 m.data);
    cr_assert_str_eq(m.data, want);
    return m;
}

/* pdns goes away (stdin EOF; or SIGTERM when another listener keeps rbgw running): rbgw must
 * exit 0 with no sanitizer report. */
static void
finish_by(bool sigterm)
{
    if (sigterm) {
        cr_assert_eq(kill(rbgw_proc_pid(gw), SIGTERM), 0);
    } else {
        rbgw_proc_close_stdin(gw);
    }
    rbgw_test_assert_exit_0(gw);
    rbgw_test_assert_clean_stderr(gw);
}

static void
finish(void)
{
    finish_by(false);
}

/* One lookup for qname, answered by the responder with its REPLY_FMT reply; checks both ways. */
static struct zr_msg
round_trip(const char *qname)
{
    char *req = rbgw_test_fmt(LOOKUP_FMT, qname);
    char *rep = rbgw_test_fmt(REPLY_FMT, qname);
    zmq_responder_push(resp, ZR_REPLY, rep);
    char *got = call(req);
    cr_assert_str_eq(got, rep, "the reply did not come back unchanged");
    struct zr_msg m = expect_call(req);
    return m;
}

/* Like round_trip, on a socket that is new: an initialize comes first, from the same peer. */
static void
new_socket_round_trip(const char *qname, struct zr_msg *init, struct zr_msg *lk)
{
    char *req = rbgw_test_fmt(LOOKUP_FMT, qname);
    char *rep = rbgw_test_fmt(REPLY_FMT, qname);
    zmq_responder_push(resp, ZR_REPLY, rep);
    char *got = call(req);
    cr_assert_str_eq(got, rep, "the reply did not come back unchanged");
    *init = expect_init(NULL);
    *lk = expect_call(req);
    cr_assert(same_peer(init, lk), "initialize and the call came from different sockets");
}

/* ---- tests ---- */

Test(zmq_upstream, initialize_carries_the_options_as_sorted_strings)
{
    start_responder(NULL);
    char *up = rbgw_test_fmt("zeromq:endpoint=%s,timeout=5000,name=zq, sp ace=1,foo=bar=baz,flag",
                             resp_ep);
    spawn_gw(up, NULL, NULL);
    char *want =
        rbgw_test_fmt("{\"method\": \"initialize\", \"parameters\": {\" sp ace\": \"1\", "
                      "\"endpoint\": \"%s\", \"flag\": \"yes\", \"foo\": \"bar=baz\", \"name\": "
                      "\"zq\", \"timeout\": \"5000\"}}",
                      resp_ep);

    /* rbgw answers pdns's own initialize itself; the upstream's comes with the first call. */
    char *r = call("{\"method\": \"initialize\", \"parameters\": {\"command\": \"/x/rbgw\"}}");
    cr_assert_str_eq(r, "{\"result\":true}");
    char *req = rbgw_test_fmt(LOOKUP_FMT, "www.example.com.");
    char *rep = rbgw_test_fmt(REPLY_FMT, "www.example.com.");
    zmq_responder_push(resp, ZR_REPLY, rep);
    r = call(req);
    cr_assert_str_eq(r, rep);

    struct zr_msg init = expect_init(want);
    /* Every parameter is a string. */
    char err[200];
    yajl_val v = yajl_tree_parse(init.data, err, sizeof(err));
    cr_assert_not_null(v, "initialize is not JSON: %s", err);
    const char *ppath[] = {"parameters", NULL};
    yajl_val params = yajl_tree_get(v, ppath, yajl_t_object);
    cr_assert_not_null(params);
    cr_assert_eq(params->u.object.len, 6);
    for (size_t i = 0; i < params->u.object.len; i++) {
        cr_assert(YAJL_IS_STRING(params->u.object.values[i]), "parameter %s is not a string",
                  params->u.object.keys[i]);
    }
    yajl_tree_free(v);
    struct zr_msg lk = expect_call(req);
    cr_assert(same_peer(&init, &lk), "initialize and the call came from different sockets");
    zr_msg_free(&init);
    zr_msg_free(&lk);
    finish();
}

Test(zmq_upstream, calls_and_replies_pass_through_unchanged_on_one_socket)
{
    start_responder(NULL);
    char *up = rbgw_test_fmt("zeromq:endpoint=%s,timeout=5000,max-conns=1", resp_ep);
    spawn_gw(up, NULL, NULL);

    /* Odd spacing, escapes and non-ASCII on the way out; odd spacing back. */
    const char *req = "{\"method\":\"lookup\",  \"parameters\":{\"qname\":\"a\\\"b\\\\c.\\u00e9x"
                      "\xc3\xa9.\",\"qtype\":\"ANY\" , \"zone-id\":-1}}";
    const char *rep = "{ \"result\" : [ {\"qtype\":\"TXT\",\"qname\":\"a\\\"b\\\\c.\","
                      "\"content\":\"\\\"x y\\\"\",\"ttl\":1} ] , \"log\":[] }";
    zmq_responder_push(resp, ZR_REPLY, rep);
    char *r = call(req);
    cr_assert_str_eq(r, rep);
    struct zr_msg init = expect_init(NULL);
    struct zr_msg first = expect_call(req);

    /* The socket is reused: no new initialize, same peer. */
    struct zr_msg second = round_trip("two.example.");
    cr_assert(same_peer(&first, &second), "the second call came from another socket");
    cr_assert(same_peer(&init, &first));
    cr_assert_eq(zmq_responder_pending(resp), 0, "unexpected extra messages at the responder");
    zr_msg_free(&init);
    zr_msg_free(&first);
    zr_msg_free(&second);
    finish();
}

Test(zmq_upstream, stalled_responder_times_out_and_the_next_call_uses_a_new_socket)
{
    start_responder(NULL);
    char *up = rbgw_test_fmt("zeromq:endpoint=%s,timeout=%d,max-conns=1", resp_ep, SHORT_MS);
    spawn_gw(up, NULL, NULL);

    char *req = rbgw_test_fmt(LOOKUP_FMT, "stall.example.");
    zmq_responder_push(resp, ZR_STALL, NULL);
    char *r = call(req);
    rbgw_test_assert_false_reply(r, "timed out");
    struct zr_msg init1 = expect_init(NULL);
    struct zr_msg stalled = expect_call(req);
    cr_assert(same_peer(&init1, &stalled));

    /* The stuck REQ socket is gone: a new one initializes again, then carries the call. */
    struct zr_msg init2, next;
    new_socket_round_trip("after.example.", &init2, &next);
    cr_assert(!same_peer(&init1, &init2), "the stuck socket was used again");
    /* And that socket stays in use. */
    struct zr_msg third = round_trip("third.example.");
    cr_assert(same_peer(&init2, &third));
    zr_msg_free(&init1);
    zr_msg_free(&stalled);
    zr_msg_free(&init2);
    zr_msg_free(&next);
    zr_msg_free(&third);
    finish();
}

Test(zmq_upstream, absent_responder_gives_false_then_a_late_responder_is_used)
{
    /* retry-after=0: no back-off window, so the call after the failure opens at once. */
    char *up = rbgw_test_fmt("zeromq:endpoint=%s,timeout=%d,retry-after=0", resp_ep, SHORT_MS);
    spawn_gw(up, NULL, NULL);
    char *req = rbgw_test_fmt(LOOKUP_FMT, "nobody.example.");
    char *r = call(req);
    rbgw_test_assert_false_reply(r, "timed out");
    cr_assert_not_null(strstr(r, resp_ep), "the failure does not name the endpoint: <%s>", r);

    start_responder(NULL);
    struct zr_msg init, lk;
    new_socket_round_trip("late.example.", &init, &lk);
    /* Nothing queued on the abandoned socket reached the responder. */
    cr_assert_eq(zmq_responder_pending(resp), 0, "unexpected extra messages at the responder");
    zr_msg_free(&init);
    zr_msg_free(&lk);
    finish();
}

Test(zmq_upstream, garbage_and_multipart_replies_give_false_and_a_fresh_socket)
{
    start_responder(NULL);
    char *up = rbgw_test_fmt("zeromq:endpoint=%s,timeout=5000,retry-after=0", resp_ep);
    spawn_gw(up, NULL, NULL);
    char *req = rbgw_test_fmt(LOOKUP_FMT, "garbage.example.");

    zmq_responder_push(resp, ZR_REPLY, "this is not json");
    char *r = call(req);
    rbgw_test_assert_false_reply(r, "JSON");
    struct zr_msg init1 = expect_init(NULL);
    struct zr_msg c1 = expect_call(req);

    /* pdns reads exactly one part; a second one is refused, not ignored. */
    zmq_responder_push(resp, ZR_PARTS, "{\"result\":true}");
    r = call(req);
    rbgw_test_assert_false_reply(r, "parts");
    struct zr_msg init2 = expect_init(NULL);
    struct zr_msg c2 = expect_call(req);
    cr_assert(!same_peer(&init1, &init2), "the socket was reused after a bad reply");

    /* A reply without "result" is refused too (pdns would rebuild its connector). */
    zmq_responder_push(resp, ZR_REPLY, "{\"log\":[\"no result\"]}");
    r = call(req);
    rbgw_test_assert_false_reply(r, "result");
    struct zr_msg init3 = expect_init(NULL);
    struct zr_msg c3 = expect_call(req);
    cr_assert(!same_peer(&init2, &init3));

    struct zr_msg init4, c4;
    new_socket_round_trip("fine.example.", &init4, &c4);
    cr_assert(!same_peer(&init3, &init4));
    struct zr_msg *all[] = {&init1, &c1, &init2, &c2, &init3, &c3, &init4, &c4};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        zr_msg_free(all[i]);
    }
    finish();
}

Test(zmq_upstream, false_initialize_fails_the_call_and_is_retried_on_the_next)
{
    start_responder(NULL);
    zmq_responder_set_init_reply(resp, "{\"result\":false,\"log\":[\"not today\"]}");
    char *up = rbgw_test_fmt("zmq:endpoint=%s,timeout=5000,retry-after=0", resp_ep);
    spawn_gw(up, NULL, NULL);
    char *req = rbgw_test_fmt(LOOKUP_FMT, "refused.example.");
    char *r = call(req);
    rbgw_test_assert_false_reply(r, "initialize");
    struct zr_msg init1 = expect_init(NULL);

    /* The call never went out on the refused socket: the next message is a new initialize. */
    zmq_responder_set_init_reply(resp, "{\"result\":true}");
    struct zr_msg init2, lk;
    new_socket_round_trip("accepted.example.", &init2, &lk);
    cr_assert(!same_peer(&init1, &init2));
    zr_msg_free(&init1);
    zr_msg_free(&init2);
    zr_msg_free(&lk);
    finish();
}

Test(zmq_upstream, two_calls_in_flight_on_two_sockets_complete_out_of_order)
{
    start_responder(NULL);
    char *up = rbgw_test_fmt("zeromq:endpoint=%s,timeout=5000,max-conns=2", resp_ep);
    char *l2 = rbgw_test_fmt("--listen+=unix:path=%s", gw_sock);
    spawn_gw(up, l2, NULL);
    /* The pipe listener answering initialize shows rbgw is up, unix listener included. */
    char *r = call("{\"method\": \"initialize\", \"parameters\": {}}");
    cr_assert_str_eq(r, "{\"result\":true}");
    client = fake_json_connect(gw_sock);
    cr_assert_not_null(client, "connect %s: %s", gw_sock, strerror(errno));

    /* The responder holds the first call until the second arrives, then answers the second
     * first: only two sockets in flight at once can get both calls there. */
    char *rep_a = rbgw_test_fmt(REPLY_FMT, "held.example.");
    char *rep_b = rbgw_test_fmt(REPLY_FMT, "released.example.");
    zmq_responder_push(resp, ZR_HOLD, rep_a);
    zmq_responder_push(resp, ZR_RELEASE, rep_b);
    char *req_p = rbgw_test_fmt(LOOKUP_FMT, "pipe.example.");
    char *req_u = rbgw_test_fmt(LOOKUP_FMT, "unix.example.");
    cr_assert_eq(rbgw_proc_write_str(gw, rbgw_test_fmt("%s\n", req_p)), 0);
    rbgw_test_client_send(client, req_u);

    char *got_p = rbgw_test_read_line(gw);
    char *got_u = rbgw_test_client_read(client, gw);

    /* Four messages: two initializes, two calls, from two peers; each client got the reply
     * the responder chose for its own call. */
    struct zr_msg m[4];
    int ncalls = 0;
    for (int i = 0; i < 4; i++) {
        m[i] = next_msg("message");
        if (!m[i].initialize) {
            ncalls++;
            cr_assert_not_null(m[i].reply);
            if (strcmp(m[i].data, req_p) == 0) {
                cr_assert_str_eq(got_p, m[i].reply, "the pipe client got another call's reply");
            } else {
                cr_assert_str_eq(m[i].data, req_u);
                cr_assert_str_eq(got_u, m[i].reply, "the unix client got another call's reply");
            }
        }
    }
    cr_assert_eq(ncalls, 2);
    cr_assert_str_neq(got_p, got_u);
    int calls[2], nc = 0;
    for (int i = 0; i < 4; i++) {
        if (!m[i].initialize) {
            calls[nc++] = i;
        }
    }
    cr_assert(!same_peer(&m[calls[0]], &m[calls[1]]), "both calls used one socket");
    for (int i = 0; i < 4; i++) {
        zr_msg_free(&m[i]);
    }
    fake_json_client_free(client);
    client = NULL;
    finish_by(true); /* the unix listener would keep rbgw running after stdin's EOF */
}

Test(zmq_upstream, tcp_endpoint)
{
    start_responder("tcp://127.0.0.1:*");
    char *up = rbgw_test_fmt("zeromq:endpoint=%s,timeout=5000", zmq_responder_endpoint(resp));
    cr_assert(strncmp(zmq_responder_endpoint(resp), "tcp://127.0.0.1:", 16) == 0);
    spawn_gw(up, NULL, NULL);
    struct zr_msg init, lk;
    new_socket_round_trip("tcp.example.", &init, &lk);
    cr_assert_not_null(strstr(init.data, zmq_responder_endpoint(resp)));
    zr_msg_free(&init);
    zr_msg_free(&lk);
    finish();
}

Test(zmq_upstream, malformed_endpoint_is_a_start_up_error)
{
    spawn_gw("zeromq:endpoint=localhost:5555", NULL, NULL);
    rbgw_proc_close_stdin(gw);
    int st = 0;
    cr_assert_eq(rbgw_proc_wait(gw, IO_BOUND_MS, &st), 0, "rbgw did not exit");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0, "rbgw accepted endpoint=localhost:5555");
    cr_assert(
        rbgw_test_stderr_has(gw, "endpoint=localhost:5555: expected tcp://HOST:PORT or ipc://PATH"),
        "no endpoint error on stderr:\n%s", errtail());
}

/*
 * test_fanout_sessions.c: every ordering of a call's outcome, pdns going away, the deadline and
 * shutdown, for plain calls and each transaction call, in-process (docs/architecture.md,
 * Sessions; docs/fanout.md, Transactions).
 *
 *   test (as the listener: sessions, requests) ──> fan-out, pools (the real code)
 *                                                     └── fake transport (fake_upstream.h):
 *                                                         the test answers each call
 *
 * Table: pool kind (one upstream; two upstreams with write=all) x call (lookup,
 * startTransaction, feedRecord in a transaction, commitTransaction, abortTransaction) x
 * ordering of events once the call is in flight: its reply (true or false), a failure that
 * keeps the conn (an HTTP 500) or closes it, its deadline, the session gone (pdns closed its
 * connection), the gateway stopping.  For each case:
 *
 *  - the call is answered exactly once if pdns is still there when its outcome comes, never
 *    after its session is gone;
 *  - nothing stays pinned: a transaction still open when its session ends has its conns closed
 *    (after the call they carry, if busy), a committed or aborted one gives them back;
 *  - every request, session, conn and handle is freed (the run ends with uv_loop_close == 0,
 *    and the suite also runs under AddressSanitizer, which catches any use after free).
 *
 * Before sessions existed, "session gone, then the commit's reply" was a heap use-after-free
 * (the transaction was freed twice), and "session gone while the start or a call of the
 * transaction is in flight, then its reply" left the conn pinned until idle-timeout.
 * Then a few orderings the table cannot express: calls of one transaction in flight at the same
 * time (a pipelining ZeroMQ DEALER), two startTransactions with one trxid, a restart.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdio.h>
#include <string.h>

#include "fake_upstream.h"
#include "rbgw/session.h"

TestSuite(fanout_sessions, .fini = fake_gw_teardown, .timeout = 30);

#define TRXID 4242
#define START                                                                                      \
    "{\"method\": \"startTransaction\", \"parameters\": {\"domain\": \"example.org.\", "           \
    "\"domain_id\": 3, \"trxid\": 4242}}"
#define FEED                                                                                       \
    "{\"method\": \"feedRecord\", \"parameters\": {\"rr\": {\"auth\": true, \"content\": "         \
    "\"192.0.2.77\", \"qname\": \"www.example.org.\", \"qtype\": \"A\", \"ttl\": 60}, "            \
    "\"trxid\": 4242}}"
#define COMMIT "{\"method\": \"commitTransaction\", \"parameters\": {\"trxid\": 4242}}"
#define ABORT "{\"method\": \"abortTransaction\", \"parameters\": {\"trxid\": 4242}}"
#define LOOKUP                                                                                     \
    "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"www.example.org.\", \"qtype\": "       \
    "\"A\", \"zone-id\": -1}}"
#define TRUE_REPLY "{\"result\":true}"
#define FALSE_REPLY "{\"result\":false}"

enum pool_kind { ONE, ALL };
enum call_kind { PLAIN, START_TRX, IN_TRX, COMMIT_TRX, ABORT_TRX };
enum ev { E_END, E_REPLY, E_FALSE, E_FAIL_KEEP, E_FAIL, E_DEADLINE, E_GONE, E_STOP };

static const char *const pool_names[] = {"one upstream", "write=all"};
static const char *const call_names[] = {"lookup", "startTransaction", "feedRecord", "commit",
                                         "abort"};
static const char *const call_json[] = {LOOKUP, START, FEED, COMMIT, ABORT};
static const char *const ev_names[] = {"",     "reply",    "false", "fail-keep",
                                       "fail", "deadline", "gone",  "stop"};

#define MAX_EV 4
struct ordering {
    enum ev ev[MAX_EV]; /* up to MAX_EV events, E_END-terminated */
};

static const struct ordering orderings[] = {
    {{E_REPLY, E_GONE}},
    {{E_GONE, E_REPLY}},
    {{E_FALSE, E_GONE}},
    {{E_GONE, E_FALSE}},
    {{E_FAIL_KEEP, E_GONE}},
    {{E_GONE, E_FAIL_KEEP}},
    {{E_FAIL, E_GONE}},
    {{E_GONE, E_FAIL}},
    {{E_DEADLINE, E_GONE}},
    {{E_GONE, E_DEADLINE}},
    {{E_STOP, E_REPLY, E_GONE}},
    {{E_STOP, E_GONE, E_REPLY}},
    {{E_GONE, E_STOP, E_REPLY}},
    {{E_STOP, E_GONE, E_DEADLINE}},
    {{E_GONE, E_STOP, E_FAIL_KEEP}},
};

struct tcase {
    enum pool_kind pool;
    enum call_kind call;
    size_t ordering; /* index in orderings */
};

#define NCASES (2 * 5 * RBGW_NELEM(orderings))

ParameterizedTestParameters(fanout_sessions, every_ordering)
{
    static struct tcase cases[NCASES];
    size_t n = 0;
    for (int p = ONE; p <= ALL; p++) {
        for (int c = PLAIN; c <= ABORT_TRX; c++) {
            for (size_t o = 0; o < RBGW_NELEM(orderings); o++) {
                cases[n++] = (struct tcase){(enum pool_kind)p, (enum call_kind)c, o};
            }
        }
    }
    return cr_make_param_array(struct tcase, cases, n);
}

static const char *
case_name(const struct tcase *t)
{
    static char buf[160];
    int n = snprintf(buf, sizeof(buf), "%s, %s:", pool_names[t->pool], call_names[t->call]);
    for (size_t i = 0; i < MAX_EV && orderings[t->ordering].ev[i] != E_END; i++) {
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, " %s",
                      ev_names[orderings[t->ordering].ev[i]]);
    }
    return buf;
}

static void
start_gw(enum pool_kind p)
{
    /* deadline= short: the deadline events wait for it (a state, not a time, is asserted) */
    if (p == ONE) {
        const char *args[] = {"--upstream=unix:path=/fake/alpha,name=alpha", "--deadline=60", NULL};
        fake_gw_start(args);
    } else {
        const char *args[] = {"--upstream=unix:path=/fake/alpha,name=alpha",
                              "--upstream+=unix:path=/fake/bravo,name=bravo",
                              "--pool=p:upstreams=alpha+bravo,write=all,retries=0", "--deadline=60",
                              NULL};
        fake_gw_start(args);
    }
}

#define MAX_LEGS 4

/* Answer every call in flight with json; returns how many there were. */
static size_t
reply_all(const char *json)
{
    struct fake_conn *fc[MAX_LEGS];
    size_t n = fake_gw_sending(fc, MAX_LEGS);
    for (size_t i = 0; i < n; i++) {
        fake_conn_reply(fc[i], json, true);
    }
    return n;
}

static size_t
fail_all(int flags)
{
    struct fake_conn *fc[MAX_LEGS];
    size_t n = fake_gw_sending(fc, MAX_LEGS);
    for (size_t i = 0; i < n; i++) {
        fake_conn_error(fc[i], flags, flags ? "HTTP 500 (the conn stays usable)" : "reset");
    }
    return n;
}

static bool
nothing_in_flight(void *arg)
{
    RBGW_UNUSED(arg);
    struct fake_conn *fc[MAX_LEGS];
    return fake_gw_sending(fc, MAX_LEGS) == 0;
}

static bool
ok_answer(const struct fake_req *r)
{
    return r->nanswers == 1 && strstr(r->answer, "\"result\":false") == NULL &&
           strstr(r->answer, "\"result\": false") == NULL;
}

/* Bring the session's transaction to where the call under test is sent. */
static void
prepare(enum call_kind c, struct rbgw_session *s)
{
    if (c == PLAIN || c == START_TRX) {
        return;
    }
    struct fake_req *st = fake_gw_send(s, START);
    cr_assert_gt(reply_all(TRUE_REPLY), 0, "the start reached no upstream");
    cr_assert(ok_answer(st), "start: %s", st->answer);
    if (c == COMMIT_TRX) {
        struct fake_req *fd = fake_gw_send(s, FEED);
        cr_assert_gt(reply_all(TRUE_REPLY), 0);
        cr_assert(ok_answer(fd), "feed: %s", fd->answer);
    }
}

/* Should the conns that carried the call be closed once the events are over? */
static bool
expect_closed(const struct tcase *t, enum ev outcome, bool stopped)
{
    if (stopped || outcome == E_FAIL || outcome == E_DEADLINE) {
        return true; /* the pool closed them */
    }
    switch (t->call) {
    case PLAIN:
        return false;
    case START_TRX:
        /* opened, then dropped with its session; or answered false (pdns sends nothing more)
         * and released; a failed start pinned nothing */
        return outcome != E_FAIL_KEEP;
    case IN_TRX:
        return true; /* the transaction was open when its session ended */
    case COMMIT_TRX:
    case ABORT_TRX:
        /* an answered end gives the conn back; a failed one leaves its state unknown */
        return outcome == E_FAIL_KEEP;
    }
    return true;
}

ParameterizedTest(struct tcase *t, fanout_sessions, every_ordering)
{
    const char *name = case_name(t);
    start_gw(t->pool);
    struct rbgw_session *s = fake_gw_session();
    prepare(t->call, s);

    struct fake_req *r = fake_gw_send(s, call_json[t->call]);
    struct fake_conn *legs[MAX_LEGS];
    size_t nlegs = fake_gw_sending(legs, MAX_LEGS);
    size_t want_legs = t->pool == ALL && t->call != PLAIN ? 2 : 1;
    cr_assert_eq(nlegs, want_legs, "%s: %zu calls in flight, not %zu", name, nlegs, want_legs);
    cr_assert_eq(r->nanswers, 0, "%s: answered before any outcome: %s", name, r->answer);

    bool gone = false, stopped = false;
    bool answered_while_there = false;
    enum ev outcome = E_END;
    for (size_t i = 0; i < MAX_EV && orderings[t->ordering].ev[i] != E_END; i++) {
        enum ev e = orderings[t->ordering].ev[i];
        switch (e) {
        case E_REPLY:
            cr_assert_eq(reply_all(TRUE_REPLY), nlegs, "%s", name);
            break;
        case E_FALSE:
            cr_assert_eq(reply_all(FALSE_REPLY), nlegs, "%s", name);
            break;
        case E_FAIL_KEEP:
            cr_assert_eq(fail_all(RBGW_UPCONN_KEEP), nlegs, "%s", name);
            break;
        case E_FAIL:
            cr_assert_eq(fail_all(0), nlegs, "%s", name);
            break;
        case E_DEADLINE:
            fake_gw_run_until(nothing_in_flight, NULL);
            break;
        case E_GONE:
            fake_gw_gone(s);
            gone = true;
            break;
        case E_STOP:
            rbgw_gateway_stop(fake_gw());
            stopped = true;
            break;
        case E_END:
            break;
        }
        if (e != E_GONE && e != E_STOP) {
            outcome = e;
            answered_while_there = !gone;
            /* One answer exactly while pdns is there, none after it left. */
            cr_assert_eq(r->nanswers, answered_while_there ? 1 : 0, "%s: %u answers (%s)", name,
                         r->nanswers, r->answer);
            if (answered_while_there) {
                bool want_ok = e == E_REPLY;
                cr_assert_eq(ok_answer(r), want_ok, "%s: answer %s", name, r->answer);
            }
        }
    }
    cr_assert(gone, "%s: every ordering lets the session go", name);
    cr_assert_eq(fake_gw()->nsessions, 0, "%s: the session outlived its last request", name);
    cr_assert_eq(fake_gw()->inflight, 0, "%s: a request outlived its outcome", name);

    /* Nothing pinned, nothing busy, and the call's conns closed or given back as they should. */
    for (size_t u = 0; u < rbgw_gateway_nupstreams(fake_gw()); u++) {
        cr_assert_eq(fake_gw_npinned(u), 0, "%s: %zu conn(s) of %s still pinned", name,
                     fake_gw_npinned(u), rbgw_gateway_upstream(fake_gw(), u)->name);
        cr_assert_eq(fake_gw_nbusy(u), 0, "%s: a conn of %s still busy", name,
                     rbgw_gateway_upstream(fake_gw(), u)->name);
    }
    bool want_closed = expect_closed(t, outcome, stopped);
    for (size_t i = 0; i < nlegs; i++) {
        cr_assert_eq(legs[i]->c == NULL, want_closed, "%s: conn %llu is %s, expected %s", name,
                     (unsigned long long)legs[i]->id, legs[i]->c ? "open" : "closed",
                     want_closed ? "closed" : "open");
    }
    fake_gw_finish();
}

/* ---- orderings the table cannot express ---- */

static const char *const one_upstream[] = {"--upstream=unix:path=/fake/alpha,name=alpha", NULL};

/*
 * A pipelining peer: the commit arrives while a feed of the same transaction is in flight.
 * The commit cannot go to the busy pinned conn: it is answered false at once and ends the
 * transaction, whose conn then closes once the feed is answered; the feed's answer still
 * reaches pdns.
 */
Test(fanout_sessions, commit_while_a_feed_is_in_flight)
{
    fake_gw_start(one_upstream);
    struct rbgw_session *s = fake_gw_session();
    prepare(IN_TRX, s);
    struct fake_req *feed = fake_gw_send(s, FEED);
    struct fake_conn *fc[MAX_LEGS];
    cr_assert_eq(fake_gw_sending(fc, MAX_LEGS), 1);
    struct fake_req *commit = fake_gw_send(s, COMMIT);
    cr_assert_eq(commit->nanswers, 1, "the commit waits instead of failing");
    cr_assert(strstr(commit->answer, "busy"), "answer: %s", commit->answer);
    cr_assert_not(ok_answer(commit));
    fake_conn_reply(fc[0], TRUE_REPLY, true);
    cr_assert(ok_answer(feed), "feed: %s", feed->answer);
    cr_assert_null(fc[0]->c, "the ended transaction's conn stayed open");
    cr_assert_eq(fake_gw_npinned(0), 0);
    /* The session goes on: a new transaction works. */
    struct fake_req *st = fake_gw_send(s, START);
    cr_assert_eq(reply_all(TRUE_REPLY), 1);
    cr_assert(ok_answer(st));
    struct fake_req *cm = fake_gw_send(s, COMMIT);
    cr_assert_eq(reply_all(TRUE_REPLY), 1);
    cr_assert(ok_answer(cm), "commit: %s", cm->answer);
    cr_assert_eq(fake_gw_npinned(0), 0);
    fake_gw_finish();
}

/* Two starts with one trxid in flight at once: the later answer's transaction wins; the other
 * one's conn is closed, and the commit goes to the winner's conn. */
Test(fanout_sessions, two_starts_with_one_trxid)
{
    fake_gw_start(one_upstream);
    struct rbgw_session *s = fake_gw_session();
    struct fake_req *a = fake_gw_send(s, START);
    struct fake_req *b = fake_gw_send(s, START);
    struct fake_conn *fc[MAX_LEGS];
    cr_assert_eq(fake_gw_sending(fc, MAX_LEGS), 2);
    struct fake_conn *first = fc[0], *second = fc[1];
    fake_conn_reply(first, TRUE_REPLY, true);
    fake_conn_reply(second, TRUE_REPLY, true);
    cr_assert(ok_answer(a) && ok_answer(b));
    cr_assert_null(first->c, "the losing start's conn stayed open");
    cr_assert_not_null(second->c);
    cr_assert_eq(fake_gw_npinned(0), 1);
    struct fake_req *cm = fake_gw_send(s, COMMIT);
    cr_assert(second->sending, "the commit did not go to the winning start's conn");
    fake_conn_reply(second, TRUE_REPLY, true);
    cr_assert(ok_answer(cm));
    cr_assert_eq(fake_gw_npinned(0), 0);
    cr_assert_not_null(second->c, "a committed transaction's conn goes back to the pool");
    fake_gw_finish();
}

/* pdns restarts a trxid without commit or abort: the old transaction is dropped (its conn
 * closed); the new one lives on its own conn. */
Test(fanout_sessions, restart_drops_the_old_transaction)
{
    fake_gw_start(one_upstream);
    struct rbgw_session *s = fake_gw_session();
    prepare(IN_TRX, s);
    struct fake_conn *old = fake_gw_conn(0);
    cr_assert_not_null(old->c);
    struct fake_req *st = fake_gw_send(s, START);
    cr_assert_null(old->c, "the restarted transaction's conn stayed open");
    cr_assert_eq(reply_all(TRUE_REPLY), 1);
    cr_assert(ok_answer(st));
    struct fake_req *cm = fake_gw_send(s, COMMIT);
    cr_assert_eq(reply_all(TRUE_REPLY), 1);
    cr_assert(ok_answer(cm));
    cr_assert_eq(fake_gw_npinned(0), 0);
    fake_gw_finish();
}

/* Two sessions, the same trxid: two transactions on two conns; one session leaving drops
 * only its own. */
Test(fanout_sessions, sessions_keep_their_transactions_apart)
{
    fake_gw_start(one_upstream);
    struct rbgw_session *s1 = fake_gw_session();
    struct rbgw_session *s2 = fake_gw_session();
    prepare(IN_TRX, s1);
    prepare(IN_TRX, s2);
    cr_assert_eq(fake_gw_nconns(), 2);
    struct fake_conn *c1 = fake_gw_conn(0), *c2 = fake_gw_conn(1);
    cr_assert_eq(fake_gw_npinned(0), 2);
    fake_gw_gone(s1);
    cr_assert_null(c1->c, "s1's transaction conn stayed open");
    cr_assert_not_null(c2->c, "s2's transaction conn was closed with s1");
    struct fake_req *cm = fake_gw_send(s2, COMMIT);
    cr_assert(c2->sending);
    fake_conn_reply(c2, TRUE_REPLY, true);
    cr_assert(ok_answer(cm));
    fake_gw_finish();
}

/* write=all, the start succeeds on one member only: the transaction is not opened, pdns gets
 * false, and the member that did open it has its conn closed (even though that conn is the
 * one whose answer completes the start). */
Test(fanout_sessions, write_all_start_half_open)
{
    const char *args[] = {"--upstream=unix:path=/fake/alpha,name=alpha",
                          "--upstream+=unix:path=/fake/bravo,name=bravo",
                          "--pool=p:upstreams=alpha+bravo,write=all", NULL};
    fake_gw_start(args);
    struct rbgw_session *s = fake_gw_session();
    struct fake_req *st = fake_gw_send(s, START);
    struct fake_conn *fc[MAX_LEGS];
    cr_assert_eq(fake_gw_sending(fc, MAX_LEGS), 2);
    fake_conn_reply(fc[0], FALSE_REPLY, true);
    fake_conn_reply(fc[1], TRUE_REPLY, true); /* the last answer: par_complete runs inside it */
    cr_assert_eq(st->nanswers, 1);
    cr_assert_not(ok_answer(st), "answer: %s", st->answer);
    cr_assert_null(fc[0]->c, "a conn that answered the start false stayed open");
    cr_assert_null(fc[1]->c, "the half-open transaction's conn stayed open");
    cr_assert_eq(fake_gw_npinned(0) + fake_gw_npinned(1), 0);
    fake_gw_finish();
}

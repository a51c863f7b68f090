/*
 * test_fanout_trx.c: transactions through a fan-out pool (docs/fanout.md, Operation:
 * Transactions).
 *
 *   pdns connections (stdin, unix clients) ──> rbgw ──HTTP──> alpha, bravo (fake_fanout)
 *
 * A transaction is startTransaction, feedRecord..., commitTransaction with one trxid, from one
 * pdns connection.  The responders record the TCP connection of every request, so the tests
 * check what pdns needs: every call of a transaction reaches the responder that started it on
 * the very connection that carried the start, while other calls (lookups) keep being balanced
 * and never use that connection; two transactions from two pdns connections with the same
 * trxid stay apart; with write=all, a call that failed on one member turns the commit into an
 * abort on every member; a transaction whose connection died is failed, not moved; a pdns
 * connection that goes away takes its transaction's connection with it.
 *
 * Pools use policy=round-robin so that consecutive calls would go to different members if
 * rbgw did not keep a transaction together.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "fake_fanout.h"

TestSuite(fanout_trx, .fini = fanout_test_teardown, .timeout = 30);

#define TWO_RR                                                                                     \
    "upstream=http:url={A},name=alpha\n"                                                           \
    "upstream+=http:url={B},name=bravo\n"                                                          \
    "pool=p:upstreams=alpha+bravo,policy=round-robin\n"

static bool
is_trx_method(const char *m)
{
    return strcmp(m, "startTransaction") == 0 || strcmp(m, "feedRecord") == 0 ||
           strcmp(m, "commitTransaction") == 0 || strcmp(m, "abortTransaction") == 0;
}

/* True when name is suffix or ends in "." suffix. */
static bool
name_in(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n >= s && strcmp(name + n - s, suffix) == 0 && (n == s || name[n - s - 1] == '.');
}

/* The responder (index) and connection that carried startTransaction for domain. */
static void
find_start(const char *domain, size_t *who, unsigned *conn)
{
    size_t found = 0;
    for (size_t u = 0; u < 2; u++) {
        struct fake_fanout *s = fanout_test_up(u);
        for (size_t i = 0; i < fake_fanout_nreqs(s); i++) {
            struct fake_fanout_req r;
            cr_assert(fake_fanout_req(s, i, &r));
            if (strcmp(r.method, "startTransaction") == 0 && strcmp(r.name, domain) == 0) {
                *who = u;
                *conn = r.conn;
                found++;
            }
        }
    }
    cr_assert_eq(found, 1, "startTransaction for %s reached the responders %zu times", domain,
                 found);
}

/*
 * The requests on connection conn of responder who must be exactly: startTransaction for
 * domain, then nfeed feedRecords for names in domain, then last ("commitTransaction" or
 * "abortTransaction"), all with trxid.
 */
static void
expect_conn_carries(size_t who, unsigned conn, const char *domain, size_t nfeed, const char *last,
                    long long trxid)
{
    struct fake_fanout *s = fanout_test_up(who);
    size_t k = 0;
    for (size_t i = 0; i < fake_fanout_nreqs(s); i++) {
        struct fake_fanout_req r;
        cr_assert(fake_fanout_req(s, i, &r));
        if (r.conn != conn) {
            continue;
        }
        const char *want = k == 0 ? "startTransaction" : k <= nfeed ? "feedRecord" : last;
        cr_assert_lt(k, nfeed + 2, "%s conn #%u carried an extra %s (%s)", fake_fanout_name(s),
                     conn, r.method, r.name);
        cr_assert_str_eq(r.method, want, "%s conn #%u, request %zu of the transaction on %s",
                         fake_fanout_name(s), conn, k, domain);
        cr_assert_eq(r.trxid, trxid, "%s conn #%u: %s with trxid %lld", fake_fanout_name(s), conn,
                     r.method, r.trxid);
        if (k <= nfeed) {
            cr_assert(name_in(r.name, domain), "%s conn #%u: %s for %s, not in %s",
                      fake_fanout_name(s), conn, r.method, r.name, domain);
        }
        k++;
    }
    cr_assert_eq(k, nfeed + 2, "%s conn #%u carried %zu calls of the transaction on %s, not %zu",
                 fake_fanout_name(s), conn, k, domain, nfeed + 2);
}

/* No request for a name in domain, and (if other_trx) no transaction call at all, at who. */
static void
expect_none_at(size_t who, const char *domain, bool no_trx_calls)
{
    struct fake_fanout *s = fanout_test_up(who);
    for (size_t i = 0; i < fake_fanout_nreqs(s); i++) {
        struct fake_fanout_req r;
        cr_assert(fake_fanout_req(s, i, &r));
        cr_assert_not(name_in(r.name, domain),
                      "%s got %s for %s, a call of another member's "
                      "transaction",
                      fake_fanout_name(s), r.method, r.name);
        cr_assert_not(no_trx_calls && is_trx_method(r.method), "%s got a %s", fake_fanout_name(s),
                      r.method);
    }
}

static void
expect_ok(const char *what, const char *r)
{
    cr_assert(fanout_reply_ok(r), "%s: %s\nrbgw stderr:\n%s", what, r, fanout_test_stderr());
}

Test(fanout_trx, transaction_stays_on_one_connection_while_reads_are_balanced)
{
    fanout_test_responders(2);
    fanout_test_gw(TWO_RR);
    expect_ok("start", fanout_test_call(fanout_test_start_trx("example.org.", 42)));
    for (int i = 1; i <= 3; i++) {
        expect_ok("lookup",
                  fanout_test_call(fanout_test_lookup(fanout_test_fmt("q%d.example.net.", i))));
        expect_ok("feed",
                  fanout_test_call(fanout_test_feed(fanout_test_fmt("r%d.example.org.", i), 42)));
    }
    expect_ok("lookup", fanout_test_call(fanout_test_lookup("q4.example.net.")));
    expect_ok("commit", fanout_test_call(fanout_test_commit(42)));

    size_t who;
    unsigned conn;
    find_start("example.org.", &who, &conn);
    expect_conn_carries(who, conn, "example.org.", 3, "commitTransaction", 42);
    expect_none_at(1 - who, "example.org.", true);

    /* The reads went on being balanced, and never over the transaction's connection. */
    struct fake_fanout *holder = fanout_test_up(who);
    cr_assert_gt(fake_fanout_count(fanout_test_up(1 - who), "lookup"), 0,
                 "round-robin sent no lookup to the other member");
    cr_assert_gt(fake_fanout_count(holder, "lookup"), 0,
                 "round-robin sent no lookup to the transaction's member");
    for (size_t i = 0; i < fake_fanout_nreqs(holder); i++) {
        struct fake_fanout_req r;
        cr_assert(fake_fanout_req(holder, i, &r));
        cr_assert(strcmp(r.method, "lookup") != 0 || r.conn != conn,
                  "a lookup (%s) used the connection pinned to the transaction", r.name);
    }
}

Test(fanout_trx, concurrent_transactions_from_two_pdns_connections_stay_apart)
{
    fanout_test_responders(2);
    fanout_test_gw(TWO_RR);
    struct fake_json_client *c1 = fanout_test_client();
    struct fake_json_client *c2 = fanout_test_client();
    /* The same trxid on both: a transaction is its pdns connection plus trxid. */
    expect_ok("c1 start", fanout_test_client_call(c1, fanout_test_start_trx("one.example.", 7)));
    expect_ok("c2 start", fanout_test_client_call(c2, fanout_test_start_trx("two.example.", 7)));
    for (int i = 1; i <= 3; i++) {
        expect_ok("c1 feed", fanout_test_client_call(
                                 c1, fanout_test_feed(fanout_test_fmt("r%d.one.example.", i), 7)));
        expect_ok("c2 feed", fanout_test_client_call(
                                 c2, fanout_test_feed(fanout_test_fmt("r%d.two.example.", i), 7)));
    }
    expect_ok("c1 commit", fanout_test_client_call(c1, fanout_test_commit(7)));
    expect_ok("c2 commit", fanout_test_client_call(c2, fanout_test_commit(7)));

    size_t who1, who2;
    unsigned conn1, conn2;
    find_start("one.example.", &who1, &conn1);
    find_start("two.example.", &who2, &conn2);
    cr_assert_neq(who1, who2, "round-robin put both starts on %s",
                  fake_fanout_name(fanout_test_up(who1)));
    expect_conn_carries(who1, conn1, "one.example.", 3, "commitTransaction", 7);
    expect_conn_carries(who2, conn2, "two.example.", 3, "commitTransaction", 7);
    expect_none_at(who2, "one.example.", false);
    expect_none_at(who1, "two.example.", false);
    cr_assert_eq(fake_fanout_count(fanout_test_up(who1), "commitTransaction"), 1);
    cr_assert_eq(fake_fanout_count(fanout_test_up(who2), "commitTransaction"), 1);
}

Test(fanout_trx, write_all_commit_becomes_abort_when_a_member_failed_a_call)
{
    fanout_test_responders(2);
    struct fake_fanout *bravo = fanout_test_up(1);
    fake_fanout_rule(bravo, "feedRecord", FAKE_FANOUT_ANSWER, 1);
    fake_fanout_rule(bravo, "feedRecord", FAKE_FANOUT_FALSE, 1);
    fanout_test_gw("upstream=http:url={A},name=alpha\n"
                   "upstream+=http:url={B},name=bravo\n"
                   "pool=p:upstreams=alpha+bravo,write=all\n");
    expect_ok("start", fanout_test_call(fanout_test_start_trx("example.org.", 9)));
    expect_ok("feed 1", fanout_test_call(fanout_test_feed("r1.example.org.", 9)));
    const char *r = fanout_test_call(fanout_test_feed("r2.example.org.", 9));
    cr_assert_not(fanout_reply_ok(r), "bravo said false to feed 2: %s", r);
    cr_assert(strstr(r, "bravo"), "the reply names bravo: %s", r);
    (void)fanout_test_call(fanout_test_feed("r3.example.org.", 9)); /* pdns would not, but may */
    r = fanout_test_call(fanout_test_commit(9));
    cr_assert_not(fanout_reply_ok(r), "the commit of a transaction that failed on bravo: %s", r);
    cr_assert(strstr(r, "abort"), "the reply says the transaction was aborted: %s", r);

    for (size_t u = 0; u < 2; u++) {
        struct fake_fanout *s = fanout_test_up(u);
        cr_assert_eq(fake_fanout_count(s, "commitTransaction"), 0, "%s got a commit",
                     fake_fanout_name(s));
        cr_assert_eq(fake_fanout_count(s, "abortTransaction"), 1, "%s got %zu aborts",
                     fake_fanout_name(s), fake_fanout_count(s, "abortTransaction"));
        /* write=all: the start went to both; the abort must come on that same connection */
        struct fake_fanout_req first;
        cr_assert(fake_fanout_req(s, 0, &first));
        cr_assert_str_eq(first.method, "startTransaction");
        expect_conn_carries(u, first.conn, "example.org.", 3, "abortTransaction", 9);
    }
}

Test(fanout_trx, transaction_whose_connection_died_fails_instead_of_moving)
{
    fanout_test_responders(2);
    fanout_test_gw(TWO_RR);
    expect_ok("start", fanout_test_call(fanout_test_start_trx("example.org.", 11)));
    size_t who;
    unsigned conn;
    find_start("example.org.", &who, &conn);
    fake_fanout_kill(fanout_test_up(who));
    const char *r = fanout_test_call(fanout_test_feed("r1.example.org.", 11));
    cr_assert_not(fanout_reply_ok(r), "the transaction's connection is gone: %s", r);
    r = fanout_test_call(fanout_test_commit(11));
    cr_assert_not(fanout_reply_ok(r), "commit after the connection died: %s", r);
    expect_none_at(1 - who, "example.org.", true);
}

Test(fanout_trx, transaction_call_is_never_resent_on_another_connection)
{
    fanout_test_responders(2);
    /* alpha reads the first feedRecord on the transaction's connection and drops that
     * connection (its transaction is gone with it): the call must fail, not go out again on a
     * fresh connection where it would be applied outside any transaction. */
    fake_fanout_rule(fanout_test_up(0), "feedRecord", FAKE_FANOUT_CLOSE, 1);
    fanout_test_gw("upstream=http:url={A},name=alpha\n"
                   "upstream+=http:url={B},name=bravo\n"
                   "pool=p:upstreams=alpha+bravo,policy=first-available\n");
    expect_ok("start", fanout_test_call(fanout_test_start_trx("example.org.", 15)));
    size_t who;
    unsigned conn;
    find_start("example.org.", &who, &conn);
    cr_assert_eq(who, 0);
    const char *r = fanout_test_call(fanout_test_feed("r1.example.org.", 15));
    struct fake_fanout *alpha = fanout_test_up(0);
    for (size_t i = 0; i < fake_fanout_nreqs(alpha); i++) {
        struct fake_fanout_req q;
        cr_assert(fake_fanout_req(alpha, i, &q));
        cr_assert(!is_trx_method(q.method) || q.conn == conn,
                  "alpha got %s (trxid %lld) on connection #%u, the transaction is on #%u "
                  "(feed reply %s); rbgw stderr:\n%s",
                  q.method, q.trxid, q.conn, conn, r, fanout_test_stderr());
    }
    cr_assert_not(fanout_reply_ok(r), "the feed's connection died: false: %s", r);
    expect_none_at(1, "example.org.", true);
}

Test(fanout_trx, closed_pdns_connection_closes_its_transaction_connection)
{
    fanout_test_responders(2);
    fanout_test_gw(TWO_RR);
    struct fake_json_client *c = fanout_test_client();
    expect_ok("start", fanout_test_client_call(c, fanout_test_start_trx("example.org.", 13)));
    expect_ok("feed", fanout_test_client_call(c, fanout_test_feed("r1.example.org.", 13)));
    size_t who;
    unsigned conn;
    find_start("example.org.", &who, &conn);
    struct fake_fanout *s = fanout_test_up(who);
    cr_assert(fake_fanout_conn_open(s, conn));
    fanout_test_client_close(c);
    /* The state itself (that connection closed), not a count of closes: another connection's
     * close, before or after this point, must neither satisfy nor spoil the wait. */
    cr_assert(fake_fanout_wait_conn_closed(s, conn, FANOUT_IO_MS),
              "pdns went away mid-transaction but %s's connection #%u stayed open; rbgw "
              "stderr:\n%s",
              fake_fanout_name(s), conn, fanout_test_stderr());
    cr_assert_eq(fake_fanout_count(s, "commitTransaction"), 0);
    /* The gateway goes on serving. */
    expect_ok("lookup after", fanout_test_call(fanout_test_lookup("www.example.net.")));
}

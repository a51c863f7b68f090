/*
 * test_cache.c: the read cache and coalescing (cache.h, cachegw.h) through a real gateway,
 * with responders that count the calls they get.
 *
 * In-process (fake_upstream.h: the real gateway, fan-out and pools; a transport the test
 * answers by hand, so every ordering is chosen, not raced):
 *  - N identical lookups in flight at once reach the responder once and all get its reply;
 *    the same with a failure, which every waiter gets (not retried, not cached);
 *  - a cached reply answers without an upstream call; false replies and failures are never
 *    stored; keys keep clients apart unless cache-per-client=no;
 *  - a write drops what is at, above or below its name (and nothing else); a write that
 *    completes while a read is in flight keeps that read's reply out of the cache; zone state
 *    (setNotified) drops nothing;
 *  - a session with an open transaction reads around the cache; the transaction's commit drops
 *    its zone;
 *  - a waiter whose session goes, the lead's session going, a deadline, shutdown and a reload
 *    with a read in flight: every request is answered at most once, nothing leaks (the suite
 *    runs under AddressSanitizer too), and a reload empties the cache.
 *
 * Binary (rbgw_proc.h, fake_json.h): pdns-like clients on rbgw's unix listener, a unix
 * responder that holds calls until released: N clients ask the same lookup, the responder sees
 * one call, every client gets the reply; one of the waiting clients hangs up first.
 *
 * No test waits for a duration: each waits for a state (answers given, calls held by the
 * responder, rbgw's log lines), bounded only so that a broken build fails instead of hanging.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fake_json.h"
#include "fake_upstream.h"
#include "itest.h"
#include "rbgw/cache.h"
#include "rbgw/session.h"

#define LOOKUP_AT(qname, remote)                                                                   \
    "{\"method\": \"lookup\", \"parameters\": {\"local\": \"127.0.0.1\", \"qname\": \"" qname      \
    "\", \"qtype\": \"ANY\", \"real-remote\": \"" remote "/32\", \"remote\": \"" remote            \
    "\", \"zone-id\": -1}}"
#define LOOKUP LOOKUP_AT("www.example.org.", "192.0.2.7")
#define LOOKUP_OTHER_ZONE LOOKUP_AT("www.example.net.", "192.0.2.7")
#define RECORDS                                                                                    \
    "{\"result\": [{\"qtype\": \"A\", \"qname\": \"www.example.org.\", \"content\": "              \
    "\"192.0.2.1\", \"ttl\": 60}]}"
#define RECORDS_NET                                                                                \
    "{\"result\": [{\"qtype\": \"A\", \"qname\": \"www.example.net.\", \"content\": "              \
    "\"192.0.2.9\", \"ttl\": 60}]}"
#define TRUE_REPLY "{\"result\": true}"
#define FALSE_REPLY "{\"result\": false}"
#define SET_META(zone)                                                                             \
    "{\"method\": \"setDomainMetadata\", \"parameters\": {\"kind\": \"X\", \"name\": \"" zone      \
    "\", \"value\": [\"1\"]}}"
#define SET_NOTIFIED "{\"method\": \"setNotified\", \"parameters\": {\"id\": 3, \"serial\": 7}}"
#define START                                                                                      \
    "{\"method\": \"startTransaction\", \"parameters\": {\"domain\": \"example.org.\", "           \
    "\"domain_id\": 3, \"trxid\": 77}}"
#define FEED                                                                                       \
    "{\"method\": \"feedRecord\", \"parameters\": {\"rr\": {\"auth\": true, \"content\": "         \
    "\"192.0.2.77\", \"qname\": \"www.example.org.\", \"qtype\": \"A\", \"ttl\": 60}, "            \
    "\"trxid\": 77}}"
#define COMMIT "{\"method\": \"commitTransaction\", \"parameters\": {\"trxid\": 77}}"

#define NWAIT 5
#define MAX_CONNS 16

#define IO_BOUND_MS 10000 /* safety bound for one read or wait, not a timing assertion */
#define NCLIENTS 6

static char *bdir;
static struct rbgw_proc *bgw;
static struct fake_json *bup;
static struct fake_json_client *bcl[NCLIENTS];

static void
bin_teardown(void)
{
    rbgw_proc_free(bgw);
    bgw = NULL;
    for (size_t i = 0; i < NCLIENTS; i++) {
        fake_json_client_free(bcl[i]);
        bcl[i] = NULL;
    }
    fake_json_stop(bup);
    bup = NULL;
    fake_json_rmtree(bdir);
    free(bdir);
    bdir = NULL;
    rbgw_test_release();
}

/* One suite for both parts: Criterion 2.4 leaks a little of its own memory (LeakSanitizer
 * reports it in the runner) when two suites of one binary run with --jobs 2. */
static void
teardown(void)
{
    fake_gw_teardown();
    bin_teardown();
}

TestSuite(cache, .fini = teardown, .timeout = 60);

/* ---- in-process helpers ---- */

static const char *const cache_on[] = {"--upstream=unix:path=/fake/alpha,name=alpha",
                                       "--cache-ttl=60000", NULL};
static const char *const coalesce_on[] = {"--upstream=unix:path=/fake/alpha,name=alpha",
                                          "--coalesce=yes", NULL};
static const char *const both_on[] = {"--upstream=unix:path=/fake/alpha,name=alpha",
                                      "--cache-ttl=60000", "--coalesce=yes", NULL};

/* Calls the responder got so far (every conn, every call). */
static unsigned
calls_sent(void)
{
    unsigned n = 0;
    for (size_t i = 0; i < fake_gw_nconns(); i++) {
        n += fake_gw_conn(i)->nsent;
    }
    return n;
}

/* The one call in flight (asserted to be the only one). */
static struct fake_conn *
the_call(void)
{
    struct fake_conn *fc[MAX_CONNS];
    size_t n = fake_gw_sending(fc, MAX_CONNS);
    cr_assert_eq(n, 1, "%zu calls in flight, want 1", n);
    return fc[0];
}

static size_t
in_flight(void)
{
    struct fake_conn *fc[MAX_CONNS];
    return fake_gw_sending(fc, MAX_CONNS);
}

static bool
no_call_in_flight(void *arg)
{
    RBGW_UNUSED(arg);
    return in_flight() == 0;
}

static bool
answered(void *arg)
{
    return ((struct fake_req *)arg)->nanswers > 0;
}

static struct rbgw_cache_stats *
stats(void)
{
    return rbgw_cache_stats(fake_gw()->cache);
}

static bool
is_false(const struct fake_req *r)
{
    return strstr(r->answer, "\"result\":false") || strstr(r->answer, "\"result\": false");
}

/* Send call on s and have the responder answer it with reply (other calls may be in
 * flight meanwhile); returns the request. */
static struct fake_req *
round_trip(struct rbgw_session *s, const char *call, const char *reply)
{
    struct fake_conn *before[MAX_CONNS], *after[MAX_CONNS];
    size_t nb = fake_gw_sending(before, MAX_CONNS);
    unsigned sent = calls_sent();
    struct fake_req *r = fake_gw_send(s, call);
    cr_assert_eq(calls_sent(), sent + 1, "%s did not reach the responder", call);
    size_t na = fake_gw_sending(after, MAX_CONNS);
    struct fake_conn *fc = NULL;
    for (size_t i = 0; i < na; i++) {
        bool old = false;
        for (size_t j = 0; j < nb; j++) {
            old |= after[i] == before[j];
        }
        if (!old) {
            cr_assert_null(fc, "two new calls in flight");
            fc = after[i];
        }
    }
    cr_assert_not_null(fc);
    fake_conn_reply(fc, reply, true);
    cr_assert_eq(r->nanswers, 1);
    return r;
}

/* Send call on s: it must be answered without reaching the responder. */
static struct fake_req *
served_locally(struct rbgw_session *s, const char *call)
{
    unsigned before = calls_sent();
    struct fake_req *r = fake_gw_send(s, call);
    cr_assert_eq(calls_sent(), before, "%s reached the responder", call);
    cr_assert_eq(r->nanswers, 1, "%s was not answered at once", call);
    return r;
}

/* ---- coalescing ---- */

Test(cache, identical_lookups_in_flight_make_one_call)
{
    fake_gw_start(coalesce_on);
    struct fake_req *r[NWAIT];
    for (size_t i = 0; i < NWAIT; i++) {
        r[i] = fake_gw_send(fake_gw_session(), LOOKUP);
    }
    struct fake_conn *fc = the_call();
    cr_expect_eq(calls_sent(), 1);
    cr_expect_eq(stats()->misses, 1);
    cr_expect_eq(stats()->coalesced, NWAIT - 1);
    for (size_t i = 0; i < NWAIT; i++) {
        cr_expect_eq(r[i]->nanswers, 0, "request %zu answered before the reply", i);
    }
    fake_conn_reply(fc, RECORDS, true);
    for (size_t i = 0; i < NWAIT; i++) {
        cr_expect_eq(r[i]->nanswers, 1, "request %zu", i);
        cr_expect(strstr(r[i]->answer, "192.0.2.1") != NULL, "request %zu got %s", i, r[i]->answer);
    }
    /* coalescing alone stores nothing: once answered, the same lookup goes upstream again */
    round_trip(fake_gw_session(), LOOKUP, RECORDS);
    cr_expect_eq(calls_sent(), 2);
    fake_gw_finish();
}

Test(cache, different_lookups_are_not_coalesced)
{
    fake_gw_start(coalesce_on);
    fake_gw_send(fake_gw_session(), LOOKUP);
    fake_gw_send(fake_gw_session(), LOOKUP_OTHER_ZONE);
    fake_gw_send(fake_gw_session(), LOOKUP_AT("www.example.org.", "198.51.100.1"));
    cr_expect_eq(calls_sent(), 3);
    cr_expect_eq(stats()->coalesced, 0);
    struct fake_conn *fc[MAX_CONNS];
    size_t n = fake_gw_sending(fc, MAX_CONNS);
    for (size_t i = 0; i < n; i++) {
        fake_conn_reply(fc[i], RECORDS, true);
    }
    fake_gw_finish();
}

Test(cache, waiters_share_the_leads_failure)
{
    fake_gw_start(both_on);
    struct fake_req *r[NWAIT];
    for (size_t i = 0; i < NWAIT; i++) {
        r[i] = fake_gw_send(fake_gw_session(), LOOKUP);
    }
    cr_assert_eq(calls_sent(), 1);
    fake_conn_error(the_call(), 0, "reset by the test");
    for (size_t i = 0; i < NWAIT; i++) {
        cr_expect_eq(r[i]->nanswers, 1, "request %zu", i);
        cr_expect(is_false(&*r[i]), "request %zu got %s", i, r[i]->answer);
    }
    cr_expect(strstr(r[1]->answer, "identical call") != NULL, "%s", r[1]->answer);
    cr_expect_eq(calls_sent(), 1, "waiters were retried");
    /* a failure is not stored */
    cr_expect_eq(stats()->entries, 0);
    round_trip(fake_gw_session(), LOOKUP, RECORDS);
    fake_gw_finish();
}

Test(cache, waiters_share_the_leads_deadline)
{
    const char *args[] = {"--upstream=unix:path=/fake/alpha,name=alpha", "--coalesce=yes",
                          "--deadline=50", NULL};
    fake_gw_start(args);
    struct fake_req *r[NWAIT];
    for (size_t i = 0; i < NWAIT; i++) {
        r[i] = fake_gw_send(fake_gw_session(), LOOKUP);
    }
    fake_gw_run_until(answered, r[NWAIT - 1]);
    for (size_t i = 0; i < NWAIT; i++) {
        cr_expect_eq(r[i]->nanswers, 1, "request %zu", i);
        cr_expect(is_false(r[i]), "request %zu got %s", i, r[i]->answer);
    }
    cr_expect_eq(calls_sent(), 1);
    fake_gw_finish();
}

/* pdns closes the connection of a waiting call: its answer is swallowed, the rest goes on. */
Test(cache, a_waiters_session_goes)
{
    fake_gw_start(both_on);
    struct rbgw_session *lead = fake_gw_session(), *gone = fake_gw_session(),
                        *stays = fake_gw_session();
    struct fake_req *rl = fake_gw_send(lead, LOOKUP);
    struct fake_req *rg = fake_gw_send(gone, LOOKUP);
    struct fake_req *rs = fake_gw_send(stays, LOOKUP);
    cr_assert_eq(calls_sent(), 1);
    fake_gw_gone(gone);
    fake_conn_reply(the_call(), RECORDS, true);
    cr_expect_eq(rl->nanswers, 1);
    cr_expect_eq(rs->nanswers, 1);
    cr_expect_eq(rg->nanswers, 0, "an answer for a session that is gone");
    cr_expect_eq(stats()->entries, 1);
    fake_gw_finish();
}

/* The lead's pdns connection goes: the waiters still get the reply. */
Test(cache, the_leads_session_goes)
{
    fake_gw_start(both_on);
    struct rbgw_session *lead = fake_gw_session(), *w = fake_gw_session();
    struct fake_req *rl = fake_gw_send(lead, LOOKUP);
    struct fake_req *rw = fake_gw_send(w, LOOKUP);
    fake_gw_gone(lead);
    fake_conn_reply(the_call(), RECORDS, true);
    cr_expect_eq(rl->nanswers, 0);
    cr_expect_eq(rw->nanswers, 1);
    cr_expect(strstr(rw->answer, "192.0.2.1") != NULL, "%s", rw->answer);
    fake_gw_finish();
}

/* Stopping with waiters: the lead ends as the pool stops, every waiter with it. */
Test(cache, shutdown_with_waiters)
{
    fake_gw_start(both_on);
    struct fake_req *r[NWAIT];
    for (size_t i = 0; i < NWAIT; i++) {
        r[i] = fake_gw_send(fake_gw_session(), LOOKUP);
    }
    cr_assert_eq(calls_sent(), 1);
    fake_gw_finish(); /* stops; the drain fails what is left; asserts nothing leaked */
    for (size_t i = 0; i < NWAIT; i++) {
        cr_expect_leq(r[i]->nanswers, 1);
    }
}

/* ---- the cache ---- */

Test(cache, a_hit_makes_no_call)
{
    fake_gw_start(cache_on);
    struct rbgw_session *s = fake_gw_session();
    struct fake_req *a = round_trip(s, LOOKUP, RECORDS);
    struct fake_req *b = served_locally(fake_gw_session(), LOOKUP);
    cr_expect_str_eq(b->answer, a->answer);
    /* the same question in another spelling of the name */
    served_locally(s, LOOKUP_AT("WWW.Example.ORG", "192.0.2.7"));
    cr_expect_eq(stats()->hits, 2);
    cr_expect_eq(stats()->misses, 1);
    fake_gw_finish();
}

Test(cache, false_replies_and_failures_are_not_stored)
{
    fake_gw_start(cache_on);
    struct rbgw_session *s = fake_gw_session();
    round_trip(s, LOOKUP, FALSE_REPLY);
    round_trip(s, LOOKUP, FALSE_REPLY);
    struct fake_req *r = fake_gw_send(s, LOOKUP);
    fake_conn_error(the_call(), 0, "reset by the test");
    cr_expect(is_false(r));
    round_trip(s, LOOKUP, RECORDS);
    served_locally(s, LOOKUP);
    cr_expect_eq(stats()->inserts, 1);
    fake_gw_finish();
}

Test(cache, clients_are_kept_apart_by_default)
{
    fake_gw_start(cache_on);
    struct rbgw_session *s = fake_gw_session();
    round_trip(s, LOOKUP_AT("www.example.org.", "192.0.2.7"), RECORDS);
    round_trip(s, LOOKUP_AT("www.example.org.", "198.51.100.1"), RECORDS_NET);
    struct fake_req *r = served_locally(s, LOOKUP_AT("www.example.org.", "198.51.100.1"));
    cr_expect(strstr(r->answer, "192.0.2.9") != NULL, "another client's answer: %s", r->answer);
    fake_gw_finish();
}

Test(cache, shared_across_clients_when_told)
{
    const char *args[] = {"--upstream=unix:path=/fake/alpha,name=alpha", "--cache-ttl=60000",
                          "--cache-per-client=no", NULL};
    fake_gw_start(args);
    struct rbgw_session *s = fake_gw_session();
    round_trip(s, LOOKUP_AT("www.example.org.", "192.0.2.7"), RECORDS);
    served_locally(s, LOOKUP_AT("www.example.org.", "198.51.100.1"));
    fake_gw_finish();
}

Test(cache, a_write_drops_its_zone_only)
{
    fake_gw_start(cache_on);
    struct rbgw_session *s = fake_gw_session();
    round_trip(s, LOOKUP, RECORDS);
    round_trip(s, LOOKUP_OTHER_ZONE, RECORDS_NET);
    /* a write to the zone: its lookups go upstream again, the other zone's do not */
    round_trip(s, SET_META("example.org."), TRUE_REPLY);
    served_locally(s, LOOKUP_OTHER_ZONE);
    round_trip(s, LOOKUP, RECORDS);
    served_locally(s, LOOKUP);
    /* a failed write may have been applied: it drops its zone as well */
    struct fake_req *w = fake_gw_send(s, SET_META("example.org."));
    fake_conn_error(the_call(), 0, "reset by the test");
    cr_expect(is_false(w));
    round_trip(s, LOOKUP, RECORDS);
    /* zone state by id (setNotified) drops nothing */
    round_trip(s, SET_NOTIFIED, TRUE_REPLY);
    served_locally(s, LOOKUP);
    served_locally(s, LOOKUP_OTHER_ZONE);
    cr_expect_eq(stats()->invalidations, 2);
    fake_gw_finish();
}

/* A read in flight when a write completes may carry the old data: not stored. */
Test(cache, a_write_during_a_read_keeps_it_out)
{
    fake_gw_start(cache_on);
    struct rbgw_session *reader = fake_gw_session(), *writer = fake_gw_session();
    struct fake_req *r = fake_gw_send(reader, LOOKUP);
    struct fake_conn *read_conn = the_call();
    round_trip(writer, SET_META("example.org."), TRUE_REPLY);
    fake_conn_reply(read_conn, RECORDS, true);
    cr_expect_eq(r->nanswers, 1, "the read is still answered");
    cr_expect_eq(stats()->entries, 0);
    round_trip(reader, LOOKUP, RECORDS);
    fake_gw_finish();
}

Test(cache, transactions_read_around_the_cache)
{
    fake_gw_start(both_on);
    struct rbgw_session *other = fake_gw_session(), *trx = fake_gw_session();
    round_trip(other, LOOKUP, RECORDS);
    served_locally(other, LOOKUP);
    /* a start empties the zone at the responder (domain_id >= 0): it drops the zone */
    round_trip(trx, START, TRUE_REPLY);
    round_trip(other, LOOKUP, RECORDS);
    served_locally(other, LOOKUP);
    /* the transaction's session: every read goes to the responder, none is stored */
    uint64_t inserts = stats()->inserts;
    round_trip(trx, LOOKUP, RECORDS);
    round_trip(trx, LOOKUP, RECORDS);
    cr_expect_eq(stats()->inserts, inserts);
    cr_expect_geq(stats()->bypassed, 2);
    round_trip(trx, FEED, TRUE_REPLY);
    /* a write inside the transaction is settled at its end: other sessions still hit */
    served_locally(other, LOOKUP);
    round_trip(trx, COMMIT, TRUE_REPLY);
    /* the commit dropped the zone */
    round_trip(other, LOOKUP, RECORDS);
    served_locally(other, LOOKUP);
    fake_gw_finish();
}

/* A transaction dropped with its session (pdns gone) drops its zone too. */
Test(cache, a_dropped_transaction_drops_its_zone)
{
    fake_gw_start(cache_on);
    struct rbgw_session *other = fake_gw_session(), *trx = fake_gw_session();
    round_trip(trx, START, TRUE_REPLY);
    round_trip(other, LOOKUP, RECORDS);
    served_locally(other, LOOKUP);
    fake_gw_gone(trx);
    fake_gw_run_until(no_call_in_flight, NULL);
    round_trip(other, LOOKUP, RECORDS);
    fake_gw_finish();
}

Test(cache, a_reload_empties_the_cache)
{
    fake_gw_start(both_on);
    struct rbgw_session *s = fake_gw_session();
    round_trip(s, LOOKUP, RECORDS);
    /* a read in flight across the reload: answered, not stored, nobody joins it after */
    struct fake_req *r = fake_gw_send(s, LOOKUP_OTHER_ZONE);
    struct fake_conn *fc = the_call();
    char err[256];
    cr_assert_eq(fake_gw_reload(both_on, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(stats()->entries, 0);
    struct fake_req *after = fake_gw_send(fake_gw_session(), LOOKUP_OTHER_ZONE);
    cr_expect_eq(calls_sent(), 3, "a read after the reload joined one from before it");
    fake_conn_reply(fc, RECORDS_NET, true);
    cr_expect_eq(r->nanswers, 1);
    cr_expect_eq(stats()->entries, 0, "a reply from before the reload was stored");
    fake_conn_reply(the_call(), RECORDS_NET, true);
    cr_expect_eq(after->nanswers, 1);
    round_trip(s, LOOKUP, RECORDS);
    served_locally(s, LOOKUP);
    fake_gw_finish();
}

Test(cache, off_by_default)
{
    const char *args[] = {"--upstream=unix:path=/fake/alpha,name=alpha", NULL};
    fake_gw_start(args);
    struct rbgw_session *s = fake_gw_session();
    round_trip(s, LOOKUP, RECORDS);
    round_trip(s, LOOKUP, RECORDS);
    fake_gw_send(fake_gw_session(), LOOKUP);
    fake_gw_send(fake_gw_session(), LOOKUP);
    cr_expect_eq(in_flight(), 2);
    struct rbgw_cache_stats *st = stats();
    cr_expect_eq(st->hits + st->misses + st->coalesced + st->bypassed, 0);
    fake_gw_finish();
}

/* ---- the binary, over sockets ---- */

/* A lookup the unix responder holds until released: its first "method" member is "hold"
 * (fake_json.h reads the first one); rbgw reads the top-level one. */
#define HELD_LOOKUP                                                                                \
    "{\"parameters\": {\"method\": \"hold\", \"qname\": \"www.example.org.\", \"qtype\": "         \
    "\"ANY\", \"remote\": \"192.0.2.7\", \"zone-id\": -1}, \"method\": \"lookup\"}"

/* Occurrences of needle in rbgw's stderr so far. */
static unsigned
stderr_count(const char *needle)
{
    char *all = rbgw_proc_stderr(bgw, 0);
    unsigned n = 0;
    for (const char *p = all; p && (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
        n++;
    }
    free(all);
    return n;
}

/* Wait (bounded) until rbgw logged needle n times. */
static void
wait_log(const char *needle, unsigned n)
{
    for (int i = 0; i < IO_BOUND_MS / 10 && stderr_count(needle) < n; i++) {
        usleep(10000);
    }
    cr_assert_geq(stderr_count(needle), n, "rbgw never logged \"%s\" %u times; stderr:\n%s", needle,
                  n, rbgw_test_stderr(bgw));
}

static unsigned
lookups_received(void)
{
    struct fake_json_rec *recs;
    size_t n = fake_json_records(bup, &recs);
    unsigned lookups = 0;
    for (size_t i = 0; i < n; i++) {
        lookups += strstr(recs[i].data, "\"lookup\"") != NULL;
    }
    fake_json_recs_free(recs, n);
    return lookups;
}

Test(cache, clients_asking_the_same_share_one_call)
{
    bdir = fake_json_mkdtemp();
    cr_assert_not_null(bdir);
    const char *up_path = rbgw_test_fmt("%s/up.sock", bdir);
    const char *sock = rbgw_test_fmt("%s/rbgw.sock", bdir);
    bup = fake_json_unix_start(up_path);
    cr_assert_not_null(bup);
    const char *args[] = {rbgw_test_fmt("--listen=unix:path=%s", sock),
                          "--listen=pipe",
                          rbgw_test_fmt("--upstream=unix:path=%s,timeout=5000", up_path),
                          "--coalesce=yes",
                          "--cache-ttl=60000",
                          "--deadline=8000",
                          "--log-level=debug",
                          NULL};
    bgw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(bgw);
    cr_assert(fake_json_gw_ready(bgw, IO_BOUND_MS), "rbgw did not start:\n%s",
              rbgw_test_stderr(bgw));

    for (size_t i = 0; i < NCLIENTS; i++) {
        bcl[i] = fake_json_connect(sock);
        cr_assert_not_null(bcl[i], "connect: %s", strerror(errno));
        rbgw_test_client_send(bcl[i], HELD_LOOKUP);
    }
    /* the first is held by the responder, the others wait in rbgw */
    cr_assert(fake_json_wait_held(bup, 1, IO_BOUND_MS));
    wait_log("waits for the identical call", NCLIENTS - 1);
    /* One waiting client hangs up before the reply comes.  The unix listener keeps a
     * connection's session until its call is answered (the in-process tests take the HTTP
     * listener's order, session gone first), so whether rbgw sees the EOF before or after the
     * reply is open: both must leave the other clients served and rbgw clean. */
    fake_json_client_free(bcl[NCLIENTS - 1]);
    bcl[NCLIENTS - 1] = NULL;
    fake_json_release(bup);
    for (size_t i = 0; i + 1 < NCLIENTS; i++) {
        char *line = rbgw_test_client_read(bcl[i], bgw);
        cr_expect(strstr(line, "www.example.org.") != NULL, "client %zu got %s", i, line);
    }
    cr_expect_eq(lookups_received(), 1, "the responder got more than one lookup");
    /* and now it is cached */
    rbgw_test_client_send(bcl[0], HELD_LOOKUP);
    char *line = rbgw_test_client_read(bcl[0], bgw);
    cr_expect(strstr(line, "www.example.org.") != NULL, "%s", line);
    cr_expect_eq(lookups_received(), 1);

    cr_assert_eq(kill(rbgw_proc_pid(bgw), SIGTERM), 0);
    rbgw_test_assert_exit_0(bgw);
    rbgw_test_assert_clean_stderr(bgw);
}

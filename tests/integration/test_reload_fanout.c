/*
 * test_reload_fanout.c: what a reload keeps, replaces and refuses, in-process, step by step
 * (docs/operations.md, Reload; docs/architecture.md, Generations).
 *
 *   test (as the listener and as the configuration source) ──> gateway: reload, fan-out, pools
 *                                                                 └── fake transport
 *                                                                     (fake_upstream.h)
 *
 * The test decides when each call is answered, so "a call in flight across a reload" is a
 * state, not a race:
 *
 *  - an upstream whose name, connection string and max-reply-size are unchanged is the same
 *    object after the reload: its health (ejected stays ejected), its counters and its idle
 *    connection carry over; a changed one (its options, or max-reply-size) is a new object,
 *    healthy, that goes on from the old one's counters, and the old one is freed; a call the
 *    old one finishes after the reload is counted in the new one when the old one goes;
 *  - an upstream the reload removes finishes the call it carries (answered with its reply),
 *    then its connection closes and it is freed; new calls go to the new configuration;
 *  - a transaction opened before a reload that removes its upstream goes on there: its calls
 *    reach the pinned connection, the commit is answered, and only then is the old upstream
 *    closed; pdns going away instead drops the transaction and closes it the same way;
 *  - a refused reload (a bad key, a routing error, the pipe listener removed or added, an
 *    address a removed listener holds) changes nothing: same generation, same upstream objects,
 *    counted and kept as the last error, and nothing it made is left behind;
 *  - a reload while stopping is refused.
 *
 * Every test ends with fake_gw_finish: no request, session, conn or handle left
 * (uv_loop_close == 0), and the suite runs under AddressSanitizer too.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdio.h>
#include <string.h>

#include "fake_upstream.h"
#include "rbgw/fanout.h"
#include "rbgw/session.h"

TestSuite(reload_fanout, .fini = fake_gw_teardown, .timeout = 30);

#define LOOKUP                                                                                     \
    "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"www.example.org.\", \"qtype\": "       \
    "\"A\", \"zone-id\": -1}}"
#define START                                                                                      \
    "{\"method\": \"startTransaction\", \"parameters\": {\"domain\": \"example.org.\", "           \
    "\"domain_id\": 3, \"trxid\": 77}}"
#define FEED                                                                                       \
    "{\"method\": \"feedRecord\", \"parameters\": {\"rr\": {\"auth\": true, \"content\": "         \
    "\"192.0.2.77\", \"qname\": \"www.example.org.\", \"qtype\": \"A\", \"ttl\": 60}, "            \
    "\"trxid\": 77}}"
#define COMMIT "{\"method\": \"commitTransaction\", \"parameters\": {\"trxid\": 77}}"
#define TRUE_REPLY "{\"result\":true}"
#define ALPHA_REPLY "{\"result\":\"from alpha\"}"
#define BRAVO_REPLY "{\"result\":\"from bravo\"}"

/* health-interval at its maximum: an ejected upstream is not checked back during a test. */
#define ALPHA "--upstream=unix:path=/fake/alpha,name=alpha,failure-limit=1,health-interval=600000"
#define BRAVO "--upstream+=unix:path=/fake/bravo,name=bravo"
#define BRAVO_ONLY "--upstream=unix:path=/fake/bravo,name=bravo"

static const char *const alpha_only[] = {ALPHA, NULL};
static const char *const bravo_only[] = {BRAVO_ONLY, NULL};

/* Upstream objects alive (current generation or still closing). */
static size_t
nalive(void)
{
    size_t n = 0;
    const struct rbgw_list *h = &fake_gw()->all_upstreams;
    for (const struct rbgw_list *p = h->next; p != h; p = p->next) {
        n++;
    }
    return n;
}

static bool
alive_is(void *arg)
{
    return nalive() == *(size_t *)arg;
}

static void
run_until_alive(size_t n)
{
    fake_gw_run_until(alive_is, &n);
}

static struct rbgw_upstream *
upstream(const char *name)
{
    for (size_t i = 0; i < rbgw_gateway_nupstreams(fake_gw()); i++) {
        struct rbgw_upstream *u = rbgw_gateway_upstream(fake_gw(), i);
        if (strcmp(u->name, name) == 0) {
            return u;
        }
    }
    return NULL;
}

/* The one conn with a call in flight; asserts there is exactly one, on upstream name. */
static struct fake_conn *
sending_on(const char *name)
{
    struct fake_conn *fc[4];
    size_t n = fake_gw_sending(fc, 4);
    cr_assert_eq(n, 1, "%zu calls in flight, not 1", n);
    cr_assert_str_eq(fc[0]->upstream, name, "the call went to %s, not %s", fc[0]->upstream, name);
    return fc[0];
}

static void
reload_ok(const char *const *args)
{
    char err[512];
    uint64_t gen = fake_gw()->generation;
    cr_assert_eq(fake_gw_reload(args, err, sizeof(err)), 0, "reload refused: %s", err);
    cr_assert_eq(fake_gw()->generation, gen + 1);
}

static bool
conn_closed(void *arg)
{
    return ((struct fake_conn *)arg)->c == NULL;
}

/* An unchanged upstream keeps its health, counters and idle conn; a changed one starts anew. */
Test(reload_fanout, unchanged_upstreams_carry_over)
{
    const char *const two[] = {ALPHA, BRAVO, NULL};
    fake_gw_start(two);
    struct rbgw_session *s = fake_gw_session();

    /* alpha fails once (failure-limit=1: ejected), the read goes on to bravo. */
    struct fake_req *r = fake_gw_send(s, LOOKUP);
    fake_conn_error(sending_on("alpha"), 0, "reset");
    struct fake_conn *bconn = sending_on("bravo");
    fake_conn_reply(bconn, BRAVO_REPLY, true);
    cr_assert_str_eq(r->answer, BRAVO_REPLY);
    struct rbgw_upstream *alpha = upstream("alpha"), *bravo = upstream("bravo");
    cr_assert_not(rbgw_fanout_member_healthy(alpha), "alpha was not ejected");
    uint64_t alpha_failed = alpha->outcomes.n[RBGW_OUTCOME_CLOSED];
    cr_assert_eq(alpha_failed, 1);

    /* Same two upstreams, plus charlie and a pool: alpha and bravo are the same objects. */
    const char *const three[] = {ALPHA, BRAVO, "--upstream+=unix:path=/fake/charlie,name=charlie",
                                 "--pool=p:upstreams=alpha+bravo+charlie", NULL};
    reload_ok(three);
    cr_assert_eq(upstream("alpha"), alpha, "alpha was replaced");
    cr_assert_eq(upstream("bravo"), bravo, "bravo was replaced");
    cr_assert_not_null(upstream("charlie"));
    cr_assert_not(rbgw_fanout_member_healthy(alpha), "alpha's ejection was forgotten");
    cr_assert_eq(alpha->outcomes.n[RBGW_OUTCOME_CLOSED], alpha_failed, "alpha's counters reset");
    cr_assert_eq(fake_gw_nidle(1), 1, "bravo's idle conn was not kept");
    cr_assert_eq(fake_gw()->reloads_ok, 1);

    /* The ejected alpha goes last: the lookup uses bravo's kept conn, no new one. */
    size_t nconns = fake_gw_nconns();
    r = fake_gw_send(s, LOOKUP);
    cr_assert_eq(sending_on("bravo"), bconn, "bravo's kept conn was not reused");
    fake_conn_reply(bconn, BRAVO_REPLY, true);
    cr_assert_str_eq(r->answer, BRAVO_REPLY);
    cr_assert_eq(fake_gw_nconns(), nconns);

    /* alpha with another timeout is another upstream: a new object, in service; the old one
     * and charlie (no longer listed) are freed. */
    const char *const changed[] = {ALPHA ",timeout=1400", BRAVO, NULL};
    uint64_t alpha_ejections = alpha->stats.ejections;
    cr_assert_eq(alpha_ejections, 1);
    reload_ok(changed);
    cr_assert_neq(upstream("alpha"), alpha, "a changed alpha was carried over");
    cr_assert(rbgw_fanout_member_healthy(upstream("alpha")));
    /* ... but its counters go on from the old one's: the name's series never goes back. */
    cr_assert_eq(upstream("alpha")->outcomes.n[RBGW_OUTCOME_CLOSED], alpha_failed,
                 "the new alpha's counters started again");
    cr_assert_eq(upstream("alpha")->stats.ejections, alpha_ejections);
    cr_assert_eq(upstream("bravo"), bravo);
    run_until_alive(2);
    cr_assert_eq(fake_gw()->generation, 3);
    fake_gw_finish();
}

/* Observations in a latency histogram. */
static uint64_t
observed(const struct rbgw_hist *h)
{
    uint64_t n = 0;
    for (size_t i = 0; i < RBGW_NELEM(h->n); i++) {
        n += h->n[i];
    }
    return n;
}

/* A call the replaced upstream finishes after the reload is counted under its name: in the
 * new upstream of that name, once the old one is released. */
Test(reload_fanout, replaced_upstream_hands_over_its_last_calls)
{
    fake_gw_start(alpha_only);
    struct rbgw_session *s = fake_gw_session();
    struct fake_req *done = fake_gw_send(s, LOOKUP);
    fake_conn_reply(sending_on("alpha"), ALPHA_REPLY, true);
    cr_assert_str_eq(done->answer, ALPHA_REPLY);
    struct fake_req *late = fake_gw_send(s, LOOKUP);
    struct fake_conn *aconn = sending_on("alpha");
    struct rbgw_upstream *old = upstream("alpha");
    cr_assert_eq(old->outcomes.n[RBGW_OUTCOME_OK], 1);

    const char *const changed[] = {ALPHA ",timeout=1400", NULL};
    reload_ok(changed);
    struct rbgw_upstream *heir = upstream("alpha");
    cr_assert_neq(heir, old, "a changed alpha was carried over");
    cr_assert_eq(heir->outcomes.n[RBGW_OUTCOME_OK], 1, "the new alpha did not go on from 1");
    cr_assert_eq(observed(&heir->stats.latency), 1);

    /* The old alpha answers its call, then is released: the call counts under "alpha". */
    fake_conn_reply(aconn, ALPHA_REPLY, true);
    cr_assert_str_eq(late->answer, ALPHA_REPLY);
    fake_gw_run_until(conn_closed, aconn);
    run_until_alive(1);
    cr_assert_eq(heir->outcomes.n[RBGW_OUTCOME_OK], 2, "the old alpha's last call was lost");
    cr_assert_eq(observed(&heir->stats.latency), 2);

    /* And the new alpha counts its own calls on top. */
    struct fake_req *next = fake_gw_send(s, LOOKUP);
    fake_conn_reply(sending_on("alpha"), ALPHA_REPLY, true);
    cr_assert_str_eq(next->answer, ALPHA_REPLY);
    cr_assert_eq(heir->outcomes.n[RBGW_OUTCOME_OK], 3);
    fake_gw_finish();
}

/* max-reply-size is read when an upstream is made: changing it replaces every upstream. */
Test(reload_fanout, max_reply_size_replaces_upstreams)
{
    fake_gw_start(alpha_only);
    struct rbgw_upstream *alpha = upstream("alpha");
    const char *const same[] = {ALPHA, "--max-reply-size=16777216", NULL};
    reload_ok(same);
    cr_assert_eq(upstream("alpha"), alpha, "the default written out changed nothing");
    const char *const smaller[] = {ALPHA, "--max-reply-size=1m", NULL};
    reload_ok(smaller);
    cr_assert_neq(upstream("alpha"), alpha);
    cr_assert_eq(upstream("alpha")->max_reply_size, 1048576);
    run_until_alive(1);
    fake_gw_finish();
}

/* A removed upstream answers the call it carries, then closes; new calls use the new config. */
Test(reload_fanout, removed_upstream_finishes_its_call)
{
    fake_gw_start(alpha_only);
    struct rbgw_session *s = fake_gw_session();
    struct fake_req *first = fake_gw_send(s, LOOKUP);
    struct fake_conn *aconn = sending_on("alpha");

    reload_ok(bravo_only);
    cr_assert_null(upstream("alpha"));
    cr_assert_eq(nalive(), 2, "alpha went before its call was answered");
    struct fake_req *second = fake_gw_send(s, LOOKUP);
    struct fake_conn *fc[4];
    cr_assert_eq(fake_gw_sending(fc, 4), 2);

    fake_conn_reply(aconn, ALPHA_REPLY, true);
    cr_assert_eq(first->nanswers, 1);
    cr_assert_str_eq(first->answer, ALPHA_REPLY, "the call in flight lost its answer");
    fake_gw_run_until(conn_closed, aconn);
    run_until_alive(1);

    fake_conn_reply(sending_on("bravo"), BRAVO_REPLY, true);
    cr_assert_str_eq(second->answer, BRAVO_REPLY);
    fake_gw_finish();
}

/* A transaction started before a reload that removes its upstream commits there. */
Test(reload_fanout, transaction_stays_on_its_generation)
{
    fake_gw_start(alpha_only);
    struct rbgw_session *s = fake_gw_session();
    struct fake_req *st = fake_gw_send(s, START);
    struct fake_conn *aconn = sending_on("alpha");
    fake_conn_reply(aconn, TRUE_REPLY, true);
    cr_assert_str_eq(st->answer, TRUE_REPLY);

    reload_ok(bravo_only);
    cr_assert_eq(nalive(), 2);

    struct fake_req *feed = fake_gw_send(s, FEED);
    cr_assert_eq(sending_on("alpha"), aconn, "the feed left the transaction's conn");
    cr_assert_str_eq(aconn->method, "feedRecord");
    fake_conn_reply(aconn, TRUE_REPLY, true);
    cr_assert_str_eq(feed->answer, TRUE_REPLY);

    /* A plain call meanwhile goes to the new configuration. */
    struct fake_req *look = fake_gw_send(s, LOOKUP);
    fake_conn_reply(sending_on("bravo"), BRAVO_REPLY, true);
    cr_assert_str_eq(look->answer, BRAVO_REPLY);
    cr_assert_eq(nalive(), 2, "alpha closed under an open transaction");

    struct fake_req *commit = fake_gw_send(s, COMMIT);
    cr_assert_eq(sending_on("alpha"), aconn, "the commit left the transaction's conn");
    cr_assert_str_eq(aconn->method, "commitTransaction");
    fake_conn_reply(aconn, TRUE_REPLY, true);
    cr_assert_str_eq(commit->answer, TRUE_REPLY);

    /* The transaction was the old generation's last user: alpha closes now. */
    fake_gw_run_until(conn_closed, aconn);
    run_until_alive(1);
    fake_gw_finish();
}

/* pdns leaving with a transaction open on a removed upstream drops it and closes the upstream. */
Test(reload_fanout, open_transaction_dropped_with_its_session)
{
    fake_gw_start(alpha_only);
    struct rbgw_session *s = fake_gw_session();
    struct fake_req *st = fake_gw_send(s, START);
    struct fake_conn *aconn = sending_on("alpha");
    fake_conn_reply(aconn, TRUE_REPLY, true);
    cr_assert_str_eq(st->answer, TRUE_REPLY);
    reload_ok(bravo_only);
    cr_assert_eq(nalive(), 2);
    cr_assert_not_null(aconn->c, "the pinned conn closed at the reload");

    fake_gw_gone(s);
    fake_gw_run_until(conn_closed, aconn);
    run_until_alive(1);
    fake_gw_finish();
}

struct refusal {
    const char *start[4];  /* options at start */
    const char *reload[4]; /* options of the refused reload */
    const char *why;       /* the refusal must say this */
};

static const struct refusal refusals[] = {
    {{ALPHA}, {ALPHA, "--deadline=0"}, "--deadline: '0' is not a whole number"},
    {{ALPHA}, {ALPHA, "--pool=p:upstreams=alpha+nope"}, "unknown upstream"},
    {{ALPHA}, {ALPHA, "--upstream+=tcp:x=1"}, "unknown connector type"},
    {{ALPHA}, {ALPHA, "--listen=unix:path=/tmp/rbgw-reload-test.sock"}, "cannot be removed"},
    {{ALPHA}, {ALPHA, "--listen=pipe", "--listen+=pipe:x=1"}, "cannot be added"},
    {{ALPHA, "--listen=pipe", "--listen+=unix:path=/tmp/rbgw-reload-test.sock"},
     {ALPHA, "--listen=pipe", "--listen+=unix:path=/tmp/rbgw-reload-test.sock,mode=0600"},
     "its address is held by listen unix:path=/tmp/rbgw-reload-test.sock"},
};

/* Parameters are indexes: the test runs in another process, where pointers would not hold. */
ParameterizedTestParameters(reload_fanout, refused_reload_changes_nothing)
{
    static size_t idx[RBGW_NELEM(refusals)];
    for (size_t i = 0; i < RBGW_NELEM(refusals); i++) {
        idx[i] = i;
    }
    return cr_make_param_array(size_t, idx, RBGW_NELEM(idx));
}

ParameterizedTest(size_t *i, reload_fanout, refused_reload_changes_nothing)
{
    const struct refusal *t = &refusals[*i];
    fake_gw_start(t->start);
    struct rbgw_gateway *gw = fake_gw();
    struct rbgw_upstream *alpha = upstream("alpha");
    size_t nlisteners = rbgw_gateway_nlisteners(gw);
    struct rbgw_listener *l0 = rbgw_gateway_listener(gw, 0);
    char err[512];
    cr_assert_neq(fake_gw_reload(t->reload, err, sizeof(err)), 0, "reload accepted");
    cr_assert(strstr(err, t->why), "refusal \"%s\" does not say \"%s\"", err, t->why);
    cr_assert_eq(gw->generation, 1);
    cr_assert_eq(gw->reloads_failed, 1);
    cr_assert_eq(gw->reloads_ok, 0);
    cr_assert_str_eq(gw->reload_error, err);
    cr_assert_eq(upstream("alpha"), alpha);
    cr_assert_eq(rbgw_gateway_nlisteners(gw), nlisteners);
    cr_assert_eq(rbgw_gateway_listener(gw, 0), l0);
    /* Whatever the refused reload made is gone (and fake_gw_finish checks the handles). */
    run_until_alive(1);
    struct rbgw_session *s = fake_gw_session();
    struct fake_req *r = fake_gw_send(s, LOOKUP);
    fake_conn_reply(sending_on("alpha"), ALPHA_REPLY, true);
    cr_assert_str_eq(r->answer, ALPHA_REPLY);
    /* The running configuration still reloads. */
    reload_ok(t->start);
    cr_assert_eq(upstream("alpha"), alpha);
    fake_gw_finish();
}

Test(reload_fanout, refused_while_stopping)
{
    fake_gw_start(alpha_only);
    rbgw_gateway_stop(fake_gw());
    char err[512];
    cr_assert_neq(fake_gw_reload(bravo_only, err, sizeof(err)), 0);
    cr_assert(strstr(err, "stopping"), "refusal: %s", err);
    cr_assert_eq(fake_gw()->generation, 1);
    fake_gw_finish();
}

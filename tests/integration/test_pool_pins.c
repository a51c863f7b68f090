/*
 * test_pool_pins.c: the pool's conns pinned to a transaction, in-process, driven step by step
 * through a fake transport (fake_upstream.h); docs/architecture.md, Sessions.
 *
 *   test ──rbgw_connpool_submit (its own calls) / rbgw_connpool_unpin──> pool.c ──> fake transport
 *
 * A start call (pin_after) pins the conn that answers it; calls with pin = that conn's id go
 * to it and nowhere else; a commit (unpin_after) gives it back.  rbgw_connpool_unpin is how fan-out
 * releases it when the transaction is over otherwise (its session ended, its end call
 * failed): at once if the conn is idle, after the call it carries if busy, also from inside
 * that call's own done callback.  Each case is a list of steps; at the end the conn is where
 * it should be (pinned, back in the pool, or closed), every call got exactly one outcome, and
 * the run ends with every conn and handle freed (uv_loop_close == 0, ASan in the second tree).
 * Before, an unpin that met a busy conn did nothing and the conn stayed pinned until
 * idle-timeout.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <string.h>

#include "fake_upstream.h"

TestSuite(pool_pins, .fini = fake_gw_teardown, .timeout = 30);

enum pstep {
    P_END,
    P_START,       /* submit the transaction's start (pin_after) */
    P_CALL,        /* submit a call of the transaction (pin = the start's conn) */
    P_COMMIT,      /* submit the transaction's end (pin, unpin_after) */
    P_OTHER,       /* submit a call of somebody else (no pin) */
    P_REPLY,       /* the call in flight is answered */
    P_REPLY_UNPIN, /* the call in flight is answered; its done callback unpins the conn */
    P_FAIL_KEEP,   /* the call in flight fails, the conn stays sound (an HTTP 500) */
    P_FAIL,        /* the call in flight fails with the conn (reset) */
    P_DEADLINE,    /* the call in flight reaches its deadline */
    P_UNPIN,       /* rbgw_connpool_unpin(the start's conn) */
    P_LOST,        /* the idle pinned conn's peer closes it */
    P_STOP,        /* rbgw_connpool_stop */
};

enum where { W_PINNED, W_POOL, W_CLOSED };

#define MAX_STEPS 8
struct pcase {
    char name[96]; /* not a pointer: Criterion copies parameters into a re-executed worker */
    enum pstep steps[MAX_STEPS];
    enum where conn;  /* where the start's conn ends */
    unsigned nfailed; /* calls that must have failed */
};

static const struct pcase cases[] = {
    {"start answered: pinned", {P_START, P_REPLY}, W_PINNED, 0},
    {"unpin while idle: closed at once", {P_START, P_REPLY, P_UNPIN}, W_CLOSED, 0},
    {"unpin inside the start's callback: closed after it", {P_START, P_REPLY_UNPIN}, W_CLOSED, 0},
    {"unpin while a call is in flight: closed after its reply",
     {P_START, P_REPLY, P_CALL, P_UNPIN, P_REPLY},
     W_CLOSED,
     0},
    {"unpin while busy, then the call fails keeping the conn",
     {P_START, P_REPLY, P_CALL, P_UNPIN, P_FAIL_KEEP},
     W_CLOSED,
     1},
    {"unpin while busy, then the call fails with the conn",
     {P_START, P_REPLY, P_CALL, P_UNPIN, P_FAIL},
     W_CLOSED,
     1},
    {"unpin while busy, then the deadline",
     {P_START, P_REPLY, P_CALL, P_UNPIN, P_DEADLINE},
     W_CLOSED,
     1},
    {"unpin inside a call's callback", {P_START, P_REPLY, P_CALL, P_REPLY_UNPIN}, W_CLOSED, 0},
    {"unpin twice while busy", {P_START, P_REPLY, P_CALL, P_UNPIN, P_UNPIN, P_REPLY}, W_CLOSED, 0},
    {"unpin twice while idle", {P_START, P_REPLY, P_UNPIN, P_UNPIN}, W_CLOSED, 0},
    {"stop while a call is in flight", {P_START, P_REPLY, P_CALL, P_STOP}, W_CLOSED, 1},
    {"stop, then unpin", {P_START, P_REPLY, P_STOP, P_UNPIN}, W_CLOSED, 0},
    {"a second call while the conn is busy fails at once",
     {P_START, P_REPLY, P_CALL, P_CALL, P_REPLY},
     W_PINNED,
     1},
    {"commit: back in the pool", {P_START, P_REPLY, P_COMMIT, P_REPLY}, W_POOL, 0},
    {"unpin after the commit: not pinned any more, left alone",
     {P_START, P_REPLY, P_COMMIT, P_REPLY, P_UNPIN},
     W_POOL,
     0},
    {"unpin after the commit while somebody else's call uses the conn",
     {P_START, P_REPLY, P_COMMIT, P_REPLY, P_OTHER, P_UNPIN, P_REPLY},
     W_POOL,
     0},
    {"a failed start pins nothing", {P_START, P_FAIL_KEEP}, W_POOL, 1},
    {"the pinned conn's peer closed it: the next call fails",
     {P_START, P_REPLY, P_LOST, P_CALL},
     W_CLOSED,
     1},
};

ParameterizedTestParameters(pool_pins, steps)
{
    return cr_make_param_array(struct pcase, (struct pcase *)cases, RBGW_NELEM(cases));
}

/* A call the test owns, with its outcomes counted. */
struct tcall {
    struct rbgw_call call; /* submitted */
    unsigned ndone;        /* outcomes */
    int status;            /* the last outcome's */
};

#define MAX_CALLS 8
static struct tcall calls[MAX_CALLS]; /* every call submitted */
static size_t ncalls;                 /* entries in calls */
static uint64_t pinned_id;            /* the start's conn */
static bool unpin_in_done;            /* the next outcome unpins pinned_id from its callback */

static void
on_done(struct rbgw_call *call, int status, struct rbgw_str reply, const struct rbgw_json *extra,
        const char *reason)
{
    RBGW_UNUSED(reply);
    RBGW_UNUSED(extra);
    RBGW_UNUSED(reason);
    struct tcall *t = (struct tcall *)call;
    t->ndone++;
    t->status = status;
    if (call->pin_after && status == 0) {
        pinned_id = call->conn_id;
    }
    if (unpin_in_done) {
        unpin_in_done = false;
        rbgw_connpool_unpin(fake_gw_connpool(0), pinned_id);
    }
}

static void
submit(bool pin_after, bool pin, bool unpin_after)
{
    cr_assert_lt(ncalls, MAX_CALLS);
    struct tcall *t = &calls[ncalls++];
    memset(t, 0, sizeof(*t));
    t->call.done = on_done;
    t->call.deadline = uv_now(fake_gw()->loop) + 50; /* P_DEADLINE waits for this */
    t->call.pin_after = pin_after;
    t->call.pin = pin ? pinned_id : 0;
    t->call.unpin_after = unpin_after;
    rbgw_connpool_submit(fake_gw_connpool(0), &t->call);
}

/* The one conn with a call in flight. */
static struct fake_conn *
in_flight(const char *name)
{
    struct fake_conn *fc[2];
    size_t n = fake_gw_sending(fc, 2);
    cr_assert_eq(n, 1, "%s: %zu calls in flight, not 1", name, n);
    return fc[0];
}

static bool
nothing_in_flight(void *arg)
{
    RBGW_UNUSED(arg);
    struct fake_conn *fc[2];
    return fake_gw_sending(fc, 2) == 0;
}

/* The record of the start's conn. */
static struct fake_conn *
pinned_conn(const char *name)
{
    for (size_t i = 0; i < fake_gw_nconns(); i++) {
        if (fake_gw_conn(i)->id == pinned_id) {
            return fake_gw_conn(i);
        }
    }
    cr_assert_fail("%s: no conn carried the start", name);
    return NULL;
}

ParameterizedTest(struct pcase *pc, pool_pins, steps)
{
    const char *args[] = {"--upstream=unix:path=/fake/alpha,name=alpha", NULL};
    fake_gw_start(args);
    for (size_t i = 0; i < MAX_STEPS && pc->steps[i] != P_END; i++) {
        switch (pc->steps[i]) {
        case P_START:
            submit(true, false, false);
            if (pinned_id == 0) {
                pinned_id = in_flight(pc->name)->id; /* the start's conn, even if it fails */
            }
            break;
        case P_CALL:
            submit(false, true, false);
            break;
        case P_COMMIT:
            submit(false, true, true);
            break;
        case P_OTHER:
            submit(false, false, false);
            break;
        case P_REPLY:
            fake_conn_reply(in_flight(pc->name), "{\"result\":true}", true);
            break;
        case P_REPLY_UNPIN:
            unpin_in_done = true;
            fake_conn_reply(in_flight(pc->name), "{\"result\":true}", true);
            cr_assert_not(unpin_in_done, "%s: the done callback did not run", pc->name);
            break;
        case P_FAIL_KEEP:
            fake_conn_error(in_flight(pc->name), RBGW_UPCONN_KEEP, "HTTP 500");
            break;
        case P_FAIL:
            fake_conn_error(in_flight(pc->name), 0, "reset");
            break;
        case P_DEADLINE:
            fake_gw_run_until(nothing_in_flight, NULL);
            break;
        case P_UNPIN:
            rbgw_connpool_unpin(fake_gw_connpool(0), pinned_id);
            break;
        case P_LOST:
            fake_conn_lost(pinned_conn(pc->name));
            break;
        case P_STOP:
            rbgw_connpool_stop(fake_gw_connpool(0));
            break;
        case P_END:
            break;
        }
    }

    unsigned failed = 0;
    for (size_t i = 0; i < ncalls; i++) {
        cr_assert_eq(calls[i].ndone, 1, "%s: call %zu had %u outcomes", pc->name, i,
                     calls[i].ndone);
        failed += calls[i].status != 0;
    }
    cr_assert_eq(failed, pc->nfailed, "%s: %u calls failed, not %u", pc->name, failed, pc->nfailed);
    struct fake_conn *fc = pinned_conn(pc->name);
    enum where at = fc->c == NULL ? W_CLOSED : fc->c->pinned ? W_PINNED : W_POOL;
    static const char *const wn[] = {"pinned", "back in the pool", "closed"};
    cr_assert_eq(at, pc->conn, "%s: the start's conn is %s, not %s", pc->name, wn[at],
                 wn[pc->conn]);
    if (at == W_PINNED) {
        cr_assert_eq(fake_gw_npinned(0), 1, "%s: a pinned conn off the pinned list", pc->name);
    } else {
        cr_assert_eq(fake_gw_npinned(0), 0, "%s", pc->name);
    }
    fake_gw_finish();
}

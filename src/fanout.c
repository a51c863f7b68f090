/*
 * fanout.c: routes a call to a pool and runs its legs: one upstream, several in turn, or all at
 * once; health, retries within the deadline and the retry budget; transaction affinity.
 *
 *   generation ──owns──> rbgw_fanout ──owns──> pool_rt[] (one per pool: round-robin counter,
 *                                   │                  weighted-RR state)
 *                                   └──borrows──> ups[] (the generation's upstreams, by index)
 *   upstream ──owns──> rbgw_member (health, legs in flight, check timer)
 *
 *   fan (per request, in its arena) ──ref──> request ──ref──> session
 *       ├──ref──> generation it routes in (from dispatch to fan_finish)
 *       ├──ref──> trx (a call of an open transaction: from dispatch to fan_finish)
 *       └── leg[] { rbgw_call } ──submitted to──> upstream pool
 *
 *   session (session.h) ──owns (1 ref)──> trx (on session->trxs while open)
 *                                            ├──ref──> generation that started it
 *                                            └── pinned conn id per member ──> upstream pool
 *
 * Reloads (gateway.h): routing (pools, routes, their balancing state, deadline, retry budget
 * share) belongs to one generation; what describes an upstream (health, ejection, legs in
 * flight) belongs to the upstream, so an upstream a reload keeps keeps it, and the retry
 * budget is the gateway's.  A fan routes in the generation current at dispatch, or, for a
 * call of an open transaction, in the transaction's, and holds it until it answers; member
 * indexes (fan->order, leg->member, trx->member) are indexes into that generation's upstreams.
 *
 * Modes (router.h): reads one / first-success / first-nonempty run legs one after another in
 * the policy's order; merge and write=all run one leg per member at once; writes one runs one
 * leg and moves on only if nothing reached the responder (call->sent == 0).
 *
 * Health is passive: failure-limit consecutive failures of the classes that say something
 * about the upstream (outcome.h: timeout, connect, closed, protocol, backoff; not "result":
 * false, which is an answer, nor a full queue or rbgw's own EMFILE) eject an upstream; while
 * ejected it is checked every health-interval ms by opening a fresh connection
 * (rbgw_connpool_probe: TCP connect, spawn + initialize, ...), and a good check brings it back.
 * Ejected members go last in every order, so when all of a pool is ejected the calls still go
 * somewhere (panic mode).
 *
 * Metrics (metrics.h): each leg is counted on its upstream where it ends (leg_done: outcome,
 * a false result, its latency when it reached a connection; the one clock read per leg is
 * there, and the answer that follows reuses it), a leg sent to a
 * member after another one had the call counts as a retry there, ejections and health checks
 * are counted where they happen.  The answer carries why it was given (answer: the reply said
 * false or not; fan_fail: the status of the last failed leg, or what stopped the call before
 * any leg) for request.c to count.
 *
 * Transactions: startTransaction pins the conn that carried it (connpool.h pin_after); every later
 * call of the same session (the pdns connection, session.h) with that trxid goes to the same
 * conns; commit/abort release them.  With write=all a transaction is opened on every member and
 * committed only if every call in it succeeded everywhere, otherwise it is aborted on all.
 *
 * A transaction belongs to its session and is reference counted: the session's list holds one
 * reference while it is open, and each fan working on it holds one.  It is closed exactly
 * once, by whichever comes first: its commit/abort completing (trx_end), a startTransaction
 * reusing its trxid, or its session ending (rbgw_fanout_session_end, once pdns is gone and
 * the session's last request is freed).  Closing releases the conns it still pins through the
 * pool (rbgw_connpool_unpin: closed at once if idle, after the call it carries if busy, so the
 * responder sees an abort); a conn released is forgotten (its id zeroed), so no conn is
 * released twice or after it went back to the pool.  The struct is freed with its last
 * reference, so a late answer, pdns going away, a deadline or shutdown, in any order, only
 * touch memory somebody still holds.  Calls of one transaction in flight at the same time (a
 * pipelining ZeroMQ DEALER; pdns never does it) are safe the same way: the pool refuses a
 * second call on a busy pinned conn, and every fan keeps the transaction alive.
 *
 * Read cache and coalescing (cachegw.h) hook in at three places, one call each: dispatch asks
 * first (a hit, or a read that waits for an identical one in flight, never gets a fan);
 * answer and fan_fail report how a call ended (the reads waiting for it, the store, a write's
 * invalidation); trx_close hands over the zone of a transaction that ends.
 */
#include <stdio.h>
#include <string.h>

#include "rbgw/cachegw.h"
#include "rbgw/dname.h"
#include "rbgw/fanout.h"
#include "rbgw/log.h"
#include "rbgw/merge.h"
#include "rbgw/outcome.h"
#include "rbgw/connpool.h"
#include "rbgw/result.h"
#include "rbgw/router.h"

#define BUDGET_MIN_PER_SEC 3.0
#define BUDGET_CAP 100.0

struct rbgw_member {
    struct rbgw_upstream *u;  /* borrowed owner */
    uint32_t failures;        /* consecutive transport failures */
    uint32_t failure_limit;   /* failure-limit= */
    uint32_t health_interval; /* health-interval= (ms) */
    uint32_t weight;          /* weight= */
    uint32_t outstanding;     /* legs in flight */
    bool healthy;             /* not ejected */
    bool checking;            /* a probe is in flight */
    bool stopped;             /* member_stop called: no more checks */
    uv_timer_t check;         /* next active check while ejected */
};

struct pool_rt {
    uint64_t rr;                  /* round-robin counter */
    struct rbgw_member_state *ms; /* owned: per member of the pool (weighted-RR state) */
};

struct trx {
    struct rbgw_list link;        /* on session->trxs while open */
    struct rbgw_session *session; /* borrowed: its session while open; NULL once closed */
    struct rbgw_fanout *f;        /* borrowed: routing of the generation that started it (held
                                     through our generation reference) */
    uint32_t refs;                /* the session's while open + one per fan using it */
    int64_t trxid;                /* pdns's trxid */
    size_t pool;                  /* pool index */
    size_t n;                     /* members holding it */
    size_t *member;               /* owned: upstream indexes */
    uint64_t *conn;               /* owned: pinned conn id per member; 0 once released */
    bool failed;                  /* write=all: a call in it failed somewhere */
    char *zone;                   /* owned: its startTransaction's domain, dropped from the
                                     read cache when it closes (cachegw.h), or NULL */
};

struct rbgw_fanout {
    struct rbgw_gateway *gw;          /* borrowed */
    struct rbgw_generation *gen;      /* borrowed owner */
    struct rbgw_router_conf conf;     /* owned */
    struct rbgw_upstream *const *ups; /* borrowed: gen->upstreams (index = config index) */
    size_t nups;                      /* entries in ups */
    struct pool_rt *pools;            /* owned: one per pool */
    uint32_t deadline_ms;             /* deadline= of the generation */
    uint32_t retry_budget;            /* retry-budget= of the generation (percent) */
    bool needs_names;                 /* a zone route or consistent-hash pool exists */
};

enum trx_role {
    TRX_NONE,  /* not part of a transaction */
    TRX_START, /* startTransaction */
    TRX_IN,    /* a call carrying an open transaction's trxid */
    TRX_END,   /* commitTransaction / abortTransaction */
};

struct fan;

struct leg {
    struct rbgw_call call; /* submitted to the upstream (call.data = this leg) */
    struct fan *fan;       /* borrowed owner */
    size_t member;         /* upstream index */
    int status;            /* 0 or <0 */
    uint64_t start_ns;     /* when it was ready to submit (the upstream's latency histogram) */
    struct rbgw_str reply; /* copy in the request arena (parallel and fallback modes) */
};

struct fan {
    struct rbgw_fanout *f;       /* borrowed: routing used (held through gen) */
    struct rbgw_generation *gen; /* our reference: f's generation */
    struct rbgw_request *req;    /* our reference */
    size_t pool;                 /* pool index */
    const struct rbgw_pool_conf *pc;
    enum rbgw_method_class cls; /* read or write */
    enum trx_role trx_role;     /* transaction handling */
    struct trx *trx;            /* TRX_IN / TRX_END: the transaction (our reference) */
    int64_t trxid;              /* for TRX_START */
    bool parallel;              /* all legs at once */
    size_t *order;              /* upstream indexes in try order */
    size_t norder;
    size_t next;                   /* next position in order (sequential) */
    unsigned retries_left;         /* mode one */
    struct leg *legs;              /* one per order entry */
    size_t pending;                /* parallel: legs not done */
    struct rbgw_str fallback;      /* first-nonempty: first empty success */
    struct rbgw_buf reasons;       /* failures so far, "; "-joined */
    const struct rbgw_json *extra; /* responder log lines of the last failure */
    uint64_t deadline;             /* loop time by which we answer */
    int fail_status;               /* status of the last leg that failed (0: none failed) */
    bool commit_aborted;           /* a commit was turned into an abort (write=all failure) */
    struct rbgw_cache_lead *lead;  /* the read this call leads for identical ones (cachegw.h;
                                      in the request arena), or NULL */
};

static void member_failed(struct rbgw_member *m, int status, const char *reason);

/* ---- small helpers ---- */

static uint64_t
now_ms(struct rbgw_fanout *f)
{
    return uv_now(f->gw->loop);
}

/* The member state of upstream index i of f's generation. */
static struct rbgw_member *
mem(const struct rbgw_fanout *f, size_t i)
{
    RBGW_ASSERT(i < f->nups);
    return f->ups[i]->member;
}

static bool
budget_take(struct rbgw_fanout *f)
{
    struct rbgw_gateway *gw = f->gw;
    uint64_t now = now_ms(f);
    gw->retry_tokens += (double)(now - gw->retry_tokens_ts) * BUDGET_MIN_PER_SEC / 1000.0;
    gw->retry_tokens_ts = now;
    if (gw->retry_tokens > BUDGET_CAP) {
        gw->retry_tokens = BUDGET_CAP;
    }
    if (gw->retry_tokens < 1.0) {
        return false;
    }
    gw->retry_tokens -= 1.0;
    return true;
}

static void
note_reason(struct fan *fan, size_t member, const char *reason)
{
    if (fan->reasons.len) {
        rbgw_buf_append(&fan->reasons, "; ", 2);
    }
    rbgw_buf_printf(&fan->reasons, "%s: %s", fan->f->ups[member]->name, reason);
}

static void trx_unref(struct trx *t);

static void
fan_finish(struct fan *fan)
{
    rbgw_buf_free(&fan->reasons);
    if (fan->trx) {
        trx_unref(fan->trx);
        fan->trx = NULL;
    }
    /* The generation is freed later (the gateway's reaper), never under our caller. */
    rbgw__generation_unref(fan->gen);
    fan->gen = NULL;
    rbgw_request_unref(fan->req);
}

static void fan_fail(struct fan *fan, int status, const char *fmt, ...) RBGW_PRINTF(3, 4);

/* Read cache hook: fan's call was answered (with reply, or failed with status and reason). */
static void
cache_answered(struct fan *fan, struct rbgw_str reply, bool said_false, int status,
               const char *reason)
{
    rbgw__cache_answered(fan->f->gw->cache, fan->req, fan->lead, fan->trx != NULL, reply,
                         said_false, status, reason, fan->extra);
}

/* Answer false; status says why (gateway.h, rbgw_request_fail): usually fan->fail_status. */
static void
fan_fail(struct fan *fan, int status, const char *fmt, ...)
{
    char reason[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    rbgw_request_fail(fan->req, status, fan->extra, "%s", reason);
    cache_answered(fan, RBGW_STR_NULL, false, status, reason);
    fan_finish(fan);
}

/* ---- transactions ---- */

static struct trx *
trx_find(struct rbgw_session *s, int64_t trxid)
{
    for (struct rbgw_list *n = s->trxs.next; n != &s->trxs; n = n->next) {
        struct trx *t = rbgw_list_entry(n, struct trx, link);
        if (t->trxid == trxid) {
            return t;
        }
    }
    return NULL;
}

static void
trx_ref(struct trx *t)
{
    t->refs++;
}

/* The last reference is gone.  Kept out of line: trx_drop holds its own reference across
 * trx_close's unref, which gcc's -Wuse-after-free cannot see at -O3 once both are inlined (it
 * then reports the final unref as a use after this free). */
static void trx_free(struct trx *t) __attribute__((noinline));

static void
trx_free(struct trx *t)
{
    RBGW_ASSERT(t->session == NULL);
    rbgw__generation_unref(t->f->gen);
    free(t->member);
    free(t->conn);
    free(t->zone);
    free(t);
}

static void
trx_unref(struct trx *t)
{
    RBGW_ASSERT(t->refs > 0);
    if (--t->refs == 0) {
        trx_free(t);
    }
}

/* Release the conn member slot i still pins (the pool closes it), and forget it. */
static void
trx_unpin(struct trx *t, size_t i)
{
    struct rbgw_upstream *u = t->f->ups[t->member[i]];
    uint64_t id = t->conn[i];
    t->conn[i] = 0;
    if (id) {
        rbgw_connpool_unpin(u->cp, id);
    }
}

/* No longer open: off its session's list, the session's reference dropped.  Idempotent. */
static void
trx_close(struct trx *t)
{
    if (t->session == NULL) {
        return;
    }
    rbgw_list_remove(&t->link);
    t->session = NULL;
    /* Read cache hook: whatever it changed is settled now (committed, aborted or dropped). */
    rbgw__cache_trx_closed(t->f->gw, t->zone);
    trx_unref(t);
}

/* Drop an open transaction: its pinned conns are closed (the responders see an abort). */
static void
trx_drop(struct trx *t, const char *why)
{
    rbgw_log_info("session %llu: transaction %lld dropped: %s", (unsigned long long)t->session->id,
                  (long long)t->trxid, why);
    trx_ref(t); /* releasing a conn may complete other calls: keep t until we are done */
    for (size_t i = 0; i < t->n; i++) {
        trx_unpin(t, i);
    }
    trx_close(t);
    trx_unref(t);
}

/* A startTransaction of fan succeeded on n members: the transaction is open in its session. */
static struct trx *
trx_open(struct fan *fan, size_t n)
{
    struct rbgw_session *s = fan->req->session;
    struct trx *old = trx_find(s, fan->trxid);
    if (old) {
        /* Two starts with one trxid were in flight at once: the later answer wins. */
        trx_drop(old, "another startTransaction with its trxid succeeded");
    }
    struct trx *t = rbgw_xcalloc(1, sizeof(*t));
    t->session = s;
    t->f = fan->f;
    rbgw__generation_ref(fan->f->gen);
    t->refs = 1;
    t->trxid = fan->trxid;
    t->pool = fan->pool;
    t->n = n;
    t->member = rbgw_xcalloc(n, sizeof(*t->member));
    t->conn = rbgw_xcalloc(n, sizeof(*t->conn));
    t->zone = rbgw__cache_trx_zone(fan->f->gw->cache, fan->req);
    rbgw_list_push_back(&s->trxs, &t->link);
    return t;
}

/*
 * The commit or abort of fan->trx completed (well or not): the transaction is over.  A conn
 * whose end call succeeded went back to the pool (connpool.h unpin_after); one whose call failed
 * may still be pinned (an HTTP 500 on a kept conn, a call refused because the conn was busy):
 * it is closed, since the responder's state on it is unknown.
 */
static void
trx_end(struct fan *fan)
{
    struct trx *t = fan->trx;
    for (size_t l = 0; l < fan->norder; l++) {
        const struct leg *leg = &fan->legs[l];
        for (size_t i = 0; i < t->n; i++) {
            if (t->member[i] != leg->member) {
                continue;
            }
            if (leg->status == 0) {
                t->conn[i] = 0;
            } else {
                trx_unpin(t, i);
            }
        }
    }
    trx_close(t);
}

void
rbgw_fanout_session_end(struct rbgw_session *s)
{
    while (!rbgw_list_empty(&s->trxs)) {
        struct trx *t = rbgw_list_entry(s->trxs.next, struct trx, link);
        trx_drop(t, s->why ? s->why : "its session ended");
    }
}

/* ---- legs ---- */

static void leg_done(struct rbgw_call *call, int status, struct rbgw_str reply,
                     const struct rbgw_json *extra, const char *reason);

static void
leg_submit(struct fan *fan, struct leg *leg)
{
    struct rbgw_fanout *f = fan->f;
    struct rbgw_member *m = mem(f, leg->member);
    memset(&leg->call, 0, sizeof(leg->call));
    leg->call.req = fan->req;
    leg->call.done = leg_done;
    leg->call.data = leg;
    leg->call.deadline = fan->deadline;
    leg->call.idempotent = fan->cls == RBGW_CLASS_READ && fan->trx_role == TRX_NONE;
    if (fan->trx_role == TRX_START) {
        leg->call.pin_after = 1;
    } else if (fan->trx) {
        for (size_t i = 0; i < fan->trx->n; i++) {
            if (fan->trx->member[i] == leg->member) {
                leg->call.pin = fan->trx->conn[i];
            }
        }
        leg->call.unpin_after = fan->trx_role == TRX_END;
    }
    m->outstanding++;
    fan->req->upstream = m->u;
    /* Timed without a clock read of its own: a first try (and every parallel leg) starts when
     * the call was read, a later one when the try before it ended, which is what led to it.
     * Only rbgw's routing work (a microsecond) separates those from the submit. */
    leg->start_ns = fan->req->leg_end_ns ? fan->req->leg_end_ns : fan->req->start_ns;
    rbgw_connpool_submit(m->u->cp, &leg->call);
}

/* Sequential modes: send to the next member in order; false when none is left. */
static bool
try_next(struct fan *fan)
{
    if (fan->next >= fan->norder || now_ms(fan->f) >= fan->deadline) {
        return false;
    }
    struct leg *leg = &fan->legs[fan->next];
    leg->member = fan->order[fan->next];
    if (fan->next > 0) {
        fan->f->ups[leg->member]->stats.retries_member++;
    }
    fan->next++;
    leg_submit(fan, leg);
    return true;
}

/* Answer with reply; said_false: its result is false (the metrics count it apart). */
static void
answer(struct fan *fan, struct rbgw_str reply, bool said_false)
{
    rbgw_request_reply(fan->req, reply, said_false);
    cache_answered(fan, reply, said_false, 0, NULL);
    fan_finish(fan);
}

/* Sequential modes: a leg ended; answer or go on. */
static void
seq_done(struct fan *fan, struct leg *leg, int status, struct rbgw_str reply)
{
    struct rbgw_fanout *f = fan->f;
    const struct rbgw_pool_conf *pc = fan->pc;
    if (fan->cls == RBGW_CLASS_WRITE || fan->trx_role != TRX_NONE) {
        if (status == 0) {
            answer(fan, reply, leg->call.said_false);
            return;
        }
        /* A write moves on only if it never reached the responder (nothing to amplify, so
         * no retry token either). */
        if (!leg->call.sent && fan->trx_role == TRX_NONE && rbgw_outcome_may_try_next(status) &&
            try_next(fan)) {
            return;
        }
        fan_fail(fan, fan->fail_status, "%s", fan->reasons.data ? fan->reasons.data : "failed");
        return;
    }
    switch (pc->read) {
    case RBGW_READ_ONE:
    case RBGW_READ_MERGE: /* a one-member merge runs here too */
        if (status == 0) {
            answer(fan, reply, leg->call.said_false);
            return;
        }
        /* The budget limits extra load on responders: a leg that never reached one (refused,
         * backing off, queue full) costs no token.  Some failures would only repeat elsewhere
         * (too big, shutting down, rbgw's own EMFILE). */
        if (fan->retries_left > 0 && rbgw_outcome_may_try_next(status) &&
            (!leg->call.sent || budget_take(f))) {
            fan->retries_left--;
            if (try_next(fan)) {
                return;
            }
        }
        break;
    case RBGW_READ_FIRST_SUCCESS:
    case RBGW_READ_FIRST_NONEMPTY: {
        enum rbgw_result_kind k = RBGW_RESULT_FAILED;
        if (status == 0) {
            k = rbgw_result_kind(&fan->req->arena, fan->req->call.mid, reply);
        }
        if (k == RBGW_RESULT_DATA ||
            (k == RBGW_RESULT_EMPTY && pc->read == RBGW_READ_FIRST_SUCCESS)) {
            answer(fan, reply, false);
            return;
        }
        if (k == RBGW_RESULT_EMPTY && fan->fallback.p == NULL) {
            fan->fallback =
                rbgw_str_make(rbgw_arena_memdup(&fan->req->arena, reply.p, reply.len), reply.len);
        }
        if (k == RBGW_RESULT_FAILED && status == 0) {
            note_reason(fan, leg->member, "result false");
            if (fan->fallback.p == NULL && fan->next >= fan->norder) {
                /* Every member said false: that is the answer. */
                answer(fan, reply, leg->call.said_false);
                return;
            }
        }
        if ((status == 0 || rbgw_outcome_may_try_next(status)) && try_next(fan)) {
            return;
        }
        if (fan->fallback.p) {
            answer(fan, fan->fallback, false);
            return;
        }
        break;
    }
    }
    fan_fail(fan, fan->fail_status, "%s",
             fan->reasons.data ? fan->reasons.data : "no upstream answered");
}

/* Parallel modes: every leg done. */
static void
par_complete(struct fan *fan)
{
    struct rbgw_request *req = fan->req;
    size_t n = fan->norder;
    if (fan->cls == RBGW_CLASS_READ && fan->trx_role == TRX_NONE) {
        struct rbgw_str *replies = rbgw_arena_calloc(&req->arena, n * sizeof(*replies));
        for (size_t i = 0; i < n; i++) {
            replies[i] = fan->legs[i].status == 0 ? fan->legs[i].reply : RBGW_STR_NULL;
        }
        struct rbgw_buf out = RBGW_BUF_INIT;
        if (rbgw_merge_replies(&req->arena, req->call.mid, replies, n, &out) == 0) {
            answer(fan, rbgw_buf_str(&out), false); /* a merge has data or is empty */
        } else {
            /* Every leg failed or said false: the last failure's class, else false. */
            fan_fail(fan, fan->fail_status, "%s",
                     fan->reasons.data ? fan->reasons.data : "no upstream answered");
        }
        rbgw_buf_free(&out);
        return;
    }
    /* write=all: success only if every member succeeded (and said something but false). */
    bool all_ok = true;
    for (size_t i = 0; i < n; i++) {
        struct leg *leg = &fan->legs[i];
        if (leg->status != 0) {
            all_ok = false;
        } else if (rbgw_result_kind(&req->arena, req->call.mid, leg->reply) == RBGW_RESULT_FAILED) {
            all_ok = false;
            note_reason(fan, leg->member, "result false");
        }
    }
    if (fan->trx_role == TRX_START) {
        if (all_ok) {
            struct trx *t = trx_open(fan, n);
            for (size_t i = 0; i < n; i++) {
                t->member[i] = fan->legs[i].member;
                t->conn[i] = fan->legs[i].call.conn_id;
            }
        } else {
            /* Opened on some members only: close those conns (the responders see the
             * connection drop, an abort), and report false so pdns sends nothing more. */
            for (size_t i = 0; i < n; i++) {
                struct leg *leg = &fan->legs[i];
                struct rbgw_upstream *u = fan->f->ups[leg->member];
                if (leg->status == 0 && leg->call.conn_id) {
                    rbgw_connpool_unpin(u->cp, leg->call.conn_id);
                }
            }
        }
    } else if (fan->trx && !all_ok) {
        fan->trx->failed = true;
    }
    if (fan->trx_role == TRX_END && fan->trx) {
        trx_end(fan);
    }
    /* Not all_ok with no leg failed: a responder said false (fail_status 0 counts so). */
    if (fan->commit_aborted) {
        fan_fail(fan, fan->fail_status, "%s", fan->reasons.data);
    } else if (all_ok) {
        answer(fan, fan->legs[0].reply, false);
    } else {
        fan_fail(fan, fan->fail_status, "not every responder succeeded (write=all): %s",
                 fan->reasons.data ? fan->reasons.data : "?");
    }
}

static void
leg_done(struct rbgw_call *call, int status, struct rbgw_str reply, const struct rbgw_json *extra,
         const char *reason)
{
    struct leg *leg = call->data;
    struct fan *fan = leg->fan;
    struct rbgw_fanout *f = fan->f;
    struct rbgw_member *m = mem(f, leg->member);
    m->outstanding--;
    m->u->outcomes.n[rbgw_outcome_of(status)]++;
    uint64_t now = rbgw_now_ns();
    fan->req->leg_end_ns = now; /* an answer right after is timed with it: no second read */
    if (call->sent) {
        rbgw_hist_observe(&m->u->stats.latency, now - leg->start_ns);
    }
    leg->status = status;
    if (status == 0) {
        m->failures = 0;
        m->u->stats.said_false += call->said_false;
    } else {
        fan->fail_status = status;
        fan->extra = extra;
        note_reason(fan, leg->member, reason);
        /* A full queue, a queue timeout, shutting down or rbgw's own EMFILE say nothing about
         * the upstream's health. */
        if (rbgw_outcome_counts_against(status)) {
            member_failed(m, status, reason);
        }
    }
    if (fan->parallel) {
        if (status == 0) {
            leg->reply =
                rbgw_str_make(rbgw_arena_memdup(&fan->req->arena, reply.p, reply.len), reply.len);
        }
        if (--fan->pending == 0) {
            par_complete(fan);
        }
        return;
    }
    /* Sequential single-member transaction bookkeeping. */
    if (fan->trx_role == TRX_START) {
        struct rbgw_upstream *u = m->u;
        bool opened = status == 0 && rbgw_result_kind(&fan->req->arena, fan->req->call.mid,
                                                      reply) != RBGW_RESULT_FAILED;
        if (opened) {
            struct trx *t = trx_open(fan, 1);
            t->member[0] = leg->member;
            t->conn[0] = call->conn_id;
        } else if (status == 0 && call->conn_id) {
            /* pdns sends neither commit nor abort after a false start: free the conn. */
            rbgw_connpool_unpin(u->cp, call->conn_id);
        }
    } else if (fan->trx_role == TRX_END && fan->trx) {
        trx_end(fan);
    }
    seq_done(fan, leg, status, reply);
}

/* ---- health ---- */

static void check_now(uv_timer_t *t);

static void
probe_done(struct rbgw_call *call, int status, struct rbgw_str reply, const struct rbgw_json *extra,
           const char *reason)
{
    struct rbgw_member *m = call->data;
    RBGW_UNUSED(reply);
    RBGW_UNUSED(extra);
    m->checking = false;
    if (m->stopped) {
        return;
    }
    if (status == 0) {
        m->u->stats.checks_ok++;
        m->healthy = true;
        m->failures = 0;
        rbgw_ulog_warn(m->u, "check passed, back in service");
        return;
    }
    m->u->stats.checks_failed++;
    rbgw_rlog_limited(RBGW_LOG_INFO, "failed checks", NULL, m->u, "check failed: %s", reason);
    uv_timer_start(&m->check, check_now, m->health_interval, 0);
}

static void
check_now(uv_timer_t *t)
{
    struct rbgw_member *m = t->data;
    if (m->healthy || m->checking || m->stopped) {
        return;
    }
    m->checking = true;
    rbgw_connpool_probe(m->u->cp, probe_done, m);
}

static void
member_failed(struct rbgw_member *m, int status, const char *reason)
{
    m->failures++;
    if (!m->healthy || m->failures < m->failure_limit) {
        return;
    }
    m->healthy = false;
    m->u->stats.ejections++;
    rbgw_ulog_warn(
        m->u, "ejected after %u consecutive failures (last: %s: %s); checking every %u ms",
        m->failures, rbgw_outcome_name(rbgw_outcome_of(status)), reason, m->health_interval);
    if (!m->stopped) {
        uv_timer_start(&m->check, check_now, m->health_interval, 0);
    }
}

/* ---- dispatch ---- */

static void
order_pool(struct fan *fan, struct rbgw_str name)
{
    struct rbgw_fanout *f = fan->f;
    const struct rbgw_pool_conf *pc = fan->pc;
    struct pool_rt *prt = &f->pools[fan->pool];
    size_t n = pc->nmembers;
    for (size_t i = 0; i < n; i++) {
        struct rbgw_member *m = mem(f, pc->members[i]);
        prt->ms[i].healthy = m->healthy;
        prt->ms[i].outstanding = m->outstanding;
        prt->ms[i].weight = m->weight;
    }
    size_t *idx = rbgw_arena_alloc(&fan->req->arena, n * sizeof(*idx));
    rbgw_lb_order(pc->policy, prt->ms, n, &prt->rr, rbgw_name_hash(name), idx);
    fan->order = rbgw_arena_alloc(&fan->req->arena, n * sizeof(*fan->order));
    for (size_t i = 0; i < n; i++) {
        fan->order[i] = pc->members[idx[i]];
    }
    fan->norder = n;
}

static bool
get_trxid(const struct rbgw_request *req, int64_t *out)
{
    struct rbgw_json v = {.type = RBGW_JSON_NUMBER, .str = req->trxid};
    return req->trxid.len > 0 && rbgw_json_int64(&v, out);
}

void
rbgw_fanout_dispatch(struct rbgw_fanout *f, struct rbgw_request *req)
{
    /* Read cache hook: a hit, or a read now waiting for an identical one in flight, is
     * answered there and never routed. */
    struct rbgw_cache_lead *lead;
    if (rbgw__cache_dispatch(f->gw->cache, req, &lead)) {
        return;
    }
    struct fan *fan = rbgw_arena_calloc(&req->arena, sizeof(*fan));
    fan->lead = lead;
    rbgw_request_ref(req);
    fan->f = f;
    fan->gen = f->gen;
    rbgw__generation_ref(fan->gen);
    fan->req = req;
    rbgw_buf_init(&fan->reasons);
    f->gw->retry_tokens += (double)f->retry_budget / 100.0;

    enum rbgw_method method = req->call.mid;
    fan->cls = rbgw_method_class(method);
    struct rbgw_str name = RBGW_STR_NULL;
    if (f->needs_names) {
        /* Zone routes and consistent hashing read the call's name: that needs the tree. */
        char err[200];
        if (rbgw_request_parse(req, err, sizeof(err)) != 0) {
            fan_fail(fan, RBGW_EPARSE, "%s", err);
            return;
        }
        name = rbgw_call_name(method, req->call.params);
    }

    /* Transactions first: their calls go where the transaction lives. */
    int64_t trxid = 0;
    bool has_trxid = get_trxid(req, &trxid);
    if (rbgw_method_trx(method) == RBGW_TRX_START && has_trxid) {
        struct trx *old = trx_find(req->session, trxid);
        if (old) {
            /* restarted without commit/abort: the old one is dead */
            trx_drop(old, "a new startTransaction reused its trxid");
        }
        fan->trx_role = TRX_START;
        fan->trxid = trxid;
    } else if (has_trxid && (fan->trx = trx_find(req->session, trxid)) != NULL) {
        trx_ref(fan->trx);
        fan->trx_role = rbgw_method_trx(method) == RBGW_TRX_END ? TRX_END : TRX_IN;
        if (fan->trx->f != f) {
            /* Started before a reload: it goes on in the generation that started it. */
            f = fan->f = fan->trx->f;
            rbgw__generation_ref(f->gen);
            rbgw__generation_unref(fan->gen);
            fan->gen = f->gen;
        }
    }
    fan->deadline = now_ms(f) + f->deadline_ms;

    if (fan->trx) {
        fan->pool = fan->trx->pool;
        fan->pc = &f->conf.pools[fan->pool];
        fan->norder = fan->trx->n;
        fan->order = rbgw_arena_alloc(&req->arena, fan->norder * sizeof(*fan->order));
        memcpy(fan->order, fan->trx->member, fan->norder * sizeof(*fan->order));
        if (fan->trx_role == TRX_END && fan->trx->failed && method == RBGW_M_COMMIT_TRANSACTION) {
            /* write=all: some responder failed a call of this transaction; committing the
             * others would leave them disagreeing.  Abort everywhere instead. */
            rbgw_rlog_warn(req, "transaction %lld failed on a responder: aborting it on all",
                           (long long)trxid);
            static const char abort_fmt[] =
                "{\"method\": \"abortTransaction\", \"parameters\": {\"trxid\": %lld}}";
            char text[128];
            int len = snprintf(text, sizeof(text), abort_fmt, (long long)trxid);
            req->raw =
                rbgw_str_make(rbgw_arena_memdup(&req->arena, text, (size_t)len), (size_t)len);
            char err[64];
            if (rbgw_rpc_decode(&req->arena, req->raw.p, req->raw.len, &req->call, err,
                                sizeof(err)) != 0) {
                fan_fail(fan, RBGW_ELOCAL, "internal error building abortTransaction");
                return;
            }
            fan->commit_aborted = true;
            fan->reasons.len = 0;
            rbgw_buf_printf(&fan->reasons,
                            "transaction %lld was aborted: a responder failed "
                            "a call in it",
                            (long long)trxid);
        }
    } else {
        fan->pool = rbgw_route_pick(&f->conf, fan->cls, name);
        fan->pc = &f->conf.pools[fan->pool];
        order_pool(fan, name);
    }

    const struct rbgw_pool_conf *pc = fan->pc;
    bool write_all = pc->write == RBGW_WRITE_ALL && fan->cls == RBGW_CLASS_WRITE;
    bool merge =
        pc->read == RBGW_READ_MERGE && fan->cls == RBGW_CLASS_READ && fan->trx_role == TRX_NONE;
    if ((write_all || merge) && !fan->trx) {
        /* Every member takes part: keep the pool's order, so merged records, logs and the
         * write=all answer come in the order the operator wrote the members. */
        memcpy(fan->order, pc->members, pc->nmembers * sizeof(*fan->order));
    }
    fan->legs = rbgw_arena_calloc(&req->arena, fan->norder * sizeof(*fan->legs));
    for (size_t i = 0; i < fan->norder; i++) {
        fan->legs[i].fan = fan;
        fan->legs[i].member = fan->order[i];
    }
    fan->parallel = fan->norder > 1 && (merge || write_all || (fan->trx && fan->trx->n > 1));
    if (fan->cls == RBGW_CLASS_READ && fan->trx_role == TRX_NONE && pc->read == RBGW_READ_ONE) {
        fan->retries_left = pc->retries;
    }
    if (fan->parallel) {
        fan->pending = fan->norder;
        /* Counted first: a leg may complete synchronously inside its submit. */
        for (size_t i = 0; i < fan->norder; i++) {
            leg_submit(fan, &fan->legs[i]);
        }
        return;
    }
    if (fan->trx) {
        fan->norder = 1; /* a single-member transaction: never elsewhere */
    }
    if (!try_next(fan)) {
        fan_fail(fan, RBGW_ENOUPSTREAM, "no upstream could be tried before the deadline");
    }
}

/* ---- state for metrics ---- */

void
rbgw_fanout_member_state(const struct rbgw_upstream *u, struct rbgw_member_view *out)
{
    const struct rbgw_member *m = u->member;
    out->healthy = m->healthy;
    out->checking = m->checking;
    out->outstanding = m->outstanding;
    out->failures = m->failures;
    out->failure_limit = m->failure_limit;
}

const struct rbgw_router_conf *
rbgw_fanout_router(const struct rbgw_fanout *f)
{
    return &f->conf;
}

double
rbgw_fanout_budget(struct rbgw_gateway *gw)
{
    /* budget_take's refill, without taking anything */
    double b = gw->retry_tokens +
               (double)(uv_now(gw->loop) - gw->retry_tokens_ts) * BUDGET_MIN_PER_SEC / 1000.0;
    return b > BUDGET_CAP ? BUDGET_CAP : b;
}

/* ---- lifecycle ---- */

int
rbgw_fanout_new(struct rbgw_generation *gen, struct rbgw_fanout **out, char *err, size_t errlen)
{
    struct rbgw_fanout *f = rbgw_xcalloc(1, sizeof(*f));
    f->gw = gen->gw;
    f->gen = gen;
    int rc = rbgw_router_conf_build(gen->cfg, &f->conf, err, errlen);
    if (rc != 0) {
        free(f);
        return rc;
    }
    f->ups = gen->upstreams;
    f->nups = gen->nupstreams;
    f->deadline_ms = gen->cfg->deadline_ms;
    f->retry_budget = gen->cfg->retry_budget;
    f->pools = rbgw_xcalloc(f->conf.npools, sizeof(*f->pools));
    for (size_t i = 0; i < f->conf.npools; i++) {
        f->pools[i].ms = rbgw_xcalloc(f->conf.pools[i].nmembers, sizeof(*f->pools[i].ms));
    }
    for (size_t i = 0; i < f->conf.nroutes; i++) {
        f->needs_names |= f->conf.routes[i].zone != NULL;
    }
    for (size_t i = 0; i < f->conf.npools; i++) {
        f->needs_names |= f->conf.pools[i].policy == RBGW_LB_CONSISTENT_HASH;
    }
    *out = f;
    return 0;
}

void
rbgw_fanout_free(struct rbgw_fanout *f)
{
    if (f == NULL) {
        return;
    }
    for (size_t i = 0; i < f->conf.npools; i++) {
        free(f->pools[i].ms);
    }
    free(f->pools);
    rbgw_router_conf_free(&f->conf);
    free(f);
}

void
rbgw_fanout_budget_init(struct rbgw_gateway *gw)
{
    gw->retry_tokens = BUDGET_MIN_PER_SEC;
    gw->retry_tokens_ts = uv_now(gw->loop);
}

int
rbgw_fanout_member_new(struct rbgw_upstream *u, char *err, size_t errlen)
{
    long limit, interval, weight;
    int rc;
    if ((rc = rbgw_upstream_int_opt(u, "failure-limit", &limit, err, errlen)) ||
        (rc = rbgw_upstream_int_opt(u, "health-interval", &interval, err, errlen)) ||
        (rc = rbgw_upstream_int_opt(u, "weight", &weight, err, errlen))) {
        return rc;
    }
    struct rbgw_member *m = rbgw_xcalloc(1, sizeof(*m));
    m->u = u;
    m->healthy = true;
    m->failure_limit = (uint32_t)limit;
    m->health_interval = (uint32_t)interval;
    m->weight = (uint32_t)weight;
    uv_timer_init(u->gw->loop, &m->check);
    m->check.data = m;
    u->member = m;
    u->open_parts++;
    return 0;
}

static void
on_check_closed(uv_handle_t *h)
{
    struct rbgw_member *m = h->data;
    rbgw__upstream_part_closed(m->u); /* may free the upstream: last */
}

void
rbgw_fanout_member_stop(struct rbgw_upstream *u)
{
    struct rbgw_member *m = u->member;
    if (m == NULL || m->stopped) {
        return;
    }
    m->stopped = true;
    uv_close((uv_handle_t *)&m->check, on_check_closed);
}

void
rbgw_fanout_member_free(struct rbgw_upstream *u)
{
    free(u->member);
    u->member = NULL;
}

bool
rbgw_fanout_member_healthy(const struct rbgw_upstream *u)
{
    return u->member == NULL || u->member->healthy;
}

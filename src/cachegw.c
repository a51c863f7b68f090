/*
 * cachegw.c: the read cache and coalescing on the event loop (cachegw.h; the store is cache.c).
 *
 *   leading request ──arena──> lead { flight (listed in the cache while joinable), waiters }
 *                                                                                    │
 *        waiter (in its own request's arena) ──ref──> waiting request <──────────────┘
 *        └──> next waiter ...                          (answered in arrival order)
 *
 * Lifetimes.  The lead lives in the arena of the request that leads.  That request is held by
 * its fan-out until fan-out has answered it (fanout.c), and fan-out calls rbgw__cache_answered
 * before it lets go, so the lead outlives its flight.  A waiter holds a counted reference to
 * its request: when its pdns connection goes away meanwhile, the session is gone, its answer
 * is swallowed (request.c) and the listener's reference is dropped; ours is then the last one,
 * and the request is freed when the answer hook lets it go.
 *
 * Deadlines.  A waiter joins only a flight of the configuration in force (a reload ends every
 * flight), so its deadline= is the lead's, and the lead arrived first: the lead's answer,
 * bounded by the lead's deadline, comes before the waiter's own deadline.  Waiters need no
 * timer.
 *
 * Failures.  When the lead fails, its waiters get the same failure (false, with the lead's
 * reason).  They are not retried: the lead already had the pool's retries and failover within
 * the deadline, and sending every waiter to a responder that just failed is the stampede that
 * coalescing exists to prevent.  A false reply is passed on as it came, and not stored.
 *
 * Re-entrancy.  Answering a waiter runs its listener's reply hook, which the listener contract
 * allows to serve that connection's next call before returning (none does today: jsonconn and
 * the HTTP listener write and return).  Such a call must neither join the flight being
 * finished (its waiters are no longer looked at) nor miss the fresh reply: the flight leaves
 * the table and the reply is stored before the first waiter is answered, and waiters are
 * answered from a copy in the lead's arena, which nothing upstream can reuse meanwhile.
 *
 * Transactions.  Reads of a session with an open transaction (or carrying a trxid) use
 * neither the cache nor coalescing: pdns may be reading what the transaction is changing, and
 * only the responder's connection in that transaction knows it.  Writes inside a transaction
 * are settled when it closes: its zone (startTransaction's domain) is invalidated then, once,
 * whether it was committed, aborted, or dropped with its session (the responder may not roll
 * back everything).
 */
#include <stdio.h>

#include "rbgw/cachegw.h"
#include "rbgw/jsonscan.h"
#include "rbgw/log.h"

struct waiter {
    struct rbgw_request *req; /* counted reference */
    struct waiter *next;      /* the next one to answer, or NULL */
};

struct rbgw_cache_lead {
    struct rbgw_cache_flight f; /* its key is in the leading request's arena */
    struct rbgw_request *req;   /* borrowed: the leading request (its fan-out holds it) */
    struct waiter *waiters;     /* the first to answer, or NULL */
    struct waiter **tail;       /* where the next waiter goes */
};

static struct rbgw_cache_opts
opts_of(const struct rbgw_config *cfg)
{
    struct rbgw_cache_opts o = {
        .ttl_ms = cfg->cache_ttl_ms,
        .max_bytes = cfg->cache_size,
        .per_client = cfg->cache_per_client,
        .coalesce = cfg->coalesce,
    };
    return o;
}

static bool
is_on(const struct rbgw_cache *c)
{
    const struct rbgw_cache_opts *o = rbgw_cache_opts(c);
    return o->ttl_ms > 0 || o->coalesce;
}

struct rbgw_cache *
rbgw__cache_new(const struct rbgw_config *cfg)
{
    struct rbgw_cache_opts o = opts_of(cfg);
    if (uv_random(NULL, NULL, &o.seed, sizeof(o.seed), 0, NULL) != 0) {
        o.seed = uv_hrtime() ^ ((uint64_t)uv_os_getpid() << 32);
    }
    return rbgw_cache_new(&o);
}

void
rbgw__cache_configure(struct rbgw_cache *c, const struct rbgw_config *cfg)
{
    struct rbgw_cache_opts o = opts_of(cfg);
    o.seed = rbgw_cache_opts(c)->seed;
    rbgw_cache_configure(c, &o);
}

/* ---- dispatch ---- */

/*
 * The call's key in kb, and its use; -1 if it cannot be read.  From the parameters' text the
 * peek found when no tree was built (the pass-through case between JSON connectors: a tree
 * costs more than the rest of a hit), else, or when the text has escapes where the key needs
 * decoded bytes, from the tree.
 */
static int
key_of(struct rbgw_request *req, bool per_client, struct rbgw_buf *kb)
{
    rbgw_buf_reset(kb);
    if (!req->parsed) {
        int use = rbgw_cache_key_text(req->call.mid, req->params, per_client, kb);
        if (use >= 0) {
            return use;
        }
    }
    char err[128];
    if (rbgw_request_parse(req, err, sizeof(err)) != 0) {
        return -1;
    }
    return (int)rbgw_cache_key(req->call.mid, req->call.params, per_client, kb);
}

static void
join(struct rbgw_cache_lead *l, struct rbgw_request *req)
{
    struct waiter *w = rbgw_arena_alloc(&req->arena, sizeof(*w));
    w->req = req;
    w->next = NULL;
    rbgw_request_ref(req);
    *l->tail = w;
    l->tail = &w->next;
    rbgw_rlog_debug(req, "waits for the identical call req=%llu", (unsigned long long)l->req->id);
}

bool
rbgw__cache_dispatch(struct rbgw_cache *c, struct rbgw_request *req, struct rbgw_cache_lead **lead)
{
    *lead = NULL;
    const struct rbgw_cache_opts *o = rbgw_cache_opts(c);
    if ((o->ttl_ms == 0 && !o->coalesce) || rbgw_method_class(req->call.mid) != RBGW_CLASS_READ) {
        return false;
    }
    struct rbgw_cache_stats *st = rbgw_cache_stats(c);
    if (req->trxid.len > 0 || !rbgw_list_empty(&req->session->trxs)) {
        st->bypassed++;
        return false;
    }
    struct rbgw_buf *kb = rbgw_cache_scratch(c);
    int use = key_of(req, o->per_client, kb);
    if (use < 0) {
        st->bypassed++;
        return false;
    }
    bool store = use == RBGW_CACHE_USE_STORE && o->ttl_ms > 0;
    if (use == RBGW_CACHE_USE_NONE || (!store && !o->coalesce)) {
        st->bypassed++;
        return false;
    }
    struct rbgw_str key = rbgw_buf_str(kb);
    uint64_t hash = rbgw_cache_hash(c, key);
    struct rbgw_str reply;
    if (store && rbgw_cache_get(c, key, hash, uv_now(req->gw->loop), &reply)) {
        st->hits++;
        rbgw_rlog_debug(req, "answered from the cache");
        /* Only replies that were not false are stored.  May free req: the listener's reference
         * was its only. */
        rbgw_request_reply(req, reply, false);
        return true;
    }
    struct rbgw_cache_flight *f = o->coalesce ? rbgw_cache_flight_find(c, key, hash) : NULL;
    if (f != NULL) {
        st->coalesced++;
        join(rbgw_container_of(f, struct rbgw_cache_lead, f), req);
        return true;
    }
    st->misses++;
    /* Listed even when nobody may join (coalesce=no): a write completing while it is in
     * flight must find it, so that its reply, which may predate the write, is not stored. */
    struct rbgw_cache_lead *l = rbgw_arena_calloc(&req->arena, sizeof(*l));
    l->f.key = rbgw_str_make(rbgw_arena_memdup(&req->arena, key.p, key.len), key.len);
    l->f.hash = hash;
    l->f.store = use == RBGW_CACHE_USE_STORE;
    l->req = req;
    l->tail = &l->waiters;
    rbgw_cache_flight_add(c, &l->f);
    *lead = l;
    return false;
}

/* ---- answers ---- */

static void
finish(struct rbgw_cache *c, struct rbgw_cache_lead *l, struct rbgw_str reply, bool said_false,
       int status, const char *reason, const struct rbgw_json *extra)
{
    struct rbgw_request *req = l->req;
    bool ok = reason == NULL;
    rbgw_cache_flight_remove(c, &l->f);
    if (ok && l->f.store && !l->f.stale && rbgw_cache_opts(c)->ttl_ms > 0 && !said_false) {
        rbgw_cache_put(c, l->f.key, l->f.hash, reply, uv_now(req->gw->loop));
    }
    struct waiter *w = l->waiters;
    l->waiters = NULL;
    l->tail = &l->waiters;
    if (w != NULL && ok) {
        reply = rbgw_str_make(rbgw_arena_memdup(&req->arena, reply.p, reply.len), reply.len);
    }
    while (w != NULL) {
        /* w is in its request's arena: read it before that request may be freed. */
        struct waiter *next = w->next;
        struct rbgw_request *wr = w->req;
        if (ok) {
            rbgw_request_reply(wr, reply, said_false);
        } else {
            rbgw_request_fail(wr, status, extra, "%s (the answer of the identical call req=%llu)",
                              reason, (unsigned long long)req->id);
        }
        rbgw_request_unref(wr);
        w = next;
    }
}

static void
write_done(struct rbgw_cache *c, struct rbgw_request *req)
{
    const struct rbgw_method_info *row = rbgw_method_info(req->call.mid);
    char err[128];
    if (row->cache == RBGW_CACHE_ZONE_STATE) {
        rbgw_cache_end_shared(c);
        return;
    }
    if (row->cache != RBGW_CACHE_FLUSH && rbgw_request_parse(req, err, sizeof(err)) == 0) {
        struct rbgw_str name = rbgw_call_name(req->call.mid, req->call.params);
        if (name.p != NULL) {
            rbgw_cache_invalidate(c, name, uv_now(req->gw->loop));
            rbgw_rlog_debug(req, "cached answers at, above or below %.*s are stale", (int)name.len,
                            name.p);
            return;
        }
    }
    rbgw_cache_invalidate_all(c);
    rbgw_rlog_debug(req, "every cached answer is stale: the write names no zone");
}

void
rbgw__cache_answered(struct rbgw_cache *c, struct rbgw_request *req, struct rbgw_cache_lead *lead,
                     bool in_trx, struct rbgw_str reply, bool said_false, int status,
                     const char *reason, const struct rbgw_json *extra)
{
    if (lead != NULL) {
        finish(c, lead, reply, said_false, status, reason, extra);
        return;
    }
    if (!is_on(c) || in_trx || rbgw_method_class(req->call.mid) != RBGW_CLASS_WRITE) {
        return;
    }
    /* Whatever the outcome: a write that failed or timed out may still have been applied. */
    write_done(c, req);
}

/* ---- transactions ---- */

char *
rbgw__cache_trx_zone(struct rbgw_cache *c, struct rbgw_request *start)
{
    char err[128];
    if (!is_on(c) || rbgw_request_parse(start, err, sizeof(err)) != 0) {
        return NULL;
    }
    struct rbgw_str zone = rbgw_call_name(start->call.mid, start->call.params);
    return zone.p != NULL ? rbgw_xstrndup(zone.p, zone.len) : NULL;
}

void
rbgw__cache_trx_closed(struct rbgw_gateway *gw, const char *zone)
{
    struct rbgw_cache *c = gw->cache;
    if (!is_on(c)) {
        return;
    }
    if (zone != NULL) {
        rbgw_cache_invalidate(c, rbgw_str_cstr(zone), uv_now(gw->loop));
    } else {
        rbgw_cache_invalidate_all(c);
    }
    rbgw_log_debug("a transaction of %s closed: its cached answers are stale",
                   zone != NULL ? zone : "an unknown zone");
}

/* ---- status ---- */

void
rbgw__cache_log_status(struct rbgw_cache *c)
{
    if (!is_on(c)) {
        return;
    }
    const struct rbgw_cache_opts *o = rbgw_cache_opts(c);
    const struct rbgw_cache_stats *s = rbgw_cache_stats(c);
    rbgw_log_warn("status: cache (ttl %u ms, coalesce %s): %llu entries, %llu of %zu bytes; "
                  "hits %llu, coalesced %llu, misses %llu, bypassed %llu; inserts %llu, "
                  "evictions %llu, expired %llu, invalidated %llu",
                  o->ttl_ms, o->coalesce ? "on" : "off", (unsigned long long)s->entries,
                  (unsigned long long)s->bytes, o->max_bytes, (unsigned long long)s->hits,
                  (unsigned long long)s->coalesced, (unsigned long long)s->misses,
                  (unsigned long long)s->bypassed, (unsigned long long)s->inserts,
                  (unsigned long long)s->evictions, (unsigned long long)s->expired,
                  (unsigned long long)s->invalidations);
}

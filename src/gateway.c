/*
 * gateway.c: builds generations, listeners and upstreams from the configuration; start, reload,
 * signals, drain.
 *
 * Reload (rbgw_gateway_reload; SIGHUP), in two phases so that a refusal changes nothing:
 *
 *   1. build, beside the running generation: load the configuration (gw->load: the same
 *      sources as at start), carry over every upstream whose name, connection string and
 *      max-reply-size are unchanged (a counted reference to the same object: pool, health,
 *      counters), create the others (no I/O), build the routing, match listeners by their
 *      listen= text, refuse what cannot change at runtime (the pipe listener, an address a
 *      removed listener still holds), start the new listeners.  Any failure undoes this phase
 *      (new listeners closed, the new generation released) and is reported with its place.
 *   2. commit, which cannot fail: the gateway points at the new generation and drops its
 *      reference to the old one; removed listeners stop taking calls; the log level applies;
 *      the read cache is emptied and takes its new options (cachegw.h).
 *
 * Old generations stay as long as something dispatched in them does (gateway.h): a fan-out in
 * flight, an open transaction.  When the last reference goes the generation is put on
 * dead_gens and the reaper (a 0 ms timer: the next loop iteration, never inside the callback
 * that dropped the reference) frees it, releasing the upstreams only it used; a released
 * upstream stops its pool and is freed by the reaper once every handle of it is closed.  A
 * removed listener is closed by the reaper once the last request of its sessions is freed
 * (every answer written), and freed once it reports its handles closed.
 *
 * Shutdown (rbgw_gateway_stop: SIGINT/SIGTERM/SIGQUIT, or every listener done, e.g. pdns
 * closed our stdin):
 *   1. stopping = true: listeners stop reading/accepting; new requests are refused; the drain
 *      timer is armed for deadline= plus DRAIN_GRACE_MS.
 *   2. in-flight requests finish normally (their deadline bounds the upstream part).
 *   3. when the last request is freed (inflight == 0), or when the drain timer fires (then what
 *      is left upstream is failed as shutting down first), close_all: listeners close (their
 *      sessions go), upstream pools and timers stop, signal handlers close; uv_run() then
 *      returns because nothing is left active, and deinit frees what the reaper did not.
 *   A second stop signal while draining exits at once (_exit(1)).
 *
 * Signals (docs/operations.md): HUP reload; INT, TERM, QUIT drain; USR1 log a status line;
 * USR2 toggle debug logging; PIPE is ignored (main.c): a vanished peer is an EPIPE on a write.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rbgw/admin.h"
#include "rbgw/cachegw.h"
#include "rbgw/connpool.h"
#include "rbgw/fanout.h"
#include "rbgw/gateway.h"
#include "rbgw/log.h"
#include "listener/admit.h"

#define DRAIN_GRACE_MS 200 /* after deadline=: time for the last answers to be written */
#define EXIT_AT_ONCE 1     /* exit status when a second stop signal cuts the drain short */

extern const struct rbgw_listener_ops rbgw_pipe_listener_ops;
extern const struct rbgw_listener_ops rbgw_unix_listener_ops;
extern const struct rbgw_listener_ops rbgw_http_listener_ops;
extern const struct rbgw_listener_ops rbgw_zmq_listener_ops;
extern const struct rbgw_upstream_ops rbgw_http_upstream_ops;
extern const struct rbgw_upstream_ops rbgw_unix_upstream_ops;
extern const struct rbgw_upstream_ops rbgw_pipe_upstream_ops;
extern const struct rbgw_upstream_ops rbgw_zmq_upstream_ops;

const struct rbgw_listener_ops *
rbgw_listener_ops_for(enum rbgw_transport t)
{
    switch (t) {
    case RBGW_TRANSPORT_PIPE:
        return &rbgw_pipe_listener_ops;
    case RBGW_TRANSPORT_UNIX:
        return &rbgw_unix_listener_ops;
    case RBGW_TRANSPORT_HTTP:
        return &rbgw_http_listener_ops;
    case RBGW_TRANSPORT_ZEROMQ:
        return &rbgw_zmq_listener_ops;
    default:
        return NULL;
    }
}

const struct rbgw_upstream_ops *
rbgw_upstream_ops_for(enum rbgw_transport t)
{
    switch (t) {
    case RBGW_TRANSPORT_HTTP:
        return &rbgw_http_upstream_ops;
    case RBGW_TRANSPORT_UNIX:
        return &rbgw_unix_upstream_ops;
    case RBGW_TRANSPORT_PIPE:
        return &rbgw_pipe_upstream_ops;
    case RBGW_TRANSPORT_ZEROMQ:
        return &rbgw_zmq_upstream_ops;
    default:
        return NULL;
    }
}

int
rbgw_upstream_int_opt(const struct rbgw_upstream *u, const char *name, long *out, char *err,
                      size_t errlen)
{
#define RBGW_X(oname, def, min, max, help)                                                         \
    if (strcmp(name, oname) == 0) {                                                                \
        return rbgw_connstr_get_int(&u->conf->cs, oname, def, min, max, out, err, errlen);         \
    }
    RBGW_UPSTREAM_INT_OPTS(RBGW_X)
#undef RBGW_X
    RBGW_ASSERT(!"unknown upstream option");
    return RBGW_ECONFIG;
}

int
rbgw_listener_int_opt(const struct rbgw_listener *l, const char *name, long *out, char *err,
                      size_t errlen)
{
#define RBGW_X(tr, oname, def, min, max, help)                                                     \
    if (l->conf->cs.transport == (tr) && strcmp(name, oname) == 0) {                               \
        return rbgw_connstr_get_int(&l->conf->cs, oname, def, min, max, out, err, errlen);         \
    }
    RBGW_LISTENER_INT_OPTS(RBGW_X)
#undef RBGW_X
    RBGW_ASSERT(!"unknown listener option");
    return RBGW_ECONFIG;
}

static const struct {
    int signum;       /* the signal */
    const char *name; /* for logs */
} handled[] = {
    {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGTERM, "SIGTERM"},
    {SIGQUIT, "SIGQUIT"}, {SIGUSR1, "SIGUSR1"}, {SIGUSR2, "SIGUSR2"},
};

static void close_all(struct rbgw_gateway *gw);

/* ---- deferred frees ---- */

static void reap(struct rbgw_gateway *gw);

static void
on_reaper(uv_timer_t *t)
{
    reap(t->data);
}

/* Run reap() on the next loop iteration.  Once the gateway is stopped, deinit does it. */
static void
schedule_reap(struct rbgw_gateway *gw)
{
    if (gw->stopped) {
        return;
    }
    if (!gw->reaper_inited) {
        uv_timer_init(gw->loop, &gw->reaper);
        gw->reaper.data = gw;
        gw->reaper_inited = true;
    }
    if (!uv_is_active((uv_handle_t *)&gw->reaper)) {
        uv_timer_start(&gw->reaper, on_reaper, 0, 0);
    }
}

/* ---- upstreams ---- */

static void
upstream_free(struct rbgw_upstream *u)
{
    if (rbgw_list_linked(&u->link)) {
        rbgw_list_remove(&u->link);
    }
    if (u->impl) {
        u->ops->destroy(u);
    }
    rbgw_fanout_member_free(u);
    rbgw_endpoint_conf_free(&u->own_conf);
    free(u->handover);
    free(u->name);
    free(u);
}

/* Stop u: fail what is queued or in flight (nothing is, once released), close its conns and
 * timers.  Idempotent.  The member first: a health check the pool fails now is not retried. */
static void
upstream_stop(struct rbgw_upstream *u)
{
    rbgw_fanout_member_stop(u);
    rbgw_connpool_stop(u->cp);
}

static void hand_over_late_counts(struct rbgw_upstream *u);

static void
upstream_unref(struct rbgw_upstream *u)
{
    RBGW_ASSERT(u->refs > 0);
    if (--u->refs > 0) {
        return;
    }
    rbgw_ulog_debug(u, "no generation uses it any more: closing it");
    upstream_stop(u);
    hand_over_late_counts(u);
    schedule_reap(u->gw);
}

void
rbgw__upstream_part_closed(struct rbgw_upstream *u)
{
    RBGW_ASSERT(u->open_parts > 0);
    if (--u->open_parts == 0) {
        schedule_reap(u->gw);
    }
}

/*
 * A new upstream for entry ec (name: owned, taken).  No I/O: the transport validates and
 * allocates.  The object is on all_upstreams with one reference (the caller's generation's).
 */
static int
upstream_new(struct rbgw_gateway *gw, const struct rbgw_endpoint_conf *ec, char *name,
             struct rbgw_upstream **out, char *err, size_t errlen)
{
    const struct rbgw_upstream_ops *ops =
        gw->force_ops ? gw->force_ops : rbgw_upstream_ops_for(ec->cs.transport);
    if (ops == NULL) {
        snprintf(err, errlen, "%s: upstream %s: the %s connector is not available as an upstream",
                 ec->origin, ec->text, rbgw_transport_name(ec->cs.transport));
        free(name);
        return RBGW_ENOTSUP;
    }
    struct rbgw_upstream *u = rbgw_xcalloc(1, sizeof(*u));
    u->ops = ops;
    u->gw = gw;
    rbgw_endpoint_conf_copy(&u->own_conf, ec);
    u->conf = &u->own_conf;
    u->name = name;
    u->max_reply_size = gw->cfg->max_reply_size;
    u->refs = 1;
    rbgw_list_init(&u->link);
    long timeout, cto;
    char e[256];
    int rc;
    if ((rc = rbgw_upstream_int_opt(u, "timeout", &timeout, e, sizeof(e))) != 0 ||
        (rc = rbgw_upstream_int_opt(u, "connect-timeout", &cto, e, sizeof(e))) != 0 ||
        (rc = ops->create(u, e, sizeof(e))) != 0) {
        /* Nothing with a handle was made: free at once. */
        snprintf(err, errlen, "%s: upstream %s: %s", ec->origin, u->name, e);
        upstream_free(u);
        return rc;
    }
    u->timeout_ms = (uint32_t)timeout;
    u->connect_timeout_ms = (uint32_t)cto;
    u->open_parts = 1; /* the pool */
    rbgw_list_push_back(&gw->all_upstreams, &u->link);
    if ((rc = rbgw_fanout_member_new(u, e, sizeof(e))) != 0) {
        snprintf(err, errlen, "%s: upstream %s: %s", ec->origin, u->name, e);
        upstream_unref(u);
        return rc;
    }
    *out = u;
    return 0;
}

/* The upstream of g that a new entry (name, ec) is, unchanged, or NULL. */
static struct rbgw_upstream *
upstream_same(const struct rbgw_generation *g, const char *name,
              const struct rbgw_endpoint_conf *ec, size_t max_reply_size)
{
    for (size_t i = 0; g && i < g->nupstreams; i++) {
        struct rbgw_upstream *u = g->upstreams[i];
        if (strcmp(u->name, name) == 0 && strcmp(u->conf->raw, ec->raw) == 0 &&
            u->max_reply_size == max_reply_size && !rbgw_config_upstream_reads_files(ec)) {
            return u;
        }
    }
    return NULL;
}

/*
 * u replaces the upstream of its name in g, if g has one: u's counters go on from that one's,
 * so a name's counters never go back (what the replaced upstream counts after the reload
 * follows when it is released: note_handovers, hand_over_late_counts).  Health and
 * connections stay u's own, fresh.
 */
static void
upstream_carry_counters(struct rbgw_upstream *u, const struct rbgw_generation *g)
{
    for (size_t i = 0; g && i < g->nupstreams; i++) {
        const struct rbgw_upstream *old = g->upstreams[i];
        if (strcmp(old->name, u->name) == 0) {
            u->outcomes = old->outcomes;
            u->stats = old->stats;
            u->tls_carried = old->tls_carried;
            if (old->tls != NULL) {
                u->tls_carried.full += old->tls->full;
                u->tls_carried.resumed += old->tls->resumed;
                u->tls_carried.failed += old->tls->failed;
            }
            return;
        }
    }
}

/* The upstream named name in g, or NULL. */
static struct rbgw_upstream *
upstream_named(const struct rbgw_generation *g, const char *name)
{
    for (size_t i = 0; g && i < g->nupstreams; i++) {
        if (strcmp(g->upstreams[i]->name, name) == 0) {
            return g->upstreams[i];
        }
    }
    return NULL;
}

static void
counts_of(const struct rbgw_upstream *u, struct rbgw_upstream_counts *c)
{
    c->outcomes = u->outcomes;
    c->stats = u->stats;
    memset(&c->tls, 0, sizeof(c->tls));
    if (u->tls != NULL) {
        c->tls = *u->tls;
    }
}

/* Every field is a counter, so these add what was counted between then and now to to.  A
 * field added to one of the structs fails the assertions until it is added here too. */
_Static_assert(sizeof(struct rbgw_upstream_stats) ==
                   8 * sizeof(uint64_t) + sizeof(struct rbgw_hist),
               "stats_add_since: every field of rbgw_upstream_stats");
_Static_assert(sizeof(struct rbgw_tls_stats) == 3 * sizeof(uint64_t),
               "hand_over_late_counts: every field of rbgw_tls_stats");

#define ADD_SINCE(to, now, then, f) ((to)->f += (now)->f - (then)->f)

static void
stats_add_since(struct rbgw_upstream_stats *to, const struct rbgw_upstream_stats *now,
                const struct rbgw_upstream_stats *then)
{
    ADD_SINCE(to, now, then, said_false);
    ADD_SINCE(to, now, then, retries_member);
    ADD_SINCE(to, now, then, retries_conn);
    ADD_SINCE(to, now, then, ejections);
    ADD_SINCE(to, now, then, checks_ok);
    ADD_SINCE(to, now, then, checks_failed);
    ADD_SINCE(to, now, then, opens_ok);
    ADD_SINCE(to, now, then, opens_failed);
    for (size_t i = 0; i < RBGW_NELEM(to->latency.n); i++) {
        ADD_SINCE(to, now, then, latency.n[i]);
    }
    ADD_SINCE(to, now, then, latency.sum_ns);
}

/*
 * A reload committed generation g in place of prev: every upstream of prev whose name g gives
 * to a new upstream (which went on from its counters, upstream_carry_counters) keeps the
 * counters it handed over, so that what it counts after this can follow them.
 */
static void
note_handovers(const struct rbgw_generation *g, const struct rbgw_generation *prev)
{
    for (size_t i = 0; i < g->nupstreams; i++) {
        const struct rbgw_upstream *u = g->upstreams[i];
        struct rbgw_upstream *old = u->refs == 1 ? upstream_named(prev, u->name) : NULL;
        if (old == NULL || old == u) {
            continue; /* carried over as it is, or a name prev did not have */
        }
        if (old->handover == NULL) {
            old->handover = rbgw_xmalloc(sizeof(*old->handover));
        }
        counts_of(old, old->handover);
    }
}

/*
 * u is released (no generation lists it; every call dispatched to it is over): if a reload
 * gave its name to another upstream, what u counted since goes to the upstream of that name
 * in force now, so the name's series include the calls u finished after the reload.
 */
static void
hand_over_late_counts(struct rbgw_upstream *u)
{
    struct rbgw_gateway *gw = u->gw;
    struct rbgw_upstream *heir =
        u->handover != NULL && !gw->stopping ? upstream_named(gw->gen, u->name) : NULL;
    if (heir == NULL || heir == u) {
        return;
    }
    struct rbgw_upstream_counts now;
    counts_of(u, &now);
    const struct rbgw_upstream_counts *then = u->handover;
    for (size_t i = 0; i < RBGW_OUTCOME_COUNT; i++) {
        ADD_SINCE(&heir->outcomes, &now.outcomes, &then->outcomes, n[i]);
    }
    stats_add_since(&heir->stats, &now.stats, &then->stats);
    ADD_SINCE(&heir->tls_carried, &now.tls, &then->tls, full);
    ADD_SINCE(&heir->tls_carried, &now.tls, &then->tls, resumed);
    ADD_SINCE(&heir->tls_carried, &now.tls, &then->tls, failed);
    free(u->handover);
    u->handover = NULL;
}

/* ---- generations ---- */

void
rbgw__generation_ref(struct rbgw_generation *g)
{
    g->refs++;
}

void
rbgw__generation_unref(struct rbgw_generation *g)
{
    RBGW_ASSERT(g->refs > 0);
    if (--g->refs > 0) {
        return;
    }
    rbgw_list_push_back(&g->gw->dead_gens, &g->dead_link);
    schedule_reap(g->gw);
}

static void
gen_free(struct rbgw_generation *g)
{
    rbgw_log_debug("generation %llu freed", (unsigned long long)g->id);
    rbgw_fanout_free(g->fanout);
    for (size_t i = 0; i < g->nupstreams; i++) {
        upstream_unref(g->upstreams[i]);
    }
    free(g->upstreams);
    rbgw_config_free(&g->own_cfg);
    free(g);
}

/*
 * Build generation id from cfg (borrowed, or moved in from *own when own is not NULL: freed
 * on failure too): upstreams carried over from prev or created, then the routing.  On failure
 * err names the entry and everything made is released (new upstreams close on the loop).
 */
static int
gen_build(struct rbgw_gateway *gw, const struct rbgw_config *cfg, struct rbgw_config *own,
          const struct rbgw_generation *prev, uint64_t id, struct rbgw_generation **out, char *err,
          size_t errlen)
{
    struct rbgw_generation *g = rbgw_xcalloc(1, sizeof(*g));
    g->id = id;
    g->refs = 1;
    g->gw = gw;
    if (own) {
        g->own_cfg = *own;
        memset(own, 0, sizeof(*own));
        cfg = &g->own_cfg;
    }
    g->cfg = cfg;
    rbgw_list_init(&g->dead_link);
    g->upstreams = rbgw_xcalloc(cfg->nupstreams ? cfg->nupstreams : 1, sizeof(*g->upstreams));
    /* Transports read global settings (max-reply-size) through gw->cfg in create. */
    const struct rbgw_config *running = gw->cfg;
    gw->cfg = cfg;
    int rc = 0;
    for (size_t i = 0; i < cfg->nupstreams; i++) {
        const struct rbgw_endpoint_conf *ec = &cfg->upstreams[i];
        char *name = rbgw_config_upstream_name(cfg, i);
        struct rbgw_upstream *u = upstream_same(prev, name, ec, cfg->max_reply_size);
        if (u) {
            u->refs++;
            free(name);
        } else if ((rc = upstream_new(gw, ec, name, &u, err, errlen)) != 0) {
            break;
        } else {
            upstream_carry_counters(u, prev);
        }
        g->upstreams[g->nupstreams++] = u;
    }
    gw->cfg = running;
    if (rc == 0) {
        rc = rbgw_fanout_new(g, &g->fanout, err, errlen);
    }
    if (rc != 0) {
        rbgw__generation_unref(g);
        return rc;
    }
    *out = g;
    return 0;
}

/* ---- listeners ---- */

/* A listener for entry i of cfg (not started); NULL with err if its connector cannot listen. */
static struct rbgw_listener *
listener_new(struct rbgw_gateway *gw, const struct rbgw_config *cfg, size_t i, char *err,
             size_t errlen)
{
    const struct rbgw_endpoint_conf *ec = &cfg->listeners[i];
    const struct rbgw_listener_ops *ops = rbgw_listener_ops_for(ec->cs.transport);
    if (ops == NULL) {
        snprintf(err, errlen, "%s: listen %s: the %s connector is not available as a listener",
                 ec->origin, ec->text, rbgw_transport_name(ec->cs.transport));
        return NULL;
    }
    struct rbgw_listener *l = rbgw_xcalloc(1, sizeof(*l));
    l->ops = ops;
    l->gw = gw;
    rbgw_endpoint_conf_copy(&l->own_conf, ec);
    l->conf = &l->own_conf;
    l->name = rbgw_config_listener_name(cfg, i);
    rbgw_list_push_back(&gw->all_listeners, &l->link);
    return l;
}

static int
listener_start(struct rbgw_listener *l, char *err, size_t errlen)
{
    char e[256];
    int rc = l->ops->start(l, e, sizeof(e));
    if (rc != 0) {
        snprintf(err, errlen, "%s: listen %s: %s", l->conf->origin, l->conf->text, e);
    }
    return rc;
}

/* Close l's handles (once); its report (rbgw_gateway_listener_closed) may come at once. */
static void
listener_close(struct rbgw_listener *l)
{
    if (l->closing) {
        return;
    }
    l->closing = true;
    if (l->impl) {
        l->ops->close(l);
    } else {
        l->closed = true;
    }
}

static void
listener_free(struct rbgw_listener *l)
{
    rbgw_list_remove(&l->link);
    if (l->impl) {
        l->ops->destroy(l);
    }
    rbgw_endpoint_conf_free(&l->own_conf);
    free(l->name);
    free(l);
}

void
rbgw_gateway_listener_closed(struct rbgw_listener *l)
{
    l->closed = true;
    if (l->retiring) {
        schedule_reap(l->gw);
    }
}

void
rbgw__listener_request_freed(struct rbgw_listener *l)
{
    RBGW_ASSERT(l->inflight > 0);
    if (--l->inflight == 0 && l->retiring) {
        schedule_reap(l->gw);
    }
}

/* Out of the current set: stop taking calls now; the reaper closes it once it is idle. */
static void
listener_retire(struct rbgw_listener *l)
{
    l->retiring = true;
    if (l->impl && !l->closing) {
        l->ops->stop(l);
    }
    schedule_reap(l->gw);
}

/* ---- the reaper ---- */

static void
reap(struct rbgw_gateway *gw)
{
    while (!rbgw_list_empty(&gw->dead_gens)) {
        struct rbgw_generation *g =
            rbgw_list_entry(gw->dead_gens.next, struct rbgw_generation, dead_link);
        rbgw_list_remove(&g->dead_link);
        gen_free(g);
    }
    struct rbgw_list *n = gw->all_listeners.next;
    while (n != &gw->all_listeners) {
        struct rbgw_listener *l = rbgw_list_entry(n, struct rbgw_listener, link);
        n = n->next;
        if (!l->retiring) {
            continue;
        }
        if (!l->closing && l->inflight == 0) {
            rbgw_log_info("listener %s (removed by a reload) is idle: closing it", l->conf->text);
            listener_close(l);
        }
        if (l->closed) {
            listener_free(l);
        }
    }
    n = gw->all_upstreams.next;
    while (n != &gw->all_upstreams) {
        struct rbgw_upstream *u = rbgw_list_entry(n, struct rbgw_upstream, link);
        n = n->next;
        if (u->refs == 0 && u->open_parts == 0) {
            rbgw_ulog_debug(u, "closed");
            upstream_free(u);
        }
    }
}

/* ---- init ---- */

/* init failed after making things: release them now (handles close on one loop pass). */
static void
init_undo(struct rbgw_gateway *gw)
{
    gw->stopped = true; /* the reaper is not used: everything is freed below */
    if (gw->reaper_inited) {
        uv_close((uv_handle_t *)&gw->reaper, NULL);
        gw->reaper_inited = false;
    }
    rbgw__wbatch_close(&gw->wbatch);
    rbgw_dtimers_close(&gw->dtimers);
    if (gw->gen) {
        rbgw__generation_unref(gw->gen);
        gw->gen = NULL;
    }
    while (!rbgw_list_empty(&gw->all_listeners)) {
        listener_free(rbgw_list_entry(gw->all_listeners.next, struct rbgw_listener, link));
    }
    reap(gw);
    /* Timers of the upstreams made (and the reaper) finish closing on one loop pass. */
    uv_run(gw->loop, UV_RUN_NOWAIT);
    reap(gw);
    free(gw->listeners);
    gw->listeners = NULL;
    gw->nlisteners = 0;
    rbgw_cache_free(gw->cache);
    gw->cache = NULL;
    rbgw__wbatch_close(&gw->wbatch);
    rbgw_dtimers_close(&gw->dtimers);
    rbgw__wbatch_free(&gw->wbatch);
    rbgw_dtimers_free(&gw->dtimers);
}

int
rbgw_gateway_init(struct rbgw_gateway *gw, uv_loop_t *loop, const struct rbgw_config *cfg,
                  char *err, size_t errlen)
{
    return rbgw_gateway_init_with(gw, loop, cfg, NULL, err, errlen);
}

int
rbgw_gateway_init_with(struct rbgw_gateway *gw, uv_loop_t *loop, const struct rbgw_config *cfg,
                       const struct rbgw_upstream_ops *ops, char *err, size_t errlen)
{
    memset(gw, 0, sizeof(*gw));
    gw->loop = loop;
    gw->cfg = cfg;
    gw->force_ops = ops;
    gw->start_time = (uint64_t)time(NULL);
    gw->reserve_fd = -1;
    rbgw_dtimers_init(&gw->dtimers, loop);
    rbgw_list_init(&gw->all_listeners);
    rbgw_list_init(&gw->all_upstreams);
    rbgw_list_init(&gw->dead_gens);
    rbgw_fanout_budget_init(gw);
    gw->cache = rbgw__cache_new(cfg);
    int rc = gen_build(gw, cfg, NULL, NULL, 1, &gw->gen, err, errlen);
    if (rc != 0) {
        init_undo(gw);
        return rc;
    }
    gw->generation = 1;
    gw->listeners = rbgw_xcalloc(cfg->nlisteners ? cfg->nlisteners : 1, sizeof(*gw->listeners));
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        struct rbgw_listener *l = listener_new(gw, cfg, i, err, errlen);
        if (l == NULL) {
            init_undo(gw);
            return RBGW_ENOTSUP;
        }
        gw->listeners[gw->nlisteners++] = l;
    }
    return 0;
}

void
rbgw_gateway_set_loader(struct rbgw_gateway *gw, rbgw_config_loader load, void *ctx)
{
    gw->load = load;
    gw->load_ctx = ctx;
}

size_t
rbgw_gateway_nlisteners(const struct rbgw_gateway *gw)
{
    return gw->nlisteners;
}

struct rbgw_listener *
rbgw_gateway_listener(const struct rbgw_gateway *gw, size_t i)
{
    RBGW_ASSERT(i < gw->nlisteners);
    return gw->listeners[i];
}

size_t
rbgw_gateway_nupstreams(const struct rbgw_gateway *gw)
{
    return gw->gen ? gw->gen->nupstreams : 0;
}

struct rbgw_upstream *
rbgw_gateway_upstream(const struct rbgw_gateway *gw, size_t i)
{
    RBGW_ASSERT(gw->gen && i < gw->gen->nupstreams);
    return gw->gen->upstreams[i];
}

bool
rbgw_listener_is_open(const struct rbgw_listener *l)
{
    return l->impl != NULL && !l->done && !l->retiring && !l->closing && !l->gw->stopping;
}

/* ---- reload ---- */

static void
log_warning(void *ctx, const char *text)
{
    RBGW_UNUSED(ctx);
    rbgw_log_warn("%s", text);
}

/* Settings of the whole process that a new generation brings: applied at commit. */
static void
apply_settings(struct rbgw_gateway *gw, const struct rbgw_config *old)
{
    const struct rbgw_config *cfg = gw->cfg;
    rbgw_log_set_level(gw->debug_toggled ? RBGW_LOG_DEBUG : cfg->log_level);
    rbgw_log_set_format(cfg->log_format);
    rbgw_log_set_access(cfg->access_log);
    /* What is cached may come from upstreams or routes this reload changed. */
    rbgw__cache_configure(gw->cache, cfg);
    if (cfg->max_request_size != old->max_request_size) {
        rbgw_log_warn("reload: max-request-size=%zu applies to pdns connections opened from now "
                      "on; open ones (and the pipe and zeromq listeners, until a restart) keep "
                      "%zu",
                      cfg->max_request_size, old->max_request_size);
    }
    if (cfg->max_reply_size != old->max_reply_size) {
        rbgw_log_warn("reload: max-reply-size=%zu (was %zu): every upstream is a new one, with "
                      "new connections and fresh health",
                      cfg->max_reply_size, old->max_reply_size);
    }
    if (cfg->max_inflight != old->max_inflight) {
        rbgw_log_info("reload: max-inflight=%u (was %u)", cfg->max_inflight, old->max_inflight);
    }
    rbgw_config_warnings(cfg, log_warning, NULL);
}

/* Index of the listener among old[0..n) that entry ec keeps (same text, not taken), or n. */
static size_t
listener_kept(struct rbgw_listener *const *old, size_t n, const bool *taken,
              const struct rbgw_endpoint_conf *ec)
{
    for (size_t j = 0; j < n; j++) {
        if (!taken[j] && strcmp(old[j]->conf->raw, ec->raw) == 0) {
            return j;
        }
    }
    return n;
}

/*
 * Phase 1 for the listeners: next[i] is the listener for new entry i, kept or new (new ones
 * started if the gateway runs); taken[j] says which old ones are kept.  On failure the new
 * ones made are retired (closed, then freed by the reaper) and err says why.
 */
static int
plan_listeners(struct rbgw_gateway *gw, const struct rbgw_config *cfg, struct rbgw_listener **next,
               bool *taken, char *err, size_t errlen)
{
    const char *where = cfg->config_file ? cfg->config_file : "reload";
    size_t nold = gw->nlisteners;
    int rc = 0;
    size_t i;
    for (i = 0; i < cfg->nlisteners; i++) {
        size_t j = listener_kept(gw->listeners, nold, taken, &cfg->listeners[i]);
        if (j < nold) {
            taken[j] = true;
            next[i] = gw->listeners[j];
        }
    }
    for (size_t j = 0; j < nold; j++) {
        if (!taken[j] && gw->listeners[j]->ops->fixed) {
            snprintf(err, errlen,
                     "%s: listen %s cannot be removed by a reload: stdin and stdout belong to "
                     "pdns (restart rbgw to change it)",
                     where, gw->listeners[j]->conf->text);
            return RBGW_ECONFIG;
        }
    }
    for (i = 0; i < cfg->nlisteners && rc == 0; i++) {
        const struct rbgw_endpoint_conf *ec = &cfg->listeners[i];
        if (next[i]) {
            continue;
        }
        const char *addr = rbgw_listener_address(ec);
        for (size_t j = 0; j < nold && addr; j++) {
            const struct rbgw_endpoint_conf *oc = gw->listeners[j]->conf;
            const char *oaddr = rbgw_listener_address(oc);
            if (!taken[j] && oc->cs.transport == ec->cs.transport && oaddr &&
                strcmp(oaddr, addr) == 0) {
                snprintf(err, errlen,
                         "%s: listen %s: its address is held by listen %s, which this reload "
                         "removes: a listener's options cannot change while it runs (remove it "
                         "in one reload and add it in the next, or restart rbgw)",
                         ec->origin, ec->text, oc->text);
                rc = RBGW_ECONFIG;
                break;
            }
        }
        if (rc != 0) {
            break;
        }
        struct rbgw_listener *l = listener_new(gw, cfg, i, err, errlen);
        if (l == NULL) {
            rc = RBGW_ENOTSUP;
            break;
        }
        next[i] = l;
        l->retiring = true; /* until the commit: an undo frees it like a removed one */
        if (l->ops->fixed) {
            snprintf(err, errlen,
                     "%s: listen %s cannot be added by a reload: stdin and stdout belong to "
                     "pdns (restart rbgw to use it)",
                     ec->origin, ec->text);
            rc = RBGW_ECONFIG;
            break;
        }
        if (gw->started) {
            rc = listener_start(l, err, errlen);
        }
    }
    if (rc != 0) {
        for (size_t k = 0; k < cfg->nlisteners; k++) {
            if (next[k] && next[k]->retiring) {
                listener_close(next[k]);
            }
        }
        schedule_reap(gw);
    }
    return rc;
}

static int
reload(struct rbgw_gateway *gw, char *err, size_t errlen)
{
    if (gw->stopping) {
        snprintf(err, errlen, "rbgw is stopping");
        return RBGW_ESHUTDOWN;
    }
    if (gw->load == NULL) {
        snprintf(err, errlen, "this gateway has no configuration source to reload from");
        return RBGW_ENOTSUP;
    }
    struct rbgw_config cfg;
    int rc = gw->load(gw->load_ctx, &cfg, err, errlen);
    if (rc != 0) {
        return rc;
    }
    struct rbgw_generation *old = gw->gen;
    struct rbgw_generation *g;
    rc = gen_build(gw, NULL, &cfg, old, old->id + 1, &g, err, errlen);
    if (rc != 0) {
        return rc;
    }
    size_t n = g->cfg->nlisteners;
    struct rbgw_listener **next = rbgw_xcalloc(n ? n : 1, sizeof(*next));
    bool *taken = rbgw_xcalloc(gw->nlisteners ? gw->nlisteners : 1, sizeof(*taken));
    rc = plan_listeners(gw, g->cfg, next, taken, err, errlen);
    if (rc != 0) {
        free(next);
        free(taken);
        rbgw__generation_unref(g);
        return rc;
    }

    /* Commit: nothing below can fail. */
    size_t lkept = 0, lremoved = 0, ukept = 0;
    for (size_t j = 0; j < gw->nlisteners; j++) {
        if (taken[j]) {
            lkept++;
        } else {
            lremoved++;
            listener_retire(gw->listeners[j]);
        }
    }
    for (size_t i = 0; i < n; i++) {
        next[i]->retiring = false;
    }
    for (size_t i = 0; i < g->nupstreams; i++) {
        ukept += g->upstreams[i]->refs > 1; /* listed by the old generation too */
    }
    free(taken);
    free(gw->listeners);
    gw->listeners = next;
    gw->nlisteners = n;
    note_handovers(g, old);
    gw->gen = g;
    gw->cfg = g->cfg;
    gw->generation = g->id;
    apply_settings(gw, old->cfg);
    rbgw_log_info("reload: generation %llu in force: listeners %zu kept, %zu added, %zu removed; "
                  "upstreams %zu kept, %zu new, %zu no longer used",
                  (unsigned long long)g->id, lkept, n - lkept, lremoved, ukept,
                  g->nupstreams - ukept, old->nupstreams - ukept);
    rbgw__generation_unref(old);
    return 0;
}

int
rbgw_gateway_reload(struct rbgw_gateway *gw, char *err, size_t errlen)
{
    char why[RBGW_RELOAD_ERR_MAX] = "";
    int rc = reload(gw, why, sizeof(why));
    if (rc == 0) {
        gw->reloads_ok++;
        return 0;
    }
    gw->reloads_failed++;
    snprintf(gw->reload_error, sizeof(gw->reload_error), "%s", why);
    rbgw_log_err("reload refused, generation %llu stays in force: %s",
                 (unsigned long long)gw->generation, why);
    snprintf(err, errlen, "%s", why);
    return rc;
}

/* ---- signals and status ---- */

void
rbgw_gateway_log_status(struct rbgw_gateway *gw)
{
    size_t ejected = 0, nups = 0, lretiring = 0;
    for (size_t i = 0; i < rbgw_gateway_nupstreams(gw); i++) {
        ejected += !rbgw_fanout_member_healthy(rbgw_gateway_upstream(gw, i));
    }
    for (struct rbgw_list *n = gw->all_upstreams.next; n != &gw->all_upstreams; n = n->next) {
        nups++;
    }
    for (struct rbgw_list *n = gw->all_listeners.next; n != &gw->all_listeners; n = n->next) {
        lretiring += rbgw_list_entry(n, struct rbgw_listener, link)->retiring;
    }
    rbgw_log_warn("status: generation %llu (%llu reload(s) done, %llu refused%s%s); %zu "
                  "listener(s), %zu upstream(s), %zu ejected; %llu call(s) in flight, %llu "
                  "session(s); closing: %zu listener(s), %zu upstream(s)%s",
                  (unsigned long long)gw->generation, (unsigned long long)gw->reloads_ok,
                  (unsigned long long)gw->reloads_failed, gw->reload_error[0] ? ", last: " : "",
                  gw->reload_error, gw->nlisteners, rbgw_gateway_nupstreams(gw), ejected,
                  (unsigned long long)gw->inflight, (unsigned long long)gw->nsessions, lretiring,
                  nups - rbgw_gateway_nupstreams(gw), gw->stopping ? "; draining" : "");
    rbgw__cache_log_status(gw->cache);
}

static void
toggle_debug(struct rbgw_gateway *gw)
{
    const char *level = rbgw_log_level_name(gw->cfg->log_level);
    gw->debug_toggled = !gw->debug_toggled;
    if (gw->debug_toggled) {
        rbgw_log_set_level(RBGW_LOG_DEBUG);
        rbgw_log_warn("received SIGUSR2: debug logging on (SIGUSR2 again returns to "
                      "log-level=%s)",
                      level);
    } else {
        rbgw_log_warn("received SIGUSR2: debug logging off, back to log-level=%s", level);
        rbgw_log_set_level(gw->cfg->log_level);
    }
}

static void
on_signal(uv_signal_t *h, int signum)
{
    struct rbgw_gateway *gw = h->data;
    const char *name = "?";
    for (size_t i = 0; i < RBGW_NELEM(handled); i++) {
        if (handled[i].signum == signum) {
            name = handled[i].name;
        }
    }
    char err[RBGW_RELOAD_ERR_MAX];
    switch (signum) {
    case SIGHUP:
        if (gw->stopping) {
            rbgw_log_warn("received SIGHUP while stopping: not reloading");
            return;
        }
        rbgw_log_info("received SIGHUP: reloading the configuration");
        /* Either way it is logged, counted and kept for the status by rbgw_gateway_reload. */
        rbgw_gateway_reload(gw, err, sizeof(err));
        return;
    case SIGUSR1:
        rbgw_gateway_log_status(gw);
        return;
    case SIGUSR2:
        toggle_debug(gw);
        return;
    default:
        break;
    }
    if (gw->stop_signals++ > 0) {
        rbgw_log_warn("received %s while draining: exiting at once with status %d, %llu "
                      "call(s) unanswered",
                      name, EXIT_AT_ONCE, (unsigned long long)gw->inflight);
        _exit(EXIT_AT_ONCE);
    }
    rbgw_log_info("received %s: draining: %llu call(s) in flight, answered within %u ms (a "
                  "second stop signal exits at once)",
                  name, (unsigned long long)gw->inflight, gw->cfg->deadline_ms + DRAIN_GRACE_MS);
    rbgw_gateway_stop(gw);
}

int
rbgw_gateway_start(struct rbgw_gateway *gw, char *err, size_t errlen)
{
    for (size_t i = 0; i < RBGW_NELEM(handled); i++) {
        uv_signal_init(gw->loop, &gw->sig[i]);
        gw->sig[i].data = gw;
        uv_signal_start(&gw->sig[i], on_signal, handled[i].signum);
        uv_unref((uv_handle_t *)&gw->sig[i]);
    }
    gw->sig_inited = true;
    gw->started = true;
    rbgw__admit_reserve_open(gw);
    for (size_t i = 0; i < gw->nlisteners; i++) {
        int rc = listener_start(gw->listeners[i], err, errlen);
        if (rc != 0) {
            gw->exit_code = 1;
            rbgw_gateway_stop(gw);
            return rc;
        }
    }
    if (gw->cfg->admin.text) {
        /* The admin endpoint is the process's, not a generation's: a reload keeps it. */
        char e[256];
        int rc = rbgw_admin_start(gw, &gw->cfg->admin, &gw->admin, e, sizeof(e));
        if (rc != 0) {
            snprintf(err, errlen, "%s: admin %s: %s", gw->cfg->admin.origin, gw->cfg->admin.text,
                     e);
            gw->exit_code = 1;
            rbgw_gateway_stop(gw);
            return rc;
        }
    }
    return 0;
}

/* ---- stop ---- */

static void
close_all(struct rbgw_gateway *gw)
{
    if (gw->stopped) {
        return;
    }
    gw->stopped = true;
    rbgw_admin_close(gw->admin);
    for (struct rbgw_list *n = gw->all_listeners.next; n != &gw->all_listeners; n = n->next) {
        listener_close(rbgw_list_entry(n, struct rbgw_listener, link));
    }
    for (struct rbgw_list *n = gw->all_upstreams.next; n != &gw->all_upstreams; n = n->next) {
        upstream_stop(rbgw_list_entry(n, struct rbgw_upstream, link));
    }
    if (gw->sig_inited) {
        for (size_t i = 0; i < RBGW_NELEM(handled); i++) {
            uv_close((uv_handle_t *)&gw->sig[i], NULL);
        }
        gw->sig_inited = false;
    }
    if (gw->drain_inited) {
        uv_close((uv_handle_t *)&gw->drain, NULL);
        gw->drain_inited = false;
    }
    if (gw->reaper_inited) {
        uv_close((uv_handle_t *)&gw->reaper, NULL);
        gw->reaper_inited = false;
    }
    rbgw__wbatch_close(&gw->wbatch);
    rbgw_dtimers_close(&gw->dtimers);
}

static void
on_drain_timeout(uv_timer_t *t)
{
    struct rbgw_gateway *gw = t->data;
    rbgw_log_warn("drain: %llu call(s) still unanswered after %u ms: failing them as shutting "
                  "down and closing",
                  (unsigned long long)gw->inflight, gw->cfg->deadline_ms + DRAIN_GRACE_MS);
    /* A call still upstream is answered false now; an answer pdns is not reading is dropped
     * when its connection closes. */
    for (struct rbgw_list *n = gw->all_upstreams.next; n != &gw->all_upstreams; n = n->next) {
        rbgw_connpool_stop(rbgw_list_entry(n, struct rbgw_upstream, link)->cp);
    }
    close_all(gw);
}

void
rbgw_gateway_stop(struct rbgw_gateway *gw)
{
    if (!gw->stopping) {
        gw->stopping = true;
        /* Listeners stop reading now; their in-flight requests still get written. */
        for (struct rbgw_list *n = gw->all_listeners.next; n != &gw->all_listeners; n = n->next) {
            struct rbgw_listener *l = rbgw_list_entry(n, struct rbgw_listener, link);
            if (l->impl && !l->closing) {
                l->ops->stop(l);
            }
        }
        if (!gw->stopped && gw->inflight > 0) {
            uv_timer_init(gw->loop, &gw->drain);
            gw->drain.data = gw;
            gw->drain_inited = true;
            uv_timer_start(&gw->drain, on_drain_timeout, gw->cfg->deadline_ms + DRAIN_GRACE_MS, 0);
        }
    }
    if (gw->inflight == 0) {
        close_all(gw);
    }
}

void
rbgw_gateway_listener_done(struct rbgw_listener *l)
{
    struct rbgw_gateway *gw = l->gw;
    l->done = true;
    if (l->retiring) {
        return;
    }
    for (size_t i = 0; i < gw->nlisteners; i++) {
        if (!gw->listeners[i]->done) {
            return;
        }
    }
    rbgw_log_debug("all listeners finished, stopping");
    rbgw_gateway_stop(gw);
}

void
rbgw_gateway_deinit(struct rbgw_gateway *gw)
{
    while (gw->spare) {
        struct rbgw_request *req = gw->spare;
        gw->spare = req->next_spare;
        rbgw_arena_free(&req->arena);
        free(req);
    }
    gw->nspare = 0;
    rbgw_admin_free(gw->admin);
    gw->admin = NULL;
    rbgw__admit_reserve_close(gw);
    if (gw->nsessions > 0) {
        /* A session ending now would drop its transactions through freed fan-out state. */
        rbgw_log_err("bug: %llu session(s) still open at exit", (unsigned long long)gw->nsessions);
    }
    gw->stopped = true;
    if (gw->gen) {
        rbgw__generation_unref(gw->gen);
        gw->gen = NULL;
    }
    reap(gw);
    while (!rbgw_list_empty(&gw->all_listeners)) {
        struct rbgw_listener *l =
            rbgw_list_entry(gw->all_listeners.next, struct rbgw_listener, link);
        if (l->impl && !l->closed) {
            rbgw_log_err("bug: listener %s freed with its handles open", l->conf->text);
        }
        listener_free(l);
    }
    if (!rbgw_list_empty(&gw->all_upstreams)) {
        rbgw_log_err("bug: upstream(s) still in use at exit");
    }
    free(gw->listeners);
    gw->listeners = NULL;
    gw->nlisteners = 0;
    rbgw_cache_free(gw->cache);
    gw->cache = NULL;
    rbgw__wbatch_close(&gw->wbatch);
    rbgw_dtimers_close(&gw->dtimers);
    rbgw__wbatch_free(&gw->wbatch);
    rbgw_dtimers_free(&gw->dtimers);
}

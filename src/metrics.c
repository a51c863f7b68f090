/*
 * metrics.c: renders what the objects count (metrics.h) for the admin endpoint: Prometheus
 * text exposition format 0.0.4 for GET /metrics, JSON for GET /status, and the readiness rule
 * of GET /readyz.
 *
 *   gateway ─(rbgw_gateway_listener/upstream: the configuration in force)─> listeners[],
 * upstreams[] listener.stats, upstream.outcomes/.stats        counters, read as they are
 *   upstream.cp (connpool.h)                        conns by list, queue: walked on scrape
 *   fan-out (rbgw_fanout_member_state, _router)     health, legs in flight, pools, routes
 *
 * Everything here runs on scrape only: the hot path never formats, sorts or allocates for
 * metrics.  Every family of RBGW_METRIC_FAMILIES gets its # HELP and # TYPE line even when it
 * has no sample yet, and every label combination that can occur is written from the start
 * (zeros included), so that rate() and absent() work from the first scrape.  Label values are
 * escaped as the format requires (backslash, double quote, newline).
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <unistd.h>

#include "rbgw/admin.h"
#include "rbgw/cache.h"
#include "rbgw/connpool.h"
#include "rbgw/fanout.h"
#include "rbgw/gateway.h"
#include "rbgw/json.h"
#include "rbgw/metrics.h"
#include "rbgw/tls.h"

const uint64_t rbgw_hist_bounds_ns[RBGW_HIST_NBOUNDS] = {
#define RBGW_X(us, text) (uint64_t)(us) * 1000u,
    RBGW_HIST_BUCKETS(RBGW_X)
#undef RBGW_X
};

const char *const rbgw_hist_bounds_text[RBGW_HIST_NBOUNDS] = {
#define RBGW_X(us, text) text,
    RBGW_HIST_BUCKETS(RBGW_X)
#undef RBGW_X
};

const char *const rbgw_metric_names[RBGW_MF_COUNT] = {
#define RBGW_X(id, name, type, help) [RBGW_MF_##id] = name,
    RBGW_METRIC_FAMILIES(RBGW_X)
#undef RBGW_X
};

const char *const rbgw_metric_types[RBGW_MF_COUNT] = {
#define RBGW_X(id, name, type, help) [RBGW_MF_##id] = type,
    RBGW_METRIC_FAMILIES(RBGW_X)
#undef RBGW_X
};

static const char *const family_help[RBGW_MF_COUNT] = {
#define RBGW_X(id, name, type, help) [RBGW_MF_##id] = help,
    RBGW_METRIC_FAMILIES(RBGW_X)
#undef RBGW_X
};

const uint8_t rbgw_metric_method_of_row[RBGW_M__COUNT] = {
#define RBGW_X(id, label) [RBGW_M_##id] = RBGW_MM_##id,
    RBGW_METRIC_METHODS(RBGW_X)
#undef RBGW_X
};

const char *
rbgw_metric_method_name(enum rbgw_metric_method mm)
{
    static const char *const names[RBGW_MM_COUNT] = {
#define RBGW_X(id, label) [RBGW_MM_##id] = label,
        RBGW_METRIC_METHODS(RBGW_X)
#undef RBGW_X
            [RBGW_MM_OTHER] = "other",
    };
    return (unsigned)mm < RBGW_MM_COUNT ? names[mm] : "other";
}

const char *
rbgw_limit_name(enum rbgw_limit l)
{
    static const char *const names[RBGW_LIMIT_COUNT] = {
#define RBGW_X(id, label) [RBGW_LIMIT_##id] = label,
        RBGW_LIMITS(RBGW_X)
#undef RBGW_X
    };
    return (unsigned)l < RBGW_LIMIT_COUNT ? names[l] : "unknown";
}

/* ---- text format ---- */

struct lbl {
    const char *k; /* label name */
    const char *v; /* value, unescaped */
};

static void
family(struct rbgw_buf *b, enum rbgw_metric_family f)
{
    rbgw_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", rbgw_metric_names[f], family_help[f],
                    rbgw_metric_names[f], rbgw_metric_types[f]);
}

static void
put_label_value(struct rbgw_buf *b, const char *v)
{
    for (; *v; v++) {
        switch (*v) {
        case '\\':
            rbgw_buf_append(b, "\\\\", 2);
            break;
        case '"':
            rbgw_buf_append(b, "\\\"", 2);
            break;
        case '\n':
            rbgw_buf_append(b, "\\n", 2);
            break;
        default:
            rbgw_buf_putc(b, *v);
        }
    }
}

/* name[suffix]{labels} then the value text and a newline. */
static void
sample_text(struct rbgw_buf *b, enum rbgw_metric_family f, const char *suffix, const struct lbl *l,
            size_t n, const char *value)
{
    rbgw_buf_append_cstr(b, rbgw_metric_names[f]);
    rbgw_buf_append_cstr(b, suffix);
    for (size_t i = 0; i < n; i++) {
        rbgw_buf_append_cstr(b, i == 0 ? "{" : ",");
        rbgw_buf_append_cstr(b, l[i].k);
        rbgw_buf_append(b, "=\"", 2);
        put_label_value(b, l[i].v);
        rbgw_buf_putc(b, '"');
    }
    if (n > 0) {
        rbgw_buf_putc(b, '}');
    }
    rbgw_buf_putc(b, ' ');
    rbgw_buf_append_cstr(b, value);
    rbgw_buf_putc(b, '\n');
}

static void
sample_u64(struct rbgw_buf *b, enum rbgw_metric_family f, const struct lbl *l, size_t n, uint64_t v)
{
    char text[24];
    snprintf(text, sizeof(text), "%llu", (unsigned long long)v);
    sample_text(b, f, "", l, n, text);
}

static void
sample_double(struct rbgw_buf *b, enum rbgw_metric_family f, const struct lbl *l, size_t n,
              double v)
{
    char text[32];
    snprintf(text, sizeof(text), "%.6f", v);
    sample_text(b, f, "", l, n, text);
}

/* Nanoseconds as seconds, exactly ("12.000345678"). */
static void
ns_text(char *text, size_t len, uint64_t ns)
{
    snprintf(text, len, "%llu.%09llu", (unsigned long long)(ns / 1000000000u),
             (unsigned long long)(ns % 1000000000u));
}

/* One histogram's series: the buckets (cumulative, le ascending, +Inf), _sum, _count. */
static void
histogram(struct rbgw_buf *b, enum rbgw_metric_family f, struct lbl key, const struct rbgw_hist *h)
{
    struct lbl l[2] = {key, {"le", NULL}};
    uint64_t cum = 0;
    char text[32];
    for (unsigned i = 0; i <= RBGW_HIST_NBOUNDS; i++) {
        cum += h->n[i];
        l[1].v = i < RBGW_HIST_NBOUNDS ? rbgw_hist_bounds_text[i] : "+Inf";
        snprintf(text, sizeof(text), "%llu", (unsigned long long)cum);
        sample_text(b, f, "_bucket", l, 2, text);
    }
    ns_text(text, sizeof(text), h->sum_ns);
    sample_text(b, f, "_sum", l, 1, text);
    snprintf(text, sizeof(text), "%llu", (unsigned long long)cum);
    sample_text(b, f, "_count", l, 1, text);
}

static const char *const class_names[2] = {
    [RBGW_CLASS_READ] = "read",
    [RBGW_CLASS_WRITE] = "write",
};

/* Conns of a pool by state: opening, busy, idle, pinned. */
static void
conn_counts(const struct rbgw_connpool *p, uint64_t out[4])
{
    memset(out, 0, 4 * sizeof(out[0]));
    for (const struct rbgw_list *n = p->busy.next; n != &p->busy; n = n->next) {
        const struct rbgw_upconn *c = rbgw_list_entry(n, struct rbgw_upconn, link);
        out[c->state == RBGW_UPCONN_OPENING ? 0 : 1]++;
    }
    for (const struct rbgw_list *n = p->idle.next; n != &p->idle; n = n->next) {
        out[2]++;
    }
    for (const struct rbgw_list *n = p->pinned.next; n != &p->pinned; n = n->next) {
        out[3]++;
    }
}

static const char *const conn_state_names[4] = {"opening", "busy", "idle", "pinned"};

/* Resident memory from /proc/self/statm (a procfs read: no disk, never blocks). */
static bool
resident_bytes(uint64_t *out)
{
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    char text[128];
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n <= 0) {
        return false;
    }
    text[n] = '\0';
    unsigned long long size, resident;
    if (sscanf(text, "%llu %llu", &size, &resident) != 2) {
        return false;
    }
    *out = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
    return true;
}

static void
render_process(struct rbgw_gateway *gw, struct rbgw_buf *b)
{
    family(b, RBGW_MF_BUILD_INFO);
    struct lbl v[2] = {{"version", RBGW_VERSION}, {"libuv", uv_version_string()}};
    sample_u64(b, RBGW_MF_BUILD_INFO, v, 2, 1);
    family(b, RBGW_MF_START_TIME);
    sample_u64(b, RBGW_MF_START_TIME, NULL, 0, gw->start_time);
    family(b, RBGW_MF_CPU);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        sample_double(b, RBGW_MF_CPU, NULL, 0, cpu);
    }
    family(b, RBGW_MF_RSS);
    uint64_t rss;
    if (resident_bytes(&rss)) {
        sample_u64(b, RBGW_MF_RSS, NULL, 0, rss);
    }
    family(b, RBGW_MF_GENERATION);
    sample_u64(b, RBGW_MF_GENERATION, NULL, 0, gw->generation);
    family(b, RBGW_MF_RELOADS);
    struct lbl r = {"result", "ok"};
    sample_u64(b, RBGW_MF_RELOADS, &r, 1, gw->reloads_ok);
    r.v = "failed";
    sample_u64(b, RBGW_MF_RELOADS, &r, 1, gw->reloads_failed);
    family(b, RBGW_MF_INFLIGHT);
    sample_u64(b, RBGW_MF_INFLIGHT, NULL, 0, gw->inflight);
}

static void
render_listeners(struct rbgw_gateway *gw, struct rbgw_buf *b)
{
    size_t n = rbgw_gateway_nlisteners(gw);
    family(b, RBGW_MF_CALLS);
    for (size_t i = 0; i < n; i++) {
        const struct rbgw_listener *l = rbgw_gateway_listener(gw, i);
        for (int cls = 0; cls < 2; cls++) {
            for (int a = 0; a < RBGW_ANSWER_COUNT; a++) {
                struct lbl ls[3] = {{"listener", l->name},
                                    {"class", class_names[cls]},
                                    {"outcome", rbgw_answer_name((enum rbgw_answer)a)}};
                sample_u64(b, RBGW_MF_CALLS, ls, 3, l->stats.calls[cls][a]);
            }
        }
    }
    family(b, RBGW_MF_CALLS_METHOD);
    for (size_t i = 0; i < n; i++) {
        const struct rbgw_listener *l = rbgw_gateway_listener(gw, i);
        for (int m = 0; m < RBGW_MM_COUNT; m++) {
            struct lbl ls[2] = {{"listener", l->name},
                                {"method", rbgw_metric_method_name((enum rbgw_metric_method)m)}};
            sample_u64(b, RBGW_MF_CALLS_METHOD, ls, 2, l->stats.methods[m]);
        }
    }
    family(b, RBGW_MF_CALL_DURATION);
    for (size_t i = 0; i < n; i++) {
        const struct rbgw_listener *l = rbgw_gateway_listener(gw, i);
        histogram(b, RBGW_MF_CALL_DURATION, (struct lbl){"listener", l->name}, &l->stats.latency);
    }
    family(b, RBGW_MF_LISTENER_UP);
    for (size_t i = 0; i < n; i++) {
        const struct rbgw_listener *l = rbgw_gateway_listener(gw, i);
        struct lbl ls = {"listener", l->name};
        sample_u64(b, RBGW_MF_LISTENER_UP, &ls, 1, rbgw_listener_is_open(l) ? 1 : 0);
    }
    family(b, RBGW_MF_SESSIONS);
    for (size_t i = 0; i < n; i++) {
        const struct rbgw_listener *l = rbgw_gateway_listener(gw, i);
        struct lbl ls = {"listener", l->name};
        sample_u64(b, RBGW_MF_SESSIONS, &ls, 1, l->stats.sessions_open);
    }
    family(b, RBGW_MF_SESSIONS_TOTAL);
    for (size_t i = 0; i < n; i++) {
        const struct rbgw_listener *l = rbgw_gateway_listener(gw, i);
        struct lbl ls = {"listener", l->name};
        sample_u64(b, RBGW_MF_SESSIONS_TOTAL, &ls, 1, l->stats.sessions_total);
    }
}

/* Upstream i's health and legs in flight (all healthy, none in flight without fan-out). */
static void
member_state(struct rbgw_gateway *gw, size_t i, struct rbgw_member_view *ms)
{
    memset(ms, 0, sizeof(*ms));
    ms->healthy = true;
    const struct rbgw_upstream *u = rbgw_gateway_upstream(gw, i);
    if (u->member) {
        rbgw_fanout_member_state(u, ms);
    }
}

/* The routing (pools, routes) of the generation in force, or NULL. */
static const struct rbgw_router_conf *
routing(const struct rbgw_gateway *gw)
{
    return gw->gen && gw->gen->fanout ? rbgw_fanout_router(gw->gen->fanout) : NULL;
}

static void
render_upstreams(struct rbgw_gateway *gw, struct rbgw_buf *b)
{
    size_t n = rbgw_gateway_nupstreams(gw);
    family(b, RBGW_MF_UP_CALLS);
    for (size_t i = 0; i < n; i++) {
        const struct rbgw_upstream *u = rbgw_gateway_upstream(gw, i);
        struct lbl ls[2] = {{"upstream", u->name}, {"outcome", "ok"}};
        /* outcomes' ok holds every reply; those saying false are shown apart */
        sample_u64(b, RBGW_MF_UP_CALLS, ls, 2,
                   u->outcomes.n[RBGW_OUTCOME_OK] - u->stats.said_false);
        ls[1].v = "false";
        sample_u64(b, RBGW_MF_UP_CALLS, ls, 2, u->stats.said_false);
        for (int o = 1; o < RBGW_OUTCOME_COUNT; o++) {
            ls[1].v = rbgw_outcome_name((enum rbgw_outcome)o);
            sample_u64(b, RBGW_MF_UP_CALLS, ls, 2, u->outcomes.n[o]);
        }
    }
    family(b, RBGW_MF_UP_DURATION);
    for (size_t i = 0; i < n; i++) {
        const struct rbgw_upstream *u = rbgw_gateway_upstream(gw, i);
        histogram(b, RBGW_MF_UP_DURATION, (struct lbl){"upstream", u->name}, &u->stats.latency);
    }
    family(b, RBGW_MF_UP_RETRIES);
    for (size_t i = 0; i < n; i++) {
        const struct rbgw_upstream *u = rbgw_gateway_upstream(gw, i);
        struct lbl ls[2] = {{"upstream", u->name}, {"kind", "member"}};
        sample_u64(b, RBGW_MF_UP_RETRIES, ls, 2, u->stats.retries_member);
        ls[1].v = "connection";
        sample_u64(b, RBGW_MF_UP_RETRIES, ls, 2, u->stats.retries_conn);
    }
    family(b, RBGW_MF_UP_INFLIGHT);
    for (size_t i = 0; i < n; i++) {
        struct rbgw_member_view ms;
        member_state(gw, i, &ms);
        struct lbl ls = {"upstream", rbgw_gateway_upstream(gw, i)->name};
        sample_u64(b, RBGW_MF_UP_INFLIGHT, &ls, 1, ms.outstanding);
    }
    family(b, RBGW_MF_UP_CONNS);
    for (size_t i = 0; i < n; i++) {
        const struct rbgw_upstream *u = rbgw_gateway_upstream(gw, i);
        uint64_t counts[4];
        conn_counts(u->cp, counts);
        for (int k = 0; k < 4; k++) {
            struct lbl ls[2] = {{"upstream", u->name}, {"state", conn_state_names[k]}};
            sample_u64(b, RBGW_MF_UP_CONNS, ls, 2, counts[k]);
        }
    }
    family(b, RBGW_MF_UP_OPENS);
    for (size_t i = 0; i < n; i++) {
        const struct rbgw_upstream *u = rbgw_gateway_upstream(gw, i);
        struct lbl ls[2] = {{"upstream", u->name}, {"result", "ok"}};
        sample_u64(b, RBGW_MF_UP_OPENS, ls, 2, u->stats.opens_ok);
        ls[1].v = "failed";
        sample_u64(b, RBGW_MF_UP_OPENS, ls, 2, u->stats.opens_failed);
    }
    family(b, RBGW_MF_UP_QUEUE);
    for (size_t i = 0; i < n; i++) {
        const struct rbgw_upstream *u = rbgw_gateway_upstream(gw, i);
        struct lbl ls = {"upstream", u->name};
        sample_u64(b, RBGW_MF_UP_QUEUE, &ls, 1, u->cp->nwaiters);
    }
    family(b, RBGW_MF_UP_MAX_CONNS);
    for (size_t i = 0; i < n; i++) {
        const struct rbgw_upstream *u = rbgw_gateway_upstream(gw, i);
        struct lbl ls = {"upstream", u->name};
        sample_u64(b, RBGW_MF_UP_MAX_CONNS, &ls, 1, u->cp->max_conns);
    }
    family(b, RBGW_MF_UP_UP);
    for (size_t i = 0; i < n; i++) {
        struct rbgw_member_view ms;
        member_state(gw, i, &ms);
        struct lbl ls = {"upstream", rbgw_gateway_upstream(gw, i)->name};
        sample_u64(b, RBGW_MF_UP_UP, &ls, 1, ms.healthy ? 1 : 0);
    }
    family(b, RBGW_MF_UP_FAILURES);
    for (size_t i = 0; i < n; i++) {
        struct rbgw_member_view ms;
        member_state(gw, i, &ms);
        struct lbl ls = {"upstream", rbgw_gateway_upstream(gw, i)->name};
        sample_u64(b, RBGW_MF_UP_FAILURES, &ls, 1, ms.failures);
    }
    family(b, RBGW_MF_UP_EJECTIONS);
    for (size_t i = 0; i < n; i++) {
        const struct rbgw_upstream *u = rbgw_gateway_upstream(gw, i);
        struct lbl ls = {"upstream", u->name};
        sample_u64(b, RBGW_MF_UP_EJECTIONS, &ls, 1, u->stats.ejections);
    }
    family(b, RBGW_MF_UP_CHECKS);
    for (size_t i = 0; i < n; i++) {
        const struct rbgw_upstream *u = rbgw_gateway_upstream(gw, i);
        struct lbl ls[2] = {{"upstream", u->name}, {"result", "ok"}};
        sample_u64(b, RBGW_MF_UP_CHECKS, ls, 2, u->stats.checks_ok);
        ls[1].v = "failed";
        sample_u64(b, RBGW_MF_UP_CHECKS, ls, 2, u->stats.checks_failed);
    }
    family(b, RBGW_MF_UP_TLS);
    for (size_t i = 0; i < n; i++) {
        const struct rbgw_upstream *u = rbgw_gateway_upstream(gw, i);
        if (u->tls == NULL) {
            continue; /* plain http://, unix, pipe, zeromq: no TLS */
        }
        const struct rbgw_tls_stats *c = &u->tls_carried; /* from the upstreams it replaced */
        struct lbl ls[2] = {{"upstream", u->name}, {"kind", "full"}};
        sample_u64(b, RBGW_MF_UP_TLS, ls, 2, c->full + u->tls->full);
        ls[1].v = "resumed";
        sample_u64(b, RBGW_MF_UP_TLS, ls, 2, c->resumed + u->tls->resumed);
        ls[1].v = "failed";
        sample_u64(b, RBGW_MF_UP_TLS, ls, 2, c->failed + u->tls->failed);
    }
}

/* Members of pool p in service. */
static size_t
pool_up(struct rbgw_gateway *gw, const struct rbgw_pool_conf *p)
{
    size_t up = 0;
    for (size_t k = 0; k < p->nmembers; k++) {
        struct rbgw_member_view ms;
        member_state(gw, p->members[k], &ms);
        up += ms.healthy;
    }
    return up;
}

static void
render_routing(struct rbgw_gateway *gw, struct rbgw_buf *b)
{
    const struct rbgw_router_conf *rc = routing(gw);
    family(b, RBGW_MF_POOL_UP);
    for (size_t i = 0; rc && i < rc->npools; i++) {
        struct lbl ls = {"pool", rc->pools[i].name};
        sample_u64(b, RBGW_MF_POOL_UP, &ls, 1, pool_up(gw, &rc->pools[i]));
    }
    family(b, RBGW_MF_POOL_MEMBERS);
    for (size_t i = 0; rc && i < rc->npools; i++) {
        struct lbl ls = {"pool", rc->pools[i].name};
        sample_u64(b, RBGW_MF_POOL_MEMBERS, &ls, 1, rc->pools[i].nmembers);
    }
    family(b, RBGW_MF_BUDGET);
    sample_double(b, RBGW_MF_BUDGET, NULL, 0, rbgw_fanout_budget(gw));
}

static void
render_cache(struct rbgw_gateway *gw, struct rbgw_buf *b)
{
    static const struct rbgw_cache_stats none;
    const struct rbgw_cache_stats *st = gw->cache ? rbgw_cache_stats(gw->cache) : &none;
    const struct {
        const char *label;
        uint64_t n;
    } reads[] = {{"hit", st->hits},
                 {"coalesced", st->coalesced},
                 {"miss", st->misses},
                 {"bypassed", st->bypassed}},
      drops[] = {
          {"evicted", st->evictions}, {"expired", st->expired}, {"invalidated", st->invalidations}};
    family(b, RBGW_MF_CACHE_READS);
    for (size_t i = 0; i < RBGW_NELEM(reads); i++) {
        struct lbl ls = {"result", reads[i].label};
        sample_u64(b, RBGW_MF_CACHE_READS, &ls, 1, reads[i].n);
    }
    family(b, RBGW_MF_CACHE_DROPS);
    for (size_t i = 0; i < RBGW_NELEM(drops); i++) {
        struct lbl ls = {"reason", drops[i].label};
        sample_u64(b, RBGW_MF_CACHE_DROPS, &ls, 1, drops[i].n);
    }
    family(b, RBGW_MF_CACHE_ENTRIES);
    sample_u64(b, RBGW_MF_CACHE_ENTRIES, NULL, 0, st->entries);
    family(b, RBGW_MF_CACHE_BYTES);
    sample_u64(b, RBGW_MF_CACHE_BYTES, NULL, 0, st->bytes);
}

static void
render_admin(struct rbgw_gateway *gw, struct rbgw_buf *b)
{
    const struct rbgw_admin_stats *st = rbgw_admin_stats(gw->admin);
    family(b, RBGW_MF_ADMIN_REQUESTS);
    for (int p = 0; st && p < RBGW_ADMIN_NPATHS; p++) {
        for (int c = 0; c < RBGW_ADMIN_NCODES; c++) {
            if (st->requests[p][c] == 0) {
                continue; /* most path/status pairs never happen: not worth a series each */
            }
            char code[8];
            snprintf(code, sizeof(code), "%d", rbgw_admin_code_value((enum rbgw_admin_code)c));
            struct lbl ls[2] = {{"path", rbgw_admin_path_name((enum rbgw_admin_path)p)},
                                {"code", code}};
            sample_u64(b, RBGW_MF_ADMIN_REQUESTS, ls, 2, st->requests[p][c]);
        }
    }
    family(b, RBGW_MF_ADMIN_REFUSED);
    for (int r = 0; st && r < RBGW_ADMIN_NREFUSALS; r++) {
        struct lbl ls = {"reason", rbgw_admin_refusal_name((enum rbgw_admin_refusal)r)};
        sample_u64(b, RBGW_MF_ADMIN_REFUSED, &ls, 1, st->refused[r]);
    }
}

static void
render_limits(struct rbgw_gateway *gw, struct rbgw_buf *b)
{
    family(b, RBGW_MF_LIMIT_HITS);
    for (int i = 0; i < RBGW_LIMIT_COUNT; i++) {
        struct lbl ls = {"limit", rbgw_limit_name((enum rbgw_limit)i)};
        sample_u64(b, RBGW_MF_LIMIT_HITS, &ls, 1, gw->limit_hits[i]);
    }
}

void
rbgw_metrics_render(struct rbgw_gateway *gw, struct rbgw_buf *out)
{
    render_process(gw, out);
    render_listeners(gw, out);
    render_upstreams(gw, out);
    render_routing(gw, out);
    render_cache(gw, out);
    render_admin(gw, out);
    render_limits(gw, out);
}

/* ---- readiness ---- */

static const char *
route_class(const struct rbgw_route_conf *r)
{
    return r->reads && r->writes ? "all" : r->reads ? "reads" : "writes";
}

bool
rbgw_metrics_ready(struct rbgw_gateway *gw, char *why, size_t whylen)
{
    if (gw->stopping) {
        snprintf(why, whylen, "rbgw is stopping");
        return false;
    }
    for (size_t i = 0; i < rbgw_gateway_nlisteners(gw); i++) {
        const struct rbgw_listener *l = rbgw_gateway_listener(gw, i);
        if (!rbgw_listener_is_open(l)) {
            snprintf(why, whylen, "listener %s (%s) is not open", l->name, l->conf->text);
            return false;
        }
    }
    const struct rbgw_router_conf *rc = routing(gw);
    if (rc == NULL) {
        snprintf(why, whylen, "no routing state");
        return false;
    }
    /* The first pool takes every call no route matches, unless zone-less routes cover both
     * classes. */
    bool reads_covered = false, writes_covered = false;
    for (size_t i = 0; i < rc->nroutes; i++) {
        const struct rbgw_route_conf *r = &rc->routes[i];
        if (pool_up(gw, &rc->pools[r->pool]) == 0) {
            snprintf(why, whylen, "route %s%s%s (%s): no upstream of pool %s is in service",
                     route_class(r), r->zone ? " zone " : "", r->zone ? r->zone : "", r->origin,
                     rc->pools[r->pool].name);
            return false;
        }
        if (r->zone == NULL) {
            reads_covered |= r->reads;
            writes_covered |= r->writes;
        }
    }
    if (!(reads_covered && writes_covered) && rc->npools > 0 && pool_up(gw, &rc->pools[0]) == 0) {
        snprintf(why, whylen, "no upstream of pool %s (where unrouted calls go) is in service",
                 rc->pools[0].name);
        return false;
    }
    return true;
}

/* ---- /status ---- */

static void
jstr(struct rbgw_buf *b, const char *key, const char *value)
{
    rbgw_json_write_string(b, key, strlen(key));
    rbgw_buf_putc(b, ':');
    rbgw_json_write_string(b, value ? value : "", value ? strlen(value) : 0);
}

static void
jnum(struct rbgw_buf *b, const char *key, uint64_t v)
{
    rbgw_json_write_string(b, key, strlen(key));
    rbgw_buf_printf(b, ":%llu", (unsigned long long)v);
}

static uint64_t
sum(const uint64_t *v, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++) {
        s += v[i];
    }
    return s;
}

void
rbgw_metrics_status_json(struct rbgw_gateway *gw, struct rbgw_buf *b)
{
    char why[256];
    bool ready = rbgw_metrics_ready(gw, why, sizeof(why));
    rbgw_buf_putc(b, '{');
    jstr(b, "version", RBGW_VERSION);
    rbgw_buf_putc(b, ',');
    jnum(b, "generation", gw->generation);
    rbgw_buf_putc(b, ',');
    jnum(b, "reloads_ok", gw->reloads_ok);
    rbgw_buf_putc(b, ',');
    jnum(b, "reloads_failed", gw->reloads_failed);
    rbgw_buf_putc(b, ',');
    jstr(b, "last_reload_error", gw->reload_error);
    rbgw_buf_putc(b, ',');
    jnum(b, "start_time", gw->start_time);
    rbgw_buf_printf(b, ",\"ready\":%s,", ready ? "true" : "false");
    jstr(b, "not_ready_because", ready ? "" : why);
    rbgw_buf_putc(b, ',');
    jnum(b, "calls_in_flight", gw->inflight);

    rbgw_buf_append_cstr(b, ",\"listeners\":[");
    for (size_t i = 0; i < rbgw_gateway_nlisteners(gw); i++) {
        const struct rbgw_listener *l = rbgw_gateway_listener(gw, i);
        uint64_t calls = 0, failed = 0;
        for (int cls = 0; cls < 2; cls++) {
            calls += sum(l->stats.calls[cls], RBGW_ANSWER_COUNT);
            failed += sum(l->stats.calls[cls], RBGW_ANSWER_COUNT) - l->stats.calls[cls][0] -
                      l->stats.calls[cls][RBGW_ANSWER_FALSE];
        }
        rbgw_buf_append_cstr(b, i ? ",{" : "{");
        jstr(b, "name", l->name);
        rbgw_buf_putc(b, ',');
        jstr(b, "type", rbgw_transport_name(l->conf->cs.transport));
        rbgw_buf_putc(b, ',');
        jstr(b, "connection_string", l->conf->text);
        rbgw_buf_printf(b, ",\"open\":%s,", rbgw_listener_is_open(l) ? "true" : "false");
        jnum(b, "sessions", l->stats.sessions_open);
        rbgw_buf_putc(b, ',');
        jnum(b, "calls", calls);
        rbgw_buf_putc(b, ',');
        jnum(b, "failed", failed);
        rbgw_buf_putc(b, '}');
    }
    rbgw_buf_append_cstr(b, "],\"upstreams\":[");
    for (size_t i = 0; i < rbgw_gateway_nupstreams(gw); i++) {
        const struct rbgw_upstream *u = rbgw_gateway_upstream(gw, i);
        struct rbgw_member_view ms;
        member_state(gw, i, &ms);
        uint64_t counts[4];
        conn_counts(u->cp, counts);
        uint64_t calls = sum(u->outcomes.n, RBGW_OUTCOME_COUNT);
        rbgw_buf_append_cstr(b, i ? ",{" : "{");
        jstr(b, "name", u->name);
        rbgw_buf_putc(b, ',');
        jstr(b, "type", rbgw_transport_name(u->conf->cs.transport));
        rbgw_buf_putc(b, ',');
        jstr(b, "target", u->cp->target);
        rbgw_buf_putc(b, ',');
        jstr(b, "state", ms.healthy ? "up" : "ejected");
        rbgw_buf_putc(b, ',');
        jnum(b, "in_flight", ms.outstanding);
        rbgw_buf_putc(b, ',');
        jnum(b, "consecutive_failures", ms.failures);
        rbgw_buf_putc(b, ',');
        jnum(b, "failure_limit", ms.failure_limit);
        rbgw_buf_append_cstr(b, ",\"connections\":{");
        for (int k = 0; k < 4; k++) {
            if (k) {
                rbgw_buf_putc(b, ',');
            }
            jnum(b, conn_state_names[k], counts[k]);
        }
        rbgw_buf_putc(b, ',');
        jnum(b, "max", u->cp->max_conns);
        rbgw_buf_append_cstr(b, "},");
        jnum(b, "queue", u->cp->nwaiters);
        rbgw_buf_putc(b, ',');
        jnum(b, "calls", calls);
        rbgw_buf_putc(b, ',');
        jnum(b, "said_false", u->stats.said_false);
        rbgw_buf_putc(b, ',');
        jnum(b, "failed", calls - u->outcomes.n[RBGW_OUTCOME_OK]);
        rbgw_buf_putc(b, ',');
        jnum(b, "ejections", u->stats.ejections);
        rbgw_buf_putc(b, '}');
    }
    rbgw_buf_append_cstr(b, "],\"pools\":[");
    const struct rbgw_router_conf *rc = routing(gw);
    for (size_t i = 0; rc && i < rc->npools; i++) {
        const struct rbgw_pool_conf *p = &rc->pools[i];
        rbgw_buf_append_cstr(b, i ? ",{" : "{");
        jstr(b, "name", p->name);
        rbgw_buf_putc(b, ',');
        jnum(b, "members_up", pool_up(gw, p));
        rbgw_buf_append_cstr(b, ",\"members\":[");
        for (size_t k = 0; k < p->nmembers; k++) {
            if (k) {
                rbgw_buf_putc(b, ',');
            }
            const char *name = rbgw_gateway_upstream(gw, p->members[k])->name;
            rbgw_json_write_string(b, name, strlen(name));
        }
        rbgw_buf_append_cstr(b, "]}");
    }
    rbgw_buf_append_cstr(b, "],\"routes\":[");
    for (size_t i = 0; rc && i < rc->nroutes; i++) {
        const struct rbgw_route_conf *r = &rc->routes[i];
        rbgw_buf_append_cstr(b, i ? ",{" : "{");
        jstr(b, "class", route_class(r));
        rbgw_buf_putc(b, ',');
        jstr(b, "zone", r->zone ? r->zone : "");
        rbgw_buf_putc(b, ',');
        jstr(b, "pool", rc->pools[r->pool].name);
        rbgw_buf_putc(b, '}');
    }
    rbgw_buf_append_cstr(b, "]}");
}

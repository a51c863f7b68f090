/*
 * gateway.c: builds listeners and upstreams from the configuration and sequences start/stop.
 *
 * Shutdown sequence (SIGINT/SIGTERM, or every listener done, e.g. pdns closed our stdin):
 *   1. stopping = true: listeners stop reading/accepting; new requests are refused.
 *   2. in-flight requests finish normally (their upstream timeouts bound the wait).
 *   3. when the last request is freed (inflight == 0) listeners and upstreams close their
 *      handles; uv_run() then returns because nothing is left active.
 * The admin endpoint (admin.h) answers until step 3 (/readyz says 503 while stopping) and
 * closes with the rest.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rbgw/admin.h"
#include "rbgw/connpool.h"
#include "rbgw/fanout.h"
#include "rbgw/gateway.h"
#include "rbgw/log.h"

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

int
rbgw_gateway_init(struct rbgw_gateway *gw, uv_loop_t *loop, const struct rbgw_config *cfg,
                  char *err, size_t errlen)
{
    memset(gw, 0, sizeof(*gw));
    gw->loop = loop;
    gw->cfg = cfg;
    gw->start_time = (uint64_t)time(NULL);
    gw->generation = 1;
    gw->listeners = rbgw_xcalloc(cfg->nlisteners, sizeof(*gw->listeners));
    gw->upstreams = rbgw_xcalloc(cfg->nupstreams, sizeof(*gw->upstreams));

    for (size_t i = 0; i < cfg->nupstreams; i++) {
        const struct rbgw_endpoint_conf *ec = &cfg->upstreams[i];
        struct rbgw_upstream *u = &gw->upstreams[i];
        const struct rbgw_upstream_ops *ops = rbgw_upstream_ops_for(ec->cs.transport);
        if (ops == NULL) {
            snprintf(err, errlen,
                     "%s: upstream %s: the %s connector is not available as an upstream",
                     ec->origin, ec->text, rbgw_transport_name(ec->cs.transport));
            rbgw_gateway_deinit(gw);
            return RBGW_ENOTSUP;
        }
        u->ops = ops;
        u->gw = gw;
        u->conf = ec;
        u->name = rbgw_config_upstream_name(cfg, i);
        long timeout, cto;
        char e[200];
        if (rbgw_upstream_int_opt(u, "timeout", &timeout, e, sizeof(e)) ||
            rbgw_upstream_int_opt(u, "connect-timeout", &cto, e, sizeof(e))) {
            snprintf(err, errlen, "%s: upstream %s: %s", ec->origin, u->name, e);
            rbgw_gateway_deinit(gw);
            return RBGW_ECONFIG;
        }
        u->timeout_ms = (uint32_t)timeout;
        u->connect_timeout_ms = (uint32_t)cto;
        char e2[256];
        int rc = ops->create(u, e2, sizeof(e2));
        if (rc != 0) {
            snprintf(err, errlen, "%s: upstream %s: %s", ec->origin, u->name, e2);
            rbgw_gateway_deinit(gw);
            return rc;
        }
        gw->nupstreams++;
    }
    int frc = rbgw_fanout_new(gw, &gw->fanout, err, errlen);
    if (frc != 0) {
        rbgw_gateway_deinit(gw);
        return frc;
    }
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        const struct rbgw_endpoint_conf *ec = &cfg->listeners[i];
        const struct rbgw_listener_ops *ops = rbgw_listener_ops_for(ec->cs.transport);
        if (ops == NULL) {
            snprintf(err, errlen, "%s: listen %s: the %s connector is not available as a listener",
                     ec->origin, ec->text, rbgw_transport_name(ec->cs.transport));
            rbgw_gateway_deinit(gw);
            return RBGW_ENOTSUP;
        }
        struct rbgw_listener *l = &gw->listeners[i];
        l->ops = ops;
        l->gw = gw;
        l->conf = ec;
        l->name = rbgw_config_listener_name(cfg, i);
        gw->nlisteners++;
    }
    return 0;
}

static void
on_signal(uv_signal_t *h, int signum)
{
    struct rbgw_gateway *gw = h->data;
    rbgw_log_info("received %s, stopping", signum == SIGINT ? "SIGINT" : "SIGTERM");
    rbgw_gateway_stop(gw);
}

int
rbgw_gateway_start(struct rbgw_gateway *gw, char *err, size_t errlen)
{
    static const int signums[2] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        uv_signal_init(gw->loop, &gw->sig[i]);
        gw->sig[i].data = gw;
        uv_signal_start(&gw->sig[i], on_signal, signums[i]);
        uv_unref((uv_handle_t *)&gw->sig[i]);
    }
    for (size_t i = 0; i < gw->nlisteners; i++) {
        struct rbgw_listener *l = &gw->listeners[i];
        char e[256];
        int rc = l->ops->start(l, e, sizeof(e));
        if (rc != 0) {
            snprintf(err, errlen, "%s: listen %s: %s", l->conf->origin, l->conf->text, e);
            gw->exit_code = 1;
            rbgw_gateway_stop(gw);
            return rc;
        }
    }
    if (gw->cfg->admin.text) {
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

static void
close_all(struct rbgw_gateway *gw)
{
    if (gw->stopped) {
        return;
    }
    gw->stopped = true;
    rbgw_admin_close(gw->admin);
    for (size_t i = 0; i < gw->nlisteners; i++) {
        if (gw->listeners[i].impl) {
            gw->listeners[i].ops->close(&gw->listeners[i]);
        }
    }
    if (gw->fanout) {
        rbgw_fanout_stop(gw->fanout);
    }
    for (size_t i = 0; i < gw->nupstreams; i++) {
        rbgw_connpool_stop(gw->upstreams[i].cp);
    }
    for (int i = 0; i < 2; i++) {
        if (gw->sig[i].data && !uv_is_closing((uv_handle_t *)&gw->sig[i])) {
            uv_close((uv_handle_t *)&gw->sig[i], NULL);
        }
    }
}

void
rbgw_gateway_stop(struct rbgw_gateway *gw)
{
    if (!gw->stopping) {
        gw->stopping = true;
        /* Listeners stop reading now; their in-flight requests still get written. */
        for (size_t i = 0; i < gw->nlisteners; i++) {
            if (gw->listeners[i].impl) {
                gw->listeners[i].ops->stop(&gw->listeners[i]);
            }
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
    for (size_t i = 0; i < gw->nlisteners; i++) {
        if (!gw->listeners[i].done) {
            return;
        }
    }
    rbgw_log_debug("all listeners finished, stopping");
    rbgw_gateway_stop(gw);
}

int
rbgw_gateway_reload(struct rbgw_gateway *gw, char *err, size_t errlen)
{
    snprintf(err, errlen, "reload not supported by this build");
    snprintf(gw->reload_error, sizeof(gw->reload_error), "%s", err);
    gw->reloads_failed++;
    return RBGW_ENOTSUP;
}

size_t
rbgw_gateway_nlisteners(const struct rbgw_gateway *gw)
{
    return gw->nlisteners;
}

struct rbgw_listener *
rbgw_gateway_listener(struct rbgw_gateway *gw, size_t i)
{
    return &gw->listeners[i];
}

size_t
rbgw_gateway_nupstreams(const struct rbgw_gateway *gw)
{
    return gw->nupstreams;
}

struct rbgw_upstream *
rbgw_gateway_upstream(struct rbgw_gateway *gw, size_t i)
{
    return &gw->upstreams[i];
}

bool
rbgw_listener_is_open(const struct rbgw_listener *l)
{
    return l->impl != NULL && !l->done && !l->gw->stopping;
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
    for (size_t i = 0; i < gw->nlisteners; i++) {
        if (gw->listeners[i].ops && gw->listeners[i].impl) {
            gw->listeners[i].ops->destroy(&gw->listeners[i]);
        }
        free(gw->listeners[i].name);
    }
    for (size_t i = 0; i < gw->nupstreams; i++) {
        gw->upstreams[i].ops->destroy(&gw->upstreams[i]);
        free(gw->upstreams[i].name);
    }
    /* An upstream whose create() failed was not counted but may own its name. */
    if (gw->upstreams && gw->nupstreams < (gw->cfg ? gw->cfg->nupstreams : 0)) {
        free(gw->upstreams[gw->nupstreams].name);
    }
    if (gw->nsessions > 0) {
        /* A session ending now would drop its transactions through freed fan-out state. */
        rbgw_log_err("bug: %llu session(s) still open at exit", (unsigned long long)gw->nsessions);
    }
    rbgw_fanout_free(gw->fanout);
    gw->fanout = NULL;
    free(gw->listeners);
    free(gw->upstreams);
    gw->listeners = NULL;
    gw->upstreams = NULL;
    gw->nlisteners = gw->nupstreams = 0;
}

/*
 * fake_upstream.c: see fake_upstream.h.
 *
 * The gateway is rbgw_gateway_init_with's, with the fake transport for every upstream and never
 * started (no listener runs): the pool, fan-out, session, request and reload code under test is
 * the real one.  Reloads load their configuration from the options fake_gw_reload was given.
 * Records live in fixed arrays (a test makes a handful of conns and calls), so a record stays valid
 * after the pool freed its conn and the test can still ask what happened.
 */
#include "fake_upstream.h"

#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "netio.h"
#include "rbgw/config.h"
#include "rbgw/fanout.h"
#include "rbgw/jsonscan.h"
#include "rbgw/log.h"
#include "rbgw/session.h"

#define RUN_BOUND_MS 10000 /* safety bound of fake_gw_run_until, not a timing assertion */
#define MAX_SESSIONS 16

/* u->impl: the transport state, holding the upstream's connection pool. */
struct fake_impl {
    struct rbgw_connpool cp; /* the upstream's pool */
};

/* The transport's conn: the pool's part first (connpool.h contract), then its record. */
struct fconn {
    struct rbgw_upconn base; /* the pool's */
    size_t rec;              /* index in conns */
};

static uv_loop_t loop;                            /* the test's loop */
static struct rbgw_config cfg;                    /* loaded options (generation 1's) */
static const char *const *reload_args;            /* fake_gw_reload's options, while it runs */
static struct rbgw_gateway gw;                    /* the gateway under test */
static bool started;                              /* fake_gw_start ran */
static bool finished;                             /* fake_gw_finish ran */
static bool manual_open;                          /* opens wait for the test */
static struct fake_conn conns[FAKE_GW_MAX_CONNS]; /* every conn opened */
static size_t nconns;                             /* entries in conns */
static struct fake_req reqs[FAKE_GW_MAX_REQS];    /* every request sent */
static size_t nreqs;                              /* entries in reqs */
static struct rbgw_session *held[MAX_SESSIONS];   /* sessions the test holds */
static size_t nheld;                              /* entries in held */

/* ---- the transport ---- */

static struct fake_conn *
rec_of(struct rbgw_upconn *c)
{
    return &conns[((struct fconn *)c)->rec];
}

static void
f_open(struct rbgw_upconn *c)
{
    cr_assert_lt(nconns, FAKE_GW_MAX_CONNS, "too many conns for the fake transport");
    ((struct fconn *)c)->rec = nconns;
    struct fake_conn *fc = &conns[nconns++];
    memset(fc, 0, sizeof(*fc));
    snprintf(fc->upstream, sizeof(fc->upstream), "%s", c->cp->u->name);
    fc->id = c->id;
    fc->c = c;
    fc->opening = true;
    if (!manual_open) {
        fc->opening = false;
        rbgw_upconn_ready(c);
    }
}

static void
f_send(struct rbgw_upconn *c)
{
    struct fake_conn *fc = rec_of(c);
    cr_assert(!fc->sending, "a second call sent on conn %llu while one is in flight",
              (unsigned long long)fc->id);
    fc->sending = true;
    fc->nsent++;
    const struct rbgw_request *req = c->call ? c->call->req : NULL;
    snprintf(fc->method, sizeof(fc->method), "%.*s", req ? (int)req->call.method.len : 0,
             req && req->call.method.p ? req->call.method.p : "");
}

static void
f_close(struct rbgw_upconn *c)
{
    struct fake_conn *fc = rec_of(c);
    fc->c = NULL;
    fc->opening = false;
    fc->sending = false;
    rbgw_upconn_free(c);
}

static const struct rbgw_upconn_ops fake_conn_ops = {
    .conn_size = sizeof(struct fconn),
    .open = f_open,
    .send = f_send,
    .close = f_close,
};

static int
f_create(struct rbgw_upstream *u, char *err, size_t errlen)
{
    struct fake_impl *impl = rbgw_xcalloc(1, sizeof(*impl));
    int rc = rbgw_connpool_init(&impl->cp, u, &fake_conn_ops, impl, u->name, err, errlen);
    if (rc != 0) {
        free(impl);
        return rc;
    }
    u->impl = impl;
    return 0;
}

static void
f_destroy(struct rbgw_upstream *u)
{
    free(u->impl);
    u->impl = NULL;
}

static const struct rbgw_upstream_ops fake_upstream_ops = {
    .name = "fake",
    .create = f_create,
    .destroy = f_destroy,
};

/* ---- the gateway ---- */

/* Load options as rbgw would read them from its command line ("--log-level=debug" added). */
static int
load_args(const char *const *args, struct rbgw_config *out, char *err, size_t errlen)
{
    const char *argv[32] = {"rbgw-test"};
    int argc = 1;
    bool level = false;
    for (size_t i = 0; args[i]; i++) {
        cr_assert_lt(argc, 30);
        argv[argc++] = args[i];
        level |= strncmp(args[i], "--log-level=", 12) == 0;
    }
    if (!level) {
        argv[argc++] = "--log-level=debug";
    }
    return rbgw_config_load(out, argc, (char **)argv, err, errlen);
}

/* rbgw_config_loader for reloads: fake_gw_reload's options. */
static int
reload_loader(void *ctx, struct rbgw_config *out, char *err, size_t errlen)
{
    RBGW_UNUSED(ctx);
    cr_assert_not_null(reload_args, "a reload outside fake_gw_reload");
    return load_args(reload_args, out, err, errlen);
}

void
fake_gw_start(const char *const *args)
{
    char err[512];
    cr_assert_eq(load_args(args, &cfg, err, sizeof(err)), 0, "config: %s", err);
    rbgw_log_set_level(cfg.log_level);
    cr_assert_eq(uv_loop_init(&loop), 0);
    cr_assert_eq(rbgw_gateway_init_with(&gw, &loop, &cfg, &fake_upstream_ops, err, sizeof(err)), 0,
                 "%s", err);
    rbgw_gateway_set_loader(&gw, reload_loader, NULL);
    started = true;
}

int
fake_gw_reload(const char *const *args, char *err, size_t errlen)
{
    char e[RBGW_RELOAD_ERR_MAX];
    reload_args = args;
    int rc = rbgw_gateway_reload(&gw, e, sizeof(e));
    reload_args = NULL;
    if (err) {
        snprintf(err, errlen, "%s", rc == 0 ? "" : e);
    }
    return rc;
}

struct rbgw_gateway *
fake_gw(void)
{
    cr_assert(started);
    return &gw;
}

struct rbgw_connpool *
fake_gw_connpool(size_t i)
{
    cr_assert_lt(i, rbgw_gateway_nupstreams(&gw));
    return rbgw_gateway_upstream(&gw, i)->cp;
}

void
fake_gw_manual_open(bool on)
{
    manual_open = on;
}

/* ---- the test as a listener ---- */

struct rbgw_session *
fake_gw_session(void)
{
    cr_assert_lt(nheld, MAX_SESSIONS);
    struct rbgw_session *s = rbgw_session_new(&gw, NULL);
    held[nheld++] = s;
    return s;
}

void
fake_gw_gone(struct rbgw_session *s)
{
    size_t i = 0;
    while (i < nheld && held[i] != s) {
        i++;
    }
    cr_assert_lt(i, nheld, "fake_gw_gone: not a session the test holds");
    held[i] = held[--nheld];
    /* Like a listener's connection closing: its reference to an unanswered call goes now,
     * since the answer will be swallowed. */
    for (size_t r = 0; r < nreqs; r++) {
        if (reqs[r].session == s && reqs[r].req) {
            struct rbgw_request *req = reqs[r].req;
            reqs[r].req = NULL;
            rbgw_request_unref(req);
        }
    }
    rbgw_session_gone(s, "the test let it go");
}

static void
on_reply(struct rbgw_request *req, struct rbgw_str reply)
{
    struct fake_req *r = req->origin;
    cr_assert(r->req == req, "an answer for a request the test no longer holds");
    if (r->nanswers++ == 0) {
        snprintf(r->answer, sizeof(r->answer), "%.*s", (int)reply.len, reply.p);
    }
    r->req = NULL;
    rbgw_request_unref(req);
}

struct fake_req *
fake_gw_send(struct rbgw_session *s, const char *json)
{
    cr_assert_lt(nreqs, FAKE_GW_MAX_REQS);
    struct fake_req *r = &reqs[nreqs++];
    memset(r, 0, sizeof(*r));
    r->session = s;
    r->req = rbgw_request_new(s, json, strlen(json), r, on_reply);
    rbgw_request_dispatch(r->req);
    return r;
}

/* ---- conns ---- */

size_t
fake_gw_nconns(void)
{
    return nconns;
}

struct fake_conn *
fake_gw_conn(size_t i)
{
    cr_assert_lt(i, nconns, "conn %zu was never opened", i);
    return &conns[i];
}

size_t
fake_gw_sending(struct fake_conn **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < nconns; i++) {
        if (conns[i].sending) {
            cr_assert_lt(n, max);
            out[n++] = &conns[i];
        }
    }
    return n;
}

void
fake_conn_ready(struct fake_conn *fc)
{
    cr_assert(fc->c && fc->opening, "conn %llu is not opening", (unsigned long long)fc->id);
    fc->opening = false;
    rbgw_upconn_ready(fc->c);
}

void
fake_conn_reply(struct fake_conn *fc, const char *json, bool keep)
{
    cr_assert(fc->c && fc->sending, "conn %llu has no call in flight", (unsigned long long)fc->id);
    fc->sending = false; /* before: the pool may send the next call on it right away */
    /* A real transport knows from vetting the reply whether its result is false, and notes a
     * non-empty "log" array: so does this one (log_text must point into the reply itself). */
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_buf line = RBGW_BUF_INIT;
    bool said_false = false;
    char err[128];
    cr_assert_eq(
        rbgw_rpc_check_reply(&a, rbgw_str_cstr(json), &line, &said_false, NULL, err, sizeof(err)),
        0, "scripted reply %s: %s", json, err);
    rbgw_buf_free(&line);
    rbgw_arena_free(&a);
    static const struct rbgw_jscan_watch w = {"log", NULL};
    struct rbgw_str log_text = RBGW_STR_NULL;
    if (rbgw_json_scan(json, strlen(json), &w, 1, &log_text, NULL) != RBGW_JSCAN_OK ||
        log_text.p == NULL || log_text.p[0] != '[') {
        log_text = RBGW_STR_NULL;
    }
    rbgw_upconn_reply(fc->c, rbgw_str_cstr(json), log_text,
                      (keep ? RBGW_UPCONN_KEEP : 0) | (said_false ? RBGW_UPCONN_FALSE : 0));
}

void
fake_conn_error(struct fake_conn *fc, int flags, const char *why)
{
    cr_assert(fc->c && (fc->sending || fc->opening), "conn %llu is neither opening nor sending",
              (unsigned long long)fc->id);
    /* The class a real transport would report: a failed open is a connect failure, a call
     * that fails on an open conn lost it (the tests script the ordering, not the class). */
    int status = fc->opening ? RBGW_ECONNECT : RBGW_ECLOSED;
    fc->sending = false;
    fc->opening = false;
    rbgw_upconn_error(fc->c, status, flags, NULL, "%s", why);
}

void
fake_conn_lost(struct fake_conn *fc)
{
    cr_assert(fc->c && !fc->sending && !fc->opening, "conn %llu is not idle",
              (unsigned long long)fc->id);
    rbgw_upconn_lost(fc->c, "the fake peer closed it");
}

void
fake_gw_run_until(bool (*cond)(void *arg), void *arg)
{
    long deadline = rbgw_test_now_ms() + RUN_BOUND_MS;
    while (!cond(arg)) {
        cr_assert_lt(rbgw_test_now_ms(), deadline, "the state never came (loop run for 10 s)");
        uv_run(&loop, UV_RUN_ONCE);
    }
}

static size_t
list_len(const struct rbgw_list *h)
{
    size_t n = 0;
    for (const struct rbgw_list *p = h->next; p != h; p = p->next) {
        n++;
    }
    return n;
}

size_t
fake_gw_npinned(size_t i)
{
    return list_len(&fake_gw_connpool(i)->pinned);
}

size_t
fake_gw_nidle(size_t i)
{
    return list_len(&fake_gw_connpool(i)->idle);
}

size_t
fake_gw_nbusy(size_t i)
{
    return list_len(&fake_gw_connpool(i)->busy);
}

/* ---- the end ---- */

void
fake_gw_finish(void)
{
    cr_assert(started && !finished);
    while (nheld > 0) {
        fake_gw_gone(held[nheld - 1]);
    }
    rbgw_gateway_stop(&gw);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(gw.inflight, 0, "%llu request(s) never freed", (unsigned long long)gw.inflight);
    cr_assert_eq(gw.nsessions, 0, "%llu session(s) never ended", (unsigned long long)gw.nsessions);
    for (size_t i = 0; i < nreqs; i++) {
        cr_assert_leq(reqs[i].nanswers, 1, "request %zu answered %u times", i, reqs[i].nanswers);
        cr_assert_null(reqs[i].req, "request %zu still held by the test", i);
    }
    for (size_t i = 0; i < nconns; i++) {
        cr_assert_null(conns[i].c, "conn %llu still open after shutdown",
                       (unsigned long long)conns[i].id);
    }
    rbgw_gateway_deinit(&gw);
    cr_assert_eq(uv_loop_close(&loop), 0, "handles left open on the loop");
    rbgw_config_free(&cfg);
    finished = true;
}

void
fake_gw_teardown(void)
{
    /* A failed test ends its process: nothing is safe to free if the gateway is half-way. */
    started = false;
    nconns = 0;
    nreqs = 0;
    nheld = 0;
}

/*
 * request.c: one inbound call, from the frame a listener read to the reply it writes.
 *
 *   listener conn ──ref──> request <──ref── upstream (while in flight)
 *                              │
 *                              ├──ref──> session (session.h): its pdns connection
 *                              ├── counted by its listener (l->inflight) until freed
 *                              └── arena: JSON text copy, decoded tree, upstream encodings
 *
 * The request is freed by whoever drops the last reference, never from inside a function that
 * still uses it afterwards: reply/fail only call the listener hook; the listener unrefs after
 * its write completed (or when it goes away).  The "answered" flag enforces one answer.  An
 * answer for a session that is gone is swallowed: the listener's connection may be freed.
 * Freeing the request drops its session reference first, so that a session ending there drops
 * its open transactions while the upstream pools still run (the gateway may stop right after).
 *
 * Metrics: every request is counted once, where it is answered (count_answer): by its
 * session's listener, method class, method and answer class (outcome.h), and its latency from
 * rbgw_request_new to the answer goes into the listener's histogram.  That is a few adds to
 * counters in the listener per call, and no clock read of its own when the answer follows a
 * leg's end (fanout.c reads the clock there for the upstream's histogram); a request of no
 * listener (`rbgw call`) is not counted.
 *
 * Limits (docs/configuration.md §8): the call is read within max-json-depth and
 * max-json-elements, its envelope may name "method" and "parameters" once each, and with
 * max-inflight requests alive (answers being written and calls of gone clients included) a new
 * call is answered false at once, never queued.
 *
 * A freed request goes on the gateway's spare stack (up to SPARE_MAX) with one arena chunk
 * kept, so a steady stream of calls allocates nothing per call for the request itself.  Under
 * AddressSanitizer nothing is kept: every request is really freed, so a use after free is
 * still caught.
 */
#include <stdio.h>
#include <string.h>

#include "rbgw/gateway.h"
#include "rbgw/log.h"
#include "rbgw/fanout.h"

#if defined(__SANITIZE_ADDRESS__)
#define SPARE_MAX 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPARE_MAX 0
#endif
#endif
#ifndef SPARE_MAX
#define SPARE_MAX 64
#endif

struct rbgw_request *
rbgw_request_new(struct rbgw_session *s, const char *raw, size_t len, void *origin,
                 rbgw_reply_cb on_reply)
{
    struct rbgw_gateway *gw = s->gw;
    struct rbgw_request *req = gw->spare;
    if (req) {
        gw->spare = req->next_spare;
        gw->nspare--;
        struct rbgw_arena kept = req->arena;
        memset(req, 0, sizeof(*req));
        req->arena = kept;
    } else {
        req = rbgw_xcalloc(1, sizeof(*req));
        rbgw_arena_init(&req->arena);
    }
    req->id = ++gw->next_id;
    req->refs = 1;
    req->gw = gw;
    /* The call's bytes, then '\n' and a NUL past their end: a JSON-stream upstream sends the
     * call and its newline from this one buffer (jsonstream.c's write_line). */
    char *copy = rbgw_arena_alloc(&req->arena, len + 2);
    if (len > 0) {
        memcpy(copy, raw, len);
    }
    copy[len] = '\n';
    copy[len + 1] = '\0';
    req->raw = rbgw_str_make(copy, len);
    req->session = s;
    rbgw_session_ref(s);
    req->origin = origin;
    req->on_reply = on_reply;
    rbgw_buf_init(&req->reply);
    req->start_ns = rbgw_now_ns();
    gw->inflight++;
    if (s->l) {
        s->l->inflight++;
    }
    return req;
}

/* s, a text within [from, from + len), at the same offset in to. */
static struct rbgw_str
rebase(struct rbgw_str s, const char *from, const char *to)
{
    return s.p == NULL ? s : rbgw_str_make(to + (s.p - from), s.len);
}

void
rbgw_request_set_peek(struct rbgw_request *req, const struct rbgw_rpc_peek *pk, const char *raw)
{
    req->call.method = rebase(pk->method, raw, req->raw.p);
    req->call.mid = pk->mid;
    req->trxid = rebase(pk->trxid, raw, req->raw.p);
    req->params = rebase(pk->params, raw, req->raw.p);
    req->peeked = true;
}

void
rbgw_request_ref(struct rbgw_request *req)
{
    req->refs++;
}

void
rbgw_request_unref(struct rbgw_request *req)
{
    RBGW_ASSERT(req->refs > 0);
    if (--req->refs > 0) {
        return;
    }
    struct rbgw_gateway *gw = req->gw;
    struct rbgw_listener *l = req->session->l;
    rbgw_session_unref(req->session);
    req->session = NULL;
    rbgw_buf_free(&req->reply);
    if (SPARE_MAX > 0 && gw->nspare + 1 <= (unsigned)SPARE_MAX) {
        rbgw_arena_reset(&req->arena);
        req->next_spare = gw->spare;
        gw->spare = req;
        gw->nspare++;
    } else {
        rbgw_arena_free(&req->arena);
        free(req);
    }
    gw->inflight--;
    if (l) {
        rbgw__listener_request_freed(l);
    }
    if (gw->stopping && gw->inflight == 0) {
        rbgw_gateway_stop(gw);
    }
}

/* Count an answer (metrics.h): by listener, class, method, latency. */
static void
count_answer(struct rbgw_request *req, enum rbgw_answer a)
{
    struct rbgw_listener *l = req->session->l;
    if (l == NULL) {
        return;
    }
    enum rbgw_method m = req->call.mid;
    l->stats.calls[rbgw_method_class(m)][a]++;
    l->stats.methods[rbgw_metric_method_of(m)]++;
    /* Answers come straight from a leg's end (fanout.c), whose time is fresh; others (refused
     * before any leg, initialize) read the clock. */
    uint64_t now = req->leg_end_ns ? req->leg_end_ns : rbgw_now_ns();
    rbgw_hist_observe(&l->stats.latency, now - req->start_ns);
}

/*
 * The one place every answer passes, reply or failure, exactly once: it is counted, the access
 * line is written (whatever else must see every answer belongs here too), then the answer goes
 * to the listener.
 */
static void
deliver(struct rbgw_request *req, struct rbgw_str reply, enum rbgw_answer a)
{
    count_answer(req, a);
    if (rbgw_log_access_enabled()) {
        rbgw_access_log(req, rbgw_answer_name(a), reply);
    }
    if (!req->session->gone && req->on_reply) {
        req->on_reply(req, reply);
    }
}

void
rbgw_request_reply(struct rbgw_request *req, struct rbgw_str reply, bool said_false)
{
    if (req->answered) {
        rbgw_rlog_debug(req, "second answer dropped");
        return;
    }
    req->answered = true;
    rbgw_rlog_debug(req, "answered in %llu us",
                    (unsigned long long)((rbgw_now_ns() - req->start_ns) / 1000));
    deliver(req, reply, said_false ? RBGW_ANSWER_FALSE : RBGW_ANSWER_OK);
}

void
rbgw_request_answered(struct rbgw_request *req, enum rbgw_answer a)
{
    if (req->answered) {
        rbgw_rlog_debug(req, "second answer dropped");
        return;
    }
    req->answered = true;
    count_answer(req, a);
    if (rbgw_log_access_enabled()) {
        rbgw_access_log(req, rbgw_answer_name(a), RBGW_STR_NULL);
    }
}

void
rbgw_request_fail(struct rbgw_request *req, int status, const struct rbgw_json *extra,
                  const char *fmt, ...)
{
    if (req->answered) {
        rbgw_rlog_debug(req, "second answer dropped");
        return;
    }
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    rbgw_rlog_limited(RBGW_LOG_WARN, "calls answered false", req, NULL, "%s", reason);
    struct rbgw_buf b = RBGW_BUF_INIT;
    rbgw_rpc_error_reply(&b, reason, extra);
    req->answered = true;
    deliver(req, rbgw_buf_str(&b), rbgw_answer_of(status));
    rbgw_buf_free(&b);
}

/* The parameters object of a peeked call, built from its text in raw without yajl (the peek
 * validated the whole call), as the decoder would build it (absent or null: an empty object).
 * False when only the decoder can (escapes in the text, or no peek). */
static bool
params_from_peek(struct rbgw_request *req)
{
    struct rbgw_json *params;
    if (!req->peeked) {
        return false;
    }
    if (req->params.p == NULL || rbgw_str_eq_cstr(req->params, "null")) {
        params = rbgw_json_new(&req->arena, RBGW_JSON_OBJECT);
    } else if (rbgw_json_parse_valid(&req->arena, req->params.p, req->params.len, &params) != 0) {
        return false;
    }
    req->call.root = NULL;
    req->call.params = params;
    return true;
}

int
rbgw_request_parse(struct rbgw_request *req, char *err, size_t errlen)
{
    if (req->parsed) {
        return 0;
    }
    if (!params_from_peek(req)) {
        int rc = rbgw_rpc_decode_limited(&req->arena, req->raw.p, req->raw.len,
                                         &req->gw->cfg->json_limits, &req->call, err, errlen);
        if (rc != 0) {
            return rc;
        }
    }
    req->parsed = true;
    const struct rbgw_json *t = rbgw_json_get(req->call.params, "trxid");
    int64_t v;
    req->trxid =
        t && t->type == RBGW_JSON_NUMBER && rbgw_json_int64(t, &v) ? t->str : RBGW_STR_NULL;
    return 0;
}

void
rbgw_request_dispatch(struct rbgw_request *req)
{
    struct rbgw_gateway *gw = req->gw;
    const struct rbgw_config *cfg = gw->cfg;
    char err[256];
    struct rbgw_rpc_peek pk;
    int rc;
    if (req->peeked) {
        /* Peeked by the listener as it framed the call (rbgw_request_set_peek). */
    } else if (rbgw_rpc_peek_limited(req->raw.p, req->raw.len, &cfg->json_limits, &pk) == 0) {
        /* The common case: method and trxid found without a tree; the bytes go on as sent. */
        rbgw_request_set_peek(req, &pk, req->raw.p);
    } else if ((rc = rbgw_request_parse(req, err, sizeof(err))) != 0) {
        if (rc == RBGW_ETOOBIG) {
            gw->limit_hits[rbgw_limit_of_json(req->call.over)]++;
        }
        rbgw_request_fail(req, RBGW_EPARSE, NULL, "%s", err);
        return;
    }
    if (req->call.mid == RBGW_M_INITIALIZE) {
        /* pdns opens every JSON connector with initialize; it is ours to answer, not the
         * responder's (each upstream connection sends its own, with its own options). */
        rbgw_request_reply(req, RBGW_STR("{\"result\":true}"), false);
        return;
    }
    if (gw->stopping) {
        rbgw_request_fail(req, RBGW_ESHUTDOWN, NULL, "shutting down");
        return;
    }
    if (rbgw_gateway_nupstreams(gw) == 0) {
        rbgw_request_fail(req, RBGW_ENOUPSTREAM, NULL, "no upstream configured");
        return;
    }
    if (gw->inflight > cfg->max_inflight) {
        /* Never queued: pdns gets its answer now and may try again, and rbgw's memory stays
         * bounded whatever its clients do (this request itself is one of gw->inflight). */
        gw->limit_hits[RBGW_LIMIT_MAX_INFLIGHT]++;
        rbgw_request_fail(req, RBGW_EOVERLOAD, NULL,
                          "overloaded: %llu calls in flight (max-inflight=%u)",
                          (unsigned long long)(gw->inflight - 1), cfg->max_inflight);
        return;
    }
    /* The current generation: the fan-out holds it until it answers (gateway.h). */
    rbgw_fanout_dispatch(gw->gen->fanout, req);
}

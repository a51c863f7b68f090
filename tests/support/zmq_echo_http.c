/*
 * zmq_echo_http.c: the holding, echoing HTTP responder (see zmq_echo_http.h), a front end of
 * fake_httpd.c.
 *
 * The decide callback holds every request with its echo as the answer, and once `hold` are
 * held at the same time it has the core release them all, newest first.  The core keeps one
 * request per connection waiting at most (a client that does not pipeline sends nothing more
 * before its reply), counts the held ones (a connection closed while held drops out of the
 * count) and answers in one critical section, so the replies leave in exactly that order.
 */
#include "zmq_echo_http.h"
#include "fake_httpd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct zmq_echo_http {
    struct fake_httpd *core; /* owned: the server */
    unsigned hold;           /* batch size */
    unsigned max_waiting;    /* high mark of held requests; under the core's lock */
    char answer[2048];       /* decide's answer body, until the core copied it; under the
                                core's lock */
};

static int
decide(void *ctx, struct fake_httpd *core, size_t i, const struct fake_http_request *r,
       struct fake_http_action *a)
{
    struct zmq_echo_http *s = ctx;
    if (strpbrk(r->target, "\"\\")) {
        a->kind = FAKE_HTTP_CLOSE;
        return 0;
    }
    int n = snprintf(s->answer, sizeof(s->answer),
                     "{\"result\":[{\"qtype\":\"TXT\",\"qname\":\"echo.\",\"content\":\"%s\","
                     "\"ttl\":60,\"auth\":1,\"domain_id\":1}]}",
                     r->target);
    if (n < 0 || (size_t)n >= sizeof(s->answer)) {
        snprintf(s->answer, sizeof(s->answer), "{\"result\":false}");
    }
    a->kind = FAKE_HTTP_HOLD;
    a->body = s->answer;
    unsigned waiting = fake_httpd_pending_locked(core) + 1; /* this one included */
    if (waiting > s->max_waiting) {
        s->max_waiting = waiting;
    }
    if (waiting >= s->hold) {
        fake_httpd_release_locked(core, true);
    }
    return 0;
}

struct zmq_echo_http *
zmq_echo_http_start(unsigned hold)
{
    struct zmq_echo_http *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->hold = hold ? hold : 1;
    s->core = fake_httpd_start(decide, s);
    if (s->core == NULL) {
        free(s);
        return NULL;
    }
    return s;
}

void
zmq_echo_http_stop(struct zmq_echo_http *s)
{
    if (s == NULL) {
        return;
    }
    fake_httpd_stop(s->core);
    free(s);
}

uint16_t
zmq_echo_http_port(const struct zmq_echo_http *s)
{
    return fake_httpd_port(s->core);
}

unsigned
zmq_echo_http_requests(struct zmq_echo_http *s)
{
    return (unsigned)fake_httpd_nrequests(s->core);
}

unsigned
zmq_echo_http_max_waiting(struct zmq_echo_http *s)
{
    fake_httpd_lock(s->core);
    unsigned n = s->max_waiting;
    fake_httpd_unlock(s->core);
    return n;
}

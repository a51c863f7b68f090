/*
 * fake_http.c: the scripted responder (see fake_http.h), a front end of fake_httpd.c.
 *
 * The script is the server core's own (no decide callback), so this file only gives the core
 * its fake_http_* names.
 */
#include "fake_http.h"

#include <stdlib.h>

struct fake_http {
    struct fake_httpd *core; /* owned: the server */
};

static struct fake_httpd *
core(const struct fake_http *s)
{
    return s->core;
}

struct fake_http *
fake_http_start(void)
{
    struct fake_http *s = calloc(1, sizeof(*s));
    if (s && !(s->core = fake_httpd_start(NULL, NULL))) {
        free(s);
        s = NULL;
    }
    return s;
}

void
fake_http_stop(struct fake_http *s)
{
    if (s) {
        fake_httpd_stop(s->core);
        free(s);
    }
}

uint16_t
fake_http_port(const struct fake_http *s)
{
    return fake_httpd_port(core(s));
}

void
fake_http_push(struct fake_http *s, const struct fake_http_action *a)
{
    fake_httpd_push(core(s), a);
}

void
fake_http_push_json(struct fake_http *s, const char *body)
{
    struct fake_http_action a = {.kind = FAKE_HTTP_RESPOND, .body = body};
    fake_httpd_push(core(s), &a);
}

void
fake_http_set_default(struct fake_http *s, const struct fake_http_action *a)
{
    fake_httpd_set_default(core(s), a);
}

void
fake_http_release(struct fake_http *s)
{
    fake_httpd_release(core(s), false);
}

size_t
fake_http_nrequests(struct fake_http *s)
{
    return fake_httpd_nrequests(core(s));
}

const struct fake_http_request *
fake_http_request(struct fake_http *s, size_t i)
{
    return fake_httpd_request(core(s), i);
}

unsigned
fake_http_accepts(struct fake_http *s)
{
    return fake_httpd_accepts(core(s));
}

unsigned
fake_http_closes(struct fake_http *s)
{
    return fake_httpd_closes(core(s));
}

unsigned
fake_http_pending(struct fake_http *s)
{
    return fake_httpd_pending(core(s));
}

bool
fake_http_wait_requests(struct fake_http *s, size_t n, int timeout_ms)
{
    return fake_httpd_wait_requests(core(s), n, timeout_ms);
}

bool
fake_http_wait_closes(struct fake_http *s, unsigned n, int timeout_ms)
{
    return fake_httpd_wait_closes(core(s), n, timeout_ms);
}

bool
fake_http_wait_pending(struct fake_http *s, unsigned n, int timeout_ms)
{
    return fake_httpd_wait_pending(core(s), n, timeout_ms);
}

bool
fake_http_wait_conn_closed(struct fake_http *s, unsigned conn, int timeout_ms)
{
    return fake_httpd_wait_conn_closed(core(s), conn, timeout_ms);
}

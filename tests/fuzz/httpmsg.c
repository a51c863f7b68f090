/*
 * httpmsg.c: see httpmsg.h.
 */
#include <string.h>

#include "fuzz.h"
#include "httpmsg.h"

static struct rbgw_fuzz_http *
http_of(llhttp_t *p)
{
    return p->data;
}

static int
on_message_begin(llhttp_t *p)
{
    struct rbgw_fuzz_http *h = http_of(p);
    rbgw_buf_reset(&h->head);
    rbgw_buf_reset(&h->body);
    h->target = (struct rbgw_fuzz_span){0, 0};
    h->nhdrs = 0;
    h->in_value = false;
    h->complete = false;
    return 0;
}

static int
on_url(llhttp_t *p, const char *at, size_t len)
{
    struct rbgw_fuzz_http *h = http_of(p);
    rbgw_buf_append(&h->head, at, len); /* the target comes before any header */
    h->target.len += len;
    return 0;
}

static int
on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct rbgw_fuzz_http *h = http_of(p);
    if (h->nhdrs == 0 || h->in_value) {
        if (h->nhdrs == RBGW_FUZZ_MAX_HEADERS) {
            return HPE_USER; /* the listener answers 400 and closes */
        }
        h->name[h->nhdrs] = (struct rbgw_fuzz_span){h->head.len, 0};
        h->value[h->nhdrs] = (struct rbgw_fuzz_span){h->head.len, 0};
        h->nhdrs++;
        h->in_value = false;
    }
    rbgw_buf_append(&h->head, at, len);
    h->name[h->nhdrs - 1].len += len;
    return 0;
}

static int
on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct rbgw_fuzz_http *h = http_of(p);
    struct rbgw_fuzz_span *v = &h->value[h->nhdrs - 1];
    if (!h->in_value) {
        *v = (struct rbgw_fuzz_span){h->head.len, 0};
        h->in_value = true;
    }
    rbgw_buf_append(&h->head, at, len);
    v->len += len;
    return 0;
}

static int
on_body(llhttp_t *p, const char *at, size_t len)
{
    rbgw_buf_append(&http_of(p)->body, at, len);
    return 0;
}

static int
on_message_complete(llhttp_t *p)
{
    http_of(p)->complete = true;
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void
log_part(struct rbgw_buf *log, const char *p, size_t len)
{
    rbgw_buf_printf(log, "%zu:", len);
    rbgw_buf_append(log, p, len);
}

static struct rbgw_str
part(const struct rbgw_fuzz_http *h, struct rbgw_fuzz_span s)
{
    return rbgw_str_make(h->head.data + s.off, s.len);
}

static void
message(struct rbgw_fuzz_http *h, rbgw_fuzz_msg_cb cb, void *ctx)
{
    struct rbgw_http_header hdrs[RBGW_FUZZ_MAX_HEADERS];
    const char *verb = llhttp_method_name((llhttp_method_t)h->parser.method);
    log_part(&h->log, verb, strlen(verb));
    log_part(&h->log, h->head.data, h->target.len);
    for (size_t i = 0; i < h->nhdrs; i++) {
        hdrs[i].name = part(h, h->name[i]);
        hdrs[i].value = part(h, h->value[i]);
        log_part(&h->log, hdrs[i].name.p, hdrs[i].name.len);
        log_part(&h->log, hdrs[i].value.p, hdrs[i].value.len);
    }
    log_part(&h->log, h->body.data, h->body.len);
    if (cb != NULL) {
        struct rbgw_http_in in = {
            .verb = rbgw_str_cstr(verb),
            .target = rbgw_str_make(h->head.data ? h->head.data : "", h->target.len),
            .headers = hdrs,
            .nheaders = h->nhdrs,
            .body = rbgw_buf_str(&h->body),
        };
        cb(&in, ctx);
    }
}

void
rbgw_fuzz_http_parse(struct rbgw_fuzz_http *h, const char *p, size_t len, size_t chunk,
                     rbgw_fuzz_msg_cb cb, void *ctx)
{
    memset(h, 0, sizeof(*h));
    llhttp_init(&h->parser, HTTP_REQUEST, &settings);
    h->parser.data = h;
    if (chunk == 0) {
        chunk = len ? len : 1;
    }
    llhttp_errno_t e = HPE_OK;
    for (size_t fed = 0; fed < len && e == HPE_OK && h->messages < RBGW_FUZZ_MAX_MESSAGES;) {
        const char *q = p + fed;
        size_t n = len - fed < chunk ? len - fed : chunk;
        fed += n;
        while (n > 0) {
            e = llhttp_execute(&h->parser, q, n);
            if (e != HPE_PAUSED || !h->complete) {
                break;
            }
            /* Spans were copied as they came: only the bytes after the message remain. */
            const char *stop = llhttp_get_error_pos(&h->parser);
            FUZZ_CHECK(stop >= q && stop <= q + n, "pause position outside the read");
            n -= (size_t)(stop - q);
            q = stop;
            message(h, cb, ctx);
            h->complete = false;
            llhttp_resume(&h->parser);
            e = HPE_OK;
            if (++h->messages == RBGW_FUZZ_MAX_MESSAGES) {
                break;
            }
        }
    }
    h->end = e;
    /* Which error ends a broken stream may depend on the read sizes (a span callback can run
     * before llhttp has seen a bad byte later in that span); only whether it ends in one may
     * not. */
    rbgw_buf_append_cstr(&h->log, e == HPE_OK ? "end:ok" : "end:error");
}

void
rbgw_fuzz_http_free(struct rbgw_fuzz_http *h)
{
    rbgw_buf_free(&h->head);
    rbgw_buf_free(&h->body);
    rbgw_buf_free(&h->log);
}

/*
 * listener/slab.c: the listener's shared read buffer (see slab.h).
 */
#include <string.h>

#include "listener/slab.h"

void
rbgw_inbuf_append(struct rbgw_inbuf *b, const char *p, size_t n)
{
    size_t kept = b->buf.len - b->pos;
    bool grows = b->buf.len + n + 1 > b->buf.cap;
    if (b->pos > 0 && (b->pos >= kept || (grows && 2 * b->pos >= kept))) {
        rbgw_buf_consume(&b->buf, b->pos);
        b->pos = 0;
    }
    rbgw_buf_append(&b->buf, p, n);
}

void
rbgw_inbuf_free(struct rbgw_inbuf *b)
{
    rbgw_buf_free(&b->buf);
    b->pos = 0;
}

uv_buf_t
rbgw_slab_alloc(struct rbgw_read_slab *s)
{
    RBGW_ASSERT(s->owner == NULL); /* one read callback at a time on a loop */
    if (s->data == NULL) {
        s->data = rbgw_xmalloc(RBGW_READ_SLAB);
    }
    return uv_buf_init(s->data, RBGW_READ_SLAB);
}

void
rbgw_slab_serve(struct rbgw_read_slab *s, const void *who, size_t n)
{
    s->owner = who;
    s->pos = 0;
    s->len = n;
}

void
rbgw_slab_release(struct rbgw_read_slab *s, struct rbgw_inbuf *own, bool drop_rest)
{
    if (!drop_rest && s->pos < s->len) {
        rbgw_inbuf_append(own, s->data + s->pos, s->len - s->pos);
    }
    s->owner = NULL;
}

const char *
rbgw_slab_unserved(const struct rbgw_read_slab *s, const void *who, const struct rbgw_inbuf *own,
                   size_t *len)
{
    if (s->owner == who) {
        *len = s->len - s->pos;
        return s->data + s->pos;
    }
    *len = rbgw_inbuf_len(own);
    return own->buf.data ? own->buf.data + own->pos : NULL;
}

void
rbgw_slab_drop(struct rbgw_read_slab *s, const void *who, struct rbgw_inbuf *own, size_t n)
{
    if (s->owner == who) {
        RBGW_ASSERT(n <= s->len - s->pos);
        s->pos += n;
    } else if (n == rbgw_inbuf_len(own)) {
        rbgw_inbuf_free(own);
    } else {
        RBGW_ASSERT(n < rbgw_inbuf_len(own));
        own->pos += n;
    }
}

void
rbgw_slab_free(struct rbgw_read_slab *s)
{
    RBGW_ASSERT(s->owner == NULL);
    free(s->data);
    memset(s, 0, sizeof(*s));
}

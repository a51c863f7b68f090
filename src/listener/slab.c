/*
 * listener/slab.c: the listener's shared read buffer (see slab.h).
 */
#include <string.h>

#include "listener/slab.h"

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
rbgw_slab_release(struct rbgw_read_slab *s, struct rbgw_buf *own, bool drop_rest)
{
    if (!drop_rest && s->pos < s->len) {
        rbgw_buf_append(own, s->data + s->pos, s->len - s->pos);
    }
    s->owner = NULL;
}

const char *
rbgw_slab_unserved(const struct rbgw_read_slab *s, const void *who, const struct rbgw_buf *own,
                   size_t *len)
{
    if (s->owner == who) {
        *len = s->len - s->pos;
        return s->data + s->pos;
    }
    *len = own->len;
    return own->data;
}

void
rbgw_slab_drop(struct rbgw_read_slab *s, const void *who, struct rbgw_buf *own, size_t n)
{
    if (s->owner == who) {
        RBGW_ASSERT(n <= s->len - s->pos);
        s->pos += n;
    } else if (n == own->len) {
        rbgw_buf_free(own);
    } else {
        rbgw_buf_consume(own, n);
    }
}

void
rbgw_slab_free(struct rbgw_read_slab *s)
{
    RBGW_ASSERT(s->owner == NULL);
    free(s->data);
    memset(s, 0, sizeof(*s));
}

/*
 * buf.c: growable byte buffers and the request arena.
 *
 * rbgw_buf grows geometrically and always keeps one spare byte for a terminating NUL, so
 * data[len] == '\0' once anything was appended.  rbgw_arena hands out 16-byte aligned blocks
 * from chunks of at least 4 KiB; a block larger than half a chunk gets a chunk of its own, so
 * big request bodies do not waste the tail of a shared chunk.  Nothing is freed before
 * rbgw_arena_free(), which returns every chunk at once.
 */
#include <stdio.h>
#include <string.h>

#include "rbgw/buf.h"

void
rbgw_buf_init(struct rbgw_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void
rbgw_buf_free(struct rbgw_buf *b)
{
    free(b->data);
    rbgw_buf_init(b);
}

char *
rbgw__buf_grow(struct rbgw_buf *b, size_t n)
{
    if (b->cap - b->len < n + 1 || b->data == NULL) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n + 1) {
            cap *= 2;
        }
        b->data = rbgw_xrealloc(b->data, cap);
        b->cap = cap;
        b->data[b->len] = '\0';
    }
    return b->data + b->len;
}

void
rbgw_buf_append_cstr(struct rbgw_buf *b, const char *s)
{
    rbgw_buf_append(b, s, strlen(s));
}

void
rbgw_buf_vprintf(struct rbgw_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char *dst = rbgw_buf_reserve(b, 64);
    int n = vsnprintf(dst, b->cap - b->len, fmt, ap);
    if (n >= 0 && (size_t)n >= b->cap - b->len) {
        dst = rbgw_buf_reserve(b, (size_t)n);
        n = vsnprintf(dst, b->cap - b->len, fmt, ap2);
    }
    va_end(ap2);
    if (n > 0) {
        b->len += (size_t)n;
    }
}

void
rbgw_buf_printf(struct rbgw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rbgw_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void
rbgw_buf_consume(struct rbgw_buf *b, size_t n)
{
    RBGW_ASSERT(n <= b->len);
    if (n == b->len) {
        b->len = 0;
    } else if (n > 0) {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data) {
        b->data[b->len] = '\0';
    }
}

void
rbgw_buf_reset(struct rbgw_buf *b)
{
    b->len = 0;
    if (b->data) {
        b->data[0] = '\0';
    }
}

void
rbgw_buf_reset_max(struct rbgw_buf *b, size_t keep)
{
    if (b->cap > keep) {
        rbgw_buf_free(b);
    } else {
        rbgw_buf_reset(b);
    }
}

#define ARENA_CHUNK 4096
#define ARENA_ALIGN 16

struct rbgw_arena_chunk {
    struct rbgw_arena_chunk *next; /* older chunk */
    size_t size;                   /* usable bytes after the header */
    _Alignas(ARENA_ALIGN) char mem[];
};

void
rbgw_arena_init(struct rbgw_arena *a)
{
    a->head = NULL;
    a->pos = NULL;
    a->end = NULL;
}

void
rbgw_arena_free(struct rbgw_arena *a)
{
    struct rbgw_arena_chunk *c = a->head;
    while (c) {
        struct rbgw_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    rbgw_arena_init(a);
}

void
rbgw_arena_reset(struct rbgw_arena *a)
{
    struct rbgw_arena_chunk *keep = NULL, *c = a->head;
    while (c) {
        struct rbgw_arena_chunk *next = c->next;
        if (keep == NULL && c->size == ARENA_CHUNK) {
            keep = c;
        } else {
            free(c);
        }
        c = next;
    }
    rbgw_arena_init(a);
    if (keep) {
        keep->next = NULL;
        a->head = keep;
        a->pos = keep->mem;
        a->end = keep->mem + keep->size;
    }
}

void *
rbgw_arena_alloc(struct rbgw_arena *a, size_t n)
{
    n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (n == 0) {
        n = ARENA_ALIGN;
    }
    if (a->pos && (size_t)(a->end - a->pos) >= n) {
        void *p = a->pos;
        a->pos += n;
        return p;
    }
    if (n > ARENA_CHUNK / 2) {
        /* A big block gets a chunk of its own behind the current head, so the head's free
         * tail stays usable. */
        struct rbgw_arena_chunk *c = rbgw_xmalloc(sizeof(*c) + n);
        c->size = n;
        if (a->head) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = NULL;
            a->head = c;
            a->pos = a->end = c->mem + n;
        }
        return c->mem;
    }
    struct rbgw_arena_chunk *c = rbgw_xmalloc(sizeof(*c) + ARENA_CHUNK);
    c->size = ARENA_CHUNK;
    c->next = a->head;
    a->head = c;
    a->pos = c->mem + n;
    a->end = c->mem + ARENA_CHUNK;
    return c->mem;
}

void *
rbgw_arena_calloc(struct rbgw_arena *a, size_t n)
{
    void *p = rbgw_arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *
rbgw_arena_memdup(struct rbgw_arena *a, const void *p, size_t n)
{
    char *d = rbgw_arena_alloc(a, n + 1);
    if (n) {
        memcpy(d, p, n);
    }
    d[n] = '\0';
    return d;
}

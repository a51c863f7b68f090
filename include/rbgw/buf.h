/*
 * buf.h: byte views, growable buffers and the per-request arena.
 *
 * rbgw_str   a (pointer, length) view into memory someone else owns; never NUL-terminated by
 *            contract (h2o_iovec_t).  Parsed tokens are views into the input buffer.
 * rbgw_buf   a growable byte buffer that owns its memory: append at the end, consume at the
 *            front (h2o_buffer_reserve/consume).  data[len] is always a NUL byte when cap > 0,
 *            so a buffer can be handed to functions that want C strings.
 * rbgw_arena a bump allocator: many small allocations, one release (h2o_mem_pool_t, nginx
 *            ngx_pool_t).  Each request owns one; its JSON tree and encoded bytes live there.
 */
#ifndef RBGW_BUF_H
#define RBGW_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "rbgw/common.h"

struct rbgw_str {
    const char *p; /* first byte; may be NULL when len == 0 */
    size_t len;    /* number of bytes */
};

#define RBGW_STR(lit) ((struct rbgw_str){(lit), sizeof(lit) - 1})
#define RBGW_STR_NULL ((struct rbgw_str){NULL, 0})

static inline struct rbgw_str
rbgw_str_make(const char *p, size_t len)
{
    struct rbgw_str s = {p, len};
    return s;
}

static inline struct rbgw_str
rbgw_str_cstr(const char *s)
{
    return rbgw_str_make(s, s ? strlen(s) : 0);
}

static inline bool
rbgw_str_eq(struct rbgw_str a, struct rbgw_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static inline bool
rbgw_str_eq_cstr(struct rbgw_str a, const char *b)
{
    return rbgw_str_eq(a, rbgw_str_cstr(b));
}

/** ASCII case-insensitive equality. */
bool rbgw_str_caseeq(struct rbgw_str a, struct rbgw_str b);

struct rbgw_buf {
    char *data; /* owned; NULL until the first append */
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated (one more is always kept for a NUL) */
};

#define RBGW_BUF_INIT                                                                              \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void rbgw_buf_init(struct rbgw_buf *b);
void rbgw_buf_free(struct rbgw_buf *b);
/** rbgw_buf_reserve when the buffer must grow (or has no memory yet). */
char *rbgw__buf_grow(struct rbgw_buf *b, size_t n);

/*
 * The appends are inline: translation and reply assembly make dozens per call, nearly all
 * into a buffer that already has room, and the room test is two loads and a compare.
 */

/** Make room for n more bytes and return where they go; len is unchanged. */
static inline char *
rbgw_buf_reserve(struct rbgw_buf *b, size_t n)
{
    if (b->data != NULL && b->cap - b->len > n) {
        return b->data + b->len;
    }
    return rbgw__buf_grow(b, n);
}

static inline void
rbgw_buf_append(struct rbgw_buf *b, const void *p, size_t n)
{
    char *dst = rbgw_buf_reserve(b, n);
    if (n) {
        memcpy(dst, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
}

static inline void
rbgw_buf_append_str(struct rbgw_buf *b, struct rbgw_str s)
{
    rbgw_buf_append(b, s.p, s.len);
}

static inline void
rbgw_buf_putc(struct rbgw_buf *b, char c)
{
    char *dst = rbgw_buf_reserve(b, 1);
    *dst = c;
    b->len++;
    b->data[b->len] = '\0';
}

void rbgw_buf_append_cstr(struct rbgw_buf *b, const char *s);
void rbgw_buf_printf(struct rbgw_buf *b, const char *fmt, ...) RBGW_PRINTF(2, 3);
void rbgw_buf_vprintf(struct rbgw_buf *b, const char *fmt, va_list ap) RBGW_PRINTF(2, 0);
/** Drop n bytes from the front (memmove of the rest). */
void rbgw_buf_consume(struct rbgw_buf *b, size_t n);
/** len = 0, memory kept. */
void rbgw_buf_reset(struct rbgw_buf *b);
/**
 * len = 0, memory kept only if it is at most keep bytes: a buffer that one large message grew
 * does not hold that memory for as long as its owner (a kept-alive connection) lives.
 */
void rbgw_buf_reset_max(struct rbgw_buf *b, size_t keep);

static inline struct rbgw_str
rbgw_buf_str(const struct rbgw_buf *b)
{
    return rbgw_str_make(b->data, b->len);
}

struct rbgw_arena_chunk;

struct rbgw_arena {
    struct rbgw_arena_chunk *head; /* owned; newest chunk first */
    char *pos;                     /* next free byte in head */
    char *end;                     /* end of head's usable space */
};

#define RBGW_ARENA_INIT                                                                            \
    {                                                                                              \
        NULL, NULL, NULL                                                                           \
    }

void rbgw_arena_init(struct rbgw_arena *a);
/** Free everything the arena handed out; the arena can be used again afterwards. */
void rbgw_arena_free(struct rbgw_arena *a);
/** Like rbgw_arena_free, but keep one standard chunk for the next user (a recycled request). */
void rbgw_arena_reset(struct rbgw_arena *a);
/** Aligned to 16 bytes; never NULL (aborts on OOM). */
void *rbgw_arena_alloc(struct rbgw_arena *a, size_t n);
void *rbgw_arena_calloc(struct rbgw_arena *a, size_t n);
/** Copy n bytes and add a NUL; returns the copy. */
char *rbgw_arena_memdup(struct rbgw_arena *a, const void *p, size_t n);

#endif

/*
 * util.c: error names, checked allocation, clocks: the small things every module needs.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "rbgw/buf.h"
#include "rbgw/common.h"

const char *
rbgw_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define RBGW_X(name, val, text)                                                                    \
    case RBGW_##name:                                                                              \
        return text;
        RBGW_ERRNO_MAP(RBGW_X)
#undef RBGW_X
    default:
        return uv_strerror(err);
    }
}

void
rbgw_assert_fail(const char *cond, const char *file, int line)
{
    fprintf(stderr, "rbgw: assertion failed: %s (%s:%d)\n", cond, file, line);
    abort();
}

static _Noreturn void
oom(size_t n)
{
    fprintf(stderr, "rbgw: out of memory allocating %zu bytes\n", n);
    abort();
}

void *
rbgw_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        oom(n);
    }
    return p;
}

void *
rbgw_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL) {
        oom(n * size);
    }
    return p;
}

void *
rbgw_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        oom(n);
    }
    return q;
}

char *
rbgw_xstrndup(const char *s, size_t n)
{
    char *p = rbgw_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
rbgw_xstrdup(const char *s)
{
    return rbgw_xstrndup(s, strlen(s));
}

uint64_t
rbgw_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool
rbgw_str_caseeq(struct rbgw_str a, struct rbgw_str b)
{
    if (a.len != b.len) {
        return false;
    }
    for (size_t i = 0; i < a.len; i++) {
        unsigned char x = (unsigned char)a.p[i], y = (unsigned char)b.p[i];
        if (x >= 'A' && x <= 'Z') {
            x = (unsigned char)(x + 32);
        }
        if (y >= 'A' && y <= 'Z') {
            y = (unsigned char)(y + 32);
        }
        if (x != y) {
            return false;
        }
    }
    return true;
}

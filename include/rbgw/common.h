/*
 * common.h: forward declarations, error codes and the few macros every module uses.
 *
 * Error convention (libuv's): functions return int, 0 on success, a negative code on failure.
 * Negative codes are either libuv's UV_E* (passed through from the OS) or RBGW_E* below, which
 * live in a range of their own.  A function that takes a callback and fails synchronously never
 * calls that callback.  rbgw_strerror() names both families.
 */
#ifndef RBGW_COMMON_H
#define RBGW_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define RBGW_MUSTCHECK __attribute__((warn_unused_result))
#define RBGW_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define RBGW_UNUSED(x) ((void)(x))
#define RBGW_NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define rbgw_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Invariants.  Always compiled in: a broken invariant in a proxy is better as a core dump. */
#define RBGW_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            rbgw_assert_fail(#cond, __FILE__, __LINE__);                                           \
        }                                                                                          \
    } while (0)

/*
 * RBGW_E*: distinct from UV_E* (which are small negative errno values).  The second group are
 * the ways an upstream call can fail: the pool hands one of them to call->done as the status,
 * and outcome.h names and classifies them.  ENOUPSTREAM is not a call's: it says that a request
 * was answered false before any upstream could be tried (outcome.h, answer classes).
 */
#define RBGW_ERRNO_MAP(X)                                                                          \
    X(EPARSE, -30001, "malformed input")                                                           \
    X(ECONFIG, -30006, "configuration error")                                                      \
    X(ENOTSUP, -30007, "not supported")                                                            \
    X(ETIMEDOUT, -30003, "timed out")                                                              \
    X(ECONNECT, -30011, "could not connect")                                                       \
    X(ECLOSED, -30004, "connection closed")                                                        \
    X(ETOOBIG, -30002, "reply too large")                                                          \
    X(EQUEUE, -30009, "queue full")                                                                \
    X(EQTIMEDOUT, -30012, "no connection became free")                                             \
    X(ESHUTDOWN, -30010, "shutting down")                                                          \
    X(EPROTO, -30005, "protocol error")                                                            \
    X(ELOCAL, -30013, "rbgw out of resources")                                                     \
    X(EBACKOFF, -30014, "backing off")                                                             \
    X(ENOUPSTREAM, -30015, "no upstream could be tried")

enum rbgw_errno {
#define RBGW_X(name, val, text) RBGW_##name = val,
    RBGW_ERRNO_MAP(RBGW_X)
#undef RBGW_X
};

/** Text for an RBGW_E* or UV_E* code; never NULL. */
const char *rbgw_strerror(int err);

/** Report a failed RBGW_ASSERT and abort. */
_Noreturn void rbgw_assert_fail(const char *cond, const char *file, int line);

/* Small allocations abort on failure (redis, h2o): request sizes are capped by configuration,
 * so running out of memory for a few hundred bytes is not a condition worth unwinding. */
void *rbgw_xmalloc(size_t n);
void *rbgw_xcalloc(size_t n, size_t size);
void *rbgw_xrealloc(void *p, size_t n);
char *rbgw_xstrdup(const char *s);
char *rbgw_xstrndup(const char *s, size_t n);

/** Monotonic clock in nanoseconds (for latency logs; deadlines use the loop's time). */
uint64_t rbgw_now_ns(void);

/* Forward declarations of the objects modules pass to each other. */
struct rbgw_buf;
struct rbgw_arena;
struct rbgw_json;
struct rbgw_connstr;
struct rbgw_config;
struct rbgw_request;
struct rbgw_listener;
struct rbgw_upstream;
struct rbgw_gateway;

#endif

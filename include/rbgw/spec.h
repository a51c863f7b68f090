/*
 * spec.h: speculative reads, HAProxy's "speculative I/O" for a request/reply relay.
 *
 * After rbgw writes a call to a responder (or a reply to pdns), the peer usually answers at
 * once, and when the peer shares the CPU the kernel even runs it before our write returns: the
 * answer is already in the socket.  Reading it right away saves going through epoll_wait for
 * it (a system call, and a loop iteration, per direction).  When the peer is not that quick
 * the read finds nothing (EAGAIN), which costs one system call; a stream whose speculative
 * reads keep missing backs off exponentially (up to 64 writes between tries), so a miss
 * costs at most about 1/64 of a system call per call in the long run.
 *
 * Reads never happen inside the write path: that would nest without bound (a reply read
 * speculatively is written to pdns, whose next call, read speculatively, is written to the
 * responder, ...).  The stream is queued instead, and the queue is drained when the outermost
 * read callback returns (rbgw_spec_leave), at most RBGW_SPEC_BUDGET reads per drain, so that
 * other streams and timers get their turn in the loop.  Every queued stream is still polled
 * by libuv as usual, so a read that never comes loses nothing.
 *
 *   on_read(A) ─enter─> ... write to B ─rbgw_spec_after_write(B)─> queue [B]
 *              ─leave─> drain: B->try_read: read(B) hit ─> on_read(B) ─> write to A ─> queue [A]
 *                              A->try_read: read(A) hit ─> ...          (budget permitting)
 */
#ifndef RBGW_SPEC_H
#define RBGW_SPEC_H

#include "rbgw/common.h"
#include "rbgw/list.h"

#define RBGW_SPEC_BUDGET 16 /* speculative reads per drain */
#define RBGW_SPEC_MAX_BACKOFF 64

struct rbgw_spec_item;
/** Read the stream once, call rbgw_spec_hit or rbgw_spec_miss, then hand any data (or EOF,
 * or an error) to the stream's read callback; the item may be gone afterwards. */
typedef void (*rbgw_spec_read_cb)(struct rbgw_spec_item *it);

struct rbgw_spec_item {
    struct rbgw_list link;      /* in the queue while queued */
    rbgw_spec_read_cb try_read; /* the owner's read */
    uint8_t backoff;            /* writes to skip after the next miss */
    uint8_t skip;               /* writes left to skip before trying again */
};

/* Per loop (one in the gateway). */
struct rbgw_spec {
    struct rbgw_list queue; /* items to read, oldest first */
    int depth;              /* read callbacks on the stack */
    bool draining;          /* rbgw_spec_leave is draining the queue */
    bool enabled;           /* speculative-reads=yes */
    uint64_t hits, misses;  /* counters, for logs and tests */
};

void rbgw_spec_init(struct rbgw_spec *sp, bool enabled);
void rbgw_spec_item_init(struct rbgw_spec_item *it, rbgw_spec_read_cb try_read);
/** A read callback starts; pair with rbgw_spec_leave. */
void rbgw_spec_enter(struct rbgw_spec *sp);
/** A read callback ends; the outermost one drains the queue. */
void rbgw_spec_leave(struct rbgw_spec *sp);
/** Something was written on the item's connection that its peer will answer. */
void rbgw_spec_after_write(struct rbgw_spec *sp, struct rbgw_spec_item *it);
/** Forget the item (its stream is closing or stops reading).  Idempotent. */
void rbgw_spec_cancel(struct rbgw_spec_item *it);
/** The item's speculative read found data / found nothing. */
void rbgw_spec_hit(struct rbgw_spec *sp, struct rbgw_spec_item *it);
void rbgw_spec_miss(struct rbgw_spec *sp, struct rbgw_spec_item *it);

#endif

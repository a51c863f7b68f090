/*
 * wbatch.h: writes deferred to the end of the event loop's current pass, then made together.
 *
 * On a loaded gateway one epoll wake-up reports several ready connections.  Writing each reply
 * (and each upstream request) at once wakes its reader while rbgw still has the rest of the
 * batch to do; on a shared CPU the woken process then often preempts rbgw, and every call pays
 * two more context switches.  Queued here instead, the reads of the whole batch are done
 * first and the writes follow back to back, so one wake-up of a reader covers what it has
 * been sent in the meantime.  With one call in flight nothing changes but where the write is
 * made (one pass later in the same iteration; no system call is added).
 *
 *   poll phase: read, parse, dispatch ... rbgw__wbatch_add(item)     (nothing written yet)
 *   check phase (after the poll callbacks): item->flush() for each, in queue order
 *   prepare phase (before the loop may block): the same, for items queued by timers
 *
 * A writer embeds an item, keeps its own bytes until its flush runs (or copies them into the
 * batch's shared byte buffer, rbgw__wbatch_copy, when they live no longer than the callback),
 * and removes the item when it closes.  The flush writes as the writer would have at once
 * (uv_try_write, a queued uv_write for what the socket does not take).  Once the gateway is
 * stopping (its handles closed), an add flushes at once.
 */
#ifndef RBGW_WBATCH_H
#define RBGW_WBATCH_H

#include <uv.h>

#include "rbgw/buf.h"
#include "rbgw/list.h"

/* The largest write worth deferring by copying it into the batch: a bigger one (a zone
 * transfer's reply) gains nothing from batching and would cost a copy of its size. */
#define RBGW_WBATCH_MAX_COPY (64 * 1024)

struct rbgw_wbatch_item;
typedef void (*rbgw_wbatch_flush_cb)(struct rbgw_wbatch_item *it);

/* One writer's pending write. */
struct rbgw_wbatch_item {
    struct rbgw_list link;      /* on the batch's queue while pending; unlinked otherwise */
    rbgw_wbatch_flush_cb flush; /* writes the pending bytes; may queue items again */
};

/* The gateway's batch (one per loop). */
struct rbgw_wbatch {
    uv_check_t check;       /* flushes after the poll phase */
    uv_prepare_t prepare;   /* flushes what timers queued, before the loop blocks */
    struct rbgw_list queue; /* pending items, in the order they were added */
    struct rbgw_buf bytes;  /* bytes copied for pending items (rbgw__wbatch_copy) */
    bool inited;            /* handles initialised (on first use) */
    bool closed;            /* handles closed: adds flush at once */
};

/** Prepare an item (unlinked) with its flush function. */
void rbgw__wbatch_item_init(struct rbgw_wbatch_item *it, rbgw_wbatch_flush_cb flush);

/** Queue it (no-op if it is queued already); loop: the gateway's loop, for the handles. */
void rbgw__wbatch_add(struct rbgw_wbatch *b, uv_loop_t *loop, struct rbgw_wbatch_item *it);

/** Drop it from the queue if it is there (its owner is closing or wrote another way). */
void rbgw__wbatch_remove(struct rbgw_wbatch_item *it);

static inline bool
rbgw__wbatch_queued(const struct rbgw_wbatch_item *it)
{
    return rbgw_list_linked(&it->link);
}

/** Copy n bytes into the batch's buffer; their offset (valid until the queue is empty). */
size_t rbgw__wbatch_copy(struct rbgw_wbatch *b, const void *p, size_t n);

/** The bytes at an offset rbgw__wbatch_copy returned. */
static inline const char *
rbgw__wbatch_at(const struct rbgw_wbatch *b, size_t off)
{
    return b->bytes.data + off;
}

/** Flush everything now, close the handles (gateway stop); later adds flush at once. */
void rbgw__wbatch_close(struct rbgw_wbatch *b);

/** Free the byte buffer (after close, at gateway deinit). */
void rbgw__wbatch_free(struct rbgw_wbatch *b);

#endif

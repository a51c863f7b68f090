/*
 * wbatch.c: writes deferred to the end of the loop pass (see wbatch.h for why).
 *
 * Two handles share one flush: a check handle (after the poll callbacks: the case that
 * batches) and a prepare handle (before the loop may block: for items queued by timer and
 * close callbacks, so no write ever waits for the next event).  Both stay started from the
 * first add on; the prepare handle is referenced only while something is queued, so a pending
 * write keeps the loop alive and an empty batch does not.  (Starting and stopping both per
 * batch cost ~190 instructions a call; a reference flip and an empty callback per loop pass
 * cost ~60.)  The flush
 * takes items off the front one at a time, so a flush that queues more (a reply that lets the
 * next buffered call be dispatched) and an owner that removes its item meanwhile are both
 * safe; it runs until the queue is empty, then the byte buffer is emptied (its memory kept up
 * to a bound).
 */
#include "rbgw/wbatch.h"

/* Bytes kept by the buffer between batches; a bigger one (a burst of large replies) is freed. */
#define WBATCH_KEEP RBGW_WBATCH_MAX_COPY

static void
flush_all(struct rbgw_wbatch *b)
{
    if (rbgw_list_empty(&b->queue)) {
        return;
    }
    do {
        struct rbgw_wbatch_item *it =
            rbgw_container_of(b->queue.next, struct rbgw_wbatch_item, link);
        rbgw_list_remove(&it->link);
        it->flush(it);
    } while (!rbgw_list_empty(&b->queue));
    rbgw_buf_reset_max(&b->bytes, WBATCH_KEEP);
    if (!b->closed) {
        uv_unref((uv_handle_t *)&b->prepare);
    }
}

static void
on_check(uv_check_t *h)
{
    flush_all(h->data);
}

static void
on_prepare(uv_prepare_t *h)
{
    flush_all(h->data);
}

void
rbgw__wbatch_item_init(struct rbgw_wbatch_item *it, rbgw_wbatch_flush_cb flush)
{
    rbgw_list_init(&it->link);
    it->flush = flush;
}

void
rbgw__wbatch_add(struct rbgw_wbatch *b, uv_loop_t *loop, struct rbgw_wbatch_item *it)
{
    if (b->closed) {
        it->flush(it);
        return;
    }
    if (!b->inited) {
        rbgw_list_init(&b->queue);
        uv_check_init(loop, &b->check);
        uv_prepare_init(loop, &b->prepare);
        b->check.data = b;
        b->prepare.data = b;
        uv_check_start(&b->check, on_check);
        uv_prepare_start(&b->prepare, on_prepare);
        uv_unref((uv_handle_t *)&b->check);
        uv_unref((uv_handle_t *)&b->prepare);
        b->inited = true;
    }
    if (rbgw__wbatch_queued(it)) {
        return;
    }
    if (rbgw_list_empty(&b->queue)) {
        uv_ref((uv_handle_t *)&b->prepare);
    }
    rbgw_list_push_back(&b->queue, &it->link);
}

void
rbgw__wbatch_remove(struct rbgw_wbatch_item *it)
{
    if (rbgw__wbatch_queued(it)) {
        rbgw_list_remove(&it->link);
    }
}

size_t
rbgw__wbatch_copy(struct rbgw_wbatch *b, const void *p, size_t n)
{
    size_t off = b->bytes.len;
    rbgw_buf_append(&b->bytes, p, n);
    return off;
}

void
rbgw__wbatch_close(struct rbgw_wbatch *b)
{
    if (b->closed) {
        return;
    }
    if (b->inited) {
        flush_all(b);
        uv_close((uv_handle_t *)&b->check, NULL);
        uv_close((uv_handle_t *)&b->prepare, NULL);
    }
    b->closed = true;
}

void
rbgw__wbatch_free(struct rbgw_wbatch *b)
{
    rbgw_buf_free(&b->bytes);
}

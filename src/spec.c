/*
 * spec.c: speculative reads (see spec.h for the model and why).
 */
#include "rbgw/spec.h"

void
rbgw_spec_init(struct rbgw_spec *sp, bool enabled)
{
    rbgw_list_init(&sp->queue);
    sp->depth = 0;
    sp->draining = false;
    sp->enabled = enabled;
    sp->hits = sp->misses = 0;
}

void
rbgw_spec_item_init(struct rbgw_spec_item *it, rbgw_spec_read_cb try_read)
{
    rbgw_list_init(&it->link);
    it->try_read = try_read;
    it->backoff = 0;
    it->skip = 0;
}

void
rbgw_spec_enter(struct rbgw_spec *sp)
{
    sp->depth++;
}

void
rbgw_spec_leave(struct rbgw_spec *sp)
{
    RBGW_ASSERT(sp->depth > 0);
    if (--sp->depth > 0 || sp->draining) {
        return;
    }
    sp->draining = true;
    for (int budget = RBGW_SPEC_BUDGET; budget > 0 && !rbgw_list_empty(&sp->queue); budget--) {
        struct rbgw_list *n = sp->queue.next;
        rbgw_list_remove(n);
        struct rbgw_spec_item *it = rbgw_list_entry(n, struct rbgw_spec_item, link);
        sp->depth++;
        it->try_read(it); /* may queue more items, may free it */
        sp->depth--;
    }
    sp->draining = false;
}

void
rbgw_spec_after_write(struct rbgw_spec *sp, struct rbgw_spec_item *it)
{
    if (!sp->enabled || rbgw_list_linked(&it->link)) {
        return;
    }
    if (it->skip > 0) {
        it->skip--;
        return;
    }
    rbgw_list_push_back(&sp->queue, &it->link);
}

void
rbgw_spec_cancel(struct rbgw_spec_item *it)
{
    if (rbgw_list_linked(&it->link)) {
        rbgw_list_remove(&it->link);
    }
}

void
rbgw_spec_hit(struct rbgw_spec *sp, struct rbgw_spec_item *it)
{
    sp->hits++;
    it->backoff = 0;
    it->skip = 0;
}

void
rbgw_spec_miss(struct rbgw_spec *sp, struct rbgw_spec_item *it)
{
    sp->misses++;
    /* 1, 3, 7, ... 63 writes without trying, then one try */
    it->backoff = (uint8_t)(it->backoff * 2 + 1);
    if (it->backoff >= RBGW_SPEC_MAX_BACKOFF) {
        it->backoff = RBGW_SPEC_MAX_BACKOFF - 1;
    }
    it->skip = it->backoff;
}

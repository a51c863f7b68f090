/*
 * list.h: intrusive circular doubly linked lists (libuv's QUEUE, the Linux kernel's list_head).
 * An object sits on at most one list per embedded node; removal is O(1) and needs no search.
 */
#ifndef RBGW_LIST_H
#define RBGW_LIST_H

#include <stdbool.h>

struct rbgw_list {
    struct rbgw_list *prev; /* previous node, or the head itself */
    struct rbgw_list *next; /* next node, or the head itself */
};

static inline void
rbgw_list_init(struct rbgw_list *h)
{
    h->prev = h->next = h;
}

static inline bool
rbgw_list_empty(const struct rbgw_list *h)
{
    return h->next == h;
}

/** A node that was initialised or removed is on no list. */
static inline bool
rbgw_list_linked(const struct rbgw_list *n)
{
    return n->next != n;
}

static inline void
rbgw_list_insert_after(struct rbgw_list *pos, struct rbgw_list *n)
{
    n->prev = pos;
    n->next = pos->next;
    pos->next->prev = n;
    pos->next = n;
}

static inline void
rbgw_list_push_front(struct rbgw_list *h, struct rbgw_list *n)
{
    rbgw_list_insert_after(h, n);
}

static inline void
rbgw_list_push_back(struct rbgw_list *h, struct rbgw_list *n)
{
    rbgw_list_insert_after(h->prev, n);
}

static inline void
rbgw_list_remove(struct rbgw_list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

#define rbgw_list_entry(ptr, type, member) rbgw_container_of(ptr, type, member)

#endif

/*
 * test_spec.c: the speculative-read queue (spec.h), driven by scripted fake streams.
 *
 * What: a write queues the stream and the read happens only when the outermost read callback
 * returns, never nested; a stream is queued once however often it is written; a drain stops
 * after RBGW_SPEC_BUDGET reads even when every read leads to another write; misses back off
 * 1, 3, 7, ... 63 writes and a hit resets that; cancel and a disabled queue read nothing.
 *
 * Why scripted: each fake stream says whether its next read "finds data" and what it then
 * does (write to another stream, as a relay does), so every rule is checked without sockets
 * or timing.
 */
#include <criterion/criterion.h>

#include "rbgw/spec.h"

struct fake {
    struct rbgw_spec_item it;
    struct rbgw_spec *sp;
    int reads;              /* try_read calls */
    int depth_seen;         /* sp->depth during the last read */
    bool has_data;          /* the next read finds data */
    struct fake *writes_to; /* on data: "relay" by writing to this stream */
};

static void
fake_read(struct rbgw_spec_item *it)
{
    struct fake *f = rbgw_container_of(it, struct fake, it);
    f->reads++;
    f->depth_seen = f->sp->depth;
    if (!f->has_data) {
        rbgw_spec_miss(f->sp, it);
        return;
    }
    rbgw_spec_hit(f->sp, it);
    /* what the stream's read callback would do: enter, handle, write, leave */
    rbgw_spec_enter(f->sp);
    if (f->writes_to) {
        rbgw_spec_after_write(f->sp, &f->writes_to->it);
    }
    rbgw_spec_leave(f->sp);
}

static void
fake_init(struct fake *f, struct rbgw_spec *sp)
{
    *f = (struct fake){.sp = sp};
    rbgw_spec_item_init(&f->it, fake_read);
}

Test(spec, read_waits_for_the_outermost_callback)
{
    struct rbgw_spec sp;
    rbgw_spec_init(&sp, true);
    struct fake a;
    fake_init(&a, &sp);
    rbgw_spec_enter(&sp); /* a read callback */
    rbgw_spec_enter(&sp); /* ... that runs another */
    rbgw_spec_after_write(&sp, &a.it);
    rbgw_spec_after_write(&sp, &a.it); /* queued once */
    cr_expect_eq(a.reads, 0, "read inside the write path");
    rbgw_spec_leave(&sp);
    cr_expect_eq(a.reads, 0, "read before the outermost callback returned");
    rbgw_spec_leave(&sp);
    cr_expect_eq(a.reads, 1, "queued stream read %d times, want 1", a.reads);
    cr_expect_eq(a.depth_seen, 1, "the read runs as a callback (depth %d)", a.depth_seen);
    cr_expect_eq(sp.depth, 0);
    cr_expect_eq(sp.misses, 1);
}

Test(spec, relay_ping_pong_is_bounded_by_the_budget)
{
    struct rbgw_spec sp;
    rbgw_spec_init(&sp, true);
    struct fake client, upstream;
    fake_init(&client, &sp);
    fake_init(&upstream, &sp);
    /* every read finds data and writes to the other side, like a relay in full flow */
    client.has_data = upstream.has_data = true;
    client.writes_to = &upstream;
    upstream.writes_to = &client;
    rbgw_spec_enter(&sp);
    rbgw_spec_after_write(&sp, &upstream.it);
    rbgw_spec_leave(&sp);
    cr_expect_eq(client.reads + upstream.reads, RBGW_SPEC_BUDGET, "%d reads in one drain, want %d",
                 client.reads + upstream.reads, RBGW_SPEC_BUDGET);
    cr_expect_eq(upstream.reads, RBGW_SPEC_BUDGET / 2);
    cr_expect_eq(sp.hits, (uint64_t)RBGW_SPEC_BUDGET);
    /* the rest stays queued for the next drain, and is not lost */
    cr_expect(rbgw_list_linked(&upstream.it.link) || rbgw_list_linked(&client.it.link));
    rbgw_spec_enter(&sp);
    rbgw_spec_leave(&sp);
    cr_expect_eq(client.reads + upstream.reads, 2 * RBGW_SPEC_BUDGET);
}

Test(spec, misses_back_off_and_a_hit_resets)
{
    struct rbgw_spec sp;
    rbgw_spec_init(&sp, true);
    struct fake a;
    fake_init(&a, &sp);
    /* writes between tries after each miss: 1, 3, 7, 15, 31, 63, 63 */
    static const int gaps[] = {1, 3, 7, 15, 31, 63, 63};
    const size_t ngaps = sizeof(gaps) / sizeof(gaps[0]);
    for (size_t k = 0; k <= ngaps; k++) {
        int before = a.reads;
        int w = 0;
        while (a.reads == before) {
            rbgw_spec_enter(&sp);
            rbgw_spec_after_write(&sp, &a.it);
            rbgw_spec_leave(&sp);
            w++;
            cr_assert_lt(w, 100, "no read within 100 writes");
        }
        if (k > 0) {
            cr_expect_eq(w - 1, gaps[k - 1], "after miss %zu: %d writes skipped, want %d", k, w - 1,
                         gaps[k - 1]);
        }
    }
    cr_expect_eq(sp.misses, ngaps + 1);
    /* a hit: the next write is tried at once */
    a.has_data = true;
    int before = a.reads;
    for (int w = 0; w <= 63 && a.reads == before; w++) {
        rbgw_spec_enter(&sp);
        rbgw_spec_after_write(&sp, &a.it);
        rbgw_spec_leave(&sp);
    }
    cr_assert_eq(sp.hits, 1);
    rbgw_spec_enter(&sp);
    rbgw_spec_after_write(&sp, &a.it);
    rbgw_spec_leave(&sp);
    cr_expect_eq(a.reads, before + 2, "after a hit the next write is read at once");
}

Test(spec, cancel_and_disabled_read_nothing)
{
    struct rbgw_spec sp;
    rbgw_spec_init(&sp, true);
    struct fake a, b;
    fake_init(&a, &sp);
    fake_init(&b, &sp);
    rbgw_spec_enter(&sp);
    rbgw_spec_after_write(&sp, &a.it);
    rbgw_spec_after_write(&sp, &b.it);
    rbgw_spec_cancel(&a.it); /* its stream closes before the drain */
    rbgw_spec_cancel(&a.it); /* idempotent */
    rbgw_spec_leave(&sp);
    cr_expect_eq(a.reads, 0, "a cancelled stream was read");
    cr_expect_eq(b.reads, 1);

    struct rbgw_spec off;
    rbgw_spec_init(&off, false);
    struct fake c;
    fake_init(&c, &off);
    rbgw_spec_enter(&off);
    rbgw_spec_after_write(&off, &c.it);
    rbgw_spec_leave(&off);
    cr_expect_eq(c.reads, 0, "speculative-reads=no still read");
}

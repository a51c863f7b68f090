/*
 * test_buf.c: growable buffers, string views and the request arena.
 *
 * What: rbgw_buf keeps data[len] == '\0' after every operation, grows across its first 256-byte
 * allocation and every doubling (append, reserve, printf of any size at any fill level), and
 * consume/reset keep the bytes and capacity they promise.  rbgw_arena returns 16-byte aligned,
 * non-overlapping blocks for any mix of small and big (> 2 KiB, own chunk) requests, zeroes on
 * calloc, copies with a NUL on memdup, and is reusable after free.
 *
 * Why fill-and-verify patterns: overlapping arena blocks or a buffer that loses bytes on growth
 * show up only when every byte handed out is written and read back afterwards.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "rbgw/buf.h"

static void
expect_terminated(const struct rbgw_buf *b, const char *what)
{
    cr_expect_not_null(b->data, "%s: data NULL", what);
    if (b->data) {
        cr_expect_eq(b->data[b->len], '\0', "%s: data[len] is not NUL", what);
        cr_expect_gt(b->cap, b->len, "%s: cap %zu <= len %zu", what, b->cap, b->len);
    }
}

/* ---- rbgw_str ---- */

struct caseeq_case {
    const char *a;
    const char *b;
    bool eq;
    bool caseeq;
};

static const struct caseeq_case caseeqs[] = {
    {"", "", true, true},
    {"a", "a", true, true},
    {"Content-Length", "content-length", false, true},
    {"X-REMOTEBACKEND-ZONE-ID", "x-remotebackend-zone-id", false, true},
    {"abc", "abd", false, false},
    {"abc", "ab", false, false},
    {"ab", "abc", false, false},
    {"@", "`", false, false},       /* 0x40 vs 0x60: not a letter pair */
    {"[", "{", false, false},       /* 0x5b vs 0x7b */
    {"\xc4", "\xe4", false, false}, /* Latin-1 letters are not ASCII */
};

Test(buf, str_equality_table)
{
    for (size_t i = 0; i < RBGW_NELEM(caseeqs); i++) {
        const struct caseeq_case *c = &caseeqs[i];
        struct rbgw_str a = rbgw_str_cstr(c->a), b = rbgw_str_cstr(c->b);
        cr_expect_eq(rbgw_str_eq(a, b), c->eq, "eq('%s','%s')", c->a, c->b);
        cr_expect_eq(rbgw_str_caseeq(a, b), c->caseeq, "caseeq('%s','%s')", c->a, c->b);
        cr_expect_eq(rbgw_str_caseeq(b, a), c->caseeq, "caseeq('%s','%s')", c->b, c->a);
    }
    cr_expect(rbgw_str_eq(RBGW_STR_NULL, RBGW_STR("")), "NULL view equals empty literal");
    cr_expect(rbgw_str_eq(rbgw_str_cstr(NULL), RBGW_STR_NULL));
    cr_expect(rbgw_str_eq(RBGW_STR("a\0b"), rbgw_str_make("a\0b", 3)), "embedded NUL");
    cr_expect_not(rbgw_str_eq(RBGW_STR("a\0b"), RBGW_STR("a\0c")), "bytes after NUL compared");
    cr_expect(rbgw_str_eq_cstr(RBGW_STR("abc"), "abc"));
    cr_expect_not(rbgw_str_eq_cstr(RBGW_STR("abc"), "abcd"));
}

/* ---- rbgw_buf ---- */

Test(buf, init_and_free)
{
    struct rbgw_buf a = RBGW_BUF_INIT, b;
    memset(&b, 0xa5, sizeof(b));
    rbgw_buf_init(&b);
    cr_expect_null(a.data);
    cr_expect_null(b.data);
    cr_expect_eq(b.len, 0);
    cr_expect_eq(b.cap, 0);
    rbgw_buf_append(&b, "xy", 2);
    rbgw_buf_free(&b);
    cr_expect_null(b.data, "free leaves data NULL");
    cr_expect_eq(b.len, 0);
    cr_expect_eq(b.cap, 0);
    rbgw_buf_free(&b); /* twice is fine */
    rbgw_buf_append(&b, "z", 1);
    cr_expect_str_eq(b.data, "z", "usable again after free");
    rbgw_buf_free(&b);
}

Test(buf, append_grows_byte_by_byte)
{
    struct rbgw_buf b = RBGW_BUF_INIT;
    size_t last_cap = 0, grows = 0;
    for (size_t i = 0; i < 20000; i++) {
        rbgw_buf_putc(&b, (char)('a' + i % 26));
        if (b.cap != last_cap) {
            grows++;
            last_cap = b.cap;
        }
        if (b.len != i + 1 || b.data[b.len] != '\0') {
            cr_expect_eq(b.len, i + 1, "putc %zu: len", i);
            cr_expect_eq(b.data[b.len], '\0', "putc %zu: not NUL-terminated", i);
            break;
        }
    }
    for (size_t i = 0; i < b.len; i++) {
        if (b.data[i] != (char)('a' + i % 26)) {
            cr_expect_eq(b.data[i], (char)('a' + i % 26), "byte %zu lost on growth", i);
            break;
        }
    }
    /* Geometric growth: 20000 bytes need far fewer than 20000 reallocations. */
    cr_expect_leq(grows, 16, "%zu capacity changes for 20000 bytes", grows);
    rbgw_buf_free(&b);
}

struct append_step {
    const char *what;
    size_t n; /* bytes appended in this step (pattern continues across steps) */
};

static const struct append_step steps[] = {
    {"zero", 0},        {"one", 1},        {"to 255", 254},    {"to 256", 1},   {"to 257", 1},
    {"big jump", 5000}, {"zero again", 0}, {"to 10239", 5238}, {"to 10240", 1}, {"huge", 1 << 20},
};

Test(buf, append_and_str_table)
{
    struct rbgw_buf b = RBGW_BUF_INIT;
    size_t total = 0;
    char *src = rbgw_xmalloc(1 << 20);
    for (size_t i = 0; i < RBGW_NELEM(steps); i++) {
        for (size_t j = 0; j < steps[i].n; j++) {
            src[j] = (char)((total + j) * 7 + 1);
        }
        switch (i % 3) {
        case 0:
            rbgw_buf_append(&b, src, steps[i].n);
            break;
        case 1:
            rbgw_buf_append_str(&b, rbgw_str_make(src, steps[i].n));
            break;
        default: {
            char *dst = rbgw_buf_reserve(&b, steps[i].n);
            cr_expect_eq(dst, b.data + b.len, "%s: reserve points at data+len", steps[i].what);
            cr_expect_geq(b.cap - b.len, steps[i].n + 1, "%s: reserve too small", steps[i].what);
            memcpy(dst, src, steps[i].n);
            b.len += steps[i].n;
            b.data[b.len] = '\0';
            break;
        }
        }
        total += steps[i].n;
        cr_expect_eq(b.len, total, "%s: len %zu, want %zu", steps[i].what, b.len, total);
        expect_terminated(&b, steps[i].what);
        struct rbgw_str v = rbgw_buf_str(&b);
        cr_expect(v.p == b.data && v.len == b.len, "%s: rbgw_buf_str view", steps[i].what);
    }
    for (size_t k = 0; k < total; k++) {
        if (b.data[k] != (char)(k * 7 + 1)) {
            cr_expect_eq(b.data[k], (char)(k * 7 + 1), "byte %zu wrong after growth", k);
            break;
        }
    }
    free(src);
    rbgw_buf_free(&b);
}

Test(buf, reserve_keeps_len_and_cstr_appends)
{
    struct rbgw_buf b = RBGW_BUF_INIT;
    char *p = rbgw_buf_reserve(&b, 0);
    cr_expect_not_null(p, "reserve(0) on an empty buffer allocates");
    cr_expect_eq(b.len, 0);
    expect_terminated(&b, "reserve(0)");
    rbgw_buf_append_cstr(&b, "abc");
    p = rbgw_buf_reserve(&b, 1000);
    cr_expect_eq(b.len, 3, "reserve changed len");
    cr_expect_str_eq(b.data, "abc", "reserve changed content");
    cr_expect_eq(p, b.data + 3);
    rbgw_buf_append_cstr(&b, "");
    rbgw_buf_putc(&b, '\0');
    rbgw_buf_putc(&b, 'd');
    cr_expect_eq(b.len, 5);
    cr_expect_eq(memcmp(b.data, "abc\0d", 6), 0, "embedded NUL kept, terminator added");
    rbgw_buf_free(&b);
}

Test(buf, consume_and_reset_table)
{
    static const struct {
        const char *in;
        size_t n;
        const char *left;
    } rows[] = {
        {"hello world", 0, "hello world"},
        {"hello world", 6, "world"},
        {"hello world", 10, "d"},
        {"hello world", 11, ""},
        {"x", 1, ""},
    };
    for (size_t i = 0; i < RBGW_NELEM(rows); i++) {
        struct rbgw_buf b = RBGW_BUF_INIT;
        rbgw_buf_append_cstr(&b, rows[i].in);
        size_t cap = b.cap;
        rbgw_buf_consume(&b, rows[i].n);
        cr_expect_eq(b.len, strlen(rows[i].left), "'%s' consume %zu: len", rows[i].in, rows[i].n);
        cr_expect_str_eq(b.data, rows[i].left, "'%s' consume %zu", rows[i].in, rows[i].n);
        cr_expect_eq(b.cap, cap, "consume changed cap");
        rbgw_buf_append_cstr(&b, "++");
        cr_expect_eq(b.len, strlen(rows[i].left) + 2);
        cr_expect_eq(memcmp(b.data + b.len - 2, "++", 3), 0, "append after consume");
        rbgw_buf_free(&b);
    }

    struct rbgw_buf e = RBGW_BUF_INIT;
    rbgw_buf_consume(&e, 0); /* empty, never allocated */
    cr_expect_eq(e.len, 0);
    rbgw_buf_reset(&e);
    cr_expect_eq(e.len, 0);

    /* Consuming part of a large buffer moves the tail intact. */
    for (int i = 0; i < 5000; i++) {
        rbgw_buf_printf(&e, "%04d,", i);
    }
    rbgw_buf_consume(&e, 5 * 4000);
    cr_expect_eq(e.len, 5 * 1000);
    cr_expect_eq(memcmp(e.data, "4000,4001,", 10), 0);
    cr_expect_eq(memcmp(e.data + e.len - 5, "4999,", 6), 0);

    size_t cap = e.cap;
    rbgw_buf_reset(&e);
    cr_expect_eq(e.len, 0);
    cr_expect_eq(e.cap, cap, "reset keeps memory");
    cr_expect_eq(e.data[0], '\0', "reset leaves an empty C string");
    rbgw_buf_free(&e);
}

struct printf_case {
    const char *name;
    size_t prefix; /* bytes already in the buffer */
    size_t width;  /* bytes the printf produces */
};

static const struct printf_case printfs[] = {
    {"empty", 0, 0},          {"short", 0, 10},          {"fills first 64", 0, 63},
    {"exactly 64", 0, 64},    {"over 64", 0, 65},        {"255", 0, 255},
    {"256", 0, 256},          {"257", 0, 257},           {"large", 0, 5000},
    {"crosses 256", 250, 20}, {"ends at 255", 200, 55},  {"ends at 256", 200, 56},
    {"tail 1 byte", 254, 1},  {"tail 0 bytes", 255, 1},  {"tail 0, big", 255, 3000},
    {"at 512 edge", 511, 1},  {"after 1000", 1000, 300}, {"zero after fill", 255, 0},
};

Test(buf, printf_table)
{
    char *src = rbgw_xmalloc(8192);
    for (size_t i = 0; i < 8192; i++) {
        src[i] = (char)('A' + i % 23);
    }
    for (size_t i = 0; i < RBGW_NELEM(printfs); i++) {
        const struct printf_case *c = &printfs[i];
        struct rbgw_buf b = RBGW_BUF_INIT;
        for (size_t k = 0; k < c->prefix; k++) {
            rbgw_buf_putc(&b, 'p');
        }
        rbgw_buf_printf(&b, "%.*s", (int)c->width, src);
        cr_expect_eq(b.len, c->prefix + c->width, "%s: len %zu, want %zu", c->name, b.len,
                     c->prefix + c->width);
        if (b.len == c->prefix + c->width && b.data) {
            bool pre = true;
            for (size_t k = 0; k < c->prefix; k++) {
                pre = pre && b.data[k] == 'p';
            }
            cr_expect(pre, "%s: prefix damaged", c->name);
            cr_expect_eq(memcmp(b.data + c->prefix, src, c->width), 0, "%s: printed bytes",
                         c->name);
            cr_expect_eq(strlen(b.data), b.len, "%s: not NUL-terminated at len", c->name);
        }
        rbgw_buf_free(&b);
    }
    free(src);

    /* Formatting conversions and a long numeric field. */
    struct rbgw_buf b = RBGW_BUF_INIT;
    rbgw_buf_printf(&b, "%d-%s-%zu-%x", -42, "x", (size_t)7, 255u);
    cr_expect_str_eq(b.data, "-42-x-7-ff");
    rbgw_buf_printf(&b, "|%0300d|", 5);
    cr_expect_eq(b.len, 10 + 302);
    cr_expect_eq(b.data[b.len - 2], '5');
    cr_expect_eq(b.data[11], '0');
    cr_expect_eq(b.data[b.len], '\0');
    rbgw_buf_free(&b);
}

static void vappend(struct rbgw_buf *b, const char *fmt, ...) RBGW_PRINTF(2, 3);

static void
vappend(struct rbgw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rbgw_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

Test(buf, vprintf_large)
{
    /* One call that must take the "measure, grow, format again" path with a va_list. */
    struct rbgw_buf b = RBGW_BUF_INIT;
    char big[1000];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    vappend(&b, "<%s|%s|%d>", big, big, 12345);
    cr_expect_eq(b.len, 1 + 999 + 1 + 999 + 1 + 5 + 1);
    cr_expect_eq(memcmp(b.data + b.len - 7, "|12345>", 8), 0, "tail %s", b.data + b.len - 7);
    cr_expect_eq(b.data[0], '<');
    cr_expect_eq(b.data[1000], '|');
    rbgw_buf_free(&b);
}

/* ---- rbgw_arena ---- */

static const size_t alloc_sizes[] = {0,    1,      7,    15,   16,   17,   31,    100,  1000,
                                     2047, 2048,   2049, 2064, 4080, 4095, 4096,  4097, 10000,
                                     3,    100000, 1,    2049, 16,   5,    65536, 33};

Test(buf, arena_alignment_and_no_overlap)
{
    struct rbgw_arena a = RBGW_ARENA_INIT;
    unsigned char *blocks[RBGW_NELEM(alloc_sizes)];
    for (size_t i = 0; i < RBGW_NELEM(alloc_sizes); i++) {
        blocks[i] = rbgw_arena_alloc(&a, alloc_sizes[i]);
        cr_assert_not_null(blocks[i], "alloc %zu returned NULL", alloc_sizes[i]);
        cr_expect_eq((uintptr_t)blocks[i] % 16, 0, "alloc #%zu (%zu bytes) at %p not 16-aligned", i,
                     alloc_sizes[i], (void *)blocks[i]);
        memset(blocks[i], (int)(i + 1), alloc_sizes[i]);
    }
    for (size_t i = 0; i < RBGW_NELEM(alloc_sizes); i++) {
        for (size_t k = 0; k < alloc_sizes[i]; k++) {
            if (blocks[i][k] != (unsigned char)(i + 1)) {
                cr_expect_eq(blocks[i][k], (unsigned char)(i + 1),
                             "alloc #%zu (%zu bytes) byte %zu overwritten", i, alloc_sizes[i], k);
                break;
            }
        }
    }
    rbgw_arena_free(&a);
    cr_expect_null(a.head, "free leaves an empty arena");
}

Test(buf, arena_many_small)
{
    struct rbgw_arena a;
    rbgw_arena_init(&a);
    enum { N = 20000 };
    unsigned char **p = rbgw_xmalloc(N * sizeof(*p));
    for (size_t i = 0; i < N; i++) {
        size_t n = 1 + i % 40;
        p[i] = rbgw_arena_alloc(&a, n);
        memset(p[i], (int)(i & 0xff), n);
        if ((uintptr_t)p[i] % 16 != 0) {
            cr_expect_eq((uintptr_t)p[i] % 16, 0, "small alloc %zu misaligned", i);
            break;
        }
    }
    for (size_t i = 0; i < N; i++) {
        size_t n = 1 + i % 40;
        for (size_t k = 0; k < n; k++) {
            if (p[i][k] != (unsigned char)(i & 0xff)) {
                cr_assert_eq(p[i][k], (unsigned char)(i & 0xff), "small alloc %zu byte %zu", i, k);
            }
        }
    }
    free(p);
    rbgw_arena_free(&a);
}

Test(buf, arena_big_blocks_keep_head_tail)
{
    /* A big block that does not fit the head chunk's tail gets a chunk of its own, so the
     * tail stays usable (buf.c's design note): the next small block follows the previous one. */
    struct rbgw_arena a = RBGW_ARENA_INIT;
    char *s1 = rbgw_arena_alloc(&a, 2000);
    char *big = rbgw_arena_alloc(&a, 3000);
    char *s2 = rbgw_arena_alloc(&a, 16);
    cr_expect_eq(s2, s1 + 2000, "small block after a big one did not reuse the head chunk");
    cr_expect(big + 3000 <= s1 || big >= s1 + 4096, "big block inside the small chunk");
    memset(s1, '1', 2000);
    memset(big, 'B', 3000);
    memset(s2, '2', 16);
    cr_expect_eq(s1[1999], '1', "big block overlaps s1");
    cr_expect_eq(big[0], 'B');
    cr_expect_eq(big[2999], 'B');

    /* A big block as the very first allocation, then small ones. */
    struct rbgw_arena c = RBGW_ARENA_INIT;
    char *first = rbgw_arena_alloc(&c, 50000);
    memset(first, 'F', 50000);
    char *after = rbgw_arena_alloc(&c, 10);
    memset(after, 'a', 10);
    cr_expect_eq(first[49999], 'F', "small block overwrote the big first block");
    cr_expect_eq((uintptr_t)after % 16, 0);
    rbgw_arena_free(&c);
    rbgw_arena_free(&a);
}

Test(buf, arena_calloc_zeroes)
{
    static const size_t sizes[] = {1, 15, 16, 100, 2048, 2049, 4096, 9000};
    struct rbgw_arena a = RBGW_ARENA_INIT;
    /* Dirty memory first so that recycled malloc blocks are likely non-zero. */
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < RBGW_NELEM(sizes); i++) {
            unsigned char *p = rbgw_arena_calloc(&a, sizes[i]);
            for (size_t k = 0; k < sizes[i]; k++) {
                if (p[k] != 0) {
                    cr_expect_eq(p[k], 0, "calloc(%zu) byte %zu not zero", sizes[i], k);
                    break;
                }
            }
            memset(p, 0xee, sizes[i]);
        }
        rbgw_arena_free(&a);
    }
}

struct memdup_case {
    const char *name;
    const char *p;
    size_t n;
};

Test(buf, arena_memdup_table)
{
    static char big[10000];
    for (size_t i = 0; i < sizeof(big); i++) {
        big[i] = (char)(i % 251);
    }
    const struct memdup_case rows[] = {
        {"empty", "", 0},
        {"NULL empty", NULL, 0},
        {"text", "hello", 5},
        {"embedded NUL", "a\0b\xff", 4},
        {"15 bytes", "0123456789abcde", 15},
        {"16 bytes", "0123456789abcdef", 16},
        {"big", big, sizeof(big)},
    };
    struct rbgw_arena a = RBGW_ARENA_INIT;
    for (size_t i = 0; i < RBGW_NELEM(rows); i++) {
        char *d = rbgw_arena_memdup(&a, rows[i].p, rows[i].n);
        cr_assert_not_null(d, "%s: NULL", rows[i].name);
        cr_expect_neq(d, rows[i].p, "%s: not a copy", rows[i].name);
        cr_expect_eq((uintptr_t)d % 16, 0, "%s: misaligned", rows[i].name);
        if (rows[i].n) {
            cr_expect_eq(memcmp(d, rows[i].p, rows[i].n), 0, "%s: bytes differ", rows[i].name);
        }
        cr_expect_eq(d[rows[i].n], '\0', "%s: no NUL after the copy", rows[i].name);
    }
    rbgw_arena_free(&a);
}

Test(buf, arena_reuse_after_free)
{
    struct rbgw_arena a = RBGW_ARENA_INIT;
    rbgw_arena_free(&a); /* freeing an unused arena is fine */
    for (int round = 0; round < 3; round++) {
        char *x = rbgw_arena_memdup(&a, "round", 5);
        char *y = rbgw_arena_alloc(&a, 5000);
        memset(y, 'y', 5000);
        cr_expect_str_eq(x, "round", "round %d", round);
        rbgw_arena_free(&a);
        cr_expect_null(a.head, "round %d: head after free", round);
        cr_expect_null(a.pos, "round %d: pos after free", round);
    }
}

/* reset (recycled requests): one standard chunk survives, empty and reused from its start;
 * big blocks and further chunks are freed (ASan/valgrind would see a leak otherwise). */
Test(buf, arena_reset_keeps_one_chunk)
{
    struct rbgw_arena a = RBGW_ARENA_INIT;
    rbgw_arena_reset(&a); /* an empty arena stays empty */
    cr_expect_null(a.head);

    char *big = rbgw_arena_alloc(&a, 50000); /* a big first block: its own chunk, the head */
    memset(big, 'B', 50000);
    char *first = rbgw_arena_alloc(&a, 100);
    for (int i = 0; i < 200; i++) {
        memset(rbgw_arena_alloc(&a, 100), 'x', 100); /* several standard chunks */
    }
    rbgw_arena_reset(&a);
    cr_assert_not_null(a.head, "no chunk kept");
    cr_expect_eq(a.end - a.pos, 4096, "the kept chunk is not a whole standard one");
    char *again = rbgw_arena_alloc(&a, 100);
    cr_expect_eq(again, a.end - 4096, "allocation does not restart at the chunk's start");
    memset(again, 'y', 100);
    (void)first;
    rbgw_arena_reset(&a);
    cr_expect_eq(rbgw_arena_alloc(&a, 16), again, "a second reset does not reuse the same chunk");

    /* only big blocks: nothing worth keeping */
    struct rbgw_arena b = RBGW_ARENA_INIT;
    memset(rbgw_arena_alloc(&b, 9000), 'z', 9000);
    rbgw_arena_reset(&b);
    cr_expect_null(b.head, "a big block was kept");
    rbgw_arena_free(&a);
}

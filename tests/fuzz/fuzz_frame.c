/*
 * fuzz_frame.c: finding document boundaries in a JSON byte stream (frame.c), as the pipe and
 * unix listeners and the JSON upstreams read it.
 *
 * The input is a stream as it could arrive on a socket.  It is framed the way the callers
 * frame it (scan, take a complete frame, drop it, re-init, scan the rest), and checks:
 *
 *  1. the frames do not depend on how the stream arrives: all at once, one byte per read, and
 *     in the listener's discarding mode (every read's unframed bytes dropped as they come,
 *     the scanner carrying on with pos = 0: what jsonconn.c does with an oversized call) find
 *     the same frame ends;
 *  2. a frame starts with a byte that is not whitespace and only whitespace precedes it; while
 *     no frame is complete, the scanner's start only covers whitespace;
 *  3. a document that rbgw_json_scan accepts and that starts with '{', '[' or '"' is exactly
 *     one frame, alone and when the same document follows it without any separator;
 *  4. a frame is never empty (its first byte read, that is) and never reaches past the bytes
 *     read;
 *  5. framing in one pass agrees with the two passes it stands for: rbgw_rpc_peek_frame
 *     accepts exactly when the scanner's first frame is a call rbgw_rpc_peek accepts, with the
 *     same frame and peek; what rbgw_rpc_vet_frame accepts is the scanner's first frame, which
 *     rbgw_rpc_check_reply passes on with the same bytes, result and log.
 */
#include <string.h>

#include "fuzz.h"
#include "rbgw/frame.h"
#include "rbgw/jsonscan.h"
#include "rbgw/rpc.h"

#define MAX_FRAMES 8192

struct frames {
    size_t n;                 /* frames found */
    size_t start[MAX_FRAMES]; /* stream offset of each frame's first byte */
    size_t end[MAX_FRAMES];   /* stream offset just past each frame */
};

static bool
is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void
add(struct frames *f, size_t start, size_t end)
{
    FUZZ_CHECK(f->n < MAX_FRAMES, "too many frames");
    f->start[f->n] = start;
    f->end[f->n] = end;
    f->n++;
}

/*
 * Frame p[0..len) arriving `chunk` bytes per read.  The buffer holds the unconsumed bytes;
 * base is the stream offset of its first byte.  discard: after a read that completes no frame
 * and has started a document, drop the buffer and go on with pos = 0 (frame starts are then
 * unknown: only ends are recorded, start = SIZE_MAX).
 */
static void
frame_stream(const char *p, size_t len, size_t chunk, bool discard, struct frames *f)
{
    struct rbgw_frame_scanner sc;
    struct rbgw_buf b = RBGW_BUF_INIT;
    size_t base = 0, fed = 0;
    bool dropped = false; /* the current document's first bytes were discarded */
    f->n = 0;
    rbgw_frame_scanner_init(&sc);
    while (fed < len) {
        size_t n = len - fed < chunk ? len - fed : chunk;
        rbgw_buf_append(&b, p + fed, n);
        fed += n;
        for (;;) {
            size_t start, end;
            int complete = rbgw_frame_scan(&sc, b.data, b.len, &start, &end);
            if (!complete) {
                FUZZ_CHECK(sc.pos <= b.len && sc.start <= b.len, "scanner past the buffer");
                for (size_t i = 0; i < sc.start && !dropped; i++) {
                    FUZZ_CHECK(is_ws(b.data[i]), "start skips a byte that is not whitespace");
                }
                if (discard && sc.start < sc.pos) {
                    base += b.len;
                    rbgw_buf_reset(&b);
                    sc.pos = 0;
                    sc.start = 0;
                    dropped = true;
                }
                break;
            }
            FUZZ_CHECK(end <= b.len, "frame end %zu past %zu bytes", end, b.len);
            if (!dropped) {
                FUZZ_CHECK(start < end, "frame [%zu, %zu)", start, end);
                FUZZ_CHECK(!is_ws(b.data[start]), "frame starts with whitespace");
                for (size_t i = 0; i < start; i++) {
                    FUZZ_CHECK(is_ws(b.data[i]), "a byte that is not whitespace before a frame");
                }
            }
            add(f, dropped ? SIZE_MAX : base + start, base + end);
            base += end;
            rbgw_buf_consume(&b, end);
            rbgw_frame_scanner_init(&sc);
            dropped = false;
        }
    }
    rbgw_buf_free(&b);
}

static struct frames whole, bytewise, discarding;

static void
same_ends(const struct frames *x, const struct frames *y, const char *how, const char *p,
          size_t len)
{
    FUZZ_CHECK(x->n == y->n, "%zu frames at once, %zu %s: %s", x->n, y->n, how,
               rbgw_fuzz_show(p, len));
    for (size_t i = 0; i < x->n; i++) {
        FUZZ_CHECK(x->end[i] == y->end[i], "frame %zu ends at %zu at once, at %zu %s: %s", i,
                   x->end[i], y->end[i], how, rbgw_fuzz_show(p, len));
        FUZZ_CHECK(y->start[i] == SIZE_MAX || y->start[i] == x->start[i],
                   "frame %zu starts at %zu at once, at %zu %s", i, x->start[i], y->start[i], how);
    }
}

static bool
same_str(struct rbgw_str a, struct rbgw_str b)
{
    return a.p == b.p && a.len == b.len;
}

/* Check 5 on the stream p[0..size). */
static void
one_pass(const char *p, size_t size)
{
    struct rbgw_frame_scanner sc;
    size_t s1, e1, s2, e2;
    rbgw_frame_scanner_init(&sc);
    bool framed = rbgw_frame_scan(&sc, p, size, &s2, &e2) == 1;

    struct rbgw_rpc_peek one, two;
    int rc1 = rbgw_rpc_peek_frame(p, size, NULL, &one, &s1, &e1);
    int rc2 = framed && p[s2] == '{' ? rbgw_rpc_peek(p + s2, e2 - s2, &two) : -1;
    FUZZ_CHECK(rc1 == rc2, "peek: one pass %d, two passes %d: %s", rc1, rc2,
               rbgw_fuzz_show(p, size));
    FUZZ_CHECK(rc1 != 0 || (s1 == s2 && e1 == e2 && same_str(one.method, two.method) &&
                            one.mid == two.mid && same_str(one.trxid, two.trxid) &&
                            same_str(one.params, two.params)),
               "peek: one pass differs from two: %s", rbgw_fuzz_show(p, size));

    struct rbgw_rpc_vet v;
    if (rbgw_rpc_vet_frame(p, size, NULL, &v, &s1, &e1) != 0) {
        return;
    }
    FUZZ_CHECK(framed && s1 == s2 && e1 == e2, "vet: frame [%zu,%zu) is not the scanner's: %s", s1,
               e1, rbgw_fuzz_show(p, size));
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_buf out1 = RBGW_BUF_INIT, out2 = RBGW_BUF_INIT;
    bool f1, f2;
    struct rbgw_str log1, log2;
    char err[256];
    rbgw_rpc_reply_vetted(rbgw_str_make(p + s1, e1 - s1), &v, &out1, &f1, &log1);
    int rc = rbgw_rpc_check_reply(&a, rbgw_str_make(p + s2, e2 - s2), &out2, &f2, &log2, err,
                                  sizeof(err));
    FUZZ_CHECK(rc == 0, "vet: accepted what the check refuses (%s): %s", err,
               rbgw_fuzz_show(p, size));
    FUZZ_CHECK(out1.len == out2.len && memcmp(out1.data, out2.data, out1.len) == 0 && f1 == f2 &&
                   log1.len == log2.len && (log1.p == NULL) == (log2.p == NULL) &&
                   (log1.p == NULL || log1.p - out1.data == log2.p - out2.data),
               "vet: one pass differs from the check: %s", rbgw_fuzz_show(p, size));
    rbgw_buf_free(&out1);
    rbgw_buf_free(&out2);
    rbgw_arena_free(&a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    if (size > 65536) {
        return 0;
    }
    frame_stream(p, size, size ? size : 1, false, &whole);
    frame_stream(p, size, 1, false, &bytewise);
    same_ends(&whole, &bytewise, "one byte per read", p, size);
    frame_stream(p, size, 7, true, &discarding);
    same_ends(&whole, &discarding, "discarding 7-byte reads", p, size);
    one_pass(p, size);

    char top;
    if (rbgw_json_scan(p, size, NULL, 0, NULL, &top) != RBGW_JSCAN_OK ||
        (top != '{' && top != '[' && top != '"')) {
        return 0;
    }
    size_t s = 0, e = size;
    while (is_ws(p[s])) {
        s++;
    }
    while (is_ws(p[e - 1])) {
        e--;
    }
    FUZZ_CHECK(whole.n == 1 && whole.start[0] == s && whole.end[0] == e,
               "a valid document is %zu frames, the first [%zu, %zu), not [%zu, %zu): %s", whole.n,
               whole.n ? whole.start[0] : 0, whole.n ? whole.end[0] : 0, s, e,
               rbgw_fuzz_show(p, size));
    char *twice = rbgw_xmalloc(2 * size);
    memcpy(twice, p, size);
    memcpy(twice + size, p, size);
    frame_stream(twice, 2 * size, 2 * size, false, &whole);
    FUZZ_CHECK(whole.n == 2 && whole.start[0] == s && whole.end[0] == e &&
                   whole.start[1] == size + s && whole.end[1] == size + e,
               "a valid document twice is not two frames: %s", rbgw_fuzz_show(p, size));
    free(twice);
    return 0;
}

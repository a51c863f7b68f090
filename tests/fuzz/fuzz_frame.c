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
 *     read.
 */
#include <string.h>

#include "fuzz.h"
#include "rbgw/frame.h"
#include "rbgw/jsonscan.h"

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

/*
 * test_frame.c: the incremental JSON document boundary scanner (docs/protocol.md §4.1, §4.2).
 *
 * What: for each input in the table, the scanner must report the same document (start, end)
 * however the bytes arrive: the whole buffer at once, growing one byte at a time, and every
 * split into two reads.  It must report "need more" for every prefix that does not yet hold
 * the document.  Separate tests drive several documents through one buffer the way the
 * listeners do (consume *end bytes, re-init) and check the "need more" bookkeeping.
 *
 * Why re-copy every prefix into its own heap block: the scanner is promised "the same buffer,
 * grown", which after a realloc may live elsewhere; a scanner that kept a pointer or read past
 * len would be caught here (and by ASan in sanitizer builds).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rbgw/buf.h"
#include "rbgw/frame.h"
#include "show.h"

#define B(lit) (lit), (sizeof(lit) - 1)

struct frame_case {
    const char *name;
    const char *in;
    size_t inlen;
    const char *doc; /* expected document bytes; NULL: no complete document in the input */
    size_t start;    /* expected offset of the document */
    bool bare;       /* ends at a newline: complete only once the newline has arrived */
};

static const struct frame_case cases[] = {
    {"compact request", B("{\"method\":\"lookup\",\"parameters\":{\"qname\":\"a.\"}}\n"),
     "{\"method\":\"lookup\",\"parameters\":{\"qname\":\"a.\"}}", 0, false},
    {"no trailing newline", B("{\"result\":true}"), "{\"result\":true}", 0, false},
    {"pretty printed",
     B("{\n  \"result\": [\n    {\"qname\": \"a.\", \"ttl\": 300},\n    {}\n  ],\r\n"
       "  \"log\": [\"x\"]\n}\n"),
     "{\n  \"result\": [\n    {\"qname\": \"a.\", \"ttl\": 300},\n    {}\n  ],\r\n"
     "  \"log\": [\"x\"]\n}",
     0, false},
    {"leading blank lines", B("\n\n \r\n\t{\"result\":true}\n"), "{\"result\":true}", 6, false},
    {"braces in strings", B("{\"a\":\"}]{[\",\"b\":\"[[[\"}  "), "{\"a\":\"}]{[\",\"b\":\"[[[\"}",
     0, false},
    {"escaped quote in string", B("{\"a\":\"\\\"}\"}x"), "{\"a\":\"\\\"}\"}", 0, false},
    {"backslash at end of string", B("{\"a\":\"a\\\\\"}\n"), "{\"a\":\"a\\\\\"}", 0, false},
    {"escaped backslash then quote", B("{\"a\":\"a\\\\\\\"}\"}"), "{\"a\":\"a\\\\\\\"}\"}", 0,
     false},
    {"many backslashes", B("[\"\\\\\\\\\\\\\", \"]\"]\n"), "[\"\\\\\\\\\\\\\", \"]\"]", 0, false},
    {"escaped u", B("{\"a\":\"\\u007d\\\"\"}"), "{\"a\":\"\\u007d\\\"\"}", 0, false},
    {"newline inside document", B("{\"a\":\n1\n}\n"), "{\"a\":\n1\n}", 0, false},
    {"array", B("[1,[2,[3]],\"]\"]\n"), "[1,[2,[3]],\"]\"]", 0, false},
    {"array leading space", B("  [ ]"), "[ ]", 2, false},
    {"empty object", B("{}"), "{}", 0, false},
    {"two documents: first", B("{\"a\":1}{\"b\":2}\n"), "{\"a\":1}", 0, false},
    {"bare string", B("\"abc\"\n"), "\"abc\"", 0, false},
    {"bare string with escapes", B(" \"a\\\"}\\\\\" x"), "\"a\\\"}\\\\\"", 1, false},
    {"bare string backslash end", B("\"a\\\\\""), "\"a\\\\\"", 0, false},
    {"bare string with braces", B("\"{[\"\n"), "\"{[\"", 0, false},
    {"raw high bytes", B("{\"s\":\"\xab\xff\\\"\"}\n"), "{\"s\":\"\xab\xff\\\"\"}", 0, false},
    {"garbage line", B("garbage here {\n{\"x\":1}\n"), "garbage here {", 0, true},
    {"garbage with quote", B("x\"}\n"), "x\"}", 0, true},
    {"bare literal", B("\ntrue\n"), "true", 1, true},
    {"bare number", B("42\r\n"), "42\r", 0, true},
    {"closing bracket first", B("]\n"), "]", 0, true},
    /* incomplete inputs: the scanner must keep asking for more */
    {"open object", B("{\"a\":1"), NULL, 0, false},
    {"inside string", B("{\"a\":\"}"), NULL, 0, false},
    {"after escape", B("{\"a\":\"\\"), NULL, 0, false},
    {"escaped quote pending", B("{\"a\":\"\\\"}"), NULL, 0, false},
    {"bare string open", B("\"abc\\\""), NULL, 0, false},
    {"bare literal without newline", B("true"), NULL, 0, true},
    {"whitespace only", B(" \r\n\t "), NULL, 5, false},
    {"nothing", B(""), NULL, 0, false},
    {"nested open", B("[[[]]"), NULL, 0, false},
};

/* Copy buf[0..n) into a block of exactly n bytes, scan it, free it. */
static int
scan_prefix(struct rbgw_frame_scanner *s, const char *buf, size_t n, size_t *start, size_t *end)
{
    char *copy = rbgw_xmalloc(n ? n : 1);
    if (n) {
        memcpy(copy, buf, n);
    }
    int rc = rbgw_frame_scan(s, copy, n, start, end);
    free(copy);
    return rc;
}

/* Length of the shortest prefix that holds the whole document. */
static size_t
need_len(const struct frame_case *c)
{
    size_t end = c->start + strlen(c->doc);
    return c->bare ? end + 1 : end;
}

static void
check_frame(const struct frame_case *c, const char *how, int rc, size_t start, size_t end)
{
    if (c->doc == NULL) {
        cr_expect_eq(rc, 0, "%s (%s): found a document [%zu,%zu) in %s", c->name, how, start, end,
                     rbgw_test_show(c->in, c->inlen));
        return;
    }
    cr_expect_eq(rc, 1, "%s (%s): no document found in %s", c->name, how,
                 rbgw_test_show(c->in, c->inlen));
    if (rc != 1) {
        return;
    }
    size_t dlen = strlen(c->doc);
    cr_expect_eq(start, c->start, "%s (%s): start %zu, want %zu", c->name, how, start, c->start);
    cr_expect_eq(end, c->start + dlen, "%s (%s): end %zu, want %zu (doc %s)", c->name, how, end,
                 c->start + dlen, rbgw_test_show(c->doc, dlen));
}

Test(frame, whole_buffer)
{
    for (size_t i = 0; i < RBGW_NELEM(cases); i++) {
        const struct frame_case *c = &cases[i];
        struct rbgw_frame_scanner s;
        rbgw_frame_scanner_init(&s);
        size_t start = 999, end = 999;
        int rc = scan_prefix(&s, c->in, c->inlen, &start, &end);
        check_frame(c, "whole", rc, start, end);
        if (c->doc == NULL) {
            cr_expect_eq(s.start, c->start, "%s: s.start %zu, want %zu leading blanks", c->name,
                         s.start, c->start);
        }
    }
}

Test(frame, one_byte_at_a_time)
{
    for (size_t i = 0; i < RBGW_NELEM(cases); i++) {
        const struct frame_case *c = &cases[i];
        struct rbgw_frame_scanner s;
        rbgw_frame_scanner_init(&s);
        size_t need = c->doc ? need_len(c) : c->inlen + 1;
        int rc = 0;
        size_t start = 999, end = 999, k;
        for (k = 0; k <= c->inlen; k++) {
            rc = scan_prefix(&s, c->in, k, &start, &end);
            if (rc != 0) {
                break;
            }
        }
        char how[64];
        snprintf(how, sizeof(how), "byte by byte, stopped at %zu", k);
        check_frame(c, how, rc, start, end);
        if (c->doc != NULL) {
            cr_expect_eq(k, need, "%s: complete after %zu bytes, want %zu", c->name, k, need);
        }
    }
}

/*
 * Long runs: the scanner skips plain bytes 16 at a time, so put each byte that matters at
 * every offset of a run longer than a block, inside a string and between tokens, and check
 * the document still ends at its last brace, whole and fed one byte at a time.
 */
Test(frame, structural_bytes_at_every_offset_of_long_runs)
{
    static const char *const inside[] = {"\\\"", "}", "]", "{[", "\\\\", "\\u007d"};
    char doc[160];
    for (int k = 0; k <= 40; k++) {
        for (size_t j = 0; j < RBGW_NELEM(inside); j++) {
            int n = snprintf(doc, sizeof(doc), "{\"key\":\"%.*s%s%.*s\",\"n\":[%*s1,{}]}", k,
                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", inside[j], 40 - k,
                             "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", k, "");
            cr_assert(n > 0 && (size_t)n < sizeof(doc) - 3);
            memcpy(doc + n, "\n{", 3); /* a newline and the start of the next call */
            size_t len = (size_t)n + 3, start = 999, end = 999;
            struct rbgw_frame_scanner s;
            rbgw_frame_scanner_init(&s);
            int rc = scan_prefix(&s, doc, len, &start, &end);
            cr_expect(rc == 1 && start == 0 && end == (size_t)n, "whole: rc %d end %zu want %d: %s",
                      rc, end, n, rbgw_test_show(doc, len));
            rbgw_frame_scanner_init(&s);
            size_t m;
            for (m = 0, rc = 0; rc == 0 && m <= len; m++) {
                rc = scan_prefix(&s, doc, m, &start, &end);
            }
            cr_expect(rc == 1 && m == (size_t)n + 1 && end == (size_t)n,
                      "byte by byte: rc %d after %zu bytes, end %zu want %d: %s", rc, m, end, n,
                      rbgw_test_show(doc, len));
        }
    }
}

Test(frame, every_two_piece_split)
{
    for (size_t i = 0; i < RBGW_NELEM(cases); i++) {
        const struct frame_case *c = &cases[i];
        size_t need = c->doc ? need_len(c) : c->inlen + 1;
        for (size_t cut = 0; cut <= c->inlen; cut++) {
            struct rbgw_frame_scanner s;
            rbgw_frame_scanner_init(&s);
            size_t start = 999, end = 999;
            char how[64];
            int rc = scan_prefix(&s, c->in, cut, &start, &end);
            if (rc == 1) {
                snprintf(how, sizeof(how), "first piece of %zu", cut);
                cr_expect_geq(cut, need, "%s: complete after only %zu bytes", c->name, cut);
                check_frame(c, how, rc, start, end);
                continue;
            }
            cr_expect_lt(cut, need, "%s: %zu bytes hold the document but scan said 0", c->name,
                         cut);
            rc = scan_prefix(&s, c->in, c->inlen, &start, &end);
            snprintf(how, sizeof(how), "split at %zu", cut);
            check_frame(c, how, rc, start, end);
        }
    }
}

Test(frame, need_more_bookkeeping)
{
    /* After a 0 return everything given has been looked at, and s.start counts blanks. */
    static const char in[] = "  \n {\"a\":";
    struct rbgw_frame_scanner s;
    rbgw_frame_scanner_init(&s);
    size_t start, end;
    cr_expect_eq(rbgw_frame_scan(&s, in, 3, &start, &end), 0);
    cr_expect_eq(s.start, 3, "three blanks may be dropped, got %zu", s.start);
    cr_expect_eq(s.pos, 3);
    cr_expect_eq(rbgw_frame_scan(&s, in, sizeof(in) - 1, &start, &end), 0);
    cr_expect_eq(s.start, 4, "document starts at 4, got %zu", s.start);
    cr_expect_eq(s.pos, sizeof(in) - 1);
    /* Calling again with no new bytes changes nothing. */
    cr_expect_eq(rbgw_frame_scan(&s, in, sizeof(in) - 1, &start, &end), 0);
    cr_expect_eq(s.start, 4);
}

struct stream_case {
    const char *name;
    const char *in;
    size_t inlen;
    const char *docs[6]; /* expected documents in order, NULL-terminated */
    size_t rest_blank;   /* leading blanks s.start reports after the last document */
};

static const struct stream_case streams[] = {
    {"mixed stream",
     B("{\"a\":1}\n{\"b\":[2,\"}\"]}\n  \"s\\\"\"\nxx yy\n[\n]\n"),
     {"{\"a\":1}", "{\"b\":[2,\"}\"]}", "\"s\\\"\"", "xx yy", "[\n]", NULL},
     1},
    {"back to back", B("{}{}[]\"\""), {"{}", "{}", "[]", "\"\"", NULL}, 0},
    {"blank lines between",
     B("\n{\"result\":true}\n\n\r\n{\"result\":false}\n"),
     {"{\"result\":true}", "{\"result\":false}", NULL},
     1},
    {"garbage then document", B("oops\n{\"result\":1}"), {"oops", "{\"result\":1}", NULL}, 0},
};

/* Drive a stream through an rbgw_buf the way a listener does: append, scan, consume, re-init. */
static void
run_stream(const struct stream_case *t, size_t chunk)
{
    struct rbgw_buf b = RBGW_BUF_INIT;
    struct rbgw_frame_scanner s;
    rbgw_frame_scanner_init(&s);
    size_t fed = 0, ndoc = 0;
    for (;;) {
        size_t start, end;
        int rc = rbgw_frame_scan(&s, b.data, b.len, &start, &end);
        if (rc == 1) {
            const char *want = t->docs[ndoc];
            cr_assert_not_null(want, "%s (chunk %zu): extra document %s", t->name, chunk,
                               rbgw_test_show(b.data + start, end - start));
            cr_expect(end - start == strlen(want) && memcmp(b.data + start, want, end - start) == 0,
                      "%s (chunk %zu): document %zu is %s, want %s", t->name, chunk, ndoc,
                      rbgw_test_show(b.data + start, end - start),
                      rbgw_test_show(want, strlen(want)));
            ndoc++;
            rbgw_buf_consume(&b, end);
            rbgw_frame_scanner_init(&s);
            continue;
        }
        if (fed == t->inlen) {
            break;
        }
        size_t n = t->inlen - fed < chunk ? t->inlen - fed : chunk;
        rbgw_buf_append(&b, t->in + fed, n);
        fed += n;
    }
    cr_expect_null(t->docs[ndoc], "%s (chunk %zu): only %zu documents found", t->name, chunk, ndoc);
    cr_expect_eq(s.start, t->rest_blank, "%s (chunk %zu): %zu blanks left, want %zu", t->name,
                 chunk, s.start, t->rest_blank);
    rbgw_buf_free(&b);
}

Test(frame, documents_in_one_stream)
{
    static const size_t chunks[] = {1, 2, 3, 7, 4096};
    for (size_t i = 0; i < RBGW_NELEM(streams); i++) {
        for (size_t j = 0; j < RBGW_NELEM(chunks); j++) {
            run_stream(&streams[i], chunks[j]);
        }
    }
}

Test(frame, deep_and_large_documents)
{
    /* Depth is only a counter: 10000 levels and a 1 MB string are one document each. */
    struct rbgw_buf b = RBGW_BUF_INIT;
    for (int i = 0; i < 10000; i++) {
        rbgw_buf_putc(&b, '[');
    }
    for (int i = 0; i < 10000; i++) {
        rbgw_buf_putc(&b, ']');
    }
    rbgw_buf_append_cstr(&b, "\n{\"result\":\"");
    for (int i = 0; i < 1000000; i++) {
        rbgw_buf_putc(&b, "ab{}[]"[i % 6]);
    }
    rbgw_buf_append_cstr(&b, "\"}");
    struct rbgw_frame_scanner s;
    rbgw_frame_scanner_init(&s);
    size_t start, end;
    cr_expect_eq(rbgw_frame_scan(&s, b.data, b.len, &start, &end), 1);
    cr_expect_eq(start, 0);
    cr_expect_eq(end, 20000);
    rbgw_buf_consume(&b, end);
    rbgw_frame_scanner_init(&s);
    cr_expect_eq(rbgw_frame_scan(&s, b.data, b.len, &start, &end), 1);
    cr_expect_eq(start, 1);
    cr_expect_eq(end, b.len, "big document end %zu, buffer %zu", end, b.len);
    rbgw_buf_free(&b);
}

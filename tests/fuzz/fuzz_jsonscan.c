/*
 * fuzz_jsonscan.c: the JSON scanner (jsonscan.c) differentially against yajl.
 *
 * rbgw decides "is this JSON pdns accepts" with rbgw_json_scan on the hot path and with
 * rbgw_json_parse (yajl plus json11's stricter rules) everywhere else; both must say the same,
 * and what they say must be what the project's parser accepts.  rbgw_json_parse itself ends
 * with the scanner (json.c), so comparing the two alone could not catch the scanner refusing
 * valid text.  The reference verdict is therefore computed here from yajl directly, configured
 * as json.c configures it, plus json11's rules written out independently:
 *
 *   accepted  <=>  yajl (strings not UTF-8 validated, no comments, one value) parses the text
 *                  and reports one complete top-level value,
 *             and  that value nests at most 200 containers deep (json11's limit),
 *             and  only ' ', '\t', '\r', '\n' follow it (yajl lets an unfinished token after
 *                  the document pass: {}" or 1 t),
 *             and  the text holds no form feed or vertical tab (yajl skips them as
 *                  whitespace, json11 refuses them; raw inside a string yajl refuses them too),
 *             and  every \u escape of a high surrogate (D800-DBFF) is immediately followed by
 *                  a \u escape of a low surrogate (DC00-DFFF) (json11 keeps lone surrogates,
 *                  rbgw refuses unpaired high ones rather than rewrite them).
 *
 * "Same verdict" means: rbgw_json_scan with no watch returns OK exactly when the reference
 * accepts and INVALID otherwise (never UNSURE), and rbgw_json_parse returns 0 exactly when the
 * reference accepts.  With watches the scan may also return UNSURE, but only when the text has
 * an escape (a watched key may be spelt with escapes), and never changes an OK to INVALID or
 * back.
 *
 * The noted members (an OK scan with watches) must be what the parser's tree holds: for a watch
 * KEY, the value of the last member KEY of the top-level object; for KEY.SUB, the value of the
 * last member SUB of the object that is the last KEY's value; absent otherwise.  found[] is the
 * source text of the value, exactly (no surrounding whitespace): it must parse on its own to a
 * tree equal (json11 form) to the parser's node.  *top is the first byte after leading
 * whitespace, or NUL.
 *
 * rbgw_json_parse_limited with the smallest limits configuration allows (max-json-depth 8,
 * max-json-elements 1000) accepts exactly what rbgw_json_parse accepts within them (the tree
 * nests at most 8 containers and holds at most 1000 values, containers included) and gives the
 * same tree; valid text past a limit is RBGW_ETOOBIG naming a limit it breaks; invalid text is
 * RBGW_EPARSE, or RBGW_ETOOBIG when a limit is reached before the error.
 *
 * rbgw_json_parse_valid (the tree an HTTP upstream translates a call from) refuses exactly the
 * accepted texts that hold a backslash and gives the parser's tree for every other one.
 *
 * rbgw_json_scan_items (read=merge copies the spans it gives) accepts exactly when the parser
 * accepts and the value is an array or object; it counts the container's children as the
 * tree does (repeated keys included), and its k-th span is the source text of the tree's
 * k-th child, exactly; with room for fewer spans it still counts them all and writes no
 * more than it was given.
 */
#include <stdio.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "fuzz.h"
#include "rbgw/jsonscan.h"

#define MAX_DEPTH 200

/* ---- the reference: yajl plus json11's rules ---- */

/* JSON's own whitespace (RFC 8259), which json11 also takes. */
static bool
is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

struct ref {
    yajl_handle h;  /* the parse in progress */
    int depth;      /* open containers */
    int max_depth;  /* deepest nesting seen */
    size_t end;     /* offset just past the top-level value, when done */
    bool done;      /* the top-level value is complete */
    bool finishing; /* inside yajl_complete_parse: offsets are not into the text */
    size_t len;     /* text length */
};

static void
value_done(struct ref *r)
{
    if (r->depth == 0 && !r->done) {
        r->done = true;
        /* The callback runs with the token consumed: its end is yajl's consumed count, except
         * for a value completed by the end of input (a bare number), which ends the text. */
        r->end = r->finishing ? r->len : yajl_get_bytes_consumed(r->h);
    }
}

static int
ref_scalar(void *ctx)
{
    value_done(ctx);
    return 1;
}

static int
ref_bool(void *ctx, int b)
{
    RBGW_UNUSED(b);
    return ref_scalar(ctx);
}

static int
ref_number(void *ctx, const char *s, size_t l)
{
    RBGW_UNUSED(s);
    RBGW_UNUSED(l);
    return ref_scalar(ctx);
}

static int
ref_string(void *ctx, const unsigned char *s, size_t l)
{
    RBGW_UNUSED(s);
    RBGW_UNUSED(l);
    return ref_scalar(ctx);
}

static int
ref_open(void *ctx)
{
    struct ref *r = ctx;
    if (++r->depth > r->max_depth) {
        r->max_depth = r->depth;
    }
    return 1;
}

static int
ref_close(void *ctx)
{
    struct ref *r = ctx;
    r->depth--;
    value_done(r);
    return 1;
}

static int
ref_key(void *ctx, const unsigned char *s, size_t l)
{
    RBGW_UNUSED(ctx);
    RBGW_UNUSED(s);
    RBGW_UNUSED(l);
    return 1;
}

static const yajl_callbacks ref_callbacks = {
    .yajl_null = ref_scalar,
    .yajl_boolean = ref_bool,
    .yajl_number = ref_number,
    .yajl_string = ref_string,
    .yajl_start_map = ref_open,
    .yajl_map_key = ref_key,
    .yajl_end_map = ref_close,
    .yajl_start_array = ref_open,
    .yajl_end_array = ref_close,
};

static int
hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The code unit of the \uXXXX escape at p (p[0] == '\\'), or -1 when p holds none. */
static long
u_escape(const unsigned char *p, const unsigned char *end)
{
    if (end - p < 6 || p[0] != '\\' || p[1] != 'u') {
        return -1;
    }
    long v = 0;
    for (int i = 2; i < 6; i++) {
        int d = hexval(p[i]);
        if (d < 0) {
            return -1;
        }
        v = v * 16 + d;
    }
    return v;
}

/* On text yajl accepted: is there a high surrogate escape without its low half right after? */
static bool
lone_high_surrogate(const unsigned char *p, size_t len)
{
    const unsigned char *end = p + len;
    bool in_string = false;
    while (p < end) {
        if (!in_string) {
            in_string = *p++ == '"';
            continue;
        }
        if (*p == '"') {
            in_string = false;
            p++;
        } else if (*p != '\\') {
            p++;
        } else if (p[1] != 'u') {
            p += 2; /* yajl accepted the text: an escape always has its second byte */
        } else {
            long cu = u_escape(p, end);
            p += 6;
            if (cu >= 0xd800 && cu <= 0xdbff) {
                long lo = u_escape(p, end);
                if (lo < 0xdc00 || lo > 0xdfff) {
                    return true;
                }
                p += 6;
            }
        }
    }
    return false;
}

static bool
ref_accepts(const char *text, size_t len)
{
    struct ref r;
    memset(&r, 0, sizeof(r));
    r.len = len;
    r.h = yajl_alloc(&ref_callbacks, NULL, &r);
    FUZZ_CHECK(r.h != NULL, "yajl_alloc");
    yajl_config(r.h, yajl_dont_validate_strings, 1);
    yajl_status st = yajl_parse(r.h, (const unsigned char *)text, len);
    if (st == yajl_status_ok) {
        r.finishing = true;
        st = yajl_complete_parse(r.h);
    }
    yajl_free(r.h);
    if (st != yajl_status_ok || !r.done || r.max_depth > MAX_DEPTH) {
        return false;
    }
    for (size_t i = r.end; i < len; i++) {
        if (!is_ws(text[i])) {
            return false;
        }
    }
    if (memchr(text, '\f', len) != NULL || memchr(text, '\v', len) != NULL) {
        return false;
    }
    return !lone_high_surrogate((const unsigned char *)text, len);
}

/* ---- noted members against the parser's tree ---- */

/* Short keys the fuzzer finds easily, the ones rpc.c watches, a repeated parent, and "". */
static const struct rbgw_jscan_watch watches[] = {
    {"method", NULL},
    {"parameters", NULL},
    {"parameters", "trxid"},
    {"result", NULL},
    {"a", NULL},
    {"a", "b"},
    {"b", "a"},
    {"", ""},
};

/* got must be exactly the source text of the tree node want (what names it in messages). */
static void
check_span(const char *text, size_t len, const char *what, struct rbgw_str got,
           const struct rbgw_json *want)
{
    FUZZ_CHECK(got.p != NULL && got.p >= text && got.p + got.len <= text + len && got.len > 0,
               "%s: span outside the text: %s", what, rbgw_fuzz_show(text, len));
    FUZZ_CHECK(!is_ws(got.p[0]) && !is_ws(got.p[got.len - 1]),
               "%s: span %s has surrounding whitespace", what, rbgw_fuzz_show_str(got));
    struct rbgw_buf a = RBGW_BUF_INIT, b = RBGW_BUF_INIT;
    FUZZ_CHECK(rbgw_fuzz_canon(got.p, got.len, &a) == 0, "%s: span %s is not JSON", what,
               rbgw_fuzz_show_str(got));
    rbgw_json_write(&b, want);
    FUZZ_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
               "%s: span %s, the tree has %s: %s", what, rbgw_fuzz_show(a.data, a.len),
               rbgw_fuzz_show(b.data, b.len), rbgw_fuzz_show(text, len));
    rbgw_buf_free(&a);
    rbgw_buf_free(&b);
}

static void
check_member(const char *text, size_t len, size_t i, struct rbgw_str got,
             const struct rbgw_json *want)
{
    char what[64];
    snprintf(what, sizeof(what), "watch %s.%s", watches[i].key,
             watches[i].subkey ? watches[i].subkey : "");
    if (want == NULL) {
        FUZZ_CHECK(got.p == NULL, "%s noted %s, the tree has nothing: %s", what,
                   rbgw_fuzz_show_str(got), rbgw_fuzz_show(text, len));
        return;
    }
    check_span(text, len, what, got, want);
}

/* Deepest container nesting of v (0 for a scalar) and its number of values. */
static void
measure(const struct rbgw_json *v, int level, int *depth, size_t *count)
{
    (*count)++;
    if (v->type == RBGW_JSON_ARRAY || v->type == RBGW_JSON_OBJECT) {
        if (level + 1 > *depth) {
            *depth = level + 1;
        }
        for (const struct rbgw_json *c = v->child; c != NULL; c = c->next) {
            measure(c, level + 1, depth, count);
        }
    }
}

static void
check_limited(const char *text, size_t len, const struct rbgw_json *root)
{
    static const struct rbgw_json_limits lim = {8, 1000};
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_json *tree = NULL;
    enum rbgw_json_over over = RBGW_JSON_OVER_NONE;
    char err[200] = "";
    int rc = rbgw_json_parse_limited(&a, text, len, &lim, &tree, &over, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == RBGW_EPARSE || rc == RBGW_ETOOBIG, "limited parse returned %d", rc);
    FUZZ_CHECK(rc == 0 || (err[0] != '\0' && rbgw_fuzz_one_line(err, strlen(err))),
               "limited parse: reason empty or not one line");
    if (root == NULL) {
        FUZZ_CHECK(rc != 0, "limited parse accepts what the parser refuses: %s",
                   rbgw_fuzz_show(text, len));
        rbgw_arena_free(&a);
        return;
    }
    int depth = 0;
    size_t count = 0;
    measure(root, 0, &depth, &count);
    bool within = depth <= 8 && count <= 1000;
    if (within) {
        FUZZ_CHECK(rc == 0, "limited parse refuses (%s) depth %d, %zu values: %s", err, depth,
                   count, rbgw_fuzz_show(text, len));
        struct rbgw_buf x = RBGW_BUF_INIT, y = RBGW_BUF_INIT;
        rbgw_json_write(&x, tree);
        rbgw_json_write(&y, root);
        FUZZ_CHECK(rbgw_str_eq(rbgw_buf_str(&x), rbgw_buf_str(&y)), "limited parse's tree differs");
        rbgw_buf_free(&x);
        rbgw_buf_free(&y);
    } else {
        FUZZ_CHECK(rc == RBGW_ETOOBIG && ((over == RBGW_JSON_OVER_DEPTH && depth > 8) ||
                                          (over == RBGW_JSON_OVER_ELEMENTS && count > 1000)),
                   "depth %d, %zu values: limited parse rc %d, over %d: %s", depth, count, rc,
                   (int)over, rbgw_fuzz_show(text, len));
    }
    rbgw_arena_free(&a);
}

static void
check_valid_tree(const char *text, size_t len, const struct rbgw_json *root)
{
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_json *tree = NULL;
    int rc = rbgw_json_parse_valid(&a, text, len, &tree);
    if (memchr(text, '\\', len) != NULL) {
        FUZZ_CHECK(rc == -1, "parse_valid built a tree for a text with escapes: %s",
                   rbgw_fuzz_show(text, len));
    } else {
        FUZZ_CHECK(rc == 0 && tree != NULL, "parse_valid refused: %s", rbgw_fuzz_show(text, len));
        struct rbgw_buf x = RBGW_BUF_INIT, y = RBGW_BUF_INIT;
        rbgw_json_write(&x, tree);
        rbgw_json_write(&y, root);
        FUZZ_CHECK(rbgw_str_eq(rbgw_buf_str(&x), rbgw_buf_str(&y)) && tree->n == root->n,
                   "parse_valid's tree differs: %s", rbgw_fuzz_show(text, len));
        rbgw_buf_free(&x);
        rbgw_buf_free(&y);
    }
    rbgw_arena_free(&a);
}

#define MAX_ITEMS 64

static void
check_items(const char *text, size_t len, const struct rbgw_json *root)
{
    struct rbgw_str items[MAX_ITEMS + 1];
    size_t n = 99;
    items[MAX_ITEMS] = RBGW_STR("guard");
    int rc = rbgw_json_scan_items(text, len, items, MAX_ITEMS, &n);
    bool want = root != NULL && (root->type == RBGW_JSON_ARRAY || root->type == RBGW_JSON_OBJECT);
    FUZZ_CHECK((rc == RBGW_JSCAN_OK) == want, "items %s, the parser says %s: %s",
               rc == RBGW_JSCAN_OK ? "accepts" : "refuses", want ? "a container" : "not one",
               rbgw_fuzz_show(text, len));
    FUZZ_CHECK(rbgw_str_eq(items[MAX_ITEMS], RBGW_STR("guard")), "items wrote past max");
    if (rc != RBGW_JSCAN_OK) {
        FUZZ_CHECK(n == 0, "refused, but n is %zu", n);
        return;
    }
    FUZZ_CHECK(n == root->n, "items counts %zu children, the tree %zu: %s", n, root->n,
               rbgw_fuzz_show(text, len));
    size_t k = 0;
    for (const struct rbgw_json *c = root->child; c != NULL && k < MAX_ITEMS; c = c->next, k++) {
        check_span(text, len, "item", items[k], c);
    }
    size_t few = 0;
    struct rbgw_str one[2] = {RBGW_STR_NULL, RBGW_STR("guard")};
    FUZZ_CHECK(rbgw_json_scan_items(text, len, one, 1, &few) == RBGW_JSCAN_OK && few == n &&
                   rbgw_str_eq(one[1], RBGW_STR("guard")),
               "with room for one span: n %zu, want %zu", few, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    bool ref = ref_accepts(text, size);

    char top = 'X';
    int scan = rbgw_json_scan(text, size, NULL, 0, NULL, &top);
    FUZZ_CHECK(scan != RBGW_JSCAN_UNSURE, "UNSURE without watches: %s", rbgw_fuzz_show(text, size));
    FUZZ_CHECK((scan == RBGW_JSCAN_OK) == ref, "scanner %s, reference %s: %s",
               scan == RBGW_JSCAN_OK ? "accepts" : "refuses", ref ? "accepts" : "refuses",
               rbgw_fuzz_show(text, size));
    size_t lead = 0;
    while (lead < size && is_ws(text[lead])) {
        lead++;
    }
    FUZZ_CHECK(top == (lead < size ? text[lead] : '\0'), "top '%c' at offset %zu", top, lead);

    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_json *root = NULL;
    char err[200];
    bool parsed = rbgw_json_parse(&a, text, size, &root, err, sizeof(err)) == 0;
    FUZZ_CHECK(parsed == ref, "parser %s (%s), reference %s: %s", parsed ? "accepts" : "refuses",
               parsed ? "" : err, ref ? "accepts" : "refuses", rbgw_fuzz_show(text, size));
    FUZZ_CHECK(parsed || (err[0] != '\0' && rbgw_fuzz_one_line(err, strlen(err))),
               "parser's reason is not one line: %s", rbgw_fuzz_show(err, strlen(err)));

    struct rbgw_str found[RBGW_NELEM(watches)];
    int wscan = rbgw_json_scan(text, size, watches, RBGW_NELEM(watches), found, NULL);
    if (wscan == RBGW_JSCAN_UNSURE) {
        FUZZ_CHECK(memchr(text, '\\', size) != NULL, "UNSURE without any escape: %s",
                   rbgw_fuzz_show(text, size));
    } else {
        FUZZ_CHECK(wscan == scan, "watching changed the verdict from %d to %d: %s", scan, wscan,
                   rbgw_fuzz_show(text, size));
    }
    check_items(text, size, parsed ? root : NULL);
    check_limited(text, size, parsed ? root : NULL);
    if (parsed) {
        check_valid_tree(text, size, root);
    }
    if (wscan == RBGW_JSCAN_OK) {
        for (size_t i = 0; i < RBGW_NELEM(watches); i++) {
            const struct rbgw_json *want = rbgw_json_get(root, watches[i].key);
            if (watches[i].subkey != NULL) {
                want = rbgw_json_get(want, watches[i].subkey);
            }
            check_member(text, size, i, found[i], want);
        }
    }
    rbgw_arena_free(&a);
    return 0;
}

/*
 * merge.c: combining the replies of a read=merge call into one (merge.h).
 *
 *   reply i --rbgw_json_parse--> tree (types, counts, keys)      what to keep
 *           --rbgw_json_scan_items--> raw text of each child      the bytes to copy
 *
 * Each leg's reply is parsed once for its structure, and the project's JSON scanner splits the
 * same text into the raw text of each child value, so the k-th child of a tree node and the
 * k-th span of its text are the same value.  Merging copies those spans: key order, number
 * text (3.0e2) and escapes reach pdns exactly as the responder wrote them.  The scanner
 * accepts exactly what the parser accepts (test_jsonscan.c checks it), so a split never fails
 * on a parsed reply; if it ever did, that leg's text is left out rather than guessed at.
 *
 * Pure: every allocation comes from the caller's arena; only `out` grows.
 */
#include <string.h>

#include "rbgw/dname.h"
#include "rbgw/jsonscan.h"
#include "rbgw/merge.h"
#include "rbgw/result.h"

/* Raw text of each of the n children of the container whose text is c, or NULL. */
static struct rbgw_str *
child_spans(struct rbgw_arena *a, struct rbgw_str c, size_t n)
{
    struct rbgw_str *spans = rbgw_arena_alloc(a, (n ? n : 1) * sizeof(*spans));
    size_t got;
    if (rbgw_json_scan_items(c.p, c.len, spans, n, &got) != RBGW_JSCAN_OK || got != n) {
        return NULL;
    }
    return spans;
}

/* Append raw JSON text as one line.  Valid JSON holds raw CR/LF only as whitespace between
 * tokens (control bytes are refused inside strings), so spaces in their place change no
 * value. */
static void
put_raw(struct rbgw_buf *out, struct rbgw_str s)
{
    if (s.len == 0) {
        return;
    }
    char *dst = rbgw_buf_reserve(out, s.len);
    memcpy(dst, s.p, s.len);
    for (size_t i = 0; i < s.len; i++) {
        if (dst[i] == '\n' || dst[i] == '\r') {
            dst[i] = ' ';
        }
    }
    out->len += s.len;
    out->data[out->len] = '\0';
}

/* The member of an object by key as rbgw_json_get finds it (the last one), with its index. */
static const struct rbgw_json *
member_at(const struct rbgw_json *obj, const char *key, size_t *idx)
{
    const struct rbgw_json *found = NULL;
    size_t k = 0;
    for (const struct rbgw_json *c = obj->child; c != NULL; c = c->next, k++) {
        if (rbgw_str_eq_cstr(c->key, key)) {
            found = c;
            *idx = k;
        }
    }
    return found;
}

/* One leg of a merge, as read. */
struct leg {
    const struct rbgw_json *result; /* the result member, or NULL for a failed leg */
    struct rbgw_str result_raw;     /* its text */
    const struct rbgw_json *log;    /* the log member when it is an array, else NULL */
    struct rbgw_str log_raw;        /* its text */
    enum rbgw_result_kind kind;     /* pdns's reading of result */
};

static void
leg_read(struct rbgw_arena *a, enum rbgw_method m, struct rbgw_str reply, struct leg *l)
{
    struct rbgw_json *root;
    char err[128];
    size_t ri = 0, li = 0;
    memset(l, 0, sizeof(*l));
    l->kind = RBGW_RESULT_FAILED;
    if (reply.p == NULL || rbgw_json_parse(a, reply.p, reply.len, &root, err, sizeof(err)) != 0 ||
        root->type != RBGW_JSON_OBJECT) {
        return;
    }
    struct rbgw_str *spans = child_spans(a, reply, root->n);
    if (spans == NULL) {
        return;
    }
    const struct rbgw_json *r = member_at(root, "result", &ri);
    const struct rbgw_json *log = member_at(root, "log", &li);
    if (log != NULL && log->type == RBGW_JSON_ARRAY) {
        l->log = log;
        l->log_raw = spans[li];
    }
    l->kind = rbgw_result_kind_of(m, r);
    if (l->kind != RBGW_RESULT_FAILED) {
        l->result = r;
        l->result_raw = spans[ri];
    }
}

/* The string member "zone" of a DomainInfo object, or an empty view. */
static struct rbgw_str
zone_of(const struct rbgw_json *e)
{
    const struct rbgw_json *v = e->type == RBGW_JSON_OBJECT ? rbgw_json_get(e, "zone") : NULL;
    return v != NULL && v->type == RBGW_JSON_STRING ? v->str : RBGW_STR_NULL;
}

/* An open-addressing set of zone names (by rbgw_name_hash, confirmed with rbgw_name_eq). */
struct zone_set {
    struct rbgw_str *slot; /* arena; .p == NULL = free */
    uint64_t *hash;        /* arena */
    size_t mask;           /* capacity - 1 (a power of two) */
};

/* Adds zone; false when an equal name was already there. */
static bool
zone_set_add(struct zone_set *s, struct rbgw_str zone)
{
    uint64_t h = rbgw_name_hash(zone);
    for (size_t i = (size_t)h & s->mask;; i = (i + 1) & s->mask) {
        if (s->slot[i].p == NULL) {
            s->slot[i] = zone;
            s->hash[i] = h;
            return true;
        }
        if (s->hash[i] == h && rbgw_name_eq(s->slot[i], zone)) {
            return false;
        }
    }
}

static void
merge_arrays(struct rbgw_arena *a, const struct leg *legs, size_t n, bool dedupe,
             struct rbgw_buf *out)
{
    struct zone_set set = {NULL, NULL, 0};
    size_t total = 0;
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (legs[i].result != NULL && legs[i].result->type == RBGW_JSON_ARRAY) {
            total += legs[i].result->n;
        }
    }
    if (dedupe) {
        size_t cap = 16;
        while (cap < 2 * total) {
            cap *= 2;
        }
        set.slot = rbgw_arena_calloc(a, cap * sizeof(*set.slot));
        set.hash = rbgw_arena_calloc(a, cap * sizeof(*set.hash));
        set.mask = cap - 1;
    }
    rbgw_buf_putc(out, '[');
    for (size_t i = 0; i < n; i++) {
        const struct rbgw_json *r = legs[i].result;
        if (r == NULL || r->type != RBGW_JSON_ARRAY) {
            continue;
        }
        struct rbgw_str *spans = child_spans(a, legs[i].result_raw, r->n);
        if (spans == NULL) {
            continue;
        }
        size_t k = 0;
        for (const struct rbgw_json *e = r->child; e != NULL; e = e->next, k++) {
            if (dedupe) {
                /* an entry without a zone is passed on; pdns reports it as it would anyway */
                struct rbgw_str zone = zone_of(e);
                if (zone.p != NULL && !zone_set_add(&set, zone)) {
                    continue;
                }
            }
            if (!first) {
                rbgw_buf_append(out, ", ", 2);
            }
            first = false;
            put_raw(out, spans[k]);
        }
    }
    rbgw_buf_putc(out, ']');
}

int
rbgw_merge_replies(struct rbgw_arena *a, enum rbgw_method m, const struct rbgw_str *replies,
                   size_t n, struct rbgw_buf *out)
{
    enum rbgw_merge_rule merge = rbgw_method_info(m)->merge;
    struct leg *legs = rbgw_arena_calloc(a, (n ? n : 1) * sizeof(*legs));
    const struct leg *pick = NULL; /* first DATA leg, else first EMPTY leg */
    bool any_array = false, any_log = false;

    for (size_t i = 0; i < n; i++) {
        leg_read(a, m, replies[i], &legs[i]);
        if (legs[i].kind == RBGW_RESULT_DATA && (pick == NULL || pick->kind != RBGW_RESULT_DATA)) {
            pick = &legs[i];
        } else if (legs[i].kind == RBGW_RESULT_EMPTY && pick == NULL) {
            pick = &legs[i];
        }
        any_array = any_array || (legs[i].result && legs[i].result->type == RBGW_JSON_ARRAY);
        any_log = any_log || legs[i].log != NULL;
    }
    if (pick == NULL) {
        return RBGW_EPROTO;
    }

    rbgw_buf_append_cstr(out, "{\"result\": ");
    if (merge != RBGW_MERGE_FIRST && any_array) {
        merge_arrays(a, legs, n, merge == RBGW_MERGE_ZONES, out);
    } else {
        /* no leg had an array to add up: pass the chosen result on as pdns would read it */
        put_raw(out, pick->result_raw);
    }
    if (any_log) {
        bool first = true;
        rbgw_buf_append_cstr(out, ", \"log\": [");
        for (size_t i = 0; i < n; i++) {
            struct rbgw_str *spans =
                legs[i].log ? child_spans(a, legs[i].log_raw, legs[i].log->n) : NULL;
            for (size_t k = 0; spans != NULL && k < legs[i].log->n; k++) {
                if (!first) {
                    rbgw_buf_append(out, ", ", 2);
                }
                first = false;
                put_raw(out, spans[k]);
            }
        }
        rbgw_buf_putc(out, ']');
    }
    rbgw_buf_putc(out, '}');
    return 0;
}

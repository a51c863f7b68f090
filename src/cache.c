/*
 * cache.c: the read cache's keys, store and flights (cache.h has the model).
 *
 *   rbgw_cache ──owns──> buckets[] ──chain──> entry ──> entry ...   (hash table, power of two)
 *             │                              ^  one malloc each: header, key, reply, seq
 *             ├──owns──> lru (list head) ────┘  most recently used first; the tail goes first
 *             ├──owns──> marks[] ──chain──> mark (a name a write touched: seqs, time)
 *             │          marks_fifo ──────────┘  oldest first; gone once older than the TTL
 *             └──lists──> flights[] (fixed buckets) ──> rbgw_cache_flight (the caller's memory)
 *
 * Why this shape: a hit must cost a hash, one short chain walk, a memcmp and two list-pointer
 * moves, with no allocation, because it replaces an upstream round trip that may be a few
 * microseconds on a fast responder.  Inserts (the miss path, already paying for an upstream
 * call) allocate one block per entry, so memory is bounded by bytes, not by a fixed count of
 * slots that a large list reply would overflow.
 *
 * Invalidation is lazy.  Walking every entry per write cost 10.6 ms with 64 MiB of entries
 * (232 000 lookups), a stall of the whole loop per write.  Instead every entry carries the
 * sequence number of its insert, and a write leaves marks: the name it covers marks its
 * subtree (that name and below), each of its parents is marked exactly (the zone apex and
 * above hold zone-level entries).  An entry found is stale if a mark on its own name or on one
 * of its parents (its canonical form's prefixes at label boundaries) is newer than the entry:
 * a few hash probes, and none while no write happened within the TTL.  A mark older than the
 * TTL is forgotten: every entry it could cover has expired by then.  A write that names
 * nothing moves one sequence number (all_seq) that every older entry is stale against.  Stale
 * entries stay, counted in entries and bytes, until found or evicted.  Flights are few (at
 * most the calls in flight), so they are ended eagerly, in a table with a fixed number of
 * buckets.
 *
 * Pure: the caller passes the time (the loop's, in ms) and owns the flights; nothing here logs.
 */
#include <string.h>

#include "rbgw/cache.h"
#include "rbgw/dname.h"

#define MAX_PARAMS 32      /* members of a call's parameters a key takes; more: no key */
#define FIRST_BUCKETS 256  /* entry buckets at the first insert (doubles with the entries) */
#define FLIGHT_BUCKETS 256 /* flight buckets (fixed) */
#define MARK_BUCKETS 1024  /* mark buckets (fixed: marks live one TTL) */
#define MAX_MARKS 65536    /* more marks within a TTL: everything is made stale instead */

/* Parameters that identify the client, not the question: part of the key only per client. */
static const char *const client_params[] = {"remote", "real-remote"};

struct entry {
    struct rbgw_list lru; /* on c->lru, most recently used first */
    struct entry *chain;  /* next entry in its bucket */
    uint64_t hash;        /* rbgw_cache_hash of its key */
    uint64_t expires;     /* loop time (ms) from which it is no longer served */
    uint64_t seq;         /* the cache's sequence number when it was stored */
    uint32_t klen;        /* key bytes, at data */
    uint32_t rlen;        /* reply bytes, right after the key */
    char data[];          /* the key, then the reply */
};

/* A name a write touched within the last TTL. */
struct mark {
    struct mark *chain;    /* next mark in its bucket */
    struct rbgw_list fifo; /* on c->marks_fifo, oldest first */
    uint64_t hash;         /* rbgw_cache_hash of the name */
    uint64_t subtree_seq;  /* entries at or below the name stored before this are stale */
    uint64_t exact_seq;    /* entries of exactly the name stored before this are stale */
    uint64_t at;           /* loop time of the last write that set it */
    size_t len;            /* bytes of name */
    unsigned char name[];  /* canonical form */
};

struct rbgw_cache {
    struct rbgw_cache_opts opts;              /* in force */
    struct rbgw_cache_stats stats;            /* counters */
    struct entry **buckets;                   /* owned: hash chains; NULL until an insert */
    size_t nbuckets;                          /* a power of two, or 0 */
    struct rbgw_list lru;                     /* every entry, most recently used first */
    struct rbgw_list flights[FLIGHT_BUCKETS]; /* listed flights, by hash */
    struct rbgw_buf scratch;                  /* owned: the caller's key buffer */
    uint64_t seq;                             /* last sequence number handed out */
    uint64_t all_seq;                         /* entries stored before it are stale */
    struct mark *marks[MARK_BUCKETS];         /* owned: names writes touched, by hash */
    struct rbgw_list marks_fifo;              /* the same marks, oldest first */
    size_t nmarks;                            /* marks held */
};

/* ---- keys ---- */

static bool
is_client_param(struct rbgw_str key)
{
    for (size_t i = 0; i < RBGW_NELEM(client_params); i++) {
        if (rbgw_str_eq_cstr(key, client_params[i])) {
            return true;
        }
    }
    return false;
}

enum rbgw_cache_use
rbgw_cache_key(enum rbgw_method m, const struct rbgw_json *params, bool per_client,
               struct rbgw_buf *out)
{
    const struct rbgw_method_info *row = rbgw_method_info(m);
    if (row->cls != RBGW_CLASS_READ || params == NULL || params->type != RBGW_JSON_OBJECT ||
        params->n > MAX_PARAMS) {
        return RBGW_CACHE_USE_NONE;
    }
    enum rbgw_cache_use use =
        row->cache == RBGW_CACHE_SHARE_ONLY ? RBGW_CACHE_USE_SHARE : RBGW_CACHE_USE_STORE;
    unsigned char canon[RBGW_NAME_CANON_MAX];
    int clen = -1;
    struct rbgw_str name = rbgw_call_name(m, params);
    if (name.p != NULL) {
        clen = rbgw_name_canon(name, canon);
    }
    /* Only a DNS name can be matched against the names writes carry. */
    bool named = clen >= 0;
    if (!named) {
        use = RBGW_CACHE_USE_SHARE;
    }
    /* The name is in the key in canonical form; the member itself only when it is not (a
     * nested member, or text that is no name: then its bytes tell calls apart). */
    const char *skip = named && row->callname_member == NULL ? row->callname : NULL;

    const struct rbgw_json *mem[MAX_PARAMS];
    size_t n = 0;
    for (const struct rbgw_json *c = params->child; c != NULL; c = c->next) {
        if ((skip != NULL && rbgw_str_eq_cstr(c->key, skip)) ||
            (!per_client && is_client_param(c->key))) {
            continue;
        }
        /* Stable insertion sort into json11's order: pdns sends the members sorted already. */
        size_t j = n++;
        while (j > 0 && rbgw_json_key_cmp(mem[j - 1], c) > 0) {
            mem[j] = mem[j - 1];
            j--;
        }
        mem[j] = c;
    }

    unsigned char head[RBGW_CACHE_KEY_NAME] = {(unsigned char)m,
                                               named ? (unsigned char)(clen + 1) : 0};
    rbgw_buf_append(out, head, sizeof(head));
    if (named) {
        rbgw_buf_append(out, canon, (size_t)clen);
    }
    rbgw_buf_putc(out, '{');
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            rbgw_buf_append(out, ", ", 2);
        }
        rbgw_json_write_string(out, mem[i]->key.p, mem[i]->key.len);
        rbgw_buf_append(out, ": ", 2);
        rbgw_json_write(out, mem[i]);
    }
    rbgw_buf_putc(out, '}');
    return use;
}

/* A member of a call's parameters, as text: its key (no escapes) and its value's source. */
struct member {
    struct rbgw_str key;   /* the key's bytes, without quotes */
    struct rbgw_str value; /* the value's JSON text */
};

static int
member_cmp(const struct member *a, const struct member *b)
{
    size_t n = a->key.len < b->key.len ? a->key.len : b->key.len;
    int c = n ? memcmp(a->key.p, b->key.p, n) : 0;
    return c != 0 ? c : (a->key.len > b->key.len) - (a->key.len < b->key.len);
}

static bool
is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *
skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws(*p)) {
        p++;
    }
    return p;
}

/* Past the string starting at p (its opening quote); *escaped set if it holds a backslash. */
static const char *
skip_string(const char *p, const char *end, bool *escaped)
{
    for (p++; p < end && *p != '"'; p++) {
        if (*p == '\\') {
            *escaped = true;
            p++;
        }
    }
    return p < end ? p + 1 : NULL;
}

/*
 * Past the value starting at p, in text the caller's scan found valid (the peek's): the walk
 * only finds where things end.  Bounds are checked all the same: NULL if the text ends first.
 */
static const char *
skip_value(const char *p, const char *end)
{
    bool escaped = false;
    if (*p == '"') {
        return skip_string(p, end, &escaped);
    }
    if (*p != '{' && *p != '[') {
        while (p < end && *p != ',' && *p != '}' && *p != ']' && !is_ws(*p)) {
            p++;
        }
        return p;
    }
    unsigned depth = 0;
    while (p != NULL && p < end) {
        char ch = *p;
        if (ch == '"') {
            p = skip_string(p, end, &escaped);
            continue;
        }
        p++;
        if (ch == '{' || ch == '[') {
            depth++;
        } else if ((ch == '}' || ch == ']') && --depth == 0) {
            return p;
        }
    }
    return NULL;
}

/*
 * The members of the object text params: *n of them (up to MAX_PARAMS + 1, which says "too
 * many").  False when a key has escapes or the text is not an object.
 */
static bool
split_members(struct rbgw_str params, struct member *mem, size_t *n)
{
    const char *p = params.p, *end = params.p + params.len;
    *n = 0;
    if (p >= end || *p != '{') {
        return false;
    }
    p++;
    for (;;) {
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
        }
        if (p >= end) {
            return false;
        }
        if (*p == '}') {
            return true;
        }
        if (*p != '"') {
            return false;
        }
        bool escaped = false;
        const char *k = p + 1;
        const char *q = skip_string(p, end, &escaped);
        if (q == NULL || escaped) {
            return false;
        }
        struct rbgw_str key = rbgw_str_make(k, (size_t)(q - 1 - k));
        p = skip_ws(q, end);
        if (p >= end || *p != ':') {
            return false;
        }
        p = skip_ws(p + 1, end);
        const char *v = p;
        if (p >= end || (p = skip_value(p, end)) == NULL) {
            return false;
        }
        if (*n == MAX_PARAMS + 1) {
            return true; /* too many: the caller says so */
        }
        mem[*n].key = key;
        mem[*n].value = rbgw_str_make(v, (size_t)(p - v));
        (*n)++;
    }
}

int
rbgw_cache_key_text(enum rbgw_method m, struct rbgw_str params, bool per_client,
                    struct rbgw_buf *out)
{
    const struct rbgw_method_info *row = rbgw_method_info(m);
    if (row->cls != RBGW_CLASS_READ) {
        return RBGW_CACHE_USE_NONE;
    }
    if (params.p == NULL) {
        params = RBGW_STR("{}"); /* no "parameters": the decoder's empty object */
    }
    struct member mem[MAX_PARAMS + 1];
    size_t n;
    if (row->callname_member != NULL || !split_members(params, mem, &n)) {
        return -1; /* nested call names, escaped keys, null: the tree's business */
    }
    if (n > MAX_PARAMS) {
        return RBGW_CACHE_USE_NONE;
    }
    /* The call name: the last member of that key (rbgw_json_get's), when it is a string. */
    struct rbgw_str name = RBGW_STR_NULL;
    for (size_t i = 0; row->callname != NULL && i < n; i++) {
        if (rbgw_str_eq_cstr(mem[i].key, row->callname)) {
            struct rbgw_str v = mem[i].value;
            name = v.p[0] == '"' ? rbgw_str_make(v.p + 1, v.len - 2) : RBGW_STR_NULL;
        }
    }
    if (name.p != NULL && memchr(name.p, '\\', name.len) != NULL) {
        return -1; /* an escaped name: decoded by the tree */
    }
    enum rbgw_cache_use use =
        row->cache == RBGW_CACHE_SHARE_ONLY ? RBGW_CACHE_USE_SHARE : RBGW_CACHE_USE_STORE;
    unsigned char canon[RBGW_NAME_CANON_MAX];
    int clen = name.p != NULL ? rbgw_name_canon(name, canon) : -1;
    bool named = clen >= 0;
    if (!named) {
        use = RBGW_CACHE_USE_SHARE;
    }
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if ((named && rbgw_str_eq_cstr(mem[i].key, row->callname)) ||
            (!per_client && is_client_param(mem[i].key))) {
            continue;
        }
        struct member c = mem[i];
        size_t j = kept++;
        while (j > 0 && member_cmp(&mem[j - 1], &c) > 0) {
            mem[j] = mem[j - 1];
            j--;
        }
        mem[j] = c;
    }
    /* One reservation: at most the parameters' text, the name and the separators. */
    char *w = rbgw_buf_reserve(out, RBGW_CACHE_KEY_NAME + RBGW_NAME_CANON_MAX + params.len +
                                        8 * (kept + 1));
    char *start = w;
    *w++ = (char)m;
    *w++ = named ? (char)(clen + 1) : 0;
    if (named) {
        memcpy(w, canon, (size_t)clen);
        w += clen;
    }
    *w++ = '{';
    for (size_t i = 0; i < kept; i++) {
        if (i > 0) {
            *w++ = ',';
            *w++ = ' ';
        }
        *w++ = '"';
        memcpy(w, mem[i].key.p, mem[i].key.len);
        w += mem[i].key.len;
        memcpy(w, "\": ", 3);
        w += 3;
        memcpy(w, mem[i].value.p, mem[i].value.len);
        w += mem[i].value.len;
    }
    *w++ = '}';
    out->len += (size_t)(w - start);
    out->data[out->len] = '\0';
    return (int)use;
}

bool
rbgw_cache_key_name(struct rbgw_str key, struct rbgw_str *name)
{
    if (key.len < RBGW_CACHE_KEY_NAME || (unsigned char)key.p[1] == 0) {
        return false;
    }
    size_t len = (size_t)(unsigned char)key.p[1] - 1;
    if (RBGW_CACHE_KEY_NAME + len > key.len) {
        return false;
    }
    *name = rbgw_str_make(key.p + RBGW_CACHE_KEY_NAME, len);
    return true;
}

/* Murmur3's finalizer: every input bit reaches every output bit. */
static uint64_t
fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

/*
 * Eight bytes at a time, mixed with the cache's seed: keys carry names any DNS client can
 * choose, and a seed they cannot know keeps them from filling one hash chain on purpose.
 */
uint64_t
rbgw_cache_hash(const struct rbgw_cache *c, struct rbgw_str key)
{
    uint64_t h = c->opts.seed ^ (key.len * UINT64_C(0x9e3779b97f4a7c15));
    size_t i = 0;
    for (; i + 8 <= key.len; i += 8) {
        uint64_t w;
        memcpy(&w, key.p + i, 8);
        h = (h ^ fmix64(w)) * UINT64_C(0x9e3779b97f4a7c15);
    }
    uint64_t w = 0;
    memcpy(&w, key.p + i, key.len - i);
    h = (h ^ fmix64(w)) * UINT64_C(0x9e3779b97f4a7c15);
    return fmix64(h);
}

/* ---- names ---- */

/* b's canonical form is a prefix of a's: a is at or below b. */
static bool
canon_under(struct rbgw_str a, struct rbgw_str b)
{
    return b.len <= a.len && (b.len == 0 || memcmp(a.p, b.p, b.len) == 0);
}

/* One is at or below the other. */
static bool
canon_related(struct rbgw_str a, struct rbgw_str b)
{
    return canon_under(a, b) || canon_under(b, a);
}

/* A wildcard's scope is its parent: "*.x" covers names below x, siblings included. */
static struct rbgw_str
canon_scope(struct rbgw_str s)
{
    size_t last = 0;
    for (size_t i = 0; i < s.len; i += 1 + (unsigned char)s.p[i]) {
        last = i;
    }
    if (s.len >= 2 && last == s.len - 2 && s.p[last] == 1 && s.p[last + 1] == '*') {
        s.len = last;
    }
    return s;
}

/* ---- marks ---- */

static struct mark **
mark_slot(struct rbgw_cache *c, struct rbgw_str name, uint64_t hash)
{
    struct mark **pp = &c->marks[hash % MARK_BUCKETS];
    while (*pp != NULL && ((*pp)->hash != hash || (*pp)->len != name.len ||
                           memcmp((*pp)->name, name.p, name.len) != 0)) {
        pp = &(*pp)->chain;
    }
    return pp;
}

static void
mark_drop(struct rbgw_cache *c, struct mark *m)
{
    struct mark **pp = &c->marks[m->hash % MARK_BUCKETS];
    while (*pp != m) {
        pp = &(*pp)->chain;
    }
    *pp = m->chain;
    rbgw_list_remove(&m->fifo);
    c->nmarks--;
    free(m);
}

static void
marks_clear(struct rbgw_cache *c)
{
    while (!rbgw_list_empty(&c->marks_fifo)) {
        mark_drop(c, rbgw_list_entry(c->marks_fifo.next, struct mark, fifo));
    }
}

/* Forget marks older than the TTL: what they covered has expired. */
static void
marks_expire(struct rbgw_cache *c, uint64_t now)
{
    while (!rbgw_list_empty(&c->marks_fifo)) {
        struct mark *m = rbgw_list_entry(c->marks_fifo.next, struct mark, fifo);
        if (m->at + c->opts.ttl_ms > now) {
            break;
        }
        mark_drop(c, m);
    }
}

/* Mark name (canonical) at now with seq: its subtree, or only itself. */
static void
mark_set(struct rbgw_cache *c, struct rbgw_str name, bool subtree, uint64_t seq, uint64_t now)
{
    uint64_t hash = rbgw_cache_hash(c, name);
    struct mark **pp = mark_slot(c, name, hash);
    struct mark *m = *pp;
    if (m == NULL) {
        m = rbgw_xcalloc(1, sizeof(*m) + name.len);
        m->hash = hash;
        m->len = name.len;
        memcpy(m->name, name.p, name.len);
        *pp = m;
        c->nmarks++;
    } else {
        rbgw_list_remove(&m->fifo);
    }
    rbgw_list_push_back(&c->marks_fifo, &m->fifo);
    m->at = now;
    if (subtree) {
        m->subtree_seq = seq;
    } else {
        m->exact_seq = seq;
    }
}

static const struct mark *
mark_find(struct rbgw_cache *c, struct rbgw_str name)
{
    return *mark_slot(c, name, rbgw_cache_hash(c, name));
}

/* ---- entries ---- */

static size_t
entry_size(const struct entry *e)
{
    return sizeof(*e) + e->klen + e->rlen;
}

static struct entry **
bucket_of(struct rbgw_cache *c, uint64_t hash)
{
    return &c->buckets[hash & (c->nbuckets - 1)];
}

static void
entry_drop(struct rbgw_cache *c, struct entry *e)
{
    struct entry **pp = bucket_of(c, e->hash);
    while (*pp != e) {
        pp = &(*pp)->chain;
    }
    *pp = e->chain;
    rbgw_list_remove(&e->lru);
    c->stats.entries--;
    c->stats.bytes -= entry_size(e);
    free(e);
}

/* A write since e was stored may have changed its answer. */
static bool
entry_stale(struct rbgw_cache *c, const struct entry *e, uint64_t now)
{
    if (e->seq < c->all_seq) {
        return true;
    }
    if (c->nmarks == 0) {
        return false;
    }
    marks_expire(c, now);
    struct rbgw_str name;
    if (c->nmarks == 0 || !rbgw_cache_key_name(rbgw_str_make(e->data, e->klen), &name)) {
        return false;
    }
    const struct mark *m = mark_find(c, name);
    if (m != NULL && (m->exact_seq > e->seq || m->subtree_seq > e->seq)) {
        return true;
    }
    /* Its parents, the root first: the prefixes at label boundaries. */
    for (size_t i = 0; i < name.len; i += 1 + (unsigned char)name.p[i]) {
        m = mark_find(c, rbgw_str_make(name.p, i));
        if (m != NULL && m->subtree_seq > e->seq) {
            return true;
        }
    }
    return false;
}

static struct entry *
entry_find(struct rbgw_cache *c, struct rbgw_str key, uint64_t hash)
{
    if (c->nbuckets == 0) {
        return NULL;
    }
    for (struct entry *e = *bucket_of(c, hash); e != NULL; e = e->chain) {
        if (e->hash == hash && e->klen == key.len && memcmp(e->data, key.p, key.len) == 0) {
            return e;
        }
    }
    return NULL;
}

static void
grow(struct rbgw_cache *c)
{
    size_t n = c->nbuckets ? c->nbuckets * 2 : FIRST_BUCKETS;
    struct entry **b = rbgw_xcalloc(n, sizeof(*b));
    for (size_t i = 0; i < c->nbuckets; i++) {
        struct entry *e = c->buckets[i];
        while (e != NULL) {
            struct entry *next = e->chain;
            struct entry **pp = &b[e->hash & (n - 1)];
            e->chain = *pp;
            *pp = e;
            e = next;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
}

static size_t
drop_all(struct rbgw_cache *c)
{
    size_t n = 0;
    while (!rbgw_list_empty(&c->lru)) {
        entry_drop(c, rbgw_list_entry(c->lru.next, struct entry, lru));
        n++;
    }
    return n;
}

/* ---- the cache ---- */

struct rbgw_cache *
rbgw_cache_new(const struct rbgw_cache_opts *opts)
{
    struct rbgw_cache *c = rbgw_xcalloc(1, sizeof(*c));
    c->opts = *opts;
    rbgw_list_init(&c->lru);
    rbgw_list_init(&c->marks_fifo);
    for (size_t i = 0; i < FLIGHT_BUCKETS; i++) {
        rbgw_list_init(&c->flights[i]);
    }
    return c;
}

void
rbgw_cache_free(struct rbgw_cache *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < FLIGHT_BUCKETS; i++) {
        RBGW_ASSERT(rbgw_list_empty(&c->flights[i]));
    }
    drop_all(c);
    marks_clear(c);
    free(c->buckets);
    rbgw_buf_free(&c->scratch);
    free(c);
}

void
rbgw_cache_configure(struct rbgw_cache *c, const struct rbgw_cache_opts *opts)
{
    c->stats.invalidations += drop_all(c);
    marks_clear(c);
    rbgw_cache_invalidate_all(c);
    c->opts = *opts;
}

const struct rbgw_cache_opts *
rbgw_cache_opts(const struct rbgw_cache *c)
{
    return &c->opts;
}

struct rbgw_cache_stats *
rbgw_cache_stats(struct rbgw_cache *c)
{
    return &c->stats;
}

struct rbgw_buf *
rbgw_cache_scratch(struct rbgw_cache *c)
{
    return &c->scratch;
}

bool
rbgw_cache_get(struct rbgw_cache *c, struct rbgw_str key, uint64_t hash, uint64_t now,
               struct rbgw_str *reply)
{
    struct entry *e = entry_find(c, key, hash);
    if (e == NULL) {
        return false;
    }
    if (now >= e->expires) {
        entry_drop(c, e);
        c->stats.expired++;
        return false;
    }
    if (entry_stale(c, e, now)) {
        entry_drop(c, e);
        c->stats.invalidations++;
        return false;
    }
    rbgw_list_remove(&e->lru);
    rbgw_list_push_front(&c->lru, &e->lru);
    *reply = rbgw_str_make(e->data + e->klen, e->rlen);
    return true;
}

void
rbgw_cache_put(struct rbgw_cache *c, struct rbgw_str key, uint64_t hash, struct rbgw_str reply,
               uint64_t now)
{
    size_t size = sizeof(struct entry) + key.len + reply.len;
    if (c->opts.ttl_ms == 0 || size > c->opts.max_bytes / 8) {
        return;
    }
    struct entry *old = entry_find(c, key, hash);
    if (old != NULL) {
        entry_drop(c, old);
    }
    if (c->stats.entries >= c->nbuckets) {
        grow(c);
    }
    struct entry *e = rbgw_xmalloc(size);
    e->hash = hash;
    e->expires = now + c->opts.ttl_ms;
    e->seq = ++c->seq;
    e->klen = (uint32_t)key.len;
    e->rlen = (uint32_t)reply.len;
    memcpy(e->data, key.p, key.len);
    memcpy(e->data + key.len, reply.p, reply.len);
    struct entry **pp = bucket_of(c, hash);
    e->chain = *pp;
    *pp = e;
    rbgw_list_push_front(&c->lru, &e->lru);
    c->stats.entries++;
    c->stats.bytes += size;
    c->stats.inserts++;
    while (c->stats.bytes > c->opts.max_bytes) {
        entry_drop(c, rbgw_list_entry(c->lru.prev, struct entry, lru));
        c->stats.evictions++;
    }
}

/* ---- invalidation ---- */

static void
flight_end(struct rbgw_cache *c, struct rbgw_cache_flight *f)
{
    f->stale = true;
    rbgw_cache_flight_remove(c, f);
}

void
rbgw_cache_invalidate(struct rbgw_cache *c, struct rbgw_str name, uint64_t now)
{
    unsigned char canon[RBGW_NAME_CANON_MAX];
    int clen = rbgw_name_canon(name, canon);
    if (clen < 0 || c->nmarks >= MAX_MARKS) {
        rbgw_cache_invalidate_all(c);
        return;
    }
    struct rbgw_str scope = canon_scope(rbgw_str_make((const char *)canon, (size_t)clen));
    uint64_t seq = ++c->seq;
    marks_expire(c, now);
    mark_set(c, scope, true, seq, now);
    for (size_t i = 0; i < scope.len; i += 1 + (unsigned char)scope.p[i]) {
        mark_set(c, rbgw_str_make(scope.p, i), false, seq, now);
    }
    struct rbgw_list *next;
    for (size_t i = 0; i < FLIGHT_BUCKETS; i++) {
        for (struct rbgw_list *p = c->flights[i].next; p != &c->flights[i]; p = next) {
            next = p->next;
            struct rbgw_cache_flight *f = rbgw_list_entry(p, struct rbgw_cache_flight, link);
            struct rbgw_str fn;
            if (!rbgw_cache_key_name(f->key, &fn) || canon_related(fn, scope)) {
                flight_end(c, f);
            }
        }
    }
}

void
rbgw_cache_invalidate_all(struct rbgw_cache *c)
{
    c->all_seq = ++c->seq;
    marks_clear(c); /* older than all_seq: they say nothing more */
    for (size_t i = 0; i < FLIGHT_BUCKETS; i++) {
        while (!rbgw_list_empty(&c->flights[i])) {
            flight_end(c, rbgw_list_entry(c->flights[i].next, struct rbgw_cache_flight, link));
        }
    }
}

void
rbgw_cache_end_shared(struct rbgw_cache *c)
{
    struct rbgw_list *next;
    for (size_t i = 0; i < FLIGHT_BUCKETS; i++) {
        for (struct rbgw_list *p = c->flights[i].next; p != &c->flights[i]; p = next) {
            next = p->next;
            struct rbgw_cache_flight *f = rbgw_list_entry(p, struct rbgw_cache_flight, link);
            if (!f->store) {
                flight_end(c, f);
            }
        }
    }
}

/* ---- flights ---- */

void
rbgw_cache_flight_add(struct rbgw_cache *c, struct rbgw_cache_flight *f)
{
    RBGW_ASSERT(!f->listed);
    f->listed = true;
    rbgw_list_push_back(&c->flights[f->hash % FLIGHT_BUCKETS], &f->link);
}

struct rbgw_cache_flight *
rbgw_cache_flight_find(struct rbgw_cache *c, struct rbgw_str key, uint64_t hash)
{
    struct rbgw_list *h = &c->flights[hash % FLIGHT_BUCKETS];
    for (struct rbgw_list *p = h->next; p != h; p = p->next) {
        struct rbgw_cache_flight *f = rbgw_list_entry(p, struct rbgw_cache_flight, link);
        if (f->hash == hash && rbgw_str_eq(f->key, key)) {
            return f;
        }
    }
    return NULL;
}

void
rbgw_cache_flight_remove(struct rbgw_cache *c, struct rbgw_cache_flight *f)
{
    RBGW_UNUSED(c);
    if (f->listed) {
        f->listed = false;
        rbgw_list_remove(&f->link);
    }
}

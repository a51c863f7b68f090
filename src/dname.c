/*
 * dname.c: DNS names in text form: validity, equality, "at or below a zone", hashing and the
 * canonical byte form (dname.h).
 *
 * Every operation first splits the text into decoded, lowercased labels on the stack (struct
 * dname, about 2 KiB: names are at most 255 wire bytes, the limits here are generous so that
 * only text that is no name at all is refused), then compares labels.  Pure: no allocation, no
 * state.  Text that is not a name falls back to a caseless byte comparison, so an odd name in
 * a reply (a DomainInfo zone) still dedupes against an identical spelling.
 */
#include <string.h>

#include "rbgw/dname.h"

static unsigned char
lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

#define DNAME_MAX_BYTES 1024
#define DNAME_MAX_LABELS 256

/* A name split into decoded, lowercased labels; labels run from the leftmost one. */
struct dname {
    unsigned char buf[DNAME_MAX_BYTES]; /* label bytes, back to back */
    uint16_t off[DNAME_MAX_LABELS];     /* start of label i in buf */
    uint16_t len[DNAME_MAX_LABELS];     /* length of label i */
    size_t n;                           /* labels; 0 = the root */
};

/*
 * Split a name in DNS text form: '.' separates labels unless escaped, "\DDD" is one byte, "\X"
 * is X.  One trailing unescaped '.' is optional; "" and "." are the root.  Returns false for
 * text that is not a name (empty label, lone trailing backslash, \DDD over 255, too long).
 */
static bool
dname_parse(struct rbgw_str s, struct dname *d)
{
    size_t used = 0, i = 0;
    d->n = 0;
    if (s.len == 0 || (s.len == 1 && s.p[0] == '.')) {
        return true;
    }
    while (i < s.len) {
        if (d->n == DNAME_MAX_LABELS) {
            return false;
        }
        size_t start = used;
        while (i < s.len && s.p[i] != '.') {
            unsigned char c = (unsigned char)s.p[i++];
            if (c == '\\') {
                if (i >= s.len) {
                    return false;
                }
                if (i + 2 < s.len && s.p[i] >= '0' && s.p[i] <= '9' && s.p[i + 1] >= '0' &&
                    s.p[i + 1] <= '9' && s.p[i + 2] >= '0' && s.p[i + 2] <= '9') {
                    unsigned v = (unsigned)(s.p[i] - '0') * 100 +
                                 (unsigned)(s.p[i + 1] - '0') * 10 + (unsigned)(s.p[i + 2] - '0');
                    if (v > 255) {
                        return false;
                    }
                    c = (unsigned char)v;
                    i += 3;
                } else {
                    c = (unsigned char)s.p[i++];
                }
            }
            if (used == DNAME_MAX_BYTES) {
                return false;
            }
            d->buf[used++] = lower(c);
        }
        if (used == start) {
            return false; /* "a..b", ".a" */
        }
        d->off[d->n] = (uint16_t)start;
        d->len[d->n] = (uint16_t)(used - start);
        d->n++;
        if (i < s.len) {
            i++; /* the separator; a final one is the optional trailing dot */
        }
    }
    return true;
}

static bool
dname_label_eq(const struct dname *a, size_t i, const struct dname *b, size_t j)
{
    return a->len[i] == b->len[j] && memcmp(a->buf + a->off[i], b->buf + b->off[j], a->len[i]) == 0;
}

/* Text fallback for names dname_parse refuses: caseless, one trailing dot ignored. */
static struct rbgw_str
strip_dot(struct rbgw_str s)
{
    if (s.len > 0 && s.p[s.len - 1] == '.') {
        s.len--;
    }
    return s;
}

bool
rbgw_name_valid(struct rbgw_str s)
{
    struct dname d;
    return dname_parse(s, &d);
}

bool
rbgw_name_eq(struct rbgw_str a, struct rbgw_str b)
{
    struct dname da, db;
    if (!dname_parse(a, &da) || !dname_parse(b, &db)) {
        return rbgw_str_caseeq(strip_dot(a), strip_dot(b));
    }
    if (da.n != db.n) {
        return false;
    }
    for (size_t i = 0; i < da.n; i++) {
        if (!dname_label_eq(&da, i, &db, i)) {
            return false;
        }
    }
    return true;
}

bool
rbgw_name_under(struct rbgw_str name, struct rbgw_str zone)
{
    struct dname dn, dz;
    if (!dname_parse(zone, &dz)) {
        return false;
    }
    if (dz.n == 0) {
        return true; /* the root contains every name */
    }
    if (!dname_parse(name, &dn) || dn.n < dz.n) {
        return false;
    }
    for (size_t k = 1; k <= dz.n; k++) {
        if (!dname_label_eq(&dn, dn.n - k, &dz, dz.n - k)) {
            return false;
        }
    }
    return true;
}

#define FNV64_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV64_PRIME UINT64_C(0x100000001b3)

/*
 * FNV-1a 64 over the name in wire form with lowercased labels (length byte, bytes, ... ; the
 * root adds nothing), so every spelling of one name ("A.b.", "a.b", "\097.b.") hashes alike.
 * Text that is not a name is hashed as its lowercased bytes without a trailing dot.
 */
uint64_t
rbgw_name_hash(struct rbgw_str name)
{
    struct dname d;
    uint64_t h = FNV64_OFFSET;
    if (!dname_parse(name, &d)) {
        struct rbgw_str s = strip_dot(name);
        for (size_t i = 0; i < s.len; i++) {
            h = (h ^ lower((unsigned char)s.p[i])) * FNV64_PRIME;
        }
        return h;
    }
    for (size_t i = 0; i < d.n; i++) {
        h = (h ^ (unsigned char)d.len[i]) * FNV64_PRIME;
        for (size_t j = 0; j < d.len[i]; j++) {
            h = (h ^ d.buf[d.off[i] + j]) * FNV64_PRIME;
        }
    }
    return h;
}

int
rbgw_name_canon(struct rbgw_str s, unsigned char *out)
{
    struct dname d;
    if (!dname_parse(s, &d)) {
        return -1;
    }
    size_t len = 0;
    for (size_t k = d.n; k-- > 0;) {
        /* A label is at most 63 bytes; the wire form adds the root's 0 byte (255 in all). */
        if (d.len[k] > 63 || len + 1 + d.len[k] > RBGW_NAME_CANON_MAX) {
            return -1;
        }
        out[len++] = (unsigned char)d.len[k];
        memcpy(out + len, d.buf + d.off[k], d.len[k]);
        len += d.len[k];
    }
    return (int)len;
}

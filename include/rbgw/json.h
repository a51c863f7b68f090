/*
 * json.h: the JSON the remote-backend protocol needs, as byte strings.
 *
 * Parsing builds a compact tree in an arena from yajl's callback parser with UTF-8 validation off
 * (pdns sends raw non-UTF-8 bytes, e.g. the feedEnts3 salt) and comments rejected (pdns's json11
 * rejects them).  Strings are stored decoded (escapes resolved) as byte strings; numbers keep
 * their exact source text, so "1795625247" or "3.0" survive a round trip unchanged.
 *
 * Writing follows pdns's json11 serializer byte for byte (docs/protocol.md §1.1): object members
 * in byte-wise key order, separators ", " and ": ", only " \ \b \f \n \r \t escaped by letter,
 * other bytes below 0x20 as \u00XX, U+2028/U+2029 as \u2028/\u2029, every other byte raw.
 */
#ifndef RBGW_JSON_H
#define RBGW_JSON_H

#include <stdbool.h>

#include "rbgw/buf.h"

enum rbgw_json_type {
    RBGW_JSON_NULL,
    RBGW_JSON_FALSE,
    RBGW_JSON_TRUE,
    RBGW_JSON_NUMBER,
    RBGW_JSON_STRING,
    RBGW_JSON_ARRAY,
    RBGW_JSON_OBJECT,
};

struct rbgw_json {
    enum rbgw_json_type type;
    struct rbgw_str key;     /* member name when the parent is an object (decoded bytes) */
    struct rbgw_str str;     /* STRING: decoded bytes; NUMBER: source text */
    struct rbgw_json *child; /* ARRAY/OBJECT: first element or member, in source order */
    struct rbgw_json *next;  /* next sibling */
    size_t n;                /* ARRAY/OBJECT: number of children */
};

/*
 * Limits on what one document may hold (max-json-depth, max-json-elements): they bound the
 * work and, where a tree is built, the memory a call or a reply can make rbgw spend.  Depth
 * counts open containers ({"a":[1]} is 2 deep); elements count every value, the document's
 * own included ({"a":[1,2]} holds 4).  pdns's json11 refuses more than 200 levels, so no
 * limit goes above that.
 */
struct rbgw_json_limits {
    uint32_t max_depth;    /* containers open at once, at most RBGW_JSON_MAX_DEPTH */
    uint32_t max_elements; /* values in the document */
};

#define RBGW_JSON_MAX_DEPTH 200 /* json11's limit, and the deepest any limit goes */

/** Which limit a document broke. */
enum rbgw_json_over {
    RBGW_JSON_OVER_NONE,     /* within both */
    RBGW_JSON_OVER_DEPTH,    /* nested deeper than max_depth */
    RBGW_JSON_OVER_ELEMENTS, /* more than max_elements values */
};

/**
 * Parse exactly one JSON value from text[0..len) (surrounding whitespace allowed).  The tree and
 * its strings live in the arena.  Returns 0, or RBGW_EPARSE with a one-line reason in err.
 * Nesting deeper than 200 levels is rejected (as json11 does).
 */
int rbgw_json_parse(struct rbgw_arena *a, const char *text, size_t len, struct rbgw_json **out,
                    char *err, size_t errlen) RBGW_MUSTCHECK;

/**
 * rbgw_json_parse within lim: a document past one of them stops the parse where it is found
 * (the tree is never built beyond it) and returns RBGW_ETOOBIG, with *over (if not NULL) saying
 * which and err "nesting deeper than N levels (max-json-depth)" or "more than N values
 * (max-json-elements)"; other failures are RBGW_EPARSE as above.
 */
int rbgw_json_parse_limited(struct rbgw_arena *a, const char *text, size_t len,
                            const struct rbgw_json_limits *lim, struct rbgw_json **out,
                            enum rbgw_json_over *over, char *err, size_t errlen) RBGW_MUSTCHECK;

/**
 * The tree of text that rbgw_json_scan accepted (one value; the caller vouches for it: this
 * checks nothing), the same tree rbgw_json_parse builds, but with strings, keys and numbers as
 * views into text, which must outlive the tree; only the nodes come from the arena.  Returns
 * 0, or -1 (no tree) when text holds a backslash: escapes need rbgw_json_parse, which decodes
 * them.  One pass and no copy: for the calls a translating upstream must read.
 */
int rbgw_json_parse_valid(struct rbgw_arena *a, const char *text, size_t len,
                          struct rbgw_json **out) RBGW_MUSTCHECK;

/** The wording of a limit broken (as rbgw_json_parse_limited writes it) into buf; returns buf. */
char *rbgw_json_over_text(char *buf, size_t len, enum rbgw_json_over over,
                          const struct rbgw_json_limits *lim);

/** Member of an object by key (the last one if a key repeats), or NULL. */
const struct rbgw_json *rbgw_json_get(const struct rbgw_json *obj, const char *key);

/** True for NUMBER/STRING holding an integer in int64 range (no '.', 'e'); sets *out. */
bool rbgw_json_int64(const struct rbgw_json *v, int64_t *out);

/** Byte-wise order of two members' keys (json11's std::map order): <0, 0, >0. */
int rbgw_json_key_cmp(const struct rbgw_json *x, const struct rbgw_json *y);

/**
 * Sort n members into that order, stably (of equal keys the last stays last).  Linear when they
 * are sorted already, as pdns's are; O(n log n) otherwise.
 */
void rbgw_json_sort_members(const struct rbgw_json **m, size_t n);

/** Write v in pdns's json11 form (objects re-sorted by key bytes, stable for equal keys). */
void rbgw_json_write(struct rbgw_buf *b, const struct rbgw_json *v);
/** Write a JSON string literal (with quotes) for the bytes s[0..len), json11 escaping. */
void rbgw_json_write_string(struct rbgw_buf *b, const char *s, size_t len);
/**
 * s without the whitespace outside its strings: s itself when it has none (no copy), else a
 * view of scratch, which then holds the squeezed text (replacing what it held).  Meant for
 * JSON text that was vetted already; on other text it only drops space, tab, CR and LF bytes
 * that are not between double quotes.
 */
struct rbgw_str rbgw_json_squeeze(struct rbgw_buf *scratch, struct rbgw_str s);

/*
 * Node constructors for building trees (the REST ingress and tests use them).  Children are
 * appended in order; rbgw_json_write sorts object members.
 */
struct rbgw_json *rbgw_json_new(struct rbgw_arena *a, enum rbgw_json_type type);
struct rbgw_json *rbgw_json_new_string(struct rbgw_arena *a, const char *s, size_t len);
struct rbgw_json *rbgw_json_new_number(struct rbgw_arena *a, const char *text, size_t len);
/** Append child to an ARRAY, or to an OBJECT under key (copied into the arena). */
void rbgw_json_append(struct rbgw_arena *a, struct rbgw_json *parent, const char *key,
                      size_t keylen, struct rbgw_json *child);

#endif

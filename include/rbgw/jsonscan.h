/*
 * jsonscan.h: validate a JSON document in one pass and note a few members, building nothing.
 *
 * The hot path of a pass-through call needs two facts per document: is it JSON that pdns and
 * the responder will accept, and what are a couple of top-level members ("method" and
 * parameters.trxid of a call, "result" of a reply).  rbgw_json_parse answers both but builds a
 * tree through yajl's callbacks; this scanner answers them at a few instructions per byte.
 *
 * It accepts exactly what rbgw_json_parse accepts (RFC 8259 with yajl's string handling: bytes
 * of 0x80 and up pass unchecked, control bytes in strings are refused; plus json11's stricter
 * rules: no form feed or vertical tab, no unpaired high surrogate escape; at most 200 levels of
 * nesting).  It never explains a refusal: callers fall back to rbgw_json_parse (or yajl) for
 * the message, so the fast path can't change what users are told.
 */
#ifndef RBGW_JSONSCAN_H
#define RBGW_JSONSCAN_H

#include "rbgw/buf.h"
#include "rbgw/json.h"

/** A member to note: a path of one or two object keys from the top-level object. */
struct rbgw_jscan_watch {
    const char *key;    /* member of the top-level object */
    const char *subkey; /* NULL, or a member of that member's object value */
};

enum {
    RBGW_JSCAN_OK = 0,         /* valid; found[] filled */
    RBGW_JSCAN_INVALID = -1,   /* not valid JSON (or nested deeper than 200 levels) */
    RBGW_JSCAN_UNSURE = -2,    /* valid so far, but a key that could be watched has escapes */
    RBGW_JSCAN_TOO_DEEP = -3,  /* rbgw_json_scan_limited: deeper than max_depth */
    RBGW_JSCAN_TOO_MANY = -4,  /* rbgw_json_scan_limited: more values than max_elements */
    RBGW_JSCAN_DUPLICATE = -5, /* rbgw_json_scan_limited: a unique watch's member is repeated */
};

/** At most this many watches per scan. */
#define RBGW_JSCAN_MAX_WATCH 8

/**
 * Scan text.  For each watch, found[i] is the text of the watched member's value (the last one
 * when a key repeats, as rbgw_json_get reads it; for a subkey, within the last occurrence of
 * its parent key), or RBGW_STR_NULL when absent.  *top (if not NULL) is the first byte of the
 * document's value ('{', '[', '"', 't', 'f', 'n', '-' or a digit).  Returns RBGW_JSCAN_*.
 */
int rbgw_json_scan(const char *text, size_t len, const struct rbgw_jscan_watch *watch,
                   size_t nwatch, struct rbgw_str *found, char *top) RBGW_MUSTCHECK;

/**
 * rbgw_json_scan within lim (json.h; NULL: json11's 200 levels only): a valid document nested
 * deeper than max_depth is RBGW_JSCAN_TOO_DEEP (the scan stops there), one holding more values
 * than max_elements RBGW_JSCAN_TOO_MANY, as rbgw_json_parse_limited would say; an invalid one
 * is RBGW_JSCAN_INVALID even if it is also too large (its refusal is worded by the parser,
 * which stops at the limit).  The scan builds nothing, so its work is linear in the text
 * whatever it holds; values are counted only in a text long enough to hold more than
 * max_elements (2 bytes each at the least), in a second pass, so that ordinary documents pay
 * nothing for the limit.  unique: a bit per watch (1u << i) whose member may occur once; a
 * second occurrence ends the scan with RBGW_JSCAN_DUPLICATE (a one-key watch: in the
 * top-level object).
 */
int rbgw_json_scan_limited(const char *text, size_t len, const struct rbgw_json_limits *lim,
                           const struct rbgw_jscan_watch *watch, size_t nwatch, unsigned unique,
                           struct rbgw_str *found, char *top) RBGW_MUSTCHECK;

/**
 * rbgw_json_scan_limited on the object at the start of text (after whitespace), with anything
 * after it: the one pass that both finds where a document ends in a stream and vets it, when
 * the whole document is already there.  On RBGW_JSCAN_OK the object is text[*start, *end).
 * RBGW_JSCAN_INVALID also when the text does not start with '{' or ends inside the object: a
 * stream reader then frames with rbgw_frame_scan (frame.h) and scans the document it finds.
 */
int rbgw_json_scan_prefix(const char *text, size_t len, const struct rbgw_json_limits *lim,
                          const struct rbgw_jscan_watch *watch, size_t nwatch, unsigned unique,
                          struct rbgw_str *found, size_t *start, size_t *end) RBGW_MUSTCHECK;

/**
 * Split a container: text is one array or object (surrounding whitespace allowed).  The text
 * of its k-th element (array) or k-th member's value (object), in source order, goes to
 * items[k] for k < max; *n is the number of children, which may exceed max.  Validates the
 * whole text as rbgw_json_scan does.  Returns RBGW_JSCAN_OK, or RBGW_JSCAN_INVALID when text
 * is not one valid array or object (then *n is 0).
 */
int rbgw_json_scan_items(const char *text, size_t len, struct rbgw_str *items, size_t max,
                         size_t *n) RBGW_MUSTCHECK;

#endif

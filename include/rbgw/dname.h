/*
 * dname.h: DNS names in pdns's text form, compared and hashed as names (pure, no allocation).
 *
 * Text form (docs/protocol.md §1.2): labels separated by '.', "\DDD" is one byte, "\X" is X, so
 * "a\.b.example." has the labels "a.b" and "example", and "\065.example." equals "a.example.".
 * One trailing unescaped '.' is optional; "" and "." are the root.  Comparison and hashing are
 * ASCII case-insensitive, label by label, after decoding the escapes.  Routing (zone routes),
 * load balancing (consistent hashing) and merging (one entry per zone) all use these, so every
 * spelling of one name is treated alike everywhere.
 */
#ifndef RBGW_DNAME_H
#define RBGW_DNAME_H

#include <stdbool.h>
#include <stdint.h>

#include "rbgw/buf.h"

/**
 * True when s is a name in text form (no empty label, no lone trailing backslash, no \DDD over
 * 255, at most 1024 decoded bytes and 256 labels).  "" and "." are the root.
 */
bool rbgw_name_valid(struct rbgw_str s);

/**
 * True when a and b are the same name.  Text that is not a name compares as bytes, ASCII
 * case-insensitively, with one trailing dot ignored on each side.
 */
bool rbgw_name_eq(struct rbgw_str a, struct rbgw_str b);

/**
 * True when name is zone or below it (DNS label boundary, ASCII case-insensitive, trailing dots
 * optional on both): "www.Example.COM." is under "example.com", "badexample.com." is not;
 * "." (root) contains everything.  Text that is not a name is under nothing but the root.
 */
bool rbgw_name_under(struct rbgw_str name, struct rbgw_str zone);

/**
 * Hash of a name for consistent hashing: FNV-1a 64 over its wire form with lowercased labels,
 * so every spelling of one name hashes alike.  Text that is not a name is hashed as its
 * lowercased bytes without a trailing dot.
 */
uint64_t rbgw_name_hash(struct rbgw_str name);

/* Longest canonical form (rbgw_name_canon): a name of 255 wire bytes. */
#define RBGW_NAME_CANON_MAX 254

/**
 * The canonical form of a name, so that names compare as plain bytes: its labels from the root
 * down (the reverse of the text order), each as one length byte and the label's decoded,
 * lowercased bytes ("www.Example.COM." -> "\3com\7example\3www"; the root -> "").  Two
 * names are the same iff their forms are equal, and a name is at or below another iff the
 * other's form is a prefix of its own.  Writes at most RBGW_NAME_CANON_MAX bytes to out and
 * returns their number, or -1 when s is no DNS name: text rbgw_name_valid refuses, a label over
 * 63 bytes, or more than 255 bytes in wire form.
 */
int rbgw_name_canon(struct rbgw_str s, unsigned char *out);

#endif

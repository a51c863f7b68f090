/*
 * result.h: how pdns reads a reply's "result", per method (pure).
 *
 * The fan-out modes that choose between replies (first-success, first-nonempty, merge,
 * write=all) must judge a reply the way pdns will: a "false" is a failure for every method,
 * but whether `true`, `[]` or an object counts as data depends on the method.  The rule is a
 * column of the method table (method.h, enum rbgw_result_rule); docs/fanout.md, "How results
 * are read", has it as a table.
 */
#ifndef RBGW_RESULT_H
#define RBGW_RESULT_H

#include "rbgw/buf.h"
#include "rbgw/json.h"
#include "rbgw/method.h"

enum rbgw_result_kind {
    RBGW_RESULT_FAILED, /* transport failure or result false */
    RBGW_RESULT_EMPTY,  /* success but nothing: [] / true for lookup-like methods */
    RBGW_RESULT_DATA,   /* success with data (records, an object, ...) */
};

/**
 * How pdns would read this reply for method m.  reply: a vetted one-line JSON object (NULL,
 * unparsable, no object or no non-null result -> FAILED).  Tree scratch goes to the arena.
 */
enum rbgw_result_kind rbgw_result_kind(struct rbgw_arena *a, enum rbgw_method m,
                                       struct rbgw_str reply);

/** The same for an already parsed "result" member (NULL when the reply has none). */
enum rbgw_result_kind rbgw_result_kind_of(enum rbgw_method m, const struct rbgw_json *result);

#endif

/*
 * json_int.h: json.c internals shared with rpc.c (private to src/).
 */
#ifndef RBGW_JSON_INT_H
#define RBGW_JSON_INT_H

#include <yajl/yajl_parse.h>

#include "rbgw/buf.h"

/** A yajl parser whose memory comes from the arena, UTF-8 validation off, comments off. */
yajl_handle rbgw__yajl_alloc(const yajl_callbacks *cb, struct rbgw_arena *a, void *ctx);

/** NULL, or why text (already accepted by yajl) would be refused by pdns's json11. */
const char *rbgw__json_stricter_than_yajl(const char *text, size_t len);

#endif

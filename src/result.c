/*
 * result.c: pdns's reading of a reply's "result", by the method's rule (result.h).
 *
 * The rules mirror what pdns's remotebackend.cc does with each method's result (docs/protocol.md
 * §3.4): which shapes it takes as data, which as an empty success, and which make the call
 * fail.  "result" is found as rbgw_json_get finds members, the last one when a key repeats, as
 * pdns's parser does.  Pure: the tree goes to the caller's arena.
 */
#include <stdlib.h>
#include <string.h>

#include "rbgw/result.h"

static bool
number_value(const struct rbgw_json *v, double *out)
{
    char tmp[64];
    if (v->str.len == 0 || v->str.len >= sizeof(tmp)) {
        return false;
    }
    memcpy(tmp, v->str.p, v->str.len);
    tmp[v->str.len] = '\0';
    *out = strtod(tmp, NULL);
    return true;
}

static bool
has_string_member(const struct rbgw_json *obj, const char *key)
{
    const struct rbgw_json *v = obj->type == RBGW_JSON_OBJECT ? rbgw_json_get(obj, key) : NULL;
    return v != NULL && v->type == RBGW_JSON_STRING;
}

enum rbgw_result_kind
rbgw_result_kind_of(enum rbgw_method m, const struct rbgw_json *r)
{
    if (r == NULL || r->type == RBGW_JSON_NULL || r->type == RBGW_JSON_FALSE) {
        return RBGW_RESULT_FAILED;
    }
    switch (rbgw_method_info(m)->result) {
    case RBGW_RULE_ANY:
        return RBGW_RESULT_DATA;
    case RBGW_RULE_LIST:
        return r->type == RBGW_JSON_ARRAY && r->n > 0 ? RBGW_RESULT_DATA : RBGW_RESULT_EMPTY;
    case RBGW_RULE_META:
        return (r->type == RBGW_JSON_ARRAY && r->n > 0) || r->type == RBGW_JSON_STRING
                   ? RBGW_RESULT_DATA
                   : RBGW_RESULT_EMPTY;
    case RBGW_RULE_DOMAIN:
        return has_string_member(r, "zone") ? RBGW_RESULT_DATA : RBGW_RESULT_EMPTY;
    case RBGW_RULE_MAP:
        return r->type == RBGW_JSON_OBJECT && r->n > 0 ? RBGW_RESULT_DATA : RBGW_RESULT_EMPTY;
    case RBGW_RULE_OBJECT:
        return r->type == RBGW_JSON_OBJECT ? RBGW_RESULT_DATA : RBGW_RESULT_EMPTY;
    case RBGW_RULE_TRUE_ONLY:
        return r->type == RBGW_JSON_TRUE ? RBGW_RESULT_DATA : RBGW_RESULT_FAILED;
    case RBGW_RULE_KEY_ID: {
        /* pdns reads the id as an int: a double truncates, anything outside int32 becomes
         * INT_MIN (docs/protocol.md §1.4), and a negative id is failure; non-numbers read
         * as 0 */
        double d;
        if (r->type != RBGW_JSON_NUMBER || !number_value(r, &d)) {
            return RBGW_RESULT_DATA;
        }
        return d <= -1.0 || d >= 2147483648.0 ? RBGW_RESULT_FAILED : RBGW_RESULT_DATA;
    }
    }
    return RBGW_RESULT_DATA;
}

enum rbgw_result_kind
rbgw_result_kind(struct rbgw_arena *a, enum rbgw_method m, struct rbgw_str reply)
{
    struct rbgw_json *root;
    char err[128];
    if (reply.p == NULL || rbgw_json_parse(a, reply.p, reply.len, &root, err, sizeof(err)) != 0 ||
        root->type != RBGW_JSON_OBJECT) {
        return RBGW_RESULT_FAILED;
    }
    return rbgw_result_kind_of(m, rbgw_json_get(root, "result"));
}

/*
 * method.c: the method table as data (method.h), the name -> enum lookup, and call names.
 *
 *   RBGW_METHOD_TABLE (method.h) --ROW-->  rbgw_methods[]   every column of every method
 *                                --NAME--> names[]          just the wire names, for lookup
 *
 * Both arrays are expansions of the one table, so they cannot disagree.  The lookup runs once
 * per call, where the call is read; it compares lengths first over the small names[] array
 * (one cache line holds four entries), so a miss costs a few dozen integer compares and a
 * hit one memcmp.  Pure: no I/O, no state.
 */
#include <string.h>

#include "rbgw/method.h"

const char *const rbgw_rest_verb_names[] = {
    [RBGW_VERB_GET] = "GET",     [RBGW_VERB_POST] = "POST",     [RBGW_VERB_PUT] = "PUT",
    [RBGW_VERB_PATCH] = "PATCH", [RBGW_VERB_DELETE] = "DELETE",
};

/* rbgw_rest_param_index below knows both lists by heart: test_method checks it against them. */
const char *const rbgw_rest_components[RBGW_REST_NCOMPONENTS] = {
    "id", "domain_id", "zonename", "qname", "name", "kind", "qtype",
};

/* Sorted: xlate.c writes the headers in this order and pdns sorts them by name. */
const char *const rbgw_rest_header_params[RBGW_REST_NHEADERS] = {
    "local", "real-remote", "remote", "trxid", "zone-id",
};

/* The REST name a key is: by its length and a byte that tells the names of that length
 * apart, then all its bytes (a name of exactly that length, so memcmp stays inside it). */
int
rbgw_rest_param_index(const char *k, size_t n)
{
    int i = -1;
    switch (n) {
    case 2:
        i = 0; /* id */
        break;
    case 4:
        i = k[0] == 'n' ? 4 : 5; /* name, kind */
        break;
    case 5:
        switch (k[0]) {
        case 'q':
            i = k[1] == 'n' ? 3 : 6; /* qname, qtype */
            break;
        case 'l':
            i = RBGW_REST_NCOMPONENTS + 0; /* local */
            break;
        case 't':
            i = RBGW_REST_NCOMPONENTS + 3; /* trxid */
            break;
        default:
            return -1;
        }
        break;
    case 6:
        i = RBGW_REST_NCOMPONENTS + 2; /* remote */
        break;
    case 7:
        i = RBGW_REST_NCOMPONENTS + 4; /* zone-id */
        break;
    case 8:
        i = 2; /* zonename */
        break;
    case 9:
        i = 1; /* domain_id */
        break;
    case 11:
        i = RBGW_REST_NCOMPONENTS + 1; /* real-remote */
        break;
    default:
        return -1;
    }
    const char *name = i < RBGW_REST_NCOMPONENTS
                           ? rbgw_rest_components[i]
                           : rbgw_rest_header_params[i - RBGW_REST_NCOMPONENTS];
    return memcmp(k, name, n) == 0 ? i : -1;
}

#define ROW(id, nm, cls, trx, res, mrg, cn, cnm, ...)                                              \
    [RBGW_M_##id] = {nm,                                                                           \
                     sizeof(nm) - 1,                                                               \
                     RBGW_CLASS_##cls,                                                             \
                     RBGW_TRX_##trx,                                                               \
                     RBGW_RULE_##res,                                                              \
                     RBGW_MERGE_##mrg,                                                             \
                     cn,                                                                           \
                     cnm,                                                                          \
                     __VA_ARGS__},

const struct rbgw_method_info rbgw_methods[RBGW_M__COUNT] = {
    /* pdns's rule for a method it does not know (docs/protocol.md §5.3, last row), and rbgw's
     * for the rest */
    [RBGW_M_UNKNOWN] = {"", 0, RBGW_CLASS_WRITE, RBGW_TRX_NONE, RBGW_RULE_ANY, RBGW_MERGE_FIRST,
                        NULL, NULL, .rest = {.verb = RBGW_VERB_GET}, .cache = RBGW_CACHE_FLUSH},
    RBGW_METHOD_TABLE(ROW)};

#undef ROW

struct name {
    const char *p; /* wire name */
    size_t len;    /* its length */
};

#define NAME(id, nm, ...) [RBGW_M_##id] = {nm, sizeof(nm) - 1},

static const struct name names[RBGW_M__COUNT] = {RBGW_METHOD_TABLE(NAME)};

#undef NAME

enum rbgw_method
rbgw_method_lookup(struct rbgw_str name)
{
    for (unsigned m = RBGW_M_UNKNOWN + 1; m < RBGW_M__COUNT; m++) {
        if (names[m].len == name.len && memcmp(names[m].p, name.p, name.len) == 0) {
            return (enum rbgw_method)m;
        }
    }
    return RBGW_M_UNKNOWN;
}

/* Parameters tried, in order, for a method the table does not know. */
static const char *const unknown_name_keys[] = {"qname", "name", "zonename", "domain"};

static struct rbgw_str
string_member(const struct rbgw_json *obj, const char *key)
{
    const struct rbgw_json *v =
        obj != NULL && obj->type == RBGW_JSON_OBJECT ? rbgw_json_get(obj, key) : NULL;
    return v != NULL && v->type == RBGW_JSON_STRING ? v->str : RBGW_STR_NULL;
}

struct rbgw_str
rbgw_call_name(enum rbgw_method m, const struct rbgw_json *params)
{
    const struct rbgw_method_info *row = rbgw_method_info(m);
    if (params == NULL || params->type != RBGW_JSON_OBJECT) {
        return RBGW_STR_NULL;
    }
    if (m == RBGW_M_UNKNOWN) {
        for (size_t i = 0; i < RBGW_NELEM(unknown_name_keys); i++) {
            struct rbgw_str s = string_member(params, unknown_name_keys[i]);
            if (s.p != NULL) {
                return s;
            }
        }
        return RBGW_STR_NULL;
    }
    if (row->callname == NULL) {
        return RBGW_STR_NULL;
    }
    if (row->callname_member != NULL) {
        return string_member(rbgw_json_get(params, row->callname), row->callname_member);
    }
    return string_member(params, row->callname);
}

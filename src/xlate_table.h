/*
 * xlate_table.h: the REST mapping of every remote-backend method, as data (protocol.md §5.2-§5.4).
 *
 * pdns's own httpconnector.cc builds REST requests with a long if/else chain on the method name.
 * Here each method is one const row, and xlate.c walks the row:
 *
 *   path   = <url path> "/" method  {"/" component}*  {"/" extra}*  url-suffix  ["?" query]
 *   verb   = row.verb
 *   body   = row.fields rendered as form tokens joined by '&' (XB_FORM), or as the query (XB_QUERY)
 *
 * Two rules are the same for every method, so they are tables of their own rather than columns:
 *   - the seven generic path components (xlate_components), emitted when present and not null;
 *   - the X-Remotebackend-* header whitelist (xlate_header_params).  pdns applies it to every
 *     method's parameters (unknown methods included), so a per-row header column would only
 *     restate it; the per-method header sets of §5.3 follow from which keys pdns sends.
 *
 * Methods not in xlate_rows follow pdns's generic rule, xlate_generic_row: GET, the generic
 * components, the whitelisted headers, no body.  Rows whose behaviour equals the generic rule
 * (lookup, list, getDomainInfo, ...) are still listed, so this table is the whole catalogue of
 * §3.0 and a test can check that every method has a golden case.
 *
 * Field order inside a row is emission order.  For bodies pdns builds from its key->value map
 * (preparePost, query strings) that is case-insensitive alphabetical order; test_xlate.c checks
 * it.  Included only by xlate.c and tests/unit/test_xlate.c.
 */
#ifndef RBGW_XLATE_TABLE_H
#define RBGW_XLATE_TABLE_H

#include <stddef.h>

enum xlate_verb {
    XV_GET,
    XV_POST,
    XV_PUT,
    XV_PATCH,
    XV_DELETE,
};

enum xlate_body {
    XB_NONE,  /* no body, no Content-Length / Content-Type (GET, DELETE) */
    XB_FORM,  /* urlencoded form body, possibly empty (Content-Length: 0) */
    XB_QUERY, /* no body; the fields form the "?k=v&..." query string */
};

enum xlate_piece {
    XP_END,    /* terminates a field list */
    XP_SCALAR, /* one token key=value */
    XP_LIST,   /* one token key=value per element of an array parameter (value[], nonterm[]) */
    XP_GROUP,  /* one record group key[member]=... from an object parameter (feedRecord rr) */
    XP_GROUPS, /* one record group key[i][member]=... per element of an array (rrset, nsset) */
};

/* How a parameter value becomes text (pdns's accessor in brackets).  Missing values behave as
 * pdns's json11 null does; xlate.c documents the lenient cases. */
enum xlate_conv {
    XC_TEXT,     /* asString(): string as-is, number as int32, bool 1/0; else not expressible */
    XC_STR,      /* string_value(): a string, anything else "" */
    XC_STR_OPT,  /* a string; the token is left out when the value is not a string */
    XC_BOOL01,   /* bool_value() ? "1" : "0" */
    XC_BOOLWORD, /* bool_value() ? "true" : "false" */
    XC_INT,      /* int_value(): int32 decimal, 0 when not a number */
    XC_SERIAL,   /* setNotified serial: dialect 5 asString() (int32), dialect 4 "%f" of a double */
};

enum xlate_join {
    XJ_AMP,         /* groups joined with '&' */
    XJ_AMP5_GLUED4, /* dialect 5: '&'; dialect 4: no separator (replaceRRSet, §5.4 bug 2) */
};

struct xlate_field {
    enum xlate_piece piece; /* kind of token(s) this field produces */
    const char *key;        /* form key as written ("serial", "value[]"), or the group prefix */
    const char *param;      /* parameter holding the value */
    const char *member;     /* NULL, or the member read from param's object / each element */
    enum xlate_conv conv;   /* XP_SCALAR, XP_LIST: value to text */
    enum xlate_join join;   /* XP_GROUPS: separator between groups */
};

#define XLATE_MAX_EXTRA 2

struct xlate_row {
    const char *method;                 /* wire name, matched case-sensitively */
    enum xlate_verb verb;               /* request verb */
    enum xlate_body body;               /* what the fields become */
    const char *extra[XLATE_MAX_EXTRA]; /* components after the generic seven, NULL-padded */
    const struct xlate_field *fields;   /* XP_END-terminated, or NULL for none */
};

#define XLATE_UNUSED __attribute__((unused))

static const char *const xlate_verb_names[] XLATE_UNUSED = {
    [XV_GET] = "GET",     [XV_POST] = "POST",     [XV_PUT] = "PUT",
    [XV_PATCH] = "PATCH", [XV_DELETE] = "DELETE",
};

/* §5.2: path components, in this order, whenever the key is present and not null. */
static const char *const xlate_components[] XLATE_UNUSED = {
    "id", "domain_id", "zonename", "qname", "name", "kind", "qtype",
};

/* §5.2: the only parameters that become X-Remotebackend-<name> headers (any method). */
static const char *const xlate_header_params[] XLATE_UNUSED = {
    "local", "real-remote", "remote", "trxid", "zone-id", /* sorted: write_head relies on it */
};

/* Shorthands for the field lists below. */
#define XF_SCALAR(k, p, m, c)                                                                      \
    {                                                                                              \
        XP_SCALAR, (k), (p), (m), (c), XJ_AMP                                                      \
    }
#define XF_LIST(k, p, m, c)                                                                        \
    {                                                                                              \
        XP_LIST, (k), (p), (m), (c), XJ_AMP                                                        \
    }
#define XF_GROUP(k, p)                                                                             \
    {                                                                                              \
        XP_GROUP, (k), (p), NULL, XC_TEXT, XJ_AMP                                                  \
    }
#define XF_GROUPS(k, p, j)                                                                         \
    {                                                                                              \
        XP_GROUPS, (k), (p), NULL, XC_TEXT, (j)                                                    \
    }
#define XF_END                                                                                     \
    {                                                                                              \
        XP_END, NULL, NULL, NULL, XC_TEXT, XJ_AMP                                                  \
    }
#define XFIELDS(...) ((const struct xlate_field[]){__VA_ARGS__, XF_END})

/* feedEnts and feedEnts3 both end in these lists.  pdns takes string_value() of each nonterm
 * element, which is "" for the {nonterm, auth} objects it sends, so every ENT name is lost in
 * 4.x and 5.x alike (§5.4 bug 4); the auth[] list reads a top-level "auth" array that pdns never
 * sends, so it is empty in practice.  Both are reproduced as pdns writes them. */
#define XF_ENTS                                                                                    \
    XF_LIST("nonterm[]", "nonterm", NULL, XC_STR), XF_LIST("auth[]", "auth", "auth", XC_BOOL01)

static const struct xlate_row xlate_rows[] XLATE_UNUSED = {
    {.method = "lookup", .verb = XV_GET, .body = XB_NONE},
    {.method = "APILookup", .verb = XV_GET, .body = XB_NONE},
    {.method = "list", .verb = XV_GET, .body = XB_NONE},
    {.method = "getBeforeAndAfterNamesAbsolute", .verb = XV_GET, .body = XB_NONE},
    {.method = "getAllDomainMetadata", .verb = XV_GET, .body = XB_NONE},
    {.method = "getDomainMetadata", .verb = XV_GET, .body = XB_NONE},
    {.method = "setDomainMetadata",
     .verb = XV_PATCH,
     .body = XB_FORM,
     .fields = XFIELDS(XF_LIST("value[]", "value", NULL, XC_STR))},
    {.method = "getDomainKeys", .verb = XV_GET, .body = XB_NONE},
    {.method = "addDomainKey",
     .verb = XV_PUT,
     .body = XB_FORM,
     .fields = XFIELDS(XF_SCALAR("active", "key", "active", XC_BOOL01),
                       XF_SCALAR("content", "key", "content", XC_STR),
                       XF_SCALAR("flags", "key", "flags", XC_TEXT),
                       XF_SCALAR("published", "key", "published", XC_BOOL01))},
    {.method = "removeDomainKey", .verb = XV_DELETE, .body = XB_NONE},
    {.method = "activateDomainKey", .verb = XV_POST, .body = XB_FORM},
    {.method = "deactivateDomainKey", .verb = XV_POST, .body = XB_FORM},
    {.method = "publishDomainKey", .verb = XV_POST, .body = XB_FORM},
    {.method = "unpublishDomainKey", .verb = XV_POST, .body = XB_FORM},
    {.method = "getTSIGKey", .verb = XV_GET, .body = XB_NONE},
    {.method = "setTSIGKey",
     .verb = XV_PATCH,
     .body = XB_FORM,
     .fields = XFIELDS(XF_SCALAR("algorithm", "algorithm", NULL, XC_STR),
                       XF_SCALAR("content", "content", NULL, XC_STR))},
    {.method = "deleteTSIGKey", .verb = XV_DELETE, .body = XB_NONE},
    {.method = "getTSIGKeys", .verb = XV_GET, .body = XB_NONE},
    {.method = "getDomainInfo", .verb = XV_GET, .body = XB_NONE},
    {.method = "setNotified",
     .verb = XV_PATCH,
     .body = XB_FORM,
     .fields = XFIELDS(XF_SCALAR("serial", "serial", NULL, XC_SERIAL))},
    {.method = "superMasterBackend",
     .verb = XV_POST,
     .body = XB_FORM,
     .extra = {"ip", "domain"},
     .fields = XFIELDS(XF_GROUPS("nsset", "nsset", XJ_AMP))},
    {.method = "createSlaveDomain",
     .verb = XV_PUT,
     .body = XB_FORM,
     .extra = {"ip", "domain"},
     .fields = XFIELDS(XF_SCALAR("account", "account", NULL, XC_STR_OPT))},
    {.method = "replaceRRSet",
     .verb = XV_PATCH,
     .body = XB_FORM,
     .fields = XFIELDS(XF_GROUPS("rrset", "rrset", XJ_AMP5_GLUED4))},
    {.method = "feedRecord",
     .verb = XV_PATCH,
     .body = XB_FORM,
     .extra = {"trxid"},
     .fields = XFIELDS(XF_GROUP("rr", "rr"))},
    {.method = "feedEnts",
     .verb = XV_PATCH,
     .body = XB_FORM,
     .extra = {"trxid"},
     .fields = XFIELDS(XF_ENTS)},
    {.method = "feedEnts3",
     .verb = XV_PATCH,
     .body = XB_FORM,
     .extra = {"domain", "trxid"},
     .fields =
         XFIELDS(XF_SCALAR("times", "times", NULL, XC_INT), XF_SCALAR("salt", "salt", NULL, XC_STR),
                 XF_SCALAR("narrow", "narrow", NULL, XC_BOOL01), XF_ENTS)},
    {.method = "startTransaction", .verb = XV_POST, .body = XB_FORM, .extra = {"domain", "trxid"}},
    {.method = "commitTransaction", .verb = XV_POST, .body = XB_FORM, .extra = {"trxid"}},
    {.method = "abortTransaction", .verb = XV_POST, .body = XB_FORM, .extra = {"trxid"}},
    {.method = "directBackendCmd",
     .verb = XV_POST,
     .body = XB_FORM,
     .fields = XFIELDS(XF_SCALAR("query", "query", NULL, XC_STR))},
    {.method = "searchRecords",
     .verb = XV_GET,
     .body = XB_QUERY,
     .fields = XFIELDS(XF_SCALAR("maxResults", "maxResults", NULL, XC_INT),
                       XF_SCALAR("pattern", "pattern", NULL, XC_STR))},
    /* Never sent (a local stub in pdns), but pdns's REST builder maps it like searchRecords. */
    {.method = "searchComments",
     .verb = XV_GET,
     .body = XB_QUERY,
     .fields = XFIELDS(XF_SCALAR("maxResults", "maxResults", NULL, XC_INT),
                       XF_SCALAR("pattern", "pattern", NULL, XC_STR))},
    {.method = "getAllDomains",
     .verb = XV_GET,
     .body = XB_QUERY,
     .fields = XFIELDS(XF_SCALAR("includeDisabled", "include_disabled", NULL, XC_BOOLWORD))},
    {.method = "getUpdatedMasters", .verb = XV_GET, .body = XB_NONE},
    {.method = "getUnfreshSlaveInfos", .verb = XV_GET, .body = XB_NONE},
    {.method = "setStale", .verb = XV_PATCH, .body = XB_FORM},
    {.method = "setFresh", .verb = XV_PATCH, .body = XB_FORM},
};

/* Any other method (§5.3, last row). */
static const struct xlate_row xlate_generic_row XLATE_UNUSED = {
    .method = NULL, .verb = XV_GET, .body = XB_NONE};

#undef XF_SCALAR
#undef XF_LIST
#undef XF_GROUP
#undef XF_GROUPS
#undef XF_END
#undef XFIELDS
#undef XF_ENTS

#endif

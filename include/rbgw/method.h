/*
 * method.h: every remote-backend method rbgw knows, and all it knows about each, in one table
 * (RBGW_METHOD_TABLE below; docs/protocol.md §3.0 is the catalogue it follows).
 *
 * A call's method name becomes an enum rbgw_method once, where the call is read: rbgw_rpc_peek
 * or rbgw_rpc_decode for JSON, the REST ingress for HTTP.  From then on routing, transactions,
 * pdns's reading of results, merging and the REST translation read the row rbgw_methods[m];
 * nothing downstream compares method names.  A name the table does not hold is RBGW_M_UNKNOWN:
 * it is still forwarded under its own name (the caller keeps the text), as a write, with pdns's
 * generic rules (REST: GET with whichever generic components are present; result: anything but
 * false succeeds; no call name beyond the generic guess of rbgw_call_name).
 *
 * One row per method, RBGW_METHOD_TABLE(M) calls M(ID, name, class, trx, result, merge,
 * callname, member, .rest = {...}):
 *
 *   ID        the enumerator is RBGW_M_<ID>: the wire name in capitals, '_' between its words
 *   name      the wire name, as pdns spells it (case-sensitive)
 *   class     READ or WRITE: which route= class the call follows, and whether it may be retried
 *             (reads only); enum rbgw_method_class
 *   trx       its part in a transaction: NONE, START (startTransaction), IN (a write carrying
 *             the transaction's trxid), END (commit, abort); enum rbgw_trx_role
 *   result    how pdns reads its "result" (docs/fanout.md, "How results are read");
 *             enum rbgw_result_rule
 *   merge     how read=merge combines the replies of several upstreams; enum rbgw_merge_rule
 *   callname  the parameter holding the DNS name the call is about (zone routes, consistent
 *             hashing, the read cache's keys and invalidation), or NULL; member: the member of
 *             that object holding it (feedRecord's rr.qname), or NULL
 *   .rest     the HTTP REST mapping of pdns's HTTP connector (docs/protocol.md §5.3, §6.2):
 *             verb, extra path components after the generic seven, body or query fields, and
 *             for the REST ingress the generic components the path carries and the parameters
 *             REST loses.  Fields left out are zero: GET, no body, no extras.
 *   .cache    how the read cache and coalescing treat it beyond what its class and call name
 *             imply (enum rbgw_cache_rule); left out on most rows (RBGW_CACHE_BY_CLASS)
 *
 * The table is data: method.c turns it into rbgw_methods[], and this header into the enum; the
 * unit test test_method.c checks it row by row (names, classes, REST round trips).
 */
#ifndef RBGW_METHOD_H
#define RBGW_METHOD_H

#include <stdbool.h>
#include <stdint.h>

#include "rbgw/buf.h"
#include "rbgw/json.h"

/* ---- the columns ---- */

enum rbgw_method_class {
    RBGW_CLASS_READ,  /* route=reads; retried and merged per the pool's read= mode */
    RBGW_CLASS_WRITE, /* route=writes; never repeated once it may have reached a responder */
};

enum rbgw_trx_role {
    RBGW_TRX_NONE,  /* no part in a transaction */
    RBGW_TRX_START, /* opens one: its trxid pins the connection that carried it */
    RBGW_TRX_IN,    /* carries the trxid of an open transaction (pdns sends 0 or -1 outside) */
    RBGW_TRX_END,   /* closes one: commit or abort */
};

enum rbgw_result_rule {
    RBGW_RULE_ANY,       /* anything but false is data */
    RBGW_RULE_LIST,      /* non-empty array is data; [] / true / other is empty */
    RBGW_RULE_META,      /* getDomainMetadata: as LIST, and a single string is one value */
    RBGW_RULE_DOMAIN,    /* getDomainInfo: object with a string "zone" */
    RBGW_RULE_MAP,       /* getAllDomainMetadata: non-empty object */
    RBGW_RULE_OBJECT,    /* any object is data, anything else empty */
    RBGW_RULE_TRUE_ONLY, /* setDomainMetadata: exactly true, anything else failed */
    RBGW_RULE_KEY_ID,    /* addDomainKey: an id pdns reads as >= 0 */
};

enum rbgw_merge_rule {
    RBGW_MERGE_FIRST,  /* first successful reply in member order */
    RBGW_MERGE_CONCAT, /* concatenate the result arrays */
    RBGW_MERGE_ZONES,  /* concatenate DomainInfo arrays, first entry per zone name */
};

/*
 * The read cache (cache.h) keys a read by its call name and parameters and drops what a write
 * names; these are the exceptions the class and the call name cannot tell.
 */
enum rbgw_cache_rule {
    RBGW_CACHE_BY_CLASS = 0, /* read with a call name: cached under it and coalesced; read
                                without one: coalesced only; write: drops what is cached at,
                                above or below its call name (everything when it has none) */
    RBGW_CACHE_SHARE_ONLY,   /* read: coalesced, never cached: its reply holds zone state
                                (DomainInfo) that writes by zone id change */
    RBGW_CACHE_ZONE_STATE,   /* write: changes zone state by zone id (notified serial, last
                                check), which no cached entry holds: drops nothing, ends the
                                sharing of coalesced-only reads in flight */
    RBGW_CACHE_FLUSH,        /* write: what it changes is unknown (a method rbgw does not know):
                                drops every entry */
};

/* ---- REST: what pdns's HTTP connector does for every method (docs/protocol.md §5.2) ---- */

enum rbgw_rest_verb {
    RBGW_VERB_GET,
    RBGW_VERB_POST,
    RBGW_VERB_PUT,
    RBGW_VERB_PATCH,
    RBGW_VERB_DELETE,
};

/** Request verbs as written on the request line, by enum rbgw_rest_verb. */
extern const char *const rbgw_rest_verb_names[];

#define RBGW_REST_NCOMPONENTS 7

/** §5.2: path components, in this order, whenever the key is present and not null. */
extern const char *const rbgw_rest_components[RBGW_REST_NCOMPONENTS];

/* Bits over rbgw_rest_components[], for .rest.path (REST ingress: the unnamed segments). */
#define RBGW_PATH_ID (1u << 0)
#define RBGW_PATH_DOMAIN_ID (1u << 1)
#define RBGW_PATH_ZONENAME (1u << 2)
#define RBGW_PATH_QNAME (1u << 3)
#define RBGW_PATH_NAME (1u << 4)
#define RBGW_PATH_KIND (1u << 5)
#define RBGW_PATH_QTYPE (1u << 6)

#define RBGW_REST_NHEADERS 5

/**
 * Which REST name the parameter key k (n bytes) is: i < RBGW_REST_NCOMPONENTS for
 * rbgw_rest_components[i], RBGW_REST_NCOMPONENTS + j for rbgw_rest_header_params[j], or -1.
 * A few compares and one memcmp, where a search of both lists costs one compare per name.
 */
int rbgw_rest_param_index(const char *k, size_t n);

/** §5.2: the only parameters that become X-Remotebackend-<name> headers (any method), sorted. */
extern const char *const rbgw_rest_header_params[RBGW_REST_NHEADERS];

enum rbgw_rest_body {
    RBGW_BODY_NONE,  /* no body, no Content-Length / Content-Type (GET, DELETE) */
    RBGW_BODY_FORM,  /* urlencoded form body, possibly empty (Content-Length: 0) */
    RBGW_BODY_QUERY, /* no body; the fields form the "?k=v&..." query string */
};

enum rbgw_rest_piece {
    RBGW_PIECE_END,    /* terminates a field list */
    RBGW_PIECE_SCALAR, /* one token key=value */
    RBGW_PIECE_LIST,   /* one token key=value per element of an array parameter (value[]) */
    RBGW_PIECE_GROUP,  /* one record group key[member]=... from an object parameter (rr) */
    RBGW_PIECE_GROUPS, /* one record group key[i][member]=... per element of an array (rrset) */
};

/* How a parameter value becomes text (pdns's accessor in brackets).  Missing values behave as
 * pdns's json11 null does; xlate.c documents the lenient cases. */
enum rbgw_rest_conv {
    RBGW_CONV_TEXT,     /* asString(): string as-is, number as int32, bool 1/0; else refused */
    RBGW_CONV_STR,      /* string_value(): a string, anything else "" */
    RBGW_CONV_STR_OPT,  /* a string; the token is left out when the value is not a string */
    RBGW_CONV_BOOL01,   /* bool_value() ? "1" : "0" */
    RBGW_CONV_BOOLWORD, /* bool_value() ? "true" : "false" */
    RBGW_CONV_INT,      /* int_value(): int32 decimal, 0 when not a number */
    RBGW_CONV_SERIAL,   /* setNotified serial: dialect 5 asString() (int32), 4 "%f" of a double */
};

enum rbgw_rest_join {
    RBGW_JOIN_AMP,         /* groups joined with '&' */
    RBGW_JOIN_AMP5_GLUED4, /* dialect 5: '&'; dialect 4: no separator (replaceRRSet, §5.4) */
};

/* One body or query field; a list of them ends with RBGW_PIECE_END and is in emission order
 * (for bodies pdns builds from its key->value map: case-insensitive alphabetical order). */
struct rbgw_rest_field {
    enum rbgw_rest_piece piece; /* kind of token(s) this field produces */
    const char *key;            /* form key as written ("serial", "value[]"), or group prefix */
    const char *param;          /* parameter holding the value */
    const char *member;         /* NULL, or the member read from param's object / each element */
    enum rbgw_rest_conv conv;   /* SCALAR, LIST: value to text */
    enum rbgw_rest_join join;   /* GROUPS: separator between groups */
};

/* A parameter REST loses, put back by the ingress so the call looks as pdns sends it on a JSON
 * connector (§6.3). */
enum rbgw_rest_lost_value {
    RBGW_LOST_NONE,        /* no entry (pads the list) */
    RBGW_LOST_FALSE,       /* false */
    RBGW_LOST_TRUE,        /* true */
    RBGW_LOST_EMPTY_STR,   /* "" */
    RBGW_LOST_EMPTY_ARRAY, /* [] */
};

struct rbgw_rest_lost {
    const char *param;               /* parameter name */
    enum rbgw_rest_lost_value value; /* value put in */
    bool force;                      /* always (whatever was decoded), not only when absent */
};

#define RBGW_REST_MAX_EXTRA 2
#define RBGW_REST_MAX_LOST 2

struct rbgw_rest {
    bool none;                                      /* pdns never sends it over HTTP: egress
                                                       uses the generic rule, ingress treats
                                                       it as an unknown method */
    enum rbgw_rest_verb verb;                       /* request verb */
    enum rbgw_rest_body body;                       /* what the fields become */
    const char *extra[RBGW_REST_MAX_EXTRA];         /* components after the generic seven */
    const struct rbgw_rest_field *fields;           /* RBGW_PIECE_END-terminated, or NULL */
    unsigned path;                                  /* RBGW_PATH_* the method's path carries */
    struct rbgw_rest_lost lost[RBGW_REST_MAX_LOST]; /* RBGW_LOST_NONE-padded */
};

/* Shorthands for the field lists of the table. */
#define RBGW_F_SCALAR(k, p, m, c)                                                                  \
    {                                                                                              \
        RBGW_PIECE_SCALAR, (k), (p), (m), RBGW_CONV_##c, RBGW_JOIN_AMP                             \
    }
#define RBGW_F_LIST(k, p, m, c)                                                                    \
    {                                                                                              \
        RBGW_PIECE_LIST, (k), (p), (m), RBGW_CONV_##c, RBGW_JOIN_AMP                               \
    }
#define RBGW_F_GROUP(k, p)                                                                         \
    {                                                                                              \
        RBGW_PIECE_GROUP, (k), (p), NULL, RBGW_CONV_TEXT, RBGW_JOIN_AMP                            \
    }
#define RBGW_F_GROUPS(k, p, j)                                                                     \
    {                                                                                              \
        RBGW_PIECE_GROUPS, (k), (p), NULL, RBGW_CONV_TEXT, RBGW_JOIN_##j                           \
    }
#define RBGW_FIELDS(...)                                                                           \
    ((const struct rbgw_rest_field[]){                                                             \
        __VA_ARGS__, {RBGW_PIECE_END, NULL, NULL, NULL, RBGW_CONV_TEXT, RBGW_JOIN_AMP}})

/* feedEnts and feedEnts3 both end in these lists.  pdns takes string_value() of each nonterm
 * element, which is "" for the {nonterm, auth} objects it sends, so every ENT name is lost in
 * 4.x and 5.x alike (§5.4 bug 4); the auth[] list reads a top-level "auth" array that pdns
 * never sends, so it is empty in practice.  Both are reproduced as pdns writes them. */
#define RBGW_F_ENTS                                                                                \
    RBGW_F_LIST("nonterm[]", "nonterm", NULL, STR), RBGW_F_LIST("auth[]", "auth", "auth", BOOL01)

/* nonterm is forced on ingress: REST carries one empty `nonterm[]=` per ENT and no names, so
 * the tokens only tell how many ENTs there were; [] is the only value a JSON responder cannot
 * misread as ENT names. */
#define RBGW_LOST_NONTERM                                                                          \
    {                                                                                              \
        {                                                                                          \
            "nonterm", RBGW_LOST_EMPTY_ARRAY, true                                                 \
        }                                                                                          \
    }

/* ---- the table ---- */

#define RBGW_METHOD_TABLE(M)                                                                       \
    /* pdns sends it first on every pipe, unix and ZeroMQ connection, never over HTTP */           \
    M(INITIALIZE, "initialize", WRITE, NONE, ANY, FIRST, NULL, NULL, .rest = {.none = true})       \
    M(LOOKUP, "lookup", READ, NONE, LIST, CONCAT, "qname", NULL,                                   \
      .rest = {.verb = RBGW_VERB_GET, .path = RBGW_PATH_QNAME | RBGW_PATH_QTYPE})                  \
    M(API_LOOKUP, "APILookup", READ, NONE, LIST, CONCAT, "qname", NULL,                            \
      .rest = {.verb = RBGW_VERB_GET,                                                              \
               .path = RBGW_PATH_QNAME | RBGW_PATH_QTYPE,                                          \
               .lost = {{"include-disabled", RBGW_LOST_TRUE, false}}})                             \
    M(LIST, "list", READ, NONE, LIST, CONCAT, "zonename", NULL,                                    \
      .rest = {.verb = RBGW_VERB_GET,                                                              \
               .path = RBGW_PATH_DOMAIN_ID | RBGW_PATH_ZONENAME,                                   \
               .lost = {{"include_disabled", RBGW_LOST_FALSE, false}}})                            \
    /* its qname is relative to the zone, so it names nothing routable */                          \
    M(GET_BEFORE_AND_AFTER_NAMES_ABSOLUTE, "getBeforeAndAfterNamesAbsolute", READ, NONE, OBJECT,   \
      FIRST, NULL, NULL, .rest = {.verb = RBGW_VERB_GET, .path = RBGW_PATH_ID | RBGW_PATH_QNAME})  \
    M(GET_ALL_DOMAIN_METADATA, "getAllDomainMetadata", READ, NONE, MAP, FIRST, "name", NULL,       \
      .rest = {.verb = RBGW_VERB_GET, .path = RBGW_PATH_NAME})                                     \
    M(GET_DOMAIN_METADATA, "getDomainMetadata", READ, NONE, META, FIRST, "name", NULL,             \
      .rest = {.verb = RBGW_VERB_GET, .path = RBGW_PATH_NAME | RBGW_PATH_KIND})                    \
    M(SET_DOMAIN_METADATA, "setDomainMetadata", WRITE, NONE, TRUE_ONLY, FIRST, "name", NULL,       \
      .rest = {.verb = RBGW_VERB_PATCH,                                                            \
               .body = RBGW_BODY_FORM,                                                             \
               .fields = RBGW_FIELDS(RBGW_F_LIST("value[]", "value", NULL, STR)),                  \
               .path = RBGW_PATH_NAME | RBGW_PATH_KIND,                                            \
               .lost = {{"value", RBGW_LOST_EMPTY_ARRAY, false}}})                                 \
    M(GET_DOMAIN_KEYS, "getDomainKeys", READ, NONE, LIST, CONCAT, "name", NULL,                    \
      .rest = {.verb = RBGW_VERB_GET, .path = RBGW_PATH_NAME})                                     \
    M(ADD_DOMAIN_KEY, "addDomainKey", WRITE, NONE, KEY_ID, FIRST, "name", NULL,                    \
      .rest = {.verb = RBGW_VERB_PUT,                                                              \
               .body = RBGW_BODY_FORM,                                                             \
               .fields = RBGW_FIELDS(RBGW_F_SCALAR("active", "key", "active", BOOL01),             \
                                     RBGW_F_SCALAR("content", "key", "content", STR),              \
                                     RBGW_F_SCALAR("flags", "key", "flags", TEXT),                 \
                                     RBGW_F_SCALAR("published", "key", "published", BOOL01)),      \
               .path = RBGW_PATH_NAME})                                                            \
    M(REMOVE_DOMAIN_KEY, "removeDomainKey", WRITE, NONE, ANY, FIRST, "name", NULL,                 \
      .rest = {.verb = RBGW_VERB_DELETE, .path = RBGW_PATH_ID | RBGW_PATH_NAME})                   \
    M(ACTIVATE_DOMAIN_KEY, "activateDomainKey", WRITE, NONE, ANY, FIRST, "name", NULL,             \
      .rest = {                                                                                    \
          .verb = RBGW_VERB_POST, .body = RBGW_BODY_FORM, .path = RBGW_PATH_ID | RBGW_PATH_NAME})  \
    M(DEACTIVATE_DOMAIN_KEY, "deactivateDomainKey", WRITE, NONE, ANY, FIRST, "name", NULL,         \
      .rest = {                                                                                    \
          .verb = RBGW_VERB_POST, .body = RBGW_BODY_FORM, .path = RBGW_PATH_ID | RBGW_PATH_NAME})  \
    M(PUBLISH_DOMAIN_KEY, "publishDomainKey", WRITE, NONE, ANY, FIRST, "name", NULL,               \
      .rest = {                                                                                    \
          .verb = RBGW_VERB_POST, .body = RBGW_BODY_FORM, .path = RBGW_PATH_ID | RBGW_PATH_NAME})  \
    M(UNPUBLISH_DOMAIN_KEY, "unpublishDomainKey", WRITE, NONE, ANY, FIRST, "name", NULL,           \
      .rest = {                                                                                    \
          .verb = RBGW_VERB_POST, .body = RBGW_BODY_FORM, .path = RBGW_PATH_ID | RBGW_PATH_NAME})  \
    /* TSIG key names are DNS names too: hashing them keeps set/get of one key together */         \
    M(GET_TSIG_KEY, "getTSIGKey", READ, NONE, OBJECT, FIRST, "name", NULL,                         \
      .rest = {.verb = RBGW_VERB_GET, .path = RBGW_PATH_NAME})                                     \
    M(SET_TSIG_KEY, "setTSIGKey", WRITE, NONE, ANY, FIRST, "name", NULL,                           \
      .rest = {.verb = RBGW_VERB_PATCH,                                                            \
               .body = RBGW_BODY_FORM,                                                             \
               .fields = RBGW_FIELDS(RBGW_F_SCALAR("algorithm", "algorithm", NULL, STR),           \
                                     RBGW_F_SCALAR("content", "content", NULL, STR)),              \
               .path = RBGW_PATH_NAME})                                                            \
    M(DELETE_TSIG_KEY, "deleteTSIGKey", WRITE, NONE, ANY, FIRST, "name", NULL,                     \
      .rest = {.verb = RBGW_VERB_DELETE, .path = RBGW_PATH_NAME})                                  \
    M(GET_TSIG_KEYS, "getTSIGKeys", READ, NONE, LIST, CONCAT, NULL, NULL,                          \
      .rest = {.verb = RBGW_VERB_GET})                                                             \
    M(GET_DOMAIN_INFO, "getDomainInfo", READ, NONE, DOMAIN, FIRST, "name", NULL,                   \
      .rest = {.verb = RBGW_VERB_GET, .path = RBGW_PATH_NAME}, .cache = RBGW_CACHE_SHARE_ONLY)     \
    M(SET_NOTIFIED, "setNotified", WRITE, NONE, ANY, FIRST, NULL, NULL,                            \
      .rest = {.verb = RBGW_VERB_PATCH,                                                            \
               .body = RBGW_BODY_FORM,                                                             \
               .fields = RBGW_FIELDS(RBGW_F_SCALAR("serial", "serial", NULL, SERIAL)),             \
               .path = RBGW_PATH_ID},                                                              \
      .cache = RBGW_CACHE_ZONE_STATE)                                                              \
    M(SUPER_MASTER_BACKEND, "superMasterBackend", WRITE, NONE, ANY, FIRST, "domain", NULL,         \
      .rest = {.verb = RBGW_VERB_POST,                                                             \
               .body = RBGW_BODY_FORM,                                                             \
               .extra = {"ip", "domain"},                                                          \
               .fields = RBGW_FIELDS(RBGW_F_GROUPS("nsset", "nsset", AMP))})                       \
    M(CREATE_SLAVE_DOMAIN, "createSlaveDomain", WRITE, NONE, ANY, FIRST, "domain", NULL,           \
      .rest = {.verb = RBGW_VERB_PUT,                                                              \
               .body = RBGW_BODY_FORM,                                                             \
               .extra = {"ip", "domain"},                                                          \
               .fields = RBGW_FIELDS(RBGW_F_SCALAR("account", "account", NULL, STR_OPT)),          \
               .lost = {{"nameserver", RBGW_LOST_EMPTY_STR, false}}})                              \
    M(REPLACE_RRSET, "replaceRRSet", WRITE, IN, ANY, FIRST, "qname", NULL,                         \
      .rest = {.verb = RBGW_VERB_PATCH,                                                            \
               .body = RBGW_BODY_FORM,                                                             \
               .fields = RBGW_FIELDS(RBGW_F_GROUPS("rrset", "rrset", AMP5_GLUED4)),                \
               .path = RBGW_PATH_DOMAIN_ID | RBGW_PATH_QNAME | RBGW_PATH_QTYPE})                   \
    M(FEED_RECORD, "feedRecord", WRITE, IN, ANY, FIRST, "rr", "qname",                             \
      .rest = {.verb = RBGW_VERB_PATCH,                                                            \
               .body = RBGW_BODY_FORM,                                                             \
               .extra = {"trxid"},                                                                 \
               .fields = RBGW_FIELDS(RBGW_F_GROUP("rr", "rr"))})                                   \
    M(FEED_ENTS, "feedEnts", WRITE, IN, ANY, FIRST, NULL, NULL,                                    \
      .rest = {.verb = RBGW_VERB_PATCH,                                                            \
               .body = RBGW_BODY_FORM,                                                             \
               .extra = {"trxid"},                                                                 \
               .fields = RBGW_FIELDS(RBGW_F_ENTS),                                                 \
               .path = RBGW_PATH_DOMAIN_ID,                                                        \
               .lost = RBGW_LOST_NONTERM})                                                         \
    M(FEED_ENTS3, "feedEnts3", WRITE, IN, ANY, FIRST, "domain", NULL,                              \
      .rest = {.verb = RBGW_VERB_PATCH,                                                            \
               .body = RBGW_BODY_FORM,                                                             \
               .extra = {"domain", "trxid"},                                                       \
               .fields =                                                                           \
                   RBGW_FIELDS(RBGW_F_SCALAR("times", "times", NULL, INT),                         \
                               RBGW_F_SCALAR("salt", "salt", NULL, STR),                           \
                               RBGW_F_SCALAR("narrow", "narrow", NULL, BOOL01), RBGW_F_ENTS),      \
               .path = RBGW_PATH_DOMAIN_ID,                                                        \
               .lost = RBGW_LOST_NONTERM})                                                         \
    M(START_TRANSACTION, "startTransaction", WRITE, START, ANY, FIRST, "domain", NULL,             \
      .rest = {.verb = RBGW_VERB_POST,                                                             \
               .body = RBGW_BODY_FORM,                                                             \
               .extra = {"domain", "trxid"},                                                       \
               .path = RBGW_PATH_DOMAIN_ID})                                                       \
    M(COMMIT_TRANSACTION, "commitTransaction", WRITE, END, ANY, FIRST, NULL, NULL,                 \
      .rest = {.verb = RBGW_VERB_POST, .body = RBGW_BODY_FORM, .extra = {"trxid"}})                \
    M(ABORT_TRANSACTION, "abortTransaction", WRITE, END, ANY, FIRST, NULL, NULL,                   \
      .rest = {.verb = RBGW_VERB_POST, .body = RBGW_BODY_FORM, .extra = {"trxid"}})                \
    M(DIRECT_BACKEND_CMD, "directBackendCmd", WRITE, NONE, ANY, FIRST, NULL, NULL,                 \
      .rest = {.verb = RBGW_VERB_POST,                                                             \
               .body = RBGW_BODY_FORM,                                                             \
               .fields = RBGW_FIELDS(RBGW_F_SCALAR("query", "query", NULL, STR))})                 \
    M(SEARCH_RECORDS, "searchRecords", READ, NONE, LIST, CONCAT, NULL, NULL,                       \
      .rest = {.verb = RBGW_VERB_GET,                                                              \
               .body = RBGW_BODY_QUERY,                                                            \
               .fields = RBGW_FIELDS(RBGW_F_SCALAR("maxResults", "maxResults", NULL, INT),         \
                                     RBGW_F_SCALAR("pattern", "pattern", NULL, STR))})             \
    /* never sent (a local stub in pdns), but pdns's REST builder maps it like searchRecords */    \
    M(SEARCH_COMMENTS, "searchComments", READ, NONE, LIST, CONCAT, NULL, NULL,                     \
      .rest = {.verb = RBGW_VERB_GET,                                                              \
               .body = RBGW_BODY_QUERY,                                                            \
               .fields = RBGW_FIELDS(RBGW_F_SCALAR("maxResults", "maxResults", NULL, INT),         \
                                     RBGW_F_SCALAR("pattern", "pattern", NULL, STR))})             \
    M(GET_ALL_DOMAINS, "getAllDomains", READ, NONE, LIST, ZONES, NULL, NULL,                       \
      .rest = {.verb = RBGW_VERB_GET,                                                              \
               .body = RBGW_BODY_QUERY,                                                            \
               .fields = RBGW_FIELDS(                                                              \
                   RBGW_F_SCALAR("includeDisabled", "include_disabled", NULL, BOOLWORD))})         \
    M(GET_UPDATED_MASTERS, "getUpdatedMasters", READ, NONE, LIST, ZONES, NULL, NULL,               \
      .rest = {.verb = RBGW_VERB_GET})                                                             \
    M(GET_UNFRESH_SLAVE_INFOS, "getUnfreshSlaveInfos", READ, NONE, LIST, ZONES, NULL, NULL,        \
      .rest = {.verb = RBGW_VERB_GET})                                                             \
    M(SET_STALE, "setStale", WRITE, NONE, ANY, FIRST, NULL, NULL,                                  \
      .rest = {.verb = RBGW_VERB_PATCH, .body = RBGW_BODY_FORM, .path = RBGW_PATH_ID},             \
      .cache = RBGW_CACHE_ZONE_STATE)                                                              \
    M(SET_FRESH, "setFresh", WRITE, NONE, ANY, FIRST, NULL, NULL,                                  \
      .rest = {.verb = RBGW_VERB_PATCH, .body = RBGW_BODY_FORM, .path = RBGW_PATH_ID},             \
      .cache = RBGW_CACHE_ZONE_STATE)

/* ---- the enum and the rows ---- */

enum rbgw_method {
    RBGW_M_UNKNOWN = 0, /* not in the table: forwarded by name, generic rules */
#define RBGW_METHOD_ENUM(id, ...) RBGW_M_##id,
    RBGW_METHOD_TABLE(RBGW_METHOD_ENUM)
#undef RBGW_METHOD_ENUM
        RBGW_M__COUNT /* number of rows, RBGW_M_UNKNOWN's included */
};

struct rbgw_method_info {
    const char *name;             /* wire name; "" for RBGW_M_UNKNOWN */
    size_t len;                   /* strlen(name) */
    enum rbgw_method_class cls;   /* route class */
    enum rbgw_trx_role trx;       /* part in a transaction */
    enum rbgw_result_rule result; /* how pdns reads the result */
    enum rbgw_merge_rule merge;   /* how read=merge combines replies */
    const char *callname;         /* parameter naming the call's DNS name, or NULL */
    const char *callname_member;  /* member of that parameter's object holding it, or NULL */
    struct rbgw_rest rest;        /* HTTP REST mapping */
    enum rbgw_cache_rule cache;   /* read cache exceptions (RBGW_CACHE_BY_CLASS: none) */
};

/** The rows, by enum rbgw_method; [RBGW_M_UNKNOWN] holds the generic rules. */
extern const struct rbgw_method_info rbgw_methods[RBGW_M__COUNT];

/** The method a wire name stands for (exact, case-sensitive), or RBGW_M_UNKNOWN. */
enum rbgw_method rbgw_method_lookup(struct rbgw_str name);

static inline const struct rbgw_method_info *
rbgw_method_info(enum rbgw_method m)
{
    return &rbgw_methods[(unsigned)m < RBGW_M__COUNT ? m : RBGW_M_UNKNOWN];
}

/** Route class of a method (unknown methods are writes). */
static inline enum rbgw_method_class
rbgw_method_class(enum rbgw_method m)
{
    return rbgw_method_info(m)->cls;
}

/** Part of a method in a transaction. */
static inline enum rbgw_trx_role
rbgw_method_trx(enum rbgw_method m)
{
    return rbgw_method_info(m)->trx;
}

/**
 * The DNS name a call is about, for zone routes and consistent hashing: the row's callname
 * parameter (and member), when it is a string.  An unknown method names the first string
 * among qname, name, zonename, domain.  Empty when the call names none or params is not an
 * object.
 */
struct rbgw_str rbgw_call_name(enum rbgw_method m, const struct rbgw_json *params);

#endif

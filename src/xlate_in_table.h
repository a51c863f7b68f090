/*
 * xlate_in_table.h: what REST ingress needs beyond the egress table (protocol.md §6.2, §6.3).
 *
 * xlate_table.h already holds, per method, the wire name, the extra path components and the
 * body/query fields with their conversions; xlate_in.c reads those rows.  Two things are not in
 * it, because egress derives them from the parameters present at call time:
 *
 *   - which of the seven generic path components (xlate_components, in that order) a method's
 *     calls carry.  On egress pdns emits whichever keys are present; on ingress the segments are
 *     unnamed, so the names must come from a per-method schema (§6.2);
 *   - the values of parameters REST loses and that must be put back so the call looks as pdns
 *     sends it on a JSON connector (§6.3): include_disabled, include-disabled, nameserver and
 *     the nonterm list.
 *
 * This table carries exactly those two columns.  A method in xlate_rows without a row here is
 * decoded as an unknown method; test_xlate_in.c checks that both tables list the same methods.
 * Included only by xlate_in.c and tests/unit/test_xlate_in.c.
 */
#ifndef RBGW_XLATE_IN_TABLE_H
#define RBGW_XLATE_IN_TABLE_H

/* Bits over xlate_components[] (same order: id, domain_id, zonename, qname, name, kind, qtype). */
#define XIN_ID (1u << 0)
#define XIN_DOMAIN_ID (1u << 1)
#define XIN_ZONENAME (1u << 2)
#define XIN_QNAME (1u << 3)
#define XIN_NAME (1u << 4)
#define XIN_KIND (1u << 5)
#define XIN_QTYPE (1u << 6)

enum xin_value {
    XIN_NONE,        /* no default (terminates the defaults list) */
    XIN_FALSE,       /* false */
    XIN_TRUE,        /* true */
    XIN_EMPTY_STR,   /* "" */
    XIN_EMPTY_ARRAY, /* [] */
};

struct xin_default {
    const char *param;    /* parameter name */
    enum xin_value value; /* value put in */
    int force;            /* 1: always (whatever was decoded), 0: only when absent */
};

#define XIN_MAX_DEFAULTS 2

struct xin_row {
    const char *method;                            /* wire name, case-sensitive */
    unsigned components;                           /* XIN_* bits: generic path components */
    struct xin_default defaults[XIN_MAX_DEFAULTS]; /* lost parameters, XIN_NONE-padded */
};

/* nonterm is forced: REST carries one empty `nonterm[]=` per ENT and no names (§5.4 bug 4), so
 * the tokens only tell how many ENTs there were.  [] is the only value a JSON responder cannot
 * misread as ENT names. */
#define XIN_NONTERM_LOST                                                                           \
    {                                                                                              \
        {                                                                                          \
            "nonterm", XIN_EMPTY_ARRAY, 1                                                          \
        }                                                                                          \
    }

static const struct xin_row xin_rows[] __attribute__((unused)) = {
    {"lookup", XIN_QNAME | XIN_QTYPE, {{NULL, XIN_NONE, 0}}},
    {"APILookup", XIN_QNAME | XIN_QTYPE, {{"include-disabled", XIN_TRUE, 0}}},
    {"list", XIN_DOMAIN_ID | XIN_ZONENAME, {{"include_disabled", XIN_FALSE, 0}}},
    {"getBeforeAndAfterNamesAbsolute", XIN_ID | XIN_QNAME, {{NULL, XIN_NONE, 0}}},
    {"getAllDomainMetadata", XIN_NAME, {{NULL, XIN_NONE, 0}}},
    {"getDomainMetadata", XIN_NAME | XIN_KIND, {{NULL, XIN_NONE, 0}}},
    {"setDomainMetadata", XIN_NAME | XIN_KIND, {{"value", XIN_EMPTY_ARRAY, 0}}},
    {"getDomainKeys", XIN_NAME, {{NULL, XIN_NONE, 0}}},
    {"addDomainKey", XIN_NAME, {{NULL, XIN_NONE, 0}}},
    {"removeDomainKey", XIN_ID | XIN_NAME, {{NULL, XIN_NONE, 0}}},
    {"activateDomainKey", XIN_ID | XIN_NAME, {{NULL, XIN_NONE, 0}}},
    {"deactivateDomainKey", XIN_ID | XIN_NAME, {{NULL, XIN_NONE, 0}}},
    {"publishDomainKey", XIN_ID | XIN_NAME, {{NULL, XIN_NONE, 0}}},
    {"unpublishDomainKey", XIN_ID | XIN_NAME, {{NULL, XIN_NONE, 0}}},
    {"getTSIGKey", XIN_NAME, {{NULL, XIN_NONE, 0}}},
    {"setTSIGKey", XIN_NAME, {{NULL, XIN_NONE, 0}}},
    {"deleteTSIGKey", XIN_NAME, {{NULL, XIN_NONE, 0}}},
    {"getTSIGKeys", 0, {{NULL, XIN_NONE, 0}}},
    {"getDomainInfo", XIN_NAME, {{NULL, XIN_NONE, 0}}},
    {"setNotified", XIN_ID, {{NULL, XIN_NONE, 0}}},
    {"superMasterBackend", 0, {{NULL, XIN_NONE, 0}}},
    {"createSlaveDomain", 0, {{"nameserver", XIN_EMPTY_STR, 0}}},
    {"replaceRRSet", XIN_DOMAIN_ID | XIN_QNAME | XIN_QTYPE, {{NULL, XIN_NONE, 0}}},
    {"feedRecord", 0, {{NULL, XIN_NONE, 0}}},
    {"feedEnts", XIN_DOMAIN_ID, XIN_NONTERM_LOST},
    {"feedEnts3", XIN_DOMAIN_ID, XIN_NONTERM_LOST},
    {"startTransaction", XIN_DOMAIN_ID, {{NULL, XIN_NONE, 0}}},
    {"commitTransaction", 0, {{NULL, XIN_NONE, 0}}},
    {"abortTransaction", 0, {{NULL, XIN_NONE, 0}}},
    {"directBackendCmd", 0, {{NULL, XIN_NONE, 0}}},
    {"searchRecords", 0, {{NULL, XIN_NONE, 0}}},
    {"searchComments", 0, {{NULL, XIN_NONE, 0}}},
    {"getAllDomains", 0, {{NULL, XIN_NONE, 0}}},
    {"getUpdatedMasters", 0, {{NULL, XIN_NONE, 0}}},
    {"getUnfreshSlaveInfos", 0, {{NULL, XIN_NONE, 0}}},
    {"setStale", XIN_ID, {{NULL, XIN_NONE, 0}}},
    {"setFresh", XIN_ID, {{NULL, XIN_NONE, 0}}},
};

#undef XIN_NONTERM_LOST

/* §6.3: the JSON type of a parameter (path segment, header, field without a typed conversion,
 * record-group member) by its name.  Names not listed are strings. */
enum xin_type {
    XT_STRING,   /* the decoded bytes */
    XT_INT,      /* decimal int64 ("-1" arrives as %2d1) */
    XT_INT_FRAC, /* as XT_INT, but 4.x's "N.000000" is taken as N (serial, trxid) */
    XT_BOOL,     /* "1"/"0" (also "true"/"false") */
    XT_NULLABLE, /* a string, and the empty value is null (rr[ordername]=) */
};

struct xin_type_row {
    const char *name;   /* parameter or member name */
    enum xin_type type; /* how its text becomes JSON */
};

static const struct xin_type_row xin_types[] __attribute__((unused)) = {
    {"id", XT_INT},
    {"domain_id", XT_INT},
    {"zone-id", XT_INT},
    {"maxResults", XT_INT},
    {"times", XT_INT},
    {"flags", XT_INT},
    {"ttl", XT_INT},
    {"qclass", XT_INT},
    {"trxid", XT_INT_FRAC},
    {"serial", XT_INT_FRAC},
    {"active", XT_BOOL},
    {"published", XT_BOOL},
    {"auth", XT_BOOL},
    {"narrow", XT_BOOL},
    {"include_disabled", XT_BOOL},
    {"include-disabled", XT_BOOL},
    {"ordername", XT_NULLABLE},
};

#endif

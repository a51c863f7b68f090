/*
 * test_xlate_in.c: REST ingress (HTTP request from pdns -> JSON-RPC text), table-driven.
 *
 * Golden cases are the requests pdns 4.7.3 was seen sending (docs/protocol.md §5.5) and the forms of
 * §5.3 for every method, in both REST dialects (4.x bare digits, glued replaceRRSet TTLs,
 * serial=N.000000; 5.x bracketed members), plus awkward names, header spellings, url-suffix,
 * prefixes, post and post_json modes, unknown methods and errors.  The round-trip test encodes
 * JSON-RPC calls with rbgw_xlate_rpc_to_http (REST dialects 5 and 4, post, post_json), splits
 * the produced bytes minimally and decodes them again.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rbgw/json.h"
#include "rbgw/xlate.h"
#include "rbgw/method.h"
#include "rbgw/xlate_in.h"

struct hcase {
    const char *name;    /* label for messages */
    const char *prefix;  /* conf prefix */
    const char *suffix;  /* conf suffix */
    const char *verb;    /* request verb */
    const char *target;  /* request-target */
    const char *headers; /* "Name: value\n" lines, or NULL */
    const char *body;    /* body, or NULL for none */
    int rc;              /* expected return */
    const char *want;    /* rc == 0: the JSON text; else the error text ("..." ending: prefix) */
};

#define LOOKUP_HDRS                                                                                \
    "Accept: application/json\nConnection: Keep-Alive\nHost: 127.0.0.1\n"                          \
    "User-Agent: YaHTTP v1.0\nX-Remotebackend-Local: 127.0.0.1\n"                                  \
    "X-Remotebackend-Real-Remote: 127.0.0.1/32\nX-Remotebackend-Remote: 127.0.0.1\n"               \
    "X-Remotebackend-Zone-Id: 5\n"
#define FORM_HDRS "Content-Type: application/x-www-form-urlencoded; charset=utf-8\n"
#define NS_5X                                                                                      \
    "nsset[0][auth]=1&nsset[0][content]=ns1%2enew%2etest&nsset[0][qclass]=1&nsset[0][qname]="      \
    "new%2etest%2e&nsset[0][qtype]=NS&nsset[0][ttl]=300&nsset[1][auth]=0&nsset[1][content]=127%"   \
    "2e0%2e0%2e2&nsset[1][qclass]=1&nsset[1][qname]=ns1%2enew%2etest%2e&nsset[1][qtype]=A&nsset["  \
    "1][ttl]=300"
#define NS_4X                                                                                      \
    "1&nsset[0][content]=ns1%2enew%2etest&nsset[0][qclass]=1&nsset[0][qname]=new%2etest%2e&nsset[" \
    "0][qtype]=NS&nsset[0][ttl]=300&0&nsset[1][content]=127%2e0%2e0%2e2&nsset[1][qclass]=1&nsset[" \
    "1][qname]=ns1%2enew%2etest%2e&nsset[1][qtype]=A&nsset[1][ttl]=300"
#define NS_JSON                                                                                    \
    "{\"method\": \"superMasterBackend\", \"parameters\": {\"domain\": \"new.test.\", \"ip\": "    \
    "\"127.0.0.2\", \"nsset\": [{\"auth\": true, \"content\": \"ns1.new.test\", \"qclass\": 1, "   \
    "\"qname\": \"new.test.\", \"qtype\": \"NS\", \"ttl\": 300}, {\"auth\": false, \"content\": "  \
    "\"127.0.0.2\", \"qclass\": 1, \"qname\": \"ns1.new.test.\", \"qtype\": \"A\", \"ttl\": "      \
    "300}]}}"
#define RRSET_5X                                                                                   \
    "rrset[0][auth]=1&rrset[0][content]=192%2e0%2e2%2e10&rrset[0][qclass]=1&rrset[0][qname]=www%"  \
    "2eexample%2ecom%2e&rrset[0][qtype]=A&rrset[0][ttl]=300&rrset[1][auth]=0&rrset[1][content]="   \
    "192%2e0%2e2%2e11&rrset[1][qclass]=1&rrset[1][qname]=www%2eexample%2ecom%2e&rrset[1][qtype]="  \
    "A&rrset[1][ttl]=300"
/* 4.x: bare first auth, and rrset[1]'s auth (0) glued onto rrset[0]'s TTL (300 -> 3000). */
#define RRSET_4X                                                                                   \
    "1&rrset[0][content]=192%2e0%2e2%2e10&rrset[0][qclass]=1&rrset[0][qname]=www%2eexample%2ecom%" \
    "2e&rrset[0][qtype]=A&rrset[0][ttl]=3000&rrset[1][content]=192%2e0%2e2%2e11&rrset[1][qclass]"  \
    "=1&rrset[1][qname]=www%2eexample%2ecom%2e&rrset[1][qtype]=A&rrset[1][ttl]=300"
#define RRSET_JSON                                                                                 \
    "{\"method\": \"replaceRRSet\", \"parameters\": {\"domain_id\": 5, \"qname\": "                \
    "\"www.example.com.\", \"qtype\": \"A\", \"rrset\": [{\"auth\": true, \"content\": "           \
    "\"192.0.2.10\", \"qclass\": 1, \"qname\": \"www.example.com.\", \"qtype\": \"A\", \"ttl\": "  \
    "300}, {\"auth\": false, \"content\": \"192.0.2.11\", \"qclass\": 1, \"qname\": "              \
    "\"www.example.com.\", \"qtype\": \"A\", \"ttl\": 300}], \"trxid\": 1795625189}}"
#define TRX_HDR "X-Remotebackend-Trxid: 1795625189\n"
#define FEED_TRX_HDR "X-Remotebackend-Trxid: 1795625413\n"
#define KEY_CONTENT_ENC                                                                            \
    "Private%2dkey%2dformat%3a%20v1%2e2%0aAlgorithm%3a%2013%20%28ECDSAP256SHA256%29%0a"
#define KEY_CONTENT_JSON "Private-key-format: v1.2\\nAlgorithm: 13 (ECDSAP256SHA256)\\n"

/* Golden cases: every method, from the wire captures (§5.5) and the §5.3 forms. */
static const struct hcase golden[] = {
    /* ---- §5.5 wire captures (4.7.3) ---- */
    {"lookup (wire)", "/dns", "", "GET", "/dns/lookup/ns1%2eexample%2ecom%2e/ANY", LOOKUP_HDRS,
     NULL, 0,
     "{\"method\": \"lookup\", \"parameters\": {\"local\": \"127.0.0.1\", \"qname\": "
     "\"ns1.example.com.\", \"qtype\": \"ANY\", \"real-remote\": \"127.0.0.1/32\", \"remote\": "
     "\"127.0.0.1\", \"zone-id\": 5}}"},
    {"list (wire)", "/dns", "", "GET", "/dns/list/5/example%2ecom%2e", NULL, NULL, 0,
     "{\"method\": \"list\", \"parameters\": {\"domain_id\": 5, \"include_disabled\": false, "
     "\"zonename\": \"example.com.\"}}"},
    {"getBeforeAndAfterNamesAbsolute (wire)", "/dns", "", "GET",
     "/dns/getBeforeAndAfterNamesAbsolute/5/nonexist%2e", NULL, NULL, 0,
     "{\"method\": \"getBeforeAndAfterNamesAbsolute\", \"parameters\": {\"id\": 5, \"qname\": "
     "\"nonexist.\"}}"},
    {"setDomainMetadata (wire)", "/dns", "", "PATCH",
     "/dns/setDomainMetadata/example%2ecom%2e/X%2dFOO", "Content-Length: 35\n" FORM_HDRS,
     "value[]=v%201&value[]=a%26b%3dc%2fd", 0,
     "{\"method\": \"setDomainMetadata\", \"parameters\": {\"kind\": \"X-FOO\", \"name\": "
     "\"example.com.\", \"value\": [\"v 1\", \"a&b=c/d\"]}}"},
    {"addDomainKey (wire)", "/dns", "", "PUT", "/dns/addDomainKey/example%2ecom%2e", FORM_HDRS,
     "active=1&content=" KEY_CONTENT_ENC "&flags=257&published=1", 0,
     "{\"method\": \"addDomainKey\", \"parameters\": {\"key\": {\"active\": true, \"content\": "
     "\"" KEY_CONTENT_JSON "\", \"flags\": 257, \"published\": true}, \"name\": "
     "\"example.com.\"}}"},
    {"activateDomainKey (wire)", "/dns", "", "POST", "/dns/activateDomainKey/7/example%2ecom%2e",
     "Content-Length: 0\n" FORM_HDRS, "", 0,
     "{\"method\": \"activateDomainKey\", \"parameters\": {\"id\": 7, \"name\": "
     "\"example.com.\"}}"},
    {"removeDomainKey (wire)", "/dns", "", "DELETE", "/dns/removeDomainKey/7/example%2ecom%2e",
     NULL, NULL, 0,
     "{\"method\": \"removeDomainKey\", \"parameters\": {\"id\": 7, \"name\": "
     "\"example.com.\"}}"},
    {"setTSIGKey (wire)", "/dns", "", "PATCH", "/dns/setTSIGKey/k1%2e", FORM_HDRS,
     "algorithm=hmac%2dsha256%2e&content=a2V5%2b%2f%3d", 0,
     "{\"method\": \"setTSIGKey\", \"parameters\": {\"algorithm\": \"hmac-sha256.\", "
     "\"content\": \"a2V5+/=\", \"name\": \"k1.\"}}"},
    {"startTransaction (wire)", "/dns", "", "POST",
     "/dns/startTransaction/%2d1/example%2ecom%2e/1795625189",
     "Content-Length: 0\n" FORM_HDRS TRX_HDR, "", 0,
     "{\"method\": \"startTransaction\", \"parameters\": {\"domain\": \"example.com.\", "
     "\"domain_id\": -1, \"trxid\": 1795625189}}"},
    {"feedEnts3 (wire)", "/dns", "", "PATCH", "/dns/feedEnts3/7/sec%2etest%2e/1795625413",
     FORM_HDRS FEED_TRX_HDR, "times=1&salt=%ab&narrow=0&nonterm[]=&nonterm[]=", 0,
     "{\"method\": \"feedEnts3\", \"parameters\": {\"domain\": \"sec.test.\", \"domain_id\": 7, "
     "\"narrow\": false, \"nonterm\": [], \"salt\": \"\xab"
     "\", \"times\": 1, \"trxid\": 1795625413}}"},
    {"createSlaveDomain (wire)", "/dns", "", "PUT",
     "/dns/createSlaveDomain/127%2e0%2e0%2e2/new%2etest%2e", FORM_HDRS, "account=acct", 0,
     "{\"method\": \"createSlaveDomain\", \"parameters\": {\"account\": \"acct\", \"domain\": "
     "\"new.test.\", \"ip\": \"127.0.0.2\", \"nameserver\": \"\"}}"},
    {"searchRecords (wire)", "/dns", "", "GET",
     "/dns/searchRecords?maxResults=10&pattern=ns1%2a%20x", NULL, NULL, 0,
     "{\"method\": \"searchRecords\", \"parameters\": {\"maxResults\": 10, \"pattern\": \"ns1* "
     "x\"}}"},
    {"getAllDomains (wire)", "/dns", "", "GET", "/dns/getAllDomains?includeDisabled=true", NULL,
     NULL, 0, "{\"method\": \"getAllDomains\", \"parameters\": {\"include_disabled\": true}}"},

    /* ---- §5.3 forms for the remaining methods ---- */
    {"APILookup", "/dns", "", "GET", "/dns/APILookup/example%2ecom%2e/SOA",
     "X-Remotebackend-Local: 0.0.0.0\nX-Remotebackend-Real-Remote: 0.0.0.0/0\n"
     "X-Remotebackend-Remote: 0.0.0.0\nX-Remotebackend-Zone-Id: -1\n",
     NULL, 0,
     "{\"method\": \"APILookup\", \"parameters\": {\"include-disabled\": true, \"local\": "
     "\"0.0.0.0\", \"qname\": \"example.com.\", \"qtype\": \"SOA\", \"real-remote\": "
     "\"0.0.0.0/0\", \"remote\": \"0.0.0.0\", \"zone-id\": -1}}"},
    {"getAllDomains false", "/dns", "", "GET", "/dns/getAllDomains?includeDisabled=false", NULL,
     NULL, 0, "{\"method\": \"getAllDomains\", \"parameters\": {\"include_disabled\": false}}"},
    {"getAllDomainMetadata", "/dns", "", "GET", "/dns/getAllDomainMetadata/example%2ecom%2e", NULL,
     NULL, 0,
     "{\"method\": \"getAllDomainMetadata\", \"parameters\": {\"name\": \"example.com.\"}}"},
    {"getDomainMetadata", "/dns", "", "GET", "/dns/getDomainMetadata/example%2ecom%2e/SOA%2dEDIT",
     NULL, NULL, 0,
     "{\"method\": \"getDomainMetadata\", \"parameters\": {\"kind\": \"SOA-EDIT\", \"name\": "
     "\"example.com.\"}}"},
    {"setDomainMetadata delete (empty body)", "/dns", "", "PATCH",
     "/dns/setDomainMetadata/example%2ecom%2e/X%2dFOO", "Content-Length: 0\n" FORM_HDRS, "", 0,
     "{\"method\": \"setDomainMetadata\", \"parameters\": {\"kind\": \"X-FOO\", \"name\": "
     "\"example.com.\", \"value\": []}}"},
    {"setDomainMetadata one empty value", "/dns", "", "PATCH",
     "/dns/setDomainMetadata/example%2ecom%2e/X%2dFOO", FORM_HDRS, "value[]=", 0,
     "{\"method\": \"setDomainMetadata\", \"parameters\": {\"kind\": \"X-FOO\", \"name\": "
     "\"example.com.\", \"value\": [\"\"]}}"},
    {"getDomainKeys", "/dns", "", "GET", "/dns/getDomainKeys/example%2ecom%2e", NULL, NULL, 0,
     "{\"method\": \"getDomainKeys\", \"parameters\": {\"name\": \"example.com.\"}}"},
    {"addDomainKey inactive unpublished", "/dns", "", "PUT", "/dns/addDomainKey/example%2ecom%2e",
     FORM_HDRS, "active=0&content=x&flags=256&published=0", 0,
     "{\"method\": \"addDomainKey\", \"parameters\": {\"key\": {\"active\": false, \"content\": "
     "\"x\", \"flags\": 256, \"published\": false}, \"name\": \"example.com.\"}}"},
    {"deactivateDomainKey", "/dns", "", "POST", "/dns/deactivateDomainKey/7/example%2ecom%2e",
     "Content-Length: 0\n" FORM_HDRS, "", 0,
     "{\"method\": \"deactivateDomainKey\", \"parameters\": {\"id\": 7, \"name\": "
     "\"example.com.\"}}"},
    {"publishDomainKey", "/dns", "", "POST", "/dns/publishDomainKey/8/example%2ecom%2e", NULL, "",
     0,
     "{\"method\": \"publishDomainKey\", \"parameters\": {\"id\": 8, \"name\": "
     "\"example.com.\"}}"},
    {"unpublishDomainKey", "/dns", "", "POST", "/dns/unpublishDomainKey/8/example%2ecom%2e", NULL,
     "", 0,
     "{\"method\": \"unpublishDomainKey\", \"parameters\": {\"id\": 8, \"name\": "
     "\"example.com.\"}}"},
    {"getTSIGKey", "/dns", "", "GET", "/dns/getTSIGKey/k1%2e", NULL, NULL, 0,
     "{\"method\": \"getTSIGKey\", \"parameters\": {\"name\": \"k1.\"}}"},
    {"deleteTSIGKey", "/dns", "", "DELETE", "/dns/deleteTSIGKey/k1%2e", NULL, NULL, 0,
     "{\"method\": \"deleteTSIGKey\", \"parameters\": {\"name\": \"k1.\"}}"},
    {"getTSIGKeys", "/dns", "", "GET", "/dns/getTSIGKeys", NULL, NULL, 0,
     "{\"method\": \"getTSIGKeys\", \"parameters\": {}}"},
    {"getDomainInfo", "/dns", "", "GET", "/dns/getDomainInfo/example%2ecom%2e", NULL, NULL, 0,
     "{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": \"example.com.\"}}"},
    {"setNotified 5.x", "/dns", "", "PATCH", "/dns/setNotified/5", FORM_HDRS, "serial=2002010100",
     0, "{\"method\": \"setNotified\", \"parameters\": {\"id\": 5, \"serial\": 2002010100}}"},
    {"setNotified 4.x (N.000000)", "/dns", "", "PATCH", "/dns/setNotified/5", FORM_HDRS,
     "serial=2002010100%2e000000", 0,
     "{\"method\": \"setNotified\", \"parameters\": {\"id\": 5, \"serial\": 2002010100}}"},
    {"setNotified 4.x above int32", "/dns", "", "PATCH", "/dns/setNotified/5", FORM_HDRS,
     "serial=3000000000%2e000000", 0,
     "{\"method\": \"setNotified\", \"parameters\": {\"id\": 5, \"serial\": 3000000000}}"},
    {"setNotified 5.x int32 overflow as sent", "/dns", "", "PATCH", "/dns/setNotified/5", FORM_HDRS,
     "serial=%2d2147483648", 0,
     "{\"method\": \"setNotified\", \"parameters\": {\"id\": 5, \"serial\": -2147483648}}"},
    {"superMasterBackend 5.x", "/dns", "", "POST",
     "/dns/superMasterBackend/127%2e0%2e0%2e2/new%2etest%2e", FORM_HDRS, NS_5X, 0, NS_JSON},
    {"superMasterBackend 4.x (bare auth digits)", "/dns", "", "POST",
     "/dns/superMasterBackend/127%2e0%2e0%2e2/new%2etest%2e", FORM_HDRS, NS_4X, 0, NS_JSON},
    {"createSlaveDomain empty account", "/dns", "", "PUT",
     "/dns/createSlaveDomain/127%2e0%2e0%2e2/new%2etest%2e", FORM_HDRS, "account=", 0,
     "{\"method\": \"createSlaveDomain\", \"parameters\": {\"account\": \"\", \"domain\": "
     "\"new.test.\", \"ip\": \"127.0.0.2\", \"nameserver\": \"\"}}"},
    {"replaceRRSet 5.x", "/dns", "", "PATCH", "/dns/replaceRRSet/5/www%2eexample%2ecom%2e/A",
     FORM_HDRS TRX_HDR, RRSET_5X, 0, RRSET_JSON},
    {"replaceRRSet 4.x (glued TTLs)", "/dns", "", "PATCH",
     "/dns/replaceRRSet/5/www%2eexample%2ecom%2e/A", FORM_HDRS TRX_HDR, RRSET_4X, 0, RRSET_JSON},
    {"replaceRRSet 4.x three records, one-digit TTL in the middle", "/dns", "", "PATCH",
     "/dns/replaceRRSet/5/a%2e/TXT", FORM_HDRS "X-Remotebackend-Trxid: 0\n",
     "0&rrset[0][content]=a&rrset[0][ttl]=36001&rrset[1][content]=b&rrset[1][ttl]=51&rrset[2]["
     "content]=c&rrset[2][ttl]=1",
     0,
     "{\"method\": \"replaceRRSet\", \"parameters\": {\"domain_id\": 5, \"qname\": \"a.\", "
     "\"qtype\": \"TXT\", \"rrset\": [{\"auth\": false, \"content\": \"a\", \"ttl\": 3600}, "
     "{\"auth\": true, \"content\": \"b\", \"ttl\": 5}, {\"auth\": true, \"content\": \"c\", "
     "\"ttl\": 1}], \"trxid\": 0}}"},
    {"replaceRRSet delete (empty body)", "/dns", "", "PATCH",
     "/dns/replaceRRSet/%2d1/www%2eexample%2ecom%2e/A",
     "Content-Length: 0\n" FORM_HDRS "X-Remotebackend-Trxid: -1\n", "", 0,
     "{\"method\": \"replaceRRSet\", \"parameters\": {\"domain_id\": -1, \"qname\": "
     "\"www.example.com.\", \"qtype\": \"A\", \"rrset\": [], \"trxid\": -1}}"},
    {"feedRecord 4.x (bare auth, empty ordername)", "/dns", "", "PATCH",
     "/dns/feedRecord/1795625413", FORM_HDRS FEED_TRX_HDR,
     "1&rr[content]=192%2e0%2e2%2e5&rr[ordername]=&rr[qclass]=1&rr[qname]=a%2eb%2esec%2etest%2e&"
     "rr[qtype]=A&rr[ttl]=300",
     0,
     "{\"method\": \"feedRecord\", \"parameters\": {\"rr\": {\"auth\": true, \"content\": "
     "\"192.0.2.5\", \"ordername\": null, \"qclass\": 1, \"qname\": \"a.b.sec.test.\", "
     "\"qtype\": \"A\", \"ttl\": 300}, \"trxid\": 1795625413}}"},
    {"feedRecord 5.x (NSEC3 ordername)", "/dns", "", "PATCH", "/dns/feedRecord/1795625413",
     FORM_HDRS FEED_TRX_HDR,
     "rr[auth]=0&rr[content]=ns1%2esec%2etest&rr[ordername]=ap5ekm7hjaobkusrk2fnjl67ffds874a%2e&"
     "rr[qclass]=1&rr[qname]=sub%2esec%2etest%2e&rr[qtype]=NS&rr[ttl]=3600",
     0,
     "{\"method\": \"feedRecord\", \"parameters\": {\"rr\": {\"auth\": false, \"content\": "
     "\"ns1.sec.test\", \"ordername\": \"ap5ekm7hjaobkusrk2fnjl67ffds874a.\", \"qclass\": 1, "
     "\"qname\": \"sub.sec.test.\", \"qtype\": \"NS\", \"ttl\": 3600}, \"trxid\": "
     "1795625413}}"},
    {"feedEnts (names lost)", "/dns", "", "PATCH", "/dns/feedEnts/7/1795625413",
     FORM_HDRS FEED_TRX_HDR, "nonterm[]=&nonterm[]=", 0,
     "{\"method\": \"feedEnts\", \"parameters\": {\"domain_id\": 7, \"nonterm\": [], \"trxid\": "
     "1795625413}}"},
    {"feedEnts3 narrow 5.x", "/dns", "", "PATCH", "/dns/feedEnts3/7/sec%2etest%2e/1795625413",
     FORM_HDRS FEED_TRX_HDR, "times=10&salt=&narrow=1", 0,
     "{\"method\": \"feedEnts3\", \"parameters\": {\"domain\": \"sec.test.\", \"domain_id\": 7, "
     "\"narrow\": true, \"nonterm\": [], \"salt\": \"\", \"times\": 10, \"trxid\": "
     "1795625413}}"},
    {"commitTransaction", "/dns", "", "POST", "/dns/commitTransaction/1795625189",
     "Content-Length: 0\n" FORM_HDRS TRX_HDR, "", 0,
     "{\"method\": \"commitTransaction\", \"parameters\": {\"trxid\": 1795625189}}"},
    {"abortTransaction", "/dns", "", "POST", "/dns/abortTransaction/1795625189",
     "Content-Length: 0\n" FORM_HDRS TRX_HDR, "", 0,
     "{\"method\": \"abortTransaction\", \"parameters\": {\"trxid\": 1795625189}}"},
    {"directBackendCmd", "/dns", "", "POST", "/dns/directBackendCmd", FORM_HDRS,
     "query=PING%20a%2bb", 0,
     "{\"method\": \"directBackendCmd\", \"parameters\": {\"query\": \"PING a+b\"}}"},
    {"searchComments (never sent, mapped like searchRecords)", "/dns", "", "GET",
     "/dns/searchComments?maxResults=1&pattern=x", NULL, NULL, 0,
     "{\"method\": \"searchComments\", \"parameters\": {\"maxResults\": 1, \"pattern\": "
     "\"x\"}}"},
    {"getUpdatedMasters", "/dns", "", "GET", "/dns/getUpdatedMasters", NULL, NULL, 0,
     "{\"method\": \"getUpdatedMasters\", \"parameters\": {}}"},
    {"getUnfreshSlaveInfos", "/dns", "", "GET", "/dns/getUnfreshSlaveInfos", NULL, NULL, 0,
     "{\"method\": \"getUnfreshSlaveInfos\", \"parameters\": {}}"},
    {"setStale", "/dns", "", "PATCH", "/dns/setStale/5", "Content-Length: 0\n" FORM_HDRS, "", 0,
     "{\"method\": \"setStale\", \"parameters\": {\"id\": 5}}"},
    {"setFresh", "/dns", "", "PATCH", "/dns/setFresh/5", "Content-Length: 0\n" FORM_HDRS, "", 0,
     "{\"method\": \"setFresh\", \"parameters\": {\"id\": 5}}"},
};

/* Awkward names, header spellings, prefixes and suffixes. */
static const struct hcase awkward[] = {
    {"name with / \\032 _ .", "/dns", "", "GET",
     "/dns/lookup/we%2fird%5c032na%5fme%2eexample%2ecom%2e/A", "X-Remotebackend-Zone-Id: 5\n", NULL,
     0,
     "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"we/ird\\\\032na_me.example.com.\", "
     "\"qtype\": \"A\", \"zone-id\": 5}}"},
    {"wildcard relative name", "/dns", "", "GET", "/dns/getBeforeAndAfterNamesAbsolute/5/%2a%2e",
     NULL, NULL, 0,
     "{\"method\": \"getBeforeAndAfterNamesAbsolute\", \"parameters\": {\"id\": 5, \"qname\": "
     "\"*.\"}}"},
    {"apex relative name", "/dns", "", "GET", "/dns/getBeforeAndAfterNamesAbsolute/%2d1/%2e", NULL,
     NULL, 0,
     "{\"method\": \"getBeforeAndAfterNamesAbsolute\", \"parameters\": {\"id\": -1, \"qname\": "
     "\".\"}}"},
    {"% ? # & = in a name", "/dns", "", "GET", "/dns/getDomainInfo/%25%3f%23%26%3d%2ex%2e", NULL,
     NULL, 0, "{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": \"%?#&=.x.\"}}"},
    {"uppercase hex escapes", "/dns", "", "GET", "/dns/getDomainInfo/A%2Eb%2E", NULL, NULL, 0,
     "{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": \"A.b.\"}}"},
    {"raw '+' stays '+'", "/dns", "", "GET", "/dns/getTSIGKey/a+b%2e", NULL, NULL, 0,
     "{\"method\": \"getTSIGKey\", \"parameters\": {\"name\": \"a+b.\"}}"},
    {"unencoded dots accepted", "/dns", "", "GET", "/dns/getDomainInfo/example.com.", NULL, NULL, 0,
     "{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": \"example.com.\"}}"},
    {"empty segments //", "/dns", "", "GET", "/dns/getDomainMetadata//", NULL, NULL, 0,
     "{\"method\": \"getDomainMetadata\", \"parameters\": {\"kind\": \"\", \"name\": \"\"}}"},
    {"empty middle segment", "/dns", "", "GET", "/dns/lookup//ANY", NULL, NULL, 0,
     "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"\", \"qtype\": \"ANY\"}}"},
    {"control and high bytes", "/dns", "", "GET", "/dns/getDomainInfo/a%00b%0a%e2%80%a8%ff%2e",
     NULL, NULL, 0,
     "{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": "
     "\"a\\u0000b\\n\\u2028\xff.\"}}"},
    {"group member names holding brackets", "/dns", "", "PATCH", "/dns/feedRecord/1", FORM_HDRS,
     "rr[a%5b%5db]=x&rr%5Bqname%5D=a%2e&rr[c]]=y", 0,
     "{\"method\": \"feedRecord\", \"parameters\": {\"rr\": {\"a[]b\": \"x\", \"c]\": \"y\", "
     "\"qname\": \"a.\"}, \"trxid\": 1}}"},
    {"record groups without members keep their index", "/dns", "", "PATCH",
     "/dns/replaceRRSet/1/a%2e/A", FORM_HDRS, "&&rrset[2][ttl]=1", 0,
     "{\"method\": \"replaceRRSet\", \"parameters\": {\"domain_id\": 1, \"qname\": \"a.\", "
     "\"qtype\": \"A\", \"rrset\": [{}, {}, {\"ttl\": 1}]}}"},
    {"salt bytes %ab %00", "/dns", "", "PATCH", "/dns/feedEnts3/7/sec%2etest%2e/1", FORM_HDRS,
     "times=1&salt=%ab%00%AB&narrow=0", 0,
     "{\"method\": \"feedEnts3\", \"parameters\": {\"domain\": \"sec.test.\", \"domain_id\": 7, "
     "\"narrow\": false, \"nonterm\": [], \"salt\": \"\xab\\u0000\xab"
     "\", \"times\": 1, \"trxid\": 1}}"},
    {"header names in other cases, spaces around values", "/dns", "", "GET", "/dns/lookup/a%2e/A",
     "x-remotebackend-zone-id: 7\nX-REMOTEBACKEND-REMOTE: 10.0.0.1\n"
     "X-RemoteBackend-real-remote:  192.0.2.0/24 \nx-RemoteBackend-Local:\t::1\n",
     NULL, 0,
     "{\"method\": \"lookup\", \"parameters\": {\"local\": \"::1\", \"qname\": \"a.\", \"qtype\": "
     "\"A\", \"real-remote\": \"192.0.2.0/24\", \"remote\": \"10.0.0.1\", \"zone-id\": 7}}"},
    {"repeated header: last wins; unrelated X- header ignored", "/dns", "", "GET",
     "/dns/lookup/a%2e/A",
     "X-Remotebackend-Zone-Id: 1\nX-Remotebackend-Zone-Id: 2\nX-Remotebackend-Zone: 9\n"
     "X-Remotebackend-Qname: evil.\n",
     NULL, 0,
     "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"a.\", \"qtype\": \"A\", "
     "\"zone-id\": 2}}"},
    {"trxid: path wins over header", "/dns", "", "POST", "/dns/commitTransaction/5",
     "X-Remotebackend-Trxid: 6\n", "", 0,
     "{\"method\": \"commitTransaction\", \"parameters\": {\"trxid\": 5}}"},
    {"trxid 4.x double text in header", "/dns", "", "PATCH", "/dns/replaceRRSet/1/a%2e/A",
     "X-Remotebackend-Trxid: 1795625189.000000\n", "", 0,
     "{\"method\": \"replaceRRSet\", \"parameters\": {\"domain_id\": 1, \"qname\": \"a.\", "
     "\"qtype\": \"A\", \"rrset\": [], \"trxid\": 1795625189}}"},
    {"suffix .php", "/dns", ".php", "GET", "/dns/lookup/www%2eexample%2ecom%2e/A.php",
     "X-Remotebackend-Zone-Id: 5\n", NULL, 0,
     "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"www.example.com.\", \"qtype\": "
     "\"A\", \"zone-id\": 5}}"},
    {"suffix .php, no segments", "/dns", ".php", "GET", "/dns/getTSIGKeys.php", NULL, NULL, 0,
     "{\"method\": \"getTSIGKeys\", \"parameters\": {}}"},
    {"suffix .php before the query", "/dns", ".php", "GET",
     "/dns/searchRecords.php?maxResults=5&pattern=a%2e", NULL, NULL, 0,
     "{\"method\": \"searchRecords\", \"parameters\": {\"maxResults\": 5, \"pattern\": "
     "\"a.\"}}"},
    {"suffix .php after an empty last segment", "/dns", ".php", "GET",
     "/dns/getDomainMetadata/x%2e/.php", NULL, NULL, 0,
     "{\"method\": \"getDomainMetadata\", \"parameters\": {\"kind\": \"\", \"name\": \"x.\"}}"},
    {"prefix empty", "", "", "GET", "/lookup/a%2e/A", NULL, NULL, 0,
     "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"a.\", \"qtype\": \"A\"}}"},
    {"prefix empty, no segments", "", "", "GET", "/getTSIGKeys", NULL, NULL, 0,
     "{\"method\": \"getTSIGKeys\", \"parameters\": {}}"},
    {"deep prefix", "/a/b/c", ".cgi", "GET", "/a/b/c/getDomainInfo/x%2e.cgi", NULL, NULL, 0,
     "{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": \"x.\"}}"},
    {"url ending in '/' gives //", "/dns/", "", "GET", "/dns//getDomainInfo/x%2e", NULL, NULL, 0,
     "{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": \"x.\"}}"},
    {"form keys with encoded brackets", "/dns", "", "PATCH", "/dns/setDomainMetadata/x%2e/K",
     FORM_HDRS, "value%5B%5D=a&value%5b%5d=b", 0,
     "{\"method\": \"setDomainMetadata\", \"parameters\": {\"kind\": \"K\", \"name\": \"x.\", "
     "\"value\": [\"a\", \"b\"]}}"},
    {"stray '&' and unknown fields kept as strings", "/dns", "", "PATCH",
     "/dns/setTSIGKey/k%2e?extra=q", FORM_HDRS, "&algorithm=a&&content=c&future=1&", 0,
     "{\"method\": \"setTSIGKey\", \"parameters\": {\"algorithm\": \"a\", \"content\": \"c\", "
     "\"extra\": \"q\", \"future\": \"1\", \"name\": \"k.\"}}"},
    {"the verb is not enforced", "/dns", "", "POST", "/dns/getDomainInfo/x%2e", NULL, "", 0,
     "{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": \"x.\"}}"},
    {"includeDisabled as 1/0", "/dns", "", "GET", "/dns/getAllDomains?includeDisabled=1", NULL,
     NULL, 0, "{\"method\": \"getAllDomains\", \"parameters\": {\"include_disabled\": true}}"},
};

/* post and post_json modes, and unknown methods. */
static const struct hcase modes[] = {
    {"post (wire)", "/dns", ".php", "POST", "/dns/getDomainInfo.php", FORM_HDRS,
     "parameters=%7b%22name%22%3a%20%22example%2ecom%2e%22%7d", 0,
     "{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": \"example.com.\"}}"},
    {"post lookup, keys re-sorted", "/dns", "", "POST", "/dns/lookup", FORM_HDRS,
     "parameters=%7b%22zone%2did%22%3a%20%2d1%2c%20%22qtype%22%3a%20%22A%22%2c%20%22qname%22%3a%"
     "20%22a%2e%22%7d",
     0,
     "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"a.\", \"qtype\": \"A\", "
     "\"zone-id\": -1}}"},
    {"post unknown method", "", "", "POST", "/futureMethod", FORM_HDRS,
     "parameters=%7b%22x%22%3a%20%5b1%2c%20true%2c%20null%5d%7d", 0,
     "{\"method\": \"futureMethod\", \"parameters\": {\"x\": [1, true, null]}}"},
    {"post empty parameters", "/dns", "", "POST", "/dns/getTSIGKeys", FORM_HDRS,
     "parameters=%7b%7d", 0, "{\"method\": \"getTSIGKeys\", \"parameters\": {}}"},
    {"post_json (wire form)", "/dns", ".php", "POST", "/dns",
     "Content-Type: text/javascript; charset=utf-8\n",
     "{\"method\": \"lookup\", \"parameters\": {\"local\": \"0.0.0.0\", \"qname\": "
     "\"www.example.com.\", \"qtype\": \"ANY\", \"real-remote\": \"0.0.0.0/0\", \"remote\": "
     "\"0.0.0.0\", \"zone-id\": 5}}",
     0,
     "{\"method\": \"lookup\", \"parameters\": {\"local\": \"0.0.0.0\", \"qname\": "
     "\"www.example.com.\", \"qtype\": \"ANY\", \"real-remote\": \"0.0.0.0/0\", \"remote\": "
     "\"0.0.0.0\", \"zone-id\": 5}}"},
    {"post_json passes bytes through (order, spacing), trims", "", "", "POST", "/", NULL,
     " \r\n{\"parameters\":{\"salt\":\"\xab\"},\"method\":\"feedEnts3\"}\r\n", 0,
     "{\"parameters\":{\"salt\":\"\xab\"},\"method\":\"feedEnts3\"}"},
    {"post_json with a trailing '/'", "/dns", "", "POST", "/dns/", NULL,
     "{\"method\": \"getTSIGKeys\", \"parameters\": {}}", 0,
     "{\"method\": \"getTSIGKeys\", \"parameters\": {}}"},
    {"unknown method: segments, headers typed, fields as strings", "/dns", "", "GET",
     "/dns/futureMethod/5/x%2ey/ANY?b=2&a=1&zone-id=9",
     "X-Remotebackend-Zone-Id: 3\nX-Remotebackend-Trxid: 9\nX-Other: 1\n", NULL, 0,
     "{\"method\": \"futureMethod\", \"parameters\": {\"_segments\": [\"5\", \"x.y\", \"ANY\"], "
     "\"a\": \"1\", \"b\": \"2\", \"trxid\": 9, \"zone-id\": 3}}"},
    {"unknown method with a body and empty segments", "/dns", ".php", "PATCH",
     "/dns/newThing//a%2fb/.php", FORM_HDRS, "k=v%20w&bare&k=last&_segments=x", 0,
     "{\"method\": \"newThing\", \"parameters\": {\"_segments\": [\"\", \"a/b\", \"\"], \"k\": "
     "\"last\"}}"},
    {"unknown method without segments", "/dns", "", "GET", "/dns/newThing", NULL, NULL, 0,
     "{\"method\": \"newThing\", \"parameters\": {}}"},
    {"method segment is case-sensitive", "/dns", "", "GET", "/dns/Lookup/a%2e/A", NULL, NULL, 0,
     "{\"method\": \"Lookup\", \"parameters\": {\"_segments\": [\"a.\", \"A\"]}}"},
    {"lowercase method (docs' examples) is unknown", "/dns", "", "GET",
     "/dns/getdomaininfo/example%2ecom%2e", NULL, NULL, 0,
     "{\"method\": \"getdomaininfo\", \"parameters\": {\"_segments\": [\"example.com.\"]}}"},
    {"POST one segment without parameters= is REST", "/dns", "", "POST", "/dns/directBackendCmd",
     FORM_HDRS, "query=parameters", 0,
     "{\"method\": \"directBackendCmd\", \"parameters\": {\"query\": \"parameters\"}}"},
};

static const struct hcase errors[] = {
    {"wrong prefix", "/dns", "", "GET", "/api/lookup/a/b", NULL, NULL, RBGW_EPROTO,
     "path '/api/lookup/a/b' does not start with '/dns'"},
    {"prefix not followed by '/'", "/dns", "", "GET", "/dnsx/lookup/a/b", NULL, NULL, RBGW_EPROTO,
     "path '/dnsx/lookup/a/b' does not start with '/dns/'"},
    {"GET to the bare prefix", "/dns", "", "GET", "/dns", NULL, NULL, RBGW_EPROTO,
     "path '/dns' does not start with '/dns/'"},
    {"no method", "/dns", "", "GET", "/dns/", NULL, NULL, RBGW_EPROTO, "no method in path '/dns/'"},
    {"no method with empty prefix", "", "", "GET", "/", NULL, NULL, RBGW_EPROTO,
     "no method in path '/'"},
    {"missing url-suffix", "/dns", ".php", "GET", "/dns/lookup/a/b", NULL, NULL, RBGW_EPROTO,
     "path '/dns/lookup/a/b' does not end with url-suffix '.php'"},
    {"bad escape %zz", "/dns", "", "GET", "/dns/lookup/a%zz/A", NULL, NULL, RBGW_EPARSE,
     "bad percent escape '%zz' in path segment 2"},
    {"truncated escape at the end", "/dns", "", "GET", "/dns/lookup/a/A%2", NULL, NULL, RBGW_EPARSE,
     "bad percent escape '%2' in path segment 3"},
    {"lone %", "/dns", "", "GET", "/dns/getDomainInfo/%", NULL, NULL, RBGW_EPARSE,
     "bad percent escape '%' in path segment 2"},
    {"bad escape in the method", "/dns", "", "GET", "/dns/look%up/a/A", NULL, NULL, RBGW_EPARSE,
     "bad percent escape '%up' in path segment 1"},
    {"bad escape in a body value", "/dns", "", "PATCH", "/dns/setDomainMetadata/x/K", FORM_HDRS,
     "value[]=%g0", RBGW_EPARSE, "bad percent escape '%g0' in field 'value[]'"},
    {"bad escape in a query value", "/dns", "", "GET", "/dns/searchRecords?maxResults=1%", NULL,
     NULL, RBGW_EPARSE, "bad percent escape '%' in field 'maxResults'"},
    {"bad escape in a body key", "/dns", "", "PATCH", "/dns/setDomainMetadata/x/K", FORM_HDRS,
     "va%lue[]=1", RBGW_EPARSE, "bad percent escape '%lu' in a body field name"},
    {"bad escape even for unknown methods", "/dns", "", "GET", "/dns/futureMethod/%x", NULL, NULL,
     RBGW_EPARSE, "bad percent escape '%x' in path segment 2"},
    {"too few segments", "/dns", "", "GET", "/dns/lookup/a%2e", NULL, NULL, RBGW_EPROTO,
     "lookup: expected 2 path segments after the method (qname, qtype), got 1"},
    {"too many segments", "/dns", "", "PATCH", "/dns/setNotified/5/6", FORM_HDRS, "serial=1",
     RBGW_EPROTO, "setNotified: expected 1 path segment after the method (id), got 2"},
    {"segments for a method without any", "/dns", "", "GET", "/dns/getTSIGKeys/x", NULL, NULL,
     RBGW_EPROTO, "getTSIGKeys: expected 0 path segments after the method (none), got 1"},
    {"trailing '/' is one more (empty) segment", "/dns", "", "GET", "/dns/getDomainInfo/x%2e/",
     NULL, NULL, RBGW_EPROTO,
     "getDomainInfo: expected 1 path segment after the method (name), got 2"},
    {"feedEnts3 wrong count", "/dns", "", "PATCH", "/dns/feedEnts3/7/1", FORM_HDRS, "", RBGW_EPROTO,
     "feedEnts3: expected 3 path segments after the method (domain_id, domain, trxid), got 2"},
    {"domain id not a number", "/dns", "", "GET", "/dns/list/abc/x%2e", NULL, NULL, RBGW_EPROTO,
     "list: domain_id 'abc' is not an integer"},
    {"empty id", "/dns", "", "GET", "/dns/setStale/", NULL, NULL, RBGW_EPROTO,
     "setStale: id '' is not an integer"},
    {"id with a fraction", "/dns", "", "GET", "/dns/setStale/1%2e5", NULL, NULL, RBGW_EPROTO,
     "setStale: id '1.5' is not an integer"},
    {"id beyond int64", "/dns", "", "GET", "/dns/setStale/9223372036854775808", NULL, NULL,
     RBGW_EPROTO, "setStale: id '9223372036854775808' is not an integer"},
    {"header not a number", "/dns", "", "GET", "/dns/lookup/a/A", "X-Remotebackend-Zone-Id: x\n",
     NULL, RBGW_EPROTO, "header X-RemoteBackend-zone-id 'x' is not an integer"},
    {"bool not 0/1", "/dns", "", "PUT", "/dns/addDomainKey/x", FORM_HDRS,
     "active=2&content=c&flags=257&published=1", RBGW_EPROTO, "active '2' is not a boolean (1/0)"},
    {"ttl not a number", "/dns", "", "PATCH", "/dns/feedRecord/1", FORM_HDRS,
     "rr[auth]=1&rr[ttl]=x", RBGW_EPROTO, "rr[ttl] 'x' is not an integer"},
    {"4.x glued TTL without a digit to take", "/dns", "", "PATCH", "/dns/replaceRRSet/1/a/A",
     FORM_HDRS, "1&rrset[0][ttl]=3&rrset[1][ttl]=300", RBGW_EPROTO,
     "rrset: 4.x body (bare auth digits) but rrset[0][ttl] '3' carries no glued auth digit for "
     "rrset[1]"},
    {"group index beyond the body", "/dns", "", "PATCH", "/dns/replaceRRSet/1/a/A", FORM_HDRS,
     "&&&&rrset[5][ttl]=1", RBGW_EPROTO, "rrset[5]: group index out of range (5 fields)"},
    {"group index beyond a one-field body", "/dns", "", "PATCH", "/dns/replaceRRSet/1/a/A",
     FORM_HDRS, "rrset[5][ttl]=1", RBGW_EPROTO, "rrset[5]: group index out of range (1 fields)"},
    {"post_json body not JSON", "/dns", "", "POST", "/dns", NULL, "method=lookup", RBGW_EPARSE,
     "post_json body: ..."},
    {"post_json empty body", "/dns", "", "POST", "/dns", NULL, "\r\n", RBGW_EPARSE,
     "post_json: empty body (expected the JSON-RPC request)"},
    {"post_json body not an object", "/dns", "", "POST", "/dns", NULL, "[1]", RBGW_EPROTO,
     "post_json body is not a JSON object"},
    {"post_json body without method", "/dns", "", "POST", "/dns", NULL, "{\"parameters\": {}}",
     RBGW_EPROTO, "post_json body has no string \"method\""},
    {"post parameters not JSON", "/dns", "", "POST", "/dns/lookup", FORM_HDRS, "parameters=%7b",
     RBGW_EPARSE, "post body: parameters: ..."},
    {"post parameters not an object", "/dns", "", "POST", "/dns/lookup", FORM_HDRS, "parameters=1",
     RBGW_EPROTO, "post body: parameters is not a JSON object"},
};

/* ---- helpers ------------------------------------------------------------------------------- */

static size_t
split_headers(const char *text, char *store, size_t storelen, struct rbgw_http_header *h,
              size_t max)
{
    size_t n = 0;
    if (text == NULL) {
        return 0;
    }
    cr_assert_lt(strlen(text), storelen);
    strcpy(store, text);
    char *line = store;
    while (*line != '\0' && n < max) {
        char *nl = strchr(line, '\n');
        char *colon = strchr(line, ':');
        cr_assert(nl != NULL && colon != NULL && colon < nl, "bad header line in test: %s", line);
        h[n].name = rbgw_str_make(line, (size_t)(colon - line));
        h[n].value = rbgw_str_make(colon + 1, (size_t)(nl - colon - 1));
        n++;
        line = nl + 1;
    }
    return n;
}

/* Run one case; out receives the JSON or keeps "X" on error. */
static int
run(const struct hcase *c, struct rbgw_arena *a, struct rbgw_buf *out, char *err, size_t errlen)
{
    static char store[2048];
    struct rbgw_http_header h[16];
    size_t nh = split_headers(c->headers, store, sizeof(store), h, RBGW_NELEM(h));
    struct rbgw_http_in in = {rbgw_str_cstr(c->verb), rbgw_str_cstr(c->target), h, nh,
                              rbgw_str_cstr(c->body)};
    struct rbgw_http_in_conf conf = {rbgw_str_cstr(c->prefix), rbgw_str_cstr(c->suffix)};
    rbgw_buf_reset(out);
    rbgw_buf_append_cstr(out, "X");
    return rbgw_xlate_http_to_rpc(&conf, &in, a, out, err, errlen);
}

static void
check_cases(const char *set, const struct hcase *cases, size_t n)
{
    struct rbgw_buf out = RBGW_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        const struct hcase *c = &cases[i];
        struct rbgw_arena a = RBGW_ARENA_INIT;
        char err[256] = "(unset)";
        int rc = run(c, &a, &out, err, sizeof(err));
        cr_expect_eq(rc, c->rc, "%s %zu '%s': rc %d, want %d (err: %s)", set, i, c->name, rc, c->rc,
                     err);
        if (c->rc == 0) {
            if (rc == 0) {
                cr_expect_str_eq(out.data + 1, c->want, "%s %zu '%s'", set, i, c->name);
                cr_expect_str_eq(err, "", "%s %zu: err cleared on success", set, i);
            }
        } else {
            size_t wl = strlen(c->want);
            bool pre = wl >= 3 && strcmp(c->want + wl - 3, "...") == 0;
            if (pre) {
                cr_expect(strncmp(err, c->want, wl - 3) == 0 && strlen(err) > wl - 3,
                          "%s %zu '%s': err '%s', want prefix '%s'", set, i, c->name, err, c->want);
            } else {
                cr_expect_str_eq(err, c->want, "%s %zu '%s'", set, i, c->name);
            }
            cr_expect_str_eq(out.data, "X", "%s %zu '%s': out untouched on error", set, i, c->name);
        }
        rbgw_arena_free(&a);
    }
    rbgw_buf_free(&out);
}

Test(xlate_in, golden_every_method)
{
    check_cases("golden", golden, RBGW_NELEM(golden));
}

Test(xlate_in, awkward_names_headers_prefixes)
{
    check_cases("awkward", awkward, RBGW_NELEM(awkward));
}

Test(xlate_in, post_post_json_unknown_methods)
{
    check_cases("modes", modes, RBGW_NELEM(modes));
}

Test(xlate_in, errors_are_clear)
{
    check_cases("errors", errors, RBGW_NELEM(errors));
}

/* Every method with a REST row has at least one golden case. */
Test(xlate_in, every_method_has_a_golden_case)
{
    size_t rows = 0;
    for (unsigned m = 1; m < RBGW_M__COUNT; m++) {
        const struct rbgw_method_info *row = rbgw_method_info((enum rbgw_method)m);
        if (row->rest.none) {
            continue;
        }
        char needle[64];
        snprintf(needle, sizeof(needle), "{\"method\": \"%s\", ", row->name);
        bool golden_case = false;
        for (size_t k = 0; k < RBGW_NELEM(golden); k++) {
            golden_case |= strncmp(golden[k].want, needle, strlen(needle)) == 0;
        }
        cr_expect(golden_case, "no golden case for '%s'", row->name);
        rows++;
    }
    cr_assert_eq(rows, 37);
}

Test(xlate_in, out_is_appended_not_replaced)
{
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_buf out = RBGW_BUF_INIT;
    rbgw_buf_append_cstr(&out, "prev\n");
    struct rbgw_http_in in = {RBGW_STR("GET"), RBGW_STR("/dns/getTSIGKeys"), NULL, 0,
                              RBGW_STR_NULL};
    struct rbgw_http_in_conf conf = {RBGW_STR("/dns"), RBGW_STR("")};
    cr_assert_eq(rbgw_xlate_http_to_rpc(&conf, &in, &a, &out, NULL, 0), 0);
    cr_expect_str_eq(out.data, "prev\n{\"method\": \"getTSIGKeys\", \"parameters\": {}}");
    rbgw_buf_free(&out);
    rbgw_arena_free(&a);
}

/* ---- round trip through rbgw_xlate_rpc_to_http ------------------------------------------- */

struct rtcase {
    const char *call;  /* JSON-RPC request as pdns sends it (json11 form) */
    const char *want5; /* REST dialect 5 result when lossy, else NULL (= call) */
    const char *want4; /* REST dialect 4 result when lossy, else NULL (= call) */
};

#define LOSSY_BOTH(c, w)                                                                           \
    {                                                                                              \
        c, w, w                                                                                    \
    }

static const struct rtcase roundtrip[] = {
    {"{\"method\": \"lookup\", \"parameters\": {\"local\": \"0.0.0.0\", \"qname\": "
     "\"www.example.com.\", \"qtype\": \"ANY\", \"real-remote\": \"0.0.0.0/0\", \"remote\": "
     "\"0.0.0.0\", \"zone-id\": 5}}",
     NULL, NULL},
    {"{\"method\": \"lookup\", \"parameters\": {\"local\": \"::1\", \"qname\": "
     "\"we/ird\\\\032na_me.example.com.\", \"qtype\": \"TYPE65534\", \"real-remote\": "
     "\"2001:db8::/56\", \"remote\": \"fe80::1%eth0\", \"zone-id\": -1}}",
     NULL, NULL},
    {"{\"method\": \"APILookup\", \"parameters\": {\"include-disabled\": true, \"local\": "
     "\"0.0.0.0\", \"qname\": \"x.\", \"qtype\": \"ANY\", \"real-remote\": \"0.0.0.0/0\", "
     "\"remote\": \"0.0.0.0\", \"zone-id\": 3}}",
     NULL, NULL},
    {"{\"method\": \"list\", \"parameters\": {\"domain_id\": -1, \"include_disabled\": false, "
     "\"zonename\": \"%?#&=+ .example.\"}}",
     NULL, NULL},
    {"{\"method\": \"getBeforeAndAfterNamesAbsolute\", \"parameters\": {\"id\": 5, \"qname\": "
     "\"*.\"}}",
     NULL, NULL},
    {"{\"method\": \"getAllDomainMetadata\", \"parameters\": {\"name\": \"example.com.\"}}", NULL,
     NULL},
    {"{\"method\": \"getDomainMetadata\", \"parameters\": {\"kind\": \"\", \"name\": \"\"}}", NULL,
     NULL},
    {"{\"method\": \"setDomainMetadata\", \"parameters\": {\"kind\": \"X-FOO\", \"name\": "
     "\"example.com.\", \"value\": [\"v 1\", \"a&b=c/d\", \"\", \"+%\"]}}",
     NULL, NULL},
    {"{\"method\": \"setDomainMetadata\", \"parameters\": {\"kind\": \"X-FOO\", \"name\": "
     "\"example.com.\", \"value\": []}}",
     NULL, NULL},
    {"{\"method\": \"getDomainKeys\", \"parameters\": {\"name\": \"example.com.\"}}", NULL, NULL},
    {"{\"method\": \"addDomainKey\", \"parameters\": {\"key\": {\"active\": true, \"content\": "
     "\"" KEY_CONTENT_JSON "\", \"flags\": 257, \"published\": false}, \"name\": "
     "\"example.com.\"}}",
     NULL, NULL},
    {"{\"method\": \"removeDomainKey\", \"parameters\": {\"id\": 7, \"name\": \"example.com.\"}}",
     NULL, NULL},
    {"{\"method\": \"activateDomainKey\", \"parameters\": {\"id\": 7, \"name\": \"e.\"}}", NULL,
     NULL},
    {"{\"method\": \"deactivateDomainKey\", \"parameters\": {\"id\": 7, \"name\": \"e.\"}}", NULL,
     NULL},
    {"{\"method\": \"publishDomainKey\", \"parameters\": {\"id\": 7, \"name\": \"e.\"}}", NULL,
     NULL},
    {"{\"method\": \"unpublishDomainKey\", \"parameters\": {\"id\": 7, \"name\": \"e.\"}}", NULL,
     NULL},
    {"{\"method\": \"getTSIGKey\", \"parameters\": {\"name\": \"k1.\"}}", NULL, NULL},
    {"{\"method\": \"setTSIGKey\", \"parameters\": {\"algorithm\": \"hmac-sha256.\", "
     "\"content\": \"a2V5+/=\", \"name\": \"k1.\"}}",
     NULL, NULL},
    {"{\"method\": \"deleteTSIGKey\", \"parameters\": {\"name\": \"k1.\"}}", NULL, NULL},
    {"{\"method\": \"getTSIGKeys\", \"parameters\": {}}", NULL, NULL},
    {"{\"method\": \"getDomainInfo\", \"parameters\": {\"name\": \"example.com.\"}}", NULL, NULL},
    {"{\"method\": \"setNotified\", \"parameters\": {\"id\": 5, \"serial\": 2002010100}}", NULL,
     NULL},
    {"{\"method\": \"superMasterBackend\", \"parameters\": {\"domain\": \"new.test.\", \"ip\": "
     "\"127.0.0.2\", \"nsset\": [{\"auth\": true, \"content\": \"ns1.new.test\", \"qclass\": 1, "
     "\"qname\": \"new.test.\", \"qtype\": \"NS\", \"ttl\": 300}, {\"auth\": false, \"content\": "
     "\"127.0.0.2\", \"qclass\": 1, \"qname\": \"ns1.new.test.\", \"qtype\": \"A\", \"ttl\": "
     "0}]}}",
     NULL, NULL},
    {"{\"method\": \"createSlaveDomain\", \"parameters\": {\"account\": \"acct\", \"domain\": "
     "\"new.test.\", \"ip\": \"127.0.0.2\", \"nameserver\": \"\"}}",
     NULL, NULL},
    {"{\"method\": \"replaceRRSet\", \"parameters\": {\"domain_id\": 5, \"qname\": \"a.\", "
     "\"qtype\": \"TXT\", \"rrset\": [{\"auth\": true, \"content\": \"\\\"x y\\\"\", \"qclass\": "
     "1, \"qname\": \"a.\", \"qtype\": \"TXT\", \"ttl\": 5}, {\"auth\": false, \"content\": "
     "\"\\\"z\\\"\", \"qclass\": 1, \"qname\": \"a.\", \"qtype\": \"TXT\", \"ttl\": 3600}, "
     "{\"auth\": true, \"content\": \"\\\"w\\\"\", \"qclass\": 1, \"qname\": \"a.\", \"qtype\": "
     "\"TXT\", \"ttl\": 0}], \"trxid\": 1795625189}}",
     NULL, NULL},
    {"{\"method\": \"replaceRRSet\", \"parameters\": {\"domain_id\": -1, \"qname\": \"a.\", "
     "\"qtype\": \"A\", \"rrset\": [], \"trxid\": -1}}",
     NULL, NULL},
    {"{\"method\": \"feedRecord\", \"parameters\": {\"rr\": {\"auth\": true, \"content\": "
     "\"192.0.2.5\", \"ordername\": null, \"qclass\": 1, \"qname\": \"a.b.sec.test.\", "
     "\"qtype\": \"A\", \"ttl\": 300}, \"trxid\": 1795625413}}",
     NULL, NULL},
    {"{\"method\": \"feedRecord\", \"parameters\": {\"rr\": {\"auth\": false, \"content\": "
     "\"ns1.sec.test\", \"ordername\": \"sub.\", \"qclass\": 1, \"qname\": \"sub.sec.test.\", "
     "\"qtype\": \"NS\", \"ttl\": 3600}, \"trxid\": 0}}",
     NULL, NULL},
    {"{\"method\": \"feedEnts\", \"parameters\": {\"domain_id\": 7, \"nonterm\": [], \"trxid\": "
     "1795625413}}",
     NULL, NULL},
    {"{\"method\": \"feedEnts3\", \"parameters\": {\"domain\": \"sec.test.\", \"domain_id\": 7, "
     "\"narrow\": true, \"nonterm\": [], \"salt\": \"\xab\\u0000\\n\", \"times\": 1, \"trxid\": "
     "1795625413}}",
     NULL, NULL},
    {"{\"method\": \"startTransaction\", \"parameters\": {\"domain\": \"example.com.\", "
     "\"domain_id\": -1, \"trxid\": 1795625189}}",
     NULL, NULL},
    {"{\"method\": \"commitTransaction\", \"parameters\": {\"trxid\": 1795625189}}", NULL, NULL},
    {"{\"method\": \"abortTransaction\", \"parameters\": {\"trxid\": -1}}", NULL, NULL},
    {"{\"method\": \"directBackendCmd\", \"parameters\": {\"query\": \"PING a+b=c&d\"}}", NULL,
     NULL},
    {"{\"method\": \"searchRecords\", \"parameters\": {\"maxResults\": 10, \"pattern\": \"ns1* "
     "x\"}}",
     NULL, NULL},
    {"{\"method\": \"getAllDomains\", \"parameters\": {\"include_disabled\": true}}", NULL, NULL},
    {"{\"method\": \"getAllDomains\", \"parameters\": {\"include_disabled\": false}}", NULL, NULL},
    {"{\"method\": \"getUpdatedMasters\", \"parameters\": {}}", NULL, NULL},
    {"{\"method\": \"getUnfreshSlaveInfos\", \"parameters\": {}}", NULL, NULL},
    {"{\"method\": \"setStale\", \"parameters\": {\"id\": 5}}", NULL, NULL},
    {"{\"method\": \"setFresh\", \"parameters\": {\"id\": 5}}", NULL, NULL},

    /* Lossy in REST (documented in docs/rest-ingress.md). */
    LOSSY_BOTH("{\"method\": \"list\", \"parameters\": {\"domain_id\": 5, \"include_disabled\": "
               "true, \"zonename\": \"e.\"}}",
               "{\"method\": \"list\", \"parameters\": {\"domain_id\": 5, \"include_disabled\": "
               "false, \"zonename\": \"e.\"}}"),
    LOSSY_BOTH("{\"method\": \"APILookup\", \"parameters\": {\"include-disabled\": false, "
               "\"local\": \"0.0.0.0\", \"qname\": \"x.\", \"qtype\": \"ANY\", \"real-remote\": "
               "\"0.0.0.0/0\", \"remote\": \"0.0.0.0\", \"zone-id\": 3}}",
               "{\"method\": \"APILookup\", \"parameters\": {\"include-disabled\": true, "
               "\"local\": \"0.0.0.0\", \"qname\": \"x.\", \"qtype\": \"ANY\", \"real-remote\": "
               "\"0.0.0.0/0\", \"remote\": \"0.0.0.0\", \"zone-id\": 3}}"),
    LOSSY_BOTH("{\"method\": \"createSlaveDomain\", \"parameters\": {\"account\": \"\", "
               "\"domain\": \"new.test.\", \"ip\": \"127.0.0.2\", \"nameserver\": \"ns1.x.\"}}",
               "{\"method\": \"createSlaveDomain\", \"parameters\": {\"account\": \"\", "
               "\"domain\": \"new.test.\", \"ip\": \"127.0.0.2\", \"nameserver\": \"\"}}"),
    LOSSY_BOTH("{\"method\": \"feedEnts\", \"parameters\": {\"domain_id\": 7, \"nonterm\": "
               "[{\"auth\": true, \"nonterm\": \"b.sec.test.\"}, {\"auth\": false, \"nonterm\": "
               "\"c.sec.test.\"}], \"trxid\": 1}}",
               "{\"method\": \"feedEnts\", \"parameters\": {\"domain_id\": 7, \"nonterm\": [], "
               "\"trxid\": 1}}"),
    /* 5.x prints the serial through an int32 cast; 4.x's "%f" keeps it. */
    {"{\"method\": \"setNotified\", \"parameters\": {\"id\": 5, \"serial\": 3000000000}}",
     "{\"method\": \"setNotified\", \"parameters\": {\"id\": 5, \"serial\": -2147483648}}", NULL},
    /* Unknown methods: components are unnamed, only whitelisted headers keep their names. */
    LOSSY_BOTH("{\"method\": \"futureMethod\", \"parameters\": {\"extra\": \"lost\", \"name\": "
               "\"x.\", \"qtype\": \"A\", \"trxid\": 4, \"zone-id\": 1}}",
               "{\"method\": \"futureMethod\", \"parameters\": {\"_segments\": [\"x.\", \"A\"], "
               "\"trxid\": 4, \"zone-id\": 1}}"),
};

/* Minimal HTTP/1.1 split of what xlate.c wrote: request line, headers, body.  Checks run as
 * plain ifs: this runs for every round trip, and Criterion records each passing assertion. */
static void
split_http(struct rbgw_str req, struct rbgw_http_in *in, struct rbgw_http_header *h, size_t max)
{
    const char *p = req.p, *end = req.p + req.len;
    const char *eol = strstr(p, "\r\n");
    const char *sp1 = eol ? memchr(p, ' ', (size_t)(eol - p)) : NULL;
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (sp2 == NULL || strncmp(sp2, " HTTP/1.1\r\n", 11) != 0) {
        cr_assert_fail("bad request line: %s", req.p);
    }
    in->verb = rbgw_str_make(p, (size_t)(sp1 - p));
    in->target = rbgw_str_make(sp1 + 1, (size_t)(sp2 - sp1 - 1));
    in->nheaders = 0;
    long clen = -1;
    p = eol + 2;
    while (!(p[0] == '\r' && p[1] == '\n')) {
        eol = strstr(p, "\r\n");
        const char *colon = eol && in->nheaders < max ? memchr(p, ':', (size_t)(eol - p)) : NULL;
        if (colon == NULL) {
            cr_assert_fail("bad header line in: %s", req.p);
        }
        h[in->nheaders].name = rbgw_str_make(p, (size_t)(colon - p));
        h[in->nheaders].value = rbgw_str_make(colon + 1, (size_t)(eol - colon - 1));
        if (rbgw_str_caseeq(h[in->nheaders].name, RBGW_STR("Content-Length"))) {
            clen = strtol(colon + 1, NULL, 10);
        }
        in->nheaders++;
        p = eol + 2;
    }
    p += 2;
    in->headers = h;
    in->body = rbgw_str_make(p, (size_t)(end - p));
    if (clen >= 0 && (size_t)clen != in->body.len) {
        cr_assert_fail("Content-Length %ld, body %zu bytes", clen, in->body.len);
    }
}

static void
round_trip(const char *call, enum rbgw_http_mode mode, int dialect, const char *suffix,
           const char *want)
{
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_buf req = RBGW_BUF_INIT, out = RBGW_BUF_INIT;
    char err[256] = "";
    struct rbgw_json *root;
    if (rbgw_json_parse(&a, call, strlen(call), &root, err, sizeof(err)) != 0) {
        cr_assert_fail("%s: %s", call, err);
    }
    const struct rbgw_json *m = rbgw_json_get(root, "method");
    const struct rbgw_json *params = rbgw_json_get(root, "parameters");
    if (m == NULL || params == NULL) {
        cr_assert_fail("%s: no method or parameters", call);
    }

    struct rbgw_http_target t = {.mode = mode,
                                 .dialect = dialect,
                                 .host = RBGW_STR("127.0.0.1"),
                                 .path = RBGW_STR("/dns"),
                                 .suffix = rbgw_str_cstr(suffix)};
    if (rbgw_xlate_rpc_to_http(&t, m->str, params, rbgw_str_cstr(call), &req, err, sizeof(err)) !=
        0) {
        cr_assert_fail("encode %s: %s", call, err);
    }

    struct rbgw_http_header h[16];
    struct rbgw_http_in in;
    split_http(rbgw_buf_str(&req), &in, h, RBGW_NELEM(h));
    struct rbgw_http_in_conf conf = {RBGW_STR("/dns"), rbgw_str_cstr(suffix)};
    int rc = rbgw_xlate_http_to_rpc(&conf, &in, &a, &out, err, sizeof(err));
    if (rc != 0) {
        cr_expect_fail("mode %d dialect %d suffix '%s': decode failed: %s\nrequest:\n%s", mode,
                       dialect, suffix, err, req.data);
    } else if (strcmp(out.data, want) != 0) {
        cr_expect_fail("mode %d dialect %d suffix '%s'\n got  %s\n want %s\nrequest:\n%s", mode,
                       dialect, suffix, out.data, want, req.data);
    }
    rbgw_buf_free(&req);
    rbgw_buf_free(&out);
    rbgw_arena_free(&a);
}

Test(xlate_in, round_trip_rest_dialects_5_and_4)
{
    for (size_t i = 0; i < RBGW_NELEM(roundtrip); i++) {
        const struct rtcase *c = &roundtrip[i];
        round_trip(c->call, RBGW_HTTP_REST, 5, "", c->want5 ? c->want5 : c->call);
        round_trip(c->call, RBGW_HTTP_REST, 5, ".php", c->want5 ? c->want5 : c->call);
        round_trip(c->call, RBGW_HTTP_REST, 4, "", c->want4 ? c->want4 : c->call);
    }
}

/* post and post_json carry JSON, so every call survives them, lossy-in-REST ones included. */
Test(xlate_in, round_trip_post_and_post_json)
{
    for (size_t i = 0; i < RBGW_NELEM(roundtrip); i++) {
        round_trip(roundtrip[i].call, RBGW_HTTP_POST, 5, ".php", roundtrip[i].call);
        round_trip(roundtrip[i].call, RBGW_HTTP_POST_JSON, 5, ".php", roundtrip[i].call);
    }
}

/* Deterministic random requests built from the interesting bytes: every call either fails with
 * EPARSE/EPROTO (and leaves out alone) or yields a JSON object with a string "method" and an
 * object "parameters" (post_json: at least the method). */
Test(xlate_in, random_requests_are_rejected_or_valid_json)
{
    static const char *const pieces[] = {
        "/",
        "//",
        "%2e",
        "%2d1",
        "%",
        "%z",
        "%ab",
        "?",
        "&",
        "=",
        "1",
        "0",
        "300",
        "1&",
        "0&",
        "[0]",
        "[1]",
        "[auth]",
        "[ttl]",
        "rrset",
        "nsset",
        "rr",
        "value[]",
        "nonterm[]",
        "serial",
        "x%2ey",
        ".php",
        "lookup",
        "replaceRRSet",
        "superMasterBackend",
        "feedRecord",
        "setNotified",
        "feedEnts3",
        "addDomainKey",
        "parameters",
        "%7b%7d",
        "{}",
        "{\"method\": \"m\"}",
        "futureMethod",
        "list",
        "getAllDomains",
        "includeDisabled",
        "+",
        "\xab",
    };
    static const char *const verbs[] = {"GET", "POST", "PATCH", "PUT", "DELETE"};
    uint64_t seed = 0x9e3779b97f4a7c15u;
    size_t ok = 0, failed = 0;
    for (int iter = 0; iter < 20000; iter++) {
        char target[256] = "/dns/", body[256] = "";
        for (int part = 0; part < 2; part++) {
            char *dst = part ? body : target;
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            int n = (int)(seed >> 60);
            for (int k = 0; k < n; k++) {
                seed = seed * 6364136223846793005u + 1442695040888963407u;
                const char *p = pieces[(seed >> 33) % RBGW_NELEM(pieces)];
                if (strlen(dst) + strlen(p) < 255) {
                    strcat(dst, p);
                }
            }
        }
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        struct rbgw_http_header h = {RBGW_STR("x-remotebackend-trxid"),
                                     (seed >> 40) & 1 ? RBGW_STR("7") : RBGW_STR("7.5x")};
        struct rbgw_http_in in = {rbgw_str_cstr(verbs[(seed >> 41) % RBGW_NELEM(verbs)]),
                                  rbgw_str_cstr(target), &h, 1, rbgw_str_cstr(body)};
        struct rbgw_http_in_conf conf = {RBGW_STR("/dns"),
                                         (seed >> 50) & 1 ? RBGW_STR(".php") : RBGW_STR("")};
        struct rbgw_arena a = RBGW_ARENA_INIT;
        struct rbgw_buf out = RBGW_BUF_INIT;
        char err[256];
        int rc = rbgw_xlate_http_to_rpc(&conf, &in, &a, &out, err, sizeof(err));
        /* Plain ifs on the passing path: 20000 iterations of cr_assert are slow to record. */
        if (rc == 0) {
            struct rbgw_json *root;
            char perr[200];
            if (rbgw_json_parse(&a, out.data, out.len, &root, perr, sizeof(perr)) != 0) {
                cr_assert_fail("%s %s body '%s' -> '%s': %s", in.verb.p, target, body, out.data,
                               perr);
            }
            const struct rbgw_json *m = rbgw_json_get(root, "method");
            const struct rbgw_json *p = rbgw_json_get(root, "parameters");
            if (root->type != RBGW_JSON_OBJECT || m == NULL || m->type != RBGW_JSON_STRING) {
                cr_assert_fail("no string method: %s -> %s", target, out.data);
            }
            if (!(p == NULL || p->type == RBGW_JSON_OBJECT || rbgw_str_eq_cstr(in.verb, "POST"))) {
                cr_assert_fail("parameters not an object: %s -> %s", target, out.data);
            }
            ok++;
        } else {
            if (rc != RBGW_EPARSE && rc != RBGW_EPROTO) {
                cr_assert_fail("%s: rc %d", target, rc);
            }
            if (err[0] == '\0' || out.len != 0) {
                cr_assert_fail("%s: error text not set or out touched", target);
            }
            failed++;
        }
        rbgw_buf_free(&out);
        rbgw_arena_free(&a);
    }
    cr_expect(ok > 1000 && failed > 1000, "both outcomes exercised: %zu ok, %zu failed", ok,
              failed);
}

/*
 * test_xlate.c: golden tests for the JSON-RPC -> HTTP translation (src/xlate.c and the REST
 * column of the method table, method.h).
 *
 * Each golden case is one call (method, parameters as JSON text) and the complete request bytes
 * pdns's HTTP connector writes for it (docs/protocol.md §4.4-§5.5).  The wire captures of §5.5 are
 * used verbatim where they exist.  To keep the JSON readable, parameter texts use ' for " (no
 * case needs a literal apostrophe).  Content-Length values were counted from the expected
 * bodies, never from the code under test.  Whole requests are compared with cr_assert_str_eq so
 * a failure prints both texts.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "rbgw/buf.h"
#include "rbgw/json.h"
#include "rbgw/method.h"
#include "rbgw/xlate.h"

#define AC "Accept: application/json\r\nConnection: Keep-Alive\r\n"
#define HU "Host: 127.0.0.1\r\nUser-Agent: YaHTTP v1.0\r\n"
/* Headers of a request without a body (GET, DELETE). */
#define HEAD AC HU
/* Headers of a form request; n is the Content-Length as a string literal. */
#define HEAD_FORM(n)                                                                               \
    AC "Content-Length: " n "\r\n"                                                                 \
       "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n" HU
#define HEAD_JSON(n)                                                                               \
    AC "Content-Length: " n "\r\nContent-Type: text/javascript; charset=utf-8\r\n" HU

#define X_LOOKUP_ZERO                                                                              \
    "X-Remotebackend-Local: 0.0.0.0\r\nX-Remotebackend-Real-Remote: 0.0.0.0/0\r\n"                 \
    "X-Remotebackend-Remote: 0.0.0.0\r\n"

#define REST RBGW_HTTP_REST
#define POST RBGW_HTTP_POST
#define PJSON RBGW_HTTP_POST_JSON

struct golden {
    const char *name;         /* case label for failure messages */
    enum rbgw_http_mode mode; /* REST unless set */
    int dialect;              /* 0 means the default, 5 */
    const char *path;         /* url path; NULL means "/dns" */
    const char *suffix;       /* url-suffix; NULL means "" */
    const char *host;         /* NULL means 127.0.0.1 */
    const char *method;       /* wire method name */
    const char *params;       /* parameters, JSON with ' for " */
    const char *raw;          /* post_json: the request text (' for "); NULL means "" */
    const char *expect;       /* the complete request */
};

/* The record used by the replaceRRSet cases, index i and address a. */
#define RRSET_A(a)                                                                                 \
    "{'auth': true, 'content': '" a "', 'qclass': 1, 'qname': 'www.sec.test.', 'qtype': 'A', "     \
    "'ttl': 300}"

#define NSSET                                                                                      \
    "[{'auth': true, 'content': 'ns1.new.test', 'qclass': 1, 'qname': 'new.test.', 'qtype': "      \
    "'NS', 'ttl': 300}, {'auth': true, 'content': '127.0.0.2', 'qclass': 1, 'qname': "             \
    "'ns1.new.test.', 'qtype': 'A', 'ttl': 300}]"

#define ENTS "[{'auth': true, 'nonterm': 'b.sec.test.'}, {'auth': false, 'nonterm': 'c.sec.test.'}]"

#define KEY_CONTENT "Private-key-format: v1.2\\nAlgorithm: 13 (ECDSAP256SHA256)\\n"
#define KEY_CONTENT_ENC                                                                            \
    "Private%2dkey%2dformat%3a%20v1%2e2%0aAlgorithm%3a%2013%20%28ECDSAP256SHA256%29%0a"

#define FEEDRECORD_PARAMS                                                                          \
    "{'rr': {'auth': true, 'content': '192.0.2.5', 'ordername': null, 'qclass': 1, 'qname': "      \
    "'a.b.sec.test.', 'qtype': 'A', 'ttl': 300}, 'trxid': 1795625413}"
#define FEEDRECORD_TAIL                                                                            \
    "rr[content]=192%2e0%2e2%2e5&rr[ordername]=&rr[qclass]=1&rr[qname]=a%2eb%2esec%2etest%2e&"     \
    "rr[qtype]=A&rr[ttl]=300"

#define FEEDRECORD3_PARAMS                                                                         \
    "{'rr': {'auth': false, 'content': 'ns1.other.test.', 'ordername': "                           \
    "'ap5ekm7hjaobkusrk2fnjl67ffds874a.', 'qclass': 1, 'qname': 'sub.sec.test.', 'qtype': 'NS', "  \
    "'ttl': 3600}, 'trxid': 0}"
#define FEEDRECORD3_TAIL                                                                           \
    "rr[content]=ns1%2eother%2etest%2e&rr[ordername]=ap5ekm7hjaobkusrk2fnjl67ffds874a%2e&"         \
    "rr[qclass]=1&rr[qname]=sub%2esec%2etest%2e&rr[qtype]=NS&rr[ttl]=3600"

static struct golden goldens[] = {
    /* ---- REST, one case per method (§5.3), wire captures (§5.5) where they exist ---- */
    {.name = "lookup (wire)",
     .method = "lookup",
     .params = "{'local': '127.0.0.1', 'qname': 'ns1.example.com.', 'qtype': 'ANY', "
               "'real-remote': '127.0.0.1/32', 'remote': '127.0.0.1', 'zone-id': 5}",
     .expect = "GET /dns/lookup/ns1%2eexample%2ecom%2e/ANY HTTP/1.1\r\n" HEAD
               "X-Remotebackend-Local: 127.0.0.1\r\n"
               "X-Remotebackend-Real-Remote: 127.0.0.1/32\r\n"
               "X-Remotebackend-Remote: 127.0.0.1\r\n"
               "X-Remotebackend-Zone-Id: 5\r\n"
               "\r\n"},
    {.name = "lookup weird name, zone-id -1",
     .method = "lookup",
     .params = "{'local': '0.0.0.0', 'qname': 'we/ird\\\\032na_me.example.com.', 'qtype': 'A', "
               "'real-remote': '0.0.0.0/0', 'remote': '0.0.0.0', 'zone-id': -1}",
     .expect = "GET /dns/lookup/we%2fird%5c032na%5fme%2eexample%2ecom%2e/A HTTP/1.1\r\n" HEAD
         X_LOOKUP_ZERO "X-Remotebackend-Zone-Id: -1\r\n"
               "\r\n"},
    {.name = "lookup wildcard, IPv6 headers",
     .method = "lookup",
     .params = "{'local': '::1', 'qname': '*.example.com.', 'qtype': 'TYPE65534', "
               "'real-remote': '2001:db8::/56', 'remote': '2001:db8::1', 'zone-id': 7}",
     .expect = "GET /dns/lookup/%2a%2eexample%2ecom%2e/TYPE65534 HTTP/1.1\r\n" HEAD
               "X-Remotebackend-Local: ::1\r\n"
               "X-Remotebackend-Real-Remote: 2001:db8::/56\r\n"
               "X-Remotebackend-Remote: 2001:db8::1\r\n"
               "X-Remotebackend-Zone-Id: 7\r\n"
               "\r\n"},
    {.name = "APILookup",
     .method = "APILookup",
     .params = "{'include-disabled': true, 'local': '0.0.0.0', 'qname': 'example.com.', "
               "'qtype': 'ANY', 'real-remote': '0.0.0.0/0', 'remote': '0.0.0.0', 'zone-id': 5}",
     .expect = "GET /dns/APILookup/example%2ecom%2e/ANY HTTP/1.1\r\n" HEAD X_LOOKUP_ZERO
               "X-Remotebackend-Zone-Id: 5\r\n"
               "\r\n"},
    {.name = "list (wire)",
     .method = "list",
     .params = "{'domain_id': 5, 'include_disabled': false, 'zonename': 'example.com.'}",
     .expect = "GET /dns/list/5/example%2ecom%2e HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "list domain_id -1",
     .method = "list",
     .params = "{'domain_id': -1, 'include_disabled': true, 'zonename': 'example.com.'}",
     .expect = "GET /dns/list/%2d1/example%2ecom%2e HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "getBeforeAndAfterNamesAbsolute (wire)",
     .method = "getBeforeAndAfterNamesAbsolute",
     .params = "{'id': 5, 'qname': 'nonexist.'}",
     .expect = "GET /dns/getBeforeAndAfterNamesAbsolute/5/nonexist%2e HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "getBeforeAndAfterNamesAbsolute apex",
     .method = "getBeforeAndAfterNamesAbsolute",
     .params = "{'id': 5, 'qname': '.'}",
     .expect = "GET /dns/getBeforeAndAfterNamesAbsolute/5/%2e HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "getBeforeAndAfterNamesAbsolute wildcard",
     .method = "getBeforeAndAfterNamesAbsolute",
     .params = "{'id': 5, 'qname': '*.'}",
     .expect = "GET /dns/getBeforeAndAfterNamesAbsolute/5/%2a%2e HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "getAllDomainMetadata",
     .method = "getAllDomainMetadata",
     .params = "{'name': 'example.com.'}",
     .expect = "GET /dns/getAllDomainMetadata/example%2ecom%2e HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "getDomainMetadata",
     .method = "getDomainMetadata",
     .params = "{'kind': 'X-FOO', 'name': 'example.com.'}",
     .expect = "GET /dns/getDomainMetadata/example%2ecom%2e/X%2dFOO HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "setDomainMetadata (wire)",
     .method = "setDomainMetadata",
     .params = "{'kind': 'X-FOO', 'name': 'example.com.', 'value': ['v 1', 'a&b=c/d']}",
     .expect = "PATCH /dns/setDomainMetadata/example%2ecom%2e/X%2dFOO HTTP/1.1\r\n" HEAD_FORM(
         "35") "\r\n"
               "value[]=v%201&value[]=a%26b%3dc%2fd"},
    {.name = "setDomainMetadata dialect 4",
     .dialect = 4,
     .method = "setDomainMetadata",
     .params = "{'kind': 'X-FOO', 'name': 'example.com.', 'value': ['v 1', 'a&b=c/d']}",
     .expect = "PATCH /dns/setDomainMetadata/example%2ecom%2e/X%2dFOO HTTP/1.1\r\n" HEAD_FORM(
         "35") "\r\n"
               "value[]=v%201&value[]=a%26b%3dc%2fd"},
    {.name = "setDomainMetadata delete (no values)",
     .method = "setDomainMetadata",
     .params = "{'kind': 'SOA-EDIT', 'name': 'example.com.', 'value': []}",
     .expect = "PATCH /dns/setDomainMetadata/example%2ecom%2e/SOA%2dEDIT HTTP/1.1\r\n" HEAD_FORM(
         "0") "\r\n"},
    {.name = "setDomainMetadata non-string value",
     .method = "setDomainMetadata",
     .params = "{'kind': 'K', 'name': 'e.', 'value': ['', 1, 'x']}",
     .expect = "PATCH /dns/setDomainMetadata/e%2e/K HTTP/1.1\r\n" HEAD_FORM(
         "27") "\r\n"
               "value[]=&value[]=&value[]=x"},
    {.name = "getDomainKeys",
     .method = "getDomainKeys",
     .params = "{'name': 'example.com.'}",
     .expect = "GET /dns/getDomainKeys/example%2ecom%2e HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "addDomainKey (wire)",
     .method = "addDomainKey",
     .params = "{'key': {'active': true, 'content': '" KEY_CONTENT "', 'flags': 257, "
               "'published': true}, 'name': 'example.com.'}",
     .expect = "PUT /dns/addDomainKey/example%2ecom%2e HTTP/1.1\r\n" HEAD_FORM(
         "120") "\r\n"
                "active=1&content=" KEY_CONTENT_ENC "&flags=257&published=1"},
    {.name = "addDomainKey dialect 4, inactive",
     .dialect = 4,
     .method = "addDomainKey",
     .params = "{'key': {'active': false, 'content': '" KEY_CONTENT "', 'flags': 256, "
               "'published': false}, 'name': 'example.com.'}",
     .expect = "PUT /dns/addDomainKey/example%2ecom%2e HTTP/1.1\r\n" HEAD_FORM(
         "120") "\r\n"
                "active=0&content=" KEY_CONTENT_ENC "&flags=256&published=0"},
    {.name = "removeDomainKey (wire)",
     .method = "removeDomainKey",
     .params = "{'id': 7, 'name': 'example.com.'}",
     .expect = "DELETE /dns/removeDomainKey/7/example%2ecom%2e HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "activateDomainKey (wire)",
     .method = "activateDomainKey",
     .params = "{'id': 7, 'name': 'example.com.'}",
     .expect = "POST /dns/activateDomainKey/7/example%2ecom%2e HTTP/1.1\r\n" HEAD_FORM("0") "\r\n"},
    {.name = "deactivateDomainKey",
     .method = "deactivateDomainKey",
     .params = "{'id': 7, 'name': 'example.com.'}",
     .expect =
         "POST /dns/deactivateDomainKey/7/example%2ecom%2e HTTP/1.1\r\n" HEAD_FORM("0") "\r\n"},
    {.name = "publishDomainKey",
     .method = "publishDomainKey",
     .params = "{'id': 7, 'name': 'example.com.'}",
     .expect = "POST /dns/publishDomainKey/7/example%2ecom%2e HTTP/1.1\r\n" HEAD_FORM("0") "\r\n"},
    {.name = "unpublishDomainKey",
     .method = "unpublishDomainKey",
     .params = "{'id': 7, 'name': 'example.com.'}",
     .expect =
         "POST /dns/unpublishDomainKey/7/example%2ecom%2e HTTP/1.1\r\n" HEAD_FORM("0") "\r\n"},
    {.name = "getTSIGKey",
     .method = "getTSIGKey",
     .params = "{'name': 'k1.'}",
     .expect = "GET /dns/getTSIGKey/k1%2e HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "setTSIGKey (wire)",
     .method = "setTSIGKey",
     .params = "{'algorithm': 'hmac-sha256.', 'content': 'a2V5+/=', 'name': 'k1.'}",
     .expect = "PATCH /dns/setTSIGKey/k1%2e HTTP/1.1\r\n" HEAD_FORM(
         "48") "\r\n"
               "algorithm=hmac%2dsha256%2e&content=a2V5%2b%2f%3d"},
    {.name = "deleteTSIGKey",
     .method = "deleteTSIGKey",
     .params = "{'name': 'k1.'}",
     .expect = "DELETE /dns/deleteTSIGKey/k1%2e HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "getTSIGKeys",
     .method = "getTSIGKeys",
     .params = "{}",
     .expect = "GET /dns/getTSIGKeys HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "getDomainInfo",
     .method = "getDomainInfo",
     .params = "{'name': 'example.com.'}",
     .expect = "GET /dns/getDomainInfo/example%2ecom%2e HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "setNotified",
     .method = "setNotified",
     .params = "{'id': 5, 'serial': 2002010100}",
     .expect = "PATCH /dns/setNotified/5 HTTP/1.1\r\n" HEAD_FORM("17") "\r\n"
                                                                       "serial=2002010100"},
    {.name = "setNotified dialect 4 (wire form)",
     .dialect = 4,
     .method = "setNotified",
     .params = "{'id': 5, 'serial': 2002010100}",
     .expect =
         "PATCH /dns/setNotified/5 HTTP/1.1\r\n" HEAD_FORM("26") "\r\n"
                                                                 "serial=2002010100%2e000000"},
    {.name = "setNotified dialect 4, serial 10 (wire)",
     .dialect = 4,
     .method = "setNotified",
     .params = "{'id': 5, 'serial': 10}",
     .expect = "PATCH /dns/setNotified/5 HTTP/1.1\r\n" HEAD_FORM("18") "\r\n"
                                                                       "serial=10%2e000000"},
    {.name = "setNotified serial over int32 (int32 cast)",
     .method = "setNotified",
     .params = "{'id': 5, 'serial': 3000000000}",
     .expect = "PATCH /dns/setNotified/5 HTTP/1.1\r\n" HEAD_FORM("20") "\r\n"
                                                                       "serial=%2d2147483648"},
    {.name = "setNotified dialect 4, serial over int32",
     .dialect = 4,
     .method = "setNotified",
     .params = "{'id': 5, 'serial': 3000000000}",
     .expect =
         "PATCH /dns/setNotified/5 HTTP/1.1\r\n" HEAD_FORM("26") "\r\n"
                                                                 "serial=3000000000%2e000000"},
    {.name = "setNotified dialect 4, numeric string serial",
     .dialect = 4,
     .method = "setNotified",
     .params = "{'id': '5', 'serial': '2024010101'}",
     .expect =
         "PATCH /dns/setNotified/5 HTTP/1.1\r\n" HEAD_FORM("26") "\r\n"
                                                                 "serial=2024010101%2e000000"},
    {.name = "superMasterBackend",
     .method = "superMasterBackend",
     .params = "{'domain': 'new.test.', 'ip': '127.0.0.2', 'nsset': " NSSET "}",
     .expect = "POST /dns/superMasterBackend/127%2e0%2e0%2e2/new%2etest%2e HTTP/1.1\r\n" HEAD_FORM(
         "279") "\r\n"
                "nsset[0][auth]=1&nsset[0][content]=ns1%2enew%2etest&nsset[0][qclass]=1&"
                "nsset[0][qname]=new%2etest%2e&nsset[0][qtype]=NS&nsset[0][ttl]=300&"
                "nsset[1][auth]=1&nsset[1][content]=127%2e0%2e0%2e2&nsset[1][qclass]=1&"
                "nsset[1][qname]=ns1%2enew%2etest%2e&nsset[1][qtype]=A&nsset[1][ttl]=300"},
    {.name = "superMasterBackend dialect 4",
     .dialect = 4,
     .method = "superMasterBackend",
     .params = "{'domain': 'new.test.', 'ip': '127.0.0.2', 'nsset': " NSSET "}",
     .expect = "POST /dns/superMasterBackend/127%2e0%2e0%2e2/new%2etest%2e HTTP/1.1\r\n" HEAD_FORM(
         "249") "\r\n"
                "1&nsset[0][content]=ns1%2enew%2etest&nsset[0][qclass]=1&"
                "nsset[0][qname]=new%2etest%2e&nsset[0][qtype]=NS&nsset[0][ttl]=300&"
                "1&nsset[1][content]=127%2e0%2e0%2e2&nsset[1][qclass]=1&"
                "nsset[1][qname]=ns1%2enew%2etest%2e&nsset[1][qtype]=A&nsset[1][ttl]=300"},
    {.name = "createSlaveDomain (wire)",
     .method = "createSlaveDomain",
     .params = "{'account': 'acct', 'domain': 'new.test.', 'ip': '127.0.0.2', 'nameserver': ''}",
     .expect = "PUT /dns/createSlaveDomain/127%2e0%2e0%2e2/new%2etest%2e HTTP/1.1\r\n" HEAD_FORM(
         "12") "\r\n"
               "account=acct"},
    {.name = "createSlaveDomain empty account",
     .method = "createSlaveDomain",
     .params = "{'account': '', 'domain': 'new.test.', 'ip': '::1', 'nameserver': 'ns.x.'}",
     .expect =
         "PUT /dns/createSlaveDomain/%3a%3a1/new%2etest%2e HTTP/1.1\r\n" HEAD_FORM("8") "\r\n"
                                                                                        "account="},
    {.name = "replaceRRSet two records",
     .method = "replaceRRSet",
     .params = "{'domain_id': 7, 'qname': 'www.sec.test.', 'qtype': 'A', 'rrset': [" RRSET_A(
         "192.0.2.10") ", " RRSET_A("192.0.2.11") "], 'trxid': 1795625189}",
     .expect = "PATCH /dns/replaceRRSet/7/www%2esec%2etest%2e/A HTTP/1.1\r\n" HEAD_FORM(
         "285") "X-Remotebackend-Trxid: 1795625189\r\n"
                "\r\n"
                "rrset[0][auth]=1&rrset[0][content]=192%2e0%2e2%2e10&rrset[0][qclass]=1&"
                "rrset[0][qname]=www%2esec%2etest%2e&rrset[0][qtype]=A&rrset[0][ttl]=300&"
                "rrset[1][auth]=1&rrset[1][content]=192%2e0%2e2%2e11&rrset[1][qclass]=1&"
                "rrset[1][qname]=www%2esec%2etest%2e&rrset[1][qtype]=A&rrset[1][ttl]=300"},
    {.name = "replaceRRSet two records dialect 4 (wire: glued TTL 3001)",
     .dialect = 4,
     .method = "replaceRRSet",
     .params = "{'domain_id': 7, 'qname': 'www.sec.test.', 'qtype': 'A', 'rrset': [" RRSET_A(
         "192.0.2.10") ", " RRSET_A("192.0.2.11") "], 'trxid': 1795625189}",
     .expect = "PATCH /dns/replaceRRSet/7/www%2esec%2etest%2e/A HTTP/1.1\r\n" HEAD_FORM(
         "254") "X-Remotebackend-Trxid: 1795625189\r\n"
                "\r\n"
                "1&rrset[0][content]=192%2e0%2e2%2e10&rrset[0][qclass]=1&"
                "rrset[0][qname]=www%2esec%2etest%2e&rrset[0][qtype]=A&rrset[0][ttl]=3001&"
                "rrset[1][content]=192%2e0%2e2%2e11&rrset[1][qclass]=1&"
                "rrset[1][qname]=www%2esec%2etest%2e&rrset[1][qtype]=A&rrset[1][ttl]=300"},
    {.name = "replaceRRSet delete (empty rrset), trxid -1",
     .method = "replaceRRSet",
     .params = "{'domain_id': 7, 'qname': 'old.sec.test.', 'qtype': 'TXT', 'rrset': [], "
               "'trxid': -1}",
     .expect = "PATCH /dns/replaceRRSet/7/old%2esec%2etest%2e/TXT HTTP/1.1\r\n" HEAD_FORM(
         "0") "X-Remotebackend-Trxid: -1\r\n"
              "\r\n"},
    {.name = "feedRecord",
     .method = "feedRecord",
     .params = FEEDRECORD_PARAMS,
     .expect = "PATCH /dns/feedRecord/1795625413 HTTP/1.1\r\n" HEAD_FORM(
         "122") "X-Remotebackend-Trxid: 1795625413\r\n"
                "\r\n"
                "rr[auth]=1&" FEEDRECORD_TAIL},
    {.name = "feedRecord dialect 4 (wire)",
     .dialect = 4,
     .method = "feedRecord",
     .params = FEEDRECORD_PARAMS,
     .expect = "PATCH /dns/feedRecord/1795625413 HTTP/1.1\r\n" HEAD_FORM(
         "113") "X-Remotebackend-Trxid: 1795625413\r\n"
                "\r\n"
                "1&" FEEDRECORD_TAIL},
    {.name = "feedRecord NSEC3 ordername, auth false, trxid 0",
     .method = "feedRecord",
     .params = FEEDRECORD3_PARAMS,
     .expect =
         "PATCH /dns/feedRecord/0 HTTP/1.1\r\n" HEAD_FORM("163") "X-Remotebackend-Trxid: 0\r\n"
                                                                 "\r\n"
                                                                 "rr[auth]=0&" FEEDRECORD3_TAIL},
    {.name = "feedRecord NSEC3 ordername, auth false, dialect 4",
     .dialect = 4,
     .method = "feedRecord",
     .params = FEEDRECORD3_PARAMS,
     .expect =
         "PATCH /dns/feedRecord/0 HTTP/1.1\r\n" HEAD_FORM("154") "X-Remotebackend-Trxid: 0\r\n"
                                                                 "\r\n"
                                                                 "0&" FEEDRECORD3_TAIL},
    {.name = "feedEnts (names lost)",
     .method = "feedEnts",
     .params = "{'domain_id': 7, 'nonterm': " ENTS ", 'trxid': 1795625413}",
     .expect = "PATCH /dns/feedEnts/7/1795625413 HTTP/1.1\r\n" HEAD_FORM(
         "21") "X-Remotebackend-Trxid: 1795625413\r\n"
               "\r\n"
               "nonterm[]=&nonterm[]="},
    {.name = "feedEnts dialect 4",
     .dialect = 4,
     .method = "feedEnts",
     .params = "{'domain_id': 7, 'nonterm': " ENTS ", 'trxid': 1795625413}",
     .expect = "PATCH /dns/feedEnts/7/1795625413 HTTP/1.1\r\n" HEAD_FORM(
         "21") "X-Remotebackend-Trxid: 1795625413\r\n"
               "\r\n"
               "nonterm[]=&nonterm[]="},
    {.name = "feedEnts no ENTs",
     .method = "feedEnts",
     .params = "{'domain_id': 7, 'nonterm': [], 'trxid': 1795625413}",
     .expect = "PATCH /dns/feedEnts/7/1795625413 HTTP/1.1\r\n" HEAD_FORM(
         "0") "X-Remotebackend-Trxid: 1795625413\r\n"
              "\r\n"},
    {.name = "feedEnts3 (wire, salt 0xAB)",
     .method = "feedEnts3",
     .params = "{'domain': 'sec.test.', 'domain_id': 7, 'narrow': false, 'nonterm': " ENTS
               ", 'salt': '\xab', 'times': 1, 'trxid': 1795625413}",
     .expect = "PATCH /dns/feedEnts3/7/sec%2etest%2e/1795625413 HTTP/1.1\r\n" HEAD_FORM(
         "47") "X-Remotebackend-Trxid: 1795625413\r\n"
               "\r\n"
               "times=1&salt=%ab&narrow=0&nonterm[]=&nonterm[]="},
    {.name = "feedEnts3 dialect 4, no ENTs, narrow",
     .dialect = 4,
     .method = "feedEnts3",
     .params = "{'domain': 'sec.test.', 'domain_id': 7, 'narrow': true, 'nonterm': [], "
               "'salt': '', 'times': 0, 'trxid': 1795625413}",
     .expect = "PATCH /dns/feedEnts3/7/sec%2etest%2e/1795625413 HTTP/1.1\r\n" HEAD_FORM(
         "22") "X-Remotebackend-Trxid: 1795625413\r\n"
               "\r\n"
               "times=0&salt=&narrow=1"},
    {.name = "startTransaction (wire)",
     .method = "startTransaction",
     .params = "{'domain': 'example.com.', 'domain_id': -1, 'trxid': 1795625189}",
     .expect = "POST /dns/startTransaction/%2d1/example%2ecom%2e/1795625189 HTTP/1.1\r\n" HEAD_FORM(
         "0") "X-Remotebackend-Trxid: 1795625189\r\n"
              "\r\n"},
    {.name = "commitTransaction",
     .method = "commitTransaction",
     .params = "{'trxid': 1795625189}",
     .expect = "POST /dns/commitTransaction/1795625189 HTTP/1.1\r\n" HEAD_FORM(
         "0") "X-Remotebackend-Trxid: 1795625189\r\n"
              "\r\n"},
    {.name = "abortTransaction trxid -1",
     .method = "abortTransaction",
     .params = "{'trxid': -1}",
     .expect = "POST /dns/abortTransaction/%2d1 HTTP/1.1\r\n" HEAD_FORM(
         "0") "X-Remotebackend-Trxid: -1\r\n"
              "\r\n"},
    {.name = "directBackendCmd",
     .method = "directBackendCmd",
     .params = "{'query': 'PING x&y=1'}",
     .expect = "POST /dns/directBackendCmd HTTP/1.1\r\n" HEAD_FORM("22") "\r\n"
                                                                         "query=PING%20x%26y%3d1"},
    {.name = "searchRecords (wire)",
     .method = "searchRecords",
     .params = "{'maxResults': 10, 'pattern': 'ns1* x'}",
     .expect = "GET /dns/searchRecords?maxResults=10&pattern=ns1%2a%20x HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "searchComments (pdns maps it like searchRecords)",
     .method = "searchComments",
     .params = "{'maxResults': 5, 'pattern': 'a?b'}",
     .expect = "GET /dns/searchComments?maxResults=5&pattern=a%3fb HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "getAllDomains true (wire)",
     .method = "getAllDomains",
     .params = "{'include_disabled': true}",
     .expect = "GET /dns/getAllDomains?includeDisabled=true HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "getAllDomains false",
     .method = "getAllDomains",
     .params = "{'include_disabled': false}",
     .expect = "GET /dns/getAllDomains?includeDisabled=false HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "getUpdatedMasters",
     .method = "getUpdatedMasters",
     .params = "{}",
     .expect = "GET /dns/getUpdatedMasters HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "getUnfreshSlaveInfos",
     .method = "getUnfreshSlaveInfos",
     .params = "{}",
     .expect = "GET /dns/getUnfreshSlaveInfos HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "setStale",
     .method = "setStale",
     .params = "{'id': 5}",
     .expect = "PATCH /dns/setStale/5 HTTP/1.1\r\n" HEAD_FORM("0") "\r\n"},
    {.name = "setFresh",
     .method = "setFresh",
     .params = "{'id': 5}",
     .expect = "PATCH /dns/setFresh/5 HTTP/1.1\r\n" HEAD_FORM("0") "\r\n"},

    /* ---- the generic rule for unknown methods (§5.3 last row) ---- */
    {.name = "unknown method: generic GET, headers kept, others lost",
     .method = "fooBar",
     .params = "{'name': 'x.', 'other': 'lost', 'qtype': 'A', 'trxid': 9, 'zone-id': 3}",
     .expect = "GET /dns/fooBar/x%2e/A HTTP/1.1\r\n" HEAD "X-Remotebackend-Trxid: 9\r\n"
               "X-Remotebackend-Zone-Id: 3\r\n"
               "\r\n"},
    {.name = "unknown method: all seven components in fixed order",
     .method = "future",
     .params = "{'qtype': 'MX', 'kind': 'k', 'name': 'n.', 'qname': 'q.', 'zonename': 'z.', "
               "'domain_id': 2, 'id': 1, 'ip': '1.2.3.4', 'domain': 'd.'}",
     .expect = "GET /dns/future/1/2/z%2e/q%2e/n%2e/k/MX HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "unknown method: no parameters",
     .method = "isMaster",
     .params = "{}",
     .expect = "GET /dns/isMaster HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "known method, extra parameter is dropped",
     .method = "getDomainInfo",
     .params = "{'name': 'example.com.', 'extra': 'x', 'ip': '1.2.3.4'}",
     .expect = "GET /dns/getDomainInfo/example%2ecom%2e HTTP/1.1\r\n" HEAD "\r\n"},

    /* ---- awkward values ---- */
    {.name = "name with % ? # & =",
     .method = "getDomainInfo",
     .params = "{'name': 'a%b?c#d&e=f.'}",
     .expect = "GET /dns/getDomainInfo/a%25b%3fc%23d%26e%3df%2e HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "empty name gives an empty segment",
     .method = "getDomainMetadata",
     .params = "{'kind': '', 'name': ''}",
     .expect = "GET /dns/getDomainMetadata// HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "null component is skipped",
     .method = "getDomainMetadata",
     .params = "{'kind': 'K', 'name': null}",
     .expect = "GET /dns/getDomainMetadata/K HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "numeric string id is sent as-is; bool component as 1",
     .method = "removeDomainKey",
     .params = "{'id': '-12', 'name': true}",
     .expect = "DELETE /dns/removeDomainKey/%2d12/1 HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "ids: int32 range, truncation, overflow",
     .method = "lookup",
     .params = "{'id': 2147483647, 'domain_id': 3.9, 'qname': 'x.', 'qtype': 'A', "
               "'zone-id': 2147483648}",
     .expect = "GET /dns/lookup/2147483647/3/x%2e/A HTTP/1.1\r\n" HEAD
               "X-Remotebackend-Zone-Id: -2147483648\r\n"
               "\r\n"},
    {.name = "header values raw, string zone-id kept",
     .method = "lookup",
     .params = "{'local': 'a b%', 'qname': 'x.', 'qtype': 'A', 'real-remote': '', "
               "'remote': 'r', 'zone-id': '17'}",
     .expect = "GET /dns/lookup/x%2e/A HTTP/1.1\r\n" HEAD "X-Remotebackend-Local: a b%\r\n"
               "X-Remotebackend-Real-Remote: \r\n"
               "X-Remotebackend-Remote: r\r\n"
               "X-Remotebackend-Zone-Id: 17\r\n"
               "\r\n"},
    {.name = "maxResults as numeric string, pattern empty",
     .method = "searchRecords",
     .params = "{'maxResults': '25', 'pattern': ''}",
     .expect = "GET /dns/searchRecords?maxResults=25&pattern= HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "includeDisabled from lenient truthy values",
     .method = "getAllDomains",
     .params = "{'include_disabled': '1'}",
     .expect = "GET /dns/getAllDomains?includeDisabled=true HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "includeDisabled missing is false",
     .method = "getAllDomains",
     .params = "{}",
     .expect = "GET /dns/getAllDomains?includeDisabled=false HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "record group: extra member encoded, non-scalar-free, unsorted input",
     .method = "feedRecord",
     .params = "{'rr': {'ttl': 60, 'qtype': 'TXT', 'x y': 'a b', 'auth': true, 'content': "
               "'\\'t\\' \\u00e9', 'qname': 'T.', 'ordername': '', 'qclass': 1}, 'trxid': 5}",
     .expect = "PATCH /dns/feedRecord/5 HTTP/1.1\r\n" HEAD_FORM(
         "123") "X-Remotebackend-Trxid: 5\r\n"
                "\r\n"
                "rr[auth]=1&rr[content]=%22t%22%20%c3%a9&rr[ordername]=&"
                "rr[qclass]=1&rr[qname]=T%2e&rr[qtype]=TXT&rr[ttl]=60&"
                "rr[x%20y]=a%20b"},

    /* ---- url path, url-suffix, host ---- */
    {.name = "url-suffix",
     .suffix = ".php",
     .method = "lookup",
     .params = "{'qname': 'example.com.', 'qtype': 'SOA', 'zone-id': -1}",
     .expect = "GET /dns/lookup/example%2ecom%2e/SOA.php HTTP/1.1\r\n" HEAD
               "X-Remotebackend-Zone-Id: -1\r\n"
               "\r\n"},
    {.name = "url-suffix before the query string",
     .suffix = ".php",
     .method = "searchRecords",
     .params = "{'maxResults': 10, 'pattern': 'ns1*'}",
     .expect = "GET /dns/searchRecords.php?maxResults=10&pattern=ns1%2a HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "url-suffix with a query is cut at '?'",
     .suffix = ".php?x=1",
     .method = "getDomainInfo",
     .params = "{'name': 'x.'}",
     .expect = "GET /dns/getDomainInfo/x%2e.php HTTP/1.1\r\n" HEAD "\r\n"},
    /* a space in the suffix takes the byte-by-byte path check, which looks only before the '?' */
    {.name = "url-suffix with a space after its '?' is cut there",
     .suffix = ".php?x=a b",
     .method = "getDomainInfo",
     .params = "{'name': 'x y.'}",
     .expect = "GET /dns/getDomainInfo/x%20y%2e.php HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "url path empty",
     .path = "",
     .method = "getDomainInfo",
     .params = "{'name': 'example.com.'}",
     .expect = "GET /getDomainInfo/example%2ecom%2e HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "url path '/' gives '//'",
     .path = "/",
     .method = "getTSIGKeys",
     .params = "{}",
     .expect = "GET //getTSIGKeys HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "IPv6 host goes back in brackets",
     .host = "::1",
     .path = "/a/b",
     .method = "getTSIGKeys",
     .params = "{}",
     .expect = "GET /a/b/getTSIGKeys HTTP/1.1\r\n" AC "Host: [::1]\r\nUser-Agent: YaHTTP v1.0\r\n"
               "\r\n"},
    {.name = "host name",
     .host = "backend.example",
     .method = "getTSIGKeys",
     .params = "{}",
     .expect = "GET /dns/getTSIGKeys HTTP/1.1\r\n" AC
               "Host: backend.example\r\nUser-Agent: YaHTTP v1.0\r\n"
               "\r\n"},

    /* ---- post mode (§4.5) ---- */
    {.name = "post getDomainInfo (wire)",
     .mode = POST,
     .suffix = ".php",
     .method = "getDomainInfo",
     .params = "{'name': 'example.com.'}",
     .expect = "POST /dns/getDomainInfo.php HTTP/1.1\r\n" HEAD_FORM(
         "55") "\r\n"
               "parameters=%7b%22name%22%3a%20%22example%2ecom%2e%22%7d"},
    {.name = "post lookup: no X-Remotebackend headers, keys sorted",
     .mode = POST,
     .method = "lookup",
     .params = "{'zone-id': -1, 'qtype': 'A', 'qname': 'a.', 'remote': '0.0.0.0', "
               "'local': '0.0.0.0', 'real-remote': '0.0.0.0/0'}",
     .expect = "POST /dns/lookup HTTP/1.1\r\n" HEAD_FORM(
         "244") "\r\n"
                "parameters=%7b%22local%22%3a%20%220%2e0%2e0%2e0%22%2c%20%22qname%22%3a%20%22a%2e%"
                "22%2c%20%22qtype%22%3a%20%22A%22%2c%20%22real%2dremote%22%3a%20%220%2e0%2e0%2e0%"
                "2f0%22%2c%20%22remote%22%3a%20%220%2e0%2e0%2e0%22%2c%20%22zone%2did%22%3a%20%2d1%"
                "7d"},
    {.name = "post getTSIGKeys, empty url path",
     .mode = POST,
     .path = "",
     .method = "getTSIGKeys",
     .params = "{}",
     .expect = "POST /getTSIGKeys HTTP/1.1\r\n" HEAD_FORM("17") "\r\n"
                                                                "parameters=%7b%7d"},
    {.name = "post feedEnts3: raw salt byte, nested arrays",
     .mode = POST,
     .method = "feedEnts3",
     .params = "{'domain': 'sec.test.', 'domain_id': 7, 'narrow': false, 'nonterm': [{'auth': "
               "true, 'nonterm': 'b.sec.test.'}], 'salt': '\xab', 'times': 1, 'trxid': 1795625413}",
     .expect = "POST /dns/feedEnts3 HTTP/1.1\r\n" HEAD_FORM(
         "306") "\r\n"
                "parameters=%7b%22domain%22%3a%20%22sec%2etest%2e%22%2c%20%22domain%5fid%22%3a%"
                "207%2c%20%22narrow%22%3a%20false%2c%20%22nonterm%22%3a%20%5b%7b%22auth%22%3a%"
                "20true%2c%20%22nonterm%22%3a%20%22b%2esec%2etest%2e%22%7d%5d%2c%20%22salt%22%"
                "3a%20%22%ab%22%2c%20%22times%22%3a%201%2c%20%22trxid%22%3a%201795625413%7d"},
    {.name = "post unknown method, weird name",
     .mode = POST,
     .suffix = "/x",
     .method = "futureMethod",
     .params = "{'qname': 'we/ird\\\\032na_me.'}",
     .expect = "POST /dns/futureMethod/x HTTP/1.1\r\n" HEAD_FORM(
         "67") "\r\n"
               "parameters=%7b%22qname%22%3a%20%22we%2fird%5c%5c032na%5fme%2e%22%7d"},

    /* ---- post_json mode (§4.6) ---- */
    {.name = "post_json lookup: raw body, no suffix, no method in path",
     .mode = PJSON,
     .suffix = ".php",
     .method = "lookup",
     .params = "{'qname': 'a.', 'qtype': 'A', 'zone-id': -1}",
     .raw = "{'method': 'lookup', 'parameters': {'qname': 'a.', 'qtype': 'A', 'zone-id': -1}}",
     .expect = "POST /dns HTTP/1.1\r\n" HEAD_JSON(
         "80") "\r\n"
               "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"a.\", \"qtype\": \"A\", "
               "\"zone-id\": -1}}"},
    {.name = "post_json body is raw as received, trimmed",
     .mode = PJSON,
     .method = "getDomainInfo",
     .params = "{'name': 'x.'}",
     .raw = " \t{'parameters':{'name':'x.'},'method':'getDomainInfo'}\r\n",
     .expect = "POST /dns HTTP/1.1\r\n" HEAD_JSON(
         "53") "\r\n"
               "{\"parameters\":{\"name\":\"x.\"},\"method\":\"getDomainInfo\"}"},
    {.name = "post_json empty url path is '/'",
     .mode = PJSON,
     .path = "",
     .method = "getTSIGKeys",
     .params = "{}",
     .raw = "{'method': 'getTSIGKeys', 'parameters': {}}",
     .expect =
         "POST / HTTP/1.1\r\n" HEAD_JSON("43") "\r\n"
                                               "{\"method\": \"getTSIGKeys\", \"parameters\": {}}"},
    {.name = "post_json without raw text serialises the call",
     .mode = PJSON,
     .method = "futureMethod",
     .params = "{'z': 1, 'a': '\\\\'}",
     .expect = "POST /dns HTTP/1.1\r\n" HEAD_JSON(
         "61") "\r\n"
               "{\"method\": \"futureMethod\", \"parameters\": {\"a\": \"\\\\\", \"z\": 1}}"},
};

/* ' -> " so that JSON texts in the table stay readable.  Escaped quotes are written \' and become
 * \" as well. */
static char *
dequote(const char *s)
{
    char *d = rbgw_xstrdup(s);
    for (char *p = d; *p != '\0'; p++) {
        if (*p == '\'') {
            *p = '"';
        }
    }
    return d;
}

static struct rbgw_json *
parse(struct rbgw_arena *a, const char *json)
{
    char err[256] = "";
    struct rbgw_json *v = NULL;
    char *text = dequote(json);
    int rc = rbgw_json_parse(a, text, strlen(text), &v, err, sizeof(err));
    cr_assert_eq(rc, 0, "bad test JSON %s: %s", text, err);
    free(text);
    return v;
}

/* A request made readable for failure messages: CR as \r, LF as \n plus a line break, other
 * bytes outside printable ASCII as \xNN. */
static char *
visible(const char *s)
{
    struct rbgw_buf b = RBGW_BUF_INIT;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\r') {
            rbgw_buf_append_cstr(&b, "\\r");
        } else if (c == '\n') {
            rbgw_buf_append_cstr(&b, "\\n\n");
        } else if (c < 0x20 || c >= 0x7f) {
            rbgw_buf_printf(&b, "\\x%02x", c);
        } else {
            rbgw_buf_putc(&b, (char)c);
        }
    }
    rbgw_buf_putc(&b, '\0');
    return b.data;
}

static struct rbgw_http_target
target_of(const struct golden *g)
{
    struct rbgw_http_target t = {
        .mode = g->mode,
        .dialect = g->dialect ? g->dialect : 5,
        .host = rbgw_str_cstr(g->host ? g->host : "127.0.0.1"),
        .path = rbgw_str_cstr(g->path ? g->path : "/dns"),
        .suffix = rbgw_str_cstr(g->suffix ? g->suffix : ""),
    };
    return t;
}

/*
 * Criterion runs each parameterized case in a fresh process image (BoxFort), where pointers
 * taken in the parent are meaningless; so cases are passed as indices in cr_malloc'ed memory
 * and looked up in the child's own copy of the table.
 */
static void
free_params(struct criterion_test_params *crp)
{
    cr_free(crp->params);
}

static struct criterion_test_params
index_params(size_t n)
{
    size_t *idx = cr_malloc(n * sizeof(*idx));
    for (size_t i = 0; i < n; i++) {
        idx[i] = i;
    }
    return cr_make_param_array(size_t, idx, n, free_params);
}

ParameterizedTestParameters(xlate, golden)
{
    return index_params(RBGW_NELEM(goldens));
}

ParameterizedTest(size_t *ip, xlate, golden)
{
    const struct golden *g = &goldens[*ip];
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_buf out = RBGW_BUF_INIT;
    char err[256] = "";
    struct rbgw_http_target t = target_of(g);
    struct rbgw_json *params = parse(&a, g->params);
    char *raw = dequote(g->raw ? g->raw : "");

    int rc = rbgw_xlate_rpc_to_http(&t, rbgw_str_cstr(g->method), params, rbgw_str_cstr(raw), &out,
                                    err, sizeof(err));
    cr_assert_eq(rc, 0, "%s: rc %d (%s)", g->name, rc, err);
    cr_assert_eq(out.len, strlen(out.data), "%s: NUL inside the request", g->name);
    if (strcmp(out.data, g->expect) != 0) {
        char *got = visible(out.data), *want = visible(g->expect);
        cr_log_error("%s\n--- got:\n%s\n--- want:\n%s", g->name, got, want);
        free(got);
        free(want);
    }
    cr_assert_str_eq(out.data, g->expect, "%s (request bytes differ, see above)", g->name);

    free(raw);
    rbgw_buf_free(&out);
    rbgw_arena_free(&a);
}

/* Every method with a REST row has a REST golden case. */
Test(xlate, every_row_has_a_rest_golden)
{
    size_t rows = 0;
    for (unsigned m = 1; m < RBGW_M__COUNT; m++) {
        const struct rbgw_method_info *row = rbgw_method_info((enum rbgw_method)m);
        if (row->rest.none) {
            continue;
        }
        bool found = false;
        for (size_t j = 0; j < RBGW_NELEM(goldens) && !found; j++) {
            found = goldens[j].mode == RBGW_HTTP_REST && strcmp(goldens[j].method, row->name) == 0;
        }
        cr_expect(found, "no REST golden case for %s", row->name);
        rows++;
    }
    /* 36 methods of §3.0 (initialize excluded, APILookup included) plus searchComments. */
    cr_assert_eq(rows, 37);
}

static int
casecmp(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        int d = (*a | 0x20) - (*b | 0x20);
        if (d != 0) {
            return d;
        }
    }
    return (*a != '\0') - (*b != '\0');
}

/* Bodies and query strings pdns builds from its key->value map are in case-insensitive order;
 * rows made only of scalar fields are such maps (feedEnts3's fixed order has lists). */
Test(xlate, map_rows_are_in_case_insensitive_order)
{
    size_t checked = 0;
    for (unsigned m = 1; m < RBGW_M__COUNT; m++) {
        const char *name = rbgw_method_info((enum rbgw_method)m)->name;
        const struct rbgw_rest_field *f = rbgw_method_info((enum rbgw_method)m)->rest.fields;
        bool scalars_only = f != NULL;
        for (const struct rbgw_rest_field *g = f; g != NULL && g->piece != RBGW_PIECE_END; g++) {
            scalars_only = scalars_only && g->piece == RBGW_PIECE_SCALAR;
        }
        if (!scalars_only) {
            continue;
        }
        checked++;
        for (; f[0].piece != RBGW_PIECE_END && f[1].piece != RBGW_PIECE_END; f++) {
            cr_expect_lt(casecmp(f[0].key, f[1].key), 0, "%s: %s before %s", name, f[0].key,
                         f[1].key);
        }
    }
    cr_assert_geq(checked, 7);
}

Test(xlate, urlencode_every_byte)
{
    struct rbgw_buf out = RBGW_BUF_INIT;
    for (int c = 0; c < 256; c++) {
        char in = (char)c;
        char want[4];
        bool alnum = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
        if (alnum) {
            snprintf(want, sizeof(want), "%c", c);
        } else {
            snprintf(want, sizeof(want), "%%%02x", c);
        }
        rbgw_buf_reset(&out);
        rbgw_xlate_urlencode(&out, &in, 1);
        cr_assert_eq(out.len, strlen(want), "byte 0x%02x", c);
        cr_assert_eq(memcmp(out.data, want, out.len), 0, "byte 0x%02x -> %s", c, out.data);
    }
    rbgw_buf_free(&out);
}

Test(xlate, urlencode_examples)
{
    static const char *const cases[][2] = {
        {"example.com.", "example%2ecom%2e"},
        {"-1", "%2d1"},
        {"X-FOO", "X%2dFOO"},
        {"we/ird\\032na_me.example.com.", "we%2fird%5c032na%5fme%2eexample%2ecom%2e"},
        {"*.example.com.", "%2a%2eexample%2ecom%2e"},
        {"\xab", "%ab"},
        {"a b+~", "a%20b%2b%7e"},
        {"", ""},
    };
    for (size_t i = 0; i < RBGW_NELEM(cases); i++) {
        struct rbgw_buf out = RBGW_BUF_INIT;
        rbgw_buf_append(&out, "pre:", 4);
        rbgw_xlate_urlencode(&out, cases[i][0], strlen(cases[i][0]));
        cr_expect_str_eq(out.data + 4, cases[i][1]);
        cr_expect_eq(memcmp(out.data, "pre:", 4), 0);
        rbgw_buf_free(&out);
    }
}

/* The request is appended after what out already holds. */
Test(xlate, appends_to_out)
{
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_buf out = RBGW_BUF_INIT;
    struct golden g = {.method = "getTSIGKeys", .params = "{}"};
    struct rbgw_http_target t = target_of(&g);
    rbgw_buf_append_cstr(&out, "previous");
    int rc = rbgw_xlate_rpc_to_http(&t, RBGW_STR("getTSIGKeys"), parse(&a, "{}"), RBGW_STR(""),
                                    &out, NULL, 0);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(out.data, "previousGET /dns/getTSIGKeys HTTP/1.1\r\n" HEAD "\r\n");
    rbgw_buf_free(&out);
    rbgw_arena_free(&a);
}

/* A NULL parameter tree means no parameters, in every mode. */
Test(xlate, null_params)
{
    struct rbgw_buf out = RBGW_BUF_INIT;
    struct golden g = {.method = "getTSIGKeys"};
    struct rbgw_http_target t = target_of(&g);
    cr_assert_eq(rbgw_xlate_rpc_to_http(&t, RBGW_STR("getUpdatedMasters"), NULL, RBGW_STR(""), &out,
                                        NULL, 0),
                 0);
    cr_assert_str_eq(out.data, "GET /dns/getUpdatedMasters HTTP/1.1\r\n" HEAD "\r\n");
    rbgw_buf_reset(&out);
    t.mode = RBGW_HTTP_POST;
    cr_assert_eq(rbgw_xlate_rpc_to_http(&t, RBGW_STR("getUpdatedMasters"), NULL, RBGW_STR(""), &out,
                                        NULL, 0),
                 0);
    cr_assert_str_eq(
        out.data, "POST /dns/getUpdatedMasters HTTP/1.1\r\n" HEAD_FORM("17") "\r\n"
                                                                             "parameters=%7b%7d");
    rbgw_buf_free(&out);
}

struct bad {
    const char *name;         /* case label */
    enum rbgw_http_mode mode; /* REST unless set */
    const char *method;       /* wire method */
    const char *params;       /* JSON with ' for " */
    const char *suffix;       /* NULL means "" */
    const char *host;         /* NULL means 127.0.0.1 */
    const char *errpart;      /* expected substring of the error text */
};

static struct bad bads[] = {
    {"params not an object", REST, "lookup", "['qname']", NULL, NULL, "not an object"},
    {"component is an array", REST, "getDomainInfo", "{'name': ['a.']}", NULL, NULL, "'name'"},
    {"component is an object", REST, "list", "{'domain_id': {}, 'zonename': 'x.'}", NULL, NULL,
     "'domain_id'"},
    {"header parameter is null", REST, "lookup", "{'qname': 'a.', 'qtype': 'A', 'zone-id': null}",
     NULL, NULL, "'zone-id'"},
    {"header value with CR LF", REST, "lookup",
     "{'qname': 'a.', 'qtype': 'A', 'remote': 'x\\r\\nEvil: 1'}", NULL, NULL, "'remote'"},
    {"header value with NUL", REST, "lookup", "{'qname': 'a.', 'local': 'x\\u0000y'}", NULL, NULL,
     "'local'"},
    /* not an injection, but llhttp (strict) and other servers refuse the whole request */
    {"header value with a backspace", REST, "lookup",
     "{'qname': 'a.', 'qtype': 'A', 'real-remote': '099.\\b0.0.1/32'}", NULL, NULL, "0x08"},
    {"header value with DEL", REST, "lookup", "{'qname': 'a.', 'zone-id': '5\x7f'}", NULL, NULL,
     "'zone-id'"},
    {"addDomainKey without flags", REST, "addDomainKey",
     "{'key': {'active': true, 'content': 'c', 'published': true}, 'name': 'e.'}", NULL, NULL,
     "'flags'"},
    {"record group member is an array", REST, "feedRecord",
     "{'rr': {'auth': true, 'content': ['x']}, 'trxid': 1}", NULL, NULL, "'rr'"},
    {"dialect 5 serial is an object", REST, "setNotified", "{'id': 1, 'serial': {}}", NULL, NULL,
     "'serial'"},
    {"method with a space", REST, "get x", "{}", NULL, NULL, "0x20"},
    {"method with CR LF in post mode", POST, "a\r\nb", "{}", NULL, NULL, "0x0d"},
    {"suffix with a space", REST, "getTSIGKeys", "{}", ". php", NULL, "0x20"},
    {"suffix with a tab before its '?'", REST, "getDomainInfo", "{'name': 'x.'}", ".p\thp?a", NULL,
     "0x09"},
    {"suffix with a space, post mode", POST, "getTSIGKeys", "{}", "x y", NULL, "0x20"},
    {"host with LF", PJSON, "getTSIGKeys", "{}", NULL, "h\nX: y", "host"},
};

ParameterizedTestParameters(xlate, refused)
{
    return index_params(RBGW_NELEM(bads));
}

/* Inputs pdns would throw on, or that would break HTTP framing: RBGW_EPROTO, out untouched. */
ParameterizedTest(size_t *ip, xlate, refused)
{
    const struct bad *b = &bads[*ip];
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_buf out = RBGW_BUF_INIT;
    char err[256] = "";
    struct rbgw_http_target t = {
        .mode = b->mode,
        .dialect = 5,
        .host = rbgw_str_cstr(b->host ? b->host : "127.0.0.1"),
        .path = RBGW_STR("/dns"),
        .suffix = rbgw_str_cstr(b->suffix ? b->suffix : ""),
    };
    rbgw_buf_append_cstr(&out, "keep");
    int rc = rbgw_xlate_rpc_to_http(&t, rbgw_str_cstr(b->method), parse(&a, b->params),
                                    RBGW_STR("{}"), &out, err, sizeof(err));
    cr_assert_eq(rc, RBGW_EPROTO, "%s: rc %d", b->name, rc);
    cr_assert_str_eq(out.data, "keep", "%s: out changed", b->name);
    cr_assert(strstr(err, b->errpart) != NULL, "%s: error '%s' lacks '%s'", b->name, err,
              b->errpart);
    rbgw_buf_free(&out);
    rbgw_arena_free(&a);
}

/* Dialect 4 only changes the methods of §5.4; everything else is byte-identical. */
Test(xlate, dialects_agree_outside_section_5_4)
{
    for (size_t i = 0; i < RBGW_NELEM(goldens); i++) {
        const struct golden *g = &goldens[i];
        if (g->mode != RBGW_HTTP_REST || strcmp(g->method, "feedRecord") == 0 ||
            strcmp(g->method, "replaceRRSet") == 0 ||
            strcmp(g->method, "superMasterBackend") == 0 || strcmp(g->method, "setNotified") == 0) {
            continue;
        }
        struct rbgw_arena a = RBGW_ARENA_INIT;
        struct rbgw_buf o4 = RBGW_BUF_INIT, o5 = RBGW_BUF_INIT;
        struct rbgw_http_target t = target_of(g);
        struct rbgw_json *params = parse(&a, g->params);
        t.dialect = 4;
        cr_assert_eq(rbgw_xlate_rpc_to_http(&t, rbgw_str_cstr(g->method), params, RBGW_STR(""), &o4,
                                            NULL, 0),
                     0);
        t.dialect = 5;
        cr_assert_eq(rbgw_xlate_rpc_to_http(&t, rbgw_str_cstr(g->method), params, RBGW_STR(""), &o5,
                                            NULL, 0),
                     0);
        cr_expect_str_eq(o4.data, o5.data, "%s", g->name);
        rbgw_buf_free(&o4);
        rbgw_buf_free(&o5);
        rbgw_arena_free(&a);
    }
}

/*
 * Hostile values: whatever a qname, zone name, kind or record says, it stays inside its own
 * path component, query value, form value or body and cannot move the request to another
 * path, add a query, end the path early ('?', '#'), smuggle an escape ('%'), or add or end a
 * header (CR/LF, NUL); non-UTF-8 bytes and over-long labels are percent-encoded like any other
 * byte (the CVE-2019-3871 class: pdns's own connector once let a qname reach the URL raw).  The
 * expected bytes are written out in full; Content-Length values were counted from them.
 */
static const struct golden hostile[] = {
    {.name = "qname with dots, slashes, ? # %",
     .method = "lookup",
     .params = "{'qname': '../../admin/x?y#z%2e', 'qtype': 'A'}",
     .expect =
         "GET /dns/lookup/%2e%2e%2f%2e%2e%2fadmin%2fx%3fy%23z%252e/A HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "qname with CR LF and a whole request inside",
     .method = "lookup",
     .params = "{'qname': 'www.example.com.\\r\\nHost: evil.example\\r\\n\\r\\nGET /admin "
               "HTTP/1.1', 'qtype': 'A'}",
     .expect = "GET "
               "/dns/lookup/"
               "www%2eexample%2ecom%2e%0d%0aHost%3a%20evil%2eexample%0d%0a%0d%0aGET%20%2fadmin%20"
               "HTTP%2f1%2e1/A HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "qname with NUL, qtype with a path",
     .method = "lookup",
     .params = "{'qname': 'a\\u0000b.', 'qtype': 'A/../../x'}",
     .expect = "GET /dns/lookup/a%00b%2e/A%2f%2e%2e%2f%2e%2e%2fx HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "qname that is not UTF-8",
     .method = "lookup",
     .params = "{'qname': '\xff\xfe\xc3(.', 'qtype': 'A'}",
     .expect = "GET /dns/lookup/%ff%fe%c3%28%2e/A HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "zone name climbing out of the path",
     .method = "getDomainInfo",
     .params = "{'name': '../../etc/passwd'}",
     .expect = "GET /dns/getDomainInfo/%2e%2e%2f%2e%2e%2fetc%2fpasswd HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "list: zonename with ? and #",
     .method = "list",
     .params = "{'domain_id': 5, 'zonename': 'a?b=c#d.'}",
     .expect = "GET /dns/list/5/a%3fb%3dc%23d%2e HTTP/1.1\r\n" HEAD "\r\n"},
    {.name = "metadata kind and values with & = CR LF",
     .method = "setDomainMetadata",
     .params = "{'kind': 'X&y=z', 'name': 'a/b.', 'value': ['x&y=z\\r\\nHost: evil', '../?#%']}",
     .expect = "PATCH /dns/setDomainMetadata/a%2fb%2e/X%26y%3dz HTTP/1.1\r\n" HEAD_FORM(
         "64") "\r\n"
               "value[]=x%26y%3dz%0d%0aHost%3a%20evil&value[]=%2e%2e%2f%3f%23%25"},
    {.name = "post mode: the whole call is one form value",
     .mode = POST,
     .method = "lookup",
     .params = "{'qname': '../x\\r\\n?#%', 'qtype': 'A'}",
     .expect = "POST /dns/lookup HTTP/1.1\r\n" HEAD_FORM(
         "97") "\r\n"
               "parameters=%7b%22qname%22%3a%20%22%2e%2e%2fx%5cr%5cn%3f%23%25%22%2c%20%22qtype%"
               "22%3a%20%22A%22%7d"},
    {.name = "post_json: the call is the body, escapes kept, length exact",
     .mode = PJSON,
     .method = "lookup",
     .params = "{'qname': '../x\\r\\nHost: evil\\u0000', 'qtype': 'A'}",
     .raw = "{'method': 'lookup', 'parameters': {'qname': '../x\\r\\nHost: evil\\u0000', "
            "'qtype': 'A'}}",
     .expect = "POST /dns HTTP/1.1\r\n" HEAD_JSON(
         "87") "\r\n"
               "{\"method\": \"lookup\", \"parameters\": {\"qname\": \"../x\\r\\nHost: "
               "evil\\u0000\", \"qtype\": \"A\"}}"},
};

ParameterizedTestParameters(xlate, hostile_values)
{
    return index_params(RBGW_NELEM(hostile));
}

ParameterizedTest(size_t *ip, xlate, hostile_values)
{
    const struct golden *g = &hostile[*ip];
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_buf out = RBGW_BUF_INIT;
    char err[256] = "";
    struct rbgw_http_target t = target_of(g);
    char *raw = dequote(g->raw ? g->raw : "");
    int rc = rbgw_xlate_rpc_to_http(&t, rbgw_str_cstr(g->method), parse(&a, g->params),
                                    rbgw_str_cstr(raw), &out, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s: rc %d (%s)", g->name, rc, err);
    cr_assert_eq(out.len, strlen(g->expect), "%s: length (a NUL inside?)", g->name);
    if (strcmp(out.data, g->expect) != 0) {
        char *got = visible(out.data), *want = visible(g->expect);
        cr_log_error("%s\n--- got:\n%s\n--- want:\n%s", g->name, got, want);
        free(got);
        free(want);
    }
    cr_assert_str_eq(out.data, g->expect, "%s (request bytes differ, see above)", g->name);
    free(raw);
    rbgw_buf_free(&out);
    rbgw_arena_free(&a);
}

/* A 255-byte label (longer than DNS allows, as a hostile client may send) is encoded whole. */
Test(xlate, hostile_long_label)
{
    char qname[257], want[600];
    memset(qname, 'a', 255);
    qname[255] = '.';
    qname[256] = '\0';
    char params[400];
    snprintf(params, sizeof(params), "{'qname': '%s', 'qtype': 'A'}", qname);
    snprintf(want, sizeof(want), "GET /dns/lookup/%.255s%%2e/A HTTP/1.1\r\n" HEAD "\r\n", qname);
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_buf out = RBGW_BUF_INIT;
    struct golden g = {.method = "lookup"};
    struct rbgw_http_target t = target_of(&g);
    cr_assert_eq(rbgw_xlate_rpc_to_http(&t, RBGW_STR("lookup"), parse(&a, params), RBGW_STR(""),
                                        &out, NULL, 0),
                 0);
    cr_assert_str_eq(out.data, want);
    rbgw_buf_free(&out);
    rbgw_arena_free(&a);
}

/* The upstream's own headers (header=) go after the generated ones, byte for byte. */
Test(xlate, extra_headers_end_the_head)
{
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_buf out = RBGW_BUF_INIT;
    struct golden g = {.method = "getDomainInfo"};
    struct rbgw_http_target t = target_of(&g);
    t.extra = RBGW_STR("Authorization: Bearer x\r\nX-Tenant: a, b\r\n");
    cr_assert_eq(rbgw_xlate_rpc_to_http(&t, RBGW_STR("getDomainInfo"),
                                        parse(&a, "{'name': 'example.com.'}"), RBGW_STR(""), &out,
                                        NULL, 0),
                 0);
    cr_assert_str_eq(out.data, "GET /dns/getDomainInfo/example%2ecom%2e HTTP/1.1\r\n" HEAD
                               "Authorization: Bearer x\r\nX-Tenant: a, b\r\n\r\n");
    rbgw_buf_free(&out);
    rbgw_arena_free(&a);
}

/* A method name goes into the path as it is (pdns's rule); a name that is not letters and
 * digits (no pdns method is anything else) could move the request, and is refused. */
Test(xlate, hostile_method_names_are_refused)
{
    static const char *const names[] = {
        "lookup/../../admin", "getDomainInfo?x=1", "a#b", "%2e%2e", "lookup.php", "x\xff"};
    for (size_t m = 0; m < 2; m++) {
        for (size_t i = 0; i < RBGW_NELEM(names); i++) {
            struct rbgw_arena a = RBGW_ARENA_INIT;
            struct rbgw_buf out = RBGW_BUF_INIT;
            char err[256] = "";
            struct golden g = {.method = names[i]};
            struct rbgw_http_target t = target_of(&g);
            t.mode = m == 0 ? RBGW_HTTP_REST : RBGW_HTTP_POST;
            int rc = rbgw_xlate_rpc_to_http(&t, rbgw_str_cstr(names[i]), parse(&a, "{}"),
                                            RBGW_STR(""), &out, err, sizeof(err));
            cr_expect_eq(rc, RBGW_EPROTO, "mode %zu, method %s: rc %d, request:\n%s", m, names[i],
                         rc, out.data ? out.data : "");
            cr_expect(strstr(err, "method name") != NULL, "mode %zu, %s: error '%s'", m, names[i],
                      err);
            rbgw_buf_free(&out);
            rbgw_arena_free(&a);
        }
    }
}

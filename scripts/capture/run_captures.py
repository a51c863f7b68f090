#!/usr/bin/env python3
"""Drive pdns 4.7.3 against capture_http.py and write golden wire fixtures (stdlib only).

For every connector mode (REST, post, post_json) and url variant (VARIANTS: plain url,
url-suffix=.php, IPv6 host, no path, trailing slash) this starts two capture servers, a
pdns_server on 127.0.0.1:DNS_PORT using one of them, and runs a list of scenarios: pdnsutil
commands (against the other capture server), dig queries, one HTTP API call, AXFR-in from a
bind-backend pdns_server on PRIMARY_PORT (pdns_control retrieve) and one DNS NOTIFY.  Each
scenario's requests are then paired across modes by (method, occurrence)
and written to tests/fixtures/pdns-wire/<case>/:

    call.json       the JSON-RPC request exactly as pdns sent it (the post_json body, no newline)
    rest.http       exact request bytes, REST mode
    post.http       exact request bytes, post=yes
    post_json.http  exact request bytes, post=yes,post_json=yes
    meta.txt        url, path, url-suffix, host, method, occurrence, the triggering command

Values that differ between runs are aligned by post-processing the post and post_json sides to
carry the REST side's value (see docs/wire-captures.md): trxid (unix time at startTransaction)
and the generated private key of pdnsutil add-zone-key.  Everything else is made stable by the
scripted responder (key ids from a counter, fixed TSIG and zone keys imported from files).

Only loopback addresses are used; every process started here is stopped by its pid.

Usage: run_captures.py [--out DIR] [--work DIR] [--keep-raw]
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture_http as cap  # noqa: E402

DNS_PORT = 15400
PRIMARY_PORT = 15401  # a bind-backend pdns_server serving zones for AXFR-in
DEAD_PORT = 15402  # nothing listens here: a primary that never answers
SRV_PORT = 18100  # capture server for pdns_server
UTIL_PORT = 18101  # capture server for pdnsutil
API_PORT = 18102  # pdns_server webserver/API
API_KEY = "wirecapture"
BASE = "/dns"

MODES = {
    "rest": "",
    "post": ",post=yes",
    "post_json": ",post=yes,post_json=yes",
}

KSK = (
    "Private-key-format: v1.2\n"
    "Algorithm: 13 (ECDSAP256SHA256)\n"
    "PrivateKey: 7KjaOIlX7lUGURA3j+CM2ivoyTQSncP1wV9KG8EKnD4=\n"
)
ZSK = (
    "Private-key-format: v1.2\n"
    "Algorithm: 13 (ECDSAP256SHA256)\n"
    "PrivateKey: OrsHchMOUNTdfcrybunIV52wvkXOblfZ8wlvC0sjrFg=\n"
)
TSIG_B64 = "a2V5K/8+c2VjcmV0IQ=="  # contains + / = so the encoding shows
ZONEFILE = """$ORIGIN example.com.
@ 3600 IN SOA ns1.example.com. hostmaster.example.com. 2024010102 10800 3600 604800 3600
@ 3600 IN NS ns1
ns1 300 IN A 192.0.2.1
www 300 IN A 192.0.2.2
txt 300 IN TXT "hello world" "a\\"b"
"""

# Zones the primary serves for AXFR-in: an empty non-terminal (b), a delegation (sub) with glue.
PRIMARY_ZONE = """$ORIGIN {zone}.
@ 3600 IN SOA ns1.{zone}. hostmaster.{zone}. 2024010101 10800 3600 604800 3600
@ 3600 IN NS ns1
ns1 300 IN A 192.0.2.1
a.b 300 IN A 192.0.2.5
c.d.e 300 IN A 192.0.2.6
sub 300 IN NS ns.sub
ns.sub 300 IN A 192.0.2.53
"""
PRIMARY_ZONES = ["plain.test", "sec.test", "sec3.test", "abort.test"]


def secondary(zone, zid, **kw):
    z = {"id": zid, "kind": "slave", "masters": ["127.0.0.1:%d" % PRIMARY_PORT], "serial": 0}
    z.update(kw)
    return {"zones": {zone + ".": z}}


KEY7 = {"id": 7, "flags": 257, "active": True, "published": True, "content": KSK}
KEY7_OFF = {"id": 7, "flags": 257, "active": False, "published": False, "content": KSK}
ST_KEYS = {"keys": [KEY7], "next_key_id": 8}
ST_KEYS_OFF = {"keys": [KEY7_OFF], "next_key_id": 8}
ST_TSIG = {"tsig": {"k1.": ["hmac-sha256.", TSIG_B64]}}

# Scenarios: (name, kind, command, initial state, align, cases)
#   kind     util: pdnsutil argv; dig: dig argv; api: GET path on the API; control: pdns_control
#            argv; notify: zone to send a DNS NOTIFY for; startup: none
#   cases    [(case dir name, method, occurrence[, {param: value} the call must have])];
#            a param may be dotted ("rr.qname"); occurrence counts calls that match
SCENARIOS = [
    ("startup", "startup", None, {}, None, [
        ("getAllDomains-zonecache", "getAllDomains", 1),
        ("getUpdatedMasters", "getUpdatedMasters", 1),
        ("getUnfreshSlaveInfos", "getUnfreshSlaveInfos", 1),
        ("setNotified", "setNotified", 1),
    ]),
    ("dig-www", "dig", ["www.example.com", "A"], {}, None, [
        ("lookup-www", "lookup", 1, {"qname": "www.example.com.", "remote": "127.0.0.1"}),
        ("lookup-zone-apex-internal", "lookup", 1, {"qname": "example.com.", "remote": "0.0.0.0"}),
        ("getAllDomainMetadata", "getAllDomainMetadata", 1),
    ]),
    ("dig-weird", "dig", ["we/ird\\032na_me.example.com", "A"], {}, None, [
        ("lookup-weird-name", "lookup", 1, {"qname": "we/ird\\032na_me.example.com."}),
        ("lookup-wildcard-probe", "lookup", 1, {"qname": "*.example.com."}),
    ]),
    ("dig-wildcard", "dig", ["*.example.com", "TXT"], {}, None, [
        ("lookup-wildcard-name", "lookup", 1, {"qname": "*.example.com."}),
    ]),
    ("dig-upper", "dig", ["WwW.ExAmple.com", "A"], {}, None, [
        ("lookup-mixed-case", "lookup", 1, {"qname": "WwW.ExAmple.com."}),
        ("lookup-mixed-case-apex", "lookup", 1, {"qname": "ExAmple.com."}),
    ]),
    ("dig-axfr", "dig", ["example.com", "AXFR"], {}, None, [
        ("list-axfr", "list", 1),
        ("lookup-soa-no-zone-id", "lookup", 1, {"qtype": "SOA", "zone-id": -1}),
    ]),
    ("dig-nsec", "dig", ["+dnssec", "NonExist.example.com", "A"], ST_KEYS, None, [
        ("getBeforeAndAfterNamesAbsolute", "getBeforeAndAfterNamesAbsolute", 1,
         {"qname": "nonexist."}),
        ("getBeforeAndAfterNamesAbsolute-wildcard", "getBeforeAndAfterNamesAbsolute", 1,
         {"qname": "*."}),
        ("getDomainKeys-server", "getDomainKeys", 1),
    ]),
    ("dig-tsig", "dig", ["-y", "hmac-sha256:k1:" + TSIG_B64, "example.com", "SOA"], ST_TSIG,
     None, [
        ("getTSIGKey", "getTSIGKey", 1),
    ]),
    ("api-search", "api", "/api/v1/servers/localhost/search-data?q=ns1*&max=10", {}, None, [
        ("searchRecords", "searchRecords", 1),
    ]),
    ("axfr-in-plain", "control", ["retrieve", "plain.test"], secondary("plain.test", 6), "trxid", [
        ("startTransaction-axfr", "startTransaction", 1),
        ("feedRecord-axfr-glue", "feedRecord", 1, {"rr.qname": "ns.sub.plain.test."}),
        ("feedEnts", "feedEnts", 1),
        ("setFresh", "setFresh", 1),
    ]),
    ("axfr-in-nsec", "control", ["retrieve", "sec.test"],
     secondary("sec.test", 7, keys=[KEY7]), "trxid", [
        ("feedRecord-nsec-apex", "feedRecord", 1, {"rr.qname": "sec.test."}),
        ("feedRecord-nsec-delegation", "feedRecord", 1, {"rr.qname": "sub.sec.test."}),
        ("feedRecord-nsec-glue", "feedRecord", 1, {"rr.qname": "ns.sub.sec.test."}),
        ("feedEnts-nsec", "feedEnts", 1),
    ]),
    ("axfr-in-nsec3", "control", ["retrieve", "sec3.test"],
     secondary("sec3.test", 8, keys=[KEY7], meta={"NSEC3PARAM": ["1 0 1 ab"]}), "trxid", [
        ("feedRecord-nsec3", "feedRecord", 1, {"rr.qname": "a.b.sec3.test."}),
        ("feedRecord-nsec3-delegation", "feedRecord", 1, {"rr.qname": "sub.sec3.test."}),
        ("feedEnts3", "feedEnts3", 1),
    ]),
    ("axfr-in-abort", "control", ["retrieve", "abort.test"],
     dict(secondary("abort.test", 9), fail_feed=True), "trxid", [
        ("abortTransaction", "abortTransaction", 1),
    ]),
    # A NOTIFY for a secondary zone whose primary (127.0.0.1:DEAD_PORT) does not answer: the
    # SOA check fails and pdns marks the zone stale.
    ("notify-stale", "notify", "stale.test",
     {"zones": {"stale.test.": {"id": 10, "kind": "slave", "serial": 1,
                                "masters": ["127.0.0.1:%d" % DEAD_PORT]}}}, None, [
        ("setStale", "setStale", 1),
    ]),
    ("list-all-zones", "util", ["list-all-zones"], {}, None, [
        ("getAllDomains", "getAllDomains", 1),
    ]),
    ("get-meta-all", "util", ["get-meta", "example.com"], {"meta": {"X-FOO": ["old"]}}, None, [
        ("getDomainInfo", "getDomainInfo", 1),
        ("getAllDomainMetadata-util", "getAllDomainMetadata", 1),
    ]),
    ("get-meta-kind", "util", ["get-meta", "example.com", "X-FOO"], {"meta": {"X-FOO": ["old"]}},
     None, [
        ("getDomainMetadata", "getDomainMetadata", 1),
    ]),
    ("set-meta", "util", ["set-meta", "example.com", "X-FOO", "v 1", "a&b=c/d"], {}, None, [
        ("setDomainMetadata", "setDomainMetadata", 1),
    ]),
    ("set-meta-clear", "util", ["set-meta", "example.com", "X-FOO"], {"meta": {"X-FOO": ["x"]}},
     None, [
        ("setDomainMetadata-empty", "setDomainMetadata", 1),
    ]),
    ("list-zone", "util", ["list-zone", "example.com"], {}, None, [
        ("list", "list", 1),
    ]),
    ("show-zone", "util", ["show-zone", "example.com"], ST_KEYS, None, [
        ("getDomainKeys", "getDomainKeys", 1),
        ("getDomainMetadata-tsig-allow-axfr", "getDomainMetadata", 1,
         {"kind": "TSIG-ALLOW-AXFR"}),
    ]),
    ("add-zone-key", "util", ["add-zone-key", "example.com", "ksk", "active", "published",
                              "ecdsa256"], {}, "privkey", [
        ("addDomainKey-generated", "addDomainKey", 1),
    ]),
    ("import-zone-key", "util", ["import-zone-key", "example.com", "@KSKFILE@", "ksk", "active",
                                 "published"], {}, None, [
        ("addDomainKey", "addDomainKey", 1),
    ]),
    ("import-zone-key-off", "util", ["import-zone-key", "example.com", "@ZSKFILE@", "zsk",
                                     "inactive", "unpublished"], {}, None, [
        ("addDomainKey-inactive", "addDomainKey", 1),
    ]),
    ("remove-zone-key", "util", ["remove-zone-key", "example.com", "7"], ST_KEYS, None, [
        ("removeDomainKey", "removeDomainKey", 1),
    ]),
    ("activate-zone-key", "util", ["activate-zone-key", "example.com", "7"], ST_KEYS_OFF, None, [
        ("activateDomainKey", "activateDomainKey", 1),
    ]),
    ("deactivate-zone-key", "util", ["deactivate-zone-key", "example.com", "7"], ST_KEYS, None, [
        ("deactivateDomainKey", "deactivateDomainKey", 1),
    ]),
    ("publish-zone-key", "util", ["publish-zone-key", "example.com", "7"], ST_KEYS_OFF, None, [
        ("publishDomainKey", "publishDomainKey", 1),
    ]),
    ("unpublish-zone-key", "util", ["unpublish-zone-key", "example.com", "7"], ST_KEYS, None, [
        ("unpublishDomainKey", "unpublishDomainKey", 1),
    ]),
    ("import-tsig-key", "util", ["import-tsig-key", "k1", "hmac-sha256", TSIG_B64], {}, None, [
        ("setTSIGKey", "setTSIGKey", 1),
    ]),
    ("list-tsig-keys", "util", ["list-tsig-keys"], ST_TSIG, None, [
        ("getTSIGKeys", "getTSIGKeys", 1),
    ]),
    ("delete-tsig-key", "util", ["delete-tsig-key", "k1"], ST_TSIG, None, [
        ("deleteTSIGKey", "deleteTSIGKey", 1),
    ]),
    ("replace-rrset", "util", ["replace-rrset", "example.com", "www", "A", "300", "192.0.2.10",
                               "192.0.2.11"], {}, "trxid", [
        ("startTransaction-edit", "startTransaction", 1),
        ("lookup-pdnsutil-typed", "lookup", 1, {"qtype": "A"}),
        ("replaceRRSet-two-records", "replaceRRSet", 1),
        ("commitTransaction", "commitTransaction", 1),
    ]),
    ("delete-rrset", "util", ["delete-rrset", "example.com", "www", "A"], {}, "trxid", [
        ("replaceRRSet-delete", "replaceRRSet", 1),
    ]),
    ("load-zone", "util", ["load-zone", "example.com", "@ZONEFILE@"], {}, "trxid", [
        ("startTransaction-load", "startTransaction", 1),
        ("feedRecord-soa", "feedRecord", 1),
        ("feedRecord-txt", "feedRecord", 5),
        ("commitTransaction-load", "commitTransaction", 1),
    ]),
    ("backend-cmd", "util", ["backend-cmd", "remote", "PING x&y=z"], {}, None, [
        ("directBackendCmd", "directBackendCmd", 1),
    ]),
]

# Cases also captured with url-suffix=.php (stored as <case>-suffix).
SUFFIX_CASES = {
    "lookup-www", "getAllDomains", "searchRecords", "getTSIGKeys", "setDomainMetadata",
    "removeDomainKey", "activateDomainKey", "startTransaction-edit", "directBackendCmd",
    "getDomainInfo", "replaceRRSet-two-records",
}

# Cases also captured with other connector urls (pdnsutil only), as <case>-<tag>.
URL_CASES = {
    "getDomainInfo", "setDomainMetadata", "getTSIGKeys", "getAllDomains",
    "replaceRRSet-two-records", "startTransaction-edit", "removeDomainKey",
}


class Variant:
    """One connector url shape: how the url is written and what the request should carry."""

    def __init__(self, tag, urlhost, host, path, suffix, server, cases):
        self.tag = tag  # fixture dir suffix ("" for the main run)
        self.urlhost = urlhost  # host as written in url= (IPv6 in brackets)
        self.host = host  # address the capture server binds; meta.txt host (no brackets)
        self.path = path  # url path
        self.suffix = suffix  # url-suffix
        self.server = server  # also run pdns_server scenarios (dig, API, AXFR-in)
        self.cases = cases  # case names to keep; None means all


VARIANTS = [
    Variant("", "127.0.0.1", "127.0.0.1", BASE, "", True, None),
    Variant("suffix", "127.0.0.1", "127.0.0.1", BASE, ".php", True, SUFFIX_CASES),
    Variant("ipv6", "[::1]", "::1", BASE, "", False, URL_CASES),
    Variant("nopath", "127.0.0.1", "127.0.0.1", "", "", False, URL_CASES),
    Variant("slash", "127.0.0.1", "127.0.0.1", BASE + "/", "", False, URL_CASES),
]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def pdns_urlencode(s):
    """yahttp encodeURL(s, false): every byte but A-Z a-z 0-9 as %xx, lowercase hex."""
    b = s.encode("utf-8", "surrogateescape") if isinstance(s, str) else s
    return "".join(
        chr(c) if (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122) else "%%%02x" % c for c in b
    )


def write_conf(path, port, mode, var, server):
    cs = "http:url=http://%s:%d%s,timeout=5000%s" % (var.urlhost, port, var.path, MODES[mode])
    if var.suffix:
        cs += ",url-suffix=" + var.suffix
    lines = [
        "launch=remote",
        "remote-connection-string=" + cs,
        "remote-dnssec=yes",
        "security-poll-suffix=",
        "query-cache-ttl=0",
        "negquery-cache-ttl=0",
        "cache-ttl=0",
        "zone-metadata-cache-ttl=0",
        "dnssec-key-cache-ttl=0",
        "loglevel=4",
    ]
    if server:
        lines += [
            "local-address=127.0.0.1",
            "local-port=%d" % DNS_PORT,
            "daemon=no",
            "guardian=no",
            "disable-syslog=yes",
            "socket-dir=" + os.path.dirname(path),
            "distributor-threads=1",
            "receiver-threads=1",
            "allow-axfr-ips=127.0.0.1/32",
            "webserver=yes",
            "api=yes",
            "api-key=" + API_KEY,
            "webserver-address=127.0.0.1",
            "webserver-port=%d" % API_PORT,
            "webserver-allow-from=127.0.0.1/32",
            "primary=yes",
            "secondary=yes",
            "xfr-cycle-interval=3600",
            "only-notify=",
        ]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return cs


def start_primary(work):
    """A bind-backend pdns_server on 127.0.0.1:PRIMARY_PORT serving PRIMARY_ZONES for AXFR."""
    d = os.path.join(work, "primary")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    named = []
    for z in PRIMARY_ZONES:
        zf = os.path.join(d, z + ".zone")
        with open(zf, "w") as f:
            f.write(PRIMARY_ZONE.replace("{zone}", z))
        named.append('zone "%s" { type master; file "%s"; };' % (z, zf))
    with open(os.path.join(d, "named.conf"), "w") as f:
        f.write("\n".join(named) + "\n")
    with open(os.path.join(d, "pdns.conf"), "w") as f:
        f.write("\n".join([
            "launch=bind",
            "bind-config=" + os.path.join(d, "named.conf"),
            "local-address=127.0.0.1",
            "local-port=%d" % PRIMARY_PORT,
            "allow-axfr-ips=127.0.0.1/32",
            "security-poll-suffix=",
            "daemon=no",
            "guardian=no",
            "disable-syslog=yes",
            "socket-dir=" + d,
            "webserver=no",
        ]) + "\n")
    plog = open(os.path.join(d, "pdns_server.log"), "wb")
    proc = subprocess.Popen(["pdns_server", "--config-dir=" + d], stdout=plog,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    plog.close()
    if not wait_tcp(PRIMARY_PORT, time.time() + 10):
        stop_proc(proc)
        raise RuntimeError("primary pdns_server did not come up")
    return proc


def stop_proc(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def send_notify(zone):
    """Send a DNS NOTIFY (opcode 4, AA) for zone from 127.0.0.1 to pdns_server, wait for the ack."""
    qname = b"".join(bytes([len(lab)]) + lab.encode() for lab in zone.split(".") if lab) + b"\0"
    pkt = b"\x12\x34\x24\x00\x00\x01\x00\x00\x00\x00\x00\x00" + qname + b"\x00\x06\x00\x01"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(pkt, ("127.0.0.1", DNS_PORT))
        try:
            s.recvfrom(512)
        except socket.timeout:
            log("no answer to NOTIFY for " + zone)


def wait_tcp(port, deadline):
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def settle(srv, quiet=0.4, limit=5.0):
    """Wait until srv saw no new request for `quiet` seconds."""
    end = time.time() + limit
    n = len(srv.snapshot())
    last = time.time()
    while time.time() < end:
        time.sleep(0.05)
        m = len(srv.snapshot())
        if m != n:
            n, last = m, time.time()
        elif time.time() - last >= quiet:
            return


def subst_files(argv, files):
    return [files.get(a, a) for a in argv]


def run_variant(work, mode, var, files):
    """One pdns_server + pdnsutil session in one mode; returns {scenario: [Request]}."""
    vdir = os.path.join(work, mode + ("-" + var.tag if var.tag else ""))
    shutil.rmtree(vdir, ignore_errors=True)
    srvconf = os.path.join(vdir, "server", "pdns.conf")
    utilconf = os.path.join(vdir, "util", "pdns.conf")
    cs_srv = write_conf(srvconf, SRV_PORT, mode, var, True)
    cs_util = write_conf(utilconf, UTIL_PORT, mode, var, False)
    srv = cap.CaptureServer(var.host, SRV_PORT, var.path, var.suffix, None).start()
    util = cap.CaptureServer(var.host, UTIL_PORT, var.path, var.suffix, None).start()
    out = {}
    pdns = None
    try:
        if var.server:
            srv.reset(cap.Backend({"updated_master": True}), os.path.join(vdir, "raw", "startup"))
            with open(os.path.join(vdir, "pdns_server.log"), "wb") as plog:
                pdns = subprocess.Popen(
                    ["pdns_server", "--config-dir=" + os.path.dirname(srvconf)],
                    stdout=plog, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                )
            if not wait_tcp(DNS_PORT, time.time() + 10) or not wait_tcp(API_PORT, time.time() + 5):
                raise RuntimeError("pdns_server did not come up (%s)" % vdir)
            settle(srv, quiet=1.0)
        for name, kind, cmd, state, _align, _cases in SCENARIOS:
            rawdir = os.path.join(vdir, "raw", name)
            if kind != "util" and not var.server:
                continue
            if kind == "startup":
                out[name] = (srv.snapshot(), "pdns_server --config-dir=<dir> (startup)", cs_srv)
                continue
            target = util if kind == "util" else srv
            target.reset(cap.Backend(state), rawdir)
            if kind == "util":
                argv = ["pdnsutil", "--config-dir=" + os.path.dirname(utilconf)]
                argv += subst_files(cmd, files)
                shown = "pdnsutil --config-dir=<dir> " + shlex.join(cmd)
                cs = cs_util
            elif kind == "control":
                argv = ["pdns_control", "--config-dir=" + os.path.dirname(srvconf)] + cmd
                shown = "pdns_control --config-dir=<dir> " + shlex.join(cmd)
                cs = cs_srv
            elif kind == "notify":
                argv = None
                shown = "DNS NOTIFY for %s from 127.0.0.1 to 127.0.0.1:%d" % (cmd, DNS_PORT)
                cs = cs_srv
            elif kind == "dig":
                argv = ["dig", "@127.0.0.1", "-p", str(DNS_PORT), "+tries=1", "+time=5"] + cmd
                shown = "dig @127.0.0.1 -p %d %s" % (DNS_PORT, shlex.join(cmd))
                cs = cs_srv
            else:
                argv = None
                shown = "GET http://127.0.0.1:%d%s (X-API-Key)" % (API_PORT, cmd)
                cs = cs_srv
            if kind == "notify":
                send_notify(cmd)
            elif argv:
                r = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
                os.makedirs(rawdir, exist_ok=True)
                with open(os.path.join(rawdir, "_output.txt"), "wb") as f:
                    f.write(b"$ " + shlex.join(argv).encode() + b"\nrc=%d\n" % r.returncode)
                    f.write(r.stdout + r.stderr)
            else:
                req = urllib.request.Request(
                    "http://127.0.0.1:%d%s" % (API_PORT, cmd), headers={"X-API-Key": API_KEY}
                )
                with urllib.request.urlopen(req, timeout=10) as resp:
                    resp.read()
            settle(target, quiet={"control": 1.5, "notify": 8.0}.get(kind, 0.4), limit=30)
            out[name] = (target.snapshot(), shown, cs)
    finally:
        if pdns is not None:
            stop_proc(pdns)
        srv.stop()
        util.stop()
    return out


def get_trxids(reqs):
    vals = []
    for r in reqs:
        v = r.params.get("trxid")
        if isinstance(v, int) and v > 0 and v not in vals:
            vals.append(v)
    return vals


def privkey(r):
    key = r.params.get("key", {})
    m = re.search(r"PrivateKey: (\S+)", key.get("content", ""))
    return m.group(1) if m else None


def rewrite_body(raw, pairs, encoded):
    """Replace old->new inside the body of raw, fix Content-Length."""
    i = raw.index(b"\r\n\r\n") + 4
    head, body = raw[:i], raw[i:]
    if encoded:
        # post: the body is "parameters=" + the JSON text, every non-alphanumeric byte as %xx;
        # decoding and re-encoding is lossless, so substitute on the JSON text.
        orig = body
        body = urllib.parse.unquote_to_bytes(body[len(b"parameters=") :].decode("latin-1"))
        if b"parameters=" + pdns_urlencode(body).encode() != orig:
            raise RuntimeError("post body does not re-encode losslessly: %r" % orig[:80])
    for old, new in pairs:
        pat = re.compile(rb"(?<![0-9A-Za-z])" + re.escape(old.encode()) + rb"(?![0-9A-Za-z])")
        body = pat.sub(lambda _m: new.encode(), body)
    if encoded:
        body = b"parameters=" + pdns_urlencode(body).encode()
    head = re.sub(rb"(\r\nContent-Length: )\d+", lambda m: m.group(1) + b"%d" % len(body), head)
    return head + body


def align(kind, rest, other, other_mode):
    """Make `other` (post or post_json requests) carry the REST run's varying values."""
    if kind is None:
        return other, []
    if kind == "trxid":
        pairs = [(str(o), str(n)) for o, n in zip(get_trxids(other), get_trxids(rest)) if o != n]
    else:
        ko = [privkey(r) for r in other if r.method == "addDomainKey"]
        kn = [privkey(r) for r in rest if r.method == "addDomainKey"]
        pairs = [(o, n) for o, n in zip(ko, kn) if o and n and o != n]
    if not pairs:
        return other, []
    enc = other_mode == "post"
    out = []
    for r in other:
        raw = rewrite_body(r.raw, pairs, enc)
        body = raw[raw.index(b"\r\n\r\n") + 4 :]
        if other_mode == "post_json":
            obj = json.loads(body.decode("utf-8", "surrogateescape"))
            params = obj.get("parameters", {})
        else:
            js = urllib.parse.unquote_to_bytes(body[len(b"parameters=") :].decode("latin-1"))
            params = json.loads(js.decode("utf-8", "surrogateescape"))
        out.append(cap.Request(r.seq, r.conn, raw, r.mode, r.method, params))
    return out, pairs


def param(params, dotted):
    v = params
    for part in dotted.split("."):
        v = v.get(part) if isinstance(v, dict) else None
    return v


def pick(reqs, method, occ, where):
    n = 0
    for r in reqs:
        if r.method == method and all(param(r.params, k) == v for k, v in where.items()):
            n += 1
            if n == occ:
                return r
    return None


def write_case(outdir, case, reqs_by_mode, shown, cs, var, method, occ, where, notes):
    d = os.path.join(outdir, case)
    os.makedirs(d, exist_ok=True)
    for mode, r in reqs_by_mode.items():
        with open(os.path.join(d, mode + ".http"), "wb") as f:
            f.write(r.raw)
    pj = reqs_by_mode["post_json"].raw
    with open(os.path.join(d, "call.json"), "wb") as f:
        f.write(pj[pj.index(b"\r\n\r\n") + 4 :])
    url = re.search(r"url=([^,]*)", cs).group(1)
    meta = [
        "url: " + url,
        "host: " + var.host,
        "path: " + var.path,
        "url-suffix: " + var.suffix,
        "method: " + method,
        "occurrence: %d" % occ,
        "selected-by: " + json.dumps(where, sort_keys=True),
        "connection-string (rest): " + re.sub(r",post.*", "", cs),
        "command: " + shown,
    ]
    meta += ["note: " + n for n in notes]
    with open(os.path.join(d, "meta.txt"), "w") as f:
        f.write("\n".join(meta) + "\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(root, "tests", "fixtures", "pdns-wire"))
    ap.add_argument("--work", default="/tmp/rbgw-wirecap")
    ap.add_argument("--only", help="comma-separated scenario names")
    a = ap.parse_args()
    if a.only:
        keep = set(a.only.split(","))
        SCENARIOS[:] = [s for s in SCENARIOS if s[0] in keep or s[0] == "startup"]
    os.makedirs(a.work, exist_ok=True)
    files = {}
    for tag, content in (("@KSKFILE@", KSK), ("@ZSKFILE@", ZSK), ("@ZONEFILE@", ZONEFILE)):
        p = os.path.join(a.work, tag.strip("@").lower() + ".txt")
        with open(p, "w") as f:
            f.write(content)
        files[tag] = p

    runs = {}
    primary = start_primary(a.work)
    try:
        for var in VARIANTS:
            for mode in MODES:
                log("== capturing mode=%s variant=%r" % (mode, var.tag))
                runs[(mode, var.tag)] = run_variant(a.work, mode, var, files)
    finally:
        stop_proc(primary)

    problems = []
    written = 0
    for var in VARIANTS:
        for name, _kind, _cmd, _state, alignkind, cases in SCENARIOS:
            if name not in runs[("rest", var.tag)]:
                continue
            rest, shown, cs = runs[("rest", var.tag)][name]
            seqs = {}
            by_mode = {"rest": rest}
            notes = []
            for mode in ("post", "post_json"):
                reqs, _, _ = runs[(mode, var.tag)][name]
                reqs, pairs = align(alignkind, rest, reqs, mode)
                by_mode[mode] = reqs
                for o, n in pairs:
                    notes.append("%s: %s %s replaced by REST value %s" % (mode, alignkind, o, n))
            for mode, reqs in by_mode.items():
                seqs[mode] = [r.method for r in reqs]
            if not (seqs["rest"] == seqs["post"] == seqs["post_json"]):
                problems.append("%s/%s: method sequences differ: %s" % (name, var.tag, seqs))
            for case, method, occ, *rest_where in cases:
                where = rest_where[0] if rest_where else {}
                if var.cases is not None and case not in var.cases:
                    continue
                picked = {m: pick(by_mode[m], method, occ, where) for m in by_mode}
                if any(v is None for v in picked.values()):
                    problems.append("%s: %s #%d missing in %s" % (
                        case, method, occ, [m for m, v in picked.items() if v is None]))
                    continue
                jp = picked["post_json"].params
                if picked["post"].params != jp:
                    problems.append("%s: post params %r != post_json params %r" % (
                        case, picked["post"].params, jp))
                cname = case + ("-" + var.tag if var.tag else "")
                write_case(a.out, cname, picked, shown, cs, var, method, occ, where, notes)
                written += 1
    # one sequence listing per scenario, for docs/wire-captures.md
    with open(os.path.join(a.work, "sequences.txt"), "wb") as f:
        for name, *_ in SCENARIOS:
            reqs, shown, _ = runs[("post_json", "")][name]
            f.write(("%s: %s\n" % (name, shown)).encode())
            for r in reqs:
                f.write(b"    " + r.body + b"\n")
    log("wrote %d fixture dirs to %s" % (written, a.out))
    for p in problems:
        log("PROBLEM: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

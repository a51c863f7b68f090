#!/usr/bin/env python3
"""responder.py: a small PowerDNS remote-backend responder over HTTP, for rbgw's demo and tests.

It serves the zones of a JSON file (examples/zone.json: example.com.) read-only, and understands
the three HTTP dialects pdns (and rbgw) can speak, detected per request (docs/protocol.md §4.5-§6.2):

  post_json  POST <prefix> with the request object {"method":..., "parameters":{...}} as body;
  post       POST <prefix>/<method> with the form body parameters=<percent-encoded JSON>;
  REST       <VERB> <prefix>/<method>/<segment>... : the path is split on '/' BEFORE each segment
             is percent-decoded (so an encoded '/' inside a name survives), the segments are
             assigned to parameters by position (REST_SEGMENTS), X-RemoteBackend-* headers and
             the query string / form body supply the rest.

Every reply is HTTP/1.1 200 with Content-Length and a JSON object carrying a non-null "result"
(pdns rebuilds its connector on anything else, §1.3/§8.2), on a keep-alive connection.  Unknown
methods, and errors inside a handler, answer {"result": false}.  Only the Python 3 standard
library is used.

  python3 examples/responder.py --listen 127.0.0.1:8053 --prefix /dns --zone examples/zone.json
"""

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote_to_bytes

# REST: which parameter each path segment after the method carries (docs/protocol.md §6.2).
REST_SEGMENTS = {
    "lookup": ["qname", "qtype"],
    "APILookup": ["qname", "qtype"],
    "list": ["domain_id", "zonename"],
    "getBeforeAndAfterNamesAbsolute": ["id", "qname"],
    "getAllDomainMetadata": ["name"],
    "getDomainMetadata": ["name", "kind"],
    "setDomainMetadata": ["name", "kind"],
    "getDomainKeys": ["name"],
    "addDomainKey": ["name"],
    "removeDomainKey": ["id", "name"],
    "activateDomainKey": ["id", "name"],
    "deactivateDomainKey": ["id", "name"],
    "publishDomainKey": ["id", "name"],
    "unpublishDomainKey": ["id", "name"],
    "getTSIGKey": ["name"],
    "setTSIGKey": ["name"],
    "deleteTSIGKey": ["name"],
    "getDomainInfo": ["name"],
    "setNotified": ["id"],
    "superMasterBackend": ["ip", "domain"],
    "createSlaveDomain": ["ip", "domain"],
    "replaceRRSet": ["domain_id", "qname", "qtype"],
    "feedRecord": ["trxid"],
    "feedEnts": ["domain_id", "trxid"],
    "feedEnts3": ["domain_id", "domain", "trxid"],
    "startTransaction": ["domain_id", "domain", "trxid"],
    "commitTransaction": ["trxid"],
    "abortTransaction": ["trxid"],
    "setStale": ["id"],
    "setFresh": ["id"],
}
INT_PARAMS = {"id", "domain_id", "zone-id", "trxid"}


def norm(name):
    """Canonical form for comparisons: lowercase, absolute (trailing dot)."""
    name = name.lower()
    return name if name.endswith(".") else name + "."


def to_int(value, default=-1):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class Zone:
    def __init__(self, spec):
        self.id = int(spec["id"])
        self.name = spec["name"] if spec["name"].endswith(".") else spec["name"] + "."
        self.records = []
        self.by_name = {}
        for r in spec["records"]:
            rec = {
                "qname": r["qname"],
                "qtype": r["qtype"].upper(),
                "content": r["content"],
                "ttl": int(r.get("ttl", 3600)),
                "domain_id": self.id,
                "auth": 1,
            }
            self.records.append(rec)
            self.by_name.setdefault(norm(rec["qname"]), []).append(rec)
        soa = [r for r in self.records if r["qtype"] == "SOA"]
        if len(soa) != 1:
            raise ValueError("zone %s needs exactly one SOA record" % self.name)
        self.serial = int(soa[0]["content"].split()[2])

    def info(self):
        """DomainInfo object (docs/protocol.md §3.3)."""
        return {
            "id": self.id,
            "zone": self.name,
            "kind": "native",
            "serial": self.serial,
            "notified_serial": self.serial,
            "last_check": 0,
            "masters": [],
        }


class Backend:
    """The remote-backend methods, on plain method names and JSON-typed parameters."""

    def __init__(self, zones):
        self.zones = zones
        self.methods = {
            "initialize": lambda p: True,
            "lookup": self.lookup,
            "list": self.list,
            "getAllDomains": lambda p: [z.info() for z in self.zones],
            "getDomainInfo": self.get_domain_info,
            "getAllDomainMetadata": lambda p: {},
            "getDomainMetadata": lambda p: [],
            "getDomainKeys": lambda p: False,
            "getBeforeAndAfterNamesAbsolute": lambda p: False,
            "getUpdatedMasters": lambda p: [],
        }
        # The reference responders lowercase the method segment; accept either spelling.
        self.lower = {name.lower(): fn for name, fn in self.methods.items()}

    def call(self, method, params):
        fn = self.methods.get(method) or self.lower.get(method.lower())
        return fn(params) if fn else False

    def zone_by_name(self, name):
        name = norm(name)
        return next((z for z in self.zones if norm(z.name) == name), None)

    def zone_by_id(self, zone_id):
        return next((z for z in self.zones if z.id == zone_id), None)

    def lookup(self, p):
        qname, qtype = norm(p["qname"]), p.get("qtype", "ANY").upper()
        zone_id = to_int(p.get("zone-id"))
        found = []
        for z in self.zones:
            if zone_id >= 0 and z.id != zone_id:
                continue
            for rec in z.by_name.get(qname, []):
                if qtype == "ANY" or rec["qtype"] == qtype:
                    found.append(rec)
        return found

    def list(self, p):
        domain_id = to_int(p.get("domain_id"))
        z = self.zone_by_id(domain_id) if domain_id >= 0 else None
        z = z or self.zone_by_name(p.get("zonename", ""))
        return z.records if z else False

    def get_domain_info(self, p):
        z = self.zone_by_name(p.get("name", ""))
        return z.info() if z else False


class Handler(BaseHTTPRequestHandler):
    # Headers and body are separate writes: without TCP_NODELAY, Nagle plus the client's
    # delayed ACK stall every kept-alive response by ~40 ms.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"  # keep-alive; every reply has a Content-Length
    server_version = "rbgw-example-responder/1"

    def do_GET(self):
        body = self.read_body()
        try:
            mode, method, params = self.decode(body)
            result = self.server.backend.call(method, params)
            reply = {"result": result}
        except Exception as e:  # never answer with HTML or an empty body
            mode, method, params = "?", "?", {}
            reply = {"result": False, "log": ["responder: %s: %s" % (type(e).__name__, e)]}
        if self.server.verbose:
            res = reply["result"]
            summary = "%d items" % len(res) if isinstance(res, list) else json.dumps(res)[:60]
            sys.stderr.write("responder: %s %s %s -> %s\n"
                             % (mode, method, json.dumps(params), summary))
        self.send_json(reply)

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers up to the blank line
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()  # CRLF after each chunk
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def decode(self, body):
        """Return (mode, method, params) for this request."""
        path, _, query = self.path.partition("?")
        segments = path.split("/")  # split BEFORE percent-decoding
        prefix = self.server.prefix_segments
        if segments[: len(prefix)] != prefix:
            raise ValueError("path %r is outside prefix %r" % (path, self.server.prefix))
        rest = segments[len(prefix):]

        if self.command == "POST" and body.lstrip().startswith(b"{"):
            req = json.loads(body)
            return "post_json", req["method"], req.get("parameters", {})

        if not rest or not rest[0]:
            raise ValueError("no method in path %r" % path)
        method = rest[0]
        form = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        if self.command == "POST" and form and form[0][0] == "parameters":
            return "post", method, json.loads(form[0][1])

        # REST: positional segments, then headers, query string and form body.
        params = {}
        names = REST_SEGMENTS.get(method, [])
        values = [unquote_to_bytes(s).decode("utf-8", "replace") for s in rest[1:]]
        for i, value in enumerate(values):
            key = names[i] if i < len(names) else "segment%d" % i
            params[key] = to_int(value, value) if key in INT_PARAMS else value
        for name, value in self.headers.items():
            if name.lower().startswith("x-remotebackend-"):
                key = name[len("x-remotebackend-"):].lower()
                params[key] = to_int(value, value) if key in INT_PARAMS else value
        for key, value in parse_qsl(query, keep_blank_values=True) + form:
            if key == "includeDisabled":
                params["include_disabled"] = value == "true"
            elif key.endswith("[]"):
                params.setdefault(key[:-2], []).append(value)
            else:
                params[key] = value
        return "rest", method, params

    def send_json(self, obj):
        data = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("responder: %s %s\n" % (self.address_string(), fmt % args))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="Example PowerDNS remote-backend HTTP responder")
    ap.add_argument("--listen", default="127.0.0.1:8053", help="IPv4 HOST:PORT to listen on")
    ap.add_argument("--prefix", default="/dns", help="URL path prefix (pdns's url path)")
    ap.add_argument("--zone", default=os.path.join(here, "zone.json"), help="zone data (JSON)")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = ap.parse_args()

    with open(args.zone) as f:
        zones = [Zone(spec) for spec in json.load(f)["zones"]]
    host, _, port = args.listen.rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), Handler)
    server.backend = Backend(zones)
    server.prefix = args.prefix.rstrip("/")
    server.prefix_segments = server.prefix.split("/")
    server.verbose = args.verbose
    # Always written, once the socket is bound: scripts wait for this line to know it serves.
    sys.stderr.write("responder: serving %s on http://%s%s\n"
                     % (", ".join(z.name for z in zones), args.listen, server.prefix))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

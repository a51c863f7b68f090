#!/usr/bin/env python3
"""Capture HTTP server for PowerDNS's remote backend http connector (Python 3 stdlib only).

It accepts pdns's keep-alive connections on a loopback address, records every request exactly as
received (request line, headers and body, CRLFs kept) and answers with scripted JSON, so that
pdns_server and pdnsutil keep going and send the next call.  One file per request is written to
the output directory, named NNNN-<method>.http.

The responder understands all three http connector modes, detected per request:
  post_json  Content-Type text/javascript: the body is the JSON-RPC request itself;
  post       body "parameters=<percent-encoded JSON>", method from the last path segment;
  REST       method from the first path segment after the base path, parameters rebuilt from
             path components, the form body and the query string (only as far as the scripted
             answers need them).

The scripted backend (class Backend) is a tiny stateful store: one zone (example.com. with id 5),
its metadata, DNSSEC keys and TSIG keys.  Writes return true; addDomainKey returns the next key
id from a counter, so key ids are the same in every run.

Used as a module by run_captures.py, or standalone:
    capture_http.py --listen 127.0.0.1:18100 --base /dns --suffix .php --out /tmp/cap
"""

import argparse
import copy
import fnmatch
import json
import os
import re
import socket
import threading
import urllib.parse

ZONE = "example.com."
ZONE_ID = 5
SERIAL = 2024010101

DEFAULT_RECORDS = [
    (ZONE, "SOA", "ns1.example.com. hostmaster.example.com. %d 10800 3600 604800 3600" % SERIAL),
    (ZONE, "NS", "ns1.example.com."),
    ("ns1." + ZONE, "A", "192.0.2.1"),
    ("www." + ZONE, "A", "192.0.2.2"),
]

# Components pdns puts in the REST path, per method (protocol.md 5.2/5.3), used to rebuild the
# parameters of a REST request.
REST_COMPONENTS = {
    "lookup": ["qname", "qtype"],
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

NO_RESULT = object()  # answer() sentinel: reply with an object that has no "result"

INT_PARAMS = {"id", "domain_id", "trxid", "zone-id", "maxResults", "flags"}


def unquote(s):
    """Percent-decode a path component or form value to a str (bytes kept via latin-1)."""
    return urllib.parse.unquote_to_bytes(s).decode("latin-1")


def canon_key(rel):
    """Canonical DNS ordering key for a name relative to the zone ('' is the apex)."""
    labels = [lab for lab in rel.lower().split(".") if lab]
    return list(reversed(labels))


class Backend:
    """Scripted, stateful answers for every method pdns 4.7.3 sends.

    State (a dict, all keys optional):
      kind, meta, keys   example.com.'s kind, metadata {kind: [values]} and DNSSEC keys
      zones              more zones: {name: {id, kind, masters, serial, meta, keys}}; they have
                         no records here (they are filled by AXFR-in, whose writes return true)
      tsig               {keyname: [algorithm, base64]}
      next_key_id        id that addDomainKey returns next (default 7)
      updated_master     getUpdatedMasters returns example.com. once, as a primary whose
                         notified_serial is behind, so pdns calls setNotified
      fail_feed          feedRecord gets a reply without "result" (pdns ignores a false
                         result there), so pdns throws and aborts the transfer
    """

    def __init__(self, state=None):
        st = state or {}
        self.records = [
            {"qname": n, "qtype": t, "content": c, "ttl": 300, "auth": 1, "domain_id": ZONE_ID}
            for (n, t, c) in DEFAULT_RECORDS
        ]
        self.zones = {
            ZONE: {
                "id": ZONE_ID,
                "kind": st.get("kind", "native"),
                "masters": [],
                "serial": SERIAL,
                "meta": copy.deepcopy(st.get("meta", {})),
                "keys": copy.deepcopy(st.get("keys", [])),
            }
        }
        for name, z in st.get("zones", {}).items():
            zz = {"kind": "native", "masters": [], "serial": 0, "meta": {}, "keys": []}
            zz.update(copy.deepcopy(z))
            self.zones[name.lower()] = zz
        self.tsig = copy.deepcopy(st.get("tsig", {}))
        self.next_key_id = st.get("next_key_id", 7)
        self.updated_master = st.get("updated_master", False)
        self.fail_feed = st.get("fail_feed", False)
        self.lock = threading.Lock()

    def zone(self, name):
        if not isinstance(name, str):
            return None
        n = name.lower()
        return self.zones.get(n if n.endswith(".") else n + ".")

    def domain_info(self, name):
        z = self.zones[name]
        return {
            "id": z["id"],
            "zone": name,
            "kind": z["kind"],
            "serial": z["serial"],
            "notified_serial": z["serial"],
            "last_check": 0,
            "masters": z["masters"],
        }

    def answer(self, method, p):
        with self.lock:
            fn = getattr(self, "m_" + method, None)
            if fn is None:
                return False
            return fn(p)

    # --- reads
    def m_lookup(self, p):
        qname = str(p.get("qname", "")).lower()
        qtype = p.get("qtype", "ANY")
        return [
            r
            for r in self.records
            if r["qname"].lower() == qname and (qtype == "ANY" or r["qtype"] == qtype)
        ]

    def m_list(self, p):
        if self.zone(p.get("zonename")) is self.zones[ZONE]:
            return list(self.records)
        return False

    def m_getAllDomains(self, p):
        return [self.domain_info(n) for n in sorted(self.zones)]

    def m_getDomainInfo(self, p):
        n = str(p.get("name", "")).lower()
        n = n if n.endswith(".") else n + "."
        return self.domain_info(n) if n in self.zones else False

    def m_getAllDomainMetadata(self, p):
        z = self.zone(p.get("name"))
        return dict(z["meta"]) if z else {}

    def m_getDomainMetadata(self, p):
        z = self.zone(p.get("name"))
        return list(z["meta"].get(p.get("kind"), [])) if z else []

    def m_getDomainKeys(self, p):
        z = self.zone(p.get("name"))
        return [dict(k) for k in z["keys"]] if z else []

    def m_getTSIGKey(self, p):
        k = self.tsig.get(p.get("name", "").lower())
        if k is None:
            return False
        return {"algorithm": k[0], "content": k[1]}

    def m_getTSIGKeys(self, p):
        keys = sorted(self.tsig.items())
        return [{"name": n, "algorithm": a, "content": c} for n, (a, c) in keys]

    def m_getBeforeAndAfterNamesAbsolute(self, p):
        # NSEC only: qname is relative to the zone, lowercased, with a trailing dot.
        q = str(p.get("qname", "."))
        qrel = "" if q == "." else q.rstrip(".")
        names = sorted(
            {r["qname"].lower()[: -len(ZONE)].rstrip(".") for r in self.records},
            key=canon_key,
        )
        before = None
        after = None
        for n in names:
            if canon_key(n) < canon_key(qrel):
                before = n
            elif canon_key(n) > canon_key(qrel) and after is None:
                after = n
        if after is None:
            after = names[0]
        # pdns appends the zone to before/after; null stands for the apex.
        return {
            "unhashed": qrel,
            "before": before if before else None,
            "after": after if after else None,
        }

    def m_searchRecords(self, p):
        pat = str(p.get("pattern", "")).lower()
        mx = int(p.get("maxResults", 100))
        out = [
            r
            for r in self.records
            if fnmatch.fnmatchcase(r["qname"].lower().rstrip("."), pat)
            or fnmatch.fnmatchcase(r["content"].lower(), pat)
        ]
        return out[:mx]

    def m_getUpdatedMasters(self, p):
        if not self.updated_master:
            return []
        self.updated_master = False
        di = self.domain_info(ZONE)
        di["kind"] = "master"
        di["notified_serial"] = SERIAL - 1
        return [di]

    def m_getUnfreshSlaveInfos(self, p):
        return []

    def m_directBackendCmd(self, p):
        return "capture: " + str(p.get("query", ""))

    # --- writes
    def m_setDomainMetadata(self, p):
        z = self.zone(p.get("name"))
        if z is None:
            return False
        vals = p.get("value", [])
        if vals:
            z["meta"][p.get("kind")] = list(vals)
        else:
            z["meta"].pop(p.get("kind"), None)
        return True

    def m_addDomainKey(self, p):
        z = self.zone(p.get("name"))
        if z is None:
            return False
        k = dict(p.get("key", {}))
        k["id"] = self.next_key_id
        self.next_key_id += 1
        z["keys"].append(k)
        return k["id"]

    def _key(self, p):
        z = self.zone(p.get("name"))
        for k in z["keys"] if z else []:
            if str(k["id"]) == str(p.get("id")):
                return z, k
        return None, None

    def m_removeDomainKey(self, p):
        z, k = self._key(p)
        if k is None:
            return False
        z["keys"].remove(k)
        return True

    def _flip(self, p, field, val):
        _z, k = self._key(p)
        if k is None:
            return False
        k[field] = val
        return True

    def m_activateDomainKey(self, p):
        return self._flip(p, "active", True)

    def m_deactivateDomainKey(self, p):
        return self._flip(p, "active", False)

    def m_publishDomainKey(self, p):
        return self._flip(p, "published", True)

    def m_unpublishDomainKey(self, p):
        return self._flip(p, "published", False)

    def m_setTSIGKey(self, p):
        self.tsig[p.get("name", "").lower()] = (p.get("algorithm", ""), p.get("content", ""))
        return True

    def m_deleteTSIGKey(self, p):
        self.tsig.pop(p.get("name", "").lower(), None)
        return True

    def m_feedRecord(self, p):
        return NO_RESULT if self.fail_feed else True

    def _true(self, p):
        return True

    m_replaceRRSet = _true
    m_feedEnts = _true
    m_feedEnts3 = _true
    m_startTransaction = _true
    m_commitTransaction = _true
    m_abortTransaction = _true
    m_setNotified = _true
    m_setStale = _true
    m_setFresh = _true
    m_superMasterBackend = _true
    m_createSlaveDomain = _true


class Request:
    """One recorded request: exact bytes plus what the responder made of them."""

    def __init__(self, seq, conn, raw, mode, method, params):
        self.seq = seq  # global arrival order within the server
        self.conn = conn  # connection number (pdns backend instance)
        self.raw = raw  # exact bytes: head + body
        self.mode = mode  # "rest", "post" or "post_json"
        self.method = method
        self.params = params  # decoded parameters (post/post_json exact, REST rebuilt)

    @property
    def body(self):
        i = self.raw.find(b"\r\n\r\n")
        return self.raw[i + 4 :] if i >= 0 else b""


def parse_form(body):
    """Form body -> dict; 'x[]' keys collect lists; bare tokens (4.x bools) are skipped."""
    out = {}
    for tok in body.split("&") if body else []:
        if "=" not in tok:
            continue
        k, v = tok.split("=", 1)
        v = unquote(v)
        if k.endswith("[]"):
            out.setdefault(k[:-2], []).append(v)
        else:
            out[k] = v
    return out


def rest_params(method, comps, form, query):
    p = {}
    for name, val in zip(REST_COMPONENTS.get(method, []), comps):
        p[name] = unquote(val)
    if method == "setDomainMetadata":
        p["value"] = form.get("value", [])
    elif method == "addDomainKey":
        p["key"] = {
            "flags": int(form.get("flags", "0")),
            "active": form.get("active") == "1",
            "published": form.get("published") == "1",
            "content": form.get("content", ""),
        }
    elif method in ("setTSIGKey", "directBackendCmd"):
        p.update(form)
    elif method == "getAllDomains":
        p["include_disabled"] = query.get("includeDisabled") == "true"
    elif method == "searchRecords":
        p.update(query)
    elif method == "feedRecord":
        # rr[key]=value members (a 4.x bool member is a bare token and is lost here)
        p["rr"] = {k[3:-1]: v for k, v in form.items() if k.startswith("rr[")}
    for k in list(p):
        if k in INT_PARAMS and isinstance(p[k], str) and re.fullmatch(r"-?\d+", p[k]):
            p[k] = int(p[k])
    return p


class CaptureServer:
    """Threaded raw-socket HTTP/1.1 server that records and answers pdns's requests."""

    def __init__(self, host, port, base="/dns", suffix="", outdir=None, backend=None):
        self.base = base.rstrip("/")
        self.suffix = suffix or ""
        self.outdir = outdir
        self.backend = backend or Backend()
        self.requests = []
        self.lock = threading.Lock()
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.nconn = 0
        self.conns = []
        self.closing = False
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.closing = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()
            self.conns = []

    def reset(self, backend=None, outdir=None):
        """Start a new capture segment: new scripted state, fresh request list."""
        with self.lock:
            if backend is not None:
                self.backend = backend
            self.outdir = outdir
            self.requests = []

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def _accept_loop(self):
        while not self.closing:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.nconn += 1
                n = self.nconn
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(c, n), daemon=True).start()

    def _serve(self, c, n):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                hend = buf.index(b"\r\n\r\n") + 4
                head = buf[:hend].decode("latin-1")
                m = re.search(r"\r\ncontent-length:\s*(\d+)", head, re.I)
                clen = int(m.group(1)) if m else 0
                while len(buf) < hend + clen:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                raw, buf = buf[: hend + clen], buf[hend + clen :]
                reply = self._handle(n, raw)
                c.sendall(reply)
        except OSError:
            return
        finally:
            c.close()

    def _decode(self, raw):
        hend = raw.index(b"\r\n\r\n")
        lines = raw[:hend].decode("latin-1").split("\r\n")
        verb, target, _ = lines[0].split(" ", 2)
        headers = {}
        for ln in lines[1:]:
            k, v = ln.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        body = raw[hend + 4 :].decode("latin-1")
        path, _, qs = target.partition("?")
        query = {k: unquote(v) for k, v in (t.split("=", 1) for t in qs.split("&") if "=" in t)}
        ctype = headers.get("content-type", "")
        if ctype.startswith("text/javascript"):
            # post_json: the body is the request object (bytes kept as latin-1 -> utf-8 text).
            obj = json.loads(raw[hend + 4 :].decode("utf-8", "surrogateescape"))
            return "post_json", obj["method"], obj.get("parameters", {})
        if path.startswith(self.base + "/"):
            path = path[len(self.base) + 1 :]
        path = path.lstrip("/")  # a url without a path, or one ending in "/" (gives "//")
        if self.suffix and path.endswith(self.suffix):
            path = path[: -len(self.suffix)]
        segs = path.split("/")
        method = segs[0]
        if verb == "POST" and body.startswith("parameters="):
            js = urllib.parse.unquote_to_bytes(body[len("parameters=") :])
            return "post", method, json.loads(js.decode("utf-8", "surrogateescape"))
        params = rest_params(method, segs[1:], parse_form(body), query)
        for h in ("local", "remote", "real-remote", "zone-id", "trxid"):
            v = headers.get("x-remotebackend-" + h)
            if v is not None and h not in params:
                params[h] = int(v) if h in INT_PARAMS else v
        return "rest", method, params

    def _handle(self, n, raw):
        try:
            mode, method, params = self._decode(raw)
        except (ValueError, KeyError) as e:
            mode, method, params = "?", "unparsable", {"error": str(e)}
        result = self.backend.answer(method, params)
        with self.lock:
            seq = len(self.requests) + 1
            req = Request(seq, n, raw, mode, method, params)
            self.requests.append(req)
            if self.outdir:
                os.makedirs(self.outdir, exist_ok=True)
                fn = os.path.join(self.outdir, "%04d-%s.http" % (seq, method))
                with open(fn, "wb") as f:
                    f.write(raw)
        if result is NO_RESULT:
            body = json.dumps({"log": ["capture_http: reply without result"]}).encode()
        else:
            body = json.dumps({"result": result}).encode()
        return (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % len(body)
            + body
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", default="127.0.0.1:18100", help="host:port (127.x or ::1)")
    ap.add_argument("--base", default="/dns", help="path of the connector url")
    ap.add_argument("--suffix", default="", help="url-suffix of the connector")
    ap.add_argument("--out", required=True, help="directory for NNNN-<method>.http files")
    ap.add_argument("--state", help="JSON file with initial meta/keys/tsig/kind")
    a = ap.parse_args()
    host, port = a.listen.rsplit(":", 1)
    if not (host.startswith("127.") or host == "::1"):
        ap.error("loopback addresses only")
    state = None
    if a.state:
        with open(a.state) as f:
            state = json.load(f)
    srv = CaptureServer(host, int(port), a.base, a.suffix, a.out, Backend(state)).start()
    try:
        srv.thread.join()
    except KeyboardInterrupt:
        srv.stop()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""responder_pipe.py: a PowerDNS remote-backend responder on the JSON stream connectors (pipe and
unix), for rbgw's demo and tests.  It serves the same zones as examples/responder.py (the same
Zone and Backend classes, imported from it), read-only.

Framing (docs/protocol.md §4.1, §4.2): each request is one line of JSON; if a line does not parse on
its own, the next line is appended until the text parses (as pdns reads its pipe).  Each reply is
exactly one line: a compact JSON object with a non-null "result", then '\n', flushed at once.
Nothing but replies is ever written to the reply stream; logs go to stderr.  Unknown methods,
unparsable requests and errors inside a handler answer {"result": false, "log": [...]}, so every
request gets exactly one reply.

Modes:
  pipe (default)  requests on stdin, replies on stdout; runs until stdin reaches EOF and never
                  exits on its own before that (pdns cannot recover an instance whose co-process
                  exited between calls).  This is what `upstream=pipe:command=...` spawns.
  --unix PATH     listen on a unix stream socket; one thread per connection, each connection
                  an independent line stream starting with its own `initialize`.  A stale
                  socket file is replaced; the file is removed on SIGINT/SIGTERM.

  python3 examples/responder_pipe.py --verbose                         # pipe co-process
  python3 examples/responder_pipe.py --unix /tmp/resp.sock --verbose   # unix socket server

Only the Python 3 standard library is used.  examples/responder_zmq.py reuses load_backend()
and handle() from here for its ZeroMQ transport.
"""

import argparse
import json
import os
import signal
import socket
import socketserver
import sys
import threading

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, HERE)
from responder import Backend, Zone  # noqa: E402  (same directory, same zone logic)

_log_lock = threading.Lock()
PROG = "responder_pipe"  # log prefix; responder_zmq.py sets its own


def log(text):
    """One line to stderr, whole (threads must not interleave partial lines)."""
    with _log_lock:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def load_backend(zone_file):
    with open(zone_file) as f:
        return Backend([Zone(spec) for spec in json.load(f)["zones"]])


def handle(backend, text, tag, verbose):
    """Answer one request (JSON text, str or bytes); return the reply as compact JSON bytes."""
    method, params = "?", {}
    try:
        req = json.loads(text)
        if not isinstance(req, dict) or not isinstance(req.get("method"), str):
            raise ValueError("not a remote-backend call: %r" % (text[:80],))
        method = req["method"]
        params = req.get("parameters", {})
        if not isinstance(params, dict):
            raise ValueError("parameters is not an object")
        reply = {"result": backend.call(method, params)}
    except Exception as e:  # always one reply, never a traceback on the reply stream
        reply = {"result": False, "log": ["%s: %s: %s" % (PROG, type(e).__name__, e)]}
    if verbose:
        res = reply["result"]
        summary = "%d items" % len(res) if isinstance(res, list) else json.dumps(res)[:60]
        log("%s[%s]: %s %s -> %s" % (PROG, tag, method, json.dumps(params), summary))
    return json.dumps(reply, separators=(",", ":")).encode()


def incomplete(data):
    """True if DATA is the start of a JSON document that more lines may complete (the error is
    at the end of the text); False if it parses, or is garbage that no further line can fix."""
    try:
        text = data.decode("utf-8", "surrogateescape")
        json.loads(text)
        return False
    except json.JSONDecodeError as e:
        return e.pos >= len(text.rstrip()) and len(data) < (1 << 20)
    except ValueError:
        return False


def serve_stream(backend, rfile, wfile, tag, verbose):
    """Serve one line stream until EOF: one reply line per request."""
    pending = b""
    while True:
        line = rfile.readline()
        if not line:
            if pending.strip() and verbose:
                log("responder_pipe[%s]: EOF inside a request: %r" % (tag, pending[:80]))
            return
        pending += line
        if not pending.strip():
            pending = b""  # blank line between requests
            continue
        if incomplete(pending):
            continue  # a request spread over several lines: read the next one too
        text, pending = pending, b""
        wfile.write(handle(backend, text, tag, verbose) + b"\n")
        wfile.flush()


class UnixHandler(socketserver.StreamRequestHandler):
    def handle(self):
        srv = self.server
        if srv.verbose:
            log("responder_pipe[%s]: connection opened" % srv.tag)
        try:
            serve_stream(srv.backend, self.rfile, self.wfile, srv.tag, srv.verbose)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if srv.verbose:
            log("responder_pipe[%s]: connection closed" % srv.tag)


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def remove_stale_socket(path):
    """Remove PATH if it is a socket nobody answers on; refuse a live one or a non-socket."""
    if not os.path.lexists(path):
        return
    import stat

    if not stat.S_ISSOCK(os.lstat(path).st_mode):
        sys.exit("responder_pipe: %s exists and is not a socket" % path)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)  # stale: left by a dead process
        return
    finally:
        probe.close()
    sys.exit("responder_pipe: %s is in use by a running server" % path)


def main():
    ap = argparse.ArgumentParser(
        description="Example PowerDNS remote-backend responder for the pipe and unix connectors")
    ap.add_argument("--unix", metavar="PATH", help="listen on this unix socket instead of stdin")
    ap.add_argument("--zone", default=os.path.join(HERE, "zone.json"), help="zone data (JSON)")
    ap.add_argument("--tag", default=None, help="name shown in log lines (default: pipe/unix)")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = ap.parse_args()
    backend = load_backend(args.zone)
    tag = args.tag or ("unix" if args.unix else "pipe")

    if not args.unix:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # our reader is gone: just stop
        if args.verbose:
            log("responder_pipe[%s]: serving on stdin/stdout (pid %d)" % (tag, os.getpid()))
        try:
            serve_stream(backend, sys.stdin.buffer, sys.stdout.buffer, tag, args.verbose)
        except KeyboardInterrupt:
            pass
        return

    remove_stale_socket(args.unix)
    server = UnixServer(args.unix, UnixHandler)
    server.backend, server.tag, server.verbose = backend, tag, args.verbose

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.verbose:
        log("responder_pipe[%s]: serving on unix:%s (pid %d)" % (tag, args.unix, os.getpid()))
    try:
        server.serve_forever()
    finally:
        server.server_close()
        try:
            os.unlink(args.unix)
        except OSError:
            pass


if __name__ == "__main__":
    main()

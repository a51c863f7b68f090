#!/usr/bin/env python3
"""responder_zmq.py: a PowerDNS remote-backend responder on the ZeroMQ connector, for rbgw's
demo and tests.  It serves the same zones as examples/responder.py, with the same request
handling as examples/responder_pipe.py (imported from it); only the transport differs.

Transport (docs/protocol.md §4.3): the responder BINDS a ROUTER socket and the clients (pdns's
zeromq connector, or rbgw's zeromq upstream) connect REQ sockets to it, one per backend instance
or pool connection.  Each request is one message part holding the JSON text; pdns 4.x appends a
NUL byte, 5.x does not, so one trailing NUL is stripped.  Each reply is exactly one part: the
compact JSON object, no NUL, no newline.  The ROUTER envelope ([routing id, empty, payload]) is
kept and returned, so requests from many REQ peers are answered in turn by this one thread
(a REP socket would do the same; ROUTER also lets a malformed envelope be logged and dropped
instead of wedging the socket).  Every request gets a reply, {"result": false} included.

  python3 examples/responder_zmq.py --endpoint tcp://127.0.0.1:5555 --verbose
  python3 examples/responder_zmq.py --endpoint ipc:///tmp/resp.zmq

Needs pyzmq (Debian: python3-zmq).
"""

import argparse
import os
import signal
import sys

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, HERE)
import responder_pipe  # noqa: E402
from responder_pipe import handle, load_backend, log  # noqa: E402

try:
    import zmq
except ImportError:
    sys.exit("responder_zmq: needs pyzmq (Debian: apt-get install python3-zmq)")


def main():
    ap = argparse.ArgumentParser(description="Example PowerDNS remote-backend ZeroMQ responder")
    ap.add_argument("--endpoint", default="tcp://127.0.0.1:5555", help="ZeroMQ endpoint to bind")
    ap.add_argument("--zone", default=os.path.join(HERE, "zone.json"), help="zone data (JSON)")
    ap.add_argument("--tag", default="zmq", help="name shown in log lines")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = ap.parse_args()
    responder_pipe.PROG = "responder_zmq"
    backend = load_backend(args.zone)

    ctx = zmq.Context(1)
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(args.endpoint)

    stopping = []

    def stop(signum, frame):
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.verbose:
        log("responder_zmq[%s]: serving on zeromq:%s (pid %d)"
            % (args.tag, sock.getsockopt_string(zmq.LAST_ENDPOINT), os.getpid()))
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    while not stopping:
        try:
            if not poller.poll(200):
                continue
        except zmq.ZMQError:
            continue  # EINTR: re-check stopping
        parts = sock.recv_multipart()
        if len(parts) != 3 or parts[1] != b"":
            log("responder_zmq[%s]: dropping a message of %d part(s) without a REQ envelope"
                % (args.tag, len(parts)))
            continue
        payload = parts[2]
        if payload.endswith(b"\0"):
            payload = payload[:-1]  # pdns 4.x sends the JSON text plus one NUL
        reply = handle(backend, payload, args.tag, args.verbose)
        sock.send_multipart([parts[0], b"", reply])
    sock.close()
    ctx.term()
    if args.endpoint.startswith("ipc://") and os.path.exists(args.endpoint[len("ipc://"):]):
        os.unlink(args.endpoint[len("ipc://"):])  # libzmq leaves the socket file behind


if __name__ == "__main__":
    main()

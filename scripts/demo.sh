#!/usr/bin/env bash
# demo.sh: see rbgw work, end to end, in a few seconds.
#
#   bash scripts/demo.sh          build, start, query with dig, stop
#   bash scripts/demo.sh --wait   same, but keep everything running until Ctrl-C
#
#   dig --> pdns_server --pipe--> rbgw --HTTP REST--> examples/responder.py (zone example.com.)
#          127.0.0.1:5300                             127.0.0.1:8053
#
# Builds rbgw in build/, writes a pdns.conf and an rbgw.conf into a temporary directory, starts
# the responder and pdns_server (which spawns rbgw as its pipe co-process), runs dig for a few
# names, then stops everything.  Ports: the first free ones from 5300 (DNS) and 8053 (HTTP).
# BUILD_DIR overrides the build directory (default build).
# Needs the packages from scripts/setup.sh; nothing is installed or left running.
set -euo pipefail

cd "$(dirname "$0")/.."
WAIT=0
[ "${1:-}" = --wait ] && WAIT=1
PATH=$PATH:/usr/sbin

for tool in cmake cc pdns_server dig python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "demo.sh: $tool is missing; run: sudo bash scripts/setup.sh" >&2
        exit 1
    fi
done

if [ -t 1 ]; then
    step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
    step() { printf '\n== %s\n' "$*"; }
fi

BUILD=${BUILD_DIR:-build}
step "building rbgw ($BUILD/)"
cmake -S . -B "$BUILD" >/dev/null
cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" --target rbgw | tail -n 1

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rbgw-demo.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# pdns splits the pipe command on spaces: reach rbgw through a space-free symlink.
RBGW=$TMP/rbgw
ln -s "$(cd "$BUILD" && pwd)/rbgw" "$RBGW"

# First port from $1 on that is free on 127.0.0.1 (TCP, plus UDP when $2 = dns).
free_port() {
    python3 - "$1" "${2:-tcp}" <<'EOF'
import socket, sys
start, kind = int(sys.argv[1]), sys.argv[2]
types = [socket.SOCK_STREAM] + ([socket.SOCK_DGRAM] if kind == "dns" else [])
for port in range(start, start + 100):
    try:
        for t in types:
            with socket.socket(socket.AF_INET, t) as s:
                s.bind(("127.0.0.1", port))
        print(port)
        break
    except OSError:
        pass
EOF
}
DNS_PORT=$(free_port 5300 dns)
HTTP_PORT=$(free_port 8053)

step "starting the responder on http://127.0.0.1:$HTTP_PORT/dns"
python3 examples/responder.py --listen "127.0.0.1:$HTTP_PORT" --prefix /dns --verbose \
    2>"$TMP/responder.log" &
PIDS+=($!)
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null && break
    sleep 0.05
done

# rbgw.conf: listen on stdin/stdout (pdns's pipe connector), forward over HTTP.  The upstream
# connection string has commas, which a pdns connection string cannot carry, hence the file.
cat >"$TMP/rbgw.conf" <<EOF
listen=pipe
upstream=http:url=http://127.0.0.1:$HTTP_PORT/dns,timeout=1500
EOF
cat >"$TMP/pdns.conf" <<EOF
launch=remote
remote-connection-string=pipe:command=$RBGW --config=$TMP/rbgw.conf,timeout=2000
local-address=127.0.0.1
local-port=$DNS_PORT
socket-dir=$TMP
daemon=no
guardian=no
disable-syslog=yes
security-poll-suffix=
disable-axfr=no
allow-axfr-ips=127.0.0.1/32
EOF
step "configuration"
echo "--- rbgw.conf"
cat "$TMP/rbgw.conf"
echo "--- pdns.conf"
cat "$TMP/pdns.conf"

step "starting pdns_server on 127.0.0.1:$DNS_PORT (it spawns rbgw)"
pdns_server --config-dir="$TMP" >"$TMP/pdns.log" 2>&1 &
PIDS+=($!)
ready=0
for _ in $(seq 1 100); do
    if dig +short +time=1 +tries=1 @127.0.0.1 -p "$DNS_PORT" example.com SOA 2>/dev/null |
        grep -qv '^;'; then
        ready=1
        break
    fi
    kill -0 "${PIDS[1]}" 2>/dev/null || break
    sleep 0.1
done
if [ "$ready" = 0 ]; then
    echo "demo.sh: pdns did not come up; its log (with rbgw's stderr):" >&2
    cat "$TMP/pdns.log" >&2
    exit 1
fi

show() {
    echo
    echo "\$ dig @127.0.0.1 -p $DNS_PORT $*"
    dig +time=3 +tries=1 @127.0.0.1 -p "$DNS_PORT" "$@" || true
}
step "querying"
show www.example.com A +noall +answer
show example.com MX +noall +answer
show example.com SOA +noall +answer
echo
show nonexist.example.com A +noall +comments +authority |
    grep -Ev '^;; (Got answer|OPT PSEUDOSECTION|WARNING)|^; EDNS|^$' || true
show example.com AXFR +noall +answer

step "what the responder received (first lines of its log)"
grep -E '^responder: (rest|post|post_json) ' "$TMP/responder.log" | head -n 8 | cut -c 1-120 || true
echo "... $(grep -cE '^responder: (rest|post|post_json) ' "$TMP/responder.log") requests in all"

if [ "$WAIT" = 1 ]; then
    step "running; try: dig @127.0.0.1 -p $DNS_PORT www.example.com   (Ctrl-C to stop)"
    wait "${PIDS[1]}" || true
fi
step "stopping"

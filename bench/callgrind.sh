#!/usr/bin/env bash
# bench/callgrind.sh: rbgw's instructions per call on one connector path, under callgrind.
#
#   bash bench/callgrind.sh [BUILD_DIR]          (default build/)
#   PATH_NAME=unix-http CALLS=10000 bash bench/callgrind.sh
#
# Paths: unix-http (loadgen unix -> rbgw --listen=unix --upstream=http -> fast responder) and
# unix-unix.  rbgw runs under valgrind --tool=callgrind twice, with BASE and BASE+CALLS lookups
# on one connection (each after the loadgen's warm-up); the difference of the two totals divided
# by CALLS is the cost of one call, with start-up, warm-up and shutdown cancelled out.  The
# count is deterministic for a given build (unlike a time), so a change of a few hundred
# instructions per call is visible.  RBGW=path overrides the binary (to compare two builds
# with the same tools).  Everything is on loopback and bounded; a run takes well under a minute.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
PATH_NAME=${PATH_NAME:-unix-http}
BASE=${BASE:-1000}
CALLS=${CALLS:-10000}
HTTP_PORT=${HTTP_PORT:-$((20000 + $$ % 10000))} # another run on the machine must not collide

if [ "${NO_BUILD:-0}" != 1 ]; then
    cmake -S "$SRC" -B "$BUILD" >/dev/null
    cmake --build "$BUILD" --target bench rbgw -j2 >/dev/null
fi
BUILD=$(cd "$BUILD" && pwd)
RBGW=${RBGW:-$BUILD/rbgw}
LOADGEN=$BUILD/bench/rbgw_loadgen
RESPONDER=$BUILD/bench/rbgw_fast_responder
command -v valgrind >/dev/null || {
    echo "valgrind not found" >&2
    exit 1
}

TMP=$(mktemp -d /tmp/rbgw-callgrind.XXXXXX)
RESP_PID=
GW_PID=
# shellcheck source=bench/lib.sh
. "$SRC/bench/lib.sh"
cleanup() {
    stop_pid "$GW_PID"
    stop_pid "$RESP_PID"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

RSOCK=$TMP/responder.sock
GSOCK=$TMP/gw.sock
case "$PATH_NAME" in
unix-http) UP="http:url=http://127.0.0.1:$HTTP_PORT/dns" ;;
unix-unix) UP="unix:path=$RSOCK" ;;
*)
    echo "unknown PATH_NAME $PATH_NAME (unix-http or unix-unix)" >&2
    exit 2
    ;;
esac

"$RESPONDER" --port="$HTTP_PORT" --unix="$RSOCK" --quiet 2>>"$TMP/responder.err" &
RESP_PID=$!
wait_tcp "$HTTP_PORT"
wait_sock "$RSOCK"

# run N: total instructions rbgw executed serving N timed calls (plus the fixed overhead).
run() {
    local n=$1 out=$TMP/cg.$1
    rm -f "$GSOCK"
    valgrind --tool=callgrind --callgrind-out-file="$out" "$RBGW" --listen="unix:path=$GSOCK" \
        --upstream="$UP" --log-level=warning 2>>"$TMP/gw.err" &
    GW_PID=$!
    for _ in $(seq 400); do
        [ -S "$GSOCK" ] && break
        sleep 0.05
    done
    [ -S "$GSOCK" ] || {
        echo "rbgw under valgrind did not come up" >&2
        exit 1
    }
    "$LOADGEN" --mode=unix --path="$GSOCK" --warmup=200 --count="$n" --timeout-ms=10000 \
        >/dev/null
    kill "$GW_PID"
    local st=0
    wait "$GW_PID" || st=$?
    GW_PID=
    # A run that did not end cleanly has no (or a partial) profile: say so, never a number.
    if [ "$st" != 0 ] || ! grep -q '^totals:' "$out"; then
        echo "rbgw under callgrind exited with status $st, or wrote no totals" >&2
        exit 1
    fi
    awk '/^summary:/ { print $2 }' "$out"
}

a=$(run "$BASE")
b=$(run $((BASE + CALLS)))
echo "path=$PATH_NAME calls=$CALLS instructions_per_call=$(((b - a) / CALLS))" \
    "total_base=$a total=$b"

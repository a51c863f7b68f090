#!/usr/bin/env bash
# callgrind.sh: instructions rbgw executes per call, on the unix->unix and unix->HTTP paths
# (and HTTP->unix: pdns's HTTP connector to rbgw's HTTP listener).
#
#   loadgen --mode=unix|http -> rbgw (under valgrind --tool=callgrind) -> rbgw_fast_responder
#
# Instruction counts do not depend on the machine's load, so unlike the timing scripts one run
# is enough to compare two builds.  Start-up, the warm-up and shutdown are taken out by running
# each path twice, with CALLS_LO and CALLS_HI timed calls after the same warm-up, and dividing
# the difference in total instructions by the difference in calls.  Instructions of the vDSO
# (clock_gettime) are not counted by valgrind, which makes the call a system call instead.
#
#   bench/callgrind.sh                   # unix-unix and unix-http, ~2 minutes
#   PATHS=unix-unix bench/callgrind.sh
#   PATHS=http-unix bench/callgrind.sh   # the HTTP listener
#
# Environment: BUILD_DIR (default <repo>/build), RBGW, PATHS ("unix-unix unix-http"), CALLS_LO
# (2000), CALLS_HI (22000), WARMUP (2000), HTTP_PORT (18230), GW_PORT (18231: rbgw's HTTP
# listener), NO_BUILD=1 to skip the build, KEEP_DIR=DIR to keep each run's callgrind file there
# (DIR/PATH.CALLS.out, for callgrind_annotate).
# Prints one line per path: "path=... calls=N ir_per_call=N".  Every process started here is
# stopped by the EXIT trap.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$SRC/build}
RBGW=${RBGW:-$BUILD/rbgw}
PATHS=${PATHS:-unix-unix unix-http}
CALLS_LO=${CALLS_LO:-2000}
CALLS_HI=${CALLS_HI:-22000}
WARMUP=${WARMUP:-2000}
HTTP_PORT=${HTTP_PORT:-18230}
GW_PORT=${GW_PORT:-18231}

. "$SRC/bench/lib.sh"

bench_build rbgw bench
for tool in valgrind socat; do
    command -v "$tool" >/dev/null || {
        echo "callgrind.sh: $tool is not installed" >&2
        exit 1
    }
done

bench_tmp cg GW_PID RESP_PID

"$BUILD/bench/rbgw_fast_responder" --port="$HTTP_PORT" --unix="$TMP/resp.sock" --quiet &
# shellcheck disable=SC2034 # stopped by bench_tmp's exit trap
RESP_PID=$!
wait_sock "$TMP/resp.sock"
wait_tcp "$HTTP_PORT"

# Total instructions of one rbgw run: $1 upstream connection string, $2 timed calls, $3 the
# listener: unix (default) or http, $4 the path's name (for KEEP_DIR).
run_ir() {
    local out="$TMP/cg.out" listen="unix:path=$TMP/gw.sock" probe="UNIX-CONNECT:$TMP/gw.sock"
    local gen=(--mode=unix --path="$TMP/gw.sock")
    if [ "${3:-unix}" = http ]; then
        listen="http:address=127.0.0.1:$GW_PORT,path=/dns"
        probe="TCP:127.0.0.1:$GW_PORT"
        gen=(--mode=http --url="http://127.0.0.1:$GW_PORT/dns")
    fi
    rm -f "$out" "$TMP/gw.sock"
    valgrind --tool=callgrind --callgrind-out-file="$out" -q \
        "$RBGW" --log-level=warning --listen="$listen" --upstream="$1" \
        2>"$TMP/gw.err" &
    GW_PID=$!
    # The socket file appears at bind, before listen: wait until a connect succeeds.
    local up=0
    for _ in $(seq 400); do
        if socat -u OPEN:/dev/null "$probe" 2>/dev/null; then
            up=1
            break
        fi
        sleep 0.05
    done
    [ "$up" = 1 ] || {
        echo "callgrind.sh: rbgw did not start" >&2
        cat "$TMP/gw.err" >&2
        exit 1
    }
    "$BUILD/bench/rbgw_loadgen" "${gen[@]}" -n "$2" --warmup="$WARMUP" \
        --timeout-ms=30000 >/dev/null
    kill -TERM "$GW_PID"
    wait "$GW_PID" || true
    GW_PID=
    if [ -n "${KEEP_DIR:-}" ]; then
        mkdir -p "$KEEP_DIR"
        cp "$out" "$KEEP_DIR/$4.$2.out"
    fi
    awk '/^totals:/ {print $2}' "$out"
}

for path in $PATHS; do
    listener=unix
    case $path in
    unix-unix) up="unix:path=$TMP/resp.sock,timeout=30000" ;;
    unix-http) up="http:url=http://127.0.0.1:$HTTP_PORT/dns,timeout=30000" ;;
    http-unix)
        up="unix:path=$TMP/resp.sock,timeout=30000"
        listener=http
        ;;
    *)
        echo "callgrind.sh: unknown path $path" >&2
        exit 1
        ;;
    esac
    lo=$(run_ir "$up" "$CALLS_LO" "$listener" "$path")
    hi=$(run_ir "$up" "$CALLS_HI" "$listener" "$path")
    echo "path=$path calls=$((CALLS_HI - CALLS_LO)) ir_per_call=$(((hi - lo) / (CALLS_HI - CALLS_LO)))"
done

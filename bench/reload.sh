#!/usr/bin/env bash
# reload.sh: calls lost, and latency paid, while rbgw reloads its configuration under load.
#
#   rbgw_loadgen --mode=unix -c CONNS ──> rbgw --listen=unix ──> rbgw_fast_responder --unix (R1)
#                                              │  SIGHUP x RELOADS ──> rbgw_fast_responder --unix (R2)
#   this script: rewrite rbgw.conf, SIGHUP, wait for "generation N in force", again
#
# Two configurations alternate: X sends every call to upstream r1 (responder R1), Y to r2
# (R2); both also list the other upstream, with a timeout that changes at every reload, so each
# reload keeps one upstream and replaces the other.  Runs, in alternating order (ROUNDS each):
#   steady:  DURATION seconds of load, no reload;
#   reloads: the same load while RELOADS SIGHUPs are sent one after another (each waits until
#            rbgw logged the previous one in force), then the load goes on to DURATION.
# rbgw_loadgen exits 0 only if every call succeeded (errors=0 and no transport failure); the
# script prints each run's summary line, the reloads rbgw logged, and the medians.
#
# Environment: BUILD_DIR (default <repo>/build), RBGW, ROUNDS (3), DURATION (3), CONNS (8),
# RELOADS (20), NO_BUILD=1 to skip the cmake build.  Unix sockets only, in a temporary
# directory; every process started here is stopped by the EXIT trap.  Exit status: 0, or 1 if a
# call failed or a setup step did.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$SRC/build}
RBGW=${RBGW:-$BUILD/rbgw}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-3}
CONNS=${CONNS:-8}
RELOADS=${RELOADS:-20}
. "$SRC/bench/lib.sh"

bench_build bench rbgw
LOADGEN=$BUILD/bench/rbgw_loadgen
RESPONDER=$BUILD/bench/rbgw_fast_responder

bench_tmp reload LOAD_PID RBGW_PID R1_PID R2_PID

"$RESPONDER" --unix="$TMP/r1.sock" --quiet </dev/null >/dev/null 2>&1 &
# shellcheck disable=SC2034 # stopped by bench_tmp's exit trap
R1_PID=$!
"$RESPONDER" --unix="$TMP/r2.sock" --quiet </dev/null >/dev/null 2>&1 &
# shellcheck disable=SC2034 # stopped by bench_tmp's exit trap
R2_PID=$!
wait_sock "$TMP/r1.sock"
wait_sock "$TMP/r2.sock"

conf() { # $1 generation: odd X (r1 serves), even Y (r2 serves)
    local serve=r1 other=r2 t=$((1000 + $1 % 2))
    if [ $(($1 % 2)) = 0 ]; then serve=r2 other=r1; fi
    cat >"$TMP/rbgw.conf.new" <<EOF
listen=unix:path=$TMP/gw.sock
upstream=unix:path=$TMP/$serve.sock,name=$serve,max-conns=$CONNS
upstream+=unix:path=$TMP/$other.sock,name=$other,max-conns=$CONNS,timeout=$t
pool=main:upstreams=$serve
log-level=warning
EOF
    mv "$TMP/rbgw.conf.new" "$TMP/rbgw.conf"
}

# Until rbgw has logged "generation $1 in force" (bounded: 10 s).
wait_gen() {
    for _ in $(seq 1000); do
        grep -q "reload: generation $1 in force" "$TMP/rbgw.err" && return 0
        sleep 0.01
    done
    echo "rbgw never put generation $1 in force" >&2
    cat "$TMP/rbgw.err" >&2
    exit 1
}

# One run: $1 steady|reloads.  Prints the loadgen line; 1 if a call failed.
run() {
    conf 1
    "$RBGW" --config="$TMP/rbgw.conf" --log-level=info </dev/null >/dev/null 2>"$TMP/rbgw.err" &
    RBGW_PID=$!
    wait_sock "$TMP/gw.sock"
    "$LOADGEN" --mode=unix --path="$TMP/gw.sock" -c "$CONNS" -d "$DURATION" --warmup=2000 \
        --label="$1" >"$TMP/load.out" 2>"$TMP/load.err" &
    LOAD_PID=$!
    local n=0
    if [ "$1" = reloads ]; then
        for gen in $(seq 2 $((RELOADS + 1))); do
            conf "$gen"
            kill -HUP "$RBGW_PID"
            wait_gen "$gen"
            n=$((n + 1))
        done
    fi
    local rc=0
    wait "$LOAD_PID" || rc=$?
    LOAD_PID=
    stop_pid "$RBGW_PID"
    RBGW_PID=
    rm -f "$TMP/gw.sock"
    echo "$(cat "$TMP/load.out") reloads=$n refused=$(grep -c 'reload refused' "$TMP/rbgw.err" || true)"
    if [ "$rc" != 0 ]; then
        echo "loadgen exit status $rc:" >&2
        cat "$TMP/load.err" >&2
        return 1
    fi
}

field() { # $1 name, reads summary lines on stdin
    sed -n "s/.* $1=\([^ ]*\).*/\1/p"
}

median() {
    sort -n | awk '{a[NR]=$1} END {print (NR ? a[int((NR + 1) / 2)] : "-")}'
}

echo "# rbgw reload under load: conns=$CONNS duration=${DURATION}s reloads=$RELOADS rounds=$ROUNDS"
fail=0
: >"$TMP/all.out"
for r in $(seq "$ROUNDS"); do
    order="steady reloads"
    [ $((r % 2)) = 0 ] && order="reloads steady"
    for kind in $order; do
        line=$(run "$kind") || fail=1
        echo "$line"
        echo "$line" >>"$TMP/all.out"
    done
done
for kind in steady reloads; do
    printf '%-8s median: calls_per_s=%s p50_us=%s p99_us=%s max_us=%s errors(total)=%s\n' "$kind" \
        "$(grep "label=$kind " "$TMP/all.out" | field calls_per_s | median)" \
        "$(grep "label=$kind " "$TMP/all.out" | field p50_us | median)" \
        "$(grep "label=$kind " "$TMP/all.out" | field p99_us | median)" \
        "$(grep "label=$kind " "$TMP/all.out" | field max_us | median)" \
        "$(grep "label=$kind " "$TMP/all.out" | field errors | awk '{s+=$1} END {print s+0}')"
done
exit "$fail"

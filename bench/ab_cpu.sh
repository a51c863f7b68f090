#!/usr/bin/env bash
# ab_cpu.sh: the gateway's CPU per call for several rbgw builds and the do-nothing relays,
# interleaved, so that a change is compared with its baseline in the same minutes.
#
#   bench/ab_cpu.sh OLD_RBGW NEW_RBGW [...]     e.g. a worktree's build/rbgw and build/rbgw
#
#   loadgen --mode=unix -c C ──> gateway (each binary in turn, then rbgw_floor_vet_relay,
#                                  rbgw_floor_uv_relay and rbgw_floor_relay)
#                                  ──unix──> rbgw_fast_responder --unix
#
# Every process runs on one CPU (taskset -c $CPU), as connectors.sh's layout "one".  Each round
# runs, for each connection count, every binary and the three relays back to back (CALLS calls each,
# no warm-up beyond what the first calls give); the gateway's run time is read from
# /proc/<pid>/task/*/schedstat (ns; utime+stime from /proc/<pid>/stat where there is none)
# before and after, with no perf attached (perf stat -p adds a cost to every
# context switch of the process it watches).  Prints each run, then per connection count the
# median µs of CPU per call of each gateway and its ratio to the relay's median (rbgw's also
# to the libuv relay's: rbgw's own work, beyond what its event loop costs; and to the vetting
# relay's, the libuv relay plus rbgw's JSON check of each message: rbgw's bookkeeping alone).
#
# Environment: BUILD_DIR (<repo>/build: the bench tools), ROUNDS (5), CONNS_LIST ("1 16"),
# CALLS (60000), CPU (1), HTTP_PORT (18240: the responder also listens there), NO_BUILD=1 to skip building the bench tools.  Every process started
# here is stopped by the EXIT trap.  Runs for about ROUNDS × (binaries + 3) × 2 × 3 s.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$SRC/bench/lib.sh"
BUILD=${BUILD_DIR:-$SRC/build}
ROUNDS=${ROUNDS:-5}
CONNS_LIST=${CONNS_LIST:-1 16}
CALLS=${CALLS:-60000}
CPU=${CPU:-1}

if [ $# -lt 1 ]; then
    echo "usage: bench/ab_cpu.sh RBGW [RBGW ...]" >&2
    exit 2
fi
for b in "$@"; do
    [ -x "$b" ] || {
        echo "not an executable: $b" >&2
        exit 2
    }
done
bench_build bench
bench_tmp ab GW_PID RESP_PID

# CPU time of a process in ns: the scheduler's run time of all its threads (schedstat, ns
# resolution), or utime+stime in clock ticks (10 ms) where the kernel keeps no schedstat.
TCK=$(getconf CLK_TCK)
cpu_ns() {
    if [ -r "/proc/$1/schedstat" ]; then
        cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f\n", s }'
    else
        awk -v t="$TCK" '{ sub(/^.*\) /, ""); printf "%.0f\n", ($12 + $13) * 1e9 / t }' "/proc/$1/stat"
    fi
}

taskset -c "$CPU" "$BUILD/bench/rbgw_fast_responder" --port="${HTTP_PORT:-18240}" --unix="$TMP/r.sock" --quiet \
    2>>"$TMP/resp.err" &
# shellcheck disable=SC2034 # stopped by bench_tmp's exit trap
RESP_PID=$!
wait_sock "$TMP/r.sock"

: >"$TMP/res"
for r in $(seq "$ROUNDS"); do
    for c in $CONNS_LIST; do
        i=0
        for gw in "$@" vetfloor uvfloor floor; do
            i=$((i + 1))
            rm -f "$TMP/g.sock"
            if [ "$gw" = floor ] || [ "$gw" = uvfloor ] || [ "$gw" = vetfloor ]; then
                case $gw in
                floor) relay=rbgw_floor_relay ;;
                uvfloor) relay=rbgw_floor_uv_relay ;;
                *) relay=rbgw_floor_vet_relay ;;
                esac
                taskset -c "$CPU" "$BUILD/bench/$relay" --listen="$TMP/g.sock" \
                    --upstream="$TMP/r.sock" 2>>"$TMP/gw.err" &
            else
                taskset -c "$CPU" "$gw" --listen="unix:path=$TMP/g.sock" \
                    --upstream="unix:path=$TMP/r.sock" --log-level=warning 2>>"$TMP/gw.err" &
            fi
            GW_PID=$!
            wait_sock "$TMP/g.sock"
            t0=$(cpu_ns "$GW_PID")
            line=$(taskset -c "$CPU" "$BUILD/bench/rbgw_loadgen" --mode=unix --path="$TMP/g.sock" \
                -c "$c" -n "$CALLS" --warmup=0)
            t1=$(cpu_ns "$GW_PID")
            stop_pid "$GW_PID"
            GW_PID=
            case $gw in floor) label=relay ;; uvfloor) label=uv-relay ;; vetfloor) label=vet-relay ;; *) label="#$i $gw" ;; esac
            us=$(awk -v d=$((t1 - t0)) -v n="$CALLS" 'BEGIN { printf "%.2f", d / 1e3 / n }')
            echo "round $r c$c $label cpu_us=$us $(grep -o 'calls_per_s=[0-9.]*' <<<"$line")"
            echo "c$c $i $us" >>"$TMP/res"
        done
    done
done

median() { # $1 conns label, $2 index
    awk -v c="$1" -v i="$2" '$1 == c && $2 == i { print $3 }' "$TMP/res" | sort -g |
        awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
echo
echo "medians over $ROUNDS rounds, µs of the gateway's CPU per call (ratio to the relay; rbgw's"
echo "also to the libuv relay, and to the vetting relay):"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
nvet=$(($# + 1))
nuv=$(($# + 2))
nfloor=$(($# + 3))
for c in $CONNS_LIST; do
    f=$(median "c$c" "$nfloor")
    u=$(median "c$c" "$nuv")
    v=$(median "c$c" "$nvet")
    printf 'c%s  relay %s  uv-relay %s (%s)  vet-relay %s (%s)' "$c" "$f" "$u" "$(ratio "$u" "$f")" \
        "$v" "$(ratio "$v" "$f")"
    i=0
    for gw in "$@"; do
        i=$((i + 1))
        m=$(median "c$c" "$i")
        printf '  #%d %s (%s; %s; %s)' "$i" "$m" "$(ratio "$m" "$f")" "$(ratio "$m" "$u")" \
            "$(ratio "$m" "$v")"
    done
    echo
done

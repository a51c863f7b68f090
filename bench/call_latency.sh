#!/usr/bin/env bash
# call_latency.sh: how many microseconds rbgw adds to one remote-backend call.
#
# Compares, with ONE call in flight per connection (as pdns does):
#   direct: rbgw_loadgen --mode=http  ->  rbgw_fast_responder            (what pdns's http
#           connector would do, minus its 1 ms keep-alive poll)
#   rbgw:   rbgw_loadgen --mode=pipe  ->  rbgw (pipe listener, http upstream)  ->  responder
#   pipe:   rbgw_loadgen --mode=pipe  ->  rbgw_fast_responder --pipe    (baseline: the cost of
#           the pipe hop alone, i.e. of pdns talking to any co-process)
# Optional (add to PATHS), for rbgw's unix listener as a daemon next to pdns:
#   rbgw-unix: rbgw_loadgen --mode=unix  ->  rbgw --listen=unix:path=...  ->  responder
#   unix:      rbgw_loadgen --mode=unix  ->  rbgw_fast_responder --unix    (baseline hop)
# and for the read cache (docs/cache.md), unix in and unix out:
#   rbgw-uu:       rbgw --listen=unix --upstream=unix (no cache): the relay
#   rbgw-uu-keyed: the same with --coalesce=yes: with one connection no call ever joins
#                  another, so every call pays the cache's miss path (parse, key, flight)
#   rbgw-uu-hit:   the same with --cache-ttl=600000: every call after the first is a hit
# in alternating rounds (the order flips every round), and prints the median of each number
# over the rounds plus "rbgw adds X us at p50" (median rbgw p50 minus median direct p50; the
# median of the per-round differences is printed beside it).  Target: <= 25 us at p50.
# In the "one" layout it also estimates rbgw's own processing: rbgw - direct - pipe, i.e. what
# is left once the two hops that any pipe-to-HTTP bridge needs are paid for.
#
# CPU layouts on a 2-core machine (LAYOUTS, default "split one"):
#   split: loadgen on cpu 0; responder AND rbgw on cpu 1.  Both paths then cross CPUs exactly
#          twice per call (request out, reply back), so the difference is rbgw's own work plus
#          two same-CPU context switches.  On a VM a cross-CPU wake-up of an idle vCPU costs
#          tens of us and varies a lot, so this layout's absolute numbers are noisy.
#   one:   loadgen, rbgw and responder all on cpu 1.  No cross-CPU wake-ups at all: the
#          difference is rbgw's CPU time plus two context switches.  Much less noise.
#
# Environment: BUILD_DIR (default <repo>/build), RBGW (default $BUILD_DIR/rbgw), ROUNDS (5),
# DURATION (seconds per run, 3), CONNS (1), PORT (18200), LAYOUTS ("split one"),
# PATHS ("direct rbgw pipe"; any of direct rbgw pipe unix rbgw-unix rbgw-uu rbgw-uu-keyed
# rbgw-uu-hit),
# NO_BUILD=1 to skip the cmake build, DATA_DIR: also write DATA_DIR/call_latency.dat (one
# line per layout/path: the medians of calls/s, p50, p90, p99, p99.9) for bench/plots.sh.
# Exit status: 0 (numbers printed), 1 (setup failed).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$SRC/bench/lib.sh"
BUILD=${BUILD_DIR:-$SRC/build}
RBGW=${RBGW:-$BUILD/rbgw}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-3}
CONNS=${CONNS:-1}
PORT=${PORT:-18200}
LAYOUTS=${LAYOUTS:-split one}
TARGET_US=25

bench_build bench rbgw
LOADGEN=$BUILD/bench/rbgw_loadgen
RESPONDER=$BUILD/bench/rbgw_fast_responder

bench_tmp call-latency RBGW_PID RESP_PID

UPSTREAM="http:url=http://127.0.0.1:$PORT/dns,timeout=1500"

# Does rbgw answer a pipe request at all?  (The same probe the project uses.)
rbgw_works() {
    [ -x "$RBGW" ] || return 1
    local out
    out=$(printf '{"method":"initialize","parameters":{}}\n' |
        timeout 5 "$RBGW" --listen=pipe --upstream="$UPSTREAM" 2>/dev/null | head -n 1) || true
    case "$out" in
    *'"result"'*) return 0 ;;
    *) return 1 ;;
    esac
}

start_responder() { # $1: cpu
    taskset -c "$1" "$RESPONDER" --port="$PORT" --unix="$TMP/responder.sock" --quiet &
    RESP_PID=$!
    for _ in $(seq 50); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "responder did not start on port $PORT" >&2
    exit 1
}

stop_responder() {
    kill "$RESP_PID" 2>/dev/null || true
    wait "$RESP_PID" 2>/dev/null || true
    RESP_PID=
}

# run_one LAYOUT PATH: one loadgen run, its summary line appended to $TMP/results.
run_one() {
    local layout=$1 path=$2 lg_cpu rbgw_cpu line
    case "$layout" in
    split) lg_cpu=0 rbgw_cpu=1 ;;
    one) lg_cpu=1 rbgw_cpu=1 ;;
    *) echo "unknown layout $layout" >&2 && exit 1 ;;
    esac
    if [ "$path" = unix ]; then
        line=$(taskset -c "$lg_cpu" "$LOADGEN" --mode=unix --path="$TMP/responder.sock" \
            -c "$CONNS" -d "$DURATION" --label="$layout/unix" 2>>"$TMP/loadgen.err") || {
            echo "loadgen (unix baseline) failed:" >&2
            tail -5 "$TMP/loadgen.err" >&2
            exit 1
        }
    elif [ "$path" = rbgw-unix ] || [ "${path#rbgw-uu}" != "$path" ]; then
        # rbgw's unix listener as a daemon: to the HTTP responder (rbgw-unix) or to its unix
        # socket (rbgw-uu*, with the cache options of the variant)
        local up=$UPSTREAM extra=()
        case "$path" in
        rbgw-uu*) up="unix:path=$TMP/responder.sock" ;;
        esac
        case "$path" in
        rbgw-uu-keyed) extra=(--coalesce=yes) ;;
        rbgw-uu-hit) extra=(--cache-ttl=600000) ;;
        esac
        rm -f "$TMP/rbgw.sock"
        taskset -c "$rbgw_cpu" "$RBGW" --listen="unix:path=$TMP/rbgw.sock" --upstream="$up" \
            "${extra[@]}" --log-level=warning 2>>"$TMP/loadgen.err" &
        RBGW_PID=$!
        wait_sock "$TMP/rbgw.sock"
        line=$(taskset -c "$lg_cpu" "$LOADGEN" --mode=unix --path="$TMP/rbgw.sock" \
            -c "$CONNS" -d "$DURATION" --label="$layout/$path" 2>>"$TMP/loadgen.err") || {
            echo "loadgen ($path) failed:" >&2
            tail -5 "$TMP/loadgen.err" >&2
            exit 1
        }
        kill "$RBGW_PID" 2>/dev/null || true
        wait "$RBGW_PID" 2>/dev/null || true
        RBGW_PID=
    elif [ "$path" = pipe ]; then
        line=$(taskset -c "$lg_cpu" "$LOADGEN" --mode=pipe -c "$CONNS" -d "$DURATION" \
            --label="$layout/pipe" -- taskset -c "$rbgw_cpu" "$RESPONDER" --pipe \
            2>>"$TMP/loadgen.err") || {
            echo "loadgen (pipe baseline) failed:" >&2
            tail -5 "$TMP/loadgen.err" >&2
            exit 1
        }
    elif [ "$path" = direct ]; then
        line=$(taskset -c "$lg_cpu" "$LOADGEN" --mode=http --url="http://127.0.0.1:$PORT/dns" \
            -c "$CONNS" -d "$DURATION" --label="$layout/direct" 2>>"$TMP/loadgen.err") || {
            echo "loadgen (direct) failed:" >&2
            tail -5 "$TMP/loadgen.err" >&2
            exit 1
        }
    else
        line=$(taskset -c "$lg_cpu" "$LOADGEN" --mode=pipe -c "$CONNS" -d "$DURATION" \
            --label="$layout/rbgw" -- taskset -c "$rbgw_cpu" "$RBGW" --listen=pipe \
            --upstream="$UPSTREAM" 2>>"$TMP/loadgen.err") || {
            echo "loadgen (through rbgw) failed:" >&2
            tail -5 "$TMP/loadgen.err" >&2
            exit 1
        }
    fi
    echo "  $line"
    echo "$line round=$ROUND" >>"$TMP/results"
}

# paired_median A B FIELD: median over rounds of (FIELD of label B - FIELD of label A) in
# the same round.  Robust against load that drifts between rounds.
paired_median() {
    awk -v a="$1" -v b="$2" -v field="$3" '
        { delete v; for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
          if (v["label"] == a) x[v["round"]] = v[field]
          if (v["label"] == b) y[v["round"]] = v[field] }
        END { for (r in x) if (r in y) printf "%.1f\n", y[r] - x[r] }' "$TMP/results" | sort -g |
        awk '{ a[NR] = $1 } END { if (NR == 0) { print "-"; exit }
              if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# median LABEL FIELD: median of FIELD over the result lines with label=LABEL.
median() {
    awk -v label="$1" -v field="$2" '
        { ok = 0; for (i = 1; i <= NF; i++) { split($i, kv, "=");
              if (kv[1] == "label" && kv[2] == label) ok = 1; v[kv[1]] = kv[2] }
          if (ok) print v[field] }' "$TMP/results" | sort -g |
        awk '{ a[NR] = $1 } END { if (NR == 0) { print "-"; exit }
              if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

PATHS=${PATHS:-direct rbgw pipe}
RBGW_OK=1
if ! rbgw_works; then
    RBGW_OK=0
    echo "rbgw at $RBGW does not answer a pipe request yet: measuring the baselines only" >&2
    PATHS=$(echo "$PATHS" | tr ' ' '\n' | grep -v rbgw | xargs)
fi

echo "call latency: $ROUNDS rounds x ${DURATION}s per run, $CONNS connection(s), layouts: $LAYOUTS"
: >"$TMP/results"
start_responder 1
for r in $(seq "$ROUNDS"); do
    ROUND=$r
    echo "round $r"
    for layout in $LAYOUTS; do
        if [ $((r % 2)) -eq 1 ]; then order=$PATHS; else order=$(echo "$PATHS" | tr ' ' '\n' | tac); fi
        for path in $order; do
            run_one "$layout" "$path"
        done
    done
done
stop_responder

echo
echo "medians over $ROUNDS rounds (latency in us):"
printf '%-18s %12s %9s %9s %9s %9s %9s\n' label calls/s p50 p90 p99 p99.9 max
for layout in $LAYOUTS; do
    for path in $PATHS; do
        l="$layout/$path"
        printf '%-18s %12s %9s %9s %9s %9s %9s\n' "$l" "$(median "$l" calls_per_s)" \
            "$(median "$l" p50_us)" "$(median "$l" p90_us)" "$(median "$l" p99_us)" \
            "$(median "$l" p999_us)" "$(median "$l" max_us)"
    done
done
path_label() { # $1 path: what it chains, as the plots name it
    case "$1" in
    direct) echo "HTTP -> responder" ;;
    rbgw) echo "pipe -> rbgw -> HTTP" ;;
    pipe) echo "pipe -> responder" ;;
    unix) echo "unix -> responder" ;;
    rbgw-unix) echo "unix -> rbgw -> HTTP" ;;
    rbgw-uu) echo "unix -> rbgw -> unix" ;;
    rbgw-uu-keyed) echo "unix -> rbgw (coalesce) -> unix" ;;
    rbgw-uu-hit) echo "unix -> rbgw (cache hit)" ;;
    *) echo "$1" ;;
    esac
}
if [ -n "${DATA_DIR:-}" ]; then
    mkdir -p "$DATA_DIR"
    {
        echo "# bench/call_latency.sh, $(date -u +%Y-%m-%dT%H:%MZ), $ROUNDS rounds x ${DURATION}s," \
            "$CONNS connection(s), layouts $LAYOUTS, medians; load average $(cut -d' ' -f1-3 /proc/loadavg)"
        echo "# layout/path label calls_per_s p50_us p90_us p99_us p999_us"
        for layout in $LAYOUTS; do
            for path in $PATHS; do
                l="$layout/$path"
                echo "\"$l\" \"$(path_label "$path")\" $(median "$l" calls_per_s)" \
                    "$(median "$l" p50_us) $(median "$l" p90_us) $(median "$l" p99_us)" \
                    "$(median "$l" p999_us)"
            done
        done
    } >"$DATA_DIR/call_latency.dat"
    echo "data: $DATA_DIR/call_latency.dat"
fi
echo
for layout in $LAYOUTS; do
    for path in rbgw-uu-keyed rbgw-uu-hit; do
        if [[ " $PATHS " == *" rbgw-uu "* && " $PATHS " == *" $path "* ]]; then
            awk -v l="$layout" -v p="$path" -v pd="$(paired_median "$layout/rbgw-uu" "$layout/$path" p50_us)" \
                -v pd90="$(paired_median "$layout/rbgw-uu" "$layout/$path" p90_us)" \
                'BEGIN { printf "%s: %s - rbgw-uu: %+.1f us at p50, %+.1f us at p90 (medians of per-round differences)\n", l, p, pd, pd90 }'
        fi
    done
    if [[ " $PATHS " != *" rbgw "* ]]; then
        [ "$RBGW_OK" = 1 ] && continue
        echo "$layout: rbgw adds: pending (rbgw not working yet)"
        continue
    fi
    d50=$(median "$layout/direct" p50_us)
    g50=$(median "$layout/rbgw" p50_us)
    pd50=$(paired_median "$layout/direct" "$layout/rbgw" p50_us)
    pd90=$(paired_median "$layout/direct" "$layout/rbgw" p90_us)
    awk -v l="$layout" -v d="$d50" -v g="$g50" -v pd="$pd50" -v pd90="$pd90" -v t="$TARGET_US" \
        'BEGIN { x = g - d; printf "%s: rbgw adds %.1f us at p50 (difference of medians; median of per-round differences %.1f us, at p90 %.1f us); target <= %d us: %s\n",
                 l, x, pd, pd90, t, (x <= t ? "met" : "NOT met") }'
    if [[ " $PATHS " == *" rbgw-unix "* ]]; then
        awk -v l="$layout" -v d="$d50" -v g="$(median "$layout/rbgw-unix" p50_us)" \
            -v pd="$(paired_median "$layout/direct" "$layout/rbgw-unix" p50_us)" \
            'BEGIN { printf "%s: rbgw (unix listener) adds %.1f us at p50 (per-round median %.1f us)\n", l, g - d, pd }'
    fi
    if [ "$layout" = one ] && [[ " $PATHS " == *" pipe "* ]]; then
        awk -v d="$d50" -v g="$g50" -v p="$(median one/pipe p50_us)" \
            'BEGIN { printf "one: the pipe hop alone costs %.1f us at p50; rbgw own processing ~ %.1f us\n",
                     p, g - d - p }'
    fi
done

#!/usr/bin/env bash
# dns_dnsperf.sh: end-to-end DNS throughput of pdns_server with its remote backend
#   (a) "http": remote-connection-string=http:url=http://127.0.0.1:PORT/dns, straight to
#       rbgw_fast_responder (pdns's own HTTP connector);
#   (b) "rbgw": remote-connection-string=pipe:command=<abs>/rbgw --config=<file>, rbgw's pipe
#       listener forwarding to the same responder over HTTP.
# Optional baselines without rbgw (add them to MODES):
#   "pipe": pipe:command=<abs>/rbgw_fast_responder --pipe   (pdns's pipe connector, no bridge)
#   "unix": unix:path=<tmp>/responder.sock                    (pdns's unix connector, no bridge)
# and, for rbgw's unix listener running as a daemon beside pdns:
#   "rbgw-unix": unix:path=<tmp>/rbgw.sock, rbgw --listen=unix:path=<tmp>/rbgw.sock
#                --upstream=http:url=... started before each run and stopped after it.
#   "rbgw-uu":   unix:path=<tmp>/rbgw.sock, rbgw --listen=unix:path=<tmp>/rbgw.sock
#                --upstream=unix:path=<tmp>/responder.sock (unix in, unix out; the target is
#                >= 0.8x of "unix", pdns straight to the responder)
#   "socat-unix": unix:path=<tmp>/rbgw.sock, socat UNIX-LISTEN:<tmp>/rbgw.sock,fork
#                UNIX-CONNECT:<tmp>/responder.sock in rbgw's place (a blind relay)
#   "rbgw-cache": as rbgw-uu, with rbgw's read cache and coalescing on (--cache-ttl=$CACHE_TTL
#                --coalesce=yes $CACHE_OPTS); its hit rate is read from the SIGUSR1 status line
#   "rbgw-coalesce": as rbgw-uu, with coalescing only (--coalesce=yes)
# With DELAY_MS=N the responder holds every reply N ms (a database behind it): the read-cache
# comparison is MODES="unix rbgw-cache" DELAY_MS=5 (bench/README.md).
# dnsperf sends `www.example.com A` for DURATION seconds per run; the modes alternate (the
# order flips every round) and the medians of QPS and average latency are printed.
#
# pdns's HTTP connector polls its keep-alive socket for 1 ms before every call
# (docs/protocol.md §4.4), so (a) is bounded near 1000 backend calls/s per pdns backend thread;
# the pipe connector has no such wait, so (b) is expected to win by a large factor.
#
# Caches are off (cache-ttl=0 query-cache-ttl=0 negquery-cache-ttl=0) so every query reaches
# the backend.  pdns runs with its defaults otherwise (3 distributor threads, 1 receiver).
# Nothing is pinned: pdns, its rbgw children, the responder and dnsperf share both cores.
# Everything is on 127.0.0.1; every process started here is stopped by the EXIT trap.
#
# Environment: BUILD_DIR (default <repo>/build), RBGW (default $BUILD_DIR/rbgw), ROUNDS (3),
# DURATION (10 s), DNS_PORT (15500), HTTP_PORT (18210), CLIENTS (dnsperf -c, 1),
# OUTSTANDING (dnsperf -q, 100), MODES ("http rbgw"), NO_BUILD=1 to skip the cmake build,
# DELAY_MS (0: the responder answers at once), CACHE_TTL (ms, 1000), CACHE_OPTS (more rbgw
# options for rbgw-cache, e.g. --cache-per-client=no), QUERIES (a dnsperf query file; default
# one line, www.example.com A),
# PIN_CPUS (e.g. "1"): run pdns_server, the responder, rbgw/socat and dnsperf all under
# `taskset -c $PIN_CPUS` (by default nothing is pinned).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$SRC/build}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd || echo "$BUILD")
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
DNS_PORT=${DNS_PORT:-15500}
HTTP_PORT=${HTTP_PORT:-18210}
CLIENTS=${CLIENTS:-1}
OUTSTANDING=${OUTSTANDING:-100}
MODES=${MODES:-http rbgw}
DELAY_MS=${DELAY_MS:-0}
CACHE_TTL=${CACHE_TTL:-1000}
CACHE_OPTS=${CACHE_OPTS:-}
PIN=()
if [ -n "${PIN_CPUS:-}" ]; then
    PIN=(taskset -c "$PIN_CPUS")
fi

for tool in pdns_server dnsperf dig; do
    command -v "$tool" >/dev/null || {
        echo "$tool not found (apt-get install pdns-server pdns-backend-remote dnsperf bind9-dnsutils)" >&2
        exit 1
    }
done

if [ "${NO_BUILD:-0}" != 1 ]; then
    cmake -S "$SRC" -B "$BUILD" >/dev/null
    cmake --build "$BUILD" --target bench -j2 >/dev/null
    cmake --build "$BUILD" --target rbgw -j2 >/dev/null || echo "note: rbgw did not build" >&2
    BUILD=$(cd "$BUILD" && pwd)
fi
RBGW=${RBGW:-$BUILD/rbgw}
RESPONDER=$BUILD/bench/rbgw_fast_responder

TMP=$(mktemp -d /tmp/rbgw-dnsperf.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

UPSTREAM="http:url=http://127.0.0.1:$HTTP_PORT/dns,timeout=1500"

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

RBGW_PENDING=0
if [[ " $MODES " == *" rbgw"* ]] && ! rbgw_works; then
    RBGW_PENDING=1
    echo "rbgw at $RBGW does not answer a pipe request yet: measuring the modes without it" >&2
    MODES=$(echo "$MODES" | tr ' ' '\n' | grep -v rbgw | xargs)
fi

# One config dir per mode.
write_conf() { # $1 mode
    local dir=$TMP/pdns-$1 cs
    mkdir -p "$dir"
    case "$1" in
    http) cs="http:url=http://127.0.0.1:$HTTP_PORT/dns" ;;
    pipe) cs="pipe:command=$RESPONDER --pipe" ;;
    unix) cs="unix:path=$TMP/responder.sock" ;;
    rbgw-unix | rbgw-uu | socat-unix | rbgw-cache | rbgw-coalesce) cs="unix:path=$TMP/rbgw.sock" ;;
    rbgw)
        printf 'listen=pipe\nupstream=%s\nlog-level=warning\n' "$UPSTREAM" >"$dir/rbgw.conf"
        cs="pipe:command=$RBGW --config=$dir/rbgw.conf"
        ;;
    esac
    cat >"$dir/pdns.conf" <<EOF
launch=remote
remote-connection-string=$cs
local-address=127.0.0.1
local-port=$DNS_PORT
security-poll-suffix=
cache-ttl=0
query-cache-ttl=0
negquery-cache-ttl=0
socket-dir=$dir
guardian=no
daemon=no
disable-syslog=yes
loglevel=4
webserver=no
api=no
EOF
}

PDNS_PID=
start_pdns() { # $1 mode
    "${PIN[@]}" pdns_server --config-dir="$TMP/pdns-$1" >>"$TMP/pdns-$1.log" 2>&1 &
    PDNS_PID=$!
    PIDS+=("$PDNS_PID")
    for _ in $(seq 100); do
        if dig +short +tries=1 +time=1 @127.0.0.1 -p "$DNS_PORT" www.example.com A 2>/dev/null |
            grep -qx 192.0.2.1; then
            return 0
        fi
        if ! kill -0 "$PDNS_PID" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    echo "pdns_server ($1) did not answer www.example.com A; its log:" >&2
    tail -20 "$TMP/pdns-$1.log" >&2
    exit 1
}

stop_pdns() {
    kill "$PDNS_PID" 2>/dev/null || true
    wait "$PDNS_PID" 2>/dev/null || true
    PDNS_PID=
}

if [ -n "${QUERIES:-}" ]; then
    cp "$QUERIES" "$TMP/queries"
else
    printf 'www.example.com A\n' >"$TMP/queries"
fi
: >"$TMP/results"

RBGWD_PID=
run_one() { # $1 mode
    local out qps lat lost codes
    write_conf "$1"
    if [ "$1" = rbgw-unix ]; then
        rm -f "$TMP/rbgw.sock"
        "${PIN[@]}" "$RBGW" --listen="unix:path=$TMP/rbgw.sock" --upstream="$UPSTREAM" \
            --log-level=warning \
            2>>"$TMP/rbgwd.log" &
        RBGWD_PID=$!
        PIDS+=("$RBGWD_PID")
        for _ in $(seq 50); do
            [ -S "$TMP/rbgw.sock" ] && break
            sleep 0.1
        done
    elif [ "$1" = rbgw-uu ] || [ "$1" = rbgw-cache ] || [ "$1" = rbgw-coalesce ]; then
        local extra=()
        if [ "$1" = rbgw-cache ]; then
            # shellcheck disable=SC2206 # CACHE_OPTS is a list of options
            extra=(--cache-ttl="$CACHE_TTL" --coalesce=yes $CACHE_OPTS)
        elif [ "$1" = rbgw-coalesce ]; then
            extra=(--coalesce=yes)
        fi
        rm -f "$TMP/rbgw.sock"
        : >"$TMP/rbgwd-$1.log"
        "${PIN[@]}" "$RBGW" --listen="unix:path=$TMP/rbgw.sock" \
            --upstream="unix:path=$TMP/responder.sock" "${extra[@]}" \
            --log-level=warning 2>>"$TMP/rbgwd-$1.log" &
        RBGWD_PID=$!
        PIDS+=("$RBGWD_PID")
        for _ in $(seq 50); do
            [ -S "$TMP/rbgw.sock" ] && break
            sleep 0.1
        done
    elif [ "$1" = socat-unix ]; then
        rm -f "$TMP/rbgw.sock"
        "${PIN[@]}" socat "UNIX-LISTEN:$TMP/rbgw.sock,fork" "UNIX-CONNECT:$TMP/responder.sock" \
            2>>"$TMP/rbgwd.log" &
        RBGWD_PID=$!
        PIDS+=("$RBGWD_PID")
        for _ in $(seq 50); do
            [ -S "$TMP/rbgw.sock" ] && break
            sleep 0.1
        done
    fi
    start_pdns "$1"
    out=$("${PIN[@]}" dnsperf -s 127.0.0.1 -p "$DNS_PORT" -d "$TMP/queries" -l "$DURATION" \
        -c "$CLIENTS" -q "$OUTSTANDING" 2>&1) || {
        echo "dnsperf failed: $out" >&2
        exit 1
    }
    stop_pdns
    local cache=""
    if [ "$1" = rbgw-cache ] || [ "$1" = rbgw-coalesce ]; then
        # The status line (SIGUSR1) carries the cache's counters: wait for it, bounded.
        kill -USR1 "$RBGWD_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            grep -q 'status: cache' "$TMP/rbgwd-$1.log" && break
            sleep 0.1
        done
        cache=$(grep 'status: cache' "$TMP/rbgwd-$1.log" | tail -1 | awk '{
            for (i = 1; i <= NF; i++) { v = $(i + 1); sub(/,|;/, "", v)
                if ($i == "hits") h = v; if ($i == "coalesced") c = v; if ($i == "misses") m = v }
            n = h + c + m
            if (n > 0) printf " hits=%d coalesced=%d misses=%d hit_rate=%.4f saved=%.4f", h, c, m, h / n, (h + c) / n }')
    fi
    if [ -n "$RBGWD_PID" ]; then
        kill "$RBGWD_PID" 2>/dev/null || true
        wait "$RBGWD_PID" 2>/dev/null || true
        RBGWD_PID=
    fi
    qps=$(awk '/Queries per second:/ { printf "%.1f", $4 }' <<<"$out")
    lat=$(awk '/Average Latency \(s\):/ { printf "%.1f", $4 * 1e6 }' <<<"$out")
    lost=$(awk '/Queries lost:/ { print $3 }' <<<"$out")
    codes=$(awk -F': *' '/Response codes:/ { print $2 }' <<<"$out")
    echo "  mode=$1 qps=$qps avg_latency_us=$lat lost=$lost codes=[$codes]$cache load=$(cut -d' ' -f1 /proc/loadavg)"
    echo "mode=$1 qps=$qps lat=$lat lost=$lost" >>"$TMP/results"
}

median() { # $1 mode, $2 field
    awk -v mode="$1" -v field="$2" '
        { ok = 0; for (i = 1; i <= NF; i++) { split($i, kv, "=");
              if (kv[1] == "mode" && kv[2] == mode) ok = 1; v[kv[1]] = kv[2] }
          if (ok) print v[field] }' "$TMP/results" | sort -g |
        awk '{ a[NR] = $1 } END { if (NR == 0) { print "-"; exit }
              if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

echo "dnsperf: $ROUNDS rounds x ${DURATION}s, modes: $MODES, dnsperf -c $CLIENTS -q $OUTSTANDING," \
    "pinned: ${PIN_CPUS:-no}, responder delay: ${DELAY_MS} ms," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
"${PIN[@]}" "$RESPONDER" --port="$HTTP_PORT" --unix="$TMP/responder.sock" --delay-ms="$DELAY_MS" \
    2>"$TMP/responder.log" &
RESP_PID=$!
PIDS+=("$RESP_PID")
for r in $(seq "$ROUNDS"); do
    echo "round $r"
    if [ $((r % 2)) -eq 1 ]; then order=$MODES; else order=$(echo "$MODES" | tr ' ' '\n' | tac); fi
    for m in $order; do
        run_one "$m"
    done
done
kill "$RESP_PID" 2>/dev/null || true
wait "$RESP_PID" 2>/dev/null || true
echo "responder: $(tail -1 "$TMP/responder.log")"

echo
echo "medians over $ROUNDS rounds:"
printf '%-14s %12s %18s\n' mode QPS avg-latency-us
for m in $MODES; do
    printf '%-14s %12s %18s\n' "$m" "$(median "$m" qps)" "$(median "$m" lat)"
done
if [[ " $MODES " == *" rbgw "* && " $MODES " == *" http "* ]]; then
    awk -v a="$(median http qps)" -v b="$(median rbgw qps)" \
        'BEGIN { if (a > 0) printf "rbgw (pipe) / pdns http connector: %.1fx the QPS\n", b / a }'
fi
if [[ " $MODES " == *" rbgw "* && " $MODES " == *" pipe "* ]]; then
    awk -v a="$(median pipe qps)" -v b="$(median rbgw qps)" \
        'BEGIN { if (a > 0) printf "rbgw (pipe) / responder on the pipe directly: %.2f\n", b / a }'
fi
if [[ " $MODES " == *" rbgw-unix "* && " $MODES " == *" unix "* ]]; then
    awk -v a="$(median unix qps)" -v b="$(median rbgw-unix qps)" \
        'BEGIN { if (a > 0) printf "rbgw (unix listener) / responder on unix directly: %.2f\n", b / a }'
fi
if [[ " $MODES " == *" rbgw-unix "* && " $MODES " == *" http "* ]]; then
    awk -v a="$(median http qps)" -v b="$(median rbgw-unix qps)" \
        'BEGIN { if (a > 0) printf "rbgw (unix listener) / pdns http connector: %.1fx the QPS\n", b / a }'
fi
if [[ " $MODES " == *" rbgw-uu "* && " $MODES " == *" unix "* ]]; then
    awk -v a="$(median unix qps)" -v b="$(median rbgw-uu qps)" \
        'BEGIN { if (a > 0) printf "rbgw (unix -> unix) / responder on unix directly: %.2f (target >= 0.8: %s)\n", b / a, (b / a >= 0.8 ? "met" : "NOT met") }'
fi
if [[ " $MODES " == *" rbgw-cache "* && " $MODES " == *" unix "* ]]; then
    awk -v a="$(median unix qps)" -v b="$(median rbgw-cache qps)" -v d="$DELAY_MS" \
        'BEGIN { if (a > 0) printf "rbgw with the read cache / responder on unix directly (responder delay %s ms): %.2fx the QPS\n", d, b / a }'
fi
if [[ " $MODES " == *" rbgw-coalesce "* && " $MODES " == *" unix "* ]]; then
    awk -v a="$(median unix qps)" -v b="$(median rbgw-coalesce qps)" \
        'BEGIN { if (a > 0) printf "rbgw coalescing only / responder on unix directly: %.2fx the QPS\n", b / a }'
fi
if [[ " $MODES " == *" socat-unix "* && " $MODES " == *" unix "* ]]; then
    awk -v a="$(median unix qps)" -v b="$(median socat-unix qps)" \
        'BEGIN { if (a > 0) printf "socat relay (unix -> unix) / responder on unix directly: %.2f\n", b / a }'
fi
if [[ " $MODES " == *" rbgw-unix "* && " $MODES " == *" http "* ]]; then
    awk -v a="$(median http qps)" -v b="$(median rbgw-unix qps)" \
        'BEGIN { if (a > 0) printf "target: rbgw (unix -> http) >= 10x pdns http connector: %s\n", (b / a >= 10 ? "met" : "NOT met") }'
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$RBGW_PENDING" = 1 ]; then
    echo "mode (b) rbgw: pending (rbgw not working yet)"
fi

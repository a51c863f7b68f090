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
#   "floor-unix": the same with rbgw_floor_relay (bench/floor_relay.c) in rbgw's place: the
#                do-nothing relay, what any gateway process costs before doing any work
#   "floor-uv":  the same with rbgw_floor_uv_relay (bench/floor_uv_relay.c): the do-nothing
#                relay on libuv, what a gateway built on rbgw's event loop costs at the least
#   "floor-vet": the same with rbgw_floor_vet_relay: the libuv relay plus rbgw's JSON check of
#                every message, the least a gateway that vets what it relays costs
#   "rbgw-cache": as rbgw-uu, with rbgw's read cache and coalescing on (--cache-ttl=$CACHE_TTL
#                --coalesce=yes $CACHE_OPTS); its hit rate is read from the SIGUSR1 status line
#   "rbgw-coalesce": as rbgw-uu, with coalescing only (--coalesce=yes)
#   "rbgw-pu":   pipe:command=<abs>/rbgw --config=<file>, rbgw's pipe listener forwarding to
#                the responder over unix (pipe in, unix out: what rbgw costs as a pipe
#                co-process, with no HTTP exchange behind it)
#   "floor-pipe": pipe:command=<abs>/rbgw_floor_relay --stdio --upstream=<tmp>/responder.sock,
#                the do-nothing relay as pdns's pipe co-process: the floor of "rbgw-pu", and of
#                any gateway in a pipe-only deployment
#   "rbgw-squeeze": as "rbgw" with listen=pipe:squeeze=1 (replies without the whitespace between
#                JSON tokens; with RESP_OPTS=--spaced it shows what that saves pdns)
# With DELAY_MS=N the responder holds every reply N ms (a database behind it): the read-cache
# comparison is MODES="unix rbgw-cache" DELAY_MS=5 (bench/README.md).
# dnsperf sends `www.example.com A` for DURATION seconds per run; the modes alternate (the
# order flips every round) and the medians of QPS, average latency and CPU per query are
# printed.  CPU per query is read from /proc/<pid>/stat (utime + stime, threads included)
# right before and right after dnsperf, divided by the queries dnsperf completed: for pdns,
# for the gateway (rbgw's daemon, or pdns's pipe children in the pipe modes; socat with its
# children) and for the responder (pdns's children in mode "pipe").
# The default MODES are the four paths the DNS-level targets compare, and the script ends
# with those ratios (bench/README.md): rbgw-unix >= 0.8x unix, rbgw-unix >= 10x http,
# rbgw >= 5x http.  With DATA_DIR set it also writes DATA_DIR/dns_dnsperf.dat (one line per
# mode: label, medians of QPS and of the three CPU figures) for bench/plots.sh.
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
# OUTSTANDING (dnsperf -q, 100), MODES ("http unix rbgw-unix rbgw"), NO_BUILD=1 to skip the
# cmake build,
# DELAY_MS (0: the responder answers at once), CACHE_TTL (ms, 1000), CACHE_OPTS (more rbgw
# options for rbgw-cache, e.g. --cache-per-client=no), QUERIES (a dnsperf query file; default
# one line, www.example.com A),
# RESP_OPTS (more rbgw_fast_responder options, e.g. --spaced),
# PIN_CPUS (e.g. "1"): run pdns_server, the responder, rbgw/socat and dnsperf all under
# `taskset -c $PIN_CPUS` (by default nothing is pinned), DATA_DIR (see above).
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
MODES=${MODES:-http unix rbgw-unix rbgw}
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

# shellcheck source=bench/lib.sh
. "$SRC/bench/lib.sh"
bench_build bench rbgw
BUILD=$(cd "$BUILD" && pwd)
RBGW=${RBGW:-$BUILD/rbgw}
RESPONDER=$BUILD/bench/rbgw_fast_responder

PIDS=()
bench_tmp dnsperf 'PIDS[@]'

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
    pipe) cs="pipe:command=$RESPONDER --pipe${RESP_OPTS:+ $RESP_OPTS}" ;;
    unix) cs="unix:path=$TMP/responder.sock" ;;
    rbgw-unix | rbgw-uu | socat-unix | floor-unix | floor-uv | floor-vet | rbgw-cache | rbgw-coalesce) cs="unix:path=$TMP/rbgw.sock" ;;
    rbgw | rbgw-squeeze | rbgw-pu)
        local listen=pipe up=$UPSTREAM
        [ "$1" = rbgw-squeeze ] && listen=pipe:squeeze=1
        [ "$1" = rbgw-pu ] && up="unix:path=$TMP/responder.sock"
        printf 'listen=%s\nupstream=%s\nlog-level=warning\n' "$listen" "$up" >"$dir/rbgw.conf"
        cs="pipe:command=$RBGW --config=$dir/rbgw.conf"
        ;;
    floor-pipe) cs="pipe:command=$BUILD/bench/rbgw_floor_relay --stdio --upstream=$TMP/responder.sock" ;;
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

HZ=$(getconf CLK_TCK)
# CPU ticks (utime + stime, all threads) of one process; 0 once it is gone.
ticks_of() { # $1 pid
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
children_of() { # $1 pid
    cat /proc/"$1"/task/*/children 2>/dev/null || true
}
# The processes whose CPU is charged to one column: pdns, the gateway, the responder.
group_pids() { # $1 group (pdns|gw|resp), $2 mode
    case "$1:$2" in
    pdns:*) echo "$PDNS_PID" ;;
    gw:rbgw | gw:rbgw-squeeze | gw:rbgw-pu | gw:floor-pipe) children_of "$PDNS_PID" ;;
    gw:socat-unix) echo "$RBGWD_PID" && children_of "$RBGWD_PID" ;;
    gw:rbgw-unix | gw:rbgw-uu | gw:floor-unix | gw:floor-uv | gw:floor-vet | gw:rbgw-cache | gw:rbgw-coalesce) echo "$RBGWD_PID" ;;
    resp:pipe) children_of "$PDNS_PID" ;;
    resp:*) echo "$RESP_PID" ;;
    esac
}
snap() { # $1 mode, $2 file: "group pid ticks" lines
    local g p
    for g in pdns gw resp; do
        for p in $(group_pids "$g" "$1"); do
            echo "$g $p $(ticks_of "$p")"
        done
    done >"$2"
}
# Microseconds of CPU per query for one group between two snaps; a process that appeared in
# between (a pipe child pdns started late) counts from 0.
cpu_per_query() { # $1 group, $2 before, $3 after, $4 queries
    awk -v g="$1" -v n="$4" -v hz="$HZ" '
        FNR == NR { if ($1 == g) b[$2] = $3; next }
        $1 == g { d += $3 - (($2 in b) ? b[$2] : 0); seen = 1 }
        END { if (!seen || n <= 0) print "-"; else printf "%.1f", d / hz * 1e6 / n }' "$2" "$3"
}

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
    elif [ "$1" = floor-unix ] || [ "$1" = floor-uv ] || [ "$1" = floor-vet ]; then
        case $1 in
        floor-unix) relay=rbgw_floor_relay ;;
        floor-uv) relay=rbgw_floor_uv_relay ;;
        *) relay=rbgw_floor_vet_relay ;;
        esac
        rm -f "$TMP/rbgw.sock"
        "${PIN[@]}" "$BUILD/bench/$relay" --listen="$TMP/rbgw.sock" \
            --upstream="$TMP/responder.sock" 2>>"$TMP/rbgwd.log" &
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
    snap "$1" "$TMP/cpu0"
    out=$("${PIN[@]}" dnsperf -s 127.0.0.1 -p "$DNS_PORT" -d "$TMP/queries" -l "$DURATION" \
        -c "$CLIENTS" -q "$OUTSTANDING" 2>&1) || {
        echo "dnsperf failed: $out" >&2
        exit 1
    }
    snap "$1" "$TMP/cpu1"
    stop_pdns
    local done_q cpu
    done_q=$(awk '/Queries completed:/ { print $3 }' <<<"$out")
    cpu="cpu_pdns=$(cpu_per_query pdns "$TMP/cpu0" "$TMP/cpu1" "$done_q")"
    cpu+=" cpu_gw=$(cpu_per_query gw "$TMP/cpu0" "$TMP/cpu1" "$done_q")"
    cpu+=" cpu_resp=$(cpu_per_query resp "$TMP/cpu0" "$TMP/cpu1" "$done_q")"
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
    echo "  mode=$1 qps=$qps avg_latency_us=$lat lost=$lost codes=[$codes] $cpu$cache load=$(cut -d' ' -f1 /proc/loadavg)"
    echo "mode=$1 qps=$qps lat=$lat lost=$lost $cpu" >>"$TMP/results"
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
# shellcheck disable=SC2086 # RESP_OPTS is a list of options
"${PIN[@]}" "$RESPONDER" --port="$HTTP_PORT" --unix="$TMP/responder.sock" --delay-ms="$DELAY_MS" ${RESP_OPTS:-} \
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
echo "(CPU per query in us, from /proc/<pid>/stat: pdns / gateway / responder)"
printf '%-14s %10s %15s %10s %10s %10s\n' mode QPS avg-latency-us cpu-pdns cpu-gw cpu-resp
# ratio_line BASE MODE TEXT: with both modes measured, TEXT (a printf format holding one %.2f)
# with MODE's median QPS over BASE's.
ratio_line() {
    [[ " $MODES " == *" $1 "* && " $MODES " == *" $2 "* ]] || return 0
    awk -v a="$(median "$1" qps)" -v b="$(median "$2" qps)" -v f="$3" \
        'BEGIN { if (a > 0) printf f "\n", b / a }'
}
for m in $MODES; do
    printf '%-14s %10s %15s %10s %10s %10s\n' "$m" "$(median "$m" qps)" "$(median "$m" lat)" \
        "$(median "$m" cpu_pdns)" "$(median "$m" cpu_gw)" "$(median "$m" cpu_resp)"
done
ratio_line pipe rbgw "rbgw (pipe) / responder on the pipe directly: %.2f"
ratio_line pipe floor-pipe "floor: do-nothing relay (pipe -> unix) / responder on the pipe directly: %.2f"
ratio_line floor-pipe rbgw-pu "rbgw (pipe -> unix) / do-nothing relay (pipe -> unix): %.2f"
ratio_line http floor-pipe "floor: do-nothing relay (pipe -> unix) / pdns HTTP connector: %.2f"
if [[ " $MODES " == *" rbgw-uu "* && " $MODES " == *" unix "* ]]; then
    awk -v a="$(median unix qps)" -v b="$(median rbgw-uu qps)" \
        'BEGIN { if (a > 0) printf "rbgw (unix -> unix) / responder on unix directly: %.2f (target >= 0.8: %s)\n", b / a, (b / a >= 0.8 ? "met" : "NOT met") }'
fi
if [[ " $MODES " == *" rbgw-cache "* && " $MODES " == *" unix "* ]]; then
    awk -v a="$(median unix qps)" -v b="$(median rbgw-cache qps)" -v d="$DELAY_MS" \
        'BEGIN { if (a > 0) printf "rbgw with the read cache / responder on unix directly (responder delay %s ms): %.2fx the QPS\n", d, b / a }'
fi
ratio_line unix rbgw-coalesce "rbgw coalescing only / responder on unix directly: %.2fx the QPS"
ratio_line unix floor-unix "floor: do-nothing relay (unix -> unix) / responder on unix directly: %.2f"
ratio_line floor-unix rbgw-uu "rbgw (unix -> unix) / do-nothing relay: %.2f"
ratio_line floor-unix floor-uv "floor: do-nothing relay on libuv / do-nothing relay: %.2f"
ratio_line floor-uv rbgw-uu "rbgw (unix -> unix) / do-nothing relay on libuv: %.2f"
ratio_line unix floor-vet "floor: vetting relay on libuv / responder on unix directly: %.2f"
ratio_line floor-vet rbgw-uu "rbgw (unix -> unix) / vetting relay on libuv: %.2f"
ratio_line unix socat-unix "socat relay (unix -> unix) / responder on unix directly: %.2f"

# The DNS-level targets: path / baseline >= minimum, each printed when both modes ran.
target() { # $1 path mode, $2 baseline mode, $3 minimum ratio, $4 wording
    if [[ " $MODES " == *" $1 "* && " $MODES " == *" $2 "* ]]; then
        awk -v a="$(median "$2" qps)" -v b="$(median "$1" qps)" -v min="$3" -v what="$4" \
            'BEGIN { if (a > 0) printf "target: %-52s >= %4.1fx: %6.2fx  %s\n", what, min, b / a, (b / a >= min ? "met" : "NOT met") }' |
            tee -a "$TMP/targets"
    fi
}
echo
: >"$TMP/targets"
target rbgw-unix unix 0.8 "pdns unix -> rbgw -> HTTP vs pdns unix -> responder"
target rbgw-unix http 10 "pdns unix -> rbgw -> HTTP vs pdns HTTP connector"
target rbgw http 5 "pdns pipe -> rbgw -> HTTP vs pdns HTTP connector"
ratio_line rbgw rbgw-squeeze "rbgw pipe listener, squeeze=1 / squeeze=0: %.2fx the QPS"

mode_label() { # $1 mode: the path, as the plots name it
    case "$1" in
    http) echo "pdns HTTP -> responder" ;;
    unix) echo "pdns unix -> responder" ;;
    pipe) echo "pdns pipe -> responder" ;;
    rbgw) echo "pdns pipe -> rbgw -> HTTP" ;;
    rbgw-squeeze) echo "pdns pipe -> rbgw (squeeze=1) -> HTTP" ;;
    rbgw-pu) echo "pdns pipe -> rbgw -> unix" ;;
    floor-pipe) echo "pdns pipe -> no-op relay -> unix" ;;
    rbgw-unix) echo "pdns unix -> rbgw -> HTTP" ;;
    rbgw-uu) echo "pdns unix -> rbgw -> unix" ;;
    socat-unix) echo "pdns unix -> socat -> unix" ;;
    floor-unix) echo "pdns unix -> no-op relay -> unix" ;;
    floor-uv) echo "pdns unix -> no-op uv relay -> unix" ;;
    floor-vet) echo "pdns unix -> vetting relay -> unix" ;;
    rbgw-cache) echo "rbgw read cache" ;;
    rbgw-coalesce) echo "rbgw coalescing" ;;
    *) echo "$1" ;;
    esac
}
if [ -n "${DATA_DIR:-}" ]; then
    mkdir -p "$DATA_DIR"
    {
        echo "# bench/dns_dnsperf.sh, $(date -u +%Y-%m-%dT%H:%MZ), $ROUNDS rounds x ${DURATION}s, medians;" \
            "dnsperf -c $CLIENTS -q $OUTSTANDING, pinned: ${PIN_CPUS:-no}, load average $(cut -d" " -f1 /proc/loadavg)"
        echo "# label qps cpu_pdns_us cpu_gateway_us cpu_responder_us (per query; - = none)"
        for m in $MODES; do
            printf '"%s" %s %s %s %s\n' "$(mode_label "$m")" "$(median "$m" qps)" \
                "$(median "$m" cpu_pdns)" "$(median "$m" cpu_gw)" "$(median "$m" cpu_resp)"
        done
        sed 's/^/# /' "$TMP/targets"
    } >"$DATA_DIR/dns_dnsperf.dat"
    echo "data: $DATA_DIR/dns_dnsperf.dat"
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$RBGW_PENDING" = 1 ]; then
    echo "mode (b) rbgw: pending (rbgw not working yet)"
fi

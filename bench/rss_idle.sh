#!/usr/bin/env bash
# rss_idle.sh: resident memory rbgw spends per idle pdns connection on its unix or HTTP
# listener.
#
# What: rbgw --listen=unix:path=... (LISTENER=unix, the default) or
# --listen=http:address=127.0.0.1:PORT,path=/dns (LISTENER=http), with
# --upstream=unix:path=<responder>,max-queue=CONNS (the http connections' first lookups all
# arrive at once), is started fresh for each round and warmed up with 1000 lookups on one
# connection (so that the upstream connection and the allocator exist, as after pdns's first
# queries).  Then, with a pdns-like first exchange per connection (unix: `initialize`; http:
# one REST lookup over keep-alive TCP, as pdns's HTTP connector after its first query):
#   1. one client connection does its first exchange and stays open, idle  -> VmRSS "1 conn"
#   2. CONNS-1 more connections each do theirs and stay open, idle          -> VmRSS "CONNS conns"
#   per connection = (RSS with CONNS - RSS with 1) / (CONNS - 1)
# (rbgw_loadgen --idle --hold: every connection gets its reply before the summary line is
# printed, then they are held open until the script stops the loadgen by pid.)  On http the
# CONNS-1 lookups arrive at once, so the heap's high-water mark of that burst (queued calls,
# freed but not returned to the system) counts too and the rounds vary more.
# VmRSS comes from /proc/<pid>/status; beside it the growth of the [heap] and anonymous
# mappings' Rss (/proc/<pid>/smaps), of VmData (address space reserved, not resident) and of
# VmPTE (page tables, not part of VmRSS) show where the memory goes.  Finally the
# connections are closed and VmRSS read again.  Kernel socket buffers are not part of any of
# these numbers.  Target: at most 4 KiB per idle connection.
#
# Environment: BUILD_DIR (default <repo>/build), RBGW, LISTENER (unix), PORT (18222, the HTTP
# listener's), CONNS (1000), ROUNDS (3), NO_BUILD=1 to skip the cmake build.  Everything is
# local (unix sockets in a temporary directory, TCP on 127.0.0.1); every process started here
# is stopped by pid in the EXIT trap.
# Exit status: 0, or 1 if a setup step failed.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$SRC/build}
# shellcheck source=bench/lib.sh
. "$SRC/bench/lib.sh"
CONNS=${CONNS:-1000}
ROUNDS=${ROUNDS:-3}
LISTENER=${LISTENER:-unix}
PORT=${PORT:-18222}
TARGET_KIB=4
case $LISTENER in
unix | http) ;;
*)
    echo "LISTENER must be unix or http" >&2
    exit 1
    ;;
esac

bench_build bench rbgw
BUILD=$(cd "$BUILD" && pwd)
RBGW=${RBGW:-$BUILD/rbgw}
LOADGEN=$BUILD/bench/rbgw_loadgen
RESPONDER=$BUILD/bench/rbgw_fast_responder

# rbgw and the loadgen each need one descriptor per connection, plus a few.
want=$((CONNS + 64))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
    echo "ulimit -Hn is $hard: cannot open $CONNS connections" >&2
    exit 1
fi
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ]; then
    ulimit -n "$want"
fi

PIDS=()
bench_tmp rss 'PIDS[@]'

wait_line() { # $1 file: the loadgen's summary line
    for _ in $(seq 600); do
        [ -s "$1" ] && return 0
        sleep 0.05
    done
    echo "the loadgen did not report its connections ready" >&2
    exit 1
}

# mem PID: "rss heap anon data pte" in KiB.
mem() {
    local rss data pte ha
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status")
    data=$(awk '/^VmData:/ { print $2 }' "/proc/$1/status")
    pte=$(awk '/^VmPTE:/ { print $2 }' "/proc/$1/status")
    ha=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { kind = (NF < 6) ? "anon" : ($6 == "[heap]" ? "heap" : "other") }
              /^Rss:/ { r[kind] += $2 }
              END { printf "%d %d", r["heap"], r["anon"] }' "/proc/$1/smaps")
    echo "$rss $ha $data $pte"
}

"$RESPONDER" --unix="$TMP/responder.sock" --quiet 2>>"$TMP/responder.err" &
PIDS+=($!)
wait_sock "$TMP/responder.sock"

echo "rss_idle: $CONNS idle connections on rbgw's $LISTENER listener, $ROUNDS rounds," \
    "ulimit -n $(ulimit -n), load average $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$TMP/results"
for r in $(seq "$ROUNDS"); do
    sock=$TMP/rbgw-$r.sock
    if [ "$LISTENER" = http ]; then
        listen="http:address=127.0.0.1:$PORT,path=/dns,max-conns=$((CONNS + 16))"
        LG=(--mode=http --url="http://127.0.0.1:$PORT/dns")
    else
        listen="unix:path=$sock,max-conns=$((CONNS + 16))"
        LG=(--mode=unix --path="$sock")
    fi
    "$RBGW" --listen="$listen" --upstream="unix:path=$TMP/responder.sock,max-queue=$CONNS" \
        --log-level=warning 2>>"$TMP/rbgw.err" &
    gw=$!
    PIDS+=("$gw")
    if [ "$LISTENER" = http ]; then
        wait_tcp "$PORT"
    else
        wait_sock "$sock"
    fi
    "$LOADGEN" "${LG[@]}" -c 1 -n 1000 --warmup=0 >/dev/null 2>>"$TMP/lg.err" || {
        echo "warm-up lookups failed: $(tail -3 "$TMP/lg.err")" >&2
        exit 1
    }
    m0=$(mem "$gw")

    "$LOADGEN" "${LG[@]}" -c 1 --idle --hold=600 >"$TMP/one-$r" 2>>"$TMP/lg.err" &
    one=$!
    PIDS+=("$one")
    wait_line "$TMP/one-$r"
    sleep 0.2
    m1=$(mem "$gw")

    "$LOADGEN" "${LG[@]}" -c $((CONNS - 1)) --idle --hold=600 >"$TMP/many-$r" 2>>"$TMP/lg.err" &
    many=$!
    PIDS+=("$many")
    wait_line "$TMP/many-$r"
    sleep 0.2
    mn=$(mem "$gw")

    stop_pid "$many"
    stop_pid "$one"
    sleep 0.3
    mc=$(mem "$gw")
    stop_pid "$gw"
    rm -f "$sock"

    read -r rss0 _ _ _ _ <<<"$m0"
    read -r rss1 heap1 anon1 data1 pte1 <<<"$m1"
    read -r rssn heapn anonn datan pten <<<"$mn"
    read -r rssc _ _ _ _ <<<"$mc"
    line=$(awk -v r="$r" -v n=$((CONNS - 1)) -v rss0="$rss0" -v rss1="$rss1" -v rssn="$rssn" \
        -v rssc="$rssc" -v dh=$((heapn - heap1)) -v da=$((anonn - anon1)) \
        -v dd=$((datan - data1)) -v dp=$((pten - pte1)) 'BEGIN {
            printf "round=%d rss_0_kib=%d rss_1_kib=%d rss_n_kib=%d rss_closed_kib=%d " \
                   "per_conn_kib=%.2f heap_per_conn_kib=%.2f anon_per_conn_kib=%.2f " \
                   "vmdata_per_conn_kib=%.1f pte_per_conn_kib=%.2f\n",
                r, rss0, rss1, rssn, rssc, (rssn - rss1) / n, dh / n, da / n, dd / n, dp / n }')
    echo "  $line"
    echo "$line" >>"$TMP/results"
done

median() { # field
    awk -v field="$1" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == field) print kv[2] } }' \
        "$TMP/results" | sort -g |
        awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

echo
echo "medians over $ROUNDS rounds (KiB):"
echo
echo "| rbgw VmRSS, warmed, no client | 1 idle conn | $CONNS idle conns | after closing them | per idle conn | of which [heap] | anonymous mmaps | VmData per conn (reserved) | page tables per conn (not in RSS) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
echo "| $(median rss_0_kib) | $(median rss_1_kib) | $(median rss_n_kib) | $(median rss_closed_kib) | $(median per_conn_kib) | $(median heap_per_conn_kib) | $(median anon_per_conn_kib) | $(median vmdata_per_conn_kib) | $(median pte_per_conn_kib) |"
echo
awk -v x="$(median per_conn_kib)" -v t="$TARGET_KIB" \
    'BEGIN { printf "per idle connection: %.2f KiB; target <= %d KiB: %s\n", x, t, (x <= t ? "met" : "NOT met") }'
if [ -s "$TMP/rbgw.err" ]; then
    echo "rbgw stderr (last lines):"
    tail -5 "$TMP/rbgw.err"
fi
if [ -s "$TMP/lg.err" ]; then
    echo "rbgw_loadgen stderr (last lines):"
    tail -5 "$TMP/lg.err"
fi

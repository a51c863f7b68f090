#!/usr/bin/env bash
# soak.sh: hold rbgw under a steady DNS load for a long time, with responders restarted and the
# configuration reloaded underneath, and check that no call is lost and nothing leaks.
#
#   bash tests/soak/soak.sh [MINUTES]        (default 30; not part of ctest or scripts/test.sh)
#
#   dnsperf -Q QPS ──UDP──> pdns_server ──unix──> rbgw ─┬─ responder r1 (examples/responder.py, HTTP)
#   (one thread, the         (caches off)               └─ responder r2
#    query file in order)                  pool "main": r1+r2, read=one, retries=1
#
# While dnsperf runs at a fixed rate:
#   - every RESTART_EVERY s one responder is killed (SIGTERM, calls in flight on it are cut) and
#     started again, r1 and r2 in turn, never both at once: the other one answers meanwhile;
#   - every RELOAD_EVERY s rbgw gets SIGHUP with its config file switched between two versions
#     (policy round-robin / least-outstanding, r2's timeout changed so r2 is replaced and r1
#     kept); the script waits for rbgw's "generation N in force" line;
#   - every SAMPLE_EVERY s rbgw's RSS and open descriptors are read from /proc and its admin
#     endpoint is scraped (GET /metrics), one CSV line each (samples.csv).
#
# "Zero calls lost" means all of these hold (each is checked; any miss makes the exit status 1):
#   1. dnsperf: queries lost = 0 (every query got a response within 5 s) and queries
#      completed = queries sent;
#   2. every response is NOERROR or NXDOMAIN (no SERVFAIL, no other code), and the NXDOMAIN
#      count is exactly the number of times the one non-existent name of the query file was
#      sent (pdns turns a `false` lookup into an empty answer, which could look like NXDOMAIN);
#   3. rbgw_calls_total has only the outcomes `ok` and `false` (`false` is the responder's own
#      answer, e.g. to getDomainKeys): no call of pdns was answered with rbgw's own failure,
#      whatever the tries on the responder being restarted did (those are retried on the other
#      member and counted in rbgw_upstream_calls_total / rbgw_upstream_retries_total);
#   4. at the end rbgw_calls_in_flight is 0, and rbgw and pdns are still running;
#   5. every try on a responder is counted: the sum of rbgw_upstream_calls_total is exactly
#      rbgw_calls_total, less the initialize calls rbgw answers itself (one per pdns session,
#      rbgw_listener_sessions_total), plus the tries made after another member failed
#      (rbgw_upstream_retries_total{kind="member"}).  The tries r2 still finishes after a
#      reload replaced it are in there too (they go to the new r2 when the old one closes,
#      which is before the last scrape: it is freed once the last call on it is over).
# "Descriptors do not grow": rbgw's descriptors minus its pdns sessions and upstream connections
# (both read from the same scrape: the part that must be constant) are, at the end (the least of
# the last 5 samples), no more than after the warm-up (the least of the first 5 samples after
# WARMUP s).  The raw descriptor count and its slope are reported too.  RSS is reported (start,
# end, least-squares slope after the warm-up), not judged: the allocator keeps freed memory.
#
# Environment:
#   RBGW_BIN       rbgw binary (default <repo>/build/rbgw); an ASan build (build-asan/rbgw)
#                  adds LeakSanitizer's verdict at rbgw's exit to the checks
#   SOAK_OUT       where the results go (default <repo>/build/soak; emptied first): samples.csv,
#                  summary.txt, metrics-end.txt, dnsperf.txt, the logs, soak.png (with gnuplot)
#   QPS            dnsperf's rate (default 200)
#   RESTART_EVERY  seconds between responder restarts (default 150)
#   RELOAD_EVERY   seconds between reloads (default 60)
#   SAMPLE_EVERY   seconds between samples (default 10)
#   WARMUP         seconds left out of the slopes and the descriptor check (default: 120, or a
#                  fifth of the run if that is shorter)
#   DISTRIBUTORS   pdns's distributor-threads= (default 4): each is one pdns connection to rbgw
#                  making one call at a time, so they bound what pdns can ask for at once
#   RETRIES        the pool's retries= (default 1).  RETRIES=0 shows that the checks can fail:
#                  a call cut by a restart is then answered false, and pdns serves that as an
#                  empty answer (NXDOMAIN) or SERVFAIL
# Ports: DNS from 15350-15399, HTTP (responders, admin) from 18050-18099 (tests/e2e/lib.sh's
# helpers pick free ones).  Everything runs on 127.0.0.1; every process started here is stopped
# by the EXIT trap.  Nothing is paused or niced: the load is light (about QPS x 3 backend calls/s).
set -uo pipefail

MINUTES=${1:-30}
case $MINUTES in '' | *[!0-9]*)
    echo "usage: soak.sh [MINUTES]" >&2
    exit 2
    ;;
esac
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
source "$HERE/../e2e/lib.sh"
E2E_DNS_PORTS=(15350 15399)
E2E_HTTP_PORTS=(18050 18099)
command -v dnsperf >/dev/null || {
    echo "soak.sh: dnsperf is missing (apt-get install dnsperf)" >&2
    exit 1
}
command -v curl >/dev/null || {
    echo "soak.sh: curl is missing" >&2
    exit 1
}
[ -x "$RBGW_BIN" ] || {
    echo "soak.sh: no rbgw at $RBGW_BIN (build it, or set RBGW_BIN)" >&2
    exit 1
}

DURATION=$((MINUTES * 60))
QPS=${QPS:-200}
RESTART_EVERY=${RESTART_EVERY:-150}
RELOAD_EVERY=${RELOAD_EVERY:-60}
SAMPLE_EVERY=${SAMPLE_EVERY:-10}
WARMUP=${WARMUP:-120}
RETRIES=${RETRIES:-1}
DISTRIBUTORS=${DISTRIBUTORS:-4}
[ $((DURATION / 5)) -lt "$WARMUP" ] && WARMUP=$((DURATION / 5))
OUT=${SOAK_OUT:-$RBGW_SOURCE_DIR/build/soak}
rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

e2e_init
# e2e_pick_port runs in a subshell here, so each port is recorded in E2E_USED_PORTS by hand:
# otherwise the next pick could hand out the same port again.
DNS_PORT=$(e2e_dns_port) && E2E_USED_PORTS+=("$DNS_PORT") || exit 1
P1=$(e2e_http_port) && E2E_USED_PORTS+=("$P1") || exit 1
P2=$(e2e_http_port) && E2E_USED_PORTS+=("$P2") || exit 1
ADMIN_PORT=$(e2e_http_port) && E2E_USED_PORTS+=("$ADMIN_PORT") || exit 1
SOCK=$E2E_TMP/rbgw.sock
CONF=$E2E_TMP/rbgw/rbgw.conf

# The query file: names of examples/zone.json that exist (with data of that type), and one that
# does not (the last line: the only NXDOMAIN).
cat >"$E2E_TMP/queries" <<'EOF'
www.example.com A
example.com SOA
example.com NS
mail.example.com A
ftp.example.com A
example.com MX
www.example.com AAAA
example.com TXT
ns1.example.com A
nothere.example.com A
EOF
NQ=$(wc -l <"$E2E_TMP/queries")
NX_INDEX=$((NQ - 1))

# Responders: started and restarted here, without --verbose (their log would grow by the call).
declare -A RPID=() RPORT=([r1]=$P1 [r2]=$P2)
start_responder() { # $1 r1|r2
    local log=$E2E_TMP/responder-$1.log
    : >"$log"
    python3 "$RESPONDER" --listen "127.0.0.1:${RPORT[$1]}" --prefix /dns >>"$log" 2>&1 &
    RPID[$1]=$!
    E2E_PIDS+=("${RPID[$1]}")
    e2e_wait_log "$log" '^responder: serving ' "${RPID[$1]}"
}

# rbgw's config, version A (odd generations) or B (even).
write_conf() { # $1 generation
    local policy=round-robin t2=1000
    if [ $(($1 % 2)) = 0 ]; then
        policy=least-outstanding t2=1100
    fi
    cat >"$CONF.new" <<EOF
# written by tests/soak/soak.sh, generation $1
listen=unix:path=$SOCK
admin=http:address=127.0.0.1:$ADMIN_PORT
upstream=http:url=http://127.0.0.1:$P1/dns,name=r1,timeout=1000
upstream+=http:url=http://127.0.0.1:$P2/dns,name=r2,timeout=$t2
pool=main:upstreams=r1+r2,policy=$policy,read=one,retries=$RETRIES
log-level=info
EOF
    mv "$CONF.new" "$CONF"
}

scrape() { # the admin endpoint's metrics, on stdout
    curl -s --max-time 5 "http://127.0.0.1:$ADMIN_PORT/metrics"
}

# metric NAME [LABEL-FILTER]: sum of the samples of NAME whose labels contain the filter, from
# the scrape on stdin.
metric() {
    awk -v name="$1" -v filt="${2:-}" '
        $1 ~ "^" name "([{]|$)" && index($1, filt) { s += $NF; n++ }
        END { printf "%d\n", n ? s : 0 }'
}

fd_count() {
    local n
    n=$(find "/proc/$RBGW_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    echo "$n"
}

T0=$(date +%s)
GEN=1
RESTARTS=0
RELOADS=0
sample() { # one line of samples.csv
    local t rss fds1 fds2 m sessions conns calls inflight gen
    t=$(($(date +%s) - T0))
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$RBGW_PID/status" 2>/dev/null)
    fds1=$(fd_count)
    m=$(scrape)
    fds2=$(fd_count)
    sessions=$(metric rbgw_listener_sessions <<<"$m")
    conns=$(metric rbgw_upstream_connections <<<"$m")
    calls=$(metric rbgw_calls_total <<<"$m")
    inflight=$(metric rbgw_calls_in_flight <<<"$m")
    gen=$(metric rbgw_config_generation <<<"$m")
    # The descriptors not explained by connections, only when no descriptor opened or closed
    # around the scrape (else the two would not describe the same moment): empty then.
    local other=
    [ "$fds1" = "$fds2" ] && other=$((fds1 - sessions - conns))
    echo "$t,${rss:-},$fds1,$sessions,$conns,$other,$calls,$inflight,$gen,$(cut -d' ' -f1 /proc/loadavg)" \
        >>"$OUT/samples.csv"
}

# Start: two responders, rbgw (unix listener, admin endpoint), pdns on rbgw's socket.
start_responder r1 || exit 1
start_responder r2 || exit 1
mkdir -p "$E2E_TMP/rbgw"
write_conf 1
E2E_LOGS+=("$E2E_TMP/rbgw/rbgw.log")
"$RBGW_BIN" --config="$CONF" </dev/null >"$E2E_TMP/rbgw/rbgw.stdout" 2>"$E2E_TMP/rbgw/rbgw.log" &
RBGW_PID=$!
E2E_PIDS+=("$RBGW_PID")
e2e_wait_unix "$SOCK" "$RBGW_PID" || exit 1
e2e_wait_tcp "$ADMIN_PORT" "$RBGW_PID" || exit 1
e2e_start_pdns pdns "$DNS_PORT" "unix:path=$SOCK" "loglevel=4" \
    "distributor-threads=$DISTRIBUTORS" || exit 1
PDNS_PID=${E2E_PDNS_PID[pdns]}

echo "# soak: ${MINUTES} min at $QPS QPS; pdns 127.0.0.1:$DNS_PORT -> rbgw unix:$SOCK (pid" \
    "$RBGW_PID, admin :$ADMIN_PORT) -> r1 :$P1, r2 :$P2; restart every ${RESTART_EVERY}s," \
    "reload every ${RELOAD_EVERY}s, sample every ${SAMPLE_EVERY}s, warm-up ${WARMUP}s;" \
    "results in $OUT"
echo "t_s,rss_kib,fds,pdns_sessions,upstream_conns,fds_other,calls,calls_in_flight,generation,load1" \
    >"$OUT/samples.csv"
T0=$(date +%s)
sample
dnsperf -s 127.0.0.1 -p "$DNS_PORT" -d "$E2E_TMP/queries" -l "$DURATION" -Q "$QPS" -c 1 -T 1 \
    -t 5 -S 60 >"$OUT/dnsperf.txt" 2>&1 &
PERF_PID=$!
E2E_PIDS+=("$PERF_PID")

next_sample=$SAMPLE_EVERY
next_reload=$RELOAD_EVERY
next_restart=$RESTART_EVERY
victim=r1
while kill -0 "$PERF_PID" 2>/dev/null; do
    now=$(($(date +%s) - T0))
    if [ "$now" -ge "$next_restart" ] && [ "$now" -lt $((DURATION - 5)) ]; then
        # Kill one responder mid-traffic and start it again on the same port.
        e2e_kill "${RPID[$victim]}"
        start_responder "$victim" || e2e_fail "responder $victim restarts"
        RESTARTS=$((RESTARTS + 1))
        echo "# $(date -u +%T) t=${now}s restarted $victim"
        if [ "$victim" = r1 ]; then victim=r2; else victim=r1; fi
        next_restart=$((next_restart + RESTART_EVERY))
    fi
    if [ "$now" -ge "$next_reload" ] && [ "$now" -lt $((DURATION - 5)) ]; then
        GEN=$((GEN + 1))
        write_conf "$GEN"
        kill -HUP "$RBGW_PID"
        if e2e_wait_log "$E2E_TMP/rbgw/rbgw.log" "reload: generation $GEN in force" "$RBGW_PID"; then
            RELOADS=$((RELOADS + 1))
        else
            e2e_fail "reload to generation $GEN"
            break
        fi
        next_reload=$((next_reload + RELOAD_EVERY))
    fi
    if [ "$now" -ge "$next_sample" ]; then
        sample
        next_sample=$((next_sample + SAMPLE_EVERY))
    fi
    sleep 1
done
wait "$PERF_PID"
PERF_RC=$?

# The load is over: wait (bounded) until rbgw has no call in flight, then the last sample.
for _ in $(seq 1 100); do
    [ "$(scrape | metric rbgw_calls_in_flight)" = 0 ] && break
    sleep 0.1
done
sample
scrape >"$OUT/metrics-end.txt"
pdns_control --config-dir="$E2E_TMP/pdns" show '*' 2>&1 | tr ',' '\n' >"$OUT/pdns-stats.txt"
cp "$E2E_TMP"/responder-r?.log "$OUT/" 2>/dev/null
ELAPSED=$(($(date +%s) - T0))

# ---- the numbers ----
perf_field() { # the first number after "LABEL:" on dnsperf's last line with that label
    awk -v label="$1" 'index($0, label ":") { sub(".*" label ": *", ""); v = $1 + 0 }
        END { print v + 0 }' "$OUT/dnsperf.txt"
}
rcode() { # the count of one response code in dnsperf's (last) "Response codes:" line
    awk -v code="$1" '/Response codes:/ { v = 0; for (i = 1; i < NF; i++) if ($i == code) v = $(i + 1) + 0 }
        END { print v + 0 }' "$OUT/dnsperf.txt"
}
SENT=$(perf_field "Queries sent")
DONE=$(perf_field "Queries completed")
LOST=$(perf_field "Queries lost")
NOERROR=$(rcode NOERROR)
NXDOMAIN=$(rcode NXDOMAIN)
SERVFAIL=$(rcode SERVFAIL)
CODES=$(awk -F': *' '/Response codes:/ { print $2 }' "$OUT/dnsperf.txt")
NX_WANT=$((SENT / NQ + (SENT % NQ > NX_INDEX ? 1 : 0)))
LAT_MAX=$(awk '/Average Latency/ { v = $NF; sub(/\)/, "", v); print v }' "$OUT/dnsperf.txt")
# dnsperf prints its timeouts between its once-a-minute rate lines: the lost queries per minute.
LOST_BY_MIN=$(awk '/^[0-9]+[.][0-9]+: / { m++; next } /timed out/ { n[m]++ }
    END { for (i = 0; i <= m; i++) if (n[i]) printf "min %d: %d  ", i + 1, n[i] }' "$OUT/dnsperf.txt")
pdns_stat() { awk -F= -v k="$1" '$1 == k { print $2 }' "$OUT/pdns-stats.txt"; }

M=$(cat "$OUT/metrics-end.txt")
CALLS_OK=$(metric rbgw_calls_total 'outcome="ok"' <<<"$M")
CALLS_FALSE=$(metric rbgw_calls_total 'outcome="false"' <<<"$M")
CALLS_ALL=$(metric rbgw_calls_total <<<"$M")
CALLS_OTHER=$((CALLS_ALL - CALLS_OK - CALLS_FALSE))
INFLIGHT=$(metric rbgw_calls_in_flight <<<"$M")
BY_OUTCOME=$(awk '$1 ~ /^rbgw_calls_total[{]/ { match($1, /outcome="[^"]*"/); o = substr($1, RSTART + 9, RLENGTH - 10); s[o] += $NF }
    END { for (o in s) printf "%s=%d ", o, s[o] }' <<<"$M")
# Per upstream, the outcomes that occurred.
UP_BY_OUTCOME=$(awk '$1 ~ /^rbgw_upstream_calls_total[{]/ && $NF > 0 {
        match($1, /upstream="[^"]*"/); u = substr($1, RSTART + 10, RLENGTH - 11)
        match($1, /outcome="[^"]*"/); o = substr($1, RSTART + 9, RLENGTH - 10)
        printf "%s %s=%d  ", u, o, $NF }' <<<"$M")
RETRIED=$(metric rbgw_upstream_retries_total <<<"$M")
TRIES=$(metric rbgw_upstream_calls_total <<<"$M")
SESSIONS_ALL=$(metric rbgw_listener_sessions_total <<<"$M")
MEMBER_RETRIES=$(metric rbgw_upstream_retries_total 'kind="member"' <<<"$M")
TRIES_WANT=$((CALLS_ALL - SESSIONS_ALL + MEMBER_RETRIES))
EJECTIONS=$(metric rbgw_upstream_ejections_total <<<"$M")
RELOADS_OK=$(metric rbgw_config_reloads_total 'result="ok"' <<<"$M")
RELOADS_FAILED=$(metric rbgw_config_reloads_total 'result="failed"' <<<"$M")

# Least-squares slope (per minute) of CSV column $1 over the samples at t >= WARMUP.
slope() {
    awk -F, -v c="$1" -v w="$WARMUP" 'NR > 1 && $1 >= w && $c != "" {
            x = $1 / 60; n++; sx += x; sy += $c; sxx += x * x; sxy += x * $c }
        END { d = n * sxx - sx * sx; if (n < 3 || d == 0) print "n/a"; else printf "%.3f\n", (n * sxy - sx * sy) / d }' \
        "$OUT/samples.csv"
}
col_first() { awk -F, -v c="$1" 'NR == 2 { print $c; exit }' "$OUT/samples.csv"; }
col_last() { awk -F, -v c="$1" 'END { print $c }' "$OUT/samples.csv"; }
col_after_warmup() { awk -F, -v c="$1" -v w="$WARMUP" 'NR > 1 && $1 >= w { print $c; exit }' "$OUT/samples.csv"; }
# least of column $1 over the first 5 samples after the warm-up / over the last 5 samples
min_first5() {
    awk -F, -v c="$1" -v w="$WARMUP" 'NR > 1 && $1 >= w && $c != "" && k < 5 { k++; if (m == "" || $c < m) m = $c } END { print m }' \
        "$OUT/samples.csv"
}
min_last5() {
    awk -F, -v c="$1" 'NR > 1 && $c != "" { v[++n] = $c } END { for (i = (n > 5 ? n - 4 : 1); i <= n; i++) if (m == "" || v[i] < m) m = v[i]; print m }' \
        "$OUT/samples.csv"
}
RSS_START=$(col_first 2)
RSS_WARM=$(col_after_warmup 2)
RSS_END=$(col_last 2)
RSS_MAX=$(awk -F, 'NR > 1 && $2 > m { m = $2 } END { print m }' "$OUT/samples.csv")
FD_START=$(col_first 3)
FD_WARM=$(col_after_warmup 3)
FD_END=$(col_last 3)
FD_MAX=$(awk -F, 'NR > 1 && $3 > m { m = $3 } END { print m }' "$OUT/samples.csv")
OTHER_WARM=$(min_first5 6)
OTHER_END=$(min_last5 6)
RSS_SLOPE=$(slope 2)
FD_SLOPE=$(slope 3)
OTHER_SLOPE=$(slope 6)
NSAMPLES=$(($(wc -l <"$OUT/samples.csv") - 1))

{
    echo "soak: ${ELAPSED}s (${MINUTES} min of load at $QPS QPS), $NSAMPLES samples, warm-up ${WARMUP}s"
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "dnsperf: sent $SENT, completed $DONE, lost $LOST; response codes: $CODES (exit $PERF_RC)"
    echo "  NXDOMAIN $NXDOMAIN (the non-existent name was sent $NX_WANT times), SERVFAIL $SERVFAIL;" \
        "latency max ${LAT_MAX}s"
    [ -n "$LOST_BY_MIN" ] && echo "  lost queries by minute of the run: $LOST_BY_MIN"
    echo "pdns: udp-queries $(pdns_stat udp-queries), udp-answers $(pdns_stat udp-answers)," \
        "servfail-packets $(pdns_stat servfail-packets), timedout-packets" \
        "$(pdns_stat timedout-packets), overload-drops $(pdns_stat overload-drops)," \
        "udp-recvbuf-errors $(pdns_stat udp-recvbuf-errors), latency $(pdns_stat latency) us"
    echo "rbgw calls (rbgw_calls_total by outcome): $BY_OUTCOME(total $CALLS_ALL); in flight at the end: $INFLIGHT"
    echo "tries on the responders (rbgw_upstream_calls_total since the start; r2, replaced by each"
    echo "  reload, goes on from the counts of the r2 it replaced): $UP_BY_OUTCOME"
    echo "  retries $RETRIED, ejections $EJECTIONS (same scope)"
    echo "  tries $TRIES = calls $CALLS_ALL - pdns sessions (initialize) $SESSIONS_ALL + member retries $MEMBER_RETRIES ($TRIES_WANT)"
    echo "responder restarts: $RESTARTS; reloads: $RELOADS sent and waited for (rbgw: ok $RELOADS_OK, failed $RELOADS_FAILED)"
    echo "RSS KiB: start $RSS_START, after warm-up $RSS_WARM, end $RSS_END, max $RSS_MAX; slope after warm-up $RSS_SLOPE KiB/min"
    echo "fds: start $FD_START, after warm-up $FD_WARM, end $FD_END, max $FD_MAX; slope after warm-up $FD_SLOPE fds/min"
    echo "fds other than pdns sessions and upstream connections: $OTHER_WARM after warm-up, $OTHER_END at the end (least of 5 samples); slope $OTHER_SLOPE /min"
} | tee "$OUT/summary.txt"

# ---- the checks ----
e2e_expect "dnsperf ran to its end" "$PERF_RC" 0
e2e_expect "dnsperf: no query lost" "$LOST" 0
e2e_expect "dnsperf: every query sent completed" "$DONE" "$SENT"
e2e_expect "no SERVFAIL" "$SERVFAIL" 0
e2e_expect "only NOERROR and NXDOMAIN responses" "$((NOERROR + NXDOMAIN))" "$DONE"
e2e_expect "NXDOMAIN exactly for the non-existent name" "$NXDOMAIN" "$NX_WANT"
e2e_expect "rbgw answered every call with the responder's answer (no other outcome)" \
    "$CALLS_OTHER" 0
e2e_expect "no call in flight at the end" "$INFLIGHT" 0
e2e_expect "every try on a responder counted, those finished after a reload included" \
    "$TRIES" "$TRIES_WANT"
e2e_expect "reloads in force" "$RELOADS_OK" "$RELOADS"
e2e_expect "no reload refused" "$RELOADS_FAILED" 0
if [ -n "$OTHER_WARM" ] && [ -n "$OTHER_END" ] && [ "$OTHER_END" -le "$OTHER_WARM" ]; then
    e2e_ok "descriptors do not grow ($OTHER_WARM -> $OTHER_END besides connections)"
else
    e2e_fail "descriptors do not grow ($OTHER_WARM -> $OTHER_END besides connections)"
fi
if kill -0 "$RBGW_PID" 2>/dev/null && kill -0 "$PDNS_PID" 2>/dev/null; then
    e2e_ok "rbgw and pdns still run"
else
    e2e_fail "rbgw and pdns still run"
fi
e2e_stop_pdns pdns
# rbgw drains and exits 0 on SIGTERM (an ASan build exits 23 if LeakSanitizer found a leak).
kill -TERM "$RBGW_PID"
for _ in $(seq 1 100); do
    kill -0 "$RBGW_PID" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$RBGW_PID" 2>/dev/null; then
    e2e_fail "rbgw exits within 10 s of SIGTERM"
    e2e_kill "$RBGW_PID"
else
    wait "$RBGW_PID"
    e2e_expect "rbgw exits 0 on SIGTERM" "$?" 0
fi
# rbgw's log after it exited: an ASan build (RBGW_BIN=build-asan/rbgw) reports leaks at exit.
cp "$E2E_TMP/rbgw/rbgw.log" "$OUT/rbgw.log"
cp "$E2E_TMP/pdns/pdns.log" "$OUT/pdns.log"
hits=$(grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$OUT/rbgw.log" | head -n 3)
e2e_expect "no sanitizer report in rbgw's log" "$hits" ""

if command -v gnuplot >/dev/null; then
    gnuplot <<EOF 2>"$OUT/gnuplot.err" && echo "# plot: $OUT/soak.png"
set terminal png size 900,500
set output "$OUT/soak.png"
set datafile separator ","
set title "rbgw under soak: ${MINUTES} min, $QPS QPS, $RESTARTS responder restarts, $RELOADS reloads"
set xlabel "minutes"
set ylabel "RSS (KiB)"
set y2label "open descriptors"
set y2tics
set ytics nomirror
set yrange [0:*]
set y2range [0:*]
set key bottom right
set arrow from $WARMUP / 60.0, graph 0 to $WARMUP / 60.0, graph 1 nohead dt 2
plot "$OUT/samples.csv" every ::1 using (\$1 / 60):2 with lines lw 2 title "RSS", \
     "" every ::1 using (\$1 / 60):3 axes x1y2 with lines title "fds", \
     "" every ::1 using (\$1 / 60):6 axes x1y2 with lines title "fds besides connections"
EOF
fi
e2e_finish

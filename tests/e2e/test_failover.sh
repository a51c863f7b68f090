#!/usr/bin/env bash
# test_failover.sh: pdns keeps answering while one of two responders in an rbgw pool dies.
#
#   dig ──> pdns_server ──pipe──> rbgw ──HTTP──> responder a (examples/responder.py)
#                                   │ pool p:  └──HTTP──> responder b (same zone)
#
# Two phases, one pdns each: the pool's policy is first-available (a serves everything until
# it dies, so the failover is the whole story) and then round-robin (half of the calls start
# at the dead responder).  In each, DIGS queries for www.example.com A run one after another
# (one dig process) and responder a is killed (SIGKILL) once it has served KILL_AT lookups,
# with queries in flight.  Every query must come back NOERROR with the zone's record
# 192.0.2.10: no SERVFAIL, no timeout, before or after the kill.  The run is bounded by DIGS
# and by LOOP_BOUND_S seconds (a safety bound, not a timing assertion).
# Afterwards: the surviving responder served lookups after the kill, rbgw exits with pdns, and
# rbgw's stderr (in pdns's log) holds no sanitizer report or crash.
#
# Prints one "ok"/"FAIL" line per check; exits 1 on any failure, 77 if pdns is not installed.
set -u
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck disable=SC2034 # used by lib.sh
E2E_DNS_PORTS=(15700 15749)
# shellcheck disable=SC2034
E2E_HTTP_PORTS=(18400 18449)
e2e_init

DIGS=${FAILOVER_DIGS:-200}
KILL_AT=${FAILOVER_KILL_AT:-60}
LOOP_BOUND_S=120
WANT=192.0.2.10

# lookups_seen LOG: how many lookups a verbose responder has logged.
lookups_seen() {
    grep -c '^responder: .* lookup ' "$1" 2>/dev/null
    return 0
}

# run_phase POLICY: responders a and b, pdns -> rbgw with pool=p:upstreams=a+b,policy=POLICY,
# the queries with a killed mid-run, then the checks.
run_phase() {
    local policy=$1 t=$1 port_a port_b dns dir pid_a pid_dig connstr out log_a log_b i
    local b_at_kill=0 good statuses timeouts
    echo "# --- $t"
    # e2e_*_port run in a subshell here: record each port in this shell so the next pick skips
    # it (two responders on one port would make the kill pointless)
    if ! port_a=$(e2e_http_port) || ! E2E_USED_PORTS+=("$port_a") ||
        ! port_b=$(e2e_http_port) || ! E2E_USED_PORTS+=("$port_b") ||
        ! dns=$(e2e_dns_port) || ! E2E_USED_PORTS+=("$dns"); then
        e2e_fail "$t: free ports"
        return
    fi
    if ! e2e_start_responder "$t-a" "$port_a"; then
        e2e_fail "$t: responder a listens on $port_a"
        return
    fi
    pid_a=${E2E_PIDS[-1]}
    if ! e2e_start_responder "$t-b" "$port_b"; then
        e2e_fail "$t: responder b listens on $port_b"
        return
    fi
    log_a=$E2E_TMP/responder-$t-a.log
    log_b=$E2E_TMP/responder-$t-b.log

    dir=$E2E_TMP/$t
    mkdir -p "$dir"
    ln -sf "$(readlink -f "$RBGW_BIN")" "$E2E_TMP/rbgw"
    {
        echo "# written by tests/e2e/test_failover.sh"
        echo "listen=pipe"
        echo "log-level=info"
        echo "upstream=http:url=http://127.0.0.1:$port_a/dns,name=a"
        echo "upstream+=http:url=http://127.0.0.1:$port_b/dns,name=b"
        echo "pool=p:upstreams=a+b,policy=$policy"
    } >"$dir/rbgw.conf"
    connstr="pipe:command=$E2E_TMP/rbgw --config=$dir/rbgw.conf,timeout=2000"
    if ! e2e_start_pdns "$t" "$dns" "$connstr"; then
        e2e_fail "$t: pdns answers on 127.0.0.1:$dns"
        return
    fi
    e2e_ok "$t: pdns answers on 127.0.0.1:$dns"

    # One dig process runs the queries one after another (a dig per query would spend more
    # time starting processes than querying); a is killed once it has served KILL_AT lookups,
    # while queries are in flight.
    for ((i = 0; i < DIGS; i++)); do
        echo "www.example.com A"
    done >"$dir/queries"
    timeout "$LOOP_BOUND_S" dig @127.0.0.1 -p "$dns" +time=3 +tries=1 +noall +comments +answer \
        -f "$dir/queries" >"$dir/digs.out" 2>&1 &
    pid_dig=$!
    E2E_PIDS+=("$pid_dig")
    for ((i = 0; i < LOOP_BOUND_S * 20; i++)); do
        [ "$(lookups_seen "$log_a")" -ge "$KILL_AT" ] && break
        kill -0 "$pid_dig" 2>/dev/null || break
        sleep 0.05
    done
    if [ "$(lookups_seen "$log_a")" -ge "$KILL_AT" ] && kill -0 "$pid_dig" 2>/dev/null; then
        kill -KILL "$pid_a" 2>/dev/null
        wait "$pid_a" 2>/dev/null
        b_at_kill=$(lookups_seen "$log_b")
        e2e_ok "$t: responder a killed mid-run (after it served $KILL_AT lookups)"
    else
        e2e_fail "$t: responder a killed mid-run (it served $(lookups_seen "$log_a") lookups)"
    fi
    wait "$pid_dig"
    out=$(cat "$dir/digs.out")
    # "200 NOERROR" when all is well, else e.g. "51 NOERROR, 149 REFUSED, 3 timed out" (pdns
    # answers REFUSED when the backend's SOA lookup came back false, SERVFAIL when it threw)
    statuses=$(printf '%s\n' "$out" | grep -o 'status: [A-Z]*' | awk '{ print $2 }' | sort |
        uniq -c | awk '{ printf "%s%d %s", sep, $1, $2; sep = ", " }')
    timeouts=$(printf '%s\n' "$out" | grep -c 'timed out')
    [ "$timeouts" != 0 ] && statuses="$statuses, $timeouts timed out"
    good=$(printf '%s\n' "$out" | grep -Ec "^www\\.example\\.com\\.\\s+[0-9]+\\s+IN\\s+A\\s+$WANT\$")
    e2e_expect "$t: $DIGS queries answered NOERROR" "$statuses" "$DIGS NOERROR"
    e2e_expect "$t: $DIGS answers carry www.example.com A $WANT" "$good" "$DIGS"
    if [ "$(lookups_seen "$log_b")" -gt "$b_at_kill" ]; then
        e2e_ok "$t: responder b served lookups after a died"
    else
        e2e_fail "$t: responder b served lookups after a died"
    fi
    e2e_stop_pdns "$t"
    e2e_expect_clean_log "$t"
}

run_phase first-available
run_phase round-robin
e2e_finish

# shellcheck shell=bash
# lib.sh: shared helpers for the end-to-end tests (tests/e2e/test_*.sh).
#
# An e2e test runs the real thing: pdns_server (Debian's 4.7) on 127.0.0.1:<high port> with its
# own temporary --config-dir, the rbgw binary as pdns's pipe co-process (or any other connection
# string), the example responder (examples/responder.py) as the HTTP upstream, and dig as the DNS
# client.  Every process started here is recorded and killed by the EXIT trap; on failure the
# logs of pdns (which also holds rbgw's stderr, inherited from pdns) and of the responder are
# printed.  Readiness is always polled (bounded retry loops), never assumed after a fixed sleep.
#
# Environment:
#   RBGW_BIN         rbgw binary (ctest sets it; default $RBGW_SOURCE_DIR/build/rbgw)
#   RBGW_SOURCE_DIR  source tree (ctest sets it; default: two levels above this file)
#   E2E_KEEP=1       keep the temporary directory (its path is printed)
#   E2E_SABOTAGE=dead-upstream  point rbgw at a closed port: every rbgw check must then FAIL
#                    (used to prove the tests can fail; see docs/testing.md)
#
# Ports are picked from E2E_DNS_PORTS and E2E_HTTP_PORTS (default DNS 15300-15349, HTTP
# 18000-18049, the ranges reserved for test_pipe_http.sh); a test that may run in parallel with
# others sets its own ranges after sourcing this file.
#
# Usage from a test:  source "$(dirname "$0")/lib.sh"; e2e_init; ...checks...; e2e_finish

RBGW_SOURCE_DIR=${RBGW_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
RBGW_BIN=${RBGW_BIN:-$RBGW_SOURCE_DIR/build/rbgw}
RESPONDER=$RBGW_SOURCE_DIR/examples/responder.py
E2E_DNS_PORTS=(15300 15349)
E2E_HTTP_PORTS=(18000 18049)

E2E_TMP=
E2E_PIDS=()       # every background process we started
E2E_LAST_PID=     # pid of the process e2e_start_rbgw started last
E2E_LOGS=()       # log files to print on failure
E2E_USED_PORTS=() # ports handed out by e2e_pick_port in this run
E2E_PASSED=0
E2E_FAILED=0
declare -A E2E_PDNS_PID=()

e2e_log() {
    printf '# %s\n' "$*"
}

# e2e_init: skip (exit 77) when the tools are missing, make the temp dir, install the trap.
e2e_init() {
    local tool
    if ! command -v pdns_server >/dev/null 2>&1 && [ ! -x /usr/sbin/pdns_server ]; then
        echo "SKIP: pdns_server is not installed (run scripts/setup.sh)"
        exit 77
    fi
    PATH=$PATH:/usr/sbin
    if ! ls /usr/lib/*/pdns/libremotebackend.so >/dev/null 2>&1; then
        echo "SKIP: pdns remote backend is not installed (apt-get install pdns-backend-remote)"
        exit 77
    fi
    for tool in dig python3; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "SKIP: $tool is not installed (run scripts/setup.sh)"
            exit 77
        fi
    done
    E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/rbgw-e2e.XXXXXX")
    trap e2e_cleanup EXIT
    trap 'exit 130' INT TERM
}

# Direct children of a pid, read from /proc (procps may be absent on a minimal system).
e2e_children() {
    awk -v ppid="$1" '{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); if (f[2] == ppid) print $1 }' \
        /proc/[0-9]*/stat 2>/dev/null
    return 0
}

# e2e_kill PID...: SIGTERM, wait up to ~5 s (polled), then SIGKILL.
e2e_kill() {
    local pid alive
    for pid in "$@"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for _ in $(seq 1 50); do
        alive=0
        for pid in "$@"; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for pid in "$@"; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

e2e_dump_logs() {
    local f
    for f in "${E2E_LOGS[@]}"; do
        [ -f "$f" ] || continue
        echo "----- ${f#"$E2E_TMP"/} (last 150 lines) -----"
        tail -n 150 "$f"
    done
    echo "----- end of logs -----"
}

e2e_cleanup() {
    local rc=$? name kids=()
    trap - EXIT
    for name in "${!E2E_PDNS_PID[@]}"; do
        # shellcheck disable=SC2207
        kids+=($(e2e_children "${E2E_PDNS_PID[$name]}"))
    done
    [ ${#E2E_PIDS[@]} -gt 0 ] && e2e_kill "${E2E_PIDS[@]}"
    [ ${#kids[@]} -gt 0 ] && e2e_kill "${kids[@]}"
    if [ "$rc" != 0 ] || [ "$E2E_FAILED" != 0 ]; then
        e2e_dump_logs
    fi
    if [ "${E2E_KEEP:-0}" = 1 ]; then
        echo "# kept $E2E_TMP"
    else
        rm -rf "$E2E_TMP"
    fi
    exit "$rc"
}

# e2e_pick_port tcp|dns LO HI: print a port in [LO, HI] that is free (TCP; for dns also UDP)
# and not yet handed out in this run.  The ports are tried in random order: two runs of the same
# test on one machine (developers sharing it) would otherwise both take the first free port at
# the same moment, and one of them would fail on "Address already in use".
e2e_pick_port() {
    local kind=$1 lo=$2 hi=$3 port
    port=$(python3 - "$kind" "$lo" "$hi" "${E2E_USED_PORTS[@]}" <<'EOF'
import random, socket, sys
kind, lo, hi, used = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), set(sys.argv[4:])
types = [socket.SOCK_STREAM] + ([socket.SOCK_DGRAM] if kind == "dns" else [])
ports = list(range(lo, hi + 1))
random.shuffle(ports)
for port in ports:
    if str(port) in used:
        continue
    try:
        for t in types:
            with socket.socket(socket.AF_INET, t) as s:
                s.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port)
    break
EOF
    )
    if [ -z "$port" ]; then
        echo "e2e: no free $kind port in $lo-$hi" >&2
        return 1
    fi
    E2E_USED_PORTS+=("$port")
    echo "$port"
}

e2e_dns_port() { e2e_pick_port dns "${E2E_DNS_PORTS[@]}"; }
e2e_http_port() { e2e_pick_port tcp "${E2E_HTTP_PORTS[@]}"; }

# e2e_wait_tcp PORT PID: poll until 127.0.0.1:PORT accepts connections (~10 s at most).
e2e_wait_tcp() {
    local port=$1 pid=$2
    for _ in $(seq 1 200); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "e2e: process $pid died before listening on $port" >&2
            return 1
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    echo "e2e: nothing listens on 127.0.0.1:$port" >&2
    return 1
}

# e2e_start_responder NAME PORT [responder args...]: start examples/responder.py (verbose, so
# its log names the mode and method of every request) and wait until it listens: until its log
# has the "serving" line it writes once its socket is bound (~10 s at most).  A connect to the
# port would not do: when another test run on the machine holds the port, the connect succeeds
# while this responder died of "Address already in use", and the test then talks to a stranger.
e2e_start_responder() {
    local name=$1 port=$2 log pid
    shift 2
    log=$E2E_TMP/responder-$name.log
    E2E_LOGS+=("$log")
    python3 "$RESPONDER" --listen "127.0.0.1:$port" --prefix /dns --verbose "$@" >"$log" 2>&1 &
    pid=$!
    E2E_PIDS+=("$pid")
    e2e_wait_log "$log" '^responder: serving ' "$pid"
}

# e2e_wait_log LOG REGEX PID: poll until a line of LOG matches REGEX (grep -E), ~10 s at most;
# fails at once, quoting the log's last line, when PID exits first.
e2e_wait_log() {
    local log=$1 re=$2 pid=$3
    for _ in $(seq 1 200); do
        if grep -qE "$re" "$log" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "e2e: process $pid exited before its log said /$re/: $(tail -n 1 "$log")" >&2
            return 1
        fi
        sleep 0.05
    done
    echo "e2e: $log never said /$re/" >&2
    return 1
}

# e2e_rbgw_connstr NAME UPSTREAM: write NAME/rbgw.conf (listen=pipe, upstream=UPSTREAM) and print
# the pdns connection string that spawns rbgw with it.  pdns splits `command` on spaces and a
# connection-string value cannot hold a comma, so rbgw is reached through a symlink in the temp
# dir and everything else goes into the config file.
e2e_rbgw_connstr() {
    local name=$1 upstream=$2 dir=$E2E_TMP/$1
    mkdir -p "$dir"
    ln -sf "$(readlink -f "$RBGW_BIN")" "$E2E_TMP/rbgw"
    cat >"$dir/rbgw.conf" <<EOF
# written by tests/e2e/lib.sh
listen=pipe
upstream=$upstream
log-level=info
EOF
    echo "pipe:command=$E2E_TMP/rbgw --config=$dir/rbgw.conf,timeout=2000"
}

# e2e_start_rbgw NAME CONFIG-LINE...: run rbgw as a standalone server (for listeners other than
# pipe: unix, http, zeromq) with NAME/rbgw.conf made of the given lines; its stderr goes to
# NAME/rbgw.log.  The caller then waits for its listener (e2e_wait_tcp or e2e_wait_unix with
# $E2E_LAST_PID) and points pdns at it.
e2e_start_rbgw() {
    local name=$1 dir=$E2E_TMP/$1 line
    shift
    mkdir -p "$dir"
    {
        echo "# written by tests/e2e/lib.sh"
        for line in "$@"; do
            echo "$line"
        done
    } >"$dir/rbgw.conf"
    E2E_LOGS+=("$dir/rbgw.log")
    "$RBGW_BIN" --config="$dir/rbgw.conf" </dev/null >"$dir/rbgw.stdout" 2>"$dir/rbgw.log" &
    E2E_LAST_PID=$!
    E2E_PIDS+=("$E2E_LAST_PID")
}

# e2e_wait_unix PATH PID: poll until the unix socket PATH exists (~10 s at most).
e2e_wait_unix() {
    local path=$1 pid=$2
    for _ in $(seq 1 200); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "e2e: process $pid died before creating $path" >&2
            return 1
        fi
        [ -S "$path" ] && return 0
        sleep 0.05
    done
    echo "e2e: no unix socket at $path" >&2
    return 1
}

# e2e_start_pdns NAME PORT CONNSTR [extra pdns.conf lines...]: start pdns_server with its own
# config dir NAME/ and wait until it answers the example.com SOA.  Returns 1 (after printing
# why) if it never does.
e2e_start_pdns() {
    local name=$1 port=$2 connstr=$3 dir=$E2E_TMP/$1 pid line
    shift 3
    mkdir -p "$dir"
    {
        echo "# written by tests/e2e/lib.sh"
        echo "launch=remote"
        echo "remote-connection-string=$connstr"
        echo "local-address=127.0.0.1"
        echo "local-port=$port"
        echo "socket-dir=$dir"
        echo "security-poll-suffix="
        echo "cache-ttl=0"
        echo "query-cache-ttl=0"
        echo "negquery-cache-ttl=0"
        echo "guardian=no"
        echo "daemon=no"
        echo "disable-syslog=yes"
        echo "loglevel=6"
        echo "webserver=no"
        echo "disable-axfr=no"
        echo "allow-axfr-ips=127.0.0.1/32"
        echo "distributor-threads=2"
        echo "receiver-threads=1"
        for line in "$@"; do
            echo "$line"
        done
    } >"$dir/pdns.conf"
    E2E_LOGS+=("$dir/pdns.log")
    pdns_server --config-dir="$dir" >"$dir/pdns.log" 2>&1 &
    pid=$!
    E2E_PIDS+=("$pid")
    E2E_PDNS_PID[$name]=$pid
    # Ask only once this pdns has bound both sockets (its log says so): another test run on the
    # machine may hold the port, and its pdns would answer while this one died of "Address
    # already in use".
    for _ in $(seq 1 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "e2e: pdns_server ($name) exited during start-up: $(grep -m1 -i 'unable to bind' \
                "$dir/pdns.log")" >&2
            return 1
        fi
        if grep -q "UDP server bound to 127.0.0.1:$port\$" "$dir/pdns.log" &&
            grep -q "TCP server bound to 127.0.0.1:$port\$" "$dir/pdns.log" &&
            dig +short +time=1 +tries=1 @127.0.0.1 -p "$port" example.com SOA 2>/dev/null |
            grep -qv '^;'; then
            return 0
        fi
        sleep 0.1
    done
    echo "e2e: pdns_server ($name) on port $port never answered example.com SOA" >&2
    return 1
}

# e2e_stop_pdns NAME: stop that pdns; its pipe children (rbgw) must exit with it.  If pdns had
# children, records a check that none outlives it by more than ~5 s.
e2e_stop_pdns() {
    local name=$1 pid=${E2E_PDNS_PID[$1]} kids k left
    kids=$(e2e_children "$pid")
    e2e_kill "$pid"
    unset "E2E_PDNS_PID[$name]"
    left=
    for _ in $(seq 1 50); do
        left=
        for k in $kids; do
            kill -0 "$k" 2>/dev/null && left="$left $k"
        done
        [ -z "$left" ] && break
        sleep 0.1
    done
    if [ -z "$kids" ]; then
        return 0
    elif [ -n "$left" ]; then
        e2e_fail "$name: co-processes exit with pdns (still alive:$left)"
        # shellcheck disable=SC2086
        e2e_kill $left
    else
        e2e_ok "$name: co-processes exit with pdns"
    fi
}

# e2e_expect_clean_log NAME: pdns's log for NAME (which holds rbgw's stderr) has no sanitizer
# report (ASan, LSan, UBSan) and no crash.  Call after e2e_stop_pdns.
e2e_expect_clean_log() {
    local name=$1 log=$E2E_TMP/$1/pdns.log hits
    local pattern='ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|SUMMARY: .*Sanitizer'
    pattern="$pattern|died on receiving signal (4|6|7|8|11)\\b" # SIGILL ABRT BUS FPE SEGV
    hits=$(grep -E "$pattern" "$log" 2>/dev/null | head -n 5)
    if [ -z "$hits" ]; then
        e2e_ok "$name: no sanitizer report or crash in rbgw's stderr"
    else
        e2e_fail "$name: no sanitizer report or crash in rbgw's stderr"
        printf '%s\n' "$hits" | sed 's/^/         | /'
    fi
}

# dig against a test pdns: e2e_dig PORT dig-args...
e2e_dig() {
    local port=$1
    shift
    dig +time=3 +tries=1 @127.0.0.1 -p "$port" "$@" 2>&1
}

e2e_ok() {
    E2E_PASSED=$((E2E_PASSED + 1))
    echo "ok   - $*"
}

e2e_fail() {
    E2E_FAILED=$((E2E_FAILED + 1))
    echo "FAIL - $*"
}

# e2e_expect DESC ACTUAL EXPECTED: exact string comparison.
e2e_expect() {
    if [ "$2" = "$3" ]; then
        e2e_ok "$1"
    else
        e2e_fail "$1"
        printf '       expected: %s\n       actual:   %s\n' "$3" "$2"
    fi
}

# e2e_expect_grep DESC TEXT ERE: TEXT has a line matching the extended regex ERE.
e2e_expect_grep() {
    if printf '%s\n' "$2" | grep -Eq -- "$3"; then
        e2e_ok "$1"
    else
        e2e_fail "$1"
        printf '       no line matches /%s/ in:\n' "$3"
        printf '%s\n' "$2" | sed 's/^/         | /'
    fi
}

# e2e_finish: summary line and exit status (1 if any check failed).
e2e_finish() {
    echo "# $E2E_PASSED passed, $E2E_FAILED failed"
    if [ "$E2E_FAILED" != 0 ] || [ "$E2E_PASSED" = 0 ]; then
        exit 1
    fi
    exit 0
}

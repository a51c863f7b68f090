#!/usr/bin/env bash
# test_matrix.sh: every listener kind x every upstream kind, end to end.
#
#   rows (how the client reaches rbgw)          columns (where rbgw sends the calls)
#   pipe       pdns pipe:command=rbgw --config  http    examples/responder.py (REST)
#   unix       pdns unix:path=                  unix    examples/responder_pipe.py --unix
#   http-rest  pdns http:url= (REST)            pipe    examples/responder_pipe.py, co-process
#   http-post  pdns http:url=,post=yes          zeromq  examples/responder_zmq.py (pyzmq)
#   http-json  pdns http:url=,post=yes,post_json=yes
#   zeromq     no pdns (Debian's has no ZeroMQ connector): `rbgw call zeromq:endpoint=...`
#              and a pyzmq REQ client that sends like pdns 4.x (JSON text + NUL byte)
#
# Each pdns cell starts its own pdns_server (lib.sh: 127.0.0.1, high port, own config dir, caches
# off) and checks with dig: A www.example.com, MX, SOA, NXDOMAIN with the SOA in authority, AXFR
# record count.  The zeromq row checks lookups (A, MX, SOA, a missing name) and the list count.
# Every cell also checks that the calls really reached its upstream (the responder's log), that
# a JSON-stream upstream got `initialize` with exactly its connection-string options (protocol.md
# §3.1), that rbgw's stderr holds no sanitizer report or crash, and that rbgw (and its pipe
# co-processes) go away cleanly.  Responders are started once per column and shared by the rows.
#
# Prints ok/FAIL per check, then the matrix (ok / FAIL / skip per cell).  Exits 1 if a cell
# failed (skip is not failure), 77 if pdns is not installed.  A column or row is skipped, with
# the reason, when its tool is missing: the zeromq column needs python3-zmq and an rbgw that
# accepts a zeromq upstream; the zeromq row needs either client.
# E2E_SABOTAGE=dead-upstream points every upstream at nothing: then every cell must FAIL (proves
# the checks can fail).  Ports: DNS 15600-15649, HTTP 18300-18349, ZeroMQ 18350-18399.
set -u
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck disable=SC2034 # lib.sh's port ranges, overridden with this test's own
E2E_DNS_PORTS=(15600 15649)
# shellcheck disable=SC2034
E2E_HTTP_PORTS=(18300 18349)
E2E_ZMQ_PORTS=(18350 18399)
e2e_init

# E2E_MATRIX_ROWS / E2E_MATRIX_COLS (space-separated) run a part of the matrix, for debugging.
read -r -a ROWS <<<"${E2E_MATRIX_ROWS:-pipe unix http-rest http-post http-json zeromq}"
read -r -a COLS <<<"${E2E_MATRIX_COLS:-http unix pipe zeromq}"
declare -A CELL=()       # "row col" -> ok | FAIL | skip
declare -A COL_SKIP=()   # col -> reason
declare -A UPSTREAM=()   # col -> upstream connection string (pipe: built per cell)
declare -A UP_LOG=()     # col -> log file of the shared responder

ZONE_JSON=$RBGW_SOURCE_DIR/examples/zone.json
SOA_CONTENT="ns1.example.com. hostmaster.example.com. 2024010101 10800 3600 604800 3600"
ZONE_COUNT=$(python3 -c 'import json, sys
print(len(json.load(open(sys.argv[1]))["zones"][0]["records"]))' "$ZONE_JSON")
SABOTAGE=${E2E_SABOTAGE:-}

if [ ! -x "$RBGW_BIN" ]; then
    e2e_fail "rbgw binary is built ($RBGW_BIN)"
    e2e_finish
fi
ln -sf "$(readlink -f "$RBGW_BIN")" "$E2E_TMP/rbgw"
RBGW=$E2E_TMP/rbgw

# pdns and rbgw split `command` on single spaces: give the responders space-free paths, and the
# real interpreter (not a pyenv shim script).
ln -sf "$RBGW_SOURCE_DIR/examples/responder_pipe.py" "$E2E_TMP/responder_pipe.py"
ln -sf "$RBGW_SOURCE_DIR/examples/responder_zmq.py" "$E2E_TMP/responder_zmq.py"
PY=$(python3 -c 'import sys; print(sys.executable)')
ZMQ_PY=
for py in "$PY" /usr/bin/python3; do
    if [ -x "$py" ] && "$py" -c 'import zmq' 2>/dev/null; then
        ZMQ_PY=$py
        break
    fi
done

# ---- small helpers (lib.sh has the generic ones) ----

# take_port VAR dns|http|zmq: a free port of this test's range into VAR.  e2e_pick_port records
# the ports it hands out in E2E_USED_PORTS, which a $(...) subshell would lose, so it runs in
# this shell with its output going through a file.
take_port() {
    local -n var=$1
    local range
    case $2 in
    dns) range=("${E2E_DNS_PORTS[@]}") ;;
    http) range=("${E2E_HTTP_PORTS[@]}") ;;
    zmq) range=("${E2E_ZMQ_PORTS[@]}") ;;
    esac
    var=0
    e2e_pick_port "$([ "$2" = dns ] && echo dns || echo tcp)" "${range[@]}" >"$E2E_TMP/port" ||
        return 1
    # shellcheck disable=SC2034 # var is a nameref to the caller's variable
    read -r var <"$E2E_TMP/port"
}

# hold_port PORT: keep 127.0.0.1:PORT bound but not listening, so that connecting to it is
# refused and no other process can start listening there (the E2E_SABOTAGE upstreams).
hold_port() {
    python3 -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
print("bound", flush=True)
time.sleep(3600)' "$1" >"$E2E_TMP/hold-$1" 2>&1 &
    E2E_PIDS+=("$!")
    for _ in $(seq 1 100); do
        grep -q bound "$E2E_TMP/hold-$1" && return 0
        sleep 0.05
    done
    return 1
}

# Lines of FILE after line FROM (FILE may not exist yet).
log_since() {
    [ -f "$1" ] && tail -n +"$(($2 + 1))" "$1"
    return 0
}

lines_of() {
    if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi
}

# PIDs of processes whose argv holds the two words "$1 $2" in a row.
pids_with_args() {
    python3 - "$1" "$2" <<'EOF'
import os, sys
for pid in filter(str.isdigit, os.listdir("/proc")):
    if int(pid) == os.getpid():
        continue  # this scan itself holds the words in its argv
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            argv = f.read().decode("utf-8", "replace").split("\0")
    except OSError:
        continue  # gone meanwhile
    if any(argv[i:i + 2] == sys.argv[1:3] for i in range(len(argv) - 1)):
        print(pid)
EOF
}

# check_gone DESC ARG1 ARG2: no process with "ARG1 ARG2" in its argv survives (~5 s, polled).
check_gone() {
    local left
    for _ in $(seq 1 50); do
        left=$(pids_with_args "$2" "$3")
        [ -z "$left" ] && break
        sleep 0.1
    done
    if [ -z "$left" ]; then
        e2e_ok "$1"
    else
        e2e_fail "$1 (still alive: $(echo "$left" | tr '\n' ' '))"
        # shellcheck disable=SC2086
        e2e_kill $left
    fi
}

# check_clean_stderr DESC FILE: no sanitizer report and no crash in rbgw's stderr.
check_clean_stderr() {
    local pattern hits
    pattern='ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|SUMMARY: .*Sanitizer'
    pattern="$pattern|died on receiving signal (4|6|7|8|11)\\b|Segmentation fault|Aborted"
    hits=$(grep -E "$pattern" "$2" 2>/dev/null | head -n 5)
    if [ -z "$hits" ]; then
        e2e_ok "$1"
    else
        e2e_fail "$1"
        printf '%s\n' "$hits" | sed 's/^/         | /'
    fi
}

# Reply line (stdin) -> "contents" of the result's records, one per line, or "count" of them.
# A result that is not an array prints as RESULT=<json> (so it can never match a record).
reply_field() {
    python3 -c '
import json, sys
mode = sys.argv[1]
text = sys.stdin.read().strip().splitlines()
try:
    res = json.loads(text[-1])["result"] if text else "<no reply>"
except Exception as e:
    print("UNPARSABLE=%r" % text[-1:]); sys.exit(0)
if not isinstance(res, list):
    print("RESULT=%s" % json.dumps(res)); sys.exit(0)
print(len(res) if mode == "count" else "\n".join(r.get("content", "?") for r in res))
' "$1"
}

# ---- the upstreams, started once per column ----

start_upstreams() {
    local port log pid
    # http: examples/responder.py
    take_port port http || return 1
    if e2e_start_responder up-http "$port"; then
        UPSTREAM[http]="http:url=http://127.0.0.1:$port/dns,timeout=1500"
        UP_LOG[http]=$E2E_TMP/responder-up-http.log
    else
        e2e_fail "column http: examples/responder.py starts on 127.0.0.1:$port"
        COL_SKIP[http]="responder.py did not start (see its log)"
    fi

    # unix: responder_pipe.py listening itself, one thread per connection
    log=$E2E_TMP/up-unix.log
    E2E_LOGS+=("$log")
    "$PY" "$E2E_TMP/responder_pipe.py" --unix "$E2E_TMP/up-unix.sock" --tag unix --verbose \
        >"$log" 2>&1 &
    pid=$!
    E2E_PIDS+=("$pid")
    for _ in $(seq 1 100); do
        [ -S "$E2E_TMP/up-unix.sock" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if [ -S "$E2E_TMP/up-unix.sock" ]; then
        UPSTREAM[unix]="unix:path=$E2E_TMP/up-unix.sock,timeout=1500"
        UP_LOG[unix]=$log
    else
        e2e_fail "column unix: responder_pipe.py --unix starts"
        COL_SKIP[unix]="responder_pipe.py --unix did not start (see its log)"
    fi

    # pipe: nothing to start; rbgw spawns responder_pipe.py (connection string built per cell)

    # zeromq: responder_zmq.py, if pyzmq is there and rbgw has a zeromq upstream
    if [ -z "$ZMQ_PY" ]; then
        COL_SKIP[zeromq]="python3-zmq is not installed (apt-get install python3-zmq)"
        return 0
    fi
    take_port port zmq || return 1
    log=$E2E_TMP/up-zmq.log
    E2E_LOGS+=("$log")
    "$ZMQ_PY" "$E2E_TMP/responder_zmq.py" --endpoint "tcp://127.0.0.1:$port" --tag zmq \
        --verbose >"$log" 2>&1 &
    pid=$!
    E2E_PIDS+=("$pid")
    if ! e2e_wait_tcp "$port" "$pid"; then
        e2e_fail "column zeromq: responder_zmq.py starts on tcp://127.0.0.1:$port"
        COL_SKIP[zeromq]="responder_zmq.py did not start (see its log)"
        return 0
    fi
    UP_ZMQ_ENDPOINT=tcp://127.0.0.1:$port
    UPSTREAM[zeromq]="zeromq:endpoint=$UP_ZMQ_ENDPOINT,timeout=1500"
    UP_LOG[zeromq]=$log
    local out
    out=$("$RBGW" call "${UPSTREAM[zeromq]}" lookup qname=www.example.com. qtype=A zone-id:=-1 \
        remote=127.0.0.1 local=127.0.0.1 real-remote=127.0.0.1/32 2>&1)
    if printf '%s\n' "$out" | grep -q 'not available as an upstream'; then
        COL_SKIP[zeromq]="rbgw does not accept a zeromq upstream yet ($(printf '%s\n' "$out" |
            grep -m1 -o 'the zeromq connector is not available as an upstream'))"
    fi
}

# upstream_for COL CELLID: the upstream connection string of this cell (sabotaged on request).
upstream_for() {
    local col=$1 id=$2
    if [ "$SABOTAGE" = dead-upstream ]; then
        case $col in
        http) echo "http:url=http://127.0.0.1:$DEAD_HTTP_PORT/dns,timeout=1500" ;;
        unix) echo "unix:path=$E2E_TMP/nothing-listens.sock,timeout=1500" ;;
        pipe) echo "pipe:command=/bin/false,timeout=1500" ;;
        zeromq) echo "zeromq:endpoint=tcp://127.0.0.1:$DEAD_ZMQ_PORT,timeout=1500" ;;
        esac
        return
    fi
    if [ "$col" = pipe ]; then
        echo "pipe:command=$PY $E2E_TMP/responder_pipe.py --tag $id --verbose,timeout=1500"
    else
        echo "${UPSTREAM[$col]}"
    fi
}

# upstream_evidence CELLDESC COL CELLID LOG FROM: the calls of this cell reached the upstream
# (lookups in the responder's log after line FROM), and a JSON-stream upstream got initialize
# with exactly its own connection-string options, all strings, keys sorted (docs/protocol.md §3.1).
upstream_evidence() {
    local t=$1 col=$2 id=$3 log=$4 from=$5 text tag want
    text=$(log_since "$log" "$from")
    case $col in
    http)
        tag='responder: rest'
        want=
        ;;
    unix)
        tag='responder_pipe\[unix\]:'
        want="{\"path\": \"$E2E_TMP/up-unix.sock\", \"timeout\": \"1500\"}"
        ;;
    pipe)
        tag="responder_pipe\\[$id\\]:"
        want="$PY $E2E_TMP/responder_pipe.py --tag $id --verbose"
        want="{\"command\": \"$want\", \"timeout\": \"1500\"}"
        ;;
    zeromq)
        tag='responder_zmq\[zmq\]:'
        want="{\"endpoint\": \"$UP_ZMQ_ENDPOINT\", \"timeout\": \"1500\"}"
        ;;
    esac
    local n
    n=$(printf '%s\n' "$text" | grep -cE "$tag lookup ")
    if [ "$n" -gt 0 ]; then
        e2e_ok "$t: the $col upstream received $n lookups"
    else
        e2e_fail "$t: the $col upstream received the lookups (none in ${log#"$E2E_TMP"/})"
    fi
    if [ -n "$want" ]; then
        local got
        got=$(printf '%s\n' "$text" | grep -E "$tag initialize " | head -n 1 |
            sed -E 's/.*: initialize (.*) -> [^ ]*$/\1/')
        e2e_expect "$t: the $col upstream got initialize with its connection-string options" \
            "$got" "$want"
    fi
}

# ---- rbgw as a background server (unix, http, zeromq rows) ----

declare -A RBGW_PID=()

# start_rbgw CELLID LISTEN UPSTREAM WAITKIND WAITARG: rbgw as a server (lib.sh's e2e_start_rbgw:
# CELLID/rbgw.conf, stderr in CELLID/rbgw.log), then wait for its listener: WAITKIND is unix
# (WAITARG = socket path) or tcp (WAITARG = port).
start_rbgw() {
    local id=$1 listen=$2 upstream=$3 kind=$4 arg=$5
    e2e_start_rbgw "$id" "listen=$listen" "upstream=$upstream" "log-level=info"
    RBGW_PID[$id]=$E2E_LAST_PID
    if [ "$kind" = tcp ]; then
        # rbgw's own "listening on" line first: a connect alone could reach another test run's
        # process holding the same port (see e2e_start_responder)
        e2e_wait_log "$E2E_TMP/$id/rbgw.log" "listening on .*127\.0\.0\.1:$arg" "$E2E_LAST_PID" &&
            e2e_wait_tcp "$arg" "$E2E_LAST_PID"
    else
        e2e_wait_unix "$arg" "$E2E_LAST_PID"
    fi
}

# stop_rbgw DESC CELLID: SIGTERM; rbgw must exit with status 0 within ~5 s.
stop_rbgw() {
    local t=$1 pid=${RBGW_PID[$2]} rc
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        e2e_fail "$t: rbgw exits within 5 s of SIGTERM"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    rc=$?
    e2e_expect "$t: rbgw exits with status 0 on SIGTERM" "$rc" 0
    unset "RBGW_PID[$2]"
}

# ---- the checks ----

# check_dns T PORT: the DNS assertions against the pdns listening on PORT.
check_dns() {
    local t=$1 port=$2 out n
    e2e_expect "$t: A www.example.com" "$(e2e_dig "$port" +short www.example.com A)" "192.0.2.10"
    e2e_expect "$t: MX example.com" "$(e2e_dig "$port" +short example.com MX)" \
        "10 mail.example.com."
    e2e_expect "$t: SOA example.com" "$(e2e_dig "$port" +short example.com SOA)" "$SOA_CONTENT"
    out=$(e2e_dig "$port" +noall +comments +authority nonexist.example.com A)
    e2e_expect_grep "$t: nonexist.example.com is NXDOMAIN" "$out" "status: NXDOMAIN"
    e2e_expect_grep "$t: NXDOMAIN carries the SOA in authority" "$out" \
        "^example\\.com\\.\\s+[0-9]+\\s+IN\\s+SOA\\s+ns1\\.example\\.com\\."
    n=$(e2e_dig "$port" +noall +answer example.com AXFR | awk '$3 == "IN"' | grep -c .)
    e2e_expect "$t: AXFR has $ZONE_COUNT records plus the closing SOA" "$n" "$((ZONE_COUNT + 1))"
}

# zmq_call DRIVER ENDPOINT METHOD ARGS...: one call to rbgw's zeromq listener; prints the reply.
zmq_call() {
    local driver=$1 endpoint=$2
    shift 2
    if [ "$driver" = rbgw-call ]; then
        "$RBGW" call "zeromq:endpoint=$endpoint,timeout=2000" "$@" 2>>"$ZMQ_CALL_LOG"
    else
        "$ZMQ_PY" "$E2E_TMP/zmq_call.py" "$endpoint" "$@" 2>>"$ZMQ_CALL_LOG"
    fi
}

# zmq_ready ENDPOINT: poll (bounded: 50 tries, 0.1 s apart) until a lookup through rbgw's
# zeromq listener is answered.  The first call of a fresh rbgw may get false while its pipe
# co-process starts (python under load can need more than the 1 s connect-timeout); the pdns
# rows get the same grace from e2e_start_pdns, which waits for pdns's first SOA answer.
zmq_ready() {
    local got
    for _ in $(seq 1 50); do
        got=$(zmq_call "${ZMQ_DRIVERS[0]}" "$1" lookup qname=example.com. qtype=SOA zone-id:=-1 \
            remote=127.0.0.1 local=127.0.0.1 real-remote=127.0.0.1/32 | reply_field contents)
        [ "$got" = "$SOA_CONTENT" ] && return 0
        sleep 0.1
    done
    return 1
}

# check_zmq_row T ENDPOINT: lookups and list through rbgw's zeromq listener.
check_zmq_row() {
    local t=$1 ep=$2 d pkt=(zone-id:=-1 remote=127.0.0.1 local=127.0.0.1 real-remote=127.0.0.1/32)
    for d in "${ZMQ_DRIVERS[@]}"; do
        e2e_expect "$t: [$d] lookup www.example.com. A" \
            "$(zmq_call "$d" "$ep" lookup qname=www.example.com. qtype=A "${pkt[@]}" |
                reply_field contents)" "192.0.2.10"
        e2e_expect "$t: [$d] lookup example.com. MX" \
            "$(zmq_call "$d" "$ep" lookup qname=example.com. qtype=MX "${pkt[@]}" |
                reply_field contents)" "10 mail.example.com."
        e2e_expect "$t: [$d] lookup example.com. SOA" \
            "$(zmq_call "$d" "$ep" lookup qname=example.com. qtype=SOA "${pkt[@]}" |
                reply_field contents)" "$SOA_CONTENT"
        e2e_expect "$t: [$d] lookup nonexist.example.com. A has no records" \
            "$(zmq_call "$d" "$ep" lookup qname=nonexist.example.com. qtype=A "${pkt[@]}" |
                reply_field count)" 0
        e2e_expect "$t: [$d] list example.com. has $ZONE_COUNT records" \
            "$(zmq_call "$d" "$ep" list zonename=example.com. domain_id:=1 include_disabled:=false |
                reply_field count)" "$ZONE_COUNT"
    done
}

# forget_logs DIR: a passing cell's logs need not be printed if another cell fails.
forget_logs() {
    local keep=() f
    for f in "${E2E_LOGS[@]}"; do
        case $f in "$1"/*) ;; *) keep+=("$f") ;; esac
    done
    E2E_LOGS=("${keep[@]}")
}

# run_cell ROW COL: one cell of the matrix.
run_cell() {
    local row=$1 col=$2 id=${1}_${2} t="$1 x $2" up dir=$E2E_TMP/${1}_${2} failed_before
    local dns lport sock connstr rbgw_log upfrom
    failed_before=$E2E_FAILED
    if [ -n "${COL_SKIP[$col]:-}" ]; then
        CELL["$row $col"]=skip
        echo "skip - $t: ${COL_SKIP[$col]}"
        return
    fi
    if [ "$row" = zeromq ] && [ ${#ZMQ_DRIVERS[@]} = 0 ]; then
        CELL["$row $col"]=skip
        echo "skip - $t: no ZeroMQ client (needs python3-zmq or rbgw's zeromq upstream)"
        return
    fi
    up=$(upstream_for "$col" "$id")
    echo "# --- $t: upstream=$up"
    mkdir -p "$dir"
    upfrom=0
    [ "$col" != pipe ] && [ -n "${UP_LOG[$col]:-}" ] && upfrom=$(lines_of "${UP_LOG[$col]}")

    case $row in
    pipe)
        connstr=$(e2e_rbgw_connstr "$id" "$up")
        rbgw_log=$dir/pdns.log
        ;;
    unix)
        sock=$dir/rbgw.sock
        if ! start_rbgw "$id" "unix:path=$sock" "$up" unix "$sock"; then
            e2e_fail "$t: rbgw listens on unix:$sock"
        fi
        connstr="unix:path=$sock,timeout=2000"
        rbgw_log=$dir/rbgw.log
        ;;
    http-*)
        take_port lport http
        if ! start_rbgw "$id" "http:address=127.0.0.1:$lport,path=/dns" "$up" tcp "$lport"; then
            e2e_fail "$t: rbgw listens on http://127.0.0.1:$lport/dns"
        fi
        connstr="http:url=http://127.0.0.1:$lport/dns,timeout=2000"
        [ "$row" = http-post ] && connstr="$connstr,post=yes"
        [ "$row" = http-json ] && connstr="$connstr,post=yes,post_json=yes"
        rbgw_log=$dir/rbgw.log
        ;;
    zeromq)
        take_port lport zmq
        if ! start_rbgw "$id" "zeromq:endpoint=tcp://127.0.0.1:$lport" "$up" tcp "$lport"; then
            e2e_fail "$t: rbgw listens on zeromq:tcp://127.0.0.1:$lport"
        fi
        rbgw_log=$dir/rbgw.log
        ;;
    esac

    if [ "$row" = zeromq ]; then
        ZMQ_CALL_LOG=$dir/client.log
        E2E_LOGS+=("$ZMQ_CALL_LOG")
        if [ -n "$SABOTAGE" ]; then
            : # nothing will answer: the checks below must fail, not a readiness wait
        elif zmq_ready "tcp://127.0.0.1:$lport"; then
            e2e_ok "$t: rbgw answers through its zeromq listener"
        else
            e2e_fail "$t: rbgw answers through its zeromq listener"
        fi
        check_zmq_row "$t" "tcp://127.0.0.1:$lport"
    else
        take_port dns dns
        if e2e_start_pdns "$id" "$dns" "$connstr"; then
            e2e_ok "$t: pdns ($connstr) answers on 127.0.0.1:$dns"
            check_dns "$t" "$dns"
        else
            e2e_fail "$t: pdns ($connstr) answers on 127.0.0.1:$dns"
        fi
        e2e_stop_pdns "$id"
    fi

    if [ "$row" != pipe ] && [ -n "${RBGW_PID[$id]:-}" ]; then
        stop_rbgw "$t" "$id"
        if [ "$row" = unix ]; then
            e2e_expect "$t: rbgw removes its socket file on exit" \
                "$([ -e "$sock" ] && echo present || echo removed)" removed
        fi
    fi
    if [ "$col" = pipe ] && [ -z "$SABOTAGE" ]; then
        check_gone "$t: rbgw's pipe co-processes exit with it" --tag "$id"
    fi
    if [ -z "$SABOTAGE" ]; then
        if [ "$col" = pipe ]; then
            upstream_evidence "$t" "$col" "$id" "$rbgw_log" 0
        else
            upstream_evidence "$t" "$col" "$id" "${UP_LOG[$col]}" "$upfrom"
        fi
    fi
    check_clean_stderr "$t: no sanitizer report or crash in rbgw's stderr" "$rbgw_log"

    if [ "$E2E_FAILED" = "$failed_before" ]; then
        CELL["$row $col"]=ok
        forget_logs "$dir"
    else
        CELL["$row $col"]=FAIL
    fi
}

print_matrix() {
    local row col line
    echo "#"
    echo "# listener x upstream matrix (ok / FAIL / skip):"
    line=$(printf '%-12s' "#")
    for col in "${COLS[@]}"; do
        line="$line$(printf '%-8s' "$col")"
    done
    echo "$line"
    for row in "${ROWS[@]}"; do
        line=$(printf '%-12s' "# $row")
        for col in "${COLS[@]}"; do
            line="$line$(printf '%-8s' "${CELL["$row $col"]:--}")"
        done
        echo "$line"
    done
    for col in "${COLS[@]}"; do
        [ -n "${COL_SKIP[$col]:-}" ] && echo "# column $col skipped: ${COL_SKIP[$col]}"
    done
    if [ ${#ZMQ_DRIVERS[@]} = 0 ]; then
        echo "# row zeromq skipped: no ZeroMQ client (needs python3-zmq or rbgw's zeromq upstream)"
    else
        echo "# row zeromq driven by: ${ZMQ_DRIVERS[*]}"
    fi
    return 0
}

# ---- main ----

start_upstreams || {
    e2e_fail "free ports for the upstreams"
    e2e_finish
}
if [ "$SABOTAGE" = dead-upstream ]; then
    take_port DEAD_HTTP_PORT http && hold_port "$DEAD_HTTP_PORT"
    take_port DEAD_ZMQ_PORT zmq && hold_port "$DEAD_ZMQ_PORT"
    echo "# E2E_SABOTAGE=dead-upstream: every upstream points at nothing; every cell must FAIL"
fi

# The zeromq row's clients: `rbgw call` (through rbgw's zeromq upstream, which sends 5.x-style
# messages) if rbgw has one, and a pyzmq REQ client that talks like pdns 4.x (initialize first,
# then the json11 text plus one NUL byte) if pyzmq is installed; each runs the row's checks.
ZMQ_DRIVERS=()
ZMQ_CALL_LOG=/dev/null
take_port PROBE_PORT zmq
if ! "$RBGW" call "zeromq:endpoint=tcp://127.0.0.1:$PROBE_PORT,timeout=1" lookup 2>&1 |
    grep -q 'not available as an upstream'; then
    ZMQ_DRIVERS+=(rbgw-call)
fi
if [ -n "$ZMQ_PY" ]; then
    ZMQ_DRIVERS+=(pyzmq)
    cat >"$E2E_TMP/zmq_call.py" <<'EOF'
# zmq_call.py ENDPOINT METHOD [name=string | name:=json ...]: one call over a REQ socket, the way
# pdns 4.x's zeromq connector makes it: initialize first, each request the json11 text + NUL.
import json, sys
import zmq
endpoint, method = sys.argv[1], sys.argv[2]
params = {}
for arg in sys.argv[3:]:
    key, _, value = arg.partition("=")
    if key.endswith(":"):
        params[key[:-1]] = json.loads(value)
    else:
        params[key] = value
sock = zmq.Context().socket(zmq.REQ)
sock.setsockopt(zmq.LINGER, 0)
sock.connect(endpoint)
def call(method, params):
    sock.send(json.dumps({"method": method, "parameters": params}, sort_keys=True).encode() + b"\0")
    if not sock.poll(3000):
        sys.exit("zmq_call: no reply to %s within 3 s" % method)
    return sock.recv().decode("utf-8", "replace")
init = call("initialize", {"endpoint": endpoint, "timeout": "2000"})
if json.loads(init).get("result") is not True:
    sys.exit("zmq_call: initialize answered %s" % init)
print(call(method, params))
EOF
fi

for row in "${ROWS[@]}"; do
    for col in "${COLS[@]}"; do
        run_cell "$row" "$col"
    done
done

print_matrix
e2e_finish

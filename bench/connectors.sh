#!/usr/bin/env bash
# connectors.sh: what rbgw costs per call on each connector path (the targets in docs/performance.md).
#
# Paths (PATHS), each measured with one call in flight per connection, as pdns does:
#   direct-unix   loadgen --mode=unix -> responder --unix            (no gateway, unix)
#   direct-http   loadgen --mode=http -> responder --port            (no gateway, HTTP REST)
#   direct-pipe   loadgen --mode=pipe -> responder --pipe            (no gateway, pipe)
#   unix-unix     loadgen unix -> rbgw --listen=unix --upstream=unix  -> responder --unix
#   unix-http     loadgen unix -> rbgw --listen=unix --upstream=http  -> responder --port
#   http-unix     loadgen http -> rbgw --listen=http --upstream=unix  -> responder --unix
#   pipe-unix     loadgen pipe -> rbgw --listen=pipe --upstream=unix  -> responder --unix
#                 (one rbgw co-process per loadgen connection, as pdns spawns them)
#   floor-unix    loadgen unix -> rbgw_floor_relay --listen=P --upstream=Q -> responder --unix
#                 (bench/floor_relay.c: one thread, raw level-triggered epoll, read + write
#                 per message, nothing else: the kernel floor of ANY relay process)
#   floor-http    loadgen unix -> rbgw_floor_relay --listen=P --upstream-http=127.0.0.1:PORT
#                 -> responder --port (the same floor with loopback TCP and an HTTP responder
#                 behind it: one canned REST request per call, the body passed back; what a
#                 unix-to-HTTP bridge costs in the kernel, before any parsing or translation)
#   socat-unix    loadgen unix -> socat UNIX-LISTEN:P,fork UNIX-CONNECT:Q -> responder --unix
#                 (a blind relay: the reference for unix-unix.  socat has no equivalent for
#                 the pipe or HTTP paths: it cannot translate between the line protocol and
#                 pdns's REST requests, so those paths have no socat row.)
# "added p50" = path p50 - the no-gateway p50 over the SAME connector the client (loadgen)
# speaks: unix-*, floor-unix and socat-unix against direct-unix, http-unix against
# direct-http, pipe-unix against direct-pipe.
#
# Sections (SECTIONS, default "latency cpu syscalls"):
#   latency   ROUNDS rounds x DURATION s per run, for each of CONNS_LIST (default "1 16"), the
#             path order flipping every round; medians over rounds of calls/s, p50, p99, and
#             of the gateway's CPU per call (from /proc/<pid>/stat around the run).
#   cpu       CPU_CALLS calls (default 100000, plus the 2000-call warm-up) through each
#             gateway daemon path in PATHS (unix-unix, unix-http, http-unix, floor-unix,
#             floor-http, socat-unix), CPU_ROUNDS times each, the path order flipping every
#             round: the gateway's utime+stime (socat: plus
#             cutime+cstime of its per-connection children, reaped before reading) from
#             /proc/<pid>/stat, in us per call; perf stat's task-clock and context switches
#             per call beside it when perf works.  Then the ratios to the floors:
#             unix-unix / floor-unix and unix-http / floor-http per connection count (the
#             median of per-round ratios; bench/floor_ratio.sh runs just this).
#   syscalls  strace -c -f on the gateway for SYSCALL_CALLS calls (20000), -c 1, through the
#             same gateway paths: system calls per call, by name (strace slows everything
#             down: these are counts, not times).
#
# CPU layouts (LAYOUTS, default "one"), on the 2-vCPU machine:
#   one:   loadgen, gateway (rbgw, the floor relay or socat, and the pipe co-processes) and
#          responder all on cpu 1: no cross-CPU wake-ups, the steady layout; at -c 16
#          calls/s is then the inverse of the total CPU per call of all three processes.
#   split: loadgen on cpu 0; gateway and responder on cpu 1 (every call crosses CPUs twice;
#          a wake-up of an idle vCPU costs tens of us on this KVM guest, so it is noisy).
#
# rbgw runs with --log-level=warning and upstream max-conns=16 (so that 16 client connections
# get 16 upstream connections, like the no-gateway baseline; the default is 8).
# WAIT_IDLE=1 first waits (polling every minute, up to 30 minutes) until the 1-minute load
# average is below LOAD_MAX (1.0).  The load average is printed with every section.
#
# Environment: BUILD_DIR (default <repo>/build), RBGW, ROUNDS (5), DURATION (3), CONNS_LIST,
# PATHS, LAYOUTS, SECTIONS, CPU_CALLS, CPU_ROUNDS (3), SYSCALL_CALLS, HTTP_PORT (18220),
# GW_HTTP_PORT (18221), WAIT_IDLE, LOAD_MAX, NO_BUILD=1 to skip the cmake build.
# Everything is on 127.0.0.1 or unix sockets in a temporary directory; every process started
# here is stopped (by pid) by the EXIT trap.  Exit status: 0, or 1 if a setup step failed.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$SRC/build}
# shellcheck source=bench/lib.sh
. "$SRC/bench/lib.sh"
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-3}
CONNS_LIST=${CONNS_LIST:-1 16}
PATHS=${PATHS:-direct-unix direct-http direct-pipe unix-unix unix-http http-unix pipe-unix floor-unix floor-http socat-unix}
LAYOUTS=${LAYOUTS:-one}
SECTIONS=${SECTIONS:-latency cpu syscalls}
CPU_CALLS=${CPU_CALLS:-100000}
CPU_ROUNDS=${CPU_ROUNDS:-3}
SYSCALL_CALLS=${SYSCALL_CALLS:-20000}
HTTP_PORT=${HTTP_PORT:-18220}
GW_HTTP_PORT=${GW_HTTP_PORT:-18221}
LOAD_MAX=${LOAD_MAX:-1.0}
WARMUP=2000

bench_build bench rbgw
BUILD=$(cd "$BUILD" && pwd)
RBGW=${RBGW:-$BUILD/rbgw}
LOADGEN=$BUILD/bench/rbgw_loadgen
RESPONDER=$BUILD/bench/rbgw_fast_responder
FLOOR=$BUILD/bench/rbgw_floor_relay
for tool in taskset socat; do
    command -v "$tool" >/dev/null || {
        echo "$tool not found" >&2
        exit 1
    }
done
TCK=$(getconf CLK_TCK)

bench_tmp connectors STRACE_PID PERF_PID GW_PID RESP_PID

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

if [ "${WAIT_IDLE:-0}" = 1 ]; then
    for i in $(seq 0 30); do
        l=$(cut -d' ' -f1 /proc/loadavg)
        if awk -v l="$l" -v m="$LOAD_MAX" 'BEGIN { exit !(l < m) }'; then
            break
        fi
        if [ "$i" = 30 ]; then
            echo "load average still $l after 30 minutes: measuring anyway" >&2
            break
        fi
        echo "load average $l >= $LOAD_MAX: waiting a minute ($i/30)" >&2
        sleep 60
    done
fi

RSOCK=$TMP/responder.sock
GSOCK=$TMP/gw.sock
UP_UNIX="unix:path=$RSOCK,max-conns=16"
UP_HTTP="http:url=http://127.0.0.1:$HTTP_PORT/dns,max-conns=16"

start_responder() { # $1 cpu
    taskset -c "$1" "$RESPONDER" --port="$HTTP_PORT" --unix="$RSOCK" --quiet 2>>"$TMP/responder.err" &
    RESP_PID=$!
    wait_tcp "$HTTP_PORT"
    wait_sock "$RSOCK"
}

# start_gw PATH CPU: start the gateway daemon a path needs (none for direct-* and pipe-unix).
start_gw() {
    local path=$1 cpu=$2
    rm -f "$GSOCK"
    case "$path" in
    unix-unix | unix-http)
        local up=$UP_UNIX
        [ "$path" = unix-http ] && up=$UP_HTTP
        taskset -c "$cpu" "$RBGW" --listen="unix:path=$GSOCK" --upstream="$up" \
            --log-level=warning 2>>"$TMP/gw.err" &
        GW_PID=$!
        wait_sock "$GSOCK"
        ;;
    http-unix)
        taskset -c "$cpu" "$RBGW" --listen="http:address=127.0.0.1:$GW_HTTP_PORT,path=/dns" \
            --upstream="$UP_UNIX" --log-level=warning 2>>"$TMP/gw.err" &
        GW_PID=$!
        wait_tcp "$GW_HTTP_PORT"
        ;;
    floor-unix)
        taskset -c "$cpu" "$FLOOR" --listen="$GSOCK" --upstream="$RSOCK" 2>>"$TMP/gw.err" &
        GW_PID=$!
        wait_sock "$GSOCK"
        ;;
    floor-http)
        taskset -c "$cpu" "$FLOOR" --listen="$GSOCK" --upstream-http="127.0.0.1:$HTTP_PORT" \
            2>>"$TMP/gw.err" &
        GW_PID=$!
        wait_sock "$GSOCK"
        ;;
    socat-unix)
        taskset -c "$cpu" socat "UNIX-LISTEN:$GSOCK,fork" "UNIX-CONNECT:$RSOCK" \
            2>>"$TMP/gw.err" &
        GW_PID=$!
        wait_sock "$GSOCK"
        ;;
    esac
}

stop_gw() {
    stop_pid "$GW_PID"
    GW_PID=
}

# The loadgen command line for a path (without -c/-d/-n), in the array LG.
loadgen_args() { # $1 path, $2 server cpu
    case "$1" in
    direct-unix) LG=(--mode=unix --path="$RSOCK") ;;
    direct-http) LG=(--mode=http --url="http://127.0.0.1:$HTTP_PORT/dns") ;;
    direct-pipe) LG=(--mode=pipe -- taskset -c "$2" "$RESPONDER" --pipe) ;;
    unix-unix | unix-http | floor-unix | floor-http | socat-unix) LG=(--mode=unix --path="$GSOCK") ;;
    http-unix) LG=(--mode=http --url="http://127.0.0.1:$GW_HTTP_PORT/dns") ;;
    pipe-unix)
        LG=(--mode=pipe -- taskset -c "$2" "$RBGW" --listen=pipe --upstream="$UP_UNIX"
            --log-level=warning)
        ;;
    *)
        echo "unknown path $1" >&2
        exit 1
        ;;
    esac
}

# CPU ticks used so far by a process and its reaped children: utime+stime+cutime+cstime.
ticks() { # $1 pid
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 + $14 + $15 }'
}
uticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $14 }'; }
sticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $13 + $15 }'; }

# Wait until a forking gateway (socat) has reaped every per-connection child.
wait_children() { # $1 pid
    for _ in $(seq 100); do
        [ -z "$(cat "/proc/$1/task/$1/children" 2>/dev/null)" ] && return 0
        sleep 0.05
    done
}

layout_cpus() { # $1 layout -> LG_CPU SRV_CPU
    case "$1" in
    one) LG_CPU=1 SRV_CPU=1 ;;
    split) LG_CPU=0 SRV_CPU=1 ;;
    *)
        echo "unknown layout $1" >&2
        exit 1
        ;;
    esac
}

run_loadgen() { # label, then loadgen options; prints its summary line
    local label=$1
    shift
    local line
    if ! line=$(taskset -c "$LG_CPU" "$LOADGEN" --label="$label" "$@" 2>>"$TMP/loadgen.err"); then
        echo "loadgen failed for $label: $(tail -3 "$TMP/loadgen.err")" >&2
        exit 1
    fi
    echo "$line"
}

median() { # file label field
    awk -v label="$2" -v field="$3" '
        { ok = 0; for (i = 1; i <= NF; i++) { split($i, kv, "=");
              if (kv[1] == "label" && kv[2] == label) ok = 1; v[kv[1]] = kv[2] }
          if (ok && (field in v) && v[field] != "") print v[field] }' "$1" | sort -g |
        awk '{ a[NR] = $1 } END { if (NR == 0) { print "-"; exit }
              if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

paired_median() { # file labelA labelB field: median over rounds of (B - A)
    awk -v a="$2" -v b="$3" -v field="$4" '
        { delete v; for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
          if (v["label"] == a) x[v["round"]] = v[field]
          if (v["label"] == b) y[v["round"]] = v[field] }
        END { for (r in x) if (r in y) printf "%.1f\n", y[r] - x[r] }' "$1" | sort -g |
        awk '{ a[NR] = $1 } END { if (NR == 0) { print "-"; exit }
              if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

baseline_of() {
    case "$1" in
    unix-unix | unix-http | floor-unix | floor-http | socat-unix) echo direct-unix ;;
    http-unix) echo direct-http ;;
    pipe-unix) echo direct-pipe ;;
    *) echo "" ;;
    esac
}

# The paths of PATHS that run a gateway daemon, in a fixed order: what the cpu and syscalls
# sections measure.
daemon_paths() {
    local p
    for p in unix-unix unix-http http-unix floor-unix floor-http socat-unix; do
        [[ " $PATHS " == *" $p "* ]] && echo "$p"
    done
    return 0
}

target_of() {
    case "$1" in
    unix-unix) echo 10 ;;
    unix-http | http-unix) echo 25 ;;
    *) echo "" ;;
    esac
}

# ---- latency ---------------------------------------------------------------------------------

section_latency() {
    local layout=$1
    local res=$TMP/latency-$layout
    : >"$res"
    echo "== latency, layout $layout: $ROUNDS rounds x ${DURATION}s, conns: $CONNS_LIST" \
        "(load average $(loadavg))"
    for r in $(seq "$ROUNDS"); do
        local order=$PATHS
        if [ $((r % 2)) -eq 0 ]; then order=$(echo "$PATHS" | tr ' ' '\n' | tac | xargs); fi
        echo "round $r (load average $(loadavg))"
        for c in $CONNS_LIST; do
            for p in $order; do
                start_gw "$p" "$SRV_CPU"
                loadgen_args "$p" "$SRV_CPU"
                local t0=0 t1=0 r0 r1 line
                [ -n "$GW_PID" ] && t0=$(ticks "$GW_PID")
                r0=$(ticks "$RESP_PID")
                line=$(run_loadgen "c$c/$p" -c "$c" -d "$DURATION" --warmup="$WARMUP" "${LG[@]}")
                if [ -n "$GW_PID" ]; then
                    [ "$p" = socat-unix ] && wait_children "$GW_PID"
                    t1=$(ticks "$GW_PID")
                fi
                r1=$(ticks "$RESP_PID")
                stop_gw
                local calls
                calls=$(sed 's/.* calls=\([0-9]*\).*/\1/' <<<"$line")
                local cpu="" rcpu
                if [ "$t1" != 0 ]; then
                    cpu=$(awk -v d=$((t1 - t0)) -v n=$((calls + WARMUP)) -v t="$TCK" \
                        'BEGIN { printf "%.1f", d / t * 1e6 / n }')
                fi
                rcpu=$(awk -v d=$((r1 - r0)) -v n=$((calls + WARMUP)) -v t="$TCK" \
                    'BEGIN { printf "%.1f", d / t * 1e6 / n }')
                echo "  $line gw_cpu_us=$cpu resp_cpu_us=$rcpu"
                echo "$line gw_cpu_us=$cpu resp_cpu_us=$rcpu round=$r" >>"$res"
            done
        done
    done
    echo
    echo "medians over $ROUNDS rounds, layout $layout, load average now $(loadavg)" \
        "(latencies in us; gw CPU = gateway CPU per call, us):"
    echo
    echo "| conns | path | calls/s | p50 | p99 | added p50 (vs baseline) | paired | gw CPU | responder CPU | target |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"
    for c in $CONNS_LIST; do
        for p in $PATHS; do
            local l="c$c/$p" base added="" paired="" tgt status=""
            base=$(baseline_of "$p")
            if [ -n "$base" ] && [[ " $PATHS " == *" $base "* ]]; then
                added=$(awk -v a="$(median "$res" "$l" p50_us)" \
                    -v b="$(median "$res" "c$c/$base" p50_us)" 'BEGIN { printf "%.1f", a - b }')
                paired=$(paired_median "$res" "c$c/$base" "$l" p50_us)
                added="$added ($base)"
            fi
            tgt=$(target_of "$p")
            if [ -n "$tgt" ] && [ -n "$added" ] && [ "$c" = 1 ]; then
                status=$(awk -v x="${added%% *}" -v t="$tgt" \
                    'BEGIN { printf "<= %d: %s", t, (x <= t ? "met" : "NOT met") }')
            fi
            printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$c" "$p" \
                "$(median "$res" "$l" calls_per_s)" "$(median "$res" "$l" p50_us)" \
                "$(median "$res" "$l" p99_us)" "$added" "$paired" \
                "$(median "$res" "$l" gw_cpu_us)" "$(median "$res" "$l" resp_cpu_us)" "$status"
        done
    done
    echo
}

# ---- cpu per call ----------------------------------------------------------------------------

section_cpu() {
    local layout=$1
    local res=$TMP/cpu-$layout
    : >"$res"
    local perf_ok=0
    if perf stat -e task-clock true >/dev/null 2>&1; then perf_ok=1; fi
    echo "== CPU per call, layout $layout: $CPU_CALLS calls (+$WARMUP warm-up) x $CPU_ROUNDS" \
        "(load average $(loadavg))"
    for r in $(seq "$CPU_ROUNDS"); do
        local order
        order=$(daemon_paths | xargs)
        if [ $((r % 2)) -eq 0 ]; then order=$(daemon_paths | tac | xargs); fi
        for c in $CONNS_LIST; do
            for p in $order; do
                start_gw "$p" "$SRV_CPU"
                loadgen_args "$p" "$SRV_CPU"
                local u0 s0 u1 s1 line perf_out=$TMP/perf.out
                u0=$(uticks "$GW_PID")
                s0=$(sticks "$GW_PID")
                PERF_PID=
                if [ "$perf_ok" = 1 ]; then
                    perf stat -e task-clock,context-switches -x, -o "$perf_out" -p "$GW_PID" \
                        2>/dev/null &
                    PERF_PID=$!
                    sleep 0.2
                fi
                line=$(run_loadgen "c$c/$p" -c "$c" -n "$CPU_CALLS" --warmup="$WARMUP" "${LG[@]}")
                [ "$p" = socat-unix ] && wait_children "$GW_PID"
                u1=$(uticks "$GW_PID")
                s1=$(sticks "$GW_PID")
                local tc="" cs=""
                if [ -n "$PERF_PID" ]; then
                    kill -INT "$PERF_PID" 2>/dev/null || true
                    wait "$PERF_PID" 2>/dev/null || true
                    PERF_PID=
                    tc=$(awk -F, '$3 == "task-clock" { print $1 }' "$perf_out")
                    cs=$(awk -F, '$3 == "context-switches" { print $1 }' "$perf_out")
                fi
                stop_gw
                local n=$((CPU_CALLS + WARMUP))
                local out
                out=$(awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v n="$n" -v t="$TCK" -v tc="$tc" \
                    -v cs="$cs" -v p="$p" -v c="$c" -v r="$r" 'BEGIN {
                        printf "label=c%s/%s round=%d cpu_us=%.2f user_us=%.2f sys_us=%.2f",
                            c, p, r, (u + s) / t * 1e6 / n, u / t * 1e6 / n, s / t * 1e6 / n
                        if (tc != "" && tc != "<not counted>")
                            printf " perf_task_us=%.2f ctxsw_per_call=%.2f", tc * 1e3 / n, cs / n
                        printf "\n" }')
                echo "  $out $(sed 's/.*\(calls_per_s=[0-9.]*\).*/\1/' <<<"$line")"
                echo "$out" >>"$res"
            done
        done
    done
    echo
    echo "medians over $CPU_ROUNDS runs, layout $layout, load average now $(loadavg)" \
        "(us of the gateway's CPU per call; socat: parent and its per-connection children;"
    echo "perf stat -p also counts children forked after it attached):"
    echo
    echo "| conns | path | CPU/call (utime+stime) | user | sys | perf task-clock/call | context switches/call |"
    echo "|---:|---|---:|---:|---:|---:|---:|"
    for c in $CONNS_LIST; do
        for p in $(daemon_paths); do
            local l="c$c/$p" v
            v=$(median "$res" "$l" cpu_us)
            printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$c" "$p" "$v" \
                "$(median "$res" "$l" user_us)" "$(median "$res" "$l" sys_us)" \
                "$(median "$res" "$l" perf_task_us)" "$(median "$res" "$l" ctxsw_per_call)"
        done
    done
    echo
    floor_ratios "$res"
}

# The gateway's CPU per call over its floor's, for each pair of paths measured in this run:
# unix-unix / floor-unix and unix-http / floor-http, per connection count, as the median over
# rounds of the per-round ratio (the two paths of a round run back to back), for utime+stime
# and for perf's task-clock; the target beside it (1.05 with one connection, else 1.15 for
# unix-unix and 1.25 for unix-http).
floor_ratios() { # $1 results file of section_cpu
    local c pair gw fl tgt field
    for c in $CONNS_LIST; do
        for pair in unix-unix:floor-unix:1.15 unix-http:floor-http:1.25; do
            IFS=: read -r gw fl tgt <<<"$pair"
            [[ " $PATHS " == *" $gw "* && " $PATHS " == *" $fl "* ]] || continue
            [ "$c" = 1 ] && tgt=1.05
            local out="ratio c$c $gw/$fl:"
            for field in cpu_us perf_task_us; do
                local r
                r=$(awk -v a="c$c/$gw" -v b="c$c/$fl" -v f="$field" '
                    { delete v; for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                      if (!(f in v) || v[f] == "" || v[f] + 0 == 0) next
                      if (v["label"] == a) x[v["round"]] = v[f]
                      if (v["label"] == b) y[v["round"]] = v[f] }
                    END { for (r in x) if (r in y) printf "%.3f\n", x[r] / y[r] }' "$1" | sort -g |
                    awk '{ a[NR] = $1 } END { if (NR == 0) { print "-"; exit }
                          if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
                out="$out $field=$r"
            done
            echo "$out (target <= $tgt)"
        done
    done
    echo
}

# ---- system calls per call -------------------------------------------------------------------

section_syscalls() {
    local layout=$1
    command -v strace >/dev/null || {
        echo "strace not found: no system call counts"
        return 0
    }
    echo "== system calls per call (strace -c -f, $SYSCALL_CALLS calls, -c 1, layout $layout)"
    for p in $(daemon_paths); do
        start_gw "$p" "$SRV_CPU"
        loadgen_args "$p" "$SRV_CPU"
        strace -c -f -o "$TMP/strace.out" -p "$GW_PID" 2>/dev/null &
        STRACE_PID=$!
        sleep 0.5
        run_loadgen "strace/$p" -c 1 -n "$SYSCALL_CALLS" --warmup=0 --timeout-ms=10000 \
            "${LG[@]}" >/dev/null
        [ "$p" = socat-unix ] && wait_children "$GW_PID"
        kill -INT "$STRACE_PID" 2>/dev/null || true
        wait "$STRACE_PID" 2>/dev/null || true
        STRACE_PID=
        stop_gw
        awk -v n="$SYSCALL_CALLS" -v p="$p" '
            $1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" { c[$NF] = $4; tot += $4 }
            END { printf "  %-11s %5.2f syscalls/call:", p, tot / n
                  for (k in c) if (c[k] / n >= 0.05) printf " %s=%.2f", k, c[k] / n
                  printf "\n" }' "$TMP/strace.out"
    done
    echo
}

echo "connectors: rbgw $RBGW, load average $(loadavg), $(nproc) CPUs"
echo "git: $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$SRC" diff --quiet 2>/dev/null || echo ' (working tree has uncommitted changes)')"
for layout in $LAYOUTS; do
    layout_cpus "$layout"
    start_responder "$SRV_CPU"
    for s in $SECTIONS; do
        case "$s" in
        latency) section_latency "$layout" ;;
        cpu) section_cpu "$layout" ;;
        syscalls) section_syscalls "$layout" ;;
        *) echo "unknown section $s" >&2 && exit 1 ;;
        esac
    done
    stop_pid "$RESP_PID"
    RESP_PID=
done
if [ -s "$TMP/gw.err" ]; then
    echo "gateway stderr (last lines):"
    tail -5 "$TMP/gw.err"
fi

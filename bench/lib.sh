# shellcheck shell=bash
# bench/lib.sh: helpers the bench scripts share (sourced, not run).
#
# Waits poll for a process to become ready (a socket appears, a port accepts): they bound a
# start-up, they do not measure anything.  Every wait gives up after 5 s and exits the script.
# The scripts set SRC (the repository) and BUILD (the build tree) before they use these.

# Configure BUILD and build the given targets, unless NO_BUILD=1 (then what is there is used).
bench_build() { # $@ targets
    if [ "${NO_BUILD:-0}" != 1 ]; then
        cmake -S "$SRC" -B "$BUILD" >/dev/null
        cmake --build "$BUILD" --target "$@" -j2 >/dev/null
    fi
}

# bench_tmp NAME [VAR...]: a private temporary directory in TMP (/tmp/rbgw-NAME.XXXXXX), and an
# exit trap that stops the processes whose pids the named variables hold, then removes the
# directory.  A VAR is a scalar (set to empty here; the script sets it when it starts the
# process) or an array the script made, named ARRAY[@].  Every process is signalled first,
# then all are reaped, in the order named.  INT and TERM exit through the same trap.
bench_tmp() {
    local v
    TMP=$(mktemp -d "/tmp/rbgw-$1.XXXXXX")
    shift
    BENCH_PID_VARS=("$@")
    for v in "$@"; do
        case $v in *"[@]") ;; *) printf -v "$v" '%s' "" ;; esac
    done
    trap bench_cleanup EXIT
    trap 'exit 1' INT TERM
}

bench_cleanup() {
    local v p pids=()
    for v in "${BENCH_PID_VARS[@]}"; do
        for p in ${!v:-}; do
            pids+=("$p")
        done
    done
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$TMP"
}

# Stop a process started by the script and reap it; an empty pid is a no-op.
stop_pid() { # $1 pid (may be empty)
    if [ -n "$1" ]; then
        kill "$1" 2>/dev/null || true
        wait "$1" 2>/dev/null || true
    fi
}

wait_sock() { # $1 path of a unix socket
    for _ in $(seq 100); do
        [ -S "$1" ] && return 0
        sleep 0.05
    done
    echo "no socket at $1" >&2
    exit 1
}

wait_tcp() { # $1 port on 127.0.0.1
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    echo "nothing listens on 127.0.0.1:$1" >&2
    exit 1
}

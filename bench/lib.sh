# bench/lib.sh: helpers the bench scripts share (sourced, not run).
#
# Waits poll for a process to become ready (a socket appears, a port accepts): they bound a
# start-up, they do not measure anything.  Every wait gives up after 5 s and exits the script.

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

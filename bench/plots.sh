#!/usr/bin/env bash
# plots.sh: the pictures of docs/performance.md, with one command.
#
#   bench/plots.sh          draw docs/img/*.png from the data files in docs/img/data/
#   bench/plots.sh --run    measure first, writing docs/img/data/, then draw:
#                             dns_dnsperf.sh (its four target paths plus the pipe and
#                             unix connectors' baselines and the unix->unix and pipe->unix
#                             floors with rbgw beside them, 8 s runs),
#                             call_latency.sh (layout one; direct rbgw pipe unix rbgw-unix),
#                             connectors.sh (its cpu section only, 30 000 calls per run;
#                             output kept in connectors.txt, whose CPU table becomes
#                             connectors_cpu.dat)
#
# The drawing is bench/plots.gp (gnuplot, Debian package gnuplot-nox); each picture whose data
# file is missing is skipped, so one bench can be rerun alone (see RUN) and the rest kept.
# The data files are plain text with a first comment line saying when and how they were
# measured; that line is the subtitle of the picture.
#
# Environment: DATA_DIR (<repo>/docs/img/data), IMG_DIR (<repo>/docs/img), RUN (the benches
# --run measures: "dns latency connectors"), and each bench script's own variables
# (BUILD_DIR, NO_BUILD, ROUNDS, DURATION, CPU_CALLS, ...), passed through.  It takes ~10
# minutes; run it on an otherwise idle machine.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
DATA_DIR=${DATA_DIR:-$SRC/docs/img/data}
IMG_DIR=${IMG_DIR:-$SRC/docs/img}
RUN=${RUN:-dns latency connectors}

command -v gnuplot >/dev/null || {
    echo "gnuplot not found (apt-get install gnuplot-nox)" >&2
    exit 1
}

# The gateway CPU table of connectors.sh's output (markdown: | conns | path | CPU/call | ...)
# as "label c1 c16" lines.
connectors_dat() { # $1 connectors.sh output
    awk '
        /^\| conns \| path \| CPU\/call/ { t = 1; next }
        t && /^\|---/ { next }
        t && /^\| [0-9]+ \|/ {
            split($0, f, "|"); c = f[2] + 0; p = f[3]; v = f[4]
            gsub(/ /, "", p); gsub(/ /, "", v)
            if (!(p in seen)) { seen[p] = 1; order[++n] = p }
            cpu[p, c] = v; next
        }
        t && !/^\|/ { t = 0 }
        END {
            name["unix-unix"] = "unix -> rbgw -> unix"
            name["unix-http"] = "unix -> rbgw -> HTTP"
            name["http-unix"] = "HTTP -> rbgw -> unix"
            name["floor-unix"] = "do-nothing relay, unix"
            name["floor-http"] = "do-nothing relay, unix -> TCP"
            name["socat-unix"] = "socat, unix"
            print "# label cpu_us_1_connection cpu_us_16_connections"
            for (i = 1; i <= n; i++) {
                p = order[i]; l = (p in name) ? name[p] : p
                a = ((p, 1) in cpu) ? cpu[p, 1] : "-"; b = ((p, 16) in cpu) ? cpu[p, 16] : "-"
                printf "\"%s\" %s %s\n", l, a, b
            }
        }' "$1"
}

if [ "${1:-}" = --run ]; then
    mkdir -p "$DATA_DIR"
    for b in $RUN; do
        case "$b" in
        dns)
            DATA_DIR=$DATA_DIR DURATION=${DURATION:-8} \
                MODES=${MODES:-http unix floor-unix rbgw-uu rbgw-unix rbgw pipe floor-pipe rbgw-pu} \
                "$SRC/bench/dns_dnsperf.sh"
            ;;
        latency)
            DATA_DIR=$DATA_DIR LAYOUTS=one PATHS=${PATHS:-direct rbgw pipe unix rbgw-unix} \
                "$SRC/bench/call_latency.sh"
            ;;
        connectors)
            # (paths relative to the repository: the file is committed with the pictures)
            SECTIONS=cpu CPU_CALLS=${CPU_CALLS:-30000} "$SRC/bench/connectors.sh" |
                sed "s|$SRC/||g" | tee "$DATA_DIR/connectors.txt"
            ;;
        *)
            echo "unknown bench '$b' in RUN (dns, latency, connectors)" >&2
            exit 2
            ;;
        esac
    done
elif [ $# -gt 0 ]; then
    echo "usage: bench/plots.sh [--run]" >&2
    exit 2
fi

if [ -r "$DATA_DIR/connectors.txt" ]; then
    {
        echo "# bench/connectors.sh cpu section, $(grep -m1 '^medians over' "$DATA_DIR/connectors.txt" |
            sed 's/ (us of.*//')"
        connectors_dat "$DATA_DIR/connectors.txt"
    } >"$DATA_DIR/connectors_cpu.dat"
fi
mkdir -p "$IMG_DIR"
gnuplot -e "data='$DATA_DIR'; out='$IMG_DIR'" "$SRC/bench/plots.gp"
ls -1 "$IMG_DIR"/*.png

#!/usr/bin/env bash
# fuzz.sh: build the libFuzzer targets of tests/fuzz and fuzz each input surface for a while.
#
#   bash scripts/fuzz.sh [options] [SECONDS]
#
#   SECONDS          how long each target fuzzes (default 60; 0 = no time limit, with --runs)
#   --runs=N         stop each target after N executions (with SECONDS: whichever comes first)
#   --targets=a,b    only these surfaces (default: every line of tests/fuzz/targets.txt)
#   --jobs=N         fuzz N targets at a time (default 1; each target is one process)
#   --build-dir=DIR  the clang tree to configure, build and fuzz in (default build-fuzz)
#   --no-build       use the binaries already built in DIR
#   --quiet          print only the summary, and the end of a target's log when it fails
#
#   A long campaign, unattended (10 million executions per target, two at a time):
#     nohup bash scripts/fuzz.sh --runs=10000000 --jobs=2 0 > fuzz.log 2>&1 &
#
# Each target fuzzes with its dictionary (tests/fuzz/dict/) from two corpus directories:
#   DIR/fuzz/corpus/SURFACE   what libFuzzer finds; kept between runs, so campaigns add up
#   DIR/fuzz/seeds/SURFACE    rebuilt on every run from tests/fuzz/corpus/SURFACE (seeds and
#                             every crash ever found) and the fixture globs of targets.txt
# libFuzzer runs every seed first, so a regression input that still crashes fails at once.
# Crashes, leaks, timeouts (10 s per input) and failed checks are written to
# DIR/fuzz/artifacts/SURFACE/, libFuzzer's log to DIR/fuzz/logs/SURFACE.log.
# Everything runs under nice -n 19 (FUZZ_NICE overrides); FUZZ_ARGS adds libFuzzer options
# (e.g. FUZZ_ARGS=-use_value_profile=1); BUILD_JOBS is the build's parallelism (default 2).
#
# The summary gives, per target: executions, executions per second, libFuzzer's coverage
# figures (cov: edges reached, ft: features), the corpus size and the result; then the total.
# The exit status is 0 only when no target found anything.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
SECONDS_PER=""
RUNS=""
ONLY=""
JOBS=1
BUILD_DIR=build-fuzz
BUILD=1
QUIET=0
for arg in "$@"; do
    case $arg in
    --runs=*) RUNS=${arg#--runs=} ;;
    --targets=*) ONLY=${arg#--targets=} ;;
    --jobs=*) JOBS=${arg#--jobs=} ;;
    --build-dir=*) BUILD_DIR=${arg#--build-dir=} ;;
    --no-build) BUILD=0 ;;
    --quiet) QUIET=1 ;;
    -h | --help)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
        exit 0
        ;;
    [0-9]*) SECONDS_PER=$arg ;;
    *)
        echo "fuzz.sh: unknown option $arg (try --help)" >&2
        exit 2
        ;;
    esac
done
if [ -z "$SECONDS_PER" ]; then
    SECONDS_PER=60
    [ -n "$RUNS" ] && SECONDS_PER=0 # --runs alone: no time limit
fi
if [ "$SECONDS_PER" = 0 ] && [ -z "$RUNS" ]; then
    echo "fuzz.sh: SECONDS=0 needs --runs=N" >&2
    exit 2
fi
NICE=${FUZZ_NICE:-19}
SRC=$(pwd)

say() {
    [ "$QUIET" = 1 ] || echo "$@"
}

# The surfaces, their dictionaries and fixture globs, from targets.txt.
declare -a SURFACES=()
declare -A DICT=() GLOBS=()
while read -r surface dict globs; do
    case $surface in '' | '#'*) continue ;; esac
    SURFACES+=("$surface")
    DICT[$surface]=$dict
    GLOBS[$surface]=$globs
done <tests/fuzz/targets.txt
if [ -n "$ONLY" ]; then
    IFS=, read -r -a wanted <<<"$ONLY"
    for w in "${wanted[@]}"; do
        if [ -z "${DICT[$w]+set}" ]; then
            echo "fuzz.sh: unknown target '$w' (targets: ${SURFACES[*]})" >&2
            exit 2
        fi
    done
    SURFACES=("${wanted[@]}")
fi

if [ "$BUILD" = 1 ]; then
    if ! command -v clang >/dev/null 2>&1; then
        echo "fuzz.sh: clang is missing: run first: sudo bash scripts/setup.sh" >&2
        exit 1
    fi
    say "=== configure and build $BUILD_DIR (clang, RBGW_FUZZ=ON)"
    mkdir -p "$BUILD_DIR"
    blog=$BUILD_DIR/fuzz-build.log
    if ! cmake -S . -B "$BUILD_DIR" -DCMAKE_C_COMPILER=clang -DRBGW_FUZZ=ON \
        -DRBGW_BUILD_TESTS=OFF >"$blog" 2>&1 ||
        ! nice -n "$NICE" cmake --build "$BUILD_DIR" -j "${BUILD_JOBS:-2}" >>"$blog" 2>&1; then
        tail -n 40 "$blog" >&2
        echo "fuzz.sh: build failed (log: $blog)" >&2
        exit 1
    fi
fi

WORK=$BUILD_DIR/fuzz
mkdir -p "$WORK"

# run_target SURFACE: fuzz one surface; its log ends in libFuzzer's final statistics.
run_target() {
    local s=$1 bin=$BUILD_DIR/tests/fuzz/fuzz_$1
    local seeds=$WORK/seeds/$s corpus=$WORK/corpus/$s art=$WORK/artifacts/$s log=$WORK/logs/$s.log
    local f g limit=()
    if [ ! -x "$bin" ]; then
        mkdir -p "$WORK/logs"
        echo "fuzz.sh: $bin is missing (build without --no-build)" >"$log"
        echo 1 >"$WORK/logs/$s.status"
        return
    fi
    rm -rf "$seeds"
    mkdir -p "$seeds" "$corpus" "$art" "$WORK/logs"
    cp tests/fuzz/corpus/"$s"/* "$seeds"/ 2>/dev/null
    for g in ${GLOBS[$s]}; do
        for f in $g; do
            # tests/fixtures/pdns-wire/lookup-www/rest.http -> lookup-www-rest.http
            [ -f "$f" ] && cp "$f" "$seeds/$(basename "$(dirname "$f")")-$(basename "$f")"
        done
    done
    [ "$SECONDS_PER" != 0 ] && limit+=("-max_total_time=$SECONDS_PER")
    [ -n "$RUNS" ] && limit+=("-runs=$RUNS")
    # shellcheck disable=SC2086
    nice -n "$NICE" "$bin" "${limit[@]}" -dict="$SRC/tests/fuzz/dict/${DICT[$s]}.dict" \
        -timeout=10 -print_final_stats=1 -artifact_prefix="$art/" ${FUZZ_ARGS:-} \
        "$corpus" "$seeds" >"$log" 2>&1
    echo $? >"$WORK/logs/$s.status"
}

# summary SURFACE STATUS: one line of the table from the target's log.
summary() {
    local s=$1 status=$2 log=$WORK/logs/$1.log
    local execs rate cov ft corp result
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    corp=$(find "$WORK/corpus/$s" -type f 2>/dev/null | wc -l)
    if [ "$status" = 0 ]; then
        result=ok
    else
        result="FAILED: $(grep -o 'Test unit written to .*' "$log" | head -n 1 | sed 's/Test unit written to //')"
        [ "$result" = "FAILED: " ] && result="FAILED (exit $status, see $log)"
    fi
    printf '%-16s %12s %9s %6s %7s %7s  %s\n' "$s" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
        "${ft:-?}" "$corp" "$result"
    TOTAL=$((TOTAL + ${execs:-0}))
}

declare -A STATUS=()
say "=== fuzzing ${SURFACES[*]}: ${SECONDS_PER}s${RUNS:+, at most $RUNS runs} each, $JOBS at a time (nice $NICE)"
for s in "${SURFACES[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
        wait -n
    done
    say "--- $s"
    rm -f "$WORK/logs/$s.status"
    run_target "$s" &
done
wait
for s in "${SURFACES[@]}"; do
    STATUS[$s]=$(cat "$WORK/logs/$s.status" 2>/dev/null || echo 1)
done

TOTAL=0
FAILED=0
echo
printf '%-16s %12s %9s %6s %7s %7s  %s\n' target execs exec/s cov ft corpus result
for s in "${SURFACES[@]}"; do
    summary "$s" "${STATUS[$s]}"
    if [ "${STATUS[$s]}" != 0 ]; then
        FAILED=$((FAILED + 1))
        echo "--- end of $WORK/logs/$s.log:"
        grep -v '^#[0-9]' "$WORK/logs/$s.log" | tail -n 40
    fi
done
echo "total execs: $TOTAL; ${#SURFACES[@]} targets, $FAILED failed"
[ "$FAILED" = 0 ]

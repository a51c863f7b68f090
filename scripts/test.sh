#!/usr/bin/env bash
# test.sh: THE test command.  Builds rbgw and runs the whole suite (unit, integration, e2e):
#
#   1. build/          normal build (RelWithDebInfo), ctest, with tests/container (podman);
#   2. build-asan/     -DRBGW_SANITIZE=ON (AddressSanitizer + UndefinedBehaviorSanitizer), ctest;
#   3. build-fuzz-ci/  clang, -DRBGW_FUZZ=ON: each libFuzzer target replays its corpus and
#                      fuzzes for RBGW_FUZZ_CI_SECONDS (5) seconds (ctest label fuzz).
#
#   bash scripts/test.sh            all three passes
#   bash scripts/test.sh --fast     skip the sanitizer and fuzz passes
#   bash scripts/test.sh --allow-skip   do not count skipped tests (exit 77) as failures
#
# Assumes scripts/setup.sh has run (it does not install anything).  A skipped test means a tool
# is missing (e.g. pdns_server for e2e), so by default it counts as a failure: the suite did not
# really run.  Environment: CTEST_ARGS adds ctest options (e.g. CTEST_ARGS="-L unit"), JOBS sets
# the build parallelism, BUILD_DIR / ASAN_BUILD_DIR / FUZZ_BUILD_DIR override the tree locations.
# The last line printed is always "N passed, N failed"; the exit status is 0 only if N failed = 0.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
FAST=0
ALLOW_SKIP=0
for arg in "$@"; do
    case $arg in
    --fast) FAST=1 ;;
    --allow-skip) ALLOW_SKIP=1 ;;
    -h | --help)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
        exit 0
        ;;
    *)
        echo "test.sh: unknown option $arg (try --help)" >&2
        exit 2
        ;;
    esac
done

JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
PASSED=0
FAILED=0
SKIPPED=0
FAILURES=()

# run_tree NAME DIR [cmake options...]: configure, build, ctest; add the results to the counters.
run_tree() {
    local name=$1 dir=$2 log status
    shift 2
    echo "=== [$name] configure and build in $dir"
    if ! cmake -S . -B "$dir" "$@" >/dev/null || ! cmake --build "$dir" -j "$JOBS"; then
        echo "=== [$name] BUILD FAILED"
        FAILED=$((FAILED + 1))
        FAILURES+=("[$name] build")
        return
    fi
    echo "=== [$name] ctest"
    log=$dir/test-results.log
    # shellcheck disable=SC2086
    ctest --test-dir "$dir" --output-on-failure --no-tests=error ${CTEST_ARGS:-} 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}

    # One line per test: "  3/12 Test  #3: unit/test_json ........   Passed    0.02 sec".
    local line tname
    while IFS= read -r line; do
        tname=$(echo "$line" | sed -E 's/.*Test +#[0-9]+: ([^ ]+) .*/\1/')
        case $line in
        *" Passed "*) PASSED=$((PASSED + 1)) ;;
        *Skipped* | *"Not Run"*)
            SKIPPED=$((SKIPPED + 1))
            if [ "$ALLOW_SKIP" = 1 ]; then
                echo "=== [$name] skipped: $tname"
            else
                FAILED=$((FAILED + 1))
                FAILURES+=("[$name] $tname (skipped: a tool is missing; run scripts/setup.sh)")
            fi
            ;;
        *)
            FAILED=$((FAILED + 1))
            FAILURES+=("[$name] $tname")
            ;;
        esac
    done < <(grep -E 'Test +#[0-9]+: ' "$log")
    if [ "$status" != 0 ] && ! grep -qE 'Test +#[0-9]+: ' "$log"; then
        FAILED=$((FAILED + 1))
        FAILURES+=("[$name] ctest itself failed (status $status)")
    fi
}

# The container test (label container) builds its own rbgw: it runs in the default tree only.
run_tree default "${BUILD_DIR:-build}" -DRBGW_BUILD_TESTS=ON -DRBGW_SANITIZE=OFF \
    -DRBGW_CONTAINER_TESTS=ON
if [ "$FAST" = 0 ]; then
    # Sanitizer reports abort the process, so they surface as failing tests.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    run_tree asan "${ASAN_BUILD_DIR:-build-asan}" -DRBGW_BUILD_TESTS=ON -DRBGW_SANITIZE=ON \
        -DRBGW_CONTAINER_TESTS=OFF
    # Only the fuzz targets in this tree (the Criterion suite ran twice above); the corpus
    # replays also run in the two trees above, without libFuzzer (fuzz/replay_*).
    run_tree fuzz "${FUZZ_BUILD_DIR:-build-fuzz-ci}" -DCMAKE_C_COMPILER=clang -DRBGW_FUZZ=ON \
        -DRBGW_BUILD_TESTS=OFF -DRBGW_SANITIZE=OFF -DRBGW_CONTAINER_TESTS=OFF
else
    echo "=== --fast: sanitizer and fuzz passes skipped"
fi

echo
if [ ${#FAILURES[@]} -gt 0 ]; then
    echo "Failed:"
    printf '  %s\n' "${FAILURES[@]}"
fi
[ "$SKIPPED" -gt 0 ] && echo "($SKIPPED skipped)"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

#!/usr/bin/env bash
# test.sh: THE test command.  Builds rbgw in four trees and runs the suite (unit, integration,
# e2e) in them.  Every tree is built with -DRBGW_WERROR=ON: warnings are errors in the project's
# own builds, for gcc and clang, at -O2 and -O3 (a user's plain `cmake` build keeps them as
# warnings, see docs/testing.md).
#
#   tree     directory       compiler, build type            tests run
#   default  build/          cc (gcc), RelWithDebInfo -O2,   all: unit, integration, e2e, and
#                            link-time optimisation          tests/container (podman)
#   asan     build-asan/     cc (gcc), ASan + UBSan          unit, integration, e2e
#   release  build-release/  gcc, Release -O3 -DNDEBUG, LTO  all but e2e/test_matrix
#   clang    build-clang/    clang, RelWithDebInfo -O2,      unit, integration, and each libFuzzer
#                            -DRBGW_FUZZ=ON                  target for 5 s (label fuzz)
#
# The release tree is what a user's `cmake -DCMAKE_BUILD_TYPE=Release` gives, so it meets real
# pdns too, but not in every listener x upstream cell of test_matrix (the slowest test; the
# default and asan trees run it).  The clang tree is a second compiler's code for the same C,
# which unit and integration tests exercise.  docs/testing.md has the measured wall time.
#
#   bash scripts/test.sh                  all four trees
#   bash scripts/test.sh --fast           the default tree only
#   bash scripts/test.sh --trees=a,b      these trees only (names from the table)
#   bash scripts/test.sh --allow-skip     do not count skipped tests (exit 77) as failures
#
# Installs nothing: when a tool or library it needs is missing it says so in one line, names
# the command to run first (sudo bash scripts/setup.sh) and exits 1 before building anything.
# A skipped test means a tool is missing (e.g. pdns_server for e2e), so by default it counts as
# a failure: the suite did not really run.  Environment: CTEST_ARGS adds ctest options (e.g.
# CTEST_ARGS="-L unit"), JOBS sets the build parallelism, BUILD_DIR, ASAN_BUILD_DIR,
# RELEASE_BUILD_DIR and CLANG_BUILD_DIR override the tree locations.
# The last line printed is always "N passed, N failed"; the exit status is 0 only if N failed = 0.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ALL_TREES=(default asan release clang)
TREES=("${ALL_TREES[@]}")
ALLOW_SKIP=0
for arg in "$@"; do
    case $arg in
    --fast) TREES=(default) ;;
    --trees=*) IFS=, read -r -a TREES <<<"${arg#--trees=}" ;;
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
if [ ${#TREES[@]} -eq 0 ]; then
    echo "test.sh: --trees= names no tree (trees: ${ALL_TREES[*]})" >&2
    exit 2
fi
for t in "${TREES[@]}"; do
    case " ${ALL_TREES[*]} " in
    *" $t "*) ;;
    *)
        echo "test.sh: unknown tree '$t' (trees: ${ALL_TREES[*]})" >&2
        exit 2
        ;;
    esac
done

want_tree() {
    case " ${TREES[*]} " in *" $1 "*) return 0 ;; esac
    return 1
}

# Everything the selected trees need, checked before anything is built, so that a fresh
# machine gets one line naming what to install instead of a cascade of build failures.
check_tools() {
    local missing=() tool lib
    for tool in cmake make pkg-config cc promtool; do # promtool: test_dashboard (integration)
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    if want_tree release; then
        command -v gcc >/dev/null 2>&1 || missing+=(gcc)
    fi
    if want_tree clang; then
        command -v clang >/dev/null 2>&1 || missing+=(clang)
        # libFuzzer's runtime (libclang-rt-*-dev) for the fuzz targets of the clang tree
        compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" \
            >/dev/null || compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/*/libclang_rt.fuzzer*.a" \
            >/dev/null || missing+=("libFuzzer runtime (libclang-rt-dev)")
    fi
    if command -v pkg-config >/dev/null 2>&1; then
        for lib in libuv yajl libzmq openssl criterion; do
            pkg-config --exists "$lib" 2>/dev/null || missing+=("$lib (pkg-config)")
        done
    fi
    [ -f /usr/share/llhttp/llhttp.c ] || missing+=("llhttp sources (node-llhttp)")
    if [ "$ALLOW_SKIP" = 0 ]; then
        # the e2e tests' tools: without them those tests skip, which counts as failing
        command -v pdns_server >/dev/null 2>&1 || [ -x /usr/sbin/pdns_server ] ||
            missing+=(pdns_server)
        ls /usr/lib/*/pdns/libremotebackend.so >/dev/null 2>&1 || missing+=("pdns remote backend")
        for tool in dig python3; do
            command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
        done
        if want_tree default; then
            # tests/container (default tree); it also needs root, which it checks itself
            for tool in podman podman-compose debootstrap lintian systemd-analyze; do
                command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
            done
        fi
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        local list
        list=$(printf '%s, ' "${missing[@]}")
        echo "test.sh: missing ${list%, }: run first: sudo bash scripts/setup.sh" >&2
        exit 1
    fi
}
check_tools

JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
PASSED=0
FAILED=0
SKIPPED=0
FAILURES=()
TIMES=()

# run_tree NAME DIR SELECT [cmake options...]: configure, build, run ctest with the test
# selection SELECT (ctest options, split on blanks; "" runs every test); add the results to the
# counters.
run_tree() {
    local name=$1 dir=$2 log status start line tname
    local scope=()
    read -r -a scope <<<"$3"
    shift 3
    start=$SECONDS
    echo "=== [$name] configure and build in $dir"
    if ! cmake -S . -B "$dir" -DRBGW_BUILD_TESTS=ON -DRBGW_WERROR=ON "$@" >/dev/null ||
        ! cmake --build "$dir" -j "$JOBS"; then
        echo "=== [$name] BUILD FAILED"
        FAILED=$((FAILED + 1))
        FAILURES+=("[$name] build")
        TIMES+=("$name: build failed after $((SECONDS - start)) s")
        return
    fi
    local built=$SECONDS
    echo "=== [$name] ctest ${scope[*]:-(all tests)}"
    log=$dir/test-results.log
    # shellcheck disable=SC2086
    ctest --test-dir "$dir" --output-on-failure --no-tests=error "${scope[@]}" ${CTEST_ARGS:-} \
        2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    TIMES+=("$name: build $((built - start)) s, tests $((SECONDS - built)) s")

    # One line per test: "  3/12 Test  #3: unit/test_json ........   Passed    0.02 sec".
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

# Sanitizer reports abort the process, so they surface as failing tests.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# The container test (label container) builds its own rbgw: it runs in the default tree only.
for tree in "${TREES[@]}"; do
    case $tree in
    default)
        run_tree default "${BUILD_DIR:-build}" "" -DRBGW_SANITIZE=OFF -DRBGW_CONTAINER_TESTS=ON
        ;;
    asan)
        run_tree asan "${ASAN_BUILD_DIR:-build-asan}" "" -DRBGW_SANITIZE=ON \
            -DRBGW_CONTAINER_TESTS=OFF
        ;;
    release)
        run_tree release "${RELEASE_BUILD_DIR:-build-release}" "-E ^e2e/test_matrix$" \
            -DRBGW_SANITIZE=OFF -DRBGW_CONTAINER_TESTS=OFF -DCMAKE_BUILD_TYPE=Release \
            -DCMAKE_C_COMPILER=gcc
        ;;
    clang)
        run_tree clang "${CLANG_BUILD_DIR:-build-clang}" "-L unit|integration|^fuzz$" \
            -DRBGW_SANITIZE=OFF -DRBGW_CONTAINER_TESTS=OFF -DCMAKE_C_COMPILER=clang -DRBGW_FUZZ=ON
        ;;
    esac
done

echo
printf '=== time: %s\n' "${TIMES[@]}"
if [ ${#FAILURES[@]} -gt 0 ]; then
    echo "Failed:"
    printf '  %s\n' "${FAILURES[@]}"
fi
[ "$SKIPPED" -gt 0 ] && echo "($SKIPPED skipped)"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

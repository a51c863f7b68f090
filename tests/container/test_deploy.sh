#!/usr/bin/env bash
# test_deploy.sh: the three ways rbgw ships, built and exercised with podman, offline.
#
#   bash tests/container/test_deploy.sh          (as root; ctest runs it as container/deploy)
#
#  1. base images: debian:bookworm and debian:bookworm-slim, made locally with debootstrap when
#     no registry can be reached (base-images.sh), so the Dockerfiles stay standard;
#  2. images: rbgw (docker/Dockerfile, which also builds the Debian package), pdns and the
#     example responder; rbgw is compiled once, in the image's build stage;
#  3. the Debian package from that build stage: lintian without errors, the contents the
#     package promises, then installed into a fresh Debian 12 container: `rbgw --version`,
#     `rbgw --check-config --config=/etc/rbgw/rbgw.conf`, the rbgw user, and a purge that
#     leaves no file behind; and the systemd unit's `systemd-analyze security` exposure;
#  4. the image's own behaviour: a broken RBGW_* variable or mounted rbgw.conf makes it exit 2
#     with the key and the reason on stderr; --check-config shows the environment;
#  5. docker/compose.yaml with podman-compose: dig through pdns -> rbgw -> responder, the
#     healthcheck command, and the fanout profile reaching its second responder;
#  6. docker/k8s/pdns-with-rbgw.yaml with `podman kube play`: the same dig, the probe command.
#
# Exits 77 (ctest: skipped) with "skipped: no container runtime" where podman is missing or
# cannot run a container.  Ports: the first free pair in 15380-15399 on 127.0.0.1.  Prints one
# ok/FAIL line per check and "# N passed, N failed"; exits 1 on any failure.
set -uo pipefail

SRC=${RBGW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
HERE=$SRC/tests/container
PROJECT=rbgwtest
PASS=0
FAIL=0
T0=$(date +%s)

ok() {
    echo "ok   - $1"
    PASS=$((PASS + 1))
}
bad() {
    echo "FAIL - $1"
    FAIL=$((FAIL + 1))
}
check() { # check NAME COMMAND...: ok when the command succeeds
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}
skip() {
    echo "skipped: no container runtime ($1)"
    exit 77
}
step() { echo "# [$(($(date +%s) - T0))s] $*"; }

[ "$(id -u)" = 0 ] || skip "needs root for podman and debootstrap"
for tool in podman podman-compose debootstrap dig lintian systemd-analyze; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed; run scripts/setup.sh"
done

WORK=$(mktemp -d /tmp/rbgw-container.XXXXXX)
# Podman's settings for this run only, fit for machines without systemd and with hybrid
# cgroups: runc, cgroupfs, file events, ulimits within the hard limits.
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=1048576
nproc=$(ulimit -Hu)
{ [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
cat >"$WORK/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_CONF=$WORK/containers.conf
podman info >/dev/null 2>&1 || skip "podman info fails"

KUBE=$WORK/pdns-with-rbgw.yaml
# podman-compose 1.0.3 (Debian 12) has no --profile and starts every service; later ones need
# the option to start the fanout profile.
PROFILE=
if grep -q -- '--profile' <<<"$(podman-compose --help 2>&1)"; then
    PROFILE="--profile fanout"
fi
# logs_if_failed SINCE: the last lines of every test container's log when checks failed
# since the FAIL count SINCE (called before a section takes its containers down).
logs_if_failed() {
    local c
    [ "$FAIL" -gt "$1" ] || return 0
    for c in $(podman ps -a --format '{{.Names}}' | grep -E "^${PROJECT}_|^pdns-with-rbgw-pod"); do
        echo "# --- logs of $c"
        podman logs "$c" 2>&1 | tail -n 20 | sed 's/^/#   /'
    done
}
cleanup() {
    set +e
    (cd "$SRC/docker" && podman-compose -p "$PROJECT" $PROFILE down -v >/dev/null 2>&1)
    podman network rm -f "${PROJECT}_default" >/dev/null 2>&1
    [ -f "$KUBE" ] && podman kube down "$KUBE" >/dev/null 2>&1
    podman volume rm -f rbgw-config pdns-config >/dev/null 2>&1
    podman rm -f "${PROJECT}-deb" "${PROJECT}-build" >/dev/null 2>&1
    podman image prune -f >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

# free_port: the first port in 15380-15399 that nothing uses on UDP or TCP, not in $*.
free_port() {
    local p
    for p in $(seq 15380 15399); do
        case " $* " in *" $p "*) continue ;; esac
        if ! ss -Hlnu "sport = :$p" | grep -q . && ! ss -Hlnt "sport = :$p" | grep -q .; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# wait_dig PORT: poll (bounded, 60 x 1 s) until pdns on PORT answers www.example.com A.
wait_dig() {
    local i out
    for i in $(seq 60); do
        out=$(dig @127.0.0.1 -p "$1" www.example.com A +short +time=1 +tries=1 2>/dev/null)
        if [ -n "$out" ] && ! grep -q ';;' <<<"$out"; then
            echo "$out"
            return 0
        fi
        sleep 1
    done
    return 1
}

# --- 1. base images
step "base images"
if ! bash "$HERE/base-images.sh" >"$WORK/base.log" 2>&1; then
    tail -n 20 "$WORK/base.log" | sed 's/^/#   /'
    bad "base images debian:bookworm and debian:bookworm-slim"
    exit 1
fi
podman run --rm docker.io/library/debian:bookworm-slim true >/dev/null 2>&1 ||
    skip "podman cannot run a container here"
ok "base images debian:bookworm and debian:bookworm-slim"

# --- 2. images
step "images"
build() { # build LOG ARGS...: podman build, log kept for failures
    local log=$WORK/$1
    shift
    if ! nice podman build --network=host "$@" >"$log" 2>&1; then
        tail -n 30 "$log" | sed 's/^/#   /'
        return 1
    fi
}
# The example images build while rbgw compiles: both mostly wait for downloads.
(
    build pdns.log -t localhost/rbgw-example-pdns "$SRC/docker/pdns" && touch "$WORK/pdns.ok"
    build responder.log -f "$SRC/docker/responder/Dockerfile" -t localhost/rbgw-example-responder \
        "$SRC" && touch "$WORK/responder.ok"
) &
examples=$!
check "image localhost/rbgw-build (build stage: compile, package)" \
    build build-stage.log -f "$SRC/docker/Dockerfile" --target build -t localhost/rbgw-build "$SRC"
check "image localhost/rbgw" build rbgw.log -f "$SRC/docker/Dockerfile" -t localhost/rbgw "$SRC"
wait "$examples"
check "image localhost/rbgw-example-pdns" test -f "$WORK/pdns.ok"
check "image localhost/rbgw-example-responder" test -f "$WORK/responder.ok"
for img in rbgw rbgw-example-pdns rbgw-example-responder; do
    echo "# image localhost/$img: $(podman image inspect -f '{{.Size}}' localhost/$img) bytes"
done
podman image exists localhost/rbgw || exit 1

# --- 3. the Debian package
step "Debian package"
mkdir -p "$WORK/deb"
podman create --name "${PROJECT}-build" localhost/rbgw-build >/dev/null &&
    podman cp "${PROJECT}-build:/deb/." "$WORK/deb/" &&
    podman rm "${PROJECT}-build" >/dev/null
DEB=$(ls "$WORK"/deb/rbgw_*_amd64.deb 2>/dev/null | head -n 1)
if [ -z "$DEB" ]; then
    bad "the build stage made rbgw_<version>_amd64.deb"
else
    ok "the build stage made $(basename "$DEB")"
    lint=$(lintian --tag-display-limit 0 "$DEB" 2>&1 | grep -v '^running with root privileges')
    printf '%s\n' "$lint" | grep . | sed 's/^/#   lintian: /'
    check "lintian: no errors" test -z "$(printf '%s\n' "$lint" | grep '^E: ')"
    dpkg-deb -c "$DEB" | awk '{ print $NF }' >"$WORK/contents"
    for f in ./usr/bin/rbgw ./etc/rbgw/rbgw.conf ./lib/systemd/system/rbgw.service \
        ./usr/share/man/man8/rbgw.8.gz ./usr/share/man/man5/rbgw.conf.5.gz \
        ./usr/share/doc/rbgw/copyright ./usr/share/doc/rbgw/deploy.md; do
        check "package holds $f" grep -qxF "$f" "$WORK/contents"
    done
    check "/etc/rbgw/rbgw.conf is a conffile" \
        sh -c "dpkg-deb -I '$DEB' conffiles | grep -qx /etc/rbgw/rbgw.conf"
    check "Depends computed by shlibdeps (libuv1, libyajl2, libzmq5, libssl3) plus adduser" \
        sh -c "dpkg-deb -f '$DEB' Depends | grep -q 'libuv1 (>=' &&
               dpkg-deb -f '$DEB' Depends | grep -q 'libyajl2' &&
               dpkg-deb -f '$DEB' Depends | grep -q 'libzmq5' &&
               dpkg-deb -f '$DEB' Depends | grep -q 'libssl3' &&
               dpkg-deb -f '$DEB' Depends | grep -q adduser"
    check "Recommends ca-certificates (the CA store of https:// upstreams)" \
        sh -c "dpkg-deb -f '$DEB' Recommends | grep -q ca-certificates"
    # Install, use, purge in a fresh Debian 12; the file lists before and after must match
    # (the rbgw user stays, as Debian's system users do: /etc/passwd and friends change).
    cat >"$WORK/deb/in-root.sh" <<'INROOT'
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# /run is a tmpfs on a real system (adduser leaves its lock file there).
snap() { find / -xdev \( -path /proc -o -path /sys -o -path /run -o -path /tmp -o -path /var/log \
    -o -path /var/lib/apt -o -path /var/lib/dpkg -o -path /var/cache \) -prune -o -print | sort; }
snap >/tmp/before
apt-get install -y -qq --no-install-recommends /deb/rbgw_*.deb >/tmp/install.log 2>&1 ||
    { cat /tmp/install.log; exit 1; }
echo "version: $(rbgw --version)"
rbgw --check-config --config=/etc/rbgw/rbgw.conf 2>&1 | sed 's/^/check-config: /'
echo "user: $(getent passwd rbgw | cut -d: -f1,6,7)"
echo "man: $(ls /usr/share/man/man8/rbgw.8.gz /usr/share/man/man5/rbgw.conf.5.gz | tr '\n' ' ')"
apt-get purge -y -qq --autoremove rbgw >/tmp/purge.log 2>&1 || { cat /tmp/purge.log; exit 1; }
echo "purged: $(dpkg -s rbgw >/dev/null 2>&1 && echo no || echo yes)"
snap >/tmp/after
diff /tmp/before /tmp/after | grep '^[<>]' | grep -vE ' /etc/(passwd|group|shadow|gshadow)-?$' |
    sed 's/^/left: /' || true
INROOT
    podman run --rm --name "${PROJECT}-deb" --network=host -v "$WORK/deb:/deb:ro" \
        docker.io/library/debian:bookworm bash /deb/in-root.sh >"$WORK/in-root.log" 2>&1
    sed 's/^/#   /' "$WORK/in-root.log"
    check "installed in a fresh Debian 12: rbgw --version" \
        grep -qE '^version: rbgw [0-9]+\.[0-9]+\.[0-9]+$' "$WORK/in-root.log"
    check "installed: rbgw --check-config --config=/etc/rbgw/rbgw.conf" \
        grep -q '^check-config: rbgw: configuration OK' "$WORK/in-root.log"
    check "installed: the rbgw system user exists" \
        grep -q '^user: rbgw:/nonexistent:/usr/sbin/nologin$' "$WORK/in-root.log"
    check "purged: dpkg forgot it" grep -q '^purged: yes$' "$WORK/in-root.log"
    check "purged: no file left behind" sh -c "! grep -q '^left: ' '$WORK/in-root.log'"
fi
sec=$(systemd-analyze security --offline=true "$SRC/packaging/systemd/rbgw.service" 2>&1 |
    grep 'Overall exposure level')
echo "# systemd-analyze security: ${sec#*: }"
check "systemd-analyze security: exposure at most 1.5 (of 10)" \
    sh -c "systemd-analyze security --offline=true --threshold=15 \
        '$SRC/packaging/systemd/rbgw.service' >/dev/null 2>&1"

# --- 4. the image, alone
step "image behaviour"
out=$(podman run --rm -e RBGW_LOG_LEVEL=loud -e RBGW_UPSTREAM=http:url=http://127.0.0.1:1/dns \
    localhost/rbgw 2>&1 >/dev/null)
st=$?
check "broken RBGW_LOG_LEVEL: exit status 2 (got $st)" test "$st" = 2
check "broken RBGW_LOG_LEVEL: the variable and the reason on stderr" \
    grep -qF "rbgw: RBGW_LOG_LEVEL: unknown level 'loud'" <<<"$out"
printf 'upstream=http:url=http://127.0.0.1:1/dns\nlog-level=chatty\n' >"$WORK/broken.conf"
out=$(podman run --rm -v "$WORK/broken.conf:/etc/rbgw/rbgw.conf:ro" localhost/rbgw 2>&1 >/dev/null)
st=$?
check "broken mounted rbgw.conf: exit status 2 (got $st)" test "$st" = 2
check "broken mounted rbgw.conf: file, line, key and reason on stderr" \
    grep -qF "rbgw: /etc/rbgw/rbgw.conf:2: log-level: unknown level 'chatty'" <<<"$out"
out=$(podman run --rm localhost/rbgw 2>&1)
st=$?
check "no upstream configured: exit status 2 and the reason (got $st)" \
    sh -c "[ $st = 2 ] && grep -qF 'no upstream configured' <<'X'
$out
X"
out=$(podman run --rm -e RBGW_UPSTREAM=http:url=http://127.0.0.1:1/dns localhost/rbgw \
    --check-config 2>&1)
check "--check-config in the image shows the environment" \
    grep -qF 'listen   unix:path=/run/rbgw/rbgw.sock,mode=0666  (RBGW_LISTEN)' <<<"$out"
check "the image runs as the rbgw user" \
    test "$(podman run --rm --entrypoint id localhost/rbgw -un)" = rbgw

# --- 5. compose
step "compose"
failed_before=$FAIL
P1=$(free_port) && P2=$(free_port "$P1") || {
    bad "two free ports in 15380-15399"
    exit 1
}
(cd "$SRC/docker" && PDNS_PORT=$P1 PDNS_FANOUT_PORT=$P2 \
    podman-compose -p "$PROJECT" $PROFILE up -d --no-build >"$WORK/compose.log" 2>&1)
check "compose up" grep -q "${PROJECT}_pdns_1" <<<"$(podman ps --format '{{.Names}}')"
if ans=$(wait_dig "$P1"); then
    check "compose: dig www.example.com A through pdns -> rbgw -> responder ($ans)" \
        test "$ans" = 192.0.2.10
else
    bad "compose: dig www.example.com A through pdns -> rbgw -> responder (no answer)"
fi
check "compose: rbgw's healthcheck command" podman healthcheck run "${PROJECT}_rbgw_1"
# Not `podman ps | grep -q`: with pipefail, grep -q leaving at the first match makes podman die
# of SIGPIPE on its next line, and the pipeline fails although the name was there.
if grep -q "${PROJECT}_rbgw-fanout_1" <<<"$(podman ps --format '{{.Names}}')"; then
    ans=$(wait_dig "$P2")
    check "compose fanout: dig through the pool of two responders ($ans)" test "$ans" = 192.0.2.10
    for i in 1 2 3 4 5 6; do dig @127.0.0.1 -p "$P2" "host$i.example.com" A +time=2 +tries=1 >/dev/null; done
    check "compose fanout: calls reached the second responder" \
        sh -c "podman logs ${PROJECT}_responder-b_1 2>&1 | grep -q lookup"
    out=$(podman exec "${PROJECT}_rbgw-fanout_1" rbgw --check-config 2>&1)
    check "compose fanout: rbgw has 2 upstreams in one pool (from RBGW_UPSTREAM lines)" \
        grep -q '2 upstream(s), 1 pool(s)' <<<"$out"
else
    bad "compose fanout: the fanout profile started"
fi
logs_if_failed "$failed_before"
(cd "$SRC/docker" && podman-compose -p "$PROJECT" $PROFILE down -v >/dev/null 2>&1)
podman network rm -f "${PROJECT}_default" >/dev/null 2>&1

# --- 6. kube play
step "kube play"
failed_before=$FAIL
P3=$(free_port) || {
    bad "a free port in 15380-15399"
    exit 1
}
sed "s/hostPort: 5300/hostPort: $P3/" "$SRC/docker/k8s/pdns-with-rbgw.yaml" >"$KUBE"
podman volume rm -f rbgw-config pdns-config >/dev/null 2>&1
check "podman kube play docker/k8s/pdns-with-rbgw.yaml" \
    sh -c "podman kube play '$KUBE' >'$WORK/kube.log' 2>&1"
if ans=$(wait_dig "$P3"); then
    check "kube: dig www.example.com A through pdns -> rbgw -> responder ($ans)" \
        test "$ans" = 192.0.2.10
else
    bad "kube: dig www.example.com A through pdns -> rbgw -> responder (no answer)"
fi
check "kube: rbgw's liveness probe command" podman healthcheck run pdns-with-rbgw-pod-0-rbgw
check "kube: rbgw's readiness probe command (rbgw status --probe=ready on the admin socket)" \
    podman exec pdns-with-rbgw-pod-0-rbgw rbgw status --probe=ready /run/rbgw/admin.sock
out=$(podman exec pdns-with-rbgw-pod-0-rbgw rbgw --check-config 2>&1)
check "kube: rbgw's configuration comes from the ConfigMap" \
    grep -qE 'upstream +http:url=http://127.0.0.1:8053/dns.*\(/etc/rbgw/rbgw.conf:[0-9]+\)' <<<"$out"
logs_if_failed "$failed_before"
podman kube down "$KUBE" >/dev/null 2>&1

step "done"
echo "# $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]

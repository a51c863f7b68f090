#!/usr/bin/env bash
# setup.sh: install everything needed to build, test and demo rbgw on Debian 12 (bookworm).
#
#   sudo bash scripts/setup.sh
#
# Idempotent and non-interactive (safe to re-run, no prompts, no stdin).  Installs Debian
# packages only.  pdns-server's maintainer scripts would start a system-wide pdns on port 53:
# a temporary policy-rc.d forbids that during the install, and the pdns service is then stopped
# and disabled, because the tests and the demo run their own pdns_server on high loopback ports.
# The same goes for the prometheus package, installed for its promtool (Debian ships promtool
# only there): the tests validate scrapes and dashboard queries with it; no server is run.
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config               # toolchain
    clang libclang-rt-14-dev                       # the clang tree of scripts/test.sh; libFuzzer's runtime
    libuv1-dev libyajl-dev libzmq3-dev node-llhttp # rbgw's libraries (llhttp as C sources)
    libssl-dev ca-certificates                     # TLS toward https:// responders
    libcriterion-dev                               # unit and integration tests
    pdns-server pdns-backend-remote                # end-to-end tests and the demo
    bind9-dnsutils                                 # dig
    python3 python3-zmq                            # example responders, test helpers
    socat                                          # scripted unix-socket peers in tests
    prometheus                                     # promtool: tests check scrapes and queries
    clang-format                                   # code formatting (.clang-format)
    dnsperf wrk hyperfine valgrind                 # bench/ (not needed by the tests)
    dpkg-dev lintian                               # the Debian package: cpack's shlibdeps, lint
    podman podman-compose runc catatonit           # tests/container: images, compose, kube play
    golang-github-containernetworking-plugin-dnsname # compose service names between containers
    debootstrap iproute2                           # local base images (no registry); ss
)

if [ "$(id -u)" != 0 ]; then
    echo "setup.sh: must run as root: sudo bash scripts/setup.sh" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup.sh: needs a Debian-based system with apt-get (tested on Debian 12)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

# Forbid service starts while packages install (exit 101 = "action forbidden" for invoke-rc.d
# and deb-systemd-invoke).  An existing policy-rc.d (as in container images) is left alone.
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=0
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\n# temporary, from rbgw scripts/setup.sh\nexit 101\n' >"$POLICY"
    chmod 755 "$POLICY"
    OWN_POLICY=1
fi
cleanup() {
    if [ "$OWN_POLICY" = 1 ]; then
        rm -f "$POLICY"
    fi
}
trap cleanup EXIT

echo "setup.sh: apt-get update"
apt-get update -q
# systemd-analyze (the unit's security score) comes with systemd, which Debian machines
# usually have: name it only when missing, so that the install does not upgrade it.
if ! command -v systemd-analyze >/dev/null 2>&1; then
    PACKAGES+=(systemd)
fi
echo "setup.sh: installing ${PACKAGES[*]}"
apt-get install "${APT_OPTS[@]}" --no-install-recommends "${PACKAGES[@]}"

# Make sure no system pdns keeps (or later takes) port 53, and no Prometheus server runs (only
# its promtool is wanted): stop and disable both services, whether the machine runs systemd or
# not.  Each step is allowed to find nothing to do.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    for svc in pdns prometheus; do
        systemctl disable --now "$svc.service" >/dev/null 2>&1 || true
        systemctl reset-failed "$svc.service" >/dev/null 2>&1 || true
    done
else
    for svc in pdns prometheus; do
        if [ -x "/etc/init.d/$svc" ]; then
            "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
        fi
        if command -v update-rc.d >/dev/null 2>&1; then
            update-rc.d "$svc" disable >/dev/null 2>&1 || true
        fi
    done
fi

missing=()
for tool in cc clang cmake pkg-config pdns_server dig python3 socat dpkg-shlibdeps lintian \
    systemd-analyze podman podman-compose debootstrap promtool; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
done
if [ ! -f /usr/share/llhttp/llhttp.c ]; then
    missing+=("llhttp sources (/usr/share/llhttp/llhttp.c)")
fi
if ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1; then
    missing+=("libFuzzer runtime (libclang-rt-14-dev)")
fi
if ! ls /usr/lib/*/pdns/libremotebackend.so >/dev/null 2>&1; then
    missing+=("pdns remote backend")
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup.sh: still missing after install: ${missing[*]}" >&2
    exit 1
fi
version=$(pdns_server --version 2>&1 | grep -o 'Authoritative Server [0-9.]*' | head -n 1 || true)
echo "setup.sh: done (PowerDNS $version)"

#!/usr/bin/env bash
# package.sh: build the Debian package rbgw_<version>_<arch>.deb and check it with lintian.
#
#   bash scripts/package.sh [OUTDIR]        (default OUTDIR: build-deb)
#   bash scripts/package.sh --no-lintian [OUTDIR]
#
# Configures OUTDIR as a Release build with the prefix /usr and Debian's hardening flags
# (dpkg-buildflags), builds rbgw and its man pages, and runs `cpack -G DEB` there: /usr/bin/rbgw,
# /etc/rbgw/rbgw.conf (a conffile), /lib/systemd/system/rbgw.service, rbgw(8), rbgw.conf(5)
# and /usr/share/doc/rbgw; Depends comes from dpkg-shlibdeps.  Then lintian: any error fails
# the script; warnings are printed.  The container image (docker/Dockerfile) builds its
# package with this same script.  Needs dpkg-dev (and lintian), see scripts/setup.sh.
set -euo pipefail

cd "$(dirname "$0")/.."
LINTIAN=1
if [ "${1:-}" = --no-lintian ]; then
    LINTIAN=0
    shift
fi
OUT=${1:-build-deb}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

export DEB_BUILD_MAINT_OPTIONS=${DEB_BUILD_MAINT_OPTIONS:-hardening=+all}
# -Werror is for the test builds: a released package must not break on a new compiler warning.
CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)" \
    LDFLAGS="$(dpkg-buildflags --get LDFLAGS)" \
    cmake -S . -B "$OUT" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
    -DRBGW_BUILD_TESTS=OFF -DRBGW_SANITIZE=OFF -DRBGW_WERROR=OFF >/dev/null
cmake --build "$OUT" -j "$JOBS" >/dev/null
rm -f "$OUT"/rbgw_*.deb
(cd "$OUT" && cpack -G DEB >/dev/null)
deb=$(ls "$OUT"/rbgw_*.deb)
echo "package.sh: $deb ($(stat -c %s "$deb") bytes)"

if [ "$LINTIAN" = 1 ]; then
    # lintian warns when it runs as root; that line is not about the package.
    report=$(lintian --tag-display-limit 0 "$deb" 2>&1 | grep -v '^running with root privileges' || true)
    if [ -n "$report" ]; then
        printf '%s\n' "$report" | sed 's/^/package.sh: lintian: /'
    else
        echo "package.sh: lintian: no errors, no warnings"
    fi
    if printf '%s\n' "$report" | grep -q '^E: '; then
        echo "package.sh: lintian found errors" >&2
        exit 1
    fi
fi

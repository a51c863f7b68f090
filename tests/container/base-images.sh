#!/usr/bin/env bash
# base-images.sh: make the Debian base images that rbgw's Dockerfiles name (debian:bookworm and
# debian:bookworm-slim) when no image registry can be reached, so the Dockerfiles stay standard.
#
#   bash tests/container/base-images.sh [--rebuild]
#
# Each image is a debootstrap (minbase) of bookworm from the Debian mirror apt already uses,
# imported with `podman import` under Docker Hub's name (docker.io/library/debian:TAG).  The
# slim one is made the way Debian's official slim images are: dpkg is told to leave out
# documentation, man pages and translations (path-exclude), and the ones already unpacked are
# removed.  Both get what the official images have: an empty /dev, no apt lists or caches,
# deb822 sources, apt's docker-clean hook.  An image that already exists is kept unless
# --rebuild is given.  Needs root, podman and debootstrap (scripts/setup.sh installs them).
# Podman's settings must already be in force (CONTAINERS_CONF, see lib.sh).
set -euo pipefail

REBUILD=0
[ "${1:-}" = --rebuild ] && REBUILD=1
IMG=docker.io/library/debian
SUITE=bookworm

have() { podman image exists "$IMG:$1"; }
if [ "$REBUILD" = 0 ] && have "$SUITE" && have "$SUITE-slim"; then
    exit 0
fi
if [ "$REBUILD" = 0 ] && podman pull -q "$IMG:$SUITE" >/dev/null 2>&1 &&
    podman pull -q "$IMG:$SUITE-slim" >/dev/null 2>&1; then
    echo "base-images: pulled $IMG:$SUITE and $SUITE-slim"
    exit 0
fi

# The mirrors apt uses for bookworm and its -updates and -security suites, as deb822 stanzas.
targets() { apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Identifier: Packages'; }
[ -n "$(targets)" ] || apt-get update -qq
SOURCES=$(targets | sort -u | awk -v c="$SUITE" '$2 ~ "^" c "(-updates|-security)?$" { s[$1] = s[$1] " " $2 }
    END { for (u in s) printf "Types: deb\nURIs: %s\nSuites:%s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n", u, s[u] }')
MIRROR=$(printf '%s\n' "$SOURCES" | awk -v c="$SUITE" '/^URIs:/ { u = $2 } $0 == "Suites: " c || index($0, "Suites: " c " ") == 1 { print u; exit }')
if [ -z "$MIRROR" ]; then
    echo "base-images: apt has no source for $SUITE" >&2
    exit 1
fi

ROOT=$(mktemp -d /var/tmp/rbgw-rootfs.XXXXXX)
trap 'rm -rf --one-file-system "$ROOT" "$ROOT.log"' EXIT
echo "base-images: debootstrap $SUITE from $MIRROR"
if ! nice debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1; then
    tail -n 20 "$ROOT.log" >&2
    exit 1
fi
rm -rf "${ROOT:?}"/dev/* "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/cache/apt/*.bin \
    "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/log/* "$ROOT/etc/apt/sources.list" "$ROOT/etc/hostname" \
    "$ROOT/debootstrap"
: >"$ROOT/etc/resolv.conf"
printf '%s\n' "$SOURCES" >"$ROOT/etc/apt/sources.list.d/debian.sources"
cat >"$ROOT/etc/apt/apt.conf.d/docker-clean" <<'CLEAN'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache ""; Acquire::Languages "none";
CLEAN

import() { # import TAG: the rootfs as $IMG:TAG, replacing an older image of that name
    local old
    old=$(podman image inspect -f '{{.Id}}' "$IMG:$1" 2>/dev/null || true)
    tar --numeric-owner -C "$ROOT" -c . | nice podman import -q --change 'CMD ["bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - \
        "$IMG:$1" >/dev/null
    if [ -n "$old" ]; then
        podman rmi "$old" >/dev/null 2>&1 || true
    fi
}
import "$SUITE"

# slim: what Debian's official slim variant leaves out, for this and every later install.
cat >"$ROOT/etc/dpkg/dpkg.cfg.d/docker" <<'SLIM'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
SLIM
find "$ROOT/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$ROOT/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$ROOT"/usr/share/info/* "$ROOT"/usr/share/linda/* "$ROOT"/usr/share/lintian/overrides/* \
    "$ROOT"/usr/share/locale/* "$ROOT"/usr/share/man/*
import "$SUITE-slim"
podman images "$IMG"

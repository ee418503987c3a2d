#!/usr/bin/env bash
# Installs what building and testing husk needs on Debian 12, and nothing
# when it is all there already. Runs as root (CI) or through sudo.
set -euo pipefail

need=()
pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" || need+=("$1"); }
# libseccomp-dev: the seccomp crate links libseccomp; busybox-static: the
# test and demo rootfs; runc: the reference for the compatibility tests;
# iproute2 for network namespace checks; jq for the scripts; uidmap:
# newuidmap/newgidmap, which rootless containers (and the rootless tests)
# use to map the user's /etc/subuid and /etc/subgid ranges; criu for
# checkpoint/restore.
for p in build-essential pkg-config libseccomp-dev busybox-static runc iproute2 jq uidmap criu; do pkg "$p"; done
# make: the Makefile (scripts/test-packaging.sh) and the Makefile guide.
# tests/guides.rs: python3-yaml for the Kubernetes guide; the engines the
# podman, docker and containerd guides are run against
# (tests/guide-engines.sh), and umoci to make their image.
for p in make python3-yaml podman conmon docker.io containerd umoci; do pkg "$p"; done
# `deps.sh bench`: what scripts/bench.sh measures with and against.
if [[ ${1:-} == bench ]]; then
    for p in hyperfine strace time crun; do pkg "$p"; done
fi
if ((${#need[@]})); then
    echo "deps: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # docker.io and containerd would start their system daemons: the tests
    # start private ones. policy-rc.d (if there is none) stops them.
    made_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    rc=0
    apt-get update -qq || rc=$?
    ((rc)) || apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends \
        "${need[@]}" >/dev/null || rc=$?
    if ((made_policy)); then rm -f /usr/sbin/policy-rc.d; fi
    ((rc == 0)) || exit "$rc"
fi
if ! command -v cargo >/dev/null; then
    echo "deps: cargo is missing: install Rust (https://rustup.rs) first" >&2
    exit 1
fi
# cargo-deb builds the Debian package (scripts/test-packaging.sh); pinned,
# so that CI builds the package the same way on every machine.
cargo_deb=3.8.0
if [[ $(cargo deb --version 2>/dev/null) != "cargo-deb $cargo_deb" ]]; then
    echo "deps: installing cargo-deb $cargo_deb" >&2
    # install.md: cargo install cargo-deb --locked --version 3.8.0
    cargo install cargo-deb --locked --version "$cargo_deb"
fi

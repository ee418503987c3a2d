#!/usr/bin/env bash
# guide-engines.sh ENGINE HUSK GUIDE: runs the tested commands of an engine
# guide against a private instance of that engine, configured with the
# guide's own config file. tests/guides.rs runs it for docs/podman.md,
# docs/docker.md and docs/containerd.md.
#
#   ENGINE  podman | docker | containerd
#   HUSK    the husk binary under test
#   GUIDE   the guide; its ```sh tested blocks are run, in order, with bash -e
#
# What differs from the guide, and why (each difference is in this file):
# - /usr/bin/husk, in the config file and the commands, is a wrapper that
#   logs each call and then runs HUSK: the check that the engine really
#   called husk.
# - The engine keeps everything (storage, state, sockets, logs) in a temp
#   dir, and only the private instance is used (CONTAINERS_CONF, DOCKER_HOST,
#   CONTAINERD_ADDRESS): the host's own engines are never touched.
# - Containers get a cgroup parent below this script's own cgroup (the
#   machine's top-level cgroups are not ours): dockerd --cgroup-parent, and
#   `podman run` and `ctr run` through wrappers that add the flag. podman
#   runs also get `--network none`; dockerd runs with --bridge=none, which
#   gives the same. Neither touches the host's network.
# - The image docker.io/library/busybox:latest is a local import of the
#   host's busybox-static: there is no registry to pull from.
#
# Root only. Everything it creates is removed at exit: containers, images,
# daemons it started (by pid), mounts and cgroups below its temp dir.
set -euo pipefail

engine=$1
husk=$(readlink -f "$2")
guide=$3
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
busybox=${HUSK_BUSYBOX:-/bin/busybox}

say() { echo "guide-engines[$engine]: $*" >&2; }
die() { say "$*"; exit 1; }

T=$(mktemp -d "/tmp/husk-guide-$engine.XXXXXX")
chmod 755 "$T"
tag=$(basename "$T" | tr -c 'a-zA-Z0-9\n' '-' | tr 'A-Z' 'a-z')
mkdir -p "$T/bin" "$T/work"

# --- cgroup parent ----------------------------------------------------------
# v1 (or hybrid): below our own memory cgroup, as husk places a relative
# cgroupsPath. v2: beside our own cgroup (a populated cgroup cannot have
# children with controllers).
if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
    own=$(sed -n 's/^0:://p' /proc/self/cgroup)
    own=$(dirname "$own")
else
    own=$(awk -F: '$2 == "memory" {print $3}' /proc/self/cgroup)
fi
cgp=${own%/}/$tag
# The ancestors of $cgp that do not exist yet, per hierarchy: the runtime
# creates them, cleanup removes them (rmdir only: never a populated one).
cg_new=()
for h in /sys/fs/cgroup /sys/fs/cgroup/*; do
    [[ -f $h/cgroup.procs ]] || continue
    p=$cgp
    while [[ -n $p && $p != / ]]; do
        [[ -d $h$p ]] || cg_new+=("$h$p")
        p=$(dirname "$p")
    done
done

# Directories outside $T that engines create (removed again when empty).
new_dirs=()
track_dirs() { local d; for d in "$@"; do [[ -e $d ]] || new_dirs+=("$d"); done; }

pids=()          # daemons we started
private=0        # set once CONTAINERS_CONF, DOCKER_HOST or CONTAINERD_ADDRESS is ours
ctrd_sock=""

stop_pid() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Processes whose command line mentions our temp dir (conmon, shims) and
# that are not daemons: we started them, through the engine.
kill_ours() {
    local p
    for p in $(pgrep -f "$1" || true); do
        [[ $p == "$$" ]] && continue
        grep -qF "$T" "/proc/$p/cmdline" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    done
    return 0
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT
    # Only once the engine's environment names the private instance: never
    # the host's podman storage, dockerd or containerd.
    ((private)) && engine_cleanup >/dev/null 2>&1
    local i
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
    # containerd's shims (ours name our socket) outlive containerd.
    [[ -n $ctrd_sock ]] && kill_ours containerd-shim
    # Mounts below the temp dir (overlay, shm, netns), deepest first.
    awk -v p="$T/" 'index($2, p) == 1 {print $2}' /proc/self/mounts | sort -r |
        while read -r m; do umount -l "$m"; done
    rm -rf "$T" 2>/dev/null || { sleep 1; rm -rf "$T"; }
    for h in /sys/fs/cgroup /sys/fs/cgroup/*; do
        [[ -d $h$cgp ]] && find "$h$cgp" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    printf '%s\n' "${cg_new[@]}" | awk '{print length($0) " " $0}' | sort -rn | cut -d' ' -f2- |
        while read -r d; do [[ -n $d && -d $d ]] && rmdir "$d" 2>/dev/null; done
    printf '%s\n' "${new_dirs[@]}" | awk '{print length($0) " " $0}' | sort -rn | cut -d' ' -f2- |
        while read -r d; do [[ -n $d && -e $d ]] && { rmdir "$d" 2>/dev/null || rm -f "$d"; }; done
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
engine_cleanup() { :; }

# --- husk, the image --------------------------------------------------------
# The logging wrapper the engine sees as /usr/bin/husk.
cat >"$T/husk" <<EOF
#!/bin/sh
echo "\$*" >>"$T/husk.log"
exec "$husk" "\$@"
EOF
chmod 755 "$T/husk"
: >"$T/husk.log"
# A config file or guide with /usr/bin/husk pointing at the wrapper.
with_wrapper() { sed "s|/usr/bin/husk|$T/husk|g" "$1"; }

HUSK_BUSYBOX=$busybox "$repo/scripts/mkbundle.sh" "$T/bundle" "$husk"
rootfs=$T/bundle/rootfs
mkdir -p "$rootfs"/{run,var/tmp,usr/bin}
: >"$rootfs/etc/hosts"
: >"$rootfs/etc/resolv.conf"
echo busybox >"$rootfs/etc/hostname"
tar -C "$rootfs" -cf "$T/rootfs.tar" .
image=docker.io/library/busybox:latest

# Writes $T/bin/NAME: REAL with EXTRA (bash words, expanded when the
# wrapper runs) added after the `run` or `create` command of its arguments
# (the first word that is not an option or an option's value; the options
# that take a value are listed in VALUED).
wrap_run() { # NAME REAL VALUED EXTRA
    {
        echo '#!/usr/bin/env bash'
        echo "# $1 as the guide runs it, with a test setting or two: see guide-engines.sh"
        echo "real=$2 valued=' $3 '"
        echo "extra=($4)"
        cat <<'EOF'
args=() found=0 skip=0
for a in "$@"; do
    args+=("$a")
    if ((found)); then continue; fi
    if ((skip)); then skip=0; continue; fi
    case $a in
        --*=*) ;;
        -*) [[ $valued == *" $a "* ]] && skip=1 ;;
        run | create) found=1; args+=("${extra[@]}") ;;
        *) found=1 ;;
    esac
done
exec "$real" "${args[@]}"
EOF
    } >"$T/bin/$1"
    chmod 755 "$T/bin/$1"
}

# A private containerd: root, state and sockets in $T, CRI off.
start_containerd() {
    local d=$T/containerd
    mkdir -p "$d"
    cat >"$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[debug]
  address = "$d/debug.sock"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
EOF
    # The runc shim keeps its state in /run/containerd (runc/<ns>, s, fifo).
    track_dirs /run/containerd /run/containerd/runc "/run/containerd/runc/$tag" \
        /run/containerd/s /run/containerd/fifo
    ctrd_sock=$d/containerd.sock
    containerd --config "$d/config.toml" >"$d/containerd.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 150); do
        timeout 5 ctr -a "$ctrd_sock" version >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    tail -n 20 "$d/containerd.log" >&2
    die "containerd did not come up"
}

# --- the engines ------------------------------------------------------------
setup_podman() {
    command -v podman >/dev/null && command -v conmon >/dev/null ||
        die "podman and conmon are missing: run scripts/deps.sh"
    local nofile nproc
    nofile=$(ulimit -Hn) nproc=$(ulimit -Hu)
    [[ $nofile == unlimited ]] && nofile=1048576
    [[ $nproc == unlimited || $nproc -gt 32768 ]] && nproc=32768
    mkdir -p "$T/tmp" "$T/cni"
    # The guide's file, with the private instance's settings added to its
    # [engine] table and two tables of its own. default_ulimits: podman's
    # rootful defaults (nofile 1048576) need CAP_SYS_RESOURCE, which some
    # machines (this CI's) do not give.
    with_wrapper "$repo/docs/examples/podman/containers.conf" |
        sed "/^\[engine\]$/a events_logger = \"file\"\nevents_logfile_path = \"$T/events.log\"\ntmp_dir = \"$T/tmp\"" \
            >"$T/containers.conf"
    cat >>"$T/containers.conf" <<EOF

[containers]
log_driver = "k8s-file"
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[network]
network_backend = "cni"
network_config_dir = "$T/cni"
EOF
    grep -q "^husk = \[\"$T/husk\"\]" "$T/containers.conf" || die "the guide's containers.conf names no husk runtime"
    cat >"$T/storage.conf" <<EOF
[storage]
driver = "overlay"
runroot = "$T/runroot"
graphroot = "$T/graphroot"
EOF
    : >"$T/registries.conf"
    export CONTAINERS_CONF=$T/containers.conf CONTAINERS_STORAGE_CONF=$T/storage.conf \
        CONTAINERS_REGISTRIES_CONF=$T/registries.conf
    private=1
    wrap_run podman /usr/bin/podman "--runtime --root --runroot --cgroup-manager --log-level" \
        "--cgroup-parent $cgp --network none"
    /usr/bin/podman import "$T/rootfs.tar" "$image" >/dev/null
}
cleanup_podman() {
    timeout 60 /usr/bin/podman rm -af -t 0
    timeout 60 /usr/bin/podman rmi -af
    kill_ours conmon
}

setup_docker() {
    command -v dockerd >/dev/null && [[ -x /usr/bin/docker ]] ||
        die "dockerd and /usr/bin/docker are missing: run scripts/deps.sh"
    start_containerd
    # dockerd makes these for itself whatever its flags say.
    track_dirs /etc/docker /etc/docker/key.json /run/docker /run/docker/plugins
    with_wrapper "$repo/docs/examples/docker/daemon.json" >"$T/daemon.json"
    grep -q "\"path\": \"$T/husk\"" "$T/daemon.json" || die "the guide's daemon.json names no husk runtime"
    dockerd --config-file "$T/daemon.json" --data-root "$T/data" --exec-root "$T/exec" \
        --pidfile "$T/dockerd.pid" -H "unix://$T/docker.sock" \
        --containerd "$ctrd_sock" --containerd-namespace "$tag" \
        --containerd-plugins-namespace "$tag-plugins" \
        --iptables=false --ip-masq=false --bridge=none --userland-proxy=false \
        --cgroup-parent "$cgp" >"$T/dockerd.log" 2>&1 &
    pids+=($!)
    export DOCKER_HOST=unix://$T/docker.sock DOCKER_CONFIG=$T/docker-cli
    private=1
    # /usr/bin/docker: docker.io's client (another may be first on PATH).
    for _ in $(seq 150); do
        timeout 5 /usr/bin/docker version >/dev/null 2>&1 && break
        sleep 0.2
    done
    /usr/bin/docker version >/dev/null 2>&1 || { tail -n 20 "$T/dockerd.log" >&2; die "dockerd did not come up"; }
    /usr/bin/docker import -c 'CMD ["sh"]' "$T/rootfs.tar" "$image" >/dev/null
}
cleanup_docker() {
    local c
    for c in $(timeout 20 /usr/bin/docker ps -aq); do timeout 60 /usr/bin/docker rm -f "$c"; done
    timeout 30 /usr/bin/docker rmi -f "$image"
}

setup_containerd() {
    command -v containerd >/dev/null && command -v ctr >/dev/null && command -v umoci >/dev/null ||
        die "containerd, ctr and umoci are missing: run scripts/deps.sh"
    start_containerd
    export CONTAINERD_ADDRESS=$ctrd_sock CONTAINERD_NAMESPACE=$tag
    private=1
    # An OCI image layout of the rootfs, tagged latest, imported under the
    # name docker.io/library/busybox.
    (
        cd "$T"
        umoci init --layout oci
        umoci new --image oci:latest
        umoci unpack --image oci:latest unpacked
        cp -a "$rootfs/." unpacked/rootfs/
        umoci repack --image oci:latest unpacked
        umoci config --image oci:latest --config.cmd sh \
            --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
        rm -rf unpacked
        tar -C oci -cf oci.tar .
    ) >/dev/null
    ctr images import --base-name docker.io/library/busybox "$T/oci.tar" >/dev/null
    ctr images ls -q | grep -qx "$image" || die "importing $image failed: $(ctr images ls -q)"
    # Each `ctr run` gets a cgroup of its own below ours.
    wrap_run ctr /usr/bin/ctr "-a --address -n --namespace --timeout --connect-timeout" \
        "--cgroup $cgp/ctr-\$(date +%s%N)"
}
cleanup_containerd() {
    local c
    for c in $(timeout 20 /usr/bin/ctr task ls -q); do timeout 30 /usr/bin/ctr task delete --force "$c"; done
    for c in $(timeout 20 /usr/bin/ctr container ls -q); do timeout 20 /usr/bin/ctr container delete "$c"; done
    timeout 20 /usr/bin/ctr images rm "$image"
    timeout 20 /usr/bin/ctr namespaces rm "$tag"
}

case $engine in
    podman | docker | containerd) ;;
    *) die "unknown engine $engine" ;;
esac
eval "engine_cleanup() { cleanup_$engine; }"
"setup_$engine"

# --- the guide's commands ---------------------------------------------------
awk '/^```sh tested$/ {on = 1; next} /^```/ {on = 0} on' "$guide" >"$T/guide.sh.in"
[[ -s $T/guide.sh.in ]] || die "$guide has no \`\`\`sh tested block"
with_wrapper "$T/guide.sh.in" >"$T/guide.sh"
say "running the commands of $guide:"
cat "$T/guide.sh" >&2
(
    cd "$T/work"
    PATH=$T/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/bin \
        timeout 300 bash -euxo pipefail "$T/guide.sh"
) || die "a command of $guide failed"

# The engine must have called husk: create and start, as it calls runc.
grep -qw create "$T/husk.log" && grep -qw start "$T/husk.log" ||
    die "the engine never ran husk create and start; husk was called as: $(cat "$T/husk.log")"
say "husk was called $(wc -l <"$T/husk.log") times: $(awk '{for (i = 1; i <= NF; i++) if ($i !~ /^-/ && $(i-1) !~ /^--(root|log|log-format)$/) {print $i; break}}' "$T/husk.log" | sort | uniq -c | tr -s ' \n' ' ')"
say "ok"

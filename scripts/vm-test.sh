#!/usr/bin/env bash
# vm-test.sh: the pure cgroup-v2 lane. Boots Debian 12's 6.1 kernel under
# QEMU (TCG, never KVM) with cgroup v1 disabled, from an initramfs holding
# busybox, husk, runc and the integration test binaries, runs every test
# binary there as root and passes only if the VM prints `VM-TESTS: PASS`.
#
# The kernel package is fetched with `apt-get download` and unpacked into a
# cache dir: nothing is installed into the host's /boot and the bootloader
# is never touched.
#
# Env: HUSK_VM_THREADS (test threads per binary in the VM, default 2),
#      HUSK_VM_TIMEOUT (seconds for the whole VM run, default 1800),
#      HUSK_VM_BINARY_TIMEOUT (seconds per test binary in the VM, default 600),
#      HUSK_VM_TESTS (space-separated test binary names, default all),
#      HUSK_VM_LOG (where the serial log is kept, default target/vm-test.log),
#      HUSK_VM_EXTRA (a directory copied to /vm/extra in the VM; its run.sh
#        runs after the tests and counts like a test binary: for debugging).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)

threads=${HUSK_VM_THREADS:-2}
per_binary=${HUSK_VM_BINARY_TIMEOUT:-600}
vm_timeout=${HUSK_VM_TIMEOUT:-1800}
log() { echo "vm-test: $*" >&2; }

# --- host packages --------------------------------------------------------
# qemu-system-x86: the VM; cpio: the initramfs; busybox-static: the VM's
# userland and the tests' rootfs; runc: the compatibility tests' reference;
# jq: reads cargo's JSON; binutils: strip; uidmap: the rootless tests'
# newuidmap/newgidmap; criu (and GNU tar): checkpoint/restore.
need=()
for p in qemu-system-x86 cpio busybox-static runc jq binutils gzip uidmap criu tar; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
export DEBIAN_FRONTEND=noninteractive
if ((${#need[@]})); then
    log "installing ${need[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# --- build ----------------------------------------------------------------
log "building husk and the integration tests"
husk=$(cargo build --locked --message-format=json |
    jq -r 'select(.reason == "compiler-artifact" and .target.name == "husk"
                  and .target.kind == ["bin"]) | .executable')
mapfile -t tests < <(cargo test --locked --no-run --message-format=json |
    jq -r 'select(.reason == "compiler-artifact" and .target.kind == ["test"]
                  and .profile.test) | .executable' | sort)
[[ -x $husk ]] || { log "no husk binary from cargo build"; exit 1; }
((${#tests[@]})) || { log "no integration test binaries from cargo test --no-run"; exit 1; }
target_dir=$(cargo metadata --locked --format-version 1 --no-deps | jq -r .target_directory)
# Compiled into the test binaries: env!("CARGO_BIN_EXE_husk") is $husk and
# env!("CARGO_TARGET_TMPDIR") is this; both must exist at the same paths in the VM.
target_tmpdir=$target_dir/tmp
cache=$target_dir/vm-cache
serial_log=${HUSK_VM_LOG:-$target_dir/vm-test.log}
mkdir -p "$cache"

# --- kernel ---------------------------------------------------------------
# linux-image-amd64 is the metapackage; it depends on the current ABI's image.
# Unpacked once per version into the cache; stale package lists (a version
# the mirror no longer has) get one `apt-get update` and a second try.
fetch_kernel() {
    kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    [[ -n $kpkg ]] || return 1
    kver=$(apt-cache policy "$kpkg" | awk '/Candidate:/ {print $2}')
    kdir=$cache/$kpkg-$kver
    [[ -d $kdir/boot ]] && return 0
    log "fetching $kpkg $kver (unpacked into $kdir, not installed)"
    rm -rf "$kdir" "$kdir.tmp" "$cache"/*.deb
    (cd "$cache" && apt-get download -qq -o APT::Sandbox::User=root "$kpkg=$kver") || return 1
    mkdir -p "$kdir.tmp"
    dpkg-deb -x "$cache/${kpkg}"_*.deb "$kdir.tmp" || return 1
    rm -f "$cache"/*.deb
    mv "$kdir.tmp" "$kdir"
}
if ! fetch_kernel; then
    apt-get update -qq
    fetch_kernel || { log "cannot fetch the kernel of linux-image-amd64"; exit 1; }
fi
vmlinuz=$(ls "$kdir"/boot/vmlinuz-*)
kconfig=$(ls "$kdir"/boot/config-*)
# Everything the lane needs must be built in: the initramfs carries no modules.
for opt in BLK_DEV_INITRD RD_GZIP DEVTMPFS TMPFS SERIAL_8250_CONSOLE CGROUPS MEMCG \
    CGROUP_PIDS CGROUP_SCHED CFS_BANDWIDTH CPUSETS BLK_CGROUP CGROUP_FREEZER \
    CGROUP_HUGETLB CGROUP_BPF PID_NS NET_NS USER_NS IPC_NS UTS_NS TIME_NS \
    SECCOMP_FILTER UNIX98_PTYS POSIX_MQUEUE; do
    grep -qx "CONFIG_$opt=y" "$kconfig" || { log "$kconfig: CONFIG_$opt is not built in"; exit 1; }
done

# --- initramfs ------------------------------------------------------------
work=$(mktemp -d /tmp/husk-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,vm/tests}
mknod -m 600 "$root/dev/console" c 5 1

cp /bin/busybox "$root/bin/busybox"
while read -r applet; do
    [[ $applet == bin/busybox ]] && continue
    rel=$(realpath -m --relative-to="$(dirname "/$applet")" /bin/busybox)
    ln -sf "$rel" "$root/$applet"
done < <(/bin/busybox --list-full)

# Binaries without their debug info: a smaller image boots faster under TCG.
add_bin() { # src dest
    mkdir -p "$(dirname "$2")"
    strip --strip-debug -o "$2" "$1"
}
add_bin "$husk" "$root$husk"
add_bin /usr/sbin/runc "$root/usr/sbin/runc"
# CRIU, for checkpoint/restore (dynamic: its libraries follow below), and
# GNU tar and gzip, which it runs to save and restore tmpfs contents
# (busybox's tar lacks its flags); in /usr/bin, ahead of busybox's on PATH.
rm -f "$root/usr/sbin/criu" "$root/usr/bin/tar" "$root/usr/bin/gzip" # applet links, if any
add_bin /usr/sbin/criu "$root/usr/sbin/criu"
add_bin "$(command -v tar)" "$root/usr/bin/tar"
add_bin "$(command -v gzip)" "$root/usr/bin/gzip"
names=()
elfs=("$root$husk" "$root/usr/sbin/runc" "$root/usr/sbin/criu" "$root/usr/bin/tar" "$root/usr/bin/gzip")
# The rootless tests make a user (useradd/userdel, Debian's passwd), map
# its subordinate ids through the setuid newuidmap/newgidmap (uidmap) and
# run husk in a user namespace of its own (util-linux's unshare; busybox
# has none): copied with their modes, their libraries below.
for b in /usr/sbin/useradd /usr/sbin/userdel /usr/bin/newuidmap /usr/bin/newgidmap \
    /usr/bin/unshare; do
    rm -f "$root$b" # busybox's applet link, if any: not to be written through
    cp -a "$b" "$root$b"
    elfs+=("$root$b")
done
cp /etc/login.defs "$root/etc/login.defs"
: >"$root/etc/subuid"
: >"$root/etc/subgid"
mkdir -p "$root/home"
for t in "${tests[@]}"; do
    name=$(basename "$t")
    name=${name%-*} # drop cargo's hash
    if [[ -n ${HUSK_VM_TESTS:-} && " $HUSK_VM_TESTS " != *" $name "* ]]; then
        continue
    fi
    names+=("$name")
    add_bin "$t" "$root/vm/tests/$name"
    elfs+=("$root/vm/tests/$name")
done
# The shared libraries of every dynamic binary (husk and its tests are
# static; runc may not be; criu is not): libc, libseccomp, libprotobuf-c,
# libnl, libnftables, …, the loader.
for f in "${elfs[@]}"; do
    { ldd "$f" 2>/dev/null || true; } | awk '/=> \// {print $3} /^\t\/[^ ]+ \(/ {print $1}'
done | sort -u | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done

# Modules CRIU needs, which Debian builds as modules and a host would load
# on demand: the sock_diag family (it collects sockets by them), nf_tables
# (it checks nftables support at start-up and fails without it; its
# network lock), conntrack's netlink (it dumps a network namespace's
# connections), tun and veth (its kernel probe). The initramfs has no
# modprobe tree: they are insmod'ed in this order.
kmods="crypto/crc32c_generic lib/libcrc32c net/netfilter/nfnetlink net/netfilter/nf_tables
    net/ipv4/netfilter/nf_defrag_ipv4 net/ipv6/netfilter/nf_defrag_ipv6 net/netfilter/nf_conntrack
    net/netfilter/nf_conntrack_netlink
    drivers/net/tun drivers/net/veth net/ipv4/inet_diag net/ipv4/tcp_diag net/ipv4/udp_diag
    net/ipv4/raw_diag net/unix/unix_diag net/netlink/netlink_diag net/packet/af_packet_diag"
mkdir -p "$root/lib/modules/vm"
kmod_names=()
for m in $kmods; do
    cp "$(ls -d "$kdir"/lib/modules/*)/kernel/$m.ko" "$root/lib/modules/vm/"
    kmod_names+=("$(basename "$m")")
done

if [[ -n ${HUSK_VM_EXTRA:-} ]]; then
    cp -a "$HUSK_VM_EXTRA" "$root/vm/extra"
    names+=(extra)
fi

printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' >"$root/etc/group"

# Stage 1: pivot_root (which every container start does) refuses when the
# caller's root is the initramfs itself, so copy it onto a tmpfs and
# switch_root there.
cat >"$root/init" <<'EOF'
#!/bin/busybox sh
mkdir /newroot
mount -t tmpfs -o mode=0755 newroot /newroot
for e in /*; do
    case $e in /newroot | /proc | /sys | /dev | /init) ;; *) cp -a "$e" /newroot/ ;; esac
done
mkdir -p /newroot/proc /newroot/sys /newroot/dev
exec switch_root /newroot /vm/run
EOF

# Stage 2: a host as systemd leaves it on pure v2, then the tests.
cat >"$root/vm/run" <<EOF
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
export HUSK_BUSYBOX=/bin/busybox HUSK_REQUIRE_ROOT=1 HUSK_REQUIRE_RUNC=1 HUSK_REQUIRE_CRIU=1 HUSK_VM=1
threads=$threads
per_binary=$per_binary
husk=$husk
tests="${names[*]}"
manifest_dir=$repo
target_tmpdir=$target_tmpdir
kmods="${kmod_names[*]}"
EOF
cat >>"$root/vm/run" <<'EOF'
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
# / is a tmpfs already: no tmpfs over /tmp or /run, which could hide the
# payload (a target dir under /tmp holds husk and the busybox cache).
chmod 1777 /tmp
mount -t cgroup2 -o nsdelegate,nosuid,nodev,noexec cgroup2 /sys/fs/cgroup
# systemd makes every mount shared.
mount --make-rshared /
hostname husk-vm
# As on any host: loopback up (CRIU's kernel probe connects a TCP socket
# to 127.0.0.1) and the modules it needs loaded.
ip link set lo up
for m in $kmods; do
    insmod /lib/modules/vm/$m.ko || echo "VM: cannot load $m"
done

cg=/sys/fs/cgroup
echo "VM: kernel $(uname -r), $(nproc) cpus, $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)"
echo "VM: cgroup: $(grep cgroup /proc/self/mounts | tr '\n' ';')"
# As systemd: every controller enabled at the root, none lower down; the
# tests run in a service cgroup (which has processes, so nothing may be
# enabled in it: runtimes place relative cgroupsPaths next to it).
for c in $(cat $cg/cgroup.controllers); do echo "+$c" >$cg/cgroup.subtree_control; done
echo "VM: root subtree_control: $(cat $cg/cgroup.subtree_control)"
mkdir -p $cg/init.scope $cg/system.slice/husk-vm-tests.service
echo $$ >$cg/system.slice/husk-vm-tests.service/cgroup.procs
echo "VM: tests run in $(cat /proc/self/cgroup)"

mkdir -p "$manifest_dir" "$target_tmpdir"
overall=PASS
cd "$manifest_dir" || overall=FAIL
for name in $tests; do
    echo "=== VM-TEST $name: running (--test-threads=$threads)"
    start=$(date +%s)
    if [ "$name" = extra ]; then
        HUSK=$husk sh /vm/extra/run.sh >"/tmp/vm-test-$name.log" 2>&1 &
    else
        "/vm/tests/$name" --test-threads=$threads >"/tmp/vm-test-$name.log" 2>&1 &
    fi
    tpid=$!
    # A hung test must not cost the whole lane: show what hangs, then kill it.
    (
        sleep $per_binary
        echo "VM-TEST $name: still running after ${per_binary}s; processes (pid wchan cmdline):"
        for p in /proc/[0-9]*; do
            echo "  ${p#/proc/} $(cat "$p/wchan" 2>/dev/null) $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)"
        done
        kill -9 $tpid
    ) &
    wd=$!
    wait $tpid
    rc=$?
    kill $wd 2>/dev/null
    cat "/tmp/vm-test-$name.log"
    secs=$(($(date +%s) - start))
    summary=$(grep '^test result:' "/tmp/vm-test-$name.log" | tail -n 1)
    if [ $rc -eq 0 ]; then verdict=PASS; else verdict=FAIL; overall=FAIL; fi
    echo "VM-TEST $name: $verdict (exit $rc, ${secs}s) ${summary:-no test result line}"
done
# Cgroups the tests left behind would mean delete does not clean up on v2.
left=$(find $cg -mindepth 1 -type d | grep -v -e '^/sys/fs/cgroup/init.scope$' \
    -e '^/sys/fs/cgroup/system.slice$' -e '^/sys/fs/cgroup/system.slice/husk-vm-tests.service$')
if [ -n "$left" ]; then
    echo "VM-TEST cgroups-left: FAIL: $left"
    overall=FAIL
fi
echo "VM-TESTS: $overall"
sync
poweroff -f
EOF
chmod +x "$root/init" "$root/vm/run"

initrd=$work/initramfs.cpio.gz
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1 >"$initrd")
log "initramfs: $(du -h "$initrd" | cut -f1), tests: ${names[*]}"

# --- boot -----------------------------------------------------------------
log "booting $(basename "$vmlinuz") under TCG (timeout ${vm_timeout}s), serial log: $serial_log"
mkdir -p "$(dirname "$serial_log")"
start=$SECONDS
set +e
timeout "$vm_timeout" qemu-system-x86_64 -accel tcg -m 2048 -smp 2 -nographic -no-reboot \
    -kernel "$vmlinuz" -initrd "$initrd" \
    -append "console=ttyS0 cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 panic=-1 quiet" \
    </dev/null 2>&1 | tee "$serial_log.raw"
qemu_rc=${PIPESTATUS[0]}
set -e
tr -d '\r' <"$serial_log.raw" >"$serial_log"
rm -f "$serial_log.raw"
log "VM ran $((SECONDS - start))s (qemu exit $qemu_rc)"
grep -a '^VM-TEST ' "$serial_log" >&2 || true
if ((qemu_rc == 124)); then
    log "FAIL: the VM did not finish within ${vm_timeout}s"
    exit 1
fi
if grep -aqx 'VM-TESTS: PASS' "$serial_log"; then
    log "PASS"
    exit 0
fi
log "FAIL: no 'VM-TESTS: PASS' in the serial log"
exit 1

#!/usr/bin/env bash
# gen-order.sh: writes scripts/husk.order, the functions husk executes on
# its common paths, which build.rs hands to the linker (lld's
# --symbol-ordering-file) so that they sit together at the start of .text.
#
# Why: the kernel maps a file-backed page fault's whole 64 KiB window
# (fault-around), so code a command touches here and there across a 4 MiB
# .text makes most of .text resident: `husk state` had 2.5 MiB of .text in
# its RSS. Packed, the same functions take a few windows.
#
# How: callgrind (exact: every function that ran, not a sample) over
# --version, create, state, list, ps, events, start, exec, kill, delete, a
# foreground run, a detached run with its shim, and exec, as root on a
# busybox bundle. valgrind knows neither openat2 nor open_tree: the init
# takes husk's fallbacks for old kernels there, so the order file lists
# those too, which costs nothing. Symbols a later change renames only
# drop out of the order (the linker ignores names it does not find);
# rerun this after large changes. Needs root, valgrind and busybox-static.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ $(id -u) == 0 ]] || { echo "gen-order.sh: needs root" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "gen-order.sh: needs valgrind" >&2; exit 1; }
# Unstripped, otherwise as released, without the old order (so that nothing
# of it leaks into the new one). The symbols must be the release build's:
# a Rust symbol's hash comes from its crate's -C metadata, which cargo derives
# from the profile, so a profile change (CARGO_PROFILE_RELEASE_STRIP=false)
# renames every hashed symbol and the linker finds none of them. Hence
# `cargo rustc ... -- -C strip=none`: extra flags for the final link only.
HUSK_NO_ORDER=1 cargo rustc --release --locked --bin husk --target-dir target/order -- -C strip=none >&2
bin=$PWD/target/order/x86_64-unknown-linux-gnu/release/husk
work=$(mktemp -d /tmp/husk-order.XXXXXX)
root=$work/root
cleanup() {
    set +e
    for id in o-shim o-create o-run o-detached o-d; do "$bin" --root "$root" delete --force "$id" >/dev/null 2>&1; done
    rm -rf "$work"
}
trap cleanup EXIT
scripts/mkbundle.sh "$work/b" "$bin" >/dev/null
# No rlimits: valgrind keeps file descriptors of its own and refuses the
# NOFILE limit.
jq --arg r "$work/b/rootfs" '.root.path = $r | .linux.cgroupsPath = "husk-order" | .process.args = ["sleep", "30"] | .process.rlimits = []' \
    "$work/b/config.json" >"$work/config.json"
mv "$work/config.json" "$work/b/config.json"
# The order of the file is the order of the commands below, and within one
# command its processes in the order they started: the runtime process's
# functions before those of the init it clones. `create` comes right after
# the start-up that every command shares, so that what it runs (its peak RSS
# is a target) is packed into the fewest 64 KiB windows; `spec`, which no
# engine calls on a hot path, comes last.
step=0
cg() { # every process, the forked shim and exec's sealed copy included
    # (not the container's own programs)
    step=$((step + 1))
    mkdir -p "$work/cg/$(printf %02d "$step")"
    valgrind --tool=callgrind --demangle=no --trace-children=yes --trace-children-skip='/bin/*,/usr/bin/*' \
        --callgrind-out-file="$work/cg/$(printf %02d "$step")/cg.%p" "$bin" "$@" >/dev/null 2>&1 </dev/null || true
}
# First, apart: what the shim runs from its loop's start, for a container
# that writes to both streams and ends. These functions lead the order: the
# shim lives as long as its container, and its loop, packed, keeps a few
# 64 KiB windows of .text resident instead of pages spread over create's.
jq '.process.args = ["sh", "-c", "echo out; echo err >&2; sleep 1"]' "$work/b/config.json" >"$work/shim.json"
mkdir -p "$work/shim" "$work/cgshim" && mv "$work/shim.json" "$work/shim/config.json"
valgrind --tool=callgrind --demangle=no --toggle-collect='_ZN4husk4shim7monitor3run*' \
    --trace-children=yes --trace-children-skip='/bin/*,/usr/bin/*' \
    --callgrind-out-file="$work/cgshim/cg.%p" "$bin" --root "$root" run -d --bundle "$work/shim" o-shim >/dev/null 2>&1 </dev/null || true
for _ in $(seq 100); do
    # Until the shim (a process of valgrind's, which writes its profile at
    # its end) is gone.
    pgrep -f "callgrind.* run -d --bundle $work/shim o-shim" >/dev/null || break
    sleep 0.2
done
"$bin" --root "$root" delete --force o-shim >/dev/null 2>&1 || true
cg --version
cg --root "$root" create --bundle "$work/b" o-create
cg --root "$root" state o-create
cg --root "$root" list
cg --root "$root" ps o-create
cg --root "$root" events --stats o-create
cg --root "$root" start o-create
cg --root "$root" exec o-create true
cg --root "$root" kill o-create KILL
cg --root "$root" delete --force o-create
jq '.process.args = ["true"]' "$work/b/config.json" >"$work/run.json"
mkdir -p "$work/run" && mv "$work/run.json" "$work/run/config.json"
cg --root "$root" run --bundle "$work/run" o-run
cg --root "$root" run -d --bundle "$work/b" o-detached
cg --root "$root" stop --time 1 o-detached
cg --root "$root" delete --force o-detached
(cd "$work" && cg spec --bundle "$work/spec")
# The init and the shim run in children whose profiles callgrind does not
# always write: add what perf samples of real runs see, if perf is here.
: >"$work/perf.syms"
if command -v perf >/dev/null; then
    jq '.process.args = ["true"]' "$work/b/config.json" >"$work/run/config.json"
    {
        echo "for i in \$(seq 150); do"
        echo "  $bin --root $root run --bundle $work/run o-p"
        echo "  $bin --root $root run -d --bundle $work/b o-d && $bin --root $root exec o-d true"
        echo "  $bin --root $root delete --force o-d"
        echo "done"
    } >"$work/loop"
    if perf record -q -e cpu-clock -F 25000 -o "$work/perf.data" -- bash "$work/loop" >/dev/null 2>&1; then
        perf report -i "$work/perf.data" --no-demangle --dsos "$bin" --sort sym -F sym --stdio 2>/dev/null |
            sed -nE 's/^ *\[\.\] (.+[^ ]) *$/\1/p' >"$work/perf.syms"
    fi
fi
# Names in order of first appearance; callgrind compresses a repeated name
# to "(N)", which the first mention already gave.
{
    for f in "$work"/cgshim/cg.*; do
        sed -nE 's/^c?fn=\([0-9]+\) (.+)$/\1/p' "$f"
    done
    for d in "$work"/cg/*; do
        # cg.PID: by pid as a number, the order the processes started in
        for f in $(cd "$d" && ls | sort -t. -k2 -n); do
            sed -nE 's/^c?fn=\([0-9]+\) (.+)$/\1/p' "$d/$f"
        done
    done
    cat "$work/perf.syms"
} | grep -v '^0x' >"$work/names"
# valgrind's CPU has AVX2 but not AVX-512, so glibc's string functions ran
# as their _avx2/_avx variants there; on a CPU with AVX-512 the same calls
# run the _evex or _avx512 ones. Each variant's siblings follow it (those
# the binary has), or they sit far back in .text and the shim, whose every
# memcpy is one, keeps a 64 KiB window of them resident.
nm "$bin" | awk '{print $NF}' | sort -u >"$work/nm"
awk 'NR == FNR {have[$0] = 1; next}
    {
        print
        if ($0 ~ /^__[a-z]+_avx2?(_|$)/)
            for (r = 1; r <= 2; r++) {
                v = $0
                sub(/_avx2?/, r == 1 ? "_evex" : "_avx512", v)
                if (v in have) print v
            }
    }' "$work/nm" "$work/names" | awk '!seen[$0]++' >scripts/husk.order
echo "gen-order.sh: $(wc -l <scripts/husk.order) functions in scripts/husk.order" >&2

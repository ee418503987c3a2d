#!/usr/bin/env bash
# bench-shim.sh: what a shim costs. Starts N (50) detached busybox
# containers with the release husk and reports each shim's memory from
# /proc/<pid>/smaps_rollup (RSS, PSS, private dirty; median and total),
# then the latency the shim adds to `create` (hyperfine medians of
# create with --shim never and --shim always). A benchmark, not a test.
# Needs root, hyperfine, jq.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N=${N:-50}
RUNS=${RUNS:-100}
cargo build --release --locked >&2
husk=$PWD/target/x86_64-unknown-linux-gnu/release/husk
# Freshly written pages of the binary count as dirty until written back.
sync
work=$(mktemp -d /tmp/husk-bench-shim.XXXXXX)
# The state root on tmpfs, as husk's default /run/husk is.
root=$(mktemp -d /run/husk-bench-shim.XXXXXX)
tag=bshim-$$
cleanup() {
    for id in $("$husk" --root "$root" list -q 2>/dev/null); do "$husk" --root "$root" delete -f "$id" >/dev/null 2>&1 || true; done
    rm -rf "$work" "$root"
}
trap cleanup EXIT
scripts/mkbundle.sh "$work/bundle" "$husk" >/dev/null
jq '.process.args = ["sleep", "600"] | .root.readonly = false' "$work/bundle/config.json" >"$work/c" && mv "$work/c" "$work/bundle/config.json"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() { awk -v k="$2:" '$1==k {print $2}' "/proc/$1/smaps_rollup"; }

for i in $(seq -w 1 "$N"); do
    jq --arg cg "$tag-$i" '.linux.cgroupsPath = $cg' "$work/bundle/config.json" >"$work/bundle/config.$i.json"
    mkdir -p "$work/b$i" && cp "$work/bundle/config.$i.json" "$work/b$i/config.json" && ln -s "$work/bundle/rootfs" "$work/b$i/rootfs"
    "$husk" --root "$root" run -d --bundle "$work/b$i" "$tag-$i"
done
sleep 1
pids=$(pgrep -f "^husk __shim $tag-") || true
count=$(echo "$pids" | grep -c . || true)
rss=() pss=() priv=()
for p in $pids; do rss+=("$(field "$p" Rss)"); pss+=("$(field "$p" Pss)"); priv+=("$(field "$p" Private_Dirty)"); done
sum() { local s=0; for v in "$@"; do s=$((s + v)); done; echo "$s"; }
echo "## shim memory ($count shims for $N containers; KiB)"
echo
echo "| | median | total |"
echo "|---|---|---|"
echo "| RSS | $(printf '%s\n' "${rss[@]}" | median) | $(sum "${rss[@]}") |"
echo "| PSS | $(printf '%s\n' "${pss[@]}" | median) | $(sum "${pss[@]}") |"
echo "| private dirty | $(printf '%s\n' "${priv[@]}" | median) | $(sum "${priv[@]}") |"
for id in $("$husk" --root "$root" list -q); do "$husk" --root "$root" delete -f "$id"; done

echo
echo "## create latency with and without a shim (hyperfine, $RUNS runs, medians)"
echo
first=$(seq -w 1 "$N" | head -1)
b=$work/b$first
for mode in never always; do
    hyperfine -N --style none --warmup 3 --runs "$RUNS" --export-json "$work/$mode.json" \
        --prepare "$husk --root $root delete -f $tag-$first" \
        "$husk --root $root --shim $mode create --bundle $b $tag-$first" >/dev/null
    echo "- --shim $mode: $(jq -r '.results[0].median * 1000 | . * 1000 | round / 1000' "$work/$mode.json") ms"
done
"$husk" --root "$root" delete -f "$tag-$first" >/dev/null 2>&1 || true
never=$(jq -r '.results[0].median' "$work/never.json")
always=$(jq -r '.results[0].median' "$work/always.json")
echo "- added by the shim: $(echo "($always - $never) * 1000" | bc -l | xargs printf '%.3f') ms"

#!/usr/bin/env bash
# The one-command demo on a fresh Debian 12 machine (as root): installs
# what is needed, builds husk, makes a busybox bundle, and walks a
# container through its lifecycle with visible output.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/deps.sh
cargo build --release --locked
husk=$PWD/target/x86_64-unknown-linux-gnu/release/husk
work=$(mktemp -d /tmp/husk-demo.XXXXXX)
root=$work/state
id=demo-$$
cleanup() { "$husk" --root "$root" delete --force "$id" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
scripts/mkbundle.sh "$work/bundle" "$husk"
cfg=$work/bundle/config.json
# edit JQ: rewrite config.json with a jq filter.
edit() { jq "$1" "$cfg" >"$cfg.new" && mv "$cfg.new" "$cfg"; }
# A relative cgroupsPath nests the container under this shell's own cgroup.
edit ".linux.cgroupsPath = \"$id\""

say "husk --version"
"$husk" --version
say "husk run --bundle BUNDLE $id    # sh -c 'echo hello from \$(hostname), pid \$\$; exit 7'"
edit '.process.args = ["sh", "-c", "echo hello from $(hostname), pid $$; exit 7"]'
set +e; "$husk" --root "$root" run --bundle "$work/bundle" "$id"; rc=$?; set -e
echo "exit code: $rc"

edit '.process.args = ["sleep", "30"]'
say "husk create --bundle BUNDLE --pid-file PIDFILE $id"
"$husk" --root "$root" create --bundle "$work/bundle" --pid-file "$work/pid" "$id"
echo "pid file: $(cat "$work/pid")"
say "husk state $id"
"$husk" --root "$root" state "$id"
say "husk start $id; husk list"
"$husk" --root "$root" start "$id"
"$husk" --root "$root" list
say "husk ps $id"
"$husk" --root "$root" ps "$id"
say "husk kill $id KILL; husk state $id"
"$husk" --root "$root" kill "$id" KILL
sleep 0.2
"$husk" --root "$root" state "$id" | grep -E '"(status|pid)"'
say "husk delete $id"
"$husk" --root "$root" delete "$id"
"$husk" --root "$root" list
echo
echo "demo done: the container ran, stopped and left nothing behind."

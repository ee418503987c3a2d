#!/usr/bin/env bash
# test-packaging.sh: every way docs/install.md installs husk, each into a
# staging directory instead of / (so the machine's /usr/bin and the other
# tests' binaries are never touched), then the installed husk runs a
# container:
#   1. make install (PREFIX, DESTDIR), then make uninstall;
#   2. cargo install --path . (--root);
#   3. the Debian package from cargo-deb: its control fields and contents,
#      then dpkg --root: installed by dpkg itself into an empty root (so no
#      package it would need is there), `husk run` of a busybox bundle from
#      the installed /usr/bin/husk, then dpkg -r removes every file.
# Needs root (the container), cargo-deb, jq and busybox-static
# (scripts/deps.sh installs them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { echo "test-packaging: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

target=x86_64-unknown-linux-gnu
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
deb=target/debian/husk_${version}-1_amd64.deb
mans=$(ls man | wc -l)

tmp=$(mktemp -d /tmp/husk-packaging.XXXXXX)
id=husk-packaging-$$
cleanup() {
    local rc=$?
    set +e
    [[ -x $tmp/deb/usr/bin/husk ]] && "$tmp/deb/usr/bin/husk" --root "$tmp/state" delete --force "$id" 2>/dev/null
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT

# The release binary all three install.
# install.md: make
make
log "binary: $(stat -c %s "target/$target/release/husk") bytes"

# A container from a binary: a busybox bundle made with that binary's
# `spec`, run in the foreground with a private --root and its own cgroup.
run_container() { # HUSK DIR
    local husk=$1 dir=$2 out
    HUSK_BUSYBOX=${HUSK_BUSYBOX:-/bin/busybox} scripts/mkbundle.sh "$dir" "$husk"
    jq --arg id "$id" '.process.args = ["sh", "-c", "echo hello from $0"] + [$id]
        | .linux.cgroupsPath = $id' "$dir/config.json" >"$dir/config.json.new"
    mv "$dir/config.json.new" "$dir/config.json"
    out=$("$husk" --root "$tmp/state" run --bundle "$dir" "$id" </dev/null)
    [[ $out == "hello from $id" ]] || fail "$husk run printed '$out'"
    [[ ! -e $tmp/state/$id ]] || fail "$husk run left its state behind"
}

# --- 1. make install -------------------------------------------------------
log "make install PREFIX=/usr/local DESTDIR=$tmp/stage"
# install.md: make install PREFIX=/usr/local
make install PREFIX=/usr/local DESTDIR="$tmp/stage" >/dev/null
p=$tmp/stage/usr/local
for f in bin/husk share/man/man1/husk.1 share/man/man1/husk-run.1 \
    share/bash-completion/completions/husk share/zsh/site-functions/_husk \
    share/fish/vendor_completions.d/husk.fish; do
    [[ -s $p/$f ]] || fail "make install did not install $f"
done
[[ $(ls "$p/share/man/man1" | wc -l) == "$mans" ]] || fail "make install: not every man page of man/"
"$p/bin/husk" --version | grep -q "^husk version $version$" || fail "the installed husk --version"
# The bash completion loads and completes husk's commands.
words=$(bash -c "source '$p/share/bash-completion/completions/husk'
    COMP_WORDS=(husk wa); COMP_CWORD=1; COMP_LINE='husk wa'; COMP_POINT=7
    _husk husk wa husk; echo \${COMPREPLY[*]}")
[[ $words == wait ]] || fail "bash completion of 'husk wa' gave '$words'"
make uninstall PREFIX=/usr/local DESTDIR="$tmp/stage" >/dev/null
left=$(find "$tmp/stage" -type f)
[[ -z $left ]] || fail "make uninstall left: $left"

# --- 2. cargo install --path . ---------------------------------------------
# The same target dir: cargo reuses the release build when nothing changed.
log "cargo install --path . --root $tmp/cargo"
# install.md: cargo install --path . --locked
cargo install --path . --locked --root "$tmp/cargo" --target-dir target --quiet
"$tmp/cargo/bin/husk" --version | grep -q "^husk version $version$" || fail "cargo install's husk --version"

# --- 3. the Debian package -------------------------------------------------
log "make deb"
rm -f "$deb"
# install.md: make deb
make deb >/dev/null
[[ -f $deb ]] || fail "cargo deb made no $deb"
field() { dpkg-deb --field "$deb" "$1"; }
[[ $(field Package) == husk && $(field Architecture) == amd64 && $(field Version) == "$version-1" ]] ||
    fail "control: $(dpkg-deb --field "$deb")"
[[ -z $(field Depends) ]] || fail "a static binary needs no Depends: $(field Depends)"
contents=$(dpkg-deb --contents "$deb" | awk '{print $6}')
for f in ./usr/bin/husk ./usr/share/man/man1/husk.1.gz ./usr/share/man/man1/husk-run.1.gz \
    ./usr/share/bash-completion/completions/husk ./usr/share/zsh/vendor-completions/_husk \
    ./usr/share/fish/vendor_completions.d/husk.fish ./usr/share/doc/husk/copyright \
    ./usr/share/doc/husk/podman.md; do
    grep -qxF "$f" <<<"$contents" || fail "the package has no $f"
done
[[ $(grep -c '^./usr/share/man/man1/.*\.1\.gz$' <<<"$contents") == "$mans" ]] ||
    fail "the package does not have every man page of man/"

# dpkg itself installs it into an empty root: no package it could depend
# on is there, as on the freshest system.
root=$tmp/deb
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
: >"$root/var/lib/dpkg/status"
: >"$root/var/lib/dpkg/available"
log "dpkg --root $root -i $deb"
# install.md: dpkg -i target/debian/husk_0.1.0-1_amd64.deb
dpkg --root="$root" --log=/dev/null -i "$deb" >/dev/null
dpkg --root="$root" -s husk | grep -qx 'Status: install ok installed' || fail "dpkg does not say installed"
"$root/usr/bin/husk" --version | grep -q "^husk version $version$" || fail "the packaged husk --version"
zcat "$root/usr/share/man/man1/husk.1.gz" | grep -q '^\.TH husk 1' || fail "the packaged husk(1)"
log "husk run of a busybox bundle, from the packaged /usr/bin/husk"
run_container "$root/usr/bin/husk" "$tmp/bundle"
# install.md: dpkg -r husk
dpkg --root="$root" --log=/dev/null -r husk >/dev/null
left=$(find "$root" -type f -not -path "$root/var/lib/dpkg/*")
[[ -z $left ]] || fail "dpkg -r left: $left"

log "ok: make install, cargo install and the .deb install and run"

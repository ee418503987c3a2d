#!/usr/bin/env bash
# gen-docs.sh [--check]: writes man/ (husk.1 and one husk-<command>.1 per
# visible command) and completions/ (bash, zsh, fish) from the clap
# definitions in src/cli.rs, through examples/gen-docs.rs. Both are
# committed: run this after changing a command or a help text.
# --check (CI): regenerate into a temp dir and fail if what is committed
# differs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

check=0
case ${1:-} in
    --check) check=1 ;;
    "") ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

tmp=$(mktemp -d /tmp/husk-gen-docs.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cargo run --locked --quiet --example gen-docs -- "$tmp"

if ((check)); then
    stale=0
    for d in man completions; do
        if ! diff -r -u "$d" "$tmp/$d" >"$tmp/$d.diff" 2>&1; then
            stale=1
            cat "$tmp/$d.diff" >&2
        fi
    done
    if ((stale)); then
        echo "gen-docs: man/ or completions/ is stale: the clap definitions in src/cli.rs" \
            "changed. Run scripts/gen-docs.sh and commit the result." >&2
        exit 1
    fi
    echo "gen-docs: man/ and completions/ are up to date" >&2
    exit 0
fi

# Replace, not merge: a page of a removed command must go too.
for d in man completions; do
    rm -rf "$d"
    cp -r "$tmp/$d" "$d"
done
echo "gen-docs: wrote $(ls man | wc -l) man pages and $(ls completions | wc -l) completion files" >&2

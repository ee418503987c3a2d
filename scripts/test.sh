#!/usr/bin/env bash
# Every check husk has, as CI runs it: dependencies, formatting, clippy,
# unit tests, then the integration tests that run real containers (root),
# on this host and in a pure cgroup-v2 VM.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/deps.sh
echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== cargo clippy" >&2
cargo clippy --locked --all-targets -- -D warnings
echo "== man pages and completions are generated from the current clap definitions" >&2
scripts/gen-docs.sh --check
echo "== unit tests" >&2
cargo test --locked --lib --bins
echo "== integration tests (real containers, as root)" >&2
HUSK_REQUIRE_ROOT=1 cargo test --locked --test '*' -- --test-threads="${HUSK_TEST_THREADS:-2}"
echo "== packaging: make install, cargo install and the .deb, each installed and run" >&2
scripts/test-packaging.sh
# The host may have v1 or hybrid cgroups; most hosts run pure v2: the same
# integration tests again in a QEMU VM booted with cgroup v1 disabled.
echo "== integration tests on pure cgroup v2 (QEMU VM)" >&2
scripts/vm-test.sh
echo "== all tests passed" >&2

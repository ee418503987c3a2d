//! Records the git commit for `husk --version` (runc prints `commit: <sha>`),
//! and hands the linker the order of husk's hot functions.
use std::path::Path;
use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=HUSK_COMMIT={commit}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");

    // The functions husk runs on its common paths, packed together at the
    // start of .text (scripts/gen-order.sh says why and makes the list).
    // lld's option: rustc links this target with its own lld.
    println!("cargo:rerun-if-changed=scripts/husk.order");
    println!("cargo:rerun-if-env-changed=HUSK_NO_ORDER");
    let order = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/husk.order");
    let lld_target = std::env::var("TARGET").is_ok_and(|t| t == "x86_64-unknown-linux-gnu");
    if lld_target && order.exists() && std::env::var_os("HUSK_NO_ORDER").is_none() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        // Names a later change renamed simply drop out of the order.
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

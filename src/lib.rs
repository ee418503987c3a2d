//! husk: an OCI container runtime with runc's command-line contract and a
//! daemonless container manager. The library holds everything but argument
//! parsing and printing; see shared/DESIGN.md for the map.
//!
//! The data flow of one invocation: cli → commands → bundle → store (lock)
//! → lifecycle → container (create, start, …) → cgroups + process (clone)
//! → init → store (save).

pub mod bundle;
pub mod cgroups;
pub mod container;
pub mod criu;
pub mod features;
pub mod hooks;
pub mod init;
pub mod lifecycle;
pub mod process;
pub mod shim;
pub mod signal;
pub mod spec;
pub mod store;
pub mod sys;
pub mod terminal;
pub mod timestamp;
pub mod units;
pub mod userns;

/// The name a value has in JSON (its serde rename): how OCI spells an enum
/// variant such as `CAP_KILL` or `RLIMIT_NOFILE`.
pub fn serde_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::from("?"),
    }
}

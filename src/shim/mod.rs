//! The shim: a small detached monitor per detached container (when the
//! caller is not an engine that reaps its children). It is the parent of
//! the container init, so it alone collects its exit status; it records
//! it, applies the restart policy, runs health checks, writes the
//! container's stdout/stderr to rotated log files and appends lifecycle
//! events. See DESIGN.md §4.
//!
//! Runs in: its own process, started by `create`/`run -d`.

pub mod events;
pub mod health;
pub mod logs;
pub mod monitor;
pub mod policy;
pub mod spawn;

/// Is husk run by an engine that reaps its children itself (conmon,
/// containerd-shim)? Those make themselves child subreapers and collect
/// the init's exit status; a shim between them and the init would steal
/// it. Recognised by the environment they pass and by the parent's name.
pub fn engine_caller() -> bool {
    if ["_OCI_SYNCPIPE", "_OCI_STARTPIPE", "TTRPC_ADDRESS"]
        .iter()
        .any(|k| std::env::var_os(k).is_some())
    {
        return true;
    }
    let ppid = nix::unistd::getppid();
    let comm = std::fs::read_to_string(format!("/proc/{ppid}/comm")).unwrap_or_default();
    let comm = comm.trim();
    comm == "conmon" || comm.starts_with("containerd-shim")
}

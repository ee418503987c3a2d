//! The "act" step of each command: what create, start, kill, delete and
//! friends do to a container whose record the store has loaded and locked.
//!
//! Called from: commands/ (one function per verb), the shim.

pub mod checkpoint;
pub mod create;
pub mod delete;
pub mod exec;
pub mod kill;
pub mod ps;
pub mod restore;
pub mod start;
pub mod state;
pub mod stats;
pub mod stop;
pub mod update;
pub mod wait;

use std::path::PathBuf;

use crate::bundle::BundleError;
use crate::cgroups::CgroupError;
use crate::criu::CriuError;
use crate::hooks::HookError;
use crate::lifecycle::{self, Phase, Refusal};
use crate::process::fifo::FifoError;
use crate::process::sync::SyncError;
use crate::store::{Record, StoreError};
use crate::terminal::TerminalError;

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Hook(#[from] HookError),
    #[error(transparent)]
    Fifo(#[from] FifoError),
    #[error(transparent)]
    Terminal(#[from] TerminalError),
    #[error(transparent)]
    UserNs(#[from] crate::userns::UserNsError),
    #[error(transparent)]
    Criu(#[from] CriuError),
    #[error("{0}")]
    Init(String),
    #[error(transparent)]
    Sync(SyncError),
    #[error("{0}")]
    Usage(String),
    #[error("failed to {what}")]
    Step {
        what: String,
        #[source]
        source: nix::Error,
    },
    #[error("cannot connect to the seccomp agent at {path:?}")]
    SeccompAgent {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to write pid file {path:?}")]
    PidFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{error}; cleaning up also failed: {cleanup}")]
    Cleanup {
        #[source]
        error: Box<ContainerError>,
        cleanup: String,
    },
}

impl From<SyncError> for ContainerError {
    /// An error reported by the init is the container's error, not a
    /// socket problem: keep its text as the message.
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Remote(text) => ContainerError::Init(text),
            e => ContainerError::Sync(e),
        }
    }
}

pub type Result<T, E = ContainerError> = std::result::Result<T, E>;

/// Reads what a first child (rootless create and exec: it switches
/// namespaces for good and clones the real process) reports before it
/// exits, reaps it, and returns the report: "E <error>" or the pid line.
pub(crate) fn first_child_report(
    report: std::os::fd::OwnedFd,
    first: nix::unistd::Pid,
    what: &str,
) -> Result<String> {
    let mut text = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match nix::unistd::read(&report, &mut buf) {
            Ok(0) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(step(format!("read the {what} report"))(e)),
        }
    }
    let _ = crate::sys::linux::wait_raw(first, 0);
    let text = String::from_utf8_lossy(&text).trim().to_string();
    match text.strip_prefix("E ") {
        Some(e) => Err(ContainerError::Init(e.to_string())),
        None => Ok(text),
    }
}

pub(crate) fn step(what: impl Into<String>) -> impl FnOnce(nix::Error) -> ContainerError {
    let what = what.into();
    move |source| ContainerError::Step { what, source }
}

/// The phase to act on: the stored one, corrected by the kernel's view of
/// the init process (pid + start time, zombies count as gone).
pub fn observe(rec: &Record) -> Phase {
    if !rec.phase.has_process() && rec.phase != Phase::Creating {
        return rec.phase;
    }
    lifecycle::refresh(rec.phase, crate::process::liveness(rec.pid, rec.pid_start))
}

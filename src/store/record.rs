//! The record kept in `<root>/<id>/state.json`: everything a later, separate
//! husk invocation needs to act on the container. It is husk's own format;
//! `state` renders the OCI state document from it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::lifecycle::Phase;
use crate::shim::policy::Policy;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub id: String,
    pub phase: Phase,
    /// Host pid of the container init; 0 before it exists.
    #[serde(default)]
    pub pid: i32,
    /// Start time of the init (field 22 of /proc/<pid>/stat, in clock
    /// ticks since boot), so a recycled pid is never mistaken for it.
    #[serde(default)]
    pub pid_start: u64,
    pub bundle: PathBuf,
    #[serde(default)]
    pub rootfs: PathBuf,
    /// The bundle's ociVersion.
    #[serde(default)]
    pub oci_version: String,
    /// RFC 3339, UTC.
    pub created: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub cgroup: CgroupRecord,
    /// The user who created the container (runc's `owner`).
    #[serde(default)]
    pub owner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<ExitRecord>,
    #[serde(default)]
    pub restart_count: u32,
    /// The init has its own pid namespace (kill --all then kills only the init's tree).
    #[serde(default)]
    pub own_pid_ns: bool,
    /// The resources in force after `update` (OCI LinuxResources JSON);
    /// None while they are still those of config.json.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<serde_json::Value>,
    /// The container's monitor, when it has one (not under an engine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shim: Option<ProcessRef>,
    /// The shim keeps the container's stdout and stderr in `logs/`, made
    /// when the container first writes (`husk logs` shows nothing before).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub logs: bool,
    /// What the shim does: restart, stop, health, logs.
    #[serde(default)]
    pub policy: Policy,
    /// A stop the user asked for (`stop`, `restart`): the shim reads it to
    /// tell a requested end from a crash, and never restarts after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<StopRequest>,
    /// The shim's health state (status, failing streak, last probes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<serde_json::Value>,
}

/// A process known by pid and start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRef {
    pub pid: i32,
    pub start: u64,
}

impl ProcessRef {
    pub fn of(pid: i32) -> Option<ProcessRef> {
        crate::process::stat(nix::unistd::Pid::from_raw(pid)).map(|s| ProcessRef {
            pid,
            start: s.start,
        })
    }

    pub fn alive(&self) -> bool {
        crate::process::liveness(self.pid, self.start) == crate::lifecycle::Liveness::Alive
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopRequest {
    pub at: String,
    pub signal: i32,
    /// The stop signal was not enough: SIGKILL followed.
    #[serde(default)]
    pub escalated: bool,
}

/// Where the container's cgroups are and which directories husk made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CgroupRecord {
    /// "v1" or "v2"; empty when cgroups were skipped.
    #[serde(default)]
    pub driver: String,
    /// Controller (v1: "memory", "cpu,cpuacct", "name=systemd", …; v2: "")
    /// → absolute directory of the container's cgroup.
    #[serde(default)]
    pub paths: BTreeMap<String, PathBuf>,
    /// Directories husk created, deepest last: delete removes them in reverse.
    #[serde(default)]
    pub created: Vec<PathBuf>,
    /// OOM kills already counted in the cgroup when the container was
    /// created (non-zero only in a cgroup husk did not make).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub oom_base: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// How the container's process ended, when somebody saw it end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExitRecord {
    /// Exit status, or 128+signal when killed; None when nobody reaped it.
    pub code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// `exited`, `signaled`, `oom-killed`, `stop-timeout`, `unknown`.
    pub reason: String,
    pub finished: String,
}

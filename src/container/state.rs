//! The OCI state document (`husk state`, hook stdin) and husk's extra
//! fields beside it. Engines parse `status` and `pid`; runc also prints
//! `rootfs`, `created` and `owner`, in this order, so husk does too.

use std::collections::BTreeMap;
use std::path::Path;

use oci_spec::runtime::Spec;
use serde::Serialize;

use crate::lifecycle::Phase;
use crate::store::Record;

/// `husk state ID`: the OCI fields and runc's extras, then husk's own.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Document<'a> {
    pub oci_version: &'a str,
    pub id: &'a str,
    pub pid: i32,
    pub status: &'static str,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    pub owner: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: &'a BTreeMap<String, String>,
    pub phase: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<&'a str>,
    pub restart_count: u32,
    /// The shim: "running", "gone" (killed: exits go unrecorded), or "none" (an engine reaps).
    pub monitor: &'static str,
    /// starting, healthy, unhealthy; absent without a health check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<&'a str>,
}

/// The shim's state, as `state` and `list` show it.
pub fn monitor(rec: &Record) -> &'static str {
    match rec.shim {
        Some(s) if s.alive() => "running",
        Some(_) if rec.phase.is_finished() => "exited",
        Some(_) => "gone",
        None => "none",
    }
}

/// The health status the shim recorded.
pub fn health(rec: &Record) -> Option<&str> {
    rec.health.as_ref()?.get("status")?.as_str()
}

/// How long the current run has lasted, for a running container ("1h2m3s").
pub fn uptime(rec: &Record, phase: Phase) -> Option<String> {
    if !matches!(phase, Phase::Running | Phase::Paused | Phase::Stopping) {
        return None;
    }
    let started = crate::timestamp::parse(rec.started.as_deref()?)?;
    let s = std::time::SystemTime::now()
        .duration_since(started)
        .ok()?
        .as_secs();
    Some(match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{}s", s / 60, s % 60),
        _ => format!("{}h{}m", s / 3600, s / 60 % 60),
    })
}

pub fn document(rec: &Record, phase: Phase) -> Document<'_> {
    Document {
        oci_version: &rec.oci_version,
        id: &rec.id,
        // Like runc, a stopped container reports pid 0.
        pid: if phase.has_process() { rec.pid } else { 0 },
        status: phase.oci_status().as_str(),
        bundle: &rec.bundle,
        rootfs: &rec.rootfs,
        created: &rec.created,
        owner: &rec.owner,
        annotations: &rec.annotations,
        phase: phase.as_str(),
        started: rec.started.as_deref(),
        exit_code: rec.exit.as_ref().and_then(|e| e.code),
        signal: rec.exit.as_ref().and_then(|e| e.signal),
        reason: rec.exit.as_ref().map(|e| e.reason.as_str()),
        finished: rec.exit.as_ref().map(|e| e.finished.as_str()),
        restart_count: rec.restart_count,
        monitor: monitor(rec),
        health: health(rec),
    }
}

/// The state JSON a hook reads on stdin.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HookState<'a> {
    oci_version: &'a str,
    id: &'a str,
    status: &'a str,
    pid: i32,
    bundle: &'a Path,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<&'a BTreeMap<String, String>>,
}

pub fn hook_state(spec: &Spec, id: &str, status: &str, pid: i32, bundle: &Path) -> String {
    let annotations: Option<BTreeMap<String, String>> = spec
        .annotations()
        .as_ref()
        .filter(|a| !a.is_empty())
        .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
    let s = HookState {
        oci_version: spec.version(),
        id,
        status,
        pid,
        bundle,
        annotations: annotations.as_ref(),
    };
    serde_json::to_string(&s).expect("a state of strings and numbers serialises")
}

/// The same from a record (poststart, poststop: later invocations).
pub fn hook_state_of(rec: &Record, status: &str) -> String {
    let s = HookState {
        oci_version: &rec.oci_version,
        id: &rec.id,
        status,
        pid: rec.pid,
        bundle: &rec.bundle,
        annotations: (!rec.annotations.is_empty()).then_some(&rec.annotations),
    };
    serde_json::to_string(&s).expect("a state of strings and numbers serialises")
}

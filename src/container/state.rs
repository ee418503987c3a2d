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

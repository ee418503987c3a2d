//! `husk health ID`: one probe of the container's health check, now.
//! Prints the result as JSON (and the recorded status); exits 0 when the
//! probe passed, 1 when it failed.

use anyhow::{anyhow, Result};
use serde_json::json;

use crate::cli::{Global, IdArg};

pub fn run(a: IdArg, g: &Global) -> Result<i32> {
    let store = super::existing_store(g)?;
    let rec = store.load(&a.id)?;
    let health = rec.policy.health.as_ref().ok_or_else(|| {
        anyhow!(
            "container {:?} has no health check (see --health-cmd and friends)",
            a.id
        )
    })?;
    if !husk::container::observe(&rec).has_process() {
        return Err(anyhow!("container not running"));
    }
    let husk = std::env::current_exe()?;
    let root = husk::bundle::absolute(store.root()).unwrap_or_else(|| store.root().to_path_buf());
    let result =
        husk::shim::health::probe(&husk, &root, &a.id, rec.pid, &health.probe, health.timeout);
    let status = husk::container::state::health(&rec).unwrap_or("none");
    super::out!("{}", json!({"id": a.id, "status": status, "probe": result}))?;
    Ok(if result.ok { 0 } else { 1 })
}

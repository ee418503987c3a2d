//! `husk list`: every container under the root.

use anyhow::Result;
use husk::store::StoreError;

use crate::cli::{Format, Global, ListArgs};

pub fn run(a: ListArgs, g: &Global) -> Result<i32> {
    let store = super::existing_store(g)?;
    let mut docs = Vec::new();
    for id in store.ids()? {
        // A container deleted while we list is simply not listed.
        let rec = match store.load(&id) {
            Ok(r) => r,
            Err(StoreError::NotFound { .. }) => continue,
            Err(e) => {
                log::warn!("skipping {id}: {e:#}");
                continue;
            }
        };
        let phase = husk::container::observe(&rec);
        docs.push((rec, phase));
    }
    if a.quiet {
        let ids: Vec<&str> = docs.iter().map(|(r, _)| r.id.as_str()).collect();
        if !ids.is_empty() {
            super::out!("{}", ids.join("\n"))?;
        }
        return Ok(0);
    }
    match a.format {
        Format::Json => {
            let v: Vec<_> = docs
                .iter()
                .map(|(r, p)| husk::container::state::document(r, *p))
                .collect();
            super::out!("{}", serde_json::to_string(&v)?)?;
        }
        Format::Table => {
            use husk::container::state;
            let rows: Vec<Vec<String>> = docs
                .iter()
                .map(|(r, p)| {
                    let pid = if p.has_process() { r.pid } else { 0 };
                    let exit = r.exit.as_ref().map_or("-".to_string(), |e| match e.code {
                        Some(c) => format!("{c} ({})", e.reason),
                        None => format!("? ({})", e.reason),
                    });
                    vec![
                        r.id.clone(),
                        pid.to_string(),
                        p.oci_status().as_str().to_string(),
                        p.as_str().to_string(),
                        exit,
                        state::health(r).unwrap_or("-").to_string(),
                        r.restart_count.to_string(),
                        state::uptime(r, *p).unwrap_or_else(|| "-".into()),
                        r.bundle.display().to_string(),
                        r.created.clone(),
                    ]
                })
                .collect();
            super::print_table(
                &[
                    "ID", "PID", "STATUS", "PHASE", "EXIT", "HEALTH", "RESTARTS", "UPTIME",
                    "BUNDLE", "CREATED",
                ],
                &rows,
            )?;
        }
    }
    Ok(0)
}

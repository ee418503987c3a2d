//! `husk list`: every container under the root.

use anyhow::Result;
use husk::store::StoreError;

use crate::cli::{Format, Global, ListArgs};

pub fn run(a: ListArgs, g: &Global) -> Result<i32> {
    let store = super::existing_store(g);
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
        for (rec, _) in &docs {
            println!("{}", rec.id);
        }
        return Ok(0);
    }
    match a.format {
        Format::Json => {
            let v: Vec<_> = docs
                .iter()
                .map(|(r, p)| husk::container::state::document(r, *p))
                .collect();
            println!("{}", serde_json::to_string(&v)?);
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = docs
                .iter()
                .map(|(r, p)| {
                    let pid = if p.has_process() { r.pid } else { 0 };
                    vec![
                        r.id.clone(),
                        pid.to_string(),
                        p.oci_status().as_str().to_string(),
                        r.bundle.display().to_string(),
                        r.created.clone(),
                        r.owner.clone(),
                    ]
                })
                .collect();
            super::print_table(
                &["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
                &rows,
            );
        }
    }
    Ok(0)
}

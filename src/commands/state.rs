//! `husk state`: the OCI state document, pretty-printed like runc's.

use anyhow::Result;

use crate::cli::{Global, IdArg};

pub fn run(a: IdArg, g: &Global) -> Result<i32> {
    let rec = super::existing_store(g)?.load(&a.id)?;
    let phase = husk::container::observe(&rec);
    super::out!(
        "{}",
        serde_json::to_string_pretty(&husk::container::state::document(&rec, phase))?
    )?;
    Ok(0)
}

//! `husk start`: release a created container's process.

use anyhow::{Context, Result};

use crate::cli::{Global, IdArg};

pub fn run(a: IdArg, g: &Global) -> Result<i32> {
    let mut ct = super::existing_store(g)?.lock(&a.id)?;
    husk::container::start::start(&mut ct)
        .with_context(|| format!("failed to start container {:?}", a.id))?;
    Ok(0)
}

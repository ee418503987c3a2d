//! `husk kill ID [SIGNAL]`.

use anyhow::Result;

use crate::cli::{Global, KillArgs};

pub fn run(a: KillArgs, g: &Global) -> Result<i32> {
    let n = husk::signal::parse(&a.signal)?;
    let sig = husk::signal::to_signal(n)?;
    let ct = super::existing_store(g)?.lock(&a.id)?;
    husk::container::kill::kill(&ct, sig, a.all)?;
    Ok(0)
}

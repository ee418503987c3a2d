//! `husk pause` / `husk resume`: freeze or thaw the container's cgroup.

use anyhow::{anyhow, Result};
use husk::lifecycle::{self, Command};

use crate::cli::{Global, IdArg};

fn freeze(a: &IdArg, g: &Global, cmd: Command, frozen: bool) -> Result<i32> {
    let mut ct = super::existing_store(g)?.lock(&a.id)?;
    let phase = husk::container::observe(&ct.record);
    let next = lifecycle::check(&ct.id, phase, cmd)?.unwrap_or(phase);
    let cg = husk::cgroups::from_record(&ct.record.cgroup)
        .ok_or_else(|| anyhow!("container {:?} has no cgroup to freeze", a.id))?;
    cg.freeze(frozen)?;
    ct.record.phase = next;
    ct.save()?;
    let kind = if frozen { "paused" } else { "resumed" };
    husk::shim::events::append(&ct.dir, &husk::shim::events::Event::new(kind, &ct.id));
    Ok(0)
}

pub fn pause(a: IdArg, g: &Global) -> Result<i32> {
    freeze(&a, g, Command::Pause, true)
}

pub fn resume(a: IdArg, g: &Global) -> Result<i32> {
    freeze(&a, g, Command::Resume, false)
}

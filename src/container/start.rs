//! `start`: release the init from exec.fifo, record the container as
//! running, run the poststart hooks.

use nix::unistd::Pid;

use super::{observe, Result};
use crate::hooks;
use crate::lifecycle::{self, Command, Phase};
use crate::process::fifo::{self, FifoError};
use crate::store::{Locked, EXEC_FIFO};

pub fn start(ct: &mut Locked) -> Result<()> {
    start_with(ct, None)
}

/// `start`, reading the init's byte from `fifo` when create opened it
/// (`CreateOptions::start_at_once`).
pub fn start_with(ct: &mut Locked, fifo: Option<std::os::fd::OwnedFd>) -> Result<()> {
    // Released by create, the init may have exec'd and even exited by now:
    // its recorded phase is the one to check.
    let phase = match fifo {
        Some(_) => ct.record.phase,
        None => observe(&ct.record),
    };
    lifecycle::check(&ct.id, phase, Command::Start)?;
    let pidfd = fifo::pidfd(Pid::from_raw(ct.record.pid));
    match fifo::release(&ct.path(EXEC_FIFO), pidfd.as_ref(), fifo) {
        Ok(()) => {}
        Err(FifoError::InitGone) => {
            ct.record.phase = Phase::Stopped;
            ct.save()?;
            return Err(FifoError::InitGone.into());
        }
        Err(e) => return Err(e.into()),
    }
    ct.record.phase = Phase::Running;
    ct.record.started = Some(crate::timestamp::now());
    ct.save()?;
    crate::shim::events::append(
        &ct.dir,
        &crate::shim::events::Event::new("started", &ct.id).with("pid", ct.record.pid),
    );
    if let Some(spec) = stored_spec_with(ct, "poststart") {
        let state = super::state::hook_state_of(&ct.record, "running");
        hooks::run_warn(hooks::Kind::Poststart, spec.hooks().as_ref(), &state);
    }
    Ok(())
}

/// The config copy from create time, parsed only when it mentions `key`
/// (most containers have no hooks: no need to parse the whole config).
pub fn stored_spec_with(ct: &Locked, key: &str) -> Option<oci_spec::runtime::Spec> {
    let bytes = std::fs::read(ct.path(crate::store::CONFIG_FILE)).ok()?;
    let needle = format!("\"{key}\"");
    if !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
        return None;
    }
    match crate::bundle::parse(&bytes) {
        Ok(s) => Some(s),
        Err(e) => {
            log::warn!("container {}: stored config.json is unreadable: {e}", ct.id);
            None
        }
    }
}

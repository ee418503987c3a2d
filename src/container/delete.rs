//! `delete`: remove a stopped container (or, with --force, kill and remove
//! any): its processes, its cgroup directories, its state directory, then
//! the poststop hooks.

use std::time::Duration;

use nix::sys::signal::Signal;

use super::{observe, ContainerError, Result};
use crate::cgroups;
use crate::hooks;
use crate::lifecycle::{self, Command};
use crate::store::Locked;

pub fn delete(ct: Locked, force: bool) -> Result<()> {
    let phase = observe(&ct.record);
    lifecycle::check(
        &ct.id,
        phase,
        if force {
            Command::DeleteForce
        } else {
            Command::Delete
        },
    )?;
    let cg = cgroups::from_record(&ct.record.cgroup);
    // Whatever is left in the cgroup goes too (exec'd processes, or
    // everything when the container shares the host's pid namespace). An
    // init that is gone with an empty cgroup (the usual case: a private pid
    // namespace dies with its init) needs no kill, thaw or wait.
    let check = phase.has_process() || force;
    let alive = check
        && crate::process::liveness(ct.record.pid, ct.record.pid_start)
            == lifecycle::Liveness::Alive;
    let busy = alive
        || check
            && cg
                .as_ref()
                .is_some_and(|c| c.pids().is_ok_and(|p| !p.is_empty()));
    if busy {
        if alive {
            super::kill::signal_init(&ct, Signal::SIGKILL).ok();
        }
        if cg.is_some() {
            super::kill::signal_all(&ct, Signal::SIGKILL).ok();
        }
        if let Some(cg) = &cg {
            if cg.frozen() {
                let _ = cg.freeze(false);
            }
        }
        if !super::kill::wait_gone(ct.record.pid, ct.record.pid_start, Duration::from_secs(10)) {
            return Err(ContainerError::Usage(format!(
                "container {:?}: pid {} did not exit after SIGKILL",
                ct.id, ct.record.pid
            )));
        }
    }
    if let Some(cg) = &cg {
        if busy {
            wait_cgroup_empty(cg.as_ref());
        }
        cg.remove()?;
    }
    let spec = super::start::stored_spec_with(&ct, "poststop");
    let state = super::state::hook_state_of(&ct.record, "stopped");
    let shim = ct.record.shim;
    crate::shim::events::append(&ct.dir, &crate::shim::events::Event::new("deleted", &ct.id));
    // A restore killed half-way leaves the rootfs bound in the state
    // directory: removing the directory must not descend into it.
    crate::criu::release_root(&ct.dir)?;
    ct.remove()?;
    // The shim has nothing left to watch; it would find out, but must not linger.
    if let Some(s) = shim.filter(|s| s.alive()) {
        if let Ok(fd) = crate::sys::linux::pidfd_open(nix::unistd::Pid::from_raw(s.pid)) {
            let _ = crate::sys::linux::pidfd_send_signal(
                std::os::fd::AsFd::as_fd(&fd),
                Signal::SIGKILL,
            );
            super::kill::wait_gone(s.pid, s.start, Duration::from_secs(2));
        }
    }
    if let Some(spec) = spec {
        hooks::run_warn(hooks::Kind::Poststop, spec.hooks().as_ref(), &state);
    }
    Ok(())
}

/// Processes killed a moment ago may still be listed; give them up to a second.
fn wait_cgroup_empty(cg: &dyn cgroups::Driver) {
    let mut delay = Duration::from_micros(200);
    for _ in 0..20 {
        match cg.pids() {
            Ok(p) if !p.is_empty() => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(100));
            }
            _ => return,
        }
    }
}

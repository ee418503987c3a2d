//! `stop`: the container's stop signal, a wait of up to its stop timeout,
//! then SIGKILL. The stop is recorded first, so the shim (which reaps the
//! init) knows the end was asked for: it records the container as
//! stopped, reason `stop-timeout` when SIGKILL was needed, and never
//! restarts it. Without a shim, stop records the end itself.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::{observe, Result};
use crate::cgroups;
use crate::lifecycle::{self, Command, Phase, Refusal};
use crate::shim::events::{self, Event};
use crate::store::{ExitRecord, StopRequest, Store};
use crate::sys::linux;

/// How a stop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It was not running in the first place.
    Already,
    /// The stop signal did it.
    BySignal,
    /// SIGKILL after the timeout.
    Killed,
}

pub fn stop(store: &Store, id: &str, timeout: Option<Duration>) -> Result<Stopped> {
    let mut ct = store.lock(id)?;
    let phase = observe(&ct.record);
    let request = StopRequest {
        at: crate::timestamp::now(),
        signal: ct.record.policy.stop_signal,
        escalated: false,
    };
    match lifecycle::check(id, phase, Command::Stop) {
        Err(Refusal::NotRunning) if phase.is_finished() => {
            // The init has ended but its shim has not recorded it yet: the
            // stop goes in the record all the same, or the shim would
            // restart the container after `stop` returned.
            let shim = ct.record.shim;
            if !ct.record.phase.is_finished() && shim.is_some_and(|s| s.alive()) {
                ct.record.stop = Some(request);
                ct.save()?;
                drop(ct);
                wait_recorded(store, id);
            }
            return Ok(Stopped::Already);
        }
        Err(e) => return Err(e.into()),
        Ok(_) => {}
    }
    let timeout = timeout.unwrap_or(ct.record.policy.stop_timeout);
    events::append(
        &ct.dir,
        &Event::new("stopping", id)
            .with("signal", request.signal)
            .with("timeoutMs", timeout.as_millis() as u64),
    );
    // A restart the shim has pending is simply cancelled.
    if phase == Phase::Restarting {
        ct.record.stop = Some(request);
        ct.record.phase = Phase::Stopped;
        ct.save()?;
        return Ok(Stopped::BySignal);
    }
    ct.record.stop = Some(request.clone());
    ct.record.phase = Phase::Stopping;
    ct.save()?;
    let (pid, start) = (ct.record.pid, ct.record.pid_start);
    let shim = ct.record.shim;
    let cg = cgroups::from_record(&ct.record.cgroup);
    // The lock is not held while waiting: the shim needs it to record the exit.
    drop(ct);

    signal(pid, start, request.signal);
    if phase == Phase::Paused {
        // A frozen process handles no signal: thaw it.
        if let Some(cg) = &cg {
            let _ = cg.freeze(false);
        }
    }
    let mut how = Stopped::BySignal;
    if !super::kill::wait_gone(pid, start, timeout) {
        how = Stopped::Killed;
        if let Ok(mut ct) = store.lock(id) {
            if let Some(s) = &mut ct.record.stop {
                s.escalated = true;
            }
            let _ = ct.save();
        }
        signal(pid, start, Signal::SIGKILL as i32);
        if let Some(cg) = &cg {
            // Without its own pid namespace the init's death leaves the rest alive.
            for p in cg.pids().unwrap_or_default() {
                let _ = linux::kill(p, Signal::SIGKILL);
            }
        }
        super::kill::wait_gone(pid, start, Duration::from_secs(10));
    }
    // The shim records the exit (it has the status); wait until it has.
    if shim.is_some_and(|s| s.alive()) && wait_recorded(store, id) {
        return Ok(how);
    }
    // No shim (an engine's container, or the shim was killed): record
    // what is known. The exit status went to whoever reaped the init.
    let mut ct = store.lock(id)?;
    if !ct.record.phase.is_finished() {
        let reason = if how == Stopped::Killed {
            "stop-timeout"
        } else {
            "stopped"
        };
        ct.record.phase = Phase::Stopped;
        ct.record.exit = Some(ExitRecord {
            code: None,
            signal: None,
            reason: reason.into(),
            finished: crate::timestamp::now(),
        });
        ct.save_durable()?;
        events::append(&ct.dir, &Event::new("exited", id).with("reason", reason));
    }
    Ok(how)
}

/// Waits (up to 5 s) for the shim to record the end; false if it did not.
fn wait_recorded(store: &Store, id: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match store.load(id) {
            Ok(r) if r.phase.is_finished() => return true,
            Ok(_) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => return true,
        }
    }
    false
}

/// Signals the init if it is still the process recorded.
fn signal(pid: i32, start: u64, sig: i32) {
    let Ok(fd) = linux::pidfd_open(Pid::from_raw(pid)) else {
        return;
    };
    if crate::process::liveness(pid, start) == lifecycle::Liveness::Alive {
        if let Ok(s) = Signal::try_from(sig) {
            let _ = linux::pidfd_send_signal(std::os::fd::AsFd::as_fd(&fd), s);
        }
    }
}

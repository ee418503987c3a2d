//! `kill`: a signal to the container's init (or, with --all, to every
//! process in its cgroup), through a pidfd so that a recycled pid is
//! never signalled.

use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::{observe, step, Result};
use crate::cgroups;
use crate::lifecycle::{self, Command, Phase};
use crate::process;
use crate::store::Locked;
use crate::sys::linux;

pub fn kill(ct: &Locked, sig: Signal, all: bool) -> Result<()> {
    let phase = observe(&ct.record);
    lifecycle::check(&ct.id, phase, Command::Kill)?;
    if all {
        signal_all(ct, sig)?;
    } else {
        signal_init(ct, sig)?;
    }
    // A frozen task only dies once thawed (v1 freezer): thaw for SIGKILL, like runc.
    if phase == Phase::Paused && sig == Signal::SIGKILL {
        if let Some(cg) = cgroups::from_record(&ct.record.cgroup) {
            let _ = cg.freeze(false);
        }
    }
    Ok(())
}

/// Signals the init, if it is still the process the record names.
pub fn signal_init(ct: &Locked, sig: Signal) -> Result<()> {
    let pid = Pid::from_raw(ct.record.pid);
    match linux::pidfd_open(pid) {
        Ok(fd) => {
            // The pidfd pins the process: check it is still ours, then signal through it.
            if process::liveness(ct.record.pid, ct.record.pid_start) == lifecycle::Liveness::Gone {
                return Err(lifecycle::Refusal::NotRunning.into());
            }
            linux::pidfd_send_signal(std::os::fd::AsFd::as_fd(&fd), sig)
                .map_err(step(format!("send {sig} to pid {pid}")))
        }
        Err(nix::Error::ENOSYS) => {
            linux::kill(pid, sig).map_err(step(format!("send {sig} to pid {pid}")))
        }
        Err(nix::Error::ESRCH) => Err(lifecycle::Refusal::NotRunning.into()),
        Err(e) => Err(step(format!("open pid {pid}"))(e)),
    }
}

/// Signals every process in the container's cgroup (and the init). With
/// SIGKILL the cgroup is frozen first so nothing can fork in between.
pub fn signal_all(ct: &Locked, sig: Signal) -> Result<()> {
    let Some(cg) = cgroups::from_record(&ct.record.cgroup) else {
        // No cgroup (rootless): the init, then what shares its pid namespace.
        let others = process::without_cgroup(ct.record.pid, ct.record.own_pid_ns);
        signal_init(ct, sig)?;
        for p in others.into_iter().skip(1) {
            match linux::kill(p, sig) {
                Ok(()) | Err(nix::Error::ESRCH) => {}
                Err(e) => return Err(step(format!("send {sig} to pid {p}"))(e)),
            }
        }
        return Ok(());
    };
    // An empty cgroup stays empty (nothing is left to fork into it): no
    // freeze, which costs a v1 freezer's state round trips.
    let mut pids = cg.pids()?;
    let freeze = sig == Signal::SIGKILL && !pids.is_empty() && !cg.frozen();
    if freeze {
        let _ = cg.freeze(true);
        pids = cg.pids()?;
    }
    if !pids.contains(&Pid::from_raw(ct.record.pid)) && ct.record.pid > 0 {
        pids.push(Pid::from_raw(ct.record.pid));
    }
    for p in pids {
        match linux::kill(p, sig) {
            Ok(()) | Err(nix::Error::ESRCH) => {}
            Err(e) => return Err(step(format!("send {sig} to pid {p}"))(e)),
        }
    }
    if freeze {
        let _ = cg.freeze(false);
    }
    Ok(())
}

/// Waits until the init has exited (or become a zombie), up to `limit`.
pub fn wait_gone(pid: i32, start: u64, limit: Duration) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    if process::liveness(pid, start) == lifecycle::Liveness::Gone {
        return true;
    }
    let deadline = std::time::Instant::now() + limit;
    if let Ok(fd) = linux::pidfd_open(Pid::from_raw(pid)) {
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
            let ms = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
                .unwrap_or(PollTimeout::MAX);
            match poll(&mut fds, ms) {
                Err(nix::Error::EINTR) => continue,
                Ok(n) if n > 0 => return true,
                _ => return process::liveness(pid, start) == lifecycle::Liveness::Gone,
            }
        }
    }
    while std::time::Instant::now() < deadline {
        if process::liveness(pid, start) == lifecycle::Liveness::Gone {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

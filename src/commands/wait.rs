//! `husk wait [--condition exited|running|healthy] [--timeout D] ID...`:
//! blocks (on inotify of the state directory and the init's pidfd, no
//! polling loop) until each container meets the condition. For `exited`
//! it prints the exit code and exits with it — what a Makefile needs to
//! order services.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use husk::lifecycle::Phase;
use husk::store::{Record, Store, StoreError};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::cli::{Condition, Global, WaitArgs};

/// Exit status when the timeout passes (as timeout(1) uses).
const TIMED_OUT: i32 = 124;

pub fn run(a: WaitArgs, g: &Global) -> Result<i32> {
    let deadline = a
        .timeout
        .as_deref()
        .map(husk::units::parse_duration)
        .transpose()?
        .map(|d| Instant::now() + d);
    let store = super::existing_store(g)?;
    let mut status = 0;
    for id in &a.ids {
        match wait_one(&store, id, a.condition, deadline)? {
            Outcome::Met(Some(code)) => {
                super::out!("{code}")?;
                status = code;
            }
            Outcome::Met(None) => {}
            Outcome::UnknownExit => {
                eprintln!("husk: container {id:?} has exited, but its exit code is unknown (no monitor saw it)");
                status = 255;
            }
            Outcome::TimedOut => {
                let what = match a.condition {
                    Condition::Exited => "exit",
                    Condition::Running => "run",
                    Condition::Healthy => "become healthy",
                };
                eprintln!("husk: timed out waiting for container {id:?} to {what}");
                return Ok(TIMED_OUT);
            }
        }
    }
    Ok(status)
}

enum Outcome {
    /// The condition holds; for `exited`, the exit code.
    Met(Option<i32>),
    UnknownExit,
    TimedOut,
}

fn health_status(rec: &Record) -> &str {
    rec.health
        .as_ref()
        .and_then(|h| h.get("status"))
        .and_then(|s| s.as_str())
        .unwrap_or("none")
}

fn wait_one(
    store: &Store,
    id: &str,
    cond: Condition,
    deadline: Option<Instant>,
) -> Result<Outcome> {
    let ino = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)?;
    let dir = store.dir(id);
    // Every save renames state.json into place.
    let _ = ino.add_watch(
        &dir,
        AddWatchFlags::IN_MOVED_TO | AddWatchFlags::IN_DELETE_SELF,
    );
    loop {
        let rec = match store.load(id) {
            Ok(r) => r,
            Err(StoreError::NotFound { .. }) => {
                bail!("container {id:?} does not exist (or was deleted while waiting)")
            }
            Err(e) => return Err(e.into()),
        };
        let phase = husk::container::observe(&rec);
        let monitored = rec.shim.is_some_and(|s| s.alive());
        match cond {
            Condition::Running if phase == Phase::Running => return Ok(Outcome::Met(None)),
            Condition::Healthy if health_status(&rec) == "healthy" => {
                return Ok(Outcome::Met(None))
            }
            Condition::Healthy | Condition::Running if phase.is_finished() && !monitored => {
                bail!(
                    "container {id:?} exited before it was {}",
                    if cond == Condition::Running {
                        "running"
                    } else {
                        "healthy"
                    }
                )
            }
            Condition::Exited if phase.is_finished() => {
                match rec.exit.as_ref().and_then(|e| e.code) {
                    Some(code) => return Ok(Outcome::Met(Some(code))),
                    // The shim is about to record the exit: give it the moment.
                    None if monitored => {}
                    // Or it recorded the exit and left between our load and
                    // the look at it: what it wrote is on disk by now.
                    None => {
                        let code = store
                            .load(id)
                            .ok()
                            .and_then(|r| r.exit)
                            .and_then(|e| e.code);
                        return Ok(code.map_or(Outcome::UnknownExit, |c| Outcome::Met(Some(c))));
                    }
                }
            }
            _ => {}
        }
        let left = match deadline {
            Some(d) if Instant::now() >= d => return Ok(Outcome::TimedOut),
            Some(d) => d - Instant::now(),
            None => Duration::from_secs(3600),
        };
        // Wake on a record change, on the init's end, or at the deadline;
        // at least once a second, should a change slip between load and watch.
        let pidfd = (rec.pid > 0 && phase.has_process())
            .then(|| husk::sys::linux::pidfd_open(nix::unistd::Pid::from_raw(rec.pid)).ok())
            .flatten();
        let mut fds = vec![PollFd::new(ino.as_fd(), PollFlags::POLLIN)];
        if let Some(p) = &pidfd {
            fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
        }
        let ms = left.min(Duration::from_secs(1)).as_millis() as u16;
        let _ = poll(&mut fds, PollTimeout::from(ms.max(1)));
        drop(fds);
        while ino.read_events().is_ok_and(|e| !e.is_empty()) {}
        if pidfd.is_some() && monitored {
            // The shim needs a moment to record the exit it just reaped.
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

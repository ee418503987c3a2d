//! The shim's loop. It blocks in poll(2) on: the init's pidfd (exit), the
//! container's stdout and stderr pipes (logs), SIGCHLD (orphans that
//! land on this subreaper), and — only when one is due — a timeout for the
//! restart backoff or the next health probe. Idle, it uses no CPU.
//!
//! Runs in: the shim (shown by ps as `husk __shim ID`), the process
//! `shim::spawn` forked from create.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::events::{self, Event};
use super::health::{self, HealthState, ProbeResult};
use super::logs::{Stream, Writer};
use super::policy::{self, Health, Policy};
use crate::lifecycle::Phase;
use crate::store::{ExitRecord, Store, StoreError};
use crate::sys::linux::{self, Forked};

/// The shim's command line, as ps shows it: `husk __shim ID`.
pub const SHIM_COMMAND: &str = "__shim";
/// The hidden command that recreates a container for a restart.
pub const RECREATE_COMMAND: &str = "__recreate";

/// What the shim watches.
pub struct Args {
    pub root: PathBuf,
    pub id: String,
    pub init: Pid,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

/// A probe running in a child process, reporting through a pipe.
struct ProbeChild {
    pid: Pid,
    pipe: OwnedFd,
    out: Vec<u8>,
    deadline: Instant,
}

/// The health check of the current run.
struct HealthRun {
    cfg: Health,
    state: HealthState,
    next_at: Instant,
    probe: Option<ProbeChild>,
}

/// The running init.
struct Init {
    pid: Pid,
    pidfd: Option<OwnedFd>,
    started: Instant,
}

struct Shim {
    store: Store,
    id: String,
    dir: PathBuf,
    policy: Policy,
    init: Option<Init>,
    pipes: [Option<OwnedFd>; 2],
    logs: Option<Writer>,
    /// The cgroup's OOM kill count when the current run started.
    oom_base: u64,
    restart_at: Option<Instant>,
    /// Consecutive quick restarts (drives the backoff).
    attempt: u32,
    health: Option<HealthRun>,
    done: bool,
}

/// Runs the shim until its container is gone or stopped for good.
pub fn run(args: Args) -> i32 {
    let _ = linux::ignore_signal(Signal::SIGHUP);
    let _ = linux::ignore_signal(Signal::SIGPIPE);
    let sigchld = match linux::block_signals_to_fd(&[Signal::SIGCHLD]) {
        Ok(fd) => fd,
        Err(_) => return 1,
    };
    let store = Store::at(&args.root);
    let dir = store.dir(&args.id);
    let policy = store.load(&args.id).map(|r| r.policy).unwrap_or_default();
    let logs = if args.stdout.is_some() || args.stderr.is_some() {
        Some(Writer::new(&dir, policy.log_max_size, policy.log_max_files))
    } else {
        None
    };
    // SIGCHLD (blocked above, read from its signalfd) tells of every end;
    // the pidfd is one more wake-up where the kernel has them (5.3).
    let pidfd = linux::pidfd_open(args.init).ok();
    let mut shim = Shim {
        store,
        id: args.id,
        dir,
        policy,
        init: Some(Init {
            pid: args.init,
            pidfd,
            started: Instant::now(),
        }),
        pipes: [args.stdout, args.stderr],
        logs,
        oom_base: 0,
        restart_at: None,
        attempt: 0,
        health: None,
        done: false,
    };
    shim.oom_base = shim.oom_base();
    shim.start_health();
    // An end before SIGCHLD was blocked sent no signal to the signalfd.
    shim.reap();
    // Start-up touched far more of the binary than the loop needs.
    linux::trim_file_mappings();
    shim.run(&sigchld);
    0
}

impl Shim {
    fn run(&mut self, sigchld: &OwnedFd) {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if self.done && self.pipes.iter().all(Option::is_none) {
                return;
            }
            let mut fds = vec![PollFd::new(sigchld.as_fd(), PollFlags::POLLIN)];
            let init_idx = self.init.as_ref().and_then(|i| i.pidfd.as_ref()).map(|p| {
                fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            let mut pipe_idx = [None, None];
            for (k, p) in self.pipes.iter().enumerate() {
                if let Some(p) = p {
                    fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
                    pipe_idx[k] = Some(fds.len() - 1);
                }
            }
            let probe_idx = self
                .health
                .as_ref()
                .and_then(|h| h.probe.as_ref())
                .map(|p| {
                    fds.push(PollFd::new(p.pipe.as_fd(), PollFlags::POLLIN));
                    fds.len() - 1
                });
            let timeout = match self.next_deadline() {
                None if self.done => PollTimeout::from(1000u16), // draining pipes held by stragglers
                None => PollTimeout::NONE,
                Some(t) => {
                    let ms = t
                        .saturating_duration_since(Instant::now())
                        .as_millis()
                        .min(60_000) as u16;
                    PollTimeout::from(ms)
                }
            };
            let n = match poll(&mut fds, timeout) {
                Err(nix::Error::EINTR) => continue,
                Err(_) => return,
                Ok(n) => n,
            };
            if n == 0 && self.done {
                return; // pipes idle after the end: stragglers hold them, stop waiting
            }
            let ready = |i: Option<usize>| {
                i.and_then(|i| fds[i].revents())
                    .is_some_and(|r| !r.is_empty())
            };
            let (sig_ready, init_ready) = (ready(Some(0)), ready(init_idx));
            let pipes_ready = [ready(pipe_idx[0]), ready(pipe_idx[1])];
            let probe_ready = ready(probe_idx);
            drop(fds);
            if probe_ready {
                self.read_probe();
            }
            for (k, r) in pipes_ready.into_iter().enumerate() {
                if r {
                    self.drain(k, &mut buf);
                }
            }
            if sig_ready {
                let _ = linux::read_signalfd(sigchld.as_fd());
            }
            if sig_ready || init_ready {
                self.reap();
            }
            if self.restart_at.is_some_and(|t| Instant::now() >= t) {
                self.restart();
            }
            self.health_tick();
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let health = self
            .health
            .as_ref()
            .filter(|_| self.init.is_some())
            .map(|h| match &h.probe {
                Some(p) => p.deadline,
                None => h.next_at,
            });
        match (self.restart_at, health) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A run begins: with a health check, the status is `starting` and
    /// the first probe comes one interval later.
    fn start_health(&mut self) {
        let Some(cfg) = self.policy.health.clone() else {
            self.health = None;
            return;
        };
        let run = HealthRun {
            next_at: Instant::now() + cfg.interval,
            cfg,
            state: HealthState::new(),
            probe: None,
        };
        self.save_health(&run.state);
        self.health = Some(run);
    }

    fn save_health(&self, state: &HealthState) {
        if let Ok(mut ct) = self.store.lock(&self.id) {
            ct.record.health = serde_json::to_value(state).ok();
            let _ = ct.save();
        }
    }

    /// Starts a probe when one is due; gives up on one that overran.
    fn health_tick(&mut self) {
        let Some(init_pid) = self.init.as_ref().map(|i| i.pid) else {
            return;
        };
        let root = self.store.root().to_path_buf();
        let id = self.id.clone();
        let Some(h) = &mut self.health else { return };
        let now = Instant::now();
        if let Some(p) = &h.probe {
            if now >= p.deadline {
                let _ = linux::kill(p.pid, Signal::SIGKILL);
                h.probe = None;
                let result = ProbeResult {
                    ok: false,
                    output: "the probe did not report in time".into(),
                    started: crate::timestamp::now(),
                    duration_ms: 0,
                };
                self.finish_probe(result);
            }
            return;
        }
        if now < h.next_at {
            return;
        }
        let Ok((r, w)) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) else {
            return;
        };
        match linux::fork_process() {
            Ok(Forked::Child) => {
                drop(r);
                let result = health::probe(
                    std::path::Path::new("/proc/self/exe"),
                    &root,
                    &id,
                    init_pid.as_raw(),
                    &h.cfg.probe,
                    h.cfg.timeout,
                );
                if let Ok(mut line) = serde_json::to_vec(&result) {
                    line.push(b'\n');
                    let _ = nix::unistd::write(&w, &line);
                }
                linux::exit_now(0)
            }
            Ok(Forked::Parent(pid)) => {
                h.probe = Some(ProbeChild {
                    pid,
                    pipe: r,
                    out: Vec::new(),
                    // The probe enforces the timeout itself; this is the backstop.
                    deadline: now + h.cfg.timeout + Duration::from_secs(5),
                });
            }
            Err(_) => h.next_at = now + h.cfg.interval,
        }
    }

    fn read_probe(&mut self) {
        let Some(p) = self.health.as_mut().and_then(|h| h.probe.as_mut()) else {
            return;
        };
        let mut buf = [0u8; 4096];
        match nix::unistd::read(&p.pipe, &mut buf) {
            Ok(n) if n > 0 => {
                p.out.extend_from_slice(&buf[..n]);
                return;
            }
            Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => return,
            _ => {}
        }
        let p = self
            .health
            .as_mut()
            .and_then(|h| h.probe.take())
            .expect("checked above");
        let result =
            serde_json::from_slice::<ProbeResult>(p.out.trim_ascii_end()).unwrap_or(ProbeResult {
                ok: false,
                output: "the probe ended without a result".into(),
                started: crate::timestamp::now(),
                duration_ms: 0,
            });
        self.finish_probe(result);
    }

    /// Applies a probe's result: the status (and an event when it changes),
    /// the record, the next probe's time.
    fn finish_probe(&mut self, result: ProbeResult) {
        let since_start = self
            .init
            .as_ref()
            .map_or(Duration::ZERO, |i| i.started.elapsed());
        let Some(h) = &mut self.health else { return };
        let change = h.state.record(result, &h.cfg, since_start);
        h.next_at = Instant::now() + h.cfg.interval;
        let state = h.state.clone();
        // The event first: whoever sees the new status in the record (`husk
        // wait --condition healthy`, then the next service's create) finds
        // the event too, and earlier in `husk events`.
        if let Some((old, new)) = change {
            events::append(
                &self.dir,
                &Event::new("health_status", &self.id)
                    .with("status", new.as_str())
                    .with("previous", old.as_str()),
            );
        }
        self.save_health(&state);
    }

    /// Copies what the container wrote into the log.
    fn drain(&mut self, k: usize, buf: &mut [u8]) {
        let stream = if k == 0 {
            Stream::Stdout
        } else {
            Stream::Stderr
        };
        let Some(p) = &self.pipes[k] else { return };
        match nix::unistd::read(p, buf) {
            Ok(0) | Err(nix::Error::EBADF) => {
                if let Some(l) = &mut self.logs {
                    let _ = l.close_stream(stream);
                }
                self.pipes[k] = None;
            }
            Ok(n) => {
                if let Some(l) = &mut self.logs {
                    if let Err(e) = l.write(stream, &buf[..n]) {
                        log::warn!("container {}: cannot write its log: {e}", self.id);
                    }
                }
            }
            Err(_) => {}
        }
    }

    /// Reaps every child that has ended; the init's end is recorded.
    fn reap(&mut self) {
        loop {
            match linux::wait_raw(Pid::from_raw(-1), libc::WNOHANG) {
                Ok((pid, status)) if pid.as_raw() > 0 => {
                    if self.init.as_ref().is_some_and(|i| i.pid == pid) {
                        let init = self.init.take().expect("checked");
                        if let Some(p) = self.health.as_mut().and_then(|h| h.probe.take()) {
                            let _ = linux::kill(p.pid, Signal::SIGKILL);
                        }
                        self.exited(status, init.started.elapsed());
                    }
                }
                _ => return,
            }
        }
    }

    /// The OOM count create found (read then, before the container could
    /// run: reading it now would miss a container that died at once).
    fn oom_base(&self) -> u64 {
        self.store.load(&self.id).map_or(0, |r| r.cgroup.oom_base)
    }

    fn oom_kills(&self) -> u64 {
        self.store
            .load(&self.id)
            .ok()
            .and_then(|r| crate::cgroups::from_record(&r.cgroup))
            .map_or(0, |cg| cg.oom_kills())
    }

    /// Records how the init ended and decides about a restart.
    fn exited(&mut self, status: libc::c_int, ran: Duration) {
        let code = crate::container::wait::exit_code(status);
        let signal = libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status));
        let oom = self.oom_kills() > self.oom_base;
        let mut ct = match self.store.lock(&self.id) {
            Ok(ct) => ct,
            // Deleted meanwhile: nothing left to record.
            Err(_) => {
                self.done = true;
                return;
            }
        };
        let stop = ct.record.stop.clone();
        let reason = match (&stop, oom, signal) {
            (Some(s), _, _) if s.escalated => "stop-timeout",
            (_, true, _) => "oom-killed",
            (_, _, Some(_)) => "signaled",
            _ => "exited",
        };
        ct.record.exit = Some(ExitRecord {
            code: Some(code),
            signal,
            reason: reason.into(),
            finished: crate::timestamp::now(),
        });
        ct.record.phase = if stop.is_some() || code == 0 {
            Phase::Stopped
        } else {
            Phase::Dead
        };
        if oom {
            events::append(&self.dir, &Event::new("oom", &self.id));
        }
        let mut ev = Event::new("exited", &self.id)
            .with("exitCode", code)
            .with("reason", reason);
        if let Some(s) = signal {
            ev = ev.with("signal", s);
        }
        events::append(&self.dir, &ev);
        let exit_code = if signal.is_some() { None } else { Some(code) };
        if self
            .policy
            .restart
            .wants_restart(exit_code, stop.is_some(), ct.record.restart_count)
        {
            // A run longer than the cap was a success of sorts: start the backoff over.
            self.attempt = if ran > policy::BACKOFF_CAP {
                1
            } else {
                self.attempt + 1
            };
            let delay = policy::backoff(self.attempt);
            ct.record.phase = Phase::Restarting;
            events::append(
                &self.dir,
                &Event::new("restarting", &self.id)
                    .with("attempt", ct.record.restart_count + 1)
                    .with("delayMs", delay.as_millis() as u64),
            );
            self.restart_at = Some(Instant::now() + delay);
        } else {
            self.done = true;
        }
        if let Err(e) = ct.save_durable() {
            log::warn!("container {}: cannot record its exit: {e}", self.id);
        }
    }

    /// Starts the container again: a `husk __recreate` child builds a new
    /// init (which lands here, on the subreaper, when that child exits).
    fn restart(&mut self) {
        self.restart_at = None;
        let mut ct = match self.store.lock(&self.id) {
            Ok(ct) => ct,
            Err(_) => {
                self.done = true;
                return;
            }
        };
        // A stop or delete while we waited cancels the restart.
        if ct.record.stop.is_some() || ct.record.phase != Phase::Restarting {
            if ct.record.phase == Phase::Restarting {
                ct.record.phase = Phase::Stopped;
                let _ = ct.save();
            }
            self.done = true;
            return;
        }
        drop(ct);
        match self.recreate() {
            Ok(pid) => {
                let pidfd = linux::pidfd_open(pid).ok();
                self.init = Some(Init {
                    pid,
                    pidfd,
                    started: Instant::now(),
                });
                self.oom_base = self.oom_base();
                self.start_health();
            }
            Err(e) => {
                self.done = true;
                let Ok(mut ct) = self.store.lock(&self.id) else {
                    return;
                };
                // A stop that raced the restart is not a failure.
                if ct.record.stop.is_some() || ct.record.phase != Phase::Restarting {
                    return;
                }
                events::append(
                    &self.dir,
                    &Event::new("restart_failed", &self.id).with("error", e),
                );
                ct.record.phase = Phase::Error;
                let _ = ct.save();
            }
        }
    }

    /// Runs `husk --root ROOT __recreate ID` with the new stdio pipes on
    /// fds 3-5 and returns the new init's pid.
    fn recreate(&mut self) -> Result<Pid, String> {
        let (stdio, pipes) = super::spawn::log_pipes().map_err(|e| e.to_string())?;
        let (err_r, err_w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| e.to_string())?;
        let root = self.store.root().to_path_buf();
        let child = match linux::fork_process().map_err(|e| e.to_string())? {
            Forked::Child => {
                for (i, fd) in stdio.iter().enumerate() {
                    let _ = linux::dup_onto(fd.as_raw_fd(), 3 + i as RawFd);
                }
                let _ = linux::dup_onto(err_w.as_raw_fd(), 2);
                let _ = linux::reset_signals_mask();
                exec_self(&[
                    "--root".as_ref(),
                    root.as_os_str(),
                    RECREATE_COMMAND.as_ref(),
                    self.id.as_ref(),
                ]);
                linux::exit_now(127)
            }
            Forked::Parent(pid) => pid,
        };
        drop(stdio);
        drop(err_w);
        let mut text = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = nix::unistd::read(&err_r, &mut buf) {
            if n == 0 {
                break;
            }
            text.extend_from_slice(&buf[..n]);
        }
        let ok = matches!(linux::wait_raw(child, 0), Ok((_, st)) if libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0);
        if !ok {
            return Err(String::from_utf8_lossy(&text).trim().to_string());
        }
        self.pipes = [Some(pipes.stdout), Some(pipes.stderr)];
        let rec = self
            .store
            .load(&self.id)
            .map_err(|e: StoreError| e.to_string())?;
        Ok(Pid::from_raw(rec.pid))
    }
}

/// execve of this very binary with `args` (argv[0] "husk").
fn exec_self(args: &[&std::ffi::OsStr]) {
    use std::os::unix::ffi::OsStrExt;
    let mut argv = vec![std::ffi::CString::new("husk").expect("no NUL")];
    argv.extend(
        args.iter()
            .filter_map(|a| std::ffi::CString::new(a.as_bytes()).ok()),
    );
    let env: Vec<std::ffi::CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            std::ffi::CString::new(kv).ok()
        })
        .collect();
    let _ = linux::execve(c"/proc/self/exe", &argv, &env);
}

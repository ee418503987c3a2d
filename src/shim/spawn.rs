//! Starting a shim from `create`: a double fork (the shim is nobody's
//! child and not a session leader), setsid in between, SIGHUP ignored,
//! PR_SET_CHILD_SUBREAPER. The shim clones the container init itself, so
//! it is the init's parent and alone can collect its exit status. It then
//! waits for create's verdict: on success it closes every fd of create's
//! but its log pipes and runs the monitor loop (`shim::monitor`) where it
//! is, without an exec (which cost ~0.6 ms of CPU per container: a new
//! image, glibc's start-up again); on failure it kills the init and exits.
//!
//! Runs in: `create` (launch), then the shim-to-be (start).

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use nix::unistd::{pipe2, Pid};
use oci_spec::runtime::Spec;

use crate::container::{step, ContainerError, Result};
use crate::init::InitConfig;
use crate::process::sync::Channel;
use crate::store::Locked;
use crate::sys::linux::{self, Forked};

/// The read ends of the container's stdout and stderr, for the shim.
pub struct LogPipes {
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// The init's stdio under a shim (/dev/null, two pipes' write ends) and
/// the read ends for the shim.
pub fn log_pipes() -> Result<([OwnedFd; 3], LogPipes)> {
    let null = open(
        "/dev/null",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(step("open /dev/null"))?;
    let (out_r, out_w) = pipe2(OFlag::O_CLOEXEC).map_err(step("make the stdout pipe"))?;
    let (err_r, err_w) = pipe2(OFlag::O_CLOEXEC).map_err(step("make the stderr pipe"))?;
    Ok((
        [null, out_w, err_w],
        LogPipes {
            stdout: out_r,
            stderr: err_r,
        },
    ))
}

/// A shim that has cloned the init and waits for create's word.
pub struct Pending {
    shim: Pid,
    go: OwnedFd,
    /// The middle process of the double fork, reaped at the end so create
    /// does not wait for it on its way.
    middle: Pid,
}

impl Drop for Pending {
    fn drop(&mut self) {
        let _ = linux::wait_raw(self.middle, 0);
    }
}

impl Pending {
    pub fn pid(&self) -> Pid {
        self.shim
    }

    /// Create succeeded: the shim takes over. (Dropping a Pending instead
    /// makes the shim kill the init and exit.)
    pub fn release(self) {
        let _ = nix::unistd::write(&self.go, b"1");
    }
}

/// Forks the shim, which clones the init; returns the init's pid.
pub fn launch(
    cfg: &InitConfig,
    spec: &Spec,
    ct: &Locked,
    child_end: Channel,
    logs: Option<LogPipes>,
) -> Result<(Pid, bool, Pending)> {
    let runtime_fds = cfg.runtime_fds.clone();
    launch_with(ct, &runtime_fds, cfg.stdio, logs, move || {
        crate::container::create::spawn_init(cfg, spec, child_end)
    })
}

/// Forks the shim, which makes the init with `make_init` (so that it is
/// the init's parent) and returns its pid and whether it was born in its
/// cgroup. `create` clones it; `restore` has CRIU restore it as a sibling
/// of criu. `runtime_fds` are closed in the shim first; `stdio` (the
/// container's ends of its stdio) once the init exists.
pub fn launch_with(
    ct: &Locked,
    runtime_fds: &[RawFd],
    stdio: Option<[RawFd; 3]>,
    logs: Option<LogPipes>,
    make_init: impl FnOnce() -> Result<(Pid, bool)>,
) -> Result<(Pid, bool, Pending)> {
    let root =
        crate::bundle::absolute(ct.dir.parent().unwrap_or(Path::new("/"))).unwrap_or_default();
    let (info_r, info_w) = pipe2(OFlag::O_CLOEXEC).map_err(step("make the shim's pipe"))?;
    let (go_r, go_w) = pipe2(OFlag::O_CLOEXEC).map_err(step("make the shim's pipe"))?;
    let middle = match linux::fork_process().map_err(step("fork the shim"))? {
        Forked::Child => {
            // The middle process: a new session, then the shim, then gone.
            let _ = nix::unistd::setsid();
            if let Ok(Forked::Child) = linux::fork_process() {
                drop(info_r);
                drop(go_w);
                start(
                    Shim {
                        runtime_fds,
                        stdio,
                        root: &root,
                        id: &ct.id,
                        info: info_w,
                        go: go_r,
                        logs,
                    },
                    make_init,
                )
            }
            linux::exit_now(0)
        }
        Forked::Parent(middle) => middle,
    };
    // What the init would have been made with (the init's end of the sync
    // socket, for one) is the shim's alone.
    drop(make_init);
    drop(info_w);
    drop(go_r);
    drop(logs);
    // One line: the init (cloned by the shim) holds a copy of the write
    // end until it execs, so EOF cannot be the end of the message.
    let mut buf = [0u8; 4096];
    let mut text = Vec::new();
    while !text.contains(&b'\n') {
        match nix::unistd::read(&info_r, &mut buf) {
            Ok(0) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(step("hear from the shim")(e)),
        }
    }
    let text = String::from_utf8_lossy(&text);
    if let Some(err) = text.strip_prefix("E ") {
        let _ = linux::wait_raw(middle, 0);
        return Err(ContainerError::Init(err.trim().to_string()));
    }
    let mut f = text.split_whitespace().map(|n| n.parse::<i32>());
    match (f.next(), f.next(), f.next()) {
        (Some(Ok(shim)), Some(Ok(init)), Some(Ok(placed))) => Ok((
            Pid::from_raw(init),
            placed == 1,
            Pending {
                shim: Pid::from_raw(shim),
                go: go_w,
                middle,
            },
        )),
        _ => {
            let _ = linux::wait_raw(middle, 0);
            Err(ContainerError::Init(
                "the shim exited before starting the container".into(),
            ))
        }
    }
}

/// What the shim-to-be is given.
struct Shim<'a> {
    runtime_fds: &'a [RawFd],
    stdio: Option<[RawFd; 3]>,
    root: &'a Path,
    id: &'a str,
    info: OwnedFd,
    go: OwnedFd,
    logs: Option<LogPipes>,
}

/// Runs in: the shim-to-be. Makes the init, reports, waits for the
/// verdict, then becomes the shim. Never returns.
fn start(shim: Shim, make_init: impl FnOnce() -> Result<(Pid, bool)>) -> ! {
    let Shim {
        runtime_fds,
        stdio,
        root,
        id,
        info,
        go,
        logs,
    } = shim;
    let _ = linux::ignore_signal(Signal::SIGHUP);
    // Nothing of create's may stay open here: its lock, its end of the sync socket.
    for fd in runtime_fds {
        let _ = nix::unistd::close(*fd);
    }
    let _ = linux::set_child_subreaper(true);
    let (init, placed) = match make_init() {
        Ok(r) => r,
        Err(e) => {
            let msg = format!("E {:#}\n", anyhow::Error::from(e)).replace('\n', " ");
            let _ = nix::unistd::write(&info, format!("{}\n", msg.trim_end()).as_bytes());
            linux::exit_now(1)
        }
    };
    // The container's ends of its stdio pipes are the container's alone.
    if let Some(stdio) = stdio {
        for fd in stdio {
            let _ = nix::unistd::close(fd);
        }
    }
    let _ = nix::unistd::write(
        &info,
        format!("{} {} {}\n", std::process::id(), init, placed as u8).as_bytes(),
    );
    drop(info);
    let mut b = [0u8; 1];
    let verdict = loop {
        match nix::unistd::read(&go, &mut b) {
            Err(nix::Error::EINTR) => continue,
            r => break r,
        }
    };
    if verdict != Ok(1) || b[0] != b'1' {
        let _ = linux::kill(init, Signal::SIGKILL);
        let _ = linux::wait_raw(init, 0);
        linux::exit_now(1)
    }
    drop(go);
    // The caller's stdio must not stay open in a process that outlives it.
    if let Ok(null) = open("/dev/null", OFlag::O_RDWR, Mode::empty()) {
        for fd in 0..3 {
            let _ = linux::dup_onto(null.as_raw_fd(), fd);
        }
    }
    // Nor may anything else of create's: keep only the log pipes.
    let (stdout, stderr) = match logs {
        Some(l) => (Some(l.stdout), Some(l.stderr)),
        None => (None, None),
    };
    let keep: Vec<RawFd> = [&stdout, &stderr]
        .into_iter()
        .flatten()
        .map(|fd| fd.as_raw_fd())
        .collect();
    let _ = linux::close_all_from(3, &keep);
    // ps shows `husk __shim ID` (in the room create's arguments took).
    linux::set_cmdline(&[
        b"husk",
        super::monitor::SHIM_COMMAND.as_bytes(),
        id.as_bytes(),
    ]);
    // What create freed goes back to the kernel; what it still holds
    // (its spec, on the stack frames above) stays, untouched.
    linux::release_free_heap();
    let code = super::monitor::run(super::monitor::Args {
        root: root.to_path_buf(),
        id: id.to_string(),
        init,
        stdout,
        stderr,
    });
    linux::exit_now(code)
}

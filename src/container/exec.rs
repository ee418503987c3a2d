//! `exec`: a new process in a running container, as the caller's child
//! (engines reap it). The runtime enters the container's pid namespace for
//! its children, clones, puts the child in the container's cgroups, and
//! waits until the child has exec'd (its end of the sync socket closes) or
//! reported an error.
//!
//! Runs in: the runtime, from a sealed memfd copy of husk (CVE-2019-5736:
//! see `sys::linux::reexec_from_sealed_copy`).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use nix::fcntl::{open, OFlag};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};

use super::{observe, step, ContainerError, Result};
use crate::cgroups;
use crate::init::exec::{self as exec_init, ExecConfig};
use crate::lifecycle::{self, Command, Phase};
use crate::process::sync::{self, Msg, SyncError};
use crate::store::{Record, Store};
use crate::sys::linux::{self, Forked};
use crate::sys::LinuxSys;

/// What `exec` was asked for.
#[derive(Debug)]
pub struct ExecOptions {
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    /// `exec -t` in the foreground: husk's end of a socketpair stands in for
    /// the console socket.
    pub console_fd: Option<OwnedFd>,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: i32,
    pub ignore_paused: bool,
}

/// The container's config as stored at create time (the process defaults
/// of `exec` without --process, its namespaces, its seccomp profile).
pub fn stored_spec(store: &Store, id: &str) -> Result<Spec> {
    let path = store.dir(id).join(crate::store::CONFIG_FILE);
    let bytes = std::fs::read(&path).map_err(|source| crate::store::StoreError::Read {
        path: path.clone(),
        source,
    })?;
    crate::bundle::parse(&bytes)
        .map_err(|msg| crate::bundle::BundleError::ParseConfig { path, msg }.into())
}

/// Starts the process; returns its pid once it has exec'd.
pub fn exec(store: &Store, id: &str, spec: &Spec, mut opts: ExecOptions) -> Result<Pid> {
    let rec = store.load(id)?;
    let phase = observe(&rec);
    if !(opts.ignore_paused && phase == Phase::Paused) {
        lifecycle::check(id, phase, Command::Exec)?;
    }
    let affinity = validate(&opts)?;
    let init = rec.pid;
    let types: Vec<LinuxNamespaceType> = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .map(|l| l.iter().map(|n| n.typ()).collect())
        .unwrap_or_default();
    // The namespace fds pin the init's namespaces; check afterwards that the
    // pid still names the init, so they are not a newcomer's.
    let namespaces = exec_init::namespace_fds(init, &types)
        .map_err(|e| ContainerError::Init(format!("{:#}", anyhow::Error::from(e))))?;
    let pid_ns = open_if_other(init, "pid")?;
    let time_ns = open_if_other(init, "time")?;
    if crate::process::liveness(rec.pid, rec.pid_start) == lifecycle::Liveness::Gone {
        return Err(lifecycle::Refusal::NotRunning.into());
    }
    let proc = open(
        "/proc",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(step("open /proc"))?;
    let console = match (&opts.console_socket, opts.console_fd.take()) {
        (_, Some(fd)) => Some(fd),
        (Some(path), None) => Some(crate::terminal::connect(path)?),
        (None, None) => None,
    };
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let (parent_end, child_end) = sync::pair()?;
    let cg = cgroups::from_record(&rec.cgroup);
    let entry = match cg.as_deref() {
        Some(cg) => Some(cgroups::Entry::open(cg)?),
        None => None,
    };
    let mut cfg = ExecConfig {
        process: &opts.process,
        namespaces,
        seccomp,
        console_socket: console.as_ref().map(|c| c.as_raw_fd()),
        preserve_fds: opts.preserve_fds,
        setgroups_allowed: nix::unistd::geteuid().is_root(),
        proc: &proc,
        user_joined: false,
        cgroup_entry: entry.as_ref(),
        affinity,
    };
    // setns(2) into a pid or time namespace needs CAP_SYS_ADMIN in our own
    // user namespace too, which a user's runtime lacks, and so does coming
    // back to ours when that is owned by a user namespace above us (husk
    // as root of rootless podman's namespace): a first child enters them
    // for good — after joining the container's user namespace, when it
    // has one of its own — and clones the process (runc's nsexec).
    let through_child = crate::userns::rootless() && (pid_ns.is_some() || time_ns.is_some());
    cfg.user_joined = through_child
        && cfg
            .namespaces
            .iter()
            .any(|(t, _)| *t == LinuxNamespaceType::User);

    // The process's oom_score_adj, set on ourselves while our /proc files
    // are still ours and inherited through the clone: the child, not
    // dumpable and in the container's user namespace, could not write its
    // own (EACCES for a rootless runtime).
    if let Some(adj) = opts.process.oom_score_adj() {
        set_own_oom_score_adj(&proc, adj)?;
    }
    // Nothing the container can see may be dumpable (its /proc entries
    // stay root-only), and the child inherits this.
    linux::set_dumpable(false).map_err(step("make the runtime non-dumpable"))?;
    let (pid, placed) = if through_child {
        let pid = spawn_through_first_child(&cfg, pid_ns, time_ns, &parent_end, child_end)?;
        (pid, false)
    } else {
        spawn(&cfg, pid_ns, time_ns, &parent_end, child_end)?
    };
    drop(cfg);
    let placing = entry.as_ref().map(|e| (e, placed));
    if let Err(e) = supervise(&rec, spec, pid, placing, &parent_end) {
        let _ = linux::kill(pid, Signal::SIGKILL);
        let _ = linux::wait_raw(pid, 0);
        // A container that stopped meanwhile takes the new process with it.
        if crate::process::liveness(rec.pid, rec.pid_start) == lifecycle::Liveness::Gone {
            return Err(ContainerError::Usage(format!(
                "container {id:?} stopped while the process was starting"
            )));
        }
        return Err(e);
    }
    if let Some(p) = &opts.pid_file {
        super::create::write_pid_file(p, pid)?;
    }
    Ok(pid)
}

/// Clones the process in the container's pid (and time) namespace,
/// entered for our children and left again.
fn spawn(
    cfg: &ExecConfig,
    pid_ns: Option<OwnedFd>,
    time_ns: Option<OwnedFd>,
    parent_end: &sync::Channel,
    child_end: sync::Channel,
) -> Result<(Pid, bool)> {
    let own_pid = enter_for_children(pid_ns, CloneFlags::CLONE_NEWPID, "pid")?;
    let own_time = enter_for_children(
        time_ns,
        CloneFlags::from_bits_retain(crate::process::namespaces::CLONE_NEWTIME),
        "time",
    )?;
    let (forked, placed) = crate::process::clone_in(
        CloneFlags::empty(),
        cfg.cgroup_entry.and_then(|e| e.clone_fd()),
    );
    if let Ok(Forked::Child) = forked {
        // Our end is not the child's: it must see EOF when we are gone.
        let _ = nix::unistd::close(parent_end.raw_fd());
        exec_init::main(&LinuxSys, cfg, child_end)
    }
    back_to_own(own_pid, CloneFlags::CLONE_NEWPID)?;
    back_to_own(
        own_time,
        CloneFlags::from_bits_retain(crate::process::namespaces::CLONE_NEWTIME),
    )?;
    match forked.map_err(step("clone the exec'd process"))? {
        Forked::Parent(pid) => Ok((pid, placed)),
        Forked::Child => unreachable!("the child never returns"),
    }
}

/// The rootless way: a first child joins the container's user namespace
/// if it has one (which gives it CAP_SYS_ADMIN there), then its pid and
/// time namespaces, never to come back, and clones the process with
/// CLONE_PARENT so that it is our child all the same; it reports that pid
/// and exits.
fn spawn_through_first_child(
    cfg: &ExecConfig,
    pid_ns: Option<OwnedFd>,
    time_ns: Option<OwnedFd>,
    parent_end: &sync::Channel,
    child_end: sync::Channel,
) -> Result<Pid> {
    let (report_r, report_w) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(step("make the exec report pipe"))?;
    let first = match linux::clone_process(CloneFlags::empty())
        .map_err(step("clone the exec'd process"))?
    {
        Forked::Child => {
            let _ = nix::unistd::close(parent_end.raw_fd());
            drop(report_r);
            // Runs in: the first child, until the process is cloned.
            let text = match join_then_clone(cfg, pid_ns, time_ns) {
                Ok(Forked::Child) => {
                    drop(report_w);
                    exec_init::main(&LinuxSys, cfg, child_end)
                }
                Ok(Forked::Parent(pid)) => format!("{pid}\n"),
                Err(e) => format!("E {:#}\n", anyhow::Error::from(e)),
            };
            let _ = nix::unistd::write(&report_w, text.as_bytes());
            linux::exit_now(0)
        }
        Forked::Parent(pid) => pid,
    };
    drop(report_w);
    drop(child_end);
    let text = super::first_child_report(report_r, first, "exec")?;
    text.parse::<i32>().map(Pid::from_raw).map_err(|_| {
        ContainerError::Init(format!(
            "the exec helper process ended without a pid ({text:?})"
        ))
    })
}

/// Runs in: the first child of a rootless exec. Joins the user namespace
/// (as its root) if the container has one, the pid and time namespaces,
/// then clones the process.
fn join_then_clone(
    cfg: &ExecConfig,
    pid_ns: Option<OwnedFd>,
    time_ns: Option<OwnedFd>,
) -> Result<Forked> {
    if cfg.user_joined {
        let (_, user) = cfg
            .namespaces
            .iter()
            .find(|(t, _)| *t == LinuxNamespaceType::User)
            .expect("user_joined is set only with a user namespace to join");
        nix::sched::setns(user, CloneFlags::CLONE_NEWUSER)
            .map_err(step("join the container's user namespace"))?;
        linux::set_res_ids(0, 0).map_err(step("become root in the user namespace"))?;
    }
    if let Some(fd) = pid_ns {
        nix::sched::setns(fd, CloneFlags::CLONE_NEWPID)
            .map_err(step("enter the container's pid namespace"))?;
    }
    if let Some(fd) = time_ns {
        nix::sched::setns(
            fd,
            CloneFlags::from_bits_retain(crate::process::namespaces::CLONE_NEWTIME),
        )
        .map_err(step("enter the container's time namespace"))?;
    }
    linux::clone_process(CloneFlags::CLONE_PARENT).map_err(step("clone the exec'd process"))
}

/// Writes our own oom_score_adj (unchanged values are not rewritten:
/// lowering one needs CAP_SYS_RESOURCE).
fn set_own_oom_score_adj(proc: &OwnedFd, adj: i32) -> Result<()> {
    let current = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap_or_default();
    if current.trim() == adj.to_string() {
        return Ok(());
    }
    crate::init::identity::set_oom_score_adj(proc, adj)
        .map_err(|e| ContainerError::Init(format!("{:#}", anyhow::Error::from(e))))
}

/// runc's rules for the terminal of an exec'd process.
/// Checks the options before anything is made; returns the parsed CPU
/// affinity.
fn validate(opts: &ExecOptions) -> Result<exec_init::Affinity> {
    let p = &opts.process;
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(ContainerError::Usage(
            "exec: no command given: pass it after the container id, or use --process".into(),
        ));
    }
    if !p.cwd().is_absolute() {
        return Err(ContainerError::Usage(format!(
            "exec: cwd {:?} must be an absolute path",
            p.cwd()
        )));
    }
    let terminal = p.terminal() == Some(true);
    let socket = opts.console_socket.is_some() || opts.console_fd.is_some();
    if terminal && !socket {
        return Err(ContainerError::Usage(
            "exec: a terminal was asked for but no --console-socket was given: cannot allocate a pseudo-terminal when detached".into(),
        ));
    }
    if !terminal && opts.console_socket.is_some() {
        return Err(ContainerError::Usage(
            "exec: --console-socket was given but no terminal was asked for (--tty)".into(),
        ));
    }
    exec_init::Affinity::of(p).map_err(|e| ContainerError::Usage(format!("exec: {e}")))
}

/// Finishes putting the child in the container's cgroups (it joins the
/// v1 hierarchies itself; `placed`: it was born in the cgroup2 one), lets
/// it go, forwards a seccomp listener fd if one comes, and waits for its
/// execve.
fn supervise(
    rec: &Record,
    spec: &Spec,
    pid: Pid,
    placing: Option<(&cgroups::Entry, bool)>,
    chan: &sync::Channel,
) -> Result<()> {
    if let Some((entry, placed)) = placing {
        entry.place(pid, placed)?;
    }
    chan.send(&Msg::Go(pid.as_raw()))?;
    loop {
        match chan.recv_with_fd("the exec'd process to start") {
            // The socket closed on execve: the process runs.
            Err(SyncError::Closed { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
            Ok((Msg::Error(text), _)) => return Err(ContainerError::Init(text)),
            Ok((Msg::SeccompFd, fd)) => {
                let state = super::state::hook_state_of(rec, "running");
                super::create::send_to_seccomp_agent(spec, fd, &state)?;
                chan.send(&Msg::SeccompDone)?;
            }
            Ok((got, _)) => {
                return Err(SyncError::Unexpected {
                    expected: "error or exec",
                    got,
                }
                .into())
            }
        }
    }
}

/// The init's namespace `name`, if it is not ours.
fn open_if_other(init: i32, name: &str) -> Result<Option<OwnedFd>> {
    let theirs = format!("/proc/{init}/ns/{name}");
    match (
        std::fs::read_link(&theirs),
        std::fs::read_link(format!("/proc/self/ns/{name}")),
    ) {
        (Ok(a), Ok(b)) if a != b => {}
        _ => return Ok(None),
    }
    open(
        theirs.as_str(),
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map(Some)
    .map_err(step(format!("open {theirs}")))
}

/// Enters `ns` for our future children; returns our own to come back to.
fn enter_for_children(
    ns: Option<OwnedFd>,
    flag: CloneFlags,
    name: &str,
) -> Result<Option<OwnedFd>> {
    let Some(ns) = ns else { return Ok(None) };
    let own = open(
        format!("/proc/self/ns/{name}").as_str(),
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(step(format!("open our {name} namespace")))?;
    nix::sched::setns(ns, flag).map_err(step(format!("enter the container's {name} namespace")))?;
    Ok(Some(own))
}

fn back_to_own(own: Option<OwnedFd>, flag: CloneFlags) -> Result<()> {
    match own {
        Some(fd) => nix::sched::setns(fd, flag).map_err(step("return to the runtime's namespace")),
        None => Ok(()),
    }
}

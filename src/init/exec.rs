//! A process `husk exec` starts in a running container: it joins the
//! init's namespaces (the pid namespace was entered by the runtime for its
//! children), takes the process spec's identity, capabilities and seccomp
//! profile, and execs. Success is the sync socket closing on execve
//! (CLOEXEC); failure is an `Error` message.
//!
//! Runs in: the exec'd process, from clone to execve. Its binary is the
//! runtime's sealed memfd copy and it is not dumpable (CVE-2019-5736).

use std::convert::Infallible;
use std::os::fd::{OwnedFd, RawFd};
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxNamespaceType, LinuxSeccomp, Process};

use super::rootfs::{resolve, Root};
use super::{caps, identity, lsm, seccomp, step, InitError, Result};
use crate::process::sync::{Channel, Msg, SyncError};
use crate::sys::{linux, Sys};
use crate::terminal;

/// What the exec'd process needs, prepared by the runtime before the clone.
pub struct ExecConfig<'a> {
    pub process: &'a Process,
    /// The init's namespaces to join, user first and mount last; the pid
    /// namespace is not among them (the runtime entered it for us).
    pub namespaces: Vec<(LinuxNamespaceType, OwnedFd)>,
    pub seccomp: Option<&'a LinuxSeccomp>,
    pub console_socket: Option<RawFd>,
    pub preserve_fds: i32,
    /// The runtime is root (of its user namespace); see identity::setgroups_allowed.
    pub setgroups_allowed: bool,
    /// The host's /proc, opened by the runtime: /proc writes never go
    /// through the container's /proc (CVE-2025-52881 class).
    pub proc: &'a OwnedFd,
    /// The user namespace was joined before the clone (a rootless exec,
    /// see container::exec): the process is in it already.
    pub user_joined: bool,
    /// How the process enters the container's cgroups (cgroups::Entry).
    pub cgroup_entry: Option<&'a crate::cgroups::Entry>,
    pub affinity: Affinity,
}

/// process.execCPUAffinity as CPU numbers: parsed by the runtime before the
/// clone, so that a bad list fails before anything is made.
#[derive(Debug, Default)]
pub struct Affinity {
    pub initial: Option<Vec<usize>>,
    pub last: Option<Vec<usize>>,
}

impl Affinity {
    pub fn of(process: &Process) -> std::result::Result<Affinity, String> {
        let Some(a) = process.exec_cpu_affinity() else {
            return Ok(Affinity::default());
        };
        let parse = |which: &str, list: &Option<String>| {
            list.as_deref()
                .map(crate::units::parse_cpu_list)
                .transpose()
                .map_err(|e| format!("process.execCPUAffinity.{which}: {e}"))
        };
        Ok(Affinity {
            initial: parse("initial", a.initial())?,
            last: parse("final", a.cpu_affinity_final())?,
        })
    }
}

/// Never returns: execs the process or reports and exits 127.
pub fn main(sys: &dyn Sys, cfg: &ExecConfig, chan: Channel) -> ! {
    let e = match run(sys, cfg, &chan) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let _ = chan.send(&Msg::Error(format!("{:#}", anyhow::Error::from(e))));
    linux::exit_now(127)
}

fn run(sys: &dyn Sys, cfg: &ExecConfig, chan: &Channel) -> Result<Infallible> {
    let process = cfg.process;
    linux::set_parent_death_signal(Some(nix::sys::signal::Signal::SIGKILL))
        .map_err(step("set the parent death signal"))?;
    // process.execCPUAffinity: `initial` first thing, before the joins to
    // v1 hierarchies (on cgroup2 the process was born in its cgroup, so
    // there it is as early as a process of husk's can), and `final` just
    // before exec, after them (a cpuset join resets the affinity).
    if let Some(cpus) = &cfg.affinity.initial {
        linux::set_cpu_affinity(cpus).map_err(step(
            "set the CPU affinity of process.execCPUAffinity.initial",
        ))?;
    }
    super::join_cgroups(cfg.cgroup_entry)?;
    // sync 1: the runtime has finished putting us in the container's cgroups.
    match chan.recv_with_fd("go")?.0 {
        Msg::Go(_) => {}
        Msg::Error(e) => return Err(SyncError::Remote(e).into()),
        got => {
            return Err(SyncError::Unexpected {
                expected: "go",
                got,
            }
            .into())
        }
    }
    for (t, fd) in &cfg.namespaces {
        if *t == LinuxNamespaceType::User && cfg.user_joined {
            continue;
        }
        let flag = crate::process::namespaces::clone_flag(*t).expect("validated namespace type");
        nix::sched::setns(fd, flag).map_err(step(format!(
            "join the container's {} namespace",
            crate::process::namespaces::proc_name(*t)
        )))?;
        if *t == LinuxNamespaceType::User {
            linux::set_res_ids(0, 0).map_err(step("become root in the user namespace"))?;
        }
    }
    // Now inside the container's mount namespace: "/" is its root. The
    // working directory is resolved under it without magic links, so a
    // cwd of /proc/self/fd/N cannot reach a runtime fd (CVE-2024-21626).
    let root = Root::open(Path::new("/"))?;
    let cwd = resolve::open_in_root(root.fd(), process.cwd(), true).map_err(step(format!(
        "enter the working directory {:?}",
        process.cwd()
    )))?;
    nix::unistd::fchdir(&cwd).map_err(step(format!(
        "enter the working directory {:?}",
        process.cwd()
    )))?;
    drop(cwd);

    // oom_score_adj was set by the runtime before the clone (inherited):
    // here, non-dumpable in a user namespace, /proc/self/oom_score_adj
    // belongs to the host's root and a rootless runtime's child gets EACCES.
    identity::set_rlimits(process.rlimits().as_deref().unwrap_or(&[]))?;
    let user = process.user();
    if process.terminal() == Some(true) {
        let socket = cfg
            .console_socket
            .ok_or_else(|| step("find a console socket for the terminal")(nix::Error::EINVAL))?;
        let pty = terminal::open_in_container(sys, &root, cfg.proc, false)?;
        if let Some(size) = process.console_size() {
            terminal::set_size(
                std::os::fd::AsRawFd::as_raw_fd(&pty.master),
                size.height() as u16,
                size.width() as u16,
            )?;
        }
        let _ = nix::unistd::fchown(
            &pty.slave,
            Some(nix::unistd::Uid::from_raw(user.uid())),
            None,
        );
        terminal::send_master(socket, &pty.master, &pty.name)?;
        terminal::make_controlling(&pty.slave)?;
    } else {
        identity::chown_stdio(user.uid(), user.gid());
    }
    drop(root);
    if let Some(p) = process
        .apparmor_profile()
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        lsm::apply_apparmor(cfg.proc, p)?;
    }
    if let Some(l) = process.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        lsm::apply_selinux(cfg.proc, l)?;
    }

    // The same order as the init (see init::run): seccomp before the
    // capabilities go when no_new_privs is off, else as late as possible.
    let nnp = process.no_new_privileges() == Some(true);
    let notify = cfg.seccomp.is_some_and(seccomp::uses_notify);
    if let Some(s) = cfg.seccomp.filter(|_| !nnp) {
        super::load_seccomp(s, chan)?;
    }
    let none = super::empty_caps();
    let caps_cfg = process.capabilities().as_ref().unwrap_or(&none);
    caps::limit_bounding(caps_cfg)?;
    let in_userns = cfg
        .namespaces
        .iter()
        .any(|(t, _)| *t == LinuxNamespaceType::User);
    identity::switch_user(
        user,
        identity::setgroups_allowed(cfg.proc, cfg.setgroups_allowed || in_userns),
    )?;
    caps::apply(caps_cfg)?;
    linux::set_umask(user.umask().unwrap_or(0o022));
    if nnp {
        linux::set_no_new_privs().map_err(step("set no_new_privs"))?;
    }
    if let Some(s) = cfg.seccomp.filter(|_| nnp && notify) {
        super::load_seccomp(s, chan)?;
    }
    let exe = super::find_executable(process)?;
    linux::cloexec_from(3 + cfg.preserve_fds).map_err(step("mark fds close-on-exec"))?;
    for fd in 3..3 + cfg.preserve_fds {
        let _ = linux::clear_cloexec(fd);
    }
    if let Some(s) = cfg.seccomp.filter(|_| nnp && !notify) {
        seccomp::load(s)?;
    }
    if let Some(cpus) = &cfg.affinity.last {
        linux::set_cpu_affinity(cpus).map_err(step(
            "set the CPU affinity of process.execCPUAffinity.final",
        ))?;
    }
    // The runtime may exit as soon as we exec (--detach): do not die with it.
    linux::set_parent_death_signal(None).map_err(step("clear the parent death signal"))?;
    super::exec(&exe, process)
}

/// Opens the init's namespace files for the types the container has and
/// that differ from the runtime's own, in join order (user first, mount
/// last, pid and time excluded: the runtime handles those).
pub fn namespace_fds(
    init: i32,
    types: &[LinuxNamespaceType],
) -> Result<Vec<(LinuxNamespaceType, OwnedFd)>> {
    use LinuxNamespaceType as T;
    let order = [T::User, T::Ipc, T::Uts, T::Network, T::Cgroup, T::Mount];
    let mut out = Vec::new();
    for t in order.into_iter().filter(|t| types.contains(t)) {
        let name = crate::process::namespaces::proc_name(t);
        let theirs = format!("/proc/{init}/ns/{name}");
        // Joining our own namespace is pointless, and for a user namespace an error.
        let same = match (
            std::fs::read_link(&theirs),
            std::fs::read_link(format!("/proc/self/ns/{name}")),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if same {
            continue;
        }
        let fd = open(
            Path::new(&theirs),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|source| InitError::Step {
            what: format!("open {theirs}"),
            source,
        })?;
        out.push((t, fd));
    }
    Ok(out)
}

//! The container init: what runs in the child between clone(2) and the
//! execve of the user's process, as one checklist. Each step says why it
//! sits where it does; sync points match process::sync.
//!
//! Runs in: container init, single-threaded, in the new namespaces. It
//! never writes to stdio (the container's): errors go over the sync socket
//! while the runtime listens, to stderr after that.

pub mod caps;
pub mod exec;
pub mod identity;
pub mod lsm;
pub mod rootfs;
pub mod seccomp;

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{open, openat, OFlag};
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};

use crate::hooks;
use crate::process::fifo::{self, FifoError};
use crate::process::namespaces::NamespacePlan;
use crate::process::sync::{Channel, Msg, SyncError};
use crate::sys::{linux, Sys};
use crate::terminal::{self, TerminalError};
use rootfs::resolve::Kind;
use rootfs::{CgroupView, RootfsError};

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error(transparent)]
    Rootfs(#[from] RootfsError),
    #[error(transparent)]
    Identity(#[from] identity::IdentityError),
    #[error(transparent)]
    Caps(#[from] caps::CapsError),
    #[error(transparent)]
    Seccomp(#[from] seccomp::SeccompError),
    #[error(transparent)]
    Lsm(#[from] lsm::LsmError),
    #[error(transparent)]
    Hook(#[from] hooks::HookError),
    #[error(transparent)]
    Fifo(#[from] FifoError),
    #[error(transparent)]
    Terminal(#[from] TerminalError),
    #[error("failed to {what}")]
    Step {
        what: String,
        #[source]
        source: nix::Error,
    },
    #[error("failed to set sysctl {key}={value}")]
    Sysctl {
        key: String,
        value: String,
        #[source]
        source: std::io::Error,
    },
    #[error("exec: {arg:?}: executable file not found in $PATH")]
    NotFound { arg: String },
    #[error("exec: {arg:?}: stat {arg}: no such file or directory")]
    NoSuchFile { arg: String },
    #[error("exec: {arg:?}: permission denied")]
    NotExecutable { arg: String },
    #[error("exec {arg:?} failed")]
    Exec {
        arg: String,
        #[source]
        source: nix::Error,
    },
}

pub type Result<T, E = InitError> = std::result::Result<T, E>;

pub(crate) fn step(what: impl Into<String>) -> impl FnOnce(nix::Error) -> InitError {
    let what = what.into();
    move |source| InitError::Step { what, source }
}

/// Everything the init needs, prepared by `create` before the clone (the
/// child gets it through the copied address space; nothing is serialised).
pub struct InitConfig<'a> {
    pub id: &'a str,
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub ns: &'a NamespacePlan,
    pub fifo: &'a Path,
    /// The engine's console socket, connected by the runtime (CLOEXEC).
    pub console_socket: Option<RawFd>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: i32,
    pub cgroups: CgroupView,
    /// The runtime is root (of its user namespace): the init may call
    /// setgroups unless its user namespace denies it (identity::setgroups_allowed).
    pub setgroups_allowed: bool,
    /// The runtime's fds the init must close at once: the state directory's
    /// flock would otherwise stay held by the init until it execs.
    pub runtime_fds: Vec<RawFd>,
    /// Under a shim: the init's stdin, stdout and stderr (dup'd onto 0-2
    /// first thing); otherwise the runtime's own stdio is inherited.
    pub stdio: Option<[RawFd; 3]>,
    /// The cgroup2 directory the init is born in; it joins the v1
    /// hierarchies itself when the runtime has made them (sync 0).
    pub cgroup_entry: Option<&'a crate::cgroups::Entry>,
}

impl InitConfig<'_> {
    fn process(&self) -> &Process {
        self.spec
            .process()
            .as_ref()
            .expect("bundle validation requires a process")
    }

    fn state_json(&self, status: &str, pid: i32) -> String {
        crate::container::state::hook_state(self.spec, self.id, status, pid, self.bundle)
    }
}

/// Runs in: container init, from clone to execve. Never returns: on error
/// it reports and exits 1.
pub fn main(sys: &dyn Sys, cfg: &InitConfig, chan: Channel) -> ! {
    let mut reported = false;
    let err = match run(sys, cfg, &chan, &mut reported) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let text = format!("{:#}", anyhow::Error::from(err));
    if reported {
        // The runtime has already returned: the container's stderr is all we have.
        let _ = nix::unistd::write(std::io::stderr(), format!("husk: {text}\n").as_bytes());
    } else {
        let _ = chan.send(&Msg::Error(text));
    }
    linux::exit_now(1)
}

/// The checklist. `ready` becomes true once the runtime has been told
/// the init is set up (from then on errors go to stderr).
fn run(sys: &dyn Sys, cfg: &InitConfig, chan: &Channel, ready: &mut bool) -> Result<Infallible> {
    let process = cfg.process();
    for fd in &cfg.runtime_fds {
        let _ = nix::unistd::close(*fd);
    }
    // The v1 hierarchies we joined (sync 0), once the runtime has made them.
    let mut joined = None;
    if let Some(stdio) = cfg.stdio {
        for (to, from) in stdio.into_iter().enumerate() {
            linux::dup_onto(from, to as RawFd).map_err(step("attach the container's stdio"))?;
        }
    }
    // Die with the runtime while it is still setting us up.
    linux::set_parent_death_signal(Some(nix::sys::signal::Signal::SIGKILL))
        .map_err(step("set the parent death signal"))?;

    // sync 1: the runtime has written our id maps and finished putting us
    // in our cgroups (on kernels without CLONE_INTO_CGROUP it moves us
    // into the cgroup2 one by pid, which can wait an RCU grace period).
    // With a user namespace (maps first) or a cgroup namespace (its root
    // must be our cgroup) we must wait for it now; otherwise we set up the
    // rootfs meanwhile and wait before the hooks: none of the container's
    // own code runs before then anyway.
    let wait_first = cfg.ns.creates(LinuxNamespaceType::User)
        || cfg.ns.joins(LinuxNamespaceType::User)
        || cfg.ns.creates(LinuxNamespaceType::Cgroup);
    let mut host_pid = if wait_first {
        Some(expect_go(chan, &mut joined)?)
    } else {
        None
    };
    // From here to execve we hold the host's /proc, the caller's fds and,
    // until pivot_root, the host's root: none of it may be reachable through
    // /proc/<pid>/{fd,cwd,root,exe} by a neighbour in our pid namespace (a
    // pod's). Not dumpable, those stay closed to it (CVE-2016-9962,
    // CVE-2024-21626 class); execve makes the user's process dumpable
    // again. Without a new user namespace the runtime already cloned us so;
    // with one, only now that it has written our id maps (a rootless
    // runtime needs us dumpable for that).
    linux::set_dumpable(false).map_err(step("make the init non-dumpable"))?;
    // The fifo handle, before enter_namespaces makes us root of a user
    // namespace: as a mapped uid we could not walk the 0700 state root.
    let fifo = fifo::open_handle(cfg.fifo)?;
    enter_namespaces(cfg)?;
    if cfg.ns.creates(LinuxNamespaceType::Network) {
        linux::set_loopback_up().map_err(step("bring up the loopback interface"))?;
    }

    // The host's /proc, opened while it is still the only /proc we see:
    // every later /proc write goes through it, never through a path the
    // image controls (CVE-2025-52881 class).
    let proc = open(
        "/proc",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(step("open /proc"))?;

    // Mounts, in config order, every destination resolved in the rootfs.
    let linux_cfg = cfg.spec.linux().as_ref();
    let root = rootfs::prepare_root(
        sys,
        cfg.rootfs,
        linux_cfg.and_then(|l| l.rootfs_propagation().as_deref()),
    )?;
    let mounts = cfg.spec.mounts().as_deref().unwrap_or(&[]);
    let plan = rootfs::plan(mounts, &cfg.cgroups);
    let label = linux_cfg.and_then(|l| l.mount_label().as_deref());
    // The runtime makes our cgroup meanwhile: the mounts that show it wait
    // for it (sync 0), and see the directories it made.
    let split = plan
        .iter()
        .position(rootfs::MountOp::shows_cgroup)
        .unwrap_or(plan.len());
    rootfs::mount_all(sys, &root, &plan[..split], label)?;
    if split < plan.len() {
        let view = cfg.cgroups.keeping(await_cgroups(chan, &mut joined)?);
        // Planned again only when a rootless runtime left a hierarchy out.
        let replanned = (view != cfg.cgroups).then(|| rootfs::plan(mounts, &view));
        let rest = replanned.as_deref().unwrap_or(&plan);
        rootfs::mount_all(sys, &root, &rest[split..], label)?;
    }

    // /dev: unless the engine bind-mounted a /dev, make the standard nodes.
    let dev_is_bind = plan
        .iter()
        .any(|op| op.dest() == Path::new("/dev") && matches!(op, rootfs::MountOp::Bind { .. }));
    if !dev_is_bind {
        let nodes = rootfs::dev::nodes(
            linux_cfg
                .and_then(|l| l.devices().as_deref())
                .unwrap_or(&[]),
        );
        // In a user namespace (the container's, or the one the runtime
        // itself runs in under rootless podman) mknod of a device is refused.
        let in_userns = cfg.ns.creates(LinuxNamespaceType::User)
            || cfg.ns.joins(LinuxNamespaceType::User)
            || crate::userns::running_in_user_namespace();
        // Device nodes are made inside the devices cgroup, whose rules
        // apply to mknod (as when the init joined its cgroup first thing).
        await_cgroups(chan, &mut joined)?;
        rootfs::dev::create_nodes(sys, &root, &nodes, in_userns)?;
        let has_devpts = plan.iter().any(|op| op.dest() == Path::new("/dev/pts"));
        rootfs::dev::links(&root, has_devpts)?;
    }
    // Masked and readonly paths, after /proc and /sys exist and with a null
    // device proven to be one.
    if let Some(l) = linux_cfg {
        let null = rootfs::dev::null_device(&root)?;
        rootfs::paths::mask(
            sys,
            &root,
            l.masked_paths().as_deref().unwrap_or(&[]),
            &null,
        )?;
        rootfs::paths::make_readonly(sys, &root, l.readonly_paths().as_deref().unwrap_or(&[]))?;
    }
    // The pty lives in the container's devpts; /dev/console points at it.
    let pty = if process.terminal() == Some(true) {
        let pty = terminal::open_in_container(sys, &root, &proc, true)?;
        if let Some(size) = process.console_size() {
            terminal::set_size(
                pty_raw(&pty.master),
                size.height() as u16,
                size.width() as u16,
            )?;
        }
        Some(pty)
    } else {
        None
    };
    // The working directory, resolved inside the rootfs now (created when
    // missing) and entered by fd after pivot_root (CVE-2024-21626).
    // A magic link such as /proc/self/fd/N is refused (ELOOP).
    let cwd = rootfs::resolve::create_in_root(root.fd(), process.cwd(), Kind::Dir).map_err(
        step(format!(
            "resolve the working directory {:?} inside the rootfs",
            process.cwd()
        )),
    )?;

    let host_pid = match host_pid.take() {
        Some(pid) => pid,
        None => expect_go(chan, &mut joined)?,
    };
    // sync 2: the runtime runs prestart and createRuntime hooks (a round
    // trip of 0.2 ms, only when there are some).
    let runtime_hooks = [hooks::Kind::Prestart, hooks::Kind::CreateRuntime];
    if hooks::any(&runtime_hooks, cfg.spec.hooks().as_ref()) {
        chan.send(&Msg::Hooks)?;
        chan.expect(Msg::HooksDone, "hooks done")?;
    }
    hooks::run(
        hooks::Kind::CreateContainer,
        cfg.spec.hooks().as_ref(),
        &cfg.state_json("creating", host_pid),
    )?;

    rootfs::pivot(sys, &root, cfg.no_pivot)?;
    drop(root);
    if cfg.spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        rootfs::make_root_readonly(sys)?;
    }
    nix::unistd::fchdir(&cwd).map_err(step(format!(
        "enter the working directory {:?}",
        process.cwd()
    )))?;
    drop(cwd);

    if let Some(h) = cfg.spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        sys.sethostname(h)
            .map_err(step(format!("set hostname {h:?}")))?;
    }
    if let Some(d) = cfg.spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        sys.setdomainname(d)
            .map_err(step(format!("set domainname {d:?}")))?;
    }
    for (k, v) in linux_cfg
        .and_then(|l| l.sysctl().as_ref())
        .into_iter()
        .flatten()
    {
        write_sysctl(&proc, k, v)?;
    }
    identity::set_rlimits(process.rlimits().as_deref().unwrap_or(&[]))?;
    if !cfg.no_new_keyring {
        join_session_keyring()?;
    }
    let exe = find_executable(process)?;

    let user = process.user();
    match &pty {
        Some(p) => {
            let _ =
                nix::unistd::fchown(&p.slave, Some(nix::unistd::Uid::from_raw(user.uid())), None);
            terminal::send_master(
                cfg.console_socket
                    .expect("create checks a terminal has a console socket"),
                &p.master,
                &p.name,
            )?;
            terminal::make_controlling(&p.slave)?;
        }
        None => {
            identity::chown_stdio(user.uid(), user.gid());
            // A session of its own, as with a terminal (and as runc's
            // nsexec does): the caller's session leader is outside the
            // container's pid namespace, and CRIU refuses to checkpoint a
            // tree whose session it cannot restore.
            nix::unistd::setsid().map_err(step("start a new session"))?;
        }
    }
    drop(pty);
    if let Some(p) = process
        .apparmor_profile()
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        lsm::apply_apparmor(&proc, p)?;
    }
    if let Some(l) = process.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        lsm::apply_selinux(&proc, l)?;
    }

    // Seccomp, as late as possible: without no_new_privs loading it needs
    // CAP_SYS_ADMIN, so it comes before the capabilities are dropped; with
    // it, just before execve — unless a notify listener must get its fd
    // while the runtime is still here.
    let nnp = process.no_new_privileges() == Some(true);
    let seccomp_cfg = linux_cfg.and_then(|l| l.seccomp().as_ref());
    let notify = seccomp_cfg.is_some_and(seccomp::uses_notify);
    if let Some(s) = seccomp_cfg.filter(|_| !nnp) {
        load_seccomp(s, chan)?;
    }
    // No capabilities in the config means none, the bounding set included:
    // else a root process would regain them all at execve.
    let no_caps = empty_caps();
    let caps_cfg = process.capabilities().as_ref().unwrap_or(&no_caps);
    caps::limit_bounding(caps_cfg)?;
    let in_userns =
        cfg.ns.creates(LinuxNamespaceType::User) || cfg.ns.joins(LinuxNamespaceType::User);
    identity::switch_user(
        user,
        identity::setgroups_allowed(&proc, cfg.setgroups_allowed || in_userns),
    )?;
    caps::apply(caps_cfg)?;
    linux::set_umask(user.umask().unwrap_or(0o022));
    if nnp {
        linux::set_no_new_privs().map_err(step("set no_new_privs"))?;
    }
    if let Some(s) = seccomp_cfg.filter(|_| nnp && notify) {
        load_seccomp(s, chan)?;
    }
    // Nothing of ours may reach the user process (CVE-2024-21626).
    linux::cloexec_from(3 + cfg.preserve_fds).map_err(step("mark fds close-on-exec"))?;
    for fd in 3..3 + cfg.preserve_fds {
        let _ = linux::clear_cloexec(fd);
    }

    // sync 3: set up; `create` may return (and exit: the init must not die with it).
    linux::set_parent_death_signal(None).map_err(step("clear the parent death signal"))?;
    chan.send(&Msg::Ready)?;
    *ready = true;
    // Held open until the exec closes it: `start` waits for that.
    let _started = fifo::wait_for_start(&proc, &fifo)?;
    drop(fifo);
    if let Some(s) = seccomp_cfg.filter(|_| nnp && !notify) {
        seccomp::load(s)?;
    }
    hooks::run(
        hooks::Kind::StartContainer,
        cfg.spec.hooks().as_ref(),
        &cfg.state_json("created", host_pid),
    )?;
    drop(proc);
    exec(&exe, process)
}

fn pty_raw(fd: &OwnedFd) -> RawFd {
    use std::os::fd::AsRawFd;
    fd.as_raw_fd()
}

/// Waits for sync 1 (after sync 0, if that has not come yet) and returns
/// the init's pid as the runtime sees it.
fn expect_go(chan: &Channel, joined: &mut Option<Vec<PathBuf>>) -> Result<i32> {
    await_cgroups(chan, joined)?;
    match chan.recv_with_fd("go")?.0 {
        Msg::Go(pid) => Ok(pid),
        Msg::Error(e) => Err(SyncError::Remote(e).into()),
        got => Err(SyncError::Unexpected {
            expected: "go",
            got,
        }
        .into()),
    }
}

/// Sync 0, once: waits until the runtime has made the container's cgroup
/// and joins its v1 hierarchies through the `tasks` files that came with
/// the message. Returns their directories.
fn await_cgroups<'a>(
    chan: &Channel,
    joined: &'a mut Option<Vec<PathBuf>>,
) -> Result<&'a [PathBuf]> {
    if joined.is_none() {
        let (dirs, fds) = match chan.recv_with_fds("cgroups")? {
            (Msg::Join(dirs), fds) if fds.len() == dirs.len() => (dirs, fds),
            (Msg::Error(e), _) => return Err(SyncError::Remote(e).into()),
            (got, _) => {
                return Err(SyncError::Unexpected {
                    expected: "cgroups with a tasks file each",
                    got,
                }
                .into())
            }
        };
        crate::cgroups::join_self(dirs.iter().map(PathBuf::as_path).zip(&fds))
            .map_err(join_error)?;
        *joined = Some(dirs);
    }
    Ok(joined.as_deref().unwrap_or_default())
}

fn join_error((path, source): (PathBuf, nix::Error)) -> InitError {
    InitError::Step {
        what: format!("join cgroup {path:?}"),
        source,
    }
}

/// Runs in: an exec'd process, first thing: it moves itself into the
/// container's v1 hierarchies (cgroups::Entry).
pub(crate) fn join_cgroups(entry: Option<&crate::cgroups::Entry>) -> Result<()> {
    match entry.map(|e| e.join_self()) {
        Some(Err(e)) => Err(join_error(e)),
        _ => Ok(()),
    }
}

pub(crate) fn empty_caps() -> oci_spec::runtime::LinuxCapabilities {
    let none = Some(Default::default());
    let mut c = oci_spec::runtime::LinuxCapabilities::default();
    c.set_bounding(none.clone());
    c.set_effective(none.clone());
    c.set_inheritable(none.clone());
    c.set_permitted(none.clone());
    c.set_ambient(none);
    c
}

/// Loads the profile; with SCMP_ACT_NOTIFY, hands the listener fd to the
/// runtime (which passes it to the agent) and waits until it has.
pub(crate) fn load_seccomp(s: &oci_spec::runtime::LinuxSeccomp, chan: &Channel) -> Result<()> {
    if let Some(fd) = seccomp::load(s)? {
        chan.send_with_fd(&Msg::SeccompFd, Some(fd))?;
        let _ = nix::unistd::close(fd);
        chan.expect(Msg::SeccompDone, "seccomp done")?;
    }
    Ok(())
}

/// Joins the namespaces given by path (user first, pid by the runtime),
/// creates those clone(2) could not (with a joined user namespace they
/// must be created after joining it; the cgroup namespace after the
/// runtime moved us into our cgroup, so that it is the namespace's root).
fn enter_namespaces(cfg: &InitConfig) -> Result<()> {
    for (t, path) in &cfg.ns.join {
        if *t == LinuxNamespaceType::Pid {
            continue;
        }
        let flag = crate::process::namespaces::clone_flag(*t).expect("validated namespace type");
        let fd = open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(step(format!("open namespace {}", path.display())))?;
        nix::sched::setns(fd, flag).map_err(step(format!("join namespace {}", path.display())))?;
        if *t == LinuxNamespaceType::User {
            become_root()?;
        }
    }
    if cfg.ns.creates(LinuxNamespaceType::User) {
        become_root()?;
    }
    let later = cfg.ns.unshare_in_child();
    if !later.is_empty() {
        nix::sched::unshare(later).map_err(step("create namespaces"))?;
    }
    Ok(())
}

/// In a new or joined user namespace, become its root (uid/gid 0 must be mapped).
fn become_root() -> Result<()> {
    linux::set_res_ids(0, 0).map_err(step("become root in the user namespace"))
}

/// Writes a sysctl through the init's procfs handle; dots separate levels
/// unless the key uses slashes.
fn write_sysctl(proc: &OwnedFd, key: &str, value: &str) -> Result<()> {
    let rel = if key.contains('/') {
        key.to_string()
    } else {
        key.replace('.', "/")
    };
    let err = |source| InitError::Sysctl {
        key: key.into(),
        value: value.into(),
        source,
    };
    if rel.split('/').any(|c| c == ".." || c.is_empty()) {
        return Err(err(std::io::Error::from_raw_os_error(libc::EINVAL)));
    }
    let fd = openat(
        proc.as_fd(),
        &PathBuf::from(format!("sys/{rel}")),
        OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )
    .map_err(|e| err(e.into()))?;
    nix::unistd::write(&fd, value.as_bytes())
        .map(drop)
        .map_err(|e| err(e.into()))
}

/// A new session keyring, so the container cannot see the host's keys.
fn join_session_keyring() -> Result<()> {
    match linux::join_session_keyring() {
        Ok(()) | Err(nix::Error::ENOSYS) => Ok(()),
        Err(e) => Err(step("join a new session keyring")(e)),
    }
}

/// Finds args[0] as execve will: as given when it contains a slash, else
/// in the PATH of the process's environment. Checked before `create`
/// returns, so a missing binary is a create error (as with runc).
pub(crate) fn find_executable(process: &Process) -> Result<PathBuf> {
    let arg = process
        .args()
        .as_ref()
        .and_then(|a| a.first())
        .cloned()
        .unwrap_or_default();
    let executable = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if arg.contains('/') {
        return match executable(Path::new(&arg)) {
            Ok(true) => Ok(PathBuf::from(arg)),
            Ok(false) => Err(InitError::NotExecutable { arg }),
            Err(_) => Err(InitError::NoSuchFile { arg }),
        };
    }
    let path = process
        .env()
        .iter()
        .flatten()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let p = Path::new(dir).join(&arg);
        if let Ok(true) = executable(&p) {
            return Ok(p);
        }
    }
    Err(InitError::NotFound { arg })
}

/// Replaces the init with the user's process.
pub(crate) fn exec(exe: &Path, process: &Process) -> Result<Infallible> {
    let cstr = |s: &[u8]| {
        CString::new(s).map_err(|_| step("pass an argument with a NUL byte")(nix::Error::EINVAL))
    };
    let path = cstr(exe.as_os_str().as_bytes())?;
    let argv = process
        .args()
        .iter()
        .flatten()
        .map(|a| cstr(a.as_bytes()))
        .collect::<Result<Vec<_>>>()?;
    let envp = process
        .env()
        .iter()
        .flatten()
        .map(|e| cstr(e.as_bytes()))
        .collect::<Result<Vec<_>>>()?;
    linux::reset_signals();
    let e = linux::execve(&path, &argv, &envp);
    Err(InitError::Exec {
        arg: argv
            .first()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default(),
        source: e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(args: &[&str], env: &[&str]) -> Process {
        let mut p = Process::default();
        p.set_args(Some(args.iter().map(|s| s.to_string()).collect()));
        p.set_env(Some(env.iter().map(|s| s.to_string()).collect()));
        p
    }

    #[test]
    fn executable_found_in_path_of_process_env() {
        let p = process(&["sh"], &["PATH=/nonexistent:/bin"]);
        assert_eq!(find_executable(&p).unwrap(), Path::new("/bin/sh"));
    }

    #[test]
    fn missing_executable_says_not_found_in_path() {
        let p = process(&["no-such-prog-husk"], &["PATH=/bin"]);
        assert_eq!(
            find_executable(&p).unwrap_err().to_string(),
            "exec: \"no-such-prog-husk\": executable file not found in $PATH"
        );
        let p = process(&["/no/such"], &[]);
        assert!(find_executable(&p)
            .unwrap_err()
            .to_string()
            .contains("no such file"));
    }

    #[test]
    fn empty_capabilities_cover_all_sets() {
        let c = empty_caps();
        assert!(c.bounding().as_ref().unwrap().is_empty());
        assert!(c.ambient().as_ref().unwrap().is_empty());
    }
}

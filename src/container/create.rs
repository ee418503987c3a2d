//! `create`: validate the bundle, record the container, make its cgroup,
//! clone the init into its namespaces, see it through its setup, and return
//! with the init blocked on exec.fifo. On any failure everything made so
//! far is undone: process, cgroup, state directory.
//!
//! Runs in: the runtime. The init side is `init::run`.

use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::{step, ContainerError, Result};
use crate::bundle::Bundle;
use crate::cgroups::{self, Driver, Layout, Part};
use crate::hooks;
use crate::init::rootfs::CgroupView;
use crate::init::{self, InitConfig};
use crate::lifecycle::Phase;
use crate::process::namespaces::{self, NamespacePlan};
use crate::process::sync::{self, Channel, Msg};
use crate::process::{self, fifo};
use crate::store::{CgroupRecord, Locked, Record, Store, EXEC_FIFO};
use crate::sys::linux::{self, Forked};
use crate::sys::LinuxSys;
use crate::terminal;

/// Who becomes the parent of the container init, and so collects its exit.
#[derive(Debug, Default)]
pub enum Monitor {
    /// The caller: an engine that reaps its children (conmon,
    /// containerd-shim), or `run` waiting in the foreground.
    #[default]
    Caller,
    /// A new shim, started for this container (create and `run -d` from a
    /// shell); the container's stdout and stderr go to its logs.
    NewShim,
    /// The running shim, recreating its container for a restart: the
    /// init's stdin, stdout and stderr are these.
    Existing { stdio: [OwnedFd; 3] },
}

/// What `create` and `run` were asked for on the command line.
#[derive(Debug, Default)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// `run` in the foreground with a terminal: husk's own end of a
    /// socketpair stands in for the engine's console socket.
    pub console_fd: Option<OwnedFd>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: i32,
    pub monitor: Monitor,
    /// Shim policy from the command line; laid over the bundle's `husk.*` annotations.
    pub policy: crate::shim::policy::Settings,
    /// `run`: the container is started at once. create opens exec.fifo for
    /// reading itself, so that the init goes on to exec as soon as it is
    /// set up, while create and start record it (`Created::fifo`). Not
    /// with a terminal: `run` sets its size between create and start.
    pub start_at_once: bool,
}

/// A container whose init is blocked on exec.fifo.
pub struct Created {
    pub container: Locked,
    pub pid: Pid,
    pub spec: Spec,
    /// With `start_at_once`: the read end of exec.fifo, for `start_with`.
    pub fifo: Option<OwnedFd>,
}

/// What has been made so far, for the undo on failure.
#[derive(Default)]
struct Progress {
    cgroup: Option<Box<dyn Driver>>,
    child: Option<Pid>,
    /// The init is our own child (not the shim's): reap it on undo.
    child_is_ours: bool,
    /// A shim waiting for our word; dropping it makes it kill the init and go.
    shim: Option<crate::shim::spawn::Pending>,
    /// The read end of exec.fifo, with `start_at_once`.
    fifo: Option<OwnedFd>,
}

pub fn create(store: &Store, id: &str, opts: CreateOptions) -> Result<Created> {
    crate::store::validate_id(id)?;
    let bundle = Bundle::load(&opts.bundle)?;
    check_terminal(&bundle.spec, &opts)?;
    let record = new_record(id, &bundle, &opts.policy)?;
    let ct = store.create(id, record)?;
    build(ct, bundle, opts, true)
}

/// The first record of a new container (`create`, `restore`): phase
/// creating, the bundle's annotations, and the shim's policy from them with
/// the command line's flags laid over.
pub(crate) fn new_record(
    id: &str,
    bundle: &Bundle,
    flags: &crate::shim::policy::Settings,
) -> Result<Record> {
    let annotations: std::collections::BTreeMap<String, String> = bundle
        .spec
        .annotations()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let policy = crate::shim::policy::Settings::from_annotations(&annotations)
        .overlaid(flags.clone())
        .policy()
        .map_err(|e| ContainerError::Usage(e.to_string()))?;
    let mut record = Record {
        id: id.into(),
        phase: Phase::Creating,
        pid: 0,
        pid_start: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        oci_version: bundle.spec.version().clone(),
        created: crate::timestamp::now(),
        annotations,
        cgroup: Default::default(),
        owner: String::new(),
        started: None,
        exit: None,
        restart_count: 0,
        own_pid_ns: false,
        resources: None,
        shim: None,
        logs: false,
        policy,
        stop: None,
        health: None,
    };
    // With a health check the container is `starting` from the moment it
    // exists, not from when the shim gets round to its first write.
    if record.policy.health.is_some() {
        record.health = serde_json::to_value(crate::shim::health::HealthState::new()).ok();
    }
    Ok(record)
}

/// A restart: the same container, id and state directory (record, logs,
/// events kept), a new init from the stored config. The running shim
/// passes `Monitor::Existing`; `husk restart` a new shim or the caller.
pub fn recreate(store: &Store, id: &str, monitor: Monitor) -> Result<Created> {
    let mut ct = store.lock(id)?;
    // The shim decided on this restart before taking the lock: a stop or
    // delete that came in between wins, and its record must survive.
    if matches!(monitor, Monitor::Existing { .. })
        && (ct.record.stop.is_some() || ct.record.phase != Phase::Restarting)
    {
        return Err(ContainerError::Usage(format!(
            "restart of container {id:?} cancelled: it was stopped meanwhile"
        )));
    }
    if matches!(monitor, Monitor::Existing { .. }) {
        // Counted under the same lock that allowed it: a stop that comes
        // after sees the count final.
        ct.record.restart_count += 1;
    }
    // Whatever is left of the last run goes first.
    if let Some(cg) = cgroups::from_record(&ct.record.cgroup) {
        super::kill::signal_all(&ct, Signal::SIGKILL).ok();
        cg.remove()?;
    }
    let _ = fs::remove_file(ct.path(EXEC_FIFO));
    let config_bytes = fs::read(ct.path(crate::store::CONFIG_FILE)).map_err(|source| {
        crate::store::StoreError::Read {
            path: ct.path(crate::store::CONFIG_FILE),
            source,
        }
    })?;
    let spec = crate::bundle::parse(&config_bytes).map_err(|msg| {
        crate::bundle::BundleError::ParseConfig {
            path: ct.path(crate::store::CONFIG_FILE),
            msg,
        }
    })?;
    let bundle = Bundle {
        dir: ct.record.bundle.clone(),
        config_bytes,
        spec,
        rootfs: ct.record.rootfs.clone(),
    };
    ct.record.phase = Phase::Creating;
    ct.record.exit = None;
    ct.record.stop = None;
    ct.record.cgroup = Default::default();
    let opts = CreateOptions {
        monitor,
        ..Default::default()
    };
    build(ct, bundle, opts, false)
}

/// Sets the container up from its locked record; on failure undoes what
/// was done (removing the state directory only for a new container).
fn build(mut ct: Locked, bundle: Bundle, mut opts: CreateOptions, fresh: bool) -> Result<Created> {
    let mut progress = Progress::default();
    match setup(&mut ct, &bundle, &mut opts, &mut progress) {
        Ok(pid) => {
            crate::shim::events::append(
                &ct.dir,
                &crate::shim::events::Event::new("created", &ct.id).with("pid", pid.as_raw()),
            );
            if let Some(shim) = progress.shim.take() {
                shim.release();
            }
            Ok(Created {
                container: ct,
                pid,
                spec: bundle.spec,
                fifo: progress.fifo.take(),
            })
        }
        Err(e) => Err(undo(ct, progress, e, fresh)),
    }
}

/// runc's rules: a terminal needs somewhere to send its master, and a
/// console socket is useless without a terminal.
fn check_terminal(spec: &Spec, opts: &CreateOptions) -> Result<()> {
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()) == Some(true);
    let socket = opts.console_socket.is_some() || opts.console_fd.is_some();
    if terminal && !socket {
        return Err(ContainerError::Usage(
            "process.terminal is true but no --console-socket was given: cannot allocate a pseudo-terminal when detached".into(),
        ));
    }
    if !terminal && opts.console_socket.is_some() {
        return Err(ContainerError::Usage(
            "--console-socket was given but process.terminal is false".into(),
        ));
    }
    Ok(())
}

fn setup(
    ct: &mut Locked,
    bundle: &Bundle,
    opts: &mut CreateOptions,
    progress: &mut Progress,
) -> Result<Pid> {
    ct.save()?;
    let spec = &bundle.spec;
    let linux_cfg = spec.linux().as_ref();
    let ns = NamespacePlan::from_config(
        linux_cfg
            .and_then(|l| l.namespaces().as_deref())
            .unwrap_or(&[]),
    );
    // Keep a copy of the config: later commands must not depend on the bundle.
    fs::write(ct.path(crate::store::CONFIG_FILE), &bundle.config_bytes).map_err(|source| {
        crate::store::StoreError::Write {
            path: ct.path(crate::store::CONFIG_FILE),
            source,
        }
    })?;

    // The cgroup2 directory before the init exists: it is cloned into it.
    // The rest of the cgroup (the v1 hierarchies) and every limit follow
    // while the init sets up what needs no cgroup (finish_cgroup): it
    // joins them before the first mount that shows them and before sync 1,
    // so nothing of the container ever runs outside them or unlimited.
    let layout = Layout::detect()?;
    // Rootless: cgroups only where delegated (see cgroups::Rootless).
    let rootless = crate::userns::rootless();
    let mut cg = cgroups::for_new(
        &layout,
        linux_cfg.and_then(|l| l.cgroups_path().as_deref()),
        &ct.id,
        rootless,
    )?;
    let created = cg.create(Part::CloneTarget);
    progress.cgroup = Some(cg);
    created?;
    // The directories planned: the init's view of them (it keeps those it
    // joins) until finish_cgroup has the final record.
    ct.record.cgroup = progress.cgroup.as_ref().expect("just set").record();
    ct.record.own_pid_ns = ns.private_pid();

    let fifo_path = ct.path(EXEC_FIFO);
    fifo::make(&fifo_path)?;
    let console = match (&opts.console_socket, opts.console_fd.take()) {
        (_, Some(fd)) => Some(fd),
        (Some(path), None) => Some(terminal::connect(path)?),
        (None, None) => None,
    };
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()) == Some(true);
    // The init's stdio: the caller's, or (under a shim) /dev/null and the
    // pipes the shim reads into the logs.
    let mut log_pipes = None;
    let under_new_shim = matches!(opts.monitor, Monitor::NewShim);
    let stdio: Option<[OwnedFd; 3]> = match std::mem::take(&mut opts.monitor) {
        Monitor::Caller => None,
        Monitor::Existing { stdio } => Some(stdio),
        Monitor::NewShim if terminal => None,
        Monitor::NewShim => {
            // The shim makes logs/ when the container first writes: a silent
            // container costs no files (two inodes less per container).
            ct.record.logs = true;
            let (stdio, pipes) = crate::shim::spawn::log_pipes()?;
            log_pipes = Some(pipes);
            Some(stdio)
        }
    };
    let (parent_end, child_end) = sync::pair()?;
    let entry = match progress.cgroup.as_deref() {
        Some(cg) => Some(cgroups::Entry::clone_target(cg)?),
        None => None,
    };
    let cfg = InitConfig {
        id: &ct.id,
        spec,
        bundle: &bundle.dir,
        rootfs: &bundle.rootfs,
        ns: &ns,
        fifo: &fifo_path,
        console_socket: console.as_ref().map(|c| c.as_raw_fd()),
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        preserve_fds: opts.preserve_fds,
        cgroups: cgroup_view(
            &layout,
            &ct.record.cgroup,
            ns.creates(LinuxNamespaceType::Cgroup),
        ),
        setgroups_allowed: nix::unistd::geteuid().is_root(),
        runtime_fds: vec![ct.lock_fd(), parent_end.raw_fd()],
        cgroup_entry: entry.as_ref(),
        stdio: stdio
            .as_ref()
            .map(|s| [s[0].as_raw_fd(), s[1].as_raw_fd(), s[2].as_raw_fd()]),
    };

    let (pid, placed) = if under_new_shim {
        let (pid, placed, pending) =
            crate::shim::spawn::launch(&cfg, spec, ct, child_end, log_pipes)?;
        progress.child = Some(pid);
        progress.shim = Some(pending);
        (pid, placed)
    } else {
        let (pid, placed) = spawn_init(&cfg, spec, child_end)?;
        progress.child = Some(pid);
        progress.child_is_ours = true;
        (pid, placed)
    };
    drop(stdio);
    // While the init sets up: its start time (which tells it from a later
    // process with its pid) and the rest of its cgroup.
    let pid_start = process::stat(pid).map(|s| s.start).unwrap_or(0);
    if opts.start_at_once && !terminal {
        progress.fifo = Some(fifo::open_reader(&fifo_path)?);
    }
    let (join, cgroup_record) = finish_cgroup(spec, progress)?;
    supervise_setup(&cfg, spec, pid, placed, &parent_end, progress, join)?;
    ct.record.cgroup = cgroup_record;
    ct.record.pid = pid.as_raw();
    ct.record.pid_start = pid_start;
    ct.record.phase = Phase::Created;
    if let Some(shim) = &progress.shim {
        ct.record.shim = crate::store::ProcessRef::of(shim.pid().as_raw());
    }
    ct.save()?;
    if let Some(p) = &opts.pid_file {
        write_pid_file(p, pid)?;
    }
    Ok(pid)
}

/// Runs while the init sets up what needs no cgroup: makes the rest of its
/// cgroup (the v1 hierarchies) and applies the config's limits. Returns
/// the `tasks` files the init joins (Msg::Join) and the cgroup's record.
fn finish_cgroup(
    spec: &Spec,
    progress: &mut Progress,
) -> Result<(Vec<(PathBuf, OwnedFd)>, CgroupRecord)> {
    let cg = progress
        .cgroup
        .as_mut()
        .expect("setup made the cgroup first");
    cg.create(Part::Rest)?;
    if let Some(res) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()) {
        cg.apply(res)?;
    }
    let mut rec = cg.record();
    // A cgroup we did not make may have seen OOM kills already: the shim
    // counts only those after this point.
    if !rec.paths.values().all(|p| rec.created.contains(p)) {
        rec.oom_base = cg.oom_kills();
    }
    Ok((cgroups::Entry::open_tasks(cg.as_ref())?, rec))
}

/// Clones the init (the child never returns from here). The flag says
/// whether it was born in its cgroup (cgroup v2) or still has to be moved.
pub(crate) fn spawn_init(cfg: &InitConfig, spec: &Spec, child_end: Channel) -> Result<(Pid, bool)> {
    // The init is in its pid namespace (maybe a pod's, shared) from its
    // first instruction, holding the host's root and our caller's fds: it
    // must be born non-dumpable, so that no process there can open
    // /proc/<pid>/{fd,cwd,root,exe} (CVE-2024-21626 class, CVE-2019-5736).
    // With a new user namespace it must stay dumpable until we have written
    // its id maps (as a rootless runtime we could not, else); it drops that
    // itself at sync 1.
    if !cfg.ns.creates(LinuxNamespaceType::User) {
        linux::set_dumpable(false).map_err(step("make the runtime non-dumpable"))?;
    }
    // A rootless runtime cannot come back from a pid or time namespace it
    // switched to for its children: setns(2) to its own needs
    // CAP_SYS_ADMIN in the user namespace owning that, the initial one.
    if crate::userns::rootless() && switches_runtime_side_namespaces(cfg.ns) {
        return spawn_init_from_first_child(cfg, spec, child_end);
    }
    let restore = enter_runtime_side_namespaces(cfg.ns, spec)?;
    let (forked, placed) = clone_init(cfg, CloneFlags::empty());
    if let Ok(Forked::Child) = forked {
        // The child never returns into the runtime's code: init::main ends in
        // execve or exit. (It must not undo the parent's namespace switch either.)
        init::main(&LinuxSys, cfg, child_end)
    }
    restore.back()?;
    match forked.map_err(step("clone the container init"))? {
        Forked::Child => unreachable!("the child branch never returns"),
        Forked::Parent(pid) => {
            drop(child_end);
            log::debug!("container {}: init is pid {pid}", cfg.id);
            Ok((pid, placed))
        }
    }
}

/// Clones the init, into its cgroup2 directory where there is one (the
/// flag says whether it was born there).
fn clone_init(cfg: &InitConfig, extra: CloneFlags) -> (nix::Result<Forked>, bool) {
    let into = cfg.cgroup_entry.and_then(|e| e.clone_fd());
    crate::process::clone_in(cfg.ns.clone_flags() | extra, into)
}

/// Rootless with a joined pid namespace or a new time namespace: a first
/// child switches to them for good and clones the init with CLONE_PARENT,
/// so that it is our child all the same (as exec does, and runc's nsexec);
/// it reports the init's pid and exits.
fn spawn_init_from_first_child(
    cfg: &InitConfig,
    spec: &Spec,
    child_end: Channel,
) -> Result<(Pid, bool)> {
    let (report_r, report_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(step("make the init report pipe"))?;
    let first = match linux::clone_process(CloneFlags::empty())
        .map_err(step("clone the container init"))?
    {
        Forked::Child => {
            // Runs in: the first child of a rootless create, until the init is cloned.
            drop(report_r);
            let text = match enter_runtime_side_namespaces(cfg.ns, spec) {
                Err(e) => format!("E {:#}", anyhow::Error::from(e)),
                Ok(_stay) => match clone_init(cfg, CloneFlags::CLONE_PARENT) {
                    (Ok(Forked::Child), _) => {
                        drop(report_w);
                        init::main(&LinuxSys, cfg, child_end)
                    }
                    (Ok(Forked::Parent(pid)), placed) => format!("{pid} {}", u8::from(placed)),
                    (Err(e), _) => format!(
                        "E {:#}",
                        anyhow::Error::from(step("clone the container init")(e))
                    ),
                },
            };
            let _ = nix::unistd::write(&report_w, text.as_bytes());
            linux::exit_now(0)
        }
        Forked::Parent(pid) => pid,
    };
    drop(report_w);
    drop(child_end);
    let text = super::first_child_report(report_r, first, "init")?;
    let mut f = text.split_whitespace().map(str::parse::<i32>);
    match (f.next(), f.next()) {
        (Some(Ok(pid)), Some(Ok(placed))) => {
            log::debug!("container {}: init is pid {pid}", cfg.id);
            Ok((Pid::from_raw(pid), placed == 1))
        }
        _ => Err(ContainerError::Init(format!(
            "the process cloning the init ended without its pid ({text:?})"
        ))),
    }
}

/// Walks a freshly cloned init through sync points 1–3.
fn supervise_setup(
    cfg: &InitConfig,
    spec: &Spec,
    pid: Pid,
    placed: bool,
    parent_end: &Channel,
    progress: &Progress,
    join: Vec<(PathBuf, OwnedFd)>,
) -> Result<()> {
    if cfg.ns.creates(LinuxNamespaceType::User) {
        write_id_maps(pid, spec)?;
    }
    if let Some(adj) = spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        write_oom_score_adj(pid, adj)?;
    }
    // The init may fail in its early setup (it does not always wait for
    // sync 1): if it is gone, its own message is the error to report.
    let init_error = || match parent_end.recv_with_fd("its error") {
        Ok((Msg::Error(text), _)) => ContainerError::Init(text),
        _ => died_during_setup(pid, progress.child_is_ours),
    };
    // sync 0: the init joins its v1 hierarchies itself (cgroups::Entry);
    // the cgroup2 directory is ours to finish where clone3 could not place it.
    let (dirs, fds): (Vec<PathBuf>, Vec<OwnedFd>) = join.into_iter().unzip();
    let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    if parent_end.send_with_fds(&Msg::Join(dirs), &raw).is_err() {
        return Err(init_error());
    }
    drop(fds);
    if let Some(entry) = cfg.cgroup_entry {
        if let Err(e) = entry.place(pid, placed) {
            let gone = crate::process::stat(pid).is_none_or(|s| s.state == b'Z');
            return Err(if gone { init_error() } else { e.into() });
        }
    }
    // sync 1
    if parent_end.send(&Msg::Go(pid.as_raw())).is_err() {
        return Err(init_error());
    }
    loop {
        let (msg, fd) = match parent_end.recv_with_fd("its setup") {
            Ok(m) => m,
            Err(sync::SyncError::Closed { .. }) => {
                return Err(died_during_setup(pid, progress.child_is_ours))
            }
            Err(e) => return Err(e.into()),
        };
        match msg {
            Msg::Hooks => {
                // sync 2: the namespaces exist, the rootfs is mounted.
                let state =
                    super::state::hook_state(spec, cfg.id, "creating", pid.as_raw(), cfg.bundle);
                let r = hooks::run(hooks::Kind::Prestart, spec.hooks().as_ref(), &state).and_then(
                    |_| hooks::run(hooks::Kind::CreateRuntime, spec.hooks().as_ref(), &state),
                );
                if let Err(e) = r {
                    let _ = parent_end.send(&Msg::Error(e.to_string()));
                    return Err(e.into());
                }
                parent_end.send(&Msg::HooksDone)?;
            }
            Msg::SeccompFd => {
                let state =
                    super::state::hook_state(spec, cfg.id, "creating", pid.as_raw(), cfg.bundle);
                send_to_seccomp_agent(spec, fd, &state)?;
                parent_end.send(&Msg::SeccompDone)?;
            }
            Msg::Ready => return Ok(()), // sync 3
            Msg::Error(text) => return Err(ContainerError::Init(text)),
            got => {
                return Err(sync::SyncError::Unexpected {
                    expected: "hooks, seccomp or ready",
                    got,
                }
                .into())
            }
        }
    }
}

/// The init vanished without a word: say how it died (a SIGKILL during
/// setup is nearly always the memory limit).
fn died_during_setup(pid: Pid, ours: bool) -> ContainerError {
    // Under a shim the init is not our child: its status is the shim's to reap.
    let status = if ours {
        linux::wait_raw(pid, 0).ok()
    } else {
        None
    };
    let how = match status {
        Some((_, st)) if libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == libc::SIGKILL => {
            "was killed by SIGKILL during its setup (is the memory limit too low?)".to_string()
        }
        Some((_, st)) if libc::WIFSIGNALED(st) => format!(
            "was killed by signal {} during its setup",
            libc::WTERMSIG(st)
        ),
        Some((_, st)) if libc::WIFEXITED(st) => format!(
            "exited with status {} during its setup",
            libc::WEXITSTATUS(st)
        ),
        _ => "exited during its setup".to_string(),
    };
    ContainerError::Init(format!("the container init {how}"))
}

/// The namespaces the runtime itself must switch before the clone (a
/// joined pid namespace, a new time namespace: both apply to children
/// only), and how to switch back after it.
struct Restore {
    pid: Option<OwnedFd>,
    time: Option<OwnedFd>,
}

impl Restore {
    fn back(self) -> Result<()> {
        if let Some(fd) = self.pid {
            nix::sched::setns(fd, CloneFlags::CLONE_NEWPID)
                .map_err(step("return to the runtime's pid namespace"))?;
        }
        if let Some(fd) = self.time {
            nix::sched::setns(fd, CloneFlags::from_bits_retain(namespaces::CLONE_NEWTIME))
                .map_err(step("return to the runtime's time namespace"))?;
        }
        Ok(())
    }
}

/// Does the runtime switch namespaces for its children before the clone?
fn switches_runtime_side_namespaces(ns: &NamespacePlan) -> bool {
    ns.join.iter().any(|(t, _)| *t == LinuxNamespaceType::Pid)
        || ns.creates(LinuxNamespaceType::Time)
}

fn enter_runtime_side_namespaces(ns: &NamespacePlan, spec: &Spec) -> Result<Restore> {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    let own = |name: &str| {
        open(
            &PathBuf::from(format!("/proc/self/ns/{name}")),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(step(format!("open the runtime's {name} namespace")))
    };
    let mut restore = Restore {
        pid: None,
        time: None,
    };
    if let Some((_, path)) = ns.join.iter().find(|(t, _)| *t == LinuxNamespaceType::Pid) {
        restore.pid = Some(own("pid")?);
        let fd = open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(step(format!("open {}", path.display())))?;
        nix::sched::setns(fd, CloneFlags::CLONE_NEWPID)
            .map_err(step(format!("join pid namespace {}", path.display())))?;
    }
    if ns.creates(LinuxNamespaceType::Time) {
        restore.time = Some(own("time")?);
        nix::sched::unshare(CloneFlags::from_bits_retain(namespaces::CLONE_NEWTIME))
            .map_err(step("create a time namespace"))?;
        let mut text = String::new();
        for (clock, off) in spec
            .linux()
            .as_ref()
            .and_then(|l| l.time_offsets().as_ref())
            .into_iter()
            .flatten()
        {
            text.push_str(&format!(
                "{clock} {} {}\n",
                off.secs().unwrap_or(0),
                off.nanosecs().unwrap_or(0)
            ));
        }
        if !text.is_empty() {
            fs::write("/proc/self/timens_offsets", text).map_err(|e| {
                step("write linux.timeOffsets")(nix::Error::from_raw(
                    e.raw_os_error().unwrap_or(libc::EIO),
                ))
            })?;
        }
    }
    Ok(restore)
}

/// Writes uid_map and gid_map of the init's new user namespace: itself
/// when the kernel allows, else through newuidmap/newgidmap (see userns).
fn write_id_maps(pid: Pid, spec: &Spec) -> Result<()> {
    let linux_cfg = spec
        .linux()
        .as_ref()
        .expect("a user namespace comes from linux.namespaces");
    let none = Vec::new();
    crate::userns::write_id_maps(
        pid,
        linux_cfg.uid_mappings().as_ref().unwrap_or(&none),
        linux_cfg.gid_mappings().as_ref().unwrap_or(&none),
    )?;
    Ok(())
}

/// Sets the init's oom_score_adj (inherited by the user's process) from
/// here, like runc: once the init is not dumpable its /proc files belong to
/// the host's root, which a root mapped in a user namespace is not.
fn write_oom_score_adj(pid: Pid, adj: i32) -> Result<()> {
    fs::write(format!("/proc/{pid}/oom_score_adj"), adj.to_string()).map_err(|e| {
        step(format!("set oom_score_adj to {adj}"))(nix::Error::from_raw(
            e.raw_os_error().unwrap_or(libc::EIO),
        ))
    })
}

/// Passes the seccomp listener fd and the container process state to the
/// agent listening at linux.seccomp.listenerPath (runtime-spec config-linux
/// "The Container Process State": ociVersion, fds, pid, metadata only when
/// listenerMetadata is set, and the full container state, pid included).
pub(crate) fn send_to_seccomp_agent(spec: &Spec, fd: Option<OwnedFd>, state: &str) -> Result<()> {
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let path = seccomp.and_then(|s| s.listener_path().as_ref());
    let (Some(path), Some(fd)) = (path, fd) else {
        return Err(ContainerError::Usage(
            "seccomp notify fd arrived without a listenerPath".into(),
        ));
    };
    let doc = process_state(spec, state);
    let sock = std::os::unix::net::UnixStream::connect(path).map_err(|source| {
        ContainerError::SeccompAgent {
            path: path.clone(),
            source,
        }
    })?;
    let bytes = doc.to_string();
    let fds = [fd.as_raw_fd()];
    let cmsg = [nix::sys::socket::ControlMessage::ScmRights(&fds)];
    nix::sys::socket::sendmsg::<()>(
        sock.as_raw_fd(),
        &[std::io::IoSlice::new(bytes.as_bytes())],
        &cmsg,
        nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(step(format!("send the seccomp fd to {}", path.display())))?;
    Ok(())
}

/// The container process state sent to a seccomp agent, around the OCI
/// state document `state`.
fn process_state(spec: &Spec, state: &str) -> serde_json::Value {
    let st: serde_json::Value = serde_json::from_str(state).unwrap_or_default();
    let mut doc = serde_json::json!({
        "ociVersion": spec.version(),
        "fds": ["seccompFd"],
        "pid": st["pid"].clone(),
        "state": st,
    });
    let metadata = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .and_then(|s| s.listener_metadata().clone());
    if let Some(m) = metadata {
        doc["metadata"] = m.into();
    }
    doc
}

/// How the container's /sys/fs/cgroup should look, from its cgroup record.
pub(crate) fn cgroup_view(
    layout: &Layout,
    rec: &crate::store::CgroupRecord,
    cgroupns: bool,
) -> CgroupView {
    if rec.driver == "v2" {
        return CgroupView {
            v1: vec![],
            v2: rec.paths.get("").cloned(),
            cgroupns,
        };
    }
    let v1 = layout
        .v1
        .iter()
        .filter_map(|m| {
            let dir = rec.paths.get(&m.controllers)?;
            let name = m.mountpoint.file_name()?.to_string_lossy().into_owned();
            Some((name, dir.clone()))
        })
        .collect();
    CgroupView {
        v1,
        v2: None,
        cgroupns,
    }
}

/// Undoes a failed create: kills the init, removes the cgroup and (for a
/// new container) the state directory. Reports the original error, and
/// the cleanup's if it failed too.
fn undo(ct: Locked, progress: Progress, error: ContainerError, remove_dir: bool) -> ContainerError {
    let mut problems = Vec::new();
    if let Some(pid) = progress.child {
        let pidfd = linux::pidfd_open(pid).ok();
        let _ = linux::kill(pid, Signal::SIGKILL);
        if progress.child_is_ours {
            let _ = linux::wait_raw(pid, 0);
        } else if let Some(fd) = pidfd {
            // The shim reaps it; wait until it is gone before removing its cgroup.
            let mut fds = [nix::poll::PollFd::new(
                std::os::fd::AsFd::as_fd(&fd),
                nix::poll::PollFlags::POLLIN,
            )];
            let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(5000u16));
        }
    }
    // Dropping the pending shim tells it to go without ever taking over.
    drop(progress.shim);
    if let Some(cg) = progress.cgroup {
        if let Err(e) = cg.remove() {
            problems.push(format!("{:#}", anyhow::Error::from(e)));
        }
    }
    if remove_dir {
        if let Err(e) = ct.remove() {
            problems.push(format!("{:#}", anyhow::Error::from(e)));
        }
    } else {
        let mut ct = ct;
        ct.record.phase = Phase::Error;
        let _ = ct.save();
    }
    if problems.is_empty() {
        error
    } else {
        ContainerError::Cleanup {
            error: Box::new(error),
            cleanup: problems.join("; "),
        }
    }
}

/// Writes the pid file atomically (temp file + rename), as runc does.
pub fn write_pid_file(path: &Path, pid: Pid) -> Result<()> {
    let err = |source| ContainerError::PidFile {
        path: path.into(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| err(std::io::Error::from_raw_os_error(libc::EISDIR)))?;
    let tmp = dir.join(format!(".{}.husk-tmp", name.to_string_lossy()));
    let mut f = fs::File::create(&tmp).map_err(err)?;
    f.write_all(pid.to_string().as_bytes()).map_err(err)?;
    drop(f);
    fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(seccomp: &str) -> Spec {
        crate::bundle::parse(
            format!(
                r#"{{"ociVersion":"1.2.0","root":{{"path":"rootfs"}},
                "process":{{"args":["sh"],"cwd":"/","user":{{"uid":0,"gid":0}}}},
                "linux":{{"seccomp":{seccomp}}}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn seccomp_process_state_follows_the_runtime_spec() {
        let s = spec(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock",
            "listenerMetadata":"meta","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        );
        let state = r#"{"ociVersion":"1.2.0","id":"c","status":"creating","pid":42,"bundle":"/b"}"#;
        let doc = process_state(&s, state);
        assert_eq!(doc["fds"], serde_json::json!(["seccompFd"]));
        assert_eq!(doc["pid"], 42);
        // The state keeps its pid: it is a whole OCI state document.
        assert_eq!(doc["state"]["pid"], 42);
        assert_eq!(doc["state"]["id"], "c");
        assert_eq!(doc["metadata"], "meta");
        assert_eq!(doc["ociVersion"], "1.2.0");
    }

    #[test]
    fn seccomp_process_state_leaves_out_absent_metadata() {
        let s = spec(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock",
            "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        );
        let doc = process_state(&s, r#"{"pid":1}"#);
        assert!(doc.get("metadata").is_none(), "{doc}");
    }
}

//! `restore`: a new container from a checkpoint. Like `create` it
//! validates the bundle, records the container and makes its cgroup; then
//! CRIU, placed in that cgroup, restores the processes as a sibling of
//! itself: husk's child, or (detached under a shim) the shim's, which runs
//! criu for that reason. The processes go on where the dump left them, so
//! the container is running at once. On any failure everything made so
//! far is undone: processes, the rootfs mount, cgroup, state directory.
//!
//! Runs in: the runtime (and, under a new shim, the shim-to-be).

use std::fs;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::mount::{MntFlags, MsFlags};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxNamespaceType;

use super::create::{self, Monitor};
use super::{step, ContainerError, Result};
use crate::bundle::Bundle;
use crate::cgroups::{self, Driver, Layout};
use crate::criu::{self, CgroupsMode, CriuError, Meta, MountSource};
use crate::lifecycle::Phase;
use crate::process::namespaces::NamespacePlan;
use crate::store::{Locked, Store};
use crate::sys::linux;

/// CRIU writes the restored init's pid here (in the state directory).
const PID_FILE: &str = "criu.pid";
/// The action script (in the state directory).
const ACTION_SCRIPT: &str = "criu-action";

/// runc's restore flags.
#[derive(Debug, Default)]
pub struct RestoreOptions {
    pub images: PathBuf,
    /// CRIU's logs and scratch files (default: the image directory).
    pub work: Option<PathBuf>,
    /// Default: the bundle the checkpoint was taken from.
    pub bundle: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub manage_cgroups: Option<CgroupsMode>,
    pub monitor: Monitor,
    pub policy: crate::shim::policy::Settings,
}

/// A restored, running container.
pub struct Restored {
    pub container: Locked,
    pub pid: Pid,
}

/// What has been made so far, for the undo on failure.
#[derive(Default)]
struct Progress {
    cgroup: Option<Box<dyn Driver>>,
    root_mount: Option<PathBuf>,
    child: Option<Pid>,
    child_is_ours: bool,
    shim: Option<crate::shim::spawn::Pending>,
}

pub fn restore(store: &Store, id: &str, opts: RestoreOptions) -> Result<Restored> {
    crate::store::validate_id(id)?;
    // Everything that can be checked before anything exists.
    let meta = Meta::read(&opts.images)?;
    let criu = criu::find()?;
    let bundle_dir = match (&opts.bundle, meta.bundle.as_os_str().is_empty()) {
        (Some(b), _) => b.clone(),
        (None, false) => meta.bundle.clone(),
        (None, true) => PathBuf::from("."),
    };
    let bundle = Bundle::load(&bundle_dir)?;
    check_terminal(&bundle, &opts)?;
    let record = create::new_record(id, &bundle, &opts.policy)?;
    let mut ct = store.create(id, record)?;
    let mut progress = Progress::default();
    match setup(&mut ct, &bundle, &meta, &criu, &opts, &mut progress) {
        Ok(pid) => {
            crate::shim::events::append(
                &ct.dir,
                &crate::shim::events::Event::new("restored", id)
                    .with("pid", pid.as_raw())
                    .with("imagePath", opts.images.display().to_string()),
            );
            if let Some(shim) = progress.shim.take() {
                shim.release();
            }
            Ok(Restored { container: ct, pid })
        }
        Err(e) => Err(undo(ct, progress, e)),
    }
}

/// CRIU's command line cannot hand over a new terminal: it sends the
/// master of the pty it recreates only in its RPC mode (runc's
/// orphan-pts-master), which husk does not use.
fn check_terminal(bundle: &Bundle, opts: &RestoreOptions) -> Result<()> {
    let terminal = bundle.spec.process().as_ref().and_then(|p| p.terminal()) == Some(true);
    if terminal {
        return Err(ContainerError::Usage(
            "cannot restore a container with process.terminal: criu's command line cannot hand \
             the new pty master to --console-socket (only its RPC mode can)"
                .into(),
        ));
    }
    if opts.console_socket.is_some() {
        return Err(ContainerError::Usage(
            "--console-socket was given but process.terminal is false".into(),
        ));
    }
    Ok(())
}

/// Runs in: the runtime. Every step records what it made in `progress`.
fn setup(
    ct: &mut Locked,
    bundle: &Bundle,
    meta: &Meta,
    criu: &Path,
    opts: &RestoreOptions,
    progress: &mut Progress,
) -> Result<Pid> {
    ct.save()?;
    let ns = NamespacePlan::from_config(
        (bundle.spec.linux().as_ref())
            .and_then(|l| l.namespaces().as_deref())
            .unwrap_or(&[]),
    );
    ct.record.own_pid_ns = ns.private_pid();
    let config = ct.path(crate::store::CONFIG_FILE);
    fs::write(&config, &bundle.config_bytes).map_err(|source| crate::store::StoreError::Write {
        path: config,
        source,
    })?;
    // The cgroup with its limits first, as for create: CRIU puts the
    // processes into it (--cgroup-root) and must find the limits there.
    let layout = make_cgroup(ct, bundle, progress)?;
    // CRIU wants the root to be a mount point (runc binds it the same way).
    let root = bind_root(ct, &bundle.rootfs, progress)?;
    // The container's stdio: the caller's, or /dev/null and the pipes a
    // new shim reads into the logs.
    let under_new_shim = matches!(opts.monitor, Monitor::NewShim);
    let (stdio, log_pipes) = if under_new_shim {
        ct.record.logs = true;
        let (fds, pipes) = crate::shim::spawn::log_pipes()?;
        (fds, Some(pipes))
    } else {
        ([dup_stdio(0)?, dup_stdio(1)?, dup_stdio(2)?], None)
    };
    // What the dump saw as pipes, or as files from outside the container,
    // is handed over in their place.
    let mut inherited = Vec::new();
    for s in &meta.stdio {
        let fd = usize::try_from(s.fd).ok().and_then(|i| stdio.get(i));
        if let (Some(key), Some(fd)) = (&s.key, fd) {
            inherited.push((criu::inheritable(fd.as_fd())?, key.clone()));
        }
    }
    let request = request(ct, bundle, meta, opts, &layout, &ns, &root, &inherited)?;
    let pidfile = request.pidfile.clone();
    let cg: &dyn Driver = progress.cgroup.as_deref().expect("made above");
    let join = |pid: Pid| {
        cg.add(pid)
            .map_err(|e| format!("{:#}", anyhow::Error::from(e)))
    };
    let run = || -> Result<(Pid, bool)> {
        let r = criu::run_restore(criu, &request, &join);
        // The copies are the restored process's now (or nobody's).
        drop(inherited);
        r?;
        Ok((read_pid(&pidfile)?, true))
    };
    let pid = if under_new_shim {
        // The shim runs criu, so that the restored init is its child.
        let raw = [
            stdio[0].as_raw_fd(),
            stdio[1].as_raw_fd(),
            stdio[2].as_raw_fd(),
        ];
        let (pid, _, pending) =
            crate::shim::spawn::launch_with(ct, &[ct.lock_fd()], Some(raw), log_pipes, run)?;
        progress.shim = Some(pending);
        pid
    } else {
        progress.child_is_ours = true;
        let r = run();
        // A failed restore may still have left a process behind.
        progress.child = read_pid(&pidfile).ok();
        r?.0
    };
    drop(stdio);
    progress.child = Some(pid);

    // Done: the rootfs mount has served its purpose (the container's mount
    // namespace holds its own copy).
    let _ = fs::remove_file(&pidfile);
    let _ = fs::remove_file(ct.path(ACTION_SCRIPT));
    unmount_root(&root)?;
    progress.root_mount = None;
    record_running(ct, pid, opts, progress)?;
    log::info!("container {}: restored, init pid {pid}", ct.id);
    Ok(pid)
}

/// Makes the container's cgroup from the config, with its resources.
fn make_cgroup(ct: &mut Locked, bundle: &Bundle, progress: &mut Progress) -> Result<Layout> {
    let linux_cfg = bundle.spec.linux().as_ref();
    let layout = Layout::detect()?;
    let mut cg = cgroups::for_new(
        &layout,
        linux_cfg.and_then(|l| l.cgroups_path().as_deref()),
        &ct.id,
        !nix::unistd::geteuid().is_root(),
    )?;
    let created = cg.create(cgroups::Part::All);
    let cg = progress.cgroup.insert(cg);
    created?;
    if let Some(res) = linux_cfg.and_then(|l| l.resources().as_ref()) {
        cg.apply(res)?;
    }
    ct.record.cgroup = cg.record();
    Ok(layout)
}

/// Binds the rootfs at the state directory's criu-root.
fn bind_root(ct: &Locked, rootfs: &Path, progress: &mut Progress) -> Result<PathBuf> {
    let root = ct.path(criu::ROOT_MOUNT);
    fs::create_dir(&root).map_err(|source| CriuError::Io {
        what: "create",
        path: root.clone(),
        source,
    })?;
    nix::mount::mount(
        Some(rootfs),
        &root,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(step(format!(
        "bind {} to {}",
        rootfs.display(),
        root.display()
    )))?;
    progress.root_mount = Some(root.clone());
    Ok(root)
}

/// The criu restore request: the checkpoint's external mounts from this
/// container's cgroup and config, the stdio stand-ins (`inherited`), the
/// cgroup roots, and the action script when CRIU recreates the network
/// namespace empty.
#[allow(clippy::too_many_arguments)]
fn request(
    ct: &Locked,
    bundle: &Bundle,
    meta: &Meta,
    opts: &RestoreOptions,
    layout: &Layout,
    ns: &NamespacePlan,
    root: &Path,
    inherited: &[(OwnedFd, String)],
) -> Result<criu::Restore> {
    let view = create::cgroup_view(layout, &ct.record.cgroup, false);
    let binds = super::checkpoint::bind_mounts(&bundle.spec);
    let mut externals = Vec::new();
    for m in &meta.mounts {
        let source = mount_source(&m.source, &m.key, &binds, &view)?;
        externals.push(criu::ExternalMount::restore_arg(&source, &m.key));
    }
    let action_script = if meta.empty_net && ns.creates(LinuxNamespaceType::Network) {
        let path = ct.path(ACTION_SCRIPT);
        let husk = std::env::current_exe().map_err(|source| CriuError::Io {
            what: "find the husk binary for",
            path: path.clone(),
            source,
        })?;
        criu::write_action_script(&path, &husk)?;
        Some(path)
    } else {
        None
    };
    let absolute = |p: &Path| crate::bundle::absolute(p).unwrap_or_else(|| p.to_path_buf());
    let images = absolute(&opts.images);
    let work = match &opts.work {
        Some(w) => {
            fs::create_dir_all(w).map_err(|source| CriuError::Io {
                what: "create",
                path: w.clone(),
                source,
            })?;
            absolute(w)
        }
        None => images.clone(),
    };
    Ok(criu::Restore {
        common: criu::Common {
            images,
            work,
            tcp_established: opts.tcp_established,
            ext_unix_sk: opts.ext_unix_sk,
            shell_job: opts.shell_job,
            file_locks: opts.file_locks,
            manage_cgroups: opts.manage_cgroups,
            empty_net: meta.empty_net,
        },
        root: root.to_path_buf(),
        pidfile: ct.path(PID_FILE),
        cgroup_roots: criu::cgroup_root_args(layout, &ct.record.cgroup.paths),
        externals,
        inherit: inherited
            .iter()
            .map(|(fd, key)| (fd.as_raw_fd(), key.clone()))
            .collect(),
        action_script,
    })
}

/// The record of a running container (pid and start time, so state, kill
/// and delete find it), and the pid file.
fn record_running(
    ct: &mut Locked,
    pid: Pid,
    opts: &RestoreOptions,
    progress: &Progress,
) -> Result<()> {
    ct.record.pid = pid.as_raw();
    // 0 when it has exited (and been reaped) already: then it reads as stopped.
    ct.record.pid_start = crate::process::stat(pid).map_or(0, |s| s.start);
    ct.record.phase = Phase::Running;
    ct.record.started = Some(crate::timestamp::now());
    if let Some(shim) = &progress.shim {
        ct.record.shim = crate::store::ProcessRef::of(shim.pid().as_raw());
    }
    ct.save()?;
    if let Some(p) = &opts.pid_file {
        create::write_pid_file(p, pid)?;
    }
    Ok(())
}

/// The host path to bind at external mount `key` of the checkpoint.
fn mount_source(
    source: &MountSource,
    key: &str,
    binds: &[(String, PathBuf)],
    view: &crate::init::rootfs::CgroupView,
) -> Result<PathBuf> {
    let missing = |why: String| {
        ContainerError::from(CriuError::BadPath {
            what: "external mount",
            path: key.into(),
            why,
        })
    };
    match source {
        // The restore's config wins: the bundle may have moved.
        MountSource::Bind { source } => Ok(binds
            .iter()
            .find(|(dest, _)| dest == key)
            .map_or_else(|| source.clone(), |(_, s)| s.clone())),
        MountSource::Cgroup { name } if name.is_empty() => view.v2.clone().ok_or_else(|| {
            missing("the checkpoint has a cgroup v2 mount; this host has none".into())
        }),
        MountSource::Cgroup { name } => view
            .v1
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, dir)| dir.clone())
            .ok_or_else(|| missing(format!("this host has no cgroup v1 hierarchy {name:?}"))),
        MountSource::Host => Ok(PathBuf::from(key)),
        MountSource::Null => Ok(PathBuf::from("/dev/null")),
    }
}

/// A copy of husk's own stdio fd `n`, standing in for the container's.
fn dup_stdio(n: i32) -> Result<OwnedFd> {
    linux::borrow_fd(n).try_clone_to_owned().map_err(|e| {
        step(format!("duplicate fd {n}"))(nix::Error::from_raw(
            e.raw_os_error().unwrap_or(libc::EBADF),
        ))
    })
}

/// The restored init's pid, as CRIU wrote it.
fn read_pid(path: &Path) -> Result<Pid> {
    let text = fs::read_to_string(path).map_err(|source| CriuError::Io {
        what: "read",
        path: path.into(),
        source,
    })?;
    text.trim().parse().map(Pid::from_raw).map_err(|_| {
        CriuError::Meta {
            path: path.into(),
            msg: format!("not a pid: {:?}", text.trim()),
        }
        .into()
    })
}

fn unmount_root(root: &Path) -> Result<()> {
    nix::mount::umount2(root, MntFlags::MNT_DETACH)
        .map_err(step(format!("unmount {}", root.display())))?;
    let _ = fs::remove_dir(root);
    Ok(())
}

/// Undoes a failed restore: the restored processes (if any got that far),
/// the rootfs mount, the cgroup, the state directory. The state directory
/// stays when the mount cannot be removed: deleting it would descend into
/// the bundle's rootfs.
fn undo(ct: Locked, progress: Progress, error: ContainerError) -> ContainerError {
    let mut problems = Vec::new();
    if let Some(pid) = progress.child {
        let _ = linux::kill(pid, Signal::SIGKILL);
        if progress.child_is_ours {
            let _ = linux::wait_raw(pid, 0);
        }
    }
    // Dropping the pending shim tells it to kill the init and go.
    drop(progress.shim);
    if let Some(cg) = &progress.cgroup {
        // Anything else CRIU left behind in the cgroup.
        if let Ok(pids) = cg.pids() {
            for p in pids {
                let _ = linux::kill(p, Signal::SIGKILL);
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while cg.pids().is_ok_and(|p| !p.is_empty()) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let mut keep_dir = false;
    if let Some(root) = &progress.root_mount {
        if let Err(e) = unmount_root(root) {
            problems.push(format!("{:#}", anyhow::Error::from(e)));
            keep_dir = true;
        }
    }
    if let Some(cg) = progress.cgroup {
        if let Err(e) = cg.remove() {
            problems.push(format!("{:#}", anyhow::Error::from(e)));
        }
    }
    if !keep_dir {
        if let Err(e) = ct.remove() {
            problems.push(format!("{:#}", anyhow::Error::from(e)));
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::rootfs::CgroupView;

    fn view() -> CgroupView {
        CgroupView {
            v1: vec![("memory".into(), "/sys/fs/cgroup/memory/user.slice/c".into())],
            v2: None,
            cgroupns: false,
        }
    }

    #[test]
    fn external_mounts_come_from_the_new_container_and_the_restore_config() {
        let binds = vec![("/data".to_string(), PathBuf::from("/srv/new"))];
        let bind = MountSource::Bind {
            source: "/srv/old".into(),
        };
        assert_eq!(
            mount_source(&bind, "/data", &binds, &view()).unwrap(),
            PathBuf::from("/srv/new")
        );
        assert_eq!(
            mount_source(&bind, "/gone", &binds, &view()).unwrap(),
            PathBuf::from("/srv/old")
        );
        let memory = MountSource::Cgroup {
            name: "memory".into(),
        };
        assert_eq!(
            mount_source(&memory, "/sys/fs/cgroup/memory", &binds, &view()).unwrap(),
            PathBuf::from("/sys/fs/cgroup/memory/user.slice/c")
        );
        let v2 = MountSource::Cgroup { name: "".into() };
        let e = mount_source(&v2, "/sys/fs/cgroup", &binds, &view()).unwrap_err();
        assert!(e.to_string().contains("cgroup v2"), "{e}");
        assert_eq!(
            mount_source(&MountSource::Host, "/dev/fuse", &binds, &view()).unwrap(),
            PathBuf::from("/dev/fuse")
        );
    }

    #[test]
    fn a_pid_file_that_is_not_a_pid_is_an_error() {
        let dir = std::env::temp_dir().join(format!("husk-restore-pid-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("pid");
        fs::write(&p, "123\n").unwrap();
        assert_eq!(read_pid(&p).unwrap(), Pid::from_raw(123));
        fs::write(&p, "x").unwrap();
        assert!(read_pid(&p).unwrap_err().to_string().contains("not a pid"));
        fs::remove_dir_all(&dir).unwrap();
    }
}

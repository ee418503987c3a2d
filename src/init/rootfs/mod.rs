//! The container's root filesystem: a plan of mount operations made from
//! config.json (pure, unit-tested), and its execution inside the init,
//! every destination resolved in the rootfs and used through its fd.
//!
//! Runs in: container init, in its new mount namespace, before pivot_root
//! (prepare) and at pivot_root (pivot, finish).

pub mod copyup;
pub mod dev;
pub mod options;
pub mod paths;
pub mod resolve;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::Mode;
use oci_spec::runtime::Mount;

use self::options::Options;
use self::resolve::{create_in_root, fd_path, Kind};
use crate::sys::Sys;

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("failed to make the mount tree {what}")]
    Propagation {
        what: &'static str,
        #[source]
        source: nix::Error,
    },
    #[error("cannot open rootfs {path:?}")]
    OpenRoot {
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("cannot resolve mount destination {dest:?} inside the rootfs")]
    Resolve {
        dest: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("cannot open mount source {source_path:?}")]
    Source {
        source_path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("failed to mount {what} on {dest:?}")]
    Mount {
        what: String,
        dest: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error(
        "mount destination {dest:?} is a symlink: {fstype} must be mounted on a real directory"
    )]
    SymlinkDest { dest: PathBuf, fstype: String },
    #[error("mount option {option:?} on {dest:?} is not supported yet")]
    UnsupportedOption { option: &'static str, dest: PathBuf },
    #[error("device {path:?}: {what}")]
    Device {
        path: PathBuf,
        what: String,
        #[source]
        source: nix::Error,
    },
    #[error("{path:?} is not the null device (char 1:3): refusing to use it to mask paths")]
    FakeNull { path: PathBuf },
    #[error("failed to {what}")]
    Pivot {
        what: &'static str,
        #[source]
        source: nix::Error,
    },
}

pub type Result<T, E = RootfsError> = std::result::Result<T, E>;

/// The propagation flag of linux.rootfsPropagation, if valid.
pub fn propagation_flag(s: &str) -> Option<MsFlags> {
    options::propagation(s)
}

/// The container's cgroups as its /sys/fs/cgroup should show them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupView {
    /// v1: (directory name under /sys/fs/cgroup, host directory of the
    /// container's cgroup in that hierarchy). Empty on v2.
    pub v1: Vec<(String, PathBuf)>,
    /// v2: the container's cgroup directory on the host.
    pub v2: Option<PathBuf>,
    /// The init has its own cgroup namespace (v2 may then mount cgroup2 afresh).
    pub cgroupns: bool,
}

impl CgroupView {
    /// The view with only the v1 directories the runtime made (a rootless
    /// one leaves out hierarchies not delegated to it).
    pub fn keeping(&self, made: &[PathBuf]) -> CgroupView {
        CgroupView {
            v1: self
                .v1
                .iter()
                .filter(|(_, dir)| made.contains(dir))
                .cloned()
                .collect(),
            ..self.clone()
        }
    }
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountOp {
    /// A filesystem (proc, tmpfs, sysfs, devpts, mqueue, …).
    Fs {
        dest: PathBuf,
        fstype: String,
        source: String,
        opts: Options,
    },
    /// A bind mount of a host path.
    Bind {
        dest: PathBuf,
        source: PathBuf,
        opts: Options,
    },
    /// `type: cgroup` on v1: a tmpfs holding one bind per hierarchy, plus
    /// symlinks for co-mounted controllers (cpu -> cpu,cpuacct).
    CgroupV1 {
        dest: PathBuf,
        opts: Options,
        binds: Vec<(String, PathBuf)>,
        links: Vec<(String, String)>,
    },
    /// `type: cgroup` on v2: cgroup2 itself with a cgroup namespace, else a
    /// bind of the container's cgroup directory.
    CgroupV2 {
        dest: PathBuf,
        opts: Options,
        bind_source: Option<PathBuf>,
    },
}

impl MountOp {
    /// Does this mount show the container's cgroup (so that it must wait
    /// until the runtime has made it)? A bind from the host's cgroup tree
    /// counts too.
    pub fn shows_cgroup(&self) -> bool {
        match self {
            MountOp::CgroupV1 { .. } | MountOp::CgroupV2 { .. } => true,
            MountOp::Bind { source, .. } => source.starts_with("/sys/fs/cgroup"),
            MountOp::Fs { fstype, .. } => fstype == "cgroup" || fstype == "cgroup2",
        }
    }

    pub fn dest(&self) -> &Path {
        match self {
            MountOp::Fs { dest, .. }
            | MountOp::Bind { dest, .. }
            | MountOp::CgroupV1 { dest, .. }
            | MountOp::CgroupV2 { dest, .. } => dest,
        }
    }
}

/// Turns config.json's mounts into the plan, in order.
pub fn plan(mounts: &[Mount], cgroups: &CgroupView) -> Vec<MountOp> {
    mounts
        .iter()
        .map(|m| {
            let typ = m.typ().as_deref();
            let opts = options::parse(typ, m.options().as_deref().unwrap_or(&[]));
            let dest = m.destination().clone();
            let source = m.source().clone().unwrap_or_default();
            if opts.is_bind() {
                return MountOp::Bind { dest, source, opts };
            }
            match typ {
                Some("cgroup") | Some("cgroup2")
                    if cgroups.v2.is_some() || typ == Some("cgroup2") =>
                {
                    MountOp::CgroupV2 {
                        dest,
                        opts,
                        bind_source: if cgroups.cgroupns {
                            None
                        } else {
                            cgroups.v2.clone()
                        },
                    }
                }
                Some("cgroup") => {
                    let mut links = Vec::new();
                    for (name, _) in &cgroups.v1 {
                        if name.contains(',') {
                            for part in name.split(',') {
                                links.push((part.to_string(), name.clone()));
                            }
                        }
                    }
                    MountOp::CgroupV1 {
                        dest,
                        opts,
                        binds: cgroups.v1.clone(),
                        links,
                    }
                }
                _ => MountOp::Fs {
                    dest,
                    fstype: typ.unwrap_or("none").to_string(),
                    source: source.display().to_string(),
                    opts,
                },
            }
        })
        .collect()
}

/// The rootfs as the init holds it: an O_PATH fd that every path is resolved under.
pub struct Root {
    pub path: PathBuf,
    pub fd: OwnedFd,
}

impl Root {
    pub fn open(path: &Path) -> Result<Root> {
        let fd = open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|source| RootfsError::OpenRoot {
            path: path.into(),
            source,
        })?;
        Ok(Root {
            path: path.into(),
            fd,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Resolves (creating what is missing) a destination inside the rootfs.
    pub fn dest(&self, dest: &Path, kind: Kind) -> Result<OwnedFd> {
        create_in_root(self.fd(), dest, kind).map_err(|source| RootfsError::Resolve {
            dest: dest.into(),
            source,
        })
    }
}

/// Makes the whole mount tree a slave (or what linux.rootfsPropagation says)
/// so nothing done in the container propagates back to the host, then
/// bind-mounts the rootfs onto itself so that pivot_root can use it.
pub fn prepare_root(sys: &dyn Sys, rootfs: &Path, propagation: Option<&str>) -> Result<Root> {
    let flag = propagation
        .and_then(propagation_flag)
        .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    sys.mount(None, Path::new("/"), None, flag, None)
        .map_err(|source| RootfsError::Propagation {
            what: "a slave of the host",
            source,
        })?;
    // pivot_root refuses a new root whose parent mount is shared.
    if flag.contains(MsFlags::MS_SHARED) {
        make_parent_private(sys, rootfs)?;
    }
    sys.mount(
        Some(rootfs),
        rootfs,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .map_err(|source| RootfsError::Mount {
        what: "the rootfs bind".into(),
        dest: rootfs.into(),
        source,
    })?;
    Root::open(rootfs)
}

/// Finds the mount that holds `p` (walking up until a mount call succeeds on
/// a mountpoint) and makes it private.
fn make_parent_private(sys: &dyn Sys, p: &Path) -> Result<()> {
    let mut cur = p.parent();
    while let Some(d) = cur {
        match sys.mount(None, d, None, MsFlags::MS_PRIVATE, None) {
            Ok(()) => return Ok(()),
            Err(Errno::EINVAL) => cur = d.parent(),
            Err(source) => {
                return Err(RootfsError::Propagation {
                    what: "private around the rootfs",
                    source,
                })
            }
        }
    }
    Ok(())
}

/// Runs the plan.
pub fn mount_all(sys: &dyn Sys, root: &Root, ops: &[MountOp], label: Option<&str>) -> Result<()> {
    for op in ops {
        match op {
            MountOp::Fs {
                dest,
                fstype,
                source,
                opts,
            } => mount_fs(sys, root, dest, fstype, source, opts, label)?,
            MountOp::Bind { dest, source, opts } => mount_bind(sys, root, dest, source, opts)?,
            MountOp::CgroupV1 {
                dest,
                opts,
                binds,
                links,
            } => mount_cgroup_v1(sys, root, dest, opts, binds, links)?,
            MountOp::CgroupV2 {
                dest,
                opts,
                bind_source,
            } => match bind_source {
                Some(src) => {
                    let mut o = opts.clone();
                    o.flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
                    mount_bind(sys, root, dest, src, &o)?
                }
                None => mount_fs(sys, root, dest, "cgroup2", "cgroup2", opts, None)?,
            },
        }
    }
    Ok(())
}

fn mount_fs(
    sys: &dyn Sys,
    root: &Root,
    dest: &Path,
    fstype: &str,
    source: &str,
    opts: &Options,
    label: Option<&str>,
) -> Result<()> {
    if opts.idmap {
        return Err(RootfsError::UnsupportedOption {
            option: "idmap",
            dest: dest.into(),
        });
    }
    // procfs and sysfs on a symlink would let an image move them where
    // masked paths do not reach (CVE-2019-16884 class): refuse.
    if matches!(fstype, "proc" | "sysfs") {
        if let Ok(fd) = resolve::open_in_root(root.fd(), dest, false) {
            if resolve::is_symlink(&fd) {
                return Err(RootfsError::SymlinkDest {
                    dest: dest.into(),
                    fstype: fstype.into(),
                });
            }
        }
    }
    let fd = root.dest(dest, Kind::Dir)?;
    // tmpcopyup: keep a handle on the directory about to be covered.
    let covered = if opts.copy_up && fstype == "tmpfs" {
        Some(
            copyup::open_dir(&fd).map_err(|source| RootfsError::Resolve {
                dest: dest.into(),
                source,
            })?,
        )
    } else {
        None
    };
    let mut data = opts.data.clone();
    if let Some(l) =
        label.filter(|l| !l.is_empty() && !matches!(fstype, "proc" | "sysfs" | "cgroup2"))
    {
        if !data.is_empty() {
            data.push(',');
        }
        data.push_str(&format!("context=\"{l}\""));
    }
    let flags = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    let mounted = sys.mount(
        Some(Path::new(source)),
        &fd_path(&fd),
        Some(fstype),
        flags,
        (!data.is_empty()).then_some(data.as_str()),
    );
    let mounted = match (mounted, fstype) {
        // A devpts uid=/gid= the user namespace does not map (gid=5 in a
        // rootless container with one gid): mount it without, as crun does.
        (Err(Errno::EINVAL), "devpts") if has_id_option(&data) => {
            let kept = without_id_options(&data);
            log::debug!("devpts on {dest:?}: EINVAL with {data:?}, retrying with {kept:?}");
            sys.mount(
                Some(Path::new(source)),
                &fd_path(&fd),
                Some(fstype),
                flags,
                (!kept.is_empty()).then_some(kept.as_str()),
            )
        }
        // A fresh sysfs needs a network namespace owned by the user
        // namespace (kernel: sysfs_get_tree): without one, bind the host's
        // /sys with the same flags, as runc's rootless spec does.
        (Err(Errno::EPERM), "sysfs") => {
            log::debug!("sysfs on {dest:?}: EPERM, binding the host's /sys instead");
            let mut o = opts.clone();
            o.flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
            return mount_bind(sys, root, dest, Path::new("/sys"), &o);
        }
        (r, _) => r,
    };
    mounted.map_err(|source| RootfsError::Mount {
        what: fstype.to_string(),
        dest: dest.into(),
        source,
    })?;
    if let Some(old) = covered {
        let open_new = root.dest(dest, Kind::Dir).and_then(|fd| {
            copyup::open_dir(&fd).map_err(|source| RootfsError::Resolve {
                dest: dest.into(),
                source,
            })
        })?;
        copyup::copy_tree(old, &open_new).map_err(|source| RootfsError::Mount {
            what: "tmpcopyup of the old contents".into(),
            dest: dest.into(),
            source,
        })?;
    }
    finish_mount(sys, root, dest, opts, None)
}

/// Does filesystem data name an owner (uid=N, gid=N)?
fn has_id_option(data: &str) -> bool {
    data.split(',')
        .any(|o| o.starts_with("uid=") || o.starts_with("gid="))
}

/// Filesystem data without its uid= and gid= options.
fn without_id_options(data: &str) -> String {
    data.split(',')
        .filter(|o| !o.is_empty() && !o.starts_with("uid=") && !o.starts_with("gid="))
        .collect::<Vec<_>>()
        .join(",")
}

fn mount_bind(
    sys: &dyn Sys,
    root: &Root,
    dest: &Path,
    source: &Path,
    opts: &Options,
) -> Result<()> {
    if opts.idmap {
        return Err(RootfsError::UnsupportedOption {
            option: "idmap",
            dest: dest.into(),
        });
    }
    // The source is a host path chosen by the engine: resolved on the host.
    let src = open(source, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()).map_err(|e| {
        RootfsError::Source {
            source_path: source.into(),
            source: e,
        }
    })?;
    let kind = if resolve::is_dir(&src) {
        Kind::Dir
    } else {
        Kind::File
    };
    let fd = root.dest(dest, kind)?;
    let rec = opts.flags & MsFlags::MS_REC;
    // Per-mount flags (ro, nosuid, …): mount(2) ignores them on a new bind.
    let extra = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    let fail = |e| RootfsError::Mount {
        what: format!("bind of {}", source.display()),
        dest: dest.into(),
        source: e,
    };
    // The bind is made from fds alone, its flags set before it is attached,
    // and everything after works on the handle it returns: the destination
    // is never looked up again by path, so a symlink swapped in after the
    // check can neither redirect the bind nor hand its read-only flag to
    // another mount (CVE-2021-30465).
    let attrs = (!extra.is_empty()).then(|| options::bind_attrs(extra));
    let mnt = match sys.bind_fd(src.as_fd(), fd.as_fd(), !rec.is_empty(), attrs) {
        Ok(mnt) => mnt,
        Err(Errno::ENOSYS) => {
            legacy_bind(sys, root, dest, kind, &src, &fd, rec, extra).map_err(fail)?
        }
        Err(e) => return Err(fail(e)),
    };
    finish_mount(sys, root, dest, opts, Some(&mnt))
}

/// The bind on kernels before 5.12 (no open_tree/mount_setattr): mount(2)
/// through the fds, then a remount of the destination looked up again,
/// which a concurrent symlink swap can still race. Returns that lookup.
#[allow(clippy::too_many_arguments)]
fn legacy_bind(
    sys: &dyn Sys,
    root: &Root,
    dest: &Path,
    kind: Kind,
    src: &OwnedFd,
    fd: &OwnedFd,
    rec: MsFlags,
    extra: MsFlags,
) -> nix::Result<OwnedFd> {
    sys.mount(
        Some(&fd_path(src)),
        &fd_path(fd),
        None,
        MsFlags::MS_BIND | rec,
        None,
    )?;
    let top = create_in_root(root.fd(), dest, kind)?;
    if !extra.is_empty() {
        let keep = locked_flags(&top);
        sys.mount(
            None,
            &fd_path(&top),
            None,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra | keep,
            None,
        )?;
    }
    Ok(top)
}

/// Propagation changes and recursive attributes, on the mount just made:
/// through `mnt`, the handle on its root, when the mount gave one; else
/// looked up again.
fn finish_mount(
    sys: &dyn Sys,
    root: &Root,
    dest: &Path,
    opts: &Options,
    mnt: Option<&OwnedFd>,
) -> Result<()> {
    if opts.propagation.is_empty() && opts.attr_set == 0 && opts.attr_clr == 0 {
        return Ok(());
    }
    let looked_up;
    let fd = match mnt {
        Some(fd) => fd,
        None => {
            looked_up = root.dest(dest, Kind::Dir)?;
            &looked_up
        }
    };
    for p in &opts.propagation {
        sys.mount(None, &fd_path(fd), None, *p, None)
            .map_err(|source| RootfsError::Mount {
                what: "propagation change".into(),
                dest: dest.into(),
                source,
            })?;
    }
    if opts.attr_set != 0 || opts.attr_clr != 0 {
        crate::sys::linux::mount_setattr_recursive(fd.as_raw_fd(), opts.attr_set, opts.attr_clr)
            .map_err(|source| RootfsError::Mount {
                what: "recursive mount attributes".into(),
                dest: dest.into(),
                source,
            })?;
    }
    Ok(())
}

fn mount_cgroup_v1(
    sys: &dyn Sys,
    root: &Root,
    dest: &Path,
    opts: &Options,
    binds: &[(String, PathBuf)],
    links: &[(String, String)],
) -> Result<()> {
    // A writable tmpfs first, to hold the directories; made read-only at the end.
    let mut tmp = opts.clone();
    tmp.flags.remove(MsFlags::MS_RDONLY);
    tmp.data = "mode=755".into();
    tmp.propagation.clear();
    mount_fs(sys, root, dest, "tmpfs", "tmpfs", &tmp, None)?;
    for (name, host) in binds {
        let mut o = opts.clone();
        o.flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
        o.propagation.clear();
        mount_bind(sys, root, &dest.join(name), host, &o)?;
    }
    let dir = root.dest(dest, Kind::Dir)?;
    for (link, target) in links {
        match nix::unistd::symlinkat(Path::new(target), dir.as_fd(), Path::new(link)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(source) => {
                return Err(RootfsError::Mount {
                    what: format!("symlink {link} -> {target}"),
                    dest: dest.into(),
                    source,
                })
            }
        }
    }
    if opts.flags.contains(MsFlags::MS_RDONLY) {
        let keep = locked_flags(&dir);
        sys.mount(
            None,
            &fd_path(&dir),
            None,
            MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | keep | (opts.flags & !MsFlags::MS_REC),
            None,
        )
        .map_err(|source| RootfsError::Mount {
            what: "read-only remount of the cgroup tmpfs".into(),
            dest: dest.into(),
            source,
        })?;
    }
    finish_mount(sys, root, dest, opts, None)
}

/// Flags of the mount holding `fd` that a remount must keep (in a user
/// namespace the kernel refuses to drop nosuid/nodev/noexec/atime flags).
pub fn locked_flags(fd: &OwnedFd) -> MsFlags {
    let Ok(st) = nix::sys::statvfs::fstatvfs(fd) else {
        return MsFlags::empty();
    };
    use nix::sys::statvfs::FsFlags as S;
    let f = st.flags();
    let mut m = MsFlags::empty();
    for (s, ms) in [
        (S::ST_NOSUID, MsFlags::MS_NOSUID),
        (S::ST_NODEV, MsFlags::MS_NODEV),
        (S::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (S::ST_NOATIME, MsFlags::MS_NOATIME),
        (S::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (S::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(s) {
            m |= ms;
        }
    }
    m
}

/// pivot_root into the rootfs and drop the old root (runc's `pivot_root(".", ".")`).
/// With `no_pivot`, move the rootfs over / and chroot instead (for ramfs hosts).
pub fn pivot(sys: &dyn Sys, root: &Root, no_pivot: bool) -> Result<()> {
    let err = |what| move |source| RootfsError::Pivot { what, source };
    nix::unistd::fchdir(&root.fd).map_err(err("enter the rootfs"))?;
    if no_pivot {
        sys.mount(
            Some(Path::new(".")),
            Path::new("/"),
            None,
            MsFlags::MS_MOVE,
            None,
        )
        .map_err(err("move the rootfs onto /"))?;
        nix::unistd::chroot(".").map_err(err("chroot into the rootfs"))?;
    } else {
        nix::unistd::pivot_root(".", ".").map_err(err("pivot_root"))?;
        // The old root now sits on top of "."; make it a slave so that
        // unmounting it cannot propagate to the host, then detach it.
        sys.mount(
            None,
            Path::new("."),
            None,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None,
        )
        .map_err(err("make the old root a slave"))?;
        sys.umount(Path::new("."), MntFlags::MNT_DETACH)
            .map_err(err("unmount the old root"))?;
    }
    nix::unistd::chdir("/").map_err(err("chdir to the new root"))
}

/// Makes / read-only (root.readonly), keeping the flags the kernel locks.
pub fn make_root_readonly(sys: &dyn Sys) -> Result<()> {
    let keep = open("/", OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map(|fd| locked_flags(&fd))
        .unwrap_or(MsFlags::empty());
    sys.mount(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | keep,
        None,
    )
    .map_err(|source| RootfsError::Mount {
        what: "read-only remount".into(),
        dest: "/".into(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mounts(json: &str) -> Vec<Mount> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn runc_default_mounts_plan() {
        let m = mounts(
            r#"[{"destination":"/proc","type":"proc","source":"proc"},
            {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
            {"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","noexec","nodev","relatime","ro"]},
            {"destination":"/etc/hosts","type":"bind","source":"/etc/hosts","options":["rbind","rprivate"]}]"#,
        );
        let view = CgroupView {
            v1: vec![
                ("cpu,cpuacct".into(), "/sys/fs/cgroup/cpu,cpuacct/c".into()),
                ("memory".into(), "/sys/fs/cgroup/memory/c".into()),
            ],
            v2: None,
            cgroupns: false,
        };
        let p = plan(&m, &view);
        assert!(matches!(&p[0], MountOp::Fs { fstype, .. } if fstype == "proc"));
        assert!(
            matches!(&p[1], MountOp::Fs { fstype, opts, .. } if fstype == "tmpfs" && opts.data == "mode=755,size=65536k")
        );
        match &p[2] {
            MountOp::CgroupV1 { binds, links, .. } => {
                assert_eq!(binds.len(), 2);
                assert_eq!(
                    links,
                    &[
                        ("cpu".to_string(), "cpu,cpuacct".to_string()),
                        ("cpuacct".into(), "cpu,cpuacct".into())
                    ]
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&p[3], MountOp::Bind { source, .. } if source == Path::new("/etc/hosts")));
    }

    #[test]
    fn cgroup_on_v2_binds_without_cgroupns_and_mounts_with_it() {
        let m = mounts(
            r#"[{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["ro"]}]"#,
        );
        let mut view = CgroupView {
            v1: vec![],
            v2: Some("/sys/fs/cgroup/c".into()),
            cgroupns: false,
        };
        assert!(matches!(
            &plan(&m, &view)[0],
            MountOp::CgroupV2 {
                bind_source: Some(_),
                ..
            }
        ));
        view.cgroupns = true;
        assert!(matches!(
            &plan(&m, &view)[0],
            MountOp::CgroupV2 {
                bind_source: None,
                ..
            }
        ));
    }

    #[test]
    fn only_mounts_of_the_cgroup_wait_for_it_and_they_show_what_was_made() {
        let m = mounts(
            r#"[{"destination":"/proc","type":"proc","source":"proc"},
            {"destination":"/sys","type":"sysfs","source":"sysfs","options":["ro"]},
            {"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["ro"]},
            {"destination":"/mnt/cg","type":"bind","source":"/sys/fs/cgroup/pids","options":["rbind"]},
            {"destination":"/mnt/etc","type":"bind","source":"/etc","options":["rbind"]}]"#,
        );
        let view = CgroupView {
            v1: vec![
                ("memory".into(), "/sys/fs/cgroup/memory/c".into()),
                ("pids".into(), "/sys/fs/cgroup/pids/c".into()),
            ],
            v2: None,
            cgroupns: false,
        };
        let p = plan(&m, &view);
        let waits: Vec<bool> = p.iter().map(MountOp::shows_cgroup).collect();
        assert_eq!(waits, [false, false, true, true, false]);
        // A rootless runtime made only the pids directory.
        let made = view.keeping(&["/sys/fs/cgroup/pids/c".into()]);
        match &plan(&m, &made)[2] {
            MountOp::CgroupV1 { binds, .. } => {
                assert_eq!(
                    binds,
                    &[("pids".to_string(), PathBuf::from("/sys/fs/cgroup/pids/c"))]
                )
            }
            op => panic!("{op:?}"),
        }
    }

    #[test]
    fn devpts_owner_options_can_be_dropped() {
        assert!(has_id_option("newinstance,ptmxmode=0666,mode=0620,gid=5"));
        assert!(!has_id_option("newinstance,ptmxmode=0666,mode=0620"));
        assert_eq!(
            without_id_options("newinstance,ptmxmode=0666,mode=0620,gid=5,uid=0"),
            "newinstance,ptmxmode=0666,mode=0620"
        );
    }

    #[test]
    fn prepare_root_makes_tree_slave_then_binds_rootfs() {
        let sys = crate::sys::FakeSys::default();
        // Root::open fails on the fake path, after the two mounts were recorded.
        let _ = prepare_root(&sys, Path::new("/nonexistent-husk-rootfs"), None);
        let calls = sys.calls();
        assert_eq!(calls.len(), 2);
        assert!(
            matches!(&calls[0], crate::sys::Call::Mount { dst, flags, .. }
            if dst == Path::new("/") && *flags == MsFlags::MS_SLAVE | MsFlags::MS_REC)
        );
        assert!(
            matches!(&calls[1], crate::sys::Call::Mount { flags, .. } if *flags == MsFlags::MS_BIND | MsFlags::MS_REC)
        );
    }
}

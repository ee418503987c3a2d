//! Cgroups: which hierarchies the host has (v1, hybrid, v2), where a
//! container's cgroup lives in each (runc's placement rule), and one driver
//! interface with v1 and v2 implementations that create the directories,
//! apply resources, place processes, list them and remove what was made.
//!
//! Called from: container::create (before the init runs its user process),
//! delete, kill --all, ps, pause/resume, update, events/stats, the shim.

pub mod devices;
pub mod stats;
pub mod v1;
pub mod v2;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use crate::store::CgroupRecord;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cannot read {path:?}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot open {path:?}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to create cgroup {path:?}")]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to write {value:?} to {path:?}")]
    Write {
        path: PathBuf,
        value: String,
        #[source]
        source: io::Error,
    },
    #[error("failed to remove cgroup {path:?}")]
    Remove {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{resource} was requested but the {controller} cgroup controller is not available on this host")]
    Unsupported {
        resource: &'static str,
        controller: &'static str,
    },
    #[error("{resource} was requested but the {controller} cgroup controller is not enabled in {parent:?}/cgroup.subtree_control and cannot be: that cgroup has processes of its own or is not delegated")]
    NotEnabled {
        resource: &'static str,
        controller: &'static str,
        parent: PathBuf,
    },
    #[error("{resource} was requested but husk runs rootless and cannot use cgroup {path:?} (not delegated to this user): delegate a cgroup subtree to the user (as systemd does for Delegate=yes) or remove the limit from linux.resources")]
    NotDelegated {
        resource: &'static str,
        path: PathBuf,
    },
    #[error("invalid cgroupsPath {path:?}: {why}")]
    InvalidPath { path: String, why: &'static str },
    #[error("no cgroup hierarchy is mounted under /sys/fs/cgroup")]
    NoHierarchy,
    #[error("failed to {what}")]
    Device {
        what: String,
        #[source]
        source: nix::Error,
    },
    #[error("the systemd cgroup driver is not supported yet: run without --systemd-cgroup")]
    SystemdUnsupported,
    #[error("timed out waiting for cgroup {path:?} to {what}")]
    Timeout { path: PathBuf, what: &'static str },
}

pub type Result<T, E = CgroupError> = std::result::Result<T, E>;

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// v1: the comma-joined controllers as in /proc/self/cgroup ("cpu,cpuacct",
    /// "name=systemd"); v2: "".
    pub controllers: String,
    pub mountpoint: PathBuf,
    /// The path within the hierarchy that is mounted there (mountinfo field 4).
    pub root: PathBuf,
}

/// The host's cgroup layout.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    pub v1: Vec<Mount>,
    /// The cgroup2 mount: the only one on pure v2, `unified` on hybrid hosts.
    pub unified: Option<Mount>,
}

impl Layout {
    pub fn is_v2(&self) -> bool {
        self.v1.is_empty() && self.unified.is_some()
    }

    /// Reads /proc/self/mountinfo.
    pub fn detect() -> Result<Layout> {
        let path = Path::new("/proc/self/mountinfo");
        let text =
            crate::sys::read_proc_text(path, 16 * 1024).map_err(|source| CgroupError::Read {
                path: path.into(),
                source,
            })?;
        Ok(Layout::parse(&text))
    }

    /// Parses mountinfo text; for a hierarchy mounted more than once, the first mount wins.
    pub fn parse(mountinfo: &str) -> Layout {
        let mut layout = Layout::default();
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            if l.len() < 5 || r.len() < 3 {
                continue;
            }
            let (root, mountpoint) = (unescape(l[3]), unescape(l[4]));
            match r[0] {
                "cgroup2" if layout.unified.is_none() => {
                    layout.unified = Some(Mount {
                        controllers: String::new(),
                        mountpoint: mountpoint.into(),
                        root: root.into(),
                    })
                }
                "cgroup" => {
                    // Super options: "rw,memory" or "rw,cpu,cpuacct" or "rw,name=systemd".
                    let mut ctrls: Vec<&str> = r[2]
                        .split(',')
                        .filter(|o| {
                            !matches!(
                                *o,
                                "rw" | "ro"
                                    | "clone_children"
                                    | "noprefix"
                                    | "xattr"
                                    | "cpuset_v2_mode"
                            ) && !o.starts_with("release_agent=")
                        })
                        .collect();
                    ctrls.sort();
                    let controllers = ctrls.join(",");
                    if controllers.is_empty()
                        || layout.v1.iter().any(|m| m.controllers == controllers)
                    {
                        continue;
                    }
                    layout.v1.push(Mount {
                        controllers,
                        mountpoint: mountpoint.into(),
                        root: root.into(),
                    });
                }
                _ => {}
            }
        }
        layout
    }

    /// The v1 mount that holds `controller`, if any.
    pub fn v1_mount(&self, controller: &str) -> Option<&Mount> {
        self.v1
            .iter()
            .find(|m| m.controllers.split(',').any(|c| c == controller))
    }
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The caller's own cgroup in each hierarchy, from /proc/self/cgroup:
/// controllers ("" for v2) → path.
pub fn parse_proc_cgroup(text: &str) -> BTreeMap<String, PathBuf> {
    let mut own = BTreeMap::new();
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let mut c: Vec<&str> = ctrls.split(',').filter(|c| !c.is_empty()).collect();
        c.sort();
        own.insert(c.join(","), PathBuf::from(path));
    }
    own
}

/// Where the container's cgroup goes, in hierarchy-relative form, for a
/// hierarchy in which the caller sits at `own`:
/// absolute cgroupsPath as is; relative nested under the caller's own
/// cgroup (runc's rule); absent: the container id, relative.
pub fn placement(cgroups_path: Option<&Path>, id: &str, own: &Path) -> Result<PathBuf> {
    let p = cgroups_path.filter(|p| !p.as_os_str().is_empty());
    let rel = match p {
        Some(p) if p.is_absolute() => return clean(p, p),
        Some(p) => p.to_path_buf(),
        None => PathBuf::from(id),
    };
    clean(&own.join(&rel), &rel)
}

/// Rejects `..` (a cgroupsPath must not climb out of where it is placed)
/// and normalises to an absolute path.
fn clean(p: &Path, orig: &Path) -> Result<PathBuf> {
    use std::path::Component;
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                return Err(CgroupError::InvalidPath {
                    path: orig.display().to_string(),
                    why: "it must not contain \"..\"",
                })
            }
            _ => {}
        }
    }
    if out == Path::new("/") {
        return Err(CgroupError::InvalidPath {
            path: orig.display().to_string(),
            why: "it names the root cgroup",
        });
    }
    Ok(out)
}

/// Where a relative cgroupsPath goes on pure v2: beside the caller, under
/// its parent, not inside its own cgroup (runc's fs2 rule). The caller's
/// cgroup holds processes (the caller, at least) and cgroup2 forbids
/// enabling controllers for the children of such a cgroup ("no internal
/// processes"), so a container nested there could have no resources.
pub fn v2_relative_base(own: &Path) -> &Path {
    own.parent().unwrap_or(own)
}

/// The directory of hierarchy-relative cgroup `rel` under mount `m`.
pub fn dir_in(m: &Mount, rel: &Path) -> PathBuf {
    // If only a subtree of the hierarchy is mounted (m.root), paths are
    // relative to it.
    let inner = rel.strip_prefix(&m.root).unwrap_or(rel);
    let inner = inner.strip_prefix("/").unwrap_or(inner);
    m.mountpoint.join(inner)
}

/// Which of a container's cgroup directories `Driver::create` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The one a new process is cloned into (`Driver::clone_target`): it
    /// must exist before the clone.
    CloneTarget,
    /// The others (the v1 hierarchies): `create` makes them while the new
    /// init sets itself up, which it joins when they are ready.
    Rest,
    /// All of them.
    All,
}

/// What every driver does for a container.
pub trait Driver {
    /// Makes the directories (and parents) of `part`, recording which were new.
    fn create(&mut self, part: Part) -> Result<()>;
    /// Applies the resources of the spec (basic set: memory, cpu, pids, …).
    fn apply(&self, res: &LinuxResources) -> Result<()>;
    /// Moves `pid` into the container's cgroup in every hierarchy.
    fn add(&self, pid: Pid) -> Result<()>;
    /// Pids in the container's cgroup.
    fn pids(&self) -> Result<Vec<Pid>>;
    /// Freezes (true) or thaws (false), waiting until the state is reached.
    fn freeze(&self, frozen: bool) -> Result<()>;
    /// Is the cgroup frozen right now?
    fn frozen(&self) -> bool;
    /// Removes the directories this container made, deepest first.
    fn remove(&self) -> Result<()>;
    /// What to store in the record so a later invocation finds the cgroup.
    fn record(&self) -> CgroupRecord;
    /// Usage counters (cpu, memory, pids, io, hugetlb) in runc's shape.
    fn stats(&self) -> stats::Stats;
    /// OOM kills in the cgroup so far (one file read).
    fn oom_kills(&self) -> u64;
    /// The one cgroup v2 directory a new process can be cloned straight
    /// into (CLONE_INTO_CGROUP): pure v2, or the cgroup2 side of a hybrid
    /// host; None without one.
    fn clone_target(&self) -> Option<&Path> {
        None
    }
    /// The v1 hierarchies' directories, which a new process joins itself
    /// (see Entry).
    fn v1_dirs(&self) -> Vec<&Path> {
        Vec::new()
    }
}

/// How a new process enters a container's cgroups without being moved
/// there by pid. A move by pid takes the kernel's global
/// cgroup_threadgroup_rwsem for writing, which waits out an RCU grace
/// period unless one passed moments ago: 5–20 ms measured on this VM, paid
/// by every create and exec that comes after a pause. Instead the process
/// is cloned into the cgroup2 directory (CLONE_INTO_CGROUP takes the read
/// side only) and, single-threaded, moves itself into each v1 hierarchy by
/// writing 0 to its `tasks` file: a one-thread move of the caller, which
/// the kernel does without that lock. The files are opened by the runtime,
/// whose credentials the kernel checks (the file opener's), so this works
/// from a new user namespace too.
#[derive(Debug, Default)]
pub struct Entry {
    /// The cgroup2 directory, opened for CLONE_INTO_CGROUP.
    clone_into: Option<(PathBuf, std::os::fd::OwnedFd)>,
    /// Each v1 directory and its `tasks` file, open for writing.
    tasks: Vec<(PathBuf, std::os::fd::OwnedFd)>,
}

impl Entry {
    /// Both parts, for a process joining cgroups that exist (exec).
    pub fn open(cg: &dyn Driver) -> Result<Entry> {
        Ok(Entry {
            tasks: Entry::open_tasks(cg)?,
            ..Entry::clone_target(cg)?
        })
    }

    /// The cgroup2 directory alone, for an init cloned before its v1
    /// directories exist: `create` makes those meanwhile and sends their
    /// `tasks` files (open_tasks) over the sync socket (Msg::Join).
    pub fn clone_target(cg: &dyn Driver) -> Result<Entry> {
        Ok(Entry {
            clone_into: match cg.clone_target() {
                Some(dir) => Some(open_in(
                    dir.to_path_buf(),
                    nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY,
                )?),
                None => None,
            },
            tasks: Vec::new(),
        })
    }

    /// Each v1 directory with its `tasks` file, open for writing.
    pub fn open_tasks(cg: &dyn Driver) -> Result<Vec<(PathBuf, std::os::fd::OwnedFd)>> {
        cg.v1_dirs()
            .into_iter()
            .map(|d| {
                let (_, fd) = open_in(d.join("tasks"), nix::fcntl::OFlag::O_WRONLY)?;
                Ok((d.to_path_buf(), fd))
            })
            .collect()
    }

    /// The fd to clone into, if any.
    pub fn clone_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        self.clone_into.as_ref().map(|(_, fd)| fd.as_fd())
    }

    /// Runs in: the new process, single-threaded, before it does anything
    /// else. Joins every v1 hierarchy (the files close on execve).
    pub fn join_self(&self) -> Result<(), (PathBuf, nix::Error)> {
        join_self(self.tasks.iter().map(|(d, fd)| (d.as_path(), fd)))
    }

    /// Runs in: the runtime, after the clone. Where the process was not
    /// born in its cgroup2 directory (a kernel before 5.7), moves it there
    /// by pid.
    pub fn place(&self, pid: Pid, cloned_in: bool) -> Result<()> {
        match &self.clone_into {
            Some((dir, _)) if !cloned_in => write(dir, "cgroup.procs", &pid.to_string()),
            _ => Ok(()),
        }
    }
}

fn open_in(path: PathBuf, flags: nix::fcntl::OFlag) -> Result<(PathBuf, std::os::fd::OwnedFd)> {
    match nix::fcntl::open(
        &path,
        flags | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    ) {
        Ok(fd) => Ok((path, fd)),
        Err(e) => Err(CgroupError::Open {
            path,
            source: io::Error::from(e),
        }),
    }
}

/// Runs in: a new process, single-threaded. Moves the caller into each v1
/// directory by writing 0 to its `tasks` file (a one-thread move of
/// oneself: see Entry); the error names the directory.
pub fn join_self<'a>(
    tasks: impl IntoIterator<Item = (&'a Path, &'a std::os::fd::OwnedFd)>,
) -> Result<(), (PathBuf, nix::Error)> {
    for (dir, fd) in tasks {
        nix::unistd::write(fd, b"0").map_err(|e| (dir.join("tasks"), e))?;
    }
    Ok(())
}

/// How a rootless runtime (not the host's root, or root of a user
/// namespace only) treats cgroups, as runc does: the container's cgroup is
/// made where the user may (a delegated subtree) and silently left out
/// where it may not, unless the config asks for a resource limit, which
/// then fails with `NotDelegated`. Device rules are not enforced (that
/// needs the devices controller or a BPF program, both privileged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rootless {
    /// The caller's own directory in the cgroup2 tree: the init starts
    /// there, and moving it out needs write access to the cgroup.procs of
    /// the common ancestor (cgroup-v2.rst, "Delegation Containment").
    pub own_v2: Option<PathBuf>,
}

/// Is this the kernel saying the cgroup tree is not ours to change?
pub fn is_permission(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EACCES | libc::EPERM | libc::EROFS)
    )
}

/// May this process move a process from cgroup2 directory `from` into
/// `to`? It needs write access to `to`'s cgroup.procs and to that of the
/// closest ancestor of both.
pub fn may_migrate(from: &Path, to: &Path) -> bool {
    use nix::unistd::{access, AccessFlags};
    let mut common = to;
    while !from.starts_with(common) {
        match common.parent() {
            Some(p) => common = p,
            None => return false,
        }
    }
    [to, common]
        .iter()
        .all(|d| access(&d.join("cgroup.procs"), AccessFlags::W_OK).is_ok())
}

/// Warns, once per container, that a rootless container runs without (part
/// of) its cgroup: `skipped` are the hierarchies left out ("" is cgroup2)
/// and their directories; `all` says nothing was left.
pub(crate) fn note_skipped(skipped: &[(&str, &Path)], all: bool) {
    if let Some(note) = skipped_note(skipped, all) {
        log::warn!("{note}");
    }
}

fn skipped_note(skipped: &[(&str, &Path)], all: bool) -> Option<String> {
    let (_, first) = skipped.first()?;
    let more = match skipped.len() - 1 {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    Some(if all {
        format!(
            "rootless: no cgroup is delegated to this user (cannot use {first:?}{more}): the container runs without one; resource limits, pause, update and cgroup stats are unavailable"
        )
    } else {
        let names: Vec<&str> = skipped
            .iter()
            .map(|(c, _)| if c.is_empty() { "cgroup2" } else { c })
            .collect();
        format!(
            "rootless: cgroup hierarchies {} are not delegated to this user (cannot use {first:?}{more}): the container runs without them; their limits and stats are unavailable",
            names.join(" ")
        )
    })
}

/// Builds the driver for a new container.
pub fn for_new(
    layout: &Layout,
    cgroups_path: Option<&Path>,
    id: &str,
    rootless: bool,
) -> Result<Box<dyn Driver>> {
    let own_text =
        crate::sys::read_proc_text(Path::new("/proc/self/cgroup"), 4096).map_err(|source| {
            CgroupError::Read {
                path: "/proc/self/cgroup".into(),
                source,
            }
        })?;
    let own = parse_proc_cgroup(&own_text);
    let rootless = rootless.then(|| Rootless {
        own_v2: layout
            .unified
            .as_ref()
            .map(|m| dir_in(m, own.get("").map_or(Path::new("/"), |p| p.as_path()))),
    });
    if layout.is_v2() {
        let m = layout.unified.as_ref().expect("is_v2 checked unified");
        let own = own.get("").map_or(Path::new("/"), |p| p.as_path());
        let rel = placement(cgroups_path, id, v2_relative_base(own))?;
        // Rootless or not, v2 enables what it can (see V2::enable_controllers).
        Ok(Box::new(v2::V2::new(
            dir_in(m, &rel),
            m.mountpoint.clone(),
            rootless,
        )))
    } else if !layout.v1.is_empty() {
        let mut paths = BTreeMap::new();
        for m in &layout.v1 {
            let rel = placement(
                cgroups_path,
                id,
                own.get(&m.controllers)
                    .map_or(Path::new("/"), |p| p.as_path()),
            )?;
            paths.insert(m.controllers.clone(), dir_in(m, &rel));
        }
        // Hybrid: also place the container in the cgroup2 tree, as runc does.
        if let Some(m) = &layout.unified {
            let rel = placement(
                cgroups_path,
                id,
                own.get("").map_or(Path::new("/"), |p| p.as_path()),
            )?;
            paths.insert(String::new(), dir_in(m, &rel));
        }
        Ok(Box::new(v1::V1::new(paths, rootless)))
    } else {
        Err(CgroupError::NoHierarchy)
    }
}

/// Rebuilds the driver of an existing container from its record.
pub fn from_record(rec: &CgroupRecord) -> Option<Box<dyn Driver>> {
    match rec.driver.as_str() {
        "v1" => Some(Box::new(v1::V1::from_record(rec))),
        "v2" => Some(Box::new(v2::V2::from_record(rec))),
        _ => None,
    }
}

/// mkdir -p that remembers which directories it made, outermost first.
pub(crate) fn mkdir_all(dir: &Path, made: &mut Vec<PathBuf>) -> Result<()> {
    // Most often only the leaf is missing: one mkdir, no walk.
    match fs::create_dir(dir) {
        Ok(()) => {
            made.push(dir.to_path_buf());
            return Ok(());
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(CgroupError::Create {
                path: dir.into(),
                source,
            })
        }
    }
    let mut missing = Vec::new();
    let mut cur = dir;
    while !cur.exists() {
        missing.push(cur.to_path_buf());
        match cur.parent() {
            Some(p) => cur = p,
            None => break,
        }
    }
    for d in missing.into_iter().rev() {
        match fs::create_dir(&d) {
            Ok(()) => made.push(d),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(source) => return Err(CgroupError::Create { path: d, source }),
        }
    }
    Ok(())
}

/// Writes one cgroup file.
pub(crate) fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    fs::write(&path, value).map_err(|source| CgroupError::Write {
        path,
        value: value.to_string(),
        source,
    })
}

pub(crate) fn read(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    fs::read_to_string(&path).map_err(|source| CgroupError::Read { path, source })
}

/// Reads a cgroup.procs-style file of pids.
pub(crate) fn read_pids(dir: &Path, file: &str) -> Result<Vec<Pid>> {
    match read(dir, file) {
        Ok(text) => Ok(text
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .map(Pid::from_raw)
            .collect()),
        Err(CgroupError::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            Ok(Vec::new())
        }
        Err(e) => Err(e),
    }
}

/// rmdir with retries: a cgroup stays busy for a moment after its last
/// process exits.
pub(crate) fn rmdir_retry(dir: &Path) -> Result<()> {
    let mut delay = std::time::Duration::from_micros(500);
    for _ in 0..12 {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(std::time::Duration::from_millis(100));
            }
            Err(source) => {
                return Err(CgroupError::Remove {
                    path: dir.into(),
                    source,
                })
            }
        }
    }
    fs::remove_dir(dir).map_err(|source| CgroupError::Remove {
        path: dir.into(),
        source,
    })
}

/// Removes the directories in `made` (outermost first), deepest first.
/// Parents shared with other containers stay when they are not empty.
pub(crate) fn remove_made(made: &[PathBuf], leaves: &[PathBuf]) -> Result<()> {
    let mut first_err = None;
    for d in made.iter().rev() {
        let is_leaf = leaves.iter().any(|l| l == d);
        match rmdir_retry(d) {
            Ok(()) => {}
            // A parent that another container now uses is not ours to remove.
            Err(CgroupError::Remove { source, .. })
                if !is_leaf
                    && matches!(source.raw_os_error(), Some(libc::EBUSY | libc::ENOTEMPTY)) => {}
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    first_err.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 31 0:39 / /sys/fs/cgroup/net_cls,net_prio rw shared:9 - cgroup cgroup rw,net_cls,net_prio
";

    #[test]
    fn a_rootless_note_says_what_runs_without_a_cgroup() {
        assert_eq!(skipped_note(&[], true), None);
        let v2 = Path::new("/sys/fs/cgroup/user.slice/c");
        assert_eq!(
            skipped_note(&[("", v2)], true).unwrap(),
            "rootless: no cgroup is delegated to this user (cannot use \"/sys/fs/cgroup/user.slice/c\"): the container runs without one; resource limits, pause, update and cgroup stats are unavailable"
        );
        let mem = Path::new("/sys/fs/cgroup/memory/c");
        let note = skipped_note(&[("", v2), ("memory", mem)], false).unwrap();
        assert!(
            note.starts_with("rootless: cgroup hierarchies cgroup2 memory are not delegated to this user (cannot use \"/sys/fs/cgroup/user.slice/c\" and 1 more)"),
            "{note}"
        );
    }

    #[test]
    fn hybrid_layout_is_detected() {
        let l = Layout::parse(HYBRID);
        let names: Vec<_> = l.v1.iter().map(|m| m.controllers.as_str()).collect();
        assert_eq!(
            names,
            [
                "cpu",
                "cpuacct",
                "memory",
                "name=systemd",
                "net_cls,net_prio"
            ]
        );
        assert_eq!(
            l.unified.as_ref().unwrap().mountpoint,
            Path::new("/sys/fs/cgroup/unified")
        );
        assert!(!l.is_v2());
        assert_eq!(
            l.v1_mount("net_prio").unwrap().mountpoint,
            Path::new("/sys/fs/cgroup/net_cls,net_prio")
        );
    }

    #[test]
    fn pure_v2_layout_is_detected() {
        let l = Layout::parse("25 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
        assert!(l.is_v2());
    }

    #[test]
    fn proc_cgroup_maps_controllers_to_paths() {
        let own = parse_proc_cgroup(
            "9:name=systemd:/\n4:memory:/process_api/abc\n2:cpuacct,cpu:/\n0::/x\n",
        );
        assert_eq!(own["memory"], Path::new("/process_api/abc"));
        assert_eq!(own["cpu,cpuacct"], Path::new("/"));
        assert_eq!(own[""], Path::new("/x"));
    }

    #[test]
    fn placement_follows_runc() {
        let own = Path::new("/process_api/abc");
        assert_eq!(
            placement(Some(Path::new("/a/b")), "id", own).unwrap(),
            Path::new("/a/b")
        );
        assert_eq!(
            placement(Some(Path::new("x/y")), "id", own).unwrap(),
            Path::new("/process_api/abc/x/y")
        );
        assert_eq!(
            placement(None, "id", own).unwrap(),
            Path::new("/process_api/abc/id")
        );
        assert_eq!(
            placement(Some(Path::new("")), "id", Path::new("/")).unwrap(),
            Path::new("/id")
        );
    }

    #[test]
    fn v2_places_relative_paths_beside_the_caller() {
        let own = Path::new("/system.slice/ci.service");
        assert_eq!(
            placement(Some(Path::new("x")), "id", v2_relative_base(own)).unwrap(),
            Path::new("/system.slice/x")
        );
        assert_eq!(v2_relative_base(Path::new("/")), Path::new("/"));
    }

    #[test]
    fn placement_refuses_escapes_and_the_root() {
        assert!(placement(Some(Path::new("../x")), "id", Path::new("/a")).is_err());
        assert!(placement(Some(Path::new("/a/../../b")), "id", Path::new("/")).is_err());
        assert!(placement(Some(Path::new("/")), "id", Path::new("/")).is_err());
    }

    #[test]
    fn dir_in_respects_a_mounted_subtree() {
        let m = Mount {
            controllers: "memory".into(),
            mountpoint: "/sys/fs/cgroup/memory".into(),
            root: "/".into(),
        };
        assert_eq!(
            dir_in(&m, Path::new("/a/b")),
            Path::new("/sys/fs/cgroup/memory/a/b")
        );
        let sub = Mount {
            root: "/kube".into(),
            ..m
        };
        assert_eq!(
            dir_in(&sub, Path::new("/kube/a")),
            Path::new("/sys/fs/cgroup/memory/a")
        );
    }

    #[test]
    fn mountinfo_octal_escapes_are_decoded() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }

    #[test]
    fn mkdir_all_records_only_new_directories() {
        let base = std::env::temp_dir().join(format!("husk-cg-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(base.join("a")).unwrap();
        let mut made = Vec::new();
        mkdir_all(&base.join("a/b/c"), &mut made).unwrap();
        assert_eq!(made, [base.join("a/b"), base.join("a/b/c")]);
        remove_made(&made, &[base.join("a/b/c")]).unwrap();
        assert!(base.join("a").exists() && !base.join("a/b").exists());
        fs::remove_dir_all(&base).unwrap();
    }
}

//! CRIU, the checkpoint/restore tool, driven through its command line
//! (`criu dump|pre-dump|restore`), as LXC does. This module owns what is
//! CRIU's business and no container's: finding the binary, the argument
//! lists (pure, unit-tested), which of a process's mounts and stdio fds
//! CRIU must be told are external, the checkpoint's metadata file, and the
//! error that quotes CRIU's log when it fails.
//!
//! Called from: container::checkpoint, container::restore, features.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

/// CRIU's log file names, in the work directory (runc's names: engines read them).
pub const DUMP_LOG: &str = "dump.log";
pub const RESTORE_LOG: &str = "restore.log";
/// husk's description of a checkpoint, in the image directory.
pub const META_FILE: &str = "husk-checkpoint.json";
/// runc's list of the init's stdio (the targets of /proc/<pid>/fd/0-2).
pub const DESCRIPTORS_FILE: &str = "descriptors.json";
/// The image CRIU writes last on a successful dump: its presence marks an image.
pub const INVENTORY_FILE: &str = "inventory.img";
/// How many of the log's last error lines an error message quotes.
const QUOTED_ERRORS: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum CriuError {
    #[error("criu is not installed: no executable `criu` in $PATH (Debian: apt-get install criu)")]
    NotFound,
    #[error("failed to run {path:?}")]
    Spawn {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}", failed_message(.action, .status, .errors, .log))]
    Failed {
        action: &'static str,
        /// "exit status 1", "killed by signal 9".
        status: String,
        /// The log's last error lines, without timestamps, oldest first.
        errors: Vec<String>,
        log: PathBuf,
    },
    #[error("invalid {what} {path:?}: {why}")]
    BadPath {
        what: &'static str,
        path: PathBuf,
        why: String,
    },
    #[error("failed to {what} {path:?}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("no checkpoint in {path:?}: {INVENTORY_FILE} is missing (was the dump complete?)")]
    NoImage { path: PathBuf },
    #[error("cannot read the checkpoint description {path:?}: {msg}")]
    Meta { path: PathBuf, msg: String },
}

pub type Result<T, E = CriuError> = std::result::Result<T, E>;

fn failed_message(action: &str, status: &str, errors: &[String], log: &Path) -> String {
    if errors.is_empty() {
        format!(
            "criu {action} failed ({status}); criu log: {}",
            log.display()
        )
    } else {
        format!(
            "criu {action} failed ({status}): {}; criu log: {}",
            errors.join("; "),
            log.display()
        )
    }
}

/// The `criu` executable on $PATH (runc runs "criu" the same way).
pub fn find() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join("criu"))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
        .ok_or(CriuError::NotFound)
}

/// Is `name` an executable on $PATH?
pub fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|d| {
            fs::metadata(d.join(name))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// `criu --version`'s number ("3.17.1").
pub fn version(criu: &Path) -> Option<String> {
    let out = Command::new(criu)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Version:"))
        .map(|v| v.trim().to_string())
}

/// Runs `criu check`: Ok when CRIU can work on this kernel, else its errors.
pub fn check(criu: &Path) -> std::result::Result<(), Vec<String>> {
    let out = Command::new(criu)
        .arg("check")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| vec![format!("cannot run {}: {e}", criu.display())])?;
    if out.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    Err(log_errors(&text, QUOTED_ERRORS))
}

/// The last `max` distinct error lines of a CRIU log, oldest first, without
/// their timestamps. CRIU logs an error where it happens and again on its
/// way out, and its kernel probe logs harmless ones first; the last few
/// name the cause.
pub fn log_errors(log: &str, max: usize) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut lines: Vec<String> = Vec::new();
    for line in log.lines().rev() {
        // "(00.123456) Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds"
        let text = match line.strip_prefix('(').and_then(|r| r.split_once(") ")) {
            Some((_, rest)) => rest,
            None => line,
        }
        .trim();
        if !text.starts_with("Error (") {
            continue;
        }
        if seen.insert(text.to_string()) {
            lines.push(text.to_string());
            if lines.len() == max {
                break;
            }
        }
    }
    lines.reverse();
    lines
}

/// How a process ended, in words.
pub fn describe_status(status: std::process::ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "unknown status".into(),
    }
}

/// The error for a failed criu run: its log's last errors, else (no log:
/// criu stopped before it opened one) the last lines it printed.
pub fn failure(action: &'static str, status: String, log: &Path, output: &str) -> CriuError {
    let mut errors = fs::read_to_string(log)
        .map(|t| log_errors(&t, QUOTED_ERRORS))
        .unwrap_or_default();
    if errors.is_empty() {
        errors = output
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        let skip = errors.len().saturating_sub(QUOTED_ERRORS);
        errors.drain(..skip);
    }
    CriuError::Failed {
        action,
        status,
        errors,
        log: log.to_path_buf(),
    }
}

/// `--manage-cgroups` modes (runc's --manage-cgroups-mode values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupsMode {
    Soft,
    Full,
    Strict,
    Ignore,
}

impl CgroupsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupsMode::Soft => "soft",
            CgroupsMode::Full => "full",
            CgroupsMode::Strict => "strict",
            CgroupsMode::Ignore => "ignore",
        }
    }

    fn arg(mode: Option<CgroupsMode>) -> String {
        match mode {
            // CRIU's default (soft), as runc's DEFAULT mode leaves it.
            None => "--manage-cgroups".into(),
            Some(m) => format!("--manage-cgroups={}", m.as_str()),
        }
    }
}

/// Options shared by dump and restore (runc's flags of the same names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Common {
    pub images: PathBuf,
    /// Logs and CRIU's scratch files (default: the image directory).
    pub work: PathBuf,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub manage_cgroups: Option<CgroupsMode>,
    /// The container has a network namespace of its own: CRIU recreates
    /// it empty (runc always asks for that; lo is brought up again by the
    /// restore's action script).
    pub empty_net: bool,
}

impl Common {
    fn push(&self, args: &mut Vec<OsString>, log: &str) {
        args.push("--images-dir".into());
        args.push(self.images.clone().into());
        args.push("--work-dir".into());
        args.push(self.work.clone().into());
        args.push("--log-file".into());
        args.push(log.into());
        // runc's log level: everything, so a failure can be explained.
        args.push("-v4".into());
        args.push(CgroupsMode::arg(self.manage_cgroups).into());
        for (on, flag) in [
            (self.tcp_established, "--tcp-established"),
            (self.ext_unix_sk, "--ext-unix-sk"),
            (self.shell_job, "--shell-job"),
            (self.file_locks, "--file-locks"),
        ] {
            if on {
                args.push(flag.into());
            }
        }
        if self.empty_net {
            args.push("--empty-ns".into());
            args.push("net".into());
        }
    }
}

/// A dump (or pre-dump) of the tree under `pid`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dump {
    pub common: Common,
    pub pid: i32,
    /// The container's rootfs: CRIU records mounts relative to it.
    pub root: PathBuf,
    pub pre_dump: bool,
    pub leave_running: bool,
    /// A previous (pre-)dump, relative to the image directory.
    pub parent: Option<PathBuf>,
    /// The cgroup to freeze the tree with (v1 freezer or the v2 cgroup).
    pub freeze_cgroup: Option<PathBuf>,
    /// `--external` values: mounts (`mnt[/dest]:/dest`), files from outside
    /// the container (`file[mnt_id:inode]`), joined namespaces.
    pub externals: Vec<String>,
    /// Lock the network with nftables (when iptables is not installed).
    pub nftables_lock: bool,
}

impl Dump {
    pub fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec![if self.pre_dump { "pre-dump" } else { "dump" }.into()];
        a.push("--tree".into());
        a.push(self.pid.to_string().into());
        self.common.push(&mut a, DUMP_LOG);
        a.push("--root".into());
        a.push(self.root.clone().into());
        if self.leave_running && !self.pre_dump {
            a.push("--leave-running".into());
        }
        if let Some(p) = &self.parent {
            a.push("--prev-images-dir".into());
            a.push(p.clone().into());
            a.push("--track-mem".into());
        }
        if let Some(cg) = &self.freeze_cgroup {
            a.push("--freeze-cgroup".into());
            a.push(cg.clone().into());
        }
        if self.nftables_lock {
            a.push("--network-lock".into());
            a.push("nftables".into());
        }
        for e in &self.externals {
            a.push("--external".into());
            a.push(e.into());
        }
        a
    }
}

/// A restore into `root` (a mount point holding the rootfs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restore {
    pub common: Common,
    pub root: PathBuf,
    pub pidfile: PathBuf,
    /// `--cgroup-root` values: `CONTROLLERS:/path` (v1) or `/path` (v2).
    pub cgroup_roots: Vec<String>,
    /// `--external mnt[KEY]:SOURCE` values.
    pub externals: Vec<String>,
    /// (fd in criu, the dumped resource it stands for).
    pub inherit: Vec<(i32, String)>,
    pub action_script: Option<PathBuf>,
}

impl Restore {
    pub fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["restore".into()];
        self.common.push(&mut a, RESTORE_LOG);
        a.push("--root".into());
        a.push(self.root.clone().into());
        // Detached, and the restored init a sibling of criu: the child of
        // whoever ran criu (husk, or the shim), who can then wait for it.
        a.push("--restore-detached".into());
        a.push("--restore-sibling".into());
        a.push("--pidfile".into());
        a.push(self.pidfile.clone().into());
        // Device nodes may sit elsewhere on this host (runc sets it too).
        a.push("--evasive-devices".into());
        for r in &self.cgroup_roots {
            a.push("--cgroup-root".into());
            a.push(r.into());
        }
        for e in &self.externals {
            a.push("--external".into());
            a.push(e.into());
        }
        for (fd, key) in &self.inherit {
            a.push("--inherit-fd".into());
            a.push(format!("fd[{fd}]:{key}").into());
        }
        if let Some(s) = &self.action_script {
            a.push("--action-script".into());
            a.push(s.clone().into());
        }
        a
    }
}

/// One line of /proc/<pid>/mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub id: u32,
    /// "major:minor" of the filesystem.
    pub dev: String,
    /// The path within the filesystem that is mounted (field 4).
    pub root: String,
    /// Where, relative to the process's root (field 5).
    pub mountpoint: String,
    pub fstype: String,
}

/// Parses mountinfo text (octal escapes left as they are: the paths are
/// compared with each other, not opened).
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let l: Vec<&str> = left.split(' ').collect();
            if l.len() < 5 {
                return None;
            }
            Some(MountEntry {
                id: l[0].parse().ok()?,
                dev: l[2].to_string(),
                root: l[3].to_string(),
                mountpoint: l[4].to_string(),
                fstype: right.split(' ').next()?.to_string(),
            })
        })
        .collect()
}

/// Is `inner` at or below `outer` (whole path components)?
fn is_within(inner: &str, outer: &str) -> bool {
    outer == "/"
        || inner == outer
        || inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The mounts CRIU cannot rebuild from the container's own mount tree: bind
/// mounts whose source is reachable through no other mount of the same
/// filesystem there (host directories, the container's cgroup directory,
/// host device nodes). CRIU refuses to dump those unless named external.
/// A mount of a filesystem's root (proc, a tmpfs, sysfs…) CRIU makes anew,
/// and the root mount is the `--root` it is given.
pub fn external_mounts(mounts: &[MountEntry]) -> Vec<&MountEntry> {
    mounts
        .iter()
        .filter(|m| m.mountpoint != "/" && m.root != "/")
        .filter(|m| {
            !mounts
                .iter()
                .any(|o| o.id != m.id && o.dev == m.dev && is_within(&m.root, &o.root))
        })
        .collect()
}

/// Where the source of an external mount comes from at restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum MountSource {
    /// A bind mount of the config: its source (the restore's config wins).
    Bind { source: PathBuf },
    /// The container's cgroup directory: `name` is the v1 hierarchy's
    /// directory under the cgroup mount ("memory", "cpu,cpuacct"), "" on v2.
    Cgroup { name: String },
    /// The same host path as the destination (a host device node).
    Host,
    /// A masked path over the host's null device.
    Null,
}

/// An external mount of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalMount {
    /// The mount point in the container: CRIU's key for it.
    pub key: String,
    #[serde(flatten)]
    pub source: MountSource,
}

impl ExternalMount {
    /// `--external` for the dump: the key names itself.
    pub fn dump_arg(&self) -> String {
        format!("mnt[{}]:{}", self.key, self.key)
    }

    /// `--external` for the restore: the key and what to bind there.
    pub fn restore_arg(source: &Path, key: &str) -> String {
        format!("mnt[{key}]:{}", source.display())
    }
}

/// One of the init's stdio fds as the dump saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StdioFd {
    pub fd: i32,
    /// The target of /proc/<pid>/fd/N ("pipe:[123]", "/dev/null").
    pub link: String,
    /// CRIU's name for it when the restore must hand it over
    /// (`--inherit-fd`): "pipe:[123]", or "file[mnt_id:inode]" for a file
    /// opened outside the container's mounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl StdioFd {
    /// `--external` needed at dump: a file from outside the container.
    pub fn dump_external(&self) -> Option<&str> {
        self.key.as_deref().filter(|k| k.starts_with("file["))
    }
}

/// What the dump should know about fd `fd` of a process, from its link,
/// its mount id (fdinfo) and inode, given the ids of the process's mounts.
pub fn classify_stdio(
    fd: i32,
    link: &str,
    mnt_id: Option<u32>,
    inode: Option<u64>,
    mount_ids: &BTreeSet<u32>,
) -> StdioFd {
    let key = if link.starts_with("pipe:[") {
        Some(link.to_string())
    } else if link.starts_with('/') {
        match (mnt_id, inode) {
            (Some(m), Some(i)) if !mount_ids.contains(&m) => Some(format!("file[{m:x}:{i:x}]")),
            _ => None,
        }
    } else {
        None
    };
    StdioFd {
        fd,
        link: link.to_string(),
        key,
    }
}

/// Reads fds 0-2 of `pid`.
pub fn stdio_of(pid: i32, mounts: &[MountEntry]) -> Vec<StdioFd> {
    let ids: BTreeSet<u32> = mounts.iter().map(|m| m.id).collect();
    (0..3)
        .filter_map(|fd| {
            let path = format!("/proc/{pid}/fd/{fd}");
            let link = fs::read_link(&path).ok()?.to_string_lossy().into_owned();
            let mnt_id = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))
                .ok()
                .and_then(|t| {
                    t.lines()
                        .find_map(|l| l.strip_prefix("mnt_id:"))
                        .and_then(|v| v.trim().parse().ok())
                });
            let inode = fs::metadata(&path).ok().map(|m| m.ino());
            Some(classify_stdio(fd, &link, mnt_id, inode, &ids))
        })
        .collect()
}

/// husk's description of a checkpoint, beside CRIU's images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub id: String,
    /// The bundle the container was created from (restore's default).
    pub bundle: PathBuf,
    pub stdio: Vec<StdioFd>,
    pub mounts: Vec<ExternalMount>,
    /// The dump was told to recreate the network namespace empty.
    #[serde(default)]
    pub empty_net: bool,
}

impl Meta {
    /// Writes husk-checkpoint.json and runc's descriptors.json.
    pub fn write(&self, images: &Path) -> Result<()> {
        let write = |name: &str, bytes: Vec<u8>| {
            let path = images.join(name);
            fs::write(&path, bytes).map_err(|source| CriuError::Io {
                what: "write",
                path,
                source,
            })
        };
        write(
            META_FILE,
            serde_json::to_vec_pretty(self).expect("a description of strings serialises"),
        )?;
        let links: Vec<&str> = self.stdio.iter().map(|s| s.link.as_str()).collect();
        write(
            DESCRIPTORS_FILE,
            serde_json::to_vec(&links).expect("strings serialise"),
        )
    }

    /// Reads a checkpoint's description: husk's, else (an image runc made)
    /// the stdio from runc's descriptors.json.
    pub fn read(images: &Path) -> Result<Meta> {
        if !images.join(INVENTORY_FILE).exists() {
            return Err(CriuError::NoImage {
                path: images.into(),
            });
        }
        let path = images.join(META_FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| CriuError::Meta {
                path,
                msg: e.to_string(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let path = images.join(DESCRIPTORS_FILE);
                let bytes = fs::read(&path).map_err(|source| CriuError::Io {
                    what: "read",
                    path: path.clone(),
                    source,
                })?;
                let links: Vec<String> =
                    serde_json::from_slice(&bytes).map_err(|e| CriuError::Meta {
                        path,
                        msg: e.to_string(),
                    })?;
                Ok(Meta {
                    id: String::new(),
                    bundle: PathBuf::new(),
                    stdio: links
                        .iter()
                        .enumerate()
                        .map(|(fd, l)| classify_stdio(fd as i32, l, None, None, &BTreeSet::new()))
                        .collect(),
                    mounts: Vec::new(),
                    empty_net: true,
                })
            }
            Err(source) => Err(CriuError::Io {
                what: "read",
                path,
                source,
            }),
        }
    }
}

/// Runs a dump with `criu` and waits for it. Its output goes to the log;
/// what it prints before opening the log is kept for the error.
pub fn run_dump(criu: &Path, dump: &Dump) -> Result<()> {
    let action = if dump.pre_dump { "pre-dump" } else { "dump" };
    log::debug!("running {} {:?}", criu.display(), dump.args());
    let out = Command::new(criu)
        .args(dump.args())
        .stdin(Stdio::null())
        .output()
        .map_err(|source| CriuError::Spawn {
            path: criu.into(),
            source,
        })?;
    if out.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Err(failure(
        action,
        describe_status(out.status),
        &dump.common.work.join(DUMP_LOG),
        &text,
    ))
}

/// Where the source of external mount `m` is found at restore. The
/// container's cgroup directory (v2: /sys/fs/cgroup; v1: one directory per
/// hierarchy below it) is the new container's; a bind mount of the config
/// is rebound from the restore's config; a bind of the host's null device
/// over a masked file is the null device again; anything else (a host
/// device node) is the same host path.
pub fn mount_source(m: &MountEntry, binds: &[(String, PathBuf)]) -> MountSource {
    let cgroup_fs = m.fstype == "cgroup" || m.fstype == "cgroup2";
    if cgroup_fs && m.mountpoint == "/sys/fs/cgroup" {
        return MountSource::Cgroup {
            name: String::new(),
        };
    }
    if let Some(name) = m.mountpoint.strip_prefix("/sys/fs/cgroup/") {
        if cgroup_fs {
            return MountSource::Cgroup { name: name.into() };
        }
    }
    if let Some((_, source)) = binds.iter().find(|(dest, _)| *dest == m.mountpoint) {
        return MountSource::Bind {
            source: source.clone(),
        };
    }
    if m.fstype == "devtmpfs" && m.root == "/null" {
        return MountSource::Null;
    }
    MountSource::Host
}

/// `--cgroup-root` values for a container whose cgroup directories are
/// `paths` (controllers → directory, "" for cgroup2), given where each
/// hierarchy is mounted: paths as the hierarchy names them, as runc passes
/// the ones it reads from /proc/<criu>/cgroup. The cgroup2 one has no
/// controller prefix, which makes it CRIU's default root.
pub fn cgroup_root_args(
    layout: &crate::cgroups::Layout,
    paths: &std::collections::BTreeMap<String, PathBuf>,
) -> Vec<String> {
    let in_hierarchy = |m: &crate::cgroups::Mount, dir: &Path| -> Option<String> {
        let rel = dir.strip_prefix(&m.mountpoint).ok()?;
        Some(Path::new("/").join(&m.root).join(rel).display().to_string())
    };
    let mut out = Vec::new();
    for m in &layout.v1 {
        if let Some(p) = paths.get(&m.controllers).and_then(|d| in_hierarchy(m, d)) {
            out.push(format!("{}:{p}", m.controllers));
        }
    }
    if let Some(m) = &layout.unified {
        if let Some(p) = paths.get("").and_then(|d| in_hierarchy(m, d)) {
            out.push(p);
        }
    }
    out
}

/// A copy of `fd` that survives exec (no close-on-exec), for
/// `--inherit-fd`: CRIU hands it to the restored process in place of the
/// resource it stands for.
pub fn inheritable(fd: std::os::fd::BorrowedFd<'_>) -> Result<std::os::fd::OwnedFd> {
    use std::os::fd::AsRawFd;
    let io_err = |source| CriuError::Io {
        what: "duplicate a descriptor for",
        path: "criu".into(),
        source,
    };
    let copy = fd.try_clone_to_owned().map_err(io_err)?;
    crate::sys::linux::clear_cloexec(copy.as_raw_fd()).map_err(|e| io_err(e.into()))?;
    Ok(copy)
}

/// Runs `criu restore` and waits for it. The child joins the container's
/// cgroups first (`join`, given its pid), as runc moves criu there: what
/// CRIU forks is born inside, and `--cgroup-root` names where it is.
/// Descriptors without close-on-exec (see `inheritable`) pass to CRIU;
/// its own stdout and stderr are kept for the error.
pub fn run_restore(
    criu: &Path,
    restore: &Restore,
    join: &dyn Fn(nix::unistd::Pid) -> std::result::Result<(), String>,
) -> Result<()> {
    use crate::sys::linux::{self, Forked};
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    let cstr = |b: &[u8]| CString::new(b).unwrap_or_default();
    let path = cstr(criu.as_os_str().as_bytes());
    let mut argv = vec![cstr(b"criu")];
    argv.extend(restore.args().iter().map(|a| cstr(a.as_bytes())));
    let envp: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            cstr(&kv)
        })
        .collect();
    let spawn_err = |e: nix::Error| CriuError::Spawn {
        path: criu.into(),
        source: e.into(),
    };
    let null = fs::File::open("/dev/null").map_err(|source| CriuError::Spawn {
        path: "/dev/null".into(),
        source,
    })?;
    let (out_r, out_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(spawn_err)?;
    log::debug!("running {} {:?}", criu.display(), restore.args());
    let child = match linux::fork_process().map_err(spawn_err)? {
        Forked::Child => {
            // Runs in: the child that becomes criu. Nothing here may return.
            drop(out_r);
            let say = |msg: &str| {
                let _ = nix::unistd::write(&out_w, msg.as_bytes());
            };
            if let Err(e) = join(nix::unistd::getpid()) {
                say(&format!(
                    "husk: cannot place criu in the container's cgroup: {e}\n"
                ));
                linux::exit_now(127);
            }
            let placed = linux::dup_onto(null.as_raw_fd(), 0)
                .and_then(|_| linux::dup_onto(out_w.as_raw_fd(), 1))
                .and_then(|_| linux::dup_onto(out_w.as_raw_fd(), 2));
            if placed.is_ok() {
                let e = linux::execve(&path, &argv, &envp);
                say(&format!("husk: cannot execute {}: {e}\n", criu.display()));
            }
            linux::exit_now(127)
        }
        Forked::Parent(pid) => pid,
    };
    drop(out_w);
    drop(null);
    let mut output = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match nix::unistd::read(&out_r, &mut buf) {
            Ok(0) => break,
            Ok(n) => output.extend_from_slice(&buf[..n]),
            Err(nix::Error::EINTR) => continue,
            Err(_) => break,
        }
    }
    let status = loop {
        match linux::wait_raw(child, 0) {
            Err(nix::Error::EINTR) => continue,
            r => break r.map_err(spawn_err)?.1,
        }
    };
    let status = std::process::ExitStatus::from_raw(status);
    if status.success() {
        return Ok(());
    }
    Err(failure(
        "restore",
        describe_status(status),
        &restore.common.work.join(RESTORE_LOG),
        &String::from_utf8_lossy(&output),
    ))
}

/// The action script CRIU runs at each step of a restore (with
/// CRTOOLS_SCRIPT_ACTION and CRTOOLS_INIT_PID in its environment): an
/// executable shell script that runs `HUSK __criu-action`. Written to `path`.
pub fn write_action_script(path: &Path, husk: &Path) -> Result<()> {
    let quoted = husk.display().to_string().replace('\'', r"'\''");
    let text = format!("#!/bin/sh\nexec '{quoted}' {ACTION_COMMAND}\n");
    fs::write(path, text)
        .and_then(|_| fs::set_permissions(path, fs::Permissions::from_mode(0o700)))
        .map_err(|source| CriuError::Io {
            what: "write",
            path: path.into(),
            source,
        })
}

/// The hidden command the action script runs.
pub const ACTION_COMMAND: &str = "__criu-action";

/// Runs in: `husk __criu-action`, a child of criu restore. At
/// `setup-namespaces` (the namespaces exist, no task runs yet) it brings
/// up the loopback interface of the new network namespace, which CRIU
/// recreated empty, as runc does for its loopback "network": sockets
/// bound to 127.0.0.1 are restored after this. Other steps: nothing.
pub fn on_action(action: &str, init_pid: Option<i32>) -> std::result::Result<(), String> {
    if action != "setup-namespaces" {
        return Ok(());
    }
    let pid = init_pid.ok_or("CRTOOLS_INIT_PID is not set")?;
    let path = format!("/proc/{pid}/ns/net");
    let ns = fs::File::open(&path).map_err(|e| format!("cannot open {path}: {e}"))?;
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("cannot enter {path}: {e}"))?;
    crate::sys::linux::set_loopback_up()
        .map_err(|e| format!("cannot bring up the loopback interface of {path}: {e}"))
}

/// Where a restore mounts the container's rootfs for `criu --root` (CRIU
/// wants a mount point), in the state directory.
pub const ROOT_MOUNT: &str = "criu-root";

/// Detaches a restore's rootfs mount left in state directory `dir` (by a
/// restore that was killed half-way), so that removing the directory
/// cannot descend into the bundle's rootfs. Nothing there: nothing done.
pub fn release_root(dir: &Path) -> Result<()> {
    let path = dir.join(ROOT_MOUNT);
    match nix::mount::umount2(&path, nix::mount::MntFlags::MNT_DETACH) {
        // ENOENT: no such directory; EINVAL: a directory, not a mount point.
        Ok(()) | Err(nix::Error::ENOENT | nix::Error::EINVAL) => Ok(()),
        Err(e) => Err(CriuError::Io {
            what: "unmount",
            path,
            source: e.into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The container's mountinfo from the pure v2 lane, as the dump saw it.
    const MOUNTINFO: &str = "\
37 28 0:19 /tmp/b/rootfs / rw,relatime master:1 - tmpfs newroot rw,mode=755,inode64
38 37 0:26 / /proc rw,relatime - proc proc rw
39 37 0:27 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755,inode64
40 39 0:28 / /dev/pts rw,nosuid,noexec,relatime - devpts devpts rw,gid=5,mode=620,ptmxmode=666
43 37 0:30 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro
44 43 0:24 /system.slice/ct1 /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime master:4 - cgroup2 cgroup2 rw,nsdelegate
45 38 0:31 / /proc/acpi ro,relatime - tmpfs tmpfs ro,inode64
46 38 0:27 /null /proc/kcore rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755,inode64
50 38 0:26 /bus /proc/bus ro,relatime - proc proc rw
55 37 0:19 /data /data rw,relatime - tmpfs newroot rw
56 37 0:19 /tmp/b/rootfs/etc /etc2 rw,relatime - tmpfs newroot rw
57 39 0:5 /fuse /dev/fuse rw - devtmpfs udev rw
";

    #[test]
    fn external_mounts_are_binds_of_what_the_container_cannot_reach() {
        let mounts = parse_mountinfo(MOUNTINFO);
        let ext: Vec<&str> = external_mounts(&mounts)
            .iter()
            .map(|m| m.mountpoint.as_str())
            .collect();
        // The cgroup directory, a host directory, a host device; not the
        // masked /proc/kcore (a file of the container's /dev), not
        // /proc/bus (a part of its /proc), not /etc2 (inside the rootfs).
        assert_eq!(ext, ["/sys/fs/cgroup", "/data", "/dev/fuse"]);
    }

    #[test]
    fn within_compares_whole_components() {
        assert!(is_within("/a/b", "/a"));
        assert!(is_within("/a", "/a"));
        assert!(is_within("/anything", "/"));
        assert!(!is_within("/ab", "/a"));
    }

    #[test]
    fn stdio_from_outside_the_container_is_external_and_pipes_are_inherited() {
        let ids: BTreeSet<u32> = [37, 38, 39].into();
        let null = classify_stdio(0, "/dev/null", Some(24), Some(4), &ids);
        assert_eq!(null.key.as_deref(), Some("file[18:4]"));
        assert_eq!(null.dump_external(), Some("file[18:4]"));
        let pipe = classify_stdio(1, "pipe:[305]", Some(14), Some(305), &ids);
        assert_eq!(pipe.key.as_deref(), Some("pipe:[305]"));
        assert_eq!(pipe.dump_external(), None);
        let inside = classify_stdio(2, "/dev/null", Some(39), Some(7), &ids);
        assert_eq!(inside.key, None);
    }

    #[test]
    fn log_errors_keeps_the_last_distinct_errors_without_timestamps() {
        let log = "\
(00.011872) Error (criu/util.c:642): exited, status=1
(00.220291) Found mmap_min_addr 0x10000
(00.220291) Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds
(00.220693) Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable
(00.221249) Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.
(00.221438) Error (criu/crtools.c:260): Could not initialize kernel features detection.
(00.221440) Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds
Error: Could not process rule: No such file or directory
";
        assert_eq!(
            log_errors(log, 4),
            [
                "Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable",
                "Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.",
                "Error (criu/crtools.c:260): Could not initialize kernel features detection.",
                "Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds",
            ]
        );
        // criu check prints errors without timestamps.
        assert_eq!(
            log_errors("Error (criu/a.c:1): x\nLooks good.\n", 4),
            ["Error (criu/a.c:1): x"]
        );
    }

    #[test]
    fn failed_error_names_the_action_the_errors_and_the_log() {
        let e = CriuError::Failed {
            action: "dump",
            status: "exit status 1".into(),
            errors: vec![
                "Error (criu/a.c:1): x".into(),
                "Error (criu/b.c:2): y".into(),
            ],
            log: "/w/dump.log".into(),
        };
        assert_eq!(
            e.to_string(),
            "criu dump failed (exit status 1): Error (criu/a.c:1): x; Error (criu/b.c:2): y; criu log: /w/dump.log"
        );
    }

    #[test]
    fn dump_args_follow_runc() {
        let d = Dump {
            common: Common {
                images: "/img".into(),
                work: "/work".into(),
                tcp_established: true,
                file_locks: true,
                empty_net: true,
                ..Default::default()
            },
            pid: 42,
            root: "/b/rootfs".into(),
            leave_running: true,
            freeze_cgroup: Some("/sys/fs/cgroup/c".into()),
            externals: vec![
                "mnt[/sys/fs/cgroup]:/sys/fs/cgroup".into(),
                "file[18:4]".into(),
            ],
            nftables_lock: true,
            parent: Some("../pre".into()),
            ..Default::default()
        };
        let got: Vec<String> = d
            .args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            got.join(" "),
            "dump --tree 42 --images-dir /img --work-dir /work --log-file dump.log -v4 \
             --manage-cgroups --tcp-established --file-locks --empty-ns net --root /b/rootfs \
             --leave-running --prev-images-dir ../pre --track-mem --freeze-cgroup /sys/fs/cgroup/c \
             --network-lock nftables --external mnt[/sys/fs/cgroup]:/sys/fs/cgroup --external file[18:4]"
        );
        let pre = Dump {
            pre_dump: true,
            leave_running: true,
            ..d
        };
        let got = pre.args();
        assert_eq!(got[0], "pre-dump");
        // pre-dump always leaves the tree running; CRIU rejects the flag there.
        assert!(!got.iter().any(|a| a == "--leave-running"));
    }

    #[test]
    fn restore_args_make_the_init_a_sibling_of_criu() {
        let r = Restore {
            common: Common {
                images: "/img".into(),
                work: "/img".into(),
                manage_cgroups: Some(CgroupsMode::Ignore),
                ..Default::default()
            },
            root: "/run/husk/c/criu-root".into(),
            pidfile: "/run/husk/c/criu.pid".into(),
            cgroup_roots: vec!["/system.slice/c".into()],
            externals: vec![ExternalMount::restore_arg(
                Path::new("/sys/fs/cgroup/system.slice/c"),
                "/sys/fs/cgroup",
            )],
            inherit: vec![(3, "pipe:[305]".into())],
            action_script: Some("/run/husk/c/criu-action".into()),
        };
        let got: Vec<String> = r
            .args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            got.join(" "),
            "restore --images-dir /img --work-dir /img --log-file restore.log -v4 \
             --manage-cgroups=ignore --root /run/husk/c/criu-root --restore-detached \
             --restore-sibling --pidfile /run/husk/c/criu.pid --evasive-devices \
             --cgroup-root /system.slice/c --external mnt[/sys/fs/cgroup]:/sys/fs/cgroup/system.slice/c \
             --inherit-fd fd[3]:pipe:[305] --action-script /run/husk/c/criu-action"
        );
    }

    #[test]
    fn meta_round_trips_and_a_runc_image_gives_its_pipes() {
        let dir = std::env::temp_dir().join(format!("husk-criu-meta-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        assert!(matches!(Meta::read(&dir), Err(CriuError::NoImage { .. })));
        fs::write(dir.join(INVENTORY_FILE), b"").unwrap();
        fs::write(
            dir.join(DESCRIPTORS_FILE),
            br#"["/dev/null","pipe:[7]","pipe:[8]"]"#,
        )
        .unwrap();
        let runc = Meta::read(&dir).unwrap();
        assert_eq!(runc.stdio[1].key.as_deref(), Some("pipe:[7]"));
        assert_eq!(runc.stdio[0].key, None);
        let m = Meta {
            id: "c".into(),
            bundle: "/b".into(),
            stdio: runc.stdio.clone(),
            mounts: vec![ExternalMount {
                key: "/sys/fs/cgroup".into(),
                source: MountSource::Cgroup { name: "".into() },
            }],
            empty_net: true,
        };
        m.write(&dir).unwrap();
        assert_eq!(Meta::read(&dir).unwrap(), m);
        let text = fs::read_to_string(dir.join(META_FILE)).unwrap();
        assert!(text.contains(r#""kind": "cgroup""#), "{text}");
        fs::remove_dir_all(&dir).unwrap();
    }
    #[test]
    fn mount_sources_name_the_cgroup_the_bind_the_null_device_or_the_host() {
        let mounts = parse_mountinfo(MOUNTINFO);
        let binds = vec![("/data".to_string(), PathBuf::from("/srv/data"))];
        let sources: Vec<MountSource> = external_mounts(&mounts)
            .into_iter()
            .map(|m| mount_source(m, &binds))
            .collect();
        assert_eq!(
            sources,
            [
                MountSource::Cgroup { name: "".into() },
                MountSource::Bind {
                    source: "/srv/data".into()
                },
                MountSource::Host,
            ]
        );
        let v1 = parse_mountinfo(
            "60 59 0:40 /user.slice/c /sys/fs/cgroup/cpu,cpuacct ro - cgroup cgroup rw,cpu,cpuacct\n\
             61 30 0:5 /null /proc/kcore rw - devtmpfs udev rw\n",
        );
        assert_eq!(
            mount_source(&v1[0], &[]),
            MountSource::Cgroup {
                name: "cpu,cpuacct".into()
            }
        );
        assert_eq!(mount_source(&v1[1], &[]), MountSource::Null);
    }

    #[test]
    fn cgroup_roots_are_paths_within_each_hierarchy() {
        let layout = crate::cgroups::Layout::parse(
            "30 25 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
             31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
             32 25 0:28 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
        );
        let mut paths = std::collections::BTreeMap::new();
        paths.insert(
            "memory".to_string(),
            PathBuf::from("/sys/fs/cgroup/memory/user.slice/c"),
        );
        paths.insert(
            "cpu,cpuacct".to_string(),
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/user.slice/c"),
        );
        paths.insert(
            "".to_string(),
            PathBuf::from("/sys/fs/cgroup/unified/user.slice/c"),
        );
        assert_eq!(
            cgroup_root_args(&layout, &paths),
            [
                "memory:/user.slice/c",
                "cpu,cpuacct:/user.slice/c",
                "/user.slice/c"
            ]
        );
        // Pure v2, the hierarchy mounted from a subtree (as in a container).
        let v2 = crate::cgroups::Layout::parse(
            "40 30 0:29 /ns /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
        );
        let mut paths = std::collections::BTreeMap::new();
        paths.insert(
            "".to_string(),
            PathBuf::from("/sys/fs/cgroup/system.slice/c"),
        );
        assert_eq!(cgroup_root_args(&v2, &paths), ["/ns/system.slice/c"]);
    }

    #[test]
    fn the_action_script_runs_husk_with_its_path_quoted() {
        let dir = std::env::temp_dir().join(format!("husk-criu-act-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("act");
        write_action_script(&p, Path::new("/opt/it's/husk")).unwrap();
        assert_eq!(
            fs::read_to_string(&p).unwrap(),
            "#!/bin/sh\nexec '/opt/it'\\''s/husk' __criu-action\n"
        );
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o700
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn actions_other_than_setup_namespaces_do_nothing() {
        assert_eq!(on_action("post-restore", None), Ok(()));
        assert!(on_action("setup-namespaces", None).is_err());
    }
}

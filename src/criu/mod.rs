//! CRIU, the checkpoint/restore tool, driven through its command line
//! (`criu dump|pre-dump|restore`), as LXC does. This module owns what is
//! CRIU's business and no container's: finding and running the binary,
//! its argument lists (`args`, pure), which of a process's mounts and
//! stdio CRIU must be told are external (`mounts`), husk's description of
//! a checkpoint (`meta`), the action script, and the error that quotes
//! CRIU's log when it fails.
//!
//! Called from: container::checkpoint, container::restore (and, for a
//! rootfs mount a killed restore left, container::delete); the action
//! script's `husk __criu-action`.

mod args;
mod meta;
mod mounts;

pub use args::{cgroup_root_args, CgroupsMode, Common, Dump, Restore};
pub use meta::{Meta, DESCRIPTORS_FILE, INVENTORY_FILE, META_FILE};
pub use mounts::{
    classify_stdio, external_mounts, mount_source, parse_mountinfo, stdio_of, ExternalMount,
    MountEntry, MountSource, StdioFd,
};

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// CRIU's log file names, in the work directory (runc's names: engines read them).
pub const DUMP_LOG: &str = "dump.log";
pub const RESTORE_LOG: &str = "restore.log";
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
    which("criu").ok_or(CriuError::NotFound)
}

/// Is `name` an executable on $PATH?
pub fn on_path(name: &str) -> bool {
    which(name).is_some()
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
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
            // `restore` in the foreground blocks the signals it forwards:
            // criu must not inherit that mask (the tasks get theirs from
            // the images).
            let _ = linux::reset_signals_mask();
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

//! Processes: starting the container init (clone), talking to it (sync),
//! the create/start barrier (fifo), and what /proc says about a pid.
//!
//! Called from: container::create/start/kill/delete, exec, the shim.

pub mod fifo;
pub mod namespaces;
pub mod sync;

use std::fs;
use std::path::Path;

use nix::unistd::Pid;

use crate::lifecycle::Liveness;

/// Clones a process (fork semantics, `flags` adding namespaces), into the
/// cgroup2 directory `into` where the kernel can (CLONE_INTO_CGROUP, 5.7+).
/// The flag says whether it was born there; if not, it must be moved.
pub fn clone_in(
    flags: nix::sched::CloneFlags,
    into: Option<std::os::fd::BorrowedFd<'_>>,
) -> (nix::Result<crate::sys::linux::Forked>, bool) {
    use crate::sys::linux;
    match into {
        Some(fd) => match linux::clone_into_cgroup(flags, fd) {
            // Old kernels (no clone3 or no CLONE_INTO_CGROUP): move it afterwards.
            Err(nix::Error::ENOSYS | nix::Error::EINVAL | nix::Error::E2BIG) => {
                (linux::clone_process(flags), false)
            }
            r => (r, true),
        },
        None => (linux::clone_process(flags), false),
    }
}

/// The fields of /proc/<pid>/stat husk needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// R, S, D, Z, T, X, …
    pub state: u8,
    pub ppid: i32,
    /// Clock ticks after boot at which the process started.
    pub start: u64,
}

/// Parses the text of /proc/<pid>/stat. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted from the last ')'.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 2..];
    let mut f = rest.split(' ');
    let state = f.next()?.bytes().next()?;
    let ppid = f.next()?.parse().ok()?;
    // starttime is field 22; `rest` begins at field 3.
    let start = f.nth(22 - 5)?.parse().ok()?;
    Some(ProcStat { state, ppid, start })
}

pub fn stat(pid: Pid) -> Option<ProcStat> {
    let bytes = crate::sys::read_small(Path::new(&format!("/proc/{pid}/stat")), 1024).ok()?;
    parse_stat(std::str::from_utf8(&bytes).ok()?)
}

/// Is `pid` still the process that started at `start`, and not a zombie?
/// A zombie counts as exited (pid 1 on some hosts never reaps orphans).
pub fn liveness(pid: i32, start: u64) -> Liveness {
    if pid <= 0 {
        return Liveness::Gone;
    }
    match stat(Pid::from_raw(pid)) {
        Some(s) if s.start == start && s.state != b'Z' && s.state != b'X' => Liveness::Alive,
        _ => Liveness::Gone,
    }
}

/// The container's processes when it has no cgroup (rootless without
/// delegation): with its own pid namespace, every live process in the
/// init's pid namespace (/proc/<pid>/ns/pid names the same one); else the
/// init alone. The init comes first.
pub fn without_cgroup(init: i32, own_pid_ns: bool) -> Vec<Pid> {
    if init <= 0 {
        return Vec::new();
    }
    let mut out = vec![Pid::from_raw(init)];
    let Some(ns) = own_pid_ns
        .then(|| fs::read_link(format!("/proc/{init}/ns/pid")).ok())
        .flatten()
    else {
        return out;
    };
    let Ok(rd) = fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == init || fs::read_link(format!("/proc/{pid}/ns/pid")).ok().as_ref() != Some(&ns) {
            continue;
        }
        if stat(Pid::from_raw(pid)).is_some_and(|s| s.state != b'Z' && s.state != b'X') {
            out.push(Pid::from_raw(pid));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_command_name_parses() {
        let line =
            "1234 (a b) c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.state, b'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.start, 987654);
    }

    #[test]
    fn own_process_is_alive_and_a_wrong_start_time_is_not() {
        let me = std::process::id() as i32;
        let s = stat(Pid::from_raw(me)).unwrap();
        assert_eq!(liveness(me, s.start), Liveness::Alive);
        assert_eq!(liveness(me, s.start + 1), Liveness::Gone);
        assert_eq!(liveness(0, 0), Liveness::Gone);
    }

    #[test]
    fn without_a_cgroup_or_pid_namespace_the_init_is_the_container() {
        let me = std::process::id() as i32;
        assert_eq!(without_cgroup(me, false), [Pid::from_raw(me)]);
        assert!(without_cgroup(0, true).is_empty());
    }
}

//! `husk ps` as a table: for each process of a container its user (a name
//! from the container's own /etc/passwd), cpu use since it started, resident
//! memory and command line, read from /proc.
//!
//! Called from: commands/ps.rs. The parsers are pure; `process_info` and
//! `container_users` read /proc.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::sys::stat::{fstat, Mode, SFlag};

use crate::init::rootfs::resolve::open_in_root;

/// One row of `ps`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessInfo {
    pub pid: i32,
    /// Real uid on the host.
    pub uid: u32,
    /// CPU time over the time since the process started, in percent.
    pub cpu_percent: f64,
    /// Resident memory, bytes (0 for a process without memory: a zombie).
    pub rss: u64,
    pub command: String,
}

/// The fields of /proc/<pid>/stat that ps needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuTimes {
    pub comm: String,
    /// User and system time, clock ticks.
    pub utime: u64,
    pub stime: u64,
    /// Clock ticks after boot at which the process started.
    pub start: u64,
}

/// Parses /proc/<pid>/stat; the command name may hold spaces and ')'.
pub fn parse_cpu_times(text: &str) -> Option<CpuTimes> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    // Fields from 3 (state) on.
    let f: Vec<&str> = text.get(close + 2..)?.split(' ').collect();
    let field = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    Some(CpuTimes {
        comm,
        utime: field(14)?,
        stime: field(15)?,
        start: field(22)?,
    })
}

/// (real uid, VmRSS in bytes) from /proc/<pid>/status.
pub fn parse_status(text: &str) -> (Option<u32>, Option<u64>) {
    let mut uid = None;
    let mut rss = None;
    for l in text.lines() {
        if let Some(v) = l.strip_prefix("Uid:") {
            uid = v.split_whitespace().next().and_then(|u| u.parse().ok());
        } else if let Some(v) = l.strip_prefix("VmRSS:") {
            rss = v
                .split_whitespace()
                .next()
                .and_then(|k| k.parse::<u64>().ok())
                .map(|kb| kb * 1024);
        }
    }
    (uid, rss)
}

/// Seconds since boot, the first field of /proc/uptime.
pub fn parse_uptime(text: &str) -> Option<f64> {
    text.split_whitespace().next()?.parse().ok()
}

/// CPU use since start, as ps(1) computes %CPU: ticks used over ticks alive.
pub fn cpu_percent_since_start(t: &CpuTimes, uptime_secs: f64, hz: u64) -> f64 {
    if hz == 0 {
        return 0.0;
    }
    let alive = uptime_secs - t.start as f64 / hz as f64;
    if alive <= 0.0 {
        return 0.0;
    }
    (t.utime + t.stime) as f64 / hz as f64 / alive * 100.0
}

/// The uid inside a user namespace for host uid `uid`, from the text of
/// /proc/<pid>/uid_map ("inside outside count" lines).
pub fn uid_inside(uid: u32, uid_map: &str) -> Option<u32> {
    uid_map.lines().find_map(|l| {
        let v: Vec<u64> = l
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        let (inside, outside, count) = (*v.first()?, *v.get(1)?, *v.get(2)?);
        let u = u64::from(uid);
        (u >= outside && u - outside < count)
            .then(|| u32::try_from(inside + (u - outside)).ok())
            .flatten()
    })
}

/// uid → name from passwd text (the first entry of a uid wins).
pub fn parse_passwd(text: &str) -> BTreeMap<u32, String> {
    let mut names = BTreeMap::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 3 || f[0].is_empty() || f[0].starts_with('#') {
            continue;
        }
        if let Ok(uid) = f[2].parse() {
            names.entry(uid).or_insert_with(|| f[0].to_string());
        }
    }
    names
}

/// The command line with spaces between the arguments; a process without
/// one (a kernel thread, a zombie) shows its name in brackets, as ps does.
pub fn command_of(cmdline: &[u8], comm: &str) -> String {
    let s = String::from_utf8_lossy(cmdline);
    let s = s.trim_end_matches('\0').replace('\0', " ");
    if s.is_empty() {
        format!("[{comm}]")
    } else {
        s
    }
}

/// USER for a process: its name in the container, else the number (the
/// container's view of it when the container has a user namespace).
pub fn user_name(host_uid: u32, uid_map: Option<&str>, names: &BTreeMap<u32, String>) -> String {
    let uid = uid_map
        .and_then(|m| uid_inside(host_uid, m))
        .unwrap_or(host_uid);
    names.get(&uid).cloned().unwrap_or_else(|| uid.to_string())
}

/// USER_HZ, the unit of /proc/<pid>/stat times.
pub fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(100)
}

/// Seconds since boot.
pub fn uptime() -> f64 {
    fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| parse_uptime(&t))
        .unwrap_or(0.0)
}

/// What /proc says about `pid`; None when it is gone.
pub fn process_info(pid: i32, uptime_secs: f64, hz: u64) -> Option<ProcessInfo> {
    let times = parse_cpu_times(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?;
    let (uid, rss) = parse_status(&fs::read_to_string(format!("/proc/{pid}/status")).ok()?);
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    Some(ProcessInfo {
        pid,
        uid: uid?,
        cpu_percent: cpu_percent_since_start(&times, uptime_secs, hz),
        rss: rss.unwrap_or(0),
        command: command_of(&cmdline, &times.comm),
    })
}

/// Reads /etc/passwd of the container whose process is `pid`, resolved in
/// its root: a symlink in the image cannot make husk read a host file, and
/// anything but a regular file (a fifo that would block) is ignored.
pub fn container_users(pid: i32) -> BTreeMap<u32, String> {
    read_in_root(pid, Path::new("/etc/passwd"), 1 << 20)
        .map(|t| parse_passwd(&t))
        .unwrap_or_default()
}

fn read_in_root(pid: i32, path: &Path, max: u64) -> Option<String> {
    let root: OwnedFd = open(
        format!("/proc/{pid}/root").as_str(),
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let file = open_in_root(root.as_fd(), path, true).ok()?;
    let st = fstat(&file).ok()?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return None;
    }
    // An O_PATH fd cannot be read: open the file it names, through it.
    let readable = open(
        format!("/proc/self/fd/{}", file.as_raw_fd()).as_str(),
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut text = String::new();
    fs::File::from(readable)
        .take(max)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_times_parse_with_an_odd_name() {
        let line = "42 (my (odd) cmd) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 1000 1000 100 18446744073709551615";
        let t = parse_cpu_times(line).unwrap();
        assert_eq!(t.comm, "my (odd) cmd");
        assert_eq!((t.utime, t.stime, t.start), (250, 50, 1000));
        assert_eq!(parse_cpu_times("garbage"), None);
    }

    #[test]
    fn status_gives_uid_and_rss() {
        let text = "Name:\tsleep\nUid:\t1000\t1000\t1000\t1000\nVmRSS:\t    1536 kB\n";
        assert_eq!(parse_status(text), (Some(1000), Some(1536 * 1024)));
        assert_eq!(parse_status("Uid:\t0\t0\t0\t0\n"), (Some(0), None));
    }

    #[test]
    fn cpu_percent_is_ticks_used_over_ticks_alive() {
        let t = CpuTimes {
            comm: "x".into(),
            utime: 150,
            stime: 50,
            start: 1000,
        };
        // Started at 10 s, now 14 s: 2 s of cpu in 4 s.
        assert_eq!(cpu_percent_since_start(&t, 14.0, 100), 50.0);
        assert_eq!(cpu_percent_since_start(&t, 10.0, 100), 0.0);
        assert_eq!(cpu_percent_since_start(&t, 14.0, 0), 0.0);
        assert_eq!(parse_uptime("123.45 678.9\n"), Some(123.45));
    }

    #[test]
    fn uids_map_into_the_user_namespace() {
        let map = "         0     100000      65536\n";
        assert_eq!(uid_inside(100_000, map), Some(0));
        assert_eq!(uid_inside(100_033, map), Some(33));
        assert_eq!(uid_inside(99_999, map), None);
        assert_eq!(uid_inside(165_536, map), None);
        assert_eq!(uid_inside(7, "0 0 4294967295\n"), Some(7));
    }

    #[test]
    fn passwd_names_users_and_the_first_entry_wins() {
        let names = parse_passwd(
            "root:x:0:0:root:/root:/bin/sh\n#c:x:5:5\nbad\nnobody:x:65534:65534::/:/bin/false\ntoor:x:0:0::/:/bin/sh\n",
        );
        assert_eq!(names[&0], "root");
        assert_eq!(names[&65534], "nobody");
        assert_eq!(names.len(), 2);
        assert_eq!(user_name(0, None, &names), "root");
        assert_eq!(user_name(100_000, Some("0 100000 65536"), &names), "root");
        assert_eq!(user_name(1234, None, &names), "1234");
        assert_eq!(user_name(100_005, Some("0 100000 65536"), &names), "5");
    }

    #[test]
    fn commands_join_arguments() {
        assert_eq!(command_of(b"sh\0-c\0sleep 5\0", "sh"), "sh -c sleep 5");
        assert_eq!(command_of(b"", "kworker"), "[kworker]");
    }

    #[test]
    fn our_own_process_has_info_and_our_root_has_users() {
        let me = std::process::id() as i32;
        let info = process_info(me, uptime(), clock_ticks()).unwrap();
        assert_eq!(info.uid, nix::unistd::getuid().as_raw());
        assert!(info.rss > 0);
        assert!(!info.command.is_empty());
        assert!(
            container_users(me).contains_key(&0),
            "the host's passwd names root"
        );
        assert_eq!(process_info(i32::MAX, 0.0, 100), None);
    }
}
